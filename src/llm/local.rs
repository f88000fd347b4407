//! The local language model: the `switchboard-llm` server (llama.cpp, in its own
//! process — it cannot share a binary with whisper.cpp), started on demand,
//! supervised, and spoken to through the one OpenAI-compatible client.
//!
//! - On the first request a supervisor thread (with its own small runtime, so it
//!   outlives no caller's runtime and needs none) starts the server with
//!   `--port 0`, reads the port it bound from its first stdout line, and waits for
//!   `GET /health`. The same port is asked for again on restarts.
//! - If the server exits, it is restarted after a backoff (0.5 s doubling to 30 s,
//!   back to 0.5 s after a minute of uptime). Requests in flight fail (the call
//!   speaks its template reply); the next one waits for the restart.
//! - The server's stdin is a pipe that only we hold: when the engine exits, even
//!   killed, the pipe closes and the server exits too. Dropping the last
//!   [`LocalLlm`] handle (or [`LocalLlm::shutdown`]) stops it at once.
//! - A missing model fails fast with the command that fetches it; the call falls
//!   back to its template replies.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::openai::{OpenAiCompatible, OpenAiConfig};
use super::{ChatRequest, LanguageModel, LlmError, TokenStream};

/// The server binary's name (plus `.exe` on Windows).
pub const SERVER_BINARY: &str = "switchboard-llm";
/// The default local model (a registry name, see [`crate::models`]).
pub const DEFAULT_MODEL: &str = "qwen2.5-0.5b";
/// The small, fast one.
pub const SMALL_MODEL: &str = "smollm2-135m";

/// How to run the local model.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalLlmOptions {
    /// Registry name of the model (`qwen2.5-0.5b`, `smollm2-135m`).
    pub model: String,
    /// A GGUF file to use instead of the installed model (tests, experiments).
    pub model_path: Option<PathBuf>,
    /// Where models are installed; None: [`crate::models::models_dir`].
    pub models_dir: Option<PathBuf>,
    /// The server binary; None: `$SWITCHBOARD_LLM_SERVER`, beside the running
    /// executable, in `$CARGO_TARGET_DIR`, then on `PATH` ([`find_server`]).
    pub server: Option<PathBuf>,
    /// Context size in tokens (persona prompt + history + reply).
    pub ctx_size: u32,
    /// CPU threads while generating; None: [`default_threads`].
    pub threads: Option<u16>,
    /// CPU threads while decoding the prompt; None: [`default_batch_threads`].
    pub batch_threads: Option<u16>,
    /// Loading the model and answering `/health`.
    pub startup_timeout: Duration,
    /// From a request to its first token (the prompt is decoded in between).
    pub first_token_timeout: Duration,
    pub stall_timeout: Duration,
    pub restart_backoff_min: Duration,
    pub restart_backoff_max: Duration,
}

impl LocalLlmOptions {
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            model: model.into(),
            ..Self::default()
        }
    }
}

impl Default for LocalLlmOptions {
    fn default() -> Self {
        Self {
            model: DEFAULT_MODEL.into(),
            model_path: None,
            models_dir: None,
            server: None,
            ctx_size: 4096,
            threads: None,
            batch_threads: None,
            startup_timeout: Duration::from_secs(60),
            first_token_timeout: Duration::from_secs(15),
            stall_timeout: Duration::from_secs(5),
            restart_backoff_min: Duration::from_millis(500),
            restart_backoff_max: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalLlmError {
    /// The model is unknown or not installed; the message names the fetch command.
    #[error("local LLM: {0}")]
    Model(String),
    #[error("the local LLM server `{SERVER_BINARY}` was not found (looked in: {looked}); build it with `cargo build -p switchboard-llm` or set SWITCHBOARD_LLM_SERVER")]
    ServerMissing { looked: String },
    #[error("the local LLM server did not start: {0}")]
    Start(String),
    #[error("the local LLM server was stopped")]
    Stopped,
}

impl LocalLlmError {
    pub fn code(&self) -> &'static str {
        match self {
            LocalLlmError::Model(_) => "llm_model_missing",
            LocalLlmError::ServerMissing { .. } => "llm_server_missing",
            LocalLlmError::Start(_) => "llm_server_start",
            LocalLlmError::Stopped => "llm_server_stopped",
        }
    }
}

/// The GGUF file the options point at: `model_path`, else the installed model.
pub fn model_file(opts: &LocalLlmOptions) -> Result<PathBuf, LocalLlmError> {
    if let Some(p) = &opts.model_path {
        return if p.is_file() {
            Ok(p.clone())
        } else {
            Err(LocalLlmError::Model(format!(
                "no model file at {}",
                p.display()
            )))
        };
    }
    let spec = crate::models::find(&opts.model).map_err(|e| LocalLlmError::Model(e.to_string()))?;
    if spec.kind != crate::models::ModelKind::Llm {
        return Err(LocalLlmError::Model(format!(
            "{} is not a language model",
            opts.model
        )));
    }
    let dir = opts
        .models_dir
        .clone()
        .unwrap_or_else(crate::models::models_dir);
    crate::models::installed_file_in(&dir, &opts.model)
        .map_err(|e| LocalLlmError::Model(e.to_string()))
}

/// Where the server binary is: `explicit`, `$SWITCHBOARD_LLM_SERVER`, beside the
/// running executable (or one folder up, for test binaries in `target/*/deps`),
/// `$CARGO_TARGET_DIR/{release,debug}`, then `PATH`.
pub fn find_server(explicit: Option<&Path>) -> Result<PathBuf, LocalLlmError> {
    let name = format!("{SERVER_BINARY}{}", std::env::consts::EXE_SUFFIX);
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = explicit {
        candidates.push(p.to_path_buf());
    } else {
        if let Some(p) = std::env::var_os("SWITCHBOARD_LLM_SERVER").filter(|p| !p.is_empty()) {
            candidates.push(PathBuf::from(p));
        }
        if let Ok(exe) = std::env::current_exe() {
            if let Some(dir) = exe.parent() {
                candidates.push(dir.join(&name));
                if let Some(up) = dir.parent() {
                    candidates.push(up.join(&name));
                }
            }
        }
        if let Some(t) = std::env::var_os("CARGO_TARGET_DIR").filter(|p| !p.is_empty()) {
            let t = PathBuf::from(t);
            candidates.push(t.join("release").join(&name));
            candidates.push(t.join("debug").join(&name));
        }
        if let Some(path) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&path).map(|d| d.join(&name)));
        }
    }
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let looked = candidates
        .iter()
        .take(6)
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Err(LocalLlmError::ServerMissing {
        looked: if candidates.len() > 6 {
            format!("{looked}, PATH")
        } else {
            looked
        },
    })
}

/// Half the logical cores (1 on a 2-core laptop), at most 8. llama.cpp's workers
/// spin at every barrier: when speech recognition and synthesis also want the CPU,
/// a model given every core stalls on the one descheduled thread. Measured here
/// (2 cores, Whisper decoding at the same time): Qwen2.5-0.5B generated 1–2
/// tokens/s with 2 threads and 29 with 1.
pub fn default_threads() -> u16 {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    u16::try_from((n / 2).clamp(1, 8)).unwrap_or(1)
}

/// Every logical core, at most 8, for decoding the prompt. In a call the prompt
/// is decoded right after recognition has finished and before the voice has
/// anything to say: the rest of the pipeline is idle and the customer is
/// waiting, so the first token comes sooner with every core (`switchboard
/// bench-voice`, docs/models.md). Generation, which overlaps with synthesis,
/// keeps [`default_threads`].
pub fn default_batch_threads() -> u16 {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    u16::try_from(n.clamp(1, 8)).unwrap_or(1)
}

/// What the server is doing.
#[derive(Debug, Clone)]
pub enum ServerState {
    /// Not started (nobody asked yet).
    Idle,
    Starting,
    Ready {
        base_url: String,
        pid: u32,
        client: OpenAiCompatible,
    },
    /// It exited; it is restarted after the backoff. Requests wait for it.
    Restarting {
        exit: String,
    },
    /// A start failed. `retrying`: the supervisor tries again after the backoff;
    /// otherwise it gave up and the next request starts over.
    Failed {
        error: LocalLlmError,
        retrying: bool,
    },
    Stopped,
}

struct Shared {
    opts: LocalLlmOptions,
    state: watch::Sender<ServerState>,
    /// Starts of the server process (the first one included).
    starts: std::sync::atomic::AtomicU32,
}

struct Control {
    shutdown: watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

struct Handle {
    shared: Arc<Shared>,
    control: Mutex<Option<Control>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let control = self
            .control
            .get_mut()
            .map(Option::take)
            .unwrap_or_else(|p| p.into_inner().take());
        if let Some(c) = control {
            let _ = c.shutdown.send(true);
            let _ = c.thread.join();
        }
    }
}

/// The local model as a [`LanguageModel`]. Clones share one server.
#[derive(Clone)]
pub struct LocalLlm {
    handle: Arc<Handle>,
    name: Arc<str>,
}

impl fmt::Debug for LocalLlm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalLlm")
            .field("opts", &self.handle.shared.opts)
            .finish_non_exhaustive()
    }
}

impl LocalLlm {
    /// A handle with its own server (started on the first request).
    pub fn new(opts: LocalLlmOptions) -> Self {
        let name: Arc<str> = Arc::from(format!("local:{}", opts.model));
        let (state, _) = watch::channel(ServerState::Idle);
        Self {
            handle: Arc::new(Handle {
                shared: Arc::new(Shared {
                    opts,
                    state,
                    starts: std::sync::atomic::AtomicU32::new(0),
                }),
                control: Mutex::new(None),
            }),
            name,
        }
    }

    /// One server per distinct options for the whole process (every call of the
    /// desktop app shares it, and its prefix cache). It runs until
    /// [`LocalLlm::stop_shared`] or the process exits.
    pub fn shared(opts: LocalLlmOptions) -> Self {
        let mut map = shared_map().lock().unwrap_or_else(|p| p.into_inner());
        map.entry(opts.clone())
            .or_insert_with(|| LocalLlm::new(opts))
            .clone()
    }

    /// Stops every server started through [`LocalLlm::shared`].
    pub fn stop_shared() {
        let all: Vec<LocalLlm> = {
            let mut map = shared_map().lock().unwrap_or_else(|p| p.into_inner());
            map.drain().map(|(_, v)| v).collect()
        };
        for llm in all {
            llm.shutdown();
        }
    }

    pub fn options(&self) -> &LocalLlmOptions {
        &self.handle.shared.opts
    }

    pub fn state(&self) -> ServerState {
        self.handle.shared.state.borrow().clone()
    }

    /// The server's process id while it is ready.
    pub fn pid(&self) -> Option<u32> {
        match self.state() {
            ServerState::Ready { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// `http://127.0.0.1:PORT/v1` while it is ready.
    pub fn base_url(&self) -> Option<String> {
        match self.state() {
            ServerState::Ready { base_url, .. } => Some(base_url),
            _ => None,
        }
    }

    /// How many times the server process was started.
    pub fn starts(&self) -> u32 {
        self.handle
            .shared
            .starts
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Stops the server now (it starts again on the next request).
    pub fn shutdown(&self) {
        let control = self
            .handle
            .control
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(c) = control {
            let _ = c.shutdown.send(true);
            let _ = c.thread.join();
        }
    }

    /// Starts the server in the background if it is not running (and can run), so
    /// that the first reply does not wait for the model to load.
    pub fn start(&self) {
        let opts = &self.handle.shared.opts;
        if model_file(opts).is_ok() && find_server(opts.server.as_deref()).is_ok() {
            let _ = self.ensure_supervisor();
        }
    }

    /// Starts the server if needed and waits until it answers; the client for it.
    pub async fn ready(&self) -> Result<OpenAiCompatible, LocalLlmError> {
        let shared = &self.handle.shared;
        let mut rx = shared.state.subscribe();
        let needs_start = !matches!(
            &*rx.borrow(),
            ServerState::Ready { .. } | ServerState::Starting | ServerState::Restarting { .. }
        );
        if needs_start {
            // Fail fast, without a thread or a process, when there is nothing to run.
            model_file(&shared.opts)?;
            find_server(shared.opts.server.as_deref())?;
        }
        self.ensure_supervisor()?;
        let deadline = tokio::time::Instant::now() + shared.opts.startup_timeout;
        loop {
            {
                let state = rx.borrow_and_update();
                match &*state {
                    ServerState::Ready { client, .. } => return Ok(client.clone()),
                    ServerState::Failed { error, .. } => return Err(error.clone()),
                    ServerState::Stopped => return Err(LocalLlmError::Stopped),
                    ServerState::Idle | ServerState::Starting | ServerState::Restarting { .. } => {}
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(LocalLlmError::Stopped),
                Err(_) => {
                    return Err(LocalLlmError::Start(format!(
                        "not ready within {} s",
                        shared.opts.startup_timeout.as_secs()
                    )))
                }
            }
        }
    }

    fn ensure_supervisor(&self) -> Result<(), LocalLlmError> {
        let mut control = self
            .handle
            .control
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(c) = control.as_ref() {
            if !c.thread.is_finished() {
                return Ok(());
            }
        }
        if let Some(old) = control.take() {
            let _ = old.thread.join();
        }
        let shared = Arc::clone(&self.handle.shared);
        // Seen by waiters at once, before the thread runs.
        shared.state.send_replace(ServerState::Starting);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("llm-supervisor".into())
            .spawn(move || supervise(shared, shutdown_rx))
            .map_err(|e| LocalLlmError::Start(format!("cannot start a thread: {e}")))?;
        *control = Some(Control { shutdown, thread });
        Ok(())
    }
}

/// Requests (replies, prefills) this process has in flight to a local model.
static IN_FLIGHT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether a local model is working for this process right now. Other CPU-bound
/// work (speech recognition) takes fewer threads meanwhile: two spinning ggml
/// thread pools on the same cores slow each other down many times over.
pub fn busy() -> bool {
    IN_FLIGHT.load(std::sync::atomic::Ordering::Relaxed) > 0
}

/// Counts a request in flight for as long as it lives.
struct InFlight;

impl InFlight {
    fn new() -> Self {
        IN_FLIGHT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn shared_map() -> &'static Mutex<HashMap<LocalLlmOptions, LocalLlm>> {
    static MAP: OnceLock<Mutex<HashMap<LocalLlmOptions, LocalLlm>>> = OnceLock::new();
    MAP.get_or_init(|| Mutex::new(HashMap::new()))
}

impl LanguageModel for LocalLlm {
    fn name(&self) -> &str {
        &self.name
    }

    /// On a 2-core laptop Qwen2.5-0.5B decodes the summary prompt in ~6 s (it
    /// shares no prefix with the call) and writes ~25 tokens/s.
    fn summary_timeout(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn stream(&self, request: ChatRequest) -> TokenStream {
        let this = self.clone();
        let in_flight = InFlight::new();
        let start = async move {
            match this.ready().await {
                Ok(client) => client.stream(request),
                Err(e) => {
                    let err = LlmError::Unavailable(e.to_string());
                    Box::pin(futures::stream::once(async move { Err(err) })) as TokenStream
                }
            }
        };
        Box::pin(futures::stream::once(start).flatten().map(move |item| {
            let _ = &in_flight;
            item
        }))
    }

    /// Decodes the prompt into the server's cache (one token is generated and
    /// dropped). The server serves requests in order, so a turn that ends during
    /// the prefill waits for it and then reuses all of it.
    fn prefill(&self, mut request: ChatRequest) {
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        request.max_tokens = 1;
        let mut stream = self.stream(request);
        rt.spawn(async move {
            while let Some(item) = stream.next().await {
                if item.is_err() {
                    break;
                }
            }
        });
    }
}

// ---------------------------------------------------------------------------
// Supervisor (its own thread and runtime)
// ---------------------------------------------------------------------------

/// Consecutive failed starts after which the supervisor gives up (the next request
/// tries again).
const MAX_FAILED_STARTS: u32 = 3;
/// Uptime after which a crash counts as new, not as part of a crash loop.
const STABLE_UPTIME: Duration = Duration::from_secs(60);

fn supervise(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            shared.state.send_replace(ServerState::Failed {
                error: LocalLlmError::Start(format!("cannot start a runtime: {e}")),
                retrying: false,
            });
            return;
        }
    };
    rt.block_on(async move {
        let opts = &shared.opts;
        let mut backoff = opts.restart_backoff_min;
        let mut port = 0u16;
        let mut failed_starts = 0u32;
        loop {
            if *shutdown.borrow() {
                break;
            }
            shared.state.send_replace(ServerState::Starting);
            shared
                .starts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let started = tokio::select! {
                r = start_server(opts, port) => r,
                _ = shutdown.changed() => break,
            };
            match started {
                Ok(mut server) => {
                    failed_starts = 0;
                    port = server.port;
                    let up_since = Instant::now();
                    let base_url = format!("http://127.0.0.1:{}/v1", server.port);
                    let client = OpenAiCompatible::new(OpenAiConfig {
                        base_url: base_url.clone(),
                        model: opts.model.clone(),
                        api_key: None,
                        connect_timeout: Duration::from_secs(2),
                        first_token_timeout: opts.first_token_timeout,
                        stall_timeout: opts.stall_timeout,
                        ..OpenAiConfig::default()
                    });
                    tracing::info!(model = %opts.model, port = server.port, pid = server.pid, "local LLM server ready");
                    shared.state.send_replace(ServerState::Ready {
                        base_url,
                        pid: server.pid,
                        client,
                    });
                    let exit = tokio::select! {
                        status = server.child.wait() => match status {
                            Ok(s) => s.to_string(),
                            Err(e) => e.to_string(),
                        },
                        _ = shutdown.changed() => {
                            server.stop().await;
                            break;
                        }
                    };
                    let last = server.last_stderr();
                    tracing::warn!(model = %opts.model, %exit, last = %last, "local LLM server exited; restarting");
                    if up_since.elapsed() > STABLE_UPTIME {
                        backoff = opts.restart_backoff_min;
                    }
                    shared.state.send_replace(ServerState::Restarting { exit });
                }
                Err(error) => {
                    failed_starts += 1;
                    // The port we had may have been taken meanwhile.
                    port = 0;
                    let permanent = matches!(
                        error,
                        LocalLlmError::Model(_) | LocalLlmError::ServerMissing { .. }
                    );
                    let give_up = permanent || failed_starts >= MAX_FAILED_STARTS;
                    tracing::warn!(model = %opts.model, %error, attempt = failed_starts, give_up, "local LLM server failed to start");
                    shared.state.send_replace(ServerState::Failed {
                        error,
                        retrying: !give_up,
                    });
                    if give_up {
                        return;
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = shutdown.changed() => break,
            }
            backoff = (backoff * 2).min(opts.restart_backoff_max);
        }
        shared.state.send_replace(ServerState::Stopped);
    });
}

struct RunningServer {
    child: Child,
    pid: u32,
    port: u16,
    /// Held, never written: when we go away, the server reads EOF and exits.
    _stdin: Option<tokio::process::ChildStdin>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl RunningServer {
    async fn stop(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    fn last_stderr(&self) -> String {
        let tail = self.stderr_tail.lock().unwrap_or_else(|p| p.into_inner());
        tail.back().cloned().unwrap_or_default()
    }
}

const STDERR_TAIL_LINES: usize = 20;

async fn start_server(opts: &LocalLlmOptions, port: u16) -> Result<RunningServer, LocalLlmError> {
    let model = model_file(opts)?;
    let binary = find_server(opts.server.as_deref())?;
    let mut cmd = Command::new(&binary);
    cmd.arg("--model")
        .arg(&model)
        .arg("--alias")
        .arg(&opts.model)
        .arg("--port")
        .arg(port.to_string())
        .arg("--ctx-size")
        .arg(opts.ctx_size.to_string())
        .arg("--exit-with-stdin");
    let threads = opts.threads.unwrap_or_else(default_threads);
    cmd.arg("--threads").arg(threads.to_string());
    let batch_threads = opts.batch_threads.unwrap_or_else(default_batch_threads);
    cmd.arg("--batch-threads").arg(batch_threads.to_string());
    // The server logs like the engine: quiet unless asked.
    let log = std::env::var("SWITCHBOARD_LOG").unwrap_or_else(|_| "warn".into());
    cmd.env("SWITCHBOARD_LOG", log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| LocalLlmError::Start(format!("cannot run {}: {e}", binary.display())))?;
    let pid = child.id().unwrap_or(0);
    let stdin = child.stdin.take();
    let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
    if let Some(stderr) = child.stderr.take() {
        let tail = Arc::clone(&stderr_tail);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // The server's own log lines (no customer text), passed through.
                eprintln!("{line}");
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() == STDERR_TAIL_LINES {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
    }
    let mut server = RunningServer {
        child,
        pid,
        port: 0,
        _stdin: stdin,
        stderr_tail,
    };
    let Some(stdout) = server.child.stdout.take() else {
        server.stop().await;
        return Err(LocalLlmError::Start("no stdout pipe".into()));
    };
    let deadline = tokio::time::Instant::now() + opts.startup_timeout;
    let announced = async {
        let mut lines = BufReader::new(stdout).lines();
        let line = lines.next_line().await.ok().flatten()?;
        // Keep reading (and discarding) so the pipe never fills.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let v: serde_json::Value = serde_json::from_str(&line).ok()?;
        let addr: std::net::SocketAddr = v.get("listening")?.as_str()?.parse().ok()?;
        Some(addr.port())
    };
    let port = match tokio::time::timeout_at(deadline, announced).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            // It exited (or wrote nonsense): give its stderr a moment to arrive.
            let status = tokio::time::timeout(Duration::from_secs(2), server.child.wait()).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let why = server.last_stderr();
            server.stop().await;
            let status = match status {
                Ok(Ok(s)) => s.to_string(),
                _ => "did not announce its port".into(),
            };
            return Err(LocalLlmError::Start(if why.is_empty() {
                status
            } else {
                format!("{status}: {why}")
            }));
        }
        Err(_) => {
            server.stop().await;
            return Err(LocalLlmError::Start(format!(
                "no port announced within {} s",
                opts.startup_timeout.as_secs()
            )));
        }
    };
    server.port = port;
    let health = format!("http://127.0.0.1:{port}/health");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| LocalLlmError::Start(e.to_string()))?;
    loop {
        if let Ok(r) = http.get(&health).send().await {
            if r.status().is_success() {
                return Ok(server);
            }
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(LocalLlmError::Start(format!(
                "exited ({status}) before answering /health: {}",
                server.last_stderr()
            )));
        }
        if tokio::time::Instant::now() >= deadline {
            server.stop().await;
            return Err(LocalLlmError::Start(format!(
                "/health did not answer within {} s",
                opts.startup_timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_server_names_the_build_command() {
        let e = find_server(Some(Path::new("/nonexistent/switchboard-llm"))).expect_err("missing");
        let msg = e.to_string();
        assert!(msg.contains("cargo build -p switchboard-llm"), "{msg}");
        assert!(msg.contains("/nonexistent/switchboard-llm"), "{msg}");
    }

    #[test]
    fn a_missing_model_names_the_fetch_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = model_file(&LocalLlmOptions {
            models_dir: Some(dir.path().to_path_buf()),
            ..LocalLlmOptions::new(SMALL_MODEL)
        })
        .expect_err("missing");
        assert!(
            e.to_string()
                .contains("switchboard models fetch --only smollm2-135m"),
            "{e}"
        );
        let e = model_file(&LocalLlmOptions {
            model_path: Some(dir.path().join("nope.gguf")),
            ..LocalLlmOptions::default()
        })
        .expect_err("no file");
        assert_eq!(e.code(), "llm_model_missing");
        let e = model_file(&LocalLlmOptions::new("no-such-model")).expect_err("unknown");
        assert!(e.to_string().contains("qwen2.5-0.5b"), "{e}");
    }
}
