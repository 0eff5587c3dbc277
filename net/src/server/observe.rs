//! The body of `GET /v1/observe`: NDJSON, the accepted proposals from the slot asked for,
//! then (when following) each new accept as it becomes durable, heartbeats while nothing
//! happens, and a last line saying why a following stream ended.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use synodos::{wire, Proposal};
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::routes::ObserverSlot;
use crate::acceptor::{Live, Subscription};
use crate::api::{self, EndReason};

/// Bytes of lines gathered into one frame at most.
const FRAME_BYTES: usize = 64 << 10;

pub(crate) struct ObserveBody {
    backlog: VecDeque<Proposal>,
    live: Option<Live>,
    heartbeat: Interval,
    done: bool,
    _slot: ObserverSlot,
}

impl ObserveBody {
    pub(crate) fn new(subscription: Subscription, heartbeat: Duration, slot: ObserverSlot) -> Self {
        let heartbeat = heartbeat.max(Duration::from_millis(10));
        let mut interval = tokio::time::interval_at(Instant::now() + heartbeat, heartbeat);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ObserveBody {
            backlog: subscription.backlog.into(),
            live: subscription.live,
            heartbeat: interval,
            done: false,
            _slot: slot,
        }
    }
}

fn push_line(out: &mut Vec<u8>, p: &Proposal) {
    // A proposal always encodes; should it not, the line is skipped rather than the stream broken.
    if let Ok(json) = wire::to_json(p) {
        out.extend_from_slice(json.as_bytes());
        out.push(b'\n');
    }
}

impl Body for ObserveBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if !this.backlog.is_empty() {
            let mut out = Vec::new();
            while out.len() < FRAME_BYTES {
                match this.backlog.pop_front() {
                    Some(p) => push_line(&mut out, &p),
                    None => break,
                }
            }
            return Poll::Ready(Some(Ok(Frame::data(out.into()))));
        }
        let Some(live) = this.live.as_mut() else {
            this.done = true;
            return Poll::Ready(None);
        };
        match live.rx.poll_recv(cx) {
            Poll::Ready(Some(p)) => {
                let mut out = Vec::new();
                push_line(&mut out, &p);
                while out.len() < FRAME_BYTES {
                    match live.rx.try_recv() {
                        Ok(p) => push_line(&mut out, &p),
                        Err(_) => break,
                    }
                }
                this.heartbeat.reset();
                Poll::Ready(Some(Ok(Frame::data(out.into()))))
            }
            Poll::Ready(None) => {
                this.done = true;
                let reason = live.reason.lock().ok().and_then(|r| *r).unwrap_or(EndReason::Draining);
                Poll::Ready(Some(Ok(Frame::data(api::end_line(reason).into()))))
            }
            Poll::Pending => match this.heartbeat.poll_tick(cx) {
                Poll::Ready(_) => Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(api::HEARTBEAT_LINE))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
