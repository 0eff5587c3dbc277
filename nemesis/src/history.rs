//! The history: every operation's invocation and completion, and every fault, as JSON lines
//! with the milliseconds since the run started (`t`), written as they happen and kept in
//! memory for the checker.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use serde_json::{json, Value};

pub(crate) struct History {
    start: Instant,
    /// The wall-clock time of `start`, in ms since the epoch (for the Python client's lines).
    pub epoch_ms: f64,
    inner: Mutex<(std::io::BufWriter<std::fs::File>, Vec<Value>)>,
}

impl History {
    pub(crate) fn create(path: &Path) -> Result<History, String> {
        let file = std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let epoch_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        Ok(History { start: Instant::now(), epoch_ms, inner: Mutex::new((std::io::BufWriter::new(file), Vec::new())) })
    }

    pub(crate) fn now_ms(&self) -> f64 {
        (self.start.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0
    }

    /// Record `event` (an object), stamped with `t` unless it has one.
    pub(crate) fn record(&self, mut event: Value) {
        if event.get("t").is_none() {
            event["t"] = json!(self.now_ms());
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(inner.0, "{event}");
        inner.1.push(event);
    }

    /// A fault (or a heal), logged and printed.
    pub(crate) fn fault(&self, kind: &str, detail: Value) {
        let t = self.now_ms();
        eprintln!("nemesis: {:>9.1} s  {kind} {detail}", t / 1000.0);
        self.record(json!({"type": "fault", "fault": kind, "detail": detail, "t": t}));
    }

    pub(crate) fn flush(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let _ = inner.0.flush();
    }

    /// Every event so far, in the order recorded (then sorted by time).
    pub(crate) fn events(&self) -> Vec<Value> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut v = inner.1.clone();
        v.sort_by(|a, b| {
            let (x, y) = (a["t"].as_f64().unwrap_or(0.0), b["t"].as_f64().unwrap_or(0.0));
            x.total_cmp(&y)
        });
        v
    }
}
