//! wait-for invoked as `wait-for-it.sh`: wait-for-it's command line, its
//! messages and its exit statuses, so a script that calls wait-for-it runs
//! unchanged and only waits better.
//!
//! wait-for-it parses its arguments by hand, and clap cannot take them as
//! they are (`-h` is the host, `--timeout=5` but not `--timeout 5`, the
//! first argument holding a colon is the target wherever it stands), so
//! neither does this module: it follows the same rules, in the same order.
//! Beyond wait-for-it, a URL target (`postgres://db`) is probed with its
//! protocol, and a bad port or timeout is refused at once instead of being
//! waited on until the timeout.

use std::ffi::OsString;
use std::time::Duration;

use crate::run::exec;
use crate::target::Target;
use crate::wait;

/// wait-for-it's status for a usage error.
const USAGE: i32 = 1;
/// A timeout, as timeout(1) reports it to wait-for-it.
const TIMEOUT: i32 = 124;

/// Whether the name wait-for was invoked as asks for wait-for-it's behaviour.
pub fn is_compat(name: &str) -> bool {
    name.starts_with("wait-for-it") || name.starts_with("wait_for_it")
}

/// What the command line asked for.
#[derive(Debug, Default, PartialEq)]
struct Options {
    host: String,
    port: String,
    /// A URL given in place of `host:port`.
    url: Option<String>,
    timeout: String,
    strict: bool,
    quiet: bool,
    command: Vec<OsString>,
}

/// The command line could not be used: say why (unless quiet), then how.
#[derive(Debug, PartialEq)]
struct Usage {
    error: Option<String>,
    quiet: bool,
}

/// Read the arguments as wait-for-it does: one pass, the first matching
/// rule wins, an option's value is the next argument, and an empty value
/// ends the parsing.
fn parse(args: Vec<OsString>) -> Result<Options, Usage> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        let mut value = |field: &mut String| match args.next() {
            Some(value) if !value.is_empty() => {
                *field = value.to_string_lossy().into_owned();
                true
            }
            _ => {
                field.clear();
                false
            }
        };
        match text.as_str() {
            _ if text.contains("://") => options.url = Some(text),
            _ if text.contains(':') => {
                let mut words = text
                    .split([':', ' ', '\t', '\n'])
                    .filter(|word| !word.is_empty());
                options.host = words.next().unwrap_or("").to_owned();
                options.port = words.next().unwrap_or("").to_owned();
                options.url = None;
            }
            "--child" => {}
            "-q" | "--quiet" => options.quiet = true,
            "-s" | "--strict" => options.strict = true,
            "-h" => {
                if !value(&mut options.host) {
                    break;
                }
            }
            "-p" => {
                if !value(&mut options.port) {
                    break;
                }
            }
            "-t" => {
                if !value(&mut options.timeout) {
                    break;
                }
            }
            "--" => {
                options.command = args.collect();
                break;
            }
            "--help" => {
                return Err(Usage {
                    error: None,
                    quiet: options.quiet,
                });
            }
            _ => {
                if let Some(host) = text.strip_prefix("--host=") {
                    options.host = host.to_owned();
                } else if let Some(port) = text.strip_prefix("--port=") {
                    options.port = port.to_owned();
                } else if let Some(timeout) = text.strip_prefix("--timeout=") {
                    options.timeout = timeout.to_owned();
                } else {
                    return Err(Usage {
                        error: Some(format!("Unknown argument: {text}")),
                        quiet: options.quiet,
                    });
                }
            }
        }
    }
    if options.url.is_none() && (options.host.is_empty() || options.port.is_empty()) {
        return Err(Usage {
            error: Some("Error: you need to provide a host and port to test.".into()),
            quiet: options.quiet,
        });
    }
    Ok(options)
}

/// The usage text, on stderr, as wait-for-it prints it for every usage error.
fn usage(name: &str) -> String {
    format!(
        "Usage:
    {name} host:port [-s] [-t timeout] [-- command args]
    -h HOST | --host=HOST       Host name or IP address to wait for
    -p PORT | --port=PORT       TCP port to wait for
                                (or give both as host:port)
    -s | --strict               Run the command only if the port is ready in time
    -q | --quiet                Print no status messages
    -t TIMEOUT | --timeout=TIMEOUT
                                Seconds to wait, 0 for no timeout (default 15)
    -- COMMAND ARGS             The command to run (exec) once done waiting
"
    )
}

/// Run as wait-for-it: `name` is the name it was invoked as, `args` the
/// arguments after it. Returns the exit status unless the command execs.
pub fn run(name: &str, args: Vec<OsString>) -> i32 {
    let options = match parse(args) {
        Ok(options) => options,
        Err(Usage { error, quiet }) => return usage_error(name, error, quiet),
    };
    let say = |message: String| {
        if !options.quiet {
            eprintln!("{name}: {message}");
        }
    };
    let timeout = if options.timeout.is_empty() {
        15
    } else {
        match options.timeout.parse::<u64>() {
            Ok(seconds) => seconds,
            Err(_) => {
                let error = format!("Error: invalid timeout: {}", options.timeout);
                return usage_error(name, Some(error), options.quiet);
            }
        }
    };
    let target = match &options.url {
        Some(url) => Target::parse(url, &[]),
        None => Target::tcp(&options.host, &options.port),
    };
    let target = match target {
        Ok(target) => target,
        Err(error) => return usage_error(name, Some(format!("Error: {error:#}")), options.quiet),
    };
    if timeout > 0 {
        say(format!("waiting {timeout} seconds for {}", target.shown));
    } else {
        say(format!("waiting for {} without a timeout", target.shown));
    }
    let report = wait::wait(&target, wait::nonzero(Duration::from_secs(timeout)));
    let status = if report.ready {
        say(format!(
            "{} is available after {} seconds",
            target.shown,
            report.elapsed.as_secs()
        ));
        0
    } else {
        say(format!(
            "timeout occurred after waiting {timeout} seconds for {}",
            target.shown
        ));
        TIMEOUT
    };
    if options.command.is_empty() {
        return status;
    }
    if status != 0 && options.strict {
        say("strict mode, refusing to execute subprocess".into());
        return status;
    }
    exec(name, &options.command)
}

fn usage_error(name: &str, error: Option<String>, quiet: bool) -> i32 {
    if let Some(error) = error.filter(|_| !quiet) {
        eprintln!("{error}");
    }
    eprint!("{}", usage(name));
    USAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_line(line: &str) -> Result<Options, Usage> {
        parse(line.split_whitespace().map(OsString::from).collect())
    }

    #[test]
    fn host_port_anywhere_and_equals_options() {
        let options = parse_line("-s --timeout=5 db:5432 -q -- echo hi").unwrap();
        assert_eq!(
            options,
            Options {
                host: "db".into(),
                port: "5432".into(),
                timeout: "5".into(),
                strict: true,
                quiet: true,
                command: vec!["echo".into(), "hi".into()],
                ..Options::default()
            }
        );
    }

    #[test]
    fn short_options_take_the_next_argument() {
        let options = parse_line("-h db -p 5432 -t 0").unwrap();
        assert_eq!(
            (options.host.as_str(), options.port.as_str()),
            ("db", "5432")
        );
        assert_eq!(options.timeout, "0");
    }

    #[test]
    fn wait_for_it_rejects_what_it_rejects() {
        let unknown = |line| parse_line(line).unwrap_err().error.unwrap();
        assert_eq!(unknown("db:1 --timeout 5"), "Unknown argument: --timeout");
        assert_eq!(unknown("db:1 -t5"), "Unknown argument: -t5");
        assert_eq!(unknown("--host db -p 1"), "Unknown argument: --host");
        let missing = "Error: you need to provide a host and port to test.";
        assert_eq!(parse_line("").unwrap_err().error.unwrap(), missing);
        assert_eq!(parse_line("--port=80").unwrap_err().error.unwrap(), missing);
        assert_eq!(
            parse_line("--help").unwrap_err(),
            Usage {
                error: None,
                quiet: false
            }
        );
    }

    #[test]
    fn an_empty_value_ends_parsing() {
        // `-t` last: wait-for-it stops there and keeps its default timeout.
        let options = parse_line("db:1 -t").unwrap();
        assert_eq!(options.timeout, "");
        assert!(parse_line("db:1 -h").is_err());
    }

    #[test]
    fn a_url_stands_for_host_and_port() {
        let options = parse_line("postgres://db:5432/app").unwrap();
        assert_eq!(options.url.as_deref(), Some("postgres://db:5432/app"));
    }

    #[test]
    fn invoked_names() {
        assert!(is_compat("wait-for-it.sh"));
        assert!(is_compat("wait-for-it"));
        assert!(is_compat("wait_for_it.sh"));
        assert!(!is_compat("wait-for"));
    }
}
