//! Accuracy of an analyzer on a labeled evaluation set.

use serde::{Deserialize, Serialize};

use super::{SentimentAnalyzer, SentimentError, SentimentLabel};
use crate::lang::Lang;

/// Result of [`evaluate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub lang: Lang,
    pub total: usize,
    pub correct: usize,
    /// `correct / total`.
    pub accuracy: f32,
    /// `confusion[gold][predicted]`, indexed by [`SentimentLabel::index`]
    /// (negative, neutral, positive).
    pub confusion: [[usize; 3]; 3],
}

impl std::fmt::Display for EvalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {}/{} correct, accuracy {:.3}",
            self.lang, self.correct, self.total, self.accuracy
        )?;
        writeln!(
            f,
            "{:>16} {:>9} {:>9} {:>9}",
            "gold \\ predicted", "negative", "neutral", "positive"
        )?;
        for label in SentimentLabel::ALL {
            let row = &self.confusion[label.index()];
            writeln!(
                f,
                "{:>16} {:>9} {:>9} {:>9}",
                label.as_str(),
                row[0],
                row[1],
                row[2]
            )?;
        }
        Ok(())
    }
}

/// Parses an evaluation set: one `label<TAB>sentence` per line, labels
/// `negative|neutral|positive`. Blank lines and lines starting with `#` are
/// skipped; a leading BOM and Windows line endings are tolerated.
pub fn parse_tsv(tsv: &str) -> Result<Vec<(SentimentLabel, &str)>, SentimentError> {
    let tsv = tsv.strip_prefix('\u{FEFF}').unwrap_or(tsv);
    let mut rows = Vec::new();
    for (n, line) in tsv.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let parse_error = |message: String| SentimentError::Parse {
            line: n + 1,
            message,
        };
        let (label, sentence) = line
            .split_once('\t')
            .ok_or_else(|| parse_error("expected label<TAB>sentence".to_string()))?;
        let label = SentimentLabel::parse(label)
            .ok_or_else(|| parse_error(format!("unknown label {:?}", label.trim())))?;
        let sentence = sentence.trim();
        if sentence.is_empty() {
            return Err(parse_error("empty sentence".to_string()));
        }
        rows.push((label, sentence));
    }
    Ok(rows)
}

/// Runs `analyzer` over every sentence of `tsv` (see [`parse_tsv`]) in `lang`
/// and compares its labels with the gold labels.
pub fn evaluate(
    analyzer: &dyn SentimentAnalyzer,
    lang: Lang,
    tsv: &str,
) -> Result<EvalReport, SentimentError> {
    let rows = parse_tsv(tsv)?;
    if rows.is_empty() {
        return Err(SentimentError::Empty);
    }
    let mut confusion = [[0usize; 3]; 3];
    for (gold, sentence) in &rows {
        let predicted = analyzer.analyze(sentence, lang).label;
        confusion[gold.index()][predicted.index()] += 1;
    }
    let total = rows.len();
    let correct = (0..3).map(|i| confusion[i][i]).sum();
    Ok(EvalReport {
        lang,
        total,
        correct,
        accuracy: correct as f32 / total as f32,
        confusion,
    })
}
