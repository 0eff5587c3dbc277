//! [`Peer`]: one member's acceptor, as the node's proposer reaches it: an
//! [`HttpAcceptor`] that also counts the batches sent through it (for `/metrics`).

use std::sync::Arc;

use synodos::{AcceptorClient, Batch, Promise, Proposal, Request, Result};

use super::metrics::Metrics;
use crate::HttpAcceptor;

/// A member's acceptor. The first peer of a node counts the batched accepts (each batch
/// goes to every peer, so counting at one counts each batch once).
#[derive(Clone)]
pub(crate) struct Peer {
    pub acceptor: HttpAcceptor,
    counts: Option<Arc<Metrics>>,
}

impl Peer {
    pub(crate) fn new(acceptor: HttpAcceptor, counts: Option<Arc<Metrics>>) -> Self {
        Peer { acceptor, counts }
    }
}

impl AcceptorClient for Peer {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        self.acceptor.prepare(request).await
    }

    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        if let Some(m) = &self.counts {
            m.batch_entries.observe(1.0);
        }
        self.acceptor.accept(proposal).await
    }

    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        self.acceptor.observe(request).await
    }

    async fn accept_batch(&self, batch: &Batch) -> Result<Proposal> {
        if let Some(m) = &self.counts {
            m.batch_entries.observe(batch.entries.len() as f64);
        }
        // Whatever the acceptor client does with a batch (one request, or one per entry).
        self.acceptor.accept_batch(batch).await
    }
}
