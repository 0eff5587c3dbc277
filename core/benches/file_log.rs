//! FileLog throughput against the disk's own limit, in one run:
//!
//! - raw `write + fdatasync` of a 256-byte record (the physical limit of this disk),
//! - `FileLog::record`, one 256-byte record per call,
//! - `FileLog::record_batch` with batches of 16 and 64 (group commit),
//! - recovery: open + replay of 1M 256-byte records (warm and cold page cache).
//!
//! `cargo bench -p synodos --bench file_log`. `SYNODOS_BENCH_ROUNDS` (default 5) rounds of
//! `SYNODOS_BENCH_SECS` (default 1) per write measurement; `SYNODOS_BENCH_DIR` where the
//! files go (default: a temporary directory); `SYNODOS_BENCH_RECOVERY` the recovery record
//! count (default 1M).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

use synodos::{FileLog, Log};

const RECORD: usize = 256;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Run `step` (which writes `per_step` records) until `secs` pass; records per second.
fn rate(secs: f64, per_step: u64, mut step: impl FnMut()) -> f64 {
    // Warm up: the first syncs allocate blocks and may be slower.
    for _ in 0..5 {
        step();
    }
    let start = Instant::now();
    let mut records = 0u64;
    while start.elapsed() < Duration::from_secs_f64(secs) {
        step();
        records += per_step;
    }
    records as f64 / start.elapsed().as_secs_f64()
}

fn raw_fdatasync(dir: &std::path::Path, secs: f64) -> f64 {
    let path = dir.join("raw");
    let mut file = OpenOptions::new().create(true).truncate(true).write(true).open(&path).unwrap();
    let record = [0x5au8; RECORD];
    let r = rate(secs, 1, || {
        file.write_all(&record).unwrap();
        file.sync_data().unwrap();
    });
    std::fs::remove_file(path).unwrap();
    r
}

fn file_log(dir: &std::path::Path, secs: f64, batch: usize) -> f64 {
    let path = dir.join(format!("log-{batch}"));
    let mut log = FileLog::open(&path).unwrap();
    let record = [0x5au8; RECORD];
    let mut next = 1u64;
    let r = rate(secs, batch as u64, || {
        if batch == 1 {
            log.record(next, &record).unwrap();
        } else {
            let b: Vec<(u64, &[u8])> = (next..next + batch as u64).map(|id| (id, &record[..])).collect();
            log.record_batch(&b).unwrap();
        }
        next += batch as u64;
    });
    drop(log);
    std::fs::remove_dir_all(path).unwrap();
    r
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

fn recovery(dir: &std::path::Path, n: u64) -> ((f64, f64), (f64, f64)) {
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
    let warm = recover(&path, n);
    // Evict just this file from the page cache (POSIX_FADV_DONTNEED on clean pages), so
    // the second replay reads from the disk.
    let file = std::fs::File::open(path.join("log")).unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
    drop(file);
    let cold = recover(&path, n);
    println!(
        "raw sequential read, cold  {:>12.0} MB/s (the disk's limit for cold recovery)",
        raw_cold_read(&path.join("log"))
    );
    std::fs::remove_dir_all(path).unwrap();
    (warm, cold)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Read the whole file once with a cold cache: what the disk itself delivers.
fn raw_cold_read(path: &std::path::Path) -> f64 {
    use std::io::Read;
    let mut file = std::fs::File::open(path).unwrap();
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed).unwrap();
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
    let secs: f64 = env_or("SYNODOS_BENCH_SECS", 1.0);
    let rounds: usize = env_or("SYNODOS_BENCH_ROUNDS", 5);
    let n: u64 = env_or("SYNODOS_BENCH_RECOVERY", 1_000_000);
    let tmp = match std::env::var("SYNODOS_BENCH_DIR") {
        Ok(d) => tempfile::tempdir_in(d).unwrap(),
        Err(_) => tempfile::tempdir().unwrap(),
    };
    let dir = tmp.path();
    println!(
        "file_log bench: {RECORD}-byte records; {rounds} rounds of {secs} s per write measurement, \
         interleaved so disk noise hits all alike; medians; files in {}",
        dir.display()
    );
    // Ratios are taken within each round (same disk conditions), then the median.
    let (mut raw, mut one, mut b16, mut b64) = (vec![], vec![], vec![], vec![]);
    let (mut r_one, mut r16, mut r64) = (vec![], vec![], vec![]);
    for round in 0..rounds {
        let (a, b, c, d) =
            (raw_fdatasync(dir, secs), file_log(dir, secs, 1), file_log(dir, secs, 16), file_log(dir, secs, 64));
        println!("  round {round}: raw {a:.0}/s, unbatched {b:.0}/s, batch16 {c:.0}/s, batch64 {d:.0}/s");
        r_one.push(b / a);
        r16.push(c / b);
        r64.push(d / b);
        raw.push(a);
        one.push(b);
        b16.push(c);
        b64.push(d);
    }
    let (raw, one, b16, b64) = (median(raw), median(one), median(b16), median(b64));
    let (r_one, r16, r64) = (median(r_one), median(r16), median(r64));
    println!("raw write+fdatasync        {raw:>12.0} records/s");
    println!("FileLog record (unbatched) {one:>12.0} records/s   {r_one:.2}x raw");
    println!("FileLog batches of 16      {b16:>12.0} records/s   {r16:.1}x unbatched");
    println!("FileLog batches of 64      {b64:>12.0} records/s   {r64:.1}x unbatched");
    let ((warm, warm_mb), (cold, cold_mb)) = recovery(dir, n);
    println!("recovery, warm cache       {warm:>12.0} records/s   ({warm_mb:.0} MB/s of log, {n} records)");
    println!("recovery, cold cache       {cold:>12.0} records/s   ({cold_mb:.0} MB/s of log, {n} records)");
    println!(
        "targets: unbatched >= 0.8x raw: {}; batch 64 >= 20x unbatched: {}; warm recovery >= 1M/s: {}",
        r_one >= 0.8,
        r64 >= 20.0,
        warm >= 1e6
    );
}
