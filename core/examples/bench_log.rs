//! Appends/s and latency of `ReplicatedLog` under many writers, in one process:
//! `cargo run --release -p synodos --example bench_log -- [seconds per row]`.
//!
//! Rows: the raw `write` + `fdatasync` rate of this disk; then, on three in-process acceptors
//! over memory logs and over `FileLog`s (in a temporary directory on the same disk; run by
//! `LocalAcceptor`s on the callers' threads, then by `AcceptorThread`s: group commit and
//! parallel fsyncs), appends
//! from 1, 4, 16, 64 and 256 writer threads on one shared handle, and from 1, 16 and 64
//! separate handles (one thread each). Each row prints appends/s, p50 and p99 latency and
//! failed appends; the ratios the targets speak of are printed at the end.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a benchmark program: it stops on the first setup error
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use synodos::{
    Acceptor, AcceptorClient, AcceptorThread, CounterIdGenerator, FileLog, LocalAcceptor, Log, Proposer, ReplicatedLog,
    StdSleeper,
};

struct Row {
    rate: f64,
    p50: Duration,
    p99: Duration,
    failed: u64,
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q) as usize]
}

/// Run `threads` writers for `secs`, each appending through `handle_of(thread)`.
fn run<F, L>(threads: usize, secs: f64, handle_of: F, trim: impl Fn() + Send + 'static) -> Row
where
    F: Fn(usize) -> Arc<L>,
    L: Appender + Send + Sync + 'static,
{
    let stop = Arc::new(AtomicBool::new(false));
    // What an application does once it has applied the log: trim it, so that memory stays
    // flat however long the run.
    let trimmer = {
        let stop = stop.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(50));
                trim();
            }
        })
    };
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let failed = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (stop, latencies, failed, log) = (stop.clone(), latencies.clone(), failed.clone(), handle_of(t));
            thread::spawn(move || {
                let mut mine = Vec::new();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let at = Instant::now();
                    if log
                        .append(format!("t{t}-{i}-0123456789abcdef0123456789abcdef0123456789ab").into_bytes())
                        .is_err()
                    {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    mine.push(at.elapsed());
                    i += 1;
                }
                if let Ok(mut all) = latencies.lock() {
                    all.extend(mine);
                }
            })
        })
        .collect();
    thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let _ = trimmer.join();
    let elapsed = started.elapsed().as_secs_f64();
    let mut all = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    all.sort_unstable();
    Row {
        rate: all.len() as f64 / elapsed,
        p50: percentile(&all, 0.5),
        p99: percentile(&all, 0.99),
        failed: failed.load(Ordering::Relaxed),
    }
}

trait Appender {
    fn append(&self, v: Vec<u8>) -> synodos::Result<()>;
}

impl<C: AcceptorClient> Appender for ReplicatedLog<C, StdSleeper> {
    fn append(&self, v: Vec<u8>) -> synodos::Result<()> {
        self.append_blocking(v).map(|_| ())
    }
}

/// An in-process acceptor client the benchmark can also trim.
trait Member: AcceptorClient + Clone + Send + Sync + 'static {
    fn trim_below(&self, slot: u64);
}

impl<P: Log + Send + 'static, A: Log + Send + 'static> Member for LocalAcceptor<P, A> {
    fn trim_below(&self, slot: u64) {
        let _ = self.with(|a| a.trim(slot));
    }
}

impl<P: Log + Send + 'static, A: Log + Send + 'static> Member for AcceptorThread<P, A> {
    fn trim_below(&self, slot: u64) {
        let _ = futures::executor::block_on(self.with(move |a| a.trim(slot)));
    }
}

fn handle<C: Member>(acceptors: &[C], node: u16) -> ReplicatedLog<C, StdSleeper> {
    let p = Proposer::new(acceptors.to_vec(), CounterIdGenerator::new(node), StdSleeper)
        .unwrap_or_else(|e| panic!("proposer: {e}"));
    ReplicatedLog::new(p)
}

/// Trim every acceptor below what `probe` (a handle) has seen chosen, less a margin.
fn trimmer<C: Member>(acceptors: &[C], probe: Arc<ReplicatedLog<C, StdSleeper>>) -> impl Fn() + Send + 'static {
    let acceptors = acceptors.to_vec();
    move || {
        let below = probe.next_slot().saturating_sub(100_000);
        if below == 0 {
            return;
        }
        for a in &acceptors {
            a.trim_below(below);
        }
    }
}

/// Every row for one kind of acceptor: 1..256 threads on one handle, 1/16/64 handles.
/// Returns the 1-writer rate.
fn rows<C: Member>(kind: &str, secs: f64, make: impl Fn() -> Vec<C>) -> f64 {
    let mut one_writer = 0.0;
    for threads in [1usize, 4, 16, 64, 256] {
        let acceptors = make();
        let log = Arc::new(handle(&acceptors, 1));
        let trim = trimmer(&acceptors, log.clone());
        let row = run(threads, secs, move |_| log.clone(), trim);
        if threads == 1 {
            one_writer = row.rate;
        }
        print(&format!("{kind}, {threads} threads on one handle"), &row);
        if threads > 1 {
            println!("{:<44} {:>10.1}x the 1-writer rate", "", row.rate / one_writer.max(1e-9));
        }
    }
    for handles in [1usize, 16, 64] {
        let acceptors = make();
        let logs: Vec<_> = (0..handles).map(|h| Arc::new(handle(&acceptors, h as u16 + 1))).collect();
        let trim = trimmer(&acceptors, logs[0].clone());
        let row = run(handles, secs, move |t| logs[t].clone(), trim);
        print(&format!("{kind}, {handles} separate handles"), &row);
    }
    one_writer
}

fn print(name: &str, r: &Row) {
    println!(
        "{name:<44} {:>11.0} appends/s   p50 {:>9.1} us   p99 {:>9.1} us   failed {}",
        r.rate,
        r.p50.as_secs_f64() * 1e6,
        r.p99.as_secs_f64() * 1e6,
        r.failed
    );
}

fn raw_fsync(dir: &std::path::Path, secs: f64) -> f64 {
    let mut f = std::fs::File::create(dir.join("raw")).unwrap_or_else(|e| panic!("raw file: {e}"));
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < secs {
        let _ = f.write_all(&[7u8; 64]);
        let _ = f.sync_data();
        n += 1;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(3.0);
    let dir = tempfile::tempdir().unwrap();
    println!("machine: {} CPUs; {secs} s per row; 3 in-process acceptors; 52-byte values", num_cpus());
    let fsync = raw_fsync(dir.path(), secs);
    println!("{:<44} {:>11.0} writes/s", "raw write + fdatasync", fsync);
    rows("memory", secs, || (0..3).map(|_| LocalAcceptor::in_memory()).collect::<Vec<LocalAcceptor>>());
    let fresh = || tempfile::tempdir_in(dir.path()).unwrap().keep();
    let local = rows("FileLog", secs, || files(&fresh()).into_iter().map(LocalAcceptor::new).collect::<Vec<_>>());
    let threaded = rows("FileLog, AcceptorThread", secs, || {
        files(&fresh()).into_iter().map(|a| AcceptorThread::spawn(a).unwrap()).collect::<Vec<_>>()
    });
    println!(
        "FileLog, 1 writer / raw fsync: LocalAcceptor {:.2}, AcceptorThread {:.2}",
        local / fsync.max(1e-9),
        threaded / fsync.max(1e-9)
    );
}

fn files(dir: &std::path::Path) -> Vec<Acceptor<FileLog, FileLog>> {
    (0..3)
        .map(|i| {
            let p = FileLog::open(dir.join(format!("a{i}/p"))).unwrap_or_else(|e| panic!("{e}"));
            let a = FileLog::open(dir.join(format!("a{i}/a"))).unwrap_or_else(|e| panic!("{e}"));
            Acceptor::new(p, a).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect()
}

fn num_cpus() -> usize {
    thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
