//! Persisting what the acceptor's rules return: a [`Pending`] reply is opened only by
//! writing its record to the right log first, one at a time or many with one durability
//! barrier ([`persist_all`], group commit); and an [`AcceptorCore`] is rebuilt from its logs.

use super::async_log::AsyncLog;
use super::log::Log;
use crate::protocol::acceptor::{AcceptorCore, Pending, Write};
use crate::protocol::error::Result;
use crate::protocol::mutation::Mutation;

impl<R> Pending<R> {
    /// Write the record to the right log, then hand out the reply.
    #[inline]
    pub fn persist<P: Log + ?Sized, A: Log + ?Sized>(self, promise_log: &mut P, accept_log: &mut A) -> Result<R> {
        self.persist_keeping_buffer(promise_log, accept_log).map(|(reply, _)| reply)
    }

    /// [`persist`](Self::persist), also handing back the accept record's buffer (once it
    /// is written) so that the acceptor can reuse it.
    #[inline]
    pub(crate) fn persist_keeping_buffer<P: Log + ?Sized, A: Log + ?Sized>(
        self,
        promise_log: &mut P,
        accept_log: &mut A,
    ) -> Result<(R, Option<Vec<u8>>)> {
        match self.write {
            None => Ok((self.reply, None)),
            Some(Write::Promise { ballot }) => {
                promise_log.record(ballot, &[])?;
                Ok((self.reply, None))
            }
            Some(Write::Accept { seq, record }) => {
                accept_log.record(seq, &record)?;
                Ok((self.reply, Some(record)))
            }
        }
    }
}

impl<R> Pending<R> {
    /// [`persist`](Self::persist) for logs whose writes complete later (an IndexedDB log in
    /// a browser, say): the reply comes out only once the write has completed.
    pub async fn persist_async<P: AsyncLog, A: AsyncLog>(self, promise_log: &mut P, accept_log: &mut A) -> Result<R> {
        match &self.write {
            None => {}
            Some(Write::Promise { ballot }) => promise_log.record(*ballot, &[]).await?,
            Some(Write::Accept { seq, record }) => accept_log.record(*seq, record).await?,
        }
        Ok(self.reply)
    }
}

/// Persist many pending replies with one durability barrier per log (group commit), then
/// hand out the replies in order.
pub fn persist_all<R, P: Log + ?Sized, A: Log + ?Sized>(
    pending: Vec<Pending<R>>,
    promise_log: &mut P,
    accept_log: &mut A,
) -> Result<Vec<R>> {
    let writes: Vec<&Write> = pending.iter().filter_map(|p| p.write.as_ref()).collect();
    persist_writes(&writes, promise_log, accept_log)?;
    Ok(pending.into_iter().map(|p| p.reply).collect())
}

/// Write `writes` with one durability barrier per log: the highest promise, then every
/// accept record in order, as one batch (one fsync for a file log).
pub fn persist_writes<P: Log + ?Sized, A: Log + ?Sized>(
    writes: &[&Write],
    promise_log: &mut P,
    accept_log: &mut A,
) -> Result<()> {
    let (promise, accepts) = split(writes);
    if let Some(ballot) = promise {
        promise_log.record(ballot, &[])?;
    }
    if !accepts.is_empty() {
        accept_log.record_batch(&accepts)?;
    }
    Ok(())
}

/// [`persist_writes`] for logs whose writes complete later.
pub async fn persist_writes_async<P: AsyncLog, A: AsyncLog>(
    writes: &[&Write],
    promise_log: &mut P,
    accept_log: &mut A,
) -> Result<()> {
    let (promise, accepts) = split(writes);
    if let Some(ballot) = promise {
        promise_log.record(ballot, &[]).await?;
    }
    if !accepts.is_empty() {
        accept_log.record_batch(&accepts).await?;
    }
    Ok(())
}

/// Only the highest promise matters; the accepts all go, in order.
fn split<'a>(writes: &[&'a Write]) -> (Option<crate::protocol::message::Ballot>, Vec<(u64, &'a [u8])>) {
    let promise = writes
        .iter()
        .filter_map(|w| match w {
            Write::Promise { ballot } => Some(*ballot),
            _ => None,
        })
        .max();
    let accepts = writes
        .iter()
        .filter_map(|w| match w {
            Write::Accept { seq, record } => Some((*seq, record.as_slice())),
            _ => None,
        })
        .collect();
    (promise, accepts)
}

impl AcceptorCore {
    /// Rebuild an acceptor from its logs, as after a restart.
    pub fn recover<P: Log + ?Sized, A: Log + ?Sized>(promise_log: &P, accept_log: &A) -> Result<Self> {
        Self::recover_mutated(promise_log, accept_log, None)
    }

    #[doc(hidden)]
    /// Test-only: [`recover`](Self::recover) with a protocol bug injected.
    pub fn recover_mutated<P: Log + ?Sized, A: Log + ?Sized>(
        promise_log: &P,
        accept_log: &A,
        mutation: Option<Mutation>,
    ) -> Result<Self> {
        let mut rebuild = AcceptorCore::rebuild(promise_log.last()?.map(|(ballot, _)| ballot), mutation);
        accept_log.range(0, u64::MAX, &mut |seq, data| rebuild.record(seq, data))?;
        Ok(rebuild.finish(accept_log.last()?.map(|(seq, _)| seq)))
    }
}
