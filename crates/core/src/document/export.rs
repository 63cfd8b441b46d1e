//! [`App`]s back into Cloud Deploy's document shape, so `lxpack app export` output can
//! be imported again (by lxpack or by Cloud Deploy).

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::domain::{App, ImageSelector, Script};

/// The Cloud Deploy document of an app; [`super::parse_app_documents`] reads it back
/// to the same app.
#[must_use]
pub fn app_to_document(app: &App) -> Value {
    let mut doc = Map::new();
    doc.insert("name".into(), json!(app.key.name));
    doc.insert("env".into(), json!(app.key.env));
    doc.insert("role".into(), json!(app.key.role));
    doc.insert("region".into(), json!(app.region));
    if let Some(color) = app.color {
        doc.insert("blue_green".into(), json!({ "color": color.as_str() }));
    }
    doc.insert(
        "env_vars".into(),
        app.env_vars
            .iter()
            .map(|var| json!({ "var_key": var.key, "var_value": var.value }))
            .collect(),
    );
    doc.insert(
        "features".into(),
        app.features
            .iter()
            .map(|f| json!({ "name": f.name, "version": f.version, "provisioner": f.provisioner.as_str() }))
            .collect(),
    );
    doc.insert(
        "lifecycle_hooks".into(),
        json!({
            "pre_buildimage": encode(app.lifecycle_hooks.pre_buildimage.as_ref()),
            "post_buildimage": encode(app.lifecycle_hooks.post_buildimage.as_ref()),
        }),
    );
    doc.insert(
        "modules".into(),
        app.modules
            .iter()
            .map(|m| {
                json!({
                    "name": m.name,
                    "path": m.path.as_str(),
                    "build_pack": encode(m.build_pack.as_ref()),
                    "git_repo": m.git_repo,
                })
            })
            .collect(),
    );
    let infos = &app.build_infos;
    doc.insert(
        "build_infos".into(),
        json!({
            "source_ami": infos.source_ami.as_ref().map(|a| a.as_str()),
            "ami_name": infos.ami_name,
            "source_container_image": infos.source_container_image.as_ref().map(ImageSelector::spelling),
            "container_image": infos.container_image.as_ref().map(|j| j.as_str()),
        }),
    );
    Value::Object(doc)
}

fn encode(script: Option<&Script>) -> Value {
    script.map_or(Value::Null, |s| {
        json!(base64::engine::general_purpose::STANDARD.encode(s.as_bytes()))
    })
}
