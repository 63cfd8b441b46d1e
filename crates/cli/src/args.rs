//! The command line, as clap derive structs: their doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Run pipeline build steps in throwaway LXD or Incus containers.
///
/// lxpack builds a container-image twin of each AMI (buildimage) and runs modules'
/// buildpacks in fresh containers from it (deploy), with Cloud Deploy's config and app
/// documents. Run `lxpack doctor` first on a new host.
#[derive(Debug, Parser)]
#[command(
    name = "lxpack",
    version,
    propagate_version = true,
    max_term_width = 100,
    after_long_help = "Exit codes: 0 success, 1 failure, 2 usage, 3 config, 4 input (app file, app, \
module, checkout), 5 daemon unreachable, 6 no suitable image, 7 a hook, the features or the \
buildpack exited non-zero (the build failed), 8 timeout, 9 cleanup failed, 10 AWS, 11 store, \
12 doctor found problems, 13 the daemon refused or failed an operation (the infrastructure \
failed: image server unreachable, profile rejected, instance did not start), 14 a step was \
stopped by its resource class (out of memory, process limit), 130 cancelled. \
`lxpack shell` exits with its command's own code once the command ran.\n\
Every code, and what to do about it: docs/operator-guide.md."
)]
pub struct Cli {
    /// Config file [default: $LXPACK_CONFIG, then $XDG_CONFIG_HOME/lxpack/config.yml,
    /// else built-in defaults]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// App and job store: a SQLite file, or postgres://USER@HOST:PORT/DATABASE shared by
    /// several build hosts (its password from lxpack.store_password) [default:
    /// lxpack.store from the config, then $XDG_DATA_HOME/lxpack/lxpack.db]
    #[arg(long, global = true, value_name = "FILE|URL")]
    pub store: Option<PathBuf>,

    /// Print one JSON object per event, then the result, instead of text
    #[arg(long, global = true)]
    pub json: bool,

    /// More diagnostics on stderr (-v: debug, -vv: trace); RUST_LOG also works
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that this host can run lxpack, and say how to fix what is missing
    Doctor,
    /// Import, list, show, export and remove apps
    #[command(subcommand)]
    App(AppCommand),
    /// Build the container-image twin of an AMI for an app
    Buildimage(BuildimageArgs),
    /// Run a module's buildpack in a container from the app's image
    Deploy(DeployArgs),
    /// List container images, or purge an app's old ones
    Images(ImagesArgs),
    /// Remove what no job needs any more: instances, profiles, standbys, cache volumes
    /// and step-snapshot holders
    ///
    /// Only what carries lxpack's labels: the instances and profiles of ended jobs (a
    /// kept one after lxpack.keep.expiry); stale standbys, and those that never became
    /// ready; cache volumes no job needs (ended jobs' copies, superseded generations,
    /// and the least recently saved caches past lxpack.cache.budget); step-snapshot
    /// holders whose image is gone. A job still recorded as running whose process is
    /// gone is recorded as lost at once when it ran on this host since its boot,
    /// otherwise once it has run longer than any job can (the sum of lxpack.timeouts,
    /// plus 30 min).
    Gc(GcArgs),
    /// List, fill or drain the standby pools (lxpack.pool): containers started ahead
    /// of time so that deploys start warm
    #[command(subcommand)]
    Pool(PoolCommand),
    /// List or purge the deploys' dependency caches (lxpack.cache)
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Show the job history, or one job's log
    Jobs(JobsArgs),
    /// Prepare the store, or copy a host's store into another (SQLite into PostgreSQL)
    #[command(subcommand)]
    Store(StoreCommand),
    /// Open a shell, or run a command, in the container a job kept
    ///
    /// The container of a job run with --keep, with --keep-on-failure (when it failed)
    /// or with container.debug. On a terminal the session gets a pseudo-terminal of
    /// the window's size, resized with it; otherwise stdin, stdout and stderr are
    /// plain pipes. lxpack exits with the command's own exit code.
    Shell(ShellArgs),
    /// Write the job, image and kept-container metrics in Prometheus' text format
    Metrics(MetricsArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell
    ///
    /// Load it for this shell session, or install it where the shell looks:
    /// `source <(lxpack completions bash)`;
    /// `lxpack completions zsh > ~/.zfunc/_lxpack` (with `fpath+=~/.zfunc` before
    /// `compinit`); `lxpack completions fish > ~/.config/fish/completions/lxpack.fish`.
    /// The Debian package installs bash, zsh and fish completions already.
    Completions(CompletionsArgs),
    /// Write the manual pages of lxpack and every subcommand (packaging)
    #[command(hide = true)]
    Manpages(ManpagesArgs),
}

/// `lxpack shell`
#[derive(Debug, Args)]
pub struct ShellArgs {
    /// The job whose kept container to enter
    pub job: String,
    /// Limit the session to this many seconds (it is then sent SIGTERM, then SIGKILL)
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// The command and its arguments [default: the container's login shell: bash if
    /// it has one, else sh]
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// `lxpack metrics`
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// Write to FILE (atomically: a temporary file beside it, then renamed), e.g. in
    /// node_exporter's textfile directory [default: stdout]
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `lxpack completions`
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `lxpack manpages` (hidden: packaging runs it, see scripts/package)
#[derive(Debug, Args)]
pub struct ManpagesArgs {
    /// The directory to write `lxpack.1`, `lxpack-deploy.1`… into (created if missing)
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

/// `lxpack app …`
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Import Cloud Deploy app documents (JSON or YAML); re-importing updates the app
    Import {
        /// App documents: one app, or a list of apps, per file
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// List the apps
    List,
    /// Show one app
    Show {
        /// NAME, or NAME/ENV/ROLE when several apps share the name
        app: String,
    },
    /// Print an app as a Cloud Deploy document
    Export {
        /// NAME, or NAME/ENV/ROLE
        app: String,
        /// Document format
        #[arg(long, value_enum, default_value_t = DocumentFormatArg::Yaml)]
        format: DocumentFormatArg,
    },
    /// Remove an app (its images stay until purged)
    Remove {
        /// NAME, or NAME/ENV/ROLE
        app: String,
    },
}

/// Output format of `app export`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DocumentFormatArg {
    /// JSON, as Cloud Deploy's API speaks it
    Json,
    /// YAML
    Yaml,
}

/// Options shared by jobs.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// Job id: 24 lowercase hex digits [default: a new one]
    #[arg(long, value_name = "ID")]
    pub job: Option<String>,
    /// Keep the container and its profile afterwards, for debugging (`lxpack shell JOB`
    /// opens a shell in it; `lxpack gc` removes it after lxpack.keep.expiry)
    #[arg(long)]
    pub keep: bool,
    /// Keep the container and its profile only if the job fails (also
    /// lxpack.keep.on_failure: true)
    #[arg(long)]
    pub keep_on_failure: bool,
}

/// `lxpack buildimage`
#[derive(Debug, Args)]
pub struct BuildimageArgs {
    /// NAME, or NAME/ENV/ROLE
    pub app: String,
    /// The AMI this image is the twin of [default: the app's build_infos.source_ami]
    #[arg(long, value_name = "AMI")]
    pub ami: Option<String>,
    /// The AMI's OS as FAMILY/RELEASE[/ARCH] (e.g. debian/12), when AWS is not
    /// configured and the app names no source image
    #[arg(long, value_name = "OS")]
    pub os: Option<String>,
    /// Run every step, even those an earlier build's snapshots hold
    /// (lxpack.buildimage.step_snapshots); the steps are still snapshotted
    #[arg(long)]
    pub no_cache: bool,
    /// The job id, and whether to keep the container.
    #[command(flatten)]
    pub job: JobArgs,
}

/// `lxpack deploy`
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// NAME, or NAME/ENV/ROLE
    pub app: String,
    /// The module whose buildpack runs
    #[arg(long, value_name = "NAME")]
    pub module: String,
    /// The module's checkout on this host, mounted at the module's path
    #[arg(long, value_name = "DIR")]
    pub checkout: PathBuf,
    /// The job id, and whether to keep the container.
    #[command(flatten)]
    pub job: JobArgs,
}

/// `lxpack images`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ImagesArgs {
    /// Only this app's images
    pub app: Option<String>,
    /// Purge instead of listing.
    #[command(subcommand)]
    pub command: Option<ImagesCommand>,
}

/// `lxpack images purge`
#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Delete an app's images whose AMI is gone or beyond ami_retention
    Purge {
        /// NAME, or NAME/ENV/ROLE
        app: String,
        /// Say what would be deleted, and delete nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// `lxpack gc`
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Say what would be removed, and remove nothing
    #[arg(long)]
    pub dry_run: bool,
}

/// `lxpack pool …`
#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// List the pools on the daemon and their standbys
    List {
        /// Only this app's pools (NAME, or NAME/ENV/ROLE)
        app: Option<String>,
    },
    /// Start the standbys an app's pool lacks, and retire its stale ones
    ///
    /// A deploy that takes a standby (or finds none) runs this in the background by
    /// itself; run it by hand to fill a pool before the first deploy, or from a
    /// timer. Fills on one host take turns.
    Fill {
        /// NAME, or NAME/ENV/ROLE
        app: String,
        /// Fill to this many standbys, at most 64 [default: lxpack.pool's size for the
        /// app]
        #[arg(long, value_name = "N")]
        size: Option<u64>,
        /// The checkouts' owner, on a daemon whose standbys map it from their start
        /// (no idmapped mounts: LXD) [default: the owners the app's standbys map now]
        #[arg(long, value_name = "UID:GID", conflicts_with = "checkout")]
        owner: Option<String>,
        /// Take the owner from this checkout directory instead
        #[arg(long, value_name = "DIR")]
        checkout: Option<PathBuf>,
    },
    /// Retire the waiting standbys of an app's pools, or of every pool
    Drain {
        /// NAME, or NAME/ENV/ROLE
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        app: Option<String>,
        /// Every app's pools
        #[arg(long)]
        all: bool,
        /// Say what would be retired, and retire nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// `lxpack cache …`
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List the caches: each module path's current generation, the job that saved it
    /// and its size
    List,
    /// Remove an app's caches (or one module's): the next deploy starts empty
    ///
    /// Every generation goes, and every job's copy that no container mounts; a
    /// running deploy's copy stays (and is reported).
    Purge {
        /// NAME, or NAME/ENV/ROLE
        app: String,
        /// Only this module's caches
        #[arg(long, value_name = "MODULE")]
        module: Option<String>,
        /// Say what would be removed, and remove nothing
        #[arg(long)]
        dry_run: bool,
    },
}

/// `lxpack store …`
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Open the store (--store, else lxpack.store), creating it or upgrading its
    /// schema to this lxpack's; several hosts may run it at once
    Migrate,
    /// Copy every app (with its current image) and job record of one store into
    /// another; run it again at any time: an app keeps the newer image of the two, and
    /// a job the target has already is kept unless the source saw it end since
    Copy {
        /// The store to read: a SQLite file, or a postgres:// URL
        #[arg(long, value_name = "FILE|URL")]
        from: PathBuf,
        /// The store to write (created or upgraded first): a SQLite file, or a
        /// postgres:// URL (its password from lxpack.store_password)
        #[arg(long, value_name = "FILE|URL")]
        to: PathBuf,
    },
}

/// `lxpack jobs`
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct JobsArgs {
    /// Only this app's jobs
    pub app: Option<String>,
    /// Show a log instead of the list.
    #[command(subcommand)]
    pub command: Option<JobsCommand>,
}

/// `lxpack jobs log`
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// Print a job's full output
    Log {
        /// The job id
        job: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn images_takes_an_app_or_purge() {
        let cli = Cli::try_parse_from(["lxpack", "images", "web"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Images(ImagesArgs {
                app: Some(_),
                command: None
            })
        ));
        let cli = Cli::try_parse_from(["lxpack", "images", "purge", "web", "--dry-run"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Images(ImagesArgs {
                command: Some(ImagesCommand::Purge { dry_run: true, .. }),
                ..
            })
        ));
        assert!(Cli::try_parse_from(["lxpack", "deploy", "web", "--module", "m"]).is_err());
    }

    #[test]
    fn shell_takes_a_job_and_a_command_after_two_dashes() {
        let cli =
            Cli::try_parse_from(["lxpack", "shell", "j1", "--", "sh", "-c", "exit 7"]).unwrap();
        let Command::Shell(args) = cli.command else {
            panic!("not shell")
        };
        assert_eq!(args.job, "j1");
        assert_eq!(args.command, ["sh", "-c", "exit 7"]);
        let cli = Cli::try_parse_from(["lxpack", "shell", "j1"]).unwrap();
        assert!(
            matches!(cli.command, Command::Shell(ShellArgs { ref command, .. }) if command.is_empty())
        );
    }
}
