//! The man pages in `man/` are generated from the clap commands the tools
//! parse with; this test fails when a committed page is stale.
//! `make man` (SHARDSTACK_UPDATE_MAN=1) writes them anew.

use clap::CommandFactory;
use shared::help::Example;

#[path = "../bins/cov-merge/cli.rs"]
mod cov_merge;
#[path = "../bins/junit-merge/cli.rs"]
mod junit_merge;
#[path = "../bins/shard-plan/cli.rs"]
mod shard_plan;
#[path = "../bins/stack-report/cli.rs"]
mod stack_report;
#[path = "../bins/stack-run/app/cli.rs"]
mod stack_run;
#[path = "../bins/wait-for/cli.rs"]
mod wait_for;

/// What one tool's page is made of.
struct Page {
    command: clap::Command,
    examples: &'static [Example],
    exit_status: &'static [(i32, &'static str)],
}

macro_rules! page {
    ($tool:ident) => {
        Page {
            command: $tool::Cli::command(),
            examples: $tool::EXAMPLES,
            exit_status: $tool::EXIT_STATUS,
        }
    };
}

fn pages() -> Vec<Page> {
    vec![
        page!(cov_merge),
        page!(junit_merge),
        page!(shard_plan),
        page!(stack_report),
        page!(stack_run),
        page!(wait_for),
    ]
}

fn render(
    Page {
        command,
        examples,
        exit_status,
    }: Page,
) -> String {
    let man = clap_mangen::Man::new(command);
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    man.render_synopsis_section(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    man.render_options_section(&mut page).unwrap();
    let mut page = String::from_utf8(page).unwrap();
    page.push_str(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in exit_status {
        page.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff(meaning)));
    }
    if !examples.is_empty() {
        page.push_str(".SH EXAMPLES\n");
        for example in examples {
            page.push_str(&format!(
                ".PP\n{}\n.PP\n.RS 4\n.nf\n{}\n.fi\n.RE\n",
                roff(example.about),
                roff(example.command)
            ));
        }
    }
    page
}

/// Escape text for roff: backslashes, hyphens, and a leading dot or quote.
fn roff(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.replace('\\', "\\e").replace('-', "\\-");
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn man_pages_are_current() {
    let dir = crate::util::root().join("man");
    let update = std::env::var_os("SHARDSTACK_UPDATE_MAN").is_some();
    let mut stale = Vec::new();
    for page in pages() {
        let path = dir.join(format!("{}.1", page.command.get_name()));
        let page = render(page);
        if update {
            std::fs::write(&path, &page).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(page.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages (run `make man`): {stale:?}"
    );
}
