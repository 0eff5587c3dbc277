//! Acceptors over logs whose methods may return Promises (e.g. IndexedDB in a browser):
//! the core's `AsyncAcceptor` over [`JsAsyncLog`]s, and the async conformance kit.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Promise as JsPromise, Uint8Array};
use synodos::async_log::{conformance, AsyncAcceptor as CoreAsync, AsyncLog, Ready};
use synodos::{Error, Result};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::{argument_error, as_storage, invalid_argument, storage, to_js_error, IntoJsResult};
use crate::jsread;
use crate::log::{own_handle_value, record_from, MemoryLogHandle};
use crate::msg::{self, u64_arg};

/// Await `v` if it is a Promise or thenable; a rejection becomes a storage error.
async fn settle(what: &str, r: std::result::Result<JsValue, JsValue>) -> Result<JsValue> {
    let v = r.map_err(|e| storage(&format!("log {what} threw"), e))?;
    let is_promise = v.is_instance_of::<JsPromise>();
    if is_promise || jsread::is_thenable(&v).map_err(as_storage)? {
        crate::settle::promise(&v).await.map_err(|e| storage(&format!("log {what} rejected"), e))
    } else {
        Ok(v)
    }
}

/// A log written in JS whose methods may return Promises.
#[derive(Debug, Clone)]
pub(crate) struct JsAsyncLog {
    obj: JsValue,
    record: Function,
    record_batch: Option<Function>,
    last: Function,
    range: Function,
    trim: Option<Function>,
}

impl JsAsyncLog {
    fn new(obj: JsValue) -> Result<JsAsyncLog> {
        let need = |name: &str| {
            jsread::method(&obj, name)?
                .ok_or_else(|| Error::InvalidArgument(format!("a log must have a {name}() method")))
        };
        Ok(JsAsyncLog {
            record: need("record")?,
            last: need("last")?,
            range: need("range")?,
            record_batch: jsread::method(&obj, "recordBatch")?,
            trim: jsread::method(&obj, "trim")?,
            obj,
        })
    }
}

impl AsyncLog for JsAsyncLog {
    async fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        let r = crate::host::call2(&self.record, &self.obj, &JsValue::from(id), &Uint8Array::from(data));
        settle("record", r).await.map(|_| ())
    }

    async fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        match self.record_batch.clone() {
            Some(f) => {
                let list: Array = records
                    .iter()
                    .map(|(id, data)| JsValue::from(Array::of2(&JsValue::from(*id), &Uint8Array::from(*data))))
                    .collect();
                let r = crate::host::call1(&f, &self.obj, &list);
                settle("recordBatch", r).await.map(|_| ())
            }
            None => {
                synodos::log::check_batch_order(self.last().await?.map(|(id, _)| id), records)?;
                for (id, data) in records {
                    self.record(*id, data).await?;
                }
                Ok(())
            }
        }
    }

    async fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let v = settle("last", crate::host::call0(&self.last, &self.obj)).await?;
        if v.is_undefined() || v.is_null() {
            return Ok(None);
        }
        record_from(&v).map(Some)
    }

    async fn range(&self, start: u64, stop: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let got: Rc<RefCell<Vec<JsValue>>> = Rc::default();
        let sink = got.clone();
        let visit = Closure::<dyn FnMut(JsValue, JsValue)>::new(move |id: JsValue, data: JsValue| {
            if let Ok(mut list) = sink.try_borrow_mut() {
                list.push(Array::of2(&id, &data).into());
            }
        });
        let r = crate::host::call3(&self.range, &self.obj, &JsValue::from(start), &JsValue::from(stop), visit.as_ref());
        let returned = settle("range", r).await?;
        drop(visit);
        let mut records: Vec<JsValue> = got.take();
        jsread::each_item(&returned, "the range answer", |_, rec| {
            records.push(rec);
            Ok(())
        })
        .map_err(as_storage)?;
        records.iter().map(record_from).collect()
    }

    async fn trim(&mut self, before: u64) -> Result<()> {
        match self.trim.clone() {
            Some(t) => settle("trim", crate::host::call1(&t, &self.obj, &JsValue::from(before))).await.map(|_| ()),
            None => Err(Error::storage("this log has no trim() method")),
        }
    }
}

/// A `MemoryLog` object or a JS log, used asynchronously.
#[derive(Debug, Clone)]
pub(crate) enum AnyAsyncLog {
    Memory(Ready<synodos::MemoryLog>),
    Js(JsAsyncLog),
}

impl AnyAsyncLog {
    fn from_js(v: &JsValue) -> Result<AnyAsyncLog> {
        if v.is_undefined() || v.is_null() {
            return Ok(AnyAsyncLog::Memory(Ready(synodos::MemoryLog::new())));
        }
        if let Some(h) = own_handle_value(v) {
            if let Ok(m) = <MemoryLogHandle as wasm_bindgen::convert::TryFromJsValue>::try_from_js_value(h) {
                return Ok(AnyAsyncLog::Memory(Ready(m.into_inner())));
            }
        }
        if !v.is_object() {
            return Err(Error::InvalidArgument(
                "a log must be a MemoryLog or an object with record(), last() and range()".into(),
            ));
        }
        JsAsyncLog::new(v.clone()).map(AnyAsyncLog::Js)
    }
}

impl AsyncLog for AnyAsyncLog {
    async fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        match self {
            AnyAsyncLog::Memory(l) => l.record(id, data).await,
            AnyAsyncLog::Js(l) => l.record(id, data).await,
        }
    }
    async fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        match self {
            AnyAsyncLog::Memory(l) => l.record_batch(records).await,
            AnyAsyncLog::Js(l) => l.record_batch(records).await,
        }
    }
    async fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        match self {
            AnyAsyncLog::Memory(l) => l.last().await,
            AnyAsyncLog::Js(l) => l.last().await,
        }
    }
    async fn range(&self, start: u64, stop: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        match self {
            AnyAsyncLog::Memory(l) => l.range(start, stop).await,
            AnyAsyncLog::Js(l) => l.range(start, stop).await,
        }
    }
    async fn trim(&mut self, before: u64) -> Result<()> {
        match self {
            AnyAsyncLog::Memory(l) => l.trim(before).await,
            AnyAsyncLog::Js(l) => l.trim(before).await,
        }
    }
}

/// The core's async acceptor over the binding's logs.
pub(crate) type CoreAsyncAcceptor = CoreAsync<AnyAsyncLog, AnyAsyncLog>;

/// An acceptor over logs whose methods may return Promises (open one with
/// `AsyncAcceptor.open`). Requests are handled one at a time: each reply leaves only after
/// its record's Promise resolved. Pass it to a `Proposer` like an `Acceptor`.
#[wasm_bindgen]
pub struct AsyncAcceptor {
    inner: Rc<CoreAsyncAcceptor>,
}

/// Internal: a second handle on an [`AsyncAcceptor`].
#[wasm_bindgen(skip_typescript)]
pub struct AsyncAcceptorHandle {
    pub(crate) inner: Rc<CoreAsyncAcceptor>,
}

fn promise_of<F>(f: F) -> JsPromise
where
    F: std::future::Future<Output = Result<JsValue>> + 'static,
{
    crate::exec::run_to_promise(async move { f.await.map_err(|e| to_js_error(&e)) })
}

/// A rejected Promise for a bad argument.
fn rejected_arg(e: &Error) -> JsPromise {
    JsPromise::reject(&argument_error(e))
}

#[wasm_bindgen]
impl AsyncAcceptor {
    /// Open an acceptor over two logs (each a `MemoryLog`, a JS log with sync or async
    /// methods, or omitted), recovering whatever they hold.
    pub fn open(promise_log: JsValue, accept_log: JsValue) -> JsPromise {
        let logs = AnyAsyncLog::from_js(&promise_log).and_then(|p| Ok((p, AnyAsyncLog::from_js(&accept_log)?)));
        let (p, a) = match logs {
            Ok(logs) => logs,
            Err(e) => return rejected_arg(&e),
        };
        crate::exec::run_to_promise(async move {
            let inner = CoreAsyncAcceptor::open(p, a).await.js()?;
            Ok(AsyncAcceptor { inner: Rc::new(inner) }.into())
        })
    }

    /// Phase 1b (resolves after the promise is recorded).
    pub fn prepare(&self, request: JsValue) -> JsPromise {
        let r = match msg::request_from(&request) {
            Ok(r) => r,
            Err(e) => return rejected_arg(&e),
        };
        let a = self.inner.clone();
        promise_of(async move { a.prepare(&r).await.map(|p| msg::promise_to(&p)) })
    }

    /// Phase 2b (resolves after the proposal is recorded).
    pub fn accept(&self, proposal: JsValue) -> JsPromise {
        let p = match msg::proposal_from(&proposal) {
            Ok(p) => p,
            Err(e) => return rejected_arg(&e),
        };
        let a = self.inner.clone();
        promise_of(async move { a.accept(&p).await.map(|p| msg::proposal_to(&p)) })
    }

    /// Every proposal accepted for slots `>= request.slot`.
    pub fn observe(&self, request: JsValue) -> JsPromise {
        let r = match msg::request_from(&request) {
            Ok(r) => r,
            Err(e) => return rejected_arg(&e),
        };
        let a = self.inner.clone();
        promise_of(async move { a.accepted_from(&r).await.map(|ps| msg::proposals_to(&ps).into()) })
    }

    /// Forget accepted proposals below `slot` and trim the accept log.
    pub fn trim(&self, slot: JsValue) -> JsPromise {
        let s = match u64_arg(&slot, "slot") {
            Ok(s) => s,
            Err(e) => return rejected_arg(&e),
        };
        let a = self.inner.clone();
        promise_of(async move { a.trim(s).await.map(|_| JsValue::UNDEFINED) })
    }

    /// The highest ballot promised (resolves to a BigInt).
    pub fn promised(&self) -> JsPromise {
        let a = self.inner.clone();
        promise_of(async move { Ok(JsValue::from(a.promised().await)) })
    }

    /// Internal: lets a `Proposer` recognise this acceptor.
    #[wasm_bindgen(js_name = "__synodosHandle", skip_typescript)]
    pub fn handle(&self) -> AsyncAcceptorHandle {
        AsyncAcceptorHandle { inner: self.inner.clone() }
    }
}

/// Run the core's storage conformance kit (async variant, same checks) against a JS log
/// whose methods may return Promises. `open(name)` returns the log (or a Promise of it).
/// Resolves to the names of the checks passed; rejects with a `SynodosError` naming the
/// first failed check.
#[wasm_bindgen(js_name = runLogConformanceAsync)]
pub fn run_log_conformance_async(open: JsValue) -> JsPromise {
    let open: Function = match open.dyn_into::<Function>() {
        Ok(f) => f,
        Err(_) => return JsPromise::reject(&invalid_argument("open must be a function")),
    };
    crate::exec::run_to_promise(async move {
        let report = conformance::run(|name| {
            let opened = crate::host::call1(&open, &JsValue::NULL, &JsValue::from_str(name));
            async move {
                let obj = settle("open", opened).await?;
                AnyAsyncLog::from_js(&obj)
            }
        })
        .await;
        match report {
            Ok(r) => Ok(r.checks.iter().map(|c| JsValue::from_str(c)).collect::<Array>().into()),
            Err(failure) => Err(invalid_argument(failure.to_string())),
        }
    })
}
