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
