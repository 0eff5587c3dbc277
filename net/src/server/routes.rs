//! One request: CORS, authentication, the cluster check, routing, bodies and their limits,
//! and the answer.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use synodos::wire;
use tokio::sync::oneshot;

use super::observe::ObserveBody;
use super::{Limits, Tokens};
use crate::acceptor::{AcceptorHandle, Command, Refused};
use crate::api::{self, ApiError, Info};

/// A response body: a whole one, an observe stream, or a stream of the node's (`/v1/log`).
pub(crate) type Body = Either<Full<Bytes>, Either<ObserveBody, super::StreamBody>>;

pub(crate) struct State {
    pub acceptor: AcceptorHandle,
    pub acceptor_id: u64,
    pub cluster: String,
    pub tokens: Tokens,
    pub origins: Vec<String>,
    pub limits: Limits,
    pub draining: AtomicBool,
    /// Live observe streams.
    pub observers: AtomicUsize,
    /// Requests received, by HTTP version.
    pub http1: AtomicU64,
    pub http2: AtomicU64,
    /// The node's routes and metrics, when this server runs a node (`--peers`).
    pub extension: Option<Arc<dyn super::Extension>>,
}

const ALLOWED_HEADERS: &str = "authorization, content-type, synodos-cluster, synodos-acceptor";

pub(crate) fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(Either::Left(Full::new(body.into())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(api::JSON));
    resp
}

pub(crate) fn error_response(e: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_vec(e).unwrap_or_else(|_| b"{\"code\":\"INTERNAL\"}".to_vec());
    let mut resp = json_response(status, body);
    match status {
        StatusCode::UNAUTHORIZED => {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        StatusCode::SERVICE_UNAVAILABLE => {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        StatusCode::REQUEST_TIMEOUT | StatusCode::PAYLOAD_TOO_LARGE => {
            // The rest of the body is not read: this connection cannot carry another request.
            resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        _ => {}
    }
    resp
}

/// The origin to echo in `Access-Control-Allow-Origin`, if the request's is allowed.
fn allowed_origin(state: &State, headers: &HeaderMap) -> Option<HeaderValue> {
    if state.origins.is_empty() {
        return None;
    }
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?;
    state.origins.iter().any(|o| o == "*" || o == text).then(|| origin.clone())
}

pub(crate) async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    match req.version() {
        http::Version::HTTP_2 => &state.http2,
        _ => &state.http1,
    }
    .fetch_add(1, Ordering::Relaxed);
    let origin = allowed_origin(&state, req.headers());
    // A CORS preflight carries no token (browsers never send one): answer it first.
    if req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        return Ok(preflight(&state, origin));
    }
    let started = std::time::Instant::now();
    let path = state.extension.as_ref().map(|_| req.uri().path().to_string());
    let mut resp = match route(&state, req).await {
        Ok(resp) => resp,
        Err(e) => error_response(&e),
    };
    if let (Some(extension), Some(path)) = (&state.extension, path) {
        extension.record(&path, resp.status().as_u16(), started.elapsed());
    }
    if let Some(origin) = origin {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    Ok(resp)
}

fn preflight(state: &State, origin: Option<HeaderValue>) -> Response<Body> {
    let Some(origin) = origin else {
        let why = match state.origins.is_empty() {
            true => "CORS is off: start the server with --allow-origin ORIGIN to let a browser page call it",
            false => "this origin is not allowed: add it with --allow-origin",
        };
        return error_response(&ApiError::new(403, "FORBIDDEN_ORIGIN", why));
    };
    let mut resp = Response::new(Either::Left(Full::new(Bytes::new())));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static(ALLOWED_HEADERS));
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    resp
}

async fn route(state: &Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path();
    if path == api::HEALTHZ {
        return Ok(healthz(state, req.method()));
    }
    authenticate(state, req.headers())?;
    check_cluster(state, req.headers())?;
    if let Some(extension) = &state.extension {
        if extension.serves(path) {
            let extension = extension.clone();
            return extension.handle(state.clone(), req).await;
        }
    }
    let known = [api::PREPARE, api::ACCEPT, api::ACCEPT_BATCH, api::OBSERVE, api::INFO];
    if !known.contains(&path) {
        return Err(ApiError::new(404, "NOT_FOUND", format!("no route {path}: see net/README.md for the API")));
    }
    let method = req.method().clone();
    match (method, path) {
        (Method::POST, api::PREPARE) => {
            let request: synodos::Request = read_json(state, req).await?;
            let promise = call(state, |tx| Command::Prepare(request, tx)).await?;
            reply_json(&promise)
        }
        (Method::POST, api::ACCEPT) => {
            let proposal: synodos::Proposal = read_json(state, req).await?;
            let answer = call(state, |tx| Command::Accept(proposal, tx)).await?;
            reply_json(&answer)
        }
        (Method::POST, api::ACCEPT_BATCH) => {
            let batch: synodos::Batch = read_json(state, req).await?;
            let answer = call(state, |tx| Command::AcceptBatch(batch, tx)).await?;
            reply_json(&answer)
        }
        (Method::GET, api::OBSERVE) => observe(state, req.uri().query().unwrap_or("")).await,
        (Method::GET, api::INFO) => Ok(info(state)),
        (method, path) => {
            let allow = if path == api::OBSERVE || path == api::INFO { "GET" } else { "POST" };
            let mut resp =
                error_response(&ApiError::new(405, "METHOD_NOT_ALLOWED", format!("{method} {path}: use {allow}")));
            resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            Ok(resp)
        }
    }
}

fn healthz(state: &State, method: &Method) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return error_response(&ApiError::new(405, "METHOD_NOT_ALLOWED", "use GET /healthz"));
    }
    if state.draining.load(Ordering::Relaxed) {
        return error_response(&ApiError::new(503, "DRAINING", "the server is shutting down"));
    }
    if state.acceptor.status.failed.load(Ordering::Relaxed) {
        return error_response(&ApiError::new(
            500,
            "CLOSED",
            "the acceptor stopped after a storage failure: see the server's log",
        ));
    }
    json_response(StatusCode::OK, &b"{\"status\":\"ok\"}"[..])
}

fn authenticate(state: &State, headers: &HeaderMap) -> Result<(), ApiError> {
    if state.tokens.is_empty() {
        return Ok(());
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::new(401, "UNAUTHORIZED", "no token: send Authorization: Bearer <token>"));
    };
    let given = value.as_bytes();
    let token = match given.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => given.get(7..).unwrap_or_default(),
        _ => return Err(ApiError::new(401, "UNAUTHORIZED", "send Authorization: Bearer <token>")),
    };
    if !state.tokens.admits(token) {
        return Err(ApiError::new(401, "UNAUTHORIZED", "wrong token: use one of the server's --token-file"));
    }
    Ok(())
}

fn check_cluster(state: &State, headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(cluster) = headers.get(api::CLUSTER_HEADER) {
        if cluster.as_bytes() != state.cluster.as_bytes() {
            return Err(ApiError::new(
                403,
                "WRONG_CLUSTER",
                format!(
                    "this is acceptor {} of cluster {:?}, not of {:?}: check the client's cluster and URLs",
                    state.acceptor_id,
                    state.cluster,
                    String::from_utf8_lossy(cluster.as_bytes())
                ),
            ));
        }
    }
    if let Some(id) = headers.get(api::ACCEPTOR_HEADER) {
        if id.to_str().ok().and_then(|s| s.parse::<u64>().ok()) != Some(state.acceptor_id) {
            return Err(ApiError::new(
                403,
                "WRONG_ACCEPTOR",
                format!(
                    "this is acceptor {}, not {}: the URL now reaches another acceptor",
                    state.acceptor_id,
                    String::from_utf8_lossy(id.as_bytes())
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn draining() -> ApiError {
    ApiError::new(503, "DRAINING", "the server is shutting down: try another acceptor, or again later")
}

async fn read_json<T: DeserializeOwned>(state: &State, req: Request<Incoming>) -> Result<T, ApiError> {
    let bytes = read_body(state, req).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| ApiError::new(400, "INVALID_MESSAGE", format!("the body is not UTF-8: {e}")))?;
    wire::from_json(text).map_err(|e| ApiError::from_core(&e))
}

/// A request's JSON body, under the content type, size and time limits.
pub(crate) async fn read_body(state: &State, req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let limits = &state.limits;
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(api::JSON) {
        return Err(ApiError::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("Content-Type {content_type:?}: send Content-Type: application/json"),
        ));
    }
    let too_large = || {
        ApiError::new(
            413,
            "TOO_LARGE",
            format!("the request body is larger than this server's limit of {} bytes (--max-body)", limits.max_body),
        )
    };
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body as u64) {
        return Err(too_large());
    }
    let body = Limited::new(req.into_body(), limits.max_body).collect();
    let bytes = match tokio::time::timeout(limits.request_timeout, body).await {
        Err(_) => {
            return Err(ApiError::new(
                408,
                "REQUEST_TIMEOUT",
                format!("the request body took longer than {:?}", limits.request_timeout),
            ))
        }
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => return Err(too_large()),
        Ok(Err(e)) => return Err(ApiError::new(400, "BAD_REQUEST", format!("cannot read the request body: {e}"))),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    Ok(bytes)
}

fn reply_json<T: serde::Serialize>(msg: &T) -> Result<Response<Body>, ApiError> {
    let json = wire::to_json(msg).map_err(|e| ApiError::new(500, "INTERNAL", e.to_string()))?;
    Ok(json_response(StatusCode::OK, json))
}

/// Queue a command for the acceptor and wait for its answer.
pub(crate) async fn call<T>(
    state: &State,
    command: impl FnOnce(oneshot::Sender<synodos::Result<T>>) -> Command,
) -> Result<T, ApiError> {
    if state.draining.load(Ordering::Relaxed) {
        return Err(draining());
    }
    let (tx, rx) = oneshot::channel();
    state.acceptor.send(command(tx)).map_err(|e| refused(&e))?;
    match rx.await {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err(ApiError::from_core(&e)),
        // The acceptor dropped the request unanswered: it panicked (a log's bug).
        Err(_) => Err(ApiError::new(500, "CLOSED", "the acceptor stopped unexpectedly: see the server's log")),
    }
}

fn refused(e: &Refused) -> ApiError {
    match e {
        Refused::Busy => ApiError::new(503, "OVERLOADED", "the acceptor's queue is full: retry shortly"),
        Refused::Gone => draining(),
    }
}

fn info(state: &State) -> Response<Body> {
    let s = &state.acceptor.status;
    let info = Info {
        acceptor: state.acceptor_id,
        cluster: state.cluster.clone(),
        promised: s.promised.load(Ordering::Relaxed),
        frontier: s.frontier.load(Ordering::Relaxed),
        trimmed: s.trimmed.load(Ordering::Relaxed),
        observers: state.observers.load(Ordering::Relaxed) as u64,
        requests: s.requests.load(Ordering::Relaxed),
        batches: s.batches.load(Ordering::Relaxed),
        http1_requests: state.http1.load(Ordering::Relaxed),
        http2_requests: state.http2.load(Ordering::Relaxed),
        closed: s.failed.load(Ordering::Relaxed),
        version: env!("CARGO_PKG_VERSION").to_string(),
        leader: None,
        chosen_up_to: None,
    };
    let mut info = info;
    if let Some(extension) = &state.extension {
        extension.info(state, &mut info);
    }
    match serde_json::to_vec(&info) {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => error_response(&ApiError::new(500, "INTERNAL", e.to_string())),
    }
}

/// `slot=N&follow=true`.
fn observe_query(query: &str) -> Result<(u64, bool), ApiError> {
    let (mut slot, mut follow) = (0, false);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = |what: &str| ApiError::new(400, "BAD_REQUEST", format!("{key}={value:?}: {what}"));
        match key {
            "slot" => slot = value.parse().map_err(|_| bad("expected a slot number"))?,
            "follow" => {
                follow = match value {
                    "true" | "1" | "" => true,
                    "false" | "0" => false,
                    _ => return Err(bad("expected true or false")),
                }
            }
            _ => {
                return Err(ApiError::new(
                    400,
                    "BAD_REQUEST",
                    format!("unknown parameter {key:?}: use slot and follow"),
                ))
            }
        }
    }
    Ok((slot, follow))
}

async fn observe(state: &Arc<State>, query: &str) -> Result<Response<Body>, ApiError> {
    let (from, follow) = observe_query(query)?;
    if state.draining.load(Ordering::Relaxed) {
        return Err(draining());
    }
    let slot = ObserverSlot::take(state)?;
    let subscription = call(state, |reply| Command::Observe { from, follow, reply }).await?;
    let body = ObserveBody::new(subscription, state.limits.heartbeat, slot);
    let mut resp = Response::new(Either::Right(Either::Left(body)));
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(api::NDJSON));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// One of the [`Limits::max_observers`] places, given back when the stream is dropped.
pub(crate) struct ObserverSlot(Arc<State>);

impl ObserverSlot {
    pub(crate) fn take(state: &Arc<State>) -> Result<Self, ApiError> {
        let max = state.limits.max_observers;
        let taken = state.observers.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1));
        match taken {
            Ok(_) => Ok(ObserverSlot(state.clone())),
            Err(_) => Err(ApiError::new(
                503,
                "TOO_MANY_STREAMS",
                format!("this server already serves {max} observe streams: retry later, or observe another acceptor"),
            )),
        }
    }
}

impl Drop for ObserverSlot {
    fn drop(&mut self) {
        self.0.observers.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observe_queries() {
        assert_eq!(observe_query("").unwrap(), (0, false));
        assert_eq!(observe_query("slot=5&follow=true").unwrap(), (5, true));
        assert_eq!(observe_query("follow&slot=7").unwrap(), (7, true));
        assert_eq!(observe_query("slot=-1").unwrap_err().status, 400);
        assert_eq!(observe_query("follow=maybe").unwrap_err().status, 400);
        assert_eq!(observe_query("limit=3").unwrap_err().status, 400);
    }
}
