//! Paths inside a container end up in profile devices and exec `cwd`; a relative or
//! `..` path there would mount or run somewhere nobody meant, so they are checked.

use std::fmt;

use super::ValidationError;

/// An absolute, normalised path inside a container: it starts with `/`, has no `.`,
/// `..` or empty components, no trailing slash (except `/` itself) and no control
/// character ([`super::path_text_problem`]: no NUL, newline, tab…).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GuestPath(String);

/// The install path of a module on the instance, where its checkout is mounted.
pub type ModulePath = GuestPath;

impl GuestPath {
    /// Parses a path, accepting and removing one trailing slash.
    ///
    /// # Errors
    /// [`ValidationError::GuestPath`] when the path is relative, contains `.`/`..`,
    /// empty components or control characters (NUL, newline, tab…), or is longer
    /// than 4096 bytes.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let fail = |reason| {
            Err(ValidationError::GuestPath {
                input: text.to_owned(),
                reason,
            })
        };
        if !text.starts_with('/') {
            return fail("it must be absolute (start with /)");
        }
        if text.len() > 4096 {
            return fail("it is longer than 4096 bytes");
        }
        if let Some(reason) = super::path_text_problem(text) {
            return fail(reason);
        }
        let trimmed = if text.len() > 1 {
            text.strip_suffix('/').unwrap_or(text)
        } else {
            text
        };
        if trimmed != "/" {
            for component in trimmed[1..].split('/') {
                match component {
                    "" => return fail("it has an empty component (//)"),
                    "." | ".." => return fail("it must not contain . or .. components"),
                    _ => {}
                }
            }
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A path lxpack itself spells (a constant or one built from constants): checked
    /// in debug builds and by the tests that use it.
    pub(crate) fn trusted(text: &str) -> Self {
        debug_assert!(
            Self::parse(text).is_ok(),
            "{text:?} is not a valid guest path"
        );
        Self(text.to_owned())
    }

    /// The path as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `self/name`, for a file name without `/`.
    ///
    /// # Errors
    /// [`ValidationError::GuestPath`] when `name` is empty, `.`, `..` or has a `/`.
    pub fn join(&self, name: &str) -> Result<Self, ValidationError> {
        if name.contains('/') {
            return Err(ValidationError::GuestPath {
                input: name.to_owned(),
                reason: "a file name must not contain /",
            });
        }
        let joined = if self.0 == "/" {
            format!("/{name}")
        } else {
            format!("{}/{name}", self.0)
        };
        Self::parse(&joined)
    }
}

impl fmt::Display for GuestPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_absolute_normal_paths() {
        assert_eq!(GuestPath::parse("/var/www/").unwrap().as_str(), "/var/www");
        assert_eq!(GuestPath::parse("/").unwrap().as_str(), "/");
        assert_eq!(
            GuestPath::parse("/srv")
                .unwrap()
                .join("app")
                .unwrap()
                .as_str(),
            "/srv/app"
        );
    }

    #[test]
    fn rejects_relative_dotted_and_empty_components() {
        for bad in [
            "var/www",
            "/var/../etc",
            "/var/./www",
            "/var//www",
            "",
            "/a\0b",
            "/var/cache/a\nb",
            "/a\tb",
        ] {
            assert!(GuestPath::parse(bad).is_err(), "{bad:?}");
        }
        assert!(GuestPath::parse("/srv").unwrap().join("a/b").is_err());
    }
}
