//! The CRM's one error type, and how database failures map onto it. The outbox keys
//! on [`CrmError::is_unavailable`]: a write that failed because the database could not
//! be reached is kept and replayed; any other failure will not get better by retrying.

use std::borrow::Cow;

/// What can go wrong in the CRM store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrmError {
    /// `input` is kept whole for the caller; the message shows it masked (it is PII).
    #[error("invalid phone number {}: {reason}", mask(.input))]
    InvalidPhone { input: String, reason: String },
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The database could not be reached (refused, closed, reset, pool timed out,
    /// server shutting down or busy). Retrying later may succeed.
    #[error("CRM database unavailable: {0}")]
    Unavailable(String),
    #[error("CRM database error: {0}")]
    Database(String),
    #[error("CRM schema migration failed: {0}")]
    Migration(String),
}

impl CrmError {
    /// A stable, machine-readable code (for the UI's `{code, message}` and logs).
    pub fn code(&self) -> &'static str {
        match self {
            CrmError::InvalidPhone { .. } => "invalid_phone",
            CrmError::NotFound { .. } => "not_found",
            CrmError::InvalidInput(_) => "invalid_input",
            CrmError::Unavailable(_) => "db_unavailable",
            CrmError::Database(_) => "db_error",
            CrmError::Migration(_) => "migration_failed",
        }
    }

    /// True when the database could not be reached: the write may be retried later.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CrmError::Unavailable(_))
    }
}

/// Shows the first three and last two characters of a phone number.
fn mask(input: &str) -> String {
    let chars: Vec<char> = input.chars().collect();
    if chars.len() <= 6 {
        return "\"***\"".to_string();
    }
    let head: String = chars[..3].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{:?}", format!("{head}…{tail}"))
}

/// PostgreSQL SQLSTATEs that mean "the server is not there right now": connection
/// exceptions (08…), admin/crash shutdown, cannot connect now, too many connections.
fn pg_state_is_unavailable(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "53000" | "58030"
        )
}

/// SQLite result codes (primary code in the low byte) that are transient: busy or
/// locked past the busy timeout, I/O errors, disk full, cannot open.
fn sqlite_code_is_unavailable(code: &str) -> bool {
    let Ok(n) = code.parse::<i64>() else {
        return false;
    };
    matches!(n & 0xff, 5 | 6 | 10 | 13 | 14)
}

/// Maps any sqlx error. Use [`fk_or`] where a foreign key names a missing row.
pub(crate) fn db_err(e: sqlx::Error) -> CrmError {
    use sqlx::Error as E;
    match &e {
        E::Io(_)
        | E::PoolTimedOut
        | E::PoolClosed
        | E::WorkerCrashed
        | E::Tls(_)
        | E::Protocol(_) => CrmError::Unavailable(e.to_string()),
        E::Database(d) => {
            let code: Option<Cow<'_, str>> = d.code();
            let code = code.as_deref().unwrap_or("");
            let unavailable = if d
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                pg_state_is_unavailable(code)
            } else {
                sqlite_code_is_unavailable(code)
            };
            if unavailable {
                CrmError::Unavailable(e.to_string())
            } else {
                CrmError::Database(e.to_string())
            }
        }
        E::Configuration(_) => CrmError::InvalidInput(e.to_string()),
        _ => CrmError::Database(e.to_string()),
    }
}

/// Like [`db_err`], but a foreign-key violation becomes `NotFound { what, id }`.
pub(crate) fn fk_or(e: sqlx::Error, what: &'static str, id: &str) -> CrmError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_foreign_key_violation() {
            return CrmError::NotFound {
                what,
                id: id.to_string(),
            };
        }
    }
    db_err(e)
}

pub(crate) fn migrate_err(e: sqlx::migrate::MigrateError) -> CrmError {
    match e {
        sqlx::migrate::MigrateError::Execute(inner) => match db_err(inner) {
            CrmError::Unavailable(m) => CrmError::Unavailable(m),
            other => CrmError::Migration(other.to_string()),
        },
        other => CrmError::Migration(other.to_string()),
    }
}

/// The secret parts of a database URL: the password in `user:password@` and any
/// `password=` query parameter (raw and percent-decoded).
fn secrets_of(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            if let Some((_, pass)) = authority[..at].split_once(':') {
                out.push(pass.to_string());
            }
        }
    }
    if let Some((_, query)) = url.split_once('?') {
        for pair in query.split('&') {
            if let Some((k, v)) = pair.split_once('=') {
                if k.eq_ignore_ascii_case("password") {
                    out.push(v.to_string());
                }
            }
        }
    }
    let decoded: Vec<String> = out.iter().map(|s| percent_decode(s)).collect();
    out.extend(decoded);
    out.retain(|s| !s.is_empty());
    out.sort_by_key(|s| std::cmp::Reverse(s.len()));
    out.dedup();
    out
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The URL with its password (in the authority or a `password=` parameter) replaced
/// by `***`: safe to log and to show.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some((user, _)) = userinfo.split_once(':') {
                out = format!("{scheme}://{user}:***@{}", &rest[at + 1..]);
            }
        }
    }
    if let Some((base, query)) = out.clone().split_once('?') {
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{base}?{}", query.join("&"));
    }
    out
}

/// Removes any secret of `url` from an error raised while connecting to it.
pub(crate) fn scrub(e: CrmError, url: &str) -> CrmError {
    let secrets = secrets_of(url);
    if secrets.is_empty() {
        return e;
    }
    let clean = |m: String| secrets.iter().fold(m, |m, s| m.replace(s.as_str(), "***"));
    match e {
        CrmError::Unavailable(m) => CrmError::Unavailable(clean(m)),
        CrmError::Database(m) => CrmError::Database(clean(m)),
        CrmError::Migration(m) => CrmError::Migration(clean(m)),
        CrmError::InvalidInput(m) => CrmError::InvalidInput(clean(m)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("postgres://postgres.abc:s3cr%40t@aws-0.pooler.supabase.com:5432/postgres?sslmode=require"),
            "postgres://postgres.abc:***@aws-0.pooler.supabase.com:5432/postgres?sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://u@h/db?password=x&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require"
        );
        assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
        assert_eq!(redact_url("postgres://h:5432/db"), "postgres://h:5432/db");
    }

    #[test]
    fn scrubs_secrets_from_messages() {
        let e = CrmError::Unavailable("failed for s3cr@t and s3cr%40t".into());
        let e = scrub(e, "postgres://u:s3cr%40t@h/db");
        assert_eq!(e, CrmError::Unavailable("failed for *** and ***".into()));
    }

    #[test]
    fn classifies_codes() {
        assert!(pg_state_is_unavailable("57P01"));
        assert!(pg_state_is_unavailable("57P03"));
        assert!(pg_state_is_unavailable("08006"));
        assert!(!pg_state_is_unavailable("23505"));
        assert!(sqlite_code_is_unavailable("5"));
        assert!(sqlite_code_is_unavailable("517"));
        assert!(!sqlite_code_is_unavailable("2067"));
        assert!(db_err(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(db_err(sqlx::Error::PoolClosed).is_unavailable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(db_err(sqlx::Error::Io(io)).is_unavailable());
        assert!(!db_err(sqlx::Error::RowNotFound).is_unavailable());
    }

    #[test]
    fn masks_phone_numbers_in_messages() {
        let e = CrmError::InvalidPhone {
            input: "+963944000111".into(),
            reason: "too long".into(),
        };
        let msg = e.to_string();
        assert!(!msg.contains("944000"), "{msg}");
        assert!(msg.contains("too long"), "{msg}");
        assert_eq!(e.code(), "invalid_phone");
    }
}
