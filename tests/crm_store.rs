//! The CRM store against real databases. Every store test runs twice: on SQLite (a
//! file in a temp folder) and on PostgreSQL (a fresh database on the server named by
//! SWITCHBOARD_TEST_PG_URL; see tests/common_pg).

#[macro_use]
mod common_pg;

use std::time::Duration;

use common_pg::{OwnPg, TestDb};
use switchboard::crm::{
    Backend, CallEnd, CrmError, CrmStore, Customer, NewCall, NewCustomer, NewTicket,
    SupervisorActionRow, TicketStatus, TicketUpdate, TurnRow,
};

const PHONE: &str = "+963944000111";

/// A history row as (field, old, new, changed_by, reason).
type ChangeView<'a> = (
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
);

fn customer(phone: &str, name: Option<&str>) -> NewCustomer {
    NewCustomer {
        phone: phone.into(),
        name: name.map(Into::into),
        ..Default::default()
    }
}

async fn new_customer(store: &CrmStore, phone: &str, name: &str) -> Customer {
    store
        .upsert_customer(&customer(phone, Some(name)))
        .await
        .expect("upsert customer")
}

fn ticket(customer_id: &str, subject: &str) -> NewTicket {
    NewTicket {
        id: None,
        customer_id: customer_id.into(),
        subject: subject.into(),
        description: format!("{subject} (details)"),
        department: "support".into(),
        priority: "normal".into(),
        call_id: None,
        created_by: "agent".into(),
    }
}

fn call(id: &str, customer_id: Option<&str>, started_at: i64) -> NewCall {
    NewCall {
        id: id.into(),
        customer_id: customer_id.map(Into::into),
        transport: "simulated".into(),
        room: Some(format!("room-{id}")),
        started_at,
    }
}

fn turn(call_id: &str, idx: i64, speaker: &str, text: &str, lang: &str) -> TurnRow {
    let agent = speaker == "agent";
    TurnRow {
        call_id: call_id.into(),
        idx,
        speaker: speaker.into(),
        text: text.into(),
        lang: lang.into(),
        sentiment_score: (!agent).then_some(-0.25),
        sentiment_label: (!agent).then(|| "negative".to_string()),
        persona: Some("support".into()),
        interrupted: idx % 3 == 2,
        eou_ms: agent.then_some(210.5),
        stt_ms: agent.then_some(95.25),
        llm_first_token_ms: agent.then_some(310.0),
        tts_first_audio_ms: agent.then_some(120.125),
        total_ms: agent.then_some(736.0),
        started_at: 1_700_000_000_000 + idx * 4000,
        ended_at: 1_700_000_000_000 + idx * 4000 + 2500,
        audio_start_ms: Some(idx * 4000),
        audio_end_ms: Some(idx * 4000 + 2500),
    }
}

fn call_end(id: &str, ended_at: i64, summary: &str) -> CallEnd {
    CallEnd {
        id: id.into(),
        ended_at,
        outcome: "completed".into(),
        final_persona: "support".into(),
        summary: summary.into(),
        sentiment_avg: Some(-0.125),
        sentiment_min: Some(-0.75),
    }
}

fn action(id: &str, call_id: &str, at: i64) -> SupervisorActionRow {
    SupervisorActionRow {
        id: id.into(),
        call_id: call_id.into(),
        actor: "supervisor".into(),
        action: "takeover".into(),
        detail: Some(r#"{"text":"Hi, this is Lina."}"#.into()),
        at,
    }
}

/// Tickets created in one millisecond would tie on created_at.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(3)).await;
}

fn assert_not_found(r: Result<impl std::fmt::Debug, CrmError>, what: &str) {
    match r {
        Err(CrmError::NotFound { what: w, .. }) => assert_eq!(w, what),
        other => panic!("expected NotFound {what}, got {other:?}"),
    }
}

async fn migration_versions(db: &TestDb) -> Vec<i64> {
    let sql = "SELECT version FROM _sqlx_migrations ORDER BY version";
    match db {
        TestDb::Sqlite { .. } => {
            let pool = sqlx::SqlitePool::connect(db.url())
                .await
                .expect("raw sqlite");
            let v = sqlx::query_scalar(sql)
                .fetch_all(&pool)
                .await
                .expect("versions");
            pool.close().await;
            v
        }
        TestDb::Postgres { .. } => {
            let pool = sqlx::PgPool::connect(db.url()).await.expect("raw pg");
            let v = sqlx::query_scalar(sql)
                .fetch_all(&pool)
                .await
                .expect("versions");
            pool.close().await;
            v
        }
    }
}

on_both!(migrations_are_idempotent, |db, store| {
    let c = new_customer(&store, PHONE, "Rana").await;
    // Connect again (already migrated), and twice at once.
    let again = CrmStore::connect(db.url()).await.expect("second connect");
    let (a, b) = tokio::join!(CrmStore::connect(db.url()), CrmStore::connect(db.url()));
    let (a, b) = (
        a.expect("concurrent connect a"),
        b.expect("concurrent connect b"),
    );
    for s in [&again, &a, &b] {
        s.ping().await.expect("ping");
        assert_eq!(s.customer(&c.id).await.expect("read").expect("exists"), c);
        s.close().await;
    }
    let expected = match store.backend() {
        Backend::Sqlite => vec![1, 2, 1001],
        Backend::Postgres => vec![1, 2, 2001],
    };
    assert_eq!(migration_versions(&db).await, expected);
    if let Some(path) = db.sqlite_path() {
        assert!(path.exists(), "the SQLite file and its folders are created");
        let pool = sqlx::SqlitePool::connect(db.url())
            .await
            .expect("raw sqlite");
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .expect("pragma");
        assert_eq!(mode, "wal");
        pool.close().await;
    }
});

on_both!(upsert_finds_one_customer_in_any_spelling, |db, store| {
    let first = store
        .upsert_customer(&customer("+963 944-000-111", Some("Rana")))
        .await
        .expect("create");
    assert_eq!(first.phone, PHONE);
    assert_eq!(first.name.as_deref(), Some("Rana"));
    assert_eq!(
        (
            first.tier.as_str(),
            first.vip,
            first.total_calls,
            first.total_tickets
        ),
        ("standard", false, 0, 0)
    );
    assert_eq!(first.language, None);
    assert_eq!(first.last_interaction, None);

    // No fields given: nothing changes, not even updated_at.
    let same = store
        .upsert_customer(&customer("00963944000111", None))
        .await
        .expect("upsert 00");
    assert_eq!(same, first);

    let gold = store
        .upsert_customer(&NewCustomer {
            phone: "+٩٦٣٩٤٤٠٠٠١١١".into(),
            tier: Some("gold".into()),
            vip: Some(true),
            language: Some("ar".into()),
            ..Default::default()
        })
        .await
        .expect("upsert arabic digits");
    assert_eq!(gold.id, first.id);
    assert_eq!(
        gold.name.as_deref(),
        Some("Rana"),
        "a field not given keeps its value"
    );
    assert_eq!(
        (gold.tier.as_str(), gold.vip, gold.language.as_deref()),
        ("gold", true, Some("ar"))
    );
    assert_eq!(gold.created_at, first.created_at);
    assert!(gold.updated_at >= first.updated_at);

    let renamed = store
        .upsert_customer(&NewCustomer {
            phone: "\u{200E}+963 (944) 000 111".into(),
            name: Some("Rana K.".into()),
            email: Some("rana@example.com".into()),
            ..Default::default()
        })
        .await
        .expect("rename");
    assert_eq!(renamed.id, first.id);
    assert_eq!(renamed.name.as_deref(), Some("Rana K."));
    assert_eq!((renamed.tier.as_str(), renamed.vip), ("gold", true));

    for spelling in ["+۹۶۳۹۴۴۰۰۰۱۱۱", "00963 944 000 111", PHONE] {
        let found = store
            .customer_by_phone(spelling)
            .await
            .expect("lookup")
            .expect("found");
        assert_eq!(found, renamed, "{spelling}");
    }
    assert_eq!(
        store.customer(&first.id).await.expect("by id"),
        Some(renamed.clone())
    );
    assert_eq!(store.customer("no-such-id").await.expect("by id"), None);
    assert_eq!(
        store
            .customer_by_phone("+963944000112")
            .await
            .expect("lookup"),
        None
    );

    let other = new_customer(&store, "+44 20 7946 0958", "Sam").await;
    assert_ne!(other.id, first.id);
    assert_eq!(other.phone, "+442079460958");
});

on_both!(invalid_phones_are_rejected_clearly, |db, store| {
    let cases = [
        ("", "empty"),
        ("0944000111", "no country code"),
        ("+963 944 abc 111", "letters"),
        ("+12345", "too short"),
        ("+1234567890123456", "too long"),
        ("'; DROP TABLE customers; --", "unexpected character"),
    ];
    for (input, why) in cases {
        match store.upsert_customer(&customer(input, Some("x"))).await {
            Err(e @ CrmError::InvalidPhone { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(why), "{input:?}: {msg}");
                assert_eq!(e.code(), "invalid_phone");
                assert!(!e.is_unavailable());
            }
            other => panic!("{input:?} accepted: {other:?}"),
        }
        assert!(
            matches!(
                store.customer_by_phone(input).await,
                Err(CrmError::InvalidPhone { .. })
            ),
            "{input:?}"
        );
    }
    // Nothing was written: the only customer is the one made now.
    new_customer(&store, PHONE, "Rana").await;
    let imported = store
        .import_customers(&[customer(PHONE, None)])
        .await
        .expect("import");
    assert_eq!(imported, 0);
    assert!(matches!(
        store
            .import_customers(&[customer("+963944000222", None), customer("12", None)])
            .await,
        Err(CrmError::InvalidPhone { .. })
    ));
    assert_eq!(
        store
            .customer_by_phone("+963944000222")
            .await
            .expect("lookup"),
        None,
        "import is all or nothing"
    );
});

on_both!(ticket_lifecycle_keeps_history, |db, store| {
    let c = new_customer(&store, PHONE, "Rana").await;
    let t = store
        .create_ticket(&ticket(&c.id, "Router keeps dropping"))
        .await
        .expect("create");
    assert_eq!(t.status, TicketStatus::Open);
    assert_eq!((t.assignee.clone(), t.call_id.clone()), (None, None));
    assert_eq!(store.ticket(&t.id).await.expect("read"), Some(t.clone()));
    assert_eq!(
        store
            .customer(&c.id)
            .await
            .expect("read")
            .expect("c")
            .total_tickets,
        1
    );

    let assigned = store
        .update_ticket(
            &t.id,
            &TicketUpdate {
                assignee: Some(Some("lina".into())),
                ..Default::default()
            },
            "supervisor",
        )
        .await
        .expect("assign");
    assert_eq!(assigned.assignee.as_deref(), Some("lina"));
    let s1 = store
        .set_ticket_status(&t.id, TicketStatus::InProgress, "lina", "looking into it")
        .await
        .expect("s1");
    assert_eq!(s1.status, TicketStatus::InProgress);
    store
        .set_ticket_status(
            &t.id,
            TicketStatus::Waiting,
            "lina",
            "waiting for the customer",
        )
        .await
        .expect("s2");
    let resolved = store
        .set_ticket_status(&t.id, TicketStatus::Resolved, "lina", "router replaced")
        .await
        .expect("s3");
    // The status it already has: no change, no history.
    let again = store
        .set_ticket_status(&t.id, TicketStatus::Resolved, "lina", "again")
        .await
        .expect("s3 again");
    assert_eq!(again, resolved);
    // Editing other fields writes no history; unassigning does.
    let edited = store
        .update_ticket(
            &t.id,
            &TicketUpdate {
                subject: Some("Router drops every evening".into()),
                priority: Some("high".into()),
                assignee: Some(None),
                ..Default::default()
            },
            "supervisor",
        )
        .await
        .expect("edit");
    assert_eq!(
        (
            edited.subject.as_str(),
            edited.priority.as_str(),
            edited.assignee.clone()
        ),
        ("Router drops every evening", "high", None)
    );
    assert_eq!(edited.status, TicketStatus::Resolved);
    assert_eq!(
        store.ticket(&t.id).await.expect("read"),
        Some(edited.clone())
    );
    let unchanged = store
        .update_ticket(&t.id, &TicketUpdate::default(), "supervisor")
        .await
        .expect("no-op");
    assert_eq!(unchanged, edited);
    store
        .set_ticket_status(&t.id, TicketStatus::Closed, "supervisor", "")
        .await
        .expect("close");

    let h = store.ticket_history(&t.id).await.expect("history");
    let rows: Vec<ChangeView> = h
        .iter()
        .map(|c| {
            (
                c.field.as_str(),
                c.old_value.as_deref(),
                c.new_value.as_deref(),
                c.changed_by.as_str(),
                c.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("created", None, Some("open"), "agent", None),
            ("assignee", None, Some("lina"), "supervisor", None),
            (
                "status",
                Some("open"),
                Some("in_progress"),
                "lina",
                Some("looking into it")
            ),
            (
                "status",
                Some("in_progress"),
                Some("waiting"),
                "lina",
                Some("waiting for the customer")
            ),
            (
                "status",
                Some("waiting"),
                Some("resolved"),
                "lina",
                Some("router replaced")
            ),
            ("assignee", Some("lina"), None, "supervisor", None),
            (
                "status",
                Some("resolved"),
                Some("closed"),
                "supervisor",
                None
            ),
        ]
    );
    assert!(h.iter().all(|c| c.ticket_id == t.id));
    assert!(h.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(
        store
            .customer(&c.id)
            .await
            .expect("read")
            .expect("c")
            .total_tickets,
        1
    );
    // Status names round-trip.
    for s in TicketStatus::ALL {
        assert_eq!(TicketStatus::parse(s.as_str()).expect("parse"), s);
        assert_eq!(
            serde_json::to_string(&s).expect("json"),
            format!("\"{}\"", s.as_str())
        );
    }
    assert!(matches!(
        TicketStatus::parse("done"),
        Err(CrmError::InvalidInput(_))
    ));
});

on_both!(changes_to_missing_rows_write_nothing, |db, store| {
    let c = new_customer(&store, PHONE, "Rana").await;
    assert_not_found(
        store
            .set_ticket_status("nope", TicketStatus::Closed, "lina", "why")
            .await,
        "ticket",
    );
    assert_not_found(
        store
            .update_ticket(
                "nope",
                &TicketUpdate {
                    assignee: Some(Some("x".into())),
                    ..Default::default()
                },
                "lina",
            )
            .await,
        "ticket",
    );
    assert!(store
        .ticket_history("nope")
        .await
        .expect("history")
        .is_empty());

    // A ticket for a missing customer or call: nothing written, no counter moved.
    assert_not_found(
        store.create_ticket(&ticket("no-such-customer", "x")).await,
        "customer",
    );
    let mut on_missing_call = ticket(&c.id, "x");
    on_missing_call.call_id = Some("no-such-call".into());
    assert_not_found(store.create_ticket(&on_missing_call).await, "call");
    assert!(store.open_tickets(10).await.expect("open").is_empty());
    assert_eq!(
        store
            .customer(&c.id)
            .await
            .expect("read")
            .expect("c")
            .total_tickets,
        0
    );

    // Bad input is refused before anything is written.
    let mut bad = ticket(&c.id, "x");
    bad.priority = "asap".into();
    assert!(
        matches!(store.create_ticket(&bad).await, Err(CrmError::InvalidInput(m)) if m.contains("priority"))
    );
    assert!(
        matches!(store.create_ticket(&ticket(&c.id, "  ")).await, Err(CrmError::InvalidInput(m)) if m.contains("subject"))
    );
    assert!(matches!(
        store.create_ticket(&ticket(&c.id, "nul\0byte")).await,
        Err(CrmError::InvalidInput(_))
    ));
    let t = store
        .create_ticket(&ticket(&c.id, "ok"))
        .await
        .expect("create");
    assert!(matches!(
        store
            .update_ticket(
                &t.id,
                &TicketUpdate {
                    priority: Some("asap".into()),
                    ..Default::default()
                },
                "x"
            )
            .await,
        Err(CrmError::InvalidInput(_))
    ));
    assert_eq!(store.ticket_history(&t.id).await.expect("history").len(), 1);
    assert_eq!(
        store
            .customer(&c.id)
            .await
            .expect("read")
            .expect("c")
            .total_tickets,
        1
    );
});

on_both!(ticket_queries, |db, store| {
    let a = new_customer(&store, PHONE, "Rana").await;
    let b = new_customer(&store, "+971501234567", "Omar").await;
    let a1 = store.create_ticket(&ticket(&a.id, "A1")).await.expect("a1");
    tick().await;
    let a2 = store.create_ticket(&ticket(&a.id, "A2")).await.expect("a2");
    store
        .set_ticket_status(&a2.id, TicketStatus::InProgress, "lina", "")
        .await
        .expect("a2 status");
    store
        .update_ticket(
            &a2.id,
            &TicketUpdate {
                assignee: Some(Some("lina".into())),
                ..Default::default()
            },
            "sup",
        )
        .await
        .expect("a2 assign");
    tick().await;
    let a3 = store.create_ticket(&ticket(&a.id, "A3")).await.expect("a3");
    store
        .set_ticket_status(&a3.id, TicketStatus::Resolved, "lina", "fixed")
        .await
        .expect("a3 status");
    tick().await;
    let b1 = store.create_ticket(&ticket(&b.id, "B1")).await.expect("b1");
    store
        .set_ticket_status(&b1.id, TicketStatus::Waiting, "lina", "")
        .await
        .expect("b1 status");
    tick().await;
    let b2 = store.create_ticket(&ticket(&b.id, "B2")).await.expect("b2");
    store
        .set_ticket_status(&b2.id, TicketStatus::Closed, "lina", "duplicate")
        .await
        .expect("b2 status");

    let subjects =
        |v: Vec<switchboard::crm::Ticket>| v.into_iter().map(|t| t.subject).collect::<Vec<_>>();
    assert_eq!(
        subjects(store.open_tickets(10).await.expect("open")),
        ["B1", "A2", "A1"]
    );
    assert_eq!(
        subjects(store.open_tickets(2).await.expect("open")),
        ["B1", "A2"]
    );
    assert_eq!(
        subjects(store.unassigned_tickets(10).await.expect("unassigned")),
        ["B1", "A1"]
    );
    assert_eq!(
        subjects(store.unassigned_tickets(1).await.expect("unassigned")),
        ["B1"]
    );
    assert_eq!(
        subjects(store.tickets_of_customer(&a.id).await.expect("of a")),
        ["A3", "A2", "A1"]
    );
    assert_eq!(
        subjects(store.tickets_of_customer(&b.id).await.expect("of b")),
        ["B2", "B1"]
    );
    assert!(store
        .tickets_of_customer("nobody")
        .await
        .expect("none")
        .is_empty());
    assert!(store.open_tickets(0).await.expect("limit 0").is_empty());
    assert_eq!(
        store
            .customer(&a.id)
            .await
            .expect("a")
            .expect("a")
            .total_tickets,
        3
    );
    assert_eq!(
        store
            .customer(&b.id)
            .await
            .expect("b")
            .expect("b")
            .total_tickets,
        2
    );
    let _ = a1;
});

on_both!(calls_turns_and_counters, |db, store| {
    let c = new_customer(&store, PHONE, "Rana").await;
    let t0 = 1_700_000_000_000;
    store
        .start_call(&call("c1", Some(&c.id), t0))
        .await
        .expect("start c1");
    let after_start = store.customer(&c.id).await.expect("read").expect("c");
    assert_eq!(
        (after_start.total_calls, after_start.last_interaction),
        (1, Some(t0))
    );

    let turns = vec![
        turn("c1", 0, "customer", "الراوتر خربان من امبارح", "ar"),
        turn("c1", 1, "agent", "آسف لسماع ذلك، سأساعدك الآن.", "ar"),
        turn("c1", 2, "customer", "My router is broken again", "en"),
        turn(
            "c1",
            3,
            "agent",
            "Let me open a ticket for the router.",
            "en",
        ),
    ];
    // Out of order on purpose: idx orders them.
    for i in [2usize, 0, 3, 1] {
        store.insert_turn(&turns[i]).await.expect("turn");
    }
    assert_eq!(store.turns_of_call("c1").await.expect("turns"), turns);
    store
        .record_supervisor_action(&action("a2", "c1", t0 + 9000))
        .await
        .expect("action");
    store
        .record_supervisor_action(&action("a1", "c1", t0 + 5000))
        .await
        .expect("action");
    let acts = store
        .supervisor_actions_of_call("c1")
        .await
        .expect("actions");
    assert_eq!(
        acts.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a1", "a2"]
    );
    assert_eq!(acts[0], action("a1", "c1", t0 + 5000));

    let open = store.call("c1").await.expect("call").expect("c1");
    assert_eq!(
        (open.ended_at, open.outcome.clone(), open.summary.clone()),
        (None, None, None)
    );
    assert_eq!(
        (
            open.transport.as_str(),
            open.room.as_deref(),
            open.started_at
        ),
        ("simulated", Some("room-c1"), t0)
    );

    let end = call_end("c1", t0 + 60_000, "Router broken; ticket opened.");
    store.end_call(&end).await.expect("end");
    let ended = store.call("c1").await.expect("call").expect("c1");
    assert_eq!(ended.ended_at, Some(end.ended_at));
    assert_eq!(ended.outcome.as_deref(), Some("completed"));
    assert_eq!(ended.final_persona.as_deref(), Some("support"));
    assert_eq!(
        ended.summary.as_deref(),
        Some("Router broken; ticket opened.")
    );
    assert_eq!(
        (ended.sentiment_avg, ended.sentiment_min),
        (Some(-0.125), Some(-0.75))
    );
    assert_eq!(ended.customer_id.as_deref(), Some(c.id.as_str()));
    assert_eq!(
        store
            .customer(&c.id)
            .await
            .expect("read")
            .expect("c")
            .last_interaction,
        Some(t0 + 60_000)
    );

    store
        .start_call(&call("c2", Some(&c.id), t0 + 3_600_000))
        .await
        .expect("start c2");
    let mut tk = ticket(&c.id, "Router");
    tk.call_id = Some("c2".into());
    let tk = store.create_ticket(&tk).await.expect("ticket on call");
    assert_eq!(tk.call_id.as_deref(), Some("c2"));
    let cs = store.calls_of_customer(&c.id, 10).await.expect("calls");
    assert_eq!(
        cs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        ["c2", "c1"]
    );
    assert_eq!(
        store
            .calls_of_customer(&c.id, 1)
            .await
            .expect("calls")
            .len(),
        1
    );
    let now = store.customer(&c.id).await.expect("read").expect("c");
    assert_eq!(
        (now.total_calls, now.total_tickets, now.last_interaction),
        (2, 1, Some(t0 + 3_600_000))
    );

    // An anonymous call touches no customer.
    store
        .start_call(&call("anon", None, t0))
        .await
        .expect("anon");
    store
        .insert_turn(&turn("anon", 0, "customer", "hello", "en"))
        .await
        .expect("anon turn");
    store
        .end_call(&call_end("anon", t0 + 1000, "short"))
        .await
        .expect("anon end");
    assert_eq!(
        store
            .call("anon")
            .await
            .expect("anon")
            .expect("anon")
            .customer_id,
        None
    );
    assert_eq!(store.customer(&c.id).await.expect("read").expect("c"), now);

    // References to missing rows.
    assert_not_found(
        store
            .start_call(&call("c3", Some("no-such-customer"), t0))
            .await,
        "customer",
    );
    assert_eq!(store.call("c3").await.expect("c3"), None);
    assert_not_found(
        store
            .insert_turn(&turn("no-such-call", 0, "agent", "x", "en"))
            .await,
        "call",
    );
    assert_not_found(
        store
            .record_supervisor_action(&action("ax", "no-such-call", t0))
            .await,
        "call",
    );
    assert_not_found(
        store.end_call(&call_end("no-such-call", t0, "x")).await,
        "call",
    );
    assert!(store
        .turns_of_call("no-such-call")
        .await
        .expect("none")
        .is_empty());
    assert_eq!(store.call("no-such-call").await.expect("none"), None);
    assert!(matches!(
        store.insert_turn(&turn("c1", -1, "agent", "x", "en")).await,
        Err(CrmError::InvalidInput(_))
    ));
});

on_both!(replayed_writes_change_nothing, |db, store| {
    let c = new_customer(&store, PHONE, "Rana").await;
    let t0 = 1_700_000_000_000;
    // What the engine's outbox keeps is JSON; replay from JSON like it does.
    fn via_json<T: serde::Serialize + serde::de::DeserializeOwned>(v: &T) -> T {
        serde_json::from_str(&serde_json::to_string(v).expect("to json")).expect("from json")
    }
    let start = call("c1", Some(&c.id), t0);
    let t = turn("c1", 0, "customer", "الراوتر خربان", "ar");
    let a = action("a1", "c1", t0 + 10);
    let end = call_end("c1", t0 + 30_000, "done");
    let mut tk = ticket(&c.id, "Router");
    tk.id = Some("ticket-1".into());
    tk.call_id = Some("c1".into());

    store.start_call(&start).await.expect("start");
    store.insert_turn(&t).await.expect("turn");
    store.record_supervisor_action(&a).await.expect("action");
    let created = store.create_ticket(&tk).await.expect("ticket");
    store.end_call(&end).await.expect("end");
    let customer_after = store.customer(&c.id).await.expect("c").expect("c");
    let call_after = store.call("c1").await.expect("call");
    assert_eq!(
        (customer_after.total_calls, customer_after.total_tickets),
        (1, 1)
    );

    for _ in 0..2 {
        store
            .start_call(&via_json(&start))
            .await
            .expect("start again");
        // A replay never overwrites what is stored, even if it differs.
        let mut changed = via_json(&start);
        changed.started_at += 99;
        store.start_call(&changed).await.expect("start changed");
        store.insert_turn(&via_json(&t)).await.expect("turn again");
        let mut t2 = via_json(&t);
        t2.text = "something else".into();
        store.insert_turn(&t2).await.expect("turn changed");
        store
            .record_supervisor_action(&via_json(&a))
            .await
            .expect("action again");
        assert_eq!(
            store
                .create_ticket(&via_json(&tk))
                .await
                .expect("ticket again"),
            created
        );
        store.end_call(&via_json(&end)).await.expect("end again");
    }
    assert_eq!(
        store.customer(&c.id).await.expect("c").expect("c"),
        customer_after
    );
    assert_eq!(store.call("c1").await.expect("call"), call_after);
    assert_eq!(
        store.turns_of_call("c1").await.expect("turns"),
        vec![t.clone()]
    );
    assert_eq!(
        store
            .supervisor_actions_of_call("c1")
            .await
            .expect("actions"),
        vec![a.clone()]
    );
    assert_eq!(
        store.tickets_of_customer(&c.id).await.expect("tickets"),
        vec![created.clone()]
    );
    assert_eq!(
        store
            .ticket_history("ticket-1")
            .await
            .expect("history")
            .len(),
        1
    );
    // The index sees one copy of the turn.
    assert_eq!(
        store
            .search_transcripts("خربان", 10)
            .await
            .expect("search")
            .len(),
        1
    );
    assert!(store
        .search_transcripts("something", 10)
        .await
        .expect("search")
        .is_empty());
    // A late replay of the start never moves last_interaction back.
    assert_eq!(customer_after.last_interaction, Some(t0 + 30_000));
});

on_both!(full_text_search_in_arabic_and_english, |db, store| {
    let c = new_customer(&store, PHONE, "Rana").await;
    store
        .start_call(&call("c1", Some(&c.id), 1_000))
        .await
        .expect("c1");
    store
        .start_call(&call("c2", None, 2_000))
        .await
        .expect("c2");
    let rows = [
        turn("c1", 0, "customer", "الراوتر خربان من امبارح", "ar"),
        turn("c1", 1, "agent", "سأفتح لك تذكرة للراوتر الآن.", "ar"),
        turn("c1", 2, "customer", "My ROUTER is broken, again!", "en"),
        turn(
            "c2",
            0,
            "customer",
            "I want to cancel my subscription",
            "en",
        ),
        turn("c2", 1, "customer", "الانترنت بطيء والراوتر خربان", "ar"),
    ];
    for r in &rows {
        store.insert_turn(r).await.expect("turn");
    }
    let keys = |hits: Vec<switchboard::crm::TranscriptHit>| {
        let mut k: Vec<(String, i64)> = hits.into_iter().map(|h| (h.call_id, h.idx)).collect();
        k.sort();
        k
    };
    let k = |pairs: &[(&str, i64)]| {
        pairs
            .iter()
            .map(|(c, i)| (c.to_string(), *i))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(
            store
                .search_transcripts("router", 10)
                .await
                .expect("router")
        ),
        k(&[("c1", 2)])
    );
    assert_eq!(
        keys(
            store
                .search_transcripts("Router", 10)
                .await
                .expect("Router")
        ),
        k(&[("c1", 2)])
    );
    assert_eq!(
        keys(store.search_transcripts("الراوتر", 10).await.expect("ar")),
        k(&[("c1", 0)])
    );
    assert_eq!(
        keys(store.search_transcripts("خربان", 10).await.expect("ar")),
        k(&[("c1", 0), ("c2", 1)])
    );
    assert_eq!(
        keys(
            store
                .search_transcripts("الراوتر خربان", 10)
                .await
                .expect("both")
        ),
        k(&[("c1", 0)])
    );
    assert_eq!(
        keys(
            store
                .search_transcripts("cancel subscription", 10)
                .await
                .expect("en")
        ),
        k(&[("c2", 0)])
    );
    assert!(store
        .search_transcripts("router cancel", 10)
        .await
        .expect("and")
        .is_empty());
    assert!(store
        .search_transcripts("modem", 10)
        .await
        .expect("none")
        .is_empty());
    assert_eq!(
        store
            .search_transcripts("خربان", 1)
            .await
            .expect("limit")
            .len(),
        1
    );
    assert!(store
        .search_transcripts("خربان", 0)
        .await
        .expect("limit 0")
        .is_empty());

    let hit = store
        .search_transcripts("broken", 10)
        .await
        .expect("hit")
        .remove(0);
    assert_eq!(
        (
            hit.call_id.as_str(),
            hit.idx,
            hit.speaker.as_str(),
            hit.text.as_str(),
            hit.lang.as_str(),
            hit.started_at
        ),
        (
            "c1",
            2,
            "customer",
            "My ROUTER is broken, again!",
            "en",
            rows[2].started_at
        )
    );
});

on_both!(hostile_search_queries_are_inert, |db, store| {
    store
        .start_call(&call("c1", None, 1_000))
        .await
        .expect("c1");
    store
        .insert_turn(&turn("c1", 0, "customer", "my router is broken", "en"))
        .await
        .expect("turn");
    store
        .insert_turn(&turn("c1", 1, "customer", "drop table turns", "en"))
        .await
        .expect("turn");
    let hostile = [
        "\"); DROP TABLE turns; --",
        "'; DROP TABLE turns; --",
        "NEAR(",
        "NEAR(router broken",
        "*",
        "router*",
        "\"",
        "\"\"\"",
        "(",
        ")",
        "text:router",
        "turns_fts MATCH 'x'",
        "AND",
        "OR NOT",
        "^router",
        "-router",
        "router & broken | !x <-> y",
        "' OR 1=1 --",
        "\0",
        "",
        "   ",
        "\u{202E}router",
        "<img src=x onerror=alert(1)>",
    ];
    for q in hostile {
        let r = store.search_transcripts(q, 10).await;
        assert!(r.is_ok(), "{q:?}: {r:?}");
    }
    assert_eq!(
        store
            .search_transcripts("router*", 10)
            .await
            .expect("prefix")
            .len(),
        1,
        "'*' is not an operator"
    );
    assert_eq!(
        store
            .search_transcripts("\"); DROP TABLE turns; --", 10)
            .await
            .expect("q")
            .len(),
        1
    );
    assert!(store
        .search_transcripts("*", 10)
        .await
        .expect("star")
        .is_empty());
    assert_eq!(
        store.turns_of_call("c1").await.expect("turns").len(),
        2,
        "nothing was dropped"
    );
    assert_eq!(
        store
            .search_transcripts("router", 10)
            .await
            .expect("still works")
            .len(),
        1
    );
});

on_both!(hostile_strings_round_trip_verbatim, |db, store| {
    let nasty = [
        "Robert'); DROP TABLE customers;--",
        "<img src=x onerror=alert(1)>",
        "</script><script>alert('x')</script>",
        "\u{202E}gnp.exe \u{2066}isolated\u{2069} \u{200F}",
        "الراوتر خربان — \"quoted\" 'single' `back` \\ $1 ?1 %s %% ; -- /* */",
        "emoji 📞🇸🇾 and tabs\tand\nnewlines\r\n",
        "  leading and trailing spaces  ",
    ];
    let joined = nasty.join(" | ");
    let c = store
        .upsert_customer(&NewCustomer {
            phone: PHONE.into(),
            name: Some(nasty[0].into()),
            email: Some(nasty[1].into()),
            tier: Some(nasty[2].into()),
            vip: Some(true),
            language: Some(nasty[3].into()),
        })
        .await
        .expect("customer");
    let read = store.customer(&c.id).await.expect("read").expect("c");
    assert_eq!(read.name.as_deref(), Some(nasty[0]));
    assert_eq!(read.email.as_deref(), Some(nasty[1]));
    assert_eq!(read.tier, nasty[2]);
    assert_eq!(read.language.as_deref(), Some(nasty[3]));

    let mut tk = ticket(&c.id, nasty[3]);
    tk.description = joined.clone();
    tk.department = nasty[4].into();
    tk.created_by = nasty[5].into();
    let t = store.create_ticket(&tk).await.expect("ticket");
    store
        .set_ticket_status(&t.id, TicketStatus::Waiting, nasty[0], nasty[1])
        .await
        .expect("status");
    store
        .update_ticket(
            &t.id,
            &TicketUpdate {
                assignee: Some(Some(nasty[2].into())),
                ..Default::default()
            },
            nasty[6],
        )
        .await
        .expect("assign");
    let t = store.ticket(&t.id).await.expect("read").expect("t");
    assert_eq!(
        (
            t.subject.as_str(),
            t.description.as_str(),
            t.department.as_str()
        ),
        (nasty[3], joined.as_str(), nasty[4])
    );
    assert_eq!(t.assignee.as_deref(), Some(nasty[2]));
    let h = store.ticket_history(&t.id).await.expect("history");
    assert_eq!(h[0].changed_by, nasty[5]);
    assert_eq!(
        (h[1].changed_by.as_str(), h[1].reason.as_deref()),
        (nasty[0], Some(nasty[1]))
    );
    assert_eq!(
        (h[2].changed_by.as_str(), h[2].new_value.as_deref()),
        (nasty[6], Some(nasty[2]))
    );

    let mut start = call(nasty[0], Some(&c.id), 1);
    start.transport = nasty[1].into();
    start.room = Some(nasty[3].into());
    store.start_call(&start).await.expect("call");
    let mut rows = Vec::new();
    for (i, s) in nasty.iter().enumerate() {
        let mut r = turn(nasty[0], i as i64, nasty[2], s, nasty[3]);
        r.persona = Some(nasty[4].into());
        r.sentiment_label = Some(nasty[5].into());
        store.insert_turn(&r).await.expect("turn");
        rows.push(r);
    }
    assert_eq!(store.turns_of_call(nasty[0]).await.expect("turns"), rows);
    let mut a = action(nasty[1], nasty[0], 5);
    a.detail = Some(joined.clone());
    a.actor = nasty[3].into();
    store.record_supervisor_action(&a).await.expect("action");
    assert_eq!(
        store
            .supervisor_actions_of_call(nasty[0])
            .await
            .expect("actions"),
        vec![a]
    );
    let mut end = call_end(nasty[0], 10, &joined);
    end.outcome = nasty[1].into();
    end.final_persona = nasty[2].into();
    store.end_call(&end).await.expect("end");
    let row = store.call(nasty[0]).await.expect("call").expect("row");
    assert_eq!(
        (
            row.transport.as_str(),
            row.room.as_deref(),
            row.summary.as_deref()
        ),
        (nasty[1], Some(nasty[3]), Some(joined.as_str()))
    );
    assert_eq!(
        (row.outcome.as_deref(), row.final_persona.as_deref()),
        (Some(nasty[1]), Some(nasty[2]))
    );

    // Search finds words inside hostile text and returns it verbatim.
    let hits = store.search_transcripts("خربان", 10).await.expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].text, nasty[4]);
    let ctx = store.customer_context(&c.id).await.expect("context");
    assert_eq!(
        (ctx.name.as_deref(), ctx.open_tickets.clone()),
        (Some(nasty[0]), vec![nasty[3].to_string()])
    );
});

on_both!(customer_context_for_the_agent, |db, store| {
    let c = store
        .upsert_customer(&NewCustomer {
            phone: PHONE.into(),
            name: Some("رنا".into()),
            tier: Some("gold".into()),
            vip: Some(true),
            language: Some("ar".into()),
            ..Default::default()
        })
        .await
        .expect("customer");
    let empty = store.customer_context(&c.id).await.expect("context");
    assert_eq!(
        (
            empty.name.as_deref(),
            empty.tier.as_str(),
            empty.vip,
            empty.language.as_deref()
        ),
        (Some("رنا"), "gold", true, Some("ar"))
    );
    assert!(empty.open_tickets.is_empty());
    assert_eq!(empty.last_call_summary, None);

    for s in ["T1", "T2", "T3", "T4", "T5"] {
        store
            .create_ticket(&ticket(&c.id, s))
            .await
            .expect("ticket");
        tick().await;
    }
    let t5 = store
        .tickets_of_customer(&c.id)
        .await
        .expect("tickets")
        .remove(0);
    store
        .set_ticket_status(&t5.id, TicketStatus::Resolved, "lina", "done")
        .await
        .expect("resolve");
    store
        .start_call(&call("c1", Some(&c.id), 1_000))
        .await
        .expect("c1");
    store
        .end_call(&call_end("c1", 2_000, "First call: router."))
        .await
        .expect("end c1");
    store
        .start_call(&call("c2", Some(&c.id), 3_000))
        .await
        .expect("c2");
    store
        .end_call(&call_end("c2", 4_000, "Second call: billing."))
        .await
        .expect("end c2");
    // A call in progress has no summary yet: the last one that has counts.
    store
        .start_call(&call("c3", Some(&c.id), 5_000))
        .await
        .expect("c3");

    let ctx = store.customer_context(&c.id).await.expect("context");
    assert_eq!(ctx.open_tickets, ["T4", "T3", "T2"]);
    assert_eq!(
        ctx.last_call_summary.as_deref(),
        Some("Second call: billing.")
    );
    assert_not_found(store.customer_context("no-such-customer").await, "customer");
});

on_both!(concurrent_writers_stay_consistent, |db, store| {
    let c = new_customer(&store, PHONE, "Rana").await;
    for i in 0..4 {
        store
            .start_call(&call(&format!("c{i}"), Some(&c.id), 1_000 + i))
            .await
            .expect("call");
    }
    let writes = (0..4)
        .flat_map(|ci| (0..25).map(move |i| (ci, i)))
        .map(|(ci, i)| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .insert_turn(&turn(
                        &format!("c{ci}"),
                        i,
                        "customer",
                        &format!("turn {i} of call {ci}"),
                        "en",
                    ))
                    .await
            })
        });
    for w in futures::future::join_all(writes).await {
        w.expect("join").expect("turn");
    }
    for ci in 0..4 {
        let turns = store.turns_of_call(&format!("c{ci}")).await.expect("turns");
        assert_eq!(
            turns.iter().map(|t| t.idx).collect::<Vec<_>>(),
            (0..25).collect::<Vec<_>>()
        );
    }
    // Concurrent status changes on one ticket: the history stays a chain.
    let t = store
        .create_ticket(&ticket(&c.id, "busy"))
        .await
        .expect("ticket");
    let changes = (0..12).map(|i| {
        let (store, id) = (store.clone(), t.id.clone());
        let status = [
            TicketStatus::InProgress,
            TicketStatus::Waiting,
            TicketStatus::Open,
        ][i % 3];
        tokio::spawn(async move {
            store
                .set_ticket_status(&id, status, &format!("agent{i}"), "busy")
                .await
        })
    });
    for r in futures::future::join_all(changes).await {
        r.expect("join").expect("status");
    }
    let h = store.ticket_history(&t.id).await.expect("history");
    for w in h.windows(2) {
        assert_eq!(w[0].new_value, w[1].old_value, "history is a chain: {h:#?}");
    }
    let last = h.last().expect("history").new_value.clone();
    assert_eq!(
        Some(
            store
                .ticket(&t.id)
                .await
                .expect("t")
                .expect("t")
                .status
                .as_str()
                .to_string()
        ),
        last
    );
    let now = store.customer(&c.id).await.expect("c").expect("c");
    assert_eq!((now.total_calls, now.total_tickets), (4, 1));
});

#[tokio::test]
async fn bad_urls_fail_clearly_and_never_show_passwords() {
    let e = CrmStore::connect("mysql://root:hunter2@127.0.0.1/x")
        .await
        .expect_err("mysql");
    assert!(matches!(e, CrmError::InvalidInput(_)), "{e:?}");
    assert!(!e.to_string().contains("hunter2"), "{e}");

    // Nothing listens on port 1: the database is unavailable, quickly.
    let started = std::time::Instant::now();
    let e = CrmStore::connect("postgres://postgres:hunter2@127.0.0.1:1/x?sslmode=disable")
        .await
        .expect_err("refused");
    assert!(e.is_unavailable(), "{e:?}");
    assert_eq!(e.code(), "db_unavailable");
    assert!(!format!("{e} {e:?}").contains("hunter2"), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let e = CrmStore::connect("sqlite:///proc/no-such-dir/crm.sqlite3")
        .await
        .expect_err("unwritable");
    // A folder that cannot be created is a configuration problem, not an outage.
    assert!(
        matches!(&e, CrmError::Database(m) if m.contains("/proc/no-such-dir")),
        "{e:?}"
    );
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = CrmStore::connect("sqlite::memory:").await.expect("memory");
    let c = new_customer(&store, PHONE, "Rana").await;
    store
        .start_call(&call("c1", Some(&c.id), 1))
        .await
        .expect("call");
    store
        .insert_turn(&turn("c1", 0, "customer", "router", "en"))
        .await
        .expect("turn");
    assert_eq!(
        store
            .search_transcripts("router", 5)
            .await
            .expect("search")
            .len(),
        1
    );
    assert_eq!(
        store
            .customer(&c.id)
            .await
            .expect("c")
            .expect("c")
            .total_calls,
        1
    );
    store.close().await;
    assert!(store.ping().await.expect_err("closed").is_unavailable());
}

#[test]
fn default_sqlite_url_is_in_the_data_folder() {
    let url = CrmStore::default_sqlite_url();
    assert!(url.starts_with("sqlite://"), "{url}");
    assert!(url.ends_with("switchboard/crm.sqlite3"), "{url}");
}

/// The engine's outbox keys on `is_unavailable`: a stopped server must say so, and the
/// same store must work again once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_reported_as_unavailable_and_recovers() {
    let Some(pg) = OwnPg::start("postgres_outage_is_reported_as_unavailable_and_recovers") else {
        return;
    };
    // A password in the URL (trust auth ignores it) must never show.
    let url = pg.url.replace("postgres@", "postgres:s3cret-pw@");
    let store = CrmStore::connect(&url).await.expect("connect");
    assert!(!format!("{store:?}").contains("s3cret-pw"), "{store:?}");
    assert!(format!("{store:?}").contains("***"), "{store:?}");
    let c = new_customer(&store, PHONE, "Rana").await;
    store
        .start_call(&call("c1", Some(&c.id), 1))
        .await
        .expect("call");
    store
        .insert_turn(&turn("c1", 0, "customer", "before", "en"))
        .await
        .expect("turn");

    pg.stop();
    let started = std::time::Instant::now();
    let e = store
        .insert_turn(&turn("c1", 1, "agent", "during", "en"))
        .await
        .expect_err("server is down");
    eprintln!(
        "write during the outage: {e:?} after {:?}",
        started.elapsed()
    );
    assert!(e.is_unavailable(), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("s3cret-pw"));
    let e = store.ping().await.expect_err("still down");
    assert!(e.is_unavailable(), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "outage reported in {:?}",
        started.elapsed()
    );
    let e = CrmStore::connect(&url)
        .await
        .expect_err("connect while down");
    eprintln!("connect during the outage: {e:?}");
    assert!(e.is_unavailable(), "{e:?}");

    pg.restart();
    let mut ok = false;
    for _ in 0..50 {
        if store.ping().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the store reconnects after the outage");
    // Replay what failed, and what had succeeded: one copy each, counters unchanged.
    store
        .start_call(&call("c1", Some(&c.id), 1))
        .await
        .expect("replay call");
    store
        .insert_turn(&turn("c1", 0, "customer", "before", "en"))
        .await
        .expect("replay turn 0");
    store
        .insert_turn(&turn("c1", 1, "agent", "during", "en"))
        .await
        .expect("turn 1");
    assert_eq!(store.turns_of_call("c1").await.expect("turns").len(), 2);
    assert_eq!(
        store
            .customer(&c.id)
            .await
            .expect("c")
            .expect("c")
            .total_calls,
        1
    );
    store.close().await;
}
