//! The node's routes on the acceptor's server: append and propose (here or forwarded to the
//! leader), the chosen log, metrics, and the node's part of `/v1/info`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use synodos::{Entry, Error};

use super::leader::Route;
use super::wire::{self, EntryBody, ValueBody};
use super::Node;
use crate::api::{self, ApiError, Info};
use crate::server::{draining, json_response, read_body, Body, Extension, ObserverSlot, State};

/// Entries in one answer of `GET /v1/log` without `follow`, unless `limit` says fewer.
const MAX_READ: usize = 10_000;
/// Bytes of one answer of `GET /v1/log` without `follow`, at most (past one entry).
const MAX_READ_BYTES: usize = 16 << 20;
/// A forwarded request is forwarded at most once more.
const MAX_HOPS: u32 = 2;

/// The answer to a core error on the node's routes.
fn core_error(e: &Error) -> ApiError {
    match e {
        Error::NoQuorum { .. } => ApiError::new(
            503,
            "NO_QUORUM",
            format!("{e}: fewer than a majority of the members answered; check that they run, then retry"),
        ),
        Error::Transport { .. } => ApiError::new(503, "UNAVAILABLE", format!("{e}: retry, or try another node")),
        _ => ApiError::from_core(e),
    }
}

/// What the node does with an append or a propose.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Append,
    Propose,
}

impl Op {
    fn path(self) -> &'static str {
        match self {
            Op::Append => wire::APPEND,
            Op::Propose => wire::PROPOSE,
        }
    }
}

impl Node {
    /// Decide `value` here: append it to the log, or propose it as the single decree.
    async fn decide_here(&self, op: Op, value: Vec<u8>) -> Result<Entry, ApiError> {
        let result = match op {
            Op::Append => self.log.append(value).await,
            Op::Propose => self.log.proposer().propose_at(0, value).await.map(|value| Entry { slot: 0, value }),
        };
        match result {
            Ok(entry) => {
                self.leadership.set(self.id, &self.metrics);
                self.metrics.appends_local.fetch_add(1, Ordering::Relaxed);
                self.nudge.notify_one();
                Ok(entry)
            }
            Err(e) => {
                self.metrics.append_errors.fetch_add(1, Ordering::Relaxed);
                Err(core_error(&e))
            }
        }
    }

    /// Send `value` to the leader at `url`. `Ok(None)`: the leader could not be reached or
    /// could not decide (decide here instead); `Err`: it refused the request itself.
    async fn forward(&self, url: &str, op: Op, value: &[u8], hops: u32) -> Result<Option<Entry>, ApiError> {
        let body = match serde_json::to_vec(&ValueBody { value: value.to_vec() }) {
            Ok(b) => Bytes::from(b),
            Err(e) => return Err(ApiError::new(500, "INTERNAL", e.to_string())),
        };
        let target = format!("{}{}", url.trim_end_matches('/'), op.path());
        let extra = [(wire::FORWARDED_HEADER, hops.to_string())];
        match self.http.send(Method::POST, &target, Some(body), &extra).await {
            Ok(answer) if answer.status == StatusCode::OK => match serde_json::from_slice::<EntryBody>(&answer.body) {
                Ok(entry) => {
                    self.metrics.appends_forwarded.fetch_add(1, Ordering::Relaxed);
                    Ok(Some(entry.into()))
                }
                Err(e) => {
                    tracing::warn!("{target}: a bad answer ({e}): deciding here");
                    Ok(None)
                }
            },
            Ok(answer) if answer.status.is_client_error() => Err(super::http::api_error(answer.status, &answer.body)),
            Ok(answer) => {
                tracing::debug!("{target}: {}: deciding here", answer.status);
                Ok(None)
            }
            Err(e) => {
                tracing::debug!("{target}: {e}: deciding here");
                Ok(None)
            }
        }
    }

    /// An append or a propose from a client (`hops` 0) or forwarded by another node.
    async fn take(&self, state: &State, op: Op, value: Vec<u8>, hops: u32) -> Result<Entry, ApiError> {
        if hops < MAX_HOPS {
            let promised = state.acceptor.status.promised.load(Ordering::Relaxed);
            if let Route::Forward(url) = self.leadership.route(promised, &self.peers, &self.metrics) {
                match self.forward(&url, op, &value, hops + 1).await? {
                    Some(entry) => return Ok(entry),
                    None => {
                        if let Some(leader) = self.peers.iter().find(|p| p.acceptor.url() == url) {
                            match leader.acceptor.acceptor_id() {
                                Some(id) => self.leadership.suspect(id),
                                // Never reached: learn its id, so that it can be passed over.
                                None => {
                                    let _ = leader.acceptor.check().await;
                                    if let Some(id) = leader.acceptor.acceptor_id() {
                                        self.leadership.suspect(id);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        self.decide_here(op, value).await
    }

    fn answer_entry(&self, entry: Entry) -> Result<Response<Body>, ApiError> {
        let body =
            serde_json::to_vec(&EntryBody::from(entry)).map_err(|e| ApiError::new(500, "INTERNAL", e.to_string()))?;
        let mut resp = json_response(StatusCode::OK, body);
        if let Some(url) = self.leadership.leader_url(&self.peers) {
            if let Ok(v) = HeaderValue::from_str(url) {
                resp.headers_mut().insert(wire::LEADER_HEADER, v);
            }
        }
        Ok(resp)
    }

    fn metrics_text(&self, state: &State) -> Response<Body> {
        let s = &state.acceptor.status;
        let gauges = super::metrics::Gauges {
            node: self.id,
            leader: self.leadership.view(s.promised.load(Ordering::Relaxed), &self.peers),
            chosen_up_to: self.store.chosen_up_to(),
            promised: s.promised.load(Ordering::Relaxed),
            frontier: s.frontier.load(Ordering::Relaxed),
            acceptor_requests: s.requests.load(Ordering::Relaxed),
            acceptor_batches: s.batches.load(Ordering::Relaxed),
        };
        let mut resp = Response::new(Either::Left(Full::new(Bytes::from(self.metrics.render(&gauges)))));
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
        resp
    }
}

/// `from=N&limit=M&follow=true`.
fn log_query(query: &str) -> Result<(u64, usize, bool), ApiError> {
    let (mut from, mut limit, mut follow) = (0, MAX_READ, false);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = |what: &str| ApiError::new(400, "BAD_REQUEST", format!("{key}={value:?}: {what}"));
        match key {
            "from" => from = value.parse().map_err(|_| bad("expected a slot number"))?,
            "limit" => {
                limit = value.parse::<usize>().map_err(|_| bad("expected a number"))?.clamp(1, MAX_READ);
            }
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
                    format!("unknown parameter {key:?}: use from, limit and follow"),
                ))
            }
        }
    }
    Ok((from, limit, follow))
}

fn hops(req: &Request<Incoming>) -> Result<u32, ApiError> {
    match req.headers().get(wire::FORWARDED_HEADER) {
        None => Ok(0),
        Some(v) => v.to_str().ok().and_then(|s| s.parse::<u32>().ok()).ok_or_else(|| {
            ApiError::new(400, "BAD_REQUEST", format!("{}: expected a hop count", wire::FORWARDED_HEADER))
        }),
    }
}

fn method_not_allowed(method: &Method, path: &str, allow: &'static str) -> Result<Response<Body>, ApiError> {
    let mut resp = crate::server::error_response(&ApiError::new(
        405,
        "METHOD_NOT_ALLOWED",
        format!("{method} {path}: use {allow}"),
    ));
    resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
    Ok(resp)
}

async fn serve_route(node: Arc<Node>, state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    match path.as_str() {
        wire::APPEND | wire::PROPOSE => {
            if method != Method::POST {
                return method_not_allowed(&method, &path, "POST");
            }
            if state.draining.load(Ordering::Relaxed) {
                return Err(draining());
            }
            let hops = hops(&req)?;
            let bytes = read_body(&state, req).await?;
            let body: ValueBody = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::new(400, "INVALID_MESSAGE", format!("expected {{\"value\": base64}}: {e}")))?;
            let op = if path == wire::APPEND { Op::Append } else { Op::Propose };
            let entry = node.take(&state, op, body.value, hops).await?;
            node.answer_entry(entry)
        }
        wire::LOG => {
            if method != Method::GET {
                return method_not_allowed(&method, &path, "GET");
            }
            let (from, limit, follow) = log_query(req.uri().query().unwrap_or(""))?;
            if state.draining.load(Ordering::Relaxed) {
                return Err(draining());
            }
            let body = if follow {
                let slot = ObserverSlot::take(&state)?;
                Either::Right(Either::Right(super::follow::body(node.clone(), from, slot)))
            } else {
                let mut out = Vec::new();
                for (slot, value) in node.store.read(from, limit) {
                    // Bounded by bytes too (at least one entry): the client reads on from
                    // the slot after the last line.
                    if out.len() >= MAX_READ_BYTES {
                        break;
                    }
                    wire::entry_line(&mut out, slot, &value);
                }
                Either::Left(Full::new(Bytes::from(out)))
            };
            let mut resp = Response::new(body);
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(api::NDJSON));
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(resp)
        }
        wire::METRICS => {
            if method != Method::GET {
                return method_not_allowed(&method, &path, "GET");
            }
            Ok(node.metrics_text(&state))
        }
        _ => Err(ApiError::new(404, "NOT_FOUND", format!("no route {path}"))),
    }
}

impl Extension for Node {
    fn serves(&self, path: &str) -> bool {
        matches!(path, wire::APPEND | wire::PROPOSE | wire::LOG | wire::METRICS)
    }

    fn handle(
        self: Arc<Self>,
        state: Arc<State>,
        req: Request<Incoming>,
    ) -> BoxFuture<'static, Result<Response<Body>, ApiError>> {
        Box::pin(serve_route(self, state, req))
    }

    fn info(&self, state: &State, info: &mut Info) {
        let promised = state.acceptor.status.promised.load(Ordering::Relaxed);
        info.leader = Some(self.leadership.view(promised, &self.peers));
        info.chosen_up_to = Some(self.store.chosen_up_to());
    }

    fn record(&self, path: &str, status: u16, elapsed: Duration) {
        self.metrics.record(path, status, elapsed);
    }

    fn drain(&self) {
        self.stop.send_replace(true);
    }

    fn attach(&self, state: std::sync::Weak<State>) {
        let _ = self.local.set(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_queries() {
        assert_eq!(log_query("").unwrap(), (0, MAX_READ, false));
        assert_eq!(log_query("from=5&follow=true&limit=3").unwrap(), (5, 3, true));
        assert_eq!(log_query("limit=0").unwrap().1, 1);
        assert_eq!(log_query("from=-1").unwrap_err().status, 400);
        assert_eq!(log_query("from=18446744073709551616").unwrap_err().status, 400);
        assert_eq!(log_query("follow=maybe").unwrap_err().status, 400);
        assert_eq!(log_query("slot=3").unwrap_err().status, 400);
    }
}
