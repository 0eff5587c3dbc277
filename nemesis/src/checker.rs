//! The checker: the history and every node's final log against what the log promises.
//!
//! - every node's log is a prefix of one sequence (the longest of them);
//! - every acknowledged append is in that sequence at the slot it was acknowledged at (and
//!   `lost` counts those that are nowhere in it);
//! - no value is in it that no client appended (empty values are the learners' no-op fillers
//!   of holes, counted apart);
//! - a value whose append was refused for good (`fail`) is not in it;
//! - every entry a read returned is the sequence's entry at that slot;
//! - every operation that started completed.
//!
//! Delivery is at least once (net/README.md, "Delivery is at least once"): a value that
//! appears more than once is counted as `duplicated`, and is a violation only with
//! `--strict-once`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

pub(crate) struct Violation {
    pub what: String,
    pub values: Vec<String>,
    pub slots: Vec<u64>,
}

#[derive(Default)]
pub(crate) struct Report {
    pub ops: usize,
    pub acked: usize,
    pub unknown: usize,
    pub failed: usize,
    pub reads: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub noops: usize,
    pub final_len: usize,
    pub violations: Vec<Violation>,
}

struct Op {
    process: String,
    f: String,
    value: Option<String>,
    invoke: Value,
    done: Option<Value>,
}

fn key(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(crate) fn check(events: &[Value], logs: &[(u64, Vec<(u64, String)>)], strict_once: bool) -> Report {
    let mut r = Report::default();
    let mut ops: Vec<Op> = Vec::new();
    let mut pending: HashMap<String, usize> = HashMap::new();
    for e in events {
        let kind = e["type"].as_str().unwrap_or("");
        if kind == "fault" {
            continue;
        }
        let process = key(&e["process"]);
        if kind == "invoke" {
            if let Some(open) = pending.remove(&process) {
                r.violations.push(Violation {
                    what: format!("process {process} started an operation before the last one completed"),
                    values: ops[open].value.iter().cloned().collect(),
                    slots: vec![],
                });
            }
            pending.insert(process.clone(), ops.len());
            ops.push(Op {
                process,
                f: e["f"].as_str().unwrap_or("").to_string(),
                value: e["value"].as_str().map(String::from),
                invoke: e.clone(),
                done: None,
            });
        } else if let Some(i) = pending.remove(&process) {
            ops[i].done = Some(e.clone());
        }
    }
    r.ops = ops.len();

    // One sequence: the longest log; every other a prefix of it.
    for (id, log) in logs {
        if let Some((i, (slot, _))) = log.iter().enumerate().find(|(i, (slot, _))| *slot != *i as u64) {
            r.violations.push(Violation {
                what: format!("node {id}'s log has slot {slot} at position {i} (a gap)"),
                values: vec![],
                slots: vec![*slot],
            });
        }
    }
    let longest = logs.iter().max_by_key(|(_, l)| l.len());
    let fin: Vec<String> = longest.map(|(_, l)| l.iter().map(|(_, v)| v.clone()).collect()).unwrap_or_default();
    r.final_len = fin.len();
    for (id, log) in logs {
        if let Some((slot, v)) = log.iter().find(|(slot, v)| fin.get(*slot as usize) != Some(v)) {
            let other = fin.get(*slot as usize).cloned().unwrap_or_default();
            r.violations.push(Violation {
                what: format!(
                    "the logs diverge at slot {slot}: node {id} has {v:?}, node {} has {other:?}",
                    longest.map(|(i, _)| *i).unwrap_or(0)
                ),
                values: vec![v.clone(), other],
                slots: vec![*slot],
            });
        }
    }

    let appended: BTreeSet<&str> = ops.iter().filter(|o| o.f == "append").filter_map(|o| o.value.as_deref()).collect();
    let mut count: HashMap<&str, Vec<u64>> = HashMap::new();
    for (slot, v) in fin.iter().enumerate() {
        if v.is_empty() {
            r.noops += 1;
            continue;
        }
        count.entry(v.as_str()).or_default().push(slot as u64);
        if !appended.contains(v.as_str()) {
            r.violations.push(Violation {
                what: format!("slot {slot} holds {v:?}, which no client appended"),
                values: vec![v.clone()],
                slots: vec![slot as u64],
            });
        }
    }
    for (v, slots) in &count {
        if slots.len() > 1 {
            r.duplicated += 1;
            if strict_once {
                r.violations.push(Violation {
                    what: format!("{v:?} is in the log {} times (slots {slots:?})", slots.len()),
                    values: vec![v.to_string()],
                    slots: slots.clone(),
                });
            }
        }
    }

    for op in &ops {
        let Some(done) = &op.done else {
            r.violations.push(Violation {
                what: format!("process {}'s {} never completed", op.process, op.f),
                values: op.value.iter().cloned().collect(),
                slots: vec![],
            });
            continue;
        };
        let kind = done["type"].as_str().unwrap_or("");
        match (op.f.as_str(), kind) {
            ("append", "ok") => {
                r.acked += 1;
                let v = op.value.clone().unwrap_or_default();
                let slot = done["slot"].as_u64().unwrap_or(u64::MAX);
                let at = count.get(v.as_str()).cloned().unwrap_or_default();
                if at.is_empty() {
                    r.lost += 1;
                }
                if fin.get(slot as usize) != Some(&v) {
                    let found = fin.get(slot as usize).cloned();
                    let mut slots = vec![slot];
                    slots.extend(at.iter().copied());
                    r.violations.push(Violation {
                        what: format!(
                            "{v:?} was acknowledged at slot {slot}, which holds {found:?}; the value is at slots {at:?}"
                        ),
                        values: vec![v],
                        slots,
                    });
                }
            }
            ("append", "fail") => {
                r.failed += 1;
                let v = op.value.clone().unwrap_or_default();
                if let Some(at) = count.get(v.as_str()) {
                    r.violations.push(Violation {
                        what: format!("{v:?} was refused (fail) but is in the log at slots {at:?}"),
                        values: vec![v],
                        slots: at.clone(),
                    });
                }
            }
            ("append", _) => r.unknown += 1,
            ("read", "ok") => {
                r.reads += 1;
                let from = op.invoke["from"].as_u64().unwrap_or(0);
                let entries = done["entries"].as_array().cloned().unwrap_or_default();
                for (i, e) in entries.iter().enumerate() {
                    let slot = e[0].as_u64().unwrap_or(u64::MAX);
                    let v = e[1].as_str().unwrap_or("").to_string();
                    if slot != from + i as u64 || fin.get(slot as usize) != Some(&v) {
                        r.violations.push(Violation {
                            what: format!(
                                "a read of node {} from slot {from} returned {v:?} at slot {slot}; the final log has {:?}",
                                op.invoke["node"],
                                fin.get(slot as usize)
                            ),
                            values: vec![v],
                            slots: vec![slot],
                        });
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    r
}

/// The smallest excerpt of the history that shows `v`: the operations on its values and
/// slots, and the faults from 5 s before the first of them to 2 s after the last.
pub(crate) fn excerpt(events: &[Value], v: &Violation) -> Vec<Value> {
    let touches = |e: &Value| {
        e["value"].as_str().is_some_and(|x| v.values.iter().any(|y| y == x))
            || e["slot"].as_u64().is_some_and(|s| v.slots.contains(&s))
    };
    let hits: Vec<&Value> = events.iter().filter(|e| touches(e)).collect();
    let t = |e: &Value| e["t"].as_f64().unwrap_or(0.0);
    let lo = hits.iter().map(|e| t(e)).fold(f64::INFINITY, f64::min) - 5000.0;
    let hi = hits.iter().map(|e| t(e)).fold(f64::NEG_INFINITY, f64::max) + 2000.0;
    // The invocations of the hits too (a completion names its value, its invocation too).
    events
        .iter()
        .filter(|e| touches(e) || (e["type"] == "fault" && t(e) >= lo && t(e) <= hi))
        .take(40)
        .cloned()
        .collect()
}

/// The nodes' entries around `slots` (3 each side), per node.
pub(crate) fn log_window(logs: &[(u64, Vec<(u64, String)>)], slots: &[u64]) -> BTreeMap<u64, Vec<(u64, String)>> {
    let mut out = BTreeMap::new();
    for (id, log) in logs {
        let near: Vec<(u64, String)> =
            log.iter().filter(|(s, _)| slots.iter().any(|x| s.abs_diff(*x) <= 3)).cloned().collect();
        out.insert(*id, near);
    }
    out
}
