//! The cluster: `synodos serve --peers` processes on FileLogs, on 127.0.0.1, each peer link
//! through its own [`Link`] proxy. Every process is held by a [`NodeProc`], which kills it by
//! its pid when dropped (also when the harness fails or panics), and is started with a
//! parent-death signal, so that even a harness killed with kill -9 leaves no node behind.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};
use synodos_net::{ClientOptions, NodeClient};

use crate::proxy::{Link, Mode};

/// The cluster name every node is started with.
pub(crate) const CLUSTER: &str = "nemesis";

/// How a node is (to be) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Up,
    Killed,
    Paused,
}

/// One node process.
pub(crate) struct NodeProc {
    pub id: u64,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub state: State,
    /// The process's environment beyond the harness's (the injected bug, a failing disk).
    pub env: Vec<(String, String)>,
    /// The binary its next start uses.
    pub binary: PathBuf,
    child: Option<Child>,
    peers: Vec<String>,
    log: PathBuf,
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        self.kill();
    }
}

impl NodeProc {
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Start the process and wait for its ready line (`synodos: serving node ...`).
    pub(crate) fn start(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Err(format!("node {} is already running", self.id));
        }
        let stderr = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("cannot open {}: {e}", self.log.display()))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("serve")
            .arg("--id")
            .arg(self.id.to_string())
            .arg("--cluster")
            .arg(CLUSTER)
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--data")
            .arg(&self.dir)
            .arg("--peers")
            .arg(self.peers.join(","))
            .arg("--log-level")
            .arg("warn")
            .env_remove("SYNODOS_NEMESIS_BUG")
            .env_remove("SYNODOS_NEMESIS_DISK_FAIL_AFTER")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        // SAFETY: the closure only makes one async-signal-safe system call (prctl).
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        let stdout = child.stdout.take();
        self.child = Some(child);
        self.state = State::Up;
        let (tx, rx) = std::sync::mpsc::channel();
        let id = self.id;
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            // Read every line until the process ends (so that it never blocks on a full pipe).
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("synodos: serving node") {
                    let _ = tx.send(());
                }
            }
            let _ = id;
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(()) => return Ok(()),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = self.wait_exit();
                    return Err(format!("node {} exited before serving; see {}", self.id, self.log.display()));
                }
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    self.child = None;
                    return Err(format!(
                        "node {} exited ({status}) before serving; see {}",
                        self.id,
                        self.log.display()
                    ));
                }
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(format!(
                    "node {} did not print its ready line in 30 s; see {}",
                    self.id,
                    self.log.display()
                ));
            }
        }
    }

    fn signal(&self, signal: Signal) -> Result<(), String> {
        let pid = self.pid().ok_or_else(|| format!("node {} is not running", self.id))?;
        let pid = i32::try_from(pid).ok().and_then(Pid::from_raw).ok_or("bad pid")?;
        kill_process(pid, signal).map_err(|e| format!("kill({pid:?}, {signal:?}): {e}"))
    }

    fn wait_exit(&mut self) -> Option<std::process::ExitStatus> {
        self.child.take().and_then(|mut c| c.wait().ok())
    }

    /// kill -9, and reap it. Nothing if it is not running.
    pub(crate) fn kill(&mut self) {
        if self.child.is_some() {
            let _ = self.signal(Signal::KILL);
            let _ = self.wait_exit();
        }
        self.state = State::Killed;
    }

    pub(crate) fn pause(&mut self) -> Result<(), String> {
        self.signal(Signal::STOP)?;
        self.state = State::Paused;
        Ok(())
    }

    pub(crate) fn resume(&mut self) -> Result<(), String> {
        self.signal(Signal::CONT)?;
        self.state = State::Up;
        Ok(())
    }

    /// Whether the process has exited on its own (a crash).
    pub(crate) fn exited(&mut self) -> Option<String> {
        let c = self.child.as_mut()?;
        match c.try_wait() {
            Ok(Some(status)) => {
                self.child = None;
                self.state = State::Killed;
                Some(status.to_string())
            }
            _ => None,
        }
    }
}

/// Every node and every link.
pub(crate) struct Cluster {
    pub nodes: Vec<NodeProc>,
    /// `links[(i, j)]`: node i's connections to node j (indexes into `nodes`).
    pub links: BTreeMap<(usize, usize), Link>,
}

/// A free loopback port (bound, then released for the node to take).
fn free_port() -> Result<SocketAddr, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    l.local_addr().map_err(|e| e.to_string())
}

impl Cluster {
    /// Make the proxies and start `n` nodes with data under `dir`.
    pub(crate) async fn start(
        n: usize,
        dir: &Path,
        binary: &Path,
        env: &[(String, String)],
    ) -> Result<Cluster, String> {
        let addrs = (0..n).map(|_| free_port()).collect::<Result<Vec<_>, _>>()?;
        let mut links = BTreeMap::new();
        for i in 0..n {
            for (j, addr) in addrs.iter().enumerate() {
                if i != j {
                    links.insert((i, j), Link::start(*addr).await?);
                }
            }
        }
        let mut nodes = Vec::new();
        for (i, addr) in addrs.iter().enumerate() {
            let peers = (0..n)
                .map(|j| match links.get(&(i, j)) {
                    Some(link) => format!("http://{}", link.addr),
                    None => format!("http://{addr}"),
                })
                .collect();
            nodes.push(NodeProc {
                id: i as u64 + 1,
                addr: *addr,
                dir: dir.join(format!("node-{}", i + 1)),
                state: State::Killed,
                env: env.to_vec(),
                binary: binary.to_path_buf(),
                child: None,
                peers,
                log: dir.join(format!("node-{}.log", i + 1)),
            });
        }
        let mut cluster = Cluster { nodes, links };
        // Start them together: each waits for its ready line, which needs no peer.
        for node in &mut cluster.nodes {
            node.start()?;
        }
        Ok(cluster)
    }

    pub(crate) fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(NodeProc::url).collect()
    }

    /// Set every link from a node of `from` to a node of `to` (indexes).
    pub(crate) fn set_links(&self, from: &[usize], to: &[usize], mode: Mode) {
        for i in from {
            for j in to {
                if let Some(link) = self.links.get(&(*i, *j)) {
                    link.set(mode);
                }
            }
        }
    }

    /// Every link passes again.
    pub(crate) fn heal_links(&self) {
        for link in self.links.values() {
            if link.mode() != Mode::Pass {
                link.set(Mode::Pass);
            }
        }
    }
}

/// A client of one node only (short timeouts, one round).
pub(crate) fn node_client(url: &str, timeout: Duration) -> Result<NodeClient, String> {
    let options = ClientOptions::new().cluster(CLUSTER).timeout(timeout).connect_timeout(Duration::from_secs(1));
    NodeClient::new([url], options).map(|c| c.rounds(1)).map_err(|e| format!("client of {url}: {e}"))
}

/// The status of `GET /healthz` on `addr` (a bare HTTP/1.1 request; 0 when it did not answer).
pub(crate) async fn healthz(addr: SocketAddr) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let get = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").await.ok()?;
        let mut head = vec![0u8; 64];
        let n = s.read(&mut head).await.ok()?;
        let line = String::from_utf8_lossy(&head[..n]).to_string();
        line.split_whitespace().nth(1)?.parse::<u16>().ok()
    };
    tokio::time::timeout(Duration::from_secs(2), get).await.ok().flatten().unwrap_or(0)
}
