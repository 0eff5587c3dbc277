//! Deterministic simulation of the sans-IO core under a faulty network.
//!
//! One seed fixes everything: the cluster's shape, the fault rates, every delay, loss,
//! duplicate, crash and backoff. [`run`] plays one schedule and checks the oracles:
//!
//! - **safety**: at most one value is chosen per slot (counted from every accept that
//!   happened, not from what anyone reported);
//! - **validity**: every chosen value was proposed;
//! - **agreement**: what each learner and each proposer learned is what was chosen;
//! - **liveness**: once the faults stop (every acceptor back up, no loss, no duplicates),
//!   every proposal finishes.
//!
//! ```
//! let outcome = synodos::sim::run(42, None);
//! assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
//! ```

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};

use crate::driver::{CounterIdGenerator, IdGenerator};
use crate::protocol::acceptor::AcceptorCore;
use crate::protocol::attempt::{majority, Attempt, Lease, Progress};
use crate::protocol::learner::Learner;
use crate::protocol::message::{Ballot, Promise, Proposal, Request, Slot};
use crate::protocol::mutation::Mutation;
#[cfg(feature = "file-log")]
use crate::sim::disk::{Crash, SimDir, SimDisk};
#[cfg(feature = "file-log")]
use crate::storage::file_log::FileLog;
use crate::storage::{Log, MemoryLog};

/// The shape and fault rates of one schedule (drawn from the seed by [`run`]).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Acceptors in the cluster.
    pub acceptors: usize,
    /// Competing proposers.
    pub proposers: usize,
    /// Values each proposer must get into the log (1 = single decree at slot 0).
    pub values_per_proposer: usize,
    /// Probability that a message is lost (while faults last).
    pub loss: f64,
    /// Probability that a message is delivered twice (while faults last).
    pub duplication: f64,
    /// Largest delivery delay in ticks; delays are uniform, so messages reorder.
    pub max_delay: u64,
    /// Probability, per delivered message, that an up acceptor crashes.
    pub crash: f64,
    /// Tick at which faults stop.
    pub faults_until: u64,
    /// Tick by which every proposal must have finished.
    pub deadline: u64,
    /// Whether proposers skip phase 1 under a leader lease.
    pub leases: bool,
    /// Whether acceptors keep their logs in `FileLog`s on a simulated disk that loses
    /// unsynced writes (and crash mid-write), instead of memory logs.
    pub disk: bool,
}

impl Scenario {
    /// Draw a scenario from `rng`.
    pub fn draw(rng: &mut fastrand::Rng) -> Self {
        let faults_until = 200 + rng.u64(0..800);
        Scenario {
            acceptors: if rng.bool() { 3 } else { 5 },
            proposers: rng.usize(2..=3),
            values_per_proposer: if rng.bool() { 1 } else { rng.usize(2..=4) },
            loss: rng.f64() * 0.3,
            duplication: rng.f64() * 0.2,
            max_delay: rng.u64(1..=20),
            crash: rng.f64() * 0.02,
            faults_until,
            deadline: faults_until + 20_000,
            leases: rng.bool(),
            disk: cfg!(feature = "file-log") && rng.f64() < 0.3,
        }
    }
}

/// What one schedule did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Broken oracles, each described; empty when all held.
    pub violations: Vec<String>,
    /// Events processed.
    pub events: u64,
    /// Slots chosen.
    pub chosen: usize,
    /// Acceptor crashes injected.
    pub crashes: u64,
    /// Crashes in the middle of a log write (disk schedules only).
    pub crashed_writes: u64,
    /// A digest of the whole run, equal for equal seeds.
    pub digest: u64,
    /// The scenario played.
    pub scenario: Option<Scenario>,
}

#[derive(Debug, Clone)]
enum Msg {
    Prepare { from: usize, request: Request },
    Promise { from: usize, promise: Promise },
    Accept { from: usize, proposal: Proposal },
    Accepted { from: usize, answer: Proposal },
    Learn { from: usize, proposal: Proposal },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Node {
    Acceptor(usize),
    Proposer(usize),
    Learner(usize),
}

#[derive(Debug, Clone)]
enum Event {
    Deliver(Node, Msg),
    /// Proposer `.0`'s attempt number `.1` has run too long (or backed off long enough).
    Retry(usize, u64),
    Restart(usize),
}

/// An acceptor's durable state: memory logs (every write durable at once), or real
/// `FileLog`s on a simulated disk that loses unsynced writes and tears the last one.
enum SimStorage {
    Memory {
        promise_log: MemoryLog,
        accept_log: MemoryLog,
    },
    #[cfg(feature = "file-log")]
    Disk {
        disk: SimDisk,
        logs: Option<Box<(FileLog<SimDir>, FileLog<SimDir>)>>,
    },
}

impl SimStorage {
    fn logs(&mut self) -> Option<(&mut dyn Log, &mut dyn Log)> {
        match self {
            SimStorage::Memory { promise_log, accept_log } => Some((promise_log, accept_log)),
            #[cfg(feature = "file-log")]
            SimStorage::Disk { logs, .. } => logs.as_deref_mut().map(|(p, a)| (p as &mut dyn Log, a as &mut dyn Log)),
        }
    }

    /// The process dies: a disk loses what was not synced (tearing the last write after
    /// `keep` bytes).
    fn crash(&mut self, keep: usize) {
        #[cfg(feature = "file-log")]
        if let SimStorage::Disk { disk, logs } = self {
            *logs = None;
            disk.crash(Crash::TornLastWrite { keep });
        }
        let _ = keep;
    }

    /// Arrange for the next write to fail before it is durable (a disk only).
    fn fail_next_write(&mut self) -> bool {
        #[cfg(feature = "file-log")]
        if let SimStorage::Disk { disk, .. } = self {
            disk.fail_next_syncs(1);
            return true;
        }
        false
    }

    /// Restart: reopen the logs and rebuild the acceptor from them.
    fn recover(&mut self, mutation: Option<Mutation>) -> crate::Result<AcceptorCore> {
        #[cfg(feature = "file-log")]
        if let SimStorage::Disk { disk, logs } = self {
            let reopened = (disk.open_log("promises")?, disk.open_log("accepts")?);
            let core = AcceptorCore::recover_mutated(&reopened.0, &reopened.1, mutation)?;
            *logs = Some(Box::new(reopened));
            return Ok(core);
        }
        match self.logs() {
            Some((promise_log, accept_log)) => AcceptorCore::recover_mutated(&*promise_log, &*accept_log, mutation),
            None => Err(crate::Error::Closed("no logs".into())),
        }
    }
}

struct SimAcceptor {
    core: Option<AcceptorCore>,
    storage: SimStorage,
    /// The highest ballot an answer of this acceptor has shown it promised (a grant, an
    /// accept, or the promise a rejection named): it must never promise less, restarts
    /// included.
    exposed: Ballot,
}

struct SimProposer {
    ids: CounterIdGenerator,
    values: Vec<Vec<u8>>,
    next_value: usize,
    slot: Slot,
    attempt: Option<Attempt>,
    attempt_no: u64,
    /// Bumped on every new attempt, so stale retry timers are ignored.
    epoch: u64,
    failures_in_row: u32,
    /// Multi-Paxos leader lease: where phase 1 may be skipped.
    lease: Option<Lease>,
}

struct World {
    rng: fastrand::Rng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: HashMap<u64, Event>,
    scenario: Scenario,
    mutation: Option<Mutation>,
    acceptors: Vec<SimAcceptor>,
    proposers: Vec<SimProposer>,
    learners: Vec<Learner>,
    /// Ground truth: who accepted each (slot, ballot), and its value.
    votes: HashMap<(Slot, Ballot), (HashSet<usize>, Vec<u8>)>,
    chosen: BTreeMap<Slot, Vec<u8>>,
    proposed: HashSet<Vec<u8>>,
    /// Whether log-mode proposers skip phase 1 under a lease (drawn from the seed).
    use_leases: bool,
    outcome: Outcome,
}

const RETRY_TIMEOUT: u64 = 120;

impl World {
    fn faulty(&self) -> bool {
        self.now < self.scenario.faults_until
    }

    fn schedule(&mut self, delay: u64, event: Event) {
        self.seq += 1;
        self.queue.push(Reverse((self.now + delay, self.seq)));
        self.events.insert(self.seq, event);
    }

    fn send(&mut self, to: Node, msg: Msg) {
        let copies = if self.faulty() {
            if self.rng.f64() < self.scenario.loss {
                0
            } else if self.rng.f64() < self.scenario.duplication {
                2
            } else {
                1
            }
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self.rng.u64(1..=self.scenario.max_delay);
            self.schedule(delay, Event::Deliver(to, msg.clone()));
        }
    }

    fn violation(&mut self, what: String) {
        if self.outcome.violations.len() < 10 {
            self.outcome.violations.push(format!("t={}: {what}", self.now));
        }
    }

    fn mix(&mut self, x: u64) {
        self.outcome.digest = (self.outcome.digest ^ x).wrapping_mul(0x100_0000_01b3).rotate_left(7);
    }

    fn start_attempt(&mut self, p: usize) {
        let n = self.acceptors.len();
        let mutation = self.mutation;
        let prop = &mut self.proposers[p];
        let Some(value) = prop.values.get(prop.next_value).cloned() else {
            prop.attempt = None;
            return;
        };
        prop.attempt_no += 1;
        prop.epoch += 1;
        let (slot, attempt_no, epoch) = (prop.slot, prop.attempt_no, prop.epoch);
        // A leader with a lease goes straight to phase 2, once per slot.
        if let Some(lease) = prop.lease.filter(|l| l.covers(slot) && attempt_no == 1) {
            match Attempt::leased_mutated(n, slot, &lease, value, mutation) {
                Ok((attempt, proposal)) => {
                    self.proposers[p].attempt = Some(attempt);
                    for a in 0..n {
                        self.send(Node::Acceptor(a), Msg::Accept { from: p, proposal: proposal.clone() });
                    }
                    let timeout = RETRY_TIMEOUT + self.rng.u64(0..RETRY_TIMEOUT);
                    self.schedule(timeout, Event::Retry(p, epoch));
                }
                Err(e) => self.violation(format!("proposer {p} could not start a leased attempt: {e}")),
            }
            return;
        }
        prop.lease = None;
        let Ok(ballot) = prop.ids.next() else {
            self.violation(format!("proposer {p} ran out of ballots"));
            return;
        };
        match Attempt::new_mutated(n, slot, ballot, attempt_no, value, mutation) {
            Ok((attempt, request)) => {
                self.proposers[p].attempt = Some(attempt);
                for a in 0..n {
                    self.send(Node::Acceptor(a), Msg::Prepare { from: p, request: request.clone() });
                }
                let timeout = RETRY_TIMEOUT + self.rng.u64(0..RETRY_TIMEOUT);
                self.schedule(timeout, Event::Retry(p, epoch));
            }
            Err(e) => self.violation(format!("proposer {p} could not start: {e}")),
        }
    }

    fn back_off(&mut self, p: usize) {
        let prop = &mut self.proposers[p];
        prop.attempt = None;
        prop.epoch += 1;
        prop.failures_in_row += 1;
        let epoch = prop.epoch;
        let cap = 4u64 << prop.failures_in_row.min(6);
        let delay = self.rng.u64(1..=cap);
        self.schedule(delay, Event::Retry(p, epoch));
    }

    fn on_progress(&mut self, p: usize, progress: Progress) {
        match progress {
            Progress::Waiting => {}
            Progress::Accept(proposal) => {
                let lease = self.proposers[p].attempt.as_ref().and_then(Attempt::lease);
                if self.use_leases {
                    self.proposers[p].lease = lease;
                }
                for a in 0..self.acceptors.len() {
                    self.send(Node::Acceptor(a), Msg::Accept { from: p, proposal: proposal.clone() });
                }
            }
            Progress::Trimmed { first } => self.violation(format!("proposer {p}: slot trimmed (first {first})")),
            Progress::Violation(what) => self.violation(format!("proposer {p}: {what}")),
            Progress::Failed { promised } => {
                self.proposers[p].lease = None;
                self.proposers[p].ids.observe(promised);
                self.back_off(p);
            }
            Progress::Chosen(value) => {
                let slot = self.proposers[p].slot;
                self.check_learned(&format!("proposer {p}"), slot, &value);
                let single_decree = self.scenario.values_per_proposer == 1;
                let prop = &mut self.proposers[p];
                if single_decree {
                    // Single decree: learning the chosen value, whoever's, is the end.
                    prop.next_value = prop.values.len();
                } else if prop.values.get(prop.next_value) == Some(&value) {
                    prop.next_value += 1;
                }
                prop.slot += 1;
                prop.attempt_no = 0;
                prop.failures_in_row = 0;
                self.start_attempt(p);
            }
        }
    }

    fn check_learned(&mut self, who: &str, slot: Slot, value: &[u8]) {
        match self.chosen.get(&slot) {
            Some(chosen) if chosen == value => {}
            Some(chosen) => {
                let chosen = String::from_utf8_lossy(chosen).into_owned();
                self.violation(format!(
                    "{who} learned {:?} at slot {slot}, but {chosen:?} was chosen",
                    String::from_utf8_lossy(value)
                ));
            }
            None => self.violation(format!(
                "{who} learned {:?} at slot {slot}, which no majority accepted",
                String::from_utf8_lossy(value)
            )),
        }
    }

    fn record_vote(&mut self, a: usize, p: &Proposal) {
        let quorum = majority(self.acceptors.len());
        let entry = self.votes.entry((p.slot, p.id)).or_insert_with(|| (HashSet::new(), p.value.clone()));
        entry.0.insert(a);
        let (voters, same_value) = (entry.0.len(), entry.1 == p.value);
        if !same_value {
            self.violation(format!("two values accepted at slot {} ballot {}", p.slot, p.id));
        }
        if voters < quorum {
            return;
        }
        match self.chosen.get(&p.slot) {
            None => {
                if !self.proposed.contains(&p.value) {
                    self.violation(format!("chosen value {:?} was never proposed", String::from_utf8_lossy(&p.value)));
                }
                self.chosen.insert(p.slot, p.value.clone());
            }
            Some(v) if *v != p.value => {
                let (old, new) =
                    (String::from_utf8_lossy(v).into_owned(), String::from_utf8_lossy(&p.value).into_owned());
                self.violation(format!("slot {} chose both {old:?} and {new:?}", p.slot));
            }
            Some(_) => {}
        }
    }

    fn crash_acceptor(&mut self, a: usize) {
        let keep = self.rng.usize(0..64);
        self.acceptors[a].core = None;
        self.acceptors[a].storage.crash(keep);
        self.outcome.crashes += 1;
        let down_for = self.rng.u64(1..=200);
        self.schedule(down_for, Event::Restart(a));
    }

    /// A failed write: expected when injected (the process dies with its write in flight),
    /// a violation otherwise.
    fn write_failed(&mut self, a: usize, injected: bool, e: crate::Error) {
        if injected {
            self.outcome.crashed_writes += 1;
            self.crash_acceptor(a);
        } else {
            self.violation(format!("acceptor {a}: log failed: {e}"));
        }
    }

    fn acceptor_receive(&mut self, a: usize, msg: Msg) {
        if self.acceptors[a].core.is_none() {
            return;
        }
        // A crash between messages; or, on a disk, in the middle of this message's write.
        let mut injected = false;
        if self.faulty() && self.rng.f64() < self.scenario.crash {
            if self.rng.bool() {
                injected = self.acceptors[a].storage.fail_next_write();
            }
            if !injected {
                self.crash_acceptor(a);
                return;
            }
        }
        let sim = &mut self.acceptors[a];
        let (Some(core), Some((promise_log, accept_log))) = (sim.core.as_mut(), sim.storage.logs()) else { return };
        match msg {
            Msg::Prepare { from, request } => {
                let Ok(pending) = core.prepare(&request) else { return };
                let wrote = pending.write().is_some();
                match pending.persist(promise_log, accept_log) {
                    Ok(promise) => {
                        let shown = if promise.is_granted() { request.id } else { promise.promised };
                        sim.exposed = sim.exposed.max(shown);
                        self.send(Node::Proposer(from), Msg::Promise { from: a, promise });
                    }
                    Err(e) => self.write_failed(a, injected && wrote, e),
                }
            }
            Msg::Accept { from, proposal } => {
                let Ok(pending) = core.accept(&proposal) else { return };
                let accepted = pending.write().is_some();
                match pending.persist(promise_log, accept_log) {
                    Ok(answer) => {
                        sim.exposed = sim.exposed.max(if accepted { proposal.id } else { answer.promised });
                        if accepted {
                            self.record_vote(a, &proposal);
                            for l in 0..self.learners.len() {
                                self.send(Node::Learner(l), Msg::Learn { from: a, proposal: proposal.clone() });
                            }
                        }
                        self.send(Node::Proposer(from), Msg::Accepted { from: a, answer });
                    }
                    Err(e) => self.write_failed(a, injected && accepted, e),
                }
            }
            _ => {}
        }
        self.check_acceptor(a);
        if injected && self.acceptors[a].core.is_some() {
            // The armed failure was not used (nothing to write): disarm it by crashing now.
            self.crash_acceptor(a);
        }
    }

    /// The acceptor invariants Paxos rests on: nothing accepted above the promise, and
    /// the promise never below what an answer showed, even after a restart.
    fn check_acceptor(&mut self, a: usize) {
        let Some(core) = self.acceptors[a].core.as_ref() else { return };
        let promised = core.promised();
        let above = core.accepted_from(0).find(|p| p.id > promised).map(|p| (p.slot, p.id));
        let exposed = self.acceptors[a].exposed;
        if let Some((slot, ballot)) = above {
            self.violation(format!(
                "acceptor {a} accepted ballot {ballot} at slot {slot} above its promise {promised}"
            ));
        }
        if promised < exposed {
            self.violation(format!("acceptor {a} promises {promised}, below the {exposed} it has answered with"));
        }
    }

    fn step(&mut self, event: Event) {
        match event {
            Event::Deliver(Node::Acceptor(a), msg) => self.acceptor_receive(a, msg),
            Event::Deliver(Node::Proposer(p), msg) => {
                let Some(attempt) = self.proposers[p].attempt.as_mut() else { return };
                let progress = match &msg {
                    Msg::Promise { from, promise } => attempt.on_promise(*from, promise),
                    Msg::Accepted { from, answer } => attempt.on_accepted(*from, answer),
                    _ => Progress::Waiting,
                };
                self.on_progress(p, progress);
            }
            Event::Deliver(Node::Learner(l), Msg::Learn { from, proposal }) => {
                match self.learners[l].on_accepted(from, &proposal) {
                    Ok(Some(entry)) => self.check_learned(&format!("learner {l}"), entry.slot, &entry.value),
                    Ok(None) => {}
                    Err(e) => self.violation(format!("learner {l}: {e}")),
                }
            }
            Event::Deliver(Node::Learner(_), _) => {}
            Event::Retry(p, epoch) => {
                if self.proposers[p].epoch == epoch {
                    if self.proposers[p].attempt_no > 0 {
                        // A timed-out attempt: the lease may be stale, prepare again.
                        self.proposers[p].lease = None;
                    }
                    self.start_attempt(p);
                }
            }
            Event::Restart(a) => {
                if self.acceptors[a].core.is_some() {
                    return;
                }
                let sim = &mut self.acceptors[a];
                match sim.storage.recover(self.mutation) {
                    Ok(mut core) => {
                        core.set_mutation(self.mutation);
                        sim.core = Some(core);
                        self.check_acceptor(a);
                    }
                    Err(e) => self.violation(format!("acceptor {a} could not recover: {e}")),
                }
            }
        }
    }

    fn finished(&self) -> bool {
        self.proposers.iter().all(|p| p.next_value >= p.values.len())
    }
}

/// Play the schedule of `seed`, with an optional injected protocol bug.
pub fn run(seed: u64, mutation: Option<Mutation>) -> Outcome {
    let mut rng = fastrand::Rng::with_seed(seed);
    let scenario = Scenario::draw(&mut rng);
    run_scenario(seed, scenario, mutation)
}

/// Play `scenario` with the random choices of `seed`.
pub fn run_scenario(seed: u64, scenario: Scenario, mutation: Option<Mutation>) -> Outcome {
    let n = scenario.acceptors;
    let acceptors = (0..n)
        .map(|_| {
            let mut core = AcceptorCore::new();
            core.set_mutation(mutation);
            let storage = SimStorage::Memory { promise_log: MemoryLog::new(), accept_log: MemoryLog::new() };
            #[cfg(feature = "file-log")]
            let storage = if scenario.disk {
                let disk = SimDisk::new();
                match (disk.open_log("promises"), disk.open_log("accepts")) {
                    (Ok(p), Ok(a)) => SimStorage::Disk { disk, logs: Some(Box::new((p, a))) },
                    _ => storage,
                }
            } else {
                storage
            };
            SimAcceptor { core: Some(core), storage, exposed: 0 }
        })
        .collect();
    let proposers: Vec<SimProposer> = (0..scenario.proposers)
        .map(|p| SimProposer {
            ids: CounterIdGenerator::new(p as u16 + 1),
            values: (0..scenario.values_per_proposer).map(|k| format!("p{p}v{k}").into_bytes()).collect(),
            next_value: 0,
            slot: 0,
            attempt: None,
            attempt_no: 0,
            epoch: 0,
            failures_in_row: 0,
            lease: None,
        })
        .collect();
    let learners = (0..2)
        .map(|_| {
            let mut l = Learner::new(n);
            if mutation == Some(Mutation::LearnerQuorumOneShort) {
                l.set_quorum(majority(n) - 1);
            }
            l
        })
        .collect();
    let proposed = proposers.iter().flat_map(|p| p.values.iter().cloned()).collect();
    let mut world = World {
        rng: fastrand::Rng::with_seed(seed ^ 0x5eed),
        now: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        events: HashMap::new(),
        scenario: scenario.clone(),
        mutation,
        acceptors,
        proposers,
        learners,
        votes: HashMap::new(),
        chosen: BTreeMap::new(),
        proposed,
        use_leases: scenario.leases,
        outcome: Outcome::default(),
    };
    for p in 0..scenario.proposers {
        let start = world.rng.u64(0..10);
        world.schedule(start, Event::Retry(p, 0));
    }
    while let Some(Reverse((time, seq))) = world.queue.pop() {
        if time > scenario.deadline || world.finished() {
            break;
        }
        world.now = time;
        // Faults end: every crashed acceptor comes back.
        let Some(event) = world.events.remove(&seq) else { continue };
        world.outcome.events += 1;
        world.mix(time << 20 ^ seq);
        world.step(event);
        if !world.faulty() {
            for a in 0..n {
                if world.acceptors[a].core.is_none() {
                    world.step(Event::Restart(a));
                }
            }
        }
    }
    if !world.finished() {
        let stuck: Vec<usize> = (0..world.proposers.len())
            .filter(|&p| world.proposers[p].next_value < world.proposers[p].values.len())
            .collect();
        world.violation(format!(
            "liveness: proposers {stuck:?} had not finished by tick {} (faults stopped at {})",
            scenario.deadline, scenario.faults_until
        ));
    }
    world.outcome.chosen = world.chosen.len();
    world.outcome.scenario = Some(scenario);
    world.outcome
}

/// Totals over many schedules.
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
    /// Acceptor crashes injected in all.
    pub crashes: u64,
    /// Schedules whose acceptors ran `FileLog`s on a simulated disk.
    pub disk_schedules: u64,
    /// Crashes in the middle of a log write, in all.
    pub crashed_writes: u64,
}

/// Play every seed in `seeds`.
pub fn run_many(seeds: std::ops::Range<u64>, mutation: Option<Mutation>) -> Summary {
    let mut summary = Summary::default();
    for seed in seeds {
        let outcome = run(seed, mutation);
        summary.schedules += 1;
        summary.events += outcome.events;
        summary.crashes += outcome.crashes;
        summary.crashed_writes += outcome.crashed_writes;
        summary.disk_schedules += u64::from(outcome.scenario.as_ref().is_some_and(|s| s.disk));
        if let Some(first) = outcome.violations.first() {
            summary.violations += 1;
            if summary.first_failure.is_none() {
                summary.first_failure = Some((seed, first.clone()));
            }
        }
    }
    summary
}

/// Play seeds from `start` until one shows a violation, at most `limit` of them. Returns
/// the failing seed and what broke.
pub fn find_violation(mutation: Option<Mutation>, start: u64, limit: u64) -> Option<(u64, String)> {
    (start..start + limit).find_map(|seed| run(seed, mutation).violations.first().map(|v| (seed, v.clone())))
}
