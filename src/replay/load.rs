//! A past call put back together for the replay view: its lines on the call's
//! audio clock, the sentiment curve, the moments to mark on the timeline (persona
//! changes, supervisor actions, tickets, barge-ins, errors), the trainers'
//! comments and scorecard.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::crm::{Annotation, CallScore, CrmError, CrmStore, PastCall, TurnRow};
use crate::events::{CallEvent, EventKind, Speaker, TurnMetrics};
use crate::lang::Lang;
use crate::routing::PersonaId;
use crate::sentiment::SentimentLabel;

/// One line of a past call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct ReplayLine {
    pub turn: u32,
    pub speaker: Speaker,
    pub text: String,
    pub lang: Lang,
    pub persona: Option<PersonaId>,
    pub interrupted: bool,
    /// Where the line starts and ends, in ms since the call started.
    #[ts(type = "number")]
    pub at_ms: u64,
    #[ts(type = "number")]
    pub end_ms: u64,
    /// The times are the line's place in the audio (false: when it was written).
    pub from_audio: bool,
    pub sentiment: Option<f32>,
    pub sentiment_label: Option<SentimentLabel>,
    /// The turn's latency, on the agent's first line of the turn.
    pub latency: Option<TurnMetrics>,
}

/// Latency figures of one turn (kept as the `turn_metrics` event has them).
pub type LineLatency = TurnMetrics;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct SentimentPoint {
    #[ts(type = "number")]
    pub at_ms: u64,
    pub turn: u32,
    pub score: f32,
    /// The call's smoothed sentiment after this turn.
    pub trend: f32,
}

/// A moment to mark on the timeline: the event as it happened.
pub type ReplayMarker = CallEvent;

/// Peaks of the recording's channels, for drawing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Waveform {
    pub customer: Vec<u8>,
    pub heard: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct CallReplay {
    pub call: PastCall,
    pub lines: Vec<ReplayLine>,
    pub markers: Vec<ReplayMarker>,
    pub sentiment: Vec<SentimentPoint>,
    pub annotations: Vec<Annotation>,
    pub scores: Vec<CallScore>,
    #[ts(type = "number")]
    pub duration_ms: u64,
    /// Drawn from the recording when there is one and it can be read.
    pub waveform: Option<Waveform>,
    /// Stored events that could not be read (a newer or damaged record).
    pub unreadable_events: u32,
    /// The call's events (final lines, no partials), as stored: what an export
    /// writes and `switchboard simulate`-style tools read.
    #[serde(skip)]
    #[ts(skip)]
    pub events: Vec<CallEvent>,
}

fn is_marker(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::PersonaChanged { .. }
            | EventKind::Supervisor { .. }
            | EventKind::Ticket { .. }
            | EventKind::HumanRequested { .. }
            | EventKind::BargeIn { .. }
            | EventKind::Error { .. }
    )
}

/// Loads a past call. `NotFound` when there is no such call. The waveform is
/// read from beside the recording in `recordings` when given.
pub async fn load_replay(store: &CrmStore, call_id: &str) -> Result<CallReplay, CrmError> {
    load_replay_in(store, call_id, None).await
}

pub async fn load_replay_in(
    store: &CrmStore,
    call_id: &str,
    recordings: Option<&std::path::Path>,
) -> Result<CallReplay, CrmError> {
    let call = store.past_call(call_id).await?.ok_or(CrmError::NotFound {
        what: "call",
        id: call_id.to_string(),
    })?;
    let stored = store.events_of_call(call_id).await?;
    let mut unreadable = 0u32;
    let mut events = Vec::with_capacity(stored.len());
    for s in &stored {
        match serde_json::from_str::<CallEvent>(&s.body) {
            Ok(ev) => events.push(ev),
            Err(_) => unreadable += 1,
        }
    }
    let (lines, sentiment) = if events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Transcript { .. }))
    {
        from_events(&events)
    } else {
        // Stored before events were kept: the turns table has the lines.
        from_turns(&store.turns_of_call(call_id).await?, call.started_at)
    };
    let mut markers: Vec<CallEvent> = events
        .iter()
        .filter(|e| is_marker(&e.kind))
        .cloned()
        .collect();
    if markers.is_empty() && events.is_empty() {
        markers = supervisor_markers(store, call_id, call.started_at).await?;
    }
    let annotations = store.annotations_of_call(call_id).await?;
    let scores = store.scores_of_call(call_id).await?;
    let duration_ms = [
        call.ended_at
            .map(|e| (e - call.started_at).max(0) as u64)
            .unwrap_or(0),
        call.recording_ms.unwrap_or(0).max(0) as u64,
        lines.last().map(|l| l.end_ms).unwrap_or(0),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let waveform = match (recordings, call.recording.as_deref()) {
        (Some(dir), Some(file)) => super::recording::read_peaks(dir, file)
            .map(|(customer, heard)| Waveform { customer, heard }),
        _ => None,
    };
    Ok(CallReplay {
        call,
        lines,
        markers,
        sentiment,
        annotations,
        scores,
        duration_ms,
        waveform,
        unreadable_events: unreadable,
        events,
    })
}

fn from_events(events: &[CallEvent]) -> (Vec<ReplayLine>, Vec<SentimentPoint>) {
    let mut lines: Vec<ReplayLine> = Vec::new();
    let mut metrics: HashMap<u32, TurnMetrics> = HashMap::new();
    let mut scores: HashMap<u32, (f32, SentimentLabel, f32)> = HashMap::new();
    for e in events {
        match &e.kind {
            EventKind::Transcript {
                speaker,
                text,
                lang,
                is_final: true,
                turn,
                persona,
                interrupted,
                audio_start_ms,
                audio_end_ms,
            } => {
                let (at, end, from_audio) = match (audio_start_ms, audio_end_ms) {
                    (Some(a), Some(z)) => (*a, (*z).max(*a), true),
                    _ => (e.t_ms, e.t_ms, false),
                };
                lines.push(ReplayLine {
                    turn: *turn,
                    speaker: *speaker,
                    text: text.clone(),
                    lang: *lang,
                    persona: *persona,
                    interrupted: *interrupted,
                    at_ms: at,
                    end_ms: end,
                    from_audio,
                    sentiment: None,
                    sentiment_label: None,
                    latency: None,
                });
            }
            EventKind::TurnMetrics(m) => {
                metrics.entry(m.turn).or_insert_with(|| m.clone());
            }
            EventKind::Sentiment {
                turn,
                score,
                label,
                trend,
            } => {
                scores.insert(*turn, (*score, *label, *trend));
            }
            _ => {}
        }
    }
    let mut points = Vec::new();
    for l in &mut lines {
        match l.speaker {
            Speaker::Customer => {
                if let Some((score, label, trend)) = scores.get(&l.turn) {
                    l.sentiment = Some(*score);
                    l.sentiment_label = Some(*label);
                    points.push(SentimentPoint {
                        at_ms: l.at_ms,
                        turn: l.turn,
                        score: *score,
                        trend: *trend,
                    });
                }
            }
            Speaker::Agent => l.latency = metrics.remove(&l.turn),
            Speaker::Supervisor => {}
        }
    }
    fill_ends(&mut lines);
    (lines, points)
}

fn from_turns(turns: &[TurnRow], call_start: i64) -> (Vec<ReplayLine>, Vec<SentimentPoint>) {
    let mut lines = Vec::with_capacity(turns.len());
    let mut points = Vec::new();
    let mut trend: Option<f32> = None;
    for t in turns {
        let speaker = match t.speaker.as_str() {
            "customer" => Speaker::Customer,
            "supervisor" => Speaker::Supervisor,
            _ => Speaker::Agent,
        };
        let (at, end, from_audio) = match (t.audio_start_ms, t.audio_end_ms) {
            (Some(a), Some(z)) => (a.max(0) as u64, z.max(a).max(0) as u64, true),
            _ => {
                let at = (t.started_at - call_start).max(0) as u64;
                (at, at, false)
            }
        };
        let score = t.sentiment_score.map(|s| s as f32);
        if let (Speaker::Customer, Some(s)) = (speaker, score) {
            let tr = trend.map_or(s, |p| 0.6 * p + 0.4 * s);
            trend = Some(tr);
            points.push(SentimentPoint {
                at_ms: at,
                turn: t.idx as u32,
                score: s,
                trend: tr,
            });
        }
        let latency = (speaker == Speaker::Agent && t.total_ms.is_some()).then(|| TurnMetrics {
            turn: t.idx as u32,
            eou_ms: t.eou_ms.unwrap_or(0.0),
            stt_ms: t.stt_ms.unwrap_or(0.0),
            llm_first_token_ms: t.llm_first_token_ms,
            tts_first_audio_ms: t.tts_first_audio_ms,
            total_ms: t.total_ms,
            response_ms: t.total_ms.map(|x| x + t.eou_ms.unwrap_or(0.0)),
            tts_provider: None,
            stt_provider: None,
        });
        lines.push(ReplayLine {
            turn: t.idx as u32,
            speaker,
            text: t.text.clone(),
            lang: Lang::parse(&t.lang).unwrap_or(Lang::En),
            persona: t.persona.as_deref().and_then(PersonaId::parse),
            interrupted: t.interrupted,
            at_ms: at,
            end_ms: end,
            from_audio,
            sentiment: score,
            sentiment_label: t.sentiment_label.as_deref().and_then(SentimentLabel::parse),
            latency,
        });
    }
    fill_ends(&mut lines);
    (lines, points)
}

/// A line known only by when it was written gets until the next line (at most
/// 10 s) so it can be highlighted while the replay passes it.
fn fill_ends(lines: &mut [ReplayLine]) {
    for i in 0..lines.len() {
        if lines[i].end_ms <= lines[i].at_ms {
            let next = lines
                .get(i + 1)
                .map(|n| n.at_ms)
                .unwrap_or(lines[i].at_ms + 2_000);
            lines[i].end_ms = next.clamp(lines[i].at_ms + 1, lines[i].at_ms + 10_000);
        }
    }
}

async fn supervisor_markers(
    store: &CrmStore,
    call_id: &str,
    call_start: i64,
) -> Result<Vec<CallEvent>, CrmError> {
    let rows = store.supervisor_actions_of_call(call_id).await?;
    Ok(rows
        .into_iter()
        .filter_map(|a| {
            let action = serde_json::from_value(serde_json::Value::String(a.action)).ok()?;
            Some(CallEvent {
                call_id: a.call_id,
                t_ms: (a.at - call_start).max(0) as u64,
                kind: EventKind::Supervisor {
                    action,
                    persona: None,
                    text: None,
                },
            })
        })
        .collect())
}
