//! The commands that apply an app's features, built as Cloud Deploy built them:
//! salt masterless with its file and pillar roots and log level; ansible against
//! localhost with a verbosity from the same level. Cloud Deploy generated a top file
//! listing the features and ran a highstate; applying exactly those states with
//! `state.apply` is the same thing without writing into the (read-only) formulas.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::domain::{DiskMount, Feature, FileSpec, GuestPath, MountSource, Provisioner};
use crate::workflows::Workflows;
use crate::workflows::settings::{LogLevel, ProvisionerSettings};

/// Where the ansible playbook listing the features is written in the container.
pub(crate) const ANSIBLE_PLAYBOOK: &str = "/tmp/lxpack-ansible-playbook.yml";

/// Where a provisioner's formulas are mounted.
pub(crate) fn formulas_target(kind: Provisioner) -> &'static str {
    match kind {
        Provisioner::Salt => "/srv/salt",
        Provisioner::Ansible => "/srv/ansible",
    }
}

/// The read-only mount of a provisioner's formulas.
pub(crate) fn formulas_mount(settings: &ProvisionerSettings) -> DiskMount {
    DiskMount {
        device: format!("lxpack-{}", settings.kind),
        source: MountSource::Host(settings.formulas.clone()),
        target: GuestPath::trusted(formulas_target(settings.kind)),
        read_only: true,
        owner: None,
    }
}

/// The shell command that installs a provisioner when it is missing.
pub(crate) fn bootstrap_command(settings: &ProvisionerSettings) -> Vec<String> {
    let script = settings.bootstrap_command.clone().unwrap_or_else(|| {
        match settings.kind {
            Provisioner::Salt => "command -v salt-call >/dev/null 2>&1 || { wget -qO /tmp/bootstrap-salt.sh https://bootstrap.saltproject.io && sh /tmp/bootstrap-salt.sh; }",
            Provisioner::Ansible => "command -v ansible-playbook >/dev/null 2>&1 || pip3 install ansible",
        }
        .to_owned()
    });
    vec!["sh".into(), "-c".into(), script]
}

/// What applying one provisioner's features takes: maybe a file to deliver, then a
/// command with extra environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeatureRun {
    pub(crate) file: Option<FileSpec>,
    pub(crate) command: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

/// How to apply `features` (all of `kind`) at `level`.
pub(crate) fn feature_run(kind: Provisioner, features: &[&Feature], level: LogLevel) -> FeatureRun {
    match kind {
        Provisioner::Salt => salt_run(features, level),
        Provisioner::Ansible => ansible_run(features, level),
    }
}

fn salt_run(features: &[&Feature], level: LogLevel) -> FeatureRun {
    let states: Vec<&str> = features.iter().map(|f| f.name.as_str()).collect();
    let mut command = vec![
        "salt-call".to_owned(),
        "state.apply".to_owned(),
        states.join(","),
        "--file-root=/srv/salt/salt".to_owned(),
        "--pillar-root=/srv/salt/pillar".to_owned(),
        "--local".to_owned(),
        "-l".to_owned(),
        level.salt_name().to_owned(),
    ];
    let versions: BTreeMap<&str, Value> = features
        .iter()
        .filter(|f| !f.version.is_empty())
        .map(|f| (f.name.as_str(), json!({ "version": f.version })))
        .collect();
    if !versions.is_empty() {
        command.push(format!("pillar={}", json!(versions)));
    }
    FeatureRun {
        file: None,
        command,
        env: Vec::new(),
    }
}

fn ansible_run(features: &[&Feature], level: LogLevel) -> FeatureRun {
    let roles: Vec<Value> = features
        .iter()
        .map(|f| {
            if f.version.is_empty() {
                json!({ "role": f.name })
            } else {
                json!({ "role": f.name, "version": f.version })
            }
        })
        .collect();
    // JSON is YAML, so the playbook needs no YAML writer.
    let playbook = json!([{ "hosts": "localhost", "roles": roles }]).to_string();
    let mut command = vec![
        "ansible-playbook".to_owned(),
        "-i".to_owned(),
        "localhost,".to_owned(),
        "--connection=local".to_owned(),
        ANSIBLE_PLAYBOOK.to_owned(),
    ];
    command.extend(level.ansible_verbosity().map(str::to_owned));
    FeatureRun {
        file: Some(FileSpec {
            path: GuestPath::trusted(ANSIBLE_PLAYBOOK),
            contents: playbook.into_bytes(),
            mode: 0o600,
        }),
        command,
        env: vec![("ANSIBLE_ROLES_PATH".into(), "/srv/ansible/roles".into())],
    }
}

impl Workflows {
    /// The settings of the provisioner `kind`, if one is configured.
    pub(crate) fn provisioner(&self, kind: Provisioner) -> Option<&ProvisionerSettings> {
        self.settings.provisioners.iter().find(|p| p.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(name: &str, version: &str, provisioner: Provisioner) -> Feature {
        Feature {
            name: name.into(),
            version: version.into(),
            provisioner,
        }
    }

    #[test]
    fn salt_command_line() {
        let nginx = feature("nginx", "1.2", Provisioner::Salt);
        let git = feature("git", "", Provisioner::Salt);
        let run = feature_run(Provisioner::Salt, &[&nginx, &git], LogLevel::Debug);
        assert_eq!(
            run.command,
            [
                "salt-call",
                "state.apply",
                "nginx,git",
                "--file-root=/srv/salt/salt",
                "--pillar-root=/srv/salt/pillar",
                "--local",
                "-l",
                "debug",
                r#"pillar={"nginx":{"version":"1.2"}}"#
            ]
        );
        assert!(run.file.is_none());
    }

    #[test]
    fn ansible_command_line_and_playbook() {
        let php = feature("php", "7.4", Provisioner::Ansible);
        let run = feature_run(Provisioner::Ansible, &[&php], LogLevel::Info);
        assert_eq!(
            run.command,
            [
                "ansible-playbook",
                "-i",
                "localhost,",
                "--connection=local",
                ANSIBLE_PLAYBOOK,
                "-v"
            ]
        );
        let file = run.file.unwrap();
        let playbook: Value = serde_json::from_slice(&file.contents).unwrap();
        assert_eq!(
            playbook[0]["roles"][0],
            json!({"role": "php", "version": "7.4"})
        );
        let quiet = feature_run(Provisioner::Ansible, &[&php], LogLevel::Warning);
        assert_eq!(quiet.command.last().unwrap(), ANSIBLE_PLAYBOOK);
    }
}
