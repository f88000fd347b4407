//! What following a worker's call costs, up to the network: a call event
//! encoded by the worker's relay, put back in order by the console's hub and on
//! the wall's channel; and a supervisor attaching to a long call (the whole
//! history sent and replayed). Printed by `switchboard bench-livekit`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::events::{CallEvent, EventKind, Speaker};
use crate::hub::LocalHub;
use crate::lang::Lang;

use super::super::credentials::LiveKitCredentials;
use super::relay::HISTORY_MAX;
use super::{Relay, RemoteHub, RpcFailure, WorkerLink, EVENTS_TOPIC};

const ROOM: &str = "bench-room";
const WORKER: &str = "bench-worker";
const SUPERVISOR: &str = "bench-supervisor";

struct Loopback {
    relay: Arc<Relay>,
    console: RemoteHub,
}

#[async_trait]
impl WorkerLink for Loopback {
    async fn rpc(&self, _to: &str, method: &str, payload: String) -> Result<String, RpcFailure> {
        let done = self.relay.invoke(method, SUPERVISOR, &payload).await;
        for p in done.to_caller {
            self.console.packet(ROOM, WORKER, EVENTS_TOPIC, &p);
        }
        done.reply
    }
}

fn line(turn: u32) -> CallEvent {
    CallEvent {
        call_id: "bench-call".into(),
        t_ms: turn as u64 * 1500,
        kind: EventKind::Transcript {
            speaker: if turn % 2 == 0 {
                Speaker::Customer
            } else {
                Speaker::Agent
            },
            text: "أهلاً بك، رقم طلبك 5512 في الطريق وسيصل غداً قبل الظهر إن شاء الله".into(),
            lang: Lang::Ar,
            is_final: true,
            turn,
            persona: None,
            interrupted: false,
            audio_start_ms: None,
            audio_end_ms: None,
        },
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the measurements; call inside a Tokio runtime.
pub async fn run(events: usize) -> Result<String, String> {
    let creds = LiveKitCredentials::new(None, "APIbench", "a-bench-secret-of-32-characters!!")
        .map_err(|e| e.to_string())?;
    let relay = Arc::new(Relay::new(ROOM, creds.clone(), Arc::new(LocalHub::new(64))));
    let (tx, mut wall) = broadcast::channel(HISTORY_MAX * 2);
    let console = RemoteHub::new(tx);
    let link = Arc::new(Loopback {
        relay: relay.clone(),
        console: console.clone(),
    });
    // A long call the supervisor attaches to late: the whole history comes over.
    for turn in 0..HISTORY_MAX as u32 {
        relay.event(line(turn));
    }
    console.attach(ROOM, SUPERVISOR, creds, link);
    let t = Instant::now();
    console.worker_seen(ROOM, WORKER);
    let mut got = 0;
    while got < HISTORY_MAX {
        match wall.recv().await {
            Ok(_) => got += 1,
            Err(e) => return Err(format!("the history did not arrive whole: {e}")),
        }
    }
    let attach_ms = t.elapsed().as_secs_f64() * 1000.0;

    // Live events, one at a time, worker → wall.
    let mut times = Vec::with_capacity(events);
    let mut bytes = 0usize;
    for i in 0..events {
        let t = Instant::now();
        let packets = relay.event(line(HISTORY_MAX as u32 + i as u32));
        for p in &packets {
            bytes += p.len();
            console.packet(ROOM, WORKER, EVENTS_TOPIC, p);
        }
        match wall.try_recv() {
            Ok(_) => times.push(t.elapsed().as_secs_f64() * 1e6),
            Err(e) => return Err(format!("a live event did not reach the wall: {e}")),
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(format!(
        "worker → wall through the room's data (no network): one transcript event p50 {:.0} µs, p95 {:.0} µs ({} events, {} bytes each)\n\
         a supervisor attaching to a call with {HISTORY_MAX} messages of history: {attach_ms:.0} ms until all are on the wall",
        percentile(&times, 0.5),
        percentile(&times, 0.95),
        times.len(),
        bytes / events.max(1),
    ))
}
