//! # synodos
//!
//! Paxos consensus with one Rust core and bindings for Python, JavaScript and C.
//!
//! - [`AcceptorCore`], [`Attempt`] and [`Learner`] are the protocol as sans-IO state
//!   machines: they take messages and return what to persist, what to send and what was
//!   chosen. No threads, clocks, sockets or files.
//! - [`Acceptor`] runs the acceptor rules over two [`Log`]s, writing before it answers.
//! - [`Proposer`] and [`ReplicatedLog`] drive those rules over user-supplied
//!   [`AcceptorClient`]s (the transport), with timeouts, backoff and ballot leaping.
//! - [`sim`] runs all of it under a seeded, deterministic faulty network.
//!
//! ```
//! use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, ReplicatedLog, StdSleeper};
//!
//! let acceptors: Vec<_> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
//! let proposer = Proposer::new(acceptors.clone(), CounterIdGenerator::new(1), StdSleeper).unwrap();
//! assert_eq!(proposer.propose_blocking(b"v1".to_vec()).unwrap(), b"v1");
//!
//! let log = ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(2), StdSleeper).unwrap());
//! let entry = log.append_blocking(b"first entry".to_vec()).unwrap();
//! assert_eq!(entry.value, b"first entry");
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod acceptor;
pub mod async_log;
pub mod driver;
pub mod error;
#[cfg(feature = "file-log")]
pub mod file_log;
pub mod id;
pub mod learner;
pub mod limits;
pub mod log;
pub mod message;
pub mod proposer;
pub mod sim;
#[cfg(feature = "file-log")]
pub mod sim_disk;
mod slots;

pub use acceptor::{persist_all, Acceptor, AcceptorCore, Pending, Write};
#[cfg(feature = "std-timer")]
pub use driver::StdSleeper;
#[cfg(feature = "tokio")]
pub use driver::TokioSleeper;
pub use driver::{AcceptorClient, Decision, LocalAcceptor, Proposer, ProposerConfig, ReplicatedLog, Sleeper};
pub use error::{AcceptorFailure, Cause, Error, Failures, Result};
#[cfg(feature = "file-log")]
pub use file_log::FileLog;
pub use id::{Clock, CounterIdGenerator, IdGenerator, ManualClock, ServerIdGenerator, SystemClock};
pub use learner::Learner;
pub use log::{Log, MemoryLog};
pub use message::{wire, Ballot, Entry, Promise, Proposal, Request, Slot};
pub use proposer::{majority, Attempt, Progress};

/// The Rust examples of the top-level README, compiled and run as doc tests.
#[cfg(all(doctest, feature = "std-timer", feature = "file-log"))]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;

/// A deliberate protocol bug, switched on only by tests, to prove the simulator catches
/// each one. Never set in production code.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// The ancestor's defect: a promise carries the accepted value only when `attempt > 1`.
    AncestorAttemptGate,
    /// An accept does not raise the acceptor's promise.
    AcceptDoesNotRaisePromise,
    /// An acceptor accepts below its promise.
    AcceptIgnoresPromise,
    /// The proposer's quorum is one short of a majority.
    QuorumOneShort,
    /// The proposer proposes its own value even when an acceptor reported an accepted one.
    ProposerIgnoresAccepted,
    /// After a restart the acceptor forgets the ballots it promised.
    RecoveryForgetsPromise,
    /// The learner counts a value chosen one acceptor short of a majority.
    LearnerQuorumOneShort,
    /// A leader skips phase 1 on later slots even when an acceptor had accepted there.
    LeaseIgnoresFrontier,
}

impl Mutation {
    /// Every mutation.
    pub const ALL: [Mutation; 8] = [
        Mutation::AncestorAttemptGate,
        Mutation::AcceptDoesNotRaisePromise,
        Mutation::AcceptIgnoresPromise,
        Mutation::QuorumOneShort,
        Mutation::ProposerIgnoresAccepted,
        Mutation::RecoveryForgetsPromise,
        Mutation::LearnerQuorumOneShort,
        Mutation::LeaseIgnoresFrontier,
    ];
}
