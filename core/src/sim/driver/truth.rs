//! Ground truth from the acceptors, and the safety and agreement oracles checked against it.

use super::*;

/// The ground truth, from the acceptors.
#[derive(Default)]
pub(super) struct Truth {
    pub(super) votes: HashMap<(Slot, Ballot), (BTreeSet<usize>, Vec<u8>)>,
    pub(super) chosen: BTreeMap<Slot, Vec<u8>>,
    pub(super) proposed: HashSet<Vec<u8>>,
    /// Every acknowledged append: slot, value.
    pub(super) acked: Vec<(Slot, Vec<u8>)>,
}

pub(super) fn show(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

impl World {
    pub(super) fn violation(&self, what: String) {
        let mut outcome = self.outcome.borrow_mut();
        if outcome.violations.len() < 10 {
            outcome.violations.push(format!("t={}: {what}", self.now.get()));
        }
    }

    pub(super) fn mix(&self, x: u64) {
        let mut o = self.outcome.borrow_mut();
        o.digest = (o.digest ^ x).wrapping_mul(0x100_0000_01b3).rotate_left(7);
    }

    pub(super) fn vote(&self, acceptor: usize, p: &Proposal) {
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

    pub(super) fn check_learned(&self, who: &str, slot: Slot, value: &[u8]) {
        let chosen = self.truth.borrow().chosen.get(&slot).cloned();
        match chosen {
            Some(c) if c == value => {}
            Some(c) => {
                self.violation(format!("{who} got {:?} at slot {slot}, but {:?} was chosen", show(value), show(&c)))
            }
            None => self.violation(format!("{who} got {:?} at slot {slot}, which no majority accepted", show(value))),
        }
    }
}
