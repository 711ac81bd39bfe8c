//! Whether the planned ids name files the service's container has, checked
//! before any stack starts.
//!
//! pytest takes an id back as an argument only if its file exists relative
//! to the working dir. Ids collected with another rootdir or working dir do
//! not, nor do those of tests outside the rootdir (a `testpaths` entry such
//! as `../other_pkg_tests`), which pytest names relative to that entry
//! (`test_b.py::test_b`): every shard holding one stops with `ERROR: file
//! or directory not found` (exit 4). From the host the check is exact where
//! the container's files come from a bind mount; files copied into the image
//! cannot be seen before it runs, and are not checked.
//!
//! The check holds only where pytest runs in the service's working dir with
//! the rootdir it finds there: COMMAND is pytest itself (`pytest`,
//! `py.test`, `python -m pytest`) and neither it nor PYTEST_ADDOPTS has
//! `--rootdir` or `-c`/`--config-file` (which move the rootdir). A shell
//! (`sh -c 'cd backend && pytest …'`), a wrapper or such an option may run
//! it elsewhere, where the ids may be right: no check then, rather than a
//! false refusal. `--confcutdir` moves neither the rootdir nor the folder
//! ids are read from, and does not stop the check.

use std::path::{Component, Path, PathBuf};

use anyhow::bail;
use serde_json::Value;

use crate::app::context::Context;
use crate::engine::docker::docker;
use crate::model::derive::bind_mounts;
use crate::model::selection::{Plan, PlanLines};

/// An error naming the first planned id whose file the container would not
/// have (and its plan line), with the reason, when any does not.
pub fn check(
    ctx: &Context,
    plan: &Plan,
    lines: &PlanLines,
    selected: &[u32],
) -> anyhow::Result<()> {
    if !applies(ctx) {
        return Ok(());
    }
    let config = ctx
        .stacks
        .blueprint
        .model
        .service(&ctx.stacks.blueprint.service);
    let Some(working_dir) = working_dir(ctx, config) else {
        return Ok(());
    };
    let missing = missing(plan, lines, selected, &working_dir, &host_mounts(config));
    let Some(first) = missing.first() else {
        return Ok(());
    };
    let mut files: Vec<&str> = missing.iter().map(|m| m.file).collect();
    files.sort_unstable();
    files.dedup();
    bail!(
        "{} planned id(s) in {} file(s) name a file the service's container does not have, \
         the first at {}: {}: {} is {} on the host (bind-mounted), and there is no \
         such file. pytest cannot take such an id back (`file or directory not found`, \
         exit 4) and every shard holding one would fail. Ids are paths from pytest's rootdir, and a test \
         outside it (under a testpaths entry outside it, as ../other_pkg_tests) is named \
         from that entry instead: collect in the service's working dir ({}), with every \
         test under the rootdir",
        missing.len(),
        files.len(),
        first.at,
        first.id,
        first.inside.display(),
        first.on_host.display(),
        working_dir.display()
    )
}

/// A planned id whose file the container would not have.
struct Missing<'a> {
    id: &'a str,
    file: &'a str,
    /// Its plan line.
    at: String,
    /// The file's path in the container, and on the host.
    inside: PathBuf,
    on_host: PathBuf,
}

/// The selected shards' planned pytest ids whose file is bind-mounted from
/// the host, in the container's `working_dir`, but missing there.
fn missing<'a>(
    plan: &'a Plan,
    lines: &PlanLines,
    selected: &[u32],
    working_dir: &Path,
    mounts: &[(PathBuf, PathBuf)],
) -> Vec<Missing<'a>> {
    let planned = selected.iter().flat_map(|&shard| {
        plan[&shard]
            .iter()
            .enumerate()
            .map(move |(i, id)| (shard, i, id.as_str()))
    });
    let mut missing = Vec::new();
    for (shard, index, id) in planned {
        let file = id.split("::").next().unwrap_or(id);
        // Only pytest's test files: a plan may hold ids of another kind.
        if !file.ends_with(".py") {
            continue;
        }
        let inside = normalize(&working_dir.join(file));
        let Some(on_host) = host_path(mounts, &inside) else {
            continue;
        };
        if !on_host.exists() {
            let at = lines.at(shard, index);
            missing.push(Missing {
                id,
                file,
                at,
                inside,
                on_host,
            });
        }
    }
    missing
}

/// Whether the check holds for the run's COMMAND (see the module's doc).
fn applies(ctx: &Context) -> bool {
    let addopts = crate::app::xdist::pytest_addopts_env(ctx).map(|addopts| addopts.words);
    runs_pytest_in_working_dir(&ctx.config.task.command, &addopts.unwrap_or_default())
}

/// Whether `command` is pytest itself, with the rootdir it finds from the
/// working dir: not through a shell or a wrapper, and without an option,
/// in it or in PYTEST_ADDOPTS (`addopts`), that moves the rootdir.
fn runs_pytest_in_working_dir(command: &[String], addopts: &[String]) -> bool {
    let name = |word: &str| word.rsplit('/').next().unwrap_or(word).to_string();
    let is_python = |word: &str| {
        let name = name(word);
        name.strip_prefix("python")
            .is_some_and(|version| version.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    let direct = match command {
        [first, ..] if matches!(name(first).as_str(), "pytest" | "py.test") => true,
        [first, flag, module, ..] => is_python(first) && flag == "-m" && module == "pytest",
        _ => false,
    };
    direct && !command.iter().chain(addopts).any(|arg| moves_rootdir(arg))
}

/// `--rootdir`, `-c`/`--config-file`, in any of argparse's forms.
fn moves_rootdir(arg: &str) -> bool {
    let long = |option: &str| {
        arg.strip_prefix(option)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
    };
    long("--rootdir") || long("--config-file") || (arg.starts_with("-c") && !arg.starts_with("--"))
}

/// Where the command runs in the container: compose's `working_dir`, else
/// the image's, if the image is here to ask (a run's build comes later).
fn working_dir(ctx: &Context, config: &Value) -> Option<PathBuf> {
    if let Some(dir) = config.get("working_dir").and_then(Value::as_str) {
        return Some(PathBuf::from(dir));
    }
    let image = match config.get("build") {
        Some(_) => ctx.stacks.names.cache_tag(&ctx.stacks.blueprint.service),
        None => config.get("image")?.as_str()?.to_string(),
    };
    let output = ctx
        .runtime
        .children
        .capture(docker(&[
            "image",
            "inspect",
            "--format",
            "{{.Config.WorkingDir}}",
            &image,
        ]))
        .ok()?;
    let dir = String::from_utf8(output.stdout).ok()?;
    let dir = dir.trim();
    (output.status.success() && dir.starts_with('/')).then(|| PathBuf::from(dir))
}

/// The service's bind mounts as (host folder, container path).
fn host_mounts(config: &Value) -> Vec<(PathBuf, PathBuf)> {
    let mounts = bind_mounts(config).into_iter();
    mounts
        .map(|(source, target)| (source.into(), target.into()))
        .collect()
}

/// `inside` as the host sees it, through the deepest mount holding it.
fn host_path(mounts: &[(PathBuf, PathBuf)], inside: &Path) -> Option<PathBuf> {
    mounts
        .iter()
        .filter(|(_, target)| inside.starts_with(target))
        .max_by_key(|(_, target)| target.components().count())
        .map(|(source, target)| {
            source.join(inside.strip_prefix(target).expect("checked by starts_with"))
        })
}

/// `path` with `.` and `..` resolved as the container would, without
/// following links.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    /// Regression (issue 26 item 17 review): `sh -c 'cd backend && pytest
    /// …'` and `--rootdir` got a false usage error; only pytest run
    /// directly, from the working dir's rootdir, is checked.
    #[test]
    fn only_pytest_run_directly_from_its_rootdir_is_checked() {
        let checked = |command: &str, addopts: &str| {
            runs_pytest_in_working_dir(&words(command), &words(addopts))
        };
        assert!(checked("pytest -q @{tests}", ""));
        assert!(checked("/venv/bin/py.test @{tests}", ""));
        assert!(checked("python3.11 -m pytest @{tests}", ""));
        assert!(checked("pytest --confcutdir=tests @{tests}", ""));
        assert!(!checked("sh -c cd_backend_&&_pytest_@{tests}", ""));
        assert!(!checked("coverage run -m pytest @{tests}", ""));
        assert!(!checked("pytest --rootdir=/code @{tests}", ""));
        assert!(!checked("pytest --rootdir /code @{tests}", ""));
        assert!(!checked("python -m pytest -c ci.ini @{tests}", ""));
        assert!(!checked("pytest -cci.ini @{tests}", ""));
        assert!(!checked("pytest --config-file=ci.ini @{tests}", ""));
        assert!(!checked("pytest @{tests}", "-q --rootdir=/code"));
        assert!(!checked("pythonista -m pytest", ""));
    }

    #[test]
    fn a_path_in_the_container_is_found_through_its_deepest_mount() {
        let mounts = host_mounts(&json!({"volumes": [
            "/src:/code:rw",
            {"type": "bind", "source": "/other", "target": "/code/other"},
            {"type": "volume", "source": "data", "target": "/data"},
            "data:/more",
        ]}));
        assert_eq!(mounts.len(), 2);
        let inside = normalize(Path::new("/code/backend/../other/./test_b.py"));
        assert_eq!(inside, Path::new("/code/other/test_b.py"));
        assert_eq!(
            host_path(&mounts, &inside),
            Some(PathBuf::from("/other/test_b.py"))
        );
        assert_eq!(
            host_path(&mounts, Path::new("/code/t.py")),
            Some(PathBuf::from("/src/t.py"))
        );
        assert_eq!(host_path(&mounts, Path::new("/srv/t.py")), None);
    }
}
