//! The node commands run as a user runs them: `synodos cluster` starts three nodes, then
//! `append`, `propose`, `read`, `status` and `bench` against them, their output and exit
//! codes checked. The cluster process is stopped by its pid (SIGTERM: it stops its nodes),
//! and killed if it does not exit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::run_cli;

const TOKEN: &str = "cli-test-token-0123456789abcdef";

/// `synodos cluster`, stopped by pid when dropped.
struct Cluster {
    child: Option<Child>,
    peers: String,
}

impl Cluster {
    fn start(dir: &std::path::Path, token_file: &std::path::Path) -> Cluster {
        let mut child = Command::new(env!("CARGO_BIN_EXE_synodos"))
            .args(["cluster", "--nodes", "3", "--base-port", "0", "--cluster", "cli"])
            .arg("--dir")
            .arg(dir)
            .arg("--token-file")
            .arg(token_file)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut cluster = Cluster { child: Some(child), peers: String::new() };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while cluster.peers.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx.recv_timeout(left).expect("synodos cluster printed no --peers line");
            if let Some(peers) = line.strip_prefix("--peers ") {
                cluster.peers = peers.to_string();
            }
        }
        cluster
    }

    /// SIGTERM, then the exit code (20 s at most).
    fn terminate(&mut self) -> Option<i32> {
        common::terminate(&mut self.child, Duration::from_secs(20))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.terminate().is_none() {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// `synodos ARGS` with `input` on stdin.
fn run_with_stdin(args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_synodos"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let (mut out, mut err) = (String::new(), String::new());
            child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
            child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            return (status.code().unwrap_or(-1), out, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("synodos {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_node_commands_work_as_a_user_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("tokens");
    std::fs::write(&token_file, format!("# the cluster's token\n{TOKEN}\n")).unwrap();
    let tokens = token_file.to_str().unwrap();
    let mut cluster = Cluster::start(&dir.path().join("data"), &token_file);
    let peers = cluster.peers.clone();
    assert_eq!(peers.split(',').count(), 3, "{peers}");
    let with = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--peers", &peers, "--token-file", tokens]);
        run_cli(&all)
    };

    // append prints the slot; `-` reads stdin (one trailing newline dropped).
    assert_eq!(with(&["append", "hello"]), (0, "0\n".into(), String::new()));
    assert_eq!(with(&["append", "world", "--json"]), (0, "{\"slot\":1}\n".into(), String::new()));
    let (code, out, err) = run_with_stdin(&["append", "-", "--peers", &peers, "--token-file", tokens], b"from stdin\n");
    assert_eq!((code, out.as_str(), err.as_str()), (0, "2\n", ""));
    // propose decides the single decree, slot 0: it already holds "hello".
    assert_eq!(with(&["propose", "mine"]), (0, "hello\n".into(), String::new()));

    // read: every entry, SLOT<TAB>VALUE, or JSON lines.
    let (code, out, _) = with(&["read", "--from", "0"]);
    assert_eq!((code, out.as_str()), (0, "0\thello\n1\tworld\n2\tfrom stdin\n"));
    let (code, out, _) = with(&["read", "--from", "1", "--json", "--limit", "1"]);
    assert_eq!((code, out.as_str()), (0, "{\"slot\":1,\"value\":\"d29ybGQ=\"}\n"));
    // --follow with --limit stops after that many.
    let (code, out, _) = with(&["read", "--from", "1", "--follow", "--limit", "2"]);
    assert_eq!((code, out.as_str()), (0, "1\tworld\n2\tfrom stdin\n"));
    // SYNODOS_PEERS instead of --peers: each node alone serves the same log.
    for url in peers.split(',') {
        let out = Command::new(env!("CARGO_BIN_EXE_synodos"))
            .args(["read", "--token-file", tokens])
            .env("SYNODOS_PEERS", url)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        // A follower may still be learning the last entry.
        assert!("0\thello\n1\tworld\n2\tfrom stdin\n".starts_with(&text) && !text.is_empty(), "{url}: {text:?}");
    }

    // status: a header and one row per node, all reachable, one leader.
    let (code, out, err) = with(&["status"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["NODE", "ID", "REACHABLE", "LEADER", "PROMISED", "FRONTIER", "CHOSEN-UP-TO"]);
    let rows: Vec<Vec<&str>> = lines[1..].iter().map(|l| l.split_whitespace().collect()).collect();
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[1], (i + 1).to_string());
        assert_eq!(row[2], "yes");
        assert_eq!(row[3], rows[0][3], "the nodes name one leader");
        assert_eq!(row[5], "3", "frontier");
    }
    let (code, out, _) = with(&["status", "--json"]);
    assert_eq!(code, 0);
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["reachable"], true);
        assert_eq!(v["cluster"], "cli");
    }

    // bench: a row per client count, no errors.
    let (code, out, err) = with(&["bench", "--clients", "1,8", "--seconds", "0.5", "--value-size", "64"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out.lines().skip(1).map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    for (row, clients) in rows.iter().zip(["1", "8"]) {
        assert_eq!(row[0], clients);
        assert!(row[1].parse::<u64>().unwrap() > 0, "{out}");
        assert_eq!(row[5], "0", "errors: {out}");
    }

    // Errors: one line on stderr saying what to do, and the documented exit codes.
    let (code, out, err) = run_cli(&["append", "x", "--peers", &peers]);
    assert_eq!(code, 8, "no token: refused");
    assert!(out.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("synodos: error: ") && err.contains("--token-file"), "{err}");
    let (code, _, err) = run_cli(&["append", "x", "--peers", "http://127.0.0.1:1", "--timeout", "2"]);
    assert_eq!(code, 7, "nothing listening: {err}");
    assert!(err.contains("synodos status"), "{err}");
    let (code, _, err) = run_cli(&["append", "x", "--peers", "ftp://example"]);
    assert_eq!(code, 3, "{err}");
    let (code, _, err) = run_cli(&["read", "--from", "minus one", "--peers", &peers]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = Command::new(env!("CARGO_BIN_EXE_synodos"))
        .args(["append", "x"])
        .env_remove("SYNODOS_PEERS")
        .output()
        .map(|o| (o.status.code().unwrap_or(-1), (), ()))
        .unwrap();
    assert_eq!(code, 2, "no --peers");
    for command in ["append", "propose", "read", "status", "cluster", "bench", "serve"] {
        let (code, out, _) = run_cli(&[command, "--help"]);
        assert_eq!(code, 0, "{command} --help");
        assert!(out.contains("Exit codes:"), "{command} --help documents its exit codes");
    }

    // SIGTERM stops the cluster and its nodes.
    assert_eq!(cluster.terminate(), Some(0));
    let first = peers.split(',').next().unwrap().trim_start_matches("http://");
    assert!(std::net::TcpStream::connect(first).is_err(), "node 1 still listens after the cluster stopped");
}
