//! Wire messages, with the field names of the Go ancestor (`id`, `attempt`, `accepted`,
//! `value`) plus what correct Paxos needs (`slot`, and `promised` in a rejection).
//!
//! Every field is omitted from JSON when it is zero or empty, and defaults to zero or empty
//! when absent, so a message from the ancestor decodes unchanged (its slot is 0). Bytes are
//! standard base64 with padding.

use serde::{Deserialize, Serialize};

use super::error::Error;

pub use super::ballot::{Ballot, Slot, LAST_SLOT};

/// Refuse the reserved slot `u64::MAX` (see [`LAST_SLOT`]).
pub(crate) fn check_slot(slot: Slot) -> Result<(), Error> {
    if slot > LAST_SLOT {
        return Err(Error::InvalidArgument(format!("slot {slot} is reserved: slots run from 0 to {LAST_SLOT}")));
    }
    Ok(())
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Phase 1a: a proposer asks an acceptor to promise `id` for `slot`.
///
/// `attempt` is informational (the proposer's retry count); unlike the ancestor, no
/// protocol rule depends on it. Also the argument of `observe`, where `slot` is the first
/// slot wanted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Request {
    /// The ballot.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: Ballot,
    /// The proposer's attempt number, starting at 1.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempt: u64,
    /// The log position.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub slot: Slot,
}

/// Phase 1b: an acceptor's answer to a [`Request`].
///
/// `id` and `slot` echo the request. When the request was granted `promised` and
/// `trimmed` are absent (0); when it was rejected `promised` is the ballot the acceptor had
/// already promised (at least `id`: a ballot is granted only once), so the proposer can leap
/// past it. Either way `accepted` carries the highest ballot and value this acceptor has
/// accepted for the slot (the ancestor sent it only when `attempt > 1`, which let a first
/// attempt overwrite a chosen value).
///
/// A hand-written acceptor must send `frontier` to let a proposer lead (skip phase 1 on
/// later slots); one that leaves it out is safe, it only costs the lease.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Promise {
    /// The ballot of the request this answers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: Ballot,
    /// The slot of the request this answers.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub slot: Slot,
    /// What the acceptor has accepted for this slot, if anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Proposal>,
    /// Non-zero only in a rejection: the ballot the acceptor has promised, at least `id`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub promised: Ballot,
    /// One past the highest slot at which this acceptor has accepted anything (`Some(0)` if
    /// none). When a majority grant ballot `b` at slot `s`, each with `frontier <= s + 1`,
    /// the proposer may skip phase 1 at `b` for every later slot (the Multi-Paxos leader
    /// path). Absent (`None`, as from the ancestor's acceptors) means unknown: no lease.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier: Option<Slot>,
    /// Non-zero only when the request's slot was trimmed at this acceptor: slots below
    /// `trimmed` were chosen and forgotten, so the prepare is refused and the proposer should
    /// move on to `trimmed` (or later). How a new log handle learns where the log starts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub trimmed: Slot,
}

impl Promise {
    /// Whether the acceptor granted the promise.
    pub fn is_granted(&self) -> bool {
        self.promised == 0 && self.trimmed == 0
    }
}

/// Phase 2a (a proposer asks an acceptor to accept `value` at ballot `id` for `slot`), the
/// acceptor's phase 2b answer, and an entry of `observe`.
///
/// In an answer, `id` and `slot` echo the request, `value` is left empty (the proposer has
/// it), and `promised` is non-zero only in a rejection, as in [`Promise`].
///
/// In an `observe` answer, an entry with `id` 0 (never a real ballot) is a trim marker:
/// slots below its `slot` were chosen and forgotten at that acceptor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Proposal {
    /// The ballot.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: Ballot,
    /// The log position.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub slot: Slot,
    /// The value (opaque bytes; base64 in JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_bytes")]
    pub value: Vec<u8>,
    /// Non-zero only in a rejected accept: the higher ballot the acceptor had promised.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub promised: Ballot,
}

impl Proposal {
    /// A proposal of `value` at ballot `id` for `slot`.
    pub fn new(id: Ballot, slot: Slot, value: impl Into<Vec<u8>>) -> Self {
        Proposal { id, slot, value: value.into(), promised: 0 }
    }

    /// Whether an accept answer says the proposal was accepted.
    pub fn is_accepted(&self) -> bool {
        self.promised == 0
    }
}

/// Phase 2a for many slots at once: a leader's accept of `entries` at ballot `id`, each
/// entry one value for one slot (a slot appears once). An acceptor takes all of them or
/// none (it answers as to one [`Proposal`]: `promised` set when it refused), and makes them
/// durable together: one write, one fsync, for a whole batch of appends.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Batch {
    /// The ballot.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: Ballot,
    /// The `(slot, value)` entries, in slot order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<BatchEntry>,
}

/// One value for one slot in a [`Batch`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct BatchEntry {
    /// The log position.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub slot: Slot,
    /// The value (opaque bytes; base64 in JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "base64_bytes")]
    pub value: Vec<u8>,
}

impl Batch {
    /// The entry proposals, as single accepts of the same ballot.
    pub fn proposals(&self) -> impl Iterator<Item = Proposal> + '_ {
        self.entries.iter().map(|e| Proposal::new(self.id, e.slot, e.value.clone()))
    }

    /// The answer an acceptor gives to the whole batch: `Proposal { id, slot: first slot }`,
    /// with `promised` set when it refused.
    pub fn answer(&self, promised: Ballot) -> Proposal {
        let slot = self.entries.first().map_or(0, |e| e.slot);
        Proposal { id: self.id, slot, value: Vec::new(), promised }
    }
}

/// A chosen log entry: the value at `slot` that a majority accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    /// The log position.
    pub slot: Slot,
    /// The chosen value.
    pub value: Vec<u8>,
}

/// JSON encoding and decoding with the wire names, shared by every binding.
///
/// ```
/// use synodos::{wire, Request};
/// let json = wire::to_json(&Request { id: 7, attempt: 1, slot: 0 }).unwrap();
/// assert_eq!(json, r#"{"id":7,"attempt":1}"#);
/// let back: Request = wire::from_json(&json).unwrap();
/// assert_eq!(back.id, 7);
/// ```
pub mod wire {
    use super::*;

    /// Encode a message as compact JSON.
    pub fn to_json<T: Serialize>(msg: &T) -> Result<String, Error> {
        serde_json::to_string(msg).map_err(|e| Error::InvalidMessage(e.to_string()))
    }

    /// Decode a message from JSON; unknown fields are ignored, absent ones are zero.
    pub fn from_json<T: for<'de> Deserialize<'de>>(json: &str) -> Result<T, Error> {
        serde_json::from_str(json).map_err(|e| Error::InvalidMessage(e.to_string()))
    }

    /// Which message a JSON text holds, for bindings that take the kind as a string.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Message {
        /// A [`Request`].
        Request(Request),
        /// A [`Promise`].
        Promise(Promise),
        /// A [`Proposal`].
        Proposal(Proposal),
        /// A [`Batch`].
        Batch(Batch),
    }

    impl Message {
        /// Decode `json` as the message named `kind` (`"request"`, `"promise"`, `"proposal"`,
        /// `"batch"`).
        pub fn from_json(kind: &str, json: &str) -> Result<Self, Error> {
            match kind {
                "request" => from_json(json).map(Message::Request),
                "promise" => from_json(json).map(Message::Promise),
                "proposal" => from_json(json).map(Message::Proposal),
                "batch" => from_json(json).map(Message::Batch),
                other => Err(Error::InvalidMessage(format!(
                    "unknown message kind {other:?} (expected request, promise, proposal or batch)"
                ))),
            }
        }

        /// Encode as compact JSON.
        pub fn to_json(&self) -> Result<String, Error> {
            match self {
                Message::Request(m) => to_json(m),
                Message::Promise(m) => to_json(m),
                Message::Proposal(m) => to_json(m),
                Message::Batch(m) => to_json(m),
            }
        }
    }
}

mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("value is not valid base64: {e}")))
    }
}
