//! The proposer and the replicated log.

use std::time::Duration;

use synodos::driver::block_on::{block_on, LocalSleeper};
use synodos::limits::duration_from_micros;
use synodos::{Error, Proposer, ProposerConfig, ReplicatedLog};

use crate::client::{synodos_client, Client};
use crate::error::{guard, guard_or, synodos_status, Fail};
use crate::ids::synodos_id_generator;
use crate::memory::{borrow, free_handle, give, put, slice, synodos_bytes};
use crate::message::synodos_entry_list;

/// Timeouts, retries and backoff of a proposer. Get the defaults from
/// `synodos_proposer_config_default()` and change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synodos_proposer_config {
    /// How long one prepare or accept call may take, in microseconds (default 1 s). Only
    /// bounds calls that do not finish at once: a blocking C callback is not cut off.
    pub call_timeout_us: u64,
    /// How many ballots to try before `SYNODOS_ERR_NO_QUORUM` (default 20; at least 1).
    pub max_attempts: u32,
    /// Backoff before the second attempt is drawn from `[0, backoff_min_us]`, the range
    /// doubling per attempt up to `backoff_max_us` (defaults 1 ms and 200 ms).
    pub backoff_min_us: u64,
    /// The largest backoff range, in microseconds.
    pub backoff_max_us: u64,
    /// How often `synodos_replicated_log_wait` asks the acceptors again (default 10 ms).
    pub poll_interval_us: u64,
    /// Seed of the backoff jitter, used when `use_seed` is true (random otherwise).
    pub seed: u64,
    /// Whether `seed` is used.
    pub use_seed: bool,
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl From<&ProposerConfig> for synodos_proposer_config {
    fn from(c: &ProposerConfig) -> Self {
        synodos_proposer_config {
            call_timeout_us: us(c.call_timeout),
            max_attempts: c.max_attempts,
            backoff_min_us: us(c.backoff_min),
            backoff_max_us: us(c.backoff_max),
            poll_interval_us: us(c.poll_interval),
            seed: c.seed.unwrap_or(0),
            use_seed: c.seed.is_some(),
        }
    }
}

impl From<&synodos_proposer_config> for ProposerConfig {
    fn from(c: &synodos_proposer_config) -> Self {
        ProposerConfig {
            call_timeout: duration_from_micros(c.call_timeout_us),
            max_attempts: c.max_attempts,
            backoff_min: duration_from_micros(c.backoff_min_us),
            backoff_max: duration_from_micros(c.backoff_max_us),
            poll_interval: duration_from_micros(c.poll_interval_us),
            seed: c.use_seed.then_some(c.seed),
            ..ProposerConfig::default()
        }
    }
}

/// The default configuration.
#[no_mangle]
pub extern "C" fn synodos_proposer_config_default() -> synodos_proposer_config {
    synodos_proposer_config::from(&ProposerConfig::default())
}

pub(crate) type CProposer = Proposer<Client, LocalSleeper>;

/// Proposes values to a set of acceptors and returns the value actually chosen.
///
/// Create with `synodos_proposer_new()`; free with `synodos_proposer_free()`.
/// Thread-safe: one proposer may be used from several threads at once (its C transports'
/// callbacks are then called concurrently too).
pub struct synodos_proposer {
    inner: CProposer,
}

/// A replicated log: an ordered sequence of chosen values, one Paxos instance per slot.
///
/// Create with `synodos_replicated_log_new()`; free with `synodos_replicated_log_free()`.
/// Thread-safe: appends from several threads at once each land in their own slot.
pub struct synodos_replicated_log {
    inner: ReplicatedLog<Client, LocalSleeper>,
}

/// Build the core proposer from C arguments.
///
/// # Safety
/// `clients` is NULL or `count` valid handle pointers; `ids` and `config` NULL or valid.
unsafe fn build(
    clients: *const *const synodos_client,
    count: usize,
    ids: *const synodos_id_generator,
    config: *const synodos_proposer_config,
) -> Result<CProposer, Fail> {
    if clients.is_null() && count > 0 {
        return Err(Fail::Null("clients"));
    }
    let ptrs: &[*const synodos_client] = if count == 0 {
        &[]
    } else {
        // SAFETY: non-NULL and `count` readable pointers (caller's contract).
        unsafe { std::slice::from_raw_parts(clients, count) }
    };
    let mut list = Vec::with_capacity(count);
    for p in ptrs {
        // SAFETY: each is NULL or a valid handle (caller's contract).
        list.push(unsafe { borrow(*p, "clients[i]") }?.inner.clone());
    }
    // SAFETY: NULL or a valid handle (caller's contract).
    let ids = unsafe { borrow(ids, "ids") }?.inner.clone();
    // SAFETY: NULL or a valid struct (caller's contract).
    let config = match unsafe { config.as_ref() } {
        Some(c) => ProposerConfig::from(c),
        None => ProposerConfig::default(),
    };
    Ok(Proposer::with_config(list, ids, LocalSleeper, config)?)
}

/// Create in `*out` a proposer over `count` clients (the order numbers the acceptors in
/// failure reports), taking ballots from `ids`, configured by `*config` (NULL: defaults).
///
/// Ownership: borrows `clients[i]` and `ids` (the proposer keeps its own references; free your
/// handles whenever you like). `SYNODOS_ERR_INVALID_ARGUMENT` for no clients or
/// `max_attempts` 0.
#[no_mangle]
pub extern "C" fn synodos_proposer_new(
    clients: *const *const synodos_client,
    count: usize,
    ids: *const synodos_id_generator,
    config: *const synodos_proposer_config,
    out: *mut *mut synodos_proposer,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: forwarded from this function's contract.
        let inner = unsafe { build(clients, count, ids, config) }?;
        // SAFETY: checked non-NULL above.
        unsafe { give(out, synodos_proposer { inner }, "out") }
    })
}

/// Free a proposer. NULL is a no-op. Must not be called while another thread uses it.
#[no_mangle]
pub extern "C" fn synodos_proposer_free(proposer: *mut synodos_proposer) {
    // SAFETY: NULL or a handle not yet freed, not in use (contract).
    guard_or((), || unsafe { free_handle(proposer) })
}

/// Propose `value` (`len` bytes, copied) for slot `slot` and block until a value is chosen;
/// put the chosen value (yours, or another proposer's that won first) in `*chosen` (free with
/// `synodos_bytes_free`). Single-decree Paxos uses slot 0.
#[no_mangle]
pub extern "C" fn synodos_proposer_propose_at(
    proposer: *const synodos_proposer,
    slot: u64,
    value: *const u8,
    len: usize,
    chosen: *mut synodos_bytes,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(chosen, synodos_bytes::EMPTY, "chosen") }?;
        // SAFETY: NULL or a valid handle (contract).
        let p = unsafe { borrow(proposer, "proposer") }?;
        // SAFETY: NULL or `len` readable bytes (contract).
        let value = unsafe { slice(value, len, "value") }?.to_vec();
        // Built where it stays pinned: block_on moves a closure, not the (large) future.
        let result = block_on(|| p.inner.propose_at(slot, value))?;
        // SAFETY: checked non-NULL above.
        unsafe { put(chosen, synodos_bytes::from_vec(result), "chosen") }
    })
}

/// `synodos_proposer_propose_at` for slot 0: the single decree.
#[no_mangle]
pub extern "C" fn synodos_proposer_propose(
    proposer: *const synodos_proposer,
    value: *const u8,
    len: usize,
    chosen: *mut synodos_bytes,
) -> synodos_status {
    synodos_proposer_propose_at(proposer, 0, value, len, chosen)
}

/// Create in `*out` a replicated log that appends through its own proposer over `count`
/// clients, with ballots from `ids` and `*config` (NULL: defaults). Same ownership as
/// `synodos_proposer_new`.
#[no_mangle]
pub extern "C" fn synodos_replicated_log_new(
    clients: *const *const synodos_client,
    count: usize,
    ids: *const synodos_id_generator,
    config: *const synodos_proposer_config,
    out: *mut *mut synodos_replicated_log,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: forwarded from this function's contract.
        let proposer = unsafe { build(clients, count, ids, config) }?;
        let log = synodos_replicated_log { inner: ReplicatedLog::new(proposer) };
        // SAFETY: checked non-NULL above.
        unsafe { give(out, log, "out") }
    })
}

/// Free a replicated log handle. NULL is a no-op. Must not be called while another thread
/// uses it.
#[no_mangle]
pub extern "C" fn synodos_replicated_log_free(log: *mut synodos_replicated_log) {
    // SAFETY: NULL or a handle not yet freed, not in use (contract).
    guard_or((), || unsafe { free_handle(log) })
}

/// Append `value` (`len` bytes, copied) at the first free slot, blocking until it is chosen
/// there; put that slot in `*slot` (may be NULL). Slots other writers took are learned and
/// skipped. Values are compared by bytes: put a unique id in values that must not merge.
#[no_mangle]
pub extern "C" fn synodos_replicated_log_append(
    log: *const synodos_replicated_log,
    value: *const u8,
    len: usize,
    slot: *mut u64,
) -> synodos_status {
    guard(|| {
        if !slot.is_null() {
            // SAFETY: non-NULL and writable (contract). Written first: 0 on every failure.
            unsafe { slot.write(0) };
        }
        // SAFETY: NULL or a valid handle (contract).
        let log = unsafe { borrow(log, "log") }?;
        // SAFETY: NULL or `len` readable bytes (contract).
        let value = unsafe { slice(value, len, "value") }?.to_vec();
        let entry = block_on(|| log.inner.append(value))?;
        if !slot.is_null() {
            // SAFETY: non-NULL and writable (contract).
            unsafe { slot.write(entry.slot) };
        }
        Ok(())
    })
}

/// The chosen entries from slot `from` on, in slot order, at most `max`, stopping at the first
/// slot not known to be chosen, into `*out` (free with `synodos_entry_list_free`). Asks every
/// acceptor (`observe`); `SYNODOS_ERR_NO_QUORUM` when fewer than a majority answer.
#[no_mangle]
pub extern "C" fn synodos_replicated_log_read(
    log: *const synodos_replicated_log,
    from: u64,
    max: usize,
    out: *mut synodos_entry_list,
) -> synodos_status {
    synodos_replicated_log_wait(log, from, max, 0, out)
}

/// `synodos_replicated_log_read`, but when nothing is chosen at `from` yet, ask again every
/// `poll_interval_us` until something is or `timeout_us` passes (then an empty list).
#[no_mangle]
pub extern "C" fn synodos_replicated_log_wait(
    log: *const synodos_replicated_log,
    from: u64,
    max: usize,
    timeout_us: u64,
    out: *mut synodos_entry_list,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, synodos_entry_list::EMPTY, "out") }?;
        // SAFETY: NULL or a valid handle (contract).
        let log = unsafe { borrow(log, "log") }?;
        let entries = block_on(|| log.inner.wait(from, max, duration_from_micros(timeout_us)))?;
        // SAFETY: checked non-NULL above.
        unsafe { put(out, synodos_entry_list::from_entries(entries), "out") }
    })
}

/// The lowest slot this handle has not yet seen chosen (0 for NULL).
#[no_mangle]
pub extern "C" fn synodos_replicated_log_next_slot(log: *const synodos_replicated_log) -> u64 {
    // SAFETY: NULL or a valid handle (contract).
    guard_or(0, || unsafe { log.as_ref() }.map_or(0, |l| l.inner.next_slot()))
}

#[allow(dead_code)]
fn _assert_thread_safe() {
    fn sync<T: Send + Sync>() {}
    sync::<synodos_proposer>();
    sync::<synodos_replicated_log>();
    let _ = Error::transport("");
}
