//! A small executor for the binding's blocking entry points: [`block_on`] runs a driver
//! future on the calling thread (GIL released), with timers from [`LocalSleeper`] kept in a
//! thread-local list instead of a timer thread. While waiting it spins briefly before
//! parking (replies from worker threads usually arrive within microseconds), and while
//! parked it asks the worker pool to rescue calls queued behind a slow or hung client.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::pool;

/// How long a waiting thread yields (`sched_yield`) before it parks: replies usually come
/// back within microseconds, and parking costs a futex round trip per hand-off. 50 µs unless
/// the environment variable `SYNODOS_SPIN_US` says otherwise (0 parks at once).
pub fn spin() -> Duration {
    static SPIN: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *SPIN.get_or_init(|| {
        Duration::from_micros(std::env::var("SYNODOS_SPIN_US").ok().and_then(|v| v.parse().ok()).unwrap_or(50))
    })
}
/// How often a parked driver checks the worker pool for stuck calls.
const RESCUE_TICK: Duration = Duration::from_millis(1);

struct Signal {
    woken: AtomicBool,
    thread: Thread,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

type Timers = BTreeMap<(Instant, u64), Waker>;

thread_local! {
    static TIMERS: RefCell<Timers> = const { RefCell::new(BTreeMap::new()) };
    static NEXT_TIMER: Cell<u64> = const { Cell::new(0) };
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// Wake every timer due by `now`; return the next deadline, if any.
fn fire_timers(now: Instant) -> Option<Instant> {
    let mut due = Vec::new();
    let next = TIMERS.with(|t| {
        let mut t = t.borrow_mut();
        while let Some(entry) = t.first_entry() {
            if entry.key().0 > now {
                break;
            }
            due.push(entry.remove());
        }
        t.first_key_value().map(|(k, _)| k.0)
    });
    // Wakers run outside the borrow.
    for w in due {
        w.wake();
    }
    next
}

/// Run `fut` to completion on this thread.
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let signal = Arc::new(Signal { woken: AtomicBool::new(false), thread: thread::current() });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    DEPTH.with(|d| d.set(d.get() + 1));
    let out = loop {
        signal.woken.store(false, Ordering::Release);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            break v;
        }
        let spin_until = Instant::now() + spin();
        loop {
            if signal.woken.load(Ordering::Acquire) {
                break;
            }
            let now = Instant::now();
            let next = fire_timers(now);
            if signal.woken.load(Ordering::Acquire) {
                break;
            }
            if now < spin_until {
                std::thread::yield_now();
                continue;
            }
            let wait = next.map(|d| d.saturating_duration_since(now)).unwrap_or(RESCUE_TICK).min(RESCUE_TICK);
            thread::park_timeout(wait);
            pool::rescue();
        }
    };
    DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    out
}

/// A [`synodos::Sleeper`] whose timers live in the thread-local list [`block_on`] serves.
/// Polled outside `block_on`, it falls back to a `futures-timer` delay.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSleeper;

impl synodos::Sleeper for LocalSleeper {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        Sleep { deadline: Instant::now() + duration, key: None, fallback: None }
    }
}

struct Sleep {
    deadline: Instant,
    key: Option<(Instant, u64)>,
    fallback: Option<futures_timer::Delay>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Some(delay) = this.fallback.as_mut() {
            return Pin::new(delay).poll(cx);
        }
        let now = Instant::now();
        if now >= this.deadline {
            this.cancel();
            return Poll::Ready(());
        }
        if DEPTH.with(|d| d.get()) == 0 {
            let mut delay = futures_timer::Delay::new(this.deadline - now);
            let r = Pin::new(&mut delay).poll(cx);
            this.fallback = Some(delay);
            return r;
        }
        let key = match this.key {
            Some(k) => k,
            None => {
                let id = NEXT_TIMER.with(|n| {
                    let id = n.get();
                    n.set(id.wrapping_add(1));
                    id
                });
                let k = (this.deadline, id);
                this.key = Some(k);
                k
            }
        };
        TIMERS.with(|t| t.borrow_mut().insert(key, cx.waker().clone()));
        Poll::Pending
    }
}

impl Sleep {
    fn cancel(&mut self) {
        if let Some(key) = self.key.take() {
            let _ = TIMERS.try_with(|t| t.borrow_mut().remove(&key));
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}
