//! The callback driver: [`Proposer`] and [`ReplicatedLog`] over user-supplied
//! [`AcceptorClient`]s. It fans out to every acceptor at once, finishes at a majority,
//! bounds each call by a timeout, backs off at random after losing, and leaps past the
//! ballots it loses to. It owns no threads and no runtime: timers come from a [`Sleeper`].

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use crate::acceptor::Acceptor;
use crate::error::{AcceptorFailure, Error, Failures, Result};
use crate::id::IdGenerator;
use crate::learner::Learner;
use crate::log::Log;
use crate::message::{Ballot, Entry, Promise, Proposal, Request, Slot, LAST_SLOT};
use crate::proposer::{majority, Attempt, Lease, Progress};
use crate::Mutation;

/// The transport seam: how a proposer reaches one acceptor. Implement it over any RPC,
/// or use [`LocalAcceptor`] in-process. The bindings implement it over Python, JS and C
/// callbacks.
///
/// Errors returned here are reported per acceptor in [`Error::NoQuorum`]; they never stop
/// the other acceptors from being asked.
#[allow(async_fn_in_trait)] // Send-ness of the futures follows the implementation.
pub trait AcceptorClient {
    /// Phase 1: send a prepare, return the acceptor's promise (granted or not).
    async fn prepare(&self, request: &Request) -> Result<Promise>;
    /// Phase 2: send an accept, return the acceptor's answer (accepted or not).
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal>;
    /// The proposals this acceptor has accepted for slots `>= request.slot`. Used by
    /// [`ReplicatedLog::read`]; a client that cannot observe may keep the default.
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        let _ = request;
        Err(Error::transport("this acceptor client does not implement observe"))
    }
}

impl<T: AcceptorClient + ?Sized> AcceptorClient for &T {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        (**self).prepare(request).await
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        (**self).accept(proposal).await
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        (**self).observe(request).await
    }
}

impl<T: AcceptorClient + ?Sized> AcceptorClient for Arc<T> {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        (**self).prepare(request).await
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        (**self).accept(proposal).await
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        (**self).observe(request).await
    }
}

/// An in-process acceptor shared by handle: a client for proposers in the same process.
/// Clones share one acceptor. The lock is held only while the acceptor (and its logs) run.
///
/// ```
/// use synodos::{CounterIdGenerator, LocalAcceptor, MemoryLog, Proposer, StdSleeper};
/// let acceptors: Vec<_> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
/// let proposer = Proposer::new(acceptors, CounterIdGenerator::new(1), StdSleeper).unwrap();
/// let chosen = proposer.propose_blocking(b"hello".to_vec()).unwrap();
/// assert_eq!(chosen, b"hello");
/// ```
#[derive(Debug)]
pub struct LocalAcceptor<P: Log = crate::MemoryLog, A: Log = crate::MemoryLog>(Arc<SharedState<P, A>>);

#[derive(Debug)]
struct SharedState<P: Log, A: Log> {
    acceptor: Mutex<Acceptor<P, A>>,
    /// The thread running the acceptor right now (0 when none), so that a log calling back
    /// into its own acceptor gets an error instead of a deadlock.
    owner: AtomicU64,
}

/// A number naming the calling thread among the live ones (never 0).
#[cfg(unix)]
fn thread_tag() -> u64 {
    // SAFETY: `pthread_self` has no preconditions; it returns the calling thread's handle,
    // distinct from every other live thread's and never null.
    let me = unsafe { libc::pthread_self() };
    me as u64
}

/// A number naming the calling thread (never 0).
#[cfg(not(unix))]
fn thread_tag() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    std::thread_local! {
        // Const-initialized (0: not assigned yet), so reading it needs no lazy-init check.
        static TAG: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    TAG.with(|t| match t.get() {
        0 => {
            let tag = NEXT.fetch_add(1, Ordering::Relaxed);
            t.set(tag);
            tag
        }
        tag => tag,
    })
}

impl<P: Log, A: Log> Clone for LocalAcceptor<P, A> {
    fn clone(&self) -> Self {
        LocalAcceptor(self.0.clone())
    }
}

impl LocalAcceptor {
    /// A fresh acceptor over two new [`MemoryLog`](crate::MemoryLog)s.
    pub fn in_memory() -> Self {
        LocalAcceptor::new(Acceptor::in_memory())
    }
}

impl<P: Log, A: Log> LocalAcceptor<P, A> {
    /// Share `acceptor` as a client.
    pub fn new(acceptor: Acceptor<P, A>) -> Self {
        LocalAcceptor(Arc::new(SharedState { acceptor: Mutex::new(acceptor), owner: AtomicU64::new(0) }))
    }

    /// Run `f` on the acceptor under its lock. A call from inside `f` on the same thread
    /// (a log of this acceptor calling back into it) is refused with
    /// [`Error::InvalidArgument`] rather than deadlocking.
    pub fn with<R>(&self, f: impl FnOnce(&mut Acceptor<P, A>) -> Result<R>) -> Result<R> {
        let me = thread_tag();
        // Relaxed suffices: only a thread's own tag matters to it, and a thread always reads
        // its own latest write to `owner` (or a later one), never a stale copy of its tag.
        if self.0.owner.load(Ordering::Relaxed) == me {
            return Err(Error::InvalidArgument(
                "re-entrant call: this acceptor's log called back into the same acceptor".into(),
            ));
        }
        let mut acceptor = match self.0.acceptor.lock() {
            Ok(guard) => guard,
            Err(_) => return Err(Error::Closed("acceptor lock poisoned by a panic in its log".into())),
        };
        /// Clears the owner however `f` ends (a panicking log included).
        struct Owned<'a>(&'a AtomicU64);
        impl Drop for Owned<'_> {
            fn drop(&mut self) {
                self.0.store(0, Ordering::Relaxed);
            }
        }
        self.0.owner.store(me, Ordering::Relaxed);
        let _owned = Owned(&self.0.owner);
        f(&mut acceptor)
    }
}

impl<P: Log, A: Log> AcceptorClient for LocalAcceptor<P, A> {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        self.with(|a| a.prepare(request))
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        self.with(|a| a.accept(proposal))
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        self.with(|a| a.accepted_from(request))
    }
}

/// How many calls [`fan_out`] keeps inline (in the caller's future) rather than in a heap
/// allocation: clusters of up to this many acceptors allocate nothing to fan out.
const INLINE_CALLS: usize = 5;

/// Run every call at once and hand each result, with the call's index, to `on_result` as
/// it completes, until `on_result` breaks; the future's output is the break value, or
/// `None` once all completed without one.
///
/// Each call is cut off after `timeout` (it then yields [`Error::Timeout`]). Every call is
/// started in the first poll, so one timer, made by `make_timer` only when a call is still
/// pending after a poll, bounds them all: a fan-out whose calls are ready at once (in-process
/// acceptors) never creates a timer.
///
/// Every call is polled at least once, even when the outcome is decided before its turn:
/// each acceptor is asked (its request sent) although the caller returns at a majority.
/// Calls still running at the break are then dropped (their answers are not awaited).
///
/// Cheaper than `FuturesUnordered` for a handful of futures: no allocation per future, and
/// none at all for up to [`INLINE_CALLS`] of them; each wake-up polls the ones still running.
fn fan_out<Fut, T, Tm, R>(
    mut calls: impl ExactSizeIterator<Item = Fut>,
    make_timer: impl FnMut() -> Tm,
    timeout: Duration,
    on_result: impl FnMut(usize, Result<T>) -> ControlFlow<R>,
) -> impl Future<Output = Option<R>>
where
    Fut: Future<Output = Result<T>>,
    Tm: Future<Output = ()>,
{
    let calls = if calls.len() <= INLINE_CALLS {
        Calls::Inline(std::array::from_fn(|_| calls.next()))
    } else {
        Calls::Heap(calls.map(Some).collect())
    };
    FanOut { calls, timer: None, make_timer, timeout, on_result, first_pass: true }
}

/// The calls of a [`FanOut`]; a call's slot is `None` once it finished (or if there is no
/// such call).
enum Calls<Fut> {
    Inline([Option<Fut>; INLINE_CALLS]),
    Heap(Box<[Option<Fut>]>),
}

/// The future of [`fan_out`].
struct FanOut<Fut, Tm, MakeTimer, OnResult> {
    /// Pinned with the `FanOut` (structural pinning): never moved out, only dropped in place.
    calls: Calls<Fut>,
    /// Pinned with the `FanOut` too.
    timer: Option<Tm>,
    make_timer: MakeTimer,
    timeout: Duration,
    on_result: OnResult,
    first_pass: bool,
}

impl<Fut, T, Tm, R, MakeTimer, OnResult> Future for FanOut<Fut, Tm, MakeTimer, OnResult>
where
    Fut: Future<Output = Result<T>>,
    Tm: Future<Output = ()>,
    MakeTimer: FnMut() -> Tm,
    OnResult: FnMut(usize, Result<T>) -> ControlFlow<R>,
{
    type Output = Option<R>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Option<R>> {
        // SAFETY: `calls` and `timer` are structurally pinned: nothing moves a call or the
        // timer out of them (they are only polled through `Pin::new_unchecked` on their
        // place, and ended by overwriting with `None`, which drops them in place), and
        // `FanOut` implements neither `Unpin` by hand nor `Drop`. The other fields are not
        // pinned and are used by `&mut` only.
        let this = unsafe { self.get_unchecked_mut() };
        let slots: &mut [Option<Fut>] = match &mut this.calls {
            Calls::Inline(slots) => slots,
            Calls::Heap(slots) => slots,
        };
        let mut running = false;
        let mut decided = None;
        for (i, slot) in slots.iter_mut().enumerate() {
            if decided.is_some() && !this.first_pass {
                break;
            }
            let Some(call) = slot.as_mut() else { continue };
            // SAFETY: see above; the call stays in its slot until it is dropped there.
            let Poll::Ready(result) = unsafe { Pin::new_unchecked(call) }.poll(cx) else {
                running = true;
                continue;
            };
            *slot = None;
            if decided.is_none() {
                if let ControlFlow::Break(r) = (this.on_result)(i, result) {
                    decided = Some(r);
                }
            }
        }
        this.first_pass = false;
        if let Some(r) = decided {
            return Poll::Ready(Some(r));
        }
        if !running {
            return Poll::Ready(None);
        }
        let timer = this.timer.get_or_insert_with(&mut this.make_timer);
        // SAFETY: see above; the timer stays in `this.timer` until the `FanOut` is dropped.
        if unsafe { Pin::new_unchecked(timer) }.poll(cx).is_pending() {
            return Poll::Pending;
        }
        // The deadline passed: every call still running failed.
        for (i, slot) in slots.iter_mut().enumerate() {
            if slot.is_none() {
                continue;
            }
            *slot = None;
            if let ControlFlow::Break(r) = (this.on_result)(i, Err(Error::Timeout(this.timeout))) {
                return Poll::Ready(Some(r));
            }
        }
        Poll::Ready(None)
    }
}

/// A timer, supplied by the caller so the driver runs on any executor (or none).
pub trait Sleeper {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()>;
}

impl<S: Sleeper + ?Sized> Sleeper for &S {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        (**self).sleep(duration)
    }
}

/// A native timer that works under any executor, including `futures::executor::block_on`
/// (one helper thread, from `futures-timer`).
#[cfg(feature = "std-timer")]
#[derive(Debug, Clone, Copy, Default)]
pub struct StdSleeper;

#[cfg(feature = "std-timer")]
impl Sleeper for StdSleeper {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        futures_timer::Delay::new(duration)
    }
}

/// `tokio::time::sleep`; use it inside a tokio runtime.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[cfg(feature = "tokio")]
impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(duration)
    }
}

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
    /// How often [`ReplicatedLog::wait`] asks the acceptors again.
    pub poll_interval: Duration,
    /// Seed of the backoff jitter (random when `None`).
    pub seed: Option<u64>,
}

impl Default for ProposerConfig {
    fn default() -> Self {
        ProposerConfig {
            call_timeout: Duration::from_secs(1),
            max_attempts: 20,
            backoff_min: Duration::from_millis(1),
            backoff_max: Duration::from_millis(200),
            poll_interval: Duration::from_millis(10),
            seed: None,
        }
    }
}

/// What [`ReplicatedLog::tally`] learned: the slots a majority chose (with their values),
/// for the others the highest-ballot proposal any acceptor reported and how many reported,
/// and the highest trim point reported (slots below it are gone from at least one acceptor).
struct Tally {
    chosen: BTreeMap<Slot, Vec<u8>>,
    reported: BTreeMap<Slot, (Ballot, Vec<u8>)>,
    /// How many acceptors reported something at each slot.
    reporting: BTreeMap<Slot, usize>,
    first: Slot,
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
    sleeper: S,
    config: ProposerConfig,
    rng: Mutex<fastrand::Rng>,
    mutation: Option<Mutation>,
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
        if clients.len() > crate::proposer::MAX_ACCEPTORS {
            return Err(Error::InvalidArgument(format!(
                "{} acceptors: at most {} are supported",
                clients.len(),
                crate::proposer::MAX_ACCEPTORS
            )));
        }
        if config.max_attempts == 0 {
            return Err(Error::InvalidArgument("max_attempts must be at least 1".into()));
        }
        let seed = config.seed.unwrap_or_else(|| fastrand::u64(..));
        Ok(Proposer { clients, ids, sleeper, config, rng: Mutex::new(fastrand::Rng::with_seed(seed)), mutation: None })
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
    /// proposer) that covers `slot`, the first attempt skips phase 1 at the lease's ballot;
    /// later attempts, and all attempts without a lease, run both phases. Use each lease for
    /// one value per slot (see [`Lease`]).
    ///
    /// Fails with [`Error::Trimmed`] when the slot was trimmed (it was chosen and forgotten),
    /// and with [`Error::ProtocolViolation`] when acceptors report two values at one ballot.
    pub async fn decide(&self, slot: Slot, value: Vec<u8>, lease: Option<Lease>) -> Result<Decision> {
        let n = self.clients.len();
        let mut failures = Vec::new();
        let wraps = self.mutation == Some(Mutation::SlotWraps);
        // Each attempt owns the value while it runs, lends it to its phase 2 proposal, and
        // hands it back when it fails, so the value is never copied.
        let mut value = value;
        for attempt in 1..=self.config.max_attempts {
            if attempt > 1 {
                self.backoff(attempt).await;
            }
            failures.clear();
            if let (1, Some(lease)) = (attempt, lease.filter(|l| l.covers(slot))) {
                let (mut round, proposal) =
                    Attempt::leased_lent(n, slot, &lease, std::mem::take(&mut value), self.mutation)?;
                match self.accept_phase(&mut round, &proposal, &mut failures).await {
                    Progress::Chosen(_) => {
                        return Ok(Decision { value: proposal.value, lease: lease.beyond(slot, wraps) });
                    }
                    Progress::Failed { promised } => self.ids.observe(promised),
                    Progress::Trimmed { first } => return Err(Error::Trimmed { slot, first }),
                    Progress::Violation(what) => return Err(Error::ProtocolViolation(what)),
                    Progress::Accept(_) | Progress::Waiting => {}
                }
                value = round.into_value_lent(Some(proposal.value));
                continue;
            }
            let ballot = self.ids.next()?;
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
                    let next_lease = round.lease();
                    match self.accept_phase(&mut round, &proposal, &mut failures).await {
                        Progress::Chosen(_) => return Ok(Decision { value: proposal.value, lease: next_lease }),
                        Progress::Failed { promised } => self.ids.observe(promised),
                        Progress::Trimmed { first } => return Err(Error::Trimmed { slot, first }),
                        Progress::Violation(what) => return Err(Error::ProtocolViolation(what)),
                        Progress::Accept(_) | Progress::Waiting => {}
                    }
                    Some(proposal.value)
                }
                Progress::Failed { promised } => {
                    self.ids.observe(promised);
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
    /// not depend on a runtime (like [`StdSleeper`]).
    pub fn propose_blocking(&self, value: impl Into<Vec<u8>>) -> Result<Vec<u8>> {
        futures::executor::block_on(self.propose(value))
    }

    /// Send one phase to every acceptor at once; return as soon as the attempt decides.
    /// (Not an `async fn`: the future is the fan-out's own, not one more layer around it.)
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
        let on_result = move |i, result| {
            let progress = match result {
                Ok(reply) => {
                    let rejected = T::promised(&reply);
                    if rejected != 0 {
                        failures.push(AcceptorFailure { acceptor: i, error: Error::Rejected { promised: rejected } });
                    }
                    on_reply(i, Some(reply))
                }
                // A trimmed slot was chosen: nothing is left to decide, whoever says so.
                Err(Error::Trimmed { first, .. }) if !ignores_trim => {
                    return ControlFlow::Break(Progress::Trimmed { first })
                }
                Err(error) => {
                    failures.push(AcceptorFailure { acceptor: i, error });
                    on_reply(i, None)
                }
            };
            match progress {
                Progress::Waiting => ControlFlow::Continue(()),
                decided => ControlFlow::Break(decided),
            }
        };
        let decided = fan_out(calls, move || self.sleeper.sleep(timeout), timeout, on_result);
        futures::FutureExt::map(decided, |decided| decided.unwrap_or(Progress::Waiting))
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

/// A replicated log: an ordered sequence of chosen values, one Paxos instance per slot.
///
/// ```
/// use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, ReplicatedLog, StdSleeper};
/// # futures::executor::block_on(async {
/// let acceptors: Vec<_> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
/// let writer = ReplicatedLog::new(Proposer::new(acceptors.clone(), CounterIdGenerator::new(1), StdSleeper).unwrap());
/// assert_eq!(writer.append(b"first".to_vec()).await.unwrap().slot, 0);
/// assert_eq!(writer.append(b"second".to_vec()).await.unwrap().slot, 1);
/// // Another node's handle appends after what is already there.
/// let other = ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(2), StdSleeper).unwrap());
/// assert_eq!(other.append(b"third".to_vec()).await.unwrap().slot, 2);
/// let entries = other.read(0, 10).await.unwrap();
/// let values: Vec<&[u8]> = entries.iter().map(|e| e.value.as_slice()).collect();
/// assert_eq!(values, [&b"first"[..], b"second", b"third"]);
/// # });
/// ```
#[derive(Debug)]
pub struct ReplicatedLog<C, S> {
    proposer: Proposer<C, S>,
    next_slot: AtomicU64,
    /// Multi-Paxos leader lease: appends at or past its first slot skip phase 1. Dropped at
    /// the first failure.
    lease: Mutex<Option<Lease>>,
}

/// The error of an append past the last slot.
fn log_full(slot: Slot) -> Error {
    Error::InvalidArgument(format!("the log is full: slot {slot} is past the last slot, {LAST_SLOT}"))
}

impl<C: AcceptorClient, S: Sleeper> ReplicatedLog<C, S> {
    /// A log handle that appends through `proposer`, starting at slot 0. A handle learns
    /// where the log really starts from the acceptors: slots they trimmed are skipped, and
    /// slots other writers took are learned and skipped.
    pub fn new(proposer: Proposer<C, S>) -> Self {
        Self::starting_at(proposer, 0)
    }

    /// A log handle whose first append tries `slot` (for a node that already applied the
    /// log up to there).
    pub fn starting_at(proposer: Proposer<C, S>, slot: Slot) -> Self {
        ReplicatedLog { proposer, next_slot: AtomicU64::new(slot), lease: Mutex::new(None) }
    }

    /// The proposer inside.
    pub fn proposer(&self) -> &Proposer<C, S> {
        &self.proposer
    }

    #[doc(hidden)]
    /// Test-only: inject a protocol bug, to prove the simulator catches it.
    pub fn set_mutation(&mut self, mutation: Option<Mutation>) {
        self.proposer.set_mutation(mutation);
    }

    /// The lowest slot this handle has not yet seen chosen.
    pub fn next_slot(&self) -> Slot {
        self.next_slot.load(Ordering::SeqCst)
    }

    /// Append `value` at the first free slot. Slots already taken by other writers are
    /// learned and skipped, and so are slots the acceptors trimmed. Returns the entry
    /// holding `value`. Past the last slot ([`LAST_SLOT`]) appends fail with
    /// [`Error::InvalidArgument`].
    ///
    /// Values are compared by bytes: if two writers append identical bytes, each may
    /// find "its" value at the same slot. Put a unique id in values that must not merge.
    ///
    /// While this handle leads (its last phase 1 found nothing accepted beyond its slot, and
    /// no one has promised a higher ballot since), appends skip phase 1: one round trip.
    pub async fn append(&self, value: impl Into<Vec<u8>>) -> Result<Entry> {
        let value = value.into();
        loop {
            let (slot, lease) = self.reserve_slot()?;
            let decision = match self.proposer.decide(slot, value.clone(), lease).await {
                Ok(decision) => decision,
                Err(Error::Trimmed { first, .. }) if first > slot => {
                    // The log starts later than this handle knew: go on from there.
                    self.set_lease(None);
                    self.next_slot.fetch_max(first, Ordering::SeqCst);
                    continue;
                }
                Err(e) => {
                    self.set_lease(None);
                    return Err(e);
                }
            };
            self.set_lease(decision.lease);
            let after = match self.proposer.mutation {
                Some(Mutation::SlotWraps) => slot.wrapping_add(1),
                _ => slot.saturating_add(1),
            };
            self.next_slot.fetch_max(after, Ordering::SeqCst);
            if decision.value == value {
                return Ok(Entry { slot, value: decision.value });
            }
        }
    }

    /// The slot to try next and, if this handle holds a lease covering it, the lease. Under
    /// a lease each append takes a slot of its own (one ballot must never carry two values
    /// at one slot); without one, concurrent appends race for a slot.
    fn reserve_slot(&self) -> Result<(Slot, Option<Lease>)> {
        let lease = self.lease.lock().map(|guard| *guard).unwrap_or(None);
        let mutation = self.proposer.mutation;
        let last = if mutation.is_some_and(Mutation::uses_last_slot) { u64::MAX } else { LAST_SLOT };
        match lease {
            Some(lease) => {
                let slot = if mutation == Some(Mutation::SlotWraps) {
                    self.next_slot.fetch_add(1, Ordering::SeqCst)
                } else {
                    self.next_slot
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |s| (s <= last).then(|| s.saturating_add(1)))
                        .map_err(log_full)?
                };
                Ok((slot, lease.covers(slot).then_some(lease)))
            }
            None => {
                let slot = self.next_slot.load(Ordering::SeqCst);
                if slot > last {
                    return Err(log_full(slot));
                }
                Ok((slot, None))
            }
        }
    }

    /// Take the lease a decision returned. A lease at a lower ballot than the one held (a
    /// slower append finishing late) does not replace it.
    fn set_lease(&self, lease: Option<Lease>) {
        if let Ok(mut guard) = self.lease.lock() {
            *guard = match (lease, *guard) {
                (Some(new), Some(old)) if new.ballot() < old.ballot() => Some(old),
                _ => lease,
            };
        }
    }

    /// Blocking [`append`](Self::append).
    pub fn append_blocking(&self, value: impl Into<Vec<u8>>) -> Result<Entry> {
        futures::executor::block_on(self.append(value))
    }

    /// The chosen entries from slot `from` on, in slot order, up to `max` of them, stopping
    /// at the first slot not known to be chosen. Asks every acceptor (`observe`) and counts
    /// a value chosen when a majority report the same ballot for its slot.
    ///
    /// A slot that is not chosen while a later one is (a hole: its proposer died, or its
    /// accepts are split over ballots), or that a majority hold values at under different
    /// ballots with none a majority's, is decided on the spot by running Paxos on it, with
    /// the highest accepted value reported there (or an empty value) as the proposal, so a
    /// reader never waits for a writer that is gone. Paxos keeps whatever was already chosen.
    ///
    /// Fails with [`Error::Trimmed`], naming the first slot still held, when `from` was
    /// trimmed and its value is gone.
    pub async fn read(&self, from: Slot, max: usize) -> Result<Vec<Entry>> {
        /// Holes decided per call, so one read stays bounded.
        const MAX_REPAIRS: usize = 16;
        let mut entries = Vec::new();
        let mut next = from;
        let mut repairs = 0;
        while entries.len() < max && next <= LAST_SLOT {
            let Tally { mut chosen, mut reported, reporting, first } = self.tally(next).await?;
            while entries.len() < max && next <= LAST_SLOT {
                let Some(value) = chosen.remove(&next) else { break };
                entries.push(Entry { slot: next, value });
                next = next.saturating_add(1);
            }
            if first > next {
                // `next` was trimmed somewhere and a majority no longer tells its value.
                if entries.is_empty() {
                    return Err(Error::Trimmed { slot: next, first });
                }
                break;
            }
            // A hole: `next` is not chosen while a later slot is. Or a split: a majority
            // hold a value at `next`, under different ballots, and none a majority's worth
            // (an append that was retried, at the end of the log): it may well be chosen,
            // but no one can tell until Paxos runs on it once more.
            let hole = chosen.keys().next().is_some_and(|&later| later > next);
            let split = reporting.get(&next).is_some_and(|&n| n >= majority(self.proposer.clients().len()));
            let hole = hole || split;
            if entries.len() >= max || !hole || repairs == MAX_REPAIRS || next > LAST_SLOT {
                break;
            }
            let filler = reported.remove(&next).map(|(_, value)| value).unwrap_or_default();
            let value = match self.proposer.propose_at(next, filler).await {
                Ok(value) => value,
                Err(Error::Trimmed { .. }) if !entries.is_empty() => break,
                Err(e) => return Err(e),
            };
            entries.push(Entry { slot: next, value });
            next = next.saturating_add(1);
            repairs += 1;
        }
        self.next_slot.fetch_max(next, Ordering::SeqCst);
        Ok(entries)
    }

    /// Ask every acceptor what it accepted from `from` on.
    async fn tally(&self, from: Slot) -> Result<Tally> {
        let clients = self.proposer.clients();
        let n = clients.len();
        let request = Request { id: 0, attempt: 0, slot: from };
        let mut learner = Learner::starting_at(n, from);
        if self.proposer.mutation == Some(Mutation::LearnerQuorumOneShort) {
            learner.set_quorum(majority(n) - 1);
        }
        let mut tally =
            Tally { chosen: BTreeMap::new(), reported: BTreeMap::new(), reporting: BTreeMap::new(), first: 0 };
        let mut failures = Vec::new();
        let mut violation = None;
        let calls = clients.iter().map(|c| c.observe(&request));
        let config = &self.proposer.config;
        let sleeper = &self.proposer.sleeper;
        fan_out(
            calls,
            || sleeper.sleep(config.call_timeout),
            config.call_timeout,
            |i, result| {
                match result {
                    Ok(proposals) => {
                        for p in &proposals {
                            if p.id == 0 {
                                // A trim marker: this acceptor forgot the slots below.
                                tally.first = tally.first.max(p.slot);
                                continue;
                            }
                            if p.slot < from {
                                continue;
                            }
                            match learner.on_accepted(i, p) {
                                Ok(Some(entry)) => {
                                    tally.chosen.insert(entry.slot, entry.value);
                                }
                                Ok(None) => {}
                                Err(e) => {
                                    violation = Some(e);
                                    return ControlFlow::Break(());
                                }
                            }
                            *tally.reporting.entry(p.slot).or_insert(0) += 1;
                            if tally.reported.get(&p.slot).is_none_or(|(ballot, _)| p.id > *ballot) {
                                tally.reported.insert(p.slot, (p.id, p.value.clone()));
                            }
                        }
                    }
                    Err(error) => failures.push(AcceptorFailure { acceptor: i, error }),
                }
                ControlFlow::Continue(())
            },
        )
        .await;
        if let Some(e) = violation {
            return Err(e);
        }
        if n - failures.len() < majority(n) {
            return Err(Error::NoQuorum {
                needed: majority(n),
                acceptors: n,
                attempts: 1,
                failures: Failures(failures),
            });
        }
        Ok(tally)
    }

    /// Every chosen entry from slot `from` on, in slot order, then each new one as it is
    /// chosen (asking the acceptors every `poll_interval` while there is nothing new). The
    /// stream ends only after an error, which it yields.
    ///
    /// ```
    /// use futures::StreamExt;
    /// use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, ReplicatedLog, StdSleeper};
    /// # futures::executor::block_on(async {
    /// let acceptors: Vec<_> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    /// let log = ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(1), StdSleeper).unwrap());
    /// for v in ["a", "b", "c"] {
    ///     log.append(v.as_bytes().to_vec()).await.unwrap();
    /// }
    /// let from_b: Vec<_> = log.entries(1).take(2).map(|e| e.unwrap().value).collect().await;
    /// assert_eq!(from_b, [b"b".to_vec(), b"c".to_vec()]);
    /// # });
    /// ```
    pub fn entries(&self, from: Slot) -> impl futures::Stream<Item = Result<Entry>> + '_ {
        let state = (from, std::collections::VecDeque::<Entry>::new(), false);
        futures::stream::unfold(state, move |(next, mut buffered, failed)| async move {
            if failed {
                return None;
            }
            loop {
                if let Some(entry) = buffered.pop_front() {
                    let after = entry.slot.saturating_add(1);
                    return Some((Ok(entry), (after, buffered, false)));
                }
                match self.wait(next, 256, Duration::from_secs(3600)).await {
                    Ok(entries) => buffered.extend(entries),
                    Err(e) => return Some((Err(e), (next, buffered, true))),
                }
            }
        })
    }

    /// [`read`](Self::read), but when nothing is chosen at `from` yet, ask again every
    /// `poll_interval` until something is or `timeout` passes (then an empty list).
    pub async fn wait(&self, from: Slot, max: usize, timeout: Duration) -> Result<Vec<Entry>> {
        let interval = self.proposer.config.poll_interval.max(Duration::from_micros(100));
        let mut waited = Duration::ZERO;
        loop {
            let entries = self.read(from, max).await?;
            if !entries.is_empty() || waited >= timeout {
                return Ok(entries);
            }
            self.proposer.sleeper.sleep(interval).await;
            waited += interval;
        }
    }
}
