//! The simulated acceptor processes: their kinds, storage that outlives a crash, restarts and trims.

use super::*;

/// A store that outlives acceptor processes: what an async log has made durable.
pub(super) struct Store {
    pub(super) log: RefCell<MemoryLog>,
    /// The process incarnation allowed to write; older ones are dead.
    pub(super) incarnation: Cell<u64>,
}

/// An [`AsyncLog`] whose writes take virtual time and then land in a [`Store`], unless
/// the process that started them died meanwhile.
pub(super) struct SimAsyncLog {
    pub(super) store: Rc<Store>,
    pub(super) incarnation: u64,
    pub(super) world: Rc<World>,
    pub(super) acceptor: usize,
    pub(super) holds_accepts: bool,
}

impl SimAsyncLog {
    pub(super) fn alive(&self) -> Result<()> {
        if self.store.incarnation.get() == self.incarnation {
            Ok(())
        } else {
            Err(Error::storage("sim: the process that opened this log died"))
        }
    }
}

impl AsyncLog for SimAsyncLog {
    async fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        // Storage is slow only while faults last (after them, a write fits in a call's timeout).
        let most =
            if self.world.faulty() { self.world.scenario.write_delay } else { self.world.scenario.write_delay.min(10) };
        let delay = self.world.draw(|rng, _| rng.u64(0..=most));
        SimSleeper(self.world.clone()).sleep(ms(delay)).await;
        self.alive()?;
        self.store.log.borrow_mut().record(id, data)?;
        if self.holds_accepts {
            if let Ok(p) = decode_accept(id, data) {
                if p.id != 0 {
                    self.world.vote(self.acceptor, &p);
                }
            }
        }
        Ok(())
    }
    async fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        self.store.log.borrow().last()
    }
    async fn range(&self, start: u64, stop: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        self.store.log.borrow().range(start, stop, &mut |id, data| {
            out.push((id, data.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }
    async fn trim(&mut self, before: u64) -> Result<()> {
        self.alive()?;
        self.store.log.borrow_mut().trim(before)
    }
}

pub(super) type SimAsync = AsyncAcceptor<SimAsyncLog, SimAsyncLog>;
#[cfg(feature = "file-log")]
pub(super) type DiskAcceptor = LocalAcceptor<FileLog<SimDir>, FileLog<SimDir>>;

pub(super) enum Instance {
    Down,
    Memory(LocalAcceptor),
    #[cfg(feature = "file-log")]
    Disk(DiskAcceptor),
    Async(Rc<SimAsync>),
}

pub(super) struct AcceptorNode {
    pub(super) kind: AcceptorKind,
    pub(super) instance: Instance,
    pub(super) memory: (MemoryLog, MemoryLog),
    #[cfg(feature = "file-log")]
    pub(super) disk: SimDisk,
    pub(super) stores: (Rc<Store>, Rc<Store>),
    pub(super) incarnation: u64,
    /// The acceptor's trim point (what it was last asked to trim below).
    pub(super) trimmed: Slot,
    /// The highest ballot its answers showed it promised (synchronous kinds).
    pub(super) exposed: Ballot,
}

impl World {
    pub(super) fn async_instance(&self, a: usize) -> Option<Rc<SimAsync>> {
        match &self.acceptors.borrow().get(a)?.instance {
            Instance::Async(x) => Some(x.clone()),
            _ => None,
        }
    }

    pub(super) fn deliver(self: &Rc<Self>, to: usize, call: Call, reply: ReplyTo) {
        enum Sync {
            Memory(LocalAcceptor),
            #[cfg(feature = "file-log")]
            Disk(DiskAcceptor),
        }
        let instance = match &self.acceptors.borrow()[to].instance {
            Instance::Down => return,
            Instance::Memory(a) => Ok(Sync::Memory(a.clone())),
            #[cfg(feature = "file-log")]
            Instance::Disk(a) => Ok(Sync::Disk(a.clone())),
            Instance::Async(a) => Err(a.clone()),
        };
        match instance {
            Ok(sync) => {
                let answer = match sync {
                    Sync::Memory(a) => self.call_sync(to, &a, call),
                    #[cfg(feature = "file-log")]
                    Sync::Disk(a) => self.call_sync(to, &a, call),
                };
                if let Some(answer) = answer {
                    self.send_reply(reply, answer);
                }
            }
            Err(acceptor) => {
                let world = self.clone();
                let task = self.spawn(Box::pin(async move {
                    let answer = match call {
                        Call::Prepare(r) => Answer::Promise(acceptor.prepare(&r).await),
                        Call::Accept(p) => Answer::Proposal(acceptor.accept(&p).await),
                        Call::AcceptBatch(b) => Answer::Proposal(acceptor.accept_batch(&b).await),
                        Call::Observe(r) => Answer::List(acceptor.accepted_from(&r).await),
                    };
                    world.send_reply(reply, answer);
                }));
                if self.faulty() && self.chance(self.scenario.cancel) {
                    let after = self.draw(|rng, s| rng.u64(0..=s.write_delay));
                    self.schedule(after, Event::CancelTask(task));
                }
            }
        }
    }

    /// Handle a call on a synchronous acceptor; `None` when the process died doing it.
    pub(super) fn call_sync<P: Log, A: Log>(
        &self,
        to: usize,
        acceptor: &LocalAcceptor<P, A>,
        call: Call,
    ) -> Option<Answer> {
        // On a disk, the process may die in the middle of this call's write.
        #[cfg(feature = "file-log")]
        let armed = {
            let nodes = self.acceptors.borrow();
            let node = &nodes[to];
            let arm = node.kind == AcceptorKind::Disk && self.faulty() && self.chance(self.scenario.acceptor_crash);
            if arm {
                node.disk.fail_next_syncs(1);
            }
            arm
        };
        #[cfg(not(feature = "file-log"))]
        let armed = false;
        let call_ballot = match &call {
            Call::Prepare(r) => Some(r.id),
            Call::Accept(p) => Some(p.id),
            Call::AcceptBatch(b) => Some(b.id),
            Call::Observe(_) => None,
        };
        let answer = match call {
            Call::Prepare(r) => Answer::Promise(acceptor.with(|a| a.prepare(&r))),
            Call::Accept(p) => {
                let r = acceptor.with(|a| a.accept(&p));
                if matches!(&r, Ok(reply) if reply.is_accepted()) {
                    self.vote(to, &p);
                }
                Answer::Proposal(r)
            }
            Call::AcceptBatch(b) => {
                let r = acceptor.with(|a| a.accept_batch(&b));
                if matches!(&r, Ok(reply) if reply.is_accepted()) {
                    for p in b.proposals() {
                        self.vote(to, &p);
                    }
                }
                Answer::Proposal(r)
            }
            Call::Observe(r) => Answer::List(acceptor.with(|a| a.accepted_from(&r))),
        };
        let failed = matches!(
            &answer,
            Answer::Promise(Err(Error::Storage { .. })) | Answer::Proposal(Err(Error::Storage { .. }))
        );
        if armed || failed {
            if failed && !armed {
                self.violation(format!("acceptor {to}: its log failed with no fault injected"));
            }
            self.crash_acceptor(to);
            return None;
        }
        let shown = match (&answer, &call_ballot) {
            (Answer::Promise(Ok(p)), Some(b)) if p.is_granted() => *b,
            (Answer::Promise(Ok(p)), _) => p.promised,
            (Answer::Proposal(Ok(p)), Some(b)) if p.is_accepted() => *b,
            (Answer::Proposal(Ok(p)), _) => p.promised,
            _ => 0,
        };
        {
            let mut nodes = self.acceptors.borrow_mut();
            nodes[to].exposed = nodes[to].exposed.max(shown);
        }
        self.check_acceptor(to, acceptor);
        Some(answer)
    }

    /// The acceptor invariants Paxos rests on: nothing accepted above the promise, and the
    /// promise never below what its answers showed, even after a restart.
    pub(super) fn check_acceptor<P: Log, A: Log>(&self, a: usize, acceptor: &LocalAcceptor<P, A>) {
        let exposed = self.acceptors.borrow()[a].exposed;
        let state = acceptor.with(|acc| {
            let promised = acc.core().promised();
            Ok((promised, acc.core().accepted_from(0).find(|p| p.id > promised).map(|p| (p.slot, p.id))))
        });
        let Ok((promised, above)) = state else { return };
        if let Some((slot, ballot)) = above {
            self.violation(format!(
                "acceptor {a} accepted ballot {ballot} at slot {slot} above its promise {promised}"
            ));
        }
        if promised < exposed {
            self.violation(format!("acceptor {a} promises {promised}, below the {exposed} it has answered with"));
        }
    }

    pub(super) fn crash_acceptor(&self, a: usize) {
        let keep = self.draw(|rng, _| rng.usize(0..64));
        {
            let mut nodes = self.acceptors.borrow_mut();
            let node = &mut nodes[a];
            if matches!(node.instance, Instance::Down) {
                return;
            }
            node.instance = Instance::Down;
            node.incarnation += 1;
            node.stores.0.incarnation.set(node.incarnation);
            node.stores.1.incarnation.set(node.incarnation);
            #[cfg(feature = "file-log")]
            if node.kind == AcceptorKind::Disk {
                node.disk.crash(Crash::TornLastWrite { keep });
            }
            let _ = keep;
        }
        self.outcome.borrow_mut().acceptor_crashes += 1;
        let down_for = self.draw(|rng, _| rng.u64(1..=200));
        self.schedule(down_for, Event::AcceptorRestart(a));
    }

    pub(super) fn restart_acceptor(self: &Rc<Self>, a: usize) {
        let (kind, incarnation) = {
            let nodes = self.acceptors.borrow();
            let node = &nodes[a];
            if !matches!(node.instance, Instance::Down) {
                return;
            }
            (node.kind, node.incarnation)
        };
        let mutation = self.mutation;
        let opened: Result<Option<Instance>> = match kind {
            AcceptorKind::Memory => {
                let (p, acc) = self.acceptors.borrow()[a].memory.clone();
                Acceptor::new_mutated(p, acc, mutation).map(|x| Some(Instance::Memory(LocalAcceptor::new(x))))
            }
            #[cfg(feature = "file-log")]
            AcceptorKind::Disk => {
                let disk = self.acceptors.borrow()[a].disk.clone();
                (|| {
                    let (p, acc) = (disk.open_log("promises")?, disk.open_log("accepts")?);
                    Acceptor::new_mutated(p, acc, mutation).map(|x| Some(Instance::Disk(LocalAcceptor::new(x))))
                })()
            }
            #[cfg(not(feature = "file-log"))]
            AcceptorKind::Disk => Ok(None),
            AcceptorKind::AsyncServed | AcceptorKind::AsyncDirect => {
                // Opening is async: a task reads the logs, then installs the instance.
                let (p, acc) = self.acceptors.borrow()[a].stores.clone();
                let log = |store: Rc<Store>, holds_accepts| SimAsyncLog {
                    store,
                    incarnation,
                    world: self.clone(),
                    acceptor: a,
                    holds_accepts,
                };
                let (p, acc) = (log(p, false), log(acc, true));
                let world = self.clone();
                self.spawn(Box::pin(async move {
                    match AsyncAcceptor::open_mutated(p, acc, mutation).await {
                        Ok(x) => {
                            let mut nodes = world.acceptors.borrow_mut();
                            if nodes[a].incarnation == incarnation && matches!(nodes[a].instance, Instance::Down) {
                                nodes[a].instance = Instance::Async(Rc::new(x));
                            }
                        }
                        Err(e) => world.violation(format!("acceptor {a} could not reopen: {e}")),
                    }
                }));
                Ok(None)
            }
        };
        match opened {
            Ok(Some(instance)) => {
                // A write that failed may still have reached the disk whole (a torn write
                // that kept it all): what the acceptor holds now is durable, so it counts.
                let held = match &instance {
                    Instance::Memory(x) => x.with(|acc| Ok(acc.core().accepted_from(0).collect::<Vec<_>>())),
                    #[cfg(feature = "file-log")]
                    Instance::Disk(x) => x.with(|acc| Ok(acc.core().accepted_from(0).collect::<Vec<_>>())),
                    _ => Ok(Vec::new()),
                };
                for p in held.unwrap_or_default().iter().filter(|p| p.id != 0) {
                    self.vote(a, p);
                }
                match &instance {
                    Instance::Memory(x) => self.check_acceptor(a, x),
                    #[cfg(feature = "file-log")]
                    Instance::Disk(x) => self.check_acceptor(a, x),
                    _ => {}
                }
                self.acceptors.borrow_mut()[a].instance = instance;
            }
            Ok(None) => {}
            Err(e) => self.violation(format!("acceptor {a} could not recover: {e}")),
        }
    }

    /// Trim acceptor `a` somewhere below the chosen prefix (what an application that has
    /// applied the log may do).
    pub(super) fn trim_acceptor(self: &Rc<Self>, a: usize) {
        let prefix_end = {
            let truth = self.truth.borrow();
            let first = truth.chosen.keys().next().copied();
            let mut end = first.unwrap_or(0);
            while truth.chosen.contains_key(&end) {
                end = end.saturating_add(1);
            }
            if first.is_none() {
                return;
            }
            end
        };
        let (current, instance) = {
            let nodes = self.acceptors.borrow();
            let node = &nodes[a];
            let instance = match &node.instance {
                Instance::Down => return,
                Instance::Memory(x) => Ok(Some(x.clone())),
                #[cfg(feature = "file-log")]
                Instance::Disk(_) => Ok(None),
                Instance::Async(x) => Err(x.clone()),
            };
            (node.trimmed, instance)
        };
        let first_chosen = self.truth.borrow().chosen.keys().next().copied().unwrap_or(0);
        if prefix_end <= current.max(first_chosen) {
            return;
        }
        let at = self.draw(|rng, _| rng.u64(current.max(first_chosen) + 1..=prefix_end));
        self.acceptors.borrow_mut()[a].trimmed = at;
        self.outcome.borrow_mut().trims += 1;
        match instance {
            Ok(Some(x)) => {
                if let Err(e) = x.with(|acc| acc.trim(at)) {
                    self.violation(format!("acceptor {a}: trim failed: {e}"));
                }
            }
            Ok(None) =>
            {
                #[cfg(feature = "file-log")]
                if let Instance::Disk(x) = &self.acceptors.borrow()[a].instance {
                    if let Err(e) = x.with(|acc| acc.trim(at)) {
                        self.violation(format!("acceptor {a}: trim failed: {e}"));
                    }
                }
            }
            Err(x) => {
                let world = self.clone();
                self.spawn(Box::pin(async move {
                    if let Err(e) = x.trim(at).await {
                        if !matches!(e, Error::Storage { .. } | Error::Closed(_)) {
                            world.violation(format!("acceptor {a}: trim failed: {e}"));
                        }
                    }
                }));
            }
        }
    }
}
