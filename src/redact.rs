//! Masking card numbers, IBANs and similar long digit runs in what is kept of
//! a call (stored transcripts, summaries, the CRM's outbox).
//!
//! A run is a sequence of tokens that carry digits, separated only by spaces,
//! dashes, dots or commas: written digits (ASCII, Arabic-Indic ٠–٩ or Persian
//! ۰–۹), alphanumeric groups (an IBAN's "AE07"), or digits spoken as words in
//! English ("four one one one") or Arabic ("أربعة واحد"). A run of 13 digits or
//! more — the shortest card number; IBANs are longer — is masked: every digit
//! and digit word becomes "•". Shorter runs (an order number, a phone number)
//! stay as they are. The masked spans are returned as character offsets, for
//! blanking the same moments in a recording.

use crate::events::{CallEvent, EventKind};

/// Digits a run needs to be masked.
pub const MIN_DIGITS: usize = 13;
pub const MASK: char = '•';

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redacted {
    pub text: String,
    /// Masked spans, as `[start, end)` character offsets into the input.
    pub spans: Vec<(usize, usize)>,
}

fn digit_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '\u{0660}'..='\u{0669}' => Some(c as u32 - 0x0660),
        '\u{06F0}'..='\u{06F9}' => Some(c as u32 - 0x06F0),
        _ => None,
    }
}

/// Digits spoken as words, in English and Arabic (with and without hamza, the
/// common short forms, and the conjunction و- attached).
fn is_digit_word(w: &str) -> bool {
    const EN: [&str; 11] = [
        "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    const AR: [&str; 24] = [
        "صفر",
        "واحد",
        "واحدة",
        "اثنان",
        "اثنين",
        "إثنين",
        "اتنين",
        "ثلاثة",
        "ثلاث",
        "تلاتة",
        "أربعة",
        "اربعة",
        "أربع",
        "اربع",
        "خمسة",
        "خمس",
        "ستة",
        "ست",
        "سبعة",
        "سبع",
        "ثمانية",
        "ثمان",
        "تسعة",
        "تسع",
    ];
    let lower = w.to_lowercase();
    if EN.contains(&lower.as_str()) || AR.contains(&w) {
        return true;
    }
    // "وخمسة": and-five.
    w.strip_prefix('و')
        .is_some_and(|rest| rest != "احد" && AR.contains(&rest))
}

#[derive(Debug)]
struct Token {
    start: usize,
    end: usize,
    digits: usize,
    word: bool,
}

/// Masks long digit runs in `text`.
pub fn redact(text: &str) -> Redacted {
    let chars: Vec<char> = text.chars().collect();
    // Tokens: maximal runs of letters/digits.
    let mut tokens: Vec<Token> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_alphanumeric() {
                i += 1;
            }
            let s: String = chars[start..i].iter().collect();
            let digits = chars[start..i]
                .iter()
                .filter(|c| digit_value(**c).is_some())
                .count();
            let word = digits == 0 && is_digit_word(&s);
            tokens.push(Token {
                start,
                end: i,
                digits: if word { 1 } else { digits },
                word,
            });
        } else {
            i += 1;
        }
    }
    let joins = |a: &Token, b: &Token| {
        chars[a.end..b.start]
            .iter()
            .all(|c| c.is_whitespace() || matches!(c, '-' | '.' | ',' | '،' | '/'))
    };
    let mut masked = vec![false; chars.len()];
    let mut spans = Vec::new();
    let mut t = 0;
    while t < tokens.len() {
        if tokens[t].digits == 0 {
            t += 1;
            continue;
        }
        let first = t;
        let mut total = tokens[t].digits;
        while t + 1 < tokens.len() && tokens[t + 1].digits > 0 && joins(&tokens[t], &tokens[t + 1])
        {
            t += 1;
            total += tokens[t].digits;
        }
        if total >= MIN_DIGITS {
            for tok in &tokens[first..=t] {
                for (k, m) in masked.iter_mut().enumerate().take(tok.end).skip(tok.start) {
                    if tok.word || digit_value(chars[k]).is_some() {
                        *m = true;
                    }
                }
            }
            spans.push((tokens[first].start, tokens[t].end));
        }
        t += 1;
    }
    if spans.is_empty() {
        return Redacted {
            text: text.to_string(),
            spans,
        };
    }
    // A masked word becomes one mark, a masked digit one mark.
    let mut out = String::with_capacity(text.len());
    let mut k = 0;
    while k < chars.len() {
        if masked[k] {
            let word = tokens
                .iter()
                .find(|tok| tok.word && tok.start == k)
                .map(|tok| tok.end);
            out.push(MASK);
            k = word.unwrap_or(k + 1);
        } else {
            out.push(chars[k]);
            k += 1;
        }
    }
    Redacted { text: out, spans }
}

fn mask(s: &mut String) {
    let r = redact(s);
    if !r.spans.is_empty() {
        *s = r.text;
    }
}

/// `ev` with the text it carries masked (what is said, replied, summarized,
/// typed or filed).
pub fn event(ev: &CallEvent) -> CallEvent {
    let mut ev = ev.clone();
    match &mut ev.kind {
        EventKind::Transcript { text, .. } | EventKind::AgentReply { text, .. } => mask(text),
        EventKind::BargeIn { heard, dropped, .. } => {
            mask(heard);
            mask(dropped);
        }
        EventKind::CallEnded { summary, .. } => mask(summary),
        EventKind::Supervisor { text: Some(t), .. } => mask(t),
        EventKind::Ticket { subject, .. } => mask(subject),
        EventKind::HumanRequested { reason, .. } => mask(reason),
        _ => {}
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact(s).text
    }

    #[test]
    fn written_card_numbers_and_ibans_are_masked_in_both_scripts() {
        assert_eq!(
            r("my card is 4111 1111 1111 1111, thanks"),
            "my card is •••• •••• •••• ••••, thanks"
        );
        assert_eq!(r("4111-1111-1111-1111."), "••••-••••-••••-••••.");
        assert_eq!(
            r("رقم بطاقتي ٤١١١ ١١١١ ١١١١ ١١١١ من فضلك"),
            "رقم بطاقتي •••• •••• •••• •••• من فضلك"
        );
        assert_eq!(r("card ۴۱۱۱۱۱۱۱۱۱۱۱۱۱۱۱"), "card ••••••••••••••••");
        assert_eq!(
            r("IBAN AE07 0331 2345 6789 0123 456 please"),
            "IBAN AE•• •••• •••• •••• •••• ••• please"
        );
        assert_eq!(r("AE070331234567890123456"), "AE•••••••••••••••••••••");
        let red = redact("pay with 5500 0000 0000 0004 now");
        assert_eq!(red.spans, vec![(9, 28)]);
    }

    #[test]
    fn spoken_digits_are_masked_in_english_and_arabic() {
        let en = "it is four one one one one one one one one one one one one one one one okay";
        assert_eq!(r(en), "it is • • • • • • • • • • • • • • • • okay");
        let ar = "الرقم أربعة واحد واحد واحد خمسة خمسة ستة ستة سبعة سبعة ثمانية ثمانية تسعة وتسعة صفر صفر شكرا";
        assert_eq!(r(ar), "الرقم • • • • • • • • • • • • • • • • شكرا");
    }

    #[test]
    fn short_numbers_stay_as_they_are() {
        for s in [
            "order 5512 placed last week",
            "call me on +971 50 123 4567",
            "طلبي رقم ٥٥١٢",
            "I have two kids and one dog",
            "2024-06-01 at 10.30",
        ] {
            assert_eq!(r(s), s);
            assert!(redact(s).spans.is_empty());
        }
    }
}
