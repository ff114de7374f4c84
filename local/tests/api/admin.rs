//! The operator commands of `chat-local` (`admin ...`, `token`), run as an operator runs
//! them: the real binary, configured through its environment, against this test's table;
//! then the API serving what they wrote.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chat_shared::auth::{Authenticator, SigningKeys};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use uuid::Uuid;

/// A finished run of the binary.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `chat-local args` with exactly `env` (plus dummy AWS credentials), as a shell
/// with that environment would.
async fn chat_local(env: &[(&str, &str)], args: &[&str]) -> Run {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_chat-local"))
        .args(args)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", "local")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_REGION", "us-east-1")
        .envs(env.iter().copied())
        .output()
        .await
        .expect("chat-local runs");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A stand-in for the Secrets Manager endpoint: answers every GetSecretValue with
/// `secret`, and records the ids asked for.
async fn secrets_endpoint(secret: &'static str) -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = asked.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let seen = seen.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let seen = seen.clone();
                        async move {
                            let target = req.headers()["x-amz-target"].to_str().unwrap().to_owned();
                            let body = req.into_body().collect().await.unwrap().to_bytes();
                            let request: Value = serde_json::from_slice(&body).unwrap();
                            seen.lock()
                                .unwrap()
                                .push(json!({"target": target, "request": request}));
                            let answer = json!({
                                "ARN": request["SecretId"],
                                "Name": "signing-keys",
                                "SecretString": secret,
                                "VersionId": "v1",
                            });
                            let response = http::Response::builder()
                                .header("content-type", "application/x-amz-json-1.1")
                                .body(Full::new(Bytes::from(answer.to_string())))
                                .unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, asked)
}

#[tokio::test]
async fn the_token_command_signs_with_keys_read_from_their_secret() {
    const KEYS: &str =
        "k2:0123456789abcdef0123456789abcdef-new,k1:0123456789abcdef0123456789abcdef-old";
    const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:chat-keys-AbCdEf";
    let (endpoint, asked) = secrets_endpoint(KEYS).await;
    let (project, visitor) = (Uuid::now_v7(), Uuid::now_v7());
    let run = chat_local(
        &[
            ("SESSION_SIGNING_KEYS_SECRET_ARN", ARN),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", endpoint.as_str()),
        ],
        &[
            "token",
            "--project",
            &project.to_string(),
            "--visitor",
            &visitor.to_string(),
        ],
    )
    .await;
    assert!(run.success, "{}", run.stderr);
    let token = run.stdout.trim();

    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["target"], "secretsmanager.GetSecretValue");
    assert_eq!(asked[0]["request"]["SecretId"], ARN);
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(
        header.kid.as_deref(),
        Some("k2"),
        "signed with the newest key"
    );
    let caller = Authenticator::new(&SigningKeys::parse(KEYS).unwrap(), None)
        .verify(token)
        .expect("verifies with the secret's keys");
    assert_eq!(caller.project.0, project);
    assert_eq!(caller.visitor.0, visitor);
}
