//! The Rust side of the C benchmark: the same decision loop, in Rust, in the same process.

use std::time::Instant;

use synodos::driver::block_on::{block_on, LocalSleeper};
use synodos::{AcceptorClient, CounterIdGenerator, LocalAcceptor, Promise, Proposal, Proposer, Request};

use crate::error::{guard, synodos_status, Fail};
use crate::memory::put;

/// A Rust client that grants and acknowledges everything: the Rust twin of the C benchmark's
/// no-acceptor callbacks. Its answers go through `black_box`, as a real transport's would be
/// opaque to the compiler (otherwise the whole call folds away, which no real client allows).
struct Trivial;

impl AcceptorClient for Trivial {
    async fn prepare(&self, request: &Request) -> synodos::Result<Promise> {
        std::hint::black_box(Ok(Promise { id: request.id, slot: request.slot, ..Promise::default() }))
    }
    async fn accept(&self, proposal: &Proposal) -> synodos::Result<Proposal> {
        std::hint::black_box(Ok(Proposal::new(proposal.id, proposal.slot, Vec::new())))
    }
}

/// Benchmark helper (used by `make bench-c`): run `decisions` single-decree decisions in pure
/// Rust over `acceptors` clients, one slot per decision (slot i gets an 8-byte value), the
/// loop the C benchmark runs through the C API. With `trivial_clients` false the clients are
/// fresh in-memory acceptors; with true they are Rust clients that grant and acknowledge
/// without an acceptor (the twin of C callbacks doing the same). Puts the elapsed wall time in
/// nanoseconds in `*nanos`.
#[no_mangle]
pub extern "C" fn synodos_bench_rust_decisions(
    acceptors: usize,
    decisions: u64,
    trivial_clients: bool,
    nanos: *mut u64,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract). Written first: 0 on every failure.
        unsafe { put(nanos, 0, "nanos") }?;
        let elapsed = if trivial_clients {
            let clients: Vec<_> = (0..acceptors).map(|_| Trivial).collect();
            run(Proposer::new(clients, CounterIdGenerator::new(1), LocalSleeper)?, decisions)?
        } else {
            let clients: Vec<_> = (0..acceptors).map(|_| LocalAcceptor::in_memory()).collect();
            run(Proposer::new(clients, CounterIdGenerator::new(1), LocalSleeper)?, decisions)?
        };
        // SAFETY: NULL or writable (contract).
        unsafe { put(nanos, elapsed, "nanos") }
    })
}

fn run<C: AcceptorClient>(proposer: Proposer<C, LocalSleeper>, decisions: u64) -> Result<u64, Fail> {
    {
        let start = Instant::now();
        for slot in 0..decisions {
            // The same way `synodos_proposer_propose_at` drives it.
            let chosen = block_on(|| proposer.propose_at(slot, slot.to_le_bytes().to_vec()))?;
            if chosen.len() != 8 {
                return Err(Fail::Core(synodos::Error::InvalidArgument("benchmark chose a wrong value".into())));
            }
        }
        Ok(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }
}
