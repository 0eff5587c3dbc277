//! The body of `GET /v1/log?follow=true`: NDJSON, the chosen entries from the slot asked
//! for, then each new one as the learner writes it, `{"event":"heartbeat"}` while nothing
//! happens, and `{"event":"end","reason":"draining"}` when the server shuts down.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;

use super::wire::entry_line;
use super::Node;
use crate::api::{self, EndReason};
use crate::server::{ObserverSlot, StreamBody as Boxed};

/// Entries per frame at most.
const FRAME_ENTRIES: usize = 256;
/// Bytes per frame at most (past one entry).
const FRAME_BYTES: usize = 1 << 20;

struct Follow {
    node: Arc<Node>,
    next: u64,
    up_to: tokio::sync::watch::Receiver<u64>,
    stop: tokio::sync::watch::Receiver<bool>,
    done: bool,
    _slot: ObserverSlot,
}

pub(crate) fn body(node: Arc<Node>, from: u64, slot: ObserverSlot) -> Boxed {
    let state = Follow {
        up_to: node.store.subscribe(),
        stop: node.stop.subscribe(),
        node,
        next: from,
        done: false,
        _slot: slot,
    };
    let stream = futures::stream::unfold(state, |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            if *s.stop.borrow() {
                s.done = true;
                return Some((Ok::<_, Infallible>(Frame::data(Bytes::from(api::end_line(EndReason::Draining)))), s));
            }
            let entries = s.node.store.read(s.next, FRAME_ENTRIES);
            if !entries.is_empty() {
                let mut out = Vec::new();
                for (slot, value) in &entries {
                    if out.len() >= FRAME_BYTES {
                        break;
                    }
                    entry_line(&mut out, *slot, value);
                    s.next = slot.saturating_add(1);
                }
                return Some((Ok(Frame::data(Bytes::from(out))), s));
            }
            s.up_to.mark_unchanged();
            if s.node.store.chosen_up_to() > s.next {
                continue;
            }
            tokio::select! {
                changed = s.up_to.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = s.stop.changed() => {}
                _ = tokio::time::sleep(s.node.heartbeat) => {
                    return Some((Ok(Frame::data(Bytes::from_static(api::HEARTBEAT_LINE))), s));
                }
            }
        }
    });
    StreamBody::new(stream).boxed_unsync()
}
