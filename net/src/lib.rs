//! # synodos-net
//!
//! synodos acceptors over the network: a served acceptor and a client that goes wherever
//! acceptors go.
//!
//! - [`serve`] runs one acceptor behind an HTTP server (HTTP/1.1 and HTTP/2 on one port: h2
//!   by ALPN under TLS, h2c by prior knowledge), secure by default: loopback unless told
//!   otherwise, TLS 1.2+ with optional client certificates, bearer tokens compared in
//!   constant time, limits on bodies, headers, streams, connections and time. Requests that
//!   arrive together are written together (one `persist_all`, one fsync per log) and each
//!   reply leaves only after its write.
//! - [`HttpAcceptor`] implements [`synodos::AcceptorClient`] over that API, so a
//!   [`synodos::Proposer`] or [`synodos::ReplicatedLog`] runs over the network unchanged. It
//!   runs on a background runtime of its own, so it works on any executor and under the
//!   core's `*_blocking` methods.
//!
//! - [`serve_node`] runs a node on the same server (`synodos serve --peers`): the acceptor, a
//!   leader that batches appends (other nodes forward to it), a learner that keeps the
//!   chosen log on disk; [`NodeClient`] appends, proposes, reads and follows through any node.
//!
//! The wire format is the core's JSON ([`synodos::wire`]); the routes are listed in
//! `net/README.md`.
//!
//! ```no_run
//! use synodos::{CounterIdGenerator, Proposer, StdSleeper};
//! use synodos_net::{serve, ClientOptions, HttpAcceptor, ServeOptions, ServedAcceptor};
//!
//! let servers: Vec<_> = (1..=3)
//!     .map(|id| serve(ServedAcceptor::in_memory(), "127.0.0.1:0", ServeOptions::new(id, "demo")))
//!     .collect::<Result<_, _>>()?;
//! let options = ClientOptions::new().cluster("demo");
//! let clients = servers
//!     .iter()
//!     .map(|s| HttpAcceptor::new(&s.url(), options.clone()))
//!     .collect::<Result<Vec<_>, _>>()?;
//! let proposer = Proposer::new(clients, CounterIdGenerator::new(1), StdSleeper)?;
//! assert_eq!(proposer.propose_blocking(b"hello".to_vec())?, b"hello");
//! for server in servers {
//!     server.shutdown();
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod acceptor;
pub mod api;
mod client;
mod error;
#[cfg(feature = "nemesis-bugs")]
#[doc(hidden)]
pub mod nemesis;
pub mod node;
mod server;
mod tls;

pub use acceptor::ServedAcceptor;
pub use api::{ApiError, Info};
pub use client::{ClientOptions, HttpAcceptor, HttpVersion, ObserveStream};
pub use error::NetError;
pub use node::{serve_node, NodeClient, NodeOptions};
pub use server::{check_exposure, serve, Limits, ServeOptions, Server, ServerTls, Tokens};

/// The Rust examples of `net/README.md`, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
