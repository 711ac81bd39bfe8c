//! The images `make images` builds beyond what the example's stacks use:
//! each started the way a compose file starts it, and checked to do what a
//! project relies on. (postgres, redis and python are exercised by every
//! stack_run test; PostGIS only by bench/real, which no test runs.)

use std::process::Command;
use std::time::{Duration, Instant};

use shared::contract::labels;

use crate::util::{Swept, docker_lock, leftovers, local_images, require_local_images};

fn local_image(key: &str) -> String {
    local_images()
        .into_iter()
        .find(|(name, _)| name == key)
        .map(|(_, image)| image)
        .unwrap_or_else(|| panic!("{key} in images/local.env"))
}

/// `docker ARGS`: its status and its output, both streams.
fn docker(args: &[&str]) -> (bool, String) {
    let output = Command::new("docker").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text.trim().to_string())
}

/// The PostGIS image starts as the postgres image does (POSTGRES_USER,
/// POSTGRES_PASSWORD, POSTGRES_DB, server arguments as the command), gets
/// healthy under a `pg_isready` healthcheck, and its database takes
/// `CREATE EXTENSION postgis`, which answers `postgis_full_version()` with
/// PostGIS 3.5 on PostgreSQL 17.
#[test]
fn the_postgis_image_starts_like_postgres_and_has_postgis() {
    let _lock = docker_lock();
    require_local_images();
    let prefix = format!("images-postgis-{}", std::process::id());
    let _swept = Swept(prefix.clone());
    let (started, id) = docker(&[
        "run",
        "-d",
        "--label",
        &format!("{}={prefix}", labels::PREFIX),
        "-e",
        "POSTGRES_USER=tvp",
        "-e",
        "POSTGRES_PASSWORD=secret",
        "-e",
        "POSTGRES_DB=tvp",
        "--health-cmd",
        "pg_isready -U tvp",
        "--health-interval",
        "1s",
        "--health-retries",
        "60",
        &local_image("POSTGIS_IMAGE"),
        "-c",
        "fsync=off",
    ]);
    assert!(started, "docker run of the PostGIS image failed: {id}");

    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, health) = docker(&["inspect", "-f", "{{.State.Health.Status}}", &id]);
        if health == "healthy" {
            break;
        }
        let (_, running) = docker(&["inspect", "-f", "{{.State.Running}}", &id]);
        if running != "true" || Instant::now() > deadline {
            let (_, log) = docker(&["logs", &id]);
            panic!("the PostGIS container is {health} (running: {running}); its log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }

    // Over TCP with the password, as an application connects; the server
    // argument took.
    let psql = |sql: &str| {
        docker(&[
            "exec",
            "-e",
            "PGPASSWORD=secret",
            &id,
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            "tvp",
            "-d",
            "tvp",
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ])
    };
    let (ok, out) = psql("CREATE EXTENSION postgis");
    assert!(ok, "CREATE EXTENSION postgis failed: {out}");
    let (ok, version) = psql("SELECT postgis_full_version()");
    assert!(ok, "postgis_full_version() failed: {version}");
    assert!(
        version.starts_with("POSTGIS=\"3.5") && version.contains("PGSQL=\"170\""),
        "not PostGIS 3.5 on PostgreSQL 17: {version}"
    );
    let (ok, fsync) = psql("SHOW fsync");
    assert!(
        ok && fsync == "off",
        "the server argument was lost: {fsync}"
    );
    // The server (PID 1 once the entrypoint has dropped root) runs as postgres.
    let (_, user) = docker(&["exec", &id, "stat", "-c", "%U", "/proc/1"]);
    assert_eq!(user, "postgres", "the server runs as {user}");

    drop(_swept);
    assert_eq!(leftovers(&prefix), Vec::<String>::new());
}
