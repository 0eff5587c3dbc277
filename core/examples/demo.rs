//! `make demo`: three acceptors, two competing proposers, one value; then two writers
//! appending to one replicated log, and a reader that prints it in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::thread;

use synodos::{CounterIdGenerator, LocalAcceptor, Proposer, ReplicatedLog, StdSleeper};

fn main() -> Result<(), synodos::Error> {
    let acceptors: Vec<LocalAcceptor> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();

    println!("single decree: two proposers race on three acceptors");
    let racers: Vec<_> = ["apple", "banana"]
        .into_iter()
        .enumerate()
        .map(|(i, fruit)| {
            let acceptors = acceptors.clone();
            thread::spawn(move || {
                let proposer = Proposer::new(acceptors, CounterIdGenerator::new(i as u16 + 1), StdSleeper)?;
                let chosen = proposer.propose_blocking(fruit.as_bytes().to_vec())?;
                Ok::<_, synodos::Error>((fruit, chosen))
            })
        })
        .collect();
    let mut chosen_values = Vec::new();
    for racer in racers {
        let (proposed, chosen) = racer.join().expect("proposer thread")?;
        let chosen = String::from_utf8_lossy(&chosen).into_owned();
        println!("  proposer of {proposed:?} learned that {chosen:?} was chosen");
        chosen_values.push(chosen);
    }
    assert!(chosen_values.windows(2).all(|w| w[0] == w[1]), "both proposers agree");
    println!("  chosen: {:?}", chosen_values[0]);

    println!("replicated log: two writers append concurrently");
    let log_acceptors: Vec<LocalAcceptor> = (0..3).map(|_| LocalAcceptor::in_memory()).collect();
    let writers: Vec<_> = (0..2u16)
        .map(|w| {
            let acceptors = log_acceptors.clone();
            thread::spawn(move || {
                let log = ReplicatedLog::new(Proposer::new(acceptors, CounterIdGenerator::new(10 + w), StdSleeper)?);
                for i in 0..4 {
                    log.append_blocking(format!("writer{w}-entry{i}").into_bytes())?;
                }
                Ok::<_, synodos::Error>(())
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer thread")?;
    }
    let reader = Arc::new(ReplicatedLog::new(Proposer::new(log_acceptors, CounterIdGenerator::new(99), StdSleeper)?));
    let entries = futures::executor::block_on(reader.read(0, 100))?;
    for e in &entries {
        println!("  slot {}: {}", e.slot, String::from_utf8_lossy(&e.value));
    }
    assert_eq!(entries.len(), 8, "every append is in the log exactly once");
    println!("  {} entries, in slot order", entries.len());
    Ok(())
}
