//! Running a driver future to its end on the calling thread, for the blocking entry points of
//! the native bindings (Python's and C's), with timers that need no timer thread.
//!
//! - [`block_on`] polls on the calling thread and parks in between. It nests: a transport
//!   or log callback called while one future is polled may itself make a blocking call
//!   (propose on another cluster, append to an audit log). Each level waits on its own
//!   signal, so an inner level never swallows a wake-up meant for the outer one.
//! - [`LocalSleeper`](crate::driver::block_on::LocalSleeper) is a [`Sleeper`] whose timers live in a [`TimerList`](crate::driver::block_on::TimerList): the list of
//!   whatever executor polls the sleep (one that sets it with [`with_timers`](crate::driver::block_on::with_timers)), else the
//!   calling thread's, which [`block_on`] fires while it waits. No timer thread, no
//!   process-global state: everything is per thread or per executor.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use super::timer::Sleeper;

/// Timers by deadline, fired by whoever runs the futures that registered them.
#[derive(Debug, Default)]
pub struct TimerList {
    timers: Mutex<BTreeMap<TimerKey, Waker>>,
    next_id: AtomicU64,
}

type TimerKey = (Instant, u64);

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing user-written runs under this lock, so a poisoned one is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TimerList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&self, deadline: Instant, waker: Waker) -> TimerKey {
        let key = (deadline, self.next_id.fetch_add(1, Ordering::Relaxed));
        relock(&self.timers).insert(key, waker);
        key
    }

    fn set_waker(&self, key: TimerKey, waker: Waker) {
        relock(&self.timers).insert(key, waker);
    }

    fn remove(&self, key: &TimerKey) {
        relock(&self.timers).remove(key);
    }

    /// Wake every timer due by `now` (outside the lock); return the next deadline, if any.
    pub fn fire(&self, now: Instant) -> Option<Instant> {
        let mut due = Vec::new();
        let next = {
            let mut timers = relock(&self.timers);
            while let Some(entry) = timers.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                due.push(entry.remove());
            }
            timers.first_key_value().map(|(k, _)| k.0)
        };
        for w in due {
            w.wake();
        }
        next
    }

    /// How many timers are waiting.
    pub fn len(&self) -> usize {
        relock(&self.timers).len()
    }

    /// Whether no timer is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

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
    /// The timers of this thread's `block_on`s.
    static THREAD_TIMERS: Arc<TimerList> = Arc::new(TimerList::new());
    /// The signal of this thread's outermost `block_on` (made once per thread).
    static SIGNAL: Arc<Signal> = Arc::new(Signal { woken: AtomicBool::new(false), thread: thread::current() });
    static DEPTH: Cell<u32> = const { Cell::new(0) };
    /// The timers of the executor polling on this thread right now, if it has its own.
    static CURRENT: RefCell<Option<Arc<TimerList>>> = const { RefCell::new(None) };
}

/// Run `f` with `timers` as the list that [`LocalSleeper`]s first polled inside it register
/// with: an executor of its own (a worker pool) calls this around each poll, and fires the
/// list itself.
pub fn with_timers<R>(timers: &Arc<TimerList>, f: impl FnOnce() -> R) -> R {
    /// Puts the previous list back however `f` ends.
    struct Restore(Option<Arc<TimerList>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            CURRENT.with(|c| *c.borrow_mut() = previous);
        }
    }
    let previous = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(timers)));
    let _restore = Restore(previous);
    f()
}

/// How [`block_on_with`] waits between polls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Waiting {
    /// Yield (rather than park) for this long first: replies from another core often come
    /// within microseconds, and parking costs a futex round trip.
    pub spin: Duration,
    /// Call the idle hook at least this often while parked (`None`: park until a wake-up
    /// or the next timer).
    pub tick: Option<Duration>,
}

/// Run the future `make` returns to its end on this thread, parking between polls and
/// firing this thread's [`LocalSleeper`] timers meanwhile. The future is made right where
/// it stays pinned (driver futures are large: passing one by value copies it).
///
/// ```
/// use synodos::driver::block_on::{block_on, LocalSleeper};
/// use synodos::{CounterIdGenerator, LocalAcceptor, Proposer};
/// let acceptors: Vec<_> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
/// let p = Proposer::new(acceptors, CounterIdGenerator::new(1), LocalSleeper).unwrap();
/// assert_eq!(block_on(|| p.propose(b"v".to_vec())).unwrap(), b"v");
/// // It nests: a blocking call inside a future polled by another one works.
/// assert_eq!(block_on(|| async { block_on(|| async { 1 }) + 1 }), 2);
/// ```
pub fn block_on<F: Future>(make: impl FnOnce() -> F) -> F::Output {
    block_on_with(Waiting::default(), || {}, make)
}

/// [`block_on`], waiting as `waiting` says and calling `on_idle` at each wake from a park
/// (the Python binding looks for stuck worker calls there).
pub fn block_on_with<F: Future>(waiting: Waiting, mut on_idle: impl FnMut(), make: impl FnOnce() -> F) -> F::Output {
    // The outermost level uses the thread's signal (borrowed: no allocation per call); a
    // nested one gets its own, so neither can swallow the other's wake-up.
    if DEPTH.with(|d| d.get()) == 0 {
        SIGNAL.with(|signal| run_here(signal, waiting, &mut on_idle, make))
    } else {
        let signal = Arc::new(Signal { woken: AtomicBool::new(false), thread: thread::current() });
        run_here(&signal, waiting, &mut on_idle, make)
    }
}

fn run_here<F: Future>(
    signal: &Arc<Signal>,
    waiting: Waiting,
    on_idle: &mut dyn FnMut(),
    make: impl FnOnce() -> F,
) -> F::Output {
    /// Counts this level in `DEPTH` until it ends, by return or by panic.
    struct Level;
    impl Drop for Level {
        fn drop(&mut self) {
            DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        }
    }
    let waker = Waker::from(Arc::clone(signal));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(make());
    DEPTH.with(|d| d.set(d.get().saturating_add(1)));
    let _level = Level;
    loop {
        signal.woken.store(false, Ordering::Release);
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        wait_for_wake(signal, waiting, on_idle);
    }
}

/// Wait until `signal` is woken, firing this thread's timers meanwhile. A wake-up between
/// the poll and here leaves `woken` set, so no wake-up is lost; spurious unparks loop.
fn wait_for_wake(signal: &Signal, waiting: Waiting, on_idle: &mut dyn FnMut()) {
    let spin_until = Instant::now().checked_add(waiting.spin);
    loop {
        if signal.woken.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        let next = THREAD_TIMERS.with(|t| t.fire(now));
        if signal.woken.load(Ordering::Acquire) {
            return;
        }
        if spin_until.is_some_and(|until| now < until) {
            thread::yield_now();
            continue;
        }
        let until_timer = next.map(|d| d.saturating_duration_since(now));
        match (until_timer, waiting.tick) {
            (Some(t), Some(tick)) => thread::park_timeout(t.min(tick)),
            (Some(t), None) | (None, Some(t)) => thread::park_timeout(t),
            (None, None) => thread::park(),
        }
        on_idle();
    }
}

/// A [`Sleeper`] whose timers live with whatever runs the future: the list set by
/// [`with_timers`], else this thread's (fired by [`block_on`]). Polled outside both, it
/// falls back to a `futures-timer` delay (with the `std-timer` feature).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalSleeper;

impl Sleeper for LocalSleeper {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        // Past the end of `Instant`'s range is never: a timer that does not fire.
        let deadline = Instant::now().checked_add(duration);
        Sleep { deadline, registered: Registered::Nowhere }
    }
}

enum Registered {
    Nowhere,
    Listed(Weak<TimerList>, TimerKey),
    #[cfg(feature = "std-timer")]
    Fallback(futures_timer::Delay),
}

struct Sleep {
    deadline: Option<Instant>,
    registered: Registered,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        #[cfg(feature = "std-timer")]
        if let Registered::Fallback(delay) = &mut this.registered {
            return Pin::new(delay).poll(cx);
        }
        let Some(deadline) = this.deadline else { return Poll::Pending };
        let now = Instant::now();
        if now >= deadline {
            this.cancel();
            return Poll::Ready(());
        }
        if let Registered::Listed(list, key) = &this.registered {
            if let Some(list) = list.upgrade() {
                list.set_waker(*key, cx.waker().clone());
            }
            return Poll::Pending;
        }
        // First poll: the list of the executor polling here, else this thread's when a
        // `block_on` runs on it, else (outside both) a `futures-timer` delay.
        let list = match CURRENT.with(|c| c.borrow().clone()) {
            Some(list) => Some(list),
            None if DEPTH.with(|d| d.get()) > 0 => Some(THREAD_TIMERS.with(Arc::clone)),
            None => None,
        };
        #[cfg(feature = "std-timer")]
        let list = match list {
            Some(list) => list,
            None => {
                let mut delay = futures_timer::Delay::new(deadline - now);
                let r = Pin::new(&mut delay).poll(cx);
                this.registered = Registered::Fallback(delay);
                return r;
            }
        };
        #[cfg(not(feature = "std-timer"))]
        let list = list.unwrap_or_else(|| THREAD_TIMERS.with(Arc::clone));
        let key = list.add(deadline, cx.waker().clone());
        this.registered = Registered::Listed(Arc::downgrade(&list), key);
        Poll::Pending
    }
}

impl Sleep {
    fn cancel(&mut self) {
        if let Registered::Listed(list, key) = std::mem::replace(&mut self.registered, Registered::Nowhere) {
            if let Some(list) = list.upgrade() {
                list.remove(&key);
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_block_on_runs_both() {
        let outer = block_on(|| async {
            let inner = block_on(|| async { 2 });
            futures::future::ready(()).await;
            inner + 1
        });
        assert_eq!(outer, 3);
    }

    #[test]
    fn wakes_from_another_thread() {
        let (tx, rx) = futures::channel::oneshot::channel();
        let t = thread::spawn(move || tx.send(5));
        assert_eq!(block_on(|| rx), Ok(5));
        t.join().unwrap().unwrap();
    }

    #[test]
    fn local_sleeps_fire_on_the_calling_thread_and_leave_no_timer_behind() {
        let started = Instant::now();
        block_on(|| LocalSleeper.sleep(Duration::from_millis(20)));
        assert!(started.elapsed() >= Duration::from_millis(20));
        assert!(THREAD_TIMERS.with(|t| t.is_empty()));
        // A sleep dropped before it fires takes its timer with it.
        block_on(|| async {
            let long = LocalSleeper.sleep(Duration::from_secs(3600));
            let short = LocalSleeper.sleep(Duration::from_millis(1));
            futures::pin_mut!(long, short);
            futures::future::select(long, short).await;
        });
        assert!(THREAD_TIMERS.with(|t| t.is_empty()));
    }

    #[test]
    fn an_executor_of_its_own_gets_the_timers_polled_under_it() {
        let list = Arc::new(TimerList::new());
        // Long enough that a loaded machine does not reach the deadline before the first poll.
        let deadline = Instant::now() + Duration::from_millis(200);
        let mut sleep = Box::pin(LocalSleeper.sleep(Duration::from_millis(200)));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(with_timers(&list, || sleep.as_mut().poll(&mut cx)).is_pending());
        assert_eq!(list.len(), 1);
        while Instant::now() <= deadline {
            thread::sleep(Duration::from_millis(5));
        }
        list.fire(Instant::now());
        assert!(sleep.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn a_huge_sleep_never_fires_and_never_panics() {
        let mut sleep = Box::pin(LocalSleeper.sleep(Duration::MAX));
        let waker = futures::task::noop_waker();
        assert!(sleep.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
    }
}
