//! Shared helpers for the engine's integration tests: run a scenario on a real hub
//! and collect its events.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use switchboard::call::{CallConfig, Providers};
use switchboard::events::{CallEvent, EventKind, Speaker};
use switchboard::hub::{CallHub, LocalHub};
use switchboard::llm::LanguageModel;
use switchboard::scenario::Scenario;
use switchboard::sentiment::LexiconSentiment;
use switchboard::transport::{run_scenario, SimOptions, SimReport, SttMode};
use switchboard::tts::espeak::EspeakTts;
use switchboard::tts::fake::FakeTextToSpeech;
use switchboard::tts::TextToSpeech;

/// Serves `app` over real HTTP on a free port of 127.0.0.1 for the rest of
/// the test: the local stand-ins for services unreachable here. Its base URL.
pub async fn serve_local(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

pub fn providers(llm: Option<Arc<dyn LanguageModel>>, tts: Arc<dyn TextToSpeech>) -> Providers {
    Providers {
        stt: None,
        llm,
        tts: vec![tts],
        sentiment: Arc::new(LexiconSentiment::new()),
        end_of_turn: None,
    }
}

/// Fast fake voice: 10 ms per character keeps calls short while still taking time
/// to play, so barge-in has something to cut.
pub fn fast_fake_tts() -> Arc<dyn TextToSpeech> {
    Arc::new(FakeTextToSpeech::new().with_timing(10, 100))
}

pub fn espeak() -> Arc<dyn TextToSpeech> {
    Arc::new(EspeakTts::default())
}

pub struct Run {
    pub events: Vec<CallEvent>,
    pub report: SimReport,
}

pub async fn run(json: &str, providers: Providers, stt: SttMode, speed: f64) -> Run {
    run_with(json, providers, CallConfig::default(), stt, speed, None).await
}

pub async fn run_with(
    json: &str,
    providers: Providers,
    config: CallConfig,
    stt: SttMode,
    speed: f64,
    out_dir: Option<&Path>,
) -> Run {
    let scenario = Scenario::parse(json, Path::new(".")).expect("scenario");
    let hub = LocalHub::new(1 << 14);
    let mut rx = hub.subscribe();
    let opts = SimOptions {
        stt,
        speed,
        out_dir: out_dir.map(Path::to_path_buf),
        customer_tts: Some(espeak()),
        turn_timeout: Duration::from_secs(20),
        ..Default::default()
    };
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        run_scenario(&hub, &scenario, providers, config, opts),
    )
    .await
    .expect("scenario finished in time")
    .expect("scenario ran");
    let mut events = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        let end = matches!(ev.kind, EventKind::CallEnded { .. });
        events.push(ev);
        if end {
            break;
        }
    }
    Run { events, report }
}

impl Run {
    pub fn kinds(&self) -> impl Iterator<Item = &EventKind> {
        self.events.iter().map(|e| &e.kind)
    }

    pub fn final_lines(&self, who: Speaker) -> Vec<(u32, String, bool)> {
        self.kinds()
            .filter_map(|k| match k {
                EventKind::Transcript {
                    speaker,
                    text,
                    is_final: true,
                    turn,
                    interrupted,
                    ..
                } if *speaker == who => Some((*turn, text.clone(), *interrupted)),
                _ => None,
            })
            .collect()
    }

    pub fn replies(&self) -> Vec<(u32, String, String, bool)> {
        self.kinds()
            .filter_map(|k| match k {
                EventKind::AgentReply {
                    turn,
                    text,
                    provider,
                    fallback,
                    ..
                } => Some((*turn, text.clone(), provider.clone(), *fallback)),
                _ => None,
            })
            .collect()
    }

    pub fn persona_changes(&self) -> Vec<(String, String, String, u32)> {
        self.kinds()
            .filter_map(|k| match k {
                EventKind::PersonaChanged {
                    from,
                    to,
                    reason,
                    turn,
                    ..
                } => Some((
                    from.as_str().to_string(),
                    to.as_str().to_string(),
                    serde_json::to_value(reason)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_string(),
                    *turn,
                )),
                _ => None,
            })
            .collect()
    }

    pub fn errors(&self) -> Vec<(String, Option<String>)> {
        self.kinds()
            .filter_map(|k| match k {
                EventKind::Error { code, fallback, .. } => Some((code.clone(), fallback.clone())),
                _ => None,
            })
            .collect()
    }

    pub fn ended(&self) -> &EventKind {
        let last = &self.events.last().expect("events").kind;
        assert!(
            matches!(last, EventKind::CallEnded { .. }),
            "last event is call_ended: {last:?}"
        );
        last
    }

    pub fn dump(&self) -> String {
        self.events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub fn has_arabic(s: &str) -> bool {
    s.chars().any(switchboard::lang::is_arabic_letter)
}
