//! Deterministic simulation, seeded and replayable, on everything else in the crate.
//!
//! - [`kernel`] runs the sans-IO rules ([`AcceptorCore`](crate::AcceptorCore),
//!   [`Attempt`](crate::Attempt), [`Learner`](crate::Learner)) under a faulty network: fast,
//!   so it plays hundreds of thousands of schedules.
//! - [`driver`] runs the code users call ([`Proposer`](crate::Proposer),
//!   [`ReplicatedLog`](crate::ReplicatedLog) with leases, `read` with hole filling, trim,
//!   [`LocalAcceptor`](crate::LocalAcceptor) on simulated disks and
//!   [`AsyncAcceptor`](crate::storage::AsyncAcceptor)) on a virtual-time executor, with
//!   cancelled calls, proposer restarts with fresh id generators, clock jumps and slots at
//!   the end of the slot space.
//! - [`disk`] is a simulated disk that loses unsynced writes, for `FileLog`s.
//!
//! Both simulators check the same oracles against ground truth taken from the acceptors.

#[cfg(feature = "file-log")]
pub mod disk;
pub mod driver;
pub mod kernel;

pub use kernel::{find_violation, run, run_many, run_scenario, Outcome, Scenario, Summary};
