//! The apps and jobs tests start from, in one place for every crate's tests: a test
//! that needs "an app" should not have to know every field of one, and a field added
//! to [`App`] should change one file, not five crates.

use lxpack_core::domain::{
    AmiId, App, AppKey, BuildInfos, Feature, GuestPath, JobId, LifecycleHooks, Module, Provisioner,
    Script,
};

/// The AWS region of the fixture apps.
pub const REGION: &str = "eu-west-1";

/// The buildpack of [`web_app`]'s `api` module.
pub const BUILDPACK: &[u8] = b"#!/bin/sh\nset -e\nmake all\n";

/// App `name`'s key in environment `prod` with role `webfront`.
#[must_use]
pub fn app_key(name: &str) -> AppKey {
    AppKey::new(name, "prod", "webfront")
}

/// App `name` (see [`app_key`]) in [`REGION`], with nothing else.
#[must_use]
pub fn bare_app(name: &str) -> App {
    App::new(app_key(name), REGION)
}

/// The full app `web`: two variables (one empty), a salt feature, both buildimage
/// hooks, a module `api` with a buildpack at `/var/www/api`, a module `static`
/// without one, and `source_ami` set to `ami_id(1)`.
#[must_use]
pub fn web_app() -> App {
    bare_app("web")
        .with_env_var("DB", "postgres")
        .with_env_var("EMPTY", "")
        .with_feature(Feature::new("nginx", "1.24", Provisioner::Salt))
        .with_hooks(LifecycleHooks {
            pre_buildimage: Some(Script::new(b"echo pre\n".to_vec())),
            post_buildimage: Some(Script::new(b"echo post\n".to_vec())),
        })
        .with_module(
            Module::new("api", guest_path("/var/www/api"))
                .with_build_pack(Script::new(BUILDPACK.to_vec())),
        )
        .with_module(Module::new("static", guest_path("/var/www/static")))
        .with_build_infos(BuildInfos {
            source_ami: Some(ami_id(1)),
            ..BuildInfos::default()
        })
}

/// A job id that started at Unix time `seconds` (fixed entropy, so the same
/// `seconds` give the same id).
#[must_use]
pub fn job(seconds: u32) -> JobId {
    JobId::generate(seconds, [7; 8])
}

/// The AMI id `ami-` followed by `n` in 8 hex digits.
///
/// # Panics
/// Never: 8 hex digits always make a valid id.
#[must_use]
#[allow(clippy::expect_used)]
pub fn ami_id(n: u32) -> AmiId {
    AmiId::parse(&format!("ami-{n:08x}")).expect("8 hex digits make a valid AMI id")
}

#[allow(clippy::expect_used)]
fn guest_path(text: &str) -> GuestPath {
    GuestPath::parse(text).expect("the fixtures' paths are absolute and normal")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_app_has_what_its_doc_says() {
        let web = web_app();
        assert_eq!(web.key, app_key("web"));
        assert_eq!(web.env_vars.len(), 2);
        assert_eq!(web.modules.len(), 2);
        assert!(web.module("api").is_some_and(|m| m.build_pack.is_some()));
        assert!(web.module("static").is_some_and(|m| m.build_pack.is_none()));
        assert_eq!(web.build_infos.source_ami, Some(ami_id(1)));
        assert!(job(5).is_newer_than(&job(4)));
    }
}
