//! [`TimedIo`]: a connection's socket with two deadlines, so that no peer can hold a
//! connection (and what it buffers) for free:
//! - idle: no byte read or written for `idle` closes it (a silent or trickling-nothing peer);
//! - write stall: a write that cannot make progress for `stall` closes it (a peer that
//!   stopped reading, such as a stalled observe reader whose socket buffers are full).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `at + d`, or a year on for a `d` too long to add (a limit of `Duration::MAX`).
fn after(at: Instant, d: Duration) -> Instant {
    at.checked_add(d).or_else(|| at.checked_add(Duration::from_secs(365 * 86_400))).unwrap_or(at)
}

pub(crate) struct TimedIo<T> {
    inner: T,
    idle: Duration,
    stall: Duration,
    last_activity: Instant,
    idle_timer: Pin<Box<Sleep>>,
    /// Armed while a write is pending.
    stall_timer: Option<Pin<Box<Sleep>>>,
}

impl<T> TimedIo<T> {
    pub fn new(inner: T, idle: Duration, stall: Duration) -> Self {
        let now = Instant::now();
        TimedIo {
            inner,
            idle,
            stall,
            last_activity: now,
            idle_timer: Box::pin(tokio::time::sleep_until(after(now, idle))),
            stall_timer: None,
        }
    }

    fn active(&mut self) {
        self.last_activity = Instant::now();
    }

    /// Called while the read side waits: fail once nothing moved for `idle`.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        // The timer is moved only when it fires early (activity since it was set), so a busy
        // connection costs no timer update per request.
        loop {
            match self.idle_timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let deadline = after(self.last_activity, self.idle);
                    if Instant::now() >= deadline {
                        return Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "connection idle"));
                    }
                    self.idle_timer.as_mut().reset(deadline);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Called while a write waits: fail once it waited `stall`.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let stall = self.stall;
        let timer = self.stall_timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "peer stopped reading")),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for TimedIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.active();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.poll_idle(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for TimedIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write(cx, data) {
            Poll::Ready(r) => {
                this.stall_timer = None;
                if matches!(r, Ok(n) if n > 0) {
                    this.active();
                }
                Poll::Ready(r)
            }
            Poll::Pending => match this.poll_stall(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.stall_timer = None;
                if matches!(r, Ok(n) if n > 0) {
                    this.active();
                }
                Poll::Ready(r)
            }
            Poll::Pending => match this.poll_stall(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(r) => {
                this.stall_timer = None;
                Poll::Ready(r)
            }
            Poll::Pending => match this.poll_stall(cx) {
                Poll::Ready(e) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
