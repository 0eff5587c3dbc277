//! Single-decree decisions per second through the driver with in-process acceptors:
//! `cargo run --release -p synodos --example decisions -- [decisions] [acceptors]`.
//! Prints one line, `rust decisions/s: N (acceptors: A, decisions: D)`, for the benchmark
//! scripts of every language to compare against in the same run.

use std::time::Instant;

use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, StdSleeper};

fn main() -> Result<(), synodos::Error> {
    let mut args = std::env::args().skip(1);
    let decisions: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200_000);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let acceptors: Vec<LocalAcceptor> = (0..n).map(|_| LocalAcceptor::in_memory()).collect();
    let proposer = Proposer::new(acceptors, CounterIdGenerator::new(1), StdSleeper)?;
    let value = b"value-0123456789".to_vec();
    let started = Instant::now();
    for slot in 0..decisions {
        let chosen = futures::executor::block_on(proposer.propose_at(slot, value.clone()))?;
        if chosen != value {
            return Err(synodos::Error::InvalidArgument(format!("slot {slot}: unexpected value")));
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("rust decisions/s: {:.0} (acceptors: {n}, decisions: {decisions})", decisions as f64 / secs);
    Ok(())
}
