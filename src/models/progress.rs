//! Progress of a fetch on stderr: one line per step; on a terminal, a bar that
//! redraws in place while the step runs.

use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Where fetch progress goes.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    enabled: bool,
    tty: bool,
}

impl Progress {
    /// Progress on stderr (a redrawn bar if stderr is a terminal).
    pub fn stderr() -> Self {
        Self {
            enabled: true,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// No output (tests, embedding).
    pub fn silent() -> Self {
        Self {
            enabled: false,
            tty: false,
        }
    }

    pub fn is_terminal(&self) -> bool {
        self.enabled && self.tty
    }

    /// A line of its own.
    pub fn note(&self, line: &str) {
        if self.enabled {
            eprintln!("{line}");
        }
    }

    /// Starts a step that reports `done / total` bytes.
    pub fn step(&self, label: String) -> Step {
        let s = Step {
            progress: *self,
            label,
            started: Instant::now(),
            last_pct: None,
        };
        if self.is_terminal() {
            s.draw(0.0);
        }
        s
    }
}

pub struct Step {
    progress: Progress,
    label: String,
    started: Instant,
    last_pct: Option<u32>,
}

impl Step {
    fn draw(&self, fraction: f64) {
        const WIDTH: usize = 24;
        let filled = ((fraction.clamp(0.0, 1.0)) * WIDTH as f64).round() as usize;
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(WIDTH - filled));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r  {} [{bar}] {:3.0}%", self.label, fraction * 100.0);
        let _ = err.flush();
    }

    pub fn update(&mut self, done: u64, total: u64) {
        if !self.progress.is_terminal() || total == 0 {
            return;
        }
        let fraction = done as f64 / total as f64;
        let pct = (fraction * 100.0) as u32;
        if self.last_pct != Some(pct) {
            self.last_pct = Some(pct);
            self.draw(fraction);
        }
    }

    /// Ends the step with a summary ("66.3 MB in 1.2 s").
    pub fn finish(self, summary: &str) {
        if !self.progress.enabled {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        if self.progress.tty {
            eprintln!(
                "\r  {} [{}] done: {summary} ({secs:.1} s)",
                self.label,
                "#".repeat(24)
            );
        } else {
            eprintln!("  {}: {summary} ({secs:.1} s)", self.label);
        }
    }

    /// Ends the step without a success line (an error follows).
    pub fn fail(self) {
        if self.progress.is_terminal() {
            eprintln!();
        }
    }
}

/// "147.95 MB".
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}
