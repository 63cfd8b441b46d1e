//! Telling an AMI's operating system from what EC2 says about it.
//!
//! EC2 has no field for the distribution: an AMI only has a name, a description, tags and
//! `Platform`/`PlatformDetails` (which say Windows, and sometimes RHEL or SUSE). Buildimage
//! needs the family and release to pick a matching container image, so these rules read
//! them, in order, from:
//! 1. the tags the operator controls (`os_family` and `os_release` by default);
//! 2. the names of well-known public AMIs (Debian, Ubuntu, Amazon Linux, RHEL, CentOS,
//!    Rocky, Alma, Oracle, Fedora, SUSE, openSUSE, Windows). Cloud Deploy's own
//!    `ami.{env}.{region}.{role}.{name}…` names carry no OS and are not read, so that an
//!    app called `debian-mirror` is not taken for Debian;
//! 3. the description;
//! 4. `PlatformDetails` (`Red Hat Enterprise Linux`, `SUSE Linux`, `Windows…`).
//!
//! The family is spelled as LXD's image servers spell their `os` property, lower-cased
//! (`debian`, `ubuntu`, `amazonlinux`, `centos`, `rockylinux`, `almalinux`, `oracle`,
//! `fedora`, `opensuse`), with `rhel`, `sles` and `windows` for the rest. The release is
//! the one container images are published for: the major for Debian and the RHEL family
//! (`12`, `9`), `YY.MM` for Ubuntu, `2`/`2023` for Amazon Linux, `15.5` for SLES 15 SP5
//! and openSUSE Leap 15.5, the year for Windows Server.
//!
//! Everything here is pure, so that the rules are tested over real AMI names without EC2.

use lxpack_core::domain::{OsIdentity, OsType};

/// The tags an operator sets on an AMI to state its OS, which win over every guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsTagKeys {
    /// The tag holding the family, e.g. `debian` (default `os_family`).
    pub family: String,
    /// The tag holding the release, e.g. `12` (default `os_release`).
    pub release: String,
}

impl Default for OsTagKeys {
    fn default() -> Self {
        Self {
            family: "os_family".to_owned(),
            release: "os_release".to_owned(),
        }
    }
}

/// What EC2 says about an AMI that bears on its OS. Absent fields are empty strings.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AmiFacts<'a> {
    /// `Name`.
    pub(crate) name: &'a str,
    /// `Description`.
    pub(crate) description: &'a str,
    /// `Platform`: `windows` or empty.
    pub(crate) platform: &'a str,
    /// `PlatformDetails`, e.g. `Linux/UNIX`, `Red Hat Enterprise Linux`, `Windows`.
    pub(crate) platform_details: &'a str,
    /// `Architecture`, e.g. `x86_64`, `arm64`.
    pub(crate) architecture: &'a str,
    /// `Tags`, as key/value pairs.
    pub(crate) tags: &'a [(String, String)],
}

/// Why the family could not be told: what was looked at, and which tag would settle it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unidentified {
    /// The name, description, platform and tags that were read.
    pub(crate) seen: String,
    /// The tags to set.
    pub(crate) hint: String,
}

/// The OS identity of an AMI, or why its family cannot be told.
pub(crate) fn identify(facts: &AmiFacts<'_>, keys: &OsTagKeys) -> Result<OsIdentity, Unidentified> {
    let family_tag = tag(facts.tags, &keys.family).map(normalise_family);
    let release_tag = tag(facts.tags, &keys.release).map(str::to_owned);
    let name = if is_cloud_deploy_name(facts.name) {
        None
    } else {
        detect(facts.name)
    };
    let guesses: Vec<Found> = [
        name,
        detect(facts.description),
        detect_platform_details(facts.platform_details),
    ]
    .into_iter()
    .flatten()
    .collect();

    let windows_platform = is_windows_platform(facts);
    let family = match (family_tag, guesses.first()) {
        (Some(family), _) => family,
        (None, Some(found)) => found.family.to_owned(),
        (None, None) if windows_platform => "windows".to_owned(),
        (None, None) => return Err(unidentified(facts, keys)),
    };
    let release = release_tag.unwrap_or_else(|| {
        guesses
            .iter()
            .filter(|found| found.family == family && !found.release.is_empty())
            .map(|found| found.release.clone())
            .next()
            .unwrap_or_default()
    });
    let os_type = if windows_platform || family == "windows" {
        OsType::Windows
    } else {
        OsType::Linux
    };
    Ok(OsIdentity::new(
        os_type,
        &family,
        &release,
        facts.architecture,
    ))
}

/// The OS type alone, for an AMI whose family cannot be told (listings keep it with an
/// empty family rather than failing).
pub(crate) fn os_type(facts: &AmiFacts<'_>) -> OsType {
    if is_windows_platform(facts) {
        OsType::Windows
    } else {
        OsType::Linux
    }
}

fn is_windows_platform(facts: &AmiFacts<'_>) -> bool {
    facts.platform.trim().eq_ignore_ascii_case("windows")
        || facts
            .platform_details
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("windows")
}

/// Cloud Deploy names its AMIs `ami.{env}.{region}.{role}.{name}…`: nothing in there is
/// about the OS.
fn is_cloud_deploy_name(name: &str) -> bool {
    name.starts_with("ami.")
}

/// A tag's value, the key compared without regard to case; empty values count as absent.
fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(k, _)| k == key)
        .or_else(|| tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)))
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// A family as an operator may write it in a tag, in the spelling the rules produce.
fn normalise_family(text: &str) -> String {
    let squashed: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let canonical = match squashed.as_str() {
        "amazonlinux" | "amazon" | "amzn" | "al" => "amazonlinux",
        "rocky" | "rockylinux" => "rockylinux",
        "alma" | "almalinux" => "almalinux",
        "rhel" | "redhat" | "redhatenterpriselinux" => "rhel",
        "sles" | "suse" | "suselinux" | "suselinuxenterpriseserver" => "sles",
        "centos" | "centosstream" => "centos",
        "opensuse" | "opensuseleap" => "opensuse",
        "oracle" | "oraclelinux" | "ol" => "oracle",
        "windows" | "windowsserver" | "microsoftwindows" | "win" => "windows",
        _ => return text.trim().to_ascii_lowercase(),
    };
    canonical.to_owned()
}

fn unidentified(facts: &AmiFacts<'_>, keys: &OsTagKeys) -> Unidentified {
    let mut seen = format!("name {:?}", facts.name);
    if is_cloud_deploy_name(facts.name) {
        seen.push_str(" (a Cloud Deploy name, which carries no OS)");
    }
    seen.push_str(&format!(", description {:?}", facts.description));
    if !facts.platform_details.is_empty() {
        seen.push_str(&format!(", platform {:?}", facts.platform_details));
    }
    seen.push_str(&format!(", no {} tag", keys.family));
    Unidentified {
        seen,
        hint: format!(
            "tag the AMI with {family}=<family> and {release}=<release>, e.g. \
             `aws ec2 create-tags --resources <ami> --tags Key={family},Value=debian \
             Key={release},Value=12` (families: debian, ubuntu, amazonlinux, centos, \
             rockylinux, almalinux, rhel, sles, windows)",
            family = keys.family,
            release = keys.release,
        ),
    }
}

/// One family's rule over the words of a text.
type Rule = fn(&[&str]) -> Option<Found>;

/// A family, and its release when the text gave one (else empty).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    family: &'static str,
    release: String,
}

impl Found {
    fn new(family: &'static str, release: impl Into<String>) -> Self {
        Self {
            family,
            release: release.into(),
        }
    }
}

/// Finds a family in a name or a description: lower-cased words split on anything but
/// letters, digits and dots (architectures dropped), tried against each family's rule in turn. The order matters
/// where texts mention another distribution ("Rocky Linux, compatible with RHEL").
fn detect(text: &str) -> Option<Found> {
    // Architecture words are noise here (EC2's Architecture field says it), and `x86_64`
    // would leave a `64` that looks like a release.
    let mut lower = text.to_ascii_lowercase();
    for architecture in ["x86_64", "x86-64"] {
        lower = lower.replace(architecture, " ");
    }
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .map(|word| word.trim_matches('.'))
        .filter(|word| !word.is_empty())
        .collect();
    let rules: [Rule; 12] = [
        windows,
        ubuntu,
        debian,
        amazon_linux,
        centos,
        rocky,
        alma,
        oracle,
        fedora,
        opensuse,
        sles,
        rhel,
    ];
    rules.iter().find_map(|rule| rule(&words))
}

/// `PlatformDetails` names a few families on its own.
fn detect_platform_details(details: &str) -> Option<Found> {
    let lower = details.to_ascii_lowercase();
    if lower.starts_with("red hat") {
        Some(Found::new("rhel", ""))
    } else if lower.starts_with("suse") {
        Some(Found::new("sles", ""))
    } else if lower.starts_with("ubuntu pro") {
        Some(Found::new("ubuntu", ""))
    } else if lower.starts_with("windows") {
        Some(Found::new("windows", ""))
    } else {
        None
    }
}

fn position(words: &[&str], wanted: &str) -> Option<usize> {
    words.iter().position(|word| *word == wanted)
}

/// Where two words follow each other, e.g. `amazon linux`.
fn position_pair(words: &[&str], first: &str, second: &str) -> Option<usize> {
    words
        .windows(2)
        .position(|pair| pair[0] == first && pair[1] == second)
}

/// The major version in the first word after `start` that starts with one or two digits
/// followed by a dot or nothing: `9` in `9.3.0`, not in `20240117` (a date).
fn major_after(words: &[&str], start: usize) -> Option<String> {
    words.iter().skip(start + 1).find_map(|word| major_of(word))
}

fn major_of(word: &str) -> Option<String> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &word[digits..];
    ((1..=2).contains(&digits) && (rest.is_empty() || rest.starts_with('.')))
        .then(|| word[..digits].to_owned())
}

fn all_digits(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

fn windows(words: &[&str]) -> Option<Found> {
    let at = position(words, "windows")?;
    let year = words
        .iter()
        .skip(at + 1)
        .enumerate()
        .find_map(|(offset, word)| {
            (word.len() == 4 && all_digits(word) && word.starts_with("20"))
                .then_some(at + 1 + offset)
        });
    let release = match year {
        Some(index) if words.get(index + 1) == Some(&"r2") => format!("{}-r2", words[index]),
        Some(index) => words[index].to_owned(),
        None => String::new(),
    };
    Some(Found::new("windows", release))
}

fn ubuntu(words: &[&str]) -> Option<Found> {
    let at = words.iter().position(|word| *word == "ubuntu")?;
    const CODENAMES: [(&str, &str); 13] = [
        ("trusty", "14.04"),
        ("xenial", "16.04"),
        ("bionic", "18.04"),
        ("focal", "20.04"),
        ("groovy", "20.10"),
        ("jammy", "22.04"),
        ("kinetic", "22.10"),
        ("lunar", "23.04"),
        ("mantic", "23.10"),
        ("noble", "24.04"),
        ("oracular", "24.10"),
        ("plucky", "25.04"),
        ("questing", "25.10"),
    ];
    let version = words.iter().skip(at).find_map(|word| {
        let b = word.as_bytes();
        (b.len() >= 5
            && b[..2].iter().all(u8::is_ascii_digit)
            && b[2] == b'.'
            && b[3..5].iter().all(u8::is_ascii_digit)
            && (b.len() == 5 || b[5] == b'.'))
            .then(|| word[..5].to_owned())
    });
    let release = version
        .or_else(|| {
            words.iter().find_map(|word| {
                CODENAMES
                    .iter()
                    .find(|(codename, _)| codename == word)
                    .map(|(_, version)| (*version).to_owned())
            })
        })
        .unwrap_or_default();
    Some(Found::new("ubuntu", release))
}

fn debian(words: &[&str]) -> Option<Found> {
    let at = position(words, "debian")?;
    const CODENAMES: [(&str, &str); 8] = [
        ("wheezy", "7"),
        ("jessie", "8"),
        ("stretch", "9"),
        ("buster", "10"),
        ("bullseye", "11"),
        ("bookworm", "12"),
        ("trixie", "13"),
        ("forky", "14"),
    ];
    // A codename is unambiguous; a number only right after "debian" (or "gnu linux"),
    // since names go on with dates such as `2022-07-01`.
    let release = words
        .iter()
        .find_map(|word| {
            CODENAMES
                .iter()
                .find(|(codename, _)| codename == word)
                .map(|(_, version)| (*version).to_owned())
        })
        .or_else(|| {
            words
                .iter()
                .skip(at + 1)
                .take(3)
                .find(|word| all_digits(word) && word.len() <= 2 && !word.starts_with('0'))
                .map(|word| (*word).to_owned())
        })
        .unwrap_or_default();
    Some(Found::new("debian", release))
}

fn amazon_linux(words: &[&str]) -> Option<Found> {
    // al2023-ami-…, al2022-…: the release is in the first word.
    for word in words {
        if let Some(year) = word.strip_prefix("al")
            && year.len() == 4
            && year.starts_with("20")
            && all_digits(year)
        {
            return Some(Found::new("amazonlinux", year));
        }
        if *word == "amzn2" {
            return Some(Found::new("amazonlinux", "2"));
        }
        // "AmazonLinux2" in EKS descriptions.
        if let Some(release) = word.strip_prefix("amazonlinux")
            && (release.is_empty() || all_digits(release))
        {
            return Some(Found::new("amazonlinux", release));
        }
    }
    // amzn-ami-hvm-2018.03.0…: Amazon Linux 1, released as YYYY.MM.
    if let Some(at) = position(words, "amzn") {
        return Some(Found::new("amazonlinux", year_month_after(words, at)));
    }
    // "Amazon Linux 2 AMI…", "Amazon Linux 2023 AMI…", "Amazon Linux AMI 2018.03…".
    let at = position_pair(words, "amazon", "linux")?;
    let release = match words.get(at + 2) {
        Some(&"2") => "2".to_owned(),
        Some(word) if word.len() == 4 && word.starts_with("20") && all_digits(word) => {
            (*word).to_owned()
        }
        _ => year_month_after(words, at),
    };
    Some(Found::new("amazonlinux", release))
}

/// `2018.03` in `2018.03.0.20231218.0`: Amazon Linux 1's release.
fn year_month_after(words: &[&str], at: usize) -> String {
    words
        .iter()
        .skip(at + 1)
        .find_map(|word| {
            let b = word.as_bytes();
            (b.len() >= 7
                && b[..4].iter().all(u8::is_ascii_digit)
                && b[4] == b'.'
                && b[5..7].iter().all(u8::is_ascii_digit))
            .then(|| word[..7].to_owned())
        })
        .unwrap_or_default()
}

fn centos(words: &[&str]) -> Option<Found> {
    let at = position(words, "centos")?;
    Some(Found::new(
        "centos",
        major_after(words, at).unwrap_or_default(),
    ))
}

fn rocky(words: &[&str]) -> Option<Found> {
    let at = position(words, "rocky").or_else(|| position(words, "rockylinux"))?;
    Some(Found::new(
        "rockylinux",
        major_after(words, at).unwrap_or_default(),
    ))
}

fn alma(words: &[&str]) -> Option<Found> {
    let at = position(words, "almalinux").or_else(|| position(words, "alma"))?;
    Some(Found::new(
        "almalinux",
        major_after(words, at).unwrap_or_default(),
    ))
}

fn oracle(words: &[&str]) -> Option<Found> {
    if let Some(at) = position_pair(words, "oracle", "linux") {
        return Some(Found::new(
            "oracle",
            major_after(words, at + 1).unwrap_or_default(),
        ));
    }
    // Oracle's own AMIs: OL9.3-x86_64-HVM-2023-11-24.
    let first = words.first()?;
    let version = first.strip_prefix("ol")?;
    major_of(version).map(|major| Found::new("oracle", major))
}

fn fedora(words: &[&str]) -> Option<Found> {
    let at = position(words, "fedora")?;
    let release = words
        .iter()
        .skip(at + 1)
        .find(|word| all_digits(word) && word.len() == 2)
        .map(|word| (*word).to_owned())
        .unwrap_or_default();
    Some(Found::new("fedora", release))
}

fn opensuse(words: &[&str]) -> Option<Found> {
    let at = position(words, "opensuse")?;
    if words.contains(&"tumbleweed") {
        return Some(Found::new("opensuse", "tumbleweed"));
    }
    let release = words
        .iter()
        .skip(at + 1)
        .find_map(|word| {
            let (major, minor) = word.split_once('.')?;
            (all_digits(major) && major.len() == 2 && all_digits(minor))
                .then(|| format!("{major}.{minor}"))
        })
        .unwrap_or_default();
    Some(Found::new("opensuse", release))
}

/// SUSE Linux Enterprise Server: `15` then `sp5` (or "Service Pack 5") gives `15.5`.
fn sles(words: &[&str]) -> Option<Found> {
    let at = position(words, "sles").or_else(|| position(words, "suse"))?;
    let Some(major_at) = words
        .iter()
        .enumerate()
        .skip(at + 1)
        .find(|(_, word)| all_digits(word) && word.len() == 2)
        .map(|(index, _)| index)
    else {
        return Some(Found::new("sles", ""));
    };
    let major = words[major_at];
    let service_pack = match words.get(major_at + 1) {
        Some(word) if word.starts_with("sp") && all_digits(&word[2..]) => Some(&word[2..]),
        Some(&"service") if words.get(major_at + 2) == Some(&"pack") => words
            .get(major_at + 3)
            .copied()
            .filter(|word| all_digits(word)),
        _ => None,
    };
    let release = match service_pack {
        Some(sp) => format!("{major}.{sp}"),
        None => major.to_owned(),
    };
    Some(Found::new("sles", release))
}

fn rhel(words: &[&str]) -> Option<Found> {
    let at = position(words, "rhel")
        .or_else(|| position(words, "redhat"))
        .or_else(|| position_pair(words, "red", "hat").map(|at| at + 1))?;
    Some(Found::new(
        "rhel",
        major_after(words, at).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn facts<'a>(name: &'a str, tags: &'a [(String, String)]) -> AmiFacts<'a> {
        AmiFacts {
            name,
            architecture: "x86_64",
            tags,
            ..AmiFacts::default()
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Names of real public AMIs, and what they are.
    const PUBLIC_NAMES: &[(&str, &str, &str)] = &[
        ("debian-12-amd64-20240201-1644", "debian", "12"),
        ("debian-12-arm64-20240201-1644", "debian", "12"),
        ("debian-11-amd64-20240104-1616", "debian", "11"),
        ("debian-10-amd64-20240104-1616", "debian", "10"),
        (
            "debian-stretch-hvm-x86_64-gp2-2022-07-01-66430",
            "debian",
            "9",
        ),
        (
            "ubuntu/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240207",
            "ubuntu",
            "22.04",
        ),
        (
            "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-20240423",
            "ubuntu",
            "24.04",
        ),
        (
            "ubuntu/images/hvm-ssd/ubuntu-focal-20.04-arm64-server-20240129",
            "ubuntu",
            "20.04",
        ),
        (
            "ubuntu-minimal/images/hvm-ssd/ubuntu-jammy-22.04-amd64-minimal-20240207",
            "ubuntu",
            "22.04",
        ),
        (
            "ubuntu-eks/k8s_1.28/images/hvm-ssd/ubuntu-jammy-22.04-amd64-server-20240201",
            "ubuntu",
            "22.04",
        ),
        (
            "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-20170727",
            "ubuntu",
            "14.04",
        ),
        (
            "Deep Learning AMI GPU PyTorch 2.1.0 (Ubuntu 20.04) 20240116",
            "ubuntu",
            "20.04",
        ),
        (
            "al2023-ami-2023.3.20240205.2-kernel-6.1-x86_64",
            "amazonlinux",
            "2023",
        ),
        (
            "al2023-ami-minimal-2023.3.20240205.2-kernel-6.1-arm64",
            "amazonlinux",
            "2023",
        ),
        (
            "al2022-ami-2022.0.20220728.1-kernel-5.15-x86_64",
            "amazonlinux",
            "2022",
        ),
        (
            "amzn2-ami-kernel-5.10-hvm-2.0.20240131.0-x86_64-gp2",
            "amazonlinux",
            "2",
        ),
        (
            "amzn2-ami-hvm-2.0.20240131.0-x86_64-gp2",
            "amazonlinux",
            "2",
        ),
        (
            "amzn2-ami-ecs-hvm-2.0.20240207-x86_64-ebs",
            "amazonlinux",
            "2",
        ),
        (
            "amzn-ami-hvm-2018.03.0.20231218.0-x86_64-gp2",
            "amazonlinux",
            "2018.03",
        ),
        ("RHEL-9.3.0_HVM-20240117-x86_64-49-Hourly2-GP3", "rhel", "9"),
        ("RHEL-8.6.0_HVM-20220503-x86_64-2-Hourly2-GP2", "rhel", "8"),
        (
            "RHEL_HA-8.4.0_HVM-20210504-x86_64-2-Hourly2-GP2",
            "rhel",
            "8",
        ),
        ("RHEL-7.4_HVM_GA-20170808-x86_64-2-Hourly2-GP2", "rhel", "7"),
        ("CentOS Stream 9 x86_64 20240129", "centos", "9"),
        (
            "CentOS-7-2111-20220825_1.x86_64-d9a3032a-921c-4c6d-b150-bde168105e42",
            "centos",
            "7",
        ),
        ("CentOS Linux 7 x86_64 HVM EBS ENA 2002_01", "centos", "7"),
        ("Rocky-9-EC2-Base-9.3-20231113.0.x86_64", "rockylinux", "9"),
        ("Rocky-8-EC2-LVM-8.9-20231119.0.aarch64", "rockylinux", "8"),
        ("AlmaLinux OS 9.3.20231124 x86_64", "almalinux", "9"),
        ("AlmaLinux OS 8.9.20231128 aarch64", "almalinux", "8"),
        ("OL9.3-x86_64-HVM-2023-11-24", "oracle", "9"),
        (
            "Fedora-Cloud-Base-39-1.5.x86_64-hvm-us-east-1-gp3-0",
            "fedora",
            "39",
        ),
        ("suse-sles-15-sp5-v20240129-hvm-ssd-x86_64", "sles", "15.5"),
        (
            "suse-sles-sap-15-sp4-v20231205-hvm-ssd-x86_64",
            "sles",
            "15.4",
        ),
        ("suse-sles-12-sp3-v20170907-hvm-ssd-x86_64", "sles", "12.3"),
        (
            "openSUSE-Leap-15.5-v20231206-hvm-ssd-x86_64",
            "opensuse",
            "15.5",
        ),
        (
            "Windows_Server-2022-English-Full-Base-2024.02.14",
            "windows",
            "2022",
        ),
        (
            "Windows_Server-2019-English-Core-EKS_Optimized",
            "windows",
            "2019",
        ),
        (
            "Windows_Server-2016-English-Full-SQL_2017_Standard-2017.10.13",
            "windows",
            "2016",
        ),
        (
            "Windows_Server-2012-R2_RTM-English-64Bit-Base-2017.10.13",
            "windows",
            "2012-r2",
        ),
    ];

    #[test]
    fn public_ami_names() {
        for (name, family, release) in PUBLIC_NAMES {
            let os = identify(&facts(name, &[]), &OsTagKeys::default())
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(
                (os.family.as_str(), os.release.as_str()),
                (*family, *release),
                "{name}"
            );
            let expected_type = if *family == "windows" {
                OsType::Windows
            } else {
                OsType::Linux
            };
            assert_eq!(os.os_type, expected_type, "{name}");
        }
    }

    /// Descriptions of real public AMIs, for AMIs whose name says nothing.
    const PUBLIC_DESCRIPTIONS: &[(&str, &str, &str)] = &[
        ("Debian 12 (20240201-1644)", "debian", "12"),
        ("Debian GNU/Linux 11 (bullseye)", "debian", "11"),
        (
            "Canonical, Ubuntu, 22.04 LTS, amd64 jammy image build on 2024-02-07",
            "ubuntu",
            "22.04",
        ),
        (
            "Amazon Linux 2023 AMI 2023.3.20240205.2 x86_64 HVM kernel-6.1",
            "amazonlinux",
            "2023",
        ),
        (
            "Amazon Linux 2 Kernel 5.10 AMI 2.0.20240131.0 x86_64 HVM gp2",
            "amazonlinux",
            "2",
        ),
        (
            "Amazon Linux AMI 2018.03.0.20231218.0 x86_64 HVM gp2",
            "amazonlinux",
            "2018.03",
        ),
        (
            "EKS Kubernetes Worker AMI with AmazonLinux2 image",
            "amazonlinux",
            "2",
        ),
        ("Provided by Red Hat, Inc.", "rhel", ""),
        (
            "SUSE Linux Enterprise Server 15 SP5 (HVM, 64-bit, SSD-Backed)",
            "sles",
            "15.5",
        ),
        (
            "SUSE Linux Enterprise Server 11 Service Pack 4 ((PV, 64-bit, SSD-Backed)",
            "sles",
            "11.4",
        ),
        (
            "Rocky Linux 9.3 (Blue Onyx), compatible with RHEL",
            "rockylinux",
            "9",
        ),
        (
            "Microsoft Windows Server 2022 Full Locale English AMI provided by Amazon",
            "windows",
            "2022",
        ),
    ];

    #[test]
    fn public_ami_descriptions() {
        for (description, family, release) in PUBLIC_DESCRIPTIONS {
            let facts = AmiFacts {
                name: "ami.prod.eu-west-1.webfront.web20240102-030405",
                description,
                ..AmiFacts::default()
            };
            let os = identify(&facts, &OsTagKeys::default())
                .unwrap_or_else(|e| panic!("{description}: {e:?}"));
            assert_eq!(
                (os.family.as_str(), os.release.as_str()),
                (*family, *release),
                "{description}"
            );
        }
    }

    #[test]
    fn cloud_deploy_names_carry_no_os() {
        for name in [
            "ami.prod.eu-west-1.webfront.web20240102-030405",
            "ami.prod.eu-west-1.webfront.debian-mirror.blue20240102-030405",
            "ami.test.us-east-1.worker.ubuntu.20240102-030405",
        ] {
            let error = identify(&facts(name, &[]), &OsTagKeys::default()).unwrap_err();
            assert!(error.seen.contains(name), "{error:?}");
            assert!(error.seen.contains("carries no OS"), "{error:?}");
            assert!(error.seen.contains("no os_family tag"), "{error:?}");
            assert!(error.hint.contains("Key=os_family,Value="), "{error:?}");
            assert!(error.hint.contains("Key=os_release,Value="), "{error:?}");
        }
    }

    #[test]
    fn tags_win_over_name_and_description() {
        let t = tags(&[("os_family", "Amazon Linux"), ("os_release", "2023")]);
        let facts = AmiFacts {
            name: "debian-12-amd64-20240201-1644",
            description: "Debian 12",
            architecture: "arm64",
            tags: &t,
            ..AmiFacts::default()
        };
        let os = identify(&facts, &OsTagKeys::default()).unwrap();
        assert_eq!(
            os,
            OsIdentity::new(OsType::Linux, "amazonlinux", "2023", "aarch64")
        );
    }

    #[test]
    fn a_family_tag_alone_takes_the_release_from_a_matching_guess_only() {
        let t = tags(&[("os_family", "debian")]);
        let os = identify(
            &facts("debian-12-amd64-20240201-1644", &t),
            &OsTagKeys::default(),
        )
        .unwrap();
        assert_eq!(os.release, "12");
        let os = identify(&facts("al2023-ami-2023.3", &t), &OsTagKeys::default()).unwrap();
        assert_eq!((os.family.as_str(), os.release.as_str()), ("debian", ""));
    }

    #[test]
    fn a_release_tag_alone_overrides_the_guessed_release() {
        let t = tags(&[("os_release", "12")]);
        let os = identify(&facts("debian-stretch-hvm", &t), &OsTagKeys::default()).unwrap();
        assert_eq!((os.family.as_str(), os.release.as_str()), ("debian", "12"));
    }

    #[test]
    fn tag_keys_are_configurable_and_matched_without_case() {
        let keys = OsTagKeys {
            family: "Distro".into(),
            release: "DistroVersion".into(),
        };
        let t = tags(&[
            ("distro", "rocky"),
            ("DISTROVERSION", " 9 "),
            ("os_family", "debian"),
        ]);
        let os = identify(&facts("ami.prod.r.x.y20240102-030405", &t), &keys).unwrap();
        assert_eq!(
            (os.family.as_str(), os.release.as_str()),
            ("rockylinux", "9")
        );
        let error = identify(&facts("ami.x", &[]), &keys).unwrap_err();
        assert!(error.seen.contains("no Distro tag"), "{error:?}");
        assert!(error.hint.contains("Key=DistroVersion"), "{error:?}");
    }

    #[test]
    fn empty_tags_count_as_absent() {
        let t = tags(&[("os_family", "  "), ("os_release", "")]);
        let os = identify(&facts("debian-12-amd64", &t), &OsTagKeys::default()).unwrap();
        assert_eq!((os.family.as_str(), os.release.as_str()), ("debian", "12"));
    }

    #[test]
    fn windows_comes_from_the_platform_too() {
        let facts = AmiFacts {
            name: "ami.prod.eu-west-1.webfront.web20240102-030405",
            platform: "windows",
            architecture: "x86_64",
            ..AmiFacts::default()
        };
        let os = identify(&facts, &OsTagKeys::default()).unwrap();
        assert_eq!(
            os,
            OsIdentity::new(OsType::Windows, "windows", "", "x86_64")
        );
        let details = AmiFacts {
            platform: "",
            platform_details: "Windows with SQL Server Standard",
            ..facts
        };
        assert_eq!(
            identify(&details, &OsTagKeys::default()).unwrap().os_type,
            OsType::Windows
        );
        assert_eq!(os_type(&details), OsType::Windows);
    }

    #[test]
    fn platform_details_name_rhel_and_suse() {
        for (details, family) in [
            ("Red Hat Enterprise Linux", "rhel"),
            ("SUSE Linux", "sles"),
            ("Ubuntu Pro", "ubuntu"),
        ] {
            let facts = AmiFacts {
                name: "ami.prod.eu-west-1.webfront.web20240102-030405",
                platform_details: details,
                ..AmiFacts::default()
            };
            let os = identify(&facts, &OsTagKeys::default()).unwrap();
            assert_eq!((os.family.as_str(), os.os_type), (family, OsType::Linux));
        }
        let linux = AmiFacts {
            platform_details: "Linux/UNIX",
            ..AmiFacts::default()
        };
        let error = identify(&linux, &OsTagKeys::default()).unwrap_err();
        assert!(error.seen.contains("platform \"Linux/UNIX\""), "{error:?}");
    }

    #[test]
    fn unknown_names_are_not_guessed() {
        for name in [
            "my-golden-image-2024",
            "",
            "base",
            "product_codes_test",
            "x86_64",
        ] {
            assert!(
                identify(&facts(name, &[]), &OsTagKeys::default()).is_err(),
                "{name}"
            );
        }
    }

    #[test]
    fn family_spellings_in_tags() {
        for (written, family) in [
            ("Amazon Linux", "amazonlinux"),
            ("amzn", "amazonlinux"),
            ("Rocky", "rockylinux"),
            ("Red Hat", "rhel"),
            ("SUSE", "sles"),
            ("Windows Server", "windows"),
            ("Debian", "debian"),
            ("gentoo", "gentoo"),
        ] {
            assert_eq!(normalise_family(written), family, "{written}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(
            name in ".{0,80}",
            description in ".{0,120}",
            platform in prop::sample::select(vec!["", "windows", "Linux/UNIX"]),
            details in ".{0,30}",
            key in ".{0,12}",
            value in ".{0,12}",
        ) {
            let t = vec![(key, value)];
            let facts = AmiFacts {
                name: &name,
                description: &description,
                platform,
                platform_details: &details,
                architecture: "x86_64",
                tags: &t,
            };
            let _ = identify(&facts, &OsTagKeys::default());
        }

        #[test]
        fn never_panics_on_name_like_text(name in "[a-zA-Z0-9._/ -]{0,60}") {
            let _ = identify(&facts(&name, &[]), &OsTagKeys::default());
        }

        #[test]
        fn a_family_tag_always_wins(name in ".{0,60}", family in "[a-z]{1,12}") {
            let t = tags(&[("os_family", &family)]);
            let os = identify(&facts(&name, &t), &OsTagKeys::default()).unwrap();
            prop_assert_eq!(os.family, normalise_family(&family));
        }

        #[test]
        fn cloud_deploy_names_never_give_a_family(rest in "[a-z0-9.-]{0,60}") {
            let name = format!("ami.{rest}");
            prop_assert!(identify(&facts(&name, &[]), &OsTagKeys::default()).is_err());
        }

        #[test]
        fn debian_releases_survive_any_build_suffix(
            major in 8u8..=14,
            arch in prop::sample::select(vec!["amd64", "arm64"]),
            stamp in "[0-9]{8}-[0-9]{4}",
        ) {
            let name = format!("debian-{major}-{arch}-{stamp}");
            let os = identify(&facts(&name, &[]), &OsTagKeys::default()).unwrap();
            prop_assert_eq!(os.family, "debian");
            prop_assert_eq!(os.release, major.to_string());
        }

        #[test]
        fn rhel_family_majors_ignore_dates(
            family in prop::sample::select(vec![("RHEL", "rhel"), ("Rocky", "rockylinux"), ("CentOS", "centos")]),
            major in 6u8..=10,
            minor in 0u8..=10,
            date in "20[0-9]{6}",
        ) {
            let name = format!("{}-{}.{}-{}-x86_64", family.0, major, minor, date);
            let os = identify(&facts(&name, &[]), &OsTagKeys::default()).unwrap();
            prop_assert_eq!(os.family, family.1);
            prop_assert_eq!(os.release, major.to_string());
        }
    }
}
