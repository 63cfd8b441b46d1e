//! A remote daemon over HTTPS, as an operator whose users outgrew one build host sets
//! it up (`lxpack.runtime.url` with a client certificate and the pinned server
//! certificate): doctor, buildimage and deploy work on both daemons, and an untrusted
//! certificate is refused with the command that trusts it. scripts/daemons-up makes
//! each daemon listen on loopback and trust its test certificate.

use crate::harness::{Env, ImageJanitor, daemons, unique_env};

const STATE_DIR: &str = "/var/tmp/lxpack-daemons";

fn remote_config(name: &str, identity: &str) -> String {
    let (port, dir) = match name {
        "lxd" => (18443, "/var/lib/lxd"),
        _ => (18444, "/var/lib/incus"),
    };
    let state = std::env::var("LXPACK_STATE_DIR").unwrap_or_else(|_| STATE_DIR.into());
    format!(
        "container:\n  timeout: 30\nlxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    url: https://127.0.0.1:{port}\n    client_cert: {state}/{identity}.crt\n    client_key: {state}/{identity}.key\n    server_cert: {dir}/server.crt\n"
    )
}

#[test]
fn doctor_buildimage_and_deploy_over_https_on_each_daemon() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let env = Env::new(Some(&socket));
        env.write_config(&remote_config(name, "client"));
        let janitor = ImageJanitor::new(client);
        let doctor = env.run(&["doctor"]).expect(0);
        assert!(
            doctor.stdout.contains("ok    daemon running")
                && doctor.stdout.contains("https://127.0.0.1:"),
            "{name}: {}",
            doctor.stdout
        );

        env.import_example_as(&unique_env());
        env.build_image("hello", client, &janitor);
        env.deploy_example_site(name);
    }
}

#[test]
fn an_untrusted_certificate_is_refused_with_the_command_to_trust_it() {
    let Some(daemons) = daemons() else { return };
    for (name, _, socket) in daemons {
        let env = Env::new(Some(&socket));
        env.write_config(&remote_config(name, "untrusted"));
        env.run(&["images"])
            .expect(5)
            .says(&["does not trust this client certificate", "config trust add"]);
        let doctor = env.run(&["doctor"]).expect(12);
        assert!(
            doctor.stdout.contains("FAIL  daemon running")
                && doctor.stdout.contains("does not trust")
                && doctor
                    .stdout
                    .contains("fix: on the daemon's host, trust the client certificate"),
            "{name}: {}",
            doctor.stdout
        );
    }
}
