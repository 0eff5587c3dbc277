//! Storage whose calls complete later: the [`AsyncLog`] trait, for logs over asynchronous
//! storage (IndexedDB in a browser, reached through a binding), and [`Ready`], any [`Log`]
//! as one.

use super::log::{check_batch_order, Log};
use crate::protocol::error::Result;

/// An append-only log whose operations are asynchronous. Same contract as [`Log`]
/// (checked by [`run_async`](crate::storage::conformance::run_async)), except that `range` returns the records.
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
