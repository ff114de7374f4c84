//! Every way a session token can be wrong gives 401 with `WWW-Authenticate`, on every
//! route, and reads and writes nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chat_domain::session::now_secs;
use chat_local::settings::DEV_SIGNING_KEYS;
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use chat_testkit::{TestApp, bearer, json, new_caller, spawn_app};

fn dev_secret() -> &'static [u8] {
    DEV_SIGNING_KEYS.split_once(':').unwrap().1.as_bytes()
}

/// (name, Authorization header or none, whether a token was presented).
fn bad_credentials(
    app: &TestApp,
    caller: chat_domain::ids::Caller,
) -> Vec<(&'static str, Option<String>, bool)> {
    let claims = app.claims(caller);
    let now = now_secs();
    let sign = |header: Header, secret: &[u8], claims: &chat_domain::session::Claims| {
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
    };
    let mut kid_header = Header::new(Algorithm::HS256);
    kid_header.kid = Some("local".into());
    let valid = app.token(caller);
    let (head, rest) = valid.split_once('.').unwrap();
    let (payload, _signature) = rest.split_once('.').unwrap();
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"local"}"#);
    let mut tampered_claims = claims_json(payload);
    tampered_claims["pid"] = serde_json::json!(uuid::Uuid::now_v7());
    let tampered_payload = URL_SAFE_NO_PAD.encode(tampered_claims.to_string());
    let mut hs512 = Header::new(Algorithm::HS512);
    hs512.kid = Some("local".into());
    let mut other_kid = Header::new(Algorithm::HS256);
    other_kid.kid = Some("retired".into());
    let mut expired = app.claims(caller);
    expired.iat = now - 3600;
    expired.exp = now - 60;
    let mut not_yet = app.claims(caller);
    not_yet.nbf = Some(now + 120);
    let mut future_iat = app.claims(caller);
    future_iat.iat = now + 3600;
    future_iat.exp = now + 7200;
    vec![
        ("no header", None, false),
        ("basic scheme", Some("Basic dXNlcjpwYXNz".into()), false),
        ("token without scheme", Some(valid.clone()), false),
        ("garbage", Some(bearer("garbage")), true),
        ("three garbage parts", Some(bearer("a.b.c")), true),
        (
            "bad signature",
            Some(bearer(&sign(
                kid_header.clone(),
                b"another-secret-of-at-least-32-bytes!",
                &claims,
            ))),
            true,
        ),
        (
            "tampered payload",
            Some(bearer(&format!(
                "{head}.{tampered_payload}.{}",
                rest.split_once('.').unwrap().1
            ))),
            true,
        ),
        (
            "alg none",
            Some(bearer(&format!("{none_header}.{payload}."))),
            true,
        ),
        (
            "alg HS512",
            Some(bearer(&sign(hs512, dev_secret(), &claims))),
            true,
        ),
        (
            "unknown kid",
            Some(bearer(&sign(other_kid, dev_secret(), &claims))),
            true,
        ),
        ("expired", Some(bearer(&app.token_with(&expired))), true),
        (
            "not yet valid",
            Some(bearer(&app.token_with(&not_yet))),
            true,
        ),
        (
            "issued in the future",
            Some(bearer(&app.token_with(&future_iat))),
            true,
        ),
    ]
}

fn claims_json(payload: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn assert_unauthorized(
    app: &TestApp,
    response: reqwest::Response,
    name: &str,
    presented: bool,
) {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("{name}: no WWW-Authenticate"))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(response.headers().contains_key("x-request-id"), "{name}");
    let (status, body) = json(response).await;
    assert_eq!(status, 401, "{name}");
    assert_eq!(body["error"]["code"], "UNAUTHORIZED", "{name}");
    assert!(body["error"].get("details").is_none(), "{name}: {body}");
    if presented {
        assert_eq!(challenge, "Bearer error=\"invalid_token\"", "{name}");
    } else {
        assert_eq!(challenge, "Bearer", "{name}");
    }
    assert!(
        app.calls.calls().is_empty(),
        "{name}: DynamoDB was called: {:?}",
        app.calls.calls()
    );
}

#[tokio::test]
async fn bad_tokens_are_refused_on_get_and_close_with_nothing_read_or_written() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 2).await.to_string();
    let before = app.snapshot().await;
    for (name, header, presented) in bad_credentials(&app, caller) {
        let response = app.get(&id, header.as_deref()).await;
        assert_unauthorized(&app, response, name, presented).await;
        let response = app
            .close(&id, header.as_deref(), Some(r#"{"closeReason":"x"}"#))
            .await;
        assert_unauthorized(&app, response, name, presented).await;
    }
    assert_eq!(app.snapshot().await, before);
    // The same conversation is still there for its owner.
    let (status, body) = json(app.get(&id, Some(&bearer(&app.token(caller)))).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "open");
}

#[tokio::test]
async fn a_token_within_the_clock_skew_is_accepted() {
    let app = spawn_app().await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 0).await.to_string();
    let mut claims = app.claims(caller);
    claims.exp = now_secs() - 20;
    claims.nbf = Some(now_secs() + 20);
    let (status, _) = json(app.get(&id, Some(&bearer(&app.token_with(&claims)))).await).await;
    assert_eq!(status, 200);
}
