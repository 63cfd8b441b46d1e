//! The PostgreSQL server scripts/postgres-up started, seen from the CLI's tests: a
//! database of each test's own (made and dropped with `psql`, as an operator would),
//! and the config lines that point lxpack at it, its password in a file.

use std::path::PathBuf;
use std::process::Command;

/// The server of scripts/postgres-up, as its printed variables name it.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    /// `host:port`, on loopback.
    pub(crate) authority: String,
    /// The role.
    pub(crate) user: String,
    /// The file that holds the role's password.
    pub(crate) password_file: PathBuf,
    /// The test CA's certificate.
    pub(crate) ca: PathBuf,
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start PostgreSQL with `eval \"$(scripts/postgres-up)\"` \
             (it prints LXPACK_TEST_POSTGRES_URL, _PASSWORD_FILE and _CA; scripts/test also \
             starts a second one whose variables are named _FAULT_), or set \
             LXPACK_SKIP_REAL=1 to skip the PostgreSQL tests explicitly"
        )
    })
}

/// The server; `None`, after a notice, when LXPACK_SKIP_REAL=1.
///
/// # Panics
/// When the variables of scripts/postgres-up are missing, or name anything but loopback.
pub(crate) fn server() -> Option<Server> {
    server_named("LXPACK_TEST_POSTGRES")
}

/// The server whose variables start with `prefix`.
fn server_named(prefix: &str) -> Option<Server> {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: skipping a test that needs PostgreSQL");
        return None;
    }
    let url = required(&format!("{prefix}_URL"));
    let rest = url.strip_prefix("postgres://").unwrap_or_else(|| {
        panic!("{prefix}_URL must be postgres://USER@127.0.0.1:PORT/DB, not {url}")
    });
    let (user, rest) = rest.split_once('@').unwrap();
    let authority = rest.split('/').next().unwrap().to_owned();
    let host = authority
        .rsplit_once(':')
        .map_or(authority.as_str(), |(h, _)| h);
    assert!(
        host == "localhost" || host.starts_with("127."),
        "{prefix}_URL must point at loopback, not {url}"
    );
    Some(Server {
        authority,
        user: user.to_owned(),
        password_file: PathBuf::from(required(&format!("{prefix}_PASSWORD_FILE"))),
        ca: PathBuf::from(required(&format!("{prefix}_CA"))),
    })
}

/// The second server of scripts/test, which a test may stop and start again (through
/// scripts/postgres-down and postgres-up with its port and directory, given here as
/// the environment those scripts read).
pub(crate) fn fault_server() -> Option<(Server, [(String, String); 2])> {
    let server = server_named("LXPACK_TEST_POSTGRES_FAULT")?;
    let scripts_env = [
        (
            "LXPACK_POSTGRES_PORT".to_owned(),
            required("LXPACK_TEST_POSTGRES_FAULT_PORT"),
        ),
        (
            "LXPACK_POSTGRES_STATE_DIR".to_owned(),
            required("LXPACK_TEST_POSTGRES_FAULT_DIR"),
        ),
    ];
    Some((server, scripts_env))
}

/// A database of one test's own, dropped when the test ends (even by a panic).
pub(crate) struct TestDatabase {
    pub(crate) server: Server,
    pub(crate) name: String,
}

impl TestDatabase {
    /// Makes `lxpack_cli_<random>` on the server; `None` when LXPACK_SKIP_REAL=1.
    pub(crate) fn create() -> Option<Self> {
        Some(Self::create_on(server()?))
    }

    /// Makes `lxpack_cli_<random>` on `server`.
    pub(crate) fn create_on(server: Server) -> Self {
        let name = format!("lxpack_cli_{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
        let database = Self { server, name };
        database.psql("postgres", &format!("CREATE DATABASE {}", database.name));
        database
    }

    /// The store URL of this database, TLS verified against the test CA.
    pub(crate) fn url(&self) -> String {
        format!(
            "postgres://{}@{}/{}?sslmode=verify-full",
            self.server.user, self.server.authority, self.name
        )
    }

    /// The `lxpack:` lines of a config that uses this database: `store`,
    /// `store_password` (its file) and `store_ca`, indented for the `lxpack:` block.
    pub(crate) fn config_lines(&self) -> String {
        format!(
            "  store: {}\n  store_password:\n    file: {}\n  store_ca: {}\n",
            self.url(),
            self.server.password_file.display(),
            self.server.ca.display()
        )
    }

    /// Runs `sql` in this database with `psql`; returns what it printed (unaligned,
    /// tuples only).
    pub(crate) fn sql(&self, sql: &str) -> String {
        self.psql(&self.name, sql)
    }

    fn psql(&self, database: &str, sql: &str) -> String {
        psql(&self.server, database, sql)
    }
}

fn psql(server: &Server, database: &str, sql: &str) -> String {
    let password = std::fs::read_to_string(&server.password_file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", server.password_file.display()));
    let (host, port) = server.authority.rsplit_once(':').unwrap();
    let output = Command::new("psql")
        .env("PGPASSWORD", password.trim())
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", &server.ca)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
        .args(["-h", host, "-p", port, "-U", &server.user, "-d", database])
        .args(["-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql (Debian's postgresql-client): {e}"));
    assert!(
        output.status.success(),
        "psql {sql:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let dropped = std::panic::catch_unwind(|| {
            psql(
                &self.server,
                "postgres",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            )
        });
        if dropped.is_err() {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}
