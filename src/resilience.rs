//! What keeps a call alive when a cloud provider is not: retries with backoff
//! and jitter for requests that may be repeated, and a circuit breaker per
//! provider so that, once it is known to be down, later turns go straight to
//! the next provider of the chain instead of waiting for it to fail again.
//!
//! A retry is only ever made where repeating the request cannot be heard or
//! seen twice: before the first byte of an answer has been used.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// When to try a failed request again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first one included.
    pub max_attempts: u32,
    /// The backoff before the second try; it doubles with each further try.
    pub base: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before try number `attempt + 1` (`attempt` ≥ 1 tries
    /// made), or None to give up: no tries left, or the wait would end after
    /// `deadline`. A server's `Retry-After` is obeyed as it is (never shortened);
    /// otherwise the wait is "full jitter": anywhere up to the doubled backoff,
    /// so callers that failed together do not retry together.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        now: Instant,
        deadline: Instant,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let wait = match retry_after {
            Some(d) => d,
            None => {
                let cap = self
                    .base
                    .saturating_mul(1u32 << (attempt - 1).min(16))
                    .min(self.max_delay);
                cap.mul_f64(jitter())
            }
        };
        (now + wait < deadline).then_some(wait)
    }
}

impl RetryPolicy {
    /// After try number `attempt` failed: waits before the next one and counts
    /// it when the request may be repeated (`retryable`) and [`delay`](Self::delay)
    /// allows; false means give up now.
    pub async fn wait_to_retry(
        &self,
        attempt: &mut u32,
        retryable: bool,
        retry_after: Option<Duration>,
        deadline: tokio::time::Instant,
        provider: &str,
        code: &str,
    ) -> bool {
        let wait = retryable
            .then(|| self.delay(*attempt, retry_after, Instant::now(), deadline.into_std()))
            .flatten();
        let Some(w) = wait else { return false };
        tracing::info!(
            provider,
            attempt = *attempt,
            code,
            wait_ms = w.as_millis() as u64,
            "retrying"
        );
        tokio::time::sleep(w).await;
        *attempt += 1;
        true
    }
}

/// "`provider` is skipped for the next N s": what an open circuit means, in
/// messages.
pub fn skipped_for(provider: &str, open_for: Duration) -> String {
    format!(
        "{provider} is skipped for the next {} s",
        open_for.as_secs().max(1)
    )
}

/// A number in [0, 1), different on every call and in every process.
fn jitter() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
    // splitmix64
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses an HTTP `Retry-After` header given in seconds (the form every API
/// here uses; an HTTP date is not trusted to the local clock and is ignored).
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let v = value?.trim();
    if let Ok(s) = v.parse::<u64>() {
        return Some(Duration::from_secs(s.min(24 * 3600)));
    }
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(24.0 * 3600.0)))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Failures in a row that open the circuit.
    pub failures: u32,
    /// How long an open circuit refuses before one trial request is let through.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 3,
            open_for: Duration::from_secs(30),
        }
    }
}

/// One provider's health: closed (in use), open (skipped until a time), or
/// half open (one trial request on its way; the others are skipped).
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum BreakerState {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// Why a provider is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    /// Until the next trial request.
    pub remaining: Duration,
}

impl Open {
    /// Why `provider` was not asked, in words.
    pub fn reason(&self, provider: &str) -> String {
        format!(
            "{} after failing repeatedly",
            skipped_for(provider, self.remaining)
        )
    }
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: Mutex::new(BreakerState::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// May a request go out now? An open circuit whose time is up lets exactly
    /// one trial through.
    pub fn allow(&self) -> Result<(), Open> {
        let mut s = self.lock();
        match *s {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::HalfOpen => Err(Open {
                remaining: Duration::ZERO,
            }),
            BreakerState::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *s = BreakerState::HalfOpen;
                    Ok(())
                } else {
                    Err(Open {
                        remaining: until - now,
                    })
                }
            }
        }
    }

    /// Without taking the trial slot: would a request be refused now?
    pub fn is_open(&self) -> bool {
        match *self.lock() {
            BreakerState::Closed { .. } => false,
            BreakerState::HalfOpen => true,
            BreakerState::Open { until } => Instant::now() < until,
        }
    }

    pub fn success(&self) {
        *self.lock() = BreakerState::Closed { failures: 0 };
    }

    /// A failed request. `hold`: the server asked to be left alone this long
    /// (429 Retry-After): the circuit opens at once, for at least that long.
    /// Returns how long the circuit is now open, if it is.
    pub fn failure(&self, hold: Option<Duration>) -> Option<Duration> {
        let mut s = self.lock();
        let now = Instant::now();
        let open_for = |extra: Option<Duration>| {
            extra
                .map(|h| h.max(self.config.open_for))
                .unwrap_or(self.config.open_for)
        };
        match *s {
            BreakerState::Closed { failures } => {
                let failures = failures + 1;
                if failures >= self.config.failures || hold.is_some() {
                    let d = open_for(hold);
                    *s = BreakerState::Open { until: now + d };
                    Some(d)
                } else {
                    *s = BreakerState::Closed { failures };
                    None
                }
            }
            // The trial failed, or a request sent before the circuit opened.
            BreakerState::HalfOpen | BreakerState::Open { .. } => {
                let d = open_for(hold);
                *s = BreakerState::Open { until: now + d };
                Some(d)
            }
        }
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new(BreakerConfig::default())
    }
}

/// The innermost cause of an error ("Connection refused"), for messages.
pub fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut e = err;
    while let Some(s) = e.source() {
        e = s;
    }
    e.to_string()
}

/// A provider's body, up to `max` bytes, read by `deadline`; None when the
/// deadline passed first.
pub async fn read_body(
    resp: reqwest::Response,
    deadline: tokio::time::Instant,
    max: usize,
) -> Option<String> {
    use futures::StreamExt;
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    loop {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(b))) => {
                body.extend_from_slice(&b);
                if body.len() >= max {
                    body.truncate(max);
                    break;
                }
            }
            Ok(Some(Err(_))) | Ok(None) => break,
        }
    }
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// A provider's own words for an error: OpenAI's `{"error":{"message"}}`,
/// ElevenLabs' `{"detail":{"message"}}` or `{"detail": "…"}`, a bare
/// `{"message"}`; otherwise the start of the body, one line, without markup.
pub fn error_detail(body: &str) -> String {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(body) {
        let msg = v
            .pointer("/error/message")
            .or_else(|| v.pointer("/detail/message"))
            .or_else(|| v.get("detail").filter(|d| d.is_string()))
            .or_else(|| v.get("message"))
            .and_then(|m| m.as_str());
        if let Some(m) = msg {
            return one_line(m);
        }
    }
    let t = one_line(body);
    if t.is_empty() {
        "no details".into()
    } else {
        t
    }
}

/// Text from a provider made safe for a message: markup and control
/// characters gone, whitespace collapsed, at most 200 characters.
pub fn one_line(s: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if in_tag => {}
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(200)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_full_jitter_obeys_retry_after_and_the_deadline() {
        let p = RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        let now = Instant::now();
        let far = now + Duration::from_secs(60);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d1 = p.delay(1, None, now, far).unwrap();
            let d3 = p.delay(3, None, now, far).unwrap();
            assert!(d1 <= Duration::from_millis(100), "{d1:?}");
            assert!(d3 <= Duration::from_millis(300), "capped: {d3:?}");
            seen.insert(d1.as_micros());
        }
        assert!(seen.len() > 150, "jittered: {} distinct waits", seen.len());
        assert_eq!(p.delay(4, None, now, far), None, "no tries left");
        assert_eq!(
            p.delay(1, Some(Duration::from_millis(700)), now, far),
            Some(Duration::from_millis(700)),
            "Retry-After is obeyed as given"
        );
        assert_eq!(
            p.delay(
                1,
                Some(Duration::from_secs(30)),
                now,
                now + Duration::from_secs(2)
            ),
            None,
            "a wait past the deadline is no retry"
        );
        assert_eq!(retry_after(Some(" 2 ")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(Some("0.5")), Some(Duration::from_millis(500)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(Some("-1")), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn the_circuit_opens_after_failures_in_a_row_lets_one_trial_through_and_closes_on_success() {
        let b = CircuitBreaker::new(BreakerConfig {
            failures: 3,
            open_for: Duration::from_millis(80),
        });
        assert!(b.allow().is_ok());
        assert_eq!(b.failure(None), None);
        b.success();
        assert_eq!(b.failure(None), None);
        assert_eq!(b.failure(None), None);
        assert_eq!(b.failure(None), Some(Duration::from_millis(80)));
        assert!(b.is_open());
        assert!(b.allow().is_err(), "open: skipped at once");
        std::thread::sleep(Duration::from_millis(90));
        assert!(b.allow().is_ok(), "time up: one trial");
        assert!(b.allow().is_err(), "only one trial at a time");
        b.failure(None);
        assert!(b.allow().is_err(), "the trial failed: open again");
        std::thread::sleep(Duration::from_millis(90));
        assert!(b.allow().is_ok());
        b.success();
        assert!(b.allow().is_ok() && !b.is_open());
        // A 429 with Retry-After opens it at once, for at least that long.
        assert_eq!(
            b.failure(Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert!(b.allow().unwrap_err().remaining > Duration::from_secs(4));
    }

    #[test]
    fn error_bodies_are_read_in_the_services_own_words_and_never_as_markup() {
        assert_eq!(
            error_detail(r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#),
            "Rate limit reached"
        );
        assert_eq!(
            error_detail(r#"{"detail":{"status":"quota_exceeded","message":"Quota exceeded"}}"#),
            "Quota exceeded"
        );
        assert_eq!(
            error_detail("<html><body><h1>502 Bad Gateway</h1>\n</body></html>"),
            "502 Bad Gateway"
        );
        assert_eq!(error_detail(""), "no details");
    }
}
