//! Run many simulated schedules: `cargo run --release --example simulate -- 100000 [first_seed]`.
//! Prints `schedules run, violations` and exits non-zero on any violation.

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let first: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let started = std::time::Instant::now();
    let summary = synodos::sim::run_many(first..first + count, None);
    println!(
        "{} schedules run, {} violations ({} events, {} acceptor crashes, {} on a simulated disk with {} crashes mid-write, {:.1} s)",
        summary.schedules,
        summary.violations,
        summary.events,
        summary.crashes,
        summary.disk_schedules,
        summary.crashed_writes,
        started.elapsed().as_secs_f64()
    );
    if let Some((seed, what)) = summary.first_failure {
        println!("first failure: seed {seed}: {what}");
        std::process::exit(1);
    }
}
