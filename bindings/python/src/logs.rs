//! Storage logs: the core's `MemoryLog` (and `FileLog`), any Python object with `record`,
//! `last`, `range` and `trim`, and the storage conformance kit runnable from Python.

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList};
use synodos::log::{check_batch_order, conformance};
use synodos::{Log, MemoryLog, Result};

use crate::errors::{check, guard, storage_error, ConformanceError};

/// A log written in Python: `record(id, data)`, `last() -> (id, data) | None`,
/// `range(start, stop) -> iterable of (id, data)` (both bounds inclusive), `trim(before)`,
/// and optionally `record_batch([(id, data), ...])`. Called with the GIL taken; no lock of
/// ours is held while it runs.
#[derive(Debug)]
pub struct PyLog {
    obj: Py<PyAny>,
    has_batch: bool,
}

impl PyLog {
    fn call<'py>(
        &self,
        py: Python<'py>,
        method: &str,
        args: impl IntoPyObject<'py, Target = pyo3::types::PyTuple>,
    ) -> Result<Bound<'py, PyAny>> {
        crate::pycall::call_method(self.obj.bind(py), method, args).map_err(|e| storage_error(py, method, e))
    }
}

fn record_of(py: Python<'_>, method: &str, item: &Bound<'_, PyAny>) -> Result<(u64, PyBackedBytes)> {
    item.extract::<(u64, PyBackedBytes)>().map_err(|e| storage_error(py, method, e))
}

impl Log for PyLog {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        Python::attach(|py| self.call(py, "record", (id, PyBytes::new(py, data))).map(|_| ()))
    }

    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        if !self.has_batch {
            check_batch_order(self.last()?.map(|(id, _)| id), records)?;
            for (id, data) in records {
                self.record(*id, data)?;
            }
            return Ok(());
        }
        Python::attach(|py| {
            let items: Vec<(u64, Bound<'_, PyBytes>)> =
                records.iter().map(|(id, d)| (*id, PyBytes::new(py, d))).collect();
            let list = PyList::new(py, items).map_err(|e| storage_error(py, "record_batch", e))?;
            self.call(py, "record_batch", (list,)).map(|_| ())
        })
    }

    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        Python::attach(|py| {
            let r = self.call(py, "last", ())?;
            if r.is_none() {
                return Ok(None);
            }
            let (id, data) = record_of(py, "last", &r)?;
            Ok(Some((id, data.to_vec())))
        })
    }

    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        Python::attach(|py| {
            let r = self.call(py, "range", (start, stop))?;
            let iter = r.try_iter().map_err(|e| storage_error(py, "range", e))?;
            for item in iter {
                let item = item.map_err(|e| storage_error(py, "range", e))?;
                let (id, data) = record_of(py, "range", &item)?;
                f(id, &data)?;
            }
            Ok(())
        })
    }

    fn trim(&mut self, before: u64) -> Result<()> {
        Python::attach(|py| self.call(py, "trim", (before,)).map(|_| ()))
    }
}

/// Any log an acceptor can run over.
#[derive(Debug)]
pub enum AnyLog {
    /// The core's in-memory log (shared with the Python `MemoryLog` handle).
    Memory(MemoryLog),
    /// The core's durable file log.
    #[cfg(feature = "file-log")]
    File(crate::file_log::SharedFileLog),
    /// A log written in Python.
    Py(PyLog),
}

impl AnyLog {
    /// Whether its writes block (fsync): then its acceptor gets a thread of its own.
    pub fn blocks(&self) -> bool {
        match self {
            #[cfg(feature = "file-log")]
            AnyLog::File(_) => true,
            _ => false,
        }
    }
}

macro_rules! each {
    ($self:expr, $l:ident => $e:expr) => {
        match $self {
            AnyLog::Memory($l) => $e,
            #[cfg(feature = "file-log")]
            AnyLog::File($l) => $e,
            AnyLog::Py($l) => $e,
        }
    };
}

impl Log for AnyLog {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        each!(self, l => l.record(id, data))
    }
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        each!(self, l => l.record_batch(records))
    }
    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        each!(self, l => l.last())
    }
    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        each!(self, l => l.range(start, stop, f))
    }
    fn trim(&mut self, before: u64) -> Result<()> {
        each!(self, l => l.trim(before))
    }
}

impl AnyLog {
    /// `None` is a new `MemoryLog`; a `MemoryLog` is shared; anything else is a Python log.
    pub fn from_py(obj: Option<&Bound<'_, PyAny>>) -> PyResult<AnyLog> {
        let Some(obj) = obj else { return Ok(AnyLog::Memory(MemoryLog::new())) };
        if let Ok(m) = obj.cast::<PyMemoryLog>() {
            return Ok(AnyLog::Memory(m.get().0.clone()));
        }
        #[cfg(feature = "file-log")]
        if let Ok(f) = obj.cast::<crate::file_log::PyFileLog>() {
            return Ok(AnyLog::File(f.get().shared()));
        }
        for method in ["record", "last", "range", "trim"] {
            if !obj.hasattr(method)? {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "a log needs record, last, range and trim methods; {} has no {method}",
                    obj.get_type().name()?
                )));
            }
        }
        Ok(AnyLog::Py(PyLog { obj: obj.clone().unbind(), has_batch: obj.hasattr("record_batch")? }))
    }
}

type Records = Vec<(u64, Vec<u8>)>;

fn to_list<'py>(py: Python<'py>, records: Records) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, records.into_iter().map(|(id, d)| (id, PyBytes::new(py, &d))))
}

/// A log in memory. Handles passed to several acceptors or kept by the caller share the
/// same records.
#[pyclass(frozen, module = "synodos", name = "MemoryLog")]
pub struct PyMemoryLog(pub MemoryLog);

#[pymethods]
impl PyMemoryLog {
    #[new]
    fn new() -> Self {
        PyMemoryLog(MemoryLog::new())
    }
    /// Append a record; ids must increase.
    fn record(&self, py: Python<'_>, id: u64, data: &[u8]) -> PyResult<()> {
        guard(|| check(py, self.0.clone().record(id, data)))
    }
    /// Append several records at once (all or nothing).
    fn record_batch(&self, py: Python<'_>, records: Vec<(u64, PyBackedBytes)>) -> PyResult<()> {
        guard(|| {
            let refs: Vec<(u64, &[u8])> = records.iter().map(|(id, d)| (*id, &d[..])).collect();
            check(py, self.0.clone().record_batch(&refs))
        })
    }
    /// The record with the highest id, if any.
    fn last<'py>(&self, py: Python<'py>) -> PyResult<Option<(u64, Bound<'py, PyBytes>)>> {
        guard(|| Ok(check(py, self.0.last())?.map(|(id, d)| (id, PyBytes::new(py, &d)))))
    }
    /// The records with `start <= id <= stop`, in id order.
    fn range<'py>(&self, py: Python<'py>, start: u64, stop: u64) -> PyResult<Bound<'py, PyList>> {
        guard(|| {
            let mut out = Vec::new();
            check(
                py,
                self.0.range(start, stop, &mut |id, d| {
                    out.push((id, d.to_vec()));
                    Ok(())
                }),
            )?;
            to_list(py, out)
        })
    }
    /// Forget every record with `id < before`.
    fn trim(&self, py: Python<'_>, before: u64) -> PyResult<()> {
        guard(|| check(py, self.0.clone().trim(before)))
    }
    fn __len__(&self) -> usize {
        self.0.len()
    }
    fn __repr__(&self) -> String {
        format!("MemoryLog(<{} records>)", self.0.len())
    }
}

/// Run the core's storage conformance kit on a log. `open(name)` must return the log stored
/// under `name` (created empty the first time; reopened, with its records, later). Returns
/// the names of the checks passed; raises `ConformanceError` (with `check`) on a failure.
#[pyfunction]
pub fn run_log_conformance(py: Python<'_>, open: Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    guard(|| {
        let report = conformance::run(|name| {
            let obj = open.call1((name,)).map_err(|e| storage_error(py, "open", e))?;
            AnyLog::from_py(Some(&obj)).map_err(|e| storage_error(py, "open", e))
        });
        match report {
            Ok(r) => Ok(r.checks.iter().map(|c| c.to_string()).collect()),
            Err(failure) => {
                let err = ConformanceError::new_err(failure.to_string());
                let _ = err.value(py).setattr("check", failure.check);
                let _ = err.value(py).setattr("detail", failure.detail.clone());
                Err(err)
            }
        }
    })
}
