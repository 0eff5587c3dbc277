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
