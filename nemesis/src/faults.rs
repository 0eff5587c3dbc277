//! The nemesis: faults drawn from one seeded generator, each logged with its time, each held
//! for a while and then healed, after which the time until an append succeeds again is
//! measured (the recovery).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::json;
use synodos_net::{ClientOptions, NodeClient};

use crate::cluster::{healthz, node_client, Cluster, State, CLUSTER};
use crate::history::History;
use crate::proxy::Mode;

/// The kinds of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fault {
    /// kill -9 of a node (the leader half the time), restarted at the heal.
    Kill,
    /// SIGSTOP of a node (the leader half the time), SIGCONT at the heal.
    Pause,
    /// A node (or, of five, one or two) cut off from the others, both ways.
    Partition,
    /// One direction of a node's links loses everything.
    OneWay,
    /// Every link of a node delayed 50-400 ms.
    Delay,
    /// A power failure: a majority killed at once and restarted while the rest is paused.
    Power,
    /// A node restarted on a disk that fails after a few writes (needs the bug binary).
    Disk,
}

impl Fault {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Partition => "partition",
            Fault::OneWay => "one-way",
            Fault::Delay => "delay",
            Fault::Power => "power",
            Fault::Disk => "disk",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Fault, String> {
        [Fault::Kill, Fault::Pause, Fault::Partition, Fault::OneWay, Fault::Delay, Fault::Power, Fault::Disk]
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| format!("unknown fault {s:?}: expected kill, pause, partition, one-way, delay, power, disk"))
    }
}

pub(crate) struct Nemesis<'a> {
    pub cluster: &'a mut Cluster,
    pub history: Arc<History>,
    pub rng: rand::rngs::StdRng,
    pub faults: Vec<Fault>,
    pub counts: BTreeMap<&'static str, u64>,
    pub recoveries: Vec<f64>,
    /// The normal binary, and the test build for disk failures (if any).
    pub binary: PathBuf,
    pub bug_binary: Option<PathBuf>,
    /// The environment every node normally runs with (an injected bug, in a bug run).
    pub env: Vec<(String, String)>,
    /// Problems the nemesis itself saw (a node that exited on its own, a disk that answered).
    pub problems: Vec<String>,
    /// How often a fault that picks one node picks the leader.
    pub leader_bias: f64,
    probes: u64,
}

impl<'a> Nemesis<'a> {
    pub(crate) fn new(
        cluster: &'a mut Cluster,
        history: Arc<History>,
        rng: rand::rngs::StdRng,
        faults: Vec<Fault>,
        binary: PathBuf,
        bug_binary: Option<PathBuf>,
        env: Vec<(String, String)>,
    ) -> Self {
        Nemesis {
            cluster,
            history,
            rng,
            faults,
            counts: BTreeMap::new(),
            recoveries: Vec::new(),
            binary,
            bug_binary,
            env,
            problems: Vec::new(),
            leader_bias: 0.5,
            probes: 0,
        }
    }

    /// The leader most reachable nodes name (index), if any.
    pub(crate) async fn leader(&self) -> Option<usize> {
        let mut votes: BTreeMap<u64, usize> = BTreeMap::new();
        for node in &self.cluster.nodes {
            if node.state != State::Up {
                continue;
            }
            let Ok(client) = node_client(&node.url(), Duration::from_millis(500)) else { continue };
            let infos = client.info().await;
            if let Some((_, Ok(info))) = infos.first() {
                if let Some(l) = info.leader.filter(|l| *l != 0) {
                    *votes.entry(l).or_default() += 1;
                }
            }
        }
        let (id, _) = votes.into_iter().max_by_key(|(_, n)| *n)?;
        self.cluster.nodes.iter().position(|n| n.id == id)
    }

    async fn target(&mut self) -> usize {
        let n = self.cluster.nodes.len();
        if self.rng.gen_bool(self.leader_bias.clamp(0.0, 1.0)) {
            if let Some(l) = self.leader().await {
                return l;
            }
        }
        self.rng.gen_range(0..n)
    }

    fn hold(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.rng.gen_range(lo..hi))
    }

    /// Faults until `deadline`, each healed before the next.
    pub(crate) async fn run(&mut self, deadline: Instant) -> Result<(), String> {
        while Instant::now() < deadline {
            let quiet = self.hold(500, 2000);
            tokio::time::sleep(quiet).await;
            if Instant::now() >= deadline {
                break;
            }
            let Some(fault) = self.faults.choose(&mut self.rng).copied() else { break };
            self.inject(fault).await?;
            self.heal().await?;
            self.recover(Duration::from_secs(60)).await;
            self.check_exits();
        }
        Ok(())
    }

    fn check_exits(&mut self) {
        for node in &mut self.cluster.nodes {
            if node.state == State::Up {
                if let Some(status) = node.exited() {
                    let msg = format!("node {} exited on its own ({status})", node.id);
                    self.history.fault("crashed", json!({"node": node.id, "status": status}));
                    self.problems.push(msg);
                }
            }
        }
    }

    async fn inject(&mut self, fault: Fault) -> Result<(), String> {
        let n = self.cluster.nodes.len();
        *self.counts.entry(fault.name()).or_default() += 1;
        match fault {
            Fault::Kill => {
                let x = self.target().await;
                let node = &mut self.cluster.nodes[x];
                let pid = node.pid();
                node.kill();
                self.history.fault("kill", json!({"node": node.id, "pid": pid}));
                let d = self.hold(500, 5000);
                tokio::time::sleep(d).await;
            }
            Fault::Pause => {
                let x = self.target().await;
                let node = &mut self.cluster.nodes[x];
                if node.state == State::Up {
                    node.pause()?;
                    self.history.fault("pause", json!({"node": node.id, "pid": node.pid()}));
                }
                let d = self.hold(500, 6000);
                tokio::time::sleep(d).await;
            }
            Fault::Partition => {
                let x = self.target().await;
                let mut others: Vec<usize> = (0..n).filter(|i| *i != x).collect();
                others.shuffle(&mut self.rng);
                let mut minority = vec![x];
                if n >= 5 && self.rng.gen_bool(0.5) {
                    minority.extend(others.pop());
                }
                let majority: Vec<usize> = (0..n).filter(|i| !minority.contains(i)).collect();
                self.cluster.set_links(&minority, &majority, Mode::Drop);
                self.cluster.set_links(&majority, &minority, Mode::Drop);
                let ids = |v: &[usize]| v.iter().map(|i| i + 1).collect::<Vec<_>>();
                self.history.fault("partition", json!({"minority": ids(&minority), "majority": ids(&majority)}));
                let d = self.hold(1000, 6000);
                tokio::time::sleep(d).await;
            }
            Fault::OneWay => {
                let x = self.target().await;
                let others: Vec<usize> = (0..n).filter(|i| *i != x).collect();
                let hears_nothing = self.rng.gen_bool(0.5);
                if hears_nothing {
                    // x's requests arrive, the answers to it are lost.
                    self.cluster.set_links(&[x], &others, Mode::OneWay);
                } else {
                    // The others' requests reach x, x's answers are lost.
                    self.cluster.set_links(&others, &[x], Mode::OneWay);
                }
                let what = if hears_nothing { "answers to it lost" } else { "its answers lost" };
                self.history.fault("one-way", json!({"node": x + 1, "what": what}));
                let d = self.hold(1000, 6000);
                tokio::time::sleep(d).await;
            }
            Fault::Delay => {
                let x = self.target().await;
                let ms = self.rng.gen_range(50..400);
                let others: Vec<usize> = (0..n).filter(|i| *i != x).collect();
                self.cluster.set_links(&[x], &others, Mode::Delay(ms));
                self.cluster.set_links(&others, &[x], Mode::Delay(ms));
                self.history.fault("delay", json!({"node": x + 1, "ms": ms}));
                let d = self.hold(1000, 6000);
                tokio::time::sleep(d).await;
            }
            Fault::Power => {
                let mut order: Vec<usize> = (0..n).collect();
                order.shuffle(&mut self.rng);
                let killed = n / 2 + 1;
                let (down, paused) = order.split_at(killed);
                for &i in paused {
                    if self.cluster.nodes[i].state == State::Up {
                        self.cluster.nodes[i].pause()?;
                    }
                }
                for &i in down {
                    self.cluster.nodes[i].kill();
                }
                let ids = |v: &[usize]| v.iter().map(|i| i + 1).collect::<Vec<_>>();
                self.history.fault("power", json!({"killed": ids(down), "paused": ids(paused)}));
                for &i in down {
                    let node = &mut self.cluster.nodes[i];
                    tokio::task::block_in_place(|| node.start())?;
                }
                self.history.fault("restart", json!({"nodes": ids(down)}));
                let d = self.hold(2000, 5000);
                tokio::time::sleep(d).await;
            }
            Fault::Disk => {
                let Some(bug_binary) = self.bug_binary.clone() else { return Ok(()) };
                let x = self.rng.gen_range(0..n);
                let writes = self.rng.gen_range(5..100);
                let node = &mut self.cluster.nodes[x];
                node.kill();
                node.binary = bug_binary;
                node.env.push(("SYNODOS_NEMESIS_DISK_FAIL_AFTER".into(), writes.to_string()));
                tokio::task::block_in_place(|| node.start())?;
                let (id, addr) = (node.id, node.addr);
                self.history.fault("disk", json!({"node": id, "fails_after_writes": writes}));
                let until = Instant::now() + self.hold(2000, 8000);
                let mut failed = false;
                while Instant::now() < until {
                    let status = healthz(addr).await;
                    if status == 500 && !failed {
                        failed = true;
                        self.history.fault("disk-failed", json!({"node": id, "healthz": status}));
                    } else if failed && status == 200 {
                        self.problems.push(format!("node {id}: /healthz said 200 again after its disk failed"));
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        Ok(())
    }

    /// Every link passes, every paused node resumes, every killed node restarts (disks
    /// replaced: the normal binary and environment again).
    pub(crate) async fn heal(&mut self) -> Result<(), String> {
        self.cluster.heal_links();
        let mut restarted = Vec::new();
        let mut resumed = Vec::new();
        for node in &mut self.cluster.nodes {
            let disk = node.binary != self.binary || node.env != self.env;
            if disk && node.state != State::Killed {
                node.kill();
            }
            node.binary = self.binary.clone();
            node.env = self.env.clone();
            match node.state {
                State::Paused => {
                    node.resume()?;
                    resumed.push(node.id);
                }
                State::Killed => {
                    tokio::task::block_in_place(|| node.start())?;
                    restarted.push(node.id);
                }
                State::Up => {}
            }
        }
        self.history.fault("heal", json!({"restarted": restarted, "resumed": resumed}));
        Ok(())
    }

    /// Append until one succeeds; the time since the heal is a recovery.
    pub(crate) async fn recover(&mut self, limit: Duration) -> Option<f64> {
        let healed = self.history.now_ms();
        let options = ClientOptions::new().cluster(CLUSTER).timeout(Duration::from_secs(2));
        let client = NodeClient::new(self.cluster.urls(), options).ok()?.rounds(1);
        let started = Instant::now();
        while started.elapsed() < limit {
            self.probes += 1;
            let value = format!("probe-{}", self.probes);
            self.history.record(json!({"type": "invoke", "process": "probe", "f": "append", "value": value}));
            let r = tokio::time::timeout(crate::clients::OP_TIMEOUT, client.append(value.clone().into_bytes())).await;
            match r {
                Ok(Ok(entry)) => {
                    self.history.record(
                        json!({"type": "ok", "process": "probe", "f": "append", "value": value, "slot": entry.slot}),
                    );
                    let ms = self.history.now_ms() - healed;
                    self.recoveries.push(ms);
                    self.history.fault("recovered", json!({"ms": ms}));
                    return Some(ms);
                }
                Ok(Err(e)) => self.history.record(json!({"type": crate::clients::outcome(&e), "process": "probe",
                    "f": "append", "value": value, "error": e.to_string()})),
                Err(_) => self.history.record(
                    json!({"type": "info", "process": "probe", "f": "append", "value": value, "error": "timed out"}),
                ),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.problems.push(format!("no append succeeded within {limit:?} of a heal"));
        None
    }
}
