//! The Rust figure for the JS benchmark (tests/js/bench/bench.mjs): the same loop as the JS
//! one, natively: `Proposer::propose_at` at increasing slots over three in-process
//! acceptors, one decision at a time. Prints `decisions_per_sec <n>`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::{Duration, Instant};

use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, Sleeper};

/// In-process acceptors answer at once, so the driver never starts a timer; with a single
/// proposer there is no backoff either.
struct NoTimer;

impl Sleeper for NoTimer {
    fn sleep(&self, _: Duration) -> impl Future<Output = ()> {
        std::future::ready(())
    }
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let acceptors: Vec<_> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    let proposer = Proposer::new(acceptors, CounterIdGenerator::new(1), NoTimer).unwrap();
    let value = b"value-0123456789".to_vec();
    futures::executor::block_on(async {
        // warm-up
        for slot in 0..n / 10 {
            proposer.propose_at(slot, value.clone()).await.unwrap();
        }
        let start = Instant::now();
        for slot in n / 10..n / 10 + n {
            let chosen = proposer.propose_at(slot, value.clone()).await.unwrap();
            assert_eq!(chosen.len(), value.len());
        }
        let secs = start.elapsed().as_secs_f64();
        println!("decisions_per_sec {:.0}", n as f64 / secs);
    });
}
