//! Waiting until a shard's sidecars are really ready.
//!
//! A container that defines a healthcheck is ready when Docker says it is
//! healthy. One without is ready when every TCP port it exposes accepts a
//! connection on its address in the project network (the ports the user
//! published become exposed ports in the derived file). One that exited 0
//! (a migration, a seed job) is done, hence ready; any other exit is a
//! failure, as is `unhealthy`.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;
use shared::contract::labels;

use crate::proc::Children;
use crate::sweep::{docker, list};

/// How one container stands.
#[derive(Debug, PartialEq)]
enum Readiness {
    Ready,
    Waiting(String),
    Failed(String),
}

/// Wait until every container of `project` is ready, `deadline` passes, or `stop` says so.
pub fn wait(
    children: &Children,
    project: &str,
    deadline: Instant,
    stop: impl Fn() -> bool,
) -> anyhow::Result<()> {
    let filter = labels::filter(labels::COMPOSE_PROJECT, project);
    loop {
        let ids = list(children, &["ps", "-aq", "--filter", &filter])?;
        let mut waiting = Vec::new();
        if !ids.is_empty() {
            let mut cmd = docker(&["inspect"]);
            cmd.args(&ids);
            let output = children.capture(cmd)?;
            let containers: Value = serde_json::from_slice(&output.stdout)
                .context("cannot read docker inspect output")?;
            for container in containers.as_array().into_iter().flatten() {
                match readiness(container) {
                    Readiness::Ready => {}
                    Readiness::Waiting(why) => waiting.push(why),
                    Readiness::Failed(why) => bail!("{why}"),
                }
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if stop() {
            bail!("stopped while waiting for {}", waiting.join(", "));
        }
        if Instant::now() >= deadline {
            bail!("not ready in time: {}", waiting.join(", "));
        }
        thread::sleep(Duration::from_millis(200));
    }
}

fn readiness(container: &Value) -> Readiness {
    let service = container["Config"]["Labels"][labels::COMPOSE_SERVICE]
        .as_str()
        .unwrap_or("?")
        .to_string();
    let state = &container["State"];
    if state["Running"] != Value::Bool(true) {
        return match state["ExitCode"].as_i64() {
            Some(0) if state["Status"] == "exited" => Readiness::Ready,
            Some(code) if state["Status"] == "exited" => {
                Readiness::Failed(format!("sidecar {service} exited with status {code}"))
            }
            _ => Readiness::Waiting(format!(
                "{service} ({})",
                state["Status"].as_str().unwrap_or("?")
            )),
        };
    }
    if let Some(health) = state["Health"]["Status"].as_str() {
        return match health {
            "healthy" => Readiness::Ready,
            "unhealthy" => Readiness::Failed(format!("sidecar {service} is unhealthy")),
            other => Readiness::Waiting(format!("{service} ({other})")),
        };
    }
    let closed: Vec<String> = tcp_ports(container)
        .into_iter()
        .filter(|addr| TcpStream::connect_timeout(addr, Duration::from_millis(300)).is_err())
        .map(|addr| addr.port().to_string())
        .collect();
    if closed.is_empty() {
        Readiness::Ready
    } else {
        Readiness::Waiting(format!("{service} (port {})", closed.join(", ")))
    }
}

/// The container's exposed TCP ports at each of its network addresses.
fn tcp_ports(container: &Value) -> Vec<SocketAddr> {
    let ports: Vec<u16> = container["Config"]["ExposedPorts"]
        .as_object()
        .into_iter()
        .flat_map(|ports| ports.keys())
        .filter_map(|key| key.strip_suffix("/tcp")?.parse().ok())
        .collect();
    let ip: Option<IpAddr> = container["NetworkSettings"]["Networks"]
        .as_object()
        .into_iter()
        .flat_map(|networks| networks.values())
        .find_map(|network| network["IPAddress"].as_str()?.parse().ok());
    match ip {
        Some(ip) => ports
            .into_iter()
            .map(|port| SocketAddr::new(ip, port))
            .collect(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(state: Value) -> Value {
        json!({
            "Config": {"Labels": {"com.docker.compose.service": "db"}},
            "State": state,
            "NetworkSettings": {"Networks": {}},
        })
    }

    #[test]
    fn health_decides_when_defined() {
        let starting = container(
            json!({"Running": true, "Status": "running", "Health": {"Status": "starting"}}),
        );
        assert_eq!(
            readiness(&starting),
            Readiness::Waiting("db (starting)".into())
        );
        let healthy = container(
            json!({"Running": true, "Status": "running", "Health": {"Status": "healthy"}}),
        );
        assert_eq!(readiness(&healthy), Readiness::Ready);
        let unhealthy = container(
            json!({"Running": true, "Status": "running", "Health": {"Status": "unhealthy"}}),
        );
        assert_eq!(
            readiness(&unhealthy),
            Readiness::Failed("sidecar db is unhealthy".into())
        );
    }

    #[test]
    fn exits_are_done_or_failed() {
        let done = container(json!({"Running": false, "Status": "exited", "ExitCode": 0}));
        assert_eq!(readiness(&done), Readiness::Ready);
        let crashed = container(json!({"Running": false, "Status": "exited", "ExitCode": 1}));
        assert_eq!(
            readiness(&crashed),
            Readiness::Failed("sidecar db exited with status 1".into())
        );
        let created = container(json!({"Running": false, "Status": "created", "ExitCode": 0}));
        assert_eq!(
            readiness(&created),
            Readiness::Waiting("db (created)".into())
        );
    }
}
