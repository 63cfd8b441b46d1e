//! The one rule every path lxpack takes obeys, whether it names a file on the host (in
//! the config) or a place inside a container: no control character. A newline or a
//! tab in a path is never meant, and splits log lines, device entries and commands;
//! a NUL cannot reach the kernel at all.

use std::path::Path;

use super::ValidationError;

/// Why `text` cannot be a path, if it holds a control character (NUL, newline, tab,
/// escape, or any other of Unicode's control characters).
#[must_use]
pub fn path_text_problem(text: &str) -> Option<&'static str> {
    text.chars().any(char::is_control).then_some(
        "it contains a control character (a newline, tab, NUL or another): write the path without it",
    )
}

/// Checks a path on the host, as the config names it.
///
/// # Errors
/// [`ValidationError::HostPath`] when it holds a control character
/// ([`path_text_problem`]).
pub fn check_host_path(path: &Path) -> Result<(), ValidationError> {
    let text = path.to_string_lossy();
    match path_text_problem(&text) {
        Some(reason) => Err(ValidationError::HostPath {
            input: text.into_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn newlines_tabs_nuls_and_escapes_are_refused() {
        for bad in [
            "/var/cache/a\nb",
            "/a\tb",
            "/a\0b",
            "/a\u{1b}[31m",
            "/a\rb",
            "/a\u{85}b",
        ] {
            assert!(path_text_problem(bad).is_some(), "{bad:?}");
            let error = check_host_path(Path::new(bad)).unwrap_err().to_string();
            assert!(error.contains("control character"), "{error}");
        }
        for good in ["/var/lib/lxpack", "/srv/ünïcode dir/x", "relative"] {
            assert!(path_text_problem(good).is_none(), "{good:?}");
            assert!(check_host_path(Path::new(good)).is_ok());
        }
    }

    proptest! {
        #[test]
        fn a_path_is_refused_exactly_when_it_holds_a_control_character(text in "\\PC{0,20}[\\x00-\\x1f\\x7f]?\\PC{0,20}") {
            prop_assert_eq!(
                path_text_problem(&text).is_some(),
                text.chars().any(char::is_control)
            );
        }
    }
}
