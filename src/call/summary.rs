//! The end-of-call summary written without an LLM: who called, about what, who
//! handled it, how it felt, and whether a supervisor stepped in.

use crate::routing::{persona, Intent, PersonaId};

#[derive(Default)]
pub(super) struct CallRecord {
    pub customer_name: Option<String>,
    pub first_customer_text: Option<String>,
    pub last_customer_text: Option<String>,
    pub intents: Vec<Intent>,
    pub personas: Vec<PersonaId>,
    pub supervisor_actions: u32,
    pub took_over: bool,
    pub scores: Vec<f32>,
    pub errors: u32,
}

impl CallRecord {
    pub fn sentiment_avg(&self) -> Option<f32> {
        if self.scores.is_empty() {
            None
        } else {
            Some(self.scores.iter().sum::<f32>() / self.scores.len() as f32)
        }
    }

    pub fn sentiment_min(&self) -> Option<f32> {
        self.scores.iter().copied().reduce(f32::min)
    }

    pub fn summary(&self, turns: u32) -> String {
        let mut parts = Vec::new();
        let who = self
            .customer_name
            .clone()
            .unwrap_or_else(|| "The customer".into());
        match &self.first_customer_text {
            Some(first) => parts.push(format!("{who} said: \"{}\".", clip(first, 140))),
            None => parts.push(format!("{who} did not speak.")),
        }
        let mut topics: Vec<String> = Vec::new();
        for i in &self.intents {
            let name = serde_json::to_value(i)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            if !matches!(
                i,
                Intent::Greeting
                    | Intent::Thanks
                    | Intent::Goodbye
                    | Intent::Affirm
                    | Intent::Deny
                    | Intent::Unclear
                    | Intent::Other
            ) && !topics.contains(&name)
            {
                topics.push(name);
            }
        }
        if !topics.is_empty() {
            parts.push(format!("Topics: {}.", topics.join(", ").replace('_', " ")));
        }
        let chain: Vec<&str> = self.personas.iter().map(|p| persona(*p).name_en).collect();
        parts.push(format!(
            "Handled by {} over {turns} customer turn(s).",
            chain.join(" → ")
        ));
        if let (Some(avg), Some(min)) = (self.sentiment_avg(), self.sentiment_min()) {
            parts.push(format!("Sentiment average {avg:+.2}, lowest {min:+.2}."));
        }
        if self.took_over {
            parts.push("A supervisor took over the call.".into());
        } else if self.supervisor_actions > 0 {
            parts.push(format!("{} supervisor action(s).", self.supervisor_actions));
        }
        if self.errors > 0 {
            parts.push(format!(
                "{} provider error(s) were covered by fallbacks.",
                self.errors
            ));
        }
        if let Some(last) = &self.last_customer_text {
            if self.first_customer_text.as_deref() != Some(last.as_str()) {
                parts.push(format!("Last words: \"{}\".", clip(last, 140)));
            }
        }
        parts.join(" ")
    }
}

fn clip(s: &str, max_chars: usize) -> String {
    if s.chars().count() <= max_chars {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max_chars).collect();
        out.push('…');
        out
    }
}
