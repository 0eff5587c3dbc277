//! [`ReplicatedLog`]: an ordered log of chosen values, one Paxos instance per slot, with a
//! leader lease, reads that fill holes, and a start learned from trimmed acceptors.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::ops::ControlFlow;
use std::task::{Poll, Waker};

use futures::channel::oneshot;
use futures::FutureExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::client::AcceptorClient;
use super::fan_out::fan_out;
use super::proposer::{Lead, Proposer};
use super::timer::Sleeper;
use crate::protocol::attempt::{majority, Lease};
use crate::protocol::error::{AcceptorFailure, Error, Failures, Result};
use crate::protocol::learner::Learner;
use crate::protocol::message::{Ballot, Batch, BatchEntry, Entry, Request, Slot, LAST_SLOT};
use crate::protocol::mutation::Mutation;

/// What [`ReplicatedLog::tally`] learned: the slots a majority chose (with their values),
/// for the others the highest-ballot proposal any acceptor reported and how many reported,
/// and the highest trim point reported (slots below it are gone from at least one acceptor).
struct Tally {
    chosen: BTreeMap<Slot, Vec<u8>>,
    reported: BTreeMap<Slot, (Ballot, Vec<u8>)>,
    /// How many acceptors reported something at each slot.
    reporting: BTreeMap<Slot, usize>,
    first: Slot,
}

/// A replicated log: an ordered sequence of chosen values, one Paxos instance per slot.
///
/// ```
/// use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, ReplicatedLog, StdSleeper};
/// # futures::executor::block_on(async {
/// let acceptors: Vec<_> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
/// let writer = ReplicatedLog::new(Proposer::new(acceptors.clone(), CounterIdGenerator::new(1), StdSleeper).unwrap());
/// assert_eq!(writer.append(b"first".to_vec()).await.unwrap().slot, 0);
/// assert_eq!(writer.append(b"second".to_vec()).await.unwrap().slot, 1);
/// // Another node's handle appends after what is already there.
/// let other = ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(2), StdSleeper).unwrap());
/// assert_eq!(other.append(b"third".to_vec()).await.unwrap().slot, 2);
/// let entries = other.read(0, 10).await.unwrap();
/// let values: Vec<&[u8]> = entries.iter().map(|e| e.value.as_slice()).collect();
/// assert_eq!(values, [&b"first"[..], b"second", b"third"]);
/// # });
/// ```
#[derive(Debug)]
pub struct ReplicatedLog<C, S> {
    proposer: Proposer<C, S>,
    next_slot: AtomicU64,
    /// Multi-Paxos leader lease: appends at or past its first slot skip phase 1. Dropped at
    /// the first failure.
    lease: Mutex<Option<Lease>>,
    /// Concurrent appends waiting to go out together, and the batches in flight.
    batcher: Mutex<Batcher>,
    /// Held by the flight that runs phase 1 to take the lead: one at a time per handle, so
    /// the flights of one handle never duel each other with fresh ballots.
    leading: futures::lock::Mutex<()>,
}

/// Appends waiting for a batch, and the pipeline of batches in flight.
#[derive(Debug, Default)]
struct Batcher {
    queue: VecDeque<Queued>,
    in_flight: usize,
    /// Appends waiting for their answer or for room in the pipeline (woken as a flight ends).
    turns: Vec<Waker>,
}

/// An append in the queue: its value and where its answer goes.
#[derive(Debug)]
struct Queued {
    value: Vec<u8>,
    reply: oneshot::Sender<Result<Entry>>,
}

/// One batch (or lone append) in flight; ending it, however its future ends, makes room in
/// the pipeline and wakes the appends waiting for a turn.
struct Flight<'a>(&'a Mutex<Batcher>);

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let turns = match self.0.lock() {
            Ok(mut b) => {
                b.in_flight = b.in_flight.saturating_sub(1);
                std::mem::take(&mut b.turns)
            }
            Err(_) => Vec::new(),
        };
        for w in turns {
            w.wake();
        }
    }
}

/// What an append waiting in the queue learns when it is woken.
enum Turn {
    /// Its answer (or that the append carrying it was dropped).
    Answered(std::result::Result<Result<Entry>, oneshot::Canceled>),
    /// Room in the pipeline: it may take a batch out itself.
    Fly,
}

/// The error of an append past the last slot.
fn log_full(slot: Slot) -> Error {
    Error::InvalidArgument(format!("the log is full: slot {slot} is past the last slot, {LAST_SLOT}"))
}

impl<C: AcceptorClient, S: Sleeper> ReplicatedLog<C, S> {
    /// A log handle that appends through `proposer`, starting at slot 0. A handle learns
    /// where the log really starts from the acceptors: slots they trimmed are skipped, and
    /// slots other writers took are learned and skipped.
    pub fn new(proposer: Proposer<C, S>) -> Self {
        Self::starting_at(proposer, 0)
    }

    /// A log handle whose first append tries `slot` (for a node that already applied the
    /// log up to there).
    pub fn starting_at(proposer: Proposer<C, S>, slot: Slot) -> Self {
        ReplicatedLog {
            proposer,
            next_slot: AtomicU64::new(slot),
            lease: Mutex::new(None),
            batcher: Mutex::new(Batcher::default()),
            leading: futures::lock::Mutex::new(()),
        }
    }

    /// The proposer inside.
    pub fn proposer(&self) -> &Proposer<C, S> {
        &self.proposer
    }

    #[doc(hidden)]
    /// Test-only: inject a protocol bug, to prove the simulator catches it.
    pub fn set_mutation(&mut self, mutation: Option<Mutation>) {
        self.proposer.set_mutation(mutation);
    }

    /// The lowest slot this handle has not yet seen chosen.
    pub fn next_slot(&self) -> Slot {
        self.next_slot.load(Ordering::SeqCst)
    }

    /// Append `value` at the first free slot. Slots already taken by other writers are
    /// learned and skipped, and so are slots the acceptors trimmed. Returns the entry
    /// holding `value`. Past the last slot ([`LAST_SLOT`]) appends fail with
    /// [`Error::InvalidArgument`].
    ///
    /// Values are compared by bytes: if two writers append identical bytes, each may
    /// find "its" value at the same slot. Put a unique id in values that must not merge.
    ///
    /// While this handle leads (its last phase 1 found nothing accepted beyond its slot, and
    /// no one has promised a higher ballot since), appends skip phase 1: one round trip.
    /// Appends made at the same time on one handle (from many threads or tasks) go out
    /// together: up to [`ProposerConfig::max_batch`](crate::ProposerConfig::max_batch) of
    /// them in one batched accept ([`Batch`]: one write and one fsync per acceptor), with up
    /// to [`ProposerConfig::pipeline`](crate::ProposerConfig::pipeline) batches in flight.
    /// Share one handle between the writers of a process to get that.
    ///
    /// An append whose batch was being sent by another append that got dropped (cancelled)
    /// is sent again: if the dropped one had got it chosen, the value is then in the log
    /// twice. So is an append whose accepts were chosen but whose answers were lost (timed
    /// out), when its slot is trimmed before it asks again: a trimmed slot no longer tells
    /// whose value it held, and the append goes on at a later slot. (Answers that are only
    /// slow are waited for: a trimmed slot ends a phase only once its ballot cannot win.)
    pub async fn append(&self, value: impl Into<Vec<u8>>) -> Result<Entry> {
        let value = value.into();
        // Nothing queued, nothing in flight: this append goes alone (no queue, no copy).
        if self.fly_alone() {
            let _flight = Flight(&self.batcher);
            return self.append_one(value).await;
        }
        let (tx, mut rx) = oneshot::channel();
        self.enqueue(Queued { value: value.clone(), reply: tx });
        loop {
            if let Some(batch) = self.take_batch() {
                let _flight = Flight(&self.batcher);
                self.flush(batch).await;
                continue;
            }
            match self.turn(&mut rx).await {
                Turn::Answered(Ok(answer)) => return answer,
                // The append that took ours out was dropped before it answered: send it again.
                Turn::Answered(Err(oneshot::Canceled)) => {
                    let (tx, again) = oneshot::channel();
                    rx = again;
                    self.enqueue(Queued { value: value.clone(), reply: tx });
                }
                Turn::Fly => {}
            }
        }
    }

    fn batcher(&self) -> Option<std::sync::MutexGuard<'_, Batcher>> {
        // No user code runs under this lock: a poisoned one is still consistent.
        Some(self.batcher.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Take the pipeline for a lone append, if nothing else is queued or in flight.
    fn fly_alone(&self) -> bool {
        let Some(mut b) = self.batcher() else { return false };
        if b.queue.is_empty() && b.in_flight == 0 {
            b.in_flight = 1;
            return true;
        }
        false
    }

    fn enqueue(&self, queued: Queued) {
        if let Some(mut b) = self.batcher() {
            b.queue.push_back(queued);
        }
    }

    /// The appends of the next batch, if there is room in the pipeline for one.
    fn take_batch(&self) -> Option<Vec<Queued>> {
        let mut b = self.batcher()?;
        let pipeline = self.proposer.config.pipeline.max(1);
        if b.queue.is_empty() || b.in_flight >= pipeline {
            return None;
        }
        b.in_flight += 1;
        let n = b.queue.len().min(self.proposer.config.max_batch.max(1));
        Some(b.queue.drain(..n).collect())
    }

    /// Wait for this append's answer, or for room in the pipeline.
    fn turn<'a>(&'a self, rx: &'a mut oneshot::Receiver<Result<Entry>>) -> impl Future<Output = Turn> + 'a {
        futures::future::poll_fn(move |cx| {
            if let Poll::Ready(answer) = rx.poll_unpin(cx) {
                return Poll::Ready(Turn::Answered(answer));
            }
            let Some(mut b) = self.batcher() else { return Poll::Ready(Turn::Fly) };
            if !b.queue.is_empty() && b.in_flight < self.proposer.config.pipeline.max(1) {
                return Poll::Ready(Turn::Fly);
            }
            // One waker per task: appends polled together (one task) register once.
            if !b.turns.iter().any(|w| w.will_wake(cx.waker())) {
                b.turns.push(cx.waker().clone());
            }
            Poll::Pending
        })
    }

    /// Send one batch of appends and answer each of them.
    async fn flush(&self, mut batch: Vec<Queued>) {
        while !batch.is_empty() {
            let lease = self.lease.lock().map(|guard| *guard).unwrap_or(None);
            if let (Some(lease), true) = (lease, batch.len() > 1) {
                match self.reserve_slots(batch.len(), &lease) {
                    Ok(Some(first)) => return self.send_batch(first, lease, batch).await,
                    Ok(None) => {}
                    Err(e) => {
                        for q in batch {
                            let _ = q.reply.send(Err(e.clone()));
                        }
                        return;
                    }
                }
            }
            // No lease (or one append): the first goes alone, and takes the lead with its
            // phase 1 (one flight at a time does); the rest follow under that lease.
            let q = batch.remove(0);
            let answer = self.append_one(q.value).await;
            let _ = q.reply.send(answer);
        }
    }

    /// `n` consecutive slots under `lease`: the first one, or `None` when the lease does
    /// not cover them (then the appends go one by one).
    fn reserve_slots(&self, n: usize, lease: &Lease) -> Result<Option<Slot>> {
        let n = n as u64;
        let first = self
            .next_slot
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                let end = s.checked_add(n)?;
                (end <= LAST_SLOT.saturating_add(1) && lease.covers(s)).then_some(end)
            })
            .map_err(|s| if lease.covers(s) { log_full(s) } else { Error::Closed(String::new()) });
        match first {
            Ok(first) => Ok(Some(first)),
            Err(Error::Closed(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Phase 2 of `batch` at slots from `first` under `lease`; on a lost lease each append
    /// is decided again at its own slot (a majority may hold it there already), so that no
    /// value lands twice.
    async fn send_batch(&self, first: Slot, lease: Lease, batch: Vec<Queued>) {
        let entries = batch
            .iter()
            .enumerate()
            .map(|(i, q)| BatchEntry { slot: first + i as u64, value: q.value.clone() })
            .collect();
        let b = Batch { id: lease.ballot(), entries };
        let last = first + (batch.len() as u64 - 1);
        match self.proposer.accept_batch(&b, &lease).await {
            Ok(true) => {
                self.next_slot.fetch_max(last.saturating_add(1), Ordering::SeqCst);
                for (e, q) in b.entries.into_iter().zip(batch) {
                    let _ = q.reply.send(Ok(Entry { slot: e.slot, value: e.value }));
                }
            }
            Ok(false) | Err(_) => {
                self.clear_lease(&lease);
                for (e, q) in b.entries.into_iter().zip(batch) {
                    let answer = self.append_at(e.slot, q.value).await;
                    let _ = q.reply.send(answer);
                }
            }
        }
    }

    /// Decide `slot` with `value` (phase 1 adopts what a majority may hold there); append it
    /// afresh if another value is chosen there.
    async fn append_at(&self, slot: Slot, value: Vec<u8>) -> Result<Entry> {
        match self.proposer.decide_in(slot, value.clone(), None, Some(self.lead(true))).await {
            Ok(decision) => {
                self.set_lease(decision.lease);
                self.next_slot.fetch_max(slot.saturating_add(1), Ordering::SeqCst);
                if decision.value == value {
                    return Ok(Entry { slot, value });
                }
                self.append_one(value).await
            }
            Err(Error::Trimmed { .. }) => self.append_one(value).await,
            Err(e) => Err(e),
        }
    }

    /// What the decisions of this handle share: its lease, and its lock for phase 1.
    fn lead(&self, reserved: bool) -> Lead<'_> {
        Lead { lease: &self.lease, leading: &self.leading, reserved, held: None }
    }

    /// Drop `lease` if it is still the one held (a newer one stays).
    fn clear_lease(&self, lease: &Lease) {
        if let Ok(mut guard) = self.lease.lock() {
            if guard.is_some_and(|l| l.ballot() <= lease.ballot()) {
                *guard = None;
            }
        }
    }

    /// One append on its own: at the first free slot, phase 1 unless a lease covers it.
    async fn append_one(&self, value: Vec<u8>) -> Result<Entry> {
        loop {
            let (mut slot, mut lease, mut reserved) = self.reserve_slot()?;
            let mut lead = self.lead(reserved);
            if !reserved {
                // No lease: take the lead lock first, and look again under it. Another
                // append of this handle may have taken the lead meanwhile; then go on under
                // its lease (no phase 1 against our own ballot). Otherwise this append's
                // phase 1 runs under the lock it holds now. (Checking with `try_lock` and
                // locking later let appends that started together each run a phase 1 of
                // their own, at one slot, each taking the lead from the one before.)
                let guard = self.leading.lock().await;
                (slot, lease, reserved) = self.reserve_slot()?;
                lead = self.lead(reserved);
                if !reserved {
                    lead.held = Some(guard);
                }
            }
            let decision = match self.proposer.decide_in(slot, value.clone(), lease, Some(lead)).await {
                Ok(decision) => decision,
                Err(Error::Trimmed { first, .. }) if first > slot => {
                    // The log starts later than this handle knew: go on from there.
                    self.set_lease(None);
                    self.next_slot.fetch_max(first, Ordering::SeqCst);
                    continue;
                }
                Err(e) => {
                    self.set_lease(None);
                    return Err(e);
                }
            };
            self.set_lease(decision.lease);
            let after = match self.proposer.mutation {
                Some(Mutation::SlotWraps) => slot.wrapping_add(1),
                _ => slot.saturating_add(1),
            };
            self.next_slot.fetch_max(after, Ordering::SeqCst);
            if decision.value == value {
                return Ok(Entry { slot, value: decision.value });
            }
            // Another writer's slot: go on past everything the acceptors already hold (slots
            // below their frontier are taken, or holes a reader will fill), not slot by slot.
            if let Some(frontier) = decision.frontier.filter(|f| *f <= LAST_SLOT.saturating_add(1)) {
                self.next_slot.fetch_max(frontier, Ordering::SeqCst);
            }
        }
    }

    /// The slot to try next, if this handle holds a lease covering it the lease, and whether
    /// the slot is reserved (this append's alone: always under a lease). Under
    /// a lease each append takes a slot of its own (one ballot must never carry two values
    /// at one slot); without one, concurrent appends race for a slot.
    fn reserve_slot(&self) -> Result<(Slot, Option<Lease>, bool)> {
        let lease = self.lease.lock().map(|guard| *guard).unwrap_or(None);
        let mutation = self.proposer.mutation;
        let last = if mutation.is_some_and(Mutation::uses_last_slot) { u64::MAX } else { LAST_SLOT };
        match lease {
            Some(lease) => {
                let slot = if mutation == Some(Mutation::SlotWraps) {
                    self.next_slot.fetch_add(1, Ordering::SeqCst)
                } else {
                    // Not below the lease: the slots under its start are taken (its phase 1
                    // decided the one before it), though `next_slot` may not show it yet
                    // (the lease is stored before the append that got it moves on). A slot
                    // below it would run a phase 1 of its own and take the lead back.
                    let from = lease.from();
                    self.next_slot
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| {
                            let s = s.max(from);
                            (s <= last).then(|| s.saturating_add(1))
                        })
                        .map(|s| s.max(from))
                        .map_err(|s| log_full(s.max(from)))?
                };
                Ok((slot, lease.covers(slot).then_some(lease), true))
            }
            None => {
                let slot = self.next_slot.load(Ordering::SeqCst);
                if slot > last {
                    return Err(log_full(slot));
                }
                Ok((slot, None, false))
            }
        }
    }

    /// Take the lease a decision returned. A lease at a lower ballot than the one held (a
    /// slower append finishing late) does not replace it.
    fn set_lease(&self, lease: Option<Lease>) {
        if let Ok(mut guard) = self.lease.lock() {
            *guard = match (lease, *guard) {
                (Some(new), Some(old)) if new.ballot() < old.ballot() => Some(old),
                _ => lease,
            };
        }
    }

    /// Blocking [`append`](Self::append).
    pub fn append_blocking(&self, value: impl Into<Vec<u8>>) -> Result<Entry> {
        futures::executor::block_on(self.append(value))
    }

    /// The chosen entries from slot `from` on, in slot order, up to `max` of them, stopping
    /// at the first slot not known to be chosen. Asks every acceptor (`observe`) and counts
    /// a value chosen when a majority report the same ballot for its slot.
    ///
    /// A slot that is not chosen while a later one is (a hole: its proposer died, or its
    /// accepts are split over ballots), or that a majority hold values at under different
    /// ballots with none a majority's, is decided on the spot by running Paxos on it, with
    /// the highest accepted value reported there (or an empty value) as the proposal, so a
    /// reader never waits for a writer that is gone. Paxos keeps whatever was already chosen.
    ///
    /// Fails with [`Error::Trimmed`], naming the first slot still held, when `from` was
    /// trimmed and its value is gone.
    pub async fn read(&self, from: Slot, max: usize) -> Result<Vec<Entry>> {
        /// Holes decided per call, so one read stays bounded.
        const MAX_REPAIRS: usize = 16;
        let mut entries = Vec::new();
        let mut next = from;
        let mut repairs = 0;
        while entries.len() < max && next <= LAST_SLOT {
            let Tally { mut chosen, mut reported, reporting, first } = self.tally(next).await?;
            while entries.len() < max && next <= LAST_SLOT {
                let Some(value) = chosen.remove(&next) else { break };
                entries.push(Entry { slot: next, value });
                next = next.saturating_add(1);
            }
            if first > next {
                // `next` was trimmed somewhere and a majority no longer tells its value.
                if entries.is_empty() {
                    return Err(Error::Trimmed { slot: next, first });
                }
                break;
            }
            // A hole: `next` is not chosen while a later slot is. Or a split: a majority
            // hold a value at `next`, under different ballots, and none a majority's worth
            // (an append that was retried, at the end of the log): it may well be chosen,
            // but no one can tell until Paxos runs on it once more.
            let hole = chosen.keys().next().is_some_and(|&later| later > next);
            let split = reporting.get(&next).is_some_and(|&n| n >= majority(self.proposer.clients().len()));
            let hole = hole || split;
            if entries.len() >= max || !hole || repairs == MAX_REPAIRS || next > LAST_SLOT {
                break;
            }
            let filler = reported.remove(&next).map(|(_, value)| value).unwrap_or_default();
            let value = match self.proposer.propose_at(next, filler).await {
                Ok(value) => value,
                Err(Error::Trimmed { .. }) if !entries.is_empty() => break,
                Err(e) => return Err(e),
            };
            entries.push(Entry { slot: next, value });
            next = next.saturating_add(1);
            repairs += 1;
        }
        // Only what was read moves the append position (a read past the end, or of nothing,
        // must not move it there).
        if let Some(last) = entries.last() {
            self.next_slot.fetch_max(last.slot.saturating_add(1), Ordering::SeqCst);
        }
        Ok(entries)
    }

    /// Ask every acceptor what it accepted from `from` on.
    async fn tally(&self, from: Slot) -> Result<Tally> {
        let clients = self.proposer.clients();
        let n = clients.len();
        let request = Request { id: 0, attempt: 0, slot: from };
        let mut learner = Learner::starting_at(n, from);
        if self.proposer.mutation == Some(Mutation::LearnerQuorumOneShort) {
            learner.set_quorum(majority(n) - 1);
        }
        let mut tally =
            Tally { chosen: BTreeMap::new(), reported: BTreeMap::new(), reporting: BTreeMap::new(), first: 0 };
        let mut failures = Vec::new();
        let mut violation = None;
        let calls = clients.iter().map(|c| c.observe(&request));
        let config = &self.proposer.config;
        let sleeper = &self.proposer.sleeper;
        fan_out(
            calls,
            || sleeper.sleep(config.call_timeout),
            config.call_timeout,
            |i, result| {
                match result {
                    Ok(proposals) => {
                        for p in &proposals {
                            if p.id == 0 {
                                // A trim marker: this acceptor forgot the slots below.
                                tally.first = tally.first.max(p.slot);
                                continue;
                            }
                            if p.slot < from {
                                continue;
                            }
                            match learner.on_accepted(i, p) {
                                Ok(Some(entry)) => {
                                    tally.chosen.insert(entry.slot, entry.value);
                                }
                                Ok(None) => {}
                                Err(e) => {
                                    violation = Some(e);
                                    return ControlFlow::Break(());
                                }
                            }
                            *tally.reporting.entry(p.slot).or_insert(0) += 1;
                            if tally.reported.get(&p.slot).is_none_or(|(ballot, _)| p.id > *ballot) {
                                tally.reported.insert(p.slot, (p.id, p.value.clone()));
                            }
                        }
                    }
                    Err(error) => failures.push(AcceptorFailure { acceptor: i, error }),
                }
                ControlFlow::Continue(())
            },
        )
        .await;
        if let Some(e) = violation {
            return Err(e);
        }
        if n - failures.len() < majority(n) {
            return Err(Error::NoQuorum {
                needed: majority(n),
                acceptors: n,
                attempts: 1,
                failures: Failures(failures),
            });
        }
        Ok(tally)
    }

    /// Every chosen entry from slot `from` on, in slot order, then each new one as it is
    /// chosen (asking the acceptors every `poll_interval` while there is nothing new). The
    /// stream ends only after an error, which it yields.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, ReplicatedLog, StdSleeper};
    /// # futures::executor::block_on(async {
    /// let acceptors: Vec<_> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    /// let log = ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(1), StdSleeper).unwrap());
    /// for v in ["a", "b", "c"] {
    ///     log.append(v.as_bytes().to_vec()).await.unwrap();
    /// }
    /// let from_b: Vec<_> = log.entries(1).take(2).map(|e| e.unwrap().value).collect().await;
    /// assert_eq!(from_b, [b"b".to_vec(), b"c".to_vec()]);
    /// # });
    /// ```
    pub fn entries(&self, from: Slot) -> impl futures::Stream<Item = Result<Entry>> + '_ {
        let state = (from, std::collections::VecDeque::<Entry>::new(), false);
        futures::stream::unfold(state, move |(next, mut buffered, failed)| async move {
            if failed {
                return None;
            }
            loop {
                if let Some(entry) = buffered.pop_front() {
                    let after = entry.slot.saturating_add(1);
                    return Some((Ok(entry), (after, buffered, false)));
                }
                match self.wait(next, 256, Duration::from_secs(3600)).await {
                    Ok(entries) => buffered.extend(entries),
                    Err(e) => return Some((Err(e), (next, buffered, true))),
                }
            }
        })
    }

    /// [`read`](Self::read), but when nothing is chosen at `from` yet, ask again every
    /// `poll_interval` until something is or `timeout` passes (then an empty list).
    pub async fn wait(&self, from: Slot, max: usize, timeout: Duration) -> Result<Vec<Entry>> {
        let interval = self.proposer.config.poll_interval.max(Duration::from_micros(100));
        let mut waited = Duration::ZERO;
        loop {
            let entries = self.read(from, max).await?;
            if !entries.is_empty() || waited >= timeout {
                return Ok(entries);
            }
            // Never past the timeout: a long poll interval does not stretch a short wait.
            let pause = interval.min(timeout - waited).max(Duration::from_micros(100));
            self.proposer.sleeper.sleep(pause).await;
            waited = waited.saturating_add(pause);
        }
    }
}
