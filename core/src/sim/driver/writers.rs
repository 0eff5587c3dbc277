//! The simulated writer processes and readers: fresh id generators at every start, crashes, cancelled appends.

use super::*;

pub(super) type SimLog = ReplicatedLog<SimClient, SimSleeper>;
pub(super) type SimProposer = Proposer<SimClient, SimSleeper>;

pub(super) struct Writer {
    pub(super) node: u16,
    pub(super) values: Vec<Vec<u8>>,
    pub(super) done: Vec<bool>,
    pub(super) first_slot: Slot,
    /// The running process: its log handle (or proposer) and its task.
    pub(super) log: Option<Rc<SimLog>>,
    pub(super) proposer: Option<Rc<SimProposer>>,
    pub(super) task: Option<usize>,
    pub(super) clock: ManualClock,
    pub(super) clock_offset: i64,
    /// Whether the writer is up (down between a crash and its restart).
    pub(super) up: bool,
    pub(super) started: bool,
    /// Dying: it sends nothing more (it crashed in the middle of sending its accepts).
    pub(super) dying: bool,
    /// The acceptors this writer's accepts were sent to since its last start.
    pub(super) accepts_sent: BTreeSet<usize>,
    /// Bumped at every start: a restarted process appends new values (its values carry
    /// its incarnation), as an application's retried requests would.
    pub(super) incarnation: u64,
}

pub(super) fn is_log_full(e: &Error) -> bool {
    matches!(e, Error::InvalidArgument(m) if m.contains("log is full"))
}

pub(super) async fn pause(world: &Rc<World>, most: u64) {
    let t = world.draw(|rng, _| rng.u64(1..=most));
    SimSleeper(world.clone()).sleep(ms(t)).await;
}

pub(super) async fn writer_task(
    world: Rc<World>,
    w: usize,
    log: Option<Rc<SimLog>>,
    proposer: Option<Rc<SimProposer>>,
) {
    while let Some((i, value)) = world.next_value(w) {
        if let Some(p) = &proposer {
            match p.propose(value).await {
                Ok(chosen) => {
                    world.check_learned(&format!("writer {w}'s propose"), 0, &chosen);
                    world.outcome.borrow_mut().acked += 1;
                    // Single decree: learning the chosen value, whoever's, is the end.
                    let n = world.writers.borrow()[w].done.len();
                    (0..n).for_each(|i| world.mark_done(w, i));
                }
                Err(Error::ProtocolViolation(m)) => {
                    world.violation(format!("writer {w}: {m}"));
                    world.mark_done(w, i);
                }
                Err(_) => pause(&world, 50).await,
            }
            continue;
        }
        let Some(log) = &log else { return };
        // Several appenders on the one handle at once: their appends share batches.
        let m = world.scenario.appenders.max(1);
        futures::future::join_all((0..m).map(|k| appender(world.clone(), w, log.clone(), k, m))).await;
        return;
    }
}

/// Append writer `w`'s values `k, k + m, k + 2m, ...` one after another on `log`.
async fn appender(world: Rc<World>, w: usize, log: Rc<SimLog>, k: usize, m: usize) {
    while let Some((i, value)) = world.next_value_of(w, k, m) {
        match log.append(value.clone()).await {
            Ok(entry) => {
                world.check_learned(&format!("writer {w}'s append"), entry.slot, &entry.value);
                world.truth.borrow_mut().acked.push((entry.slot, entry.value));
                world.outcome.borrow_mut().acked += 1;
                world.mark_done(w, i);
            }
            Err(e) if is_log_full(&e) => world.mark_done(w, i),
            Err(Error::ProtocolViolation(m)) => {
                world.violation(format!("writer {w}: {m}"));
                world.mark_done(w, i);
            }
            Err(_) => pause(&world, 50).await,
        }
    }
}

/// A reader that follows the log while the writers run, checking every entry it gets.
pub(super) async fn reader_task(world: Rc<World>, log: Rc<SimLog>, mut next: Slot) {
    loop {
        let last_round = world.writers_done();
        match log.read(next, 8).await {
            Ok(entries) => {
                for e in &entries {
                    world.check_learned("the reader", e.slot, &e.value);
                    next = e.slot.saturating_add(1);
                }
                world.outcome.borrow_mut().entries_read += entries.len() as u64;
            }
            Err(Error::Trimmed { first, .. }) => next = next.max(first),
            Err(Error::ProtocolViolation(m)) => world.violation(format!("the reader: {m}")),
            Err(_) => {}
        }
        if last_round || next > LAST_SLOT {
            world.readers_done.set(true);
            return;
        }
        let every = world.scenario.read_every;
        pause(&world, every).await;
    }
}

/// The final reader: after the faults, it must read the whole log, up to every
/// acknowledged slot.
pub(super) async fn final_read(world: Rc<World>, log: Rc<SimLog>, starts: Vec<Slot>) {
    let acked = world.truth.borrow().acked.iter().map(|(s, _)| *s).collect::<Vec<_>>();
    // Each start begins a segment of the log, up to the next start (logs that begin near
    // the last slot are far from slot 0: the gap between is not read).
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(u64::MAX);
        let mut next = start;
        let goal = acked.iter().filter(|s| **s >= start && **s < end).max().copied();
        let Some(goal) = goal else { continue };
        let mut tries = 0;
        while next <= goal {
            match log.read(next, 64).await {
                Ok(entries) if !entries.is_empty() => {
                    for e in &entries {
                        world.check_learned("the final reader", e.slot, &e.value);
                        next = e.slot.saturating_add(1);
                    }
                    world.outcome.borrow_mut().entries_read += entries.len() as u64;
                }
                Ok(_) => {
                    tries += 1;
                    if tries > 20 {
                        world.violation(format!(
                            "liveness: the final read stopped at slot {next}, before acknowledged slot {goal}"
                        ));
                        break;
                    }
                    pause(&world, 20).await;
                }
                Err(Error::Trimmed { first, .. }) if first > next => next = first,
                Err(e) => {
                    tries += 1;
                    if tries > 20 {
                        world.violation(format!("liveness: the final read failed at slot {next}: {e}"));
                        break;
                    }
                    pause(&world, 20).await;
                }
            }
            if next > LAST_SLOT {
                break;
            }
        }
    }
    world.readers_done.set(true);
}

impl World {
    pub(super) fn clients(self: &Rc<Self>, node: u16, writer: Option<usize>) -> Vec<SimClient> {
        (0..self.scenario.kinds.len())
            .map(|a| {
                let strip = *self
                    .stripped
                    .borrow_mut()
                    .entry((node, a))
                    .or_insert_with(|| self.chance(self.scenario.strip_frontier));
                SimClient {
                    world: self.clone(),
                    writer,
                    node,
                    acceptor: a,
                    strip_frontier: strip,
                    direct: self.scenario.kinds[a] == AcceptorKind::AsyncDirect,
                }
            })
            .collect()
    }

    pub(super) fn proposer(
        self: &Rc<Self>,
        node: u16,
        writer: Option<usize>,
        ids: Arc<dyn IdGenerator>,
    ) -> Option<SimProposer> {
        let config = ProposerConfig {
            call_timeout: ms(60),
            max_attempts: 6,
            backoff_min: ms(1),
            backoff_max: ms(60),
            poll_interval: ms(10),
            seed: Some(self.draw(|rng, _| rng.u64(..))),
            leader_wait: ms(40),
            max_batch: 8,
            pipeline: 3,
        };
        match Proposer::with_config(self.clients(node, writer), ids, SimSleeper(self.clone()), config) {
            Ok(mut p) => {
                p.set_mutation(self.mutation);
                Some(p)
            }
            Err(e) => {
                self.violation(format!("could not build a proposer: {e}"));
                None
            }
        }
    }

    /// A fresh id generator for writer `w`: a new instance every time, as after a restart.
    pub(super) fn fresh_ids(&self, w: usize) -> Arc<dyn IdGenerator> {
        let server = match self.scenario.id_kinds {
            IdKinds::Counter => false,
            IdKinds::Server => true,
            IdKinds::Mixed => self.draw(|rng, _| rng.bool()),
        };
        let writers = self.writers.borrow();
        let writer = &writers[w];
        if server {
            Arc::new(ServerIdGenerator::new(writer.node as u8, writer.clock.clone()))
        } else {
            Arc::new(CounterIdGenerator::new(writer.node))
        }
    }

    pub(super) fn sync_clocks(&self) {
        let now = self.now.get();
        for w in self.writers.borrow().iter() {
            let t = (1_000_000 + now as i64 + w.clock_offset).max(1);
            w.clock.set(t as u64);
        }
    }

    /// Start writer `w`'s process (again): a fresh id generator and log handle.
    pub(super) fn start_writer(self: &Rc<Self>, w: usize) {
        if self.writers.borrow()[w].up {
            return;
        }
        let node = self.writers.borrow()[w].node;
        let ids = self.fresh_ids(w);
        let Some(proposer) = self.proposer(node, Some(w), ids) else { return };
        let (restart, incarnation) = {
            let mut writers = self.writers.borrow_mut();
            let writer = &mut writers[w];
            writer.up = true;
            writer.dying = false;
            let restart = writer.started;
            writer.started = true;
            writer.incarnation += 1;
            let incarnation = writer.incarnation;
            let mut fresh = Vec::new();
            for (k, (value, done)) in writer.values.iter_mut().zip(&writer.done).enumerate() {
                if !done {
                    *value = format!("w{w}v{k}i{incarnation}").into_bytes();
                    fresh.push(value.clone());
                }
            }
            self.truth.borrow_mut().proposed.extend(fresh);
            if self.scenario.single_decree {
                writer.proposer = Some(Rc::new(proposer));
            } else {
                writer.log = Some(Rc::new(ReplicatedLog::starting_at(proposer, writer.first_slot)));
            }
            (restart, incarnation)
        };
        if restart {
            self.outcome.borrow_mut().writer_restarts += 1;
        }
        self.spawn_writer_task(w);
        if restart && self.faulty() && self.chance(self.scenario.partition_on_start) {
            let reached = std::mem::take(&mut self.writers.borrow_mut()[w].accepts_sent);
            let heal = self.now.get() + self.draw(|rng, _| 30 + rng.u64(0..120));
            for a in reached {
                self.cut.borrow_mut().insert((node, a), heal);
            }
        }
        if self.faulty() && self.chance(self.scenario.early_crash) {
            let after = self.draw(|rng, _| rng.u64(5..=60));
            self.schedule(after, Event::WriterCrash(w, incarnation));
        }
    }

    pub(super) fn spawn_writer_task(self: &Rc<Self>, w: usize) {
        let world = self.clone();
        let (log, proposer) = {
            let writers = self.writers.borrow();
            (writers[w].log.clone(), writers[w].proposer.clone())
        };
        let task = self.spawn(Box::pin(async move { writer_task(world, w, log, proposer).await }));
        self.writers.borrow_mut()[w].task = Some(task);
    }

    pub(super) fn crash_writer(&self, w: usize) {
        let task = {
            let mut writers = self.writers.borrow_mut();
            let writer = &mut writers[w];
            if !writer.up {
                return;
            }
            writer.up = false;
            writer.task.take()
        };
        if let Some(t) = task {
            self.cancel(t);
        }
        // The process is gone: its handle, proposer and id generator with it.
        let (log, proposer) = {
            let mut writers = self.writers.borrow_mut();
            (writers[w].log.take(), writers[w].proposer.take())
        };
        drop((log, proposer));
        let after = self.draw(|rng, s| rng.u64(1..=s.restart_delay));
        self.schedule(after, Event::WriterStart(w));
    }

    pub(super) fn cancel_append(self: &Rc<Self>, w: usize) {
        let task = {
            let mut writers = self.writers.borrow_mut();
            if !writers[w].up {
                return;
            }
            writers[w].task.take()
        };
        if let Some(t) = task {
            if self.cancel(t) {
                self.outcome.borrow_mut().cancellations += 1;
            }
        }
        // Same process, same handle: the caller starts the append over.
        self.spawn_writer_task(w);
    }

    pub(super) fn writers_done(&self) -> bool {
        self.writers.borrow().iter().all(|w| w.started && w.done.iter().all(|d| *d))
    }

    pub(super) fn next_value(&self, w: usize) -> Option<(usize, Vec<u8>)> {
        let writers = self.writers.borrow();
        let writer = &writers[w];
        writer.done.iter().position(|d| !d).map(|i| (i, writer.values[i].clone()))
    }

    /// The first value not yet done among writer `w`'s values `k, k + m, ...`.
    pub(super) fn next_value_of(&self, w: usize, k: usize, m: usize) -> Option<(usize, Vec<u8>)> {
        let writers = self.writers.borrow();
        let writer = &writers[w];
        (k..writer.done.len()).step_by(m.max(1)).find(|&i| !writer.done[i]).map(|i| (i, writer.values[i].clone()))
    }

    pub(super) fn mark_done(&self, w: usize, i: usize) {
        if let Some(d) = self.writers.borrow_mut()[w].done.get_mut(i) {
            *d = true;
        }
    }
}
