//! Any string as a bearer token (and as an Authorization header): always 401, never a
//! caller, never a panic. The verifier holds the development key the sample events are
//! signed with, so mutations of real tokens from the seed corpus are explored too.
#![no_main]

use std::sync::OnceLock;

use chat_domain::session::{Authenticator, SigningKeys};
use libfuzzer_sys::fuzz_target;

const KEYS: &str = "local:local-development-signing-key-do-not-deploy,old:another-key-that-is-long-enough-for-hs256";

fn auth() -> &'static Authenticator {
    static AUTH: OnceLock<Authenticator> = OnceLock::new();
    AUTH.get_or_init(|| Authenticator::new(&SigningKeys::parse(KEYS).unwrap(), None))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The seed tokens are valid; a mutation that still verifies must be one of them
    // (base64url's spare bits), so only check that refusals are 401.
    if let Err(error) = auth().verify(text) {
        assert_eq!(error.status().as_u16(), 401);
        assert!(error.details().is_none());
    }
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(&format!("Bearer {text}")) {
        headers.insert(http::header::AUTHORIZATION, value);
        if let Err(error) = auth().authenticate(&headers) {
            assert_eq!(error.status().as_u16(), 401);
        }
    }
});
