//! Measuring local recognition: sentence sets spoken by espeak-ng, word error
//! rate, real-time factor, language detection and streaming partials. Used by
//! `switchboard bench-stt` and by the tests.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::audio::{decode_wav_bytes, frames, SAMPLE_RATE};
use crate::lang::{Lang, LangHint};

use super::whisper::{WhisperModel, WhisperOptions, WhisperSize, WhisperSpeechToText};
use super::SpeechToText;

/// One sentence and how espeak-ng speaks it.
#[derive(Debug, Clone)]
pub struct EvalItem {
    pub text: &'static str,
    pub lang: Lang,
    pub voice: &'static str,
    pub rate_wpm: u32,
}

const ENGLISH: [&str; 36] = [
    "Hello, I would like to check the status of my order.",
    "My internet connection has been down since yesterday morning.",
    "I was charged twice for the same subscription this month.",
    "Can you tell me when my package will arrive?",
    "I want to speak to a manager right now.",
    "The app keeps crashing every time I open it.",
    "Please send me a copy of my last invoice.",
    "I would like to upgrade my plan to the premium package.",
    "How much does the family plan cost per month?",
    "My password reset email never arrived.",
    "The delivery driver left the box at the wrong address.",
    "I need to update the phone number on my account.",
    "Thank you so much for your help today.",
    "Is there a discount for students or teachers?",
    "I have been waiting on hold for almost an hour.",
    "The product I received is broken and I want a refund.",
    "Could you explain the charges on my bill?",
    "I would like to cancel my subscription please.",
    "What are your opening hours on the weekend?",
    "My card was declined but I have enough money.",
    "The website says my order was shipped last week.",
    "Can I change the delivery date to next Friday?",
    "I am not happy with the service at all.",
    "Please call me back later this afternoon.",
    "Do you have this model in a larger size?",
    "The technician never showed up for the appointment.",
    "I want to add another user to my account.",
    "Your new update made everything much slower.",
    "Where can I find the tracking number for my parcel?",
    "I think there is a mistake in my last payment.",
    "Can you help me set up automatic payments?",
    "The sound quality on my calls is very poor.",
    "I would like to buy two more licenses for my team.",
    "Is my personal data safe with your company?",
    "Everything works perfectly now, thank you.",
    "I moved to a new city and need to transfer my service.",
];

const ARABIC: [&str; 20] = [
    "مرحبا، أريد أن أعرف حالة طلبي من فضلك.",
    "الإنترنت لا يعمل عندي منذ يوم أمس.",
    "تم خصم المبلغ مرتين من بطاقتي.",
    "متى سيصل الطلب إلى عنواني؟",
    "أريد التحدث مع المدير الآن.",
    "التطبيق يتوقف كل مرة أفتحه.",
    "أرسل لي نسخة من الفاتورة الأخيرة من فضلك.",
    "أريد أن أشتري الباقة الجديدة.",
    "كم سعر الاشتراك الشهري؟",
    "لم تصلني رسالة تغيير كلمة المرور.",
    "أريد إلغاء الاشتراك.",
    "شكرا جزيلا على مساعدتك.",
    "المنتج وصل مكسورا وأريد استرجاع المبلغ.",
    "هل يوجد خصم للطلاب؟",
    "أنتظر على الخط منذ ساعة تقريبا.",
    "أريد تغيير رقم الهاتف في حسابي.",
    "الخدمة سيئة جدا ولست راضيا.",
    "هل يمكنك مساعدتي في الدفع؟",
    "الطلب لم يصل حتى الآن.",
    "كل شيء يعمل الآن، شكرا لك.",
];

/// espeak-ng's English voices and variants, cycled over the sentences.
const ENGLISH_VOICES: [(&str, u32); 6] = [
    ("en-us", 165),
    ("en-gb", 160),
    ("en-us+f3", 170),
    ("en-gb-x-rp+m3", 155),
    ("en-029", 160),
    ("en-gb-scotland+f2", 150),
];

const ARABIC_VOICES: [(&str, u32); 2] = [("ar", 150), ("ar+f3", 140)];

/// 36 English call-center sentences over six espeak-ng voices.
pub fn english_set() -> Vec<EvalItem> {
    ENGLISH
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let (voice, rate_wpm) = ENGLISH_VOICES[i % ENGLISH_VOICES.len()];
            EvalItem {
                text,
                lang: Lang::En,
                voice,
                rate_wpm,
            }
        })
        .collect()
}

/// The voice name of items spoken by the Piper voice (piper-joe) instead of
/// espeak-ng.
pub const PIPER_VOICE: &str = "piper";

/// The same 36 English sentences spoken by the Piper neural voice.
pub fn english_piper_set() -> Vec<EvalItem> {
    ENGLISH
        .iter()
        .map(|text| EvalItem {
            text,
            lang: Lang::En,
            voice: PIPER_VOICE,
            rate_wpm: 0,
        })
        .collect()
}

/// Speaks `item` with its voice: the Piper voice for [`PIPER_VOICE`] (which
/// must be installed), espeak-ng otherwise; 300 ms of silence either side.
pub async fn speak(espeak: &Path, item: &EvalItem) -> Result<Vec<i16>, String> {
    if item.voice != PIPER_VOICE {
        return synthesize(espeak, item);
    }
    use crate::tts::{PiperConfig, PiperTts, TextToSpeech, VoiceSpec};
    use futures::StreamExt;
    let tts = PiperTts::installed(PiperConfig {
        espeak_binary: espeak.to_path_buf(),
        ..PiperConfig::default()
    })
    .map_err(|e| e.to_string())?;
    let voice = VoiceSpec {
        lang: Lang::En,
        voice: String::new(),
        rate_wpm: 0,
        pitch: 0,
        persona: None,
    };
    let pad = vec![0i16; SAMPLE_RATE as usize * 3 / 10];
    let mut audio = pad.clone();
    let mut stream = tts.synthesize(item.text, &voice);
    while let Some(chunk) = stream.next().await {
        audio.extend(chunk.map_err(|e| format!("Piper: {e}"))?);
    }
    audio.extend(pad);
    Ok(audio)
}

/// 20 Arabic call-center sentences over two espeak-ng voices.
pub fn arabic_set() -> Vec<EvalItem> {
    ARABIC
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let (voice, rate_wpm) = ARABIC_VOICES[i % ARABIC_VOICES.len()];
            EvalItem {
                text,
                lang: Lang::Ar,
                voice,
                rate_wpm,
            }
        })
        .collect()
}

/// Speaks `item` with espeak-ng: 16 kHz mono, with 300 ms of silence either side.
pub fn synthesize(espeak: &Path, item: &EvalItem) -> Result<Vec<i16>, String> {
    let out = std::process::Command::new(espeak)
        .args([
            "-v",
            item.voice,
            "-s",
            &item.rate_wpm.to_string(),
            "--stdout",
        ])
        .arg(item.text)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", espeak.display()))?;
    if !out.status.success() {
        return Err(format!(
            "espeak-ng -v {} failed: {}",
            item.voice,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let speech = decode_wav_bytes(&out.stdout).map_err(|e| e.to_string())?;
    let pad = vec![0i16; SAMPLE_RATE as usize * 3 / 10];
    Ok([pad.as_slice(), speech.as_slice(), pad.as_slice()].concat())
}

/// Words for scoring: lower case, no punctuation; Arabic without diacritics and
/// with one spelling of alef, ta marbuta and alef maqsura.
pub fn normalize_words(text: &str) -> Vec<String> {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        let c = match c {
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ة' => 'ه',
            'ى' => 'ي',
            '\u{064B}'..='\u{0652}' | '\u{0670}' | '\u{0640}' => continue,
            '-' | '—' | '/' => ' ',
            c if c.is_alphanumeric() || c.is_whitespace() => c,
            _ => continue,
        };
        s.extend(c.to_lowercase());
    }
    s.split_whitespace().map(str::to_string).collect()
}

/// Word edit distance between reference and hypothesis, and the reference length.
pub fn word_errors(reference: &str, hypothesis: &str) -> (usize, usize) {
    let r = normalize_words(reference);
    let h = normalize_words(hypothesis);
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let sub = prev[j] + usize::from(rw != hw);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    (prev[h.len()], r.len())
}

/// Results of one model on one sentence set.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SetResult {
    pub model: String,
    pub set: String,
    /// The language hint: "auto", "en" or "ar".
    pub hint: String,
    pub sentences: usize,
    pub words: usize,
    pub errors: usize,
    pub wer: f64,
    /// Decode time over audio time, summed over the set.
    pub rtf: f64,
    pub decode_ms_p50: f64,
    pub decode_ms_p95: f64,
    /// Share of sentences whose detected language was right (hint: auto).
    pub lang_accuracy: Option<f64>,
    pub audio_s: f64,
    /// The worst sentences: (reference, hypothesis).
    pub worst: Vec<(String, String)>,
    /// WER per espeak-ng voice, in the order the voices first appear.
    pub by_voice: Vec<(String, f64)>,
}

use crate::metrics::percentile;

/// Transcribes every sentence of `items` (spoken by `espeak`) with `model`.
pub async fn run_set(
    model: &WhisperModel,
    espeak: &Path,
    set_name: &str,
    items: &[EvalItem],
    hint: LangHint,
) -> Result<SetResult, String> {
    let mut errors = 0;
    let mut words = 0;
    let mut decode_total = 0.0;
    let mut audio_total = 0.0;
    let mut times = Vec::with_capacity(items.len());
    let mut lang_right = 0usize;
    let mut scored = Vec::with_capacity(items.len());
    let mut voices: Vec<(String, usize, usize)> = Vec::new();
    for item in items {
        let audio = speak(espeak, item).await?;
        let t = model
            .transcribe(&audio, hint)
            .await
            .map_err(|e| e.to_string())?;
        let (e, n) = word_errors(item.text, &t.text);
        errors += e;
        words += n;
        match voices.iter_mut().find(|v| v.0 == item.voice) {
            Some(v) => {
                v.1 += e;
                v.2 += n;
            }
            None => voices.push((item.voice.to_string(), e, n)),
        }
        decode_total += t.decode_ms;
        audio_total += audio.len() as f64 / f64::from(SAMPLE_RATE) * 1000.0;
        times.push(t.decode_ms);
        if t.lang == item.lang {
            lang_right += 1;
        }
        scored.push((e as f64 / n.max(1) as f64, item.text.to_string(), t.text));
    }
    times.sort_by(f64::total_cmp);
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(SetResult {
        model: model.size().model_name().into(),
        set: set_name.into(),
        hint: match hint {
            LangHint::Auto => "auto",
            LangHint::En => "en",
            LangHint::Ar => "ar",
        }
        .into(),
        sentences: items.len(),
        words,
        errors,
        wer: errors as f64 / words.max(1) as f64,
        rtf: decode_total / audio_total.max(1.0),
        decode_ms_p50: percentile(&times, 0.5),
        decode_ms_p95: percentile(&times, 0.95),
        lang_accuracy: (hint == LangHint::Auto)
            .then(|| lang_right as f64 / items.len().max(1) as f64),
        audio_s: audio_total / 1000.0,
        worst: scored
            .into_iter()
            .take(3)
            .filter(|s| s.0 > 0.0)
            .map(|s| (s.1, s.2))
            .collect(),
        by_voice: voices
            .into_iter()
            .map(|(v, e, n)| (v, e as f64 / n.max(1) as f64))
            .collect(),
    })
}

/// Streaming behaviour on utterances pushed in real time, 20 ms a frame.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StreamResult {
    pub model: String,
    pub utterances: usize,
    /// Partials per second of speech.
    pub partials_per_s: f64,
    /// Audio time at which the first partial arrived, median.
    pub first_partial_s_p50: f64,
    /// Time between consecutive partials, median.
    pub partial_gap_ms_p50: f64,
    /// From the end of turn (500 ms of silence after the speech) to the final
    /// text (`finish`), median and p95.
    pub final_ms_p50: f64,
    pub final_ms_p95: f64,
    pub wer: f64,
}

/// Pushes each item through a session in real time and times partials and finals.
pub async fn run_stream(
    model: &WhisperModel,
    espeak: &Path,
    items: &[EvalItem],
    hint: LangHint,
) -> Result<StreamResult, String> {
    let stt = WhisperSpeechToText::new(model.clone());
    let mut firsts = Vec::new();
    let mut gaps = Vec::new();
    let mut finals = Vec::new();
    let mut partials = 0usize;
    let mut speech_s = 0.0;
    let (mut errors, mut words) = (0, 0);
    for item in items {
        let audio = synthesize(espeak, item)?;
        speech_s += audio.len() as f64 / f64::from(SAMPLE_RATE);
        let mut session = stt.start(hint);
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut last: Option<Instant> = None;
        for f in frames(&audio) {
            tick.tick().await;
            if session.push(&f).is_some() {
                let now = Instant::now();
                partials += 1;
                match last {
                    None => firsts.push(now.duration_since(start).as_secs_f64()),
                    Some(l) => gaps.push(now.duration_since(l).as_secs_f64() * 1000.0),
                }
                last = Some(now);
            }
        }
        // The call's end of turn: 500 ms of silence after the speech (the clip
        // ends with 300 ms of it).
        for _ in 0..10 {
            tick.tick().await;
            let _ = session.push(&crate::audio::Frame::SILENCE);
        }
        let t = Instant::now();
        let r = session.finish().await.map_err(|e| e.to_string())?;
        finals.push(t.elapsed().as_secs_f64() * 1000.0);
        let (e, n) = word_errors(item.text, &r.text);
        errors += e;
        words += n;
    }
    for v in [&mut firsts, &mut gaps, &mut finals] {
        v.sort_by(f64::total_cmp);
    }
    Ok(StreamResult {
        model: model.size().model_name().into(),
        utterances: items.len(),
        partials_per_s: partials as f64 / speech_s.max(0.001),
        first_partial_s_p50: percentile(&firsts, 0.5),
        partial_gap_ms_p50: percentile(&gaps, 0.5),
        final_ms_p50: percentile(&finals, 0.5),
        final_ms_p95: percentile(&finals, 0.95),
        wer: errors as f64 / words.max(1) as f64,
    })
}

/// Loads an installed model for measuring, not shared with calls.
pub fn load_for_bench(
    models_dir: &Path,
    size: WhisperSize,
    opts: WhisperOptions,
) -> Result<WhisperModel, String> {
    let path = crate::models::installed_file_in(models_dir, size.model_name())
        .map_err(|e| e.to_string())?;
    WhisperModel::load(&path, size, opts).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_error_rate_ignores_case_punctuation_and_arabic_spelling() {
        assert_eq!(word_errors("Hello, world!", "hello world"), (0, 2));
        assert_eq!(word_errors("I want a refund", "I want refund"), (1, 4));
        assert_eq!(word_errors("pay my bill", "pay my will please"), (2, 3));
        assert_eq!(
            word_errors("أريد إلغاء الاشتراك.", "اريد الغاء الاشتراك"),
            (0, 3)
        );
        assert_eq!(word_errors("حالة طلبي", "حاله طلبي"), (0, 2));
    }

    #[test]
    fn sets_are_big_enough() {
        assert!(english_set().len() >= 30);
        assert!(arabic_set().len() >= 15);
    }
}

/// What `switchboard bench-stt` measures.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub models: Vec<WhisperSize>,
    pub models_dir: std::path::PathBuf,
    pub espeak: std::path::PathBuf,
    /// Overrides [`WhisperOptions::final_min_window_s`] (and the partials').
    pub min_window_s: Option<f32>,
    /// Also stream a few utterances in real time (partials, final latency).
    pub stream: bool,
    /// Only the first N sentences of each set (0: all).
    pub limit: usize,
}

/// Runs the benchmark; the report's last line is JSON with every figure.
pub async fn bench(opts: &BenchOptions) -> Result<String, String> {
    let mut lines = Vec::new();
    let mut sets = Vec::new();
    let mut streams = Vec::new();
    let mut wopts = WhisperOptions::default();
    if let Some(w) = opts.min_window_s {
        wopts.final_min_window_s = w;
        wopts.partial_min_window_s = w;
    }
    lines.push(format!(
        "whisper.cpp {} on {} cores: {} threads per decode, greedy, encoder window ≥ {} s",
        whisper_rs::WHISPER_CPP_VERSION,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        wopts.threads,
        wopts.final_min_window_s
    ));
    let take = |v: Vec<EvalItem>| -> Vec<EvalItem> {
        if opts.limit > 0 {
            v.into_iter().take(opts.limit).collect()
        } else {
            v
        }
    };
    for &size in &opts.models {
        let model = load_for_bench(&opts.models_dir, size, wopts.clone())?;
        let mut runs = vec![(
            "english",
            take(english_set()),
            if model.is_multilingual() {
                LangHint::Auto
            } else {
                LangHint::En
            },
        )];
        let english_hint = runs[0].2;
        match crate::models::installed_file(crate::tts::piper::MODEL_NAME) {
            Ok(_) => runs.push(("english-piper", take(english_piper_set()), english_hint)),
            Err(e) => lines.push(format!("English spoken by Piper: skipped ({e})")),
        }
        if model.is_multilingual() {
            runs.push(("arabic", take(arabic_set()), LangHint::Auto));
            runs.push(("arabic", take(arabic_set()), LangHint::Ar));
        }
        // Warm-up: the first decode pays for buffer allocation.
        let _ = model
            .transcribe(&vec![0i16; SAMPLE_RATE as usize], LangHint::En)
            .await;
        for (name, items, hint) in runs {
            let r = run_set(&model, &opts.espeak, name, &items, hint).await?;
            lines.push(format!(
                "{:<16} {:<8} {} sentences, {:.0} s of audio, hint {}: WER {:.1} % ({} / {} words), RTF {:.3}, decode p50 {:.0} ms / p95 {:.0} ms{}",
                r.model,
                r.set,
                r.sentences,
                r.audio_s,
                r.hint,
                r.wer * 100.0,
                r.errors,
                r.words,
                r.rtf,
                r.decode_ms_p50,
                r.decode_ms_p95,
                r.lang_accuracy
                    .map(|a| format!(", language detected right {:.0} %", a * 100.0))
                    .unwrap_or_default()
            ));
            lines.push(format!(
                "    by voice: {}",
                r.by_voice
                    .iter()
                    .map(|(v, w)| format!("{v} {:.1} %", w * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            for (reference, hypothesis) in &r.worst {
                lines.push(format!("    e.g. {reference:?} → {hypothesis:?}"));
            }
            sets.push(r);
        }
        if opts.stream {
            let mut items: Vec<EvalItem> = english_set();
            items.sort_by_key(|i| std::cmp::Reverse(i.text.len()));
            items.truncate(6);
            let hint = if model.is_multilingual() {
                LangHint::Auto
            } else {
                LangHint::En
            };
            let s = run_stream(&model, &opts.espeak, &items, hint).await?;
            lines.push(format!(
                "{:<16} stream   {} utterances pushed in real time: {:.1} partials/s, first partial {:.2} s into the audio, partials every {:.0} ms (p50), final {:.0} ms (p50) / {:.0} ms (p95) after the end of turn, WER {:.1} %",
                s.model,
                s.utterances,
                s.partials_per_s,
                s.first_partial_s_p50,
                s.partial_gap_ms_p50,
                s.final_ms_p50,
                s.final_ms_p95,
                s.wer * 100.0
            ));
            streams.push(s);
        }
    }
    let json = serde_json::json!({"sets": sets, "streams": streams, "min_window_s": wopts.final_min_window_s, "threads": wopts.threads});
    lines.push(json.to_string());
    Ok(lines.join("\n"))
}
