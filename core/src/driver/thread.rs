//! [`AcceptorThread`]: an in-process acceptor on a thread of its own, with group commit, as
//! an [`AcceptorClient`].

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use futures::channel::{mpsc, oneshot};
use futures::{SinkExt, StreamExt};

use super::client::AcceptorClient;
use crate::protocol::error::{Error, Result};
use crate::protocol::message::{Batch, Promise, Proposal, Request};
use crate::storage::acceptor::Acceptor;
use crate::storage::group::{AcceptorAnswer, AcceptorCall};
use crate::storage::log::Log;

/// Calls decided and written together at most.
const MAX_GROUP: usize = 1024;

/// A job for the thread: a call of a group, or any other work on the acceptor (run alone,
/// in order with the calls).
enum Job<P: Log, A: Log> {
    Call(AcceptorCall, oneshot::Sender<Result<AcceptorAnswer>>),
    Run(Work<P, A>),
}

/// Work run on the acceptor's thread.
type Work<P, A> = Box<dyn FnOnce(&mut Acceptor<P, A>) + Send>;

/// An in-process acceptor on a thread of its own, for acceptors whose logs block (a
/// [`FileLog`](crate::FileLog) fsyncs):
///
/// - **group commit**: calls that arrive while the thread writes (from any number of
///   proposers, handles or threads) are decided together and written with one fsync per log
///   ([`Acceptor::handle_group`]); each answer leaves only after that write;
/// - **acceptors in parallel**: a proposer over three of them fsyncs on three threads at
///   once, so a decision waits for about one fsync rather than three in a row (a
///   [`LocalAcceptor`](crate::LocalAcceptor) runs its log on the caller's thread).
///
/// Calls never block the caller's thread: they queue (bounded, waiting for room
/// asynchronously) and await the answer, so it works on any executor and under the
/// `*_blocking` methods. The thread stops, and the logs are closed, when the last clone is
/// dropped (the drop waits for the group in progress). For memory logs use a
/// `LocalAcceptor`: nothing blocks, and a thread hop costs more than the call.
///
/// ```
/// use synodos::{Acceptor, AcceptorThread, CounterIdGenerator, Proposer, StdSleeper};
/// let acceptors: Vec<_> = (0..3).map(|_| AcceptorThread::spawn(Acceptor::in_memory()).unwrap()).collect();
/// let proposer = Proposer::new(acceptors, CounterIdGenerator::new(1), StdSleeper).unwrap();
/// assert_eq!(proposer.propose_blocking(b"x".to_vec()).unwrap(), b"x");
/// ```
pub struct AcceptorThread<P: Log = crate::storage::MemoryLog, A: Log = crate::storage::MemoryLog> {
    queue: mpsc::Sender<Job<P, A>>,
    /// The acceptor's thread: a call from it (its log calling back) would wait for itself.
    id: std::thread::ThreadId,
    /// Joined by the last clone's drop.
    thread: Arc<Joiner>,
}

impl<P: Log, A: Log> std::fmt::Debug for AcceptorThread<P, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptorThread").finish_non_exhaustive()
    }
}

impl<P: Log, A: Log> Clone for AcceptorThread<P, A> {
    fn clone(&self) -> Self {
        AcceptorThread { queue: self.queue.clone(), id: self.id, thread: self.thread.clone() }
    }
}

/// Joins the thread once every handle (and so every sender) is gone.
struct Joiner(Mutex<Option<JoinHandle<()>>>);

impl Drop for Joiner {
    fn drop(&mut self) {
        let thread = match self.0.get_mut() {
            Ok(t) => t.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        // The senders went first (fields drop in order and the last handle drops `queue`
        // before `thread`), so the thread sees its queue end and returns.
        // Never join from the thread itself (a job that held the last handle): it ends on
        // its own once this returns.
        if let Some(t) = thread.filter(|t| t.thread().id() != std::thread::current().id()) {
            let _ = t.join();
        }
    }
}

impl<P: Log + Send + 'static, A: Log + Send + 'static> AcceptorThread<P, A> {
    /// Run `acceptor` on a new thread, with a queue of 4,096 calls.
    pub fn spawn(acceptor: Acceptor<P, A>) -> std::io::Result<Self> {
        Self::spawn_with_queue(acceptor, 4096)
    }

    /// [`spawn`](Self::spawn) with a queue of `queue` calls (at least 1): more callers wait
    /// for room (asynchronously), so memory stays bounded.
    pub fn spawn_with_queue(acceptor: Acceptor<P, A>, queue: usize) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(queue.max(1));
        let thread = std::thread::Builder::new().name("synodos-acceptor".into()).spawn(move || run(acceptor, rx))?;
        let id = thread.thread().id();
        Ok(AcceptorThread { queue: tx, id, thread: Arc::new(Joiner(Mutex::new(Some(thread)))) })
    }
}

impl<P: Log, A: Log> AcceptorThread<P, A> {
    /// Run `f` on the acceptor, on its thread, in order with the calls queued before it (to
    /// [`trim`](Acceptor::trim), [`observe`](Acceptor::observe) or inspect it). `f` runs
    /// on the acceptor's thread: it must not wait for this acceptor's answers.
    pub async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Acceptor<P, A>) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        self.not_from_inside()?;
        let (tx, rx) = oneshot::channel();
        let job = Job::Run(Box::new(move |a: &mut Acceptor<P, A>| {
            let _ = tx.send(f(a));
        }));
        self.queue.clone().send(job).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    async fn call(&self, call: AcceptorCall) -> Result<AcceptorAnswer> {
        self.not_from_inside()?;
        let (tx, rx) = oneshot::channel();
        self.queue.clone().send(Job::Call(call, tx)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

impl<P: Log, A: Log> AcceptorThread<P, A> {
    fn not_from_inside(&self) -> Result<()> {
        match std::thread::current().id() == self.id {
            true => Err(Error::InvalidArgument(
                "re-entrant call: this acceptor's log called back into the same acceptor".into(),
            )),
            false => Ok(()),
        }
    }
}

fn stopped() -> Error {
    Error::Closed("the acceptor's thread stopped (a panic in its log?)".into())
}

fn unexpected() -> Error {
    Error::Closed("the acceptor answered a call with the wrong kind of answer".into())
}

/// The thread: take what is queued (up to [`MAX_GROUP`] calls), decide and write it as one
/// group, answer, repeat until every handle is gone.
fn run<P: Log, A: Log>(mut acceptor: Acceptor<P, A>, mut rx: mpsc::Receiver<Job<P, A>>) {
    let mut calls = Vec::new();
    let mut replies = Vec::new();
    while let Some(first) = futures::executor::block_on(rx.next()) {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Call(call, reply) => {
                    calls.push(call);
                    replies.push(reply);
                }
                Job::Run(f) => {
                    // In order: the group before it is written first.
                    answer(&mut acceptor, &mut calls, &mut replies);
                    f(&mut acceptor);
                }
            }
            if calls.len() < MAX_GROUP {
                next = rx.try_recv().ok();
            }
        }
        answer(&mut acceptor, &mut calls, &mut replies);
    }
}

fn answer<P: Log, A: Log>(
    acceptor: &mut Acceptor<P, A>,
    calls: &mut Vec<AcceptorCall>,
    replies: &mut Vec<oneshot::Sender<Result<AcceptorAnswer>>>,
) {
    if calls.is_empty() {
        return;
    }
    let answers = acceptor.handle_group(calls);
    calls.clear();
    for (reply, answer) in replies.drain(..).zip(answers) {
        // A caller that went away (a cancelled future) drops its answer; the write stands.
        let _ = reply.send(answer);
    }
}

impl<P: Log, A: Log> AcceptorClient for AcceptorThread<P, A> {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        match self.call(AcceptorCall::Prepare(request.clone())).await? {
            AcceptorAnswer::Promise(p) => Ok(p),
            AcceptorAnswer::Proposal(_) => Err(unexpected()),
        }
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        match self.call(AcceptorCall::Accept(proposal.clone())).await? {
            AcceptorAnswer::Proposal(p) => Ok(p),
            AcceptorAnswer::Promise(_) => Err(unexpected()),
        }
    }
    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        match self.call(AcceptorCall::AcceptBatch(batch.clone())).await? {
            AcceptorAnswer::Proposal(p) => Ok(p),
            AcceptorAnswer::Promise(_) => Err(unexpected()),
        }
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        let request = request.clone();
        self.with(move |a| a.accepted_from(&request)).await
    }
}
