//! Benchmarks behind `switchboard bench`: the engine's own latency per turn with
//! zero-latency fake providers, and how many real-time calls one machine sustains.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::audio::{Frame, FRAME_SAMPLES};
use crate::call::{
    CallCommand, CallConfig, CallIo, CallSetup, InboundFrame, OutboundFrame, Providers,
};
use crate::events::{CustomerInfo, EventKind};
use crate::hub::{CallHub, LocalHub};
use crate::lang::{Lang, LangHint};
use crate::llm::fake::FakeLanguageModel;
use crate::metrics::LatencyHistogram;
use crate::sentiment::LexiconSentiment;
use crate::stt::{ScriptedSpeechToText, SttScript};
use crate::tts::espeak::EspeakTts;
use crate::tts::fake::FakeTextToSpeech;
use crate::tts::{TextToSpeech, VoiceSpec};

pub struct OverheadReport {
    pub turns: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

pub struct LoadReport {
    pub calls: usize,
    pub seconds: f64,
    pub frames: u64,
    pub lag_p50_ms: f64,
    pub lag_p99_ms: f64,
    pub lag_max_ms: f64,
    pub turns: u64,
    pub turn_total_p50_ms: f64,
    pub turn_total_p99_ms: f64,
    pub rss_per_call_kib: f64,
    pub cpu_percent: f64,
}

pub struct BenchReport {
    pub overhead: OverheadReport,
    pub load: LoadReport,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.overhead;
        let l = &self.load;
        writeln!(
            f,
            "pipeline overhead (end of turn → first agent frame out, zero-latency fakes)"
        )?;
        writeln!(
            f,
            "  turns {}  p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            o.turns, o.p50_ms, o.p99_ms, o.max_ms
        )?;
        writeln!(
            f,
            "concurrent calls (20 ms frames paced in real time, VAD + end of turn + replies)"
        )?;
        writeln!(
            f,
            "  calls {}  duration {:.1} s  frames {}",
            l.calls, l.seconds, l.frames
        )?;
        writeln!(
            f,
            "  frame lag  p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms",
            l.lag_p50_ms, l.lag_p99_ms, l.lag_max_ms
        )?;
        writeln!(
            f,
            "  turns {}  end of turn → first frame p50 {:.3} ms  p99 {:.3} ms (fake LLM 200 ms + 15 ms/token, fake TTS 40 ms)",
            l.turns, l.turn_total_p50_ms, l.turn_total_p99_ms
        )?;
        writeln!(
            f,
            "  memory per call {:.0} KiB  cpu {:.0} % of one core",
            l.rss_per_call_kib, l.cpu_percent
        )?;
        write!(
            f,
            "{}",
            serde_json::json!({
                "overhead_p50_ms": o.p50_ms, "overhead_p99_ms": o.p99_ms,
                "calls": l.calls, "frame_lag_p50_ms": l.lag_p50_ms, "frame_lag_p99_ms": l.lag_p99_ms,
                "frame_lag_max_ms": l.lag_max_ms, "rss_per_call_kib": l.rss_per_call_kib, "cpu_percent": l.cpu_percent,
                "load_turns": l.turns, "load_turn_total_p99_ms": l.turn_total_p99_ms,
            })
        )
    }
}

pub async fn run_all(
    calls: usize,
    duration: Duration,
    turns: usize,
) -> Result<BenchReport, String> {
    let overhead = pipeline_overhead(turns).await?;
    let load = concurrent_calls(calls, duration).await?;
    Ok(BenchReport { overhead, load })
}

fn fake_providers(llm: FakeLanguageModel, tts: FakeTextToSpeech) -> Providers {
    Providers {
        stt: None,
        llm: Some(Arc::new(llm)),
        tts: vec![Arc::new(tts)],
        sentiment: Arc::new(LexiconSentiment::new()),
        end_of_turn: None,
    }
}

/// Text turns into one call with zero-latency fakes: what the engine itself adds
/// between the end of a turn and the first frame of the answer.
pub async fn pipeline_overhead(turns: usize) -> Result<OverheadReport, String> {
    let hub = LocalHub::new(1 << 16);
    let mut events = hub.subscribe();
    let (_cust_tx, cust_rx) = mpsc::channel::<InboundFrame>(4);
    let (agent_tx, mut agent_rx) = mpsc::channel::<OutboundFrame>(1024);
    tokio::spawn(async move { while agent_rx.recv().await.is_some() {} });
    let providers = fake_providers(FakeLanguageModel::new("Sure."), FakeTextToSpeech::new());
    let config = CallConfig {
        lang: LangHint::En,
        greet: false,
        frame_period: Duration::from_millis(1),
        ..Default::default()
    };
    let handle = hub.start_call(CallSetup {
        call_id: "bench-overhead".into(),
        customer: CustomerInfo::default(),
        customer_context: None,
        record: None,
        config,
        providers,
        io: CallIo {
            customer_audio: cust_rx,
            supervisor_audio: None,
            agent_audio: agent_tx,
            transport: "memory".into(),
            room: None,
        },
    });
    let hist = LatencyHistogram::new();
    let lines = [
        "I want to check the status of my order",
        "بدي أعرف وين صار الطلب تبعي",
        "How much is the premium plan",
        "الفاتورة هاد الشهر أعلى من العادة",
    ];
    for i in 0..turns {
        let text = lines[i % lines.len()].to_string();
        handle
            .send(CallCommand::CustomerText { text, lang: None })
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match events.recv().await {
                Ok(ev) => {
                    if let EventKind::TurnMetrics(m) = ev.kind {
                        if let Some(t) = m.total_ms {
                            hist.record(Duration::from_secs_f64(t / 1000.0));
                        }
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => return Err(e.to_string()),
            }
        }
        let _ = handle.wait_for(Duration::from_secs(5), |s| !s.busy).await;
    }
    let _ = handle.send(CallCommand::Hangup).await;
    Ok(OverheadReport {
        turns: hist.count(),
        p50_ms: hist.quantile_ms(0.5),
        p99_ms: hist.quantile_ms(0.99),
        max_ms: hist.max_ms(),
    })
}

async fn customer_speech() -> Result<Vec<i16>, String> {
    let espeak = EspeakTts::new();
    if !espeak.available() {
        return Err(
            "the load benchmark needs espeak-ng for customer speech (run scripts/setup.sh)".into(),
        );
    }
    let voice = VoiceSpec {
        lang: Lang::En,
        voice: "en-gb".into(),
        rate_wpm: 165,
        pitch: 60,
        persona: None,
    };
    let mut s = espeak.synthesize("Hello, I want to check my order please.", &voice);
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend(chunk.map_err(|e| e.to_string())?);
    }
    Ok(out)
}

fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// `calls` calls at once, each with a customer who speaks a sentence every ~8 s
/// (real speech through VAD and end of turn) and an agent that answers through fake
/// LLM/TTS with realistic latency. One pacer feeds every call a frame each 20 ms,
/// as a media server would.
pub async fn concurrent_calls(calls: usize, duration: Duration) -> Result<LoadReport, String> {
    let speech = Arc::new(customer_speech().await?);
    let speech_frames = speech.len().div_ceil(FRAME_SAMPLES);
    let cycle_frames = 400usize; // 8 s
    let hub = LocalHub::new(1 << 16);
    let mut events = hub.subscribe();
    let turn_hist = Arc::new(LatencyHistogram::new());
    let th = turn_hist.clone();
    let collector = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ev) => {
                    if let EventKind::TurnMetrics(m) = ev.kind {
                        if let Some(t) = m.total_ms {
                            th.record(Duration::from_secs_f64(t / 1000.0));
                        }
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            }
        }
    });
    let lag = Arc::new(LatencyHistogram::new());
    let (agent_tx, mut agent_rx) = mpsc::channel::<OutboundFrame>(1 << 16);
    tokio::spawn(async move { while agent_rx.recv().await.is_some() {} });
    let rss_before = rss_kib().unwrap_or(0);
    let mut lines = Vec::with_capacity(calls);
    for i in 0..calls {
        let (tx, rx) = mpsc::channel::<InboundFrame>(16);
        let script = SttScript::new();
        let mut providers = fake_providers(
            FakeLanguageModel::new("Sure, let me check that for you. It is on its way.")
                .with_first_token_latency(Duration::from_millis(200))
                .with_token_latency(Duration::from_millis(15)),
            FakeTextToSpeech::new().with_first_audio_latency(Duration::from_millis(40)),
        );
        providers.stt = Some(Arc::new(ScriptedSpeechToText::new(script.clone())));
        let config = CallConfig {
            lang: LangHint::En,
            greet: false,
            frame_lag: Some(lag.clone()),
            ..Default::default()
        };
        let handle = hub.start_call(CallSetup {
            call_id: format!("bench-{i}"),
            customer: CustomerInfo::default(),
            customer_context: None,
            record: None,
            config,
            providers,
            io: CallIo {
                customer_audio: rx,
                supervisor_audio: None,
                agent_audio: agent_tx.clone(),
                transport: "memory".into(),
                room: None,
            },
        });
        // Stagger the customers so turns spread over the cycle.
        let offset = (i * 7919) % cycle_frames;
        lines.push((tx, script, offset, handle));
    }
    drop(agent_tx);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_kib().unwrap_or(0);
    let cpu0 = cpu_seconds().unwrap_or(0.0);
    let started = Instant::now();
    let period = Duration::from_millis(20);
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut due = tokio::time::Instant::now();
    let mut tick: usize = 0;
    let mut frames: u64 = 0;
    let total_ticks = (duration.as_millis() / 20) as usize;
    while tick < total_ticks {
        interval.tick().await;
        let now_due = due.into_std();
        for (tx, script, offset, _) in &lines {
            let pos = (tick + offset) % cycle_frames;
            let frame = if pos < speech_frames {
                if pos == 0 {
                    script.announce(
                        "Hello, I want to check my order please.",
                        Lang::En,
                        (speech_frames * 20) as u32,
                    );
                }
                let start = pos * FRAME_SAMPLES;
                let end = (start + FRAME_SAMPLES).min(speech.len());
                Frame::from_slice(&speech[start..end])
            } else {
                Frame::SILENCE
            };
            if tx
                .try_send(InboundFrame {
                    frame,
                    due: now_due,
                })
                .is_ok()
            {
                frames += 1;
            }
        }
        tick += 1;
        due += period;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds().unwrap_or(0.0) - cpu0;
    for (_, _, _, h) in &lines {
        let _ = h.send(CallCommand::Hangup).await;
    }
    drop(lines);
    tokio::time::sleep(Duration::from_millis(200)).await;
    collector.abort();
    let _ = hub.calls();
    Ok(LoadReport {
        calls,
        seconds: elapsed,
        frames,
        lag_p50_ms: lag.quantile_ms(0.5),
        lag_p99_ms: lag.quantile_ms(0.99),
        lag_max_ms: lag.max_ms(),
        turns: turn_hist.count(),
        turn_total_p50_ms: turn_hist.quantile_ms(0.5),
        turn_total_p99_ms: turn_hist.quantile_ms(0.99),
        rss_per_call_kib: rss_after.saturating_sub(rss_before) as f64 / calls.max(1) as f64,
        cpu_percent: if elapsed > 0.0 {
            cpu / elapsed * 100.0
        } else {
            0.0
        },
    })
}
