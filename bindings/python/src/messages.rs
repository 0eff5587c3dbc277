//! The wire messages as immutable Python classes: `==`, `hash`, `repr`, `to_json`/`from_json`.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};
use synodos::{wire, Batch, BatchEntry, Entry, Promise, Proposal, Request};

use crate::errors::{check, guard};

fn bytes_repr(py: Python<'_>, v: &[u8]) -> String {
    PyBytes::new(py, v).repr().map(|r| r.to_string()).unwrap_or_else(|_| format!("{v:?}"))
}

/// Phase 1a: a prepare for ballot `id` at `slot` (also the argument of `observe`).
#[pyclass(frozen, eq, hash, module = "synodos", name = "Request")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyRequest(pub Request);

#[pymethods]
impl PyRequest {
    #[new]
    #[pyo3(signature = (id = 0, attempt = 0, slot = 0))]
    fn new(id: u64, attempt: u64, slot: u64) -> Self {
        PyRequest(Request { id, attempt, slot })
    }
    /// The ballot.
    #[getter]
    fn id(&self) -> u64 {
        self.0.id
    }
    /// The proposer's attempt number.
    #[getter]
    fn attempt(&self) -> u64 {
        self.0.attempt
    }
    /// The log position.
    #[getter]
    fn slot(&self) -> u64 {
        self.0.slot
    }
    fn __repr__(&self) -> String {
        format!("Request(id={}, attempt={}, slot={})", self.0.id, self.0.attempt, self.0.slot)
    }
    /// The JSON wire form.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        guard(|| check(py, wire::to_json(&self.0)))
    }
    /// Decode the JSON wire form (raises `InvalidMessageError`).
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, py: Python<'_>, json: &str) -> PyResult<Self> {
        guard(|| check(py, wire::from_json(json)).map(PyRequest))
    }
}

/// Phase 2a/2b: a proposal of `value` at ballot `id` for `slot`; `promised` is non-zero only
/// in a rejected answer.
#[pyclass(frozen, eq, hash, module = "synodos", name = "Proposal")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyProposal(pub Proposal);

#[pymethods]
impl PyProposal {
    #[new]
    #[pyo3(signature = (id = 0, slot = 0, value = b"".as_slice(), promised = 0))]
    fn new(id: u64, slot: u64, value: &[u8], promised: u64) -> Self {
        PyProposal(Proposal { id, slot, value: value.to_vec(), promised })
    }
    /// The ballot.
    #[getter]
    fn id(&self) -> u64 {
        self.0.id
    }
    /// The log position.
    #[getter]
    fn slot(&self) -> u64 {
        self.0.slot
    }
    /// The value.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.value)
    }
    /// Non-zero only in a rejection: the higher ballot the acceptor had promised.
    #[getter]
    fn promised(&self) -> u64 {
        self.0.promised
    }
    /// Whether this accept answer says the proposal was accepted.
    fn is_accepted(&self) -> bool {
        self.0.is_accepted()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Proposal(id={}, slot={}, value={}, promised={})",
            self.0.id,
            self.0.slot,
            bytes_repr(py, &self.0.value),
            self.0.promised
        )
    }
    /// The JSON wire form.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        guard(|| check(py, wire::to_json(&self.0)))
    }
    /// Decode the JSON wire form (raises `InvalidMessageError`).
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, py: Python<'_>, json: &str) -> PyResult<Self> {
        guard(|| check(py, wire::from_json(json)).map(PyProposal))
    }
}

/// Phase 1b: an acceptor's answer to a prepare. `promised` is non-zero only in a rejection;
/// `accepted` is what the acceptor has accepted for the slot, if anything.
#[pyclass(frozen, eq, hash, module = "synodos", name = "Promise")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyPromise(pub Promise);

#[pymethods]
impl PyPromise {
    #[new]
    #[pyo3(signature = (id = 0, slot = 0, accepted = None, promised = 0, frontier = None, trimmed = 0))]
    fn new(
        id: u64,
        slot: u64,
        accepted: Option<&Bound<'_, PyProposal>>,
        promised: u64,
        frontier: Option<u64>,
        trimmed: u64,
    ) -> Self {
        PyPromise(Promise { id, slot, accepted: accepted.map(|p| p.get().0.clone()), promised, frontier, trimmed })
    }
    /// The ballot of the request this answers.
    #[getter]
    fn id(&self) -> u64 {
        self.0.id
    }
    /// The slot of the request this answers.
    #[getter]
    fn slot(&self) -> u64 {
        self.0.slot
    }
    /// What the acceptor has accepted for this slot, if anything.
    #[getter]
    fn accepted(&self) -> Option<PyProposal> {
        self.0.accepted.clone().map(PyProposal)
    }
    /// Non-zero only in a rejection: the higher ballot the acceptor had promised.
    #[getter]
    fn promised(&self) -> u64 {
        self.0.promised
    }
    /// One past the highest slot this acceptor has accepted anything at (0 if none);
    /// `None` when the acceptor did not say, which means unknown (no leader lease).
    #[getter]
    fn frontier(&self) -> Option<u64> {
        self.0.frontier
    }
    /// Non-zero only when the slot was trimmed at the acceptor: the first slot it still holds.
    #[getter]
    fn trimmed(&self) -> u64 {
        self.0.trimmed
    }
    /// Whether the promise was granted.
    fn is_granted(&self) -> bool {
        self.0.is_granted()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let accepted = match &self.0.accepted {
            None => "None".to_string(),
            Some(p) => PyProposal(p.clone()).__repr__(py),
        };
        let frontier = self.0.frontier.map_or_else(|| "None".to_string(), |f| f.to_string());
        let trimmed = if self.0.trimmed == 0 { String::new() } else { format!(", trimmed={}", self.0.trimmed) };
        format!(
            "Promise(id={}, slot={}, accepted={}, promised={}, frontier={frontier}{trimmed})",
            self.0.id, self.0.slot, accepted, self.0.promised
        )
    }
    /// The JSON wire form.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        guard(|| check(py, wire::to_json(&self.0)))
    }
    /// Decode the JSON wire form (raises `InvalidMessageError`).
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, py: Python<'_>, json: &str) -> PyResult<Self> {
        guard(|| check(py, wire::from_json(json)).map(PyPromise))
    }
}

/// Phase 2a for many slots at one ballot: a leader's batched accept. `entries` are
/// `Entry(slot, value)` objects, in slot order, each slot once. An acceptor takes all or none
/// and answers as to one accept.
#[pyclass(frozen, eq, hash, module = "synodos", name = "Batch")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyBatch(pub Batch);

#[pymethods]
impl PyBatch {
    #[new]
    #[pyo3(signature = (id = 0, entries = Vec::new()))]
    fn new(id: u64, entries: Vec<PyRef<'_, PyEntry>>) -> Self {
        let entries = entries.iter().map(|e| BatchEntry { slot: e.0.slot, value: e.0.value.clone() }).collect();
        PyBatch(Batch { id, entries })
    }
    /// The ballot.
    #[getter]
    fn id(&self) -> u64 {
        self.0.id
    }
    /// The entries, as `Entry(slot, value)`.
    #[getter]
    fn entries(&self) -> Vec<PyEntry> {
        self.0.entries.iter().map(|e| PyEntry(Entry { slot: e.slot, value: e.value.clone() })).collect()
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        let entries: Vec<String> = self
            .0
            .entries
            .iter()
            .map(|e| format!("Entry(slot={}, value={})", e.slot, bytes_repr(py, &e.value)))
            .collect();
        format!("Batch(id={}, entries=[{}])", self.0.id, entries.join(", "))
    }
    /// The JSON wire form.
    fn to_json(&self, py: Python<'_>) -> PyResult<String> {
        guard(|| check(py, wire::to_json(&self.0)))
    }
    /// Decode the JSON wire form (raises `InvalidMessageError`).
    #[classmethod]
    fn from_json(_cls: &Bound<'_, PyType>, py: Python<'_>, json: &str) -> PyResult<Self> {
        guard(|| check(py, wire::from_json(json)).map(PyBatch))
    }
}

/// A chosen log entry: the value at `slot` that a majority accepted.
#[pyclass(frozen, eq, hash, module = "synodos", name = "Entry")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PyEntry(pub Entry);

#[pymethods]
impl PyEntry {
    #[new]
    fn new(slot: u64, value: &[u8]) -> Self {
        PyEntry(Entry { slot, value: value.to_vec() })
    }
    /// The log position.
    #[getter]
    fn slot(&self) -> u64 {
        self.0.slot
    }
    /// The chosen value.
    #[getter]
    fn value<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.0.value)
    }
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Entry(slot={}, value={})", self.0.slot, bytes_repr(py, &self.0.value))
    }
}
