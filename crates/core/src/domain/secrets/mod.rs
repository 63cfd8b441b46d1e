//! Secrets: the app `env_vars` whose values must never show. Configuration names them
//! (names, or patterns over the keys); a job reads their values from the app it loads
//! and masks them out of everything it shows or keeps ([`SecretMasker`]).
//!
//! A value shorter than [`MIN_SECRET_LEN`] bytes is refused rather than masked: a
//! one-letter value would blot every such letter out of the output, and hides
//! nothing worth hiding. An empty value is allowed: there is nothing to show.

mod masker;

use std::collections::BTreeSet;
use std::fmt;

pub use masker::{MASK, SecretMasker, StreamMasker};

use super::{App, ValidationError};

/// The fewest bytes a secret's value may have.
pub const MIN_SECRET_LEN: usize = 4;

/// A pattern over env var keys: `*` stands for any run of characters, the rest is
/// literal (`*_TOKEN`, `DB_*`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecretPattern(String);

impl SecretPattern {
    /// Reads a pattern: letters, digits, `_` and `*`, not empty.
    ///
    /// # Errors
    /// [`ValidationError::SecretPattern`] naming the input.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let valid = !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'*');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(ValidationError::SecretPattern {
                input: text.to_owned(),
            })
        }
    }

    /// The pattern as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when `key` matches the whole pattern.
    #[must_use]
    pub fn matches(&self, key: &str) -> bool {
        glob(self.0.as_bytes(), key.as_bytes())
    }
}

/// `*` matches any run of bytes; the rest must be equal. Linear backtracking to the
/// last star: never exponential, however many stars a pattern has.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&byte) if byte == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p.min(pattern.len())..].iter().all(|&b| b == b'*')
}

/// Checks an env var name as a secret's name is written: a letter or `_`, then
/// letters, digits and `_`.
///
/// # Errors
/// [`ValidationError::EnvVarName`] naming the input.
pub fn check_secret_name(name: &str) -> Result<(), ValidationError> {
    let mut bytes = name.bytes();
    let valid = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ValidationError::EnvVarName {
            input: name.to_owned(),
            reason: "expected a letter or _, then letters, digits and _",
        })
    }
}

/// Which of one app's env vars are secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretRule {
    /// Keys that are secret, each of which the app must have.
    pub names: Vec<String>,
    /// Patterns: every key that matches one is secret.
    pub patterns: Vec<SecretPattern>,
}

impl SecretRule {
    /// True when the rule names nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.patterns.is_empty()
    }

    /// True when `key` is secret under this rule.
    #[must_use]
    pub fn covers(&self, key: &str) -> bool {
        self.names.iter().any(|name| name == key) || self.patterns.iter().any(|p| p.matches(key))
    }
}

/// Where secrets delivered as files are, in the instance: a tmpfs lxpack mounts, so
/// that no value is ever on the instance's disk.
pub const SECRETS_DIR: &str = "/run/lxpack/secrets";

/// An app's secrets as a job uses them: which keys, their values, and the masker of
/// those. Its `Debug` shows the keys, never a value.
#[derive(Clone, Default)]
pub struct AppSecrets {
    /// The secret keys the app has.
    pub names: BTreeSet<String>,
    /// Each key's value as the commands get it (a later entry wins, as in
    /// [`App::hook_environment`]), in key order.
    values: Vec<(String, String)>,
    /// Masks their values.
    pub masker: SecretMasker,
}

impl fmt::Debug for AppSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSecrets")
            .field("names", &self.names)
            .field("masker", &self.masker)
            .finish_non_exhaustive()
    }
}

impl AppSecrets {
    /// True when the app has no secret.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Each secret's key and value, in key order: what files delivery writes.
    #[must_use]
    pub fn values(&self) -> &[(String, String)] {
        &self.values
    }

    /// Where the file of secret `name` is, under files delivery.
    #[must_use]
    pub fn file_of(name: &str) -> String {
        format!("{SECRETS_DIR}/{name}")
    }

    /// `env` as commands get it under files delivery: each secret's variable is
    /// replaced, in place, by `NAME_FILE`, the path of its file; its value is not in
    /// the environment at all.
    #[must_use]
    pub fn file_environment(&self, env: Vec<(String, String)>) -> Vec<(String, String)> {
        env.into_iter()
            .map(|(key, value)| {
                if self.names.contains(&key) {
                    (format!("{key}_FILE"), Self::file_of(&key))
                } else {
                    (key, value)
                }
            })
            .collect()
    }
}

/// The configured secrets do not fit the app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// A secret named in the config is not one of the app's env vars.
    #[error(
        "secret {name} is not one of the app's env_vars (its keys: {known}): add it to the app's env_vars, or remove it from lxpack.secrets"
    )]
    UnknownName {
        /// The name.
        name: String,
        /// The app's env var keys, comma-separated.
        known: String,
    },
    /// A secret's value is too short to mask.
    #[error(
        "secret {name}'s value has {length} bytes, fewer than the {MIN_SECRET_LEN} a secret needs (masking a shorter value would blot out ordinary output): give it a longer value, or leave it out of lxpack.secrets"
    )]
    TooShort {
        /// The key (never the value).
        name: String,
        /// The value's length in bytes.
        length: usize,
    },
}

impl App {
    /// The app's secrets under `rule`: every env var key the rule covers, and the
    /// values of every entry with such a key.
    ///
    /// # Errors
    /// [`SecretError::UnknownName`] for a name the app has no env var for;
    /// [`SecretError::TooShort`] for a value of 1 to 3 bytes.
    pub fn secrets(&self, rule: &SecretRule) -> Result<AppSecrets, SecretError> {
        if let Some(name) = rule
            .names
            .iter()
            .find(|name| !self.env_vars.iter().any(|var| &var.key == *name))
        {
            let known: Vec<&str> = self.env_vars.iter().map(|v| v.key.as_str()).collect();
            return Err(SecretError::UnknownName {
                name: name.clone(),
                known: if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                },
            });
        }
        let mut names = BTreeSet::new();
        let mut masked = Vec::new();
        for var in self.env_vars.iter().filter(|var| rule.covers(&var.key)) {
            let length = var.value.len();
            if (1..MIN_SECRET_LEN).contains(&length) {
                return Err(SecretError::TooShort {
                    name: var.key.clone(),
                    length,
                });
            }
            names.insert(var.key.clone());
            masked.push(var.value.clone().into_bytes());
        }
        let values = self
            .hook_environment()
            .into_iter()
            .filter(|(key, _)| names.contains(key))
            .collect::<std::collections::BTreeMap<_, _>>()
            .into_iter()
            .collect();
        Ok(AppSecrets {
            names,
            values,
            masker: SecretMasker::new(masked),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AppKey;

    fn app() -> App {
        App::new(AppKey::new("web", "prod", "front"), "eu-west-1")
            .with_env_var("DB_PASSWORD", "hunter22")
            .with_env_var("API_TOKEN", "tok-123456")
            .with_env_var("PLAIN", "x")
            .with_env_var("EMPTY_TOKEN", "")
    }

    fn pattern(text: &str) -> SecretPattern {
        SecretPattern::parse(text).unwrap()
    }

    #[test]
    fn patterns_match_whole_keys() {
        assert!(pattern("*_TOKEN").matches("API_TOKEN"));
        assert!(!pattern("*_TOKEN").matches("API_TOKENS"));
        assert!(pattern("DB_*").matches("DB_"));
        assert!(pattern("*").matches("ANY"));
        assert!(pattern("A*B*C").matches("AxxBxC"));
        assert!(!pattern("A*B*C").matches("AxxCxB"));
        assert!(SecretPattern::parse("").is_err());
        assert!(SecretPattern::parse("A-B").is_err());
        assert!(SecretPattern::parse("A B").is_err());
    }

    #[test]
    fn names_are_env_var_names() {
        assert!(check_secret_name("DB_PASSWORD").is_ok());
        assert!(check_secret_name("_x1").is_ok());
        assert!(check_secret_name("").is_err());
        assert!(check_secret_name("1A").is_err());
        assert!(check_secret_name("A=B").is_err());
    }

    #[test]
    fn names_and_patterns_select_the_values() {
        let rule = SecretRule {
            names: vec!["DB_PASSWORD".into()],
            patterns: vec![pattern("*_TOKEN")],
        };
        let secrets = app().secrets(&rule).unwrap();
        let names: Vec<&str> = secrets.names.iter().map(String::as_str).collect();
        assert_eq!(names, ["API_TOKEN", "DB_PASSWORD", "EMPTY_TOKEN"]);
        // The empty value hides nothing, so it is not masked.
        assert_eq!(secrets.masker.len(), 2);
        assert_eq!(
            secrets.masker.mask_text("hunter22 tok-123456 x"),
            "*** *** x"
        );
    }

    #[test]
    fn a_name_the_app_lacks_is_refused_naming_it() {
        let rule = SecretRule {
            names: vec!["MISSING".into()],
            patterns: vec![],
        };
        let error = app().secrets(&rule).unwrap_err();
        assert_eq!(
            error,
            SecretError::UnknownName {
                name: "MISSING".into(),
                known: "DB_PASSWORD, API_TOKEN, PLAIN, EMPTY_TOKEN".into(),
            }
        );
        assert!(error.to_string().starts_with("secret MISSING is not one"));
    }

    #[test]
    fn a_short_value_is_refused_without_showing_it() {
        let rule = SecretRule {
            names: vec!["PLAIN".into()],
            patterns: vec![],
        };
        let error = app().secrets(&rule).unwrap_err();
        assert_eq!(
            error,
            SecretError::TooShort {
                name: "PLAIN".into(),
                length: 1
            }
        );
        assert!(error.to_string().contains("PLAIN's value has 1 bytes"));
    }

    #[test]
    fn files_delivery_puts_paths_where_values_were() {
        let rule = SecretRule {
            names: vec!["DB_PASSWORD".into()],
            patterns: vec![],
        };
        let secrets = app().secrets(&rule).unwrap();
        assert_eq!(
            secrets.values(),
            [("DB_PASSWORD".to_owned(), "hunter22".to_owned())]
        );
        let env = secrets.file_environment(app().hook_environment());
        assert!(env.contains(&(
            "DB_PASSWORD_FILE".into(),
            "/run/lxpack/secrets/DB_PASSWORD".into()
        )));
        assert!(
            env.iter()
                .all(|(key, value)| key != "DB_PASSWORD" && value != "hunter22")
        );
        assert!(env.contains(&("PLAIN".into(), "x".into())));
        let debug = format!("{secrets:?}");
        assert!(
            debug.contains("DB_PASSWORD") && !debug.contains("hunter22"),
            "{debug}"
        );
    }

    #[test]
    fn no_rule_no_secrets() {
        let secrets = app().secrets(&SecretRule::default()).unwrap();
        assert!(secrets.names.is_empty() && secrets.masker.is_empty());
    }
}
