//! A simulated disk for fault injection: files whose writes survive a crash only once
//! synced, directory entries that survive only once the directory is synced, bit rot, and
//! syncs that fail. [`FileLog`] runs its real code on it through [`SimDir`].
//!
//! ```
//! use synodos::sim_disk::{Crash, SimDisk};
//! use synodos::Log;
//! let disk = SimDisk::new();
//! let mut log = disk.open_log("node1/promises").unwrap();
//! log.record(1, b"durable").unwrap();
//! disk.crash(Crash::LoseUnsynced); // the process dies; its handles are dead
//! let log = disk.open_log("node1/promises").unwrap();
//! assert_eq!(log.last().unwrap(), Some((1, b"durable".to_vec())));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::protocol::error::Result;
use crate::storage::file_log::{FileLog, FileLogOptions, Storage, StorageFile};

/// What survives a [`SimDisk::crash`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Every write since its file's last sync is lost.
    LoseUnsynced,
    /// Every unsynced write is lost, except the first `keep` bytes of the most recent one
    /// (a power cut in the middle of a write).
    TornLastWrite {
        /// Bytes of the last write that reached the disk (clamped to its length).
        keep: usize,
    },
    /// Like [`Crash::TornLastWrite`], but the file keeps the length the whole write gave
    /// it, the missing bytes reading as zeros (a filesystem that grew the file first).
    ZeroFilledLastWrite {
        /// Bytes of the last write that reached the disk (clamped to its length).
        keep: usize,
    },
}

/// One unsynced change to a file.
#[derive(Debug, Clone)]
enum Change {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Clone, Default)]
struct Inode {
    /// What reads see.
    data: Vec<u8>,
    /// What a crash leaves.
    durable: Vec<u8>,
    /// Changes since the last sync, oldest first, with a disk-wide sequence number.
    unsynced: Vec<(u64, Change)>,
}

fn apply(data: &mut Vec<u8>, change: &Change, keep: Option<usize>, zero_fill: bool) {
    match change {
        Change::Write { offset, data: bytes } => {
            let off = *offset as usize;
            let kept = keep.unwrap_or(bytes.len()).min(bytes.len());
            let full_end = off + bytes.len();
            let end = if zero_fill { full_end } else { off + kept };
            if data.len() < end {
                data.resize(end, 0);
            }
            data[off..off + kept].copy_from_slice(&bytes[..kept]);
            if zero_fill {
                data[off + kept..full_end].fill(0);
            }
        }
        Change::SetLen(len) => data.resize(*len as usize, 0),
    }
}

#[derive(Debug, Default)]
struct DiskState {
    inodes: Vec<Inode>,
    /// Directory entries as the running process sees them: path -> inode.
    names: BTreeMap<String, usize>,
    /// Directory entries as a crash leaves them.
    durable_names: BTreeMap<String, usize>,
    /// Bumped by every crash; handles from an older generation are dead.
    generation: u64,
    locks: BTreeSet<String>,
    next_change: u64,
    /// Injected sync failures: let this many syncs pass, then fail this many.
    sync_plan: (u32, u32),
    fail_writes: u32,
    syncs: u64,
    crashes: u64,
}

impl DiskState {
    /// Whether this sync is one the plan says must fail.
    fn sync_fails(&mut self) -> bool {
        match self.sync_plan {
            (0, 0) => false,
            (0, fail) => {
                self.sync_plan = (0, fail - 1);
                true
            }
            (pass, fail) => {
                self.sync_plan = (pass - 1, fail);
                false
            }
        }
    }
}

/// A simulated disk shared by clones: the files of one simulated machine.
///
/// Paths are `/`-separated strings; a directory is any prefix ending before a `/`.
#[derive(Debug, Clone, Default)]
pub struct SimDisk {
    state: Arc<Mutex<DiskState>>,
}

fn sim_error(what: impl Into<String>) -> io::Error {
    io::Error::other(what.into())
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, DiskState> {
        // A panic in another test thread leaves the maps whole; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The directory `dir` on this disk, as [`Storage`] for a [`FileLog`].
    pub fn dir(&self, dir: &str) -> SimDir {
        SimDir { disk: self.clone(), dir: dir.trim_end_matches('/').to_string() }
    }

    /// Open (or create) a [`FileLog`] in directory `dir` of this disk.
    pub fn open_log(&self, dir: &str) -> Result<FileLog<SimDir>> {
        FileLog::open_with(self.dir(dir), FileLogOptions::default())
    }

    /// The machine loses power: every file reverts to what was synced (per `crash`),
    /// directory entries revert to what the last directory sync made durable, locks are
    /// released, injected failures are cleared, and every open handle dies (its calls
    /// fail from now on).
    pub fn crash(&self, crash: Crash) {
        let mut st = self.state();
        let last = st.inodes.iter().enumerate().flat_map(|(i, n)| n.unsynced.iter().map(move |c| (c.0, i))).max();
        for (i, inode) in st.inodes.iter_mut().enumerate() {
            let mut data = inode.durable.clone();
            let torn = last.filter(|&(_, at)| at == i).map(|(seq, _)| seq);
            if let Some(change) = inode.unsynced.iter().find(|c| Some(c.0) == torn) {
                match crash {
                    Crash::LoseUnsynced => {}
                    Crash::TornLastWrite { keep } => apply(&mut data, &change.1, Some(keep), false),
                    Crash::ZeroFilledLastWrite { keep } => apply(&mut data, &change.1, Some(keep), true),
                }
            }
            inode.data = data.clone();
            inode.durable = data;
            inode.unsynced.clear();
        }
        st.names = st.durable_names.clone();
        st.locks.clear();
        // Injected faults belong to the machine that died.
        st.sync_plan = (0, 0);
        st.fail_writes = 0;
        st.generation += 1;
        st.crashes += 1;
    }

    /// Make the next `n` syncs (file or directory) fail with an I/O error; the writes
    /// they would have made durable stay unsynced.
    pub fn fail_next_syncs(&self, n: u32) {
        self.state().sync_plan = (0, n);
    }

    /// Let the next `pass` syncs succeed, then fail one: a crash at an exact point of a
    /// multi-step operation (follow with [`crash`](Self::crash)).
    pub fn fail_sync_after(&self, pass: u32) {
        self.state().sync_plan = (pass, 1);
    }

    /// Make the next `n` writes fail with an I/O error (as a full disk would), changing nothing.
    pub fn fail_next_writes(&self, n: u32) {
        self.state().fail_writes = n;
    }

    /// Flip bit `bit` (0..8) of byte `offset` of file `path`, on disk and in the cache:
    /// media corruption. Returns false if there is no such file or byte.
    pub fn flip_bit(&self, path: &str, offset: u64, bit: u8) -> bool {
        let mut st = self.state();
        let Some(&ino) = st.names.get(path) else { return false };
        let inode = &mut st.inodes[ino];
        let at = offset as usize;
        if at >= inode.data.len() {
            return false;
        }
        let mask = 1u8 << (bit % 8);
        inode.data[at] ^= mask;
        if at < inode.durable.len() {
            inode.durable[at] ^= mask;
        }
        true
    }

    /// The contents of `path` as reads see them, if it exists.
    pub fn read(&self, path: &str) -> Option<Vec<u8>> {
        let st = self.state();
        st.names.get(path).map(|&i| st.inodes[i].data.clone())
    }

    /// Overwrite `path` entirely and durably (creating it), e.g. to plant a damaged file.
    pub fn write_durable(&self, path: &str, data: &[u8]) {
        let mut st = self.state();
        let ino = st.inodes.len();
        st.inodes.push(Inode { data: data.to_vec(), durable: data.to_vec(), unsynced: Vec::new() });
        st.names.insert(path.to_string(), ino);
        st.durable_names.insert(path.to_string(), ino);
    }

    /// The paths of every file, as the running process sees them.
    pub fn paths(&self) -> Vec<String> {
        self.state().names.keys().cloned().collect()
    }

    /// How many syncs (file and directory) succeeded so far: group commit shows as one
    /// per batch.
    pub fn sync_count(&self) -> u64 {
        self.state().syncs
    }

    /// How many times [`crash`](Self::crash) was called.
    pub fn crash_count(&self) -> u64 {
        self.state().crashes
    }
}

/// A directory on a [`SimDisk`]; implements [`Storage`].
#[derive(Debug, Clone)]
pub struct SimDir {
    disk: SimDisk,
    dir: String,
}

impl SimDir {
    fn path(&self, name: &str) -> String {
        if self.dir.is_empty() {
            name.to_string()
        } else {
            format!("{}/{name}", self.dir)
        }
    }

    /// The disk this directory is on.
    pub fn disk(&self) -> &SimDisk {
        &self.disk
    }
}

/// An open file on a [`SimDisk`].
#[derive(Debug)]
pub struct SimFile {
    disk: SimDisk,
    inode: usize,
    generation: u64,
    path: String,
}

/// The lock of a [`SimDir`]; released on drop (or by a crash).
#[derive(Debug)]
pub struct SimLock {
    disk: SimDisk,
    key: String,
    generation: u64,
}

impl Drop for SimLock {
    fn drop(&mut self) {
        let mut st = self.disk.state();
        // A lock from before a crash is already gone; do not release its successor's.
        if st.generation == self.generation {
            st.locks.remove(&self.key);
        }
    }
}

impl Storage for SimDir {
    type File = SimFile;
    type Lock = SimLock;

    fn describe(&self, name: &str) -> String {
        format!("sim:{}", self.path(name))
    }

    fn create_dir(&self) -> io::Result<()> {
        // Directories are implicit in paths.
        Ok(())
    }

    fn lock(&self) -> io::Result<SimLock> {
        let mut st = self.disk.state();
        let key = self.path("lock");
        if !st.locks.insert(key.clone()) {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, format!("{key} is locked")));
        }
        Ok(SimLock { disk: self.disk.clone(), key, generation: st.generation })
    }

    fn open(&self, name: &str) -> io::Result<Option<SimFile>> {
        let st = self.disk.state();
        let path = self.path(name);
        Ok(st.names.get(&path).map(|&inode| SimFile {
            disk: self.disk.clone(),
            inode,
            generation: st.generation,
            path,
        }))
    }

    fn create(&self, name: &str) -> io::Result<SimFile> {
        let mut st = self.disk.state();
        let path = self.path(name);
        // A new inode: the old one (if any) lives on for whoever has it open.
        let inode = st.inodes.len();
        st.inodes.push(Inode::default());
        st.names.insert(path.clone(), inode);
        Ok(SimFile { disk: self.disk.clone(), inode, generation: st.generation, path })
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut st = self.disk.state();
        let from = self.path(from);
        let inode = st.names.remove(&from).ok_or_else(|| sim_error(format!("rename: no file {from}")))?;
        st.names.insert(self.path(to), inode);
        Ok(())
    }

    fn remove(&self, name: &str) -> io::Result<()> {
        self.disk.state().names.remove(&self.path(name));
        Ok(())
    }

    fn sync_dir(&self) -> io::Result<()> {
        let mut st = self.disk.state();
        if st.sync_fails() {
            return Err(sim_error(format!("injected fsync failure on directory {}", self.dir)));
        }
        let prefix = self.path("");
        let in_dir = |p: &String| p.starts_with(&prefix) && !p[prefix.len()..].contains('/');
        let current: Vec<(String, usize)> =
            st.names.iter().filter(|(p, _)| in_dir(p)).map(|(p, i)| (p.clone(), *i)).collect();
        st.durable_names.retain(|p, _| !in_dir(p));
        st.durable_names.extend(current);
        st.syncs += 1;
        Ok(())
    }
}

impl SimFile {
    fn with<T>(&self, f: impl FnOnce(&mut DiskState) -> io::Result<T>) -> io::Result<T> {
        let mut st = self.disk.state();
        if st.generation != self.generation {
            return Err(sim_error(format!("{}: handle died in a simulated crash", self.path)));
        }
        f(&mut st)
    }
}

impl StorageFile for SimFile {
    fn len(&self) -> io::Result<u64> {
        self.with(|st| Ok(st.inodes[self.inode].data.len() as u64))
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.with(|st| {
            let data = &st.inodes[self.inode].data;
            let from = offset as usize;
            let src = data
                .get(from..from.saturating_add(buf.len()))
                .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
            buf.copy_from_slice(src);
            Ok(())
        })
    }

    fn write_at(&mut self, bytes: &[u8], offset: u64) -> io::Result<()> {
        self.with(|st| {
            if st.fail_writes > 0 {
                st.fail_writes -= 1;
                return Err(sim_error("injected write failure (disk full)"));
            }
            let seq = st.next_change;
            st.next_change += 1;
            let change = Change::Write { offset, data: bytes.to_vec() };
            let inode = &mut st.inodes[self.inode];
            apply(&mut inode.data, &change, None, false);
            inode.unsynced.push((seq, change));
            Ok(())
        })
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.with(|st| {
            if st.sync_fails() {
                return Err(sim_error("injected fsync failure"));
            }
            let inode = &mut st.inodes[self.inode];
            // Replay the changes rather than copy the file: a sync costs what was written.
            for (_, change) in std::mem::take(&mut inode.unsynced) {
                apply(&mut inode.durable, &change, None, false);
            }
            st.syncs += 1;
            Ok(())
        })
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.with(|st| {
            let seq = st.next_change;
            st.next_change += 1;
            let change = Change::SetLen(len);
            let inode = &mut st.inodes[self.inode];
            apply(&mut inode.data, &change, None, false);
            inode.unsynced.push((seq, change));
            Ok(())
        })
    }
}
