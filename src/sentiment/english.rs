//! English scoring: VADER (the `vader_sentiment` crate) plus a thin call-center layer.
//!
//! VADER was built for social media. On customer calls three things go wrong
//! with it out of the box, and this layer fixes them without patching the crate:
//!
//! 1. Word valences. Politeness and discourse words ("please", "help", "yes",
//!    "sure", "want") and product nouns ("credit", "interest", "support",
//!    "care") are scored as sentiment, turning plain requests positive, while
//!    complaint vocabulary ("overcharged", "late", "outage", "expensive") is
//!    missing. [`DOMAIN_WORDS`] overrides/extends the VADER lexicon; the merged
//!    lexicon is handed to VADER through its public `from_lexicon` constructor.
//! 2. Multiword expressions ("still waiting", "on hold", "charged twice",
//!    "no problem", "would like"). [`PHRASES`] are matched first, their tokens
//!    hidden from VADER and their valence added to the total.
//! 3. Unfulfilled service events: "it doesn't work", "never arrived", "no one
//!    called back" contain no sentiment word at all. [`EVENTS`] are neutral
//!    words that become negative when negated.
//!
//! Also fixed: VADER 0.1 subtracts the `?`/`!` emphasis when the sum is exactly
//! zero, so "where is my order??" came out negative; we return 0 when VADER
//! found no sentiment-bearing token.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use vader_sentiment::SentimentIntensityAnalyzer;

use super::normalize_valence;

/// Call-center overrides of and additions to the VADER lexicon.
/// Valences follow VADER's -4..=4 scale.
const DOMAIN_WORDS: &[(&str, f32)] = &[
    // Requests are framed with these; on a call they carry no sentiment.
    ("please", 0.0),
    ("help", 0.0),
    ("helps", 0.0),
    ("want", 0.0),
    ("yes", 0.0),
    ("yeah", 0.0),
    ("no", 0.0),
    ("ok", 0.0),
    ("okay", 0.0),
    ("sure", 0.0),
    ("well", 0.0),
    ("pretty", 0.0),
    ("like", 0.8),
    ("hope", 1.0),
    ("true", 0.5),
    ("god", 0.0),
    ("dear", 0.0),
    ("number", 0.0),
    ("share", 0.0),
    ("ready", 0.0),
    ("clear", 0.0),
    ("promise", 0.0),
    ("promised", 0.0),
    ("guarantee", 0.0),
    ("seriously", -0.3),
    ("sorry", 0.0),
    // Product and account nouns VADER reads as sentiment.
    ("credit", 0.0),
    ("interest", 0.0),
    ("security", 0.0),
    ("care", 0.0),
    ("support", 0.0),
    ("save", 0.5),
    ("free", 0.8),
    ("solution", 0.0),
    ("solutions", 0.0),
    ("solve", 0.0),
    ("resolve", 0.0),
    ("pay", 0.0),
    ("leave", 0.0),
    ("honestly", 0.0),
    ("treat", 0.0),
    ("loyal", 0.5),
    ("gift", 0.0),
    // Cancelling is an intent (routed as such), not a tone; the reason given
    // with it carries the sentiment.
    ("cancel", 0.0),
    ("charge", 0.0),
    ("charges", 0.0),
    ("accept", 0.0),
    ("alright", 0.0),
    // Meanings that flip in a complaint context.
    ("joke", -1.5),
    ("kidding", -0.5),
    ("unbelievable", -1.5),
    // Complaint vocabulary VADER lacks or underrates.
    ("expensive", -1.5),
    ("overpriced", -2.0),
    ("pricey", -1.2),
    ("overcharged", -2.3),
    ("overcharge", -2.0),
    ("overcharging", -2.3),
    ("double-charged", -2.2),
    ("ripoff", -2.8),
    ("rip-off", -2.8),
    ("scammed", -2.8),
    ("scammers", -2.8),
    ("scamming", -2.8),
    ("late", -1.2),
    ("delayed", -1.5),
    ("overdue", -1.2),
    ("slow", -1.3),
    ("slower", -1.3),
    ("sluggish", -1.3),
    ("faulty", -2.0),
    ("defective", -2.0),
    ("malfunction", -1.8),
    ("malfunctioning", -1.8),
    ("glitch", -1.5),
    ("glitches", -1.5),
    ("glitchy", -1.8),
    ("buffering", -1.5),
    ("lagging", -1.5),
    ("buggy", -1.8),
    ("outage", -1.8),
    ("outages", -1.8),
    ("disconnected", -1.3),
    ("disconnecting", -1.5),
    ("dropping", -1.2),
    ("crashed", -1.8),
    ("crashes", -1.8),
    ("crashing", -1.8),
    ("freezes", -1.5),
    ("unresolved", -1.8),
    ("hassle", -1.5),
    ("unprofessional", -2.2),
    ("unhelpful", -2.0),
    ("unreachable", -1.5),
    ("incorrect", -1.5),
    ("wrongly", -1.5),
    ("nightmare", -2.8),
    ("ridiculous", -2.2),
    ("unacceptable", -2.5),
    ("absurd", -2.0),
    ("disgraceful", -2.5),
    ("rubbish", -2.2),
    ("garbage", -2.2),
    ("trash", -2.0),
    ("idiots", -2.5),
    ("useless", -2.2),
    ("unusable", -2.0),
    ("shambles", -2.5),
    ("runaround", -2.0),
    ("dented", -1.2),
    ("scratched", -1.2),
    ("cracked", -1.5),
    ("leaking", -1.5),
    ("leaks", -1.3),
    ("stale", -1.5),
    ("soaked", -1.0),
    ("incompetent", -2.5),
    // Praise for service VADER lacks.
    ("quick", 1.2),
    ("quickly", 0.8),
    ("fast", 1.0),
    ("prompt", 1.0),
    ("promptly", 1.2),
    ("professional", 1.8),
    ("polite", 1.8),
    ("knowledgeable", 1.8),
    ("smooth", 1.5),
    ("smoothly", 1.5),
    ("smoothest", 2.0),
    ("seamless", 1.8),
    ("hassle-free", 2.0),
    ("sorted", 1.5),
    ("fixed", 1.5),
    ("resolved", 1.5),
    ("patient", 1.5),
    ("legend", 2.0),
    ("merci", 1.8),
];

/// Multiword expressions, matched on lowercased tokens before VADER runs.
/// Tokens they cover are hidden from VADER (so "no problem" is not read as
/// "no" + "problem") and their valence is added to VADER's total.
const PHRASES: &[(&str, f32)] = &[
    // Reassurance and politeness.
    ("no problem", 1.0),
    ("not a problem", 1.0),
    ("no worries", 1.0),
    ("no thanks", 0.0),
    ("no thank you", 0.0),
    ("kind of you", 2.0),
    ("thank god", 1.0),
    ("well done", 2.0),
    // "like" as a request or comparison, not as liking.
    ("would like", 0.0),
    ("i'd like", 0.0),
    ("we'd like", 0.0),
    ("looks like", 0.0),
    ("seems like", 0.0),
    ("feels like", 0.0),
    ("sounds like", 0.0),
    ("just like", 0.0),
    // Waiting and chasing.
    ("still waiting", -2.0),
    ("been waiting", -1.5),
    ("keep waiting", -1.8),
    ("kept waiting", -1.8),
    ("put on hold", -1.5),
    ("on hold", -1.2),
    ("taking forever", -2.0),
    ("takes forever", -2.0),
    ("took forever", -2.0),
    ("for ages", -1.2),
    ("keep calling", -1.5),
    ("keep getting", -1.0),
    ("every single time", -1.0),
    ("supposed to", -1.0),
    ("nothing happened", -1.5),
    ("wait so long", -1.8),
    ("waited so long", -1.8),
    ("waiting so long", -1.8),
    ("long wait", -1.5),
    ("hung up", -1.8),
    ("cut off", -1.3),
    ("dropped the call", -1.5),
    ("fobbed off", -2.0),
    ("you're a star", 2.5),
    ("locked out", -1.5),
    ("ran out", -1.0),
    ("hold music", -0.5),
    ("i'm done with", -2.0),
    ("i am done with", -2.0),
    // Money.
    ("charged twice", -2.2),
    ("charged me twice", -2.2),
    ("double charged", -2.2),
    ("hidden fees", -2.0),
    ("hidden charges", -2.0),
    ("rip off", -2.8),
    ("ripped off", -2.8),
    // Breakdowns and exasperation.
    ("stopped working", -2.2),
    ("keeps dropping", -1.8),
    ("fed up", -2.5),
    ("sick of", -2.3),
    ("sick and tired", -2.8),
    ("had enough", -2.0),
    ("waste of time", -2.5),
    ("oh my god", -1.0),
    ("never again", -2.0),
    ("what a mess", -2.0),
    ("makes no sense", -1.5),
];

/// Words that are neutral on their own but express a failed service when
/// negated ("it doesn't work", "never arrived", "nobody called back"), with
/// their valence in the negated case.
const EVENTS: &[(&str, f32)] = &[
    ("work", -2.0),
    ("works", -2.0),
    ("working", -2.0),
    ("worked", -2.0),
    ("arrive", -1.8),
    ("arrived", -1.8),
    ("arriving", -1.8),
    ("arrives", -1.8),
    ("come", -1.5),
    ("came", -1.5),
    ("show", -1.5),
    ("showed", -1.5),
    ("shown", -1.5),
    ("turned", -1.2),
    ("receive", -1.8),
    ("received", -1.8),
    ("receiving", -1.8),
    ("got", -1.2),
    ("get", -1.0),
    ("deliver", -1.8),
    ("delivered", -1.8),
    ("delivery", -1.5),
    ("respond", -1.5),
    ("responded", -1.5),
    ("responding", -1.5),
    ("response", -1.5),
    ("reply", -1.5),
    ("replied", -1.5),
    ("answer", -1.5),
    ("answered", -1.5),
    ("answering", -1.5),
    ("call", -1.3),
    ("called", -1.3),
    ("calls", -1.3),
    ("callback", -1.5),
    ("contacted", -1.5),
    ("help", -1.5),
    ("helped", -1.5),
    ("helps", -1.5),
    ("helping", -1.5),
    ("refund", -1.5),
    ("refunded", -1.5),
    ("load", -1.5),
    ("loads", -1.5),
    ("loading", -1.5),
    ("connect", -1.5),
    ("connects", -1.5),
    ("connecting", -1.5),
    ("sent", -1.3),
    ("processed", -1.3),
    ("activated", -1.3),
    ("credited", -1.3),
    ("updated", -1.3),
    ("update", -1.2),
    ("appear", -1.3),
    ("appeared", -1.3),
    ("here", -1.5),
];

/// Negators for [`EVENTS`] (VADER keeps its own list private); any token
/// containing "n't" also counts.
const NEGATORS: &[&str] = &[
    "not", "no", "never", "cannot", "cant", "dont", "doesnt", "didnt", "hasnt", "havent", "hadnt",
    "isnt", "wasnt", "werent", "arent", "wont", "wouldnt", "couldnt", "shouldnt", "nobody",
    "nothing", "without", "neither", "nor", "nope", "none",
];

/// Intensity modifiers recognised when English words are embedded in Arabic
/// speech (VADER keeps its booster list private).
const BOOSTERS: &[(&str, f32)] = &[
    ("very", 0.293),
    ("so", 0.293),
    ("really", 0.293),
    ("too", 0.293),
    ("super", 0.293),
    ("extremely", 0.293),
    ("totally", 0.293),
    ("completely", 0.293),
    ("absolutely", 0.293),
    ("incredibly", 0.293),
    ("quite", 0.293),
    ("slightly", -0.293),
    ("kinda", -0.293),
    ("somewhat", -0.293),
    ("little", -0.293),
];

/// How far back a negator reaches, in tokens; VADER uses the same window.
const NEGATION_WINDOW: usize = 3;

struct Lexicons {
    analyzer: SentimentIntensityAnalyzer<'static>,
    /// Lowercased word → valence (VADER + domain), for code-switched words.
    words: HashMap<String, f32>,
    /// First word → phrases starting with it, longest first.
    phrases: HashMap<&'static str, Vec<(Vec<&'static str>, f32)>>,
    events: HashMap<&'static str, f32>,
}

static LEXICONS: OnceLock<Lexicons> = OnceLock::new();

fn lexicons() -> &'static Lexicons {
    LEXICONS.get_or_init(build)
}

pub(super) fn warm_up() {
    lexicons();
}

fn build() -> Lexicons {
    let mut words: HashMap<String, f32> = HashMap::with_capacity(8192);
    let mut raw = String::with_capacity(128 * 1024);
    for (word, valence) in vader_sentiment::LEXICON.iter() {
        let word: &str = word.as_ref();
        words.insert(word.to_lowercase(), *valence as f32);
        // `writeln!` into a String cannot fail.
        let _ = writeln!(raw, "{word}\t{valence}");
    }
    for (word, valence) in DOMAIN_WORDS {
        words.insert((*word).to_string(), *valence);
        let _ = writeln!(raw, "{word}\t{valence}");
    }
    // VADER's analyzer borrows its lexicon for 'static; this runs once per
    // process, so leaking the merged lexicon is the static it needs.
    let raw: &'static str = Box::leak(raw.into_boxed_str());
    let lexicon = Box::leak(Box::new(vader_sentiment::parse_raw_lexicon(raw)));
    let analyzer = SentimentIntensityAnalyzer::from_lexicon(lexicon);

    let mut phrases: HashMap<&'static str, Vec<(Vec<&'static str>, f32)>> = HashMap::new();
    for (phrase, valence) in PHRASES {
        let words: Vec<&'static str> = phrase.split_whitespace().collect();
        if let Some(first) = words.first() {
            phrases.entry(*first).or_default().push((words, *valence));
        }
    }
    // Longest first so "put on hold" wins over "on hold".
    for list in phrases.values_mut() {
        list.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    }

    Lexicons {
        analyzer,
        words,
        phrases,
        events: EVENTS.iter().copied().collect(),
    }
}

/// Valence of one lowercased English word (VADER + domain lexicon), if any.
pub(super) fn word_valence(word: &str) -> Option<f32> {
    lexicons().words.get(word).copied()
}

pub(super) fn is_negator(word: &str) -> bool {
    NEGATORS.contains(&word) || word.contains("n't") || word.contains("n’t")
}

pub(super) fn booster(word: &str) -> Option<f32> {
    BOOSTERS.iter().find(|(w, _)| *w == word).map(|(_, b)| *b)
}

/// A whitespace token of the input: its byte span and its lowercased form with
/// surrounding punctuation trimmed (apostrophes inside words are kept).
struct Token {
    start: usize,
    end: usize,
    word: String,
    /// A clause boundary (. , ; : ! ?) directly follows this token.
    ends_clause: bool,
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut start = None;
    let push = |s: usize, e: usize, tokens: &mut Vec<Token>| {
        let raw = &text[s..e];
        let trimmed = raw.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’');
        let trimmed = trimmed.trim_matches(|c| c == '\'' || c == '’');
        let ends_clause = raw
            .chars()
            .last()
            .is_some_and(|c| matches!(c, '.' | ',' | ';' | ':' | '!' | '?'));
        tokens.push(Token {
            start: s,
            end: e,
            word: trimmed.to_lowercase().replace('’', "'"),
            ends_clause,
        });
    };
    for (i, c) in text.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                push(s, i, &mut tokens);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        push(s, text.len(), &mut tokens);
    }
    tokens
}

/// Blanks the letters of consumed tokens but keeps their punctuation, so that
/// VADER still sees the `!` of "still waiting!!".
fn mask_words(text: &str, tokens: &[Token], consumed: &[bool]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (token, _) in tokens.iter().zip(consumed).filter(|(_, c)| **c) {
        out.push_str(&text[last..token.start]);
        for c in text[token.start..token.end].chars() {
            let is_word = c.is_alphanumeric() || matches!(c, '\'' | '’' | '-');
            out.push(if is_word { ' ' } else { c });
        }
        last = token.end;
    }
    out.push_str(&text[last..]);
    out
}

/// VADER's `?`/`!` emphasis, for totals VADER itself never saw.
fn punctuation_emphasis(text: &str) -> f32 {
    let emarks = text.bytes().filter(|b| *b == b'!').count().min(4) as f32;
    let qmarks = text.bytes().filter(|b| *b == b'?').count();
    let q = if qmarks > 3 {
        0.96
    } else {
        qmarks as f32 * 0.18
    };
    emarks * 0.292 + q
}

/// Inverse of [`normalize_valence`], to fold extra valence into VADER's compound.
fn denormalize(compound: f32) -> f32 {
    let c = compound.clamp(-0.9999, 0.9999);
    c * (15.0 / (1.0 - c * c)).sqrt()
}

pub(super) fn score(text: &str) -> f32 {
    let lex = lexicons();
    let clean: String = text.chars().filter(|c| !super::is_invisible(*c)).collect();
    let tokens = tokenize(&clean);
    if tokens.is_empty() {
        return 0.0;
    }

    let mut consumed = vec![false; tokens.len()];
    let mut extras: Vec<(usize, f32)> = Vec::new();

    for i in 0..tokens.len() {
        if consumed[i] {
            continue;
        }
        let Some(candidates) = lex.phrases.get(tokens[i].word.as_str()) else {
            continue;
        };
        for (phrase, valence) in candidates {
            let n = phrase.len();
            if i + n > tokens.len() || consumed[i..i + n].iter().any(|c| *c) {
                continue;
            }
            let inside_clause = tokens[i..i + n - 1].iter().all(|t| !t.ends_clause);
            if inside_clause
                && tokens[i..i + n]
                    .iter()
                    .zip(phrase)
                    .all(|(t, w)| t.word == *w)
            {
                consumed[i..i + n].iter_mut().for_each(|c| *c = true);
                extras.push((i, *valence));
                break;
            }
        }
    }

    for (i, token) in tokens.iter().enumerate() {
        if consumed[i] {
            continue;
        }
        let Some(negated_valence) = lex.events.get(token.word.as_str()) else {
            continue;
        };
        let negated = (1..=NEGATION_WINDOW)
            .take_while(|d| *d <= i && !tokens[i - d].ends_clause)
            .any(|d| is_negator(&tokens[i - d].word));
        if negated {
            extras.push((i, *negated_valence));
        }
    }

    // VADER's own "but" rule, applied to the valence it does not see.
    if let Some(but) = tokens.iter().position(|t| t.word == "but") {
        for (i, v) in extras.iter_mut() {
            if *i < but {
                *v *= 0.5;
            } else if *i > but {
                *v *= 1.5;
            }
        }
    }
    let extra: f32 = extras.iter().map(|(_, v)| v).sum();

    let vader_input = if consumed.iter().any(|c| *c) {
        mask_words(&clean, &tokens, &consumed)
    } else {
        clean.clone()
    };
    let scores = lex.analyzer.polarity_scores(&vader_input);
    let get = |k: &str| scores.get(k).copied().unwrap_or(0.0) as f32;
    let found_sentiment = get("pos") > 0.0 || get("neg") > 0.0;
    let vader_total = if found_sentiment {
        denormalize(get("compound"))
    } else {
        0.0
    };

    if extra == 0.0 {
        return if found_sentiment {
            get("compound")
        } else {
            0.0
        };
    }
    let mut total = vader_total + extra;
    if !found_sentiment {
        total += punctuation_emphasis(&clean) * total.signum();
    }
    normalize_valence(total)
}
