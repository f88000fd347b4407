//! Phone numbers are the customer's key: every spelling of one number must land on
//! one row, so they are stored in E.164 (`+` and 8–15 digits).

use super::CrmError;

/// Normalizes a phone number to E.164 (`+963944000111`).
///
/// Accepts an international number written with `+` or `00`, in ASCII, Arabic-Indic
/// (٠–٩), Persian (۰–۹) or full-width digits, with spaces, dashes, dots, slashes,
/// parentheses, a trunk `(0)` after the country code, and invisible direction marks.
/// Rejects numbers without a country code, letters, other symbols, and lengths
/// outside 8–15 digits.
pub fn normalize_phone(raw: &str) -> Result<String, CrmError> {
    let fail = |reason: &str| CrmError::InvalidPhone {
        input: raw.to_string(),
        reason: reason.to_string(),
    };
    let cleaned: String = raw
        .replace("(0)", " ")
        .replace("(٠)", " ")
        .replace("(۰)", " ");
    let mut plus = false;
    let mut digits = String::with_capacity(16);
    for c in cleaned.chars() {
        if let Some(d) = digit_value(c) {
            digits.push(char::from(b'0' + d));
        } else if c == '+' || c == '＋' {
            if plus || !digits.is_empty() {
                return Err(fail("'+' may only start the number"));
            }
            plus = true;
        } else if is_separator(c) || is_direction_mark(c) {
            continue;
        } else if c.is_alphabetic() {
            return Err(fail("contains letters; a phone number has digits only"));
        } else {
            return Err(fail(&format!("unexpected character {c:?}")));
        }
    }
    if digits.is_empty() {
        return Err(fail(if raw.trim().is_empty() {
            "empty"
        } else {
            "no digits"
        }));
    }
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else {
        return Err(fail(
            "no country code: write it as +CC… or 00CC… (e.g. +963944000111)",
        ));
    };
    if international.starts_with('0') {
        return Err(fail("a country code never starts with 0"));
    }
    match international.len() {
        n if n < 8 => Err(fail(&format!(
            "too short: {n} digits, E.164 needs 8 to 15 with the country code"
        ))),
        n if n > 15 => Err(fail(&format!(
            "too long: {n} digits, E.164 allows at most 15"
        ))),
        _ => Ok(format!("+{international}")),
    }
}

fn digit_value(c: char) -> Option<u8> {
    let base = match c {
        '0'..='9' => '0',
        '\u{0660}'..='\u{0669}' => '\u{0660}', // Arabic-Indic
        '\u{06F0}'..='\u{06F9}' => '\u{06F0}', // Extended Arabic-Indic (Persian, Urdu)
        '\u{FF10}'..='\u{FF19}' => '\u{FF10}', // full-width
        _ => return None,
    };
    Some((c as u32 - base as u32) as u8)
}

/// What people put between digit groups.
fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '.' | '/' | '(' | ')' | '‐' | '‑' | '–' | '—')
}

/// Bidi formatting characters that ride along when a number is copied out of
/// right-to-left text.
fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        normalize_phone(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn reason(s: &str) -> String {
        match normalize_phone(s) {
            Err(CrmError::InvalidPhone { input, reason }) => {
                assert_eq!(input, s);
                reason
            }
            other => panic!("{s:?} should be rejected, got {other:?}"),
        }
    }

    #[test]
    fn accepts_common_spellings() {
        for s in [
            "+963944000111",
            "+963 944-000-111",
            "00963944000111",
            "00 963 (944) 000.111",
            "+٩٦٣٩٤٤٠٠٠١١١",
            "٠٠٩٦٣٩٤٤٠٠٠١١١",
            "+۹۶۳۹۴۴۰۰۰۱۱۱",
            "\u{200E}+963 944 000 111\u{200E}",
            "\u{202A}+963944000111\u{202C}",
            " +963\u{00A0}944\u{00A0}000\u{00A0}111 ",
            "＋９６３９４４０００１１１",
        ] {
            assert_eq!(ok(s), "+963944000111", "{s:?}");
        }
        assert_eq!(ok("+44 (0)20 7946 0958"), "+442079460958");
        assert_eq!(ok("+1 (415) 555-0100"), "+14155550100");
    }

    #[test]
    fn rejects_bad_numbers_with_reasons() {
        assert_eq!(reason(""), "empty");
        assert_eq!(reason("   "), "empty");
        assert!(reason("0944000111").contains("no country code"));
        assert!(reason("944000111").contains("no country code"));
        assert!(reason("+963 944 abc").contains("letters"));
        assert!(reason("+96394400011x").contains("letters"));
        assert!(reason("+١٢٣").contains("too short"));
        assert!(reason("+1234567").contains("too short"));
        assert!(reason("+1234567890123456").contains("too long"));
        assert!(reason("+0963944000111").contains("never starts with 0"));
        assert!(reason("+963+944000111").contains("'+'"));
        assert!(reason("+963944000111; DROP TABLE customers").contains("unexpected character ';'"));
        assert!(reason("+963944000111#").contains("unexpected character"));
        assert!(reason("<img src=x>").contains("unexpected character '<'"));
        assert!(reason("--").contains("no digits"));
    }

    #[test]
    fn lengths_at_the_edges() {
        assert_eq!(ok("+12345678"), "+12345678");
        assert_eq!(ok("+123456789012345"), "+123456789012345");
    }
}
