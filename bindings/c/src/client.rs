//! Acceptor clients: a local acceptor, or a transport written in C (a struct of callbacks).

use std::ffi::c_void;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use synodos::{AcceptorClient, Error, Promise, Proposal, Request, Result};

use crate::acceptor::{synodos_acceptor, Local};
use crate::completion::{check_async, synodos_async_client_callbacks, AsyncClient};
use crate::error::{callback_failure, clear_callback_message, guard, guard_or, synodos_status, Fail, SYNODOS_OK};
use crate::memory::{borrow, free_handle, give, put};
use crate::message::{
    synodos_promise, synodos_proposal, synodos_proposal_list, synodos_proposal_view, synodos_request,
};

/// A transport to one acceptor, written in C: the callbacks a proposer calls to reach it.
///
/// Each callback returns 0 on success (having filled in `out`) or any non-zero status on
/// failure (optionally after `synodos_callback_set_error("why")`). A failure counts against
/// that acceptor only; the caller sees it in the `SYNODOS_ERR_NO_QUORUM` failure list
/// (`synodos_last_error_failure()`: `status` `SYNODOS_ERR_TRANSPORT`, `callback_status` your
/// code) and in the message. Returning 0 without filling in `out` is also a transport error.
///
/// The arguments (`request`, `proposal` and its value bytes) are borrowed for the call. `out`
/// belongs to synodos: fill it in with the setters (they copy), `synodos_*_from_json`, or by
/// passing it to `synodos_acceptor_prepare`/`_accept`; never free it or keep it.
///
/// Callbacks are plain synchronous calls. The proposer asks the acceptors in turn on the
/// calling thread (stopping at a majority), so the per-call timeout (`call_timeout_us`) cannot
/// cut off a callback that blocks: such a transport must bound its own network calls (and may
/// report `SYNODOS_ERR_TIMEOUT` as its status), or use `synodos_async_client_callbacks`.
///
/// Threading: if a proposer or replicated log is used from several threads at once, its
/// callbacks are called from those threads at once: make them thread-safe. No synodos lock is
/// held while a callback runs, so a callback may call synodos: a local acceptor, or a blocking
/// call on another proposer or replicated log (it runs to its end inside the callback).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synodos_client_callbacks {
    /// Passed to every callback. Owned by the client once `synodos_client_new_callbacks()`
    /// succeeds: `free_user_data` is called on it exactly once, when the last reference (the
    /// client handle and every proposer or log made with it) is freed.
    pub user_data: *mut c_void,
    /// Phase 1: send `*request`, put the acceptor's promise in `*out`. Required.
    pub prepare: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            request: *const synodos_request,
            out: *mut synodos_promise,
        ) -> synodos_status,
    >,
    /// Phase 2: send `*proposal`, put the acceptor's answer in `*out`. Required.
    pub accept: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            proposal: *const synodos_proposal_view,
            out: *mut synodos_proposal,
        ) -> synodos_status,
    >,
    /// Push into `*out` every proposal the acceptor has accepted for slots
    /// `>= request->slot`. Optional (NULL: reading a replicated log through this client fails
    /// with a transport error).
    pub observe: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            request: *const synodos_request,
            out: *mut synodos_proposal_list,
        ) -> synodos_status,
    >,
    /// Called once with `user_data` when the client is dropped. Optional.
    pub free_user_data: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

type PrepareFn = unsafe extern "C" fn(*mut c_void, *const synodos_request, *mut synodos_promise) -> synodos_status;
type AcceptFn =
    unsafe extern "C" fn(*mut c_void, *const synodos_proposal_view, *mut synodos_proposal) -> synodos_status;
type ObserveFn =
    unsafe extern "C" fn(*mut c_void, *const synodos_request, *mut synodos_proposal_list) -> synodos_status;

pub(crate) struct CClient {
    user_data: *mut c_void,
    prepare: PrepareFn,
    accept: AcceptFn,
    observe: Option<ObserveFn>,
    free_user_data: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: the documented contract of `synodos_client_callbacks` requires callbacks (and
// `user_data`) usable from any thread, and concurrently when the proposer is shared.
unsafe impl Send for CClient {}
// SAFETY: as above.
unsafe impl Sync for CClient {}

impl Drop for CClient {
    fn drop(&mut self) {
        if let Some(free) = self.free_user_data {
            // SAFETY: the last reference is gone: called once, with the user's pointer.
            unsafe { free(self.user_data) };
        }
    }
}

fn transport(what: &str, status: synodos_status) -> Error {
    let failure = callback_failure(what, status);
    Error::Transport { message: failure.message.clone(), cause: Some(Arc::new(failure)) }
}

fn unfilled(what: &str) -> Error {
    Error::transport(format!("{what} callback returned 0 but did not fill in its answer"))
}

impl CClient {
    fn prepare(&self, request: &Request) -> Result<Promise> {
        let req = synodos_request::from(request);
        let mut out = synodos_promise::default();
        // SAFETY: a valid callback (contract); `req` and `out` outlive the call.
        let status = unsafe { (self.prepare)(self.user_data, &req, &mut out) };
        if status != SYNODOS_OK {
            return Err(transport("prepare", status));
        }
        clear_callback_message();
        if !out.filled {
            return Err(unfilled("prepare"));
        }
        Ok(out.inner)
    }

    fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        let view = synodos_proposal_view::of(proposal);
        let mut out = synodos_proposal::default();
        // SAFETY: a valid callback; `view` (borrowing `proposal`) and `out` outlive the call.
        let status = unsafe { (self.accept)(self.user_data, &view, &mut out) };
        if status != SYNODOS_OK {
            return Err(transport("accept", status));
        }
        clear_callback_message();
        if !out.filled {
            return Err(unfilled("accept"));
        }
        Ok(out.inner)
    }

    fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        let Some(observe) = self.observe else {
            return Err(Error::transport("this C client has no observe callback"));
        };
        let req = synodos_request::from(request);
        let mut out = synodos_proposal_list::default();
        // SAFETY: a valid callback; `req` and `out` outlive the call.
        let status = unsafe { observe(self.user_data, &req, &mut out) };
        if status != SYNODOS_OK {
            return Err(transport("observe", status));
        }
        clear_callback_message();
        Ok(out.items)
    }
}

/// What a proposer holds for each acceptor. The synchronous kinds hold no nested future and
/// the asynchronous one boxes its own, so every call's future stays small (cheaper to build and
/// move into the driver's fan-out; the async path allocates anyway).
#[derive(Clone)]
pub(crate) enum Client {
    Local(Local),
    Callbacks(Arc<CClient>),
    Async(Arc<AsyncClient>),
    /// An acceptor served over HTTP (`synodos_http_acceptor_new`).
    Http(synodos_net::HttpAcceptor),
}

/// A boxed future behind a vtable: keeps the asynchronous transport's code out of the
/// synchronous clients' hot path.
type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + 'a>>;

impl AcceptorClient for Client {
    async fn prepare(&self, request: &Request) -> Result<Promise> {
        match self {
            Client::Local(a) => a.prepare(request).await,
            Client::Callbacks(c) => c.prepare(request),
            Client::Async(c) => {
                let fut: Boxed<'_, Promise> = Box::pin(c.prepare(request));
                fut.await
            }
            Client::Http(c) => {
                let fut: Boxed<'_, Promise> = Box::pin(c.prepare(request));
                fut.await
            }
        }
    }
    async fn accept(&self, proposal: &Proposal) -> Result<Proposal> {
        match self {
            Client::Local(a) => a.accept(proposal).await,
            Client::Callbacks(c) => c.accept(proposal),
            Client::Async(c) => {
                let fut: Boxed<'_, Proposal> = Box::pin(c.accept(proposal));
                fut.await
            }
            Client::Http(c) => {
                let fut: Boxed<'_, Proposal> = Box::pin(c.accept(proposal));
                fut.await
            }
        }
    }
    async fn accept_batch(&self, batch: &synodos::Batch) -> Result<Proposal> {
        match self {
            // One write for the whole batch.
            Client::Local(a) => a.accept_batch(batch).await,
            // One request for the whole batch (single accepts to a server without the route).
            Client::Http(c) => {
                let fut: Boxed<'_, Proposal> = Box::pin(c.accept_batch(batch));
                fut.await
            }
            // A C transport takes single accepts.
            _ => synodos::driver::client::accept_each(self, batch).await,
        }
    }
    async fn observe(&self, request: &Request) -> Result<Vec<Proposal>> {
        match self {
            Client::Local(a) => a.observe(request).await,
            Client::Callbacks(c) => c.observe(request),
            Client::Async(c) => {
                let fut: Boxed<'_, Vec<Proposal>> = Box::pin(c.observe(request));
                fut.await
            }
            Client::Http(c) => {
                let fut: Boxed<'_, Vec<Proposal>> = Box::pin(c.observe(request));
                fut.await
            }
        }
    }
}

/// How a proposer reaches one acceptor: an in-process acceptor, a C transport (synchronous
/// or asynchronous), or an acceptor served over HTTP.
///
/// Create with `synodos_client_new_local()`, `synodos_client_new_callbacks()`,
/// `synodos_client_new_async()` or `synodos_http_acceptor_new()`; free with
/// `synodos_client_free()`. Proposers and logs built from a client keep their own reference,
/// so the client handle may be freed right after. Thread-safe (for a C transport, as far as
/// its callbacks are).
pub struct synodos_client {
    pub(crate) inner: Client,
}

/// Create in `*out` a client that reaches `acceptor` in-process (sharing it; the acceptor
/// handle may be freed independently).
#[no_mangle]
pub extern "C" fn synodos_client_new_local(
    acceptor: *const synodos_acceptor,
    out: *mut *mut synodos_client,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: NULL or a valid handle (contract).
        let a = unsafe { borrow(acceptor, "acceptor") }?;
        // SAFETY: checked non-NULL above.
        unsafe { give(out, synodos_client { inner: Client::Local(a.inner.clone()) }, "out") }
    })
}

/// Create in `*out` a client whose transport is the C callbacks in `*callbacks` (copied).
///
/// On success the client owns `callbacks->user_data` (see `free_user_data`). On failure
/// (`prepare` or `accept` NULL: `SYNODOS_ERR_NULL_POINTER`) nothing is taken.
#[no_mangle]
pub extern "C" fn synodos_client_new_callbacks(
    callbacks: *const synodos_client_callbacks,
    out: *mut *mut synodos_client,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: NULL or a valid struct (contract).
        let cb = unsafe { borrow(callbacks, "callbacks") }?;
        let client = CClient {
            user_data: cb.user_data,
            prepare: cb.prepare.ok_or(Fail::Null("callbacks->prepare"))?,
            accept: cb.accept.ok_or(Fail::Null("callbacks->accept"))?,
            observe: cb.observe,
            free_user_data: cb.free_user_data,
        };
        let client = synodos_client { inner: Client::Callbacks(Arc::new(client)) };
        // SAFETY: checked non-NULL above.
        unsafe { give(out, client, "out") }
    })
}

/// Create in `*out` a client whose transport is the asynchronous C callbacks in `*callbacks`
/// (copied): calls finish later through `synodos_completion_finish()`, all acceptors are asked
/// at once, and the proposer's `call_timeout_us` applies. Ownership as for
/// `synodos_client_new_callbacks`.
#[no_mangle]
pub extern "C" fn synodos_client_new_async(
    callbacks: *const synodos_async_client_callbacks,
    out: *mut *mut synodos_client,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: NULL or a valid struct (contract).
        let cb = unsafe { borrow(callbacks, "callbacks") }?;
        check_async(cb)?;
        let client = synodos_client { inner: Client::Async(Arc::new(AsyncClient { cb: *cb })) };
        // SAFETY: checked non-NULL above.
        unsafe { give(out, client, "out") }
    })
}

/// Release this client handle (the transport's `free_user_data` runs once no proposer or log
/// uses it either). NULL is a no-op.
#[no_mangle]
pub extern "C" fn synodos_client_free(client: *mut synodos_client) {
    // SAFETY: NULL or a handle not yet freed (contract).
    guard_or((), || unsafe { free_handle(client) })
}
