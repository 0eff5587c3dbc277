//! `synodos.Proposer` and `synodos.ReplicatedLog`: the core's driver over clients. With only
//! local acceptors it runs on the calling thread with the GIL released (`exec::block_on`);
//! with Python clients, on a worker that calls them inline (`exec::run_on_worker`).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use synodos::{CounterIdGenerator, IdGenerator, LocalAcceptor, Proposer, ProposerConfig, ReplicatedLog, StdSleeper};

use crate::client::Client;
use crate::errors::{check, check_interrupted, guard, Interrupt, Interruptible, SynodosError};
use crate::exec::{block_on, run_on_worker, LocalSleeper};
use crate::ids::ids_from;
use crate::messages::PyEntry;

type Driver = Proposer<Client, LocalSleeper>;

/// Run a driver future to its end with the GIL released: on this thread when no client needs
/// a worker (local acceptors, inline calls), else on a worker (see `exec`).
/// `make` builds the future where it runs (it is large: moving it costs more than a call).
///
/// A `BaseException` that is not an `Exception` (`KeyboardInterrupt`, `SystemExit`) raised by
/// a client, log or id generator stops the call and is raised here (see `errors::Interrupt`).
fn run<T, F>(py: Python<'_>, clients: &[Client], make: impl FnOnce() -> F + Send + 'static) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = synodos::Result<T>> + Send + 'static,
{
    if clients.iter().any(Client::needs_worker) {
        on_worker(py, make)
    } else {
        let interrupt = Interrupt::new();
        let i = interrupt.clone();
        let r = py.detach(move || block_on(move || Interruptible::new(make(), i)));
        check_interrupted(py, &interrupt, r)
    }
}

/// [`run`] on a worker.
fn on_worker<T, F>(py: Python<'_>, make: impl FnOnce() -> F + Send + 'static) -> PyResult<T>
where
    T: Send + 'static,
    F: Future<Output = synodos::Result<T>> + Send + 'static,
{
    let interrupt = Interrupt::new();
    let i = interrupt.clone();
    match py.detach(move || run_on_worker(move || Interruptible::new(make(), i))) {
        Ok(r) => check_interrupted(py, &interrupt, r),
        Err(message) => Err(SynodosError::new_err(message)),
    }
}

/// Seconds as given by the user: NaN and negative refused, longer than 2^32 s (infinity
/// included) cut to that (`synodos::limits`), so no deadline computed from it can overflow.
fn secs(name: &str, s: f64) -> synodos::Result<Duration> {
    synodos::limits::duration_from_secs_f64(name, s)
}

struct Args<'a, 'py> {
    acceptors: &'a Bound<'py, PyAny>,
    ids: &'a Bound<'py, PyAny>,
    call_timeout: f64,
    max_attempts: u32,
    backoff_min: f64,
    backoff_max: f64,
    poll_interval: f64,
    seed: Option<u64>,
    inline_calls: bool,
}

fn build(py: Python<'_>, a: Args<'_, '_>) -> PyResult<Driver> {
    let mut clients = Vec::new();
    for c in a.acceptors.try_iter()? {
        clients.push(Client::from_py(&c?, a.inline_calls)?);
    }
    let ids: Arc<dyn IdGenerator> = ids_from(a.ids)?;
    let config = check(
        py,
        (|| {
            Ok(ProposerConfig {
                call_timeout: secs("call_timeout", a.call_timeout)?,
                max_attempts: a.max_attempts,
                backoff_min: secs("backoff_min", a.backoff_min)?,
                backoff_max: secs("backoff_max", a.backoff_max)?,
                poll_interval: secs("poll_interval", a.poll_interval)?,
                seed: a.seed,
                ..ProposerConfig::default()
            })
        })(),
    )?;
    check(py, Proposer::with_config(clients, ids, LocalSleeper, config))
}

/// Proposes values to a set of acceptors (each a `synodos.Acceptor` or an object with
/// `prepare` and `accept`). Contacts them concurrently, returns at a majority, cuts each
/// call off after `call_timeout` seconds, and retries up to `max_attempts` ballots.
///
/// Python clients are called on a worker thread, inline one after another while they answer
/// quickly, and another worker takes over when one of them stalls. With `inline_calls=True`
/// they are called on the calling thread instead (no hand-off, the fastest way): only for
/// clients that never block, since a hung inline call cannot be cut off.
#[pyclass(frozen, module = "synodos", name = "Proposer")]
pub struct PyProposer(Arc<Driver>);

#[pymethods]
impl PyProposer {
    #[new]
    #[pyo3(signature = (acceptors, ids, *, call_timeout = 1.0, max_attempts = 20, backoff_min = 0.001, backoff_max = 0.2, poll_interval = 0.01, seed = None, inline_calls = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        acceptors: &Bound<'_, PyAny>,
        ids: &Bound<'_, PyAny>,
        call_timeout: f64,
        max_attempts: u32,
        backoff_min: f64,
        backoff_max: f64,
        poll_interval: f64,
        seed: Option<u64>,
        inline_calls: bool,
    ) -> PyResult<Self> {
        guard(|| {
            let args = Args {
                acceptors,
                ids,
                call_timeout,
                max_attempts,
                backoff_min,
                backoff_max,
                poll_interval,
                seed,
                inline_calls,
            };
            Ok(PyProposer(Arc::new(build(py, args)?)))
        })
    }

    /// Propose `value` for the single decree (slot 0); returns the value chosen, which is
    /// another proposer's if that one was chosen first.
    fn propose<'py>(&self, py: Python<'py>, value: &Bound<'py, PyBytes>) -> PyResult<Bound<'py, PyBytes>> {
        self.propose_at(py, 0, value)
    }

    /// `propose` for one slot of a log (each slot is an independent decree).
    fn propose_at<'py>(
        &self,
        py: Python<'py>,
        slot: u64,
        value: &Bound<'py, PyBytes>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let proposed = value.as_bytes().to_vec();
        guard(|| {
            let chosen = if self.0.clients().iter().any(Client::needs_worker) {
                let p = self.0.clone();
                on_worker(py, move || async move { p.propose_at(slot, proposed).await })?
            } else {
                // The hot path of local acceptors: the driver's future as it is, borrowing the
                // proposer (no owning wrapper future to build and move).
                let p = &*self.0;
                let interrupt = Interrupt::new();
                let i = interrupt.clone();
                let r = py.detach(|| block_on(|| Interruptible::new(p.propose_at(slot, proposed), i)));
                check_interrupted(py, &interrupt, r)?
            };
            // Usually our own value was chosen: hand back the caller's object, not a copy.
            if chosen == value.as_bytes() {
                Ok(value.clone())
            } else {
                Ok(PyBytes::new(py, &chosen))
            }
        })
    }

    /// How many acceptors this proposer talks to.
    #[getter]
    fn acceptors(&self) -> usize {
        self.0.clients().len()
    }

    fn __repr__(&self) -> String {
        format!("Proposer(<{} acceptors>)", self.0.clients().len())
    }
}

type Log = ReplicatedLog<Client, LocalSleeper>;

/// An ordered log of chosen values, one Paxos instance per slot, over the same acceptors
/// and options as a `Proposer`.
#[pyclass(frozen, module = "synodos", name = "ReplicatedLog")]
pub struct PyReplicatedLog(Arc<Log>);

impl PyReplicatedLog {
    fn clients(&self) -> &[Client] {
        self.0.proposer().clients()
    }
}

#[pymethods]
impl PyReplicatedLog {
    #[new]
    #[pyo3(signature = (acceptors, ids, *, call_timeout = 1.0, max_attempts = 20, backoff_min = 0.001, backoff_max = 0.2, poll_interval = 0.01, seed = None, inline_calls = false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        acceptors: &Bound<'_, PyAny>,
        ids: &Bound<'_, PyAny>,
        call_timeout: f64,
        max_attempts: u32,
        backoff_min: f64,
        backoff_max: f64,
        poll_interval: f64,
        seed: Option<u64>,
        inline_calls: bool,
    ) -> PyResult<Self> {
        guard(|| {
            let args = Args {
                acceptors,
                ids,
                call_timeout,
                max_attempts,
                backoff_min,
                backoff_max,
                poll_interval,
                seed,
                inline_calls,
            };
            Ok(PyReplicatedLog(Arc::new(ReplicatedLog::new(build(py, args)?))))
        })
    }

    /// Append `value` at the first free slot; returns the entry holding it.
    fn append(&self, py: Python<'_>, value: &[u8]) -> PyResult<PyEntry> {
        let value = value.to_vec();
        let log = self.0.clone();
        guard(|| run(py, self.clients(), move || async move { log.append(value).await }).map(PyEntry))
    }

    /// The chosen entries from slot `start` on, in order, at most `max`, stopping at the
    /// first slot not known to be chosen.
    #[pyo3(signature = (start = 0, max = 1000))]
    fn read<'py>(&self, py: Python<'py>, start: u64, max: usize) -> PyResult<Bound<'py, PyList>> {
        let log = self.0.clone();
        guard(|| {
            let got = run(py, self.clients(), move || async move { log.read(start, max).await })?;
            PyList::new(py, got.into_iter().map(PyEntry))
        })
    }

    /// `read`, but wait up to `timeout` seconds for an entry at `start` to be chosen.
    #[pyo3(signature = (start, max = 1000, timeout = 1.0))]
    fn wait<'py>(&self, py: Python<'py>, start: u64, max: usize, timeout: f64) -> PyResult<Bound<'py, PyList>> {
        let log = self.0.clone();
        guard(|| {
            let timeout = check(py, secs("timeout", timeout))?;
            let got = run(py, self.clients(), move || async move { log.wait(start, max, timeout).await })?;
            PyList::new(py, got.into_iter().map(PyEntry))
        })
    }

    /// An iterator over the chosen entries from `start` on. With `follow=False` it stops at
    /// the first slot not chosen yet; with `follow=True` it waits for more, forever (stop it
    /// with `break`).
    #[pyo3(signature = (start = 0, *, follow = false))]
    fn entries(&self, start: u64, follow: bool) -> LogReader {
        LogReader { log: self.0.clone(), next: start, buffer: VecDeque::new(), follow }
    }

    /// The lowest slot this handle has not yet seen chosen.
    #[getter]
    fn next_slot(&self) -> u64 {
        self.0.next_slot()
    }

    fn __repr__(&self) -> String {
        format!("ReplicatedLog(<{} acceptors>, next_slot={})", self.0.proposer().clients().len(), self.0.next_slot())
    }
}

/// Iterator returned by `ReplicatedLog.entries()`.
#[pyclass(module = "synodos", name = "LogReader")]
pub struct LogReader {
    log: Arc<Log>,
    next: u64,
    buffer: VecDeque<PyEntry>,
    follow: bool,
}

#[pymethods]
impl LogReader {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<Option<PyEntry>> {
        guard(|| {
            while self.buffer.is_empty() {
                let log = self.log.clone();
                let from = self.next;
                let follow = self.follow;
                let clients = self.log.proposer().clients();
                let got = run(py, clients, move || async move {
                    if follow {
                        log.wait(from, 1000, Duration::from_millis(200)).await
                    } else {
                        log.read(from, 1000).await
                    }
                })?;
                if got.is_empty() {
                    if !follow {
                        return Ok(None);
                    }
                    py.check_signals()?;
                }
                for e in got {
                    self.next = e.slot + 1;
                    self.buffer.push_back(PyEntry(e));
                }
            }
            Ok(self.buffer.pop_front())
        })
    }
}

/// The same single-decree workload as the Python benchmark, in Rust: one proposer over
/// in-memory acceptors, kept between runs like the Python runners' (so both pay for acceptors
/// that have grown the same way); `run(count)` decides the next `count` slots and returns
/// the seconds taken.
#[pyclass(module = "synodos._synodos", name = "_RustBench", unsendable)]
pub struct RustBench {
    proposer: Proposer<LocalAcceptor, StdSleeper>,
    next_slot: u64,
}

#[pymethods]
impl RustBench {
    #[new]
    fn new(py: Python<'_>, acceptors: usize) -> PyResult<Self> {
        guard(|| {
            let clients: Vec<_> = (0..acceptors).map(|_| LocalAcceptor::in_memory()).collect();
            let proposer = check(py, Proposer::new(clients, CounterIdGenerator::new(1), StdSleeper))?;
            Ok(RustBench { proposer, next_slot: 0 })
        })
    }

    fn run(&mut self, py: Python<'_>, count: u64) -> PyResult<f64> {
        guard(|| {
            let (p, first) = (&self.proposer, self.next_slot);
            let secs = py.detach(|| -> synodos::Result<f64> {
                let start = Instant::now();
                for slot in first..first + count {
                    futures::executor::block_on(p.propose_at(slot, b"value-0123456789".to_vec()))?;
                }
                Ok(start.elapsed().as_secs_f64())
            });
            self.next_slot = first + count;
            check(py, secs)
        })
    }
}
