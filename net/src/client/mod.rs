//! [`HttpAcceptor`]: an [`AcceptorClient`] over HTTP, on a background runtime of its own.

mod runtime;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, Stream};
use http::header::{self, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use synodos::{wire, AcceptorClient, Batch, Error, Promise, Proposal, Request as PrepareRequest, Result, Slot};
use tokio::runtime::Handle;

use crate::api::{self, ApiError, Info};
use crate::error::NetError;

/// Which HTTP version a client speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/2 under TLS when the server offers it (ALPN), HTTP/1.1 otherwise and over plain
    /// HTTP.
    #[default]
    Auto,
    /// HTTP/1.1 only (a pool of keep-alive connections).
    Http1,
    /// HTTP/2 only: by ALPN under TLS, by prior knowledge (h2c) over plain HTTP.
    Http2,
}

/// Options of an [`HttpAcceptor`]. Clones share one *roster*: the acceptor ids that clients
/// made from them have found, so that two URLs reaching one acceptor are caught (the second
/// client to reach it refuses every call) and a majority never counts an acceptor twice.
/// Build the clients of one proposer from clones of one `ClientOptions`.
#[derive(Clone)]
pub struct ClientOptions {
    timeout: Duration,
    connect_timeout: Duration,
    token: Option<String>,
    ca_pem: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    cluster: Option<String>,
    version: HttpVersion,
    max_response: usize,
    observe_idle: Duration,
    runtime: Option<Handle>,
    roster: Arc<Roster>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("timeout", &self.timeout)
            .field("cluster", &self.cluster)
            .field("version", &self.version)
            .field("token", &self.token.as_ref().map(|_| "redacted"))
            .field("tls", &self.ca_pem.is_some())
            .field("mtls", &self.identity.is_some())
            .finish()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            token: None,
            ca_pem: None,
            identity: None,
            cluster: None,
            version: HttpVersion::Auto,
            max_response: 256 << 20,
            observe_idle: Duration::from_secs(30),
            runtime: None,
            roster: Arc::new(Roster::default()),
        }
    }
}

impl ClientOptions {
    /// Defaults: 10 s per request, 3 s to connect, no token, plain HTTP, any cluster (the
    /// first acceptor reached names it; the others must match).
    pub fn new() -> Self {
        Self::default()
    }

    /// The longest a request (connect, send, answer) may take. A proposer's own
    /// `call_timeout` usually cuts calls shorter.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest a connection may take to open (TCP and TLS).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Send this bearer token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Trust servers whose certificates chain to this CA (PEM). Needed for `https://` URLs.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Present this client certificate and key (PEM) to servers that ask (mTLS).
    pub fn identity(mut self, cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.identity = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Expect acceptors of this cluster; any other is refused on first contact (and the
    /// server refuses our requests with 403).
    pub fn cluster(mut self, cluster: impl Into<String>) -> Self {
        self.cluster = Some(cluster.into());
        self
    }

    /// Which HTTP version to speak.
    pub fn http_version(mut self, version: HttpVersion) -> Self {
        self.version = version;
        self
    }

    /// The largest answer accepted, in bytes (256 MiB: an observe range can be large).
    pub fn max_response(mut self, bytes: usize) -> Self {
        self.max_response = bytes;
        self
    }

    /// A following observe stream that receives nothing (not even a heartbeat) for this long
    /// reconnects (30 s).
    pub fn observe_idle(mut self, idle: Duration) -> Self {
        self.observe_idle = idle;
        self
    }

    /// Run the client's I/O on this runtime instead of the library's own background one.
    pub fn runtime(mut self, handle: Handle) -> Self {
        self.runtime = Some(handle);
        self
    }
}

/// The acceptors the clients of one [`ClientOptions`] reached, by id.
#[derive(Default)]
struct Roster {
    state: Mutex<RosterState>,
}

#[derive(Default)]
struct RosterState {
    cluster: Option<String>,
    /// Acceptor id -> (client instance, URL).
    members: HashMap<u64, (u64, String)>,
}

impl Roster {
    fn admit(&self, instance: u64, url: &str, info: &Info, expected: Option<&str>) -> Result<()> {
        if let Some(expected) = expected {
            if info.cluster != expected {
                return Err(refusal(
                    "WRONG_CLUSTER",
                    format!(
                        "{url} is acceptor {} of cluster {:?}, not of {expected:?}: check the URL",
                        info.acceptor, info.cluster
                    ),
                ));
            }
        }
        let mut state = self.state.lock().map_err(|_| Error::transport("client roster poisoned"))?;
        if let Some(cluster) = &state.cluster {
            if *cluster != info.cluster {
                return Err(refusal(
                    "WRONG_CLUSTER",
                    format!(
                        "{url} is acceptor {} of cluster {:?}, but the other acceptors are of {cluster:?}",
                        info.acceptor, info.cluster
                    ),
                ));
            }
        }
        match state.members.get(&info.acceptor) {
            Some((owner, other)) if *owner != instance => {
                return Err(refusal(
                    "DUPLICATE_ACCEPTOR",
                    format!(
                        "{url} reaches acceptor {}, which {other} reaches too: one acceptor must not count \
                         twice toward a majority; give each URL a distinct acceptor",
                        info.acceptor
                    ),
                ));
            }
            _ => {}
        }
        state.members.insert(info.acceptor, (instance, url.to_string()));
        state.cluster.get_or_insert_with(|| info.cluster.clone());
        Ok(())
    }

    fn forget(&self, instance: u64) {
        if let Ok(mut state) = self.state.lock() {
            state.members.retain(|_, (owner, _)| *owner != instance);
        }
    }
}

/// A client-side refusal on first contact, as a transport error whose cause says why.
fn refusal(code: &str, message: String) -> Error {
    let api = ApiError::new(0, code, message.clone());
    Error::Transport { message, cause: Some(Arc::new(api)) }
}

/// What first contact established.
#[derive(Clone)]
struct Checked {
    acceptor: u64,
    acceptor_header: HeaderValue,
    cluster_header: Option<HeaderValue>,
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

struct Inner {
    url: String,
    base: String,
    prepare_uri: Uri,
    accept_uri: Uri,
    accept_batch_uri: Uri,
    /// Set once the server answered 404 to a batch (a server without the route): batches
    /// then go as single accepts.
    no_batches: std::sync::atomic::AtomicBool,
    info_uri: Uri,
    client: HttpClient,
    runtime: Handle,
    auth: Option<HeaderValue>,
    cluster: Option<String>,
    timeout: Duration,
    max_response: usize,
    observe_idle: Duration,
    checked: Mutex<Option<Checked>>,
    check_lock: tokio::sync::Mutex<()>,
    roster: Arc<Roster>,
    instance: u64,
}

/// An acceptor reached over HTTP: an [`AcceptorClient`] for [`synodos::Proposer`] and
/// [`synodos::ReplicatedLog`]. Clones share the connections.
///
/// Each call runs on a background runtime (the library's own, or the one given in
/// [`ClientOptions::runtime`]) and its answer comes back over a channel, so the futures work
/// on any executor, and under the core's `*_blocking` methods. A call whose future is
/// dropped (a proposer that reached its majority) finishes in the background, so its
/// connection stays alive for the next one.
///
/// On first contact it reads the server's `/v1/info` and checks the cluster and that no
/// other client of the same [`ClientOptions`] reached the same acceptor id.
#[derive(Clone)]
pub struct HttpAcceptor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for HttpAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpAcceptor").field("url", &self.inner.url).finish()
    }
}

static INSTANCES: AtomicU64 = AtomicU64::new(1);

/// A transport error naming the URL, with the whole chain of causes in its message (hyper's
/// own says only "client error (Connect)"; the reason is further down).
fn transport(url: &str, what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    let mut message = format!("{url}: {what}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    Error::Transport { message, cause: Some(Arc::new(e)) }
}

impl HttpAcceptor {
    /// A client of the acceptor served at `url` (`http://host:port` or `https://host:port`,
    /// optionally with a path prefix). Nothing is sent until the first call.
    pub fn new(url: &str, options: ClientOptions) -> std::result::Result<Self, NetError> {
        let bad = |why: &str| NetError::Url { url: url.to_string(), why: why.to_string() };
        let uri: Uri = url.parse().map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("expected http:// or https://")),
        };
        if uri.authority().is_none() {
            return Err(bad("no host"));
        }
        if uri.query().is_some() {
            return Err(bad("a query is not allowed"));
        }
        let base = url.trim_end_matches('/').to_string();
        let route = |path: &str| format!("{base}{path}").parse::<Uri>().map_err(|e| bad(&e.to_string()));
        let tls = match (&options.ca_pem, https) {
            (Some(ca), _) => {
                crate::tls::client_config(ca, options.identity.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice())))?
            }
            (None, true) => {
                return Err(NetError::Config(format!(
                    "{url}: an https URL needs the CA that signed the server's certificate (ClientOptions::ca_pem)"
                )))
            }
            (None, false) => rustls::ClientConfig::builder_with_provider(crate::tls::provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| NetError::Config(format!("TLS: {e}")))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        };
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(options.connect_timeout));
        let tls = HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
        let connector = match options.version {
            HttpVersion::Http1 => tls.enable_http1().wrap_connector(http),
            HttpVersion::Http2 => tls.enable_http2().wrap_connector(http),
            HttpVersion::Auto => tls.enable_http1().enable_http2().wrap_connector(http),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            // Below the server's default idle timeout (60 s), so the client closes first.
            .pool_idle_timeout(Duration::from_secs(30))
            .http2_only(options.version == HttpVersion::Http2)
            .build(connector);
        let runtime = match &options.runtime {
            Some(h) => h.clone(),
            None => runtime::shared().map_err(|e| NetError::Runtime(std::io::Error::other(e)))?,
        };
        let auth = match &options.token {
            Some(t) => Some(
                HeaderValue::from_str(&format!("Bearer {t}"))
                    .map_err(|_| NetError::Config("the token has characters a header cannot carry".into()))?,
            ),
            None => None,
        };
        if let Some(c) = &options.cluster {
            HeaderValue::from_str(c)
                .map_err(|_| NetError::Config(format!("cluster name {c:?} cannot go in a header")))?;
        }
        Ok(HttpAcceptor {
            inner: Arc::new(Inner {
                url: url.to_string(),
                prepare_uri: route(api::PREPARE)?,
                accept_uri: route(api::ACCEPT)?,
                accept_batch_uri: route(api::ACCEPT_BATCH)?,
                no_batches: std::sync::atomic::AtomicBool::new(false),
                info_uri: route(api::INFO)?,
                base,
                client,
                runtime,
                auth,
                cluster: options.cluster.clone(),
                timeout: options.timeout,
                max_response: options.max_response,
                observe_idle: options.observe_idle,
                checked: Mutex::new(None),
                check_lock: tokio::sync::Mutex::new(()),
                roster: options.roster.clone(),
                instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
            }),
        })
    }

    /// The URL this client was made with.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The acceptor id found on first contact, if it happened.
    pub fn acceptor_id(&self) -> Option<u64> {
        self.inner.checked().map(|c| c.acceptor)
    }

    /// Make first contact now (it otherwise happens on the first call): check the cluster
    /// and that the acceptor id is not another client's. Returns the id.
    pub async fn check(&self) -> Result<u64> {
        let inner = self.inner.clone();
        self.run(async move { inner.contact().await.map(|c| c.acceptor) }).await
    }

    /// The server's `/v1/info`, fetched now.
    pub async fn info(&self) -> Result<Info> {
        let inner = self.inner.clone();
        self.run(async move {
            let checked = inner.contact().await?;
            let body = inner.send(Method::GET, inner.info_uri.clone(), None, Some(&checked)).await?;
            serde_json::from_slice(&body).map_err(|e| transport(&inner.url, "bad /v1/info answer", e))
        })
        .await
    }

    /// The proposals accepted from slot `from` on, as a stream; with `follow`, then every new
    /// accept as it becomes durable, for as long as the stream is kept. A following stream
    /// that is cut off (its reader fell behind, the server restarted, the connection broke)
    /// reconnects from the highest slot it delivered and goes on; the failures in between
    /// come out as `Err` items, and a refusal (401, 403) ends it. A proposal with ballot 0 is
    /// a trim marker. Delivery is at least once: a reconnect can repeat a proposal.
    pub fn observe_stream(&self, from: Slot, follow: bool) -> ObserveStream {
        // Small: a reader that stops reading should fall behind at the server (and be cut
        // off there) rather than have megabytes queued here.
        let (tx, rx) = mpsc::channel(16);
        let inner = self.inner.clone();
        let task = self.inner.runtime.spawn(observe_task(inner, from, follow, tx));
        ObserveStream { rx, task: task.abort_handle() }
    }

    /// Run `fut` on the client's runtime; its answer comes back over a channel.
    async fn run<T: Send + 'static>(&self, fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.inner.runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.await.map_err(|_| Error::transport(format!("{}: the HTTP client's runtime stopped", self.inner.url)))?
    }

    async fn post<T: serde::de::DeserializeOwned + Send + 'static>(&self, uri: &Uri, body: String) -> Result<T> {
        let inner = self.inner.clone();
        let uri = uri.clone();
        self.run(async move {
            let checked = inner.contact().await?;
            let answer = inner.send(Method::POST, uri, Some(Bytes::from(body)), Some(&checked)).await?;
            let text = std::str::from_utf8(&answer).map_err(|e| transport(&inner.url, "answer is not UTF-8", e))?;
            wire::from_json(text)
        })
        .await
    }
}

impl Inner {
    fn checked(&self) -> Option<Checked> {
        self.checked.lock().ok().and_then(|c| c.clone())
    }

    /// First contact, once: `/v1/info`, the cluster, the roster.
    async fn contact(&self) -> Result<Checked> {
        if let Some(c) = self.checked() {
            return Ok(c);
        }
        let _one_at_a_time = self.check_lock.lock().await;
        if let Some(c) = self.checked() {
            return Ok(c);
        }
        let body = self.send(Method::GET, self.info_uri.clone(), None, None).await?;
        let info: Info =
            serde_json::from_slice(&body).map_err(|e| transport(&self.url, "not a synodos acceptor (/v1/info)", e))?;
        self.roster.admit(self.instance, &self.url, &info, self.cluster.as_deref())?;
        let checked = Checked {
            acceptor: info.acceptor,
            acceptor_header: HeaderValue::from(info.acceptor),
            cluster_header: HeaderValue::from_str(&info.cluster).ok(),
        };
        if let Ok(mut slot) = self.checked.lock() {
            *slot = Some(checked.clone());
        }
        Ok(checked)
    }

    /// Forget first contact (the URL now reaches another acceptor or cluster).
    fn forget(&self) {
        if let Ok(mut slot) = self.checked.lock() {
            *slot = None;
        }
        self.roster.forget(self.instance);
    }

    fn request(
        &self,
        method: Method,
        uri: Uri,
        body: Option<Bytes>,
        checked: Option<&Checked>,
    ) -> Result<Request<Full<Bytes>>> {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(auth) = &self.auth {
            req = req.header(header::AUTHORIZATION, auth.clone());
        }
        match checked {
            Some(c) => {
                req = req.header(api::ACCEPTOR_HEADER, c.acceptor_header.clone());
                if let Some(cluster) = &c.cluster_header {
                    req = req.header(api::CLUSTER_HEADER, cluster.clone());
                }
            }
            None => {
                if let Some(cluster) = &self.cluster {
                    req = req.header(api::CLUSTER_HEADER, cluster.as_str());
                }
            }
        }
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, api::JSON);
        }
        req.body(Full::new(body.unwrap_or_default())).map_err(|e| transport(&self.url, "cannot build the request", e))
    }

    /// Send a request and read the whole answer; a non-200 answer becomes its error.
    async fn send(&self, method: Method, uri: Uri, body: Option<Bytes>, checked: Option<&Checked>) -> Result<Bytes> {
        let req = self.request(method, uri, body, checked)?;
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| transport(&self.url, "request failed", e))?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), self.max_response)
                .collect()
                .await
                .map_err(|e| Error::transport(format!("{}: reading the answer: {e}", self.url)))?
                .to_bytes();
            Ok::<_, Error>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Error::transport(format!("{}: no answer within {:?}", self.url, self.timeout)))??;
        if status == StatusCode::OK {
            return Ok(body);
        }
        Err(self.failure(status, &body))
    }

    fn failure(&self, status: StatusCode, body: &[u8]) -> Error {
        let mut api = serde_json::from_slice::<ApiError>(body).unwrap_or_else(|_| {
            ApiError::new(status.as_u16(), "HTTP", String::from_utf8_lossy(body).chars().take(200).collect::<String>())
        });
        api.status = status.as_u16();
        if api.code == "WRONG_ACCEPTOR" || api.code == "WRONG_CLUSTER" {
            self.forget();
        }
        api.into_core(&self.url)
    }
}

impl AcceptorClient for HttpAcceptor {
    async fn prepare(&self, request: &PrepareRequest) -> Result<Promise> {
        let body = wire::to_json(request)?;
        self.post(&self.inner.prepare_uri, body).await
    }

    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        let body = wire::to_json(proposal)?;
        self.post(&self.inner.accept_uri, body).await
    }

    /// One request for the whole batch (`POST /v1/accept-batch`: one write at the
    /// acceptor); to a server without that route, one accept per entry.
    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        if !self.inner.no_batches.load(Ordering::Relaxed) {
            let body = wire::to_json(batch)?;
            match self.post(&self.inner.accept_batch_uri, body).await {
                Err(e) if http_status(&e) == Some(404) => self.inner.no_batches.store(true, Ordering::Relaxed),
                answer => return answer,
            }
        }
        let answers = futures::future::join_all(batch.proposals().map(|p| async move { self.accept(&p).await })).await;
        let mut refused = 0;
        for answer in answers {
            refused = refused.max(answer?.promised);
        }
        Ok(batch.answer(refused))
    }

    async fn observe(&self, request: &PrepareRequest) -> Result<Vec<Proposal>> {
        let inner = self.inner.clone();
        let slot = request.slot;
        self.run(async move {
            let checked = inner.contact().await?;
            let uri = inner.observe_uri(slot, false)?;
            let body = inner.send(Method::GET, uri, None, Some(&checked)).await?;
            let mut out = Vec::new();
            for line in body.split(|b| *b == b'\n') {
                if let Some(p) = inner.parse_line(line)? {
                    out.push(p);
                }
            }
            Ok(out)
        })
        .await
    }
}

impl Inner {
    fn observe_uri(&self, slot: Slot, follow: bool) -> Result<Uri> {
        format!("{}{}?slot={slot}&follow={follow}", self.base, api::OBSERVE)
            .parse()
            .map_err(|e| transport(&self.url, "bad observe URL", e))
    }

    /// One NDJSON line: a proposal, or `None` for a blank or control line.
    fn parse_line(&self, line: &[u8]) -> Result<Option<Proposal>> {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"{\"event\"") {
            return Ok(None);
        }
        let text = std::str::from_utf8(line).map_err(|e| transport(&self.url, "observe line is not UTF-8", e))?;
        wire::from_json(text).map(Some)
    }
}

/// A stream of accepted proposals from [`HttpAcceptor::observe_stream`]. Dropping it ends
/// the subscription.
pub struct ObserveStream {
    rx: mpsc::Receiver<Result<Proposal>>,
    task: tokio::task::AbortHandle,
}

impl std::fmt::Debug for ObserveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObserveStream").finish()
    }
}

impl Stream for ObserveStream {
    type Item = Result<Proposal>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

impl Drop for ObserveStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether an error is a refusal that retrying cannot fix.
fn is_fatal(e: &Error) -> bool {
    let api = match e {
        Error::Transport { cause: Some(cause), .. } => cause.downcast_ref::<ApiError>(),
        Error::InvalidMessage(_) | Error::InvalidArgument(_) | Error::ProtocolViolation(_) => return true,
        _ => None,
    };
    api.is_some_and(|a| matches!(a.status, 0 | 400..=499) && a.code != "REQUEST_TIMEOUT")
}

/// How one connection of a following stream ended.
enum Ended {
    /// The reader went away: stop.
    Stop,
    /// Reconnect at once (cut off for falling behind).
    Now,
    /// Reconnect after a pause (draining, broken connection, error).
    Later(Option<Error>),
}

async fn observe_task(inner: Arc<Inner>, from: Slot, follow: bool, mut tx: mpsc::Sender<Result<Proposal>>) {
    let mut next = from;
    let mut pause = Duration::from_millis(50);
    loop {
        let ended = observe_once(&inner, &mut next, follow, &mut tx).await;
        if !follow {
            if let Ended::Later(Some(e)) = ended {
                let _ = tx.send(Err(e)).await;
            }
            return;
        }
        match ended {
            Ended::Stop => return,
            Ended::Now => pause = Duration::from_millis(50),
            Ended::Later(e) => {
                if let Some(e) = e {
                    let fatal = is_fatal(&e);
                    if tx.send(Err(e)).await.is_err() || fatal {
                        return;
                    }
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn observe_once(inner: &Inner, next: &mut Slot, follow: bool, tx: &mut mpsc::Sender<Result<Proposal>>) -> Ended {
    let opened = async {
        let checked = inner.contact().await?;
        let req = inner.request(Method::GET, inner.observe_uri(*next, follow)?, None, Some(&checked))?;
        let resp = tokio::time::timeout(inner.timeout, inner.client.request(req))
            .await
            .map_err(|_| Error::transport(format!("{}: no answer within {:?}", inner.url, inner.timeout)))?
            .map_err(|e| transport(&inner.url, "observe failed", e))?;
        if resp.status() != StatusCode::OK {
            let status = resp.status();
            let body =
                Limited::new(resp.into_body(), 64 << 10).collect().await.map(|c| c.to_bytes()).unwrap_or_default();
            return Err(inner.failure(status, &body));
        }
        Ok(resp.into_body())
    };
    let mut body = match opened.await {
        Ok(body) => body,
        Err(e) => return Ended::Later(Some(e)),
    };
    let mut buf = BytesMut::new();
    loop {
        let frame = match tokio::time::timeout(inner.observe_idle, body.frame()).await {
            Err(_) => return Ended::Later(None),
            Ok(None) => return if follow { Ended::Later(None) } else { Ended::Stop },
            Ok(Some(Err(e))) => return Ended::Later(Some(transport(&inner.url, "observe stream broke", e))),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        buf.extend_from_slice(&data);
        if buf.len() > inner.max_response {
            return Ended::Later(Some(Error::transport(format!("{}: an observe line is too long", inner.url))));
        }
        while let Some(at) = buf.iter().position(|b| *b == b'\n') {
            let line = buf.split_to(at + 1);
            if line.starts_with(b"{\"event\":\"end\"") {
                let behind = line.windows(8).any(|w| w == b"\"behind\"");
                return if behind { Ended::Now } else { Ended::Later(None) };
            }
            match inner.parse_line(&line) {
                Ok(None) => {}
                Ok(Some(p)) => {
                    *next = (*next).max(p.slot);
                    if tx.send(Ok(p)).await.is_err() {
                        return Ended::Stop;
                    }
                }
                Err(e) => return Ended::Later(Some(e)),
            }
        }
    }
}

/// The HTTP status of a failed call, when the server answered one.
fn http_status(e: &Error) -> Option<u16> {
    match e {
        Error::Transport { cause: Some(cause), .. } => cause.downcast_ref::<ApiError>().map(|a| a.status),
        _ => None,
    }
}

/// What the node's own HTTP client (forwarding, [`NodeClient`](crate::NodeClient)) takes
/// from a [`ClientOptions`].
impl ClientOptions {
    pub(crate) fn request_timeout(&self) -> Duration {
        self.timeout
    }
    pub(crate) fn connect_timeout_value(&self) -> Duration {
        self.connect_timeout
    }
    pub(crate) fn bearer(&self) -> Option<&str> {
        self.token.as_deref()
    }
    pub(crate) fn ca(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }
    pub(crate) fn client_identity(&self) -> Option<(&[u8], &[u8])> {
        self.identity.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice()))
    }
    pub(crate) fn expected_cluster(&self) -> Option<&str> {
        self.cluster.as_deref()
    }
    pub(crate) fn version(&self) -> HttpVersion {
        self.version
    }
    pub(crate) fn runtime_handle(&self) -> std::result::Result<Handle, NetError> {
        match &self.runtime {
            Some(h) => Ok(h.clone()),
            None => runtime::shared().map_err(|e| NetError::Runtime(std::io::Error::other(e))),
        }
    }
}
