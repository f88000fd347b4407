//! Scenario files for simulated calls: who calls, in which language, and what
//! happens turn by turn.
//!
//! ```json
//! {"customer": {"phone": "+963944000111", "name": "Rana"}, "lang": "ar",
//!  "turns": [{"say": "مرحبا"}, {"audio": "hello.wav", "text": "hello"},
//!            {"say": "wait, actually…", "barge_in_ms": 600},
//!            {"supervisor": {"action": "pin", "persona": "sales"}}]}
//! ```
//! Paths of audio turns are relative to the scenario file.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::call::SupervisorCommand;
use crate::events::CustomerInfo;
use crate::lang::{Lang, LangHint};
use crate::routing::PersonaId;

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub customer: CustomerInfo,
    pub lang: LangHint,
    pub turns: Vec<ScenarioTurn>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScenarioTurn {
    Say {
        text: String,
        lang: Option<Lang>,
        /// Start speaking this long after the agent starts its reply (barge-in);
        /// without it the customer waits for the agent to finish.
        barge_in_ms: Option<u64>,
        pause_ms: u64,
    },
    Audio {
        path: PathBuf,
        /// What the recording says, for the scripted recognizer.
        text: Option<String>,
        barge_in_ms: Option<u64>,
        pause_ms: u64,
    },
    Supervisor(SupervisorCommand),
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("scenario {path} is not valid JSON: {reason}")]
    Json { path: String, reason: String },
    #[error("scenario {path}: {reason}")]
    Invalid { path: String, reason: String },
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Scenario::parse(&text, base).map_err(|e| match e {
            ScenarioError::Json { reason, .. } => ScenarioError::Json {
                path: path.display().to_string(),
                reason,
            },
            ScenarioError::Invalid { reason, .. } => ScenarioError::Invalid {
                path: path.display().to_string(),
                reason,
            },
            other => other,
        })
    }

    /// Parses scenario JSON; relative audio paths resolve against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Scenario, ScenarioError> {
        let invalid = |reason: String| ScenarioError::Invalid {
            path: String::new(),
            reason,
        };
        let v: Value = serde_json::from_str(text).map_err(|e| ScenarioError::Json {
            path: String::new(),
            reason: e.to_string(),
        })?;
        let obj = v
            .as_object()
            .ok_or_else(|| invalid("the top level must be an object".into()))?;
        let customer = match obj.get("customer") {
            None | Some(Value::Null) => CustomerInfo::default(),
            Some(Value::Object(c)) => CustomerInfo {
                id: None,
                phone: opt_str(c.get("phone"))
                    .map_err(|e| invalid(format!("customer.phone {e}")))?,
                name: opt_str(c.get("name")).map_err(|e| invalid(format!("customer.name {e}")))?,
            },
            Some(_) => return Err(invalid("\"customer\" must be an object".into())),
        };
        let lang = match obj.get("lang") {
            None | Some(Value::Null) => LangHint::Auto,
            Some(Value::String(s)) => LangHint::parse(s).ok_or_else(|| {
                invalid(format!(
                    "\"lang\" must be \"ar\", \"en\" or \"auto\", not {s:?}"
                ))
            })?,
            Some(_) => return Err(invalid("\"lang\" must be a string".into())),
        };
        let turns_v = obj
            .get("turns")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("\"turns\" must be a list of turns".into()))?;
        let mut turns = Vec::with_capacity(turns_v.len());
        for (i, t) in turns_v.iter().enumerate() {
            let n = i + 1;
            let t = t
                .as_object()
                .ok_or_else(|| invalid(format!("turn {n} must be an object")))?;
            let kinds = ["say", "audio", "supervisor"]
                .iter()
                .filter(|k| t.contains_key(**k))
                .count();
            if kinds != 1 {
                return Err(invalid(format!(
                    "turn {n} must have exactly one of \"say\", \"audio\" or \"supervisor\""
                )));
            }
            let barge_in_ms = opt_u64(t.get("barge_in_ms"))
                .map_err(|e| invalid(format!("turn {n}: barge_in_ms {e}")))?;
            let pause_ms = opt_u64(t.get("pause_ms"))
                .map_err(|e| invalid(format!("turn {n}: pause_ms {e}")))?
                .unwrap_or(0);
            if let Some(say) = t.get("say") {
                let text = say
                    .as_str()
                    .ok_or_else(|| invalid(format!("turn {n}: \"say\" must be a string")))?;
                if text.trim().is_empty() {
                    return Err(invalid(format!("turn {n}: \"say\" is empty")));
                }
                let lang = match t.get("lang") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(Lang::parse(s).ok_or_else(|| {
                        invalid(format!("turn {n}: \"lang\" must be \"ar\" or \"en\""))
                    })?),
                    Some(_) => return Err(invalid(format!("turn {n}: \"lang\" must be a string"))),
                };
                turns.push(ScenarioTurn::Say {
                    text: text.to_string(),
                    lang,
                    barge_in_ms,
                    pause_ms,
                });
            } else if let Some(audio) = t.get("audio") {
                let p = audio
                    .as_str()
                    .ok_or_else(|| invalid(format!("turn {n}: \"audio\" must be a file path")))?;
                let path = base.join(p);
                let text =
                    opt_str(t.get("text")).map_err(|e| invalid(format!("turn {n}: text {e}")))?;
                turns.push(ScenarioTurn::Audio {
                    path,
                    text,
                    barge_in_ms,
                    pause_ms,
                });
            } else if let Some(s) = t.get("supervisor") {
                turns.push(ScenarioTurn::Supervisor(
                    parse_supervisor(s).map_err(|e| invalid(format!("turn {n}: {e}")))?,
                ));
            }
        }
        Ok(Scenario {
            customer,
            lang,
            turns,
        })
    }
}

fn parse_supervisor(v: &Value) -> Result<SupervisorCommand, String> {
    let o = v.as_object().ok_or("\"supervisor\" must be an object")?;
    let action = o
        .get("action")
        .and_then(Value::as_str)
        .ok_or("supervisor turn needs an \"action\"")?;
    let text = || -> Result<String, String> {
        o.get("text")
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("supervisor action {action:?} needs a \"text\""))
    };
    Ok(match action {
        "takeover" => SupervisorCommand::Takeover,
        "handback" => SupervisorCommand::Handback,
        "pin" => {
            let p = o.get("persona").and_then(Value::as_str).ok_or("supervisor action \"pin\" needs a \"persona\"")?;
            let persona = PersonaId::parse(p)
                .ok_or_else(|| format!("unknown persona {p:?} (expected reception, sales or support)"))?;
            SupervisorCommand::Pin { persona }
        }
        "unpin" => SupervisorCommand::Unpin,
        "whisper" => SupervisorCommand::Whisper { text: text()? },
        "say" => SupervisorCommand::Say { text: text()? },
        "end" => SupervisorCommand::End,
        other => {
            return Err(format!(
                "unknown supervisor action {other:?} (expected takeover, handback, pin, unpin, whisper, say or end)"
            ))
        }
    })
}

fn opt_str(v: Option<&Value>) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err("must be a string".into()),
    }
}

fn opt_u64(v: Option<&Value>) -> Result<Option<u64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .map(Some)
            .ok_or_else(|| "must be a non-negative whole number".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_turn_kinds() {
        let s = Scenario::parse(
            r#"{"customer":{"phone":"+963944000111","name":"رنا"},"lang":"ar","turns":[
                {"say":"مرحبا"},{"audio":"a.wav","text":"hi"},{"say":"stop","barge_in_ms":500,"lang":"en"},
                {"supervisor":{"action":"pin","persona":"sales"}},{"supervisor":{"action":"whisper","text":"offer 10%"}}]}"#,
            Path::new("/tmp/sc"),
        )
        .unwrap();
        assert_eq!(s.lang, LangHint::Ar);
        assert_eq!(s.customer.name.as_deref(), Some("رنا"));
        assert_eq!(s.turns.len(), 5);
        assert!(
            matches!(&s.turns[1], ScenarioTurn::Audio { path, .. } if path == Path::new("/tmp/sc/a.wav"))
        );
        assert!(matches!(
            &s.turns[2],
            ScenarioTurn::Say {
                barge_in_ms: Some(500),
                lang: Some(Lang::En),
                ..
            }
        ));
        assert_eq!(
            s.turns[3],
            ScenarioTurn::Supervisor(SupervisorCommand::Pin {
                persona: PersonaId::Sales
            })
        );
    }

    #[test]
    fn errors_name_the_problem() {
        let err = |j: &str| Scenario::parse(j, Path::new(".")).unwrap_err().to_string();
        assert!(err("{").contains("not valid JSON"));
        assert!(err(r#"{"turns": 3}"#).contains("\"turns\" must be a list"));
        assert!(
            err(r#"{"turns":[{"say":"a","audio":"b"}]}"#).contains("turn 1 must have exactly one")
        );
        assert!(
            err(r#"{"turns":[{"say":"hi"},{"supervisor":{"action":"fly"}}]}"#)
                .contains("turn 2: unknown supervisor action")
        );
        assert!(
            err(r#"{"turns":[{"supervisor":{"action":"pin","persona":"boss"}}]}"#)
                .contains("unknown persona")
        );
        assert!(err(r#"{"lang":"fr","turns":[]}"#).contains("\"lang\" must be"));
    }
}
