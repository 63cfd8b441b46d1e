//! Operators name apps by name alone when that is unambiguous, and by
//! `name/env/role` otherwise; resolving that is a rule about apps, so it lives here.

use std::fmt;

use super::AppKey;

/// How a user names an app: `name` or `name/env/role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppRef {
    /// Just the name: fine while one app has it.
    Name(String),
    /// The full key.
    Key(AppKey),
}

/// An app reference that does not name exactly one app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppRefError {
    /// Not `name` or `name/env/role`.
    #[error("{input:?} is not an app: expected NAME or NAME/ENV/ROLE")]
    Malformed {
        /// The text.
        input: String,
    },
    /// No app matches.
    #[error("no app {reference} (known apps: {known})")]
    NotFound {
        /// The reference.
        reference: String,
        /// The known apps, comma-separated, or `none`.
        known: String,
    },
    /// Several apps share the name.
    #[error("{name} names several apps ({candidates}): say which, as NAME/ENV/ROLE")]
    Ambiguous {
        /// The name.
        name: String,
        /// The matching keys, comma-separated.
        candidates: String,
    },
}

impl AppRef {
    /// Parses `name` or `name/env/role`.
    ///
    /// # Errors
    /// [`AppRefError::Malformed`] for empty parts or another number of parts.
    pub fn parse(text: &str) -> Result<Self, AppRefError> {
        let parts: Vec<&str> = text.split('/').collect();
        let malformed = || AppRefError::Malformed {
            input: text.to_owned(),
        };
        if parts.iter().any(|p| p.is_empty()) {
            return Err(malformed());
        }
        match parts.as_slice() {
            [name] => Ok(Self::Name((*name).to_owned())),
            [name, env, role] => Ok(Self::Key(AppKey {
                name: (*name).to_owned(),
                env: (*env).to_owned(),
                role: (*role).to_owned(),
            })),
            _ => Err(malformed()),
        }
    }

    /// The one key among `known` that this reference names.
    ///
    /// # Errors
    /// `NotFound` or `Ambiguous`.
    pub fn resolve<'a>(
        &self,
        known: impl IntoIterator<Item = &'a AppKey>,
    ) -> Result<AppKey, AppRefError> {
        let known: Vec<&AppKey> = known.into_iter().collect();
        let matches: Vec<&AppKey> = known
            .iter()
            .copied()
            .filter(|key| match self {
                Self::Name(name) => &key.name == name,
                Self::Key(wanted) => *key == wanted,
            })
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(AppRefError::NotFound {
                reference: self.to_string(),
                known: if known.is_empty() {
                    "none; import one with `lxpack app import FILE`".to_owned()
                } else {
                    join(&known)
                },
            }),
            many => Err(AppRefError::Ambiguous {
                name: self.to_string(),
                candidates: join(many),
            }),
        }
    }
}

fn join(keys: &[&AppKey]) -> String {
    keys.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for AppRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Key(key) => write!(f, "{key}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str, env: &str) -> AppKey {
        AppKey {
            name: name.into(),
            env: env.into(),
            role: "front".into(),
        }
    }

    #[test]
    fn resolves_names_and_keys() {
        let apps = [key("web", "prod"), key("web", "dev"), key("api", "prod")];
        assert_eq!(
            AppRef::parse("api").unwrap().resolve(&apps).unwrap(),
            apps[2]
        );
        assert_eq!(
            AppRef::parse("web/dev/front")
                .unwrap()
                .resolve(&apps)
                .unwrap(),
            apps[1]
        );
        let err = AppRef::parse("web")
            .unwrap()
            .resolve(&apps)
            .unwrap_err()
            .to_string();
        assert!(err.contains("web/prod/front, web/dev/front"), "{err}");
        let err = AppRef::parse("nope")
            .unwrap()
            .resolve(&apps)
            .unwrap_err()
            .to_string();
        assert!(err.contains("known apps: web/prod/front"), "{err}");
        let err = AppRef::parse("x")
            .unwrap()
            .resolve(&[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("lxpack app import"), "{err}");
        for bad in ["", "a/b", "a//c", "a/b/c/d"] {
            assert!(AppRef::parse(bad).is_err(), "{bad}");
        }
    }
}
