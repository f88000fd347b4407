//! The one task that writes calls to the CRM, falling back to the outbox while the
//! database is unreachable and replaying it, in order, when it returns.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};

use super::{Assembler, Outbox, PersistError, WriteOp};
use crate::crm::{CrmError, CrmStore};
use crate::events::{CallEvent, EventKind, Stage};

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
            retry: Duration::from_millis(500),
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
    retry: Duration,
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
                _ = tokio::time::sleep(self.retry), if self.outbox.pending() > 0 => self.replay().await,
                else => return,
            }
        }
    }

    async fn on_event(&mut self, ev: &CallEvent) {
        for op in self.assembler.push(ev) {
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
    /// the database and keeps it and everything after it.
    async fn replay(&mut self) {
        let ops = match self.outbox.load() {
            Ok(ops) => ops,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the CRM outbox");
                return;
            }
        };
        for (i, op) in ops.iter().enumerate() {
            if let Applied::Unavailable(_) = self.apply(op).await {
                if i > 0 {
                    if let Err(e) = self.outbox.rewrite(&ops[i..]) {
                        tracing::error!(error = %e, "cannot rewrite the CRM outbox");
                    }
                }
                return;
            }
        }
        if let Err(e) = self.outbox.clear() {
            tracing::error!(error = %e, "cannot clear the CRM outbox");
        }
        tracing::info!(writes = ops.len(), "CRM outbox replayed");
        self.told.clear();
    }
}
