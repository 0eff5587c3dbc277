//! The network (crate `synodos-net`): a client that reaches an acceptor over HTTP, a server
//! that serves a C acceptor, and the client of `synodos serve --peers` nodes.

use std::ffi::{c_char, CStr, CString};
use std::sync::Mutex;
use std::time::Duration;

use synodos::limits::duration_from_micros;
use synodos::Error;
use synodos_net::{ClientOptions, HttpAcceptor, NetError, NodeClient, ServeOptions, ServedAcceptor, ServerTls, Tokens};

use crate::acceptor::synodos_acceptor;
use crate::client::{synodos_client, Client};
use crate::error::{guard, guard_or, synodos_status, Fail};
use crate::memory::{borrow, free_handle, give, put, slice, synodos_bytes};
use crate::message::synodos_entry_list;

/// The core error a network setup failure becomes: a bad URL, token, certificate or option is
/// `SYNODOS_ERR_INVALID_ARGUMENT`; an address that cannot be bound, or a thread that cannot
/// start, `SYNODOS_ERR_TRANSPORT`; a log that cannot be read, the log's own error.
fn net_fail(e: NetError) -> Fail {
    Fail::Core(match e {
        NetError::Acceptor(core) => core,
        e @ (NetError::Bind { .. } | NetError::Runtime(_)) => Error::transport(e.to_string()),
        e => Error::InvalidArgument(e.to_string()),
    })
}

/// A NUL-terminated string argument as UTF-8; `None` for NULL.
///
/// # Safety
/// `ptr` must be NULL or a NUL-terminated string valid for `'a`.
unsafe fn text<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, Fail> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL and NUL-terminated (caller's contract).
    let s = unsafe { CStr::from_ptr(ptr) };
    s.to_str().map(Some).map_err(|_| Fail::Core(Error::InvalidArgument(format!("{what} is not UTF-8"))))
}

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
/// As for [`text`].
unsafe fn required<'a>(ptr: *const c_char, what: &'static str) -> Result<&'a str, Fail> {
    // SAFETY: forwarded.
    unsafe { text(ptr, what) }?.ok_or(Fail::Null(what))
}

/// Restores the calling thread's signal mask when dropped (also if the call panics).
struct RestoreMask(libc::sigset_t);

impl Drop for RestoreMask {
    fn drop(&mut self) {
        // SAFETY: a mask read by `pthread_sigmask` on this thread, restored on it.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// Run `f` (which may start synodos's network threads: a server's runtime and acceptor
/// threads, the shared client runtime) with SIGPIPE blocked on the calling thread, so that the
/// threads it starts inherit the blocked mask. A C program does not ignore SIGPIPE (Rust and
/// Python programs do), and a write to a socket whose peer hung up (hyper writes with
/// `writev`, which has no MSG_NOSIGNAL) would otherwise kill the whole host process; blocked,
/// it stays pending on that thread and the write fails with EPIPE, an error of that connection
/// only. The caller's own mask is restored before returning, and its signal handlers are not
/// touched.
fn with_sigpipe_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain libc calls on values owned here; `sigset_t` is a plain C struct for which
    // all zeroes is a valid value that `sigemptyset` then initialises.
    let _restore = unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGPIPE);
        (libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old) == 0).then_some(RestoreMask(old))
    };
    f()
}

fn read_file(path: &str, what: &str) -> Result<Vec<u8>, Fail> {
    std::fs::read(path).map_err(|e| Fail::Core(Error::InvalidArgument(format!("{what} {path}: {e}"))))
}

// ---- client options --------------------------------------------------------------------

/// How HTTP clients (`synodos_http_acceptor_new`, `synodos_node_client_new`) reach servers:
/// bearer token, expected cluster, CA and client certificate for `https://`, timeouts.
///
/// Create with `synodos_http_options_new()` (defaults: no token, any cluster, plain HTTP only,
/// 10 s per request, 3 s to connect), change it with the `synodos_http_options_set_*`
/// functions, free with `synodos_http_options_free()`. Passing NULL instead of an options
/// handle means the defaults.
///
/// Make the clients of one proposer or replicated log from one options handle: they share a
/// roster of the acceptor ids they reached, so two URLs that reach one acceptor are caught
/// (the second client refuses every call) and a majority never counts an acceptor twice.
/// Clients keep what they need: the handle may be freed right after.
///
/// Thread-safe (the setters and the constructors that read it take an internal lock). A
/// setter changes only clients made after it.
pub struct synodos_http_options {
    inner: Mutex<Settings>,
}

/// What the setters changed, applied to `base` for each client: `ClientOptions` is a builder
/// without "unset", and `base` holds the roster that every client of this handle shares.
#[derive(Clone, Default)]
struct Settings {
    base: ClientOptions,
    token: Option<String>,
    cluster: Option<String>,
    ca_pem: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
}

impl Settings {
    fn build(self) -> ClientOptions {
        let mut o = self.base;
        if let Some(t) = self.token {
            o = o.token(t);
        }
        if let Some(c) = self.cluster {
            o = o.cluster(c);
        }
        if let Some(ca) = self.ca_pem {
            o = o.ca_pem(ca);
        }
        if let Some((cert, key)) = self.identity {
            o = o.identity(cert, key);
        }
        if let Some(t) = self.timeout {
            o = o.timeout(t);
        }
        if let Some(t) = self.connect_timeout {
            o = o.connect_timeout(t);
        }
        o
    }
}

impl synodos_http_options {
    fn lock(&self) -> std::sync::MutexGuard<'_, Settings> {
        // Settings are plain data, whole after any panic: a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self) -> ClientOptions {
        self.lock().clone().build()
    }
}

/// The options given, or the defaults for NULL.
///
/// # Safety
/// `options` must be NULL or a valid handle.
unsafe fn options_of(options: *const synodos_http_options) -> ClientOptions {
    // SAFETY: NULL or a valid handle (caller's contract).
    unsafe { options.as_ref() }.map_or_else(ClientOptions::new, synodos_http_options::get)
}

/// Create HTTP client options with the defaults in `*out`.
#[no_mangle]
pub extern "C" fn synodos_http_options_new(out: *mut *mut synodos_http_options) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: checked non-NULL above.
        unsafe { give(out, synodos_http_options { inner: Mutex::new(Settings::default()) }, "out") }
    })
}

/// Free HTTP client options. Clients made from them keep what they need. NULL is a no-op.
#[no_mangle]
pub extern "C" fn synodos_http_options_free(options: *mut synodos_http_options) {
    // SAFETY: NULL or a handle not yet freed (contract).
    guard_or((), || unsafe { free_handle(options) })
}

/// Send `token` (NUL-terminated, copied) as `Authorization: Bearer TOKEN`; NULL: no token.
/// A token with characters a header cannot carry is refused when a client is made
/// (`SYNODOS_ERR_INVALID_ARGUMENT`).
#[no_mangle]
pub extern "C" fn synodos_http_options_set_token(
    options: *const synodos_http_options,
    token: *const c_char,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid (contract).
        let (o, token) = unsafe { (borrow(options, "options")?, text(token, "token")?) };
        o.lock().token = token.map(str::to_owned);
        Ok(())
    })
}

/// Expect servers of cluster `cluster` (NUL-terminated, copied); any other is refused on
/// first contact. NULL: any cluster, as long as every acceptor reached names the same one.
#[no_mangle]
pub extern "C" fn synodos_http_options_set_cluster(
    options: *const synodos_http_options,
    cluster: *const c_char,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid (contract).
        let (o, cluster) = unsafe { (borrow(options, "options")?, text(cluster, "cluster")?) };
        o.lock().cluster = cluster.map(str::to_owned);
        Ok(())
    })
}

/// Trust `https://` servers whose certificates chain to this CA: `len` bytes of PEM at `pem`
/// (copied). Needed for `https://` URLs (there are no built-in roots).
#[no_mangle]
pub extern "C" fn synodos_http_options_set_ca_pem(
    options: *const synodos_http_options,
    pem: *const u8,
    len: usize,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid (contract).
        let (o, pem) = unsafe { (borrow(options, "options")?, slice(pem, len, "pem")?) };
        o.lock().ca_pem = Some(pem.to_vec());
        Ok(())
    })
}

/// `synodos_http_options_set_ca_pem` with the PEM read now from the file `path`.
#[no_mangle]
pub extern "C" fn synodos_http_options_set_ca_file(
    options: *const synodos_http_options,
    path: *const c_char,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid (contract).
        let (o, path) = unsafe { (borrow(options, "options")?, required(path, "path")?) };
        o.lock().ca_pem = Some(read_file(path, "CA file")?);
        Ok(())
    })
}

/// Present this client certificate chain and private key (PEM bytes, copied) to servers that
/// ask for one (mTLS).
#[no_mangle]
pub extern "C" fn synodos_http_options_set_identity(
    options: *const synodos_http_options,
    cert_pem: *const u8,
    cert_len: usize,
    key_pem: *const u8,
    key_len: usize,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid (contract).
        let (o, cert, key) = unsafe {
            (borrow(options, "options")?, slice(cert_pem, cert_len, "cert_pem")?, slice(key_pem, key_len, "key_pem")?)
        };
        o.lock().identity = Some((cert.to_vec(), key.to_vec()));
        Ok(())
    })
}

/// The longest one request may take (connect, send, answer), in microseconds (default 10 s),
/// and the longest a connection may take to open (default 3 s). 0 leaves a value unchanged.
/// A proposer's own `call_timeout_us` usually cuts calls shorter.
#[no_mangle]
pub extern "C" fn synodos_http_options_set_timeouts(
    options: *const synodos_http_options,
    request_timeout_us: u64,
    connect_timeout_us: u64,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or valid (contract).
        let o = unsafe { borrow(options, "options") }?;
        let mut settings = o.lock();
        if request_timeout_us > 0 {
            settings.timeout = Some(duration_from_micros(request_timeout_us));
        }
        if connect_timeout_us > 0 {
            settings.connect_timeout = Some(duration_from_micros(connect_timeout_us));
        }
        Ok(())
    })
}

// ---- the HTTP acceptor client ----------------------------------------------------------

/// Create in `*out` a client of the acceptor served at `url` (`http://HOST:PORT` or
/// `https://HOST:PORT`, NUL-terminated), with `*options` (NULL: defaults). It goes wherever a
/// `synodos_client` goes: proposers and replicated logs, next to local and C-callback clients.
///
/// Nothing is sent until the first call; the first call reads the server's `/v1/info` and
/// checks the cluster and the acceptor id (see `synodos_http_options`). A bad URL, an
/// `https://` URL without a CA, or an unusable certificate is
/// `SYNODOS_ERR_INVALID_ARGUMENT`.
///
/// Errors of its calls: a server that cannot be reached, or answers with an HTTP error (401
/// for a wrong token, 403 for another cluster, 503 while draining), is a transport error whose
/// message is `URL: HTTP STATUS CODE: the server's message`; through a proposer it counts
/// against that acceptor and shows up in the `SYNODOS_ERR_NO_QUORUM` failure list (with
/// `http_status`). A protocol rejection is not an error: it is a promise or answer with
/// `promised` set, as in process.
///
/// Threading: thread-safe. Its I/O runs on a background thread that synodos starts on first
/// use and shares between all HTTP clients; calls block the calling thread until answered.
/// Free with `synodos_client_free()`.
#[no_mangle]
pub extern "C" fn synodos_http_acceptor_new(
    url: *const c_char,
    options: *const synodos_http_options,
    out: *mut *mut synodos_client,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: NULL or a NUL-terminated string (contract).
        let url = unsafe { required(url, "url") }?;
        // SAFETY: NULL or a valid handle (contract).
        let options = unsafe { options_of(options) };
        // The shared client runtime starts with the first client (see `with_sigpipe_blocked`).
        let client = with_sigpipe_blocked(|| HttpAcceptor::new(url, options)).map_err(net_fail)?;
        // SAFETY: checked non-NULL above.
        unsafe { give(out, synodos_client { inner: Client::Http(client) }, "out") }
    })
}

/// Make first contact now with the acceptor behind an HTTP client (`synodos_http_acceptor_new`)
/// instead of on its first call: read its `/v1/info`, check the cluster and that no other
/// client of the same options reached the same acceptor. Puts the acceptor's id in `*acceptor_id`
/// (may be NULL). A wrong token is `SYNODOS_ERR_TRANSPORT` with `HTTP 401 UNAUTHORIZED` and the
/// server's message in `synodos_last_error_message()` (and 401 in
/// `synodos_last_error_http_status()`). A client that is not an HTTP client is
/// `SYNODOS_ERR_INVALID_ARGUMENT`. Blocks until answered (the options' request timeout).
#[no_mangle]
pub extern "C" fn synodos_http_acceptor_check(client: *const synodos_client, acceptor_id: *mut u64) -> synodos_status {
    guard(|| {
        if !acceptor_id.is_null() {
            // SAFETY: non-NULL and writable (contract). Written first: 0 on failure.
            unsafe { acceptor_id.write(0) };
        }
        // SAFETY: NULL or a valid handle (contract).
        let c = unsafe { borrow(client, "client") }?;
        let Client::Http(http) = &c.inner else {
            return Err(Fail::Core(Error::InvalidArgument("not an HTTP client (synodos_http_acceptor_new)".into())));
        };
        let id = futures::executor::block_on(http.check())?;
        if !acceptor_id.is_null() {
            // SAFETY: non-NULL and writable (contract).
            unsafe { acceptor_id.write(id) };
        }
        Ok(())
    })
}

// ---- the server ------------------------------------------------------------------------

/// How `synodos_server_start` serves an acceptor. Zero-initialise it (`= {0}`) and set what
/// you need; every pointer is borrowed for the call only (synodos copies what it keeps).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synodos_server_options {
    /// This acceptor's id, unique in its cluster (clients count each id once; two servers with
    /// one id are caught by the clients).
    pub acceptor_id: u64,
    /// The cluster's name (NUL-terminated). Required: a request naming another cluster gets
    /// 403.
    pub cluster: *const c_char,
    /// `tokens_len` bearer tokens (NUL-terminated; at least 16 printable ASCII characters
    /// each, e.g. `openssl rand -hex 32`), any of which lets a request in. Several allow a
    /// rotation. None (and no `token_file`): no token needed.
    pub tokens: *const *const c_char,
    /// How many tokens `tokens` holds.
    pub tokens_len: usize,
    /// A token file (NUL-terminated path; NULL: none): one token per line, blank lines and
    /// `#` comments skipped. Its tokens are added to `tokens`.
    pub token_file: *const c_char,
    /// TLS certificate chain, PEM (`tls_cert_len` bytes). With `tls_key`: serve `https://`.
    pub tls_cert: *const u8,
    /// Its length.
    pub tls_cert_len: usize,
    /// TLS private key, PEM (`tls_key_len` bytes).
    pub tls_key: *const u8,
    /// Its length.
    pub tls_key_len: usize,
    /// CA that client certificates must chain to, PEM (NULL: no client certificates asked).
    pub tls_client_ca: *const u8,
    /// Its length.
    pub tls_client_ca_len: usize,
    /// Worker threads of the server (0: 2). The acceptor has a thread of its own.
    pub threads: u32,
}

/// A running server: one acceptor behind HTTP/1.1 and HTTP/2 (see `synodos_server_start`).
/// Stop and free it with `synodos_server_stop()`. `synodos_server_url` may be called from any
/// thread while it runs.
pub struct synodos_server {
    server: Mutex<Option<synodos_net::Server>>,
    url: CString,
}

/// Build the server's options from C.
///
/// # Safety
/// Every pointer in `o` is NULL or valid as its field documents.
unsafe fn serve_options(o: &synodos_server_options) -> Result<ServeOptions, Fail> {
    // SAFETY: forwarded from the caller.
    let cluster = unsafe { required(o.cluster, "options->cluster") }?;
    if cluster.is_empty() {
        return Err(Fail::Core(Error::InvalidArgument("options->cluster is empty: name the cluster".into())));
    }
    // Every token is checked alone (for a message naming it), then all go through
    // `Tokens::parse` as one token file, so that both sources follow the file's rules.
    let invalid = |what: String| Fail::Core(Error::InvalidArgument(what));
    let mut lines: Vec<String> = Vec::new();
    if o.tokens_len > 0 {
        if o.tokens.is_null() {
            return Err(Fail::Null("options->tokens"));
        }
        // SAFETY: non-NULL and `tokens_len` pointers (contract).
        let given = unsafe { std::slice::from_raw_parts(o.tokens, o.tokens_len) };
        for (i, t) in given.iter().enumerate() {
            // SAFETY: each is NULL or a NUL-terminated string (contract).
            let t = unsafe { required(*t, "options->tokens[i]") }?;
            // A line break would smuggle a second token (or a comment) into the list.
            if t.contains(['\n', '\r']) || t.trim().is_empty() || t.trim().starts_with('#') {
                return Err(invalid(format!("options->tokens[{i}] must be one token on one line")));
            }
            Tokens::parse(t).map_err(|e| invalid(format!("options->tokens[{i}]: {e}")))?;
            lines.push(t.to_string());
        }
    }
    // SAFETY: forwarded from the caller.
    if let Some(path) = unsafe { text(o.token_file, "options->token_file") }? {
        let text = String::from_utf8(read_file(path, "token file")?)
            .map_err(|_| invalid(format!("token file {path} is not UTF-8")))?;
        Tokens::parse(&text).map_err(|e| invalid(format!("token file {path}: {e}")))?;
        lines.push(text);
    }
    let mut options = ServeOptions::new(o.acceptor_id, cluster);
    if !lines.is_empty() {
        let tokens = Tokens::parse(&lines.join("\n")).map_err(|e| invalid(format!("tokens: {e}")))?;
        options = options.tokens(tokens);
    }
    // SAFETY: NULL or the documented number of readable bytes (contract).
    let (cert, key, ca) = unsafe {
        (
            slice(o.tls_cert, o.tls_cert_len, "options->tls_cert")?,
            slice(o.tls_key, o.tls_key_len, "options->tls_key")?,
            slice(o.tls_client_ca, o.tls_client_ca_len, "options->tls_client_ca")?,
        )
    };
    match (cert.is_empty(), key.is_empty()) {
        (true, true) if ca.is_empty() => {}
        (false, false) => {
            let mut tls = ServerTls::from_pem(cert.to_vec(), key.to_vec());
            if !ca.is_empty() {
                tls = tls.client_ca(ca.to_vec());
            }
            options = options.tls(tls);
        }
        _ => {
            return Err(Fail::Core(Error::InvalidArgument(
                "TLS needs both options->tls_cert and options->tls_key (and a client CA only with them)".into(),
            )))
        }
    }
    if o.threads > 0 {
        options.threads = usize::try_from(o.threads).unwrap_or(usize::MAX).min(64);
    }
    Ok(options)
}

/// Serve `acceptor` over HTTP on `bind` (NUL-terminated `HOST:PORT`; port 0: the OS picks,
/// see `synodos_server_url`) with `*options`, and put the running server in `*out`.
///
/// The acceptor is shared, not taken: the handle stays yours (free it whenever you like: the
/// server keeps the acceptor alive), and it may go on serving in-process proposers too, with
/// its logs (memory, file or C-callback logs) and its durability rules unchanged. Requests
/// from the network are taken in groups, each group one call on the acceptor (over file logs
/// one fsync per log per group). C log callbacks are then called on the server's threads.
///
/// Secure by default: a non-loopback `bind` is refused (`SYNODOS_ERR_INVALID_ARGUMENT`)
/// without TLS, and without tokens or a client CA. An address that cannot be bound is
/// `SYNODOS_ERR_TRANSPORT`; bad options (no cluster, a short token, a bad certificate) are
/// `SYNODOS_ERR_INVALID_ARGUMENT`. The routes, limits and error answers are those of
/// `synodos serve` (net/README.md).
///
/// Threading: returns once the server listens; it runs on threads of its own until
/// `synodos_server_stop()`.
#[no_mangle]
pub extern "C" fn synodos_server_start(
    acceptor: *const synodos_acceptor,
    bind: *const c_char,
    options: *const synodos_server_options,
    out: *mut *mut synodos_server,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        // SAFETY: NULL or valid pointers (contract).
        let (a, bind, o) =
            unsafe { (borrow(acceptor, "acceptor")?, required(bind, "bind")?, borrow(options, "options")?) };
        // SAFETY: the fields' contract.
        let options = unsafe { serve_options(o) }?;
        let served = ServedAcceptor::shared(a.inner.clone());
        // The server's threads start here (see `with_sigpipe_blocked`).
        let server = with_sigpipe_blocked(|| synodos_net::serve(served, bind, options)).map_err(net_fail)?;
        let url = CString::new(server.url()).unwrap_or_default();
        let handle = synodos_server { server: Mutex::new(Some(server)), url };
        // SAFETY: checked non-NULL above.
        unsafe { give(out, handle, "out") }
    })
}

/// The server's base URL (`http://127.0.0.1:PORT` or `https://...`, with the port the OS
/// chose for port 0), NUL-terminated; `""` for NULL. Owned by the server: valid until
/// `synodos_server_stop(server)`; do not free it.
#[no_mangle]
pub extern "C" fn synodos_server_url(server: *const synodos_server) -> *const c_char {
    static EMPTY: &CStr = c"";
    // SAFETY: NULL or a valid handle (contract).
    guard_or(EMPTY.as_ptr(), || unsafe { server.as_ref() }.map_or(EMPTY.as_ptr(), |s| s.url.as_ptr()))
}

/// Stop the server gracefully and free it: it stops taking connections, answers new requests
/// with 503, ends observe streams, lets the requests in flight finish (up to 10 s), and
/// returns once the acceptor has written its last group. Clients calling it then get
/// transport errors. The acceptor itself stays usable in process (through your handle).
///
/// NULL is a no-op. May be called from any thread, including while other threads have calls
/// in flight to this server, but not from inside a callback of the served acceptor's own logs
/// (it waits for them) and only once per server.
#[no_mangle]
pub extern "C" fn synodos_server_stop(server: *mut synodos_server) {
    guard_or((), || {
        if server.is_null() {
            return;
        }
        // SAFETY: a handle from `synodos_server_start`, not yet stopped (contract).
        let handle = unsafe { Box::from_raw(server) };
        let running = match handle.server.lock() {
            Ok(mut s) => s.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(s) = running {
            s.shutdown();
        }
    })
}

// ---- the node client -------------------------------------------------------------------

/// A client of a cluster of synodos nodes (`synodos serve --peers`): append to and read the
/// chosen log through any node. Calls go to one node at a time; a node that cannot be reached
/// or answers 5xx is left for the next (three rounds over the nodes), and after an answer
/// naming the leader, calls go straight to it.
///
/// Create with `synodos_node_client_new()`, free with `synodos_node_client_free()`.
/// Thread-safe; calls block the calling thread, their I/O runs on the background thread the
/// HTTP clients share.
pub struct synodos_node_client {
    inner: NodeClient,
}

/// Create in `*out` a client of the `count` nodes whose URLs are `peers[0..count]`
/// (NUL-terminated `http://HOST:PORT` or `https://HOST:PORT`), with `*options` (NULL:
/// defaults). No node is contacted yet. No peers, or a bad URL, is
/// `SYNODOS_ERR_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn synodos_node_client_new(
    peers: *const *const c_char,
    count: usize,
    options: *const synodos_http_options,
    out: *mut *mut synodos_node_client,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, std::ptr::null_mut(), "out") }?;
        if peers.is_null() && count > 0 {
            return Err(Fail::Null("peers"));
        }
        let ptrs: &[*const c_char] = if count == 0 {
            &[]
        } else {
            // SAFETY: non-NULL and `count` readable pointers (contract).
            unsafe { std::slice::from_raw_parts(peers, count) }
        };
        let mut urls = Vec::with_capacity(count);
        for p in ptrs {
            // SAFETY: each NULL or a NUL-terminated string (contract).
            urls.push(unsafe { required(*p, "peers[i]") }?.to_string());
        }
        // SAFETY: NULL or a valid handle (contract).
        let options = unsafe { options_of(options) };
        let inner = with_sigpipe_blocked(|| NodeClient::new(urls, options)).map_err(net_fail)?;
        // SAFETY: checked non-NULL above.
        unsafe { give(out, synodos_node_client { inner }, "out") }
    })
}

/// Free a node client. NULL is a no-op. Must not be called while another thread uses it.
#[no_mangle]
pub extern "C" fn synodos_node_client_free(client: *mut synodos_node_client) {
    // SAFETY: NULL or a handle not yet freed, not in use (contract).
    guard_or((), || unsafe { free_handle(client) })
}

/// Append `value` (`len` bytes, copied) to the cluster's log, blocking until a majority
/// accepted it; put its slot in `*slot` (may be NULL). Delivery is at least once: an append
/// whose node died in flight is sent to the next node and may land twice, so put a unique id
/// in values that must not. A refusal (401 wrong token, 403 another cluster, 413 too large)
/// is `SYNODOS_ERR_TRANSPORT` with the HTTP status and the server's message; no node reached
/// is `SYNODOS_ERR_TRANSPORT` too.
#[no_mangle]
pub extern "C" fn synodos_node_client_append(
    client: *const synodos_node_client,
    value: *const u8,
    len: usize,
    slot: *mut u64,
) -> synodos_status {
    guard(|| {
        if !slot.is_null() {
            // SAFETY: non-NULL and writable (contract). Written first: 0 on every failure.
            unsafe { slot.write(0) };
        }
        // SAFETY: NULL or valid (contract).
        let (c, value) = unsafe { (borrow(client, "client")?, slice(value, len, "value")?) };
        let entry = c.inner.append_blocking(value.to_vec())?;
        if !slot.is_null() {
            // SAFETY: non-NULL and writable (contract).
            unsafe { slot.write(entry.slot) };
        }
        Ok(())
    })
}

/// Propose `value` (`len` bytes, copied) as the cluster's single decree (slot 0 of its log)
/// and put the value chosen there (yours or an earlier one) in `*chosen` (free with
/// `synodos_bytes_free`).
#[no_mangle]
pub extern "C" fn synodos_node_client_propose(
    client: *const synodos_node_client,
    value: *const u8,
    len: usize,
    chosen: *mut synodos_bytes,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(chosen, synodos_bytes::EMPTY, "chosen") }?;
        // SAFETY: NULL or valid (contract).
        let (c, value) = unsafe { (borrow(client, "client")?, slice(value, len, "value")?) };
        let result = c.inner.propose_blocking(value.to_vec())?;
        // SAFETY: checked non-NULL above.
        unsafe { put(chosen, synodos_bytes::from_vec(result), "chosen") }
    })
}

/// Up to `max` (at most 10,000) chosen entries from slot `from` on, as the node that answers
/// has learned them, into `*out` (free with `synodos_entry_list_free`): fewer, or none, when
/// that node has not learned that far yet (read again, or append through it first).
#[no_mangle]
pub extern "C" fn synodos_node_client_read(
    client: *const synodos_node_client,
    from: u64,
    max: usize,
    out: *mut synodos_entry_list,
) -> synodos_status {
    guard(|| {
        // SAFETY: NULL or writable (contract).
        unsafe { put(out, synodos_entry_list::EMPTY, "out") }?;
        // SAFETY: NULL or a valid handle (contract).
        let c = unsafe { borrow(client, "client") }?;
        if max == 0 {
            return Ok(());
        }
        let entries = c.inner.read_blocking(from, max)?;
        // SAFETY: checked non-NULL above.
        unsafe { put(out, synodos_entry_list::from_entries(entries), "out") }
    })
}

#[allow(dead_code)]
fn _assert_thread_safe() {
    fn sync<T: Send + Sync>() {}
    sync::<synodos_http_options>();
    sync::<synodos_server>();
    sync::<synodos_node_client>();
    let _ = Duration::ZERO;
}
