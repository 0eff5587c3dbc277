//! Storage logs: the in-memory log, logs written in C (a struct of callbacks), and the
//! conformance kit run over a C log.

use std::ffi::{c_char, c_void, CString};

use synodos::{Error, Log, MemoryLog, Result};

use crate::error::{callback_failure, clear_callback_message, code_of, guard, guard_or, synodos_status, Fail};
use crate::error::{SYNODOS_ERR_INVALID_ARGUMENT, SYNODOS_ERR_STORAGE, SYNODOS_OK};
use crate::memory::{borrow, borrow_mut, free_handle, give, put, slice, synodos_bytes};

/// A log as stored in a handle: any implementation, movable to another thread.
pub(crate) type DynLog = Box<dyn Log + Send>;

/// A storage log: an append-only sequence of `(id, bytes)` records with increasing ids, used
/// by an acceptor for its promises or its accepted proposals.
///
/// Create with `synodos_log_new_memory()` or `synodos_log_new_callbacks()`; free with
/// `synodos_log_free()`, unless you gave it to `synodos_acceptor_new()`, which takes it over.
/// Not thread-safe: use a log handle from one thread at a time.
pub struct synodos_log {
    pub(crate) inner: DynLog,
    /// Its writes block (a file log's fsync): its acceptor then gets a thread of its own.
    pub(crate) blocks: bool,
}

/// One record handed to a C log's `record_batch` callback. `data` is borrowed: valid until the
/// callback returns.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synodos_record {
    /// The record's id.
    pub id: u64,
    /// Its bytes (NULL when `len` is 0).
    pub data: *const u8,
    /// How many bytes.
    pub len: usize,
}

/// Where a C log's `last` callback puts the last record: call `synodos_log_last_set()` once if
/// the log holds any record, or nothing if it is empty. Owned by synodos; never free it.
#[derive(Debug, Default)]
pub struct synodos_log_last_out {
    found: Option<(u64, Vec<u8>)>,
}

/// What a C log's `range` callback calls for each record: `synodos_log_range_visit()`.
/// Owned by synodos; never free it; valid only during the `range` callback.
pub struct synodos_log_range_visitor {
    /// Points at a `&mut dyn FnMut(u64, &[u8]) -> Result<()>` on the caller's stack.
    f: *mut c_void,
    error: Option<Error>,
}

/// A storage log written in C. Every callback returns 0 on success or a non-zero status
/// (`SYNODOS_ERR_INVALID_ARGUMENT` for an id that is not above the last one; any other value
/// is reported as a storage error with the status as `callback_status`). A callback may call
/// `synodos_callback_set_error()` first to say why.
///
/// The contract (checked by `synodos_log_conformance_run()`): `record` returns only once the
/// record is as durable as the log claims to be and refuses an id not above the last one,
/// changing nothing; `record_batch` appends all or nothing; `range` visits records with
/// `start <= id <= stop` in id order, stopping at (and returning) the first non-zero status
/// `synodos_log_range_visit()` returns; `trim(before)` forgets ids `< before` for good.
///
/// Threading: synodos calls the callbacks of one log from one thread at a time (an acceptor
/// holds its lock around them), but not always the same thread. A log callback may call
/// synodos (a proposer or replicated log included), except the acceptor that owns the log: on
/// the same thread that call fails with `SYNODOS_ERR_INVALID_ARGUMENT`; from another thread
/// it would wait for ever.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synodos_log_callbacks {
    /// Passed to every callback. Owned by the log once `synodos_log_new_callbacks()`
    /// succeeds: `free_user_data` is called on it exactly once, when the log is dropped.
    pub user_data: *mut c_void,
    /// Append one record (`len` bytes at `data`, borrowed for the call). Required.
    pub record:
        Option<unsafe extern "C" fn(user_data: *mut c_void, id: u64, data: *const u8, len: usize) -> synodos_status>,
    /// Append `count` records at once (one durability barrier), all or nothing. Optional
    /// (NULL: synodos checks the order and calls `record` for each).
    pub record_batch: Option<
        unsafe extern "C" fn(user_data: *mut c_void, records: *const synodos_record, count: usize) -> synodos_status,
    >,
    /// Report the record with the highest id through `synodos_log_last_set(out, ...)`, or
    /// nothing when the log is empty. Required.
    pub last: Option<unsafe extern "C" fn(user_data: *mut c_void, out: *mut synodos_log_last_out) -> synodos_status>,
    /// Call `synodos_log_range_visit(visitor, id, data, len)` for each record with
    /// `start <= id <= stop`, in id order; when it returns non-zero, stop and return that
    /// status. Required.
    pub range: Option<
        unsafe extern "C" fn(
            user_data: *mut c_void,
            start: u64,
            stop: u64,
            visitor: *mut synodos_log_range_visitor,
        ) -> synodos_status,
    >,
    /// Forget every record with `id < before`. Required.
    pub trim: Option<unsafe extern "C" fn(user_data: *mut c_void, before: u64) -> synodos_status>,
    /// Called once with `user_data` when the log is dropped. Optional.
    pub free_user_data: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

type RecordFn = unsafe extern "C" fn(*mut c_void, u64, *const u8, usize) -> synodos_status;
type BatchFn = unsafe extern "C" fn(*mut c_void, *const synodos_record, usize) -> synodos_status;
type LastFn = unsafe extern "C" fn(*mut c_void, *mut synodos_log_last_out) -> synodos_status;
type RangeFn = unsafe extern "C" fn(*mut c_void, u64, u64, *mut synodos_log_range_visitor) -> synodos_status;
type TrimFn = unsafe extern "C" fn(*mut c_void, u64) -> synodos_status;

/// A log whose operations are C callbacks.
struct CLog {
    user_data: *mut c_void,
    record: RecordFn,
    record_batch: Option<BatchFn>,
    last: LastFn,
    range: RangeFn,
    trim: TrimFn,
    free_user_data: Option<unsafe extern "C" fn(*mut c_void)>,
}

// SAFETY: the C contract of `synodos_log_callbacks` says the callbacks may be called from any
// thread, one at a time; `CLog` is only reached through `&mut`/`&` under that discipline
// (an acceptor's mutex, or a single-threaded handle).
unsafe impl Send for CLog {}

impl Drop for CLog {
    fn drop(&mut self) {
        if let Some(free) = self.free_user_data {
            // SAFETY: called once, as the contract says, with the user's own pointer.
            unsafe { free(self.user_data) };
        }
    }
}

/// Turn a C log callback's status into a result.
fn check(what: &str, status: synodos_status) -> Result<()> {
    if status == SYNODOS_OK {
        clear_callback_message();
        return Ok(());
    }
    let failure = callback_failure(what, status);
    if status == SYNODOS_ERR_INVALID_ARGUMENT {
        return Err(Error::InvalidArgument(failure.message));
    }
    Err(Error::Storage { message: failure.message.clone(), cause: Some(std::sync::Arc::new(failure)) })
}

impl Log for CLog {
    fn record(&mut self, id: u64, data: &[u8]) -> Result<()> {
        // SAFETY: a valid callback from the user; `data` is readable for the call.
        let status = unsafe { (self.record)(self.user_data, id, data.as_ptr(), data.len()) };
        check("log record", status)
    }

    fn record_batch(&mut self, records: &[(u64, &[u8])]) -> Result<()> {
        let Some(batch) = self.record_batch else {
            synodos::log::check_batch_order(self.last()?.map(|(id, _)| id), records)?;
            for (id, data) in records {
                self.record(*id, data)?;
            }
            return Ok(());
        };
        let views: Vec<synodos_record> =
            records.iter().map(|(id, data)| synodos_record { id: *id, data: data.as_ptr(), len: data.len() }).collect();
        // SAFETY: a valid callback; `views` and the bytes they point to outlive the call.
        let status = unsafe { batch(self.user_data, views.as_ptr(), views.len()) };
        check("log record_batch", status)
    }

    fn last(&self) -> Result<Option<(u64, Vec<u8>)>> {
        let mut out = synodos_log_last_out::default();
        // SAFETY: a valid callback; `out` lives across the call.
        let status = unsafe { (self.last)(self.user_data, &mut out) };
        check("log last", status)?;
        Ok(out.found)
    }

    fn range(&self, start: u64, stop: u64, f: &mut dyn FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let mut f: &mut dyn FnMut(u64, &[u8]) -> Result<()> = f;
        let mut visitor = synodos_log_range_visitor { f: &mut f as *mut _ as *mut c_void, error: None };
        // SAFETY: a valid callback; `visitor` (and the closure it points to) outlive the call.
        let status = unsafe { (self.range)(self.user_data, start, stop, &mut visitor) };
        // The visitor's own error wins: it is what the caller's closure returned.
        if let Some(e) = visitor.error.take() {
            clear_callback_message();
            return Err(e);
        }
        check("log range", status)
    }

    fn trim(&mut self, before: u64) -> Result<()> {
        // SAFETY: a valid callback from the user.
        let status = unsafe { (self.trim)(self.user_data, before) };
        check("log trim", status)
    }
}

/// Create an in-memory log in `*out`. Free with `synodos_log_free` (or give it to
/// `synodos_acceptor_new`).
#[no_mangle]
pub extern "C" fn synodos_log_new_memory(out: *mut *mut synodos_log) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: NULL or writable (contract).
        unsafe { give(out, synodos_log { inner: Box::new(MemoryLog::new()), blocks: false }, "out") }
    })
}

/// Create a log whose operations are the C callbacks in `*callbacks` (copied) in `*out`.
///
/// On success the log owns `callbacks->user_data` and calls `free_user_data` on it exactly
/// once, when the log (or the acceptor it was given to) is freed. On failure (a required
/// callback is NULL: `SYNODOS_ERR_NULL_POINTER`) nothing is taken: `user_data` stays yours.
#[no_mangle]
pub extern "C" fn synodos_log_new_callbacks(
    callbacks: *const synodos_log_callbacks,
    out: *mut *mut synodos_log,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: NULL or a valid struct (contract).
        let cb = unsafe { borrow(callbacks, "callbacks") }?;
        let log = CLog {
            user_data: cb.user_data,
            record: cb.record.ok_or(Fail::Null("callbacks->record"))?,
            record_batch: cb.record_batch,
            last: cb.last.ok_or(Fail::Null("callbacks->last"))?,
            range: cb.range.ok_or(Fail::Null("callbacks->range"))?,
            trim: cb.trim.ok_or(Fail::Null("callbacks->trim"))?,
            free_user_data: cb.free_user_data,
        };
        // SAFETY: checked non-NULL above.
        unsafe { give(out, synodos_log { inner: Box::new(log), blocks: false }, "out") }
    })
}

/// Free a log (and, for a C log, call its `free_user_data`). NULL is a no-op. Never free a
/// log you gave to `synodos_acceptor_new`.
#[no_mangle]
pub extern "C" fn synodos_log_free(log: *mut synodos_log) {
    // SAFETY: NULL or a log handle not yet freed or given away (contract).
    guard_or((), || unsafe { free_handle(log) })
}

/// Inside a C log's `last` callback: report the last record (`len` bytes at `data`, copied).
#[no_mangle]
pub extern "C" fn synodos_log_last_set(
    out: *mut synodos_log_last_out,
    id: u64,
    data: *const u8,
    len: usize,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or the pointer synodos passed to the callback (contract).
        let out = unsafe { borrow_mut(out, "out") }?;
        // SAFETY: NULL or `len` readable bytes (contract).
        let data = unsafe { slice(data, len, "data") }?;
        out.found = Some((id, data.to_vec()));
        Ok(())
    })
}

/// Inside a C log's `range` callback: visit one record (`len` bytes at `data`, borrowed for
/// this call). Returns 0 to go on; a non-zero status means stop: the callback must then
/// return that status without visiting more records.
#[no_mangle]
pub extern "C" fn synodos_log_range_visit(
    visitor: *mut synodos_log_range_visitor,
    id: u64,
    data: *const u8,
    len: usize,
) -> synodos_status {
    // No `guard` here: the visitor keeps the closure's error, and a panic in it becomes PANIC.
    guard_or(crate::error::SYNODOS_ERR_PANIC, || {
        // SAFETY: NULL or the pointer synodos passed to the `range` callback, alive during it.
        let Some(v) = (unsafe { visitor.as_mut() }) else { return crate::error::SYNODOS_ERR_NULL_POINTER };
        if let Some(e) = &v.error {
            return code_of(e);
        }
        // SAFETY: NULL or `len` readable bytes (contract).
        let data = match unsafe { slice(data, len, "data") } {
            Ok(d) => d,
            Err(_) => {
                v.error = Some(Error::InvalidArgument("range visit with NULL data and a non-zero length".into()));
                return SYNODOS_ERR_INVALID_ARGUMENT;
            }
        };
        // SAFETY: `f` points at the `&mut dyn FnMut` on `CLog::range`'s stack, which is
        // still running (the visitor lives only during the `range` callback).
        let f = unsafe { &mut *(v.f as *mut &mut dyn FnMut(u64, &[u8]) -> Result<()>) };
        match f(id, data) {
            Ok(()) => SYNODOS_OK,
            Err(e) => {
                let status = code_of(&e);
                v.error = Some(e);
                if status == SYNODOS_OK {
                    SYNODOS_ERR_STORAGE
                } else {
                    status
                }
            }
        }
    })
}

/// Append one record to a log directly (outside an acceptor), e.g. to test a log.
#[no_mangle]
pub extern "C" fn synodos_log_record(log: *mut synodos_log, id: u64, data: *const u8, len: usize) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid log handle (contract).
        let log = unsafe { borrow_mut(log, "log") }?;
        // SAFETY: NULL or `len` readable bytes (contract).
        let data = unsafe { slice(data, len, "data") }?;
        Ok(log.inner.record(id, data)?)
    })
}

/// Read a log's last record directly: `*found` says whether there is one; if so `*id` and
/// `*data` (free with `synodos_bytes_free`) hold it.
#[no_mangle]
pub extern "C" fn synodos_log_last(
    log: *const synodos_log,
    found: *mut bool,
    id: *mut u64,
    data: *mut synodos_bytes,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract), for all three out-parameters.
        unsafe {
            put(found, false, "found")?;
            put(id, 0, "id")?;
            put(data, synodos_bytes::EMPTY, "data")?;
        }
        // SAFETY: NULL or a valid log handle (contract).
        let log = unsafe { borrow(log, "log") }?;
        if let Some((last_id, bytes)) = log.inner.last()? {
            // SAFETY: checked non-NULL above.
            unsafe {
                put(found, true, "found")?;
                put(id, last_id, "id")?;
                put(data, synodos_bytes::from_vec(bytes), "data")?;
            }
        }
        Ok(())
    })
}

/// How the conformance kit opens a log: return (in `*out`) the log stored under `name`
/// (NUL-terminated, borrowed for the call), creating it empty the first time. Opening a name
/// again after the previous handle was freed must see what was written (a reopen).
pub type synodos_log_open_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, name: *const c_char, out: *mut *mut synodos_log) -> synodos_status,
>;

/// Run the storage conformance kit (the same checks the Rust logs pass) against logs opened
/// by `open(user_data, name, &log)`. synodos frees every log it opens.
///
/// Returns 0 when every check passed, with the number of checks in `*checks_passed`
/// (may be NULL). Otherwise `SYNODOS_ERR_INVALID_ARGUMENT` (a check failed, or `open` did:
/// the message names the check and says what was expected), and `*checks_passed` is 0.
#[no_mangle]
pub extern "C" fn synodos_log_conformance_run(
    open: synodos_log_open_fn,
    user_data: *mut c_void,
    checks_passed: *mut usize,
) -> synodos_status {
    guard(|| {
        if !checks_passed.is_null() {
            // SAFETY: non-NULL and writable (contract).
            unsafe { checks_passed.write(0) };
        }
        let open = open.ok_or(Fail::Null("open"))?;
        let result = synodos::log::conformance::run(|name| {
            let cname = CString::new(name).map_err(|e| Error::InvalidArgument(e.to_string()))?;
            let mut log: *mut synodos_log = std::ptr::null_mut();
            // SAFETY: the user's callback; `cname` and `log` outlive the call.
            let status = unsafe { open(user_data, cname.as_ptr(), &mut log) };
            if status != SYNODOS_OK {
                let failure = callback_failure("log open", status);
                return Err(Error::Storage {
                    message: failure.message.clone(),
                    cause: Some(std::sync::Arc::new(failure)),
                });
            }
            if log.is_null() {
                return Err(Error::InvalidArgument("log open returned 0 but no log".into()));
            }
            // SAFETY: a handle from `synodos_log_new_*`, now given to us (contract).
            Ok(unsafe { Box::from_raw(log) }.inner)
        });
        let report = result.map_err(|failure| Fail::Core(failure.into()))?;
        if !checks_passed.is_null() {
            // SAFETY: non-NULL and writable (contract).
            unsafe { checks_passed.write(report.checks.len()) };
        }
        Ok(())
    })
}

/// Open (or create) a durable file log in directory `dir` (NUL-terminated path, created if
/// missing) in `*out`: every record is fsync'ed before the call returns, a torn tail left by a
/// crash is cut off on open, and a lock file keeps a second opener out (in this or another
/// process) until the handle, or the acceptor it was given to, is freed.
/// Use one directory per log (an acceptor needs two). An empty `dir` is
/// `SYNODOS_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn synodos_log_new_file(dir: *const c_char, out: *mut *mut synodos_log) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        if dir.is_null() {
            return Err(Fail::Null("dir"));
        }
        // SAFETY: non-NULL and NUL-terminated (contract).
        let bytes = unsafe { std::ffi::CStr::from_ptr(dir) }.to_bytes();
        if bytes.is_empty() {
            return Err(Fail::Core(Error::InvalidArgument("dir is empty: name the log's directory".into())));
        }
        let path = std::path::Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes));
        let log = synodos::FileLog::open(path)?;
        // SAFETY: checked non-NULL above.
        unsafe { give(out, synodos_log { inner: Box::new(log), blocks: true }, "out") }
    })
}
