//! On a cluster, lxpack talks to one member and the cluster forwards each call about
//! an instance to the member that holds it. When that member's daemon stops or
//! freezes, the member we talk to still answers, but in words about cluster plumbing
//! ("Missing event connection with target cluster member"), or not at all for a
//! forwarded wait. An operator needs to read which member is in trouble, as "daemon
//! unreachable", not a refusal or a 300 s timeout: so the client remembers where each
//! of its instances runs, and a failure the member explains is told as that member
//! being unreachable, with what the cluster knows of it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use lxpack_core::domain::{ClusterMember, MemberName};
use lxpack_core::ports::Unreachable;

use crate::classify::Cause;
use crate::client::LxdClient;
use crate::errors::CallError;
use crate::reply::{Member, member_of};

/// Instance name → the member that holds it, for the instances a client launched.
#[derive(Debug, Default)]
pub(crate) struct Placements(Mutex<HashMap<String, String>>);

impl Placements {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A poisoned lock only means another call panicked mid-insert: the map is whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn remember(&self, instance: &str, member: &str) {
        self.map().insert(instance.to_owned(), member.to_owned());
    }

    pub(crate) fn member_of(&self, instance: &str) -> Option<String> {
        self.map().get(instance).cloned()
    }
}

/// Whether `error` may be the absence of the member that holds the instance, rather
/// than a refusal of the request.
fn may_be_the_member(error: &CallError) -> bool {
    match error {
        CallError::Daemon(refusal) => refusal.cause() == Cause::MemberUnreachable,
        CallError::Deadline(_) | CallError::Transport(_) => true,
        CallError::Unexpected(_) => false,
    }
}

/// What went wrong, in words, for the member's error.
fn what_happened(error: &CallError) -> String {
    match error {
        CallError::Daemon(refusal) => format!("the cluster says: {}", refusal.message),
        CallError::Deadline(after) => format!("it did not answer within {after:?}"),
        CallError::Transport(unreachable) => unreachable.reason.clone(),
        CallError::Unexpected(message) => message.clone(),
    }
}

/// The error of a member that cannot be reached.
pub(crate) fn member_unreachable(member: &Member, instance: &str, reason: String) -> Unreachable {
    let name = &member.server_name;
    Unreachable {
        endpoint: format!(
            "cluster member {name} ({}, which holds {instance})",
            member.url
        ),
        reason,
        hint: format!(
            "start (or thaw) the daemon of member {name}; `incus cluster list` (or `lxc \
             cluster list`) shows the members' state, `lxpack doctor` too. Once {name} is \
             back, `lxpack gc` removes what the job left there"
        ),
    }
}

impl LxdClient {
    /// The members of the cluster; none when the daemon is not clustered.
    pub(crate) async fn members(&self) -> Result<Vec<Member>, CallError> {
        if !self.server().await?.environment.server_clustered {
            return Ok(Vec::new());
        }
        self.sync(self.api().cluster_members()).await
    }

    /// Remembers where the daemon put `instance` (its create operation's location).
    pub(crate) fn remember_placement(&self, instance: &str, location: &str) -> Option<MemberName> {
        let member = member_of(location)?;
        self.placements().remember(instance, member);
        MemberName::parse(member).ok()
    }

    /// A failed call about `instance`, told as the member that holds it being
    /// unreachable when that explains it: the instance is on a known member (or a
    /// launch targets one), the failure is one a missing member gives, and the member
    /// we talk to answers for the cluster (else the failure is its own, and stays as
    /// it is).
    pub(crate) async fn blame_member(&self, instance: &str, error: CallError) -> CallError {
        let member = self.placements().member_of(instance).or_else(|| {
            self.options()
                .target
                .clone()
                .filter(|target| !target.starts_with('@'))
        });
        let Some(member) = member.filter(|_| may_be_the_member(&error)) else {
            return error;
        };
        let Ok(state) = self
            .sync::<Member>(self.api().cluster_member(&member))
            .await
        else {
            return error;
        };
        let reason = if state.status == "Online" {
            what_happened(&error)
        } else {
            format!(
                "the cluster reports it {} ({}); {}",
                state.status.to_lowercase(),
                state.message,
                what_happened(&error)
            )
        };
        CallError::Transport(member_unreachable(&state, instance, reason))
    }
}

/// A member as the core sees it; `None` for a name the core cannot take.
pub(crate) fn cluster_member(member: Member) -> Option<ClusterMember> {
    Some(ClusterMember {
        name: MemberName::parse(&member.server_name).ok()?,
        url: member.url,
        status: member.status,
        message: member.message,
        groups: member.groups,
    })
}

#[cfg(test)]
mod tests;
