//! Simulation of the code users call: [`Proposer`] and [`ReplicatedLog`] (leases, `read`
//! with hole filling, trim) over [`LocalAcceptor`]s on memory or simulated-disk logs and
//! over [`AsyncAcceptor`]s, run on a single-threaded executor whose clock is virtual.
//!
//! One seed fixes everything. Each [`Family`] aims at a kind of trouble: proposers that
//! restart with fresh id generators (of either kind, on clocks that jump), logs that start
//! at the end of the slot space, in-process async acceptors whose calls are dropped mid-write,
//! trims with handles that join afterwards, and links that leave `frontier` out. Faults end
//! at a set time; the run then goes on until every message in flight is delivered.
//!
//! The oracles read ground truth from the acceptors themselves: a value is chosen when a
//! majority made one accept of it durable (for an [`AsyncAcceptor`], when its log's write
//! completed). Then:
//!
//! - **safety**: one value per slot, and never two values at one ballot of a slot;
//! - **validity**: every chosen value was proposed (or is the empty hole filler);
//! - **agreement**: every append's slot, every `propose` result and every entry a reader
//!   got is what was chosen there;
//! - **liveness**: after the faults, every writer finishes, and a final reader reads the
//!   whole log, up to every acknowledged slot.
//!
//! ```
//! use synodos::sim::driver::{run, Family};
//! let outcome = run(Family::General, 7, None);
//! assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
//! ```

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::LocalBoxFuture;
use futures::task::ArcWake;

use crate::driver::{AcceptorClient, LocalAcceptor, Proposer, ProposerConfig, ReplicatedLog, Sleeper};
use crate::driver::{CounterIdGenerator, IdGenerator, ManualClock, ServerIdGenerator};
use crate::protocol::acceptor::decode_accept;
use crate::protocol::attempt::majority;
use crate::protocol::error::{Error, Result};
use crate::protocol::message::{Ballot, Batch, Promise, Proposal, Request, Slot, LAST_SLOT};
use crate::protocol::mutation::Mutation;
#[cfg(feature = "file-log")]
use crate::sim::disk::{Crash, SimDir, SimDisk};
#[cfg(feature = "file-log")]
use crate::storage::file_log::FileLog;
use crate::storage::Acceptor;
use crate::storage::{AsyncAcceptor, AsyncLog};
use crate::storage::{Log, MemoryLog};

mod executor;
mod network;
mod nodes;
mod scenario;
mod truth;
mod writers;

use executor::*;
use network::*;
use nodes::*;
pub use scenario::{AcceptorKind, Family, IdKinds, Scenario};
use truth::*;
use writers::*;

/// What one schedule did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Broken oracles, each described; empty when all held.
    pub violations: Vec<String>,
    /// Events processed.
    pub events: u64,
    /// Slots chosen.
    pub chosen: usize,
    /// Appends (or proposals) acknowledged to writers.
    pub acked: u64,
    /// Acceptor crashes.
    pub acceptor_crashes: u64,
    /// Writer restarts (each with a fresh id generator).
    pub writer_restarts: u64,
    /// Futures dropped on purpose (appends and served acceptor calls).
    pub cancellations: u64,
    /// Trims done.
    pub trims: u64,
    /// Batched accepts sent (to one acceptor each), and the appends they carried.
    pub batches: u64,
    /// Appends carried by batched accepts.
    pub batched_appends: u64,
    /// Entries the readers checked.
    pub entries_read: u64,
    /// A digest of the run, equal for equal seeds.
    pub digest: u64,
    /// The scenario played.
    pub scenario: Option<Scenario>,
}

enum Event {
    Timer(Rc<Timer>),
    Deliver {
        to: usize,
        call: Call,
        reply: ReplyTo,
    },
    Reply {
        reply: ReplyTo,
        answer: Answer,
    },
    FaultTick,
    AcceptorRestart(usize),
    WriterStart(usize),
    /// Writer `.0`'s incarnation `.1` crashes (if it is still the one running).
    WriterCrash(usize, u64),
    CancelTask(usize),
}

struct World {
    rng: RefCell<fastrand::Rng>,
    scenario: Scenario,
    mutation: Option<Mutation>,
    now: Cell<u64>,
    seq: Cell<u64>,
    queue: RefCell<BinaryHeap<Reverse<(u64, u64)>>>,
    events: RefCell<HashMap<u64, Event>>,
    tasks: RefCell<Vec<Option<LocalBoxFuture<'static, ()>>>>,
    ready: Arc<Mutex<VecDeque<usize>>>,
    acceptors: RefCell<Vec<AcceptorNode>>,
    /// Which links strip `frontier`: (writer node, acceptor).
    stripped: RefCell<HashMap<(u16, usize), bool>>,
    /// Cut links: (writer node, acceptor) -> the tick they heal at.
    cut: RefCell<HashMap<(u16, usize), u64>>,
    writers: RefCell<Vec<Writer>>,
    truth: RefCell<Truth>,
    outcome: RefCell<Outcome>,
    readers_done: Cell<bool>,
}

const READER_NODE: u16 = 900;
const FINAL_READER_NODE: u16 = 901;

/// Play one schedule of `family` from `seed`, with an optional injected bug.
pub fn run(family: Family, seed: u64, mutation: Option<Mutation>) -> Outcome {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xd21e_5eed);
    let scenario = Scenario::draw(family, &mut rng);
    run_scenario(seed, scenario, mutation)
}

/// Play `scenario` with the random choices of `seed`.
pub fn run_scenario(seed: u64, scenario: Scenario, mutation: Option<Mutation>) -> Outcome {
    let world = Rc::new(World {
        rng: RefCell::new(fastrand::Rng::with_seed(seed)),
        scenario: scenario.clone(),
        mutation,
        now: Cell::new(0),
        seq: Cell::new(0),
        queue: RefCell::new(BinaryHeap::new()),
        events: RefCell::new(HashMap::new()),
        tasks: RefCell::new(Vec::new()),
        ready: Arc::new(Mutex::new(VecDeque::new())),
        acceptors: RefCell::new(Vec::new()),
        stripped: RefCell::new(HashMap::new()),
        cut: RefCell::new(HashMap::new()),
        writers: RefCell::new(Vec::new()),
        truth: RefCell::new(Truth::default()),
        outcome: RefCell::new(Outcome::default()),
        readers_done: Cell::new(false),
    });
    for &kind in &scenario.kinds {
        let store = || Rc::new(Store { log: RefCell::new(MemoryLog::new()), incarnation: Cell::new(0) });
        world.acceptors.borrow_mut().push(AcceptorNode {
            kind,
            instance: Instance::Down,
            memory: (MemoryLog::new(), MemoryLog::new()),
            #[cfg(feature = "file-log")]
            disk: SimDisk::new(),
            stores: (store(), store()),
            incarnation: 0,
            trimmed: 0,
            exposed: 0,
        });
    }
    for a in 0..scenario.kinds.len() {
        world.restart_acceptor(a);
    }
    let all = scenario.writers + scenario.late_writers;
    for w in 0..all {
        let values: Vec<Vec<u8>> = (0..scenario.values_per_writer).map(|k| format!("w{w}v{k}").into_bytes()).collect();
        world.truth.borrow_mut().proposed.extend(values.iter().cloned());
        let offset = world.draw(|rng, _| rng.i64(-5_000..5_000));
        world.writers.borrow_mut().push(Writer {
            node: w as u16 + 1,
            done: vec![false; values.len()],
            values,
            first_slot: scenario.first_slots[w % scenario.first_slots.len()],
            log: None,
            proposer: None,
            task: None,
            clock: ManualClock::new(1_000_000),
            clock_offset: offset,
            up: false,
            started: false,
            dying: false,
            accepts_sent: BTreeSet::new(),
            incarnation: 0,
        });
    }
    world.sync_clocks();
    for w in 0..all {
        let at = if w < scenario.writers {
            world.draw(|rng, s| w as u64 * s.stagger + rng.u64(0..20))
        } else {
            world.draw(|rng, s| rng.u64(s.faults_until / 2..=s.faults_until))
        };
        world.schedule(at, Event::WriterStart(w));
    }
    world.schedule(1, Event::FaultTick);
    if !scenario.single_decree {
        let ids = Arc::new(CounterIdGenerator::new(READER_NODE));
        if let Some(p) = world.proposer(READER_NODE, None, ids) {
            let start = scenario.first_slots.iter().max().copied().unwrap_or(0);
            let task_world = world.clone();
            world.spawn(Box::pin(async move {
                pause(&task_world, 100).await;
                reader_task(task_world.clone(), Rc::new(ReplicatedLog::starting_at(p, start)), start).await
            }));
        }
    } else {
        world.readers_done.set(true);
    }
    // The faulty part and the writers.
    world.run_until(scenario.deadline, |w| w.writers_done() && w.readers_done.get() && !w.faulty());
    if !world.writers_done() {
        let stuck: Vec<usize> = {
            let writers = world.writers.borrow();
            (0..writers.len()).filter(|&w| !writers[w].done.iter().all(|d| *d)).collect()
        };
        world.violation(format!(
            "liveness: writers {stuck:?} had not finished by tick {} (faults stopped at {})",
            scenario.deadline, scenario.faults_until
        ));
    }
    // Writers are done: cancel what still runs (as their callers would), then let every
    // message in flight arrive.
    let tasks = world.tasks.borrow().len();
    for t in 0..tasks {
        world.cancel(t);
    }
    world.run_until(u64::MAX, |_| false);
    // Then a fresh reader, with every acceptor up, reads the whole log.
    if !scenario.single_decree {
        for a in 0..scenario.kinds.len() {
            world.restart_acceptor(a);
        }
        world.run_until(u64::MAX, |_| false);
        world.readers_done.set(false);
        let ids = Arc::new(CounterIdGenerator::new(FINAL_READER_NODE));
        if let Some(p) = world.proposer(FINAL_READER_NODE, None, ids) {
            let trimmed = world.acceptors.borrow().iter().map(|a| a.trimmed).max().unwrap_or(0);
            let mut starts: Vec<Slot> = scenario.first_slots.iter().map(|s| (*s).max(trimmed)).collect();
            starts.sort_unstable();
            starts.dedup();
            let log = Rc::new(ReplicatedLog::starting_at(p, 0));
            let task_world = world.clone();
            world.spawn(Box::pin(final_read(task_world, log, starts)));
            let until = world.now.get().saturating_add(100_000);
            world.run_until(until, |w| w.readers_done.get());
            if !world.readers_done.get() {
                world.violation("liveness: the final read did not finish".into());
            }
        }
    }
    let chosen = world.truth.borrow().chosen.len();
    let mut outcome = world.outcome.borrow().clone();
    outcome.chosen = chosen;
    outcome.scenario = Some(scenario);
    // Break the reference cycles (tasks hold the world).
    world.tasks.borrow_mut().clear();
    world.events.borrow_mut().clear();
    world.writers.borrow_mut().clear();
    world.acceptors.borrow_mut().clear();
    outcome
}

/// Totals over many schedules of one family.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Schedules played.
    pub schedules: u64,
    /// Schedules with at least one violation.
    pub violations: u64,
    /// The first failing seed and its first violation.
    pub first_failure: Option<(u64, String)>,
    /// Events processed in all.
    pub events: u64,
    /// Appends acknowledged in all.
    pub acked: u64,
    /// Acceptor crashes in all.
    pub acceptor_crashes: u64,
    /// Writer restarts in all.
    pub writer_restarts: u64,
    /// Futures dropped on purpose in all.
    pub cancellations: u64,
    /// Trims in all.
    pub trims: u64,
    /// Batched accepts sent in all.
    pub batches: u64,
    /// Appends carried by batched accepts in all.
    pub batched_appends: u64,
}

/// Play every seed in `seeds` of `family`.
pub fn run_many(family: Family, seeds: std::ops::Range<u64>, mutation: Option<Mutation>) -> Summary {
    let mut summary = Summary::default();
    for seed in seeds {
        let outcome = run(family, seed, mutation);
        summary.schedules += 1;
        summary.events += outcome.events;
        summary.acked += outcome.acked;
        summary.acceptor_crashes += outcome.acceptor_crashes;
        summary.writer_restarts += outcome.writer_restarts;
        summary.cancellations += outcome.cancellations;
        summary.trims += outcome.trims;
        summary.batches += outcome.batches;
        summary.batched_appends += outcome.batched_appends;
        if let Some(first) = outcome.violations.first() {
            summary.violations += 1;
            if summary.first_failure.is_none() {
                summary.first_failure = Some((seed, first.clone()));
            }
        }
    }
    summary
}

impl World {
    fn faulty(&self) -> bool {
        self.now.get() < self.scenario.faults_until
    }

    fn draw<T>(&self, f: impl FnOnce(&mut fastrand::Rng, &Scenario) -> T) -> T {
        f(&mut self.rng.borrow_mut(), &self.scenario)
    }

    fn chance(&self, p: f64) -> bool {
        p > 0.0 && self.draw(|rng, _| rng.f64() < p)
    }

    fn fault_tick(self: &Rc<Self>) {
        if !self.faulty() {
            // Faults are over: every process comes back.
            for a in 0..self.scenario.kinds.len() {
                self.restart_acceptor(a);
            }
            let writers = self.writers.borrow().len();
            for w in 0..writers {
                let (up, started) = (self.writers.borrow()[w].up, self.writers.borrow()[w].started);
                if started && !up {
                    self.start_writer(w);
                }
            }
            return;
        }
        let n = self.scenario.kinds.len();
        for a in 0..n {
            if self.chance(self.scenario.acceptor_crash) {
                self.crash_acceptor(a);
            }
            if self.chance(self.scenario.trim) {
                self.trim_acceptor(a);
            }
        }
        let writers = self.writers.borrow().len();
        for w in 0..writers {
            if !self.writers.borrow()[w].up {
                continue;
            }
            if self.chance(self.scenario.writer_crash) {
                self.crash_writer(w);
            } else if self.chance(self.scenario.cancel) {
                self.cancel_append(w);
            }
            if self.chance(self.scenario.pause) {
                // The whole process stalls: every link cut for longer than a leader's wait.
                let node = self.writers.borrow()[w].node;
                let heal = self.now.get() + self.draw(|rng, _| 100 + rng.u64(0..400));
                for a in 0..n {
                    self.cut.borrow_mut().insert((node, a), heal);
                }
            }
            if self.chance(self.scenario.partition) {
                let node = self.writers.borrow()[w].node;
                self.cut_link(node);
            }
            if self.chance(self.scenario.clock_jump) {
                let jump = self.draw(|rng, _| rng.i64(-20_000..20_000));
                self.writers.borrow_mut()[w].clock_offset += jump;
            }
        }
        self.schedule(5, Event::FaultTick);
    }

    fn handle(self: &Rc<Self>, event: Event) {
        match event {
            Event::Timer(t) => {
                t.fired.set(true);
                if let Some(w) = t.waker.borrow_mut().take() {
                    w.wake();
                }
            }
            Event::Deliver { to, call, reply } => self.deliver(to, call, reply),
            Event::Reply { reply, answer } => {
                let sender = reply.borrow_mut().take();
                if let Some(tx) = sender {
                    let _ = tx.send(answer);
                }
            }
            Event::FaultTick => self.fault_tick(),
            Event::AcceptorRestart(a) => self.restart_acceptor(a),
            Event::WriterStart(w) => self.start_writer(w),
            Event::WriterCrash(w, incarnation) => {
                let current = self.writers.borrow()[w].incarnation == incarnation;
                if current {
                    self.crash_writer(w);
                }
            }
            Event::CancelTask(t) => {
                if self.cancel(t) {
                    self.outcome.borrow_mut().cancellations += 1;
                }
            }
        }
    }
}
