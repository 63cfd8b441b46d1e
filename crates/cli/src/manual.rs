//! The manual pages and the shell completions, generated from the command line's own
//! definition ([`crate::args::Cli`]), so they say what `--help` says and cannot drift
//! from it.
//!
//! - Completions are printed by `lxpack completions SHELL` (clap_complete): users
//!   install them for their own shell, and the Debian package installs bash, zsh and
//!   fish ones.
//! - Manual pages (clap_mangen) are written by the hidden `lxpack manpages --dir DIR`:
//!   `lxpack.1` and one page per subcommand, nested ones included
//!   (`lxpack-deploy.1`, `lxpack-app-import.1`, `lxpack-images-purge.1`…).
//!   `scripts/package` runs the release binary it packages to write them, so the pages
//!   describe exactly that binary.

use std::path::{Path, PathBuf};

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::args::Cli;

/// The section of every page: user commands.
const SECTION: &str = "1";

/// A manual page that could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManualError {
    /// The output directory could not be created.
    #[error("cannot create the manual page directory {dir}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A page could not be rendered or written.
    #[error("cannot write the manual page {path}")]
    Write {
        /// The page's file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// One manual page.
#[derive(Debug, Clone)]
pub struct ManPage {
    /// The command it documents, as `man` is asked for it: `lxpack`, `lxpack-deploy`,
    /// `lxpack-images-purge`.
    pub name: String,
    /// Its file name: the name and the section, `lxpack-deploy.1`.
    pub file_name: String,
    /// The page, in roff.
    pub roff: Vec<u8>,
}

/// The command line as clap sees it once built: every subcommand knows its display
/// name (`lxpack-app-import`), and there is no `help` subcommand to document.
fn built_command() -> clap::Command {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    command
}

/// The pages of `lxpack` and of every visible subcommand, nested ones included, the
/// root's first.
///
/// # Errors
/// A page that cannot be rendered (clap_mangen writes into memory here, so in practice
/// never).
pub fn man_pages() -> Result<Vec<ManPage>, std::io::Error> {
    fn collect(command: clap::Command, pages: &mut Vec<ManPage>) -> Result<(), std::io::Error> {
        let subcommands: Vec<clap::Command> = command
            .get_subcommands()
            .filter(|sub| !sub.is_hide_set())
            .cloned()
            .collect();
        let man = clap_mangen::Man::new(command.clone())
            .section(SECTION)
            .manual("lxpack manual");
        let mut roff = Vec::new();
        man.render(&mut roff)?;
        pages.push(ManPage {
            name: command
                .get_display_name()
                .unwrap_or_else(|| command.get_name())
                .to_owned(),
            file_name: man.get_filename(),
            roff,
        });
        for sub in subcommands {
            collect(sub, pages)?;
        }
        Ok(())
    }
    let mut pages = Vec::new();
    collect(built_command(), &mut pages)?;
    Ok(pages)
}

/// Writes every page of [`man_pages`] into `dir` (created if missing), and returns the
/// files written.
///
/// # Errors
/// [`ManualError`] naming the directory or the page that could not be written.
pub fn write_man_pages(dir: &Path) -> Result<Vec<PathBuf>, ManualError> {
    std::fs::create_dir_all(dir).map_err(|source| ManualError::CreateDir {
        dir: dir.to_owned(),
        source,
    })?;
    let pages = man_pages().map_err(|source| ManualError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut written = Vec::with_capacity(pages.len());
    for page in pages {
        let path = dir.join(&page.file_name);
        std::fs::write(&path, &page.roff).map_err(|source| ManualError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}

/// Appends the completion script of `shell` for the `lxpack` command to `out`.
pub fn write_completions(shell: Shell, out: &mut Vec<u8>) {
    // clap_complete offers hidden subcommands too: complete a copy of the command
    // line without them (`manpages` is for packaging, not for users).
    let full = Cli::command();
    let mut command = clap::Command::new("lxpack")
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(true)
        .args(full.get_arguments().cloned())
        .subcommands(
            full.get_subcommands()
                .filter(|sub| !sub.is_hide_set())
                .cloned(),
        );
    clap_complete::generate(shell, &mut command, "lxpack", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every visible command path: `["deploy"]`, `["app", "import"]`…, with its about
    /// text.
    fn visible_paths(
        command: &clap::Command,
        prefix: &[String],
        out: &mut Vec<(Vec<String>, String)>,
    ) {
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
            out.push((path.clone(), about));
            visible_paths(sub, &path, out);
        }
    }

    fn all_paths() -> Vec<(Vec<String>, String)> {
        let mut paths = Vec::new();
        visible_paths(&built_command(), &[], &mut paths);
        paths
    }

    #[test]
    fn every_subcommand_gets_a_man_page_with_its_description() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|page| page.name.as_str()).collect();
        assert_eq!(names[0], "lxpack");
        let root = String::from_utf8(pages[0].roff.clone()).unwrap();
        assert!(root.contains("Run pipeline build steps"), "{root}");
        let paths = all_paths();
        assert!(paths.len() >= 15, "too few subcommands found: {paths:?}");
        for (path, about) in paths {
            let name = format!("lxpack-{}", path.join("-"));
            let page = pages
                .iter()
                .find(|page| page.name == name)
                .unwrap_or_else(|| panic!("no man page for {name}; pages: {names:?}"));
            assert_eq!(page.file_name, format!("{name}.1"));
            let roff = String::from_utf8(page.roff.clone()).unwrap();
            // roff escapes `-` and `'`; compare on the first words of the about text.
            let words: String = about
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                roff.contains(&words),
                "{name}.1 lacks its description {about:?}:\n{roff}"
            );
        }
    }

    #[test]
    fn hidden_and_help_subcommands_get_no_page() {
        let pages = man_pages().unwrap();
        for page in &pages {
            assert!(
                !page.name.ends_with("-manpages") && !page.name.ends_with("-help"),
                "unexpected page {}",
                page.name
            );
        }
    }

    #[test]
    fn man_pages_are_written_into_a_new_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("man1");
        let written = write_man_pages(&target).unwrap();
        assert_eq!(written.len(), man_pages().unwrap().len());
        assert!(target.join("lxpack-deploy.1").is_file());
        assert!(target.join("lxpack-images-purge.1").is_file());
    }

    #[test]
    fn completions_for_each_shell_name_every_subcommand() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut script = Vec::new();
            write_completions(shell, &mut script);
            let script = String::from_utf8(script).unwrap();
            assert!(
                script.len() > 500,
                "{shell} completions are too short:\n{script}"
            );
            for (path, _) in all_paths() {
                let name = path.last().unwrap();
                assert!(
                    script.contains(name.as_str()),
                    "{shell} completions do not mention {}",
                    path.join(" ")
                );
            }
            assert!(
                // fish spells options `-l checkout`, the others `--checkout`.
                script.contains("checkout") && script.contains("config"),
                "{shell} completions lack deploy's or the global options"
            );
            assert!(
                !script.contains("manpages"),
                "{shell} completions offer the hidden manpages subcommand"
            );
        }
    }

    #[test]
    fn a_man_page_directory_that_cannot_be_made_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let error = write_man_pages(&file.join("man1")).unwrap_err();
        assert!(error.to_string().contains("a-file/man1"), "{error}");
    }
}
