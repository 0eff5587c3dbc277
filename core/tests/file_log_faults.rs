//! Fault injection below FileLog, on a simulated disk: torn writes at every byte offset,
//! flipped bits, failing syncs and writes, crashes during compaction, and proof that the
//! simulated disk catches a log that skips its syncs.
#![cfg(feature = "file-log")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;

use synodos::file_log::{FileLogOptions, Storage, StorageFile};
use synodos::log::conformance;
use synodos::sim_disk::{Crash, SimDir, SimDisk, SimFile};
use synodos::{Acceptor, Error, FileLog, Log, Proposal, Request};

const DIR: &str = "node/log";
const FILE: &str = "node/log/log";
const HEADER: u64 = 16;
const OVERHEAD: u64 = 22;

fn ids<L: Log>(log: &L) -> Vec<u64> {
    records(log).into_iter().map(|r| r.0).collect()
}

fn records<L: Log>(log: &L) -> Vec<(u64, Vec<u8>)> {
    let mut out = Vec::new();
    log.range(0, u64::MAX, &mut |id, d| {
        out.push((id, d.to_vec()));
        Ok(())
    })
    .unwrap();
    out
}

fn value(id: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (id as usize * 7 + i) as u8).collect()
}

/// A disk holding a log with records 1..=3 (20-byte values), all synced.
fn disk_with_three() -> SimDisk {
    let disk = SimDisk::new();
    let mut log = disk.open_log(DIR).unwrap();
    for id in 1..=3 {
        log.record(id, &value(id, 20)).unwrap();
    }
    disk
}

#[test]
fn simulated_file_log_passes_the_conformance_kit_with_a_power_cut_before_every_reopen() {
    let disk = SimDisk::new();
    let report = conformance::run(|name| {
        // Everything the kit was told is durable must survive losing every unsynced byte.
        disk.crash(Crash::LoseUnsynced);
        disk.open_log(name)
    })
    .unwrap();
    assert!(report.checks.len() >= 9);
    assert!(disk.crash_count() >= 9);
}

fn torn_last_write_at_every_offset(make_crash: fn(usize) -> Crash, cut: fn(usize, usize) -> u64) {
    let frame_len = (OVERHEAD + 30) as usize;
    for keep in 0..=frame_len {
        let disk = disk_with_three();
        let mut log = disk.open_log(DIR).unwrap();
        disk.fail_next_syncs(1);
        assert!(log.record(4, &value(4, 30)).is_err(), "the sync failed, so record must fail");
        disk.crash(make_crash(keep));

        let mut log = disk.open_log(DIR).unwrap_or_else(|e| panic!("keep {keep}: open failed: {e}"));
        let mut want: Vec<(u64, Vec<u8>)> = (1..=3).map(|id| (id, value(id, 20))).collect();
        if keep == frame_len {
            want.push((4, value(4, 30)));
            assert_eq!(log.truncated_on_open(), 0);
        } else {
            assert_eq!(log.truncated_on_open(), cut(keep, frame_len), "keep {keep}");
        }
        assert_eq!(records(&log), want, "keep {keep}");
        // The log goes on, and the cut is durable: nothing of the torn write comes back.
        log.record(10, b"after").unwrap();
        disk.crash(Crash::LoseUnsynced);
        let log = disk.open_log(DIR).unwrap();
        assert_eq!(log.last().unwrap(), Some((10, b"after".to_vec())), "keep {keep}");
        assert_eq!(ids(&log).len(), want.len() + 1, "keep {keep}");
    }
}

#[test]
fn a_write_torn_at_every_byte_offset_is_cut_away_and_the_log_goes_on() {
    torn_last_write_at_every_offset(|keep| Crash::TornLastWrite { keep }, |keep, _| keep as u64);
}

#[test]
fn a_write_zero_filled_after_every_byte_offset_is_cut_away_and_the_log_goes_on() {
    torn_last_write_at_every_offset(|keep| Crash::ZeroFilledLastWrite { keep }, |_, frame| frame as u64);
}

#[test]
fn a_torn_batch_leaves_the_acknowledged_records_and_a_prefix_of_the_batch() {
    let batch: Vec<(u64, Vec<u8>)> = (4..=6).map(|id| (id, value(id, 10))).collect();
    let frame = OVERHEAD as usize + 10;
    for keep in 0..=3 * frame {
        for zero in [false, true] {
            let disk = disk_with_three();
            let mut log = disk.open_log(DIR).unwrap();
            disk.fail_next_syncs(1);
            let refs: Vec<(u64, &[u8])> = batch.iter().map(|(i, v)| (*i, v.as_slice())).collect();
            assert!(log.record_batch(&refs).is_err());
            disk.crash(if zero { Crash::ZeroFilledLastWrite { keep } } else { Crash::TornLastWrite { keep } });
            let log = disk.open_log(DIR).unwrap_or_else(|e| panic!("keep {keep} zero {zero}: {e}"));
            let got = records(&log);
            let acknowledged: Vec<(u64, Vec<u8>)> = (1..=3).map(|id| (id, value(id, 20))).collect();
            assert_eq!(got[..3], acknowledged[..], "keep {keep} zero {zero}");
            // A batch is one unit of acknowledgement; after a crash any whole frames of it
            // may survive, never a damaged one.
            assert_eq!(got[3..], batch[..keep / frame], "keep {keep} zero {zero}");
        }
    }
}

#[test]
fn every_single_flipped_bit_of_a_synced_log_fails_the_open_naming_file_and_frame_offset() {
    let len = disk_with_three().read(FILE).unwrap().len() as u64;
    let frame = OVERHEAD + 20;
    assert_eq!(len, HEADER + 3 * frame);
    for byte in 0..len {
        for bit in 0..8 {
            let disk = disk_with_three();
            assert!(disk.flip_bit(FILE, byte, bit));
            let err = disk.open_log(DIR).unwrap_err();
            let msg = err.to_string();
            let frame_offset = if byte < HEADER { 0 } else { HEADER + (byte - HEADER) / frame * frame };
            assert!(matches!(err, Error::Storage { .. }), "byte {byte} bit {bit}: {msg}");
            assert!(msg.contains("sim:node/log/log"), "byte {byte} bit {bit}: {msg}");
            assert!(msg.contains(&format!("offset {frame_offset}:")), "byte {byte} bit {bit}: {msg}");
        }
    }
}

#[test]
fn an_old_flipped_bit_is_still_corruption_when_the_last_write_was_zero_filled_too() {
    for keep in [0, 5, 30] {
        let disk = disk_with_three();
        let mut log = disk.open_log(DIR).unwrap();
        disk.fail_next_syncs(1);
        assert!(log.record(4, &value(4, 30)).is_err());
        disk.crash(Crash::ZeroFilledLastWrite { keep });
        assert!(disk.flip_bit(FILE, HEADER + OVERHEAD + 3, 0));
        let msg = disk.open_log(DIR).unwrap_err().to_string();
        assert!(msg.contains(&format!("offset {HEADER}:")), "keep {keep}: {msg}");
    }
}

#[test]
fn frames_out_of_id_order_or_a_short_or_foreign_header_fail_the_open() {
    let good = disk_with_three().read(FILE).unwrap();
    let frame = (OVERHEAD + 20) as usize;
    let h = HEADER as usize;
    // Records 2 and 1 swapped: every checksum holds, the order does not.
    let mut swapped = good[..h].to_vec();
    swapped.extend_from_slice(&good[h + frame..h + 2 * frame]);
    swapped.extend_from_slice(&good[h..h + frame]);
    let cases: [(&str, Vec<u8>, &str); 4] = [
        ("swapped", swapped, "offset 58: record id 1 after id 2"),
        ("short header", good[..10].to_vec(), "offset 0: file is 10 bytes"),
        ("empty file", Vec::new(), "offset 0: file is 0 bytes"),
        ("other magic", [b"NOTALOG!".as_slice(), &good[8..]].concat(), "not a synodos log"),
    ];
    for (name, bytes, want) in cases {
        let disk = SimDisk::new();
        disk.write_durable(FILE, &bytes);
        let msg = disk.open_log(DIR).unwrap_err().to_string();
        assert!(msg.contains(want) && msg.contains("sim:node/log/log"), "{name}: {msg}");
    }
}

#[test]
fn a_bit_that_rots_after_open_fails_the_read_instead_of_returning_bad_data() {
    let disk = disk_with_three();
    let log = disk.open_log(DIR).unwrap();
    assert!(disk.flip_bit(FILE, HEADER + OVERHEAD + 5, 3));
    let err = log.range(0, u64::MAX, &mut |_, _| Ok(())).unwrap_err();
    assert!(err.to_string().contains(&format!("offset {HEADER}:")), "{err}");
}

#[test]
fn a_failed_fsync_poisons_the_log_and_the_acceptor_above_it() {
    let disk = disk_with_three();
    let mut log = disk.open_log(DIR).unwrap();
    disk.fail_next_syncs(1);
    let err = log.record(4, b"x").unwrap_err();
    assert!(err.to_string().contains("fdatasync failed"), "{err}");
    assert!(log.poisoned().is_some());
    // Every later call fails, though the disk works again.
    assert!(log.record(5, b"y").is_err());
    assert!(log.record_batch(&[(6, b"z")]).is_err());
    assert!(log.last().is_err());
    assert!(log.range(0, 10, &mut |_, _| Ok(())).is_err());
    assert!(log.trim(2).is_err());
    drop(log);
    disk.crash(Crash::LoseUnsynced);
    assert_eq!(ids(&disk.open_log(DIR).unwrap()), [1, 2, 3]);

    let disk = SimDisk::new();
    let mut acceptor =
        Acceptor::new(disk.open_log("a/promises").unwrap(), disk.open_log("a/accepts").unwrap()).unwrap();
    acceptor.prepare(&Request { id: 3, attempt: 1, slot: 0 }).unwrap();
    disk.fail_next_syncs(1);
    assert_eq!(acceptor.accept(&Proposal::new(3, 0, b"v".to_vec())).unwrap_err().code(), "STORAGE");
    assert_eq!(acceptor.prepare(&Request { id: 9, attempt: 1, slot: 0 }).unwrap_err().code(), "CLOSED");
}

#[test]
fn a_failed_write_poisons_the_log_and_changes_nothing_durable() {
    let disk = disk_with_three();
    let mut log = disk.open_log(DIR).unwrap();
    disk.fail_next_writes(1);
    assert!(log.record(4, b"x").unwrap_err().to_string().contains("write failed"));
    assert!(log.record(5, b"x").is_err());
    drop(log);
    assert_eq!(ids(&disk.open_log(DIR).unwrap()), [1, 2, 3]);
}

#[test]
fn a_batch_costs_one_sync_whatever_its_size() {
    let disk = SimDisk::new();
    let mut log = disk.open_log(DIR).unwrap();
    for size in [1usize, 16, 64, 1000] {
        let first = log.last().unwrap().map_or(1, |(id, _)| id + 1);
        let batch: Vec<(u64, Vec<u8>)> = (first..first + size as u64).map(|id| (id, value(id, 256))).collect();
        let refs: Vec<(u64, &[u8])> = batch.iter().map(|(i, v)| (*i, v.as_slice())).collect();
        let before = disk.sync_count();
        log.record_batch(&refs).unwrap();
        assert_eq!(disk.sync_count() - before, 1, "batch of {size}");
    }
    let before = disk.sync_count();
    log.record_batch(&[]).unwrap();
    assert_eq!(disk.sync_count(), before, "an empty batch syncs nothing");
}

#[test]
fn a_new_log_survives_a_power_cut_right_after_creation() {
    let disk = SimDisk::new();
    let mut log = disk.open_log(DIR).unwrap();
    log.record(1, b"first").unwrap();
    disk.crash(Crash::LoseUnsynced);
    assert_eq!(ids(&disk.open_log(DIR).unwrap()), [1]);
}

#[test]
fn the_lock_keeps_a_second_opener_out_and_dies_with_the_process() {
    let disk = SimDisk::new();
    let _log = disk.open_log(DIR).unwrap();
    let msg = disk.open_log(DIR).unwrap_err().to_string();
    assert!(msg.contains("already open") && msg.contains("sim:node/log/lock"), "{msg}");
    disk.crash(Crash::LoseUnsynced);
    disk.open_log(DIR).unwrap();
}

fn compacting(disk: &SimDisk) -> FileLog<SimDir> {
    FileLog::open_with(disk.dir(DIR), FileLogOptions { compact_min_bytes: 0 }).unwrap()
}

#[test]
fn a_power_cut_at_every_sync_of_a_compacting_trim_keeps_every_live_record() {
    // The trim syncs its mark (sync 0), then compacts: the copy (1), then the rename (dir sync 2).
    for pass in 0..=3u32 {
        for crash in [Crash::LoseUnsynced, Crash::TornLastWrite { keep: 7 }] {
            let disk = SimDisk::new();
            let mut log = compacting(&disk);
            for id in 1..=20 {
                log.record(id, &value(id, 50)).unwrap();
            }
            disk.fail_sync_after(pass);
            let r = log.trim(15);
            assert_eq!(r.is_err(), pass < 3, "sync {pass} failed, so the trim must fail");
            disk.crash(crash);
            let got = ids(&compacting(&disk));
            let live: Vec<u64> = (15..=20).collect();
            assert!(got == live || (pass == 0 && got == (1..=20).collect::<Vec<_>>()), "sync {pass}: {got:?}");
        }
    }
}

#[test]
fn trimmed_records_never_come_back_after_compaction_and_a_power_cut() {
    let disk = SimDisk::new();
    let mut log = compacting(&disk);
    for id in 1..=100 {
        log.record(id, &value(id, 40)).unwrap();
    }
    log.trim(91).unwrap();
    log.record(101, b"new").unwrap();
    disk.crash(Crash::LoseUnsynced);
    assert_eq!(ids(&compacting(&disk)), (91..=101).collect::<Vec<_>>());
    assert!(!disk.paths().iter().any(|p| p.ends_with("log.compact")));
}

/// A storage that forgets to sync (files always; the directory if `.1`): the simulated disk
/// must catch it, or these tests prove nothing about the real log.
struct NoSync(SimDir, bool);
struct NoSyncFile(SimFile);

impl Storage for NoSync {
    type File = NoSyncFile;
    type Lock = <SimDir as Storage>::Lock;
    fn describe(&self, name: &str) -> String {
        self.0.describe(name)
    }
    fn create_dir(&self) -> io::Result<()> {
        self.0.create_dir()
    }
    fn lock(&self) -> io::Result<Self::Lock> {
        self.0.lock()
    }
    fn open(&self, name: &str) -> io::Result<Option<NoSyncFile>> {
        Ok(self.0.open(name)?.map(NoSyncFile))
    }
    fn create(&self, name: &str) -> io::Result<NoSyncFile> {
        self.0.create(name).map(NoSyncFile)
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.0.rename(from, to)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.0.remove(name)
    }
    fn sync_dir(&self) -> io::Result<()> {
        if self.1 {
            Ok(())
        } else {
            self.0.sync_dir()
        }
    }
}

impl StorageFile for NoSyncFile {
    fn len(&self) -> io::Result<u64> {
        self.0.len()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.0.read_at(buf, offset)
    }
    fn write_at(&mut self, data: &[u8], offset: u64) -> io::Result<()> {
        self.0.write_at(data, offset)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

#[test]
fn the_simulated_disk_catches_a_log_that_skips_its_syncs() {
    for skip_dir_sync in [false, true] {
        let disk = SimDisk::new();
        let mut log = FileLog::open_with(NoSync(disk.dir(DIR), skip_dir_sync), FileLogOptions::default()).unwrap();
        log.record(1, b"acknowledged").unwrap();
        drop(log);
        disk.crash(Crash::LoseUnsynced);
        // Without its syncs the acknowledged record is gone (or the whole file is).
        let reopened = disk.open_log(DIR).map(|l| ids(&l));
        assert!(!matches!(reopened, Ok(ref ids) if ids == &[1]), "skip_dir_sync {skip_dir_sync}: {reopened:?}");
    }
}

#[test]
fn random_operations_and_power_cuts_never_lose_an_acknowledged_record() {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    let mut crashes = 0;
    for round in 0..200 {
        let disk = SimDisk::new();
        let opts = FileLogOptions { compact_min_bytes: rng.u64(0..2000) };
        let open = |d: &SimDisk| FileLog::open_with(d.dir(DIR), opts.clone()).unwrap();
        let mut log = open(&disk);
        // What the log must hold: every acknowledged record not trimmed since.
        let mut model: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut next = 1u64;
        for _ in 0..rng.usize(1..60) {
            match rng.u8(0..10) {
                0..=5 => {
                    let n = rng.u64(1..6);
                    let batch: Vec<(u64, Vec<u8>)> =
                        (next..next + n).map(|id| (id, value(id, rng.usize(0..80)))).collect();
                    next += n;
                    if rng.u8(0..8) == 0 {
                        disk.fail_next_syncs(1);
                    }
                    let refs: Vec<(u64, &[u8])> = batch.iter().map(|(i, v)| (*i, v.as_slice())).collect();
                    if log.record_batch(&refs).is_ok() {
                        model.extend(batch);
                    }
                }
                6 => {
                    let before = next.saturating_sub(rng.u64(0..10));
                    if rng.u8(0..4) == 0 {
                        disk.fail_sync_after(rng.u32(0..3));
                    }
                    // Whether or not it succeeds, records below `before` may be gone now;
                    // every record at or above it must stay.
                    let _ = log.trim(before);
                    model.retain(|(id, _)| *id >= before);
                }
                _ => {}
            }
            if log.poisoned().is_some() || rng.u8(0..5) == 0 {
                let crash = match rng.u8(0..3) {
                    0 => Crash::LoseUnsynced,
                    1 => Crash::TornLastWrite { keep: rng.usize(0..200) },
                    _ => Crash::ZeroFilledLastWrite { keep: rng.usize(0..200) },
                };
                disk.crash(crash);
                crashes += 1;
                log = open(&disk);
                let got = records(&log);
                for rec in &model {
                    assert!(got.contains(rec), "round {round}: lost {} after {crash:?}; have {:?}", rec.0, ids(&log));
                }
                // Unacknowledged records may survive too; from here on they are the truth.
                model = got;
            }
        }
    }
    assert!(crashes > 500, "only {crashes} crashes");
}
