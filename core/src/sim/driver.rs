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

use crate::acceptor::{decode_accept, Acceptor};
use crate::async_log::{AsyncAcceptor, AsyncLog};
use crate::driver::{AcceptorClient, LocalAcceptor, Proposer, ProposerConfig, ReplicatedLog, Sleeper};
use crate::error::{Error, Result};
#[cfg(feature = "file-log")]
use crate::file_log::FileLog;
use crate::id::{CounterIdGenerator, IdGenerator, ManualClock, ServerIdGenerator};
use crate::log::{Log, MemoryLog};
use crate::message::{Ballot, Promise, Proposal, Request, Slot, LAST_SLOT};
use crate::proposer::majority;
#[cfg(feature = "file-log")]
use crate::sim_disk::{Crash, SimDir, SimDisk};
use crate::Mutation;

/// A family of schedules, each aimed at one kind of trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// A bit of everything, drawn from the seed.
    General,
    /// Proposers crash early and often and restart with fresh id generators (counter,
    /// clock-based, or a mix), on clocks that jump backwards and forwards.
    Restarts,
    /// Logs that begin a few slots before the last slot, next to a log at slot 0.
    LastSlots,
    /// In-process async acceptors with slow writes, whose calls the proposers drop at a
    /// majority or a timeout, and which crash and reopen.
    Cancellation,
    /// Acceptors trim the chosen prefix; new handles join after the trims.
    Trim,
    /// Links that leave `frontier` out of promises, as a transport written for the
    /// ancestor's messages would, under concurrent writers.
    AncestorLinks,
    /// Many writers on one small cluster, with leases: the contention a log sees in use.
    Contention,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 7] = [
        Family::General,
        Family::Restarts,
        Family::LastSlots,
        Family::Cancellation,
        Family::Trim,
        Family::AncestorLinks,
        Family::Contention,
    ];

    /// The family aimed at the hole an injected bug reopens.
    pub fn aimed_at(mutation: Mutation) -> Family {
        match mutation {
            Mutation::PrepareGrantsEqualBallot => Family::Restarts,
            Mutation::SlotWraps | Mutation::FrontierSaturates => Family::LastSlots,
            Mutation::AsyncAcceptorNotCancelSafe => Family::Cancellation,
            Mutation::IgnoresTrimPoint => Family::Trim,
            Mutation::AbsentFrontierMeansZero => Family::AncestorLinks,
            _ => Family::Contention,
        }
    }
}

/// How an acceptor is run and reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptorKind {
    /// A [`LocalAcceptor`] over memory logs, behind the simulated network.
    Memory,
    /// A [`LocalAcceptor`] over `FileLog`s on a simulated disk that loses unsynced writes.
    Disk,
    /// An [`AsyncAcceptor`] behind the simulated network, served by tasks that may be
    /// cancelled.
    AsyncServed,
    /// An [`AsyncAcceptor`] in the proposers' process, called directly: the proposers drop
    /// its calls mid-write whenever they have a majority or time out.
    AsyncDirect,
}

/// Which id generators writers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKinds {
    /// [`CounterIdGenerator`] only.
    Counter,
    /// [`ServerIdGenerator`] only, on a clock per writer.
    Server,
    /// Either, drawn again at every restart.
    Mixed,
}

/// The shape and fault rates of one schedule.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The family it was drawn for.
    pub family: Family,
    /// How each acceptor runs.
    pub kinds: Vec<AcceptorKind>,
    /// Writers (proposer processes) from the start.
    pub writers: usize,
    /// Writers that join late (after the first trims).
    pub late_writers: usize,
    /// Values each writer appends (or proposes, in single-decree runs).
    pub values_per_writer: usize,
    /// Single decree (`Proposer::propose`) instead of a log.
    pub single_decree: bool,
    /// Where writer `i`'s handle starts: `first_slots[i % len]`.
    pub first_slots: Vec<Slot>,
    /// Probability that a network message is lost (while faults last).
    pub loss: f64,
    /// Probability that a request is delivered twice (while faults last).
    pub duplication: f64,
    /// Largest network delay, in ticks (1 tick = 1 ms of virtual time).
    pub max_delay: u64,
    /// Largest async log write latency while faults last, in ticks (10 at most after).
    pub write_delay: u64,
    /// Per fault tick: probability that an acceptor crashes.
    pub acceptor_crash: f64,
    /// Per fault tick: probability that a writer process crashes (and later restarts with
    /// a fresh id generator).
    pub writer_crash: f64,
    /// Per fault tick: probability that a writer's running append is cancelled (its future
    /// dropped), and per served async call, that its task is cancelled.
    pub cancel: f64,
    /// Per fault tick: probability that a writer's clock jumps.
    pub clock_jump: f64,
    /// Per fault tick: probability that an acceptor trims below the chosen prefix.
    pub trim: f64,
    /// Probability that a link leaves `frontier` out of promises.
    pub strip_frontier: f64,
    /// The writers' id generators.
    pub id_kinds: IdKinds,
    /// Probability that a writer process, when it starts during the faults, crashes within
    /// its first 60 ticks (in the middle of its first ballots).
    pub early_crash: f64,
    /// Per accept a writer sends over the network (while faults last): probability that
    /// the writer dies right then, so that its accepts reach only some acceptors.
    pub crash_mid_accept: f64,
    /// Probability that a writer, when it restarts during the faults, cannot reach for a
    /// while the acceptors its last accepts went to (the scenario of a restarted proposer
    /// that reaches only the acceptors that missed its old accept).
    pub partition_on_start: f64,
    /// Per fault tick and writer: probability that one of its links is cut for a while.
    pub partition: f64,
    /// Largest time a crashed writer stays down, in ticks.
    pub restart_delay: u64,
    /// Writer `w` starts at about `w * stagger` ticks.
    pub stagger: u64,
    /// Largest pause between two reads of the reader, in ticks.
    pub read_every: u64,
    /// Tick at which faults stop.
    pub faults_until: u64,
    /// Tick by which every writer must have finished.
    pub deadline: u64,
}

impl Scenario {
    /// Draw a scenario of `family` from `rng`.
    pub fn draw(family: Family, rng: &mut fastrand::Rng) -> Self {
        fn kinds_from(rng: &mut fastrand::Rng, choices: &[AcceptorKind], n: usize) -> Vec<AcceptorKind> {
            (0..n).map(|_| choices[rng.usize(..choices.len())]).collect()
        }
        let every_kind: &[AcceptorKind] = if cfg!(feature = "file-log") {
            &[AcceptorKind::Memory, AcceptorKind::Disk, AcceptorKind::AsyncServed, AcceptorKind::AsyncDirect]
        } else {
            &[AcceptorKind::Memory, AcceptorKind::AsyncServed, AcceptorKind::AsyncDirect]
        };
        let sync_kinds: &[AcceptorKind] = if cfg!(feature = "file-log") {
            &[AcceptorKind::Memory, AcceptorKind::Disk]
        } else {
            &[AcceptorKind::Memory]
        };
        let n = if rng.u32(0..4) == 0 { 5 } else { 3 };
        let single = rng.u32(0..5) == 0;
        let faults_until = 300 + rng.u64(0..900);
        let base = Scenario {
            family,
            kinds: kinds_from(rng, every_kind, n),
            writers: 2 + rng.usize(0..=2),
            late_writers: 0,
            values_per_writer: 1 + rng.usize(0..4),
            single_decree: false,
            first_slots: vec![0],
            loss: rng.f64() * 0.2,
            duplication: rng.f64() * 0.1,
            max_delay: 1 + rng.u64(0..20),
            write_delay: rng.u64(0..=10),
            acceptor_crash: rng.f64() * 0.03,
            writer_crash: rng.f64() * 0.02,
            cancel: rng.f64() * 0.05,
            clock_jump: rng.f64() * 0.02,
            trim: 0.0,
            strip_frontier: 0.0,
            id_kinds: [IdKinds::Counter, IdKinds::Server, IdKinds::Mixed][rng.usize(0..3)],
            early_crash: 0.0,
            crash_mid_accept: 0.0,
            partition_on_start: 0.0,
            partition: rng.f64() * 0.01,
            restart_delay: 100,
            stagger: 0,
            read_every: 60,
            faults_until,
            deadline: faults_until + 40_000,
        };
        match family {
            Family::General => Scenario {
                single_decree: single,
                first_slots: if rng.u32(0..8) == 0 { vec![0, LAST_SLOT - rng.u64(0..6)] } else { vec![0] },
                // (A single decree's slot may not be trimmed: it would be gone.)
                trim: if rng.bool() && !single { rng.f64() * 0.05 } else { 0.0 },
                strip_frontier: if rng.u32(0..4) == 0 { 0.5 } else { 0.0 },
                ..base
            },
            Family::Restarts => Scenario {
                kinds: kinds_from(rng, sync_kinds, 3),
                writers: 2 + rng.usize(0..2),
                values_per_writer: 2 + rng.usize(0..3),
                single_decree: rng.u32(0..4) != 0,
                loss: rng.f64() * 0.15,
                writer_crash: 0.08 + rng.f64() * 0.12,
                acceptor_crash: rng.f64() * 0.01,
                clock_jump: 0.05 + rng.f64() * 0.1,
                cancel: rng.f64() * 0.02,
                id_kinds: [IdKinds::Counter, IdKinds::Counter, IdKinds::Mixed][rng.usize(0..3)],
                max_delay: 2 + rng.u64(0..8),
                early_crash: 0.1 + rng.f64() * 0.2,
                crash_mid_accept: 0.3 + rng.f64() * 0.4,
                partition_on_start: 0.3 + rng.f64() * 0.6,
                restart_delay: 1 + rng.u64(0..20),
                stagger: 100 + rng.u64(0..200),
                ..base
            },
            Family::LastSlots => Scenario {
                kinds: kinds_from(rng, sync_kinds, 3),
                writers: 3,
                values_per_writer: 4 + rng.usize(0..3),
                first_slots: {
                    let near = LAST_SLOT - rng.u64(0..3);
                    vec![0, near, near]
                },
                loss: rng.f64() * 0.05,
                duplication: 0.0,
                acceptor_crash: 0.0,
                writer_crash: 0.0,
                cancel: 0.0,
                clock_jump: 0.0,
                ..base
            },
            Family::Cancellation => Scenario {
                kinds: (0..3).map(|_| AcceptorKind::AsyncDirect).collect(),
                writers: 2 + rng.usize(0..2),
                values_per_writer: 2 + rng.usize(0..3),
                write_delay: 20 + rng.u64(0..100),
                acceptor_crash: 0.02 + rng.f64() * 0.06,
                writer_crash: 0.0,
                cancel: 0.05 + rng.f64() * 0.1,
                read_every: 5,
                ..base
            },
            Family::Trim => Scenario {
                writers: 1 + rng.usize(0..2),
                late_writers: 1 + rng.usize(0..2),
                values_per_writer: 3 + rng.usize(0..4),
                trim: 0.1 + rng.f64() * 0.2,
                loss: rng.f64() * 0.05,
                acceptor_crash: rng.f64() * 0.01,
                ..base
            },
            Family::AncestorLinks => Scenario {
                kinds: kinds_from(rng, sync_kinds, 3),
                writers: 2 + rng.usize(0..2),
                values_per_writer: 3 + rng.usize(0..3),
                strip_frontier: 0.5 + rng.f64() * 0.5,
                loss: rng.f64() * 0.05,
                acceptor_crash: 0.0,
                writer_crash: 0.0,
                ..base
            },
            Family::Contention => Scenario {
                kinds: kinds_from(rng, sync_kinds, 3),
                writers: 3 + rng.usize(0..4),
                values_per_writer: 2 + rng.usize(0..3),
                max_delay: 5 + rng.u64(0..30),
                loss: rng.f64() * 0.2,
                duplication: rng.f64() * 0.2,
                acceptor_crash: 0.01 + rng.f64() * 0.05,
                writer_crash: rng.f64() * 0.02,
                ..base
            },
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
    /// Entries the readers checked.
    pub entries_read: u64,
    /// A digest of the run, equal for equal seeds.
    pub digest: u64,
    /// The scenario played.
    pub scenario: Option<Scenario>,
}

/// Ticks of virtual time for a duration (1 tick = 1 ms, rounded up).
fn ticks(d: Duration) -> u64 {
    u64::try_from(d.as_micros().div_ceil(1000)).unwrap_or(u64::MAX).min(1 << 40)
}

fn ms(ticks: u64) -> Duration {
    Duration::from_millis(ticks)
}

struct Timer {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// A [`Sleeper`] on the world's virtual clock.
#[derive(Clone)]
struct SimSleeper(Rc<World>);

struct Sleep {
    world: Rc<World>,
    ticks: u64,
    timer: Option<Rc<Timer>>,
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

#[derive(Clone, Debug)]
enum Call {
    Prepare(Request),
    Accept(Proposal),
    Observe(Request),
}

enum Answer {
    Promise(Result<Promise>),
    Proposal(Result<Proposal>),
    List(Result<Vec<Proposal>>),
}

type ReplyTo = Rc<RefCell<Option<oneshot::Sender<Answer>>>>;

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

/// A store that outlives acceptor processes: what an async log has made durable.
struct Store {
    log: RefCell<MemoryLog>,
    /// The process incarnation allowed to write; older ones are dead.
    incarnation: Cell<u64>,
}

/// An [`AsyncLog`] whose writes take virtual time and then land in a [`Store`], unless
/// the process that started them died meanwhile.
struct SimAsyncLog {
    store: Rc<Store>,
    incarnation: u64,
    world: Rc<World>,
    acceptor: usize,
    holds_accepts: bool,
}

impl SimAsyncLog {
    fn alive(&self) -> Result<()> {
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

type SimAsync = AsyncAcceptor<SimAsyncLog, SimAsyncLog>;
#[cfg(feature = "file-log")]
type DiskAcceptor = LocalAcceptor<FileLog<SimDir>, FileLog<SimDir>>;

enum Instance {
    Down,
    Memory(LocalAcceptor),
    #[cfg(feature = "file-log")]
    Disk(DiskAcceptor),
    Async(Rc<SimAsync>),
}

struct AcceptorNode {
    kind: AcceptorKind,
    instance: Instance,
    memory: (MemoryLog, MemoryLog),
    #[cfg(feature = "file-log")]
    disk: SimDisk,
    stores: (Rc<Store>, Rc<Store>),
    incarnation: u64,
    /// The acceptor's trim point (what it was last asked to trim below).
    trimmed: Slot,
    /// The highest ballot its answers showed it promised (synchronous kinds).
    exposed: Ballot,
}

/// The ground truth, from the acceptors.
#[derive(Default)]
struct Truth {
    votes: HashMap<(Slot, Ballot), (BTreeSet<usize>, Vec<u8>)>,
    chosen: BTreeMap<Slot, Vec<u8>>,
    proposed: HashSet<Vec<u8>>,
    /// Every acknowledged append: slot, value.
    acked: Vec<(Slot, Vec<u8>)>,
}

/// A transport to one acceptor.
#[derive(Clone)]
struct SimClient {
    world: Rc<World>,
    /// The writer whose process this client lives in (`None` for readers).
    writer: Option<usize>,
    node: u16,
    acceptor: usize,
    strip_frontier: bool,
    direct: bool,
}

impl SimClient {
    async fn call(&self, call: Call) -> Result<Answer> {
        if self.direct {
            let Some(acceptor) = self.world.async_instance(self.acceptor) else {
                return Err(Error::Closed("sim: acceptor process is down".into()));
            };
            return Ok(match call {
                Call::Prepare(r) => Answer::Promise(acceptor.prepare(&r).await),
                Call::Accept(p) => Answer::Proposal(acceptor.accept(&p).await),
                Call::Observe(r) => Answer::List(acceptor.accepted_from(&r).await),
            });
        }
        let (tx, rx) = oneshot::channel();
        if let (Some(w), Call::Accept(_)) = (self.writer, &call) {
            if self.world.dies_sending(w) {
                return futures::future::pending().await;
            }
            self.world.writers.borrow_mut()[w].accepts_sent.insert(self.acceptor);
        }
        self.world.send_request(self.node, self.acceptor, call, Rc::new(RefCell::new(Some(tx))));
        match rx.await {
            Ok(answer) => Ok(answer),
            // Lost on the way: the call hangs until the proposer's timeout.
            Err(_) => futures::future::pending().await,
        }
    }
}

fn wrong_answer<T>() -> Result<T> {
    Err(Error::transport("sim: an answer of the wrong kind"))
}

impl AcceptorClient for SimClient {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        match self.call(Call::Prepare(request.clone())).await? {
            Answer::Promise(r) => r.map(|mut p| {
                if self.strip_frontier {
                    p.frontier = None;
                }
                p
            }),
            _ => wrong_answer(),
        }
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        match self.call(Call::Accept(proposal.clone())).await? {
            Answer::Proposal(r) => r,
            _ => wrong_answer(),
        }
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        match self.call(Call::Observe(request.clone())).await? {
            Answer::List(r) => r,
            _ => wrong_answer(),
        }
    }
}

type SimLog = ReplicatedLog<SimClient, SimSleeper>;
type SimProposer = Proposer<SimClient, SimSleeper>;

struct Writer {
    node: u16,
    values: Vec<Vec<u8>>,
    done: Vec<bool>,
    first_slot: Slot,
    /// The running process: its log handle (or proposer) and its task.
    log: Option<Rc<SimLog>>,
    proposer: Option<Rc<SimProposer>>,
    task: Option<usize>,
    clock: ManualClock,
    clock_offset: i64,
    /// Whether the writer is up (down between a crash and its restart).
    up: bool,
    started: bool,
    /// Dying: it sends nothing more (it crashed in the middle of sending its accepts).
    dying: bool,
    /// The acceptors this writer's accepts were sent to since its last start.
    accepts_sent: BTreeSet<usize>,
    /// Bumped at every start: a restarted process appends new values (its values carry
    /// its incarnation), as an application's retried requests would.
    incarnation: u64,
}

struct TaskWaker {
    id: usize,
    ready: Arc<Mutex<VecDeque<usize>>>,
}

impl ArcWake for TaskWaker {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        if let Ok(mut ready) = arc_self.ready.lock() {
            ready.push_back(arc_self.id);
        }
    }
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

    fn schedule(&self, delay: u64, event: Event) {
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        self.queue.borrow_mut().push(Reverse((self.now.get().saturating_add(delay), seq)));
        self.events.borrow_mut().insert(seq, event);
    }

    fn violation(&self, what: String) {
        let mut outcome = self.outcome.borrow_mut();
        if outcome.violations.len() < 10 {
            outcome.violations.push(format!("t={}: {what}", self.now.get()));
        }
    }

    fn mix(&self, x: u64) {
        let mut o = self.outcome.borrow_mut();
        o.digest = (o.digest ^ x).wrapping_mul(0x100_0000_01b3).rotate_left(7);
    }

    fn spawn(&self, fut: LocalBoxFuture<'static, ()>) -> usize {
        let mut tasks = self.tasks.borrow_mut();
        let id = tasks.len();
        tasks.push(Some(fut));
        if let Ok(mut ready) = self.ready.lock() {
            ready.push_back(id);
        }
        id
    }

    fn cancel(&self, id: usize) -> bool {
        // Taken out first, so that whatever its drop does runs with no borrow held.
        let task = self.tasks.borrow_mut().get_mut(id).and_then(Option::take);
        let was = task.is_some();
        drop(task);
        was
    }

    fn run_ready(&self) {
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

    // ----- ground truth -----

    fn vote(&self, acceptor: usize, p: &Proposal) {
        let quorum = majority(self.scenario.kinds.len());
        let mut violations = Vec::new();
        {
            let mut truth = self.truth.borrow_mut();
            let entry = truth.votes.entry((p.slot, p.id)).or_insert_with(|| (BTreeSet::new(), p.value.clone()));
            if entry.1 != p.value {
                violations.push(format!("two values accepted at slot {} ballot {}", p.slot, p.id));
            }
            entry.0.insert(acceptor);
            let voters = entry.0.len();
            if voters >= quorum && entry.1 == p.value {
                match truth.chosen.get(&p.slot) {
                    None => {
                        if !p.value.is_empty() && !truth.proposed.contains(&p.value) {
                            violations.push(format!("chosen value {:?} was never proposed", show(&p.value)));
                        }
                        truth.chosen.insert(p.slot, p.value.clone());
                    }
                    Some(v) if *v != p.value => {
                        violations.push(format!("slot {} chose both {:?} and {:?}", p.slot, show(v), show(&p.value)));
                    }
                    Some(_) => {}
                }
            }
        }
        for v in violations {
            self.violation(v);
        }
    }

    fn check_learned(&self, who: &str, slot: Slot, value: &[u8]) {
        let chosen = self.truth.borrow().chosen.get(&slot).cloned();
        match chosen {
            Some(c) if c == value => {}
            Some(c) => {
                self.violation(format!("{who} got {:?} at slot {slot}, but {:?} was chosen", show(value), show(&c)))
            }
            None => self.violation(format!("{who} got {:?} at slot {slot}, which no majority accepted", show(value))),
        }
    }

    // ----- acceptors -----

    fn async_instance(&self, a: usize) -> Option<Rc<SimAsync>> {
        match &self.acceptors.borrow().get(a)?.instance {
            Instance::Async(x) => Some(x.clone()),
            _ => None,
        }
    }

    fn cut_link(&self, node: u16) {
        let (a, until) = self.draw(|rng, s| (rng.usize(..s.kinds.len()), 30 + rng.u64(0..120)));
        let heal = self.now.get() + until;
        self.cut.borrow_mut().insert((node, a), heal);
    }

    fn is_cut(&self, node: u16, a: usize) -> bool {
        self.cut.borrow().get(&(node, a)).is_some_and(|heal| self.now.get() < *heal)
    }

    fn send_request(&self, from: u16, to: usize, call: Call, reply: ReplyTo) {
        if self.faulty() && self.is_cut(from, to) {
            return;
        }
        let copies = if !self.faulty() {
            1
        } else if self.chance(self.scenario.loss) {
            0
        } else if self.chance(self.scenario.duplication) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let delay = self.draw(|rng, s| rng.u64(1..=s.max_delay));
            self.schedule(delay, Event::Deliver { to, call: call.clone(), reply: reply.clone() });
        }
    }

    fn send_reply(&self, reply: ReplyTo, answer: Answer) {
        if self.faulty() && self.chance(self.scenario.loss) {
            return;
        }
        let delay = self.draw(|rng, s| rng.u64(1..=s.max_delay));
        self.schedule(delay, Event::Reply { reply, answer });
    }

    fn deliver(self: &Rc<Self>, to: usize, call: Call, reply: ReplyTo) {
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
    fn call_sync<P: Log, A: Log>(&self, to: usize, acceptor: &LocalAcceptor<P, A>, call: Call) -> Option<Answer> {
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
    fn check_acceptor<P: Log, A: Log>(&self, a: usize, acceptor: &LocalAcceptor<P, A>) {
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

    fn crash_acceptor(&self, a: usize) {
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

    fn restart_acceptor(self: &Rc<Self>, a: usize) {
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
    fn trim_acceptor(self: &Rc<Self>, a: usize) {
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

    // ----- writers -----

    /// Whether writer `w` dies as it sends an accept (and so sends no more).
    fn dies_sending(&self, w: usize) -> bool {
        let (dying, incarnation) = {
            let writers = self.writers.borrow();
            (writers[w].dying, writers[w].incarnation)
        };
        if dying {
            return true;
        }
        if self.faulty() && self.chance(self.scenario.crash_mid_accept) {
            self.writers.borrow_mut()[w].dying = true;
            self.schedule(0, Event::WriterCrash(w, incarnation));
            return true;
        }
        false
    }

    fn clients(self: &Rc<Self>, node: u16, writer: Option<usize>) -> Vec<SimClient> {
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

    fn proposer(self: &Rc<Self>, node: u16, writer: Option<usize>, ids: Arc<dyn IdGenerator>) -> Option<SimProposer> {
        let config = ProposerConfig {
            call_timeout: ms(60),
            max_attempts: 6,
            backoff_min: ms(1),
            backoff_max: ms(60),
            poll_interval: ms(10),
            seed: Some(self.draw(|rng, _| rng.u64(..))),
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
    fn fresh_ids(&self, w: usize) -> Arc<dyn IdGenerator> {
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

    fn sync_clocks(&self) {
        let now = self.now.get();
        for w in self.writers.borrow().iter() {
            let t = (1_000_000 + now as i64 + w.clock_offset).max(1);
            w.clock.set(t as u64);
        }
    }

    /// Start writer `w`'s process (again): a fresh id generator and log handle.
    fn start_writer(self: &Rc<Self>, w: usize) {
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

    fn spawn_writer_task(self: &Rc<Self>, w: usize) {
        let world = self.clone();
        let (log, proposer) = {
            let writers = self.writers.borrow();
            (writers[w].log.clone(), writers[w].proposer.clone())
        };
        let task = self.spawn(Box::pin(async move { writer_task(world, w, log, proposer).await }));
        self.writers.borrow_mut()[w].task = Some(task);
    }

    fn crash_writer(&self, w: usize) {
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

    fn cancel_append(self: &Rc<Self>, w: usize) {
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

    fn writers_done(&self) -> bool {
        self.writers.borrow().iter().all(|w| w.started && w.done.iter().all(|d| *d))
    }

    fn next_value(&self, w: usize) -> Option<(usize, Vec<u8>)> {
        let writers = self.writers.borrow();
        let writer = &writers[w];
        writer.done.iter().position(|d| !d).map(|i| (i, writer.values[i].clone()))
    }

    fn mark_done(&self, w: usize, i: usize) {
        if let Some(d) = self.writers.borrow_mut()[w].done.get_mut(i) {
            *d = true;
        }
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

    /// Run until `stop` holds, the queue is empty, or time passes `until`.
    fn run_until(self: &Rc<Self>, until: u64, stop: impl Fn(&World) -> bool) {
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

fn show(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

fn is_log_full(e: &Error) -> bool {
    matches!(e, Error::InvalidArgument(m) if m.contains("log is full"))
}

async fn pause(world: &Rc<World>, most: u64) {
    let t = world.draw(|rng, _| rng.u64(1..=most));
    SimSleeper(world.clone()).sleep(ms(t)).await;
}

async fn writer_task(world: Rc<World>, w: usize, log: Option<Rc<SimLog>>, proposer: Option<Rc<SimProposer>>) {
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
async fn reader_task(world: Rc<World>, log: Rc<SimLog>, mut next: Slot) {
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
async fn final_read(world: Rc<World>, log: Rc<SimLog>, starts: Vec<Slot>) {
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
        if let Some(first) = outcome.violations.first() {
            summary.violations += 1;
            if summary.first_failure.is_none() {
                summary.first_failure = Some((seed, first.clone()));
            }
        }
    }
    summary
}
