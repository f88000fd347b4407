//! The turn-taking state machine, over per-frame voiced/unvoiced decisions.
//!
//! Pure and deterministic: no audio, no clock, no model. One call to
//! [`TurnStateMachine::step`] per 20 ms frame.

use super::{ms_to_frames, TurnConfig, TurnEvent, FRAME_MS};

/// Unvoiced frames tolerated inside a not-yet-confirmed utterance. Stops and
/// short pauses inside and between words (and VAD dropouts on quiet
/// consonants) are typically 20–100 ms; a longer gap means the candidate was
/// a noise burst, not the start of speech.
pub const ONSET_GAP_TOLERANCE_MS: u32 = 100;

/// Consecutive voiced frames needed to cancel a running end-of-turn silence.
/// A single voiced frame is usually a click, breath or VAD flicker; letting it
/// reset the silence would delay every end of turn by a full hold period.
pub const RESUME_MS: u32 = 40;

/// A semantic end-of-turn verdict (e.g. from a Smart Turn model run on the
/// turn's audio when the customer pauses), overriding the silence hold for the
/// current pause only.
///
/// The hint is cleared when speech resumes or the turn ends, so a verdict
/// about one pause never leaks into the next. `max_turn_ms` always applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndOfTurnHint {
    /// The utterance sounds finished: end the turn once `silence_ms` of
    /// silence has passed (normally shorter than `silence_hold_ms`). Checked
    /// on the next pushed frame: with 0, or a silence already that long, the
    /// turn ends on the next unvoiced frame.
    Complete { silence_ms: u32 },
    /// The utterance sounds unfinished ("my account number is…"): wait for
    /// `silence_ms` of silence instead (normally longer than `silence_hold_ms`).
    Incomplete { silence_ms: u32 },
}

impl EndOfTurnHint {
    fn silence_ms(self) -> u32 {
        match self {
            EndOfTurnHint::Complete { silence_ms } | EndOfTurnHint::Incomplete { silence_ms } => {
                silence_ms
            }
        }
    }
}

/// Why the last turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// `silence_hold_ms` of silence after speech.
    Silence,
    /// A semantic hint changed the required silence and it was reached.
    Semantic,
    /// The turn reached `max_turn_ms` and was cut.
    MaxTurn,
}

/// Coarse phase of the customer side, for UIs and for deciding when to run a
/// semantic end-of-turn model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnState {
    /// No speech.
    Idle,
    /// Voice detected but not yet long enough to be a turn.
    Starting,
    /// In a turn, currently voiced.
    Speaking,
    /// In a turn, currently silent; the turn ends if the silence lasts.
    Pausing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Starting,
    Speaking,
}

/// Frame counts derived from a [`TurnConfig`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    silence_hold: u32,
    min_speech: u32,
    barge_in_min: u32,
    max_turn: u32,
    onset_gap: u32,
    resume: u32,
}

impl Limits {
    fn new(c: &TurnConfig) -> Self {
        Limits {
            silence_hold: ms_to_frames(c.silence_hold_ms).max(1),
            min_speech: ms_to_frames(c.min_speech_ms).max(1),
            barge_in_min: ms_to_frames(c.barge_in_min_ms).max(1),
            max_turn: ms_to_frames(c.max_turn_ms).max(1),
            onset_gap: ms_to_frames(ONSET_GAP_TOLERANCE_MS),
            resume: ms_to_frames(RESUME_MS).max(1),
        }
    }
}

/// Turn-taking over a stream of voiced/unvoiced decisions.
///
/// - `SpeechStarted` once `min_speech_ms` of voiced frames accumulate, with
///   gaps of up to [`ONSET_GAP_TOLERANCE_MS`] allowed between them.
/// - `EndOfTurn` after `silence_hold_ms` of silence following speech (or the
///   hint's silence, see [`EndOfTurnHint`]), or forced at `max_turn_ms`.
/// - `BargeIn` instead of/after `SpeechStarted` once the customer has spoken
///   `barge_in_min_ms` while the agent is speaking; at most once per agent
///   utterance (re-armed when `agent_speaking` goes false). The customer's
///   speech then continues as a normal turn ending in `EndOfTurn`.
#[derive(Debug, Clone)]
pub struct TurnStateMachine {
    config: TurnConfig,
    limits: Limits,
    phase: Phase,
    /// Index of the frame being processed (0-based, frames since reset).
    frame: u64,
    onset_frame: u64,
    last_voiced_frame: u64,
    voiced_frames: u32,
    gap_run: u32,
    trailing: u32,
    resume_run: u32,
    /// Voiced frames of the current customer activity while the agent spoke.
    overlap_voiced: u32,
    barge_in_fired: bool,
    hint: Option<EndOfTurnHint>,
    last_end_reason: Option<EndReason>,
}

impl TurnStateMachine {
    pub fn new(config: TurnConfig) -> Self {
        TurnStateMachine {
            limits: Limits::new(&config),
            config,
            phase: Phase::Idle,
            frame: 0,
            onset_frame: 0,
            last_voiced_frame: 0,
            voiced_frames: 0,
            gap_run: 0,
            trailing: 0,
            resume_run: 0,
            overlap_voiced: 0,
            barge_in_fired: false,
            hint: None,
            last_end_reason: None,
        }
    }

    pub fn config(&self) -> &TurnConfig {
        &self.config
    }

    /// Forgets everything (new call).
    pub fn reset(&mut self) {
        *self = TurnStateMachine::new(self.config.clone());
    }

    /// Advances by one frame. `voiced` is the VAD decision for the frame;
    /// `agent_speaking` whether the agent's audio is playing during it.
    pub fn step(&mut self, voiced: bool, agent_speaking: bool) -> Option<TurnEvent> {
        let now = self.frame;
        self.frame += 1;
        if !agent_speaking {
            self.barge_in_fired = false;
            self.overlap_voiced = 0;
        }

        match self.phase {
            Phase::Idle => {
                if !voiced {
                    return None;
                }
                self.phase = Phase::Starting;
                self.onset_frame = now;
                self.last_voiced_frame = now;
                self.voiced_frames = 1;
                self.gap_run = 0;
                self.overlap_voiced = 0;
            }
            Phase::Starting => {
                if voiced {
                    self.voiced_frames += 1;
                    self.last_voiced_frame = now;
                    self.gap_run = 0;
                } else {
                    self.gap_run += 1;
                    if self.gap_run > self.limits.onset_gap {
                        self.end_activity();
                    }
                    return None;
                }
            }
            Phase::Speaking => {
                if voiced {
                    if self.trailing == 0 {
                        self.last_voiced_frame = now;
                    } else {
                        self.resume_run += 1;
                        if self.resume_run >= self.limits.resume {
                            self.trailing = 0;
                            self.resume_run = 0;
                            self.last_voiced_frame = now;
                            self.hint = None;
                        } else {
                            // Not (yet) a resumption: part of the pause.
                            self.trailing += 1;
                        }
                    }
                } else {
                    self.resume_run = 0;
                    self.trailing += 1;
                }
            }
        }

        if voiced && agent_speaking {
            self.overlap_voiced += 1;
        }
        if agent_speaking && !self.barge_in_fired && self.overlap_voiced >= self.limits.barge_in_min
        {
            self.barge_in_fired = true;
            if self.phase == Phase::Starting {
                self.enter_speaking();
            }
            return Some(TurnEvent::BargeIn);
        }

        match self.phase {
            Phase::Starting if self.voiced_frames >= self.limits.min_speech => {
                self.enter_speaking();
                Some(TurnEvent::SpeechStarted)
            }
            Phase::Speaking => self.check_end(now),
            _ => None,
        }
    }

    fn enter_speaking(&mut self) {
        self.phase = Phase::Speaking;
        self.trailing = 0;
        self.resume_run = 0;
    }

    fn end_activity(&mut self) {
        self.phase = Phase::Idle;
        self.voiced_frames = 0;
        self.gap_run = 0;
        self.trailing = 0;
        self.resume_run = 0;
        self.overlap_voiced = 0;
        self.hint = None;
    }

    fn check_end(&mut self, now: u64) -> Option<TurnEvent> {
        let hold = match self.hint {
            Some(h) => ms_to_frames(h.silence_ms()),
            None => self.limits.silence_hold,
        };
        let reason = if self.trailing > 0 && self.trailing >= hold {
            if self.hint.is_some() {
                EndReason::Semantic
            } else {
                EndReason::Silence
            }
        } else if now + 1 - self.onset_frame >= u64::from(self.limits.max_turn) {
            EndReason::MaxTurn
        } else {
            return None;
        };
        // Speech runs from onset to the end of the last voiced frame; a forced
        // end while still talking counts the whole turn as speech.
        let speech_frames = (self.last_voiced_frame + 1 - self.onset_frame) as u32;
        let event = TurnEvent::EndOfTurn {
            speech_ms: speech_frames.saturating_mul(FRAME_MS),
            trailing_silence_ms: self.trailing.saturating_mul(FRAME_MS),
        };
        self.last_end_reason = Some(reason);
        self.end_activity();
        Some(event)
    }

    /// Sets or clears the semantic hint for the current pause. See
    /// [`EndOfTurnHint`]. Ignored while no turn is in progress, because it
    /// would otherwise apply to a future, unrelated utterance.
    pub fn set_semantic_hint(&mut self, hint: Option<EndOfTurnHint>) {
        if self.phase == Phase::Speaking || hint.is_none() {
            self.hint = hint;
        }
    }

    pub fn semantic_hint(&self) -> Option<EndOfTurnHint> {
        self.hint
    }

    pub fn state(&self) -> TurnState {
        match self.phase {
            Phase::Idle => TurnState::Idle,
            Phase::Starting => TurnState::Starting,
            Phase::Speaking if self.trailing == 0 => TurnState::Speaking,
            Phase::Speaking => TurnState::Pausing,
        }
    }

    /// Silence since the last speech of the current turn, in ms (0 outside a turn).
    pub fn trailing_silence_ms(&self) -> u32 {
        if self.phase == Phase::Speaking {
            self.trailing * FRAME_MS
        } else {
            0
        }
    }

    /// Frame index (since creation/reset) where the current utterance's speech
    /// began, while one is starting or in progress.
    pub fn onset_frame(&self) -> Option<u64> {
        match self.phase {
            Phase::Idle => None,
            _ => Some(self.onset_frame),
        }
    }

    /// Frames processed since creation/reset.
    pub fn frames_seen(&self) -> u64 {
        self.frame
    }

    /// Why the most recent `EndOfTurn` was emitted.
    pub fn last_end_reason(&self) -> Option<EndReason> {
        self.last_end_reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a script where each char is one frame: `#` voiced, `.` unvoiced;
    /// uppercase `A` = voiced while agent speaks, `a` = unvoiced while agent
    /// speaks. Returns (frame index, event) pairs.
    fn run(m: &mut TurnStateMachine, script: &str) -> Vec<(u64, TurnEvent)> {
        let start = m.frames_seen();
        script
            .chars()
            .filter(|c| !c.is_whitespace())
            .enumerate()
            .filter_map(|(i, c)| {
                let (voiced, agent) = match c {
                    '#' => (true, false),
                    '.' => (false, false),
                    'A' => (true, true),
                    'a' => (false, true),
                    other => panic!("bad script char {other}"),
                };
                m.step(voiced, agent).map(|e| (start + i as u64, e))
            })
            .collect()
    }

    fn machine() -> TurnStateMachine {
        TurnStateMachine::new(TurnConfig::default())
    }

    fn rep(c: char, n: usize) -> String {
        std::iter::repeat_n(c, n).collect()
    }

    #[test]
    fn frame_conversions() {
        // 500 ms hold = 25 frames, 200 ms min speech = 10 frames.
        let l = Limits::new(&TurnConfig::default());
        assert_eq!(
            (l.silence_hold, l.min_speech, l.barge_in_min, l.max_turn),
            (25, 10, 8, 1500)
        );
    }

    #[test]
    fn speech_start_and_end_timing() {
        let mut m = machine();
        let script = format!("{}{}{}", rep('.', 10), rep('#', 40), rep('.', 40));
        let events = run(&mut m, &script);
        assert_eq!(
            events,
            vec![
                (19, TurnEvent::SpeechStarted),
                (
                    74,
                    TurnEvent::EndOfTurn {
                        speech_ms: 800,
                        trailing_silence_ms: 500
                    }
                ),
            ]
        );
        assert_eq!(m.last_end_reason(), Some(EndReason::Silence));
        assert_eq!(m.state(), TurnState::Idle);
    }

    #[test]
    fn short_bursts_are_not_speech() {
        let mut m = machine();
        // 9 voiced frames then a long gap: one short of min_speech.
        let script = format!("{}{}", rep('#', 9), rep('.', 30));
        assert!(run(&mut m, &script).is_empty());
        // Isolated clicks further apart than the gap tolerance never add up.
        let clicks = rep('#', 1) + &rep('.', 6);
        assert!(run(&mut m, &clicks.repeat(20)).is_empty());
    }

    #[test]
    fn gaps_inside_words_are_tolerated_at_onset() {
        let mut m = machine();
        // 10 voiced frames split by 1–5 frame gaps.
        let events = run(&mut m, "###..##.....###.##.....");
        assert_eq!(events, vec![(17, TurnEvent::SpeechStarted)]);
        assert_eq!(m.onset_frame(), Some(0));
    }

    #[test]
    fn pause_shorter_than_hold_keeps_the_turn() {
        let mut m = machine();
        let script = format!(
            "{}{}{}{}",
            rep('#', 20),
            rep('.', 15),
            rep('#', 20),
            rep('.', 30)
        );
        let events = run(&mut m, &script);
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(
            events[1],
            (
                79,
                TurnEvent::EndOfTurn {
                    speech_ms: 1100,
                    trailing_silence_ms: 500
                }
            )
        );

        let mut m = TurnStateMachine::new(TurnConfig {
            silence_hold_ms: 200,
            ..TurnConfig::default()
        });
        let events = run(&mut m, &script);
        // The pause ends the first turn; the second half is a new turn.
        assert_eq!(
            events.iter().map(|e| e.1).collect::<Vec<_>>(),
            vec![
                TurnEvent::SpeechStarted,
                TurnEvent::EndOfTurn {
                    speech_ms: 400,
                    trailing_silence_ms: 200
                },
                TurnEvent::SpeechStarted,
                TurnEvent::EndOfTurn {
                    speech_ms: 400,
                    trailing_silence_ms: 200
                },
            ]
        );
    }

    #[test]
    fn single_voiced_blip_does_not_restart_the_hold() {
        let mut m = machine();
        let script = format!("{}{}#{}", rep('#', 20), rep('.', 10), rep('.', 20));
        let events = run(&mut m, &script);
        // Ends at 25 frames of silence counted from the last real speech,
        // the blip included in the silence.
        assert_eq!(
            events[1],
            (
                44,
                TurnEvent::EndOfTurn {
                    speech_ms: 400,
                    trailing_silence_ms: 500
                }
            )
        );
    }

    #[test]
    fn max_turn_forces_an_end_and_speech_continues_as_new_turn() {
        let mut m = TurnStateMachine::new(TurnConfig {
            max_turn_ms: 1000,
            ..TurnConfig::default()
        });
        let events = run(&mut m, &rep('#', 80));
        assert_eq!(
            events,
            vec![
                (9, TurnEvent::SpeechStarted),
                (
                    49,
                    TurnEvent::EndOfTurn {
                        speech_ms: 1000,
                        trailing_silence_ms: 0
                    }
                ),
                (59, TurnEvent::SpeechStarted),
            ]
        );
        assert_eq!(m.last_end_reason(), Some(EndReason::MaxTurn));
    }

    #[test]
    fn barge_in_fires_once_then_turn_ends_normally() {
        let mut m = machine();
        // Agent talking; customer talks over it for 1 s, with a pause.
        let script = format!(
            "{}{}{}{}{}",
            rep('a', 10),
            rep('A', 20),
            rep('a', 10),
            rep('A', 20),
            rep('.', 30)
        );
        let events = run(&mut m, &script);
        assert_eq!(
            events,
            vec![
                (17, TurnEvent::BargeIn),
                (
                    84,
                    TurnEvent::EndOfTurn {
                        speech_ms: 1000,
                        trailing_silence_ms: 500
                    }
                ),
            ]
        );
    }

    #[test]
    fn barge_in_rearms_per_agent_utterance() {
        let mut m = machine();
        let turn = format!("{}{}", rep('A', 12), rep('a', 30));
        let events = run(&mut m, &format!("{turn}{turn}"));
        // Same agent utterance throughout: only the first speech barges in.
        let kinds: Vec<_> = events
            .iter()
            .map(|e| e.1)
            .filter(|e| *e == TurnEvent::BargeIn)
            .collect();
        assert_eq!(kinds.len(), 1, "{events:?}");
        assert!(events.iter().any(|e| e.1 == TurnEvent::SpeechStarted));

        let mut m = machine();
        let events = run(&mut m, &format!("{turn}.{turn}"));
        let barge = events.iter().filter(|e| e.1 == TurnEvent::BargeIn).count();
        assert_eq!(barge, 2, "{events:?}");
    }

    #[test]
    fn short_overlap_is_not_barge_in() {
        let mut m = machine();
        // 7 voiced frames (140 ms) < 160 ms while the agent talks: backchannel.
        let events = run(&mut m, &format!("{}{}", rep('A', 7), rep('a', 20)));
        assert!(events.is_empty(), "{events:?}");
    }

    #[test]
    fn barge_in_during_existing_turn() {
        let mut m = machine();
        // Customer already speaking when the agent starts (e.g. a late reply).
        let events = run(&mut m, &format!("{}{}", rep('#', 15), rep('A', 10)));
        assert_eq!(
            events,
            vec![(9, TurnEvent::SpeechStarted), (22, TurnEvent::BargeIn)]
        );
    }

    #[test]
    fn semantic_hint_can_end_early_or_hold() {
        let speech = rep('#', 20);
        let mut m = machine();
        run(&mut m, &speech);
        run(&mut m, &rep('.', 5));
        assert_eq!(m.state(), TurnState::Pausing);
        assert_eq!(m.trailing_silence_ms(), 100);
        m.set_semantic_hint(Some(EndOfTurnHint::Complete { silence_ms: 0 }));
        assert_eq!(
            m.step(false, false),
            Some(TurnEvent::EndOfTurn {
                speech_ms: 400,
                trailing_silence_ms: 120
            })
        );
        assert_eq!(m.last_end_reason(), Some(EndReason::Semantic));

        let mut m = machine();
        run(&mut m, &speech);
        run(&mut m, &rep('.', 10));
        m.set_semantic_hint(Some(EndOfTurnHint::Incomplete { silence_ms: 1500 }));
        let events = run(&mut m, &rep('.', 80));
        assert_eq!(
            events,
            vec![(
                94,
                TurnEvent::EndOfTurn {
                    speech_ms: 400,
                    trailing_silence_ms: 1500
                }
            )]
        );

        // Resumed speech discards the hint.
        let mut m = machine();
        run(&mut m, &speech);
        run(&mut m, &rep('.', 5));
        m.set_semantic_hint(Some(EndOfTurnHint::Incomplete { silence_ms: 3000 }));
        run(&mut m, "##");
        assert_eq!(m.semantic_hint(), None);
        let events = run(&mut m, &rep('.', 30));
        assert_eq!(events.len(), 1);

        // A hint outside a turn is ignored.
        let mut m = machine();
        m.set_semantic_hint(Some(EndOfTurnHint::Complete { silence_ms: 0 }));
        assert_eq!(m.semantic_hint(), None);
    }

    #[test]
    fn silence_only_never_emits() {
        let mut m = machine();
        assert!(run(&mut m, &rep('.', 3000)).is_empty());
        assert!(run(&mut m, &rep('a', 100)).is_empty());
    }
}
