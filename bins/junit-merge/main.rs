//! junit-merge: many JUnit XML reports in, one faithful report out.
//!
//! Two passes over the inputs: the first checks every file and adds up its
//! counts (the root's sums come first in the output), the second copies the
//! suites, inputs ordered by content so any argument order gives the same
//! bytes. Other XML found in a folder (a coverage.xml) is skipped; a file
//! named on the command line must be JUnit. Reports in a `rerun` folder are
//! second attempts that mark flaky tests (`flaky.rs`), not more tests. The
//! reading, counting and writing live in `shared::junit`.

mod cli;
mod expect;
mod flaky;
mod inputs;

use std::io::Write;

use anyhow::Context;
use clap::Parser;
use shared::exit::{self, ExitContext};
use shared::io::Output;
use shared::junit::read::{Event, Reader, has_junit_root};
use shared::junit::write::Writer;
use shared::xml;

use crate::expect::Expected;
use crate::flaky::Reruns;
use crate::inputs::Input;

fn main() -> std::process::ExitCode {
    shared::cli::run("junit-merge", || {
        run(cli::Cli::parse()).exit_code(exit::USAGE)
    })
}

fn run(cli: cli::Cli) -> anyhow::Result<i32> {
    let mut expected = cli.expect.as_deref().map(Expected::read).transpose()?;
    let mut inputs = Vec::new();
    let mut rerun_inputs = Vec::new();
    for input in inputs::gather(&cli.inputs, cli.output.as_deref())? {
        if input.walked && !has_junit_root(&input.path, &input.name)? {
            eprintln!("junit-merge: skipping {}: not a JUnit report", input.name);
        } else if flaky::is_rerun(&input.path) {
            rerun_inputs.push(input);
        } else {
            inputs.push(input);
        }
    }
    let mut reruns = Reruns::default();
    for input in &rerun_inputs {
        reruns.read(&input.path, &input.name)?;
    }
    for input in &mut inputs {
        check(input, expected.as_mut(), &mut reruns)?;
    }
    inputs.sort_by_key(|input| input.digest);
    let not_run = expected.as_ref().map(Expected::not_run).unwrap_or_default();
    let mut totals = expect::counts(&not_run);
    for input in &inputs {
        totals.add(&input.totals).with_context(|| {
            format!("{}: its counts cannot be added to the others'", input.name)
        })?;
    }
    reruns.adjust(&mut totals);

    let mut output = Output::create(cli.output.as_deref())?;
    let mut writer = Writer::start(&mut output, &totals)?;
    for input in &inputs {
        copy(input, &reruns, &mut writer)?;
    }
    expect::write(&not_run, &mut writer)?;
    writer.finish()?.flush()?;
    output.commit()?;

    if !not_run.is_empty() {
        eprintln!(
            "junit-merge: {} planned test(s) have no result in any input; \
             recorded as errors in the merged report",
            not_run.len()
        );
    }
    if reruns.flaky_count() > 0 {
        eprintln!(
            "junit-merge: {} test(s) failed and then passed on a rerun; marked flaky",
            reruns.flaky_count()
        );
    }
    Ok(exit::SUCCESS)
}

/// The first pass over one input: read it all (an error stops everything
/// before a byte is written), note its digest, counts and test cases.
fn check(
    input: &mut Input,
    mut expected: Option<&mut Expected>,
    reruns: &mut Reruns,
) -> anyhow::Result<()> {
    input.digest = inputs::digest(&input.path)?;
    let mut reader = Reader::open(&input.path, &input.name)?;
    let mut scan = reruns.scan(&input.path);
    while let Some(event) = reader.next_event()? {
        scan.event(&event);
        if let (Event::Case(case), Some(expected)) = (&event, expected.as_deref_mut()) {
            expected.found(case);
        }
    }
    input.totals = reader.totals();
    if let Some(disagreement) = reader.tally().disagreement(&input.totals) {
        eprintln!(
            "junit-merge: note: {}: {disagreement}; the merged report keeps its counts",
            input.name
        );
    }
    Ok(())
}

/// Copy the suites of one input: a `<testsuites>` root's children, or a bare
/// `<testsuite>` root itself. Namespaces the dropped root declared move to
/// each child, so prefixed names inside stay bound. Flaky tests are marked
/// on the way (see `flaky.rs`).
fn copy(input: &Input, reruns: &Reruns, writer: &mut Writer<impl Write>) -> anyhow::Result<()> {
    let mut reader = Reader::open(&input.path, &input.name)?;
    let mut rewriter = reruns.rewriter(&input.path);
    let mut top = 0;
    let mut namespaces = Vec::new();
    while let Some(event) = reader.next_event()? {
        let Event::Xml { mut event, depth } = event else {
            continue;
        };
        if let (0, xml::Event::Start(root) | xml::Event::Empty(root)) = (depth, &event) {
            if root.local_name() == "testsuites" {
                top = 1;
                namespaces = root
                    .attributes
                    .iter()
                    .filter(|(key, _)| key == "xmlns" || key.starts_with("xmlns:"))
                    .cloned()
                    .collect();
            }
        }
        let is_text = matches!(event, xml::Event::Text(_) | xml::Event::CData(_));
        if depth < top || (depth == top && is_text) {
            continue;
        }
        if let (true, xml::Event::Start(child) | xml::Event::Empty(child)) =
            (depth == top, &mut event)
        {
            for (key, value) in &namespaces {
                if child.get(key).is_none() {
                    child.attributes.push((key.clone(), value.clone()));
                }
            }
            writer.new_child();
        }
        for event in rewriter.event(event, depth) {
            writer
                .event(&event)
                .context("cannot write the merged report")?;
        }
    }
    if reader.totals() != input.totals {
        anyhow::bail!("{} changed while it was being merged", input.name);
    }
    Ok(())
}
