//! [`Sleeper`]: the timers the driver waits on, supplied by the caller so that it runs on
//! any executor (or none).

use std::future::Future;
use std::time::Duration;

/// A timer, supplied by the caller so the driver runs on any executor (or none).
pub trait Sleeper {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()>;
}

impl<S: Sleeper + ?Sized> Sleeper for &S {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        (**self).sleep(duration)
    }
}

/// A native timer that works under any executor, including `futures::executor::block_on`
/// (one helper thread, from `futures-timer`).
#[cfg(feature = "std-timer")]
#[derive(Debug, Clone, Copy, Default)]
pub struct StdSleeper;

#[cfg(feature = "std-timer")]
impl Sleeper for StdSleeper {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        futures_timer::Delay::new(duration)
    }
}

/// `tokio::time::sleep`; use it inside a tokio runtime.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

#[cfg(feature = "tokio")]
impl Sleeper for TokioSleeper {
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(duration)
    }
}
