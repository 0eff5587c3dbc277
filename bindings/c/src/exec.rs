//! Running a driver future to its end on the calling thread, as every blocking C call does.
//!
//! Unlike `futures::executor::block_on`, this one nests: a transport or log callback, called
//! while a proposer's future is being polled, may itself make a blocking call (propose on
//! another cluster, append to an audit log). Each level waits on its own signal, so an
//! inner level never swallows a wake-up meant for the outer one; the outer future simply
//! stays suspended inside the callback until the inner call returns.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

struct Signal {
    woken: AtomicBool,
    thread: Thread,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

thread_local! {
    /// The signal of this thread's outermost `block_on` (made once per thread).
    static SIGNAL: Arc<Signal> = Arc::new(Signal { woken: AtomicBool::new(false), thread: thread::current() });
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Counts one level of `block_on` on this thread until dropped (by return or by panic).
struct Level;

impl Level {
    fn enter() -> (Level, bool) {
        let outermost = DEPTH.with(|d| {
            let depth = d.get();
            d.set(depth.saturating_add(1));
            depth == 0
        });
        (Level, outermost)
    }
}

impl Drop for Level {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Poll `fut` on this thread until it is ready, parking in between. May be called from
/// inside a future polled by another `block_on` on this thread (see the module docs).
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let (_level, outermost) = Level::enter();
    let signal = if outermost {
        SIGNAL.with(Arc::clone)
    } else {
        Arc::new(Signal { woken: AtomicBool::new(false), thread: thread::current() })
    };
    let waker = Waker::from(Arc::clone(&signal));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        signal.woken.store(false, Ordering::Release);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        // A wake-up between the poll and here leaves `woken` set: no park then. Spurious
        // unparks (another level's wake-up) just loop.
        while !signal.woken.load(Ordering::Acquire) {
            thread::park();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_block_on_runs_both() {
        let outer = block_on(async {
            let inner = block_on(async { 2 });
            futures::future::ready(()).await;
            inner + 1
        });
        assert_eq!(outer, 3);
    }

    #[test]
    fn wakes_from_another_thread() {
        let (tx, rx) = futures::channel::oneshot::channel();
        let t = thread::spawn(move || tx.send(5));
        assert_eq!(block_on(rx), Ok(5));
        t.join().unwrap().unwrap();
    }
}
