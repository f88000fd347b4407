//! Switchboard engine: a real-time Arabic/English voice agent for call centers.
//!
//! The crate has no GUI dependencies: the desktop shell, the CLI and the tests all
//! drive the same [`hub::LocalHub`] and observe the same [`events::CallEvent`] stream.

pub mod audio;
pub mod bench;
pub mod call;
pub mod config;
pub mod crm;
pub mod events;
pub mod hub;
pub mod lang;
pub mod livekit;
pub mod llm;
pub mod metrics;
pub mod models;
pub mod onnx;
pub mod persist;
pub mod redact;
pub mod replay;
pub mod resilience;
pub mod routing;
pub mod scenario;
pub mod secrets;
pub mod sentiment;
pub mod settings;
pub mod stt;
pub mod transport;
pub mod tts;
pub mod turn;
#[cfg(feature = "whisper")]
pub mod voice_bench;

/// Structured logs on stderr, filtered by `SWITCHBOARD_LOG` (default `warn`). Log
/// lines carry ids, codes and reasons — never customer text, names or numbers.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
        // whisper.cpp's own log lines (e.g. "failed to encode" for a partial that
        // was aborted on purpose) only when asked for: errors reach us as values.
        .unwrap_or_else(|_| "warn,whisper_rs=off".into());
    // A second call (tests, embedding) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
