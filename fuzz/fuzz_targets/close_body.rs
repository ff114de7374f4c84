//! Any bytes as a close body: accepted, or a 400/422 naming a field; never a panic.
#![no_main]

use chat_domain::input::{CloseRequest, MAX_CLOSE_REASON_CHARS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match CloseRequest::parse(data) {
        Ok(request) => {
            if let Some(reason) = request.reason {
                let text = reason.as_str();
                assert!(!text.is_empty() && text == text.trim());
                assert!(text.chars().count() <= MAX_CLOSE_REASON_CHARS);
            }
        }
        Err(error) => {
            let status = error.status().as_u16();
            assert!(status == 400 || status == 422, "{status}");
            assert!(error.details().unwrap()["field"].is_string());
        }
    }
});
