//! The job processes of this host, read from /proc: who runs a job here, and whether a
//! job recorded by a process of this same boot still has its process. It lets `lxpack
//! gc` record a killed lxpack's job as lost at once, instead of hours later.

use lxpack_core::domain::JobRunner;
use lxpack_core::ports::RunnerProbe;

/// This host's processes, as /proc tells them. Runners of another host or another boot
/// are of unknown fate: their process ids mean nothing here.
#[derive(Debug, Clone)]
pub struct LocalProcesses {
    host: Option<String>,
}

impl LocalProcesses {
    /// The probe for this host and boot (the host is the hostname and the kernel's boot
    /// id; without /proc, it knows nothing).
    #[must_use]
    pub fn new() -> Self {
        let boot = read_trimmed("/proc/sys/kernel/random/boot_id");
        let name = read_trimmed("/proc/sys/kernel/hostname");
        Self {
            host: boot.map(|boot| format!("{}#{boot}", name.unwrap_or_default())),
        }
    }
}

impl Default for LocalProcesses {
    fn default() -> Self {
        Self::new()
    }
}

impl RunnerProbe for LocalProcesses {
    fn current(&self) -> Option<JobRunner> {
        let pid = std::process::id();
        Some(JobRunner {
            host: self.host.clone()?,
            pid,
            started: process_start(pid)?,
        })
    }

    fn is_alive(&self, runner: &JobRunner) -> Option<bool> {
        if self.host.as_deref() != Some(runner.host.as_str()) {
            return None;
        }
        // Gone, or its pid reused by a process that started at another time.
        Some(process_start(runner.pid) == Some(runner.started))
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

/// When process `pid` started, in clock ticks since boot: field 22 of its
/// `/proc/PID/stat`, read after the command name (which may hold spaces and parentheses).
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_not() {
        let probe = LocalProcesses::new();
        let me = probe.current().expect("this host has /proc");
        assert_eq!(me.pid, std::process::id());
        assert_eq!(probe.is_alive(&me), Some(true));

        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let started = process_start(pid);
        child.wait().unwrap();
        let gone = JobRunner {
            pid,
            started: started.unwrap_or(0),
            ..me.clone()
        };
        assert_eq!(probe.is_alive(&gone), Some(false));

        let reused = JobRunner {
            started: me.started + 1,
            ..me.clone()
        };
        assert_eq!(
            probe.is_alive(&reused),
            Some(false),
            "a reused pid is not the job's"
        );

        let elsewhere = JobRunner {
            host: "other-host#boot".into(),
            ..me
        };
        assert_eq!(probe.is_alive(&elsewhere), None);
    }

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped() {
        // The format of /proc/PID/stat: the name is in parentheses and may contain both.
        let line = "123 (a (b) c) S 1 123 123 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 0 0";
        let after = &line[line.rfind(')').unwrap() + 1..];
        assert_eq!(after.split_whitespace().nth(19), Some("98765"));
    }
}
