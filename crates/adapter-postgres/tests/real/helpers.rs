//! The server scripts/postgres-up started, a database of each test's own, and apps
//! and jobs to store.

use std::path::PathBuf;

use lxpack_core::document::{DocumentFormat, parse_app_documents};
use lxpack_core::domain::{App, AppKey, JobId};
use lxpack_postgres::{PostgresAppStore, PostgresSettings, SecretString};

/// The server of scripts/postgres-up, as its printed variables name it.
#[derive(Clone)]
pub(crate) struct Server {
    /// `host:port`.
    pub(crate) authority: String,
    /// The role.
    pub(crate) user: String,
    /// The role's password.
    pub(crate) password: String,
    /// The test CA's certificate.
    pub(crate) ca: PathBuf,
}

fn required(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start PostgreSQL with `eval \"$(scripts/postgres-up)\"` \
             (it prints LXPACK_TEST_POSTGRES_URL, _PASSWORD_FILE and _CA), or set \
             LXPACK_SKIP_REAL=1 to skip the PostgreSQL tests explicitly"
        )
    })
}

/// The server; `None`, after a notice, when LXPACK_SKIP_REAL=1.
///
/// # Panics
/// When the variables of scripts/postgres-up are missing, or name anything but loopback.
pub(crate) fn server() -> Option<Server> {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: skipping a test that needs PostgreSQL");
        return None;
    }
    let url = required("LXPACK_TEST_POSTGRES_URL");
    let password_file = required("LXPACK_TEST_POSTGRES_PASSWORD_FILE");
    let ca = PathBuf::from(required("LXPACK_TEST_POSTGRES_CA"));
    let rest = url.strip_prefix("postgres://").unwrap_or_else(|| {
        panic!("LXPACK_TEST_POSTGRES_URL must be postgres://USER@127.0.0.1:PORT/DB, not {url}")
    });
    let (user, rest) = rest.split_once('@').unwrap();
    let authority = rest.split('/').next().unwrap().to_owned();
    let host = authority
        .rsplit_once(':')
        .map_or(authority.as_str(), |(h, _)| h);
    assert!(
        host == "localhost" || host.starts_with("127."),
        "LXPACK_TEST_POSTGRES_URL must point at loopback, not {url}"
    );
    let password = std::fs::read_to_string(&password_file)
        .unwrap_or_else(|e| panic!("cannot read {password_file} (LXPACK_TEST_POSTGRES_PASSWORD_FILE): {e}; run scripts/postgres-up"))
        .trim()
        .to_owned();
    Some(Server {
        authority,
        user: user.to_owned(),
        password,
        ca,
    })
}

/// Starts a PostgreSQL test, or returns from it when LXPACK_SKIP_REAL=1.
macro_rules! database_or_skip {
    () => {
        match $crate::helpers::server() {
            Some(server) => $crate::helpers::TestDatabase::create(server).await,
            None => return,
        }
    };
}
pub(crate) use database_or_skip;

/// A database of one test's own, dropped when the test ends (even by a panic).
pub(crate) struct TestDatabase {
    pub(crate) server: Server,
    pub(crate) name: String,
}

impl TestDatabase {
    /// Makes `lxpack_t_<random>`.
    pub(crate) async fn create(server: Server) -> Self {
        let name = format!("lxpack_t_{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff);
        let admin = connect_raw(&server, "postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        Self { server, name }
    }

    /// The store URL of this database with `query` (e.g. `sslmode=require`).
    pub(crate) fn url(&self, query: &str) -> String {
        format!(
            "postgres://{}@{}/{}?application_name={}&{query}",
            self.server.user, self.server.authority, self.name, self.name
        )
    }

    /// Settings for this database: the password, TLS verified against the test CA.
    pub(crate) fn settings(&self) -> PostgresSettings {
        PostgresSettings::new(self.url("sslmode=require"))
            .with_password(SecretString::from(self.server.password.clone()))
            .with_root_certificate(&self.server.ca)
            .with_pool_size(4)
    }

    /// A store on this database.
    pub(crate) async fn store(&self) -> PostgresAppStore {
        PostgresAppStore::connect(&self.settings()).await.unwrap()
    }

    /// A plain client on this database, for looking behind the store's back.
    pub(crate) async fn admin(&self) -> tokio_postgres::Client {
        connect_raw(&self.server, &self.name).await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop runs inside the test's runtime: the cleanup gets a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let admin = connect_raw(&server, "postgres").await;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// A tokio-postgres client on `database`, without TLS (loopback only).
pub(crate) async fn connect_raw(server: &Server, database: &str) -> tokio_postgres::Client {
    let (host, port) = server.authority.rsplit_once(':').unwrap();
    let mut config = tokio_postgres::Config::new();
    config
        .host(host)
        .port(port.parse().unwrap())
        .user(&server.user)
        .password(&server.password)
        .dbname(database)
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap_or_else(|e| {
        panic!("cannot reach PostgreSQL at {}: {e}; start it with `eval \"$(scripts/postgres-up)\"`", server.authority)
    });
    tokio::spawn(connection);
    client
}

/// An app called `name`.
pub(crate) fn app(name: &str) -> App {
    let text = format!(
        r#"{{"name": "{name}", "env": "prod", "role": "front", "region": "eu-west-1",
            "modules": [{{"name": "api", "path": "/srv/api", "build_pack": "bWFrZQo="}}]}}"#
    );
    parse_app_documents(&text, DocumentFormat::Json)
        .unwrap()
        .pop()
        .unwrap()
}

/// The key of [`app`]`(name)`.
pub(crate) fn key(name: &str) -> AppKey {
    app(name).key
}

/// A job id growing with `seconds`.
pub(crate) fn job(seconds: u32) -> JobId {
    JobId::generate(seconds, [3; 8])
}
