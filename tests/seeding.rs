//! `stack-run --seed` against real Docker: PostgreSQL seeded once, every
//! shard started from the seed on its own copy, the seed kept under its key,
//! found again, rebuilt when the key or the image changes, and nothing left
//! when seeding fails. (SIGINT during seeding: see `signals`.)

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use shared::results::{ResultLine, SeedResult, Status};

use crate::hygiene::Neighbours;
use crate::stack_run::{Stacks, docker, expect_statuses, result_lines, results};
use crate::util::{Outcome, docker_lock, tool};

const PLAN: &str = "1\ta\n2\tb\n3\tc\n";

/// A 3-shard run of seeded.yml under `out`: seeded by `seeded.sh seed`,
/// each shard running `seeded.sh shard K OUT`.
fn seeded_run(stacks: &Stacks, out: &str, extra: &[&str]) -> Outcome {
    stacks
        .command("seeded.yml", out)
        .args(["--seed", "/seeded.sh seed"])
        .args(extra)
        .args(["--", "/seeded.sh", "shard", "{shard}", "{out}"])
        .stdin(PLAN)
        .run()
}

/// Every shard saw the seed's row alone, then its own beside it.
fn expect_seeded_shards(stacks: &Stacks, out: &str, outcome: &Outcome) {
    expect_statuses(&results(outcome), &[Status::Passed; 3], &outcome.stderr);
    for shard in 1..=3 {
        let path = stacks.out(&format!("{out}/shard-{shard}/result.txt"));
        let result = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            result,
            format!("seed seed,shard-{shard}\n"),
            "shard {shard}"
        );
    }
}

/// The seed's results line: printed first, before any shard's (issue 26 item 11).
fn seed_line(outcome: &Outcome) -> SeedResult {
    match result_lines(outcome).into_iter().next() {
        Some(ResultLine::Seed(seed)) => seed,
        other => panic!("the seed's line first, not {other:?}\n{}", outcome.stdout),
    }
}

/// Every shard's log says which seed each sidecar started from, its image
/// and its age, without -vv (issue 26 item 12).
fn expect_logs_name_the_seed(stacks: &Stacks, out: &str, seed: &SeedResult, made_by: &str) {
    let key = seed.seed.as_deref().unwrap();
    for shard in 1..=3 {
        let log = std::fs::read_to_string(stacks.out(&format!("{out}/shard-{shard}/log.txt")));
        let log = log.unwrap();
        for (sidecar, image) in &seed.images {
            let said = format!("stack-run: {sidecar} starts from seed {key}: image {image}, made ");
            let line = log.lines().find(|line| line.starts_with(&said));
            let line = line.unwrap_or_else(|| panic!("shard {shard}: no {said:?} in\n{log}"));
            assert!(
                line.contains(" UTC (") && line.contains(" ago); "),
                "{line}"
            );
            assert!(line.ends_with(made_by), "{line}");
        }
    }
}

/// The tags of this prefix's images, as REPOSITORY:TAG.
fn image_tags(stacks: &Stacks) -> Vec<String> {
    let filter = format!("label=io.shardstack.prefix={}", stacks.prefix);
    let mut tags = docker(&[
        "images",
        "--filter",
        &filter,
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    tags.sort();
    tags
}

/// PREFIX-seed-SERVICE:KEY, or the run's PREFIX-RUNID-seed-SERVICE.
fn seed_tags(stacks: &Stacks) -> Vec<String> {
    image_tags(stacks)
        .into_iter()
        .filter(|tag| {
            let name = tag.strip_prefix(&stacks.prefix);
            name.is_some_and(|name| name.contains("-seed-"))
        })
        .collect()
}

#[test]
fn a_seed_is_kept_under_its_key_found_again_and_rebuilt_when_stale() {
    let _lock = docker_lock();
    let stacks = Stacks::new("seedkey");
    let key = stacks.out("migrations.txt");
    std::fs::write(&key, "0001_initial\n").unwrap();
    let key_arg = ["--seed-key", key.to_str().unwrap()];

    // Cold: seeded in this run, every shard from the seed, apart. The seed
    // gets the -e variables that name nothing of one shard.
    let args = [&key_arg[..], &["-e", "PLAIN=1", "-e", "PER_SHARD={out}/x"]].concat();
    let cold = seeded_run(&stacks, "cold", &args).code(0);
    assert!(cold.stderr.contains(": building it"), "{}", cold.stderr);
    expect_seeded_shards(&stacks, "cold", &cold);
    let seed = seed_line(&cold);
    assert_eq!((seed.status, seed.reused), (Status::Passed, false));
    assert!(seed.seconds > 0.5, "{seed:?}");
    let seed_log = stacks.out("cold/.stack-run/seed.log");
    assert_eq!(seed.log.as_deref(), seed_log.to_str());
    assert_eq!(seed.images.keys().collect::<Vec<_>>(), ["cache", "db"]);
    expect_logs_name_the_seed(&stacks, "cold", &seed, "; made by this run");
    let log = std::fs::read_to_string(stacks.out("cold/.stack-run/seed.log")).unwrap();
    assert!(
        log.contains("seeding now, PLAIN=1 PER_SHARD=unset"),
        "{log}"
    );
    let kept = seed_tags(&stacks);
    let repository = format!("{}-seed-", stacks.prefix);
    assert_eq!(kept.len(), 2, "a seed for db and cache: {kept:?}");
    assert!(
        kept.iter().all(|tag| tag.starts_with(&repository)),
        "{kept:?}"
    );

    // Warm: found, the command not run; the shards' writes did not reach it.
    // A seed.log an earlier run left in OUT is not this seed's log.
    let earlier_log = stacks.out("warm/.stack-run/seed.log");
    std::fs::create_dir_all(earlier_log.parent().unwrap()).unwrap();
    std::fs::write(&earlier_log, "an earlier run's seeding\n").unwrap();
    let warm = seeded_run(&stacks, "warm", &args).code(0);
    assert!(
        warm.stderr.contains("found, not rebuilt"),
        "{}",
        warm.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&earlier_log).unwrap(),
        "an earlier run's seeding\n"
    );
    expect_seeded_shards(&stacks, "warm", &warm);
    assert_eq!(seed_tags(&stacks), kept);
    let found = seed_line(&warm);
    assert_eq!((found.status, found.reused), (Status::Passed, true));
    assert_eq!(
        (&found.seed, &found.images, &found.log),
        (&seed.seed, &seed.images, &None)
    );
    expect_logs_name_the_seed(
        &stacks,
        "warm",
        &found,
        "; found under its key: made by an earlier run",
    );
    expect_reports_show_the_seed(&warm, &found);

    // Another image under the seed's tag is not its key's: rebuilt, not used.
    let db_tag = kept.iter().find(|tag| tag.contains("-seed-db:")).unwrap();
    docker(&["tag", "shardstack/bookworm:12", db_tag]);
    let replaced = seeded_run(&stacks, "replaced", &args).code(0);
    assert!(
        replaced
            .stderr
            .contains("is another key's seed: building it"),
        "{}",
        replaced.stderr
    );
    expect_seeded_shards(&stacks, "replaced", &replaced);

    // A key file changed: a new seed, and the old one gone.
    std::fs::write(&key, "0001_initial\n0002_more\n").unwrap();
    let stale = seeded_run(&stacks, "stale", &args).code(0);
    assert!(stale.stderr.contains(": building it"), "{}", stale.stderr);
    expect_seeded_shards(&stacks, "stale", &stale);
    let rebuilt = seed_tags(&stacks);
    assert_eq!(rebuilt.len(), 2, "{rebuilt:?}");
    assert!(rebuilt.iter().all(|tag| !kept.contains(tag)), "{rebuilt:?}");

    assert_eq!(stacks.leftovers(), Vec::<String>::new());
    assert_eq!(stacks.dangling_images(), Vec::<String>::new());
}

/// stack-report's summary and timeline have the seed (issue 26 item 11).
fn expect_reports_show_the_seed(outcome: &Outcome, seed: &SeedResult) {
    let key = seed.seed.as_deref().unwrap();
    let summary = tool("stack-report")
        .args(["--results", "-"])
        .stdin(&outcome.stdout)
        .succeeds();
    let said = format!("Seed `{key}`: ✅ found under its key (made by an earlier run) in ");
    assert!(summary.stdout.contains(&said), "{}", summary.stdout);
    assert!(
        summary.stdout.contains("3 shards in "),
        "{}",
        summary.stdout
    );
    assert!(
        summary.stdout.contains(" from the seed's start: 3 passed."),
        "{}",
        summary.stdout
    );
    let timeline = tool("stack-report")
        .args(["--results", "-", "--format", "svg"])
        .stdin(&outcome.stdout)
        .succeeds();
    let bar = format!("<title>seed {key} found: ");
    assert!(
        timeline.stdout.contains("<g id=\"seed\">"),
        "{}",
        timeline.stdout
    );
    assert!(timeline.stdout.contains(&bar), "{}", timeline.stdout);
}

#[test]
fn without_a_key_the_seed_is_the_runs_own() {
    let _lock = docker_lock();
    let stacks = Stacks::new("seedrun");
    let outcome = seeded_run(&stacks, "out", &[]).code(0);
    expect_seeded_shards(&stacks, "out", &outcome);
    let seed = seed_line(&outcome);
    assert_eq!((seed.status, seed.reused), (Status::Passed, false));
    expect_logs_name_the_seed(&stacks, "out", &seed, "; made by this run");
    // Batches on stacks kept up say it too: each batch's log, each stack's.
    let batches = seeded_run(&stacks, "batches", &["--stacks", "2"]).code(0);
    let seed = seed_line(&batches);
    expect_logs_name_the_seed(&stacks, "batches", &seed, "; made by this run");
    let stack_log = std::fs::read_to_string(stacks.out("batches/.stack-run/stack-1.log"));
    let stack_log = stack_log.unwrap();
    assert!(stack_log.contains(" starts from seed "), "{stack_log}");
    assert_eq!(seed_tags(&stacks), Vec::<String>::new());
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
    assert_eq!(stacks.dangling_images(), Vec::<String>::new());
}

#[test]
fn a_failed_seed_command_is_every_shards_error_and_leaves_nothing() {
    let _lock = docker_lock();
    let stacks = Stacks::new("seedfail");
    let key = stacks.out("key.txt");
    std::fs::write(&key, "k").unwrap();
    let outcome = stacks
        .command("seeded.yml", "out")
        .args(["--seed", "sh -c 'echo no migrations today; exit 4'"])
        .args(["--seed-key", key.to_str().unwrap()])
        .args(["--", "/seeded.sh", "shard", "{shard}", "{out}"])
        .stdin(PLAN)
        .run()
        .code(3);
    let seed = seed_line(&outcome);
    assert_eq!((seed.status, seed.reused), (Status::Error, false));
    let message = seed.message.as_deref().unwrap_or_default();
    assert!(
        message.starts_with("seeding failed: the seed command exited"),
        "{message}"
    );
    assert!(seed.images.is_empty(), "{seed:?}");
    let results = results(&outcome);
    expect_statuses(&results, &[Status::Error; 3], &outcome.stderr);
    for result in &results {
        let message = result.first.message.as_deref().unwrap_or_default();
        assert!(
            message.starts_with("never started: seeding failed: the seed command exited"),
            "{message}"
        );
    }
    let log = std::fs::read_to_string(stacks.out("out/.stack-run/seed.log")).unwrap();
    assert!(log.contains("no migrations today"), "{log}");
    assert_eq!(seed_tags(&stacks), Vec::<String>::new());
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
    assert_eq!(stacks.dangling_images(), Vec::<String>::new());
}

#[test]
fn a_missing_key_file_or_an_unclosed_quote_is_a_usage_error_and_dry_run_shows_the_seed() {
    let stacks = Stacks::new("seedusage");
    let missing = "/nonexistent/migrations";
    stacks
        .command("seeded.yml", "out")
        .args([
            "--seed",
            "/seeded.sh seed",
            "--seed-key",
            missing,
            "--",
            "true",
        ])
        .stdin(PLAN)
        .run()
        .fails_with(
            2,
            "--seed-key /nonexistent/migrations: no such file or folder",
        );
    stacks
        .command("seeded.yml", "out")
        .args(["--seed", "pytest 'unclosed", "--", "true"])
        .stdin(PLAN)
        .run()
        .fails_with(2, "unbalanced quotes");
    let key = stacks.out("key.txt");
    std::fs::write(&key, "k").unwrap();
    let dry = stacks
        .command("seeded.yml", "out")
        .args(["--dry-run", "--seed", "/seeded.sh  seed"])
        .args(["--seed-key", key.to_str().unwrap(), "--", "true"])
        .stdin(PLAN)
        .succeeds();
    assert!(
        dry.stdout
            .contains("# seed (kept under the key of 1 path(s)): /seeded.sh seed\n"),
        "{}",
        dry.stdout
    );
    assert!(!stacks.out("out").exists());
}

/// Every image, tagged or not (intermediate ones too), labelled with this
/// test's prefix and as a seed.
fn seed_images(stacks: &Stacks) -> Vec<String> {
    let prefix = format!("label=io.shardstack.prefix={}", stacks.prefix);
    docker(&[
        "images",
        "-a",
        "-q",
        "--filter",
        &prefix,
        "--filter",
        "label=io.shardstack.seed",
    ])
}

/// Regression (issue 26 item 4): a seed image re-tagged as another sidecar's
/// seed carries the right key but not db's origin. It was used, and every
/// shard failed (`exec: postgres: not found`); now it is rebuilt, and said so.
#[test]
fn a_seed_retagged_as_another_sidecars_is_rebuilt_not_used() {
    let _lock = docker_lock();
    let stacks = Stacks::new("seedswap");
    let key = stacks.out("key.txt");
    std::fs::write(&key, "k").unwrap();
    let key_arg = ["--seed-key", key.to_str().unwrap()];
    seeded_run(&stacks, "cold", &key_arg).code(0);
    let kept = seed_tags(&stacks);
    let tag = |sidecar: &str| {
        let part = format!("-seed-{sidecar}:");
        kept.iter().find(|tag| tag.contains(&part)).unwrap().clone()
    };
    let (cache, db) = (tag("cache"), tag("db"));
    docker(&["tag", &cache, &db]);

    let swapped = seeded_run(&stacks, "swapped", &key_arg).code(0);
    assert!(
        swapped
            .stderr
            .contains(&format!("{db} is cache's seed, not db's: building it")),
        "{}",
        swapped.stderr
    );
    expect_seeded_shards(&stacks, "swapped", &swapped);
    let made_from = "{{index .Config.Labels \"io.shardstack.seed.sidecar\"}}";
    assert_eq!(
        docker(&["image", "inspect", "--format", made_from, &db]),
        ["db"]
    );
    assert_eq!(
        docker(&["image", "inspect", "--format", made_from, &cache]),
        ["cache"]
    );
    assert_eq!(seed_tags(&stacks), kept);
    // The image the moved tag left untagged went with the rebuild.
    assert_eq!(stacks.dangling_images(), Vec::<String>::new());
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
}

/// Regression (issue 26 item 5): a capture cut short after its `docker
/// commit` (here db's `docker cp` fails: its archive is /dev/full) left the
/// committed image behind, labelled and untagged. Now nothing of the seed stays.
#[test]
fn a_capture_cut_short_after_its_commit_leaves_no_image() {
    let _lock = docker_lock();
    let stacks = Stacks::new("seedcut");
    let key = stacks.out("key.txt");
    std::fs::write(&key, "k").unwrap();
    let archives = stacks.out("out/.stack-run/seed-db");
    std::fs::create_dir_all(&archives).unwrap();
    std::os::unix::fs::symlink("/dev/full", archives.join("volume-0.tar")).unwrap();

    let outcome = seeded_run(&stacks, "out", &["--seed-key", key.to_str().unwrap()]).code(3);
    expect_statuses(&results(&outcome), &[Status::Error; 3], &outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("cannot capture db's state: docker cp")
            && outcome.stderr.contains("no space left on device"),
        "{}",
        outcome.stderr
    );
    assert_eq!(seed_images(&stacks), Vec::<String>::new());
    assert_eq!(stacks.leftovers(), Vec::<String>::new());
    assert_eq!(stacks.dangling_images(), Vec::<String>::new());
}

/// A --seed-cache file's first line, and the tags of the images after it.
pub fn cached_seed(file: &Path) -> (Value, Vec<String>) {
    let mut reader = BufReader::new(std::fs::File::open(file).unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let header: Value = serde_json::from_str(&line).unwrap();
    let mut images = std::fs::File::open(file).unwrap();
    images.seek(SeekFrom::Start(line.len() as u64)).unwrap();
    let manifest = Command::new("tar")
        .args(["-xOf", "-", "manifest.json"])
        .stdin(Stdio::from(images))
        .output()
        .unwrap();
    assert!(manifest.status.success(), "{manifest:?}");
    let manifest: Value = serde_json::from_slice(&manifest.stdout).unwrap();
    let mut tags: Vec<String> = manifest
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|image| image["RepoTags"].as_array().unwrap().iter())
        .map(|tag| tag.as_str().unwrap().to_string())
        .collect();
    tags.sort();
    (header, tags)
}

/// Regression (issue 26 item 3): the CI examples saved every seed image on
/// the host (`docker images --filter label=io.shardstack.seed | xargs docker
/// save`), other prefixes' and untagged ones too. --seed-cache saves exactly
/// this run's seed, loads it on a host without it, and refuses another key's.
#[test]
fn a_seed_cache_holds_exactly_this_runs_seed_and_refuses_another_keys() {
    let _lock = docker_lock();
    let stacks = Stacks::new("seedcache");
    let neighbours = Neighbours::new();
    let key = stacks.out("key.txt");
    std::fs::write(&key, "k1").unwrap();
    let cache = stacks.out("seed.cache");
    let args = [
        "--seed-key",
        key.to_str().unwrap(),
        "--seed-cache",
        cache.to_str().unwrap(),
    ];
    let print_key = || {
        let printed = stacks
            .command("seeded.yml", "key")
            .args([
                "--seed",
                "/seeded.sh seed",
                "--seed-key",
                key.to_str().unwrap(),
            ])
            .arg("--print-seed-key")
            .succeeds();
        printed.stdout.trim().to_string()
    };
    let first_key = print_key();
    assert_eq!(first_key.len(), 64, "{first_key}");

    let cold = seeded_run(&stacks, "cold", &args).code(0);
    let saved = format!("saved to {}", cache.display());
    assert!(cold.stderr.contains(": building it"), "{}", cold.stderr);
    assert!(cold.stderr.contains(&saved), "{}", cold.stderr);
    let kept = seed_tags(&stacks);
    let (header, tags) = cached_seed(&cache);
    assert_eq!(tags, kept, "only this run's seed images");
    assert_eq!(header["key"], first_key.as_str());
    assert_eq!(header["prefix"], stacks.prefix.as_str());
    neighbours.assert_untouched();

    // A host without the seed loads it and starts from it.
    docker(
        &[
            &["rmi"],
            &kept.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ]
        .concat(),
    );
    assert_eq!(seed_tags(&stacks), Vec::<String>::new());
    let warm = seeded_run(&stacks, "warm", &args).code(0);
    let loaded = format!("loaded from {}: found, not rebuilt", cache.display());
    assert!(warm.stderr.contains(&loaded), "{}", warm.stderr);
    assert!(!warm.stderr.contains(&saved), "{}", warm.stderr);
    assert!(!stacks.out("warm/.stack-run/seed.log").exists());
    expect_seeded_shards(&stacks, "warm", &warm);
    assert_eq!(seed_tags(&stacks), kept);

    // Another key's file is refused, never loaded, and replaced.
    std::fs::write(&key, "k2").unwrap();
    let second_key = print_key();
    let stale = seeded_run(&stacks, "stale", &args).code(0);
    let refused = format!(
        "--seed-cache {} holds another key's seed ({}): not loaded",
        cache.display(),
        &first_key[..16]
    );
    assert!(stale.stderr.contains(&refused), "{}", stale.stderr);
    assert!(stale.stderr.contains(&saved), "{}", stale.stderr);
    expect_seeded_shards(&stacks, "stale", &stale);
    let (header, tags) = cached_seed(&cache);
    assert_eq!(header["key"], second_key.as_str());
    assert_eq!(tags, seed_tags(&stacks));
    assert!(
        tags.iter().all(|tag| tag.ends_with(&second_key[..16])),
        "{tags:?}"
    );

    assert_eq!(stacks.leftovers(), Vec::<String>::new());
    assert_eq!(stacks.dangling_images(), Vec::<String>::new());
}

#[test]
fn a_double_star_key_covers_migrations_at_any_depth_and_says_how_many_files() {
    // Issue 26 item 19: the README's `*/migrations` missed nested apps.
    let stacks = Stacks::new("seedglob");
    let project = stacks.out("project");
    for (folder, files) in [
        ("shop/migrations", 2),
        ("shop/orders/migrations", 3),
        ("users/migrations", 1),
        (".venv/django/migrations", 1),
    ] {
        std::fs::create_dir_all(project.join(folder)).unwrap();
        for n in 1..=files {
            std::fs::write(project.join(folder).join(format!("000{n}_x.py")), "x").unwrap();
        }
    }
    std::fs::write(project.join("requirements.txt"), "django\n").unwrap();
    let dry = stacks
        .command("seeded.yml", "out")
        .current_dir(&project)
        .args(["--dry-run", "--seed", "/seeded.sh seed"])
        .args([
            "--seed-key",
            "requirements.txt",
            "**/migrations",
            "--",
            "true",
        ])
        .stdin(PLAN)
        .succeeds();
    assert!(
        dry.stderr.contains(
            "seed key: 7 files: requirements.txt (1 file), '**/migrations' (3 matches, 6 files)\n"
        ),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stdout
            .contains("# seed (kept under the key of 4 path(s)): /seeded.sh seed\n"),
        "{}",
        dry.stdout
    );
    stacks
        .command("seeded.yml", "out")
        .current_dir(&project)
        .args(["--dry-run", "--seed", "/seeded.sh seed"])
        .args(["--seed-key", "**/fixtures", "--", "true"])
        .stdin(PLAN)
        .run()
        .fails_with(
            2,
            "--seed-key '**/fixtures': the pattern matches no file or folder",
        );
}

#[test]
fn xdist_in_the_projects_pytest_9_settings_is_warned_about_for_the_seed_and_the_shards() {
    // Issue 26 item 9: the settings were pyproject.toml's `[tool.pytest]` in
    // the build context, not beside the compose file, and the seed ran
    // under xdist in silence.
    let stacks = Stacks::new("seedxdist");
    let project = stacks.out("project");
    std::fs::create_dir_all(project.join("deploy")).unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"shop\"\n\n[tool.pytest]\naddopts = ['-n=auto', '--strict-markers']\n",
    )
    .unwrap();
    std::fs::write(project.join("Dockerfile"), "FROM scratch\n").unwrap();
    let compose = project.join("deploy/docker-compose.yml");
    std::fs::write(
        &compose,
        "services:\n  app:\n    build: ..\n    depends_on: [db]\n  db:\n    image: busybox\n",
    )
    .unwrap();
    let pyproject = project.join("pyproject.toml");
    let dry_run = |seed: &str, command: &[&str]| {
        tool("stack-run")
            .arg("-f")
            .arg(&compose)
            .args(["-s", "app", "--prefix", &stacks.prefix, "--dry-run"])
            .args(["--seed", seed, "--"])
            .args(command)
            .stdin(PLAN)
            .succeeds()
    };
    let warned = dry_run("pytest --create-db -q t.py", &["pytest", "@{tests}"]);
    let shards = format!(
        "stack-run: warning: {}'s addopts start pytest-xdist (auto workers) inside every shard; \
         add `-p no:xdist` (or `-n 0`) to the command\n",
        pyproject.display()
    );
    let seed = format!(
        "stack-run: warning: --seed's command starts pytest-xdist (auto workers, from {}'s \
         addopts): pytest-django then seeds test_NAME_gw0, a database shards without xdist \
         never open, and each shard makes its own from scratch; add `-p no:xdist` (or `-n 0`) \
         to --seed\n",
        pyproject.display()
    );
    assert!(warned.stderr.contains(&shards), "{}", warned.stderr);
    assert!(warned.stderr.contains(&seed), "{}", warned.stderr);
    // The shards turn it off; the seed, as the README's command had it, does not.
    let seed_only = dry_run(
        "pytest --create-db -q t.py",
        &["pytest", "-n", "0", "@{tests}"],
    );
    assert!(!seed_only.stderr.contains(&shards), "{}", seed_only.stderr);
    assert!(seed_only.stderr.contains(&seed), "{}", seed_only.stderr);
    let quiet = dry_run(
        "pytest -p no:xdist --create-db",
        &["pytest", "-n0", "@{tests}"],
    );
    assert!(!quiet.stderr.contains("xdist"), "{}", quiet.stderr);
}
