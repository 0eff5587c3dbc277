//! [`ServedAcceptor`]: the acceptor a server runs, on a thread of its own. Requests from every
//! connection queue up for that thread; those that arrive while it writes are taken together
//! and written together by the core's [`Acceptor::handle_group`] (group commit: one fsync per
//! log for many requests), and every reply of the batch leaves only after those writes.
//!
//! It is the core's [`Acceptor`] over two [`Log`]s, with its guarantees: a reply only after
//! its record is durable, closed for good after a storage failure; and observers that fall
//! behind are cut off rather than buffered.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use synodos::{
    Acceptor, AcceptorAnswer, AcceptorCall, Batch, Error, InProcessAcceptor, Log, MemoryLog, Promise, Proposal,
    Request, Result, Slot,
};
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
    engine: Engine<P, A>,
    /// Run on the connections' threads, under a lock, instead of a thread of its own.
    inline: bool,
}

/// Where the acceptor's state lives.
enum Engine<P: Log, A: Log> {
    /// Owned by the server.
    Owned(Acceptor<P, A>),
    /// Shared with the process that serves it (a binding's `Acceptor`, also called in
    /// process): each group is one call on the shared acceptor.
    Shared(InProcessAcceptor<P, A>),
}

/// What the server publishes of an acceptor after each group.
#[derive(Debug, Default, Clone)]
struct Snapshot {
    promised: u64,
    frontier: u64,
    trimmed: u64,
    failure: Option<String>,
}

fn snapshot<P: Log, A: Log>(a: &Acceptor<P, A>) -> Snapshot {
    let core = a.core();
    Snapshot {
        promised: core.promised(),
        frontier: core.frontier(),
        trimmed: core.trimmed_below(),
        failure: a.is_closed().then(|| a.failure().unwrap_or("closed").to_string()),
    }
}

impl<P: Log + Send + 'static, A: Log + Send + 'static> Engine<P, A> {
    /// Decide and write `calls` as one group; the answers, in order, and the state after.
    fn handle_group(&mut self, calls: Vec<AcceptorCall>) -> (Vec<AcceptorCall>, Vec<Result<AcceptorAnswer>>, Snapshot) {
        match self {
            Engine::Owned(a) => {
                let answers = a.handle_group(&calls);
                (calls, answers, snapshot(a))
            }
            Engine::Shared(a) => {
                let n = calls.len();
                let (tx, rx) = std_mpsc::channel();
                // The calls go in and come back (the observers are told of what was accepted).
                let result = a.with_blocking(move |a| {
                    let answers = a.handle_group(&calls);
                    let _ = tx.send(calls);
                    Ok((answers, snapshot(a)))
                });
                let calls = rx.try_recv().unwrap_or_default();
                match result {
                    Ok((answers, snap)) => (calls, answers, snap),
                    // The shared acceptor is unreachable (its thread stopped): every call fails.
                    Err(e) => {
                        let failure = Some(e.to_string());
                        (calls, (0..n).map(|_| Err(e.clone())).collect(), Snapshot { failure, ..Snapshot::default() })
                    }
                }
            }
        }
    }

    fn accepted_from(&mut self, from: Slot) -> Result<Vec<Proposal>> {
        let request = Request { slot: from, ..Request::default() };
        match self {
            Engine::Owned(a) => a.accepted_from(&request),
            Engine::Shared(a) => a.with_blocking(move |a| a.accepted_from(&request)),
        }
    }

    fn snapshot(&mut self) -> Snapshot {
        match self {
            Engine::Owned(a) => snapshot(a),
            Engine::Shared(a) => a
                .with_blocking(|a| Ok(snapshot(a)))
                .unwrap_or_else(|e| Snapshot { failure: Some(e.to_string()), ..Snapshot::default() }),
        }
    }
}

impl<P: Log, A: Log> std::fmt::Debug for ServedAcceptor<P, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("ServedAcceptor");
        if let Engine::Owned(a) = &self.engine {
            d.field("promised", &a.core().promised()).field("frontier", &a.core().frontier());
        }
        d.field("shared", &matches!(self.engine, Engine::Shared(_))).finish()
    }
}

impl ServedAcceptor {
    /// An acceptor over two fresh [`MemoryLog`]s (tests, benchmarks: nothing survives a
    /// restart), run [`inline`](ServedAcceptor::inline).
    pub fn in_memory() -> Self {
        ServedAcceptor { engine: Engine::Owned(Acceptor::in_memory()), inline: true }
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
        Ok(ServedAcceptor { engine: Engine::Owned(Acceptor::new(promise_log, accept_log)?), inline: false })
    }

    /// Serve an acceptor that this process also calls in process (a binding's `Acceptor`,
    /// handed to local proposers too). Requests are still taken in groups, and each group is
    /// one call on the shared acceptor (one write per log when its logs fsync). Observe
    /// streams see what arrives over the network; accepts made in process show up on the
    /// next `observe` from a slot, not on a following stream.
    ///
    /// ```
    /// use synodos::{Acceptor, InProcessAcceptor};
    /// use synodos_net::{serve, ServeOptions, ServedAcceptor};
    /// let shared = InProcessAcceptor::new(Acceptor::in_memory(), false).unwrap();
    /// let server = serve(ServedAcceptor::shared(shared.clone()), "127.0.0.1:0", ServeOptions::new(1, "demo")).unwrap();
    /// server.shutdown();
    /// ```
    pub fn shared(acceptor: InProcessAcceptor<P, A>) -> Self {
        ServedAcceptor { engine: Engine::Shared(acceptor), inline: false }
    }

    #[cfg(feature = "nemesis-bugs")]
    #[doc(hidden)]
    /// Test-only (`nemesis-bugs`): [`new`](Self::new) with a protocol bug injected.
    pub fn new_mutated(promise_log: P, accept_log: A, mutation: Option<synodos::Mutation>) -> Result<Self> {
        Ok(ServedAcceptor {
            engine: Engine::Owned(Acceptor::new_mutated(promise_log, accept_log, mutation)?),
            inline: false,
        })
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

    /// The sans-IO state inside (`None` for a [`shared`](ServedAcceptor::shared) acceptor,
    /// whose state is behind its own lock or thread).
    pub fn core(&self) -> Option<&synodos::AcceptorCore> {
        match &self.engine {
            Engine::Owned(a) => Some(a.core()),
            Engine::Shared(_) => None,
        }
    }
}

/// What the acceptor thread is asked.
pub(crate) enum Command {
    Prepare(Request, oneshot::Sender<Result<Promise>>),
    Accept(Proposal, oneshot::Sender<Result<Proposal>>),
    AcceptBatch(Batch, oneshot::Sender<Result<Proposal>>),
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

impl<P: Log + Send + 'static, A: Log + Send + 'static> Inline for Mutex<Worker<P, A>> {
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
    let mut acceptor = acceptor;
    let last = acceptor.engine.snapshot();
    let mut worker =
        Worker { acceptor, observers: Vec::new(), observe_queue: observe_queue.max(1), status: status.clone(), last };
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
    observers: Vec<Observer>,
    observe_queue: usize,
    status: Arc<Status>,
    /// The acceptor's state after the last group.
    last: Snapshot,
}

/// Where the answer to one call of a group goes.
enum Reply {
    Promise(oneshot::Sender<Result<Promise>>),
    Proposal(oneshot::Sender<Result<Proposal>>),
}

impl Reply {
    fn send(self, answer: Result<AcceptorAnswer>) {
        let mismatch = || Error::Closed("the acceptor answered with the wrong kind of message".into());
        // A connection that went away drops its answer; the write stands.
        match (self, answer) {
            (Reply::Promise(tx), Ok(AcceptorAnswer::Promise(p))) => drop(tx.send(Ok(p))),
            (Reply::Proposal(tx), Ok(AcceptorAnswer::Proposal(p))) => drop(tx.send(Ok(p))),
            (Reply::Promise(tx), Err(e)) => drop(tx.send(Err(e))),
            (Reply::Proposal(tx), Err(e)) => drop(tx.send(Err(e))),
            (Reply::Promise(tx), Ok(_)) => drop(tx.send(Err(mismatch()))),
            (Reply::Proposal(tx), Ok(_)) => drop(tx.send(Err(mismatch()))),
        }
    }
}

impl<P: Log + Send + 'static, A: Log + Send + 'static> Worker<P, A> {
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

    fn handle(&mut self, commands: &mut Vec<Command>) {
        let mut calls = Vec::with_capacity(commands.len());
        let mut replies = Vec::with_capacity(commands.len());
        let mut observes = Vec::new();
        let mut end_streams = false;
        for command in commands.drain(..) {
            match command {
                Command::Prepare(request, reply) => {
                    calls.push(AcceptorCall::Prepare(request));
                    replies.push(Reply::Promise(reply));
                }
                Command::Accept(proposal, reply) => {
                    calls.push(AcceptorCall::Accept(proposal));
                    replies.push(Reply::Proposal(reply));
                }
                Command::AcceptBatch(batch, reply) => {
                    calls.push(AcceptorCall::AcceptBatch(batch));
                    replies.push(Reply::Proposal(reply));
                }
                Command::Observe { from, follow, reply } => observes.push((from, follow, reply)),
                Command::EndStreams => end_streams = true,
            }
        }
        // Decided in order, written with one barrier per log; every answer, granted or not,
        // leaves only after the writes (a failed write fails every call that waited for it,
        // and closes the acceptor for good).
        let was_closed = self.status.failed.load(Ordering::Relaxed);
        let (calls, answers, snap) = self.acceptor.engine.handle_group(calls);
        if let (false, Some(failure)) = (was_closed, &snap.failure) {
            tracing::error!("storage failure, the acceptor is closed for good: {failure}");
            self.status.failed.store(true, Ordering::Relaxed);
        }
        let closed = snap.failure.is_some();
        self.last = snap;
        // Every reply gets its answer, even if a shared acceptor kept the calls (its thread
        // stopped before it ran them): then the answers are errors and no one is notified.
        let mut calls = calls.into_iter();
        for (reply, answer) in replies.into_iter().zip(answers) {
            let call = calls.next();
            if !self.observers.is_empty() && matches!(&answer, Ok(AcceptorAnswer::Proposal(p)) if p.is_accepted()) {
                match call {
                    Some(AcceptorCall::Accept(mut p)) => {
                        p.promised = 0;
                        self.notify(p)
                    }
                    Some(AcceptorCall::AcceptBatch(b)) => b.proposals().for_each(|p| self.notify(p)),
                    Some(AcceptorCall::Prepare(_)) | None => {}
                }
            }
            reply.send(answer);
        }
        for (from, follow, reply) in observes {
            let _ = reply.send(self.subscribe(from, follow));
        }
        if end_streams {
            for observer in self.observers.drain(..) {
                observer.end(EndReason::Draining);
            }
        }
        if closed {
            for observer in self.observers.drain(..) {
                observer.end(EndReason::Closed);
            }
        }
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
        let backlog = self.acceptor.engine.accepted_from(from)?;
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
        let s = &self.status;
        s.promised.store(self.last.promised, Ordering::Relaxed);
        s.frontier.store(self.last.frontier, Ordering::Relaxed);
        s.trimmed.store(self.last.trimmed, Ordering::Relaxed);
        if self.last.failure.is_some() {
            s.failed.store(true, Ordering::Relaxed);
        }
    }
}
