//! Whether a service's image must be built, and why.
//!
//! Every run used to build every `build:` service, trusting the builder's
//! cache to make it quick. That cache is the builder's own: an image built
//! under Compose v1 (the legacy builder) is built again from scratch under
//! Compose v2 (BuildKit), minutes for a large dependency layer, with one
//! line said. So the image a run builds records what it was built from, as
//! labels: digests of its context (the files the builder is sent, after
//! `.dockerignore`), its Dockerfile, its other build options and its base
//! images' ids. The next run computes the same digests; when the image kept
//! from the last run (PREFIX-SERVICE) has them all, it is used as it is,
//! whichever compose or builder made it; when not, the build says which
//! part changed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::docker::{image_field, image_inspect};
use crate::engine::proc::Children;
use crate::model::seed_key::component_matches;

/// The labels, each with the part of the build it names in a reason.
const PARTS: [(&str, &str); 4] = [
    ("io.shardstack.build.context", "its context"),
    ("io.shardstack.build.dockerfile", "its Dockerfile"),
    ("io.shardstack.build.options", "its build options"),
    ("io.shardstack.build.base", "its base image"),
];

/// What an image was built from: a digest per part of [`PARTS`].
#[derive(Debug, Clone, PartialEq)]
pub struct BuildKey {
    digests: [String; 4],
}

/// What to do with a service's image.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// The kept image was built from the same inputs.
    Reuse,
    /// Build it, for this reason.
    Build(String),
}

impl BuildKey {
    /// The key of `build` (a service's `build` section as `compose config`
    /// gives it: the context an absolute folder); an error says why none can
    /// be made (a remote context, a base image not on this host).
    pub fn of(children: &Children, build: &Value) -> anyhow::Result<BuildKey> {
        let context = match build {
            Value::String(context) => context.as_str(),
            build => build["context"].as_str().unwrap_or("."),
        };
        if context.contains("://") || context.starts_with("git@") {
            bail!("its context {context} is not a folder here");
        }
        let context = Path::new(context);
        let (dockerfile_text, dockerfile) = dockerfile(context, build)?;
        let args = build_args(build);
        let base = base_images(children, &dockerfile_text, &args)?;
        Ok(BuildKey {
            digests: [
                context_digest(context, dockerfile.as_deref())?,
                digest(dockerfile_text.as_bytes()),
                digest(options(build, &args).as_bytes()),
                digest(base.as_bytes()),
            ],
        })
    }

    /// The labels the built image carries.
    pub fn labels(&self) -> Vec<(String, String)> {
        PARTS
            .iter()
            .zip(&self.digests)
            .map(|((label, _), digest)| (label.to_string(), digest.clone()))
            .collect()
    }

    /// Whether the image `kept` (its labels, `None` when there is no such
    /// image) can be used as this key's.
    pub fn decide(&self, kept: &str, labels: Option<&BTreeMap<String, String>>) -> Decision {
        let Some(labels) = labels else {
            return Decision::Build(format!("no image of an earlier run ({kept})"));
        };
        let changed: Vec<&str> = PARTS
            .iter()
            .zip(&self.digests)
            .filter(|((label, _), digest)| labels.get(*label) != Some(digest))
            .map(|((_, what), _)| *what)
            .collect();
        if changed.len() == PARTS.len() && !labels.contains_key(PARTS[0].0) {
            return Decision::Build(format!("{kept} has no record of what it was built from"));
        }
        match changed.as_slice() {
            [] => Decision::Reuse,
            _ => Decision::Build(format!(
                "{} changed since {kept} was built",
                changed.join(", ")
            )),
        }
    }
}

/// The labels of `image`, `None` when there is no such image.
pub fn labels_of(children: &Children, image: &str) -> Option<BTreeMap<String, String>> {
    let said = image_field(children, image, "{{json .Config.Labels}}")?;
    let labels: Option<BTreeMap<String, String>> = serde_json::from_str(&said).ok()?;
    Some(labels.unwrap_or_default())
}

fn digest(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The Dockerfile's text and, when it is a file, its path.
fn dockerfile(context: &Path, build: &Value) -> anyhow::Result<(String, Option<PathBuf>)> {
    if let Some(inline) = build["dockerfile_inline"].as_str() {
        return Ok((inline.to_string(), None));
    }
    let path = context.join(build["dockerfile"].as_str().unwrap_or("Dockerfile"));
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok((text, Some(path)))
}

/// The build arguments compose passes: `args` as a map or `KEY=VALUE` list.
fn build_args(build: &Value) -> BTreeMap<String, String> {
    match &build["args"] {
        Value::Object(map) => map
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .collect(),
        Value::Array(list) => list
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The build options but those the other parts hold (context, Dockerfile)
/// and the labels stack-run adds, in one order: Compose v1 and v2 write the
/// same options in different orders and v2 adds the default Dockerfile.
fn options(build: &Value, args: &BTreeMap<String, String>) -> String {
    let mut options: BTreeMap<&str, Value> = build
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| !matches!(key.as_str(), "context" | "dockerfile" | "labels" | "args"))
        .map(|(key, value)| (key.as_str(), value.clone()))
        .collect();
    if !args.is_empty() {
        options.insert("args", serde_json::json!(args));
    }
    serde_json::to_string(&options).expect("plain data")
}

/// Each `FROM` image of the Dockerfile with its id here, one a line: a base
/// rebuilt or pulled since makes another key. An earlier stage and `scratch`
/// are no images.
fn base_images(
    children: &Children,
    dockerfile: &str,
    args: &BTreeMap<String, String>,
) -> anyhow::Result<String> {
    let mut lines = Vec::new();
    for image in from_images(dockerfile, args) {
        let Some(id) = image_inspect(children, &image, "{{.Id}}")? else {
            bail!("its base image {image} is not on this host");
        };
        lines.push(format!("{image} {id}"));
    }
    Ok(lines.join("\n"))
}

/// The images the Dockerfile's `FROM` lines name, with the build arguments
/// (and the defaults of the `ARG`s before the first `FROM`) put in.
fn from_images(dockerfile: &str, args: &BTreeMap<String, String>) -> Vec<String> {
    let mut values = BTreeMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut images = Vec::new();
    let mut seen_from = false;
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        let instruction = words.next().unwrap_or("").to_ascii_uppercase();
        let before_any_from = stages.is_empty() && images.is_empty() && !seen_from;
        if instruction == "ARG" && before_any_from {
            for word in words {
                let (name, default) = word.split_once('=').unwrap_or((word, ""));
                let value = args.get(name).cloned().unwrap_or(default.to_string());
                values.insert(name.to_string(), value);
            }
            continue;
        }
        if instruction != "FROM" {
            continue;
        }
        seen_from = true;
        let words: Vec<&str> = words.filter(|word| !word.starts_with("--")).collect();
        let Some(image) = words.first() else { continue };
        let image = substitute(image, &values);
        let is_stage = stages.contains(&image.to_ascii_lowercase());
        if image != "scratch" && !is_stage && !images.contains(&image) {
            images.push(image);
        }
        if let [_, as_word, name] = words.as_slice() {
            if as_word.eq_ignore_ascii_case("as") {
                stages.push(name.to_ascii_lowercase());
            }
        }
    }
    images
}

/// `$NAME`, `${NAME}` and `${NAME:-default}` put in from `values`.
fn substitute(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, default, used) = if let Some(braced) = after.strip_prefix('{') {
            let Some(end) = braced.find('}') else {
                out.push_str(&rest[at..]);
                return out;
            };
            let inner = &braced[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (inner, None),
            };
            (name, default, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], None, end)
        };
        let value = values.get(name).filter(|v| !v.is_empty());
        out.push_str(value.map_or(default.unwrap_or(""), String::as_str));
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

/// A digest of the files the builder is sent: every file under `context`
/// that `.dockerignore` keeps (its path and contents), in name order.
fn context_digest(context: &Path, dockerfile: Option<&Path>) -> anyhow::Result<String> {
    let ignore = read_ignore(context, dockerfile);
    let mut hasher = Sha256::new();
    let walk = walkdir::WalkDir::new(context).sort_by_file_name();
    let prune = ignore.iter().all(|pattern| !pattern.keep);
    let entries = walk.into_iter().filter_entry(|entry| {
        let relative = entry.path().strip_prefix(context).unwrap_or(entry.path());
        // Without exceptions, an ignored folder is ignored whole.
        !(prune && entry.depth() > 0 && ignored(relative, &ignore))
    });
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", context.display()))?;
        let relative = entry.path().strip_prefix(context).unwrap_or(entry.path());
        let kind = entry.file_type();
        if !(kind.is_file() || kind.is_symlink()) || ignored(relative, &ignore) {
            continue;
        }
        // The builder is sent a link as a link: what it points to is its contents.
        let contents = match kind.is_symlink() {
            true => std::fs::read_link(entry.path())
                .map(|target| target.to_string_lossy().as_bytes().to_vec()),
            false => std::fs::read(entry.path()),
        }
        .with_context(|| format!("cannot read {}", entry.path().display()))?;
        for part in [relative.to_string_lossy().as_bytes(), &contents[..]] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// One `.dockerignore` line: its components, and whether it is an
/// exception (`!pattern`, a file kept after all).
struct Pattern {
    components: Vec<String>,
    keep: bool,
}

/// The patterns of `Dockerfile.dockerignore` beside the Dockerfile (BuildKit
/// reads it first), else of the context's `.dockerignore`.
fn read_ignore(context: &Path, dockerfile: Option<&Path>) -> Vec<Pattern> {
    let beside = dockerfile.map(|path| {
        let mut name = path.as_os_str().to_owned();
        name.push(".dockerignore");
        PathBuf::from(name)
    });
    let text = beside
        .and_then(|path| std::fs::read_to_string(path).ok())
        .or_else(|| std::fs::read_to_string(context.join(".dockerignore")).ok())
        .unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (keep, pattern) = match line.strip_prefix('!') {
                Some(pattern) => (true, pattern.trim()),
                None => (false, line),
            };
            let components = pattern
                .split('/')
                .filter(|part| !part.is_empty() && *part != ".")
                .map(str::to_string)
                .collect();
            Pattern { components, keep }
        })
        .collect()
}

/// Whether `.dockerignore` leaves `relative` out: the last pattern that
/// matches it, or a folder above it, decides.
fn ignored(relative: &Path, patterns: &[Pattern]) -> bool {
    let parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    let mut ignored = false;
    for pattern in patterns {
        let matched = (1..=parts.len()).any(|n| path_matches(&pattern.components, &parts[..n]));
        if matched {
            ignored = !pattern.keep;
        }
    }
    ignored
}

/// Components against components, `**` standing for any number of them.
fn path_matches(pattern: &[String], parts: &[String]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=parts.len()).any(|skip| path_matches(rest, &parts[skip..]))
        }
        Some((first, rest)) => match parts.split_first() {
            Some((part, others)) => component_matches(first, part) && path_matches(rest, others),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(digests: [&str; 4]) -> BuildKey {
        BuildKey {
            digests: digests.map(str::to_string),
        }
    }

    #[test]
    fn a_kept_image_is_reused_only_when_every_part_is_the_same() {
        let now = key(["c", "d", "o", "b"]);
        let labels = |digests: [&str; 4]| Some(key(digests).labels().into_iter().collect());
        assert_eq!(
            now.decide("ci-app", labels(["c", "d", "o", "b"]).as_ref()),
            Decision::Reuse
        );
        assert_eq!(
            now.decide("ci-app", labels(["x", "d", "o", "y"]).as_ref()),
            Decision::Build("its context, its base image changed since ci-app was built".into())
        );
        assert_eq!(
            now.decide("ci-app", None),
            Decision::Build("no image of an earlier run (ci-app)".into())
        );
        assert_eq!(
            now.decide("ci-app", Some(&BTreeMap::new())),
            Decision::Build("ci-app has no record of what it was built from".into())
        );
    }

    #[test]
    fn base_images_are_read_with_their_arguments() {
        let dockerfile = "ARG PYTHON_IMAGE=python:3.11\nARG TAG\nFROM ${PYTHON_IMAGE} AS deps\n\
                          RUN pip install x\nFROM deps\nFROM --platform=linux/amd64 busybox:${TAG:-1.36}\n\
                          from scratch\n";
        let args = BTreeMap::from([(
            "PYTHON_IMAGE".to_string(),
            "shardstack/python:3.11".to_string(),
        )]);
        assert_eq!(
            from_images(dockerfile, &args),
            ["shardstack/python:3.11", "busybox:1.36"]
        );
        assert_eq!(from_images(dockerfile, &BTreeMap::new())[0], "python:3.11");
        assert_eq!(
            substitute("a$B-c", &BTreeMap::from([("B".into(), "x".into())])),
            "ax-c"
        );
    }

    #[test]
    fn the_context_is_what_dockerignore_leaves() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("app/__pycache__")).unwrap();
        std::fs::create_dir_all(root.join("docs")).unwrap();
        std::fs::write(root.join("app/main.py"), "x").unwrap();
        std::fs::write(root.join("app/__pycache__/main.pyc"), "1").unwrap();
        std::fs::write(root.join("docs/a.md"), "a").unwrap();
        std::fs::write(root.join("docs/keep.md"), "k").unwrap();
        std::fs::write(
            root.join(".dockerignore"),
            "**/__pycache__\ndocs\n!docs/keep.md\n",
        )
        .unwrap();
        let before = context_digest(root, None).unwrap();
        std::fs::write(root.join("app/__pycache__/main.pyc"), "2").unwrap();
        std::fs::write(root.join("docs/a.md"), "b").unwrap();
        assert_eq!(context_digest(root, None).unwrap(), before, "ignored files");
        std::fs::write(root.join("docs/keep.md"), "K").unwrap();
        assert_ne!(context_digest(root, None).unwrap(), before, "an exception");
        let kept = context_digest(root, None).unwrap();
        std::fs::write(root.join("app/main.py"), "y").unwrap();
        assert_ne!(context_digest(root, None).unwrap(), kept);
        let edited = context_digest(root, None).unwrap();
        std::os::unix::fs::symlink("main.py", root.join("app/link.py")).unwrap();
        let linked = context_digest(root, None).unwrap();
        assert_ne!(linked, edited, "a link is part of the context");
        std::fs::remove_file(root.join("app/link.py")).unwrap();
        std::os::unix::fs::symlink("other.py", root.join("app/link.py")).unwrap();
        assert_ne!(
            context_digest(root, None).unwrap(),
            linked,
            "what a link points to"
        );
    }

    #[test]
    fn options_read_alike_from_compose_v1_and_v2() {
        let v2 = json!({"context": "/s", "dockerfile": "Dockerfile", "args": {"A": "1", "B": "2"}, "target": "t"});
        let v1 = json!({"target": "t", "args": ["B=2", "A=1"], "context": "/s"});
        assert_eq!(
            options(&v2, &build_args(&v2)),
            options(&v1, &build_args(&v1))
        );
        assert_eq!(
            options(&v2, &build_args(&v2)),
            r#"{"args":{"A":"1","B":"2"},"target":"t"}"#
        );
    }

    #[test]
    fn a_remote_context_has_no_key() {
        let build = json!({"context": "https://github.com/o/r.git#main"});
        let err = BuildKey::of(&Children::default(), &build).unwrap_err();
        assert_eq!(
            err.to_string(),
            "its context https://github.com/o/r.git#main is not a folder here"
        );
    }
}
