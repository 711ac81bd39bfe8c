//! Addresses for every stack's networks, from a pool stack-run manages.
//!
//! Left to compose, each stack's networks take subnets from Docker's default
//! address pools, which hold about 30 networks per host: the 31st stack
//! fails to start. And a network with a fixed subnet in the user's file is
//! the same subnet in every stack, so every stack after the first fails with
//! "Pool overlaps". stack-run therefore creates each stack's bridge networks
//! itself, before compose starts anything, each with a subnet of its own from
//! `--subnet-pool` (a user's fixed subnet keeps its size, and the addresses
//! services pin in it keep their offset), and hands them to compose as
//! external networks. Docker refuses a subnet that overlaps any other, so
//! two runs at once cannot take the same one: the loser tries the next.
//!
//! A run lists the host's subnets once, not once per stack (that is a
//! `docker network inspect` of every network on the host), and keeps track of
//! those its own stacks hold, so that its stacks never try the same one.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::engine::docker::{docker, list};
use crate::engine::proc::Children;
use crate::model::network::{Network, Subnet, network_name};

/// The subnets a run knows are in use, shared by its stacks.
#[derive(Default)]
pub struct Taken(Mutex<Known>);

#[derive(Default)]
struct Known {
    /// The host's, listed on first use, and those found taken since.
    host: Option<Vec<Subnet>>,
    /// Those of the run's projects, until their teardown.
    ours: BTreeMap<String, Vec<Subnet>>,
}

impl Known {
    /// The first slot of `pool` for `prefix`, from `start`, that overlaps none in use.
    fn free(&self, pool: Subnet, prefix: u8, start: u64) -> Option<Subnet> {
        let in_use = || {
            self.host
                .iter()
                .flatten()
                .chain(self.ours.values().flatten())
        };
        pool.slots(prefix, start)
            .find(|slot| !in_use().any(|taken| taken.overlaps(*slot)))
    }
}

impl Taken {
    fn lock(&self) -> MutexGuard<'_, Known> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A free slot of `pool` for `prefix`, from `start`, now `project`'s;
    /// `None` when the pool is full.
    fn claim(
        &self,
        children: &Children,
        project: &str,
        pool: Subnet,
        prefix: u8,
        start: u64,
    ) -> anyhow::Result<Option<Subnet>> {
        let mut known = self.lock();
        if known.host.is_none() {
            known.host = Some(existing_subnets(children)?);
        }
        let mut free = known.free(pool, prefix, start);
        if free.is_none() {
            // Networks of other runs may have gone since the listing.
            known.host = Some(existing_subnets(children)?);
            free = known.free(pool, prefix, start);
        }
        if let Some(subnet) = free {
            known
                .ours
                .entry(project.to_string())
                .or_default()
                .push(subnet);
        }
        Ok(free)
    }

    /// `project`'s claim on `subnet` lost to another run or tool.
    fn lost(&self, project: &str, subnet: Subnet) {
        let mut known = self.lock();
        if let Some(ours) = known.ours.get_mut(project) {
            ours.retain(|&s| s != subnet);
        }
        known.host.get_or_insert_default().push(subnet);
    }

    /// `project`'s networks are gone: their subnets are free again.
    pub fn release(&self, project: &str) {
        self.lock().ours.remove(project);
    }
}

/// Create `project`'s networks, each with a free subnet of `pool` (see
/// [`Taken`]), labelled like compose's own (so a teardown by project removes
/// them) and with `labels`. Returns each network's subnet. On failure, those
/// created stay for the caller's teardown.
pub fn create(
    children: &Children,
    taken: &Taken,
    pool: Subnet,
    project: &str,
    networks: &[(Network, Value)],
    labels: &[(String, String)],
) -> anyhow::Result<BTreeMap<String, Subnet>> {
    let mut created = BTreeMap::new();
    // Start where this project's name points, so runs at once rarely meet.
    let start = project
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    for (network, config) in networks {
        let name = network_name(project, &network.name);
        let placed = loop {
            let Some(subnet) = taken.claim(children, project, pool, network.prefix(), start)?
            else {
                bail!(
                    "no free /{} left in the subnet pool {pool} for network {name}: \
                     give --subnet-pool a larger range, remove unused networks, or run fewer stacks at once (--jobs)",
                    network.prefix()
                );
            };
            let mut cmd = docker(&["network", "create", "--driver", "bridge"]);
            cmd.arg("--subnet").arg(subnet.to_string());
            if let Some(gateway) = network.gateway(config, subnet) {
                cmd.arg("--gateway").arg(gateway.to_string());
            }
            cmd.args(&network.flags);
            let compose_labels = [
                ("com.docker.compose.project", project),
                ("com.docker.compose.network", network.name.as_str()),
            ];
            for (key, value) in compose_labels
                .iter()
                .map(|&(k, v)| (k, v))
                .chain(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            {
                cmd.arg("--label").arg(format!("{key}={value}"));
            }
            cmd.arg(&name);
            let output = children.capture(cmd)?;
            if output.status.success() {
                break subnet;
            }
            let reason = String::from_utf8_lossy(&output.stderr);
            // Taken since the listing (another run, another tool): the next one.
            if reason.contains("overlaps") {
                taken.lost(project, subnet);
                continue;
            }
            bail!("cannot create network {name}: {}", reason.trim());
        };
        created.insert(network.name.clone(), placed);
    }
    Ok(created)
}

/// Every IPv4 subnet Docker's networks use now.
fn existing_subnets(children: &Children) -> anyhow::Result<Vec<Subnet>> {
    let ids = list(children, &["network", "ls", "-q"])?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut cmd = docker(&[
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
    ]);
    cmd.args(&ids);
    let output = children.capture(cmd)?;
    // A network removed since the listing fails the inspect: what the others said still counts.
    let text =
        String::from_utf8(output.stdout).context("docker network inspect printed non-UTF-8")?;
    Ok(text
        .split_whitespace()
        .filter_map(|cidr| cidr.parse().ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_of_a_run_never_claim_the_same_subnet() {
        let subnet = |text: &str| -> Subnet { text.parse().unwrap() };
        let taken = Taken(Mutex::new(Known {
            host: Some(vec![subnet("10.213.0.0/24")]),
            ours: BTreeMap::new(),
        }));
        // Listed already: no docker call.
        let children = Children::default();
        let pool = subnet("10.213.0.0/22");
        let claim = |project| taken.claim(&children, project, pool, 24, 0).unwrap();
        assert_eq!(claim("s1"), Some(subnet("10.213.1.0/24")));
        assert_eq!(claim("s2"), Some(subnet("10.213.2.0/24")));
        taken.lost("s2", subnet("10.213.2.0/24"));
        assert_eq!(claim("s2"), Some(subnet("10.213.3.0/24")));
        taken.release("s1");
        assert_eq!(claim("s3"), Some(subnet("10.213.1.0/24")));
    }
}
