//! `make bench-net`: the network transport on loopback, every workload in one run.
//!
//! - the raw `write` + `fdatasync` rate of the disk the FileLogs are on;
//! - the HTTP round trip to a no-op endpoint (`/healthz`), HTTP/1.1 keep-alive and h2c;
//! - decisions/s through `HttpAcceptor`s to three `synodos serve` processes, on memory logs
//!   and on FileLogs: 1 in flight (a `Proposer` deciding fresh slots, prepare + accept: 2
//!   round trips and 2 fsyncs each) and 64 in flight (64 concurrent appends on one
//!   `ReplicatedLog`, which lead with one ballot: accept only);
//! - then the ratios the targets are stated in.
//!
//! `SYNODOS_BENCH_SECS` sets each workload's duration (default 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use synodos::{CounterIdGenerator, Proposer, ProposerConfig, ReplicatedLog, TokioSleeper};
use synodos_net::{ClientOptions, HttpAcceptor, HttpVersion};

/// A `synodos serve` process, killed by its pid when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(id: u64, data: Option<&std::path::Path>, threads: usize) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_synodos"));
        cmd.args(["serve", "--id", &id.to_string(), "--cluster", "bench", "--listen", "127.0.0.1:0"]);
        cmd.args(["--log-level", "warn", "--threads", &threads.to_string()]);
        match data {
            Some(dir) => cmd.arg("--data").arg(dir),
            None => cmd.arg("--memory"),
        };
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start synodos serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_string();
        assert!(url.starts_with("http://"), "no ready line: {line:?}");
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn secs() -> Duration {
    let s = std::env::var("SYNODOS_BENCH_SECS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(3.0);
    Duration::from_secs_f64(s.max(0.2))
}

/// `write` + `fdatasync` of 256 bytes in a loop: (ops/s, mean latency).
fn raw_fsync(dir: &std::path::Path, for_: Duration) -> (f64, Duration) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::create(dir.join("raw")).unwrap();
    let buf = [0x5au8; 256];
    let (start, mut n, mut at) = (Instant::now(), 0u64, 0u64);
    while start.elapsed() < for_ {
        f.write_at(&buf, at).unwrap();
        f.sync_data().unwrap();
        at += 256;
        n += 1;
    }
    let e = start.elapsed();
    (n as f64 / e.as_secs_f64(), e / n.max(1) as u32)
}

/// Three writers on one disk, like three acceptors on one machine, each `write` +
/// `fdatasync` at the same moment, round after round: the mean time until the second of the
/// three is durable (what a majority waits for).
fn majority_fsync(dir: &std::path::Path, for_: Duration) -> Duration {
    use std::os::unix::fs::FileExt;
    use std::sync::{Barrier, Mutex};
    let start_line = Arc::new(Barrier::new(4));
    let finish_line = Arc::new(Barrier::new(4));
    let done = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|i| {
            let (start_line, finish_line, done, stop) =
                (start_line.clone(), finish_line.clone(), done.clone(), stop.clone());
            let f = std::fs::File::create(dir.join(format!("majority{i}"))).unwrap();
            std::thread::spawn(move || {
                let buf = [0x5au8; 256];
                let mut at = 0;
                loop {
                    start_line.wait();
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    f.write_at(&buf, at).unwrap();
                    f.sync_data().unwrap();
                    at += 256;
                    done.lock().unwrap().push(Instant::now());
                    finish_line.wait();
                }
            })
        })
        .collect();
    let (begin, mut total, mut rounds) = (Instant::now(), Duration::ZERO, 0u32);
    loop {
        let over = begin.elapsed() >= for_;
        stop.store(over, Ordering::SeqCst);
        let t = Instant::now();
        start_line.wait();
        if over {
            break;
        }
        finish_line.wait();
        let mut times = std::mem::take(&mut *done.lock().unwrap());
        times.sort();
        total += times[1] - t;
        rounds += 1;
    }
    for w in writers {
        w.join().unwrap();
    }
    total / rounds.max(1)
}

/// Sequential GET /healthz on one keep-alive connection: mean round trip.
fn rtt(url: &str, h2: bool, for_: Duration) -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.set_nodelay(true);
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(h2)
            .build::<_, Full<Bytes>>(http);
        let uri: http::Uri = format!("{url}/healthz").parse().unwrap();
        let get = || async {
            let resp = client.get(uri.clone()).await.unwrap();
            assert_eq!(resp.status(), 200);
            resp.into_body().collect().await.unwrap();
        };
        for _ in 0..200 {
            get().await;
        }
        let (start, mut n) = (Instant::now(), 0u32);
        while start.elapsed() < for_ {
            get().await;
            n += 1;
        }
        start.elapsed() / n.max(1)
    })
}

fn clients(servers: &[Server], version: HttpVersion) -> Vec<HttpAcceptor> {
    clients_on(servers, version, None)
}

/// Clients whose I/O runs on `runtime` (the proposer's own) instead of the library's.
fn clients_on(servers: &[Server], version: HttpVersion, runtime: Option<tokio::runtime::Handle>) -> Vec<HttpAcceptor> {
    let mut options = ClientOptions::new().cluster("bench").http_version(version);
    if let Some(h) = runtime {
        options = options.runtime(h);
    }
    servers.iter().map(|s| HttpAcceptor::new(&s.url, options.clone()).unwrap()).collect()
}

fn config() -> ProposerConfig {
    ProposerConfig { call_timeout: Duration::from_secs(5), max_attempts: 50, ..ProposerConfig::default() }
}

/// One proposer, one decision at a time, fresh slots (prepare + accept): decisions/s and
/// mean latency. With `same_runtime`, the clients' I/O runs on the proposer's runtime.
fn one_in_flight(servers: &[Server], version: HttpVersion, same_runtime: bool, for_: Duration) -> (f64, Duration) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let clients = clients_on(servers, version, same_runtime.then(|| rt.handle().clone()));
    let first_slot = 0;
    rt.block_on(async {
        let p = Proposer::with_config(clients, Arc::new(CounterIdGenerator::new(1)), TokioSleeper, config()).unwrap();
        let value = vec![0x42u8; 16];
        let mut slot = first_slot;
        for _ in 0..50 {
            p.propose_at(slot, value.clone()).await.unwrap();
            slot += 1;
        }
        let (start, mut n) = (Instant::now(), 0u64);
        while start.elapsed() < for_ {
            p.propose_at(slot, value.clone()).await.unwrap();
            slot += 1;
            n += 1;
        }
        let e = start.elapsed();
        (n as f64 / e.as_secs_f64(), e / n.max(1) as u32)
    })
}

/// `writers` concurrent appends on one ReplicatedLog (it leads: one ballot, accept only):
/// appends/s, failed appends.
fn in_flight(clients: Vec<HttpAcceptor>, node: u16, writers: usize, for_: Duration) -> (f64, u64) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let p =
            Proposer::with_config(clients, Arc::new(CounterIdGenerator::new(node)), TokioSleeper, config()).unwrap();
        let log = Arc::new(ReplicatedLog::new(p));
        // Find the end of the log and take the lease.
        log.append(vec![0u8; 16]).await.unwrap();
        let done = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let tasks = (0..writers).map(|w| {
            let (log, done, failed, stop) = (log.clone(), done.clone(), failed.clone(), stop.clone());
            async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut value = vec![0x42u8; 16];
                    value[..8].copy_from_slice(&(w as u64).to_le_bytes());
                    value[8..].copy_from_slice(&i.to_le_bytes());
                    match log.append(value).await {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(e) => {
                            eprintln!("append failed: {e}");
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                    i += 1;
                }
            }
        });
        let all = futures::future::join_all(tasks);
        let timer = async {
            tokio::time::sleep(for_).await;
            stop.store(true, Ordering::Relaxed);
        };
        let measured = async {
            timer.await;
            (done.load(Ordering::Relaxed), start.elapsed())
        };
        let ((n, e), _) = futures::join!(measured, all);
        (n as f64 / e.as_secs_f64(), failed.load(Ordering::Relaxed))
    })
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    format!(
        "{} x {cpu}, kernel {}, load average {}",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        kernel.trim(),
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    )
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters nothing here.
    let for_ = secs();
    let tmp = tempfile::tempdir_in(
        std::env::var_os("SYNODOS_BENCH_DIR").unwrap_or_else(|| env!("CARGO_TARGET_TMPDIR").into()),
    )
    .unwrap();
    println!("synodos-net benchmark: {} per workload; {}", humantime(for_), machine());

    let (fsyncs, fsync) = raw_fsync(tmp.path(), for_);
    println!("raw write+fdatasync: {fsyncs:.0}/s, {} each", us(fsync));

    // Each workload gets three fresh servers (and fresh data directories): a proposer's
    // decisions far up the log would deny a later ReplicatedLog its lease (an acceptor's
    // frontier beyond its slot), and a log's entries would make the next log learn them first.
    let dirs = std::sync::atomic::AtomicUsize::new(0);
    let three = |files: bool, threads: usize| -> Vec<Server> {
        let n = dirs.fetch_add(1, Ordering::Relaxed);
        (1..=3)
            .map(|id| {
                let dir = tmp.path().join(format!("w{n}-a{id}"));
                Server::start(id, files.then_some(dir.as_path()), threads)
            })
            .collect()
    };
    let memory = three(false, 2);
    let rtt_h1 = rtt(&memory[0].url, false, for_);
    let rtt_h2 = rtt(&memory[0].url, true, for_);
    println!("HTTP round trip to /healthz: HTTP/1.1 {}, h2c {}", us(rtt_h1), us(rtt_h2));
    let (mem1, mem1_lat) = one_in_flight(&memory, HttpVersion::Http1, false, for_);
    drop(memory);
    println!("memory, 1 in flight (Proposer, prepare+accept), HTTP/1.1: {mem1:.0} decisions/s, {} each", us(mem1_lat));
    let (mem1h2, mem1h2_lat) = one_in_flight(&three(false, 2), HttpVersion::Http2, false, for_);
    println!("memory, 1 in flight, h2c: {mem1h2:.0} decisions/s, {} each", us(mem1h2_lat));
    let (mem1t, mem1t_lat) = one_in_flight(&three(false, 1), HttpVersion::Http1, true, for_);
    println!("memory, 1 in flight, HTTP/1.1, tuned (servers --threads 1, clients on the proposer's runtime): {mem1t:.0} decisions/s, {} each", us(mem1t_lat));
    let (mem64, mem64_failed) = in_flight(clients(&three(false, 2), HttpVersion::Http1), 2, 64, for_);
    println!("memory, 64 in flight (ReplicatedLog appends), HTTP/1.1: {mem64:.0}/s, {mem64_failed} failed");
    let (mem64h2, mem64h2_failed) = in_flight(clients(&three(false, 2), HttpVersion::Http2), 3, 64, for_);
    println!("memory, 64 in flight, h2c: {mem64h2:.0}/s, {mem64h2_failed} failed");

    // The disk's fsync time moves a lot on a shared machine: measure it around the FileLog
    // decisions and take the mean.
    let (_, fsync_before) = raw_fsync(tmp.path(), for_ / 2);
    let (file1, file1_lat) = one_in_flight(&three(true, 2), HttpVersion::Http1, false, for_);
    println!(
        "FileLog, 1 in flight (Proposer, prepare+accept), HTTP/1.1: {file1:.0} decisions/s, {} each",
        us(file1_lat)
    );
    let (file1t, file1t_lat) = one_in_flight(&three(true, 1), HttpVersion::Http1, true, for_);
    println!("FileLog, 1 in flight, HTTP/1.1, tuned: {file1t:.0} decisions/s, {} each", us(file1t_lat));
    let (_, fsync_after) = raw_fsync(tmp.path(), for_ / 2);
    let fsync_mean = (fsync_before + fsync_after) / 2;
    let majority = majority_fsync(tmp.path(), for_ / 2);
    println!(
        "raw write+fdatasync around them: {} before, {} after; three writers at once, the second durable after {}",
        us(fsync_before),
        us(fsync_after),
        us(majority)
    );
    let (file64, file64_failed) = in_flight(clients(&three(true, 2), HttpVersion::Http1), 2, 64, for_);
    println!("FileLog, 64 in flight (ReplicatedLog appends), HTTP/1.1: {file64:.0}/s, {file64_failed} failed");
    let (file64h2, file64h2_failed) = in_flight(clients(&three(true, 2), HttpVersion::Http2), 3, 64, for_);
    println!("FileLog, 64 in flight, h2c: {file64h2:.0}/s, {file64h2_failed} failed");

    let budget = 2 * rtt_h1 + 2 * fsync_mean;
    let verdict = |r: f64| if r <= 1.2 { "met" } else { "missed" };
    let ratio = file1_lat.as_secs_f64() / budget.as_secs_f64();
    let ratio_t = file1t_lat.as_secs_f64() / budget.as_secs_f64();
    println!();
    println!("| measure | value | target |");
    println!("|---|---:|---|");
    println!("| 2 RTT + 2 fsyncs | 2 x {} + 2 x {} = {} | |", us(rtt_h1), us(fsync_mean), us(budget));
    println!(
        "| FileLog decision, 1 in flight / (2 RTT + 2 fsyncs) | {} / {} = **{ratio:.2}** | <= 1.2: {} |",
        us(file1_lat),
        us(budget),
        verdict(ratio)
    );
    println!(
        "| the same, tuned | {} / {} = **{ratio_t:.2}** | <= 1.2: {} |",
        us(file1t_lat),
        us(budget),
        verdict(ratio_t)
    );
    let shared = 2 * rtt_h1 + 2 * majority;
    println!(
        "| FileLog decision / (2 RTT + 2 majority fsyncs: the second of three writers on the one disk) | {} / {} = {:.2} (tuned {:.2}) | |",
        us(file1_lat),
        us(shared),
        file1_lat.as_secs_f64() / shared.as_secs_f64(),
        file1t_lat.as_secs_f64() / shared.as_secs_f64()
    );
    let mem_ratio = mem1_lat.as_secs_f64() / (2 * rtt_h1).as_secs_f64();
    println!("| memory decision, 1 in flight / 2 RTT | {} / {} = {mem_ratio:.2} | |", us(mem1_lat), us(2 * rtt_h1));
    let best64 = mem64.max(mem64h2);
    println!(
        "| memory, 64 in flight / 344 (the seed) | {best64:.0} / 344 = **{:.1}x** | >= 20x: {} |",
        best64 / 344.0,
        if best64 >= 20.0 * 344.0 { "met" } else { "missed" }
    );
    let best_file64 = file64.max(file64h2);
    println!("| FileLog, 64 in flight / 1 in flight | {best_file64:.0} / {file1:.0} = {:.1}x | |", best_file64 / file1);
    let _ = std::io::stdout().flush();
}

fn us(d: Duration) -> String {
    format!("{:.0} us", d.as_secs_f64() * 1e6)
}

fn humantime(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}
