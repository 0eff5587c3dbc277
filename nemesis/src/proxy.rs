//! A fault-injecting TCP proxy per directed link (node i's connections to node j), on
//! 127.0.0.1. Each link has a [`Mode`] the harness sets at any time:
//!
//! - `Pass`: bytes go both ways;
//! - `Drop`: nothing goes either way (a partition): connections stay open and silent, so
//!   the peer sees timeouts, not refusals;
//! - `OneWay`: requests (i to j) arrive, the answers (j to i) are lost;
//! - `Delay(ms)`: every chunk waits that long, both ways.
//!
//! A connection that lost bytes can never carry a valid HTTP exchange again, so once the
//! link passes again it is closed (the client reconnects), as a TCP connection that timed out
//! during a partition would be.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What a link does with its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Pass,
    Drop,
    OneWay,
    Delay(u64),
}

/// One directed link: its listening address and its mode.
pub(crate) struct Link {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Link {
    /// A proxy on a free loopback port forwarding to `target`.
    pub(crate) async fn start(target: SocketAddr) -> Result<Link, String> {
        let listener =
            TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("proxy: cannot bind 127.0.0.1:0: {e}"))?;
        let addr = listener.local_addr().map_err(|e| format!("proxy: {e}"))?;
        let (mode, _) = watch::channel(Mode::Pass);
        let rx = mode.subscribe();
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else { continue };
                let rx = rx.clone();
                tokio::spawn(async move {
                    // The node behind may be down: then the connection is closed, as a refused
                    // connection would be (unless the link drops everything).
                    match TcpStream::connect(target).await {
                        Ok(outbound) => pipe(inbound, outbound, rx).await,
                        Err(_) => drop(inbound),
                    }
                });
            }
        });
        Ok(Link { addr, mode, task })
    }

    pub(crate) fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    pub(crate) fn mode(&self) -> Mode {
        *self.mode.borrow()
    }
}

async fn pipe(inbound: TcpStream, outbound: TcpStream, mode: watch::Receiver<Mode>) {
    let _ = inbound.set_nodelay(true);
    let _ = outbound.set_nodelay(true);
    let (ir, iw) = inbound.into_split();
    let (or, ow) = outbound.into_split();
    let poisoned = Arc::new(AtomicBool::new(false));
    // When either direction ends, both sockets are dropped: the connection closes.
    tokio::select! {
        () = copy(ir, ow, mode.clone(), poisoned.clone(), true) => {}
        () = copy(or, iw, mode, poisoned, false) => {}
    }
}

/// Copy one direction (`request`: from the connecting node to the target) under the mode.
async fn copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
    poisoned: Arc<AtomicBool>,
    request: bool,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            },
            changed = mode.changed() => {
                if changed.is_err() {
                    break;
                }
                if poisoned.load(Ordering::SeqCst) && *mode.borrow() != Mode::Drop && *mode.borrow() != Mode::OneWay {
                    break;
                }
                continue;
            }
        };
        let now = *mode.borrow();
        let lose = match now {
            Mode::Drop => true,
            Mode::OneWay => !request,
            Mode::Pass | Mode::Delay(_) => false,
        };
        if lose {
            poisoned.store(true, Ordering::SeqCst);
            continue;
        }
        if poisoned.load(Ordering::SeqCst) {
            break;
        }
        if let Mode::Delay(ms) = now {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    // Closing both halves ends the other direction too (its read sees EOF or a reset).
    let _ = to.shutdown().await;
    poisoned.store(true, Ordering::SeqCst);
}
