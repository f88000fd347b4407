//! Shared helpers for the tests that play and record through the PulseAudio
//! null sink started by scripts/pulse.sh.
#![allow(dead_code)]

use std::process::Command;

use switchboard::audio::{Frame, FRAME_SAMPLES, SAMPLE_RATE};

/// One sink, one monitor: tests of one binary that play and record take turns.
pub static SOUND: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Whether the sound server answers. `SWITCHBOARD_REQUIRE_AUDIO=1`
/// (scripts/test.sh) makes a missing server a failure; otherwise the test
/// prints SKIPPED and returns.
pub fn audio_available(test: &str) -> bool {
    let required = std::env::var("SWITCHBOARD_REQUIRE_AUDIO").as_deref() == Ok("1");
    let server = std::env::var("PULSE_SERVER").ok();
    let ok = server.is_some()
        && Command::new("pactl")
            .arg("info")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
    if !ok {
        if required {
            panic!(
                "SWITCHBOARD_REQUIRE_AUDIO=1 but no PulseAudio server answers \
                 (PULSE_SERVER={server:?}); start one with scripts/pulse.sh"
            );
        }
        eprintln!(
            "\n*** SKIPPED {test}: no PulseAudio server (set PULSE_SERVER, see scripts/pulse.sh; \
             SWITCHBOARD_REQUIRE_AUDIO=1 makes this a failure) ***\n"
        );
    }
    ok
}

/// `frames` frames of a sine at `hz` with peak `amp`.
pub fn tone(frames: usize, hz: f32, amp: f32) -> Vec<Frame> {
    (0..frames)
        .map(|i| {
            let mut f = Frame::SILENCE;
            for (k, s) in f.samples.iter_mut().enumerate() {
                let t = (i * FRAME_SAMPLES + k) as f32 / SAMPLE_RATE as f32;
                *s = (amp * (2.0 * std::f32::consts::PI * hz * t).sin()) as i16;
            }
            f
        })
        .collect()
}

pub fn rms(x: &[i16]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
}

/// Power of `x` at `hz` (Goertzel).
pub fn power_at(x: &[i16], hz: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * hz / f64::from(SAMPLE_RATE);
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = f64::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - c * s1 * s2
}
