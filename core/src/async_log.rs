//! Storage whose calls complete later: the [`AsyncLog`] trait (for logs over asynchronous
//! storage, such as IndexedDB in a browser, reached through a binding), an acceptor over two
//! of them ([`AsyncAcceptor`]), and the storage [`conformance`] kit for them.
//!
//! [`AsyncAcceptor`] keeps the acceptor rules in [`AcceptorCore`]: each step is decided at
//! once, its record is written (awaited), and only then does the reply leave. Steps run one
//! at a time (an async mutex), so a reply never depends on a record still being written.
//! A storage failure closes the acceptor for good, as with [`Acceptor`](crate::Acceptor).

use futures::future::LocalBoxFuture;
use futures::lock::Mutex;

use crate::acceptor::AcceptorCore;
use crate::error::{Error, Result};
use crate::log::{check_batch_order, Log, MemoryLog};
use crate::message::{Promise, Proposal, Request, Slot};

/// An append-only log whose operations are asynchronous. Same contract as [`Log`]
/// (checked by [`conformance::run`]), except that `range` returns the records.
#[allow(async_fn_in_trait)] // Send-ness of the futures follows the implementation.
pub trait AsyncLog {
    /// Append one record; durable when the future completes.
    async fn record(&mut self, id: u64, data: &[u8]) -> Result<()>;

    /// Append several records as one unit of durability. The default records each in turn.
    async fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        check_batch_order(self.last().await?.map(|(id, _)| id), records)?;
        for (id, data) in records {
            self.record(*id, data).await?;
        }
        Ok(())
    }

    /// The record with the highest id, if any.
    async fn last(&self) -> Result<Option<(u64, Vec<u8>)>>;

    /// The records with `start <= id <= stop`, in id order.
    async fn range(&self, start: u64, stop: u64) -> Result<Vec<(u64, Vec<u8>)>>;

    /// Forget every record with `id < before`.
    async fn trim(&mut self, before: u64) -> Result<()>;
}

/// Any synchronous [`Log`] as an [`AsyncLog`] (each call completes at once).
#[derive(Debug, Clone, Default)]
pub struct Ready<L>(pub L);

impl<L: Log> AsyncLog for Ready<L> {
    async fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        self.0.record(id, data)
    }
    async fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        self.0.record_batch(records)
    }
    async fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        self.0.last()
    }
    async fn range(&self, start: u64, stop: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let mut out = Vec::new();
        self.0.range(start, stop, &mut |id, data| {
            out.push((id, data.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }
    async fn trim(&mut self, before: u64) -> Result<()> {
        self.0.trim(before)
    }
}

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
    async fn persist<R>(&mut self, pending: crate::Pending<R>) -> Result<R> {
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
    mutation: Option<crate::Mutation>,
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
    pub async fn open_mutated(promise_log: P, accept_log: A, mutation: Option<crate::Mutation>) -> Result<Self> {
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
    async fn step<R: 'static>(&self, decide: impl FnOnce(&mut State<P, A>) -> Result<crate::Pending<R>>) -> Result<R> {
        let mut stage = self.settled().await?;
        let state = idle(&mut stage)?;
        state.check_open()?;
        let pending = decide(state)?;
        if pending.write().is_none() || self.mutation == Some(crate::Mutation::AsyncAcceptorNotCancelSafe) {
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

impl<P: AsyncLog + 'static, A: AsyncLog + 'static> crate::AcceptorClient for AsyncAcceptor<P, A> {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        AsyncAcceptor::prepare(self, request).await
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        AsyncAcceptor::accept(self, proposal).await
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        self.accepted_from(request).await
    }
}

/// The storage conformance kit. It is written once, here, for [`AsyncLog`]s;
/// [`crate::log::conformance::run`] runs it on synchronous logs through [`Ready`].
pub mod conformance {
    use std::future::Future;

    use super::*;
    pub use crate::log::conformance::{Failure, Report};

    type Records = Vec<(u64, Vec<u8>)>;

    struct Checker {
        check: &'static str,
    }

    impl Checker {
        fn ok<T>(&self, what: &str, r: Result<T>) -> Result<T, Failure> {
            r.map_err(|e| Failure { check: self.check, detail: format!("{what}: unexpected error: {e}") })
        }
        fn eq<T: PartialEq + std::fmt::Debug>(&self, what: &str, got: T, want: T) -> Result<(), Failure> {
            if got == want {
                Ok(())
            } else {
                Err(Failure { check: self.check, detail: format!("{what}: expected {want:?}, got {got:?}") })
            }
        }
        fn err<T: std::fmt::Debug>(&self, what: &str, r: Result<T>) -> Result<(), Failure> {
            match r {
                Err(_) => Ok(()),
                Ok(v) => {
                    Err(Failure { check: self.check, detail: format!("{what}: expected an error, got Ok({v:?})") })
                }
            }
        }
    }

    fn rec(id: u64, data: &[u8]) -> (u64, Vec<u8>) {
        (id, data.to_vec())
    }

    fn ids(r: Records) -> Vec<u64> {
        r.into_iter().map(|(id, _)| id).collect()
    }

    /// Run every check; the first failure stops the run. `open(name)` returns the log
    /// stored under `name` (a later `open` of the same name is a reopen).
    pub async fn run<L, F, Fut>(mut open: F) -> Result<Report, Failure>
    where
        L: AsyncLog,
        F: FnMut(&str) -> Fut,
        Fut: Future<Output = Result<L>>,
    {
        let mut report = Report::default();
        let mut start = |check: &'static str| {
            report.checks.push(check);
            Checker { check }
        };

        let c = start("empty");
        let log = c.ok("open", open("empty").await)?;
        c.eq("last of an empty log", c.ok("last", log.last().await)?, None)?;
        c.eq("range of an empty log", c.ok("range", log.range(0, u64::MAX).await)?, vec![])?;
        drop(log);

        let c = start("ordering");
        let mut log = c.ok("open", open("ordering").await)?;
        for (id, data) in [(1u64, &b"a"[..]), (2, b"b"), (10, b"c"), (11, b"d")] {
            c.ok("record", log.record(id, data).await)?;
        }
        c.eq("last", c.ok("last", log.last().await)?, Some(rec(11, b"d")))?;
        c.eq(
            "range(0, MAX)",
            c.ok("range", log.range(0, u64::MAX).await)?,
            vec![rec(1, b"a"), rec(2, b"b"), rec(10, b"c"), rec(11, b"d")],
        )?;
        drop(log);

        let c = start("range bounds are inclusive");
        let mut log = c.ok("open", open("range").await)?;
        for id in [3u64, 5, 7, 9] {
            c.ok("record", log.record(id, &id.to_le_bytes()).await)?;
        }
        c.eq("range(5, 7)", ids(c.ok("range", log.range(5, 7).await)?), vec![5, 7])?;
        c.eq("range(4, 8)", ids(c.ok("range", log.range(4, 8).await)?), vec![5, 7])?;
        c.eq("range(10, 20)", ids(c.ok("range", log.range(10, 20).await)?), vec![])?;
        c.eq("range(8, 4)", ids(c.ok("range", log.range(8, 4).await)?), vec![])?;
        c.eq("range(9, 9)", ids(c.ok("range", log.range(9, 9).await)?), vec![9])?;
        drop(log);

        let c = start("duplicate and lower ids are refused");
        let mut log = c.ok("open", open("duplicates").await)?;
        c.ok("record", log.record(4, b"four").await)?;
        c.err("record of the same id", log.record(4, b"again").await)?;
        c.err("record of a lower id", log.record(2, b"lower").await)?;
        c.err("batch with ids out of order", log.record_batch(&[(6, b"x"), (5, b"y")]).await)?;
        c.err("batch starting below last", log.record_batch(&[(3, b"x"), (8, b"y")]).await)?;
        c.eq("records after refusals", c.ok("range", log.range(0, u64::MAX).await)?, vec![rec(4, b"four")])?;
        drop(log);

        let c = start("batches");
        let mut log = c.ok("open", open("batches").await)?;
        c.ok("empty batch", log.record_batch(&[]).await)?;
        c.ok("batch", log.record_batch(&[(1, b"x"), (2, b""), (3, b"z")]).await)?;
        c.ok("record after a batch", log.record(4, b"w").await)?;
        c.eq(
            "range",
            c.ok("range", log.range(0, u64::MAX).await)?,
            vec![rec(1, b"x"), rec(2, b""), rec(3, b"z"), rec(4, b"w")],
        )?;
        drop(log);

        let c = start("empty and large values");
        let mut log = c.ok("open", open("values").await)?;
        let large: Vec<u8> = (0..(1usize << 20) + 3).map(|i| (i * 31 % 251) as u8).collect();
        c.ok("record empty", log.record(1, b"").await)?;
        c.ok("record 1 MiB", log.record(2, &large).await)?;
        c.ok("record at u64::MAX", log.record(u64::MAX, b"max").await)?;
        drop(log);
        let log = c.ok("reopen", open("values").await)?;
        c.eq("empty value", c.ok("range", log.range(1, 1).await)?, vec![rec(1, b"")])?;
        let got = c.ok("range", log.range(2, 2).await)?;
        c.eq("large value length", got.first().map(|r| r.1.len()), Some(large.len()))?;
        c.eq("large value bytes equal", got.first().map(|r| r.1 == large), Some(true))?;
        c.eq("last at u64::MAX", c.ok("last", log.last().await)?, Some(rec(u64::MAX, b"max")))?;
        drop(log);

        let c = start("reopen keeps every record");
        let mut log = c.ok("open", open("reopen").await)?;
        for id in 1..=100u64 {
            c.ok("record", log.record(id * 2, format!("v{id}").as_bytes()).await)?;
        }
        drop(log);
        let mut log = c.ok("reopen", open("reopen").await)?;
        c.eq("last after reopen", c.ok("last", log.last().await)?, Some(rec(200, b"v100")))?;
        c.eq("count after reopen", c.ok("range", log.range(0, u64::MAX).await)?.len(), 100)?;
        c.err("a lower id after reopen", log.record(150, b"x").await)?;
        c.ok("record after reopen", log.record(201, b"next").await)?;
        drop(log);
        let log = c.ok("second reopen", open("reopen").await)?;
        c.eq("last after second reopen", c.ok("last", log.last().await)?, Some(rec(201, b"next")))?;
        drop(log);

        let c = start("trim");
        let mut log = c.ok("open", open("trim").await)?;
        for id in 1..=10u64 {
            c.ok("record", log.record(id, &[id as u8]).await)?;
        }
        c.ok("trim(6)", log.trim(6).await)?;
        c.eq("ids after trim", ids(c.ok("range", log.range(0, u64::MAX).await)?), vec![6, 7, 8, 9, 10])?;
        c.eq("last after trim", c.ok("last", log.last().await)?, Some(rec(10, &[10])))?;
        c.ok("record after trim", log.record(11, b"k").await)?;
        drop(log);
        let mut log = c.ok("reopen", open("trim").await)?;
        c.eq("ids after reopen", ids(c.ok("range", log.range(0, u64::MAX).await)?), vec![6, 7, 8, 9, 10, 11])?;
        c.ok("trim below everything", log.trim(2).await)?;
        c.eq("nothing more trimmed", ids(c.ok("range", log.range(0, 6).await)?), vec![6])?;
        drop(log);

        let c = start("many records");
        let mut log = c.ok("open", open("many").await)?;
        let batch: Vec<(u64, Vec<u8>)> = (1..=5000u64).map(|i| (i, i.to_be_bytes().to_vec())).collect();
        let refs: Vec<(u64, &[u8])> = batch.iter().map(|(i, d)| (*i, d.as_slice())).collect();
        c.ok("batch of 5000", log.record_batch(&refs).await)?;
        drop(log);
        let log = c.ok("reopen", open("many").await)?;
        let got = c.ok("range", log.range(0, u64::MAX).await)?;
        c.eq("5000 records back in order", got == batch, true)?;

        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use futures::executor::block_on;

    use super::*;

    #[test]
    fn memory_logs_pass_the_async_kit_which_the_sync_kit_runs_too() {
        let mut store: HashMap<String, MemoryLog> = HashMap::new();
        let report = block_on(conformance::run(|name| {
            let log = store.entry(name.to_string()).or_default().clone();
            async move { Ok(Ready(log)) }
        }))
        .unwrap();
        let mut sync_store: HashMap<String, MemoryLog> = HashMap::new();
        let sync =
            crate::log::conformance::run(|name| Ok(sync_store.entry(name.to_string()).or_default().clone())).unwrap();
        // The sync kit is this kit plus the one check only a callback-taking `range` needs.
        assert_eq!(report.checks[..], sync.checks[..report.checks.len()]);
        assert_eq!(sync.checks[report.checks.len()..], ["range stops at a callback error"]);
    }

    #[test]
    fn the_async_kit_catches_a_forgetful_log() {
        let r = block_on(conformance::run(|_| async { Ok(Ready(MemoryLog::new())) }));
        assert_eq!(r.unwrap_err().check, "empty and large values");
    }

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
