//! What the server and the client agree on beyond the core's wire messages: routes, headers,
//! the error body, `/v1/info`, and the control lines of an observe stream.

use serde::{Deserialize, Serialize};
use synodos::{Ballot, Error, Slot};

/// `POST`: a [`synodos::Request`] in, a [`synodos::Promise`] out.
pub const PREPARE: &str = "/v1/prepare";
/// `POST`: a [`synodos::Proposal`] in, a [`synodos::Proposal`] (the answer) out.
pub const ACCEPT: &str = "/v1/accept";
/// `POST`: a [`synodos::Batch`] in (many slots at one ballot, taken all or none, in one
/// write), a [`synodos::Proposal`] (the answer, as to one accept) out.
pub const ACCEPT_BATCH: &str = "/v1/accept-batch";
/// `GET ?slot=N[&follow=true]`: NDJSON, one accepted [`synodos::Proposal`] per line.
pub const OBSERVE: &str = "/v1/observe";
/// `GET`: an [`Info`].
pub const INFO: &str = "/v1/info";
/// `GET`: readiness (200 while serving, 503 while draining). Needs no token.
pub const HEALTHZ: &str = "/healthz";

/// The cluster the client expects; a server of another cluster answers 403.
pub const CLUSTER_HEADER: &str = "synodos-cluster";
/// The acceptor id the client checked on first contact; another acceptor answers 403.
pub const ACCEPTOR_HEADER: &str = "synodos-acceptor";

/// The one JSON content type of request and response bodies.
pub const JSON: &str = "application/json";
/// The content type of observe streams.
pub const NDJSON: &str = "application/x-ndjson";

/// The body of every non-200 answer: `{"code": ..., "message": ...}`, plus the slots of a
/// `TRIMMED` error so that a client can rebuild [`Error::Trimmed`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// A stable name: the core's [`Error::code`] for protocol and storage errors, or one of
    /// `UNAUTHORIZED`, `WRONG_CLUSTER`, `WRONG_ACCEPTOR`, `TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`,
    /// `DRAINING`, `OVERLOADED`, `TOO_MANY_STREAMS`, `REQUEST_TIMEOUT`, `NOT_FOUND`,
    /// `METHOD_NOT_ALLOWED`, `FORBIDDEN_ORIGIN`, `BAD_REQUEST`.
    pub code: String,
    /// What went wrong, and what to do about it.
    pub message: String,
    /// For `TRIMMED`: the slot asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<Slot>,
    /// For `TRIMMED`: the first slot the acceptor still holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Slot>,
    /// The HTTP status it came with (not on the wire).
    #[serde(skip)]
    pub status: u16,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        ApiError { code: code.to_string(), message: message.into(), slot: None, first: None, status }
    }

    /// The answer to a core error from the acceptor: its status and code.
    pub fn from_core(e: &Error) -> Self {
        let status = match e {
            Error::InvalidMessage(_) | Error::InvalidArgument(_) => 400,
            Error::Trimmed { .. } | Error::ProtocolViolation(_) => 409,
            Error::Storage { .. } | Error::Closed(_) => 500,
            _ => 500,
        };
        let mut api = ApiError::new(status, e.code(), e.to_string());
        if let Error::Trimmed { slot, first } = e {
            api.slot = Some(*slot);
            api.first = Some(*first);
        }
        api
    }

    /// The core error a client reports for this answer: protocol errors as themselves (a
    /// [`Error::Trimmed`] must stay one: proposers act on it), everything else as
    /// [`Error::Transport`] (or [`Error::Storage`]/[`Error::Closed`]) naming the acceptor,
    /// with this `ApiError` as the cause.
    pub fn into_core(self, url: &str) -> Error {
        match (self.code.as_str(), self.slot, self.first) {
            ("TRIMMED", Some(slot), Some(first)) => Error::Trimmed { slot, first },
            ("INVALID_MESSAGE", ..) => Error::InvalidMessage(format!("{url}: {}", self.message)),
            ("INVALID_ARGUMENT", ..) => Error::InvalidArgument(format!("{url}: {}", self.message)),
            ("PROTOCOL_VIOLATION", ..) => Error::ProtocolViolation(format!("{url}: {}", self.message)),
            ("CLOSED", ..) => Error::Closed(format!("{url}: {}", self.message)),
            ("STORAGE", ..) => {
                Error::Storage { message: format!("{url}: {}", self.message), cause: Some(std::sync::Arc::new(self)) }
            }
            _ => Error::Transport {
                message: format!("{url}: HTTP {} {}: {}", self.status, self.code, self.message),
                cause: Some(std::sync::Arc::new(self)),
            },
        }
    }
}

/// `GET /v1/info`: who this acceptor is and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// The acceptor's id, unique in its cluster: a client counts each id once.
    pub acceptor: u64,
    /// The cluster's name.
    pub cluster: String,
    /// The highest ballot promised.
    pub promised: Ballot,
    /// One past the highest slot ever accepted here.
    pub frontier: Slot,
    /// Slots below this were trimmed.
    #[serde(default)]
    pub trimmed: Slot,
    /// Observe streams being served (ranges and live tails).
    #[serde(default)]
    pub observers: u64,
    /// Requests served by the acceptor, and the batches they were written in (group commit:
    /// `requests / batches` is the mean batch size).
    #[serde(default)]
    pub requests: u64,
    /// See `requests`.
    #[serde(default)]
    pub batches: u64,
    /// HTTP requests received over HTTP/1.x and over HTTP/2 (every route).
    #[serde(default)]
    pub http1_requests: u64,
    /// See `http1_requests`.
    #[serde(default)]
    pub http2_requests: u64,
    /// Whether the acceptor stopped after a storage failure (it then refuses everything).
    #[serde(default)]
    pub closed: bool,
    /// The server's version.
    #[serde(default)]
    pub version: String,
    /// The node this one takes for the leader (an acceptor id), when the server runs a node
    /// (`synodos serve --peers`); absent for a bare acceptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<u64>,
    /// Every slot below this is chosen and kept in this node's learner log (node only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_up_to: Option<Slot>,
}

/// The heartbeat line of an observe stream (sent when nothing else was for a while).
pub const HEARTBEAT_LINE: &[u8] = b"{\"event\":\"heartbeat\"}\n";

/// Why a following observe stream ended, in its last line
/// (`{"event":"end","reason":...}`): reconnect from the last slot received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndReason {
    /// The reader fell behind (its queue filled): it was cut off.
    Behind,
    /// The server is shutting down.
    Draining,
    /// The acceptor stopped (a storage failure).
    Closed,
}

/// A control line of an observe stream: `{"event":"heartbeat"}` or
/// `{"event":"end","reason":"behind"}`. A line without `event` is a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// `heartbeat` or `end`.
    pub event: String,
    /// For `end`: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<EndReason>,
}

/// The last line of a following stream that ended for `reason`.
pub fn end_line(reason: EndReason) -> Vec<u8> {
    let mut line =
        serde_json::to_vec(&Control { event: "end".into(), reason: Some(reason) }).unwrap_or_else(|_| b"{}".to_vec());
    line.push(b'\n');
    line
}
