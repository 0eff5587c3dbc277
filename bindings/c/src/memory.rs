//! Byte buffers handed out to C, and the pointer helpers every entry point uses.

use crate::error::{guard_or, Fail};

/// Bytes owned by synodos and handed to C: `len` bytes at `ptr` (`ptr` is NULL when `len`
/// is 0). Free with `synodos_bytes_free()`, exactly once; it sets both fields to 0, so a
/// second free of the same struct is harmless.
///
/// Every function with a `synodos_bytes *out` parameter overwrites `*out` at once (to the
/// empty value on failure): free what it held before passing it again.
#[repr(C)]
#[derive(Debug)]
pub struct synodos_bytes {
    /// The first byte, or NULL when `len` is 0.
    pub ptr: *mut u8,
    /// The number of bytes.
    pub len: usize,
}

impl synodos_bytes {
    pub(crate) const EMPTY: synodos_bytes = synodos_bytes { ptr: std::ptr::null_mut(), len: 0 };

    pub(crate) fn from_vec(v: Vec<u8>) -> Self {
        if v.is_empty() {
            return Self::EMPTY;
        }
        let boxed: Box<[u8]> = v.into_boxed_slice();
        let len = boxed.len();
        let ptr = Box::into_raw(boxed) as *mut u8;
        synodos_bytes { ptr, len }
    }

    /// Free the buffer (if any) and reset to empty.
    pub(crate) fn release(&mut self) {
        if !self.ptr.is_null() && self.len > 0 {
            let slice = std::ptr::slice_from_raw_parts_mut(self.ptr, self.len);
            // SAFETY: `ptr`/`len` came from `Box::into_raw` of a `Box<[u8]>` in `from_vec`
            // and were not freed yet (release resets them to empty).
            drop(unsafe { Box::from_raw(slice) });
        }
        *self = Self::EMPTY;
    }
}

/// Free the bytes in `*bytes` and set it to `{NULL, 0}`. NULL, or an empty value, is a no-op.
#[no_mangle]
pub extern "C" fn synodos_bytes_free(bytes: *mut synodos_bytes) {
    guard_or((), || {
        // SAFETY: by contract `bytes` is NULL or points to a `synodos_bytes` filled in by synodos.
        if let Some(b) = unsafe { bytes.as_mut() } {
            b.release();
        }
    })
}

/// Borrow `len` bytes at `ptr` (NULL allowed only when `len` is 0).
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn slice<'a>(ptr: *const u8, len: usize, what: &'static str) -> Result<&'a [u8], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: non-NULL, and the caller guarantees `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrow `*ptr`, or fail with `SYNODOS_ERR_NULL_POINTER`.
///
/// # Safety
/// `ptr` must be NULL or point to a valid `T` for `'a`.
pub(crate) unsafe fn borrow<'a, T>(ptr: *const T, what: &'static str) -> Result<&'a T, Fail> {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.as_ref() }.ok_or(Fail::Null(what))
}

/// Borrow `*ptr` mutably, or fail with `SYNODOS_ERR_NULL_POINTER`.
///
/// # Safety
/// `ptr` must be NULL or point to a valid `T` for `'a`, not aliased elsewhere.
pub(crate) unsafe fn borrow_mut<'a, T>(ptr: *mut T, what: &'static str) -> Result<&'a mut T, Fail> {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.as_mut() }.ok_or(Fail::Null(what))
}

/// Write `value` to `*out` (an out-parameter), or fail when it is NULL.
///
/// # Safety
/// `out` must be NULL or valid for a write of `T` (its old value is not dropped).
pub(crate) unsafe fn put<T>(out: *mut T, value: T, what: &'static str) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: non-NULL, and the caller guarantees it is writable.
    unsafe { out.write(value) };
    Ok(())
}

/// Give a handle to C: `Box::into_raw`.
pub(crate) fn handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Take a handle back from C and drop it. NULL is a no-op.
///
/// # Safety
/// `ptr` must be NULL or a pointer from `handle::<T>` not yet freed.
pub(crate) unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: from `Box::into_raw` in `handle`, freed only here, once (caller's contract).
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// Box `value` and hand it to C through the out-parameter `out`; when `out` is NULL nothing is
/// allocated (and `value` is dropped).
///
/// # Safety
/// `out` must be NULL or valid for a write of a pointer.
pub(crate) unsafe fn give<T>(out: *mut *mut T, value: T, what: &'static str) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::Null(what));
    }
    // SAFETY: non-NULL, and the caller guarantees it is writable.
    unsafe { out.write(handle(value)) };
    Ok(())
}
