//! A JUnit report read, written by shared::junit::write the way junit-merge
//! copies its inputs, and read again: the same suites with the same counts,
//! the same test cases (attributes, outcome, problems and their text), the
//! same totals.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::junit::model::{Case, Counts};
use shared::junit::read::{Event, Reader};
use shared::junit::write::Writer;
use shared::xml;

/// What a report says, as junit-merge and stack-report use it.
#[derive(Debug, PartialEq)]
struct Model {
    cases: Vec<Case>,
    top_suites: Vec<(String, Counts)>,
    totals: Counts,
}

fuzz_target!(|data: &[u8]| {
    let Some((model, events)) = read(data) else {
        return;
    };
    // The writer refuses what is not well-formed; what the reader hands out
    // always is, so a refusal here is a finding. Reading the output back is
    // the well-formedness check: the reader takes only names every parser
    // takes (expat's too, see shared::xml's `names`).
    let written = write(&model.totals, &events).expect("the writer takes what the reader read");
    let (again, _) = read(&written).unwrap_or_else(|| {
        panic!(
            "the written report does not read back:\n{}",
            String::from_utf8_lossy(&written)
        )
    });
    assert_eq!(model, again, "{}", String::from_utf8_lossy(&written));
});

/// The report's model and its XML events with their depths.
fn read(data: &[u8]) -> Option<(Model, Vec<(xml::Event, usize)>)> {
    let file = shardstack_fuzz::ScratchFile::new(data);
    let mut reader = Reader::open(&file.path, "fuzz.xml").ok()?;
    let (mut cases, mut top_suites, mut events) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(event) = reader.next_event().ok()? {
        match event {
            Event::Xml { event, depth } => events.push((event, depth)),
            Event::Case(case) => cases.push(case),
            Event::Suite { name, counts, top } if top => top_suites.push((name, counts)),
            Event::Suite { .. } => {}
        }
    }
    let totals = reader.totals();
    Some((
        Model {
            cases,
            top_suites,
            totals,
        },
        events,
    ))
}

/// Write the report as junit-merge writes one input: a `<testsuites>`
/// root's children (with the namespaces it declared), or a `<testsuite>`
/// root itself, under a new `<testsuites>` root with the totals.
fn write(totals: &Counts, events: &[(xml::Event, usize)]) -> std::io::Result<Vec<u8>> {
    let mut writer = Writer::start(Vec::new(), totals)?;
    let mut top = 0;
    let mut namespaces = Vec::new();
    for (event, depth) in events {
        let mut event = event.clone();
        if let (0, xml::Event::Start(root) | xml::Event::Empty(root)) = (*depth, &event)
            && root.local_name() == "testsuites"
        {
            top = 1;
            namespaces = root
                .attributes
                .iter()
                .filter(|(key, _)| key == "xmlns" || key.starts_with("xmlns:"))
                .cloned()
                .collect();
        }
        let is_text = matches!(event, xml::Event::Text(_) | xml::Event::CData(_));
        if *depth < top || (*depth == top && is_text) {
            continue;
        }
        if let (true, xml::Event::Start(child) | xml::Event::Empty(child)) =
            (*depth == top, &mut event)
        {
            for (key, value) in &namespaces {
                if child.get(key).is_none() {
                    child.attributes.push((key.clone(), value.clone()));
                }
            }
            writer.new_child();
        }
        writer.event(&event)?;
    }
    writer.finish()
}
