//! The durable record survives a database outage: PostgreSQL is stopped in the middle
//! of a call and started again; every turn ends up in the database exactly once, in
//! order. Runs its own PostgreSQL (scripts/pg.sh) so other tests are not disturbed.

mod common_pg;

use std::sync::Arc;
use std::time::Duration;

use common_pg::OwnPg;
use switchboard::call::{
    CallCommand, CallConfig, CallHandle, CallIo, CallSetup, InboundFrame, OutboundFrame, Providers,
    SupervisorCommand,
};
use switchboard::crm::CrmStore;
use switchboard::events::{CustomerInfo, EventKind, Stage};
use switchboard::hub::{CallHub, LocalHub};
use switchboard::lang::LangHint;
use switchboard::persist::{customer_for_call, CrmWriter};
use switchboard::sentiment::LexiconSentiment;
use switchboard::tts::fake::FakeTextToSpeech;
use tokio::sync::mpsc;

fn start_call(
    hub: &LocalHub,
    customer: CustomerInfo,
    ctx: Option<String>,
    writer: &CrmWriter,
) -> CallHandle {
    let (cust_tx, cust_rx) = mpsc::channel::<InboundFrame>(8);
    let (agent_tx, mut agent_rx) = mpsc::channel::<OutboundFrame>(4096);
    tokio::spawn(async move {
        // Keep the customer line open for the whole call.
        let _line = cust_tx;
        while agent_rx.recv().await.is_some() {}
    });
    hub.start_call(CallSetup {
        call_id: uuid::Uuid::new_v4().to_string(),
        customer,
        customer_context: ctx,
        config: CallConfig {
            lang: LangHint::Auto,
            frame_period: Duration::from_millis(2),
            ..Default::default()
        },
        providers: Providers {
            stt: None,
            llm: None,
            tts: vec![Arc::new(FakeTextToSpeech::new().with_timing(10, 100))],
            sentiment: Arc::new(LexiconSentiment::new()),
            end_of_turn: None,
        },
        io: CallIo {
            customer_audio: cust_rx,
            supervisor_audio: None,
            agent_audio: agent_tx,
            // As a call in a LiveKit room: the room is kept on the call's row.
            transport: "livekit".into(),
            room: Some("دعم-العملاء-7".into()),
        },
        record: Some(writer.recorder()),
    })
}

async fn say(h: &CallHandle, text: &str) {
    let before = h.status().turns;
    h.send(CallCommand::CustomerText {
        text: text.into(),
        lang: None,
    })
    .await
    .unwrap();
    h.wait_for(Duration::from_secs(10), |s| s.turns > before)
        .await
        .unwrap();
    h.wait_for(Duration::from_secs(10), |s| !s.busy)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_call_loses_nothing_and_writes_nothing_twice() {
    let Some(pg) = OwnPg::start("postgres_stopped_mid_call") else {
        return;
    };
    let store = CrmStore::connect(&pg.url).await.expect("connect");
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox.jsonl");
    let hub = LocalHub::new(4096);
    let mut events = hub.subscribe();
    let writer = CrmWriter::spawn(store.clone(), &outbox, Some(hub.event_sender())).unwrap();
    let (customer, ctx) = customer_for_call(
        &store,
        &CustomerInfo {
            id: None,
            phone: Some("00963 944 000 111".into()),
            name: Some("رنا".into()),
        },
    )
    .await
    .unwrap();
    assert_eq!(customer.phone.as_deref(), Some("+963944000111"));
    let h = start_call(&hub, customer.clone(), ctx, &writer);
    h.wait_for(Duration::from_secs(10), |s| !s.busy)
        .await
        .unwrap();
    say(&h, "مرحبا، بدي أعرف وين صار الطلب تبعي").await;
    say(&h, "رقم الطلب ٥٥١٢").await;
    assert_eq!(
        writer.flush(Duration::from_secs(10)).await.unwrap().pending,
        0
    );

    pg.stop();
    say(&h, "The router is broken since yesterday, this is terrible").await;
    h.supervisor(SupervisorCommand::Whisper {
        text: "Offer a technician visit today".into(),
    })
    .await
    .unwrap();
    say(&h, "When will the technician come?").await;
    let parked = writer.flush(Duration::from_secs(20)).await.unwrap().pending;
    assert!(
        parked >= 5,
        "writes wait in the outbox while the database is down: {parked}"
    );
    assert!(outbox.exists());

    pg.restart();
    say(&h, "شكرا كتير، مع السلامة").await;
    h.send(CallCommand::Hangup).await.unwrap();
    h.ended().await;
    let mut pending = usize::MAX;
    for _ in 0..40 {
        pending = writer.flush(Duration::from_secs(10)).await.unwrap().pending;
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(pending, 0, "the outbox drained once PostgreSQL was back");
    assert!(!outbox.exists(), "a drained outbox is removed");

    // The outage was reported on the call's event stream.
    let mut told = false;
    while let Ok(ev) = events.try_recv() {
        if let EventKind::Error {
            stage: Stage::Crm,
            code,
            fallback,
            ..
        } = &ev.kind
        {
            told |= code == "crm_unavailable" && fallback.as_deref() == Some("outbox");
        }
    }
    assert!(told);

    let turns = store.turns_of_call(&h.call_id).await.unwrap();
    let lines: Vec<(i64, String, String)> = turns
        .iter()
        .map(|t| (t.idx, t.speaker.clone(), t.text.clone()))
        .collect();
    // Greeting, then five customer lines each answered: 11 rows, indices 0..=10, once each.
    assert_eq!(lines.len(), 11, "{lines:#?}");
    assert!(
        lines.iter().enumerate().all(|(i, l)| l.0 == i as i64),
        "{lines:#?}"
    );
    let customer_lines: Vec<&str> = lines
        .iter()
        .filter(|l| l.1 == "customer")
        .map(|l| l.2.as_str())
        .collect();
    assert_eq!(
        customer_lines,
        vec![
            "مرحبا، بدي أعرف وين صار الطلب تبعي",
            "رقم الطلب ٥٥١٢",
            "The router is broken since yesterday, this is terrible",
            "When will the technician come?",
            "شكرا كتير، مع السلامة"
        ]
    );
    assert!(turns
        .iter()
        .filter(|t| t.speaker == "customer")
        .all(|t| t.sentiment_label.is_some()));
    assert!(turns
        .iter()
        .filter(|t| t.speaker == "agent" && t.idx > 0)
        .all(|t| t.total_ms.is_some()));
    let call = store.call(&h.call_id).await.unwrap().expect("call row");
    assert_eq!(call.outcome.as_deref(), Some("customer_hangup"));
    assert_eq!(
        (call.transport.as_str(), call.room.as_deref()),
        ("livekit", Some("دعم-العملاء-7"))
    );
    assert!(call.summary.as_deref().unwrap_or("").contains("رنا"));
    assert!(call.sentiment_min.unwrap() < 0.0);
    let actions = store.supervisor_actions_of_call(&h.call_id).await.unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].action, "whisper");
    let c = store
        .customer(customer.id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.total_calls, 1, "counted once despite the replay");
    // The complaint opened a support ticket, recorded once.
    let tickets = store.tickets_of_customer(&c.id).await.unwrap();
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0].call_id.as_deref(), Some(h.call_id.as_str()));
    assert_eq!(c.total_tickets, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outbox_left_by_a_crash_is_replayed_by_the_next_run_exactly_once() {
    let Some(pg) = OwnPg::start("outbox_left_by_a_crash") else {
        return;
    };
    let url = pg.url.clone();
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox.jsonl");
    let store = CrmStore::connect(&url).await.unwrap();
    let (customer, _) = customer_for_call(
        &store,
        &CustomerInfo {
            id: None,
            phone: Some("+971501234567".into()),
            name: Some("James".into()),
        },
    )
    .await
    .unwrap();
    pg.stop();
    // A first run records a call while the database is down, then "crashes": its
    // runtime is torn down with the writes still in the outbox.
    let call_id = {
        let outbox = outbox.clone();
        let store = store.clone();
        let customer = customer.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let hub = LocalHub::new(1024);
                let writer = CrmWriter::spawn(store, &outbox, None).unwrap();
                let h = start_call(&hub, customer, None, &writer);
                h.wait_for(Duration::from_secs(10), |s| !s.busy)
                    .await
                    .unwrap();
                say(&h, "I want to upgrade my plan").await;
                h.send(CallCommand::Hangup).await.unwrap();
                h.ended().await;
                let report = writer.flush(Duration::from_secs(20)).await.unwrap();
                assert!(report.pending >= 4);
                h.call_id.clone()
            })
        })
        .join()
        .unwrap()
    };
    let parked = std::fs::read_to_string(&outbox).unwrap();
    // Simulate a replay that was cut off after applying its first write: the next run
    // sees that write again.
    let first = parked.lines().next().unwrap().to_string();
    std::fs::write(
        &outbox,
        format!("{first}\n{parked}{{\"op\":\"turn\",\"call_id\":\"torn"),
    )
    .unwrap();

    pg.restart();
    let store = CrmStore::connect(&url).await.unwrap();
    let writer = CrmWriter::spawn(store.clone(), &outbox, None).unwrap();
    let mut pending = usize::MAX;
    for _ in 0..40 {
        pending = writer.flush(Duration::from_secs(10)).await.unwrap().pending;
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(pending, 0);
    let turns = store.turns_of_call(&call_id).await.unwrap();
    assert_eq!(
        turns.len(),
        3,
        "greeting, customer, agent — once each: {turns:#?}"
    );
    let c = store
        .customer(customer.id.as_deref().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.total_calls, 1);
    assert!(store
        .call(&call_id)
        .await
        .unwrap()
        .unwrap()
        .ended_at
        .is_some());
}

/// A busy console never pauses between events: the outbox must still be retried on
/// its own schedule (events arriving every 100 ms must not keep postponing it), and
/// drain as soon as the database is back — without anyone calling `flush`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_console_drains_the_outbox_without_waiting_for_a_lull() {
    let Some(pg) = OwnPg::start("busy_console_outbox") else {
        return;
    };
    let store = CrmStore::connect(&pg.url).await.expect("connect");
    let tmp = tempfile::tempdir().unwrap();
    let outbox = tmp.path().join("outbox.jsonl");
    let hub = LocalHub::new(4096);
    let writer = CrmWriter::spawn(store.clone(), &outbox, Some(hub.event_sender())).unwrap();
    let (customer, ctx) = customer_for_call(
        &store,
        &CustomerInfo {
            id: None,
            phone: Some("+447700900123".into()),
            name: Some("John".into()),
        },
    )
    .await
    .unwrap();
    let quiet = start_call(&hub, customer.clone(), ctx.clone(), &writer);
    let busy = start_call(&hub, customer, ctx, &writer);
    for h in [&quiet, &busy] {
        h.wait_for(Duration::from_secs(10), |s| !s.busy)
            .await
            .unwrap();
    }

    pg.stop();
    say(&quiet, "My invoice is wrong this month").await;
    let parked = async {
        while !outbox.exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), parked)
        .await
        .expect("the write was parked in the outbox");
    pg.restart();

    // The supervisor keeps whispering to the other call every 100 ms.
    let started = std::time::Instant::now();
    let mut whispers = 0;
    while outbox.exists() && started.elapsed() < Duration::from_secs(20) {
        busy.supervisor(SupervisorCommand::Whisper {
            text: format!("note {whispers}"),
        })
        .await
        .unwrap();
        whispers += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained_after = started.elapsed();
    eprintln!("outbox drained {drained_after:?} after the restart, {whispers} whispers meanwhile");
    assert!(
        !outbox.exists(),
        "the outbox was never retried while events kept arriving"
    );
    assert_eq!(
        writer.flush(Duration::from_secs(10)).await.unwrap().pending,
        0
    );
    let lines: Vec<String> = store
        .turns_of_call(&quiet.call_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.speaker == "customer")
        .map(|t| t.text)
        .collect();
    assert_eq!(lines, vec!["My invoice is wrong this month".to_string()]);
    let actions = store
        .supervisor_actions_of_call(&busy.call_id)
        .await
        .unwrap();
    assert_eq!(actions.len(), whispers, "every whisper recorded once");
}

/// A customer reads out their card number (in Arabic-Indic digits) and an
/// IBAN: the call hears them, but the stored transcript never holds them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn card_numbers_and_ibans_are_masked_before_they_are_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", tmp.path().join("crm.sqlite3").display());
    let store = CrmStore::connect(&url).await.unwrap();
    let writer = CrmWriter::spawn(store.clone(), &tmp.path().join("outbox.jsonl"), None).unwrap();
    let hub = LocalHub::new(1024);
    let h = start_call(&hub, CustomerInfo::default(), None, &writer);
    say(&h, "بدي أدفع الفاتورة ببطاقتي ٤١١١ ١١١١ ١١١١ ١١١١ لو سمحت").await;
    say(
        &h,
        "Or take it from IBAN AE07 0331 2345 6789 0123 456, order 5512",
    )
    .await;
    h.send(CallCommand::Hangup).await.unwrap();
    h.ended().await;
    writer.flush(Duration::from_secs(10)).await.unwrap();
    let turns = store.turns_of_call(&h.call_id).await.unwrap();
    let customer: Vec<&str> = turns
        .iter()
        .filter(|t| t.speaker == "customer")
        .map(|t| t.text.as_str())
        .collect();
    assert_eq!(
        customer,
        [
            "بدي أدفع الفاتورة ببطاقتي •••• •••• •••• •••• لو سمحت",
            "Or take it from IBAN AE•• •••• •••• •••• •••• •••, order 5512",
        ]
    );
    let call = store.call(&h.call_id).await.unwrap().unwrap();
    let summary = call.summary.unwrap_or_default();
    assert!(
        !summary.contains("١١١١") && !summary.contains("0331"),
        "{summary}"
    );
    let outbox = std::fs::read_to_string(tmp.path().join("outbox.jsonl")).unwrap_or_default();
    assert!(
        !outbox.contains("١١١١") && !outbox.contains("6789"),
        "{outbox}"
    );
}
