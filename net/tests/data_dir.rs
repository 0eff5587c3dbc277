//! `synodos serve --data DIR`: a damaged directory is refused naming the file and offset, a
//! second server is kept off a directory in use, a directory keeps its acceptor id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{run_cli, ServeProcess};
use synodos::{AcceptorClient, Proposal};
use synodos_net::{ClientOptions, HttpAcceptor};

fn serve_args(dir: &str, id: &str) -> Vec<String> {
    ["serve", "--id", id, "--cluster", "dd", "--listen", "127.0.0.1:0", "--data", dir].map(String::from).to_vec()
}

#[test]
fn a_damaged_data_directory_is_refused_naming_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let dir_s = dir.to_str().unwrap();
    let args = serve_args(dir_s, "1");
    let args: Vec<&str> = args.iter().map(String::as_str).skip(1).collect();
    let mut server = ServeProcess::start(&args);
    let client = HttpAcceptor::new(&server.url, ClientOptions::new()).unwrap();
    for slot in 0..5 {
        let p = Proposal::new(9, slot, format!("value {slot}").into_bytes());
        assert!(futures::executor::block_on(client.accept(&p)).unwrap().is_accepted());
    }
    assert_eq!(server.terminate(), Some(0));

    // A flipped bit inside the first record, with intact records after it.
    let log = dir.join("accepts").join("log");
    let mut bytes = std::fs::read(&log).unwrap();
    bytes[16 + 21 + 3] ^= 0x10;
    std::fs::write(&log, &bytes).unwrap();

    let (code, out, err) = run_cli(&serve_args(dir_s, "1").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 4, "{out} {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(log.to_str().unwrap()) && err.contains("offset 16"), "{err}");
    assert!(err.contains("must not vote"), "says what to do: {err}");
    assert!(out.is_empty(), "no ready line: {out}");
}

#[test]
fn a_second_server_is_kept_off_a_directory_in_use_and_ids_stick_to_their_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let dir_s = dir.to_str().unwrap();
    let args = serve_args(dir_s, "1");
    let first = ServeProcess::start(&args.iter().map(String::as_str).skip(1).collect::<Vec<_>>());
    let (code, out, err) = run_cli(&serve_args(dir_s, "1").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 5, "{out} {err}");
    assert!(err.contains("in use") && err.contains(&format!("pid {}", first.pid())), "{err}");
    drop(first); // kill -9: the lock goes with the process

    let (code, _, err) = run_cli(&serve_args(dir_s, "2").iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("belongs to acceptor 1"), "{err}");
    // With its own id it starts again.
    let again = ServeProcess::start(&args.iter().map(String::as_str).skip(1).collect::<Vec<_>>());
    drop(again);
}
