//! Errors across the boundary: core [`Error`]s become `SynodosError`s (a JS `Error` subclass
//! with a `code`), and JS exceptions thrown by user code travel inside core errors as their
//! `cause`, to be handed back unchanged.
//!
//! A core error's cause must be `Send + Sync`, and a `JsValue` is neither. Rather than
//! wrapping the `JsValue` with an `unsafe impl Send`, the value stays in a thread-local side
//! table and the error carries only its key ([`JsCause`]). The entry is removed when the last
//! clone of the error is dropped. wasm32-unknown-unknown is single-threaded, so the table is
//! always the one the value was put in.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use js_sys::{Array, Function, Reflect};
use synodos::{Cause, Error};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    static CAUSES: RefCell<HashMap<u64, JsValue>> = RefCell::new(HashMap::new());
    static NEXT_CAUSE: Cell<u64> = const { Cell::new(1) };
    static ERROR_FACTORY: RefCell<Option<Function>> = const { RefCell::new(None) };
}

/// A JS value thrown by user code, kept in the side table under `key`.
pub(crate) struct JsCause {
    key: u64,
    message: String,
}

impl JsCause {
    /// Keep `value` and return a cause that refers to it.
    pub(crate) fn new(value: JsValue) -> Arc<JsCause> {
        let key = NEXT_CAUSE.with(|n| {
            let k = n.get();
            n.set(k.wrapping_add(1));
            k
        });
        let message = describe(&value);
        CAUSES.with(|c| c.borrow_mut().insert(key, value));
        Arc::new(JsCause { key, message })
    }

    /// The original JS value.
    pub(crate) fn value(&self) -> JsValue {
        CAUSES.with(|c| c.borrow().get(&self.key).cloned()).unwrap_or(JsValue::UNDEFINED)
    }
}

impl Drop for JsCause {
    fn drop(&mut self) {
        // `try_with`: during thread-local teardown there is nothing left to remove.
        let _ = CAUSES.try_with(|c| {
            if let Ok(mut table) = c.try_borrow_mut() {
                table.remove(&self.key);
            }
        });
    }
}

impl fmt::Debug for JsCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsCause({:?})", self.message)
    }
}

impl fmt::Display for JsCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JsCause {}

/// A short text for any thrown JS value: an `Error`'s message, a string, or its JSON. Read
/// like any user object (`Reflect.get`, `JSON.stringify`, both caught): a hostile value
/// cannot throw from here.
pub(crate) fn describe(value: &JsValue) -> String {
    if let Some(s) = value.as_string() {
        return s;
    }
    if value.dyn_ref::<js_sys::Error>().is_some() {
        let m = crate::host::outcome(crate::host::with_host(|h| h.get(value, &"message".into())));
        if let Some(m) = m.ok().and_then(|m| m.as_string()) {
            return m;
        }
    }
    if let Some(n) = value.as_f64() {
        return n.to_string();
    }
    match crate::host::outcome(crate::host::with_host(|h| h.stringify(value))) {
        Ok(s) => s.as_string().unwrap_or_else(|| "(a value with no JSON form)".into()),
        Err(_) => "(a value that cannot be described)".into(),
    }
}

/// A transport error for an exception thrown (or a rejection) by a user's acceptor client.
pub(crate) fn transport(what: &str, thrown: JsValue) -> Error {
    let cause = JsCause::new(thrown);
    Error::Transport { message: format!("{what}: {}", cause.message), cause: Some(cause as Cause) }
}

/// A storage error for an exception thrown (or a rejection) by a user's log.
pub(crate) fn storage(what: &str, thrown: JsValue) -> Error {
    let cause = JsCause::new(thrown);
    Error::Storage { message: format!("{what}: {}", cause.message), cause: Some(cause as Cause) }
}

fn cause_of(error: &Error) -> JsValue {
    match error.user_cause().and_then(|c| c.downcast_ref::<JsCause>()) {
        Some(cause) => cause.value(),
        None => JsValue::UNDEFINED,
    }
}

/// Install the function that builds a `SynodosError` (the package's entry module does this
/// at load time). Not part of the public API.
#[wasm_bindgen(js_name = "__setErrorFactory", skip_typescript)]
pub fn set_error_factory(factory: Function) {
    ERROR_FACTORY.with(|f| *f.borrow_mut() = Some(factory));
}

/// Extra fields of an error: `failures` for NO_QUORUM, `promised` for REJECTED.
fn details(error: &Error) -> JsValue {
    let out = js_sys::Object::new();
    match error {
        Error::NoQuorum { failures, needed, acceptors, attempts, .. } => {
            let list = Array::new();
            for f in &failures.0 {
                list.push(&to_js(&f.error, Some(f.acceptor)));
            }
            let _ = Reflect::set(&out, &"failures".into(), &list);
            let _ = Reflect::set(&out, &"needed".into(), &JsValue::from(*needed as u32));
            let _ = Reflect::set(&out, &"acceptors".into(), &JsValue::from(*acceptors as u32));
            let _ = Reflect::set(&out, &"attempts".into(), &JsValue::from(*attempts));
        }
        Error::Rejected { promised } => {
            let _ = Reflect::set(&out, &"promised".into(), &JsValue::from(*promised));
        }
        _ => {}
    }
    out.into()
}

fn to_js(error: &Error, acceptor: Option<usize>) -> JsValue {
    let extra = details(error);
    if let Some(i) = acceptor {
        let _ = Reflect::set(&extra, &"acceptor".into(), &JsValue::from(i as u32));
    }
    make(error.code(), &error.to_string(), &cause_of(error), &extra)
}

/// A `SynodosError` (or, without the entry module's factory, an `Error` with a `code`).
fn make(code: &str, message: &str, cause: &JsValue, extra: &JsValue) -> JsValue {
    let code = JsValue::from_str(code);
    let message = JsValue::from_str(message);
    let cause = cause.clone();
    let extra = extra.clone();
    let factory = ERROR_FACTORY.with(|f| f.borrow().clone());
    if let Some(factory) = factory {
        let args = Array::of4(&code, &message, &cause, &extra);
        if let Ok(e) = factory.apply(&JsValue::NULL, &args) {
            return e;
        }
    }
    // No factory (the raw wasm-bindgen module was loaded directly): a plain Error with a code.
    let e = js_sys::Error::new(&message.as_string().unwrap_or_default());
    let _ = Reflect::set(&e, &"code".into(), &code);
    if !cause.is_undefined() {
        let _ = Reflect::set(&e, &"cause".into(), &cause);
    }
    e.into()
}

/// The `SynodosError` for a core error, with the user's original exception as `cause`.
pub(crate) fn to_js_error(error: &Error) -> JsValue {
    to_js(error, None)
}

/// `Result<T, Error>` -> `Result<T, JsValue>` for exported methods.
pub(crate) trait IntoJsResult<T> {
    /// Convert the error to a `SynodosError`.
    fn js(self) -> Result<T, JsValue>;
}

impl<T> IntoJsResult<T> for Result<T, Error> {
    fn js(self) -> Result<T, JsValue> {
        self.map_err(|e| to_js_error(&e))
    }
}

/// An INVALID_ARGUMENT `SynodosError`.
pub(crate) fn invalid_argument(message: impl Into<String>) -> JsValue {
    to_js_error(&Error::InvalidArgument(message.into()))
}

/// The `SynodosError` for a bad argument: `error` as it is, except that an exception thrown
/// while reading the argument (a transport error carrying a JS cause, from `jsread`) becomes
/// INVALID_ARGUMENT with that exception as its `cause`.
pub(crate) fn argument_error(error: &Error) -> JsValue {
    if let Error::Transport { message, cause: Some(c) } = error {
        if let Some(js) = c.downcast_ref::<JsCause>() {
            return make("INVALID_ARGUMENT", &format!("invalid argument: {message}"), &js.value(), &JsValue::UNDEFINED);
        }
    }
    to_js_error(error)
}

/// `Result<T, Error>` -> `Result<T, JsValue>` for an exported function's arguments (see
/// [`argument_error`]).
pub(crate) trait IntoArgResult<T> {
    /// Convert the error with [`argument_error`].
    fn arg(self) -> Result<T, JsValue>;
}

impl<T> IntoArgResult<T> for Result<T, Error> {
    fn arg(self) -> Result<T, JsValue> {
        self.map_err(|e| argument_error(&e))
    }
}

/// An error about a user's log record (from `jsread`: a transport error) as a storage error,
/// keeping its cause.
pub(crate) fn as_storage(error: Error) -> Error {
    match error {
        Error::Transport { message, cause } => Error::Storage { message, cause },
        Error::InvalidMessage(message) => Error::Storage { message, cause: None },
        other => other,
    }
}

/// Internal (tests): how many JS values Rust holds right now (the live slots of
/// wasm-bindgen's externref table). What every operation leaves behind shows up here.
#[wasm_bindgen(js_name = "__liveValues", skip_typescript)]
pub fn live_values() -> u32 {
    wasm_bindgen::externref_heap_live_count()
}
