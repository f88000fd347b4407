//! LiveKit's server side against LiveKit's own code: tokens checked both ways with
//! the official Python server SDK (PyPI `livekit-api`), webhooks signed by it, and
//! the RoomService client against a local fake server that decodes our requests
//! with LiveKit's official protobuf types and checks every request's token with
//! the official TokenVerifier (no LiveKit server can run here; see
//! tests/livekit/official_sdk.py). Also the `switchboard livekit` CLI.
//!
//! The SDK comes from `scripts/livekit-sdk.sh` (run by scripts/test.sh, which sets
//! SWITCHBOARD_LIVEKIT_SDK); without it these tests skip, or fail under
//! SWITCHBOARD_REQUIRE_LIVEKIT_SDK=1.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard::livekit::{
    mint, CallAction, EndReason, LiveKitCredentials, Role, RoomCalls, RoomOptions, RoomService,
    RoomServiceError, TokenError, TokenRequest, WebhookError, WebhookEvent, WebhookServer,
    WebhookVerifier, WEBHOOK_PATH,
};

const KEY: &str = "APIswitchboardTest";
const SECRET: &str = "k8Jq2vX9mR4tW7yZ1bN5cF3hL6pS0dGa";

fn sdk(test: &str) -> Option<PathBuf> {
    match std::env::var_os("SWITCHBOARD_LIVEKIT_SDK") {
        Some(dir) if Path::new(&dir).join("livekit/api").is_dir() => Some(PathBuf::from(dir)),
        _ => {
            if std::env::var("SWITCHBOARD_REQUIRE_LIVEKIT_SDK").as_deref() == Ok("1") {
                panic!("{test}: SWITCHBOARD_LIVEKIT_SDK does not point at the official SDK (scripts/livekit-sdk.sh)");
            }
            eprintln!("skipping {test}: no official LiveKit SDK (run scripts/livekit-sdk.sh and set SWITCHBOARD_LIVEKIT_SDK)");
            None
        }
    }
}

fn official(dir: &Path) -> Command {
    let mut c = Command::new("python3");
    c.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/livekit/official_sdk.py"))
        .env("PYTHONPATH", dir)
        .env("PYTHONWARNINGS", "ignore");
    c
}

fn run_official(dir: &Path, args: &[&str]) -> String {
    let out = official(dir).args(args).output().expect("python3");
    assert!(
        out.status.success(),
        "official SDK {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn official_verify(dir: &Path, key: &str, secret: &str, token: &str) -> Value {
    let out = run_official(
        dir,
        &["verify", "--key", key, "--secret", secret, "--token", token],
    );
    serde_json::from_str(out.trim()).unwrap()
}

fn creds(url: Option<&str>) -> LiveKitCredentials {
    LiveKitCredentials::new(url, KEY, SECRET).unwrap()
}

#[test]
fn our_tokens_pass_the_official_sdk_with_the_least_grants_per_role() {
    let Some(dir) = sdk("tokens ours→official") else {
        return;
    };
    let c = creds(None);
    for (role, identity) in [
        (Role::Agent, "agent-sarah"),
        (Role::Supervisor, "supervisor-mona"),
        (Role::Customer, "عميل-٤٢"),
    ] {
        let mut req = TokenRequest::new("call-2026-ar", identity, role);
        req.name = Some("ليلى".into());
        let jwt = mint(&c, &req).unwrap();
        let v = official_verify(&dir, KEY, SECRET, &jwt);
        assert_eq!(v["ok"], true, "{role:?}: {v}");
        assert_eq!(v["identity"], identity);
        assert_eq!(v["name"], "ليلى");
        let g = &v["video"];
        assert_eq!(g["room"], "call-2026-ar");
        assert_eq!(g["room_join"], true);
        assert_ne!(
            g["room_admin"], true,
            "{role:?} must not administer the room"
        );
        assert_ne!(g["room_create"], true);
        assert_ne!(g["room_list"], true);
        assert_eq!(g["can_subscribe"], true);
        match role {
            Role::Agent => {
                assert_eq!(g["can_publish"], true);
                assert_eq!(g["can_publish_data"], true, "captions");
                assert_eq!(g["can_publish_sources"], serde_json::json!(["microphone"]));
                assert_eq!(g["agent"], true);
                assert_eq!(v["kind"], "agent");
            }
            Role::Supervisor => {
                assert_eq!(g["can_publish"], false, "a listener: {g}");
                assert_eq!(g["can_publish_data"], true, "commands to the worker by RPC");
                assert_eq!(g["hidden"], true);
            }
            Role::Customer => {
                assert_eq!(g["can_publish"], true);
                assert_eq!(g["can_publish_data"], false);
                assert_eq!(g["can_publish_sources"], serde_json::json!(["microphone"]));
                assert_ne!(g["hidden"], true);
            }
        }
        // Signed with another secret, the official SDK refuses it.
        let v = official_verify(&dir, KEY, "another-secret-of-32-characters!", &jwt);
        assert_eq!(v["ok"], false, "{v}");
    }
}

#[test]
fn tokens_minted_by_the_official_sdk_are_accepted_by_ours() {
    let Some(dir) = sdk("tokens official→ours") else {
        return;
    };
    let jwt = official_token(&dir, "غرفة-المبيعات", "customer-7", &["--name", "Omar"]);
    let claims = switchboard::livekit::verify(&creds(None), jwt.trim()).unwrap();
    assert_eq!(claims.sub, "customer-7");
    assert_eq!(claims.name, "Omar");
    assert_eq!(claims.video.room, "غرفة-المبيعات");
    assert!(claims.video.room_join);
    // Another deployment's key pair: refused, saying why.
    let other = LiveKitCredentials::new(None, KEY, "not-the-secret-that-signed-it-00").unwrap();
    assert_eq!(
        switchboard::livekit::verify(&other, jwt.trim()).unwrap_err(),
        TokenError::BadSignature
    );
    // An official token that expired an hour ago.
    let stale = official_token(&dir, "r", "i", &["--ttl-seconds", "-3600"]);
    assert_eq!(
        switchboard::livekit::verify(&creds(None), stale.trim()).unwrap_err(),
        TokenError::Expired
    );
}

fn signed(dir: &Path, secret: &str, args: &[&str]) -> (String, String) {
    let mut all = vec!["sign-webhook", "--key", KEY, "--secret", secret];
    all.extend_from_slice(args);
    let v: Value = serde_json::from_str(run_official(dir, &all).trim()).unwrap();
    (
        v["body"].as_str().unwrap().to_string(),
        v["authorization"].as_str().unwrap().to_string(),
    )
}

/// `sign-webhook` arguments from "EVENT ID ROOM [IDENTITY [KIND | hidden]]".
fn event(spec: &str) -> Vec<String> {
    let mut p = spec.split_whitespace();
    let mut a: Vec<String> = ["--event", "--id", "--room"]
        .iter()
        .zip(p.by_ref())
        .flat_map(|(flag, v)| [flag.to_string(), v.to_string()])
        .collect();
    if let Some(who) = p.next() {
        a.extend(["--participant".to_string(), who.to_string()]);
    }
    match p.next() {
        Some("hidden") => a.push("--hidden".into()),
        Some(kind) => a.extend(["--participant-kind".to_string(), kind.to_string()]),
        None => {}
    }
    a
}

/// A webhook for `spec` (see [`event`]) plus `extra` arguments, signed with `secret`.
fn signed_event(dir: &Path, secret: &str, spec: &str, extra: &[&str]) -> (String, String) {
    let args = event(spec);
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.extend_from_slice(extra);
    signed(dir, secret, &all)
}

/// A token minted by the official SDK for `identity` in `room`, with `extra` arguments.
fn official_token(dir: &Path, room: &str, identity: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "mint",
        "--key",
        KEY,
        "--secret",
        SECRET,
        "--room",
        room,
        "--identity",
        identity,
    ];
    args.extend_from_slice(extra);
    run_official(dir, &args).trim().to_string()
}

#[test]
fn webhooks_signed_by_the_official_sdk_start_and_end_calls_and_forgeries_are_refused() {
    let Some(dir) = sdk("webhooks") else {
        return;
    };
    let verifier = WebhookVerifier::new(&creds(None));
    let mut calls = RoomCalls::new();
    let mut feed = |spec: &str| -> Option<CallAction> {
        let (body, auth) = signed_event(&dir, SECRET, spec, &[]);
        let event = verifier
            .verify(body.as_bytes(), Some(&auth))
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        calls.on_event(&event)
    };
    assert_eq!(feed("room_started EV_1 support-ar"), None);
    // The agent's own arrival and a hidden supervisor's start nothing.
    assert_eq!(
        feed("participant_joined EV_2 support-ar agent-mohammed agent"),
        None
    );
    assert_eq!(
        feed("participant_joined EV_3 support-ar supervisor-1 hidden"),
        None
    );
    // A caller on a phone line starts the call.
    let join = "participant_joined EV_4 support-ar +971501234567 sip";
    assert_eq!(
        feed(join),
        Some(CallAction::Start {
            room: "support-ar".into(),
            customer: "+971501234567".into()
        })
    );
    // LiveKit redelivers: nothing happens twice.
    assert_eq!(feed(join), None);
    assert_eq!(
        feed("participant_left EV_5 support-ar +971501234567 sip"),
        Some(CallAction::End {
            room: "support-ar".into(),
            reason: EndReason::CustomerLeft
        })
    );
    // A room that closes with a caller still in it ends that call.
    feed("participant_joined EV_6 sales-en web-visitor-9");
    assert_eq!(
        feed("room_finished EV_7 sales-en"),
        Some(CallAction::End {
            room: "sales-en".into(),
            reason: EndReason::RoomFinished
        })
    );

    // The event comes out typed, Arabic names intact.
    let (body, auth) = signed_event(
        &dir,
        SECRET,
        "participant_joined EV_8 غرفة-الدعم عميل-1 sip",
        &[],
    );
    match verifier
        .verify(body.as_bytes(), Some(&format!("Bearer {auth}")))
        .unwrap()
    {
        WebhookEvent::ParticipantJoined {
            room, participant, ..
        } => {
            assert_eq!(room.name, "غرفة-الدعم");
            assert_eq!(participant.identity, "عميل-1");
            assert_eq!(
                (participant.kind.as_str(), participant.state.as_str()),
                ("sip", "active")
            );
        }
        other => panic!("{other:?}"),
    }

    // Forgeries: a body altered after signing, a signature from another secret,
    // no signature, an expired one, a body that is not an event.
    let tampered = body.replace("عميل-1", "attacker");
    assert_eq!(
        verifier
            .verify(tampered.as_bytes(), Some(&auth))
            .unwrap_err(),
        WebhookError::BodyMismatch
    );
    let (body2, forged) = signed(
        &dir,
        "an-attacker-guessed-this-secret!",
        &["--event", "room_finished", "--room", "support-ar"],
    );
    let e = verifier
        .verify(body2.as_bytes(), Some(&forged))
        .unwrap_err();
    assert_eq!(e, WebhookError::Token(TokenError::BadSignature));
    assert_eq!(e.http_status(), 401);
    assert_eq!(
        verifier.verify(body2.as_bytes(), None).unwrap_err(),
        WebhookError::NoAuthorization
    );
    let (body3, stale) = signed_event(
        &dir,
        SECRET,
        "room_finished EV_9 x",
        &["--ttl-seconds", "-3600"],
    );
    assert_eq!(
        verifier.verify(body3.as_bytes(), Some(&stale)).unwrap_err(),
        WebhookError::Token(TokenError::Expired)
    );
    // Signed for another body: refused before parsing.
    let (_, other_auth) = signed(&dir, SECRET, &["--event", "room_started"]);
    assert_eq!(
        verifier
            .verify(b"{\"event\": \"room_finished\"}", Some(&other_auth))
            .unwrap_err(),
        WebhookError::BodyMismatch
    );
    // Properly signed, but not an event.
    for junk in [
        "{\"event\": 42}",
        "not json",
        "{\"event\": \"participant_left\"}",
    ] {
        let (body, auth) = signed(&dir, SECRET, &["--event", "x", "--raw-body", junk]);
        assert_eq!(body, junk);
        let e = verifier.verify(body.as_bytes(), Some(&auth)).unwrap_err();
        assert!(matches!(e, WebhookError::Malformed(_)), "{junk}: {e:?}");
        assert_eq!(e.http_status(), 400);
    }
    let huge = vec![b' '; switchboard::livekit::webhook::MAX_BODY_BYTES + 1];
    assert_eq!(
        verifier.verify(&huge, Some(&auth)).unwrap_err(),
        WebhookError::TooLarge
    );
}

/// The fake RoomService (a child process), and the requests it logged.
struct TwirpFake {
    child: Child,
    stdin: Option<ChildStdin>,
    port: u16,
    log: Arc<Mutex<Vec<Value>>>,
}

impl TwirpFake {
    fn start(dir: &Path) -> TwirpFake {
        let mut child = official(dir)
            .args(["twirp-server", "--key", KEY, "--secret", SECRET])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let port: u16 = first
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("fake server said {first:?}"))
            .parse()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        TwirpFake {
            child,
            stdin,
            port,
            log,
        }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    fn last(&self) -> Value {
        // The log line is written before the answer, but read on another thread.
        let until = Instant::now() + Duration::from_secs(2);
        loop {
            if let Some(v) = self.log.lock().unwrap().last().cloned() {
                return v;
            }
            assert!(Instant::now() < until, "no request logged");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for TwirpFake {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn room_service_against_a_local_twirp_fake_using_livekits_own_protobuf_types() {
    let Some(dir) = sdk("room service") else {
        return;
    };
    let fake = TwirpFake::start(&dir);
    let rooms = RoomService::new(&creds(Some(&fake.url()))).unwrap();
    assert_eq!(rooms.base_url(), format!("http://127.0.0.1:{}", fake.port));

    let opts = RoomOptions {
        metadata: "{\"persona\":\"sarah\"}".into(),
        ..RoomOptions::default()
    };
    let room = rooms.create_room("call-ar-001", &opts).await.unwrap();
    assert_eq!(room.name, "call-ar-001");
    assert!(room.created_at_ms > 1_700_000_000_000, "{room:?}");
    let req = fake.last();
    assert_eq!(req["method"], "CreateRoom");
    assert_eq!(req["granted"], true, "{req}");
    // Our protobuf, decoded by LiveKit's own types: every field where it belongs.
    assert_eq!(req["request"]["name"], "call-ar-001");
    assert_eq!(req["request"]["empty_timeout"], 300);
    assert_eq!(req["request"]["departure_timeout"], 20);
    assert_eq!(req["request"]["max_participants"], 8);
    assert_eq!(req["request"]["metadata"], "{\"persona\":\"sarah\"}");

    rooms
        .create_room("call-en-002", &RoomOptions::default())
        .await
        .unwrap();
    let all = rooms.list_rooms(&[]).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["call-ar-001", "call-en-002"]
    );
    let one = rooms.list_rooms(&["call-en-002".into()]).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(
        fake.last()["request"]["names"],
        serde_json::json!(["call-en-002"])
    );

    let people = rooms.list_participants("call-ar-001").await.unwrap();
    let req = fake.last();
    assert_eq!(
        (req["method"].as_str(), req["token_room"].as_str()),
        (Some("ListParticipants"), Some("call-ar-001"))
    );
    assert_eq!(req["granted"], true, "admin of this room only: {req}");
    let customer = people.iter().find(|p| p.kind == "sip").expect("the caller");
    assert_eq!(customer.identity, "+971501234567");
    assert_eq!(customer.name, "عميل");
    assert_eq!(customer.tracks[0].source, "microphone");
    assert_eq!(customer.tracks[0].kind, "audio");
    let supervisor = people
        .iter()
        .find(|p| p.identity == "supervisor-1")
        .unwrap();
    assert!(supervisor.hidden && !supervisor.can_publish);

    let t = rooms
        .mute_published_track("call-ar-001", "+971501234567", "TR_mic", true)
        .await
        .unwrap();
    assert!(t.muted);
    assert_eq!(fake.last()["request"]["muted"], true);
    let t = rooms
        .mute_published_track("call-ar-001", "+971501234567", "TR_mic", false)
        .await
        .unwrap();
    assert!(!t.muted);

    // Takeover: the listening supervisor may speak, then listens unseen again.
    let p = rooms
        .set_speaking("call-ar-001", "supervisor-1", true)
        .await
        .unwrap();
    assert!(p.can_publish && !p.hidden, "{p:?}");
    let perm = &fake.last()["request"]["permission"];
    assert_eq!(perm["can_publish_data"], true, "RPC to the worker: {perm}");
    assert_eq!(
        perm["can_publish_sources"],
        serde_json::json!(["MICROPHONE"]),
        "{perm}"
    );
    let p = rooms
        .set_speaking("call-ar-001", "supervisor-1", false)
        .await
        .unwrap();
    assert!(!p.can_publish && p.hidden, "{p:?}");

    rooms
        .remove_participant("call-ar-001", "supervisor-1")
        .await
        .unwrap();
    assert_eq!(
        rooms.list_participants("call-ar-001").await.unwrap().len(),
        1
    );
    let e = rooms
        .remove_participant("call-ar-001", "supervisor-1")
        .await
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");

    rooms.delete_room("call-ar-001").await.unwrap();
    let e = rooms.delete_room("call-ar-001").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert_eq!(e.code(), "livekit_not_found");
    assert!(e.to_string().contains("does not exist"), "{e}");
    let e = rooms.list_participants("call-ar-001").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[tokio::test]
async fn room_service_faults_from_a_local_twirp_fake_become_clear_errors() {
    let Some(dir) = sdk("room service faults") else {
        return;
    };
    let fake = TwirpFake::start(&dir);
    let rooms = RoomService::new(&creds(Some(&fake.url())))
        .unwrap()
        .with_timeout(Duration::from_millis(700));

    // The server's own error, with its message.
    let e = rooms.list_participants("boom-room").await.unwrap_err();
    assert_eq!(e.code(), "livekit_internal");
    assert!(e.to_string().contains("database is down"), "{e}");
    // A proxy's HTML error page: a code from the status, no markup flood.
    let e = rooms.list_participants("proxy-room").await.unwrap_err();
    assert!(
        matches!(e, RoomServiceError::Server { status: 502, .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains('\n'));
    // A 200 that is not protobuf (a captive portal) and one that is garbage.
    let e = rooms.list_participants("html-room").await.unwrap_err();
    assert!(matches!(e, RoomServiceError::Malformed { .. }), "{e:?}");
    assert!(e.to_string().contains("text/html"), "{e}");
    let e = rooms.list_participants("garbage-room").await.unwrap_err();
    assert!(matches!(e, RoomServiceError::Malformed { .. }), "{e:?}");
    // An answer without the track LiveKit's own Rust client would unwrap.
    rooms
        .create_room("call-1", &RoomOptions::default())
        .await
        .unwrap();
    let e = rooms
        .mute_published_track("call-1", "+971501234567", "TR_vanishing", true)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no track"), "{e}");
    // A server that does not answer in time costs the timeout, not more.
    let started = Instant::now();
    let e = rooms.list_participants("slow-room").await.unwrap_err();
    assert!(matches!(e, RoomServiceError::Timeout { .. }), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    // Credentials of another deployment: the server refuses them.
    let wrong = LiveKitCredentials::new(Some(&fake.url()), KEY, "the-wrong-secret-of-32-chars-xx!")
        .unwrap();
    let e = RoomService::new(&wrong)
        .unwrap()
        .list_rooms(&[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), "livekit_unauthenticated", "{e}");
    // Nothing listening: unreachable, naming the server.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let gone =
        LiveKitCredentials::new(Some(&format!("ws://127.0.0.1:{port}")), KEY, SECRET).unwrap();
    let e = RoomService::new(&gone)
        .unwrap()
        .list_rooms(&[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), "livekit_unreachable", "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    // Bad input is refused before anything is sent.
    let before = fake.log.lock().unwrap().len();
    let e = rooms.list_participants("").await.unwrap_err();
    assert!(matches!(e, RoomServiceError::Input(_)), "{e:?}");
    assert_eq!(fake.log.lock().unwrap().len(), before);
}

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_switchboard"));
    c.env("SWITCHBOARD_KEYRING", "off")
        .env_remove("LIVEKIT_URL")
        .env_remove("LIVEKIT_API_KEY")
        .env_remove("LIVEKIT_API_SECRET");
    c
}

#[test]
fn cli_prints_a_token_the_official_sdk_accepts_and_lists_rooms_on_a_local_twirp_fake() {
    let Some(dir) = sdk("cli") else {
        return;
    };
    let out = cli()
        .env("LIVEKIT_API_KEY", KEY)
        .env("LIVEKIT_API_SECRET", SECRET)
        .args("livekit token --room call-9 --identity sup-3 --role supervisor --ttl 2m".split(' '))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains(SECRET) && !String::from_utf8_lossy(&out.stderr).contains(SECRET));
    let info: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(info["role"], "supervisor");
    let jwt = stdout.lines().last().unwrap();
    let v = official_verify(&dir, KEY, SECRET, jwt);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["video"]["hidden"], true);
    assert_eq!(v["video"]["can_publish"], false);

    // Without the secret: exit 2, naming where to put it, and no token.
    let out = cli()
        .env("LIVEKIT_API_KEY", KEY)
        .args("livekit token --room r --identity i --role agent".split(' '))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LIVEKIT_API_SECRET"));
    assert!(out.stdout.is_empty());
    let out = cli()
        .env("LIVEKIT_API_KEY", KEY)
        .env("LIVEKIT_API_SECRET", SECRET)
        .args("livekit token --room r --identity i --role owner".split(' '))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // Rooms on the server named by LIVEKIT_URL.
    let fake = TwirpFake::start(&dir);
    let with_server = |args: &[&str]| {
        cli()
            .env("LIVEKIT_API_KEY", KEY)
            .env("LIVEKIT_API_SECRET", SECRET)
            .env("LIVEKIT_URL", fake.url())
            .arg("livekit")
            .args(args)
            .output()
            .unwrap()
    };
    let out = with_server(&["create-room", "support-7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = with_server(&["participants", "support-7"]);
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines
        .iter()
        .any(|p| p["identity"] == "+971501234567" && p["kind"] == "sip"));
    let out = with_server(&["delete-room", "no-such-room"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not_found"));
    // No URL anywhere: exit 2, naming LIVEKIT_URL.
    let out = cli()
        .env("LIVEKIT_API_KEY", KEY)
        .env("LIVEKIT_API_SECRET", SECRET)
        .args(["livekit", "rooms"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LIVEKIT_URL"));
}

/// Runs only against a real server: `LIVEKIT_URL`, `LIVEKIT_API_KEY` and
/// `LIVEKIT_API_SECRET` set (e.g. `livekit-server --dev`; docs/livekit.md).
#[tokio::test]
async fn real_server_room_round_trip_only_when_livekit_url_is_set() {
    let (Ok(url), Ok(key), Ok(secret)) = (
        std::env::var("LIVEKIT_URL"),
        std::env::var("LIVEKIT_API_KEY"),
        std::env::var("LIVEKIT_API_SECRET"),
    ) else {
        eprintln!("skipping the real-server test: LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are not all set");
        return;
    };
    let creds = LiveKitCredentials::new(Some(&url), &key, &secret).unwrap();
    let rooms = RoomService::new(&creds).unwrap();
    let name = format!("switchboard-test-{}", std::process::id());
    let room = rooms
        .create_room(&name, &RoomOptions::default())
        .await
        .unwrap();
    assert_eq!(room.name, name);
    assert!(rooms
        .list_rooms(std::slice::from_ref(&name))
        .await
        .unwrap()
        .iter()
        .any(|r| r.name == name));
    assert!(rooms.list_participants(&name).await.unwrap().is_empty());
    rooms.delete_room(&name).await.unwrap();
}

#[tokio::test]
async fn the_webhook_endpoint_passes_signed_events_on_and_refuses_the_rest() {
    let Some(dir) = sdk("webhook endpoint") else {
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let server = WebhookServer::start(listener, WebhookVerifier::new(&creds(None)), tx).unwrap();
    let url = format!("http://{}{}", server.addr(), WEBHOOK_PATH);
    let http = reqwest::Client::new();
    let post = |body: String, auth: Option<String>| {
        let mut r = http.post(&url).body(body);
        if let Some(a) = auth {
            r = r.header("Authorization", a);
        }
        r.send()
    };

    let (body, auth) = signed_event(
        &dir,
        SECRET,
        "participant_joined EV_40 support-ar +966501112233 sip",
        &[],
    );
    let r = post(body.clone(), Some(auth.clone())).await.unwrap();
    assert_eq!(r.status(), 200);
    match rx.recv().await.unwrap() {
        WebhookEvent::ParticipantJoined {
            room, participant, ..
        } => {
            assert_eq!(
                (room.name.as_str(), participant.identity.as_str()),
                ("support-ar", "+966501112233")
            );
        }
        other => panic!("{other:?}"),
    }
    // Forged, unsigned, not an event, too large: refused with the reason, and
    // nothing reaches the agent.
    let r = post(
        body.replace("+966501112233", "+966500000000"),
        Some(auth.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("webhook_body_mismatch"));
    let r = post(body.clone(), None).await.unwrap();
    assert_eq!(r.status(), 401);
    let (junk, junk_auth) = signed(&dir, SECRET, &["--event", "x", "--raw-body", "[1, 2, 3]"]);
    let r = post(junk, Some(junk_auth)).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = post(" ".repeat(2 << 20), Some(auth.clone())).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 405);
    let elsewhere = format!("http://{}/other", server.addr());
    assert_eq!(
        http.post(&elsewhere)
            .body(body)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert!(
        rx.try_recv().is_err(),
        "a refused webhook reached the agent"
    );
}

/// `switchboard agent --webhooks`: a caller joining a room (a webhook signed by
/// the official SDK) makes the agent join that room — here a server that is
/// not there, so the attempt fails with the cause and the agent keeps serving.
#[cfg(feature = "whisper")]
#[test]
fn agent_cli_answers_the_room_a_webhook_announces() {
    let Some(dir) = sdk("agent webhooks") else {
        return;
    };
    let models = switchboard::models::models_dir();
    for m in ["livekit-ffi", "whisper-tiny-en"] {
        if let Err(e) = switchboard::models::installed_file_in(&models, m) {
            if std::env::var("SWITCHBOARD_REQUIRE_MODELS").as_deref() == Ok("1") {
                panic!("{m}: {e}");
            }
            eprintln!("skipping: {e}");
            return;
        }
    }
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut child = cli()
        .env("LIVEKIT_API_KEY", KEY)
        .env("LIVEKIT_API_SECRET", SECRET)
        .env("LIVEKIT_URL", format!("ws://127.0.0.1:{port}"))
        .args([
            "agent",
            "--webhooks",
            "127.0.0.1:0",
            "--llm",
            "fallback",
            "--db",
            "none",
            "--stt-model",
            "tiny.en",
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let err = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for l in err.lines().map_while(Result::ok) {
            sink.lock().unwrap().push(l);
        }
    });
    let wait_line = |pred: &dyn Fn(&str) -> bool, secs: u64| -> Option<String> {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if let Some(l) = lines.lock().unwrap().iter().find(|l| pred(l)) {
                return Some(l.clone());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    };
    let listening = wait_line(&|l| l.contains("webhooks: listening on http://"), 60)
        .unwrap_or_else(|| panic!("no listening line: {:?}", lines.lock().unwrap()));
    let url = listening.rsplit(' ').next().unwrap().to_string();
    let (body, auth) = signed_event(
        &dir,
        SECRET,
        "participant_joined EV_77 support-ar +971501234567 sip",
        &[],
    );
    let status = http_once::blocking_post(&url, &body, &auth);
    assert_eq!(status, 200);
    let tried = wait_line(
        &|l| l.contains("call in room \"support-ar\" not started"),
        30,
    )
    .unwrap_or_else(|| panic!("no attempt: {:?}", lines.lock().unwrap()));
    assert!(tried.contains("Connection refused"), "{tried}");
    assert!(!lines.lock().unwrap().iter().any(|l| l.contains(SECRET)));
    // Interrupted, it stops cleanly.
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        assert!(Instant::now() < until, "the agent did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, Some(0), "{:?}", lines.lock().unwrap());
}

#[cfg(feature = "whisper")]
mod http_once {
    /// One POST from a plain thread (the test is not async).
    pub fn blocking_post(url: &str, body: &str, auth: &str) -> u16 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            ::reqwest::Client::new()
                .post(url)
                .header("Authorization", auth)
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    }
}
