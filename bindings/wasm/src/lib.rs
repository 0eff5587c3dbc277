//! The JavaScript binding of synodos: the `synodos` npm package (Node and browsers).
//!
//! A thin translation layer over the core crate: every protocol rule, the fan-out to
//! acceptors, majorities, timeouts, backoff and ballot leaping run in `synodos`; this crate
//! converts messages (plain JS objects, 64-bit numbers as `BigInt`, values as `Uint8Array`),
//! errors (`SynodosError` with a `code`, the user's exception as `cause`) and callbacks
//! (acceptor clients and logs written in JS).
//!
//! Re-entrancy: exported objects keep their state behind `Rc`s that each call clones into
//! its future, so no borrow of a wasm-bindgen object is held across an `await` or while user
//! JS runs. The one exception is by design: an in-process `Acceptor` holds its state while
//! its own log (which may be JS) writes, because the reply must not leave before the write;
//! a log that calls back into its own acceptor gets an error (an `AsyncAcceptor` queues
//! requests, so such a call would wait for the write that made it, and time out).
//!
//! Panics: built with `panic=abort`; no input or callback path can panic (clippy denies
//! `unwrap`/`expect`/`panic`). Should a bug panic anyway, the hook installed by [`start`]
//! restarts the wasm instance so the module stays usable (see there).
//!
//! 64-bit ids cross as `BigInt` (exact); inputs also take non-negative safe-integer numbers.
//! Messages are converted field by field (structural getters/setters) rather than with
//! serde-wasm-bindgen: the core's serde derive encodes `value` as base64 for the wire, while
//! JS callers want a `Uint8Array`, and direct conversion is also the faster path.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod async_acceptor;
mod client;
mod error;
mod exec;
mod host;
mod jsread;
mod log;
mod msg;
mod settle;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use js_sys::{Promise as JsPromise, Uint8Array};
use synodos::{wire, Clock, CounterIdGenerator as CoreCounter, Error, IdGenerator, ProposerConfig, Result};
use wasm_bindgen::prelude::*;

use crate::client::{Client, CoreAcceptor, JsClient, JsSleeper, Local};
use crate::error::{argument_error, invalid_argument, to_js_error, IntoArgResult, IntoJsResult};
use crate::exec::run_to_promise;
use crate::log::{own_handle, own_handle_value, AnyLog};
use crate::msg::u64_arg;
use wasm_bindgen::convert::TryFromJsValue;

pub use crate::async_acceptor::{run_log_conformance_async, AsyncAcceptor, AsyncAcceptorHandle};
pub use crate::log::{run_log_conformance, MemoryLog, MemoryLogHandle};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(s: &str);
}

/// Module start: install the panic hook. The build uses `panic=abort`, and no input or
/// callback path can panic (clippy denies `unwrap`/`expect`/`panic`); a panic would be a
/// bug. If one happens, the hook reports it on `console.error` and schedules a fresh wasm
/// instance for the next call, and the host (`host.rs`) counts it (`__panicCount()`),
/// rejects every Promise still pending with a `SynodosError` (code `PANIC`), starts the
/// fresh instance at once and hands it the host; late callbacks of the aborted instance (a
/// client's answer, a timer) are then dropped by the host. The call that panicked throws a
/// `RuntimeError` (or, for a method returning a Promise, rejects), the objects that lived in
/// the aborted instance (whose state may be half-updated) refuse further use, and
/// everything created afterwards works. This keeps the module usable without ever running
/// on state that a panic interrupted.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!("{info}");
        console_error(&format!("synodos (wasm) panicked (a bug; the module restarts): {message}"));
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen::handler::schedule_reinit();
        // The host makes the fresh instance now, before this call traps.
        let _ = host::with_host(|h| h.after_panic(&message));
    }));
}

/// Internal: does nothing (the first call after a panic starts the fresh instance).
#[wasm_bindgen(js_name = "__noop", skip_typescript)]
pub fn noop() {}

/// An in-process acceptor over two logs (the ancestor's `NewAcceptor(promiseLog,
/// acceptLog)`). Each log is a `MemoryLog`, any object with synchronous `record`, `last`,
/// `range` (and `trim`) methods, or omitted (a new `MemoryLog`). Pass it to a `Proposer`
/// directly (it is then called without going through JS), or serve it over your own RPC
/// with `prepare`/`accept`/`observe`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Acceptor {
    local: Local,
}

/// Internal: a second handle on an [`Acceptor`].
#[wasm_bindgen(skip_typescript)]
#[derive(Debug)]
pub struct AcceptorHandle {
    local: Local,
}

#[wasm_bindgen]
impl Acceptor {
    /// An acceptor over `promiseLog` and `acceptLog`, recovering whatever they hold.
    #[wasm_bindgen(constructor)]
    pub fn new(promise_log: JsValue, accept_log: JsValue) -> Result<Acceptor, JsValue> {
        let p = AnyLog::from_js(&promise_log).arg()?;
        let a = AnyLog::from_js(&accept_log).arg()?;
        let acceptor = CoreAcceptor::new(p, a).js()?;
        Ok(Acceptor { local: Local(Rc::new(RefCell::new(acceptor))) })
    }

    /// Phase 1b: answer a prepare request (after recording the promise).
    pub fn prepare(&self, request: JsValue) -> Result<JsValue, JsValue> {
        let r = msg::request_from(&request).arg()?;
        self.local.with(|a| a.prepare(&r)).map(|p| msg::promise_to(&p)).js()
    }

    /// Phase 2b: answer an accept request (after recording the proposal).
    pub fn accept(&self, proposal: JsValue) -> Result<JsValue, JsValue> {
        let p = msg::proposal_from(&proposal).arg()?;
        self.local.with(|a| a.accept(&p)).map(|p| msg::proposal_to(&p)).js()
    }

    /// Phase 2b for many slots at one ballot (`{id, entries: [{slot, value}, ...]}`): all
    /// taken in one write, or none; answered as to one accept (`promised` set when refused).
    #[wasm_bindgen(js_name = acceptBatch)]
    pub fn accept_batch(&self, batch: JsValue) -> Result<JsValue, JsValue> {
        let b = msg::batch_from(&batch).arg()?;
        self.local.with(|a| a.accept_batch(&b)).map(|p| msg::proposal_to(&p)).js()
    }

    /// Every proposal accepted for slots `>= request.slot` (the highest ballot per slot).
    pub fn observe(&self, request: JsValue) -> Result<js_sys::Array, JsValue> {
        let r = msg::request_from(&request).arg()?;
        self.local.with(|a| a.accepted_from(&r)).map(|ps| msg::proposals_to(&ps)).js()
    }

    /// Forget accepted proposals below `slot` and trim the accept log.
    pub fn trim(&self, slot: JsValue) -> Result<(), JsValue> {
        let slot = u64_arg(&slot, "slot").arg()?;
        self.local.with(|a| a.trim(slot)).js()
    }

    /// The highest ballot promised.
    #[wasm_bindgen(getter)]
    pub fn promised(&self) -> Result<u64, JsValue> {
        self.local.with(|a| Ok(a.core().promised())).js()
    }

    /// Internal: lets a `Proposer` recognise this acceptor.
    #[wasm_bindgen(js_name = "__synodosHandle", skip_typescript)]
    pub fn handle(&self) -> AcceptorHandle {
        AcceptorHandle { local: self.local.clone() }
    }
}

/// `Date.now()` as a [`Clock`] (std's `SystemTime` is unsupported on wasm32-unknown-unknown).
#[derive(Debug, Clone, Copy, Default)]
struct JsClock;

impl Clock for JsClock {
    fn now_millis(&self) -> u64 {
        let t = js_sys::Date::now();
        if t.is_finite() && t > 0.0 {
            t as u64
        } else {
            0
        }
    }
}

/// Internal: a shared id generator.
#[wasm_bindgen(skip_typescript)]
pub struct IdsHandle {
    ids: Arc<dyn IdGenerator>,
}

fn node_id(v: &JsValue, max: f64, what: &str) -> Result<f64, JsValue> {
    match v.as_f64() {
        Some(n) if n.is_finite() && n.fract() == 0.0 && (0.0..=max).contains(&n) => Ok(n),
        _ => Err(invalid_argument(format!("{what} must be an integer number in 0..={max}"))),
    }
}

/// Ballots `round << 16 | nodeId`, with no clock. Every proposer needs its own `nodeId`.
#[wasm_bindgen]
pub struct CounterIdGenerator {
    ids: Arc<dyn IdGenerator>,
}

#[wasm_bindgen]
impl CounterIdGenerator {
    /// A generator for node `nodeId` (0..=65535).
    #[wasm_bindgen(constructor)]
    pub fn new(node_id_: JsValue) -> Result<CounterIdGenerator, JsValue> {
        let n = node_id(&node_id_, 65535.0, "nodeId")? as u16;
        Ok(CounterIdGenerator { ids: Arc::new(CoreCounter::new(n)) })
    }
    /// The next ballot (a `BigInt`).
    pub fn next(&self) -> Result<u64, JsValue> {
        self.ids.next().js()
    }
    /// Leap past a ballot seen elsewhere.
    pub fn observe(&self, seen: JsValue) -> Result<(), JsValue> {
        let seen = u64_arg(&seen, "seen").arg()?;
        self.ids.observe(seen);
        Ok(())
    }
    /// Internal.
    #[wasm_bindgen(js_name = "__synodosHandle", skip_typescript)]
    pub fn handle(&self) -> IdsHandle {
        IdsHandle { ids: self.ids.clone() }
    }
}

/// `millis << 16 | serverId` over `Date.now()` (every generator's layout), strictly increasing
/// even when the clock stalls or steps back.
#[wasm_bindgen]
pub struct ServerIdGenerator {
    ids: Arc<dyn IdGenerator>,
}

#[wasm_bindgen]
impl ServerIdGenerator {
    /// A generator for server `serverId` (0..=255).
    #[wasm_bindgen(constructor)]
    pub fn new(server_id: JsValue) -> Result<ServerIdGenerator, JsValue> {
        let n = node_id(&server_id, 255.0, "serverId")? as u8;
        Ok(ServerIdGenerator { ids: Arc::new(synodos::ServerIdGenerator::new(n, JsClock)) })
    }
    /// The next ballot (a `BigInt`).
    pub fn next(&self) -> Result<u64, JsValue> {
        self.ids.next().js()
    }
    /// Leap past a ballot seen elsewhere.
    pub fn observe(&self, seen: JsValue) -> Result<(), JsValue> {
        let seen = u64_arg(&seen, "seen").arg()?;
        self.ids.observe(seen);
        Ok(())
    }
    /// Internal.
    #[wasm_bindgen(js_name = "__synodosHandle", skip_typescript)]
    pub fn handle(&self) -> IdsHandle {
        IdsHandle { ids: self.ids.clone() }
    }
}

fn get(options: &JsValue, key: &str) -> Result<JsValue, JsValue> {
    if options.is_object() {
        jsread::get(options, &JsValue::from_str(key), &format!("options.{key}")).arg()
    } else {
        Ok(JsValue::UNDEFINED)
    }
}

/// A milliseconds option (`synodos::limits`: NaN and negative refused, longer than 2^32 s,
/// `Infinity` included, cut to that).
fn millis(options: &JsValue, key: &str, default: Duration) -> Result<Duration, JsValue> {
    let v = get(options, key)?;
    if v.is_undefined() {
        return Ok(default);
    }
    match v.as_f64() {
        Some(ms) => synodos::limits::duration_from_millis_f64(key, ms).arg(),
        None => Err(invalid_argument(format!("{key} must be a non-negative number of milliseconds"))),
    }
}

/// Clients, ballots and configuration of a new proposer.
type ProposerParts = (Vec<Client>, Arc<dyn IdGenerator>, ProposerConfig);

fn proposer_parts(clients: &JsValue, options: &JsValue) -> Result<ProposerParts, JsValue> {
    let mut out = Vec::new();
    let listed = jsread::each_item(clients, "clients", |i, c| {
        let i = i as usize;
        let client = match own_handle_value(&c).map(AcceptorHandle::try_from_js_value) {
            Some(Ok(h)) => Client::Local(h.local),
            Some(Err(h)) => match AsyncAcceptorHandle::try_from_js_value(h) {
                Ok(h) => Client::LocalAsync(h.inner),
                Err(_) => Client::Js(JsClient::new(c, i)?),
            },
            None if c.is_object() || c.is_function() => Client::Js(JsClient::new(c, i)?),
            None => {
                return Err(Error::InvalidArgument(format!(
                    "acceptor client {i} must be an Acceptor or an object with prepare() and accept() methods"
                )))
            }
        };
        out.push(client);
        Ok(())
    })
    .arg()?;
    if listed.is_none() {
        return Err(invalid_argument("clients must be an array"));
    }
    if !options.is_undefined() && !options.is_object() {
        return Err(invalid_argument("options must be an object"));
    }
    let ids_obj = get(options, "ids")?;
    let node = get(options, "nodeId")?;
    let ids: Arc<dyn IdGenerator> = if !ids_obj.is_undefined() {
        own_handle::<IdsHandle>(&ids_obj)
            .ok_or_else(|| invalid_argument("options.ids must be a CounterIdGenerator or ServerIdGenerator"))?
            .ids
    } else if !node.is_undefined() {
        Arc::new(CoreCounter::new(node_id(&node, 65535.0, "options.nodeId")? as u16))
    } else {
        return Err(invalid_argument(
            "options.nodeId (a number unique to this proposer) or options.ids is required: \
             two proposers must never share ballots",
        ));
    };
    let d = ProposerConfig::default();
    let max_attempts = match get(options, "maxAttempts")? {
        v if v.is_undefined() => d.max_attempts,
        v => match v.as_f64() {
            Some(n) if n.fract() == 0.0 && (1.0..=1e9).contains(&n) => n as u32,
            _ => return Err(invalid_argument("maxAttempts must be a positive integer")),
        },
    };
    let seed = match get(options, "seed")? {
        v if v.is_undefined() => (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64,
        v => u64_arg(&v, "seed").arg()?,
    };
    let config = ProposerConfig {
        call_timeout: millis(options, "callTimeoutMs", d.call_timeout)?,
        max_attempts,
        backoff_min: millis(options, "backoffMinMs", d.backoff_min)?,
        backoff_max: millis(options, "backoffMaxMs", d.backoff_max)?,
        poll_interval: millis(options, "pollIntervalMs", d.poll_interval)?,
        seed: Some(seed),
        ..d
    };
    Ok((out, ids, config))
}

type CoreProposer = synodos::Proposer<Client, JsSleeper>;

fn new_proposer(clients: &JsValue, options: &JsValue) -> Result<CoreProposer, JsValue> {
    let (clients, ids, config) = proposer_parts(clients, options)?;
    CoreProposer::with_config(clients, ids, JsSleeper, config).js()
}

fn value_from(v: &JsValue) -> Result<Vec<u8>> {
    jsread::bytes(v, "the value")?.ok_or_else(|| Error::InvalidArgument("a value must be a Uint8Array".into()))
}

/// A rejected Promise for a bad argument.
fn rejected(e: &Error) -> JsPromise {
    JsPromise::reject(&argument_error(e))
}

/// Proposes values to a set of acceptors (single-decree Paxos, and one slot of a log with
/// `proposeAt`). Requests go to every acceptor at once; the first majority decides; a call
/// that does not answer within `callTimeoutMs` counts as failed.
#[wasm_bindgen]
pub struct Proposer {
    inner: Rc<CoreProposer>,
}

#[wasm_bindgen]
impl Proposer {
    /// A proposer over `clients` (each an `Acceptor` or an `AcceptorClient` object).
    #[wasm_bindgen(constructor)]
    pub fn new(clients: JsValue, options: JsValue) -> Result<Proposer, JsValue> {
        Ok(Proposer { inner: Rc::new(new_proposer(&clients, &options)?) })
    }

    /// Propose `value` for the single decree (slot 0); resolves to the value actually chosen.
    pub fn propose(&self, value: JsValue) -> JsPromise {
        self.propose_at(JsValue::from(0u64), value)
    }

    /// Propose `value` for `slot`; resolves to the value chosen there.
    #[wasm_bindgen(js_name = proposeAt)]
    pub fn propose_at(&self, slot: JsValue, value: JsValue) -> JsPromise {
        let (slot, value) = match (u64_arg(&slot, "slot"), value_from(&value)) {
            (Ok(s), Ok(v)) => (s, v),
            (Err(e), _) | (_, Err(e)) => return rejected(&e),
        };
        let p = self.inner.clone();
        run_to_promise(async move {
            match p.propose_at(slot, value).await {
                Ok(chosen) => Ok(Uint8Array::from(&chosen[..]).into()),
                Err(e) => Err(to_js_error(&e)),
            }
        })
    }
}

/// A replicated log: an ordered sequence of chosen values, one Paxos instance per slot.
#[wasm_bindgen]
pub struct ReplicatedLog {
    inner: Rc<synodos::ReplicatedLog<Client, JsSleeper>>,
}

fn count(v: &JsValue, what: &str) -> Result<usize> {
    match v.as_f64() {
        Some(n) if n.fract() == 0.0 && n >= 0.0 => Ok(n.min(u32::MAX as f64) as usize),
        _ if v.is_undefined() => Ok(u32::MAX as usize),
        _ => Err(Error::InvalidArgument(format!("{what} must be a non-negative integer"))),
    }
}

#[wasm_bindgen]
impl ReplicatedLog {
    /// A log handle over `clients`, appending with its own proposer (same options).
    #[wasm_bindgen(constructor)]
    pub fn new(clients: JsValue, options: JsValue) -> Result<ReplicatedLog, JsValue> {
        Ok(ReplicatedLog { inner: Rc::new(synodos::ReplicatedLog::new(new_proposer(&clients, &options)?)) })
    }

    /// Append `value` at the first free slot; resolves to `{slot, value}`.
    pub fn append(&self, value: JsValue) -> JsPromise {
        let value = match value_from(&value) {
            Ok(v) => v,
            Err(e) => return rejected(&e),
        };
        let log = self.inner.clone();
        run_to_promise(async move {
            match log.append(value).await {
                Ok(entry) => Ok(msg::entry_to(&entry)),
                Err(e) => Err(to_js_error(&e)),
            }
        })
    }

    /// The chosen entries from slot `from` on, up to `max`, stopping at the first slot not
    /// known to be chosen.
    pub fn read(&self, from: JsValue, max: JsValue) -> JsPromise {
        self.wait(from, max, JsValue::from(0.0))
    }

    /// Like `read`, but when nothing is chosen at `from` yet, poll until something is or
    /// `timeoutMs` passes (then an empty array).
    pub fn wait(&self, from: JsValue, max: JsValue, timeout_ms: JsValue) -> JsPromise {
        let from = match u64_arg(&from, "from") {
            Ok(f) => f,
            Err(e) => return rejected(&e),
        };
        let max = match count(&max, "max") {
            Ok(m) => m,
            Err(e) => return rejected(&e),
        };
        let timeout = match timeout_ms.as_f64() {
            Some(ms) => match synodos::limits::duration_from_millis_f64("timeoutMs", ms) {
                Ok(t) => t,
                Err(e) => return rejected(&e),
            },
            None => return rejected(&Error::InvalidArgument("timeoutMs must be a non-negative number".into())),
        };
        let log = self.inner.clone();
        run_to_promise(async move {
            let r = if timeout.is_zero() { log.read(from, max).await } else { log.wait(from, max, timeout).await };
            match r {
                Ok(entries) => Ok(msg::entries_to(&entries).into()),
                Err(e) => Err(to_js_error(&e)),
            }
        })
    }

    /// The lowest slot this handle has not yet seen chosen.
    #[wasm_bindgen(getter, js_name = nextSlot)]
    pub fn next_slot(&self) -> u64 {
        self.inner.next_slot()
    }
}

fn kind_of(kind: &JsValue) -> Result<String> {
    kind.as_string()
        .ok_or_else(|| Error::InvalidArgument("kind must be a string (request, promise, proposal or batch)".into()))
}

fn message_from(kind: &str, v: &JsValue) -> Result<wire::Message> {
    match kind {
        "request" => msg::request_from(v).map(wire::Message::Request),
        "promise" => msg::promise_from(v).map(wire::Message::Promise),
        "proposal" => msg::proposal_from(v).map(wire::Message::Proposal),
        "batch" => msg::batch_from(v).map(wire::Message::Batch),
        other => Err(Error::InvalidMessage(format!(
            "unknown message kind {other:?} (expected request, promise, proposal or batch)"
        ))),
    }
}

/// Encode a message object as wire JSON (the ancestor's field names, bytes as base64).
/// `kind` is `"request"`, `"promise"`, `"proposal"` or `"batch"`.
#[wasm_bindgen(js_name = encodeMessage)]
pub fn encode_message(kind: JsValue, message: JsValue) -> Result<String, JsValue> {
    let kind = kind_of(&kind).arg()?;
    let m = message_from(&kind, &message).arg()?;
    m.to_json().js()
}

/// Decode wire JSON as the message named `kind` into a plain object.
#[wasm_bindgen(js_name = decodeMessage)]
pub fn decode_message(kind: JsValue, json: JsValue) -> Result<JsValue, JsValue> {
    let kind = kind_of(&kind).arg()?;
    let json = json.as_string().ok_or_else(|| invalid_argument("json must be a string"))?;
    Ok(match wire::Message::from_json(&kind, &json).js()? {
        wire::Message::Request(r) => msg::request_to(&r),
        wire::Message::Promise(p) => msg::promise_to(&p),
        wire::Message::Proposal(p) => msg::proposal_to(&p),
        wire::Message::Batch(b) => msg::batch_to(&b),
    })
}

/// How many acceptors make a majority of `n`.
#[wasm_bindgen]
pub fn majority(n: JsValue) -> Result<u32, JsValue> {
    match n.as_f64() {
        Some(n) if n.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&n) => Ok(synodos::majority(n as usize) as u32),
        _ => Err(invalid_argument("n must be an integer number in 0..=2^32-1")),
    }
}

/// Internal (tests): the size of the wasm linear memory in bytes. It only ever grows, so a
/// value that stops growing shows that memory is being reused.
#[wasm_bindgen(js_name = "__memoryBytes", skip_typescript)]
pub fn memory_bytes() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        (core::arch::wasm32::memory_size(0) as f64) * 65536.0
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        0.0
    }
}

/// Internal (tests): panic on purpose, to show that a Rust panic reaches JS as an exception
/// and leaves the module usable.
#[wasm_bindgen(js_name = "__panicForTest", skip_typescript)]
#[allow(clippy::panic)]
pub fn panic_for_test(message: &str) {
    panic!("deliberate panic: {message}");
}
