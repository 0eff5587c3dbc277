//! Asynchronous C transports: a callback starts a call and returns at once; the answer comes
//! later, from any thread, through a completion object. The proposer then really asks every
//! acceptor at once, and its per-call timeout applies.

use std::ffi::c_void;
use std::sync::Arc;

use futures::channel::oneshot;
use synodos::{Error, Promise, Proposal, Request, Result};

use crate::error::{callback_failure, clear_callback_message, guard_or, synodos_status, SYNODOS_OK};
use crate::message::{
    synodos_promise, synodos_proposal, synodos_proposal_list, synodos_proposal_view, synodos_request,
};

enum Pending {
    Prepare(oneshot::Sender<Result<Promise>>, synodos_promise),
    Accept(oneshot::Sender<Result<Proposal>>, synodos_proposal),
    Observe(oneshot::Sender<Result<Vec<Proposal>>>, synodos_proposal_list),
}

/// One call of an asynchronous C transport, waiting for its answer. Fill in the answer
/// object (`synodos_completion_promise()`, `_proposal()` or `_list()`, whichever matches the
/// call; the others return NULL), then call `synodos_completion_finish()` exactly once, from
/// any thread, even if the proposer has stopped waiting (a timeout, or a majority reached
/// without this acceptor): finishing frees the completion. A completion never finished leaks
/// (and so does its client's `user_data`: see `free_user_data`). One thread at a time may use
/// a completion.
pub struct synodos_completion {
    pending: Pending,
    /// Keeps the client (and so its `user_data`) alive until the call is finished:
    /// `free_user_data` never runs while a completion is outstanding.
    _client: Arc<AsyncClient>,
}

/// An acceptor transport written in C whose calls finish later (e.g. when a network reply
/// arrives on another thread). Each callback starts the call and returns; it must arrange for
/// `synodos_completion_finish(completion, status)` to be called exactly once, possibly before
/// it returns. `request`/`proposal` (and the value bytes) are borrowed only until the callback
/// returns: copy or encode what you need first.
///
/// Unlike `synodos_client_callbacks`, the proposer asks all acceptors at once and a call that
/// does not finish within `call_timeout_us` counts as `SYNODOS_ERR_TIMEOUT` for that acceptor.
/// Callbacks may be called from several threads at once (as for `synodos_client_callbacks`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synodos_async_client_callbacks {
    /// Passed to every callback; owned by the client once `synodos_client_new_async()`
    /// succeeds. Stays valid while any completion of this client is outstanding:
    /// `free_user_data` runs once, after the last reference (the client handle, every
    /// proposer or log made with it, and every unfinished completion) is gone.
    pub user_data: *mut c_void,
    /// Phase 1: start sending `*request`; finish with the promise in
    /// `synodos_completion_promise(completion)`. Required.
    pub prepare: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            request: *const synodos_request,
            completion: *mut synodos_completion,
        ),
    >,
    /// Phase 2: start sending `*proposal`; finish with the answer in
    /// `synodos_completion_proposal(completion)`. Required.
    pub accept: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            proposal: *const synodos_proposal_view,
            completion: *mut synodos_completion,
        ),
    >,
    /// Start asking for every proposal accepted for slots `>= request->slot`; finish with them
    /// pushed into `synodos_completion_list(completion)`. Optional.
    pub observe: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            request: *const synodos_request,
            completion: *mut synodos_completion,
        ),
    >,
    /// Called once with `user_data` when the client is dropped: after the client handle and
    /// every proposer or log using it are freed AND every completion it handed out has been
    /// finished. It may therefore run inside the `synodos_completion_finish()` of the last
    /// outstanding call, on whichever thread calls that (so it must not, e.g., join that
    /// thread). Optional.
    pub free_user_data: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

pub(crate) struct AsyncClient {
    pub(crate) cb: synodos_async_client_callbacks,
}

// SAFETY: the documented contract of `synodos_async_client_callbacks` requires callbacks (and
// `user_data`) usable from any thread, concurrently.
unsafe impl Send for AsyncClient {}
// SAFETY: as above.
unsafe impl Sync for AsyncClient {}

impl Drop for AsyncClient {
    fn drop(&mut self) {
        if let Some(free) = self.cb.free_user_data {
            // SAFETY: the last reference is gone: called once, with the user's pointer.
            unsafe { free(self.cb.user_data) };
        }
    }
}

async fn wait<T>(rx: oneshot::Receiver<Result<T>>, what: &str) -> Result<T> {
    match rx.await {
        Ok(result) => result,
        Err(_) => Err(Error::transport(format!("{what} completion was dropped without an answer"))),
    }
}

impl AsyncClient {
    pub(crate) async fn prepare(self: &Arc<Self>, request: &Request) -> Result<Promise> {
        let Some(start) = self.cb.prepare else {
            return Err(Error::transport("this C client has no prepare callback"));
        };
        let (tx, rx) = oneshot::channel();
        let completion = Box::into_raw(Box::new(synodos_completion {
            pending: Pending::Prepare(tx, synodos_promise::default()),
            _client: Arc::clone(self),
        }));
        let req = synodos_request::from(request);
        // SAFETY: a valid callback (contract); `req` outlives the call; the completion is
        // handed to C, which frees it through `synodos_completion_finish`.
        unsafe { start(self.cb.user_data, &req, completion) };
        wait(rx, "prepare").await
    }

    pub(crate) async fn accept(self: &Arc<Self>, proposal: &Proposal) -> Result<Proposal> {
        let Some(start) = self.cb.accept else {
            return Err(Error::transport("this C client has no accept callback"));
        };
        let (tx, rx) = oneshot::channel();
        let completion = Box::into_raw(Box::new(synodos_completion {
            pending: Pending::Accept(tx, synodos_proposal::default()),
            _client: Arc::clone(self),
        }));
        let view = synodos_proposal_view::of(proposal);
        // SAFETY: as in `prepare`; `view` borrows `proposal`, alive during the call.
        unsafe { start(self.cb.user_data, &view, completion) };
        wait(rx, "accept").await
    }

    pub(crate) async fn observe(self: &Arc<Self>, request: &Request) -> Result<Vec<Proposal>> {
        let Some(start) = self.cb.observe else {
            return Err(Error::transport("this C client has no observe callback"));
        };
        let (tx, rx) = oneshot::channel();
        let completion = Box::into_raw(Box::new(synodos_completion {
            pending: Pending::Observe(tx, synodos_proposal_list::default()),
            _client: Arc::clone(self),
        }));
        let req = synodos_request::from(request);
        // SAFETY: as in `prepare`.
        unsafe { start(self.cb.user_data, &req, completion) };
        wait(rx, "observe").await
    }
}

pub(crate) fn check_async(cb: &synodos_async_client_callbacks) -> Result<(), crate::error::Fail> {
    if cb.prepare.is_none() {
        return Err(crate::error::Fail::Null("callbacks->prepare"));
    }
    if cb.accept.is_none() {
        return Err(crate::error::Fail::Null("callbacks->accept"));
    }
    Ok(())
}

/// The promise to fill in before finishing a `prepare` completion (NULL for another kind, or
/// a NULL completion). Owned by the completion.
#[no_mangle]
pub extern "C" fn synodos_completion_promise(completion: *mut synodos_completion) -> *mut synodos_promise {
    guard_or(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live completion (contract).
        match unsafe { completion.as_mut() }.map(|c| &mut c.pending) {
            Some(Pending::Prepare(_, out)) => out as *mut synodos_promise,
            _ => std::ptr::null_mut(),
        }
    })
}

/// The proposal to fill in before finishing an `accept` completion (NULL for another kind).
#[no_mangle]
pub extern "C" fn synodos_completion_proposal(completion: *mut synodos_completion) -> *mut synodos_proposal {
    guard_or(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live completion (contract).
        match unsafe { completion.as_mut() }.map(|c| &mut c.pending) {
            Some(Pending::Accept(_, out)) => out as *mut synodos_proposal,
            _ => std::ptr::null_mut(),
        }
    })
}

/// The list to push into before finishing an `observe` completion (NULL for another kind).
#[no_mangle]
pub extern "C" fn synodos_completion_list(completion: *mut synodos_completion) -> *mut synodos_proposal_list {
    guard_or(std::ptr::null_mut(), || {
        // SAFETY: NULL or a live completion (contract).
        match unsafe { completion.as_mut() }.map(|c| &mut c.pending) {
            Some(Pending::Observe(_, out)) => out as *mut synodos_proposal_list,
            _ => std::ptr::null_mut(),
        }
    })
}

/// Finish a call and free the completion: `status` 0 delivers the answer filled in (an
/// unfilled promise or proposal is a transport error); any other status fails the call for
/// this acceptor (the caller sees it as `callback_status`; a message set with
/// `synodos_callback_set_error()` on this thread just before is attached). May be called from
/// any thread, exactly once. NULL is a no-op.
#[no_mangle]
pub extern "C" fn synodos_completion_finish(completion: *mut synodos_completion, status: synodos_status) {
    guard_or((), || {
        if completion.is_null() {
            return;
        }
        // SAFETY: a completion from `Box::into_raw` in this module, finished once (contract).
        let completion = unsafe { Box::from_raw(completion) };
        let fail = |what: &str| {
            let failure = callback_failure(what, status);
            Error::Transport { message: failure.message.clone(), cause: Some(Arc::new(failure)) }
        };
        if status == SYNODOS_OK {
            clear_callback_message();
        }
        // A send fails only when the proposer stopped waiting: nothing to do then.
        match completion.pending {
            Pending::Prepare(tx, out) => {
                let result = match (status, out.filled) {
                    (SYNODOS_OK, true) => Ok(out.inner),
                    (SYNODOS_OK, false) => Err(Error::transport("prepare completion finished with 0 but no promise")),
                    _ => Err(fail("prepare")),
                };
                let _ = tx.send(result);
            }
            Pending::Accept(tx, out) => {
                let result = match (status, out.filled) {
                    (SYNODOS_OK, true) => Ok(out.inner),
                    (SYNODOS_OK, false) => Err(Error::transport("accept completion finished with 0 but no answer")),
                    _ => Err(fail("accept")),
                };
                let _ = tx.send(result);
            }
            Pending::Observe(tx, out) => {
                let result = if status == SYNODOS_OK { Ok(out.items) } else { Err(fail("observe")) };
                let _ = tx.send(result);
            }
        }
    })
}
