//! The [`Log`] trait (the ancestor's `Record`, `Last`, `Range`): what an acceptor keeps its
//! promises and accepts in.

use crate::protocol::error::{Error, Result};

/// An append-only sequence of `(id, bytes)` records with strictly increasing ids.
///
/// An [`Acceptor`](crate::Acceptor) keeps its promises in one log and its accepted
/// proposals in another, and rebuilds itself from them after a restart. A log may be
/// written in any language a binding supports.
///
/// Contract (checked by [`conformance::run`](crate::storage::conformance::run)):
/// - `record` returns only once the record is durable (as durable as the log claims to be);
///   an `id` not greater than the last one is refused with [`Error::InvalidArgument`] and
///   changes nothing.
/// - `record_batch` appends several records as one unit of durability (one fsync for a file
///   log: group commit). If any id is out of order, nothing is appended.
/// - `range(start, stop, f)` calls `f` for every record with `start <= id <= stop`, in id
///   order, and stops at the first error `f` returns, returning it.
/// - `trim(before)` forgets every record with `id < before`; they never come back, even after
///   a reopen. `last` is unchanged unless every record was trimmed.
pub trait Log {
    /// Append one record; durable on return.
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()>;

    /// Append several records with one durability barrier. The default calls `record` for each.
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        check_batch_order(self.last()?.map(|(id, _)| id), records)?;
        for (id, data) in records {
            self.record(*id, data)?;
        }
        Ok(())
    }

    /// The record with the highest id, if any.
    fn last(&self) -> Result<Option<(u64, Vec<u8>)>>;

    /// Visit records with `start <= id <= stop` in id order.
    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()>;

    /// Forget every record with `id < before`.
    fn trim(&mut self, before: u64) -> Result<()>;
}

impl<L: Log + ?Sized> Log for Box<L> {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        (**self).record(id, data)
    }
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        (**self).record_batch(records)
    }
    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        (**self).last()
    }
    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        (**self).range(start, stop, f)
    }
    fn trim(&mut self, before: u64) -> Result<()> {
        (**self).trim(before)
    }
}

/// Check that `records` have strictly increasing ids, all above `last`. Every `Log`
/// implementation can call this before writing a batch, so a bad batch changes nothing.
pub fn check_batch_order(last: Option<u64>, records: &[(u64, &[u8])]) -> Result<()> {
    let mut prev = last;
    for (id, _) in records {
        if let Some(p) = prev {
            if *id <= p {
                return Err(Error::InvalidArgument(format!("log ids must increase: id {id} after id {p}")));
            }
        }
        prev = Some(*id);
    }
    Ok(())
}
