//! # synodos
//!
//! Paxos consensus with one Rust core and bindings for Python, JavaScript and C.
//!
//! The crate is in four folders, each depending only on the ones before it:
//!
//! - [`protocol`]: [`AcceptorCore`], [`Attempt`] and [`Learner`] are the protocol as
//!   sans-IO state machines: they take messages and return what to persist, what to send
//!   and what was chosen. No threads, clocks, sockets or files.
//! - [`storage`]: [`Log`], [`MemoryLog`], [`FileLog`], the conformance kit, and
//!   [`Acceptor`] (the acceptor rules over two logs, writing before it answers).
//! - [`driver`]: [`Proposer`] and [`ReplicatedLog`] drive the rules over user-supplied
//!   [`AcceptorClient`]s (the transport), with timeouts, backoff and ballot leaping; id
//!   generators and timers.
//! - [`sim`]: all of it under seeded, deterministic faults.
//!
//! Everything a user needs is re-exported here, at the crate root.
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

pub mod driver;
pub mod protocol;
pub mod sim;
pub mod storage;

#[cfg(feature = "std-timer")]
pub use driver::StdSleeper;
#[cfg(feature = "tokio")]
pub use driver::TokioSleeper;
pub use driver::{
    AcceptorClient, Clock, CounterIdGenerator, Decision, IdGenerator, LocalAcceptor, ManualClock, Proposer,
    ProposerConfig, ReplicatedLog, ServerIdGenerator, Sleeper, SystemClock,
};
#[cfg(not(target_family = "wasm"))]
pub use driver::{AcceptorThread, InProcessAcceptor};
pub use protocol::acceptor::{AcceptorCore, Pending, Rebuild, Write};
pub use protocol::attempt::{majority, Attempt, Lease, Progress};
pub use protocol::error::{AcceptorFailure, Cause, Error, Failures, Result};
pub use protocol::learner::Learner;
pub use protocol::message::{wire, Ballot, Batch, BatchEntry, Entry, Promise, Proposal, Request, Slot, LAST_SLOT};
#[doc(hidden)]
pub use protocol::mutation::Mutation;
#[cfg(feature = "file-log")]
pub use storage::file_log::FileLog;
pub use storage::{persist_all, Acceptor, AcceptorAnswer, AcceptorCall, Log, MemoryLog};

// The module paths of the first release, kept so that code written against them still
// builds: each is the same items under their old path.
pub use driver::limits;
pub use protocol::{error, learner, message};
#[cfg(feature = "file-log")]
pub use sim::disk as sim_disk;
#[cfg(feature = "file-log")]
pub use storage::file_log;

/// The acceptor and its persistence (now [`protocol::acceptor`] and [`storage`]).
pub mod acceptor {
    pub use crate::protocol::acceptor::{AcceptorCore, Pending, Rebuild, Write};
    pub use crate::storage::{persist_all, Acceptor, OBSERVE_QUEUE};
}

/// One proposer attempt (now [`protocol::attempt`]).
pub mod proposer {
    pub use crate::protocol::attempt::*;
}

/// Id generators and clocks (now [`driver::ids`] and [`driver::clock`]).
pub mod id {
    pub use crate::driver::clock::{Clock, ManualClock, SystemClock};
    pub use crate::driver::ids::*;
}

/// Synchronous logs (now [`storage`]).
pub mod log {
    pub use crate::storage::{check_batch_order, Log, MemoryLog};

    /// The conformance kit for synchronous logs (now [`storage::conformance`](crate::storage::conformance)).
    pub mod conformance {
        pub use crate::storage::conformance::{run, Failure, Report};
    }
}

/// Asynchronous logs and [`AsyncAcceptor`](crate::storage::AsyncAcceptor) (now [`storage`]).
pub mod async_log {
    pub use crate::storage::{AsyncAcceptor, AsyncLog, Ready};

    /// The conformance kit for asynchronous logs (now [`storage::conformance`](crate::storage::conformance)).
    pub mod conformance {
        pub use crate::storage::conformance::{run_async as run, Failure, Report};
    }
}

/// The Rust examples of the top-level README, compiled and run as doc tests.
#[cfg(all(doctest, feature = "std-timer", feature = "file-log"))]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;
