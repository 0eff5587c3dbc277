//! Three `synodos serve --peers` nodes on FileLogs: appends from several clients to
//! different nodes agree on every node; the leader killed with kill -9, appends go on
//! through the others and nothing acknowledged is lost; restarted, it catches up. All on
//! 127.0.0.1; every process is killed by its pid when the test ends, however it ends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{eventually, get, post, raw, start_node, start_nodes};
use synodos::Entry;
use synodos_net::{ClientOptions, NodeClient};

const TOKEN: &str = "node-test-token-0123456789abcdef";

fn options() -> ClientOptions {
    ClientOptions::new().token(TOKEN).cluster("nodes").timeout(Duration::from_secs(5))
}

fn token_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("tokens");
    std::fs::write(&path, format!("{TOKEN}\n")).unwrap();
    path
}

/// A client of one node only: what it appends goes through that node (forwarded when it
/// does not lead).
fn client_of(url: &str) -> NodeClient {
    NodeClient::new([url], options()).unwrap()
}

fn chosen_up_to(url: &str) -> u64 {
    let infos = client_of(url).info_blocking();
    infos[0].1.as_ref().ok().and_then(|i| i.chosen_up_to).unwrap_or(0)
}

/// The whole chosen log as one node has learned it.
fn read_all(url: &str) -> Vec<Entry> {
    let client = client_of(url);
    let mut out: Vec<Entry> = Vec::new();
    loop {
        let from = out.last().map_or(0, |e| e.slot + 1);
        let batch = client.read_blocking(from, 1000).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

/// Every acknowledged entry is in `log` at its slot, and the log has no gap.
fn check_log(log: &[Entry], acked: &[Entry], node: &str) {
    for (i, e) in log.iter().enumerate() {
        assert_eq!(e.slot, i as u64, "{node}: the log has a gap before slot {}", e.slot);
    }
    for a in acked {
        let got = log.get(a.slot as usize).unwrap_or_else(|| panic!("{node}: acknowledged slot {} missing", a.slot));
        assert_eq!(got.value, a.value, "{node}: slot {} holds another value than the acknowledged one", a.slot);
    }
}

#[test]
fn appends_from_several_clients_to_different_nodes_agree_on_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let (_nodes, urls) = start_nodes(3, dir.path(), &tokens);

    // Six writers, two per node, each through its own node only.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let url = urls[w % 3].clone();
            let acked = acked.clone();
            std::thread::spawn(move || {
                let client = client_of(&url);
                for i in 0..25 {
                    let value = format!("writer {w} value {i}").into_bytes();
                    let entry = client.append_blocking(value.clone()).unwrap();
                    assert_eq!(entry.value, value);
                    acked.lock().unwrap().push(entry);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(acked.len(), 150);
    let mut slots: Vec<u64> = acked.iter().map(|e| e.slot).collect();
    slots.sort_unstable();
    slots.dedup();
    assert_eq!(slots.len(), 150, "two appends were acknowledged at one slot");
    let end = slots.last().unwrap() + 1;

    // Every node learns the whole log, and all three agree.
    for url in &urls {
        eventually(Duration::from_secs(20), "every node learns the log", || chosen_up_to(url) >= end);
    }
    let logs: Vec<Vec<Entry>> = urls.iter().map(|u| read_all(u)).collect();
    for (url, log) in urls.iter().zip(&logs) {
        check_log(log, &acked, url);
        assert_eq!(log, &logs[0], "{url} disagrees with {}", urls[0]);
    }
    // No duplicates: each value was appended once and no append failed in flight.
    let mut seen = HashMap::new();
    for e in &logs[0] {
        assert!(seen.insert(e.value.clone(), e.slot).is_none(), "a value is in the log twice");
    }

    // One leader: the followers forwarded, and every node names the same leader.
    let infos: Vec<_> = client_of(&urls[0]).info_blocking();
    let all = NodeClient::new(urls.clone(), options()).unwrap().info_blocking();
    let leaders: Vec<u64> = all.iter().map(|(_, i)| i.as_ref().unwrap().leader.unwrap()).collect();
    assert!(leaders.iter().all(|l| *l == leaders[0] && *l != 0), "leaders: {leaders:?}");
    assert!(infos[0].1.is_ok());
    let forwarded: u64 = urls
        .iter()
        .map(|u| {
            let m = metrics(u);
            metric(&m, "synodos_appends_total{path=\"forwarded\"}")
        })
        .sum();
    assert!(forwarded >= 50, "followers forwarded {forwarded} appends (two thirds of the writers are at followers)");
    let m = metrics(&urls[leaders[0] as usize - 1]);
    assert_eq!(metric(&m, "synodos_chosen_up_to"), end);
    assert!(metric(&m, "synodos_http_requests_total{route=\"/v1/append\",status=\"200\"}") >= 50);
    assert!(m.contains("synodos_learner_fsync_seconds_bucket{le=\"+Inf\"}"));
    assert!(m.contains("synodos_batch_entries_count"));
    // The leader reaches its own acceptor in process: its HTTP accepts are few, a follower
    // gets every one of the leader's (lone or batched).
    let accepts = |text: &str| {
        ["/v1/accept", "/v1/accept-batch"]
            .iter()
            .map(|route| {
                let name = format!("synodos_http_requests_total{{route=\"{route}\",status=\"200\"}} ");
                text.lines().find_map(|l| l.strip_prefix(name.as_str())).map_or(0, |n| n.parse::<u64>().unwrap())
            })
            .sum::<u64>()
    };
    let follower = accepts(&metrics(&urls[leaders[0] as usize % 3]));
    let leader_accepts = accepts(&m);
    assert!(follower > 0);
    assert!(leader_accepts * 2 < follower, "the leader's own accepts went over HTTP: {leader_accepts} vs {follower}");
}

fn metrics(url: &str) -> String {
    let addr = url.trim_start_matches("http://").parse().unwrap();
    let answer = raw(addr, &get("/metrics", &format!("Authorization: Bearer {TOKEN}\r\n")));
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.header("content-type").unwrap().starts_with("text/plain"));
    answer.body
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.trim().parse::<f64>().ok()))
        .unwrap_or_else(|| panic!("no metric {name} in:\n{text}")) as u64
}

#[test]
fn the_leader_killed_appends_go_on_nothing_acknowledged_is_lost_and_it_catches_up_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let (mut nodes, urls) = start_nodes(3, dir.path(), &tokens);
    let client = NodeClient::new(urls.clone(), options()).unwrap();
    for i in 0..10 {
        client.append_blocking(format!("before {i}").into_bytes()).unwrap();
    }
    let leader = client.info_blocking()[0].1.as_ref().unwrap().leader.unwrap();
    assert!((1..=3).contains(&leader), "leader {leader}");

    // Writers through every node, while the leader is killed.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (stop, acked, errors, urls) = (stop.clone(), acked.clone(), errors.clone(), urls.clone());
            std::thread::spawn(move || {
                // Each writer starts at another node, and moves on when it fails.
                let mut order = urls.clone();
                order.rotate_left(w % 3);
                let client = NodeClient::new(order, options()).unwrap();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let value = format!("writer {w} value {i}").into_bytes();
                    match client.append_blocking(value) {
                        Ok(e) => acked.lock().unwrap().push(e),
                        Err(e) => {
                            eprintln!("append failed: {e}");
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 1;
                }
            })
        })
        .collect();
    let count = || acked.lock().unwrap().len();
    eventually(Duration::from_secs(20), "appends before the kill", || count() >= 40);
    let leader_index = leader as usize - 1;
    nodes[leader_index].kill9();
    let at_kill = count();
    eventually(Duration::from_secs(30), "appends after the leader died", || count() >= at_kill + 100);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(errors.load(Ordering::Relaxed), 0, "appends failed while the leader changed");
    let acked = acked.lock().unwrap().clone();
    let end = acked.iter().map(|e| e.slot).max().unwrap() + 1;

    // A new leader among the two left.
    let live: Vec<String> =
        urls.iter().enumerate().filter(|(i, _)| *i != leader_index).map(|(_, u)| u.clone()).collect();
    let new_leader = client_of(&live[0]).info_blocking()[0].1.as_ref().unwrap().leader.unwrap();
    assert_ne!(new_leader, leader, "the dead node is still taken for the leader");

    // The two left learn everything acknowledged.
    for url in &live {
        eventually(Duration::from_secs(20), "the live nodes learn the log", || chosen_up_to(url) >= end);
    }
    let logs: Vec<Vec<Entry>> = live.iter().map(|u| read_all(u)).collect();
    for (url, log) in live.iter().zip(&logs) {
        check_log(log, &acked, url);
    }
    assert_eq!(logs[0][..end as usize], logs[1][..end as usize]);

    // Restarted from its data directory, the old leader catches up and agrees.
    nodes[leader_index] = start_node(leader as usize, &urls, dir.path(), &tokens);
    eventually(Duration::from_secs(30), "the restarted node catches up", || chosen_up_to(&urls[leader_index]) >= end);
    let restarted = read_all(&urls[leader_index]);
    check_log(&restarted, &acked, "the restarted node");
    assert_eq!(restarted[..end as usize], logs[0][..end as usize]);
    // And it takes appends again.
    let entry = client_of(&urls[leader_index]).append_blocking(b"after the restart".to_vec()).unwrap();
    assert!(entry.slot >= end);
}

#[test]
fn the_node_routes_check_tokens_bodies_and_methods_like_the_acceptor_routes() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let (nodes, _urls) = start_nodes(3, dir.path(), &tokens);
    let addr = nodes[0].addr;
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let ok = raw(addr, &post("/v1/append", &auth, r#"{"value":"aGk="}"#));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.json()["slot"], 0);
    assert_eq!(ok.json()["value"], "aGk=");

    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (post("/v1/append", "", r#"{"value":"aGk="}"#), 401, "UNAUTHORIZED"),
        (
            post("/v1/append", "Authorization: Bearer wrong-token-0123456789\r\n", r#"{"value":"aGk="}"#),
            401,
            "UNAUTHORIZED",
        ),
        (get("/metrics", ""), 401, "UNAUTHORIZED"),
        (get("/v1/log", ""), 401, "UNAUTHORIZED"),
        (post("/v1/append", &auth, r#"{"value":"not base64!"}"#), 400, "INVALID_MESSAGE"),
        (post("/v1/append", &auth, r#"{"value":"aGk=","extra":1}"#), 400, "INVALID_MESSAGE"),
        (post("/v1/append", &auth, "[1,2]"), 400, "INVALID_MESSAGE"),
        (post("/v1/propose", &auth, "{}"), 400, "INVALID_MESSAGE"),
        (post("/v1/append", &format!("{auth}Synodos-Cluster: other\r\n"), r#"{"value":"aGk="}"#), 403, "WRONG_CLUSTER"),
        (post("/v1/append", &format!("{auth}Synodos-Forwarded: lots\r\n"), r#"{"value":"aGk="}"#), 400, "BAD_REQUEST"),
        (get("/v1/append", &auth), 405, "METHOD_NOT_ALLOWED"),
        (post("/v1/log", &auth, "{}"), 405, "METHOD_NOT_ALLOWED"),
        (get("/v1/log?from=-1", &auth), 400, "BAD_REQUEST"),
        (get("/v1/log?from=1&colour=red", &auth), 400, "BAD_REQUEST"),
    ];
    for (request, status, code) in cases {
        let answer = raw(addr, &request);
        assert_eq!((answer.status, answer.code().as_str()), (status, code), "{}", String::from_utf8_lossy(&request));
    }
    // A body over the limit is refused before it is read.
    let big = format!(r#"{{"value":"{}"}}"#, "A".repeat(2 << 20));
    let answer = raw(addr, &post("/v1/append", &auth, &big));
    assert_eq!((answer.status, answer.code().as_str()), (413, "TOO_LARGE"));
    // The wrong content type.
    let text = format!(
        "POST /v1/append HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: text/plain\r\n{auth}Content-Length: 2\r\n\r\nhi"
    );
    assert_eq!(raw(addr, text.as_bytes()).status, 415);

    // The log as NDJSON, and /v1/info with the node's fields.
    let log = raw(addr, &get("/v1/log?from=0", &auth));
    assert_eq!(log.status, 200);
    assert_eq!(log.header("content-type").as_deref(), Some("application/x-ndjson"));
    eventually(Duration::from_secs(10), "node 1 learns slot 0", || {
        raw(addr, &get("/v1/log?from=0", &auth)).body == "{\"slot\":0,\"value\":\"aGk=\"}\n"
    });
    let info = raw(addr, &get("/v1/info", &auth)).json();
    assert_eq!(info["chosen_up_to"], 1);
    assert_eq!(info["leader"], 1);
}

#[test]
fn a_follow_stream_delivers_new_entries_as_they_are_chosen() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let (_nodes, urls) = start_nodes(3, dir.path(), &tokens);
    // Follow at a follower, append at another node.
    let follower = client_of(&urls[2]);
    let mut stream = follower.follow(0);
    let writer = client_of(&urls[0]);
    for i in 0..5 {
        writer.append_blocking(format!("v{i}").into_bytes()).unwrap();
    }
    let got: Vec<Entry> = futures::executor::block_on(async {
        let mut got = Vec::new();
        while got.len() < 5 {
            match tokio_timeout(stream.next()).await {
                Some(Some(Ok(e))) => got.push(e),
                other => panic!("the follow stream ended: {other:?}"),
            }
        }
        got
    });
    let values: Vec<String> = got.iter().map(|e| String::from_utf8(e.value.clone()).unwrap()).collect();
    assert_eq!(values, ["v0", "v1", "v2", "v3", "v4"]);
    assert_eq!(got.iter().map(|e| e.slot).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
}

/// `fut`, or `None` after 20 s.
async fn tokio_timeout<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let timer = futures_timer(Duration::from_secs(20));
    futures::pin_mut!(fut);
    futures::pin_mut!(timer);
    match futures::future::select(fut, timer).await {
        futures::future::Either::Left((out, _)) => Some(out),
        futures::future::Either::Right(_) => None,
    }
}

fn futures_timer(d: Duration) -> impl std::future::Future<Output = ()> {
    let (tx, rx) = futures::channel::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(d);
        let _ = tx.send(());
    });
    async move {
        let _ = rx.await;
    }
}

#[test]
fn holes_left_by_a_proposer_that_died_are_decided_by_the_learners() {
    use synodos::{AcceptorClient, Proposal, Request};
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let (_nodes, urls) = start_nodes(3, dir.path(), &tokens);
    let client = NodeClient::new(urls.clone(), options()).unwrap();
    for i in 0..3 {
        client.append_blocking(format!("v{i}").into_bytes()).unwrap();
    }
    // Another proposer (node id 9, not a member) takes a majority's promise at a high
    // ballot, gets slots 3 and 6 chosen, leaves 4 and 5 empty, and dies.
    let acceptors: Vec<_> = urls.iter().map(|u| synodos_net::HttpAcceptor::new(u, options()).unwrap()).collect();
    let ballot = (1u64 << 30) << 16 | 9;
    futures::executor::block_on(async {
        for a in &acceptors {
            assert!(a.prepare(&Request { id: ballot, attempt: 1, slot: 3 }).await.unwrap().is_granted());
        }
        for a in &acceptors[..2] {
            assert!(a.accept(&Proposal::new(ballot, 3, b"mid".to_vec())).await.unwrap().is_accepted());
            assert!(a.accept(&Proposal::new(ballot, 6, b"late".to_vec())).await.unwrap().is_accepted());
        }
    });
    // A node appends: its phase 1 finds slot 3 chosen and goes on past what the acceptors
    // hold (every majority includes one of the two that hold slot 6): slots 4 and 5 stay
    // empty, below a chosen slot, with nobody to decide them but the learners.
    let entry = client.append_blocking(b"after".to_vec()).unwrap();
    assert_eq!(entry.slot, 7);
    for url in &urls {
        eventually(Duration::from_secs(30), "the learners decide the holes", || chosen_up_to(url) >= 8);
    }
    let values: Vec<Vec<Vec<u8>>> = urls.iter().map(|u| read_all(u).into_iter().map(|e| e.value).collect()).collect();
    let expected: Vec<Vec<u8>> =
        ["v0", "v1", "v2", "mid", "", "", "late", "after"].iter().map(|v| v.as_bytes().to_vec()).collect();
    for (url, v) in urls.iter().zip(&values) {
        assert_eq!(v, &expected, "{url}: holes are filled with nothing");
    }
    let repairs: u64 = urls.iter().map(|u| metric(&metrics(u), "synodos_repairs_total")).sum();
    assert!(repairs >= 2, "{repairs} repairs");
}

#[test]
fn nodes_over_tls_with_client_certificates_and_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let pki = common::Pki::new("nodes");
    pki.write(dir.path());
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let urls: Vec<String> = common::free_ports(3).iter().map(|p| format!("https://127.0.0.1:{p}")).collect();
    let start = |id: usize| {
        let data = dir.path().join(format!("node-{id}"));
        common::ServeProcess::start(&[
            "--id",
            &id.to_string(),
            "--cluster",
            "nodes",
            "--listen",
            urls[id - 1].trim_start_matches("https://"),
            "--data",
            data.to_str().unwrap(),
            "--token-file",
            tokens.to_str().unwrap(),
            "--tls-cert",
            &file("server.pem"),
            "--tls-key",
            &file("server.key"),
            "--tls-client-ca",
            &file("ca.pem"),
            "--peers",
            &urls.join(","),
            "--tls-ca",
            &file("ca.pem"),
            "--peer-cert",
            &file("client.pem"),
            "--peer-key",
            &file("client.key"),
        ])
    };
    let nodes: Vec<_> = (1..=3).map(start).collect();
    assert!(nodes.iter().all(|n| n.url.starts_with("https://")));
    let options = options().ca_pem(pki.ca.clone()).identity(pki.client_cert.clone(), pki.client_key.clone());
    // Through a follower: it forwards over TLS, with its client certificate and token.
    let client = NodeClient::new([urls[2].clone()], options.clone()).unwrap();
    let mut acked = Vec::new();
    for i in 0..5 {
        acked.push(client.append_blocking(format!("tls {i}").into_bytes()).unwrap());
    }
    for url in &urls {
        let one = NodeClient::new([url.clone()], options.clone()).unwrap();
        eventually(Duration::from_secs(20), "every node learns the log over TLS", || {
            one.read_blocking(0, 100).map(|e| e.len()).unwrap_or(0) >= 5
        });
        check_log(&one.read_blocking(0, 100).unwrap(), &acked, url);
    }
    // The CLI with the same files; without a client certificate the handshake is refused.
    let peers = urls.join(",");
    let (code, out, err) = common::run_cli(&[
        "append",
        "from the cli",
        "--peers",
        &peers,
        "--token-file",
        tokens.to_str().unwrap(),
        "--tls-ca",
        &file("ca.pem"),
        "--tls-cert",
        &file("client.pem"),
        "--tls-key",
        &file("client.key"),
    ]);
    assert_eq!((code, out.as_str()), (0, "5\n"), "{err}");
    let (code, _, err) = common::run_cli(&[
        "append",
        "x",
        "--peers",
        &peers,
        "--token-file",
        tokens.to_str().unwrap(),
        "--tls-ca",
        &file("ca.pem"),
        "--timeout",
        "2",
    ]);
    assert_eq!(code, 7, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // https without a CA is refused before anything is sent.
    let (code, _, err) = common::run_cli(&["status", "--peers", &peers]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--tls-ca"), "{err}");
}

#[test]
fn sigterm_ends_follow_streams_with_draining_and_the_node_exits_0() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let tokens = token_file(dir.path());
    let (mut nodes, urls) = start_nodes(3, dir.path(), &tokens);
    client_of(&urls[0]).append_blocking(b"a".to_vec()).unwrap();
    let mut s = std::net::TcpStream::connect(nodes[0].addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&get("/v1/log?from=0&follow=true", &format!("Authorization: Bearer {TOKEN}\r\n"))).unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("\"slot\":0") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let started = std::time::Instant::now();
    assert_eq!(nodes[0].terminate(), Some(0));
    assert!(started.elapsed() < Duration::from_secs(5), "the stream held the shutdown for {:?}", started.elapsed());
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    assert!(seen.contains("{\"event\":\"end\",\"reason\":\"draining\"}"), "{seen}");
}
