//! Resource classes: named sets of caps (CPU, memory, processes, root disk) that every
//! instance lxpack starts runs under, builds and standbys included, so that one
//! runaway build (a fork bomb, a memory hog) cannot take the host down with it. A job
//! that dies because of its class says which limit it hit and by how much
//! ([`LimitHit`]), read from counters the runtime keeps ([`LimitReadings`]), never
//! guessed from an exit code or a signal.

use std::fmt;

use super::ResourceLimits;

/// The processes the built-in `default` class allows an instance: enough for a
/// parallel compiler or a test runner, far below what would exhaust a host's pid
/// space (a fork bomb stops here).
pub const DEFAULT_PROCESSES: u64 = 2000;

/// A size in bytes as written in a config: a number, or a number with a unit (`kB`,
/// `MB`, `GB`, `TB` in powers of 1000; `KiB`, `MiB`, `GiB`, `TiB` in powers of 1024).
///
/// # Errors
/// What is wrong with the text.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1000,
        "KiB" => 1 << 10,
        "MB" => 1000 * 1000,
        "MiB" => 1 << 20,
        "GB" => 1000 * 1000 * 1000,
        "GiB" => 1 << 30,
        "TB" => 1000 * 1000 * 1000 * 1000,
        "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use a number of bytes, or MB, MiB, GB, GiB…)"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{text:?} is not a size (e.g. 2GiB, 500MB)"))
}

impl ResourceLimits {
    /// The CPUs the host needs for the CPU cap: the count, or for a set of CPUs
    /// (`0-3`, `0,2`) its highest CPU plus one; `None` without a cap or when the text
    /// is neither.
    #[must_use]
    pub fn cpus_needed(&self) -> Option<u64> {
        let cpu = self.cpu.as_deref()?.trim();
        if let Ok(count) = cpu.parse::<u64>() {
            return Some(count);
        }
        cpu.split([',', '-'])
            .map(|part| part.trim().parse::<u64>().ok())
            .collect::<Option<Vec<u64>>>()?
            .into_iter()
            .max()
            .map(|highest| highest.saturating_add(1))
    }

    /// The memory cap in bytes; `None` without one or for a share of the host's.
    #[must_use]
    pub fn memory_bytes(&self) -> Option<u64> {
        let memory = self.memory.as_deref()?;
        if memory.trim_end().ends_with('%') {
            return None;
        }
        parse_size(memory).ok()
    }
}

/// The name of a resource class: 1 to 32 characters of `[a-z0-9_-]`, starting with a
/// letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClassName(String);

impl ClassName {
    /// The name of the built-in class every instance gets unless told otherwise.
    pub const DEFAULT: &'static str = "default";

    /// Parses a name.
    ///
    /// # Errors
    /// What is wrong with it, for the key that holds it.
    pub fn parse(text: &str) -> Result<Self, String> {
        let valid = (1..=32).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "{text:?} is not a class name: 1 to 32 of a-z, 0-9, - and _, starting with a letter"
            ))
        }
    }

    /// The built-in `default` name.
    #[must_use]
    pub fn default_name() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClassName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A class as a job uses it: its name (for messages) and its caps (for the runtime).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceClass {
    /// Its name.
    pub name: ClassName,
    /// Its caps.
    pub limits: ResourceLimits,
}

impl ResourceClass {
    /// The built-in `default` class: [`DEFAULT_PROCESSES`] processes, no CPU, memory or
    /// disk cap.
    #[must_use]
    pub fn builtin_default() -> Self {
        Self {
            name: ClassName::default_name(),
            limits: ResourceLimits {
                processes: Some(DEFAULT_PROCESSES),
                ..ResourceLimits::default()
            },
        }
    }

    /// Which of its caps `readings` show was hit, if any: memory first (a process
    /// killed by the kernel for want of memory), then processes (a fork refused at the
    /// cap, or as many running as it allows), then the root disk (full to its size,
    /// within [`DISK_FULL_MARGIN`]). That order puts the caps that leave a kernel
    /// counter first; a full disk is a level, which a step that died otherwise may
    /// also have reached on its way. A reading the runtime could not take proves
    /// nothing.
    #[must_use]
    pub fn limit_hit(&self, readings: &LimitReadings) -> Option<LimitHit> {
        self.memory_hit(readings)
            .or_else(|| self.processes_hit(readings))
            .or_else(|| self.disk_hit(readings))
    }

    /// The memory cap, when the kernel killed for it.
    fn memory_hit(&self, readings: &LimitReadings) -> Option<LimitHit> {
        if let (Some(limit), Some(kills)) = (&self.limits.memory, readings.oom_kills)
            && kills > 0
        {
            return Some(LimitHit::Memory {
                limit: limit.clone(),
                oom_kills: kills,
                peak: readings.memory_peak,
            });
        }
        None
    }

    /// The process cap, when a fork was refused or the table is full.
    fn processes_hit(&self, readings: &LimitReadings) -> Option<LimitHit> {
        let max = self.limits.processes?;
        let refused = readings.process_refusals.unwrap_or(0);
        let at_cap = readings.processes.is_some_and(|now| now >= max);
        (refused > 0 || at_cap).then_some(LimitHit::Processes {
            max,
            refusals: readings.process_refusals,
            running: readings.processes,
        })
    }

    /// The root disk size, when the disk is used to it (within [`DISK_FULL_MARGIN`]).
    fn disk_hit(&self, readings: &LimitReadings) -> Option<LimitHit> {
        let size = self.limits.root_size?;
        let used = readings.disk_used?;
        (used.saturating_add(disk_full_margin(size)) >= size)
            .then_some(LimitHit::Disk { size, used })
    }
}

/// How far under its size a root disk counts as full: 4 MiB (or a twentieth of a
/// smaller disk's size, see [`disk_full_margin`]). A pool that enforces a size
/// refuses the write that would cross it, and the usage it reports once full stays
/// under the size: the refused write's blocks, and what btrfs reserves for its own
/// metadata. Measured with `dd bs=1M` into a 64 MiB root disk on a btrfs pool: LXD
/// 5.0 reports 65,077,248 bytes used (1.94 MiB under), Incus 6.0 65,044,480 (1.97 MiB
/// under). A disk further from full than this did not stop a step.
pub const DISK_FULL_MARGIN: u64 = 4 << 20;

/// The margin for a disk of `size` bytes: [`DISK_FULL_MARGIN`], or 5% of a disk
/// smaller than 80 MiB, so that a tiny disk is not "full" while mostly empty.
fn disk_full_margin(size: u64) -> u64 {
    DISK_FULL_MARGIN.min(size / 20)
}

/// What a runtime reads of an instance's limit counters, each `None` when it cannot
/// tell. Counters count from the instance's start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitReadings {
    /// Processes the kernel killed because the instance was out of memory.
    pub oom_kills: Option<u64>,
    /// The most memory the instance used, in bytes.
    pub memory_peak: Option<u64>,
    /// Forks refused because the instance ran as many processes as its cap allows.
    pub process_refusals: Option<u64>,
    /// Processes running now.
    pub processes: Option<u64>,
    /// Bytes used on the root disk now (on a pool that reports it).
    pub disk_used: Option<u64>,
}

/// Which cap of its class stopped a step, and by how much.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitHit {
    /// Out of memory: the kernel killed processes at the memory cap.
    Memory {
        /// The cap, as configured.
        limit: String,
        /// Processes killed.
        oom_kills: u64,
        /// The most used, in bytes, when known.
        peak: Option<u64>,
    },
    /// The process cap: forks were refused.
    Processes {
        /// The cap.
        max: u64,
        /// Forks refused, when known.
        refusals: Option<u64>,
        /// Processes running when it was read, when known.
        running: Option<u64>,
    },
    /// Disk full: the root disk is used to its size.
    Disk {
        /// The root disk's size, in bytes.
        size: u64,
        /// Bytes used when it was read.
        used: u64,
    },
}

impl LimitHit {
    /// The config field of the class that was hit (`memory`, `processes`, `disk`).
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            Self::Memory { .. } => "memory",
            Self::Processes { .. } => "processes",
            Self::Disk { .. } => "disk",
        }
    }
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory {
                limit,
                oom_kills,
                peak,
            } => {
                write!(
                    f,
                    "out of memory: memory limit {limit} reached, {oom_kills} process(es) killed by the kernel"
                )?;
                if let Some(peak) = peak {
                    write!(f, ", peak use {} MiB", peak / (1 << 20))?;
                }
                Ok(())
            }
            Self::Processes {
                max,
                refusals,
                running,
            } => {
                write!(f, "process limit reached: processes {max}")?;
                if let Some(refusals) = refusals {
                    write!(f, ", {refusals} fork(s) refused")?;
                }
                if let Some(running) = running {
                    write!(f, ", {running} running")?;
                }
                Ok(())
            }
            Self::Disk { size, used } => write!(
                f,
                "disk full: root disk {}, {} used",
                mebibytes(*size),
                mebibytes(*used)
            ),
        }
    }
}

/// `n` bytes in MiB, to a tenth (`63.9 MiB`), or whole when round (`64 MiB`).
fn mebibytes(n: u64) -> String {
    let tenths = (u128::from(n) * 10 + (1 << 19)) >> 20;
    if tenths % 10 == 0 {
        format!("{} MiB", tenths / 10)
    } else {
        format!("{}.{} MiB", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(memory: Option<&str>, processes: Option<u64>) -> ResourceClass {
        ResourceClass {
            name: ClassName::parse("small").unwrap(),
            limits: ResourceLimits {
                memory: memory.map(str::to_owned),
                processes,
                ..ResourceLimits::default()
            },
        }
    }

    #[test]
    fn cpu_caps_need_as_many_cpus_as_they_name() {
        let cpu = |text: &str| ResourceLimits {
            cpu: Some(text.to_owned()),
            ..ResourceLimits::default()
        };
        assert_eq!(cpu("2").cpus_needed(), Some(2));
        assert_eq!(cpu("0-3").cpus_needed(), Some(4));
        assert_eq!(cpu("0,5").cpus_needed(), Some(6));
        assert_eq!(cpu("x").cpus_needed(), None);
        assert_eq!(ResourceLimits::default().cpus_needed(), None);
    }

    #[test]
    fn memory_caps_read_as_bytes_unless_a_share() {
        let memory = |text: &str| ResourceLimits {
            memory: Some(text.to_owned()),
            ..ResourceLimits::default()
        };
        assert_eq!(memory("2GiB").memory_bytes(), Some(2 << 30));
        assert_eq!(memory("500MB").memory_bytes(), Some(500_000_000));
        assert_eq!(memory("50%").memory_bytes(), None);
        assert!(parse_size("3 parsecs").is_err());
        assert!(parse_size("99999999999999999999").is_err());
    }

    #[test]
    fn class_names_are_short_lowercase_words() {
        assert!(ClassName::parse("small").is_ok());
        assert!(ClassName::parse("build_2-x").is_ok());
        for bad in ["", "Small", "2big", "a b", "a.b", &"x".repeat(33)] {
            assert!(ClassName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_builtin_default_caps_processes_only() {
        let default = ResourceClass::builtin_default();
        assert_eq!(default.name.as_str(), "default");
        assert_eq!(default.limits.processes, Some(DEFAULT_PROCESSES));
        assert_eq!(default.limits.memory, None);
        assert_eq!(default.limits.cpu, None);
        assert_eq!(default.limits.root_size, None);
    }

    #[test]
    fn an_oom_kill_under_a_memory_cap_is_out_of_memory() {
        let readings = LimitReadings {
            oom_kills: Some(1),
            memory_peak: Some(64 << 20),
            ..LimitReadings::default()
        };
        let hit = class(Some("64MiB"), Some(100))
            .limit_hit(&readings)
            .unwrap();
        assert_eq!(hit.field(), "memory");
        assert_eq!(
            hit.to_string(),
            "out of memory: memory limit 64MiB reached, 1 process(es) killed by the kernel, peak use 64 MiB"
        );
        // Without a memory cap the class did not do it.
        assert_eq!(class(None, None).limit_hit(&readings), None);
    }

    #[test]
    fn refused_forks_or_a_full_table_are_the_process_limit() {
        let refused = LimitReadings {
            process_refusals: Some(26),
            processes: Some(49),
            ..LimitReadings::default()
        };
        let hit = class(None, Some(50)).limit_hit(&refused).unwrap();
        assert_eq!(
            hit.to_string(),
            "process limit reached: processes 50, 26 fork(s) refused, 49 running"
        );
        let full = LimitReadings {
            processes: Some(50),
            ..LimitReadings::default()
        };
        assert_eq!(
            class(None, Some(50)).limit_hit(&full).unwrap().field(),
            "processes"
        );
    }

    fn disk_class(size: u64) -> ResourceClass {
        ResourceClass {
            name: ClassName::parse("small").unwrap(),
            limits: ResourceLimits {
                root_size: Some(size),
                processes: Some(50),
                ..ResourceLimits::default()
            },
        }
    }

    fn used(bytes: u64) -> LimitReadings {
        LimitReadings {
            process_refusals: Some(0),
            processes: Some(2),
            disk_used: Some(bytes),
            ..LimitReadings::default()
        }
    }

    #[test]
    fn a_root_disk_used_to_its_size_is_disk_full() {
        let size = 64 << 20;
        let hit = disk_class(size)
            .limit_hit(&used(size - (100 << 10)))
            .unwrap();
        assert_eq!(hit.field(), "disk");
        assert_eq!(
            hit,
            LimitHit::Disk {
                size,
                used: size - (100 << 10)
            }
        );
        assert_eq!(
            hit.to_string(),
            "disk full: root disk 64 MiB, 63.9 MiB used"
        );
        // At or past the size, and within the margin under it, it is full.
        let big = 1 << 30;
        assert!(disk_class(big).limit_hit(&used(big + 1)).is_some());
        assert!(
            disk_class(big)
                .limit_hit(&used(big - DISK_FULL_MARGIN))
                .is_some()
        );
        // Further under it, it is not; nor without a size, or without a reading.
        assert_eq!(
            disk_class(big).limit_hit(&used(big - DISK_FULL_MARGIN - 1)),
            None
        );
        assert_eq!(class(None, Some(50)).limit_hit(&used(size)), None);
        assert_eq!(disk_class(size).limit_hit(&LimitReadings::default()), None);
    }

    #[test]
    fn a_small_disk_counts_full_within_a_twentieth_of_its_size() {
        let size = 10 << 20;
        assert!(
            disk_class(size)
                .limit_hit(&used(size - size / 20))
                .is_some()
        );
        assert_eq!(
            disk_class(size).limit_hit(&used(size - size / 20 - 1)),
            None
        );
        // The figures measured on btrfs at 64 MiB (5% is 3.2 MiB there) are full.
        assert!(disk_class(64 << 20).limit_hit(&used(65_044_480)).is_some());
    }

    #[test]
    fn the_kernel_counters_come_before_a_full_disk() {
        let both = LimitReadings {
            process_refusals: Some(3),
            ..used(64 << 20)
        };
        assert_eq!(
            disk_class(64 << 20).limit_hit(&both).unwrap().field(),
            "processes"
        );
    }

    #[test]
    fn quiet_counters_or_unknown_ones_prove_nothing() {
        let quiet = LimitReadings {
            oom_kills: Some(0),
            process_refusals: Some(0),
            processes: Some(3),
            memory_peak: Some(1 << 20),
            disk_used: Some(1 << 20),
        };
        assert_eq!(class(Some("64MiB"), Some(50)).limit_hit(&quiet), None);
        assert_eq!(
            class(Some("64MiB"), Some(50)).limit_hit(&LimitReadings::default()),
            None
        );
    }
}
