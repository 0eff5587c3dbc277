//! Where acceptors keep their state: the [`Log`] and [`AsyncLog`] traits, [`MemoryLog`],
//! the durable [`FileLog`](file_log::FileLog), the conformance kit every log must pass, and
//! the acceptors that persist the rules' records before they answer ([`Acceptor`],
//! [`AsyncAcceptor`]).
//!
//! Depends on [`crate::protocol`] only.

pub mod acceptor;
pub mod async_acceptor;
pub mod async_log;
pub mod conformance;
#[cfg(feature = "file-log")]
pub mod file_log;
pub mod group;
pub mod log;
pub mod memory;
pub mod persist;

pub use acceptor::{Acceptor, OBSERVE_QUEUE};
pub use async_acceptor::AsyncAcceptor;
pub use async_log::{AsyncLog, Ready};
pub use group::{AcceptorAnswer, AcceptorCall};
pub use log::{check_batch_order, Log};
pub use memory::MemoryLog;
pub use persist::{persist_all, persist_writes, persist_writes_async};
