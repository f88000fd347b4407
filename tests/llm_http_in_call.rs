//! A call whose LLM is the real OpenAI-compatible client talking HTTP/SSE to a local
//! stand-in server (no real provider is reachable from the test machines).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use switchboard::events::{EventKind, Speaker};
use switchboard::llm::openai::{OpenAiCompatible, OpenAiConfig};
use switchboard::llm::LanguageModel;
use switchboard::transport::SttMode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Reads one request: its headers and its JSON body (Content-Length). False
/// when the client went away first.
async fn read_request(sock: &mut tokio::net::TcpStream) -> bool {
    let mut buf = vec![0u8; 65536];
    let mut req = Vec::new();
    loop {
        let n = match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        req.extend_from_slice(&buf[..n]);
        if let Some(pos) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&req[..pos]).to_lowercase();
            let len = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if req.len() >= pos + 4 + len {
                return true;
            }
        }
    }
}

/// Serves chat completions: each request gets `pieces` as SSE deltas; if `stall`,
/// the stream then goes silent (keeping the connection open) instead of `[DONE]`.
async fn sse_server(pieces: Vec<&'static str>, stall: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let pieces = pieces.clone();
            tokio::spawn(async move {
                if !read_request(&mut sock).await {
                    return;
                }
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for p in pieces {
                    let chunk =
                        serde_json::json!({"choices": [{"index": 0, "delta": {"content": p}}]});
                    let line = format!("data: {chunk}\n\n");
                    // Split every event in two writes, mid UTF-8 where possible.
                    let bytes = line.as_bytes();
                    let mid = bytes.len() / 2;
                    if sock.write_all(&bytes[..mid]).await.is_err() {
                        return;
                    }
                    let _ = sock.flush().await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    if sock.write_all(&bytes[mid..]).await.is_err() {
                        return;
                    }
                    let _ = sock.flush().await;
                }
                if stall {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                } else {
                    let _ = sock.write_all(b"data: [DONE]\n\n").await;
                }
            });
        }
    });
    format!("http://{addr}/v1")
}

fn client(base_url: String) -> Arc<dyn LanguageModel> {
    let cfg = OpenAiConfig {
        base_url,
        model: "test-model".into(),
        api_key: None,
        first_token_timeout: Duration::from_millis(1500),
        stall_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    Arc::new(OpenAiCompatible::try_new(cfg).expect("client"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_server_streams_an_arabic_reply_into_the_call() {
    let url = sse_server(
        vec!["أهلا ", "وسهلا، ", "طلبك ", "بالطريق ", "وبيوصل ", "بكرة."],
        false,
    )
    .await;
    let r = run(
        r#"{"lang":"ar","turns":[{"say":"وين صار الطلب تبعي؟"}]}"#,
        providers(Some(client(url)), fast_fake_tts()),
        SttMode::Text,
        10.0,
    )
    .await;
    let reply = r.replies().into_iter().find(|x| x.0 == 1).expect("reply");
    // Order status goes to support: Mohammed introduces himself, then the streamed reply.
    assert!(reply.1.contains("محمد"), "{}", r.dump());
    assert!(
        reply.1.ends_with(" أهلا وسهلا، طلبك بالطريق وبيوصل بكرة."),
        "{}",
        r.dump()
    );
    assert_eq!(reply.2, "openai-compatible");
    assert!(!reply.3);
    assert!(r.errors().is_empty(), "{}", r.dump());
    let agent = r.final_lines(Speaker::Agent);
    assert!(agent
        .last()
        .unwrap()
        .1
        .ends_with("أهلا وسهلا، طلبك بالطريق وبيوصل بكرة."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_server_stalling_mid_stream_triggers_the_fallback_and_the_call_continues() {
    let url = sse_server(vec!["Sure. ", "Let ", "me ", "check "], true).await;
    let r = run(
        r#"{"lang":"en","turns":[{"say":"My bill is too high this month"},{"say":"Can you explain the charges?"}]}"#,
        providers(Some(client(url)), fast_fake_tts()),
        SttMode::Text,
        10.0,
    )
    .await;
    // Both replies stalled (template fallback), and so did the end-of-call summary
    // (extractive fallback).
    let errors = r.errors();
    assert_eq!(errors.len(), 3, "{}", r.dump());
    assert!(errors.iter().all(|e| e.0 == "llm_stall_timeout"));
    assert_eq!(errors[2].1.as_deref(), Some("extractive"));
    let replies = r.replies();
    assert_eq!(replies.len(), 3);
    for (_, text, provider, fallback) in &replies[1..] {
        assert!(*fallback);
        assert_eq!(provider, "openai-compatible+template");
        assert!(text.contains("Sure."), "{text}");
        assert!(
            !text.contains("Let me check"),
            "the unfinished sentence is dropped: {text}"
        );
    }
    // The customer heard an answer to both turns within the stall timeout plus a bit.
    for k in r.kinds() {
        if let EventKind::TurnMetrics(m) = k {
            assert!(m.total_ms.is_some());
        }
    }
    assert!(matches!(r.ended(), EventKind::CallEnded { turns: 2, .. }));
}

/// How the stand-in for a hosted model fails every request.
#[derive(Clone, Copy)]
enum Fault {
    /// 503 with OpenAI's JSON error body.
    Unavailable,
    /// 429 asking to come back in a minute.
    RateLimited,
    /// 200 with an event stream whose data is not JSON.
    Malformed,
    /// Headers at once, then nothing.
    SlowFirstToken,
    /// A sentence, then the connection drops mid-stream (chunked body cut).
    CutMidStream,
}

async fn failing_server(fault: Fault) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = asked.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let count = count.clone();
            tokio::spawn(async move {
                if !read_request(&mut sock).await {
                    return;
                }
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let plain = |status: &str, extra: &str, body: &str| {
                    format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let resp = match fault {
                    Fault::Unavailable => plain(
                        "503 Service Unavailable",
                        "",
                        r#"{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error"}}"#,
                    ),
                    Fault::RateLimited => plain(
                        "429 Too Many Requests",
                        "retry-after: 60\r\n",
                        r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota"}}"#,
                    ),
                    Fault::Malformed => "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\ndata: {\"choices\": [{\"delta\": \n\n".to_string(),
                    Fault::CutMidStream => {
                        let event = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Let me check that for you. Your order\"}}]}\n\n";
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
                            event.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        // Dropped without the last chunk: the connection is cut.
                        return;
                    }
                    Fault::SlowFirstToken => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n")
                            .await;
                        tokio::time::sleep(Duration::from_secs(10)).await;
                        return;
                    }
                };
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}/v1"), asked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosted_model_that_fails_hands_the_turn_to_the_next_model_within_2_s() {
    use switchboard::llm::{FakeLanguageModel, LlmChain};
    for (what, fault) in [
        ("503", Fault::Unavailable),
        ("429 for a minute", Fault::RateLimited),
        ("malformed stream", Fault::Malformed),
        ("slow first token", Fault::SlowFirstToken),
    ] {
        let (url, asked) = failing_server(fault).await;
        let local: Arc<dyn LanguageModel> = Arc::new(FakeLanguageModel::replying_with(|_| {
            "Your order left our warehouse this morning.".into()
        }));
        let chain: Arc<dyn LanguageModel> = Arc::new(LlmChain::new(client(url), vec![local]));
        let r = run(
            r#"{"lang":"en","turns":[{"say":"Where is my order?"},{"say":"And when will it arrive?"},{"say":"Thanks"}]}"#,
            providers(Some(chain), fast_fake_tts()),
            SttMode::Text,
            10.0,
        )
        .await;
        let replies = r.replies();
        for (turn, text, provider, fallback) in replies.iter().filter(|x| x.0 >= 1 && x.0 <= 3) {
            assert_eq!(
                provider,
                "fake",
                "{what}, turn {turn}: the next model answered\n{}",
                r.dump()
            );
            assert!(*fallback, "{what}");
            assert!(text.contains("warehouse"), "{what}: {text}");
        }
        // The failure is an event naming who took over.
        let errors = r.errors();
        assert!(
            errors
                .iter()
                .any(|(code, fb)| code.starts_with("llm_") && fb.as_deref() == Some("fake")),
            "{what}: {errors:?}"
        );
        // The customer's answer started within 2 s of the end of their turn,
        // the failing request included.
        for k in r.kinds() {
            if let EventKind::TurnMetrics(m) = k {
                let total = m.total_ms.expect("the answer was played");
                assert!(total < 2000.0, "{what}: turn {} waited {total} ms", m.turn);
            }
        }
        // The end-of-call summary is written by the model that still answers.
        assert!(
            matches!(r.ended(), EventKind::CallEnded { summary_provider, .. } if summary_provider == "fake"),
            "{what}: {}",
            r.dump()
        );
        // Once it keeps failing (or asks to be left alone), it is not asked at all.
        let n = asked.load(std::sync::atomic::Ordering::SeqCst);
        match fault {
            Fault::RateLimited => assert_eq!(n, 1, "{what}: asked {n} times"),
            _ => assert!(n <= 6, "{what}: asked {n} times for 3 turns"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_cut_off_mid_stream_keeps_what_was_said_and_the_template_closes_it_at_once() {
    let (url, _asked) = failing_server(Fault::CutMidStream).await;
    let r = run(
        r#"{"lang":"en","turns":[{"say":"Where is my order?"}]}"#,
        providers(Some(client(url)), fast_fake_tts()),
        SttMode::Text,
        10.0,
    )
    .await;
    let reply = r.replies().into_iter().find(|x| x.0 == 1).expect("reply");
    assert!(
        reply.1.contains("Let me check that for you."),
        "{}",
        r.dump()
    );
    assert!(
        !reply.1.contains("Your order"),
        "the cut sentence is dropped: {}",
        reply.1
    );
    assert_eq!(reply.2, "openai-compatible+template");
    let errors = r.errors();
    assert!(
        errors
            .iter()
            .any(|(code, fb)| code == "llm_error" && fb.as_deref() == Some("template")),
        "{errors:?}"
    );
    for k in r.kinds() {
        if let EventKind::TurnMetrics(m) = k {
            assert!(m.total_ms.expect("answered") < 2000.0, "{m:?}");
        }
    }
}
