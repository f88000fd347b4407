//! A past call written out: JSON Lines of its `CallEvent`s (what `switchboard
//! simulate` prints, so the same tools read both), a Markdown transcript with
//! sentiment, persona changes, supervisor actions and trainers' comments, or
//! WebVTT captions for its recording. Card numbers are masked in all of them (the
//! stored call already is).

use std::fmt::Write as _;

use super::{clock, CallReplay, ReplayLine};
use crate::events::{CallEvent, EventKind, Speaker, SupervisorAction};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
    WebVtt,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "json" | "jsonl" => Some(Format::Json),
            "md" | "markdown" => Some(Format::Markdown),
            "vtt" | "webvtt" => Some(Format::WebVtt),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => "jsonl",
            Format::Markdown => "md",
            Format::WebVtt => "vtt",
        }
    }
}

pub fn export(r: &CallReplay, format: Format) -> String {
    match format {
        Format::Json => json_lines(r),
        Format::Markdown => markdown(r),
        Format::WebVtt => webvtt(r),
    }
}

/// The call's events, one JSON object a line. A call stored before events were
/// kept is rebuilt from its lines (start, lines with sentiment, end).
pub fn json_lines(r: &CallReplay) -> String {
    let events = if r.events.is_empty() {
        rebuilt_events(r)
    } else {
        r.events.clone()
    };
    let mut out = String::new();
    for e in &events {
        if let Ok(line) = serde_json::to_string(e) {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn rebuilt_events(r: &CallReplay) -> Vec<CallEvent> {
    let id = r.call.id.clone();
    let ev = |t_ms: u64, kind: EventKind| CallEvent {
        call_id: id.clone(),
        t_ms,
        kind,
    };
    let mut out = Vec::new();
    for l in &r.lines {
        out.push(ev(
            l.at_ms,
            EventKind::Transcript {
                speaker: l.speaker,
                text: l.text.clone(),
                lang: l.lang,
                is_final: true,
                turn: l.turn,
                persona: l.persona,
                interrupted: l.interrupted,
                audio_start_ms: l.from_audio.then_some(l.at_ms),
                audio_end_ms: l.from_audio.then_some(l.end_ms),
            },
        ));
        if let (Some(score), Some(label)) = (l.sentiment, l.sentiment_label) {
            let trend = r
                .sentiment
                .iter()
                .find(|p| p.turn == l.turn)
                .map(|p| p.trend)
                .unwrap_or(score);
            out.push(ev(
                l.at_ms,
                EventKind::Sentiment {
                    turn: l.turn,
                    score,
                    label,
                    trend,
                },
            ));
        }
    }
    out
}

/// Text from a call, safe in Markdown: no HTML, links or emphasis can come of it.
fn md_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn who(l: &ReplayLine) -> String {
    match l.speaker {
        Speaker::Customer => "Customer".into(),
        Speaker::Supervisor => "Supervisor".into(),
        Speaker::Agent => match l.persona {
            Some(p) => format!("{} ({})", crate::routing::persona(p).name_en, p.as_str()),
            None => "Agent".into(),
        },
    }
}

fn marker_line(e: &CallEvent) -> Option<String> {
    let text = match &e.kind {
        EventKind::PersonaChanged { from, to, why, .. } => format!(
            "Persona: {} → {} ({})",
            from.as_str(),
            to.as_str(),
            md_text(why)
        ),
        EventKind::Supervisor {
            action,
            persona,
            text,
        } => {
            let what = match action {
                SupervisorAction::Takeover => "took the call over".to_string(),
                SupervisorAction::Handback => "handed the call back".into(),
                SupervisorAction::Pin => format!(
                    "pinned {}",
                    persona.map(|p| p.as_str()).unwrap_or("a persona")
                ),
                SupervisorAction::Unpin => "unpinned the persona".into(),
                SupervisorAction::Whisper => {
                    format!("whispered: {}", md_text(text.as_deref().unwrap_or("")))
                }
                SupervisorAction::Say => {
                    format!("said: {}", md_text(text.as_deref().unwrap_or("")))
                }
                SupervisorAction::End => "ended the call".into(),
            };
            format!("Supervisor {what}")
        }
        EventKind::Ticket {
            ticket_id, subject, ..
        } => {
            format!("Ticket {} opened: {}", md_text(ticket_id), md_text(subject))
        }
        EventKind::HumanRequested { reason, .. } => {
            format!("The agent asked for a human: {}", md_text(reason))
        }
        EventKind::BargeIn { .. } => "The customer cut in".into(),
        EventKind::Error {
            stage,
            code,
            fallback,
            ..
        } => format!(
            "Error ({stage:?}, {}){}",
            md_text(code),
            fallback
                .as_deref()
                .map(|f| format!(", {} took over", md_text(f)))
                .unwrap_or_default()
        ),
        _ => return None,
    };
    Some(format!("- *[{}] {text}*", clock(e.t_ms)))
}

pub fn markdown(r: &CallReplay) -> String {
    let c = &r.call;
    let mut out = String::new();
    let _ = writeln!(out, "# Call {}\n", md_text(&c.id));
    let customer = match (&c.customer_name, &c.customer_phone) {
        (Some(n), Some(p)) => format!("{} ({})", md_text(n), md_text(p)),
        (Some(n), None) => md_text(n),
        (None, Some(p)) => md_text(p),
        (None, None) => "anonymous".into(),
    };
    let _ = writeln!(out, "- Customer: {customer}");
    let _ = writeln!(out, "- Started: {} (epoch ms)", c.started_at);
    let _ = writeln!(out, "- Duration: {}", clock(r.duration_ms));
    if let Some(o) = &c.outcome {
        let _ = writeln!(out, "- Outcome: {}", md_text(o));
    }
    if let Some(p) = &c.final_persona {
        let _ = writeln!(out, "- Final persona: {}", md_text(p));
    }
    if let (Some(avg), Some(min)) = (c.sentiment_avg, c.sentiment_min) {
        let _ = writeln!(out, "- Sentiment: average {avg:+.2}, lowest {min:+.2}");
    }
    let _ = writeln!(out, "- Supervisor actions: {}", c.interventions);
    if let Some(s) = c.summary.as_deref().filter(|s| !s.is_empty()) {
        let _ = writeln!(out, "\n## Summary\n\n{}", md_text(s));
    }
    let _ = writeln!(out, "\n## Transcript\n");
    // Lines and marked moments in time order (a moment goes after the lines
    // that started before it).
    let mut marks = r
        .markers
        .iter()
        .filter_map(|m| Some((m.t_ms, marker_line(m)?)))
        .peekable();
    for l in &r.lines {
        while let Some((_, m)) = marks.next_if(|(t, _)| *t < l.at_ms) {
            let _ = writeln!(out, "{m}");
        }
        let mut line = format!("- **[{}] {}**", clock(l.at_ms), who(l));
        if let (Some(s), Some(label)) = (l.sentiment, l.sentiment_label) {
            let _ = write!(line, " (sentiment {s:+.2}, {})", label.as_str());
        }
        let _ = write!(line, ": {}", md_text(&l.text));
        if l.interrupted {
            line.push_str(" — *cut off*");
        }
        if let Some(total) = l.latency.as_ref().and_then(|m| m.response_ms) {
            let _ = write!(line, " `{total:.0} ms`");
        }
        let _ = writeln!(out, "{line}");
    }
    for (_, m) in marks {
        let _ = writeln!(out, "{m}");
    }
    if !r.annotations.is_empty() {
        let _ = writeln!(out, "\n## Comments\n");
        for a in &r.annotations {
            let _ = writeln!(
                out,
                "- [{}] {}: {}",
                clock(a.at_ms.max(0) as u64),
                md_text(&a.author),
                md_text(&a.body)
            );
        }
    }
    if !r.scores.is_empty() {
        let _ = writeln!(
            out,
            "\n## Scorecard\n\n| Criterion | Score | Note |\n|---|---|---|"
        );
        for s in &r.scores {
            let _ = writeln!(
                out,
                "| {} | {}/{} | {} |",
                md_text(&s.criterion),
                s.score,
                crate::crm::MAX_SCORE,
                md_text(s.note.as_deref().unwrap_or(""))
            );
        }
    }
    out
}

fn vtt_time(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        (ms / 60_000) % 60,
        (ms / 1000) % 60,
        ms % 1000
    )
}

/// Cue text: `&`, `<` and `>` escaped (so "-->" and tags cannot appear), one line.
fn vtt_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Captions of the call's lines, timed on the recording. The speaker is a voice
/// span (`<v Customer>`), Arabic lines keep their direction by the text itself.
pub fn webvtt(r: &CallReplay) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for (i, l) in r.lines.iter().enumerate() {
        if l.text.trim().is_empty() {
            continue;
        }
        let end = l.end_ms.max(l.at_ms + 1);
        let voice = vtt_text(&who(l));
        let _ = write!(
            out,
            "{}\n{} --> {}\n<v {}>{}\n\n",
            i + 1,
            vtt_time(l.at_ms),
            vtt_time(end),
            voice,
            vtt_text(&l.text)
        );
    }
    out
}
