//! The schedule families and how a scenario is drawn from a seed.

use super::*;

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
    /// Many concurrent appenders on each handle: batched accepts and a pipeline of them.
    Batching,
    /// Eight competing writers.
    EightWriters,
    /// Leaders that pause (cut off from everyone) past their lease and come back.
    LeaderPause,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 10] = [
        Family::General,
        Family::Restarts,
        Family::LastSlots,
        Family::Cancellation,
        Family::Trim,
        Family::AncestorLinks,
        Family::Contention,
        Family::Batching,
        Family::EightWriters,
        Family::LeaderPause,
    ];

    /// The family aimed at the hole an injected bug reopens.
    pub fn aimed_at(mutation: Mutation) -> Family {
        match mutation {
            Mutation::PrepareGrantsEqualBallot => Family::Restarts,
            Mutation::SlotWraps | Mutation::FrontierSaturates => Family::LastSlots,
            Mutation::AsyncAcceptorNotCancelSafe => Family::Cancellation,
            Mutation::IgnoresTrimPoint => Family::Trim,
            Mutation::AbsentFrontierMeansZero => Family::AncestorLinks,
            Mutation::BatchAckedBeforeFsync => Family::Batching,
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
    /// Concurrent appenders on each writer's one handle (their appends share batches).
    pub appenders: usize,
    /// Per fault tick: probability that a writer pauses (every link cut) for longer than a
    /// leader's wait, and comes back with its lease stale.
    pub pause: f64,
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
            appenders: 1,
            pause: 0.0,
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
            Family::Batching => Scenario {
                kinds: kinds_from(rng, every_kind, 3),
                writers: 1 + rng.usize(0..2),
                values_per_writer: 16 + rng.usize(0..24),
                appenders: 4 + rng.usize(0..8),
                loss: rng.f64() * 0.1,
                acceptor_crash: 0.01 + rng.f64() * 0.04,
                writer_crash: rng.f64() * 0.01,
                ..base
            },
            Family::EightWriters => Scenario {
                kinds: kinds_from(rng, sync_kinds, 3),
                writers: 8,
                values_per_writer: 2 + rng.usize(0..3),
                loss: rng.f64() * 0.1,
                acceptor_crash: rng.f64() * 0.02,
                ..base
            },
            Family::LeaderPause => Scenario {
                kinds: kinds_from(rng, sync_kinds, 3),
                writers: 2 + rng.usize(0..2),
                values_per_writer: 4 + rng.usize(0..4),
                appenders: 1 + rng.usize(0..3),
                pause: 0.02 + rng.f64() * 0.05,
                loss: rng.f64() * 0.05,
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
