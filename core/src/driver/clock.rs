//! The clocks a [`ServerIdGenerator`](super::ServerIdGenerator) reads. The protocol's state
//! machines never read a clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in milliseconds. Only id generators read it; the protocol
/// state machines never do.
pub trait Clock: Send + Sync {
    /// Milliseconds since some fixed origin (the Unix epoch for [`SystemClock`]).
    fn now_millis(&self) -> u64;
}

/// The wall clock. It may go backwards (NTP steps); the generators do not mind.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
    }
}

/// A clock that moves only when told to, for tests. Clones share the same time.
///
/// ```
/// use synodos::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance(5);
/// assert_eq!(clock.now_millis(), 1_005);
/// clock.set(10); // backwards is allowed
/// assert_eq!(clock.now_millis(), 10);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock reading `millis`.
    pub fn new(millis: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(millis)))
    }
    /// Move the clock forward by `millis`.
    pub fn advance(&self, millis: u64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
    /// Set the clock to `millis` (which may be in the past).
    pub fn set(&self, millis: u64) {
        self.0.store(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}
