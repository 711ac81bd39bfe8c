//! The self-hosted runner in `deploy/github-runner/`: its real entrypoint,
//! driven with bash against a local stand-in for GitHub's two token
//! endpoints and stand-ins for the runner's `config.sh` and `run.sh`, and its
//! compose files, validated by the Compose this machine has. This machine
//! cannot reach GitHub, so registering with github.com itself is left to the
//! README's manual check.

use crate::util::{Dir, fixture, root};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const API_TOKEN: &str = "org-api-token-8d1e";
const REGISTRATION_TOKEN: &str = "registration-token-from-api-51c0";
const REMOVE_TOKEN: &str = "remove-token-from-api-a7b2";
const GIVEN_TOKEN: &str = "given-registration-token-3f9a";

/// The stand-in for api.github.com, on a free local port, stopped on drop.
struct Api {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Api {
    fn start(dir: &Dir) -> Api {
        let log = dir.join("api.log");
        std::fs::write(&log, "").unwrap();
        let mut child = Command::new("python3")
            .arg(fixture("github-runner/github_api.py"))
            .args(["--api-token", API_TOKEN])
            .args(["--registration-token", REGISTRATION_TOKEN])
            .args(["--remove-token", REMOVE_TOKEN])
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the GitHub API stand-in");
        let mut port = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut port)
            .unwrap();
        assert!(
            !port.trim().is_empty(),
            "the GitHub API stand-in did not start"
        );
        let url = format!("http://127.0.0.1:{}", port.trim());
        Api { child, url, log }
    }

    /// One line per request: `POST <path> auth=ok|bad|missing`.
    fn requests(&self) -> Vec<String> {
        lines(&self.log)
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A runner installation (the two stand-in scripts) and its state volume.
struct Install {
    home: PathBuf,
    state: PathBuf,
}

impl Install {
    fn new(dir: &Dir, name: &str) -> Install {
        let home = dir.join(name);
        std::fs::create_dir_all(&home).unwrap();
        for script in ["config.sh", "run.sh"] {
            std::fs::copy(
                fixture(&format!("github-runner/{script}")),
                home.join(script),
            )
            .unwrap();
        }
        Install {
            home,
            state: dir.join("state"),
        }
    }

    /// What the stand-ins recorded, one line per call or event.
    fn calls(&self) -> Vec<String> {
        lines(&self.home.join("calls.log"))
    }

    fn registered(&self) -> bool {
        self.state.join(".runner").exists()
    }

    /// The real entrypoint with a clean environment: only what a test sets.
    fn entrypoint(&self) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(root().join("deploy/github-runner/entrypoint.sh"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("RUNNER_HOME", &self.home)
            .env("RUNNER_STATE", &self.state)
            .env("RUNNER_NAME", "ci-runner-1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    /// Start the entrypoint, wait until run.sh listens, send SIGTERM, and
    /// return what the entrypoint did.
    fn run_until_sigterm(&self, mut cmd: Command) -> Output {
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.calls().iter().any(|c| c == "run.sh started") {
            if child.try_wait().unwrap().is_some() {
                panic!("exited before run.sh: {:?}", child.wait_with_output());
            }
            assert!(Instant::now() < deadline, "run.sh never started");
            std::thread::sleep(Duration::from_millis(20));
        }
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        child.wait_with_output().unwrap()
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Everything the entrypoint printed, checked to hold none of the tokens.
fn printed_without_secrets(output: &Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for secret in [API_TOKEN, REGISTRATION_TOKEN, REMOVE_TOKEN, GIVEN_TOKEN] {
        assert!(!text.contains(secret), "a token was printed:\n{text}");
    }
    text
}

#[test]
fn registration_token_registers_and_sigterm_deregisters() {
    let dir = Dir::new();
    let install = Install::new(&dir, "home");
    let mut cmd = install.entrypoint();
    cmd.env("TOKEN", GIVEN_TOKEN)
        .env("RUNNER_URL", "https://github.com/acme/app")
        .env("RUNNER_LABELS", "docker,shardstack")
        .env("RUNNER_GROUP", "testing");
    let output = install.run_until_sigterm(cmd);

    assert_eq!(output.status.code(), Some(143), "{output:?}");
    assert_eq!(
        install.calls(),
        [
            format!(
                "config.sh --unattended --url https://github.com/acme/app --token {GIVEN_TOKEN} \
                 --name ci-runner-1 --work _work --replace --labels docker,shardstack \
                 --runnergroup testing"
            ),
            "run.sh started".into(),
            "run.sh got TERM".into(),
            format!("config.sh remove --token {GIVEN_TOKEN}"),
        ]
    );
    assert!(!install.registered(), "the state survived deregistration");
    let printed = printed_without_secrets(&output);
    assert!(
        printed.contains("deregistering runner ci-runner-1"),
        "{printed}"
    );
}

#[test]
fn organisation_token_is_exchanged_for_registration_and_removal_tokens() {
    let dir = Dir::new();
    let api = Api::start(&dir);
    let install = Install::new(&dir, "home");
    let mut cmd = install.entrypoint();
    cmd.env("TOKEN_ORG", API_TOKEN)
        .env("ORG", "acme")
        .env("GITHUB_API_URL", &api.url);
    let output = install.run_until_sigterm(cmd);

    assert_eq!(output.status.code(), Some(143), "{output:?}");
    assert_eq!(
        api.requests(),
        [
            "POST /orgs/acme/actions/runners/registration-token auth=ok",
            "POST /orgs/acme/actions/runners/remove-token auth=ok",
        ]
    );
    assert_eq!(
        install.calls(),
        [
            format!(
                "config.sh --unattended --url https://github.com/acme --token {REGISTRATION_TOKEN} \
                 --name ci-runner-1 --work _work --replace"
            ),
            "run.sh started".into(),
            "run.sh got TERM".into(),
            format!("config.sh remove --token {REMOVE_TOKEN}"),
        ]
    );
    assert!(!install.registered());
    printed_without_secrets(&output);
}

#[test]
fn rejected_organisation_token_is_a_clear_error() {
    let dir = Dir::new();
    let api = Api::start(&dir);
    let install = Install::new(&dir, "home");
    let output = install
        .entrypoint()
        .env("TOKEN_ORG", "not-the-right-token-0c4d")
        .env("ORG", "acme")
        .env("GITHUB_API_URL", &api.url)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let printed = printed_without_secrets(&output);
    assert!(!printed.contains("not-the-right-token-0c4d"), "{printed}");
    assert!(
        printed.contains(&format!(
            "error: POST {}/orgs/acme/actions/runners/registration-token answered HTTP 401: \
             Bad credentials",
            api.url
        )),
        "{printed}"
    );
    assert_eq!(
        api.requests(),
        ["POST /orgs/acme/actions/runners/registration-token auth=bad"]
    );
    assert_eq!(
        install.calls(),
        Vec::<String>::new(),
        "config.sh ran anyway"
    );
    assert!(!install.registered());
}

#[test]
fn unreachable_api_is_a_clear_error() {
    let dir = Dir::new();
    let install = Install::new(&dir, "home");
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api_url = format!("http://127.0.0.1:{port}");
    let output = install
        .entrypoint()
        .env("TOKEN_ORG", API_TOKEN)
        .env("ORG", "acme")
        .env("GITHUB_API_URL", &api_url)
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let printed = printed_without_secrets(&output);
    assert!(
        printed.contains(&format!(
            "error: cannot reach the GitHub API at {api_url} to get a registration token"
        )),
        "{printed}"
    );
    assert_eq!(install.calls(), Vec::<String>::new());
}

#[test]
fn restart_reuses_the_registration_instead_of_registering_twice() {
    let dir = Dir::new();
    let api = Api::start(&dir);
    let first = Install::new(&dir, "first-container");
    let start = |install: &Install| {
        install
            .entrypoint()
            .env("TOKEN_ORG", API_TOKEN)
            .env("ORG", "acme")
            .env("GITHUB_API_URL", &api.url)
            .env("FAKE_RUN_EXIT", "0")
            .output()
            .unwrap()
    };
    let output = start(&first);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(first.registered());

    // A new container: a fresh runner folder, the same state volume.
    let second = Install::new(&dir, "second-container");
    let output = start(&second);

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(second.calls(), ["run.sh started"]);
    assert!(
        second.home.join(".runner").exists(),
        "the registration was not restored for run.sh"
    );
    assert_eq!(
        api.requests(),
        ["POST /orgs/acme/actions/runners/registration-token auth=ok"]
    );
    let printed = printed_without_secrets(&output);
    assert!(printed.contains("not registering again"), "{printed}");
}

#[test]
fn ephemeral_runner_registers_afresh_after_its_one_job() {
    let dir = Dir::new();
    let install = Install::new(&dir, "home");
    let output = install
        .entrypoint()
        .env("TOKEN", GIVEN_TOKEN)
        .env("ORG", "acme")
        .env("RUNNER_EPHEMERAL", "true")
        .env("RUNNER_WORKDIR", "/work")
        .env("FAKE_RUN_EXIT", "0")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        install.calls(),
        [
            format!(
                "config.sh --unattended --url https://github.com/acme --token {GIVEN_TOKEN} \
                 --name ci-runner-1 --work /work --replace --ephemeral"
            ),
            "run.sh started".into(),
        ]
    );
    assert!(
        !install.registered(),
        "an ephemeral runner's state was kept"
    );
    printed_without_secrets(&output);
}

#[test]
fn no_token_is_an_error_naming_both_ways_to_give_one() {
    let dir = Dir::new();
    let install = Install::new(&dir, "home");
    let output = install
        .entrypoint()
        .env("RUNNER_URL", "https://github.com/acme")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let printed = printed_without_secrets(&output);
    assert!(
        printed.contains("error: set TOKEN (a runner registration token), or TOKEN_ORG and ORG"),
        "{printed}"
    );
    assert_eq!(install.calls(), Vec::<String>::new());
}

/// `docker-compose` (v1) when installed, else the `docker compose` plugin.
fn compose() -> Command {
    let v1 = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut cmd = if v1 {
        Command::new("docker-compose")
    } else {
        let mut cmd = Command::new("docker");
        cmd.arg("compose");
        cmd
    };
    // Rendered configs include the environment: keep real tokens out of it.
    for secret in ["TOKEN", "TOKEN_ORG"] {
        cmd.env_remove(secret);
    }
    cmd.current_dir(root().join("deploy/github-runner"));
    cmd
}

fn rendered_config(file: &str, envs: &[(&str, &str)]) -> String {
    let output = compose()
        .args(["-f", file, "config"])
        .envs(envs.iter().copied())
        .output()
        .expect("docker-compose or docker compose is installed");
    assert!(output.status.success(), "{file} is invalid: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn compose_file_with_docker_in_docker_validates() {
    let valid = compose()
        .args(["-f", "docker-compose.yml", "config", "-q"])
        .status()
        .unwrap();
    assert!(valid.success());

    let config = rendered_config("docker-compose.yml", &[]);
    // Exactly one privileged service, the engine; the runner talks TLS to it.
    assert_eq!(config.matches("privileged: true").count(), 1, "{config}");
    let engine = config.find("  docker:\n").expect("a docker service");
    let runner = config.find("  runner:\n").expect("a runner service");
    let privileged = config.find("privileged: true").unwrap();
    assert!(engine < privileged && privileged < runner, "{config}");
    // Compose v1 and v2 render these differently; look for the values only.
    for setting in ["tcp://docker:2376", "DOCKER_TLS_VERIFY", "/certs/client"] {
        assert!(config.contains(setting), "{setting} missing:\n{config}");
    }
}

#[test]
fn compose_file_with_the_host_socket_validates_and_needs_the_socket_group() {
    let config = rendered_config("docker-compose.host-socket.yml", &[("DOCKER_GID", "998")]);
    assert!(!config.contains("privileged"), "{config}");
    assert!(config.contains("/var/run/docker.sock"), "{config}");
    assert!(
        config.contains("998"),
        "the socket's group is not added:\n{config}"
    );

    let missing = compose()
        .args(["-f", "docker-compose.host-socket.yml", "config", "-q"])
        .env_remove("DOCKER_GID")
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("set DOCKER_GID"),
        "{missing:?}"
    );
}

#[test]
fn entrypoint_passes_shellcheck() {
    let scripts = [
        root().join("deploy/github-runner/entrypoint.sh"),
        fixture("github-runner/config.sh"),
        fixture("github-runner/run.sh"),
    ];
    match Command::new("shellcheck").args(&scripts).output() {
        Ok(output) => assert!(output.status.success(), "{output:?}"),
        // .ci/run installs shellcheck; a developer's machine may lack it.
        Err(_) if std::env::var_os("CI").is_none() => {
            eprintln!("shellcheck is not installed; skipped (CI installs it)")
        }
        Err(e) => panic!("shellcheck is needed in CI: {e}"),
    }
}
