//! Acceptor clients: a local `synodos.Acceptor` (called in Rust, no GIL, no thread) or any
//! Python object with `prepare`, `accept` (and optionally `observe`), called inline by the
//! worker driving the decision (see `exec`), or on a worker of its own when an earlier call
//! to the same client is still running (a client that hangs does not catch a second worker
//! that has other clients to call).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyDict, PyTuple, PyType};
use synodos::{AcceptorClient, Error, Promise, Proposal, Request, Result};

use crate::acceptor::{PyAcceptor, SharedAcceptor};
use crate::errors::{self, transport_error};
use crate::messages::{PyPromise, PyProposal, PyRequest};
use crate::{exec, pool, pycall};

/// One acceptor, as a proposer reaches it.
#[derive(Debug)]
pub enum Client {
    /// An in-process acceptor.
    Local(SharedAcceptor),
    /// An acceptor over HTTP (`synodos.HttpAcceptor`), called in Rust without the GIL.
    Http(synodos_net::HttpAcceptor),
    /// A Python object, called on a worker thread.
    Py(Arc<PyClient>),
    /// A Python object that never blocks, called on the proposer's thread
    /// (`Proposer(..., inline_calls=True)`).
    Inline(Arc<PyClient>),
}

impl Client {
    /// Whether this client must be called on a worker thread (it may block).
    pub fn needs_worker(&self) -> bool {
        matches!(self, Client::Py(_))
    }
}

/// A Python-written client, with the number of its calls in flight (queued or running) and
/// how long its calls have been taking.
#[derive(Debug)]
pub struct PyClient {
    obj: Py<PyAny>,
    running: AtomicUsize,
    /// A moving average of its calls' durations, in nanoseconds.
    recent_nanos: AtomicU64,
}

/// Clients whose calls take longer than this (network clients, typically) are called on a
/// worker of their own, concurrently; quicker ones are called inline by the worker driving
/// the decision, where a thread hand-off would cost more than the call.
const INLINE_UP_TO: Duration = Duration::from_micros(50);

impl PyClient {
    fn new(obj: Py<PyAny>) -> Self {
        PyClient { obj, running: AtomicUsize::new(0), recent_nanos: AtomicU64::new(0) }
    }

    /// Whether the next call should go to a worker of its own: another call to this client
    /// is in flight (maybe stuck), or its calls have been slow.
    fn call_apart(&self) -> bool {
        self.running.load(Ordering::SeqCst) > 0
            || self.recent_nanos.load(Ordering::Relaxed) > u64::try_from(INLINE_UP_TO.as_nanos()).unwrap_or(u64::MAX)
    }

    fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.recent_nanos.load(Ordering::Relaxed);
        // Weight 1/4 on the newest call: one slow call moves a fast client apart at once
        // (50 µs from a 1 µs average takes one call of 200 µs), and a few fast ones bring it back.
        let new = old - old / 4 + took / 4;
        self.recent_nanos.store(new, Ordering::Relaxed);
    }
}

/// One call to a client, queued or running: counted in the client's `running` while alive
/// (it lives in the call's task, so a task dropped unrun counts down too).
struct InFlight(Arc<PyClient>);

impl InFlight {
    fn enter(client: &Arc<PyClient>) -> Self {
        client.running.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(client))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
    }
}

/// At most this many calls to one client may be in flight; more fail at once. A hung client
/// would otherwise catch one more worker thread with every call.
const MAX_CALLS_PER_CLIENT: usize = 16;

impl Client {
    /// A `synodos.Acceptor` becomes a local client; anything else must have `prepare` and
    /// `accept` methods, and is called inline (on the proposer's thread) if `inline`.
    pub fn from_py(obj: &Bound<'_, PyAny>, inline: bool) -> PyResult<Client> {
        if let Ok(a) = obj.cast::<PyAcceptor>() {
            return Ok(Client::Local(a.get().0.clone()));
        }
        if let Ok(a) = obj.cast::<crate::net::PyHttpAcceptor>() {
            return Ok(Client::Http(a.get().0.clone()));
        }
        for method in ["prepare", "accept"] {
            if !obj.hasattr(method)? {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "an acceptor client needs prepare and accept methods; {} has no {method}",
                    obj.get_type().name()?
                )));
            }
        }
        let client = Arc::new(PyClient::new(obj.clone().unbind()));
        Ok(if inline { Client::Inline(client) } else { Client::Py(client) })
    }
}

/// The `concurrent.futures.Future` a client answered with, and whether the proposer has
/// stopped waiting for it. One lock orders the two sides, so a future that arrives after
/// the proposer gave up is still cancelled.
#[derive(Default)]
struct Pending {
    future: Option<Py<PyAny>>,
    abandoned: bool,
}

type SharedPending = Arc<Mutex<Pending>>;

fn lock(p: &SharedPending) -> std::sync::MutexGuard<'_, Pending> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

fn cancel_later(future: Py<PyAny>) {
    let _ = pool::submit(Box::new(move |py: Python<'_>| {
        let _ = pycall::call_method(future.bind(py), "cancel", ());
    }));
}

/// Cancels the client's future if the call is dropped before it answered (it timed out, or
/// a majority answered first).
struct CancelOnDrop(SharedPending);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let future = {
            let mut p = lock(&self.0);
            p.abandoned = true;
            p.future.take()
        };
        if let Some(future) = future {
            cancel_later(future);
        }
    }
}

fn future_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static FUTURE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    FUTURE.import(py, "concurrent.futures", "Future")
}

/// An answer that is not the message itself: a `concurrent.futures.Future` of it (what
/// `synodos.aio` hands back) is followed through its done-callback, which sends the converted
/// result on `tx` (and the future is cancelled if the proposer stops waiting first); anything
/// else is an error, `converted` being why it is not the message.
fn deliver_later<R: Send + 'static>(
    py: Python<'_>,
    method: &'static str,
    answer: &Bound<'_, PyAny>,
    converted: PyErr,
    tx: oneshot::Sender<Result<R>>,
    pending: &SharedPending,
    convert: fn(&Bound<'_, PyAny>) -> PyResult<R>,
) {
    match future_type(py).and_then(|t| answer.is_instance(t)) {
        Ok(true) => {
            let tx = Mutex::new(Some(tx));
            // The done-callback runs on whichever thread finishes the future.
            let interrupt = errors::current_interrupt();
            let on_done = move |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
                let py = args.py();
                let _scope = errors::Scope::enter(interrupt.clone());
                let result = args
                    .get_item(0)
                    .and_then(|f| pycall::call_method(&f, "result", ()))
                    .and_then(|r| convert(&r))
                    .map_err(|e| transport_error(py, method, e));
                if let Some(tx) = tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    let _ = tx.send(result);
                }
                Ok(())
            };
            {
                let mut p = lock(pending);
                if p.abandoned {
                    drop(p);
                    let _ = pycall::call_method(answer, "cancel", ());
                    return;
                }
                p.future = Some(answer.clone().unbind());
            }
            // If registering fails, the callback (holding the sender) is gone and the
            // caller sees the call end without an answer.
            let _ = PyCFunction::new_closure(py, None, None, on_done)
                .and_then(|cb| pycall::call_method(answer, "add_done_callback", (cb,)));
        }
        Ok(false) if answer.hasattr("__await__").unwrap_or(false) => {
            let _ = pycall::call_method(answer, "close", ());
            let e = PyTypeError::new_err(format!("{method}() returned a coroutine: use synodos.aio for async clients"));
            let _ = tx.send(Err(transport_error(py, method, e)));
        }
        _ => {
            let _ = tx.send(Err(transport_error(py, method, converted)));
        }
    }
}

/// Wait for the answer sent on `rx`; `cancel` (the future the client handed back, if any) is
/// cancelled if this is dropped before the answer came.
async fn answer_of<R>(method: &'static str, rx: oneshot::Receiver<Result<R>>, cancel: CancelOnDrop) -> Result<R> {
    let result = match rx.await {
        Ok(r) => r,
        Err(_) => Err(Error::transport(format!("client.{method}() stopped without an answer"))),
    };
    // Answered: nothing to cancel.
    let done = {
        let mut p = lock(&cancel.0);
        p.abandoned = true;
        p.future.take()
    };
    drop(done);
    result
}

/// Call `client.method(arg)` and convert the answer with `convert`: inline on the worker
/// driving the decision, or on a worker of its own if the client is still busy with an
/// earlier call.
///
/// The answer may also be a `concurrent.futures.Future` (what `synodos.aio` hands back for
/// a coroutine running on the event loop): then the worker is released at once, the
/// future's done-callback delivers the answer, and the future is cancelled if the proposer
/// stops waiting.
async fn call_py<A, R>(
    client: &Arc<PyClient>,
    method: &'static str,
    arg: A,
    convert: fn(&Bound<'_, PyAny>) -> PyResult<R>,
) -> Result<R>
where
    A: for<'py> IntoPyObject<'py> + Send + 'static,
    R: Send + 'static,
{
    let in_flight = client.running.load(Ordering::SeqCst);
    if in_flight >= MAX_CALLS_PER_CLIENT {
        return Err(Error::transport(format!(
            "client.{method}() not called: {in_flight} earlier calls to this client have not returned"
        )));
    }
    if errors::interrupted() {
        return Err(not_called(method));
    }
    let (tx, rx) = oneshot::channel::<Result<R>>();
    let apart = client.call_apart();
    let flight = InFlight::enter(client);
    let pending: SharedPending = Arc::default();
    let cancel = CancelOnDrop(pending.clone());
    // The call runs later, maybe on another thread: it carries the call's interrupt along.
    let interrupt = errors::current_interrupt();
    let task: pool::Task = Box::new(move |py: Python<'_>| {
        if tx.is_canceled() {
            // The proposer stopped waiting (a majority answered, or it timed out): skip.
            return;
        }
        let _scope = errors::Scope::enter(interrupt);
        if errors::interrupted() {
            let _ = tx.send(Err(not_called(method)));
            return;
        }
        let answer = {
            let client = &flight.0;
            let started = Instant::now();
            let answer = pycall::call_method(client.obj.bind(py), method, (arg,));
            client.record(started.elapsed());
            answer
        };
        drop(flight);
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                let _ = tx.send(Err(transport_error(py, method, e)));
                return;
            }
        };
        // The common case first: an answer of the expected type (checking for a future or
        // a coroutine first would cost an attribute lookup that fails, i.e. an exception).
        match convert(&answer) {
            Ok(r) => {
                let _ = tx.send(Ok(r));
            }
            Err(converted) => deliver_later(py, method, &answer, converted, tx, &pending, convert),
        }
    });
    if apart {
        pool::submit(task).map_err(Error::transport)?;
    } else {
        exec::spawn_call(task).map_err(Error::transport)?;
    }
    answer_of(method, rx, cancel).await
}

/// What an inline call answered: the message, or a future of it to wait for.
enum InlineAnswer<R> {
    Now(R),
    Later(oneshot::Receiver<Result<R>>, CancelOnDrop),
}

/// Call `client.method(arg)` right here, taking the GIL for the call (`inline_calls`). The
/// answer is the message, or a `concurrent.futures.Future` of it.
fn call_inline<A, R>(
    client: &PyClient,
    method: &'static str,
    arg: A,
    convert: fn(&Bound<'_, PyAny>) -> PyResult<R>,
) -> Result<InlineAnswer<R>>
where
    A: for<'py> IntoPyObject<'py>,
    R: Send + 'static,
{
    if errors::interrupted() {
        return Err(not_called(method));
    }
    Python::attach(|py| {
        let answer =
            pycall::call_method(client.obj.bind(py), method, (arg,)).map_err(|e| transport_error(py, method, e))?;
        Ok(match convert(&answer) {
            Ok(r) => InlineAnswer::Now(r),
            Err(converted) => {
                let (tx, rx) = oneshot::channel();
                let pending: SharedPending = Arc::default();
                deliver_later(py, method, &answer, converted, tx, &pending, convert);
                InlineAnswer::Later(rx, CancelOnDrop(pending))
            }
        })
    })
}

/// The error of a call not made because user code interrupted the decision (see
/// `errors::Interrupt`): the caller raises that interrupt instead.
fn not_called(method: &str) -> Error {
    Error::transport(format!("client.{method}() not called: the call was interrupted"))
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
            Client::Local(a) => a.prepare(request).await,
            Client::Http(a) => a.prepare(request).await,
            // Boxed: the call's state is large, and in place it would make every fan-out
            // (and so every driver future, with local clients too) that much larger to move.
            Client::Py(obj) => Box::pin(call_py(obj, "prepare", PyRequest(request.clone()), to_promise)).await,
            Client::Inline(obj) => match call_inline(obj, "prepare", PyRequest(request.clone()), to_promise)? {
                InlineAnswer::Now(r) => Ok(r),
                // Boxed: kept in place, the wait would make every call's future larger.
                InlineAnswer::Later(rx, cancel) => Box::pin(answer_of("prepare", rx, cancel)).await,
            },
        }
    }

    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        match self {
            Client::Local(a) => a.accept(proposal).await,
            Client::Http(a) => a.accept(proposal).await,
            // Boxed: the call's state is large, and in place it would make every fan-out
            // (and so every driver future, with local clients too) that much larger to move.
            Client::Py(obj) => Box::pin(call_py(obj, "accept", PyProposal(proposal.clone()), to_proposal)).await,
            Client::Inline(obj) => match call_inline(obj, "accept", PyProposal(proposal.clone()), to_proposal)? {
                InlineAnswer::Now(r) => Ok(r),
                // Boxed: kept in place, the wait would make every call's future larger.
                InlineAnswer::Later(rx, cancel) => Box::pin(answer_of("accept", rx, cancel)).await,
            },
        }
    }

    async fn accept_batch(&self, batch: &synodos::Batch) -> Result<Proposal> {
        match self {
            // One write for the whole batch.
            Client::Local(a) => a.accept_batch(batch).await,
            Client::Http(a) => a.accept_batch(batch).await,
            // A Python acceptor takes single accepts.
            _ => synodos::driver::client::accept_each(self, batch).await,
        }
    }

    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        match self {
            Client::Local(a) => a.observe(request).await,
            Client::Http(a) => a.observe(request).await,
            // Boxed: the call's state is large, and in place it would make every fan-out
            // (and so every driver future, with local clients too) that much larger to move.
            Client::Py(obj) => Box::pin(call_py(obj, "observe", PyRequest(request.clone()), to_proposals)).await,
            Client::Inline(obj) => match call_inline(obj, "observe", PyRequest(request.clone()), to_proposals)? {
                InlineAnswer::Now(r) => Ok(r),
                // Boxed: kept in place, the wait would make every call's future larger.
                InlineAnswer::Later(rx, cancel) => Box::pin(answer_of("observe", rx, cancel)).await,
            },
        }
    }
}
