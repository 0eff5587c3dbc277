//! [`MemoryLog`]: a [`Log`] in memory, whose clones share their records.

use std::sync::{Arc, Mutex, MutexGuard};

use super::log::{check_batch_order, Log};
use crate::protocol::error::{Error, Result};

/// The records of a [`MemoryLog`]: every record's bytes back to back in one buffer, and an
/// index of `(id, end offset)` in id order, so appending a record allocates nothing (beyond
/// amortized growth) and dropping a log frees two buffers instead of one per record.
#[derive(Debug, Default)]
struct Records {
    /// `(id, end)` per record, in id order: the record's bytes are `data[start..end]`, where
    /// `start` is the previous record's `end` (or `head` for the first one).
    index: std::collections::VecDeque<(u64, usize)>,
    data: Vec<u8>,
    /// Where the first record still held starts (bytes before it were trimmed).
    head: usize,
}

impl Records {
    fn last_id(&self) -> Option<u64> {
        self.index.back().map(|r| r.0)
    }

    fn bytes(&self, i: usize) -> &[u8] {
        let start = match i {
            0 => self.head,
            _ => self.index.get(i - 1).map_or(self.head, |r| r.1),
        };
        let end = self.index.get(i).map_or(start, |r| r.1);
        self.data.get(start..end).unwrap_or_default()
    }

    fn push(&mut self, id: u64, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        self.index.push_back((id, self.data.len()));
    }

    fn trim(&mut self, before: u64) {
        let cut = self.index.partition_point(|r| r.0 < before);
        if cut == 0 {
            return;
        }
        self.head = self.index.get(cut - 1).map_or(self.head, |r| r.1);
        self.index.drain(..cut);
        if self.index.is_empty() {
            self.data.clear();
            self.head = 0;
        } else if self.head > self.data.len() / 2 {
            // Give the trimmed bytes back once they are most of the buffer (amortized O(1)).
            let head = self.head;
            self.data.drain(..head);
            for r in self.index.iter_mut() {
                r.1 -= head;
            }
            self.head = 0;
        }
    }
}

/// A log in memory. Clones share the same records, so dropping one handle and keeping a
/// clone acts like closing and reopening a file (what the conformance kit checks).
///
/// ```
/// use synodos::{Log, MemoryLog};
/// let mut log = MemoryLog::new();
/// log.record(1, b"one").unwrap();
/// log.record(5, b"five").unwrap();
/// assert_eq!(log.last().unwrap(), Some((5, b"five".to_vec())));
/// let mut ids = vec![];
/// log.range(0, 4, &mut |id, _| { ids.push(id); Ok(()) }).unwrap();
/// assert_eq!(ids, [1]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    records: Arc<Mutex<Records>>,
}

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn records(&self) -> MutexGuard<'_, Records> {
        // A poisoned lock only means another thread panicked mid-call; the records are
        // still whole (every mutation completes before anything that could panic).
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many records the log holds.
    pub fn len(&self) -> usize {
        self.records().index.len()
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Log for MemoryLog {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        let mut records = self.records();
        if let Some(last) = records.last_id().filter(|&last| id <= last) {
            return Err(Error::InvalidArgument(format!("log ids must increase: id {id} after id {last}")));
        }
        records.push(id, data);
        Ok(())
    }

    fn record_batch(&mut self, batch: &[(u64, &[u8])]) -> Result<()> {
        let mut records = self.records();
        check_batch_order(records.last_id(), batch)?;
        for (id, data) in batch {
            records.push(*id, data);
        }
        Ok(())
    }

    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let records = self.records();
        Ok(records.last_id().map(|id| (id, records.bytes(records.index.len() - 1).to_vec())))
    }

    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        // Copy the records out first: `f` is user code and must not run under our lock.
        let (ids, data) = {
            let records = self.records();
            let from = records.index.partition_point(|r| r.0 < start);
            let to = records.index.partition_point(|r| r.0 <= stop).max(from);
            let base = match from {
                0 => records.head,
                _ => records.index.get(from - 1).map_or(records.head, |r| r.1),
            };
            let ids: Vec<(u64, usize)> = records.index.range(from..to).map(|&(id, end)| (id, end - base)).collect();
            let end = ids.last().map_or(base, |r| r.1 + base);
            (ids, records.data.get(base..end).unwrap_or_default().to_vec())
        };
        let mut start = 0;
        for (id, end) in ids {
            f(id, data.get(start..end).unwrap_or_default())?;
            start = end;
        }
        Ok(())
    }

    fn trim(&mut self, before: u64) -> Result<()> {
        self.records().trim(before);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::conformance;
    use std::collections::HashMap;

    #[test]
    fn memory_log_passes_the_conformance_kit() {
        let mut store: HashMap<String, MemoryLog> = HashMap::new();
        let report = conformance::run(|name| Ok(store.entry(name.to_string()).or_default().clone())).unwrap();
        assert_eq!(report.checks.len(), 10);
    }

    #[test]
    fn memory_log_keeps_records_whole_across_trims_and_compaction() {
        let mut log = MemoryLog::new();
        let value = |id: u64| vec![id as u8; (id % 7) as usize];
        for id in 1..=100u64 {
            log.record(id, &value(id)).unwrap();
        }
        for before in [0, 1, 10, 60, 61, 99] {
            log.trim(before).unwrap();
            let mut seen = vec![];
            log.range(0, u64::MAX, &mut |id, data| {
                seen.push((id, data.to_vec()));
                Ok(())
            })
            .unwrap();
            let first = before.max(1);
            assert_eq!(seen, (first..=100).map(|id| (id, value(id))).collect::<Vec<_>>(), "trim({before})");
            let mut middle = vec![];
            log.range(first + 1, 98, &mut |id, data| {
                middle.push((id, data.to_vec()));
                Ok(())
            })
            .unwrap();
            assert_eq!(middle, (first + 1..=98).map(|id| (id, value(id))).collect::<Vec<_>>());
            assert_eq!(log.last().unwrap(), Some((100, value(100))));
            log.record(1000 + before, b"more").unwrap();
            log.trim(1000 + before).unwrap();
            assert_eq!(log.last().unwrap(), Some((1000 + before, b"more".to_vec())));
            assert_eq!(log.len(), 1);
            // Refill to 1..=100 is impossible (ids must increase); start over instead.
            log = MemoryLog::new();
            for id in 1..=100u64 {
                log.record(id, &value(id)).unwrap();
            }
        }
        log.trim(u64::MAX).unwrap();
        assert!(log.is_empty());
        assert_eq!(log.last().unwrap(), None);
        log.record(u64::MAX, b"x").unwrap();
        assert_eq!(log.len(), 1);
    }

    /// The kit must be able to fail: a log that forgets on reopen, or accepts duplicate ids.
    #[test]
    fn the_conformance_kit_catches_broken_logs() {
        let forgetful = conformance::run(|_| Ok(MemoryLog::new()));
        assert_eq!(forgetful.unwrap_err().check, "empty and large values");

        struct NoOrderCheck(Vec<(u64, Vec<u8>)>);
        impl Log for NoOrderCheck {
            fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
                self.0.push((id, data.to_vec()));
                Ok(())
            }
            fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
                Ok(self.0.last().cloned())
            }
            fn range(&self, s: u64, e: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
                for (id, d) in self.0.iter().filter(|r| r.0 >= s && r.0 <= e) {
                    f(*id, d)?;
                }
                Ok(())
            }
            fn trim(&mut self, before: u64) -> Result<()> {
                self.0.retain(|r| r.0 >= before);
                Ok(())
            }
        }
        let sloppy = conformance::run(|_| Ok(NoOrderCheck(vec![])));
        assert_eq!(sloppy.unwrap_err().check, "duplicate and lower ids are refused");
    }
}
