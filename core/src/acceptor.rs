//! The acceptor: a sans-IO state machine ([`AcceptorCore`]) and the same over two
//! [`Log`]s ([`Acceptor`]), which is what most users hold.
//!
//! One promise covers every slot (as in Multi-Paxos): a prepare for ballot `b` promises to
//! ignore lower ballots everywhere. That is safe, costs one record per promise instead of
//! one per slot, and lets a leader skip phase 1 on later slots.

use futures::channel::mpsc;

use crate::async_log::AsyncLog;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::message::{Ballot, Promise, Proposal, Request, Slot};
use crate::slots::SlotMap;
use crate::Mutation;

/// A record an acceptor must make durable before its reply may leave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// Record the promise of `ballot` in the promise log (id = the ballot, no data).
    Promise {
        /// The promised ballot.
        ballot: Ballot,
    },
    /// Record an accepted proposal in the accept log (id = `seq`).
    Accept {
        /// The accept log's record id: one more than the last one.
        seq: u64,
        /// The record: slot (u64 LE), ballot (u64 LE), then the value.
        record: Vec<u8>,
    },
}

/// Accept log record layout: slot (u64 LE), ballot (u64 LE), then the value.
const ACCEPT_HEADER: usize = 16;

/// Encode `p` into `out` (emptied first: a recycled buffer whose capacity is reused).
fn encode_accept(p: &Proposal, mut out: Vec<u8>) -> Vec<u8> {
    let mut header = [0u8; ACCEPT_HEADER];
    header[..8].copy_from_slice(&p.slot.to_le_bytes());
    header[8..].copy_from_slice(&p.id.to_le_bytes());
    out.clear();
    out.reserve_exact(ACCEPT_HEADER + p.value.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&p.value);
    out
}

/// A record with ballot 0 (never a real ballot) marks a trim point: slots below `slot`
/// were chosen and forgotten, so the acceptor must refuse to vote on them again.
fn encode_trim_marker(below: Slot) -> Vec<u8> {
    encode_accept(&Proposal::new(0, below, Vec::new()), Vec::new())
}

pub(crate) fn decode_accept(seq: u64, data: &[u8]) -> Result<Proposal> {
    let (slot, rest) = data.split_first_chunk::<8>().ok_or_else(|| short_record(seq, data))?;
    let (ballot, value) = rest.split_first_chunk::<8>().ok_or_else(|| short_record(seq, data))?;
    Ok(Proposal::new(u64::from_le_bytes(*ballot), u64::from_le_bytes(*slot), value))
}

fn short_record(seq: u64, data: &[u8]) -> Error {
    Error::storage(format!(
        "accept log record {seq} is {} bytes, shorter than its {ACCEPT_HEADER}-byte header",
        data.len()
    ))
}

/// A reply that may leave only after its [`Write`] is durable. The only ways to get the
/// reply out are [`Pending::persist`] and [`persist_all`], which write to the logs first:
/// the wrong order does not compile.
#[must_use = "the reply is only available after persisting"]
#[derive(Debug)]
pub struct Pending<R> {
    write: Option<Write>,
    reply: R,
}

impl<R> Pending<R> {
    /// What must be written (nothing for a rejection or a repeated promise).
    pub fn write(&self) -> Option<&Write> {
        self.write.as_ref()
    }

    /// Write the record to the right log, then hand out the reply.
    pub fn persist<P: Log + ?Sized, A: Log + ?Sized>(self, promise_log: &mut P, accept_log: &mut A) -> Result<R> {
        self.persist_keeping_buffer(promise_log, accept_log).map(|(reply, _)| reply)
    }

    /// [`persist`](Self::persist), also handing back the accept record's buffer (once it
    /// is written) so that the acceptor can reuse it.
    fn persist_keeping_buffer<P: Log + ?Sized, A: Log + ?Sized>(
        self,
        promise_log: &mut P,
        accept_log: &mut A,
    ) -> Result<(R, Option<Vec<u8>>)> {
        match self.write {
            None => Ok((self.reply, None)),
            Some(Write::Promise { ballot }) => {
                promise_log.record(ballot, &[])?;
                Ok((self.reply, None))
            }
            Some(Write::Accept { seq, record }) => {
                accept_log.record(seq, &record)?;
                Ok((self.reply, Some(record)))
            }
        }
    }
}

impl<R> Pending<R> {
    /// [`persist`](Self::persist) for logs whose writes complete later (an IndexedDB log in
    /// a browser, say): the reply comes out only once the write has completed.
    pub async fn persist_async<P: AsyncLog, A: AsyncLog>(self, promise_log: &mut P, accept_log: &mut A) -> Result<R> {
        match &self.write {
            None => {}
            Some(Write::Promise { ballot }) => promise_log.record(*ballot, &[]).await?,
            Some(Write::Accept { seq, record }) => accept_log.record(*seq, record).await?,
        }
        Ok(self.reply)
    }
}

/// Persist many pending replies with one durability barrier per log (group commit), then
/// hand out the replies in order.
pub fn persist_all<R, P: Log + ?Sized, A: Log + ?Sized>(
    pending: Vec<Pending<R>>,
    promise_log: &mut P,
    accept_log: &mut A,
) -> Result<Vec<R>> {
    // Only the highest promise matters; the accepts all go, in order.
    let promise = pending
        .iter()
        .filter_map(|p| match p.write {
            Some(Write::Promise { ballot }) => Some(ballot),
            _ => None,
        })
        .max();
    let accepts: Vec<(u64, &[u8])> = pending
        .iter()
        .filter_map(|p| match &p.write {
            Some(Write::Accept { seq, record }) => Some((*seq, record.as_slice())),
            _ => None,
        })
        .collect();
    if let Some(ballot) = promise {
        promise_log.record(ballot, &[])?;
    }
    if !accepts.is_empty() {
        accept_log.record_batch(&accepts)?;
    }
    Ok(pending.into_iter().map(|p| p.reply).collect())
}

/// What an acceptor holds for one slot. The value lives in [`AcceptorCore::values`].
#[derive(Debug, Clone)]
struct Accepted {
    ballot: Ballot,
    seq: u64,
    /// Where the value starts in [`AcceptorCore::values`], and its length.
    at: usize,
    len: usize,
}

/// Garbage bytes [`AcceptorCore::values`] may hold before it is compacted (and then only
/// once they are at least half of it, so compaction costs amortized O(1) per byte).
const VALUES_SLACK: usize = 4096;

/// The acceptor's rules, with no I/O. Feed it requests; persist what it returns; send the reply.
///
/// ```
/// use synodos::{AcceptorCore, MemoryLog, Proposal, Request};
/// let (mut promises, mut accepts) = (MemoryLog::new(), MemoryLog::new());
/// let mut core = AcceptorCore::new();
/// let promise = core.prepare(&Request { id: 5, attempt: 1, slot: 0 }).unwrap()
///     .persist(&mut promises, &mut accepts).unwrap();
/// assert!(promise.is_granted());
/// let low = core.prepare(&Request { id: 4, attempt: 1, slot: 0 }).unwrap();
/// assert!(low.write().is_none()); // a rejection writes nothing
/// assert_eq!(low.persist(&mut promises, &mut accepts).unwrap().promised, 5);
/// ```
#[derive(Debug, Clone, Default)]
pub struct AcceptorCore {
    promised: Ballot,
    accepted: SlotMap<Accepted>,
    /// The accepted values, back to back (no allocation per value). Replaced and forgotten
    /// values stay as garbage until compaction.
    values: Vec<u8>,
    /// Bytes of `values` no longer referenced.
    garbage: usize,
    /// The last accept record's buffer, handed back after it was persisted, for the next one.
    spare: Vec<u8>,
    /// One past the highest slot ever accepted here (survives trimming).
    frontier: Slot,
    /// Slots below this were trimmed: the acceptor no longer votes on them.
    trimmed_below: Slot,
    next_seq: u64,
    mutation: Option<Mutation>,
}

impl AcceptorCore {
    /// A fresh acceptor that has promised and accepted nothing.
    pub fn new() -> Self {
        AcceptorCore { next_seq: 1, ..Default::default() }
    }

    /// Rebuild an acceptor from its logs, as after a restart.
    pub fn recover<P: Log + ?Sized, A: Log + ?Sized>(promise_log: &P, accept_log: &A) -> Result<Self> {
        Self::recover_mutated(promise_log, accept_log, None)
    }

    #[doc(hidden)]
    /// Test-only: [`recover`](Self::recover) with a protocol bug injected.
    pub fn recover_mutated<P: Log + ?Sized, A: Log + ?Sized>(
        promise_log: &P,
        accept_log: &A,
        mutation: Option<Mutation>,
    ) -> Result<Self> {
        let mut core = AcceptorCore { mutation, ..AcceptorCore::new() };
        if let Some((ballot, _)) = promise_log.last()? {
            core.promised = ballot;
        }
        let mut highest_accepted = 0;
        accept_log.range(0, u64::MAX, &mut |seq, data| {
            let p = decode_accept(seq, data)?;
            core.next_seq = seq.saturating_add(1);
            if p.id == 0 {
                core.trimmed_below = core.trimmed_below.max(p.slot);
                core.frontier = core.frontier.max(p.slot);
                return Ok(());
            }
            highest_accepted = highest_accepted.max(p.id);
            core.frontier = core.frontier.max(p.slot.saturating_add(1));
            let keep = core.accepted.get(p.slot).is_none_or(|old| old.ballot <= p.id);
            if keep {
                core.store(p.slot, p.id, seq, &p.value);
            }
            Ok(())
        })?;
        if let Some((seq, _)) = accept_log.last()? {
            core.next_seq = seq.saturating_add(1);
        }
        // Accepting ballot b promised b too; the accept log may hold the newest promise.
        core.promised = core.promised.max(highest_accepted);
        core.forget_values_below(core.trimmed_below);
        if core.mutation == Some(Mutation::RecoveryForgetsPromise) {
            core.promised = 0;
        }
        Ok(core)
    }

    #[doc(hidden)]
    /// Test-only: inject a protocol bug, to prove the simulator catches it.
    pub fn set_mutation(&mut self, mutation: Option<Mutation>) {
        self.mutation = mutation;
    }

    /// The highest ballot promised.
    pub fn promised(&self) -> Ballot {
        self.promised
    }

    /// The proposal accepted for `slot`, if any.
    pub fn accepted(&self, slot: Slot) -> Option<Proposal> {
        self.accepted.get(slot).map(|a| Proposal::new(a.ballot, slot, self.value(a)))
    }

    fn value(&self, a: &Accepted) -> &[u8] {
        self.values.get(a.at..a.at + a.len).unwrap_or_default()
    }

    /// Record `value` as accepted at `slot`, replacing what was there.
    fn store(&mut self, slot: Slot, ballot: Ballot, seq: u64, value: &[u8]) {
        let at = self.values.len();
        self.values.extend_from_slice(value);
        if let Some(old) = self.accepted.insert(slot, Accepted { ballot, seq, at, len: value.len() }) {
            self.garbage += old.len;
            self.compact_values();
        }
    }

    fn forget_values_below(&mut self, slot: Slot) {
        let mut freed = 0;
        self.accepted.remove_below(slot, |a| freed += a.len);
        self.garbage += freed;
        self.compact_values();
    }

    /// Drop the garbage from `values` once there is enough of it.
    fn compact_values(&mut self) {
        if self.accepted.is_empty() {
            self.values.clear();
            self.garbage = 0;
            return;
        }
        if self.garbage <= VALUES_SLACK || self.garbage < self.values.len() / 2 {
            return;
        }
        let mut live = Vec::with_capacity(self.values.len() - self.garbage);
        for a in self.accepted.values_mut() {
            let at = live.len();
            live.extend_from_slice(self.values.get(a.at..a.at + a.len).unwrap_or_default());
            a.at = at;
        }
        self.values = live;
        self.garbage = 0;
    }

    /// Hand back the record buffer of an accept that was persisted, for the next accept
    /// record to reuse (an [`Acceptor`] does this; callers of the sans-IO core need not).
    fn recycle(&mut self, mut record: Vec<u8>) {
        /// Larger buffers are freed rather than kept.
        const MAX_SPARE: usize = 64 * 1024;
        if record.capacity() <= MAX_SPARE && record.capacity() > self.spare.capacity() {
            record.clear();
            self.spare = record;
        }
    }

    /// One past the highest slot this acceptor has ever accepted anything at.
    pub fn frontier(&self) -> Slot {
        self.frontier
    }

    /// Slots below this were trimmed; requests for them are refused.
    pub fn trimmed_below(&self) -> Slot {
        self.trimmed_below
    }

    fn check_not_trimmed(&self, slot: Slot) -> Result<()> {
        if slot < self.trimmed_below {
            return Err(Error::Trimmed { slot, first: self.trimmed_below });
        }
        Ok(())
    }

    /// Every accepted proposal with `slot >= from`, in slot order. When `from` is below the
    /// trim point, a trim marker comes first: a proposal with ballot 0 at the first slot
    /// kept, so that a reader learns where the log starts.
    pub fn accepted_from(&self, from: Slot) -> impl Iterator<Item = Proposal> + '_ {
        let marker = (from < self.trimmed_below).then(|| Proposal::new(0, self.trimmed_below, Vec::new()));
        marker
            .into_iter()
            .chain(self.accepted.iter_from(from).map(|(slot, a)| Proposal::new(a.ballot, slot, self.value(a))))
    }

    /// Phase 1b. Grants only ballots strictly above the current promise, so each ballot is
    /// granted at most once by each acceptor. Two proposers (or two lifetimes of one
    /// proposer, after a restart with a fresh generator) that draw the same ballot can then
    /// never both pass phase 1 with it: their majorities would share an acceptor, which
    /// granted it only once. A repeated prepare (a retransmission) is refused too; the
    /// proposer leaps past its own ballot and tries again, which costs a round, not safety.
    ///
    /// A prepare for a trimmed slot is refused with [`Promise::trimmed`] set.
    pub fn prepare(&mut self, req: &Request) -> Result<Pending<Promise>> {
        if req.id == 0 {
            return Err(Error::InvalidMessage("prepare with ballot 0 (ballots start at 1)".into()));
        }
        self.check_slot(req.slot)?;
        if req.slot < self.trimmed_below {
            let reply = Promise { id: req.id, slot: req.slot, trimmed: self.trimmed_below, ..Default::default() };
            return Ok(Pending { write: None, reply });
        }
        let frontier = Some(self.frontier);
        let mut accepted = self.accepted(req.slot);
        if self.mutation == Some(Mutation::AncestorAttemptGate) && req.attempt <= 1 {
            accepted = None;
        }
        let grant = match self.mutation {
            Some(Mutation::PrepareGrantsEqualBallot) => req.id >= self.promised,
            _ => req.id > self.promised,
        };
        if !grant {
            let reply = Promise { id: req.id, slot: req.slot, accepted, promised: self.promised, frontier, trimmed: 0 };
            return Ok(Pending { write: None, reply });
        }
        let write = (req.id > self.promised).then_some(Write::Promise { ballot: req.id });
        self.promised = req.id;
        Ok(Pending {
            write,
            reply: Promise { id: req.id, slot: req.slot, accepted, promised: 0, frontier, trimmed: 0 },
        })
    }

    /// Refuse the reserved slot `u64::MAX` (unless a test injected the bug of not doing so).
    fn check_slot(&self, slot: Slot) -> Result<()> {
        if self.mutation.is_some_and(Mutation::uses_last_slot) {
            return Ok(());
        }
        crate::message::check_slot(slot)
    }

    fn next_seq(&mut self) -> Result<u64> {
        let seq = self.next_seq;
        self.next_seq = seq.checked_add(1).ok_or_else(|| Error::storage("accept log ids are used up"))?;
        Ok(seq)
    }

    /// Phase 2b. Accepts at or above the current promise, and raises the promise to it.
    pub fn accept(&mut self, proposal: &Proposal) -> Result<Pending<Proposal>> {
        if proposal.id == 0 {
            return Err(Error::InvalidMessage("accept with ballot 0 (ballots start at 1)".into()));
        }
        self.check_slot(proposal.slot)?;
        self.check_not_trimmed(proposal.slot)?;
        let ignores_promise = self.mutation == Some(Mutation::AcceptIgnoresPromise);
        if proposal.id < self.promised && !ignores_promise {
            let reply = Proposal { id: proposal.id, slot: proposal.slot, value: Vec::new(), promised: self.promised };
            return Ok(Pending { write: None, reply });
        }
        let seq = self.next_seq()?;
        if self.mutation != Some(Mutation::AcceptDoesNotRaisePromise) {
            self.promised = self.promised.max(proposal.id);
        }
        self.frontier = self.frontier.max(proposal.slot.saturating_add(1));
        self.store(proposal.slot, proposal.id, seq, &proposal.value);
        let write = Write::Accept { seq, record: encode_accept(proposal, std::mem::take(&mut self.spare)) };
        Ok(Pending { write: Some(write), reply: Proposal::new(proposal.id, proposal.slot, Vec::new()) })
    }

    /// Forget accepted proposals below `slot` (they are chosen and applied elsewhere).
    /// Returns the trim-marker record to append to the accept log (so a restart still
    /// refuses those slots) and the lowest accept-log id still needed after it: records
    /// below that id may then be trimmed. `None` when `slot` is not above the last trim.
    pub fn forget_below(&mut self, slot: Slot) -> Option<(u64, Vec<u8>, u64)> {
        if slot <= self.trimmed_below {
            return None;
        }
        let marker_seq = self.next_seq().ok()?;
        self.trimmed_below = slot;
        self.frontier = self.frontier.max(slot);
        self.forget_values_below(slot);
        let keep_from = self.accepted.values().map(|a| a.seq).min().unwrap_or(marker_seq).min(marker_seq);
        Some((marker_seq, encode_trim_marker(slot), keep_from))
    }
}

/// How many live accepts an [`Acceptor::observe`] stream may hold unread before it is cut off.
pub const OBSERVE_QUEUE: usize = 1024;

/// An acceptor over a promise log and an accept log (the ancestor's
/// `NewAcceptor(promiseLog, acceptLog)`). Every reply leaves only after its record is
/// durable; a storage failure closes the acceptor for good, so nothing un-durable is
/// ever acknowledged.
///
/// ```
/// use synodos::{Acceptor, MemoryLog, Proposal, Request};
/// let (promises, accepts) = (MemoryLog::new(), MemoryLog::new());
/// let mut acceptor = Acceptor::new(promises.clone(), accepts.clone()).unwrap();
/// acceptor.prepare(&Request { id: 9, attempt: 1, slot: 0 }).unwrap();
/// acceptor.accept(&Proposal::new(9, 0, b"x".to_vec())).unwrap();
/// drop(acceptor);
/// // A restart rebuilds the same state from the logs.
/// let mut again = Acceptor::new(promises, accepts).unwrap();
/// let promise = again.prepare(&Request { id: 10, attempt: 1, slot: 0 }).unwrap();
/// assert_eq!(promise.accepted, Some(Proposal::new(9, 0, b"x".to_vec())));
/// ```
#[derive(Debug)]
pub struct Acceptor<P: Log = crate::MemoryLog, A: Log = crate::MemoryLog> {
    core: AcceptorCore,
    promise_log: P,
    accept_log: A,
    failed: Option<String>,
    observers: Vec<(Slot, mpsc::Sender<Proposal>)>,
}

impl Acceptor {
    /// An acceptor over two new, empty [`MemoryLog`](crate::MemoryLog)s.
    pub fn in_memory() -> Self {
        Acceptor {
            core: AcceptorCore::new(),
            promise_log: crate::MemoryLog::new(),
            accept_log: crate::MemoryLog::new(),
            failed: None,
            observers: Vec::new(),
        }
    }
}

impl<P: Log, A: Log> Acceptor<P, A> {
    /// Build an acceptor over two logs, recovering whatever they hold.
    pub fn new(promise_log: P, accept_log: A) -> Result<Self> {
        Self::new_mutated(promise_log, accept_log, None)
    }

    #[doc(hidden)]
    /// Test-only: [`new`](Self::new) with a protocol bug injected (recovery included).
    pub fn new_mutated(promise_log: P, accept_log: A, mutation: Option<Mutation>) -> Result<Self> {
        let mut core = AcceptorCore::recover_mutated(&promise_log, &accept_log, mutation)?;
        core.set_mutation(mutation);
        Ok(Acceptor { core, promise_log, accept_log, failed: None, observers: Vec::new() })
    }

    fn check_open(&self) -> Result<()> {
        match &self.failed {
            Some(why) => Err(Error::Closed(format!("acceptor stopped after a storage failure: {why}"))),
            None => Ok(()),
        }
    }

    fn poison_on_error<T>(&mut self, r: Result<T>) -> Result<T> {
        r.map_err(|e| self.poison(e))
    }

    /// Close the acceptor after a failed log call: we cannot know what is durable now.
    #[cold]
    fn poison(&mut self, e: Error) -> Error {
        self.failed = Some(e.to_string());
        e
    }

    /// Phase 1b: answer a prepare, after recording the promise durably.
    pub fn prepare(&mut self, req: &Request) -> Result<Promise> {
        self.check_open()?;
        let pending = self.core.prepare(req)?;
        match pending.persist(&mut self.promise_log, &mut self.accept_log) {
            Ok(reply) => Ok(reply),
            Err(e) => Err(self.poison(e)),
        }
    }

    /// Phase 2b: answer an accept, after recording it durably; observers then see it.
    pub fn accept(&mut self, proposal: &Proposal) -> Result<Proposal> {
        self.check_open()?;
        let pending = self.core.accept(proposal)?;
        match pending.persist_keeping_buffer(&mut self.promise_log, &mut self.accept_log) {
            Ok((reply, None)) => Ok(reply),
            Ok((reply, Some(record))) => {
                self.core.recycle(record);
                self.notify(proposal);
                Ok(reply)
            }
            Err(e) => Err(self.poison(e)),
        }
    }

    fn notify(&mut self, proposal: &Proposal) {
        if self.observers.is_empty() {
            return;
        }
        let mut sent = proposal.clone();
        sent.promised = 0;
        // A closed receiver means the observer went away, a full one that it fell behind:
        // drop it either way (its stream ends; it reconnects from its last slot). A slow
        // observer never slows the acceptor or grows its memory.
        self.observers.retain_mut(|(from, tx)| sent.slot < *from || tx.try_send(sent.clone()).is_ok());
    }

    /// Every proposal accepted for slots `>= request.slot` (the highest ballot per slot).
    pub fn accepted_from(&self, request: &Request) -> Result<Vec<Proposal>> {
        self.check_open()?;
        Ok(self.core.accepted_from(request.slot).collect())
    }

    /// The ancestor's `Observe`: a stream of every proposal accepted for slots `>= from`,
    /// first what is already accepted (after a trim marker, a proposal with ballot 0, if
    /// `from` was trimmed), then each new accept as it becomes durable.
    ///
    /// The stream ends when the acceptor is dropped, or when its reader falls more than
    /// [`OBSERVE_QUEUE`] accepts behind: then it is cut off rather than buffered without
    /// bound, and should observe again from the slot after the last one it got.
    pub fn observe(&mut self, from: Slot) -> Result<mpsc::Receiver<Proposal>> {
        self.check_open()?;
        let backlog: Vec<Proposal> = self.core.accepted_from(from).collect();
        let (mut tx, rx) = mpsc::channel(backlog.len() + OBSERVE_QUEUE);
        for p in backlog {
            // Cannot fail: the channel has room for the backlog and we hold the receiver.
            let _ = tx.try_send(p);
        }
        self.observers.push((from, tx));
        Ok(rx)
    }

    /// Forget accepted proposals below `slot` and trim the accept log accordingly. The
    /// current promise is recorded first, so trimming never lowers it after a restart.
    pub fn trim(&mut self, slot: Slot) -> Result<()> {
        self.check_open()?;
        let promised = self.core.promised();
        let r = (|| {
            if promised > 0 && self.promise_log.last()?.map(|(b, _)| b) < Some(promised) {
                self.promise_log.record(promised, &[])?;
            }
            if let Some((marker_seq, marker, keep_from)) = self.core.forget_below(slot) {
                self.accept_log.record(marker_seq, &marker)?;
                self.accept_log.trim(keep_from)?;
            }
            self.promise_log.trim(promised)
        })();
        self.poison_on_error(r)
    }

    /// The sans-IO state inside.
    pub fn core(&self) -> &AcceptorCore {
        &self.core
    }

    #[doc(hidden)]
    pub fn set_mutation(&mut self, mutation: Option<Mutation>) {
        self.core.set_mutation(mutation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryLog;

    fn req(id: Ballot, slot: Slot) -> Request {
        Request { id, attempt: 1, slot }
    }

    fn acceptor() -> Acceptor {
        Acceptor::new(MemoryLog::new(), MemoryLog::new()).unwrap()
    }

    #[test]
    fn prepare_below_the_promise_is_rejected_with_the_promise() {
        let mut a = acceptor();
        assert!(a.prepare(&req(10, 0)).unwrap().is_granted());
        let reply = a.prepare(&req(9, 0)).unwrap();
        assert!(!reply.is_granted());
        assert_eq!(reply.promised, 10);
        assert_eq!(reply.id, 9);
    }

    #[test]
    fn accept_below_the_promise_is_rejected_and_not_recorded() {
        let (p, acc) = (MemoryLog::new(), MemoryLog::new());
        let mut a = Acceptor::new(p, acc.clone()).unwrap();
        a.prepare(&req(10, 0)).unwrap();
        let reply = a.accept(&Proposal::new(9, 0, b"v".to_vec())).unwrap();
        assert!(!reply.is_accepted());
        assert_eq!(reply.promised, 10);
        assert!(acc.is_empty());
        assert_eq!(a.core().accepted(0), None);
    }

    #[test]
    fn a_promise_always_carries_the_accepted_value_even_on_a_first_attempt() {
        let mut a = acceptor();
        a.prepare(&req(5, 3)).unwrap();
        a.accept(&Proposal::new(5, 3, b"chosen".to_vec())).unwrap();
        let promise = a.prepare(&Request { id: 6, attempt: 1, slot: 3 }).unwrap();
        assert_eq!(promise.accepted, Some(Proposal::new(5, 3, b"chosen".to_vec())));
        // A rejected prepare still reports it.
        let rejected = a.prepare(&Request { id: 2, attempt: 1, slot: 3 }).unwrap();
        assert_eq!(rejected.accepted, Some(Proposal::new(5, 3, b"chosen".to_vec())));
        // Other slots are separate.
        assert_eq!(a.prepare(&req(7, 4)).unwrap().accepted, None);
    }

    #[test]
    fn accept_raises_the_promise() {
        let mut a = acceptor();
        a.accept(&Proposal::new(20, 0, b"x".to_vec())).unwrap();
        assert_eq!(a.prepare(&req(15, 0)).unwrap().promised, 20);
    }

    #[test]
    fn a_repeated_prepare_at_the_same_ballot_is_refused_without_a_write() {
        let (p, acc) = (MemoryLog::new(), MemoryLog::new());
        let mut core = AcceptorCore::new();
        let first = core.prepare(&req(3, 0)).unwrap();
        assert!(first.write().is_some());
        let (mut p2, mut a2) = (p.clone(), acc.clone());
        first.persist(&mut p2, &mut a2).unwrap();
        // Granting it again would let a proposer that restarted and drew ballot 3 again
        // win phase 1 a second time with it, and put a second value at ballot 3.
        let again = core.prepare(&req(3, 0)).unwrap();
        assert!(again.write().is_none());
        let reply = again.persist(&mut p2, &mut a2).unwrap();
        assert!(!reply.is_granted());
        assert_eq!(reply.promised, 3);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn a_restarted_proposer_that_draws_its_old_ballot_cannot_choose_a_second_value() {
        // Hole 1 of the safety review, with three acceptors: ballot B promised by all, its
        // accept of "old" reaches one, the proposer restarts and draws B again.
        let mut acceptors: Vec<Acceptor> = (0..3).map(|_| acceptor()).collect();
        let b = 1 << 16 | 1;
        for a in &mut acceptors {
            assert!(a.prepare(&req(b, 0)).unwrap().is_granted());
        }
        assert!(acceptors[0].accept(&Proposal::new(b, 0, b"old".to_vec())).unwrap().is_accepted());
        for a in &mut acceptors[1..] {
            let again = a.prepare(&req(b, 0)).unwrap();
            assert!(!again.is_granted(), "a second grant of B would let \"new\" be accepted at B too");
            assert_eq!(again.promised, b);
        }
    }

    #[test]
    fn the_reserved_last_slot_is_refused_and_the_frontier_never_saturates() {
        let mut a = acceptor();
        assert!(matches!(a.prepare(&req(1, u64::MAX)), Err(Error::InvalidArgument(_))));
        assert!(matches!(a.accept(&Proposal::new(1, u64::MAX, b"x".to_vec())), Err(Error::InvalidArgument(_))));
        assert!(a.accept(&Proposal::new(1, crate::LAST_SLOT, b"x".to_vec())).unwrap().is_accepted());
        assert_eq!(a.core().frontier(), u64::MAX, "one past the last slot, not a saturated value");
        let promise = a.prepare(&req(2, crate::LAST_SLOT - 1)).unwrap();
        assert_eq!(promise.frontier, Some(u64::MAX), "a proposer at LAST_SLOT - 1 must see the accept beyond it");
    }

    #[test]
    fn ballot_zero_is_an_invalid_message() {
        let mut a = acceptor();
        assert!(matches!(a.prepare(&req(0, 0)), Err(Error::InvalidMessage(_))));
        assert!(matches!(a.accept(&Proposal::new(0, 0, vec![])), Err(Error::InvalidMessage(_))));
        // and the acceptor still works
        assert!(a.prepare(&req(1, 0)).unwrap().is_granted());
    }

    #[test]
    fn recovery_restores_promise_and_highest_accepted_per_slot() {
        let (p, acc) = (MemoryLog::new(), MemoryLog::new());
        {
            let mut a = Acceptor::new(p.clone(), acc.clone()).unwrap();
            a.prepare(&req(4, 1)).unwrap();
            a.accept(&Proposal::new(4, 1, b"old".to_vec())).unwrap();
            a.accept(&Proposal::new(8, 1, b"new".to_vec())).unwrap();
            a.accept(&Proposal::new(8, 2, b"two".to_vec())).unwrap();
        }
        let mut a = Acceptor::new(p, acc).unwrap();
        assert_eq!(a.core().promised(), 8, "accepting 8 promised 8, even with no promise record");
        assert_eq!(a.core().accepted(1), Some(Proposal::new(8, 1, b"new".to_vec())));
        assert_eq!(a.prepare(&req(7, 1)).unwrap().promised, 8);
        // new accepts continue the accept log's ids
        a.accept(&Proposal::new(9, 3, b"three".to_vec())).unwrap();
    }

    #[test]
    fn a_storage_failure_closes_the_acceptor() {
        struct Broken;
        impl Log for Broken {
            fn record(&mut self, _: u64, _: &[u8]) -> Result<()> {
                Err(Error::storage("disk on fire"))
            }
            fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
                Ok(None)
            }
            fn range(&self, _: u64, _: u64, _: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
                Ok(())
            }
            fn trim(&mut self, _: u64) -> Result<()> {
                Ok(())
            }
        }
        let mut a = Acceptor::new(Broken, MemoryLog::new()).unwrap();
        assert!(matches!(a.prepare(&req(1, 0)), Err(Error::Storage { .. })));
        // Even a request that would need no write is refused now.
        assert!(matches!(a.prepare(&req(1, 0)), Err(Error::Closed(_))));
        assert!(matches!(a.accept(&Proposal::new(5, 0, vec![1])), Err(Error::Closed(_))));
    }

    #[test]
    fn observe_streams_existing_then_live_accepts() {
        use futures::StreamExt;
        let mut a = acceptor();
        a.accept(&Proposal::new(1, 0, b"a".to_vec())).unwrap();
        a.accept(&Proposal::new(1, 5, b"b".to_vec())).unwrap();
        let mut rx = a.observe(1).unwrap();
        a.accept(&Proposal::new(2, 0, b"ignored: below from".to_vec())).unwrap();
        a.accept(&Proposal::new(2, 6, b"c".to_vec())).unwrap();
        a.accept(&Proposal::new(1, 7, b"rejected".to_vec())).unwrap();
        drop(a);
        let got: Vec<Proposal> = futures::executor::block_on(rx.by_ref().collect());
        assert_eq!(got, vec![Proposal::new(1, 5, b"b".to_vec()), Proposal::new(2, 6, b"c".to_vec())]);
    }

    #[test]
    fn an_observer_that_falls_behind_is_cut_off_not_buffered() {
        use futures::StreamExt;
        let mut a = acceptor();
        let rx = a.observe(0).unwrap();
        for slot in 0..(OBSERVE_QUEUE as u64 + 10) {
            a.accept(&Proposal::new(1, slot, vec![1])).unwrap();
        }
        assert!(a.observers.is_empty(), "the stalled observer was dropped");
        let got: Vec<Proposal> = futures::executor::block_on(rx.collect());
        assert!(got.len() <= OBSERVE_QUEUE + 1, "{} buffered", got.len());
        assert_eq!(got[0].slot, 0, "what it got is a prefix: it reconnects from the slot after the last");
    }

    #[test]
    fn trim_drops_old_slots_but_keeps_the_promise_across_restart() {
        let (p, acc) = (MemoryLog::new(), MemoryLog::new());
        {
            let mut a = Acceptor::new(p.clone(), acc.clone()).unwrap();
            for slot in 0..10 {
                a.accept(&Proposal::new(3, slot, vec![slot as u8])).unwrap();
            }
            a.accept(&Proposal::new(30, 2, b"re".to_vec())).unwrap(); // slot 2 again, later seq
            a.trim(5).unwrap();
            assert_eq!(a.core().accepted(2), None);
            assert_eq!(a.core().accepted(5), Some(Proposal::new(3, 5, vec![5])));
        }
        assert_eq!(acc.len(), 7, "slots 5..10, the re-accept of 2 (newer than them), the trim marker");
        let mut a = Acceptor::new(p, acc).unwrap();
        assert_eq!(a.core().promised(), 30);
        assert_eq!(a.core().accepted(2), None, "a trimmed slot stays trimmed after restart");
        assert_eq!(a.core().trimmed_below(), 5);
        // A proposer that is behind cannot make a trimmed (chosen) slot choose again.
        let refused = a.prepare(&req(40, 3)).unwrap();
        assert!(!refused.is_granted());
        assert_eq!(refused.trimmed, 5, "the refusal says where the log starts");
        assert!(matches!(a.accept(&Proposal::new(40, 3, b"x".to_vec())), Err(Error::Trimmed { slot: 3, first: 5 })));
        assert_eq!(a.core().accepted_from(0).next(), Some(Proposal::new(0, 5, vec![])), "a reader sees the trim point");
        assert_eq!(a.core().accepted_from(5).next(), Some(Proposal::new(3, 5, vec![5])));
        assert!(a.prepare(&req(40, 5)).unwrap().is_granted());
        assert_eq!(a.core().frontier(), 10);
    }

    #[test]
    fn values_survive_replacement_compaction_trim_and_recovery() {
        let (p, acc) = (MemoryLog::new(), MemoryLog::new());
        let mut a = Acceptor::new(p.clone(), acc.clone()).unwrap();
        let value =
            |ballot: u64, slot: u64| vec![(ballot * 31 + slot) as u8; (slot as usize * 37 + ballot as usize) % 700];
        for ballot in 1..=20u64 {
            let first = if ballot > 10 { 5 } else { 0 };
            for slot in (first..50u64).rev().chain(200..210) {
                assert!(a.accept(&Proposal::new(ballot, slot, value(ballot, slot))).unwrap().is_accepted());
            }
            if ballot == 10 {
                a.trim(5).unwrap();
            }
        }
        let check = |a: &Acceptor| {
            for slot in (5..50u64).chain(200..210) {
                assert_eq!(a.core().accepted(slot), Some(Proposal::new(20, slot, value(20, slot))), "slot {slot}");
            }
            assert!(
                a.core().values.len() - a.core().garbage <= (5..50).chain(200..210).map(|s| value(20, s).len()).sum()
            );
        };
        check(&a);
        assert!(a.core().values.len() < 2 * 55 * 700 + VALUES_SLACK, "compacted: {} bytes", a.core().values.len());
        drop(a);
        let mut a = Acceptor::new(p, acc).unwrap();
        check(&a);
        a.trim(300).unwrap();
        assert_eq!(
            a.core().accepted_from(0).collect::<Vec<_>>(),
            [Proposal::new(0, 300, vec![])],
            "only the trim marker"
        );
        assert!(a.core().values.is_empty());
    }

    #[test]
    fn persist_all_writes_one_batch_and_keeps_reply_order() {
        let (mut p, mut acc) = (MemoryLog::new(), MemoryLog::new());
        let mut core = AcceptorCore::new();
        let pendings = vec![
            core.accept(&Proposal::new(2, 0, b"a".to_vec())).unwrap(),
            core.accept(&Proposal::new(2, 1, b"b".to_vec())).unwrap(),
            core.accept(&Proposal::new(1, 2, b"low".to_vec())).unwrap(),
        ];
        let replies = persist_all(pendings, &mut p, &mut acc).unwrap();
        assert_eq!(replies.iter().map(|r| r.is_accepted()).collect::<Vec<_>>(), [true, true, false]);
        assert_eq!(acc.len(), 2);
    }
}
