//! `lxpack doctor` on a cluster: the members with their state, and whether the
//! configured target exists.

use crate::clusters::clusters;

#[test]
fn doctor_shows_the_members_and_checks_the_target() {
    let Some((_turn, clusters)) = clusters() else {
        return;
    };
    for cluster in &clusters {
        let kind = cluster.kind;
        let env = cluster.env(2, Some("m3"));
        let run = env.run(&["doctor"]).expect(0);
        assert!(
            run.stdout.contains("m1 online, m2 online, m3 online"),
            "{kind}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains("m3 (lxpack.runtime.target)"),
            "{kind}: {}",
            run.stdout
        );

        cluster.point(&env, 2, Some("@odd"));
        let run = env.run(&["doctor"]).expect(0);
        assert!(
            run.stdout.contains("@odd (lxpack.runtime.target)"),
            "{kind}: {}",
            run.stdout
        );

        cluster.point(&env, 2, Some("m9"));
        let run = env.run(&["doctor"]);
        assert_ne!(run.code, 0, "{kind}: {}", run.stdout);
        assert!(
            run.stdout
                .contains("target m9 is not a member of the cluster (its members: m1, m2, m3)"),
            "{kind}: {}",
            run.stdout
        );

        cluster.point(&env, 2, Some("@nobody"));
        let run = env.run(&["doctor"]);
        assert_ne!(run.code, 0, "{kind}: {}", run.stdout);
        assert!(
            run.stdout
                .contains("target @nobody is not a cluster group with members"),
            "{kind}: {}",
            run.stdout
        );

        // A bad target is refused when the config is read, with the key named.
        cluster.point(&env, 2, Some("m2?x=1"));
        env.run(&["jobs"])
            .expect(3)
            .says(&["lxpack.runtime.target", "invalid cluster target"]);
    }
}
