//! [`LocalAcceptor`]: an in-process acceptor shared by handle, as an [`AcceptorClient`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::client::AcceptorClient;
use crate::protocol::error::{Error, Result};
use crate::protocol::message::{Batch, Promise, Proposal, Request};
use crate::storage::acceptor::Acceptor;
use crate::storage::log::Log;

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
pub struct LocalAcceptor<P: Log = crate::storage::MemoryLog, A: Log = crate::storage::MemoryLog>(
    Arc<SharedState<P, A>>,
);

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
    /// A fresh acceptor over two new [`MemoryLog`](crate::storage::MemoryLog)s.
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
    #[inline]
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
    #[inline]
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        self.with(|a| a.prepare(request))
    }
    #[inline]
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        self.with(|a| a.accept(proposal))
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        self.with(|a| a.accepted_from(request))
    }
    #[inline]
    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        self.with(|a| a.accept_batch(batch))
    }
}
