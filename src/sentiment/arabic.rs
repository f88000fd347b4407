//! Arabic scoring: a VADER-style rule-based scorer over our own lexicon.
//!
//! Pipeline for one utterance:
//! 1. Normalise and tokenize ([`tokenize`]): drop tashkeel, tatweel and
//!    invisible controls; unify alef forms (أ إ آ ٱ → ا), ة → ه, ى → ي, ؤ → و,
//!    ئ → ي; collapse elongation ("حلووو" → "حلو"); lowercase Latin; record
//!    clause boundaries and `!`/`?` counts.
//! 2. Match multiword expressions, longest first.
//! 3. Classify single tokens: exact lexicon hit, then clitic/suffix stripping,
//!    verb person folding ("بتقطع" → "بيقطع"), elatives ("أسهل" → "سهل"),
//!    then the Egyptian negation circumfix (ما...ش). Latin-script tokens
//!    (code-switching) use the English lexicon.
//! 4. Apply VADER's rules: negation (×-0.74, or a dedicated negated valence
//!    for service events), boosters on the nearest sentiment word on either
//!    side, the "but" rule (×0.5 before, ×1.5 after), `!`/`?` emphasis, and
//!    normalise the sum with x/√(x²+15).

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::OnceLock;

use super::arabic_lexicon as lexicon;
use super::{english, is_invisible, normalize_valence};

/// VADER's negation scalar.
const NEGATION_SCALAR: f32 = -0.74;
/// Extra intensity for an elongated word ("حلووو"), half a booster step.
const ELONGATION_BOOST: f32 = 0.15;
/// Valence of written laughter ("ههههه").
const LAUGHTER: f32 = 0.8;
/// Stripping never leaves a stem shorter than this (in letters), so that
/// short words do not collapse into unrelated lexicon entries.
const MIN_STEM: usize = 3;
/// After the article (ال) a two-letter stem is still safe ("الحل").
const MIN_STEM_AFTER_ARTICLE: usize = 2;
/// Tokens longer than this (in bytes, ~24 Arabic letters) are not looked up.
const MAX_WORD_BYTES: usize = 48;
/// Max suffix layers peeled off ("زعلتوني" = زعل + تو + ني).
const MAX_SUFFIX_LAYERS: usize = 3;

/// Proclitics, shortest first: the least stripping that reaches a lexicon
/// word wins ("وللأسف" → "للاسف", not "اسف").
const PREFIXES: &[&str] = &[
    "و", "ف", "ب", "ل", "ك", "ال", "لل", "وب", "ول", "فب", "فل", "وك", "وال", "بال", "فال", "كال",
    "ولل", "وبال", "فبال", "وكال",
];
/// Enclitics and inflectional endings (normalised spelling), longest first.
const SUFFIXES: &[&str] = &[
    "لهم", "لنا", "توا", "تو", "تم", "تي", "كم", "هم", "ها", "نا", "ات", "ين", "ون", "وا", "ني",
    "لي", "لك", "له", "كن", "هن", "ه", "ك", "ي", "و", "ت",
];
/// Endings allowed on the last word of a multiword expression
/// ("تسلم ايدك" / "تسلم ايديكم").
const PHRASE_TAIL_SUFFIXES: &[&str] = &["كم", "هم", "ها", "وا", "ني", "ه", "ك", "و", "ي"];
/// Words before "مرة" that make it "time/once" rather than "very".
const MARRA_AS_TIME: &[&str] = &[
    "كل", "اول", "ثاني", "تاني", "ثالث", "تالت", "اخر", "هاي", "هذي", "هاد", "هذه", "ولا", "كم",
    "قديش", "اي",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Senti { valence: f32, negatable: bool },
    Event { affirmative: f32, negated: f32 },
    Negator { window: usize },
    Booster(f32),
    Contrast,
    Neutral,
}

impl Kind {
    fn is_content(self) -> bool {
        matches!(self, Kind::Senti { .. } | Kind::Event { .. })
    }
}

/// How one token was read.
#[derive(Debug, Clone, Copy)]
struct Reading {
    kind: Kind,
    /// The token carries its own negation (Egyptian "مبيشتغلش").
    pre_negated: bool,
    /// The token began with the conjunction و/ف, which starts a new
    /// coordinated phrase that a preceding negator does not reach.
    conjoined: bool,
}

impl Reading {
    fn plain(kind: Kind) -> Reading {
        Reading {
            kind,
            pre_negated: false,
            conjoined: false,
        }
    }
}

pub(super) struct Lexicon {
    words: HashMap<String, Kind>,
    /// First token → (remaining tokens, kind), longest first.
    phrases: HashMap<String, Vec<(Vec<String>, Kind)>>,
    wh_followers: HashSet<String>,
    relative_leaders: HashSet<String>,
    marra_as_time: HashSet<String>,
    /// Entries that normalised onto an existing entry with a different kind
    /// (checked by a unit test; the first entry wins).
    pub(super) conflicts: Vec<String>,
}

static LEXICON: OnceLock<Lexicon> = OnceLock::new();

pub(super) fn lexicon() -> &'static Lexicon {
    LEXICON.get_or_init(build)
}

pub(super) fn warm_up() {
    lexicon();
}

fn build() -> Lexicon {
    let mut lex = Lexicon {
        words: HashMap::with_capacity(1024),
        phrases: HashMap::new(),
        wh_followers: lexicon::WH_FOLLOWERS
            .iter()
            .map(|w| normalize_word(w))
            .collect(),
        relative_leaders: lexicon::RELATIVE_LEADERS
            .iter()
            .map(|w| normalize_word(w))
            .collect(),
        marra_as_time: MARRA_AS_TIME.iter().map(|w| normalize_word(w)).collect(),
        conflicts: Vec::new(),
    };
    // Function words first: they must win over a content reading.
    for (w, window) in lexicon::NEGATORS {
        lex.insert(w, Kind::Negator { window: *window });
    }
    for w in lexicon::CONTRASTS {
        lex.insert(w, Kind::Contrast);
    }
    for (w, b) in lexicon::BOOSTERS {
        lex.insert(w, Kind::Booster(*b));
    }
    for w in lexicon::NEUTRAL {
        lex.insert(w, Kind::Neutral);
    }
    for (w, v) in lexicon::FIXED {
        lex.insert(
            w,
            Kind::Senti {
                valence: *v,
                negatable: false,
            },
        );
    }
    for (w, aff, neg) in lexicon::EVENTS {
        lex.insert(
            w,
            Kind::Event {
                affirmative: *aff,
                negated: *neg,
            },
        );
    }
    for (w, v) in lexicon::WORDS {
        lex.insert(
            w,
            Kind::Senti {
                valence: *v,
                negatable: true,
            },
        );
    }
    for list in lex.phrases.values_mut() {
        list.sort_by_key(|(rest, _)| std::cmp::Reverse(rest.len()));
    }
    lex
}

impl Lexicon {
    fn insert(&mut self, entry: &str, kind: Kind) {
        let t = tokenize(entry);
        let mut words = t.tokens.iter().map(|tok| t.text(tok).to_string());
        let Some(first) = words.next() else {
            self.conflicts
                .push(format!("{entry}: empty after normalisation"));
            return;
        };
        let rest: Vec<String> = words.collect();
        // An expression that contains a negator ("مش معقول") already says
        // what it means; a preceding negator must not flip it again.
        let has_negator = std::iter::once(&first)
            .chain(&rest)
            .any(|w| matches!(self.words.get(w), Some(Kind::Negator { .. })));
        let kind = match kind {
            Kind::Senti { valence, .. } if has_negator && !rest.is_empty() => Kind::Senti {
                valence,
                negatable: false,
            },
            other => other,
        };
        if rest.is_empty() {
            match self.words.get(&first) {
                Some(existing) if *existing != kind => {
                    self.conflicts
                        .push(format!("{entry}: {existing:?} vs {kind:?}"));
                }
                Some(_) => {}
                None => {
                    self.words.insert(first, kind);
                }
            }
        } else {
            let list = self.phrases.entry(first).or_default();
            match list.iter().find(|(r, _)| *r == rest) {
                Some((_, existing)) if *existing != kind => {
                    self.conflicts
                        .push(format!("{entry}: {existing:?} vs {kind:?}"));
                }
                Some(_) => {}
                None => list.push((rest, kind)),
            }
        }
    }

    fn content(&self, word: &str) -> Option<Kind> {
        self.words.get(word).copied().filter(|k| k.is_content())
    }

    /// Classifies one token: exact entry, function word with a glued
    /// conjunction, clitic/suffix stripping, verb person folding, and finally
    /// the Egyptian negation circumfix.
    fn classify(&self, token: &str) -> Option<Reading> {
        if let Some(kind) = self.words.get(token) {
            return Some(Reading::plain(*kind));
        }
        // و/ف glued to a function word: "ومش", "وما", "فما". Not to "بس":
        // "وبس" is "and that's it", not "but".
        for conj in ["و", "ف"] {
            if let Some(rest) = token.strip_prefix(conj) {
                if rest.chars().count() >= 2 {
                    if let Some(kind) = self.words.get(rest) {
                        if !matches!(kind, Kind::Contrast) {
                            return Some(Reading {
                                kind: *kind,
                                pre_negated: false,
                                conjoined: true,
                            });
                        }
                    }
                }
            }
        }
        if let Some(reading) = self.strip(token) {
            return Some(reading);
        }
        if let Some(kind) = self.fold_person(token) {
            return Some(Reading::plain(kind));
        }
        if let Some(kind) = self.elative(token) {
            return Some(Reading::plain(kind));
        }
        if token.ends_with('ش') && token.starts_with('م') && token.chars().count() >= 4 {
            for neg in ["ما", "م"] {
                if let Some(stem) = token
                    .strip_prefix(neg)
                    .and_then(|s| s.strip_suffix('ش'))
                    .filter(|s| s.chars().count() >= 2)
                {
                    let kind = self
                        .content(stem)
                        .or_else(|| self.strip(stem).map(|r| r.kind))
                        .or_else(|| self.fold_person(stem));
                    if let Some(kind) = kind {
                        return Some(Reading {
                            kind,
                            pre_negated: true,
                            conjoined: false,
                        });
                    }
                }
            }
        }
        None
    }

    /// Finds a sentiment/event word inside a token by removing proclitics and
    /// suffixes, preferring the least stripping.
    fn strip(&self, token: &str) -> Option<Reading> {
        let mut stems: Vec<(&str, bool)> = Vec::with_capacity(8);
        stems.push((token, false));
        for p in PREFIXES {
            if let Some(rest) = token.strip_prefix(p) {
                let min = if p.ends_with("ال") || p.ends_with("لل") {
                    MIN_STEM_AFTER_ARTICLE
                } else {
                    MIN_STEM
                };
                if rest.chars().count() >= min {
                    let conjoined = p.starts_with('و') || p.starts_with('ف');
                    match self.words.get(rest) {
                        Some(kind) if kind.is_content() => {
                            return Some(Reading {
                                kind: *kind,
                                pre_negated: false,
                                conjoined,
                            });
                        }
                        // A known neutral word plus clitics ("بالمناسبة"):
                        // stripping it further would only find accidents.
                        Some(_) => {}
                        None => stems.push((rest, conjoined)),
                    }
                }
            }
        }
        stems.iter().find_map(|(stem, conjoined)| {
            self.strip_suffixes(stem, MAX_SUFFIX_LAYERS)
                .map(|kind| Reading {
                    kind,
                    pre_negated: false,
                    conjoined: *conjoined,
                })
        })
    }

    /// Comparatives/superlatives (أفعل) of listed adjectives: "أسهل" from
    /// "سهل", "أرخص" from "رخيص", "الأنظف" from "نظيف". Only negatable
    /// sentiment words (adjectives, not interjections or events) are accepted,
    /// so verbs of the same shape ("أرسل") are not misread; colours, the other
    /// common أفعل words, are listed as neutral.
    fn elative(&self, token: &str) -> Option<Kind> {
        let token = ["وال", "بال", "ال", "و"]
            .iter()
            .find_map(|p| token.strip_prefix(p).filter(|r| r.starts_with('ا')))
            .unwrap_or(token);
        let mut letters = token.strip_prefix('ا')?.chars();
        let (c1, c2, c3) = (letters.next()?, letters.next()?, letters.next()?);
        if letters.next().is_some() {
            return None;
        }
        [format!("{c1}{c2}{c3}"), format!("{c1}{c2}ي{c3}")]
            .iter()
            .find_map(|base| match self.words.get(base) {
                Some(
                    kind @ Kind::Senti {
                        negatable: true, ..
                    },
                ) => Some(*kind),
                _ => None,
            })
    }

    /// Imperfect verbs are listed in the 3rd person masculine ("بيقطع",
    /// "يشتغل"); other persons differ only in the prefix ("بتقطع", "تشتغل",
    /// "بنستنى"), so map those prefixes back before giving up.
    fn fold_person(&self, token: &str) -> Option<Kind> {
        let token = token
            .strip_prefix('و')
            .filter(|rest| rest.chars().count() >= 4)
            .unwrap_or(token);
        for (from, to) in [("بت", "بي"), ("بن", "بي"), ("ت", "ي"), ("ن", "ي")] {
            let Some(rest) = token.strip_prefix(from) else {
                continue;
            };
            if rest.chars().count() < 2 {
                continue;
            }
            let folded = format!("{to}{rest}");
            if let Some(kind) = self
                .content(&folded)
                .or_else(|| self.strip_suffixes(&folded, MAX_SUFFIX_LAYERS))
            {
                return Some(kind);
            }
        }
        None
    }

    /// Peels suffixes layer by layer (breadth-first, so "تلفوني" is read as
    /// "تلفون"+"ي" before "تلف"+"و"+"ني"). At each layer a known neutral stem
    /// vetoes content readings: the token is that neutral word.
    fn strip_suffixes(&self, word: &str, layers: usize) -> Option<Kind> {
        let mut frontier: Vec<&str> = vec![word];
        for _ in 0..layers {
            let mut next = Vec::new();
            let mut found = None;
            let mut neutral = false;
            for w in &frontier {
                for s in SUFFIXES {
                    let Some(stem) = w.strip_suffix(s) else {
                        continue;
                    };
                    if stem.chars().count() < MIN_STEM {
                        continue;
                    }
                    match self.words.get(stem) {
                        Some(kind) if kind.is_content() => {
                            found = found.or(Some(*kind));
                            continue;
                        }
                        Some(_) => {
                            neutral = true;
                            continue;
                        }
                        None => {}
                    }
                    // A suffix turns ta marbuta back into ت: "مشكلتي" → "مشكلة".
                    if let Some(base) = stem.strip_suffix('ت') {
                        if let Some(kind) = self.content(&format!("{base}ه")) {
                            found = found.or(Some(kind));
                            continue;
                        }
                    }
                    next.push(stem);
                }
            }
            if neutral {
                return None;
            }
            if found.is_some() || next.is_empty() {
                return found;
            }
            frontier = next;
        }
        None
    }
}

/// Normalises a single word or phrase the same way utterances are normalised.
pub(super) fn normalize_word(s: &str) -> String {
    let t = tokenize(s);
    let words: Vec<&str> = t.tokens.iter().map(|tok| t.text(tok)).collect();
    words.join(" ")
}

#[derive(Debug, Clone)]
struct Token {
    span: Range<usize>,
    latin: bool,
    /// A clause boundary (punctuation) separates this token from the previous.
    boundary_before: bool,
    elongated: bool,
}

struct Tokens {
    buf: String,
    tokens: Vec<Token>,
    exclamations: usize,
    questions: usize,
}

impl Tokens {
    fn text(&self, t: &Token) -> &str {
        &self.buf[t.span.clone()]
    }
}

fn is_diacritic(c: char) -> bool {
    matches!(c, '\u{0610}'..='\u{061A}' | '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}' | '\u{0640}')
}

fn fold_letter(c: char) -> char {
    match c {
        'أ' | 'إ' | 'آ' | 'ٱ' | '\u{0672}' | '\u{0673}' => 'ا',
        'ة' => 'ه',
        'ى' | 'ئ' | 'ی' | 'ې' => 'ي',
        'ؤ' => 'و',
        'ک' | 'گ' => 'ك',
        'ھ' | 'ۀ' => 'ه',
        'ڤ' => 'ف',
        'پ' => 'ب',
        'چ' => 'ج',
        other => other,
    }
}

fn is_clause_boundary(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | ';' | ':' | '!' | '?' | '،' | '؛' | '؟' | '۔' | '…' | '\n' | '\r'
    )
}

/// Tokenizer state while scanning one utterance.
struct Scanner {
    out: Tokens,
    /// Byte offset in `out.buf` where the current token began.
    start: Option<usize>,
    latin: bool,
    has_letter: bool,
    elongated: bool,
    pending_boundary: bool,
    /// Previous letter and how many times it repeated, for elongation.
    last: Option<char>,
    run: usize,
}

impl Scanner {
    fn push_letter(&mut self, c: char, arabic: bool, apostrophe: bool) {
        let lower = if arabic {
            c
        } else {
            c.to_lowercase().next().unwrap_or(c)
        };
        if self.start.is_some() && !apostrophe && c.is_alphabetic() && arabic == self.latin {
            // Script change inside a run ("الخدمةbad"): split the token.
            self.finish();
        }
        if self.start.is_none() {
            self.start = Some(self.out.buf.len());
            self.latin = !arabic;
            self.last = None;
        }
        if c.is_alphabetic() {
            self.has_letter = true;
        }
        if Some(lower) == self.last {
            self.run += 1;
        } else {
            self.run = 1;
            self.last = Some(lower);
        }
        match self.run {
            1 | 2 => self
                .out
                .buf
                .push(if apostrophe { '\'' } else { fold_letter(lower) }),
            // A third identical letter means elongation: collapse the whole
            // run to one letter ("حلووو" → "حلو").
            3 => {
                self.out.buf.pop();
                self.elongated = true;
            }
            _ => {}
        }
    }

    fn separator(&mut self, c: char) {
        self.finish();
        if is_clause_boundary(c) {
            self.pending_boundary = true;
        }
        match c {
            '!' => self.out.exclamations += 1,
            '?' | '؟' => self.out.questions += 1,
            _ => {}
        }
    }

    fn finish(&mut self) {
        self.last = None;
        let has_letter = std::mem::take(&mut self.has_letter);
        let elongated = std::mem::take(&mut self.elongated);
        let Some(s) = self.start.take() else {
            return;
        };
        let buf = &mut self.out.buf;
        let mut end = buf.len();
        // Apostrophes only bind letters inside a Latin word ("don't").
        while buf[s..end].ends_with('\'') {
            end -= 1;
        }
        // The silent alef after a plural waw ("رفضوا") is often dropped in
        // colloquial writing ("رفضو"); drop it always so both spellings match.
        let word = &buf[s..end];
        if !self.latin && word.ends_with("وا") && word.chars().count() >= 4 {
            end -= 'ا'.len_utf8();
        }
        if has_letter && end > s {
            buf.truncate(end);
            self.out.tokens.push(Token {
                span: s..end,
                latin: self.latin,
                boundary_before: std::mem::take(&mut self.pending_boundary),
                elongated,
            });
        } else {
            // Digits or stray apostrophes only: not a word.
            buf.truncate(s);
        }
    }
}

fn tokenize(text: &str) -> Tokens {
    let mut sc = Scanner {
        out: Tokens {
            buf: String::with_capacity(text.len()),
            tokens: Vec::new(),
            exclamations: 0,
            questions: 0,
        },
        start: None,
        latin: false,
        has_letter: false,
        elongated: false,
        pending_boundary: false,
        last: None,
        run: 0,
    };
    for c in text.chars() {
        if is_invisible(c) || is_diacritic(c) {
            continue;
        }
        let arabic = crate::lang::is_arabic_letter(c);
        let apostrophe = matches!(c, '\'' | '’') && sc.start.is_some() && sc.latin;
        if arabic || c.is_alphanumeric() || apostrophe {
            sc.push_letter(c, arabic, apostrophe);
        } else {
            sc.separator(c);
        }
    }
    sc.finish();
    sc.out
}

#[derive(Debug, Clone, Copy)]
struct Unit {
    kind: Kind,
    /// Index of the unit's first token (to read its text).
    token: usize,
    boundary_before: bool,
    pre_negated: bool,
    elongated: bool,
    /// Begins with the conjunction و/ف (see [`Reading::conjoined`]).
    conjoined: bool,
}

fn phrase_tail_matches(token: &str, expected: &str) -> bool {
    token == expected
        || PHRASE_TAIL_SUFFIXES
            .iter()
            .any(|s| token.strip_suffix(s) == Some(expected))
}

fn classify_latin(word: &str) -> Kind {
    if english::is_negator(word) {
        Kind::Negator { window: 3 }
    } else if word == "but" {
        Kind::Contrast
    } else if let Some(b) = english::booster(word) {
        Kind::Booster(b)
    } else if let Some(v) = english::word_valence(word) {
        Kind::Senti {
            valence: v,
            negatable: true,
        }
    } else {
        Kind::Neutral
    }
}

fn is_laughter(word: &str, elongated: bool) -> bool {
    word.chars().all(|c| c == 'ه') && (elongated || word.chars().count() >= 2)
}

fn units(lex: &Lexicon, t: &Tokens) -> Vec<Unit> {
    let toks = &t.tokens;
    let mut units = Vec::with_capacity(toks.len());
    let mut i = 0;
    while i < toks.len() {
        let tok = &toks[i];
        let word = t.text(tok);
        let mut unit = Unit {
            kind: Kind::Neutral,
            token: i,
            boundary_before: tok.boundary_before,
            pre_negated: false,
            elongated: tok.elongated,
            conjoined: ["وال", "فال", "وبال", "ولل"]
                .iter()
                .any(|p| word.starts_with(p)),
        };
        if tok.latin {
            unit.kind = classify_latin(word);
            units.push(unit);
            i += 1;
            continue;
        }

        if let Some((len, kind)) = match_phrase(lex, t, i) {
            unit.kind = kind;
            units.push(unit);
            i += len;
            continue;
        }

        if word.len() > MAX_WORD_BYTES {
            // No lexicon word is this long; skip the stripping search so that
            // a pathological run of letters costs nothing.
        } else if is_laughter(word, tok.elongated) {
            unit.kind = Kind::Senti {
                valence: LAUGHTER,
                negatable: false,
            };
        } else if let Some(reading) = lex.classify(word) {
            unit.kind = reading.kind;
            unit.pre_negated = reading.pre_negated;
            unit.conjoined |= reading.conjoined;
        }
        units.push(unit);
        i += 1;
    }
    disambiguate(lex, t, &mut units);
    units
}

/// Longest multiword expression starting at token `i`: (tokens used, kind).
fn match_phrase(lex: &Lexicon, t: &Tokens, i: usize) -> Option<(usize, Kind)> {
    let toks = &t.tokens;
    let first = t.text(&toks[i]);
    let mut keys = [Some(first), None];
    // A conjunction may be glued to the first word: "والله يعطيك العافية".
    if first.chars().count() >= 3 {
        keys[1] = first.strip_prefix('و').or_else(|| first.strip_prefix('ف'));
    }
    for key in keys.into_iter().flatten() {
        let Some(candidates) = lex.phrases.get(key) else {
            continue;
        };
        for (rest, kind) in candidates {
            let n = rest.len();
            if i + n >= toks.len() {
                continue;
            }
            let ok = rest.iter().enumerate().all(|(k, expected)| {
                let tok = &toks[i + 1 + k];
                let word = t.text(tok);
                !tok.latin
                    && !tok.boundary_before
                    && if k + 1 == n {
                        phrase_tail_matches(word, expected)
                    } else {
                        word == expected
                    }
            });
            if ok {
                return Some((n + 1, *kind));
            }
        }
    }
    None
}

/// Context rules that a lexicon lookup cannot see.
fn disambiguate(lex: &Lexicon, t: &Tokens, units: &mut [Unit]) {
    let word = |u: &Unit| t.text(&t.tokens[u.token]);
    for j in 0..units.len() {
        let w = word(&units[j]);
        if matches!(units[j].kind, Kind::Negator { .. }) && (w == "ما" || w == "وما") {
            let clause_start = j == 0 || units[j].boundary_before;
            let wh = units
                .get(j + 1)
                .is_some_and(|n| !n.boundary_before && lex.wh_followers.contains(word(n)));
            let relative = j > 0
                && !units[j].boundary_before
                && units[j - 1].kind == Kind::Neutral
                && lex.relative_leaders.contains(word(&units[j - 1]));
            // "ما هو رصيدي" asks; "الجهاز ما هو زين" (Gulf) negates.
            if (clause_start && wh) || relative {
                units[j].kind = Kind::Neutral;
            }
        }
        if let Kind::Booster(_) = units[j].kind {
            let is_marra = matches!(w, "مره" | "مرا");
            if is_marra
                && j > 0
                && !units[j].boundary_before
                && lex.marra_as_time.contains(word(&units[j - 1]))
            {
                units[j].kind = Kind::Neutral;
            }
        }
    }
}

/// Is unit `i` within reach of an active negator on its left?
fn negated(units: &[Unit], i: usize) -> bool {
    for d in 1..=3 {
        // Negation stops at punctuation and does not distribute over a
        // و-coordination: "مش منيح وبطيء" negates only "منيح"; Arabic repeats
        // the negator ("ولا") when it means both.
        if d > i
            || units[i - d + 1..=i]
                .iter()
                .any(|u| u.boundary_before || u.conjoined)
        {
            return false;
        }
        match units[i - d].kind {
            Kind::Negator { window } => return d <= window,
            // A negator belongs to the nearest content word: in "مش منيح
            // وغالي" only "منيح" is negated.
            Kind::Senti { .. } | Kind::Event { .. } | Kind::Contrast => return false,
            Kind::Booster(_) | Kind::Neutral => {}
        }
    }
    false
}

fn same_clause(units: &[Unit], a: usize, b: usize) -> bool {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    units[lo + 1..=hi].iter().all(|u| !u.boundary_before)
}

pub(super) fn score(text: &str) -> f32 {
    let lex = lexicon();
    let toks = tokenize(text);
    if toks.tokens.is_empty() {
        return 0.0;
    }
    let units = units(lex, &toks);
    let mut vals = vec![0.0f32; units.len()];

    for (i, u) in units.iter().enumerate() {
        let neg = u.pre_negated || negated(&units, i);
        let mut v = match u.kind {
            Kind::Senti { valence, negatable } => {
                if neg && negatable {
                    valence * NEGATION_SCALAR
                } else {
                    valence
                }
            }
            Kind::Event {
                affirmative,
                negated,
            } => {
                if neg {
                    negated
                } else {
                    affirmative
                }
            }
            _ => 0.0,
        };
        if u.elongated && v != 0.0 {
            v += ELONGATION_BOOST * v.signum();
        }
        vals[i] = v;
    }

    // Boosters modify the nearest sentiment word, left first (Arabic mostly
    // postposes them: "ممتاز جدا"), then right ("كتير منيح").
    for (b, u) in units.iter().enumerate() {
        let Kind::Booster(boost) = u.kind else {
            continue;
        };
        let candidates = [
            b.checked_sub(1).map(|t| (t, 1.0)),
            Some((b + 1, 1.0)),
            b.checked_sub(2).map(|t| (t, 0.95)),
            Some((b + 2, 0.95)),
        ];
        let target = candidates
            .into_iter()
            .flatten()
            .find(|(t, _)| *t < units.len() && vals[*t] != 0.0 && same_clause(&units, b, *t));
        if let Some((t, scale)) = target {
            vals[t] += boost * scale * vals[t].signum();
        }
    }

    // VADER's "but" rule, on the last contrast word that has content after it.
    let contrast = units
        .iter()
        .enumerate()
        .rev()
        .filter(|(c, u)| u.kind == Kind::Contrast && vals[c + 1..].iter().any(|v| *v != 0.0))
        .map(|(c, _)| c)
        .next();
    if let Some(c) = contrast {
        for (i, v) in vals.iter_mut().enumerate() {
            if i < c {
                *v *= 0.5;
            } else if i > c {
                *v *= 1.5;
            }
        }
    }

    let mut sum: f32 = vals.iter().sum();
    if sum != 0.0 {
        let emarks = toks.exclamations.min(4) as f32 * 0.292;
        let qmarks = if toks.questions > 3 {
            0.96
        } else {
            toks.questions as f32 * 0.18
        };
        sum += (emarks + qmarks) * sum.signum();
    }
    normalize_valence(sum)
}

/// Debug view of how an utterance was read: (first token, kind).
#[cfg(test)]
pub(super) fn explain(text: &str) -> Vec<(String, String)> {
    let lex = lexicon();
    let toks = tokenize(text);
    let units = units(lex, &toks);
    units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let neg = u.pre_negated || negated(&units, i);
            (
                toks.text(&toks.tokens[u.token]).to_string(),
                format!("{:?}{}", u.kind, if neg { " [negated]" } else { "" }),
            )
        })
        .collect()
}
