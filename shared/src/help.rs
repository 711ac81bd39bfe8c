//! The parts of help text every tool has: examples and exit statuses.
//!
//! Each tool's `cli.rs` lists them once as constants; `--help` shows them
//! through [`after_help`] and the man page generator renders them as the
//! EXAMPLES and EXIT STATUS sections.

use std::fmt::Write;

/// One example: what it does, and the command line.
pub struct Example {
    pub about: &'static str,
    pub command: &'static str,
}

/// The text shown after the options by `--help`.
pub fn after_help(examples: &[Example], exit_status: &[(i32, &str)]) -> String {
    let mut text = String::from("Examples:\n");
    for example in examples {
        let _ = writeln!(text, "  # {}\n  {}\n", example.about, example.command);
    }
    text.push_str("Exit status:\n");
    for (code, meaning) in exit_status {
        let _ = writeln!(text, "  {code:>3}  {meaning}");
    }
    text
}
