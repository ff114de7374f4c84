//! Any bytes as a completion body: a valid request, or a 400/422 naming a field; never a
//! panic. A valid request keeps every rule of the contract.
#![no_main]

use chat_domain::input::completion::{CompletionRequest, MAX_CONTENT_CHARS, MAX_MESSAGES};
use chat_domain::chat::ChatRole;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match CompletionRequest::parse(data) {
        Ok(request) => {
            assert!((1..=MAX_MESSAGES).contains(&request.messages.len()));
            assert!(request.messages.last().unwrap().role == ChatRole::User);
            for message in &request.messages {
                assert!((1..=MAX_CONTENT_CHARS).contains(&message.content.chars().count()));
            }
        }
        Err(error) => {
            let status = error.status().as_u16();
            assert!(status == 400 || status == 422, "{status}");
            assert!(error.details().unwrap()["field"].is_string());
        }
    }
});
