//! End-to-end behaviour of one call through the engine: turns, routing, supervisor
//! control, barge-in and provider failures, in English and Arabic.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use switchboard::events::{EndReason, EventKind, Speaker};
use switchboard::llm::fake::{FakeFailure, FakeLanguageModel};
use switchboard::llm::{ChatRequest, LanguageModel};
use switchboard::transport::SttMode;
use switchboard::tts::fake::{FakeTextToSpeech, FakeTtsFailure};

const SPEED: f64 = 10.0;

type Requests = Arc<std::sync::Mutex<Vec<ChatRequest>>>;

/// A fake LLM answering `reply` that keeps every request it is sent.
fn recording_llm(reply: &'static str) -> (Requests, Arc<dyn LanguageModel>) {
    let asked: Requests = Arc::default();
    let seen = asked.clone();
    let llm = FakeLanguageModel::replying_with(move |req| {
        seen.lock().unwrap().push(req.clone());
        reply.into()
    });
    (asked, Arc::new(llm))
}

/// The requests of a call's turns, without the end-of-call summary's.
fn turn_requests(asked: &Requests) -> Vec<ChatRequest> {
    asked
        .lock()
        .unwrap()
        .iter()
        .filter(|q| !q.messages[0].content.contains("call summaries"))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_turn_english_call_streams_every_step() {
    let r = run(
        r#"{"customer":{"phone":"+971501234567","name":"James"},"lang":"en","turns":[
            {"say":"Hi, I want to check the status of my order"},
            {"say":"It is order 5512, placed last week"},
            {"say":"Thanks, bye"}]}"#,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let types: Vec<&str> = r.kinds().map(|k| k.type_name()).collect();
    assert_eq!(types[0], "call_started", "{}", r.dump());
    for t in [
        "transcript",
        "sentiment",
        "agent_reply",
        "turn_metrics",
        "call_ended",
    ] {
        assert!(types.contains(&t), "missing {t}: {}", r.dump());
    }
    let customer = r.final_lines(Speaker::Customer);
    assert_eq!(
        customer.iter().map(|c| c.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(customer[1].1, "It is order 5512, placed last week");
    // Greeting (turn 0) and one reply per turn, all played to the end, in English.
    let agent = r.final_lines(Speaker::Agent);
    assert_eq!(
        agent.iter().map(|a| a.0).collect::<Vec<_>>(),
        vec![0, 1, 2, 3],
        "{}",
        r.dump()
    );
    assert!(agent
        .iter()
        .all(|(_, text, interrupted)| !text.is_empty() && !interrupted && !has_arabic(text)));
    // Agent text appears sentence by sentence as it is played, before the final line.
    let partial_agent = r
        .kinds()
        .filter(|k| {
            matches!(
                k,
                EventKind::Transcript {
                    speaker: Speaker::Agent,
                    is_final: false,
                    ..
                }
            )
        })
        .count();
    assert!(partial_agent >= 4);
    // Every answered turn has latency figures.
    let metrics: Vec<_> = r
        .kinds()
        .filter_map(|k| match k {
            EventKind::TurnMetrics(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(metrics.len(), 3);
    assert!(metrics
        .iter()
        .all(|m| m.total_ms.is_some_and(|t| (0.0..1000.0).contains(&t))));
    match r.ended() {
        EventKind::CallEnded {
            reason,
            turns,
            summary,
            ..
        } => {
            assert_eq!(*reason, EndReason::CustomerHangup);
            assert_eq!(*turns, 3);
            assert!(summary.contains("James"), "{summary}");
        }
        _ => unreachable!(),
    }
    // t_ms never goes backwards.
    assert!(r.events.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_turn_arabic_call_answers_in_arabic() {
    let r = run(
        r#"{"customer":{"phone":"+966501112233","name":"خالد"},"lang":"auto","turns":[
            {"say":"السلام عليكم، بدي أعرف وين صار الطلب تبعي"},
            {"say":"رقم الطلب ٥٥١٢"},
            {"say":"شكرا كتير، مع السلامة"}]}"#,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let customer = r.final_lines(Speaker::Customer);
    assert_eq!(customer.len(), 3);
    let langs: Vec<String> = r
        .kinds()
        .filter_map(|k| match k {
            EventKind::Transcript {
                speaker: Speaker::Customer,
                is_final: true,
                lang,
                ..
            } => Some(lang.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(langs, vec!["ar", "ar", "ar"]);
    let agent = r.final_lines(Speaker::Agent);
    assert_eq!(agent.len(), 4, "{}", r.dump());
    assert!(
        agent.iter().all(|(_, text, _)| has_arabic(text)),
        "{}",
        r.dump()
    );
    // The thank-you turn scores positive.
    let last_sentiment = r
        .kinds()
        .filter_map(|k| match k {
            EventKind::Sentiment { turn: 3, score, .. } => Some(*score),
            _ => None,
        })
        .next()
        .unwrap();
    assert!(last_sentiment > 0.2, "{last_sentiment}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_goes_reception_to_sales_to_support_in_english() {
    let r = run(
        r#"{"lang":"en","turns":[
            {"say":"Hello, I'd like to buy the premium internet plan"},
            {"say":"How much is it per month?"},
            {"say":"Actually my router has been broken for two days and nobody helped me, this is terrible"},
            {"say":"When will the technician come?"}]}"#,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let changes = r.persona_changes();
    assert_eq!(
        changes,
        vec![
            ("reception".into(), "sales".into(), "rule".into(), 1),
            ("sales".into(), "support".into(), "rule".into(), 3)
        ],
        "{}",
        r.dump()
    );
    // The new persona introduces itself when it takes over.
    let replies = r.replies();
    let sarah = replies.iter().find(|x| x.0 == 1).unwrap();
    assert!(sarah.1.contains("Sarah"), "{sarah:?}");
    let mohammed = replies.iter().find(|x| x.0 == 3).unwrap();
    assert!(mohammed.1.contains("Mohammed"), "{mohammed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_goes_reception_to_sales_to_support_in_arabic() {
    let r = run(
        r#"{"lang":"ar","turns":[
            {"say":"مرحبا، بدي اشتري باقة انترنت جديدة"},
            {"say":"قديش سعر الباقة المميزة؟"},
            {"say":"بس الراوتر تبعي خربان من امبارح وما حدا رد علي، الخدمة زفت"},
            {"say":"طيب متى بيجي الفني؟"}]}"#,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let path: Vec<(String, String)> = r
        .persona_changes()
        .into_iter()
        .map(|c| (c.0, c.1))
        .collect();
    assert_eq!(
        path,
        vec![
            ("reception".into(), "sales".into()),
            ("sales".into(), "support".into())
        ],
        "{}",
        r.dump()
    );
    let replies = r.replies();
    assert!(
        replies
            .iter()
            .find(|x| x.0 == 1)
            .unwrap()
            .1
            .contains("سارة"),
        "{replies:?}"
    );
    assert!(
        replies
            .iter()
            .find(|x| x.0 == 3)
            .unwrap()
            .1
            .contains("محمد"),
        "{replies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_is_sticky() {
    // Support keeps a customer through neutral and mildly positive small talk; a
    // one-off grumble in sales does not send them to support.
    let r = run(
        r#"{"lang":"en","turns":[
            {"say":"I want to buy a new phone plan"},
            {"say":"Hmm, that is a bit expensive"},
            {"say":"Okay, what about the basic plan?"},
            {"say":"Okay, thanks"}]}"#,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let path: Vec<(String, String)> = r
        .persona_changes()
        .into_iter()
        .map(|c| (c.0, c.1))
        .collect();
    assert_eq!(
        path,
        vec![("reception".into(), "sales".into())],
        "{}",
        r.dump()
    );

    let r = run(
        r#"{"lang":"ar","turns":[
            {"say":"الانترنت مقطوع عندي من يومين"},
            {"say":"طيب"},
            {"say":"ماشي، شكرا"},
            {"say":"كم رقم التذكرة؟"}]}"#,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let path: Vec<(String, String)> = r
        .persona_changes()
        .into_iter()
        .map(|c| (c.0, c.1))
        .collect();
    assert_eq!(
        path,
        vec![("reception".into(), "support".into())],
        "{}",
        r.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_pin_overrides_routing_until_unpinned() {
    let r = run(
        r#"{"lang":"en","turns":[
            {"supervisor":{"action":"pin","persona":"support"}},
            {"say":"I'd like to buy the premium plan"},
            {"say":"How much is the premium plan?"},
            {"supervisor":{"action":"unpin"}},
            {"say":"I want to buy the premium plan today, it sounds great"},
            {"say":"Yes please sign me up for the premium plan, I love it"}]}"#,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let changes = r.persona_changes();
    assert_eq!(
        changes[0],
        ("reception".into(), "support".into(), "supervisor".into(), 0),
        "{}",
        r.dump()
    );
    // While pinned, buying interest did not move the call to sales.
    assert!(changes.iter().all(|c| c.3 == 0 || c.3 >= 3), "{changes:?}");
    // After unpinning, rules apply again: support hands a clear buyer to sales.
    assert_eq!(changes.last().unwrap().1, "sales", "{}", r.dump());
    assert_eq!(changes.last().unwrap().2, "rule");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takeover_silences_the_ai_until_handback() {
    let r = run(
        r#"{"lang":"en","customer":{"name":"Mona"},"turns":[
            {"say":"My bill is wrong again"},
            {"supervisor":{"action":"takeover"}},
            {"say":"Who am I talking to now?"},
            {"supervisor":{"action":"say","text":"This is Lina, the floor supervisor. I will fix your bill."}},
            {"say":"Thank you so much, that is great"},
            {"supervisor":{"action":"whisper","text":"Offer a 10 percent discount"}},
            {"supervisor":{"action":"handback"}},
            {"say":"Is there anything else I should do?"}]}"#,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let replies: Vec<u32> = r.replies().iter().map(|x| x.0).collect();
    // Turns 2 and 3 happened under the supervisor: transcribed and scored, no AI reply.
    assert_eq!(replies, vec![0, 1, 4], "{}", r.dump());
    let scored: Vec<u32> = r
        .kinds()
        .filter_map(|k| match k {
            EventKind::Sentiment { turn, .. } => Some(*turn),
            _ => None,
        })
        .collect();
    assert_eq!(scored, vec![1, 2, 3, 4]);
    let sup = r.final_lines(Speaker::Supervisor);
    assert_eq!(sup.len(), 1);
    assert!(sup[0].1.starts_with("This is Lina"), "{sup:?}");
    let actions: Vec<String> = r
        .kinds()
        .filter_map(|k| match k {
            EventKind::Supervisor { action, .. } => Some(
                serde_json::to_value(action)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(actions, vec!["takeover", "say", "whisper", "handback"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whisper_reaches_the_next_prompt_and_the_reply_is_streamed() {
    let (asked, llm) = recording_llm("Of course. I have applied a free month to your account.");
    let r = run(
        r#"{"lang":"en","turns":[
            {"say":"My internet keeps dropping"},
            {"supervisor":{"action":"whisper","text":"Offer one free month"}},
            {"say":"Can you do anything for me?"}]}"#,
        providers(Some(llm), fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    // Requests: turn 1, turn 2, then the call summary.
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 3);
    assert!(!asked[0].messages[0]
        .content
        .contains("Offer one free month"));
    let req = &asked[1];
    let system = &req.messages[0].content;
    assert!(system.contains("Offer one free month"), "{system}");
    let last = req.messages.last().unwrap();
    assert_eq!(last.content, "Can you do anything for me?");
    let reply = r.replies().into_iter().find(|x| x.0 == 2).unwrap();
    assert_eq!(reply.2, "fake");
    assert!(!reply.3);
    assert!(
        reply
            .1
            .ends_with("I have applied a free month to your account."),
        "{reply:?}"
    );
}

/// A local model reuses the KV cache of the prompt prefix it saw last turn, so a
/// turn's request must extend the previous one: the one-turn instruction of a
/// handoff ("you have just taken over…") goes after the history, never into the
/// system prompt (where it changed the first tokens of every later request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_prompt_extends_the_previous_one_across_a_handoff() {
    let (asked, llm) = recording_llm("Our premium plan is forty dollars a month.");
    let r = run(
        r#"{"lang":"en","turns":[
            {"say":"Hello, I'd like to buy the premium internet plan"},
            {"say":"How much is it per month?"},
            {"say":"Does it include a router?"}]}"#,
        providers(Some(llm), fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    assert_eq!(
        r.persona_changes(),
        vec![("reception".into(), "sales".into(), "rule".into(), 1)],
        "{}",
        r.dump()
    );
    let asked = turn_requests(&asked);
    assert_eq!(asked.len(), 3, "{}", r.dump());
    // Turn 1 is Sarah's first: the handoff line comes last, after the customer.
    let first = &asked[0];
    let last = first.messages.last().unwrap();
    assert!(last.content.contains("taken over this call"), "{last:?}");
    assert!(!first.messages[0].content.contains("taken over"));
    // Turns 2 and 3: everything the previous request had before its one-turn
    // instruction is repeated unchanged at the start.
    for pair in asked.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        let stable = before
            .messages
            .iter()
            .take_while(|m| !m.content.contains("taken over this call"))
            .count();
        assert!(stable >= 2, "{before:?}");
        assert_eq!(
            after.messages[..stable],
            before.messages[..stable],
            "the prompt prefix changed between turns"
        );
        assert!(after.messages.len() > stable);
        assert!(!after
            .messages
            .last()
            .unwrap()
            .content
            .contains("taken over"));
    }
}

/// A long call drops its oldest history half a window at a time, so between two
/// drops every request still extends the previous one (a window sliding by one
/// exchange per turn would change the start of every prompt and a local model
/// would decode the whole history again each turn).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_call_keeps_its_prompt_prefix_between_history_trims() {
    let (asked, llm) = recording_llm("Okay.");
    let turns: Vec<String> = (1..=14)
        .map(|i| format!(r#"{{"say":"Thanks, tell me more about point {i}"}}"#))
        .collect();
    let json = format!(r#"{{"lang":"en","turns":[{}]}}"#, turns.join(","));
    let r = run(
        &json,
        providers(Some(llm), fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let asked = turn_requests(&asked);
    assert_eq!(asked.len(), 14, "{}", r.dump());
    assert!(r.persona_changes().is_empty(), "{}", r.dump());
    let window = switchboard::call::CallConfig::default().history_turns * 2;
    let mut trims = 0;
    for pair in asked.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert!(after.messages.len() <= window + 1);
        if after.messages.len() < before.messages.len()
            || after.messages[..before.messages.len()] != before.messages[..]
        {
            trims += 1;
        }
    }
    // 14 turns + the greeting = 29 messages for a 16-message window: two trims
    // (a window sliding by one exchange would break the prefix on 7 turns).
    assert!(trims <= 2, "the prompt prefix changed on {trims} turns");
    assert!(trims >= 1, "the history was never trimmed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_stalling_mid_stream_falls_back_and_the_call_goes_on() {
    for (lang, first, second) in [
        ("en", "I want to upgrade my plan", "And what about roaming?"),
        ("ar", "بدي رقي الباقة تبعي", "وشو بالنسبة للتجوال؟"),
    ] {
        let llm =
            FakeLanguageModel::new("Sure thing. Let me look at the options for you right now and")
                .with_failure(FakeFailure::StallAfterTokens(6))
                .with_stall_timeout(Duration::from_millis(300));
        let json =
            format!(r#"{{"lang":"{lang}","turns":[{{"say":"{first}"}},{{"say":"{second}"}}]}}"#);
        let r = run(
            &json,
            providers(Some(Arc::new(llm)), fast_fake_tts()),
            SttMode::Text,
            SPEED,
        )
        .await;
        // Two replies stalled (template fallback), then the end-of-call summary did too
        // (extractive fallback).
        let errors = r.errors();
        assert_eq!(errors.len(), 3, "{}", r.dump());
        assert!(errors.iter().all(|(code, _)| code == "llm_stall_timeout"));
        let fallbacks: Vec<&str> = errors
            .iter()
            .map(|e| e.1.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(fallbacks, vec!["template", "template", "extractive"]);
        let replies = r.replies();
        let answered: Vec<u32> = replies.iter().map(|x| x.0).collect();
        assert_eq!(answered, vec![0, 1, 2], "{}", r.dump());
        for (turn, text, provider, fallback) in replies.iter().skip(1) {
            assert!(*fallback, "turn {turn} used the fallback");
            assert_eq!(provider, "fake+template");
            // What the LLM finished before stalling is kept, its unfinished sentence
            // is dropped, and the fallback completes the answer.
            assert!(text.contains("Sure thing."), "{text}");
            assert!(!text.contains("Let me look"), "{text}");
            assert!(!text.ends_with("Sure thing."), "{text}");
            if lang == "ar" {
                assert!(has_arabic(text), "{text}");
            }
        }
        assert!(matches!(r.ended(), EventKind::CallEnded { turns: 2, .. }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_down_before_first_token_uses_template_in_customer_language() {
    let llm = FakeLanguageModel::new("unused").with_failure(FakeFailure::FailBeforeFirstToken);
    let r = run(
        r#"{"lang":"auto","turns":[{"say":"عايز أكلم المدير حالا"},{"say":"I need help with my bill"}]}"#,
        providers(Some(Arc::new(llm)), fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let replies = r.replies();
    assert_eq!(replies.len(), 3, "{}", r.dump());
    assert!(has_arabic(&replies[1].1) && replies[1].2 == "template" && replies[1].3);
    assert!(!has_arabic(&replies[2].1) && replies[2].3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tts_failure_falls_back_to_the_next_voice() {
    let broken: Arc<dyn switchboard::tts::TextToSpeech> =
        Arc::new(FakeTextToSpeech::new().with_failure(FakeTtsFailure::FailBeforeAudio));
    let mut p = providers(None, broken);
    p.tts.push(fast_fake_tts());
    let r = run(
        r#"{"lang":"en","turns":[{"say":"Where is my order?"}]}"#,
        p,
        SttMode::Text,
        SPEED,
    )
    .await;
    assert!(
        r.errors()
            .iter()
            .all(|(code, fb)| code == "tts_failed" && fb.as_deref() == Some("fake")),
        "{}",
        r.dump()
    );
    assert!(!r.errors().is_empty());
    // The customer still heard every reply.
    assert_eq!(r.final_lines(Speaker::Agent).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_text_is_carried_verbatim() {
    let hostile =
        "<img src=x onerror=alert(1)> '; DROP TABLE turns; -- \u{202E}evil\u{202C} </script>";
    let json = serde_json::json!({"lang":"en","turns":[{"say": hostile}]}).to_string();
    let r = run(
        &json,
        providers(None, fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    let customer = r.final_lines(Speaker::Customer);
    assert_eq!(customer[0].1, hostile);
    // And survives the JSON Lines round trip.
    let line = serde_json::to_string(
        r.events
            .iter()
            .find(|e| {
                matches!(
                    e.kind,
                    EventKind::Transcript {
                        speaker: Speaker::Customer,
                        ..
                    }
                )
            })
            .unwrap(),
    )
    .unwrap();
    let back: switchboard::events::CallEvent = serde_json::from_str(&line).unwrap();
    assert!(matches!(back.kind, EventKind::Transcript { ref text, .. } if text == hostile));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_complaint_to_support_opens_one_ticket_and_the_customer_is_told() {
    for (lang, complaint, again, told) in [
        (
            "en",
            "My internet has been down for three days and nobody helps me, this is terrible",
            "It is still not working",
            "ticket",
        ),
        (
            "ar",
            "الانترنت مقطوع من تلات ايام وما حدا ساعدني، الخدمة زفت",
            "لسا ما اشتغل",
            "تذكرة",
        ),
    ] {
        let json =
            format!(r#"{{"lang":"{lang}","turns":[{{"say":"{complaint}"}},{{"say":"{again}"}}]}}"#);
        let r = run(
            &json,
            providers(None, fast_fake_tts()),
            SttMode::Text,
            SPEED,
        )
        .await;
        let tickets: Vec<(u32, String, String, String)> = r
            .kinds()
            .filter_map(|k| match k {
                EventKind::Ticket {
                    turn,
                    subject,
                    department,
                    priority,
                    ..
                } => Some((*turn, subject.clone(), department.clone(), priority.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(tickets.len(), 1, "one ticket per call: {}", r.dump());
        assert_eq!(tickets[0].0, 1);
        assert_eq!(tickets[0].2, "support");
        assert_eq!(tickets[0].3, "high");
        assert!(complaint.starts_with(&tickets[0].1));
        let reply = r.replies().into_iter().find(|x| x.0 == 1).unwrap();
        assert!(reply.1.contains(told), "{reply:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_writes_the_call_summary_and_templates_cover_its_failure() {
    let llm = FakeLanguageModel::replying_with(|req| {
        if req.messages[0].content.contains("call summaries") {
            "Rana asked for the premium plan price and was offered a quote. Mood positive.".into()
        } else {
            "Sure, I can help with that.".into()
        }
    });
    let probe = llm.clone();
    let r = run(
        r#"{"lang":"auto","customer":{"name":"Rana"},"turns":[
            {"say":"قديش سعر الباقة المميزة؟"},{"say":"Great, thanks a lot"}]}"#,
        providers(
            Some(Arc::new(llm) as Arc<dyn LanguageModel>),
            fast_fake_tts(),
        ),
        SttMode::Text,
        SPEED,
    )
    .await;
    match r.ended() {
        EventKind::CallEnded {
            summary,
            summary_provider,
            ..
        } => {
            assert_eq!(
                summary,
                "Rana asked for the premium plan price and was offered a quote. Mood positive."
            );
            assert_eq!(summary_provider, "fake");
        }
        _ => unreachable!(),
    }
    // The summary was asked for with the whole conversation, both languages.
    let req = probe.last_request().unwrap();
    let transcript = &req.messages[1].content;
    assert!(
        transcript.contains("Customer: قديش سعر الباقة المميزة؟"),
        "{transcript}"
    );
    assert!(
        transcript.contains("Customer: Great, thanks a lot"),
        "{transcript}"
    );
    assert!(transcript.contains("Agent: "), "{transcript}");

    let broken = FakeLanguageModel::new("x").with_failure(FakeFailure::FailBeforeFirstToken);
    let r = run(
        r#"{"lang":"en","customer":{"name":"Omar"},"turns":[{"say":"My bill is wrong"}]}"#,
        providers(Some(Arc::new(broken)), fast_fake_tts()),
        SttMode::Text,
        SPEED,
    )
    .await;
    match r.ended() {
        EventKind::CallEnded {
            summary,
            summary_provider,
            ..
        } => {
            assert_eq!(summary_provider, "extractive");
            assert!(
                summary.contains("Omar said: \"My bill is wrong\""),
                "{summary}"
            );
        }
        _ => unreachable!(),
    }
    assert_eq!(r.errors().last().unwrap().1.as_deref(), Some("extractive"));
}
