//! Messages as plain JS objects: 64-bit numbers as `BigInt` (exact over the whole range),
//! values as `Uint8Array`. Incoming objects may use a non-negative safe-integer `number`
//! instead of a `BigInt`; absent fields are zero, as on the wire. Incoming objects are read
//! with `jsread` (a throwing getter or Proxy is an error carrying what it threw); outgoing
//! ones are fresh objects built here.

use js_sys::Object;
use synodos::{Batch, BatchEntry, Entry, Error, Promise, Proposal, Request, Result};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::jsread::{self, keys};

#[wasm_bindgen]
extern "C" {
    /// A message object made here (setters only).
    pub type MsgObj;
    #[wasm_bindgen(method, setter, structural)]
    fn set_id(this: &MsgObj, v: u64);
    #[wasm_bindgen(method, setter, structural)]
    fn set_attempt(this: &MsgObj, v: u64);
    #[wasm_bindgen(method, setter, structural)]
    fn set_slot(this: &MsgObj, v: u64);
    #[wasm_bindgen(method, setter, structural)]
    fn set_promised(this: &MsgObj, v: u64);
    #[wasm_bindgen(method, setter, structural)]
    fn set_value(this: &MsgObj, v: Vec<u8>);
    #[wasm_bindgen(method, setter, structural)]
    fn set_accepted(this: &MsgObj, v: &JsValue);
    #[wasm_bindgen(method, setter, structural)]
    fn set_frontier(this: &MsgObj, v: u64);
    #[wasm_bindgen(method, setter, structural)]
    fn set_trimmed(this: &MsgObj, v: u64);
    #[wasm_bindgen(method, setter, structural)]
    fn set_entries(this: &MsgObj, v: &JsValue);
}

/// A u64 from a `BigInt` in `0..2^64` or an integer `number` in `0..=2^53-1`; anything else
/// is refused with `bad(reason)`.
fn u64_of(v: &JsValue, what: &str, bad: fn(String) -> Error) -> Result<u64> {
    if v.is_bigint() {
        return u64::try_from(v.clone()).map_err(|_| bad(format!("{what} must be a BigInt in 0..2^64-1")));
    }
    match v.as_f64() {
        Some(f) => synodos::limits::u64_from_f64(what, f).map_err(|_| {
            bad(format!("{what} must be a BigInt in 0..2^64-1 or an integer number in 0..=2^53-1, not {f}"))
        }),
        None => Err(bad(format!("{what} must be a BigInt (or a non-negative safe integer number)"))),
    }
}

/// A message field: `undefined`/`null` are 0; a bad value is `InvalidMessage`.
pub(crate) fn u64_from(v: &JsValue, what: &str) -> Result<u64> {
    if v.is_undefined() || v.is_null() {
        return Ok(0);
    }
    u64_of(v, what, Error::InvalidMessage)
}

/// A 64-bit argument (required): a bad or missing value is `InvalidArgument`.
pub(crate) fn u64_arg(v: &JsValue, what: &str) -> Result<u64> {
    u64_of(v, what, Error::InvalidArgument)
}

/// Bytes from a genuine `Uint8Array` (or `undefined`/`null`: empty).
pub(crate) fn bytes_from(v: &JsValue, what: &str) -> Result<Vec<u8>> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    jsread::bytes(v, what)?.ok_or_else(|| Error::InvalidMessage(format!("{what} must be a Uint8Array")))
}

fn obj(v: &JsValue, what: &str) -> Result<()> {
    if v.is_object() {
        Ok(())
    } else {
        Err(Error::InvalidMessage(format!("{what} must be an object")))
    }
}

fn new_obj() -> MsgObj {
    Object::new().unchecked_into()
}

fn field(o: &JsValue, key: impl FnOnce(&jsread::Keys) -> &JsValue, what: &str) -> Result<JsValue> {
    keys(|k| jsread::get(o, key(k), what))
}

fn u64_field(o: &JsValue, key: impl FnOnce(&jsread::Keys) -> &JsValue, what: &str) -> Result<u64> {
    u64_from(&field(o, key, what)?, what)
}

/// JS -> [`Request`].
pub(crate) fn request_from(v: &JsValue) -> Result<Request> {
    obj(v, "a request")?;
    Ok(Request {
        id: u64_field(v, |k| &k.id, "request.id")?,
        attempt: u64_field(v, |k| &k.attempt, "request.attempt")?,
        slot: u64_field(v, |k| &k.slot, "request.slot")?,
    })
}

/// [`Request`] -> JS.
pub(crate) fn request_to(r: &Request) -> JsValue {
    let o = new_obj();
    o.set_id(r.id);
    o.set_attempt(r.attempt);
    o.set_slot(r.slot);
    o.into()
}

/// JS -> [`Proposal`].
pub(crate) fn proposal_from(v: &JsValue) -> Result<Proposal> {
    obj(v, "a proposal")?;
    Ok(Proposal {
        id: u64_field(v, |k| &k.id, "proposal.id")?,
        slot: u64_field(v, |k| &k.slot, "proposal.slot")?,
        value: bytes_from(&field(v, |k| &k.value, "proposal.value")?, "proposal.value")?,
        promised: u64_field(v, |k| &k.promised, "proposal.promised")?,
    })
}

/// [`Proposal`] -> JS.
pub(crate) fn proposal_to(p: &Proposal) -> JsValue {
    let o = new_obj();
    o.set_id(p.id);
    o.set_slot(p.slot);
    o.set_value(p.value.clone());
    o.set_promised(p.promised);
    o.into()
}

/// JS -> [`Promise`].
pub(crate) fn promise_from(v: &JsValue) -> Result<Promise> {
    obj(v, "a promise")?;
    let accepted = field(v, |k| &k.accepted, "promise.accepted")?;
    let accepted = if accepted.is_undefined() || accepted.is_null() { None } else { Some(proposal_from(&accepted)?) };
    Ok(Promise {
        id: u64_field(v, |k| &k.id, "promise.id")?,
        slot: u64_field(v, |k| &k.slot, "promise.slot")?,
        accepted,
        promised: u64_field(v, |k| &k.promised, "promise.promised")?,
        // Absent (undefined or null) means unknown: no lease, never 0.
        frontier: {
            let f = field(v, |k| &k.frontier, "promise.frontier")?;
            if f.is_undefined() || f.is_null() {
                None
            } else {
                Some(u64_from(&f, "promise.frontier")?)
            }
        },
        trimmed: u64_field(v, |k| &k.trimmed, "promise.trimmed")?,
    })
}

/// [`Promise`] -> JS (`accepted` is `null` when nothing was accepted).
pub(crate) fn promise_to(p: &Promise) -> JsValue {
    let o = new_obj();
    o.set_id(p.id);
    o.set_slot(p.slot);
    match &p.accepted {
        Some(a) => o.set_accepted(&proposal_to(a)),
        None => o.set_accepted(&JsValue::NULL),
    }
    o.set_promised(p.promised);
    if let Some(f) = p.frontier {
        o.set_frontier(f);
    }
    if p.trimmed != 0 {
        o.set_trimmed(p.trimmed);
    }
    o.into()
}

/// JS array -> proposals (an observe answer).
pub(crate) fn proposals_from(v: &JsValue) -> Result<Vec<Proposal>> {
    let mut out = Vec::new();
    match jsread::each_item(v, "the observe answer", |_, p| {
        out.push(proposal_from(&p)?);
        Ok(())
    })? {
        Some(()) => Ok(out),
        None => Err(Error::InvalidMessage("observe must return an array of proposals".into())),
    }
}

/// JS `{id, entries: [{slot, value}, ...]}` -> [`Batch`].
pub(crate) fn batch_from(v: &JsValue) -> Result<Batch> {
    obj(v, "a batch")?;
    let id = u64_field(v, |k| &k.id, "batch.id")?;
    let entries = field(v, |k| &k.entries, "batch.entries")?;
    let mut out = Vec::new();
    if !(entries.is_undefined() || entries.is_null()) {
        let read = jsread::each_item(&entries, "batch.entries", |_, e| {
            obj(&e, "a batch entry")?;
            out.push(BatchEntry {
                slot: u64_field(&e, |k| &k.slot, "batch.entries[].slot")?,
                value: bytes_from(&field(&e, |k| &k.value, "batch.entries[].value")?, "batch.entries[].value")?,
            });
            Ok(())
        })?;
        if read.is_none() {
            return Err(Error::InvalidMessage("batch.entries must be an array".into()));
        }
    }
    Ok(Batch { id, entries: out })
}

/// [`Batch`] -> JS `{id, entries: [{slot, value}, ...]}`.
pub(crate) fn batch_to(b: &Batch) -> JsValue {
    let o = new_obj();
    o.set_id(b.id);
    let entries: js_sys::Array = b
        .entries
        .iter()
        .map(|e| {
            let x = new_obj();
            x.set_slot(e.slot);
            x.set_value(e.value.clone());
            JsValue::from(x)
        })
        .collect();
    o.set_entries(&entries);
    o.into()
}

/// Proposals -> JS array.
pub(crate) fn proposals_to(ps: &[Proposal]) -> js_sys::Array {
    ps.iter().map(proposal_to).collect()
}

/// [`Entry`] -> `{slot, value}`.
pub(crate) fn entry_to(e: &Entry) -> JsValue {
    let o = new_obj();
    o.set_slot(e.slot);
    o.set_value(e.value.clone());
    o.into()
}

/// Entries -> JS array.
pub(crate) fn entries_to(es: &[Entry]) -> js_sys::Array {
    es.iter().map(entry_to).collect()
}
