//! Test databases for the CRM: an SQLite file in a temp folder, or a fresh
//! PostgreSQL database (`CREATE DATABASE t_<uuid>`) on the server named by
//! `SWITCHBOARD_TEST_PG_URL`, so tests run in parallel and stay isolated.
//!
//! Without `SWITCHBOARD_TEST_PG_URL`, PostgreSQL tests are skipped loudly, or fail
//! when `SWITCHBOARD_REQUIRE_PG=1` (scripts/test.sh sets both).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::{Connection, Executor, PgConnection};

/// (Tests using it import `Backend` and `CrmStore`.)
/// Defines `NAME::sqlite` and `NAME::postgres`, each running `body` on a fresh
/// database of its kind with `$db` (the TestDb) and `$store` (a connected store).
#[allow(unused_macros)]
macro_rules! on_both {
    ($name:ident, |$db:ident, $store:ident| $body:block) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = TestDb::sqlite();
                let $store = CrmStore::connect($db.url()).await.expect("connect sqlite");
                assert_eq!($store.backend(), Backend::Sqlite);
                $body
                $store.close().await;
                $db.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($db) = TestDb::postgres(concat!(stringify!($name), "::postgres")).await else { return };
                let $store = CrmStore::connect($db.url()).await.expect("connect postgres");
                assert_eq!($store.backend(), Backend::Postgres);
                $body
                $store.close().await;
                $db.cleanup().await;
            }
        }
    };
}

pub const PG_URL_VAR: &str = "SWITCHBOARD_TEST_PG_URL";
pub const REQUIRE_PG_VAR: &str = "SWITCHBOARD_REQUIRE_PG";
pub const PG_SCRIPT_VAR: &str = "SWITCHBOARD_PG_SCRIPT";

fn pg_required() -> bool {
    std::env::var(REQUIRE_PG_VAR).is_ok_and(|v| v == "1")
}

/// The admin URL of the test server; `None` (after a loud note) when PostgreSQL tests
/// should be skipped. Panics when they are required but no server is configured.
pub fn pg_admin_url(test: &str) -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if pg_required() => {
            panic!("{REQUIRE_PG_VAR}=1 but {PG_URL_VAR} is not set (test {test})")
        }
        _ => {
            eprintln!(
                "\n*** SKIPPED (PostgreSQL): {test}: set {PG_URL_VAR} (scripts/test.sh starts a server) ***\n"
            );
            None
        }
    }
}

/// `url` with its database name replaced by `db` (query string kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_and_path = &base[scheme_end..];
    let host = match host_and_path.find('/') {
        Some(i) => &host_and_path[..i],
        None => host_and_path,
    };
    let mut out = format!("{}{}/{}", &base[..scheme_end], host, db);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

pub enum TestDb {
    Sqlite {
        url: String,
        dir: tempfile::TempDir,
    },
    Postgres {
        url: String,
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    /// A new SQLite database file in a folder that does not exist yet (the store
    /// must create it).
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("nested").join("folder").join("crm.sqlite3");
        TestDb::Sqlite {
            url: format!("sqlite://{}", path.display()),
            dir,
        }
    }

    /// A fresh, empty PostgreSQL database, or `None` when PostgreSQL tests are skipped.
    pub async fn postgres(test: &str) -> Option<TestDb> {
        let admin_url = pg_admin_url(test)?;
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL server");
        admin
            .execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .expect("create test database");
        let _ = admin.close().await;
        Some(TestDb::Postgres {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
        })
    }

    pub fn url(&self) -> &str {
        match self {
            TestDb::Sqlite { url, .. } | TestDb::Postgres { url, .. } => url,
        }
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self {
            TestDb::Sqlite { url, .. } => url.strip_prefix("sqlite://").map(PathBuf::from),
            TestDb::Postgres { .. } => None,
        }
    }

    /// Drops a PostgreSQL test database (best effort); an SQLite folder goes with `self`.
    pub async fn cleanup(self) {
        if let TestDb::Postgres {
            admin_url, name, ..
        } = self
        {
            if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                    .await;
                let _ = admin.close().await;
            }
        }
    }
}

/// A PostgreSQL server of the test's own (to stop and restart it), started with
/// scripts/pg.sh (`SWITCHBOARD_PG_SCRIPT`). Stopped on drop.
pub struct OwnPg {
    script: PathBuf,
    pub data: PathBuf,
    pub port: u16,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl OwnPg {
    /// `None` (after a loud note) when no script is configured and PostgreSQL is not
    /// required; panics when it is required.
    pub fn start(test: &str) -> Option<OwnPg> {
        let script = match std::env::var(PG_SCRIPT_VAR) {
            Ok(s) if !s.trim().is_empty() => PathBuf::from(s),
            _ if pg_required() => {
                panic!("{REQUIRE_PG_VAR}=1 but {PG_SCRIPT_VAR} is not set (test {test})")
            }
            _ => {
                eprintln!("\n*** SKIPPED (PostgreSQL): {test}: set {PG_SCRIPT_VAR} to scripts/pg.sh ***\n");
                return None;
            }
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("pgdata");
        let port = free_port();
        let url = run_script(&script, &["start", path_str(&data), &port.to_string()]);
        Some(OwnPg {
            script,
            data,
            port,
            url: url.trim().to_string(),
            _dir: dir,
        })
    }

    pub fn stop(&self) {
        run_script(&self.script, &["stop", path_str(&self.data)]);
    }

    pub fn restart(&self) {
        run_script(
            &self.script,
            &["start", path_str(&self.data), &self.port.to_string()],
        );
    }
}

impl Drop for OwnPg {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(&self.data)
            .output();
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

fn run_script(script: &Path, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .env("PG_EXTRA_OPTS", "-c fsync=off")
        .output()
        .expect("run pg.sh");
    assert!(
        out.status.success(),
        "pg.sh {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A port nothing listens on right now (the OS picks it).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}
