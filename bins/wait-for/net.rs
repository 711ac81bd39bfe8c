//! Reaching a service without ever blocking past a deadline.
//!
//! The standard library bounds a TCP connect but not a name lookup or a Unix
//! socket connect, and a lookup can hang on a slow resolver for as long as it
//! likes. Those run on a helper thread that the caller stops waiting for at
//! the deadline; the process ends or execs soon after, which reaps it. A name
//! that resolves to several addresses (IPv4 and IPv6) is connected to on all
//! of them at once, and the first to answer wins, as a client library would.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};

use crate::target::Endpoint;

/// An open connection and the address it reached.
pub struct Connection {
    pub stream: TcpStream,
    pub address: SocketAddr,
}

/// Connect to any address `endpoint` resolves to, giving up at `deadline`.
/// Reads and writes on the stream also fail at the deadline.
pub fn connect(endpoint: &Endpoint, deadline: Instant) -> anyhow::Result<Connection> {
    connect_any(&resolve(endpoint, deadline)?, deadline)
}

/// Connect to all `addresses` at once; the first connection made wins.
fn connect_any(addresses: &[SocketAddr], deadline: Instant) -> anyhow::Result<Connection> {
    let (sender, receiver) = mpsc::channel();
    for &address in addresses {
        let sender = sender.clone();
        let attempt = move || {
            let result = TcpStream::connect_timeout(&address, remaining(deadline)?);
            let _ = sender.send((address, result));
            Ok::<_, io::Error>(())
        };
        if addresses.len() == 1 {
            attempt()?;
        } else {
            thread::spawn(attempt);
        }
    }
    drop(sender);
    let mut failures = Vec::new();
    while let Ok((address, result)) = receiver.recv_timeout(remaining(deadline)?) {
        match result {
            Ok(stream) => {
                let left = remaining(deadline)?;
                stream.set_read_timeout(Some(left))?;
                stream.set_write_timeout(Some(left))?;
                // Probes write small requests and want them sent at once.
                stream.set_nodelay(true)?;
                return Ok(Connection { stream, address });
            }
            Err(error) => failures.push(format!("{address}: {}", describe(&error))),
        }
        if failures.len() == addresses.len() {
            break;
        }
    }
    if failures.len() < addresses.len() {
        bail!("connect timed out");
    }
    if let [one] = failures.as_slice() {
        // One address: the error alone says it, the address adds nothing.
        bail!(
            "{}",
            one.split_once(": ")
                .map_or(one.as_str(), |(_, error)| error)
        );
    }
    bail!("{}", failures.join("; "))
}

/// Every address the host names, looked up afresh on each call: container
/// addresses appear, and change, while a stack starts.
fn resolve(endpoint: &Endpoint, deadline: Instant) -> anyhow::Result<Vec<SocketAddr>> {
    if let Ok(ip) = endpoint.host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, endpoint.port)]);
    }
    let name = (endpoint.host.clone(), endpoint.port);
    let addresses = within(deadline, move || {
        name.to_socket_addrs().map(Iterator::collect::<Vec<_>>)
    })
    .map_err(|error| anyhow!("cannot resolve {}: {error}", endpoint.host))?;
    if addresses.is_empty() {
        bail!("cannot resolve {}: no address", endpoint.host);
    }
    Ok(addresses)
}

/// Connect to a Unix stream socket, giving up at `deadline` (a full listen
/// queue makes a blocking connect wait).
pub fn connect_unix(path: &Path, deadline: Instant) -> anyhow::Result<UnixStream> {
    let path = path.to_owned();
    within(deadline, move || UnixStream::connect(path)).map_err(|error| anyhow!("{error}"))
}

/// Run `work` on its own thread and wait for it until `deadline`.
fn within<T: Send + 'static>(
    deadline: Instant,
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, String> {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = sender.send(work());
    });
    let wait = remaining(deadline).map_err(|error| describe(&error))?;
    match receiver.recv_timeout(wait) {
        Ok(result) => result.map_err(|error| describe(&error)),
        Err(_) => Err("timed out".into()),
    }
}

/// The time left until `deadline`, or a timed-out error when none is.
pub fn remaining(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
    }
}

/// An I/O error as a short phrase: "connection refused", not
/// "Connection refused (os error 111)".
pub fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(end) => &text[..end],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A port nothing listens on, on `ip`.
    fn closed(ip: &str) -> SocketAddr {
        TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap()
    }

    #[test]
    fn any_address_that_answers_wins_whatever_its_place() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        for addresses in [[closed("::1"), open], [open, closed("::1")]] {
            let connection = connect_any(&addresses, deadline).unwrap();
            assert_eq!(connection.address, open);
        }
    }

    #[test]
    fn every_failure_is_named_when_all_fail() {
        let (v6, v4) = (closed("::1"), closed("127.0.0.1"));
        let deadline = Instant::now() + Duration::from_secs(5);
        let error = connect_any(&[v6, v4], deadline).err().unwrap().to_string();
        assert!(
            error.contains(&format!("{v6}: connection refused")),
            "{error}"
        );
        assert!(
            error.contains(&format!("{v4}: connection refused")),
            "{error}"
        );
        let one = connect_any(&[v4], deadline).err().unwrap().to_string();
        assert_eq!(one, "connection refused");
    }

    #[test]
    fn short_error_phrases() {
        let error = io::Error::from_raw_os_error(111);
        assert_eq!(describe(&error), "connection refused");
    }
}
