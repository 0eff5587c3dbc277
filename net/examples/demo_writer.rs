//! The demo's Rust writer (`make demo`, `make test-demo`): appends COUNT values tagged TAG
//! through a `ReplicatedLog` over one `HttpAcceptor` per URL, printing `slot <n> <value>` for
//! each acknowledged append. Exits 0 only if every append succeeded.
//!
//! ```text
//! demo_writer --peers URL,URL,URL --token-file F --cluster C --count 20 --tag rust --node-id 14
//! ```

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use synodos::{CounterIdGenerator, Proposer, ProposerConfig, ReplicatedLog, StdSleeper};
use synodos_net::{ClientOptions, HttpAcceptor};

#[derive(Parser)]
struct Args {
    /// The acceptors' URLs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    peers: Vec<String>,
    /// The bearer token, first line of this file.
    #[arg(long)]
    token_file: std::path::PathBuf,
    #[arg(long, default_value = "synodos")]
    cluster: String,
    #[arg(long, default_value_t = 20)]
    count: u64,
    #[arg(long, default_value = "rust")]
    tag: String,
    /// This proposer's node id (distinct per writer).
    #[arg(long, default_value_t = 1)]
    node_id: u16,
    /// Pause between appends (the demo paces its writers so that its kill lands mid-stream).
    #[arg(long, default_value_t = 0)]
    interval_ms: u64,
}

fn run(args: Args) -> Result<(), String> {
    let token = std::fs::read_to_string(&args.token_file)
        .map_err(|e| format!("cannot read {}: {e}", args.token_file.display()))?;
    let token = token.split_whitespace().next().ok_or("the token file is empty")?.to_string();
    let options = ClientOptions::new().token(token).cluster(args.cluster.clone()).timeout(Duration::from_secs(2));
    let clients = args
        .peers
        .iter()
        .map(|url| HttpAcceptor::new(url, options.clone()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let config = ProposerConfig { max_attempts: 60, ..ProposerConfig::default() };
    let proposer = Proposer::with_config(clients, Arc::new(CounterIdGenerator::new(args.node_id)), StdSleeper, config)
        .map_err(|e| e.to_string())?;
    let log = ReplicatedLog::new(proposer);
    for i in 0..args.count {
        let value = format!("{}-{i}", args.tag);
        let entry = log.append_blocking(value.clone().into_bytes()).map_err(|e| format!("append {value}: {e}"))?;
        println!("slot {} {value}", entry.slot);
        if args.interval_ms > 0 {
            std::thread::sleep(Duration::from_millis(args.interval_ms));
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("writer: {e}");
            ExitCode::FAILURE
        }
    }
}
