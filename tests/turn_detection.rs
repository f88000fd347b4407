//! Turn detection on real (synthesised) English and Arabic speech.
//!
//! Ground truth comes from the audio itself: speech onset and end are the
//! first and last 10 ms windows above -50 dBFS (fixtures are padded with
//! digital silence, see tests/fixtures/make_fixtures.sh), so the assertions
//! measure the detector, not assumptions about espeak's timing.
//!
//! Run with `--nocapture` to see the measured boundary errors.

use std::path::Path;
use std::time::Instant;

use switchboard::audio::{frames, read_wav, rms_dbfs, Frame, StreamResampler, FRAME_MS};
use switchboard::turn::{
    EndOfTurnDetector, EndReason, TurnConfig, TurnEvent, VadConfig, VoiceActivity,
    VoiceActivityDetector,
};

/// Detection onset may lag true onset by VAD warm-up; end may differ by the
/// VAD's own hangover. Both are well inside conversational tolerances.
const ONSET_TOLERANCE_MS: i64 = 100;
const END_TOLERANCE_MS: i64 = 120;

fn load(name: &str) -> Vec<i16> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    read_wav(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// (onset_ms, end_ms) of the speech in `samples` from 10 ms energy windows.
fn energy_truth(samples: &[i16]) -> (i64, i64) {
    let loud: Vec<usize> = samples
        .chunks(160)
        .enumerate()
        .filter(|(_, w)| rms_dbfs(w) > -50.0)
        .map(|(i, _)| i)
        .collect();
    let first = *loud.first().expect("fixture has speech");
    let last = *loud.last().expect("fixture has speech");
    (first as i64 * 10, (last as i64 + 1) * 10)
}

/// Appends silence so the end of turn has room to fire.
fn with_tail(mut samples: Vec<i16>, ms: usize) -> Vec<i16> {
    samples.extend(std::iter::repeat_n(0, ms * 16));
    samples
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Timed {
    /// Stream time at the end of the frame that produced the event.
    at_ms: i64,
    event: TurnEvent,
    /// Detector's speech onset at that moment (for start events).
    onset_ms: Option<i64>,
    reason: Option<EndReason>,
}

fn run(
    det: &mut EndOfTurnDetector,
    samples: &[i16],
    agent_speaking: impl Fn(i64) -> bool,
) -> Vec<Timed> {
    let mut out = Vec::new();
    for (i, f) in frames(samples).enumerate() {
        let t = i as i64 * i64::from(FRAME_MS);
        if let Some(event) = det.push(&f, agent_speaking(t)) {
            out.push(Timed {
                at_ms: det.elapsed_ms() as i64,
                event,
                onset_ms: det.speech_onset_ms().map(|v| v as i64),
                reason: matches!(event, TurnEvent::EndOfTurn { .. })
                    .then(|| det.last_end_reason())
                    .flatten(),
            });
        }
    }
    out
}

fn detector(config: TurnConfig) -> EndOfTurnDetector {
    EndOfTurnDetector::new(config)
}

/// Checks one clean single-utterance fixture; returns (onset error, start
/// latency after onset, end-of-turn error) in ms.
fn check_single_utterance(name: &str, samples: &[i16]) -> (i64, i64, i64) {
    let config = TurnConfig::default();
    let (onset, end) = energy_truth(samples);
    let events = run(&mut detector(config.clone()), samples, |_| false);
    let kinds: Vec<_> = events
        .iter()
        .map(|e| std::mem::discriminant(&e.event))
        .collect();
    assert_eq!(
        kinds.len(),
        2,
        "{name}: expected start + end, got {events:?}"
    );
    assert_eq!(events[0].event, TurnEvent::SpeechStarted, "{name}");
    let detected_onset = events[0].onset_ms.expect("onset known at start");
    let onset_err = detected_onset - onset;
    assert!(
        onset_err.abs() <= ONSET_TOLERANCE_MS,
        "{name}: onset {detected_onset} vs truth {onset}"
    );
    // SpeechStarted is by design min_speech_ms after onset; the extra is VAD lag.
    let start_latency = events[0].at_ms - onset;
    let min_speech = i64::from(config.min_speech_ms);
    assert!(
        (min_speech..=min_speech + ONSET_TOLERANCE_MS).contains(&start_latency),
        "{name}: SpeechStarted {start_latency} ms after onset"
    );

    let TurnEvent::EndOfTurn {
        speech_ms,
        trailing_silence_ms,
    } = events[1].event
    else {
        panic!("{name}: second event {:?}", events[1]);
    };
    assert_eq!(events[1].reason, Some(EndReason::Silence));
    let hold = i64::from(config.silence_hold_ms);
    let end_err = events[1].at_ms - (end + hold);
    assert!(
        end_err.abs() <= END_TOLERANCE_MS,
        "{name}: EndOfTurn at {} vs truth end {end} + {hold}",
        events[1].at_ms
    );
    assert_eq!(i64::from(trailing_silence_ms), hold, "{name}");
    let speech_err = i64::from(speech_ms) - (end - onset);
    assert!(
        speech_err.abs() <= END_TOLERANCE_MS + ONSET_TOLERANCE_MS,
        "{name}: speech_ms {speech_ms} vs {}",
        end - onset
    );
    eprintln!(
        "{name}: truth onset {onset} ms end {end} ms | detected onset {detected_onset} ({onset_err:+}), \
         SpeechStarted at {} (+{start_latency}), EndOfTurn at {} ({end_err:+} vs end+hold), speech_ms {speech_ms}",
        events[0].at_ms, events[1].at_ms
    );
    (onset_err, start_latency, end_err)
}

#[test]
fn english_boundaries() {
    check_single_utterance("en_speech_16k", &load("en_speech_16k.wav"));
}

#[test]
fn arabic_boundaries() {
    check_single_utterance("ar_speech_16k", &load("ar_speech_16k.wav"));
}

/// Deterministic white noise at `dbfs` RMS.
fn noise(len: usize, dbfs: f32, mut seed: u32) -> Vec<i16> {
    // Uniform noise in [-a, a] has RMS a/sqrt(3).
    let amp = 32768.0 * 10f32.powf(dbfs / 20.0) * 3f32.sqrt();
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            ((seed as f32 / u32::MAX as f32 * 2.0 - 1.0) * amp) as i16
        })
        .collect()
}

fn mix(a: &[i16], b: &[i16]) -> Vec<i16> {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (i32::from(x) + i32::from(y)).clamp(-32768, 32767) as i16)
        .collect()
}

#[test]
fn boundaries_hold_with_background_noise() {
    // -50 dBFS noise is above the energy gate, so the neural model decides
    // every frame here, including the "silences".
    for name in ["en_speech_16k.wav", "ar_speech_16k.wav"] {
        let clean = load(name);
        let noisy = mix(&clean, &noise(clean.len(), -50.0, 12345));
        let (onset, end) = energy_truth(&clean);
        let events = run(&mut detector(TurnConfig::default()), &noisy, |_| false);
        assert_eq!(events.len(), 2, "{name}: {events:?}");
        let onset_err = events[0].onset_ms.unwrap() - onset;
        let end_err = events[1].at_ms - (end + 500);
        eprintln!("{name} + noise@-50dBFS: onset {onset_err:+} ms, end of turn {end_err:+} ms");
        assert!(onset_err.abs() <= ONSET_TOLERANCE_MS, "{name}: {events:?}");
        assert!(end_err.abs() <= END_TOLERANCE_MS, "{name}: {events:?}");
    }
}

#[test]
fn mid_sentence_pause_holds_at_500_but_splits_at_200() {
    let samples = load("en_pause300_16k.wav");
    let events = run(&mut detector(TurnConfig::default()), &samples, |_| false);
    let ends = events
        .iter()
        .filter(|e| matches!(e.event, TurnEvent::EndOfTurn { .. }))
        .count();
    assert_eq!(
        ends, 1,
        "300 ms pause must not end a turn with a 500 ms hold: {events:?}"
    );
    assert_eq!(events.len(), 2, "{events:?}");

    let short_hold = TurnConfig {
        silence_hold_ms: 200,
        ..TurnConfig::default()
    };
    let events = run(&mut detector(short_hold), &samples, |_| false);
    let ends: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.event, TurnEvent::EndOfTurn { .. }))
        .collect();
    assert_eq!(
        ends.len(),
        2,
        "300 ms pause must end a turn with a 200 ms hold: {events:?}"
    );
    // The first end lands 200 ms into the pause (energy truth: the pause is the
    // longest silent run inside the speech).
    let pause_start = longest_inner_silence_start(&samples);
    let err = ends[0].at_ms - (pause_start + 200);
    eprintln!(
        "en_pause300: pause starts at {pause_start} ms, first EndOfTurn at {} ({err:+})",
        ends[0].at_ms
    );
    assert!(err.abs() <= END_TOLERANCE_MS, "{events:?}");
}

/// Start (ms) of the longest silent run (10 ms windows at or below -50 dBFS)
/// between the first and last speech.
fn longest_inner_silence_start(samples: &[i16]) -> i64 {
    let loud: Vec<bool> = samples.chunks(160).map(|w| rms_dbfs(w) > -50.0).collect();
    let first = loud.iter().position(|&l| l).unwrap();
    let last = loud.iter().rposition(|&l| l).unwrap();
    let (mut best, mut best_start, mut run_start) = (0, 0, None);
    for (i, &l) in loud.iter().enumerate().take(last + 1).skip(first) {
        match (l, run_start) {
            (false, None) => run_start = Some(i),
            (true, Some(s)) => {
                if i - s > best {
                    best = i - s;
                    best_start = s;
                }
                run_start = None;
            }
            _ => {}
        }
    }
    best_start as i64 * 10
}

#[test]
fn silence_and_noise_produce_no_speech() {
    let five_s = 5 * 16_000;
    let cases: Vec<(String, Vec<i16>)> = vec![
        ("digital silence".into(), vec![0; five_s]),
        ("white noise -65 dBFS".into(), noise(five_s, -65.0, 1)),
        ("white noise -50 dBFS".into(), noise(five_s, -50.0, 2)),
        ("white noise -40 dBFS".into(), noise(five_s, -40.0, 3)),
        (
            "50 Hz hum -40 dBFS".into(),
            (0..five_s)
                .map(|i| {
                    (460.0 * (2.0 * std::f32::consts::PI * 50.0 * i as f32 / 16_000.0).sin()) as i16
                })
                .collect(),
        ),
    ];
    for (what, samples) in cases {
        let events = run(&mut detector(TurnConfig::default()), &samples, |_| false);
        assert!(events.is_empty(), "{what}: {events:?}");
        let events = run(&mut detector(TurnConfig::default()), &samples, |_| true);
        assert!(events.is_empty(), "{what} while agent speaks: {events:?}");
    }
}

#[test]
fn barge_in_fires_once_and_the_turn_still_ends() {
    let samples = with_tail(load("en_speech_16k.wav"), 0);
    let (onset, end) = energy_truth(&samples);
    let config = TurnConfig::default();
    // The agent talks for the whole clip (it would normally stop on BargeIn).
    let events = run(&mut detector(config.clone()), &samples, |_| true);
    let barge: Vec<_> = events
        .iter()
        .filter(|e| e.event == TurnEvent::BargeIn)
        .collect();
    assert_eq!(barge.len(), 1, "{events:?}");
    assert!(
        !events.iter().any(|e| e.event == TurnEvent::SpeechStarted),
        "{events:?}"
    );
    let latency = barge[0].at_ms - onset;
    let min = i64::from(config.barge_in_min_ms);
    assert!(
        (min..=min + ONSET_TOLERANCE_MS).contains(&latency),
        "BargeIn {latency} ms after onset"
    );
    let last = events.last().unwrap();
    assert!(
        matches!(last.event, TurnEvent::EndOfTurn { .. }),
        "{events:?}"
    );
    assert!(
        (last.at_ms - (end + 500)).abs() <= END_TOLERANCE_MS,
        "{events:?}"
    );
    eprintln!("barge-in: {latency} ms after onset (barge_in_min_ms {min})");

    // The agent only starts talking after the customer's turn began: the
    // customer keeps talking over it → BargeIn mid-turn, after SpeechStarted.
    let agent_from = onset + 1_000;
    let events = run(&mut detector(config), &samples, |t| t >= agent_from);
    let kinds: Vec<_> = events.iter().map(|e| e.event).collect();
    assert_eq!(kinds[0], TurnEvent::SpeechStarted, "{events:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == TurnEvent::BargeIn).count(),
        1,
        "{events:?}"
    );
}

#[test]
fn max_turn_forces_an_end() {
    let samples = load("ar_speech_16k.wav");
    let (onset, _) = energy_truth(&samples);
    let config = TurnConfig {
        max_turn_ms: 1_500,
        ..TurnConfig::default()
    };
    let events = run(&mut detector(config), &samples, |_| false);
    let first_end = events
        .iter()
        .find(|e| matches!(e.event, TurnEvent::EndOfTurn { .. }))
        .expect("an end of turn");
    assert_eq!(first_end.reason, Some(EndReason::MaxTurn), "{events:?}");
    assert!(
        (first_end.at_ms - (onset + 1_500)).abs() <= ONSET_TOLERANCE_MS,
        "{events:?}"
    );
    // Speech continues: a new turn starts after the forced end.
    let after = events.iter().find(|e| e.at_ms > first_end.at_ms);
    assert_eq!(
        after.map(|e| e.event),
        Some(TurnEvent::SpeechStarted),
        "{events:?}"
    );
}

#[test]
fn pre_roll_reaches_back_before_onset() {
    let samples = load("en_speech_16k.wav");
    let (onset, _) = energy_truth(&samples);
    let mut det = detector(TurnConfig::default());
    for (i, f) in frames(&samples).enumerate() {
        if det.push(&f, false) == Some(TurnEvent::SpeechStarted) {
            let pre: Vec<&Frame> = det.pre_roll().collect();
            let now = (i as i64 + 1) * 20;
            let covered_from = now - pre.len() as i64 * 20;
            // Starts ~pre_roll_ms before the detected onset, and so before
            // the true onset, with silence in front of the speech.
            assert!(
                covered_from <= onset - 200,
                "pre-roll starts at {covered_from}, onset {onset}"
            );
            assert!(rms_dbfs(&pre[0].samples) < -60.0);
            assert!(pre.iter().any(|f| rms_dbfs(&f.samples) > -30.0));
            return;
        }
    }
    panic!("no SpeechStarted");
}

#[test]
fn streamed_48k_stereo_matches_16k_reference() {
    // The live path: sound-card audio → StreamResampler → detector.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/short_48k_stereo.wav");
    let mut reader = hound::WavReader::open(path).unwrap();
    let interleaved: Vec<i16> = reader.samples::<i16>().map(|s| s.unwrap()).collect();
    // The fixture's downmix is a quarter of the mono level; use the left
    // channel twice so the levels match the 16 kHz reference.
    let dual_left: Vec<i16> = interleaved.chunks(2).flat_map(|c| [c[0], c[0]]).collect();

    let mut resampler = StreamResampler::new(48_000, 2).unwrap();
    let mut det = detector(TurnConfig::default());
    let mut streamed = Vec::new();
    let mut t = 0i64;
    // 10 ms device callbacks (480 stereo frames).
    let mut feed = |frame: Frame, streamed: &mut Vec<Timed>| {
        t += 20;
        if let Some(event) = det.push(&frame, false) {
            streamed.push(Timed {
                at_ms: t,
                event,
                onset_ms: None,
                reason: None,
            });
        }
    };
    for chunk in dual_left.chunks(960) {
        resampler.push_i16(chunk, |f| feed(f, &mut streamed));
    }
    resampler.finish(|f| feed(f, &mut streamed));
    for _ in 0..50 {
        feed(Frame::SILENCE, &mut streamed);
    }

    let reference = with_tail(load("short_16k.wav"), 1_000);
    let expected = run(&mut detector(TurnConfig::default()), &reference, |_| false);
    assert_eq!(
        streamed.len(),
        expected.len(),
        "{streamed:?} vs {expected:?}"
    );
    for (s, e) in streamed.iter().zip(&expected) {
        assert_eq!(
            std::mem::discriminant(&s.event),
            std::mem::discriminant(&e.event)
        );
        assert!((s.at_ms - e.at_ms).abs() <= 40, "{s:?} vs {e:?}");
    }
}

/// Counts heap allocations made by the current thread, so the steady-state
/// test below is not disturbed by tests running on other threads.
mod alloc_counter {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        // const-initialised and Drop-free: safe to touch inside the allocator.
        static ALLOCS: Cell<u64> = const { Cell::new(0) };
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    pub fn count() -> u64 {
        ALLOCS.with(|c| c.get())
    }
}

#[global_allocator]
static GLOBAL: alloc_counter::Counting = alloc_counter::Counting;

#[test]
fn live_path_does_not_allocate_per_frame() {
    // 48 kHz stereo device audio in 10 ms callbacks → resampler → VAD →
    // turn detector, for 1000 calls' worth of concurrency this must not touch
    // the allocator once warmed up.
    let speech = load("en_speech_16k.wav");
    let up = switchboard::audio::upsample_from_16k(&speech, 48_000);
    let stereo: Vec<i16> = up.iter().flat_map(|&s| [s, s]).collect();
    let mut resampler = StreamResampler::new(48_000, 2).unwrap();
    let mut det = detector(TurnConfig::default());
    let mut events = 0usize;
    let mut feed = |chunk: &[i16], det: &mut EndOfTurnDetector| {
        resampler.push_i16(chunk, |f| {
            if det.push(&f, false).is_some() {
                events += 1;
            }
            let _ = det.pre_roll().count();
        });
    };
    let (warm, rest) = stereo.split_at(960 * 10);
    for chunk in warm.chunks(960) {
        feed(chunk, &mut det);
    }
    let before = alloc_counter::count();
    for chunk in rest.chunks(960) {
        feed(chunk, &mut det);
    }
    let allocs = alloc_counter::count() - before;
    assert_eq!(allocs, 0, "allocations in steady state");
    assert!(events >= 2, "speech was detected ({events} events)");
}

/// Per-frame VAD cost. Run in release:
/// `cargo test --release --test turn_detection -- --ignored --nocapture vad_cost`
#[test]
#[ignore = "benchmark; run explicitly in release mode"]
fn vad_cost_per_frame() {
    let speech = load("en_speech_16k.wav");
    let speech_frames: Vec<Frame> = frames(&speech).collect();
    let quiet: Vec<Frame> = frames(&noise(16_000 * 5, -65.0, 9)).collect();
    let bench = |label: &str, gate: Option<f32>, input: &[Frame]| {
        let mut vad = VoiceActivityDetector::new(VadConfig {
            energy_gate_dbfs: gate,
            ..VadConfig::default()
        });
        let mut voiced = 0usize;
        // Warm up, then time enough frames for a stable figure.
        for f in input.iter().take(100) {
            voiced += usize::from(vad.is_voice(f));
        }
        let reps = 20;
        let start = Instant::now();
        for _ in 0..reps {
            for f in input {
                voiced += usize::from(vad.is_voice(std::hint::black_box(f)));
            }
        }
        let per = start.elapsed().as_nanos() as f64 / (reps * input.len()) as f64;
        let (seen, gated) = vad.gate_stats();
        eprintln!(
            "{label:<38} {:>8.2} µs/frame  ({:.1}% gated, {voiced} voiced)",
            per / 1_000.0,
            100.0 * gated as f64 / seen as f64
        );
        per
    };
    eprintln!(
        "VAD cost per 20 ms frame (earshot, {} build):",
        if cfg!(debug_assertions) {
            "DEBUG"
        } else {
            "release"
        }
    );
    bench("speech fixture, no gate", None, &speech_frames);
    bench("speech fixture, gate -55 dBFS", Some(-55.0), &speech_frames);
    bench("line noise -65 dBFS, no gate", None, &quiet);
    bench("line noise -65 dBFS, gate -55 dBFS", Some(-55.0), &quiet);

    // The other per-frame cost on the live path: device-rate conversion.
    let stereo48: Vec<i16> = switchboard::audio::upsample_from_16k(&speech, 48_000)
        .iter()
        .flat_map(|&s| [s, s])
        .collect();
    let mut r = StreamResampler::new(48_000, 2).unwrap();
    let mut n = 0u64;
    let start = Instant::now();
    for _ in 0..5 {
        for chunk in stereo48.chunks(960) {
            r.push_i16(chunk, |f| {
                std::hint::black_box(f);
                n += 1;
            });
        }
    }
    eprintln!(
        "{:<38} {:>8.2} µs/frame",
        "StreamResampler 48 kHz stereo → 16 kHz",
        start.elapsed().as_nanos() as f64 / n as f64 / 1_000.0
    );
}
