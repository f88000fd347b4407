//! `switchboard bench-livekit`: what the LiveKit media path costs on this
//! machine, measured through the real library with no server (a local track
//! looped into a stream): the time one 20 ms push of the agent's voice takes,
//! and how long audio spends in the library — pushed at 16 kHz as the agent
//! does, until it comes out of a 16 kHz stream (the source's queue, the
//! library's resampling and framing; the network and Opus come on top).

use std::time::{Duration, Instant};

use super::{AudioSource, AudioStream, FfiError, LocalAudioTrack};
use crate::audio::{FRAME_SAMPLES, SAMPLE_RATE};

/// The agent's queue (src/livekit/call.rs).
const QUEUE_MS: u32 = 100;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// One run: 300 ms of silence, then a tone; returns (push durations in µs,
/// milliseconds from pushing the tone's first frame to hearing it out).
async fn one_run() -> Result<(Vec<f64>, f64), FfiError> {
    let source = AudioSource::new(SAMPLE_RATE, 1, QUEUE_MS)?;
    let track = LocalAudioTrack::new("bench", &source)?;
    let mut stream = AudioStream::for_track(track.handle_id(), SAMPLE_RATE, 1, 20)?;
    let silence = [0i16; FRAME_SAMPLES];
    let tone: Vec<i16> = (0..FRAME_SAMPLES)
        .map(|i| {
            ((i as f32 * 2.0 * std::f32::consts::PI * 500.0 / SAMPLE_RATE as f32).sin() * 12_000.0)
                as i16
        })
        .collect();
    let mut pushes = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut onset: Option<Instant> = None;
    let mut heard: Option<Instant> = None;
    for i in 0..40 {
        tick.tick().await;
        let frame: &[i16] = if i < 15 { &silence } else { &tone };
        let t = Instant::now();
        source.capture(frame).await?;
        pushes.push(t.elapsed().as_secs_f64() * 1e6);
        if i == 15 {
            onset = Some(t);
        }
        while let Some(f) = stream.next_within(Duration::ZERO).await {
            if onset.is_some()
                && heard.is_none()
                && f.samples.iter().any(|s| s.unsigned_abs() > 2_000)
            {
                heard = Some(Instant::now());
            }
        }
    }
    let until = Instant::now() + Duration::from_secs(2);
    while heard.is_none() && Instant::now() < until {
        match stream.next_within(Duration::from_millis(50)).await {
            Some(f) if f.samples.iter().any(|s| s.unsigned_abs() > 2_000) => {
                heard = Some(Instant::now())
            }
            _ => {}
        }
    }
    let (Some(onset), Some(heard)) = (onset, heard) else {
        return Err(FfiError::Refused {
            what: "bench",
            reason: "the tone never came out of the stream".into(),
        });
    };
    Ok((pushes, heard.duration_since(onset).as_secs_f64() * 1000.0))
}

/// `runs` runs; a readable report.
pub async fn run(runs: usize) -> Result<String, String> {
    let mut pushes = Vec::new();
    let mut latencies = Vec::new();
    for _ in 0..runs.max(1) {
        let (p, l) = one_run().await.map_err(|e| e.to_string())?;
        pushes.extend(p);
        latencies.push(l);
    }
    pushes.sort_by(f64::total_cmp);
    latencies.sort_by(f64::total_cmp);
    Ok(format!(
        "LiveKit media through liblivekit_ffi ({} runs, 16 kHz mono, {QUEUE_MS} ms source queue, no server)\n\
         push of one 20 ms frame: p50 {:.0} µs, p95 {:.0} µs, max {:.0} µs ({} pushes)\n\
         pushed → out of a 16 kHz stream: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&pushes, 0.5),
        percentile(&pushes, 0.95),
        pushes.last().copied().unwrap_or(f64::NAN),
        pushes.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.95),
        latencies.last().copied().unwrap_or(f64::NAN),
    ))
}
