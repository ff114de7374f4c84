//! The Vercel AI SDK "UI message stream", version 1: the chunks a streaming completion
//! writes, each `data: <one line of JSON>` and a blank line. Every chunk carries exactly
//! the keys the protocol gives it: strict clients reject any other.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::Spelling;
use crate::chat::{FinishReason, Usage};

/// The headers of a UI message stream response, besides `x-request-id` and
/// `x-conversation-id`.
pub const STREAM_HEADERS: [(&str, &str); 5] = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("connection", "keep-alive"),
    ("x-vercel-ai-ui-message-stream", "v1"),
    ("x-accel-buffering", "no"),
];

/// The comment sent while nothing else is, so proxies keep the connection open.
pub const KEEP_ALIVE: &[u8] = b": keep-alive\n\n";

/// The last event of every stream.
pub const DONE: &[u8] = b"data: [DONE]\n\n";

fn event(value: &Value) -> Bytes {
    let mut line = Vec::with_capacity(64);
    line.extend_from_slice(b"data: ");
    // A Value always serialises; serde_json escapes newlines, so the JSON is one line.
    serde_json::to_writer(&mut line, value).expect("JSON value serialises");
    line.extend_from_slice(b"\n\n");
    Bytes::from(line)
}

/// `start`: opens the assistant message.
pub fn start(message_id: &str, conversation_id: &str) -> Bytes {
    event(&json!({
        "type": "start",
        "messageId": message_id,
        "messageMetadata": { "conversationId": conversation_id },
    }))
}

/// `start-step`: opens a generation step.
pub fn start_step() -> Bytes {
    event(&json!({ "type": "start-step" }))
}

/// `text-start`: opens text part `id`.
pub fn text_start(id: &str) -> Bytes {
    event(&json!({ "type": "text-start", "id": id }))
}

/// `text-delta`: appends `delta` to text part `id`.
pub fn text_delta(id: &str, delta: &str) -> Bytes {
    event(&json!({ "type": "text-delta", "id": id, "delta": delta }))
}

/// `text-end`: closes text part `id`.
pub fn text_end(id: &str) -> Bytes {
    event(&json!({ "type": "text-end", "id": id }))
}

/// `finish-step`: closes the step.
pub fn finish_step() -> Bytes {
    event(&json!({ "type": "finish-step" }))
}

/// `source-url`: one source the answer cites (API.md §16), sent after `finish-step` and
/// before `finish`; `source_id` is the number the text shows.
pub fn source_url(source_id: &str, url: &str, title: &str) -> Bytes {
    event(&json!({ "type": "source-url", "sourceId": source_id, "url": url, "title": title }))
}

/// `finish`: closes the message; reason and usage travel in `messageMetadata`.
pub fn finish(reason: FinishReason, usage: &Usage) -> Bytes {
    event(&json!({
        "type": "finish",
        "messageMetadata": { "finishReason": reason.as_str(), "usage": usage },
    }))
}

/// `error`: a failure after the stream started, as a human sentence.
pub fn error(text: &str) -> Bytes {
    event(&json!({ "type": "error", "errorText": text }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: Bytes) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn each_chunk_is_exactly_its_golden_string() {
        assert_eq!(
            text(start("m1", "c1")),
            "data: {\"type\":\"start\",\"messageId\":\"m1\",\"messageMetadata\":{\"conversationId\":\"c1\"}}\n\n"
        );
        assert_eq!(text(start_step()), "data: {\"type\":\"start-step\"}\n\n");
        assert_eq!(
            text(source_url("1", "https://shop.example/a", "A \"b\"")),
            "data: {\"type\":\"source-url\",\"sourceId\":\"1\",\"url\":\"https://shop.example/a\",\"title\":\"A \\\"b\\\"\"}\n\n"
        );
        assert_eq!(
            text(text_start("t1")),
            "data: {\"type\":\"text-start\",\"id\":\"t1\"}\n\n"
        );
        assert_eq!(
            text(text_delta("t1", "Hello! ")),
            "data: {\"type\":\"text-delta\",\"id\":\"t1\",\"delta\":\"Hello! \"}\n\n"
        );
        assert_eq!(
            text(text_end("t1")),
            "data: {\"type\":\"text-end\",\"id\":\"t1\"}\n\n"
        );
        assert_eq!(text(finish_step()), "data: {\"type\":\"finish-step\"}\n\n");
        let usage = Usage {
            input_tokens: 2409,
            output_tokens: 11,
            total_tokens: 2420,
            reasoning_tokens: 0,
            cached_input_tokens: 0,
        };
        assert_eq!(
            text(finish(FinishReason::Stop, &usage)),
            "data: {\"type\":\"finish\",\"messageMetadata\":{\"finishReason\":\"stop\",\"usage\":{\"inputTokens\":2409,\"outputTokens\":11,\"totalTokens\":2420,\"reasoningTokens\":0,\"cachedInputTokens\":0}}}\n\n"
        );
        assert_eq!(
            text(error("The assistant stopped unexpectedly.")),
            "data: {\"type\":\"error\",\"errorText\":\"The assistant stopped unexpectedly.\"}\n\n"
        );
        assert_eq!(DONE, b"data: [DONE]\n\n");
        assert_eq!(KEEP_ALIVE, b": keep-alive\n\n");
    }

    #[test]
    fn a_delta_with_newlines_stays_one_line() {
        let chunk = text(text_delta("t", "line one\nline two\r\n\"quoted\""));
        assert_eq!(
            chunk.matches('\n').count(),
            2,
            "only the event terminator: {chunk:?}"
        );
        let json: Value =
            serde_json::from_str(chunk.trim_start_matches("data: ").trim_end()).unwrap();
        assert_eq!(json["delta"], "line one\nline two\r\n\"quoted\"");
    }
}
