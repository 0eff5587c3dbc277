//! Messages as plain JS objects: 64-bit numbers as `BigInt` (exact over the whole range),
//! values as `Uint8Array`. Incoming objects may use a non-negative safe-integer `number`
//! instead of a `BigInt`; absent fields are zero, as on the wire.

use js_sys::{Array, Object, Uint8Array};
use synodos::{Entry, Error, Promise, Proposal, Request, Result};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// Any message object (structural access only).
    pub type MsgObj;
    #[wasm_bindgen(method, getter, structural)]
    fn id(this: &MsgObj) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn attempt(this: &MsgObj) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn slot(this: &MsgObj) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn promised(this: &MsgObj) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn value(this: &MsgObj) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn accepted(this: &MsgObj) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn frontier(this: &MsgObj) -> JsValue;
    #[wasm_bindgen(method, getter, structural)]
    fn trimmed(this: &MsgObj) -> JsValue;
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
}

const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

/// A u64 from a `BigInt` or a non-negative safe integer; `undefined`/`null` are 0.
pub(crate) fn u64_from(v: &JsValue, what: &str) -> Result<u64> {
    if v.is_undefined() || v.is_null() {
        return Ok(0);
    }
    if v.is_bigint() {
        return u64::try_from(v.clone())
            .map_err(|_| Error::InvalidMessage(format!("{what} must be a BigInt in 0..2^64-1")));
    }
    match v.as_f64() {
        Some(f) if (0.0..=MAX_SAFE).contains(&f) && f.fract() == 0.0 => Ok(f as u64),
        _ => Err(Error::InvalidMessage(format!("{what} must be a BigInt (or a non-negative safe integer)"))),
    }
}

/// Bytes from a `Uint8Array` (or `undefined`/`null`: empty).
pub(crate) fn bytes_from(v: &JsValue, what: &str) -> Result<Vec<u8>> {
    if v.is_undefined() || v.is_null() {
        return Ok(Vec::new());
    }
    match v.dyn_ref::<Uint8Array>() {
        Some(a) => Ok(a.to_vec()),
        None => Err(Error::InvalidMessage(format!("{what} must be a Uint8Array"))),
    }
}

fn obj(v: &JsValue, what: &str) -> Result<MsgObj> {
    if v.is_object() {
        Ok(v.clone().unchecked_into())
    } else {
        Err(Error::InvalidMessage(format!("{what} must be an object")))
    }
}

fn new_obj() -> MsgObj {
    Object::new().unchecked_into()
}

/// JS -> [`Request`].
pub(crate) fn request_from(v: &JsValue) -> Result<Request> {
    let o = obj(v, "a request")?;
    Ok(Request {
        id: u64_from(&o.id(), "request.id")?,
        attempt: u64_from(&o.attempt(), "request.attempt")?,
        slot: u64_from(&o.slot(), "request.slot")?,
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
    let o = obj(v, "a proposal")?;
    Ok(Proposal {
        id: u64_from(&o.id(), "proposal.id")?,
        slot: u64_from(&o.slot(), "proposal.slot")?,
        value: bytes_from(&o.value(), "proposal.value")?,
        promised: u64_from(&o.promised(), "proposal.promised")?,
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
    let o = obj(v, "a promise")?;
    let accepted = o.accepted();
    let accepted = if accepted.is_undefined() || accepted.is_null() { None } else { Some(proposal_from(&accepted)?) };
    Ok(Promise {
        id: u64_from(&o.id(), "promise.id")?,
        slot: u64_from(&o.slot(), "promise.slot")?,
        accepted,
        promised: u64_from(&o.promised(), "promise.promised")?,
        // Absent means unknown (no lease), never 0.
        frontier: {
            let f = o.frontier();
            if f.is_undefined() || f.is_null() {
                None
            } else {
                Some(u64_from(&f, "promise.frontier")?)
            }
        },
        trimmed: u64_from(&o.trimmed(), "promise.trimmed")?,
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
    match v.dyn_ref::<Array>() {
        Some(a) => a.iter().map(|p| proposal_from(&p)).collect(),
        None => Err(Error::InvalidMessage("observe must return an array of proposals".into())),
    }
}

/// Proposals -> JS array.
pub(crate) fn proposals_to(ps: &[Proposal]) -> Array {
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
pub(crate) fn entries_to(es: &[Entry]) -> Array {
    es.iter().map(entry_to).collect()
}
