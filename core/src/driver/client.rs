//! [`AcceptorClient`]: the transport seam, how a proposer reaches one acceptor.

use std::sync::Arc;

use crate::protocol::error::{Error, Result};
use crate::protocol::message::{Promise, Proposal, Request};
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
}
