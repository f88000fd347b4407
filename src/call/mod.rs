//! One live call: an actor (one task, one mailbox) that owns the turn state machine
//! and drives the streaming pipeline
//! transport → turn detection → STT → sentiment → routing → LLM → sentences → TTS → transport.
//!
//! The actor never blocks: recognition, generation and synthesis run in their own
//! tasks and report back through the mailbox, so a frame of customer audio is always
//! handled within its 20 ms budget and barge-in can stop playback on the very frame
//! that detects it.

mod actor;
mod playback;
mod reply;
mod summary;
pub mod tools;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, watch};

use crate::audio::Frame;
use crate::events::{CallEvent, CustomerInfo, Speaker};
use crate::lang::{Lang, LangHint};
use crate::llm::LanguageModel;
use crate::metrics::LatencyHistogram;
use crate::routing::{PersonaId, RoutingPolicy};
use crate::sentiment::SentimentAnalyzer;
use crate::stt::SpeechToText;
use crate::tts::TextToSpeech;
use crate::turn::{SmartTurn, TurnConfig};

pub use actor::spawn_call;

/// Tunables of one call. Defaults work offline and in real time.
#[derive(Debug, Clone)]
pub struct CallConfig {
    /// Language of the call, or `Auto` to follow each utterance.
    pub lang: LangHint,
    /// Language of the greeting when `lang` is `Auto`.
    pub default_lang: Lang,
    pub turn: TurnConfig,
    /// Wall-clock length of one 20 ms frame. 20 ms in real calls; simulations may run
    /// faster (all turn-taking logic counts frames, so behaviour is unchanged).
    pub frame_period: Duration,
    pub routing: RoutingPolicy,
    pub max_reply_tokens: u32,
    pub temperature: f32,
    /// How many past exchanges go into the prompt.
    pub history_turns: usize,
    /// Flush the first clause of a reply to TTS once it is this long.
    pub first_flush_chars: usize,
    /// Speak the reception greeting when the call starts.
    pub greet: bool,
    /// Give up on a TTS sentence after this long.
    pub tts_timeout: Duration,
    /// Records how late each inbound frame was handled (benchmarks).
    pub frame_lag: Option<Arc<LatencyHistogram>>,
    /// Offer the language model the call's tools (open a ticket, look the
    /// customer up, hand the call over): for hosted models that call tools.
    pub tools: bool,
    /// Record the call's audio (off unless the deployment opts in).
    pub recording: Option<crate::replay::recording::RecordingConfig>,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self {
            lang: LangHint::Auto,
            default_lang: Lang::Ar,
            turn: TurnConfig::default(),
            frame_period: Duration::from_millis(20),
            routing: RoutingPolicy::default(),
            max_reply_tokens: 160,
            temperature: 0.4,
            history_turns: 8,
            first_flush_chars: 40,
            greet: true,
            tts_timeout: Duration::from_secs(6),
            frame_lag: None,
            tools: false,
            recording: None,
        }
    }
}

/// The models a call uses. `llm: None` means the template replier answers;
/// `stt: None` means audio cannot be transcribed (text input still works);
/// `tts` is a fallback chain tried in order; `end_of_turn: None` means turns end
/// on silence alone (`TurnConfig::silence_hold_ms`).
#[derive(Clone)]
pub struct Providers {
    pub stt: Option<Arc<dyn SpeechToText>>,
    pub llm: Option<Arc<dyn LanguageModel>>,
    pub tts: Vec<Arc<dyn TextToSpeech>>,
    pub sentiment: Arc<dyn SentimentAnalyzer>,
    /// Semantic end of turn (Smart Turn v3), shared by all calls.
    pub end_of_turn: Option<Arc<SmartTurn>>,
}

/// A frame of customer audio and the moment it was due (captured / scheduled), so
/// the actor can measure how late it handles it.
#[derive(Debug, Clone, Copy)]
pub struct InboundFrame {
    pub frame: Frame,
    pub due: Instant,
}

/// A frame of audio for the customer, tagged with the turn it answers.
#[derive(Debug, Clone, Copy)]
pub struct OutboundFrame {
    pub frame: Frame,
    pub turn: u32,
    pub speaker: Speaker,
}

/// The audio ends of a call, provided by a transport (simulated caller, local sound
/// card, LiveKit room). The transport paces `customer_audio` in real time and drains
/// `agent_audio` to the customer.
pub struct CallIo {
    pub customer_audio: mpsc::Receiver<InboundFrame>,
    /// The supervisor's microphone, forwarded to the customer during a takeover.
    /// A microphone can also be attached later with [`CallCommand::SupervisorAudio`].
    pub supervisor_audio: Option<mpsc::Receiver<InboundFrame>>,
    pub agent_audio: mpsc::Sender<OutboundFrame>,
    /// Short name for events, e.g. "simulated" or "livekit".
    pub transport: String,
    /// The LiveKit room the call takes place in (kept on the call's record).
    pub room: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SupervisorCommand {
    Takeover,
    Handback,
    Pin {
        persona: PersonaId,
    },
    Unpin,
    /// A note for the AI, added to every prompt from now on; the customer never hears it.
    Whisper {
        text: String,
    },
    /// The supervisor speaks (through TTS) while in control; for simulations and for
    /// supervisors typing instead of talking.
    Say {
        text: String,
    },
    End,
}

#[derive(Debug)]
pub enum CallCommand {
    /// A finished customer utterance given as text (`--stt text`, chat-style input).
    CustomerText {
        text: String,
        lang: Option<Lang>,
    },
    Supervisor(SupervisorCommand),
    /// The supervisor's microphone for this call (replaces an earlier one). Its
    /// frames reach the customer only while the supervisor is in control; the AI
    /// never hears them.
    SupervisorAudio(mpsc::Receiver<InboundFrame>),
    /// Sends a copy of the call's audio — the customer and the agent, never the
    /// supervisor's own voice — to a listener such as the supervisor's speakers.
    /// `None` stops listening. Frames are dropped, never waited for, when the
    /// listener falls behind.
    Monitor(Option<mpsc::Sender<MonitorFrame>>),
    /// The customer hung up.
    Hangup,
}

/// One 20 ms frame of a call's audio for a listener, with who is speaking in it.
#[derive(Debug, Clone, Copy)]
pub struct MonitorFrame {
    pub frame: Frame,
    pub speaker: Speaker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    Ai,
    Supervisor,
}

/// A snapshot of a call for supervisors' walls and for simulators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CallStatus {
    pub call_id: String,
    pub customer: CustomerInfo,
    pub controller: Controller,
    pub persona: PersonaId,
    pub pinned: Option<PersonaId>,
    /// Customer turns so far.
    pub turns: u32,
    pub sentiment_trend: f32,
    /// Something is in progress: the customer is speaking, or a reply is being
    /// recognized, generated or played.
    pub busy: bool,
    pub agent_speaking: bool,
    pub ended: bool,
}

/// Everything needed to start a call.
pub struct CallSetup {
    pub call_id: String,
    pub customer: CustomerInfo,
    /// What the CRM knows about the caller (tier, open tickets, last call), written
    /// into the persona's prompt.
    pub customer_context: Option<String>,
    pub config: CallConfig,
    pub providers: Providers,
    pub io: CallIo,
    /// A lossless copy of every event, for the durable record (the CRM writer).
    /// `None`: the call is not recorded.
    pub record: Option<mpsc::UnboundedSender<CallEvent>>,
}

/// A running call: send commands, watch its status.
#[derive(Clone)]
pub struct CallHandle {
    pub call_id: String,
    commands: mpsc::Sender<CallCommand>,
    status: watch::Receiver<CallStatus>,
}

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("call {0} has ended")]
    Ended(String),
}

impl CallHandle {
    pub async fn send(&self, cmd: CallCommand) -> Result<(), CallError> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| CallError::Ended(self.call_id.clone()))
    }

    pub async fn supervisor(&self, cmd: SupervisorCommand) -> Result<(), CallError> {
        self.send(CallCommand::Supervisor(cmd)).await
    }

    pub fn status(&self) -> CallStatus {
        self.status.borrow().clone()
    }

    pub fn watch(&self) -> watch::Receiver<CallStatus> {
        self.status.clone()
    }

    /// Waits until `pred` holds for the status or the call ends, up to `timeout`.
    /// Returns the status it saw last.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&CallStatus) -> bool,
    ) -> Result<CallStatus, CallStatus> {
        let mut rx = self.status.clone();
        let fut = async {
            loop {
                {
                    let s = rx.borrow_and_update();
                    if pred(&s) || s.ended {
                        return s.clone();
                    }
                }
                if rx.changed().await.is_err() {
                    return rx.borrow().clone();
                }
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(s) if pred(&s) => Ok(s),
            Ok(s) => Err(s),
            Err(_) => Err(self.status()),
        }
    }

    /// Waits for the call to end.
    pub async fn ended(&self) {
        let mut rx = self.status.clone();
        while !rx.borrow_and_update().ended {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

pub(crate) type EventTx = broadcast::Sender<CallEvent>;
