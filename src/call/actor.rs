//! The call actor. See the module docs of `call` for the shape; the rules that
//! matter for the customer:
//! - a frame of audio is handled at once (VAD, turn detection, STT push), never
//!   behind a model call;
//! - barge-in stops playback on the frame that detects it and cancels generation and
//!   synthesis in flight; the transcript keeps only the words that were played;
//! - a failing provider produces an `error` event and a fallback, never the end of
//!   the call.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Interval, MissedTickBehavior};

use super::playback::Playback;
use super::reply::{self, ReplyJob, ReplyMsg, ReplySource};
use super::summary::CallRecord;
use super::{
    CallCommand, CallConfig, CallHandle, CallSetup, CallStatus, Controller, EventTx, InboundFrame,
    MonitorFrame, OutboundFrame, Providers, SupervisorCommand,
};
use crate::audio::Frame;
use crate::events::{
    CallEvent, CustomerInfo, EndReason, EventKind, Speaker, Stage, SupervisorAction, TurnMetrics,
};
use crate::lang::Lang;
use crate::llm::{ChatMessage, ChatRequest, LlmError, Role, ToolCall};
use crate::replay::recording::{Channel, Tape};
use crate::routing::{
    classify_intent, persona, Intent, PersonaChange, PersonaId, ReplyContext, Router,
    TemplateReplier,
};
use crate::sentiment::SentimentTrend;
use crate::stt::{SttError, SttResult, SttSession};
use crate::tts::VoiceSpec;
use crate::turn::{EndOfTurnDetector, SemanticMode, TurnEvent};

/// Starts the actor of one call and returns its handle. Events go to `events`.
pub fn spawn_call(setup: CallSetup, events: EventTx) -> CallHandle {
    let CallSetup {
        call_id,
        customer,
        customer_context,
        config,
        providers,
        io,
        record,
    } = setup;
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let router = Router::new(config.routing.clone());
    let status = CallStatus {
        call_id: call_id.clone(),
        customer: customer.clone(),
        controller: Controller::Ai,
        persona: router.current(),
        pinned: None,
        turns: 0,
        sentiment_trend: 0.0,
        // A greeting is about to play: whoever waits for the line to be free must
        // not see it idle before the actor has even started.
        busy: config.greet,
        agent_speaking: false,
        ended: false,
    };
    let (status_tx, status_rx) = watch::channel(status);
    let (reply_tx, reply_rx) = mpsc::channel(256);
    let (stt_tx, stt_rx) = mpsc::channel(8);
    let (summary_tx, summary_rx) = mpsc::channel(1);
    let lang = config.lang.fixed().unwrap_or(config.default_lang);
    let (tape, tape_error) = match &config.recording {
        Some(rc) => match Tape::start(rc, &call_id) {
            Ok(t) => (Some(t), None),
            Err(e) => (None, Some(e)),
        },
        None => (None, None),
    };
    let started = Instant::now();
    let actor = Actor {
        call_id: call_id.clone(),
        started,
        clock: AudioClock::new(started),
        tape,
        tape_error,
        blanks: Vec::new(),
        utterance_start: None,
        detector: match &providers.end_of_turn {
            Some(model) => EndOfTurnDetector::new(config.turn.clone())
                .with_semantic(model.clone(), SemanticMode::Background),
            None => EndOfTurnDetector::new(config.turn.clone()),
        },
        customer,
        router,
        trend: SentimentTrend::default(),
        history: Vec::new(),
        notes: Vec::new(),
        controller: Controller::Ai,
        turns: 0,
        lang,
        stt_session: None,
        speech_active: false,
        utterance_seq: 0,
        stt_pending: 0,
        reply_seq: 0,
        reply: None,
        deferred: None,
        playback: Playback::new(),
        playing: false,
        start_ticks: false,
        transport: io.transport.clone(),
        room: io.room.clone(),
        out: io.agent_audio,
        events,
        status: status_tx,
        reply_tx,
        stt_tx,
        record: CallRecord::default(),
        recorder: record,
        customer_context,
        ticket: None,
        pending_ticket_note: None,
        turn_intent: Intent::Other,
        pending_handoff: None,
        ending: None,
        monitor: None,
        summary_tx,
        started_at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        replier: TemplateReplier,
        providers,
        config,
        ended: false,
    };
    tokio::spawn(actor.run(
        cmd_rx,
        io.customer_audio,
        io.supervisor_audio,
        reply_rx,
        stt_rx,
        summary_rx,
    ));
    CallHandle {
        call_id,
        commands: cmd_tx,
        status: status_rx,
    }
}

/// Timestamps of one turn, turned into `turn_metrics` when the first frame is out.
#[derive(Debug, Clone, Copy)]
struct TurnTiming {
    turn: u32,
    eou_ms: f64,
    eou_at: Instant,
    stt_at: Instant,
    first_token_at: Option<Instant>,
    first_sentence_at: Option<Instant>,
    first_audio_at: Option<Instant>,
    /// The recognizer that heard the customer (None: text input).
    stt_provider: Option<&'static str>,
    /// Where the customer's words are in the call's audio (None: text input).
    audio: Option<(u64, u64)>,
}

impl TurnTiming {
    /// The turn's latency figures; `first_frame` is when its first frame went out
    /// (None when nothing was played: a supervisor turn, or every TTS failed).
    fn metrics(&self, first_frame: Option<Instant>) -> TurnMetrics {
        let total = first_frame.map(|f| ms(f.saturating_duration_since(self.eou_at)));
        TurnMetrics {
            turn: self.turn,
            eou_ms: self.eou_ms,
            stt_ms: ms(self.stt_at.saturating_duration_since(self.eou_at)),
            llm_first_token_ms: self
                .first_token_at
                .map(|a| ms(a.saturating_duration_since(self.stt_at))),
            tts_first_audio_ms: match (first_frame, self.first_sentence_at, self.first_audio_at) {
                (Some(_), Some(s), Some(a)) => Some(ms(a.saturating_duration_since(s))),
                _ => None,
            },
            total_ms: total,
            response_ms: total.map(|t| self.eou_ms + t),
            tts_provider: None,
            stt_provider: self.stt_provider.map(str::to_string),
        }
    }
}

struct ActiveReply {
    seq: u64,
    turn: u32,
    speaker: Speaker,
    persona: PersonaId,
    lang: Lang,
    task: JoinHandle<()>,
    timing: Option<TurnTiming>,
    /// All text and audio have arrived; playback finishes the utterance.
    done: bool,
    started_playing: bool,
    /// The voice that spoke the first sentence.
    first_voice: Option<String>,
    /// Where the utterance is in the call's audio: its first audible frame (the
    /// first frame if none is), and the end of the last frame.
    audio_start: Option<u64>,
    audio_first: Option<u64>,
    audio_end: u64,
}

struct SttDone {
    seq: u64,
    audio: Option<(u64, u64)>,
    result: Result<SttResult, SttError>,
    eou_ms: f64,
    eou_at: Instant,
}

struct Actor {
    call_id: String,
    /// The call's audio timeline (recording and line times).
    clock: AudioClock,
    /// The call's recorder, when the deployment records calls.
    tape: Option<Tape>,
    /// Why recording could not start (reported once the call has started).
    tape_error: Option<crate::replay::recording::RecordingError>,
    /// Spans of the recording to blank (card numbers and IBANs said), in ms.
    blanks: Vec<(u64, u64)>,
    /// Where the customer's current utterance began in the call's audio.
    utterance_start: Option<u64>,
    /// Where a copy of the call's audio goes (the supervisor listening in).
    monitor: Option<mpsc::Sender<MonitorFrame>>,
    started: Instant,
    detector: EndOfTurnDetector,
    customer: CustomerInfo,
    router: Router,
    trend: SentimentTrend,
    history: Vec<ChatMessage>,
    notes: Vec<String>,
    controller: Controller,
    turns: u32,
    lang: Lang,
    stt_session: Option<Box<dyn SttSession>>,
    speech_active: bool,
    utterance_seq: u64,
    /// Utterances handed to STT whose result has not come back.
    stt_pending: u32,
    reply_seq: u64,
    reply: Option<ActiveReply>,
    /// A turn whose reply waits because the customer started speaking again.
    deferred: Option<(u32, Intent, TurnTiming, Option<String>)>,
    playback: Playback,
    /// The playback clock is running.
    playing: bool,
    /// Ask the run loop to (re)start the playback clock from now.
    start_ticks: bool,
    transport: String,
    room: Option<String>,
    out: mpsc::Sender<OutboundFrame>,
    events: EventTx,
    status: watch::Sender<CallStatus>,
    reply_tx: mpsc::Sender<ReplyMsg>,
    stt_tx: mpsc::Sender<SttDone>,
    record: CallRecord,
    /// Lossless event copy for the CRM writer.
    recorder: Option<mpsc::UnboundedSender<CallEvent>>,
    customer_context: Option<String>,
    /// Short number of the ticket opened on this call, if any.
    ticket: Option<String>,
    /// Tells the next reply that a ticket was opened.
    pending_ticket_note: Option<String>,
    /// The intent of the turn being answered (for a tool round's template).
    turn_intent: Intent,
    /// The turn a `transfer_to` handed over: the new persona answers it once
    /// the current reply has played.
    pending_handoff: Option<u32>,
    started_at_ms: u64,
    /// The call is over for the customer; its summary is being written.
    ending: Option<EndReason>,
    summary_tx: mpsc::Sender<Result<String, LlmError>>,
    replier: TemplateReplier,
    providers: Providers,
    config: CallConfig,
    ended: bool,
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Actor {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<CallCommand>,
        mut customer_audio: mpsc::Receiver<InboundFrame>,
        supervisor_audio: Option<mpsc::Receiver<InboundFrame>>,
        mut reply_rx: mpsc::Receiver<ReplyMsg>,
        mut stt_rx: mpsc::Receiver<SttDone>,
        mut summary_rx: mpsc::Receiver<Result<String, LlmError>>,
    ) {
        let mut interval: Option<Interval> = None;
        let mut audio_open = true;
        let mut commands_open = true;
        let mut sup_audio = supervisor_audio;
        self.start();
        while !self.ended {
            tokio::select! {
                biased;
                cmd = commands.recv(), if commands_open => match cmd {
                    Some(CallCommand::SupervisorAudio(rx)) => sup_audio = Some(rx),
                    Some(cmd) if self.ending.is_none() => self.on_command(cmd),
                    Some(_) => {}
                    None => {
                        commands_open = false;
                        self.end(EndReason::Shutdown);
                    }
                },
                s = summary_rx.recv() => {
                    if let Some(s) = s {
                        self.on_summary(s);
                    }
                }
                m = reply_rx.recv() => {
                    if let Some(m) = m {
                        self.on_reply(m);
                    }
                }
                d = stt_rx.recv() => {
                    if let Some(d) = d {
                        self.on_stt_done(d);
                    }
                }
                _ = tick(&mut interval) => self.on_tick(),
                f = customer_audio.recv(), if audio_open => match f {
                    Some(f) => self.on_customer_frame(f),
                    None => {
                        audio_open = false;
                        self.end(EndReason::TransportClosed);
                    }
                },
                f = async { match sup_audio.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => match f {
                    Some(f) => self.on_supervisor_frame(f),
                    None => sup_audio = None,
                },
            }
            if self.start_ticks {
                self.start_ticks = false;
                let period = self.config.frame_period;
                let mut i = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                i.set_missed_tick_behavior(MissedTickBehavior::Burst);
                interval = Some(i);
            }
            if !self.playing {
                interval = None;
            }
            self.publish_status();
        }
        if let Some(r) = self.reply.take() {
            r.task.abort();
        }
    }

    fn emit(&self, kind: EventKind) {
        // Operational log lines carry ids, codes and reasons — never customer text,
        // names or numbers.
        match &kind {
            EventKind::CallStarted { transport, .. } => {
                tracing::info!(call_id = %self.call_id, %transport, "call started")
            }
            EventKind::Error {
                stage,
                code,
                fallback,
                ..
            } => {
                tracing::warn!(call_id = %self.call_id, ?stage, %code, fallback = ?fallback, "provider error")
            }
            EventKind::PersonaChanged {
                from, to, reason, ..
            } => {
                tracing::info!(call_id = %self.call_id, from = from.as_str(), to = to.as_str(), reason = reason.as_str(), "persona changed")
            }
            EventKind::CallEnded {
                reason,
                turns,
                duration_ms,
                ..
            } => {
                tracing::info!(call_id = %self.call_id, ?reason, turns, duration_ms, "call ended")
            }
            _ => {}
        }
        send_event(
            &self.events,
            self.recorder.as_ref(),
            &self.call_id,
            self.started,
            kind,
        );
    }

    /// A final line of the call: emitted, and its card numbers marked for blanking
    /// in the recording.
    #[allow(clippy::too_many_arguments)]
    fn emit_line(
        &mut self,
        speaker: Speaker,
        text: String,
        lang: Lang,
        turn: u32,
        persona: Option<PersonaId>,
        interrupted: bool,
        audio: Option<(u64, u64)>,
    ) {
        if let (Some((a, z)), Some(_)) = (audio, &self.tape) {
            if self
                .config
                .recording
                .as_ref()
                .is_some_and(|r| r.redact_audio)
            {
                self.blanks.extend(crate::replay::blank_spans(&text, a, z));
            }
        }
        self.emit(EventKind::Transcript {
            speaker,
            text,
            lang,
            is_final: true,
            turn,
            persona,
            interrupted,
            audio_start_ms: audio.map(|(a, _)| a),
            audio_end_ms: audio.map(|(_, z)| z),
        });
    }

    fn publish_status(&self) {
        let busy = self.speech_active
            || self.stt_pending > 0
            || self.reply.is_some()
            || self.deferred.is_some()
            || self.playback.active;
        let speaking = self.agent_speaking();
        let controller = self.controller;
        let persona = self.router.current();
        let pinned = self.router.pinned();
        let turns = self.turns;
        let trend = self.trend.value();
        let ended = self.ended;
        self.status.send_if_modified(|s| {
            let changed = s.busy != busy
                || s.agent_speaking != speaking
                || s.controller != controller
                || s.persona != persona
                || s.pinned != pinned
                || s.turns != turns
                || s.sentiment_trend != trend
                || s.ended != ended;
            if changed {
                s.busy = busy;
                s.agent_speaking = speaking;
                s.controller = controller;
                s.persona = persona;
                s.pinned = pinned;
                s.turns = turns;
                s.sentiment_trend = trend;
                s.ended = ended;
            }
            changed
        });
    }

    fn agent_speaking(&self) -> bool {
        self.reply
            .as_ref()
            .is_some_and(|r| r.started_playing && r.speaker == Speaker::Agent)
    }

    fn start(&mut self) {
        self.emit(EventKind::CallStarted {
            customer: self.customer.clone(),
            lang: self.config.lang,
            persona: self.router.current(),
            transport: self.transport.clone(),
            started_at_ms: self.started_at_ms,
            room: self.room.clone(),
        });
        if let Some(e) = self.tape_error.take() {
            self.emit(EventKind::Error {
                turn: None,
                stage: Stage::Audio,
                code: e.code().into(),
                message: format!("this call is not recorded: {e}"),
                fallback: None,
            });
        }
        self.record.customer_name = self.customer.name.clone();
        self.record.personas.push(self.router.current());
        if self.config.greet {
            let p = persona(self.router.current());
            let text = p.greeting(self.lang, self.customer.name.as_deref());
            let voice = p.voice(self.lang);
            // The persona prompt is decoded while the greeting plays, not after it,
            // when the customer's first words are being recognized.
            if let Some(llm) = &self.providers.llm {
                let mut request = self.build_request(self.router.current(), self.lang, None, false);
                request.messages.push(ChatMessage::assistant(text.clone()));
                llm.prefill(request);
            }
            self.start_reply(
                0,
                Speaker::Agent,
                None,
                ReplySource::Fixed {
                    text,
                    provider: "greeting",
                    fallback: false,
                },
                voice,
                None,
            );
        }
    }

    // ---- customer audio ------------------------------------------------------------

    fn on_customer_frame(&mut self, f: InboundFrame) {
        if let Some(h) = &self.config.frame_lag {
            h.record(f.due.elapsed());
        }
        Self::tap(&mut self.monitor, f.frame, Speaker::Customer);
        let at = self.clock.customer();
        if let Some(t) = &self.tape {
            t.put(Channel::Customer, at, &f.frame);
        }
        if self.ending.is_some() {
            return;
        }
        let speaking = self.agent_speaking() && self.controller == Controller::Ai;
        let event = self.detector.push(&f.frame, speaking);
        let mut opened_now = false;
        match event {
            Some(TurnEvent::SpeechStarted) => {
                opened_now = self.begin_utterance();
            }
            Some(TurnEvent::BargeIn) => {
                self.interrupt_agent(true);
                if self.stt_session.is_none() && !self.speech_active {
                    opened_now = self.begin_utterance();
                }
            }
            Some(TurnEvent::EndOfTurn {
                trailing_silence_ms,
                ..
            }) => {
                self.push_stt(&f.frame);
                self.end_utterance(trailing_silence_ms as f64);
                return;
            }
            None => {}
        }
        if !opened_now {
            self.push_stt(&f.frame);
        }
    }

    fn push_stt(&mut self, frame: &Frame) {
        let Some(session) = self.stt_session.as_mut() else {
            return;
        };
        if let Some(partial) = session.push(frame) {
            self.emit(EventKind::Transcript {
                speaker: Speaker::Customer,
                text: partial,
                lang: self.lang,
                is_final: false,
                turn: self.turns + 1,
                persona: None,
                interrupted: false,
                audio_start_ms: None,
                audio_end_ms: None,
            });
        }
    }

    /// Speech began. Returns true if the current frame was already given to STT.
    fn begin_utterance(&mut self) -> bool {
        if self.speech_active {
            return false;
        }
        self.speech_active = true;
        self.utterance_start = self
            .detector
            .speech_onset_ms()
            .map(|o| self.clock.customer_at(o));
        // The customer kept talking after we thought the turn was over: the reply we
        // were preparing is premature. Nothing was heard yet, so drop it quietly.
        if let Some(r) = &self.reply {
            if !r.started_playing && r.speaker == Speaker::Agent && r.turn > 0 {
                let turn = r.turn;
                let timing = r.timing;
                self.cancel_reply();
                if let Some(t) = timing {
                    let intent = self.record.intents.last().copied().unwrap_or(Intent::Other);
                    self.deferred = Some((turn, intent, t, None));
                }
            }
        }
        let Some(stt) = self.providers.stt.clone() else {
            return false;
        };
        let mut session = stt.start(self.config.lang);
        let pre: Vec<Frame> = self.detector.pre_roll().copied().collect();
        for f in &pre {
            let _ = session.push(f);
        }
        self.stt_session = Some(session);
        true
    }

    fn end_utterance(&mut self, trailing_silence_ms: f64) {
        self.speech_active = false;
        self.utterance_seq += 1;
        let seq = self.utterance_seq;
        let eou_at = Instant::now();
        let end = self
            .clock
            .customer_at(self.detector.elapsed_ms())
            .saturating_sub(trailing_silence_ms as u64);
        let audio = self.utterance_start.take().map(|s| (s, end.max(s)));
        match self.stt_session.take() {
            Some(session) => {
                self.stt_pending += 1;
                let tx = self.stt_tx.clone();
                tokio::spawn(async move {
                    let result =
                        match tokio::time::timeout(Duration::from_secs(15), session.finish()).await
                        {
                            Ok(r) => r,
                            Err(_) => Err(SttError::Timeout { ms: 15_000 }),
                        };
                    let _ = tx
                        .send(SttDone {
                            seq,
                            audio,
                            result,
                            eou_ms: trailing_silence_ms,
                            eou_at,
                        })
                        .await;
                });
            }
            None => {
                let err = SttError::Unavailable(
                    "no speech recognizer is configured for audio (use text input, or install the local models)"
                        .into(),
                );
                self.on_stt_failure(&err);
            }
        }
    }

    fn on_stt_done(&mut self, d: SttDone) {
        self.stt_pending = self.stt_pending.saturating_sub(1);
        let _ = d.seq;
        match d.result {
            Ok(r) => {
                // Recognizers of the chain that failed on this utterance, each
                // with the one that took over.
                let served = r
                    .provider
                    .clone()
                    .or_else(|| self.providers.stt.as_ref().map(|s| s.name().to_string()));
                for (i, f) in r.failures.iter().enumerate() {
                    let next = r
                        .failures
                        .get(i + 1)
                        .map(|n| n.provider.clone())
                        .or_else(|| served.clone());
                    self.record.errors += 1;
                    self.emit(EventKind::Error {
                        turn: Some(self.turns + 1),
                        stage: Stage::Stt,
                        code: f.code.clone(),
                        message: f.message.clone(),
                        fallback: next,
                    });
                }
                let timing = TurnTiming {
                    turn: 0,
                    eou_ms: d.eou_ms,
                    eou_at: d.eou_at,
                    stt_at: Instant::now(),
                    first_token_at: None,
                    first_sentence_at: None,
                    first_audio_at: None,
                    stt_provider: served.as_deref().map(intern),
                    audio: d.audio,
                };
                self.on_customer_utterance(r.text, Some(r.lang), timing);
            }
            Err(e) => self.on_stt_failure(&e),
        }
    }

    /// Recognition failed: say so, and ask the customer to repeat rather than guess.
    fn on_stt_failure(&mut self, e: &SttError) {
        self.record.errors += 1;
        self.emit(EventKind::Error {
            turn: Some(self.turns + 1),
            stage: Stage::Stt,
            code: e.code().into(),
            message: e.to_string(),
            fallback: Some("template".into()),
        });
        if self.controller == Controller::Supervisor || self.speech_active {
            return;
        }
        // The failed utterance followed a turn whose reply was held back: answer that.
        if let Some((turn, intent, timing, prefix)) = self.deferred.take() {
            self.reply_to_turn(turn, intent, Some(timing), prefix);
            return;
        }
        let id = self.router.current();
        let text = self.replier.reply(&ReplyContext {
            persona: id,
            intent: Intent::Unclear,
            lang: self.lang,
            customer_name: self.customer.name.as_deref(),
            turn: self.turns,
            customer_text: "",
        });
        let voice = persona(id).voice(self.lang);
        self.start_reply(
            self.turns,
            Speaker::Agent,
            None,
            ReplySource::Fixed {
                text,
                provider: "template",
                fallback: true,
            },
            voice,
            None,
        );
    }

    // ---- one customer turn ------------------------------------------------------

    fn on_customer_utterance(&mut self, text: String, lang: Option<Lang>, mut timing: TurnTiming) {
        let text = text.trim().to_string();
        if text.is_empty() {
            // Noise, a cough, a click: not a turn. A reply held back for it goes now.
            if !self.speech_active {
                if let Some((turn, intent, timing, prefix)) = self.deferred.take() {
                    self.reply_to_turn(turn, intent, Some(timing), prefix);
                }
            }
            return;
        }
        self.turns += 1;
        let turn = self.turns;
        timing.turn = turn;
        let lang = match self.config.lang.fixed() {
            Some(l) => l,
            None => lang.unwrap_or_else(|| crate::lang::detect(&text, self.lang)),
        };
        self.lang = lang;
        self.emit_line(
            Speaker::Customer,
            text.clone(),
            lang,
            turn,
            None,
            false,
            timing.audio,
        );
        let sentiment = self.providers.sentiment.analyze(&text, lang);
        let trend = self.trend.push(sentiment.score);
        self.record.scores.push(sentiment.score);
        self.emit(EventKind::Sentiment {
            turn,
            score: sentiment.score,
            label: sentiment.label,
            trend,
        });
        let intent = classify_intent(&text, lang);
        self.record.intents.push(intent);
        if self.record.first_customer_text.is_none() {
            self.record.first_customer_text = Some(text.clone());
        }
        self.record.last_customer_text = Some(text.clone());
        let mut prefix = None;
        if let Some(change) = self.router.observe(turn, intent, sentiment.score, trend) {
            prefix = Some(persona(change.to).handoff_line(lang));
            self.on_persona_change(change, turn);
        }
        if self.controller == Controller::Ai {
            self.maybe_open_ticket(turn, intent, sentiment.score, &text, lang);
        }
        self.history.push(ChatMessage::user(text));
        // A reply held back for an earlier turn is folded into this one.
        let carried = self.deferred.take();
        if prefix.is_none() {
            prefix = carried.and_then(|(_, _, _, p)| p);
        }
        if self.controller == Controller::Supervisor {
            self.emit(EventKind::TurnMetrics(timing.metrics(None)));
            return;
        }
        if self.speech_active {
            self.deferred = Some((turn, intent, timing, prefix));
            return;
        }
        self.reply_to_turn(turn, intent, Some(timing), prefix);
    }

    /// Support opens one ticket per call for a reported issue, so nothing the
    /// customer raised is lost after the call; the reply tells them it is tracked.
    /// With tools, the model opens tickets itself (`create_ticket`).
    fn maybe_open_ticket(&mut self, turn: u32, intent: Intent, score: f32, text: &str, lang: Lang) {
        if self.ticket.is_some() || self.router.current() != PersonaId::Support || self.config.tools
        {
            return;
        }
        let department = match intent {
            Intent::Problem | Intent::Complaint | Intent::Manager => "support",
            Intent::Billing => "billing",
            Intent::Cancel => "retention",
            _ => return,
        };
        let priority = if score <= -0.5 || matches!(intent, Intent::Manager | Intent::Complaint) {
            "high"
        } else {
            "normal"
        };
        let ticket_id = uuid::Uuid::new_v4().to_string();
        let subject: String = text.chars().take(80).collect();
        self.ticket = Some(ticket_id.clone());
        self.pending_ticket_note = Some(match lang {
            Lang::Ar => "وفتحت لك تذكرة حتى نتابع الموضوع لآخره.".to_string(),
            Lang::En => {
                "I've also opened a ticket so this is tracked until it's solved.".to_string()
            }
        });
        self.emit(EventKind::Ticket {
            turn,
            ticket_id,
            subject,
            department: department.to_string(),
            priority: priority.to_string(),
        });
    }

    fn on_persona_change(&mut self, change: PersonaChange, turn: u32) {
        self.record.personas.push(change.to);
        self.emit(EventKind::PersonaChanged {
            from: change.from,
            to: change.to,
            reason: change.reason,
            turn,
            why: change.why,
            cause: Some(change.cause),
        });
    }

    fn reply_to_turn(
        &mut self,
        turn: u32,
        intent: Intent,
        timing: Option<TurnTiming>,
        prefix: Option<String>,
    ) {
        self.turn_intent = intent;
        self.pending_handoff = None;
        let id = self.router.current();
        let p = persona(id);
        let lang = self.lang;
        let customer_text = self.record.last_customer_text.clone().unwrap_or_default();
        let mut fallback = self.replier.reply(&ReplyContext {
            persona: id,
            intent,
            lang,
            customer_name: self.customer.name.as_deref(),
            turn,
            customer_text: &customer_text,
        });
        let ticket_note = self.pending_ticket_note.take();
        if let Some(note) = &ticket_note {
            fallback.push(' ');
            fallback.push_str(note);
        }
        let source = match self.providers.llm.clone() {
            Some(llm) => ReplySource::Llm {
                llm,
                request: self.build_request(id, lang, prefix.as_deref(), ticket_note.is_some()),
                fallback,
            },
            None => ReplySource::Fixed {
                text: fallback,
                provider: "template",
                fallback: false,
            },
        };
        self.start_reply(turn, Speaker::Agent, prefix, source, p.voice(lang), timing);
    }

    /// Carries out the model's tool calls, their arguments checked first; the
    /// results go back to the model. A handoff ends the reply: the new persona
    /// answers the turn once it has played.
    fn on_tool_calls(&mut self, calls: Vec<ToolCall>) -> super::reply::ToolOutcome {
        use super::tools::{parse, Action};
        let turn = self.reply.as_ref().map(|r| r.turn).unwrap_or(self.turns);
        let mut results = Vec::new();
        let mut handed_over = false;
        for c in &calls {
            let action = parse(&c.name, &c.arguments);
            tracing::info!(call_id = %self.call_id, tool = %c.name.chars().take(40).collect::<String>(), ok = action.is_ok(), "tool call");
            let result = match action {
                Err(e) => serde_json::json!({ "error": e }),
                Ok(Action::CreateTicket {
                    subject,
                    department,
                    priority,
                }) => match &self.ticket {
                    Some(id) => serde_json::json!({ "ticket_id": id, "already_open": true }),
                    None => {
                        let ticket_id = uuid::Uuid::new_v4().to_string();
                        self.ticket = Some(ticket_id.clone());
                        self.emit(EventKind::Ticket {
                            turn,
                            ticket_id: ticket_id.clone(),
                            subject,
                            department,
                            priority,
                        });
                        serde_json::json!({ "ticket_id": ticket_id, "created": true })
                    }
                },
                Ok(Action::LookupCustomer) => serde_json::json!({
                    "name": self.customer.name,
                    "phone": self.customer.phone,
                    "records": self.customer_context.as_deref().unwrap_or("no records for this caller"),
                }),
                Ok(Action::Transfer { to, reason: _ }) => match self.router.handoff(to) {
                    Some(change) => {
                        self.on_persona_change(change, turn);
                        self.pending_handoff = Some(turn);
                        handed_over = true;
                        serde_json::json!({ "transferred_to": to.as_str() })
                    }
                    None => serde_json::json!({
                        "transferred_to": null,
                        "why": "the call stays where it is (already there, or a supervisor decided)"
                    }),
                },
                Ok(Action::Human { reason }) => {
                    self.emit(EventKind::HumanRequested { turn, reason });
                    serde_json::json!({
                        "supervisors_alerted": true,
                        "say": "a colleague will join shortly; keep helping meanwhile"
                    })
                }
            };
            results.push((c.id.clone(), result.to_string()));
        }
        super::reply::ToolOutcome {
            results,
            go_on: !handed_over && self.controller == Controller::Ai,
        }
    }

    fn build_request(
        &self,
        id: PersonaId,
        lang: Lang,
        prefix: Option<&str>,
        ticket_opened: bool,
    ) -> ChatRequest {
        let p = persona(id);
        let mut system = p.system_prompt(lang);
        system.push_str("\n\n");
        let c = &self.customer;
        if let Some(name) = &c.name {
            system.push_str(&format!("Customer name: {name}.\n"));
        }
        if let Some(ctx) = &self.customer_context {
            system.push_str(
                "What our records say about this customer (use it, never read it out):\n",
            );
            system.push_str(ctx);
            system.push('\n');
        }
        system.push_str(match lang {
            Lang::Ar => "The customer is speaking Arabic: answer in Arabic.\n",
            Lang::En => "The customer is speaking English: answer in English.\n",
        });
        if !self.notes.is_empty() {
            system.push_str("Notes from your supervisor (follow them; never read them out):\n");
            for n in &self.notes {
                system.push_str(&format!("- {n}\n"));
            }
        }
        // What holds for this reply only goes after the history, so the system
        // prompt and history stay the same from turn to turn: a local model reuses
        // their KV cache and decodes only the new turn (docs/models.md).
        let mut once = String::new();
        if ticket_opened {
            once.push_str("You have just opened a ticket for this issue: tell the customer in one short sentence that it is being tracked.\n");
        }
        if let Some(prefix) = prefix {
            once.push_str(&format!(
                "You have just taken over this call and already said: \"{prefix}\". Do not introduce yourself again.\n"
            ));
        }
        let mut messages = vec![ChatMessage::system(system)];
        // The oldest messages are dropped half a window at a time, not one per
        // turn: between two drops every request extends the previous one, so a
        // local model reuses its cache (a sliding window would change the start
        // of the prompt on every turn once the call is long).
        let keep = self.config.history_turns * 2;
        let step = (keep / 2).max(2);
        let start = self.history.len().saturating_sub(keep).div_ceil(step) * step;
        messages.extend(self.history[start..].iter().cloned());
        if !once.is_empty() {
            messages.push(ChatMessage::system(once));
        }
        ChatRequest {
            messages,
            max_tokens: self.config.max_reply_tokens,
            temperature: self.config.temperature,
            tools: if self.config.tools {
                super::tools::all()
            } else {
                Vec::new()
            },
        }
    }

    // ---- replies and playback -------------------------------------------------------

    fn start_reply(
        &mut self,
        turn: u32,
        speaker: Speaker,
        prefix: Option<String>,
        source: ReplySource,
        voice: VoiceSpec,
        timing: Option<TurnTiming>,
    ) {
        self.cancel_reply();
        self.reply_seq += 1;
        let seq = self.reply_seq;
        let job = ReplyJob {
            seq,
            prefix,
            source,
            voice,
            tts: self.providers.tts.clone(),
            first_flush_chars: self.config.first_flush_chars,
            tts_timeout: self.config.tts_timeout,
        };
        let task = tokio::spawn(reply::run(job, self.reply_tx.clone()));
        self.playback.begin(turn, speaker);
        self.reply = Some(ActiveReply {
            seq,
            turn,
            speaker,
            persona: self.router.current(),
            lang: self.lang,
            task,
            timing,
            done: false,
            started_playing: false,
            first_voice: None,
            audio_start: None,
            audio_first: None,
            audio_end: 0,
        });
    }

    fn cancel_reply(&mut self) {
        if let Some(r) = self.reply.take() {
            r.task.abort();
        }
        self.playback.clear();
        self.playing = false;
    }

    /// Stops the agent mid-utterance. With `barge_in`, the customer cut in: record
    /// what they heard. Returns true if an utterance was playing.
    fn interrupt_agent(&mut self, barge_in: bool) -> bool {
        let Some(r) = &self.reply else { return false };
        if !r.started_playing {
            return false;
        }
        let (turn, speaker, persona_id, lang) = (r.turn, r.speaker, r.persona, r.lang);
        let audio = r.audio_start.or(r.audio_first).map(|a| (a, r.audio_end));
        let (heard, dropped) = self.playback.heard_and_dropped();
        self.cancel_reply();
        if barge_in {
            self.emit(EventKind::BargeIn {
                turn,
                heard: heard.clone(),
                dropped,
            });
        }
        self.emit_line(
            speaker,
            heard.clone(),
            lang,
            turn,
            (speaker == Speaker::Agent).then_some(persona_id),
            true,
            audio,
        );
        if !heard.is_empty() {
            self.history
                .push(ChatMessage::assistant(format!("{heard}…")));
        }
        true
    }

    fn on_reply(&mut self, m: ReplyMsg) {
        let Some(r) = self.reply.as_mut() else { return };
        if m.seq() != r.seq {
            return;
        }
        match m {
            ReplyMsg::FirstToken { at, .. } => {
                if let Some(t) = r.timing.as_mut() {
                    t.first_token_at.get_or_insert(at);
                }
            }
            ReplyMsg::Sentence { idx, text, at, .. } => {
                if let Some(t) = r.timing.as_mut() {
                    t.first_sentence_at.get_or_insert(at);
                }
                self.playback.add_sentence(idx, &text);
            }
            ReplyMsg::Audio {
                idx, samples, at, ..
            } => {
                if let Some(t) = r.timing.as_mut() {
                    t.first_audio_at.get_or_insert(at);
                }
                self.playback.push_audio(idx, &samples);
                self.kick_playback();
            }
            ReplyMsg::SentenceDone { idx, .. } => {
                self.playback.end_sentence(idx);
                self.kick_playback();
            }
            ReplyMsg::Voiced { provider, .. } => {
                r.first_voice.get_or_insert(provider);
            }
            ReplyMsg::ToolCalls { calls, answer, .. } => {
                let outcome = self.on_tool_calls(calls);
                let _ = answer.send(outcome);
            }
            ReplyMsg::Problem {
                stage,
                code,
                message,
                fallback,
                ..
            } => {
                let turn = r.turn;
                self.record.errors += 1;
                self.emit(EventKind::Error {
                    turn: Some(turn),
                    stage,
                    code,
                    message,
                    fallback,
                });
            }
            ReplyMsg::Done {
                text,
                provider,
                fallback,
                ..
            } => {
                r.done = true;
                let (turn, speaker, persona_id, lang) = (r.turn, r.speaker, r.persona, r.lang);
                // A reply that only called tools (a handoff) said nothing.
                if speaker == Speaker::Agent && !text.is_empty() {
                    self.emit(EventKind::AgentReply {
                        turn,
                        persona: persona_id,
                        lang,
                        text,
                        provider,
                        fallback,
                    });
                }
                if !self.playing && !self.playback.has_frames() {
                    self.finish_utterance();
                }
            }
        }
    }

    /// Audio arrived: if the clock is stopped, play a frame now and restart it, so
    /// the first frame of a reply goes out the moment it exists.
    fn kick_playback(&mut self) {
        if !self.playing && self.playback.has_frames() {
            self.playing = true;
            self.start_ticks = true;
            self.play_frame();
        }
    }

    fn on_tick(&mut self) {
        if self.playback.has_frames() {
            self.play_frame();
            return;
        }
        // Out of audio: either the utterance is over or synthesis is behind.
        self.playing = false;
        if self.reply.as_ref().is_some_and(|r| r.done) {
            self.finish_utterance();
        }
    }

    fn play_frame(&mut self) {
        if self.out.capacity() == 0 {
            // The transport is behind; keep the frame for the next tick.
            return;
        }
        let Some(played) = self.playback.next_frame() else {
            return;
        };
        let Some(r) = self.reply.as_mut() else { return };
        let frame = OutboundFrame {
            frame: played.frame,
            turn: r.turn,
            speaker: r.speaker,
        };
        if self.out.try_send(frame).is_err() {
            return;
        }
        if frame.speaker != Speaker::Supervisor {
            Self::tap(&mut self.monitor, frame.frame, frame.speaker);
        }
        let at = self.clock.heard();
        if let Some(t) = &self.tape {
            t.put(Channel::Heard, at, &frame.frame);
        }
        r.audio_first.get_or_insert(at);
        // A voice's leading silence is not the line: it starts where it is heard.
        if r.audio_start.is_none() && audible(&frame.frame) {
            r.audio_start = Some(at);
        }
        r.audio_end = at + u64::from(crate::audio::FRAME_MS);
        let first = !r.started_playing;
        r.started_playing = true;
        let (turn, speaker, persona_id, lang) = (r.turn, r.speaker, r.persona, r.lang);
        if first {
            if let Some(t) = r.timing.take() {
                let mut m = t.metrics(Some(Instant::now()));
                m.tts_provider = r.first_voice.clone();
                self.emit(EventKind::TurnMetrics(m));
            }
        }
        if played.new_sentence {
            self.emit(EventKind::Transcript {
                speaker,
                text: self.playback.spoken_so_far(),
                lang,
                is_final: false,
                turn,
                persona: (speaker == Speaker::Agent).then_some(persona_id),
                interrupted: false,
                audio_start_ms: None,
                audio_end_ms: None,
            });
        }
    }

    /// The whole utterance has been played.
    fn finish_utterance(&mut self) {
        let Some(r) = self.reply.take() else { return };
        self.playing = false;
        if let Some(turn) = self.pending_handoff.take() {
            if self.controller == Controller::Ai && !self.speech_active {
                // After what was said, the new persona introduces themselves
                // and answers the turn.
                let prefix = Some(persona(self.router.current()).handoff_line(self.lang));
                let intent = self.turn_intent;
                self.finish_played(r);
                // The turn's latency was reported with the first reply.
                self.reply_to_turn(turn, intent, None, prefix);
                return;
            }
        }
        self.finish_played(r);
    }

    /// The end of a played utterance: its metrics (if nothing played) and its
    /// final transcript line.
    fn finish_played(&mut self, r: ActiveReply) {
        if let Some(t) = r.timing {
            // Nothing could be played (every TTS failed): still report the turn.
            self.emit(EventKind::TurnMetrics(t.metrics(None)));
        }
        let (heard, _) = self.playback.heard_and_dropped();
        self.playback.clear();
        if heard.is_empty() {
            return;
        }
        self.emit_line(
            r.speaker,
            heard.clone(),
            r.lang,
            r.turn,
            (r.speaker == Speaker::Agent).then_some(r.persona),
            false,
            r.audio_start.or(r.audio_first).map(|a| (a, r.audio_end)),
        );
        let line = match r.speaker {
            Speaker::Supervisor => format!("(supervisor) {heard}"),
            _ => heard,
        };
        self.history.push(ChatMessage::assistant(line));
        // The next turn's prompt starts with everything said so far: a local
        // model decodes it now, while the customer speaks.
        if self.controller == Controller::Ai {
            if let Some(llm) = &self.providers.llm {
                llm.prefill(self.build_request(self.router.current(), r.lang, None, false));
            }
        }
    }

    /// Copies a frame to the listener, if any; forgets a listener that has gone.
    fn tap(monitor: &mut Option<mpsc::Sender<MonitorFrame>>, frame: Frame, speaker: Speaker) {
        if let Some(m) = monitor {
            if let Err(mpsc::error::TrySendError::Closed(_)) =
                m.try_send(MonitorFrame { frame, speaker })
            {
                *monitor = None;
            }
        }
    }

    fn on_supervisor_frame(&mut self, f: InboundFrame) {
        if self.controller != Controller::Supervisor {
            return;
        }
        if self
            .out
            .try_send(OutboundFrame {
                frame: f.frame,
                turn: self.turns,
                speaker: Speaker::Supervisor,
            })
            .is_ok()
        {
            let at = self.clock.heard();
            if let Some(t) = &self.tape {
                t.put(Channel::Heard, at, &f.frame);
            }
        }
    }

    // ---- commands ---------------------------------------------------------------------

    fn on_command(&mut self, cmd: CallCommand) {
        match cmd {
            CallCommand::CustomerText { text, lang } => {
                // Text arriving while the agent talks is the customer cutting in.
                self.interrupt_agent(true);
                let now = Instant::now();
                let timing = TurnTiming {
                    turn: 0,
                    eou_ms: 0.0,
                    eou_at: now,
                    stt_at: now,
                    first_token_at: None,
                    first_sentence_at: None,
                    first_audio_at: None,
                    stt_provider: None,
                    audio: None,
                };
                self.on_customer_utterance(text, lang, timing);
            }
            CallCommand::Supervisor(cmd) => self.on_supervisor(cmd),
            CallCommand::Monitor(tx) => self.monitor = tx,
            // The microphone is a receiver polled by `run`, which takes it there.
            CallCommand::SupervisorAudio(_) => {}
            CallCommand::Hangup => self.end(EndReason::CustomerHangup),
        }
    }

    fn on_supervisor(&mut self, cmd: SupervisorCommand) {
        self.record.supervisor_actions += 1;
        match cmd {
            SupervisorCommand::Takeover => {
                self.emit(EventKind::Supervisor {
                    action: SupervisorAction::Takeover,
                    persona: None,
                    text: None,
                });
                if self.controller == Controller::Supervisor {
                    return;
                }
                self.interrupt_agent(false);
                self.cancel_reply();
                self.deferred = None;
                self.controller = Controller::Supervisor;
                self.record.took_over = true;
            }
            SupervisorCommand::Handback => {
                self.emit(EventKind::Supervisor {
                    action: SupervisorAction::Handback,
                    persona: None,
                    text: None,
                });
                if self.controller == Controller::Supervisor {
                    self.interrupt_agent(false);
                    self.cancel_reply();
                    self.controller = Controller::Ai;
                }
            }
            SupervisorCommand::Pin { persona: to } => {
                self.emit(EventKind::Supervisor {
                    action: SupervisorAction::Pin,
                    persona: Some(to),
                    text: None,
                });
                if let Some(change) = self.router.pin(to) {
                    let turn = self.turns;
                    self.on_persona_change(change, turn);
                }
            }
            SupervisorCommand::Unpin => {
                self.emit(EventKind::Supervisor {
                    action: SupervisorAction::Unpin,
                    persona: None,
                    text: None,
                });
                self.router.unpin();
            }
            SupervisorCommand::Whisper { text } => {
                let text = text.trim().to_string();
                self.emit(EventKind::Supervisor {
                    action: SupervisorAction::Whisper,
                    persona: None,
                    text: Some(text.clone()),
                });
                if !text.is_empty() {
                    self.notes.push(text);
                }
            }
            SupervisorCommand::Say { text } => {
                self.emit(EventKind::Supervisor {
                    action: SupervisorAction::Say,
                    persona: None,
                    text: Some(text.clone()),
                });
                if self.controller != Controller::Supervisor {
                    self.record.errors += 1;
                    self.emit(EventKind::Error {
                        turn: Some(self.turns),
                        stage: Stage::Supervisor,
                        code: "not_in_control".into(),
                        message: "take the call over before speaking to the customer".into(),
                        fallback: None,
                    });
                    return;
                }
                let lang = crate::lang::detect(&text, self.lang);
                let voice = supervisor_voice(lang);
                self.start_reply(
                    self.turns,
                    Speaker::Supervisor,
                    None,
                    ReplySource::Fixed {
                        text,
                        provider: "supervisor",
                        fallback: false,
                    },
                    voice,
                    None,
                );
            }
            SupervisorCommand::End => {
                self.emit(EventKind::Supervisor {
                    action: SupervisorAction::End,
                    persona: None,
                    text: None,
                });
                self.end(EndReason::Supervisor);
            }
        }
    }

    /// Ends the call: audio stops at once; the summary is written by the LLM when
    /// one is configured (a few seconds at most), otherwise — or if it fails — from
    /// the call record.
    fn end(&mut self, reason: EndReason) {
        if self.ended || self.ending.is_some() {
            return;
        }
        self.interrupt_agent(false);
        self.cancel_reply();
        self.stt_session = None;
        self.deferred = None;
        match self.providers.llm.clone() {
            Some(llm) if self.turns > 0 => {
                self.ending = Some(reason);
                let request = self.summary_request();
                let tx = self.summary_tx.clone();
                let timeout = llm.summary_timeout();
                tokio::spawn(async move {
                    let write = async {
                        let mut stream = llm.stream(request);
                        let mut out = String::new();
                        while let Some(delta) = stream.next().await {
                            out.push_str(&delta?);
                        }
                        Ok(out)
                    };
                    let result = match tokio::time::timeout(timeout, write).await {
                        Ok(r) => r,
                        Err(_) => Err(LlmError::Other(format!(
                            "no summary within {} s",
                            timeout.as_secs()
                        ))),
                    };
                    let _ = tx.send(result).await;
                });
            }
            _ => {
                let summary = self.record.summary(self.turns);
                self.finish_end(reason, summary, "extractive".into());
            }
        }
    }

    fn summary_request(&self) -> ChatRequest {
        let mut transcript = String::new();
        for m in &self.history {
            let line = match m.role {
                Role::User => format!("Customer: {}\n", m.content),
                Role::Assistant => match m.content.strip_prefix("(supervisor) ") {
                    Some(rest) => format!("Supervisor: {rest}\n"),
                    None => format!("Agent: {}\n", m.content),
                },
                Role::System | Role::Tool => continue,
            };
            transcript.push_str(&line);
        }
        if let Some(name) = &self.customer.name {
            transcript.push_str(&format!("(Customer name: {name})\n"));
        }
        ChatRequest {
            messages: vec![
                ChatMessage::system(SUMMARY_PROMPT),
                ChatMessage::user(transcript),
            ],
            max_tokens: 160,
            temperature: 0.2,
            tools: Vec::new(),
        }
    }

    fn on_summary(&mut self, result: Result<String, LlmError>) {
        let Some(reason) = self.ending.take() else {
            return;
        };
        let provider = self
            .providers
            .llm
            .as_ref()
            .map(|l| l.name().to_string())
            .unwrap_or_default();
        match result {
            Ok(text) if !text.trim().is_empty() => {
                self.finish_end(reason, text.trim().to_string(), provider)
            }
            other => {
                let (code, message) = match other {
                    Err(e) => (e.code().to_string(), e.to_string()),
                    Ok(_) => (
                        "llm_empty".into(),
                        "the language model returned an empty summary".into(),
                    ),
                };
                self.record.errors += 1;
                self.emit(EventKind::Error {
                    turn: None,
                    stage: Stage::Llm,
                    code,
                    message,
                    fallback: Some("extractive".into()),
                });
                let summary = self.record.summary(self.turns);
                self.finish_end(reason, summary, "extractive".into());
            }
        }
    }

    fn finish_end(&mut self, reason: EndReason, summary: String, summary_provider: String) {
        self.ended = true;
        let duration_ms = self.started.elapsed().as_millis() as u64;
        self.emit(EventKind::CallEnded {
            reason,
            turns: self.turns,
            duration_ms,
            persona: self.router.current(),
            sentiment_avg: self.record.sentiment_avg(),
            sentiment_min: self.record.sentiment_min(),
            summary,
            summary_provider,
        });
        self.publish_status();
        if let Some(tape) = self.tape.take() {
            let done = tape.finish(std::mem::take(&mut self.blanks));
            let (events, recorder, call_id, started) = (
                self.events.clone(),
                self.recorder.clone(),
                self.call_id.clone(),
                self.started,
            );
            tokio::spawn(async move {
                let kind = match done.await {
                    Ok(Ok(f)) => EventKind::Recording {
                        file: f.file,
                        duration_ms: f.duration_ms,
                        bytes: f.bytes,
                        blanked_ms: f.blanked_ms,
                    },
                    Ok(Err(e)) => EventKind::Error {
                        turn: None,
                        stage: Stage::Audio,
                        code: e.code().into(),
                        message: e.to_string(),
                        fallback: None,
                    },
                    Err(_) => return,
                };
                send_event(&events, recorder.as_ref(), &call_id, started, kind);
            });
        }
    }
}

/// A frame this loud (RMS, about −40 dBFS) is heard.
const AUDIBLE_RMS: f64 = 330.0;

fn audible(f: &crate::audio::Frame) -> bool {
    let sum: f64 = f.samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / f.samples.len() as f64).sqrt() > AUDIBLE_RMS
}

fn send_event(
    events: &EventTx,
    recorder: Option<&mpsc::UnboundedSender<CallEvent>>,
    call_id: &str,
    started: Instant,
    kind: EventKind,
) {
    let ev = CallEvent {
        call_id: call_id.to_string(),
        t_ms: started.elapsed().as_millis() as u64,
        kind,
    };
    if let Some(r) = recorder {
        // The writer outlives calls; if it is gone the call still goes on.
        let _ = r.send(ev.clone());
    }
    // No subscriber is fine: a call runs whether or not anyone watches.
    let _ = events.send(ev);
}

/// The call's audio clock, in ms since the call started. The customer's line is a
/// continuous stream of 20 ms frames, so it is counted, not timed: the turn
/// detector's stream time maps onto it exactly. What the customer hears is placed
/// at the clock's current time, never before the end of the previous frame.
struct AudioClock {
    started: Instant,
    /// When the customer's first frame arrived.
    first: Option<u64>,
    customer_frames: u64,
    heard_next: u64,
}

impl AudioClock {
    fn new(started: Instant) -> Self {
        AudioClock {
            started,
            first: None,
            customer_frames: 0,
            heard_next: 0,
        }
    }

    /// Position of the next customer frame (and counts it).
    fn customer(&mut self) -> u64 {
        let first = *self
            .first
            .get_or_insert_with(|| self.started.elapsed().as_millis() as u64);
        let at = first + self.customer_frames * u64::from(crate::audio::FRAME_MS);
        self.customer_frames += 1;
        at
    }

    /// A time of the customer's stream (ms since its first frame) on this clock.
    fn customer_at(&self, stream_ms: u64) -> u64 {
        self.first.unwrap_or(0) + stream_ms
    }

    fn now(&self) -> u64 {
        match self.first {
            Some(first) => first + self.customer_frames * u64::from(crate::audio::FRAME_MS),
            None => self.started.elapsed().as_millis() as u64,
        }
    }

    /// Position of a frame the customer hears now.
    fn heard(&mut self) -> u64 {
        let at = self.heard_next.max(self.now());
        self.heard_next = at + u64::from(crate::audio::FRAME_MS);
        at
    }
}

const SUMMARY_PROMPT: &str = "You write call summaries for a call-center CRM. The transcript may be in Arabic, \
English or both. In English, in 2 or 3 short sentences: who called and what they wanted, what the agent or \
supervisor did or promised, the customer's mood, and any follow-up still owed. Plain text, no preamble.";

fn supervisor_voice(lang: Lang) -> VoiceSpec {
    match lang {
        Lang::Ar => VoiceSpec {
            lang,
            voice: "ar".into(),
            rate_wpm: 160,
            pitch: 45,
            persona: None,
        },
        Lang::En => VoiceSpec {
            lang,
            voice: "en-gb".into(),
            rate_wpm: 170,
            pitch: 45,
            persona: None,
        },
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A provider's name with a static lifetime, so turn timings stay `Copy`. The
/// names are a handful of constants, each stored once.
fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::OnceLock<std::sync::Mutex<Vec<&'static str>>> =
        std::sync::OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    if names.len() >= 64 {
        return "other";
    }
    let leaked: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(leaked);
    leaked
}
