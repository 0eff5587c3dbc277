//! `synodos cluster`: nodes on loopback, for trying synodos out. Each is a `synodos serve
//! --peers` child process of this one, stopped by its pid (SIGTERM) when this one gets
//! Ctrl-C or SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use clap::Args;

use super::Fatal;

pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  the nodes were stopped after Ctrl-C or SIGTERM
  1  an unexpected failure (the message says what)
  2  bad command line
  6  a node could not start (the message has its error line); the others were stopped";

#[derive(Args)]
pub(crate) struct ClusterArgs {
    /// How many nodes (1 to 9; 3 or 5 is usual).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=9))]
    nodes: u16,
    /// The data directory: node N keeps its data in DIR/node-N.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The port of node 1; node N listens on PORT+N-1. 0: any free ports.
    #[arg(long, default_value_t = 7001)]
    base_port: u16,
    /// The cluster's name.
    #[arg(long, default_value = "demo")]
    cluster: String,
    /// A token file the nodes require (and send to each other).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Keep the nodes' logs in memory instead of DIR (nothing survives a restart).
    #[arg(long)]
    memory: bool,
    /// More `synodos serve` options for every node (e.g. `--serve-arg=--pipeline=1`).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    serve_arg: Vec<String>,
}

/// The children, stopped by pid (SIGTERM, then SIGKILL after 10 s) when dropped.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &self.0 {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        for child in &mut self.0 {
            loop {
                match child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if std::time::Instant::now() >= deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
    }
}

/// Free loopback ports, found by binding port 0 (a moment later another process could take
/// one: then that node fails to start and says so).
fn free_ports(n: usize) -> Result<Vec<u16>, Fatal> {
    let listeners = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Fatal::new(6, format!("cannot find a free port on 127.0.0.1: {e}")))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| Fatal::new(6, format!("cannot find a free port: {e}")))
}

pub(crate) fn run(args: ClusterArgs) -> Result<(), Fatal> {
    let n = usize::from(args.nodes);
    let ports: Vec<u16> = if args.base_port == 0 {
        free_ports(n)?
    } else {
        (0..args.nodes)
            .map(|i| args.base_port.checked_add(i))
            .collect::<Option<_>>()
            .ok_or_else(|| Fatal::new(2, format!("--base-port {}: the ports run past 65535", args.base_port)))?
    };
    let urls: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let peers = urls.join(",");
    let exe = std::env::current_exe().map_err(|e| Fatal::new(1, format!("cannot find this program: {e}")))?;
    let mut nodes = Nodes(Vec::new());
    let mut ready = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let id = i + 1;
        let mut cmd = Command::new(&exe);
        cmd.args(["serve", "--id", &id.to_string(), "--cluster", &args.cluster, "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--peers", &peers, "--log-level", "warn"]);
        if args.memory {
            cmd.arg("--memory");
        } else {
            cmd.arg("--data").arg(args.dir.join(format!("node-{id}")));
        }
        if let Some(t) = &args.token_file {
            cmd.arg("--token-file").arg(t);
        }
        cmd.args(&args.serve_arg);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Fatal::new(1, format!("cannot start node {id}: {e}")))?;
        let stdout = child.stdout.take();
        nodes.0.push(child);
        let (tx, rx) = std::sync::mpsc::channel();
        if let Some(stdout) = stdout {
            std::thread::spawn(move || {
                let mut lines = BufReader::new(stdout).lines();
                if let Some(Ok(line)) = lines.next() {
                    let _ = tx.send(line);
                }
                // Drain the rest, so a node never blocks on a full pipe.
                for _ in lines {}
            });
        }
        ready.push((id, rx));
    }
    for (id, rx) in ready {
        match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(line) if line.contains("serving node") => {}
            _ => {
                return Err(Fatal::new(
                    6,
                    format!("node {id} did not start (its error is above); the others are stopped"),
                ))
            }
        }
    }
    println!("synodos: {n} nodes of cluster {} running; stop them with Ctrl-C", args.cluster);
    println!("export SYNODOS_PEERS={peers}");
    println!("--peers {peers}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let signal = super::wait_for_signal().map_err(|e| Fatal::new(1, format!("cannot wait for signals: {e}")))?;
    eprintln!("synodos: {signal}: stopping the nodes");
    drop(nodes);
    Ok(())
}
