//! The learner: tallies accepted proposals reported by acceptors and says when a slot's
//! value is chosen (a majority accepted the same ballot). A slot's tally is dropped the
//! moment it is chosen, so memory stays bounded however long the log grows.

use std::collections::{BTreeSet, HashMap};

use super::attempt::majority;
use super::error::{Error, Result};
use super::message::{Ballot, Entry, Proposal, Slot, LAST_SLOT};

#[derive(Debug, Default)]
struct Tally {
    /// For each ballot seen at this slot: which acceptors accepted it, and its value.
    ballots: HashMap<Ballot, (Vec<usize>, Vec<u8>)>,
}

/// Learns chosen values from acceptors' accepted proposals.
///
/// ```
/// use synodos::{Learner, Proposal};
/// let mut learner = Learner::new(3);
/// let p = Proposal::new(7, 0, b"v".to_vec());
/// assert_eq!(learner.on_accepted(0, &p).unwrap(), None);
/// assert_eq!(learner.on_accepted(2, &p).unwrap().unwrap().value, b"v");
/// assert_eq!(learner.on_accepted(1, &p).unwrap(), None); // already chosen: ignored
/// assert_eq!(learner.open_tallies(), 0);
/// ```
#[derive(Debug)]
pub struct Learner {
    acceptors: usize,
    quorum: usize,
    tallies: HashMap<Slot, Tally>,
    /// Every slot below this is chosen.
    chosen_below: Slot,
    /// Chosen slots at or above `chosen_below` (out of order).
    chosen_above: BTreeSet<Slot>,
}

impl Learner {
    /// A learner for a group of `acceptors` acceptors.
    pub fn new(acceptors: usize) -> Self {
        Self::starting_at(acceptors, 0)
    }

    /// A learner that ignores slots below `first` (already known).
    pub fn starting_at(acceptors: usize, first: Slot) -> Self {
        Learner {
            acceptors,
            quorum: majority(acceptors),
            tallies: HashMap::new(),
            chosen_below: first,
            chosen_above: BTreeSet::new(),
        }
    }

    #[doc(hidden)]
    pub fn set_quorum(&mut self, quorum: usize) {
        self.quorum = quorum.max(1);
    }

    fn is_chosen(&self, slot: Slot) -> bool {
        slot < self.chosen_below || self.chosen_above.contains(&slot)
    }

    /// Acceptor `from` reports it accepted `proposal`. Returns the entry when this report
    /// completes a majority for its slot. Trim markers (ballot 0) are not votes and are
    /// ignored.
    ///
    /// Two different values reported at one ballot for one slot are an
    /// [`Error::ProtocolViolation`]: correct proposers never do that, and picking either
    /// could report a value that was never chosen.
    pub fn on_accepted(&mut self, from: usize, proposal: &Proposal) -> Result<Option<Entry>> {
        if from >= self.acceptors || proposal.id == 0 || proposal.slot > LAST_SLOT || self.is_chosen(proposal.slot) {
            return Ok(None);
        }
        let tally = self.tallies.entry(proposal.slot).or_default();
        let (voters, value) = tally.ballots.entry(proposal.id).or_insert_with(|| (Vec::new(), proposal.value.clone()));
        if *value != proposal.value {
            return Err(Error::ProtocolViolation(format!(
                "acceptors report two different values at ballot {} for slot {}: a ballot was reused",
                proposal.id, proposal.slot
            )));
        }
        if voters.contains(&from) {
            return Ok(None);
        }
        voters.push(from);
        if voters.len() < self.quorum {
            return Ok(None);
        }
        let Some((_, value)) = tally.ballots.remove(&proposal.id) else { return Ok(None) };
        self.tallies.remove(&proposal.slot);
        self.mark_chosen(proposal.slot);
        Ok(Some(Entry { slot: proposal.slot, value }))
    }

    fn mark_chosen(&mut self, slot: Slot) {
        if slot != self.chosen_below {
            self.chosen_above.insert(slot);
            return;
        }
        // `u64::MAX` is never a slot, so `chosen_below` can reach it but not pass it.
        self.chosen_below = slot.saturating_add(1);
        while self.chosen_below < u64::MAX && self.chosen_above.remove(&self.chosen_below) {
            self.chosen_below += 1;
        }
    }

    /// How many slots have a tally open (reported but not yet chosen).
    pub fn open_tallies(&self) -> usize {
        self.tallies.len()
    }

    /// Slots chosen out of order and still remembered individually.
    pub fn chosen_out_of_order(&self) -> usize {
        self.chosen_above.len()
    }

    /// Every slot below this one is known chosen.
    pub fn chosen_below(&self) -> Slot {
        self.chosen_below
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_majority_must_accept_the_same_ballot() {
        let mut l = Learner::new(3);
        assert_eq!(l.on_accepted(0, &Proposal::new(1, 0, b"a".to_vec())).unwrap(), None);
        assert_eq!(l.on_accepted(1, &Proposal::new(2, 0, b"b".to_vec())).unwrap(), None);
        assert_eq!(
            l.on_accepted(0, &Proposal::new(1, 0, b"a".to_vec())).unwrap(),
            None,
            "a repeat is not a second vote"
        );
        let e = l.on_accepted(2, &Proposal::new(2, 0, b"b".to_vec())).unwrap().unwrap();
        assert_eq!(e, Entry { slot: 0, value: b"b".to_vec() });
    }

    #[test]
    fn memory_stays_flat_over_many_slots() {
        let mut l = Learner::new(3);
        for slot in 0..100_000u64 {
            let p = Proposal::new(1, slot, vec![1; 8]);
            l.on_accepted(0, &p).unwrap();
            assert!(l.on_accepted(1, &p).unwrap().is_some());
            l.on_accepted(2, &p).unwrap();
            assert!(l.open_tallies() <= 1);
        }
        assert_eq!(l.chosen_below(), 100_000);
        assert_eq!(l.chosen_out_of_order(), 0);
    }

    #[test]
    fn out_of_order_slots_collapse_into_the_watermark() {
        let mut l = Learner::new(1);
        l.on_accepted(0, &Proposal::new(1, 2, vec![])).unwrap();
        l.on_accepted(0, &Proposal::new(1, 1, vec![])).unwrap();
        assert_eq!(l.chosen_out_of_order(), 2);
        l.on_accepted(0, &Proposal::new(1, 0, vec![])).unwrap();
        assert_eq!(l.chosen_below(), 3);
        assert_eq!(l.chosen_out_of_order(), 0);
    }

    #[test]
    fn two_values_at_one_ballot_are_reported_not_picked() {
        let mut l = Learner::new(3);
        assert_eq!(l.on_accepted(0, &Proposal::new(7, 0, b"old".to_vec())).unwrap(), None);
        assert!(matches!(l.on_accepted(1, &Proposal::new(7, 0, b"new".to_vec())), Err(Error::ProtocolViolation(_))));
    }

    #[test]
    fn the_last_slot_does_not_overflow_and_trim_markers_are_not_votes() {
        let mut l = Learner::starting_at(1, crate::protocol::message::LAST_SLOT);
        assert_eq!(l.on_accepted(0, &Proposal::new(0, crate::protocol::message::LAST_SLOT, vec![])).unwrap(), None);
        assert!(l.on_accepted(0, &Proposal::new(3, crate::protocol::message::LAST_SLOT, vec![])).unwrap().is_some());
        assert_eq!(l.chosen_below(), u64::MAX);
        assert_eq!(l.on_accepted(0, &Proposal::new(3, u64::MAX, vec![])).unwrap(), None);
    }
}
