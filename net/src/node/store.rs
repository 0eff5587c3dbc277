//! The learner's log: the chosen entries, in slot order from slot 0 with no gaps, kept on
//! disk (a [`FileLog`](synodos::FileLog) in `DIR/chosen`, record id = slot) and mirrored in
//! memory for reads. Every entry here is chosen: it can always be learned again from the
//! acceptors, so the file is a cache that makes restarts and reads cheap, not a vote.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use synodos::{Entry, Error, Log, Result, Slot};
use tokio::sync::watch;

/// The chosen log of one node.
pub(crate) struct Store {
    mirror: Mutex<Vec<Bytes>>,
    disk: Mutex<Option<Box<dyn Log + Send>>>,
    /// The number of chosen entries (every slot below it is here).
    up_to: watch::Sender<Slot>,
}

impl Store {
    /// A store over `log` (`None`: memory only), loading what it holds. The records must be
    /// slots 0, 1, 2, ... (a store this module wrote).
    pub(crate) fn open(log: Option<Box<dyn Log + Send>>) -> Result<Self> {
        let mut values = Vec::new();
        if let Some(log) = &log {
            log.range(0, u64::MAX, &mut |slot, data| {
                if slot != values.len() as u64 {
                    return Err(Error::InvalidArgument(format!(
                        "the chosen log holds slot {slot} after {} entries: it is damaged; delete the \
                         node's chosen/ directory and it is learned again from the acceptors",
                        values.len()
                    )));
                }
                values.push(Bytes::copy_from_slice(data));
                Ok(())
            })?;
        }
        let (up_to, _) = watch::channel(values.len() as Slot);
        Ok(Store { mirror: Mutex::new(values), disk: Mutex::new(log), up_to })
    }

    /// Every slot below this is chosen and here.
    pub(crate) fn chosen_up_to(&self) -> Slot {
        *self.up_to.borrow()
    }

    /// Told each time [`chosen_up_to`](Self::chosen_up_to) moves.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Slot> {
        self.up_to.subscribe()
    }

    /// Add `entries`, which must go on from [`chosen_up_to`](Self::chosen_up_to) without a
    /// gap (entries below it are skipped). Writes them with one fsync; returns how long the
    /// write took (`None` for a memory store or nothing new). Blocking: call it off the
    /// async threads.
    pub(crate) fn extend(&self, entries: &[Entry]) -> Result<Option<Duration>> {
        let start = self.chosen_up_to();
        let fresh: Vec<&Entry> = entries.iter().filter(|e| e.slot >= start).collect();
        let Some(first) = fresh.first() else { return Ok(None) };
        if first.slot != start || fresh.windows(2).any(|w| Some(w[1].slot) != w[0].slot.checked_add(1)) {
            return Err(Error::InvalidArgument(format!(
                "learned entries must go on from slot {start} without a gap (got slot {})",
                first.slot
            )));
        }
        let mut disk = self.disk.lock().unwrap_or_else(|p| p.into_inner());
        let mut took = None;
        if let Some(log) = disk.as_mut() {
            let records: Vec<(u64, &[u8])> = fresh.iter().map(|e| (e.slot, e.value.as_slice())).collect();
            let t = Instant::now();
            log.record_batch(&records)?;
            took = Some(t.elapsed());
        }
        let mut mirror = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        mirror.extend(fresh.iter().map(|e| Bytes::copy_from_slice(&e.value)));
        let len = mirror.len() as Slot;
        drop(mirror);
        drop(disk);
        self.up_to.send_replace(len);
        Ok(took)
    }

    /// Up to `max` chosen entries from slot `from` on.
    pub(crate) fn read(&self, from: Slot, max: usize) -> Vec<(Slot, Bytes)> {
        let mirror = self.mirror.lock().unwrap_or_else(|p| p.into_inner());
        let Ok(start) = usize::try_from(from) else { return Vec::new() };
        mirror.iter().enumerate().skip(start).take(max).map(|(i, v)| (i as Slot, v.clone())).collect()
    }
}

/// A store shared by the learner, the routes and the streams.
pub(crate) type SharedStore = Arc<Store>;

#[cfg(test)]
mod tests {
    use super::*;

    fn e(slot: Slot, v: &str) -> Entry {
        Entry { slot, value: v.as_bytes().to_vec() }
    }

    #[test]
    fn extends_in_order_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let open = || Store::open(Some(Box::new(synodos::FileLog::open(dir.path().join("chosen")).unwrap()))).unwrap();
        let store = open();
        assert_eq!(store.chosen_up_to(), 0);
        store.extend(&[e(0, "a"), e(1, "b")]).unwrap();
        assert!(store.extend(&[e(3, "d")]).is_err(), "a gap is refused");
        store.extend(&[e(1, "b"), e(2, "c")]).unwrap();
        assert_eq!(store.chosen_up_to(), 3);
        assert_eq!(store.read(1, 10).len(), 2);
        assert!(store.read(u64::MAX, 10).is_empty());
        drop(store);
        let store = open();
        assert_eq!(store.chosen_up_to(), 3);
        assert_eq!(store.read(2, 1), vec![(2, Bytes::from_static(b"c"))]);
    }
}
