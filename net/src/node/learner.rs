//! The learner: it asks every member's acceptor what it accepted from the first slot this
//! node does not have, counts a slot chosen when a majority report one ballot for it, and
//! writes the chosen entries, in order, to the node's [`Store`](super::store::Store). It
//! never proposes while the leader works: a slot is decided by the learner itself (running
//! Paxos on it, which keeps whatever may have been chosen) only when it stayed undecided for
//! [`NodeOptions::repair_after`](super::NodeOptions::repair_after) *and* what is reported there
//! is older than a ballot seen since (a hole left by a leader that died while another took
//! over), or when it stayed undecided ten times as long (a leader that died with nobody
//! appending after it: a value a majority accepted may be reported by only one live
//! acceptor). A slow leader's slots in flight carry the newest ballot, so they are left to it.
//! A restarted node catches up the same way.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use synodos::{AcceptorClient, Ballot, Entry, Learner, Request, Result, Slot};

use super::Node;

/// What the acceptors reported from one slot on.
struct Tally {
    /// Chosen slots (a majority at one ballot).
    chosen: BTreeMap<Slot, Vec<u8>>,
    /// The highest-ballot value reported at the first slot asked about, if any.
    at_first: Option<(Ballot, Vec<u8>)>,
    /// The highest ballot reported at any slot.
    newest: Ballot,
}

/// After a majority answered, how long to wait for the others (a hung acceptor must not
/// hold every poll for the whole call timeout).
const GRACE: Duration = Duration::from_millis(50);

/// Ask every peer (at once) what it accepted from `from` on.
async fn tally(node: &Node, from: Slot) -> Tally {
    use futures::StreamExt;
    let n = node.peers.len();
    let request = Request { id: 0, attempt: 0, slot: from };
    let request = &request;
    let mut calls: futures::stream::FuturesUnordered<_> =
        node.peers.iter().enumerate().map(|(i, p)| async move { (i, p.observe(request).await) }).collect();
    let deadline = tokio::time::Instant::now() + node.call_timeout;
    let mut answers = Vec::with_capacity(n);
    let mut limit = deadline;
    while let Ok(Some(answer)) = tokio::time::timeout_at(limit, calls.next()).await {
        answers.push(answer);
        if answers.len() == synodos::majority(n) {
            limit = deadline.min(tokio::time::Instant::now() + GRACE);
        }
    }
    #[allow(unused_mut)]
    let mut learner = Learner::starting_at(n, from);
    #[cfg(feature = "nemesis-bugs")]
    if node.mutation == Some(synodos::Mutation::LearnerQuorumOneShort) {
        learner.set_quorum(synodos::majority(n).saturating_sub(1));
    }
    let mut tally = Tally { chosen: BTreeMap::new(), at_first: None, newest: 0 };
    for (i, answer) in answers {
        let Ok(proposals) = answer else { continue };
        for p in &proposals {
            if p.id == 0 || p.slot < from {
                continue; // trim markers; slots already learned
            }
            tally.newest = tally.newest.max(p.id);
            if p.slot == from && tally.at_first.as_ref().is_none_or(|(b, _)| p.id > *b) {
                tally.at_first = Some((p.id, p.value.clone()));
            }
            match learner.on_accepted(i, p) {
                Ok(Some(entry)) => {
                    tally.chosen.insert(entry.slot, entry.value);
                }
                Ok(None) => {}
                Err(e) => tracing::error!("learner: {e}"),
            }
        }
    }
    tally
}

/// The learner's loop, until the node stops.
pub(crate) async fn run(node: Arc<Node>) {
    let mut stop = node.stop.subscribe();
    let mut stalled: Option<(Slot, Instant)> = None;
    let mut pause = node.poll_interval;
    loop {
        if *stop.borrow() {
            return;
        }
        let learned = match step(&node, &mut stalled).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("learner: {e}");
                0
            }
        };
        if learned > 0 {
            pause = node.poll_interval;
            continue;
        }
        tokio::select! {
            _ = node.nudge.notified() => {}
            _ = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
        // Some spacing, so that a burst of nudges does not become a burst of polls.
        tokio::time::sleep(node.poll_interval.min(Duration::from_millis(5))).await;
    }
}

/// Whether a slot undecided for `stalled` is the learner's to decide (see the module docs).
fn overdue(node: &Node, tally: &Tally, stalled: Duration) -> bool {
    let superseded = tally.at_first.as_ref().is_none_or(|(ballot, _)| *ballot < tally.newest);
    (superseded && stalled >= node.repair_after) || stalled >= node.repair_after.saturating_mul(10)
}

/// One round: learn what is chosen from the first missing slot, or repair a slot that
/// stayed undecided too long. Returns how many entries were added.
async fn step(node: &Node, stalled: &mut Option<(Slot, Instant)>) -> Result<usize> {
    let next = node.store.chosen_up_to();
    let mut tally = tally(node, next).await;
    let mut entries = Vec::new();
    let mut slot = next;
    while let Some(value) = tally.chosen.remove(&slot) {
        entries.push(Entry { slot, value });
        let Some(after) = slot.checked_add(1) else { break };
        slot = after;
    }
    if entries.is_empty() {
        // Nothing new at `next`. Stuck if something is reported there, or chosen later.
        let stuck = tally.at_first.is_some() || !tally.chosen.is_empty();
        match *stalled {
            _ if !stuck => {
                *stalled = None;
                return Ok(0);
            }
            Some((at, since)) if at == next && overdue(node, &tally, since.elapsed()) => {
                let filler = tally.at_first.map(|(_, v)| v).unwrap_or_default();
                let value = node.log.proposer().propose_at(next, filler).await?;
                node.metrics.repairs.fetch_add(1, Ordering::Relaxed);
                tracing::info!("learner: decided slot {next}, which stayed undecided for {:?}", node.repair_after);
                entries.push(Entry { slot: next, value });
            }
            Some((at, _)) if at == next => return Ok(0),
            _ => {
                *stalled = Some((next, Instant::now()));
                return Ok(0);
            }
        }
    }
    *stalled = None;
    let count = entries.len();
    let store = node.store.clone();
    let written = tokio::task::spawn_blocking(move || store.extend(&entries))
        .await
        .map_err(|e| synodos::Error::transport(format!("the learner's writer stopped: {e}")))??;
    if let Some(took) = written {
        node.metrics.fsync_seconds.observe_duration(took);
    }
    Ok(count)
}
