//! Awaiting JS Promises and timers without allocating wasm-bindgen closures per await.
//!
//! `JsFuture` makes two `Closure`s per Promise (each registered with a FinalizationRegistry);
//! with several awaits per decision that dominated the profile. Here two closures are made
//! once per thread; each await binds them to a key with `Function.prototype.bind` (a plain
//! JS function) and keeps its state in a table. A future that is dropped before its Promise
//! settles removes its entry; a late settlement then finds no entry and is ignored.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use js_sys::{Function, Promise as JsPromise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[derive(Default)]
struct Slot {
    result: Option<Result<JsValue, JsValue>>,
    waker: Option<Waker>,
}

struct Settlers {
    ok: Function,
    err: Function,
}

thread_local! {
    static SLOTS: RefCell<HashMap<u64, Slot>> = RefCell::new(HashMap::new());
    static NEXT: Cell<u64> = const { Cell::new(1) };
    static SETTLERS: Settlers = make_settlers();
}

fn settle(key: f64, result: Result<JsValue, JsValue>) {
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

fn make_settlers() -> Settlers {
    // Made once per thread and kept for the life of the module (never freed on purpose).
    let ok = Closure::<dyn FnMut(f64, JsValue)>::new(|key: f64, v: JsValue| settle(key, Ok(v)));
    let err = Closure::<dyn FnMut(f64, JsValue)>::new(|key: f64, e: JsValue| settle(key, Err(e)));
    let settlers = Settlers {
        ok: ok.as_ref().unchecked_ref::<Function>().clone(),
        err: err.as_ref().unchecked_ref::<Function>().clone(),
    };
    ok.forget();
    err.forget();
    settlers
}

/// A pending settlement, polled from the table.
pub(crate) struct Settled {
    key: u64,
}

impl Settled {
    fn new() -> (Settled, JsValue, JsValue) {
        let key = NEXT.with(|n| {
            let k = n.get();
            n.set(k + 1);
            k
        });
        SLOTS.with(|slots| {
            if let Ok(mut slots) = slots.try_borrow_mut() {
                slots.insert(key, Slot::default());
            }
        });
        let k = JsValue::from(key as f64);
        let (ok, err) = SETTLERS.with(|s| (s.ok.bind1(&JsValue::NULL, &k), s.err.bind1(&JsValue::NULL, &k)));
        (Settled { key }, ok.into(), err.into())
    }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
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

/// Await a Promise (or thenable): resolves to its value, or `Err` with its rejection.
pub(crate) fn promise(p: &JsValue) -> Settled {
    let (fut, ok, err) = Settled::new();
    let p: JsPromise = match p.dyn_ref::<JsPromise>() {
        Some(p) => p.clone(),
        None => JsPromise::resolve(p),
    };
    p.unchecked_ref::<Thenable>().then_with(ok.unchecked_ref(), err.unchecked_ref());
    fut
}

#[wasm_bindgen]
extern "C" {
    type Thenable;
    #[wasm_bindgen(method, structural, js_name = then)]
    fn then_with(this: &Thenable, on_ok: &Function, on_err: &Function) -> JsValue;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(handle: &JsValue);
}

/// A `setTimeout` that is cleared if the future is dropped first.
pub(crate) struct Timer {
    settled: Settled,
    handle: JsValue,
    done: bool,
}

impl Timer {
    pub(crate) fn new(ms: f64) -> Timer {
        let (settled, ok, _err) = Settled::new();
        let handle = set_timeout(ok.unchecked_ref(), ms);
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
            clear_timeout(&self.handle);
        }
    }
}
