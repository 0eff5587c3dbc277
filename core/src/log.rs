//! Acceptor storage: the [`Log`] trait (the ancestor's `Record`, `Last`, `Range`),
//! [`MemoryLog`], and a [`conformance`] kit any implementation can be run against.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, Result};

/// An append-only sequence of `(id, bytes)` records with strictly increasing ids.
///
/// An [`Acceptor`](crate::Acceptor) keeps its promises in one log and its accepted
/// proposals in another, and rebuilds itself from them after a restart. A log may be
/// written in any language a binding supports.
///
/// Contract (checked by [`conformance::run`]):
/// - `record` returns only once the record is durable (as durable as the log claims to be);
///   an `id` not greater than the last one is refused with [`Error::InvalidArgument`] and
///   changes nothing.
/// - `record_batch` appends several records as one unit of durability (one fsync for a file
///   log: group commit). If any id is out of order, nothing is appended.
/// - `range(start, stop, f)` calls `f` for every record with `start <= id <= stop`, in id
///   order, and stops at the first error `f` returns, returning it.
/// - `trim(before)` forgets every record with `id < before`; they never come back, even after
///   a reopen. `last` is unchanged unless every record was trimmed.
pub trait Log {
    /// Append one record; durable on return.
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()>;

    /// Append several records with one durability barrier. The default calls `record` for each.
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        check_batch_order(self.last()?.map(|(id, _)| id), records)?;
        for (id, data) in records {
            self.record(*id, data)?;
        }
        Ok(())
    }

    /// The record with the highest id, if any.
    fn last(&self) -> Result<Option<(u64, Vec<u8>)>>;

    /// Visit records with `start <= id <= stop` in id order.
    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()>;

    /// Forget every record with `id < before`.
    fn trim(&mut self, before: u64) -> Result<()>;
}

impl<L: Log + ?Sized> Log for Box<L> {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        (**self).record(id, data)
    }
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        (**self).record_batch(records)
    }
    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        (**self).last()
    }
    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        (**self).range(start, stop, f)
    }
    fn trim(&mut self, before: u64) -> Result<()> {
        (**self).trim(before)
    }
}

/// Check that `records` have strictly increasing ids, all above `last`. Every `Log`
/// implementation can call this before writing a batch, so a bad batch changes nothing.
pub fn check_batch_order(last: Option<u64>, records: &[(u64, &[u8])]) -> Result<()> {
    let mut prev = last;
    for (id, _) in records {
        if let Some(p) = prev {
            if *id <= p {
                return Err(Error::InvalidArgument(format!("log ids must increase: id {id} after id {p}")));
            }
        }
        prev = Some(*id);
    }
    Ok(())
}

/// Records as `(id, data)` pairs, in id order.
type Records = Vec<(u64, Vec<u8>)>;

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
        // A poisoned lock only means another thread panicked mid-call; the Vec is still whole.
        self.records.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many records the log holds.
    pub fn len(&self) -> usize {
        self.records().len()
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Log for MemoryLog {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        let mut records = self.records();
        check_batch_order(records.last().map(|r| r.0), &[(id, data)])?;
        records.push((id, data.to_vec()));
        Ok(())
    }

    fn record_batch(&mut self, batch: &[(u64, &[u8])]) -> Result<()> {
        let mut records = self.records();
        check_batch_order(records.last().map(|r| r.0), batch)?;
        records.extend(batch.iter().map(|(id, data)| (*id, data.to_vec())));
        Ok(())
    }

    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        Ok(self.records().last().cloned())
    }

    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        // Copy the slice out first: `f` is user code and must not run under our lock.
        let selected: Vec<(u64, Vec<u8>)> = {
            let records = self.records();
            let from = records.partition_point(|r| r.0 < start);
            records[from..].iter().take_while(|r| r.0 <= stop).cloned().collect()
        };
        for (id, data) in &selected {
            f(*id, data)?;
        }
        Ok(())
    }

    fn trim(&mut self, before: u64) -> Result<()> {
        let mut records = self.records();
        let cut = records.partition_point(|r| r.0 < before);
        records.drain(..cut);
        Ok(())
    }
}

/// A storage conformance kit: run it against any [`Log`] implementation.
///
/// `open(name)` must return the log stored under `name`, creating it empty the first time;
/// a second `open` of the same name after the first handle was dropped must see what was
/// written (a reopen). Each check uses its own name.
///
/// ```
/// use synodos::{log::conformance, MemoryLog};
/// use std::collections::HashMap;
/// let mut store: HashMap<String, MemoryLog> = HashMap::new();
/// let report = conformance::run(|name| Ok(store.entry(name.to_string()).or_default().clone())).unwrap();
/// assert!(report.checks.len() >= 9);
/// ```
pub mod conformance {
    use super::*;

    /// One failed check.
    #[derive(Debug, Clone, thiserror::Error)]
    #[error("log conformance check {check:?} failed: {detail}")]
    pub struct Failure {
        /// The check's name.
        pub check: &'static str,
        /// What was expected and what happened.
        pub detail: String,
    }

    /// The checks that passed.
    #[derive(Debug, Clone, Default)]
    pub struct Report {
        /// Names of the checks run, all passed.
        pub checks: Vec<&'static str>,
    }

    impl From<Failure> for Error {
        fn from(f: Failure) -> Self {
            Error::InvalidArgument(f.to_string())
        }
    }

    fn all<L: Log + ?Sized>(log: &L, start: u64, stop: u64) -> Result<Records> {
        let mut out = Vec::new();
        log.range(start, stop, &mut |id, data| {
            out.push((id, data.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }

    struct Checker {
        check: &'static str,
    }

    impl Checker {
        fn ok<T>(&self, what: &str, r: Result<T>) -> Result<T, Failure> {
            r.map_err(|e| Failure { check: self.check, detail: format!("{what}: unexpected error: {e}") })
        }
        fn eq<T: PartialEq + std::fmt::Debug>(&self, what: &str, got: T, want: T) -> Result<(), Failure> {
            if got == want {
                Ok(())
            } else {
                Err(Failure { check: self.check, detail: format!("{what}: expected {want:?}, got {got:?}") })
            }
        }
        fn err<T: std::fmt::Debug>(&self, what: &str, r: Result<T>) -> Result<(), Failure> {
            match r {
                Err(_) => Ok(()),
                Ok(v) => {
                    Err(Failure { check: self.check, detail: format!("{what}: expected an error, got Ok({v:?})") })
                }
            }
        }
    }

    fn rec(id: u64, data: &[u8]) -> (u64, Vec<u8>) {
        (id, data.to_vec())
    }

    /// Run every check; the first failure stops the run.
    pub fn run<L: Log, F: FnMut(&str) -> Result<L>>(mut open: F) -> Result<Report, Failure> {
        let mut report = Report::default();
        let start = |check: &'static str, report: &mut Report| {
            report.checks.push(check);
            Checker { check }
        };

        let c = start("empty", &mut report);
        let log = c.ok("open", open("empty"))?;
        c.eq("last of an empty log", c.ok("last", log.last())?, None)?;
        c.eq("range of an empty log", c.ok("range", all(&log, 0, u64::MAX))?, vec![])?;
        drop(log);

        let c = start("ordering", &mut report);
        let mut log = c.ok("open", open("ordering"))?;
        for (id, data) in [(1u64, &b"a"[..]), (2, b"b"), (10, b"c"), (11, b"d")] {
            c.ok("record", log.record(id, data))?;
        }
        c.eq("last", c.ok("last", log.last())?, Some(rec(11, b"d")))?;
        c.eq(
            "range(0, MAX)",
            c.ok("range", all(&log, 0, u64::MAX))?,
            vec![rec(1, b"a"), rec(2, b"b"), rec(10, b"c"), rec(11, b"d")],
        )?;
        drop(log);

        let c = start("range bounds are inclusive", &mut report);
        let mut log = c.ok("open", open("range"))?;
        for id in [3u64, 5, 7, 9] {
            c.ok("record", log.record(id, &id.to_le_bytes()))?;
        }
        let ids = |r: Records| r.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        c.eq("range(5, 7)", ids(c.ok("range", all(&log, 5, 7))?), vec![5, 7])?;
        c.eq("range(4, 8)", ids(c.ok("range", all(&log, 4, 8))?), vec![5, 7])?;
        c.eq("range(10, 20)", ids(c.ok("range", all(&log, 10, 20))?), vec![])?;
        c.eq("range(8, 4)", ids(c.ok("range", all(&log, 8, 4))?), vec![])?;
        c.eq("range(9, 9)", ids(c.ok("range", all(&log, 9, 9))?), vec![9])?;
        let mut visited = 0;
        let stopped = log.range(0, u64::MAX, &mut |_, _| {
            visited += 1;
            Err(Error::InvalidArgument("stop here".into()))
        });
        c.err("an error from the range callback is returned", stopped)?;
        c.eq("records visited after the callback failed", visited, 1)?;
        drop(log);

        let c = start("duplicate and lower ids are refused", &mut report);
        let mut log = c.ok("open", open("duplicates"))?;
        c.ok("record", log.record(4, b"four"))?;
        c.err("record of the same id", log.record(4, b"again"))?;
        c.err("record of a lower id", log.record(2, b"lower"))?;
        c.err("batch with ids out of order", log.record_batch(&[(6, b"x"), (5, b"y")]))?;
        c.err("batch starting below last", log.record_batch(&[(3, b"x"), (8, b"y")]))?;
        c.eq("records after refusals", c.ok("range", all(&log, 0, u64::MAX))?, vec![rec(4, b"four")])?;
        drop(log);

        let c = start("batches", &mut report);
        let mut log = c.ok("open", open("batches"))?;
        c.ok("empty batch", log.record_batch(&[]))?;
        c.ok("batch", log.record_batch(&[(1, b"x"), (2, b""), (3, b"z")]))?;
        c.ok("record after a batch", log.record(4, b"w"))?;
        c.eq(
            "range",
            c.ok("range", all(&log, 0, u64::MAX))?,
            vec![rec(1, b"x"), rec(2, b""), rec(3, b"z"), rec(4, b"w")],
        )?;
        drop(log);

        let c = start("empty and large values", &mut report);
        let mut log = c.ok("open", open("values"))?;
        let large: Vec<u8> = (0..(1usize << 20) + 3).map(|i| (i * 31 % 251) as u8).collect();
        c.ok("record empty", log.record(1, b""))?;
        c.ok("record 1 MiB", log.record(2, &large))?;
        c.ok("record at u64::MAX", log.record(u64::MAX, b"max"))?;
        drop(log);
        let log = c.ok("reopen", open("values"))?;
        c.eq("empty value", c.ok("range", all(&log, 1, 1))?, vec![rec(1, b"")])?;
        let got = c.ok("range", all(&log, 2, 2))?;
        c.eq("large value length", got.first().map(|r| r.1.len()), Some(large.len()))?;
        c.eq("large value bytes equal", got.first().map(|r| r.1 == large), Some(true))?;
        c.eq("last at u64::MAX", c.ok("last", log.last())?, Some(rec(u64::MAX, b"max")))?;
        drop(log);

        let c = start("reopen keeps every record", &mut report);
        let mut log = c.ok("open", open("reopen"))?;
        for id in 1..=100u64 {
            c.ok("record", log.record(id * 2, format!("v{id}").as_bytes()))?;
        }
        drop(log);
        let mut log = c.ok("reopen", open("reopen"))?;
        c.eq("last after reopen", c.ok("last", log.last())?, Some(rec(200, b"v100")))?;
        c.eq("count after reopen", c.ok("range", all(&log, 0, u64::MAX))?.len(), 100)?;
        c.err("a lower id after reopen", log.record(150, b"x"))?;
        c.ok("record after reopen", log.record(201, b"next"))?;
        drop(log);
        let log = c.ok("second reopen", open("reopen"))?;
        c.eq("last after second reopen", c.ok("last", log.last())?, Some(rec(201, b"next")))?;
        drop(log);

        let c = start("trim", &mut report);
        let mut log = c.ok("open", open("trim"))?;
        for id in 1..=10u64 {
            c.ok("record", log.record(id, &[id as u8]))?;
        }
        c.ok("trim(6)", log.trim(6))?;
        let ids = |r: Records| r.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        c.eq("ids after trim", ids(c.ok("range", all(&log, 0, u64::MAX))?), vec![6, 7, 8, 9, 10])?;
        c.eq("last after trim", c.ok("last", log.last())?, Some(rec(10, &[10])))?;
        c.ok("record after trim", log.record(11, b"k"))?;
        drop(log);
        let mut log = c.ok("reopen", open("trim"))?;
        c.eq("ids after reopen", ids(c.ok("range", all(&log, 0, u64::MAX))?), vec![6, 7, 8, 9, 10, 11])?;
        c.ok("trim below everything", log.trim(2))?;
        c.eq("nothing more trimmed", ids(c.ok("range", all(&log, 0, 6))?), vec![6])?;
        drop(log);

        let c = start("many records", &mut report);
        let mut log = c.ok("open", open("many"))?;
        let batch: Vec<(u64, Vec<u8>)> = (1..=5000u64).map(|i| (i, i.to_be_bytes().to_vec())).collect();
        let refs: Vec<(u64, &[u8])> = batch.iter().map(|(i, d)| (*i, d.as_slice())).collect();
        c.ok("batch of 5000", log.record_batch(&refs))?;
        drop(log);
        let log = c.ok("reopen", open("many"))?;
        let got = c.ok("range", all(&log, 0, u64::MAX))?;
        c.eq("5000 records back in order", got == batch, true)?;

        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn memory_log_passes_the_conformance_kit() {
        let mut store: HashMap<String, MemoryLog> = HashMap::new();
        let report = conformance::run(|name| Ok(store.entry(name.to_string()).or_default().clone())).unwrap();
        assert_eq!(report.checks.len(), 9);
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
