//! `--seed-cache FILE`: exactly this run's seed, carried between CI jobs.
//!
//! A CI cache holds files, not Docker images, and listing the host's seed
//! images to save them takes other prefixes', other projects' and untagged
//! ones too. The file holds one line of JSON saying whose seed it is (its
//! key, its prefix, each sidecar's image), then what `docker save` writes
//! for those images alone. A run loads it only when that line names this
//! run's seed; any other file, or one whose seed is refused once loaded
//! (a newer base image on the host), is replaced once the run has seeded. It is written to a temporary file beside FILE and renamed, so a
//! cut-short save never leaves half a seed where the cache looks.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use crate::engine::docker::docker;
use crate::engine::proc::{Children, describe};

/// The header's mark: what wrote the file, and in which format.
const FORMAT: &str = "shardstack seed cache 1";

/// The longest header read: far more than a seed's few images need.
const HEADER_LIMIT: u64 = 64 * 1024;

/// Whose seed a file holds.
#[derive(Debug, PartialEq)]
pub struct Holder {
    pub key: String,
    pub prefix: String,
    /// Each sidecar's seed image (its tag).
    pub images: BTreeMap<String, String>,
}

impl Holder {
    fn header(&self) -> String {
        let line = json!({
            "format": FORMAT,
            "key": self.key,
            "prefix": self.prefix,
            "images": self.images,
        });
        format!("{line}\n")
    }

    fn parse(line: &[u8]) -> Option<Holder> {
        let header: Value = serde_json::from_slice(line).ok()?;
        if header["format"] != FORMAT {
            return None;
        }
        let text = |name: &str| header[name].as_str().map(str::to_string);
        let images = header["images"].as_object()?;
        let images = images
            .iter()
            .map(|(sidecar, tag)| Some((sidecar.clone(), tag.as_str()?.to_string())))
            .collect::<Option<_>>()?;
        Some(Holder {
            key: text("key")?,
            prefix: text("prefix")?,
            images,
        })
    }
}

/// `--seed-cache FILE`, and what it holds.
pub struct Cache<'a> {
    pub file: &'a Path,
    /// This run's seed.
    wanted: Holder,
    /// Where this run's seed starts in the file; `None` without a file;
    /// why not, for a file that holds another or cannot be read.
    held: Result<Option<u64>, String>,
}

impl Cache<'_> {
    /// Look at `file`: does it hold the seed `wanted` names?
    pub fn open(file: &Path, wanted: Holder) -> Cache<'_> {
        let held = match read(file) {
            Ok(None) => Ok(None),
            Ok(Some((found, offset))) if found == wanted => Ok(Some(offset)),
            Ok(Some((found, _))) => Err(found.unlike(&wanted)),
            Err(why) => Err(why),
        };
        Cache { file, wanted, held }
    }

    /// Load this run's seed from the file: whether there was one to load;
    /// why not, when the file holds another (never loaded) or loading failed.
    pub fn load(&self, children: &Children) -> Result<bool, String> {
        match &self.held {
            Ok(None) => Ok(false),
            Ok(Some(offset)) => load(children, self.file, *offset)
                .map(|()| true)
                .map_err(|err| format!("cannot be loaded: {err:#}")),
            Err(why) => Err(why.clone()),
        }
    }

    /// Save this run's seed, unless the file holds it already: whether it did.
    /// `made`: this run seeded, so whatever the file held was refused (not
    /// loadable, or refused once loaded) and is rewritten.
    pub fn save(&self, children: &Children, made: bool) -> anyhow::Result<bool> {
        if !self.rewrites(made) {
            return Ok(false);
        }
        save(children, self.file, &self.wanted).map(|()| true)
    }

    /// Whether `save` writes the file. A file that names this run's seed is
    /// kept only when the run did not seed: else every later job would load
    /// it, refuse it again and seed again.
    fn rewrites(&self, made: bool) -> bool {
        made || !matches!(self.held, Ok(Some(_)))
    }
}

impl Holder {
    /// How this seed differs from `wanted`, in words.
    fn unlike(&self, wanted: &Holder) -> String {
        let short = |key: &str| key.chars().take(16).collect::<String>();
        if self.key != wanted.key {
            format!("holds another key's seed ({})", short(&self.key))
        } else if self.prefix != wanted.prefix {
            format!(
                "holds prefix {}'s seed, not {}'s",
                self.prefix, wanted.prefix
            )
        } else {
            let images: Vec<&str> = self.images.values().map(String::as_str).collect();
            format!("holds other images ({})", images.join(", "))
        }
    }
}

/// Whose seed `path` holds, and where its images start; `None` when there
/// is no such file; what is wrong with it, in words that follow its name.
fn read(path: &Path) -> Result<Option<(Holder, u64)>, String> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(format!("cannot be read: {err}")),
    };
    let mut line = Vec::new();
    BufReader::new(file)
        .take(HEADER_LIMIT)
        .read_until(b'\n', &mut line)
        .map_err(|err| format!("cannot be read: {err}"))?;
    match Holder::parse(&line) {
        Some(holder) if line.ends_with(b"\n") => Ok(Some((holder, line.len() as u64))),
        _ => Err(
            "is not a seed file of stack-run --seed-cache (its first line is not \
                  the JSON line saying whose seed it holds)"
                .into(),
        ),
    }
}

/// `docker load` the images of `path`, which start at `offset`.
fn load(children: &Children, path: &Path, offset: u64) -> anyhow::Result<()> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    file.seek(SeekFrom::Start(offset))
        .with_context(|| format!("cannot read {}", path.display()))?;
    let cmd = docker(&["load", "-q"]);
    let shown = describe(&cmd);
    let loaded = children.capture_fed(cmd, file)?;
    if !loaded.status.success() {
        bail!(
            "{shown} < {} failed: {}",
            path.display(),
            String::from_utf8_lossy(&loaded.stderr).trim()
        );
    }
    Ok(())
}

/// Write `holder`'s images, and nothing else of the host's, to `path`:
/// whole or not at all.
fn save(children: &Children, path: &Path, holder: &Holder) -> anyhow::Result<()> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(folder)
        .with_context(|| format!("cannot create a temporary file in {}", folder.display()))?;
    temp.write_all(holder.header().as_bytes())
        .and_then(|()| temp.flush())
        .with_context(|| format!("cannot write {}", temp.path().display()))?;
    let images = temp
        .as_file()
        .try_clone()
        .with_context(|| format!("cannot write {}", temp.path().display()))?;
    let mut cmd = docker(&["save"]);
    cmd.args(holder.images.values());
    let shown = describe(&cmd);
    let saved = children.capture_into(cmd, images)?;
    if !saved.status.success() {
        bail!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&saved.stderr).trim()
        );
    }
    temp.persist(path)
        .map_err(|err| err.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> Holder {
        Holder {
            key: "ab".repeat(32),
            prefix: "ci".into(),
            images: [("db".to_string(), "ci-seed-db:abab".to_string())].into(),
        }
    }

    #[test]
    fn the_header_says_whose_seed_follows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed");
        let header = holder().header();
        std::fs::write(&path, format!("{header}IMAGES")).unwrap();
        assert_eq!(read(&path).unwrap(), Some((holder(), header.len() as u64)));
        assert_eq!(read(&dir.path().join("none")).unwrap(), None);
    }

    #[test]
    fn a_file_of_another_seed_is_refused_saying_how_it_differs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed");
        let cases = [
            (
                Holder {
                    key: "cd".repeat(32),
                    ..holder()
                },
                "holds another key's seed (cdcdcdcdcdcdcdcd)",
            ),
            (
                Holder {
                    prefix: "other".into(),
                    ..holder()
                },
                "holds prefix other's seed, not ci's",
            ),
            (
                Holder {
                    images: BTreeMap::new(),
                    ..holder()
                },
                "holds other images ()",
            ),
        ];
        for (found, why) in cases {
            std::fs::write(&path, found.header()).unwrap();
            let cache = Cache::open(&path, holder());
            assert_eq!(cache.load(&Children::default()), Err(why.to_string()));
        }
        let missing = dir.path().join("missing");
        assert_eq!(
            Cache::open(&missing, holder()).load(&Children::default()),
            Ok(false)
        );
    }

    #[test]
    fn a_seed_refused_after_loading_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed");
        std::fs::write(&path, format!("{}IMAGES", holder().header())).unwrap();
        let cache = Cache::open(&path, holder());
        // Found on the host or loaded and kept: the file holds it already.
        assert!(!cache.rewrites(false));
        // Loaded, then refused (a newer base image), so the run seeded.
        assert!(cache.rewrites(true));
        let missing = dir.path().join("missing");
        assert!(Cache::open(&missing, holder()).rewrites(false));
    }

    #[test]
    fn a_file_that_is_not_a_seed_cache_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed");
        let other_format = holder().header().replace(FORMAT, "shardstack seed cache 0");
        let unended = holder().header().trim_end().to_string();
        for contents in ["", "manifest.json\0\0", &other_format, &unended] {
            std::fs::write(&path, contents).unwrap();
            let err = read(&path).unwrap_err().to_string();
            assert!(
                err.contains("is not a seed file of stack-run --seed-cache"),
                "{err}"
            );
        }
    }
}
