//! The client commands: `append`, `propose`, `read`, `status`. Each reaches the nodes given
//! by `--peers` (or `SYNODOS_PEERS`) through a [`NodeClient`].

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use futures::StreamExt;
use synodos::Error;
use synodos_net::{ClientOptions, NodeClient};

use super::{net_error, Fatal};

pub(crate) const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  an unexpected failure (the message says what)
  2  bad command line
  3  refused configuration: an unreadable token, CA or certificate file, a bad URL
  7  no node could do it: none reachable, or no majority of the members up (retry once
     they run; `synodos status` shows which answer)
  8  the nodes refused the request: a wrong token or cluster, a value over the size limit";

/// How to reach the nodes: every client command takes these.
#[derive(Args, Clone)]
pub(crate) struct ClientArgs {
    /// The nodes' URLs, comma-separated (any subset of the members will do).
    #[arg(long, env = "SYNODOS_PEERS", value_name = "URL,URL,...", value_delimiter = ',', required = true)]
    pub peers: Vec<String>,
    /// A file with the bearer token (its first token is sent).
    #[arg(long, value_name = "FILE", env = "SYNODOS_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The CA that signed the nodes' certificates (PEM), for https:// URLs.
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// A client certificate (PEM), for nodes that require one (mTLS).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The cluster's name: nodes of another cluster are refused.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Seconds one request may take.
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = super::seconds)]
    pub timeout: f64,
}

impl ClientArgs {
    pub(crate) fn options(&self) -> Result<ClientOptions, Fatal> {
        let read = |p: &PathBuf, what: &str| {
            std::fs::read(p).map_err(|e| Fatal::new(3, format!("cannot read the {what} {}: {e}", p.display())))
        };
        let mut options = ClientOptions::new().timeout(Duration::from_secs_f64(self.timeout));
        if let Some(path) = &self.token_file {
            let tokens = synodos_net::Tokens::from_file(path).map_err(net_error)?;
            drop(tokens); // validated; the first one is sent
            let text = String::from_utf8_lossy(&read(path, "token file")?).into_owned();
            if let Some(token) = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#')) {
                options = options.token(token);
            }
        }
        if let Some(ca) = &self.tls_ca {
            options = options.ca_pem(read(ca, "CA (--tls-ca)")?);
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            options = options.identity(read(cert, "client certificate")?, read(key, "client key")?);
        }
        if let Some(cluster) = &self.cluster {
            options = options.cluster(cluster.clone());
        }
        Ok(options)
    }

    pub(crate) fn client(&self, options: ClientOptions) -> Result<NodeClient, Fatal> {
        let peers: Vec<&str> = self.peers.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect();
        NodeClient::new(peers, options).map_err(net_error)
    }
}

/// Print a line on stdout; a closed stdout (`| head`) ends the program quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, $($arg)*).and_then(|()| out.flush()) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            return Err(Fatal::new(1, format!("cannot write to stdout: {e}")));
        }
    }};
}
pub(crate) use say;

/// The exit code and line for a failed call.
pub(crate) fn call_failed(e: &Error) -> Fatal {
    let refused = match e {
        Error::Transport { cause: Some(cause), .. } => cause
            .downcast_ref::<synodos_net::ApiError>()
            .is_some_and(|a| (400..500).contains(&a.status) && a.status != 408),
        Error::InvalidArgument(_) | Error::InvalidMessage(_) => true,
        _ => false,
    };
    if refused {
        Fatal::new(8, format!("{e}; check --token-file, --cluster and the value"))
    } else {
        Fatal::new(7, format!("{e}; check that a majority of the nodes run (synodos status), then retry"))
    }
}

/// A value from the command line, or stdin for `-` (one trailing newline dropped).
fn value_of(arg: &str) -> Result<Vec<u8>, Fatal> {
    if arg != "-" {
        return Ok(arg.as_bytes().to_vec());
    }
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| Fatal::new(1, format!("cannot read stdin: {e}")))?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    Ok(bytes)
}

#[derive(Args)]
pub(crate) struct AppendArgs {
    /// The value, or `-` to read it from stdin.
    value: String,
    /// Print `{"slot":N}` instead of the bare slot.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub(crate) fn append(args: AppendArgs) -> Result<(), Fatal> {
    let client = args.client.client(args.client.options()?)?;
    let value = value_of(&args.value)?;
    let entry = client.append_blocking(value).map_err(|e| call_failed(&e))?;
    if args.json {
        say!("{{\"slot\":{}}}", entry.slot);
    } else {
        say!("{}", entry.slot);
    }
    Ok(())
}

#[derive(Args)]
pub(crate) struct ProposeArgs {
    /// The value, or `-` to read it from stdin.
    value: String,
    #[command(flatten)]
    client: ClientArgs,
}

pub(crate) fn propose(args: ProposeArgs) -> Result<(), Fatal> {
    let client = args.client.client(args.client.options()?)?;
    let chosen = client.propose_blocking(value_of(&args.value)?).map_err(|e| call_failed(&e))?;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(&chosen).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(Fatal::new(1, format!("cannot write to stdout: {e}")));
        }
    }
    Ok(())
}

#[derive(Args)]
pub(crate) struct ReadArgs {
    /// The first slot.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Go on with each new entry as it is chosen, until Ctrl-C.
    #[arg(long)]
    follow: bool,
    /// One JSON object per line, `{"slot":N,"value":BASE64}`, instead of `SLOT<TAB>VALUE`
    /// (values that are not UTF-8 are printed as `base64:...` there).
    #[arg(long)]
    json: bool,
    /// Stop after this many entries.
    #[arg(long)]
    limit: Option<u64>,
    #[command(flatten)]
    client: ClientArgs,
}

fn print_entry(out: &mut impl Write, json: bool, e: &synodos::Entry) -> std::io::Result<()> {
    use base64::Engine;
    let b64 = || base64::engine::general_purpose::STANDARD.encode(&e.value);
    if json {
        writeln!(out, "{{\"slot\":{},\"value\":\"{}\"}}", e.slot, b64())
    } else {
        match std::str::from_utf8(&e.value) {
            Ok(text) if !text.contains('\n') => writeln!(out, "{}\t{text}", e.slot),
            _ => writeln!(out, "{}\tbase64:{}", e.slot, b64()),
        }
    }
}

pub(crate) fn read(args: ReadArgs) -> Result<(), Fatal> {
    let client = args.client.client(args.client.options()?)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut left = args.limit.unwrap_or(u64::MAX);
    let broken = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        Fatal::new(1, format!("cannot write to stdout: {e}"))
    };
    if args.follow {
        let mut stream = client.follow(args.from);
        while left > 0 {
            match futures::executor::block_on(stream.next()) {
                Some(Ok(entry)) => {
                    print_entry(&mut out, args.json, &entry).map_err(broken)?;
                    out.flush().map_err(broken)?;
                    left -= 1;
                }
                Some(Err(e)) => {
                    // A node went away: the stream goes on from another one.
                    eprintln!("synodos: warning: {e}");
                    if matches!(call_failed(&e).code, 8) {
                        return Err(call_failed(&e));
                    }
                }
                None => break,
            }
        }
        return Ok(());
    }
    let mut from = args.from;
    while left > 0 {
        let batch = client.read_blocking(from, left.min(10_000) as usize).map_err(|e| call_failed(&e))?;
        let Some(last) = batch.last().map(|e| e.slot) else { break };
        for entry in &batch {
            print_entry(&mut out, args.json, entry).map_err(broken)?;
        }
        left = left.saturating_sub(batch.len() as u64);
        match last.checked_add(1) {
            Some(next) => from = next,
            None => break,
        }
    }
    out.flush().map_err(broken)?;
    Ok(())
}

#[derive(Args)]
pub(crate) struct StatusArgs {
    /// One JSON object per node (its /v1/info, with "url" and "reachable") instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    client: ClientArgs,
}

pub(crate) fn status(args: StatusArgs) -> Result<(), Fatal> {
    let client = args.client.client(args.client.options()?)?;
    let infos = client.info_blocking();
    let reachable = infos.iter().filter(|(_, i)| i.is_ok()).count();
    let mut rows =
        vec![["NODE", "ID", "REACHABLE", "LEADER", "PROMISED", "FRONTIER", "CHOSEN-UP-TO"].map(String::from)];
    for (url, info) in &infos {
        if args.json {
            let line = match info {
                Ok(i) => {
                    let mut v = serde_json::to_value(i).unwrap_or_default();
                    v["url"] = url.clone().into();
                    v["reachable"] = true.into();
                    v
                }
                Err(e) => serde_json::json!({ "url": url, "reachable": false, "error": e.to_string() }),
            };
            say!("{line}");
            continue;
        }
        rows.push(match info {
            Ok(i) => [
                url.clone(),
                i.acceptor.to_string(),
                "yes".into(),
                i.leader.map_or("-".into(), |l| if l == 0 { "-".into() } else { l.to_string() }),
                i.promised.to_string(),
                i.frontier.to_string(),
                i.chosen_up_to.map_or("-".into(), |c| c.to_string()),
            ],
            Err(e) => {
                eprintln!("synodos: warning: {url}: {e}");
                [url.clone(), "-".into(), "no".into(), "-".into(), "-".into(), "-".into(), "-".into()]
            }
        });
    }
    if !args.json {
        let widths: Vec<usize> = (0..7).map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0)).collect();
        for row in &rows {
            let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
            say!("{}", cells.join("  ").trim_end());
        }
    }
    if reachable == 0 {
        return Err(Fatal::new(7, "no node answered: check --peers and that the nodes run"));
    }
    Ok(())
}
