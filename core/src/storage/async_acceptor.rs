//! [`AsyncAcceptor`]: the acceptor's rules over two [`AsyncLog`]s.
//!
//! It keeps the rules in [`AcceptorCore`]: each step is decided at once, its record is
//! written (awaited), and only then does the reply leave. Steps run one at a time (an async
//! mutex), so a reply never depends on a record still being written. A storage failure
//! closes the acceptor for good, as with [`Acceptor`](crate::Acceptor).

use futures::future::LocalBoxFuture;
use futures::lock::Mutex;

use super::async_log::AsyncLog;
use super::log::Log;
use super::memory::MemoryLog;
use super::persist::persist_writes_async;
use crate::protocol::acceptor::{AcceptorCore, Write};
use crate::protocol::error::{Error, Result};
use crate::protocol::message::{Batch, Promise, Proposal, Request, Slot};
use crate::protocol::mutation::Mutation;

struct State<P, A> {
    core: AcceptorCore,
    promise_log: P,
    accept_log: A,
    failed: Option<String>,
}

impl<P: AsyncLog, A: AsyncLog> State<P, A> {
    fn check_open(&self) -> Result<()> {
        match &self.failed {
            Some(why) => Err(Error::Closed(format!("acceptor stopped after a storage failure: {why}"))),
            None => Ok(()),
        }
    }

    /// Persist `pending` to the logs, then hand out its reply; a failed write closes the
    /// acceptor for good.
    async fn persist<R>(&mut self, pending: crate::protocol::acceptor::Pending<R>) -> Result<R> {
        let r = pending.persist_async(&mut self.promise_log, &mut self.accept_log).await;
        if let Err(e) = &r {
            self.failed = Some(e.to_string());
        }
        r
    }

    /// Trim as [`AsyncAcceptor::trim`] says; a failed write closes the acceptor for good.
    async fn trim(&mut self, slot: Slot) -> Result<()> {
        let promised = self.core.promised();
        let r: Result<()> = async {
            if promised > 0 && self.promise_log.last().await?.map(|(b, _)| b) < Some(promised) {
                self.promise_log.record(promised, &[]).await?;
            }
            if let Some((marker_seq, marker, keep_from)) = self.core.forget_below(slot) {
                self.accept_log.record(marker_seq, &marker).await?;
                self.accept_log.trim(keep_from).await?;
            }
            self.promise_log.trim(promised).await
        }
        .await;
        if let Err(e) = &r {
            self.failed = Some(e.to_string());
        }
        r
    }
}

/// Where an [`AsyncAcceptor`]'s state is between calls: at rest, or owned by the write of a
/// call that began it. The write lives here, not in the caller's future, so it runs to its
/// end however that caller ends: the next call drives it home before doing anything else.
enum Stage<P, A> {
    Idle(State<P, A>),
    Writing(LocalBoxFuture<'static, State<P, A>>),
    /// Only while a stage is being swapped; never seen from outside.
    Moving,
}

/// An acceptor over two [`AsyncLog`]s. Same rules and answers as
/// [`Acceptor`](crate::Acceptor); every method is async.
///
/// It is safe to drop any of its futures at any point, as proposers do with the calls still
/// running when a majority has answered or the timeout fires: a step that has started its
/// write keeps the write (and the state change that goes with it), and the next call
/// finishes that write before it answers anything. So no answer ever rests on a record that
/// is not durable, and nothing once reported is missing after a reopen.
///
/// Its state is owned by a local (not `Send`) future while a write runs: use it on a
/// single-threaded executor (a browser, Node, the simulator). Native code with synchronous
/// logs uses [`LocalAcceptor`](crate::LocalAcceptor).
///
/// ```
/// use synodos::async_log::{AsyncAcceptor, Ready};
/// use synodos::{MemoryLog, Proposal, Request};
/// # futures::executor::block_on(async {
/// let (p, a) = (MemoryLog::new(), MemoryLog::new());
/// let acceptor = AsyncAcceptor::open(Ready(p.clone()), Ready(a.clone())).await.unwrap();
/// assert!(acceptor.prepare(&Request { id: 3, attempt: 1, slot: 0 }).await.unwrap().is_granted());
/// acceptor.accept(&Proposal::new(3, 0, b"v".to_vec())).await.unwrap();
/// let again = AsyncAcceptor::open(Ready(p), Ready(a)).await.unwrap();
/// assert_eq!(again.promised().await, 3);
/// # });
/// ```
pub struct AsyncAcceptor<P, A> {
    stage: Mutex<Stage<P, A>>,
    /// Set while this acceptor's own log code runs (a write being polled), so that a log
    /// calling back into its acceptor gets an error instead of waiting forever for itself.
    in_log: std::cell::Cell<bool>,
    mutation: Option<Mutation>,
}

impl<P, A> std::fmt::Debug for AsyncAcceptor<P, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncAcceptor").finish_non_exhaustive()
    }
}

impl<P: AsyncLog + 'static, A: AsyncLog + 'static> AsyncAcceptor<P, A> {
    /// An acceptor over two logs, recovering whatever they hold.
    pub async fn open(promise_log: P, accept_log: A) -> Result<Self> {
        Self::open_mutated(promise_log, accept_log, None).await
    }

    #[doc(hidden)]
    /// Test-only: [`open`](Self::open) with a protocol bug injected.
    pub async fn open_mutated(promise_log: P, accept_log: A, mutation: Option<Mutation>) -> Result<Self> {
        // Recovery reads the logs into memory once, then rebuilds the state as after a
        // restart of a synchronous acceptor.
        let mut promises = MemoryLog::new();
        if let Some((id, data)) = promise_log.last().await? {
            promises.record(id, &data)?;
        }
        let mut accepts = MemoryLog::new();
        let records = accept_log.range(0, u64::MAX).await?;
        let refs: Vec<(u64, &[u8])> = records.iter().map(|(id, d)| (*id, d.as_slice())).collect();
        accepts.record_batch(&refs)?;
        let mut core = AcceptorCore::recover_mutated(&promises, &accepts, mutation)?;
        core.set_mutation(mutation);
        let state = State { core, promise_log, accept_log, failed: None };
        Ok(AsyncAcceptor { stage: Mutex::new(Stage::Idle(state)), in_log: std::cell::Cell::new(false), mutation })
    }

    /// Lock the state, first finishing a write an earlier (maybe dropped) call began.
    async fn settled(&self) -> Result<futures::lock::MutexGuard<'_, Stage<P, A>>> {
        if self.in_log.get() {
            return Err(Error::InvalidArgument(
                "re-entrant call: this acceptor's log called back into the same acceptor".into(),
            ));
        }
        let mut stage = self.stage.lock().await;
        if let Stage::Writing(write) = &mut *stage {
            // If this call is dropped here, the write stays in `stage` for the next one.
            let state = InLog { flag: &self.in_log, write }.await;
            *stage = Stage::Idle(state);
        }
        Ok(stage)
    }

    /// Run one step: `decide` looks at the state (and may change it in memory), and its
    /// write makes that durable before the reply leaves.
    async fn step<R: 'static>(
        &self,
        decide: impl FnOnce(&mut State<P, A>) -> Result<crate::protocol::acceptor::Pending<R>>,
    ) -> Result<R> {
        let mut stage = self.settled().await?;
        let state = idle(&mut stage)?;
        state.check_open()?;
        let pending = decide(state)?;
        if pending.write().is_none() || self.mutation == Some(Mutation::AsyncAcceptorNotCancelSafe) {
            // Nothing to write (a rejection or a repeat): the reply leaves at once. (Or the
            // bug this type used to have: the caller's future owns the write.)
            return state.persist(pending).await;
        }
        owned_write(&mut stage, &self.in_log, move |mut state| async move {
            let r = state.persist(pending).await;
            (state, r)
        })
        .await
    }

    /// Phase 2b for a whole batch, all entries or none, written together.
    pub async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        let mut stage = self.settled().await?;
        let state = idle(&mut stage)?;
        state.check_open()?;
        let (writes, reply) = state.core.accept_batch(batch)?;
        if writes.is_empty() {
            return Ok(reply);
        }
        owned_write(&mut stage, &self.in_log, move |mut state| async move {
            let refs: Vec<&Write> = writes.iter().collect();
            let r = persist_writes_async(&refs, &mut state.promise_log, &mut state.accept_log).await;
            if let Err(e) = &r {
                state.failed = Some(e.to_string());
            }
            (state, r.map(|()| reply))
        })
        .await
    }

    /// Phase 1b: answer a prepare, after the promise is recorded.
    pub async fn prepare(&self, request: &Request) -> Result<Promise> {
        self.step(|st| st.core.prepare(request)).await
    }

    /// Phase 2b: answer an accept, after the proposal is recorded.
    pub async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        self.step(|st| st.core.accept(proposal)).await
    }

    /// Every proposal accepted for slots `>= request.slot` (after a trim point marker, if
    /// `request.slot` is below it).
    pub async fn accepted_from(&self, request: &Request) -> Result<Vec<Proposal>> {
        let mut stage = self.settled().await?;
        let st = idle(&mut stage)?;
        st.check_open()?;
        Ok(st.core.accepted_from(request.slot).collect())
    }

    /// The highest ballot promised.
    pub async fn promised(&self) -> u64 {
        match self.settled().await.as_deref() {
            Ok(Stage::Idle(st)) => st.core.promised(),
            _ => 0,
        }
    }

    /// Forget accepted proposals below `slot` and trim the accept log. The current promise
    /// is recorded first, so trimming never lowers it after a restart. Like every step, it
    /// runs to its end even if this call's future is dropped.
    pub async fn trim(&self, slot: Slot) -> Result<()> {
        let mut stage = self.settled().await?;
        idle(&mut stage)?.check_open()?;
        owned_write(&mut stage, &self.in_log, move |mut state| async move {
            let r = state.trim(slot).await;
            (state, r)
        })
        .await
    }
}

/// Polls an acceptor's write with its `in_log` flag set (and cleared however the poll ends).
struct InLog<'a, F> {
    flag: &'a std::cell::Cell<bool>,
    write: &'a mut F,
}

impl<F: std::future::Future + Unpin> std::future::Future for InLog<'_, F> {
    type Output = F::Output;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<F::Output> {
        struct Clear<'a>(&'a std::cell::Cell<bool>);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                self.0.set(false);
            }
        }
        self.flag.set(true);
        let _clear = Clear(self.flag);
        std::pin::Pin::new(&mut *self.write).poll(cx)
    }
}

/// The state at rest (a stage is never left `Moving`, short of a panic in a log).
fn idle<P, A>(stage: &mut Stage<P, A>) -> Result<&mut State<P, A>> {
    match stage {
        Stage::Idle(state) => Ok(state),
        _ => Err(Error::Closed("acceptor state lost by an earlier panic in a log".into())),
    }
}

/// Hand the state to `work` as a future owned by `stage`, then drive it. If the caller is
/// dropped meanwhile, the work stays in `stage` and the next call finishes it.
async fn owned_write<P: 'static, A: 'static, R: 'static, Fut>(
    stage: &mut Stage<P, A>,
    in_log: &std::cell::Cell<bool>,
    work: impl FnOnce(State<P, A>) -> Fut,
) -> Result<R>
where
    Fut: std::future::Future<Output = (State<P, A>, Result<R>)> + 'static,
{
    let Stage::Idle(state) = std::mem::replace(stage, Stage::Moving) else {
        return Err(Error::Closed("acceptor state lost by an earlier panic in a log".into()));
    };
    let reply = std::rc::Rc::new(std::cell::RefCell::new(None));
    let out = reply.clone();
    let work = work(state);
    *stage = Stage::Writing(Box::pin(async move {
        let (state, r) = work.await;
        *out.borrow_mut() = Some(r);
        state
    }));
    if let Stage::Writing(write) = stage {
        let state = InLog { flag: in_log, write }.await;
        *stage = Stage::Idle(state);
    }
    let r = reply.borrow_mut().take();
    r.unwrap_or_else(|| Err(Error::Closed("acceptor write did not finish".into())))
}

#[cfg(test)]
mod tests {

    use futures::executor::block_on;

    use super::*;
    use crate::storage::async_log::Ready;

    #[test]
    fn async_acceptor_follows_the_rules_and_recovers() {
        block_on(async {
            let (p, a) = (MemoryLog::new(), MemoryLog::new());
            let acc = AsyncAcceptor::open(Ready(p.clone()), Ready(a.clone())).await.unwrap();
            let req = |id| Request { id, attempt: 1, slot: 0 };
            assert!(acc.prepare(&req(10)).await.unwrap().is_granted());
            assert_eq!(acc.prepare(&req(9)).await.unwrap().promised, 10);
            assert_eq!(acc.accept(&Proposal::new(9, 0, b"low".to_vec())).await.unwrap().promised, 10);
            assert!(acc.accept(&Proposal::new(10, 0, b"v".to_vec())).await.unwrap().is_accepted());
            assert_eq!(p.len(), 1);
            assert_eq!(a.len(), 1);
            drop(acc);
            let again = AsyncAcceptor::open(Ready(p), Ready(a)).await.unwrap();
            assert_eq!(again.promised().await, 10);
            let promise = again.prepare(&req(11)).await.unwrap();
            assert_eq!(promise.accepted.map(|p| p.value), Some(b"v".to_vec()));
        });
    }

    #[test]
    fn a_storage_failure_closes_the_async_acceptor() {
        struct Broken;
        impl AsyncLog for Broken {
            async fn record(&mut self, _: u64, _: &[u8]) -> Result<()> {
                Err(Error::storage("disk on fire"))
            }
            async fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
                Ok(None)
            }
            async fn range(&self, _: u64, _: u64) -> Result<Vec<(u64, Vec<u8>)>> {
                Ok(vec![])
            }
            async fn trim(&mut self, _: u64) -> Result<()> {
                Ok(())
            }
        }
        block_on(async {
            let acc = AsyncAcceptor::open(Broken, Ready(MemoryLog::new())).await.unwrap();
            let req = Request { id: 1, attempt: 1, slot: 0 };
            assert!(matches!(acc.prepare(&req).await, Err(Error::Storage { .. })));
            assert!(matches!(acc.prepare(&req).await, Err(Error::Closed(_))));
        });
    }

    #[test]
    fn a_proposer_runs_over_async_acceptors() {
        use crate::{CounterIdGenerator, Proposer, Sleeper};
        struct NoTimer;
        impl Sleeper for NoTimer {
            fn sleep(&self, _: std::time::Duration) -> impl std::future::Future<Output = ()> {
                std::future::ready(())
            }
        }
        block_on(async {
            let mut acceptors = Vec::new();
            for _ in 0..3 {
                acceptors.push(AsyncAcceptor::open(Ready(MemoryLog::new()), Ready(MemoryLog::new())).await.unwrap());
            }
            let proposer = Proposer::new(acceptors.iter().collect(), CounterIdGenerator::new(1), NoTimer).unwrap();
            assert_eq!(proposer.propose(b"x".to_vec()).await.unwrap(), b"x");
        });
    }
}
