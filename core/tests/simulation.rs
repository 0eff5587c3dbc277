//! The deterministic simulation: many seeded schedules with faults must break no oracle,
//! and each injected protocol bug must be caught.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use synodos::sim;
use synodos::sim::driver::{self, Family};
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

/// The injected bugs the kernel simulator can reach (the others live in the driver, the
/// async acceptor, or at the end of the slot space, which only the driver simulator runs).
const KERNEL_MUTATIONS: [Mutation; 8] = [
    Mutation::AncestorAttemptGate,
    Mutation::AcceptDoesNotRaisePromise,
    Mutation::AcceptIgnoresPromise,
    Mutation::QuorumOneShort,
    Mutation::ProposerIgnoresAccepted,
    Mutation::RecoveryForgetsPromise,
    Mutation::LearnerQuorumOneShort,
    Mutation::LeaseIgnoresFrontier,
];

/// The fraction of `n` schedules in which `run(seed)` reports a violation.
fn caught_in(n: u64, run: impl Fn(u64) -> bool) -> f64 {
    (0..n).filter(|&seed| run(seed)).count() as f64 / n as f64
}

/// The simulators must catch real protocol bugs, and not by luck: each injected bug must
/// show up in at least 10% of the schedules of the family aimed at it.
#[test]
fn the_simulators_catch_every_injected_bug_in_a_tenth_of_its_schedules() {
    let mut missed = Vec::new();
    for mutation in KERNEL_MUTATIONS {
        let rate = caught_in(1000, |seed| !sim::run(seed, Some(mutation)).violations.is_empty());
        println!("kernel, {mutation:?}: caught in {:.1}% of schedules", rate * 100.0);
        if rate < 0.10 {
            missed.push(format!("kernel {mutation:?} {:.1}%", rate * 100.0));
        }
    }
    // (`FollowerIgnoresLeader` costs liveness under contention, not safety: its test is in
    // tests/contention.rs.)
    for mutation in Mutation::ALL.into_iter().filter(|m| *m != Mutation::FollowerIgnoresLeader) {
        let family = Family::aimed_at(mutation);
        let rate = caught_in(400, |seed| !driver::run(family, seed, Some(mutation)).violations.is_empty());
        println!("driver {family:?}, {mutation:?}: caught in {:.1}% of schedules", rate * 100.0);
        if rate < 0.10 {
            missed.push(format!("driver {family:?} {mutation:?} {:.1}%", rate * 100.0));
        }
    }
    assert!(missed.is_empty(), "caught in fewer than 10% of the schedules aimed at them: {missed:?}");
}

/// Each driver family, many seeds: no oracle breaks, and the faults it is about happen.
#[test]
fn driver_schedules_break_no_oracle() {
    let n = (schedules() / 16).max(100);
    for family in Family::ALL {
        let s = driver::run_many(family, 0..n, None);
        println!(
            "driver {family:?}: {} schedules, {} violations ({} events, {} acked, {} acceptor crashes, {} writer restarts, {} cancellations, {} trims)",
            s.schedules, s.violations, s.events, s.acked, s.acceptor_crashes, s.writer_restarts, s.cancellations, s.trims
        );
        assert_eq!(s.violations, 0, "{family:?}: first failure (seed, what): {:?}", s.first_failure);
        assert!(s.acked > 0, "{family:?}: something must be appended");
        match family {
            Family::Restarts => assert!(s.writer_restarts > s.schedules, "{s:?}"),
            Family::Cancellation => assert!(s.cancellations > s.schedules && s.acceptor_crashes > 0, "{s:?}"),
            Family::Trim => assert!(s.trims > s.schedules, "{s:?}"),
            Family::General | Family::Contention => assert!(s.acceptor_crashes > 0 && s.cancellations > 0, "{s:?}"),
            Family::Batching => {
                assert!(s.batches > 0 && s.batched_appends > 2 * s.batches, "appends share batches: {s:?}")
            }
            Family::LastSlots | Family::AncestorLinks | Family::EightWriters | Family::LeaderPause => {}
        }
    }
}

#[test]
fn a_driver_seed_replays_exactly() {
    for family in Family::ALL {
        for seed in [3, 1234] {
            let (a, b) = (driver::run(family, seed, None), driver::run(family, seed, None));
            assert_eq!((a.digest, a.events, a.acked), (b.digest, b.events, b.acked), "{family:?} seed {seed}");
        }
    }
}
