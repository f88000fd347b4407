//! `switchboard bench-tts`: time to first audio and real-time factor of the
//! local voices (Piper for English, espeak-ng), sentence by sentence as a call
//! speaks them.

use std::fmt;
use std::time::Instant;

use futures::StreamExt;

use super::{EspeakTts, PiperConfig, PiperTts, TextToSpeech, VoiceSpec};
use crate::audio::SAMPLE_RATE;
use crate::lang::Lang;

/// Agent-style English sentences, short to long.
pub const SENTENCES: [&str; 10] = [
    "Sure.",
    "Let me check that for you.",
    "Your order shipped yesterday and should arrive on Friday.",
    "I can help you with your bill.",
    "I have opened a ticket, and our support team will call you back within one day.",
    "Is there anything else I can help you with today?",
    "Your current plan is the basic plan at twenty dollars a month.",
    "I am sorry to hear that your internet keeps disconnecting.",
    "Could you please confirm the last four digits of your phone number?",
    "Thank you for calling, and have a great day.",
];

#[derive(Debug, Clone, Default)]
pub struct VoiceRow {
    pub name: String,
    /// Stream start to first chunk, per sentence (ms).
    pub first_audio_ms: Vec<f64>,
    /// Synthesis time / audio duration, per sentence.
    pub rtf: Vec<f64>,
    pub audio_s: f64,
    pub synth_s: f64,
    pub error: Option<String>,
}

pub struct TtsBenchReport {
    pub runs: usize,
    pub rows: Vec<VoiceRow>,
}

use crate::metrics::percentile as pct;

impl fmt::Display for TtsBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "local English voices, {} sentences x {} runs (first run of each voice not counted)",
            SENTENCES.len(),
            self.runs
        )?;
        writeln!(
            f,
            "{:<12} {:>24} {:>22} {:>10}",
            "voice", "first audio p50/p95 ms", "RTF p50/p95 (total)", "audio s"
        )?;
        for r in &self.rows {
            if let Some(e) = &r.error {
                writeln!(f, "{:<12} unavailable: {e}", r.name)?;
                continue;
            }
            writeln!(
                f,
                "{:<12} {:>11.0} / {:<10.0} {:>7.3} / {:.3} ({:.3}) {:>10.1}",
                r.name,
                pct(&r.first_audio_ms, 0.5),
                pct(&r.first_audio_ms, 0.95),
                pct(&r.rtf, 0.5),
                pct(&r.rtf, 0.95),
                r.synth_s / r.audio_s.max(1e-9),
                r.audio_s
            )?;
        }
        Ok(())
    }
}

async fn measure(tts: &dyn TextToSpeech, runs: usize) -> VoiceRow {
    let voice = VoiceSpec {
        lang: Lang::En,
        voice: "en-us".into(),
        rate_wpm: 165,
        pitch: 50,
        persona: None,
    };
    let mut row = VoiceRow {
        name: tts.name().to_string(),
        ..VoiceRow::default()
    };
    // Warm-up: first inference allocates and optimizes.
    let mut warm = tts.synthesize(SENTENCES[1], &voice);
    while let Some(c) = warm.next().await {
        if let Err(e) = c {
            row.error = Some(e.to_string());
            return row;
        }
    }
    for _ in 0..runs {
        for text in SENTENCES {
            let t0 = Instant::now();
            let mut first = None;
            let mut samples = 0usize;
            let mut stream = tts.synthesize(text, &voice);
            while let Some(c) = stream.next().await {
                match c {
                    Ok(c) => {
                        first.get_or_insert_with(|| t0.elapsed());
                        samples += c.len();
                    }
                    Err(e) => {
                        row.error = Some(e.to_string());
                        return row;
                    }
                }
            }
            let total = t0.elapsed().as_secs_f64();
            let audio = samples as f64 / f64::from(SAMPLE_RATE);
            if let Some(first) = first {
                row.first_audio_ms.push(first.as_secs_f64() * 1000.0);
            }
            row.rtf.push(total / audio.max(1e-9));
            row.audio_s += audio;
            row.synth_s += total;
        }
    }
    row
}

/// Measures Piper (if installed) and espeak-ng.
pub async fn run(runs: usize) -> TtsBenchReport {
    let runs = runs.max(1);
    let mut rows = Vec::new();
    match PiperTts::installed(PiperConfig::default()) {
        Ok(p) => rows.push(measure(&p, runs).await),
        Err(e) => rows.push(VoiceRow {
            name: "piper".into(),
            error: Some(e.to_string()),
            ..VoiceRow::default()
        }),
    }
    rows.push(measure(&EspeakTts::new(), runs).await);
    TtsBenchReport { runs, rows }
}
