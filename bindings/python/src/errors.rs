//! The exception hierarchy, the mapping from [`synodos::Error`], user exceptions kept as
//! `__cause__`, and the panic guard around every entry point.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

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

/// A transport error carrying `err` (raised by a client's `method`).
pub fn transport_error(py: Python<'_>, method: &str, err: PyErr) -> Error {
    let text = describe(py, &err);
    Error::Transport {
        message: format!("client.{method}() raised {text}"),
        cause: Some(Arc::new(PyCause { err, text })),
    }
}

/// A storage error carrying `err` (raised by a log's `method`).
pub fn storage_error(py: Python<'_>, method: &str, err: PyErr) -> Error {
    let text = describe(py, &err);
    Error::Storage { message: format!("log.{method}() raised {text}"), cause: Some(Arc::new(PyCause { err, text })) }
}

/// The exception for `error`, with the user's exception (if any) as `__cause__`.
pub fn to_py(py: Python<'_>, error: Error) -> PyErr {
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
