//! The contract of `ContainerRuntime` and `ImageRegistry`, checked together because
//! they share a daemon: publishing needs a stopped instance, and launching needs an
//! image. The suite works only with names under the fixture's prefix, so it can run
//! against a daemon that holds other things, and it removes all it made.

use std::collections::BTreeMap;
use std::time::Duration;

use lxpack_core::domain::{
    AppKey, ExecRequest, FileSpec, GuestPath, ImageAlias, ImageRef, ImageSelector, InstanceName,
    JobCommand, JobId, Labels, LaunchSpec, NAME_PREFIX, OutputStream, Owner, ProfileName,
    ProfileSpec,
};
use lxpack_core::ports::{
    Compression, ContainerRuntime, ImageRegistry, OutputSink, PublishRequest, RegistryError,
    ResourceKind, RuntimeCapabilities, RuntimeError,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::report::{Checker, ContractReport};
use crate::unwind::CatchUnwind;

/// The commands the runtime suite runs, so that an image (or a fake) can be checked
/// to support them. The image needs a POSIX `sh` with `printf`, `pwd`, `id`, `cat`,
/// `sleep` and `true`, and a `/tmp` directory (busybox is enough).
pub mod commands {
    /// Exits with code 3.
    pub const EXIT_3: [&str; 3] = ["sh", "-c", "exit 3"];
    /// Exits with code 0.
    pub const TRUE: [&str; 1] = ["true"];
    /// Writes `out1 out2 out3` to stdout and `err1 err2` to stderr, interleaved, one
    /// per line.
    pub const INTERLEAVED: [&str; 3] = [
        "sh",
        "-c",
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2; echo out3",
    ];
    /// What [`INTERLEAVED`] writes to stdout.
    pub const INTERLEAVED_STDOUT: &str = "out1\nout2\nout3\n";
    /// What [`INTERLEAVED`] writes to stderr.
    pub const INTERLEAVED_STDERR: &str = "err1\nerr2\n";
    /// Prints `$LXPACK_CONTRACT_VAR`, the working directory, the uid and the gid,
    /// one per line.
    pub const IDENTITY: [&str; 3] = [
        "sh",
        "-c",
        "printf '%s\\n' \"$LXPACK_CONTRACT_VAR\"; pwd; id -u; id -g",
    ];
    /// The variable [`IDENTITY`] prints.
    pub const IDENTITY_VAR: &str = "LXPACK_CONTRACT_VAR";
    /// Copies stdin to stdout (with no argument) or prints a file.
    pub const CAT: &str = "cat";
    /// Runs far longer than any limit the suite sets.
    pub const SLEEP: [&str; 2] = ["sleep", "600"];
    /// Where the volume checks mount a volume.
    pub const VOLUME_MOUNT: &str = "/mnt/lxpack-contract";
    /// Writes `kept` into `file` in the mounted volume.
    pub const WRITE_VOLUME: [&str; 3] = ["sh", "-c", "echo kept > /mnt/lxpack-contract/file"];
    /// Prints `file` of the mounted volume (`kept`), then appends to it.
    pub const READ_VOLUME: [&str; 3] = [
        "sh",
        "-c",
        "cat /mnt/lxpack-contract/file && echo more >> /mnt/lxpack-contract/file",
    ];
}

/// What the runtime suite needs from the daemon under test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeFixture {
    /// An image to launch from; it must support [`commands`]. A local image keeps the
    /// suite fast and offline.
    pub image: ImageRef,
    /// The prefix of every instance, profile and image alias the suite creates:
    /// `lxpack-` followed by lower-case letters, digits and `-`, at most 30
    /// characters. Make it unique per run (e.g. with the process id) so parallel runs
    /// do not meet. Anything left under it by an earlier run is removed first.
    pub prefix: String,
    /// The limit given to each launch.
    pub launch_timeout: Duration,
    /// The limit given to each publish.
    pub publish_timeout: Duration,
    /// The most any single call may take before the suite reports it and moves on.
    pub call_limit: Duration,
    /// The non-root user the identity check runs as.
    pub exec_user: Owner,
    /// The cluster member every launch must land on (the adapter was given it as its
    /// target), or `None` to accept any member, or none on a daemon that is not
    /// clustered.
    pub expected_member: Option<String>,
}

impl RuntimeFixture {
    /// A fixture with limits that suit a local daemon: launch 120 s, publish 300 s,
    /// any call 600 s, and user 1000:1000.
    #[must_use]
    pub fn new(image: ImageRef, prefix: &str) -> Self {
        Self {
            image,
            prefix: prefix.to_owned(),
            launch_timeout: Duration::from_secs(120),
            publish_timeout: Duration::from_secs(300),
            call_limit: Duration::from_secs(600),
            exec_user: Owner {
                uid: 1000,
                gid: 1000,
            },
            expected_member: None,
        }
    }

    /// The same fixture, expecting every launch on cluster member `member`.
    #[must_use]
    pub fn on_member(mut self, member: &str) -> Self {
        self.expected_member = Some(member.to_owned());
        self
    }
}

/// How long a timed-out or cancelled command may take to be signalled and reaped
/// before the call returns.
const SIGNAL_GRACE: Duration = Duration::from_secs(30);

/// The limit of the command that must time out.
const SHORT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long after its start the command that must be cancelled is cancelled.
const CANCEL_AFTER: Duration = Duration::from_secs(1);

/// The job the suite's labels and names carry.
fn contract_job() -> JobId {
    JobId::generate(0x6600_0000, *b"contract")
}

/// The labels the suite puts on what it labels.
fn contract_labels() -> Labels {
    Labels {
        job: contract_job(),
        command: JobCommand::Deploy,
        app: AppKey::new("lxpack-contract", "test", "suite"),
    }
}

/// Every name the suite uses, derived from the prefix so that cleanup can find them
/// all even after a panic.
struct Names {
    /// `<prefix>-p-<job>`: a labelled profile.
    profile: ProfileName,
    /// A profile that never exists.
    missing_profile: String,
    /// The instance most checks use.
    main: InstanceName,
    /// An instance named without the prefix, with the suite's labels.
    labelled: InstanceName,
    ephemeral: InstanceName,
    /// An ephemeral instance ended by `release_ephemeral`, and its own profile.
    released: InstanceName,
    released_profile: ProfileName,
    /// Instances whose launch must fail.
    no_image: InstanceName,
    no_profile: InstanceName,
    cancelled: InstanceName,
    /// An instance that never exists.
    missing: InstanceName,
    image: ImageAlias,
    second_image: ImageAlias,
    missing_image: ImageAlias,
    /// The names of the standbys part.
    standbys: standbys::StandbyNames,
    /// The names of the step snapshots part.
    snapshots: snapshots::SnapshotNames,
}

impl Names {
    fn new(prefix: &str) -> Result<Self, String> {
        let rest = prefix.strip_prefix(NAME_PREFIX).unwrap_or("");
        if rest.is_empty()
            || prefix.len() > 30
            || prefix.ends_with('-')
            || !rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!(
                "prefix {prefix:?} must be `lxpack-` followed by lower-case letters, digits \
                 and -, at most 30 characters, not ending with -"
            ));
        }
        let instance = |suffix: &str| {
            InstanceName::parse(&format!("{prefix}-{suffix}")).map_err(|error| error.to_string())
        };
        let profile = |suffix: &str| {
            ProfileName::parse(&format!("{prefix}-{suffix}")).map_err(|error| error.to_string())
        };
        let alias = |suffix: &str| {
            ImageAlias::parse(&format!("{prefix}-{suffix}")).map_err(|error| error.to_string())
        };
        Ok(Self {
            profile: profile(&format!("p-{}", contract_job()))?,
            missing_profile: format!("{prefix}-no-such-profile"),
            main: instance("main")?,
            labelled: InstanceName::parse(&format!("contract-{rest}-labelled"))
                .map_err(|error| error.to_string())?,
            ephemeral: instance("ephemeral")?,
            released: instance("released")?,
            released_profile: profile(&format!("r-{}", contract_job()))?,
            no_image: instance("no-image")?,
            no_profile: instance("no-profile")?,
            cancelled: instance("cancelled")?,
            missing: instance("missing")?,
            image: alias("image")?,
            second_image: alias("image-2")?,
            missing_image: alias("no-such-image")?,
            standbys: standbys::StandbyNames::new(prefix)?,
            snapshots: snapshots::SnapshotNames::new(prefix)?,
        })
    }

    /// Every instance the suite may create, those made from another's snapshot before
    /// their source (a storage driver may keep a source while copies of it exist).
    fn instances(&self) -> Vec<&InstanceName> {
        let mut all = vec![
            &self.main,
            &self.labelled,
            &self.ephemeral,
            &self.released,
            &self.no_image,
            &self.no_profile,
            &self.cancelled,
        ];
        all.extend(self.standbys.instances());
        all.extend(self.snapshots.instances());
        all
    }

    fn images(&self) -> [&ImageAlias; 2] {
        [&self.image, &self.second_image]
    }

    fn owns(&self, kind: ResourceKind, name: &str) -> bool {
        match kind {
            ResourceKind::Instance => self.instances().iter().any(|mine| mine.as_str() == name),
            ResourceKind::Profile => self.profiles().iter().any(|mine| mine.as_str() == name),
            _ => false,
        }
    }

    fn profiles(&self) -> Vec<&ProfileName> {
        let mut all = vec![&self.profile, &self.released_profile];
        all.extend(self.standbys.profiles());
        all.extend(self.snapshots.profiles());
        all
    }
}

/// Runs the contract of [`ContainerRuntime`] and [`ImageRegistry`] against one
/// daemon, and returns what it found. It checks:
/// - profiles: `AlreadyExists`, `NotFound`, `InUse`;
/// - launch: success, `AlreadyExists`, `ImageNotFound`, `NotFound` for a missing
///   profile, `Cancelled`;
/// - exec: exit codes, output order per stream, env/cwd/user, stdin, `NotFound`,
///   `TimedOut` and `Cancelled` within a grace period, files pushed;
/// - resources: every instance and profile listed, each with its labels or none, and
///   an instance's keep mark (`mark_kept`, and its `NotFound`);
/// - stop (forced, graceful, twice, ephemeral), delete (stopped, running) and their
///   `NotFound`;
/// - publish with alias and properties, `AliasExists` (nothing published),
///   `InstanceRunning`, `InstanceNotFound`, `Cancelled`; list, resolve by alias and by
///   fingerprint (prefix), delete and `NotFound`.
///
/// Each capability the runtime offers in `capabilities` adds its own part (a module
/// each):
/// - cluster membership: where a launch was placed;
/// - cache volumes: create, copy, mark, list, usage and delete;
/// - standby pools: a standby launched with its mark and readied; of two concurrent
///   claims exactly one wins and the other gets `Changed`; a claimed standby refuses
///   every later claim and change of mark (`Changed`); the listing shows the mark and
///   the winner's labels; an attached profile is in use; of two concurrent attaches
///   each `Ok` one is really attached and a refused one is `Changed` (no lost
///   update); each `NotFound`;
/// - step snapshots: snapshot of a running instance, `AlreadyExists`, `NotFound`; an
///   instance launched from a snapshot holds the files of the snapshot's moment; the
///   stopped source kept as a step holder is listed with its keys and left only the
///   base profiles; `NotFound`;
/// - resource class counters: positive host figures where given, quiet counters of a
///   running instance, `NotFound`.
/// - network policies: the host's addresses; `egress_state` reads `Missing`,
///   `Matches` and `Differs`; `ensure_egress` creates the bridge and ACL, succeeds
///   again (twice at once too), updates changed rules in place, and is `NotFound` on
///   an operator's bridge that does not exist (the suite's bridge and ACL stay: the
///   port deletes nothing).
///
/// A capability not offered is not checked: its part's checks are absent from the
/// report.
///
/// Everything it creates is removed at the end, even when a check fails or the
/// implementation panics; the removal is checked too.
pub async fn container_runtime_contract(
    runtime: &dyn ContainerRuntime,
    capabilities: &RuntimeCapabilities,
    registry: &dyn ImageRegistry,
    fixture: &RuntimeFixture,
) -> ContractReport {
    let mut checker = Checker::new("container runtime", fixture.call_limit);
    let names = match Names::new(&fixture.prefix) {
        Ok(names) => names,
        Err(problem) => {
            checker.fail("fixture", "a valid prefix", problem);
            return checker.finish();
        }
    };
    let volume_names = match volumes::VolumeNames::new(&fixture.prefix) {
        Ok(names) => names,
        Err(problem) => {
            checker.fail("fixture", "a valid prefix", problem);
            return checker.finish();
        }
    };
    let suite = Suite {
        runtime,
        capabilities,
        registry,
        fixture,
        names: &names,
        volume_names,
    };
    suite
        .remove_all(&mut checker, "remove leftovers of an earlier run")
        .await;
    let outcome = CatchUnwind::new(suite.run(&mut checker)).await;
    checker.ran_to_the_end(outcome);
    suite.remove_all(&mut checker, "cleanup").await;
    suite.nothing_left(&mut checker).await;
    checker.finish()
}

struct Suite<'a> {
    runtime: &'a dyn ContainerRuntime,
    capabilities: &'a RuntimeCapabilities,
    registry: &'a dyn ImageRegistry,
    fixture: &'a RuntimeFixture,
    names: &'a Names,
    volume_names: volumes::VolumeNames,
}

mod classes;
mod network;

pub use network::network_made;
mod snapshots;
mod standbys;
mod volumes;

impl Suite<'_> {
    fn launch_spec(&self, name: &InstanceName) -> LaunchSpec {
        LaunchSpec {
            name: name.clone(),
            image: self.fixture.image.clone(),
            profile: None,
            ephemeral: false,
            isolation: Default::default(),
            limits: Default::default(),
            network: Default::default(),
            labels: None,
            standby: None,
            map_owner: None,
            from_snapshot: None,
            timeout: self.fixture.launch_timeout,
        }
    }

    fn publish_request(&self, instance: &InstanceName, alias: &ImageAlias) -> PublishRequest {
        PublishRequest {
            instance: instance.clone(),
            alias: alias.clone(),
            properties: BTreeMap::from([("lxpack.contract".to_owned(), "yes".to_owned())]),
            compression: Compression::default(),
            timeout: self.fixture.publish_timeout,
        }
    }

    async fn run(&self, checker: &mut Checker) {
        self.server(checker).await;
        self.profiles(checker).await;
        self.launches(checker).await;
        self.commands(checker).await;
        if let Some(classes) = self.capabilities.resource_classes.as_deref() {
            self.resource_classes(checker, classes).await;
        }
        self.interruptions(checker).await;
        self.leftovers(checker).await;
        self.stops(checker).await;
        self.releases(checker).await;
        self.images(checker).await;
        self.deletions(checker).await;
        if let Some(volumes) = self.capabilities.cache_volumes.as_deref() {
            self.volumes(checker, volumes).await;
        }
        if let Some(standbys) = self.capabilities.standbys.as_deref() {
            self.standbys(checker, standbys).await;
        }
        if let Some(snapshots) = self.capabilities.step_snapshots.as_deref() {
            self.snapshots(checker, snapshots).await;
        }
        if let Some(networks) = self.capabilities.network_policies.as_deref() {
            self.networks(checker, networks).await;
        }
    }

    async fn server(&self, checker: &mut Checker) {
        if let Some(info) = checker.ok("server_info", self.runtime.server_info()).await {
            checker.that(
                "server_info names a version",
                !info.version.is_empty(),
                "a non-empty version",
                info.version,
            );
        }
    }

    async fn profiles(&self, checker: &mut Checker) {
        let names = self.names;
        let profile = ProfileSpec {
            name: names.profile.clone(),
            description: "lxpack contract suite".to_owned(),
            mounts: vec![],
            labels: Some(contract_labels()),
            standby: None,
        };
        checker
            .ok("create_profile", self.runtime.create_profile(&profile))
            .await;
        checker
            .err(
                "create_profile twice",
                "AlreadyExists { what: \"profile\" }",
                self.runtime.create_profile(&profile),
                |e| {
                    matches!(
                        e,
                        RuntimeError::AlreadyExists {
                            what: "profile",
                            ..
                        }
                    )
                },
            )
            .await;
        let missing = ProfileName::parse(&names.missing_profile);
        if let Ok(missing) = missing {
            checker
                .err(
                    "delete_profile of a missing profile",
                    "NotFound { what: \"profile\" }",
                    self.runtime.delete_profile(&missing),
                    |e| {
                        matches!(
                            e,
                            RuntimeError::NotFound {
                                what: "profile",
                                ..
                            }
                        )
                    },
                )
                .await;
        }
    }

    async fn launches(&self, checker: &mut Checker) {
        let names = self.names;
        let cancel = CancellationToken::new();
        let mut main = self.launch_spec(&names.main);
        main.profile = Some(names.profile.clone());
        if let Some(placement) = checker
            .ok(
                "launch_instance",
                self.runtime.launch_instance(&main, &cancel),
            )
            .await
        {
            self.placement(checker, placement.member.map(|m| m.to_string()))
                .await;
        }
        checker
            .err(
                "launch_instance twice",
                "AlreadyExists { what: \"instance\" }",
                self.runtime.launch_instance(&main, &cancel),
                |e| {
                    matches!(
                        e,
                        RuntimeError::AlreadyExists {
                            what: "instance",
                            ..
                        }
                    )
                },
            )
            .await;
        checker
            .err(
                "delete_profile while an instance uses it",
                "InUse",
                self.runtime.delete_profile(&names.profile),
                |e| matches!(e, RuntimeError::InUse { .. }),
            )
            .await;

        let mut no_image = self.launch_spec(&names.no_image);
        no_image.image = ImageRef::Local(ImageSelector::Alias(names.missing_image.clone()));
        checker
            .err(
                "launch_instance from a missing image",
                "ImageNotFound",
                self.runtime.launch_instance(&no_image, &cancel),
                |e| matches!(e, RuntimeError::ImageNotFound { .. }),
            )
            .await;

        let mut no_profile = self.launch_spec(&names.no_profile);
        no_profile.profile = ProfileName::parse(&names.missing_profile).ok();
        checker
            .err(
                "launch_instance with a missing profile",
                "NotFound { what: \"profile\" }",
                self.runtime.launch_instance(&no_profile, &cancel),
                |e| {
                    matches!(
                        e,
                        RuntimeError::NotFound {
                            what: "profile",
                            ..
                        }
                    )
                },
            )
            .await;

        let fired = CancellationToken::new();
        fired.cancel();
        checker
            .err(
                "launch_instance with a cancelled token",
                "Cancelled",
                self.runtime
                    .launch_instance(&self.launch_spec(&names.cancelled), &fired),
                |e| matches!(e, RuntimeError::Cancelled { .. }),
            )
            .await;

        let mut labelled = self.launch_spec(&names.labelled);
        labelled.labels = Some(contract_labels());
        checker
            .ok(
                "launch_instance with a job label",
                self.runtime.launch_instance(&labelled, &cancel),
            )
            .await;
    }

    /// Runs a command in the main instance and returns its exit code and output.
    async fn exec(
        &self,
        checker: &mut Checker,
        name: &str,
        request: &ExecRequest,
    ) -> Option<(i32, Collected)> {
        let output = Collected::default();
        let cancel = CancellationToken::new();
        let code = checker
            .ok(
                name,
                self.runtime
                    .exec(&self.names.main, request, &output, &cancel),
            )
            .await?;
        Some((code, output))
    }

    async fn commands(&self, checker: &mut Checker) {
        let names = self.names;
        let limit = Duration::from_secs(60);
        let request = |argv: &[&str]| ExecRequest::new(argv.iter().copied(), limit);

        if let Some((code, _)) = self
            .exec(checker, "exec", &request(&commands::EXIT_3))
            .await
        {
            checker.equal("exec returns the exit code", 3, code);
        }
        if let Some((code, _)) = self
            .exec(checker, "exec true", &request(&commands::TRUE))
            .await
        {
            checker.equal("exec returns exit code 0", 0, code);
        }
        if let Some((code, output)) = self
            .exec(
                checker,
                "exec with output",
                &request(&commands::INTERLEAVED),
            )
            .await
        {
            checker.equal("exec with output exits 0", 0, code);
            checker.equal(
                "stdout arrives in order",
                commands::INTERLEAVED_STDOUT.to_owned(),
                output.text(OutputStream::Stdout),
            );
            checker.equal(
                "stderr arrives in order",
                commands::INTERLEAVED_STDERR.to_owned(),
                output.text(OutputStream::Stderr),
            );
        }

        let mut identity = request(&commands::IDENTITY);
        identity.env = vec![(commands::IDENTITY_VAR.to_owned(), "hello world".to_owned())];
        identity.cwd = GuestPath::parse("/tmp").ok();
        identity.user = Some(self.fixture.exec_user);
        if let Some((_, output)) = self
            .exec(checker, "exec with env, cwd and user", &identity)
            .await
        {
            let user = self.fixture.exec_user;
            checker.equal(
                "exec sees its env, cwd and user",
                format!("hello world\n/tmp\n{}\n{}\n", user.uid, user.gid),
                output.text(OutputStream::Stdout),
            );
        }

        let mut stdin = request(&[commands::CAT]);
        stdin.stdin = Some(b"from stdin\n".to_vec());
        if let Some((_, output)) = self.exec(checker, "exec with stdin", &stdin).await {
            checker.equal(
                "exec feeds stdin",
                "from stdin\n".to_owned(),
                output.text(OutputStream::Stdout),
            );
        }

        checker
            .err(
                "exec in a missing instance",
                "NotFound { what: \"instance\" }",
                self.runtime.exec(
                    &names.missing,
                    &request(&commands::TRUE),
                    &Collected::default(),
                    &CancellationToken::new(),
                ),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;

        let Ok(path) = GuestPath::parse("/tmp/lxpack-contract") else {
            return;
        };
        let file = FileSpec {
            path: path.clone(),
            contents: b"pushed\n".to_vec(),
            mode: 0o644,
        };
        checker
            .ok("push_file", self.runtime.push_file(&names.main, &file))
            .await;
        if let Some((_, output)) = self
            .exec(
                checker,
                "exec reading the pushed file",
                &request(&[commands::CAT, path.as_str()]),
            )
            .await
        {
            checker.equal(
                "push_file writes the contents",
                "pushed\n".to_owned(),
                output.text(OutputStream::Stdout),
            );
        }
        checker
            .err(
                "push_file into a missing instance",
                "NotFound",
                self.runtime.push_file(&names.missing, &file),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
    }

    async fn interruptions(&self, checker: &mut Checker) {
        let names = self.names;
        let sleep = ExecRequest::new(commands::SLEEP, SHORT_TIMEOUT);
        let start = Instant::now();
        checker
            .err(
                "exec past its timeout",
                "TimedOut",
                self.runtime.exec(
                    &names.main,
                    &sleep,
                    &Collected::default(),
                    &CancellationToken::new(),
                ),
                |e| matches!(e, RuntimeError::TimedOut { .. }),
            )
            .await;
        let took = start.elapsed();
        checker.that(
            "a timed-out exec returns within the grace period",
            took >= SHORT_TIMEOUT && took <= SHORT_TIMEOUT + SIGNAL_GRACE,
            format!(
                "between {SHORT_TIMEOUT:?} and {:?}",
                SHORT_TIMEOUT + SIGNAL_GRACE
            ),
            took,
        );

        let long = ExecRequest::new(commands::SLEEP, Duration::from_secs(600));
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        let start = Instant::now();
        let output = Collected::default();
        let exec = self.runtime.exec(&names.main, &long, &output, &cancel);
        let (result, ()) = tokio::join!(checker.bounded(exec), async move {
            tokio::time::sleep(CANCEL_AFTER).await;
            trigger.cancel();
        });
        match result {
            Ok(Err(RuntimeError::Cancelled { .. })) => checker.pass("exec cancelled by its token"),
            Ok(other) => checker.fail(
                "exec cancelled by its token",
                "Cancelled",
                format!("{other:?}"),
            ),
            Err(elapsed) => checker.fail("exec cancelled by its token", "Cancelled", elapsed),
        }
        let took = start.elapsed();
        checker.that(
            "a cancelled exec returns within the grace period",
            took <= CANCEL_AFTER + SIGNAL_GRACE,
            format!("at most {:?}", CANCEL_AFTER + SIGNAL_GRACE),
            took,
        );

        if let Some((code, _)) = self
            .exec(
                checker,
                "exec after an interrupted one",
                &ExecRequest::new(commands::TRUE, Duration::from_secs(60)),
            )
            .await
        {
            checker.equal("the instance still runs commands", 0, code);
        }
    }

    async fn leftovers(&self, checker: &mut Checker) {
        let names = self.names;
        let until = std::time::UNIX_EPOCH + Duration::from_secs(1_764_748_800);
        checker
            .ok(
                "mark_kept of an instance",
                self.runtime.mark_kept(&names.labelled, until),
            )
            .await;
        checker
            .err(
                "mark_kept of a missing instance",
                "NotFound",
                self.runtime.mark_kept(&names.missing, until),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
        let Some(resources) = checker
            .ok("list_resources", self.runtime.list_resources())
            .await
        else {
            return;
        };
        let find = |kind: ResourceKind, name: &str| {
            resources
                .iter()
                .find(|resource| resource.kind == kind && resource.name == name)
        };
        checker.that(
            "list_resources lists an unlabelled instance, without labels",
            find(ResourceKind::Instance, names.main.as_str())
                .is_some_and(|found| found.labels.is_none()),
            format!("an instance {} without labels", names.main),
            &resources,
        );
        checker.that(
            "list_resources lists a labelled instance with its labels",
            find(ResourceKind::Instance, names.labelled.as_str())
                .is_some_and(|found| found.labels == Some(contract_labels())),
            format!(
                "an instance {} labelled {:?}",
                names.labelled,
                contract_labels()
            ),
            &resources,
        );
        checker.that(
            "list_resources reads back an instance's keep mark, and only that instance's",
            find(ResourceKind::Instance, names.labelled.as_str())
                .is_some_and(|found| found.kept_until == Some(until))
                && find(ResourceKind::Instance, names.main.as_str())
                    .is_some_and(|found| found.kept_until.is_none()),
            format!(
                "{} kept until {until:?}, {} not kept",
                names.labelled, names.main
            ),
            &resources,
        );
        checker.that(
            "list_resources lists a labelled profile with its labels",
            find(ResourceKind::Profile, names.profile.as_str())
                .is_some_and(|found| found.labels == Some(contract_labels())),
            format!(
                "a profile {} labelled {:?}",
                names.profile,
                contract_labels()
            ),
            &resources,
        );
    }

    /// The member a launch reports is one of the cluster's (the expected one, when
    /// the fixture names it), and the one the listing gives; none without a cluster.
    async fn placement(&self, checker: &mut Checker, member: Option<String>) {
        let Some(port) = self.capabilities.cluster_members.as_deref() else {
            return;
        };
        let Some(members) = checker.ok("cluster_members", port.cluster_members()).await else {
            return;
        };
        let names: Vec<String> = members.iter().map(|m| m.name.to_string()).collect();
        let expected = match (&self.fixture.expected_member, names.is_empty()) {
            (Some(target), _) => Some(target.clone()),
            (None, true) => None,
            (None, false) => member.clone().filter(|m| names.contains(m)),
        };
        checker.that(
            "launch_instance says which cluster member runs the instance",
            member == expected && (names.is_empty() || member.is_some()),
            format!(
                "{} (members: {names:?})",
                expected
                    .as_deref()
                    .unwrap_or("no member, on a daemon that is not clustered")
            ),
            &member,
        );
        if let Some(resources) = checker
            .ok("list_resources after launch", self.runtime.list_resources())
            .await
        {
            let listed = resources
                .iter()
                .find(|r| r.kind == ResourceKind::Instance && r.name == self.names.main.as_str())
                .map(|r| r.member.as_ref().map(ToString::to_string));
            checker.that(
                "list_resources gives the instance the member its launch reported",
                listed == Some(member.clone()),
                format!("{member:?}"),
                &listed,
            );
        }
    }

    async fn stops(&self, checker: &mut Checker) {
        let names = self.names;
        checker
            .ok(
                "stop_instance forced",
                self.runtime.stop_instance(&names.main, None),
            )
            .await;
        checker
            .ok(
                "stop_instance of a stopped instance",
                self.runtime.stop_instance(&names.main, None),
            )
            .await;
        checker
            .err(
                "exec in a stopped instance",
                "NotFound",
                self.runtime.exec(
                    &names.main,
                    &ExecRequest::new(commands::TRUE, Duration::from_secs(60)),
                    &Collected::default(),
                    &CancellationToken::new(),
                ),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
        checker
            .err(
                "stop_instance of a missing instance",
                "NotFound",
                self.runtime.stop_instance(&names.missing, None),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;

        let mut ephemeral = self.launch_spec(&names.ephemeral);
        ephemeral.ephemeral = true;
        let cancel = CancellationToken::new();
        if checker
            .ok(
                "launch_instance ephemeral",
                self.runtime.launch_instance(&ephemeral, &cancel),
            )
            .await
            .is_some()
        {
            checker
                .ok(
                    "stop_instance graceful",
                    self.runtime
                        .stop_instance(&names.ephemeral, Some(Duration::from_secs(2))),
                )
                .await;
            let gone = checker
                .bounded(self.vanishes(&names.ephemeral))
                .await
                .and_then(|gone| gone);
            checker.that(
                "an ephemeral instance vanishes when stopped",
                gone.is_ok(),
                "no such instance within 30s",
                gone,
            );
        }
    }

    async fn releases(&self, checker: &mut Checker) {
        let names = self.names;
        let profile = ProfileSpec {
            name: names.released_profile.clone(),
            description: "lxpack contract suite: released".to_owned(),
            mounts: vec![],
            labels: Some(contract_labels()),
            standby: None,
        };
        if checker
            .ok(
                "create_profile for a release",
                self.runtime.create_profile(&profile),
            )
            .await
            .is_none()
        {
            return;
        }
        let mut spec = self.launch_spec(&names.released);
        spec.ephemeral = true;
        spec.profile = Some(names.released_profile.clone());
        let cancel = CancellationToken::new();
        if checker
            .ok(
                "launch_instance ephemeral with its own profile",
                self.runtime.launch_instance(&spec, &cancel),
            )
            .await
            .is_none()
        {
            return;
        }
        if checker
            .ok(
                "release_ephemeral",
                self.runtime
                    .release_ephemeral(&names.released, &names.released_profile),
            )
            .await
            .is_none()
        {
            return;
        }
        checker
            .err(
                "the released instance's profile is gone when release_ephemeral returns",
                "NotFound { what: \"profile\" }",
                self.runtime.delete_profile(&names.released_profile),
                |e| {
                    matches!(
                        e,
                        RuntimeError::NotFound {
                            what: "profile",
                            ..
                        }
                    )
                },
            )
            .await;
        let gone = checker
            .bounded(self.vanishes(&names.released))
            .await
            .and_then(|gone| gone);
        checker.that(
            "a released instance vanishes",
            gone.is_ok(),
            "no such instance within 30s",
            gone,
        );
        checker
            .err(
                "release_ephemeral of a missing instance",
                "NotFound",
                self.runtime
                    .release_ephemeral(&names.missing, &names.released_profile),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
    }

    /// Waits until the instance no longer exists (a daemon may delete an ephemeral
    /// instance just after its stop returns).
    async fn vanishes(&self, name: &InstanceName) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.runtime.list_resources().await {
                Ok(resources)
                    if !resources.iter().any(|resource| {
                        resource.kind == ResourceKind::Instance && resource.name == name.as_str()
                    }) =>
                {
                    return Ok(());
                }
                Ok(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Ok(_) => return Err(format!("{name} is still listed")),
                Err(error) => return Err(format!("list_resources failed: {error:?}")),
            }
        }
    }

    async fn images(&self, checker: &mut Checker) {
        let names = self.names;
        let cancel = CancellationToken::new();
        let request = self.publish_request(&names.main, &names.image);
        let Some(image) = checker
            .ok(
                "publish_image",
                self.registry.publish_image(&request, &cancel),
            )
            .await
        else {
            return;
        };
        checker.that(
            "publish_image gives the alias",
            image.has_alias(&names.image),
            format!("alias {}", names.image),
            &image.aliases,
        );
        checker.equal(
            "publish_image keeps the properties",
            Some("yes"),
            image.properties.get("lxpack.contract").map(String::as_str),
        );
        if let Some(images) = checker.ok("list_images", self.registry.list_images()).await {
            let listed = images
                .iter()
                .find(|listed| listed.fingerprint == image.fingerprint);
            checker.that(
                "list_images shows the image with its alias and properties",
                listed.is_some_and(|listed| {
                    listed.has_alias(&names.image)
                        && listed.properties.get("lxpack.contract").map(String::as_str)
                            == Some("yes")
                }),
                format!("image {} with its alias and properties", image.fingerprint),
                listed,
            );
        }
        for (check, selector) in [
            (
                "resolve_image by alias",
                ImageSelector::Alias(names.image.clone()),
            ),
            (
                "resolve_image by fingerprint",
                ImageSelector::Fingerprint(image.fingerprint.to_string()),
            ),
            (
                "resolve_image by fingerprint prefix",
                ImageSelector::Fingerprint(image.fingerprint.short().to_owned()),
            ),
        ] {
            if let Some(found) = checker
                .ok(check, self.registry.resolve_image(&selector))
                .await
            {
                checker.equal(
                    &format!("{check} finds the image"),
                    &image.fingerprint,
                    &found.fingerprint,
                );
            }
        }
        checker
            .err(
                "resolve_image of a missing alias",
                "NotFound",
                self.registry
                    .resolve_image(&ImageSelector::Alias(names.missing_image.clone())),
                |e| matches!(e, RegistryError::NotFound { .. }),
            )
            .await;

        checker
            .err(
                "publish_image to a taken alias",
                "AliasExists",
                self.registry.publish_image(&request, &cancel),
                |e| matches!(e, RegistryError::AliasExists { .. }),
            )
            .await;
        if let Some(images) = checker
            .ok("list_images after AliasExists", self.registry.list_images())
            .await
        {
            let count = images
                .iter()
                .filter(|listed| listed.has_alias(&names.image))
                .count();
            checker.equal("publish_image to a taken alias adds nothing", 1, count);
        }
        checker
            .err(
                "publish_image of a running instance",
                "InstanceRunning",
                self.registry.publish_image(
                    &self.publish_request(&names.labelled, &names.second_image),
                    &cancel,
                ),
                |e| matches!(e, RegistryError::InstanceRunning { .. }),
            )
            .await;
        checker
            .err(
                "publish_image of a missing instance",
                "InstanceNotFound",
                self.registry.publish_image(
                    &self.publish_request(&names.missing, &names.second_image),
                    &cancel,
                ),
                |e| matches!(e, RegistryError::InstanceNotFound { .. }),
            )
            .await;
        let fired = CancellationToken::new();
        fired.cancel();
        checker
            .err(
                "publish_image with a cancelled token",
                "Cancelled",
                self.registry.publish_image(
                    &self.publish_request(&names.main, &names.second_image),
                    &fired,
                ),
                |e| matches!(e, RegistryError::Cancelled { .. }),
            )
            .await;

        checker
            .ok(
                "delete_image",
                self.registry.delete_image(&image.fingerprint),
            )
            .await;
        checker
            .err(
                "resolve_image of a deleted image",
                "NotFound",
                self.registry
                    .resolve_image(&ImageSelector::Alias(names.image.clone())),
                |e| matches!(e, RegistryError::NotFound { .. }),
            )
            .await;
        checker
            .err(
                "delete_image twice",
                "NotFound",
                self.registry.delete_image(&image.fingerprint),
                |e| matches!(e, RegistryError::NotFound { .. }),
            )
            .await;
    }

    async fn deletions(&self, checker: &mut Checker) {
        let names = self.names;
        checker
            .ok("delete_instance", self.runtime.delete_instance(&names.main))
            .await;
        checker
            .err(
                "delete_instance twice",
                "NotFound",
                self.runtime.delete_instance(&names.main),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
        checker
            .ok(
                "delete_instance of a running instance",
                self.runtime.delete_instance(&names.labelled),
            )
            .await;
        checker
            .ok(
                "delete_profile",
                self.runtime.delete_profile(&names.profile),
            )
            .await;
        checker
            .err(
                "delete_profile twice",
                "NotFound",
                self.runtime.delete_profile(&names.profile),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
    }

    /// Deletes every instance, profile and image the suite may have created; a
    /// `NotFound` is fine, any other error fails `check`.
    async fn remove_all(&self, checker: &mut Checker, check: &str) {
        let mut problems = Vec::new();
        for name in self.names.instances() {
            match checker.bounded(self.runtime.delete_instance(name)).await {
                Ok(Ok(()) | Err(RuntimeError::NotFound { .. })) => {}
                Ok(Err(error)) => problems.push(format!("delete instance {name}: {error:?}")),
                Err(elapsed) => problems.push(format!("delete instance {name}: {elapsed}")),
            }
        }
        for profile in self.names.profiles() {
            match checker.bounded(self.runtime.delete_profile(profile)).await {
                Ok(Ok(()) | Err(RuntimeError::NotFound { .. })) => {}
                Ok(Err(error)) => problems.push(format!("delete profile {profile}: {error:?}")),
                Err(elapsed) => problems.push(format!("delete profile {profile}: {elapsed}")),
            }
        }
        for alias in self.names.images() {
            let selector = ImageSelector::Alias(alias.clone());
            let found = match checker
                .bounded(self.registry.resolve_image(&selector))
                .await
            {
                Ok(Ok(image)) => image,
                Ok(Err(RegistryError::NotFound { .. })) => continue,
                Ok(Err(error)) => {
                    problems.push(format!("resolve image {alias}: {error:?}"));
                    continue;
                }
                Err(elapsed) => {
                    problems.push(format!("resolve image {alias}: {elapsed}"));
                    continue;
                }
            };
            match checker
                .bounded(self.registry.delete_image(&found.fingerprint))
                .await
            {
                Ok(Ok(()) | Err(RegistryError::NotFound { .. })) => {}
                Ok(Err(error)) => problems.push(format!("delete image {alias}: {error:?}")),
                Err(elapsed) => problems.push(format!("delete image {alias}: {elapsed}")),
            }
        }
        problems.extend(self.remove_volumes(checker).await);
        if problems.is_empty() {
            checker.pass(check);
        } else {
            checker.fail(check, "everything removed", problems.join("; "));
        }
    }

    async fn nothing_left(&self, checker: &mut Checker) {
        let check = "no volume is left behind";
        let Some(volumes) = self.capabilities.cache_volumes.as_deref() else {
            return self.no_resource_left(checker).await;
        };
        match checker.bounded(volumes.list_volumes()).await {
            Ok(Ok(volumes)) => {
                let ours: Vec<_> = volumes
                    .iter()
                    .filter(|v| {
                        v.name
                            .as_str()
                            .starts_with(&format!("{}-v", self.fixture.prefix))
                    })
                    .map(|v| v.name.to_string())
                    .collect();
                checker.that(check, ours.is_empty(), "no leftover", format!("{ours:?}"));
            }
            Ok(Err(error)) => checker.fail(check, "no leftover", format!("{error:?}")),
            Err(elapsed) => checker.fail(check, "no leftover", elapsed),
        }
        self.no_resource_left(checker).await;
    }

    async fn no_resource_left(&self, checker: &mut Checker) {
        let check = "nothing is left behind";
        let leftovers = match checker.bounded(self.runtime.list_resources()).await {
            Ok(Ok(resources)) => resources,
            Ok(Err(error)) => return checker.fail(check, "no leftover", format!("{error:?}")),
            Err(elapsed) => return checker.fail(check, "no leftover", elapsed),
        };
        let ours: Vec<_> = leftovers
            .iter()
            .filter(|resource| self.names.owns(resource.kind, &resource.name))
            .collect();
        checker.that(check, ours.is_empty(), "no leftover", ours);
    }
}

/// Keeps a command's output, per stream.
#[derive(Default)]
struct Collected {
    chunks: std::sync::Mutex<Vec<(OutputStream, Vec<u8>)>>,
}

impl Collected {
    fn text(&self, stream: OutputStream) -> String {
        let chunks = self
            .chunks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bytes: Vec<u8> = chunks
            .iter()
            .filter(|(on, _)| *on == stream)
            .flat_map(|(_, bytes)| bytes.iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl OutputSink for Collected {
    fn output(&self, stream: OutputStream, bytes: &[u8]) {
        self.chunks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((stream, bytes.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_checked() {
        assert!(Names::new("lxpack-ct-42").is_ok());
        for bad in [
            "ct-42",
            "lxpack-",
            "lxpack-CT",
            "lxpack-a-",
            "lxpack-this-prefix-is-far-too-long",
        ] {
            assert!(Names::new(bad).is_err(), "{bad}");
        }
        let names = Names::new("lxpack-ct").unwrap();
        assert!(!names.labelled.as_str().starts_with(NAME_PREFIX));
        assert!(names.owns(ResourceKind::Instance, names.labelled.as_str()));
        assert!(names.owns(ResourceKind::Profile, names.profile.as_str()));
        assert!(!names.owns(ResourceKind::Profile, names.main.as_str()));
        assert!(!names.owns(ResourceKind::Instance, names.missing.as_str()));
    }

    #[test]
    fn the_capability_parts_names_are_the_suites_to_clean_up() {
        // The longest prefix still gives valid names.
        let names = Names::new("lxpack-ct-abcdefghijklmnopqrst").unwrap();
        let parts = names
            .standbys
            .instances()
            .into_iter()
            .chain(names.snapshots.instances());
        for instance in parts {
            assert!(names.owns(ResourceKind::Instance, instance.as_str()));
        }
        let parts = names
            .standbys
            .profiles()
            .into_iter()
            .chain(names.snapshots.profiles());
        for profile in parts {
            assert!(names.owns(ResourceKind::Profile, profile.as_str()));
        }
        // A copy made from a snapshot goes before its source.
        let all = names.instances();
        let [copy, source] = names.snapshots.instances();
        let at = |name: &InstanceName| all.iter().position(|mine| *mine == name);
        assert!(at(copy) < at(source));
    }
}
