//! Throughput of the core, in one process with memory logs:
//! `cargo bench -p synodos --bench throughput` (or `make bench-rust`).
//!
//! - `sans_io/decision`: one full single-decree decision (4 protocol messages per acceptor)
//!   driven by hand through `AcceptorCore` and `Attempt`, records handed to a log that
//!   discards them (the protocol's own cost; slots reused modulo 4096, ballots rising).
//! - `driver/propose`: `Proposer::propose_at` over in-process acceptors on memory logs (3 and
//!   5), a fresh slot per decision, both phases; the acceptors are trimmed every 8192 slots.
//! - `driver/append`: `ReplicatedLog::append` with one writer (3 acceptors): after the first
//!   append the writer holds a leader lease and skips phase 1.
//! - learner memory: live heap bytes of a `Learner` after 10^3..10^6 chosen slots.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use synodos::{
    AcceptorCore, Attempt, CounterIdGenerator, Learner, LocalAcceptor, Log, Progress, Proposal, Proposer,
    ReplicatedLog, StdSleeper,
};

/// Counts live heap bytes, to show the learner's memory stays flat.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarding the caller's valid layout to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// A log that keeps nothing: the sans-IO benchmark measures the protocol rules, not storage.
#[derive(Default)]
struct Discard;

impl Log for Discard {
    fn record(&mut self, _: u64, data: &[u8]) -> synodos::Result<()> {
        black_box(data);
        Ok(())
    }
    fn last(&self) -> synodos::Result<Option<(u64, Vec<u8>)>> {
        Ok(None)
    }
    fn range(&self, _: u64, _: u64, _: &mut dyn FnMut(u64, &[u8]) -> synodos::Result<()>) -> synodos::Result<()> {
        Ok(())
    }
    fn trim(&mut self, _: u64) -> synodos::Result<()> {
        Ok(())
    }
}

struct Node {
    core: AcceptorCore,
    promises: Discard,
    accepts: Discard,
}

/// Slots are reused modulo this, so the acceptors' state stays small and every iteration
/// costs the same (ballots keep rising, so each decision is a fresh one).
const SLOTS: u64 = 4096;
/// The driver benchmarks trim the acceptors this often, for the same reason.
const TRIM_EVERY: u64 = 8192;

fn trim_all(acceptors: &[LocalAcceptor], slot: u64) {
    for a in acceptors {
        a.with(|a| a.trim(slot)).unwrap();
    }
}

/// One decision through the sans-IO state machines: a prepare to every acceptor, its
/// promise back, an accept to every acceptor, its answer back.
fn sans_io_decision(nodes: &mut [Node], slot: u64, ballot: u64) -> Vec<u8> {
    let n = nodes.len();
    let (mut attempt, request) = Attempt::new(n, slot, ballot, 1, b"value-0123456789".to_vec()).unwrap();
    let mut proposal = None;
    for (i, node) in nodes.iter_mut().enumerate() {
        let promise = node.core.prepare(&request).unwrap().persist(&mut node.promises, &mut node.accepts).unwrap();
        if let Progress::Accept(p) = attempt.on_promise(i, &promise) {
            proposal = Some(p);
        }
    }
    let proposal: Proposal = proposal.unwrap();
    let mut chosen = None;
    for (i, node) in nodes.iter_mut().enumerate() {
        let answer = node.core.accept(&proposal).unwrap().persist(&mut node.promises, &mut node.accepts).unwrap();
        if let Progress::Chosen(v) = attempt.on_accepted(i, &answer) {
            chosen = Some(v);
        }
    }
    chosen.unwrap()
}

fn bench_sans_io(c: &mut Criterion) {
    let mut group = c.benchmark_group("sans_io");
    for n in [3usize, 5] {
        let mut nodes: Vec<Node> =
            (0..n).map(|_| Node { core: AcceptorCore::new(), promises: Discard, accepts: Discard }).collect();
        let mut ballot = 0u64;
        // Elements = protocol messages handled (4 per acceptor per decision).
        group.throughput(Throughput::Elements(4 * n as u64));
        group.bench_function(BenchmarkId::new("decision", n), |b| {
            b.iter(|| {
                ballot += 1;
                black_box(sans_io_decision(&mut nodes, ballot % SLOTS, ballot));
            })
        });
    }
    group.finish();
}

fn bench_driver(c: &mut Criterion) {
    let mut group = c.benchmark_group("driver");
    group.throughput(Throughput::Elements(1));
    for n in [3usize, 5] {
        let acceptors: Vec<LocalAcceptor> = (0..n).map(|_| LocalAcceptor::in_memory()).collect();
        let proposer = Proposer::new(acceptors.clone(), CounterIdGenerator::new(1), StdSleeper).unwrap();
        let mut slot = 0u64;
        group.bench_function(BenchmarkId::new("propose", n), |b| {
            b.iter(|| {
                slot += 1;
                if slot % TRIM_EVERY == 0 {
                    trim_all(&acceptors, slot);
                }
                black_box(futures::executor::block_on(proposer.propose_at(slot, b"value-0123456789".to_vec())).unwrap())
            })
        });
    }
    let acceptors: Vec<LocalAcceptor> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    let log = ReplicatedLog::new(Proposer::new(acceptors.clone(), CounterIdGenerator::new(1), StdSleeper).unwrap());
    group.bench_function(BenchmarkId::new("append", 3), |b| {
        b.iter(|| {
            let entry = futures::executor::block_on(log.append(b"value-0123456789".to_vec())).unwrap();
            if entry.slot % TRIM_EVERY == 0 {
                trim_all(&acceptors, entry.slot);
            }
            black_box(entry)
        })
    });
    group.finish();
}

fn learner_memory() {
    println!("\nlearner memory (3 acceptors, every slot chosen, 16-byte values):");
    let before = LIVE.load(Ordering::Relaxed);
    let mut learner = Learner::new(3);
    let mut slot = 0u64;
    let mut peak = 0isize;
    for target in [1_000u64, 10_000, 100_000, 1_000_000] {
        while slot < target {
            // Out of order by up to 8 slots, each acceptor reporting every slot.
            let s = slot ^ 7;
            for a in 0..3 {
                let _ = learner.on_accepted(a, &Proposal::new(1, s, b"value-0123456789".to_vec()));
                peak = peak.max(LIVE.load(Ordering::Relaxed) - before);
            }
            slot += 1;
        }
        println!(
            "  after {target:>9} slots: {:>6} live bytes, peak {peak} bytes, {} open tallies",
            LIVE.load(Ordering::Relaxed) - before,
            learner.open_tallies()
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_sans_io, bench_driver
}

fn main() {
    learner_memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
