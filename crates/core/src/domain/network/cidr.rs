//! Address ranges as the egress rule needs them: parsed once from config, compared
//! and subtracted without floating text around. Both families share one shape (the
//! address as a 128-bit number and its width), so the range arithmetic is written
//! once.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::domain::ValidationError;

/// An IPv4 or IPv6 range: an address and a prefix length, with no host bits set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    address: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// A range from its parts.
    ///
    /// # Errors
    /// [`ValidationError::Network`] when the prefix is longer than the address or
    /// host bits are set (`10.1.2.3/8`: write `10.0.0.0/8`).
    pub fn new(address: IpAddr, prefix: u8) -> Result<Self, ValidationError> {
        let bits = width(address);
        let cidr = Self { address, prefix };
        if prefix > bits {
            return Err(invalid(
                &cidr.to_string(),
                "the prefix is longer than the address",
            ));
        }
        if cidr.first() != value(address) {
            return Err(invalid(
                &cidr.to_string(),
                "host bits are set after the prefix; write the range's first address",
            ));
        }
        Ok(cidr)
    }

    /// One address, as a range of one (`/32` or `/128`).
    #[must_use]
    pub fn host(address: IpAddr) -> Self {
        // An IPv4-mapped IPv6 address is the IPv4 host it maps.
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            IpAddr::V4(_) => address,
        };
        Self {
            address,
            prefix: width(address),
        }
    }

    /// Reads `10.0.0.0/8`, `fd00::/8`, or a bare address (a range of one).
    ///
    /// # Errors
    /// [`ValidationError::Network`] naming the text and what is wrong with it.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| {
            invalid(
                text,
                "not an IPv4 or IPv6 address; write a range like 10.8.0.0/16 or fd00::/8",
            )
        })?;
        let prefix = match prefix {
            None => width(address),
            Some(prefix) => prefix
                .parse::<u8>()
                .map_err(|_| invalid(text, "the prefix after / is not a number"))?,
        };
        Self::new(address, prefix)
    }

    /// The first address.
    #[must_use]
    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// The prefix length.
    #[must_use]
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether this is an IPv4 range.
    #[must_use]
    pub fn is_ipv4(&self) -> bool {
        self.address.is_ipv4()
    }

    /// Whether `other` lies wholly inside this range (same family).
    #[must_use]
    pub fn contains(&self, other: &Self) -> bool {
        self.is_ipv4() == other.is_ipv4()
            && other.prefix >= self.prefix
            && self.first() <= other.first()
            && other.last() <= self.last()
    }

    /// Whether the two ranges share any address.
    #[must_use]
    pub fn overlaps(&self, other: &Self) -> bool {
        self.is_ipv4() == other.is_ipv4()
            && self.first() <= other.last()
            && other.first() <= self.last()
    }

    /// Every address of `family` (`0.0.0.0/0` or `::/0`), minus `removed`, as the
    /// fewest ranges that cover exactly the rest, in address order.
    #[must_use]
    pub fn everything_except(ipv4: bool, removed: &[Self]) -> Vec<Self> {
        let all = if ipv4 {
            Self {
                address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                prefix: 0,
            }
        } else {
            Self {
                address: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                prefix: 0,
            }
        };
        let removed: Vec<Self> = removed
            .iter()
            .copied()
            .filter(|r| r.is_ipv4() == ipv4)
            .collect();
        let mut kept = Vec::new();
        subtract(all, &removed, &mut kept);
        kept
    }

    fn bits(&self) -> u8 {
        width(self.address)
    }

    fn first(&self) -> u128 {
        let host_bits = self.bits() - self.prefix;
        let mask = if host_bits >= 128 {
            0
        } else {
            u128::MAX << host_bits
        };
        value(self.address) & mask
    }

    fn last(&self) -> u128 {
        let host_bits = self.bits() - self.prefix;
        let span = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        self.first() | span
    }

    /// The two halves of this range; `None` for a single address.
    fn halves(&self) -> Option<(Self, Self)> {
        if self.prefix == self.bits() {
            return None;
        }
        let prefix = self.prefix + 1;
        let upper_start = self.first() | (1u128 << (self.bits() - prefix));
        let lower = Self {
            address: self.address,
            prefix,
        };
        let upper = Self {
            address: from_value(self.address, upper_start),
            prefix,
        };
        Some((lower, upper))
    }
}

/// Adds to `kept` the parts of `range` that no range of `removed` covers.
fn subtract(range: Cidr, removed: &[Cidr], kept: &mut Vec<Cidr>) {
    if removed.iter().any(|r| r.contains(&range)) {
        return;
    }
    if !removed.iter().any(|r| r.overlaps(&range)) {
        kept.push(range);
        return;
    }
    // Some removed range lies strictly inside: a range of one cannot get here.
    if let Some((lower, upper)) = range.halves() {
        subtract(lower, removed, kept);
        subtract(upper, removed, kept);
    }
}

fn width(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

fn value(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_value(like: IpAddr, value: u128) -> IpAddr {
    match like {
        // The value came from a range of this family, so it fits in 32 bits.
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
    }
}

fn invalid(text: &str, reason: &'static str) -> ValidationError {
    ValidationError::Network {
        input: text.to_owned(),
        reason,
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).unwrap()
    }

    #[test]
    fn ranges_and_bare_addresses_are_read() {
        assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("192.0.2.7").to_string(), "192.0.2.7/32");
        assert_eq!(cidr("fd00::/8").to_string(), "fd00::/8");
        assert_eq!(cidr("::1").to_string(), "::1/128");
    }

    #[test]
    fn malformed_ranges_say_what_is_wrong() {
        for (text, says) in [
            ("10.0.0.0/33", "longer than the address"),
            ("10.1.2.3/8", "host bits"),
            ("10.0.0/8", "not an IPv4 or IPv6 address"),
            ("10.0.0.0/x", "not a number"),
            ("", "not an IPv4 or IPv6 address"),
        ] {
            let error = Cidr::parse(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
            assert!(error.contains(&format!("{text:?}")), "{text}: {error}");
        }
    }

    #[test]
    fn an_ipv4_mapped_host_is_its_ipv4_host() {
        let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(Cidr::host(mapped), cidr("10.1.2.3/32"));
    }

    #[test]
    fn everything_except_one_half_is_the_other_half() {
        assert_eq!(
            Cidr::everything_except(true, &[cidr("0.0.0.0/1")]),
            vec![cidr("128.0.0.0/1")]
        );
        assert_eq!(Cidr::everything_except(true, &[cidr("0.0.0.0/0")]), vec![]);
        assert_eq!(Cidr::everything_except(true, &[]), vec![cidr("0.0.0.0/0")]);
        // Ranges of the other family are ignored.
        assert_eq!(
            Cidr::everything_except(false, &[cidr("10.0.0.0/8")]),
            vec![cidr("::/0")]
        );
    }

    fn any_v4() -> impl Strategy<Value = Cidr> {
        (any::<u32>(), 0u8..=32).prop_map(|(address, prefix)| {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            Cidr::new(IpAddr::V4(Ipv4Addr::from(address & mask)), prefix).unwrap()
        })
    }

    proptest! {
        #[test]
        fn what_is_left_never_touches_what_was_removed_and_misses_nothing(
            removed in proptest::collection::vec(any_v4(), 0..6),
            probe in any::<u32>(),
        ) {
            let kept = Cidr::everything_except(true, &removed);
            let probe = Cidr::host(IpAddr::V4(Ipv4Addr::from(probe)));
            let in_removed = removed.iter().any(|r| r.contains(&probe));
            let in_kept = kept.iter().any(|k| k.contains(&probe));
            prop_assert!(in_removed != in_kept, "{probe} removed={in_removed} kept={in_kept}");
            for k in &kept {
                prop_assert!(!removed.iter().any(|r| r.overlaps(k)));
            }
        }

        #[test]
        fn parsing_what_is_written_gives_the_same_range(range in any_v4()) {
            prop_assert_eq!(Cidr::parse(&range.to_string()).unwrap(), range);
        }
    }
}
