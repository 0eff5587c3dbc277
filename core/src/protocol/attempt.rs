//! The proposer's rules for one ballot at one slot, with no I/O: [`Attempt`].
//! The driver ([`crate::Proposer`]) and the simulator both run on it.

use super::error::{Error, Result};
use super::message::{Ballot, Promise, Proposal, Request, Slot, LAST_SLOT};
use super::mutation::Mutation;

/// What an [`Attempt`] wants next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Keep feeding answers.
    Waiting,
    /// Phase 1 reached a majority: send this proposal to every acceptor.
    Accept(Proposal),
    /// Phase 2 reached a majority: this value is chosen for the slot.
    Chosen(Vec<u8>),
    /// A majority can no longer be reached at this ballot. `promised` is the highest ballot a
    /// rejection reported (0 if none): retry above it.
    Failed {
        /// The highest ballot seen in a rejection.
        promised: Ballot,
    },
    /// An acceptor reported the slot trimmed: it was chosen and forgotten. Nothing can be
    /// chosen there any more; the log goes on at `first`.
    Trimmed {
        /// The first slot that acceptor still holds.
        first: Slot,
    },
    /// The acceptors' answers break a rule of Paxos (two values accepted at one ballot for
    /// this slot): the attempt stops rather than pick one.
    Violation(String),
}

/// The right to skip phase 1: ballot `ballot` was granted by a majority at a slot below
/// `from`, none of which had accepted anything at `from` or later. Only
/// [`Attempt::lease`] makes one, so phase 1 can be skipped only at a ballot that passed it.
///
/// Every lease made from one phase 1 (and every lease a leased decision hands back) is the
/// same ballot: propose at most one value per slot under it. [`crate::ReplicatedLog`] hands
/// each append a slot of its own; an acceptor that already holds a value at a ballot and
/// slot refuses a different one there ([`Error::ProtocolViolation`]), so a second value can
/// never be chosen at one ballot, but it can fail the proposal that sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    ballot: Ballot,
    from: Slot,
    /// Who may use it: the [`Proposer`](crate::Proposer) whose phase 1 made it (0 for the
    /// sans-IO layer). A proposer refuses another's lease: it was granted by other acceptors.
    owner: u64,
}

impl Lease {
    /// The leased ballot.
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }

    /// The first slot the lease covers.
    pub fn from(&self) -> Slot {
        self.from
    }

    /// The lease, marked as `owner`'s.
    pub(crate) fn owned_by(self, owner: u64) -> Lease {
        Lease { owner, ..self }
    }

    /// Whose lease it is (see [`owned_by`](Self::owned_by)).
    pub(crate) fn owner(&self) -> u64 {
        self.owner
    }

    /// Whether the lease lets `slot` skip phase 1.
    pub fn covers(&self, slot: Slot) -> bool {
        slot >= self.from
    }

    /// The same lease, for the slots after `slot` (after a leased value was chosen there).
    /// `None` past the last slot (`SlotWraps` is the injected bug of wrapping to 0 instead).
    pub(crate) fn beyond(&self, slot: Slot, mutation: Option<Mutation>) -> Option<Lease> {
        let from = match mutation {
            Some(Mutation::SlotWraps) => slot.wrapping_add(1),
            Some(m) if m.uses_last_slot() => slot.checked_add(1)?,
            _ => slot.checked_add(1).filter(|s| *s <= LAST_SLOT)?,
        };
        Some(Lease { from, ..*self })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Preparing,
    Accepting,
    Done,
}

/// The most acceptors one proposer can use (answers are tracked in a 128-bit set).
pub const MAX_ACCEPTORS: usize = 128;

/// How many of `n` acceptors make a majority.
pub fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// One ballot's attempt to choose a value for one slot: phase 1 then phase 2.
///
/// Answers that do not belong (another ballot or slot, an unknown acceptor, a repeat)
/// are ignored, so a network that duplicates or reorders does no harm.
///
/// ```
/// use synodos::{Attempt, Progress, Promise, Proposal};
/// let (mut attempt, request) = Attempt::new(3, 0, 7, 1, b"mine".to_vec()).unwrap();
/// let granted = Promise { id: request.id, ..Default::default() };
/// assert_eq!(attempt.on_promise(0, &granted), Progress::Waiting);
/// let Progress::Accept(proposal) = attempt.on_promise(2, &granted) else { panic!() };
/// assert_eq!(proposal.value, b"mine");
/// let ack = Proposal::new(7, 0, vec![]);
/// attempt.on_accepted(1, &ack);
/// assert_eq!(attempt.on_accepted(2, &ack), Progress::Chosen(b"mine".to_vec()));
/// ```
#[derive(Debug, Clone)]
pub struct Attempt {
    slot: Slot,
    ballot: Ballot,
    quorum: usize,
    value: Vec<u8>,
    /// The value this attempt was started with, once an adopted one displaced it.
    own: Option<Vec<u8>>,
    phase: Phase,
    /// One bit per acceptor that answered in the current phase.
    answered: u128,
    acceptors: usize,
    granted: usize,
    refused: usize,
    highest_accepted: Option<(Ballot, Vec<u8>)>,
    highest_promised: Ballot,
    /// Highest `frontier` among the granted promises; `None` once one of them left it out
    /// (unknown: no lease).
    frontier: Option<Slot>,
    /// Whether phase 1 succeeded (so `lease_from` may be asked).
    prepared: bool,
    /// Driver only: the phase 2 proposal takes `value` itself rather than a copy.
    lent: bool,
    mutation: Option<Mutation>,
}

impl Attempt {
    /// Start phase 1 of ballot `ballot` for `slot` among `acceptors` acceptors, proposing
    /// `value` unless an acceptor reports an accepted one. Returns the request to send to all.
    pub fn new(acceptors: usize, slot: Slot, ballot: Ballot, attempt: u64, value: Vec<u8>) -> Result<(Self, Request)> {
        Self::new_mutated(acceptors, slot, ballot, attempt, value, None)
    }

    #[doc(hidden)]
    pub fn new_mutated(
        acceptors: usize,
        slot: Slot,
        ballot: Ballot,
        attempt: u64,
        value: Vec<u8>,
        mutation: Option<Mutation>,
    ) -> Result<(Self, Request)> {
        if acceptors == 0 {
            return Err(Error::InvalidArgument("a proposer needs at least one acceptor".into()));
        }
        if acceptors > MAX_ACCEPTORS {
            return Err(Error::InvalidArgument(format!(
                "{acceptors} acceptors: at most {MAX_ACCEPTORS} are supported"
            )));
        }
        if ballot == 0 {
            return Err(Error::InvalidArgument("ballot 0 is reserved (ballots start at 1)".into()));
        }
        if !mutation.is_some_and(Mutation::uses_last_slot) {
            super::message::check_slot(slot)?;
        }
        let mut quorum = majority(acceptors);
        if mutation == Some(Mutation::QuorumOneShort) {
            quorum = (quorum - 1).max(1);
        }
        let attempt_state = Attempt {
            slot,
            ballot,
            quorum,
            value,
            own: None,
            phase: Phase::Preparing,
            answered: 0,
            acceptors,
            granted: 0,
            refused: 0,
            highest_accepted: None,
            highest_promised: 0,
            frontier: Some(0),
            prepared: false,
            lent: false,
            mutation,
        };
        Ok((attempt_state, Request { id: ballot, attempt, slot }))
    }

    /// Skip phase 1: start directly in phase 2 at the lease's ballot, for a slot the lease
    /// covers. Returns the proposal to send to all.
    pub fn leased(acceptors: usize, slot: Slot, lease: &Lease, value: Vec<u8>) -> Result<(Self, Proposal)> {
        Self::leased_mutated(acceptors, slot, lease, value, None)
    }

    #[doc(hidden)]
    pub fn leased_mutated(
        acceptors: usize,
        slot: Slot,
        lease: &Lease,
        value: Vec<u8>,
        mutation: Option<Mutation>,
    ) -> Result<(Self, Proposal)> {
        Self::leased_with(acceptors, slot, lease, value, mutation, false)
    }

    fn leased_with(
        acceptors: usize,
        slot: Slot,
        lease: &Lease,
        value: Vec<u8>,
        mutation: Option<Mutation>,
        lent: bool,
    ) -> Result<(Self, Proposal)> {
        if !lease.covers(slot) {
            return Err(Error::InvalidArgument(format!(
                "the lease of ballot {} covers slots from {} on, not slot {slot}",
                lease.ballot, lease.from
            )));
        }
        let (mut attempt, _) = Self::new_mutated(acceptors, slot, lease.ballot, 1, value, mutation)?;
        attempt.phase = Phase::Accepting;
        attempt.lent = lent;
        let value = if lent { std::mem::take(&mut attempt.value) } else { attempt.value.clone() };
        Ok((attempt, Proposal::new(lease.ballot, slot, value)))
    }

    /// After phase 1 succeeded: the first slot from which this ballot may skip phase 1
    /// (every acceptor of the granting majority had accepted nothing at or beyond it, and
    /// each promised this ballot for all slots). `None` before phase 1 succeeded, when
    /// some acceptor of the majority had accepted beyond this slot or did not say (no
    /// `frontier`), or when this is the last slot.
    ///
    /// Safe because a value chosen at a lower ballot in a later slot would have needed a
    /// majority, which intersects the granting one, whose members report nothing there; and
    /// they will refuse lower ballots from now on.
    pub fn lease_from(&self) -> Option<Slot> {
        self.lease().map(|l| l.from)
    }

    /// [`lease_from`](Self::lease_from), as the token [`leased`](Self::leased) takes.
    pub fn lease(&self) -> Option<Lease> {
        let wraps = self.mutation == Some(Mutation::SlotWraps);
        let next = if wraps { self.slot.wrapping_add(1) } else { self.slot.checked_add(1)? };
        if next > LAST_SLOT && !self.mutation.is_some_and(Mutation::uses_last_slot) {
            return None;
        }
        let frontier = match (self.frontier, self.mutation) {
            (None, Some(Mutation::AbsentFrontierMeansZero)) => Some(0),
            (f, _) => f,
        };
        let frontier_ok = frontier.is_some_and(|f| f <= next)
            || self.mutation == Some(Mutation::LeaseIgnoresFrontier)
            || (wraps && next == 0);
        (self.prepared && frontier_ok).then_some(Lease { ballot: self.ballot, from: next, owner: 0 })
    }

    /// The value this attempt was started with (never one it adopted from an acceptor),
    /// so that a caller whose attempt failed can start the next one with it without having
    /// kept a copy. Empty if this attempt chose that value (it left in [`Progress::Chosen`]).
    pub fn into_value(self) -> Vec<u8> {
        self.own.unwrap_or(self.value)
    }

    /// Driver only (saves a copy of the value per decision): the phase 2 proposal will take
    /// the value itself instead of a copy. The caller keeps that proposal, and must then
    /// read the chosen value from it (`Progress::Chosen` carries an empty one) and get its
    /// own value back from [`into_value_lent`](Self::into_value_lent).
    pub(crate) fn lend_value(&mut self) {
        self.lent = true;
    }

    /// [`into_value`](Self::into_value) after [`lend_value`](Self::lend_value), given the
    /// value the proposal took (if phase 1 ended in one).
    pub(crate) fn into_value_lent(self, proposed: Option<Vec<u8>>) -> Vec<u8> {
        match (self.own, proposed) {
            (Some(own), _) => own,
            (None, Some(proposed)) => proposed,
            (None, None) => self.value,
        }
    }

    /// [`leased`](Self::leased), lending the value to the proposal (see
    /// [`lend_value`](Self::lend_value)).
    pub(crate) fn leased_lent(
        acceptors: usize,
        slot: Slot,
        lease: &Lease,
        value: Vec<u8>,
        mutation: Option<Mutation>,
    ) -> Result<(Self, Proposal)> {
        Self::leased_with(acceptors, slot, lease, value, mutation, true)
    }

    /// After phase 1: the highest `frontier` the granting acceptors reported, if every one
    /// of them reported one.
    pub fn frontier(&self) -> Option<Slot> {
        self.frontier.filter(|_| self.prepared)
    }

    /// The ballot of this attempt.
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }

    /// The slot of this attempt.
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// How many acceptors make a majority here.
    pub fn quorum(&self) -> usize {
        self.quorum
    }

    fn first_answer(&mut self, from: usize) -> bool {
        if from >= self.acceptors {
            return false;
        }
        let bit = 1u128 << from;
        let first = self.answered & bit == 0;
        self.answered |= bit;
        first
    }

    fn refuse(&mut self, promised: Ballot) -> Progress {
        self.refused += 1;
        self.highest_promised = self.highest_promised.max(promised);
        if self.acceptors - self.refused < self.quorum {
            self.phase = Phase::Done;
            return Progress::Failed { promised: self.highest_promised };
        }
        Progress::Waiting
    }

    /// Feed a phase 1 answer from acceptor `from`.
    pub fn on_promise(&mut self, from: usize, promise: &Promise) -> Progress {
        if self.phase != Phase::Preparing || promise.id != self.ballot || promise.slot != self.slot {
            return Progress::Waiting;
        }
        if !self.first_answer(from) {
            return Progress::Waiting;
        }
        if promise.trimmed > self.slot && self.mutation != Some(Mutation::IgnoresTrimPoint) {
            // Only chosen slots are trimmed: there is nothing left to decide here.
            self.phase = Phase::Done;
            return Progress::Trimmed { first: promise.trimmed };
        }
        if !promise.is_granted() {
            return self.refuse(promise.promised);
        }
        self.frontier = match (self.frontier, promise.frontier) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        if let Some(acc) = &promise.accepted {
            match &self.highest_accepted {
                Some((b, v)) if acc.id == *b && acc.value != *v => {
                    self.phase = Phase::Done;
                    return Progress::Violation(format!(
                        "two different values were accepted at ballot {b} for slot {}: a ballot was reused",
                        self.slot
                    ));
                }
                Some((b, _)) if acc.id <= *b => {}
                _ => self.highest_accepted = Some((acc.id, acc.value.clone())),
            }
        }
        self.granted += 1;
        if self.granted < self.quorum {
            return Progress::Waiting;
        }
        // The rule that makes Paxos safe: adopt the value of the highest accepted ballot.
        if let Some((_, value)) = self.highest_accepted.take() {
            if self.mutation != Some(Mutation::ProposerIgnoresAccepted) {
                self.own = Some(std::mem::replace(&mut self.value, value));
            }
        }
        self.phase = Phase::Accepting;
        self.prepared = true;
        self.answered = 0;
        self.granted = 0;
        self.refused = 0;
        let value = if self.lent { std::mem::take(&mut self.value) } else { self.value.clone() };
        Progress::Accept(Proposal::new(self.ballot, self.slot, value))
    }

    /// Feed a phase 2 answer from acceptor `from`.
    pub fn on_accepted(&mut self, from: usize, answer: &Proposal) -> Progress {
        if self.phase != Phase::Accepting || answer.id != self.ballot || answer.slot != self.slot {
            return Progress::Waiting;
        }
        if !self.first_answer(from) {
            return Progress::Waiting;
        }
        if !answer.is_accepted() {
            return self.refuse(answer.promised);
        }
        self.granted += 1;
        if self.granted < self.quorum {
            return Progress::Waiting;
        }
        self.phase = Phase::Done;
        Progress::Chosen(std::mem::take(&mut self.value))
    }

    /// Acceptor `from` failed or timed out in the current phase.
    pub fn on_failure(&mut self, from: usize) -> Progress {
        if self.phase == Phase::Done || !self.first_answer(from) {
            return Progress::Waiting;
        }
        self.refuse(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted(id: Ballot, accepted: Option<Proposal>) -> Promise {
        Promise { id, accepted, ..Default::default() }
    }

    #[test]
    fn adopts_the_value_of_the_highest_accepted_ballot() {
        let (mut a, _) = Attempt::new(5, 0, 100, 1, b"mine".to_vec()).unwrap();
        a.on_promise(0, &granted(100, Some(Proposal::new(10, 0, b"old".to_vec()))));
        a.on_promise(1, &granted(100, Some(Proposal::new(50, 0, b"newer".to_vec()))));
        match a.on_promise(2, &granted(100, None)) {
            Progress::Accept(p) => assert_eq!(p.value, b"newer"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn into_value_hands_back_the_own_value_even_after_adopting_another() {
        let (a, _) = Attempt::new(3, 0, 100, 1, b"mine".to_vec()).unwrap();
        assert_eq!(a.into_value(), b"mine");
        let (mut a, _) = Attempt::new(3, 0, 100, 1, b"mine".to_vec()).unwrap();
        a.on_promise(0, &granted(100, Some(Proposal::new(10, 0, b"old".to_vec()))));
        let Progress::Accept(p) = a.on_promise(1, &granted(100, None)) else { panic!() };
        assert_eq!(p.value, b"old");
        assert_eq!(a.on_accepted(0, &Proposal { promised: 200, ..Proposal::new(100, 0, vec![]) }), Progress::Waiting);
        assert_eq!(a.on_failure(1), Progress::Failed { promised: 200 });
        assert_eq!(a.into_value(), b"mine");
    }

    #[test]
    fn a_lent_value_goes_to_the_proposal_and_the_own_value_comes_back() {
        let ack = |promised| Proposal { promised, ..Proposal::new(100, 0, vec![]) };
        // Not adopted: the proposal carries the own value, which comes back from it.
        let (mut a, _) = Attempt::new(3, 0, 100, 1, b"mine".to_vec()).unwrap();
        a.lend_value();
        a.on_promise(0, &granted(100, None));
        let Progress::Accept(p) = a.on_promise(1, &granted(100, None)) else { panic!() };
        assert_eq!(p.value, b"mine");
        assert_eq!(a.on_accepted(0, &ack(0)), Progress::Waiting);
        assert_eq!(a.on_accepted(1, &ack(0)), Progress::Chosen(vec![]), "the proposal holds the chosen value");
        // Adopted, then failed: the own value comes back, not the adopted one.
        let (mut a, _) = Attempt::new(3, 0, 100, 1, b"mine".to_vec()).unwrap();
        a.lend_value();
        a.on_promise(0, &granted(100, Some(Proposal::new(10, 0, b"old".to_vec()))));
        let Progress::Accept(p) = a.on_promise(1, &granted(100, None)) else { panic!() };
        assert_eq!(p.value, b"old");
        a.on_accepted(0, &ack(200));
        assert_eq!(a.on_failure(1), Progress::Failed { promised: 200 });
        assert_eq!(a.into_value_lent(Some(p.value)), b"mine");
        // Phase 1 failed: the value never left.
        let (mut a, _) = Attempt::new(3, 0, 100, 1, b"mine".to_vec()).unwrap();
        a.lend_value();
        a.on_failure(0);
        assert_eq!(a.on_failure(1), Progress::Failed { promised: 0 });
        assert_eq!(a.into_value_lent(None), b"mine");
        // Leased: the proposal takes the value.
        let lease = Lease { ballot: 100, from: 0, owner: 0 };
        let (mut a, p) = Attempt::leased_lent(3, 0, &lease, b"mine".to_vec(), None).unwrap();
        assert_eq!(p.value, b"mine");
        a.on_accepted(0, &ack(200));
        a.on_accepted(1, &ack(200));
        assert_eq!(a.into_value_lent(Some(p.value)), b"mine");
    }

    #[test]
    fn ignores_duplicates_stale_ballots_and_other_slots() {
        let (mut a, _) = Attempt::new(3, 4, 9, 1, b"v".to_vec()).unwrap();
        let p = Promise { id: 9, slot: 4, ..Default::default() };
        assert_eq!(a.on_promise(0, &p), Progress::Waiting);
        assert_eq!(a.on_promise(0, &p), Progress::Waiting, "duplicate");
        assert_eq!(a.on_promise(1, &Promise { id: 8, ..p.clone() }), Progress::Waiting, "stale ballot");
        assert_eq!(a.on_promise(1, &Promise { slot: 5, ..p.clone() }), Progress::Waiting, "other slot");
        assert_eq!(a.on_promise(99, &p), Progress::Waiting, "unknown acceptor");
        assert!(matches!(a.on_promise(1, &p), Progress::Accept(_)));
    }

    #[test]
    fn fails_as_soon_as_a_majority_is_impossible_and_reports_the_highest_promise() {
        let (mut a, _) = Attempt::new(3, 0, 9, 1, b"v".to_vec()).unwrap();
        let reject = |promised| Promise { id: 9, promised, ..Default::default() };
        assert_eq!(a.on_promise(0, &reject(20)), Progress::Waiting);
        assert_eq!(a.on_failure(1), Progress::Failed { promised: 20 });
    }

    #[test]
    fn phase_two_needs_a_majority_of_acks() {
        let (mut a, _) = Attempt::new(3, 0, 9, 1, b"v".to_vec()).unwrap();
        a.on_promise(0, &granted(9, None));
        a.on_promise(1, &granted(9, None));
        let ack = Proposal::new(9, 0, vec![]);
        let nack = Proposal { promised: 11, ..ack.clone() };
        assert_eq!(a.on_accepted(0, &ack), Progress::Waiting);
        assert_eq!(a.on_accepted(1, &nack), Progress::Waiting);
        assert_eq!(a.on_accepted(2, &ack), Progress::Chosen(b"v".to_vec()));
    }

    #[test]
    fn a_lease_is_offered_only_when_the_majority_accepted_nothing_beyond_the_slot() {
        let promise = |frontier| Promise { id: 9, slot: 4, frontier: Some(frontier), ..Default::default() };
        let (mut a, _) = Attempt::new(3, 4, 9, 1, b"v".to_vec()).unwrap();
        assert_eq!(a.lease_from(), None, "not before phase 1");
        a.on_promise(0, &promise(3));
        a.on_promise(1, &promise(5));
        assert_eq!(a.lease_from(), Some(5));
        let (mut b, _) = Attempt::new(3, 4, 9, 1, b"v".to_vec()).unwrap();
        b.on_promise(0, &promise(0));
        b.on_promise(1, &promise(7));
        assert_eq!(b.lease_from(), None, "acceptor 1 accepted at slot 6");
        let lease = a.lease().unwrap();
        assert!(matches!(Attempt::leased(3, 4, &lease, b"w".to_vec()), Err(Error::InvalidArgument(_))));
        let (mut leased, proposal) = Attempt::leased(3, 5, &lease, b"w".to_vec()).unwrap();
        assert_eq!(proposal, Proposal::new(9, 5, b"w".to_vec()));
        let ack = Proposal::new(9, 5, vec![]);
        leased.on_accepted(0, &ack);
        assert_eq!(leased.on_accepted(2, &ack), Progress::Chosen(b"w".to_vec()));
    }

    #[test]
    fn an_absent_frontier_means_no_lease() {
        let (mut a, _) = Attempt::new(3, 4, 9, 1, b"v".to_vec()).unwrap();
        a.on_promise(0, &Promise { id: 9, slot: 4, frontier: Some(0), ..Default::default() });
        a.on_promise(1, &Promise { id: 9, slot: 4, frontier: None, ..Default::default() });
        assert_eq!(a.lease_from(), None, "acceptor 1 did not say what it accepted beyond slot 4");
    }

    #[test]
    fn the_last_slot_is_never_leased_and_the_reserved_one_refused() {
        let (mut a, _) = Attempt::new(3, LAST_SLOT, 9, 1, b"v".to_vec()).unwrap();
        let full = Promise { id: 9, slot: LAST_SLOT, frontier: Some(u64::MAX), ..Default::default() };
        a.on_promise(0, &full);
        a.on_promise(1, &full);
        assert_eq!(a.lease_from(), None, "no slot after the last one to lease");
        let (mut b, _) = Attempt::new(3, LAST_SLOT - 1, 9, 1, b"v".to_vec()).unwrap();
        let promise = Promise { id: 9, slot: LAST_SLOT - 1, frontier: Some(LAST_SLOT), ..Default::default() };
        b.on_promise(0, &promise);
        b.on_promise(1, &promise);
        let lease = b.lease().unwrap();
        assert_eq!(lease.from(), LAST_SLOT);
        assert_eq!(lease.beyond(LAST_SLOT, None), None, "a lease does not run past the last slot");
        assert!(matches!(Attempt::leased(3, u64::MAX, &lease, vec![]), Err(Error::InvalidArgument(_))));
        assert!(matches!(Attempt::new(3, u64::MAX, 9, 1, vec![]), Err(Error::InvalidArgument(_))));
    }

    #[test]
    fn two_values_at_one_ballot_are_a_violation_not_a_choice() {
        let (mut a, _) = Attempt::new(3, 0, 100, 1, b"mine".to_vec()).unwrap();
        a.on_promise(0, &granted(100, Some(Proposal::new(10, 0, b"old".to_vec()))));
        assert!(matches!(
            a.on_promise(1, &granted(100, Some(Proposal::new(10, 0, b"new".to_vec())))),
            Progress::Violation(_)
        ));
        assert_eq!(a.on_promise(2, &granted(100, None)), Progress::Waiting, "the attempt is over");
    }

    #[test]
    fn a_trimmed_slot_ends_the_attempt() {
        let (mut a, _) = Attempt::new(3, 2, 100, 1, b"mine".to_vec()).unwrap();
        let trimmed = Promise { id: 100, slot: 2, trimmed: 7, ..Default::default() };
        assert!(!trimmed.is_granted());
        assert_eq!(a.on_promise(0, &trimmed), Progress::Trimmed { first: 7 });
    }

    #[test]
    fn rejects_zero_acceptors_too_many_acceptors_and_ballot_zero() {
        assert!(matches!(Attempt::new(0, 0, 1, 1, vec![]), Err(Error::InvalidArgument(_))));
        assert!(matches!(Attempt::new(MAX_ACCEPTORS + 1, 0, 1, 1, vec![]), Err(Error::InvalidArgument(_))));
        assert!(Attempt::new(MAX_ACCEPTORS, 0, 1, 1, vec![]).is_ok());
        assert!(matches!(Attempt::new(3, 0, 0, 1, vec![]), Err(Error::InvalidArgument(_))));
    }
}
