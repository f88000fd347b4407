//! Barge-in stops the agent's audio on the frame that detects it: no agent frame
//! of the interrupted utterance is sent afterwards (real-time pacing, real speech
//! from a recorded fixture through VAD).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard::audio::{read_wav, Frame, FRAME_SAMPLES};
use switchboard::call::{
    CallCommand, CallConfig, CallIo, CallSetup, InboundFrame, OutboundFrame, Providers,
};
use switchboard::events::{CustomerInfo, EventKind, Speaker};
use switchboard::hub::{CallHub, LocalHub};
use switchboard::lang::{Lang, LangHint};
use switchboard::sentiment::LexiconSentiment;
use switchboard::stt::{ScriptedSpeechToText, SttScript};
use switchboard::tts::fake::FakeTextToSpeech;
use tokio::sync::mpsc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn barge_in_stops_playback_within_one_frame() {
    let speech =
        read_wav(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/en_speech_16k.wav"))
            .unwrap();
    // The fixture starts with 0.5 s of silence; the customer starts talking at once.
    let speech = speech[8000..].to_vec();
    let hub = LocalHub::new(4096);
    let mut events = hub.subscribe();
    let script = SttScript::new();
    let providers = Providers {
        stt: Some(Arc::new(ScriptedSpeechToText::new(script.clone()))),
        llm: None,
        tts: vec![Arc::new(FakeTextToSpeech::new())],
        sentiment: Arc::new(LexiconSentiment::new()),
        end_of_turn: None,
    };
    let (cust_tx, cust_rx) = mpsc::channel::<InboundFrame>(64);
    let (agent_tx, mut agent_rx) = mpsc::channel::<OutboundFrame>(4096);
    let config = CallConfig {
        lang: LangHint::En,
        ..Default::default()
    };
    let handle = hub.start_call(CallSetup {
        call_id: "barge".into(),
        customer: CustomerInfo {
            id: None,
            phone: None,
            name: Some("Sam".into()),
        },
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
    let greeting_frames = Arc::new(Mutex::new(0usize));
    let gf = greeting_frames.clone();
    let recorder = tokio::spawn(async move {
        while let Some(f) = agent_rx.recv().await {
            if f.turn == 0 && f.speaker == Speaker::Agent {
                *gf.lock().unwrap() += 1;
            }
        }
    });
    // The customer line: silence until the greeting has played for a while, then speech.
    let mut interval = tokio::time::interval(Duration::from_millis(20));
    let mut pos = 0usize;
    let mut started = false;
    for _ in 0..400 {
        interval.tick().await;
        let playing = *greeting_frames.lock().unwrap();
        if !started && playing >= 40 {
            started = true;
            script.announce(
                "Hello, I would like to check the status of my order.",
                Lang::En,
                2500,
            );
        }
        let frame = if started && pos < speech.len() {
            let end = (pos + FRAME_SAMPLES).min(speech.len());
            let f = Frame::from_slice(&speech[pos..end]);
            pos = end;
            f
        } else {
            Frame::SILENCE
        };
        cust_tx
            .send(InboundFrame {
                frame,
                due: std::time::Instant::now(),
            })
            .await
            .unwrap();
        if started && pos >= speech.len() {
            break;
        }
    }
    handle.send(CallCommand::Hangup).await.unwrap();
    handle.ended().await;
    drop(cust_tx);
    recorder.await.unwrap();

    let mut first_frame_t = None;
    let mut barge_t = None;
    let mut greeting_text = String::new();
    while let Ok(ev) = events.try_recv() {
        match ev.kind {
            EventKind::Transcript {
                speaker: Speaker::Agent,
                turn: 0,
                is_final: false,
                ..
            } if first_frame_t.is_none() => first_frame_t = Some(ev.t_ms),
            EventKind::AgentReply { turn: 0, text, .. } => greeting_text = text,
            EventKind::BargeIn { turn: 0, .. } => barge_t = Some(ev.t_ms),
            _ => {}
        }
    }
    let (t0, tb) = (
        first_frame_t.expect("greeting played"),
        barge_t.expect("barge-in detected"),
    );
    let played = *greeting_frames.lock().unwrap();
    // The greeting would take far longer than what was played.
    let full = FakeTextToSpeech::new()
        .duration_for(&greeting_text)
        .as_millis() as usize
        / 20;
    assert!(
        played + 50 < full,
        "playback stopped early: {played} of {full} frames"
    );
    // Frames out between the first frame and the barge-in event, one per 20 ms slot
    // (plus the first, sent at once): nothing more went out after the barge-in.
    let slots = (tb - t0) as usize / 20 + 1;
    assert!(
        played <= slots + 1,
        "played {played} frames, {slots} slots before the barge-in"
    );
    // Detection came 160–300 ms into the customer's speech, after ≥ 40 greeting frames.
    assert!(played >= 40);
}
