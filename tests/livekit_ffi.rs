//! LiveKit media through liblivekit_ffi (the `livekit-ffi` model, from the PyPI
//! `livekit` wheel): the library loads, audio goes through a source, a track and
//! a stream resampled to 16 kHz, a room that is not there is a clear error that
//! leaves no handle behind, and shutting the library down is clean.
//!
//! One test, in order: the library is process-wide and disposing it ends it for
//! every test in the binary. Skips without the model, or fails under
//! SWITCHBOARD_REQUIRE_MODELS=1 (scripts/test.sh).

mod common;

use std::f32::consts::PI;
use std::time::{Duration, Instant};

use switchboard::hub::LocalHub;
use switchboard::livekit::ffi::{
    self, live_handles, settled_live_handles, AudioSource, AudioStream, FfiClient, FfiError,
    LocalAudioTrack, Room, RoomOptions,
};
use switchboard::livekit::{
    mint, start_room_call, LiveKitCredentials, Role, RoomCall, RoomCallError, TokenRequest,
};

fn installed() -> bool {
    match ffi::library_path() {
        Ok(p) if p.is_file() => true,
        other => {
            if std::env::var("SWITCHBOARD_REQUIRE_MODELS").as_deref() == Ok("1") {
                panic!("liblivekit_ffi: {other:?} (SWITCHBOARD_REQUIRE_MODELS=1)");
            }
            eprintln!("skipping: liblivekit_ffi is not installed ({other:?})");
            false
        }
    }
}

/// Live handles once pending releases are done and any frame still in flight
/// from a closed stream has come and gone (up to 2 s).
fn settled(want: usize) -> usize {
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        let n = settled_live_handles(Duration::from_secs(2));
        if n == want || Instant::now() > until {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn tone(hz: f32, rate: u32, ms: u32) -> Vec<i16> {
    let n = (rate * ms / 1000) as usize;
    (0..n)
        .map(|i| ((2.0 * PI * hz * i as f32 / rate as f32).sin() * 12_000.0) as i16)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_flows_a_missing_room_is_a_clear_error_and_shutdown_is_clean() {
    if !installed() {
        return;
    }
    let client = FfiClient::get().expect("the library loads");
    assert!(
        client.path().ends_with("liblivekit_ffi.so"),
        "{:?}",
        client.path()
    );
    let baseline = live_handles();

    // The agent's voice at 48 kHz into a source, a track on it, and a stream of
    // that track at the engine's 16 kHz mono.
    {
        let source = AudioSource::new(48_000, 1, 200).unwrap();
        let track = LocalAudioTrack::new("agent-voice", &source).unwrap();
        let mut stream = AudioStream::for_track(track.handle_id(), 16_000, 1, 10).unwrap();
        assert_eq!(live_handles(), baseline + 3);
        let second = tone(440.0, 48_000, 1000);
        let started = Instant::now();
        for frame in second.chunks(480) {
            source.capture(frame).await.unwrap();
        }
        let pushed = started.elapsed();
        eprintln!("pushed 1 s of audio in 10 ms frames in {pushed:?}");
        let mut got = Vec::new();
        while let Some(f) = stream.next_within(Duration::from_millis(500)).await {
            assert_eq!((f.sample_rate, f.channels), (16_000, 1), "{f:?}");
            got.extend(f.samples);
            if got.len() >= 16_000 {
                break;
            }
        }
        eprintln!("received {} samples at 16 kHz", got.len());
        // What came out is the tone that went in: loud, and at 440 Hz once
        // resampled from 48 kHz to 16 kHz.
        assert!(got.len() >= 8_000, "only {} samples came out", got.len());
        let voiced: Vec<i16> = got
            .iter()
            .copied()
            .skip_while(|s| s.abs() < 1_000)
            .collect();
        assert!(
            voiced.len() >= 4_000,
            "the tone did not come through: {} loud samples",
            voiced.len()
        );
        let rms = (voiced.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / voiced.len() as f64)
            .sqrt();
        assert!(rms > 4_000.0, "rms {rms}");
        let crossings = voiced
            .windows(2)
            .filter(|w| (w[0] < 0) != (w[1] < 0))
            .count();
        let hz = crossings as f64 / 2.0 / (voiced.len() as f64 / 16_000.0);
        eprintln!("tone out: {hz:.0} Hz, rms {rms:.0}");
        assert!((hz - 440.0).abs() < 15.0, "{hz} Hz");
        // Bad input is refused before the library sees it.
        assert!(matches!(
            AudioSource::new(1_000, 1, 200),
            Err(FfiError::Input(_))
        ));
        source.clear().unwrap();
    }
    // What a call takes in: the same audio as the engine's 20 ms 16 kHz frames.
    {
        let source = AudioSource::new(16_000, 1, 200).unwrap();
        let track = LocalAudioTrack::new("caller", &source).unwrap();
        let stream = AudioStream::for_track(track.handle_id(), 16_000, 1, 10).unwrap();
        let collect = tokio::spawn(async move {
            let mut loud = 0;
            stream
                .frames(|f| {
                    loud += usize::from(f.samples.iter().any(|s| s.unsigned_abs() > 2_000));
                    loud < 10
                })
                .await;
            loud
        });
        for frame in tone(440.0, 16_000, 400).chunks(160) {
            source.capture(frame).await.unwrap();
        }
        let loud = tokio::time::timeout(Duration::from_secs(5), collect)
            .await
            .expect("frames keep coming")
            .unwrap();
        assert_eq!(loud, 10, "the call hears the tone in whole frames");
    }
    // Frames still in flight when the stream closed are released just after.
    let t = Instant::now();
    assert_eq!(settled(baseline), baseline, "every handle released");
    eprintln!("handles settled in {:?}", t.elapsed());

    // Nothing listens on this port: a clear error, and nothing left behind.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let creds =
        LiveKitCredentials::new(None, "APIkey", "secret-of-thirty-two-characters!").unwrap();
    let token = mint(&creds, &TokenRequest::new("call-1", "agent-1", Role::Agent)).unwrap();
    let opts = RoomOptions {
        connect_timeout: Duration::from_secs(3),
        join_retries: 0,
    };
    let started = Instant::now();
    let err = Room::connect(&format!("ws://127.0.0.1:{port}"), &token, &opts)
        .await
        .unwrap_err();
    eprintln!(
        "connect to a closed port: {err} after {:?}",
        started.elapsed()
    );
    assert!(matches!(err, FfiError::Connect(_)), "{err:?}");
    assert_eq!(err.code(), "livekit_connect_failed");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(settled(baseline), baseline, "a failed join leaks no handle");

    // The same for a whole call: no call is started, nothing is left behind.
    let hub = LocalHub::new(64);
    let creds = LiveKitCredentials::new(
        Some(&format!("ws://127.0.0.1:{port}")),
        "APIkey",
        "secret-of-thirty-two-characters!",
    )
    .unwrap();
    let call = RoomCall {
        room: "support-ar-7".into(),
        agent_identity: "switchboard-agent".into(),
        call_id: "call-room-1".into(),
        config: Default::default(),
        providers: common::providers(None, common::fast_fake_tts()),
        crm: None,
        record: None,
        customer_wait: Duration::from_secs(5),
        room_options: opts.clone(),
    };
    let started = Instant::now();
    let err = match start_room_call(&hub, &creds, call).await {
        Ok(h) => panic!("call {} started with no room", h.call_id),
        Err(e) => e,
    };
    assert!(
        matches!(err, RoomCallError::Media(FfiError::Connect(_))),
        "{err:?}"
    );
    assert!(err.to_string().contains("Connection refused"), "{err}");
    eprintln!("room call refused after {:?}", started.elapsed());
    assert!(hub.is_empty(), "no call was started");
    assert_eq!(settled(baseline), baseline);

    // Listening in: the same clear refusal, nothing left behind.
    let (tap, _frames) = tokio::sync::mpsc::channel(8);
    match switchboard::livekit::listen_to_room(&creds, "support-ar-7", "supervisor-1", tap, None)
        .await
    {
        Ok(_) => panic!("listening to a room that is not there"),
        Err(e) => assert!(e.to_string().contains("Connection refused"), "{e}"),
    }
    assert_eq!(settled(baseline), baseline);

    // Shut down: later requests say so instead of crashing.
    ffi::dispose();
    let err = AudioSource::new(48_000, 1, 200).unwrap_err();
    assert_eq!(err, FfiError::Disposed);
    ffi::dispose();
}

/// The message types compiled into the engine (build.rs) come from the
/// descriptors of the very wheel the installed library came from.
#[test]
fn the_compiled_message_schema_is_the_installed_wheels() {
    if !installed() {
        return;
    }
    let lib = ffi::library_path().unwrap();
    let proto_dir = lib.parent().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("python3")
        .arg(root.join("scripts/livekit-ffi-protos.py"))
        .arg(proto_dir)
        .arg("--check")
        .arg(root.join("src/livekit/ffi/livekit_ffi.fds"))
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn agent_cli() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"));
    c.env("SWITCHBOARD_KEYRING", "off")
        .env_remove("LIVEKIT_URL")
        .env_remove("LIVEKIT_API_KEY")
        .env_remove("LIVEKIT_API_SECRET");
    c
}

#[test]
fn agent_cli_names_what_is_missing_and_a_room_that_is_not_there() {
    // No credentials: exit 2 before anything is loaded.
    let out = agent_cli()
        .args([
            "agent", "--room", "call-1", "--db", "none", "--llm", "fallback",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("LIVEKIT_API_KEY"), "{err}");
    // No URL: exit 2 naming LIVEKIT_URL.
    let out = agent_cli()
        .env("LIVEKIT_API_KEY", "APIkey")
        .env("LIVEKIT_API_SECRET", "secret-of-thirty-two-characters!")
        .args([
            "agent", "--room", "call-1", "--db", "none", "--llm", "fallback",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("LIVEKIT_URL"));
    #[cfg(feature = "whisper")]
    {
        if !installed() {
            return;
        }
        // Everything installed, nothing listening: exit 1 with the cause, no
        // event printed (no call started).
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let out = agent_cli()
            .env("LIVEKIT_API_KEY", "APIkey")
            .env("LIVEKIT_API_SECRET", "secret-of-thirty-two-characters!")
            .env("LIVEKIT_URL", format!("ws://127.0.0.1:{port}"))
            .args([
                "agent",
                "--room",
                "call-1",
                "--db",
                "none",
                "--llm",
                "fallback",
                "--stt-model",
                "tiny.en",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("cannot join the LiveKit room"), "{err}");
        assert!(err.contains("Connection refused"), "{err}");
        assert!(!err.contains("secret-of-thirty-two-characters!"));
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn bench_livekit_reports_push_cost_and_time_through_the_library() {
    if !installed() {
        return;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["bench-livekit", "--runs", "2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // "pushed → out of a 16 kHz stream: p50 20.2 ms, …": a number, and within
    // the source's queue plus a frame (the tone must come out, not time out).
    let line = text
        .lines()
        .find(|l| l.starts_with("pushed → out"))
        .expect(&text);
    let p50: f64 = line
        .split("p50 ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect(line);
    assert!(p50 > 0.0 && p50 < 200.0, "{line}");
    assert!(text.contains("push of one 20 ms frame: p50"), "{text}");
    assert!(
        text.contains("worker → wall through the room's data")
            && text.contains("4000 messages of history"),
        "{text}"
    );
}
