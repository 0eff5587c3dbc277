//! Worker threads that call Python clients. A proposer's driver runs without the GIL; each
//! call to a Python client is a task here, so a slow or hung client holds up one worker, not
//! the proposer (which cuts the call off at its timeout and goes on with the others).
//!
//! Workers keep their Python thread state for life and take the GIL only to run tasks; an
//! awake worker drains the whole queue under one GIL hold, so a phase's calls to three
//! clients cost one hand-off, not three. A task that waits too long in the queue (because
//! every awake worker is stuck in a slow call) is rescued by another worker: the waiting
//! driver calls [`rescue`] while it is parked. Idle workers spin briefly, then park, then exit.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// How long a waiting thread yields (`sched_yield`) before it parks: replies usually come
/// back within microseconds, and parking costs a futex round trip per hand-off. 50 µs unless
/// the environment variable `SYNODOS_SPIN_US` says otherwise (0 parks at once).
pub fn spin() -> Duration {
    static SPIN: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();
    *SPIN.get_or_init(|| {
        Duration::from_micros(std::env::var("SYNODOS_SPIN_US").ok().and_then(|v| v.parse().ok()).unwrap_or(50))
    })
}
/// A call to run with the GIL. It must report its own outcome (e.g. through a oneshot).
pub type Task = Box<dyn FnOnce(Python<'_>) + Send>;

/// What a worker runs: a call with the GIL, or work that manages the GIL itself (a job's
/// driver, which must let go of the GIL before it tells the caller it is done, or the
/// caller would wake only to wait for the GIL).
pub enum Work {
    /// Run holding the GIL.
    WithGil(Task),
    /// Run without the GIL.
    Detached(Box<dyn FnOnce() + Send>),
}

const IDLE_EXIT: Duration = Duration::from_secs(20);

/// A task queued longer than this while every awake worker is busy gets another worker.
const RESCUE_AFTER: Duration = Duration::from_millis(1);
const MAX_THREADS: usize = 256;

#[derive(Default)]
struct State {
    queue: VecDeque<(Instant, Work)>,
    /// Workers spinning or running tasks: they will look at the queue again soon.
    awake: usize,
    /// Workers parked on the condvar and not yet signalled.
    parked: usize,
    /// Signals sent and not yet taken.
    tokens: usize,
    threads: usize,
    last_rescue: Option<Instant>,
}

#[derive(Default)]
struct Pool {
    state: Mutex<State>,
    cv: Condvar,
    queued: AtomicUsize,
    /// Awake workers running a task (the others are looking for one).
    running: AtomicUsize,
}

/// The pool in use: made on first use, replaced in the child after a fork. Pools are never
/// freed (a replaced one may be locked by a thread that does not exist in the child).
static POOL: AtomicPtr<Pool> = AtomicPtr::new(std::ptr::null_mut());

fn pool() -> &'static Pool {
    let current = POOL.load(Ordering::Acquire);
    if !current.is_null() {
        // SAFETY: non-NULL pointers in `POOL` come from `Box::into_raw` and are never freed.
        return unsafe { &*current };
    }
    let fresh = Box::into_raw(Box::default());
    match POOL.compare_exchange(std::ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
        // SAFETY: just made, and now never freed.
        Ok(_) => unsafe { &*fresh },
        Err(existing) => {
            // SAFETY: `fresh` was never shared; `existing` is a pool that is never freed.
            drop(unsafe { Box::from_raw(fresh) });
            unsafe { &*existing }
        }
    }
}

/// Registered with `os.register_at_fork(after_in_child=...)` by the package: in the child of
/// a fork only the forking thread exists, yet the pool still counts the parent's workers
/// (parked or looking for work), so it would wait for them for ever. The child starts with a
/// new, empty pool; the old one is left as it is (its lock may be held by a thread that is
/// gone). Calls queued or running in the parent at the fork are not run in the child.
#[pyfunction]
pub fn _after_fork_in_child() {
    let fresh: *mut Pool = Box::into_raw(Box::default());
    // The old pool is leaked on purpose (see above).
    let _old = POOL.swap(fresh, Ordering::AcqRel);
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Tasks never run under this lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Get one more worker going: signal a parked one, or start a thread.
    fn wake_one(&self, s: &mut State) -> Result<(), String> {
        if s.parked > 0 {
            s.parked -= 1;
            s.tokens += 1;
            s.awake += 1;
            self.cv.notify_one();
            return Ok(());
        }
        if s.threads >= MAX_THREADS {
            return Ok(()); // the task runs when a worker frees up, or the caller times out
        }
        match std::thread::Builder::new().name("synodos-py".into()).spawn(worker) {
            Ok(_) => {
                s.threads += 1;
                s.awake += 1;
                Ok(())
            }
            Err(e) => Err(format!("cannot start a worker thread: {e}")),
        }
    }

    fn try_pop(&self) -> Option<Work> {
        if self.queued.load(Ordering::Acquire) == 0 {
            return None;
        }
        let t = self.lock().queue.pop_front().map(|(_, t)| t);
        if t.is_some() {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        t
    }
}

/// Queue `task`. Returns an error text when no worker thread could be started.
pub fn submit(task: Task) -> Result<(), String> {
    submit_work(Work::WithGil(task))
}

/// Queue `work`; wake a worker unless enough awake ones are looking for work.
pub fn submit_work(work: Work) -> Result<(), String> {
    enqueue(work, false)
}

/// Queue `work` and get one more worker going for it, whatever the others are doing: for a
/// job whose workers are all stuck in client calls.
pub fn submit_to_new_worker(work: Work) -> Result<(), String> {
    enqueue(work, true)
}

fn enqueue(work: Work, new_worker: bool) -> Result<(), String> {
    let p = pool();
    let mut s = p.lock();
    s.queue.push_back((Instant::now(), work));
    p.queued.fetch_add(1, Ordering::AcqRel);
    let looking = s.awake.saturating_sub(p.running.load(Ordering::Acquire));
    if new_worker || looking < s.queue.len() {
        return p.wake_one(&mut s);
    }
    Ok(())
}

/// Called by a waiting driver: if the oldest queued task has waited too long, get another
/// worker going (the awake ones are stuck in slow calls).
pub fn rescue() {
    let p = pool();
    if p.queued.load(Ordering::Acquire) == 0 {
        return;
    }
    let mut s = p.lock();
    let now = Instant::now();
    let stale = s.queue.front().is_some_and(|(t, _)| now.duration_since(*t) >= RESCUE_AFTER);
    let recent = s.last_rescue.is_some_and(|t| now.duration_since(t) < RESCUE_AFTER);
    if stale && !recent {
        s.last_rescue = Some(now);
        let _ = p.wake_one(&mut s);
    }
}

/// Counts a worker as running a task while alive.
struct Running;

impl Running {
    fn enter() -> Running {
        pool().running.fetch_add(1, Ordering::AcqRel);
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        pool().running.fetch_sub(1, Ordering::AcqRel);
    }
}

fn run(py: Python<'_>, work: Work) {
    let _running = Running::enter();
    // A panic inside a task drops its sender: the caller sees an error, not a crash.
    match work {
        Work::WithGil(task) => {
            let _ = catch_unwind(AssertUnwindSafe(|| task(py)));
        }
        Work::Detached(f) => py.detach(|| {
            let _ = catch_unwind(AssertUnwindSafe(f));
        }),
    }
}

fn run_detached(f: Box<dyn FnOnce() + Send>) {
    let _running = Running::enter();
    let _ = catch_unwind(AssertUnwindSafe(f));
}

/// Wait (without the GIL) for a task; `None` when this worker should exit.
fn next_task(p: &Pool) -> Option<Work> {
    let spin_until = Instant::now() + spin();
    loop {
        if let Some(t) = p.try_pop() {
            return Some(t);
        }
        if Instant::now() >= spin_until {
            break;
        }
        std::thread::yield_now();
    }
    let mut s = p.lock();
    loop {
        if let Some((_, t)) = s.queue.pop_front() {
            p.queued.fetch_sub(1, Ordering::AcqRel);
            return Some(t);
        }
        s.awake -= 1;
        s.parked += 1;
        let deadline = Instant::now() + IDLE_EXIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (g, _) = p.cv.wait_timeout(s, left).unwrap_or_else(|e| e.into_inner());
            s = g;
            if s.tokens > 0 {
                s.tokens -= 1; // the signaller already counted us awake
                break;
            }
            if Instant::now() >= deadline {
                s.parked -= 1;
                if s.queue.is_empty() {
                    s.threads -= 1;
                    return None;
                }
                s.awake += 1;
                break;
            }
        }
    }
}

fn worker() {
    let p = pool();
    Python::attach(|py| loop {
        // Detached work runs here, without taking the GIL on the way.
        let next = py.detach(|| loop {
            match next_task(p) {
                Some(Work::Detached(f)) => run_detached(f),
                other => return other,
            }
        });
        let Some(task) = next else { break };
        run(py, task);
        while let Some(t) = p.try_pop() {
            run(py, t);
        }
    });
}
