//! Requests that reach a served acceptor together are written together: one durability
//! barrier (one `record_batch`, one fsync for a FileLog) for many, each reply after it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use synodos::{AcceptorClient, Log, MemoryLog, Proposal, Request};
use synodos_net::{serve, ClientOptions, HttpAcceptor, ServeOptions, ServedAcceptor};

/// A memory log whose every write takes 5 ms (a slow fsync), counting its barriers.
#[derive(Clone)]
struct SlowLog {
    log: MemoryLog,
    barriers: Arc<AtomicU64>,
}

impl Log for SlowLog {
    fn record(&mut self, id: u64, data: &[u8]) -> synodos::Result<()> {
        self.record_batch(&[(id, data)])
    }
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> synodos::Result<()> {
        std::thread::sleep(Duration::from_millis(5));
        self.barriers.fetch_add(1, Ordering::SeqCst);
        self.log.record_batch(records)
    }
    fn last(&self) -> synodos::Result<Option<(u64, Vec<u8>)>> {
        self.log.last()
    }
    fn range(
        &self,
        start: u64,
        stop: u64,
        f: &mut dyn FnMut(u64, &[u8]) -> synodos::Result<()>,
    ) -> synodos::Result<()> {
        self.log.range(start, stop, f)
    }
    fn trim(&mut self, before: u64) -> synodos::Result<()> {
        self.log.trim(before)
    }
}

#[test]
fn concurrent_accepts_share_one_write() {
    let barriers = Arc::new(AtomicU64::new(0));
    let log = || SlowLog { log: MemoryLog::new(), barriers: barriers.clone() };
    let accepts = log();
    let served = ServedAcceptor::new(log(), accepts.clone()).unwrap();
    let s = serve(served, "127.0.0.1:0", ServeOptions::new(1, "gc")).unwrap();
    let c = HttpAcceptor::new(&s.url(), ClientOptions::new()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        // One prepare, then 64 accepts at once.
        assert!(c.prepare(&Request { id: 9, attempt: 1, slot: 0 }).await.unwrap().is_granted());
        let calls = (0..64u64).map(|slot| {
            let c = c.clone();
            async move { c.accept(&Proposal::new(9, slot, vec![slot as u8; 100])).await }
        });
        for answer in futures::future::join_all(calls).await {
            assert!(answer.unwrap().is_accepted());
        }
    });
    let info = futures::executor::block_on(c.info()).unwrap();
    let written = barriers.load(Ordering::SeqCst);
    assert_eq!(info.requests, 65);
    eprintln!("65 requests: {written} writes, {} batches", info.batches);
    assert!(written <= 20, "65 requests took {written} writes: {info:?}");
    assert!(info.batches <= 20, "{info:?}");
    // Every acknowledged accept is in the log.
    let mut slots = Vec::new();
    accepts
        .range(0, u64::MAX, &mut |_, data| {
            slots.push(u64::from_le_bytes(data[..8].try_into().unwrap()));
            Ok(())
        })
        .unwrap();
    slots.sort_unstable();
    assert_eq!(slots, (0..64).collect::<Vec<_>>());
    s.shutdown();
}

/// A batch is one request and one write at the acceptor (`POST /v1/accept-batch`), taken
/// all or none; a refused one changes nothing, and a malformed one is a 400.
#[test]
fn a_batch_is_one_request_and_one_write() {
    use synodos::{Batch, BatchEntry};
    let barriers = Arc::new(AtomicU64::new(0));
    let log = || SlowLog { log: MemoryLog::new(), barriers: barriers.clone() };
    let s = serve(ServedAcceptor::new(log(), log()).unwrap(), "127.0.0.1:0", ServeOptions::new(1, "gc")).unwrap();
    let c = HttpAcceptor::new(&s.url(), ClientOptions::new()).unwrap();
    use futures::executor::block_on as run;
    assert!(run(c.prepare(&Request { id: 9, attempt: 1, slot: 0 })).unwrap().is_granted());
    let entries = |from: u64| (from..from + 50).map(|slot| BatchEntry { slot, value: vec![slot as u8] }).collect();
    let before = (barriers.load(Ordering::SeqCst), run(c.info()).unwrap().requests);
    let answer = run(c.accept_batch(&Batch { id: 9, entries: entries(0) })).unwrap();
    assert!(answer.is_accepted(), "{answer:?}");
    let after = (barriers.load(Ordering::SeqCst), run(c.info()).unwrap().requests);
    assert_eq!(after.0 - before.0, 1, "50 entries, one write");
    assert_eq!(after.1 - before.1, 1, "50 entries, one request");
    // Below the promise: refused with it, nothing written.
    let refused = run(c.accept_batch(&Batch { id: 8, entries: entries(50) })).unwrap();
    assert_eq!(refused.promised, 9);
    let accepted = run(c.observe(&Request { id: 0, attempt: 0, slot: 0 })).unwrap();
    assert_eq!(accepted.iter().map(|p| p.slot).collect::<Vec<_>>(), (0..50).collect::<Vec<_>>());
    // Entries out of slot order break a rule: 400 INVALID_MESSAGE, reported as such.
    let bad =
        Batch { id: 9, entries: vec![BatchEntry { slot: 60, value: vec![] }, BatchEntry { slot: 59, value: vec![] }] };
    let e = run(c.accept_batch(&bad)).unwrap_err();
    assert_eq!(e.code(), "INVALID_MESSAGE", "{e}");
    s.shutdown();
}
