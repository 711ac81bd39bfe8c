//! The XML reader (shared::xml) on any bytes: events or an error, never a
//! panic; and what it hands out is as clean as it promises, so a writer
//! needs no more than escaping.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::xml::{Element, Event, Reader, is_xml_char, is_xml_name};

fuzz_target!(|data: &[u8]| {
    let file = shardstack_fuzz::ScratchFile::new(data);
    let Ok(mut reader) = Reader::open(&file.path, "fuzz.xml") else {
        return;
    };
    let mut open = Vec::new();
    loop {
        let event = match reader.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(error) => {
                let _ = error.to_string();
                return;
            }
        };
        match &event {
            Event::Start(element) => {
                check_element(element);
                open.push(element.name.clone());
            }
            Event::Empty(element) => check_element(element),
            Event::End(name) => {
                assert_eq!(open.pop().as_ref(), Some(name), "end tags match start tags");
            }
            Event::Text(text) | Event::CData(text) => check_text(text),
        }
        assert_eq!(reader.depth(), open.len(), "depth counts the open elements");
    }
});

fn check_element(element: &Element) {
    assert!(is_xml_name(&element.name), "{element:?}");
    for (key, value) in &element.attributes {
        assert!(is_xml_name(key), "{element:?}");
        check_text(value);
    }
}

fn check_text(text: &str) {
    assert!(text.chars().all(is_xml_char), "{text:?}");
}
