//! Three `synodos serve` processes on FileLogs, a Proposer and a ReplicatedLog over three
//! HttpAcceptors: they agree; one server is killed with kill -9 and they go on; it restarts
//! from its data directory and serves what it had promised and accepted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::ServeProcess;
use synodos::{AcceptorClient, CounterIdGenerator, Proposer, ProposerConfig, ReplicatedLog, Request, StdSleeper};
use synodos_net::{ClientOptions, HttpAcceptor};

const TOKEN: &str = "cluster-test-token-0123456789";

fn config() -> ProposerConfig {
    ProposerConfig { call_timeout: Duration::from_secs(2), ..ProposerConfig::default() }
}

fn start(id: u64, dir: &std::path::Path, listen: &str, token_file: &std::path::Path) -> ServeProcess {
    let data = dir.join(format!("acceptor-{id}"));
    ServeProcess::start(&[
        "--id",
        &id.to_string(),
        "--cluster",
        "agree",
        "--listen",
        listen,
        "--data",
        data.to_str().unwrap(),
        "--token-file",
        token_file.to_str().unwrap(),
    ])
}

#[test]
fn three_served_acceptors_agree_survive_kill_9_and_restart_with_their_state() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("tokens");
    std::fs::write(&token_file, format!("# current\n{TOKEN}\n")).unwrap();
    let mut servers: Vec<ServeProcess> = (1..=3).map(|id| start(id, dir.path(), "127.0.0.1:0", &token_file)).collect();

    let options = ClientOptions::new().cluster("agree").token(TOKEN).timeout(Duration::from_secs(3));
    let clients: Vec<HttpAcceptor> =
        servers.iter().map(|s| HttpAcceptor::new(&s.url, options.clone()).unwrap()).collect();

    // Single decree: the first value chosen is every later proposer's answer too.
    let alice =
        Proposer::with_config(clients.clone(), Arc::new(CounterIdGenerator::new(1)), StdSleeper, config()).unwrap();
    let bob =
        Proposer::with_config(clients.clone(), Arc::new(CounterIdGenerator::new(2)), StdSleeper, config()).unwrap();
    assert_eq!(alice.propose_blocking(b"alice".to_vec()).unwrap(), b"alice");
    assert_eq!(bob.propose_blocking(b"bob".to_vec()).unwrap(), b"alice");
    let ids: Vec<u64> = clients.iter().map(|c| c.acceptor_id().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3], "first contact found each acceptor's id");

    // A replicated log on top (slot 0 holds the single decree).
    let log = ReplicatedLog::new(
        Proposer::with_config(clients.clone(), Arc::new(CounterIdGenerator::new(3)), StdSleeper, config()).unwrap(),
    );
    let mut appended = Vec::new();
    for i in 0..10 {
        appended.push(log.append_blocking(format!("entry {i}").into_bytes()).unwrap());
    }
    assert_eq!(appended.first().map(|e| e.slot), Some(1));

    // What acceptor 3 holds, before it dies.
    let request = Request { id: 0, attempt: 0, slot: 0 };
    let before = futures::executor::block_on(clients[2].observe(&request)).unwrap();
    let info_before = futures::executor::block_on(clients[2].info()).unwrap();
    assert!(before.len() >= 10, "acceptor 3 accepted {} slots", before.len());
    assert!(info_before.promised > 0);

    // kill -9 acceptor 3: the other two are a majority and go on.
    let addr3 = servers[2].addr;
    servers[2].kill9();
    for i in 10..20 {
        appended.push(log.append_blocking(format!("entry {i}").into_bytes()).unwrap());
    }
    let other = ReplicatedLog::new(
        Proposer::with_config(clients.clone(), Arc::new(CounterIdGenerator::new(4)), StdSleeper, config()).unwrap(),
    );
    let entry = other.append_blocking(b"from another writer".to_vec()).unwrap();
    assert_eq!(entry.slot, appended.last().unwrap().slot + 1, "a second writer appends after what is there");

    // Restart acceptor 3 from its data directory, on its old address.
    servers[2] = start(3, dir.path(), &addr3.to_string(), &token_file);
    let after = futures::executor::block_on(clients[2].observe(&request)).unwrap();
    for p in &before {
        let now = after.iter().find(|q| q.slot == p.slot).unwrap_or_else(|| panic!("slot {} lost", p.slot));
        assert!(now.id >= p.id && (now.id > p.id || now.value == p.value), "slot {} went back", p.slot);
    }
    let info_after = futures::executor::block_on(clients[2].info()).unwrap();
    assert!(info_after.promised >= info_before.promised, "the promise survived the restart");
    assert_eq!(info_after.acceptor, 3);
    // Its promise still binds: a prepare at it is refused (grants are strictly above), naming it.
    let low =
        futures::executor::block_on(clients[2].prepare(&Request { id: info_before.promised, attempt: 1, slot: 0 }))
            .unwrap();
    assert!(!low.is_granted() && low.promised >= info_before.promised);

    // Now kill acceptor 1: 2 and the restarted 3 are the majority, so 3 votes again.
    servers[0].kill9();
    for i in 20..25 {
        appended.push(log.append_blocking(format!("entry {i}").into_bytes()).unwrap());
    }
    // A read repairs at most 16 holes per call (slots whose ballots differ between the two
    // live acceptors, after the other writer's re-proposals), so read on until the end.
    let mut read = Vec::new();
    loop {
        let from = read.last().map_or(0, |e: &synodos::Entry| e.slot + 1);
        let batch = futures::executor::block_on(other.read(from, 100)).unwrap();
        if batch.is_empty() {
            break;
        }
        read.extend(batch);
    }
    assert_eq!(read[0].value, b"alice");
    for e in &appended {
        let got = read.iter().find(|r| r.slot == e.slot).unwrap_or_else(|| panic!("slot {} not read", e.slot));
        assert_eq!(got.value, e.value, "slot {}", e.slot);
    }
    assert_eq!(read.len(), appended.len() + 2, "slot 0, the appends, and the other writer's entry");

    // SIGTERM stops a server gracefully, with exit code 0.
    assert_eq!(servers[1].terminate(), Some(0));
}
