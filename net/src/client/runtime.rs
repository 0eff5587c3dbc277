//! The clients' background runtime: a one-thread tokio runtime of this library's own, made on first use and shared by every [`HttpAcceptor`](crate::HttpAcceptor) that is
//! not given another. Callers on any executor (or none) reach it through channels.

use std::sync::OnceLock;

use tokio::runtime::{Handle, Runtime};

static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();

/// The shared runtime's handle (made on first call).
pub(crate) fn shared() -> Result<Handle, String> {
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            // One worker: a request's task and its connection's task then share a thread.
            // With two, a request costs 6 to 8 context switches instead of 3 (measured).
            .worker_threads(1)
            .thread_name("synodos-net-client")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP client's runtime: {e}"))
    });
    match rt {
        Ok(rt) => Ok(rt.handle().clone()),
        Err(e) => Err(e.clone()),
    }
}
