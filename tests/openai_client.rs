//! `OpenAiCompatible` against real HTTP on 127.0.0.1: every test starts its own
//! fake OpenAI-compatible server (a `TcpListener` speaking HTTP/1.1 by hand), so
//! the exact bytes, their TCP segmentation and the timing are under our control.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::Value;
use switchboard::llm::{
    ChatMessage, ChatRequest, LanguageModel, LlmError, OpenAiCompatible, OpenAiConfig, TokenStream,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

// ---------------------------------------------------------------------------
// Fake server
// ---------------------------------------------------------------------------

/// One request as the server received it.
#[derive(Debug)]
struct Received {
    request_line: String,
    /// Header lines, names lowercased.
    headers: Vec<(String, String)>,
    body: Value,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the server does after reading the request.
#[derive(Debug, Clone)]
enum Act {
    /// Status line + headers of a chunked `text/event-stream` response.
    Head(u16),
    /// A whole non-chunked response with this status and body, then close.
    Plain(u16, String),
    /// One HTTP chunk (written and flushed as its own TCP write).
    Chunk(Vec<u8>),
    /// Raw bytes, no chunk framing.
    Raw(Vec<u8>),
    Sleep(u64),
    /// The terminating zero-length chunk.
    End,
    /// Wait up to this many ms for the client to close the connection.
    ExpectClose(u64),
}

#[derive(Debug)]
struct Report {
    requests: Vec<Received>,
    /// Set by `ExpectClose`: whether the client closed the connection in time.
    client_closed: Option<bool>,
}

async fn read_request(sock: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let header_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[header_end + 4..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut tmp).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&tmp[..n]);
    }
    Some(Received {
        request_line,
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

async fn perform(sock: &mut TcpStream, acts: &[Act]) -> std::io::Result<Option<bool>> {
    let mut closed = None;
    for act in acts {
        match act {
            Act::Head(status) => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: text/event-stream\r\n\
                     cache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n"
                );
                sock.write_all(head.as_bytes()).await?;
            }
            Act::Plain(status, body) => {
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(resp.as_bytes()).await?;
            }
            Act::Chunk(bytes) => {
                let mut framed = format!("{:x}\r\n", bytes.len()).into_bytes();
                framed.extend_from_slice(bytes);
                framed.extend_from_slice(b"\r\n");
                sock.write_all(&framed).await?;
            }
            Act::Raw(bytes) => sock.write_all(bytes).await?,
            Act::Sleep(ms) => tokio::time::sleep(Duration::from_millis(*ms)).await,
            Act::End => sock.write_all(b"0\r\n\r\n").await?,
            Act::ExpectClose(ms) => {
                let mut tmp = [0u8; 1024];
                let deadline = tokio::time::Instant::now() + Duration::from_millis(*ms);
                let mut saw = false;
                loop {
                    match tokio::time::timeout_at(deadline, sock.read(&mut tmp)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => {
                            saw = true;
                            break;
                        }
                        Ok(Ok(_)) => continue,
                        Err(_) => break,
                    }
                }
                closed = Some(saw);
            }
        }
        sock.flush().await?;
    }
    Ok(closed)
}

/// Serves one connection; for each script, reads one request and performs it.
async fn serve(scripts: Vec<Vec<Act>>) -> (String, JoinHandle<Report>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = tokio::spawn(async move {
        let mut report = Report {
            requests: Vec::new(),
            client_closed: None,
        };
        let Ok((mut sock, _)) = listener.accept().await else {
            return report;
        };
        let _ = sock.set_nodelay(true);
        for acts in scripts {
            let Some(req) = read_request(&mut sock).await else {
                break;
            };
            report.requests.push(req);
            match perform(&mut sock, &acts).await {
                Ok(closed) => {
                    if closed.is_some() {
                        report.client_closed = closed;
                    }
                }
                Err(_) => {
                    report.client_closed = Some(true);
                    break;
                }
            }
        }
        // Keep the connection open a little so that closing is the client's choice.
        tokio::time::sleep(Duration::from_millis(50)).await;
        report
    });
    (format!("http://{addr}/v1"), handle)
}

fn event(json: Value) -> Vec<u8> {
    format!("data: {json}\n\n").into_bytes()
}

fn delta(text: &str) -> Vec<u8> {
    event(serde_json::json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    }))
}

fn role_delta() -> Vec<u8> {
    event(serde_json::json!({
        "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": null}]
    }))
}

fn done() -> Vec<u8> {
    b"data: [DONE]\n\n".to_vec()
}

fn config(base_url: &str) -> OpenAiConfig {
    OpenAiConfig {
        base_url: base_url.to_string(),
        model: "test-model".to_string(),
        api_key: Some("test-key-123".to_string()),
        connect_timeout: Duration::from_millis(500),
        first_token_timeout: Duration::from_millis(1500),
        stall_timeout: Duration::from_millis(1000),
        // One try: these tests script one answer per request.
        retry: switchboard::resilience::RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        },
    }
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            ChatMessage::system("You are a helpful bank agent."),
            ChatMessage::user("مرحبا, I need help"),
        ],
        max_tokens: 128,
        temperature: 0.7,
        tools: Vec::new(),
    }
}

async fn collect(mut stream: TokenStream) -> (Vec<String>, Option<LlmError>) {
    let mut tokens = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(t) => tokens.push(t),
            Err(e) => return (tokens, Some(e)),
        }
    }
    (tokens, None)
}

fn client(cfg: OpenAiConfig) -> OpenAiCompatible {
    OpenAiCompatible::try_new(cfg).expect("client")
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn fake_server_streams_english_reply_and_receives_the_request() {
    let mut multi_data = b"event: message\nid: 3\n".to_vec();
    multi_data.extend_from_slice(b"data: {\"choices\":[{\"index\":0,\n");
    multi_data.extend_from_slice(b"data: \"delta\":{\"content\":\" How can\"}}]}\n\n");
    let script = vec![
        Act::Head(200),
        Act::Chunk(b": keep-alive comment\n\n".to_vec()),
        Act::Chunk(role_delta()),
        Act::Chunk(delta("Hello!")),
        Act::Chunk(multi_data),
        // CRLF line endings, with the CR and LF in separate TCP writes
        Act::Chunk(b"data: {\"choices\":[{\"delta\":{\"content\":\" I help\"}}]}\r".to_vec()),
        Act::Sleep(20),
        Act::Chunk(b"\n\r\n\n".to_vec()), // blank keep-alive lines
        Act::Chunk(
            b"data: {\"choices\":[{\"delta\":{\"content\":null},\"finish_reason\":null}]}\n\n"
                .to_vec(),
        ),
        Act::Chunk([delta(" you"), delta(" today?")].concat()),
        Act::Chunk(b"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n".to_vec()),
        Act::Chunk(done()),
        Act::End,
    ];
    let (url, server) = serve(vec![script]).await;
    let llm = client(config(&url));
    assert_eq!(llm.name(), "openai-compatible");
    let (tokens, err) = collect(llm.stream(request())).await;
    assert!(err.is_none(), "unexpected error {err:?}");
    assert_eq!(tokens.concat(), "Hello! How can I help you today?");
    assert_eq!(tokens[0], "Hello!");

    let report = server.await.expect("server");
    let req = &report.requests[0];
    assert_eq!(req.request_line, "POST /v1/chat/completions HTTP/1.1");
    assert_eq!(req.header("authorization"), Some("Bearer test-key-123"));
    assert_eq!(req.header("accept"), Some("text/event-stream"));
    assert!(req
        .header("content-type")
        .is_some_and(|v| v.starts_with("application/json")));
    assert_eq!(req.body["model"], "test-model");
    assert_eq!(req.body["stream"], true);
    assert_eq!(req.body["max_tokens"], 128);
    assert_eq!(req.body["temperature"], 0.7);
    assert_eq!(
        req.body["messages"],
        serde_json::json!([
            {"role": "system", "content": "You are a helpful bank agent."},
            {"role": "user", "content": "مرحبا, I need help"}
        ])
    );
}

#[tokio::test]
async fn fake_server_arabic_reply_with_utf8_char_split_across_tcp_writes() {
    let reply = ["مرحبا!", " كيف", " يمكنني", " مساعدتك", " اليوم؟"];
    let mut sse: Vec<u8> = Vec::new();
    sse.extend(role_delta());
    for piece in reply {
        sse.extend(delta(piece));
    }
    sse.extend(done());
    // Cut inside the 2-byte UTF-8 encoding of the first Arabic letter of " كيف".
    let needle = "كيف".as_bytes();
    let at = sse
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle")
        + 1;
    assert!(
        std::str::from_utf8(&sse[..at]).is_err(),
        "cut must split a char"
    );
    // And a second cut inside another character, mid-way through a later event.
    let needle2 = "مساعدتك".as_bytes();
    let at2 = sse
        .windows(needle2.len())
        .position(|w| w == needle2)
        .expect("needle2")
        + 3;
    let script = vec![
        Act::Head(200),
        Act::Chunk(sse[..at].to_vec()),
        Act::Sleep(40),
        Act::Chunk(sse[at..at2].to_vec()),
        Act::Sleep(40),
        // Raw bytes of the last HTTP chunk, its framing split mid-character too.
        Act::Raw({
            let rest = &sse[at2..];
            let mut framed = format!("{:x}\r\n", rest.len()).into_bytes();
            framed.extend_from_slice(&rest[..1]);
            framed
        }),
        Act::Sleep(40),
        Act::Raw({
            let mut tail = sse[at2 + 1..].to_vec();
            tail.extend_from_slice(b"\r\n");
            tail
        }),
        Act::End,
    ];
    let (url, server) = serve(vec![script]).await;
    let llm = client(config(&url));
    let (tokens, err) = collect(llm.stream(request())).await;
    assert!(err.is_none(), "unexpected error {err:?}");
    assert_eq!(tokens.concat(), "مرحبا! كيف يمكنني مساعدتك اليوم؟");
    assert_eq!(tokens, reply);
    server.await.expect("server");
}

#[tokio::test]
async fn fake_server_http_500_is_a_status_error_with_truncated_body() {
    let body = format!(
        "{{\"error\":\"internal\",\"detail\":\"{}\"}}",
        "x".repeat(2000)
    );
    let (url, server) = serve(vec![vec![Act::Plain(500, body)]]).await;
    let (tokens, err) = collect(client(config(&url)).stream(request())).await;
    assert!(tokens.is_empty());
    match err {
        Some(LlmError::Status { status, body }) => {
            assert_eq!(status, 500);
            assert!(body.starts_with("{\"error\":\"internal\""), "{body}");
            assert!(
                body.chars().count() <= 301,
                "body not truncated: {}",
                body.len()
            );
        }
        other => panic!("expected Status, got {other:?}"),
    }
    server.await.expect("server");
}

#[tokio::test]
async fn fake_server_401_without_key_is_reported() {
    let (url, server) = serve(vec![vec![Act::Plain(
        401,
        "{\"error\":{\"message\":\"missing key\"}}".to_string(),
    )]])
    .await;
    let cfg = OpenAiConfig {
        api_key: None,
        ..config(&url)
    };
    let (_, err) = collect(client(cfg).stream(request())).await;
    assert!(
        matches!(err, Some(LlmError::Status { status: 401, ref body }) if body.contains("missing key")),
        "{err:?}"
    );
    let report = server.await.expect("server");
    assert_eq!(report.requests[0].header("authorization"), None);
}

#[tokio::test]
async fn fake_server_garbage_json_is_a_protocol_error() {
    let script = vec![
        Act::Head(200),
        Act::Chunk(b"data: {\"choices\": [this is not json\n\n".to_vec()),
        Act::Chunk(done()),
        Act::End,
    ];
    let (url, server) = serve(vec![script]).await;
    let (tokens, err) = collect(client(config(&url)).stream(request())).await;
    assert!(tokens.is_empty());
    assert!(matches!(err, Some(LlmError::Protocol(_))), "{err:?}");
    assert_eq!(err.map(|e| e.code()), Some("llm_protocol"));
    server.await.expect("server");
}

#[tokio::test]
async fn fake_server_error_object_mid_stream_ends_with_error() {
    let script = vec![
        Act::Head(200),
        Act::Chunk(delta("Let me")),
        Act::Chunk(event(serde_json::json!({
            "error": {"message": "model overloaded", "type": "server_error"}
        }))),
        Act::Chunk(delta(" never")),
        Act::End,
    ];
    let (url, server) = serve(vec![script]).await;
    let (tokens, err) = collect(client(config(&url)).stream(request())).await;
    assert_eq!(tokens, vec!["Let me"]);
    let err = err.expect("error");
    assert!(err.to_string().contains("model overloaded"), "{err}");
    server.await.expect("server");
}

#[tokio::test]
async fn fake_server_no_first_token_in_time() {
    // Headers and a role-only delta arrive, but no content.
    let script = vec![Act::Head(200), Act::Chunk(role_delta()), Act::Sleep(3000)];
    let (url, _server) = serve(vec![script]).await;
    let cfg = OpenAiConfig {
        first_token_timeout: Duration::from_millis(300),
        ..config(&url)
    };
    let start = Instant::now();
    let (tokens, err) = collect(client(cfg).stream(request())).await;
    let elapsed = start.elapsed();
    assert!(tokens.is_empty());
    assert!(
        matches!(err, Some(LlmError::FirstTokenTimeout { ms: 300 })),
        "{err:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(290) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn fake_server_no_response_headers_in_time() {
    let (url, _server) = serve(vec![vec![Act::Sleep(3000)]]).await;
    let cfg = OpenAiConfig {
        first_token_timeout: Duration::from_millis(250),
        ..config(&url)
    };
    let (_, err) = collect(client(cfg).stream(request())).await;
    assert!(
        matches!(err, Some(LlmError::FirstTokenTimeout { ms: 250 })),
        "{err:?}"
    );
}

#[tokio::test]
async fn fake_server_stall_mid_stream_after_some_tokens() {
    let script = vec![
        Act::Head(200),
        Act::Chunk(delta("Your balance")),
        Act::Sleep(50),
        Act::Chunk(delta(" is")),
        Act::Sleep(3000),
        Act::Chunk(delta(" late")),
    ];
    let (url, _server) = serve(vec![script]).await;
    let cfg = OpenAiConfig {
        stall_timeout: Duration::from_millis(300),
        ..config(&url)
    };
    let start = Instant::now();
    let (tokens, err) = collect(client(cfg).stream(request())).await;
    assert_eq!(tokens, vec!["Your balance", " is"]);
    assert!(
        matches!(err, Some(LlmError::StallTimeout { ms: 300 })),
        "{err:?}"
    );
    assert!(start.elapsed() < Duration::from_millis(2000));
}

#[tokio::test]
async fn fake_server_end_without_done_after_content_is_ok() {
    let script = vec![
        Act::Head(200),
        Act::Chunk(delta("Goodbye")),
        // last event without its blank line
        Act::Chunk(b"data: {\"choices\":[{\"delta\":{\"content\":\"!\"}}]}".to_vec()),
        Act::End,
    ];
    let (url, _server) = serve(vec![script]).await;
    let (tokens, err) = collect(client(config(&url)).stream(request())).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(tokens.concat(), "Goodbye!");
}

#[tokio::test]
async fn fake_server_end_without_any_content_is_a_protocol_error() {
    let script = vec![
        Act::Head(200),
        Act::Chunk(role_delta()),
        Act::Chunk(b": nothing more\n\n".to_vec()),
        Act::End,
    ];
    let (url, _server) = serve(vec![script]).await;
    let (tokens, err) = collect(client(config(&url)).stream(request())).await;
    assert!(tokens.is_empty());
    assert!(matches!(err, Some(LlmError::Protocol(_))), "{err:?}");
}

#[tokio::test]
async fn closed_port_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let start = Instant::now();
    let (tokens, err) =
        collect(client(config(&format!("http://{addr}/v1"))).stream(request())).await;
    assert!(tokens.is_empty());
    match err {
        Some(LlmError::Connect { url, reason }) => {
            assert!(url.contains(&addr.to_string()), "{url}");
            assert!(!reason.is_empty());
        }
        other => panic!("expected Connect, got {other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn fake_server_sees_connection_closed_when_stream_is_dropped() {
    let script = vec![
        Act::Head(200),
        Act::Chunk(delta("I will talk for a long")),
        Act::ExpectClose(3000),
    ];
    let (url, server) = serve(vec![script]).await;
    let llm = client(config(&url));
    let mut stream = llm.stream(request());
    let first = stream.next().await;
    assert!(matches!(first, Some(Ok(ref t)) if t == "I will talk for a long"));
    let dropped_at = Instant::now();
    drop(stream); // barge-in
    let report = server.await.expect("server");
    assert_eq!(report.client_closed, Some(true), "server never saw EOF");
    assert!(dropped_at.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn fake_server_keep_alive_connection_is_reused_between_turns() {
    // The server accepts ONE connection and answers two requests on it: the
    // second turn would time out if the client opened a new connection.
    let turn = |text: &str| {
        vec![
            Act::Head(200),
            Act::Chunk(delta(text)),
            Act::Chunk(done()),
            // the chunked terminator comes in a later TCP segment
            Act::Sleep(30),
            Act::End,
        ]
    };
    let (url, server) = serve(vec![turn("one"), turn("two")]).await;
    let llm = client(config(&url));
    let (a, err) = collect(llm.stream(request())).await;
    assert!(err.is_none(), "{err:?}");
    let (b, err) = collect(llm.stream(request())).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        (a.concat(), b.concat()),
        ("one".to_string(), "two".to_string())
    );
    let report = server.await.expect("server");
    assert_eq!(report.requests.len(), 2);
}

#[test]
fn config_from_env_and_debug_output_never_shows_the_api_key() {
    let cfg = OpenAiConfig::from_env("http://127.0.0.1:9/v1", "m");
    assert_eq!(cfg.base_url, "http://127.0.0.1:9/v1");
    assert_eq!(cfg.model, "m");
    assert_eq!(cfg.api_key, OpenAiConfig::api_key_from_env());

    let cfg = OpenAiConfig {
        api_key: Some("sk-very-secret".to_string()),
        ..OpenAiConfig::default()
    };
    assert!(!format!("{cfg:?}").contains("sk-very-secret"));
    let llm = OpenAiCompatible::new(cfg);
    assert!(!format!("{llm:?}").contains("sk-very-secret"));
}

/// A whole response that keeps the connection open for the next request.
fn keep_alive(status: u16, extra: &str, body: &str) -> Act {
    Act::Raw(
        format!(
            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

#[tokio::test]
async fn fake_server_429_with_a_short_retry_after_is_retried_before_the_first_token() {
    let (url, server) = serve(vec![
        vec![keep_alive(
            429,
            "retry-after: 0.25\r\n",
            r#"{"error":{"message":"Rate limit reached for requests","type":"requests"}}"#,
        )],
        vec![
            Act::Head(200),
            Act::Chunk(role_delta()),
            Act::Chunk(delta("تم ")),
            Act::Chunk(delta("التحقق.")),
            Act::Chunk(done()),
            Act::End,
        ],
    ])
    .await;
    let cfg = OpenAiConfig {
        retry: switchboard::resilience::RetryPolicy::default(),
        ..config(&url)
    };
    let start = Instant::now();
    let (tokens, err) = collect(client(cfg).stream(request())).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(tokens.concat(), "تم التحقق.");
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "Retry-After obeyed"
    );
    let report = server.await.expect("server");
    assert_eq!(report.requests.len(), 2, "one retry");
    assert_eq!(
        report.requests[0].body, report.requests[1].body,
        "the same request"
    );
}

#[tokio::test]
async fn fake_server_failing_three_times_is_skipped_without_a_request() {
    let fail = || {
        vec![keep_alive(
            500,
            "",
            r#"{"error":{"message":"The server had an error while processing your request"}}"#,
        )]
    };
    let (url, server) = serve(vec![fail(), fail(), fail()]).await;
    let llm = client(config(&url));
    for _ in 0..3 {
        let (_, err) = collect(llm.stream(request())).await;
        assert!(
            matches!(err, Some(LlmError::Status { status: 500, .. })),
            "{err:?}"
        );
    }
    assert!(
        llm.skip_reason().is_some(),
        "three in a row open the circuit"
    );
    let start = Instant::now();
    let (_, err) = collect(llm.stream(request())).await;
    assert!(matches!(err, Some(LlmError::Unavailable(_))), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_millis(50),
        "skipped at once"
    );
    let report = server.await.expect("server");
    assert_eq!(report.requests.len(), 3, "nothing sent while open");
}
