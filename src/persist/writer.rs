//! The one task that writes calls to the CRM, falling back to the outbox while the
//! database is unreachable and replaying it, in order, when it returns.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::{Assembler, Outbox, PersistError, WriteOp};
use crate::crm::{CrmError, CrmStore};
use crate::events::{CallEvent, EventKind, Stage};

/// First retry of a parked write after the database became unreachable.
const RETRY_FIRST: Duration = Duration::from_millis(500);
/// Retries back off to this while the database stays down.
const RETRY_MAX: Duration = Duration::from_secs(8);

/// When to try the database again: a fixed deadline (events arriving meanwhile
/// do not push it back), doubling after each failed try, reset by a success.
struct Retry {
    first: Duration,
    max: Duration,
    delay: Duration,
    at: Option<tokio::time::Instant>,
}

impl Retry {
    fn new(first: Duration, max: Duration) -> Self {
        Retry {
            first,
            max,
            delay: first,
            at: None,
        }
    }

    /// Something is parked: make sure a try is scheduled.
    fn arm(&mut self) {
        if self.at.is_none() {
            self.at = Some(tokio::time::Instant::now() + self.delay);
        }
    }

    /// The try failed: try again later, less often.
    fn failed(&mut self) {
        self.delay = (self.delay * 2).min(self.max);
        self.at = Some(tokio::time::Instant::now() + self.delay);
    }

    /// Nothing is parked any more.
    fn reset(&mut self) {
        self.delay = self.first;
        self.at = None;
    }

    async fn due(&self) {
        match self.at {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    }
}

/// What a flush found: writes still waiting in the outbox (0 = all in the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    pub pending: usize,
}

#[derive(Clone)]
pub struct CrmWriter {
    events: mpsc::UnboundedSender<CallEvent>,
    control: mpsc::UnboundedSender<oneshot::Sender<FlushReport>>,
}

impl CrmWriter {
    /// Starts the writer. `notify` (the hub's event channel) hears about outages and
    /// recoveries as `error` events of the affected calls.
    pub fn spawn(
        store: CrmStore,
        outbox_path: &Path,
        notify: Option<broadcast::Sender<CallEvent>>,
    ) -> Result<CrmWriter, PersistError> {
        let outbox = Outbox::open(outbox_path)?;
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (ctl_tx, ctl_rx) = mpsc::unbounded_channel();
        let task = WriterTask {
            store,
            outbox,
            assembler: Assembler::new(),
            notify,
            told: HashSet::new(),
            retry: Retry::new(RETRY_FIRST, RETRY_MAX),
        };
        tokio::spawn(task.run(ev_rx, ctl_rx));
        Ok(CrmWriter {
            events: ev_tx,
            control: ctl_tx,
        })
    }

    /// The channel a call records into (`CallSetup::record`).
    pub fn recorder(&self) -> mpsc::UnboundedSender<CallEvent> {
        self.events.clone()
    }

    /// Writes everything received so far (or parks it in the outbox) and tries the
    /// outbox once more. Waits at most `timeout`.
    pub async fn flush(&self, timeout: Duration) -> Option<FlushReport> {
        let (tx, rx) = oneshot::channel();
        self.control.send(tx).ok()?;
        tokio::time::timeout(timeout, rx).await.ok()?.ok()
    }
}

struct WriterTask {
    store: CrmStore,
    outbox: Outbox,
    assembler: Assembler,
    notify: Option<broadcast::Sender<CallEvent>>,
    /// Calls already told that their writes are parked.
    told: HashSet<String>,
    retry: Retry,
}

enum Applied {
    Done,
    /// The database is unreachable: keep the write for later.
    Unavailable(CrmError),
}

impl WriterTask {
    async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<CallEvent>,
        mut control: mpsc::UnboundedReceiver<oneshot::Sender<FlushReport>>,
    ) {
        // Writes left by an earlier run go first.
        if self.outbox.pending() > 0 {
            self.replay().await;
        }
        let mut open = true;
        let mut ctl_open = true;
        loop {
            tokio::select! {
                biased;
                ctl = control.recv(), if ctl_open => match ctl {
                    Some(reply) => {
                        while let Ok(ev) = events.try_recv() {
                            self.on_event(&ev).await;
                        }
                        if self.outbox.pending() > 0 {
                            self.replay().await;
                        }
                        let _ = reply.send(FlushReport { pending: self.outbox.pending() });
                    }
                    None => ctl_open = false,
                },
                ev = events.recv(), if open => match ev {
                    Some(ev) => self.on_event(&ev).await,
                    None => open = false,
                },
                _ = self.retry.due(), if self.outbox.pending() > 0 => self.replay().await,
                else => return,
            }
        }
    }

    async fn on_event(&mut self, ev: &CallEvent) {
        // Card numbers and IBANs never reach the database or the outbox.
        let ev = crate::redact::event(ev);
        for op in self.assembler.push(&ev) {
            self.write(op).await;
        }
    }

    async fn write(&mut self, op: WriteOp) {
        // Order matters (a turn before its call's end): once anything is parked,
        // everything after it is parked too until the replay catches up.
        if self.outbox.pending() > 0 {
            self.park(op, None);
            return;
        }
        if let Applied::Unavailable(e) = self.apply(&op).await {
            self.park(op, Some(e));
        }
    }

    fn park(&mut self, op: WriteOp, cause: Option<CrmError>) {
        self.retry.arm();
        if let Err(e) = self.outbox.append(&op) {
            // Nowhere left to keep it: say so loudly rather than drop it silently.
            tracing::error!(error = %e, "CRM write lost: database unreachable and outbox unusable");
            self.tell(&op, "crm_write_lost", &e.to_string(), None);
            return;
        }
        if let Some(call_id) = op.call_id() {
            if !self.told.contains(call_id) {
                self.told.insert(call_id.to_string());
                let message = cause
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "the CRM database is unreachable".into());
                self.tell(&op, "crm_unavailable", &message, Some("outbox"));
            }
        }
    }

    fn tell(&self, op: &WriteOp, code: &str, message: &str, fallback: Option<&str>) {
        let (Some(notify), Some(call_id)) = (&self.notify, op.call_id()) else {
            return;
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let t_ms = self
            .assembler
            .started_at_ms(call_id)
            .map(|s| (now - s).max(0) as u64)
            .unwrap_or(0);
        let _ = notify.send(CallEvent {
            call_id: call_id.to_string(),
            t_ms,
            kind: EventKind::Error {
                turn: None,
                stage: Stage::Crm,
                code: code.to_string(),
                message: message.to_string(),
                fallback: fallback.map(str::to_string),
            },
        });
    }

    async fn apply(&self, op: &WriteOp) -> Applied {
        let result = match op {
            WriteOp::StartCall(c) => self.store.start_call(c).await,
            WriteOp::Turn(t) => self.store.insert_turn(t).await,
            WriteOp::SupervisorAction(a) => self.store.record_supervisor_action(a).await,
            WriteOp::Ticket(t) => self.store.create_ticket(t).await.map(|_| ()),
            WriteOp::EndCall(e) => self.store.end_call(e).await,
            WriteOp::Events(e) => self.store.insert_events(e).await,
            WriteOp::Recording(r) => {
                self.store
                    .set_recording(&r.call_id, &r.file, r.duration_ms, r.bytes, r.blanked_ms)
                    .await
            }
        };
        match result {
            Ok(()) => Applied::Done,
            Err(e) if e.is_unavailable() => Applied::Unavailable(e),
            Err(e) => {
                // Bad data will not get better by retrying: log it and move on, so one
                // bad row cannot hold every later write hostage.
                tracing::warn!(code = e.code(), call_id = ?op.call_id(), "CRM write rejected");
                Applied::Done
            }
        }
    }

    /// Applies the outbox in order; stops at the first write that still cannot reach
    /// the database and keeps it and everything after it. While the database is
    /// down only the first parked write is read and tried, not the whole file.
    async fn replay(&mut self) {
        match self.outbox.first() {
            Ok(Some(op)) => {
                if let Applied::Unavailable(_) = self.apply(&op).await {
                    self.retry.failed();
                    return;
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot read the CRM outbox");
                self.retry.failed();
                return;
            }
        }
        // The first write went through (writes are idempotent: applying it again
        // below is harmless); the database is back — drain the rest in order.
        let ops = match self.outbox.load() {
            Ok(ops) => ops,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the CRM outbox");
                self.retry.failed();
                return;
            }
        };
        for (i, op) in ops.iter().enumerate().skip(1) {
            if let Applied::Unavailable(_) = self.apply(op).await {
                if let Err(e) = self.outbox.rewrite(&ops[i..]) {
                    tracing::error!(error = %e, "cannot rewrite the CRM outbox");
                }
                self.retry.failed();
                return;
            }
        }
        if let Err(e) = self.outbox.clear() {
            tracing::error!(error = %e, "cannot clear the CRM outbox");
            self.retry.failed();
            return;
        }
        self.retry.reset();
        tracing::info!(writes = ops.len(), "CRM outbox replayed");
        self.told.clear();
    }
}
