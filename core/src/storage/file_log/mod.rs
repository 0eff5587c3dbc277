//! [`FileLog`]: a crash-safe [`Log`] in one directory, written by hand (see
//! `docs/storage.md` for why, and for the format and its guarantees).
//!
//! - `record`/`record_batch` return only after `fdatasync`; a batch is one write and one
//!   sync (group commit). Creating or replacing the file also syncs the directory.
//! - Every frame carries a header checksum and a data checksum (CRC-32C).
//! - On open, a torn tail (a write a crash cut short) is truncated away; a damaged record
//!   that is followed by intact data fails the open with the file and offset in the error.
//! - Any failed write or sync poisons the log: every later call fails.
//! - A `flock` on `<dir>/lock` keeps a second opener out, in this or another process.
//! - `trim` appends a trim mark; when dead bytes outweigh live ones, the live records are
//!   copied to a new file that atomically replaces the old one.
//!
//! ```
//! use synodos::{FileLog, Log};
//! let dir = std::env::temp_dir().join(format!("synodos-doc-{}", std::process::id()));
//! let mut log = FileLog::open(&dir).unwrap();
//! log.record_batch(&[(1, b"a"), (2, b"b")]).unwrap(); // one fsync for both
//! drop(log);
//! let log = FileLog::open(&dir).unwrap();
//! assert_eq!(log.last().unwrap(), Some((2, b"b".to_vec())));
//! # drop(log); std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod format;
pub mod storage;

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;

use crate::protocol::error::{Error, Result};
use crate::storage::log::{check_batch_order, Log};
use format::{FrameHeader, FILE_HEADER_LEN, FRAME_HEADER_LEN, FRAME_OVERHEAD, KIND_RECORD, KIND_TRIM};
#[cfg(unix)]
pub use storage::OsStorage;
pub use storage::{Storage, StorageFile};

/// The log file's name inside the directory.
const LOG: &str = "log";
/// A new, empty log being created (renamed to [`LOG`] once its header is durable).
const NEW: &str = "log.new";
/// A compacted copy being written (renamed over [`LOG`] once complete and durable).
const COMPACT: &str = "log.compact";
/// Read files in pieces of this size at recovery, range and compaction.
const CHUNK: u64 = 4 << 20;

/// Tuning for a [`FileLog`].
#[derive(Debug, Clone)]
pub struct FileLogOptions {
    /// Compact only once trimmed records and trim marks take at least this many bytes
    /// (and at least as many as the live records). Default 4 MiB.
    pub compact_min_bytes: u64,
}

impl Default for FileLogOptions {
    fn default() -> Self {
        FileLogOptions { compact_min_bytes: 4 << 20 }
    }
}

/// Where a live record's frame is in the file.
#[derive(Debug, Clone, Copy)]
struct Entry {
    id: u64,
    offset: u64,
    len: u32,
}

impl Entry {
    fn frame_len(&self) -> u64 {
        u64::from(self.len) + FRAME_OVERHEAD
    }
}

/// A durable [`Log`] kept in a directory (`log` plus a `lock` file). See the
/// [module docs](self) for the guarantees.
///
/// `S` is where the files live: [`OsStorage`] for a real directory ([`FileLog::open`]),
/// or `sim::disk::SimDir` for a simulated disk that can lose unsynced
/// writes (`SimDisk::open_log`).
pub struct FileLog<S: Storage = OsStorage> {
    storage: S,
    file: S::File,
    _lock: S::Lock,
    path: String,
    options: FileLogOptions,
    /// Live records in id order.
    index: VecDeque<Entry>,
    /// The last live record, kept in memory so `last` costs no I/O.
    last: Option<(u64, Vec<u8>)>,
    /// Where the next frame goes.
    end: u64,
    live_bytes: u64,
    dead_bytes: u64,
    truncated_on_open: u64,
    /// Set by the first failed write or sync; every later call fails with it.
    poisoned: Option<String>,
    buf: Vec<u8>,
}

impl<S: Storage> fmt::Debug for FileLog<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileLog")
            .field("path", &self.path)
            .field("records", &self.index.len())
            .field("bytes", &self.end)
            .field("poisoned", &self.poisoned)
            .finish()
    }
}

fn io_error(message: String, e: io::Error) -> Error {
    Error::Storage { message: format!("{message}: {e}"), cause: Some(Arc::new(e)) }
}

#[cfg(unix)]
impl FileLog<OsStorage> {
    /// Open (or create) the log in directory `dir`, with default options.
    pub fn open(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        Self::open_with(OsStorage::new(dir.as_ref()), FileLogOptions::default())
    }
}

impl<S: Storage> FileLog<S> {
    /// Open (or create) the log kept in `storage`: take the lock, recover, truncate a
    /// torn tail. Fails if another handle holds the lock, or if a record that was fully
    /// written is damaged (the error names the file and offset).
    pub fn open_with(storage: S, options: FileLogOptions) -> Result<Self> {
        let dir = storage.describe("");
        storage.create_dir().map_err(|e| io_error(format!("{dir}: cannot create the log directory"), e))?;
        let lock = storage.lock().map_err(|e| {
            if e.kind() == io::ErrorKind::WouldBlock {
                Error::Storage {
                    message: format!(
                        "{}: the log is already open (its lock is held by another process or handle)",
                        storage.describe("lock")
                    ),
                    cause: Some(Arc::new(e)),
                }
            } else {
                io_error(format!("{}: cannot lock the log", storage.describe("lock")), e)
            }
        })?;
        let path = storage.describe(LOG);
        // Leftovers of an interrupted create or compaction: the rename never happened, so
        // `log` is still the whole truth.
        for stale in [NEW, COMPACT] {
            storage.remove(stale).map_err(|e| io_error(format!("{}: cannot remove", storage.describe(stale)), e))?;
        }
        let file = match storage.open(LOG).map_err(|e| io_error(format!("{path}: cannot open"), e))? {
            Some(file) => file,
            None => Self::create_file(&storage).map_err(|e| io_error(format!("{path}: cannot create"), e))?,
        };
        let mut log = FileLog {
            storage,
            file,
            _lock: lock,
            path,
            options,
            index: VecDeque::new(),
            last: None,
            end: FILE_HEADER_LEN,
            live_bytes: 0,
            dead_bytes: 0,
            truncated_on_open: 0,
            poisoned: None,
            buf: Vec::new(),
        };
        log.recover()?;
        Ok(log)
    }

    /// Write a new file's header under a temporary name, then rename it into place, so
    /// `log` never exists without a durable header.
    fn create_file(storage: &S) -> io::Result<S::File> {
        let mut file = storage.create(NEW)?;
        file.write_at(&format::file_header(), 0)?;
        file.sync_data()?;
        storage.rename(NEW, LOG)?;
        storage.sync_dir()?;
        Ok(file)
    }

    fn corrupt(&self, offset: u64, why: impl fmt::Display) -> Error {
        Error::storage(format!(
            "{}: corrupt record at offset {offset}: {why}; refusing to open (acknowledged state \
             may be lost, so this log must not vote)",
            self.path
        ))
    }

    fn read_error(&self, what: &str, e: io::Error) -> Error {
        io_error(format!("{}: {what}", self.path), e)
    }

    /// Scan the file, rebuild the index, and cut a torn tail.
    fn recover(&mut self) -> Result<()> {
        let file_len = self.file.len().map_err(|e| self.read_error("cannot stat", e))?;
        let mut header = [0u8; FILE_HEADER_LEN as usize];
        if file_len < FILE_HEADER_LEN {
            return Err(self.corrupt(0, format!("file is {file_len} bytes, shorter than its header")));
        }
        self.file.read_at(&mut header, 0).map_err(|e| self.read_error("cannot read the header", e))?;
        format::check_file_header(&header).map_err(|why| self.corrupt(0, why))?;

        // A complete frame ends in a non-zero trailer, so a zero last byte means the last
        // write was cut short on a filesystem that extended the file before filling it.
        let mut last_byte = [TRAILER_UNKNOWN];
        if file_len > FILE_HEADER_LEN {
            self.file.read_at(&mut last_byte, file_len - 1).map_err(|e| self.read_error("cannot read", e))?;
        }
        let zero_filled_tail = file_len > FILE_HEADER_LEN && last_byte[0] == 0;
        // Where that run of zeros starts, found only if a damaged frame needs it. A damaged
        // frame is a torn tail only if the zeros reach back into it: then nothing after
        // it was ever written. Damage followed by data is corruption, even when the last
        // write was torn too.
        let mut zeros_from = None;
        let mut torn_at = |end_of_frame: u64| -> Result<bool> {
            if !zero_filled_tail {
                return Ok(false);
            }
            let z = match zeros_from {
                Some(z) => z,
                None => {
                    let z = zero_run_start(&self.file, file_len).map_err(|e| self.read_error("cannot read", e))?;
                    zeros_from = Some(z);
                    z
                }
            };
            Ok(z <= end_of_frame)
        };

        let mut window = Window { file: &self.file, file_len, start: 0, buf: Vec::new() };
        let mut index: VecDeque<Entry> = VecDeque::new();
        let mut live = 0u64;
        let mut at = FILE_HEADER_LEN;
        let mut torn = false;
        while at < file_len {
            if file_len - at < FRAME_HEADER_LEN as u64 {
                torn = true;
                break;
            }
            let raw = window.get(at, FRAME_HEADER_LEN as u64).map_err(|e| self.read_error("cannot read", e))?;
            let Some(h) = format::decode_header(raw) else {
                if torn_at(at + FRAME_HEADER_LEN as u64)? {
                    torn = true;
                    break;
                }
                return Err(self.corrupt(at, "frame header checksum mismatch"));
            };
            if h.kind != KIND_RECORD && h.kind != KIND_TRIM {
                return Err(self.corrupt(at, format!("unknown frame kind {}", h.kind)));
            }
            let frame_len = h.frame_len();
            if frame_len > file_len - at {
                // The header says more bytes follow than the file holds: the write was cut.
                torn = true;
                break;
            }
            let frame = window.get(at, frame_len).map_err(|e| self.read_error("cannot read", e))?;
            if !format::body_ok(&h, frame) {
                if torn_at(at + frame_len)? {
                    torn = true;
                    break;
                }
                return Err(self.corrupt(at, "record checksum mismatch"));
            }
            if h.kind == KIND_RECORD {
                if let Some(prev) = index.back() {
                    if h.id <= prev.id {
                        return Err(self.corrupt(at, format!("record id {} after id {}", h.id, prev.id)));
                    }
                }
                index.push_back(Entry { id: h.id, offset: at, len: h.len });
                live += frame_len;
            } else {
                let cut = index.partition_point(|e| e.id < h.id);
                live -= index.drain(..cut).map(|e| e.frame_len()).sum::<u64>();
            }
            at += frame_len;
        }
        drop(window);

        if torn {
            // Cut the torn bytes now, durably: a later append must not leave old garbage
            // after its end, where the next open would take it for corruption.
            let r = self.file.set_len(at).and_then(|()| self.file.sync_data());
            r.map_err(|e| self.read_error("cannot truncate a torn tail", e))?;
            self.truncated_on_open = file_len - at;
        }
        self.end = at;
        self.live_bytes = live;
        self.dead_bytes = at - FILE_HEADER_LEN - live;
        self.index = index;
        let mut last = None;
        if let Some(n) = self.index.len().checked_sub(1) {
            self.for_each_frame(n, n + 1, &mut |id, data| {
                last = Some((id, data.to_vec()));
                Ok(())
            })?;
        }
        self.last = last;
        Ok(())
    }

    /// Call `f(id, data)` for the live records `index[from..to]`, reading the file in
    /// large pieces and checking every checksum again (the disk may have rotted since).
    fn for_each_frame(&self, from: usize, to: usize, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let mut buf = Vec::new();
        let mut i = from;
        while i < to {
            let first = self.index[i].offset;
            let mut j = i;
            let mut span_end = first;
            while j < to {
                let end = self.index[j].offset + self.index[j].frame_len();
                if j > i && end - first > CHUNK {
                    break;
                }
                span_end = end;
                j += 1;
            }
            buf.resize((span_end - first) as usize, 0);
            self.file.read_at(&mut buf, first).map_err(|e| self.read_error("cannot read", e))?;
            for e in self.index.range(i..j) {
                let frame = &buf[(e.offset - first) as usize..(e.offset - first + e.frame_len()) as usize];
                let ok = format::decode_header(frame)
                    .filter(|h| h.id == e.id && h.len == e.len && h.kind == KIND_RECORD)
                    .is_some_and(|h: FrameHeader| format::body_ok(&h, frame));
                if !ok {
                    return Err(Error::storage(format!(
                        "{}: corrupt record at offset {}: checksum mismatch on read",
                        self.path, e.offset
                    )));
                }
                f(e.id, &frame[FRAME_HEADER_LEN..FRAME_HEADER_LEN + e.len as usize])?;
            }
            i = j;
        }
        Ok(())
    }

    fn check(&self) -> Result<()> {
        match &self.poisoned {
            None => Ok(()),
            Some(why) => Err(Error::storage(format!(
                "{}: log unusable after an earlier storage failure ({why}); reopen it to recover",
                self.path
            ))),
        }
    }

    /// Record a write or sync failure: from now on every call fails.
    fn poison(&mut self, what: &str, e: io::Error) -> Error {
        let err = io_error(format!("{}: {what}", self.path), e);
        self.poisoned = Some(err.to_string());
        err
    }

    /// Write `self.buf` at the end and sync it.
    fn write_buf(&mut self) -> Result<()> {
        let r = self.file.write_at(&self.buf, self.end);
        if let Err(e) = r {
            return Err(self.poison("write failed", e));
        }
        if let Err(e) = self.file.sync_data() {
            // After a failed fsync the kernel may have dropped the dirty pages: nothing
            // written since the last good sync can be trusted, so stop here for good.
            return Err(self.poison("fdatasync failed", e));
        }
        self.end += self.buf.len() as u64;
        Ok(())
    }

    fn append(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        self.check()?;
        check_batch_order(self.index.back().map(|e| e.id), records)?;
        let Some(&(last_id, last_data)) = records.last() else {
            return Ok(());
        };
        if let Some((id, data)) = records.iter().find(|(_, d)| u32::try_from(d.len()).is_err()) {
            return Err(Error::InvalidArgument(format!(
                "record {id} is {} bytes; a FileLog record holds at most {} bytes",
                data.len(),
                u32::MAX
            )));
        }
        self.buf.clear();
        let mut entries = Vec::with_capacity(records.len());
        for (id, data) in records {
            entries.push(Entry { id: *id, offset: self.end + self.buf.len() as u64, len: data.len() as u32 });
            format::encode_frame(&mut self.buf, KIND_RECORD, *id, data);
        }
        self.write_buf()?;
        self.live_bytes += self.buf.len() as u64;
        self.index.extend(entries);
        self.last = Some((last_id, last_data.to_vec()));
        if self.buf.capacity() > CHUNK as usize {
            // Do not keep a large batch's buffer around for the life of the log.
            self.buf = Vec::new();
        }
        Ok(())
    }

    /// Copy the live records to a new file and rename it over the log.
    fn compact(&mut self) -> Result<()> {
        let tmp_path = self.storage.describe(COMPACT);
        let mut out = match self.storage.create(COMPACT) {
            Ok(f) => f,
            Err(e) => return Err(self.poison(&format!("cannot create {tmp_path}"), e)),
        };
        let mut pending = format::file_header().to_vec();
        let mut written = 0u64;
        let mut new_index = VecDeque::with_capacity(self.index.len());
        let mut write_err = None;
        let copied = self.for_each_frame(0, self.index.len(), &mut |id, data| {
            new_index.push_back(Entry { id, offset: written + pending.len() as u64, len: data.len() as u32 });
            format::encode_frame(&mut pending, KIND_RECORD, id, data);
            if pending.len() as u64 >= CHUNK {
                if let Err(e) = out.write_at(&pending, written) {
                    write_err = Some(e);
                    return Err(Error::storage("compaction write failed"));
                }
                written += pending.len() as u64;
                pending.clear();
            }
            Ok(())
        });
        if let Some(e) = write_err {
            return Err(self.poison(&format!("cannot write {tmp_path}"), e));
        }
        if let Err(e) = copied {
            // A record that no longer matches its checksum: do not copy rot forward.
            self.poisoned = Some(e.to_string());
            return Err(e);
        }
        let r = out
            .write_at(&pending, written)
            .and_then(|()| out.sync_data())
            .and_then(|()| self.storage.rename(COMPACT, LOG))
            // Until the directory is synced, a crash may bring back the old file, and any
            // record appended to the new one would be lost with it.
            .and_then(|()| self.storage.sync_dir());
        if let Err(e) = r {
            return Err(self.poison("compaction failed", e));
        }
        self.file = out;
        self.index = new_index;
        self.end = written + pending.len() as u64;
        self.dead_bytes = 0;
        self.live_bytes = self.end - FILE_HEADER_LEN;
        Ok(())
    }

    /// How many live records the log holds.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the log holds no live record.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The log file's path (or simulated name), as error messages give it.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The size of the log file in bytes.
    pub fn file_bytes(&self) -> u64 {
        self.end
    }

    /// How many bytes of torn tail the last open cut away (0 after a clean shutdown).
    pub fn truncated_on_open(&self) -> u64 {
        self.truncated_on_open
    }

    /// Why the log refuses every call, if an earlier write or sync failed.
    pub fn poisoned(&self) -> Option<&str> {
        self.poisoned.as_deref()
    }
}

/// Placeholder for "no last byte read yet" (any non-zero value does).
const TRAILER_UNKNOWN: u8 = 0xFF;

/// The offset where the run of zero bytes at the end of the file starts.
fn zero_run_start<F: StorageFile>(file: &F, file_len: u64) -> io::Result<u64> {
    let mut end = file_len;
    let mut buf = vec![0u8; 64 << 10];
    while end > FILE_HEADER_LEN {
        let start = end.saturating_sub(buf.len() as u64).max(FILE_HEADER_LEN);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b != 0) {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(FILE_HEADER_LEN)
}

/// A sliding read window over a file, for the recovery scan.
struct Window<'a, F: StorageFile> {
    file: &'a F,
    file_len: u64,
    start: u64,
    buf: Vec<u8>,
}

impl<F: StorageFile> Window<'_, F> {
    /// The bytes `[at, at + len)`, which the caller knows are inside the file.
    fn get(&mut self, at: u64, len: u64) -> io::Result<&[u8]> {
        let have = at >= self.start && at + len <= self.start + self.buf.len() as u64;
        if !have {
            let size = len.max(CHUNK).min(self.file_len - at);
            self.buf.resize(size as usize, 0);
            self.file.read_at(&mut self.buf, at)?;
            self.start = at;
        }
        let from = (at - self.start) as usize;
        Ok(&self.buf[from..from + len as usize])
    }
}

impl<S: Storage> Log for FileLog<S> {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        self.append(&[(id, data)])
    }

    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        self.append(records)
    }

    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        self.check()?;
        Ok(self.last.clone())
    }

    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        self.check()?;
        if start > stop {
            return Ok(());
        }
        let from = self.index.partition_point(|e| e.id < start);
        let to = self.index.partition_point(|e| e.id <= stop);
        if from >= to {
            return Ok(());
        }
        self.for_each_frame(from, to, f)
    }

    fn trim(&mut self, before: u64) -> Result<()> {
        self.check()?;
        let cut = self.index.partition_point(|e| e.id < before);
        if cut == 0 {
            return Ok(());
        }
        // The mark goes to disk before the records leave the index: if it fails, nothing
        // visible changed (and the log is poisoned anyway).
        self.buf.clear();
        format::encode_frame(&mut self.buf, KIND_TRIM, before, &[]);
        self.write_buf()?;
        let removed: u64 = self.index.drain(..cut).map(|e| e.frame_len()).sum();
        self.live_bytes -= removed;
        self.dead_bytes += removed + FRAME_OVERHEAD;
        if self.index.is_empty() {
            self.last = None;
        }
        if self.dead_bytes >= self.options.compact_min_bytes && self.dead_bytes >= self.live_bytes {
            self.compact()?;
        }
        Ok(())
    }
}
