//! Languages the agent speaks and per-utterance language detection.

use serde::{Deserialize, Serialize};

/// A language of an utterance. Serialized as its ISO 639-1 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Ar,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ar => "ar",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ar" | "arabic" => Some(Lang::Ar),
            "en" | "english" => Some(Lang::En),
            _ => None,
        }
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A language choice that may be left to detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum LangHint {
    Ar,
    En,
    #[default]
    Auto,
}

impl LangHint {
    pub fn fixed(self) -> Option<Lang> {
        match self {
            LangHint::Ar => Some(Lang::Ar),
            LangHint::En => Some(Lang::En),
            LangHint::Auto => None,
        }
    }

    pub fn parse(s: &str) -> Option<LangHint> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(LangHint::Auto),
            other => Lang::parse(other).map(|l| match l {
                Lang::Ar => LangHint::Ar,
                Lang::En => LangHint::En,
            }),
        }
    }
}

/// Detects the language of a piece of text by its script: Arabic letters against
/// Latin letters. Digits, punctuation and emoji carry no vote. Mixed utterances
/// ("my order رقم 5") go to the majority script; text with no letters at all
/// falls back to `fallback`.
pub fn detect(text: &str, fallback: Lang) -> Lang {
    let mut arabic = 0usize;
    let mut latin = 0usize;
    for c in text.chars() {
        if is_arabic_letter(c) {
            arabic += 1;
        } else if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c) {
            latin += 1;
        }
    }
    if arabic == 0 && latin == 0 {
        fallback
    } else if arabic >= latin {
        Lang::Ar
    } else {
        Lang::En
    }
}

/// True for letters of the Arabic script blocks (not Arabic-Indic digits or
/// Arabic punctuation such as ، ؛ ؟).
pub fn is_arabic_letter(c: char) -> bool {
    matches!(c,
        '\u{0620}'..='\u{064A}'
        | '\u{066E}'..='\u{06D3}'
        | '\u{06FA}'..='\u{06FF}'
        | '\u{0750}'..='\u{077F}'
        | '\u{08A0}'..='\u{08FF}'
        | '\u{FB50}'..='\u{FDFF}'
        | '\u{FE70}'..='\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_by_script_majority() {
        assert_eq!(detect("I want to cancel my order", Lang::Ar), Lang::En);
        assert_eq!(detect("بدي ألغي الطلب", Lang::En), Lang::Ar);
        assert_eq!(detect("رقم الطلب order 5512 ما وصل", Lang::En), Lang::Ar);
        assert_eq!(detect("12345 ؟", Lang::En), Lang::En);
        assert_eq!(detect("١٢٣", Lang::Ar), Lang::Ar);
    }

    #[test]
    fn parses_hints() {
        assert_eq!(LangHint::parse("AR"), Some(LangHint::Ar));
        assert_eq!(LangHint::parse("auto"), Some(LangHint::Auto));
        assert_eq!(LangHint::parse("fr"), None);
    }
}
