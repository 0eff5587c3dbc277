//! Storage logs: the core's `MemoryLog` as a JS class, and any JS object with `record`,
//! `last`, `range` (and optionally `recordBatch`, `trim`) as a [`Log`].

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Uint8Array};
use synodos::log::conformance;
use synodos::{Error, Log, Result};
use wasm_bindgen::convert::TryFromJsValue;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{as_storage, invalid_argument, storage, to_js_error, IntoArgResult, IntoJsResult};
use crate::jsread;
use crate::msg::{bytes_from, u64_arg, u64_from};

/// A log in memory (the core's `MemoryLog`). Two acceptors built over the same `MemoryLog`
/// objects share their records, so a second `Acceptor` over them acts like a restart.
#[wasm_bindgen]
#[derive(Debug, Clone, Default)]
pub struct MemoryLog {
    inner: synodos::MemoryLog,
}

#[wasm_bindgen]
impl MemoryLog {
    /// An empty log.
    #[wasm_bindgen(constructor)]
    pub fn new() -> MemoryLog {
        MemoryLog::default()
    }

    /// Append a record (ids must increase).
    pub fn record(&self, id: JsValue, data: JsValue) -> Result<(), JsValue> {
        let id = u64_arg(&id, "id").arg()?;
        let data = jsread::bytes(&data, "data")
            .and_then(|d| d.ok_or_else(|| Error::InvalidArgument("data must be a Uint8Array".into())))
            .arg()?;
        // A handle clone: `&self` only, so a range visitor may append (no borrow conflict).
        self.inner.clone().record(id, &data).js()
    }

    /// The record with the highest id, as `[id, data]`, or `null`.
    pub fn last(&self) -> Result<JsValue, JsValue> {
        Ok(match self.inner.last().js()? {
            Some((id, data)) => record_to(id, &data).into(),
            None => JsValue::NULL,
        })
    }

    /// Call `visit(id, data)` for every record with `start <= id <= stop`, in id order.
    pub fn range(&self, start: JsValue, stop: JsValue, visit: JsValue) -> Result<(), JsValue> {
        let start = u64_arg(&start, "start").arg()?;
        let stop = u64_arg(&stop, "stop").arg()?;
        let visit: Function = match visit.dyn_into::<Function>() {
            Ok(f) => f,
            Err(_) => return Err(invalid_argument("visit must be a function")),
        };
        // Copy first: the visitor is user code and may call back into this log.
        let mut records = Vec::new();
        self.inner
            .range(start, stop, &mut |id, data| {
                records.push((id, data.to_vec()));
                Ok(())
            })
            .js()?;
        for (id, data) in records {
            crate::host::call2(&visit, &JsValue::NULL, &JsValue::from(id), &Uint8Array::from(&data[..]))
                .map_err(|e| to_js_error(&crate::error::transport("the range visitor threw", e)))?;
        }
        Ok(())
    }

    /// Forget every record with `id < before`.
    pub fn trim(&self, before: JsValue) -> Result<(), JsValue> {
        let before = u64_arg(&before, "before").arg()?;
        self.inner.clone().trim(before).js()
    }

    /// How many records the log holds.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> usize {
        self.inner.len()
    }

    /// A handle the binding uses to recognise its own logs without calling user code.
    #[wasm_bindgen(js_name = "__synodosHandle", skip_typescript)]
    pub fn handle(&self) -> MemoryLogHandle {
        MemoryLogHandle { inner: self.inner.clone() }
    }
}

/// Internal: a second handle on a [`MemoryLog`].
#[wasm_bindgen(skip_typescript)]
#[derive(Debug)]
pub struct MemoryLogHandle {
    inner: synodos::MemoryLog,
}

impl MemoryLogHandle {
    pub(crate) fn into_inner(self) -> synodos::MemoryLog {
        self.inner
    }
}

fn record_to(id: u64, data: &[u8]) -> Array {
    Array::of2(&JsValue::from(id), &Uint8Array::from(data))
}

/// If `obj` is one of this module's objects, get its handle object (by calling its own
/// `__synodosHandle`, which is this module's code, never a user's).
pub(crate) fn own_handle_value(obj: &JsValue) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    let f = crate::host::outcome(crate::host::with_host(|h| h.get(obj, &JsValue::from_str("__synodosHandle")))).ok()?;
    let f = f.dyn_into::<Function>().ok()?;
    crate::host::call0(&f, obj).ok()
}

/// [`own_handle_value`], converted to the handle type `H` (None if it is another kind).
pub(crate) fn own_handle<H: TryFromJsValue>(obj: &JsValue) -> Option<H> {
    H::try_from_js_value(own_handle_value(obj)?).ok()
}

/// A log written in JS, used synchronously.
#[derive(Debug, Clone)]
pub(crate) struct JsLog {
    obj: JsValue,
    record: Function,
    record_batch: Option<Function>,
    last: Function,
    range: Function,
    trim: Option<Function>,
}

impl JsLog {
    /// Look up the log's methods once (reading one that throws is an error with that
    /// exception as its cause).
    pub(crate) fn new(obj: JsValue) -> Result<JsLog> {
        let need = |name: &str| {
            jsread::method(&obj, name)?
                .ok_or_else(|| Error::InvalidArgument(format!("a log must have a {name}() method")))
        };
        Ok(JsLog {
            record: need("record")?,
            last: need("last")?,
            range: need("range")?,
            record_batch: jsread::method(&obj, "recordBatch")?,
            trim: jsread::method(&obj, "trim")?,
            obj,
        })
    }

    fn sync(&self, what: &str, r: std::result::Result<JsValue, JsValue>) -> Result<JsValue> {
        let v = r.map_err(|e| storage(&format!("log {what} threw"), e))?;
        if jsread::is_thenable(&v).map_err(as_storage)? {
            return Err(Error::InvalidArgument(format!(
                "log {what} returned a Promise: an Acceptor calls its logs synchronously \
                 (use a synchronous log, e.g. over an in-memory cache of your storage)"
            )));
        }
        Ok(v)
    }
}

/// A `[id, data]` pair returned by a JS log's `last` or `range` (read like any user
/// object: an element whose getter throws is a storage error with that exception as cause).
pub(crate) fn record_from(v: &JsValue) -> Result<(u64, Vec<u8>)> {
    let bad = || Error::storage("a log record must be [id: bigint, data: Uint8Array]");
    if !jsread::is_array(v).map_err(as_storage)? {
        return Err(bad());
    }
    let item = |i: u32| jsread::get(v, &JsValue::from(i), "a log record").map_err(as_storage);
    let id = u64_from(&item(0)?, "record id").map_err(|_| bad())?;
    let data = match bytes_from(&item(1)?, "record data") {
        Ok(d) => d,
        Err(e @ Error::Transport { .. }) => return Err(as_storage(e)),
        Err(_) => return Err(bad()),
    };
    Ok((id, data))
}

impl Log for JsLog {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        let r = crate::host::call2(&self.record, &self.obj, &JsValue::from(id), &Uint8Array::from(data));
        self.sync("record", r).map(|_| ())
    }

    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        match &self.record_batch {
            Some(f) => {
                let list: Array = records.iter().map(|(id, data)| JsValue::from(record_to(*id, data))).collect();
                let r = crate::host::call1(f, &self.obj, &list);
                self.sync("recordBatch", r).map(|_| ())
            }
            None => {
                synodos::log::check_batch_order(self.last()?.map(|(id, _)| id), records)?;
                for (id, data) in records {
                    self.record(*id, data)?;
                }
                Ok(())
            }
        }
    }

    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let r = crate::host::call0(&self.last, &self.obj);
        let v = self.sync("last", r)?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        record_from(&v).map(Some)
    }

    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        // The visitor only collects; `f` runs after the JS call returns, so no Rust
        // closure borrowed from this frame is ever reachable from JS.
        let got: Rc<RefCell<Vec<JsValue>>> = Rc::default();
        let sink = got.clone();
        let visit = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |id: JsValue, data: JsValue| {
            if let Ok(mut list) = sink.try_borrow_mut() {
                list.push(Array::of2(&id, &data).into());
            }
        });
        let r = crate::host::call3(&self.range, &self.obj, &JsValue::from(start), &JsValue::from(stop), visit.as_ref());
        drop(visit);
        let returned = self.sync("range", r)?;
        let mut records: Vec<JsValue> = got.take();
        jsread::each_item(&returned, "the range answer", |_, rec| {
            records.push(rec);
            Ok(())
        })
        .map_err(as_storage)?;
        for rec in records {
            let (id, data) = record_from(&rec)?;
            f(id, &data)?;
        }
        Ok(())
    }

    fn trim(&mut self, before: u64) -> Result<()> {
        match &self.trim {
            Some(t) => {
                let r = crate::host::call1(t, &self.obj, &JsValue::from(before));
                self.sync("trim", r).map(|_| ())
            }
            None => Err(Error::storage("this log has no trim() method")),
        }
    }
}

/// A log an [`Acceptor`](crate::Acceptor) can run over: the core's memory log, or a JS one.
#[derive(Debug, Clone)]
pub(crate) enum AnyLog {
    Memory(synodos::MemoryLog),
    Js(JsLog),
}

impl AnyLog {
    /// A `MemoryLog` object or any JS object with the log methods; `undefined` is a new
    /// memory log.
    pub(crate) fn from_js(v: &JsValue) -> Result<AnyLog> {
        if v.is_undefined() || v.is_null() {
            return Ok(AnyLog::Memory(synodos::MemoryLog::new()));
        }
        if let Some(h) = own_handle::<MemoryLogHandle>(v) {
            return Ok(AnyLog::Memory(h.inner));
        }
        if !v.is_object() {
            return Err(Error::InvalidArgument(
                "a log must be a MemoryLog or an object with record(), last() and range()".into(),
            ));
        }
        JsLog::new(v.clone()).map(AnyLog::Js)
    }
}

impl Log for AnyLog {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        match self {
            AnyLog::Memory(l) => l.record(id, data),
            AnyLog::Js(l) => l.record(id, data),
        }
    }
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        match self {
            AnyLog::Memory(l) => l.record_batch(records),
            AnyLog::Js(l) => l.record_batch(records),
        }
    }
    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        match self {
            AnyLog::Memory(l) => l.last(),
            AnyLog::Js(l) => l.last(),
        }
    }
    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        match self {
            AnyLog::Memory(l) => l.range(start, stop, f),
            AnyLog::Js(l) => l.range(start, stop, f),
        }
    }
    fn trim(&mut self, before: u64) -> Result<()> {
        match self {
            AnyLog::Memory(l) => l.trim(before),
            AnyLog::Js(l) => l.trim(before),
        }
    }
}

/// Run the core's storage conformance kit (`synodos::log::conformance`) against a log
/// written in JS. `open(name)` must return the log stored under `name`, creating it empty
/// the first time; opening a name again must see what was written (a reopen). Returns the
/// names of the checks passed; throws a `SynodosError` (INVALID_ARGUMENT) naming the first
/// failed check.
#[wasm_bindgen(js_name = runLogConformance)]
pub fn run_log_conformance(open: JsValue) -> Result<Vec<String>, JsValue> {
    let open: Function = match open.dyn_into::<Function>() {
        Ok(f) => f,
        Err(_) => return Err(invalid_argument("open must be a function")),
    };
    let report = conformance::run(|name| {
        let obj = crate::host::call1(&open, &JsValue::NULL, &JsValue::from_str(name))
            .map_err(|e| storage("open threw", e))?;
        if jsread::is_thenable(&obj).map_err(as_storage)? {
            return Err(Error::InvalidArgument("open() must return the log itself, not a Promise".into()));
        }
        AnyLog::from_js(&obj)
    });
    match report {
        Ok(r) => Ok(r.checks.iter().map(|c| c.to_string()).collect()),
        Err(failure) => Err(invalid_argument(failure.to_string())),
    }
}
