//! The driver: the protocol run over user-supplied transports. [`Proposer`] and
//! [`ReplicatedLog`] fan out to every acceptor at once through [`AcceptorClient`]s, finish
//! at a majority, bound each call by a timeout, back off at random after losing, and leap
//! past the ballots they lose to. The driver owns no threads and no runtime: timers come
//! from a [`Sleeper`], ballots from an [`IdGenerator`]. The one thread it can start is the
//! one an [`AcceptorThread`] is named for (native only), which gives a blocking log its own
//! thread, for group commit and for fsyncs at several acceptors at once.
//!
//! It depends on [`crate::protocol`] (the rules) and [`crate::storage`] (the acceptor behind
//! a [`LocalAcceptor`]); nothing below it depends on it.

/// One `block_on` with thread-local timers, for the native bindings' blocking calls.
#[cfg(not(target_family = "wasm"))]
pub mod block_on;
pub mod client;
pub mod clock;
pub(crate) mod fan_out;
pub mod ids;
#[cfg(not(target_family = "wasm"))]
pub mod in_process;
pub mod limits;
pub mod local;
pub mod log;
pub mod proposer;
#[cfg(not(target_family = "wasm"))]
pub mod thread;
pub mod timer;

pub use client::AcceptorClient;
pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{CounterIdGenerator, IdGenerator, ServerIdGenerator};
#[cfg(not(target_family = "wasm"))]
pub use in_process::InProcessAcceptor;
pub use local::LocalAcceptor;
pub use log::ReplicatedLog;
pub use proposer::{Decision, Proposer, ProposerConfig};
#[cfg(not(target_family = "wasm"))]
pub use thread::AcceptorThread;
pub use timer::Sleeper;
#[cfg(feature = "std-timer")]
pub use timer::StdSleeper;
#[cfg(feature = "tokio")]
pub use timer::TokioSleeper;
