//! The networks stack-run creates for each stack itself (see
//! `engine::subnets` for why): which of the model's networks they are, and
//! the flags each needs.

use std::net::Ipv4Addr;

use serde_json::Value;
pub use shared::subnet::Subnet;

/// The size of a network's subnet when the user's file gives none: 254
/// addresses, far more than a test stack's containers.
pub const DEFAULT_PREFIX: u8 = 24;

/// A network stack-run creates for each stack: compose's name for it, its
/// user-given subnet (if any), and the `docker network create` flags it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub name: String,
    pub fixed: Option<Subnet>,
    pub flags: Vec<String>,
}

impl Network {
    /// The network `name` as the model configures it; `None` when compose
    /// must keep it (external, not a bridge, IPv6).
    pub fn of(name: &str, config: &Value) -> anyhow::Result<Option<Network>> {
        let external = config
            .get("external")
            .is_some_and(|e| e != &Value::Bool(false));
        let driver = config
            .get("driver")
            .and_then(Value::as_str)
            .unwrap_or("bridge");
        let ipv6 = config.get("enable_ipv6").and_then(Value::as_bool) == Some(true);
        if external || driver != "bridge" || ipv6 {
            return Ok(None);
        }
        let mut flags = Vec::new();
        for (flag, key) in [("--internal", "internal"), ("--attachable", "attachable")] {
            if config.get(key).and_then(Value::as_bool) == Some(true) {
                flags.push(flag.to_string());
            }
        }
        for (key, value) in config
            .get("driver_opts")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let value = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string);
            flags.push("--opt".into());
            flags.push(format!("{key}={value}"));
        }
        let fixed = match config
            .pointer("/ipam/config/0/subnet")
            .and_then(Value::as_str)
        {
            None => None,
            Some(text) => Some(text.parse::<Subnet>().map_err(|err| {
                anyhow::anyhow!("network {name:?}: subnet {err}; stack-run maps IPv4 subnets only")
            })?),
        };
        Ok(Some(Network {
            name: name.to_string(),
            fixed,
            flags,
        }))
    }

    pub fn prefix(&self) -> u8 {
        self.fixed.map_or(DEFAULT_PREFIX, |s| s.prefix())
    }

    /// The user's gateway moved into `subnet`, if the file gives one.
    pub fn gateway(&self, config: &Value, subnet: Subnet) -> Option<Ipv4Addr> {
        let gateway = config
            .pointer("/ipam/config/0/gateway")?
            .as_str()?
            .parse()
            .ok()?;
        self.fixed?.map(gateway, subnet)
    }
}

/// Docker network names: compose's, `PROJECT_NETWORK`.
pub fn network_name(project: &str, network: &str) -> String {
    format!("{project}_{network}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn which_networks_stack_run_creates() {
        let subnet = |text: &str| -> Subnet { text.parse().unwrap() };
        let fixed = json!({"ipam": {"config": [{"subnet": "10.231.77.0/24", "gateway": "10.231.77.1"}]},
                           "internal": true, "driver_opts": {"com.docker.network.bridge.enable_icc": "true"}});
        let network = Network::of("legacy", &fixed).unwrap().unwrap();
        assert_eq!(network.fixed, Some(subnet("10.231.77.0/24")));
        assert_eq!(
            network.flags,
            [
                "--internal",
                "--opt",
                "com.docker.network.bridge.enable_icc=true"
            ]
        );
        assert_eq!(
            network.gateway(&fixed, subnet("10.213.5.0/24")),
            Some("10.213.5.1".parse().unwrap())
        );
        assert_eq!(
            Network::of("plain", &json!({})).unwrap().unwrap().prefix(),
            24
        );
        for kept in [
            json!({"external": true}),
            json!({"driver": "overlay"}),
            json!({"enable_ipv6": true}),
        ] {
            assert_eq!(Network::of("n", &kept).unwrap(), None, "{kept}");
        }
        let bad = json!({"ipam": {"config": [{"subnet": "fd00::/64"}]}});
        assert!(Network::of("v6", &bad).is_err());
    }
}
