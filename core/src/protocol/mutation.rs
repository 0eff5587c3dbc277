//! Deliberate protocol bugs for the simulators and model checks to catch: test hooks only.

/// A deliberate protocol bug, switched on only by tests, to prove the simulator catches
/// each one. Never set in production code.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutation {
    /// The ancestor's defect: a promise carries the accepted value only when `attempt > 1`.
    AncestorAttemptGate,
    /// An accept does not raise the acceptor's promise.
    AcceptDoesNotRaisePromise,
    /// An acceptor accepts below its promise.
    AcceptIgnoresPromise,
    /// The proposer's quorum is one short of a majority.
    QuorumOneShort,
    /// The proposer proposes its own value even when an acceptor reported an accepted one.
    ProposerIgnoresAccepted,
    /// After a restart the acceptor forgets the ballots it promised.
    RecoveryForgetsPromise,
    /// The learner counts a value chosen one acceptor short of a majority.
    LearnerQuorumOneShort,
    /// A leader skips phase 1 on later slots even when an acceptor had accepted there.
    LeaseIgnoresFrontier,
    /// An acceptor grants a prepare at a ballot equal to its promise (hole 1: with a
    /// restarted proposer that draws its old ballots again, two values get one ballot).
    PrepareGrantsEqualBallot,
    /// Slot arithmetic wraps at `u64::MAX` (hole 2): the last slot is not reserved, and a
    /// lease taken there wraps to slot 0.
    SlotWraps,
    /// The last slot is not reserved, so `frontier` saturates at `u64::MAX` (hole 3) and a
    /// phase 1 at `u64::MAX - 1` leases a slot that holds a chosen value.
    FrontierSaturates,
    /// `AsyncAcceptor` changes its state, then awaits the write, and a dropped call leaves
    /// state that was never written (hole 4).
    AsyncAcceptorNotCancelSafe,
    /// A log handle ignores the trim point acceptors report (hole 5).
    IgnoresTrimPoint,
    /// A promise without `frontier` counts as "accepted nothing anywhere" (hole 6).
    AbsentFrontierMeansZero,
    /// An acceptor acknowledges a batched accept before (here: without) making it durable.
    BatchAckedBeforeFsync,
    /// A proposer that loses to another node's ballot starts a higher one at once (duels).
    FollowerIgnoresLeader,
}

impl Mutation {
    /// Every mutation.
    pub const ALL: [Mutation; 16] = [
        Mutation::AncestorAttemptGate,
        Mutation::AcceptDoesNotRaisePromise,
        Mutation::AcceptIgnoresPromise,
        Mutation::QuorumOneShort,
        Mutation::ProposerIgnoresAccepted,
        Mutation::RecoveryForgetsPromise,
        Mutation::LearnerQuorumOneShort,
        Mutation::LeaseIgnoresFrontier,
        Mutation::PrepareGrantsEqualBallot,
        Mutation::SlotWraps,
        Mutation::FrontierSaturates,
        Mutation::AsyncAcceptorNotCancelSafe,
        Mutation::IgnoresTrimPoint,
        Mutation::AbsentFrontierMeansZero,
        Mutation::BatchAckedBeforeFsync,
        Mutation::FollowerIgnoresLeader,
    ];

    /// Whether this mutation lifts the reservation of the last slot (`u64::MAX`).
    pub(crate) fn uses_last_slot(self) -> bool {
        matches!(self, Mutation::SlotWraps | Mutation::FrontierSaturates)
    }
}
