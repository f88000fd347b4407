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
                let mut buf = vec![0u8; 65536];
                let mut req = Vec::new();
                // Read headers and the JSON body (Content-Length).
                loop {
                    let n = match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
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
                            break;
                        }
                    }
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
