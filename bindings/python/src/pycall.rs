//! Calls into Python code that may block (clients, logs, id generators, futures), made so
//! that interpreter exit cannot crash the process.
//!
//! On Python < 3.14, a thread that wants the GIL back while the interpreter is finalizing is
//! ended with `pthread_exit`: a forced unwind. A client call still running on a synodos worker
//! at exit (a hung client that wakes up, say) would unwind into our frames through pyo3's
//! calls, which Rust takes for calls that never unwind, and the process would abort. So these
//! calls go through `PyObject_CallObject` declared `C-unwind`, with a guard whose drop,
//! reached only by such an unwind, parks the thread for good (as pyo3 does around its own GIL
//! calls); the process then exits normally.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::BoundObject;

extern "C-unwind" {
    /// CPython's `PyObject_CallObject` (stable ABI), declared as able to unwind. Not
    /// `PyObject_Call`: pyo3 calls that one through its own declaration, which says it cannot
    /// unwind, and with LTO the two declarations of one symbol merge into the stricter one
    /// (the exit test then aborts). pyo3 does not call `PyObject_CallObject`.
    #[link_name = "PyObject_CallObject"]
    fn object_call_unwinding(callable: *mut ffi::PyObject, args: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// Parks the thread for good when dropped: only a forced unwind out of the call drops it.
struct HangOnForcedUnwind;

impl Drop for HangOnForcedUnwind {
    fn drop(&mut self) {
        loop {
            std::thread::park();
        }
    }
}

/// `obj.name(*args)`, safe to be running when the interpreter exits (see the module docs).
pub fn call_method<'py, A>(obj: &Bound<'py, PyAny>, name: &str, args: A) -> PyResult<Bound<'py, PyAny>>
where
    A: IntoPyObject<'py, Target = PyTuple>,
{
    let py = obj.py();
    let method = obj.getattr(name)?;
    let args = args.into_pyobject(py).map_err(Into::into)?;
    let guard = HangOnForcedUnwind;
    // SAFETY: `method` and `args` are live objects held by the Bounds above for the whole
    // call, `args` is a tuple, and the GIL is held (we have `py`). `PyObject_CallObject`
    // returns a new reference, or NULL with an exception set; `from_owned_ptr_or_err` takes
    // either.
    let result = unsafe { object_call_unwinding(method.as_ptr(), args.as_ptr()) };
    std::mem::forget(guard);
    // SAFETY: see above.
    unsafe { Bound::from_owned_ptr_or_err(py, result) }
}
