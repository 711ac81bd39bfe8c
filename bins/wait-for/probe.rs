//! One readiness check per protocol: does the service answer the way a
//! ready one does? A listening socket is not enough for a database, which
//! accepts connections while it still refuses to serve them.
//!
//! Each probe makes one attempt and gives up at its deadline; the wait loop
//! decides when to try again. The protocols are spoken directly, a request
//! and a reply each, so wait-for needs no client library.

use std::io::{BufRead, BufReader, Read, Write};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::net::{self, Connection};
use crate::target::{Endpoint, Service};

/// A service found ready.
#[derive(Debug, Default)]
pub struct Ready {
    /// The address that answered, where there is one.
    pub address: Option<String>,
    /// What the server said when it answered with a refusal that waiting
    /// will not fix (a missing database, a password needed): it is up.
    pub note: Option<String>,
}

/// Check once whether `service` is ready, giving up at `deadline`.
pub fn check(service: &Service, deadline: Instant) -> anyhow::Result<Ready> {
    match service {
        Service::Tcp(endpoint) => {
            let Connection { address, .. } = net::connect(endpoint, deadline)?;
            Ok(Ready {
                address: Some(address.to_string()),
                note: None,
            })
        }
        Service::Postgres {
            endpoint,
            user,
            database,
        } => postgres(endpoint, user, database, deadline),
        Service::Redis {
            endpoint,
            username,
            password,
        } => redis(endpoint, username.as_deref(), password.as_deref(), deadline),
        Service::Http {
            endpoint,
            authority,
            path,
            statuses,
        } => http(endpoint, authority, path, statuses, deadline),
        Service::Unix(path) => {
            net::connect_unix(path, deadline)?;
            Ok(Ready {
                address: Some(path.display().to_string()),
                note: None,
            })
        }
        Service::File(path) => match path.try_exists() {
            Ok(true) => Ok(Ready {
                address: Some(path.display().to_string()),
                note: None,
            }),
            Ok(false) => bail!("no such file"),
            Err(error) => bail!("{}", net::describe(&error)),
        },
    }
}

/// PostgreSQL's SQLSTATE for "cannot connect now": the server is starting
/// up, shutting down, or in recovery and not yet accepting connections.
const CANNOT_CONNECT_NOW: &str = "57P03";

/// Send a startup message (protocol 3.0) and read the replies, as
/// pg_isready does. An authentication request or ReadyForQuery means the
/// server accepts connections; an error 57P03 means not yet; any other
/// error comes from a running server that refuses this client (no such
/// database, no pg_hba.conf entry), which waiting will not change.
fn postgres(
    endpoint: &Endpoint,
    user: &str,
    database: &str,
    deadline: Instant,
) -> anyhow::Result<Ready> {
    let Connection {
        mut stream,
        address,
    } = net::connect(endpoint, deadline)?;
    let mut body = Vec::new();
    body.extend_from_slice(&196_608_u32.to_be_bytes()); // protocol 3.0
    for (key, value) in [("user", user), ("database", database)] {
        body.extend_from_slice(key.as_bytes());
        body.push(0);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let length = u32::try_from(body.len() + 4).context("startup message too long")?;
    let mut message = length.to_be_bytes().to_vec();
    message.extend_from_slice(&body);
    stream
        .write_all(&message)
        .context("sending the startup message")?;

    let ready = Ready {
        address: Some(address.to_string()),
        note: None,
    };
    // Trust authentication answers AuthenticationOk and goes on starting the
    // session: read on to ReadyForQuery (an error on the way, such as a
    // missing database, is the server refusing this client) and end with
    // Terminate, so the server logs no broken connection.
    loop {
        let (kind, body) = read_message(&mut stream)?;
        match kind {
            b'R' if body == [0, 0, 0, 0] => {}
            b'R' => return Ok(ready), // asks for a password: accepting connections
            b'v' | b'S' | b'K' | b'N' => {}
            b'Z' => {
                let _ = stream.write_all(b"X\0\0\0\x04");
                return Ok(ready);
            }
            b'E' => {
                let error = PostgresError::parse(&body);
                if error.code == CANNOT_CONNECT_NOW {
                    bail!("{}", error.message);
                }
                return Ok(Ready {
                    note: Some(format!(
                        "{} {}: {}",
                        error.severity, error.code, error.message
                    )),
                    ..ready
                });
            }
            other => bail!("not a PostgreSQL server: a reply starts with byte {other:#04x}"),
        }
    }
}

/// One backend message: its type byte and body, at most 64 KiB.
fn read_message(stream: &mut impl Read) -> anyhow::Result<(u8, Vec<u8>)> {
    let mut header = [0; 5];
    stream
        .read_exact(&mut header)
        .context("reading the reply")?;
    let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
    if !(4..=65_536).contains(&length) {
        bail!(
            "not a PostgreSQL server: a reply starts with byte {:#04x}",
            header[0]
        );
    }
    let mut body = vec![0; length - 4];
    stream.read_exact(&mut body).context("reading the reply")?;
    Ok((header[0], body))
}

/// The fields of an ErrorResponse this probe reports.
#[derive(Debug, Default, PartialEq)]
struct PostgresError {
    severity: String,
    code: String,
    message: String,
}

impl PostgresError {
    /// Fields are a type byte and a NUL-terminated string each, ended by a NUL.
    fn parse(fields: &[u8]) -> PostgresError {
        let mut error = PostgresError::default();
        for field in fields.split(|&byte| byte == 0) {
            let Some((&kind, value)) = field.split_first() else {
                continue;
            };
            let value = String::from_utf8_lossy(value).into_owned();
            match kind {
                b'S' => error.severity = value,
                b'C' => error.code = value,
                b'M' => error.message = value,
                _ => {}
            }
        }
        error
    }
}

/// Redis errors that mean "not yet": the dataset is loading, a script is
/// running, a replica has lost its primary.
const REDIS_NOT_YET: &[&str] = &["LOADING", "BUSY", "MASTERDOWN"];

/// Send PING (after AUTH when a password is given) and read the reply.
/// PONG is ready; LOADING and its kin are not. NOAUTH, WRONGPASS and the
/// like come from a running server that refuses this client: ready, with a
/// note. Without the password, NOAUTH cannot tell whether the dataset is
/// still loading; give the password in the URL to know.
fn redis(
    endpoint: &Endpoint,
    username: Option<&str>,
    password: Option<&str>,
    deadline: Instant,
) -> anyhow::Result<Ready> {
    let Connection { stream, address } = net::connect(endpoint, deadline)?;
    let mut request = Vec::new();
    if let Some(password) = password {
        let words: Vec<&str> = match username {
            Some(username) => vec!["AUTH", username, password],
            None => vec!["AUTH", password],
        };
        request.extend(resp_command(&words));
    }
    request.extend(resp_command(&["PING"]));
    (&stream).write_all(&request).context("sending PING")?;

    let mut reader = BufReader::new(stream.take(4096));
    let ready = Ready {
        address: Some(address.to_string()),
        note: None,
    };
    let replies = if password.is_some() { 2 } else { 1 };
    for _ in 0..replies {
        let mut line = String::new();
        reader.read_line(&mut line).context("reading the reply")?;
        let line = line.trim_end();
        if line == "+PONG" {
            return Ok(ready);
        }
        if line == "+OK" {
            continue; // AUTH accepted; PING's reply follows
        }
        let Some(error) = line.strip_prefix('-') else {
            bail!("not a Redis server: reply {line:?}");
        };
        let kind = error.split_whitespace().next().unwrap_or("");
        if REDIS_NOT_YET.contains(&kind) {
            bail!("{error}");
        }
        return Ok(Ready {
            note: Some(error.to_owned()),
            ..ready
        });
    }
    bail!("no reply to PING")
}

/// A command as a RESP array of bulk strings.
fn resp_command(words: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", words.len()).into_bytes();
    for word in words {
        out.extend(format!("${}\r\n", word.len()).bytes());
        out.extend(word.bytes());
        out.extend(b"\r\n");
    }
    out
}

/// GET the path and read the status line: 2xx, or a status the user
/// listed, is ready.
fn http(
    endpoint: &Endpoint,
    authority: &str,
    path: &str,
    statuses: &[u16],
    deadline: Instant,
) -> anyhow::Result<Ready> {
    let Connection { stream, address } = net::connect(endpoint, deadline)?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: wait-for\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    (&stream)
        .write_all(request.as_bytes())
        .context("sending the request")?;
    let mut line = String::new();
    BufReader::new(stream.take(4096))
        .read_line(&mut line)
        .context("reading the status line")?;
    let status = line
        .strip_prefix("HTTP/")
        .and_then(|rest| rest.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("not an HTTP server: reply {:?}", line.trim_end()))?;
    if (200..300).contains(&status) || statuses.contains(&status) {
        return Ok(Ready {
            address: Some(address.to_string()),
            note: None,
        });
    }
    bail!("{}", line.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_error_fields() {
        let fields =
            b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0Fpostmaster.c\0\0";
        assert_eq!(
            PostgresError::parse(fields),
            PostgresError {
                severity: "FATAL".into(),
                code: "57P03".into(),
                message: "the database system is starting up".into(),
            }
        );
    }

    #[test]
    fn resp_arrays() {
        assert_eq!(resp_command(&["PING"]), b"*1\r\n$4\r\nPING\r\n");
        assert_eq!(
            resp_command(&["AUTH", "pw"]),
            b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"
        );
    }
}
