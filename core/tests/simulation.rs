//! The deterministic simulation: many seeded schedules with faults must break no oracle,
//! and each injected protocol bug must be caught.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use synodos::sim;
use synodos::Mutation;

fn schedules() -> u64 {
    std::env::var("SYNODOS_SIM_SCHEDULES").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000)
}

#[test]
fn simulated_schedules_break_no_oracle() {
    let n = schedules();
    let summary = sim::run_many(0..n, None);
    println!(
        "{} schedules run, {} violations ({} events, {} crashes)",
        summary.schedules, summary.violations, summary.events, summary.crashes
    );
    assert_eq!(summary.schedules, n);
    assert_eq!(summary.violations, 0, "first failure (seed, what): {:?}", summary.first_failure);
    assert!(summary.crashes > 0, "the schedules must actually crash acceptors");
    if cfg!(feature = "file-log") {
        assert!(summary.disk_schedules > 0 && summary.crashed_writes > 0, "{summary:?}");
    }
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [1, 77, 4242] {
        let a = sim::run(seed, None);
        let b = sim::run(seed, None);
        assert_eq!((a.digest, a.events, a.chosen), (b.digest, b.events, b.chosen));
    }
    assert_ne!(sim::run(1, None).digest, sim::run(2, None).digest);
}

#[test]
fn every_schedule_chooses_something() {
    for seed in 0..200 {
        let outcome = sim::run(seed, None);
        let scenario = outcome.scenario.as_ref().unwrap();
        let want =
            if scenario.values_per_proposer == 1 { 1 } else { scenario.proposers * scenario.values_per_proposer };
        assert!(outcome.chosen >= want, "seed {seed}: {} chosen, want at least {want}", outcome.chosen);
    }
}

/// The simulator must catch real protocol bugs: each mutation below is a one-line change
/// in the core that breaks Paxos, and some seed must expose it.
#[test]
fn the_simulator_catches_injected_protocol_bugs() {
    let mut caught = Vec::new();
    for mutation in Mutation::ALL {
        match sim::find_violation(Some(mutation), 0, 3000) {
            Some((seed, what)) => {
                println!("{mutation:?}: caught at seed {seed}: {what}");
                caught.push(mutation);
            }
            None => println!("{mutation:?}: not caught in 3000 schedules"),
        }
    }
    assert_eq!(caught, Mutation::ALL, "every injected bug must be caught");
}
