//! `switchboard bench-llm`: time to first token and tokens/s of the local models,
//! with and without prefix (KV cache) reuse, on the prompt a real call sends — the
//! sales persona's system prompt, six exchanges of history, then a new customer turn.
//!
//! Per run: the previous turn is sent first (as the call would have, leaving its
//! prompt and reply in the server's cache), then the new turn twice: warm (reusing
//! the cache) and cold (`cache_prompt: false`, everything decoded). Time to first
//! token is measured here, at the client; the prompt/generation split comes from the
//! server's `timings`. Generation runs to a fixed length (`ignore_eos`) so tokens/s
//! compare across models.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};

use super::local::{LocalLlm, LocalLlmOptions};
use crate::lang::Lang;
use crate::routing::{persona, PersonaId};

/// Customer and agent lines of the history, then the new customer turn.
const HISTORY: [(&str, &str); 6] = [
    (
        "Hi, I'm calling about your home internet plans.",
        "Hello James, thanks for calling! I'd be glad to help you find the right plan.",
    ),
    (
        "I work from home and we stream a lot of video in the evenings.",
        "Then our Plus plan with 300 megabits would suit you well; it handles several streams at once.",
    ),
    (
        "How much is the Plus plan per month?",
        "Plus is 40 dollars a month, and the router is included at no extra cost.",
    ),
    (
        "Is there a contract, or can I cancel any time?",
        "It's month to month, so you can cancel whenever you like without a fee.",
    ),
    (
        "And how long does installation take?",
        "A technician usually connects you within three working days of signing up.",
    ),
    (
        "Do you have anything faster, for gaming?",
        "Yes, our Max plan gives you one gigabit for 60 dollars a month, with lower latency.",
    ),
];
const NEW_TURN: &str = "Okay, I think I'll take the Max plan. What do you need from me to sign up?";
const REPLY_TOKENS: u32 = 64;

/// One measured request.
#[derive(Debug, Clone, Default)]
struct Sample {
    ttft_ms: f64,
    prompt_tokens: u64,
    decoded_prompt_tokens: u64,
    prompt_ms: f64,
    completion_tokens: u64,
    generation_ms: f64,
}

/// Runs the benchmark on each model (registry names); a table as text.
pub async fn run(models: &[String], runs: usize, threads: Option<u16>) -> Result<String, String> {
    // --threads N: N for both prompt and generation; default: as in calls.
    let batch_threads = threads.unwrap_or_else(super::local::default_batch_threads);
    let threads = threads.unwrap_or_else(super::local::default_threads);
    let mut out = String::new();
    out.push_str(&format!(
        "Local LLM (switchboard-llm, llama.cpp CPU, {threads} generation / {batch_threads} prompt threads of {}): sales persona + 6-exchange history + new turn; {REPLY_TOKENS} generated tokens; median of {runs} runs\n",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    out.push_str("model          | prompt tok | cache | decoded prompt tok | TTFT ms | prompt ms | gen tok/s\n");
    out.push_str("---------------|-----------:|-------|-------------------:|--------:|----------:|---------:\n");
    for model in models {
        let llm = LocalLlm::new(LocalLlmOptions {
            threads: Some(threads),
            batch_threads: Some(batch_threads),
            ..LocalLlmOptions::new(model.clone())
        });
        let t0 = Instant::now();
        llm.ready().await.map_err(|e| e.to_string())?;
        let startup_ms = t0.elapsed().as_secs_f64() * 1000.0;
        let base = llm.base_url().ok_or("the server stopped")?;
        let http = reqwest::Client::new();
        let (previous, current) = conversation(&http, &base, model).await?;
        let mut warm = Vec::new();
        let mut cold = Vec::new();
        for _ in 0..runs.max(1) {
            // The previous turn, as the call sent it: its prompt and reply are cached.
            request(&http, &base, model, &previous, true).await?;
            warm.push(request(&http, &base, model, &current, true).await?);
            cold.push(request(&http, &base, model, &current, false).await?);
        }
        for (label, samples) in [("warm", &warm), ("cold", &cold)] {
            let m = median_sample(samples);
            out.push_str(&format!(
                "{model:<14} | {:>10} | {label:<5} | {:>18} | {:>7.0} | {:>9.0} | {:>8.1}\n",
                m.prompt_tokens,
                m.decoded_prompt_tokens,
                m.ttft_ms,
                m.prompt_ms,
                m.completion_tokens as f64 / (m.generation_ms / 1000.0).max(1e-9),
            ));
        }
        let w = median_sample(&warm);
        let c = median_sample(&cold);
        out.push_str(&format!(
            "{model:<14} | server start (load + /health) {startup_ms:.0} ms; prefix reuse: TTFT {:.0} → {:.0} ms ({:.1}× faster)\n",
            c.ttft_ms,
            w.ttft_ms,
            c.ttft_ms / w.ttft_ms.max(1e-9)
        ));
        llm.shutdown();
    }
    Ok(out)
}

/// The previous turn's messages (ending with customer turn 6) and the current
/// turn's (with the reply the model actually gave to turn 6, then the new turn) —
/// so the history is what the model itself said, as in a call.
async fn conversation(
    http: &reqwest::Client,
    base: &str,
    model: &str,
) -> Result<(Vec<Value>, Vec<Value>), String> {
    let mut system = persona(PersonaId::Sales).system_prompt(Lang::En);
    system.push_str(
        "\n\nCustomer name: James.\nThe customer is speaking English: answer in English.\n",
    );
    let mut messages = vec![json!({"role": "system", "content": system})];
    for (i, (customer, agent)) in HISTORY.iter().enumerate() {
        messages.push(json!({"role": "user", "content": customer}));
        if i + 1 < HISTORY.len() {
            messages.push(json!({"role": "assistant", "content": agent}));
        }
    }
    let previous = messages.clone();
    let body = json!({"model": model, "messages": previous, "max_tokens": 48, "temperature": 0});
    let v: Value = http
        .post(format!("{base}/chat/completions"))
        .json(&body)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let said = v["choices"][0]["message"]["content"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(HISTORY[5].1)
        .to_string();
    messages.push(json!({"role": "assistant", "content": said}));
    messages.push(json!({"role": "user", "content": NEW_TURN}));
    Ok((previous, messages))
}

async fn request(
    http: &reqwest::Client,
    base: &str,
    model: &str,
    messages: &[Value],
    cache_prompt: bool,
) -> Result<Sample, String> {
    let body = json!({
        "model": model,
        "messages": messages,
        "max_tokens": REPLY_TOKENS,
        "temperature": 0,
        "stream": true,
        "cache_prompt": cache_prompt,
        "ignore_eos": true,
    });
    let sent = Instant::now();
    let response = http
        .post(format!("{base}/chat/completions"))
        .json(&body)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut body = response.bytes_stream();
    let mut buf = String::new();
    let mut sample = Sample::default();
    let mut first = None;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let Some(data) = event.trim().strip_prefix("data: ") else {
                continue;
            };
            if data == "[DONE]" {
                continue;
            }
            let v: Value = serde_json::from_str(data).map_err(|e| e.to_string())?;
            let content = v["choices"][0]["delta"]["content"].as_str().unwrap_or("");
            if first.is_none() && !content.is_empty() {
                first = Some(sent.elapsed());
            }
            let t = &v["timings"];
            if t.is_object() {
                let prompt_n = t["prompt_n"].as_u64().unwrap_or(0);
                let cached = t["prompt_cached"].as_u64().unwrap_or(0);
                sample.prompt_tokens = prompt_n + cached;
                sample.decoded_prompt_tokens = prompt_n;
                sample.prompt_ms = t["prompt_ms"].as_f64().unwrap_or(0.0);
                sample.completion_tokens = t["predicted_n"].as_u64().unwrap_or(0);
                sample.generation_ms = t["predicted_ms"].as_f64().unwrap_or(0.0);
            }
        }
    }
    sample.ttft_ms = first.unwrap_or_else(|| sent.elapsed()).as_secs_f64() * 1000.0;
    Ok(sample)
}

/// Field-wise medians.
fn median_sample(samples: &[Sample]) -> Sample {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }
    let f = |g: fn(&Sample) -> f64| median(samples.iter().map(g).collect());
    Sample {
        ttft_ms: f(|s| s.ttft_ms),
        prompt_tokens: f(|s| s.prompt_tokens as f64) as u64,
        decoded_prompt_tokens: f(|s| s.decoded_prompt_tokens as f64) as u64,
        prompt_ms: f(|s| s.prompt_ms),
        completion_tokens: f(|s| s.completion_tokens as f64) as u64,
        generation_ms: f(|s| s.generation_ms),
    }
}
