//! `switchboard livekit …`: tokens, rooms and participants. Results are JSON
//! Lines on stdout; `token` prints the JWT alone as the last line, for scripts.
//! Nothing secret is printed but the token asked for.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Subcommand;
use switchboard::config::Config;
use switchboard::livekit::{
    mint, LiveKitCredentials, Role, RoomOptions, RoomService, RoomServiceError, TokenRequest,
};
use switchboard::secrets::SecretStore;

use crate::Failure;

#[derive(Subcommand)]
pub enum LivekitAction {
    /// Print an access token for one participant of one room: a JSON line
    /// (room, identity, role, expires_at_ms), then the token as the last line.
    Token {
        #[arg(long)]
        room: String,
        #[arg(long)]
        identity: String,
        /// agent (publishes its voice and captions), supervisor (listens unseen)
        /// or customer (publishes their microphone).
        #[arg(long)]
        role: String,
        /// Display name shown to the others.
        #[arg(long)]
        name: Option<String>,
        /// Life of the token: seconds, or e.g. 90s, 10m, 2h (default 10m, most 24h).
        #[arg(long, default_value = "10m")]
        ttl: String,
    },
    /// Rooms on the server (all, or these names), one JSON line each.
    Rooms { names: Vec<String> },
    /// Create a room for a call (idempotent: an existing room is returned).
    CreateRoom {
        name: String,
        /// Close the room this many seconds after it is left empty.
        #[arg(long, default_value_t = 300)]
        empty_timeout: u32,
        #[arg(long, default_value_t = 8)]
        max_participants: u32,
    },
    /// Close a room; everyone in it is disconnected.
    DeleteRoom { name: String },
    /// Who is in a room, with their tracks, one JSON line each.
    Participants { room: String },
    /// Disconnect one participant.
    Remove { room: String, identity: String },
    /// Listen in on a room's call (customer and agent, mixed) on the speakers,
    /// as a hidden supervisor, until Ctrl-C or the room closes.
    Listen {
        room: String,
        #[arg(long, default_value = "supervisor")]
        identity: String,
        /// Output device (default: the system's).
        #[arg(long)]
        output: Option<String>,
    },
    /// Mute (or with --unmute, unmute) one published track.
    Mute {
        room: String,
        identity: String,
        track: String,
        #[arg(long)]
        unmute: bool,
    },
}

pub async fn run(config: &Config, action: LivekitAction) -> Result<(), Failure> {
    let creds = load_creds(config).await?;
    match action {
        LivekitAction::Token {
            room,
            identity,
            role,
            name,
            ttl,
        } => {
            let role: Role = role
                .parse()
                .map_err(|e: switchboard::livekit::TokenError| Failure::Input(e.to_string()))?;
            let mut req = TokenRequest::new(&room, &identity, role);
            req.name = name;
            req.ttl = parse_ttl(&ttl)?;
            let jwt = mint(&creds, &req).map_err(|e| match e {
                switchboard::livekit::TokenError::Input(m) => Failure::Input(m),
                other => Failure::Other(other.to_string()),
            })?;
            let expires_at_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| (d + req.ttl).as_millis() as u64)
                .unwrap_or(0);
            print_json(&serde_json::json!({
                "room": req.room,
                "identity": req.identity,
                "role": role,
                "expires_at_ms": expires_at_ms,
            }))?;
            println!("{jwt}");
            Ok(())
        }
        LivekitAction::Rooms { names } => {
            for room in service(&creds)?.list_rooms(&names).await.map_err(server)? {
                print_json(&room)?;
            }
            Ok(())
        }
        LivekitAction::CreateRoom {
            name,
            empty_timeout,
            max_participants,
        } => {
            let opts = RoomOptions {
                empty_timeout_s: empty_timeout,
                max_participants,
                ..RoomOptions::default()
            };
            let room = service(&creds)?
                .create_room(&name, &opts)
                .await
                .map_err(server)?;
            print_json(&room)
        }
        LivekitAction::DeleteRoom { name } => {
            service(&creds)?.delete_room(&name).await.map_err(server)?;
            print_json(&serde_json::json!({"deleted": name}))
        }
        LivekitAction::Participants { room } => {
            for p in service(&creds)?
                .list_participants(&room)
                .await
                .map_err(server)?
            {
                print_json(&p)?;
            }
            Ok(())
        }
        LivekitAction::Remove { room, identity } => {
            service(&creds)?
                .remove_participant(&room, &identity)
                .await
                .map_err(server)?;
            print_json(&serde_json::json!({"removed": identity, "room": room}))
        }
        LivekitAction::Listen {
            room,
            identity,
            output,
        } => listen(&creds, &room, &identity, output).await,
        LivekitAction::Mute {
            room,
            identity,
            track,
            unmute,
        } => {
            let t = service(&creds)?
                .mute_published_track(&room, &identity, &track, !unmute)
                .await
                .map_err(server)?;
            print_json(&t)
        }
    }
}

async fn listen(
    creds: &LiveKitCredentials,
    room: &str,
    identity: &str,
    output: Option<String>,
) -> Result<(), Failure> {
    use switchboard::transport::CallMonitor;
    creds.url().map_err(|e| Failure::Input(e.to_string()))?;
    let (mut monitor, tap) =
        tokio::task::spawn_blocking(move || CallMonitor::open(output.as_deref()))
            .await
            .map_err(|e| Failure::Other(e.to_string()))?
            .map_err(|e| Failure::Other(e.to_string()))?;
    // The room's calls (hosted by a worker) are followed too: their events
    // are printed as JSON Lines, like `simulate` prints a local call's.
    let (events, mut rx) = tokio::sync::broadcast::channel(4096);
    let hub = switchboard::livekit::remote::RemoteHub::new(events);
    let result = switchboard::livekit::listen_to_room(creds, room, identity, tap, Some(hub)).await;
    let outcome = match result {
        Ok(listener) => {
            eprintln!(
                "listening to room {room:?} on {} (Ctrl-C to stop)",
                monitor.device()
            );
            let mut check = tokio::time::interval(Duration::from_millis(200));
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => break,
                    ev = rx.recv() => match ev {
                        Ok(ev) => match serde_json::to_string(&ev) {
                            Ok(line) => println!("{line}"),
                            Err(e) => eprintln!("an event could not be printed: {e}"),
                        },
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            eprintln!("{n} events were not printed (output too slow)");
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {}
                    },
                    _ = check.tick() => if listener.is_finished() {
                        eprintln!("the room has closed");
                        break;
                    },
                }
            }
            listener.stop().await;
            Ok(())
        }
        Err(e) => Err(Failure::Other(e.to_string())),
    };
    let _ = tokio::task::spawn_blocking(move || monitor.stop()).await;
    switchboard::livekit::ffi::dispose();
    outcome
}

/// The key pair (keyring, then environment) and the server (`LIVEKIT_URL`, then
/// the config file). The keyring answers on its own thread with a deadline: never
/// on the async workers.
async fn load_creds(config: &Config) -> Result<LiveKitCredentials, Failure> {
    let store = SecretStore::from_env();
    let config_url = config.livekit.url.clone();
    tokio::task::spawn_blocking(move || LiveKitCredentials::load(&store, config_url.as_deref()))
        .await
        .map_err(|e| Failure::Other(e.to_string()))?
        .map_err(|e| Failure::Input(e.to_string()))
}

fn service(creds: &LiveKitCredentials) -> Result<RoomService, Failure> {
    RoomService::new(creds).map_err(|e| Failure::Input(e.to_string()))
}

fn server(e: RoomServiceError) -> Failure {
    match e {
        RoomServiceError::Input(m) => Failure::Input(m),
        RoomServiceError::Config(c) => Failure::Input(c.to_string()),
        other => Failure::Other(other.to_string()),
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<(), Failure> {
    let line = serde_json::to_string(v).map_err(|e| Failure::Other(e.to_string()))?;
    println!("{line}");
    Ok(())
}

/// "600", "90s", "10m", "2h".
fn parse_ttl(s: &str) -> Result<Duration, Failure> {
    let s = s.trim();
    let bad = || {
        Failure::Input(format!(
            "--ttl must be seconds or e.g. 90s, 10m, 2h, not {s:?}"
        ))
    };
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(bad)?,
        "h" => n.checked_mul(3600).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

/// `switchboard agent --room NAME`: answers the call in one LiveKit room,
/// headless (a server of the call floor). `--webhooks ADDR` instead: serves the
/// LiveKit server's webhooks and answers every room a caller joins.
#[derive(clap::Args)]
pub struct AgentArgs {
    /// The room whose caller the agent answers.
    #[arg(
        long,
        required_unless_present = "webhooks",
        conflicts_with = "webhooks"
    )]
    room: Option<String>,
    /// Listen for the LiveKit server's webhooks on this address (e.g.
    /// 127.0.0.1:8089; the URL is http://ADDR/livekit/webhook) and answer the
    /// caller of every room as they join; runs until interrupted.
    #[arg(long)]
    webhooks: Option<String>,
    /// The agent's identity in the room.
    #[arg(long, default_value = "switchboard-agent")]
    identity: String,
    /// Whisper model: base (Arabic and English) or tiny.en.
    #[arg(long, default_value = "base")]
    stt_model: String,
    /// "local" (the local model, default), an OpenAI-compatible URL, or
    /// "fallback" (the built-in template replies).
    #[arg(long, default_value = "local")]
    llm: String,
    /// Model name for --llm URL; with --llm local: qwen2.5-0.5b or smollm2-135m.
    #[arg(long)]
    model: Option<String>,
    /// CRM database: sqlite://PATH, postgres://…, or "none".
    #[arg(long)]
    db: Option<String>,
    /// Seconds to wait for a caller to join.
    #[arg(long, default_value_t = 120)]
    wait: u64,
    /// Also print a readable transcript on stderr.
    #[arg(long)]
    transcript: bool,
}

pub async fn agent(mut config: Config, args: AgentArgs) -> Result<(), Failure> {
    use switchboard::crm::CrmStore;
    use switchboard::hub::LocalHub;
    use switchboard::livekit::ffi;
    use switchboard::persist::CrmWriter;

    if let Some(room) = &args.room {
        switchboard::livekit::token::check_name("room name", room)
            .map_err(|e| Failure::Input(e.to_string()))?;
    }
    switchboard::livekit::token::check_name("identity", &args.identity)
        .map_err(|e| Failure::Input(e.to_string()))?;
    let creds = load_creds(&config).await?;
    creds.url().map_err(|e| Failure::Input(e.to_string()))?;
    // Everything the call needs is checked before joining: a missing model is
    // named with its fetch command, not found out by the caller.
    tokio::task::spawn_blocking(ffi::FfiClient::get)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?
        .map_err(|e| Failure::Input(e.to_string()))?;
    let stt = crate::with_cloud(&config, crate::local_recognizer(&args.stt_model)?);
    crate::choose_llm(&mut config, &args.llm, args.model.clone())?;
    if let Some(problem) = config.local_llm_problem() {
        eprintln!("warning: {problem}; the agent will answer from its templates");
    }
    config.start_local_llm();
    let mut providers = config.providers();
    providers.stt = Some(stt);

    let hub = LocalHub::new(4096);
    let printer = crate::spawn_event_printer(
        &hub,
        args.transcript,
        args.webhooks.is_none(),
        config.replay.record,
    );
    let db_url = args
        .db
        .clone()
        .or_else(|| config.crm.url.clone())
        .unwrap_or_else(CrmStore::default_sqlite_url);
    let (mut crm, mut writer) = (None, None);
    if db_url != "none" {
        match CrmStore::connect(&db_url).await {
            Ok(store) => {
                let w = CrmWriter::spawn(
                    store.clone(),
                    &config.crm.outbox_path(),
                    Some(hub.event_sender()),
                )
                .map_err(|e| Failure::Other(e.to_string()))?;
                if config.replay.record {
                    switchboard::replay::retention::spawn_keeper(
                        store.clone(),
                        config.replay.clone(),
                    );
                }
                crm = Some(store);
                writer = Some(w);
            }
            Err(e) => eprintln!("warning: {e}; this call will not be recorded"),
        }
    }
    let call_config = config.call_config();
    let plan = CallPlan {
        hub: hub.clone(),
        creds: creds.clone(),
        identity: args.identity.clone(),
        config: call_config,
        base_providers: providers,
        crm,
        record: writer.as_ref().map(CrmWriter::recorder),
    };
    let outcome = match (&args.room, &args.webhooks) {
        (Some(room), _) => one_room(&plan, room, Duration::from_secs(args.wait), printer).await,
        (None, Some(addr)) => {
            let r = serve_webhooks(&plan, addr).await;
            printer.abort();
            r
        }
        (None, None) => Err(Failure::Input("give --room NAME or --webhooks ADDR".into())),
    };
    if let Some(w) = &writer {
        let _ = w.flush(Duration::from_secs(10)).await;
    }
    tokio::task::spawn_blocking(switchboard::llm::LocalLlm::stop_shared)
        .await
        .ok();
    // The room tasks leave their rooms (releasing every handle) once their
    // calls are over; shut the library down after that, or after 3 s at most.
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    while ffi::live_handles() > 0 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    ffi::dispose();
    outcome
}

/// What every call the agent answers starts with.
struct CallPlan {
    hub: switchboard::hub::LocalHub,
    creds: LiveKitCredentials,
    identity: String,
    config: switchboard::call::CallConfig,
    base_providers: switchboard::call::Providers,
    crm: Option<switchboard::crm::CrmStore>,
    record: Option<tokio::sync::mpsc::UnboundedSender<switchboard::events::CallEvent>>,
}

impl CallPlan {
    fn call(&self, room: &str, wait: Duration) -> switchboard::livekit::RoomCall {
        switchboard::livekit::RoomCall {
            room: room.to_string(),
            agent_identity: self.identity.clone(),
            call_id: uuid::Uuid::new_v4().to_string(),
            config: self.config.clone(),
            providers: self.base_providers.clone(),
            crm: self.crm.clone(),
            record: self.record.clone(),
            customer_wait: wait,
            room_options: Default::default(),
        }
    }
}

async fn one_room(
    plan: &CallPlan,
    room: &str,
    wait: Duration,
    printer: tokio::task::JoinHandle<()>,
) -> Result<(), Failure> {
    eprintln!("joining LiveKit room {room:?} as {:?}…", plan.identity);
    match switchboard::livekit::start_room_call(&plan.hub, &plan.creds, plan.call(room, wait)).await
    {
        Ok(handle) => {
            tokio::select! {
                _ = handle.ended() => {}
                _ = tokio::signal::ctrl_c() => {
                    let _ = handle
                        .supervisor(switchboard::call::SupervisorCommand::End)
                        .await;
                    handle.ended().await;
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), printer).await;
            Ok(())
        }
        Err(e) => Err(match &e {
            switchboard::livekit::RoomCallError::Credentials(_)
            | switchboard::livekit::RoomCallError::Token(_) => Failure::Input(e.to_string()),
            _ => Failure::Other(e.to_string()),
        }),
    }
}

/// Serves the LiveKit server's webhooks and answers each room's caller as they
/// join, until interrupted; the calls still going on are then ended.
async fn serve_webhooks(plan: &CallPlan, addr: &str) -> Result<(), Failure> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use switchboard::call::{CallCommand, CallHandle, SupervisorCommand};
    use switchboard::livekit::{
        CallAction, RoomCalls, WebhookServer, WebhookVerifier, WEBHOOK_PATH,
    };

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::Input(format!("cannot listen on {addr}: {e}")))?;
    let (tx, mut rx) = tokio::sync::mpsc::channel(256);
    let server = WebhookServer::start(listener, WebhookVerifier::new(&plan.creds), tx)
        .map_err(|e| Failure::Other(e.to_string()))?;
    eprintln!(
        "webhooks: listening on http://{}{WEBHOOK_PATH}",
        server.addr()
    );
    let mut decisions = RoomCalls::new();
    let live: Arc<Mutex<HashMap<String, CallHandle>>> = Arc::default();
    loop {
        let event = tokio::select! {
            e = rx.recv() => match e { Some(e) => e, None => break },
            _ = tokio::signal::ctrl_c() => break,
        };
        match decisions.on_event(&event) {
            Some(CallAction::Start { room, .. }) => {
                let call = plan.call(&room, Duration::from_secs(30));
                let (hub, creds, live) = (plan.hub.clone(), plan.creds.clone(), live.clone());
                tokio::spawn(async move {
                    match switchboard::livekit::start_room_call(&hub, &creds, call).await {
                        Ok(handle) => {
                            eprintln!("call {} started in room {room:?}", handle.call_id);
                            live.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(room, handle);
                        }
                        Err(e) => eprintln!("call in room {room:?} not started: {e}"),
                    }
                });
            }
            Some(CallAction::End { room, .. }) => {
                let handle = live.lock().unwrap_or_else(|p| p.into_inner()).remove(&room);
                if let Some(h) = handle {
                    let _ = h.send(CallCommand::Hangup).await;
                }
            }
            None => {}
        }
    }
    drop(server);
    let handles: Vec<CallHandle> = live
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain()
        .map(|(_, h)| h)
        .collect();
    for h in handles {
        let _ = h.supervisor(SupervisorCommand::End).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), h.ended()).await;
    }
    Ok(())
}
