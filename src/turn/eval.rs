//! `switchboard bench-turn`: how end of turn behaves on speech with a pause in
//! the middle of a sentence, with and without Smart Turn.
//!
//! Each utterance is one sentence with a comma, synthesized in one piece (so
//! the voice keeps its sentence prosody across the pause), whose comma pause is
//! stretched to 400–600 ms of silence; 0.5 s of silence before, 3 s after.
//! English is spoken by the Piper voice when installed (else espeak-ng), Arabic
//! by espeak-ng. Every utterance runs through the production detector (earshot
//! VAD + turn state machine) under each configuration, and we count:
//! - cut off: the turn ended during the pause, before the speaker finished;
//! - delay: from the end of the last word to the end of the turn that contains
//!   it. With Smart Turn the model's real running time is added where it
//!   would have delayed the end (the run itself waits for the model, see
//!   [`SemanticMode::Lockstep`]).

use std::fmt;
use std::sync::Arc;

use futures::StreamExt;

use super::smart_turn::{SemanticMode, SemanticVerdict, SmartTurn};
use super::{EndOfTurnDetector, EndReason, SemanticTurnConfig, TurnConfig, TurnEvent};
use crate::audio::{frames, FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE};
use crate::lang::Lang;
use crate::tts::{EspeakTts, PiperConfig, PiperTts, TextToSpeech, VoiceSpec};

/// English sentences with a natural place to pause (the comma).
pub const ENGLISH: [&str; 22] = [
    "I want to pay my bill, for this month please.",
    "My order number is, four five six seven.",
    "I was wondering if, you could help me with my account.",
    "Can you tell me, when my package will arrive?",
    "I need to change, the address on my account.",
    "The problem is that, my internet keeps disconnecting.",
    "I would like to, cancel my subscription.",
    "I bought a laptop, and it stopped working after a week.",
    "Could you please, send me a copy of the invoice?",
    "I have been waiting, for more than two weeks.",
    "My name is, Sarah Johnson.",
    "I called yesterday and, nobody called me back.",
    "I would like to upgrade, to the premium plan.",
    "The charge on my card, is not correct.",
    "Is it possible to, get a refund for this order?",
    "I think there is, a mistake in my bill.",
    "Can I speak to, someone from the sales team?",
    "My phone number is, five five five, one two three four.",
    "I want to report, a problem with my delivery.",
    "When I try to log in, it says my password is wrong.",
    "I ordered two items but, only one arrived.",
    "Please tell me, how much I owe.",
];

/// Arabic sentences with a natural place to pause (the comma).
pub const ARABIC: [&str; 10] = [
    "أريد أن أدفع، فاتورة هذا الشهر.",
    "رقم طلبي هو، أربعة خمسة ستة.",
    "هل يمكنك أن، تساعدني في حسابي؟",
    "أريد أن ألغي، اشتراكي من فضلك.",
    "المشكلة أن، الإنترنت ينقطع كل يوم.",
    "متى سيصل، الطلب الخاص بي؟",
    "اشتريت هاتفا، وتوقف عن العمل بعد أسبوع.",
    "أريد التحدث، مع قسم المبيعات.",
    "لقد انتظرت، أكثر من أسبوعين.",
    "هناك خطأ، في فاتورتي هذا الشهر.",
];

/// Pause lengths, cycled over the utterances.
pub const GAPS_MS: [u32; 5] = [400, 450, 500, 550, 600];

const LEAD_MS: usize = 500;
const TAIL_MS: usize = 3000;

/// One synthesized utterance with a known pause.
#[derive(Debug, Clone)]
pub struct Utterance {
    pub lang: Lang,
    pub text: String,
    /// 16 kHz audio: lead silence, first part, pause, second part, tail.
    pub audio: Vec<i16>,
    /// Sample where the pause starts and where speech resumes.
    pub pause: (usize, usize),
    /// Sample just after the last word.
    pub speech_end: usize,
}

/// Synthesizes `text` to 16 kHz with `tts`.
pub async fn speak(
    tts: &dyn TextToSpeech,
    text: &str,
    voice: &VoiceSpec,
) -> Result<Vec<i16>, String> {
    let mut out = Vec::new();
    let mut stream = tts.synthesize(text, voice);
    while let Some(chunk) = stream.next().await {
        out.extend(chunk.map_err(|e| format!("{}: {e}", tts.name()))?);
    }
    if out.is_empty() {
        return Err(format!("{} produced no audio for {text:?}", tts.name()));
    }
    Ok(out)
}

/// 10 ms RMS levels, and the threshold under which a window counts as silent
/// (2 % of the loudest window: TTS silence is not digital zero).
fn levels(x: &[i16]) -> (Vec<f32>, f32) {
    let r: Vec<f32> = x
        .chunks(160)
        .map(|c| (c.iter().map(|&s| f32::from(s).powi(2)).sum::<f32>() / c.len() as f32).sqrt())
        .collect();
    let max = r.iter().copied().fold(0.0, f32::max);
    (r, max * 0.02)
}

/// Trims the clip to its speech and finds its longest inner silence (the
/// comma pause); returns (speech, pause start, pause end) in the trimmed clip.
fn find_pause(x: &[i16]) -> Option<(Vec<i16>, usize, usize)> {
    let (r, thr) = levels(x);
    let first = r.iter().position(|&v| v > thr)?;
    let last = r.iter().rposition(|&v| v > thr)?;
    let mut best = (0usize, 0usize);
    let mut i = first;
    while i <= last {
        if r[i] <= thr {
            let j = (i..=last).find(|&j| r[j] > thr).unwrap_or(last + 1);
            if j - i > best.1 - best.0 {
                best = (i, j);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    if best.1 == best.0 {
        return None;
    }
    let speech = x[first * 160..((last + 1) * 160).min(x.len())].to_vec();
    Some((speech, (best.0 - first) * 160, (best.1 - first) * 160))
}

/// Builds an utterance from a clip whose comma pause is stretched to `gap_ms`.
pub fn with_pause(lang: Lang, text: &str, clip: &[i16], gap_ms: u32) -> Option<Utterance> {
    let (speech, p0, p1) = find_pause(clip)?;
    let ms = |n: usize| n * SAMPLE_RATE as usize / 1000;
    let gap = ms(gap_ms as usize);
    let lead = ms(LEAD_MS);
    let mut audio = vec![0i16; lead];
    audio.extend_from_slice(&speech[..p0]);
    let pause_start = audio.len();
    audio.extend(std::iter::repeat_n(0i16, gap));
    let pause_end = audio.len();
    audio.extend_from_slice(&speech[p1..]);
    let speech_end = audio.len();
    audio.extend(std::iter::repeat_n(0i16, ms(TAIL_MS)));
    Some(Utterance {
        lang,
        text: text.to_string(),
        audio,
        pause: (pause_start, pause_end),
        speech_end,
    })
}

/// The pause as the production VAD hears it: the longest unvoiced run between
/// the first and the last voiced frame (ms). Word edges that the VAD calls
/// unvoiced make it longer than the inserted silence.
pub fn vad_pause_ms(u: &Utterance) -> u32 {
    use super::{VoiceActivity, VoiceActivityDetector};
    let mut vad = VoiceActivityDetector::default();
    let voiced: Vec<bool> = frames(&u.audio).map(|f| vad.is_voice(&f)).collect();
    let (Some(first), Some(last)) = (
        voiced.iter().position(|&v| v),
        voiced.iter().rposition(|&v| v),
    ) else {
        return 0;
    };
    let mut best = 0u32;
    let mut run = 0u32;
    for &v in &voiced[first..=last] {
        run = if v { 0 } else { run + 1 };
        best = best.max(run);
    }
    best * FRAME_MS
}

/// What one configuration did on one utterance.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub cut_off: bool,
    /// From the end of the last word to the end of its turn (ms).
    pub delay_ms: Option<f64>,
    pub reason: Option<EndReason>,
    /// Model answers: (asked during the pause?, verdict).
    pub verdicts: Vec<(bool, SemanticVerdict)>,
}

/// Runs one utterance through a detector built by `make`.
pub fn run_one(u: &Utterance, mut det: EndOfTurnDetector) -> Outcome {
    let frame_samples = FRAME_SAMPLES;
    let mut cut_off = false;
    let mut delay_ms = None;
    let mut reason = None;
    let mut verdicts = Vec::new();
    let mut seen: Option<SemanticVerdict> = None;
    for (i, f) in frames(&u.audio).enumerate() {
        let ev = det.push(&f, false);
        let end_sample = (i + 1) * frame_samples;
        let v = det.semantic().and_then(|s| s.last_verdict());
        if v.is_some() && v != seen {
            seen = v;
            if let Some(v) = v {
                verdicts.push((end_sample <= u.pause.1, v));
            }
        }
        if let Some(TurnEvent::EndOfTurn {
            trailing_silence_ms,
            ..
        }) = ev
        {
            // Where the ended turn's speech stopped: before the resumption
            // means the customer was cut off at the pause.
            let last_voiced = end_sample as f64 - f64::from(trailing_silence_ms) * 16.0;
            if last_voiced < u.pause.1 as f64 {
                cut_off = true;
                continue;
            }
            let mut end_ms = end_sample as f64 / 16.0;
            let r = det.last_end_reason();
            if r == Some(EndReason::Semantic) {
                // The run waited for the model; live, its answer comes that
                // much after it was asked.
                if let Some(v) = seen {
                    let asked = last_voiced / 16.0 + f64::from(v.asked_at_silence_ms);
                    let answer = asked
                        + f64::from(v.prediction.features_ms + v.prediction.inference_ms)
                        + f64::from(FRAME_MS);
                    end_ms = end_ms.max(answer);
                }
            }
            delay_ms = Some(end_ms - u.speech_end as f64 / 16.0);
            reason = r;
            break;
        }
    }
    Outcome {
        cut_off,
        delay_ms,
        reason,
        verdicts,
    }
}

/// A configuration under test.
#[derive(Clone)]
pub struct Setup {
    pub name: String,
    pub turn: TurnConfig,
    pub model: Option<Arc<SmartTurn>>,
}

impl Setup {
    fn detector(&self) -> EndOfTurnDetector {
        let d = EndOfTurnDetector::new(self.turn.clone());
        match &self.model {
            Some(m) => d.with_semantic(m.clone(), SemanticMode::Lockstep),
            None => d,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Row {
    pub name: String,
    pub lang: Option<Lang>,
    pub utterances: usize,
    pub cut_off: usize,
    pub delays: Vec<f64>,
    pub semantic_ends: usize,
    pub pause_complete: usize,
    pub pause_verdicts: usize,
    pub end_complete: usize,
    pub end_verdicts: usize,
}

pub struct TurnBenchReport {
    pub english_voice: String,
    /// The pauses as the VAD hears them (ms), all utterances.
    pub vad_pauses_ms: Vec<f64>,
    pub rows: Vec<Row>,
    /// Features + ONNX per Smart Turn call (ms), all calls.
    pub model_ms: Vec<f64>,
    pub features_ms: Vec<f64>,
}

use crate::metrics::percentile as pct;

impl fmt::Display for TurnBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "end of turn, one sentence each with a mid-sentence pause of 400-600 ms (English: {}, Arabic: espeak-ng)",
            self.english_voice
        )?;
        writeln!(
            f,
            "pauses as the VAD hears them: p50 {:.0} ms, min {:.0}, max {:.0} (word edges count as silence)",
            pct(&self.vad_pauses_ms, 0.5),
            pct(&self.vad_pauses_ms, 0.0),
            pct(&self.vad_pauses_ms, 1.0)
        )?;
        writeln!(
            f,
            "{:<34} {:>4} {:>9} {:>16} {:>14} {:>16}",
            "configuration",
            "lang",
            "cut off",
            "delay p50/p95 ms",
            "semantic ends",
            "model: complete"
        )?;
        for r in &self.rows {
            let lang = r.lang.map(|l| l.code()).unwrap_or("all");
            let verdicts = if r.pause_verdicts + r.end_verdicts > 0 {
                format!(
                    "pause {}/{} end {}/{}",
                    r.pause_complete, r.pause_verdicts, r.end_complete, r.end_verdicts
                )
            } else {
                "-".into()
            };
            writeln!(
                f,
                "{:<34} {:>4} {:>4}/{:<4} {:>7.0} / {:<6.0} {:>14} {:>16}",
                r.name,
                lang,
                r.cut_off,
                r.utterances,
                pct(&r.delays, 0.5),
                pct(&r.delays, 0.95),
                r.semantic_ends,
                verdicts
            )?;
        }
        writeln!(
            f,
            "Smart Turn per decision (features + ONNX, 1 thread): p50 {:.1} ms, p95 {:.1} ms over {} calls (features alone p50 {:.1} ms)",
            pct(&self.model_ms, 0.5),
            pct(&self.model_ms, 0.95),
            self.model_ms.len(),
            pct(&self.features_ms, 0.5)
        )
    }
}

/// Synthesizes the sets and runs every configuration on them.
pub async fn run(limit: usize) -> Result<TurnBenchReport, String> {
    let model = SmartTurn::shared().map_err(|e| e.to_string())?;
    let espeak = EspeakTts::new();
    let piper = PiperTts::installed(PiperConfig::default()).ok();
    let english_voice = if piper.is_some() {
        "piper joe".to_string()
    } else {
        "espeak-ng (Piper not installed)".to_string()
    };
    let en_tts: &dyn TextToSpeech = match &piper {
        Some(p) => p,
        None => &espeak,
    };
    let voice = |lang| VoiceSpec {
        lang,
        voice: EspeakTts::default_voice(lang).into(),
        rate_wpm: 160,
        pitch: 50,
        persona: None,
    };
    let take = |n: usize| if limit == 0 { n } else { limit.min(n) };
    let mut utterances = Vec::new();
    let mut k = 0usize;
    for (lang, set, tts) in [
        (Lang::En, &ENGLISH[..take(ENGLISH.len())], en_tts),
        (
            Lang::Ar,
            &ARABIC[..take(ARABIC.len())],
            &espeak as &dyn TextToSpeech,
        ),
    ] {
        for text in set {
            let clip = speak(tts, text, &voice(lang)).await?;
            let gap = GAPS_MS[k % GAPS_MS.len()];
            k += 1;
            let u = with_pause(lang, text, &clip, gap)
                .ok_or_else(|| format!("no pause found in the audio of {text:?}"))?;
            utterances.push(u);
        }
    }

    let base = TurnConfig::default();
    let sem = base.semantic.clone();
    let setups = vec![
        Setup {
            name: format!("silence only ({} ms)", base.silence_hold_ms),
            turn: base.clone(),
            model: None,
        },
        Setup {
            name: format!(
                "smart turn ({}/{} ms)",
                sem.complete_hold_ms, sem.incomplete_hold_ms
            ),
            turn: base.clone(),
            model: Some(model.clone()),
        },
        Setup {
            name: format!(
                "smart turn, never sooner ({}/{} ms)",
                base.silence_hold_ms, sem.incomplete_hold_ms
            ),
            turn: TurnConfig {
                semantic: SemanticTurnConfig {
                    complete_hold_ms: base.silence_hold_ms,
                    ..sem.clone()
                },
                ..base.clone()
            },
            model: Some(model.clone()),
        },
    ];

    let mut rows = Vec::new();
    let mut model_ms = Vec::new();
    let mut features_ms = Vec::new();
    for s in &setups {
        for lang in [Lang::En, Lang::Ar] {
            let mut row = Row {
                name: s.name.clone(),
                lang: Some(lang),
                ..Row::default()
            };
            for u in utterances.iter().filter(|u| u.lang == lang) {
                let o = run_one(u, s.detector());
                row.utterances += 1;
                row.cut_off += usize::from(o.cut_off);
                if let Some(d) = o.delay_ms {
                    row.delays.push(d);
                }
                if o.reason == Some(EndReason::Semantic) {
                    row.semantic_ends += 1;
                }
                for (in_pause, v) in &o.verdicts {
                    let complete = v.prediction.is_complete();
                    if *in_pause {
                        row.pause_verdicts += 1;
                        row.pause_complete += usize::from(complete);
                    } else {
                        row.end_verdicts += 1;
                        row.end_complete += usize::from(complete);
                    }
                    model_ms.push(f64::from(
                        v.prediction.features_ms + v.prediction.inference_ms,
                    ));
                    features_ms.push(f64::from(v.prediction.features_ms));
                }
            }
            rows.push(row);
        }
    }
    Ok(TurnBenchReport {
        english_voice,
        vad_pauses_ms: utterances
            .iter()
            .map(|u| f64::from(vad_pause_ms(u)))
            .collect(),
        rows,
        model_ms,
        features_ms,
    })
}
