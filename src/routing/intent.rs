//! Rule-based intent classification for English and Arabic caller utterances.
//!
//! The classifier has to run on every customer turn with no model and no network,
//! so it is a phrase lexicon matched against normalized tokens:
//!
//! * Arabic is normalized (tashkeel, tatweel, alef forms, ة→ه, ى→ي, hamza seats,
//!   Arabic-Indic digits) because speech-to-text output spells the same word many ways.
//! * Each Arabic token is also tried without attached clitics (و/ف, ب/ل/ك, ال, لل and
//!   pronoun suffixes such as ي/ك/ه/ها/نا), so "والفاتورة" and "فاتورتي" both find "فاتورة".
//! * Phrase words may be separated by up to [`MAX_GAP`] other words ("speak to your
//!   manager" matches "speak to manager"), and a word ending in `*` matches any word
//!   starting with it.
//! * Negation ("I don't want to cancel", "ما في مشكلة") suppresses the intents where it
//!   flips the meaning.
//! * When several intents match, [`PRIORITY`] decides: the ones that need a human or
//!   support soonest win.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::lang::Lang;

/// What the customer wants in one turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Greeting,
    Purchase,
    Pricing,
    Upgrade,
    OrderStatus,
    Billing,
    Problem,
    Complaint,
    Cancel,
    Manager,
    Human,
    Thanks,
    Goodbye,
    Affirm,
    Deny,
    Unclear,
    Other,
}

impl Intent {
    pub const ALL: [Intent; 17] = [
        Intent::Greeting,
        Intent::Purchase,
        Intent::Pricing,
        Intent::Upgrade,
        Intent::OrderStatus,
        Intent::Billing,
        Intent::Problem,
        Intent::Complaint,
        Intent::Cancel,
        Intent::Manager,
        Intent::Human,
        Intent::Thanks,
        Intent::Goodbye,
        Intent::Affirm,
        Intent::Deny,
        Intent::Unclear,
        Intent::Other,
    ];

    /// The serde id, e.g. "order_status".
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Greeting => "greeting",
            Intent::Purchase => "purchase",
            Intent::Pricing => "pricing",
            Intent::Upgrade => "upgrade",
            Intent::OrderStatus => "order_status",
            Intent::Billing => "billing",
            Intent::Problem => "problem",
            Intent::Complaint => "complaint",
            Intent::Cancel => "cancel",
            Intent::Manager => "manager",
            Intent::Human => "human",
            Intent::Thanks => "thanks",
            Intent::Goodbye => "goodbye",
            Intent::Affirm => "affirm",
            Intent::Deny => "deny",
            Intent::Unclear => "unclear",
            Intent::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Intent> {
        let s = s.trim();
        Intent::ALL
            .into_iter()
            .find(|i| i.as_str().eq_ignore_ascii_case(s))
    }

    /// Buying or transaction interest: the sales persona's business.
    pub fn is_sales(self) -> bool {
        matches!(self, Intent::Purchase | Intent::Pricing | Intent::Upgrade)
    }

    /// Something after the sale went wrong or needs handling: the support persona's business.
    pub fn is_support(self) -> bool {
        matches!(
            self,
            Intent::OrderStatus
                | Intent::Billing
                | Intent::Problem
                | Intent::Complaint
                | Intent::Cancel
                | Intent::Manager
                | Intent::Human
        )
    }

    /// Short English description used in routing explanations.
    pub fn describe(self) -> &'static str {
        match self {
            Intent::Greeting => "greeting",
            Intent::Purchase => "purchase interest",
            Intent::Pricing => "pricing question",
            Intent::Upgrade => "upgrade interest",
            Intent::OrderStatus => "order status question",
            Intent::Billing => "billing issue",
            Intent::Problem => "problem report",
            Intent::Complaint => "complaint",
            Intent::Cancel => "cancellation request",
            Intent::Manager => "request for a manager",
            Intent::Human => "request for a human agent",
            Intent::Thanks => "thanks",
            Intent::Goodbye => "goodbye",
            Intent::Affirm => "agreement",
            Intent::Deny => "refusal",
            Intent::Unclear => "unclear speech",
            Intent::Other => "other request",
        }
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Highest priority first. Escalations outrank everything because missing one costs
/// far more than misreading a sales question; small talk comes last so that "hi, my
/// internet is down" is a problem, not a greeting.
pub const PRIORITY: [Intent; 15] = [
    Intent::Manager,
    Intent::Human,
    Intent::Cancel,
    Intent::Complaint,
    Intent::Problem,
    Intent::Billing,
    Intent::OrderStatus,
    Intent::Upgrade,
    Intent::Pricing,
    Intent::Purchase,
    Intent::Goodbye,
    Intent::Thanks,
    Intent::Greeting,
    Intent::Deny,
    Intent::Affirm,
];

/// Words allowed between two words of a phrase.
pub const MAX_GAP: usize = 2;

/// "yes"/"no" inside a long sentence rarely answers a question, so these intents only
/// count for short utterances.
const SHORT_REPLY_MAX_TOKENS: usize = 6;

/// Bounds the work done on pathological input (a runaway transcript).
const MAX_TOKENS: usize = 300;

/// Classifies one customer utterance. `lang` is the language the call is in; both
/// lexicons are always tried because callers code-switch ("my order رقم 5 ما وصل"),
/// and for Arabic calls Latin-script Arabic ("bdi elghi") is recognised too.
/// Empty text, noise markers ("\[music\]") and fillers ("umm") give [`Intent::Unclear`];
/// anything else that matches no rule gives [`Intent::Other`].
pub fn classify_intent(text: &str, lang: Lang) -> Intent {
    let tokens = tokenize(text);
    if tokens.is_empty() {
        return Intent::Unclear;
    }
    let tokens: Vec<Token> = tokens.iter().map(|t| Token::new(t)).collect();
    let lex = &*LEXICON;

    for intent in PRIORITY {
        if matches!(intent, Intent::Affirm | Intent::Deny) && tokens.len() > SHORT_REPLY_MAX_TOKENS
        {
            continue;
        }
        let negatable = is_negatable(intent);
        let hit = lex
            .rules
            .iter()
            .filter(|r| r.intent == intent && (!r.arabizi_only || lang == Lang::Ar))
            .any(|r| {
                find_matches(&tokens, &r.words)
                    .into_iter()
                    .any(|start| !negatable || !negated(&tokens, start, &lex.negators))
            });
        if hit {
            return intent;
        }
    }
    Intent::Other
}

/// Intents whose meaning a preceding negation reverses ("no problem", "I don't want
/// to cancel", "not sure"). Billing and order-status phrases stay on because negation there
/// usually *is* the complaint ("I didn't get my refund").
fn is_negatable(intent: Intent) -> bool {
    matches!(
        intent,
        Intent::Purchase
            | Intent::Upgrade
            | Intent::Cancel
            | Intent::Manager
            | Intent::Complaint
            | Intent::Problem
            | Intent::Thanks
            | Intent::Affirm
    )
}

// ---------------------------------------------------------------------------------
// Normalization and tokenization
// ---------------------------------------------------------------------------------

/// Normalizes Arabic spelling variants and lowercases Latin text. Output keeps word
/// boundaries; punctuation is left for the tokenizer.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let mapped = match c {
            // Tashkeel, Quranic marks, superscript alef and tatweel carry no meaning
            // for keyword matching and STT emits them inconsistently.
            '\u{064B}'..='\u{065F}' | '\u{0670}' | '\u{06D6}'..='\u{06ED}' | '\u{0640}' => continue,
            'أ' | 'إ' | 'آ' | 'ٱ' => 'ا',
            'ة' => 'ه',
            'ى' | 'ی' => 'ي',
            'ک' => 'ك',
            'ؤ' | 'ئ' => 'ء',
            '\u{0660}'..='\u{0669}' => char::from_digit(c as u32 - 0x0660, 10).unwrap_or(c),
            '\u{06F0}'..='\u{06F9}' => char::from_digit(c as u32 - 0x06F0, 10).unwrap_or(c),
            // Apostrophes vanish so "don't" and "dont" are one word.
            '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{00B4}' => continue,
            c if c.is_uppercase() => {
                out.extend(c.to_lowercase());
                continue;
            }
            c => c,
        };
        out.push(mapped);
    }
    collapse_elongation(&out)
}

/// "شكراااا" and "sooooo" are stretched words, not new ones; three or more identical
/// letters never occur in the words we match, so runs collapse to one.
fn collapse_elongation(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run = j - i;
        if run >= 3 && c.is_alphabetic() {
            out.push(c);
        } else {
            out.extend(&chars[i..j]);
        }
        i = j;
    }
    out
}

/// Removes bracketed noise markers that STT engines emit for non-speech
/// ("[music]", "(inaudible)", "<noise>", "*cough*").
fn strip_noise_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut depth = 0usize;
    let mut in_stars = false;
    for c in text.chars() {
        match c {
            '[' | '(' | '{' | '<' => depth += 1,
            ']' | ')' | '}' | '>' => depth = depth.saturating_sub(1),
            '*' => in_stars = !in_stars,
            _ if depth == 0 && !in_stars => out.push(c),
            _ => {}
        }
    }
    out
}

const FILLERS: &[&str] = &[
    "um", "umm", "uh", "uhh", "uhm", "hmm", "hm", "mm", "mmm", "er", "erm", "ah", "eh", "ام",
    "امم", "م", "مم", "اا",
];

/// Normalized word tokens with noise markers and fillers removed. Words from different
/// scripts are split apart ("رقمorder" → two words).
pub fn tokenize(text: &str) -> Vec<String> {
    let cleaned = normalize(&strip_noise_markers(text));
    let mut tokens = Vec::new();
    let mut cur = String::new();
    let mut cur_arabic = false;
    for c in cleaned.chars() {
        if c.is_alphanumeric() {
            let arabic = crate::lang::is_arabic_letter(c);
            if !cur.is_empty() && arabic != cur_arabic && !c.is_ascii_digit() {
                tokens.push(std::mem::take(&mut cur));
            }
            if !c.is_ascii_digit() {
                cur_arabic = arabic;
            }
            cur.push(c);
        } else if !cur.is_empty() {
            tokens.push(std::mem::take(&mut cur));
        }
        if tokens.len() >= MAX_TOKENS {
            break;
        }
    }
    if !cur.is_empty() && tokens.len() < MAX_TOKENS {
        tokens.push(cur);
    }
    tokens.retain(|t| !FILLERS.contains(&t.as_str()));
    tokens
}

/// One utterance word plus the stems it may stand for once clitics are removed.
struct Token {
    forms: Vec<String>,
}

impl Token {
    fn new(word: &str) -> Token {
        let mut forms = vec![word.to_string()];
        if word.chars().any(crate::lang::is_arabic_letter) {
            for stem in strip_prefixes(word) {
                for form in strip_suffixes(&stem) {
                    push_unique(&mut forms, form);
                }
                push_unique(&mut forms, stem);
            }
        } else if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
            // Crude English plural folding: "bills", "issues", "prices".
            push_unique(&mut forms, word[..word.len() - 1].to_string());
        }
        Token { forms }
    }

    fn matches(&self, w: &Word) -> bool {
        if w.prefix {
            self.forms.iter().any(|f| f.starts_with(&w.text))
        } else {
            self.forms.contains(&w.text)
        }
    }

    /// Negators are function words; clitic stripping would turn "ولا" (or) into "لا".
    fn is_exactly(&self, s: &str) -> bool {
        self.forms[0] == s
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

/// Stems must keep at least this many letters: shorter leftovers are mostly accidental
/// and would match unrelated short lexicon words.
const MIN_STEM_CHARS: usize = 2;

fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// The word itself plus every stem left after removing a conjunction (و، ف), a
/// preposition (ب، ل، ك), the article (ال) or the fused "لل" (ل + ال), in that order.
fn strip_prefixes(word: &str) -> Vec<String> {
    let mut out = vec![word.to_string()];
    let mut stage: Vec<String> = vec![word.to_string()];
    for group in [&["و", "ف"][..], &["ب", "ل", "ك", "لل"][..], &["ال"][..]] {
        let mut next = stage.clone();
        for w in &stage {
            for p in group {
                if let Some(rest) = w.strip_prefix(p) {
                    if char_len(rest) >= MIN_STEM_CHARS {
                        let rest = rest.to_string();
                        push_unique(&mut next, rest.clone());
                        push_unique(&mut out, rest);
                    }
                }
            }
        }
        stage = next;
    }
    out
}

/// Possessive/object pronoun suffixes. A stem ending in ت before the suffix had a
/// ta marbuta ("فاتورتي" → "فاتوره").
fn strip_suffixes(word: &str) -> Vec<String> {
    const SUFFIXES: &[&str] = &["كم", "هم", "ها", "نا", "ني", "كي", "ك", "ه", "ي"];
    let mut out = Vec::new();
    for s in SUFFIXES {
        if let Some(stem) = word.strip_suffix(s) {
            if char_len(stem) >= MIN_STEM_CHARS {
                if let Some(base) = stem.strip_suffix('ت') {
                    if char_len(base) >= MIN_STEM_CHARS {
                        out.push(format!("{base}ه"));
                    }
                }
                out.push(stem.to_string());
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Phrase matching
// ---------------------------------------------------------------------------------

struct Word {
    text: String,
    prefix: bool,
}

struct Rule {
    intent: Intent,
    words: Vec<Word>,
    /// Latin-script Arabic rules, which would misfire on English calls.
    arabizi_only: bool,
}

struct Negator {
    words: Vec<String>,
    /// Words allowed between the negator and the phrase it negates.
    max_gap: usize,
}

struct Lexicon {
    rules: Vec<Rule>,
    negators: Vec<Negator>,
}

fn compile_phrase(phrase: &str) -> Vec<Word> {
    phrase
        .split_whitespace()
        .filter_map(|raw| {
            let (body, prefix) = match raw.strip_suffix('*') {
                Some(b) => (b, true),
                None => (raw, false),
            };
            let text = normalize(body);
            (!text.is_empty()).then_some(Word { text, prefix })
        })
        .collect()
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let mut rules = Vec::new();
    for (table, arabizi) in [(EN_RULES, false), (AR_RULES, false), (ARABIZI_RULES, true)] {
        for (intent, phrases) in table {
            for p in *phrases {
                let words = compile_phrase(p);
                if !words.is_empty() {
                    rules.push(Rule {
                        intent: *intent,
                        words,
                        arabizi_only: arabizi,
                    });
                }
            }
        }
    }
    let negators = NEGATORS
        .iter()
        .map(|(p, gap)| Negator {
            words: compile_phrase(p).into_iter().map(|w| w.text).collect(),
            max_gap: *gap,
        })
        .filter(|n| !n.words.is_empty())
        .collect();
    Lexicon { rules, negators }
});

/// Start positions of every occurrence of `words` in `tokens`, with up to
/// [`MAX_GAP`] unrelated tokens between consecutive phrase words.
fn find_matches(tokens: &[Token], words: &[Word]) -> Vec<usize> {
    let Some(first) = words.first() else {
        return Vec::new();
    };
    (0..tokens.len())
        .filter(|&i| tokens[i].matches(first) && rest_matches(tokens, i + 1, &words[1..]))
        .collect()
}

fn rest_matches(tokens: &[Token], from: usize, words: &[Word]) -> bool {
    let Some(w) = words.first() else {
        return true;
    };
    let end = (from + MAX_GAP + 1).min(tokens.len());
    (from..end).any(|j| tokens[j].matches(w) && rest_matches(tokens, j + 1, &words[1..]))
}

/// True when a negator ends just before `start` (within its allowed gap).
fn negated(tokens: &[Token], start: usize, negators: &[Negator]) -> bool {
    negators.iter().any(|n| {
        let len = n.words.len();
        (0..=n.max_gap).any(|gap| {
            let Some(end) = start.checked_sub(gap + 1) else {
                return false;
            };
            let Some(begin) = (end + 1).checked_sub(len) else {
                return false;
            };
            n.words
                .iter()
                .zip(&tokens[begin..=end])
                .all(|(w, t)| t.is_exactly(w))
        })
    })
}

// ---------------------------------------------------------------------------------
// Lexicon
// ---------------------------------------------------------------------------------

/// Negation cues and how many words may sit between them and the negated phrase.
/// "ما" and "لا" only count when adjacent: "ما" is also "what" ("ما هي المشكلة") and
/// "لا" often opens a sentence that then asserts ("لا، بدي ألغي").
const NEGATORS: &[(&str, usize)] = &[
    ("no", 1),
    ("not", 1),
    ("never", 1),
    ("dont", 1),
    ("doesnt", 1),
    ("didnt", 1),
    ("without", 1),
    ("dont want", 1),
    ("dont want to", 1),
    ("dont need", 1),
    ("dont need to", 1),
    ("dont have", 1),
    ("never had", 1),
    ("havent had", 1),
    ("no need to", 1),
    ("not going to", 1),
    ("ما", 0),
    ("لا", 0),
    ("مش", 1),
    ("مو", 1),
    ("مب", 1),
    ("ماني", 1),
    ("مانيش", 1),
    ("بدون", 1),
    ("مافي", 1),
    ("ما في", 1),
    ("ما فيه", 1),
    ("مافيش", 1),
    ("ما فيش", 1),
    ("مفيش", 1),
    ("ما بدي", 1),
    ("مابدي", 1),
    ("ما ابغى", 1),
    ("مابغى", 1),
    ("ما ابي", 1),
    ("مابي", 1),
    ("ما اريد", 1),
    ("لا اريد", 1),
    ("مش عايز", 1),
    ("مش عاوز", 1),
    ("لا داعي", 1),
    ("ما عندي", 1),
    ("ماعندي", 1),
    ("معنديش", 1),
    ("ما عندنا", 1),
];

type Table = &'static [(Intent, &'static [&'static str])];

const EN_RULES: Table = &[
    (
        Intent::Manager,
        &[
            "manager",
            "supervisor",
            "your boss",
            "person in charge",
            "someone in charge",
            "someone senior",
            "escalate*",
            "higher up",
        ],
    ),
    (
        Intent::Human,
        &[
            "human",
            "real person",
            "actual person",
            "live person",
            "live agent",
            "real agent",
            "representative",
            "operator",
            "robot",
            "a bot",
            "talk to a person",
            "speak to a person",
            "talk to someone real",
        ],
    ),
    (
        Intent::Cancel,
        &[
            "cancel*",
            "terminate*",
            "unsubscribe",
            "end my contract",
            "end my subscription",
            "close my account",
            "stop my subscription",
            "stop the service",
            "switch to another provider",
            "switching provider*",
            "leave your company",
        ],
    ),
    (
        Intent::Complaint,
        &[
            "complain*",
            "unacceptable",
            "ridiculous",
            "terrible",
            "awful",
            "worst",
            "disgusting",
            "fed up",
            "sick of",
            "tired of",
            "rip off",
            "ripoff",
            "scam",
            "outrageous",
            "disappointed",
            "disappointing",
            "frustrat*",
            "angry",
            "furious",
            "useless",
            "pathetic",
            "horrible",
            "rude",
            "waste of",
            "lawyer",
            "sue you",
            "upset",
            "unhappy",
            "not happy",
        ],
    ),
    (
        Intent::Problem,
        &[
            "problem*",
            "issue*",
            "not working",
            "isnt working",
            "doesnt work",
            "dont work",
            "wont work",
            "stopped working",
            "broke*",
            "damaged",
            "faulty",
            "fault",
            "error*",
            "bug",
            "crash*",
            "slow",
            "no internet",
            "no signal",
            "no connection",
            "no service",
            "cant connect",
            "cannot connect",
            "cant log*",
            "cannot log*",
            "cant access",
            "cannot access",
            "wont load",
            "not loading",
            "keeps dropping",
            "keeps disconnecting",
            "disconnect*",
            "internet down",
            "network down",
            "service down",
            "is down",
            "went down",
            "outage",
            "something wrong",
            "went wrong",
            "wrong item",
            "wrong order",
            "wrong product",
            "trouble",
            "glitch",
            "forgot my password",
            "reset my password",
            "locked out",
            "wont turn on",
            "doesnt turn on",
            "not charging",
            "fix",
            "technical",
            "technician",
            "engineer",
            "low speed",
            "speed low",
            "wont charge",
            "doesnt charge",
            "no dial tone",
            "cant make calls",
            "cant hear",
            "suspend*",
            "blocked",
            "cut off",
        ],
    ),
    (
        Intent::Billing,
        &[
            "bill",
            "billing",
            "billed",
            "invoice*",
            "charged",
            "charges",
            "charge on",
            "overcharg*",
            "double charg*",
            "extra charge",
            "refund*",
            "payment*",
            "paid",
            "money back",
            "credit card",
            "debit",
            "deducted",
            "receipt",
            "statement",
            "balance",
            "late fee",
            "charge",
        ],
    ),
    (
        Intent::OrderStatus,
        &[
            "my order",
            "the order i",
            "order status",
            "order number",
            "order id",
            "placed an order",
            "where is my",
            "track*",
            "delivery",
            "deliver*",
            "shipment",
            "shipping",
            "shipped",
            "parcel",
            "arrive*",
            "still waiting for",
            "when will i get",
            "dispatched",
            "courier",
        ],
    ),
    (
        Intent::Upgrade,
        &[
            "upgrad*",
            "downgrad*",
            "higher plan",
            "bigger plan",
            "better plan",
            "faster plan",
            "faster speed",
            "more speed",
            "more data",
            "switch to premium",
            "change my plan",
            "change plan",
            "add a line",
            "extra line",
            "add on",
            "addon",
            "switch to the",
            "switch my plan",
            "switch plan*",
            "move to a",
            "unlimited",
        ],
    ),
    (
        Intent::Pricing,
        &[
            "price*",
            "pricing",
            "cost*",
            "how much",
            "cheap*",
            "expensive",
            "discount*",
            "offer*",
            "deal",
            "deals",
            "promo*",
            "fee",
            "quote",
            "what plans",
            "which plans",
            "what packages",
            "packages",
            "per month",
            "a month",
            "difference between",
            "compare*",
            "which plan",
            "installment*",
        ],
    ),
    (
        Intent::Purchase,
        &[
            "buy*",
            "purchas*",
            "subscribe",
            "sign up",
            "signup",
            "sign me up",
            "new line",
            "new plan",
            "new subscription",
            "new customer",
            "want to order",
            "like to order",
            "place an order",
            "order a",
            "interested in",
            "take the",
            "get the premium",
            "get a new",
            "open an account",
            "join",
            "ill take it",
        ],
    ),
    (
        Intent::Goodbye,
        &[
            "bye",
            "goodbye",
            "good bye",
            "see you",
            "have a nice day",
            "have a good day",
            "have a great day",
            "thats all",
            "that is all",
            "nothing else",
            "thats it",
            "hang up",
            "gotta go",
            "talk later",
            "take care",
        ],
    ),
    (
        Intent::Thanks,
        &["thank*", "thx", "appreciate*", "cheers", "grateful"],
    ),
    (
        Intent::Greeting,
        &[
            "hello",
            "hi",
            "hey",
            "good morning",
            "good afternoon",
            "good evening",
            "greetings",
            "howdy",
        ],
    ),
    (
        Intent::Deny,
        &[
            "no",
            "nope",
            "nah",
            "not really",
            "not now",
            "never mind",
            "nevermind",
            "incorrect",
            "dont want",
            "not interested",
        ],
    ),
    (
        Intent::Affirm,
        &[
            "yes",
            "yeah",
            "yep",
            "yup",
            "sure",
            "ok",
            "okay",
            "alright",
            "all right",
            "correct",
            "right",
            "exactly",
            "absolutely",
            "of course",
            "please do",
            "sounds good",
            "go ahead",
            "that works",
            "fine",
            "great",
            "perfect",
            "agreed",
        ],
    ),
];

/// Arabic phrases are written in ordinary spelling; they go through the same
/// normalization as the utterance. Covers MSA plus common Levantine, Gulf and
/// Egyptian forms.
const AR_RULES: Table = &[
    (
        Intent::Manager,
        &[
            "مدير",
            "المسؤول",
            "مسؤول",
            "مسئول",
            "مسول",
            "مشرف",
            "رئيسك",
            "إدارة",
            "حد أعلى",
            "شخص أعلى",
            "أعلى منك",
            "صاحب القرار",
        ],
    ),
    (
        Intent::Human,
        &[
            "موظف حقيقي",
            "شخص حقيقي",
            "إنسان",
            "بشر",
            "بني آدم",
            "روبوت",
            "احكي موظف",
            "أحكي مع موظف",
            "أكلم موظف",
            "اتكلم موظف",
            "أتحدث موظف",
            "أحكي شخص",
            "أكلم شخص",
            "موظف خدمة العملاء",
        ],
    ),
    (
        Intent::Cancel,
        &[
            "ألغي",
            "إلغاء",
            "ألغيه",
            "ألغيها",
            "ألغيلي",
            "ألغيت",
            "لغي",
            "لغيت",
            "تلغي",
            "تلغيلي",
            "يلغي",
            "نلغي",
            "ملغي",
            "الغوا",
            "تلغوا",
            "حلغي",
            "هلغي",
            "كنسل*",
            "اكنسل*",
            "كانسل*",
            "تكنسل*",
            "فسخ العقد",
            "إنهاء العقد",
            "إنهاء الاشتراك",
            "أوقف الاشتراك",
            "وقف الاشتراك",
            "أوقف الخدمة",
            "أقفل الحساب",
            "اسكر الحساب",
            "سكر الخط",
        ],
    ),
    (
        Intent::Complaint,
        &[
            "شكوى",
            "شكوه",
            "أشتكي",
            "اشتكى",
            "بشتكي",
            "زهقت",
            "زهقتوني",
            "طفشت",
            "طفشتوني",
            "قرفت",
            "قرفتوني",
            "مليت",
            "تعبت منكم",
            "سيء",
            "سيئة",
            "زفت",
            "مهزلة",
            "نصب",
            "نصابين",
            "حرامية",
            "غير مقبول",
            "مش مقبول",
            "مو مقبول",
            "أسوأ",
            "قلة احترام",
            "ما في احترام",
            "وقح",
            "معفن",
            "محامي",
            "اعتراض",
            "خدمتكم زفت",
            "زعلان",
            "زعلانة",
            "متضايق",
            "مستاء",
            "منزعج",
            "معصب",
            "مقهور",
        ],
    ),
    (
        Intent::Problem,
        &[
            "مشكلة",
            "مشاكل",
            "مشكل",
            "عطل",
            "عطلان",
            "معطل",
            "تعطل",
            "خربان",
            "خربانة",
            "خرب",
            "خربت",
            "بايظ",
            "بايظة",
            "باظ",
            "ضارب",
            "ما يشتغل",
            "ما بيشتغل",
            "مابيشتغل",
            "مايشتغل",
            "مش شغال",
            "مو شغال",
            "مش بيشتغل",
            "ما يشتغلش",
            "لا يعمل",
            "واقف",
            "يفصل",
            "بيفصل",
            "فاصل",
            "يقطع",
            "بيقطع",
            "مقطوع",
            "انقطع",
            "انقطاع",
            "قاطع",
            "ما في نت",
            "ما فيه نت",
            "مافي نت",
            "ما في انترنت",
            "مافي انترنت",
            "ما في شبكة",
            "مافي شبكة",
            "بطيء",
            "بطء",
            "نت ثقيل",
            "ضعيف*",
            "خطأ",
            "غلط",
            "ما أقدر أدخل",
            "ما قدرت أدخل",
            "مش قادر أدخل",
            "مو قادر أدخل",
            "ما يفتح",
            "ما بيفتح",
            "مش بيفتح",
            "ما يرضى",
            "عالق",
            "معلق",
            "يهنج",
            "مهنج",
            "تالف",
            "مكسور",
            "انكسر",
            "فني",
            "تصلح",
            "تصليح",
            "إصلاح",
            "صلحوا",
            "يعلق",
            "بيعلق",
            "علق",
            "ما عندي نت",
            "ماعندي نت",
            "ما عندي انترنت",
            "ما عندي شبكة",
            "توقف",
            "يتوقف",
            "موقوف",
            "انوقف",
            "اتوقف",
        ],
    ),
    (
        Intent::Billing,
        &[
            "فاتورة",
            "فواتير",
            "الحساب عالي",
            "مبلغ",
            "انخصم",
            "خصموا",
            "خصمتوا",
            "سحبوا",
            "انسحب",
            "دفعت",
            "الدفع",
            "أدفع",
            "استرجاع",
            "استرداد",
            "رجعولي",
            "رجعوا فلوسي",
            "فلوسي",
            "مصاري",
            "مصرياتي",
            "مصريات",
            "رصيد",
            "حاسبوني",
            "رسوم إضافية",
            "كشف حساب",
            "إيصال",
        ],
    ),
    (
        Intent::OrderStatus,
        &[
            "طلبي",
            "الطلب",
            "طلبية",
            "رقم الطلب",
            "حالة الطلب",
            "شحنة",
            "شحنتي",
            "توصيل",
            "ما وصل*",
            "لسه ما وصل*",
            "مش واصل",
            "لم يصل",
            "متى يوصل",
            "امتى يوصل",
            "إيمتى يوصل",
            "متى توصل",
            "تتبع",
            "المندوب",
            "أوردر",
        ],
    ),
    (
        Intent::Upgrade,
        &[
            "ترقية",
            "أرقي",
            "أرفع الباقة",
            "أرفع السرعة",
            "باقة أعلى",
            "باقة أكبر",
            "سرعة أعلى",
            "سرعة أكثر",
            "زيادة السرعة",
            "أزيد السرعة",
            "زود السرعة",
            "أغير الباقة",
            "تغيير الباقة",
            "غير الباقة",
            "أنقل للباقة",
            "خط إضافي",
            "إضافة خط",
            "أبجريد",
            "اب جريد",
            "أبغريد",
            "انتقل باقة",
            "أنقل باقة",
            "أحول باقة",
            "أضيف خط",
            "ضيف خط",
        ],
    ),
    (
        Intent::Pricing,
        &[
            "سعر",
            "أسعار",
            "بكم",
            "بكام",
            "كم سعر",
            "كم السعر",
            "قديش",
            "قديه",
            "كم حق",
            "كم حقها",
            "كم تكلف",
            "كم يكلف",
            "تكلفة",
            "كم ثمن",
            "ثمن",
            "كم الاشتراك",
            "كم الباقة",
            "كم شهري",
            "كم بالشهر",
            "كم في الشهر",
            "عروض",
            "عرض",
            "خصم",
            "خصومات",
            "تخفيض",
            "غالي",
            "رخيص",
            "أرخص",
            "باقات",
            "رسوم",
            "الفرق بين",
            "فرق بين",
            "مقارنة",
        ],
    ),
    (
        Intent::Purchase,
        &[
            "أشتري",
            "شراء",
            "اشتري",
            "بشتري",
            "نشتري",
            "أشترك",
            "اشترك",
            "اشتراك جديد",
            "أعمل اشتراك",
            "أسوي اشتراك",
            "أفتح اشتراك",
            "أطلب باقة",
            "أطلب",
            "خط جديد",
            "باقة جديدة",
            "جهاز جديد",
            "بدي باقة",
            "أبغى باقة",
            "أبي باقة",
            "عايز باقة",
            "عاوز باقة",
            "أريد باقة",
            "حاب أشترك",
            "مهتم",
            "آخذ الباقة",
            "اخد الباقة",
            "سجلني",
            "أسجل",
        ],
    ),
    (
        Intent::Goodbye,
        &[
            "مع السلامة",
            "باي",
            "الله معك",
            "في أمان الله",
            "إلى اللقاء",
            "بس هيك",
            "هذا كل شي",
            "هذا كل شيء",
            "بس كذا",
            "ما في شي ثاني",
            "ما بدي شي",
            "ما أبغى شي",
        ],
    ),
    (
        Intent::Thanks,
        &[
            "شكرا",
            "مشكور",
            "مشكورة",
            "يعطيك العافية",
            "تسلم",
            "تسلمي",
            "ممنون",
            "متشكر",
            "متشكرين",
            "جزاك الله",
            "الله يجزاك",
            "مرسي",
            "ميرسي",
            "كثر خيرك",
            "الله يخليك",
            "يعافيك",
        ],
    ),
    (
        Intent::Greeting,
        &[
            "السلام عليكم",
            "سلام عليكم",
            "مرحبا",
            "مرحبتين",
            "أهلا",
            "أهلين",
            "هلا",
            "هلو",
            "ألو",
            "هاي",
            "صباح الخير",
            "مساء الخير",
            "كيفك",
            "كيف حالك",
            "شلونك",
            "ازيك",
        ],
    ),
    (
        Intent::Deny,
        &[
            "لا",
            "لأ",
            "لاء",
            "مش",
            "مو",
            "كلا",
            "أبدا",
            "مش عايز",
            "ما بدي",
            "مابدي",
            "ما أبغى",
            "مابي",
            "مش لازم",
            "بعدين",
            "لاحقا",
        ],
    ),
    (
        Intent::Affirm,
        &[
            "نعم",
            "أيوه",
            "أيوا",
            "اي",
            "آه",
            "أكيد",
            "تمام",
            "طيب",
            "ماشي",
            "أوكي",
            "اوك",
            "حاضر",
            "صح",
            "صحيح",
            "بالضبط",
            "موافق",
            "زين",
            "يب",
            "ممتاز",
            "أبشر",
            "تم",
        ],
    ),
];

/// Latin-script ("Arabizi") Arabic, only tried on Arabic calls because some of these
/// spellings are ordinary English words or names elsewhere.
const ARABIZI_RULES: Table = &[
    (
        Intent::Manager,
        &["mudir", "modir", "mudeer", "modeer", "mas2ool", "masool"],
    ),
    (
        Intent::Cancel,
        &["elghi", "alghi", "ulghi", "elgha2", "ilgha2"],
    ),
    (Intent::Complaint, &["shakwa", "shakwe"]),
    (
        Intent::Problem,
        &[
            "moshkle", "mushkila", "moshkela", "mishkle", "kharban", "5arban", "3atlan", "ba2ez",
            "bayez",
        ],
    ),
    (Intent::Billing, &["fatura", "fatoura", "fatora"]),
    (
        Intent::OrderStatus,
        &["talabi", "el talab", "wain talabi", "fein el talab"],
    ),
    (Intent::Upgrade, &["tar2ye", "tarqiya"]),
    (
        Intent::Pricing,
        &[
            "b2addesh", "2addesh", "adesh", "bkam", "bekam", "se3r", "sa3r",
        ],
    ),
    (
        Intent::Purchase,
        &["ashtari", "ashtri", "eshtari", "ashtarek"],
    ),
    (
        Intent::Goodbye,
        &["ma3 salama", "ma3a salama", "ma3 el salama"],
    ),
    (
        Intent::Thanks,
        &["shukran", "shokran", "mashkoor", "mashkour", "yislamo"],
    ),
    (
        Intent::Greeting,
        &[
            "marhaba",
            "ahlan",
            "salam 3alaykom",
            "assalamu alaikum",
            "salamu alaikum",
        ],
    ),
    (Intent::Deny, &["la2", "la"]),
    (
        Intent::Affirm,
        &["aywa", "aiwa", "na3am", "tamam", "akid", "akeed", "mashi"],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn en(text: &str) -> Intent {
        classify_intent(text, Lang::En)
    }

    fn ar(text: &str) -> Intent {
        classify_intent(text, Lang::Ar)
    }

    #[test]
    fn english_utterances() {
        let cases = [
            ("I want to speak to a manager", Intent::Manager),
            ("Put your supervisor on the phone, now!", Intent::Manager),
            ("Can I talk to a real person please?", Intent::Human),
            ("Am I talking to a robot?", Intent::Human),
            ("I'd like to cancel my subscription", Intent::Cancel),
            (
                "Please terminate my contract at the end of the month",
                Intent::Cancel,
            ),
            (
                "This is ridiculous, I've been waiting for weeks",
                Intent::Complaint,
            ),
            (
                "I want to make a complaint about your technician",
                Intent::Complaint,
            ),
            (
                "My internet is not working since yesterday",
                Intent::Problem,
            ),
            (
                "The router keeps disconnecting every few minutes",
                Intent::Problem,
            ),
            ("I can't log in to the app", Intent::Problem),
            ("I was charged twice on my last bill", Intent::Billing),
            ("I still haven't gotten my refund", Intent::Billing),
            (
                "Where is my order? It was supposed to arrive Monday",
                Intent::OrderStatus,
            ),
            ("Can you track my delivery?", Intent::OrderStatus),
            ("I'd like to upgrade to a faster plan", Intent::Upgrade),
            ("how much is the premium plan", Intent::Pricing),
            ("Do you have any offers on fiber?", Intent::Pricing),
            ("I want to buy a new phone line", Intent::Purchase),
            ("I'm interested in the family package", Intent::Purchase),
            ("Hi there, good morning", Intent::Greeting),
            ("Thank you so much for your help", Intent::Thanks),
            ("No, that's all, bye", Intent::Goodbye),
            ("Yes, please", Intent::Affirm),
            ("Okay", Intent::Affirm),
            ("Nope", Intent::Deny),
            ("I'd rather not, no", Intent::Deny),
            ("The weather is nice in Dubai today", Intent::Other),
            ("", Intent::Unclear),
            ("   ... ", Intent::Unclear),
            ("[BLANK_AUDIO]", Intent::Unclear),
            ("umm uh", Intent::Unclear),
            ("I'm not sure", Intent::Other),
            ("Can you send me a technician?", Intent::Problem),
            ("I never asked for this charge", Intent::Billing),
            ("I want to switch to the unlimited plan", Intent::Upgrade),
            ("can you switch to Arabic please", Intent::Other),
        ];
        for (text, want) in cases {
            assert_eq!(en(text), want, "{text:?}");
        }
    }

    #[test]
    fn arabic_utterances_msa_and_dialects() {
        let cases = [
            ("عايز أكلم المدير", Intent::Manager),
            ("لو سمحت حولني للمسؤول", Intent::Manager),
            ("بدي احكي مع موظف حقيقي مش روبوت", Intent::Human),
            ("ابغى الغي الاشتراك", Intent::Cancel),
            ("أريد إلغاءَ الاشتراكِ من فضلك", Intent::Cancel),
            ("بدي كنسل الخط", Intent::Cancel),
            ("بدي قدم شكوى على الفني", Intent::Complaint),
            ("خدمتكم زفت والله زهقت", Intent::Complaint),
            ("الراوتر خربان من امبارح", Intent::Problem),
            ("النت مقطوع عندي من الصبح", Intent::Problem),
            ("الجهاز مش شغال خالص", Intent::Problem),
            ("عندي مشكلة بالتطبيق", Intent::Problem),
            ("فاتورتي هالشهر عالية كتير", Intent::Billing),
            ("انخصم مني المبلغ مرتين", Intent::Billing),
            ("وين طلبي؟ لسه ما وصل", Intent::OrderStatus),
            ("ابغى اعرف متى يوصل الطلب", Intent::OrderStatus),
            ("بدي ارفع الباقة لسرعة أعلى", Intent::Upgrade),
            ("قديش سعر الباقة الذهبية؟", Intent::Pricing),
            ("بكام الباقة دي", Intent::Pricing),
            ("بدي اشتري باقة", Intent::Purchase),
            ("حاب أشترك بخط جديد", Intent::Purchase),
            ("السلام عليكم", Intent::Greeting),
            ("مرحباااا", Intent::Greeting),
            ("شكراً جزيلاً", Intent::Thanks),
            ("يعطيك العافية", Intent::Thanks),
            ("مع السلامة", Intent::Goodbye),
            ("ايوه تمام", Intent::Affirm),
            ("نعم", Intent::Affirm),
            ("لا", Intent::Deny),
            ("الجو حلو اليوم", Intent::Other),
            ("اممم", Intent::Unclear),
            ("التطبيق يعلق كل شوي", Intent::Problem),
            ("انا زعلان كتير من الخدمة", Intent::Complaint),
            ("شو الفرق بين الباقة العادية والمميزة؟", Intent::Pricing),
            ("أبي أكلم مسؤول", Intent::Manager),
            ("ابشر", Intent::Affirm),
            ("الله يعافيك", Intent::Thanks),
            ("عندي طلب", Intent::Other),
        ];
        for (text, want) in cases {
            assert_eq!(ar(text), want, "{text:?}");
        }
    }

    #[test]
    fn negation_flips_only_where_it_should() {
        assert_eq!(en("I don't want to cancel"), Intent::Deny);
        assert_eq!(en("no problem at all"), Intent::Deny);
        assert_eq!(ar("ما في مشكلة"), Intent::Other);
        assert_eq!(ar("لا مشكلة"), Intent::Deny);
        assert_eq!(ar("ما ابغى الغي"), Intent::Deny);
        // "ما" meaning "what" must not negate.
        assert_eq!(ar("ما هي المشكلة بالضبط"), Intent::Problem);
        // An opening "no" does not negate the request that follows.
        assert_eq!(ar("لا، بدي الغي الخط"), Intent::Cancel);
        // Negation is the complaint itself for billing.
        assert_eq!(en("I didn't get my refund"), Intent::Billing);
        assert_eq!(
            en("I don't have any problem with the service, I just want to add a line"),
            Intent::Upgrade
        );
        assert_eq!(ar("ما عندي مشكلة بالخدمة بس بدي ضيف خط"), Intent::Upgrade);
    }

    #[test]
    fn priority_resolves_mixed_requests() {
        assert_eq!(
            en("hi, my internet is broken and I want a manager"),
            Intent::Manager
        );
        assert_eq!(en("cancel it, this service is terrible"), Intent::Cancel);
        assert_eq!(en("thanks, but it's still not working"), Intent::Problem);
        assert_eq!(en("how much does it cost to upgrade"), Intent::Upgrade);
        assert_eq!(ar("مرحبا، بدي اشتري باقة"), Intent::Purchase);
        assert_eq!(ar("شكرا بس النت لسه مقطوع"), Intent::Problem);
    }

    #[test]
    fn arabic_normalization_and_clitics() {
        assert_eq!(normalize("إِلْغَاءُ"), "الغاء");
        assert_eq!(normalize("فاتورة"), "فاتوره");
        assert_eq!(normalize("مستشفى"), "مستشفي");
        assert_eq!(normalize("مـــرحبا"), "مرحبا");
        assert_eq!(normalize("١٢٣"), "123");
        assert_eq!(ar("وبالفاتورة في غلط"), Intent::Problem);
        assert_eq!(ar("بخصوص فاتورتي"), Intent::Billing);
        assert_eq!(ar("للمدير لو سمحت"), Intent::Manager);
        assert_eq!(ar("فالراوتر عطلان"), Intent::Problem);
    }

    #[test]
    fn code_switching_and_arabizi() {
        assert_eq!(ar("my order رقم 5512 ما وصل"), Intent::OrderStatus);
        assert_eq!(ar("bdi elghi el khat"), Intent::Cancel);
        assert_eq!(ar("shukran ktir"), Intent::Thanks);
        // Arabizi is not tried on English calls.
        assert_eq!(en("la la land"), Intent::Other);
    }

    #[test]
    fn order_number_alone_is_content_not_noise() {
        assert_eq!(en("5512 9984"), Intent::Other);
        assert_eq!(ar("٥٥١٢"), Intent::Other);
    }

    #[test]
    fn intent_ids_round_trip() {
        for i in Intent::ALL {
            assert_eq!(Intent::parse(i.as_str()), Some(i));
            let json = serde_json::to_string(&i).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", i.as_str()));
        }
        assert_eq!(Intent::parse("nope"), None);
    }
}
