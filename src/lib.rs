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
pub mod llm;
pub mod metrics;
pub mod persist;
pub mod routing;
pub mod scenario;
pub mod sentiment;
pub mod stt;
pub mod transport;
pub mod tts;
pub mod turn;
