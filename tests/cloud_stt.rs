//! Cloud recognition (OpenAI's transcription API) against a local fake of it,
//! because api.openai.com is unreachable here. The fake reads the request the
//! way the API does — `multipart/form-data` with the WAV file, the model, the
//! language, `stream` — and answers in its wire formats: one JSON `{"text"}`
//! (`whisper-1`) or server-sent `transcript.text.delta`/`done` events
//! (`gpt-4o-*`), or fails: 429 with `Retry-After`, 500, malformed JSON, a slow
//! answer. When it fails, the chain's next recognizer hears the same utterance.

mod common;

use common::serve_local;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;

use switchboard::audio::{decode_wav_bytes, Frame, FRAME_SAMPLES};
use switchboard::lang::{Lang, LangHint};
use switchboard::stt::cloud::{OpenAiStt, OpenAiSttConfig};
use switchboard::stt::{ScriptedSpeechToText, SpeechToText, SttChain, SttError, SttScript};

const KEY: &str = "sk-test-stt-0123456789";

#[derive(Debug, Clone)]
enum Mode {
    Json(&'static str),
    Events(Vec<&'static str>, &'static str),
    Status(u16, Option<&'static str>, &'static str),
    /// 200 JSON that is not JSON.
    Malformed,
    Slow(Duration),
}

#[derive(Debug, Clone, Default)]
struct Upload {
    fields: Vec<(String, String)>,
    samples: usize,
    auth: Option<String>,
    at: Option<Instant>,
}

#[derive(Default)]
struct Fake {
    modes: Mutex<Vec<Mode>>,
    uploads: Mutex<Vec<Upload>>,
}

impl Fake {
    fn script(&self, modes: Vec<Mode>) {
        let mut m = modes;
        m.reverse();
        *self.modes.lock().unwrap() = m;
    }
    fn uploads(&self) -> Vec<Upload> {
        self.uploads.lock().unwrap().clone()
    }
}

/// The parts of a multipart body: (name, value) for fields, the file's bytes.
fn parts(ctype: &str, body: &[u8]) -> (Vec<(String, String)>, Vec<u8>) {
    let boundary = ctype.split("boundary=").nth(1).expect("a boundary").trim();
    let delim = format!("--{boundary}");
    let text = body;
    let mut fields = Vec::new();
    let mut file = Vec::new();
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let mut at = find(text, delim.as_bytes(), 0).expect("first delimiter");
    loop {
        let start = at + delim.len();
        if text[start..].starts_with(b"--") {
            break;
        }
        let head_end = find(text, b"\r\n\r\n", start).expect("part head");
        let head = String::from_utf8_lossy(&text[start..head_end]).to_string();
        let next = find(text, format!("\r\n{delim}").as_bytes(), head_end).expect("next delimiter");
        let value = &text[head_end + 4..next];
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string();
        if head.contains("filename=") {
            assert!(head.contains("Content-Type: audio/wav"), "{head}");
            file = value.to_vec();
        } else {
            fields.push((name, String::from_utf8_lossy(value).to_string()));
        }
        at = next + 2;
    }
    (fields, file)
}

async fn handle(State(fake): State<Arc<Fake>>, req: Request) -> Response {
    let (p, body) = req.into_parts();
    assert_eq!(p.uri.path(), "/v1/audio/transcriptions");
    let bytes = axum::body::to_bytes(body, 8 << 20).await.unwrap();
    let ctype = p.headers["content-type"].to_str().unwrap().to_string();
    let (fields, file) = parts(&ctype, &bytes);
    let samples = decode_wav_bytes(&file).expect("a valid WAV").len();
    fake.uploads.lock().unwrap().push(Upload {
        fields,
        samples,
        auth: p
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string()),
        at: Some(Instant::now()),
    });
    let mode = fake.modes.lock().unwrap().pop().unwrap_or(Mode::Json("ok"));
    let reply = |status: u16, ctype: &str, body: String| {
        Response::builder()
            .status(status)
            .header("content-type", ctype)
            .body(Body::from(body))
            .unwrap()
    };
    match mode {
        Mode::Json(text) => reply(
            200,
            "application/json",
            serde_json::json!({ "text": text }).to_string(),
        ),
        Mode::Events(deltas, done) => {
            let mut s = String::new();
            for d in deltas {
                s += &format!(
                    "data: {}\n\n",
                    serde_json::json!({"type": "transcript.text.delta", "delta": d})
                );
            }
            s += &format!(
                "data: {}\n\n",
                serde_json::json!({"type": "transcript.text.done", "text": done})
            );
            reply(200, "text/event-stream", s)
        }
        Mode::Status(code, after, body) => {
            let mut r = Response::builder()
                .status(code)
                .header("content-type", "application/json");
            if let Some(a) = after {
                r = r.header("retry-after", a);
            }
            r.body(Body::from(body)).unwrap()
        }
        Mode::Malformed => reply(200, "application/json", "{\"text\": ".into()),
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            reply(200, "application/json", "{\"text\":\"too late\"}".into())
        }
    }
}

async fn serve() -> (String, Arc<Fake>) {
    let fake = Arc::new(Fake::default());
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(fake.clone());
    (serve_local(app).await, fake)
}

fn stt(url: &str, model: &str) -> OpenAiStt {
    let mut cfg = OpenAiSttConfig::new(Some(KEY.into()));
    cfg.base_url = url.into();
    cfg.model = model.into();
    OpenAiStt::new(cfg).unwrap()
}

/// One second of an utterance (a tone stands in for the voice: the fake does
/// not listen).
fn frames() -> Vec<Frame> {
    (0..50)
        .map(|f| {
            let mut samples = [0i16; FRAME_SAMPLES];
            for (i, s) in samples.iter_mut().enumerate() {
                let t = (f * FRAME_SAMPLES + i) as f32 / 16_000.0;
                *s = ((t * 2.0 * std::f32::consts::PI * 220.0).sin() * 8000.0) as i16;
            }
            Frame { samples }
        })
        .collect()
}

async fn recognize(
    s: &dyn SpeechToText,
    hint: LangHint,
) -> Result<switchboard::stt::SttResult, SttError> {
    let mut session = s.start(hint);
    for f in frames() {
        assert!(session.push(&f).is_none(), "no partials from an upload");
    }
    session.finish().await
}

#[tokio::test]
async fn a_streaming_model_uploads_the_utterance_as_wav_with_the_calls_language() {
    let (url, fake) = serve().await;
    fake.script(vec![Mode::Events(
        vec!["أريد ", "إلغاء ", "طلبي"],
        "أريد إلغاء طلبي",
    )]);
    let r = recognize(&stt(&url, "gpt-4o-mini-transcribe"), LangHint::Ar)
        .await
        .unwrap();
    assert_eq!(r.text, "أريد إلغاء طلبي");
    assert_eq!(r.lang, Lang::Ar);
    let u = &fake.uploads()[0];
    assert_eq!(u.samples, 16_000, "the whole second, at 16 kHz");
    assert_eq!(u.auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    let field = |n: &str| {
        u.fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("model"), Some("gpt-4o-mini-transcribe"));
    assert_eq!(field("language"), Some("ar"));
    assert_eq!(field("stream"), Some("true"));
}

#[tokio::test]
async fn whisper_1_answers_json_and_the_language_is_detected_when_not_fixed() {
    let (url, fake) = serve().await;
    fake.script(vec![Mode::Json(
        "  I'd like to check my order status, please. ",
    )]);
    let r = recognize(&stt(&url, "whisper-1"), LangHint::Auto)
        .await
        .unwrap();
    assert_eq!(r.text, "I'd like to check my order status, please.");
    assert_eq!(r.lang, Lang::En);
    let u = &fake.uploads()[0];
    assert!(
        u.fields
            .iter()
            .all(|(k, _)| k != "language" && k != "stream"),
        "{:?}",
        u.fields
    );
    fake.script(vec![Mode::Json("مرحبا، عندي مشكلة في الفاتورة")]);
    let r = recognize(&stt(&url, "whisper-1"), LangHint::Auto)
        .await
        .unwrap();
    assert_eq!(r.lang, Lang::Ar);
}

#[tokio::test]
async fn a_429_and_a_500_are_retried_and_faults_fail_fast_with_their_cause() {
    let (url, fake) = serve().await;
    let s = stt(&url, "whisper-1");
    fake.script(vec![
        Mode::Status(
            429,
            Some("0.2"),
            r#"{"error":{"message":"Rate limit reached"}}"#,
        ),
        Mode::Status(
            500,
            None,
            r#"{"error":{"message":"The server had an error"}}"#,
        ),
        Mode::Json("retried fine"),
    ]);
    let r = recognize(&s, LangHint::En).await.unwrap();
    assert_eq!(r.text, "retried fine");
    let ups = fake.uploads();
    assert_eq!(ups.len(), 3);
    assert!(ups[1].at.unwrap() - ups[0].at.unwrap() >= Duration::from_millis(200));

    fake.script(vec![Mode::Malformed]);
    let e = recognize(&s, LangHint::En).await.unwrap_err();
    assert!(e.to_string().contains("malformed JSON"), "{e}");

    fake.script(vec![Mode::Slow(Duration::from_secs(5))]);
    let t = Instant::now();
    let e = recognize(&s, LangHint::En).await.unwrap_err();
    assert!(matches!(e, SttError::Timeout { .. }), "{e:?}");
    assert!(
        t.elapsed() < Duration::from_millis(2800),
        "{:?}",
        t.elapsed()
    );

    fake.script(vec![Mode::Status(
        401,
        None,
        r#"{"error":{"message":"Incorrect API key provided"}}"#,
    )]);
    let e = recognize(&s, LangHint::En).await.unwrap_err().to_string();
    assert!(e.contains("refused the API key") && !e.contains(KEY), "{e}");
}

#[tokio::test]
async fn when_the_cloud_fails_the_next_recognizer_hears_the_same_utterance_and_says_so() {
    let (url, fake) = serve().await;
    let script = SttScript::new();
    let local: Arc<dyn SpeechToText> = Arc::new(ScriptedSpeechToText::new(script.clone()));
    let cloud: Arc<dyn SpeechToText> = Arc::new(stt(&url, "gpt-4o-transcribe"));
    let chain = SttChain::new(cloud.clone(), vec![local]);

    // Up: the cloud recognizes, nothing is said about the chain.
    fake.script(vec![Mode::Events(vec!["Hello"], "Hello there")]);
    let r = recognize(&chain, LangHint::En).await.unwrap();
    assert_eq!(
        (r.text.as_str(), r.provider.as_deref()),
        ("Hello there", None)
    );
    assert!(r.failures.is_empty());

    // Down (429 for a minute): the next one hears it, within the moment.
    fake.script(vec![Mode::Status(
        429,
        Some("60"),
        r#"{"error":{"message":"You exceeded your current quota"}}"#,
    )]);
    script.announce("أين طلبي؟", Lang::Ar, 1000);
    let t = Instant::now();
    let r = recognize(&chain, LangHint::Ar).await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(r.text, "أين طلبي؟");
    assert_eq!(r.provider.as_deref(), Some("scripted"));
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.failures[0].provider, "openai-stt");
    assert!(r.failures[0].message.contains("quota"), "{:?}", r.failures);

    // The cloud is now skipped: not asked, no failure to report.
    let asked = fake.uploads().len();
    assert!(cloud.skip_reason().is_some());
    script.announce("Thanks", Lang::En, 1000);
    let r = recognize(&chain, LangHint::En).await.unwrap();
    assert_eq!(r.text, "Thanks");
    assert!(r.failures.is_empty());
    assert_eq!(fake.uploads().len(), asked, "nothing sent while skipped");
}
