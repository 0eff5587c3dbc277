//! The kill -9 loop: a child process runs an acceptor on two `FileLog`s and answers
//! prepares and accepts as fast as it can, reporting each reply on its stdout only after
//! the reply exists; the parent kills it at random moments, then reopens the logs and
//! checks that every promise and accept the child acknowledged is still there.
//!
//! The child is this same test binary, re-run with `--exact crash_child` and
//! `SYNODOS_CRASH_CHILD_DIR` set; without that variable `crash_child` does nothing.
//!
//! `SYNODOS_CRASH_CYCLES` sets the number of kills (200 by default; `make crash-long`
//! runs 10,000) and `SYNODOS_CRASH_SEED` the seed.
#![cfg(feature = "file-log")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use synodos::file_log::{FileLogOptions, OsStorage};
use synodos::{persist_all, Acceptor, AcceptorCore, FileLog, Log, MemoryLog, Proposal, Request};

const CHILD_DIR: &str = "SYNODOS_CRASH_CHILD_DIR";
const CHILD_MODE: &str = "SYNODOS_CRASH_CHILD_MODE";
const CHILD_SEED: &str = "SYNODOS_CRASH_CHILD_SEED";
const CHILD_FLOOR: &str = "SYNODOS_CRASH_CHILD_FLOOR";
/// A child never runs longer than this many operations, so an orphan cannot run forever.
const CHILD_MAX_OPS: u64 = 200_000;

/// The value the child accepts for (ballot, slot): the parent recomputes it to check.
fn value_for(ballot: u64, slot: u64) -> Vec<u8> {
    let mut v = format!("ballot {ballot} slot {slot} ").into_bytes();
    v.resize(64, (ballot ^ slot) as u8);
    v
}

/// How the child writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `Acceptor::prepare`/`accept`, one fsync per reply, with trims.
    Single,
    /// `AcceptorCore` + `persist_all`: several accepts per fsync (group commit).
    Batch,
    /// A broken acceptor whose accept log is in memory: the loop must catch it.
    Forgetful,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Single => "single",
            Mode::Batch => "batch",
            Mode::Forgetful => "forgetful",
        }
    }
}

/// Write one report line to the parent; exit quietly if the parent is gone.
fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    // One write of one short line: the pipe delivers it whole (below PIPE_BUF).
    if out.write_all(format!("@@{line}\n").as_bytes()).and_then(|()| out.flush()).is_err() {
        std::process::exit(0);
    }
}

fn fail(what: &str, e: impl std::fmt::Display) -> ! {
    report(&format!("ERR {what}: {e}"));
    std::process::exit(3)
}

#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let dir = Path::new(&dir);
    let mode = match std::env::var(CHILD_MODE).as_deref() {
        Ok("batch") => Mode::Batch,
        Ok("forgetful") => Mode::Forgetful,
        _ => Mode::Single,
    };
    let seed = std::env::var(CHILD_SEED).ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let floor: u64 = std::env::var(CHILD_FLOOR).ok().and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut rng = fastrand::Rng::with_seed(seed);
    // Compact after 32 KiB of trimmed records, so kills also land inside compactions.
    let open = |name: &str| {
        let options = FileLogOptions { compact_min_bytes: 32 << 10 };
        FileLog::open_with(OsStorage::new(dir.join(name)), options).unwrap_or_else(|e| fail(name, e))
    };
    let (promises, accepts) = (open("promises"), open("accepts"));
    match mode {
        Mode::Single => {
            run_single(Acceptor::new(promises, accepts).unwrap_or_else(|e| fail("recover", e)), &mut rng, floor)
        }
        Mode::Batch => run_batch(promises, accepts, &mut rng, floor),
        Mode::Forgetful => {
            let acceptor = Acceptor::new(promises, MemoryLog::new()).unwrap_or_else(|e| fail("recover", e));
            run_single(acceptor, &mut rng, floor)
        }
    }
}

fn next_slot(core: &AcceptorCore, floor: u64) -> u64 {
    core.accepted_from(floor).last().map_or(floor, |p| p.slot + 1)
}

fn run_single<A: Log>(mut acceptor: Acceptor<FileLog, A>, rng: &mut fastrand::Rng, mut floor: u64) {
    report(&format!("READY {}", acceptor.core().promised()));
    let mut slot = next_slot(acceptor.core(), floor);
    let mut since_trim = 0;
    // Trim often enough that kills land in trims and compactions, and the logs stay small.
    let trim_every = rng.u64(10..60);
    for _ in 0..CHILD_MAX_OPS {
        let ballot = acceptor.core().promised() + 1 + rng.u64(0..3);
        let promise =
            acceptor.prepare(&Request { id: ballot, attempt: 1, slot }).unwrap_or_else(|e| fail("prepare", e));
        if promise.is_granted() {
            report(&format!("P {ballot}"));
        }
        for _ in 0..rng.u64(1..6) {
            // Mostly new slots; sometimes a slot accepted before, at the new ballot.
            let s = if rng.u8(0..4) == 0 && slot > floor { rng.u64(floor..slot) } else { slot };
            let reply =
                acceptor.accept(&Proposal::new(ballot, s, value_for(ballot, s))).unwrap_or_else(|e| fail("accept", e));
            if reply.is_accepted() {
                report(&format!("A {s} {ballot}"));
            }
            if s == slot {
                slot += 1;
            }
            since_trim += 1;
        }
        if since_trim > trim_every {
            // Announce the trim before it starts: from then on the parent may no longer
            // expect the slots below it, whether or not the trim completes.
            floor = slot.saturating_sub(20);
            report(&format!("T {floor}"));
            acceptor.trim(floor).unwrap_or_else(|e| fail("trim", e));
            since_trim = 0;
        }
    }
    std::process::exit(0);
}

fn run_batch(mut promises: FileLog, mut accepts: FileLog, rng: &mut fastrand::Rng, mut floor: u64) {
    let mut core = AcceptorCore::recover(&promises, &accepts).unwrap_or_else(|e| fail("recover", e));
    report(&format!("READY {}", core.promised()));
    let mut slot = next_slot(&core, floor);
    for _ in 0..CHILD_MAX_OPS {
        let ballot = core.promised() + 1 + rng.u64(0..3);
        let pending = core.prepare(&Request { id: ballot, attempt: 1, slot }).unwrap_or_else(|e| fail("prepare", e));
        let promise = pending.persist(&mut promises, &mut accepts).unwrap_or_else(|e| fail("persist promise", e));
        if promise.is_granted() {
            report(&format!("P {ballot}"));
        }
        let mut pendings = Vec::new();
        let mut slots = Vec::new();
        for _ in 0..rng.usize(1..24) {
            let p = core
                .accept(&Proposal::new(ballot, slot, value_for(ballot, slot)))
                .unwrap_or_else(|e| fail("accept", e));
            pendings.push(p);
            slots.push(slot);
            slot += 1;
        }
        // One fsync for the whole group; only then do the replies exist.
        let replies = persist_all(pendings, &mut promises, &mut accepts).unwrap_or_else(|e| fail("persist_all", e));
        for (reply, s) in replies.iter().zip(&slots) {
            if reply.is_accepted() {
                report(&format!("A {s} {ballot}"));
            }
        }
        if rng.u8(0..4) == 0 {
            // The promise of `ballot` is in the promise log (prepare wrote it), so the
            // accept log may drop old slots without lowering the promise after recovery.
            floor = slot.saturating_sub(30);
            report(&format!("T {floor}"));
            if let Some((marker_seq, marker, keep_from)) = core.forget_below(floor) {
                accepts.record(marker_seq, &marker).unwrap_or_else(|e| fail("trim marker", e));
                accepts.trim(keep_from).unwrap_or_else(|e| fail("trim", e));
            }
        }
    }
    std::process::exit(0);
}

/// What the parent knows the child acknowledged.
#[derive(Debug, Default)]
struct Expected {
    promised: u64,
    /// slot -> highest acknowledged ballot.
    accepted: BTreeMap<u64, u64>,
    /// Slots below this may have been trimmed.
    floor: u64,
}

#[derive(Debug, Default)]
struct Totals {
    cycles: u64,
    acknowledged: u64,
    lost: u64,
    killed_before_ready: u64,
    torn_bytes_cut: u64,
}

/// Check the logs against what was acknowledged; return how many acknowledgements are lost.
fn verify(dir: &Path, expected: &Expected, quiet: bool) -> (u64, u64) {
    let promises = FileLog::open(dir.join("promises")).unwrap();
    let accepts = FileLog::open(dir.join("accepts")).unwrap();
    let torn = promises.truncated_on_open() + accepts.truncated_on_open();
    let core = AcceptorCore::recover(&promises, &accepts).unwrap();
    let mut lost = 0;
    if core.promised() < expected.promised {
        if !quiet {
            eprintln!("lost promise: acknowledged {}, recovered {}", expected.promised, core.promised());
        }
        lost += 1;
    }
    for (&slot, &ballot) in expected.accepted.range(expected.floor..) {
        match core.accepted(slot) {
            Some(p) if p.id > ballot || (p.id == ballot && p.value == value_for(ballot, slot)) => {}
            other => {
                if !quiet && lost < 5 {
                    eprintln!("lost accept: slot {slot} ballot {ballot}, recovered {other:?}");
                }
                lost += 1;
            }
        }
    }
    (lost, torn)
}

fn kill_loop(cycles: u64, seed: u64, modes: &[Mode]) -> Totals {
    let quiet = modes.contains(&Mode::Forgetful);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut expected = Expected::default();
    let mut totals = Totals::default();
    for cycle in 0..cycles {
        let mode = modes[cycle as usize % modes.len()];
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1", "-q"])
            .env(CHILD_DIR, dir.path())
            .env(CHILD_MODE, mode.name())
            .env(CHILD_SEED, rng.u64(..).to_string())
            .env(CHILD_FLOOR, expected.floor.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Sometimes kill during startup and recovery; otherwise after a random number of
        // acknowledgements, while the child is busy writing the next ones.
        let kill_after = if rng.u8(0..10) == 0 { None } else { Some(rng.u64(0..60)) };
        if kill_after.is_none() {
            child.kill().unwrap();
        }
        let mut acks = 0u64;
        let mut ready = false;
        let mut killed = kill_after.is_none();
        // Read to the end: lines the child wrote before it died were acknowledged too.
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let Some(at) = line.find("@@") else { continue };
            let words: Vec<&str> = line[at + 2..].split_whitespace().collect();
            match words.as_slice() {
                ["READY", _] => ready = true,
                ["P", b] => {
                    expected.promised = expected.promised.max(b.parse().unwrap());
                    acks += 1;
                }
                ["A", s, b] => {
                    let (s, b): (u64, u64) = (s.parse().unwrap(), b.parse().unwrap());
                    let e = expected.accepted.entry(s).or_default();
                    *e = (*e).max(b);
                    acks += 1;
                }
                ["T", floor] => {
                    let floor: u64 = floor.parse().unwrap();
                    expected.floor = expected.floor.max(floor);
                    expected.accepted = expected.accepted.split_off(&expected.floor);
                }
                _ => panic!("cycle {cycle}: child ({mode:?}) said {line:?}"),
            }
            if !killed && kill_after.is_some_and(|k| acks >= k) {
                child.kill().unwrap();
                killed = true;
            }
        }
        let status = child.wait().unwrap();
        assert!(killed || status.success(), "cycle {cycle}: child exited by itself: {status}");
        totals.killed_before_ready += u64::from(!ready);
        totals.acknowledged += acks;
        let (lost, torn) = verify(dir.path(), &expected, quiet);
        totals.lost += lost;
        totals.torn_bytes_cut += torn;
        totals.cycles += 1;
    }
    totals
}

#[test]
fn kill_9_loop_loses_no_acknowledged_promise_or_accept() {
    let cycles = std::env::var("SYNODOS_CRASH_CYCLES").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let seed = std::env::var("SYNODOS_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x6b696c6c);
    let t = kill_loop(cycles, seed, &[Mode::Single, Mode::Batch]);
    // Straight to stdout, past the test harness's capture, so `make test` shows the line.
    let line = format!(
        "crash: cycles {}, acknowledged {}, lost {} (killed before ready {}, torn bytes cut {}, seed {seed})\n",
        t.cycles, t.acknowledged, t.lost, t.killed_before_ready, t.torn_bytes_cut
    );
    std::io::stdout().write_all(line.as_bytes()).unwrap();
    assert_eq!(t.lost, 0);
    assert_eq!(t.cycles, cycles);
    assert!(t.acknowledged >= cycles * 10, "too few acknowledgements to mean anything: {}", t.acknowledged);
}

/// The loop must be able to fail: an acceptor that keeps its accepts only in memory
/// acknowledges them all the same, and the loop must see them lost.
#[test]
fn kill_9_loop_catches_an_acceptor_that_acknowledges_what_it_did_not_store() {
    let t = kill_loop(4, 7, &[Mode::Forgetful]);
    assert!(t.lost > 0, "{t:?}");
}
