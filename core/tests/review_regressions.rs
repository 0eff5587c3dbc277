//! Regressions from the adversarial review of the safety fixes: each test reproduces, through
//! the public API, a problem that review found (each failed on the code it reviewed), and
//! now holds.

#![cfg(feature = "std-timer")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::executor::block_on;
use futures::FutureExt;
use synodos::async_log::{AsyncAcceptor, AsyncLog, Ready};
use synodos::{
    AcceptorCore, Attempt, CounterIdGenerator, LocalAcceptor, Log, MemoryLog, Progress, Promise, Proposal, Proposer,
    ProposerConfig, ReplicatedLog, Request, StdSleeper, LAST_SLOT,
};

fn config() -> ProposerConfig {
    ProposerConfig {
        call_timeout: Duration::from_millis(200),
        max_attempts: 4,
        backoff_min: Duration::from_micros(50),
        backoff_max: Duration::from_micros(500),
        seed: Some(3),
        ..ProposerConfig::default()
    }
}

fn cluster() -> Vec<LocalAcceptor> {
    (0..3).map(|_| LocalAcceptor::in_memory()).collect()
}

fn proposer(acceptors: &[LocalAcceptor], node: u16) -> Proposer<LocalAcceptor, StdSleeper> {
    Proposer::with_config(acceptors.to_vec(), Arc::new(CounterIdGenerator::new(node)), StdSleeper, config()).unwrap()
}

/// Two values chosen. `Lease` tokens are `Copy`, and every lease a decision hands back
/// carries the same ballot as the one it came from. The documented rule ("use each lease for
/// one value per slot") is kept below: `l1` is used once at slot 1 and once at slot 2,
/// `l2` once at slot 2. But they are one ballot, so slot 2 gets two values at that ballot,
/// the acceptors overwrite the first with the second, and `decide` reports both as chosen.
#[test]
fn two_leases_of_one_ballot_cannot_make_one_slot_choose_two_values() {
    let acceptors = cluster();
    let p = proposer(&acceptors, 1);
    let l1 = block_on(p.decide(0, b"a".to_vec(), None)).unwrap().lease.expect("phase 1 at slot 0 leases 1..");
    let l2 = block_on(p.decide(1, b"x".to_vec(), Some(l1))).unwrap().lease.expect("the leased decision leases 2..");
    assert_eq!(l1.ballot(), l2.ballot());
    let first = block_on(p.decide(2, b"y".to_vec(), Some(l2))).unwrap().value;
    let second = block_on(p.decide(2, b"w".to_vec(), Some(l1))).unwrap().value;
    assert_eq!(
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second),
        "slot 2 was reported chosen twice, with different values"
    );
}

/// Liveness (and holes in the log). `read` ends with `next_slot.fetch_max(next)`, where
/// `next` is `from` when nothing is chosen there. So a read at or past the end of the log
/// moves the handle's append position to `from`: `read(u64::MAX, 1)` makes every later
/// append fail with "the log is full"; `read(5, 0)` makes the next append land at slot 5
/// (leaving slots 1..5 to be filled with empty values by readers).
#[test]
fn a_read_past_the_end_does_not_move_the_append_position() {
    let acceptors = cluster();
    let log = ReplicatedLog::new(proposer(&acceptors, 1));
    assert_eq!(block_on(log.append(b"a".to_vec())).unwrap().slot, 0);
    assert!(block_on(log.read(u64::MAX, 1)).unwrap().is_empty(), "nothing is chosen there");
    let appended = block_on(log.append(b"b".to_vec())).map(|e| e.slot);
    assert_eq!(appended.ok(), Some(1), "the append after a read past the end should go to slot 1");
}

/// An async log whose `record` calls back into the acceptor
/// that owns it (here `promised()`; any call does the same).
type CallingBack = AsyncAcceptor<CallsBack, Ready<MemoryLog>>;

#[derive(Clone, Default)]
struct CallsBack {
    inner: Ready<MemoryLog>,
    acceptor: Rc<RefCell<Weak<CallingBack>>>,
}

impl AsyncLog for CallsBack {
    async fn record(&mut self, id: u64, data: &[u8]) -> synodos::Result<()> {
        let acceptor = self.acceptor.borrow().upgrade();
        if let Some(acceptor) = acceptor {
            let _ = acceptor.promised().await;
        }
        self.inner.record(id, data).await
    }
    async fn last(&self) -> synodos::Result<Option<(u64, Vec<u8>)>> {
        self.inner.last().await
    }
    async fn range(&self, start: u64, stop: u64) -> synodos::Result<Vec<(u64, Vec<u8>)>> {
        self.inner.range(start, stop).await
    }
    async fn trim(&mut self, before: u64) -> synodos::Result<()> {
        self.inner.trim(before).await
    }
}

/// Liveness. The step holds the acceptor's async mutex while its write runs, and the log's
/// call back into the acceptor waits for that mutex: the prepare never completes, though
/// every log call is ready at once. (`LocalAcceptor` refuses such a call with an error.)
#[test]
fn an_async_log_that_calls_back_into_its_acceptor_does_not_hang_it() {
    let log = CallsBack::default();
    let acceptor = Rc::new(block_on(AsyncAcceptor::open(log.clone(), Ready(MemoryLog::new()))).unwrap());
    *log.acceptor.borrow_mut() = Rc::downgrade(&acceptor);
    let request = Request { id: 1, attempt: 1, slot: 0 };
    let mut call = Box::pin(acceptor.prepare(&request));
    let waker = futures::task::noop_waker();
    let mut cx = Context::from_waker(&waker);
    let mut answer = None;
    for _ in 0..1000 {
        if let Poll::Ready(r) = call.poll_unpin(&mut cx) {
            answer = Some(r);
            break;
        }
    }
    assert!(answer.is_some(), "the prepare never completes (an error refusing the re-entrant call would do)");
}

/// Docs. `Attempt::lease_from` says it is `None` "when this is the last slot"; at
/// `LAST_SLOT` it returns `Some(u64::MAX)` (a lease over the reserved slot only). Harmless,
/// since `u64::MAX` is refused everywhere, but the doc is wrong (so is `Lease::beyond`'s).
#[test]
fn lease_from_at_the_last_slot_is_none() {
    let (mut attempt, request) = Attempt::new(1, LAST_SLOT, 1, 1, b"v".to_vec()).unwrap();
    let granted = Promise { id: request.id, slot: LAST_SLOT, frontier: Some(0), ..Default::default() };
    assert!(matches!(attempt.on_promise(0, &granted), Progress::Accept(_)));
    assert_eq!(attempt.lease_from(), None);
}

/// Docs (acceptor rule broken). `AcceptorCore::forget_below` says: append the marker, then
/// "records below that id may then be trimmed". A sans-IO user who does just that loses a
/// promise that only an accept record held (an accept raises the promise and writes no
/// promise record): after recovery the core grants a prepare below a ballot it accepted.
/// `Acceptor::trim` records the promise first; the sans-IO doc does not say to.
#[test]
fn forget_below_as_documented_keeps_the_promise_across_a_restart() {
    let (mut promises, mut accepts) = (MemoryLog::new(), MemoryLog::new());
    let mut core = AcceptorCore::new();
    core.prepare(&Request { id: 5, attempt: 1, slot: 0 }).unwrap().persist(&mut promises, &mut accepts).unwrap();
    // A leader's accept at ballot 9 (its phase 1 reached the other acceptors).
    core.accept(&Proposal::new(9, 0, b"x".to_vec())).unwrap().persist(&mut promises, &mut accepts).unwrap();
    assert_eq!(core.promised(), 9);
    let (marker_seq, marker, keep_from) = core.forget_below(1).unwrap();
    accepts.record(marker_seq, &marker).unwrap();
    accepts.trim(keep_from).unwrap();
    let mut recovered = AcceptorCore::recover(&promises, &accepts).unwrap();
    assert_eq!(recovered.promised(), 9, "the promise the accept at 9 made is gone after the restart");
    let reply = recovered.prepare(&Request { id: 7, attempt: 1, slot: 1 }).unwrap();
    assert!(!reply.persist(&mut promises, &mut accepts).unwrap().is_granted(), "ballot 7 granted after accepting 9");
}
