//! Cloud Deploy app documents into validated [`App`]s.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine as _;
use serde_json::Value;

use super::DocumentError;
use super::fields::{Fields, kind};
use crate::domain::{
    AmiId, App, AppKey, BuildInfos, Color, EnvVar, Feature, GuestPath, ImageSelector, JobId,
    LifecycleHooks, Module, Provisioner, Script,
};

/// The syntax of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    /// JSON, as Cloud Deploy's API returns apps.
    Json,
    /// YAML.
    Yaml,
}

impl DocumentFormat {
    /// The format a file extension names (`json`, `yaml`, `yml`).
    #[must_use]
    pub fn from_extension(extension: &str) -> Option<Self> {
        match extension.to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "yaml" | "yml" => Some(Self::Yaml),
            _ => None,
        }
    }

    /// JSON when the text starts with `{` or `[`, YAML otherwise.
    #[must_use]
    pub fn detect(text: &str) -> Self {
        match text.trim_start().chars().next() {
            Some('{' | '[') => Self::Json,
            _ => Self::Yaml,
        }
    }
}

impl fmt::Display for DocumentFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "JSON",
            Self::Yaml => "YAML",
        })
    }
}

/// Reads one app, or a list of apps, from a Cloud Deploy document.
///
/// Fields lxpack does not use (`_id`, `autoscale`, …) are ignored. Empty strings and
/// nulls mean "not set", as in Cloud Deploy. Scripts are base64 and are decoded here.
///
/// # Errors
/// [`DocumentError::Syntax`] with the line and column when the text does not parse;
/// [`DocumentError::Field`] naming the field (e.g. `[1].modules[0].build_pack`) when
/// a value is missing or wrong; [`DocumentError::Empty`] when there is no app.
pub fn parse_app_documents(text: &str, format: DocumentFormat) -> Result<Vec<App>, DocumentError> {
    let root: Value = match format {
        DocumentFormat::Json => {
            serde_json::from_str(text).map_err(|error| DocumentError::Syntax {
                format,
                line: error.line(),
                column: error.column(),
                message: error.to_string(),
            })?
        }
        DocumentFormat::Yaml => serde_yaml_ng::from_str(text).map_err(|error| {
            let location = error.location();
            DocumentError::Syntax {
                format,
                line: location.as_ref().map_or(0, serde_yaml_ng::Location::line),
                column: location.as_ref().map_or(0, serde_yaml_ng::Location::column),
                message: error.to_string(),
            }
        })?,
    };
    let apps = match &root {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| parse_app(&Fields::new(format!("[{index}]"), item)?))
            .collect::<Result<Vec<_>, _>>()?,
        Value::Null => Vec::new(),
        Value::Object(_) => vec![parse_app(&Fields::new(String::new(), &root)?)?],
        other => {
            return Err(DocumentError::Field {
                field: "(document root)".into(),
                problem: format!(
                    "expected an app object or a list of them, found {}",
                    kind(other)
                ),
            });
        }
    };
    if apps.is_empty() {
        return Err(DocumentError::Empty);
    }
    Ok(apps)
}

fn parse_app(doc: &Fields<'_>) -> Result<App, DocumentError> {
    let key = AppKey {
        name: doc.required_str("name")?.to_owned(),
        env: doc.required_str("env")?.to_owned(),
        role: doc.required_str("role")?.to_owned(),
    };
    let region = doc.required_str("region")?.to_owned();
    let color = match doc.optional_object("blue_green")? {
        Some(blue_green) => blue_green
            .optional_str("color")?
            .map(|text| Color::parse(text).map_err(|e| blue_green.error("color", e.to_string())))
            .transpose()?,
        None => None,
    };
    Ok(App {
        key,
        region,
        color,
        env_vars: parse_env_vars(doc)?,
        features: parse_features(doc)?,
        lifecycle_hooks: parse_hooks(doc)?,
        modules: parse_modules(doc)?,
        build_infos: parse_build_infos(doc)?,
    })
}

fn parse_env_vars(doc: &Fields<'_>) -> Result<Vec<EnvVar>, DocumentError> {
    doc.optional_list("env_vars")?
        .iter()
        .map(|var| {
            let key = var.required_str("var_key")?;
            if key.contains('=') || key.contains('\0') || key.chars().any(char::is_whitespace) {
                return Err(var.error(
                    "var_key",
                    format!(
                        "{key:?} is not a valid variable name: it must not contain =, NUL or spaces"
                    ),
                ));
            }
            let value = var.optional_scalar("var_value")?.unwrap_or_default();
            if value.contains('\0') {
                return Err(var.error(
                    "var_value",
                    format!(
                        "the value of {key} contains a NUL byte, which no process environment can hold: remove it"
                    ),
                ));
            }
            Ok(EnvVar {
                key: key.to_owned(),
                value,
            })
        })
        .collect()
}

fn parse_features(doc: &Fields<'_>) -> Result<Vec<Feature>, DocumentError> {
    doc.optional_list("features")?
        .iter()
        .map(|feature| {
            let provisioner = match feature.optional_str("provisioner")? {
                Some(text) => Provisioner::parse(text)
                    .map_err(|e| feature.error("provisioner", e.to_string()))?,
                None => Provisioner::Salt,
            };
            Ok(Feature {
                name: feature.required_str("name")?.to_owned(),
                version: feature.optional_scalar("version")?.unwrap_or_default(),
                provisioner,
            })
        })
        .collect()
}

fn parse_hooks(doc: &Fields<'_>) -> Result<LifecycleHooks, DocumentError> {
    let Some(hooks) = doc.optional_object("lifecycle_hooks")? else {
        return Ok(LifecycleHooks::default());
    };
    Ok(LifecycleHooks {
        pre_buildimage: script(&hooks, "pre_buildimage")?,
        post_buildimage: script(&hooks, "post_buildimage")?,
    })
}

fn parse_modules(doc: &Fields<'_>) -> Result<Vec<Module>, DocumentError> {
    let mut seen = BTreeSet::new();
    doc.optional_list("modules")?
        .iter()
        .map(|module| {
            let name = module.required_str("name")?;
            if !seen.insert(name.to_owned()) {
                return Err(module.error("name", format!("module {name:?} appears twice")));
            }
            let path = module.required_str("path")?;
            let path = GuestPath::parse(path).map_err(|e| module.error("path", e.to_string()))?;
            if path.as_str() == "/" {
                return Err(module.error(
                    "path",
                    "\"/\" is the container's root: the checkout is mounted at the module's path, so give the directory the module is installed in, like /srv/app".to_owned(),
                ));
            }
            Ok(Module {
                name: name.to_owned(),
                path,
                build_pack: script(module, "build_pack")?,
                git_repo: module.optional_str("git_repo")?.map(str::to_owned),
            })
        })
        .collect()
}

fn parse_build_infos(doc: &Fields<'_>) -> Result<BuildInfos, DocumentError> {
    let Some(infos) = doc.optional_object("build_infos")? else {
        return Ok(BuildInfos::default());
    };
    let source_ami = infos
        .optional_str("source_ami")?
        .map(|text| AmiId::parse(text).map_err(|e| infos.error("source_ami", e.to_string())))
        .transpose()?;
    let source_container_image = infos
        .optional_str("source_container_image")?
        .map(|text| {
            ImageSelector::parse(text)
                .map_err(|e| infos.error("source_container_image", e.to_string()))
        })
        .transpose()?;
    let container_image = infos
        .optional_str("container_image")?
        .map(|text| {
            JobId::parse(text).map_err(|e| {
                infos.error(
                    "container_image",
                    format!(
                        "{e}; it is set by buildimage to the job id: remove it or run buildimage"
                    ),
                )
            })
        })
        .transpose()?;
    Ok(BuildInfos {
        source_ami,
        ami_name: infos.optional_str("ami_name")?.map(str::to_owned),
        source_container_image,
        container_image,
    })
}

/// A base64 script; absent, null and empty (or only whitespace, which base64 skips)
/// all mean "no script".
fn script(fields: &Fields<'_>, key: &str) -> Result<Option<Script>, DocumentError> {
    let Some(encoded) = fields.optional_str(key)? else {
        return Ok(None);
    };
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Ok(None);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|error| {
            fields.error(
                key,
                format!("is not valid base64 ({error}); scripts are stored base64-encoded"),
            )
        })?;
    Ok(Some(Script::new(bytes)))
}
