//! IPv4 subnets: stack-run's `--subnet-pool`, and the slots of it each
//! stack's networks take.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 subnet: its first address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Subnet {
    base: u32,
    prefix: u8,
}

impl Subnet {
    pub fn size(self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }

    pub fn contains(self, address: Ipv4Addr) -> bool {
        let address = u64::from(u32::from(address));
        (u64::from(self.base)..u64::from(self.base) + self.size()).contains(&address)
    }

    /// Where an address of this subnet goes in `to`: the same offset.
    pub fn map(self, address: Ipv4Addr, to: Subnet) -> Option<Ipv4Addr> {
        if !self.contains(address) {
            return None;
        }
        let offset = u32::from(address) - self.base;
        (u64::from(offset) < to.size()).then(|| Ipv4Addr::from(to.base + offset))
    }

    /// The subnets of `prefix` bits this one holds, starting at slot `start`
    /// (taken modulo their count) and wrapping round.
    pub fn slots(self, prefix: u8, start: u64) -> impl Iterator<Item = Subnet> {
        let count = if prefix >= self.prefix {
            1u64 << (prefix - self.prefix)
        } else {
            0
        };
        let step = 1u64 << (32 - u32::from(prefix));
        (0..count).map(move |i| Subnet {
            base: (u64::from(self.base) + ((start + i) % count) * step) as u32,
            prefix,
        })
    }

    pub fn overlaps(self, other: Subnet) -> bool {
        let (a, b) = (u64::from(self.base), u64::from(other.base));
        a < b + other.size() && b < a + self.size()
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(text: &str) -> Result<Subnet, String> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not an IPv4 CIDR like 10.213.0.0/16"))?;
        let address: Ipv4Addr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|&p| p <= 30)
            .ok_or_else(|| format!("/{prefix} is not a prefix length from 0 to 30"))?;
        let base = u32::from(address);
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        if base & !mask != 0 {
            return Err(format!(
                "{text} has host bits set (its network is {}/{prefix})",
                Ipv4Addr::from(base & mask)
            ));
        }
        Ok(Subnet { base, prefix })
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

impl Subnet {
    pub fn prefix(self) -> u8 {
        self.prefix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(text: &str) -> Subnet {
        text.parse().unwrap()
    }

    #[test]
    fn pools_parse_strictly() {
        assert_eq!(subnet("10.213.0.0/16").to_string(), "10.213.0.0/16");
        assert!(
            "10.213.0.1/16"
                .parse::<Subnet>()
                .unwrap_err()
                .contains("host bits")
        );
        assert!("10.213.0.0".parse::<Subnet>().is_err());
        assert!("10.213.0.0/31".parse::<Subnet>().is_err());
        assert!("fd00::/64".parse::<Subnet>().is_err());
    }

    #[test]
    fn slots_cover_the_pool_from_any_start() {
        let pool = subnet("10.213.0.0/22");
        let from_two: Vec<String> = pool.slots(24, 2).map(|s| s.to_string()).collect();
        assert_eq!(
            from_two,
            [
                "10.213.2.0/24",
                "10.213.3.0/24",
                "10.213.0.0/24",
                "10.213.1.0/24"
            ]
        );
        assert_eq!(pool.slots(20, 0).count(), 0, "larger than the pool");
        assert!(subnet("10.213.2.0/24").overlaps(pool));
        assert!(!subnet("10.214.0.0/24").overlaps(pool));
    }

    #[test]
    fn pinned_addresses_keep_their_offset() {
        let user = subnet("10.231.77.0/24");
        let stack = subnet("10.213.5.0/24");
        let mapped = user.map("10.231.77.10".parse().unwrap(), stack);
        assert_eq!(mapped, Some("10.213.5.10".parse().unwrap()));
        assert_eq!(user.map("10.9.9.9".parse().unwrap(), stack), None);
    }
}
