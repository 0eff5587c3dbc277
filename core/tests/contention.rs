//! Many writers, one log: under contention no append fails (there is no fault), and every
//! acknowledged append is read back at its slot. Asserted on outcomes, not on time.

#![cfg(all(feature = "std-timer", feature = "file-log"))]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

use synodos::{
    Acceptor, AcceptorThread, CounterIdGenerator, Entry, FileLog, LocalAcceptor, Mutation, Proposer, ProposerConfig,
    ReplicatedLog, StdSleeper,
};

/// Any in-process acceptor client the tests run over (a `LocalAcceptor` or an `AcceptorThread`).
trait Client: synodos::AcceptorClient + Clone + Send + Sync + 'static {}
impl<T: synodos::AcceptorClient + Clone + Send + Sync + 'static> Client for T {}

fn handle<C: Client>(acceptors: &[C], node: u16) -> ReplicatedLog<C, StdSleeper> {
    let p = Proposer::with_config(
        acceptors.to_vec(),
        Arc::new(CounterIdGenerator::new(node)),
        StdSleeper,
        ProposerConfig { seed: Some(u64::from(node)), ..ProposerConfig::default() },
    )
    .unwrap();
    ReplicatedLog::new(p)
}

/// Every acknowledged entry is where it was acknowledged, read back by a fresh reader.
fn check_read_back<C: Client>(acceptors: &[C], acked: &[Entry]) {
    let reader = handle(acceptors, 60_000);
    let top = acked.iter().map(|e| e.slot).max().unwrap_or(0);
    let mut log = BTreeMap::new();
    let mut next = 0;
    while next <= top {
        let entries = futures::executor::block_on(reader.read(next, 1024)).unwrap();
        assert!(!entries.is_empty(), "the log reads on from slot {next}");
        for e in entries {
            next = e.slot + 1;
            log.insert(e.slot, e.value);
        }
    }
    for e in acked {
        assert_eq!(log.get(&e.slot), Some(&e.value), "acknowledged at slot {}", e.slot);
    }
}

/// `handles` separate handles on threads, each appending `per` unique values. Returns what
/// was acknowledged and how many appends failed.
fn separate_handles<C: Client>(
    acceptors: &[C],
    handles: u16,
    per: usize,
    mutation: Option<Mutation>,
) -> (Vec<Entry>, usize) {
    let threads: Vec<_> = (0..handles)
        .map(|h| {
            let mut log = handle(acceptors, h + 1);
            log.set_mutation(mutation);
            thread::spawn(move || {
                let mut acked = Vec::new();
                let mut failed = 0;
                for i in 0..per {
                    match log.append_blocking(format!("h{h}-{i}").into_bytes()) {
                        Ok(e) => acked.push(e),
                        Err(e) => {
                            if failed == 0 && std::env::var("SHOW").is_ok() {
                                eprintln!("handle {h}: {e}");
                            }
                            failed += 1
                        }
                    }
                }
                (acked, failed)
            })
        })
        .collect();
    let mut acked = Vec::new();
    let mut failed = 0;
    for t in threads {
        let (a, f) = t.join().unwrap();
        acked.extend(a);
        failed += f;
    }
    (acked, failed)
}

/// `threads` threads on one shared handle, each appending `per` unique values.
fn one_handle<C: Client>(acceptors: &[C], threads: usize, per: usize) -> (Vec<Entry>, usize) {
    let log = Arc::new(handle(acceptors, 1));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let log = log.clone();
            thread::spawn(move || {
                let mut acked = Vec::new();
                let mut failed = 0;
                for i in 0..per {
                    match log.append_blocking(format!("t{t}-{i}").into_bytes()) {
                        Ok(e) => acked.push(e),
                        Err(_) => failed += 1,
                    }
                }
                (acked, failed)
            })
        })
        .collect();
    let mut acked = Vec::new();
    let mut failed = 0;
    for w in workers {
        let (a, f) = w.join().unwrap();
        acked.extend(a);
        failed += f;
    }
    (acked, failed)
}

fn memory() -> Vec<LocalAcceptor> {
    (0..3).map(|_| LocalAcceptor::in_memory()).collect()
}

fn file_acceptors(dir: &std::path::Path) -> Vec<Acceptor<FileLog, FileLog>> {
    (0..3)
        .map(|i| {
            let p = FileLog::open(dir.join(format!("a{i}/promises"))).unwrap();
            let a = FileLog::open(dir.join(format!("a{i}/accepts"))).unwrap();
            Acceptor::new(p, a).unwrap()
        })
        .collect()
}

fn files(dir: &std::path::Path) -> Vec<LocalAcceptor<FileLog, FileLog>> {
    file_acceptors(dir).into_iter().map(LocalAcceptor::new).collect()
}

/// FileLog acceptors on threads of their own: group commit across handles, fsyncs at the
/// three acceptors at once.
fn threaded_files(dir: &std::path::Path) -> Vec<AcceptorThread<FileLog, FileLog>> {
    file_acceptors(dir).into_iter().map(|a| AcceptorThread::spawn(a).unwrap()).collect()
}

fn assert_unique_slots(acked: &[Entry]) {
    let mut slots: Vec<_> = acked.iter().map(|e| e.slot).collect();
    slots.sort_unstable();
    let n = slots.len();
    slots.dedup();
    assert_eq!(slots.len(), n, "two acknowledged appends at one slot");
}

#[test]
fn sixty_four_handles_append_fifty_each_in_memory_and_none_fails() {
    let acceptors = memory();
    let (acked, failed) = separate_handles(&acceptors, 64, 50, None);
    assert_eq!(failed, 0, "appends failed with no fault");
    assert_eq!(acked.len(), 64 * 50);
    assert_unique_slots(&acked);
    check_read_back(&acceptors, &acked);
}

#[test]
fn two_hundred_fifty_six_threads_on_one_handle_in_memory_and_none_fails() {
    let acceptors = memory();
    let (acked, failed) = one_handle(&acceptors, 256, 20);
    assert_eq!(failed, 0);
    assert_eq!(acked.len(), 256 * 20);
    assert_unique_slots(&acked);
    check_read_back(&acceptors, &acked);
}

#[test]
fn on_file_logs_sixteen_handles_and_256_threads_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let acceptors = files(dir.path());
    let (acked, failed) = separate_handles(&acceptors, 16, 20, None);
    assert_eq!(failed, 0);
    assert_eq!(acked.len(), 16 * 20);
    let (more, failed) = one_handle(&acceptors, 256, 4);
    assert_eq!(failed, 0);
    let all: Vec<Entry> = acked.into_iter().chain(more).collect();
    assert_unique_slots(&all);
    check_read_back(&acceptors, &all);
}

#[test]
fn on_threaded_file_logs_sixty_four_handles_and_256_threads_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let acceptors = threaded_files(dir.path());
    let (acked, failed) = separate_handles(&acceptors, 64, 10, None);
    assert_eq!(failed, 0);
    assert_eq!(acked.len(), 64 * 10);
    let (more, failed) = one_handle(&acceptors, 256, 4);
    assert_eq!(failed, 0);
    let all: Vec<Entry> = acked.into_iter().chain(more).collect();
    assert_unique_slots(&all);
    check_read_back(&acceptors, &all);
    // Every acknowledged append is durable: the threads stop (and close their logs) with
    // the last handle, and acceptors reopened from the directories still hold it all.
    drop(acceptors);
    check_read_back(&files(dir.path()), &all);
}

/// The follower rule is what keeps contention from failing appends: without it (proposers
/// that lose to a leader start a higher ballot at once), handles duel and appends fail.
#[test]
fn without_deferring_to_the_leader_handles_duel_and_appends_fail() {
    let acceptors = memory();
    let (_, failed) = separate_handles(&acceptors, 64, 50, Some(Mutation::FollowerIgnoresLeader));
    assert!(failed > 0, "the duelling handles should have exhausted their attempts somewhere");
}

/// The full-size run on FileLogs: minutes of fsyncs, so it is `make contention-long`
/// (`cargo test --release -p synodos --test contention -- --ignored`), not `make test`.
#[test]
#[ignore = "minutes of fsyncs: make contention-long runs it"]
fn on_file_logs_sixty_four_handles_append_fifty_each_and_none_fails() {
    let dir = tempfile::tempdir().unwrap();
    let acceptors = files(dir.path());
    let (acked, failed) = separate_handles(&acceptors, 64, 50, None);
    assert_eq!(failed, 0);
    assert_unique_slots(&acked);
    check_read_back(&acceptors, &acked);
}

/// A client that answers on its second poll, as a network would later (in-process calls
/// answer at once, so appends polled in one task would never overlap).
#[derive(Clone)]
struct Later<P: synodos::Log, A: synodos::Log>(LocalAcceptor<P, A>);

async fn yield_once() {
    let mut yielded = false;
    futures::future::poll_fn(|cx| {
        if yielded {
            return std::task::Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    })
    .await
}

impl<P: synodos::Log, A: synodos::Log> synodos::AcceptorClient for Later<P, A> {
    async fn prepare(&self, r: &synodos::Request) -> synodos::Result<synodos::Promise> {
        yield_once().await;
        self.0.prepare(r).await
    }
    async fn accept(&self, p: &synodos::Proposal) -> synodos::Result<synodos::Proposal> {
        yield_once().await;
        self.0.accept(p).await
    }
    async fn accept_batch(&self, b: &synodos::Batch) -> synodos::Result<synodos::Proposal> {
        yield_once().await;
        self.0.accept_batch(b).await
    }
    async fn observe(&self, r: &synodos::Request) -> synodos::Result<Vec<synodos::Proposal>> {
        self.0.observe(r).await
    }
}

/// Group commit: appends made at once on one handle reach each acceptor as one batch, one
/// write and one fsync, and each is acknowledged only after it (counted on a simulated disk).
#[test]
fn concurrent_appends_share_one_fsync_per_acceptor() {
    use synodos::sim_disk::SimDisk;
    let disks: Vec<SimDisk> = (0..3).map(|_| SimDisk::new()).collect();
    let open =
        |d: &SimDisk| LocalAcceptor::new(Acceptor::new(d.open_log("p").unwrap(), d.open_log("a").unwrap()).unwrap());
    let acceptors: Vec<_> = disks.iter().map(open).collect();
    let clients: Vec<_> = acceptors.iter().cloned().map(Later).collect();
    let p = Proposer::with_config(clients, Arc::new(CounterIdGenerator::new(1)), StdSleeper, ProposerConfig::default())
        .unwrap();
    let log = ReplicatedLog::new(p);
    // Take the lead first (phase 1 and one accept), so the batches can go out under the lease.
    futures::executor::block_on(log.append(b"first".to_vec())).unwrap();
    let before: Vec<u64> = disks.iter().map(SimDisk::sync_count).collect();
    let n = 200;
    let appends = (0..n).map(|i| log.append(format!("v{i}").into_bytes()));
    let acked = futures::executor::block_on(futures::future::join_all(appends));
    let acked: Vec<Entry> = acked.into_iter().map(Result::unwrap).collect();
    assert_unique_slots(&acked);
    for (d, before) in disks.iter().zip(before) {
        let syncs = d.sync_count() - before;
        // The first wave fills the pipeline (one append each); everything queued behind it
        // goes in batches: a handful of fsyncs for 200 appends.
        assert!(syncs <= 12, "{n} appends cost {syncs} fsyncs at one acceptor");
    }
    // Every one of them is durable: reopened acceptors still hold it.
    drop(log);
    drop(acceptors);
    let reopened: Vec<_> = disks.iter().map(open).collect();
    check_read_back(&reopened, &acked);
}

/// Group commit across callers: calls that reach an `AcceptorThread` while it is busy are
/// decided and written together, one fsync for all of them, and none is answered before it.
#[test]
fn calls_queued_behind_a_busy_acceptor_thread_share_one_fsync() {
    use synodos::sim_disk::SimDisk;
    use synodos::{AcceptorClient, Proposal, Request};
    let disk = SimDisk::new();
    let acceptor = Acceptor::new(disk.open_log("p").unwrap(), disk.open_log("a").unwrap()).unwrap();
    let thread = AcceptorThread::spawn(acceptor).unwrap();
    futures::executor::block_on(thread.prepare(&Request { id: 5, attempt: 1, slot: 0 })).unwrap();
    let before = disk.sync_count();
    // Hold the thread until all the calls below are queued behind it.
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let busy = thread.with(move |_| {
        let _ = gate.recv();
        Ok(())
    });
    let n: u64 = 100;
    let accepts: Vec<_> = (0..n).map(|s| Proposal::new(5, s, vec![s as u8])).collect();
    let calls = futures::future::join_all(accepts.iter().map(|p| thread.accept(p)));
    let answers = futures::executor::block_on(async {
        let (_, answers, _) = futures::join!(busy, calls, async { release.send(()).unwrap() });
        answers
    });
    for a in &answers {
        assert!(a.as_ref().unwrap().is_accepted(), "{a:?}");
    }
    assert_eq!(disk.sync_count() - before, 1, "{n} accepts queued together: one fsync of the accept log");
    drop(thread);
    let again = Acceptor::new(disk.open_log("p").unwrap(), disk.open_log("a").unwrap()).unwrap();
    assert_eq!(again.core().accepted_from(0).count() as u64, n, "all of them durable");
}
