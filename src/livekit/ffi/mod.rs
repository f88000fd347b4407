//! Media in LiveKit rooms through `liblivekit_ffi`: LiveKit's Rust SDK compiled
//! with a C ABI, the library LiveKit's Python, Node and Unity SDKs load. It ships
//! in the `livekit` wheel on PyPI (installed by `switchboard models fetch` as the
//! `livekit-ffi` model) because the native `livekit` crate cannot be built here
//! (it downloads libwebrtc in its build).
//!
//! The library speaks protobuf: a request in, a response out, and events later
//! through one C callback (answers to asynchronous requests carry the `async_id`
//! we chose; room, track and audio-stream events carry their handle). Every
//! handle the library gives us is an [`OwnedHandle`] that drops it exactly once;
//! [`live_handles`] counts them, so a test can prove nothing leaked.
//!
//! The message types are compiled by build.rs from the descriptors embedded in the
//! same wheel (src/livekit/ffi/livekit_ffi.fds).

pub mod audio;
pub mod bench;
pub mod room;

use std::collections::HashMap;
use std::ffi::{c_char, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use prost::Message;
use tokio::sync::{mpsc, oneshot};

pub use audio::{AudioSource, AudioStream, LocalAudioTrack, ReceivedAudio};
pub use room::{RemoteParticipant, Room, RoomEvent, RoomOptions, RoomSender, RpcInvocation};

/// LiveKit's messages, generated from the wheel's own descriptors.
#[allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/livekit.proto.rs"));
}

/// The installed model that carries the library.
pub const MODEL: &str = "livekit-ffi";
/// Overrides where the library is loaded from (the name LiveKit's Python SDK uses).
pub const LIB_PATH_ENV: &str = "LIVEKIT_LIB_PATH";
/// Default wait for an asynchronous answer of the library.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
const SDK_NAME: &str = "switchboard";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FfiError {
    #[error("LiveKit's media library is not installed: {0}")]
    NotInstalled(String),
    #[error("cannot load LiveKit's media library {path}: {reason}")]
    Load { path: String, reason: String },
    #[error("LiveKit's media library refused {what}: {reason}")]
    Refused { what: &'static str, reason: String },
    #[error("LiveKit's media library answered {what} with an unexpected message")]
    Protocol { what: &'static str },
    #[error("cannot join the LiveKit room: {0}")]
    Connect(String),
    #[error("no answer from LiveKit's media library for {what} within {} ms", .after.as_millis())]
    Timeout { what: &'static str, after: Duration },
    #[error("LiveKit's media library has been shut down")]
    Disposed,
    #[error("{0}")]
    Input(String),
}

impl FfiError {
    pub fn code(&self) -> &'static str {
        match self {
            FfiError::NotInstalled(_) => "livekit_ffi_missing",
            FfiError::Load { .. } => "livekit_ffi_load_failed",
            FfiError::Refused { .. } => "livekit_ffi_refused",
            FfiError::Protocol { .. } => "livekit_ffi_protocol",
            FfiError::Connect(_) => "livekit_connect_failed",
            FfiError::Timeout { .. } => "livekit_ffi_timeout",
            FfiError::Disposed => "livekit_ffi_disposed",
            FfiError::Input(_) => "invalid_request",
        }
    }
}

type Callback = unsafe extern "C" fn(*const u8, usize);
type InitializeFn = unsafe extern "C" fn(Callback, bool, *const c_char, *const c_char);
type RequestFn = unsafe extern "C" fn(*const u8, usize, *mut *const u8, *mut usize) -> u64;
type DropHandleFn = unsafe extern "C" fn(u64) -> bool;
type DisposeFn = unsafe extern "C" fn();

/// The loaded library. One per process: the library keeps global state (its
/// runtime, the callback), so it is initialized once and shared.
pub struct FfiClient {
    path: PathBuf,
    request: RequestFn,
    drop_handle: DropHandleFn,
    dispose: DisposeFn,
    disposed: AtomicBool,
    // Keeps the code mapped; never unloaded (the library's threads outlive any
    // attempt to, as with every SDK that loads it).
    _lib: libloading::Library,
}

impl std::fmt::Debug for FfiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FfiClient")
            .field("path", &self.path)
            .finish()
    }
}

/// Where events go: waiters for asynchronous answers by `async_id`, audio
/// streams by stream handle, rooms by room handle. Set up before the library is
/// initialized, since its callback may fire at once.
#[derive(Default)]
struct Router {
    waiters: Mutex<HashMap<u64, Waiter>>,
    /// Answers that arrived before their waiter registered (bounded).
    early: Mutex<HashMap<u64, proto::ffi_event::Message>>,
    streams: Mutex<HashMap<u64, mpsc::Sender<ReceivedAudio>>>,
    rooms: Mutex<HashMap<u64, mpsc::UnboundedSender<room::Routed>>>,
    /// Events of rooms whose `connect` has not returned yet.
    early_rooms: Mutex<HashMap<u64, Vec<room::Routed>>>,
    /// Rooms (and local participants) we have left, most recent last: their
    /// late events are dropped, not parked as early ones.
    left_rooms: Mutex<std::collections::VecDeque<u64>>,
}

struct Waiter {
    tx: oneshot::Sender<proto::ffi_event::Message>,
    /// Memory the library reads until it answers.
    _keep: Option<Keep>,
}

/// Memory lent to the library for one request: a captured audio frame, or a
/// data packet being published. Only held, never read here: the library reads it.
#[derive(Debug)]
#[allow(dead_code)]
pub(crate) enum Keep {
    Samples(Vec<i16>),
    Bytes(Vec<u8>),
}

static ROUTER: OnceLock<Router> = OnceLock::new();
static CLIENT: OnceLock<Result<FfiClient, FfiError>> = OnceLock::new();
static NEXT_ASYNC_ID: AtomicU64 = AtomicU64::new(1);
static LIVE_HANDLES: AtomicUsize = AtomicUsize::new(0);
static PENDING_DROPS: AtomicUsize = AtomicUsize::new(0);
const EARLY_MAX: usize = 1024;

fn router() -> &'static Router {
    ROUTER.get_or_init(Router::default)
}

/// Handles given by the library and not dropped yet, in this process.
pub fn live_handles() -> usize {
    LIVE_HANDLES.load(Ordering::SeqCst)
}

/// [`live_handles`] once the handles released inside the library's callback
/// (handed to a helper thread) are dropped too, waiting at most `wait`.
pub fn settled_live_handles(wait: Duration) -> usize {
    let until = std::time::Instant::now() + wait;
    while PENDING_DROPS.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    live_handles()
}

/// Where the library is: `LIVEKIT_LIB_PATH`, else the installed `livekit-ffi` model.
pub fn library_path() -> Result<PathBuf, FfiError> {
    if let Some(p) = std::env::var_os(LIB_PATH_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let dir = crate::models::models_dir();
    let file = crate::models::installed_file_in(&dir, MODEL)
        .map_err(|e| FfiError::NotInstalled(e.to_string()))?;
    // The model's first file is the library itself.
    Ok(file)
}

impl FfiClient {
    /// The process's client, loading and initializing the library on first use.
    pub fn get() -> Result<&'static FfiClient, FfiError> {
        CLIENT
            .get_or_init(|| library_path().and_then(|p| FfiClient::load(&p)))
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|c| {
                if c.disposed.load(Ordering::SeqCst) {
                    Err(FfiError::Disposed)
                } else {
                    Ok(c)
                }
            })
    }

    fn load(path: &Path) -> Result<FfiClient, FfiError> {
        let fail = |reason: String| FfiError::Load {
            path: path.display().to_string(),
            reason,
        };
        if !path.is_file() {
            return Err(FfiError::NotInstalled(format!(
                "{} does not exist; run: switchboard models fetch --only {MODEL}",
                path.display()
            )));
        }
        // SAFETY: loading runs the library's initializers; liblivekit_ffi is the
        // pinned, checksummed build from the `livekit` wheel.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| fail(e.to_string()))?;
        // SAFETY: the symbol types are the library's C ABI (livekit-ffi's cabi.rs,
        // the same declarations LiveKit's Python SDK gives ctypes).
        let (initialize, request, drop_handle, dispose) = unsafe {
            let initialize: InitializeFn = *lib
                .get::<InitializeFn>(b"livekit_ffi_initialize\0")
                .map_err(|e| fail(e.to_string()))?;
            let request: RequestFn = *lib
                .get::<RequestFn>(b"livekit_ffi_request\0")
                .map_err(|e| fail(e.to_string()))?;
            let drop_handle: DropHandleFn = *lib
                .get::<DropHandleFn>(b"livekit_ffi_drop_handle\0")
                .map_err(|e| fail(e.to_string()))?;
            let dispose: DisposeFn = *lib
                .get::<DisposeFn>(b"livekit_ffi_dispose\0")
                .map_err(|e| fail(e.to_string()))?;
            (initialize, request, drop_handle, dispose)
        };
        router();
        let sdk = CString::new(SDK_NAME).map_err(|e| fail(e.to_string()))?;
        let version = CString::new(env!("CARGO_PKG_VERSION")).map_err(|e| fail(e.to_string()))?;
        // SAFETY: `on_event` is thread-safe and never unwinds; the strings live
        // through the call (the library copies them).
        unsafe { initialize(on_event, true, sdk.as_ptr(), version.as_ptr()) };
        tracing::debug!(path = %path.display(), "liblivekit_ffi initialized");
        Ok(FfiClient {
            path: path.to_path_buf(),
            request,
            drop_handle,
            dispose,
            disposed: AtomicBool::new(false),
            _lib: lib,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One synchronous request.
    pub fn request(
        &self,
        what: &'static str,
        message: proto::ffi_request::Message,
    ) -> Result<proto::ffi_response::Message, FfiError> {
        if self.disposed.load(Ordering::SeqCst) {
            return Err(FfiError::Disposed);
        }
        let req = proto::FfiRequest {
            message: Some(message),
        };
        let bytes = req.encode_to_vec();
        let mut res_ptr: *const u8 = std::ptr::null();
        let mut res_len: usize = 0;
        // SAFETY: `bytes` outlives the call; the library writes a pointer to its
        // own buffer, owned by the returned handle until we drop it.
        let handle =
            unsafe { (self.request)(bytes.as_ptr(), bytes.len(), &mut res_ptr, &mut res_len) };
        if handle == 0 || res_ptr.is_null() {
            return Err(FfiError::Refused {
                what,
                reason: "the request was not accepted (invalid handle)".into(),
            });
        }
        // SAFETY: the buffer is valid for `res_len` bytes while `handle` lives.
        let decoded =
            proto::FfiResponse::decode(unsafe { std::slice::from_raw_parts(res_ptr, res_len) });
        // SAFETY: the response buffer's handle is ours to drop, once.
        unsafe { (self.drop_handle)(handle) };
        decoded
            .ok()
            .and_then(|r| r.message)
            .ok_or(FfiError::Protocol { what })
    }

    /// Shuts the library down: every room is left and every handle invalidated.
    /// Later calls fail with [`FfiError::Disposed`]. Call once, at exit.
    pub fn dispose(&self) {
        if self.disposed.swap(true, Ordering::SeqCst) {
            return;
        }
        // SAFETY: no request is made after this point (the flag above).
        unsafe { (self.dispose)() };
    }

    fn drop_handle(&self, id: u64) -> bool {
        if self.disposed.load(Ordering::SeqCst) {
            // Dispose released them all.
            return true;
        }
        // SAFETY: each OwnedHandle drops its id exactly once.
        unsafe { (self.drop_handle)(id) }
    }
}

/// Shuts the process's library down, if it was ever loaded.
pub fn dispose() {
    if let Some(Ok(c)) = CLIENT.get() {
        c.dispose();
    }
}

/// A handle the library gave us; dropped (once) with this value.
#[derive(Debug)]
pub struct OwnedHandle(u64);

impl OwnedHandle {
    /// None for the invalid handle 0.
    fn new(h: proto::FfiOwnedHandle) -> Option<OwnedHandle> {
        (h.id != 0).then(|| {
            LIVE_HANDLES.fetch_add(1, Ordering::SeqCst);
            OwnedHandle(h.id)
        })
    }

    pub fn id(&self) -> u64 {
        self.0
    }
}

impl Drop for OwnedHandle {
    fn drop(&mut self) {
        if IN_CALLBACK.with(|c| c.get()) {
            // Never call into the library from its own callback: a thread of
            // ours releases the handle right after.
            PENDING_DROPS.fetch_add(1, Ordering::SeqCst);
            let sent = deferred_drops()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .send(self.0);
            if sent.is_err() {
                // No helper thread: released here after all, rather than leaked.
                PENDING_DROPS.fetch_sub(1, Ordering::SeqCst);
                release(self.0);
            }
            return;
        }
        release(self.0);
    }
}

fn release(id: u64) {
    if let Some(Ok(c)) = CLIENT.get() {
        if !c.drop_handle(id) {
            tracing::warn!(
                handle = id,
                "liblivekit_ffi did not know a handle we dropped"
            );
        }
    }
    LIVE_HANDLES.fetch_sub(1, Ordering::SeqCst);
}

thread_local! {
    static IN_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn deferred_drops() -> &'static Mutex<std::sync::mpsc::Sender<u64>> {
    static TX: OnceLock<Mutex<std::sync::mpsc::Sender<u64>>> = OnceLock::new();
    TX.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<u64>();
        std::thread::Builder::new()
            .name("livekit-ffi-drop".into())
            .spawn(move || {
                for id in rx {
                    release(id);
                    PENDING_DROPS.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .ok();
        Mutex::new(tx)
    })
}

/// A fresh id for an asynchronous request, with its answer's receiver.
fn expect_answer(keep: Option<Keep>) -> (u64, oneshot::Receiver<proto::ffi_event::Message>) {
    let id = NEXT_ASYNC_ID.fetch_add(1, Ordering::Relaxed);
    let (tx, rx) = oneshot::channel();
    let r = router();
    let early = r
        .early
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id);
    match early {
        Some(msg) => {
            let _ = tx.send(msg);
        }
        None => {
            r.waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id, Waiter { tx, _keep: keep });
        }
    }
    (id, rx)
}

fn forget_answer(id: u64) -> Option<Keep> {
    router()
        .waiters
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&id)
        .and_then(|w| w._keep)
}

/// Waits for the answer to request `id`. On timeout the waiter is removed — but
/// any memory the library may still read stays alive until the process ends
/// rather than be freed under it.
async fn answer(
    what: &'static str,
    id: u64,
    rx: oneshot::Receiver<proto::ffi_event::Message>,
    timeout: Duration,
) -> Result<proto::ffi_event::Message, FfiError> {
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(m)) => Ok(m),
        Ok(Err(_)) => Err(FfiError::Disposed),
        Err(_) => {
            if let Some(keep) = forget_answer(id) {
                std::mem::forget(keep);
            }
            Err(FfiError::Timeout {
                what,
                after: timeout,
            })
        }
    }
}

/// Sends an asynchronous request (built around the `async_id` it must carry) and
/// waits up to `timeout` for the library's answer. `keep`: memory the library
/// reads until it answers.
async fn ask(
    what: &'static str,
    keep: Option<Keep>,
    timeout: Duration,
    build: impl FnOnce(u64) -> proto::ffi_request::Message,
) -> Result<proto::ffi_event::Message, FfiError> {
    let c = FfiClient::get()?;
    let (id, rx) = expect_answer(keep);
    if let Err(e) = c.request(what, build(id)) {
        forget_answer(id);
        return Err(e);
    }
    answer(what, id, rx, timeout).await
}

fn async_id_of(m: &proto::ffi_event::Message) -> Option<u64> {
    use proto::ffi_event::Message as M;
    Some(match m {
        M::Connect(c) => c.async_id,
        M::Disconnect(c) => c.async_id,
        M::Dispose(c) => c.async_id,
        M::PublishTrack(c) => c.async_id,
        M::UnpublishTrack(c) => c.async_id,
        M::PublishData(c) => c.async_id,
        M::PublishTranscription(c) => c.async_id,
        M::CaptureAudioFrame(c) => c.async_id,
        M::SendText(c) => c.async_id,
        M::PerformRpc(c) => c.async_id,
        _ => return None,
    })
}

/// The library's callback: copy, decode, route; never block, never unwind.
unsafe extern "C" fn on_event(data: *const u8, len: usize) {
    if data.is_null() {
        return;
    }
    // SAFETY: the library passes a buffer valid for `len` bytes during the call.
    let bytes = unsafe { std::slice::from_raw_parts(data, len) };
    IN_CALLBACK.with(|c| c.set(true));
    let _ = std::panic::catch_unwind(|| route(bytes));
    IN_CALLBACK.with(|c| c.set(false));
}

fn route(bytes: &[u8]) {
    let Ok(event) = proto::FfiEvent::decode(bytes) else {
        tracing::warn!(len = bytes.len(), "undecodable event from liblivekit_ffi");
        return;
    };
    let Some(msg) = event.message else {
        return;
    };
    let r = router();
    use proto::ffi_event::Message as M;
    match msg {
        M::Logs(batch) => {
            for rec in batch.records {
                // The library's own log lines (no customer audio or text in them).
                match rec.level {
                    0 => tracing::error!(target: "livekit_ffi", "{}: {}", rec.target, rec.message),
                    1 => tracing::warn!(target: "livekit_ffi", "{}: {}", rec.target, rec.message),
                    2 => tracing::info!(target: "livekit_ffi", "{}: {}", rec.target, rec.message),
                    _ => tracing::debug!(target: "livekit_ffi", "{}: {}", rec.target, rec.message),
                }
            }
        }
        M::Panic(p) => {
            tracing::error!(target: "livekit_ffi", "liblivekit_ffi panicked: {}", p.message);
        }
        M::AudioStreamEvent(ev) => audio::route_stream_event(r, ev),
        M::RoomEvent(ev) => room::route_room_event(r, ev),
        M::RpcMethodInvocation(ev) => room::route_rpc_invocation(r, ev),
        other => {
            let Some(id) = async_id_of(&other) else {
                return;
            };
            let waiter = r
                .waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            match waiter {
                Some(w) => {
                    let _ = w.tx.send(other);
                }
                None => {
                    let mut early = r.early.lock().unwrap_or_else(|p| p.into_inner());
                    if early.len() < EARLY_MAX {
                        early.insert(id, other);
                    }
                }
            }
        }
    }
}
