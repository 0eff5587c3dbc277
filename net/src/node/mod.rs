//! The synodos node (`synodos serve --peers`): the served acceptor, a proposer that can lead
//! (a [`ReplicatedLog`] over every member's acceptor), and a learner that keeps the chosen
//! log on disk, all on one server.
//!
//! - `POST /v1/append`, `POST /v1/propose`: any node takes them; one that does not lead
//!   forwards them to the one that does ([`leader`]), so many writers never duel.
//! - `GET /v1/log?from=N[&follow=true]`: the chosen entries, from the learner ([`learner`],
//!   [`store`]).
//! - `GET /metrics`: Prometheus text ([`metrics`]).
//!
//! [`NodeClient`] is the client of these routes.

mod client;
mod follow;
mod leader;
mod learner;
mod metrics;
mod peer;
mod routes;
mod store;
pub mod wire;

use std::net::ToSocketAddrs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use synodos::{CounterIdGenerator, Log, Proposer, ProposerConfig, ReplicatedLog, TokioSleeper};
use tokio::sync::{watch, Notify};

pub use client::{FollowStream, NodeClient};

use self::http::Http;
use self::leader::Leadership;
use self::metrics::Metrics;
use self::peer::Peer;
use self::store::{SharedStore, Store};
use crate::error::NetError;
use crate::server::{serve_with, Extension, ServeOptions, Server};
use crate::{ClientOptions, HttpAcceptor, ServedAcceptor};

mod http;

/// How a node reaches its peers, where it keeps the chosen log, and its timings.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Every member's acceptor URL, this node's own included.
    pub peers: Vec<String>,
    /// How to reach them (token, CA, client certificate, timeouts). The cluster defaults to
    /// the server's.
    pub client: ClientOptions,
    /// Where the learner keeps the chosen log (a FileLog); `None`: in memory (it is learned
    /// again from the acceptors after a restart).
    pub data: Option<PathBuf>,
    /// The proposer's timeouts, retries, batching and pipeline.
    pub proposer: ProposerConfig,
    /// A slot that stays undecided this long, under a ballot older than one seen since (its
    /// proposer died and another leads), is decided by the learner (any slot after ten times
    /// as long).
    pub repair_after: Duration,
    /// How often an idle learner asks the acceptors for news.
    pub poll_interval: Duration,
    /// How long a leader that did not answer is passed over (this node appends itself).
    pub suspect_for: Duration,
    #[cfg(feature = "nemesis-bugs")]
    #[doc(hidden)]
    /// Test-only (`nemesis-bugs`): a bug injected in the node's proposer, learner or
    /// chosen log (see [`crate::nemesis`]).
    pub bug: Option<crate::nemesis::Bug>,
}

impl NodeOptions {
    /// A node over these peers' acceptors, with the default timings and an in-memory log.
    pub fn new<S: Into<String>>(peers: impl IntoIterator<Item = S>) -> Self {
        NodeOptions {
            peers: peers.into_iter().map(Into::into).collect(),
            // A forward waits for the leader's append: a leader that does not answer within this
            // is passed over (and this node appends itself).
            client: ClientOptions::new().timeout(Duration::from_secs(2)),
            data: None,
            // Above the default 1 s: on a loaded machine a batch that times out is decided
            // again slot by slot, which loads it further.
            // One batch in flight: before the core took the lead once per handle, more made
            // the leader re-run phase 1 every few appends; measured since, 1 is as fast or
            // faster here (docs/BENCHMARKS.md, "Node").
            proposer: ProposerConfig { call_timeout: Duration::from_secs(2), pipeline: 1, ..ProposerConfig::default() },
            repair_after: Duration::from_secs(1),
            poll_interval: Duration::from_millis(20),
            suspect_for: Duration::from_secs(2),
            #[cfg(feature = "nemesis-bugs")]
            bug: None,
        }
    }
}

/// One node: what the routes, the learner and the leader logic share.
pub(crate) struct Node {
    id: u64,
    peers: Vec<Peer>,
    log: ReplicatedLog<Peer, TokioSleeper>,
    store: SharedStore,
    leadership: Leadership,
    http: Http,
    metrics: Arc<Metrics>,
    /// Woken after a local append: there is something to learn.
    nudge: Notify,
    /// The server's state, once it runs (its own acceptor, in process).
    local: peer::Local,
    /// Set once the server drains: the learner and the log streams end.
    stop: watch::Sender<bool>,
    call_timeout: Duration,
    repair_after: Duration,
    poll_interval: Duration,
    heartbeat: Duration,
    #[cfg(feature = "nemesis-bugs")]
    mutation: Option<synodos::Mutation>,
}

/// Serve `acceptor` on `addr` as node `options.acceptor_id` of a cluster whose members'
/// acceptors are at `node.peers` (this one's included): the acceptor's routes, plus
/// append, propose, the chosen log and metrics (see `net/README.md`). Node ids (the acceptor
/// ids) must be 1 to 65535: they are the low bits of the node's ballots, which is how every
/// node tells who leads.
pub fn serve_node<P, A>(
    acceptor: ServedAcceptor<P, A>,
    addr: impl ToSocketAddrs,
    options: ServeOptions,
    node: NodeOptions,
) -> Result<Server, NetError>
where
    P: Log + Send + 'static,
    A: Log + Send + 'static,
{
    let id = options.acceptor_id;
    let node_id = u16::try_from(id)
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| NetError::Config(format!("node id {id}: a node's --id must be 1 to 65535")))?;
    if node.peers.is_empty() {
        return Err(NetError::Config("a node needs --peers: every member's URL, its own included".into()));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = node.peers.iter().find(|p| !seen.insert(p.trim_end_matches('/'))) {
        return Err(NetError::Config(format!("--peers names {dup} twice: give each member's URL once")));
    }
    let client = match node.client.expected_cluster() {
        Some(_) => node.client.clone(),
        None => node.client.clone().cluster(options.cluster.clone()),
    };
    let client = match (client.bearer(), options.tokens.first()) {
        (None, Some(token)) => client.token(String::from_utf8_lossy(token).into_owned()),
        _ => client,
    };
    let metrics = Arc::new(Metrics::new());
    let local: peer::Local = Arc::new(std::sync::OnceLock::new());
    let peers = node
        .peers
        .iter()
        .enumerate()
        .map(|(i, url)| {
            HttpAcceptor::new(url, client.clone())
                .map(|a| Peer::new(a, id, local.clone(), (i == 0).then(|| metrics.clone())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let store = match &node.data {
        Some(dir) => {
            let log = synodos::FileLog::open(dir.join("chosen")).map_err(NetError::Acceptor)?;
            Store::open(Some(chosen_log(log, &node)))
        }
        None => Store::open(None),
    }
    .map_err(NetError::Acceptor)?;
    let store = Arc::new(store);
    let proposer = Proposer::with_config(
        peers.clone(),
        Arc::new(CounterIdGenerator::new(node_id)),
        TokioSleeper,
        node.proposer.clone(),
    )
    .map_err(NetError::Acceptor)?;
    #[allow(unused_mut)]
    let mut log = ReplicatedLog::starting_at(proposer, store.chosen_up_to());
    #[cfg(feature = "nemesis-bugs")]
    log.set_mutation(node.bug.and_then(crate::nemesis::Bug::node_mutation));
    let (stop, _) = watch::channel(false);
    let this = Arc::new(Node {
        id,
        peers,
        log,
        store,
        leadership: Leadership::new(id, node.suspect_for),
        http: Http::new(&client)?,
        metrics,
        nudge: Notify::new(),
        local,
        stop,
        call_timeout: node.proposer.call_timeout,
        repair_after: node.repair_after,
        poll_interval: node.poll_interval.max(Duration::from_millis(1)),
        heartbeat: options.limits.heartbeat,
        #[cfg(feature = "nemesis-bugs")]
        mutation: node.bug.and_then(crate::nemesis::Bug::node_mutation),
    });
    let extension: Arc<dyn Extension> = this.clone();
    let server = serve_with(acceptor, addr, options, Some(extension))?;
    let runtime = server.runtime().ok_or_else(|| NetError::Config("the server stopped while starting".into()))?;
    runtime.spawn(learner::run(this.clone()));
    runtime.spawn(contact(this));
    Ok(server)
}

/// The chosen log's storage (test builds may make it acknowledge writes before they are durable).
fn chosen_log(log: synodos::FileLog, _node: &NodeOptions) -> Box<dyn Log + Send> {
    #[cfg(feature = "nemesis-bugs")]
    if _node.bug == Some(crate::nemesis::Bug::LazyFsync) {
        return Box::new(crate::nemesis::LazyLog::new(log));
    }
    Box::new(log)
}

/// First contact with every peer (their ids tell which URL is which node), retried until
/// each answered once or the node stops.
async fn contact(node: Arc<Node>) {
    let mut stop = node.stop.subscribe();
    let mut pending: Vec<Peer> = node.peers.clone();
    while !pending.is_empty() {
        let checks = pending.iter().map(|p| p.acceptor.check());
        let results = futures::future::join_all(checks).await;
        let mut left = Vec::new();
        for (peer, result) in pending.into_iter().zip(results) {
            if let Err(e) = result {
                tracing::debug!("peer {}: {e}", peer.acceptor.url());
                left.push(peer);
            }
        }
        pending = left;
        if pending.is_empty() {
            if !node.peers.iter().any(|p| p.acceptor.acceptor_id() == Some(node.id)) {
                tracing::warn!("--peers does not name this node's own URL (acceptor {}): add it", node.id);
            }
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = stop.changed() => return,
        }
    }
}
