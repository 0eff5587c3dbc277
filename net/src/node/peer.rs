//! [`Peer`]: one member's acceptor, as the node's proposer reaches it: an [`HttpAcceptor`],
//! except for this node's own acceptor, which is reached in process (through the same queue
//! as its HTTP routes, with the same answers) once first contact showed which URL is its own.
//! The first peer also counts the batches sent (for `/metrics`).

use std::sync::{Arc, OnceLock, Weak};

use synodos::{AcceptorClient, Batch, Error, Promise, Proposal, Request, Result};

use super::metrics::Metrics;
use crate::acceptor::Command;
use crate::server::{call, State};
use crate::HttpAcceptor;

/// The server's state, once it runs: how a node reaches its own acceptor in process.
pub(crate) type Local = Arc<OnceLock<Weak<State>>>;

/// A member's acceptor.
#[derive(Clone)]
pub(crate) struct Peer {
    pub acceptor: HttpAcceptor,
    /// This node's id and its server's state: when the acceptor's id is this node's, calls
    /// go in process.
    own: u64,
    local: Local,
    counts: Option<Arc<Metrics>>,
}

impl Peer {
    pub(crate) fn new(acceptor: HttpAcceptor, own: u64, local: Local, counts: Option<Arc<Metrics>>) -> Self {
        Peer { acceptor, own, local, counts }
    }

    /// The server's state, if this peer is this node's own acceptor and the server runs.
    fn local(&self) -> Option<Arc<State>> {
        if self.acceptor.acceptor_id() != Some(self.own) {
            return None;
        }
        self.local.get().and_then(Weak::upgrade)
    }

    fn failed(&self, e: crate::ApiError) -> Error {
        e.into_core(self.acceptor.url())
    }
}

impl AcceptorClient for Peer {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        match self.local() {
            Some(state) => call(&state, |tx| Command::Prepare(request.clone(), tx)).await.map_err(|e| self.failed(e)),
            None => self.acceptor.prepare(request).await,
        }
    }

    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        if let Some(m) = &self.counts {
            m.batch_entries.observe(1.0);
        }
        self.accept_one(proposal).await
    }

    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        match self.local() {
            Some(state) => {
                let from = request.slot;
                let sub = call(&state, |reply| Command::Observe { from, follow: false, reply })
                    .await
                    .map_err(|e| self.failed(e))?;
                Ok(sub.backlog)
            }
            None => self.acceptor.observe(request).await,
        }
    }

    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        if let Some(m) = &self.counts {
            m.batch_entries.observe(batch.entries.len() as f64);
        }
        match self.local() {
            // In process: the whole batch in one command (one write, one fsync).
            Some(state) => {
                let b = batch.clone();
                call(&state, |tx| Command::AcceptBatch(b, tx)).await.map_err(|e| self.failed(e))
            }
            // Whatever the HTTP client does with a batch (one request, or one per entry).
            None => self.acceptor.accept_batch(batch).await,
        }
    }
}

impl Peer {
    async fn accept_one(&self, proposal: &Proposal) -> Result<Proposal> {
        match self.local() {
            Some(state) => {
                let p = proposal.clone();
                call(&state, |tx| Command::Accept(p, tx)).await.map_err(|e| self.failed(e))
            }
            None => self.acceptor.accept(proposal).await,
        }
    }
}
