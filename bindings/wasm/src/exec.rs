//! The binding's executor: the futures behind the Promises it returns, polled in microtasks
//! that the host schedules (`host.rs`). Unlike `wasm_bindgen_futures`, nothing here is a
//! wasm-bindgen `Closure` that the host could call after a restart, and every Promise handed
//! out is the host's, so a restart can reject it.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use js_sys::Promise as JsPromise;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::host::{with_host, NO_HOST};

type BoxedFuture = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// A running task: its future and the Promise it settles.
struct Task {
    future: BoxedFuture,
    promise: JsValue,
}

thread_local! {
    static TASKS: RefCell<HashMap<u32, Task>> = RefCell::new(HashMap::new());
    static READY: RefCell<VecDeque<u32>> = const { RefCell::new(VecDeque::new()) };
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    static NEXT: Cell<u32> = const { Cell::new(1) };
}

fn wake_id(id: u32) {
    let _ = READY.try_with(|r| r.borrow_mut().push_back(id));
    if !SCHEDULED.try_with(|s| s.replace(true)).unwrap_or(true) {
        let _ = with_host(|h| h.schedule());
    }
}

// The waker's data is the task id (wasm32 is single-threaded: the queue is thread-local).
const VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_raw, drop_raw);

fn raw(id: u32) -> RawWaker {
    RawWaker::new(id as usize as *const (), &VTABLE)
}
unsafe fn clone_raw(data: *const ()) -> RawWaker {
    raw(data as usize as u32)
}
unsafe fn wake_raw(data: *const ()) {
    wake_id(data as usize as u32)
}
unsafe fn drop_raw(_: *const ()) {}

fn waker(id: u32) -> Waker {
    // SAFETY: the vtable's functions only copy the id and push it to a thread-local queue;
    // they never dereference the data pointer.
    unsafe { Waker::from_raw(raw(id)) }
}

fn next_id() -> u32 {
    TASKS.with(|tasks| {
        let tasks = tasks.borrow();
        NEXT.with(|n| loop {
            let id = n.get();
            n.set(id.wrapping_add(1).max(1));
            if !tasks.contains_key(&id) {
                return id;
            }
        })
    })
}

/// Run `fut` to a JS Promise. It is polled once right here: when it finishes at once (every
/// acceptor in-process) the Promise is created settled, with no task. Otherwise it becomes a
/// task (polled again whenever its waker fires) and the Promise is one of the host's.
pub(crate) fn run_to_promise<F>(fut: F) -> JsPromise
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    let mut future: BoxedFuture = Box::pin(fut);
    let id = next_id();
    let w = waker(id);
    let mut cx = Context::from_waker(&w);
    match future.as_mut().poll(&mut cx) {
        Poll::Ready(Ok(v)) => JsPromise::resolve(&v),
        Poll::Ready(Err(e)) => JsPromise::reject(&e),
        Poll::Pending => match with_host(|h| h.deferred()) {
            Some(promise) => {
                let out: JsPromise = promise.clone().unchecked_into();
                TASKS.with(|t| t.borrow_mut().insert(id, Task { future, promise }));
                out
            }
            None => JsPromise::reject(&JsValue::from_str(NO_HOST)),
        },
    }
}

/// Internal: poll every task woken since the last run (called by the host in a microtask).
#[wasm_bindgen(js_name = "__runTasks", skip_typescript)]
pub fn run_tasks() {
    SCHEDULED.with(|s| s.set(false));
    let ready: VecDeque<u32> = READY.with(|r| std::mem::take(&mut *r.borrow_mut()));
    for id in ready {
        // Taken out while it is polled: its poll may spawn or wake tasks.
        let Some(mut task) = TASKS.with(|t| t.borrow_mut().remove(&id)) else { continue };
        let w = waker(id);
        let mut cx = Context::from_waker(&w);
        match task.future.as_mut().poll(&mut cx) {
            Poll::Pending => {
                TASKS.with(|t| t.borrow_mut().insert(id, task));
            }
            Poll::Ready(result) => {
                let (ok, value) = match result {
                    Ok(v) => (true, v),
                    Err(e) => (false, e),
                };
                let promise = task.promise.clone();
                // The future (and what it holds) goes before user code sees the result.
                drop(task);
                let _ = with_host(|h| h.settle(&promise, ok, &value));
            }
        }
    }
}
