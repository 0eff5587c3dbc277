//! The callback driver: fan-out, majority, timeouts, errors, competing proposers, the log.

#![cfg(feature = "std-timer")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::executor::block_on;
use synodos::{
    AcceptorClient, CounterIdGenerator, Error, IdGenerator, LocalAcceptor, Promise, Proposal, Proposer, ProposerConfig,
    ReplicatedLog, Request, StdSleeper,
};

/// A client that never answers (its reply sender is kept, never used).
struct Hanging(std::sync::Mutex<Vec<oneshot::Sender<()>>>);

impl Hanging {
    fn new() -> Self {
        Hanging(std::sync::Mutex::new(Vec::new()))
    }
    async fn hang<T>(&self) -> synodos::Result<T> {
        let (tx, rx) = oneshot::channel::<()>();
        self.0.lock().unwrap().push(tx);
        let _ = rx.await;
        Err(Error::transport("unreachable: the hanging client answered"))
    }
}

/// A test client: a local acceptor, or one that fails or hangs.
enum Client {
    Local(LocalAcceptor),
    Failing(&'static str),
    Hanging(Hanging),
}

impl AcceptorClient for Client {
    async fn prepare(&self, request: &Request) -> synodos::Result<Promise> {
        match self {
            Client::Local(a) => a.prepare(request).await,
            Client::Failing(why) => Err(Error::transport(*why)),
            Client::Hanging(h) => h.hang().await,
        }
    }
    async fn accept(&self, proposal: &Proposal) -> synodos::Result<Proposal> {
        match self {
            Client::Local(a) => a.accept(proposal).await,
            Client::Failing(why) => Err(Error::transport(*why)),
            Client::Hanging(h) => h.hang().await,
        }
    }
    async fn observe(&self, request: &Request) -> synodos::Result<Vec<Proposal>> {
        match self {
            Client::Local(a) => a.observe(request).await,
            Client::Failing(why) => Err(Error::transport(*why)),
            Client::Hanging(h) => h.hang().await,
        }
    }
}

fn quick() -> ProposerConfig {
    ProposerConfig {
        call_timeout: Duration::from_millis(50),
        max_attempts: 3,
        backoff_min: Duration::from_micros(100),
        backoff_max: Duration::from_millis(2),
        seed: Some(7),
        ..ProposerConfig::default()
    }
}

fn proposer(clients: Vec<Client>, node: u16) -> Proposer<Client, StdSleeper> {
    Proposer::with_config(clients, Arc::new(CounterIdGenerator::new(node)), StdSleeper, quick()).unwrap()
}

#[test]
fn a_majority_suffices_when_one_acceptor_is_down() {
    let p = proposer(
        vec![
            Client::Local(LocalAcceptor::in_memory()),
            Client::Failing("down"),
            Client::Local(LocalAcceptor::in_memory()),
        ],
        1,
    );
    assert_eq!(block_on(p.propose(b"v".to_vec())).unwrap(), b"v");
}

#[test]
fn a_hanging_acceptor_costs_at_most_the_timeout() {
    let clients = vec![
        Client::Local(LocalAcceptor::in_memory()),
        Client::Hanging(Hanging::new()),
        Client::Local(LocalAcceptor::in_memory()),
    ];
    let config = ProposerConfig { call_timeout: Duration::from_secs(10), ..quick() };
    let p = Proposer::with_config(clients, Arc::new(CounterIdGenerator::new(1)), StdSleeper, config).unwrap();
    let started = Instant::now();
    assert_eq!(block_on(p.propose(b"v".to_vec())).unwrap(), b"v");
    // The majority answered at once; the hanging call was not waited for (10 s timeout).
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

/// More acceptors than the driver keeps inline (its heap path), some hanging past the
/// timeout: still a majority decides, and a hanging majority times out as `NoQuorum`.
#[test]
fn many_acceptors_with_hanging_ones_decide_or_time_out() {
    let clients =
        |hanging: usize| -> Vec<Client> {
            (0..11)
                .map(|i| {
                    if i < hanging {
                        Client::Hanging(Hanging::new())
                    } else {
                        Client::Local(LocalAcceptor::in_memory())
                    }
                })
                .collect()
        };
    let config = ProposerConfig { call_timeout: Duration::from_millis(20), max_attempts: 2, ..quick() };
    let p =
        Proposer::with_config(clients(5), Arc::new(CounterIdGenerator::new(1)), StdSleeper, config.clone()).unwrap();
    assert_eq!(block_on(p.propose(b"v".to_vec())).unwrap(), b"v");
    let p = Proposer::with_config(clients(6), Arc::new(CounterIdGenerator::new(1)), StdSleeper, config).unwrap();
    match block_on(p.propose(b"v".to_vec())) {
        Err(Error::NoQuorum { failures, .. }) => {
            assert_eq!(failures.0.len(), 6);
            assert!(failures.0.iter().all(|f| matches!(f.error, Error::Timeout(_))), "{failures}");
        }
        other => panic!("expected NoQuorum, got {other:?}"),
    }
}

#[test]
fn no_quorum_says_which_acceptors_failed_and_why() {
    let p = proposer(
        vec![
            Client::Local(LocalAcceptor::in_memory()),
            Client::Failing("connection refused"),
            Client::Hanging(Hanging::new()),
        ],
        1,
    );
    let started = Instant::now();
    let err = block_on(p.propose(b"v".to_vec())).unwrap_err();
    let elapsed = started.elapsed();
    let Error::NoQuorum { needed, acceptors, attempts, failures } = &err else { panic!("{err}") };
    assert_eq!((*needed, *acceptors, *attempts), (2, 3, 3));
    let mut by_acceptor: Vec<(usize, &str)> = failures.0.iter().map(|f| (f.acceptor, f.error.code())).collect();
    by_acceptor.sort();
    assert_eq!(by_acceptor, [(1, "TRANSPORT"), (2, "TIMEOUT")]);
    let text = err.to_string();
    assert!(text.contains("acceptor 1: transport: connection refused"), "{text}");
    assert!(text.contains("acceptor 2: timed out"), "{text}");
    // Three attempts, each bounded by the 50 ms timeout (plus small backoffs).
    assert!(elapsed >= Duration::from_millis(150) && elapsed < Duration::from_secs(2), "{elapsed:?}");
}

#[test]
fn a_proposer_learns_an_already_chosen_value_and_leaps_past_higher_ballots() {
    let acceptors: Vec<LocalAcceptor> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    // A far-ahead competitor has chosen a value at a huge ballot.
    let ahead = CounterIdGenerator::new(9);
    ahead.observe(1 << 40);
    let big = Proposer::with_config(acceptors.clone(), Arc::new(ahead), StdSleeper, quick()).unwrap();
    assert_eq!(block_on(big.propose(b"first".to_vec())).unwrap(), b"first");
    let ids = Arc::new(CounterIdGenerator::new(1));
    let late = Proposer::with_config(acceptors, ids.clone(), StdSleeper, quick()).unwrap();
    // The first ballot is rejected; the second leaps past and learns the chosen value.
    assert_eq!(block_on(late.propose(b"second".to_vec())).unwrap(), b"first");
    assert!(ids.next().unwrap() > 1 << 40);
}

#[test]
fn competing_proposers_on_threads_agree() {
    for round in 0..20 {
        let acceptors: Vec<LocalAcceptor> = (0..5).map(|_| LocalAcceptor::in_memory()).collect();
        let handles: Vec<_> = (0..3u16)
            .map(|node| {
                let acceptors = acceptors.clone();
                thread::spawn(move || {
                    let p = Proposer::new(acceptors, CounterIdGenerator::new(node), StdSleeper).unwrap();
                    p.propose_blocking(format!("node{node}").into_bytes()).unwrap()
                })
            })
            .collect();
        let chosen: Vec<Vec<u8>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(chosen.iter().all(|c| *c == chosen[0]), "round {round}: {chosen:?}");
        assert!(chosen[0].starts_with(b"node"));
    }
}

#[test]
fn concurrent_log_writers_each_land_every_entry_once_in_one_order() {
    let acceptors: Vec<LocalAcceptor> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    let handles: Vec<_> = (0..3u16)
        .map(|w| {
            let acceptors = acceptors.clone();
            thread::spawn(move || {
                let log =
                    ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(w + 1), StdSleeper).unwrap());
                (0..30).map(|i| log.append_blocking(format!("w{w}-{i}").into_bytes()).unwrap().slot).collect::<Vec<_>>()
            })
        })
        .collect();
    let slots: Vec<Vec<u64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for s in &slots {
        assert!(s.windows(2).all(|w| w[0] < w[1]), "a writer's entries keep its order");
    }
    let reader = ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(50), StdSleeper).unwrap());
    let entries = block_on(reader.read(0, 1000)).unwrap();
    assert_eq!(entries.len(), 90);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.slot, i as u64);
    }
    let mut values: Vec<Vec<u8>> = entries.into_iter().map(|e| e.value).collect();
    values.sort();
    values.dedup();
    assert_eq!(values.len(), 90, "no entry twice");
    // Reading from the middle, with a limit.
    let part = block_on(reader.read(40, 5)).unwrap();
    assert_eq!(part.iter().map(|e| e.slot).collect::<Vec<_>>(), [40, 41, 42, 43, 44]);
}

#[test]
fn reading_needs_a_majority_of_observers() {
    let p =
        proposer(vec![Client::Local(LocalAcceptor::in_memory()), Client::Failing("down"), Client::Failing("down")], 1);
    let log = ReplicatedLog::new(p);
    assert!(matches!(block_on(log.read(0, 10)), Err(Error::NoQuorum { .. })));
}

#[test]
fn wait_returns_entries_appended_later_and_times_out_empty() {
    let acceptors: Vec<LocalAcceptor> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    let reader = ReplicatedLog::new(Proposer::new(acceptors.clone(), CounterIdGenerator::new(1), StdSleeper).unwrap());
    let empty = block_on(reader.wait(0, 10, Duration::from_millis(30))).unwrap();
    assert!(empty.is_empty());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let writer = thread::spawn(move || {
        ready_rx.recv().unwrap();
        let log = ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(2), StdSleeper).unwrap());
        log.append_blocking(b"late".to_vec()).unwrap()
    });
    ready_tx.send(()).unwrap();
    let got = block_on(reader.wait(0, 10, Duration::from_secs(10))).unwrap();
    assert_eq!(got[0].value, b"late");
    assert_eq!(writer.join().unwrap().slot, 0);
}

#[test]
fn clients_are_asked_concurrently_not_one_after_another() {
    // Three clients that each answer only after all three were called: a sequential
    // driver would deadlock (and time out); a concurrent one finishes.
    struct Gate {
        inner: LocalAcceptor,
        called: Arc<AtomicUsize>,
        polls: Cell<u32>,
    }
    struct WaitAll<'a>(&'a Gate, usize);
    impl std::future::Future for WaitAll<'_> {
        type Output = ();
        fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
            self.0.polls.set(self.0.polls.get() + 1);
            if self.0.called.load(Ordering::SeqCst) >= self.1 {
                std::task::Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }
    impl AcceptorClient for Gate {
        async fn prepare(&self, request: &Request) -> synodos::Result<Promise> {
            let round = self.called.fetch_add(1, Ordering::SeqCst) / 3 + 1;
            WaitAll(self, round * 3).await;
            self.inner.prepare(request).await
        }
        async fn accept(&self, proposal: &Proposal) -> synodos::Result<Proposal> {
            let round = self.called.fetch_add(1, Ordering::SeqCst) / 3 + 1;
            WaitAll(self, round * 3).await;
            self.inner.accept(proposal).await
        }
    }
    let called = Arc::new(AtomicUsize::new(0));
    let gates: Vec<Gate> = (0..3)
        .map(|_| Gate { inner: LocalAcceptor::in_memory(), called: called.clone(), polls: Cell::new(0) })
        .collect();
    let p = Proposer::with_config(gates, Arc::new(CounterIdGenerator::new(1)), StdSleeper, quick()).unwrap();
    assert_eq!(block_on(p.propose(b"v".to_vec())).unwrap(), b"v");
    assert_eq!(called.load(Ordering::SeqCst), 6);
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let none: Vec<LocalAcceptor> = vec![];
    assert!(matches!(Proposer::new(none, CounterIdGenerator::new(1), StdSleeper), Err(Error::InvalidArgument(_))));
    let cfg = ProposerConfig { max_attempts: 0, ..ProposerConfig::default() };
    let r =
        Proposer::with_config(vec![LocalAcceptor::in_memory()], Arc::new(CounterIdGenerator::new(1)), StdSleeper, cfg);
    assert!(matches!(r, Err(Error::InvalidArgument(_))));
    let exhausted = CounterIdGenerator::new(1);
    exhausted.observe(u64::MAX);
    let p = Proposer::new(vec![LocalAcceptor::in_memory()], exhausted, StdSleeper).unwrap();
    assert!(matches!(p.propose_blocking(b"v".to_vec()), Err(Error::IdExhausted(_))));
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn runs_on_tokio_with_the_tokio_sleeper() {
    let acceptors: Vec<LocalAcceptor> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    let p = Proposer::new(acceptors, CounterIdGenerator::new(1), synodos::TokioSleeper).unwrap();
    assert_eq!(p.propose(b"t".to_vec()).await.unwrap(), b"t");
}

#[test]
fn every_acceptor_is_asked_even_when_a_majority_answered_first() {
    let acceptors: Vec<LocalAcceptor> = (0..5).map(|_| LocalAcceptor::in_memory()).collect();
    let p = Proposer::new(acceptors.clone(), CounterIdGenerator::new(1), StdSleeper).unwrap();
    assert_eq!(p.propose_blocking(b"v".to_vec()).unwrap(), b"v");
    for (i, a) in acceptors.iter().enumerate() {
        let accepted = a.with(|a| Ok(a.core().accepted(0))).unwrap();
        assert_eq!(accepted.map(|p| p.value), Some(b"v".to_vec()), "acceptor {i} was not asked");
    }
}

#[test]
fn a_reader_decides_a_hole_left_by_a_dead_writer_keeping_any_accepted_value() {
    let acceptors: Vec<LocalAcceptor> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    // A writer died at slot 0 after one accept; slot 1 was chosen by another writer.
    acceptors[0].with(|a| a.accept(&Proposal::new(5, 0, b"half-done".to_vec()))).unwrap();
    for a in &acceptors {
        a.with(|a| a.accept(&Proposal::new(6, 1, b"later".to_vec()))).unwrap();
    }
    let reader = ReplicatedLog::new(Proposer::new(acceptors.clone(), CounterIdGenerator::new(9), StdSleeper).unwrap());
    let entries = block_on(reader.read(0, 10)).unwrap();
    let values: Vec<&[u8]> = entries.iter().map(|e| e.value.as_slice()).collect();
    assert_eq!(values, [&b"half-done"[..], b"later"]);
    // Now chosen for everyone: a second reader sees the same, with no repair needed.
    let again = ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(10), StdSleeper).unwrap());
    assert_eq!(block_on(again.read(0, 10)).unwrap(), entries);
}

#[test]
fn a_reader_does_not_touch_the_unchosen_tail() {
    let acceptors: Vec<LocalAcceptor> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    acceptors[0].with(|a| a.accept(&Proposal::new(5, 0, b"in flight".to_vec()))).unwrap();
    let reader = ReplicatedLog::new(Proposer::new(acceptors.clone(), CounterIdGenerator::new(9), StdSleeper).unwrap());
    assert!(block_on(reader.read(0, 10)).unwrap().is_empty());
    // The in-flight proposal was not disturbed: the acceptors promised nothing new.
    for a in &acceptors {
        assert!(a.with(|a| Ok(a.core().promised())).unwrap() <= 5);
    }
}

#[test]
fn a_log_calling_back_into_its_own_acceptor_gets_an_error_not_a_deadlock() {
    use std::sync::OnceLock;
    use synodos::{Acceptor, Log, MemoryLog};

    /// A log that, on each record, asks its own acceptor for its promise.
    struct Nosy(MemoryLog, Arc<OnceLock<LocalAcceptor<Nosy, MemoryLog>>>, Arc<std::sync::Mutex<Vec<String>>>);
    impl Log for Nosy {
        fn record(&mut self, id: u64, data: &[u8]) -> synodos::Result<()> {
            if let Some(me) = self.1.get() {
                let inner = me.with(|a| Ok(a.core().promised()));
                self.2.lock().unwrap().push(format!("{}", inner.unwrap_err()));
            }
            self.0.record(id, data)
        }
        fn last(&self) -> synodos::Result<Option<(u64, Vec<u8>)>> {
            self.0.last()
        }
        fn range(&self, s: u64, e: u64, f: &mut dyn FnMut(u64, &[u8]) -> synodos::Result<()>) -> synodos::Result<()> {
            self.0.range(s, e, f)
        }
        fn trim(&mut self, before: u64) -> synodos::Result<()> {
            self.0.trim(before)
        }
    }
    let cell = Arc::new(OnceLock::new());
    let errors = Arc::new(std::sync::Mutex::new(Vec::new()));
    let acceptor = Acceptor::new(Nosy(MemoryLog::new(), cell.clone(), errors.clone()), MemoryLog::new()).unwrap();
    let local = LocalAcceptor::new(acceptor);
    let _ = cell.set(local.clone());
    let promise = block_on(local.prepare(&Request { id: 3, attempt: 1, slot: 0 })).unwrap();
    assert!(promise.is_granted());
    assert_eq!(errors.lock().unwrap().len(), 1);
    assert!(errors.lock().unwrap()[0].contains("re-entrant call"), "{:?}", errors.lock().unwrap());
    // Outside the log, the acceptor is usable as usual.
    assert_eq!(local.with(|a| Ok(a.core().promised())).unwrap(), 3);
}
