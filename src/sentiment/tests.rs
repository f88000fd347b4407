use super::*;

fn ar(text: &str) -> Sentiment {
    LexiconSentiment::new().analyze(text, Lang::Ar)
}

fn en(text: &str) -> Sentiment {
    LexiconSentiment::new().analyze(text, Lang::En)
}

fn assert_label(s: Sentiment, want: SentimentLabel, text: &str) {
    assert_eq!(
        s.label,
        want,
        "{text:?} scored {:+.3}; read as {:?}",
        s.score,
        arabic::explain(text)
    );
}

#[test]
fn lexicon_has_no_conflicting_entries() {
    let conflicts = &arabic::lexicon().conflicts;
    assert!(conflicts.is_empty(), "conflicts: {conflicts:#?}");
}

#[test]
fn arabic_lexicon_is_large() {
    let entries =
        arabic_lexicon::WORDS.len() + arabic_lexicon::FIXED.len() + arabic_lexicon::EVENTS.len();
    assert!(entries >= 500, "only {entries} sentiment entries");
}

// ---- Negation ----

#[test]
fn arabic_negation_flips() {
    use SentimentLabel::*;
    assert_label(ar("الخدمة منيحة"), Positive, "الخدمة منيحة");
    assert_label(ar("الخدمة مش منيحة"), Negative, "الخدمة مش منيحة");
    for (text, want) in [
        ("الخدمة مو زينة", Negative),          // Gulf
        ("الخدمة مش كويسة", Negative),         // Egyptian
        ("الخدمة ليست جيدة", Negative),        // MSA
        ("ما كانت الخدمة منيحة", Negative),    // negator three words back
        ("الجهاز ما اشتغل", Negative),         // service event
        ("الراوتر مبيشتغلش", Negative),        // Egyptian circumfix
        ("الطلب ماوصلش لحد دلوقتي", Negative), // circumfix on an event
        ("ما حدا رد علي", Negative),
        ("الأكل مش سيء", Positive),   // "not bad"
        ("ما في مشكلة", Positive),   // reassurance
        ("والله ما قصرت", Positive), // idiom containing a negator
        ("مش معقول هالشي", Negative),
    ] {
        assert_label(ar(text), want, text);
    }
}

#[test]
fn arabic_negation_does_not_leak() {
    // The negator belongs to the nearest word; "غالي" stays negative.
    let s = ar("مش منيح وغالي");
    assert_label(s, SentimentLabel::Negative, "مش منيح وغالي");
    assert!(s.score < ar("مش منيح").score);
    // Punctuation ends the negator's reach: "No, it's excellent."
    assert_label(
        ar("لا، الخدمة ممتازة"),
        SentimentLabel::Positive,
        "لا، الخدمة ممتازة",
    );
    // "ما هو" opening a question is "what is", not "is not".
    assert_label(
        ar("ما هو أفضل عرض عندكم؟"),
        SentimentLabel::Positive,
        "ما هو أفضل عرض",
    );
    // Relative "ما" ("بعد ما") does not negate.
    assert_label(
        ar("النت صار ممتاز بعد ما غيرتوا الراوتر"),
        SentimentLabel::Positive,
        "بعد ما",
    );
}

#[test]
fn english_negation_flips() {
    assert_eq!(en("good").label, SentimentLabel::Positive);
    assert_eq!(en("not good").label, SentimentLabel::Negative);
    assert_eq!(
        en("The router doesn't work").label,
        SentimentLabel::Negative
    );
    assert_eq!(
        en("My parcel never arrived").label,
        SentimentLabel::Negative
    );
    assert_eq!(en("No problem at all").label, SentimentLabel::Positive);
}

// ---- Intensity ----

#[test]
fn intensifiers_strengthen_and_dampeners_soften() {
    assert!(ar("ممتاز جدا").score > ar("ممتاز").score);
    assert!(ar("كتير منيح").score > ar("منيح").score); // Levantine, preposed
    assert!(ar("مرة حلو").score > ar("حلو").score); // Gulf "مرة" = very
    assert!(ar("كويس اوي").score > ar("كويس").score); // Egyptian
    assert!(ar("وايد زين").score > ar("زين").score);
    assert!(ar("زفت جدا").score < ar("زفت").score);
    assert!(ar("مش منيح ابدا").score < ar("مش منيح").score);
    assert!(ar("منيح شوي").score < ar("منيح").score);
    assert!(ar("زفت!!!").score < ar("زفت").score);
    assert!(ar("حلووووو").score > ar("حلو").score);
    // "أول مرة" is "first time": no boost.
    let first_time = ar("أول مرة منيح").score;
    assert!((first_time - ar("أول منيح").score).abs() < 1e-6);
    assert!(en("very good").score > en("good").score);
}

#[test]
fn but_clause_dominates() {
    assert_label(
        ar("الخدمة منيحة بس غالية"),
        SentimentLabel::Negative,
        "منيحة بس غالية",
    );
    assert_label(
        ar("غالية بس الخدمة ممتازة"),
        SentimentLabel::Positive,
        "غالية بس ممتازة",
    );
    assert_label(
        ar("الموظف محترم لكن الطلب متأخر"),
        SentimentLabel::Negative,
        "لكن",
    );
    assert_eq!(
        en("The staff were nice but the delivery was late").label,
        SentimentLabel::Negative
    );
}

// ---- Normalisation and clitics ----

#[test]
fn orthographic_variants_score_alike() {
    let base = ar("ممتاز").score;
    for v in [
        "مُمْتَاز",
        "مـمـتـاز",
        "ممتازة",
        "ممتازه",
        "\u{200F}ممتاز\u{200E}",
    ] {
        assert!((ar(v).score - base).abs() < 1e-6, "{v:?}");
    }
    assert!((ar("أسوأ").score - ar("اسوا").score).abs() < 1e-6);
    assert!((ar("رفضوا").score - ar("رفضو").score).abs() < 1e-6);
    assert!((ar("مستاءة").score - ar("مستاء").score).abs() < 1e-6);
    assert_eq!(arabic::normalize_word("إلغاء الطلبية"), "الغاء الطلبيه");
    assert_eq!(arabic::normalize_word("مستشفى"), "مستشفي");
}

#[test]
fn clitics_and_suffixes_are_stripped() {
    use SentimentLabel::*;
    for (text, want) in [
        ("والله الموظفين زفت", Negative),
        ("وبالخدمة الزفت هاي ما بدي اكمل", Negative),
        ("والموظفين محترمين", Positive),
        ("فالموظفين متعاونين", Positive),
        ("وللأسف الطلب ما وصل", Negative),
        ("زعلتوني والله", Negative),
        ("مشكلتي ما انحلت", Negative),
        ("خدمتكم ممتازة", Positive),
        ("الشبكة بتقطع كل شوي", Negative), // 3rd fem. imperfect folded to بيقطع
        ("نصبتوا علي", Negative),
    ] {
        assert_label(ar(text), want, text);
    }
    // Least stripping wins: "وللأسف" is "للأسف" (unfortunately), not "أسف" (sorry).
    assert!(ar("وللأسف").score < ar("آسف").score);
    // "والله" is an oath/intensifier, never a negator or a sentiment word.
    assert_eq!(ar("والله").label, SentimentLabel::Neutral);
}

#[test]
fn short_words_are_not_over_stripped() {
    // Neutral words whose stripped forms would hit the lexicon by accident.
    for text in [
        "بيت",
        "وين",
        "بدي",
        "كمان",
        "حلول المشاريع",
        "فلان",
        "الحين",
        "التلفون",      // not "تلف" (damage) + ون
        "تلفوني",       // "تلفون" + ي, not "تلف" + و + ني
        "دقيقة",        // minute, not "دقيق" (precise)
        "أحمر",         // a colour, not an elative of "حمير"
        "ايوه",         // yes, not an elative of "يوه"
        "بالمناسبة",    // by the way, not "مناسب"
        "بالظبط",       // exactly, not "ظبط" (worked out)
        "آسف، شو قلت؟", // apology as "pardon?"
    ] {
        assert_label(ar(text), SentimentLabel::Neutral, text);
    }
}

#[test]
fn elatives_of_listed_adjectives() {
    assert_label(ar("التطبيق صار أسهل"), SentimentLabel::Positive, "أسهل");
    assert_label(ar("هاي الباقة الأرخص"), SentimentLabel::Positive, "الأرخص");
    assert_label(ar("هاد أسوأ شي"), SentimentLabel::Negative, "أسوأ");
    assert_label(ar("بدي أرسل الأوراق"), SentimentLabel::Neutral, "أرسل");
}

// ---- Neutral speech ----

#[test]
fn neutral_requests_stay_neutral() {
    for text in [
        "بدي أعرف وين وصل الطلب",
        "لو سمحت بدي أغير عنوان التوصيل",
        "أبغى أعرف متى يوصل الطلب",
        "عايز أعرف مواعيد الفرع",
        "هل يمكنني تغيير كلمة المرور؟",
        "ما هو رصيدي؟",
        "السلام عليكم، صباح الخير",
        "رقم الطلب ١٢٣٤٥",
        "ماشي، رح استنى الرسالة",
    ] {
        assert_label(ar(text), SentimentLabel::Neutral, text);
    }
    for text in [
        "I want to check my order status",
        "Could you please send me a copy of my last invoice?",
        "Where is my order??",
        "I'd like to update my billing address.",
        "Yes, that's the correct address.",
    ] {
        assert_eq!(en(text).label, SentimentLabel::Neutral, "{text}");
    }
}

#[test]
fn code_switched_english_words_count_in_arabic() {
    assert_label(ar("الخدمة bad جدا"), SentimentLabel::Negative, "bad جدا");
    assert!(ar("الخدمة bad جدا").score < ar("الخدمة bad").score);
    assert_label(
        ar("الموظف كان very helpful"),
        SentimentLabel::Positive,
        "helpful",
    );
    assert_label(ar("الخدمة مش good"), SentimentLabel::Negative, "مش good");
    // Glued without a space, the script change still splits the words.
    assert_label(ar("الخدمةbad"), SentimentLabel::Negative, "الخدمةbad");
}

#[test]
fn language_hint_mismatch_is_tolerated() {
    let s = LexiconSentiment::new();
    assert_eq!(
        s.analyze("الخدمة ممتازة", Lang::En).label,
        SentimentLabel::Positive
    );
    assert_eq!(
        s.analyze("the service is terrible", Lang::Ar).label,
        SentimentLabel::Negative
    );
}

// ---- Hostile input ----

#[test]
fn hostile_input_is_safe() {
    let long_ar = "الخدمة زفت ".repeat(1000);
    let long_en = "terrible service ".repeat(700);
    let one_token = "ب".repeat(10_000);
    let latin_token = "a".repeat(10_000);
    let mixed = "ممتاز!؟?".repeat(2000);
    let inputs: Vec<&str> = vec![
        "",
        "   \t\n",
        "<script>alert('ممتاز')</script>",
        "<b>not</b> <i>good</i>",
        "'; DROP TABLE users; --",
        "1 OR 1=1; SELECT * FROM calls WHERE ''=''",
        "\u{202E}زفت\u{202C}",
        "\u{2066}\u{2067}\u{2068}\u{2069}\u{200B}\u{200D}\u{FEFF}",
        "\0\0\0",
        "ًٌٍَُِّْ",
        "ـــــ",
        "١٢٣٤٥٦٧٨٩٠",
        "!!!!!!!!!!??????",
        "😡😡😡",
        "ههههههههههه",
        "\u{FFFD}\u{FFFF}",
        "مش مش مش مش",
        "جدا جدا جدا",
        "بس بس بس",
        &long_ar,
        &long_en,
        &one_token,
        &latin_token,
        &mixed,
    ];
    let analyzer = LexiconSentiment::new();
    for text in inputs {
        for lang in [Lang::Ar, Lang::En] {
            let s = analyzer.analyze(text, lang);
            let shown: String = text.chars().take(40).collect();
            assert!(s.score.is_finite(), "{shown:?}");
            assert!((-1.0..=1.0).contains(&s.score), "{shown:?}: {}", s.score);
            assert_eq!(s.label, label_for(s.score), "{shown:?}");
        }
    }
    for text in ["", "   ", "!!!???", "\u{202E}\u{202C}", "١٢٣", "<br/>"] {
        for lang in [Lang::Ar, Lang::En] {
            assert_eq!(
                analyzer.analyze(text, lang),
                Sentiment::neutral(),
                "{text:?}"
            );
        }
    }
    assert_eq!(
        analyzer.analyze(&long_ar, Lang::Ar).label,
        SentimentLabel::Negative
    );
}

#[test]
fn analyzer_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<LexiconSentiment>();
    let shared: std::sync::Arc<dyn SentimentAnalyzer> =
        std::sync::Arc::new(LexiconSentiment::new());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let a = shared.clone();
            std::thread::spawn(move || a.analyze("الخدمة ممتازة", Lang::Ar).label)
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().ok(), Some(SentimentLabel::Positive));
    }
    assert_eq!(shared.name(), "lexicon");
}

// ---- Labels ----

#[test]
fn label_thresholds() {
    assert_eq!(label_for(0.05), SentimentLabel::Positive);
    assert_eq!(label_for(0.049), SentimentLabel::Neutral);
    assert_eq!(label_for(0.0), SentimentLabel::Neutral);
    assert_eq!(label_for(-0.049), SentimentLabel::Neutral);
    assert_eq!(label_for(-0.05), SentimentLabel::Negative);
    assert_eq!(label_for(f32::NAN), SentimentLabel::Neutral);
    assert_eq!(Sentiment::from_score(f32::NAN), Sentiment::neutral());
    assert_eq!(Sentiment::from_score(7.0).score, 1.0);
}

#[test]
fn serde_shapes() {
    let s = Sentiment::from_score(-0.5);
    let json = serde_json::to_string(&s).unwrap_or_default();
    assert_eq!(json, r#"{"score":-0.5,"label":"negative"}"#);
    let back: Option<Sentiment> = serde_json::from_str(&json).ok();
    assert_eq!(back, Some(s));
    assert_eq!(
        SentimentLabel::parse(" Positive "),
        Some(SentimentLabel::Positive)
    );
    assert_eq!(SentimentLabel::parse("meh"), None);
}

// ---- Trend ----

#[test]
fn trend_smooths() {
    let mut t = SentimentTrend::new(0.5);
    assert_eq!(
        (t.value(), t.mean(), t.min(), t.count()),
        (0.0, 0.0, 0.0, 0)
    );
    assert_eq!(t.last(), None);
    assert_eq!(t.push(0.8), 0.8); // first turn initialises, no pull to 0
    assert!((t.push(-0.4) - 0.2).abs() < 1e-6);
    assert!((t.push(-0.4) - (-0.1)).abs() < 1e-6);
    assert_eq!(t.count(), 3);
    assert!((t.mean() - 0.0).abs() < 1e-6);
    assert_eq!(t.min(), -0.4);
    assert_eq!(t.last(), Some(-0.4));
    // Invalid input is ignored or clamped, never poisons the average.
    let before = t.value();
    assert_eq!(t.push(f32::NAN), before);
    assert_eq!(t.count(), 3);
    t.push(-9.0);
    assert_eq!(t.min(), -1.0);
    assert!(t.value() >= -1.0);
}

#[test]
fn trend_alpha_is_sanitised() {
    assert_eq!(SentimentTrend::new(f32::NAN).alpha(), trend::DEFAULT_ALPHA);
    assert_eq!(SentimentTrend::new(0.0).alpha(), trend::DEFAULT_ALPHA);
    assert_eq!(SentimentTrend::new(3.0).alpha(), 1.0);
    assert_eq!(SentimentTrend::default().alpha(), trend::DEFAULT_ALPHA);
}

#[test]
fn trend_falling() {
    // A steady slide, even while still positive.
    let mut t = SentimentTrend::default();
    for s in [0.8, 0.5, 0.2] {
        t.push(s);
    }
    assert!(t.falling());
    // Jitter is not a slide.
    let mut t = SentimentTrend::default();
    for s in [0.31, 0.30, 0.29] {
        t.push(s);
    }
    assert!(!t.falling());
    // Unhappy and not recovering.
    let mut t = SentimentTrend::default();
    t.push(-0.6);
    assert!(!t.falling(), "one turn is not a trend");
    t.push(-0.7);
    assert!(t.falling());
    // Recovering: the last turn lifted the average.
    t.push(0.6);
    assert!(!t.falling());
    // Happy call.
    let mut t = SentimentTrend::default();
    for s in [0.2, 0.5, 0.4, 0.6] {
        t.push(s);
    }
    assert!(!t.falling());
}

// ---- Evaluation ----

struct Fixed(f32);

impl SentimentAnalyzer for Fixed {
    fn name(&self) -> &str {
        "fixed"
    }
    fn analyze(&self, _text: &str, _lang: Lang) -> Sentiment {
        Sentiment::from_score(self.0)
    }
}

#[test]
fn evaluate_counts_confusion() {
    let tsv = "# comment\npositive\tgreat\r\nneutral\tok\n\nnegative\tbad\npositive\tnice\n";
    let r = evaluate(&Fixed(0.9), Lang::En, tsv);
    let r = r.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.total, r.correct), (4, 2));
    assert!((r.accuracy - 0.5).abs() < 1e-6);
    assert_eq!(r.confusion, [[0, 0, 1], [0, 0, 1], [0, 0, 2]]);
    assert!(r.to_string().contains("accuracy 0.500"));
}

#[test]
fn evaluate_rejects_bad_sets() {
    let a = Fixed(0.0);
    assert_eq!(
        evaluate(&a, Lang::Ar, "# only comments\n\n"),
        Err(SentimentError::Empty)
    );
    assert!(matches!(
        evaluate(&a, Lang::Ar, "positive\tok\nno tab here\n"),
        Err(SentimentError::Parse { line: 2, .. })
    ));
    assert!(matches!(
        evaluate(&a, Lang::Ar, "happy\tok\n"),
        Err(SentimentError::Parse { line: 1, .. })
    ));
    assert!(matches!(
        evaluate(&a, Lang::Ar, "neutral\t  \n"),
        Err(SentimentError::Parse { line: 1, .. })
    ));
}
