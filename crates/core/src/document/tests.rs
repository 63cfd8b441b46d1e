use base64::Engine as _;
use proptest::prelude::*;

use super::*;
use crate::domain::{Color, ImageSelector, Provisioner};

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn sample_json() -> String {
    format!(
        r#"{{
        "_id": "5f1e3c2a9b8d7e6f5a4b3c2d", "name": "web", "env": "prod", "role": "webfront",
        "region": "eu-west-1", "blue_green": {{"color": "blue", "enable_blue_green": true}},
        "env_vars": [{{"var_key": "A", "var_value": "1"}}, {{"var_key": "B"}}],
        "features": [{{"name": "nginx", "version": "1.2", "provisioner": "salt"}},
                     {{"name": "php", "version": 7.4, "provisioner": "ansible"}}, {{"name": "git"}}],
        "lifecycle_hooks": {{"pre_buildimage": "{pre}", "post_buildimage": ""}},
        "modules": [{{"name": "api", "path": "/var/www/api/", "build_pack": "{bp}", "git_repo": "git@x:api.git", "scope": "code"}},
                    {{"name": "static", "path": "/var/www/static", "build_pack": null}}],
        "build_infos": {{"source_ami": "ami-0123abcd", "source_container_image": "", "container_image": "5f1e3c2a9b8d7e6f5a4b3c2d", "ssh_username": "admin"}},
        "autoscale": {{"name": "asg"}}
    }}"#,
        pre = b64("echo pre\n"),
        bp = b64("#!/bin/sh\nmake\n"),
    )
}

#[test]
fn reads_a_cloud_deploy_document() {
    let apps = parse_app_documents(&sample_json(), DocumentFormat::Json).unwrap();
    let app = &apps[0];
    assert_eq!(app.key.to_string(), "web/prod/webfront");
    assert_eq!(app.color, Some(Color::Blue));
    assert_eq!(app.env_vars[1].value, "");
    assert_eq!(app.features[1].version, "7.4");
    assert_eq!(app.features[1].provisioner, Provisioner::Ansible);
    assert_eq!(app.features[2].provisioner, Provisioner::Salt);
    assert_eq!(
        app.lifecycle_hooks
            .pre_buildimage
            .as_ref()
            .unwrap()
            .as_bytes(),
        b"echo pre\n"
    );
    assert!(app.lifecycle_hooks.post_buildimage.is_none());
    assert_eq!(app.modules[0].path.as_str(), "/var/www/api");
    assert!(app.modules[0].build_pack.as_ref().unwrap().has_shebang());
    assert!(app.modules[1].build_pack.is_none());
    assert!(app.build_infos.source_container_image.is_none());
    assert_eq!(
        app.build_infos.container_image.as_ref().unwrap().as_str(),
        "5f1e3c2a9b8d7e6f5a4b3c2d"
    );
}

#[test]
fn yaml_lists_are_read_too() {
    let yaml = format!(
        "- name: web\n  env: prod\n  role: front\n  region: eu-west-1\n  build_infos:\n    source_container_image: fingerprint:abcdef012345\n  modules:\n    - name: api\n      path: /srv/api\n      build_pack: {}\n- name: web2\n  env: prod\n  role: front\n  region: eu-west-1\n",
        b64("make")
    );
    let apps = parse_app_documents(&yaml, DocumentFormat::detect(&yaml)).unwrap();
    assert_eq!(apps.len(), 2);
    assert_eq!(
        apps[0].build_infos.source_container_image,
        Some(ImageSelector::Fingerprint("abcdef012345".into()))
    );
}

/// Found by the app_document fuzz target: a script of only whitespace decoded to an
/// empty script, which exported as "" and read back as no script.
#[test]
fn a_script_of_only_whitespace_is_no_script_and_exports_the_same() {
    let text = r#"{"name": "web", "env": "prod", "role": "front", "region": "r",
        "lifecycle_hooks": {"post_buildimage": " \n "},
        "modules": [{"name": "api", "path": "/srv/api", "build_pack": "\t"}]}"#;
    let apps = parse_app_documents(text, DocumentFormat::Json).unwrap();
    assert!(apps[0].lifecycle_hooks.post_buildimage.is_none());
    assert!(apps[0].modules[0].build_pack.is_none());
    let exported = app_to_document(&apps[0]).to_string();
    assert_eq!(
        parse_app_documents(&exported, DocumentFormat::Json).unwrap(),
        apps
    );
}

fn field_error(text: &str) -> (String, String) {
    match parse_app_documents(text, DocumentFormat::detect(text)).unwrap_err() {
        DocumentError::Field { field, problem } => (field, problem),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn errors_name_the_field() {
    let base = r#""name":"web","env":"prod","role":"front","region":"r""#;
    let cases = [
        (
            r#"{"env":"prod","role":"front","region":"r"}"#.to_owned(),
            "name",
            "required",
        ),
        (
            format!(r#"{{{base},"blue_green":{{"color":"red"}}}}"#),
            "blue_green.color",
            "blue or green",
        ),
        (
            format!(r#"{{{base},"modules":[{{"name":"a","path":"rel"}}]}}"#),
            "modules[0].path",
            "absolute",
        ),
        (
            format!(r#"{{{base},"modules":[{{"name":"a","path":"/a","build_pack":"%%%"}}]}}"#),
            "modules[0].build_pack",
            "base64",
        ),
        (
            format!(
                r#"{{{base},"modules":[{{"name":"a","path":"/a"}},{{"name":"a","path":"/b"}}]}}"#
            ),
            "modules[1].name",
            "twice",
        ),
        (
            format!(r#"{{{base},"features":[{{"name":"x","provisioner":"chef"}}]}}"#),
            "features[0].provisioner",
            "salt or ansible",
        ),
        (
            format!(r#"{{{base},"env_vars":[{{"var_key":"A=B"}}]}}"#),
            "env_vars[0].var_key",
            "=",
        ),
        (
            format!(r#"{{{base},"env_vars":{{}}}}"#),
            "env_vars",
            "expected a list",
        ),
        (
            format!(r#"{{{base},"build_infos":{{"source_ami":"ami-xyz"}}}}"#),
            "build_infos.source_ami",
            "ami-",
        ),
        (
            format!(r#"{{{base},"build_infos":{{"container_image":"latest"}}}}"#),
            "build_infos.container_image",
            "buildimage",
        ),
        (format!(r#"[{{{base}}}, 3]"#), "[1]", "expected an object"),
        (
            r#"{"name":5,"env":"prod","role":"front","region":"r"}"#.to_owned(),
            "name",
            "found a number",
        ),
    ];
    for (text, field, needle) in cases {
        let (got_field, problem) = field_error(&text);
        assert_eq!(got_field, field, "{text}");
        assert!(problem.contains(needle), "{problem:?} lacks {needle:?}");
    }
}

#[test]
fn syntax_errors_have_a_position() {
    let err = parse_app_documents("{\n \"name\": }", DocumentFormat::Json).unwrap_err();
    assert!(
        matches!(err, DocumentError::Syntax { line: 2, .. }),
        "{err:?}"
    );
    let err = parse_app_documents("name: [unclosed\nenv: x", DocumentFormat::Yaml).unwrap_err();
    assert!(
        matches!(
            err,
            DocumentError::Syntax {
                format: DocumentFormat::Yaml,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        parse_app_documents("[]", DocumentFormat::Json).unwrap_err(),
        DocumentError::Empty
    );
}

proptest! {
    #[test]
    fn export_then_import_is_identity(
        name in "[a-z][a-z0-9-]{0,20}",
        env in "[a-z]{1,8}",
        color in prop_oneof![Just(None), Just(Some("blue")), Just(Some("green"))],
        vars in proptest::collection::vec(("[A-Z_][A-Z0-9_]{0,10}", "\\PC{0,20}"), 0..4),
        script in proptest::collection::vec(any::<u8>(), 1..64),
        path in "(/[a-z0-9_.-]{0,8}[a-z0-9_]){1,4}",
    ) {
        let mut doc = serde_json::json!({
            "name": name, "env": env, "role": "r", "region": "eu-west-1",
            "env_vars": vars.iter().map(|(k, v)| serde_json::json!({"var_key": k, "var_value": v})).collect::<Vec<_>>(),
            "modules": [{"name": "m", "path": path, "build_pack": base64::engine::general_purpose::STANDARD.encode(&script)}],
        });
        if let Some(color) = color {
            doc["blue_green"] = serde_json::json!({"color": color});
        }
        let first = parse_app_documents(&doc.to_string(), DocumentFormat::Json);
        // Some generated paths are legitimately invalid (e.g. "/.."); those must be errors.
        if let Ok(apps) = first {
            let exported = app_to_document(&apps[0]).to_string();
            let again = parse_app_documents(&exported, DocumentFormat::Json).unwrap();
            prop_assert_eq!(&again, &apps);
            let yaml = serde_yaml_ng::to_string(&app_to_document(&apps[0])).unwrap();
            prop_assert_eq!(parse_app_documents(&yaml, DocumentFormat::Yaml).unwrap(), apps);
        }
    }

    #[test]
    fn never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = parse_app_documents(&text, DocumentFormat::Json);
        let _ = parse_app_documents(&text, DocumentFormat::Yaml);
    }
}

fn minimal(extra: &str) -> String {
    format!(r#"{{"name": "web", "env": "prod", "role": "front", "region": "eu-west-1"{extra}}}"#)
}

#[test]
fn values_the_daemon_would_refuse_are_refused_at_import_naming_the_field() {
    let root = minimal(r#", "modules": [{"name": "api", "path": "/"}]"#);
    let error = parse_app_documents(&root, DocumentFormat::Json)
        .unwrap_err()
        .to_string();
    assert!(error.contains("modules[0].path"), "{error}");
    assert!(error.contains("container's root"), "{error}");

    let nul = minimal(r#", "env_vars": [{"var_key": "TOKEN", "var_value": "a\u0000b"}]"#);
    let error = parse_app_documents(&nul, DocumentFormat::Json)
        .unwrap_err()
        .to_string();
    assert!(error.contains("env_vars[0].var_value"), "{error}");
    assert!(error.contains("TOKEN") && error.contains("NUL"), "{error}");
    assert!(
        !error.contains("a\u{0}b"),
        "the value itself is not echoed: {error}"
    );
}

#[test]
fn a_source_image_is_exported_as_it_was_imported() {
    let text = minimal(r#", "build_infos": {"source_container_image": "debian-stretch"}"#);
    let app = parse_app_documents(&text, DocumentFormat::Json)
        .unwrap()
        .pop()
        .unwrap();
    let document = app_to_document(&app);
    assert_eq!(
        document["build_infos"]["source_container_image"],
        "debian-stretch"
    );
    assert_eq!(
        app.build_infos.source_container_image,
        Some(ImageSelector::parse("debian-stretch").unwrap())
    );
}
