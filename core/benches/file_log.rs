//! FileLog throughput against the disk's own limit, in one run:
//!
//! - raw `write + fdatasync` of a 256-byte record (the physical limit of this disk),
//! - `FileLog::record`, one 256-byte record per call,
//! - `FileLog::record_batch` with batches of 16 and 64 (group commit),
//! - recovery: open + replay of 1M 256-byte records (warm and cold page cache; the first
//!   read of freshly written blocks is reported apart: on this VM it is several times slower).
//!
//! `cargo bench -p synodos --bench file_log`. `SYNODOS_BENCH_ROUNDS` (default 5) rounds of
//! `SYNODOS_BENCH_SECS` (default 2); `SYNODOS_BENCH_DIR` where the files go (default: a
//! temporary directory); `SYNODOS_BENCH_RECOVERY` the recovery record count (default 1M).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

use synodos::{FileLog, Log};

const RECORD: usize = 256;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// The four writers, each one `fdatasync` per step.
struct Writers {
    raw: std::fs::File,
    logs: [FileLog; 3],
    next: [u64; 3],
    record: [u8; RECORD],
}

/// Records per step of each writer: raw, FileLog::record, batch of 16, batch of 64.
const BATCHES: [u64; 4] = [1, 1, 16, 64];

impl Writers {
    fn new(dir: &std::path::Path) -> Self {
        let raw = OpenOptions::new().create(true).truncate(true).write(true).open(dir.join("raw")).unwrap();
        let logs = [1, 16, 64].map(|b| FileLog::open(dir.join(format!("log-{b}"))).unwrap());
        Writers { raw, logs, next: [1; 3], record: [0x5a; RECORD] }
    }

    /// One step of writer `k` (an index into [`BATCHES`]).
    fn step(&mut self, k: usize) {
        if k == 0 {
            self.raw.write_all(&self.record).unwrap();
            self.raw.sync_data().unwrap();
            return;
        }
        let i = k - 1;
        let n = BATCHES[k];
        let first = self.next[i];
        if n == 1 {
            self.logs[i].record(first, &self.record).unwrap();
        } else {
            let b: Vec<(u64, &[u8])> = (first..first + n).map(|id| (id, &self.record[..])).collect();
            self.logs[i].record_batch(&b).unwrap();
        }
        self.next[i] += n;
    }
}

/// Run the four writers in turn, one step (one fsync) each, for `secs`: the disk's noise
/// (other processes' I/O, the host) then hits all four alike. Records/s of each.
fn interleaved(w: &mut Writers, secs: f64) -> [f64; 4] {
    let mut spent = [Duration::ZERO; 4];
    let mut steps = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs_f64(secs) {
        for (k, t) in spent.iter_mut().enumerate() {
            let s = Instant::now();
            w.step(k);
            *t += s.elapsed();
        }
        steps += 1;
    }
    std::array::from_fn(|k| (steps * BATCHES[k]) as f64 / spent[k].as_secs_f64())
}

/// Open + replay every record (as `AcceptorCore::recover` does); returns (records/s, MB/s).
fn recover(path: &std::path::Path, n: u64) -> (f64, f64) {
    let start = Instant::now();
    let log = FileLog::open(path).unwrap();
    let mut count = 0u64;
    let mut bytes = 0u64;
    log.range(0, u64::MAX, &mut |_, d| {
        count += 1;
        bytes += d.len() as u64;
        Ok(())
    })
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(count, n);
    (n as f64 / secs, log.file_bytes() as f64 / secs / 1e6)
}

/// Drop `path` from the page cache (POSIX_FADV_DONTNEED on its clean pages).
fn evict(path: &std::path::Path) {
    let file = std::fs::File::open(path).unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
}

/// Recovery of `n` records: warm; cold right after writing (the virtual disk's first read
/// of new blocks is slower); a plain sequential read; cold again.
fn recovery(dir: &std::path::Path, n: u64) -> [(f64, f64); 3] {
    let path = dir.join("recovery");
    let mut log = FileLog::open(&path).unwrap();
    let record = [0x5au8; RECORD];
    let mut id = 1;
    while id <= n {
        let end = (id + 4096).min(n + 1);
        let b: Vec<(u64, &[u8])> = (id..end).map(|i| (i, &record[..])).collect();
        log.record_batch(&b).unwrap();
        id = end;
    }
    drop(log);
    let file = path.join("log");
    let warm = recover(&path, n);
    evict(&file);
    let first = recover(&path, n);
    evict(&file);
    println!("raw sequential read, cold  {:>12.0} MB/s (plain 4 MiB reads of the same file)", raw_cold_read(&file));
    evict(&file);
    let again = recover(&path, n);
    std::fs::remove_dir_all(path).unwrap();
    [warm, first, again]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Read the whole (evicted) file once: what the disk itself delivers.
fn raw_cold_read(path: &std::path::Path) -> f64 {
    use std::io::Read;
    let mut file = std::fs::File::open(path).unwrap();
    let mut buf = vec![0u8; 4 << 20];
    let start = Instant::now();
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    total as f64 / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let secs: f64 = env_or("SYNODOS_BENCH_SECS", 2.0);
    let rounds: usize = env_or("SYNODOS_BENCH_ROUNDS", 5);
    let n: u64 = env_or("SYNODOS_BENCH_RECOVERY", 1_000_000);
    let tmp = match std::env::var("SYNODOS_BENCH_DIR") {
        Ok(d) => tempfile::tempdir_in(d).unwrap(),
        Err(_) => tempfile::tempdir().unwrap(),
    };
    let dir = tmp.path();
    println!(
        "file_log bench: {RECORD}-byte records; {rounds} rounds of {secs} s; in each round raw, unbatched, \
         batch 16 and batch 64 take turns one fsync at a time; medians over rounds; files in {}",
        dir.display()
    );
    let mut w = Writers::new(dir);
    interleaved(&mut w, 0.2); // warm up: the first syncs allocate blocks
    let mut rates: [Vec<f64>; 4] = Default::default();
    let mut ratios: [Vec<f64>; 3] = Default::default();
    for round in 0..rounds {
        let r = interleaved(&mut w, secs);
        println!(
            "  round {round}: raw {:.0}/s, unbatched {:.0}/s, batch16 {:.0}/s, batch64 {:.0}/s",
            r[0], r[1], r[2], r[3]
        );
        for (k, v) in rates.iter_mut().enumerate() {
            v.push(r[k]);
        }
        ratios[0].push(r[1] / r[0]);
        ratios[1].push(r[2] / r[1]);
        ratios[2].push(r[3] / r[1]);
    }
    drop(w);
    let [raw, one, b16, b64] = rates.map(median);
    let [r_one, r16, r64] = ratios.map(median);
    println!("raw write+fdatasync        {raw:>12.0} records/s");
    println!("FileLog record (unbatched) {one:>12.0} records/s   {r_one:.2}x raw");
    println!("FileLog batches of 16      {b16:>12.0} records/s   {r16:.1}x unbatched");
    println!("FileLog batches of 64      {b64:>12.0} records/s   {r64:.1}x unbatched");
    let [(warm, warm_mb), (first, first_mb), (cold, cold_mb)] = recovery(dir, n);
    println!("recovery, warm cache       {warm:>12.0} records/s   ({warm_mb:.0} MB/s of log, {n} records)");
    println!("recovery, cold, 1st read   {first:>12.0} records/s   ({first_mb:.0} MB/s; first read of new blocks)");
    println!("recovery, cold cache       {cold:>12.0} records/s   ({cold_mb:.0} MB/s of log)");
    println!(
        "targets: unbatched >= 0.8x raw: {}; batch 64 >= 20x unbatched: {}; warm and cold recovery >= 1M/s: {}",
        r_one >= 0.8,
        r64 >= 20.0,
        warm.min(cold) >= 1e6
    );
}
