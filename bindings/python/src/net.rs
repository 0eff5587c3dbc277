//! The network, from Python: `HttpAcceptor` (an acceptor client over HTTP, Rust-native: no
//! GIL while it waits), `serve` (a `synodos.Acceptor` behind the HTTP server of
//! `synodos-net`) and `NodeClient` (append and read through `synodos serve --peers` nodes).
//! Only translation lives here: the protocol, the server and the clients are `synodos-net`'s.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use futures::StreamExt;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use synodos::AcceptorClient;
use synodos_net::{ClientOptions, HttpAcceptor, NetError, ServeOptions, ServedAcceptor, ServerTls, Tokens};

use crate::acceptor::PyAcceptor;
use crate::errors::{check, guard};
use crate::messages::{PyEntry, PyPromise, PyProposal, PyRequest};

/// A `NetError` (bad URL, unreadable PEM, bind failure, ...) as a Python exception: a
/// `ValueError` for what the caller gave wrong, an `OSError` for what the system refused.
fn net_error(e: NetError) -> PyErr {
    match e {
        NetError::Bind { .. } | NetError::Runtime(_) => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// A PEM given as a path (`str` or `os.PathLike`) or as its bytes.
fn pem(arg: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = arg.extract::<Vec<u8>>() {
        if !arg.is_instance_of::<pyo3::types::PyString>() {
            return Ok(bytes);
        }
    }
    let path: PathBuf = arg
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{what}: expected a path (str or os.PathLike) or PEM bytes")))?;
    std::fs::read(&path).map_err(|e| PyOSError::new_err(format!("{what}: cannot read {}: {e}", path.display())))
}

/// The client options every client constructor takes.
fn client_options(
    token: Option<String>,
    cluster: Option<String>,
    ca: Option<&Bound<'_, PyAny>>,
    cert: Option<&Bound<'_, PyAny>>,
    key: Option<&Bound<'_, PyAny>>,
    timeout: Option<f64>,
) -> PyResult<ClientOptions> {
    let mut o = ClientOptions::new();
    if let Some(t) = token {
        o = o.token(t.trim().to_string());
    }
    if let Some(c) = cluster {
        o = o.cluster(c);
    }
    if let Some(ca) = ca {
        o = o.ca_pem(pem(ca, "ca")?);
    }
    match (cert, key) {
        (Some(c), Some(k)) => o = o.identity(pem(c, "cert")?, pem(k, "key")?),
        (None, None) => {}
        _ => return Err(PyValueError::new_err("cert and key go together (a client certificate and its key)")),
    }
    if let Some(t) = timeout {
        if !(t.is_finite() && t > 0.0) {
            return Err(PyValueError::new_err(format!("timeout must be a positive number of seconds, not {t}")));
        }
        o = o.timeout(Duration::from_secs_f64(t));
    }
    Ok(o)
}

/// An acceptor reached over HTTP (`synodos serve`, or any `synodos.serve`): pass it to a
/// `Proposer` or `ReplicatedLog` wherever an acceptor goes. It is Rust-native: calls run
/// without the GIL, concurrently, on connections kept alive.
///
/// `token` is the bearer token; `cluster` the cluster name the server must have; `ca` the CA
/// that signed the server's certificate (for `https://`); `cert` and `key` a client
/// certificate (mTLS). Each is a path or PEM bytes. A refused call (401, 403, 5xx, a
/// connection refused) raises `TransportError` with `status` (0 when no HTTP answer came) and
/// `server_code`, `server_message` from the server's error body.
#[pyclass(frozen, module = "synodos", name = "HttpAcceptor")]
pub struct PyHttpAcceptor(pub HttpAcceptor);

#[pymethods]
impl PyHttpAcceptor {
    #[new]
    #[pyo3(signature = (url, *, token = None, cluster = None, ca = None, cert = None, key = None, timeout = None))]
    fn new(
        url: &str,
        token: Option<String>,
        cluster: Option<String>,
        ca: Option<&Bound<'_, PyAny>>,
        cert: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Self> {
        guard(|| {
            let o = client_options(token, cluster, ca, cert, key, timeout)?;
            HttpAcceptor::new(url, o).map(PyHttpAcceptor).map_err(net_error)
        })
    }

    /// The server's URL.
    #[getter]
    fn url(&self) -> String {
        self.0.url().to_string()
    }

    /// Phase 1 over HTTP.
    fn prepare(&self, py: Python<'_>, request: &Bound<'_, PyRequest>) -> PyResult<PyPromise> {
        let (req, c) = (request.get().0.clone(), self.0.clone());
        guard(|| check(py, py.detach(move || futures::executor::block_on(c.prepare(&req)))).map(PyPromise))
    }

    /// Phase 2 over HTTP.
    fn accept(&self, py: Python<'_>, proposal: &Bound<'_, PyProposal>) -> PyResult<PyProposal> {
        let (prop, c) = (proposal.get().0.clone(), self.0.clone());
        guard(|| check(py, py.detach(move || futures::executor::block_on(c.accept(&prop)))).map(PyProposal))
    }

    /// The proposals the acceptor has accepted for slots `>= request.slot`.
    fn observe<'py>(&self, py: Python<'py>, request: &Bound<'_, PyRequest>) -> PyResult<Bound<'py, PyList>> {
        let (req, c) = (request.get().0.clone(), self.0.clone());
        guard(|| {
            let got = check(py, py.detach(move || futures::executor::block_on(c.observe(&req))))?;
            PyList::new(py, got.into_iter().map(PyProposal))
        })
    }

    /// The server's `/v1/info`, as a dict.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let c = self.0.clone();
        guard(|| {
            let info = check(py, py.detach(move || futures::executor::block_on(c.info())))?;
            to_python(py, &info)
        })
    }

    fn __repr__(&self) -> String {
        format!("HttpAcceptor({:?})", self.0.url())
    }
}

/// A serde value as plain Python objects (through `json`, the one converter Python has).
fn to_python<'py, T: serde::Serialize>(py: Python<'py>, value: &T) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// A running server: `url`, `close()`; a context manager. Closing drains it (connections
/// finish their current request) and waits for it; the acceptor stays usable in process.
#[pyclass(frozen, module = "synodos", name = "Server")]
pub struct PyServer {
    server: Mutex<Option<synodos_net::Server>>,
    url: String,
}

impl PyServer {
    fn stop(&self, py: Python<'_>) -> bool {
        let taken = self.server.lock().ok().and_then(|mut s| s.take());
        match taken {
            // Without the GIL: the acceptor's thread may be calling a Python log.
            Some(server) => {
                py.detach(move || server.shutdown());
                true
            }
            None => false,
        }
    }
}

#[pymethods]
impl PyServer {
    /// `http://127.0.0.1:PORT` (or `https://...`): give it to `HttpAcceptor`.
    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.server.lock().map(|s| s.is_none()).unwrap_or(true)
    }

    /// Stop serving and wait for the server's threads. Safe to call twice.
    fn close(&self, py: Python<'_>) {
        self.stop(py);
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.stop(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("Server({:?}, closed={})", self.url, self.closed())
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        // Like an unclosed socket: say so (ResourceWarning), then stop it anyway.
        Python::attach(|py| {
            if self.server.lock().map(|s| s.is_some()).unwrap_or(false) {
                let warning = py.get_type::<pyo3::exceptions::PyResourceWarning>();
                let msg =
                    std::ffi::CString::new(format!("unclosed synodos.Server at {}", self.url)).unwrap_or_default();
                let _ = PyErr::warn(py, &warning, &msg, 1);
                self.stop(py);
            }
        });
    }
}

/// Serve `acceptor` (a `synodos.Acceptor` over any logs, Python-written ones too) on `bind`
/// (`"127.0.0.1:0"`: a free port; see `Server.url`) until `Server.close()`.
///
/// `token`: a bearer token (or a list, for rotation) every request must carry; `tls`: a
/// `(cert, key)` or `(cert, key, client_ca)` tuple of paths or PEM bytes; `id` and `cluster`:
/// the acceptor's id in its cluster and the cluster's name, which clients check. An address
/// that is not loopback needs TLS and a token (or client certificates).
#[pyfunction]
#[pyo3(signature = (acceptor, bind = "127.0.0.1:0", *, token = None, tls = None, id = 1, cluster = "synodos", allow_origin = None))]
#[allow(clippy::too_many_arguments)]
pub fn serve(
    py: Python<'_>,
    acceptor: &Bound<'_, PyAny>,
    bind: &str,
    token: Option<&Bound<'_, PyAny>>,
    tls: Option<&Bound<'_, PyAny>>,
    id: u64,
    cluster: &str,
    allow_origin: Option<Vec<String>>,
) -> PyResult<PyServer> {
    guard(|| {
        let acceptor = acceptor.cast::<PyAcceptor>().map_err(|_| {
            PyTypeError::new_err(
                "serve() takes a synodos.Acceptor: wrap your logs in synodos.Acceptor(promise_log, accept_log)",
            )
        })?;
        let mut options = ServeOptions::new(id, cluster);
        if let Some(t) = token {
            let tokens: Vec<String> = match t.extract::<String>() {
                Ok(one) => vec![one],
                Err(_) => t.extract().map_err(|_| PyTypeError::new_err("token: a str, or a list of str"))?,
            };
            let text = tokens.iter().map(|t| t.trim()).collect::<Vec<_>>().join("\n");
            options = options.tokens(Tokens::parse(&text).map_err(net_error)?);
        }
        if let Some(tls) = tls {
            let parts: Vec<Bound<'_, PyAny>> = tls
                .extract()
                .map_err(|_| PyTypeError::new_err("tls: a (cert, key) or (cert, key, client_ca) tuple"))?;
            let (cert, key) = match parts.as_slice() {
                [c, k] | [c, k, _] => (pem(c, "tls cert")?, pem(k, "tls key")?),
                _ => return Err(PyValueError::new_err("tls: a (cert, key) or (cert, key, client_ca) tuple")),
            };
            let mut t = ServerTls::from_pem(cert, key);
            if let Some(ca) = parts.get(2) {
                t = t.client_ca(pem(ca, "tls client_ca")?);
            }
            options = options.tls(t);
        }
        for origin in allow_origin.unwrap_or_default() {
            options = options.allow_origin(origin);
        }
        let shared = ServedAcceptor::shared(acceptor.get().0.clone());
        let bind = bind.to_string();
        let server = py.detach(move || synodos_net::serve(shared, bind.as_str(), options)).map_err(net_error)?;
        let url = server.url();
        Ok(PyServer { server: Mutex::new(Some(server)), url })
    })
}

/// A client of `synodos serve --peers` nodes: `append`, `propose`, `read`, `follow`, `info`.
/// It tries the nodes in turn and follows the leader. `peers` is a list of URLs or one
/// comma-separated string; the other arguments are `HttpAcceptor`'s.
#[pyclass(frozen, module = "synodos", name = "NodeClient")]
pub struct PyNodeClient(synodos_net::NodeClient);

#[pymethods]
impl PyNodeClient {
    #[new]
    #[pyo3(signature = (peers, *, token = None, cluster = None, ca = None, cert = None, key = None, timeout = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        peers: &Bound<'_, PyAny>,
        token: Option<String>,
        cluster: Option<String>,
        ca: Option<&Bound<'_, PyAny>>,
        cert: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<Self> {
        guard(|| {
            let peers: Vec<String> = match peers.extract::<String>() {
                Ok(s) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
                Err(_) => peers
                    .extract()
                    .map_err(|_| PyTypeError::new_err("peers: a list of URLs, or a comma-separated str"))?,
            };
            let o = client_options(token, cluster, ca, cert, key, timeout)?;
            synodos_net::NodeClient::new(peers, o).map(PyNodeClient).map_err(net_error)
        })
    }

    /// The node URLs.
    #[getter]
    fn peers(&self) -> Vec<String> {
        self.0.peers().to_vec()
    }

    /// Append `value` to the log; the entry (its slot) once chosen.
    fn append(&self, py: Python<'_>, value: Vec<u8>) -> PyResult<PyEntry> {
        let c = self.0.clone();
        guard(|| check(py, py.detach(move || c.append_blocking(value))).map(PyEntry))
    }

    /// Decide the single decree (slot 0): the value chosen, `value` or an earlier one.
    fn propose(&self, py: Python<'_>, value: Vec<u8>) -> PyResult<Vec<u8>> {
        let c = self.0.clone();
        guard(|| check(py, py.detach(move || c.propose_blocking(value))))
    }

    /// Up to `max` chosen entries from slot `start` on, in order.
    #[pyo3(signature = (start = 0, max = 1000))]
    fn read<'py>(&self, py: Python<'py>, start: u64, max: usize) -> PyResult<Bound<'py, PyList>> {
        let c = self.0.clone();
        guard(|| {
            let got = check(py, py.detach(move || c.read_blocking(start, max)))?;
            PyList::new(py, got.into_iter().map(PyEntry))
        })
    }

    /// The chosen entries from `start` on, then each new one as it is chosen (an iterator
    /// that does not end by itself; Ctrl-C stops it).
    #[pyo3(signature = (start = 0))]
    fn follow(&self, start: u64) -> NodeFollow {
        NodeFollow { stream: Mutex::new(Some(self.0.follow(start))) }
    }

    /// Each node's `/v1/info`: a list of `{"url", "info"}` or `{"url", "error"}` dicts.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let c = self.0.clone();
        guard(|| {
            let all = py.detach(move || c.info_blocking());
            let list = PyList::empty(py);
            for (url, result) in all {
                let d = PyDict::new(py);
                d.set_item("url", url)?;
                match result {
                    Ok(info) => d.set_item("info", to_python(py, &info)?)?,
                    Err(e) => d.set_item("error", e.to_string())?,
                }
                list.append(d)?;
            }
            Ok(list)
        })
    }

    fn __repr__(&self) -> String {
        format!("NodeClient({:?})", self.0.peers())
    }
}

/// `NodeClient.follow()`: chosen entries as they are chosen.
#[pyclass(module = "synodos", name = "NodeFollow")]
pub struct NodeFollow {
    stream: Mutex<Option<synodos_net::node::FollowStream>>,
}

/// How long one wait for the next entry lasts before signals (Ctrl-C) are checked.
const FOLLOW_TICK: Duration = Duration::from_millis(100);

#[pymethods]
impl NodeFollow {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyEntry>> {
        guard(|| loop {
            // Taken out while waiting, so that no lock is held without the GIL.
            let Some(mut stream) = self.stream.lock().ok().and_then(|mut s| s.take()) else {
                return Ok(None);
            };
            let (stream, got) = py.detach(move || {
                let got = futures::executor::block_on(async {
                    let tick = futures_timer::Delay::new(FOLLOW_TICK);
                    futures::pin_mut!(tick);
                    match futures::future::select(stream.next(), tick).await {
                        futures::future::Either::Left((item, _)) => Some(item),
                        futures::future::Either::Right(((), _)) => None,
                    }
                });
                (stream, got)
            });
            match got {
                Some(Some(Ok(entry))) => {
                    self.put_back(stream);
                    return Ok(Some(PyEntry(entry)));
                }
                Some(Some(Err(e))) => return Err(crate::errors::to_py(py, e)),
                Some(None) => return Ok(None),
                None => {
                    self.put_back(stream);
                    py.check_signals()?;
                }
            }
        })
    }

    /// Stop following (the connection closes).
    fn close(&self) {
        drop(self.stream.lock().ok().and_then(|mut s| s.take()));
    }
}

impl NodeFollow {
    fn put_back(&self, stream: synodos_net::node::FollowStream) {
        if let Ok(mut s) = self.stream.lock() {
            *s = Some(stream);
        }
    }
}
