//! [`InProcessAcceptor`]: the in-process acceptor a binding hands out, run where its logs
//! suit: on the caller's thread, or on a thread of its own when they block.

use super::client::AcceptorClient;
use super::local::LocalAcceptor;
use super::thread::AcceptorThread;
use crate::protocol::error::Result;
use crate::protocol::message::{Batch, Promise, Proposal, Request};
use crate::storage::acceptor::Acceptor;
use crate::storage::log::Log;

/// An in-process acceptor, shared by handle (clones share it): a [`LocalAcceptor`] (run on
/// the caller's thread: no hop, for logs that never block) or an [`AcceptorThread`] (group
/// commit and concurrent fsyncs, for logs that fsync). The bindings choose by the logs, so
/// their users get group commit on `FileLog`s without asking for it.
///
/// ```
/// use synodos::{Acceptor, InProcessAcceptor, Request};
/// let a = InProcessAcceptor::new(Acceptor::in_memory(), true).unwrap();
/// let promise = a.with_blocking(|a| a.prepare(&Request { id: 3, attempt: 1, slot: 0 })).unwrap();
/// assert!(promise.is_granted());
/// ```
#[derive(Debug)]
pub enum InProcessAcceptor<P: Log = crate::storage::MemoryLog, A: Log = crate::storage::MemoryLog> {
    /// Run on the caller's thread, under a lock.
    Local(LocalAcceptor<P, A>),
    /// Run on a thread of its own.
    Thread(AcceptorThread<P, A>),
}

impl<P: Log, A: Log> Clone for InProcessAcceptor<P, A> {
    fn clone(&self) -> Self {
        match self {
            InProcessAcceptor::Local(a) => InProcessAcceptor::Local(a.clone()),
            InProcessAcceptor::Thread(a) => InProcessAcceptor::Thread(a.clone()),
        }
    }
}

impl<P: Log + Send + 'static, A: Log + Send + 'static> InProcessAcceptor<P, A> {
    /// Share `acceptor`, on a thread of its own when `threaded` (its logs block).
    pub fn new(acceptor: Acceptor<P, A>, threaded: bool) -> std::io::Result<Self> {
        Ok(match threaded {
            true => InProcessAcceptor::Thread(AcceptorThread::spawn(acceptor)?),
            false => InProcessAcceptor::Local(LocalAcceptor::new(acceptor)),
        })
    }

    /// Run `f` on the acceptor and wait for it, blocking this thread (for the bindings'
    /// direct calls: `prepare`, `trim`, inspection). A call from the acceptor's own thread
    /// or lock (its log calling back into it) is an error, not a deadlock.
    pub fn with_blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Acceptor<P, A>) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        match self {
            InProcessAcceptor::Local(a) => a.with(f),
            InProcessAcceptor::Thread(a) => futures::executor::block_on(a.with(f)),
        }
    }
}

impl<P: Log, A: Log> AcceptorClient for InProcessAcceptor<P, A> {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        match self {
            InProcessAcceptor::Local(a) => a.prepare(request).await,
            InProcessAcceptor::Thread(a) => a.prepare(request).await,
        }
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        match self {
            InProcessAcceptor::Local(a) => a.accept(proposal).await,
            InProcessAcceptor::Thread(a) => a.accept(proposal).await,
        }
    }
    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        match self {
            InProcessAcceptor::Local(a) => a.accept_batch(batch).await,
            InProcessAcceptor::Thread(a) => a.accept_batch(batch).await,
        }
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        match self {
            InProcessAcceptor::Local(a) => a.observe(request).await,
            InProcessAcceptor::Thread(a) => a.observe(request).await,
        }
    }
}
