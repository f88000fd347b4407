//! The agent using tools: a call whose language model is the real
//! OpenAI-compatible client, talking to a local stand-in for OpenAI's chat API
//! (api.openai.com is unreachable here) that answers the way the API does when
//! the model calls a tool — `tool_calls` streamed in pieces, then
//! `finish_reason: "tool_calls"` — and, on the next request, reads the call's
//! results from the `tool` messages.

mod common;

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{json, Value};

use common::*;
use switchboard::call::CallConfig;
use switchboard::events::EventKind;
use switchboard::llm::{LanguageModel, OpenAiCompatible, OpenAiConfig};
use switchboard::transport::SttMode;

#[derive(Default)]
struct Fake {
    /// Each request's answer: the `data:` payloads of its event stream.
    answers: Mutex<Vec<Vec<Value>>>,
    requests: Mutex<Vec<Value>>,
}

async fn handle(State(fake): State<Arc<Fake>>, req: Request) -> Response {
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let is_summary = body["messages"][0]["content"]
        .as_str()
        .is_some_and(|s| s.contains("call summaries"));
    fake.requests.lock().unwrap().push(body);
    let events = if is_summary {
        vec![text_delta("Ticket opened for the customer's outage.")]
    } else {
        let mut a = fake.answers.lock().unwrap();
        if a.is_empty() {
            vec![text_delta("Is there anything else?")]
        } else {
            a.remove(0)
        }
    };
    let mut sse = String::new();
    for e in events {
        sse += &format!("data: {e}\n\n");
    }
    sse += "data: [DONE]\n\n";
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .body(Body::from(sse))
        .unwrap()
}

fn text_delta(t: &str) -> Value {
    json!({"choices": [{"index": 0, "delta": {"content": t}, "finish_reason": null}]})
}

/// A tool call streamed the way OpenAI streams it: the id and name first,
/// the arguments in pieces, then `finish_reason: "tool_calls"`.
fn tool_call(id: &str, name: &str, args: &Value) -> Vec<Value> {
    let args = args.to_string();
    let (a, b) = args.split_at(args.char_indices().nth(args.chars().count() / 2).unwrap().0);
    vec![
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": null, "tool_calls": [
            {"index": 0, "id": id, "type": "function", "function": {"name": name, "arguments": ""}}]}, "finish_reason": null}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": a}}]}, "finish_reason": null}]}),
        json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": b}}]}, "finish_reason": null}]}),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
    ]
}

async fn serve(answers: Vec<Vec<Value>>) -> (Arc<dyn LanguageModel>, Arc<Fake>) {
    let fake = Arc::new(Fake {
        answers: Mutex::new(answers),
        requests: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(fake.clone());
    let llm = OpenAiCompatible::try_new(OpenAiConfig {
        base_url: format!("{}/v1", serve_local(app).await),
        model: "gpt-4o-mini".into(),
        ..Default::default()
    })
    .unwrap();
    (Arc::new(llm), fake)
}

fn tools_on() -> CallConfig {
    CallConfig {
        tools: true,
        ..Default::default()
    }
}

/// The messages of a request whose role is `role`.
fn with_role<'a>(req: &'a Value, role: &str) -> Vec<&'a Value> {
    req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == role)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_opens_a_ticket_with_a_tool_and_tells_the_customer_its_number() {
    let args =
        json!({"subject": "الإنترنت مقطوع منذ الصباح", "department": "support", "priority": "high"});
    let (llm, fake) = serve(vec![
        tool_call("call_ticket_1", "create_ticket", &args),
        vec![text_delta("فتحت لك تذكرة وسنتابعها حتى يعود الإنترنت.")],
    ])
    .await;
    let r = run_with(
        r#"{"lang":"ar","turns":[{"say":"مرحبا، الإنترنت عندي مقطوع من الصبح"}]}"#,
        providers(Some(llm), fast_fake_tts()),
        tools_on(),
        SttMode::Text,
        10.0,
        None,
    )
    .await;
    // The ticket is the one the model asked for.
    let ticket = r
        .kinds()
        .find_map(|k| match k {
            EventKind::Ticket {
                ticket_id,
                subject,
                department,
                priority,
                ..
            } => Some((
                ticket_id.clone(),
                subject.clone(),
                department.clone(),
                priority.clone(),
            )),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ticket\n{}", r.dump()));
    assert_eq!(ticket.1, "الإنترنت مقطوع منذ الصباح");
    assert_eq!((ticket.2.as_str(), ticket.3.as_str()), ("support", "high"));
    let reqs = fake.requests.lock().unwrap().clone();
    // The first request offered the tools; the second carried the call and its result.
    let names: Vec<&str> = reqs[0]["tools"]
        .as_array()
        .expect("tools offered")
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["create_ticket", "lookup_customer", "transfer_to"]);
    let second = &reqs[1];
    let asked = with_role(second, "assistant");
    let call = &asked.last().unwrap()["tool_calls"][0];
    assert_eq!(call["id"], "call_ticket_1");
    assert_eq!(call["function"]["name"], "create_ticket");
    assert_eq!(
        serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).unwrap(),
        args
    );
    let result = with_role(second, "tool");
    assert_eq!(result[0]["tool_call_id"], "call_ticket_1");
    let result: Value = serde_json::from_str(result[0]["content"].as_str().unwrap()).unwrap();
    assert_eq!(result["ticket_id"], ticket.0.as_str());
    assert_eq!(result["created"], true);
    // The customer hears the model's answer to the result.
    let reply = r.replies().into_iter().find(|x| x.0 == 1).expect("reply");
    assert!(reply.1.contains("فتحت لك تذكرة"), "{}", r.dump());
    assert_eq!(reply.2, "openai-compatible");
    assert!(r.errors().is_empty(), "{}", r.dump());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_hands_the_call_to_sales_and_sarah_answers_the_turn() {
    let (llm, fake) = serve(vec![
        tool_call(
            "call_t",
            "transfer_to",
            &json!({"target": "sales", "reason": "wants the premium plan"}),
        ),
        vec![text_delta("The premium plan is 20 dollars a month.")],
    ])
    .await;
    let r = run_with(
        r#"{"lang":"en","turns":[{"say":"Hello, I have a question"}]}"#,
        providers(Some(llm), fast_fake_tts()),
        tools_on(),
        SttMode::Text,
        10.0,
        None,
    )
    .await;
    let change = r
        .persona_changes()
        .into_iter()
        .find(|c| c.1 == "sales")
        .unwrap_or_else(|| panic!("no handoff\n{}", r.dump()));
    assert_eq!(change.2, "agent", "{change:?}");
    let reply = r.replies().into_iter().find(|x| x.0 == 1).expect("reply");
    assert!(
        reply.1.contains("Sarah"),
        "Sarah introduces herself: {}",
        reply.1
    );
    assert!(reply.1.contains("20 dollars"), "{}", reply.1);
    // Sarah's request is a fresh one with her own prompt.
    let reqs = fake.requests.lock().unwrap().clone();
    let system = reqs[1]["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("Sarah"), "{system}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_for_a_human_alerts_supervisors_and_bad_arguments_go_back_to_the_model() {
    let (llm, fake) = serve(vec![
        // A malformed call first: the model is told, and tries again.
        tool_call(
            "call_bad",
            "create_ticket",
            &json!({"subject": "x", "department": "legal", "priority": "high"}),
        ),
        tool_call(
            "call_h",
            "transfer_to",
            &json!({"target": "human", "reason": "customer asked for a manager"}),
        ),
        vec![text_delta("A colleague will join us in a moment.")],
    ])
    .await;
    let r = run_with(
        r#"{"lang":"en","turns":[{"say":"I want to talk to a real person now"}]}"#,
        providers(Some(llm), fast_fake_tts()),
        tools_on(),
        SttMode::Text,
        10.0,
        None,
    )
    .await;
    let human = r.kinds().find_map(|k| match k {
        EventKind::HumanRequested { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(
        human.as_deref(),
        Some("customer asked for a manager"),
        "{}",
        r.dump()
    );
    let reqs = fake.requests.lock().unwrap().clone();
    let first_result: Value =
        serde_json::from_str(with_role(&reqs[1], "tool")[0]["content"].as_str().unwrap()).unwrap();
    assert!(
        first_result["error"].as_str().unwrap().contains("legal"),
        "{first_result}"
    );
    assert!(
        !r.kinds().any(|k| matches!(k, EventKind::Ticket { .. })),
        "no ticket from bad arguments\n{}",
        r.dump()
    );
    // Two tool rounds, then the model must answer in words.
    assert!(reqs[2]["tools"].is_null(), "{}", reqs[2]);
    let reply = r.replies().into_iter().find(|x| x.0 == 1).expect("reply");
    assert!(reply.1.contains("colleague"), "{}", reply.1);
}
