//! Property tests: wire round trips, acceptor invariants and recovery, learner vs. a
//! brute-force count.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap, HashSet};

use proptest::prelude::*;
use synodos::{wire, AcceptorCore, Learner, Log, MemoryLog, Promise, Proposal, Request};

fn proposal() -> impl Strategy<Value = Proposal> {
    (any::<u64>(), any::<u64>(), proptest::collection::vec(any::<u8>(), 0..40), any::<u64>())
        .prop_map(|(id, slot, value, promised)| Proposal { id, slot, value, promised })
}

proptest! {
    #[test]
    fn requests_round_trip(id: u64, attempt: u64, slot: u64) {
        let r = Request { id, attempt, slot };
        prop_assert_eq!(wire::from_json::<Request>(&wire::to_json(&r).unwrap()).unwrap(), r);
    }

    #[test]
    fn proposals_round_trip(p in proposal()) {
        prop_assert_eq!(wire::from_json::<Proposal>(&wire::to_json(&p).unwrap()).unwrap(), p);
    }

    #[test]
    fn promises_round_trip(id: u64, slot: u64, promised: u64, frontier: Option<u64>, trimmed: u64, accepted in proptest::option::of(proposal())) {
        let p = Promise { id, slot, accepted, promised, frontier, trimmed };
        prop_assert_eq!(wire::from_json::<Promise>(&wire::to_json(&p).unwrap()).unwrap(), p);
    }

    /// Any sequence of prepares and accepts: the promise never goes down, nothing is accepted
    /// below the promise at the time, a rejection names a higher promise, and an acceptor
    /// rebuilt from its logs at any point is the same acceptor.
    #[test]
    fn acceptor_invariants_and_recovery(ops in proptest::collection::vec((any::<bool>(), 1u64..50, 0u64..6, any::<u8>()), 1..80)) {
        let (mut promises, mut accepts) = (MemoryLog::new(), MemoryLog::new());
        let mut core = AcceptorCore::new();
        let mut accepted: BTreeMap<u64, (u64, Vec<u8>)> = BTreeMap::new();
        for (is_prepare, ballot, slot, byte) in ops {
            let before = core.promised();
            if is_prepare {
                let reply = core.prepare(&Request { id: ballot, attempt: 1, slot }).unwrap()
                    .persist(&mut promises, &mut accepts).unwrap();
                prop_assert_eq!(reply.is_granted(), ballot > before, "granted only strictly above the promise");
                if !reply.is_granted() {
                    prop_assert_eq!(reply.promised, before);
                }
                prop_assert_eq!(reply.accepted.map(|p| (p.id, p.value)), accepted.get(&slot).cloned());
            } else {
                let second_value = accepted.get(&slot).is_some_and(|(b, v)| *b == ballot && *v != vec![byte]);
                let pending = core.accept(&Proposal::new(ballot, slot, vec![byte]));
                if second_value && ballot >= before {
                    // One value per ballot and slot: a second one is refused, nothing changes.
                    prop_assert!(matches!(pending, Err(synodos::Error::ProtocolViolation(_))));
                    continue;
                }
                let reply = pending.unwrap().persist(&mut promises, &mut accepts).unwrap();
                prop_assert_eq!(reply.is_accepted(), ballot >= before);
                if reply.is_accepted() {
                    accepted.insert(slot, (ballot, vec![byte]));
                }
            }
            prop_assert!(core.promised() >= before);
            for (slot, (ballot, value)) in &accepted {
                let got = core.accepted(*slot).unwrap();
                prop_assert_eq!((got.id, &got.value), (*ballot, value));
                prop_assert!(*ballot <= core.promised());
            }
            let rebuilt = AcceptorCore::recover(&promises, &accepts).unwrap();
            prop_assert_eq!(rebuilt.promised(), core.promised());
            prop_assert_eq!(rebuilt.frontier(), core.frontier());
            prop_assert_eq!(rebuilt.accepted_from(0).collect::<Vec<_>>(), core.accepted_from(0).collect::<Vec<_>>());
        }
        // Promise records are few: one per raise of the promise, never one per request.
        prop_assert!(promises.len() <= 50);
        prop_assert!(promises.last().unwrap().map_or(0, |r| r.0) <= core.promised());
    }

    /// The learner reports a slot exactly when a majority has reported one ballot for it,
    /// with that ballot's value, and only once.
    #[test]
    fn learner_matches_a_brute_force_count(
        n in prop_oneof![Just(3usize), Just(5usize)],
        reports in proptest::collection::vec((0usize..5, 0u64..4, 1u64..4), 0..120),
    ) {
        let mut learner = Learner::new(n);
        let mut voters: HashMap<(u64, u64), HashSet<usize>> = HashMap::new();
        let mut learned: HashMap<u64, Vec<u8>> = HashMap::new();
        for (from, slot, ballot) in reports {
            let from = from % n;
            let value = format!("b{ballot}").into_bytes();
            let entry = learner.on_accepted(from, &Proposal::new(ballot, slot, value.clone())).unwrap();
            let first_majority = {
                let set = voters.entry((slot, ballot)).or_default();
                set.insert(from) && set.len() == n / 2 + 1
            };
            let expect = first_majority && !learned.contains_key(&slot);
            prop_assert_eq!(entry.is_some(), expect, "slot {} ballot {}", slot, ballot);
            if let Some(e) = entry {
                prop_assert_eq!(e.slot, slot);
                prop_assert_eq!(&e.value, &value);
                learned.insert(slot, value);
            }
        }
        prop_assert_eq!(learner.open_tallies(), voters.keys().map(|k| k.0).filter(|s| !learned.contains_key(s)).collect::<HashSet<_>>().len());
    }
}
