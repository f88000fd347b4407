//! Sentiment per customer turn (English: VADER; Arabic: our own lexicon) and a smoothed trend per call.
//!
//! OWNER: sentiment helper.
//!
//! Both languages produce a VADER-style compound score in `-1..=1`, so one set of
//! thresholds ([`label_for`]) and one trend ([`SentimentTrend`]) serve every call
//! regardless of the language the customer speaks.
//!
//! * English goes through the `vader_sentiment` crate with a small call-center
//!   lexicon layered on top (see `english.rs`).
//! * Arabic goes through our own rule-based scorer (see `arabic.rs`) with a
//!   compiled-in lexicon of MSA and Levantine/Gulf/Egyptian dialect words and
//!   phrases (see `arabic_lexicon.rs`), modelled on VADER's rules so that scores
//!   are comparable across languages.
//!
//! Everything is pure CPU work over lexicons built once per process, so
//! [`SentimentAnalyzer::analyze`] takes microseconds and never blocks.

mod arabic;
mod arabic_lexicon;
mod english;
mod eval;
pub mod trend;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::lang::{detect, Lang};

pub use eval::{evaluate, parse_tsv, EvalReport};
pub use trend::SentimentTrend;

/// A coarse sentiment class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum SentimentLabel {
    Negative,
    Neutral,
    Positive,
}

impl SentimentLabel {
    /// All labels in index order (the row/column order of [`EvalReport::confusion`]).
    pub const ALL: [SentimentLabel; 3] = [
        SentimentLabel::Negative,
        SentimentLabel::Neutral,
        SentimentLabel::Positive,
    ];

    /// Position of this label in [`SentimentLabel::ALL`].
    pub fn index(self) -> usize {
        match self {
            SentimentLabel::Negative => 0,
            SentimentLabel::Neutral => 1,
            SentimentLabel::Positive => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SentimentLabel::Negative => "negative",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Positive => "positive",
        }
    }

    /// Parses `negative|neutral|positive` (case-insensitive; `neg|neu|pos` too).
    pub fn parse(s: &str) -> Option<SentimentLabel> {
        match s.trim().to_ascii_lowercase().as_str() {
            "negative" | "neg" => Some(SentimentLabel::Negative),
            "neutral" | "neu" => Some(SentimentLabel::Neutral),
            "positive" | "pos" => Some(SentimentLabel::Positive),
            _ => None,
        }
    }
}

impl std::fmt::Display for SentimentLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The sentiment of one utterance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Sentiment {
    /// Compound polarity in `-1..=1` (VADER's "compound" scale); always finite.
    pub score: f32,
    pub label: SentimentLabel,
}

impl Sentiment {
    /// Builds a sentiment from a raw score, clamping it into `-1..=1` and mapping
    /// NaN to 0 so that downstream averaging can never be poisoned.
    pub fn from_score(score: f32) -> Sentiment {
        let score = if score.is_finite() {
            score.clamp(-1.0, 1.0)
        } else {
            0.0
        };
        Sentiment {
            score,
            label: label_for(score),
        }
    }

    pub fn neutral() -> Sentiment {
        Sentiment::from_score(0.0)
    }
}

/// Scores below `-POLARITY_THRESHOLD` are negative, above `+POLARITY_THRESHOLD`
/// positive, the rest neutral.
///
/// This is VADER's recommended ±0.05. On our evaluation sets
/// (`tests/data/sentiment/*.tsv`, see the `threshold_sweep` test) accuracy is
/// flat for any threshold from ±0.02 to ±0.20 and drops at ±0.30: scores are
/// either exactly 0 (no sentiment cue) or at least ~0.13 in magnitude (one
/// word of valence 0.5 normalises to 0.128). So the threshold only decides
/// whether a single mild cue counts, and in call-center speech it should: one
/// "late" or "متأخر" usually *is* the customer's whole complaint. Polite and
/// discourse words that would make a low threshold noisy ("please", "ok",
/// "ماشي") are neutralised in the lexicons instead.
pub const POLARITY_THRESHOLD: f32 = 0.05;

/// Maps a compound score to a label using [`POLARITY_THRESHOLD`]. NaN is neutral.
pub fn label_for(score: f32) -> SentimentLabel {
    if score >= POLARITY_THRESHOLD {
        SentimentLabel::Positive
    } else if score <= -POLARITY_THRESHOLD {
        SentimentLabel::Negative
    } else {
        SentimentLabel::Neutral
    }
}

/// Errors of this module (only evaluation can fail; analysis never does).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SentimentError {
    #[error("evaluation set line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("evaluation set has no labeled lines")]
    Empty,
}

/// Something that scores the sentiment of one customer utterance.
///
/// Implementations must be cheap and non-blocking: the engine calls this on
/// every final transcript of hundreds of concurrent calls.
pub trait SentimentAnalyzer: Send + Sync {
    fn name(&self) -> &str;
    fn analyze(&self, text: &str, lang: Lang) -> Sentiment;
}

/// Longest input we look at. Customer turns are far shorter; the cap only bounds
/// the cost of pathological input (a stuck STT stream, a pasted document).
pub const MAX_ANALYZED_CHARS: usize = 4096;

/// Lexicon/rule-based analyzer: English through VADER, Arabic through our own
/// lexicon. Stateless and free to share; all lexicons are process-wide.
#[derive(Debug, Clone, Copy)]
pub struct LexiconSentiment;

impl LexiconSentiment {
    /// Creates the analyzer and builds both lexicons now, so that the first
    /// customer turn of the first call does not pay the one-off parsing cost.
    pub fn new() -> LexiconSentiment {
        english::warm_up();
        arabic::warm_up();
        LexiconSentiment
    }
}

impl Default for LexiconSentiment {
    fn default() -> Self {
        LexiconSentiment::new()
    }
}

impl SentimentAnalyzer for LexiconSentiment {
    fn name(&self) -> &str {
        "lexicon"
    }

    /// `lang` is the language the call believes the customer speaks, but STT
    /// language hints are sometimes wrong and customers switch language
    /// mid-call, so the script of the text itself decides when it clearly
    /// disagrees: Arabic-script text is always scored by the Arabic scorer
    /// (which also reads embedded English words), and text with no Arabic
    /// letters at all goes to VADER, whose rules for English are richer.
    fn analyze(&self, text: &str, lang: Lang) -> Sentiment {
        let text = truncate_chars(text, MAX_ANALYZED_CHARS);
        let has_arabic = text.chars().any(crate::lang::is_arabic_letter);
        let effective = match lang {
            Lang::Ar if !has_arabic => Lang::En,
            Lang::En if has_arabic => detect(text, Lang::En),
            other => other,
        };
        let score = match effective {
            Lang::En => english::score(text),
            Lang::Ar => arabic::score(text),
        };
        Sentiment::from_score(score)
    }
}

fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((idx, _)) => &text[..idx],
        None => text,
    }
}

/// Characters that carry no meaning for sentiment but can split or disguise
/// words: bidi controls, zero-width joiners, BOM and other control characters.
/// Removing them (rather than treating them as spaces) keeps "go\u{200B}od" as
/// "good" and Arabic words with stray ZWNJ intact.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}'
        | '\u{061C}'
        | '\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFB}')
        || (c.is_control() && !c.is_whitespace())
}

/// VADER's normalisation of a summed valence into `-1..=1`; alpha 15 is the
/// "expected maximum" VADER uses, kept identical so both languages share scale.
pub(crate) fn normalize_valence(sum: f32) -> f32 {
    if !sum.is_finite() {
        return 0.0;
    }
    (sum / (sum * sum + 15.0).sqrt()).clamp(-1.0, 1.0)
}
