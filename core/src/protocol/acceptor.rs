//! The acceptor's rules as a sans-IO state machine ([`AcceptorCore`]): requests in,
//! [`Pending`] replies out, each opened only by persisting its [`Write`] (the storage layer
//! does that: [`crate::storage`]).
//!
//! One promise covers every slot (as in Multi-Paxos): a prepare for ballot `b` promises to
//! ignore lower ballots everywhere. That is safe, costs one record per promise instead of
//! one per slot, and lets a leader skip phase 1 on later slots.

use super::error::{Error, Result};
use super::message::{Ballot, Batch, Promise, Proposal, Request, Slot};
use super::mutation::Mutation;
use super::slots::SlotMap;

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
///
/// Its value is the acceptor's promise at the time (u64 LE): an accept raises the promise
/// without a promise record, so once the accept records below the marker are trimmed the
/// marker is what keeps that promise across a restart. (Markers of the first release have
/// an empty value.)
fn encode_trim_marker(below: Slot, promised: Ballot) -> Vec<u8> {
    encode_accept(&Proposal::new(0, below, promised.to_le_bytes().to_vec()), Vec::new())
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
/// reply out are [`Pending::persist`] and [`persist_all`](crate::persist_all), which write to the logs first:
/// the wrong order does not compile.
#[must_use = "the reply is only available after persisting"]
#[derive(Debug)]
pub struct Pending<R> {
    pub(crate) write: Option<Write>,
    pub(crate) reply: R,
}

impl<R> Pending<R> {
    /// What must be written (nothing for a rejection or a repeated promise).
    pub fn write(&self) -> Option<&Write> {
        self.write.as_ref()
    }
}

/// An [`AcceptorCore`] being rebuilt from its accept log's records.
#[derive(Debug)]
pub struct Rebuild {
    core: AcceptorCore,
    highest_accepted: Ballot,
}

impl Rebuild {
    /// Take accept log record `seq` (records in id order).
    pub fn record(&mut self, seq: u64, data: &[u8]) -> Result<()> {
        let p = decode_accept(seq, data)?;
        let core = &mut self.core;
        core.next_seq = seq.saturating_add(1);
        if p.id == 0 {
            core.trimmed_below = core.trimmed_below.max(p.slot);
            core.frontier = core.frontier.max(p.slot);
            if let Ok(promised) = <[u8; 8]>::try_from(p.value.as_slice()) {
                core.promised = core.promised.max(u64::from_le_bytes(promised));
            }
            return Ok(());
        }
        self.highest_accepted = self.highest_accepted.max(p.id);
        core.frontier = core.frontier.max(p.slot.saturating_add(1));
        let keep = core.accepted.get(p.slot).is_none_or(|old| old.ballot <= p.id);
        if keep {
            core.store(p.slot, p.id, seq, &p.value);
        }
        Ok(())
    }

    /// The rebuilt acceptor; `last_seq` is the accept log's last record id, if any.
    pub fn finish(self, last_seq: Option<u64>) -> AcceptorCore {
        let Rebuild { mut core, highest_accepted } = self;
        if let Some(seq) = last_seq {
            core.next_seq = seq.saturating_add(1);
        }
        // Accepting ballot b promised b too; the accept log may hold the newest promise.
        core.promised = core.promised.max(highest_accepted);
        core.forget_values_below(core.trimmed_below);
        if core.mutation == Some(Mutation::RecoveryForgetsPromise) {
            core.promised = 0;
        }
        core
    }
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
pub(crate) const VALUES_SLACK: usize = 4096;

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
    pub(crate) values: Vec<u8>,
    /// Bytes of `values` no longer referenced.
    pub(crate) garbage: usize,
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

    /// Rebuild an acceptor from the records of its logs, as after a restart: `promised` is
    /// the promise log's last ballot, then feed every accept log record to the returned
    /// [`Rebuild`] in id order. (The storage layer reads the logs:
    /// [`AcceptorCore::recover`].)
    pub fn rebuild(promised: Option<Ballot>, mutation: Option<Mutation>) -> Rebuild {
        let mut core = AcceptorCore { mutation, ..AcceptorCore::new() };
        core.promised = promised.unwrap_or(0);
        Rebuild { core, highest_accepted: 0 }
    }

    #[doc(hidden)]
    /// Test-only: inject a protocol bug, to prove the simulator catches it.
    pub fn set_mutation(&mut self, mutation: Option<Mutation>) {
        self.mutation = mutation;
    }

    #[doc(hidden)]
    /// Test-only: the injected bug, if any.
    pub fn mutation(&self) -> Option<Mutation> {
        self.mutation
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
    pub(crate) fn recycle(&mut self, mut record: Vec<u8>) {
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
        super::message::check_slot(slot)
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
        if let Some(held) = self.accepted.get(proposal.slot) {
            if held.ballot == proposal.id && self.value(held) != proposal.value.as_slice() {
                // Correct proposers put one value per ballot at a slot; taking the second
                // would overwrite what may be chosen. Refuse it, change nothing.
                return Err(Error::ProtocolViolation(format!(
                    "a second, different value at ballot {} for slot {}: the acceptor keeps the first",
                    proposal.id, proposal.slot
                )));
            }
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

    /// Phase 2b for a whole [`Batch`]: all entries accepted or none. Refused (no writes)
    /// when the ballot is below the promise; an error, with nothing changed, when an entry
    /// is invalid (a trimmed or reserved slot, a second value at this ballot for a slot, a
    /// slot twice). Otherwise one [`Write::Accept`] per entry, to persist together.
    pub fn accept_batch(&mut self, batch: &Batch) -> Result<(Vec<Write>, Proposal)> {
        if batch.id == 0 {
            return Err(Error::InvalidMessage("accept batch with ballot 0 (ballots start at 1)".into()));
        }
        let mut previous = None;
        for e in &batch.entries {
            self.check_slot(e.slot)?;
            self.check_not_trimmed(e.slot)?;
            if previous.is_some_and(|p| p >= e.slot) {
                return Err(Error::InvalidMessage(format!(
                    "accept batch entries must be in slot order, each slot once: slot {} after {}",
                    e.slot,
                    previous.unwrap_or_default()
                )));
            }
            previous = Some(e.slot);
            if let Some(held) = self.accepted.get(e.slot) {
                if held.ballot == batch.id && self.value(held) != e.value.as_slice() {
                    return Err(Error::ProtocolViolation(format!(
                        "a second, different value at ballot {} for slot {}: the acceptor keeps the first",
                        batch.id, e.slot
                    )));
                }
            }
        }
        if batch.id < self.promised && self.mutation != Some(Mutation::AcceptIgnoresPromise) {
            return Ok((Vec::new(), batch.answer(self.promised)));
        }
        if self.next_seq.checked_add(batch.entries.len() as u64).is_none() {
            return Err(Error::storage("accept log ids are used up"));
        }
        let mut writes = Vec::with_capacity(batch.entries.len());
        for p in batch.proposals() {
            // Checked above: every entry is accepted.
            let Pending { write, .. } = self.accept(&p)?;
            writes.extend(write);
        }
        Ok((writes, batch.answer(0)))
    }

    /// Forget accepted proposals below `slot` (they are chosen and applied elsewhere).
    /// Returns the trim-marker record to append to the accept log (so a restart still
    /// refuses those slots, and keeps the current promise) and the lowest accept-log id still
    /// needed after it: once the marker is durable, records below that id may be trimmed.
    /// `None` when `slot` is not above the last trim.
    pub fn forget_below(&mut self, slot: Slot) -> Option<(u64, Vec<u8>, u64)> {
        if slot <= self.trimmed_below {
            return None;
        }
        let marker_seq = self.next_seq().ok()?;
        self.trimmed_below = slot;
        self.frontier = self.frontier.max(slot);
        self.forget_values_below(slot);
        let keep_from = self.accepted.values().map(|a| a.seq).min().unwrap_or(marker_seq).min(marker_seq);
        Some((marker_seq, encode_trim_marker(slot, self.promised), keep_from))
    }
}
