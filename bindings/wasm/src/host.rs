//! The host: a small JS object made by the package's entry module (`pkg-src/common.js`) and
//! handed to every wasm instance with `__setHost`. It lives outside the instance, so it
//! survives the restart after a panic (see `start` in `lib.rs`), and it does for the binding
//! what must not depend on one instance:
//!
//! - the Promises returned to callers (`deferred`/`settle`): after a restart it rejects every
//!   one still pending, which the aborted instance never could;
//! - the callbacks the host calls later (a Promise's `then`, `setTimeout`, the microtask that
//!   runs tasks): plain JS functions that call the instance of the epoch they were made in,
//!   and do nothing once that instance is gone (a wasm-bindgen `Closure` of an aborted
//!   instance throws "Cannot invoke closure from previous WASM instance" instead);
//! - timers longer than `setTimeout`'s limit (2^31 - 1 ms), chained;
//! - reading a user's `Uint8Array` through the intrinsic getters, so that a subclass or an
//!   object with its own `length` cannot lie about it or throw.
//!
//! Every host method is written never to throw.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen]
extern "C" {
    /// The host object (see the module docs).
    pub type Host;
    /// A new pending Promise, kept by the host until `settle`d (or rejected by a restart).
    #[wasm_bindgen(method, structural)]
    pub fn deferred(this: &Host) -> JsValue;
    /// Resolve (`ok`) or reject a Promise from `deferred`.
    #[wasm_bindgen(method, structural)]
    pub fn settle(this: &Host, promise: &JsValue, ok: bool, value: &JsValue);
    /// When `value` (a Promise, thenable or plain value) settles, call `__settle(key, ...)`.
    #[wasm_bindgen(method, structural, js_name = awaitThen)]
    pub fn await_then(this: &Host, value: &JsValue, key: f64);
    /// After `ms` milliseconds (any length), call `__settle(key, true)`; returns a handle.
    #[wasm_bindgen(method, structural)]
    pub fn timer(this: &Host, key: f64, ms: f64) -> JsValue;
    /// Cancel a timer.
    #[wasm_bindgen(method, structural, js_name = clearTimer)]
    pub fn clear_timer(this: &Host, handle: &JsValue);
    /// Call `__runTasks()` in a microtask.
    #[wasm_bindgen(method, structural)]
    pub fn schedule(this: &Host);
    /// Called by the panic hook: count the panic, reject every pending Promise, start a fresh
    /// instance and hand it the host.
    #[wasm_bindgen(method, structural, js_name = afterPanic)]
    pub fn after_panic(this: &Host, message: &str);
    /// The length of `value` if it is a genuine `Uint8Array` (a subclass such as Node's
    /// `Buffer` included), else -1.
    #[wasm_bindgen(method, structural)]
    pub fn u8len(this: &Host, value: &JsValue) -> f64;
    /// Copy the genuine `Uint8Array` `value` into `into` (a view of the same length); false if
    /// that failed (e.g. a detached buffer).
    #[wasm_bindgen(method, structural)]
    pub fn u8copy(this: &Host, value: &JsValue, into: &JsValue) -> bool;
    /// `f.call(self, ...)`, `obj[key]`, `Array.isArray(v)`, `JSON.stringify(v)` on user
    /// values, with any exception caught in JS: the call then returns `undefined`, `threw()`
    /// says so and `takeThrown()` hands over the exception. (An exception caught by
    /// wasm-bindgen's own `catch` costs an externref table slot that is never given back:
    /// one per throw, so a client that always throws would grow memory without bound.)
    #[wasm_bindgen(method, structural)]
    pub fn call0(this: &Host, f: &JsValue, self_: &JsValue) -> JsValue;
    /// See `call0`.
    #[wasm_bindgen(method, structural)]
    pub fn call1(this: &Host, f: &JsValue, self_: &JsValue, a: &JsValue) -> JsValue;
    /// See `call0`.
    #[wasm_bindgen(method, structural)]
    pub fn call2(this: &Host, f: &JsValue, self_: &JsValue, a: &JsValue, b: &JsValue) -> JsValue;
    /// See `call0`.
    #[wasm_bindgen(method, structural)]
    pub fn call3(this: &Host, f: &JsValue, self_: &JsValue, a: &JsValue, b: &JsValue, c: &JsValue) -> JsValue;
    /// See `call0`.
    #[wasm_bindgen(method, structural)]
    pub fn get(this: &Host, obj: &JsValue, key: &JsValue) -> JsValue;
    /// See `call0` (returns a boolean, or `undefined` when it threw).
    #[wasm_bindgen(method, structural, js_name = isArray)]
    pub fn is_array(this: &Host, v: &JsValue) -> JsValue;
    /// See `call0` (a string, or `undefined`).
    #[wasm_bindgen(method, structural)]
    pub fn stringify(this: &Host, v: &JsValue) -> JsValue;
    /// Whether the last `call*`/`get`/... threw.
    #[wasm_bindgen(method, structural)]
    pub fn threw(this: &Host) -> bool;
    /// The exception the last one threw (and forget it).
    #[wasm_bindgen(method, structural, js_name = takeThrown)]
    pub fn take_thrown(this: &Host) -> JsValue;
}

/// The result of a host call on user values: `Err` with the exception if it threw.
pub(crate) fn outcome(v: Option<JsValue>) -> Result<JsValue, JsValue> {
    let Some(v) = v else { return Err(JsValue::from_str(NO_HOST)) };
    if v.is_undefined() && with_host(|h| h.threw()).unwrap_or(false) {
        return Err(with_host(|h| h.take_thrown()).unwrap_or(JsValue::UNDEFINED));
    }
    Ok(v)
}

/// `f.call(this)`, the exception caught in JS (see `Host::call0`).
pub(crate) fn call0(f: &js_sys::Function, this: &JsValue) -> Result<JsValue, JsValue> {
    outcome(with_host(|h| h.call0(f, this)))
}

/// `f.call(this, a)`.
pub(crate) fn call1(f: &js_sys::Function, this: &JsValue, a: &JsValue) -> Result<JsValue, JsValue> {
    outcome(with_host(|h| h.call1(f, this, a)))
}

/// `f.call(this, a, b)`.
pub(crate) fn call2(f: &js_sys::Function, this: &JsValue, a: &JsValue, b: &JsValue) -> Result<JsValue, JsValue> {
    outcome(with_host(|h| h.call2(f, this, a, b)))
}

/// `f.call(this, a, b, c)`.
pub(crate) fn call3(
    f: &js_sys::Function,
    this: &JsValue,
    a: &JsValue,
    b: &JsValue,
    c: &JsValue,
) -> Result<JsValue, JsValue> {
    outcome(with_host(|h| h.call3(f, this, a, b, c)))
}

thread_local! {
    static HOST: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

/// Internal: the entry module hands its host to each new instance.
#[wasm_bindgen(js_name = "__setHost", skip_typescript)]
pub fn set_host(host: JsValue) {
    let _ = HOST.try_with(|h| {
        if let Ok(mut slot) = h.try_borrow_mut() {
            *slot = Some(host);
        }
    });
}

/// Run `f` with the host; `None` if the module was loaded without its entry module. No
/// borrow is held while the host runs (it may call back in, e.g. `__setHost`).
pub(crate) fn with_host<R>(f: impl FnOnce(&Host) -> R) -> Option<R> {
    let host = HOST.try_with(|h| h.try_borrow().ok().and_then(|h| h.clone())).ok().flatten()?;
    Some(f(host.unchecked_ref()))
}

/// The message for a module loaded without its entry module (no host).
pub(crate) const NO_HOST: &str =
    "synodos: load the package through its entry module (`import 'synodos'`), not the raw wasm-bindgen module";
