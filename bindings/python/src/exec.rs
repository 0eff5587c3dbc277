//! A small executor for the binding's blocking entry points, in two shapes:
//!
//! - [`block_on`] runs a driver future on the calling thread (GIL released) when every
//!   client is a local `synodos.Acceptor` (no Python code runs, so nothing can hang it) or
//!   a Python client the user asked to call inline (`inline_calls=True`, it takes the GIL
//!   for each call). It is the core's `block_on` (shared with the C binding): timers from
//!   [`LocalSleeper`] live in a thread-local list instead of a timer thread.
//! - [`run_on_worker`] runs it on a worker thread when other Python clients are involved.
//!   The worker holds the GIL and calls quick clients *inline*, one after another: a phase's
//!   three calls cost three Python calls and no thread hand-off, and the caller pays one
//!   hand-off per decision, not one per phase (slow clients, over 50 µs a call, go to
//!   workers of their own, concurrently: see `client.rs`). The calls are queued beside the
//!   future, not run inside its `poll`, so when a client hangs, the worker stuck in it holds
//!   nothing: the waiting caller notices (no free worker for longer than [`RESCUE_AFTER`])
//!   and starts another worker on the same job, which runs the other clients' calls, polls
//!   the future and fires its timers. The call timeout then ends the hung call's part in the
//!   decision.
//!
//! Waiting threads spin briefly (yielding) before they sleep: replies from the other core
//! usually come within microseconds, and sleeping costs a futex round trip.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use synodos::driver::block_on::{with_timers, TimerList, Waiting};
use synodos::error::panic_message;

use crate::pool::{self, spin};

/// How often a parked driver checks the worker pool for stuck calls.
const RESCUE_TICK: Duration = Duration::from_millis(1);
/// A job whose every worker has been inside one client call for this long gets another
/// worker.
pub const RESCUE_AFTER: Duration = Duration::from_millis(1);
/// A job no worker has taken for this long is driven by the thread waiting for it.
const DRIVE_HERE_AFTER: Duration = Duration::from_millis(20);

thread_local! {
    /// The job whose future this thread is polling right now.
    static CURRENT: RefCell<Option<Arc<Job>>> = const { RefCell::new(None) };
}

/// Run a future to completion on this thread (which must not hold the GIL), with the core's
/// nesting `block_on` and its thread-local timers; while parked it looks for stuck worker
/// calls (`pool::rescue`).
///
/// The future is made by `make` right where it stays pinned: driver futures are large, and
/// passing one by value would copy it at every call boundary.
pub fn block_on<F: Future>(make: impl FnOnce() -> F) -> F::Output {
    let waiting = Waiting { spin: spin(), tick: Some(RESCUE_TICK) };
    synodos::driver::block_on::block_on_with(waiting, pool::rescue, make)
}

/// The core's [`LocalSleeper`](synodos::driver::block_on::LocalSleeper): under
/// [`run_on_worker`] its timers go to the job's list (each poll sets it), under
/// [`block_on`] to the thread's.
pub use synodos::driver::block_on::LocalSleeper;

/// A call to a Python client, run with the GIL by whichever worker drives the job.
pub type Call = Box<dyn FnOnce(Python<'_>) + Send>;

type BoxedFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing user-written runs under these locks, so a poisoned one is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One future run by [`run_on_worker`], with the client calls it has queued and its timers.
struct Job {
    /// `None` once finished (dropped at once, so that wakers kept by clients hold nothing).
    future: Mutex<Option<BoxedFuture>>,
    /// Set by the future's waker; whoever clears it polls.
    woken: AtomicBool,
    calls: Mutex<VecDeque<Call>>,
    queued: AtomicUsize,
    timers: Arc<TimerList>,
    done: AtomicBool,
    /// The panic message if polling the future panicked.
    panicked: Mutex<Option<String>>,
    /// The thread waiting for the outcome.
    caller: Thread,
    /// Bumped on every wake and every queued call; workers wait for it to change.
    events: AtomicU64,
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    sleep_cv: Condvar,
    /// Workers driving this job, and how many of them are not inside a client call.
    drivers: AtomicUsize,
    free_drivers: AtomicUsize,
    /// When the latest client call started (nanoseconds since `born`).
    last_call: AtomicU64,
    born: Instant,
}

impl Job {
    fn since_born(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.born).as_nanos()).unwrap_or(u64::MAX)
    }

    fn notify(&self) {
        self.events.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _g = relock(&self.sleep_lock);
            self.sleep_cv.notify_all();
        }
    }

    fn finish(&self) {
        self.done.store(true, Ordering::SeqCst);
        self.notify();
        self.caller.unpark();
    }

    /// Wait (without the GIL) until `events` moves past `seen`, or until `deadline`.
    fn wait(&self, seen: u64, deadline: Option<Instant>) {
        let spin_until = Instant::now() + spin();
        loop {
            if self.events.load(Ordering::SeqCst) != seen {
                return;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return;
            }
            if now >= spin_until {
                break;
            }
            thread::yield_now();
        }
        let guard = relock(&self.sleep_lock);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if self.events.load(Ordering::SeqCst) == seen {
            let wait = deadline.map(|d| d.saturating_duration_since(Instant::now())).unwrap_or(Duration::from_secs(1));
            let _ = self.sleep_cv.wait_timeout(guard, wait);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
    }

    fn pop_call(&self) -> Option<Call> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let call = relock(&self.calls).pop_front();
        if call.is_some() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        call
    }

    /// Poll the future unless another worker is polling it; `true` once it has finished
    /// (then the caller must [`finish`](Self::finish), after letting go of the GIL).
    fn poll(self: &Arc<Self>) -> bool {
        let Ok(mut slot) = self.future.try_lock() else {
            // Another worker is polling: it will see the wake-up when it looks again.
            self.woken.store(true, Ordering::SeqCst);
            return false;
        };
        let Some(fut) = slot.as_mut() else { return true };
        let waker = Waker::from(Arc::new(JobWaker(Arc::downgrade(self))));
        let mut cx = Context::from_waker(&waker);
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        let outcome = catch_unwind(AssertUnwindSafe(|| with_timers(&self.timers, || fut.as_mut().poll(&mut cx))));
        CURRENT.with(|c| *c.borrow_mut() = previous);
        let finished = match outcome {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(())) => true,
            Err(payload) => {
                *relock(&self.panicked) = Some(panic_message(&*payload));
                true
            }
        };
        if finished {
            let fut = slot.take();
            drop(slot);
            // Dropping the future cancels what it still waits for; no lock is held.
            drop(fut);
        }
        finished
    }
}

struct JobWaker(Weak<Job>);

impl Wake for JobWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(job) = self.0.upgrade() {
            job.woken.store(true, Ordering::SeqCst);
            job.notify();
        }
    }
}

/// Queue `call` on the job being polled on this thread, to run inline after the poll; with
/// no job (the future runs under [`block_on`]), hand it to the worker pool. Returns an
/// error text when no worker thread could be started.
pub fn spawn_call(call: Call) -> Result<(), String> {
    let job = CURRENT.with(|c| c.borrow().clone());
    match job {
        Some(job) => {
            relock(&job.calls).push_back(call);
            job.queued.fetch_add(1, Ordering::AcqRel);
            job.notify();
            Ok(())
        }
        None => pool::submit(call),
    }
}

/// Drive `job` on this worker until it finishes: run its queued client calls, poll it when
/// woken and fire its timers, all under one hold of the GIL, and wait without the GIL when
/// there is nothing to do. The caller is told only after the GIL is let go, so it does not
/// wake up just to wait for it.
fn drive(job: &Arc<Job>) {
    job.drivers.fetch_add(1, Ordering::SeqCst);
    job.free_drivers.fetch_add(1, Ordering::SeqCst);
    let finished = Python::attach(|py| drive_with_gil(py, job));
    job.free_drivers.fetch_sub(1, Ordering::SeqCst);
    job.drivers.fetch_sub(1, Ordering::SeqCst);
    if finished {
        job.finish();
    }
}

/// `true` if this worker finished the job; `false` if another one did.
fn drive_with_gil(py: Python<'_>, job: &Arc<Job>) -> bool {
    loop {
        if job.done.load(Ordering::SeqCst) {
            return false;
        }
        let seen = job.events.load(Ordering::SeqCst);
        if let Some(call) = job.pop_call() {
            job.free_drivers.fetch_sub(1, Ordering::SeqCst);
            job.last_call.store(job.since_born(Instant::now()), Ordering::SeqCst);
            // A panic inside a call drops its answer channel: the future sees an error.
            let _ = catch_unwind(AssertUnwindSafe(|| call(py)));
            job.free_drivers.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        if job.woken.swap(false, Ordering::SeqCst) {
            if job.poll() {
                return true;
            }
            continue;
        }
        let next = job.timers.fire(Instant::now());
        if job.woken.load(Ordering::SeqCst) {
            continue;
        }
        py.detach(|| job.wait(seen, next));
    }
}

fn start_driver(job: &Arc<Job>, rescue: bool) -> Result<(), String> {
    let job = job.clone();
    let work = pool::Work::Detached(Box::new(move || drive(&job)));
    if rescue {
        pool::submit_to_new_worker(work)
    } else {
        pool::submit_work(work)
    }
}

/// Run `fut` on a worker thread that calls Python clients inline (see the module docs);
/// block this thread (which must not hold the GIL) until it finishes. `Err` carries the
/// message of a panic, or says no worker thread could be started.
pub fn run_on_worker<T, F>(make: impl FnOnce() -> F + Send + 'static) -> Result<T, String>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let output: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
    let out = output.clone();
    let job = Arc::new(Job {
        future: Mutex::new(Some(Box::pin(async move {
            let v = make().await;
            *relock(&out) = Some(v);
        }))),
        woken: AtomicBool::new(true),
        calls: Mutex::new(VecDeque::new()),
        queued: AtomicUsize::new(0),
        timers: Arc::default(),
        done: AtomicBool::new(false),
        panicked: Mutex::new(None),
        caller: thread::current(),
        events: AtomicU64::new(0),
        sleepers: AtomicUsize::new(0),
        sleep_lock: Mutex::new(()),
        sleep_cv: Condvar::new(),
        drivers: AtomicUsize::new(0),
        free_drivers: AtomicUsize::new(0),
        last_call: AtomicU64::new(0),
        born: Instant::now(),
    });
    start_driver(&job, false)?;
    let spin_until = Instant::now() + spin();
    let mut last_rescue = Instant::now();
    while !job.done.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now < spin_until {
            thread::yield_now();
            continue;
        }
        thread::park_timeout(RESCUE_TICK);
        if job.done.load(Ordering::SeqCst) {
            break;
        }
        // Every worker on the job is inside a client call (or none has started yet), and
        // the latest call began long ago: start another worker.
        let now = Instant::now();
        let stuck = job.free_drivers.load(Ordering::SeqCst) == 0
            && job.drivers.load(Ordering::SeqCst) > 0
            && job.since_born(now).saturating_sub(job.last_call.load(Ordering::SeqCst))
                >= u64::try_from(RESCUE_AFTER.as_nanos()).unwrap_or(u64::MAX);
        if stuck && now.duration_since(last_rescue) >= RESCUE_AFTER {
            last_rescue = now;
            start_driver(&job, true)?;
        }
        // A driver still queued behind busy workers gets a worker of its own.
        pool::rescue();
        // No worker has taken the job at all (every one is stuck in client calls and no
        // more can be started): this thread drives it, rather than wait for ever.
        if job.drivers.load(Ordering::SeqCst) == 0 && job.born.elapsed() >= DRIVE_HERE_AFTER {
            drive(&job);
        }
    }
    if let Some(message) = relock(&job.panicked).take() {
        return Err(format!("internal error (a Rust panic): {message}"));
    }
    let value = relock(&output).take();
    value.ok_or_else(|| "internal error: the job finished without an outcome".to_string())
}
