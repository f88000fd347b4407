//! An oracle recognizer for simulated calls: the simulator announces what the
//! customer is about to say, the audio goes through the real voice-activity and
//! end-of-turn path, and the "recognized" text is what was announced. Partials reveal
//! the words in proportion to the audio heard so far, like a streaming recognizer.
//! Latency and failure are configurable so tests can exercise slow or broken STT.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::{SpeechToText, SttError, SttResult, SttSession};
use crate::audio::{Frame, FRAME_MS};
use crate::lang::{detect, Lang, LangHint};

#[derive(Debug, Clone)]
struct Line {
    text: String,
    lang: Lang,
    duration_ms: u32,
}

/// What the simulated customer is saying, shared between the simulator and the
/// recognizer sessions.
#[derive(Debug, Clone, Default)]
pub struct SttScript {
    lines: Arc<Mutex<VecDeque<Line>>>,
}

impl SttScript {
    pub fn new() -> Self {
        Self::default()
    }

    /// Announces an utterance of `duration_ms` of audio that says `text`.
    pub fn announce(&self, text: &str, lang: Lang, duration_ms: u32) {
        if let Ok(mut lines) = self.lines.lock() {
            lines.push_back(Line {
                text: text.to_string(),
                lang,
                duration_ms,
            });
        }
    }

    fn peek(&self) -> Option<Line> {
        self.lines.lock().ok().and_then(|l| l.front().cloned())
    }

    fn take_all(&self) -> Vec<Line> {
        self.lines
            .lock()
            .map(|mut l| l.drain(..).collect())
            .unwrap_or_default()
    }
}

pub struct ScriptedSpeechToText {
    script: SttScript,
    latency: Duration,
    fail: bool,
}

impl ScriptedSpeechToText {
    pub fn new(script: SttScript) -> Self {
        Self {
            script,
            latency: Duration::ZERO,
            fail: false,
        }
    }

    /// Delay before each final result.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Every final result fails (for tests of recognition failure).
    pub fn failing(mut self) -> Self {
        self.fail = true;
        self
    }
}

impl SpeechToText for ScriptedSpeechToText {
    fn name(&self) -> &str {
        "scripted"
    }

    fn start(&self, hint: LangHint) -> Box<dyn SttSession> {
        Box::new(ScriptedSession {
            script: self.script.clone(),
            hint,
            latency: self.latency,
            fail: self.fail,
            heard_ms: 0,
            revealed_words: 0,
        })
    }
}

struct ScriptedSession {
    script: SttScript,
    hint: LangHint,
    latency: Duration,
    fail: bool,
    heard_ms: u32,
    revealed_words: usize,
}

#[async_trait]
impl SttSession for ScriptedSession {
    fn push(&mut self, _frame: &Frame) -> Option<String> {
        self.heard_ms += FRAME_MS;
        // A streaming recognizer refreshes its hypothesis a few times a second.
        if self.heard_ms % 200 != 0 {
            return None;
        }
        let line = self.script.peek()?;
        let words: Vec<&str> = line.text.split_whitespace().collect();
        let fraction = (self.heard_ms as f32 / line.duration_ms.max(1) as f32).min(1.0);
        let n = ((words.len() as f32) * fraction).floor() as usize;
        if n == 0 || n == self.revealed_words || n >= words.len() {
            return None;
        }
        self.revealed_words = n;
        Some(words[..n].join(" "))
    }

    async fn finish(self: Box<Self>) -> Result<SttResult, SttError> {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let lines = self.script.take_all();
        if self.fail {
            return Err(SttError::Failed("scripted recognizer set to fail".into()));
        }
        let text = lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let lang = match self.hint.fixed() {
            Some(l) => l,
            None => lines
                .first()
                .map(|l| l.lang)
                .unwrap_or_else(|| detect(&text, Lang::En)),
        };
        Ok(SttResult::new(text, lang))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn partials_grow_and_final_is_the_announced_text() {
        let script = SttScript::new();
        let stt = ScriptedSpeechToText::new(script.clone());
        script.announce("بدي أعرف وين صار الطلب تبعي", Lang::Ar, 2000);
        let mut s = stt.start(LangHint::Auto);
        let mut partials = Vec::new();
        for _ in 0..100 {
            if let Some(p) = s.push(&Frame::SILENCE) {
                partials.push(p);
            }
        }
        assert!(partials.len() >= 3, "{partials:?}");
        assert!(partials.windows(2).all(|w| w[0].len() < w[1].len()));
        let r = s.finish().await.unwrap();
        assert_eq!(r.text, "بدي أعرف وين صار الطلب تبعي");
        assert_eq!(r.lang, Lang::Ar);
        // Nothing announced: an empty transcript (the call treats it as noise).
        let r2 = stt.start(LangHint::En).finish().await.unwrap();
        assert_eq!(r2.text, "");
    }
}
