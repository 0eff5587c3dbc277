//! `synodos bench`: appends/s and latency through a [`NodeClient`], for several numbers of
//! concurrent clients.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use std::io::Write;

use super::commands::{say, ClientArgs};
use super::Fatal;

#[derive(Args)]
pub(crate) struct BenchArgs {
    /// Numbers of concurrent clients, one run each, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,64,256")]
    clients: Vec<usize>,
    /// Seconds per run.
    #[arg(long, default_value_t = 5.0, value_parser = super::seconds)]
    seconds: f64,
    /// Bytes per value (each value starts with a unique id).
    #[arg(long, default_value_t = 256)]
    value_size: usize,
    /// Print one JSON object per run instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) fn run(args: BenchArgs) -> Result<(), Fatal> {
    if args.clients.iter().any(|c| *c == 0 || *c > 10_000) {
        return Err(Fatal::new(2, "--clients: each number must be 1 to 10000"));
    }
    if args.value_size > 1 << 20 {
        return Err(Fatal::new(2, "--value-size: at most 1048576 (the nodes' default body limit)"));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Fatal::new(1, format!("cannot start a runtime: {e}")))?;
    let options = args.client.options()?.runtime(runtime.handle().clone());
    let client = args.client.client(options)?;
    if !args.json {
        say!(
            "{:>8}  {:>9}  {:>10}  {:>9}  {:>9}  {:>7}",
            "clients",
            "appends",
            "appends/s",
            "p50 ms",
            "p99 ms",
            "errors"
        );
    }
    let mut failed = false;
    for &n in &args.clients {
        let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
        let errors = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let tasks: Vec<_> = (0..n)
            .map(|t| {
                let client = client.clone();
                let errors = errors.clone();
                let size = args.value_size;
                runtime.spawn(async move {
                    let mut latencies = Vec::new();
                    let mut i = 0u64;
                    while Instant::now() < deadline {
                        let mut value = format!("bench {n} {t} {i} ").into_bytes();
                        value.resize(size.max(value.len()), b'x');
                        let at = Instant::now();
                        match client.append(value).await {
                            Ok(_) => latencies.push(at.elapsed()),
                            Err(e) => {
                                if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                    eprintln!("synodos: warning: an append failed: {e}");
                                }
                            }
                        }
                        i += 1;
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            if let Ok(l) = runtime.block_on(task) {
                latencies.extend(l);
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort_unstable();
        let count = latencies.len();
        let rate = count as f64 / elapsed;
        let (p50, p99) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99));
        let errors = errors.load(Ordering::Relaxed);
        failed |= errors > 0 || count == 0;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        if args.json {
            say!(
                "{{\"clients\":{n},\"appends\":{count},\"appends_per_s\":{rate:.1},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"errors\":{errors}}}",
                ms(p50),
                ms(p99)
            );
        } else {
            say!("{n:>8}  {count:>9}  {rate:>10.0}  {:>9.2}  {:>9.2}  {errors:>7}", ms(p50), ms(p99));
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    if failed {
        return Err(Fatal::new(7, "some appends failed (see above): check the nodes with synodos status"));
    }
    Ok(())
}
