//! A served acceptor that the serving process also calls in process (`ServedAcceptor::shared`,
//! what the Python and C bindings' `serve` use): both paths see one state, and FileLogs keep
//! it across a restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use synodos::{
    Acceptor, AcceptorClient, CounterIdGenerator, FileLog, InProcessAcceptor, Proposal, Proposer, ReplicatedLog,
    Request, StdSleeper,
};
use synodos_net::{serve, ClientOptions, HttpAcceptor, ServeOptions, ServedAcceptor};

fn file_acceptor(dir: &std::path::Path) -> InProcessAcceptor<FileLog, FileLog> {
    let a = Acceptor::new(FileLog::open(dir.join("p")).unwrap(), FileLog::open(dir.join("a")).unwrap()).unwrap();
    InProcessAcceptor::new(a, true).unwrap()
}

#[test]
fn one_state_in_process_and_over_http_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let shared = file_acceptor(dir.path());
    let server = serve(ServedAcceptor::shared(shared.clone()), "127.0.0.1:0", ServeOptions::new(1, "sh")).unwrap();
    let http = HttpAcceptor::new(&server.url(), ClientOptions::new().cluster("sh")).unwrap();

    // A promise made over HTTP binds the in-process path, and the other way round.
    let p = futures::executor::block_on(http.prepare(&Request { id: 10, attempt: 1, slot: 0 })).unwrap();
    assert!(p.is_granted());
    let refused = shared.with_blocking(|a| a.accept(&Proposal::new(9, 0, b"old".to_vec()))).unwrap();
    assert_eq!(refused.promised, 10, "the in-process path sees the promise made over HTTP");
    assert!(shared.with_blocking(|a| a.accept(&Proposal::new(20, 3, b"local".to_vec()))).unwrap().is_accepted());
    let seen = futures::executor::block_on(http.observe(&Request { id: 0, attempt: 0, slot: 0 })).unwrap();
    assert_eq!(seen, [Proposal::new(20, 3, b"local".to_vec())], "HTTP observe sees the in-process accept");
    let info = futures::executor::block_on(http.info()).unwrap();
    assert_eq!(info.promised, 20);

    // A log through the server alone (a majority of one): its accepts must reach the files.
    let http2 = HttpAcceptor::new(&server.url(), ClientOptions::new().cluster("sh")).unwrap();
    let log = ReplicatedLog::new(Proposer::new(vec![http2], CounterIdGenerator::new(1), StdSleeper).unwrap());
    let entry = log.append_blocking(b"over the network".to_vec()).unwrap();
    server.shutdown();
    drop(shared);
    drop(log);

    // Restarted from the same files: everything written through either path is there.
    let again = file_acceptor(dir.path());
    let accepted = again.with_blocking(|a| a.accepted_from(&Request { id: 0, attempt: 0, slot: 0 })).unwrap();
    assert!(accepted.iter().any(|p| p.slot == 3 && p.value == b"local"), "{accepted:?}");
    assert!(accepted.iter().any(|p| p.slot == entry.slot && p.value == b"over the network"), "{accepted:?}");
}
