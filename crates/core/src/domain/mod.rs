//! The domain: validated values and the pure rules over them (names, environment,
//! AMI ownership, retention). Nothing here performs I/O.

mod ami;
mod app;
mod app_ref;
mod cache;
mod cluster;
mod digest_id;
mod error;
mod exec;
mod guest_path;
mod image;
mod job;
mod job_id;
mod lease;
mod names;
mod network;
mod newest_job;
mod path_text;
mod resource_class;
mod resources;
mod retention;
mod secrets;
mod standby;
mod step_snapshot;
pub(crate) mod text;
mod utc;

pub use ami::{Ami, AmiId, AmiState, OsIdentity, OsType};
pub use app::{
    App, AppKey, BuildInfos, Color, EnvVar, Feature, LifecycleHooks, Module, Provisioner, Script,
};
pub use app_ref::{AppRef, AppRefError};
pub use cache::{
    CacheId, CacheKey, CacheLabel, CacheMark, CacheState, CacheVolume, CacheWaste, VolumeName,
    current_generation, evictions, promotion, wasted_volumes,
};
pub use cluster::{ClusterMember, MemberName, PlacementTarget, volumes_reach_instances};
pub use error::ValidationError;
pub use exec::{
    ExecRequest, FileSpec, OutputStream, Owner, SessionInput, SessionRequest, WindowSize,
};
pub use guest_path::{GuestPath, ModulePath};
pub use image::{
    Fingerprint, Image, ImageAlias, ImageRef, ImageSelector, Provenance, RemoteProtocol,
    RemoteServer, property,
};
pub use job::{JobRecord, JobRunner, JobStatus, KeptInstance, Release, ReleaseState, StepTiming};
pub use job_id::JobId;
pub use lease::{LEASE_EXPIRY, LEASE_RENEWAL, LeaseState};
pub use names::{InstanceName, JobCommand, NAME_PREFIX, ProfileName};
pub use network::{
    ALWAYS_DENIED, AclName, Cidr, DefaultBridge, EgressNetwork, EgressRule, EgressState,
    NetworkAttachment, NetworkMode, NetworkName, NetworkPolicy, NetworkRefusal, PolicyScope,
    PortRange, Protocol, egress_rules,
};
pub use newest_job::{ReplaceDecision, decide_replacement, newest_image};
pub use path_text::{check_host_path, path_text_problem};
pub use resource_class::{
    ClassName, DEFAULT_PROCESSES, DISK_FULL_MARGIN, LimitHit, LimitReadings, ResourceClass,
    parse_size,
};
pub use resources::{
    DiskMount, Isolation, LabelKey, Labels, LaunchSpec, MountSource, ProfileSpec, ResourceLimits,
    SnapshotSource,
};
pub use retention::{
    AmiKnowledge, DeletionReason, Doomed, RetentionPlan, RetentionPolicy, plan_retention,
};
pub use secrets::{
    AppSecrets, MASK, MIN_SECRET_LEN, SECRETS_DIR, SecretError, SecretMasker, SecretPattern,
    SecretRule, StreamMasker, check_secret_name,
};
pub use standby::{
    PoolId, PoolKey, RetireReason, StandbyLabel, StandbyMark, StandbyPool, StandbyState,
    claim_order, claimable, staleness, unchanged_standby,
};
pub use step_snapshot::{ResumePoint, StepInputs, StepKey, resume_point, step_keys};
pub use utc::UtcDateTime;
