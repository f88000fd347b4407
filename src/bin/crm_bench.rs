//! CRM store benchmark: bulk-loads customers, then measures what the engine does on
//! the hot path — customer lookup by phone, one insert per finished turn — and
//! transcript search.
//!
//!   cargo run --release --bin crm_bench -- --db sqlite:///tmp/bench.sqlite3 --customers 1000000
//!   cargo run --release --bin crm_bench -- --db postgres://postgres@127.0.0.1:54329/bench --customers 1000000

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use switchboard::crm::{CrmStore, NewCall, NewCustomer, TurnRow};

#[derive(Parser)]
#[command(about = "Benchmark the CRM store (SQLite or PostgreSQL)")]
struct Args {
    /// Database URL: sqlite://PATH or postgres://…
    #[arg(long)]
    db: String,
    /// Customers to bulk-load (phones +971000000000 upwards; already present ones are skipped).
    #[arg(long, default_value_t = 1_000_000)]
    customers: u64,
    /// Customers per import call (one transaction each).
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Random lookups by phone.
    #[arg(long, default_value_t = 10_000)]
    lookups: u32,
    /// Turns to insert, one insert per turn.
    #[arg(long, default_value_t = 20_000)]
    turns: u32,
    /// Turns per call.
    #[arg(long, default_value_t = 50)]
    turns_per_call: u32,
    /// Full-text queries.
    #[arg(long, default_value_t = 1_000)]
    queries: u32,
    /// Seed of the pseudo-random choices.
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

/// xorshift64*: reproducible choices without another dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len() as u64) as usize]
    }
}

const EN: &[&str] = &[
    "router",
    "internet",
    "slow",
    "broken",
    "bill",
    "invoice",
    "refund",
    "cancel",
    "subscription",
    "upgrade",
    "package",
    "signal",
    "modem",
    "password",
    "account",
    "payment",
    "late",
    "technician",
    "visit",
    "tomorrow",
    "please",
    "help",
    "again",
    "today",
    "fiber",
    "speed",
    "outage",
    "contract",
    "price",
    "offer",
    "manager",
    "complaint",
    "thanks",
    "working",
    "problem",
    "since",
    "yesterday",
    "line",
    "phone",
    "number",
];
const AR: &[&str] = &[
    "الراوتر",
    "خربان",
    "الانترنت",
    "بطيء",
    "الفاتورة",
    "استرجاع",
    "إلغاء",
    "الاشتراك",
    "ترقية",
    "الباقة",
    "الإشارة",
    "المودم",
    "كلمة",
    "السر",
    "الحساب",
    "الدفع",
    "متأخر",
    "فني",
    "زيارة",
    "بكرة",
    "لو",
    "سمحت",
    "مساعدة",
    "مرة",
    "اليوم",
    "الألياف",
    "السرعة",
    "انقطاع",
    "العقد",
    "السعر",
    "عرض",
    "المدير",
    "شكوى",
    "شكرا",
    "شغال",
    "مشكلة",
    "من",
    "امبارح",
    "الخط",
    "الرقم",
];

fn phone(i: u64) -> String {
    format!("+971{i:09}")
}

fn sentence(rng: &mut Rng, words: &[&str]) -> String {
    let n = 6 + rng.below(9);
    (0..n)
        .map(|_| rng.pick(words))
        .collect::<Vec<_>>()
        .join(" ")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct Stats {
    p50: f64,
    p99: f64,
    mean: f64,
    max: f64,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples.get(i).copied().map(ms).unwrap_or(0.0)
    };
    let mean = if samples.is_empty() {
        0.0
    } else {
        samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64
    };
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        mean,
        max: samples.last().copied().map(ms).unwrap_or(0.0),
    }
}

fn line(what: &str, s: &Stats) {
    println!(
        "| {what} | {:.3} | {:.3} | {:.3} | {:.3} |",
        s.p50, s.p99, s.mean, s.max
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crm_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = Rng(args.seed.max(1));
    let t = Instant::now();
    let store = CrmStore::connect(&args.db).await?;
    println!(
        "# crm_bench: {} ({})",
        store.redacted_url(),
        store.backend().as_str()
    );
    println!(
        "connect + migrate: {:.1} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );

    // 1. Bulk load.
    let t = Instant::now();
    let mut inserted = 0u64;
    let mut next = 0u64;
    while next < args.customers {
        let end = (next + args.batch as u64).min(args.customers);
        let chunk: Vec<NewCustomer> = (next..end)
            .map(|i| NewCustomer {
                phone: phone(i),
                name: Some(format!("Customer {i}")),
                email: Some(format!("c{i}@example.com")),
                tier: Some(if i % 10 == 0 {
                    "gold".into()
                } else {
                    "standard".into()
                }),
                vip: Some(i % 100 == 0),
                language: Some(if i % 2 == 0 { "ar".into() } else { "en".into() }),
            })
            .collect();
        inserted += store.import_customers(&chunk).await?;
        next = end;
    }
    let load = t.elapsed();
    println!(
        "bulk load: {} customers requested, {} inserted in {:.1} s ({:.0} rows/s)",
        args.customers,
        inserted,
        load.as_secs_f64(),
        inserted as f64 / load.as_secs_f64().max(1e-9)
    );

    println!();
    println!("| measure | p50 ms | p99 ms | mean ms | max ms |");
    println!("|---|---|---|---|---|");

    // 2. Lookups by phone, in the spelling a caller ID gives.
    let mut samples = Vec::with_capacity(args.lookups as usize);
    for _ in 0..args.lookups {
        let i = rng.below(args.customers);
        let t = Instant::now();
        let found = store.customer_by_phone(&phone(i)).await?;
        samples.push(t.elapsed());
        if found.is_none() {
            return Err(format!("customer {} missing", phone(i)).into());
        }
    }
    line(
        &format!("customer_by_phone ({} random)", args.lookups),
        &stats(samples),
    );

    // 3. Turn inserts, one statement per turn as the engine writes them.
    let calls = args.turns.div_ceil(args.turns_per_call.max(1));
    let run_id = uuid::Uuid::new_v4().simple().to_string();
    let base = now_ms();
    let mut call_ids = Vec::with_capacity(calls as usize);
    for c in 0..calls {
        let customer = store
            .customer_by_phone(&phone(rng.below(args.customers)))
            .await?;
        let id = format!("bench-{run_id}-{c}");
        store
            .start_call(&NewCall {
                id: id.clone(),
                customer_id: customer.map(|c| c.id),
                transport: "bench".into(),
                room: None,
                started_at: base + i64::from(c) * 60_000,
            })
            .await?;
        call_ids.push(id);
    }
    let mut samples = Vec::with_capacity(args.turns as usize);
    let t = Instant::now();
    for n in 0..args.turns {
        let c = n / args.turns_per_call.max(1);
        let idx = i64::from(n % args.turns_per_call.max(1));
        let arabic = c % 2 == 0;
        let text = sentence(&mut rng, if arabic { AR } else { EN });
        let agent = idx % 2 == 1;
        let started_at = base + i64::from(c) * 60_000 + idx * 1000;
        let row = TurnRow {
            call_id: call_ids[c as usize].clone(),
            idx,
            speaker: if agent { "agent" } else { "customer" }.into(),
            text,
            lang: if arabic { "ar" } else { "en" }.into(),
            sentiment_score: (!agent).then_some(-0.2),
            sentiment_label: (!agent).then(|| "negative".into()),
            persona: Some("support".into()),
            interrupted: false,
            eou_ms: agent.then_some(200.0),
            stt_ms: agent.then_some(90.0),
            llm_first_token_ms: agent.then_some(300.0),
            tts_first_audio_ms: agent.then_some(110.0),
            total_ms: agent.then_some(700.0),
            started_at,
            ended_at: started_at + 800,
            audio_start_ms: Some(idx * 1000),
            audio_end_ms: Some(idx * 1000 + 800),
        };
        let ti = Instant::now();
        store.insert_turn(&row).await?;
        samples.push(ti.elapsed());
    }
    let elapsed = t.elapsed();
    line(
        &format!("insert_turn ({} turns, sequential)", args.turns),
        &stats(samples),
    );

    // 4. Full-text search over the transcripts.
    let mut samples = Vec::with_capacity(args.queries as usize);
    let mut hits = 0usize;
    for q in 0..args.queries {
        let words = if q % 2 == 0 { AR } else { EN };
        let query = if q % 4 < 2 {
            rng.pick(words).to_string()
        } else {
            format!("{} {}", rng.pick(words), rng.pick(words))
        };
        let t = Instant::now();
        hits += store.search_transcripts(&query, 20).await?.len();
        samples.push(t.elapsed());
    }
    line(
        &format!("search_transcripts ({} queries, limit 20)", args.queries),
        &stats(samples),
    );
    println!();
    println!(
        "turn inserts: {:.0} turns/s ({} turns in {:.2} s); search: {:.1} hits per query on average",
        f64::from(args.turns) / elapsed.as_secs_f64().max(1e-9),
        args.turns,
        elapsed.as_secs_f64(),
        hits as f64 / f64::from(args.queries.max(1))
    );
    store.close().await;
    Ok(())
}
