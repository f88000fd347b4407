//! Personas (Ahmed reception, Sarah sales, Mohammed support), intent, routing policy
//! and the template replier.
//!
//! # Pieces
//!
//! * [`persona`] gives each persona's names, system prompts (Arabic and English),
//!   greeting, hand-off line and espeak-ng voice.
//! * [`classify_intent`] turns one customer utterance into an [`Intent`] using
//!   phrase rules for English and Arabic (MSA and Levantine, Gulf and Egyptian dialects).
//! * [`Router`] decides, turn by turn, which persona holds the call.
//! * [`TemplateReplier`] answers when no language model is reachable.
//!
//! # Routing policy
//!
//! Each customer turn gives the router an intent, that turn's sentiment score and the
//! call's smoothed sentiment trend (both -1..1). The turn is turned into a *signal*
//! towards a persona with a strength, then hysteresis decides whether to act on it.
//! Thresholds live in [`RoutingPolicy`]; defaults in brackets.
//!
//! Signals, checked in this order:
//!
//! 1. Manager or human request → support, **strong**.
//! 2. Support business (problem, complaint, billing, cancel, order status) → support:
//!    **strong** if the turn is clearly negative (score ≤ -0.5), otherwise **normal**
//!    (already confirmed if the trend is falling, ≤ -0.3).
//! 3. Strongly negative turn (≤ -0.75) whatever was said → support, **strong**.
//! 4. Clearly negative turn with a falling trend → support, **normal**, confirmed.
//! 5. Clearly negative turn alone, or a falling trend with a negative turn → support,
//!    **weak**.
//! 6. Buying interest (purchase, pricing, upgrade) with a non-negative turn
//!    (≥ -0.25) and no falling trend → sales, **normal**.
//!
//! Acting on a signal:
//!
//! * **Strong** signals switch at once, from any persona.
//! * Reception is a dispatcher: it hands the call over on the first **normal** signal.
//! * Away from reception, a **normal** signal switches only after the current persona
//!   has answered at least `min_dwell_turns` turns \[2\] *and* the evidence is
//!   confirmed: either the previous turn pointed the same way or the signal already
//!   spans several turns (falling trend). A single mention does not move the call.
//! * A **weak** signal never switches alone: it needs the previous turn to point the
//!   same way (and the dwell, away from reception).
//! * Support → sales is the one move back: only after the dwell, on a clear purchase
//!   or upgrade (not a price question), with a non-negative turn and no falling trend,
//!   when the previous turn was not about the issue and this turn or the previous one
//!   was positive (≥ 0.2), i.e. "thanks, that fixed it — now I'd like the premium plan".
//! * Nothing routes back to reception automatically; only a supervisor can.
//! * A supervisor [`Router::pin`] overrides everything until [`Router::unpin`]:
//!   `observe` returns `None` while pinned but still records each turn, so after the
//!   pin is lifted the rules resume from the pinned persona with its dwell and the
//!   latest signal intact.
//!
//! Together these rules mean a call alternating between two kinds of requests stays
//! where it is, and two rule-based switches are at least two turns apart unless the
//! second is strong.

mod intent;
mod persona;
mod replier;
mod router;

pub use intent::{classify_intent, normalize, tokenize, Intent, MAX_GAP, PRIORITY};
pub use persona::{
    context_header, persona, Persona, PersonaId, CONTEXT_HEADER_AR, CONTEXT_HEADER_EN,
};
pub use replier::{ReplyContext, TemplateReplier};
pub use router::{
    CauseKind, ChangeReason, Observation, PersonaChange, RouteCause, Router, RoutingPolicy,
};
