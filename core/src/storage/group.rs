//! Group commit: many requests to one [`Acceptor`], decided in order and written with one
//! durability barrier per log (one record of the highest promise, one `record_batch` of the
//! accepts: one fsync each for a file log), every answer handed out only after those writes.

use super::acceptor::Acceptor;
use super::log::Log;
use super::persist::persist_writes;
use crate::protocol::acceptor::{Pending, Write};
use crate::protocol::error::Result;
use crate::protocol::message::{Batch, Promise, Proposal, Request};

/// One request in a group for [`Acceptor::handle_group`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptorCall {
    /// Phase 1a.
    Prepare(Request),
    /// Phase 2a.
    Accept(Proposal),
    /// Phase 2a for many slots ([`Acceptor::accept_batch`]).
    AcceptBatch(Batch),
}

/// The answer to one [`AcceptorCall`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptorAnswer {
    /// To a prepare.
    Promise(Promise),
    /// To an accept or a batch (`promised` set when refused).
    Proposal(Proposal),
}

impl<P: Log, A: Log> Acceptor<P, A> {
    /// Decide every call in order, as one at a time would, then make all of their records
    /// durable together, then answer: answer `i` is for `calls[i]`. Requests that arrive
    /// together (from many connections or threads) thus share one fsync per log instead of
    /// one each. A call the rules refuse gets its error and changes nothing; a storage
    /// failure fails every call that was waiting for the write and closes the acceptor.
    ///
    /// ```
    /// use synodos::{Acceptor, AcceptorAnswer, AcceptorCall, Proposal, Request};
    /// let mut acceptor = Acceptor::in_memory();
    /// let answers = acceptor.handle_group(&[
    ///     AcceptorCall::Prepare(Request { id: 7, attempt: 1, slot: 0 }),
    ///     AcceptorCall::Accept(Proposal::new(7, 0, b"a".to_vec())),
    ///     AcceptorCall::Accept(Proposal::new(6, 1, b"b".to_vec())), // below the promise
    /// ]);
    /// assert!(matches!(&answers[1], Ok(AcceptorAnswer::Proposal(p)) if p.is_accepted()));
    /// assert!(matches!(&answers[2], Ok(AcceptorAnswer::Proposal(p)) if p.promised == 7));
    /// ```
    pub fn handle_group(&mut self, calls: &[AcceptorCall]) -> Vec<Result<AcceptorAnswer>> {
        if let Err(e) = self.check_open() {
            return calls.iter().map(|_| Err(e.clone())).collect();
        }
        let mut writes: Vec<Write> = Vec::new();
        // Per call: its answer, and whether it waits for the writes (it made one).
        let mut decided: Vec<(Result<AcceptorAnswer>, bool)> = Vec::with_capacity(calls.len());
        for call in calls {
            let before = writes.len();
            let answer = match call {
                AcceptorCall::Prepare(r) => self.core.prepare(r).map(|p| AcceptorAnswer::Promise(take(p, &mut writes))),
                AcceptorCall::Accept(p) => self.core.accept(p).map(|p| AcceptorAnswer::Proposal(take(p, &mut writes))),
                AcceptorCall::AcceptBatch(b) => self.core.accept_batch(b).map(|(w, answer)| {
                    writes.extend(w);
                    AcceptorAnswer::Proposal(answer)
                }),
            };
            decided.push((answer, writes.len() > before));
        }
        let refs: Vec<&Write> = writes.iter().collect();
        if let Err(e) = persist_writes(&refs, &mut self.promise_log, &mut self.accept_log) {
            let e = self.poison(e);
            return decided.into_iter().map(|(a, waits)| if waits { Err(e.clone()) } else { a }).collect();
        }
        for (call, (answer, waits)) in calls.iter().zip(&decided) {
            if !waits || !matches!(answer, Ok(AcceptorAnswer::Proposal(p)) if p.is_accepted()) {
                continue;
            }
            match call {
                AcceptorCall::Accept(p) => self.notify(p),
                AcceptorCall::AcceptBatch(b) => b.proposals().for_each(|p| self.notify(&p)),
                AcceptorCall::Prepare(_) => {}
            }
        }
        decided.into_iter().map(|(a, _)| a).collect()
    }
}

/// The reply of `pending`, its write moved to `writes` (written before any reply leaves).
fn take<R>(pending: Pending<R>, writes: &mut Vec<Write>) -> R {
    let Pending { write, reply } = pending;
    writes.extend(write);
    reply
}

#[cfg(all(test, feature = "file-log"))]
mod tests {
    use super::*;
    use crate::sim::disk::SimDisk;

    #[test]
    fn a_group_is_one_write_per_log_and_survives_a_restart() {
        let disk = SimDisk::new();
        let mut acceptor = Acceptor::new(disk.open_log("p").unwrap(), disk.open_log("a").unwrap()).unwrap();
        let mut calls = vec![AcceptorCall::Prepare(Request { id: 9, attempt: 1, slot: 0 })];
        calls.extend((0..20).map(|s| AcceptorCall::Accept(Proposal::new(9, s, vec![s as u8]))));
        let before = disk.sync_count();
        let answers = acceptor.handle_group(&calls);
        assert!(answers.iter().all(|a| a.is_ok()), "{answers:?}");
        assert_eq!(disk.sync_count() - before, 2, "one barrier for the promise log, one for the accept log");
        drop(acceptor);
        let again = Acceptor::new(disk.open_log("p").unwrap(), disk.open_log("a").unwrap()).unwrap();
        assert_eq!(again.core().promised(), 9);
        assert_eq!(again.core().accepted_from(0).count(), 20);
    }
}
