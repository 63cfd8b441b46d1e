//! Cache volumes on replies shaped as LXD 5.0's and Incus 6.0's: the requests made,
//! the marks read back, and each refusal mapped to the port's error.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lxpack_core::domain::{AppKey, CacheKey, CacheMark, GuestPath, JobId, VolumeName};
use lxpack_core::ports::{CacheVolumes, RuntimeError, VolumeSpec};
use serde_json::json;

use crate::mock::MockTransport;
use crate::wire::cache_config;
use crate::{LxdClient, LxdOptions};

fn key() -> CacheKey {
    CacheKey {
        app: AppKey::new("web", "prod", "front"),
        module: "api".to_owned(),
        path: GuestPath::parse("/root/.ccache").unwrap(),
    }
}

fn job(seconds: u32) -> JobId {
    JobId::generate(seconds, [1; 8])
}

fn client(mock: &MockTransport) -> LxdClient {
    LxdClient::connect_with_mock(mock.clone(), LxdOptions::default())
}

/// `GET /1.0/profiles/default`, with its root disk on `pool`.
fn default_profile(mock: &MockTransport, pool: &str) {
    mock.reply_json(
        200,
        &json!({"type": "sync", "metadata": {"name": "default", "config": {}, "devices": {
            "root": {"type": "disk", "path": "/", "pool": pool}
        }}}),
    );
}

fn sync_ok(mock: &MockTransport) {
    mock.reply_json(200, &json!({"type": "sync", "metadata": {}}));
}

fn error(mock: &MockTransport, status: u16, message: &str) {
    mock.reply_json(
        status,
        &json!({"type": "error", "error": message, "error_code": status}),
    );
}

#[tokio::test]
async fn volumes_are_listed_from_the_root_disk_pool_with_their_marks_and_users() {
    let mock = MockTransport::new();
    default_profile(&mock, "fast");
    let mark = CacheMark::copy(&key(), &job(5)).promoted(Some(42));
    let config: serde_json::Map<String, serde_json::Value> = cache_config(&mark);
    mock.reply_json(
        200,
        &json!({"type": "sync", "metadata": [
            {"name": mark.volume().as_str(), "config": config, "used_by": [], "location": "none"},
            {"name": "lxpack-cache-copy", "config": {"user.lxpack.cache": "0123"}, "used_by": [
                "/1.0/instances/lxpack-d-web?project=default", "/1.0/profiles/lxpack-d-web"
            ], "location": "m2"},
        ]}),
    );
    let client = client(&mock);
    let volumes = client.list_volumes().await.unwrap();
    assert_eq!(
        mock.lines(),
        [
            "GET /1.0/profiles/default",
            "GET /1.0/storage-pools/fast/volumes/custom?recursion=1"
        ]
    );
    assert_eq!(volumes[0].mark, Some(mark));
    assert_eq!(volumes[0].member, None);
    assert!(volumes[0].used_by.is_empty());
    // A damaged mark is not lxpack's; its users are named by kind.
    assert_eq!(volumes[1].mark, None);
    assert_eq!(
        volumes[1].used_by,
        ["instance lxpack-d-web", "profile lxpack-d-web"]
    );
    assert_eq!(volumes[1].member.as_ref().map(|m| m.as_str()), Some("m2"));
    // The pool is read once per client.
    mock.reply_json(200, &json!({"type": "sync", "metadata": []}));
    client.list_volumes().await.unwrap();
    assert_eq!(mock.lines().len(), 3);
}

#[tokio::test]
async fn a_copy_is_one_operation_with_the_mark_and_the_quota() {
    let mock = MockTransport::new();
    default_profile(&mock, "default");
    // The source, whose storage keys the copy keeps.
    mock.reply_json(
        200,
        &json!({"type": "sync", "metadata": {"name": "lxpack-cache-older", "config": {
            "volatile.idmap.last": "[{\"Isuid\":true}]", "security.shifted": "true",
            "user.lxpack.cache_state": "current", "size": "5"
        }}}),
    );
    mock.reply_json(
        202,
        &json!({"type": "async", "operation": "/1.0/operations/op1", "metadata": {"status_code": 103}}),
    );
    mock.reply_json(
        200,
        &json!({"type": "sync", "metadata": {"status_code": 200}}),
    );
    let mark = CacheMark::copy(&key(), &job(6));
    let spec = VolumeSpec {
        name: mark.volume(),
        copy_of: Some(VolumeName::new("lxpack-cache-older")),
        mark: mark.clone(),
        quota: Some(1 << 30),
    };
    client(&mock).create_volume(&spec).await.unwrap();
    let requests = mock.requests();
    assert_eq!(
        requests[1].line(),
        "GET /1.0/storage-pools/default/volumes/custom/lxpack-cache-older"
    );
    assert_eq!(
        requests[2].line(),
        "POST /1.0/storage-pools/default/volumes/custom"
    );
    let body: serde_json::Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(body["config"]["volatile.idmap.last"], "[{\"Isuid\":true}]");
    assert_eq!(body["config"]["security.shifted"], "true");
    assert_eq!(body["name"], mark.volume().as_str());
    assert_eq!(body["source"]["type"], "copy");
    assert_eq!(body["source"]["name"], "lxpack-cache-older");
    assert_eq!(body["config"]["size"], "1073741824");
    assert_eq!(body["config"]["user.lxpack.cache_state"], "copy");
    assert_eq!(body["config"]["user.lxpack.job"], job(6).as_str());
    assert!(
        requests[3]
            .line()
            .starts_with("GET /1.0/operations/op1/wait")
    );
}

#[tokio::test]
async fn a_copy_of_a_volume_gone_meanwhile_is_not_found_naming_it() {
    let mock = MockTransport::new();
    default_profile(&mock, "default");
    mock.reply_json(
        200,
        &json!({"type": "sync", "metadata": {"name": "lxpack-cache-older"}}),
    );
    error(&mock, 404, "Storage volume not found");
    let mark = CacheMark::copy(&key(), &job(6));
    let spec = VolumeSpec {
        name: mark.volume(),
        copy_of: Some(VolumeName::new("lxpack-cache-older")),
        mark,
        quota: None,
    };
    match client(&mock).create_volume(&spec).await {
        Err(RuntimeError::NotFound { what, name }) => {
            assert_eq!((what, name.as_str()), ("volume", "lxpack-cache-older"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn usage_is_none_where_the_driver_cannot_tell() {
    let mock = MockTransport::new();
    default_profile(&mock, "default");
    // LXD's dir driver.
    error(&mock, 500, "Not supported");
    // Incus's dir driver.
    mock.reply_json(200, &json!({"type": "sync", "metadata": {"usage": null}}));
    // btrfs.
    mock.reply_json(
        200,
        &json!({"type": "sync", "metadata": {"usage": {"used": 4096, "total": -1}}}),
    );
    let client = client(&mock);
    let name = VolumeName::new("lxpack-cache-x");
    assert_eq!(client.volume_usage(&name).await.unwrap(), None);
    assert_eq!(client.volume_usage(&name).await.unwrap(), None);
    assert_eq!(client.volume_usage(&name).await.unwrap(), Some(4096));
    assert_eq!(
        mock.lines()[1],
        "GET /1.0/storage-pools/default/volumes/custom/lxpack-cache-x/state"
    );
}

#[tokio::test]
async fn a_volume_in_use_is_refused_and_a_missing_one_is_not_found() {
    let mock = MockTransport::new();
    default_profile(&mock, "default");
    error(&mock, 400, "The storage volume is still in use");
    error(&mock, 404, "Storage volume not found");
    sync_ok(&mock);
    let client = client(&mock);
    let name = VolumeName::new("lxpack-cache-x");
    assert!(matches!(
        client.delete_volume(&name).await,
        Err(RuntimeError::InUse { what: "volume", .. })
    ));
    assert!(matches!(
        client.delete_volume(&name).await,
        Err(RuntimeError::NotFound { what: "volume", .. })
    ));
    let mark = CacheMark::copy(&key(), &job(6)).promoted(Some(7));
    client.mark_volume(&name, &mark).await.unwrap();
    let requests = mock.requests();
    assert_eq!(
        requests[3].line(),
        "PATCH /1.0/storage-pools/default/volumes/custom/lxpack-cache-x"
    );
    let body: serde_json::Value = serde_json::from_slice(&requests[3].body).unwrap();
    assert_eq!(body["config"]["user.lxpack.cache_state"], "current");
    assert_eq!(body["config"]["user.lxpack.cache_size"], "7");
}

#[tokio::test]
async fn without_a_root_disk_the_pool_is_unsupported_with_the_fix() {
    let mock = MockTransport::new();
    mock.reply_json(
        200,
        &json!({"type": "sync", "metadata": {"name": "default", "config": {}, "devices": {}}}),
    );
    match client(&mock).list_volumes().await {
        Err(RuntimeError::Unsupported { what, hint }) => {
            assert!(what.contains("no root disk"), "{what}");
            assert!(hint.contains("lxc profile device add"), "{hint}");
        }
        other => panic!("{other:?}"),
    }
}
