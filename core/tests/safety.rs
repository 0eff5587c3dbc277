//! Regression tests for the six holes of the safety review, each through the public API a
//! user calls. Each scenario runs twice: on the code as it is, where it must hold, and with
//! the hole put back (the matching `Mutation`), where it must break. So every test here is
//! shown to fail on the code that had the hole.

#![cfg(feature = "std-timer")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::Duration;

use futures::executor::block_on;
use futures::FutureExt;
use synodos::async_log::{AsyncAcceptor, AsyncLog, Ready};
use synodos::{
    AcceptorClient, CounterIdGenerator, Error, LocalAcceptor, MemoryLog, Mutation, Promise, Proposal, Proposer,
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

/// A client over a local acceptor that can be cut off, and can hide `frontier` from its
/// promises the way a transport written for the ancestor's messages would.
#[derive(Clone)]
struct Link {
    acceptor: LocalAcceptor,
    up: bool,
    strip_frontier: bool,
}

impl AcceptorClient for Link {
    async fn prepare(&self, request: &Request) -> synodos::Result<Promise> {
        if !self.up {
            return Err(Error::transport("link down"));
        }
        let mut promise = self.acceptor.prepare(request).await?;
        if self.strip_frontier {
            promise.frontier = None;
        }
        Ok(promise)
    }
    async fn accept(&self, proposal: &Proposal) -> synodos::Result<Proposal> {
        if !self.up {
            return Err(Error::transport("link down"));
        }
        self.acceptor.accept(proposal).await
    }
    async fn observe(&self, request: &Request) -> synodos::Result<Vec<Proposal>> {
        if !self.up {
            return Err(Error::transport("link down"));
        }
        self.acceptor.observe(request).await
    }
}

fn cluster(mutation: Option<Mutation>) -> Vec<LocalAcceptor> {
    (0..3)
        .map(|_| {
            let a = LocalAcceptor::in_memory();
            a.with(|a| {
                a.set_mutation(mutation);
                Ok(())
            })
            .unwrap();
            a
        })
        .collect()
}

fn links(acceptors: &[LocalAcceptor], up: [bool; 3]) -> Vec<Link> {
    acceptors.iter().zip(up).map(|(a, up)| Link { acceptor: a.clone(), up, strip_frontier: false }).collect()
}

fn proposer(clients: Vec<Link>, node: u16, mutation: Option<Mutation>) -> Proposer<Link, StdSleeper> {
    let mut p = Proposer::with_config(clients, Arc::new(CounterIdGenerator::new(node)), StdSleeper, config()).unwrap();
    p.set_mutation(mutation);
    p
}

fn log(clients: Vec<Link>, node: u16, first: u64, mutation: Option<Mutation>) -> ReplicatedLog<Link, StdSleeper> {
    let mut log = ReplicatedLog::starting_at(proposer(clients, node, None), first);
    log.set_mutation(mutation);
    log
}

/// Values chosen at `slot`, read by a fresh reader over every acceptor.
fn chosen_at(acceptors: &[LocalAcceptor], slot: u64) -> Option<Vec<u8>> {
    let reader = log(links(acceptors, [true; 3]), 99, 0, None);
    block_on(reader.read(slot, 1)).unwrap().into_iter().next().map(|e| e.value)
}

/// Hole 1. Node 1 gets ballot B promised by all three; its accept of "old" reaches only
/// acceptor 0; it crashes. Restarted with a fresh `CounterIdGenerator::new(1)`, it draws B
/// again and reaches only acceptors 1 and 2. A third proposer then reaches 0 and 1.
/// Returns what the restarted node was told and what the third proposer was told.
fn restarted_proposer(mutation: Option<Mutation>) -> (synodos::Result<Vec<u8>>, synodos::Result<Vec<u8>>) {
    let acceptors = cluster(mutation);
    let before_crash = proposer(links(&acceptors, [true; 3]), 1, None);
    let b = synodos::IdGenerator::next(&CounterIdGenerator::new(1)).unwrap();
    for a in &acceptors {
        assert!(block_on(a.prepare(&Request { id: b, attempt: 1, slot: 0 })).unwrap().is_granted());
    }
    block_on(acceptors[0].accept(&Proposal::new(b, 0, b"old".to_vec()))).unwrap();
    drop(before_crash);
    let restarted = proposer(links(&acceptors, [false, true, true]), 1, None);
    let first = block_on(restarted.propose(b"new".to_vec()));
    let third = proposer(links(&acceptors, [true, true, false]), 3, None);
    let second = block_on(third.propose(b"third".to_vec()));
    (first, second)
}

#[test]
fn hole_1_a_restarted_proposer_reusing_its_ballots_cannot_choose_two_values() {
    let (restarted, third) = restarted_proposer(None);
    assert_eq!(restarted.unwrap(), b"new", "the restarted node's ballot B was refused; it leapt past it");
    assert_eq!(third.unwrap(), b"new", "the later proposer learns the same value");
    let (restarted, third) = restarted_proposer(Some(Mutation::PrepareGrantsEqualBallot));
    assert_eq!(restarted.unwrap(), b"new");
    // With the old rule the third proposer sees "old" and "new" both at ballot B: it now
    // reports that instead of picking "old" (as the ancestor-era code did).
    assert!(matches!(third, Err(Error::ProtocolViolation(_))), "{third:?}");
}

/// Hole 2. "zero" is chosen at slot 0; a handle near the end of the slot space appends
/// until it cannot. Returns slot 0's value afterwards and the handle's last result.
fn appends_at_the_end(mutation: Option<Mutation>) -> (Option<Vec<u8>>, synodos::Result<u64>) {
    let acceptors = cluster(mutation);
    let start = log(links(&acceptors, [true; 3]), 1, 0, None);
    block_on(start.append(b"zero".to_vec())).unwrap();
    let end = log(links(&acceptors, [true; 3]), 2, LAST_SLOT - 1, mutation);
    let mut last = Ok(0);
    for i in 0..4 {
        last = block_on(end.append(format!("end{i}").into_bytes())).map(|e| e.slot);
        if last.is_err() {
            break;
        }
    }
    (chosen_at(&acceptors, 0), last)
}

#[test]
fn hole_2_slot_arithmetic_stops_at_the_last_slot_instead_of_wrapping() {
    let (zero, last) = appends_at_the_end(None);
    assert_eq!(zero.unwrap(), b"zero");
    let err = last.unwrap_err();
    assert!(matches!(&err, Error::InvalidArgument(m) if m.contains("log is full")), "{err}");
    let (zero, _) = appends_at_the_end(Some(Mutation::SlotWraps));
    assert_ne!(zero.unwrap(), b"zero", "with wrapping arithmetic a lease wraps to slot 0 and overwrites it");
}

/// Hole 3. Writer X fills the last slots under its lease; writer Y starts one slot earlier
/// and appends. Returns what Y's append did and what slot u64::MAX - 1's neighbours hold.
fn frontier_at_the_end(mutation: Option<Mutation>) -> (synodos::Result<u64>, Vec<Option<Vec<u8>>>) {
    let acceptors = cluster(mutation);
    let end = if mutation.is_some() { u64::MAX } else { LAST_SLOT };
    let x = log(links(&acceptors, [true; 3]), 1, end - 2, mutation);
    for slot in end - 2..=end {
        assert_eq!(block_on(x.append(format!("x{slot}").into_bytes())).unwrap().slot, slot);
    }
    let y = log(links(&acceptors, [true; 3]), 2, end - 1, mutation);
    let appended = block_on(y.append(b"y".to_vec())).map(|e| e.slot);
    let held = (end - 2..=end)
        .map(|slot| {
            let got: Vec<_> =
                acceptors.iter().filter_map(|a| a.with(|a| Ok(a.core().accepted(slot))).unwrap()).collect();
            // The value a majority holds at that slot.
            got.iter().find(|p| got.iter().filter(|q| q.value == p.value).count() >= 2).map(|p| p.value.clone())
        })
        .collect();
    (appended, held)
}

#[test]
fn hole_3_a_full_frontier_is_not_mistaken_for_an_empty_one() {
    let (appended, held) = frontier_at_the_end(None);
    assert!(appended.is_err(), "every slot up to the last is taken: {appended:?}");
    let want: Vec<_> = (LAST_SLOT - 2..=LAST_SLOT).map(|s| Some(format!("x{s}").into_bytes())).collect();
    assert_eq!(held, want, "X's chosen values are all still there");
    let (appended, held) = frontier_at_the_end(Some(Mutation::FrontierSaturates));
    assert_eq!(appended.unwrap(), u64::MAX, "the saturated frontier leased the last slot to Y");
    assert_eq!(held[2].as_deref(), Some(&b"y"[..]), "and Y overwrote X's chosen value there");
}

/// An async log whose writes wait for a gate to open; reads answer at once.
#[derive(Clone, Default)]
struct GatedLog {
    inner: Ready<MemoryLog>,
    open: Rc<RefCell<bool>>,
    waiting: Rc<RefCell<Vec<Waker>>>,
}

impl GatedLog {
    fn release(&self) {
        *self.open.borrow_mut() = true;
        for w in self.waiting.borrow_mut().drain(..) {
            w.wake();
        }
    }
    async fn gate(&self) {
        futures::future::poll_fn(|cx| {
            if *self.open.borrow() {
                Poll::Ready(())
            } else {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl AsyncLog for GatedLog {
    async fn record(&mut self, id: u64, data: &[u8]) -> synodos::Result<()> {
        self.gate().await;
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

/// Hole 4. An accept whose write has started is dropped (as a proposer drops the calls
/// still running at a majority), then the write's storage completes on its own (as an
/// IndexedDB transaction does). Returns what `observe` reported right after, and what the
/// acceptor holds once reopened from its logs.
fn dropped_accept(mutation: Option<Mutation>) -> (Vec<Proposal>, Vec<Proposal>) {
    let promises = GatedLog::default();
    let accepts = GatedLog::default();
    let acceptor = block_on(AsyncAcceptor::open_mutated(promises.clone(), accepts.clone(), mutation)).unwrap();
    let proposal = Proposal::new(5, 0, b"v1".to_vec());
    {
        let mut call = Box::pin(acceptor.accept(&proposal));
        let waker = futures::task::noop_waker();
        assert!(call.poll_unpin(&mut std::task::Context::from_waker(&waker)).is_pending(), "the write waits");
    } // dropped mid-write
      // The storage finishes what it was given (in the old code nothing was given to it: the
      // dropped future owned the write).
    promises.release();
    accepts.release();
    let observed = block_on(acceptor.accepted_from(&Request::default())).unwrap();
    let reopened = block_on(AsyncAcceptor::open(promises, accepts)).unwrap();
    (observed, block_on(reopened.accepted_from(&Request::default())).unwrap())
}

#[test]
fn hole_4_a_dropped_async_accept_still_reaches_its_log() {
    let (observed, reopened) = dropped_accept(None);
    assert_eq!(observed, [Proposal::new(5, 0, b"v1".to_vec())]);
    assert_eq!(reopened, observed, "what was reported is what a restart finds");
    let (observed, reopened) = dropped_accept(Some(Mutation::AsyncAcceptorNotCancelSafe));
    assert_eq!(observed, [Proposal::new(5, 0, b"v1".to_vec())], "reported from memory...");
    assert!(reopened.is_empty(), "...but never written");
}

/// Hole 5. A log of five entries is trimmed at every acceptor below slot 3; a new handle
/// appends and reads.
fn after_a_trim(mutation: Option<Mutation>) -> (synodos::Result<u64>, synodos::Result<Vec<u64>>) {
    let acceptors = cluster(None);
    let writer = log(links(&acceptors, [true; 3]), 1, 0, None);
    for i in 0..5 {
        block_on(writer.append(format!("v{i}").into_bytes())).unwrap();
    }
    for a in &acceptors {
        a.with(|a| a.trim(3)).unwrap();
    }
    let fresh = log(links(&acceptors, [true; 3]), 2, 0, mutation);
    let appended = block_on(fresh.append(b"new".to_vec())).map(|e| e.slot);
    let from_zero = block_on(fresh.read(0, 10)).map(|es| es.iter().map(|e| e.slot).collect());
    (appended, from_zero)
}

#[test]
fn hole_5_a_new_handle_starts_where_the_trimmed_log_starts() {
    let (appended, from_zero) = after_a_trim(None);
    assert_eq!(appended.unwrap(), 5);
    match from_zero {
        Err(Error::Trimmed { slot: 0, first: 3 }) => {}
        other => panic!("reading a trimmed slot names where the log starts: {other:?}"),
    }
    let acceptors = cluster(None);
    let writer = log(links(&acceptors, [true; 3]), 1, 0, None);
    block_on(writer.append(b"a".to_vec())).unwrap();
    acceptors.iter().for_each(|a| a.with(|a| a.trim(1)).unwrap());
    let reader = log(links(&acceptors, [true; 3]), 2, 0, None);
    assert_eq!(block_on(reader.append(b"b".to_vec())).unwrap().slot, 1);
    assert_eq!(block_on(reader.read(1, 10)).unwrap()[0].value, b"b");
    let (appended, _) = after_a_trim(Some(Mutation::IgnoresTrimPoint));
    assert!(matches!(appended, Err(Error::NoQuorum { .. })), "the old handle retried slot 0 until NoQuorum");
}

/// Hole 6. Handle A appends three values; handle B, behind a transport that leaves
/// `frontier` out of promises, appends one. Returns the values chosen at slots 0..4.
fn absent_frontier(mutation: Option<Mutation>) -> Vec<Option<Vec<u8>>> {
    let acceptors = cluster(None);
    let a = log(links(&acceptors, [true; 3]), 1, 0, None);
    for v in ["a0", "a1", "a2"] {
        block_on(a.append(v.as_bytes().to_vec())).unwrap();
    }
    let stripped = acceptors.iter().map(|a| Link { acceptor: a.clone(), up: true, strip_frontier: true }).collect();
    let b = log(stripped, 2, 0, mutation);
    block_on(b.append(b"b".to_vec())).unwrap();
    (0..4).map(|slot| chosen_at(&acceptors, slot)).collect()
}

#[test]
fn hole_6_a_promise_without_frontier_gives_no_lease() {
    let want: Vec<_> = ["a0", "a1", "a2", "b"].iter().map(|v| Some(v.as_bytes().to_vec())).collect();
    assert_eq!(absent_frontier(None), want);
    assert_ne!(absent_frontier(Some(Mutation::AbsentFrontierMeansZero)), want, "the lease overwrote a1");
}

#[test]
fn decode_of_an_ancestor_promise_leaves_the_frontier_unknown() {
    let p: Promise = synodos::wire::from_json(r#"{"id":7}"#).unwrap();
    assert_eq!(p.frontier, None);
    let p: Promise = synodos::wire::from_json(r#"{"id":7,"frontier":0}"#).unwrap();
    assert_eq!(p.frontier, Some(0));
}

/// A log that calls back into its own async acceptor gets an error, not a wait for itself.
#[test]
fn an_async_log_calling_back_into_its_acceptor_gets_an_error_not_a_hang() {
    type Acc = AsyncAcceptor<Ready<MemoryLog>, CallingBack>;
    #[derive(Clone, Default)]
    struct CallingBack {
        inner: Ready<MemoryLog>,
        acceptor: Rc<RefCell<Option<Rc<Acc>>>>,
        seen: Rc<RefCell<Option<Error>>>,
    }
    impl AsyncLog for CallingBack {
        async fn record(&mut self, id: u64, data: &[u8]) -> synodos::Result<()> {
            let acceptor = self.acceptor.borrow().clone();
            if let Some(a) = acceptor {
                *self.seen.borrow_mut() = a.accepted_from(&Request::default()).await.err();
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
    let log = CallingBack::default();
    let acceptor = Rc::new(block_on(AsyncAcceptor::open(Ready(MemoryLog::new()), log.clone())).unwrap());
    *log.acceptor.borrow_mut() = Some(acceptor.clone());
    assert!(block_on(acceptor.accept(&Proposal::new(1, 0, b"v".to_vec()))).unwrap().is_accepted());
    assert!(matches!(&*log.seen.borrow(), Some(Error::InvalidArgument(m)) if m.contains("re-entrant")));
    *log.acceptor.borrow_mut() = None;
}

/// A restarted proposer's first ballot is refused by its own previous life's promise: it
/// retries at once (no one competes), instead of backing off.
#[test]
fn a_restarted_proposer_retries_past_its_own_old_ballot_without_backing_off() {
    let acceptors = cluster(None);
    let first = proposer(links(&acceptors, [true; 3]), 1, None);
    assert_eq!(block_on(first.propose(b"v".to_vec())).unwrap(), b"v");
    let slow =
        ProposerConfig { backoff_min: Duration::from_secs(3600), backoff_max: Duration::from_secs(3600), ..config() };
    let again =
        Proposer::with_config(links(&acceptors, [true; 3]), Arc::new(CounterIdGenerator::new(1)), StdSleeper, slow)
            .unwrap();
    let outcome = block_on(async {
        let decided = futures::future::select(
            Box::pin(again.propose(b"w".to_vec())),
            futures_timer_delay(Duration::from_secs(20)),
        );
        match decided.await {
            futures::future::Either::Left((chosen, _)) => Some(chosen),
            futures::future::Either::Right(_) => None,
        }
    });
    let chosen = outcome.expect("the restarted proposer backed off an hour after its own old ballot");
    assert_eq!(chosen.unwrap(), b"v");
}

fn futures_timer_delay(d: Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    Box::pin(synodos::Sleeper::sleep(&StdSleeper, d))
}
