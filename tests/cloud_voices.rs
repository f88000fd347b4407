//! Cloud voices (OpenAI speech, ElevenLabs) against local fakes of their APIs,
//! because api.openai.com and api.elevenlabs.io are unreachable here. The fakes
//! speak each API's documented wire format — the JSON request, the key header,
//! raw 16-bit PCM streamed chunked (24 kHz from OpenAI, `pcm_16000` from
//! ElevenLabs), JSON error bodies, `Retry-After` — and inject the faults a
//! call center meets: a slow first byte, a stream cut off mid-sentence, 429,
//! 500, a 200 that is not audio, a refused key. Every fault must leave the call
//! speaking: the next voice answers within 2 s of the fault.

mod common;

use common::serve_local;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::mpsc;

use switchboard::call::{CallCommand, CallConfig, CallIo, CallSetup, OutboundFrame, Providers};
use switchboard::events::{CustomerInfo, EventKind, Speaker};
use switchboard::hub::{CallHub, LocalHub};
use switchboard::lang::{Lang, LangHint};
use switchboard::routing::PersonaId;
use switchboard::sentiment::LexiconSentiment;
use switchboard::tts::cloud::{CloudTts, CloudTtsConfig, CloudVoice};
use switchboard::tts::espeak::EspeakTts;
use switchboard::tts::{TextToSpeech, TtsError, VoiceSpec};

const KEY: &str = "sk-test-not-a-real-key-0123456789";
const TONE_HZ: f32 = 440.0;
const TONE_S: f32 = 0.6;

#[derive(Debug, Clone)]
enum Mode {
    Ok,
    /// Headers at once, the first audio after this long.
    SlowFirstByte(Duration),
    /// This many bytes of audio, then the connection drops.
    CutAfter(usize),
    Status {
        code: u16,
        retry_after: Option<&'static str>,
        ctype: &'static str,
        body: &'static str,
    },
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: String,
    auth: Option<String>,
    xi_key: Option<String>,
    body: serde_json::Value,
    at: Instant,
}

#[derive(Default)]
struct Fake {
    modes: Mutex<VecDeque<Mode>>,
    /// When nothing is scripted.
    default: Mutex<Option<Mode>>,
    seen: Mutex<Vec<Seen>>,
    /// When the last fault began (the request of a slow one, the cut of a cut one).
    fault_at: Mutex<Option<Instant>>,
}

impl Fake {
    fn script(&self, modes: &[Mode]) {
        *self.modes.lock().unwrap() = modes.iter().cloned().collect();
    }
    fn always(&self, mode: Mode) {
        *self.default.lock().unwrap() = Some(mode);
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn fault_at(&self) -> Option<Instant> {
        *self.fault_at.lock().unwrap()
    }
}

fn tone(rate: u32) -> Vec<u8> {
    let n = (rate as f32 * TONE_S) as usize;
    (0..n)
        .flat_map(|i| {
            let s = ((i as f32 * 2.0 * std::f32::consts::PI * TONE_HZ / rate as f32).sin()
                * 12_000.0) as i16;
            s.to_le_bytes()
        })
        .collect()
}

async fn handle(State(fake): State<Arc<Fake>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let path = parts.uri.path().to_string();
    let now = Instant::now();
    fake.seen.lock().unwrap().push(Seen {
        path: path.clone(),
        query: parts.uri.query().unwrap_or("").to_string(),
        auth: header("authorization"),
        xi_key: header("xi-api-key"),
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        at: now,
    });
    let rate = if path.starts_with("/v1/audio/speech") {
        24_000
    } else if path.starts_with("/v1/text-to-speech/") && path.ends_with("/stream") {
        16_000
    } else {
        return (StatusCode::NOT_FOUND, "no such route").into_response();
    };
    let mode = fake
        .modes
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| fake.default.lock().unwrap().clone())
        .unwrap_or(Mode::Ok);
    let audio = tone(rate);
    // Odd-sized chunks: samples split across chunks must rejoin.
    let chunks: Vec<Bytes> = audio.chunks(4801).map(Bytes::copy_from_slice).collect();
    let pcm = |stream: Body| {
        Response::builder()
            .status(200)
            .header("content-type", "application/octet-stream")
            .body(stream)
            .unwrap()
    };
    match mode {
        Mode::Ok => pcm(Body::from_stream(
            futures::stream::iter(chunks)
                .then(|c| async move {
                    tokio::time::sleep(Duration::from_millis(15)).await;
                    Ok::<_, std::io::Error>(c)
                })
                .boxed(),
        )),
        Mode::SlowFirstByte(d) => {
            *fake.fault_at.lock().unwrap() = Some(now);
            pcm(Body::from_stream(
                futures::stream::iter(chunks)
                    .then(move |c| async move {
                        tokio::time::sleep(d).await;
                        Ok::<_, std::io::Error>(c)
                    })
                    .boxed(),
            ))
        }
        Mode::CutAfter(n) => {
            let head = Bytes::copy_from_slice(&audio[..n.min(audio.len())]);
            let fake = fake.clone();
            pcm(Body::from_stream(
                futures::stream::iter([Ok(head), Err(())])
                    .then(move |item| {
                        let fake = fake.clone();
                        async move {
                            tokio::time::sleep(Duration::from_millis(40)).await;
                            item.map_err(|()| {
                                *fake.fault_at.lock().unwrap() = Some(Instant::now());
                                std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut")
                            })
                        }
                    })
                    .boxed(),
            ))
        }
        Mode::Status {
            code,
            retry_after,
            ctype,
            body,
        } => {
            *fake.fault_at.lock().unwrap() = Some(now);
            let mut r = Response::builder()
                .status(code)
                .header("content-type", ctype);
            if let Some(ra) = retry_after {
                r = r.header("retry-after", ra);
            }
            r.body(Body::from(body)).unwrap()
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

fn voice(kind: CloudVoice, url: &str) -> CloudTts {
    let mut cfg = CloudTtsConfig::new(kind, Some(KEY.into()));
    cfg.base_url = url.into();
    CloudTts::new(cfg).unwrap()
}

fn spec(persona: Option<PersonaId>, lang: Lang) -> VoiceSpec {
    VoiceSpec {
        lang,
        voice: "x".into(),
        rate_wpm: 160,
        pitch: 50,
        persona,
    }
}

/// All the audio, or the error after whatever audio came first.
async fn synth(tts: &CloudTts, text: &str, v: &VoiceSpec) -> (Vec<i16>, Option<TtsError>) {
    let mut s = tts.synthesize(text, v);
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(chunk) => out.extend(chunk),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

fn frequency(samples: &[i16]) -> f32 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f32 / 2.0 / (samples.len() as f32 / 16_000.0)
}

#[tokio::test]
async fn openai_speech_streams_pcm_at_24khz_that_reaches_the_call_at_16khz_in_pitch() {
    let (url, fake) = serve().await;
    let tts = voice(CloudVoice::OpenAi, &url);
    let (audio, err) = synth(
        &tts,
        "Your order 5512 ships tomorrow.",
        &spec(Some(PersonaId::Sales), Lang::En),
    )
    .await;
    assert!(err.is_none(), "{err:?}");
    let secs = audio.len() as f32 / 16_000.0;
    assert!((secs - TONE_S).abs() < 0.03, "{secs} s of audio");
    let f = frequency(&audio[800..audio.len() - 800]);
    assert!((f - TONE_HZ).abs() < 10.0, "{f} Hz");
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert_eq!(s.path, "/v1/audio/speech");
    assert_eq!(s.auth.as_deref(), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(s.body["model"], "gpt-4o-mini-tts");
    assert_eq!(s.body["input"], "Your order 5512 ships tomorrow.");
    assert_eq!(s.body["voice"], "coral", "Sarah's voice");
    assert_eq!(s.body["response_format"], "pcm");
}

#[tokio::test]
async fn elevenlabs_streams_arabic_with_the_personas_voice_and_every_sample_intact() {
    let (url, fake) = serve().await;
    let tts = voice(CloudVoice::ElevenLabs, &url);
    let text = "طلبك رقم ٥٥١٢ سيصل غداً إن شاء الله.";
    let (audio, err) = synth(&tts, text, &spec(Some(PersonaId::Support), Lang::Ar)).await;
    assert!(err.is_none(), "{err:?}");
    let sent: Vec<i16> = tone(16_000)
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    // 16 kHz goes through untouched; the tail is padded to a whole frame.
    assert_eq!(&audio[..sent.len()], &sent[..]);
    assert!(audio[sent.len()..].iter().all(|&s| s == 0));
    let s = &fake.seen()[0];
    assert_eq!(s.path, "/v1/text-to-speech/ErXwobaYiN019PkySvjV/stream");
    assert_eq!(s.query, "output_format=pcm_16000");
    assert_eq!(s.xi_key.as_deref(), Some(KEY));
    assert!(s.auth.is_none(), "the key goes in xi-api-key only");
    assert_eq!(s.body["text"], text);
    assert_eq!(s.body["model_id"], "eleven_flash_v2_5");
    assert_eq!(s.body["language_code"], "ar");
}

#[tokio::test]
async fn a_429_with_a_short_retry_after_and_a_500_are_retried_before_any_audio_is_used() {
    let (url, fake) = serve().await;
    let tts = voice(CloudVoice::OpenAi, &url);
    fake.script(&[
        Mode::Status {
            code: 429,
            retry_after: Some("0.3"),
            ctype: "application/json",
            body: r#"{"error":{"message":"Rate limit reached for requests","type":"requests"}}"#,
        },
        Mode::Status {
            code: 500,
            retry_after: None,
            ctype: "application/json",
            body: r#"{"error":{"message":"The server had an error"}}"#,
        },
        Mode::Ok,
    ]);
    let (audio, err) = synth(&tts, "One moment please.", &spec(None, Lang::En)).await;
    assert!(err.is_none(), "{err:?}");
    assert!(audio.len() > 8_000);
    let seen = fake.seen();
    assert_eq!(seen.len(), 3, "two retries");
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_millis(300),
        "Retry-After obeyed: {waited:?}"
    );
    assert!(tts.skip_reason().is_none(), "a success closes the circuit");
}

#[tokio::test]
async fn faults_fail_fast_with_their_cause_and_are_never_retried_once_audio_was_used() {
    let (url, fake) = serve().await;
    let tts = voice(CloudVoice::ElevenLabs, &url);
    let v = spec(Some(PersonaId::Reception), Lang::Ar);

    // Slow first byte: given up at the first-audio budget (1.2 s).
    fake.script(&[Mode::SlowFirstByte(Duration::from_secs(5))]);
    let t = Instant::now();
    let (audio, err) = synth(&tts, "مرحبا", &v).await;
    let took = t.elapsed();
    assert!(audio.is_empty());
    assert!(matches!(err, Some(TtsError::Timeout { .. })), "{err:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");

    // Cut off mid-sentence: the audio so far, then the cause; one request only.
    let before = fake.seen().len();
    fake.script(&[Mode::CutAfter(9_601)]);
    let (audio, err) = synth(&tts, "مرحبا", &v).await;
    assert!(!audio.is_empty() && audio.len() < 8_000, "{}", audio.len());
    let e = err.expect("cut off");
    assert!(e.to_string().contains("cut the audio off"), "{e}");
    assert_eq!(
        fake.seen().len(),
        before + 1,
        "never repeated after audio was used"
    );

    // A refused key: no retry, and the key is not in the message.
    let before = fake.seen().len();
    fake.script(&[Mode::Status {
        code: 401,
        retry_after: None,
        ctype: "application/json",
        body: r#"{"detail":{"status":"invalid_api_key","message":"Invalid API key"}}"#,
    }]);
    let (_, err) = synth(&tts, "مرحبا", &v).await;
    let e = err.unwrap().to_string();
    assert!(
        e.contains("refused the API key") && e.contains("Invalid API key"),
        "{e}"
    );
    assert!(!e.contains(KEY));
    assert_eq!(fake.seen().len(), before + 1);
}

#[tokio::test]
async fn a_200_that_is_not_audio_is_an_error_and_a_long_retry_after_opens_the_circuit() {
    let (url, fake) = serve().await;
    let tts = voice(CloudVoice::OpenAi, &url);
    let v = spec(None, Lang::En);
    fake.script(&[Mode::Status {
        code: 200,
        retry_after: None,
        ctype: "text/html; charset=utf-8",
        body: "<html><body>Captive portal: please log in</body></html>",
    }]);
    let (audio, err) = synth(&tts, "Hello", &v).await;
    assert!(audio.is_empty());
    let e = err.unwrap().to_string();
    assert!(
        e.contains("instead of audio") && e.contains("Captive portal"),
        "{e}"
    );
    assert!(!e.contains('<'), "{e}");

    // 429 asking for a minute: no waiting a minute inside a call — the voice is
    // skipped at once from now on, and asked nothing.
    fake.script(&[Mode::Status {
        code: 429,
        retry_after: Some("60"),
        ctype: "application/json",
        body: r#"{"error":{"message":"You exceeded your current quota"}}"#,
    }]);
    let t = Instant::now();
    let (_, err) = synth(&tts, "Hello", &v).await;
    assert!(t.elapsed() < Duration::from_millis(500));
    let e = err.unwrap().to_string();
    assert!(
        e.contains("rate limiting") && e.contains("skipped for the next 60 s"),
        "{e}"
    );
    assert!(tts.skip_reason().is_some());
    let asked = fake.seen().len();
    let (_, err) = synth(&tts, "Hello again", &v).await;
    assert!(matches!(err, Some(TtsError::Unavailable(_))), "{err:?}");
    assert_eq!(fake.seen().len(), asked, "an open circuit sends nothing");
}

#[tokio::test]
async fn no_key_is_a_clear_error_and_nothing_is_sent() {
    let (url, fake) = serve().await;
    let mut cfg = CloudTtsConfig::new(CloudVoice::ElevenLabs, None);
    cfg.base_url = url;
    let tts = CloudTts::new(cfg).unwrap();
    let (_, err) = synth(&tts, "Hello", &spec(None, Lang::En)).await;
    let e = err.unwrap();
    assert_eq!(e.code(), "tts_unavailable");
    assert!(e.to_string().contains("no API key"), "{e}");
    assert!(fake.seen().is_empty());
}

/// espeak-ng, noting when it first produced audio: the next voice taking over.
struct Fallback {
    espeak: EspeakTts,
    first_audio: Arc<Mutex<Option<Instant>>>,
}

impl TextToSpeech for Fallback {
    fn name(&self) -> &str {
        self.espeak.name()
    }
    fn synthesize(&self, text: &str, voice: &VoiceSpec) -> switchboard::tts::AudioStream {
        let first = self.first_audio.clone();
        Box::pin(self.espeak.synthesize(text, voice).inspect(move |item| {
            if matches!(item, Ok(a) if !a.is_empty()) {
                first.lock().unwrap().get_or_insert_with(Instant::now);
            }
        }))
    }
}

/// A call whose first voice is the cloud one, faulting as `mode`: the next
/// voice takes over, and the customer hears it within 2 s of the fault.
/// Returns that time, the voice the turn's metrics name and the call's errors.
async fn call_survives(
    kind: CloudVoice,
    mode: Mode,
    lang: Lang,
) -> (Duration, String, Vec<(String, Option<String>)>) {
    let (url, fake) = serve().await;
    fake.always(mode);
    let cloud: Arc<dyn TextToSpeech> = Arc::new(voice(kind, &url));
    let first_audio = Arc::new(Mutex::new(None));
    let fallback = Arc::new(Fallback {
        espeak: EspeakTts::default(),
        first_audio: first_audio.clone(),
    });
    let hub = LocalHub::new(1024);
    let mut events = hub.subscribe();
    let (line, customer_audio) = mpsc::channel(8);
    let (agent_tx, mut agent_rx) = mpsc::channel::<OutboundFrame>(4096);
    let call = hub.start_call(CallSetup {
        call_id: format!("cloud-fault-{}", kind.name()),
        customer: CustomerInfo::default(),
        customer_context: None,
        record: None,
        config: CallConfig {
            greet: false,
            lang: match lang {
                Lang::Ar => LangHint::Ar,
                Lang::En => LangHint::En,
            },
            ..Default::default()
        },
        providers: Providers {
            stt: None,
            llm: None,
            tts: vec![cloud, fallback],
            sentiment: Arc::new(LexiconSentiment::new()),
            end_of_turn: None,
        },
        io: CallIo {
            customer_audio,
            supervisor_audio: None,
            agent_audio: agent_tx,
            transport: "memory".into(),
            room: None,
        },
    });
    let said = match lang {
        Lang::Ar => "مرحبا، أريد معرفة حالة طلبي",
        Lang::En => "Hi, I want to check the status of my order",
    };
    call.send(CallCommand::CustomerText {
        text: said.into(),
        lang: Some(lang),
    })
    .await
    .unwrap();
    // The first loud agent frame once the next voice has spoken.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut heard = None;
    while heard.is_none() {
        let f = tokio::time::timeout_at(deadline, agent_rx.recv())
            .await
            .expect("the agent never spoke")
            .expect("the call's audio closed");
        let loud = f.frame.samples.iter().any(|s| s.unsigned_abs() > 1_000);
        let took_over = first_audio.lock().unwrap().is_some();
        if loud && f.speaker == Speaker::Agent && took_over {
            heard = Some(Instant::now());
        }
    }
    let fault = fake.fault_at().expect("the fault happened");
    // What the turn's events say: the voice that spoke, the errors and fallbacks.
    let mut provider = String::new();
    let mut errors = Vec::new();
    let mut metrics = false;
    while !metrics || errors.is_empty() {
        let Ok(Ok(ev)) = tokio::time::timeout_at(deadline, events.recv()).await else {
            break;
        };
        match ev.kind {
            EventKind::Error { code, fallback, .. } => errors.push((code, fallback)),
            EventKind::TurnMetrics(m) => {
                provider = m.tts_provider.unwrap_or_default();
                metrics = true;
            }
            _ => {}
        }
    }
    drop(line);
    call.ended().await;
    (
        heard.unwrap().saturating_duration_since(fault),
        provider,
        errors,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_keeps_speaking_within_2_s_of_every_cloud_voice_fault() {
    let faults = [
        (
            "slow first byte",
            CloudVoice::OpenAi,
            Mode::SlowFirstByte(Duration::from_secs(6)),
            Lang::En,
        ),
        (
            "500",
            CloudVoice::OpenAi,
            Mode::Status {
                code: 500,
                retry_after: None,
                ctype: "application/json",
                body: r#"{"error":{"message":"The server had an error while processing your request"}}"#,
            },
            Lang::En,
        ),
        (
            "429 for a minute",
            CloudVoice::ElevenLabs,
            Mode::Status {
                code: 429,
                retry_after: Some("60"),
                ctype: "application/json",
                body: r#"{"detail":{"status":"too_many_concurrent_requests","message":"Too many concurrent requests"}}"#,
            },
            Lang::Ar,
        ),
        (
            "malformed JSON instead of audio",
            CloudVoice::ElevenLabs,
            Mode::Status {
                code: 200,
                retry_after: None,
                ctype: "application/json",
                body: r#"{"detail": {"status": "#,
            },
            Lang::Ar,
        ),
        (
            "cut off mid-sentence",
            CloudVoice::OpenAi,
            Mode::CutAfter(24_000),
            Lang::En,
        ),
    ];
    for (what, kind, mode, lang) in faults {
        let (after, provider, errors) = call_survives(kind, mode, lang).await;
        eprintln!(
            "{what}: the next voice is heard {} ms after the fault (first voice: {provider})",
            after.as_millis()
        );
        assert!(after < Duration::from_secs(2), "{what}: {after:?}");
        // The event says what failed and who took over.
        assert!(
            errors
                .iter()
                .any(|(code, fb)| code.starts_with("tts_") && fb.as_deref() == Some("espeak-ng")),
            "{what}: {errors:?}"
        );
        if what == "cut off mid-sentence" {
            assert_eq!(provider, kind.name(), "the cloud voice began");
        } else {
            assert_eq!(provider, "espeak-ng", "{what}: the next voice answered");
        }
    }
}
