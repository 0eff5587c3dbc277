//! Test-only fault and bug injection for the nemesis harness (`nemesis/`), compiled only with
//! the `nemesis-bugs` feature, which no normal build enables. `synodos serve` reads two
//! environment variables at startup when it is built with the feature:
//!
//! - `SYNODOS_NEMESIS_DISK_FAIL_AFTER=N`: the acceptor's two logs fail (a storage error) after
//!   N successful writes between them, as a dying disk would. The acceptor then closes for
//!   good (500 `CLOSED`); nothing is acknowledged that was not written.
//! - `SYNODOS_NEMESIS_BUG=NAME`: a deliberate bug the nemesis must catch:
//!   - `quorum-one-short`: the leader's quorum is one short of a majority (the core's
//!     `Mutation::QuorumOneShort`);
//!   - `learner-one-short`: the node's learner counts a slot chosen one acceptor short of a
//!     majority (`Mutation::LearnerQuorumOneShort`);
//!   - `forget-promise`: after a restart the acceptor forgets the ballot it promised
//!     (`Mutation::RecoveryForgetsPromise`);
//!   - `lazy-fsync`: the acceptor's logs acknowledge writes before they are durable. Skipping
//!     `fdatasync` alone loses nothing on kill -9 (the page cache keeps the writes), so the
//!     un-synced writes are held in the process and written back once a second: a kill -9
//!     loses up to the last second of them, as a power failure loses un-synced writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use synodos::{Error, Log, Mutation, Result};

/// The bug named by `SYNODOS_NEMESIS_BUG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bug {
    /// `quorum-one-short`
    QuorumOneShort,
    /// `learner-one-short`
    LearnerOneShort,
    /// `forget-promise`
    ForgetPromise,
    /// `lazy-fsync`
    LazyFsync,
}

impl Bug {
    /// The bug named by `SYNODOS_NEMESIS_BUG`, if any (an unknown name is an error).
    pub fn from_env() -> std::result::Result<Option<Bug>, String> {
        let Ok(name) = std::env::var("SYNODOS_NEMESIS_BUG") else { return Ok(None) };
        match name.as_str() {
            "" | "none" => Ok(None),
            "quorum-one-short" => Ok(Some(Bug::QuorumOneShort)),
            "learner-one-short" => Ok(Some(Bug::LearnerOneShort)),
            "forget-promise" => Ok(Some(Bug::ForgetPromise)),
            "lazy-fsync" => Ok(Some(Bug::LazyFsync)),
            other => Err(format!(
                "SYNODOS_NEMESIS_BUG={other:?}: expected quorum-one-short, learner-one-short, forget-promise or lazy-fsync"
            )),
        }
    }

    /// The core mutation of the node's proposer and learner, if this bug is one.
    pub fn node_mutation(self) -> Option<Mutation> {
        match self {
            Bug::QuorumOneShort => Some(Mutation::QuorumOneShort),
            Bug::LearnerOneShort => Some(Mutation::LearnerQuorumOneShort),
            _ => None,
        }
    }

    /// The core mutation of the acceptor, if this bug is one.
    pub fn acceptor_mutation(self) -> Option<Mutation> {
        match self {
            Bug::ForgetPromise => Some(Mutation::RecoveryForgetsPromise),
            _ => None,
        }
    }
}

/// `SYNODOS_NEMESIS_DISK_FAIL_AFTER`, if set.
pub fn disk_fail_after() -> std::result::Result<Option<u64>, String> {
    match std::env::var("SYNODOS_NEMESIS_DISK_FAIL_AFTER") {
        Err(_) => Ok(None),
        Ok(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("SYNODOS_NEMESIS_DISK_FAIL_AFTER={v:?}: expected a number of writes")),
    }
}

/// A log that fails every write once a shared budget of writes is spent.
pub struct FailingLog<L> {
    inner: L,
    budget: Arc<AtomicU64>,
}

impl<L> FailingLog<L> {
    /// `inner`, failing once `budget` (shared with other logs) reaches zero.
    pub fn new(inner: L, budget: Arc<AtomicU64>) -> Self {
        FailingLog { inner, budget }
    }

    fn spend(&self) -> Result<()> {
        let ok = self.budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1)).is_ok();
        if ok {
            Ok(())
        } else {
            Err(Error::storage("nemesis: injected disk failure (SYNODOS_NEMESIS_DISK_FAIL_AFTER)"))
        }
    }
}

impl<L: Log> Log for FailingLog<L> {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        self.spend()?;
        self.inner.record(id, data)
    }
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        self.spend()?;
        self.inner.record_batch(records)
    }
    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        self.inner.last()
    }
    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        self.inner.range(start, stop, f)
    }
    fn trim(&mut self, before: u64) -> Result<()> {
        self.spend()?;
        self.inner.trim(before)
    }
}

/// A log that acknowledges writes before they are durable: they are held here and written
/// to `inner` (with its fsync) once a second, on the next write after that.
pub struct LazyLog<L> {
    inner: L,
    pending: Vec<(u64, Vec<u8>)>,
    flushed: Instant,
}

impl<L: Log> LazyLog<L> {
    /// `inner`, written back once a second.
    pub fn new(inner: L) -> Self {
        LazyLog { inner, pending: Vec::new(), flushed: Instant::now() }
    }

    fn maybe_flush(&mut self) -> Result<()> {
        if self.flushed.elapsed() >= Duration::from_secs(1) && !self.pending.is_empty() {
            let records: Vec<(u64, &[u8])> = self.pending.iter().map(|(id, d)| (*id, d.as_slice())).collect();
            self.inner.record_batch(&records)?;
            self.pending.clear();
            self.flushed = Instant::now();
        }
        Ok(())
    }
}

impl<L: Log> Log for LazyLog<L> {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        self.pending.push((id, data.to_vec()));
        self.maybe_flush()
    }
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        self.pending.extend(records.iter().map(|(id, d)| (*id, d.to_vec())));
        self.maybe_flush()
    }
    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        match self.pending.last() {
            Some((id, d)) => Ok(Some((*id, d.clone()))),
            None => self.inner.last(),
        }
    }
    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        self.inner.range(start, stop, f)?;
        for (id, d) in &self.pending {
            if *id >= start && *id <= stop {
                f(*id, d)?;
            }
        }
        Ok(())
    }
    fn trim(&mut self, before: u64) -> Result<()> {
        self.pending.retain(|(id, _)| *id >= before);
        self.inner.trim(before)
    }
}
