//! Past calls for trainers: recordings, the replay of a call (lines, sentiment,
//! persona changes and supervisor actions on one timeline), exports, retention and
//! re-running a call through today's pipeline.

pub mod bench;
pub mod export;
mod load;
pub mod recording;
pub mod rerun;
pub mod retention;

pub use load::{
    load_replay, load_replay_in, CallReplay, LineLatency, ReplayLine, ReplayMarker, SentimentPoint,
    Waveform,
};

/// Extra audio blanked on each side of a masked number: a line's words are not
/// spread evenly over its audio, so the span is widened to cover the whole number.
const BLANK_MARGIN_MS: u64 = 400;

/// The parts of a line's audio `[start_ms, end_ms)` to blank, for the card numbers
/// and IBANs in `text`: each masked span is mapped onto the line by its share of
/// the text, widened by [`BLANK_MARGIN_MS`] and kept inside the line.
pub fn blank_spans(text: &str, start_ms: u64, end_ms: u64) -> Vec<(u64, u64)> {
    let spans = crate::redact::redact(text).spans;
    if spans.is_empty() || end_ms <= start_ms {
        return Vec::new();
    }
    let chars = text.chars().count().max(1) as u64;
    let len = end_ms - start_ms;
    spans
        .into_iter()
        .map(|(a, z)| {
            let a = start_ms + len * a as u64 / chars;
            let z = start_ms + len * z as u64 / chars;
            (
                a.saturating_sub(BLANK_MARGIN_MS).max(start_ms),
                (z + BLANK_MARGIN_MS).min(end_ms),
            )
        })
        .collect()
}

/// `ms` as `H:MM:SS` or `M:SS`, for people.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_map_onto_their_part_of_the_line() {
        // 40 characters over 4 s: the number (chars 11..30) is at 1.1–3.0 s.
        let text = "my card is 4111 1111 1111 1111 thank you";
        assert_eq!(text.chars().count(), 40);
        let b = blank_spans(text, 10_000, 14_000);
        assert_eq!(b, vec![(10_700, 13_400)]);
        let ar = "رقم بطاقتي ٤١١١ ١١١١ ١١١١ ١١١١ من فضلك";
        let b = blank_spans(ar, 0, 3_000);
        assert_eq!(b.len(), 1);
        assert!(b[0].0 < 1_200 && b[0].1 > 2_300, "{b:?}");
        assert!(blank_spans("order 12345 please", 0, 2_000).is_empty());
    }
}
