//! The virtual-time executor: tasks, wakers, timers and the event queue.

use super::*;

/// Ticks of virtual time for a duration (1 tick = 1 ms, rounded up).
pub(super) fn ticks(d: Duration) -> u64 {
    u64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u64::MAX).min(1 << 40)
}

pub(super) fn ms(ticks: u64) -> Duration {
    Duration::from_millis(ticks)
}

pub(super) struct Timer {
    pub(super) fired: Cell<bool>,
    pub(super) waker: RefCell<Option<Waker>>,
}

/// A [`Sleeper`] on the world's virtual clock.
#[derive(Clone)]
pub(super) struct SimSleeper(pub(super) Rc<World>);

pub(super) struct Sleep {
    pub(super) world: Rc<World>,
    pub(super) ticks: u64,
    pub(super) timer: Option<Rc<Timer>>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.ticks == 0 {
            return Poll::Ready(());
        }
        match &self.timer {
            Some(t) if t.fired.get() => Poll::Ready(()),
            Some(t) => {
                *t.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
            None => {
                let t = Rc::new(Timer { fired: Cell::new(false), waker: RefCell::new(Some(cx.waker().clone())) });
                let ticks = self.ticks;
                self.world.schedule(ticks, Event::Timer(t.clone()));
                self.timer = Some(t);
                Poll::Pending
            }
        }
    }
}

impl Sleeper for SimSleeper {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        Sleep { world: self.0.clone(), ticks: ticks(duration), timer: None }
    }
}

pub(super) struct TaskWaker {
    pub(super) id: usize,
    pub(super) ready: Arc<Mutex<VecDeque<usize>>>,
}

impl ArcWake for TaskWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        if let Ok(mut ready) = arc_self.ready.lock() {
            ready.push_back(arc_self.id);
        }
    }
}

impl World {
    pub(super) fn schedule(&self, delay: u64, event: Event) {
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        self.queue.borrow_mut().push(Reverse((self.now.get().saturating_add(delay), seq)));
        self.events.borrow_mut().insert(seq, event);
    }

    pub(super) fn spawn(&self, fut: LocalBoxFuture<'static, ()>) -> usize {
        let mut tasks = self.tasks.borrow_mut();
        let id = tasks.len();
        tasks.push(Some(fut));
        if let Ok(mut ready) = self.ready.lock() {
            ready.push_back(id);
        }
        id
    }

    pub(super) fn cancel(&self, id: usize) -> bool {
        // Taken out first, so that whatever its drop does runs with no borrow held.
        let task = self.tasks.borrow_mut().get_mut(id).and_then(Option::take);
        let was = task.is_some();
        drop(task);
        was
    }

    pub(super) fn run_ready(&self) {
        loop {
            let next = self.ready.lock().ok().and_then(|mut r| r.pop_front());
            let Some(id) = next else { return };
            let task = self.tasks.borrow_mut().get_mut(id).and_then(Option::take);
            let Some(mut task) = task else { continue };
            let waker = futures::task::waker(Arc::new(TaskWaker { id, ready: self.ready.clone() }));
            if task.as_mut().poll(&mut Context::from_waker(&waker)).is_pending() {
                if let Some(slot) = self.tasks.borrow_mut().get_mut(id) {
                    *slot = Some(task);
                }
            }
        }
    }

    /// Run until `stop` holds, the queue is empty, or time passes `until`.
    pub(super) fn run_until(self: &Rc<Self>, until: u64, stop: impl Fn(&World) -> bool) {
        loop {
            self.run_ready();
            if stop(self) {
                return;
            }
            let next = self.queue.borrow_mut().pop();
            let Some(Reverse((time, seq))) = next else { return };
            if time > until {
                self.queue.borrow_mut().push(Reverse((time, seq)));
                return;
            }
            self.now.set(time);
            self.sync_clocks();
            let event = self.events.borrow_mut().remove(&seq);
            let Some(event) = event else { continue };
            self.outcome.borrow_mut().events += 1;
            self.mix(time << 20 ^ seq);
            self.handle(event);
        }
    }
}
