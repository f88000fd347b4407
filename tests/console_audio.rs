//! The sound card in the supervisor's console, with real audio through a
//! PulseAudio null sink (scripts/pulse.sh): what is played to the sink comes
//! back from its monitor, the default input.
//!
//! - a takeover puts the supervisor's microphone on the line, and only then;
//! - listening in plays the customer and the agent on the speakers (rodio);
//! - on speakers, the echo guard keeps the agent's own voice from cutting the
//!   agent off, while a customer who talks over it still gets through.
//!
//! `SWITCHBOARD_REQUIRE_AUDIO=1` (scripts/test.sh) makes a missing sound server
//! a failure; otherwise these tests print SKIPPED.

mod sound;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sound::{audio_available, power_at, rms, tone, SOUND};
use switchboard::audio::{read_wav, write_wav, Frame, FRAME_SAMPLES};
use switchboard::call::{
    CallCommand, CallConfig, CallIo, CallSetup, InboundFrame, OutboundFrame, Providers,
    SupervisorCommand,
};
use switchboard::events::{CallEvent, CustomerInfo, EventKind, Speaker};
use switchboard::hub::{CallHub, LocalHub};
use switchboard::lang::{Lang, LangHint};
use switchboard::sentiment::LexiconSentiment;
use switchboard::stt::{ScriptedSpeechToText, SttScript};
use switchboard::transport::{
    AudioDesk, EchoGuardConfig, LocalCall, LocalDevices, LocalOptions, Microphone,
};
use switchboard::tts::espeak::EspeakTts;
use switchboard::tts::fake::FakeTextToSpeech;
use switchboard::tts::TextToSpeech;
use tokio::sync::{broadcast, mpsc};

/// Share of the signal's power at `hz`, from 40 ms blocks (so gaps and phase
/// jumps between blocks do not matter).
fn tone_share(x: &[i16], hz: f64) -> f64 {
    let blocks: Vec<&[i16]> = x.chunks_exact(640).collect();
    let total: f64 = x.iter().map(|&v| f64::from(v).powi(2)).sum();
    let tone: f64 = blocks.iter().map(|b| power_at(b, hz)).sum();
    // A pure tone of N samples has Goertzel power N²A²/4 and energy N·A²/2.
    2.0 * tone / (640.0 * total.max(1.0))
}

fn memory_call(
    hub: &LocalHub,
    id: &str,
    tts: Arc<dyn TextToSpeech>,
    greet: bool,
) -> (
    switchboard::call::CallHandle,
    mpsc::Sender<InboundFrame>,
    mpsc::Receiver<OutboundFrame>,
) {
    let (cust_tx, cust_rx) = mpsc::channel::<InboundFrame>(64);
    let (agent_tx, agent_rx) = mpsc::channel::<OutboundFrame>(64);
    let handle = hub.start_call(CallSetup {
        call_id: id.into(),
        customer: CustomerInfo::default(),
        customer_context: None,
        record: None,
        config: CallConfig {
            lang: LangHint::En,
            greet,
            ..Default::default()
        },
        providers: Providers {
            stt: None,
            llm: None,
            tts: vec![tts],
            sentiment: Arc::new(LexiconSentiment::new()),
            end_of_turn: None,
        },
        io: CallIo {
            customer_audio: cust_rx,
            supervisor_audio: None,
            agent_audio: agent_tx,
            transport: "memory".into(),
            room: None,
        },
    });
    (handle, cust_tx, agent_rx)
}

/// Feeds the customer line in real time: `signal`, then silence, until dropped.
fn feed_customer(
    tx: mpsc::Sender<InboundFrame>,
    signal: Vec<Frame>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(20));
        let mut i = 0usize;
        loop {
            interval.tick().await;
            let frame = signal.get(i).copied().unwrap_or(Frame::SILENCE);
            i += 1;
            if tx
                .send(InboundFrame {
                    frame,
                    due: Instant::now(),
                })
                .await
                .is_err()
            {
                return;
            }
        }
    })
}

/// Plays a WAV into the null sink with PulseAudio's own client (not our code).
fn paplay(path: &Path) -> std::process::Child {
    Command::new("paplay")
        .arg("--device=vsink")
        .arg(path)
        .spawn()
        .expect("paplay (pulseaudio-utils) runs")
}

fn temp_wav(name: &str, samples: &[i16]) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("switchboard-console-audio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    write_wav(&path, samples).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_microphone_reaches_the_customer_only_during_a_takeover() {
    if !audio_available("supervisor_microphone_reaches_the_customer_only_during_a_takeover") {
        return;
    }
    let _g = SOUND.lock().await;
    let hub = LocalHub::new(1024);
    let (call, cust_tx, mut agent_rx) = memory_call(
        &hub,
        "takeover-mic",
        Arc::new(FakeTextToSpeech::new()),
        false,
    );
    let feeder = feed_customer(cust_tx, Vec::new());
    let desk = AudioDesk::new();
    let device = desk
        .attach_microphone(&hub, "takeover-mic", None)
        .await
        .expect("open the supervisor's microphone");
    assert!(!device.is_empty());

    // The supervisor talks (a 440 Hz tone played into the room) the whole time.
    let wav = temp_wav(
        "supervisor.wav",
        &tone(300, 440.0, 9000.0)
            .iter()
            .flat_map(|f| f.samples)
            .collect::<Vec<_>>(),
    );
    let mut player = paplay(&wav);

    let collect = |rx: &mut mpsc::Receiver<OutboundFrame>, dur: Duration| {
        let end = Instant::now() + dur;
        let mut out = Vec::new();
        while Instant::now() < end {
            match rx.try_recv() {
                Ok(f) => out.push(f),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        out
    };
    // AI in control: the microphone is not on the line.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = collect(&mut agent_rx, Duration::from_millis(1000));
    call.supervisor(SupervisorCommand::Takeover).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = collect(&mut agent_rx, Duration::from_millis(2000));
    call.supervisor(SupervisorCommand::Handback).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    while agent_rx.try_recv().is_ok() {}
    let after = collect(&mut agent_rx, Duration::from_millis(800));
    let _ = player.kill();
    let _ = player.wait();
    assert_eq!(desk.microphones(), vec!["takeover-mic".to_string()]);
    call.send(CallCommand::Hangup).await.unwrap();
    call.ended().await;
    feeder.abort();
    // The call's end gives the microphone back.
    for _ in 0..100 {
        if desk.microphones().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        desk.microphones().is_empty(),
        "microphone kept after the call ended"
    );

    let sup = |v: &[OutboundFrame]| -> Vec<i16> {
        v.iter()
            .filter(|f| f.speaker == Speaker::Supervisor)
            .flat_map(|f| f.frame.samples)
            .collect()
    };
    let (b, d, a) = (sup(&before), sup(&during), sup(&after));
    eprintln!(
        "supervisor frames before/during/after takeover: {}/{}/{}; during: rms {:.0}, 440 Hz share {:.2}",
        b.len() / FRAME_SAMPLES,
        d.len() / FRAME_SAMPLES,
        a.len() / FRAME_SAMPLES,
        rms(&d),
        tone_share(&d, 440.0)
    );
    assert!(
        b.is_empty(),
        "the microphone was on the line before the takeover"
    );
    assert!(
        d.len() / FRAME_SAMPLES >= 80,
        "too little supervisor audio during 2 s of takeover: {} frames",
        d.len() / FRAME_SAMPLES
    );
    assert!(
        rms(&d) > 2000.0,
        "supervisor audio is too quiet: {:.0}",
        rms(&d)
    );
    assert!(
        tone_share(&d, 440.0) > 0.8,
        "the customer does not hear the supervisor's voice"
    );
    assert!(
        a.is_empty(),
        "the microphone stayed on the line after hand-back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_in_plays_both_sides_of_the_call_on_the_speakers() {
    if !audio_available("listening_in_plays_both_sides_of_the_call_on_the_speakers") {
        return;
    }
    let _g = SOUND.lock().await;
    let hub = LocalHub::new(1024);
    // The agent's greeting is a 1 kHz tone (fake voice); the customer hums 440 Hz.
    let agent_voice = Arc::new(
        FakeTextToSpeech::new()
            .with_timing(60, 3000)
            .with_amplitude(6000),
    );
    let (call, cust_tx, mut agent_rx) = memory_call(&hub, "listen-in", agent_voice, true);
    let drain = tokio::spawn(async move { while agent_rx.recv().await.is_some() {} });
    let feeder = feed_customer(cust_tx, tone(100_000, 440.0, 3000.0));
    let desk = AudioDesk::new();
    desk.listen(&hub, "listen-in", None)
        .await
        .expect("open the speakers");
    assert_eq!(desk.listening().as_deref(), Some("listen-in"));
    let (mut mic, mut heard) = Microphone::open(None).expect("open the sink's monitor");

    let record = |rx: &mut mpsc::Receiver<InboundFrame>, dur: Duration| {
        let end = Instant::now() + dur;
        let mut out = Vec::new();
        while Instant::now() < end {
            match rx.try_recv() {
                Ok(f) => out.extend_from_slice(&f.frame.samples),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        out
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    while heard.try_recv().is_ok() {}
    let listening = record(&mut heard, Duration::from_millis(1500));
    desk.stop_listening(&hub).await;
    assert_eq!(desk.listening(), None);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    while heard.try_recv().is_ok() {}
    let stopped = record(&mut heard, Duration::from_millis(800));
    mic.stop();
    call.send(CallCommand::Hangup).await.unwrap();
    call.ended().await;
    feeder.abort();
    drain.abort();

    let fake_hz = f64::from(switchboard::tts::fake::TONE_HZ);
    eprintln!(
        "listening: rms {:.0}, customer 440 Hz share {:.2}, agent {fake_hz} Hz share {:.2}; stopped: rms {:.0}",
        rms(&listening),
        tone_share(&listening, 440.0),
        tone_share(&listening, fake_hz),
        rms(&stopped)
    );
    assert!(rms(&listening) > 1000.0, "nothing heard while listening in");
    assert!(
        tone_share(&listening, 440.0) > 0.1,
        "the customer is not heard"
    );
    assert!(
        tone_share(&listening, fake_hz) > 0.1,
        "the agent is not heard"
    );
    assert!(
        rms(&stopped) < 50.0,
        "still playing after listening stopped: {:.0}",
        rms(&stopped)
    );
}

/// Runs an English espeak-ng greeting through speakers whose sound comes back
/// into the microphone (the null sink's monitor: the worst echo there is) and
/// returns the call's events and the device stats. During the greeting,
/// `customer` (if any) is played into the room too.
async fn greeting_on_speakers(
    guard: Option<EchoGuardConfig>,
    customer: Option<&Path>,
) -> (Vec<CallEvent>, switchboard::transport::StatsSnapshot) {
    let hub = LocalHub::new(4096);
    let mut events = hub.subscribe();
    let mut devices = LocalDevices::open_with(LocalOptions {
        input: None,
        output: None,
        echo_guard: guard,
    })
    .expect("open sound devices");
    let io = devices.call_io().unwrap();
    let agent: Arc<dyn TextToSpeech> = if customer.is_some() {
        // A quiet fake voice, so a customer at normal loudness is clearly louder.
        Arc::new(
            FakeTextToSpeech::new()
                .with_timing(80, 5000)
                .with_amplitude(1500),
        )
    } else {
        Arc::new(EspeakTts::new())
    };
    let call = hub.start_call(CallSetup {
        call_id: "echo".into(),
        customer: CustomerInfo::default(),
        customer_context: None,
        record: None,
        config: CallConfig {
            lang: LangHint::En,
            ..Default::default()
        },
        providers: Providers {
            stt: None,
            llm: None,
            tts: vec![agent],
            sentiment: Arc::new(LexiconSentiment::new()),
            end_of_turn: None,
        },
        io,
    });
    // The greeting plays, then a moment of quiet for its echo to die down.
    let speaking = call
        .wait_for(Duration::from_secs(10), |s| s.agent_speaking)
        .await;
    assert!(speaking.is_ok(), "the greeting never started: {speaking:?}");
    let mut player = None;
    if let Some(path) = customer {
        // The customer talks over the greeting once its echo is coming back.
        tokio::time::sleep(Duration::from_millis(1000)).await;
        player = Some(paplay(path));
    }
    let _ = call
        .wait_for(Duration::from_secs(15), |s| !s.agent_speaking)
        .await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    if let Some(mut p) = player {
        let _ = p.kill();
        let _ = p.wait();
    }
    call.send(CallCommand::Hangup).await.unwrap();
    call.ended().await;
    let stats = devices.stats();
    devices.stop();
    let mut out = Vec::new();
    loop {
        match events.try_recv() {
            Ok(e) => out.push(e),
            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => break,
        }
    }
    (out, stats)
}

fn barge_ins(events: &[CallEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::BargeIn { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_guard_keeps_the_agent_from_interrupting_itself() {
    if !audio_available("echo_guard_keeps_the_agent_from_interrupting_itself") {
        return;
    }
    if !EspeakTts::installed() {
        panic!("espeak-ng is needed for this test (scripts/setup.sh installs it)");
    }
    let _g = SOUND.lock().await;
    // Control: without the guard, the agent hears its own greeting and stops.
    let (events, unguarded) = greeting_on_speakers(None, None).await;
    let without = barge_ins(&events);
    let (events, guarded) = greeting_on_speakers(Some(EchoGuardConfig::default()), None).await;
    let with = barge_ins(&events);
    eprintln!(
        "self-interruptions without the guard: {without} ({unguarded:?}); with it: {with} ({guarded:?})"
    );
    assert!(
        without >= 1,
        "control failed: the echo never reached the call, so this test proves nothing"
    );
    assert_eq!(with, 0, "the agent cut itself off through the echo");
    assert!(guarded.frames_echo_suppressed > 25);
    let spoken = events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Transcript { speaker: Speaker::Agent, text, .. } if !text.is_empty()));
    assert!(spoken, "the greeting was not spoken");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_talking_over_the_agent_gets_through_the_echo_guard() {
    if !audio_available("a_customer_talking_over_the_agent_gets_through_the_echo_guard") {
        return;
    }
    let _g = SOUND.lock().await;
    let fixture =
        read_wav(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/en_speech_16k.wav"))
            .expect("fixture");
    // A customer at a normal speaking level (peaks at −6 dBFS).
    let peak = fixture
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(1)
        .max(1);
    let gain = 16000.0 / f64::from(peak);
    let loud: Vec<i16> = fixture
        .iter()
        .map(|&s| (f64::from(s) * gain).round() as i16)
        .collect();
    let wav = temp_wav("customer.wav", &loud);
    let (events, stats) = greeting_on_speakers(Some(EchoGuardConfig::default()), Some(&wav)).await;
    eprintln!("barge-ins: {}; {stats:?}", barge_ins(&events));
    assert!(stats.frames_echo_suppressed > 0, "the guard was not active");
    assert!(
        barge_ins(&events) >= 1,
        "the customer could not interrupt the agent through the echo guard"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_seat_call_hears_the_microphone_and_answers_through_the_speakers() {
    if !audio_available("a_single_seat_call_hears_the_microphone_and_answers_through_the_speakers")
    {
        return;
    }
    let _g = SOUND.lock().await;
    let hub = LocalHub::new(4096);
    let mut events = hub.subscribe();
    let desk = AudioDesk::new();
    let script = SttScript::new();
    let call = desk
        .start_local_call(
            &hub,
            LocalCall {
                call_id: "single-seat".into(),
                customer: CustomerInfo::default(),
                customer_context: None,
                config: CallConfig {
                    lang: LangHint::En,
                    ..Default::default()
                },
                providers: Providers {
                    stt: Some(Arc::new(ScriptedSpeechToText::new(script.clone()))),
                    llm: None,
                    tts: vec![Arc::new(FakeTextToSpeech::new().with_amplitude(4000))],
                    sentiment: Arc::new(LexiconSentiment::new()),
                    end_of_turn: None,
                },
                record: None,
                devices: LocalOptions {
                    echo_guard: Some(EchoGuardConfig::default()),
                    ..Default::default()
                },
            },
        )
        .await
        .expect("start a call on the local devices");
    assert_eq!(desk.local_calls(), vec!["single-seat".to_string()]);
    // The greeting plays through the speakers; then the person at the desk talks.
    let _ = call
        .wait_for(Duration::from_secs(3), |s| s.agent_speaking)
        .await;
    let _ = call
        .wait_for(Duration::from_secs(15), |s| !s.agent_speaking)
        .await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    script.announce("I want to check the status of my order.", Lang::En, 2500);
    let speech =
        read_wav(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/en_speech_16k.wav"))
            .expect("fixture");
    let mut player = paplay(&temp_wav("single-seat.wav", &speech));
    let answered = call
        .wait_for(Duration::from_secs(20), |s| {
            s.turns >= 1 && s.agent_speaking
        })
        .await;
    let _ = player.wait();
    call.send(CallCommand::Hangup).await.unwrap();
    call.ended().await;
    for _ in 0..100 {
        if desk.local_calls().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    let heard = seen.iter().find_map(|e| match &e.kind {
        EventKind::Transcript {
            speaker: Speaker::Customer,
            text,
            is_final: true,
            ..
        } => Some(text.clone()),
        _ => None,
    });
    eprintln!("heard {heard:?}; answered {answered:?}");
    assert_eq!(
        heard.as_deref(),
        Some("I want to check the status of my order.")
    );
    assert!(
        answered.is_ok(),
        "the agent did not answer through the speakers"
    );
    assert!(
        seen.iter()
            .any(|e| matches!(&e.kind, EventKind::TurnMetrics(m) if m.turn == 1)),
        "no latency figures for the turn"
    );
    assert!(
        desk.local_calls().is_empty(),
        "devices kept after the call ended"
    );
}
