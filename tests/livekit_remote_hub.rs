//! A call hosted by a `switchboard agent` worker, followed and commanded from a
//! supervisor's console through the remote hub — over an in-memory room,
//! because no LiveKit server can run here. What LiveKit does (deliver one
//! sender's reliable data in order, carry an RPC and its reply) is played by
//! `MemoryRoom`; everything either side of it is the real code: the worker's
//! relay on a real call, and the console's `RemoteHub`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, mpsc};

use switchboard::call::{
    CallCommand, CallConfig, CallHandle, CallIo, CallSetup, Controller, Providers,
    SupervisorCommand,
};
use switchboard::events::{CallEvent, CustomerInfo, EventKind, Speaker};
use switchboard::hub::{CallHub, HubError, LocalHub};
use switchboard::lang::Lang;
use switchboard::livekit::remote::{
    Relay, RelayFeed, RemoteHub, RpcFailure, WorkerLink, EVENTS_TOPIC,
};
use switchboard::livekit::LiveKitCredentials;
use switchboard::routing::PersonaId;
use switchboard::sentiment::LexiconSentiment;
use switchboard::tts::fake::FakeTextToSpeech;

const ROOM: &str = "call-room-17";
const WORKER: &str = "agent-worker-1";
const SUPERVISOR: &str = "sup-layla";

fn creds(secret: &str) -> LiveKitCredentials {
    LiveKitCredentials::new(None, "APIfloorkey", secret).unwrap()
}

fn deployment() -> LiveKitCredentials {
    creds("the-deployment-secret-of-32-chars!")
}

/// The room: the worker's packets reach the console once it has joined, and
/// an RPC reaches the worker as coming from `caller` (who LiveKit says sent it).
struct MemoryRoom {
    relay: Arc<Relay>,
    console: RemoteHub,
    caller: String,
    worker_here: AtomicBool,
}

#[async_trait]
impl WorkerLink for MemoryRoom {
    async fn rpc(&self, to: &str, method: &str, payload: String) -> Result<String, RpcFailure> {
        if to != WORKER || !self.worker_here.load(Ordering::SeqCst) {
            // What LiveKit answers for a participant not in the room.
            return Err(RpcFailure {
                code: 1401,
                message: "Recipient not found".into(),
                data: None,
            });
        }
        let done = self.relay.invoke(method, &self.caller, &payload).await;
        for p in done.to_caller {
            self.console.packet(ROOM, WORKER, EVENTS_TOPIC, &p);
        }
        done.reply
    }
}

struct Worker {
    hub: LocalHub,
    call: CallHandle,
    relay: Arc<Relay>,
    events: broadcast::Receiver<CallEvent>,
    /// Subscribed before the call started, for the first relay.
    feed: std::sync::Mutex<Option<broadcast::Receiver<CallEvent>>>,
    _line: mpsc::Sender<switchboard::call::InboundFrame>,
}

fn start_worker() -> Worker {
    let hub = LocalHub::new(4096);
    let events = hub.subscribe();
    let feed = std::sync::Mutex::new(Some(hub.subscribe()));
    let (line, customer_audio) = mpsc::channel(8);
    let (agent_tx, mut agent_rx) = mpsc::channel(1024);
    tokio::spawn(async move { while agent_rx.recv().await.is_some() {} });
    let call = hub.start_call(CallSetup {
        call_id: "lk-call-17".into(),
        customer: CustomerInfo {
            id: None,
            phone: Some("+971501234567".into()),
            name: Some("مريم".into()),
        },
        customer_context: None,
        record: None,
        config: CallConfig {
            greet: true,
            ..Default::default()
        },
        providers: Providers {
            stt: None,
            llm: None,
            tts: vec![Arc::new(FakeTextToSpeech::new())],
            sentiment: Arc::new(LexiconSentiment::new()),
            end_of_turn: None,
        },
        io: CallIo {
            customer_audio,
            supervisor_audio: None,
            agent_audio: agent_tx,
            transport: "livekit".into(),
            room: None,
        },
    });
    let relay = Arc::new(Relay::new(ROOM, deployment(), Arc::new(hub.clone())));
    Worker {
        relay,
        call,
        events,
        feed,
        hub,
        _line: line,
    }
}

/// The worker's side of the room: every packet of its call, to the console
/// once `joined`.
fn pump(worker: &Worker, console: RemoteHub, joined: Arc<AtomicBool>) {
    let events = worker.feed.lock().unwrap().take();
    let events = events.unwrap_or_else(|| worker.hub.subscribe());
    let mut feed = RelayFeed::new(&worker.call, events);
    let relay = worker.relay.clone();
    tokio::spawn(async move {
        while let Some(packets) = feed.next(&relay).await {
            if joined.load(Ordering::SeqCst) {
                for p in packets {
                    console.packet(ROOM, WORKER, EVENTS_TOPIC, &p);
                }
            }
        }
    });
}

async fn until(
    rx: &mut broadcast::Receiver<CallEvent>,
    seen: &mut Vec<CallEvent>,
    what: &str,
    mut pred: impl FnMut(&CallEvent) -> bool,
) -> CallEvent {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(ev)) => {
                seen.push(ev.clone());
                if pred(&ev) {
                    return ev;
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(n))) => panic!("lagged {n}"),
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => panic!(
                "no {what} within 10 s; saw {:?}",
                seen.iter().map(|e| e.kind.type_name()).collect::<Vec<_>>()
            ),
        }
    }
}

fn final_line(ev: &CallEvent, who: Speaker) -> Option<(u32, String)> {
    match &ev.kind {
        EventKind::Transcript {
            speaker,
            text,
            is_final: true,
            turn,
            ..
        } if *speaker == who => Some((*turn, text.clone())),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_that_joins_mid_call_sees_it_all_in_order_and_commands_it() {
    let mut worker = start_worker();
    let (console_tx, mut wall) = broadcast::channel(4096);
    let console = RemoteHub::new(console_tx);
    let joined = Arc::new(AtomicBool::new(false));
    pump(&worker, console.clone(), joined.clone());

    // The customer speaks before any supervisor is watching.
    let said = "مرحبا، أريد معرفة حالة طلبي رقم 5512";
    worker
        .call
        .send(CallCommand::CustomerText {
            text: said.into(),
            lang: Some(Lang::Ar),
        })
        .await
        .unwrap();
    let mut seen_w = Vec::new();
    until(&mut worker.events, &mut seen_w, "the worker's reply", |e| {
        final_line(e, Speaker::Agent).is_some_and(|(t, _)| t == 1)
    })
    .await;

    // The supervisor joins: history first, then live, nothing twice.
    let room = Arc::new(MemoryRoom {
        relay: worker.relay.clone(),
        console: console.clone(),
        caller: SUPERVISOR.into(),
        worker_here: AtomicBool::new(true),
    });
    console.attach(ROOM, SUPERVISOR, deployment(), room.clone());
    joined.store(true, Ordering::SeqCst);
    console.worker_seen(ROOM, WORKER);
    let mut seen = Vec::new();
    until(&mut wall, &mut seen, "the history's reply", |e| {
        final_line(e, Speaker::Agent).is_some_and(|(t, _)| t == 1)
    })
    .await;
    assert_eq!(seen[0].kind.type_name(), "call_started", "history first");
    let EventKind::CallStarted {
        customer,
        transport,
        ..
    } = &seen[0].kind
    else {
        unreachable!()
    };
    assert_eq!(customer.name.as_deref(), Some("مريم"));
    assert_eq!(transport, "livekit");
    assert!(seen
        .iter()
        .any(|e| final_line(e, Speaker::Customer) == Some((1, said.into()))));
    assert!(
        seen.windows(2).all(|w| w[0].t_ms <= w[1].t_ms),
        "out of order"
    );
    // The wall knows the call's status too.
    let mut listed = Vec::new();
    for _ in 0..200 {
        listed = console.calls();
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(listed.len(), 1, "the call is on the wall");
    assert_eq!(listed[0].call_id, "lk-call-17");
    assert_eq!(listed[0].controller, Controller::Ai);

    // Take over, speak, hand back, pin a persona — from the console.
    console
        .command("lk-call-17", SupervisorCommand::Takeover)
        .await
        .unwrap();
    worker
        .call
        .wait_for(Duration::from_secs(3), |s| {
            s.controller == Controller::Supervisor
        })
        .await
        .expect("the worker's call is in the supervisor's hands");
    let line = "معك ليلى المشرفة، سأتابع طلبك بنفسي";
    console
        .command("lk-call-17", SupervisorCommand::Say { text: line.into() })
        .await
        .unwrap();
    until(&mut wall, &mut seen, "the supervisor's line", |e| {
        final_line(e, Speaker::Supervisor).is_some_and(|(_, t)| t == line)
    })
    .await;
    console
        .command("lk-call-17", SupervisorCommand::Handback)
        .await
        .unwrap();
    worker
        .call
        .wait_for(Duration::from_secs(3), |s| s.controller == Controller::Ai)
        .await
        .expect("handed back");
    console
        .command(
            "lk-call-17",
            SupervisorCommand::Pin {
                persona: PersonaId::Sales,
            },
        )
        .await
        .unwrap();
    until(&mut wall, &mut seen, "the persona change", |e| {
        matches!(
            e.kind,
            EventKind::PersonaChanged {
                to: PersonaId::Sales,
                ..
            }
        )
    })
    .await;
    let mut wall_status = Vec::new();
    for _ in 0..200 {
        wall_status = console.calls();
        if wall_status
            .first()
            .is_some_and(|s| s.pinned == Some(PersonaId::Sales))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(wall_status[0].persona, PersonaId::Sales);

    // Nothing arrived twice: one call_started, one of each final line.
    let starts = seen
        .iter()
        .filter(|e| e.kind.type_name() == "call_started")
        .count();
    assert_eq!(starts, 1);
    let mut finals: Vec<(u32, String)> = seen
        .iter()
        .filter_map(|e| final_line(e, Speaker::Customer))
        .collect();
    let n = finals.len();
    finals.dedup();
    assert_eq!(finals.len(), n, "a line came twice");

    // The call ends from the console and leaves the wall.
    console
        .command("lk-call-17", SupervisorCommand::End)
        .await
        .unwrap();
    until(&mut wall, &mut seen, "call_ended", |e| {
        e.kind.type_name() == "call_ended"
    })
    .await;
    assert!(console.calls().is_empty());
    let err = console
        .command("lk-call-17", SupervisorCommand::Takeover)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "unknown_call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_supervisor_proven_by_the_deployment_secret_commands_a_worker_call() {
    let worker = start_worker();
    let joined = Arc::new(AtomicBool::new(true));

    // A console with another deployment's secret sees the call go by (the data
    // is the room's) but cannot command it.
    let (tx, _rx) = broadcast::channel(1024);
    let outsider = RemoteHub::new(tx);
    let (tx2, _rx2) = broadcast::channel(1024);
    let console = RemoteHub::new(tx2);
    pump(&worker, outsider.clone(), joined.clone());
    pump(&worker, console.clone(), joined.clone());
    for (hub, caller, keys) in [
        (
            &outsider,
            SUPERVISOR,
            creds("some-other-secret-of-32-characters"),
        ),
        (&console, "customer-mariam", deployment()),
    ] {
        hub.attach(
            ROOM,
            SUPERVISOR,
            keys,
            Arc::new(MemoryRoom {
                relay: worker.relay.clone(),
                console: hub.clone(),
                caller: caller.into(),
                worker_here: AtomicBool::new(true),
            }),
        );
        hub.worker_seen(ROOM, WORKER);
    }
    let mut ok = false;
    for _ in 0..300 {
        if !outsider.calls().is_empty() && !console.calls().is_empty() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ok, "both see the call");
    // Wrong secret.
    let err = outsider
        .command("lk-call-17", SupervisorCommand::Takeover)
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::Refused(_)), "{err:?}");
    // A proof sent by someone it was not issued to (LiveKit names the sender).
    let err = console
        .command("lk-call-17", SupervisorCommand::End)
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::Refused(_)), "{err:?}");
    assert_eq!(worker.call.status().controller, Controller::Ai);
    assert!(!worker.call.status().ended, "the call goes on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_left_is_reported_unreachable_and_the_console_goes_on() {
    let worker = start_worker();
    let joined = Arc::new(AtomicBool::new(true));
    let (tx, _rx) = broadcast::channel(1024);
    let console = RemoteHub::new(tx);
    pump(&worker, console.clone(), joined);
    let room = Arc::new(MemoryRoom {
        relay: worker.relay.clone(),
        console: console.clone(),
        caller: SUPERVISOR.into(),
        worker_here: AtomicBool::new(true),
    });
    console.attach(ROOM, SUPERVISOR, deployment(), room.clone());
    console.worker_seen(ROOM, WORKER);
    for _ in 0..300 {
        if !console.calls().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    room.worker_here.store(false, Ordering::SeqCst);
    let err = console
        .command("lk-call-17", SupervisorCommand::Takeover)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "worker_unreachable", "{err}");
    assert!(err.to_string().contains("Recipient not found"), "{err}");
    // Leaving the room takes its calls off this wall; the worker's call goes on.
    assert_eq!(console.detach(ROOM), vec!["lk-call-17".to_string()]);
    assert!(console.calls().is_empty());
    assert!(!worker.call.status().ended);
}
