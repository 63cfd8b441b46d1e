//! Placement: a target member or `@group`, the member in the job's events and record,
//! an image built on one member deployed on another, and a purge deleting an image
//! from every member that held it.

use crate::clusters::{build, clusters, job};

#[test]
fn buildimage_on_one_member_and_deploy_on_another() {
    let Some((_turn, clusters)) = clusters() else {
        return;
    };
    for cluster in &clusters {
        let kind = cluster.kind;
        // Built on m1, asked through m2.
        let env = cluster.env(2, Some("m1"));
        let (first, first_image) = build(&env, cluster);
        assert_eq!(job(&env, &first)["member"], "m1", "{kind}");
        assert!(
            cluster.has_image_file(1, &first_image),
            "{kind}: m1 lacks {first_image}"
        );

        // Deployed on m3 (which gets the image through the cluster), asked through m1.
        cluster.point(&env, 1, Some("m3"));
        let checkout = env.checkout();
        let run = env.run(&[
            "--json",
            "deploy",
            "hello",
            "--module",
            "site",
            "--checkout",
            checkout.to_str().unwrap(),
        ]);
        let run = run.expect(0);
        assert!(
            run.stdout
                .lines()
                .any(|line| line.contains(r#""event":"placed""#)
                    && line.contains(r#""member":"m3""#)),
            "{kind}: no placed event on m3:\n{}",
            run.stdout
        );
        assert!(
            checkout.join("dist/index.html").exists(),
            "{kind}: not built"
        );
        assert!(
            cluster.has_image_file(3, &first_image),
            "{kind}: m3 lacks {first_image}"
        );
        let table = env.run(&["jobs"]).expect(0);
        assert!(table.stdout.contains("MEMBER"), "{kind}: {}", table.stdout);

        // A second image, built on m2; then `images purge` deletes the first from the
        // cluster, and so from every member that held its file.
        cluster.point(&env, 3, Some("m2"));
        let (second, second_image) = build(&env, cluster);
        assert_eq!(job(&env, &second)["member"], "m2", "{kind}");
        env.run(&["images", "purge", "hello"]).expect(0);
        for member in 1..=3 {
            assert!(
                !cluster.has_image_file(member, &first_image),
                "{kind}: m{member} still holds {first_image} after the purge deleted it"
            );
        }
        let images = env.run(&["--json", "images", "hello"]).expect(0);
        assert!(
            !images.stdout.contains(&first_image),
            "{kind}: {}",
            images.stdout
        );
        assert!(
            images.stdout.contains(&second_image),
            "{kind}: {}",
            images.stdout
        );
        cluster.cli(1, &["image", "delete", &second_image]);
        assert!(
            cluster.instances("lxpack-").is_empty(),
            "{kind}: {:?}",
            cluster.instances("lxpack-")
        );
    }
}

#[test]
fn a_group_target_places_on_one_of_its_members() {
    let Some((_turn, clusters)) = clusters() else {
        return;
    };
    for cluster in &clusters {
        let kind = cluster.kind;
        let env = cluster.env(2, Some("@odd"));
        let (id, image) = build(&env, cluster);
        let member = job(&env, &id)["member"].as_str().unwrap().to_owned();
        assert!(
            member == "m1" || member == "m3",
            "{kind}: placed on {member}, which is not in @odd"
        );
        cluster.cli(1, &["image", "delete", &image]);
    }
}
