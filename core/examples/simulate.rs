//! Run many simulated schedules:
//! `cargo run --release --example simulate -- 100000 [first_seed]` plays the kernel
//! simulator and every family of the driver simulator (the driver share is a fifth of the
//! count per family, as its schedules are larger). `-- --family NAME N [--mutation M]`
//! plays one family. Prints `schedules run, violations` and exits non-zero on any
//! violation.

use synodos::sim::driver::{self, Family};
use synodos::Mutation;

fn family(name: &str) -> Option<Family> {
    Family::ALL.into_iter().find(|f| format!("{f:?}").eq_ignore_ascii_case(name))
}

fn mutation(name: &str) -> Option<Mutation> {
    Mutation::ALL.into_iter().find(|m| format!("{m:?}").eq_ignore_ascii_case(name))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let started = std::time::Instant::now();
    if args.first().map(String::as_str) == Some("--family") {
        let Some(f) = args.get(1).and_then(|n| family(n)) else {
            eprintln!("simulate: --family needs one of {:?}", Family::ALL);
            std::process::exit(2);
        };
        let count: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);
        let m = match args.iter().position(|a| a == "--mutation") {
            Some(i) => match args.get(i + 1).and_then(|n| mutation(n)) {
                Some(m) => Some(m),
                None => {
                    eprintln!("simulate: --mutation needs one of {:?}", Mutation::ALL);
                    std::process::exit(2);
                }
            },
            None => None,
        };
        let s = driver::run_many(f, 0..count, m);
        println!(
            "driver {f:?}: {} schedules run, {} violations ({} events, {} acked, {} acceptor crashes, {} writer restarts, {} cancellations, {} trims, {:.1} s)",
            s.schedules, s.violations, s.events, s.acked, s.acceptor_crashes, s.writer_restarts, s.cancellations, s.trims,
            started.elapsed().as_secs_f64()
        );
        if let Some((seed, what)) = s.first_failure {
            println!("first failure: seed {seed}: {what}");
            std::process::exit(1);
        }
        return;
    }
    let count: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let first: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    let summary = synodos::sim::run_many(first..first + count, None);
    println!(
        "kernel: {} schedules run, {} violations ({} events, {} acceptor crashes, {} on a simulated disk with {} crashes mid-write, {:.1} s)",
        summary.schedules,
        summary.violations,
        summary.events,
        summary.crashes,
        summary.disk_schedules,
        summary.crashed_writes,
        started.elapsed().as_secs_f64()
    );
    let mut failed = summary.first_failure.map(|(seed, what)| format!("kernel seed {seed}: {what}"));
    let per_family = (count / 5).max(1);
    for f in Family::ALL {
        let t = std::time::Instant::now();
        let s = driver::run_many(f, first..first + per_family, None);
        println!(
            "driver {f:?}: {} schedules run, {} violations ({} events, {} acked, {} acceptor crashes, {} writer restarts, {} cancellations, {} trims, {:.1} s)",
            s.schedules, s.violations, s.events, s.acked, s.acceptor_crashes, s.writer_restarts, s.cancellations, s.trims,
            t.elapsed().as_secs_f64()
        );
        if failed.is_none() {
            failed = s.first_failure.map(|(seed, what)| format!("driver {f:?} seed {seed}: {what}"));
        }
    }
    if let Some(what) = failed {
        println!("first failure: {what}");
        std::process::exit(1);
    }
}
