//! Golden wire vectors shared with every binding: decode, compare fields, re-encode byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use synodos::wire::Message;
use synodos::{Promise, Proposal, Request};

fn num(v: &Value, key: &str) -> u64 {
    v[key].as_str().unwrap_or_else(|| panic!("field {key} must be a decimal string")).parse().unwrap()
}

fn proposal_fields(v: &Value) -> Proposal {
    Proposal {
        id: num(v, "id"),
        slot: num(v, "slot"),
        value: hex(v["value_hex"].as_str().unwrap()),
        promised: num(v, "promised"),
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn golden_vectors_round_trip_byte_for_byte() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/messages.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vectors = doc["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 15);
    for v in vectors {
        let name = v["name"].as_str().unwrap();
        let kind = v["kind"].as_str().unwrap();
        let json = v["json"].as_str().unwrap();
        let decoded = Message::from_json(kind, json);
        if let Some(code) = v.get("error") {
            let err = decoded.expect_err(name);
            assert_eq!(err.code(), code.as_str().unwrap(), "{name}: {err}");
            continue;
        }
        let decoded = decoded.unwrap_or_else(|e| panic!("{name}: {e}"));
        let f = &v["fields"];
        let expected = match kind {
            "request" => {
                Message::Request(Request { id: num(f, "id"), attempt: num(f, "attempt"), slot: num(f, "slot") })
            }
            "promise" => Message::Promise(Promise {
                id: num(f, "id"),
                slot: num(f, "slot"),
                promised: num(f, "promised"),
                frontier: f.get("frontier").filter(|v| !v.is_null()).map(|_| num(f, "frontier")),
                trimmed: f.get("trimmed").map_or(0, |_| num(f, "trimmed")),
                accepted: (!f["accepted"].is_null()).then(|| proposal_fields(&f["accepted"])),
            }),
            "proposal" => Message::Proposal(proposal_fields(f)),
            "batch" => Message::Batch(synodos::Batch {
                id: num(f, "id"),
                entries: f["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| synodos::BatchEntry { slot: num(e, "slot"), value: hex(e["value_hex"].as_str().unwrap()) })
                    .collect(),
            }),
            other => panic!("{name}: unknown kind {other}"),
        };
        assert_eq!(decoded, expected, "{name}: decoded fields");
        let encoded = v.get("encoded").map_or(json, |e| e.as_str().unwrap());
        assert_eq!(decoded.to_json().unwrap(), encoded, "{name}: re-encoding");
    }
}

#[test]
fn unknown_kind_is_an_invalid_message() {
    assert_eq!(Message::from_json("ballot", "{}").unwrap_err().code(), "INVALID_MESSAGE");
}
