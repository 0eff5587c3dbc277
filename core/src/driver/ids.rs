//! Ballot (id) generators: [`IdGenerator`], and the two kinds, [`CounterIdGenerator`] and
//! [`ServerIdGenerator`], which share one layout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::clock::Clock;
#[cfg(test)]
use super::clock::ManualClock;
use crate::protocol::error::{Error, Result};
use crate::protocol::message::Ballot;

/// Produces ballots. Every call to `next` returns a ballot higher than any it returned or
/// observed before, and two generators with different node ids never return the same one,
/// whatever their kinds: every generator here lays a ballot out as `round << 16 | node_id`.
///
/// # Ballots across restarts
/// A generator keeps no state on disk, so a proposer that restarts may draw a ballot its
/// previous lifetime drew. That is safe, because acceptors make ballots single-use: an
/// acceptor grants a prepare only for a ballot strictly above its promise, so it grants
/// each ballot at most once, and only a ballot that a majority granted (or a lease taken
/// from such a grant) ever carries a value. Two lifetimes that draw the same ballot cannot
/// both get it granted, since their majorities share an acceptor. The restarted proposer's
/// old ballots are refused, the refusal names the promise, and the generator leaps past it
/// ([`observe`](Self::observe)): the first ballot that a majority grants after a restart is
/// above everything they promised, so it is new.
pub trait IdGenerator: Send + Sync {
    /// The next ballot.
    fn next(&self) -> Result<Ballot>;
    /// Tell the generator about a ballot seen elsewhere (e.g. in a rejection), so the next
    /// ballot leaps past it instead of losing to it again.
    fn observe(&self, seen: Ballot);
}

impl<T: IdGenerator + ?Sized> IdGenerator for Arc<T> {
    fn next(&self) -> Result<Ballot> {
        (**self).next()
    }
    fn observe(&self, seen: Ballot) {
        (**self).observe(seen)
    }
}

impl<T: IdGenerator + ?Sized> IdGenerator for Box<T> {
    fn next(&self) -> Result<Ballot> {
        (**self).next()
    }
    fn observe(&self, seen: Ballot) {
        (**self).observe(seen)
    }
}

/// Bits below the round, holding the node id, in every generator's ballots.
pub const NODE_BITS: u32 = 16;

/// The highest round: `round << NODE_BITS` must fit in a `u64`.
const MAX_ROUND: u64 = u64::MAX >> NODE_BITS;

/// The next ballot of `node` above `last` (the last ballot returned or observed), with a
/// round of at least `floor`. Shared by both generators, so their ballots have one layout.
fn next_ballot(last: &AtomicU64, node: u16, floor: u64) -> Result<Ballot> {
    let mut seen = last.load(Ordering::SeqCst);
    loop {
        let round = (seen >> NODE_BITS).checked_add(1).filter(|r| *r <= MAX_ROUND).map(|r| r.max(floor.min(MAX_ROUND)));
        let Some(round) = round else {
            return Err(Error::IdExhausted(format!("no round above {} for node {node}", seen >> NODE_BITS)));
        };
        let candidate = round << NODE_BITS | u64::from(node);
        match last.compare_exchange(seen, candidate, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => return Ok(candidate),
            Err(current) => seen = current,
        }
    }
}

/// Ballots whose round is the clock's milliseconds: `millis << 16 | server_id`, the
/// ancestor's `ServerIDGenerator` with its defects fixed. Ids are strictly increasing (two
/// calls in one millisecond, or a clock that went backwards, take the next round instead of
/// repeating or going back), and a rejection's ballot is leapt past.
///
/// The ancestor shifted by 8; synodos shifts by 16, the layout of every generator here, so
/// that a `ServerIdGenerator` and a [`CounterIdGenerator`] in one cluster never draw equal
/// ballots (server ids are node ids 0..=255). A restart starts at the clock, usually above
/// every ballot drawn before; where it is not (a clock behind, a burst of more than one
/// ballot per millisecond, a leap), the acceptors refuse the repeats (see [`IdGenerator`]).
///
/// ```
/// use synodos::{IdGenerator, ManualClock, ServerIdGenerator};
/// let clock = ManualClock::new(0x17c96370c09);
/// let ids = ServerIdGenerator::new(7, clock.clone());
/// assert_eq!(ids.next().unwrap(), 0x17c96370c09 << 16 | 7);
/// assert_eq!(ids.next().unwrap(), 0x17c96370c0a << 16 | 7); // same millisecond: still higher
/// clock.set(1); // the clock goes back: still higher
/// assert!(ids.next().unwrap() > 0x17c96370c0a << 16 | 7);
/// ```
#[derive(Debug)]
pub struct ServerIdGenerator<C: Clock> {
    server_id: u8,
    clock: C,
    last: AtomicU64,
}

impl<C: Clock> ServerIdGenerator<C> {
    /// A generator for `server_id` reading `clock`.
    pub fn new(server_id: u8, clock: C) -> Self {
        ServerIdGenerator { server_id, clock, last: AtomicU64::new(0) }
    }
}

impl<C: Clock> IdGenerator for ServerIdGenerator<C> {
    fn next(&self) -> Result<Ballot> {
        next_ballot(&self.last, u16::from(self.server_id), self.clock.now_millis().max(1))
    }

    fn observe(&self, seen: Ballot) {
        self.last.fetch_max(seen, Ordering::SeqCst);
    }
}

/// Ballots `round << 16 | node_id`: up to 65,536 nodes and 2^48 rounds, no clock, no
/// per-millisecond limit. A new generator starts at round 1; after a restart the acceptors
/// refuse the rounds drawn before and the generator leaps past them (see [`IdGenerator`]).
///
/// ```
/// use synodos::{CounterIdGenerator, IdGenerator};
/// let a = CounterIdGenerator::new(1);
/// let b = CounterIdGenerator::new(2);
/// let first = a.next().unwrap();
/// assert_eq!(first, 1 << 16 | 1);
/// b.observe(first);
/// assert!(b.next().unwrap() > first);
/// ```
#[derive(Debug)]
pub struct CounterIdGenerator {
    node_id: u16,
    last: AtomicU64,
}

impl CounterIdGenerator {
    /// Bits below the round, holding the node id.
    pub const NODE_BITS: u32 = NODE_BITS;

    /// A generator for `node_id`.
    pub fn new(node_id: u16) -> Self {
        CounterIdGenerator { node_id, last: AtomicU64::new(0) }
    }
}

impl IdGenerator for CounterIdGenerator {
    fn next(&self) -> Result<Ballot> {
        next_ballot(&self.last, self.node_id, 1)
    }

    fn observe(&self, seen: Ballot) {
        self.last.fetch_max(seen, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_ids_match_the_ancestor_layout_when_the_clock_moves() {
        let clock = ManualClock::new(0x17c96370c09);
        let ids = ServerIdGenerator::new(0xab, clock.clone());
        assert_eq!(ids.next().unwrap(), 0x17c96370c09 << 16 | 0xab);
        clock.advance(10);
        assert_eq!(ids.next().unwrap(), (0x17c96370c09 + 10) << 16 | 0xAB);
    }

    #[test]
    fn server_ids_strictly_increase_under_a_frozen_or_backward_clock() {
        let clock = ManualClock::new(1000);
        let ids = ServerIdGenerator::new(3, clock.clone());
        let mut prev = 0;
        for i in 0..10_000u64 {
            if i % 7 == 0 {
                clock.set(1000 - (i % 500));
            }
            let id = ids.next().unwrap();
            assert!(id > prev, "{id} after {prev}");
            assert_eq!(id & 0xFFFF, 3);
            prev = id;
        }
    }

    #[test]
    fn server_ids_leap_past_an_observed_ballot() {
        let ids = ServerIdGenerator::new(1, ManualClock::new(5));
        ids.observe(u64::from(u32::MAX));
        let id = ids.next().unwrap();
        assert!(id > u64::from(u32::MAX));
        assert_eq!(id & 0xFFFF, 1);
    }

    #[test]
    fn server_ids_report_exhaustion_instead_of_wrapping() {
        let ids = ServerIdGenerator::new(1, ManualClock::new(5));
        ids.observe(u64::MAX - 3);
        assert!(matches!(ids.next(), Err(Error::IdExhausted(_))));
    }

    #[test]
    fn counter_ids_are_unique_across_nodes_and_increasing() {
        let a = CounterIdGenerator::new(65535);
        let b = CounterIdGenerator::new(0);
        let mut seen = std::collections::HashSet::new();
        let mut last_a = 0;
        for _ in 0..1000 {
            let x = a.next().unwrap();
            assert!(x > last_a);
            last_a = x;
            assert!(seen.insert(x));
            let y = b.next().unwrap();
            assert!(seen.insert(y));
            b.observe(x);
        }
        let big = CounterIdGenerator::new(9);
        big.observe(u64::MAX);
        assert!(matches!(big.next(), Err(Error::IdExhausted(_))));
    }

    #[test]
    fn the_two_kinds_never_draw_equal_ballots_for_different_nodes() {
        // The ancestor's `millis << 8 | id` layout collided with `round << 16 | id` here:
        // server 7 at millis 0x103 drew 0x10307, counter node 0x307 at round 1 drew 0x10307.
        let clock = ManualClock::new(0x103);
        let server = ServerIdGenerator::new(7, clock.clone());
        let counter = CounterIdGenerator::new(0x307);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            assert!(seen.insert(server.next().unwrap()));
            assert!(seen.insert(counter.next().unwrap()));
            clock.advance(1);
        }
    }

    #[test]
    fn the_rounds_end_with_an_error_not_a_wrap() {
        let ids = ServerIdGenerator::new(1, ManualClock::new(u64::MAX));
        let first = ids.next().unwrap();
        assert_eq!(first >> NODE_BITS, MAX_ROUND, "a clock beyond the last round takes the last round");
        assert!(matches!(ids.next(), Err(Error::IdExhausted(_))));
    }

    #[test]
    fn generators_are_strictly_increasing_across_threads() {
        let ids = Arc::new(CounterIdGenerator::new(4));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let ids = ids.clone();
                std::thread::spawn(move || (0..1000).map(|_| ids.next().unwrap()).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
