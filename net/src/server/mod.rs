//! [`serve`]: one acceptor behind an HTTP server, secure by default.

mod conn;
mod io;
mod observe;
mod routes;

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use subtle::ConstantTimeEq;
use synodos::Log;
use tokio::sync::watch;

use crate::acceptor::{self, Command, ServedAcceptor};
use crate::api::{ApiError, Info};
use crate::error::NetError;

pub(crate) use routes::{call, draining, error_response, json_response, read_body, Body, ObserverSlot, State};

/// A streamed response body of the node's routes (`/v1/log?follow=true`).
pub(crate) type StreamBody = http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, std::convert::Infallible>;

/// More routes on the same server, next to the acceptor's (the node's, `synodos serve
/// --peers`). They are reached after the token and cluster checks, exactly as the acceptor's
/// routes are, and under the same limits.
pub(crate) trait Extension: Send + Sync + 'static {
    /// Whether `path` is one of these routes.
    fn serves(&self, path: &str) -> bool;
    /// Answer a request for one of these routes.
    fn handle(
        self: Arc<Self>,
        state: Arc<State>,
        req: http::Request<hyper::body::Incoming>,
    ) -> futures::future::BoxFuture<'static, Result<http::Response<Body>, ApiError>>;
    /// Add to `/v1/info`.
    fn info(&self, state: &State, info: &mut Info);
    /// A request to `path` was answered with `status` after `elapsed` (every route: metrics).
    fn record(&self, path: &str, status: u16, elapsed: Duration);
    /// The server is shutting down: end the streams.
    fn drain(&self);
    /// The server's state, once it runs (weak: the state holds this extension).
    fn attach(&self, state: std::sync::Weak<State>);
}

/// Bearer tokens a server accepts (several at once, for rotation). Compared in constant time;
/// never printed.
#[derive(Clone, Default)]
pub struct Tokens(Vec<Vec<u8>>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tokens({} redacted)", self.0.len())
    }
}

impl Tokens {
    /// No tokens: every request is let in (loopback only, unless TLS client certificates
    /// authenticate the clients).
    pub fn none() -> Self {
        Tokens(Vec::new())
    }

    /// These tokens.
    pub fn new<S: AsRef<str>>(tokens: impl IntoIterator<Item = S>) -> Self {
        Tokens(tokens.into_iter().map(|t| t.as_ref().as_bytes().to_vec()).collect())
    }

    /// Parse a token file: one token per line; blank lines and lines starting with `#` are
    /// skipped, surrounding whitespace is not part of a token. At least one token is needed.
    pub fn parse(text: &str) -> Result<Self, NetError> {
        let mut tokens = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let token = line.trim();
            if token.is_empty() || token.starts_with('#') {
                continue;
            }
            if token.len() < 16 || token.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
                return Err(NetError::Config(format!(
                    "line {}: a token must be at least 16 printable ASCII characters without spaces \
                     (e.g. `openssl rand -hex 32`)",
                    n + 1
                )));
            }
            tokens.push(token.as_bytes().to_vec());
        }
        if tokens.is_empty() {
            return Err(NetError::Config("no token in it: put one token per line".into()));
        }
        Ok(Tokens(tokens))
    }

    /// [`parse`](Self::parse) a file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, NetError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| NetError::Config(format!("token file {}: {e}", path.display())))?;
        Self::parse(&text).map_err(|e| NetError::Config(format!("token file {}: {e}", path.display())))
    }

    /// The first token (the one a node sends to its peers).
    pub(crate) fn first(&self) -> Option<&[u8]> {
        self.0.first().map(Vec::as_slice)
    }

    /// Whether no tokens are required.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `given` is one of the tokens. Every token is compared, each in constant time,
    /// so the time taken says nothing about which one matched or how much of one did.
    pub(crate) fn admits(&self, given: &[u8]) -> bool {
        let mut ok = subtle::Choice::from(0u8);
        for token in &self.0 {
            ok |= token.as_slice().ct_eq(given);
        }
        bool::from(ok)
    }
}

/// A server's TLS material, PEM-encoded: certificate chain, private key, and optionally the
/// CA that client certificates must chain to (mTLS: then a client without one is refused
/// during the handshake).
#[derive(Clone)]
pub struct ServerTls {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    client_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("mtls", &self.client_ca_pem.is_some()).finish()
    }
}

impl ServerTls {
    /// A certificate chain and its key, in PEM.
    pub fn from_pem(cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        ServerTls { cert_pem: cert_pem.into(), key_pem: key_pem.into(), client_ca_pem: None }
    }

    /// Require client certificates that chain to this CA (PEM).
    pub fn client_ca(mut self, ca_pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca_pem = Some(ca_pem.into());
        self
    }

    /// Read the PEM files.
    pub fn from_files(cert: &Path, key: &Path, client_ca: Option<&Path>) -> Result<Self, NetError> {
        let read = |p: &Path, what: &str| {
            std::fs::read(p).map_err(|e| NetError::Config(format!("{what} {}: {e}", p.display())))
        };
        let mut tls = ServerTls::from_pem(read(cert, "TLS certificate")?, read(key, "TLS key")?);
        if let Some(ca) = client_ca {
            tls = tls.client_ca(read(ca, "client CA")?);
        }
        Ok(tls)
    }
}

/// The server's limits. The defaults suit a cluster on a LAN; every one is a bound on what a
/// client can make the server hold.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The largest request body, in bytes (1 MiB). A larger one gets 413 naming the limit.
    pub max_body: usize,
    /// The largest request head (request line and headers) over HTTP/1.1, and header list
    /// over HTTP/2, in bytes (16 KiB; at least 8 KiB over HTTP/1.1).
    pub max_header_bytes: usize,
    /// Concurrent streams per HTTP/2 connection (128).
    pub max_h2_streams: u32,
    /// Open connections (1,024); more are closed as they arrive.
    pub max_connections: usize,
    /// Time to send a request's head, and for a new connection (TLS handshake included) to
    /// send its first request (5 s): slowloris is dropped.
    pub header_timeout: Duration,
    /// Time to send a request's body and get the answer (30 s): a 408 after it.
    pub request_timeout: Duration,
    /// A connection with no byte in either direction for this long is closed (60 s).
    pub idle_timeout: Duration,
    /// A connection whose writes make no progress for this long is closed (10 s): a peer that
    /// stops reading (a stalled observe reader, say) does not hold its buffers.
    pub write_timeout: Duration,
    /// Live observe streams at once (64); more get 503.
    pub max_observers: usize,
    /// Accepts an observe stream may have unsent before its reader is cut off (1,024).
    pub observe_queue: usize,
    /// A following observe stream sends a heartbeat line after this long without one (5 s).
    pub heartbeat: Duration,
    /// Requests waiting for the acceptor (4,096); more get 503 `OVERLOADED`.
    pub queue: usize,
    /// How long a shutdown waits for requests in flight before it closes connections (10 s).
    pub drain_timeout: Duration,
}

impl Limits {
    /// Every duration at most a year (longer ones mean "no limit" and must not overflow a
    /// deadline), every count at least 1 where 0 would refuse everything.
    fn normalized(mut self) -> Self {
        let year = Duration::from_secs(365 * 86_400);
        for d in [
            &mut self.header_timeout,
            &mut self.request_timeout,
            &mut self.idle_timeout,
            &mut self.write_timeout,
            &mut self.heartbeat,
            &mut self.drain_timeout,
        ] {
            *d = (*d).min(year);
        }
        self.queue = self.queue.max(1);
        self.max_connections = self.max_connections.max(1);
        self.observe_queue = self.observe_queue.max(1);
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 1 << 20,
            max_header_bytes: 16 << 10,
            max_h2_streams: 128,
            max_connections: 1024,
            header_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            max_observers: 64,
            observe_queue: 1024,
            heartbeat: Duration::from_secs(5),
            queue: 4096,
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// How to serve: who the acceptor is, who may talk to it, and the limits.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// This acceptor's id, unique in the cluster (clients count each id once).
    pub acceptor_id: u64,
    /// The cluster's name; a request naming another cluster gets 403.
    pub cluster: String,
    /// Bearer tokens; empty: no token needed.
    pub tokens: Tokens,
    /// TLS; `None`: plain HTTP (h2c by prior knowledge), loopback only unless `insecure`.
    pub tls: Option<ServerTls>,
    /// Origins that browsers may call from (CORS); empty: CORS off. `*` allows any.
    pub allow_origins: Vec<String>,
    /// Allow a non-loopback address without TLS, or without tokens or client certificates.
    pub insecure: bool,
    /// The limits.
    pub limits: Limits,
    /// Worker threads of the server's runtime (2). The acceptor has a thread of its own.
    pub threads: usize,
}

impl ServeOptions {
    /// Serve acceptor `acceptor_id` of `cluster`, with no tokens, no TLS, default limits.
    pub fn new(acceptor_id: u64, cluster: impl Into<String>) -> Self {
        ServeOptions {
            acceptor_id,
            cluster: cluster.into(),
            tokens: Tokens::none(),
            tls: None,
            allow_origins: Vec::new(),
            insecure: false,
            limits: Limits::default(),
            threads: 2,
        }
    }

    /// Require one of these bearer tokens.
    pub fn tokens(mut self, tokens: Tokens) -> Self {
        self.tokens = tokens;
        self
    }

    /// Serve over TLS.
    pub fn tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Let browsers call from `origin` (CORS).
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        self.allow_origins.push(origin.into());
        self
    }

    /// Set the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// A running server. [`shutdown`](Self::shutdown) (or dropping it) stops it gracefully.
pub struct Server {
    addr: SocketAddr,
    tls: bool,
    stop: Option<Stop>,
}

struct Stop {
    runtime: tokio::runtime::Runtime,
    state: Arc<routes::State>,
    shutdown: watch::Sender<bool>,
    accept_loop: futures::channel::oneshot::Receiver<()>,
    acceptor_thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).field("tls", &self.tls).finish()
    }
}

impl Server {
    /// The address the server listens on (with the port the OS chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The runtime the server's connections run on.
    pub(crate) fn runtime(&self) -> Option<tokio::runtime::Handle> {
        self.stop.as_ref().map(|s| s.runtime.handle().clone())
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// Stop gracefully: refuse new connections, answer new requests with 503, end the observe
    /// streams, finish the requests in flight (for up to [`Limits::drain_timeout`]), then stop
    /// the acceptor once its last batch is written. Blocks until done; do not call it from a
    /// task of this server (use [`shutdown_async`](Self::shutdown_async) from async code).
    pub fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            stop.run();
        }
    }

    /// [`shutdown`](Self::shutdown) for async code on any executor (it runs on a thread of
    /// its own).
    pub async fn shutdown_async(mut self) {
        if let Some(stop) = self.stop.take() {
            let (tx, rx) = futures::channel::oneshot::channel();
            let spawned = std::thread::Builder::new().name("synodos-shutdown".into()).spawn(move || {
                stop.run();
                let _ = tx.send(());
            });
            if spawned.is_ok() {
                let _ = rx.await;
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.run();
        }
    }
}

impl Stop {
    fn run(self) {
        let Stop { runtime, state, shutdown, accept_loop, acceptor_thread } = self;
        state.draining.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(extension) = &state.extension {
            extension.drain();
        }
        state.acceptor.send_blocking(Command::EndStreams);
        let _ = shutdown.send(true);
        let _ = futures::executor::block_on(accept_loop);
        // The connections are gone, and with them every handle on the acceptor but this one.
        drop(state);
        if let Some(thread) = acceptor_thread {
            let _ = thread.join();
        }
        // Join the runtime's threads, so that none outlives the server (a C or Python host
        // may exit or unload right after). Inside an async context blocking is not allowed:
        // there the threads are let go instead.
        if tokio::runtime::Handle::try_current().is_ok() {
            runtime.shutdown_background();
        } else {
            runtime.shutdown_timeout(std::time::Duration::from_secs(5));
        }
    }
}

fn resolve(addr: impl ToSocketAddrs, shown: &str) -> Result<SocketAddr, NetError> {
    addr.to_socket_addrs()
        .map_err(|source| NetError::Bind { addr: shown.to_string(), source })?
        .next()
        .ok_or_else(|| NetError::Bind { addr: shown.to_string(), source: std::io::Error::other("no address") })
}

/// The secure-by-default rules [`serve`] applies to `addr`: a non-loopback address needs TLS,
/// and tokens or client certificates, unless `options.insecure`.
pub fn check_exposure(addr: SocketAddr, options: &ServeOptions) -> Result<(), NetError> {
    if addr.ip().is_loopback() || options.insecure {
        return Ok(());
    }
    if options.tls.is_none() {
        return Err(NetError::Insecure {
            addr,
            why: "without TLS",
            fix: "give a certificate and key (--tls-cert/--tls-key), listen on 127.0.0.1, \
                  or pass --insecure to serve plain HTTP off loopback anyway",
        });
    }
    let mtls = options.tls.as_ref().is_some_and(|t| t.client_ca_pem.is_some());
    if options.tokens.is_empty() && !mtls {
        return Err(NetError::Insecure {
            addr,
            why: "without authentication",
            fix: "give a token file (--token-file) or a client CA (--tls-client-ca), \
                  or pass --insecure to let anyone reach this acceptor",
        });
    }
    Ok(())
}

/// Serve `acceptor` on `addr` (port 0: the OS picks; see [`Server::addr`]) until
/// [`Server::shutdown`]. The server runs on a runtime of its own (`options.threads`
/// workers) and the acceptor on a thread of its own, so this works from any thread.
///
/// Refuses a non-loopback address without TLS, and one without tokens or client
/// certificates, unless `options.insecure`.
pub fn serve<P, A>(
    acceptor: ServedAcceptor<P, A>,
    addr: impl ToSocketAddrs,
    options: ServeOptions,
) -> Result<Server, NetError>
where
    P: Log + Send + 'static,
    A: Log + Send + 'static,
{
    serve_with(acceptor, addr, options, None)
}

/// [`serve`], with more routes next to the acceptor's.
pub(crate) fn serve_with<P, A>(
    acceptor: ServedAcceptor<P, A>,
    addr: impl ToSocketAddrs,
    options: ServeOptions,
    extension: Option<Arc<dyn Extension>>,
) -> Result<Server, NetError>
where
    P: Log + Send + 'static,
    A: Log + Send + 'static,
{
    let shown = addr.to_socket_addrs().ok().and_then(|mut a| a.next()).map(|a| a.to_string()).unwrap_or_default();
    let addr = resolve(addr, &shown)?;
    check_exposure(addr, &options)?;
    let tls = match &options.tls {
        Some(t) => Some(crate::tls::server_config(&t.cert_pem, &t.key_pem, t.client_ca_pem.as_deref())?),
        None => None,
    };
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| NetError::Bind { addr: addr.to_string(), source })?;
    listener.set_nonblocking(true).map_err(NetError::Runtime)?;
    let bound = listener.local_addr().map_err(NetError::Runtime)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.threads.max(1))
        .thread_name("synodos-serve")
        .enable_all()
        .build()
        .map_err(NetError::Runtime)?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(listener).map_err(NetError::Runtime)?
    };
    let limits = options.limits.clone().normalized();
    let (handle, acceptor_thread) =
        acceptor::start(acceptor, limits.queue, limits.observe_queue).map_err(NetError::Runtime)?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let state = Arc::new(routes::State {
        acceptor: handle,
        acceptor_id: options.acceptor_id,
        cluster: options.cluster.clone(),
        tokens: options.tokens.clone(),
        origins: options.allow_origins.clone(),
        limits: limits.clone(),
        draining: AtomicBool::new(false),
        observers: AtomicUsize::new(0),
        http1: AtomicU64::new(0),
        http2: AtomicU64::new(0),
        extension,
    });
    if let Some(extension) = &state.extension {
        extension.attach(Arc::downgrade(&state));
    }
    let (done_tx, done_rx) = futures::channel::oneshot::channel();
    let tls = tls.map(|config| tokio_rustls::TlsAcceptor::from(Arc::new(config)));
    let is_tls = tls.is_some();
    runtime.spawn(conn::accept_loop(listener, tls, state.clone(), shutdown_rx, done_tx));
    tracing::info!(
        "serving acceptor {} of cluster {:?} on {}://{bound}",
        options.acceptor_id,
        options.cluster,
        if is_tls { "https" } else { "http" }
    );
    Ok(Server {
        addr: bound,
        tls: is_tls,
        stop: Some(Stop { runtime, state, shutdown, accept_loop: done_rx, acceptor_thread }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_whole() {
        let t = Tokens::parse("# rotation\n0123456789abcdef\n\n  fedcba9876543210fedcba  \n").unwrap();
        assert!(t.admits(b"0123456789abcdef"));
        assert!(t.admits(b"fedcba9876543210fedcba"));
        assert!(!t.admits(b"0123456789abcde"));
        assert!(!t.admits(b"0123456789abcdefX"));
        assert!(!t.admits(b""));
        assert!(Tokens::parse("# nothing\n\n").is_err());
        assert!(Tokens::parse("short\n").is_err());
        assert!(format!("{t:?}").contains("redacted"));
    }

    #[test]
    fn exposure_rules() {
        let o = ServeOptions::new(1, "c");
        assert!(check_exposure("127.0.0.1:1".parse().unwrap(), &o).is_ok());
        assert!(check_exposure("[::1]:1".parse().unwrap(), &o).is_ok());
        assert!(matches!(check_exposure("0.0.0.0:1".parse().unwrap(), &o), Err(NetError::Insecure { .. })));
        let tls = o.clone().tls(ServerTls::from_pem(vec![], vec![]));
        assert!(matches!(check_exposure("0.0.0.0:1".parse().unwrap(), &tls), Err(NetError::Insecure { .. })));
        let authed = tls.tokens(Tokens::new(["0123456789abcdef"]));
        assert!(check_exposure("0.0.0.0:1".parse().unwrap(), &authed).is_ok());
        let insecure = ServeOptions { insecure: true, ..o };
        assert!(check_exposure("0.0.0.0:1".parse().unwrap(), &insecure).is_ok());
    }
}
