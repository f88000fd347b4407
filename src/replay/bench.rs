//! `switchboard bench-replay`: how long opening a long call's replay takes (the
//! CRM read, rebuilding its timeline, the JSON the console receives), and how long
//! a recording of that call takes to encode when the call ends and to decode for
//! the player.

use std::time::{Duration, Instant};

use crate::audio::{Frame, FRAME_SAMPLES};
use crate::crm::CrmStore;
use crate::events::{CallEvent, CustomerInfo, EndReason, EventKind, Speaker, TurnMetrics};
use crate::lang::{Lang, LangHint};
use crate::persist::CrmWriter;
use crate::routing::{ChangeReason, PersonaId};
use crate::sentiment::SentimentLabel;

use super::recording::{Channel, RecordingConfig, Tape};

pub struct ReplayBench {
    pub lines: usize,
    pub call_minutes: u64,
    pub open_ms: Vec<f64>,
    pub payload_bytes: usize,
    pub encode_ms: f64,
    pub flac_bytes: u64,
    pub decode_ms: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

impl std::fmt::Display for ReplayBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut open = self.open_ms.clone();
        let p50 = median(&mut open);
        let max = open.last().copied().unwrap_or(0.0);
        writeln!(
            f,
            "replay of a {}-minute call with {} lines:",
            self.call_minutes, self.lines
        )?;
        writeln!(
            f,
            "  open (CRM read + timeline + JSON for the console): p50 {p50:.1} ms, max {max:.1} ms over {} runs; {} kB of JSON",
            self.open_ms.len(),
            self.payload_bytes / 1024
        )?;
        write!(
            f,
            "  recording: encoded in {:.0} ms after the call ({} kB FLAC, stereo 16 kHz), decoded for the player in {:.0} ms",
            self.encode_ms,
            self.flac_bytes / 1024,
            self.decode_ms
        )
    }
}

/// One long call's events: `turns` customer turns, each answered, a persona change
/// every 40 turns and a supervisor action every 100.
pub fn long_call(call_id: &str, turns: u32, minutes: u64) -> Vec<CallEvent> {
    let step = minutes * 60_000 / u64::from(turns.max(1));
    let ev = |t_ms: u64, kind: EventKind| CallEvent {
        call_id: call_id.into(),
        t_ms,
        kind,
    };
    let mut out = vec![ev(
        0,
        EventKind::CallStarted {
            customer: CustomerInfo {
                id: None,
                phone: None,
                name: Some("Rana".into()),
            },
            lang: LangHint::Auto,
            persona: PersonaId::Reception,
            transport: "bench".into(),
            started_at_ms: 1_700_000_000_000,
            room: None,
        },
    )];
    let personas = [PersonaId::Reception, PersonaId::Sales, PersonaId::Support];
    for turn in 1..=turns {
        let t = u64::from(turn - 1) * step;
        let ar = turn % 2 == 0;
        let lang = if ar { Lang::Ar } else { Lang::En };
        let persona = personas[(turn / 40) as usize % 3];
        let said = if ar {
            "الراوتر تبعي خربان من امبارح وما حدا رد علي، بدي حل اليوم لو سمحت"
        } else {
            "My router has been down since yesterday and nobody called me back, I need it fixed today"
        };
        out.push(ev(
            t + step / 3,
            EventKind::Transcript {
                speaker: Speaker::Customer,
                text: said.into(),
                lang,
                is_final: true,
                turn,
                persona: None,
                interrupted: false,
                audio_start_ms: Some(t),
                audio_end_ms: Some(t + step / 3),
            },
        ));
        out.push(ev(
            t + step / 3,
            EventKind::Sentiment {
                turn,
                score: -0.4,
                label: SentimentLabel::Negative,
                trend: -0.3,
            },
        ));
        if turn % 40 == 0 {
            out.push(ev(
                t + step / 3,
                EventKind::PersonaChanged {
                    from: personas[((turn / 40) as usize + 2) % 3],
                    to: persona,
                    reason: ChangeReason::Rule,
                    turn,
                    why: "complaint with negative sentiment".into(),
                    cause: None,
                },
            ));
        }
        let reply = if ar {
            "آسف جداً على الإزعاج، فتحت لك تذكرة وسيتصل بك فني اليوم قبل الساعة الخامسة"
        } else {
            "I am sorry about that. I opened a ticket and a technician will call you before five today."
        };
        out.push(ev(
            t + step / 3 + 400,
            EventKind::AgentReply {
                turn,
                persona,
                lang,
                text: reply.into(),
                provider: "template".into(),
                fallback: false,
            },
        ));
        out.push(ev(
            t + step / 3 + 600,
            EventKind::TurnMetrics(TurnMetrics {
                turn,
                eou_ms: 300.0,
                stt_ms: 120.0,
                llm_first_token_ms: Some(200.0),
                tts_first_audio_ms: Some(90.0),
                total_ms: Some(450.0),
                response_ms: Some(750.0),
                tts_provider: Some("piper".into()),
                stt_provider: Some("whisper-base".into()),
            }),
        ));
        out.push(ev(
            t + step - 200,
            EventKind::Transcript {
                speaker: Speaker::Agent,
                text: reply.into(),
                lang,
                is_final: true,
                turn,
                persona: Some(persona),
                interrupted: false,
                audio_start_ms: Some(t + step / 3 + 750),
                audio_end_ms: Some(t + step - 200),
            },
        ));
        if turn % 100 == 0 {
            out.push(ev(
                t + step - 100,
                EventKind::Supervisor {
                    action: crate::events::SupervisorAction::Whisper,
                    persona: None,
                    text: Some("offer the loyalty discount".into()),
                },
            ));
        }
    }
    out.push(ev(
        minutes * 60_000,
        EventKind::CallEnded {
            reason: EndReason::CustomerHangup,
            turns,
            duration_ms: minutes * 60_000,
            persona: PersonaId::Support,
            sentiment_avg: Some(-0.3),
            sentiment_min: Some(-0.4),
            summary: "A long call about a broken router.".into(),
            summary_provider: "extractive".into(),
        },
    ));
    out
}

/// Stores a `turns`-turn call of `minutes` (through the CRM writer, as a real call
/// is), then opens its replay `runs` times. `store` is a fresh database.
pub async fn run(
    store: &CrmStore,
    work: &std::path::Path,
    turns: u32,
    minutes: u64,
    runs: usize,
) -> Result<ReplayBench, String> {
    let call_id = format!("bench-{}", uuid::Uuid::new_v4());
    let writer = CrmWriter::spawn(store.clone(), &work.join("outbox.jsonl"), None)
        .map_err(|e| e.to_string())?;
    let rec = writer.recorder();
    for e in long_call(&call_id, turns, minutes) {
        let _ = rec.send(e);
    }
    let flushed = writer
        .flush(Duration::from_secs(300))
        .await
        .ok_or("the CRM writer did not finish")?;
    if flushed.pending > 0 {
        return Err("the CRM database is unreachable".into());
    }
    let mut open_ms = Vec::with_capacity(runs);
    let mut payload_bytes = 0;
    let mut lines = 0;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let replay = super::load_replay_in(store, &call_id, Some(work))
            .await
            .map_err(|e| e.to_string())?;
        let json = serde_json::to_string(&replay).map_err(|e| e.to_string())?;
        open_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        payload_bytes = json.len();
        lines = replay.lines.len();
    }

    // The call's recording: both channels busy with a voice-like signal.
    let tape = Tape::start(
        &RecordingConfig {
            dir: work.to_path_buf(),
            redact_audio: true,
        },
        &call_id,
    )
    .map_err(|e| e.to_string())?;
    let frames = minutes * 60_000 / 20;
    let mut seed = 0x2545_f491u32;
    for i in 0..frames {
        let mut f = Frame::SILENCE;
        let talking = (i / 150) % 2 == 0;
        for s in f.samples.iter_mut().take(FRAME_SAMPLES) {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            *s = ((seed % 4000) as i16 - 2000) / if talking { 1 } else { 20 };
        }
        let channel = if talking {
            Channel::Customer
        } else {
            Channel::Heard
        };
        tape.put(channel, i * 20, &f);
    }
    let t = Instant::now();
    let finished = tape
        .finish(Vec::new())
        .await
        .map_err(|_| "the recorder stopped".to_string())?
        .map_err(|e| e.to_string())?;
    let encode_ms = t.elapsed().as_secs_f64() * 1000.0;
    let path = work.join(&finished.file);
    let t = Instant::now();
    let decoded = super::recording::read(&path).map_err(|e| e.to_string())?;
    let wav = super::recording::mono_wav_bytes(&decoded);
    std::hint::black_box(&wav);
    let decode_ms = t.elapsed().as_secs_f64() * 1000.0;
    Ok(ReplayBench {
        lines,
        call_minutes: minutes,
        open_ms,
        payload_bytes,
        encode_ms,
        flac_bytes: finished.bytes,
        decode_ms,
    })
}
