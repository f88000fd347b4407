//! A simulated caller: plays a scenario into a call as a customer would — speaking
//! (through TTS and the real audio path, or as text), waiting for the agent to
//! finish, cutting in, while a supervisor acts — and records the agent's audio per
//! turn.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};

use crate::audio::{read_wav, write_wav, AudioError, Frame, FRAME_SAMPLES, SAMPLE_RATE};
use crate::call::{
    CallCommand, CallConfig, CallHandle, CallIo, CallSetup, InboundFrame, OutboundFrame, Providers,
    SupervisorCommand,
};
use crate::hub::LocalHub;
use crate::lang::{detect, Lang};
use crate::scenario::{Scenario, ScenarioTurn};
use crate::stt::{ScriptedSpeechToText, SttScript};
use crate::tts::{TextToSpeech, VoiceSpec};

/// How customer speech reaches the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SttMode {
    /// `say` text goes straight to the pipeline, no audio.
    Text,
    /// `say` turns are spoken by TTS and go through the real audio path (VAD, end
    /// of turn, barge-in); the recognizer is an oracle that knows the script.
    Script,
    /// `say` turns are spoken by TTS through the real audio path and recognized
    /// by the providers' own recognizer (e.g. local Whisper).
    Recognized,
}

pub struct SimOptions {
    pub stt: SttMode,
    /// 1.0 = real time. Larger runs the whole call faster (frame clock and playback).
    pub speed: f64,
    pub out_dir: Option<PathBuf>,
    /// Voice of the simulated customer (script mode).
    pub customer_tts: Option<Arc<dyn TextToSpeech>>,
    /// Longest wait for the agent to finish a turn.
    pub turn_timeout: Duration,
    /// Where the call is recorded (the CRM writer), if anywhere.
    pub record: Option<mpsc::UnboundedSender<crate::events::CallEvent>>,
    /// What the CRM knows about the caller, for the persona's prompt.
    pub customer_context: Option<String>,
    /// Use this call id (so a caller can know it before the call ends); default: a new uuid.
    pub call_id: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            stt: SttMode::Text,
            speed: 1.0,
            out_dir: None,
            customer_tts: None,
            turn_timeout: Duration::from_secs(30),
            record: None,
            customer_context: None,
            call_id: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario can't be played: bad audio file, no voice for the customer.
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Output(String),
}

#[derive(Debug, Default)]
pub struct SimReport {
    pub call_id: String,
    /// Files written, one per turn that had agent audio.
    pub files: Vec<PathBuf>,
    /// Turns where the agent did not finish within the timeout.
    pub timeouts: Vec<usize>,
}

enum Prepared {
    Speech {
        samples: Vec<i16>,
        text: Option<String>,
        lang: Lang,
        barge_in_ms: Option<u64>,
        pause_ms: u64,
    },
    Text {
        text: String,
        lang: Option<Lang>,
        barge_in_ms: Option<u64>,
        pause_ms: u64,
    },
    Supervisor(SupervisorCommand),
}

fn customer_voice(lang: Lang) -> VoiceSpec {
    match lang {
        Lang::Ar => VoiceSpec {
            lang,
            voice: "ar".into(),
            rate_wpm: 150,
            pitch: 60,
            persona: None,
        },
        Lang::En => VoiceSpec {
            lang,
            voice: "en-gb".into(),
            rate_wpm: 165,
            pitch: 60,
            persona: None,
        },
    }
}

/// Loads audio and synthesizes customer speech before the call starts, so bad
/// input fails fast and synthesis time does not distort the call.
async fn prepare(scenario: &Scenario, opts: &SimOptions) -> Result<Vec<Prepared>, SimError> {
    let mut out = Vec::with_capacity(scenario.turns.len());
    for (i, t) in scenario.turns.iter().enumerate() {
        let n = i + 1;
        out.push(match t {
            ScenarioTurn::Say {
                text,
                lang,
                barge_in_ms,
                pause_ms,
            } => match opts.stt {
                SttMode::Text => Prepared::Text {
                    text: text.clone(),
                    lang: *lang,
                    barge_in_ms: *barge_in_ms,
                    pause_ms: *pause_ms,
                },
                SttMode::Script | SttMode::Recognized => {
                    let lang = lang
                        .or(scenario.lang.fixed())
                        .unwrap_or_else(|| detect(text, Lang::En));
                    let tts = opts.customer_tts.as_ref().ok_or_else(|| {
                        SimError::Input(
                            "speaking scenario turns needs a TTS voice for the customer".into(),
                        )
                    })?;
                    let mut stream = tts.synthesize(text, &customer_voice(lang));
                    let mut samples = Vec::new();
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.map_err(|e| {
                            SimError::Input(format!(
                                "turn {n}: cannot speak the customer's line: {e}"
                            ))
                        })?;
                        samples.extend_from_slice(&chunk);
                    }
                    Prepared::Speech {
                        samples,
                        text: Some(text.clone()),
                        lang,
                        barge_in_ms: *barge_in_ms,
                        pause_ms: *pause_ms,
                    }
                }
            },
            ScenarioTurn::Audio {
                path,
                text,
                barge_in_ms,
                pause_ms,
            } => {
                let samples = read_wav(path).map_err(|e| match e {
                    // I/O errors already name the file.
                    AudioError::Io { .. } => SimError::Input(format!("turn {n}: {e}")),
                    _ => SimError::Input(format!("turn {n}: {}: {e}", path.display())),
                })?;
                let lang = text
                    .as_deref()
                    .map(|t| detect(t, scenario.lang.fixed().unwrap_or(Lang::En)))
                    .or(scenario.lang.fixed())
                    .unwrap_or(Lang::En);
                Prepared::Speech {
                    samples,
                    text: text.clone(),
                    lang,
                    barge_in_ms: *barge_in_ms,
                    pause_ms: *pause_ms,
                }
            }
            ScenarioTurn::Supervisor(cmd) => Prepared::Supervisor(cmd.clone()),
        });
    }
    Ok(out)
}

/// Plays `scenario` as one call on `hub`. Events flow on the hub as usual; the
/// returned report says where the agent's audio went.
pub async fn run_scenario(
    hub: &LocalHub,
    scenario: &Scenario,
    mut providers: Providers,
    mut config: CallConfig,
    opts: SimOptions,
) -> Result<SimReport, SimError> {
    let turns = prepare(scenario, &opts).await?;
    let speed = if opts.speed.is_finite() && opts.speed > 0.0 {
        opts.speed
    } else {
        1.0
    };
    let period = Duration::from_secs_f64(0.020 / speed);
    config.frame_period = period;
    config.lang = scenario.lang;
    let script = SttScript::new();
    if opts.stt == SttMode::Script {
        providers.stt = Some(Arc::new(ScriptedSpeechToText::new(script.clone())));
    }

    let (cust_tx, cust_rx) = mpsc::channel::<InboundFrame>(64);
    let (agent_tx, agent_rx) = mpsc::channel::<OutboundFrame>(512);
    let (speech_tx, speech_rx) = mpsc::channel::<(Vec<i16>, oneshot::Sender<()>)>(4);
    let recorder = tokio::spawn(record(agent_rx));
    let pacer = tokio::spawn(pace(cust_tx, speech_rx, period));

    let call_id = opts
        .call_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // A recorded call is over once its recording is stored (encoded after the end).
    let mut recording_rx = config
        .recording
        .is_some()
        .then(|| hub.event_sender().subscribe());
    let handle = hub.start_call(CallSetup {
        call_id: call_id.clone(),
        customer: scenario.customer.clone(),
        customer_context: opts.customer_context.clone(),
        record: opts.record.clone(),
        config: config.clone(),
        providers,
        io: CallIo {
            customer_audio: cust_rx,
            supervisor_audio: None,
            agent_audio: agent_tx,
            transport: "simulated".into(),
            room: None,
        },
    });

    let mut report = SimReport {
        call_id: call_id.clone(),
        ..Default::default()
    };
    let scale = |ms: u64| Duration::from_secs_f64(ms as f64 / 1000.0 / speed);
    let timeout = opts.turn_timeout;
    // Let the greeting play out.
    let _ = handle.wait_for(timeout, |s| !s.busy).await;
    // A turn followed by a barge-in is not waited out: the next line cuts into its reply.
    let cut_in_next: Vec<bool> = (0..turns.len())
        .map(|i| {
            matches!(
                turns.get(i + 1),
                Some(
                    Prepared::Text {
                        barge_in_ms: Some(_),
                        ..
                    } | Prepared::Speech {
                        barge_in_ms: Some(_),
                        ..
                    }
                )
            )
        })
        .collect();
    for (i, turn) in turns.into_iter().enumerate() {
        if handle.status().ended {
            break;
        }
        let n = i + 1;
        let answered = |before: u32, limit: Duration| {
            let handle = handle.clone();
            let cut_in = cut_in_next[i];
            async move {
                if cut_in {
                    handle.wait_for(limit, |s| s.turns > before).await.is_ok()
                } else {
                    wait_turn_done(&handle, before, limit).await
                }
            }
        };
        match turn {
            Prepared::Text {
                text,
                lang,
                barge_in_ms,
                pause_ms,
            } => {
                tokio::time::sleep(scale(pause_ms)).await;
                wait_turn_start(&handle, barge_in_ms, scale, timeout).await;
                let before = handle.status().turns;
                if handle
                    .send(CallCommand::CustomerText { text, lang })
                    .await
                    .is_err()
                {
                    break;
                }
                if !answered(before, timeout).await {
                    report.timeouts.push(n);
                }
            }
            Prepared::Speech {
                samples,
                text,
                lang,
                barge_in_ms,
                pause_ms,
            } => {
                tokio::time::sleep(scale(pause_ms)).await;
                wait_turn_start(&handle, barge_in_ms, scale, timeout).await;
                let before = handle.status().turns;
                let dur_ms = (samples.len() as u64 * 1000 / SAMPLE_RATE as u64) as u32;
                if let Some(t) = &text {
                    script.announce(t, lang, dur_ms);
                }
                let (done_tx, done_rx) = oneshot::channel();
                if speech_tx.send((samples, done_tx)).await.is_err() {
                    break;
                }
                let _ = done_rx.await;
                let limit = timeout + scale(dur_ms as u64);
                if !answered(before, limit).await {
                    report.timeouts.push(n);
                }
            }
            Prepared::Supervisor(cmd) => {
                let say = matches!(cmd, SupervisorCommand::Say { .. });
                if handle.supervisor(cmd).await.is_err() {
                    break;
                }
                if say {
                    // Give the actor a moment to start the line, then let it finish.
                    let _ = handle
                        .wait_for(Duration::from_millis(500), |s| s.busy)
                        .await;
                }
                let _ = handle.wait_for(timeout, |s| !s.busy).await;
            }
        }
    }
    let _ = handle.send(CallCommand::Hangup).await;
    handle.ended().await;
    if let Some(rx) = recording_rx.as_mut() {
        let _ = tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                match rx.recv().await {
                    Ok(e) if e.call_id == call_id => match &e.kind {
                        crate::events::EventKind::Recording { .. } => return,
                        crate::events::EventKind::Error { code, .. }
                            if code.starts_with("recording_") =>
                        {
                            return
                        }
                        _ => {}
                    },
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return,
                }
            }
        })
        .await;
    }
    pacer.abort();
    drop(speech_tx);
    let by_turn = recorder.await.unwrap_or_default();
    if let Some(dir) = &opts.out_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            SimError::Output(format!(
                "cannot create output folder {}: {e}",
                dir.display()
            ))
        })?;
        for (turn, samples) in by_turn {
            let path = dir.join(format!("turn-{turn:02}.wav"));
            write_wav(&path, &samples).map_err(|e| SimError::Output(e.to_string()))?;
            report.files.push(path);
        }
    }
    Ok(report)
}

/// Waits for the moment the customer starts: after the agent finished, or — for a
/// barge-in — a while after the agent started speaking.
async fn wait_turn_start(
    handle: &CallHandle,
    barge_in_ms: Option<u64>,
    scale: impl Fn(u64) -> Duration,
    timeout: Duration,
) {
    match barge_in_ms {
        Some(ms) => {
            let _ = handle.wait_for(timeout, |s| s.agent_speaking).await;
            tokio::time::sleep(scale(ms)).await;
        }
        None => {
            let _ = handle.wait_for(timeout, |s| !s.busy).await;
        }
    }
}

/// Waits for the customer's turn to be taken and answered. False on timeout.
async fn wait_turn_done(handle: &CallHandle, before: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    if handle
        .wait_for(timeout, |s| s.turns > before)
        .await
        .is_err()
    {
        return false;
    }
    let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
    handle.wait_for(left, |s| !s.busy).await.is_ok()
}

/// The customer's line: a frame every `period`, speech when there is some, silence
/// otherwise — a phone line never goes quiet on the wire.
async fn pace(
    tx: mpsc::Sender<InboundFrame>,
    mut speech: mpsc::Receiver<(Vec<i16>, oneshot::Sender<()>)>,
    period: Duration,
) {
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut due = tokio::time::Instant::now();
    let mut current: Option<(Vec<i16>, usize, oneshot::Sender<()>)> = None;
    loop {
        interval.tick().await;
        if current.is_none() {
            if let Ok((samples, done)) = speech.try_recv() {
                current = Some((samples, 0, done));
            }
        }
        let frame = match current.as_mut() {
            Some((samples, pos, _)) => {
                let end = (*pos + FRAME_SAMPLES).min(samples.len());
                let f = Frame::from_slice(&samples[*pos..end]);
                *pos = end;
                f
            }
            None => Frame::SILENCE,
        };
        if current.as_ref().is_some_and(|(s, pos, _)| *pos >= s.len()) {
            if let Some((_, _, done)) = current.take() {
                let _ = done.send(());
            }
        }
        if tx
            .send(InboundFrame {
                frame,
                due: due.into_std(),
            })
            .await
            .is_err()
        {
            return;
        }
        due += period;
    }
}

/// Collects the agent's frames per turn.
async fn record(mut rx: mpsc::Receiver<OutboundFrame>) -> BTreeMap<u32, Vec<i16>> {
    let mut by_turn: BTreeMap<u32, Vec<i16>> = BTreeMap::new();
    while let Some(f) = rx.recv().await {
        by_turn
            .entry(f.turn)
            .or_default()
            .extend_from_slice(&f.frame.samples);
    }
    by_turn
}
