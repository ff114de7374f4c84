//! Property tests for everything a caller controls before storage is touched: the close
//! and completion bodies, path ids and bearer tokens. Whatever comes in, parsing never
//! panics and never answers 5xx; it answers the status the contract names for the kind
//! of mistake (400 for shape, 422 for limits, 401 for tokens), naming the field.
//!
//! Case counts are small so the whole file runs in a few seconds; raise them with
//! `PROPTEST_CASES=100000 cargo test -p chat-domain --test parsing_props`.

use chat_domain::ApiError;
use chat_domain::input::agents::{AgentMessageRequest, HandoffRequest};
use chat_domain::input::completion::{CompletionRequest, MAX_CONTENT_CHARS, MAX_MESSAGES};
use chat_domain::input::{CloseRequest, MAX_CLOSE_REASON_CHARS, parse_uuid};
use chat_domain::session::{Authenticator, Claims, SigningKeys, TokenMinter, now_secs};
use proptest::prelude::*;
use serde_json::{Value, json};
use uuid::Uuid;

const SECRET: &str = "a-secret-that-is-long-enough-for-hs256!!";

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

/// A refusal's status and the `field` its details name (every 400 and 422 names one).
fn refusal(error: &ApiError) -> (u16, String) {
    let status = error.status().as_u16();
    let field = error
        .details()
        .and_then(|d| d.get("field").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| panic!("{status} without a field: {error:?}"));
    (status, field)
}

fn assert_client_error(error: &ApiError) {
    let (status, field) = refusal(error);
    assert!(status == 400 || status == 422, "{status} for {error:?}");
    assert!(!field.is_empty());
    // The envelope is well-formed whatever the input was.
    let envelope = error.envelope();
    assert_eq!(envelope["error"]["code"], error.code());
}

/// Any JSON value, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,20}".prop_map(Value::String),
        prop_oneof![
            Just("user"),
            Just("assistant"),
            Just("system"),
            Just("role")
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("role".to_owned()),
                    Just("content".to_owned()),
                    Just("closeReason".to_owned()),
                    ".{0,8}".prop_map(String::from)
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A message with a valid shape: a known role and a string content of some length.
fn shaped_message() -> impl Strategy<Value = (String, usize)> {
    (
        prop_oneof![Just("user"), Just("assistant"), Just("system")].prop_map(str::to_owned),
        prop_oneof![0usize..4, (MAX_CONTENT_CHARS - 1)..(MAX_CONTENT_CHARS + 2)],
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_bytes_as_a_close_body_are_accepted_or_a_client_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(error) = CloseRequest::parse(&bytes) {
            assert_client_error(&error);
        }
    }

    #[test]
    fn any_bytes_or_json_as_an_agent_body_are_accepted_or_a_client_error(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        value in any_json(),
    ) {
        let text = value.to_string().into_bytes();
        for body in [&bytes, &text] {
            if let Err(error) = HandoffRequest::parse(body) {
                assert_client_error(&error);
                let (_, field) = refusal(&error);
                prop_assert!(field == "body" || field.starts_with("humanAgent"), "{field}");
            }
            if let Err(error) = AgentMessageRequest::parse(body) {
                assert_client_error(&error);
                let (_, field) = refusal(&error);
                prop_assert!(field == "body" || field == "content", "{field}");
            }
        }
    }

    #[test]
    fn any_json_as_a_close_body_is_accepted_or_400_or_422(value in any_json()) {
        let bytes = value.to_string().into_bytes();
        match (CloseRequest::parse(&bytes), &value) {
            (Ok(_), Value::Object(map)) => {
                prop_assert!(matches!(map.get("closeReason"), None | Some(Value::Null | Value::String(_))));
            }
            (Ok(_), other) => prop_assert!(false, "accepted a non-object {other}"),
            (Err(error), Value::Object(map)) => {
                let (status, field) = refusal(&error);
                prop_assert_eq!(field, "closeReason");
                prop_assert_eq!(status, if map["closeReason"].is_string() { 422 } else { 400 });
            }
            (Err(error), _) => prop_assert_eq!(refusal(&error), (400, "body".to_owned())),
        }
    }

    #[test]
    fn a_close_reason_is_422_exactly_when_it_is_too_long(reason in ".{0,300}") {
        let body = json!({ "closeReason": reason }).to_string();
        let trimmed = reason.trim().chars().count();
        match CloseRequest::parse(body.as_bytes()) {
            Ok(parsed) => {
                prop_assert!(trimmed <= MAX_CLOSE_REASON_CHARS);
                prop_assert_eq!(parsed.reason.is_none(), trimmed == 0);
            }
            Err(error) => {
                prop_assert!(trimmed > MAX_CLOSE_REASON_CHARS);
                prop_assert_eq!(refusal(&error), (422, "closeReason".to_owned()));
            }
        }
    }

    #[test]
    fn any_bytes_as_a_completion_body_are_accepted_or_a_client_error(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Err(error) = CompletionRequest::parse(&bytes) {
            assert_client_error(&error);
        }
    }

    #[test]
    fn any_json_as_a_message_list_is_accepted_or_a_client_error(messages in any_json(), stream in any_json()) {
        let body = json!({ "messages": messages, "stream": stream }).to_string();
        match CompletionRequest::parse(body.as_bytes()) {
            Ok(request) => {
                prop_assert!(!request.messages.is_empty() && request.messages.len() <= MAX_MESSAGES);
                prop_assert!(stream.is_boolean() || stream.is_null());
            }
            Err(error) => {
                assert_client_error(&error);
                let (_, field) = refusal(&error);
                prop_assert!(field == "messages" || field.starts_with("messages[") || field == "stream", "{}", field);
            }
        }
    }

    #[test]
    fn well_shaped_messages_are_422_exactly_when_a_limit_is_broken(
        messages in prop::collection::vec(shaped_message(), 0..(MAX_MESSAGES + 3)),
    ) {
        let list: Vec<Value> = messages
            .iter()
            .map(|(role, len)| json!({ "role": role, "content": "é".repeat(*len) }))
            .collect();
        let body = json!({ "messages": list }).to_string();
        let count_ok = !messages.is_empty() && messages.len() <= MAX_MESSAGES;
        let lengths_ok = messages.iter().all(|(_, len)| (1..=MAX_CONTENT_CHARS).contains(len));
        let last_is_user = messages.last().is_some_and(|(role, _)| role == "user");
        match CompletionRequest::parse(body.as_bytes()) {
            Ok(_) => prop_assert!(count_ok && lengths_ok && last_is_user),
            Err(error) => {
                prop_assert!(!(count_ok && lengths_ok && last_is_user));
                // Shape is fine, so only limits are left: always 422.
                prop_assert_eq!(error.status().as_u16(), 422, "{:?}", error);
            }
        }
    }

    #[test]
    fn any_string_as_an_optional_id_is_a_uuid_or_400(text in ".{0,40}", hyphenated in any::<u128>()) {
        for candidate in [text.clone(), Uuid::from_u128(hyphenated).to_string()] {
            for field in ["assistantId", "conversationId"] {
                let body = json!({ "messages": [{"role": "user", "content": "hi"}], field: candidate }).to_string();
                match CompletionRequest::parse(body.as_bytes()) {
                    Ok(_) => prop_assert!(Uuid::parse_str(&candidate).is_ok() && candidate.len() == 36),
                    Err(error) => prop_assert_eq!(refusal(&error), (400, field.to_owned())),
                }
            }
        }
    }

    #[test]
    fn any_string_as_a_conversation_id_is_a_uuid_or_400(text in "\\PC{0,40}|[0-9a-fA-F-]{36}") {
        match parse_uuid(&text, "conversationId") {
            Ok(id) => {
                prop_assert_eq!(text.len(), 36);
                prop_assert_eq!(id.hyphenated().to_string(), text.to_lowercase());
            }
            Err(error) => prop_assert_eq!(refusal(&error), (400, "conversationId".to_owned())),
        }
    }

    #[test]
    fn every_hyphenated_uuid_is_accepted(n in any::<u128>()) {
        let id = Uuid::from_u128(n);
        prop_assert_eq!(parse_uuid(&id.to_string(), "conversationId").unwrap(), id);
        prop_assert_eq!(parse_uuid(&id.to_string().to_uppercase(), "conversationId").unwrap(), id);
        prop_assert!(parse_uuid(&id.simple().to_string(), "conversationId").is_err());
    }

    #[test]
    fn any_string_as_a_bearer_token_is_401(token in "\\PC{0,200}|[A-Za-z0-9_.-]{0,200}") {
        let keys = SigningKeys::parse(&format!("k1:{SECRET}")).unwrap();
        let auth = Authenticator::new(&keys, None);
        match auth.verify(&token) {
            Ok(caller) => prop_assert!(false, "{token:?} verified as {caller:?}"),
            Err(error) => {
                prop_assert_eq!(error.status().as_u16(), 401);
                prop_assert!(error.details().is_none());
            }
        }
    }

    #[test]
    fn a_valid_token_with_any_byte_changed_is_401(position in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.=-]") {
        let keys = SigningKeys::parse(&format!("k1:{SECRET}")).unwrap();
        let auth = Authenticator::new(&keys, None);
        let now = now_secs();
        let token = TokenMinter::new(&keys).mint_claims(&Claims {
            sub: Uuid::now_v7(), pid: Uuid::now_v7(), iat: now, exp: now + 60, nbf: None, iss: None,
            ext: None,
            name: None,
            picture: None,
        });
        let at = position.index(token.len());
        let mut tampered = token.clone();
        tampered.replace_range(at..=at, &replacement);
        let verdict = auth.verify(&tampered);
        if tampered == token {
            prop_assert!(verdict.is_ok());
        } else if let Ok(caller) = verdict {
            // base64url's last character carries spare bits: a change there may decode to
            // the same bytes, which is the same signed token, not a forgery.
            let original = auth.verify(&token).unwrap();
            prop_assert_eq!(caller, original);
        } else {
            prop_assert_eq!(verdict.unwrap_err().status().as_u16(), 401);
        }
    }
}

#[test]
fn deeply_nested_json_is_400_not_a_stack_overflow() {
    // serde_json stops at 128 levels; a body of 100,000 brackets (200 KB, under the
    // 256 KiB limit) must be a plain 400, not a crash of the Lambda.
    for depth in [129, 1_000, 100_000] {
        for body in [
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
            format!(
                "{{\"messages\":{}{}}}",
                "[".repeat(depth),
                "]".repeat(depth)
            ),
            format!(
                "{{\"closeReason\":{}{}}}",
                "{\"a\":".repeat(depth),
                "}".repeat(depth)
            ),
        ] {
            let close = CloseRequest::parse(body.as_bytes()).unwrap_err();
            assert_eq!(refusal(&close), (400, "body".to_owned()), "depth {depth}");
            let completion = CompletionRequest::parse(body.as_bytes()).unwrap_err();
            assert_eq!(
                refusal(&completion),
                (400, "body".to_owned()),
                "depth {depth}"
            );
        }
    }
}
