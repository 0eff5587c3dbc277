//! The storage seam below [`FileLog`](super::FileLog): a directory of files, either real
//! ([`OsStorage`]) or simulated (`SimDir`, in the simulator). The log's code is the
//! same over both, so fault-injection tests exercise exactly what runs in production.

use std::io;

/// A directory that holds one log's files. Names are plain file names (no `/`).
pub trait Storage {
    /// An open file in this directory.
    type File: StorageFile;
    /// Proof of the exclusive lock; dropping it releases the lock.
    type Lock;

    /// How to name `name` in an error message (a full path, for a real directory).
    fn describe(&self, name: &str) -> String;

    /// Make sure the directory exists, durably (its parent synced if it was just created).
    fn create_dir(&self) -> io::Result<()>;

    /// Take the directory's exclusive lock without waiting. An error of kind
    /// [`io::ErrorKind::WouldBlock`] means someone else holds it.
    fn lock(&self) -> io::Result<Self::Lock>;

    /// Open an existing file for reading and writing; `None` if there is no such file.
    fn open(&self, name: &str) -> io::Result<Option<Self::File>>;

    /// Create `name` empty (truncating any file of that name), for reading and writing.
    fn create(&self, name: &str) -> io::Result<Self::File>;

    /// Atomically replace `to` with `from`. Durable only after [`sync_dir`](Self::sync_dir).
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;

    /// Remove `name`; a missing file is not an error.
    fn remove(&self, name: &str) -> io::Result<()>;

    /// Make creations, renames and removals in the directory durable.
    fn sync_dir(&self) -> io::Result<()>;
}

/// One open file. Reads see every write, synced or not (as the page cache does); only
/// [`sync_data`](Self::sync_data) makes writes survive a crash.
pub trait StorageFile {
    /// The file's length in bytes.
    fn len(&self) -> io::Result<u64>;

    /// Whether the file is empty.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Fill `buf` from `offset`; reading past the end is an error.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;

    /// Write all of `data` at `offset`, extending the file if needed.
    fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()>;

    /// `fdatasync`: make every write so far (and the file's length) durable.
    fn sync_data(&mut self) -> io::Result<()>;

    /// Truncate or extend the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
}

#[cfg(unix)]
pub use os::OsStorage;

#[cfg(unix)]
mod os {
    use super::{Storage, StorageFile};
    use std::fs::{self, File, OpenOptions};
    use std::io;
    use std::os::unix::fs::FileExt;
    use std::path::{Path, PathBuf};

    /// A real directory on a local filesystem.
    #[derive(Debug, Clone)]
    pub struct OsStorage {
        dir: PathBuf,
    }

    impl OsStorage {
        /// The directory at `dir` (created by [`Storage::create_dir`] if missing).
        pub fn new(dir: impl Into<PathBuf>) -> Self {
            OsStorage { dir: dir.into() }
        }

        /// The directory's path.
        pub fn path(&self) -> &Path {
            &self.dir
        }
    }

    fn sync_path(dir: &Path) -> io::Result<()> {
        // On Linux a directory opened read-only can be fsynced; that is what makes a new
        // or renamed entry in it survive a power cut.
        File::open(dir)?.sync_all()
    }

    impl Storage for OsStorage {
        type File = File;
        type Lock = File;

        fn describe(&self, name: &str) -> String {
            self.dir.join(name).display().to_string()
        }

        fn create_dir(&self) -> io::Result<()> {
            if self.dir.is_dir() {
                return Ok(());
            }
            // Create each missing ancestor, then sync its parent, so the whole chain of new
            // entries is durable before any record in it is acknowledged.
            let mut missing = Vec::new();
            let mut at = Some(self.dir.as_path());
            while let Some(p) = at {
                if p.as_os_str().is_empty() || p.is_dir() {
                    break;
                }
                missing.push(p.to_path_buf());
                at = p.parent();
            }
            for p in missing.iter().rev() {
                match fs::create_dir(p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                let parent = match p.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                };
                sync_path(parent)?;
            }
            Ok(())
        }

        fn lock(&self) -> io::Result<File> {
            let file = OpenOptions::new().create(true).truncate(false).write(true).open(self.dir.join("lock"))?;
            // flock, not a lock file that exists or not: the kernel drops it when the
            // process dies (kill -9 included), so a crash never leaves a stale lock.
            rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
            Ok(file)
        }

        fn open(&self, name: &str) -> io::Result<Option<File>> {
            match OpenOptions::new().read(true).write(true).open(self.dir.join(name)) {
                Ok(f) => Ok(Some(f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }

        fn create(&self, name: &str) -> io::Result<File> {
            OpenOptions::new().read(true).write(true).create(true).truncate(true).open(self.dir.join(name))
        }

        fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            fs::rename(self.dir.join(from), self.dir.join(to))
        }

        fn remove(&self, name: &str) -> io::Result<()> {
            match fs::remove_file(self.dir.join(name)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                r => r,
            }
        }

        fn sync_dir(&self) -> io::Result<()> {
            sync_path(&self.dir)
        }
    }

    impl StorageFile for File {
        fn len(&self) -> io::Result<u64> {
            Ok(self.metadata()?.len())
        }

        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
            self.read_exact_at(buf, offset)
        }

        fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
            self.write_all_at(data, offset)
        }

        fn sync_data(&mut self) -> io::Result<()> {
            // fdatasync: also flushes the length when an append changed it.
            File::sync_data(self)
        }

        fn set_len(&mut self, len: u64) -> io::Result<()> {
            File::set_len(self, len)
        }
    }
}
