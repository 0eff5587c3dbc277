//! [`ServedAcceptor`]: the acceptor a server runs, on a thread of its own. Requests from every
//! connection queue up for that thread; those that arrive while it writes are taken together
//! and written with one [`persist_all`] per log (group commit: one fsync for many requests),
//! and every reply of the batch leaves only after those writes.
//!
//! It is the core's [`AcceptorCore`] (the rules, sans-IO) over two [`Log`]s, as the core's
//! [`synodos::Acceptor`] is, with the same guarantees: a reply only after its record is
//! durable (the [`synodos::Pending`] seal), closed for good after a storage failure, observers
//! that fall behind cut off rather than buffered.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use synodos::{persist_all, AcceptorCore, Error, Log, MemoryLog, Pending, Promise, Proposal, Request, Result, Slot};
use tokio::sync::{mpsc, oneshot};

use crate::api::EndReason;

/// Requests written in one batch at most.
const MAX_BATCH: usize = 1024;

/// An acceptor to [`serve`](crate::serve): the acceptor's rules over a promise log and an
/// accept log, rebuilt from whatever the logs hold.
///
/// ```
/// use synodos_net::ServedAcceptor;
/// let dir = tempfile::tempdir().unwrap();
/// let acceptor = ServedAcceptor::open_dir(dir.path()).unwrap(); // FileLogs in promises/ and accepts/
/// # drop(acceptor);
/// ```
pub struct ServedAcceptor<P: Log = MemoryLog, A: Log = MemoryLog> {
    core: AcceptorCore,
    promise_log: P,
    accept_log: A,
    /// Run on the connections' threads, under a lock, instead of a thread of its own.
    inline: bool,
}

impl<P: Log, A: Log> std::fmt::Debug for ServedAcceptor<P, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedAcceptor")
            .field("promised", &self.core.promised())
            .field("frontier", &self.core.frontier())
            .finish()
    }
}

impl ServedAcceptor {
    /// An acceptor over two fresh [`MemoryLog`]s (tests, benchmarks: nothing survives a
    /// restart), run [`inline`](ServedAcceptor::inline).
    pub fn in_memory() -> Self {
        ServedAcceptor {
            core: AcceptorCore::new(),
            promise_log: MemoryLog::new(),
            accept_log: MemoryLog::new(),
            inline: true,
        }
    }
}

#[cfg(unix)]
impl ServedAcceptor<synodos::FileLog, synodos::FileLog> {
    /// An acceptor over [`FileLog`](synodos::FileLog)s in `dir/promises` and `dir/accepts`
    /// (created if absent). Fails if another process holds them, or if a record is damaged
    /// (the error names the file and the offset).
    pub fn open_dir(dir: impl AsRef<std::path::Path>) -> Result<Self> {
        let dir = dir.as_ref();
        ServedAcceptor::new(synodos::FileLog::open(dir.join("promises"))?, synodos::FileLog::open(dir.join("accepts"))?)
    }
}

impl<P: Log, A: Log> ServedAcceptor<P, A> {
    /// An acceptor over these logs, recovering what they hold.
    pub fn new(promise_log: P, accept_log: A) -> Result<Self> {
        let core = AcceptorCore::recover(&promise_log, &accept_log)?;
        Ok(ServedAcceptor { core, promise_log, accept_log, inline: false })
    }

    /// Run the acceptor on the server's connection threads, one request at a time under a
    /// lock, instead of on a thread of its own that writes requests in batches. Only for logs
    /// whose writes never block (memory logs, which [`in_memory`](ServedAcceptor::in_memory)
    /// runs inline already): a blocking write (an fsync) would stall a connection thread, and
    /// group commit needs the thread.
    pub fn inline(mut self, inline: bool) -> Self {
        self.inline = inline;
        self
    }

    /// The sans-IO state inside.
    pub fn core(&self) -> &AcceptorCore {
        &self.core
    }
}

/// What the acceptor thread is asked.
pub(crate) enum Command {
    Prepare(Request, oneshot::Sender<Result<Promise>>),
    Accept(Proposal, oneshot::Sender<Result<Proposal>>),
    /// Accepted proposals from `from` on and, when `follow`, a live tail.
    Observe {
        from: Slot,
        follow: bool,
        reply: oneshot::Sender<Result<Subscription>>,
    },
    /// End every live tail (the server is shutting down).
    EndStreams,
}

/// An observe stream's start: what is accepted now, then (when following) each new accept.
pub(crate) struct Subscription {
    pub backlog: Vec<Proposal>,
    pub live: Option<Live>,
}

/// The live tail of an observe stream. When `rx` ends, `reason` says why.
pub(crate) struct Live {
    pub rx: mpsc::Receiver<Proposal>,
    pub reason: Arc<Mutex<Option<EndReason>>>,
}

struct Observer {
    from: Slot,
    tx: mpsc::Sender<Proposal>,
    reason: Arc<Mutex<Option<EndReason>>>,
}

impl Observer {
    fn end(self, reason: EndReason) {
        if let Ok(mut r) = self.reason.lock() {
            *r = Some(reason);
        }
    }
}

/// What the acceptor thread publishes after each batch, for `/v1/info` without a round trip
/// through its queue.
#[derive(Debug, Default)]
pub(crate) struct Status {
    pub promised: AtomicU64,
    pub frontier: AtomicU64,
    pub trimmed: AtomicU64,
    pub requests: AtomicU64,
    pub batches: AtomicU64,
    /// Set after a storage failure: the acceptor refuses everything.
    pub failed: AtomicBool,
}

/// How requests reach the acceptor: the queue of its thread, or a direct call under a lock
/// for logs that never block (memory logs: no thread hop per request).
#[derive(Clone)]
enum Route {
    Queue(std_mpsc::SyncSender<Command>),
    Inline(Arc<dyn Inline>),
}

/// An acceptor run on the caller's thread, one command at a time.
trait Inline: Send + Sync {
    fn run(&self, command: Command);
}

impl<P: Log + Send, A: Log + Send> Inline for Mutex<Worker<P, A>> {
    fn run(&self, command: Command) {
        // A panic in a log poisons the lock: the command is dropped, so its caller gets no
        // answer and reports the acceptor as stopped.
        let Ok(mut worker) = self.lock() else { return };
        let mut commands = vec![command];
        worker.handle(&mut commands);
        worker.status.requests.fetch_add(1, Ordering::Relaxed);
        worker.status.batches.fetch_add(1, Ordering::Relaxed);
        worker.publish();
    }
}

/// The way into a running acceptor.
#[derive(Clone)]
pub(crate) struct AcceptorHandle {
    route: Route,
    pub status: Arc<Status>,
}

/// Why a command did not reach the acceptor.
pub(crate) enum Refused {
    /// The queue is full.
    Busy,
    /// The acceptor thread has stopped.
    Gone,
}

impl AcceptorHandle {
    pub fn send(&self, command: Command) -> std::result::Result<(), Refused> {
        match &self.route {
            Route::Queue(tx) => tx.try_send(command).map_err(|e| match e {
                std_mpsc::TrySendError::Full(_) => Refused::Busy,
                std_mpsc::TrySendError::Disconnected(_) => Refused::Gone,
            }),
            Route::Inline(acceptor) => {
                acceptor.run(command);
                Ok(())
            }
        }
    }

    /// Send, waiting for room if the queue is full (the shutdown's one command).
    pub fn send_blocking(&self, command: Command) {
        match &self.route {
            Route::Queue(tx) => {
                let _ = tx.send(command);
            }
            Route::Inline(acceptor) => acceptor.run(command),
        }
    }
}

/// Start the acceptor: on a thread of its own (it stops once every [`AcceptorHandle`] is
/// dropped), or inline for an acceptor whose logs never block.
pub(crate) fn start<P, A>(
    acceptor: ServedAcceptor<P, A>,
    queue: usize,
    observe_queue: usize,
) -> std::io::Result<(AcceptorHandle, Option<JoinHandle<()>>)>
where
    P: Log + Send + 'static,
    A: Log + Send + 'static,
{
    let status = Arc::new(Status::default());
    let inline = acceptor.inline;
    let mut worker = Worker {
        acceptor,
        failed: None,
        observers: Vec::new(),
        observe_queue: observe_queue.max(1),
        status: status.clone(),
    };
    worker.publish();
    if inline {
        let route = Route::Inline(Arc::new(Mutex::new(worker)));
        return Ok((AcceptorHandle { route, status }, None));
    }
    let (tx, rx) = std_mpsc::sync_channel(queue.max(1));
    let thread = std::thread::Builder::new().name("synodos-acceptor".into()).spawn(move || worker.run(rx))?;
    Ok((AcceptorHandle { route: Route::Queue(tx), status }, Some(thread)))
}

struct Worker<P: Log, A: Log> {
    acceptor: ServedAcceptor<P, A>,
    failed: Option<String>,
    observers: Vec<Observer>,
    observe_queue: usize,
    status: Arc<Status>,
}

/// One batch's replies, sent once its writes are durable.
#[derive(Default)]
struct Batch {
    prepares: Vec<Pending<Promise>>,
    prepare_replies: Vec<oneshot::Sender<Result<Promise>>>,
    accepts: Vec<Pending<Proposal>>,
    accept_replies: Vec<oneshot::Sender<Result<Proposal>>>,
    /// The proposals of `accepts`, for the observers (only kept when there are some).
    accepted: Vec<Proposal>,
    refused_prepares: Vec<(oneshot::Sender<Result<Promise>>, Error)>,
    refused_accepts: Vec<(oneshot::Sender<Result<Proposal>>, Error)>,
    observes: Vec<(Slot, bool, oneshot::Sender<Result<Subscription>>)>,
    end_streams: bool,
}

impl<P: Log, A: Log> Worker<P, A> {
    fn run(mut self, rx: std_mpsc::Receiver<Command>) {
        let mut commands = Vec::with_capacity(64);
        while let Ok(first) = rx.recv() {
            commands.push(first);
            while commands.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(c) => commands.push(c),
                    Err(_) => break,
                }
            }
            let n = commands.len() as u64;
            self.handle(&mut commands);
            self.status.requests.fetch_add(n, Ordering::Relaxed);
            self.status.batches.fetch_add(1, Ordering::Relaxed);
            self.publish();
        }
        for observer in self.observers.drain(..) {
            observer.end(EndReason::Draining);
        }
    }

    fn closed(&self) -> Option<Error> {
        self.failed.as_ref().map(|why| Error::Closed(format!("acceptor stopped after a storage failure: {why}")))
    }

    fn handle(&mut self, commands: &mut Vec<Command>) {
        let mut batch = Batch::default();
        let core = &mut self.acceptor.core;
        for command in commands.drain(..) {
            match command {
                Command::Prepare(request, reply) => match self.failed.is_some() {
                    true => batch.refused_prepares.push((reply, Error::Closed(String::new()))),
                    false => match core.prepare(&request) {
                        Ok(pending) => {
                            batch.prepares.push(pending);
                            batch.prepare_replies.push(reply);
                        }
                        Err(e) => batch.refused_prepares.push((reply, e)),
                    },
                },
                Command::Accept(proposal, reply) => match self.failed.is_some() {
                    true => batch.refused_accepts.push((reply, Error::Closed(String::new()))),
                    false => match core.accept(&proposal) {
                        Ok(pending) => {
                            batch.accepts.push(pending);
                            batch.accept_replies.push(reply);
                            if !self.observers.is_empty() {
                                batch.accepted.push(proposal);
                            }
                        }
                        Err(e) => batch.refused_accepts.push((reply, e)),
                    },
                },
                Command::Observe { from, follow, reply } => batch.observes.push((from, follow, reply)),
                Command::EndStreams => batch.end_streams = true,
            }
        }
        // The writes: at most one record (the highest promise) in the promise log and one
        // batch in the accept log, each one durability barrier. Every reply below, granted
        // or not, leaves only after both.
        let written = self.write(std::mem::take(&mut batch.prepares), std::mem::take(&mut batch.accepts));
        match written {
            Ok((promises, answers)) => {
                for (reply, promise) in batch.prepare_replies.drain(..).zip(promises) {
                    let _ = reply.send(Ok(promise));
                }
                let mut accepted = batch.accepted.drain(..);
                for (reply, answer) in batch.accept_replies.drain(..).zip(answers) {
                    let proposal = accepted.next();
                    if answer.is_accepted() {
                        if let Some(mut p) = proposal {
                            p.promised = 0;
                            self.notify(p);
                        }
                    }
                    let _ = reply.send(Ok(answer));
                }
            }
            Err(e) => {
                for reply in batch.prepare_replies.drain(..) {
                    let _ = reply.send(Err(e.clone()));
                }
                for reply in batch.accept_replies.drain(..) {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
        let closed = self.closed();
        for (reply, e) in batch.refused_prepares {
            let _ = reply.send(Err(refusal(e, &closed)));
        }
        for (reply, e) in batch.refused_accepts {
            let _ = reply.send(Err(refusal(e, &closed)));
        }
        for (from, follow, reply) in batch.observes {
            let _ = reply.send(self.subscribe(from, follow));
        }
        if batch.end_streams {
            for observer in self.observers.drain(..) {
                observer.end(EndReason::Draining);
            }
        }
        if self.failed.is_some() {
            for observer in self.observers.drain(..) {
                observer.end(EndReason::Closed);
            }
        }
    }

    /// Write a batch's records; on any failure close the acceptor for good (what is
    /// durable is unknown now, so nothing more may be acknowledged).
    #[allow(clippy::type_complexity)]
    fn write(
        &mut self,
        prepares: Vec<Pending<Promise>>,
        accepts: Vec<Pending<Proposal>>,
    ) -> Result<(Vec<Promise>, Vec<Proposal>)> {
        let a = &mut self.acceptor;
        let r = persist_all(prepares, &mut a.promise_log, &mut a.accept_log)
            .and_then(|promises| Ok((promises, persist_all(accepts, &mut a.promise_log, &mut a.accept_log)?)));
        if let Err(e) = &r {
            tracing::error!("storage failure, the acceptor is closed for good: {e}");
            self.failed = Some(e.to_string());
            self.status.failed.store(true, Ordering::Relaxed);
        }
        r
    }

    fn notify(&mut self, proposal: Proposal) {
        // A full queue means the reader fell behind: cut it off (its stream ends after what
        // it has, with reason "behind"; it reconnects from its last slot). A slow reader never
        // slows the acceptor or grows its memory.
        let mut i = 0;
        while i < self.observers.len() {
            let o = &self.observers[i];
            if proposal.slot < o.from {
                i += 1;
                continue;
            }
            match o.tx.try_send(proposal.clone()) {
                Ok(()) => i += 1,
                Err(mpsc::error::TrySendError::Full(_)) => self.observers.swap_remove(i).end(EndReason::Behind),
                Err(mpsc::error::TrySendError::Closed(_)) => drop(self.observers.swap_remove(i)),
            }
        }
    }

    fn subscribe(&mut self, from: Slot, follow: bool) -> Result<Subscription> {
        if let Some(e) = self.closed() {
            return Err(e);
        }
        let backlog: Vec<Proposal> = self.acceptor.core.accepted_from(from).collect();
        let live = follow.then(|| {
            let (tx, rx) = mpsc::channel(self.observe_queue);
            let reason = Arc::new(Mutex::new(None));
            self.observers.push(Observer { from, tx, reason: reason.clone() });
            Live { rx, reason }
        });
        Ok(Subscription { backlog, live })
    }

    fn publish(&mut self) {
        // Readers that went away leave closed senders behind; drop them here too.
        self.observers.retain(|o| !o.tx.is_closed());
        let core = &self.acceptor.core;
        let s = &self.status;
        s.promised.store(core.promised(), Ordering::Relaxed);
        s.frontier.store(core.frontier(), Ordering::Relaxed);
        s.trimmed.store(core.trimmed_below(), Ordering::Relaxed);
    }
}

/// A refusal from the rules, or "closed" for requests refused because of a failure.
fn refusal(e: Error, closed: &Option<Error>) -> Error {
    match (e, closed) {
        (Error::Closed(why), Some(closed)) if why.is_empty() => closed.clone(),
        (e, _) => e,
    }
}
