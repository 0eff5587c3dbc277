//! Acceptor clients: the binding's own `Acceptor` objects (called directly in Rust) and any
//! JS object with `prepare`/`accept` (and optionally `observe`) returning a value or a Promise.

use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Function, Promise as JsPromise};
use synodos::{AcceptorClient, Batch, Error, Promise, Proposal, Request, Result, Sleeper};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::error::transport;
use crate::log::AnyLog;
use crate::{jsread, msg};

/// The core acceptor over the binding's logs.
pub(crate) type CoreAcceptor = synodos::Acceptor<AnyLog, AnyLog>;

/// A shared in-process acceptor. The `RefCell` is borrowed only for the duration of one
/// synchronous acceptor step (which includes its log writes: the reply must not leave before
/// the write). A log written in JS that calls back into the same acceptor gets an error, not
/// a panic.
#[derive(Debug, Clone)]
pub(crate) struct Local(pub(crate) Rc<RefCell<CoreAcceptor>>);

impl Local {
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut CoreAcceptor) -> Result<R>) -> Result<R> {
        match self.0.try_borrow_mut() {
            Ok(mut a) => f(&mut a),
            Err(_) => Err(Error::InvalidArgument(
                "acceptor called re-entrantly (from one of its own logs); not allowed".into(),
            )),
        }
    }
}

/// A JS acceptor client, with its methods looked up once.
#[derive(Debug, Clone)]
pub(crate) struct JsClient {
    obj: JsValue,
    prepare: Function,
    accept: Function,
    observe: Option<Function>,
    /// Optional: a client that can send a whole batch as one request (e.g. `HttpAcceptor`).
    accept_batch: Option<Function>,
}

impl JsClient {
    /// Look up the client's methods once (reading one that throws is an error with that
    /// exception as its cause).
    pub(crate) fn new(obj: JsValue, index: usize) -> Result<JsClient> {
        let need = |name: &str| {
            jsread::method(&obj, name)?.ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "acceptor client {index} must be an Acceptor or an object with prepare() and accept() methods (no {name}())"
                ))
            })
        };
        let (prepare, accept) = (need("prepare")?, need("accept")?);
        Ok(JsClient {
            prepare,
            accept,
            observe: jsread::method(&obj, "observe")?,
            accept_batch: jsread::method(&obj, "acceptBatch")?,
            obj,
        })
    }

    /// Call `f(arg)`: a thrown exception or a rejected Promise becomes a transport error
    /// carrying the original value as its cause.
    async fn call(&self, name: &str, f: &Function, arg: JsValue) -> Result<JsValue> {
        let v = crate::host::call1(f, &self.obj, &arg)
            .map_err(|e| transport(&format!("acceptor client {name}() threw"), e))?;
        let is_promise = v.is_instance_of::<JsPromise>();
        if is_promise || jsread::is_thenable(&v)? {
            crate::settle::promise(&v).await.map_err(|e| transport(&format!("acceptor client {name}() rejected"), e))
        } else {
            Ok(v)
        }
    }
}

/// Either kind of client.
#[derive(Debug, Clone)]
pub(crate) enum Client {
    Local(Local),
    LocalAsync(Rc<crate::async_acceptor::CoreAsyncAcceptor>),
    Js(JsClient),
}

impl AcceptorClient for Client {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        match self {
            Client::Local(a) => a.with(|a| a.prepare(request)),
            Client::LocalAsync(a) => a.prepare(request).await,
            Client::Js(c) => msg::promise_from(&c.call("prepare", &c.prepare, msg::request_to(request)).await?),
        }
    }

    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        match self {
            Client::Local(a) => a.with(|a| a.accept(proposal)),
            Client::LocalAsync(a) => a.accept(proposal).await,
            Client::Js(c) => msg::proposal_from(&c.call("accept", &c.accept, msg::proposal_to(proposal)).await?),
        }
    }

    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        match self {
            Client::Local(a) => a.with(|a| a.accept_batch(batch)),
            Client::LocalAsync(a) => a.accept_batch(batch).await,
            Client::Js(c) => match &c.accept_batch {
                Some(f) => msg::proposal_from(&c.call("acceptBatch", f, msg::batch_to(batch)).await?),
                None => synodos::driver::client::accept_each(self, batch).await,
            },
        }
    }

    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        match self {
            Client::Local(a) => a.with(|a| a.accepted_from(request)),
            Client::LocalAsync(a) => a.accepted_from(request).await,
            Client::Js(c) => match &c.observe {
                Some(f) => msg::proposals_from(&c.call("observe", f, msg::request_to(request)).await?),
                None => Err(Error::transport("this acceptor client has no observe() method")),
            },
        }
    }
}

/// Timers from the host's `setTimeout`. A sleep that is dropped early (the call it bounded
/// answered first) clears its timer, so finished calls leave no pending timers behind.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct JsSleeper;

impl Sleeper for JsSleeper {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        // Any length: the host chains timers past setTimeout's 2^31 - 1 ms.
        crate::settle::Timer::new(duration.as_secs_f64() * 1000.0)
    }
}
