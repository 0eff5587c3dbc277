//! The node's routes and their JSON bodies, shared by the server and [`NodeClient`](super::NodeClient).

use serde::{Deserialize, Serialize};
use synodos::Slot;

/// `POST`: a [`ValueBody`] in, an [`EntryBody`] (the slot it was chosen at) out.
pub const APPEND: &str = "/v1/append";
/// `POST`: a [`ValueBody`] in, the single decree's chosen value out (an [`EntryBody`] at slot 0).
pub const PROPOSE: &str = "/v1/propose";
/// `GET ?from=N[&limit=M][&follow=true]`: NDJSON, one [`EntryBody`] per line.
pub const LOG: &str = "/v1/log";
/// `GET`: Prometheus text format.
pub const METRICS: &str = "/metrics";

/// Set by a node that forwards an append to the leader: how many hops it has made (a node
/// forwards a forwarded request at most once more, then appends itself).
pub const FORWARDED_HEADER: &str = "synodos-forwarded";
/// In the answer to an append or propose: the URL (as given in `--peers`) of the node that
/// leads, so that a client can send its next appends there.
pub const LEADER_HEADER: &str = "synodos-leader";

/// `{"value": base64}`: what to append or propose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueBody {
    /// The value (standard base64 with padding on the wire).
    #[serde(with = "synodos::message::base64_bytes")]
    pub value: Vec<u8>,
}

/// `{"slot": N, "value": base64}`: a chosen entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryBody {
    /// The log position.
    pub slot: Slot,
    /// The chosen value (standard base64 with padding on the wire).
    #[serde(with = "synodos::message::base64_bytes")]
    pub value: Vec<u8>,
}

impl From<synodos::Entry> for EntryBody {
    fn from(e: synodos::Entry) -> Self {
        EntryBody { slot: e.slot, value: e.value }
    }
}

impl From<EntryBody> for synodos::Entry {
    fn from(e: EntryBody) -> Self {
        synodos::Entry { slot: e.slot, value: e.value }
    }
}

/// One NDJSON line of an entry.
pub(crate) fn entry_line(out: &mut Vec<u8>, slot: Slot, value: &[u8]) {
    use base64::Engine;
    out.extend_from_slice(b"{\"slot\":");
    out.extend_from_slice(slot.to_string().as_bytes());
    out.extend_from_slice(b",\"value\":\"");
    out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(value).as_bytes());
    out.extend_from_slice(b"\"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_refuse_junk() {
        let v: ValueBody = serde_json::from_str(r#"{"value":"aGk="}"#).unwrap();
        assert_eq!(v.value, b"hi");
        assert!(serde_json::from_str::<ValueBody>(r#"{"value":"***"}"#).is_err());
        assert!(serde_json::from_str::<ValueBody>(r#"{"value":"aGk=","x":1}"#).is_err());
        assert!(serde_json::from_str::<ValueBody>(r#"{}"#).is_err());
        let mut line = Vec::new();
        entry_line(&mut line, 7, b"hi");
        let e: EntryBody = serde_json::from_slice(line.trim_ascii()).unwrap();
        assert_eq!(e, EntryBody { slot: 7, value: b"hi".to_vec() });
    }
}
