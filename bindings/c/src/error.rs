//! Status codes, the thread-local last error, and the panic boundary.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use synodos::error::panic_message;
use synodos::Error;

/// The result of every fallible call: `SYNODOS_OK` (0) or one of the `SYNODOS_ERR_*` codes.
/// After a non-zero status, `synodos_last_error_message()` says what went wrong.
///
/// A C callback also returns a `synodos_status`: 0 for success, anything else for failure
/// (any non-zero value is allowed; it is reported back as `callback_status`).
pub type synodos_status = i32;

/// Success.
pub const SYNODOS_OK: synodos_status = 0;
/// A majority of acceptors could not be reached or did not agree, after every attempt.
/// `synodos_last_error_failure()` lists each failing acceptor of the last attempt.
pub const SYNODOS_ERR_NO_QUORUM: synodos_status = 1;
/// A call did not answer within its timeout.
pub const SYNODOS_ERR_TIMEOUT: synodos_status = 2;
/// An acceptor had promised a higher ballot.
pub const SYNODOS_ERR_REJECTED: synodos_status = 3;
/// A storage log failed (the acceptor using it refuses every later call).
pub const SYNODOS_ERR_STORAGE: synodos_status = 4;
/// An acceptor client (a transport callback) failed.
pub const SYNODOS_ERR_TRANSPORT: synodos_status = 5;
/// A message could not be decoded or breaks a protocol rule (e.g. a ballot of 0).
pub const SYNODOS_ERR_INVALID_MESSAGE: synodos_status = 6;
/// An argument was out of range (e.g. a proposer with no acceptors, an out-of-order log id).
pub const SYNODOS_ERR_INVALID_ARGUMENT: synodos_status = 7;
/// The id generator cannot produce a higher id.
pub const SYNODOS_ERR_ID_EXHAUSTED: synodos_status = 8;
/// The object was closed, or poisoned by an earlier storage failure.
pub const SYNODOS_ERR_CLOSED: synodos_status = 9;
/// A required pointer argument was NULL. Nothing was done.
pub const SYNODOS_ERR_NULL_POINTER: synodos_status = 10;
/// A bug inside synodos panicked; the panic was caught at the C boundary. Nothing leaked out,
/// but the object involved may be in an unspecified (still memory-safe) state.
pub const SYNODOS_ERR_PANIC: synodos_status = 11;
/// An error of a kind this version of the header does not know.
pub const SYNODOS_ERR_UNKNOWN: synodos_status = 12;

/// What a failing call reports, before it becomes a status code and a message.
#[derive(Debug)]
pub(crate) enum Fail {
    /// An error of the core.
    Core(Error),
    /// A NULL pointer where one was required; the argument's name.
    Null(&'static str),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Core(e)
    }
}

/// The status code of a core error.
pub(crate) fn code_of(e: &Error) -> synodos_status {
    match e.code() {
        "NO_QUORUM" => SYNODOS_ERR_NO_QUORUM,
        "TIMEOUT" => SYNODOS_ERR_TIMEOUT,
        "REJECTED" => SYNODOS_ERR_REJECTED,
        "STORAGE" => SYNODOS_ERR_STORAGE,
        "TRANSPORT" => SYNODOS_ERR_TRANSPORT,
        "INVALID_MESSAGE" => SYNODOS_ERR_INVALID_MESSAGE,
        "INVALID_ARGUMENT" => SYNODOS_ERR_INVALID_ARGUMENT,
        "ID_EXHAUSTED" => SYNODOS_ERR_ID_EXHAUSTED,
        "CLOSED" => SYNODOS_ERR_CLOSED,
        _ => SYNODOS_ERR_UNKNOWN,
    }
}

/// The error a C callback's non-zero status becomes: kept as the `cause` of the core error,
/// so the status travels back to the caller inside a no-quorum failure list.
#[derive(Debug)]
pub(crate) struct CallbackError {
    pub(crate) status: synodos_status,
    pub(crate) message: String,
}

impl std::fmt::Display for CallbackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CallbackError {}

/// The status a C callback returned behind `e`, or 0 when `e` did not come from one.
fn callback_status(e: &Error) -> synodos_status {
    let cause = match e {
        Error::Storage { cause, .. } | Error::Transport { cause, .. } => cause.as_ref(),
        _ => None,
    };
    cause.and_then(|c| c.downcast_ref::<CallbackError>()).map_or(0, |c| c.status)
}

/// One failing acceptor of a `SYNODOS_ERR_NO_QUORUM` error, read with
/// `synodos_last_error_failure()`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct synodos_failure {
    /// The acceptor's index in the client array the proposer was built with.
    pub acceptor: usize,
    /// What went wrong with it (a `SYNODOS_ERR_*` code, e.g. `SYNODOS_ERR_TRANSPORT`).
    pub status: synodos_status,
    /// The non-zero status the C callback returned, or 0 if the failure did not come from a
    /// C callback (a rejection, a timeout, a local acceptor's error).
    pub callback_status: synodos_status,
    /// The HTTP status an HTTP client's server answered with (401 for a wrong token, 403 for
    /// another cluster, 503 while draining...), or 0 if the failure was not an HTTP answer
    /// (not an HTTP client, or no answer at all: a refused connection, a timeout).
    pub http_status: u16,
}

/// The HTTP status of the server's answer behind `e`, or 0 when there is none.
fn http_status(e: &Error) -> u16 {
    let cause = match e {
        Error::Storage { cause, .. } | Error::Transport { cause, .. } => cause.as_ref(),
        _ => None,
    };
    cause.and_then(|c| c.downcast_ref::<synodos_net::ApiError>()).map_or(0, |a| a.status)
}

struct LastError {
    status: synodos_status,
    http_status: u16,
    message: CString,
    failures: Vec<synodos_failure>,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
    static CALLBACK_MESSAGE: Cell<Option<CString>> = const { Cell::new(None) };
    /// Whether `CALLBACK_MESSAGE` may hold a message: a plain flag, so the success path of
    /// every callback costs one TLS read.
    static CALLBACK_MESSAGE_SET: Cell<bool> = const { Cell::new(false) };
}

fn to_cstring(text: String) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

fn set_last_error(status: synodos_status, message: String, failures: Vec<synodos_failure>) {
    set_last_error_http(status, 0, message, failures);
}

fn set_last_error_http(status: synodos_status, http_status: u16, message: String, failures: Vec<synodos_failure>) {
    let last = LastError { status, http_status, message: to_cstring(message), failures };
    // `try_with`: during thread teardown the slot may be gone; then there is nowhere to report.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(last);
        }
    });
}

fn record_fail(fail: Fail) -> synodos_status {
    match fail {
        Fail::Null(what) => {
            set_last_error(SYNODOS_ERR_NULL_POINTER, format!("null pointer: `{what}` must not be NULL"), vec![]);
            SYNODOS_ERR_NULL_POINTER
        }
        Fail::Core(e) => {
            let status = code_of(&e);
            let failures = match &e {
                Error::NoQuorum { failures, .. } => failures
                    .0
                    .iter()
                    .map(|f| synodos_failure {
                        acceptor: f.acceptor,
                        status: code_of(&f.error),
                        callback_status: callback_status(&f.error),
                        http_status: http_status(&f.error),
                    })
                    .collect(),
                _ => vec![],
            };
            // For a no-quorum error, the first failing acceptor's HTTP status.
            let http = match failures.iter().find(|f| f.http_status != 0) {
                Some(f) => f.http_status,
                None => http_status(&e),
            };
            set_last_error_http(status, http, e.to_string(), failures);
            status
        }
    }
}

/// Panics seen by the hook [`install_panic_hook`] installs (in any thread of the process).
static PANICS: AtomicU64 = AtomicU64::new(0);
static HOOK: Once = Once::new();

/// Whether `SYNODOS_ABORT_ON_PANIC` asks for an abort (set, and neither empty nor `0`).
fn abort_on_panic() -> bool {
    std::env::var_os("SYNODOS_ABORT_ON_PANIC").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Install, once per process, a panic hook that counts every Rust panic (the count is
/// `synodos_panic_count()`), then runs the hook that was there before (by default: the
/// message on stderr), then aborts if `SYNODOS_ABORT_ON_PANIC` is set. Called by every
/// entry point's guard (after the first call, one atomic load).
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::Relaxed);
            previous(info);
            if abort_on_panic() {
                std::process::abort();
            }
        }));
    });
}

/// How many Rust panics synodos has seen in this process. Every one is a bug in synodos (it
/// became `SYNODOS_ERR_PANIC`, or a failure of the call it happened in), so this stays 0;
/// tests assert that it does. With the environment variable `SYNODOS_ABORT_ON_PANIC=1` a
/// panic aborts the process instead (after its message on stderr). The count starts at the
/// first synodos call; if the host program replaces the process's panic hook afterwards, it
/// stops counting.
#[no_mangle]
pub extern "C" fn synodos_panic_count() -> u64 {
    install_panic_hook();
    PANICS.load(Ordering::Relaxed)
}

/// The panic boundary: run `f`, turn its error or panic into a status code and a last error.
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Fail>) -> synodos_status {
    install_panic_hook();
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => SYNODOS_OK,
        Ok(Err(fail)) => record_fail(fail),
        Err(payload) => {
            set_last_error(SYNODOS_ERR_PANIC, format!("panic inside synodos: {}", panic_message(&*payload)), vec![]);
            SYNODOS_ERR_PANIC
        }
    }
}

/// The panic boundary for functions that return no status (the `*_free` functions, getters).
pub(crate) fn guard_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    install_panic_hook();
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Take the message a callback left with `synodos_callback_set_error`, if any.
pub(crate) fn take_callback_message() -> Option<String> {
    if !CALLBACK_MESSAGE_SET.try_with(|f| f.replace(false)).unwrap_or(true) {
        return None;
    }
    CALLBACK_MESSAGE.try_with(|m| m.take()).ok().flatten().map(|c| c.to_string_lossy().into_owned())
}

/// Build the core error for a C callback that returned `status`.
pub(crate) fn callback_failure(what: &str, status: synodos_status) -> CallbackError {
    let detail = take_callback_message().map(|m| format!(": {m}")).unwrap_or_default();
    CallbackError { status, message: format!("{what} callback returned status {status}{detail}") }
}

/// The status of the last failing call on this thread (`SYNODOS_OK` if none failed yet).
///
/// Only meaningful right after a call returned non-zero: successful calls do not reset it.
#[no_mangle]
pub extern "C" fn synodos_last_error_status() -> synodos_status {
    guard_or(SYNODOS_OK, || {
        LAST_ERROR
            .try_with(|s| s.try_borrow().ok().and_then(|s| s.as_ref().map(|e| e.status)))
            .ok()
            .flatten()
            .unwrap_or(0)
    })
}

/// The HTTP status behind the last failing call on this thread: the status a server answered
/// an HTTP client (`synodos_http_acceptor_new`, `synodos_node_client_new`) with (401 for a
/// wrong token, 403 for another cluster, 413 for a value too large, 503 while draining), for a
/// `SYNODOS_ERR_NO_QUORUM` that of the first failing acceptor that had one; 0 when the failure
/// was not an HTTP answer. Only meaningful right after a call returned non-zero.
#[no_mangle]
pub extern "C" fn synodos_last_error_http_status() -> u16 {
    guard_or(0, || {
        LAST_ERROR
            .try_with(|s| s.try_borrow().ok().and_then(|s| s.as_ref().map(|e| e.http_status)))
            .ok()
            .flatten()
            .unwrap_or(0)
    })
}

/// The message of the last failing call on this thread, as a NUL-terminated UTF-8 string;
/// `""` if no call failed yet. Never NULL.
///
/// Ownership: the string belongs to synodos. It stays valid until the next synodos call on
/// this thread fails (which replaces it) or the thread exits; copy it to keep it longer.
/// Do not free it.
#[no_mangle]
pub extern "C" fn synodos_last_error_message() -> *const c_char {
    static EMPTY: &CStr = c"";
    guard_or(EMPTY.as_ptr(), || {
        LAST_ERROR
            .try_with(|s| s.try_borrow().ok().and_then(|s| s.as_ref().map(|e| e.message.as_ptr())))
            .ok()
            .flatten()
            .unwrap_or(EMPTY.as_ptr())
    })
}

/// How many acceptor failures the last failing call on this thread reported: non-zero only
/// after `SYNODOS_ERR_NO_QUORUM`.
///
/// The list holds the failures of the last attempt that the proposer had counted when it
/// gave up on it: enough of them to make a majority impossible. An acceptor whose call was
/// still running at that point, or failed only afterwards, is not listed (with synchronous
/// transports every acceptor is asked in turn, so the last ones asked may fail after the
/// outcome is decided); an acceptor missing from the list may have failed too.
#[no_mangle]
pub extern "C" fn synodos_last_error_failure_count() -> usize {
    guard_or(0, || {
        LAST_ERROR
            .try_with(|s| s.try_borrow().ok().and_then(|s| s.as_ref().map(|e| e.failures.len())))
            .ok()
            .flatten()
            .unwrap_or(0)
    })
}

/// Copy failure number `index` (from 0) of the last failing call on this thread into `*out`
/// (all zero on failure).
///
/// Returns `SYNODOS_ERR_INVALID_ARGUMENT` when `index >= synodos_last_error_failure_count()`,
/// `SYNODOS_ERR_NULL_POINTER` when `out` is NULL. Does not replace the last error itself.
#[no_mangle]
pub extern "C" fn synodos_last_error_failure(index: usize, out: *mut synodos_failure) -> synodos_status {
    guard_or(SYNODOS_ERR_PANIC, || {
        if out.is_null() {
            return SYNODOS_ERR_NULL_POINTER;
        }
        // SAFETY: `out` is non-NULL and, by the documented contract, points to a writable
        // `synodos_failure`. Written first: all zero on failure.
        unsafe { out.write(synodos_failure::default()) };
        let found = LAST_ERROR
            .try_with(|s| s.try_borrow().ok().and_then(|s| s.as_ref().and_then(|e| e.failures.get(index).copied())))
            .ok()
            .flatten();
        match found {
            Some(f) => {
                // SAFETY: `out` is non-NULL and, by the documented contract, points to a
                // writable `synodos_failure`.
                unsafe { out.write(f) };
                SYNODOS_OK
            }
            None => SYNODOS_ERR_INVALID_ARGUMENT,
        }
    })
}

/// The name of a status code (`"OK"`, `"NO_QUORUM"`, ..., the core's `Error::code()` names),
/// or `"UNKNOWN"`. A static string: never free it.
#[no_mangle]
pub extern "C" fn synodos_status_name(status: synodos_status) -> *const c_char {
    let name: &'static CStr = match status {
        SYNODOS_OK => c"OK",
        SYNODOS_ERR_NO_QUORUM => c"NO_QUORUM",
        SYNODOS_ERR_TIMEOUT => c"TIMEOUT",
        SYNODOS_ERR_REJECTED => c"REJECTED",
        SYNODOS_ERR_STORAGE => c"STORAGE",
        SYNODOS_ERR_TRANSPORT => c"TRANSPORT",
        SYNODOS_ERR_INVALID_MESSAGE => c"INVALID_MESSAGE",
        SYNODOS_ERR_INVALID_ARGUMENT => c"INVALID_ARGUMENT",
        SYNODOS_ERR_ID_EXHAUSTED => c"ID_EXHAUSTED",
        SYNODOS_ERR_CLOSED => c"CLOSED",
        SYNODOS_ERR_NULL_POINTER => c"NULL_POINTER",
        SYNODOS_ERR_PANIC => c"PANIC",
        _ => c"UNKNOWN",
    };
    name.as_ptr()
}

/// Called by a C callback (transport or log) before it returns a non-zero status: attach
/// `message` (NUL-terminated, copied; NULL clears) to the failure, so the caller's
/// `synodos_last_error_message()` says why. Only the calling thread is affected; the message
/// is consumed when the callback returns.
#[no_mangle]
pub extern "C" fn synodos_callback_set_error(message: *const c_char) {
    guard_or((), || {
        let copy = if message.is_null() {
            None
        } else {
            // SAFETY: non-NULL, and by contract a NUL-terminated string valid for this call.
            Some(unsafe { CStr::from_ptr(message) }.to_owned())
        };
        let _ = CALLBACK_MESSAGE_SET.try_with(|f| f.set(true));
        let _ = CALLBACK_MESSAGE.try_with(|m| m.set(copy));
    })
}

/// Drop a message a callback left although it returned success.
pub(crate) fn clear_callback_message() {
    if CALLBACK_MESSAGE_SET.try_with(|f| f.replace(false)).unwrap_or(true) {
        let _ = CALLBACK_MESSAGE.try_with(|m| m.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = guard(|| panic!("boom"));
        assert_eq!(status, SYNODOS_ERR_PANIC);
        // SAFETY: the message is a valid NUL-terminated string owned by this thread.
        let message = unsafe { CStr::from_ptr(synodos_last_error_message()) }.to_str().unwrap();
        assert_eq!(message, "panic inside synodos: boom");
        assert_eq!(synodos_last_error_status(), SYNODOS_ERR_PANIC);
        assert_eq!(guard_or(7, || panic!("in a free function")), 7);
        assert!(synodos_panic_count() >= 2);
    }

    #[test]
    fn core_errors_map_to_their_status() {
        assert_eq!(guard(|| Err(Fail::Core(Error::transport("x")))), SYNODOS_ERR_TRANSPORT);
        assert_eq!(guard(|| Err(Fail::Null("ptr"))), SYNODOS_ERR_NULL_POINTER);
        assert_eq!(guard(|| Ok(())), SYNODOS_OK);
        // A status a callback left a message for carries it, once.
        synodos_callback_set_error(c"why".as_ptr());
        assert_eq!(callback_failure("prepare", 5).message, "prepare callback returned status 5: why");
        assert_eq!(callback_failure("prepare", 5).message, "prepare callback returned status 5");
    }
}
