//! What to wait for: a target as the user wrote it, parsed into the service
//! to reach and the protocol that tells whether it is ready.
//!
//! Targets are `host:port` (as wait-for-it takes them) or URLs. The URL
//! fragment carries wait-for's own per-target options (`#timeout=30`,
//! `#status=204`), because a fragment is never sent to the service and so
//! cannot clash with a path or query the service reads.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

/// One thing to wait for.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The target as written, with any password masked: what messages show.
    pub shown: String,
    pub service: Service,
    /// This target's own timeout, overriding `--timeout`.
    pub timeout: Option<Duration>,
}

/// A network host and port.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The service behind a target, and what its probe needs to know.
#[derive(Debug, Clone, PartialEq)]
pub enum Service {
    /// Ready when a TCP connection is accepted.
    Tcp(Endpoint),
    /// Ready when PostgreSQL accepts a startup message for `user` and `database`.
    Postgres {
        endpoint: Endpoint,
        user: String,
        database: String,
    },
    /// Ready when Redis answers PING (after AUTH when a password is given).
    Redis {
        endpoint: Endpoint,
        username: Option<String>,
        password: Option<String>,
    },
    /// Ready when a GET answers 2xx or one of `statuses`.
    Http {
        endpoint: Endpoint,
        /// The Host header: the authority as written.
        authority: String,
        /// The request target: path and query.
        path: String,
        statuses: Vec<u16>,
    },
    /// Ready when a stream socket at this path accepts a connection.
    Unix(PathBuf),
    /// Ready when this path exists.
    File(PathBuf),
}

impl Target {
    /// Parse a target; `statuses` are the `--status` codes an HTTP target accepts.
    pub fn parse(text: &str, statuses: &[u16]) -> anyhow::Result<Target> {
        parse(text, statuses).with_context(|| format!("invalid target {text:?}"))
    }

    /// The service a host and port name, as wait-for-it's `-h` and `-p` give them.
    pub fn tcp(host: &str, port: &str) -> anyhow::Result<Target> {
        check_host(host)?;
        let endpoint = Endpoint {
            host: host.to_owned(),
            port: parse_port(port)?,
        };
        Ok(Target {
            shown: format!("{host}:{port}"),
            service: Service::Tcp(endpoint),
            timeout: None,
        })
    }
}

fn parse(text: &str, statuses: &[u16]) -> anyhow::Result<Target> {
    let (body, options) = text.split_once('#').unwrap_or((text, ""));
    let mut timeout = None;
    let mut statuses = statuses.to_vec();
    for option in options.split('&').filter(|option| !option.is_empty()) {
        match option.split_once('=') {
            Some(("timeout", value)) => {
                timeout = Some(shared::timeout::parse(value).map_err(anyhow::Error::msg)?)
            }
            Some(("status", value)) => statuses.push(parse_status(value)?),
            _ => bail!("unknown option {option:?} (known: timeout=SECONDS, status=CODE)"),
        }
    }
    let Some((scheme, rest)) = body.split_once("://") else {
        let endpoint = parse_endpoint(body, None)?;
        return Ok(Target {
            shown: body.to_owned(),
            service: Service::Tcp(endpoint),
            timeout,
        });
    };
    let scheme = scheme.to_ascii_lowercase();
    let path_only = |rest: &str| -> anyhow::Result<PathBuf> {
        if !rest.starts_with('/') {
            bail!("{scheme}:// takes an absolute path: {scheme}:///path/to/it");
        }
        Ok(PathBuf::from(percent_decode(rest)?))
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, password)) => {
                (Some(percent_decode(user)?), Some(percent_decode(password)?))
            }
            None => (Some(percent_decode(info)?), None),
        },
        None => (None, None),
    };
    let shown = match (userinfo, &password) {
        (Some(info), Some(_)) => body.replacen(
            &format!("{info}@"),
            &format!("{}:***@", info.split(':').next().unwrap_or("")),
            1,
        ),
        _ => body.to_owned(),
    };
    let service = match scheme.as_str() {
        "tcp" => Service::Tcp(parse_endpoint(hostport, None)?),
        "postgres" | "postgresql" => {
            let user = user
                .filter(|user| !user.is_empty())
                .unwrap_or_else(|| "postgres".into());
            let database =
                percent_decode(path.split('?').next().unwrap_or("").trim_start_matches('/'))?;
            Service::Postgres {
                endpoint: parse_endpoint(hostport, Some(5432))?,
                database: if database.is_empty() {
                    user.clone()
                } else {
                    database
                },
                user,
            }
        }
        "redis" => Service::Redis {
            endpoint: parse_endpoint(hostport, Some(6379))?,
            username: user.filter(|user| !user.is_empty()),
            password,
        },
        "http" => {
            if userinfo.is_some() {
                bail!("credentials in an http:// URL are not supported");
            }
            Service::Http {
                endpoint: parse_endpoint(hostport, Some(80))?,
                authority: hostport.to_owned(),
                path: if path.starts_with('/') {
                    path.to_owned()
                } else {
                    format!("/{path}")
                },
                statuses,
            }
        }
        "https" | "rediss" => {
            bail!(
                "{scheme}:// needs TLS, which wait-for does not speak; wait for tcp://HOST:PORT instead"
            )
        }
        "unix" => Service::Unix(path_only(rest)?),
        "file" => Service::File(path_only(rest)?),
        _ => bail!("unknown scheme {scheme}:// (known: tcp, postgres, redis, http, unix, file)"),
    };
    Ok(Target {
        shown,
        service,
        timeout,
    })
}

/// `host:port`, `[v6]:port`, or a bare host when the scheme has a default port.
fn parse_endpoint(text: &str, default_port: Option<u16>) -> anyhow::Result<Endpoint> {
    let (host, port) = if let Some(bracketed) = text.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .context("an IPv6 address lacks its closing ']'")?;
        host.parse::<Ipv6Addr>()
            .with_context(|| format!("[{host}] is not an IPv6 address"))?;
        (host, after.strip_prefix(':'))
    } else {
        let (host, port) = match text.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        };
        check_host(host)?;
        (host, port)
    };
    let port = match (port, default_port) {
        (Some(port), _) => parse_port(port)?,
        (None, Some(port)) => port,
        (None, None) => bail!("no port: write HOST:PORT"),
    };
    Ok(Endpoint {
        host: host.to_owned(),
        port,
    })
}

/// Refuse a host no resolver could find (a space, `%20`, a label of 64
/// characters), at once rather than after waiting out the timeout: an IPv4
/// address, or a DNS name of letters, digits, `-` and `_` (Compose service
/// names), at most 253 characters in labels of at most 63.
fn check_host(host: &str) -> anyhow::Result<()> {
    if host.is_empty() {
        bail!("no host");
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.len() > 253 {
        bail!(
            "host name of {} characters: a host name has at most 253",
            host.len()
        );
    }
    for label in name.split('.') {
        if let Some(bad) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            bail!(
                "host {host:?} holds {bad:?}: a host name has letters, digits, '-' and '_' \
                 (an international name in its xn-- form, an IPv6 address in brackets)"
            );
        }
        if label.is_empty() || label.len() > 63 || label.starts_with('-') {
            bail!(
                "host {host:?} has the label {label:?}: labels have 1 to 63 characters \
                 and do not start with '-'"
            );
        }
    }
    Ok(())
}

fn parse_port(text: &str) -> anyhow::Result<u16> {
    match text.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => bail!("invalid port {text:?}: expected a number from 1 to 65535"),
    }
}

fn parse_status(text: &str) -> anyhow::Result<u16> {
    match text.parse::<u16>() {
        Ok(code) if (100..=599).contains(&code) => Ok(code),
        _ => bail!("invalid HTTP status {text:?}: expected a number from 100 to 599"),
    }
}

fn percent_decode(text: &str) -> anyhow::Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
                .with_context(|| format!("bad percent escape at byte {i}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).context("percent escapes do not make UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(host: &str, port: u16) -> Endpoint {
        Endpoint {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn host_port_is_tcp() {
        let target = Target::parse("db:5432", &[]).unwrap();
        assert_eq!(target.service, Service::Tcp(endpoint("db", 5432)));
        assert_eq!(target.shown, "db:5432");
    }

    #[test]
    fn ipv6_in_brackets() {
        let target = Target::parse("tcp://[::1]:80", &[]).unwrap();
        assert_eq!(target.service, Service::Tcp(endpoint("::1", 80)));
        assert_eq!(endpoint("::1", 80).to_string(), "[::1]:80");
    }

    #[test]
    fn postgres_defaults_and_decoding() {
        let target = Target::parse(
            "postgres://app%20user:s3cret@db/my%2Fdb?sslmode=disable",
            &[],
        )
        .unwrap();
        assert_eq!(
            target.service,
            Service::Postgres {
                endpoint: endpoint("db", 5432),
                user: "app user".into(),
                database: "my/db".into(),
            }
        );
        assert_eq!(
            target.shown,
            "postgres://app%20user:***@db/my%2Fdb?sslmode=disable"
        );
        let bare = Target::parse("postgresql://db:6000", &[]).unwrap();
        assert_eq!(
            bare.service,
            Service::Postgres {
                endpoint: endpoint("db", 6000),
                user: "postgres".into(),
                database: "postgres".into(),
            }
        );
    }

    #[test]
    fn redis_password_is_masked() {
        let target = Target::parse("redis://:hunter2@cache", &[]).unwrap();
        assert_eq!(
            target.service,
            Service::Redis {
                endpoint: endpoint("cache", 6379),
                username: None,
                password: Some("hunter2".into()),
            }
        );
        assert_eq!(target.shown, "redis://:***@cache");
    }

    #[test]
    fn http_keeps_path_query_and_options() {
        let target = Target::parse(
            "http://app:8000/health?deep=1#timeout=2.5&status=401",
            &[503],
        )
        .unwrap();
        assert_eq!(
            target.service,
            Service::Http {
                endpoint: endpoint("app", 8000),
                authority: "app:8000".into(),
                path: "/health?deep=1".into(),
                statuses: vec![503, 401],
            }
        );
        assert_eq!(target.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(target.shown, "http://app:8000/health?deep=1");
    }

    #[test]
    fn paths() {
        let unix = Target::parse("unix:///run/app.sock", &[]).unwrap();
        assert_eq!(unix.service, Service::Unix("/run/app.sock".into()));
        let file = Target::parse("file:///tmp/ready", &[]).unwrap();
        assert_eq!(file.service, Service::File("/tmp/ready".into()));
        assert!(Target::parse("file://relative", &[]).is_err());
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let error = |text: &str| format!("{:#}", Target::parse(text, &[]).unwrap_err());
        assert_eq!(
            error("db"),
            "invalid target \"db\": no port: write HOST:PORT"
        );
        assert!(error("db:http").contains("invalid port \"http\""));
        assert!(error("db:0").contains("invalid port"));
        assert!(error("https://x").contains("needs TLS"));
        assert!(error("ftp://x").contains("unknown scheme ftp://"));
        assert!(error("db:1#wait=3").contains("unknown option"));
    }

    #[test]
    fn impossible_hosts_are_refused_at_once() {
        let long = "a".repeat(300);
        for bad in [
            "a b:80".to_string(),
            "a\tb:80".into(),
            "tcp://a%20b:80".into(),
            format!("{long}:80"),
            format!("tcp://{}.x:80", "a".repeat(64)),
            "http://-db".into(),
            "redis://db..cache".into(),
            "tcp://[not-v6]:80".into(),
        ] {
            assert!(Target::parse(&bad, &[]).is_err(), "{bad:?}");
        }
        assert!(Target::tcp("a b", "80").is_err());
        for good in [
            "db_1:5432",
            "10.0.0.1:80",
            "my-db.internal.:1",
            "tcp://[fe80::1]:9",
        ] {
            assert!(Target::parse(good, &[]).is_ok(), "{good:?}");
        }
    }
}
