//! [`AcceptorClient`]: the transport seam, how a proposer reaches one acceptor.

use std::sync::Arc;

use crate::protocol::error::{Error, Result};
use crate::protocol::message::{Batch, Promise, Proposal, Request};
use crate::storage::{AsyncAcceptor, AsyncLog};

/// The transport seam: how a proposer reaches one acceptor. Implement it over any RPC,
/// or use [`LocalAcceptor`](crate::LocalAcceptor) in-process. The bindings implement it over Python, JS and C
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
    /// [`ReplicatedLog::read`](crate::ReplicatedLog::read); a client that cannot observe may keep the default.
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        let _ = request;
        Err(Error::transport("this acceptor client does not implement observe"))
    }
    /// Phase 2 for many slots at one ballot ([`Batch`]): the acceptor takes all entries or
    /// none, and answers as to one accept (`Batch::answer`). The default sends one accept per
    /// entry, all at once, and answers "refused" if any was refused; an acceptor that can
    /// take a batch in one write (every acceptor of this crate does) should override it.
    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        accept_each(self, batch).await
    }
}

/// A [`Batch`] as one accept per entry, all at once, answered as to the batch: refused
/// (with the highest promise seen) if any entry was. The default
/// [`AcceptorClient::accept_batch`], for clients of acceptors that take single accepts only.
pub async fn accept_each<C: AcceptorClient + ?Sized>(client: &C, batch: &Batch) -> Result<Proposal> {
    let answers = futures::future::join_all(batch.proposals().map(|p| async move { client.accept(&p).await })).await;
    let mut refused = 0;
    for answer in answers {
        refused = refused.max(answer?.promised);
    }
    Ok(batch.answer(refused))
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
    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        (**self).accept_batch(batch).await
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
    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        (**self).accept_batch(batch).await
    }
}

/// An [`AsyncAcceptor`] in the same process is an acceptor client too (its calls may be
/// dropped at any point: see its docs).
impl<P: AsyncLog + 'static, A: AsyncLog + 'static> AcceptorClient for AsyncAcceptor<P, A> {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        AsyncAcceptor::prepare(self, request).await
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        AsyncAcceptor::accept(self, proposal).await
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        self.accepted_from(request).await
    }
    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        AsyncAcceptor::accept_batch(self, batch).await
    }
}
