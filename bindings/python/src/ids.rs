//! Ballot generators and clocks.

use std::sync::Arc;

use pyo3::prelude::*;
use synodos::{Ballot, CounterIdGenerator, Error, IdGenerator, ManualClock, Result, ServerIdGenerator, SystemClock};

use crate::errors::{check, guard, transport_error};

/// A clock that moves only when told to, for tests. Clones share the time.
#[pyclass(frozen, module = "synodos", name = "ManualClock")]
pub struct PyManualClock(ManualClock);

#[pymethods]
impl PyManualClock {
    #[new]
    #[pyo3(signature = (millis = 0))]
    fn new(millis: u64) -> Self {
        PyManualClock(ManualClock::new(millis))
    }
    /// Move forward by `millis`.
    fn advance(&self, millis: u64) {
        self.0.advance(millis)
    }
    /// Set to `millis` (may go backwards).
    fn set(&self, millis: u64) {
        self.0.set(millis)
    }
    /// The current reading.
    fn now_millis(&self) -> u64 {
        use synodos::Clock;
        self.0.now_millis()
    }
}

/// `millis << 16 | server_id` (every generator's layout, so kinds never collide), strictly increasing even when the clock stalls or goes back.
#[pyclass(frozen, module = "synodos", name = "ServerIdGenerator")]
pub struct PyServerIdGenerator(pub Arc<dyn IdGenerator>);

#[pymethods]
impl PyServerIdGenerator {
    #[new]
    #[pyo3(signature = (server_id, clock = None))]
    fn new(server_id: u8, clock: Option<&Bound<'_, PyManualClock>>) -> Self {
        match clock {
            Some(c) => PyServerIdGenerator(Arc::new(ServerIdGenerator::new(server_id, c.get().0.clone()))),
            None => PyServerIdGenerator(Arc::new(ServerIdGenerator::new(server_id, SystemClock))),
        }
    }
    /// The next ballot.
    fn next(&self, py: Python<'_>) -> PyResult<u64> {
        guard(|| check(py, self.0.next()))
    }
    /// Leap past a ballot seen elsewhere.
    fn observe(&self, seen: u64) {
        self.0.observe(seen)
    }
}

/// `round << 16 | node_id`: no clock, up to 65,536 nodes.
#[pyclass(frozen, module = "synodos", name = "CounterIdGenerator")]
pub struct PyCounterIdGenerator(pub Arc<dyn IdGenerator>);

#[pymethods]
impl PyCounterIdGenerator {
    #[new]
    fn new(node_id: u16) -> Self {
        PyCounterIdGenerator(Arc::new(CounterIdGenerator::new(node_id)))
    }
    /// The next ballot.
    fn next(&self, py: Python<'_>) -> PyResult<u64> {
        guard(|| check(py, self.0.next()))
    }
    /// Leap past a ballot seen elsewhere.
    fn observe(&self, seen: u64) {
        self.0.observe(seen)
    }
}

/// An id generator written in Python: `next() -> int` and `observe(ballot) -> None`.
#[derive(Debug)]
struct PyIds(Py<PyAny>);

impl IdGenerator for PyIds {
    fn next(&self) -> Result<Ballot> {
        Python::attach(|py| {
            crate::pycall::call_method(self.0.bind(py), "next", ()).and_then(|r| r.extract::<u64>()).map_err(|e| {
                let mut err = transport_error(py, "next", e);
                if let Error::Transport { message, .. } = &mut err {
                    *message = message.replacen("client.", "ids.", 1);
                }
                err
            })
        })
    }
    fn observe(&self, seen: Ballot) {
        Python::attach(|py| {
            // `observe` is advisory: an exception here only loses the leap (but a
            // KeyboardInterrupt or SystemExit still stops the call).
            if let Err(e) = crate::pycall::call_method(self.0.bind(py), "observe", (seen,)) {
                crate::errors::note(py, &e);
            }
        })
    }
}

/// `ids` as given to a proposer: a generator object, or an int node id for a
/// `CounterIdGenerator`.
pub fn ids_from(obj: &Bound<'_, PyAny>) -> PyResult<Arc<dyn IdGenerator>> {
    if let Ok(g) = obj.cast::<PyCounterIdGenerator>() {
        return Ok(g.get().0.clone());
    }
    if let Ok(g) = obj.cast::<PyServerIdGenerator>() {
        return Ok(g.get().0.clone());
    }
    if let Ok(node) = obj.extract::<u16>() {
        return Ok(Arc::new(CounterIdGenerator::new(node)));
    }
    if obj.hasattr("next")? && obj.hasattr("observe")? {
        return Ok(Arc::new(PyIds(obj.clone().unbind())));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(
        "ids must be a CounterIdGenerator, a ServerIdGenerator, an int node id (0..65535), or an object with next() and observe()",
    ))
}
