//! Splits a streamed LLM reply into speakable sentences, so TTS can start on the
//! first sentence while the model is still generating the rest.
//!
//! Rules:
//! - Sentences end at `.` `!` `?` `…` and Arabic `؟` `؛` `۔` (followed by whitespace;
//!   the Arabic marks split even without a following space), and at newlines.
//!   Closing quotes/brackets after the mark stay with their sentence.
//! - Not split: decimals and times (`3.5`, `10.30`), URLs/emails (`acme.com`),
//!   abbreviations (`Mr.` `Mrs.` `Dr.` `e.g.` `i.e.`; `etc.`/`a.m.` only when the
//!   next word starts in lowercase or with a digit; `No.`/`ext.` before a number),
//!   single-letter initials (`J. Smith`), list numbers (`1. `), and `...` when the
//!   thought continues in lowercase.
//! - Until the first sentence of a reply is out, once `first_flush_chars` characters
//!   are pending the text is flushed early at the last clause mark (`,` `،` `;` `:`)
//!   followed by whitespace, so TTS can start sooner.
//! - A sentence is force-split (at a clause mark or space) past `max_chars`.
//! - Markdown noise is removed: `*`, `#`, backticks and leading `- `/`• `/`+ `
//!   bullets; whitespace is collapsed; pieces with no letter or digit are dropped.
//!
//! When a decision needs the next character (e.g. `3.` might become `3.5`), the text
//! is held until it arrives or [`SentenceSplitter::finish`] is called.

/// Default early-flush threshold, in characters.
pub const DEFAULT_FIRST_FLUSH_CHARS: usize = 40;
/// Default longest sentence before a forced split, in characters.
pub const DEFAULT_MAX_CHARS: usize = 300;

#[derive(Debug, Clone)]
pub struct SentenceSplitter {
    buf: String,
    /// Byte offset in `buf` before which no sentence boundary can be found.
    scan_pos: usize,
    first_flush_chars: usize,
    max_chars: usize,
    /// Whether a piece of the current reply has been emitted.
    emitted_any: bool,
}

impl Default for SentenceSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_FIRST_FLUSH_CHARS)
    }
}

impl SentenceSplitter {
    /// `first_flush_chars`: early clause flush threshold for the first sentence of a
    /// reply; `usize::MAX` disables early flushing.
    pub fn new(first_flush_chars: usize) -> Self {
        Self {
            buf: String::new(),
            scan_pos: 0,
            first_flush_chars,
            max_chars: DEFAULT_MAX_CHARS,
            emitted_any: false,
        }
    }

    /// Longest piece before a forced split (at least 8 characters).
    pub fn with_max_chars(mut self, max_chars: usize) -> Self {
        self.max_chars = max_chars.max(8);
        self
    }

    pub fn first_flush_chars(&self) -> usize {
        self.first_flush_chars
    }

    /// The text received but not yet emitted.
    pub fn pending(&self) -> &str {
        &self.buf
    }

    /// Feeds one LLM delta; returns the sentences it completed, cleaned and trimmed.
    pub fn push(&mut self, delta: &str) -> Vec<String> {
        let mut out = Vec::new();
        if delta.is_empty() {
            return out;
        }
        self.buf.push_str(delta);
        loop {
            match scan(&self.buf, self.scan_pos, false) {
                Scan::Boundary { end, resume } => {
                    self.emit_prefix(end, resume, &mut out);
                }
                Scan::Undecided { from } => {
                    self.scan_pos = from;
                    break;
                }
            }
        }
        if !self.emitted_any && self.first_flush_chars != usize::MAX {
            let pending_chars = self.buf.chars().count();
            if pending_chars >= self.first_flush_chars {
                if let Some(end) = last_clause_end(&self.buf) {
                    self.emit_prefix(end, end, &mut out);
                }
            }
        }
        while self.buf.chars().count() > self.max_chars {
            let cut = forced_cut(&self.buf, self.max_chars);
            self.emit_prefix(cut, cut, &mut out);
        }
        out
    }

    /// Ends the reply: returns the remaining text as a last sentence, if any, and
    /// resets the splitter for the next reply.
    pub fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.buf);
        self.reset();
        clean(&rest)
    }

    /// Drops pending text (e.g. on barge-in) and starts a new reply.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.scan_pos = 0;
        self.emitted_any = false;
    }

    fn emit_prefix(&mut self, end: usize, resume: usize, out: &mut Vec<String>) {
        if let Some(sentence) = clean(&self.buf[..end]) {
            out.push(sentence);
            self.emitted_any = true;
        }
        self.buf.drain(..resume);
        self.scan_pos = 0;
    }
}

fn is_terminator(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | '؟' | '؛' | '۔')
}

fn is_arabic_terminator(c: char) -> bool {
    matches!(c, '؟' | '؛' | '۔')
}

fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '”' | '’' | '»' | '›' | ')' | ']' | '}' | '」' | '』' | '*' | '`'
    )
}

fn is_opener(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | '“' | '‘' | '«' | '‹' | '(' | '[' | '{' | '*' | '`' | '¿' | '¡'
    )
}

fn is_clause_mark(c: char) -> bool {
    matches!(c, ',' | '،' | ';' | ':')
}

fn char_at(s: &str, pos: usize) -> Option<char> {
    s.get(pos..).and_then(|r| r.chars().next())
}

enum Scan {
    /// A sentence ends at `end`; the next one starts at `resume`.
    Boundary { end: usize, resume: usize },
    /// No boundary yet; scanning may restart at `from` once more text arrives.
    Undecided { from: usize },
}

/// What the text after a terminator must look like for it to end a sentence.
#[derive(Clone, Copy)]
enum Decision {
    Yes,
    No,
    /// Ends a sentence unless the next word starts in lowercase (ellipsis, `etc.`).
    UnlessLowercase,
    /// Ends a sentence unless followed by a number (`No. 5`, `ext. 204`).
    UnlessNumber,
}

/// Finds the first sentence boundary at or after `from` (a char boundary).
fn scan(s: &str, from: usize, at_end: bool) -> Scan {
    let mut i = from;
    while let Some(c) = char_at(s, i) {
        if c == '\n' {
            return Scan::Boundary {
                end: i,
                resume: i + 1,
            };
        }
        if !is_terminator(c) {
            i += c.len_utf8();
            continue;
        }
        // The run of terminators ("?!", "...") and the closers after it.
        let run_start = i;
        let mut j = i;
        let (mut dots, mut bang, mut ellipsis, mut arabic) = (0usize, false, false, false);
        while let Some(t) = char_at(s, j).filter(|&t| is_terminator(t)) {
            match t {
                '.' => dots += 1,
                '!' | '?' => bang = true,
                '…' => ellipsis = true,
                _ => arabic |= is_arabic_terminator(t),
            }
            j += t.len_utf8();
        }
        let mut k = j;
        while let Some(t) = char_at(s, k).filter(|&t| is_closer(t)) {
            k += t.len_utf8();
        }
        let Some(next) = char_at(s, k) else {
            return if at_end {
                Scan::Boundary {
                    end: s.len(),
                    resume: s.len(),
                }
            } else {
                Scan::Undecided { from: run_start }
            };
        };
        if arabic {
            return Scan::Boundary { end: k, resume: k };
        }
        if !next.is_whitespace() {
            // "3.5", "acme.com", "?q=1", "e.g": not an end.
            i = k;
            continue;
        }
        let decision = if bang {
            Decision::Yes
        } else if dots >= 2 || ellipsis {
            Decision::UnlessLowercase
        } else {
            classify_period(s, run_start)
        };
        let next_word = s[k..].trim_start_matches(|w: char| w.is_whitespace() && w != '\n');
        let next_char = next_word.chars().next();
        let ends = match (decision, next_char) {
            (Decision::Yes, _) => true,
            (Decision::No, _) => false,
            (_, Some('\n')) => true,
            (_, None) if at_end => true,
            (_, None) => return Scan::Undecided { from: run_start },
            (Decision::UnlessLowercase, Some(n)) => !(n.is_lowercase() || n.is_ascii_digit()),
            (Decision::UnlessNumber, Some(n)) => !(n.is_ascii_digit() || n == '#'),
        };
        if ends {
            return Scan::Boundary { end: k, resume: k };
        }
        i = k;
    }
    Scan::Undecided { from: s.len() }
}

/// Decides whether a single `.` at byte `dot` followed by whitespace ends a sentence.
fn classify_period(s: &str, dot: usize) -> Decision {
    let before = &s[..dot];
    let word_start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map(|(idx, c)| idx + c.len_utf8())
        .unwrap_or(0);
    let word = before[word_start..].trim_start_matches(is_opener);
    if word.is_empty() {
        return Decision::Yes;
    }
    let lower = word.to_lowercase();
    const NEVER: &[&str] = &[
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "e.g", "i.e", "cf",
    ];
    const BEFORE_NUMBER: &[&str] = &[
        "no", "nos", "ext", "tel", "fig", "vol", "p", "pp", "ch", "sec", "art", "apt", "rm",
    ];
    const UNLESS_LOWERCASE: &[&str] = &[
        "etc", "inc", "ltd", "co", "corp", "dept", "approx", "est", "jan", "feb", "apr", "jun",
        "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    ];
    if NEVER.contains(&lower.as_str()) {
        return Decision::No;
    }
    if BEFORE_NUMBER.contains(&lower.as_str()) {
        return Decision::UnlessNumber;
    }
    if UNLESS_LOWERCASE.contains(&lower.as_str()) {
        return Decision::UnlessLowercase;
    }
    let mut letters = word.chars();
    if let (Some(first), None) = (letters.next(), letters.next()) {
        if first.is_uppercase() {
            return Decision::No; // an initial: "J. Smith"
        }
    }
    // Dotted acronyms: "U.S.", "a.m.", "p.m."
    if word.contains('.')
        && word
            .split('.')
            .all(|part| part.chars().count() == 1 && part.chars().all(char::is_alphabetic))
    {
        return Decision::UnlessLowercase;
    }
    // A list number at the start of a sentence: "1. Open the app".
    if word.chars().all(|c| c.is_ascii_digit()) {
        let prefix = before[..word_start]
            .trim_matches(|c: char| c.is_whitespace() || matches!(c, '-' | '*' | '•' | '+' | '#'));
        if prefix.is_empty() {
            return Decision::No;
        }
    }
    Decision::Yes
}

/// End (exclusive byte offset) of the last clause mark followed by whitespace.
fn last_clause_end(s: &str) -> Option<usize> {
    let mut best = None;
    let mut iter = s.char_indices().peekable();
    while let Some((idx, c)) = iter.next() {
        if is_clause_mark(c) {
            if let Some(&(_, next)) = iter.peek() {
                if next.is_whitespace() && has_speakable(&s[..idx]) {
                    best = Some(idx + c.len_utf8());
                }
            }
        }
    }
    best
}

/// Where to force-split an over-long buffer: the last clause mark, else the last
/// space, within the first `max_chars` characters; else right at `max_chars`.
fn forced_cut(s: &str, max_chars: usize) -> usize {
    let limit = s
        .char_indices()
        .nth(max_chars)
        .map(|(i, _)| i)
        .unwrap_or(s.len());
    let head = &s[..limit];
    if let Some(end) = last_clause_end(head) {
        return end;
    }
    if let Some((idx, _)) = head
        .char_indices()
        .rev()
        .find(|&(i, c)| c.is_whitespace() && i > 0)
    {
        return idx;
    }
    limit
}

fn has_speakable(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

/// Removes markdown noise and control characters, collapses whitespace, trims.
/// `None` if nothing speakable is left.
fn clean(raw: &str) -> Option<String> {
    let mut text = raw.trim();
    loop {
        let stripped = ["- ", "• ", "+ ", "* ", "> "]
            .iter()
            .find_map(|bullet| text.strip_prefix(bullet));
        match stripped {
            Some(rest) => text = rest.trim_start(),
            None => break,
        }
    }
    if !has_speakable(text) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if matches!(c, '*' | '#' | '`') {
            continue;
        }
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if c.is_control() {
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    has_speakable(&out).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_whole(text: &str) -> Vec<String> {
        let mut s = SentenceSplitter::new(usize::MAX);
        let mut out = s.push(text);
        out.extend(s.finish());
        out
    }

    fn split_chars(text: &str) -> Vec<String> {
        let mut s = SentenceSplitter::new(usize::MAX);
        let mut out = Vec::new();
        for c in text.chars() {
            out.extend(s.push(c.encode_utf8(&mut [0u8; 4])));
        }
        out.extend(s.finish());
        out
    }

    /// Splits whole, per character and per word-ish token; all must agree.
    fn split(text: &str) -> Vec<String> {
        let whole = split_whole(text);
        assert_eq!(
            split_chars(text),
            whole,
            "char-by-char differs for {text:?}"
        );
        let mut s = SentenceSplitter::new(usize::MAX);
        let mut tokens = Vec::new();
        for tok in crate::llm::FakeLanguageModel::tokens(text) {
            tokens.extend(s.push(tok));
        }
        tokens.extend(s.finish());
        assert_eq!(tokens, whole, "token-by-token differs for {text:?}");
        whole
    }

    #[test]
    fn english_basic() {
        assert_eq!(
            split("Hello there. How can I help you today? I'm happy to help!"),
            vec![
                "Hello there.",
                "How can I help you today?",
                "I'm happy to help!"
            ]
        );
    }

    #[test]
    fn arabic_basic() {
        assert_eq!(
            split("مرحبا بك. كيف يمكنني مساعدتك اليوم؟ شكرا لاتصالك!"),
            vec!["مرحبا بك.", "كيف يمكنني مساعدتك اليوم؟", "شكرا لاتصالك!"]
        );
    }

    #[test]
    fn arabic_marks_split_without_space() {
        assert_eq!(
            split("كيف حالك؟أنا بخير؛ شكرا۔ مع السلامة"),
            vec!["كيف حالك؟", "أنا بخير؛", "شكرا۔", "مع السلامة"]
        );
    }

    #[test]
    fn decimals_times_and_money_stay_whole() {
        assert_eq!(
            split("The rate is 3.5 percent. Call us at 10.30 tomorrow. It costs $4.99."),
            vec![
                "The rate is 3.5 percent.",
                "Call us at 10.30 tomorrow.",
                "It costs $4.99."
            ]
        );
        assert_eq!(
            split("السعر 3.5 دينار. شكرا"),
            vec!["السعر 3.5 دينار.", "شكرا"]
        );
    }

    #[test]
    fn abbreviations() {
        assert_eq!(
            split("Mr. Smith and Mrs. Jones met Dr. Who. They left."),
            vec!["Mr. Smith and Mrs. Jones met Dr. Who.", "They left."]
        );
        assert_eq!(
            split("Bring ID, e.g. a passport, i.e. something official. Thanks."),
            vec![
                "Bring ID, e.g. a passport, i.e. something official.",
                "Thanks."
            ]
        );
        assert_eq!(
            split("Apples, pears, etc. are fine. Bring snacks etc. Then go."),
            vec![
                "Apples, pears, etc. are fine.",
                "Bring snacks etc.",
                "Then go."
            ]
        );
        assert_eq!(
            split("Your ticket is No. 42 today. No. I cannot do that."),
            vec!["Your ticket is No. 42 today.", "No.", "I cannot do that."]
        );
        assert_eq!(
            split("Dial ext. 204 now. We open at 9 a.m. tomorrow. See you."),
            vec![
                "Dial ext. 204 now.",
                "We open at 9 a.m. tomorrow.",
                "See you."
            ]
        );
        assert_eq!(
            split("J. K. Rowling wrote it. Yes."),
            vec!["J. K. Rowling wrote it.", "Yes."]
        );
    }

    #[test]
    fn urls_and_emails() {
        assert_eq!(
            split("Visit www.acme-bank.com/help?topic=cards now. Or email help@acme.com. Bye."),
            vec![
                "Visit www.acme-bank.com/help?topic=cards now.",
                "Or email help@acme.com.",
                "Bye."
            ]
        );
    }

    #[test]
    fn ellipsis() {
        assert_eq!(
            split("I was thinking... maybe tomorrow. Hmm... Let me check… Done."),
            vec![
                "I was thinking... maybe tomorrow.",
                "Hmm...",
                "Let me check…",
                "Done."
            ]
        );
    }

    #[test]
    fn closing_quotes_and_brackets_stay() {
        assert_eq!(
            split(r#"He said "Hello." Then (quietly.) she left!" Really?" Yes."#),
            vec![
                r#"He said "Hello.""#,
                "Then (quietly.)",
                r#"she left!""#,
                r#"Really?""#,
                "Yes."
            ]
        );
        assert_eq!(
            split("قال «مرحبا.» ثم ذهب."),
            vec!["قال «مرحبا.»", "ثم ذهب."]
        );
    }

    #[test]
    fn newlines_and_markdown() {
        assert_eq!(
            split("## Options\n\n- **Cards**: block or unblock\n- `Loans` info\n1. First step. 2. Second step."),
            vec!["Options", "Cards: block or unblock", "Loans info", "1. First step.", "2. Second step."]
        );
        assert_eq!(split("* one\r\n* two\n\n"), vec!["one", "two"]);
    }

    #[test]
    fn question_and_exclamation_runs() {
        assert_eq!(
            split("Really?! Yes!!! ok"),
            vec!["Really?!", "Yes!!!", "ok"]
        );
    }

    #[test]
    fn nothing_speakable_is_dropped() {
        assert_eq!(split("... --- **"), Vec::<String>::new());
        assert_eq!(split(""), Vec::<String>::new());
        let mut s = SentenceSplitter::default();
        assert!(s.push("   ").is_empty());
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn waits_for_lookahead() {
        let mut s = SentenceSplitter::new(usize::MAX);
        assert!(s.push("It is 3.").is_empty());
        assert!(s.push("5 now").is_empty());
        assert_eq!(s.push(". Next"), vec!["It is 3.5 now."]);
        assert_eq!(s.finish().as_deref(), Some("Next"));
        // a plain word followed by a space is decided immediately
        assert_eq!(s.push("Sure. "), vec!["Sure."]);
    }

    #[test]
    fn early_flush_first_sentence_only() {
        let mut s = SentenceSplitter::new(40);
        let text = "Thank you for calling Acme Bank today, my name is Sara, and I will help you. \
                    Could you tell me, please, your account number and the branch name?";
        let mut out = Vec::new();
        for c in text.chars() {
            out.extend(s.push(c.encode_utf8(&mut [0u8; 4])));
        }
        out.extend(s.finish());
        assert_eq!(
            out,
            vec![
                "Thank you for calling Acme Bank today,",
                "my name is Sara, and I will help you.",
                "Could you tell me, please, your account number and the branch name?"
            ]
        );
        // not on commas without a following space (numbers, times)
        let mut s = SentenceSplitter::new(10);
        assert!(s
            .push("Your balance is 1,000,000 at 10:30 exactly")
            .is_empty());
    }

    #[test]
    fn early_flush_arabic_comma() {
        let mut s = SentenceSplitter::new(20);
        let mut out = Vec::new();
        for c in "شكرا لاتصالك بنا اليوم، كيف يمكنني مساعدتك؟".chars()
        {
            out.extend(s.push(c.encode_utf8(&mut [0u8; 4])));
        }
        out.extend(s.finish());
        assert_eq!(out, vec!["شكرا لاتصالك بنا اليوم،", "كيف يمكنني مساعدتك؟"]);
    }

    #[test]
    fn early_flush_resets_after_finish() {
        let mut s = SentenceSplitter::new(10);
        assert_eq!(
            s.push("Hello there friend, how "),
            vec!["Hello there friend,"]
        );
        assert!(
            s.push("are you, my dear ").is_empty(),
            "second clause must wait"
        );
        assert_eq!(s.finish().as_deref(), Some("how are you, my dear"));
        assert_eq!(
            s.push("Hello there friend, how "),
            vec!["Hello there friend,"]
        );
    }

    #[test]
    fn forced_split_of_very_long_text() {
        let mut s = SentenceSplitter::new(usize::MAX).with_max_chars(20);
        let out = s.push("one two three four five six seven eight nine ten");
        assert!(!out.is_empty());
        for piece in &out {
            assert!(piece.chars().count() <= 20, "{piece}");
        }
        let mut all = out.join(" ");
        if let Some(rest) = s.finish() {
            all.push(' ');
            all.push_str(&rest);
        }
        assert_eq!(all, "one two three four five six seven eight nine ten");
    }

    #[test]
    fn mixed_language_reply_char_by_char() {
        assert_eq!(
            split("Welcome! أهلا وسهلا بك. Your order No. 7 ships at 2.30 p.m. today؟ نعم."),
            vec![
                "Welcome!",
                "أهلا وسهلا بك.",
                "Your order No. 7 ships at 2.30 p.m. today؟",
                "نعم."
            ]
        );
    }
}
