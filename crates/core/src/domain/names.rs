//! Instance and profile names must be valid DNS labels, unique per job and module, and
//! derivable again after a crash: Cloud Deploy's AMI-derived names were none of these.

use std::fmt;

use sha2::{Digest, Sha256};

use super::text::text_enum;
use super::{AppKey, Color, JobId, ValidationError};

text_enum! {
    /// The two container steps of a deployment pipeline, as Cloud Deploy's jobs spell
    /// them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum JobCommand as "job command" {
        /// Build a container image twin of an AMI.
        BuildImage = "buildimage",
        /// Run a module's buildpack.
        Deploy = "deploy",
    }
}

impl JobCommand {
    /// The short token used in resource names.
    fn name_token(self) -> &'static str {
        match self {
            Self::BuildImage => "build",
            Self::Deploy => "deploy",
        }
    }
}

/// The name of an instance and of its profile (they share it): a DNS label of at
/// most 63 characters of `[a-zA-Z0-9-]`, not starting with a digit or `-` and not
/// ending with `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InstanceName(String);

/// Every name lxpack gives starts with this, so leftovers can be found.
pub const NAME_PREFIX: &str = "lxpack-";

const MAX_LEN: usize = 63;
const HASH_LEN: usize = 8;

impl InstanceName {
    /// Parses a name.
    ///
    /// # Errors
    /// [`ValidationError::InstanceName`] when the text is not a valid DNS label.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let reason = if text.is_empty() {
            Some("it is empty")
        } else if text.len() > MAX_LEN {
            Some("it is longer than 63 characters")
        } else if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            Some("only ASCII letters, digits and - are allowed")
        } else if text.starts_with('-') || text.starts_with(|c: char| c.is_ascii_digit()) {
            Some("it must not start with a digit or -")
        } else if text.ends_with('-') {
            Some("it must not end with -")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ValidationError::InstanceName {
                input: text.to_owned(),
                reason,
            }),
            None => Ok(Self(text.to_owned())),
        }
    }

    /// The name of the instance (and profile) of one job step:
    /// `lxpack-<build|deploy>-<readable>-<hash>-<job id>`.
    ///
    /// `<readable>` is the app name (and, for deploy, the module name) reduced to
    /// lower-case ASCII and cut to fit; `<hash>` is 8 hex digits of a SHA-256 over the
    /// whole identity (command, app key, colour, module, job), so two identities that
    /// read the same once reduced still get different names. The job id is kept whole,
    /// so the job of any leftover can be read back with [`InstanceName::job`].
    #[must_use]
    pub fn for_job(
        command: JobCommand,
        app: &AppKey,
        color: Option<Color>,
        module: Option<&str>,
        job: &JobId,
    ) -> Self {
        Self::compose(
            command.name_token(),
            command.as_str(),
            app,
            color,
            module,
            job,
        )
    }

    /// The name of a standby of `app`'s pool: `lxpack-standby-<readable>-<hash>-<id>`,
    /// built as [`InstanceName::for_job`] builds a job's, with a fresh `id` of the
    /// standby's own in place of a job id. A deploy that claims it keeps the name.
    #[must_use]
    pub fn for_standby(app: &AppKey, color: Option<Color>, id: &JobId) -> Self {
        Self::compose("standby", "standby", app, color, None, id)
    }

    fn compose(
        token: &str,
        kind: &str,
        app: &AppKey,
        color: Option<Color>,
        module: Option<&str>,
        job: &JobId,
    ) -> Self {
        let fixed = NAME_PREFIX.len() + token.len() + 1 + HASH_LEN + 1 + JobId::LEN + 1;
        let room = MAX_LEN - fixed;
        let mut source = app.name.clone();
        if let Some(module) = module {
            source.push('-');
            source.push_str(module);
        }
        let mut readable = slug(&source);
        readable.truncate(room);
        let readable = readable.trim_end_matches('-');
        let readable = if readable.is_empty() { "app" } else { readable };

        let mut hasher = Sha256::new();
        // Length-prefixed parts, and a presence byte for optional ones, so that the
        // encoding is injective.
        for part in [
            Some(kind),
            Some(app.name.as_str()),
            Some(app.env.as_str()),
            Some(app.role.as_str()),
            color.map(Color::as_str),
            module,
            Some(job.as_str()),
        ] {
            hasher.update([u8::from(part.is_some())]);
            let part = part.unwrap_or("");
            hasher.update(part.len().to_be_bytes());
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finalize();
        let hash: String = digest
            .iter()
            .take(HASH_LEN / 2)
            .map(|b| format!("{b:02x}"))
            .collect();
        Self(format!("{NAME_PREFIX}{token}-{readable}-{hash}-{job}"))
    }

    /// The job whose resource this is, when the name was made by
    /// [`InstanceName::for_job`].
    #[must_use]
    pub fn job(&self) -> Option<JobId> {
        if !self.0.starts_with(NAME_PREFIX) || self.0.len() < JobId::LEN + 1 {
            return None;
        }
        let (head, tail) = self.0.split_at(self.0.len() - JobId::LEN);
        if !head.ends_with('-') {
            return None;
        }
        JobId::parse(tail).ok()
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of a profile lxpack makes: its instance's name (the rules are the same).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProfileName(String);

impl ProfileName {
    /// Parses a name.
    ///
    /// # Errors
    /// [`ValidationError::InstanceName`] when the text is not a valid DNS label.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        InstanceName::parse(text).map(|name| Self(name.0))
    }

    /// The profile of `instance`: the same name.
    #[must_use]
    pub fn of(instance: &InstanceName) -> Self {
        Self(instance.0.clone())
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lower-case ASCII letters and digits, other runs collapsed to one `-`, no `-` at
/// either end.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(name: &str, env: &str, role: &str) -> AppKey {
        AppKey {
            name: name.into(),
            env: env.into(),
            role: role.into(),
        }
    }

    const JOB: &str = "5f1e3c2a9b8d7e6f5a4b3c2d";

    #[test]
    fn readable_and_deterministic() {
        let job = JobId::parse(JOB).unwrap();
        let name = InstanceName::for_job(
            JobCommand::Deploy,
            &key("Web", "prod", "front"),
            None,
            Some("api"),
            &job,
        );
        assert!(
            name.as_str().starts_with("lxpack-deploy-web-api-"),
            "{name}"
        );
        assert!(name.as_str().ends_with(JOB));
        assert_eq!(name.job(), Some(job.clone()));
        let again = InstanceName::for_job(
            JobCommand::Deploy,
            &key("Web", "prod", "front"),
            None,
            Some("api"),
            &job,
        );
        assert_eq!(name, again);
    }

    #[test]
    fn job_is_not_read_from_foreign_names() {
        assert_eq!(InstanceName::parse("web").unwrap().job(), None);
        assert_eq!(
            InstanceName::parse(&format!("other-{JOB}")).unwrap().job(),
            None
        );
    }

    fn identity() -> impl Strategy<Value = (bool, AppKey, Option<Color>, Option<String>, JobId)> {
        (
            any::<bool>(),
            ("\\PC{0,80}", "\\PC{0,20}", "\\PC{0,20}"),
            prop_oneof![
                Just(None),
                Just(Some(Color::Blue)),
                Just(Some(Color::Green))
            ],
            proptest::option::of("\\PC{0,70}"),
            (any::<u32>(), any::<[u8; 8]>()),
        )
            .prop_map(
                |(deploy, (name, env, role), color, module, (secs, entropy))| {
                    (
                        deploy,
                        key(&name, &env, &role),
                        color,
                        module,
                        JobId::generate(secs, entropy),
                    )
                },
            )
    }

    fn name_of(id: &(bool, AppKey, Option<Color>, Option<String>, JobId)) -> InstanceName {
        let command = if id.0 {
            JobCommand::Deploy
        } else {
            JobCommand::BuildImage
        };
        InstanceName::for_job(command, &id.1, id.2, id.3.as_deref(), &id.4)
    }

    proptest! {
        #[test]
        fn always_a_valid_dns_label(id in identity()) {
            let name = name_of(&id);
            prop_assert!(InstanceName::parse(name.as_str()).is_ok(), "{}", name);
            prop_assert!(name.as_str().len() <= 63);
            prop_assert_eq!(name.job(), Some(id.4.clone()));
        }

        #[test]
        fn distinct_identities_get_distinct_names(a in identity(), b in identity()) {
            prop_assume!(a != b);
            prop_assert_ne!(name_of(&a), name_of(&b));
        }

        #[test]
        fn same_job_other_module_or_colour_differs(id in identity(), module in "\\PC{0,70}") {
            let mut other = id.clone();
            other.3 = Some(module);
            prop_assume!(other != id);
            prop_assert_ne!(name_of(&id), name_of(&other));
        }

        #[test]
        fn standby_names_are_valid_and_never_a_jobs(id in identity()) {
            let standby = InstanceName::for_standby(&id.1, id.2, &id.4);
            prop_assert!(InstanceName::parse(standby.as_str()).is_ok(), "{}", standby);
            prop_assert!(standby.as_str().starts_with("lxpack-standby-"), "{}", standby);
            prop_assert_ne!(&standby, &name_of(&id));
        }

        #[test]
        fn parse_accepts_only_dns_labels(text in "\\PC{0,80}") {
            if let Ok(name) = InstanceName::parse(&text) {
                prop_assert!(name.as_str().len() <= 63 && !name.as_str().ends_with('-'));
                prop_assert!(name.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            }
        }
    }
}
