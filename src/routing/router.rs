//! The per-call routing state machine. See the module docs of [`crate::routing`] for
//! the policy in prose; this file is its implementation.

use serde::{Deserialize, Serialize};

use super::intent::Intent;
use super::persona::PersonaId;

/// Who moved the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "lowercase")]
pub enum ChangeReason {
    Rule,
    Supervisor,
    /// The AI agent handed the call over (a `transfer_to` tool call).
    Agent,
}

impl ChangeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeReason::Rule => "rule",
            ChangeReason::Supervisor => "supervisor",
            ChangeReason::Agent => "agent",
        }
    }
}

/// Which routing rule moved the call (see the module docs of [`crate::routing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// The customer asked for a manager.
    ManagerRequest,
    /// The customer asked for a human agent.
    HumanRequest,
    /// Support business (`intent`) in a clearly negative turn.
    IntentNegative,
    /// Support business (`intent`) while the call's trend is falling.
    IntentFalling,
    /// Support business (`intent`), sentiment not a factor.
    Intent,
    /// A strongly negative turn, whatever was said.
    StrongNegative,
    /// A clearly negative turn with a falling trend.
    NegativeFalling,
    /// A clearly negative turn.
    Negative,
    /// A falling trend with a negative turn.
    Falling,
    /// Buying interest (`intent`).
    SalesIntent,
    /// A supervisor pinned the call to the new persona.
    SupervisorPin,
    /// The AI agent handed the call over to the persona it judged right.
    AgentHandoff,
}

/// Why the call moved, as data, so that each reader can word it in their own
/// language. [`RouteCause::describe`] gives the English sentence (`why`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct RouteCause {
    pub kind: CauseKind,
    /// The customer's intent that triggered the rule; absent for sentiment-only
    /// causes and supervisor pins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Intent>,
    /// The signal alone was not enough: it had to repeat on consecutive turns.
    #[serde(default)]
    pub consecutive: bool,
    /// The move from support to sales, once the customer sounds satisfied.
    #[serde(default)]
    pub after_support: bool,
}

impl RouteCause {
    pub fn new(kind: CauseKind, intent: Option<Intent>) -> RouteCause {
        RouteCause {
            kind,
            intent,
            consecutive: false,
            after_support: false,
        }
    }

    /// Short English explanation, e.g. "complaint with negative sentiment"; `to` is
    /// the persona the call moved to.
    pub fn describe(&self, to: PersonaId) -> String {
        let what = self.intent.map_or("request", Intent::describe);
        let mut s = match self.kind {
            CauseKind::ManagerRequest => "customer asked for a manager".to_string(),
            CauseKind::HumanRequest => "customer asked for a human agent".to_string(),
            CauseKind::IntentNegative => format!("{what} with negative sentiment"),
            CauseKind::IntentFalling => format!("{what} while sentiment is falling"),
            CauseKind::Intent | CauseKind::SalesIntent => what.to_string(),
            CauseKind::StrongNegative => "strongly negative sentiment".to_string(),
            CauseKind::NegativeFalling => "negative sentiment and falling trend".to_string(),
            CauseKind::Negative => "negative sentiment".to_string(),
            CauseKind::Falling => "falling sentiment trend".to_string(),
            CauseKind::SupervisorPin => format!("supervisor pinned the call to {to}"),
            CauseKind::AgentHandoff => format!("the agent handed the call to {to}"),
        };
        if self.consecutive {
            s.push_str(" on consecutive turns");
        }
        if self.after_support {
            s.push_str(" with positive sentiment after support");
        }
        s
    }
}

/// A persona switch, as reported to the call actor, the UI and the event log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct PersonaChange {
    pub from: PersonaId,
    pub to: PersonaId,
    pub reason: ChangeReason,
    /// Short English explanation, e.g. "complaint with negative sentiment":
    /// `cause.describe(to)`.
    pub why: String,
    /// The same explanation as data, for display in the reader's language.
    pub cause: RouteCause,
}

/// Tunables of the routing rules. Scores and trends are sentiment values in -1..1.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingPolicy {
    /// Customer turns the current persona must have answered before an ordinary
    /// (non-strong) rule may move the call away. Reception is exempt: routing is its
    /// job. Default 2.
    pub min_dwell_turns: u32,
    /// A turn at or below this is "clearly negative". Default -0.5.
    pub negative_score: f32,
    /// A turn at or below this goes to support at once, whatever was said. Default -0.75.
    pub strong_negative_score: f32,
    /// A smoothed trend at or below this means the call is souring. Default -0.3.
    pub falling_trend: f32,
    /// Buying interest only routes to sales when the turn is at least this positive,
    /// i.e. not negative. Default -0.25.
    pub sales_min_score: f32,
    /// Support hands over to sales only if this turn or the one before reached this
    /// score (the customer sounds satisfied). Default 0.2.
    pub positive_score: f32,
}

impl Default for RoutingPolicy {
    fn default() -> Self {
        RoutingPolicy {
            min_dwell_turns: 2,
            negative_score: -0.5,
            strong_negative_score: -0.75,
            falling_trend: -0.3,
            sales_min_score: -0.25,
            positive_score: 0.2,
        }
    }
}

/// How much a single turn says about where the call belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Strength {
    /// Only a hint (one negative turn); needs the previous turn to agree.
    Weak,
    /// A clear request; switches from reception at once, elsewhere after the dwell
    /// and with confirmation.
    Normal,
    /// Switches at once from anywhere.
    Strong,
}

#[derive(Debug, Clone)]
struct Signal {
    to: PersonaId,
    strength: Strength,
    /// The evidence already spans several turns (a falling trend), so it needs no
    /// echo from the previous turn.
    confirmed: bool,
    cause: RouteCause,
}

/// One customer turn as the router saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub turn: u32,
    pub intent: Intent,
    pub score: f32,
    pub trend: f32,
    /// Where this turn pointed on its own, before hysteresis.
    pub signal: Option<PersonaId>,
}

/// Per-call routing state. Every call starts at reception.
#[derive(Debug, Clone)]
pub struct Router {
    policy: RoutingPolicy,
    current: PersonaId,
    pinned: Option<PersonaId>,
    /// Customer turns answered by the current persona so far.
    turns_here: u32,
    last: Option<Observation>,
}

impl Default for Router {
    fn default() -> Self {
        Router::new(RoutingPolicy::default())
    }
}

/// Sentiment comes from another component; NaN or out-of-range values must not
/// trigger (or block) a switch.
fn sane(x: f32) -> f32 {
    if x.is_finite() {
        x.clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

impl Router {
    pub fn new(policy: RoutingPolicy) -> Router {
        Router {
            policy,
            current: PersonaId::Reception,
            pinned: None,
            turns_here: 0,
            last: None,
        }
    }

    pub fn current(&self) -> PersonaId {
        self.current
    }

    pub fn pinned(&self) -> Option<PersonaId> {
        self.pinned
    }

    pub fn policy(&self) -> &RoutingPolicy {
        &self.policy
    }

    /// Customer turns the current persona has answered since it took the call.
    pub fn turns_with_current(&self) -> u32 {
        self.turns_here
    }

    pub fn last_observation(&self) -> Option<&Observation> {
        self.last.as_ref()
    }

    /// One customer turn: intent + this turn's sentiment score (-1..1) + smoothed
    /// trend (-1..1, the call's moving average such as
    /// `crate::sentiment::SentimentTrend::value()`; negative when the call is souring)
    /// → maybe a change. While
    /// pinned, always returns `None` but still records the turn, so the rules pick up
    /// where the conversation is when the pin is lifted.
    pub fn observe(
        &mut self,
        turn: u32,
        intent: Intent,
        score: f32,
        trend: f32,
    ) -> Option<PersonaChange> {
        let score = sane(score);
        let trend = sane(trend);
        let signal = self.signal(intent, score, trend);
        let prev = self.last;
        self.last = Some(Observation {
            turn,
            intent,
            score,
            trend,
            signal: signal.as_ref().map(|s| s.to),
        });

        let change = match (self.pinned, signal) {
            (None, Some(s)) => self.decide(s, prev.as_ref(), intent, score, trend),
            _ => None,
        };
        match &change {
            Some(c) => {
                self.current = c.to;
                // The new persona answers this very turn.
                self.turns_here = 1;
            }
            None => self.turns_here = self.turns_here.saturating_add(1),
        }
        change
    }

    /// Supervisor override: moves the call to `to` and keeps it there until
    /// [`Router::unpin`]. Returns `None` if the call is already with `to` (it is still
    /// pinned).
    pub fn pin(&mut self, to: PersonaId) -> Option<PersonaChange> {
        self.pinned = Some(to);
        if self.current == to {
            return None;
        }
        let from = self.current;
        self.current = to;
        self.turns_here = 0;
        let cause = RouteCause::new(CauseKind::SupervisorPin, None);
        Some(PersonaChange {
            from,
            to,
            reason: ChangeReason::Supervisor,
            why: cause.describe(to),
            cause,
        })
    }

    /// The AI agent hands the call to `to` (a `transfer_to` tool call). A
    /// supervisor's pin wins: a pinned call stays where it is (None).
    pub fn handoff(&mut self, to: PersonaId) -> Option<PersonaChange> {
        if self.pinned.is_some() || self.current == to {
            return None;
        }
        let from = self.current;
        self.current = to;
        self.turns_here = 0;
        let cause = RouteCause::new(CauseKind::AgentHandoff, None);
        Some(PersonaChange {
            from,
            to,
            reason: ChangeReason::Agent,
            why: cause.describe(to),
            cause,
        })
    }

    /// Lifts a supervisor pin; routing rules resume from the current persona, which
    /// keeps the dwell it accumulated while pinned. Returns whether a pin was lifted.
    pub fn unpin(&mut self) -> bool {
        self.pinned.take().is_some()
    }

    fn signal(&self, intent: Intent, score: f32, trend: f32) -> Option<Signal> {
        let p = &self.policy;
        let negative = score <= p.negative_score;
        let falling = trend <= p.falling_trend;
        let sig = |to, strength, confirmed, kind, intent| {
            Some(Signal {
                to,
                strength,
                confirmed,
                cause: RouteCause::new(kind, intent),
            })
        };
        use PersonaId::{Sales, Support};
        use Strength::{Normal, Strong, Weak};

        match intent {
            Intent::Manager => {
                return sig(
                    Support,
                    Strong,
                    true,
                    CauseKind::ManagerRequest,
                    Some(intent),
                )
            }
            Intent::Human => {
                return sig(Support, Strong, true, CauseKind::HumanRequest, Some(intent))
            }
            _ => {}
        }
        if intent.is_support() {
            return if negative {
                sig(
                    Support,
                    Strong,
                    true,
                    CauseKind::IntentNegative,
                    Some(intent),
                )
            } else if falling {
                sig(
                    Support,
                    Normal,
                    true,
                    CauseKind::IntentFalling,
                    Some(intent),
                )
            } else {
                sig(Support, Normal, false, CauseKind::Intent, Some(intent))
            };
        }
        if score <= p.strong_negative_score {
            return sig(Support, Strong, true, CauseKind::StrongNegative, None);
        }
        if negative && falling {
            return sig(Support, Normal, true, CauseKind::NegativeFalling, None);
        }
        if negative {
            return sig(Support, Weak, false, CauseKind::Negative, None);
        }
        if falling && score < 0.0 {
            return sig(Support, Weak, false, CauseKind::Falling, None);
        }
        if intent.is_sales() && score >= p.sales_min_score && !falling {
            return sig(Sales, Normal, false, CauseKind::SalesIntent, Some(intent));
        }
        None
    }

    fn decide(
        &self,
        s: Signal,
        prev: Option<&Observation>,
        intent: Intent,
        score: f32,
        trend: f32,
    ) -> Option<PersonaChange> {
        // Reception is only ever reached by a supervisor: bouncing a customer back to
        // the switchboard mid-issue is never what they want.
        if s.to == self.current || s.to == PersonaId::Reception {
            return None;
        }
        let from_reception = self.current == PersonaId::Reception;
        let dwell_ok = from_reception || self.turns_here >= self.policy.min_dwell_turns;
        let echoed = prev.is_some_and(|o| o.signal == Some(s.to));

        let (allowed, cause) = if self.current == PersonaId::Support && s.to == PersonaId::Sales {
            let ok = dwell_ok && self.issue_settled(prev, intent, score, trend);
            (
                ok,
                RouteCause {
                    after_support: true,
                    ..s.cause
                },
            )
        } else {
            match s.strength {
                Strength::Strong => (true, s.cause),
                Strength::Normal if from_reception || s.confirmed => (dwell_ok, s.cause),
                Strength::Normal | Strength::Weak => (
                    dwell_ok && echoed,
                    RouteCause {
                        consecutive: true,
                        ..s.cause
                    },
                ),
            }
        };
        allowed.then(|| PersonaChange {
            from: self.current,
            to: s.to,
            reason: ChangeReason::Rule,
            why: cause.describe(s.to),
            cause,
        })
    }

    /// Support gives the call to sales only on a clear purchase (not a price
    /// question), with a customer who sounds satisfied and whose previous turn was
    /// not about the issue: otherwise "buy" is often "I'd buy elsewhere".
    fn issue_settled(
        &self,
        prev: Option<&Observation>,
        intent: Intent,
        score: f32,
        trend: f32,
    ) -> bool {
        let p = &self.policy;
        let Some(prev) = prev else {
            return false;
        };
        matches!(intent, Intent::Purchase | Intent::Upgrade)
            && score >= 0.0
            && trend > p.falling_trend
            && prev.signal != Some(PersonaId::Support)
            && (score >= p.positive_score || prev.score >= p.positive_score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PersonaId::{Reception, Sales, Support};

    fn router() -> Router {
        Router::new(RoutingPolicy::default())
    }

    fn cause(kind: CauseKind, intent: Option<Intent>) -> RouteCause {
        RouteCause::new(kind, intent)
    }

    fn consecutive(kind: CauseKind, intent: Option<Intent>) -> RouteCause {
        RouteCause {
            consecutive: true,
            ..RouteCause::new(kind, intent)
        }
    }

    /// Feeds turns 1.. and returns the changes with the turn they happened on.
    fn run(r: &mut Router, turns: &[(Intent, f32, f32)]) -> Vec<(u32, PersonaChange)> {
        let mut out = Vec::new();
        for (i, &(intent, score, trend)) in turns.iter().enumerate() {
            let turn = i as u32 + 1;
            if let Some(c) = r.observe(turn, intent, score, trend) {
                out.push((turn, c));
            }
        }
        out
    }

    #[test]
    fn starts_at_reception_unpinned() {
        let r = router();
        assert_eq!(r.current(), Reception);
        assert_eq!(r.pinned(), None);
    }

    #[test]
    fn reception_to_sales_to_support() {
        let mut r = router();
        let c = r.observe(1, Intent::Pricing, 0.0, 0.0);
        let c = c.expect("pricing question routes to sales");
        assert_eq!(
            (c.from, c.to, c.reason),
            (Reception, Sales, ChangeReason::Rule)
        );
        assert_eq!(c.why, "pricing question");
        assert_eq!(
            c.cause,
            cause(CauseKind::SalesIntent, Some(Intent::Pricing))
        );

        assert_eq!(r.observe(2, Intent::Affirm, 0.3, 0.1), None);
        // First problem mention in sales is not enough on its own...
        assert_eq!(r.observe(3, Intent::Problem, -0.1, 0.0), None);
        assert_eq!(r.current(), Sales);
        // ...the second in a row is.
        let c = r
            .observe(4, Intent::Problem, -0.2, -0.1)
            .expect("repeated problem");
        assert_eq!((c.from, c.to), (Sales, Support));
        assert_eq!(c.why, "problem report on consecutive turns");
        assert_eq!(
            c.cause,
            consecutive(CauseKind::Intent, Some(Intent::Problem))
        );
        assert_eq!(r.current(), Support);
    }

    #[test]
    fn negative_complaint_and_manager_switch_at_once() {
        let mut r = router();
        r.observe(1, Intent::Purchase, 0.4, 0.2);
        assert_eq!(r.current(), Sales);
        let c = r.observe(2, Intent::Complaint, -0.6, 0.0).expect("strong");
        assert_eq!(c.to, Support);
        assert_eq!(c.why, "complaint with negative sentiment");
        assert_eq!(
            c.cause,
            cause(CauseKind::IntentNegative, Some(Intent::Complaint))
        );

        let mut r = router();
        r.observe(1, Intent::Upgrade, 0.2, 0.1);
        let c = r
            .observe(2, Intent::Manager, 0.0, 0.0)
            .expect("manager at once");
        assert_eq!((c.from, c.to), (Sales, Support));
        assert_eq!(c.why, "customer asked for a manager");
        assert_eq!(
            c.cause,
            cause(CauseKind::ManagerRequest, Some(Intent::Manager))
        );

        let mut r = router();
        let c = r
            .observe(1, Intent::Human, 0.2, 0.0)
            .expect("human from reception");
        assert_eq!(c.to, Support);
        assert_eq!(c.why, "customer asked for a human agent");
        assert_eq!(c.cause, cause(CauseKind::HumanRequest, Some(Intent::Human)));

        let mut r = router();
        r.observe(1, Intent::Purchase, 0.4, 0.2);
        let c = r
            .observe(2, Intent::Other, -0.9, -0.1)
            .expect("strongly negative");
        assert_eq!(c.why, "strongly negative sentiment");
        assert_eq!(c.cause, cause(CauseKind::StrongNegative, None));
    }

    #[test]
    fn support_requests_from_reception_route_at_once() {
        for intent in [
            Intent::Problem,
            Intent::Complaint,
            Intent::Billing,
            Intent::Cancel,
            Intent::OrderStatus,
        ] {
            let mut r = router();
            let c = r.observe(1, intent, 0.0, 0.0).expect("routes");
            assert_eq!(c.to, Support, "{intent}");
            assert_eq!(c.cause, cause(CauseKind::Intent, Some(intent)));
            assert_eq!(c.why, intent.describe());
        }
    }

    #[test]
    fn support_business_while_sentiment_falls() {
        let mut r = router();
        let c = r
            .observe(1, Intent::Billing, -0.2, -0.4)
            .expect("falling billing issue");
        assert_eq!(c.to, Support);
        assert_eq!(c.why, "billing issue while sentiment is falling");
        assert_eq!(
            c.cause,
            cause(CauseKind::IntentFalling, Some(Intent::Billing))
        );
    }

    #[test]
    fn sticky_in_sales_on_one_mildly_negative_turn() {
        let mut r = router();
        r.observe(1, Intent::Purchase, 0.3, 0.1);
        r.observe(2, Intent::Affirm, 0.2, 0.1);
        r.observe(3, Intent::Pricing, 0.0, 0.1);
        assert_eq!(r.observe(4, Intent::Other, -0.35, -0.1), None);
        assert_eq!(r.observe(5, Intent::Pricing, 0.1, 0.0), None);
        // Even a clearly negative turn is only a hint when it stands alone.
        assert_eq!(r.observe(6, Intent::Other, -0.6, -0.1), None);
        assert_eq!(r.observe(7, Intent::Affirm, 0.2, 0.0), None);
        assert_eq!(r.current(), Sales);
    }

    #[test]
    fn sticky_in_support_on_neutral_and_lukewarm_turns() {
        let mut r = router();
        r.observe(1, Intent::Problem, -0.3, -0.1);
        assert_eq!(r.current(), Support);
        assert_eq!(r.observe(2, Intent::Other, 0.0, -0.1), None);
        assert_eq!(r.observe(3, Intent::Affirm, 0.0, 0.0), None);
        assert_eq!(r.observe(4, Intent::Thanks, 0.1, 0.0), None);
        // A price question or a neutral "buy" right after the issue is not a clear
        // purchase with positive sentiment.
        assert_eq!(r.observe(5, Intent::Pricing, 0.5, 0.1), None);
        assert_eq!(r.observe(6, Intent::Problem, -0.2, 0.0), None);
        assert_eq!(r.observe(7, Intent::Purchase, 0.6, 0.2), None);
        assert_eq!(r.current(), Support);
    }

    #[test]
    fn support_to_sales_after_the_problem_is_solved() {
        let mut r = router();
        r.observe(1, Intent::Problem, -0.4, -0.2);
        r.observe(2, Intent::Affirm, 0.1, -0.1);
        r.observe(3, Intent::Thanks, 0.7, 0.2);
        let c = r
            .observe(4, Intent::Purchase, 0.1, 0.3)
            .expect("clear purchase");
        assert_eq!((c.from, c.to), (Support, Sales));
        assert_eq!(
            c.why,
            "purchase interest with positive sentiment after support"
        );
        assert_eq!(
            c.cause,
            RouteCause {
                after_support: true,
                ..cause(CauseKind::SalesIntent, Some(Intent::Purchase))
            }
        );
    }

    #[test]
    fn falling_trend_and_repeated_negativity_reach_support() {
        let mut r = router();
        r.observe(1, Intent::Purchase, 0.3, 0.1);
        r.observe(2, Intent::Pricing, 0.0, 0.0);
        let c = r
            .observe(3, Intent::Other, -0.55, -0.4)
            .expect("souring call");
        assert_eq!(c.why, "negative sentiment and falling trend");
        assert_eq!(c.cause, cause(CauseKind::NegativeFalling, None));

        let mut r = router();
        assert_eq!(r.observe(1, Intent::Other, -0.6, -0.1), None);
        let c = r
            .observe(2, Intent::Other, -0.6, -0.2)
            .expect("second negative turn");
        assert_eq!(c.to, Support);
        assert_eq!(c.why, "negative sentiment on consecutive turns");
        assert_eq!(c.cause, consecutive(CauseKind::Negative, None));

        // A falling trend with mildly negative turns, twice.
        let mut r = router();
        assert_eq!(r.observe(1, Intent::Other, -0.2, -0.35), None);
        let c = r
            .observe(2, Intent::Other, -0.1, -0.4)
            .expect("second souring turn");
        assert_eq!(c.to, Support);
        assert_eq!(c.why, "falling sentiment trend on consecutive turns");
        assert_eq!(c.cause, consecutive(CauseKind::Falling, None));

        // Negative buying interest is not a sales lead.
        let mut r = router();
        assert_eq!(r.observe(1, Intent::Pricing, -0.4, 0.0), None);
        assert_eq!(r.current(), Reception);
    }

    #[test]
    fn no_flip_flop_on_alternating_signals() {
        let mixed: Vec<_> = (0..30)
            .map(|i| {
                if i % 2 == 0 {
                    (Intent::Purchase, 0.4, 0.1)
                } else {
                    (Intent::Problem, -0.2, 0.0)
                }
            })
            .collect();
        let mut r = router();
        let changes = run(&mut r, &mixed);
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(r.current(), Sales);

        let moods: Vec<_> = (0..30)
            .map(|i| (Intent::Other, if i % 2 == 0 { 0.6 } else { -0.6 }, 0.0))
            .collect();
        let mut r = router();
        assert!(run(&mut r, &moods).is_empty());

        // Angry complaints alternating with happy purchase talk: one move to sales,
        // one to support, and it stays there.
        let swings: Vec<_> = (0..30)
            .map(|i| {
                if i % 2 == 0 {
                    (Intent::Purchase, 0.7, 0.0)
                } else {
                    (Intent::Complaint, -0.8, 0.0)
                }
            })
            .collect();
        let mut r = router();
        let changes = run(&mut r, &swings);
        assert_eq!(changes.len(), 2, "{changes:?}");
        assert_eq!(r.current(), Support);
    }

    #[test]
    fn dwell_limits_switch_rate_and_never_returns_to_reception() {
        // A pseudo-random mix of every intent and mood.
        let mut seed = 7u32;
        let mut turns = Vec::new();
        for _ in 0..400 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let intent = Intent::ALL[(seed >> 8) as usize % Intent::ALL.len()];
            let score = ((seed >> 16) % 200) as f32 / 100.0 - 1.0;
            let trend = score * 0.5;
            turns.push((intent, score, trend));
        }
        let mut r = router();
        let changes = run(&mut r, &turns);
        for (_, c) in &changes {
            assert_eq!(c.why, c.cause.describe(c.to));
            assert_eq!(
                c.cause.intent.is_some(),
                !matches!(
                    c.cause.kind,
                    CauseKind::StrongNegative
                        | CauseKind::NegativeFalling
                        | CauseKind::Negative
                        | CauseKind::Falling
                ),
                "{c:?}"
            );
        }
        for w in changes.windows(2) {
            let (t0, _) = &w[0];
            let (t1, c1) = &w[1];
            assert_ne!(c1.to, Reception);
            let strong = c1.why.starts_with("customer asked")
                || c1.why.contains("with negative sentiment")
                || c1.why == "strongly negative sentiment";
            assert!(strong || t1 - t0 >= 2, "{t0} -> {t1}: {}", c1.why);
        }
    }

    #[test]
    fn pin_overrides_until_unpinned() {
        let mut r = router();
        let c = r.pin(Sales).expect("moves");
        assert_eq!(c.reason, ChangeReason::Supervisor);
        assert_eq!(c.why, "supervisor pinned the call to sales");
        assert_eq!(c.cause, cause(CauseKind::SupervisorPin, None));
        assert_eq!((c.from, c.to), (Reception, Sales));
        assert_eq!(r.pinned(), Some(Sales));

        assert_eq!(r.observe(1, Intent::Manager, -0.9, -0.8), None);
        assert_eq!(r.current(), Sales);
        assert_eq!(r.pin(Sales), None, "already there");
        assert_eq!(r.pinned(), Some(Sales));

        assert!(r.unpin());
        assert!(!r.unpin());
        assert_eq!(r.pinned(), None);
        let c = r
            .observe(2, Intent::Manager, 0.0, 0.0)
            .expect("rules resume");
        assert_eq!(
            (c.from, c.to, c.reason),
            (Sales, Support, ChangeReason::Rule)
        );

        // A supervisor may send the call back to reception.
        let c = r.pin(Reception).expect("moves");
        assert_eq!(c.to, Reception);
    }

    #[test]
    fn history_kept_while_pinned_informs_rules_after_unpin() {
        let mut r = router();
        r.pin(Sales);
        assert_eq!(r.observe(1, Intent::Problem, -0.2, 0.0), None);
        assert_eq!(r.observe(2, Intent::Problem, -0.2, 0.0), None);
        assert_eq!(r.last_observation().map(|o| o.signal), Some(Some(Support)));
        r.unpin();
        let c = r.observe(3, Intent::Problem, -0.2, 0.0).expect("confirmed");
        assert_eq!(c.to, Support);
    }

    #[test]
    fn garbage_sentiment_is_neutral() {
        let mut r = router();
        assert_eq!(
            r.observe(1, Intent::Other, f32::NAN, f32::NEG_INFINITY),
            None
        );
        assert_eq!(r.observe(2, Intent::Other, f32::NAN, f32::NAN), None);
        let c = r.observe(3, Intent::Purchase, 5.0, f32::NAN);
        assert_eq!(c.map(|c| c.to), Some(Sales));
        assert_eq!(r.last_observation().map(|o| o.score), Some(1.0));
    }

    #[test]
    fn change_serializes_with_lowercase_ids() {
        let c = PersonaChange {
            from: Sales,
            to: Support,
            reason: ChangeReason::Supervisor,
            why: "x".into(),
            cause: cause(CauseKind::SupervisorPin, None),
        };
        let v = serde_json::to_value(&c).unwrap_or_default();
        assert_eq!(v["from"], "sales");
        assert_eq!(v["to"], "support");
        assert_eq!(v["reason"], "supervisor");
        assert_eq!(
            v["cause"],
            serde_json::json!({"kind": "supervisor_pin", "consecutive": false, "after_support": false})
        );
    }

    #[test]
    fn cause_serializes_in_snake_case_and_reads_back() {
        let c = RouteCause {
            consecutive: true,
            ..cause(CauseKind::Intent, Some(Intent::OrderStatus))
        };
        let v = serde_json::to_value(c).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({
                "kind": "intent",
                "intent": "order_status",
                "consecutive": true,
                "after_support": false,
            })
        );
        assert_eq!(serde_json::from_value::<RouteCause>(v).ok(), Some(c));
        // The flags may be left out.
        let bare: Option<RouteCause> =
            serde_json::from_value(serde_json::json!({"kind": "strong_negative"})).ok();
        assert_eq!(bare, Some(cause(CauseKind::StrongNegative, None)));
    }
}
