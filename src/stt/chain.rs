//! Recognizers in order: the first that is not known to be down hears the
//! customer as they speak (its partials are the call's); if it fails on the
//! utterance, the next is given the same audio and asked, and so on. The
//! result says who recognized it and who failed first, for the call's events.

use std::sync::Arc;

use async_trait::async_trait;

use crate::audio::{Frame, SAMPLE_RATE};
use crate::lang::LangHint;

use super::{SpeechToText, SttError, SttFailure, SttResult, SttSession};

/// Audio kept for the next recognizer (a turn is capped well below this).
const KEEP_SECONDS: usize = 60;

pub struct SttChain {
    first: Arc<dyn SpeechToText>,
    rest: Vec<Arc<dyn SpeechToText>>,
}

impl SttChain {
    pub fn new(first: Arc<dyn SpeechToText>, rest: Vec<Arc<dyn SpeechToText>>) -> Self {
        Self { first, rest }
    }

    fn all(&self) -> Vec<Arc<dyn SpeechToText>> {
        std::iter::once(self.first.clone())
            .chain(self.rest.iter().cloned())
            .collect()
    }
}

impl SpeechToText for SttChain {
    fn name(&self) -> &str {
        self.first.name()
    }

    fn skip_reason(&self) -> Option<String> {
        let all = self.all();
        all.iter()
            .all(|s| s.skip_reason().is_some())
            .then(|| "every recognizer is skipped for now".to_string())
    }

    fn unavailable(&self) -> Option<String> {
        let all = self.all();
        let reasons: Vec<String> = all.iter().filter_map(|s| s.unavailable()).collect();
        (reasons.len() == all.len()).then(|| reasons.join("; "))
    }

    fn start(&self, hint: LangHint) -> Box<dyn SttSession> {
        let all = self.all();
        // The first not known to be down listens live; the skipped ones are
        // not asked at all.
        let live = all.iter().position(|s| s.skip_reason().is_none());
        let session = live.map(|i| all[i].start(hint));
        // The audio is kept only when another recognizer could be asked after
        // the live one.
        let keep = live.is_some_and(|i| i + 1 < all.len());
        Box::new(ChainSession {
            all,
            live,
            session,
            hint,
            keep,
            frames: Vec::new(),
        })
    }
}

struct ChainSession {
    all: Vec<Arc<dyn SpeechToText>>,
    live: Option<usize>,
    session: Option<Box<dyn SttSession>>,
    hint: LangHint,
    keep: bool,
    frames: Vec<Frame>,
}

#[async_trait]
impl SttSession for ChainSession {
    fn push(&mut self, frame: &Frame) -> Option<String> {
        if self.keep
            && self.frames.len() * crate::audio::FRAME_SAMPLES < KEEP_SECONDS * SAMPLE_RATE as usize
        {
            self.frames.push(*frame);
        }
        self.session.as_mut().and_then(|s| s.push(frame))
    }

    async fn finish(self: Box<Self>) -> Result<SttResult, SttError> {
        let ChainSession {
            all,
            live,
            session,
            hint,
            frames,
            ..
        } = *self;
        let Some(first) = live else {
            return Err(SttError::Unavailable(
                "every recognizer is skipped for now after failing repeatedly".into(),
            ));
        };
        let mut failures = Vec::new();
        let mut last_err = None;
        let mut session = session;
        for (i, stt) in all.iter().enumerate().skip(first) {
            let s = match session.take() {
                Some(s) => s,
                None => {
                    if stt.skip_reason().is_some() {
                        continue;
                    }
                    // The same utterance, given again to the next recognizer.
                    let mut s = stt.start(hint);
                    for f in &frames {
                        let _ = s.push(f);
                    }
                    s
                }
            };
            match s.finish().await {
                Ok(mut r) => {
                    if i > 0 || !failures.is_empty() {
                        r.provider.get_or_insert_with(|| stt.name().to_string());
                    }
                    let mut all_failures = failures;
                    all_failures.append(&mut r.failures);
                    r.failures = all_failures;
                    return Ok(r);
                }
                Err(e) => {
                    tracing::warn!(
                        provider = stt.name(),
                        code = e.code(),
                        "recognizer failed; trying the next"
                    );
                    failures.push(SttFailure {
                        provider: stt.name().to_string(),
                        code: e.code().to_string(),
                        message: e.to_string(),
                    });
                    last_err = Some(e);
                }
            }
        }
        match (last_err, failures.len()) {
            (Some(e), 1) => Err(e),
            (Some(_), _) => Err(SttError::Failed(
                failures
                    .iter()
                    .map(|f| format!("{}: {}", f.provider, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            )),
            (None, _) => Err(SttError::Unavailable("no recognizer".into())),
        }
    }
}
