//! The exception hierarchy, the mapping from [`synodos::Error`], user exceptions kept as
//! `__cause__`, and the panic guard around every entry point.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::task::{Context, Poll};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use synodos::error::panic_message;
use synodos::Error;

create_exception!(synodos, SynodosError, PyException, "Base class of every error synodos raises.");
create_exception!(synodos, NoQuorumError, SynodosError, "A majority of acceptors could not be reached or did not agree; `failures` lists (acceptor index, error) pairs of the last attempt.");
create_exception!(synodos, SynodosTimeoutError, SynodosError, "A call did not answer within its timeout.");
create_exception!(synodos, RejectedError, SynodosError, "An acceptor had promised a higher ballot.");
create_exception!(
    synodos,
    StorageError,
    SynodosError,
    "A storage log failed; the acceptor using it refuses every later call."
);
create_exception!(
    synodos,
    TransportError,
    SynodosError,
    "An acceptor client failed or raised (the exception is the `__cause__`)."
);
create_exception!(
    synodos,
    InvalidMessageError,
    SynodosError,
    "A message could not be decoded or breaks a protocol rule."
);
create_exception!(synodos, InvalidArgumentError, SynodosError, "An argument was out of range.");
create_exception!(synodos, IdExhaustedError, SynodosError, "The id generator cannot produce a higher id.");
create_exception!(
    synodos,
    ClosedError,
    SynodosError,
    "The object was closed, or poisoned by an earlier storage failure."
);
create_exception!(
    synodos,
    TrimmedError,
    SynodosError,
    "The slot was trimmed (chosen, applied and forgotten); the message names where the log starts."
);
create_exception!(
    synodos,
    ProtocolViolationError,
    SynodosError,
    "Acceptors reported what correct Paxos never produces (two values at one ballot): a reused ballot or a broken peer."
);
create_exception!(
    synodos,
    ConformanceError,
    SynodosError,
    "A log failed the storage conformance kit; `check` names the check."
);

/// A Python exception raised by user code (a client, a log, an id generator), carried inside
/// a [`synodos::Error`] as its cause so it can come back out as `__cause__`.
#[derive(Debug)]
pub struct PyCause {
    /// The exception.
    pub err: PyErr,
    text: String,
}

impl fmt::Display for PyCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for PyCause {}

/// Describe `err` as `TypeName: message`.
fn describe(py: Python<'_>, err: &PyErr) -> String {
    let name = err.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
    let msg = err.value(py).str().map(|s| s.to_string()).unwrap_or_default();
    if msg.is_empty() {
        name
    } else {
        format!("{name}: {msg}")
    }
}

/// Where a `BaseException` that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`, ...),
/// raised by user code during one blocking call, is kept, so that the call stops and raises
/// it instead of counting it as one acceptor's failure (which a majority would swallow).
///
/// The entry point makes one per call and runs its driver future inside [`Interruptible`],
/// which makes it the thread's current interrupt while the future is polled; a client call
/// that runs later on another thread carries it along ([`current_interrupt`], [`Scope`]).
#[derive(Debug, Default)]
pub struct Interrupt {
    raised: Mutex<Option<PyErr>>,
    set: AtomicBool,
}

thread_local! {
    /// The last interrupt made on this thread, reused by the next call once no one holds it
    /// (a call on local acceptors then allocates nothing for it).
    static SPARE: RefCell<Option<Arc<Interrupt>>> = const { RefCell::new(None) };
}

impl Interrupt {
    /// A new, empty one (this thread's spare when it is free, else a fresh one).
    pub fn new() -> Arc<Interrupt> {
        let spare = SPARE.try_with(|s| s.borrow().clone()).ok().flatten();
        if let Some(spare) = spare {
            // Held only here and by the thread-local: no earlier call (or worker) can see it
            // any more, so it may be emptied and used again.
            if Arc::strong_count(&spare) == 2 && Arc::weak_count(&spare) == 0 {
                spare.set.store(false, Ordering::Release);
                *spare.raised.lock().unwrap_or_else(|p| p.into_inner()) = None;
                return spare;
            }
        }
        let fresh: Arc<Interrupt> = Arc::default();
        let _ = SPARE.try_with(|s| *s.borrow_mut() = Some(fresh.clone()));
        fresh
    }

    /// Whether user code raised a `BaseException` during this call.
    pub fn is_set(&self) -> bool {
        self.set.load(Ordering::Acquire)
    }

    /// Keep `err` (the first one wins).
    fn raise(&self, err: PyErr) {
        let mut slot = self.raised.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(err);
        }
        self.set.store(true, Ordering::Release);
    }

    /// The exception to raise instead of the call's result, if any.
    pub fn take(&self) -> Option<PyErr> {
        self.raised.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<Interrupt>>> = const { RefCell::new(None) };
}

/// The interrupt of the call being run on this thread, if any.
pub fn current_interrupt() -> Option<Arc<Interrupt>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Makes `interrupt` this thread's current one until dropped (then the previous one again).
pub struct Scope(Option<Arc<Interrupt>>);

impl Scope {
    /// Enter `interrupt` (None: no current interrupt).
    pub fn enter(interrupt: Option<Arc<Interrupt>>) -> Scope {
        Scope(CURRENT.try_with(|c| c.replace(interrupt)).ok().flatten())
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// Whether the current call was interrupted: then no more user code is called for it.
pub fn interrupted() -> bool {
    current_interrupt().is_some_and(|i| i.is_set())
}

/// A driver future that ends as soon as user code raised a `BaseException` (see
/// [`Interrupt`]); its result is then meaningless, and the entry point raises the exception.
pub struct Interruptible<F> {
    inner: F,
    interrupt: Arc<Interrupt>,
}

impl<F> Interruptible<F> {
    /// Run `inner` under `interrupt`.
    pub fn new(inner: F, interrupt: Arc<Interrupt>) -> Self {
        Interruptible { inner, interrupt }
    }
}

impl<T, F: Future<Output = synodos::Result<T>>> Future for Interruptible<F> {
    type Output = synodos::Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned (never moved out; `Interruptible` has no
        // `Drop` and is not `Unpin` by hand); `interrupt` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        let polled = {
            let _scope = Scope::enter(Some(this.interrupt.clone()));
            // SAFETY: see above.
            unsafe { Pin::new_unchecked(&mut this.inner) }.poll(cx)
        };
        if this.interrupt.is_set() {
            return Poll::Ready(Err(Error::Closed("interrupted by a BaseException raised in user code".into())));
        }
        polled
    }
}

/// `result`, unless user code raised a `BaseException` during the call: then that.
pub fn check_interrupted<T>(py: Python<'_>, interrupt: &Interrupt, result: synodos::Result<T>) -> PyResult<T> {
    match interrupt.take() {
        Some(err) => Err(err),
        None => check(py, result),
    }
}

/// Whether `err` is a `BaseException` that is not an `Exception`.
fn is_interrupt(py: Python<'_>, err: &PyErr) -> bool {
    !err.is_instance_of::<PyException>(py)
}

/// Note `err`, raised by user code: if it is not an `Exception`, the current call stops.
pub fn note(py: Python<'_>, err: &PyErr) {
    if is_interrupt(py, err) {
        if let Some(i) = current_interrupt() {
            i.raise(err.clone_ref(py));
        }
    }
}

/// A transport error carrying `err` (raised by a client's `method`).
pub fn transport_error(py: Python<'_>, method: &str, err: PyErr) -> Error {
    note(py, &err);
    let text = describe(py, &err);
    Error::Transport {
        message: format!("client.{method}() raised {text}"),
        cause: Some(Arc::new(PyCause { err, text })),
    }
}

/// A storage error carrying `err` (raised by a log's `method`).
pub fn storage_error(py: Python<'_>, method: &str, err: PyErr) -> Error {
    note(py, &err);
    let text = describe(py, &err);
    Error::Storage { message: format!("log.{method}() raised {text}"), cause: Some(Arc::new(PyCause { err, text })) }
}

/// The exception for `error`, with the user's exception (if any) as `__cause__`. If that
/// exception is a `BaseException` that is not an `Exception` (`KeyboardInterrupt`,
/// `SystemExit`), it is raised itself: it must not be caught by `except Exception`.
pub fn to_py(py: Python<'_>, error: Error) -> PyErr {
    if let Some(pc) = error.user_cause().and_then(|c| (**c).downcast_ref::<PyCause>()) {
        if is_interrupt(py, &pc.err) {
            return pc.err.clone_ref(py);
        }
    }
    let msg = error.to_string();
    let exc = match error.code() {
        "NO_QUORUM" => NoQuorumError::new_err(msg),
        "TIMEOUT" => SynodosTimeoutError::new_err(msg),
        "REJECTED" => RejectedError::new_err(msg),
        "STORAGE" => StorageError::new_err(msg),
        "TRANSPORT" => TransportError::new_err(msg),
        "INVALID_MESSAGE" => InvalidMessageError::new_err(msg),
        "INVALID_ARGUMENT" => InvalidArgumentError::new_err(msg),
        "ID_EXHAUSTED" => IdExhaustedError::new_err(msg),
        "CLOSED" => ClosedError::new_err(msg),
        "TRIMMED" => TrimmedError::new_err(msg),
        "PROTOCOL_VIOLATION" => ProtocolViolationError::new_err(msg),
        _ => SynodosError::new_err(msg),
    };
    let value = exc.value(py);
    let _ = value.setattr("code", error.code());
    // An HTTP acceptor's or node's refusal: the status and what the server said.
    // (Status 0 and no server code: no HTTP answer came, or the client is not HTTP.)
    if let Error::Transport { cause, .. } = &error {
        let api = cause.as_ref().and_then(|c| (**c).downcast_ref::<synodos_net::ApiError>());
        let _ = value.setattr("status", api.map_or(0, |a| a.status));
        let _ = value.setattr("server_code", api.map(|a| a.code.as_str()));
        let _ = value.setattr("server_message", api.map(|a| a.message.as_str()));
    }
    if let Error::NoQuorum { failures, .. } = &error {
        let items: Vec<Bound<'_, PyTuple>> = failures
            .0
            .iter()
            .filter_map(|f| {
                PyTuple::new(
                    py,
                    [
                        f.acceptor.into_pyobject(py).ok()?.into_any(),
                        to_py(py, f.error.clone()).into_value(py).into_bound(py).into_any(),
                    ],
                )
                .ok()
            })
            .collect();
        if let Ok(list) = PyList::new(py, items) {
            let _ = value.setattr("failures", list);
        }
    }
    if let Some(cause) = error.user_cause() {
        if let Some(pc) = (**cause).downcast_ref::<PyCause>() {
            exc.set_cause(py, Some(pc.err.clone_ref(py)));
        }
    }
    exc
}

/// Convert a core result.
pub fn check<T>(py: Python<'_>, r: synodos::Result<T>) -> PyResult<T> {
    r.map_err(|e| to_py(py, e))
}

static PANICS: AtomicU64 = AtomicU64::new(0);
static HOOK: Once = Once::new();

/// Install, once per process, a panic hook that counts every Rust panic (read by
/// `_synodos._panic_count()`, which the test suite checks after every test), runs the hook
/// that was there before (the message on stderr), then aborts if the environment variable
/// `SYNODOS_ABORT_ON_PANIC` is set (not empty, not `0`). Each panic is a bug: the guard turns
/// it into a `SynodosError`, and a panic in a worker thread would otherwise go unnoticed.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::Relaxed);
            previous(info);
            if std::env::var_os("SYNODOS_ABORT_ON_PANIC").is_some_and(|v| !v.is_empty() && v != "0") {
                std::process::abort();
            }
        }));
    });
}

/// How many Rust panics happened in this process since the module was loaded (0 unless
/// synodos has a bug; the tests assert it).
#[pyfunction]
pub fn _panic_count() -> u64 {
    PANICS.load(Ordering::Relaxed)
}

/// Run an entry point; a Rust panic becomes a `SynodosError`, never a `PanicException`.
pub fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            Err(SynodosError::new_err(format!("internal error (a Rust panic): {}", panic_message(&*payload))))
        }
    }
}

/// Test hook: a Rust panic inside an entry point (must surface as `SynodosError`).
#[pyfunction]
#[allow(clippy::panic)] // the point of this function
pub fn _test_panic() -> PyResult<()> {
    guard(|| panic!("deliberate panic for the tests"))
}

/// Register the exception classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SynodosError", py.get_type::<SynodosError>())?;
    m.add("NoQuorumError", py.get_type::<NoQuorumError>())?;
    m.add("SynodosTimeoutError", py.get_type::<SynodosTimeoutError>())?;
    m.add("RejectedError", py.get_type::<RejectedError>())?;
    m.add("StorageError", py.get_type::<StorageError>())?;
    m.add("TransportError", py.get_type::<TransportError>())?;
    m.add("InvalidMessageError", py.get_type::<InvalidMessageError>())?;
    m.add("InvalidArgumentError", py.get_type::<InvalidArgumentError>())?;
    m.add("IdExhaustedError", py.get_type::<IdExhaustedError>())?;
    m.add("ClosedError", py.get_type::<ClosedError>())?;
    m.add("TrimmedError", py.get_type::<TrimmedError>())?;
    m.add("ProtocolViolationError", py.get_type::<ProtocolViolationError>())?;
    m.add("ConformanceError", py.get_type::<ConformanceError>())?;
    Ok(())
}
