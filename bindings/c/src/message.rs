//! Wire messages: plain structs for what holds no bytes, views for borrowed bytes, and opaque
//! objects (filled through setters that copy) for messages that own a value.

use synodos::{wire, Entry, Promise, Proposal, Request};

use crate::error::{guard, guard_or, synodos_status, Fail};
use crate::memory::{borrow, borrow_mut, give, put, slice, synodos_bytes};
use synodos::Error;

/// Phase 1a (prepare), also the argument of `observe` (where `slot` is the first slot
/// wanted). A plain value: no pointers, nothing to free.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct synodos_request {
    /// The ballot (never 0 from a proposer).
    pub id: u64,
    /// The proposer's attempt number, from 1 (informational).
    pub attempt: u64,
    /// The log position (0 for single-decree Paxos).
    pub slot: u64,
}

impl From<synodos_request> for Request {
    fn from(r: synodos_request) -> Self {
        Request { id: r.id, attempt: r.attempt, slot: r.slot }
    }
}

impl From<&Request> for synodos_request {
    fn from(r: &Request) -> Self {
        synodos_request { id: r.id, attempt: r.attempt, slot: r.slot }
    }
}

/// A borrowed view of a proposal (an accept request, an accept answer, an accepted entry).
///
/// Ownership: `value` is NOT owned by the view. When synodos hands you a view, the bytes stay
/// valid only as long as the doc of that function says (for a callback argument: until the
/// callback returns). When you hand synodos a view, it copies what it keeps.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synodos_proposal_view {
    /// The ballot.
    pub id: u64,
    /// The log position.
    pub slot: u64,
    /// Non-zero only in a rejected accept answer: the higher ballot the acceptor promised.
    pub promised: u64,
    /// The value's bytes (NULL allowed when `value_len` is 0).
    pub value: *const u8,
    /// The value's length.
    pub value_len: usize,
}

impl synodos_proposal_view {
    pub(crate) fn of(p: &Proposal) -> Self {
        synodos_proposal_view {
            id: p.id,
            slot: p.slot,
            promised: p.promised,
            value: if p.value.is_empty() { std::ptr::null() } else { p.value.as_ptr() },
            value_len: p.value.len(),
        }
    }

    pub(crate) const EMPTY: synodos_proposal_view =
        synodos_proposal_view { id: 0, slot: 0, promised: 0, value: std::ptr::null(), value_len: 0 };

    /// Copy into an owned proposal.
    ///
    /// # Safety
    /// `value` must be NULL or valid for `value_len` bytes.
    pub(crate) unsafe fn copy_out(&self) -> Result<Proposal, Fail> {
        // SAFETY: forwarded from the caller.
        let value = unsafe { slice(self.value, self.value_len, "proposal value") }?;
        Ok(Proposal { id: self.id, slot: self.slot, value: value.to_vec(), promised: self.promised })
    }
}

/// A borrowed view of a promise, from `synodos_promise_get()`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synodos_promise_view {
    /// The ballot of the request this answers.
    pub id: u64,
    /// The slot of the request this answers.
    pub slot: u64,
    /// Non-zero only in a rejection: the higher ballot the acceptor had promised.
    pub promised: u64,
    /// Whether `accepted` holds what the acceptor has accepted for the slot.
    pub has_accepted: bool,
    /// The accepted proposal (all zero when `has_accepted` is false).
    pub accepted: synodos_proposal_view,
    /// Whether the acceptor said what its `frontier` is. When false the frontier is unknown
    /// (as from an acceptor that leaves the field out), and no proposer takes a lease on it.
    pub has_frontier: bool,
    /// One past the highest slot the acceptor accepted anything at (0 unless `has_frontier`).
    pub frontier: u64,
    /// Non-zero only when the slot was trimmed at the acceptor: the first slot it still holds.
    pub trimmed: u64,
}

impl synodos_promise_view {
    pub(crate) const EMPTY: synodos_promise_view = synodos_promise_view {
        id: 0,
        slot: 0,
        promised: 0,
        has_accepted: false,
        accepted: synodos_proposal_view::EMPTY,
        has_frontier: false,
        frontier: 0,
        trimmed: 0,
    };
}

/// A promise (phase 1b answer), owned by whoever created it.
///
/// Create with `synodos_promise_new()`, free with `synodos_promise_free()`. Inside a
/// transport's `prepare` callback synodos passes one it owns: fill it in (with
/// `synodos_promise_set*`, `synodos_promise_from_json` or `synodos_acceptor_prepare`) and do
/// not free it. Not thread-safe: use one from one thread at a time.
#[derive(Debug, Default)]
pub struct synodos_promise {
    pub(crate) inner: Promise,
    /// Whether anything wrote to it: a callback that returns 0 without filling it is an error.
    pub(crate) filled: bool,
}

/// A proposal that owns its value: an accept answer, or an accept request you build. Same
/// ownership rules as `synodos_promise`.
#[derive(Debug, Default)]
pub struct synodos_proposal {
    pub(crate) inner: Proposal,
    pub(crate) filled: bool,
}

/// A list of proposals (what `observe` returns). Create with `synodos_proposal_list_new()`,
/// free with `synodos_proposal_list_free()`. Inside an `observe` callback synodos passes one
/// it owns: push into it, do not free it.
#[derive(Debug, Default)]
pub struct synodos_proposal_list {
    pub(crate) items: Vec<Proposal>,
}

/// One chosen log entry, inside a `synodos_entry_list`.
#[repr(C)]
#[derive(Debug)]
pub struct synodos_entry {
    /// The log position.
    pub slot: u64,
    /// The chosen value (owned by the list: freed by `synodos_entry_list_free`).
    pub value: synodos_bytes,
}

/// Chosen entries, in slot order, owned by the caller: free with `synodos_entry_list_free()`.
#[repr(C)]
#[derive(Debug)]
pub struct synodos_entry_list {
    /// The first entry (NULL when `len` is 0).
    pub entries: *mut synodos_entry,
    /// How many entries.
    pub len: usize,
}

impl synodos_entry_list {
    pub(crate) const EMPTY: synodos_entry_list = synodos_entry_list { entries: std::ptr::null_mut(), len: 0 };

    pub(crate) fn from_entries(entries: Vec<Entry>) -> Self {
        if entries.is_empty() {
            return Self::EMPTY;
        }
        let items: Box<[synodos_entry]> = entries
            .into_iter()
            .map(|e| synodos_entry { slot: e.slot, value: synodos_bytes::from_vec(e.value) })
            .collect();
        let len = items.len();
        synodos_entry_list { entries: Box::into_raw(items) as *mut synodos_entry, len }
    }
}

/// Free every entry's value and the array in `*list`, then set it to `{NULL, 0}`. NULL, or an
/// empty list, is a no-op.
#[no_mangle]
pub extern "C" fn synodos_entry_list_free(list: *mut synodos_entry_list) {
    guard_or((), || {
        // SAFETY: by contract NULL or a list filled in by synodos.
        let Some(list) = (unsafe { list.as_mut() }) else { return };
        if !list.entries.is_null() && list.len > 0 {
            let raw = std::ptr::slice_from_raw_parts_mut(list.entries, list.len);
            // SAFETY: `entries`/`len` came from `Box::into_raw` of a boxed slice in
            // `from_entries` and were not freed (we reset them below).
            let mut items = unsafe { Box::from_raw(raw) };
            for item in items.iter_mut() {
                item.value.release();
            }
        }
        *list = synodos_entry_list::EMPTY;
    })
}

fn utf8(json: &[u8]) -> Result<&str, Fail> {
    std::str::from_utf8(json).map_err(|e| Fail::Core(Error::InvalidMessage(format!("JSON is not UTF-8: {e}"))))
}

/// Decode a request from its JSON wire form (`json_len` bytes at `json`, no NUL needed) into
/// `*out`. On failure `*out` is zeroed and the status is `SYNODOS_ERR_INVALID_MESSAGE`.
#[no_mangle]
pub extern "C" fn synodos_request_from_json(
    json: *const u8,
    json_len: usize,
    out: *mut synodos_request,
) -> synodos_status {
    guard(|| {
        // SAFETY: `out` is NULL or writable (contract).
        unsafe { put(out, synodos_request::default(), "out") }?;
        // SAFETY: `json` is NULL or `json_len` readable bytes (contract).
        let text = utf8(unsafe { slice(json, json_len, "json") }?)?;
        let request: Request = wire::from_json(text)?;
        // SAFETY: checked non-NULL above.
        unsafe { put(out, synodos_request::from(&request), "out") }
    })
}

/// Encode `*request` as compact JSON into `*out` (free it with `synodos_bytes_free`).
#[no_mangle]
pub extern "C" fn synodos_request_to_json(request: *const synodos_request, out: *mut synodos_bytes) -> synodos_status {
    guard(|| {
        // SAFETY: `out` is NULL or writable (contract).
        unsafe { put(out, synodos_bytes::EMPTY, "out") }?;
        // SAFETY: `request` is NULL or valid (contract).
        let request = Request::from(*unsafe { borrow(request, "request") }?);
        let json = wire::to_json(&request)?;
        // SAFETY: checked non-NULL above.
        unsafe { put(out, synodos_bytes::from_vec(json.into_bytes()), "out") }
    })
}

/// Create an empty promise in `*out` (all zero, nothing accepted). Free it with
/// `synodos_promise_free`.
#[no_mangle]
pub extern "C" fn synodos_promise_new(out: *mut *mut synodos_promise) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: `out` is NULL or writable (contract).
        unsafe { give(out, synodos_promise::default(), "out") }
    })
}

/// Free a promise made by `synodos_promise_new`. NULL is a no-op. Never free the promise a
/// `prepare` callback receives.
#[no_mangle]
pub extern "C" fn synodos_promise_free(promise: *mut synodos_promise) {
    // SAFETY: NULL or from `synodos_promise_new`, freed once (contract).
    guard_or((), || unsafe { crate::memory::free_handle(promise) })
}

/// Set a promise's `id` (the request's ballot), `slot` (the request's slot) and `promised`
/// (0 to grant; the higher promised ballot to reject). Leaves `accepted` as it is.
#[no_mangle]
pub extern "C" fn synodos_promise_set(
    promise: *mut synodos_promise,
    id: u64,
    slot: u64,
    promised: u64,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid promise not used elsewhere during this call (contract).
        let p = unsafe { borrow_mut(promise, "promise") }?;
        p.inner.id = id;
        p.inner.slot = slot;
        p.inner.promised = promised;
        p.filled = true;
        Ok(())
    })
}

/// Set what the promise says of the acceptor's `frontier` (one past the highest slot it
/// accepted anything at): with `has_frontier` false it is unknown, and proposers take no lease
/// from it. A transport for a hand-written acceptor sets it to let proposers lead.
#[no_mangle]
pub extern "C" fn synodos_promise_set_frontier(
    promise: *mut synodos_promise,
    has_frontier: bool,
    frontier: u64,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid promise not used elsewhere during this call (contract).
        let p = unsafe { borrow_mut(promise, "promise") }?;
        p.inner.frontier = has_frontier.then_some(frontier);
        p.filled = true;
        Ok(())
    })
}

/// Set the promise's `trimmed` (non-zero: the slot was trimmed at the acceptor, which still
/// holds slots from `trimmed` on, and the prepare is refused).
#[no_mangle]
pub extern "C" fn synodos_promise_set_trimmed(promise: *mut synodos_promise, trimmed: u64) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid promise not used elsewhere during this call (contract).
        let p = unsafe { borrow_mut(promise, "promise") }?;
        p.inner.trimmed = trimmed;
        p.filled = true;
        Ok(())
    })
}

/// Set (copying the value) or, with `accepted` NULL, clear what the promise reports as the
/// acceptor's accepted proposal for the slot.
#[no_mangle]
pub extern "C" fn synodos_promise_set_accepted(
    promise: *mut synodos_promise,
    accepted: *const synodos_proposal_view,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid promise (contract).
        let p = unsafe { borrow_mut(promise, "promise") }?;
        // SAFETY: NULL or a valid view whose value is readable (contract).
        p.inner.accepted = match unsafe { accepted.as_ref() } {
            // SAFETY: the view's bytes are readable (contract).
            Some(view) => Some(unsafe { view.copy_out() }?),
            None => None,
        };
        p.filled = true;
        Ok(())
    })
}

/// Fill `*out` with a view of the promise. The view's bytes belong to the promise: valid until
/// the promise is next changed or freed.
#[no_mangle]
pub extern "C" fn synodos_promise_get(
    promise: *const synodos_promise,
    out: *mut synodos_promise_view,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract). Written first: all zero on every failure.
        unsafe { put(out, synodos_promise_view::EMPTY, "out") }?;
        // SAFETY: NULL or a valid promise (contract).
        let p = &unsafe { borrow(promise, "promise") }?.inner;
        let view = synodos_promise_view {
            id: p.id,
            slot: p.slot,
            promised: p.promised,
            has_accepted: p.accepted.is_some(),
            accepted: p.accepted.as_ref().map_or(synodos_proposal_view::EMPTY, synodos_proposal_view::of),
            has_frontier: p.frontier.is_some(),
            frontier: p.frontier.unwrap_or(0),
            trimmed: p.trimmed,
        };
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, view, "out") }
    })
}

/// Replace the promise's contents with the one decoded from JSON (`json_len` bytes).
/// On failure the promise is unchanged.
#[no_mangle]
pub extern "C" fn synodos_promise_from_json(
    promise: *mut synodos_promise,
    json: *const u8,
    json_len: usize,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid promise (contract).
        let p = unsafe { borrow_mut(promise, "promise") }?;
        // SAFETY: NULL or `json_len` readable bytes (contract).
        let text = utf8(unsafe { slice(json, json_len, "json") }?)?;
        p.inner = wire::from_json(text)?;
        p.filled = true;
        Ok(())
    })
}

/// Encode the promise as compact JSON into `*out` (free with `synodos_bytes_free`).
#[no_mangle]
pub extern "C" fn synodos_promise_to_json(promise: *const synodos_promise, out: *mut synodos_bytes) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, synodos_bytes::EMPTY, "out") }?;
        // SAFETY: NULL or a valid promise (contract).
        let p = unsafe { borrow(promise, "promise") }?;
        let json = wire::to_json(&p.inner)?;
        // SAFETY: checked non-NULL above.
        unsafe { put(out, synodos_bytes::from_vec(json.into_bytes()), "out") }
    })
}

/// Create an empty proposal in `*out`. Free it with `synodos_proposal_free`.
#[no_mangle]
pub extern "C" fn synodos_proposal_new(out: *mut *mut synodos_proposal) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: `out` is NULL or writable (contract).
        unsafe { give(out, synodos_proposal::default(), "out") }
    })
}

/// Free a proposal made by `synodos_proposal_new`. NULL is a no-op. Never free the proposal
/// an `accept` callback receives.
#[no_mangle]
pub extern "C" fn synodos_proposal_free(proposal: *mut synodos_proposal) {
    // SAFETY: NULL or from `synodos_proposal_new`, freed once (contract).
    guard_or((), || unsafe { crate::memory::free_handle(proposal) })
}

/// Set every field of the proposal from `*view`, copying the value. In an accept answer
/// (what an `accept` callback fills in) the value may be left empty: the proposer has it.
#[no_mangle]
pub extern "C" fn synodos_proposal_set(
    proposal: *mut synodos_proposal,
    view: *const synodos_proposal_view,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid proposal (contract).
        let p = unsafe { borrow_mut(proposal, "proposal") }?;
        // SAFETY: NULL or a valid view (contract).
        let view = unsafe { borrow(view, "view") }?;
        // SAFETY: the view's bytes are readable (contract).
        p.inner = unsafe { view.copy_out() }?;
        p.filled = true;
        Ok(())
    })
}

/// Fill `*out` with a view of the proposal; its bytes are valid until the proposal is next
/// changed or freed.
#[no_mangle]
pub extern "C" fn synodos_proposal_get(
    proposal: *const synodos_proposal,
    out: *mut synodos_proposal_view,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract). Written first: all zero on every failure.
        unsafe { put(out, synodos_proposal_view::EMPTY, "out") }?;
        // SAFETY: NULL or a valid proposal (contract).
        let p = unsafe { borrow(proposal, "proposal") }?;
        // SAFETY: checked non-NULL above.
        unsafe { put(out, synodos_proposal_view::of(&p.inner), "out") }
    })
}

/// Replace the proposal's contents with the one decoded from JSON. On failure it is unchanged.
#[no_mangle]
pub extern "C" fn synodos_proposal_from_json(
    proposal: *mut synodos_proposal,
    json: *const u8,
    json_len: usize,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid proposal (contract).
        let p = unsafe { borrow_mut(proposal, "proposal") }?;
        // SAFETY: NULL or `json_len` readable bytes (contract).
        let text = utf8(unsafe { slice(json, json_len, "json") }?)?;
        p.inner = wire::from_json(text)?;
        p.filled = true;
        Ok(())
    })
}

/// Encode the proposal as compact JSON into `*out` (free with `synodos_bytes_free`).
#[no_mangle]
pub extern "C" fn synodos_proposal_to_json(
    proposal: *const synodos_proposal,
    out: *mut synodos_bytes,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, synodos_bytes::EMPTY, "out") }?;
        // SAFETY: NULL or a valid proposal (contract).
        let p = unsafe { borrow(proposal, "proposal") }?;
        let json = wire::to_json(&p.inner)?;
        // SAFETY: checked non-NULL above.
        unsafe { put(out, synodos_bytes::from_vec(json.into_bytes()), "out") }
    })
}

/// Create an empty proposal list in `*out`. Free it with `synodos_proposal_list_free`.
#[no_mangle]
pub extern "C" fn synodos_proposal_list_new(out: *mut *mut synodos_proposal_list) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: NULL or writable (contract).
        unsafe { give(out, synodos_proposal_list::default(), "out") }
    })
}

/// Free a list made by `synodos_proposal_list_new`. NULL is a no-op.
#[no_mangle]
pub extern "C" fn synodos_proposal_list_free(list: *mut synodos_proposal_list) {
    // SAFETY: NULL or from `synodos_proposal_list_new`, freed once (contract).
    guard_or((), || unsafe { crate::memory::free_handle(list) })
}

/// Append a copy of `*view` to the list.
#[no_mangle]
pub extern "C" fn synodos_proposal_list_push(
    list: *mut synodos_proposal_list,
    view: *const synodos_proposal_view,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid list (contract).
        let list = unsafe { borrow_mut(list, "list") }?;
        // SAFETY: NULL or a valid view (contract).
        let view = unsafe { borrow(view, "view") }?;
        // SAFETY: the view's bytes are readable (contract).
        list.items.push(unsafe { view.copy_out() }?);
        Ok(())
    })
}

/// How many proposals the list holds (0 for NULL).
#[no_mangle]
pub extern "C" fn synodos_proposal_list_len(list: *const synodos_proposal_list) -> usize {
    // SAFETY: NULL or a valid list (contract).
    guard_or(0, || unsafe { list.as_ref() }.map_or(0, |l| l.items.len()))
}

/// Fill `*out` with a view of proposal `index`; its bytes are valid until the list is next
/// changed or freed. `SYNODOS_ERR_INVALID_ARGUMENT` when `index` is out of range.
#[no_mangle]
pub extern "C" fn synodos_proposal_list_get(
    list: *const synodos_proposal_list,
    index: usize,
    out: *mut synodos_proposal_view,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract). Written first: all zero on every failure.
        unsafe { put(out, synodos_proposal_view::EMPTY, "out") }?;
        // SAFETY: NULL or a valid list (contract).
        let list = unsafe { borrow(list, "list") }?;
        let item = list.items.get(index).ok_or_else(|| {
            Fail::Core(Error::InvalidArgument(format!("index {index} out of range (list holds {})", list.items.len())))
        })?;
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, synodos_proposal_view::of(item), "out") }
    })
}

/// A batched accept (phase 2a for many slots at one ballot), owned by whoever created it.
/// Create with `synodos_batch_new()`, free with `synodos_batch_free()`. Not for sharing
/// between threads without a lock.
#[derive(Debug, Default)]
pub struct synodos_batch {
    pub(crate) inner: synodos::Batch,
}

/// Create an empty batch (ballot 0, no entries) in `*out`; free it with `synodos_batch_free`.
#[no_mangle]
pub extern "C" fn synodos_batch_new(out: *mut *mut synodos_batch) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: `out` is NULL or writable (contract).
        unsafe { give(out, synodos_batch::default(), "out") }
    })
}

/// Free a batch made by `synodos_batch_new`. NULL is a no-op.
#[no_mangle]
pub extern "C" fn synodos_batch_free(batch: *mut synodos_batch) {
    // SAFETY: NULL or from `synodos_batch_new`, freed once (contract).
    guard_or((), || unsafe { crate::memory::free_handle(batch) })
}

/// Set the batch's ballot.
#[no_mangle]
pub extern "C" fn synodos_batch_set_id(batch: *mut synodos_batch, id: u64) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid batch (contract).
        unsafe { borrow_mut(batch, "batch") }?.inner.id = id;
        Ok(())
    })
}

/// Append an entry (`value_len` bytes at `value`, copied) for `slot`.
#[no_mangle]
pub extern "C" fn synodos_batch_push(
    batch: *mut synodos_batch,
    slot: u64,
    value: *const u8,
    value_len: usize,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid batch (contract).
        let b = unsafe { borrow_mut(batch, "batch") }?;
        // SAFETY: NULL or `value_len` readable bytes (contract).
        let value = unsafe { slice(value, value_len, "value") }?.to_vec();
        b.inner.entries.push(synodos::BatchEntry { slot, value });
        Ok(())
    })
}

/// The ballot in `*id` and the number of entries in `*len` (both 0 on failure).
#[no_mangle]
pub extern "C" fn synodos_batch_get(batch: *const synodos_batch, id: *mut u64, len: *mut usize) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract). Written first: 0 on every failure.
        unsafe { put(id, 0, "id") }?;
        // SAFETY: as above.
        unsafe { put(len, 0, "len") }?;
        // SAFETY: NULL or a valid batch (contract).
        let b = unsafe { borrow(batch, "batch") }?;
        // SAFETY: checked non-NULL above.
        unsafe { put(id, b.inner.id, "id") }?;
        // SAFETY: checked non-NULL above.
        unsafe { put(len, b.inner.entries.len(), "len") }
    })
}

/// Entry `index` as a proposal view at the batch's ballot (its value borrowed from the batch,
/// valid until the batch is changed or freed; all zero on failure).
#[no_mangle]
pub extern "C" fn synodos_batch_entry(
    batch: *const synodos_batch,
    index: usize,
    out: *mut synodos_proposal_view,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract). Written first: all zero on every failure.
        unsafe { put(out, synodos_proposal_view::EMPTY, "out") }?;
        // SAFETY: NULL or a valid batch (contract).
        let b = unsafe { borrow(batch, "batch") }?;
        let e =
            b.inner.entries.get(index).ok_or_else(|| {
                Error::InvalidArgument(format!("entry {index} of a batch of {}", b.inner.entries.len()))
            })?;
        let view = synodos_proposal_view {
            id: b.inner.id,
            slot: e.slot,
            value: e.value.as_ptr(),
            value_len: e.value.len(),
            promised: 0,
        };
        // SAFETY: checked non-NULL above.
        unsafe { put(out, view, "out") }
    })
}

/// Replace the batch's contents with the one decoded from JSON. On failure it is unchanged.
#[no_mangle]
pub extern "C" fn synodos_batch_from_json(
    batch: *mut synodos_batch,
    json: *const u8,
    json_len: usize,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid batch (contract).
        let b = unsafe { borrow_mut(batch, "batch") }?;
        // SAFETY: NULL or `json_len` readable bytes (contract).
        let text = utf8(unsafe { slice(json, json_len, "json") }?)?;
        b.inner = wire::from_json(text)?;
        Ok(())
    })
}

/// Encode the batch as compact JSON into `*out` (free with `synodos_bytes_free`).
#[no_mangle]
pub extern "C" fn synodos_batch_to_json(batch: *const synodos_batch, out: *mut synodos_bytes) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, synodos_bytes::EMPTY, "out") }?;
        // SAFETY: NULL or a valid batch (contract).
        let b = unsafe { borrow(batch, "batch") }?;
        let json = wire::to_json(&b.inner)?;
        // SAFETY: checked non-NULL above.
        unsafe { put(out, synodos_bytes::from_vec(json.into_bytes()), "out") }
    })
}
