//! [`Leadership`]: which node this one sends appends to. Ballots are `round << 16 | node id`
//! (every id generator of the core), so the ballot this node's acceptor promised last names
//! the node that leads: that node appends, every other forwards to it. A leader that cannot
//! be reached is suspected for a while, and this node appends itself (its phase 1 takes the
//! lead, and the others' acceptors then name it). Before any promise the first member of
//! `--peers` leads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use synodos::Ballot;

use super::metrics::Metrics;
use super::peer::Peer;

/// Bits of a ballot that hold the node id.
const NODE_MASK: u64 = (1 << synodos::CounterIdGenerator::NODE_BITS) - 1;

/// Where an append goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// This node leads (or no one else can): append here.
    Local,
    /// Forward to the leader at this URL.
    Forward(String),
}

/// This node's view of the leader.
pub(crate) struct Leadership {
    own: u64,
    current: AtomicU64,
    suspects: Mutex<HashMap<u64, Instant>>,
    suspect_for: Duration,
}

impl Leadership {
    pub(crate) fn new(own: u64, suspect_for: Duration) -> Self {
        Leadership { own, current: AtomicU64::new(0), suspects: Mutex::new(HashMap::new()), suspect_for }
    }

    /// The node this one takes for the leader (0: not known yet).
    pub(crate) fn current(&self) -> u64 {
        self.current.load(Ordering::Relaxed)
    }

    /// Note `leader` as the leader (counting changes).
    pub(crate) fn set(&self, leader: u64, metrics: &Metrics) {
        let before = self.current.swap(leader, Ordering::Relaxed);
        if before != leader && before != 0 {
            metrics.leader_changes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `node` did not answer: append locally instead of forwarding to it for a while.
    pub(crate) fn suspect(&self, node: u64) {
        if let Ok(mut s) = self.suspects.lock() {
            s.insert(node, Instant::now());
        }
    }

    fn suspected(&self, node: u64) -> bool {
        let Ok(mut s) = self.suspects.lock() else { return false };
        match s.get(&node) {
            Some(at) if at.elapsed() < self.suspect_for => true,
            Some(_) => {
                s.remove(&node);
                false
            }
            None => false,
        }
    }

    /// Where an append goes, given the ballot this node's acceptor promised last.
    pub(crate) fn route(&self, promised: Ballot, peers: &[Peer], metrics: &Metrics) -> Route {
        if promised == 0 {
            // No leader yet: the first member of --peers (every node is given the same list)
            // takes the lead, so that the first appends do not duel.
            return match peers.first() {
                Some(first) if first.acceptor.acceptor_id() != Some(self.own) => match first.acceptor.acceptor_id() {
                    Some(id) if self.suspected(id) => Route::Local,
                    _ => Route::Forward(first.acceptor.url().to_string()),
                },
                _ => {
                    self.set(self.own, metrics);
                    Route::Local
                }
            };
        }
        let named = promised & NODE_MASK;
        let target = peers.iter().find(|p| named != self.own && p.acceptor.acceptor_id() == Some(named));
        match target {
            Some(peer) if !self.suspected(named) => {
                self.set(named, metrics);
                Route::Forward(peer.acceptor.url().to_string())
            }
            _ => {
                self.set(self.own, metrics);
                Route::Local
            }
        }
    }

    /// The leader as this node sees it now, without routing anything: the node the
    /// promised ballot names when it is a known peer, else the last one routed to (0: none).
    pub(crate) fn view(&self, promised: Ballot, peers: &[Peer]) -> u64 {
        let named = promised & NODE_MASK;
        if promised != 0 && peers.iter().any(|p| p.acceptor.acceptor_id() == Some(named)) {
            return named;
        }
        self.current()
    }

    /// The URL of the leader, if known among `peers`.
    pub(crate) fn leader_url<'a>(&self, peers: &'a [Peer]) -> Option<&'a str> {
        let leader = self.current();
        peers.iter().find(|p| p.acceptor.acceptor_id() == Some(leader)).map(|p| p.acceptor.url())
    }
}
