//! Observe over HTTP: the range and then the live tail, heartbeats, trim markers, a stalled
//! reader cut off while accepts keep flowing, and a client stream that reconnects.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{eventually, get, raw};
use futures::StreamExt;
use synodos::{Acceptor, AcceptorClient, Error, MemoryLog, Proposal, Request};
use synodos_net::{serve, ClientOptions, HttpAcceptor, Limits, ServeOptions, ServedAcceptor};

fn accept(c: &HttpAcceptor, ballot: u64, slot: u64, value: &[u8]) {
    let answer = futures::executor::block_on(c.accept(&Proposal::new(ballot, slot, value.to_vec()))).unwrap();
    assert!(answer.is_accepted(), "slot {slot}");
}

#[test]
fn the_range_then_the_live_tail_with_heartbeats() {
    let limits = Limits { heartbeat: Duration::from_millis(100), ..Limits::default() };
    let s = serve(ServedAcceptor::in_memory(), "127.0.0.1:0", ServeOptions::new(1, "obs").limits(limits)).unwrap();
    let c = HttpAcceptor::new(&s.url(), ClientOptions::new()).unwrap();
    for slot in 0..5 {
        accept(&c, 7, slot, format!("v{slot}").as_bytes());
    }
    let range = futures::executor::block_on(c.observe(&Request { id: 0, attempt: 0, slot: 2 })).unwrap();
    assert_eq!(range.iter().map(|p| p.slot).collect::<Vec<_>>(), [2, 3, 4]);
    assert_eq!(range[0], Proposal::new(7, 2, b"v2".to_vec()));

    let mut stream = c.observe_stream(2, true);
    let first: Vec<Proposal> = futures::executor::block_on((&mut stream).take(3).map(|p| p.unwrap()).collect());
    assert_eq!(first.iter().map(|p| p.slot).collect::<Vec<_>>(), [2, 3, 4]);
    accept(&c, 8, 1, b"below the stream: not sent");
    accept(&c, 8, 5, b"v5");
    accept(&c, 9, 3, b"v3 again, higher ballot");
    let live: Vec<Proposal> = futures::executor::block_on((&mut stream).take(2).map(|p| p.unwrap()).collect());
    assert_eq!(live, [Proposal::new(8, 5, b"v5".to_vec()), Proposal::new(9, 3, b"v3 again, higher ballot".to_vec())]);
    drop(stream);
    eventually(Duration::from_secs(5), "the dropped stream is let go", || {
        futures::executor::block_on(c.info()).unwrap().observers == 0
    });

    // On the wire: NDJSON, heartbeat lines while nothing happens.
    let mut sock = TcpStream::connect(s.addr()).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.write_all(&get("/v1/observe?slot=5&follow=true", "")).unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("{\"event\":\"heartbeat\"}") {
        let n = sock.read(&mut buf).unwrap();
        assert!(n > 0, "stream closed early");
        seen.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("application/x-ndjson"), "{text}");
    assert!(text.contains(r#"{"id":8,"slot":5,"value":"djU="}"#), "{text}");
    s.shutdown();
}

#[test]
fn a_trimmed_acceptor_serves_its_trim_point() {
    // An acceptor trimmed in process, then served from the same logs.
    let (p, a) = (MemoryLog::new(), MemoryLog::new());
    let mut local = Acceptor::new(p.clone(), a.clone()).unwrap();
    for slot in 0..10 {
        local.accept(&Proposal::new(3, slot, vec![slot as u8])).unwrap();
    }
    local.trim(5).unwrap();
    drop(local);
    let s = serve(ServedAcceptor::new(p, a).unwrap(), "127.0.0.1:0", ServeOptions::new(1, "obs")).unwrap();
    let c = HttpAcceptor::new(&s.url(), ClientOptions::new()).unwrap();
    let range = futures::executor::block_on(c.observe(&Request { id: 0, attempt: 0, slot: 0 })).unwrap();
    assert_eq!(range[0], Proposal::new(0, 5, vec![]), "a trim marker first");
    assert_eq!(range.len(), 6);
    let promise = futures::executor::block_on(c.prepare(&Request { id: 9, attempt: 1, slot: 3 })).unwrap();
    assert_eq!(promise.trimmed, 5);
    let e = futures::executor::block_on(c.accept(&Proposal::new(9, 3, b"x".to_vec()))).unwrap_err();
    assert!(matches!(e, Error::Trimmed { slot: 3, first: 5 }), "{e}");
    let r = raw(s.addr(), &common::post("/v1/accept", "", r#"{"id":9,"slot":3,"value":"eA=="}"#));
    assert_eq!((r.status, r.code().as_str(), r.json()["first"].as_u64()), (409, "TRIMMED", Some(5)));
    s.shutdown();
}

#[test]
fn a_stalled_reader_is_cut_off_while_accepts_keep_flowing() {
    let limits = Limits { observe_queue: 16, write_timeout: Duration::from_secs(1), ..Limits::default() };
    let s = serve(ServedAcceptor::in_memory(), "127.0.0.1:0", ServeOptions::new(1, "obs").limits(limits)).unwrap();
    let c = HttpAcceptor::new(&s.url(), ClientOptions::new()).unwrap();
    // A reader that reads the answer's head and then nothing more.
    let mut stalled = TcpStream::connect(s.addr()).unwrap();
    stalled.write_all(&get("/v1/observe?slot=0&follow=true", "")).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stalled.read(&mut byte).unwrap(), 1);
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 200"));
    eventually(Duration::from_secs(5), "the stream is live", || {
        futures::executor::block_on(c.info()).unwrap().observers == 1
    });

    // Far more than the socket buffers hold: 64 KiB values, 400 of them.
    let value = vec![0x5a; 64 << 10];
    let mut slowest = Duration::ZERO;
    for slot in 0..400 {
        let start = Instant::now();
        accept(&c, 1, slot, &value);
        slowest = slowest.max(start.elapsed());
    }
    assert!(slowest < Duration::from_millis(900), "an accept waited {slowest:?} for the stalled reader");
    eventually(Duration::from_secs(5), "the stalled reader is cut off", || {
        futures::executor::block_on(c.info()).unwrap().observers == 0
    });
    // Its connection is closed by the server (the write made no progress for 1 s).
    stalled.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let start = Instant::now();
    let mut rest = Vec::new();
    let end = stalled.read_to_end(&mut rest);
    assert!(
        end.is_ok() || end.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
        "{end:?} after {:?}",
        start.elapsed()
    );
    // What it did get is the stream's beginning, in order.
    let text = String::from_utf8_lossy(&rest);
    let first = text.find("{\"id\":1,\"value\"").unwrap_or(usize::MAX);
    assert!(first < 64, "the first line is slot 0: {:?}", &text[..text.len().min(80)]);
    assert!(TcpStream::connect(s.addr()).is_ok());
    s.shutdown();
}

#[test]
fn a_client_stream_that_falls_behind_reconnects_and_goes_on() {
    let limits = Limits { observe_queue: 8, write_timeout: Duration::from_secs(1), ..Limits::default() };
    let s = serve(ServedAcceptor::in_memory(), "127.0.0.1:0", ServeOptions::new(1, "obs").limits(limits)).unwrap();
    let c = HttpAcceptor::new(&s.url(), ClientOptions::new()).unwrap();
    let mut stream = c.observe_stream(0, true);
    accept(&c, 1, 0, b"first");
    let first = futures::executor::block_on(stream.next()).unwrap().unwrap();
    assert_eq!(first.slot, 0);
    // The reader pauses while 300 big accepts go by: the server cuts it off.
    let value = vec![7u8; 64 << 10];
    for slot in 1..300 {
        accept(&c, 1, slot, &value);
    }
    eventually(Duration::from_secs(10), "the paused reader was cut off", || {
        futures::executor::block_on(c.info()).unwrap().requests >= 300
            && futures::executor::block_on(c.info()).unwrap().observers == 0
    });
    // It resumes: it reconnects from the last slot it got and catches up to the end.
    let mut last = 0;
    while last < 299 {
        match futures::executor::block_on(stream.next()) {
            Some(Ok(p)) => {
                assert!(p.slot + 1 >= last, "slot {} after {last}: a reconnect restarts at the last slot", p.slot);
                last = last.max(p.slot);
            }
            Some(Err(e)) => eprintln!("reconnecting after: {e}"),
            None => panic!("a following stream ended"),
        }
    }
    accept(&c, 1, 300, b"live again");
    loop {
        let p = futures::executor::block_on(stream.next()).unwrap().unwrap();
        if p.slot == 300 {
            assert_eq!(p.value, b"live again");
            break;
        }
    }
    s.shutdown();
}
