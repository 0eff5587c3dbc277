//! `nemesis`: a synodos cluster of real `synodos serve --peers` processes on FileLogs, every
//! peer link through a fault-injecting proxy, concurrent clients appending and reading, a
//! seeded nemesis (kill -9 and restart, SIGSTOP/SIGCONT, partitions, one-way loss, delays,
//! power failures, failing disks), then a checker of the history and the nodes' logs.
//! See nemesis/README.md.

mod checker;
mod clients;
mod cluster;
mod faults;
mod history;
mod proxy;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use rand::SeedableRng;
use serde_json::{json, Value};

use crate::cluster::{node_client, Cluster, State};
use crate::faults::{Fault, Nemesis};
use crate::history::History;

#[derive(Parser)]
#[command(name = "nemesis", about = "synodos nodes under faults, with a history checker")]
struct Args {
    /// Nodes in the cluster (3 or 5).
    #[arg(long, env = "NEMESIS_NODES", default_value_t = 3)]
    nodes: usize,
    /// Seconds of faults.
    #[arg(long, env = "NEMESIS_SECONDS", default_value_t = 600.0)]
    seconds: f64,
    /// The seed of every random choice (default: from the clock; printed).
    #[arg(long, env = "NEMESIS_SEED")]
    seed: Option<u64>,
    /// Concurrent Rust clients (every other one pinned to one node, the rest over all).
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// The Python client (nemesis/python/client.py), run with python3 beside the Rust ones.
    #[arg(long)]
    python: Option<PathBuf>,
    /// The `synodos` binary (default: `synodos` beside this one).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// `synodos` built with `--features nemesis-bugs` (default: `synodos-bugs` beside this
    /// one, if there): needed for disk failures and `--bug`.
    #[arg(long)]
    bug_binary: Option<PathBuf>,
    /// Run every node with this injected bug (SYNODOS_NEMESIS_BUG): quorum-one-short,
    /// learner-one-short, forget-promise, lazy-fsync.
    #[arg(long)]
    bug: Option<String>,
    /// The faults to draw from.
    #[arg(long, value_delimiter = ',', default_value = "kill,pause,partition,one-way,delay,power,disk")]
    faults: Vec<String>,
    /// The run's directory (data, node logs, history.jsonl); emptied first.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// How often a fault aimed at one node (kill, pause, partition, one-way, delay) aims at
    /// the leader.
    #[arg(long, default_value_t = 0.5)]
    leader_bias: f64,
    /// How long the nodes may take to catch up with each other after the final heal.
    #[arg(long, default_value_t = 30.0)]
    catch_up_seconds: f64,
    /// Exit 0 only when a violation is found (for runs against injected bugs).
    #[arg(long)]
    expect_violation: bool,
    /// A value in the log twice is a violation (delivery is documented as at least once).
    #[arg(long)]
    strict_once: bool,
    /// The longest recovery allowed after the final heal: twice the 2 s after which a node
    /// passes over a leader that does not answer (the forward and call timeout).
    #[arg(long, default_value_t = 4000.0)]
    recovery_bound_ms: f64,
}

/// The Python client process, killed by its pid when dropped.
struct PyClient(Option<Child>);

impl Drop for PyClient {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn beside_me(name: &str) -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    Some(me.parent()?.join(name))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nemesis: error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    });
    if !(3..=9).contains(&args.nodes) {
        return Err(format!("--nodes {}: expected 3 to 9 (3 or 5 are the usual)", args.nodes));
    }
    let binary = args.binary.clone().or_else(|| beside_me("synodos")).ok_or("cannot find the synodos binary")?;
    if !binary.exists() {
        return Err(format!("{} does not exist: cargo build --release -p synodos-net", binary.display()));
    }
    let bug_binary = args.bug_binary.clone().or_else(|| beside_me("synodos-bugs")).filter(|p| p.exists());
    let mut faults = args.faults.iter().map(|f| Fault::parse(f)).collect::<Result<Vec<_>, _>>()?;
    if bug_binary.is_none() && faults.contains(&Fault::Disk) {
        eprintln!("nemesis: no synodos-bugs binary (synodos built with --features nemesis-bugs): no disk failures");
        faults.retain(|f| *f != Fault::Disk);
    }
    let mut env = Vec::new();
    let mut node_binary = binary.clone();
    if let Some(bug) = &args.bug {
        node_binary = bug_binary.clone().ok_or("--bug needs the synodos-bugs binary (--bug-binary)")?;
        env.push(("SYNODOS_NEMESIS_BUG".to_string(), bug.clone()));
    }
    let label = args.bug.clone().unwrap_or_else(|| "clean".into());
    let dir = args.dir.clone().unwrap_or_else(|| {
        beside_me("")
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_else(std::env::temp_dir)
            .join("nemesis")
            .join(format!("{label}-{}n-{seed}", args.nodes))
    });
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let names: Vec<&str> = faults.iter().map(|f| f.name()).collect();
    eprintln!(
        "nemesis: seed {seed}, {} nodes, {} s, bug {label}, faults {names:?}, run dir {}",
        args.nodes,
        args.seconds,
        dir.display()
    );
    let history = Arc::new(History::create(&dir.join("history.jsonl"))?);
    history.record(
        json!({"type": "fault", "fault": "start", "detail": {"seed": seed, "nodes": args.nodes, "bug": label}}),
    );

    let mut cluster = Cluster::start(args.nodes, &dir, &node_binary, &env).await?;
    let urls = cluster.urls();
    let mut nemesis = Nemesis::new(
        &mut cluster,
        history.clone(),
        rand::rngs::StdRng::seed_from_u64(seed),
        faults,
        node_binary.clone(),
        bug_binary.clone(),
        env.clone(),
    );
    nemesis.leader_bias = args.leader_bias;
    // Ready: every node printed its ready line; the cluster is ready once an append succeeds.
    let first = nemesis.recover(Duration::from_secs(30)).await;
    let Some(first) = first else { return Err("no append succeeded within 30 s of the start".into()) };
    nemesis.recoveries.clear();
    eprintln!("nemesis: the cluster took its first append after {first:.0} ms");

    let stop = Arc::new(AtomicBool::new(false));
    let highest = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for k in 0..args.clients {
        let spec = clients::ClientSpec {
            process: k,
            urls: urls.clone(),
            pinned: (k % 2 == 1).then_some(k / 2 % args.nodes),
            seed: seed.wrapping_add(1 + k as u64),
        };
        tasks.push(tokio::spawn(clients::run(spec, history.clone(), stop.clone(), highest.clone())));
    }
    let py_out = dir.join("python-history.jsonl");
    let mut py = PyClient(None);
    if let Some(script) = &args.python {
        let child = Command::new("python3")
            .arg(script)
            .arg("--nodes")
            .arg(urls.join(","))
            .arg("--t0-ms")
            .arg(format!("{:.1}", history.epoch_ms))
            .arg("--process")
            .arg("py0")
            .arg("--seed")
            .arg(seed.to_string())
            .arg("--out")
            .arg(&py_out)
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start python3 {}: {e}", script.display()))?;
        py.0 = Some(child);
    }

    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let outcome = tokio::select! {
        r = nemesis.run(deadline) => r,
        _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
    };
    outcome?;

    // The faults stop: heal everything, measure the recovery, let every client finish.
    nemesis.heal().await?;
    let recovery = nemesis.recover(Duration::from_secs(60)).await;
    stop.store(true, Ordering::SeqCst);
    let mut problems = std::mem::take(&mut nemesis.problems);
    for t in tasks {
        if tokio::time::timeout(clients::OP_TIMEOUT * 2, t).await.is_err() {
            problems.push("a Rust client did not complete its last operation".into());
        }
    }
    if let Some(child) = py.0.as_mut() {
        let pid = child.id();
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => break,
                Ok(Some(status)) => {
                    problems.push(format!("the Python client exited with {status}"));
                    break;
                }
                _ if Instant::now() > until => {
                    problems.push("the Python client did not complete its last operation in 20 s".into());
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        if let Ok(text) = std::fs::read_to_string(&py_out) {
            for line in text.lines() {
                if let Ok(v) = serde_json::from_str::<Value>(line) {
                    history.record(v);
                }
            }
        }
    }
    let counts = nemesis.counts.clone();
    let recoveries = nemesis.recoveries.clone();
    drop(nemesis);

    // Catch-up: every node's learner reaches the same length, then each log is read.
    let limit = Duration::from_secs_f64(args.catch_up_seconds);
    let logs = catch_up_and_read(&mut cluster, &mut problems, limit).await;
    history.flush();
    for (id, log) in &logs {
        let text: String = log.iter().map(|(s, v)| format!("{s}\t{v}\n")).collect();
        let _ = std::fs::write(dir.join(format!("node-{id}.chosen.txt")), text);
    }
    drop(cluster); // every node killed by its pid

    let events = history.events();
    let mut report = checker::check(&events, &logs, args.strict_once);
    for p in problems {
        report.violations.push(checker::Violation { what: p, values: vec![], slots: vec![] });
    }
    match recovery {
        Some(ms) if ms > args.recovery_bound_ms => report.violations.push(checker::Violation {
            what: format!("the final recovery took {ms:.0} ms, above the bound of {:.0} ms", args.recovery_bound_ms),
            values: vec![],
            slots: vec![],
        }),
        Some(_) => {}
        None => report.violations.push(checker::Violation {
            what: "no append succeeded within 60 s of the final heal".into(),
            values: vec![],
            slots: vec![],
        }),
    }
    let faults_text: Vec<String> = counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    let max_recovery = recoveries.iter().copied().fold(0.0, f64::max);
    println!(
        "ops {}, acked {}, lost {}, duplicated {}, faults {{{}}}, recovery max {:.0} ms",
        report.ops,
        report.acked,
        report.lost,
        report.duplicated,
        faults_text.join(", "),
        max_recovery
    );
    println!(
        "nemesis: seed {seed}, {} nodes, bug {label}: unknown {}, failed {}, reads {}, no-op fillers {}, final log {} entries, final recovery {} ms, {} violation(s); history {}",
        args.nodes,
        report.unknown,
        report.failed,
        report.reads,
        report.noops,
        report.final_len,
        recovery.map(|r| format!("{r:.0}")).unwrap_or_else(|| "none".into()),
        report.violations.len(),
        dir.join("history.jsonl").display()
    );
    if !report.violations.is_empty() {
        println!("VIOLATION (seed {seed}, {} nodes, bug {label}; rerun with --seed {seed}):", args.nodes);
        for v in report.violations.iter().take(3) {
            println!("- {}", v.what);
            let excerpt = checker::excerpt(&events, v);
            if !excerpt.is_empty() {
                println!("  history excerpt:");
                for e in excerpt {
                    println!("    {e}");
                }
            }
            if !v.slots.is_empty() {
                println!("  the nodes' logs there (slot, value):");
                for (id, near) in checker::log_window(&logs, &v.slots) {
                    println!("    node {id}: {near:?}");
                }
            }
        }
        if report.violations.len() > 3 {
            println!("... and {} more", report.violations.len() - 3);
        }
        println!("the nodes' full logs: {}/node-N.chosen.txt", dir.display());
    }
    let violated = !report.violations.is_empty();
    Ok(match (violated, args.expect_violation) {
        (false, false) => ExitCode::SUCCESS,
        (true, true) => {
            println!("nemesis: the injected bug {label} was caught");
            ExitCode::SUCCESS
        }
        (true, false) => ExitCode::from(1),
        (false, true) => {
            println!("nemesis: expected a violation with bug {label}, found none");
            ExitCode::from(1)
        }
    })
}

/// Wait until every node's learner holds as many entries as the others, unchanged for 1 s
/// (at most `limit`), then read every log from slot 0.
async fn catch_up_and_read(
    cluster: &mut Cluster,
    problems: &mut Vec<String>,
    limit: Duration,
) -> Vec<(u64, Vec<(u64, String)>)> {
    let started = Instant::now();
    let mut stable_since: Option<(Vec<u64>, Instant)> = None;
    loop {
        let mut lens = Vec::new();
        for node in &cluster.nodes {
            let len = match node_client(&node.url(), Duration::from_secs(2)) {
                Ok(c) => c.info().await.into_iter().next().and_then(|(_, i)| i.ok()).and_then(|i| i.chosen_up_to),
                Err(_) => None,
            };
            lens.push(len.unwrap_or(u64::MAX));
        }
        let same = lens.iter().all(|l| *l == lens[0] && *l != u64::MAX);
        match &stable_since {
            Some((prev, since)) if same && *prev == lens && since.elapsed() >= Duration::from_secs(1) => break,
            Some((prev, _)) if same && *prev == lens => {}
            _ => stable_since = Some((lens.clone(), Instant::now())),
        }
        if started.elapsed() > limit {
            problems.push(format!("the nodes did not catch up within {limit:?} of the end (chosen_up_to {lens:?})"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut logs = Vec::new();
    for node in &mut cluster.nodes {
        if node.state != State::Up {
            continue;
        }
        let mut log = Vec::new();
        match node_client(&node.url(), Duration::from_secs(10)) {
            Ok(client) => loop {
                match client.read(log.len() as u64, 10_000).await {
                    Ok(entries) if entries.is_empty() => break,
                    Ok(entries) => log
                        .extend(entries.into_iter().map(|e| (e.slot, String::from_utf8_lossy(&e.value).into_owned()))),
                    Err(e) => {
                        problems.push(format!("cannot read node {}'s log: {e}", node.id));
                        break;
                    }
                }
            },
            Err(e) => problems.push(e),
        }
        logs.push((node.id, log));
    }
    logs
}
