//! The C binding of synodos: `#include <synodos.h>`, link `-lsynodos`.
//!
//! A thin translation layer over the `synodos` crate, shaped after rustls-ffi:
//!
//! - opaque handles with `*_new*` / `*_free` pairs;
//! - byte values in as `(const uint8_t *ptr, size_t len)`, out as [`synodos_bytes`] freed by
//!   [`synodos_bytes_free`];
//! - every fallible function returns a [`synodos_status`] (0 = ok) and leaves a thread-local
//!   message for [`synodos_last_error_message`];
//! - a panic boundary around every `extern "C"` function, and a status code (never a crash)
//!   for a NULL pointer;
//! - transports ([`synodos_client_callbacks`]) and storage logs ([`synodos_log_callbacks`])
//!   written in C as structs of callbacks with a `void *user_data` and a finalizer.
//!
//! The generated header, `include/synodos.h`, carries every comment below.
#![allow(non_camel_case_types)]
// Every entry point is called from C, where Rust's `unsafe fn` means nothing: the pointer
// contract of each function is in its doc comment (and the header), and every dereference
// sits in an `unsafe` block with a SAFETY note.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

mod acceptor;
mod bench;
mod client;
mod completion;
mod error;
mod ids;
mod log;
mod memory;
mod message;
mod net;
mod proposer;

pub use acceptor::*;
pub use bench::*;
pub use client::*;
pub use completion::*;
pub use error::*;
pub use ids::*;
pub use log::*;
pub use memory::*;
pub use message::*;
pub use net::*;
pub use proposer::*;
