//! Awaiting JS Promises and timers through the host (`host.rs`): each await gets a key and a
//! slot in a table; the host calls `__settle(key, ...)` when the Promise settles or the timer
//! fires. A future dropped before that removes its slot, and a late settlement then finds
//! nothing and is ignored. The host makes the callbacks itself (plain JS functions, no
//! wasm-bindgen closures), and after a restart it drops the old instance's ones unrun.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::prelude::*;

use crate::host::{with_host, NO_HOST};

#[derive(Default)]
struct Slot {
    result: Option<Result<JsValue, JsValue>>,
    waker: Option<Waker>,
}

thread_local! {
    static SLOTS: RefCell<HashMap<u64, Slot>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u64> = const { Cell::new(1) };
}

/// Internal: the host reports a settlement (`ok`: resolved with `value`, else rejected).
#[wasm_bindgen(js_name = "__settle", skip_typescript)]
pub fn settle(key: f64, ok: bool, value: JsValue) {
    let result = if ok { Ok(value) } else { Err(value) };
    let waker = SLOTS.with(|slots| {
        let mut slots = slots.try_borrow_mut().ok()?;
        let slot = slots.get_mut(&(key as u64))?;
        slot.result = Some(result);
        slot.waker.take()
    });
    // Wake after the borrow is released.
    if let Some(w) = waker {
        w.wake();
    }
}

/// A pending settlement, polled from the table.
pub(crate) struct Settled {
    key: u64,
    /// Why there is no settlement to wait for (no host), if so.
    failed: Option<&'static str>,
}

impl Settled {
    fn new() -> Settled {
        // Below 2^53: the key crosses to JS as an exact number.
        let key = NEXT.with(|n| {
            let k = n.get();
            n.set(if k >= (1 << 53) - 1 { 1 } else { k + 1 });
            k
        });
        SLOTS.with(|slots| {
            if let Ok(mut slots) = slots.try_borrow_mut() {
                slots.insert(key, Slot::default());
            }
        });
        Settled { key, failed: None }
    }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(why) = self.failed {
            return Poll::Ready(Err(JsValue::from_str(why)));
        }
        SLOTS.with(|slots| {
            let Ok(mut slots) = slots.try_borrow_mut() else {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            };
            match slots.get_mut(&self.key) {
                Some(slot) => match slot.result.take() {
                    Some(r) => {
                        slots.remove(&self.key);
                        Poll::Ready(r)
                    }
                    None => {
                        slot.waker = Some(cx.waker().clone());
                        Poll::Pending
                    }
                },
                None => Poll::Ready(Err(JsValue::from_str("synodos: settlement lost"))),
            }
        })
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        let _ = SLOTS.try_with(|slots| {
            if let Ok(mut slots) = slots.try_borrow_mut() {
                slots.remove(&self.key);
            }
        });
    }
}

/// Await a Promise (or thenable, or plain value): its value, or `Err` with its rejection.
pub(crate) fn promise(p: &JsValue) -> Settled {
    let mut fut = Settled::new();
    if with_host(|h| h.await_then(p, fut.key as f64)).is_none() {
        fut.failed = Some(NO_HOST);
    }
    fut
}

/// A timer (of any length: the host chains `setTimeout`s past its 2^31 - 1 ms limit) that
/// is cleared if the future is dropped first.
pub(crate) struct Timer {
    settled: Settled,
    handle: JsValue,
    done: bool,
}

impl Timer {
    pub(crate) fn new(ms: f64) -> Timer {
        let mut settled = Settled::new();
        let handle = match with_host(|h| h.timer(settled.key as f64, ms)) {
            Some(handle) => handle,
            None => {
                settled.failed = Some(NO_HOST);
                JsValue::UNDEFINED
            }
        };
        Timer { settled, handle, done: false }
    }
}

impl Future for Timer {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match Pin::new(&mut self.settled).poll(cx) {
            Poll::Ready(_) => {
                self.done = true;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if !self.done {
            let _ = with_host(|h| h.clear_timer(&self.handle));
        }
    }
}
