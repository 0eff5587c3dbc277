//! Worker threads that call Python clients. A proposer's driver runs without the GIL; each
//! call to a Python client is a task here, so a slow or hung client holds up one worker, not
//! the proposer (which cuts the call off at its timeout and goes on with the others).
//!
//! A task is run with the GIL taken; a worker drains every queued task under one GIL hold.
//! Every queued task is claimed by a distinct worker (woken or spawned), so a task never waits
//! behind a hung one. Workers exit after a while idle.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;

/// A call to run with the GIL. It must report its own outcome (e.g. through a oneshot).
pub type Task = Box<dyn FnOnce(Python<'_>) + Send>;

const IDLE_EXIT: Duration = Duration::from_secs(20);
const MAX_THREADS: usize = 256;

#[derive(Default)]
struct State {
    queue: VecDeque<Task>,
    /// Workers waiting and not yet claimed.
    idle: usize,
    /// Wake-ups sent and not yet taken by a worker.
    tokens: usize,
    threads: usize,
}

#[derive(Default)]
struct Pool {
    state: Mutex<State>,
    cv: Condvar,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(Pool::default)
}

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Tasks never run under this lock, so a poisoned state is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Queue `task`. Returns an error text when no worker thread could be started.
pub fn submit(task: Task) -> Result<(), String> {
    let p = pool();
    let mut s = p.lock();
    s.queue.push_back(task);
    if s.idle > 0 {
        s.idle -= 1;
        s.tokens += 1;
        p.cv.notify_one();
        return Ok(());
    }
    if s.threads >= MAX_THREADS {
        // Every worker is busy; the task runs when one frees up (or the caller times out).
        return Ok(());
    }
    s.threads += 1;
    drop(s);
    match std::thread::Builder::new().name("synodos-py".into()).spawn(worker) {
        Ok(_) => Ok(()),
        Err(e) => {
            p.lock().threads -= 1;
            Err(format!("cannot start a worker thread: {e}"))
        }
    }
}

fn run(py: Python<'_>, task: Task) {
    // A panic inside a task is reported by the task's dropped sender (the caller sees an error).
    let _ = catch_unwind(AssertUnwindSafe(|| task(py)));
}

fn worker() {
    let p = pool();
    loop {
        let task = {
            let mut s = p.lock();
            loop {
                if let Some(t) = s.queue.pop_front() {
                    break Some(t);
                }
                s.idle += 1;
                let mut timed_out = false;
                loop {
                    let (g, r) = p.cv.wait_timeout(s, IDLE_EXIT).unwrap_or_else(|e| e.into_inner());
                    s = g;
                    if s.tokens > 0 {
                        s.tokens -= 1;
                        break;
                    }
                    if r.timed_out() {
                        s.idle -= 1;
                        timed_out = true;
                        break;
                    }
                }
                if timed_out && s.queue.is_empty() {
                    s.threads -= 1;
                    break None;
                }
            }
        };
        let Some(task) = task else { return };
        Python::attach(|py| {
            run(py, task);
            loop {
                let next = p.lock().queue.pop_front();
                match next {
                    Some(t) => run(py, t),
                    None => break,
                }
            }
        });
    }
}
