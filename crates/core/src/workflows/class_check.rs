//! Resource classes against the host: a class that asks for more CPUs or memory than
//! the host has could never be honoured (the daemon would refuse every launch, or
//! cap nothing), so the composition root asks once, before any job, and refuses the
//! config naming the key.

use super::{WorkflowError, Workflows};

impl Workflows {
    /// Refuses a resource class whose CPU or memory cap is past what the host has.
    /// A runtime that cannot tell (no resource-class capability, or the host's
    /// figures unreadable) is not refused: the daemon then judges each launch. When no
    /// class caps CPUs or memory (the built-in default caps processes only) the host
    /// is not asked: reading its resources costs the daemon about 20 ms, on every
    /// command.
    ///
    /// # Errors
    /// `ClassPastHost` naming the first such cap's config key.
    pub async fn check_resource_classes(&self) -> Result<(), WorkflowError> {
        let Some(port) = self.ports.capabilities.resource_classes.as_deref() else {
            return Ok(());
        };
        let capped = self
            .settings
            .resources
            .classes
            .values()
            .any(|limits| limits.cpus_needed().is_some() || limits.memory_bytes().is_some());
        if !capped {
            return Ok(());
        }
        let Ok(host) = port.host_resources().await else {
            return Ok(());
        };
        for (name, limits) in &self.settings.resources.classes {
            let key = |field: &str| format!("lxpack.resources.classes.{name}.{field}");
            if let (Some(needed), Some(cpus)) = (limits.cpus_needed(), host.cpus)
                && needed > cpus
            {
                return Err(WorkflowError::ClassPastHost {
                    key: key("cpu"),
                    problem: format!(
                        "{} needs {needed} CPUs, more than the {cpus} the host has",
                        limits.cpu.as_deref().unwrap_or_default()
                    ),
                });
            }
            if let (Some(bytes), Some(memory)) = (limits.memory_bytes(), host.memory)
                && bytes > memory
            {
                return Err(WorkflowError::ClassPastHost {
                    key: key("memory"),
                    problem: format!(
                        "{} is more than the {} MiB of memory the host has",
                        limits.memory.as_deref().unwrap_or_default(),
                        memory >> 20
                    ),
                });
            }
        }
        Ok(())
    }
}
