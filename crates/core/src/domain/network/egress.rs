//! The egress rule: what a build on the `egress` network may reach. It is written as
//! allow rules only, over the complement of what is denied, with everything else
//! rejected by the ACL's default; so its meaning does not depend on how a daemon
//! orders allow and reject rules, and the `allow:` list simply adds rules.

use std::fmt;
use std::net::IpAddr;

use super::cidr::Cidr;
use crate::domain::ValidationError;
use crate::domain::text::text_enum;

text_enum! {
    /// A transport protocol an allow rule can name.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub enum Protocol as "protocol" {
        /// TCP.
        Tcp = "tcp",
        /// UDP.
        Udp = "udp",
    }
}

/// A port or an inclusive range of ports, 1 to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    /// The first port.
    pub first: u16,
    /// The last port (equal to `first` for one port).
    pub last: u16,
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// What an egress rule lets through: destinations, and optionally one protocol and
/// its ports.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EgressRule {
    /// The destination ranges.
    pub destinations: Vec<Cidr>,
    /// The protocol; every protocol when `None`.
    pub protocol: Option<Protocol>,
    /// The destination ports (with a protocol only); every port when empty.
    pub ports: Vec<PortRange>,
}

impl EgressRule {
    /// Reads one entry of an `allow:` list: `CIDR` or `CIDR PROTOCOL:PORTS`, as
    /// `10.9.0.0/24`, `10.9.0.5 tcp:3128` or `fd00::7 tcp:80,443,8000-8100`.
    ///
    /// # Errors
    /// [`ValidationError::Network`] naming the entry and what is wrong with it.
    pub fn parse_allow(text: &str) -> Result<Self, ValidationError> {
        let mut words = text.split_whitespace();
        let destination = Cidr::parse(words.next().unwrap_or_default())?;
        let (protocol, ports) = match words.next() {
            None => (None, Vec::new()),
            Some(rest) => parse_ports(text, rest)?,
        };
        if words.next().is_some() {
            return Err(invalid(
                text,
                "expected CIDR or CIDR PROTOCOL:PORTS, like 10.9.0.5 tcp:3128",
            ));
        }
        Ok(Self {
            destinations: vec![destination],
            protocol,
            ports,
        })
    }
}

impl fmt::Display for EgressRule {
    /// The rule in the `allow:` syntax (`10.9.0.5/32 tcp:80,443`; destinations
    /// joined by commas).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let destinations: Vec<String> = self.destinations.iter().map(ToString::to_string).collect();
        f.write_str(&destinations.join(","))?;
        if let Some(protocol) = self.protocol {
            let ports: Vec<String> = self.ports.iter().map(ToString::to_string).collect();
            write!(f, " {protocol}:{}", ports.join(","))?;
        }
        Ok(())
    }
}

fn parse_ports(
    text: &str,
    rest: &str,
) -> Result<(Option<Protocol>, Vec<PortRange>), ValidationError> {
    let (protocol, ports) = rest.split_once(':').ok_or_else(|| {
        invalid(
            text,
            "ports are written PROTOCOL:PORTS, like tcp:3128 or udp:53",
        )
    })?;
    let protocol =
        Protocol::parse(protocol).map_err(|_| invalid(text, "the protocol must be tcp or udp"))?;
    let ports = ports
        .split(',')
        .map(|port| parse_port_range(text, port))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((Some(protocol), ports))
}

fn parse_port_range(text: &str, port: &str) -> Result<PortRange, ValidationError> {
    let number = |part: &str| {
        part.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| invalid(text, "a port is a number from 1 to 65535"))
    };
    let (first, last) = match port.split_once('-') {
        Some((first, last)) => (number(first)?, number(last)?),
        None => (number(port)?, number(port)?),
    };
    if first > last {
        return Err(invalid(
            text,
            "a port range goes from the lower port to the higher",
        ));
    }
    Ok(PortRange { first, last })
}

fn invalid(text: &str, reason: &'static str) -> ValidationError {
    ValidationError::Network {
        input: text.to_owned(),
        reason,
    }
}

/// The ranges a build must never reach on the `egress` network, whatever the host:
/// "this network", loopback, link-local (the cloud metadata endpoint at
/// 169.254.169.254 among them), the RFC 1918 and shared (CGNAT) private ranges,
/// benchmarking, multicast and reserved ranges; for IPv6 the unspecified and loopback
/// addresses, IPv4-mapped addresses (a way around every IPv4 rule), link-local,
/// unique-local (ULA) and multicast.
pub const ALWAYS_DENIED: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "::ffff:0:0/96",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// The egress rules of a policy: everything outside [`ALWAYS_DENIED`] and the
/// host's own addresses (`host_addresses`: the daemon host's, and every cluster
/// member's), then the policy's own allow list. What no rule allows the ACL rejects.
#[must_use]
pub fn egress_rules(allow: &[EgressRule], host_addresses: &[IpAddr]) -> Vec<EgressRule> {
    let mut denied: Vec<Cidr> = ALWAYS_DENIED
        .iter()
        .filter_map(|text| Cidr::parse(text).ok())
        .collect();
    denied.extend(host_addresses.iter().copied().map(Cidr::host));
    let mut rules: Vec<EgressRule> = [true, false]
        .into_iter()
        .map(|ipv4| EgressRule {
            destinations: Cidr::everything_except(ipv4, &denied),
            protocol: None,
            ports: Vec::new(),
        })
        .filter(|rule| !rule.destinations.is_empty())
        .collect();
    rules.extend(allow.iter().cloned());
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reaches(rules: &[EgressRule], address: &str, protocol: Protocol, port: u16) -> bool {
        let probe = Cidr::host(address.parse().unwrap());
        rules.iter().any(|rule| {
            rule.destinations.iter().any(|d| d.contains(&probe))
                && rule.protocol.is_none_or(|p| p == protocol)
                && (rule.ports.is_empty()
                    || rule.ports.iter().any(|r| r.first <= port && port <= r.last))
        })
    }

    #[test]
    fn allow_entries_are_read_with_their_ports() {
        let rule = EgressRule::parse_allow("10.9.0.5 tcp:80,8000-8100").unwrap();
        assert_eq!(rule.destinations, vec![Cidr::parse("10.9.0.5/32").unwrap()]);
        assert_eq!(rule.protocol, Some(Protocol::Tcp));
        assert_eq!(
            rule.ports,
            vec![
                PortRange {
                    first: 80,
                    last: 80
                },
                PortRange {
                    first: 8000,
                    last: 8100
                }
            ]
        );
        assert_eq!(EgressRule::parse_allow("fd00::/8").unwrap().protocol, None);
    }

    #[test]
    fn an_allow_entry_reads_back_from_its_text() {
        for text in [
            "10.9.0.5/32 tcp:80,8000-8100",
            "fd00::/8",
            "10.0.0.0/8 udp:53",
        ] {
            let rule = EgressRule::parse_allow(text).unwrap();
            assert_eq!(rule.to_string(), text);
            assert_eq!(EgressRule::parse_allow(&rule.to_string()).unwrap(), rule);
        }
    }

    #[test]
    fn malformed_allow_entries_say_what_is_wrong() {
        for (text, says) in [
            ("10.9.0.5 3128", "PROTOCOL:PORTS"),
            ("10.9.0.5 icmp:1", "tcp or udp"),
            ("10.9.0.5 tcp:0", "1 to 65535"),
            ("10.9.0.5 tcp:70000", "1 to 65535"),
            ("10.9.0.5 tcp:90-80", "lower port"),
            ("10.9.0.5 tcp:80 extra", "expected CIDR"),
            ("10.9.0.500", "not an IPv4"),
        ] {
            let error = EgressRule::parse_allow(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn the_internet_is_reached_and_the_host_and_private_ranges_are_not() {
        let host: IpAddr = "203.0.113.9".parse().unwrap();
        let rules = egress_rules(&[], &[host]);
        assert!(reaches(&rules, "198.51.100.1", Protocol::Tcp, 443));
        assert!(reaches(&rules, "2001:db8::1", Protocol::Tcp, 443));
        for denied in [
            "203.0.113.9",
            "169.254.169.254",
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd12::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(
                !reaches(&rules, denied, Protocol::Tcp, 80),
                "{denied} is reached"
            );
        }
    }

    #[test]
    fn an_allow_entry_opens_only_its_own_ports() {
        let allow = [EgressRule::parse_allow("10.9.0.5 tcp:3128").unwrap()];
        let rules = egress_rules(&allow, &[]);
        assert!(reaches(&rules, "10.9.0.5", Protocol::Tcp, 3128));
        assert!(!reaches(&rules, "10.9.0.5", Protocol::Tcp, 22));
        assert!(!reaches(&rules, "10.9.0.5", Protocol::Udp, 3128));
        assert!(!reaches(&rules, "10.9.0.6", Protocol::Tcp, 3128));
    }
}
