//! `synodos`: the command line. `synodos serve` serves one acceptor over FileLogs (and, with
//! `--peers`, a node: a leader, a learner log, append/read); the other commands are clients
//! of such nodes (`commands`), a local cluster for trying it out (`cluster`) and a benchmark
//! (`bench`).

#[path = "synodos/bench.rs"]
mod bench;
#[path = "synodos/cluster.rs"]
mod cluster;
#[path = "synodos/commands.rs"]
mod commands;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use synodos_net::{serve, serve_node, Limits, NetError, NodeOptions, ServeOptions, ServedAcceptor, ServerTls, Tokens};

const EXIT_CODES: &str = "\
Exit codes:
  0  stopped by SIGTERM or SIGINT, after a graceful shutdown
  1  an unexpected failure (the message says what)
  2  bad command line
  3  refused configuration: a non-loopback address without TLS or authentication, an
     unreadable or invalid certificate, key, CA or token file, or a data directory that
     belongs to another acceptor id or cluster
  4  the data directory is damaged or unreadable (the message names the file and offset)
  5  the data directory is in use by another server
  6  cannot listen on the address (in use, not local, no permission)";

#[derive(Parser)]
#[command(name = "synodos", version, about = "synodos: Paxos acceptors and nodes over the network", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve one acceptor over HTTP/1.1 and HTTP/2 (h2c, or h2 by ALPN under TLS).
    ///
    /// Prints one line on stdout once it serves ("synodos: serving acceptor N of cluster C
    /// on URL"); logs go to stderr. SIGTERM or SIGINT stops it gracefully.
    #[command(after_help = EXIT_CODES)]
    Serve(ServeArgs),
    /// Append a value to the log (any node takes it); prints its slot.
    #[command(after_help = commands::EXIT_CODES)]
    Append(commands::AppendArgs),
    /// Propose a value as the single decree (slot 0); prints the value chosen.
    #[command(after_help = commands::EXIT_CODES)]
    Propose(commands::ProposeArgs),
    /// Print the chosen entries from a slot on, one per line ("SLOT<TAB>VALUE").
    #[command(after_help = commands::EXIT_CODES)]
    Read(commands::ReadArgs),
    /// A table of the nodes: reachable, leader, promised, frontier, chosen-up-to.
    #[command(after_help = commands::EXIT_CODES)]
    Status(commands::StatusArgs),
    /// Start a cluster of nodes on loopback for trying synodos out; prints the --peers value.
    ///
    /// Stops them (SIGTERM, by pid) on Ctrl-C or SIGTERM.
    #[command(after_help = cluster::EXIT_CODES)]
    Cluster(cluster::ClusterArgs),
    /// Appends/s and latency for several numbers of concurrent clients.
    #[command(after_help = commands::EXIT_CODES)]
    Bench(bench::BenchArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// This acceptor's id, unique in the cluster (clients count each id once).
    #[arg(long)]
    id: u64,
    /// The cluster's name; requests naming another cluster are refused (403).
    #[arg(long)]
    cluster: String,
    /// The address to listen on (port 0: any free port; the ready line names it). An
    /// address other than loopback needs TLS and a token file or client CA.
    #[arg(long, default_value = "127.0.0.1:7001")]
    listen: String,
    /// The data directory: FileLogs in DIR/promises and DIR/accepts, created if absent.
    #[arg(long, value_name = "DIR", required_unless_present = "memory", conflicts_with = "memory")]
    data: Option<PathBuf>,
    /// Keep the logs in memory instead (benchmarks and tests: nothing survives a restart).
    #[arg(long)]
    memory: bool,
    /// Bearer tokens, one per line (several for rotation; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The server's certificate chain (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Let browser pages from this origin call the server (CORS); repeat for several, `*`
    /// for any. Off by default.
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// The largest request body, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_body: usize,
    /// Serve plain HTTP, or without authentication, on a non-loopback address anyway.
    #[arg(long)]
    insecure: bool,
    /// Worker threads for connections (the acceptor has a thread of its own).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Live observe streams at once.
    #[arg(long, default_value_t = 64)]
    max_observers: usize,
    /// Seconds a client has to send a request's head (and a new connection its first request).
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = seconds)]
    header_timeout: f64,
    /// Seconds a client has to send a request's body.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = seconds)]
    request_timeout: f64,
    /// Seconds without a byte either way after which a connection is closed.
    #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = seconds)]
    idle_timeout: f64,
    /// Seconds a write may make no progress (the peer stopped reading) before the connection is closed.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = seconds)]
    write_timeout: f64,
    /// Log level on stderr: error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
    /// Run a node: every member's URL (this one's included), comma-separated. The server
    /// then also takes appends (forwarding them to the leader), keeps the chosen log in
    /// DIR/chosen and serves it. The first token of --token-file is sent to the peers.
    #[arg(long, value_name = "URL,URL,...", value_delimiter = ',')]
    peers: Vec<String>,
    /// The CA that signed the peers' certificates (PEM), for https:// peers.
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<PathBuf>,
    /// The client certificate this node presents to its peers (PEM), for mTLS.
    #[arg(long, value_name = "FILE", requires = "peer_key")]
    peer_cert: Option<PathBuf>,
    /// The key of --peer-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "peer_cert")]
    peer_key: Option<PathBuf>,
    /// Node: batches of appends the leader keeps in flight at once (see docs/BENCHMARKS.md,
    /// "Node", for 1 against 4).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pipeline: u16,
    /// Node: appends in one batched accept at most.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=4096))]
    max_batch: u16,
}

pub(crate) fn seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 && v <= 86_400.0 => Ok(v),
        _ => Err(format!("{s:?}: expected seconds, above 0 and at most 86400")),
    }
}

/// A failure to report: one line on stderr and an exit code.
pub(crate) struct Fatal {
    code: u8,
    message: String,
}

impl Fatal {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Fatal { code, message: message.into() }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => run_serve(args),
        Command::Append(args) => commands::append(args),
        Command::Propose(args) => commands::propose(args),
        Command::Read(args) => commands::read(args),
        Command::Status(args) => commands::status(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(fatal) => {
            // One line: what went wrong, and what to do.
            let line = fatal.message.replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "synodos: error: {line}");
            ExitCode::from(fatal.code)
        }
    }
}

pub(crate) fn net_error(e: NetError) -> Fatal {
    let code = match &e {
        NetError::Insecure { .. } | NetError::Config(_) | NetError::Url { .. } => 3,
        NetError::Bind { .. } => 6,
        _ => 1,
    };
    Fatal::new(code, e.to_string())
}

fn run_serve(args: ServeArgs) -> Result<(), Fatal> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_max_level(args.log_level)
        .with_target(false)
        .init();
    let addr: SocketAddr = {
        use std::net::ToSocketAddrs;
        args.listen.to_socket_addrs().ok().and_then(|mut a| a.next()).ok_or_else(|| {
            Fatal::new(2, format!("--listen {:?}: expected HOST:PORT, e.g. 127.0.0.1:7001", args.listen))
        })?
    };
    let tokens = match &args.token_file {
        Some(path) => Tokens::from_file(path).map_err(net_error)?,
        None => Tokens::none(),
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(ServerTls::from_files(cert, key, args.tls_client_ca.as_deref()).map_err(net_error)?)
        }
        _ => None,
    };
    let limits = Limits {
        max_body: args.max_body,
        max_observers: args.max_observers,
        header_timeout: Duration::from_secs_f64(args.header_timeout),
        request_timeout: Duration::from_secs_f64(args.request_timeout),
        idle_timeout: Duration::from_secs_f64(args.idle_timeout),
        write_timeout: Duration::from_secs_f64(args.write_timeout),
        ..Limits::default()
    };
    let options = ServeOptions {
        acceptor_id: args.id,
        cluster: args.cluster.clone(),
        tokens,
        tls,
        allow_origins: args.allow_origin.clone(),
        insecure: args.insecure,
        limits,
        threads: args.threads.max(1),
    };
    // The exposure rules first, so that a refused address touches no data.
    synodos_net::check_exposure(addr, &options).map_err(net_error)?;
    let node = node_options(&args)?;
    match &args.data {
        Some(dir) => {
            let lock = data_dir::lock(dir)?;
            data_dir::check_identity(dir, args.id, &args.cluster)?;
            #[cfg(feature = "nemesis-bugs")]
            if let Some(server) = nemesis_serve(dir, &args, addr, &options, &node)? {
                return wait_then_stop(server, &args, Some(lock));
            }
            let acceptor = ServedAcceptor::open_dir(dir).map_err(|e| open_failure(dir, args.id, e))?;
            let server = match node {
                Some(node) => serve_node(acceptor, addr, options, NodeOptions { data: Some(dir.clone()), ..node }),
                None => serve(acceptor, addr, options),
            }
            .map_err(net_error)?;
            wait_then_stop(server, &args, Some(lock))
        }
        None => {
            let acceptor = ServedAcceptor::in_memory();
            let server = match node {
                Some(node) => serve_node(acceptor, addr, options, node),
                None => serve(acceptor, addr, options),
            }
            .map_err(net_error)?;
            wait_then_stop(server, &args, None)
        }
    }
}

/// Test-only (`nemesis-bugs`): serve with the injected disk failure or bug that the
/// environment names (see `synodos_net::nemesis`), or `None` when it names none.
#[cfg(feature = "nemesis-bugs")]
fn nemesis_serve(
    dir: &Path,
    args: &ServeArgs,
    addr: SocketAddr,
    options: &ServeOptions,
    node: &Option<NodeOptions>,
) -> Result<Option<synodos_net::Server>, Fatal> {
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;
    use synodos_net::nemesis::{disk_fail_after, Bug, FailingLog, LazyLog};
    type Boxed = Box<dyn synodos::Log + Send>;
    let bug = Bug::from_env().map_err(|e| Fatal::new(2, e))?;
    let fail_after = disk_fail_after().map_err(|e| Fatal::new(2, e))?;
    if bug.is_none() && fail_after.is_none() {
        return Ok(None);
    }
    tracing::warn!("nemesis-bugs: injected bug {bug:?}, disk failure after {fail_after:?} writes: a test build");
    let open = |name: &str| synodos::FileLog::open(dir.join(name)).map_err(|e| open_failure(dir, args.id, e));
    let mut promises: Boxed = Box::new(open("promises")?);
    let mut accepts: Boxed = Box::new(open("accepts")?);
    if bug == Some(Bug::LazyFsync) {
        promises = Box::new(LazyLog::new(promises));
        accepts = Box::new(LazyLog::new(accepts));
    }
    if let Some(n) = fail_after {
        let budget = Arc::new(AtomicU64::new(n));
        promises = Box::new(FailingLog::new(promises, budget.clone()));
        accepts = Box::new(FailingLog::new(accepts, budget));
    }
    let acceptor = ServedAcceptor::new_mutated(promises, accepts, bug.and_then(Bug::acceptor_mutation))
        .map_err(|e| open_failure(dir, args.id, e))?;
    let server = match node.clone() {
        Some(node) => {
            let node = NodeOptions { data: Some(dir.to_path_buf()), bug, ..node };
            serve_node(acceptor, addr, options.clone(), node)
        }
        None => serve(acceptor, addr, options.clone()),
    }
    .map_err(net_error)?;
    Ok(Some(server))
}

/// The node's options, when `--peers` is given.
fn node_options(args: &ServeArgs) -> Result<Option<NodeOptions>, Fatal> {
    if args.peers.is_empty() {
        return Ok(None);
    }
    let read = |p: &Path, what: &str| {
        std::fs::read(p).map_err(|e| Fatal::new(3, format!("cannot read the {what} {}: {e}", p.display())))
    };
    let mut client = synodos_net::ClientOptions::new().timeout(Duration::from_secs(2)).cluster(args.cluster.clone());
    if let Some(ca) = &args.tls_ca {
        client = client.ca_pem(read(ca, "peer CA (--tls-ca)")?);
    }
    if let (Some(cert), Some(key)) = (&args.peer_cert, &args.peer_key) {
        client = client.identity(read(cert, "peer certificate")?, read(key, "peer key")?);
    }
    let peers: Vec<String> = args.peers.iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    let mut node = NodeOptions { client, ..NodeOptions::new(peers) };
    node.proposer.pipeline = usize::from(args.pipeline);
    node.proposer.max_batch = usize::from(args.max_batch);
    Ok(Some(node))
}

fn wait_then_stop(server: synodos_net::Server, args: &ServeArgs, lock: Option<std::fs::File>) -> Result<(), Fatal> {
    let what = if args.peers.is_empty() { "acceptor" } else { "node" };
    println!("synodos: serving {what} {} of cluster {} on {}", args.id, args.cluster, server.url());
    let _ = std::io::stdout().flush();
    let signal = wait_for_signal().map_err(|e| Fatal::new(1, format!("cannot wait for signals: {e}")))?;
    tracing::info!("{signal}: shutting down");
    server.shutdown();
    drop(lock);
    tracing::info!("stopped");
    Ok(())
}

pub(crate) fn wait_for_signal() -> std::io::Result<&'static str> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    })
}

fn open_failure(dir: &Path, id: u64, e: synodos::Error) -> Fatal {
    let text = e.to_string();
    if text.contains("already open") {
        return Fatal::new(5, format!("{text}: stop the other server using {}, or use another --data", dir.display()));
    }
    Fatal::new(
        4,
        format!(
            "cannot open the acceptor's data in {}: {text}; this acceptor must not vote with damaged \
             state: restore the directory from a backup, or retire acceptor {id} and start a new \
             acceptor with a fresh directory and a new --id",
            dir.display()
        ),
    )
}

/// The data directory: a lock file (one server at a time) and the identity it belongs to.
mod data_dir {
    use std::io::Write;
    use std::path::Path;

    use super::Fatal;

    /// Take `DIR/synodos.lock` (an exclusive `flock`, released when the process exits,
    /// however it exits). The file holds the pid of the server holding it.
    pub fn lock(dir: &Path) -> Result<std::fs::File, Fatal> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Fatal::new(4, format!("cannot create the data directory {}: {e}", dir.display())))?;
        let path = dir.join("synodos.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Fatal::new(4, format!("cannot open {}: {e}", path.display())))?;
        if let Err(e) = rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            let who = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
            return Err(Fatal::new(
                5,
                format!(
                    "{} is in use by another synodos server{who}: {e}; stop it first, or use another --data",
                    dir.display()
                ),
            ));
        }
        let _ = file.set_len(0);
        let _ = write!(file, "{}", std::process::id());
        let _ = file.sync_all();
        Ok(file)
    }

    /// `DIR/acceptor.json` names the acceptor id and cluster the data belongs to: written on
    /// first start, checked on every later one (an acceptor's promises are its id's).
    pub fn check_identity(dir: &Path, id: u64, cluster: &str) -> Result<(), Fatal> {
        let path = dir.join("acceptor.json");
        let wanted = serde_json::json!({ "acceptor": id, "cluster": cluster });
        match std::fs::read(&path) {
            Ok(bytes) => {
                let found: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
                    Fatal::new(4, format!("{} is damaged: {e}; restore it from a backup", path.display()))
                })?;
                if found != wanted {
                    return Err(Fatal::new(
                        3,
                        format!(
                            "{} belongs to acceptor {} of cluster {}, not acceptor {id} of {cluster:?}: pass \
                             those --id and --cluster, or use another --data",
                            dir.display(),
                            found["acceptor"],
                            found["cluster"]
                        ),
                    ));
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let write = || -> std::io::Result<()> {
                    let tmp = dir.join("acceptor.json.new");
                    let mut f = std::fs::File::create(&tmp)?;
                    f.write_all(wanted.to_string().as_bytes())?;
                    f.sync_all()?;
                    std::fs::rename(&tmp, &path)?;
                    std::fs::File::open(dir)?.sync_all()
                };
                write().map_err(|e| Fatal::new(4, format!("cannot write {}: {e}", path.display())))
            }
            Err(e) => Err(Fatal::new(4, format!("cannot read {}: {e}", path.display()))),
        }
    }
}
