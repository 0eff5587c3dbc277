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
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
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
#[serde(remote = "Self")]
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

// Strict decoding. serde's derive accepts a struct both as a map and in its sequence form
// (`[1,2]` would be a `Proposal` with id 1 and slot 2). `remote = "Self"` above turns the
// derived code into inherent functions; the trait impls below call them through `MapOnly`,
// which asks the format for a map where the derive would ask for "a map or a sequence". So a
// message is a JSON object wherever it appears (nested `accepted` included), in any
// self-describing format, at no cost: the same parse with one branch fewer.
macro_rules! map_only_serde {
    ($($t:ident),*) => {$(
        impl Serialize for $t {
            #[inline]
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $t::serialize(self, s)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            #[inline]
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $t::deserialize(map_only::MapOnly(d))
            }
        }
    )*};
}
map_only_serde!(Request, Promise, Proposal, Batch, BatchEntry);

mod map_only {
    use serde::de::{Deserializer, Visitor};

    /// Every other request goes to the wrapped deserializer unchanged.
    macro_rules! forward {
        ($($method:ident)*) => {$(
            #[inline]
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
                self.0.$method(visitor)
            }
        )*};
    }

    /// A deserializer that decodes a struct only from a map (a JSON object).
    pub(super) struct MapOnly<D>(pub(super) D);

    impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
        type Error = D::Error;

        #[inline]
        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.deserialize_any(visitor)
        }

        #[inline]
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _fields: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, D::Error> {
            self.0.deserialize_map(visitor)
        }

        fn is_human_readable(&self) -> bool {
            self.0.is_human_readable()
        }

        forward! {
            deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
            deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
            deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
            deserialize_string deserialize_bytes deserialize_byte_buf deserialize_option
            deserialize_unit deserialize_seq deserialize_map deserialize_identifier
            deserialize_ignored_any
        }

        #[inline]
        fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
            self.0.deserialize_unit_struct(name, v)
        }

        #[inline]
        fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
            self.0.deserialize_newtype_struct(name, v)
        }

        #[inline]
        fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, D::Error> {
            self.0.deserialize_tuple(len, v)
        }

        #[inline]
        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            len: usize,
            v: V,
        ) -> Result<V::Value, D::Error> {
            self.0.deserialize_tuple_struct(name, len, v)
        }

        #[inline]
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            v: V,
        ) -> Result<V::Value, D::Error> {
            self.0.deserialize_enum(name, variants, v)
        }
    }
}

/// JSON encoding and decoding with the wire names, shared by every binding.
///
/// Decoding is strict about shape and lenient about extensions:
///
/// - a message is a JSON object, and so is a nested `accepted`: arrays (serde's sequence
///   form of a struct, `[1,2]`), strings, numbers and `null` are refused;
/// - nothing but whitespace may follow the object (`{} {}` and `{}x` are refused);
/// - a field given twice is refused; a field of the wrong type (a string for a number, a
///   negative or 65-bit number, bad base64) is refused;
/// - **unknown fields are ignored**, as the Go ancestor's decoder does, so a newer peer may
///   add a field without breaking older ones; absent fields are zero (a promise's absent
///   `frontier` is unknown).
///
/// Every refusal is [`Error::InvalidMessage`]; the cases are golden vectors
/// (`tests/vectors/messages.json`) that every binding checks.
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

    /// Decode a message from one JSON object (see the module docs for what is refused);
    /// unknown fields are ignored, absent ones are zero.
    pub fn from_json<T: for<'de> Deserialize<'de>>(json: &str) -> Result<T, Error> {
        let mut de = serde_json::Deserializer::from_str(json);
        // A top-level struct must be an object even for a message type without its own
        // strict impl; `end` refuses anything but whitespace after it.
        T::deserialize(map_only::MapOnly(&mut de))
            .and_then(|msg| de.end().map(|()| msg))
            .map_err(|e| Error::InvalidMessage(e.to_string()))
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

/// Bytes as base64 in JSON, for `#[serde(with = ...)]` on fields of other wire types.
pub mod base64_bytes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    /// The bytes as a base64 string.
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    /// The bytes of a base64 string (an error names bad base64).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("value is not valid base64: {e}")))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::wire::{self, Message};
    use super::*;

    fn refused(kind: &str, json: &str) -> String {
        match Message::from_json(kind, json) {
            Err(Error::InvalidMessage(why)) => why,
            other => panic!("{kind} {json}: expected InvalidMessage, got {other:?}"),
        }
    }

    #[test]
    fn only_an_object_is_a_message() {
        for kind in ["request", "promise", "proposal"] {
            for json in ["[1,2]", "[]", "[1,2,3,4]", "null", "1", "\"{}\"", "true", "", " "] {
                refused(kind, json);
            }
        }
        // The sequence form used to decode as the fields in order.
        assert!(refused("proposal", "[1,2]").contains("expected struct Proposal"));
    }

    #[test]
    fn a_nested_accepted_must_be_an_object_too() {
        for accepted in ["[5,2]", "[5,2,\"aGk=\",0]", "[]", "1", "\"x\"", "true"] {
            refused("promise", &format!(r#"{{"id":9,"accepted":{accepted}}}"#));
        }
        // null is "nothing accepted", as absent.
        let p: Promise = wire::from_json(r#"{"id":9,"accepted":null}"#).unwrap();
        assert_eq!(p, Promise { id: 9, ..Promise::default() });
        let p: Promise = wire::from_json(r#"{"id":9,"accepted":{"id":5,"value":"aGk="}}"#).unwrap();
        assert_eq!(p.accepted, Some(Proposal::new(5, 0, b"hi".to_vec())));
    }

    #[test]
    fn nothing_but_whitespace_may_follow() {
        for json in ["{} {}", "{}x", "{}]", "{\"id\":1}}", "{\"id\":1},", "{}\u{0}"] {
            refused("request", json);
        }
        let r: Request = wire::from_json(" \t\n{\"id\":1}\r\n ").unwrap();
        assert_eq!(r.id, 1);
    }

    #[test]
    fn unknown_fields_are_ignored_duplicates_refused() {
        let r: Request = wire::from_json(r#"{"id":7,"leader":true,"extra":{"a":[1,null]},"attempt":2}"#).unwrap();
        assert_eq!(r, Request { id: 7, attempt: 2, slot: 0 });
        let p: Promise =
            wire::from_json(r#"{"id":3,"accepted":{"id":2,"value":"AA==","batch":[1]},"future":"x"}"#).unwrap();
        assert_eq!(p.accepted, Some(Proposal::new(2, 0, vec![0])));
        // Re-encoding drops them: a message carries only the fields this version knows.
        assert_eq!(wire::to_json(&r).unwrap(), r#"{"id":7,"attempt":2}"#);
        assert!(refused("request", r#"{"id":1,"id":2}"#).contains("duplicate field"));
        refused("promise", r#"{"id":1,"accepted":{"id":1,"id":1}}"#);
    }

    #[test]
    fn the_types_are_strict_outside_wire_too() {
        // Any self-describing format goes through the same impls: a Value in sequence form.
        let seq = serde_json::json!([1, 2]);
        assert!(serde_json::from_value::<Proposal>(seq.clone()).is_err());
        assert!(serde_json::from_value::<Request>(seq).is_err());
        let nested = serde_json::json!({"id": 1, "accepted": [1, 2]});
        assert!(serde_json::from_value::<Promise>(nested).is_err());
        let ok = serde_json::json!({"id": 1, "slot": 4});
        assert_eq!(serde_json::from_value::<Proposal>(ok).unwrap(), Proposal::new(1, 4, Vec::new()));
    }

    #[test]
    fn wire_refuses_the_sequence_form_of_any_top_level_struct() {
        // A message type added later with a plain derive is still an object at the top level.
        #[derive(Debug, Deserialize)]
        struct Plain {
            #[allow(dead_code)]
            id: u64,
        }
        assert!(serde_json::from_str::<Plain>("[1]").is_ok(), "the derive alone is lax");
        assert!(wire::from_json::<Plain>("[1]").is_err());
        assert_eq!(wire::from_json::<Plain>(r#"{"id":1}"#).unwrap().id, 1);
        // Non-struct types pass through unchanged.
        assert_eq!(wire::from_json::<Vec<Proposal>>(r#"[{"id":1}]"#).unwrap(), vec![Proposal::new(1, 0, Vec::new())]);
        assert!(wire::from_json::<Vec<Proposal>>("[[1]]").is_err());
    }

    #[test]
    fn encoding_is_unchanged() {
        let p = Promise {
            id: 9,
            slot: 2,
            accepted: Some(Proposal::new(5, 2, b"hello".to_vec())),
            promised: 0,
            frontier: Some(0),
            trimmed: 0,
        };
        let json = wire::to_json(&p).unwrap();
        assert_eq!(json, r#"{"id":9,"slot":2,"accepted":{"id":5,"slot":2,"value":"aGVsbG8="},"frontier":0}"#);
        assert_eq!(wire::from_json::<Promise>(&json).unwrap(), p);
    }
}
