//! Tickets and their history. Every change of status or assignee writes a history
//! row in the same transaction as the change; a ticket's creation bumps its
//! customer's `total_tickets` in the same transaction as the insert.
//!
//! Each transaction starts with a write to the ticket's row: on PostgreSQL that locks
//! the row (concurrent changes queue up and see each other's result), on SQLite it
//! takes the write lock up front (a read-then-write transaction could otherwise fail
//! to upgrade its lock without waiting for the busy timeout).

use super::error::{db_err, fk_or};
use super::{
    check_opt, check_required, check_text, limit_param, new_id, now_ms, CrmError, CrmStore,
    NewTicket, Ticket, TicketChange, TicketStatus, TicketUpdate, PRIORITIES,
};

const TICKET_COLUMNS: &str =
    "id, customer_id, subject, description, department, priority, status, assignee, call_id, created_at, updated_at";
const OPEN: &str = "('open', 'in_progress', 'waiting')";

fn check_priority(p: &str) -> Result<(), CrmError> {
    if PRIORITIES.contains(&p) {
        Ok(())
    } else {
        Err(CrmError::InvalidInput(format!(
            "unknown priority {p:?} (low|normal|high|urgent)"
        )))
    }
}

/// A history row: $1 id, $2 ticket, $3 field, $4 old, $5 new, $6 by, $7 reason,
/// $8 at. Its seq follows the ticket's last one.
const INSERT_CHANGE: &str = "INSERT INTO ticket_history \
       (id, ticket_id, seq, field, old_value, new_value, changed_by, reason, at) \
     VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM ticket_history WHERE ticket_id = $2), \
       $3, $4, $5, $6, $7, $8)";

/// Takes the ticket's row lock (see the module comment); false if it doesn't exist.
const TOUCH: &str = "UPDATE tickets SET updated_at = updated_at WHERE id = $1";

impl CrmStore {
    /// Opens a ticket (status `open`), writes its "created" history row and bumps the
    /// customer's `total_tickets`, all in one transaction. With `t.id` set, creating
    /// the same ticket again returns the existing one and changes nothing.
    pub async fn create_ticket(&self, t: &NewTicket) -> Result<Ticket, CrmError> {
        check_required("customer_id", &t.customer_id)?;
        check_required("subject", &t.subject)?;
        check_text("description", &t.description)?;
        check_required("department", &t.department)?;
        check_priority(&t.priority)?;
        check_required("created_by", &t.created_by)?;
        check_opt("call_id", t.call_id.as_deref())?;
        if let Some(id) = &t.id {
            check_required("ticket id", id)?;
        }
        let now = now_ms();
        let ticket = Ticket {
            id: t.id.clone().unwrap_or_else(new_id),
            customer_id: t.customer_id.clone(),
            subject: t.subject.clone(),
            description: t.description.clone(),
            department: t.department.clone(),
            priority: t.priority.clone(),
            status: TicketStatus::Open,
            assignee: None,
            call_id: t.call_id.clone(),
            created_at: now,
            updated_at: now,
        };
        let inserted = with_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_err)?;
            let res = sqlx::query(
                "INSERT INTO tickets (id, customer_id, subject, description, department, priority, status, \
                   assignee, call_id, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'open', NULL, $7, $8, $8) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&ticket.id)
            .bind(&ticket.customer_id)
            .bind(&ticket.subject)
            .bind(&ticket.description)
            .bind(&ticket.department)
            .bind(&ticket.priority)
            .bind(&ticket.call_id)
            .bind(now)
            .execute(&mut *tx)
            .await;
            let inserted = match res {
                Ok(r) => r.rows_affected() == 1,
                Err(e) => {
                    drop(tx);
                    return Err(self.missing_ticket_parent(e, t).await);
                }
            };
            if inserted {
                sqlx::query(INSERT_CHANGE)
                    .bind(new_id())
                    .bind(&ticket.id)
                    .bind("created")
                    .bind(None::<String>)
                    .bind(TicketStatus::Open.as_str())
                    .bind(&t.created_by)
                    .bind(None::<String>)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                sqlx::query("UPDATE customers SET total_tickets = total_tickets + 1 WHERE id = $1")
                    .bind(&ticket.customer_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
            inserted
        });
        if inserted {
            Ok(ticket)
        } else {
            self.ticket(&ticket.id).await?.ok_or(CrmError::NotFound {
                what: "ticket",
                id: ticket.id,
            })
        }
    }

    /// Says which row a failed ticket insert referred to that does not exist.
    async fn missing_ticket_parent(&self, e: sqlx::Error, t: &NewTicket) -> CrmError {
        let is_fk = matches!(&e, sqlx::Error::Database(d) if d.is_foreign_key_violation());
        if !is_fk {
            return db_err(e);
        }
        match self.customer(&t.customer_id).await {
            Ok(None) => {
                return CrmError::NotFound {
                    what: "customer",
                    id: t.customer_id.clone(),
                }
            }
            Err(e) => return e,
            Ok(Some(_)) => {}
        }
        match &t.call_id {
            Some(call_id) => fk_or(e, "call", call_id),
            None => db_err(e),
        }
    }

    /// Changes the fields given. An assignee change writes a history row (same
    /// transaction). Nothing given, or nothing different: the ticket is unchanged.
    pub async fn update_ticket(
        &self,
        id: &str,
        u: &TicketUpdate,
        changed_by: &str,
    ) -> Result<Ticket, CrmError> {
        check_required("changed_by", changed_by)?;
        if let Some(s) = &u.subject {
            check_required("subject", s)?;
        }
        check_opt("description", u.description.as_deref())?;
        if let Some(d) = &u.department {
            check_required("department", d)?;
        }
        if let Some(p) = &u.priority {
            check_priority(p)?;
        }
        if let Some(Some(a)) = &u.assignee {
            check_required("assignee", a)?;
        }
        let select = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1");
        with_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_err)?;
            let touched = sqlx::query(TOUCH).bind(id).execute(&mut *tx).await.map_err(db_err)?;
            if touched.rows_affected() == 0 {
                return Err(CrmError::NotFound { what: "ticket", id: id.to_string() });
            }
            let old: Ticket = sqlx::query_as(&select).bind(id).fetch_one(&mut *tx).await.map_err(db_err)?;
            let mut new = old.clone();
            if let Some(s) = &u.subject { new.subject = s.clone(); }
            if let Some(d) = &u.description { new.description = d.clone(); }
            if let Some(d) = &u.department { new.department = d.clone(); }
            if let Some(pr) = &u.priority { new.priority = pr.clone(); }
            if let Some(a) = &u.assignee { new.assignee = a.clone(); }
            if new == old {
                tx.commit().await.map_err(db_err)?;
                return Ok(old);
            }
            let now = now_ms();
            new.updated_at = now;
            sqlx::query(
                "UPDATE tickets SET subject = $2, description = $3, department = $4, priority = $5, \
                   assignee = $6, updated_at = $7 WHERE id = $1",
            )
            .bind(id)
            .bind(&new.subject)
            .bind(&new.description)
            .bind(&new.department)
            .bind(&new.priority)
            .bind(&new.assignee)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if new.assignee != old.assignee {
                sqlx::query(INSERT_CHANGE)
                    .bind(new_id())
                    .bind(id)
                    .bind("assignee")
                    .bind(&old.assignee)
                    .bind(&new.assignee)
                    .bind(changed_by)
                    .bind(None::<String>)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)?;
            Ok(new)
        })
    }

    /// Moves a ticket to `status` and records who did it and why, in one
    /// transaction. Setting the status it already has changes nothing.
    pub async fn set_ticket_status(
        &self,
        id: &str,
        status: TicketStatus,
        changed_by: &str,
        reason: &str,
    ) -> Result<Ticket, CrmError> {
        check_required("changed_by", changed_by)?;
        check_text("reason", reason)?;
        let reason = Some(reason).filter(|r| !r.trim().is_empty());
        let select = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1");
        with_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_err)?;
            let touched = sqlx::query(TOUCH).bind(id).execute(&mut *tx).await.map_err(db_err)?;
            if touched.rows_affected() == 0 {
                return Err(CrmError::NotFound { what: "ticket", id: id.to_string() });
            }
            let mut ticket: Ticket = sqlx::query_as(&select).bind(id).fetch_one(&mut *tx).await.map_err(db_err)?;
            if ticket.status == status {
                tx.commit().await.map_err(db_err)?;
                return Ok(ticket);
            }
            let now = now_ms();
            sqlx::query("UPDATE tickets SET status = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(status.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            sqlx::query(INSERT_CHANGE)
                .bind(new_id())
                .bind(id)
                .bind("status")
                .bind(ticket.status.as_str())
                .bind(status.as_str())
                .bind(changed_by)
                .bind(reason)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            tx.commit().await.map_err(db_err)?;
            ticket.status = status;
            ticket.updated_at = now;
            Ok(ticket)
        })
    }

    pub async fn ticket(&self, id: &str) -> Result<Option<Ticket>, CrmError> {
        let select = format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE id = $1");
        with_pool!(self, p => sqlx::query_as::<_, Ticket>(&select).bind(id).fetch_optional(p).await.map_err(db_err))
    }

    /// The ticket's changes, oldest first (empty for an unknown ticket).
    pub async fn ticket_history(&self, ticket_id: &str) -> Result<Vec<TicketChange>, CrmError> {
        with_pool!(self, p => sqlx::query_as::<_, TicketChange>(
            "SELECT id, ticket_id, field, old_value, new_value, changed_by, reason, at \
             FROM ticket_history WHERE ticket_id = $1 ORDER BY seq",
        )
        .bind(ticket_id)
        .fetch_all(p)
        .await
        .map_err(db_err))
    }

    /// Tickets that are open, in progress or waiting, newest first.
    pub async fn open_tickets(&self, limit: u32) -> Result<Vec<Ticket>, CrmError> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE status IN {OPEN} ORDER BY created_at DESC, id DESC LIMIT $1"
        );
        with_pool!(self, p => sqlx::query_as::<_, Ticket>(&sql).bind(limit_param(limit)).fetch_all(p).await.map_err(db_err))
    }

    /// Open (open, in progress, waiting) tickets nobody is assigned to, newest first.
    pub async fn unassigned_tickets(&self, limit: u32) -> Result<Vec<Ticket>, CrmError> {
        let sql = format!(
            "SELECT {TICKET_COLUMNS} FROM tickets WHERE assignee IS NULL AND status IN {OPEN} \
             ORDER BY created_at DESC, id DESC LIMIT $1"
        );
        with_pool!(self, p => sqlx::query_as::<_, Ticket>(&sql).bind(limit_param(limit)).fetch_all(p).await.map_err(db_err))
    }

    /// All of a customer's tickets, whatever their status, newest first.
    pub async fn tickets_of_customer(&self, customer_id: &str) -> Result<Vec<Ticket>, CrmError> {
        let sql =
            format!("SELECT {TICKET_COLUMNS} FROM tickets WHERE customer_id = $1 ORDER BY created_at DESC, id DESC");
        with_pool!(self, p => sqlx::query_as::<_, Ticket>(&sql).bind(customer_id).fetch_all(p).await.map_err(db_err))
    }
}
