//! [`NodeClient`]: the client of the node's routes. It tries the peers in turn and follows
//! the leader.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, Stream};
use http::{Method, StatusCode};
use http_body_util::BodyExt;
use synodos::{Entry, Error, Result, Slot};
use tokio::runtime::Handle;

use super::http::{failure, transport, Http};
use super::wire::{self, EntryBody, ValueBody};
use crate::api::{self, Info};
use crate::error::NetError;
use crate::ClientOptions;

/// A client of a synodos cluster's nodes (`synodos serve --peers`): appends, the single
/// decree, reads and follows of the chosen log, and each node's `/v1/info`.
///
/// Calls go to one node at a time; a node that cannot be reached, or answers 5xx (draining,
/// no quorum), is left for the next, in turn, until every one was tried
/// [`rounds`](Self::rounds) times. After an answer naming the leader (the `Synodos-Leader`
/// header), the next calls go to it, saving the forward. An append that failed in flight
/// (its node died before answering) is sent again to the next node, so it may land twice:
/// put a unique id in values that must not.
///
/// Like [`HttpAcceptor`](crate::HttpAcceptor), it runs on a background runtime (the
/// library's own unless [`ClientOptions::runtime`] names one), so its futures work on any
/// executor, and the `*_blocking` methods anywhere but on that runtime.
///
/// ```no_run
/// use synodos_net::{ClientOptions, NodeClient};
/// let client = NodeClient::new(["http://127.0.0.1:7001", "http://127.0.0.1:7002"], ClientOptions::new())?;
/// let entry = client.append_blocking(b"hello".to_vec())?;
/// let read = client.read_blocking(entry.slot, 1)?;
/// assert_eq!(read[0].value, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct NodeClient {
    inner: Arc<Inner>,
}

struct Inner {
    peers: Vec<String>,
    http: Http,
    runtime: Handle,
    current: AtomicUsize,
    rounds: usize,
}

impl std::fmt::Debug for NodeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeClient").field("peers", &self.inner.peers).finish()
    }
}

/// Whether a failure is worth trying another node for.
fn retryable(e: &Error) -> bool {
    match e {
        Error::Transport { cause: Some(cause), .. } => match cause.downcast_ref::<crate::ApiError>() {
            Some(api) => api.status >= 500 || api.status == 408 || api.status == 0,
            None => true,
        },
        Error::Transport { .. } | Error::Closed(_) | Error::Storage { .. } => true,
        _ => false,
    }
}

impl NodeClient {
    /// A client of the nodes at `peers` (`http://host:port` or `https://host:port`).
    /// Nothing is sent until the first call.
    pub fn new<S: AsRef<str>>(
        peers: impl IntoIterator<Item = S>,
        options: ClientOptions,
    ) -> std::result::Result<Self, NetError> {
        let peers: Vec<String> = peers.into_iter().map(|p| p.as_ref().trim_end_matches('/').to_string()).collect();
        if peers.is_empty() {
            return Err(NetError::Config("no node URL: give --peers URL,URL,... (or SYNODOS_PEERS)".into()));
        }
        for url in &peers {
            let bad = |why: &str| NetError::Url { url: url.clone(), why: why.to_string() };
            let uri: http::Uri = url.parse().map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
            match uri.scheme_str() {
                Some("http") => {}
                Some("https") if options.ca().is_some() => {}
                Some("https") => {
                    return Err(bad("an https URL needs the CA that signed the node's certificate (--tls-ca)"))
                }
                _ => return Err(bad("expected http:// or https://")),
            }
            if uri.authority().is_none() || uri.query().is_some() {
                return Err(bad("expected http://HOST:PORT"));
            }
        }
        Ok(NodeClient {
            inner: Arc::new(Inner {
                http: Http::new(&options)?,
                runtime: options.runtime_handle()?,
                peers,
                current: AtomicUsize::new(0),
                rounds: 3,
            }),
        })
    }

    /// How many times each node is tried before a call gives up (3).
    pub fn rounds(self, rounds: usize) -> Self {
        let inner = Arc::try_unwrap(self.inner).map(|mut i| {
            i.rounds = rounds.max(1);
            i
        });
        match inner {
            Ok(i) => NodeClient { inner: Arc::new(i) },
            Err(shared) => NodeClient { inner: shared },
        }
    }

    /// The node URLs.
    pub fn peers(&self) -> &[String] {
        &self.inner.peers
    }

    async fn run<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.inner.runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.await.map_err(|_| Error::transport("the node client's runtime stopped"))?
    }

    /// Append `value` to the log; returns the entry (its slot).
    pub async fn append(&self, value: impl Into<Vec<u8>>) -> Result<Entry> {
        let inner = self.inner.clone();
        let body = body_of(value.into())?;
        self.run(async move { inner.post(wire::APPEND, body).await }).await
    }

    /// Propose `value` as the single decree (slot 0 of the log); returns the value chosen,
    /// maybe another's.
    pub async fn propose(&self, value: impl Into<Vec<u8>>) -> Result<Vec<u8>> {
        let inner = self.inner.clone();
        let body = body_of(value.into())?;
        self.run(async move { inner.post(wire::PROPOSE, body).await.map(|e| e.value) }).await
    }

    /// Up to `max` chosen entries from slot `from` on, as the node asked has learned them
    /// (fewer, or none, when it has not learned that far yet).
    pub async fn read(&self, from: Slot, max: usize) -> Result<Vec<Entry>> {
        let inner = self.inner.clone();
        self.run(async move {
            let path = format!("{}?from={from}&limit={}", wire::LOG, max.clamp(1, 10_000));
            let answer = inner.call(Method::GET, &path, None).await?;
            parse_lines(&answer.1)
        })
        .await
    }

    /// `/v1/info` of every node, in the order of the peers (an error for each node that
    /// did not answer).
    pub async fn info(&self) -> Vec<(String, Result<Info>)> {
        let inner = self.inner.clone();
        let fetched = self
            .run(async move {
                let calls = inner.peers.iter().map(|url| {
                    let inner = inner.clone();
                    async move {
                        let target = format!("{url}{}", api::INFO);
                        let answer = inner.http.send(Method::GET, &target, None, &[]).await;
                        let info = answer.and_then(|a| {
                            if a.status != StatusCode::OK {
                                return Err(failure(url, a.status, &a.body));
                            }
                            serde_json::from_slice::<Info>(&a.body).map_err(|e| transport(url, "not a synodos node", e))
                        });
                        (url.clone(), info)
                    }
                });
                Ok(futures::future::join_all(calls).await)
            })
            .await;
        fetched.unwrap_or_else(|e| self.inner.peers.iter().map(|u| (u.clone(), Err(e.clone()))).collect())
    }

    /// The chosen entries from `from` on, then each new one as it is chosen, for as long as
    /// the stream is kept. When a node goes away the stream goes on from the next one, from
    /// the slot after the last delivered (every node's log holds the same entries); failures
    /// in between come out as `Err` items and a refusal (401, 403) ends the stream.
    pub fn follow(&self, from: Slot) -> FollowStream {
        let (tx, rx) = mpsc::channel(64);
        let task = self.inner.runtime.spawn(follow_task(self.inner.clone(), from, tx));
        FollowStream { rx, task: task.abort_handle() }
    }

    /// Blocking [`append`](Self::append).
    pub fn append_blocking(&self, value: impl Into<Vec<u8>>) -> Result<Entry> {
        futures::executor::block_on(self.append(value))
    }

    /// Blocking [`propose`](Self::propose).
    pub fn propose_blocking(&self, value: impl Into<Vec<u8>>) -> Result<Vec<u8>> {
        futures::executor::block_on(self.propose(value))
    }

    /// Blocking [`read`](Self::read).
    pub fn read_blocking(&self, from: Slot, max: usize) -> Result<Vec<Entry>> {
        futures::executor::block_on(self.read(from, max))
    }

    /// Blocking [`info`](Self::info).
    pub fn info_blocking(&self) -> Vec<(String, Result<Info>)> {
        futures::executor::block_on(self.info())
    }
}

fn body_of(value: Vec<u8>) -> Result<Bytes> {
    serde_json::to_vec(&ValueBody { value }).map(Bytes::from).map_err(|e| Error::InvalidArgument(e.to_string()))
}

fn parse_lines(body: &[u8]) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for line in body.split(|b| *b == b'\n') {
        if let Some(e) = parse_line(line)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// One NDJSON line of `/v1/log`: an entry, or `None` for a blank or control line.
fn parse_line(line: &[u8]) -> Result<Option<Entry>> {
    let line = line.trim_ascii();
    if line.is_empty() || line.starts_with(b"{\"event\"") {
        return Ok(None);
    }
    serde_json::from_slice::<EntryBody>(line)
        .map(|e| Some(e.into()))
        .map_err(|e| Error::InvalidMessage(format!("a bad /v1/log line: {e}")))
}

impl Inner {
    /// Send to the current node, then to the others in turn; returns the answering URL and
    /// the body of its 200.
    async fn call(&self, method: Method, path: &str, body: Option<Bytes>) -> Result<(String, Bytes)> {
        let n = self.peers.len();
        let mut last = None;
        let mut pause = Duration::from_millis(20);
        for attempt in 0..n.saturating_mul(self.rounds) {
            let i = self.current.load(Ordering::Relaxed) % n;
            let url = &self.peers[i];
            let target = format!("{url}{path}");
            let result = self.http.send(method.clone(), &target, body.clone(), &[]).await;
            match result {
                Ok(a) if a.status == StatusCode::OK => {
                    if let Some(leader) = a.headers.get(wire::LEADER_HEADER).and_then(|v| v.to_str().ok()) {
                        if let Some(at) = self.peers.iter().position(|p| p == leader.trim_end_matches('/')) {
                            self.current.store(at, Ordering::Relaxed);
                        }
                    }
                    return Ok((url.clone(), a.body));
                }
                Ok(a) => {
                    let e = failure(url, a.status, &a.body);
                    if !retryable(&e) {
                        return Err(e);
                    }
                    last = Some(e);
                }
                Err(e) => last = Some(e),
            }
            // Next node; after a whole round, a pause (a leader change takes a moment).
            let _ = self.current.compare_exchange(i, (i + 1) % n, Ordering::Relaxed, Ordering::Relaxed);
            if (attempt + 1) % n == 0 {
                tokio::time::sleep(pause).await;
                pause = (pause * 4).min(Duration::from_secs(1));
            }
        }
        Err(last.unwrap_or_else(|| Error::transport("no node answered")))
    }

    async fn post(&self, path: &str, body: Bytes) -> Result<Entry> {
        let (url, answer) = self.call(Method::POST, path, Some(body)).await?;
        serde_json::from_slice::<EntryBody>(&answer).map(Into::into).map_err(|e| transport(&url, "a bad answer", e))
    }
}

/// A stream of chosen entries from [`NodeClient::follow`]. Dropping it ends it.
pub struct FollowStream {
    rx: mpsc::Receiver<Result<Entry>>,
    task: tokio::task::AbortHandle,
}

impl std::fmt::Debug for FollowStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowStream").finish()
    }
}

impl Stream for FollowStream {
    type Item = Result<Entry>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.rx).poll_next(cx)
    }
}

impl Drop for FollowStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn follow_task(inner: Arc<Inner>, from: Slot, mut tx: mpsc::Sender<Result<Entry>>) {
    let mut next = from;
    let mut pause = Duration::from_millis(50);
    loop {
        let n = inner.peers.len();
        let i = inner.current.load(Ordering::Relaxed) % n;
        let url = inner.peers[i].clone();
        match follow_once(&inner, &url, &mut next, &mut tx).await {
            Ok(true) => return,
            Ok(false) => pause = Duration::from_millis(50),
            Err(e) => {
                let fatal = !retryable(&e);
                if tx.send(Err(e)).await.is_err() || fatal {
                    return;
                }
            }
        }
        let _ = inner.current.compare_exchange(i, (i + 1) % n, Ordering::Relaxed, Ordering::Relaxed);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// One connection of a follow: `Ok(true)` when the reader went away.
async fn follow_once(inner: &Inner, url: &str, next: &mut Slot, tx: &mut mpsc::Sender<Result<Entry>>) -> Result<bool> {
    let target = format!("{url}{}?from={next}&follow=true", wire::LOG);
    let mut body = inner.http.open(&target).await?.into_body();
    let mut buf = BytesMut::new();
    // Heartbeats come every 5 s by default: three missed ones mean the node is gone.
    let idle = Duration::from_secs(16);
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(Error::transport(format!("{url}: nothing for {idle:?}"))),
            Ok(None) => return Ok(false),
            Ok(Some(Err(e))) => return Err(transport(url, "the log stream broke", e)),
            Ok(Some(Ok(frame))) => frame,
        };
        let Ok(data) = frame.into_data() else { continue };
        buf.extend_from_slice(&data);
        while let Some(at) = buf.iter().position(|b| *b == b'\n') {
            let line = buf.split_to(at + 1);
            if line.starts_with(b"{\"event\":\"end\"") {
                return Ok(false);
            }
            if let Some(entry) = parse_line(&line)? {
                if entry.slot < *next {
                    continue;
                }
                *next = entry.slot.saturating_add(1);
                if tx.send(Ok(entry)).await.is_err() {
                    return Ok(true);
                }
            }
        }
        if buf.len() > 64 << 20 {
            return Err(Error::transport(format!("{url}: a log line is too long")));
        }
    }
}
