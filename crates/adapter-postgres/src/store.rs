//! [`PostgresAppStore`]: the pool, connecting (which migrates), and running one
//! operation's transaction again when it lost a race. The two ports are implemented in
//! `app_store` and `job_history`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::tokio_postgres::{self, config::SslMode};
use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use lxpack_core::ports::{AppStoreError, JobHistoryError};
use secrecy::ExposeSecret as _;

use crate::error::{PostgresStoreError, from_driver, from_pool, is_retryable};
use crate::retry::{may_retry, pause};
use crate::rows::Corrupt;
use crate::schema::{LATEST, SchemaError, migrate};
use crate::settings::{PostgresSettings, Target, TlsMode};
use crate::tls;

/// How long an operation waits for a free connection of the pool.
const POOL_WAIT: Duration = Duration::from_secs(60);

/// The app store and job history in one PostgreSQL database, shared by every build
/// host that names it. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct PostgresAppStore {
    pool: Pool,
    target: Arc<Target>,
    applied: Arc<[i64]>,
}

impl std::fmt::Debug for PostgresAppStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresAppStore")
            .field("server", &self.target.server())
            .field("database", &self.target.database)
            .field("user", &self.target.user)
            .finish_non_exhaustive()
    }
}

/// Why an attempt at an operation failed, before it is sorted into a
/// [`PostgresStoreError`].
pub(crate) enum Failure {
    Driver(tokio_postgres::Error),
    Pool(PoolError),
    Corrupt(Corrupt),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Driver(error)
    }
}

impl From<PoolError> for Failure {
    fn from(error: PoolError) -> Self {
        Self::Pool(error)
    }
}

impl From<Corrupt> for Failure {
    fn from(corrupt: Corrupt) -> Self {
        Self::Corrupt(corrupt)
    }
}

impl PostgresAppStore {
    /// The newest schema version this build knows.
    pub const SCHEMA_VERSION: i64 = LATEST;

    /// Connects to the store `settings` name and brings its schema up to date (under an
    /// advisory lock, in one transaction). The pool opens more connections on demand,
    /// up to the pool size.
    ///
    /// # Errors
    /// `Settings` or `RootCertificate` before anything is sent; `Unreachable`, `Tls`,
    /// `LoginRefused`, `DatabaseMissing` while connecting; `NewerSchema` (nothing is
    /// changed) or `Migrate` (everything of this start is rolled back).
    pub async fn connect(settings: &PostgresSettings) -> Result<Self, PostgresStoreError> {
        let target = Target::parse(settings.url())?;
        let tls = tls::connector(settings.root_certificate())?;
        let mut config = tokio_postgres::Config::new();
        config
            .user(&target.user)
            .host(&target.host)
            .port(target.port)
            .dbname(&target.database)
            .application_name(&target.application_name)
            .connect_timeout(target.connect_timeout)
            .ssl_mode(match target.tls {
                TlsMode::Disable => SslMode::Disable,
                TlsMode::Prefer => SslMode::Prefer,
                TlsMode::Require => SslMode::Require,
            });
        if let Some(password) = settings.password() {
            config.password(password.expose_secret());
        }
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(settings.pool_size())
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(target.connect_timeout + Duration::from_secs(5)))
            .wait_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|error| PostgresStoreError::Query {
                operation: "make the connection pool".into(),
                source: Box::new(error),
            })?;
        let mut client = pool
            .get()
            .await
            .map_err(|error| from_pool("connect", &target, error))?;
        let applied = migrate(&mut client)
            .await
            .map_err(|error| schema_error(&target, error))?;
        drop(client);
        Ok(Self {
            pool,
            target: Arc::new(target),
            applied: applied.into(),
        })
    }

    /// The schema versions this handle's [`connect`](Self::connect) applied (empty when
    /// the store was up to date).
    #[must_use]
    pub fn applied_migrations(&self) -> &[i64] {
        &self.applied
    }

    /// The store's schema version, as recorded in it.
    ///
    /// # Errors
    /// As any query.
    pub async fn schema_version(&self) -> Result<i64, PostgresStoreError> {
        self.retrying("read the schema version", || async {
            let client = self.client().await?;
            let row = client
                .query_one(
                    "SELECT COALESCE(max(version), 0) FROM lxpack_schema_versions",
                    &[],
                )
                .await?;
            Ok(row.try_get(0)?)
        })
        .await
    }

    /// `host:port` of the server.
    #[must_use]
    pub fn server(&self) -> String {
        self.target.server()
    }

    /// The database.
    #[must_use]
    pub fn database(&self) -> &str {
        &self.target.database
    }

    /// A connection of the pool.
    pub(crate) async fn client(&self) -> Result<Object, Failure> {
        Ok(self.pool.get().await?)
    }

    /// Runs `work` (one transaction, or one statement) until it does not lose a race,
    /// within the bound of [`crate::retry`].
    pub(crate) async fn retrying<T, F, Fut>(
        &self,
        operation: &str,
        mut work: F,
    ) -> Result<T, PostgresStoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            match work().await {
                Ok(value) => return Ok(value),
                Err(Failure::Driver(error)) if is_retryable(&error) => {
                    if !may_retry(attempts, started.elapsed()) {
                        return Err(PostgresStoreError::Contended {
                            operation: operation.to_owned(),
                            attempts,
                            source: Box::new(error),
                        });
                    }
                    tracing::debug!(operation, attempts, %error, "lost a race; running the transaction again");
                    tokio::time::sleep(pause(attempts)).await;
                }
                Err(failure) => return Err(self.sort(operation, failure)),
            }
        }
    }

    /// The server and database this store talks to.
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// A failure sorted into the store's error.
    pub(crate) fn sort(&self, operation: &str, failure: Failure) -> PostgresStoreError {
        match failure {
            Failure::Driver(error) => from_driver(operation, &self.target, error),
            Failure::Pool(error) => from_pool(operation, &self.target, error),
            Failure::Corrupt(corrupt) => PostgresStoreError::Corrupt {
                what: corrupt.what,
                problem: corrupt.problem,
            },
        }
    }
}

fn schema_error(target: &Target, error: SchemaError) -> PostgresStoreError {
    match error {
        SchemaError::Newer(found) => PostgresStoreError::NewerSchema {
            database: target.database.clone(),
            found,
            supported: LATEST,
        },
        SchemaError::Failed(version, source) => PostgresStoreError::Migrate {
            database: target.database.clone(),
            version,
            source: Box::new(source),
        },
        SchemaError::Read(source) => from_driver("read the schema version", target, source),
    }
}

/// The store's error as the app store port's.
pub(crate) fn app_error(operation: &str, error: PostgresStoreError) -> AppStoreError {
    AppStoreError::Other {
        operation: operation.to_owned(),
        source: Box::new(error),
    }
}

/// The store's error as the job history port's.
pub(crate) fn history_error(operation: &str, error: PostgresStoreError) -> JobHistoryError {
    JobHistoryError::Other {
        operation: operation.to_owned(),
        source: Box::new(error),
    }
}
