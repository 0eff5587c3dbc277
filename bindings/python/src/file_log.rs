//! `synodos.FileLog`: the core's durable log in a directory. The Python handle and any
//! acceptor using it share one open log; `close()` (or leaving a `with` block) closes it for
//! both, releasing the directory lock so it can be reopened.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyBytes, PyList};
use synodos::{Error, FileLog, Log, Result};

use crate::errors::{check, guard};

/// A shared, closable handle on a [`FileLog`].
#[derive(Debug, Clone)]
pub struct SharedFileLog {
    log: Arc<Mutex<Option<FileLog>>>,
    path: String,
}

impl SharedFileLog {
    fn lock(&self) -> MutexGuard<'_, Option<FileLog>> {
        // FileLog poisons itself on a failed write; a panic mid-call leaves nothing half-done
        // that its own checks would not catch.
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with<R>(&self, f: impl FnOnce(&mut FileLog) -> Result<R>) -> Result<R> {
        match self.lock().as_mut() {
            Some(log) => f(log),
            None => Err(Error::Closed(format!("file log {} is closed", self.path))),
        }
    }
}

impl Log for SharedFileLog {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        self.with(|l| l.record(id, data))
    }
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        self.with(|l| l.record_batch(records))
    }
    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        self.with(|l| l.last())
    }
    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        // `f` is Rust code (the acceptor's recovery, or a copy into a list): no Python runs here.
        self.with(|l| l.range(start, stop, f))
    }
    fn trim(&mut self, before: u64) -> Result<()> {
        self.with(|l| l.trim(before))
    }
}

/// A crash-safe log kept in directory `path` (created if missing): every `record` is on
/// disk (fdatasync) when it returns; a torn tail is cut away on open; a lock keeps a second
/// opener out until `close()`.
#[pyclass(frozen, module = "synodos", name = "FileLog")]
pub struct PyFileLog(SharedFileLog);

impl PyFileLog {
    /// The log for an acceptor (shared with this handle).
    pub fn shared(&self) -> SharedFileLog {
        self.0.clone()
    }
}

#[pymethods]
impl PyFileLog {
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        guard(|| {
            if path.as_os_str().is_empty() {
                // An empty path would open the log in the working directory.
                return check(
                    py,
                    Err(synodos::Error::InvalidArgument("the path is empty: name the log's directory".into())),
                );
            }
            let shown = path.display().to_string();
            let log = check(py, py.detach(move || FileLog::open(&path)))?;
            Ok(PyFileLog(SharedFileLog { log: Arc::new(Mutex::new(Some(log))), path: shown }))
        })
    }
    /// Append a record (durable on return); ids must increase.
    fn record(&self, py: Python<'_>, id: u64, data: &[u8]) -> PyResult<()> {
        let mut log = self.0.clone();
        let data = data.to_vec();
        guard(|| check(py, py.detach(move || log.record(id, &data))))
    }
    /// Append several records with one sync (all or nothing).
    fn record_batch(&self, py: Python<'_>, records: Vec<(u64, PyBackedBytes)>) -> PyResult<()> {
        let mut log = self.0.clone();
        let owned: Vec<(u64, Vec<u8>)> = records.iter().map(|(id, d)| (*id, d.to_vec())).collect();
        guard(|| {
            check(
                py,
                py.detach(move || {
                    let refs: Vec<(u64, &[u8])> = owned.iter().map(|(id, d)| (*id, d.as_slice())).collect();
                    log.record_batch(&refs)
                }),
            )
        })
    }
    /// The record with the highest id, if any.
    fn last<'py>(&self, py: Python<'py>) -> PyResult<Option<(u64, Bound<'py, PyBytes>)>> {
        let log = self.0.clone();
        guard(|| Ok(check(py, py.detach(move || log.last()))?.map(|(id, d)| (id, PyBytes::new(py, &d)))))
    }
    /// The records with `start <= id <= stop`, in id order.
    fn range<'py>(&self, py: Python<'py>, start: u64, stop: u64) -> PyResult<Bound<'py, PyList>> {
        let log = self.0.clone();
        guard(|| {
            let got = check(
                py,
                py.detach(move || {
                    let mut out = Vec::new();
                    log.range(start, stop, &mut |id, d| {
                        out.push((id, d.to_vec()));
                        Ok(())
                    })?;
                    Ok(out)
                }),
            )?;
            PyList::new(py, got.into_iter().map(|(id, d)| (id, PyBytes::new(py, &d))))
        })
    }
    /// Forget every record with `id < before`.
    fn trim(&self, py: Python<'_>, before: u64) -> PyResult<()> {
        let mut log = self.0.clone();
        guard(|| check(py, py.detach(move || log.trim(before))))
    }
    /// Close the log (for every acceptor sharing it too) and release its directory lock.
    fn close(&self, py: Python<'_>) {
        let log = self.0.clone();
        py.detach(move || drop(log.lock().take()))
    }
    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.0.lock().is_none()
    }
    /// The directory.
    #[getter]
    fn path(&self) -> String {
        self.0.path.clone()
    }
    fn __len__(&self) -> usize {
        self.0.lock().as_ref().map(|l| l.len()).unwrap_or(0)
    }
    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }
    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) {
        self.close(py)
    }
    fn __repr__(&self) -> String {
        format!("FileLog({:?})", self.0.path)
    }
}
