//! `synodos.Acceptor`: the core's acceptor over two logs, shared by handle. Called directly
//! from Rust (no GIL, no thread) when passed to a proposer as a client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::types::PyList;
use synodos::{Acceptor, Error, Promise, Proposal, Request, Result};

use crate::errors::{check, guard};
use crate::logs::AnyLog;
use crate::messages::{PyPromise, PyProposal, PyRequest};

static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);
thread_local! {
    static THREAD: u64 = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
}

fn this_thread() -> u64 {
    THREAD.with(|t| *t)
}

#[derive(Debug)]
struct Inner {
    acceptor: Mutex<Acceptor<AnyLog, AnyLog>>,
    /// The thread running the acceptor right now (0 when none): a log that calls back into
    /// its own acceptor gets an error instead of a deadlock.
    owner: AtomicU64,
}

/// A handle on one acceptor; clones share it.
#[derive(Debug, Clone)]
pub struct SharedAcceptor(Arc<Inner>);

impl SharedAcceptor {
    /// Run `f` on the acceptor under its lock. Call it without the GIL: a Python log may need
    /// the GIL while another thread waits for this lock.
    pub fn with<R>(&self, f: impl FnOnce(&mut Acceptor<AnyLog, AnyLog>) -> Result<R>) -> Result<R> {
        let me = this_thread();
        if self.0.owner.load(Ordering::SeqCst) == me {
            return Err(Error::InvalidArgument(
                "re-entrant call: this acceptor's log called back into the same acceptor".into(),
            ));
        }
        let mut acceptor = match self.0.acceptor.lock() {
            Ok(a) => a,
            Err(_) => return Err(Error::Closed("acceptor poisoned by a panic in its log".into())),
        };
        self.0.owner.store(me, Ordering::SeqCst);
        let r = f(&mut acceptor);
        self.0.owner.store(0, Ordering::SeqCst);
        r
    }

    /// Phase 1b.
    pub fn prepare(&self, request: &Request) -> Result<Promise> {
        self.with(|a| a.prepare(request))
    }
    /// Phase 2b.
    pub fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        self.with(|a| a.accept(proposal))
    }
    /// Everything accepted from `request.slot` on.
    pub fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        self.with(|a| a.accepted_from(request))
    }
}

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
            let acceptor = check(py, Acceptor::new(p, a))?;
            Ok(PyAcceptor(SharedAcceptor(Arc::new(Inner { acceptor: Mutex::new(acceptor), owner: AtomicU64::new(0) }))))
        })
    }

    /// Phase 1b: answer a prepare, after recording the promise durably.
    fn prepare(&self, py: Python<'_>, request: &Bound<'_, PyRequest>) -> PyResult<PyPromise> {
        let req = request.get().0.clone();
        let me = self.0.clone();
        guard(|| check(py, py.detach(move || me.prepare(&req))).map(PyPromise))
    }

    /// Phase 2b: answer an accept, after recording it durably.
    fn accept(&self, py: Python<'_>, proposal: &Bound<'_, PyProposal>) -> PyResult<PyProposal> {
        let prop = proposal.get().0.clone();
        let me = self.0.clone();
        guard(|| check(py, py.detach(move || me.accept(&prop))).map(PyProposal))
    }

    /// Every proposal accepted for slots `>= request.slot` (the highest ballot per slot).
    fn observe<'py>(&self, py: Python<'py>, request: &Bound<'_, PyRequest>) -> PyResult<Bound<'py, PyList>> {
        let req = request.get().0.clone();
        let me = self.0.clone();
        guard(|| {
            let got = check(py, py.detach(move || me.observe(&req)))?;
            PyList::new(py, got.into_iter().map(PyProposal))
        })
    }

    /// Forget accepted proposals below `slot` and trim the accept log.
    fn trim(&self, py: Python<'_>, slot: u64) -> PyResult<()> {
        let me = self.0.clone();
        guard(|| check(py, py.detach(move || me.with(|a| a.trim(slot)))))
    }

    /// The highest ballot promised.
    #[getter]
    fn promised(&self, py: Python<'_>) -> PyResult<u64> {
        let me = self.0.clone();
        guard(|| check(py, py.detach(move || me.with(|a| Ok(a.core().promised())))))
    }

    /// The proposal accepted for `slot`, if any.
    fn accepted(&self, py: Python<'_>, slot: u64) -> PyResult<Option<PyProposal>> {
        let me = self.0.clone();
        guard(|| check(py, py.detach(move || me.with(|a| Ok(a.core().accepted(slot))))).map(|p| p.map(PyProposal)))
    }

    fn __repr__(&self) -> String {
        "Acceptor(...)".to_string()
    }
}
