//! The node's metrics, written out in the Prometheus text format (`GET /metrics`). Kept by
//! hand with atomics: a few counters and fixed-bucket histograms need no metrics library.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A histogram with fixed upper bounds (cumulative on output, as Prometheus wants).
pub(crate) struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    /// The sum, in millionths of the unit (seconds: microseconds).
    sum_micros: AtomicU64,
    count: AtomicU64,
}

/// Seconds: 100 µs to 10 s.
const SECONDS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
/// Entries per batch: 1 to 1,024.
const SIZES: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub(crate) fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add((value * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    fn write(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {cumulative}");
        }
        let total = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {total}");
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6);
        let _ = writeln!(out, "{name}_count{braces} {total}");
    }
}

/// Everything `/metrics` reports about one node.
pub(crate) struct Metrics {
    /// Requests answered, by route and status.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    /// Time to answer prepares and accepts: the acceptor's queue, its write and fsync.
    pub acceptor_seconds: Histogram,
    /// The learner's writes to its chosen log: one fsync each.
    pub fsync_seconds: Histogram,
    /// Entries per batched accept this node sent as leader.
    pub batch_entries: Histogram,
    /// Appends answered by this node, by where they went.
    pub appends_local: AtomicU64,
    pub appends_forwarded: AtomicU64,
    pub append_errors: AtomicU64,
    /// Holes and stalled slots the learner decided itself.
    pub repairs: AtomicU64,
    /// How often the leader this node follows changed.
    pub leader_changes: AtomicU64,
}

/// The route label of a path: one of the known routes, or `other` (labels stay bounded).
fn route_label(path: &str) -> &'static str {
    const KNOWN: [&str; 11] = [
        crate::api::PREPARE,
        crate::api::ACCEPT,
        crate::api::ACCEPT_BATCH,
        crate::api::OBSERVE,
        crate::api::INFO,
        crate::api::HEALTHZ,
        super::wire::APPEND,
        super::wire::PROPOSE,
        super::wire::LOG,
        super::wire::METRICS,
        "other",
    ];
    KNOWN.iter().find(|k| **k == path).copied().unwrap_or("other")
}

/// What the server and the node know at the time of a scrape.
pub(crate) struct Gauges {
    pub node: u64,
    pub leader: u64,
    pub chosen_up_to: u64,
    pub promised: u64,
    pub frontier: u64,
    pub acceptor_requests: u64,
    pub acceptor_batches: u64,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Metrics {
            requests: Mutex::new(BTreeMap::new()),
            acceptor_seconds: Histogram::new(SECONDS),
            fsync_seconds: Histogram::new(SECONDS),
            batch_entries: Histogram::new(SIZES),
            appends_local: AtomicU64::new(0),
            appends_forwarded: AtomicU64::new(0),
            append_errors: AtomicU64::new(0),
            repairs: AtomicU64::new(0),
            leader_changes: AtomicU64::new(0),
        }
    }

    pub(crate) fn record(&self, path: &str, status: u16, elapsed: Duration) {
        let route = route_label(path);
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((route, status)).or_insert(0) += 1;
        }
        if route == crate::api::PREPARE || route == crate::api::ACCEPT || route == crate::api::ACCEPT_BATCH {
            self.acceptor_seconds.observe_duration(elapsed);
        }
    }

    /// The Prometheus text format.
    pub(crate) fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(&mut out, "synodos_http_requests_total", "counter", "HTTP requests answered, by route and status.");
        if let Ok(map) = self.requests.lock() {
            for ((route, status), n) in map.iter() {
                let _ = writeln!(out, "synodos_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        head(
            &mut out,
            "synodos_acceptor_request_seconds",
            "histogram",
            "Time to answer a prepare, accept or batched accept: the acceptor's queue, its write and its fsync.",
        );
        self.acceptor_seconds.write(&mut out, "synodos_acceptor_request_seconds", "");
        head(
            &mut out,
            "synodos_learner_fsync_seconds",
            "histogram",
            "Writes of the learner's chosen log, one fsync each.",
        );
        self.fsync_seconds.write(&mut out, "synodos_learner_fsync_seconds", "");
        head(&mut out, "synodos_batch_entries", "histogram", "Entries per batched accept this node sent as leader.");
        self.batch_entries.write(&mut out, "synodos_batch_entries", "");
        head(&mut out, "synodos_appends_total", "counter", "Appends answered, by where they were decided.");
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(out, "synodos_appends_total{{path=\"local\"}} {}", load(&self.appends_local));
        let _ = writeln!(out, "synodos_appends_total{{path=\"forwarded\"}} {}", load(&self.appends_forwarded));
        head(&mut out, "synodos_append_errors_total", "counter", "Appends that failed.");
        let _ = writeln!(out, "synodos_append_errors_total {}", load(&self.append_errors));
        head(&mut out, "synodos_repairs_total", "counter", "Stalled slots the learner decided itself.");
        let _ = writeln!(out, "synodos_repairs_total {}", load(&self.repairs));
        head(&mut out, "synodos_leader_changes_total", "counter", "Changes of the leader this node follows.");
        let _ = writeln!(out, "synodos_leader_changes_total {}", load(&self.leader_changes));
        let gauges: [(&str, &str, u64); 7] = [
            ("synodos_node_id", "This node's id.", g.node),
            ("synodos_leader", "The node this one takes for the leader (0: none yet).", g.leader),
            ("synodos_chosen_up_to", "Every slot below this is chosen and in this node's log.", g.chosen_up_to),
            ("synodos_acceptor_promised", "The highest ballot this node's acceptor promised.", g.promised),
            ("synodos_acceptor_frontier", "One past the highest slot this node's acceptor accepted.", g.frontier),
            ("synodos_acceptor_requests", "Requests the acceptor wrote (group commit).", g.acceptor_requests),
            (
                "synodos_acceptor_batches",
                "Writes those requests took (requests / batches = mean group size).",
                g.acceptor_batches,
            ),
        ];
        for (name, help, value) in gauges {
            head(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::new();
        m.record("/v1/append", 200, Duration::from_millis(1));
        m.record("/v1/append", 200, Duration::from_millis(1));
        m.record("/nope/../x", 404, Duration::ZERO);
        m.record("/v1/accept", 200, Duration::from_micros(300));
        m.fsync_seconds.observe(0.002);
        let text = m.render(&Gauges {
            node: 1,
            leader: 2,
            chosen_up_to: 5,
            promised: 0,
            frontier: 0,
            acceptor_requests: 0,
            acceptor_batches: 0,
        });
        assert!(text.contains("synodos_http_requests_total{route=\"/v1/append\",status=\"200\"} 2"), "{text}");
        assert!(text.contains("synodos_http_requests_total{route=\"other\",status=\"404\"} 1"));
        assert!(text.contains("synodos_learner_fsync_seconds_bucket{le=\"0.001\"} 0"));
        assert!(text.contains("synodos_learner_fsync_seconds_bucket{le=\"0.0025\"} 1"));
        assert!(text.contains("synodos_learner_fsync_seconds_bucket{le=\"+Inf\"} 1"));
        assert!(text.contains("synodos_acceptor_request_seconds_count 1"));
        assert!(text.contains("synodos_chosen_up_to 5"));
    }
}
