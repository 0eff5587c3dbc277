//! [`SlotMap`]: values by slot, for an acceptor's accepted proposals.
//!
//! Slots mostly arrive in order (a log grows at its end), so the map keeps a dense window
//! of consecutive slots in a `VecDeque` (a lookup or an append is an index, not a tree
//! search) and puts any slot it cannot reach cheaply from that window (below it, or far
//! beyond its end) in a `BTreeMap`. The two never hold the same slot.

use std::collections::{BTreeMap, VecDeque};
use std::iter::Peekable;

use super::message::Slot;

/// The most empty slots the window may grow over to reach a new slot; a slot further away
/// goes to the sparse map, so scattered slots cannot make the window large.
const MAX_GAP: u64 = 16;

#[derive(Debug, Clone)]
pub(crate) struct SlotMap<V> {
    /// The slot of `dense[0]` (meaningless while `dense` is empty).
    base: Slot,
    /// Slots `base..base + dense.len()`; the last one is always `Some`.
    dense: VecDeque<Option<V>>,
    /// Every slot outside the window.
    sparse: BTreeMap<Slot, V>,
}

impl<V> Default for SlotMap<V> {
    fn default() -> Self {
        SlotMap { base: 0, dense: VecDeque::new(), sparse: BTreeMap::new() }
    }
}

impl<V> SlotMap<V> {
    /// `slot`'s index in the window, if it is inside it.
    fn index(&self, slot: Slot) -> Option<usize> {
        let offset = usize::try_from(slot.checked_sub(self.base)?).ok()?;
        (offset < self.dense.len()).then_some(offset)
    }

    pub(crate) fn get(&self, slot: Slot) -> Option<&V> {
        match self.index(slot) {
            Some(i) => self.dense.get(i).and_then(Option::as_ref),
            None if self.sparse.is_empty() => None,
            None => self.sparse.get(&slot),
        }
    }

    /// Set `slot`'s value; returns the value it replaces, if any.
    pub(crate) fn insert(&mut self, slot: Slot, value: V) -> Option<V> {
        // The common case first: the slot right after the window, nothing sparse to move in.
        if slot.checked_sub(self.base) == Some(self.dense.len() as u64)
            && !self.dense.is_empty()
            && self.sparse.is_empty()
        {
            self.dense.push_back(Some(value));
            return None;
        }
        if let Some(i) = self.index(slot) {
            return self.dense.get_mut(i).and_then(|entry| entry.replace(value));
        }
        if self.dense.is_empty() {
            // An empty window can start anywhere; the sparse map must then not hold `slot`.
            self.base = slot;
            let old = if self.sparse.is_empty() { None } else { self.sparse.remove(&slot) };
            self.dense.push_back(Some(value));
            return old;
        }
        let len = self.dense.len() as u64;
        match slot.checked_sub(self.base) {
            Some(offset) if offset - len <= MAX_GAP => {
                // Grow the window up to `slot`, moving in what the sparse map held there.
                for i in len..offset {
                    let moved = if self.sparse.is_empty() { None } else { self.sparse.remove(&(self.base + i)) };
                    self.dense.push_back(moved);
                }
                let old = if self.sparse.is_empty() { None } else { self.sparse.remove(&slot) };
                self.dense.push_back(Some(value));
                old
            }
            _ => self.sparse.insert(slot, value),
        }
    }

    /// Drop every slot below `slot`, handing each dropped value to `removed`.
    pub(crate) fn remove_below(&mut self, slot: Slot, mut removed: impl FnMut(V)) {
        if !self.sparse.is_empty() {
            let kept = self.sparse.split_off(&slot);
            std::mem::replace(&mut self.sparse, kept).into_values().for_each(&mut removed);
        }
        let Some(offset) = slot.checked_sub(self.base) else { return };
        let cut = usize::try_from(offset).map_or(self.dense.len(), |cut| cut.min(self.dense.len()));
        self.dense.drain(..cut).flatten().for_each(removed);
        self.base = slot;
    }

    /// Every value, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.dense.iter().flatten().chain(self.sparse.values())
    }

    /// Every value, mutably, in no particular order.
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut V> + '_ {
        self.dense.iter_mut().flatten().chain(self.sparse.values_mut())
    }

    pub(crate) fn is_empty(&self) -> bool {
        // A window that is not empty ends with a value.
        self.sparse.is_empty() && self.dense.is_empty()
    }

    /// The slots from `from` on, in slot order.
    pub(crate) fn iter_from(&self, from: Slot) -> impl Iterator<Item = (Slot, &V)> + '_ {
        let skip = usize::try_from(from.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.dense.len());
        let base = self.base.wrapping_add(skip as u64); // unused when the range is empty
        let dense = self.dense.range(skip..).enumerate().filter_map(move |(i, v)| Some((base + i as u64, v.as_ref()?)));
        let sparse = self.sparse.range(from..).map(|(slot, v)| (*slot, v));
        Merge { a: dense.peekable(), b: sparse.peekable() }
    }
}

/// Two slot-ordered iterators with no slot in common, merged in slot order.
struct Merge<A: Iterator, B: Iterator> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<'v, V: 'v, A, B> Iterator for Merge<A, B>
where
    A: Iterator<Item = (Slot, &'v V)>,
    B: Iterator<Item = (Slot, &'v V)>,
{
    type Item = (Slot, &'v V);

    fn next(&mut self) -> Option<Self::Item> {
        match (self.a.peek(), self.b.peek()) {
            (Some((a, _)), Some((b, _))) if b < a => self.b.next(),
            (Some(_), _) => self.a.next(),
            (None, _) => self.b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Slot, u32),
        RemoveBelow(Slot),
    }

    fn slot() -> impl Strategy<Value = Slot> {
        prop_oneof![0..40u64, 0..200u64, Just(u64::MAX), Just(u64::MAX - 1), (u64::MAX - 30)..=u64::MAX]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (slot(), any::<u32>()).prop_map(|(s, v)| Op::Insert(s, v)),
            1 => slot().prop_map(Op::RemoveBelow),
        ]
    }

    proptest! {
        /// The map behaves exactly like a `BTreeMap`, whatever the order of slots.
        #[test]
        fn behaves_like_a_btree_map(ops in proptest::collection::vec(op(), 0..200), probes in proptest::collection::vec(slot(), 8)) {
            let mut map = SlotMap::default();
            let mut model = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(s, v) => {
                        prop_assert_eq!(map.insert(s, v), model.insert(s, v));
                    }
                    Op::RemoveBelow(s) => {
                        let mut removed = vec![];
                        map.remove_below(s, |v| removed.push(v));
                        let kept = model.split_off(&s);
                        let mut want: Vec<_> = std::mem::replace(&mut model, kept).into_values().collect();
                        removed.sort_unstable();
                        want.sort_unstable();
                        prop_assert_eq!(removed, want);
                    }
                }
                prop_assert!(map.dense.back().is_none_or(Option::is_some));
                prop_assert!(map.sparse.keys().all(|s| map.index(*s).is_none()));
            }
            for p in probes.iter().copied().chain([0, u64::MAX]) {
                prop_assert_eq!(map.get(p), model.get(&p));
                let got: Vec<_> = map.iter_from(p).collect();
                let want: Vec<_> = model.range(p..).map(|(s, v)| (*s, v)).collect();
                prop_assert_eq!(got, want);
            }
            prop_assert_eq!(map.is_empty(), model.is_empty());
            for v in map.values_mut() {
                *v = v.wrapping_add(1);
            }
            for v in model.values_mut() {
                *v = v.wrapping_add(1);
            }
            let mut values: Vec<_> = map.values().copied().collect();
            let mut want: Vec<_> = model.values().copied().collect();
            values.sort_unstable();
            want.sort_unstable();
            prop_assert_eq!(values, want);
        }
    }

    #[test]
    fn a_window_ending_at_the_last_slot_does_not_wrap_to_slot_zero() {
        let mut map = SlotMap::default();
        map.insert(u64::MAX, 1);
        map.insert(0, 2);
        assert_eq!(map.iter_from(0).collect::<Vec<_>>(), [(0, &2), (u64::MAX, &1)]);
    }

    #[test]
    fn in_order_slots_stay_in_the_window() {
        let mut map = SlotMap::default();
        for s in 5..1000u64 {
            map.insert(s, s);
        }
        map.insert(1010, 1010); // a small gap: still the window
        map.insert(5000, 5000); // far: sparse
        map.insert(2, 2); // below: sparse
        assert_eq!(map.dense.len(), 1006);
        assert_eq!(map.sparse.len(), 2);
        map.remove_below(500, |_| {});
        assert_eq!(map.iter_from(0).next(), Some((500, &500)));
        assert_eq!(map.iter_from(1001).collect::<Vec<_>>(), [(1010, &1010), (5000, &5000)]);
    }
}
