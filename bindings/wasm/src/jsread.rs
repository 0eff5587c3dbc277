//! Reading user objects without letting JS exceptions cross into Rust frames. Every read
//! of a property goes through the host's `get` (a `try` in JS, see `host.rs`), so a
//! getter or a Proxy trap that throws becomes an `Err` carrying what it threw (as the cause
//! of a transport error; callers re-code it as a storage error or an invalid argument).
//! Arrays are read index by index the same way, and bytes only from genuine `Uint8Array`s,
//! through the host's intrinsic getters (`host.rs`).

use js_sys::{Function, Uint8Array};
use synodos::{Error, Result};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::transport;
use crate::host::{with_host, NO_HOST};

/// The property keys the binding reads, made once per instance (not per read).
pub(crate) struct Keys {
    pub(crate) id: JsValue,
    pub(crate) attempt: JsValue,
    pub(crate) slot: JsValue,
    pub(crate) promised: JsValue,
    pub(crate) value: JsValue,
    pub(crate) accepted: JsValue,
    pub(crate) frontier: JsValue,
    pub(crate) trimmed: JsValue,
    pub(crate) entries: JsValue,
    length: JsValue,
    then: JsValue,
}

thread_local! {
    static KEYS: Keys = Keys {
        id: "id".into(),
        attempt: "attempt".into(),
        slot: "slot".into(),
        promised: "promised".into(),
        value: "value".into(),
        accepted: "accepted".into(),
        frontier: "frontier".into(),
        trimmed: "trimmed".into(),
        entries: "entries".into(),
        length: "length".into(),
        then: "then".into(),
    };
}

/// Run `f` with the keys.
pub(crate) fn keys<R>(f: impl FnOnce(&Keys) -> R) -> R {
    KEYS.with(f)
}

/// The error for an exception `thrown` while reading `what` from a user's object.
pub(crate) fn threw(what: &str, thrown: JsValue) -> Error {
    transport(&format!("reading {what} threw"), thrown)
}

/// `obj[key]`; a throwing getter or Proxy trap is an `Err` (see the module docs).
pub(crate) fn get(obj: &JsValue, key: &JsValue, what: &str) -> Result<JsValue> {
    crate::host::outcome(with_host(|h| h.get(obj, key))).map_err(|e| threw(what, e))
}

/// `obj[name]` as a function: `None` when absent or not a function, `Err` when reading it
/// threw.
pub(crate) fn method(obj: &JsValue, name: &str) -> Result<Option<Function>> {
    if !obj.is_object() && !obj.is_function() {
        return Ok(None);
    }
    let f = get(obj, &JsValue::from_str(name), &format!("{name}()"))?;
    Ok(if f.is_function() { Some(f.unchecked_into()) } else { None })
}

/// Whether `v` is a non-Promise object with a `then` method (a PromiseLike).
pub(crate) fn is_thenable(v: &JsValue) -> Result<bool> {
    if !v.is_object() {
        return Ok(false);
    }
    let then = keys(|k| get(v, &k.then, "then"))?;
    Ok(then.is_function())
}

/// Whether `v` is an array (a Proxy of one included); a revoked Proxy is an `Err`.
pub(crate) fn is_array(v: &JsValue) -> Result<bool> {
    if !v.is_object() {
        return Ok(false);
    }
    // `Array.isArray` throws for a revoked Proxy.
    let r = crate::host::outcome(with_host(|h| h.is_array(v))).map_err(|e| threw("Array.isArray", e))?;
    Ok(r.as_bool().unwrap_or(false))
}

/// Call `each` on the items of the array `v`, read one by one (`None` if `v` is not an
/// array). A sparse or lying `length` costs nothing: `each` stops at the first bad item.
pub(crate) fn each_item(
    v: &JsValue,
    what: &str,
    mut each: impl FnMut(u32, JsValue) -> Result<()>,
) -> Result<Option<()>> {
    if !is_array(v)? {
        return Ok(None);
    }
    let len = keys(|k| get(v, &k.length, &format!("{what}.length")))?;
    let len = match len.as_f64() {
        Some(n) if n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&n) => n as u32,
        _ => return Err(Error::InvalidArgument(format!("{what}.length is not an array length"))),
    };
    for i in 0..len {
        let item = crate::host::outcome(with_host(|h| h.get(v, &JsValue::from(i))))
            .map_err(|e| threw(&format!("{what}[{i}]"), e))?;
        each(i, item)?;
    }
    Ok(Some(()))
}

/// The bytes of `v` if it is a genuine `Uint8Array` (or subclass, such as `Buffer`), copied;
/// `None` if it is anything else (a Proxy of one included).
pub(crate) fn bytes(v: &JsValue, what: &str) -> Result<Option<Vec<u8>>> {
    if !v.is_object() {
        return Ok(None);
    }
    let n = with_host(|h| h.u8len(v)).ok_or_else(|| Error::InvalidArgument(NO_HOST.into()))?;
    // -1 (or NaN, which a correct host never returns): not a genuine Uint8Array.
    if n.is_nan() || n < 0.0 {
        return Ok(None);
    }
    let len = n as usize;
    let mut out: Vec<u8> = Vec::new();
    out.try_reserve_exact(len).map_err(|_| Error::InvalidArgument(format!("{what} is too large ({len} bytes)")))?;
    out.resize(len, 0);
    if len > 0 {
        // SAFETY: the view covers `out`'s `len` initialized bytes and is used only by the
        // next call, during which nothing allocates in wasm memory (so it stays valid).
        let view = unsafe { Uint8Array::view_mut_raw(out.as_mut_ptr(), len) };
        if !with_host(|h| h.u8copy(v, &view)).unwrap_or(false) {
            return Err(Error::InvalidArgument(format!("{what} could not be read (a detached buffer?)")));
        }
    }
    Ok(Some(out))
}
