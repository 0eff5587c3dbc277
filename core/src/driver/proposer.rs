//! [`Proposer`]: the ancestor's `Proposer.Propose`, fixed. One decision is attempts of
//! [`Attempt`] over every acceptor at once, with timeouts, backoff and ballot leaping.

use std::future::Future;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::client::AcceptorClient;
use super::fan_out::fan_out;
use super::ids::IdGenerator;
use super::timer::Sleeper;
use crate::protocol::attempt::{majority, Attempt, Lease, Progress};
use crate::protocol::error::{AcceptorFailure, Error, Failures, Result};
use crate::protocol::message::{Ballot, Batch, Promise, Proposal, Slot};
use crate::protocol::mutation::Mutation;

/// Timeouts, retries and backoff of a [`Proposer`].
#[derive(Debug, Clone)]
pub struct ProposerConfig {
    /// How long one prepare or accept call may take before it counts as failed.
    pub call_timeout: Duration,
    /// How many ballots to try before giving up with [`Error::NoQuorum`].
    pub max_attempts: u32,
    /// The backoff before the second attempt is drawn from `[0, backoff_min]`, and the range
    /// doubles with each attempt up to `backoff_max` (full jitter).
    pub backoff_min: Duration,
    /// The largest backoff range.
    pub backoff_max: Duration,
    /// How often [`ReplicatedLog::wait`](crate::ReplicatedLog::wait) asks the acceptors again.
    pub poll_interval: Duration,
    /// Seed of the backoff jitter (random when `None`).
    pub seed: Option<u64>,
    /// How long a proposer that lost to another node's ballot (a leader at work) waits
    /// before it tries to lead itself, instead of starting a higher ballot at once and
    /// duelling. Drawn from `[leader_wait / 2, leader_wait]`. Such a loss does not count
    /// against `max_attempts` (up to [`MAX_DEFERRALS`] of them per decision).
    pub leader_wait: Duration,
    /// At most this many appends of one [`ReplicatedLog`](crate::ReplicatedLog) handle go
    /// in one batched accept.
    pub max_batch: usize,
    /// At most this many batches of one handle are in flight at once (the pipeline).
    pub pipeline: usize,
}

/// How many times one decision defers to another node's ballot before losses count as
/// failed attempts again.
pub const MAX_DEFERRALS: u32 = 1000;

impl Default for ProposerConfig {
    fn default() -> Self {
        ProposerConfig {
            call_timeout: Duration::from_secs(1),
            max_attempts: 20,
            backoff_min: Duration::from_millis(1),
            backoff_max: Duration::from_millis(200),
            poll_interval: Duration::from_millis(10),
            seed: None,
            leader_wait: Duration::from_millis(10),
            max_batch: 256,
            pipeline: 4,
        }
    }
}

/// Proposes values to a set of acceptors: the ancestor's `Proposer.Propose`, fixed.
///
/// ```
/// use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, StdSleeper};
/// # futures::executor::block_on(async {
/// let acceptors: Vec<_> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
/// let alice = Proposer::new(acceptors.clone(), CounterIdGenerator::new(1), StdSleeper).unwrap();
/// let bob = Proposer::new(acceptors, CounterIdGenerator::new(2), StdSleeper).unwrap();
/// assert_eq!(alice.propose(b"alice".to_vec()).await.unwrap(), b"alice");
/// // Once a value is chosen, every later proposal returns it.
/// assert_eq!(bob.propose(b"bob".to_vec()).await.unwrap(), b"alice");
/// # });
/// ```
pub struct Proposer<C, S> {
    clients: Vec<C>,
    ids: Arc<dyn IdGenerator>,
    pub(crate) sleeper: S,
    pub(crate) config: ProposerConfig,
    rng: Mutex<fastrand::Rng>,
    /// Names this proposer on the leases it makes (never 0: the sans-IO layer's).
    owner: u64,
    pub(crate) mutation: Option<Mutation>,
}

impl<C, S> std::fmt::Debug for Proposer<C, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposer").field("acceptors", &self.clients.len()).field("config", &self.config).finish()
    }
}

/// The outcome of [`Proposer::decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The value chosen for the slot (maybe another proposer's).
    pub value: Vec<u8>,
    /// Whether this proposer may skip phase 1 on later slots, and from which one.
    pub lease: Option<Lease>,
    /// The highest `frontier` the granting acceptors reported (one past the highest slot any
    /// of them accepted anything at), when phase 1 ran and every one of them said: where a
    /// writer that lost this slot can go on, rather than try the taken slots one by one.
    pub frontier: Option<Slot>,
}

/// An acceptor's answer in either phase: non-zero `promised` means it refused.
trait Answer {
    fn promised(&self) -> Ballot;
}

impl Answer for Promise {
    fn promised(&self) -> Ballot {
        self.promised
    }
}

impl Answer for Proposal {
    fn promised(&self) -> Ballot {
        self.promised
    }
}

impl<C: AcceptorClient, S: Sleeper> Proposer<C, S> {
    /// A proposer over `clients`, taking ballots from `ids` and timers from `sleeper`.
    pub fn new(clients: Vec<C>, ids: impl IdGenerator + 'static, sleeper: S) -> Result<Self> {
        Self::with_config(clients, Arc::new(ids), sleeper, ProposerConfig::default())
    }

    /// [`new`](Self::new) with explicit timeouts and backoff, and a shared id generator.
    pub fn with_config(clients: Vec<C>, ids: Arc<dyn IdGenerator>, sleeper: S, config: ProposerConfig) -> Result<Self> {
        if clients.is_empty() {
            return Err(Error::InvalidArgument("a proposer needs at least one acceptor".into()));
        }
        if clients.len() > crate::protocol::attempt::MAX_ACCEPTORS {
            return Err(Error::InvalidArgument(format!(
                "{} acceptors: at most {} are supported",
                clients.len(),
                crate::protocol::attempt::MAX_ACCEPTORS
            )));
        }
        if config.max_attempts == 0 {
            return Err(Error::InvalidArgument("max_attempts must be at least 1".into()));
        }
        let seed = config.seed.unwrap_or_else(|| fastrand::u64(..));
        let mut rng = fastrand::Rng::with_seed(seed);
        let owner = rng.u64(1..);
        Ok(Proposer { clients, ids, sleeper, config, rng: Mutex::new(rng), owner, mutation: None })
    }

    #[doc(hidden)]
    /// Test-only: inject a protocol bug, to prove the simulator catches it.
    pub fn set_mutation(&mut self, mutation: Option<Mutation>) {
        self.mutation = mutation;
    }

    /// The acceptor clients, in the order failures are numbered.
    pub fn clients(&self) -> &[C] {
        &self.clients
    }

    /// The configuration.
    pub fn config(&self) -> &ProposerConfig {
        &self.config
    }

    /// Propose `value` for the single decree (slot 0). Returns the value actually chosen,
    /// which is another proposer's if that one was chosen first.
    pub fn propose(&self, value: impl Into<Vec<u8>>) -> impl Future<Output = Result<Vec<u8>>> + '_ {
        self.propose_at(0, value)
    }

    /// [`propose`](Self::propose) for one slot of a log.
    pub fn propose_at(&self, slot: Slot, value: impl Into<Vec<u8>>) -> impl Future<Output = Result<Vec<u8>>> + '_ {
        // Not an `async fn`: the future is `decide`'s own, not one more layer around it.
        futures::FutureExt::map(self.decide(slot, value.into(), None), |r| r.map(|decision| decision.value))
    }

    /// Choose a value for `slot`. With a `lease` (from an earlier [`Decision`] of this
    /// proposer; another's is refused) that covers `slot`, the first attempt skips phase 1 at
    /// the lease's ballot; later attempts, and all attempts without a lease, run both
    /// phases. Every lease of one ballot is one right: propose one value per slot under it
    /// (a second one at a slot is refused by the acceptors, see [`Lease`]).
    ///
    /// Fails with [`Error::Trimmed`] when the slot was trimmed (it was chosen and forgotten),
    /// and with [`Error::ProtocolViolation`] when acceptors report two values at one ballot.
    pub async fn decide(&self, slot: Slot, value: Vec<u8>, lease: Option<Lease>) -> Result<Decision> {
        self.decide_in(slot, value, lease, None).await
    }

    /// [`decide`](Self::decide) for a log handle (`lead`): its phase 1s run one at a time,
    /// under its lock, and an attempt that would run phase 1 first takes the handle's newer
    /// lease instead when the slot is this decision's own (reserved) and the lease covers
    /// it. So the appends of one handle never run phase 1 against each other: one that
    /// lost to the handle's own newer ballot goes on under it.
    pub(crate) async fn decide_in(
        &self,
        slot: Slot,
        value: Vec<u8>,
        lease: Option<Lease>,
        lead: Option<Lead<'_>>,
    ) -> Result<Decision> {
        let n = self.clients.len();
        let mut failures = Vec::new();
        let mut lead = lead;
        if lease.is_some_and(|l| l.owner() != self.owner) {
            return Err(Error::InvalidArgument(
                "this lease was made by another proposer (a lease is good only where its phase 1 ran)".into(),
            ));
        }
        // Each attempt owns the value while it runs, lends it to its phase 2 proposal, and
        // hands it back when it fails, so the value is never copied.
        let mut value = value;
        // Set when the last attempt lost only to a ballot of this proposer's own node (a
        // previous life's, after a restart): no one competes, so it retries at once.
        let mut lost_to_self = false;
        let mut lost_to_leader = false;
        let mut deferrals = 0u32;
        // The lease is tried once, by the first attempt; every later one runs phase 1.
        let mut leased = lease.filter(|l| l.covers(slot));
        // The highest ballot this decision has tried: only a newer lease is worth taking.
        let mut tried: Ballot = 0;
        let mut attempt = 0u32;
        while attempt < self.config.max_attempts {
            let defer = std::mem::take(&mut lost_to_leader) && self.mutation != Some(Mutation::FollowerIgnoresLeader);
            if defer && deferrals < MAX_DEFERRALS {
                // Another node leads: let it work, then take over (no duel, no attempt spent).
                deferrals += 1;
                self.defer_to_leader(deferrals).await;
            } else {
                attempt += 1;
                if attempt > 1 && !std::mem::take(&mut lost_to_self) {
                    self.backoff(attempt).await;
                }
            }
            failures.clear();
            // Held through this attempt's phase 1 and phase 2, when it runs phase 1.
            let mut _leading = None;
            if let (None, Some(lead)) = (leased, &mut lead) {
                let guard = match lead.held.take() {
                    Some(guard) => guard,
                    None => lead.leading.lock().await,
                };
                match lead.newer_lease(slot, tried, self.owner) {
                    Some(newer) => leased = Some(newer),
                    None => _leading = Some(guard),
                }
            }
            if let Some(lease) = leased.take() {
                tried = tried.max(lease.ballot());
                let (mut round, proposal) =
                    Attempt::leased_lent(n, slot, &lease, std::mem::take(&mut value), self.mutation)?;
                match self.accept_phase(&mut round, &proposal, &mut failures).await {
                    Progress::Chosen(_) => {
                        return Ok(Decision {
                            value: proposal.value,
                            lease: lease.beyond(slot, self.mutation),
                            frontier: None,
                        });
                    }
                    Progress::Failed { promised } => {
                        self.ids.observe(promised);
                        lost_to_leader = !same_node(promised, lease.ballot())
                            && promised > lease.ballot()
                            && only_refused(&failures);
                    }
                    Progress::Trimmed { first } => return Err(Error::Trimmed { slot, first }),
                    Progress::Violation(what) => return Err(Error::ProtocolViolation(what)),
                    Progress::Accept(_) | Progress::Waiting => {}
                }
                value = round.into_value_lent(Some(proposal.value));
                continue;
            }
            let ballot = self.ids.next()?;
            tried = tried.max(ballot);
            let (mut round, request) =
                Attempt::new_mutated(n, slot, ballot, u64::from(attempt), std::mem::take(&mut value), self.mutation)?;
            round.lend_value();
            let progress = self
                .phase(
                    &mut failures,
                    |c| c.prepare(&request),
                    |i, reply| match reply {
                        Some(p) => round.on_promise(i, &p),
                        None => round.on_failure(i),
                    },
                )
                .await;
            let proposed = match progress {
                Progress::Accept(proposal) => {
                    let next_lease = round.lease().map(|l| l.owned_by(self.owner));
                    match self.accept_phase(&mut round, &proposal, &mut failures).await {
                        Progress::Chosen(_) => {
                            let frontier = round.frontier();
                            // Stored while the lead lock is still held: the next append of
                            // the handle to take it finds the lease, not a reason for a
                            // phase 1 of its own.
                            if let (Some(lease), Some(lead)) = (next_lease, &lead) {
                                lead.offer(lease);
                            }
                            return Ok(Decision { value: proposal.value, lease: next_lease, frontier });
                        }
                        Progress::Failed { promised } => {
                            self.ids.observe(promised);
                            lost_to_leader =
                                !same_node(promised, ballot) && promised > ballot && only_refused(&failures);
                        }
                        Progress::Trimmed { first } => return Err(Error::Trimmed { slot, first }),
                        Progress::Violation(what) => return Err(Error::ProtocolViolation(what)),
                        Progress::Accept(_) | Progress::Waiting => {}
                    }
                    Some(proposal.value)
                }
                Progress::Failed { promised } => {
                    self.ids.observe(promised);
                    // Once per decision, so a generator of another layout cannot spin.
                    lost_to_self = attempt == 1 && same_node(promised, ballot);
                    // (Not to this node's own newer ballot: that is a retry of ours, not a leader.)
                    lost_to_leader = !same_node(promised, ballot) && promised > ballot && only_refused(&failures);
                    None
                }
                Progress::Trimmed { first } => return Err(Error::Trimmed { slot, first }),
                Progress::Violation(what) => return Err(Error::ProtocolViolation(what)),
                Progress::Chosen(_) | Progress::Waiting => None,
            };
            value = round.into_value_lent(proposed);
        }
        Err(Error::NoQuorum {
            needed: majority(n),
            acceptors: n,
            attempts: self.config.max_attempts,
            failures: Failures(failures),
        })
    }

    #[inline]
    fn accept_phase<'a>(
        &'a self,
        round: &'a mut Attempt,
        proposal: &'a Proposal,
        failures: &'a mut Vec<AcceptorFailure>,
    ) -> impl Future<Output = Progress> + 'a {
        self.phase(
            failures,
            |c| c.accept(proposal),
            |i, reply| match reply {
                Some(p) => round.on_accepted(i, &p),
                None => round.on_failure(i),
            },
        )
    }

    /// Blocking [`propose`](Self::propose), on the calling thread. Needs a sleeper that does
    /// not depend on a runtime (like `StdSleeper`).
    pub fn propose_blocking(&self, value: impl Into<Vec<u8>>) -> Result<Vec<u8>> {
        futures::executor::block_on(self.propose(value))
    }

    /// Send one phase to every acceptor at once; return as soon as the attempt decides.
    /// (Not an `async fn`: the future is the fan-out's own, not one more layer around it.)
    #[inline]
    fn phase<'a, F, Fut, T>(
        &'a self,
        failures: &'a mut Vec<AcceptorFailure>,
        call: F,
        mut on_reply: impl FnMut(usize, Option<T>) -> Progress + 'a,
    ) -> impl Future<Output = Progress> + 'a
    where
        F: Fn(&'a C) -> Fut + 'a,
        Fut: Future<Output = Result<T>> + 'a,
        T: Answer + 'a,
    {
        let calls = self.clients.iter().map(call);
        let timeout = self.config.call_timeout;
        let ignores_trim = self.mutation == Some(Mutation::IgnoresTrimPoint);
        // The trim point an acceptor answered with, if one did.
        let mut trimmed: Option<crate::protocol::message::Slot> = None;
        let on_result = move |i, result| {
            let progress = match result {
                Ok(reply) => {
                    let rejected = T::promised(&reply);
                    if rejected != 0 {
                        failures.push(AcceptorFailure { acceptor: i, error: Error::Rejected { promised: rejected } });
                    }
                    on_reply(i, Some(reply))
                }
                // A trimmed slot was chosen: nothing is left to decide. But it may have been
                // chosen with this very proposal, by a majority whose answers are still on
                // their way (the slot was read and trimmed in between): count the trim as
                // this acceptor's failure, and report it only once this ballot cannot win.
                // Ending at the first one made an append whose value was chosen append it
                // again at a later slot.
                Err(Error::Trimmed { first, .. }) if !ignores_trim => {
                    trimmed = Some(trimmed.map_or(first, |t| t.max(first)));
                    on_reply(i, None)
                }
                Err(error) => {
                    failures.push(AcceptorFailure { acceptor: i, error });
                    on_reply(i, None)
                }
            };
            match progress {
                Progress::Waiting => ControlFlow::Continue(()),
                Progress::Failed { .. } if trimmed.is_some() => {
                    ControlFlow::Break(Progress::Trimmed { first: trimmed.unwrap_or_default() })
                }
                decided => ControlFlow::Break(decided),
            }
        };
        let decided = fan_out(calls, move || self.sleeper.sleep(timeout), timeout, on_result);
        futures::FutureExt::map(decided, |decided| decided.unwrap_or(Progress::Waiting))
    }

    /// Phase 2 of a whole [`Batch`] under `lease` (every entry a slot the lease covers):
    /// `Ok(true)` when a majority accepted it (every entry is then chosen), `Ok(false)` when
    /// that can no longer happen at this ballot (the lease is lost).
    pub(crate) async fn accept_batch(&self, batch: &Batch, lease: &Lease) -> Result<bool> {
        if lease.owner() != self.owner {
            return Err(Error::InvalidArgument("this lease was made by another proposer".into()));
        }
        let Some(first) = batch.entries.first() else { return Ok(true) };
        let n = self.clients.len();
        // The batch's answers have the shape of the first entry's: one attempt counts them.
        let (mut round, _) = Attempt::leased_mutated(n, first.slot, lease, Vec::new(), self.mutation)?;
        let mut failures = Vec::new();
        let progress = self
            .phase(
                &mut failures,
                |c| c.accept_batch(batch),
                |i, reply| match reply {
                    Some(p) => round.on_accepted(i, &p),
                    None => round.on_failure(i),
                },
            )
            .await;
        match progress {
            Progress::Chosen(_) => Ok(true),
            Progress::Failed { promised } => {
                self.ids.observe(promised);
                Ok(false)
            }
            Progress::Trimmed { first } => Err(Error::Trimmed { slot: batch.entries[0].slot, first }),
            Progress::Violation(what) => Err(Error::ProtocolViolation(what)),
            Progress::Accept(_) | Progress::Waiting => Ok(false),
        }
    }

    /// Wait while another node's ballot leads (see [`ProposerConfig::leader_wait`]). The
    /// wait doubles every four deferrals of one decision, up to 64 times: under many
    /// competing writers, fewer take-overs leave each leader time to finish its work.
    async fn defer_to_leader(&self, deferrals: u32) {
        let most = u64::try_from(self.config.leader_wait.as_micros())
            .unwrap_or(u64::MAX)
            .saturating_mul(1 << (deferrals / 4).min(6));
        let micros = match self.rng.lock() {
            Ok(mut rng) => rng.u64(most / 2..=most),
            Err(_) => most,
        };
        if micros > 0 {
            self.sleeper.sleep(Duration::from_micros(micros)).await;
        }
    }

    async fn backoff(&self, attempt: u32) {
        let min = self.config.backoff_min.as_micros() as u64;
        let cap = min.saturating_mul(1u64 << (attempt - 2).min(20)).min(self.config.backoff_max.as_micros() as u64);
        let micros = match self.rng.lock() {
            Ok(mut rng) => rng.u64(0..=cap),
            Err(_) => cap / 2,
        };
        if micros > 0 {
            self.sleeper.sleep(Duration::from_micros(micros)).await;
        }
    }
}

/// What a [`ReplicatedLog`](crate::ReplicatedLog) handle shares with the decisions it
/// starts: the lease it holds, and the lock under which its phase 1s run one at a time.
pub(crate) struct Lead<'a> {
    pub lease: &'a std::sync::Mutex<Option<Lease>>,
    pub leading: &'a futures::lock::Mutex<()>,
    /// The slot is this decision's alone under every lease of the handle (the handle
    /// reserved it), so a newer lease that covers it may carry it: no other value is ever
    /// proposed there at that lease's ballot.
    pub reserved: bool,
    /// The lock, when the caller took it already (for the first attempt's phase 1).
    pub held: Option<futures::lock::MutexGuard<'a, ()>>,
}

impl Lead<'_> {
    /// The handle's lease, if it may carry `slot` for a decision that has tried ballots up
    /// to `tried`: newer than those, made by this proposer, covering the slot.
    fn newer_lease(&self, slot: Slot, tried: Ballot, owner: u64) -> Option<Lease> {
        if !self.reserved {
            return None;
        }
        let lease = self.lease.lock().map(|guard| *guard).unwrap_or(None)?;
        (lease.covers(slot) && lease.ballot() > tried && lease.owner() == owner).then_some(lease)
    }

    /// Store `lease` as the handle's, unless it holds a newer one (as
    /// `ReplicatedLog::set_lease` does).
    fn offer(&self, lease: Lease) {
        if let Ok(mut guard) = self.lease.lock() {
            if guard.is_none_or(|old| old.ballot() <= lease.ballot()) {
                *guard = Some(lease);
            }
        }
    }
}

/// Whether two ballots carry the same node id in the layout every built-in generator uses
/// (`round << 16 | node_id`), and `promised` is not below `ours`.
fn same_node(promised: Ballot, ours: Ballot) -> bool {
    const NODE: u64 = (1 << crate::driver::ids::NODE_BITS) - 1;
    promised >= ours && promised & NODE == ours & NODE
}

/// Whether every acceptor that failed in the last attempt refused (named a higher
/// ballot) rather than timed out or errored: a loss to a leader, not a fault.
fn only_refused(failures: &[AcceptorFailure]) -> bool {
    failures.iter().all(|f| matches!(f.error, Error::Rejected { .. }))
}
