//! Customers, keyed by their E.164 phone number.

use super::error::db_err;
use super::{
    check_opt, new_id, normalize_phone, now_ms, CrmError, CrmStore, Customer, CustomerContext,
    NewCustomer,
};

pub(crate) const CUSTOMER_COLUMNS: &str =
    "id, name, phone, email, tier, vip, language, created_at, updated_at, \
     last_interaction, total_calls, total_tickets";

/// Inserts, or updates only the fields given. $1 id, $2 name, $3 phone, $4 email,
/// $5 tier, $6 vip, $7 language, $8 now.
const UPSERT: &str =
    "INSERT INTO customers (id, name, phone, email, tier, vip, language, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, COALESCE($5, 'standard'), COALESCE($6, FALSE), $7, $8, $8) \
     ON CONFLICT (phone) DO UPDATE SET \
       name = COALESCE($2, customers.name), email = COALESCE($4, customers.email), \
       tier = COALESCE($5, customers.tier), vip = COALESCE($6, customers.vip), \
       language = COALESCE($7, customers.language), updated_at = $8";

/// Same parameters; an existing customer is left untouched (nothing to update).
const INSERT_IF_NEW: &str =
    "INSERT INTO customers (id, name, phone, email, tier, vip, language, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, COALESCE($5, 'standard'), COALESCE($6, FALSE), $7, $8, $8) \
     ON CONFLICT (phone) DO NOTHING";

/// Rows per statement when importing: 9 parameters each, well under SQLite's limit.
const IMPORT_BATCH: usize = 1000;

fn check_customer(c: &NewCustomer) -> Result<(), CrmError> {
    check_opt("name", c.name.as_deref())?;
    check_opt("email", c.email.as_deref())?;
    check_opt("language", c.language.as_deref())?;
    if let Some(tier) = &c.tier {
        super::check_required("tier", tier)?;
    }
    Ok(())
}

impl CrmStore {
    /// Creates the customer with this phone number (normalized to E.164) or updates
    /// the existing one; only the fields given (`Some`) change.
    pub async fn upsert_customer(&self, c: &NewCustomer) -> Result<Customer, CrmError> {
        let phone = normalize_phone(&c.phone)?;
        check_customer(c)?;
        let nothing_to_update = c.name.is_none()
            && c.email.is_none()
            && c.tier.is_none()
            && c.vip.is_none()
            && c.language.is_none();
        let sql = if nothing_to_update {
            INSERT_IF_NEW
        } else {
            UPSERT
        };
        let select = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE phone = $1");
        let (id, now) = (new_id(), now_ms());
        with_pool!(self, p => {
            sqlx::query(sql)
                .bind(&id)
                .bind(&c.name)
                .bind(&phone)
                .bind(&c.email)
                .bind(&c.tier)
                .bind(c.vip)
                .bind(&c.language)
                .bind(now)
                .execute(p)
                .await
                .map_err(db_err)?;
            sqlx::query_as::<_, Customer>(&select).bind(&phone).fetch_one(p).await.map_err(db_err)
        })
    }

    /// The customer with this phone number, in any spelling `normalize_phone` accepts.
    pub async fn customer_by_phone(&self, phone: &str) -> Result<Option<Customer>, CrmError> {
        let phone = normalize_phone(phone)?;
        let select = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE phone = $1");
        with_pool!(self, p => sqlx::query_as::<_, Customer>(&select).bind(&phone).fetch_optional(p).await.map_err(db_err))
    }

    pub async fn customer(&self, id: &str) -> Result<Option<Customer>, CrmError> {
        let select = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1");
        with_pool!(self, p => sqlx::query_as::<_, Customer>(&select).bind(id).fetch_optional(p).await.map_err(db_err))
    }

    /// Bulk import in one transaction, batched multi-row inserts. Customers whose
    /// phone number is already known are skipped (not updated). Every number is
    /// validated before anything is written. Returns how many were inserted.
    pub async fn import_customers(&self, customers: &[NewCustomer]) -> Result<u64, CrmError> {
        let mut rows = Vec::with_capacity(customers.len());
        for c in customers {
            let phone = normalize_phone(&c.phone)?;
            check_customer(c)?;
            rows.push((new_id(), phone, c));
        }
        let now = now_ms();
        with_pool!(self, p => {
            let mut tx = p.begin().await.map_err(db_err)?;
            let mut inserted = 0;
            for chunk in rows.chunks(IMPORT_BATCH) {
                let mut qb = sqlx::QueryBuilder::new(
                    "INSERT INTO customers (id, name, phone, email, tier, vip, language, created_at, updated_at) ",
                );
                qb.push_values(chunk, |mut b, (id, phone, c)| {
                    b.push_bind(id)
                        .push_bind(&c.name)
                        .push_bind(phone)
                        .push_bind(&c.email)
                        .push_bind(c.tier.as_deref().unwrap_or("standard"))
                        .push_bind(c.vip.unwrap_or(false))
                        .push_bind(&c.language)
                        .push_bind(now)
                        .push_bind(now);
                });
                qb.push(" ON CONFLICT (phone) DO NOTHING");
                inserted += qb.build().execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            }
            tx.commit().await.map_err(db_err)?;
            Ok(inserted)
        })
    }

    /// Name, tier, VIP, language, up to three open tickets and the last call's
    /// summary: what the agent should know before answering.
    pub async fn customer_context(&self, customer_id: &str) -> Result<CustomerContext, CrmError> {
        let customer = self
            .customer(customer_id)
            .await?
            .ok_or_else(|| CrmError::NotFound {
                what: "customer",
                id: customer_id.to_string(),
            })?;
        let (open_tickets, last_call_summary) = with_pool!(self, p => {
            let open: Vec<String> = sqlx::query_scalar(
                "SELECT subject FROM tickets WHERE customer_id = $1 AND status IN ('open', 'in_progress', 'waiting') \
                 ORDER BY created_at DESC, id DESC LIMIT 3",
            )
            .bind(customer_id)
            .fetch_all(p)
            .await
            .map_err(db_err)?;
            let summary: Option<String> = sqlx::query_scalar(
                "SELECT summary FROM calls WHERE customer_id = $1 AND summary IS NOT NULL AND summary <> '' \
                 ORDER BY started_at DESC, id DESC LIMIT 1",
            )
            .bind(customer_id)
            .fetch_optional(p)
            .await
            .map_err(db_err)?;
            (open, summary)
        });
        Ok(CustomerContext {
            name: customer.name,
            tier: customer.tier,
            vip: customer.vip,
            language: customer.language,
            open_tickets,
            last_call_summary,
        })
    }
}
