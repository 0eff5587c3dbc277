//! The one error type of synodos. Bindings map its [`Error::code`] to their own types.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::ballot::{Ballot, Slot};

/// Anything a user's callback (client, log, id generator) can fail with: kept as the
/// `source` of the [`Error`], so a binding can hand the original exception back as the cause.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Why one acceptor did not help reach a quorum.
#[derive(Debug, Clone)]
pub struct AcceptorFailure {
    /// The acceptor's index in the list the proposer was built with.
    pub acceptor: usize,
    /// What went wrong with it.
    pub error: Error,
}

impl fmt::Display for AcceptorFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "acceptor {}: {}", self.acceptor, self.error)
    }
}

/// Failures listed in a [`Error::NoQuorum`].
#[derive(Debug, Clone, Default)]
pub struct Failures(pub Vec<AcceptorFailure>);

impl fmt::Display for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, failure) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{failure}")?;
        }
        Ok(())
    }
}

/// Every error synodos returns. Each variant is something a caller can act on.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A majority of acceptors could not be reached or did not agree, after every attempt.
    /// `failures` says which acceptors failed in the last attempt, and why.
    #[error("no quorum after {attempts} attempt(s): needed {needed} of {acceptors} acceptors; {failures}")]
    NoQuorum {
        /// How many acceptors make a majority.
        needed: usize,
        /// How many acceptors there are.
        acceptors: usize,
        /// How many ballots were tried.
        attempts: u32,
        /// What each failing acceptor did in the last attempt.
        failures: Failures,
    },
    /// A call did not answer within its timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// An acceptor had promised a higher ballot.
    #[error("rejected: the acceptor has promised ballot {promised}")]
    Rejected {
        /// The ballot the acceptor had promised.
        promised: Ballot,
    },
    /// A storage log failed; the acceptor using it refuses every later call, so nothing is
    /// acknowledged that is not durable.
    #[error("storage: {message}")]
    Storage {
        /// What failed.
        message: String,
        /// The underlying error (an `io::Error`, or a user log's exception).
        #[source]
        cause: Option<Cause>,
    },
    /// A user-supplied acceptor client failed (or raised an exception).
    #[error("transport: {message}")]
    Transport {
        /// What failed.
        message: String,
        /// The underlying error (e.g. the exception the client raised).
        #[source]
        cause: Option<Cause>,
    },
    /// A message could not be decoded or breaks a protocol rule (e.g. a ballot of 0).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// An argument was out of range (e.g. a proposer with no acceptors).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The id generator cannot produce a higher id (the 64-bit space is used up).
    #[error("id generator exhausted: {0}")]
    IdExhausted(String),
    /// The object was closed, or poisoned by an earlier storage failure.
    #[error("closed: {0}")]
    Closed(String),
    /// The slot was trimmed: it was chosen, applied and forgotten, so its value is no longer
    /// held by the acceptors. The log now starts at `first`.
    #[error("slot {slot} was trimmed: the log starts at slot {first} now")]
    Trimmed {
        /// The slot asked for.
        slot: Slot,
        /// The first slot the acceptors still hold.
        first: Slot,
    },
    /// Acceptors reported something that correct Paxos never produces (two values accepted
    /// at one ballot for one slot, say): a proposer reused a ballot, or a peer is broken.
    /// Nothing is picked silently; the operation stops here.
    #[error("protocol violation: {0}")]
    ProtocolViolation(String),
}

impl Error {
    /// A stable, language-neutral name for the variant, used by the bindings
    /// (`SYNODOS_ERR_*` in C, `err.code` in JS, the exception class in Python).
    pub fn code(&self) -> &'static str {
        match self {
            Error::NoQuorum { .. } => "NO_QUORUM",
            Error::Timeout(_) => "TIMEOUT",
            Error::Rejected { .. } => "REJECTED",
            Error::Storage { .. } => "STORAGE",
            Error::Transport { .. } => "TRANSPORT",
            Error::InvalidMessage(_) => "INVALID_MESSAGE",
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::IdExhausted(_) => "ID_EXHAUSTED",
            Error::Closed(_) => "CLOSED",
            Error::Trimmed { .. } => "TRIMMED",
            Error::ProtocolViolation(_) => "PROTOCOL_VIOLATION",
        }
    }

    /// A storage error with a message and no cause.
    pub fn storage(message: impl Into<String>) -> Self {
        Error::Storage { message: message.into(), cause: None }
    }

    /// A transport error with a message and no cause.
    pub fn transport(message: impl Into<String>) -> Self {
        Error::Transport { message: message.into(), cause: None }
    }

    /// The user's original error behind this one, if any: the `cause` of a storage or
    /// transport error, or of the first acceptor failure of a no-quorum error that has one.
    pub fn user_cause(&self) -> Option<&Cause> {
        match self {
            Error::Storage { cause, .. } | Error::Transport { cause, .. } => cause.as_ref(),
            Error::NoQuorum { failures, .. } => failures.0.iter().find_map(|f| f.error.user_cause()),
            _ => None,
        }
    }
}

/// The text of a caught panic's payload, for the bindings' panic boundaries (a panic
/// becomes an error there, never an abort across the language boundary).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// `Result` with synodos's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
