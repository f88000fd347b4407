//! `switchboard-llm`: a local language model (llama.cpp, CPU) behind the OpenAI Chat
//! Completions API on 127.0.0.1. Switchboard's engine starts it on demand and
//! supervises it; it lives in its own process because llama.cpp and whisper.cpp
//! each bring a copy of ggml, and the two cannot share one binary.
//!
//! Once the model is loaded and the port bound, one JSON line goes to stdout:
//! `{"listening":"127.0.0.1:PORT","model":"…"}` (`--port 0` picks a free port).
//! Logs go to stderr (`SWITCHBOARD_LOG`, default `info,llama-cpp-2=warn`); they carry ids, counts and
//! timings, never prompt or reply text.

mod api;
mod text;
mod worker;

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use clap::Parser;
use tokio::sync::{mpsc, oneshot};

#[derive(Parser, Debug)]
#[command(
    name = "switchboard-llm",
    version,
    about = "Local LLM server (llama.cpp) speaking the OpenAI Chat Completions API"
)]
struct Args {
    /// GGUF model file.
    #[arg(long)]
    model: PathBuf,
    /// Model id reported by /v1/models and in responses (default: the file name).
    #[arg(long)]
    alias: Option<String>,
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// 0: any free port (printed on stdout).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Context size in tokens (prompt + reply).
    #[arg(long, default_value_t = 4096)]
    ctx_size: u32,
    /// Prompt tokens decoded per batch.
    #[arg(long, default_value_t = 512)]
    batch_size: u32,
    /// CPU threads while generating, one token at a time (default: all cores).
    #[arg(long)]
    threads: Option<u16>,
    /// CPU threads while decoding a prompt, many tokens at a time (default: all
    /// cores). The prompt is decoded while the caller waits for the first token,
    /// when the rest of a voice pipeline is idle; generation overlaps with speech
    /// synthesis, so it may be given fewer threads (`--threads`).
    #[arg(long)]
    batch_threads: Option<u16>,
    /// A llama.cpp chat template name (chatml, llama3, …) instead of the model's own.
    #[arg(long)]
    chat_template: Option<String>,
    /// Repetition penalty for requests that set none (`repeat_penalty`); small
    /// models loop without one. 1: off.
    #[arg(long, default_value_t = 1.1)]
    repeat_penalty: f32,
    /// Flash attention: auto, on or off.
    #[arg(long, default_value = "auto", value_parser = ["auto", "on", "off"])]
    flash_attn: String,
    /// Requests that may wait for the model at once; more get HTTP 503.
    #[arg(long, default_value_t = 32)]
    max_queue: u32,
    /// Exit when stdin closes: the parent that started us is gone, even if it was
    /// killed without a chance to stop us.
    #[arg(long)]
    exit_with_stdin: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        .unwrap_or_else(|_| "info,llama-cpp-2=warn,llama_cpp_2=error".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
    // llama.cpp's own log lines go through tracing (target llama-cpp-2), quiet
    // unless asked for; at debug level they may show tokens, so never by default.
    llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("switchboard-llm: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("switchboard-llm: {e}");
            ExitCode::from(1)
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    if !args.model.is_file() {
        return Err(format!("no model file at {}", args.model.display()));
    }
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get() as i32);
    let threads = args.threads.map_or(cores, i32::from);
    let batch_threads = args.batch_threads.map_or(cores, i32::from);
    let model_id = args.alias.clone().unwrap_or_else(|| {
        args.model
            .file_stem()
            .map_or_else(|| "local".into(), |s| s.to_string_lossy().into_owned())
    });
    let stats = Arc::new(Mutex::new(worker::Stats::default()));
    let (jobs_tx, jobs_rx) = mpsc::channel(args.max_queue.max(1) as usize);
    let (ready_tx, ready_rx) = oneshot::channel();
    let opts = worker::WorkerOptions {
        model: args.model.clone(),
        ctx_size: args.ctx_size,
        batch_size: args.batch_size.max(1),
        threads,
        batch_threads,
        chat_template: args.chat_template.clone(),
        flash_attn: match args.flash_attn.as_str() {
            "on" => Some(true),
            "off" => Some(false),
            _ => None,
        },
    };
    let started = std::time::Instant::now();
    worker::spawn(opts, jobs_rx, stats.clone(), ready_tx)
        .map_err(|e| format!("cannot start the model thread: {e}"))?;
    let info = ready_rx
        .await
        .map_err(|_| "the model thread stopped while loading".to_string())??;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "ready");

    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", args.host, args.port))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let state = Arc::new(api::AppState {
        model_id: model_id.clone(),
        info,
        jobs: jobs_tx,
        stats,
        next_id: AtomicU64::new(1),
        max_queue: args.max_queue.max(1),
        defaults: api::Defaults {
            repeat_penalty: args.repeat_penalty,
        },
    });
    {
        let line = serde_json::json!({"listening": addr.to_string(), "model": model_id});
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    tracing::info!(%addr, "listening");
    let stdin_closed = async move {
        if args.exit_with_stdin {
            wait_for_stdin_eof().await;
            tracing::info!("stdin closed: the parent is gone; exiting");
        } else {
            std::future::pending::<()>().await;
        }
    };
    let shutdown = async move {
        tokio::select! {
            () = stdin_closed => {}
            () = terminated() => tracing::info!("signal: exiting"),
        }
    };
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("server error: {e}"))?;
    // Generation in flight is abandoned: the process exits with it.
    Ok(())
}

async fn wait_for_stdin_eof() {
    // A blocking read on its own thread: tokio's stdin is also a thread underneath.
    let (tx, rx) = oneshot::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("stdin-watch".into())
        .spawn(move || {
            let mut buf = [0u8; 256];
            let mut stdin = std::io::stdin().lock();
            loop {
                match std::io::Read::read(&mut stdin, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
            let _ = tx.send(());
        });
    if spawned.is_ok() {
        let _ = rx.await;
    } else {
        std::future::pending::<()>().await;
    }
}

async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
