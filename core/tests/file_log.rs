//! FileLog on a real filesystem: the conformance kit, locking, corruption reporting,
//! trimming and compaction across reopen, and the Acceptor on top.
#![cfg(feature = "file-log")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use synodos::file_log::{FileLogOptions, OsStorage};
use synodos::log::conformance;
use synodos::{Acceptor, Error, FileLog, Log, Proposal, Request};

fn ids<L: Log>(log: &L) -> Vec<u64> {
    let mut out = Vec::new();
    log.range(0, u64::MAX, &mut |id, _| {
        out.push(id);
        Ok(())
    })
    .unwrap();
    out
}

#[test]
fn file_log_passes_the_conformance_kit() {
    let dir = tempfile::tempdir().unwrap();
    let report = conformance::run(|name| FileLog::open(dir.path().join(name))).unwrap();
    assert!(report.checks.len() >= 9, "{:?}", report.checks);
}

#[test]
fn file_log_passes_the_conformance_kit_when_every_trim_compacts() {
    let dir = tempfile::tempdir().unwrap();
    let open =
        |name: &str| FileLog::open_with(OsStorage::new(dir.path().join(name)), FileLogOptions { compact_min_bytes: 0 });
    conformance::run(open).unwrap();
}

#[test]
fn a_second_open_of_the_same_directory_fails_clearly_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let first = FileLog::open(dir.path()).unwrap();
    let err = FileLog::open(dir.path()).unwrap_err();
    assert_eq!(err.code(), "STORAGE");
    let msg = err.to_string();
    assert!(msg.contains("already open"), "{msg}");
    assert!(msg.contains(&dir.path().join("lock").display().to_string()), "{msg}");
    drop(first);
    FileLog::open(dir.path()).unwrap();
}

#[test]
fn a_flipped_bit_in_an_old_record_fails_the_open_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path()).unwrap();
    for id in 1..=5u64 {
        log.record(id, &[id as u8; 100]).unwrap();
    }
    drop(log);
    // Frames are 22 bytes + data after a 16-byte file header: record 2 starts at 16 + 122.
    let offset = 16 + 122;
    let file = OpenOptions::new().read(true).write(true).open(dir.path().join("log")).unwrap();
    let mut b = [0u8; 1];
    file.read_exact_at(&mut b, offset + 40).unwrap();
    file.write_all_at(&[b[0] ^ 0x10], offset + 40).unwrap();
    drop(file);
    let err = FileLog::open(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().join("log").display().to_string()), "{msg}");
    assert!(msg.contains(&format!("offset {offset}")), "{msg}");
    assert!(matches!(err, Error::Storage { .. }));
}

#[test]
fn a_torn_tail_on_a_real_file_is_cut_and_the_log_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = FileLog::open(dir.path()).unwrap();
    log.record_batch(&[(1, b"one"), (2, b"two")]).unwrap();
    drop(log);
    // Append half a frame, as a power cut mid-write would leave it.
    let file = OpenOptions::new().append(true).open(dir.path().join("log")).unwrap();
    let len = file.metadata().unwrap().len();
    file.write_all_at(&[7u8; 13], len).unwrap();
    drop(file);
    let mut log = FileLog::open(dir.path()).unwrap();
    assert_eq!(log.truncated_on_open(), 13);
    assert_eq!(ids(&log), [1, 2]);
    log.record(3, b"three").unwrap();
    drop(log);
    let log = FileLog::open(dir.path()).unwrap();
    assert_eq!(log.truncated_on_open(), 0);
    assert_eq!(log.last().unwrap(), Some((3, b"three".to_vec())));
}

#[test]
fn a_file_that_is_not_a_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("log"), b"PK\x03\x04 this is a zip file, not a log").unwrap();
    let msg = FileLog::open(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("not a synodos log"), "{msg}");
}

#[test]
fn trim_compacts_the_file_and_trimmed_records_never_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let opts = FileLogOptions { compact_min_bytes: 16 << 10 };
    let mut log = FileLog::open_with(OsStorage::new(dir.path()), opts.clone()).unwrap();
    let value = [9u8; 200];
    for chunk in (1..=1000u64).collect::<Vec<_>>().chunks(50) {
        let batch: Vec<(u64, &[u8])> = chunk.iter().map(|&id| (id, &value[..])).collect();
        log.record_batch(&batch).unwrap();
    }
    let full = log.file_bytes();
    log.trim(901).unwrap();
    assert!(log.file_bytes() < full / 5, "compacted to {} of {full} bytes", log.file_bytes());
    assert_eq!(ids(&log), (901..=1000).collect::<Vec<_>>());
    log.record(1001, b"after").unwrap();
    drop(log);
    let log = FileLog::open_with(OsStorage::new(dir.path()), opts).unwrap();
    assert_eq!(ids(&log), (901..=1001).collect::<Vec<_>>());
    assert_eq!(log.last().unwrap(), Some((1001, b"after".to_vec())));
    assert!(!dir.path().join("log.compact").exists());
}

#[test]
fn an_acceptor_on_file_logs_recovers_its_promise_and_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Acceptor::new(
            FileLog::open(dir.path().join("promises")).unwrap(),
            FileLog::open(dir.path().join("accepts")).unwrap(),
        )
        .unwrap()
    };
    let mut a = open();
    assert!(a.prepare(&Request { id: 7, attempt: 1, slot: 0 }).unwrap().is_granted());
    assert!(a.accept(&Proposal::new(7, 0, b"zero".to_vec())).unwrap().is_accepted());
    assert!(a.accept(&Proposal::new(7, 1, b"one".to_vec())).unwrap().is_accepted());
    drop(a);
    let mut a = open();
    assert_eq!(a.core().promised(), 7);
    assert_eq!(a.core().accepted(1), Some(Proposal::new(7, 1, b"one".to_vec())));
    assert!(!a.prepare(&Request { id: 6, attempt: 1, slot: 0 }).unwrap().is_granted());
}
