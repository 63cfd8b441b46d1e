//! Turns through the database: a named, session-level advisory lock that every build
//! host sharing the store sees, where a lock file is seen by one host only (pool fills
//! take turns by it).
//!
//! The lock lives on a connection of its own, taken out of the pool for good
//! (`Object::take`): a connection given back to the pool would keep a session lock
//! for whoever used it next. Dropping the [`StoreTurn`] closes that connection, and the
//! server releases the lock when its session ends; a process that dies releases it the
//! same way. The wait is bounded by the session's `lock_timeout`, on the server; a
//! caller that stops waiting (drops the future) closes the connection too.

use std::time::Duration;

use deadpool_postgres::tokio_postgres::error::SqlState;
use deadpool_postgres::{ClientWrapper, Object};

use crate::error::{PostgresStoreError, from_driver};
use crate::store::PostgresAppStore;

/// The first key of every turn's advisory lock (`lxpt` in ASCII): turns use the
/// two-key form, a space apart from the migrations' one-key lock.
const TURN_CLASS: i32 = 0x6c78_7074;

/// One process's turn of a name, held until dropped. Several build hosts sharing the
/// store take turns of one name one at a time.
pub struct StoreTurn {
    name: String,
    /// The connection holding the lock, out of the pool: dropping it ends the session.
    _session: ClientWrapper,
}

impl std::fmt::Debug for StoreTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreTurn")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl StoreTurn {
    /// The name of the turn.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl PostgresAppStore {
    /// Waits up to `wait` for the turn of `name` (any text: it is hashed into the lock's
    /// key) and holds it until the returned guard is dropped. Turns of different names
    /// do not wait for each other; a second turn of the same name, from this process or
    /// any host, waits until the first is dropped.
    ///
    /// # Errors
    /// `TurnTimeout` when the turn was not granted within `wait`; `Unreachable` and the
    /// other connection errors of [`connect`](Self::connect); `Query`.
    pub async fn take_turn(
        &self,
        name: &str,
        wait: Duration,
    ) -> Result<StoreTurn, PostgresStoreError> {
        let operation = "take the turn";
        let object = self
            .client()
            .await
            .map_err(|failure| self.sort(operation, failure))?;
        // Out of the pool before the lock is asked for: whatever happens next, the
        // session ends with this value.
        let session = Object::take(object);
        // lock_timeout is an int of milliseconds on the server; 0 would mean no bound.
        let millis = wait.as_millis().clamp(1, i32::MAX as u128);
        session
            .batch_execute(&format!("SET lock_timeout = {millis}"))
            .await
            .map_err(|error| from_driver(operation, self.target(), error))?;
        let locked = session
            .execute(
                "SELECT pg_advisory_lock($1, hashtext($2))",
                &[&TURN_CLASS, &name],
            )
            .await;
        match locked {
            Ok(_) => Ok(StoreTurn {
                name: name.to_owned(),
                _session: session,
            }),
            // 55P03: not granted within `lock_timeout`.
            Err(error) if error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                Err(PostgresStoreError::TurnTimeout {
                    name: name.to_owned(),
                    waited: wait,
                })
            }
            Err(error) => Err(from_driver(operation, self.target(), error)),
        }
    }
}
