//! The PostgreSQL store, for build hosts that share one: its password read from where
//! the config says (never from the config itself), and its errors turned into the
//! store's exit class with the adapter's hint.

use std::sync::Arc;

use lxpack_postgres::{PostgresAppStore, PostgresSettings, PostgresStoreError, SecretString};

use super::{Stores, TurnPlace};
use crate::config::{PasswordSource, PostgresLocation};
use crate::exit::{CliError, ExitClass};

/// Connects to `server`, applying the schema's migrations.
///
/// # Errors
/// `Store` (exit 11): the password cannot be read, or the server is unreachable,
/// refuses the login, lacks the database or holds a newer schema.
pub(super) async fn open(server: &PostgresLocation) -> Result<Stores, CliError> {
    let mut settings = PostgresSettings::new(server.url.clone());
    if let Some(source) = &server.access.password {
        settings = settings.with_password(read_password(source)?);
    }
    if let Some(ca) = &server.access.ca_file {
        settings = settings.with_root_certificate(ca.clone());
    }
    let store = PostgresAppStore::connect(&settings)
        .await
        .map_err(store_error)?;
    let store = Arc::new(store);
    Ok(Stores {
        apps: store.clone(),
        jobs: store.clone(),
        // Every host sharing the store sees its turns; a lock file only this host's.
        turns: TurnPlace::Database(store),
    })
}

fn store_error(error: PostgresStoreError) -> CliError {
    let hint = error.hint();
    CliError::new(ExitClass::Store, error).with_hint(hint)
}

/// The password, from the environment variable or the file (its first line) the
/// config names. Errors name the source, never a value.
fn read_password(source: &PasswordSource) -> Result<SecretString, CliError> {
    match source {
        PasswordSource::Env(name) => std::env::var(name).map(SecretString::from).map_err(|_| {
            CliError::new(
                ExitClass::Store,
                format!("the store's password is not in the environment: {name} is not set (lxpack.store_password.env)"),
            )
            .with_hint(format!("export {name} before running lxpack, or name a file in lxpack.store_password.file"))
        }),
        PasswordSource::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|error| {
                CliError::new(
                    ExitClass::Store,
                    format!(
                        "cannot read the store's password from {} (lxpack.store_password.file): {error}",
                        path.display()
                    ),
                )
                .with_hint("make the file readable by the user lxpack runs as (and by no one else: chmod 600)")
            })?;
            let line = text.lines().next().unwrap_or_default();
            if line.is_empty() {
                return Err(CliError::new(
                    ExitClass::Store,
                    format!("{} (lxpack.store_password.file) is empty", path.display()),
                )
                .with_hint("write the password on the file's first line"));
            }
            Ok(SecretString::from(line.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;

    #[test]
    fn the_password_comes_from_the_first_line_of_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cr3t\nignored\n").unwrap();
        let password = read_password(&PasswordSource::File(path.clone())).unwrap();
        assert_eq!(password.expose_secret(), "s3cr3t");
        std::fs::write(&path, "\n").unwrap();
        let error = read_password(&PasswordSource::File(path)).unwrap_err();
        assert!(
            error.error.to_string().contains("is empty"),
            "{}",
            error.error
        );
        let missing = read_password(&PasswordSource::File(dir.path().join("none"))).unwrap_err();
        assert_eq!(missing.class, ExitClass::Store);
    }

    #[test]
    fn a_missing_variable_is_named_without_any_value() {
        let error = read_password(&PasswordSource::Env(
            "LXPACK_TEST_NO_SUCH_VARIABLE_9".into(),
        ))
        .unwrap_err();
        assert_eq!(error.class, ExitClass::Store);
        assert!(
            error
                .error
                .to_string()
                .contains("LXPACK_TEST_NO_SUCH_VARIABLE_9 is not set"),
            "{}",
            error.error
        );
    }
}
