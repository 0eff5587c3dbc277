//! [`NetError`]: why a server could not start or a client could not be built.

use std::net::SocketAddr;

/// Why [`serve`](crate::serve) or [`HttpAcceptor::new`](crate::HttpAcceptor::new) refused.
/// Each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A non-loopback address without TLS, or without tokens or client certificates.
    #[error("refusing to serve on {addr} {why}: {fix}")]
    Insecure {
        /// The address asked for.
        addr: SocketAddr,
        /// What is missing.
        why: &'static str,
        /// What to do.
        fix: &'static str,
    },
    /// The address could not be bound (in use, not local, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A certificate, key, CA or token could not be read or is not usable.
    #[error("{0}")]
    Config(String),
    /// A URL the client cannot use.
    #[error("invalid acceptor URL {url:?}: {why}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The acceptor (its logs) failed to open or recover.
    #[error("{0}")]
    Acceptor(#[from] synodos::Error),
    /// The runtime or a thread could not be started.
    #[error("cannot start: {0}")]
    Runtime(#[source] std::io::Error),
}
