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
    let store = SecretStore::from_env();
    let config_url = config.livekit.url.clone();
    // The keyring answers on its own thread with a deadline: never on the async
    // workers. LIVEKIT_URL wins over the config file's URL.
    let creds = tokio::task::spawn_blocking(move || {
        LiveKitCredentials::load(&store, config_url.as_deref())
    })
    .await
    .map_err(|e| Failure::Other(e.to_string()))?
    .map_err(|e| Failure::Input(e.to_string()))?;
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
/// headless (a server of the call floor).
#[derive(clap::Args)]
pub struct AgentArgs {
    /// The room whose caller the agent answers.
    #[arg(long)]
    room: String,
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
    use switchboard::call::CallConfig;
    use switchboard::crm::CrmStore;
    use switchboard::hub::LocalHub;
    use switchboard::livekit::ffi;
    use switchboard::livekit::{start_room_call, RoomCall};
    use switchboard::persist::CrmWriter;

    switchboard::livekit::token::check_name("room name", &args.room)
        .and_then(|_| switchboard::livekit::token::check_name("identity", &args.identity))
        .map_err(|e| Failure::Input(e.to_string()))?;
    let store = SecretStore::from_env();
    let config_url = config.livekit.url.clone();
    let creds = tokio::task::spawn_blocking(move || {
        LiveKitCredentials::load(&store, config_url.as_deref())
    })
    .await
    .map_err(|e| Failure::Other(e.to_string()))?
    .map_err(|e| Failure::Input(e.to_string()))?;
    creds.url().map_err(|e| Failure::Input(e.to_string()))?;
    // Everything the call needs is checked before joining: a missing model is
    // named with its fetch command, not found out by the caller.
    tokio::task::spawn_blocking(ffi::FfiClient::get)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?
        .map_err(|e| Failure::Input(e.to_string()))?;
    let stt = crate::local_recognizer(&args.stt_model)?;
    crate::choose_llm(&mut config, &args.llm, args.model.clone())?;
    if let Some(problem) = config.local_llm_problem() {
        eprintln!("warning: {problem}; the agent will answer from its templates");
    }
    config.start_local_llm();
    let mut providers = config.providers();
    providers.stt = Some(stt);

    let hub = LocalHub::new(4096);
    let printer = crate::spawn_event_printer(&hub, args.transcript);
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
                crm = Some(store);
                writer = Some(w);
            }
            Err(e) => eprintln!("warning: {e}; this call will not be recorded"),
        }
    }
    let call = RoomCall {
        room: args.room.clone(),
        agent_identity: args.identity.clone(),
        call_id: uuid::Uuid::new_v4().to_string(),
        config: CallConfig {
            default_lang: config.default_lang,
            turn: config.turn.clone(),
            ..Default::default()
        },
        providers,
        crm,
        record: writer.as_ref().map(CrmWriter::recorder),
        customer_wait: Duration::from_secs(args.wait),
        room_options: Default::default(),
    };
    eprintln!(
        "joining LiveKit room {:?} as {:?}…",
        args.room, args.identity
    );
    let result = start_room_call(&hub, &creds, call).await;
    let outcome = match result {
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
    };
    if let Some(w) = &writer {
        let _ = w.flush(Duration::from_secs(10)).await;
    }
    tokio::task::spawn_blocking(switchboard::llm::LocalLlm::stop_shared)
        .await
        .ok();
    // Give the room task a moment to leave the room, then shut the library down.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ffi::dispose();
    outcome
}
