//! Containers and profiles named like lxpack's that lxpack did not make.

use crate::daemon::{Leaks, fault_daemon};
use crate::harness::Env;
use crate::job::{gc, names};
use crate::on_both_daemons;

on_both_daemons!(gc_leaves_what_is_not_lxpacks);

/// A user's container `lxpack-userbox`, a running one with a label that is not a job
/// id, and a profile `lxpack-userprofile`, none with lxpack's labels: `lxpack gc`
/// lists them as not lxpack's and leaves every one in place.
fn gc_leaves_what_is_not_lxpacks(name: &'static str) {
    let Some(daemon) = fault_daemon(name) else {
        return;
    };
    let leaks = Leaks::watch(&daemon);
    daemon.cli_ok(&["init", "lxpack-test-busybox", "lxpack-userbox"]);
    daemon.cli_ok(&[
        "launch",
        "lxpack-test-busybox",
        "lxpack-fake-labels",
        "-c",
        "user.lxpack.job=not-a-job",
        "-c",
        "user.lxpack.command=deploy",
    ]);
    daemon.cli_ok(&["profile", "create", "lxpack-userprofile"]);

    let env = Env::new(None);
    env.write_config(&daemon.socket_config("default", 30));
    let dry = gc(&env, true);
    let swept = gc(&env, false);
    for result in [&dry, &swept] {
        let foreign = names(result, "foreign");
        for expected in [
            "instance lxpack-userbox",
            "instance lxpack-fake-labels",
            "profile lxpack-userprofile",
        ] {
            assert!(
                foreign.iter().any(|f| f == expected),
                "{name}: {expected} listed as not lxpack's: {result}"
            );
        }
        assert!(
            names(result, "removed").is_empty(),
            "{name}: gc removed what is not lxpack's: {result}"
        );
    }
    let text = env.run(&["gc"]).expect(0);
    assert!(
        text.stdout
            .contains("left instance lxpack-userbox alone: not lxpack's"),
        "{name}: {}",
        text.stdout
    );
    let now = daemon.snapshot();
    for expected in ["default/lxpack-userbox", "default/lxpack-fake-labels"] {
        assert!(now.instances.contains(expected), "{name}: {now:?}");
    }
    assert!(
        now.profiles.contains("default/lxpack-userprofile"),
        "{name}: {now:?}"
    );

    daemon.cli_ok(&["delete", "--force", "lxpack-userbox"]);
    daemon.cli_ok(&["delete", "--force", "lxpack-fake-labels"]);
    daemon.cli_ok(&["profile", "delete", "lxpack-userprofile"]);
    leaks.assert_none();
}
