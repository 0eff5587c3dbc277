//! Every error status of the API, provoked: 400 bad JSON, 401 missing or wrong token, 403
//! wrong cluster, 413 oversized body, 415 content type, 500 storage (then closed), 503
//! draining and too many streams; a duplicate acceptor id, a non-loopback bind without TLS, a
//! slowloris client; and CORS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{eventually, get, post, raw, run_cli};
use synodos::{AcceptorClient, Error, Log, MemoryLog, Proposal, Request};
use synodos_net::{serve, ClientOptions, HttpAcceptor, Limits, NetError, ServeOptions, ServedAcceptor, Server, Tokens};

const TOKEN: &str = "errors-test-token-0123456789";
const AUTH: &str = "Authorization: Bearer errors-test-token-0123456789\r\n";

fn server(options: ServeOptions) -> Server {
    serve(ServedAcceptor::in_memory(), "127.0.0.1:0", options).unwrap()
}

fn authed(id: u64) -> ServeOptions {
    ServeOptions::new(id, "errs").tokens(Tokens::new([TOKEN, "second-token-for-rotation"]))
}

#[test]
fn protocol_answers_and_client_errors() {
    let s = server(authed(1));
    let a = s.addr();
    // A grant, then a protocol rejection: a 200 with `promised`.
    let ok = raw(a, &post("/v1/prepare", AUTH, r#"{"id":5,"attempt":1}"#));
    assert_eq!((ok.status, ok.json()["id"].as_u64()), (200, Some(5)), "{ok:?}");
    let rejected = raw(a, &post("/v1/prepare", AUTH, r#"{"id":4,"attempt":1}"#));
    assert_eq!((rejected.status, rejected.json()["promised"].as_u64()), (200, Some(5)));
    let rotated = raw(
        a,
        &post("/v1/accept", "Authorization: Bearer second-token-for-rotation\r\n", r#"{"id":5,"value":"eA=="}"#),
    );
    assert_eq!(rotated.status, 200, "the second token of the file works too: {rotated:?}");
    // 400: bad JSON, a bad field, a rule broken (ballot 0).
    for body in ["{bad", r#"{"id":"x"}"#, r#"{"id":1,"value":"not base64!"}"#] {
        let r = raw(a, &post("/v1/accept", AUTH, body));
        assert_eq!((r.status, r.code().as_str()), (400, "INVALID_MESSAGE"), "{body}: {r:?}");
    }
    let zero = raw(a, &post("/v1/prepare", AUTH, r#"{"attempt":1}"#));
    assert_eq!((zero.status, zero.code().as_str()), (400, "INVALID_MESSAGE"));
    assert!(zero.json()["message"].as_str().unwrap().contains("ballot 0"));
    // 401: no token, a wrong one, another scheme.
    for auth in ["", "Authorization: Bearer wrong-token-0123456789\r\n", "Authorization: Basic dXNlcjpwYXNz\r\n"] {
        let r = raw(a, &post("/v1/prepare", auth, r#"{"id":9}"#));
        assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"), "{auth:?}");
        assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
    }
    // Readiness needs no token.
    assert_eq!(raw(a, &get("/healthz", "")).status, 200);
    // 403: another cluster, or another acceptor than the client checked.
    let r = raw(a, &post("/v1/prepare", &format!("{AUTH}Synodos-Cluster: other\r\n"), r#"{"id":9}"#));
    assert_eq!((r.status, r.code().as_str()), (403, "WRONG_CLUSTER"));
    let r = raw(a, &post("/v1/prepare", &format!("{AUTH}Synodos-Acceptor: 7\r\n"), r#"{"id":9}"#));
    assert_eq!((r.status, r.code().as_str()), (403, "WRONG_ACCEPTOR"));
    // 415: not JSON.
    let form = format!("POST /v1/prepare HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{AUTH}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{{}}");
    let r = raw(a, form.as_bytes());
    assert_eq!((r.status, r.code().as_str()), (415, "UNSUPPORTED_MEDIA_TYPE"));
    // 404 and 405.
    assert_eq!(raw(a, &get("/v2/nothing", AUTH)).status, 404);
    let r = raw(a, &get("/v1/prepare", AUTH));
    assert_eq!((r.status, r.header("allow").as_deref()), (405, Some("POST")));
    // 409: a trimmed slot keeps its meaning across the wire (not exercised: no trim over
    // HTTP); an observe query that makes no sense is a 400.
    assert_eq!(raw(a, &get("/v1/observe?slot=x", AUTH)).status, 400);
    s.shutdown();
}

#[test]
fn oversized_bodies_get_413_naming_the_limit() {
    let s = server(ServeOptions::new(1, "errs").limits(Limits { max_body: 1000, ..Limits::default() }));
    let a = s.addr();
    // Declared too large: refused before reading.
    let big = "x".repeat(1001);
    let r = raw(a, &post("/v1/accept", "", &big));
    assert_eq!((r.status, r.code().as_str()), (413, "TOO_LARGE"), "{r:?}");
    assert!(r.json()["message"].as_str().unwrap().contains("limit of 1000 bytes"), "{r:?}");
    // Chunked, with no length: refused once it passes the limit.
    let mut c = TcpStream::connect(a).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head =
        "POST /v1/accept HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    c.write_all(head.as_bytes()).unwrap();
    for _ in 0..4 {
        if c.write_all(format!("200\r\n{}\r\n", "y".repeat(512)).as_bytes()).is_err() {
            break;
        }
    }
    let r = common::read_answer(&mut c);
    assert_eq!((r.status, r.code().as_str()), (413, "TOO_LARGE"), "{r:?}");
    // Just under the limit is fine (and is parsed: here, not a message).
    let r = raw(a, &post("/v1/accept", "", &"x".repeat(1000)));
    assert_eq!(r.status, 400);
    s.shutdown();
}

/// A log that fails every write once `broken` is set.
#[derive(Clone)]
struct Breakable {
    log: MemoryLog,
    broken: Arc<AtomicBool>,
}

impl Log for Breakable {
    fn record(&mut self, id: u64, data: &[u8]) -> synodos::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(Error::storage("the disk is on fire"));
        }
        self.log.record(id, data)
    }
    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> synodos::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(Error::storage("the disk is on fire"));
        }
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
fn a_storage_failure_is_a_500_and_closes_the_acceptor() {
    let broken = Arc::new(AtomicBool::new(false));
    let log = || Breakable { log: MemoryLog::new(), broken: broken.clone() };
    let s = serve(ServedAcceptor::new(log(), log()).unwrap(), "127.0.0.1:0", ServeOptions::new(1, "errs")).unwrap();
    let a = s.addr();
    assert_eq!(raw(a, &post("/v1/accept", "", r#"{"id":3,"value":"eA=="}"#)).status, 200);
    broken.store(true, Ordering::SeqCst);
    let r = raw(a, &post("/v1/accept", "", r#"{"id":3,"slot":1,"value":"eA=="}"#));
    assert_eq!((r.status, r.code().as_str()), (500, "STORAGE"), "{r:?}");
    assert!(r.json()["message"].as_str().unwrap().contains("on fire"));
    // Closed for good: even a request that needs no write, and after the disk "recovers".
    broken.store(false, Ordering::SeqCst);
    let r = raw(a, &post("/v1/prepare", "", r#"{"id":1}"#));
    assert_eq!((r.status, r.code().as_str()), (500, "CLOSED"), "{r:?}");
    assert_eq!(raw(a, &get("/healthz", "")).status, 500);
    assert_eq!(raw(a, &get("/v1/info", "")).json()["closed"], true);
    // The client reports it as the core's errors.
    let client = HttpAcceptor::new(&s.url(), ClientOptions::new()).unwrap();
    let e = futures::executor::block_on(client.accept(&Proposal::new(4, 2, b"x".to_vec()))).unwrap_err();
    assert_eq!(e.code(), "CLOSED", "{e}");
    s.shutdown();
}

#[test]
fn draining_and_too_many_streams_are_503() {
    let s = server(ServeOptions::new(1, "errs").limits(Limits { max_observers: 1, ..Limits::default() }));
    let a = s.addr();
    // One observe stream is the limit: a second gets 503.
    let mut first = TcpStream::connect(a).unwrap();
    first.write_all(&get("/v1/observe?slot=0&follow=true", "")).unwrap();
    eventually(Duration::from_secs(5), "the stream is open", || raw(a, &get("/v1/info", "")).json()["observers"] == 1);
    let r = raw(a, &get("/v1/observe?slot=0", ""));
    assert_eq!((r.status, r.code().as_str()), (503, "TOO_MANY_STREAMS"), "{r:?}");

    // A request whose body is still coming when the shutdown starts is answered 503.
    let requests = |a| raw(a, &get("/v1/info", "")).json()["http1_requests"].as_u64().unwrap();
    let before = requests(a);
    let mut slow = TcpStream::connect(a).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    slow.write_all(
        b"POST /v1/prepare HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{\"id\"",
    )
    .unwrap();
    // The server has the request (its handler waits for the body) once the count moved
    // past this poll's own requests.
    eventually(Duration::from_secs(5), "the request reached its handler", || requests(a) >= before + 2);
    let stopping = std::thread::spawn(move || s.shutdown());
    // The observe stream ends with a line saying why, then the connection closes.
    first.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut streamed = Vec::new();
    let _ = first.read_to_end(&mut streamed);
    let streamed = String::from_utf8_lossy(&streamed);
    assert!(streamed.contains(r#"{"event":"end","reason":"draining"}"#), "{streamed}");
    slow.write_all(b":7}  ").unwrap(); // the 5 bytes the content-length still owes
    let r = common::read_answer(&mut slow);
    assert_eq!((r.status, r.code().as_str()), (503, "DRAINING"), "{r:?}");
    stopping.join().unwrap();
    assert!(TcpStream::connect(a).is_err(), "no new connections after shutdown");
}

#[test]
fn wrong_cluster_and_duplicate_acceptor_ids_are_refused_on_first_contact() {
    let one = server(ServeOptions::new(1, "errs"));
    let two = server(ServeOptions::new(2, "errs"));
    let twin = server(ServeOptions::new(2, "errs")); // a second server claiming id 2
    let stranger = server(ServeOptions::new(3, "elsewhere"));
    let req = Request { id: 1 << 16 | 1, attempt: 1, slot: 0 };
    let call = |c: &HttpAcceptor| futures::executor::block_on(c.prepare(&req));

    let options = ClientOptions::new().cluster("errs");
    let a = HttpAcceptor::new(&one.url(), options.clone()).unwrap();
    let b = HttpAcceptor::new(&two.url(), options.clone()).unwrap();
    let b_again = HttpAcceptor::new(&twin.url(), options.clone()).unwrap();
    // localhost reaches acceptor 1 as well: a second URL for one acceptor.
    let a_again = HttpAcceptor::new(&format!("http://localhost:{}", one.addr().port()), options.clone()).unwrap();
    let c = HttpAcceptor::new(&stranger.url(), options.clone()).unwrap();
    assert!(call(&a).unwrap().is_granted());
    assert!(call(&b).unwrap().is_granted());
    for dup in [&b_again, &a_again] {
        let e = call(dup).unwrap_err();
        assert!(e.to_string().contains("must not count twice"), "{e}");
        // and it stays refused
        assert!(call(dup).is_err());
    }
    let e = call(&c).unwrap_err();
    assert!(e.to_string().contains("cluster \"elsewhere\""), "{e}");
    // Without an expected cluster, the first acceptor reached names it.
    let loose = ClientOptions::new();
    let first = HttpAcceptor::new(&stranger.url(), loose.clone()).unwrap();
    let second = HttpAcceptor::new(&one.url(), loose).unwrap();
    assert!(futures::executor::block_on(first.check()).is_ok());
    let e = futures::executor::block_on(second.check()).unwrap_err();
    assert!(e.to_string().contains("the other acceptors are of \"elsewhere\""), "{e}");
    // Clients of separate options do not see each other (each proposer its own roster).
    let separate = HttpAcceptor::new(&twin.url(), ClientOptions::new()).unwrap();
    assert_eq!(futures::executor::block_on(separate.check()).unwrap(), 2);
}

#[test]
fn a_non_loopback_bind_is_refused_without_tls_or_authentication() {
    let e = serve(ServedAcceptor::in_memory(), "0.0.0.0:0", ServeOptions::new(1, "c")).unwrap_err();
    assert!(matches!(e, NetError::Insecure { .. }), "{e}");
    assert!(e.to_string().contains("without TLS"), "{e}");
    let (code, out, err) = run_cli(&["serve", "--id", "1", "--cluster", "c", "--listen", "0.0.0.0:0", "--memory"]);
    assert_eq!(code, 3, "{out} {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("without TLS") && err.contains("--tls-cert"), "{err}");
    // --insecure is the explicit way past it (not bound here: no traffic off loopback).
    let insecure = ServeOptions { insecure: true, ..ServeOptions::new(1, "c") };
    assert!(synodos_net::check_exposure("0.0.0.0:7001".parse().unwrap(), &insecure).is_ok());
}

#[test]
fn slowloris_is_dropped() {
    let limits = Limits {
        header_timeout: Duration::from_millis(500),
        request_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let s = server(ServeOptions::new(1, "errs").limits(limits));
    let a = s.addr();
    // Headers one byte at a time, never finished.
    let mut c = TcpStream::connect(a).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let start = Instant::now();
    let trickle = b"POST /v1/prepare HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut dropped = false;
    for byte in trickle.iter().cycle().take(400) {
        if c.write_all(&[*byte]).is_err() {
            dropped = true;
            break;
        }
        let mut buf = [0u8; 256];
        match c.read(&mut buf) {
            Ok(0) => {
                dropped = true;
                break;
            }
            Ok(_) => {} // a 408 before the close
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                dropped = true;
                break;
            }
        }
    }
    assert!(dropped, "the trickling client was never dropped");
    assert!(start.elapsed() < Duration::from_secs(5), "dropped after {:?}", start.elapsed());
    // A body that trickles: 408 after the request timeout.
    let mut c = TcpStream::connect(a).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(
        b"POST /v1/prepare HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{",
    )
    .unwrap();
    let r = common::read_answer(&mut c);
    assert_eq!((r.status, r.code().as_str()), (408, "REQUEST_TIMEOUT"), "{r:?}");
    // A connection that says nothing (an HTTP/2 preface and no request, or nothing at all).
    for hello in [&b""[..], b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"] {
        let mut c = TcpStream::connect(a).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(hello).unwrap();
        let start = Instant::now();
        let mut sink = Vec::new();
        let _ = c.read_to_end(&mut sink);
        assert!(start.elapsed() < Duration::from_secs(3), "idle connection held {:?}", start.elapsed());
    }
    // The server still serves.
    assert_eq!(raw(a, &get("/healthz", "")).status, 200);
    s.shutdown();
}

#[test]
fn cors_is_off_unless_origins_are_listed_and_preflight_needs_no_token() {
    let preflight = |origin: &str| {
        format!(
            "OPTIONS /v1/prepare HTTP/1.1\r\nHost: t\r\nConnection: close\r\nOrigin: {origin}\r\n\
             Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n\r\n"
        )
    };
    let off = server(authed(1));
    let r = raw(off.addr(), preflight("https://app.example").as_bytes());
    assert_eq!((r.status, r.code().as_str()), (403, "FORBIDDEN_ORIGIN"));
    let r = raw(off.addr(), &post("/v1/prepare", &format!("{AUTH}Origin: https://app.example\r\n"), r#"{"id":1}"#));
    assert_eq!((r.status, r.header("access-control-allow-origin")), (200, None));

    let on = server(authed(1).allow_origin("https://app.example"));
    let r = raw(on.addr(), preflight("https://app.example").as_bytes());
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some("https://app.example"));
    assert!(r.header("access-control-allow-headers").unwrap().contains("authorization"));
    let r = raw(on.addr(), preflight("https://evil.example").as_bytes());
    assert_eq!(r.status, 403);
    let r = raw(on.addr(), &post("/v1/prepare", &format!("{AUTH}Origin: https://app.example\r\n"), r#"{"id":1}"#));
    assert_eq!((r.status, r.header("access-control-allow-origin").as_deref()), (200, Some("https://app.example")));
    // The token is still needed for the request itself.
    let r = raw(on.addr(), &post("/v1/prepare", "Origin: https://app.example\r\n", r#"{"id":2}"#));
    assert_eq!(r.status, 401);
    assert_eq!(r.header("access-control-allow-origin").as_deref(), Some("https://app.example"));
}

#[test]
fn the_cli_documents_itself_and_refuses_bad_input_in_one_line() {
    let (code, out, _) = run_cli(&["serve", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--id",
        "--cluster",
        "--listen",
        "--data",
        "--token-file",
        "--tls-cert",
        "--tls-client-ca",
        "--allow-origin",
        "--max-body",
        "Exit codes",
    ] {
        assert!(out.contains(flag), "--help lacks {flag}");
    }
    let (code, _, err) = run_cli(&["serve", "--cluster", "c", "--memory"]);
    assert_eq!(code, 2, "{err}");
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, "short\n").unwrap();
    let (code, _, err) =
        run_cli(&["serve", "--id", "1", "--cluster", "c", "--memory", "--token-file", tokens.to_str().unwrap()]);
    assert_eq!((code, err.lines().count()), (3, 1), "{err}");
    assert!(err.contains("at least 16"), "{err}");
}

#[test]
fn limits_and_timeouts_of_any_size_are_taken() {
    let huge = Limits {
        header_timeout: Duration::MAX,
        request_timeout: Duration::MAX,
        idle_timeout: Duration::MAX,
        write_timeout: Duration::MAX,
        heartbeat: Duration::MAX,
        drain_timeout: Duration::MAX,
        max_body: usize::MAX,
        max_header_bytes: usize::MAX,
        queue: 0,
        observe_queue: 0,
        ..Limits::default()
    };
    let s = server(ServeOptions::new(1, "errs").limits(huge));
    let c = HttpAcceptor::new(&s.url(), ClientOptions::new().timeout(Duration::MAX).connect_timeout(Duration::MAX))
        .unwrap();
    let promise = futures::executor::block_on(c.prepare(&Request { id: 3, attempt: 1, slot: 0 })).unwrap();
    assert!(promise.is_granted());
    let mut stream = c.observe_stream(0, true);
    futures::executor::block_on(c.accept(&Proposal::new(3, 0, b"x".to_vec()))).unwrap();
    let got = futures::executor::block_on(futures::StreamExt::next(&mut stream)).unwrap().unwrap();
    assert_eq!(got.value, b"x");
    drop(stream);
    s.shutdown();
}
