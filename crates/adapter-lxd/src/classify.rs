//! What a daemon's refusal means. LXD and Incus say why in English only (their error
//! codes are HTTP statuses, and a failed operation is 400 whatever the cause), so the
//! adapter reads the message; every such reading is a rule here, each with a test on
//! the wording of both daemons (tests/fixtures), and nowhere else.

/// Why the daemon refused, as far as the adapter acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The instance, image, operation or file named does not exist.
    NotFound,
    /// A bare 404 "Not Found", naming nothing: what the file API says of a path whose
    /// directory does not exist (a missing instance is "Instance not found").
    PathMissing,
    /// An image (alias or fingerprint) does not exist: LXD says "Image alias not
    /// found", Incus "Image not provided for instance creation".
    ImageMissing,
    /// A profile does not exist ("Profile not found"; at launch, "Requested profile
    /// ... doesn't exist").
    ProfileMissing,
    /// An instance or profile of that name exists.
    AlreadyExists,
    /// A profile is used by an instance.
    InUse,
    /// Another operation holds the instance ("Instance is busy running a "stop"
    /// operation"): it can be asked again once that ends.
    Busy,
    /// A stop of an instance that is stopped.
    AlreadyStopped,
    /// The instance is not running (exec, stop of an ephemeral instance).
    NotRunning,
    /// The instance runs, and the request needs it stopped: "Instance is running"
    /// (delete), "Cannot export a running instance" (publish).
    Running,
    /// LXC failed to start the instance (`forkstart`), as opposed to a refused request:
    /// on a loaded host the start hook stalls; another start usually works.
    FailedStart,
    /// A forced stop that the daemon reports as timed out (on a loaded host).
    StopTimedOut,
    /// Incus's `/wait` ended before the operation did ("context deadline exceeded",
    /// alone; LXD answers with the running operation instead).
    WaitEnded,
    /// A remote daemon does not trust our certificate (403 "not authorized").
    Untrusted,
    /// The cluster member that holds the instance (or that a launch targets) cannot be
    /// reached: "Missing event connection with target cluster member" (the member's
    /// daemon is gone), "Unable to connect to: ADDRESS" (nothing listens there),
    /// "Server isn't ready yet" (it is stopping or starting).
    MemberUnreachable,
    /// A compare-and-set lost: the object changed since it was read (412 "ETag
    /// doesn't match"), or another change of it was under way at the same moment
    /// ("A matching non-reusable operation has now succeeded": the daemon's instance
    /// lock, which another change of the same kind held and ended well; LXD says it
    /// of concurrent updates, both daemons of concurrent deletes).
    VersionChanged,
    /// The daemon could not write the firewall rules of a NIC's network ACL when the
    /// instance started ("Failed adding bridge filter rules for instance device"):
    /// Incus's ACL on a bridged NIC needs the kernel's bridge conntrack
    /// (`nf_conntrack_bridge`), without which `nft` refuses its `ct state` rules.
    NicFilterFailed,
    /// Anything else: the daemon's message is passed on.
    Other,
}

/// Classifies a refusal from its HTTP `status`, the envelope's (or the operation's)
/// `code`, and the daemon's `message`. The order of the rules matters where messages
/// overlap: "busy running" and "not running" both contain "running".
pub(crate) fn classify(status: u16, code: u16, message: &str) -> Cause {
    // The daemons quote the names they mention (`Failed to fetch instance "NAME"`):
    // a name is not a cause, whatever words it holds (an app called busybox, image…).
    let lower = without_quoted(message).to_ascii_lowercase();
    let has = |needle: &str| lower.contains(needle);
    let missing = has("not found") || has("doesn't exist") || has("does not exist");
    if lower == "context deadline exceeded" {
        Cause::WaitEnded
    } else if has("bridge filter rules") {
        Cause::NicFilterFailed
    } else if has("target cluster member") || has("unable to connect to") || has("isn't ready yet")
    {
        Cause::MemberUnreachable
    } else if status == 412
        || code == 412
        || has("etag doesn't match")
        || has("matching non-reusable operation")
    {
        Cause::VersionChanged
    } else if (status == 403 || code == 403) && has("not authorized") {
        Cause::Untrusted
    } else if has("forkstart") {
        Cause::FailedStart
    } else if has("is busy") {
        // "Instance is busy running a ... operation"; not a bare "busy", which an
        // instance's own name may hold (`lxpack-deploy-busybox-…`).
        Cause::Busy
    } else if has("already stopped") {
        Cause::AlreadyStopped
    } else if has("not running") {
        Cause::NotRunning
    } else if has("image") && (missing || has("not provided")) {
        Cause::ImageMissing
    } else if has("profile") && missing && !has("instance") {
        Cause::ProfileMissing
    } else if (status == 404 || code == 404) && lower == "not found" {
        Cause::PathMissing
    } else if status == 404 || code == 404 || missing {
        Cause::NotFound
    } else if code == 409 || has("already exists") || has("unique constraint failed") {
        Cause::AlreadyExists
    } else if has("in use") || has("currently used") {
        Cause::InUse
    } else if has("instance is running") || has("running instance") {
        Cause::Running
    } else if has("timed out") {
        Cause::StopTimedOut
    } else {
        Cause::Other
    }
}

/// `message` without the text between double quotes (the quotes stay, empty).
fn without_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quoted = false;
    for c in message.chars() {
        if c == '"' {
            quoted = !quoted;
            out.push(c);
        } else if !quoted {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Daemon, recorded};

    /// The message and codes of a recorded error: the error envelope of exchange
    /// `index`, or the failed operation in it.
    fn refusal(daemon: Daemon, scenario: &str, index: usize) -> (u16, u16, String) {
        let exchange = &recorded(daemon, scenario)["exchanges"][index];
        let status = exchange["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok());
        let reply = &exchange["reply"];
        let (code, message) = if reply["type"] == "error" {
            (&reply["error_code"], &reply["error"])
        } else {
            (&reply["metadata"]["status_code"], &reply["metadata"]["err"])
        };
        (
            status.unwrap_or_default(),
            code.as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or_default(),
            message.as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Each recorded refusal, on both daemons, and what it must classify as.
    const RECORDED: &[(&str, usize, Cause)] = &[
        ("get-instance-missing", 0, Cause::NotFound),
        ("delete-missing", 0, Cause::NotFound),
        ("delete-profile-missing", 0, Cause::ProfileMissing),
        ("ephemeral-gone", 0, Cause::NotFound),
        ("push-file-no-dir", 0, Cause::PathMissing),
        ("push-file-missing-instance", 0, Cause::NotFound),
        ("alias-missing", 0, Cause::ImageMissing),
        ("image-missing", 0, Cause::ImageMissing),
        ("launch-profile-missing", 0, Cause::ProfileMissing),
        ("create-profile-exists", 0, Cause::AlreadyExists),
        ("launch-exists", 1, Cause::AlreadyExists),
        ("delete-profile-in-use", 0, Cause::InUse),
        ("delete-busy", 1, Cause::Busy),
        ("stop-already-stopped", 1, Cause::AlreadyStopped),
        ("exec-not-running", 0, Cause::NotRunning),
        ("delete-running", 0, Cause::Running),
        ("publish-running", 1, Cause::Running),
        ("start-forkstart", 1, Cause::FailedStart),
        ("instances-untrusted", 0, Cause::Untrusted),
        ("cancel-operation", 0, Cause::Other),
        ("stop-graceful", 1, Cause::Other),
        ("cluster-member-stopping", 0, Cause::MemberUnreachable),
        ("cluster-member-stopping", 1, Cause::MemberUnreachable),
        ("cluster-member-stopping", 2, Cause::MemberUnreachable),
        ("cluster-member-stopping", 3, Cause::MemberUnreachable),
        ("cluster-member-offline", 2, Cause::MemberUnreachable),
        ("claim-stale", 1, Cause::VersionChanged),
        ("attach-stale", 1, Cause::VersionChanged),
        // LXD: its update lock; Incus: 412.
        ("update-concurrent", 2, Cause::VersionChanged),
        ("delete-concurrent", 3, Cause::VersionChanged),
        ("attach-profile-missing", 1, Cause::ProfileMissing),
        ("snapshot-exists", 1, Cause::AlreadyExists),
        ("snapshot-missing", 0, Cause::NotFound),
        ("keep-step-holder-missing", 0, Cause::NotFound),
    ];

    #[test]
    fn every_recorded_refusal_of_lxd_is_classified() {
        for (scenario, index, cause) in RECORDED {
            let (status, code, message) = refusal(Daemon::Lxd, scenario, *index);
            assert_eq!(
                classify(status, code, &message),
                *cause,
                "lxd {scenario}: {status} {code} {message}"
            );
        }
    }

    #[test]
    fn every_recorded_refusal_of_incus_is_classified() {
        for (scenario, index, cause) in RECORDED {
            let (status, code, message) = refusal(Daemon::Incus, scenario, *index);
            assert_eq!(
                classify(status, code, &message),
                *cause,
                "incus {scenario}: {status} {code} {message}"
            );
        }
    }

    #[test]
    fn a_missing_image_is_told_in_both_wordings() {
        // LXD 5.0 refuses an unknown alias at once; Incus 6.0 fails the operation.
        let (status, code, message) = refusal(Daemon::Lxd, "launch-image-missing", 0);
        assert_eq!(message, "Image alias not found");
        assert_eq!(classify(status, code, &message), Cause::ImageMissing);
        let (status, code, message) = refusal(Daemon::Incus, "launch-image-missing", 1);
        assert_eq!(message, "Image not provided for instance creation");
        assert_eq!(classify(status, code, &message), Cause::ImageMissing);
    }

    #[test]
    fn only_incus_s_bare_deadline_message_is_an_ended_wait() {
        let (status, code, message) = refusal(Daemon::Incus, "wait-timeout", 1);
        assert_eq!(classify(status, code, &message), Cause::WaitEnded);
        // A failed clean stop says the same words after its own: it is a failure.
        let (status, code, message) = refusal(Daemon::Incus, "stop-graceful", 1);
        assert!(message.ends_with("context deadline exceeded"), "{message}");
        assert_eq!(classify(status, code, &message), Cause::Other);
    }

    #[test]
    fn a_change_that_waited_on_the_instance_lock_is_a_lost_race_on_both_daemons() {
        // LXD refuses a concurrent update so; both daemons a concurrent delete.
        for (daemon, scenario, index) in [
            (Daemon::Lxd, "update-concurrent", 2),
            (Daemon::Lxd, "delete-concurrent", 3),
            (Daemon::Incus, "delete-concurrent", 3),
        ] {
            let (status, code, message) = refusal(daemon, scenario, index);
            assert!(
                message.ends_with("A matching non-reusable operation has now succeeded"),
                "{daemon:?} {scenario}: {message}"
            );
            assert_eq!(classify(status, code, &message), Cause::VersionChanged);
        }
    }

    #[test]
    fn overlapping_words_go_to_the_first_rule() {
        let cases = [
            // "busy running" is busy, not running.
            ("Instance is busy running a \"stop\" operation", Cause::Busy),
            // "not running" is not "running".
            ("The instance is not running", Cause::NotRunning),
            // An instance missing is not a profile missing, though the call named one.
            (
                "Failed loading instance: profile lxpack-x: instance not found",
                Cause::NotFound,
            ),
            ("Failed to stop instance: timed out", Cause::StopTimedOut),
            (
                "Failed to run: /usr/bin/lxd forkstart x: Instance is busy",
                Cause::FailedStart,
            ),
            ("The \"default\" profile cannot be deleted", Cause::Other),
            // Incus 6.0 on a kernel without nf_conntrack_bridge, starting a build whose
            // NIC carries an ACL (measured; "No such file or directory" is nft's).
            (
                "Failed to start device \"eth0\": Failed adding bridge filter rules for instance device \"x.eth0\" (bridge): Failed apply nftables config: Failed to run: nft -f -: exit status 1 (/dev/stdin:9:2-9: Error: Could not process rule: Protocol error\n    ct state established,related accept\n/dev/stdin:18:25-30: Error: Could not process rule: No such file or directory)",
                Cause::NicFilterFailed,
            ),
            // A name is not a cause: this instance is missing, not busy (an app named
            // busybox made every deploy of it retry its delete for two minutes).
            (
                "Failed to fetch instance \"lxpack-deploy-busybox-noop-0d4e6a1f-6b0ff\" in project \"lxpack-bench-dir\": Instance not found",
                Cause::NotFound,
            ),
            (
                "Failed to fetch instance \"lxpack-deploy-imageserver-1f2e3d4c-6b0ff\": Instance not found",
                Cause::NotFound,
            ),
        ];
        for (message, cause) in cases {
            assert_eq!(classify(400, 400, message), cause, "{message}");
        }
        // A refusal of 403 that is not about trust is a plain refusal.
        assert_eq!(
            classify(403, 403, "The \"default\" profile cannot be deleted"),
            Cause::Other
        );
        // Codes alone: 404 and 409 without a telling message.
        assert_eq!(classify(404, 404, "Not Found"), Cause::PathMissing);
        assert_eq!(classify(404, 404, "Not there"), Cause::NotFound);
        assert_eq!(classify(409, 409, "Conflict"), Cause::AlreadyExists);
    }
}
