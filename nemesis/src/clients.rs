//! The Rust clients: each appends unique values (`r<client>-<n>`) through a [`NodeClient`]
//! (over every node, or pinned to one) and now and then reads a node's log, recording each
//! operation's invocation and its outcome: `ok` (with the slot, or the entries read), `fail`
//! (a refusal that proves the value was not appended: a 4xx other than 408) or `info`
//! (unknown: a timeout or a transport failure, after which the value may or may not be in the
//! log).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde_json::json;
use synodos_net::{ClientOptions, NodeClient};

use crate::cluster::{node_client, CLUSTER};
use crate::history::History;

/// The longest an operation may take before it is recorded as unknown.
pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(8);

/// What a failed call proves.
pub(crate) fn outcome(e: &synodos::Error) -> &'static str {
    use std::error::Error as _;
    let api = e.source().and_then(|c| c.downcast_ref::<synodos_net::ApiError>());
    match api {
        Some(api) if (400..500).contains(&api.status) && api.status != 408 => "fail",
        _ => "info",
    }
}

pub(crate) struct ClientSpec {
    pub process: usize,
    /// All node URLs; with `pinned`, the one node this client talks to.
    pub urls: Vec<String>,
    pub pinned: Option<usize>,
    pub seed: u64,
}

/// Run one client until `stop`; every operation it started has completed when it returns.
pub(crate) async fn run(spec: ClientSpec, history: Arc<History>, stop: Arc<AtomicBool>, highest: Arc<AtomicU64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed);
    let appender = match spec.pinned {
        Some(i) => node_client(&spec.urls[i], Duration::from_secs(3)),
        None => {
            let options = ClientOptions::new()
                .cluster(CLUSTER)
                .timeout(Duration::from_secs(3))
                .connect_timeout(Duration::from_secs(1));
            NodeClient::new(&spec.urls, options).map(|c| c.rounds(2)).map_err(|e| e.to_string())
        }
    };
    let readers: Result<Vec<NodeClient>, String> =
        spec.urls.iter().map(|u| node_client(u, Duration::from_secs(3))).collect();
    let (appender, readers) = match (appender, readers) {
        (Ok(a), Ok(r)) => (a, r),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("nemesis: client {}: {e}", spec.process);
            return;
        }
    };
    let p = spec.process;
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        if rng.gen_bool(0.85) {
            n += 1;
            let value = format!("r{p}-{n}");
            history.record(json!({"type": "invoke", "process": p, "f": "append", "value": value}));
            let result = tokio::time::timeout(OP_TIMEOUT, appender.append(value.clone().into_bytes())).await;
            match result {
                Ok(Ok(entry)) => {
                    highest.fetch_max(entry.slot, Ordering::Relaxed);
                    history
                        .record(json!({"type": "ok", "process": p, "f": "append", "value": value, "slot": entry.slot}));
                }
                Ok(Err(e)) => history.record(
                    json!({"type": outcome(&e), "process": p, "f": "append", "value": value, "error": e.to_string()}),
                ),
                Err(_) => history
                    .record(json!({"type": "info", "process": p, "f": "append", "value": value, "error": "timed out"})),
            }
        } else {
            let node = rng.gen_range(0..readers.len());
            let from = highest.load(Ordering::Relaxed).saturating_sub(rng.gen_range(0..30));
            history.record(json!({"type": "invoke", "process": p, "f": "read", "node": node + 1, "from": from}));
            let result = tokio::time::timeout(OP_TIMEOUT, readers[node].read(from, 40)).await;
            match result {
                Ok(Ok(entries)) => {
                    let entries: Vec<_> =
                        entries.iter().map(|e| json!([e.slot, String::from_utf8_lossy(&e.value)])).collect();
                    history.record(json!({"type": "ok", "process": p, "f": "read", "node": node + 1, "from": from, "entries": entries}));
                }
                Ok(Err(e)) => history.record(
                    json!({"type": "fail", "process": p, "f": "read", "node": node + 1, "error": e.to_string()}),
                ),
                Err(_) => history
                    .record(json!({"type": "fail", "process": p, "f": "read", "node": node + 1, "error": "timed out"})),
            }
        }
        // A little room for the other tenants of the machine.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(2..15))).await;
    }
}
