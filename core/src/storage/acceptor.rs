//! [`Acceptor`]: the acceptor's rules over a promise log and an accept log, answering only
//! once each record is durable, with `observe` streams for readers.

use futures::channel::mpsc;

use super::log::Log;
use super::persist::persist_writes;
use crate::protocol::acceptor::{AcceptorCore, Write};
use crate::protocol::error::{Error, Result};
use crate::protocol::message::{Batch, Promise, Proposal, Request, Slot};
use crate::protocol::mutation::Mutation;

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
pub struct Acceptor<P: Log = super::memory::MemoryLog, A: Log = super::memory::MemoryLog> {
    pub(super) core: AcceptorCore,
    pub(super) promise_log: P,
    pub(super) accept_log: A,
    failed: Option<String>,
    observers: Vec<(Slot, mpsc::Sender<Proposal>)>,
}

impl Acceptor {
    /// An acceptor over two new, empty [`MemoryLog`](super::memory::MemoryLog)s.
    pub fn in_memory() -> Self {
        Acceptor {
            core: AcceptorCore::new(),
            promise_log: super::memory::MemoryLog::new(),
            accept_log: super::memory::MemoryLog::new(),
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

    pub(super) fn check_open(&self) -> Result<()> {
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
    pub(super) fn poison(&mut self, e: Error) -> Error {
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

    /// Phase 2b for a whole [`Batch`]: every entry accepted, durably, with one write per
    /// log (one fsync), or none (a refusal names the promise; an invalid entry is an error
    /// that changes nothing). Observers then see each entry.
    pub fn accept_batch(&mut self, batch: &Batch) -> Result<Proposal> {
        self.check_open()?;
        let (writes, reply) = self.core.accept_batch(batch)?;
        if writes.is_empty() {
            return Ok(reply);
        }
        let refs: Vec<&Write> = writes.iter().collect();
        if self.core.mutation() != Some(Mutation::BatchAckedBeforeFsync) {
            if let Err(e) = persist_writes(&refs, &mut self.promise_log, &mut self.accept_log) {
                return Err(self.poison(e));
            }
        }
        for p in batch.proposals() {
            self.notify(&p);
        }
        Ok(reply)
    }

    pub(super) fn notify(&mut self, proposal: &Proposal) {
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

    /// Whether a storage failure closed this acceptor (it then refuses every call).
    pub fn is_closed(&self) -> bool {
        self.failed.is_some()
    }

    /// What closed it: the storage failure, as reported by the log.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
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
    use crate::protocol::acceptor::VALUES_SLACK;
    use crate::protocol::message::Ballot;
    use crate::storage::{persist_all, MemoryLog};

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
        assert!(a.accept(&Proposal::new(1, crate::protocol::message::LAST_SLOT, b"x".to_vec())).unwrap().is_accepted());
        assert_eq!(a.core().frontier(), u64::MAX, "one past the last slot, not a saturated value");
        let promise = a.prepare(&req(2, crate::protocol::message::LAST_SLOT - 1)).unwrap();
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
