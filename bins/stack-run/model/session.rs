//! `--session`: the user's pytest command turned into a session server's,
//! which collects once and then runs the batches stack-run sends it (the
//! plugin is `packaging/pytest/shardstack_session.py`, carried in the binary).

/// The plugin's source: stack-run writes it under `--out` and mounts it,
/// read-only, into every stack's container of the service.
pub const PLUGIN_SOURCE: &str = include_str!("../../../packaging/pytest/shardstack_session.py");

/// The plugin's module name: the file's name, and what `-p` loads.
pub const PLUGIN_MODULE: &str = "shardstack_session";

/// Where the plugin's folder is mounted in the container.
pub const PLUGIN_MOUNT: &str = "/shardstack/plugin";

/// The folder of the plugin's folder that holds its file, put first on
/// `PYTHONPATH`. Beside it, the folder holds [`PLUGIN_VENV_MARK`]: coverage.py
/// (7.x) counts an importable folder inside a virtualenv as third-party and
/// does not measure it, so a session's coverage holds the project's files
/// only, as a plain pytest run's does.
pub const PLUGIN_LIB: &str = "lib";

/// What marks the plugin's folder as a virtualenv for coverage.py.
pub const PLUGIN_VENV_MARK: (&str, &str) = (
    "pyvenv.cfg",
    "# stack-run --session: marks this folder as a virtualenv, so that coverage.py\n\
     # counts the session plugin in lib/ as third-party and does not measure it.\n",
);

/// One test's start or end, as the session streams them.
#[derive(Debug, Clone, PartialEq)]
pub enum TestEvent {
    Started { batch: u32, id: String },
    Ended(Ended),
}

/// A test that ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    pub batch: u32,
    pub id: String,
    /// passed, failed, error, skipped, xfailed, xpassed.
    pub outcome: String,
    pub seconds: f64,
    /// What its JUnit entry says when it did not pass: one line, then the
    /// traceback (empty for a skip).
    pub message: Option<String>,
    pub details: Option<String>,
}

/// What each batch's JUnit report is called when the command names none.
const DEFAULT_JUNIT: &str = "junit.xml";

/// A pytest command, as a session runs it.
#[derive(Debug, PartialEq)]
pub struct SessionCommand {
    /// The command without its JUnit option (a session would write that file
    /// only when it ends, with every batch's tests), placeholders kept.
    pub command: Vec<String>,
    /// The file name each batch's JUnit report gets in the batch's folder:
    /// the command's `--junit-xml`'s, else `junit.xml`.
    pub junit_name: String,
}

impl SessionCommand {
    /// The command a session runs: the plugin loaded, its protocol folder
    /// `dir` (a path the container sees); `append_coverage` when an earlier
    /// session of the same stack left coverage data to keep.
    pub fn serving(&self, dir: &str, append_coverage: bool) -> Vec<String> {
        let mut command = self.command.clone();
        command.extend(["-p".into(), PLUGIN_MODULE.into()]);
        command.push(format!("--shardstack-session={dir}"));
        if append_coverage {
            command.push("--cov-append".into());
        }
        command
    }
}

/// `command` as a session runs it, or why it cannot be one.
pub fn session_command(command: &[String]) -> Result<SessionCommand, String> {
    if !runs_pytest(command) {
        return Err(format!(
            "--session serves batches from one pytest session per stack: the command must \
             start with pytest or python -m pytest, not {:?}",
            command.first().map_or("", String::as_str)
        ));
    }
    let mut kept = Vec::with_capacity(command.len());
    let mut junit = None;
    let mut words = command.iter();
    while let Some(word) = words.next() {
        match junit_option(word) {
            Some(Some(path)) => junit = Some(path.to_string()),
            Some(None) => junit = words.next().cloned(),
            None => kept.push(word.clone()),
        }
    }
    let junit_name = junit
        .as_deref()
        .and_then(|path| path.rsplit('/').next())
        .filter(|name| !name.is_empty() && !name.contains('{'))
        .unwrap_or(DEFAULT_JUNIT)
        .to_string();
    Ok(SessionCommand {
        command: kept,
        junit_name,
    })
}

/// `Some(Some(path))` for `--junit-xml=PATH`, `Some(None)` for the option
/// with its path in the next word, `None` for any other word.
fn junit_option(word: &str) -> Option<Option<&str>> {
    for option in ["--junit-xml", "--junitxml"] {
        if word == option {
            return Some(None);
        }
        if let Some(path) = word.strip_prefix(option).and_then(|w| w.strip_prefix('=')) {
            return Some(Some(path));
        }
    }
    None
}

/// `pytest …`, `py.test …` or `python -m pytest …` (any python's name or path).
fn runs_pytest(command: &[String]) -> bool {
    let name = |word: &String| word.rsplit('/').next().unwrap_or_default().to_string();
    match command {
        [first, ..] if ["pytest", "py.test"].contains(&name(first).as_str()) => true,
        [python, m, module, ..] => {
            name(python).starts_with("python") && m == "-m" && module == "pytest"
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(String::from).collect()
    }

    #[test]
    fn the_junit_option_goes_and_names_each_batchs_report() {
        let session = session_command(&words(
            "pytest @{tests} --reuse-db --junit-xml={out}/unit.xml --cov",
        ))
        .unwrap();
        assert_eq!(session.command, words("pytest @{tests} --reuse-db --cov"));
        assert_eq!(session.junit_name, "unit.xml");
        let session = session_command(&words("python3 -m pytest --junitxml out/j.xml -q")).unwrap();
        assert_eq!(session.command, words("python3 -m pytest -q"));
        assert_eq!(session.junit_name, "j.xml");
    }

    #[test]
    fn without_a_junit_option_each_batch_still_gets_its_report() {
        let session = session_command(&words("/venv/bin/pytest @{tests}")).unwrap();
        assert_eq!(session.junit_name, "junit.xml");
        assert_eq!(
            session.serving("/shardstack/out/session-1/1", true)[2..],
            words(
                "-p shardstack_session --shardstack-session=/shardstack/out/session-1/1 --cov-append"
            )
        );
    }

    #[test]
    fn a_command_that_is_not_pytest_is_refused_with_what_it_is() {
        for line in [
            "tox -e py",
            "python manage.py test",
            "coverage run -m pytest",
        ] {
            let err = session_command(&words(line)).unwrap_err();
            assert!(err.contains("pytest or python -m pytest"), "{err}");
            assert!(
                err.contains(&format!("{:?}", line.split(' ').next().unwrap())),
                "{err}"
            );
        }
    }
}
