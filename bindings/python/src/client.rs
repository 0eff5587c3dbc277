//! Acceptor clients: a local `synodos.Acceptor` (called in Rust, no GIL, no thread) or any
//! Python object with `prepare`, `accept` (and optionally `observe`), called on a worker.

use std::sync::Arc;

use futures::channel::oneshot;
use pyo3::prelude::*;
use synodos::{AcceptorClient, Error, Promise, Proposal, Request, Result};

use crate::acceptor::{PyAcceptor, SharedAcceptor};
use crate::errors::transport_error;
use crate::messages::{PyPromise, PyProposal, PyRequest};
use crate::pool;

/// One acceptor, as a proposer reaches it.
#[derive(Debug)]
pub enum Client {
    /// An in-process acceptor.
    Local(SharedAcceptor),
    /// A Python object.
    Py(Arc<Py<PyAny>>),
}

impl Client {
    /// A `synodos.Acceptor` becomes a local client; anything else must have `prepare` and
    /// `accept` methods.
    pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Client> {
        if let Ok(a) = obj.cast::<PyAcceptor>() {
            return Ok(Client::Local(a.get().0.clone()));
        }
        for method in ["prepare", "accept"] {
            if !obj.hasattr(method)? {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "an acceptor client needs prepare and accept methods; {} has no {method}",
                    obj.get_type().name()?
                )));
            }
        }
        Ok(Client::Py(Arc::new(obj.clone().unbind())))
    }
}

/// Call `obj.method(arg)` on a worker thread and convert the answer with `convert`.
async fn call_py<A, R>(
    obj: &Arc<Py<PyAny>>,
    method: &'static str,
    arg: A,
    convert: fn(&Bound<'_, PyAny>) -> PyResult<R>,
) -> Result<R>
where
    A: for<'py> IntoPyObject<'py> + Send + 'static,
    R: Send + 'static,
{
    let (tx, rx) = oneshot::channel::<Result<R>>();
    let obj = Arc::clone(obj);
    let task: pool::Task = Box::new(move |py: Python<'_>| {
        if tx.is_canceled() {
            // The proposer stopped waiting (a majority answered, or it timed out): skip.
            return;
        }
        let result = obj
            .bind(py)
            .call_method1(method, (arg,))
            .and_then(|r| convert(&r))
            .map_err(|e| transport_error(py, method, e));
        drop(obj);
        let _ = tx.send(result);
    });
    pool::submit(task).map_err(Error::transport)?;
    match rx.await {
        Ok(r) => r,
        Err(_) => Err(Error::transport(format!("client.{method}() stopped without an answer (a panic)"))),
    }
}

fn to_promise(r: &Bound<'_, PyAny>) -> PyResult<Promise> {
    Ok(r.cast::<PyPromise>()?.get().0.clone())
}

fn to_proposal(r: &Bound<'_, PyAny>) -> PyResult<Proposal> {
    Ok(r.cast::<PyProposal>()?.get().0.clone())
}

fn to_proposals(r: &Bound<'_, PyAny>) -> PyResult<Vec<Proposal>> {
    let mut out = Vec::new();
    for item in r.try_iter()? {
        out.push(to_proposal(&item?)?);
    }
    Ok(out)
}

impl AcceptorClient for Client {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        match self {
            Client::Local(a) => a.prepare(request),
            Client::Py(obj) => call_py(obj, "prepare", PyRequest(request.clone()), to_promise).await,
        }
    }

    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        match self {
            Client::Local(a) => a.accept(proposal),
            Client::Py(obj) => call_py(obj, "accept", PyProposal(proposal.clone()), to_proposal).await,
        }
    }

    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        match self {
            Client::Local(a) => a.observe(request),
            Client::Py(obj) => call_py(obj, "observe", PyRequest(request.clone()), to_proposals).await,
        }
    }
}
