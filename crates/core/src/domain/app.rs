//! The application model is Cloud Deploy's, because lxpack must read the documents that
//! Cloud Deploy already stores; the types here are the validated form of that document.

use std::fmt;

use super::text::text_enum;
use super::{ImageSelector, ModulePath};
use crate::domain::AmiId;

/// What identifies an app: Cloud Deploy keys apps by name, environment and role.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppKey {
    /// The app's name, e.g. `web`.
    pub name: String,
    /// The environment, e.g. `prod`.
    pub env: String,
    /// The role, e.g. `webfront`.
    pub role: String,
}

impl AppKey {
    /// The key of app `name` in environment `env` with role `role`.
    #[must_use]
    pub fn new(name: impl Into<String>, env: impl Into<String>, role: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            env: env.into(),
            role: role.into(),
        }
    }
}

impl fmt::Display for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.name, self.env, self.role)
    }
}

text_enum! {
    /// The colour of a blue/green app.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Color as "colour" {
        /// The blue half.
        Blue = "blue",
        /// The green half.
        Green = "green",
    }
}

/// One `env_vars` entry. A missing value is an empty string, as in Cloud Deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The variable name.
    pub key: String,
    /// The value.
    pub value: String,
}

text_enum! {
    /// The provisioner that applies a feature.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub enum Provisioner as "provisioner" {
        /// SaltStack, run masterless with `salt-call --local`.
        Salt = "salt",
        /// Ansible, run against localhost.
        Ansible = "ansible",
    }
}

/// A feature (a salt formula or an ansible role) to apply at buildimage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feature {
    /// The formula or role name.
    pub name: String,
    /// The version, passed to the provisioner; may be empty.
    pub version: String,
    /// Which provisioner applies it.
    pub provisioner: Provisioner,
}

impl Feature {
    /// Feature `name` at `version`, applied by `provisioner`.
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        provisioner: Provisioner,
    ) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            provisioner,
        }
    }
}

/// A shell script, decoded from the base64 that Cloud Deploy stores.
#[derive(Clone, PartialEq, Eq)]
pub struct Script(Vec<u8>);

impl Script {
    /// Wraps script bytes.
    #[must_use]
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// The script's bytes, exactly as stored: lxpack never edits a script.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// True when the script names its own interpreter with `#!`.
    #[must_use]
    pub fn has_shebang(&self) -> bool {
        self.0.starts_with(b"#!")
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Script({} bytes)", self.0.len())
    }
}

/// The buildimage lifecycle hooks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LifecycleHooks {
    /// Runs before the features.
    pub pre_buildimage: Option<Script>,
    /// Runs after the features.
    pub post_buildimage: Option<Script>,
}

/// A deployable module of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module name, unique within the app.
    pub name: String,
    /// Where the module is installed on the instance; the checkout is mounted there.
    pub path: ModulePath,
    /// The buildpack script, if the module has one.
    pub build_pack: Option<Script>,
    /// The module's git repository, for information.
    pub git_repo: Option<String>,
}

impl Module {
    /// Module `name`, installed at `path`, without a buildpack or repository.
    #[must_use]
    pub fn new(name: impl Into<String>, path: ModulePath) -> Self {
        Self {
            name: name.into(),
            path,
            build_pack: None,
            git_repo: None,
        }
    }

    /// The same module, with `script` as its buildpack.
    #[must_use]
    pub fn with_build_pack(mut self, script: Script) -> Self {
        self.build_pack = Some(script);
        self
    }
}

/// Build information: where images come from and which one is current.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildInfos {
    /// The AMI the app's images are built from.
    pub source_ami: Option<AmiId>,
    /// The name of the last AMI built (read-only, informational).
    pub ami_name: Option<String>,
    /// An explicit source container image; without one lxpack matches the AMI's OS.
    pub source_container_image: Option<ImageSelector>,
    /// The container image of the last successful buildimage: its job id, which is the
    /// image alias. Set only by lxpack.
    pub container_image: Option<super::JobId>,
}

/// An application, as Cloud Deploy describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Name, environment and role.
    pub key: AppKey,
    /// The AWS region of the app.
    pub region: String,
    /// The blue/green colour, if the app uses blue/green.
    pub color: Option<Color>,
    /// Environment variables given to hooks and buildpacks, in order.
    pub env_vars: Vec<EnvVar>,
    /// Features applied at buildimage, in order.
    pub features: Vec<Feature>,
    /// Buildimage hooks.
    pub lifecycle_hooks: LifecycleHooks,
    /// The modules, in order.
    pub modules: Vec<Module>,
    /// Image sources and the current image.
    pub build_infos: BuildInfos,
}

impl App {
    /// App `key` in AWS region `region`, with nothing else yet: no colour, variables,
    /// features, hooks or modules, and no image. The `with_*` methods add the rest.
    #[must_use]
    pub fn new(key: AppKey, region: impl Into<String>) -> Self {
        Self {
            key,
            region: region.into(),
            color: None,
            env_vars: Vec::new(),
            features: Vec::new(),
            lifecycle_hooks: LifecycleHooks::default(),
            modules: Vec::new(),
            build_infos: BuildInfos::default(),
        }
    }

    /// The same app, in the blue/green half `color`.
    #[must_use]
    pub fn with_color(mut self, color: Color) -> Self {
        self.color = Some(color);
        self
    }

    /// The same app, with one more environment variable.
    #[must_use]
    pub fn with_env_var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env_vars.push(EnvVar {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// The same app, with one more feature.
    #[must_use]
    pub fn with_feature(mut self, feature: Feature) -> Self {
        self.features.push(feature);
        self
    }

    /// The same app, with these buildimage hooks.
    #[must_use]
    pub fn with_hooks(mut self, hooks: LifecycleHooks) -> Self {
        self.lifecycle_hooks = hooks;
        self
    }

    /// The same app, with one more module.
    #[must_use]
    pub fn with_module(mut self, module: Module) -> Self {
        self.modules.push(module);
        self
    }

    /// The same app, with these build infos.
    #[must_use]
    pub fn with_build_infos(mut self, build_infos: BuildInfos) -> Self {
        self.build_infos = build_infos;
        self
    }

    /// The module called `name`.
    #[must_use]
    pub fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|module| module.name == name)
    }

    /// The environment that hooks and buildpacks see: `GHOST_APP`, `GHOST_ENV`,
    /// `GHOST_ENV_COLOR` (empty without a colour), `GHOST_ROLE`, then the app's
    /// `env_vars` in order (a later entry wins over an earlier one with the same key).
    #[must_use]
    pub fn hook_environment(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("GHOST_APP".into(), self.key.name.clone()),
            ("GHOST_ENV".into(), self.key.env.clone()),
            (
                "GHOST_ENV_COLOR".into(),
                self.color
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            ("GHOST_ROLE".into(), self.key.role.clone()),
        ];
        for var in &self.env_vars {
            match env.iter_mut().find(|(key, _)| *key == var.key) {
                Some(slot) => slot.1.clone_from(&var.value),
                None => env.push((var.key.clone(), var.value.clone())),
            }
        }
        env
    }

    /// The prefix Cloud Deploy gives this app's AMI names:
    /// `ami.{env}.{region}.{role}.{name}[.{color}]`.
    #[must_use]
    pub fn ami_name_prefix(&self) -> String {
        let mut prefix = format!(
            "ami.{}.{}.{}.{}",
            self.key.env, self.region, self.key.role, self.key.name
        );
        if let Some(color) = self.color {
            prefix.push('.');
            prefix.push_str(color.as_str());
        }
        prefix
    }

    /// True when an AMI called `ami_name` was built for this app: its name is the app's
    /// prefix followed by a `YYYYmmdd-HHMMSS` timestamp (optionally after a dot), and
    /// nothing else. So app `web` never claims app `web2`'s AMIs, nor a coloured
    /// variant's.
    #[must_use]
    pub fn owns_ami_name(&self, ami_name: &str) -> bool {
        let Some(rest) = ami_name.strip_prefix(&self.ami_name_prefix()) else {
            return false;
        };
        let stamp = rest.strip_prefix('.').unwrap_or(rest);
        is_ami_timestamp(stamp)
    }
}

/// `YYYYmmdd-HHMMSS`, digits only.
fn is_ami_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 15
        && bytes.iter().enumerate().all(|(index, byte)| {
            if index == 8 {
                *byte == b'-'
            } else {
                byte.is_ascii_digit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn app(name: &str, color: Option<Color>) -> App {
        let app = App::new(AppKey::new(name, "prod", "webfront"), "eu-west-1");
        match color {
            Some(color) => app.with_color(color),
            None => app,
        }
    }

    #[test]
    fn hook_environment_has_ghost_vars_then_app_vars() {
        let mut web = app("web", None);
        web.env_vars = vec![
            EnvVar {
                key: "A".into(),
                value: "1".into(),
            },
            EnvVar {
                key: "EMPTY".into(),
                value: String::new(),
            },
            EnvVar {
                key: "A".into(),
                value: "2".into(),
            },
        ];
        let env = web.hook_environment();
        let expected: Vec<(String, String)> = [
            ("GHOST_APP", "web"),
            ("GHOST_ENV", "prod"),
            ("GHOST_ENV_COLOR", ""),
            ("GHOST_ROLE", "webfront"),
            ("A", "2"),
            ("EMPTY", ""),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(env, expected);
        let blue = app("web", Some(Color::Blue)).hook_environment();
        assert_eq!(blue[2], ("GHOST_ENV_COLOR".into(), "blue".into()));
    }

    #[test]
    fn ami_ownership_has_no_prefix_traps() {
        let web = app("web", None);
        assert!(web.owns_ami_name("ami.prod.eu-west-1.webfront.web20240102-030405"));
        assert!(web.owns_ami_name("ami.prod.eu-west-1.webfront.web.20240102-030405"));
        assert!(!web.owns_ami_name("ami.prod.eu-west-1.webfront.web220240102-030405"));
        assert!(!web.owns_ami_name("ami.prod.eu-west-1.webfront.web2.20240102-030405"));
        assert!(!web.owns_ami_name("ami.prod.eu-west-1.webfront.web.blue20240102-030405"));
        assert!(!web.owns_ami_name("ami.prod.eu-west-1.webfront.web"));
        let blue = app("web", Some(Color::Blue));
        assert!(blue.owns_ami_name("ami.prod.eu-west-1.webfront.web.blue20240102-030405"));
        assert!(!blue.owns_ami_name("ami.prod.eu-west-1.webfront.web20240102-030405"));
    }
}
