//! Re-running a past call: its customer's words go through today's pipeline
//! (prompts, personas, models) as a new, unrecorded call, and each turn's old and
//! new answers are put side by side — how trainers try a change before it goes
//! live. With a recording, the customer's own audio is replayed (today's
//! recognizer hears it); without one, the stored lines are typed in.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::recording::Decoded;
use super::CallReplay;
use crate::audio::SAMPLE_RATE;
use crate::call::{CallConfig, Providers};
use crate::config::Config;
use crate::events::{CallEvent, EventKind, Speaker};
use crate::hub::LocalHub;
use crate::routing::PersonaId;
use crate::scenario::{Scenario, ScenarioTurn};
use crate::transport::{run_scenario, SimError, SimOptions, SttMode};

/// One customer turn, answered then and now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RerunTurn {
    /// The turn in the original call.
    pub turn: u32,
    /// What the customer said (as recognized then).
    pub customer: String,
    /// What today's recognizer heard (re-runs from audio).
    pub heard_now: Option<String>,
    pub old_persona: Option<PersonaId>,
    pub old_reply: Option<String>,
    pub old_response_ms: Option<f64>,
    pub new_persona: Option<PersonaId>,
    pub new_reply: Option<String>,
    pub new_provider: Option<String>,
    pub new_response_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Rerun {
    pub call_id: String,
    /// The customer's recorded audio was replayed (else their lines were typed).
    pub from_audio: bool,
    pub turns: Vec<RerunTurn>,
}

/// Re-runs `replay` with the models and settings of `config`: from the call's
/// recording (in `config.replay.dir()`) when it can be read and a recognizer is
/// installed, else from its lines.
pub async fn rerun_with(
    config: &Config,
    replay: &CallReplay,
    speed: f64,
) -> Result<Rerun, SimError> {
    let path = replay
        .call
        .recording
        .as_ref()
        .map(|f| config.replay.dir().join(f));
    let cfg = config.clone();
    // Reading the recording and loading the models block.
    let (decoded, providers) = tokio::task::spawn_blocking(move || {
        let decoded = path.and_then(|p| match super::recording::read(&p) {
            Ok(d) => Some(d),
            Err(e) => {
                tracing::warn!(code = e.code(), error = %e, "re-running from the transcript");
                None
            }
        });
        let mut providers = cfg.providers();
        if decoded.is_some() {
            providers.stt = cfg.speech_to_text();
        }
        (decoded, providers)
    })
    .await
    .map_err(|e| SimError::Output(e.to_string()))?;
    let work = std::env::temp_dir().join(format!("switchboard-rerun-{}", uuid::Uuid::new_v4()));
    rerun(
        replay,
        decoded.as_ref(),
        providers,
        config.call_config(),
        speed,
        &work,
    )
    .await
}

/// Audio kept before and after a line when it is cut from the recording.
const PAD_BEFORE_MS: u64 = 150;
const PAD_AFTER_MS: u64 = 250;

/// Re-runs `replay` through `providers` with `config`. `recording` (the call's
/// decoded audio) makes it a re-run from audio when `providers` can recognize
/// speech. `work` holds the cut audio while it runs.
pub async fn rerun(
    replay: &CallReplay,
    recording: Option<&Decoded>,
    providers: Providers,
    mut config: CallConfig,
    speed: f64,
    work: &Path,
) -> Result<Rerun, SimError> {
    let customer_lines: Vec<_> = replay
        .lines
        .iter()
        .filter(|l| l.speaker == Speaker::Customer && !l.text.trim().is_empty())
        .collect();
    let from_audio = recording.is_some()
        && providers
            .stt
            .as_ref()
            .is_some_and(|s| s.unavailable().is_none())
        && customer_lines.iter().all(|l| l.from_audio);
    let mut turns = Vec::with_capacity(customer_lines.len());
    if from_audio {
        std::fs::create_dir_all(work)
            .map_err(|e| SimError::Output(format!("cannot use {}: {e}", work.display())))?;
    }
    for (i, l) in customer_lines.iter().enumerate() {
        match recording.filter(|_| from_audio) {
            Some(rec) => {
                let per_ms = u64::from(SAMPLE_RATE) / 1000;
                let a = (l.at_ms.saturating_sub(PAD_BEFORE_MS) * per_ms) as usize;
                let z = (((l.end_ms + PAD_AFTER_MS) * per_ms) as usize).min(rec.customer.len());
                let cut = rec.customer.get(a..z.max(a)).unwrap_or(&[]);
                let path = work.join(format!("turn-{:03}.wav", i + 1));
                crate::audio::write_wav(&path, cut).map_err(|e| SimError::Output(e.to_string()))?;
                turns.push(ScenarioTurn::Audio {
                    path,
                    text: None,
                    barge_in_ms: None,
                    pause_ms: 300,
                });
            }
            None => turns.push(ScenarioTurn::Say {
                text: l.text.clone(),
                lang: Some(l.lang),
                barge_in_ms: None,
                pause_ms: 300,
            }),
        }
    }
    let scenario = Scenario {
        customer: crate::events::CustomerInfo {
            id: None,
            phone: None,
            name: replay.call.customer_name.clone(),
        },
        lang: crate::lang::LangHint::Auto,
        turns,
    };
    config.recording = None;
    let hub = LocalHub::new(4096);
    let mut rx = hub.event_sender().subscribe();
    let opts = SimOptions {
        stt: if from_audio {
            SttMode::Recognized
        } else {
            SttMode::Text
        },
        speed,
        ..Default::default()
    };
    let report = run_scenario(&hub, &scenario, providers, config, opts).await?;
    let mut events: Vec<CallEvent> = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if e.call_id == report.call_id {
            events.push(e);
        }
    }
    if from_audio {
        let _ = std::fs::remove_dir_all(work);
    }
    Ok(Rerun {
        call_id: replay.call.id.clone(),
        from_audio,
        turns: pair(replay, &customer_lines, &events, from_audio),
    })
}

fn pair(
    replay: &CallReplay,
    customer_lines: &[&super::ReplayLine],
    events: &[CallEvent],
    from_audio: bool,
) -> Vec<RerunTurn> {
    customer_lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let new_turn = i as u32 + 1;
            let old: Vec<_> = replay
                .lines
                .iter()
                .filter(|a| a.speaker == Speaker::Agent && a.turn == l.turn)
                .collect();
            let old_reply = (!old.is_empty()).then(|| {
                old.iter()
                    .map(|a| a.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            let mut heard_now = None;
            let mut new_reply: Option<String> = None;
            let mut new_persona = None;
            let mut new_provider = None;
            let mut new_response_ms = None;
            for e in events {
                match &e.kind {
                    EventKind::Transcript {
                        speaker: Speaker::Customer,
                        is_final: true,
                        turn,
                        text,
                        ..
                    } if *turn == new_turn && from_audio => heard_now = Some(text.clone()),
                    EventKind::AgentReply {
                        turn,
                        persona,
                        text,
                        provider,
                        ..
                    } if *turn == new_turn => {
                        new_reply = Some(match new_reply.take() {
                            Some(prev) => format!("{prev} {text}"),
                            None => text.clone(),
                        });
                        new_persona = Some(*persona);
                        new_provider = Some(provider.clone());
                    }
                    EventKind::TurnMetrics(m)
                        if m.turn == new_turn && new_response_ms.is_none() =>
                    {
                        new_response_ms = m.response_ms;
                    }
                    _ => {}
                }
            }
            RerunTurn {
                turn: l.turn,
                customer: l.text.clone(),
                heard_now,
                old_persona: old.first().and_then(|a| a.persona),
                old_reply,
                old_response_ms: old
                    .iter()
                    .find_map(|a| a.latency.as_ref().and_then(|m| m.response_ms)),
                new_persona,
                new_reply,
                new_provider,
                new_response_ms,
            }
        })
        .collect()
}
