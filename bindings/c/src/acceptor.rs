//! The acceptor handle: an in-process acceptor over two logs, usable directly (to serve
//! remote proposers) or as a proposer's client.

use std::ffi::{c_char, CStr};

use synodos::{wire, Acceptor, Error, InProcessAcceptor, Proposal, Request};

use crate::error::{guard, guard_or, synodos_status, Fail};
use crate::log::{synodos_log, DynLog};
use crate::memory::{borrow, borrow_mut, free_handle, give, put, slice, synodos_bytes};
use crate::message::{
    synodos_promise, synodos_proposal, synodos_proposal_list, synodos_proposal_view, synodos_request,
};

/// In process: on the caller's thread, or on a thread of its own (group commit, concurrent
/// fsyncs) when both logs are file logs.
pub(crate) type Local = InProcessAcceptor<DynLog, DynLog>;

fn share(acceptor: Acceptor<DynLog, DynLog>, threaded: bool) -> Result<Local, Fail> {
    InProcessAcceptor::new(acceptor, threaded)
        .map_err(|e| Fail::Core(Error::storage(format!("cannot start the acceptor's thread: {e}"))))
}

/// An acceptor: phase 1b and 2b over a promise log and an accept log, every reply leaving only
/// after its record is durable. After any storage failure it refuses every later call
/// (`SYNODOS_ERR_CLOSED`).
///
/// Create with `synodos_acceptor_new_memory()` or `synodos_acceptor_new()`; free with
/// `synodos_acceptor_free()`. Clients made from it (`synodos_client_new_local`) share it and
/// keep it alive.
///
/// Thread-safe: an acceptor may be used from several threads at once. Over two file logs
/// (`synodos_log_new_file`) it runs on a thread of its own: calls that arrive together are
/// written together (one fsync per log), and a proposer's calls to several acceptors fsync at
/// once. Over other logs its calls are serialized by an internal lock, held while its logs
/// run (C log callbacks are called on the calling thread).
pub struct synodos_acceptor {
    pub(crate) inner: Local,
}

/// Create an acceptor over two new in-memory logs in `*out`.
#[no_mangle]
pub extern "C" fn synodos_acceptor_new_memory(out: *mut *mut synodos_acceptor) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        let promises: DynLog = Box::new(synodos::MemoryLog::new());
        let accepts: DynLog = Box::new(synodos::MemoryLog::new());
        let acceptor = Acceptor::new(promises, accepts)?;
        let inner = share(acceptor, false)?;
        // SAFETY: NULL or writable (contract).
        unsafe { give(out, synodos_acceptor { inner }, "out") }
    })
}

/// Create an acceptor over `promise_log` and `accept_log` in `*out`, recovering whatever they
/// hold (as after a restart).
///
/// Ownership: takes both logs over, whatever it returns (also on failure, and when the other
/// one is NULL): never use or free them afterwards. They are freed with the acceptor.
///
/// The two must be different logs: passing one handle as both gives
/// `SYNODOS_ERR_INVALID_ARGUMENT` (and the log is freed, once).
#[no_mangle]
pub extern "C" fn synodos_acceptor_new(
    promise_log: *mut synodos_log,
    accept_log: *mut synodos_log,
    out: *mut *mut synodos_acceptor,
) -> synodos_status {
    guard(|| {
        // One handle given twice is taken over (and freed) once: two boxes of one pointer
        // would free it twice.
        let same = !promise_log.is_null() && promise_log == accept_log;
        // SAFETY: each is NULL or a log handle now given to us (contract); taken at once so
        // that every return path frees them.
        let promises = (!promise_log.is_null()).then(|| unsafe { Box::from_raw(promise_log) });
        // SAFETY: as above (and not the handle just taken).
        let accepts = (!accept_log.is_null() && !same).then(|| unsafe { Box::from_raw(accept_log) });
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        if same {
            return Err(Fail::Core(Error::InvalidArgument(
                "promise_log and accept_log are the same log: an acceptor needs two different logs \
                 (the log was freed)"
                    .into(),
            )));
        }
        let promises = promises.ok_or(Fail::Null("promise_log"))?;
        let accepts = accepts.ok_or(Fail::Null("accept_log"))?;
        let threaded = promises.blocks && accepts.blocks;
        let acceptor = Acceptor::new(promises.inner, accepts.inner)?;
        let inner = share(acceptor, threaded)?;
        // SAFETY: checked non-NULL above.
        unsafe { give(out, synodos_acceptor { inner }, "out") }
    })
}

/// Create in `*out` a second handle on the same acceptor (both must be freed).
#[no_mangle]
pub extern "C" fn synodos_acceptor_clone(
    acceptor: *const synodos_acceptor,
    out: *mut *mut synodos_acceptor,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: NULL or a valid handle (contract).
        let a = unsafe { borrow(acceptor, "acceptor") }?;
        // SAFETY: checked non-NULL above.
        unsafe { give(out, synodos_acceptor { inner: a.inner.clone() }, "out") }
    })
}

/// Release this handle on the acceptor. Clients made from it keep the acceptor (and its
/// logs) alive until they are freed too. NULL is a no-op.
#[no_mangle]
pub extern "C" fn synodos_acceptor_free(acceptor: *mut synodos_acceptor) {
    // SAFETY: NULL or a handle not yet freed (contract).
    guard_or((), || unsafe { free_handle(acceptor) })
}

/// Phase 1b: answer `*request` into `*out` (a promise from `synodos_promise_new`, or the one a
/// `prepare` callback received), after recording the promise durably. A rejection is a
/// success with `promised` set. `SYNODOS_ERR_INVALID_MESSAGE` for ballot 0.
#[no_mangle]
pub extern "C" fn synodos_acceptor_prepare(
    acceptor: *const synodos_acceptor,
    request: *const synodos_request,
    out: *mut synodos_promise,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid pointers (contract).
        let (a, request, out) =
            unsafe { (borrow(acceptor, "acceptor")?, borrow(request, "request")?, borrow_mut(out, "out")?) };
        let request = Request::from(*request);
        out.inner = a.inner.with_blocking(move |acc| acc.prepare(&request))?;
        out.filled = true;
        Ok(())
    })
}

/// Phase 2b: answer the accept request `*proposal` into `*out` (a proposal from
/// `synodos_proposal_new`, or the one an `accept` callback received), after recording it
/// durably. The answer echoes `id` and `slot` with an empty value; a rejection is a success
/// with `promised` set.
#[no_mangle]
pub extern "C" fn synodos_acceptor_accept(
    acceptor: *const synodos_acceptor,
    proposal: *const synodos_proposal_view,
    out: *mut synodos_proposal,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid pointers (contract).
        let (a, view, out) =
            unsafe { (borrow(acceptor, "acceptor")?, borrow(proposal, "proposal")?, borrow_mut(out, "out")?) };
        // SAFETY: the view's bytes are readable (contract).
        let proposal = unsafe { view.copy_out() }?;
        out.inner = a.inner.with_blocking(move |acc| acc.accept(&proposal))?;
        out.filled = true;
        Ok(())
    })
}

/// Phase 2b for a whole batch: every entry accepted, durably and together (one write, one
/// fsync), or none. The answer in `*out` is as for one accept: `id` and the first entry's
/// `slot`, with `promised` set when the acceptor refused.
#[no_mangle]
pub extern "C" fn synodos_acceptor_accept_batch(
    acceptor: *const synodos_acceptor,
    batch: *const crate::message::synodos_batch,
    out: *mut synodos_proposal,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid pointers (contract).
        let (a, batch, out) =
            unsafe { (borrow(acceptor, "acceptor")?, borrow(batch, "batch")?, borrow_mut(out, "out")?) };
        let batch = batch.inner.clone();
        out.inner = a.inner.with_blocking(move |acc| acc.accept_batch(&batch))?;
        out.filled = true;
        Ok(())
    })
}

/// Append to `*out` every proposal this acceptor has accepted for slots `>= from_slot`, in
/// slot order (the highest ballot per slot).
#[no_mangle]
pub extern "C" fn synodos_acceptor_observe(
    acceptor: *const synodos_acceptor,
    from_slot: u64,
    out: *mut synodos_proposal_list,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid pointers (contract).
        let (a, out) = unsafe { (borrow(acceptor, "acceptor")?, borrow_mut(out, "out")?) };
        let request = Request { id: 0, attempt: 0, slot: from_slot };
        out.items.extend(a.inner.with_blocking(move |acc| acc.accepted_from(&request))?);
        Ok(())
    })
}

/// Forget accepted proposals below `slot` (chosen and applied elsewhere) and trim the logs.
#[no_mangle]
pub extern "C" fn synodos_acceptor_trim(acceptor: *const synodos_acceptor, slot: u64) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid handle (contract).
        let a = unsafe { borrow(acceptor, "acceptor") }?;
        Ok(a.inner.with_blocking(move |acc| acc.trim(slot))?)
    })
}

/// Serve one request in its JSON wire form, for an acceptor behind your own RPC. `method` is
/// `"prepare"` (request JSON in, promise JSON out), `"accept"` (proposal in, proposal out) or
/// `"observe"` (request in, JSON array of proposals out). The reply goes to `*reply` (free
/// with `synodos_bytes_free`).
#[no_mangle]
pub extern "C" fn synodos_acceptor_handle_json(
    acceptor: *const synodos_acceptor,
    method: *const c_char,
    json: *const u8,
    json_len: usize,
    reply: *mut synodos_bytes,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(reply, synodos_bytes::EMPTY, "reply") }?;
        // SAFETY: NULL or a valid handle (contract).
        let a = unsafe { borrow(acceptor, "acceptor") }?;
        if method.is_null() {
            return Err(Fail::Null("method"));
        }
        // SAFETY: non-NULL and NUL-terminated (contract).
        let method = unsafe { CStr::from_ptr(method) }.to_string_lossy();
        // SAFETY: NULL or `json_len` readable bytes (contract).
        let body = unsafe { slice(json, json_len, "json") }?;
        let text = std::str::from_utf8(body).map_err(|e| Error::InvalidMessage(format!("JSON is not UTF-8: {e}")))?;
        let out = match &*method {
            "prepare" => {
                let request: Request = wire::from_json(text)?;
                wire::to_json(&a.inner.with_blocking(move |acc| acc.prepare(&request))?)?
            }
            "accept" => {
                let proposal: Proposal = wire::from_json(text)?;
                wire::to_json(&a.inner.with_blocking(move |acc| acc.accept(&proposal))?)?
            }
            "observe" => {
                let request: Request = wire::from_json(text)?;
                let items = a.inner.with_blocking(move |acc| acc.accepted_from(&request))?;
                let parts = items.iter().map(wire::to_json).collect::<Result<Vec<_>, _>>()?;
                format!("[{}]", parts.join(","))
            }
            other => {
                return Err(Fail::Core(Error::InvalidArgument(format!(
                    "unknown method {other:?} (expected prepare, accept or observe)"
                ))))
            }
        };
        // SAFETY: checked non-NULL above.
        unsafe { put(reply, synodos_bytes::from_vec(out.into_bytes()), "reply") }
    })
}

#[allow(dead_code)]
fn _assert_thread_safe() {
    fn sync<T: Send + Sync>() {}
    sync::<synodos_acceptor>();
    let _ = synodos_proposal_view::EMPTY;
}
