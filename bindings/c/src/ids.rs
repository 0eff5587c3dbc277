//! Ballot generators.

use std::sync::Arc;

use synodos::{CounterIdGenerator, IdGenerator, ServerIdGenerator, SystemClock};

use crate::error::{guard, guard_or, synodos_status};
use crate::memory::{borrow, free_handle, give, put};

/// A ballot generator: strictly increasing ballots, never shared between two node ids.
///
/// Create with `synodos_id_generator_new_counter()` or `_new_server()`; free with
/// `synodos_id_generator_free()`. Proposers keep their own reference. Thread-safe.
pub struct synodos_id_generator {
    pub(crate) inner: Arc<dyn IdGenerator>,
}

/// Create in `*out` a generator of ballots `round << 16 | node_id` (no clock).
/// Every proposer of a cluster needs its own `node_id`.
#[no_mangle]
pub extern "C" fn synodos_id_generator_new_counter(
    node_id: u16,
    out: *mut *mut synodos_id_generator,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        let ids = synodos_id_generator { inner: Arc::new(CounterIdGenerator::new(node_id)) };
        // SAFETY: NULL or writable (contract).
        unsafe { give(out, ids, "out") }
    })
}

/// Create in `*out` a generator of ballots `millis << 16 | server_id` (the layout of every
/// generator, so the two kinds never collide) from the system clock, strictly increasing
/// even when the clock stalls or steps back.
#[no_mangle]
pub extern "C" fn synodos_id_generator_new_server(
    server_id: u8,
    out: *mut *mut synodos_id_generator,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        let ids = synodos_id_generator { inner: Arc::new(ServerIdGenerator::new(server_id, SystemClock)) };
        // SAFETY: NULL or writable (contract).
        unsafe { give(out, ids, "out") }
    })
}

/// Put the next ballot in `*ballot` (0 on failure). `SYNODOS_ERR_ID_EXHAUSTED` when none is
/// left.
#[no_mangle]
pub extern "C" fn synodos_id_generator_next(ids: *const synodos_id_generator, ballot: *mut u64) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract). Written first: 0 on every failure.
        unsafe { put(ballot, 0, "ballot") }?;
        // SAFETY: NULL or a valid handle (contract).
        let ids = unsafe { borrow(ids, "ids") }?;
        let next = ids.inner.next()?;
        // SAFETY: checked non-NULL above.
        unsafe { put(ballot, next, "ballot") }
    })
}

/// Tell the generator about a ballot seen elsewhere (e.g. in a rejection): its next ballot
/// will be higher.
#[no_mangle]
pub extern "C" fn synodos_id_generator_observe(ids: *const synodos_id_generator, seen: u64) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or a valid handle (contract).
        let ids = unsafe { borrow(ids, "ids") }?;
        ids.inner.observe(seen);
        Ok(())
    })
}

/// Release this handle. NULL is a no-op.
#[no_mangle]
pub extern "C" fn synodos_id_generator_free(ids: *mut synodos_id_generator) {
    // SAFETY: NULL or a handle not yet freed (contract).
    guard_or((), || unsafe { free_handle(ids) })
}
