//! The Rust side of the C benchmark: the same decision loop, in Rust, in the same process.

use std::time::Instant;

use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, StdSleeper};

use crate::error::{guard, synodos_status, Fail};
use crate::memory::put;

/// Benchmark helper (used by `make bench-c`): run `decisions` single-decree decisions in pure
/// Rust, over `acceptors` fresh in-memory acceptors, one slot per decision (slot i gets an
/// 8-byte value), exactly the loop the C benchmark runs through the C API. Puts the elapsed
/// wall time in nanoseconds in `*nanos`.
#[no_mangle]
pub extern "C" fn synodos_bench_rust_decisions(acceptors: usize, decisions: u64, nanos: *mut u64) -> synodos_status {
    guard(|| {
        let clients: Vec<_> = (0..acceptors).map(|_| LocalAcceptor::in_memory()).collect();
        let proposer = Proposer::new(clients, CounterIdGenerator::new(1), StdSleeper)?;
        let start = Instant::now();
        for slot in 0..decisions {
            let chosen = futures::executor::block_on(proposer.propose_at(slot, slot.to_le_bytes().to_vec()))?;
            if chosen.len() != 8 {
                return Err(Fail::Core(synodos::Error::InvalidArgument("benchmark chose a wrong value".into())));
            }
        }
        let elapsed = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        // SAFETY: NULL or writable (contract).
        unsafe { put(nanos, elapsed, "nanos") }
    })
}
