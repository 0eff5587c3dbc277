//! The rules of Paxos, as sans-IO state machines: messages and ballots, the acceptor's
//! rules ([`AcceptorCore`](acceptor::AcceptorCore)), one proposer attempt
//! ([`Attempt`](attempt::Attempt)), the learner, and the slot map they keep state in. One
//! error type for the whole crate lives here too.
//!
//! Nothing here does I/O, starts a thread or reads a clock, and nothing here depends on the
//! rest of the crate: the storage, the driver and the simulators are built on it.

pub mod acceptor;
pub mod attempt;
pub mod ballot;
pub mod error;
pub mod learner;
pub mod message;
#[doc(hidden)]
pub mod mutation;
pub(crate) mod slots;
