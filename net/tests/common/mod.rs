//! Shared by the network tests: `synodos serve` processes that are killed by pid whatever
//! happens, raw HTTP/1.1 on a socket, test certificates.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A `synodos serve` process, killed (SIGKILL, by its pid) and reaped when dropped, so a
/// failing test leaves nothing behind.
pub struct ServeProcess {
    child: Option<Child>,
    pub url: String,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
}

impl ServeProcess {
    /// Start `synodos serve ARGS` and wait for its ready line on stdout (10 s at most).
    pub fn start(args: &[&str]) -> ServeProcess {
        match Self::try_start(args) {
            Ok(p) => p,
            Err(e) => panic!("synodos serve {args:?} did not start: {e}"),
        }
    }

    pub fn try_start(args: &[&str]) -> Result<ServeProcess, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_synodos"))
            .arg("serve")
            .args(args)
            .arg("--log-level")
            .arg("warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (line_tx, line_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let mut process =
            ServeProcess { child: Some(child), url: String::new(), addr: ([0, 0, 0, 0], 0).into(), stderr: err_rx };
        let line = line_rx.recv_timeout(Duration::from_secs(10)).map_err(|_| {
            let errors: Vec<String> = process.stderr.try_iter().collect();
            format!("no ready line; stderr: {errors:?}")
        })?;
        let url = line.rsplit(' ').next().ok_or("empty ready line")?.to_string();
        let addr = url.rsplit('/').next().ok_or("no address")?.parse().map_err(|e| format!("{line}: {e}"))?;
        process.url = url;
        process.addr = addr;
        Ok(process)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait for the exit code (10 s at most).
    pub fn terminate(&mut self) -> Option<i32> {
        terminate(&mut self.child, Duration::from_secs(10))
    }
}

/// SIGTERM to `child` (taken once it exits), then its exit code, waiting `within` at most.
pub fn terminate(child: &mut Option<Child>, within: Duration) -> Option<i32> {
    let running = child.as_mut()?;
    let pid = rustix::process::Pid::from_raw(running.id() as i32)?;
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = running.try_wait() {
            *child = None;
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Run `synodos ARGS` to its end (10 s at most): exit code, stdout, stderr.
pub fn run_cli(args: &[&str]) -> (i32, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_synodos"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn synodos");
    // Killed by pid if it outlives the deadline.
    struct Reap(Option<Child>);
    impl Drop for Reap {
        fn drop(&mut self) {
            if let Some(mut c) = self.0.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut reap = Reap(Some(child));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let Some(child) = reap.0.as_mut() else { unreachable!() };
        if let Ok(Some(status)) = child.try_wait() {
            let mut out = String::new();
            let mut err = String::new();
            if let Some(mut s) = child.stdout.take() {
                let _ = s.read_to_string(&mut out);
            }
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            reap.0 = None;
            return (status.code().unwrap_or(-1), out, err);
        }
        assert!(Instant::now() < deadline, "synodos {args:?} did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An HTTP answer read off a raw socket.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Raw {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or("").to_string()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Send `request` (a whole HTTP/1.1 request; it should say `Connection: close`) and read
/// the answer to the end.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Raw {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(request);
    read_answer(&mut s)
}

pub fn read_answer(s: &mut TcpStream) -> Raw {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    parse_answer(&bytes)
}

pub fn parse_answer(bytes: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(bytes).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
    });
    // A keep-alive server may answer bytes after the body as a next request: the answer
    // ends where its content-length says.
    let body = match (chunked, length) {
        (true, _) => dechunk(body),
        (false, Some(n)) => body.get(..n).unwrap_or(body).to_string(),
        (false, None) => body.to_string(),
    };
    Raw { status, head: head.to_string(), body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// A request with a JSON body.
pub fn post(path: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn get(path: &str, headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{headers}\r\n").into_bytes()
}

/// Poll `f` every 10 ms until it is true (`within` at most).
pub fn eventually(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A CA and certificates it signed, in PEM.
pub struct Pki {
    pub ca: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
    ca_cert: rcgen::Certificate,
    ca_key: rcgen::KeyPair,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, format!("{name} test CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = params.self_signed(&ca_key).unwrap();
        let mut pki = Pki {
            ca: ca_cert.pem(),
            server_cert: String::new(),
            server_key: String::new(),
            client_cert: String::new(),
            client_key: String::new(),
            ca_cert,
            ca_key,
        };
        let (cert, key) = pki.leaf(true);
        pki.server_cert = cert;
        pki.server_key = key;
        let (cert, key) = pki.leaf(false);
        pki.client_cert = cert;
        pki.client_key = key;
        pki
    }

    /// A leaf certificate for 127.0.0.1 and localhost, for a server or a client.
    fn leaf(&self, server: bool) -> (String, String) {
        use rcgen::{CertificateParams, ExtendedKeyUsagePurpose, KeyPair, SanType};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.extended_key_usages =
            vec![if server { ExtendedKeyUsagePurpose::ServerAuth } else { ExtendedKeyUsagePurpose::ClientAuth }];
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Write the PEM files into `dir`: ca.pem, server.pem, server.key, client.pem, client.key.
    pub fn write(&self, dir: &Path) {
        for (name, pem) in [
            ("ca.pem", &self.ca),
            ("server.pem", &self.server_cert),
            ("server.key", &self.server_key),
            ("client.pem", &self.client_cert),
            ("client.key", &self.client_key),
        ] {
            std::fs::write(dir.join(name), pem).unwrap();
        }
    }
}

/// Free ports on 127.0.0.1 (bound to port 0, then released: a node must know its peers'
/// URLs before any of them listens).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<_> = (0..n).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    listeners.iter().map(|l| l.local_addr().unwrap().port()).collect()
}

/// `synodos serve --peers` for node `id` (1-based) of `urls`, data in `dir/node-ID`.
pub fn start_node(id: usize, urls: &[String], dir: &Path, token_file: &Path) -> ServeProcess {
    let listen = urls[id - 1].trim_start_matches("http://").to_string();
    let data = dir.join(format!("node-{id}"));
    ServeProcess::start(&[
        "--id",
        &id.to_string(),
        "--cluster",
        "nodes",
        "--listen",
        &listen,
        "--data",
        data.to_str().unwrap(),
        "--token-file",
        token_file.to_str().unwrap(),
        "--peers",
        &urls.join(","),
    ])
}

/// Three nodes on free loopback ports: the processes and their URLs.
pub fn start_nodes(n: usize, dir: &Path, token_file: &Path) -> (Vec<ServeProcess>, Vec<String>) {
    let urls: Vec<String> = free_ports(n).iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let nodes = (1..=n).map(|id| start_node(id, &urls, dir, token_file)).collect();
    (nodes, urls)
}
