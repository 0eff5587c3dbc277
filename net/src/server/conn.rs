//! The accept loop and one connection's life: TLS handshake, HTTP/1.1 or HTTP/2 (auto),
//! deadlines, and graceful shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::io::TimedIo;
use super::routes::{self, State};

fn builder(state: &State) -> auto::Builder<TokioExecutor> {
    let limits = &state.limits;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_h2_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        // Bounded buffers per stream: a reader that stops reading holds at most this much.
        .max_send_buf_size(256 << 10);
    builder
}

pub(crate) async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
    done: futures::channel::oneshot::Sender<()>,
) {
    let builder = Arc::new(builder(&state));
    let permits = Arc::new(Semaphore::new(state.limits.max_connections.max(1)));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        tracing::warn!("connection from {peer} refused: {} connections open", state.limits.max_connections);
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let (state, builder, tls, shutdown) = (state.clone(), builder.clone(), tls.clone(), shutdown.clone());
                    conns.spawn(async move {
                        connection(tcp, tls, state, builder, shutdown).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drain = state.limits.drain_timeout;
    let drained = tokio::time::timeout(drain, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("{} connection(s) still busy after {drain:?}: closing them", conns.len());
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    drop(state);
    let _ = done.send(());
}

async fn connection(
    tcp: TcpStream,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    shutdown: watch::Receiver<bool>,
) {
    let limits = &state.limits;
    let io = TimedIo::new(tcp, limits.idle_timeout, limits.write_timeout);
    match tls {
        None => serve(io, state, builder, shutdown).await,
        Some(tls) => match tokio::time::timeout(limits.header_timeout, tls.accept(io)).await {
            Ok(Ok(stream)) => serve(stream, state, builder, shutdown).await,
            Ok(Err(e)) => tracing::debug!("TLS handshake failed: {e}"),
            Err(_) => tracing::debug!("TLS handshake timed out"),
        },
    }
}

async fn serve<I>(
    io: I,
    state: Arc<State>,
    builder: Arc<auto::Builder<TokioExecutor>>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let first_deadline = state.limits.header_timeout;
    let seen_request = Arc::new(AtomicBool::new(false));
    let service = {
        let seen_request = seen_request.clone();
        hyper::service::service_fn(move |req| {
            seen_request.store(true, Ordering::Relaxed);
            routes::handle(state.clone(), req)
        })
    };
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    if *shutdown.borrow_and_update() {
        conn.as_mut().graceful_shutdown();
    }
    let first = tokio::time::sleep(first_deadline);
    tokio::pin!(first);
    let mut first_armed = true;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            changed = shutdown.changed() => {
                conn.as_mut().graceful_shutdown();
                if changed.is_err() {
                    // The server is gone; finish what is in flight.
                    let _ = conn.as_mut().await;
                    return;
                }
            }
            // A connection (an HTTP/2 one: HTTP/1.1 has its header timeout) that sends no
            // request in time is dropped.
            _ = &mut first, if first_armed => {
                if !seen_request.load(Ordering::Relaxed) {
                    tracing::debug!("no request within {first_deadline:?}: dropping the connection");
                    return;
                }
                first_armed = false;
            }
        }
    }
}
