//! `synodos._synodos`: the Python binding of synodos. It only translates: types (messages,
//! logs, clients), errors (exceptions with the user's exception as `__cause__`) and calls
//! (the GIL is released while Rust runs; Python clients are called off the caller's thread,
//! or on it with `inline_calls`).
//! The Python package `synodos` (beside this crate) re-exports it and adds `synodos.aio`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod acceptor;
pub mod client;
pub mod errors;
pub mod exec;
#[cfg(feature = "file-log")]
pub mod file_log;
pub mod ids;
pub mod logs;
pub mod messages;
pub mod net;
pub mod pool;
pub mod proposer;
pub mod pycall;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
fn _synodos(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::install_panic_hook();
    errors::register(m)?;
    m.add_class::<messages::PyRequest>()?;
    m.add_class::<messages::PyPromise>()?;
    m.add_class::<messages::PyProposal>()?;
    m.add_class::<messages::PyEntry>()?;
    m.add_class::<messages::PyBatch>()?;
    m.add_class::<logs::PyMemoryLog>()?;
    #[cfg(feature = "file-log")]
    m.add_class::<file_log::PyFileLog>()?;
    m.add_class::<acceptor::PyAcceptor>()?;
    m.add_class::<ids::PyManualClock>()?;
    m.add_class::<ids::PyServerIdGenerator>()?;
    m.add_class::<ids::PyCounterIdGenerator>()?;
    m.add_class::<proposer::PyProposer>()?;
    m.add_class::<proposer::PyReplicatedLog>()?;
    m.add_class::<proposer::LogReader>()?;
    m.add_class::<net::PyHttpAcceptor>()?;
    m.add_class::<net::PyServer>()?;
    m.add_class::<net::PyNodeClient>()?;
    m.add_class::<net::NodeFollow>()?;
    m.add_function(wrap_pyfunction!(net::serve, m)?)?;
    m.add_function(wrap_pyfunction!(logs::run_log_conformance, m)?)?;
    m.add_class::<proposer::RustBench>()?;
    m.add_function(wrap_pyfunction!(errors::_test_panic, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_panic_count, m)?)?;
    m.add_function(wrap_pyfunction!(pool::_after_fork_in_child, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
