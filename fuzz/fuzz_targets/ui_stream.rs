//! Any text through the UI message stream encoder: every chunk is exactly one event
//! (`data: ` + one JSON line + a blank line), carries exactly its keys, and gives the text
//! back unchanged. Model output and stored text can hold anything, including `\n\n` and
//! `data: [DONE]`; none of it may split or end the stream.
#![no_main]

use chat_domain::ui_stream;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn parse(chunk: &[u8]) -> Value {
    let text = std::str::from_utf8(chunk).expect("UTF-8");
    let line = text.strip_prefix("data: ").expect("a data event");
    let line = line.strip_suffix("\n\n").expect("ends with a blank line");
    assert!(
        !line.contains('\n') && !line.contains('\r'),
        "one line: {line:?}"
    );
    serde_json::from_str(line).expect("JSON")
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Split the input in two: an id and a text.
    let (id, delta) = text.split_at(
        text.char_indices()
            .nth(text.chars().count() / 3)
            .map_or(0, |(i, _)| i),
    );

    let chunk = parse(&ui_stream::text_delta(id, delta));
    assert_eq!(keys(&chunk), ["type", "id", "delta"]);
    assert_eq!(chunk["id"], id);
    assert_eq!(chunk["delta"], delta);

    for (bytes, expected) in [
        (ui_stream::text_start(id), vec!["type", "id"]),
        (ui_stream::text_end(id), vec!["type", "id"]),
        (ui_stream::error(delta), vec!["type", "errorText"]),
        (
            ui_stream::start(id, delta),
            vec!["type", "messageId", "messageMetadata"],
        ),
    ] {
        let chunk = parse(&bytes);
        assert_eq!(keys(&chunk), expected);
    }
    assert_eq!(parse(&ui_stream::error(delta))["errorText"], delta);
});
