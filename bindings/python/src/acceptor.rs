//! `synodos.Acceptor`: the core's acceptor over two logs, shared by handle. Called directly
//! from Rust (no GIL, no thread) when passed to a proposer as a client.

use pyo3::prelude::*;
use pyo3::types::PyList;
use synodos::{Acceptor, InProcessAcceptor};

use crate::errors::{check, guard};
use crate::logs::AnyLog;
use crate::messages::{PyPromise, PyProposal, PyRequest};

/// A handle on one acceptor; clones share it. The core's `InProcessAcceptor`: called without
/// the GIL, on a thread of its own (group commit, fsyncs at several acceptors at once) when
/// both logs are `FileLog`s, and a log that calls back into its own acceptor gets an error,
/// not a deadlock.
pub type SharedAcceptor = InProcessAcceptor<AnyLog, AnyLog>;

/// An acceptor over a promise log and an accept log (each a `MemoryLog`, a `FileLog`, or
/// any object with `record`, `last`, `range`, `trim`; `None` means a new `MemoryLog`).
/// Usable directly as a client of a `Proposer`: then it is called from Rust without the GIL.
#[pyclass(frozen, module = "synodos", name = "Acceptor")]
pub struct PyAcceptor(pub SharedAcceptor);

#[pymethods]
impl PyAcceptor {
    #[new]
    #[pyo3(signature = (promise_log = None, accept_log = None))]
    fn new(
        py: Python<'_>,
        promise_log: Option<&Bound<'_, PyAny>>,
        accept_log: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guard(|| {
            let p = AnyLog::from_py(promise_log)?;
            let a = AnyLog::from_py(accept_log)?;
            let threaded = p.blocks() && a.blocks();
            let acceptor = check(py, Acceptor::new(p, a))?;
            let shared = InProcessAcceptor::new(acceptor, threaded).map_err(|e| {
                pyo3::exceptions::PyOSError::new_err(format!("cannot start the acceptor's thread: {e}"))
            })?;
            Ok(PyAcceptor(shared))
        })
    }

    /// Phase 1b: answer a prepare, after recording the promise durably.
    fn prepare(&self, py: Python<'_>, request: &Bound<'_, PyRequest>) -> PyResult<PyPromise> {
        let req = request.get().0.clone();
        let me = self.0.clone();
        guard(|| check(py, py.detach(move || me.with_blocking(move |a| a.prepare(&req)))).map(PyPromise))
    }

    /// Phase 2b: answer an accept, after recording it durably.
    fn accept(&self, py: Python<'_>, proposal: &Bound<'_, PyProposal>) -> PyResult<PyProposal> {
        let prop = proposal.get().0.clone();
        let me = self.0.clone();
        guard(|| check(py, py.detach(move || me.with_blocking(move |a| a.accept(&prop)))).map(PyProposal))
    }

    /// Every proposal accepted for slots `>= request.slot` (the highest ballot per slot).
    fn observe<'py>(&self, py: Python<'py>, request: &Bound<'_, PyRequest>) -> PyResult<Bound<'py, PyList>> {
        let req = request.get().0.clone();
        let me = self.0.clone();
        guard(|| {
            let got = check(py, py.detach(move || me.with_blocking(move |a| a.accepted_from(&req))))?;
            PyList::new(py, got.into_iter().map(PyProposal))
        })
    }

    /// Forget accepted proposals below `slot` and trim the accept log.
    fn trim(&self, py: Python<'_>, slot: u64) -> PyResult<()> {
        let me = self.0.clone();
        guard(|| check(py, py.detach(move || me.with_blocking(move |a| a.trim(slot)))))
    }

    /// The highest ballot promised.
    #[getter]
    fn promised(&self, py: Python<'_>) -> PyResult<u64> {
        let me = self.0.clone();
        guard(|| check(py, py.detach(move || me.with_blocking(move |a| Ok(a.core().promised())))))
    }

    /// The proposal accepted for `slot`, if any.
    fn accepted(&self, py: Python<'_>, slot: u64) -> PyResult<Option<PyProposal>> {
        let me = self.0.clone();
        guard(|| {
            check(py, py.detach(move || me.with_blocking(move |a| Ok(a.core().accepted(slot)))))
                .map(|p| p.map(PyProposal))
        })
    }

    fn __repr__(&self) -> String {
        "Acceptor(...)".to_string()
    }
}
