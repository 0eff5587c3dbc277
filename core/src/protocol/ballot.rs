//! The two numbers of Paxos: [`Ballot`] and [`Slot`].

/// A ballot number. Higher ballots win; two proposers never use the same ballot (the
/// id generators put the node id in the low bits). 0 is never used
/// by a proposer: it means "nothing promised yet".
pub type Ballot = u64;

/// A position in the replicated log. Single-decree Paxos uses slot 0.
///
/// Slots run from 0 to [`LAST_SLOT`]; `u64::MAX` itself is reserved, so that "one past a
/// slot" (a [`Promise::frontier`](super::message::Promise::frontier), a lease's first slot) always fits in a `u64` and never
/// saturates into a value that means something else.
pub type Slot = u64;

/// The highest slot a value can be chosen at (`u64::MAX - 1`). Acceptors and proposers
/// refuse `u64::MAX`, and a log whose last slot is taken refuses further appends.
pub const LAST_SLOT: Slot = u64::MAX - 1;
