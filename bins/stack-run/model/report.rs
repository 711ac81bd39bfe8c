//! What the layers below the app tell the user as a run goes: the app
//! draws it (see `app::progress`); nothing below prints.

/// Where a run's progress goes.
pub trait Report: Send + Sync {
    /// How the unit or stack on `line` stands now; `done` when it has ended.
    fn state(&self, line: u32, state: &str, detail: &str, done: bool);
    /// A line of the output of the command running on `line`.
    fn output(&self, line: u32, text: &str);
    /// Something the user should know, said once.
    fn note(&self, text: &str);
    /// Something that went wrong without stopping the run.
    fn warn(&self, text: &str);
}
