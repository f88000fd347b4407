//! Replay and training: a recorded call comes back with its lines on the
//! recording's clock, card numbers masked in the text and blanked in the audio;
//! exports parse; retention deletes expired recordings; call history is searchable
//! (SQLite and PostgreSQL); trainers' comments and scorecards are kept.

mod common;
#[macro_use]
mod common_pg;

use std::path::Path;
use std::time::Duration;

use common_pg::TestDb;
use switchboard::call::CallConfig;
use switchboard::crm::{
    Backend, CallEnd, CallFilter, CrmError, CrmStore, NewAnnotation, NewCall, NewCustomer,
    StoredEvent, SupervisorActionRow, TurnRow,
};
use switchboard::events::{CallEvent, EventKind, Speaker};
use switchboard::hub::LocalHub;
use switchboard::persist::CrmWriter;
use switchboard::replay::export::{export, Format};
use switchboard::replay::recording::{self, Channel, RecordingConfig, Tape};
use switchboard::replay::{load_replay, retention};
use switchboard::scenario::Scenario;
use switchboard::transport::{run_scenario, SimOptions, SttMode};

const PER_MS: usize = 16;

/// Where sound starts at or after `from_ms` (10 ms windows, RMS above `floor`).
fn onset(samples: &[i16], from_ms: u64, to_ms: u64) -> Option<u64> {
    let (a, z) = (
        from_ms as usize * PER_MS,
        (to_ms as usize * PER_MS).min(samples.len()),
    );
    let mut i = a;
    while i + 160 <= z {
        let w = &samples[i..i + 160];
        let rms = (w.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 160.0).sqrt();
        if rms > 400.0 {
            return Some((i / PER_MS) as u64);
        }
        i += 160;
    }
    None
}

fn loud(samples: &[i16], from_ms: u64, to_ms: u64) -> bool {
    onset(samples, from_ms, to_ms).is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_call_replays_with_its_lines_within_100_ms_of_the_audio() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("crm.sqlite3").display());
    let store = CrmStore::connect(&url).await.unwrap();
    let writer = CrmWriter::spawn(store.clone(), &tmp.path().join("outbox.jsonl"), None).unwrap();
    let rec_dir = tmp.path().join("recordings");
    let scenario = Scenario::parse(
        r#"{"customer": {"name": "Rana"}, "lang": "auto", "turns": [
            {"say": "Hello, I want to pay my bill please"},
            {"say": "My card number is 4111 1111 1111 1111 thank you"},
            {"say": "مرحبا، بدي أعرف سعر الباقة"}
        ]}"#,
        Path::new("."),
    )
    .unwrap();
    let config = CallConfig {
        recording: Some(RecordingConfig {
            dir: rec_dir.clone(),
            redact_audio: true,
        }),
        ..Default::default()
    };
    let hub = LocalHub::new(1 << 14);
    let opts = SimOptions {
        stt: SttMode::Script,
        speed: 2.0,
        customer_tts: Some(common::espeak()),
        turn_timeout: Duration::from_secs(20),
        record: Some(writer.recorder()),
        ..Default::default()
    };
    let providers = common::providers(None, common::espeak());
    let report = tokio::time::timeout(
        Duration::from_secs(180),
        run_scenario(&hub, &scenario, providers, config, opts),
    )
    .await
    .expect("call finished in time")
    .expect("call ran");
    assert_eq!(
        writer.flush(Duration::from_secs(20)).await.unwrap().pending,
        0
    );

    let replay = load_replay(&store, &report.call_id).await.unwrap();
    let file = replay
        .call
        .recording
        .clone()
        .expect("the call points at its recording");
    assert!(file.ends_with(".flac"), "{file}");
    let decoded = recording::read(&rec_dir.join(&file)).unwrap();
    let audio_ms = decoded.customer.len() as u64 / PER_MS as u64;
    assert!(replay.call.recording_ms.unwrap() as u64 == audio_ms);
    assert_eq!(replay.unreadable_events, 0);

    let customer: Vec<_> = replay
        .lines
        .iter()
        .filter(|l| l.speaker == Speaker::Customer)
        .collect();
    let agent: Vec<_> = replay
        .lines
        .iter()
        .filter(|l| l.speaker == Speaker::Agent)
        .collect();
    assert_eq!(customer.len(), 3, "{:#?}", replay.lines);
    assert!(
        agent.len() >= 4,
        "greeting and three answers: {:#?}",
        replay.lines
    );
    let mut report_lines = Vec::new();
    for l in customer.iter().chain(agent.iter()) {
        assert!(l.from_audio, "{l:?}");
        let channel = match l.speaker {
            Speaker::Customer => &decoded.customer,
            _ => &decoded.heard,
        };
        let heard = onset(channel, l.at_ms.saturating_sub(600), l.end_ms)
            .unwrap_or_else(|| panic!("no sound for {l:?}"));
        let diff = heard as i64 - l.at_ms as i64;
        report_lines.push(format!(
            "{:?} at {} ms: sound at {heard} ms ({diff:+} ms)",
            l.speaker, l.at_ms
        ));
        // The card number's span is blanked, so the second customer line is only
        // checked where it starts (before the number).
        assert!(diff.abs() <= 100, "{}", report_lines.join("\n"));
        // Nothing of the line is outside it: quiet before its start (on its
        // channel, unless the previous line ran up to it).
        assert!(l.end_ms > l.at_ms, "{l:?}");
    }
    eprintln!("{}", report_lines.join("\n"));
    // The ends of the customer's lines too.
    for l in &customer {
        let after = l.end_ms + 100;
        assert!(
            !loud(&decoded.customer, after, after + 300),
            "customer still speaking 100 ms after the end of {l:?}"
        );
    }

    // The card number: masked in the text, blanked in the audio.
    let card = customer[1];
    assert_eq!(card.text, "My card number is •••• •••• •••• •••• thank you");
    let blanked = replay.call.recording_blanked_ms.unwrap();
    assert!(blanked >= 800, "blanked {blanked} ms");
    let mid = (card.at_ms + card.end_ms) / 2;
    assert!(
        decoded.customer[mid as usize * PER_MS..(mid as usize + 200) * PER_MS]
            .iter()
            .all(|&s| s == 0),
        "the middle of the card number is silent"
    );
    assert!(
        loud(&decoded.customer, card.at_ms, card.at_ms + 400),
        "the start of the line is kept"
    );

    // Sentiment, latency and the event stream come back too.
    assert_eq!(replay.sentiment.len(), 3);
    assert!(agent
        .iter()
        .skip(1)
        .all(|l| l.latency.as_ref().is_some_and(|m| m.response_ms.is_some())));

    // Exports: JSON Lines round-trip to the stored events; WebVTT parses with the
    // lines' times; Markdown has no card number.
    let json = export(&replay, Format::Json);
    let back: Vec<CallEvent> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a CallEvent"))
        .collect();
    assert_eq!(back, replay.events);
    assert!(matches!(
        back.first().unwrap().kind,
        EventKind::CallStarted { .. }
    ));
    assert!(matches!(
        back.last().unwrap().kind,
        EventKind::CallEnded { .. }
    ));
    assert!(!back.iter().any(|e| matches!(
        e.kind,
        EventKind::Transcript {
            is_final: false,
            ..
        }
    )));
    assert!(!json.contains("4111"));
    let vtt = export(&replay, Format::WebVtt);
    let parsed = webvtt_parser::Vtt::parse(&vtt).expect("WebVTT parses");
    assert_eq!(parsed.cues.len(), replay.lines.len());
    for (cue, l) in parsed.cues.iter().zip(&replay.lines) {
        assert_eq!(cue.start.as_milliseconds(), l.at_ms);
        assert_eq!(cue.end.as_milliseconds(), l.end_ms);
    }
    assert!(vtt.contains("<v Customer>مرحبا، بدي أعرف سعر الباقة"));
    let md = export(&replay, Format::Markdown);
    assert!(
        md.contains("•••• •••• •••• ••••") && !md.contains("4111"),
        "{md}"
    );
    assert!(md.contains("**[0:"), "{md}");
}

fn turn(call_id: &str, idx: i64, speaker: &str, text: &str, score: Option<f64>) -> TurnRow {
    TurnRow {
        call_id: call_id.into(),
        idx,
        speaker: speaker.into(),
        text: text.into(),
        lang: if text.chars().any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)) {
            "ar"
        } else {
            "en"
        }
        .into(),
        sentiment_score: score,
        sentiment_label: score.map(|s| if s < 0.0 { "negative" } else { "positive" }.into()),
        persona: Some(if idx > 1 { "support" } else { "reception" }.into()),
        interrupted: false,
        eou_ms: None,
        stt_ms: None,
        llm_first_token_ms: None,
        tts_first_audio_ms: None,
        total_ms: None,
        started_at: 1_700_000_000_000 + idx * 3000,
        ended_at: 1_700_000_000_000 + idx * 3000 + 2000,
        audio_start_ms: Some(idx * 3000),
        audio_end_ms: Some(idx * 3000 + 2000),
    }
}

/// Three past calls: an angry Arabic one a supervisor took over (support), a calm
/// English sales one, an anonymous one from another day.
async fn seed(store: &CrmStore) -> (String, String, String, String) {
    let rana = store
        .upsert_customer(&NewCustomer {
            phone: "+963944000111".into(),
            name: Some("Rana Haddad".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let john = store
        .upsert_customer(&NewCustomer {
            phone: "+971501234567".into(),
            name: Some("John Smith".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let day = 1_700_000_000_000;
    let calls = [
        ("ar-angry", Some(&rana.id), day, "support", -0.8),
        ("en-sales", Some(&john.id), day + 3_600_000, "sales", 0.4),
        ("anon", None, day + 5 * 86_400_000, "reception", 0.0),
    ];
    for (id, customer, at, persona, min) in calls {
        store
            .start_call(&NewCall {
                id: id.into(),
                customer_id: customer.cloned(),
                transport: "simulated".into(),
                room: None,
                started_at: at,
            })
            .await
            .unwrap();
        store
            .end_call(&CallEnd {
                id: id.into(),
                ended_at: at + 60_000,
                outcome: if id == "ar-angry" {
                    "supervisor"
                } else {
                    "customer_hangup"
                }
                .into(),
                final_persona: persona.into(),
                summary: format!("call {id}"),
                sentiment_avg: Some(min / 2.0),
                sentiment_min: Some(min),
            })
            .await
            .unwrap();
    }
    for t in [
        turn(
            "ar-angry",
            0,
            "customer",
            "الراوتر خربان من امبارح",
            Some(-0.8),
        ),
        turn("ar-angry", 1, "agent", "آسف جداً، رح نبعتلك فني", None),
        turn("ar-angry", 2, "customer", "شكرا كتير", Some(0.5)),
        turn(
            "en-sales",
            0,
            "customer",
            "How much is the premium bundle?",
            Some(0.4),
        ),
        turn(
            "en-sales",
            1,
            "agent",
            "The premium bundle is 30 dollars a month.",
            None,
        ),
        turn("anon", 0, "customer", "Hello? Is anyone there?", Some(0.0)),
    ] {
        store.insert_turn(&t).await.unwrap();
    }
    store
        .record_supervisor_action(&SupervisorActionRow {
            id: "a1".into(),
            call_id: "ar-angry".into(),
            actor: "supervisor".into(),
            action: "takeover".into(),
            detail: None,
            at: day + 20_000,
        })
        .await
        .unwrap();
    (rana.id, john.id, "ar-angry".into(), "en-sales".into())
}

async fn ids(store: &CrmStore, filter: CallFilter) -> Vec<String> {
    store
        .find_calls(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

on_both!(call_history_is_searchable_by_every_filter, |db, store| {
    let (rana, _, _, _) = seed(&store).await;
    assert_eq!(
        ids(&store, CallFilter::default()).await,
        ["anon", "en-sales", "ar-angry"]
    );
    let f = |f: CallFilter| f;
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                sentiment_below: Some(-0.5),
                ..Default::default()
            })
        )
        .await,
        ["ar-angry"]
    );
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                keyword: Some("الراوتر".into()),
                ..Default::default()
            })
        )
        .await,
        ["ar-angry"]
    );
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                keyword: Some("premium BUNDLE".into()),
                ..Default::default()
            })
        )
        .await,
        ["en-sales"]
    );
    assert!(ids(
        &store,
        f(CallFilter {
            keyword: Some("\"); DROP TABLE calls; --".into()),
            ..Default::default()
        })
    )
    .await
    .is_empty());
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                customer: Some("haddad".into()),
                ..Default::default()
            })
        )
        .await,
        ["ar-angry"]
    );
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                customer: Some("+97150".into()),
                ..Default::default()
            })
        )
        .await,
        ["en-sales"]
    );
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                customer: Some(rana.clone()),
                ..Default::default()
            })
        )
        .await,
        ["ar-angry"]
    );
    assert!(
        ids(
            &store,
            f(CallFilter {
                customer: Some("%".into()),
                ..Default::default()
            })
        )
        .await
        .is_empty(),
        "wildcards are literal"
    );
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                intervened: Some(true),
                ..Default::default()
            })
        )
        .await,
        ["ar-angry"]
    );
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                intervened: Some(false),
                ..Default::default()
            })
        )
        .await,
        ["anon", "en-sales"]
    );
    // A persona that spoke in the call, not only the one that ended it.
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                persona: Some("reception".into()),
                ..Default::default()
            })
        )
        .await,
        ["anon", "en-sales", "ar-angry"]
    );
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                persona: Some("sales".into()),
                ..Default::default()
            })
        )
        .await,
        ["en-sales"]
    );
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                outcome: Some("supervisor".into()),
                ..Default::default()
            })
        )
        .await,
        ["ar-angry"]
    );
    let day = 1_700_000_000_000;
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                from_ms: Some(day + 86_400_000),
                ..Default::default()
            })
        )
        .await,
        ["anon"]
    );
    assert_eq!(
        ids(
            &store,
            f(CallFilter {
                to_ms: Some(day + 86_400_000),
                sentiment_below: Some(0.9),
                ..Default::default()
            })
        )
        .await,
        ["en-sales", "ar-angry"]
    );
    let found = store
        .find_calls(&CallFilter {
            intervened: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found[0].customer_name.as_deref(), Some("Rana Haddad"));
    assert_eq!((found[0].turns, found[0].interventions), (3, 1));

    // A call stored before events were kept replays from its turns.
    let r = load_replay(&store, "ar-angry").await.unwrap();
    assert_eq!(r.lines.len(), 3);
    assert_eq!((r.lines[0].at_ms, r.lines[0].end_ms), (0, 2000));
    assert_eq!(r.sentiment.len(), 2);
    assert_eq!(r.markers.len(), 1, "the takeover is marked");
    assert_eq!(r.duration_ms, 60_000);
    let vtt = export(&r, Format::WebVtt);
    assert_eq!(webvtt_parser::Vtt::parse(&vtt).unwrap().cues.len(), 3);
    assert!(matches!(
        load_replay(&store, "no-such-call").await,
        Err(CrmError::NotFound { .. })
    ));
});

on_both!(trainers_comments_and_scorecards_are_kept, |db, store| {
    seed(&store).await;
    let a = store
        .add_annotation(&NewAnnotation {
            call_id: "ar-angry".into(),
            at_ms: 3_000,
            author: "Lina (trainer)".into(),
            body: "Good apology, but offer a time for the technician <b>next</b> time".into(),
        })
        .await
        .unwrap();
    store
        .add_annotation(&NewAnnotation {
            call_id: "ar-angry".into(),
            at_ms: 500,
            author: "Lina (trainer)".into(),
            body: "التحية ممتازة".into(),
        })
        .await
        .unwrap();
    let list = store.annotations_of_call("ar-angry").await.unwrap();
    assert_eq!(
        list.iter().map(|a| a.at_ms).collect::<Vec<_>>(),
        [500, 3000]
    );
    assert_eq!(list[1].body, a.body);
    assert_eq!(
        store
            .annotations_of_persona("support", 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(store
        .annotations_of_persona("sales", 10)
        .await
        .unwrap()
        .is_empty());
    for bad in [
        NewAnnotation {
            call_id: "ar-angry".into(),
            at_ms: 0,
            author: "x".into(),
            body: "  ".into(),
        },
        NewAnnotation {
            call_id: "ar-angry".into(),
            at_ms: -1,
            author: "x".into(),
            body: "y".into(),
        },
        NewAnnotation {
            call_id: "ar-angry".into(),
            at_ms: 0,
            author: "x".into(),
            body: "y".repeat(4001),
        },
    ] {
        assert!(matches!(
            store.add_annotation(&bad).await,
            Err(CrmError::InvalidInput(_))
        ));
    }
    assert!(matches!(
        store
            .add_annotation(&NewAnnotation {
                call_id: "nope".into(),
                at_ms: 0,
                author: "x".into(),
                body: "y".into()
            })
            .await,
        Err(CrmError::NotFound { .. })
    ));
    store.delete_annotation(&list[0].id).await.unwrap();
    assert_eq!(
        store.annotations_of_call("ar-angry").await.unwrap().len(),
        1
    );

    store
        .set_score("ar-angry", "empathy", 4, "Lina", Some("warm"))
        .await
        .unwrap();
    store
        .set_score("ar-angry", "empathy", 5, "Lina", None)
        .await
        .unwrap();
    store
        .set_score("ar-angry", "greeting", 3, "Lina", None)
        .await
        .unwrap();
    store
        .set_score("en-sales", "empathy", 2, "Omar", None)
        .await
        .unwrap();
    assert!(matches!(
        store
            .set_score("ar-angry", "empathy", 6, "Lina", None)
            .await,
        Err(CrmError::InvalidInput(_))
    ));
    let s = store.scores_of_call("ar-angry").await.unwrap();
    assert_eq!(
        s.iter()
            .map(|s| (s.criterion.as_str(), s.score))
            .collect::<Vec<_>>(),
        [("empathy", 5), ("greeting", 3)]
    );
    assert_eq!(
        s[0].note, None,
        "a new score replaces the old one, note included"
    );
    let by = store.scores_by_persona().await.unwrap();
    let view: Vec<_> = by
        .iter()
        .map(|p| (p.persona.as_str(), p.criterion.as_str(), p.average, p.calls))
        .collect();
    assert_eq!(
        view,
        [
            ("sales", "empathy", 2.0, 1),
            ("support", "empathy", 5.0, 1),
            ("support", "greeting", 3.0, 1)
        ]
    );
    let r = load_replay(&store, "ar-angry").await.unwrap();
    assert_eq!((r.annotations.len(), r.scores.len()), (1, 2));
    let md = export(&r, Format::Markdown);
    assert!(
        md.contains("&lt;b&gt;next&lt;/b&gt;") && !md.contains("<b>"),
        "{md}"
    );
    assert!(md.contains("| empathy | 5/5 |"), "{md}");
});

async fn recorded(dir: &Path, call_id: &str) -> recording::Finished {
    let tape = Tape::start(
        &RecordingConfig {
            dir: dir.to_path_buf(),
            redact_audio: true,
        },
        call_id,
    )
    .unwrap();
    let f = switchboard::audio::Frame {
        samples: [900; switchboard::audio::FRAME_SAMPLES],
    };
    for i in 0..50 {
        tape.put(Channel::Customer, i * 20, &f);
    }
    tape.finish(Vec::new()).await.unwrap().unwrap()
}

on_both!(
    retention_deletes_expired_recordings_and_erasing_a_customer_deletes_theirs,
    |db, store| {
        let (rana, john, _, _) = seed(&store).await;
        let dir = tempfile::tempdir().unwrap();
        for id in ["ar-angry", "en-sales", "anon"] {
            let f = recorded(dir.path(), id).await;
            store
                .set_recording(id, &f.file, f.duration_ms as i64, f.bytes as i64, 0)
                .await
                .unwrap();
        }
        let day = 1_700_000_000_000i64;
        // Seven days later with a 6-day retention: the two calls of day one go, the
        // anonymous call of day five stays.
        let swept = retention::sweep(&store, dir.path(), 6, day + 7 * 86_400_000)
            .await
            .unwrap();
        assert_eq!(swept.deleted.len(), 2, "{swept:?}");
        assert!(!dir.path().join("ar-angry.flac").exists());
        assert!(!dir.path().join("en-sales.flac").exists());
        assert!(dir.path().join("anon.flac").exists());
        assert_eq!(
            store.call("ar-angry").await.unwrap().unwrap().recording,
            None
        );
        assert_eq!(
            store
                .call("anon")
                .await
                .unwrap()
                .unwrap()
                .recording
                .as_deref(),
            Some("anon.flac")
        );
        assert_eq!(
            store
                .find_calls(&CallFilter {
                    recorded: Some(true),
                    ..Default::default()
                })
                .await
                .unwrap()
                .len(),
            1
        );
        // Retention 0 keeps everything.
        let kept = retention::sweep(&store, dir.path(), 0, day + 900 * 86_400_000)
            .await
            .unwrap();
        assert!(kept.deleted.is_empty());
        // A file already gone is forgotten; a second sweep finds nothing to do.
        let again = retention::sweep(&store, dir.path(), 6, day + 7 * 86_400_000)
            .await
            .unwrap();
        assert_eq!(again, retention::Swept::default());

        // Erasing John deletes his recording and everything of his.
        let f = recorded(dir.path(), "en-sales").await;
        store
            .set_recording("en-sales", &f.file, 1000, f.bytes as i64, 0)
            .await
            .unwrap();
        store
            .insert_events(&[StoredEvent {
                call_id: "en-sales".into(),
                seq: 0,
                t_ms: 0,
                kind: "x".into(),
                body: "{}".into(),
            }])
            .await
            .unwrap();
        store
            .set_score("en-sales", "greeting", 4, "Lina", None)
            .await
            .unwrap();
        let deleted = retention::erase_customer(&store, dir.path(), &john)
            .await
            .unwrap();
        assert_eq!(deleted, 1);
        assert!(!dir.path().join("en-sales.flac").exists());
        assert!(store.customer(&john).await.unwrap().is_none());
        assert!(store.call("en-sales").await.unwrap().is_none());
        assert!(store.turns_of_call("en-sales").await.unwrap().is_empty());
        assert!(
            store.customer(&rana).await.unwrap().is_some(),
            "others are untouched"
        );
        assert!(store.call("ar-angry").await.unwrap().is_some());
        assert!(retention::remove(dir.path(), "../crm.sqlite3").is_err());
    }
);
