//! The storage conformance kit: the contract of [`Log`] and [`AsyncLog`], as checks any
//! implementation (in any language a binding supports) can be run against.
//!
//! The checks are written once, for [`AsyncLog`]s ([`run_async`]); [`run`] runs them on a
//! synchronous [`Log`] through [`Ready`], where every call completes at once, plus one
//! check only a synchronous `range` has.
//!
//! `open(name)` must return the log stored under `name`, creating it empty the first time;
//! a second `open` of the same name after the first handle was dropped must see what was
//! written (a reopen). Each check uses its own name.
//!
//! ```
//! use synodos::{log::conformance, MemoryLog};
//! use std::collections::HashMap;
//! let mut store: HashMap<String, MemoryLog> = HashMap::new();
//! let report = conformance::run(|name| Ok(store.entry(name.to_string()).or_default().clone())).unwrap();
//! assert!(report.checks.len() >= 9);
//! ```

use std::future::Future;

use super::async_log::{AsyncLog, Ready};
use super::log::Log;
use crate::protocol::error::{Error, Result};

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

/// Run every check; the first failure stops the run.
///
/// The checks are those of [`run_async`] (one kit for both
/// kinds of log: a synchronous log runs it through [`Ready`], where
/// every call completes at once), plus one check only a synchronous `range` has: an
/// error returned by its callback stops the visit and is returned.
pub fn run<L: Log, F: FnMut(&str) -> Result<L>>(mut open: F) -> Result<Report, Failure> {
    use futures::FutureExt;
    let kit = run_async(|name| std::future::ready(open(name).map(Ready)));
    let mut report = kit.now_or_never().unwrap_or_else(|| {
        Err(Failure { check: "synchronous log", detail: "a call of a synchronous log did not complete".into() })
    })?;

    let check = "range stops at a callback error";
    report.checks.push(check);
    let fail = |detail: String| Failure { check, detail };
    let mut log = open("range-callback-error").map_err(|e| fail(format!("open: {e}")))?;
    for id in 1..=3u64 {
        log.record(id, b"x").map_err(|e| fail(format!("record: {e}")))?;
    }
    let mut visited = 0;
    let stopped = log.range(0, u64::MAX, &mut |_, _| {
        visited += 1;
        Err(Error::InvalidArgument("stop here".into()))
    });
    if stopped.is_ok() || visited != 1 {
        return Err(fail(format!("expected the callback's error after 1 record, got {stopped:?} after {visited}")));
    }
    Ok(report)
}

type Records = Vec<(u64, Vec<u8>)>;

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
            Ok(v) => Err(Failure { check: self.check, detail: format!("{what}: expected an error, got Ok({v:?})") }),
        }
    }
}

fn rec(id: u64, data: &[u8]) -> (u64, Vec<u8>) {
    (id, data.to_vec())
}

fn ids(r: Records) -> Vec<u64> {
    r.into_iter().map(|(id, _)| id).collect()
}

/// Run every check; the first failure stops the run. `open(name)` returns the log
/// stored under `name` (a later `open` of the same name is a reopen).
pub async fn run_async<L, F, Fut>(mut open: F) -> Result<Report, Failure>
where
    L: AsyncLog,
    F: FnMut(&str) -> Fut,
    Fut: Future<Output = Result<L>>,
{
    let mut report = Report::default();
    let mut start = |check: &'static str| {
        report.checks.push(check);
        Checker { check }
    };

    let c = start("empty");
    let log = c.ok("open", open("empty").await)?;
    c.eq("last of an empty log", c.ok("last", log.last().await)?, None)?;
    c.eq("range of an empty log", c.ok("range", log.range(0, u64::MAX).await)?, vec![])?;
    drop(log);

    let c = start("ordering");
    let mut log = c.ok("open", open("ordering").await)?;
    for (id, data) in [(1u64, &b"a"[..]), (2, b"b"), (10, b"c"), (11, b"d")] {
        c.ok("record", log.record(id, data).await)?;
    }
    c.eq("last", c.ok("last", log.last().await)?, Some(rec(11, b"d")))?;
    c.eq(
        "range(0, MAX)",
        c.ok("range", log.range(0, u64::MAX).await)?,
        vec![rec(1, b"a"), rec(2, b"b"), rec(10, b"c"), rec(11, b"d")],
    )?;
    drop(log);

    let c = start("range bounds are inclusive");
    let mut log = c.ok("open", open("range").await)?;
    for id in [3u64, 5, 7, 9] {
        c.ok("record", log.record(id, &id.to_le_bytes()).await)?;
    }
    c.eq("range(5, 7)", ids(c.ok("range", log.range(5, 7).await)?), vec![5, 7])?;
    c.eq("range(4, 8)", ids(c.ok("range", log.range(4, 8).await)?), vec![5, 7])?;
    c.eq("range(10, 20)", ids(c.ok("range", log.range(10, 20).await)?), vec![])?;
    c.eq("range(8, 4)", ids(c.ok("range", log.range(8, 4).await)?), vec![])?;
    c.eq("range(9, 9)", ids(c.ok("range", log.range(9, 9).await)?), vec![9])?;
    drop(log);

    let c = start("duplicate and lower ids are refused");
    let mut log = c.ok("open", open("duplicates").await)?;
    c.ok("record", log.record(4, b"four").await)?;
    c.err("record of the same id", log.record(4, b"again").await)?;
    c.err("record of a lower id", log.record(2, b"lower").await)?;
    c.err("batch with ids out of order", log.record_batch(&[(6, b"x"), (5, b"y")]).await)?;
    c.err("batch starting below last", log.record_batch(&[(3, b"x"), (8, b"y")]).await)?;
    c.eq("records after refusals", c.ok("range", log.range(0, u64::MAX).await)?, vec![rec(4, b"four")])?;
    drop(log);

    let c = start("batches");
    let mut log = c.ok("open", open("batches").await)?;
    c.ok("empty batch", log.record_batch(&[]).await)?;
    c.ok("batch", log.record_batch(&[(1, b"x"), (2, b""), (3, b"z")]).await)?;
    c.ok("record after a batch", log.record(4, b"w").await)?;
    c.eq(
        "range",
        c.ok("range", log.range(0, u64::MAX).await)?,
        vec![rec(1, b"x"), rec(2, b""), rec(3, b"z"), rec(4, b"w")],
    )?;
    drop(log);

    let c = start("empty and large values");
    let mut log = c.ok("open", open("values").await)?;
    let large: Vec<u8> = (0..(1usize << 20) + 3).map(|i| (i * 31 % 251) as u8).collect();
    c.ok("record empty", log.record(1, b"").await)?;
    c.ok("record 1 MiB", log.record(2, &large).await)?;
    c.ok("record at u64::MAX", log.record(u64::MAX, b"max").await)?;
    drop(log);
    let log = c.ok("reopen", open("values").await)?;
    c.eq("empty value", c.ok("range", log.range(1, 1).await)?, vec![rec(1, b"")])?;
    let got = c.ok("range", log.range(2, 2).await)?;
    c.eq("large value length", got.first().map(|r| r.1.len()), Some(large.len()))?;
    c.eq("large value bytes equal", got.first().map(|r| r.1 == large), Some(true))?;
    c.eq("last at u64::MAX", c.ok("last", log.last().await)?, Some(rec(u64::MAX, b"max")))?;
    drop(log);

    let c = start("reopen keeps every record");
    let mut log = c.ok("open", open("reopen").await)?;
    for id in 1..=100u64 {
        c.ok("record", log.record(id * 2, format!("v{id}").as_bytes()).await)?;
    }
    drop(log);
    let mut log = c.ok("reopen", open("reopen").await)?;
    c.eq("last after reopen", c.ok("last", log.last().await)?, Some(rec(200, b"v100")))?;
    c.eq("count after reopen", c.ok("range", log.range(0, u64::MAX).await)?.len(), 100)?;
    c.err("a lower id after reopen", log.record(150, b"x").await)?;
    c.ok("record after reopen", log.record(201, b"next").await)?;
    drop(log);
    let log = c.ok("second reopen", open("reopen").await)?;
    c.eq("last after second reopen", c.ok("last", log.last().await)?, Some(rec(201, b"next")))?;
    drop(log);

    let c = start("trim");
    let mut log = c.ok("open", open("trim").await)?;
    for id in 1..=10u64 {
        c.ok("record", log.record(id, &[id as u8]).await)?;
    }
    c.ok("trim(6)", log.trim(6).await)?;
    c.eq("ids after trim", ids(c.ok("range", log.range(0, u64::MAX).await)?), vec![6, 7, 8, 9, 10])?;
    c.eq("last after trim", c.ok("last", log.last().await)?, Some(rec(10, &[10])))?;
    c.ok("record after trim", log.record(11, b"k").await)?;
    drop(log);
    let mut log = c.ok("reopen", open("trim").await)?;
    c.eq("ids after reopen", ids(c.ok("range", log.range(0, u64::MAX).await)?), vec![6, 7, 8, 9, 10, 11])?;
    c.ok("trim below everything", log.trim(2).await)?;
    c.eq("nothing more trimmed", ids(c.ok("range", log.range(0, 6).await)?), vec![6])?;
    drop(log);

    let c = start("many records");
    let mut log = c.ok("open", open("many").await)?;
    let batch: Vec<(u64, Vec<u8>)> = (1..=5000u64).map(|i| (i, i.to_be_bytes().to_vec())).collect();
    let refs: Vec<(u64, &[u8])> = batch.iter().map(|(i, d)| (*i, d.as_slice())).collect();
    c.ok("batch of 5000", log.record_batch(&refs).await)?;
    drop(log);
    let log = c.ok("reopen", open("many").await)?;
    let got = c.ok("range", log.range(0, u64::MAX).await)?;
    c.eq("5000 records back in order", got == batch, true)?;

    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use futures::executor::block_on;

    use super::*;
    use crate::storage::MemoryLog;

    #[test]
    fn memory_logs_pass_the_async_kit_which_the_sync_kit_runs_too() {
        let mut store: HashMap<String, MemoryLog> = HashMap::new();
        let report = block_on(run_async(|name| {
            let log = store.entry(name.to_string()).or_default().clone();
            async move { Ok(Ready(log)) }
        }))
        .unwrap();
        let mut sync_store: HashMap<String, MemoryLog> = HashMap::new();
        let sync = run(|name| Ok(sync_store.entry(name.to_string()).or_default().clone())).unwrap();
        // The sync kit is this kit plus the one check only a callback-taking `range` needs.
        assert_eq!(report.checks[..], sync.checks[..report.checks.len()]);
        assert_eq!(sync.checks[report.checks.len()..], ["range stops at a callback error"]);
    }

    #[test]
    fn the_async_kit_catches_a_forgetful_log() {
        let r = block_on(run_async(|_| async { Ok(Ready(MemoryLog::new())) }));
        assert_eq!(r.unwrap_err().check, "empty and large values");
    }
}
