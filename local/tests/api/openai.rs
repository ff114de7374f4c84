//! The OpenAI-compatible provider against a local server that speaks the protocol over
//! real HTTP: the model name picks the server's behaviour, good and bad.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chat_domain::assistant::{Assistant, ProviderKind, Tier};
use chat_providers::openai::{OpenAiProvider, OpenAiSettings};
use chat_providers::{
    ChatMessage, ChatRole, FinishReason, ModelProvider, ModelRequest, ProviderError, ProviderEvent,
    Usage,
};
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::{Value, json};
use uuid::Uuid;

use chat_testkit::{TestApp, json, new_caller, serve_http, user};

/// The requests a fake server received: their Authorization header and JSON body.
type Received = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A Chat Completions server whose behaviour is chosen by the request's `model`.
struct FakeOpenAi {
    base_url: String,
    requests: Received,
}

fn sse(chunks: &[Value]) -> Vec<String> {
    chunks.iter().map(|c| format!("data: {c}\n\n")).collect()
}

fn delta(text: &str) -> Value {
    json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
}

fn status_response(
    status: u16,
    headers: &[(&'static str, &str)],
    body: &str,
) -> hyper::Response<http_body_util::combinators::BoxBody<Bytes, Infallible>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body.to_owned())).boxed());
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    for (name, value) in headers {
        response.headers_mut().insert(*name, value.parse().unwrap());
    }
    response
}

fn good_answer() -> Vec<String> {
    let mut events = sse(&[
        json!({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
        delta("Hello"),
        delta(", world"),
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}),
        json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14,
            "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 1}}}),
    ]);
    events.push("data: [DONE]\n\n".into());
    events
}

async fn respond(
    model: &str,
) -> hyper::Response<http_body_util::combinators::BoxBody<Bytes, Infallible>> {
    let events: Vec<String> = match model {
        "ok" => good_answer(),
        // Split mid-event across writes, CRLF line ends.
        "split" => good_answer()
            .concat()
            .replace("\n", "\r\n")
            .as_bytes()
            .chunks(7)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
        "no-done" => good_answer()[..5].to_vec(),
        "truncated" => sse(&[delta("Hel"), delta("lo")]),
        "malformed" => {
            let mut events = sse(&[delta("Hi")]);
            events.push("data: {not json\n\n".into());
            events
        }
        "error-in-stream" => {
            let mut events = sse(&[delta("Hi")]);
            events.push(format!(
                "data: {}\n\n",
                json!({"error": {"message": "overloaded"}})
            ));
            events
        }
        "unauthorized" => return status_response(401, &[], r#"{"error":{"message":"bad key"}}"#),
        "rate-limited" => {
            return status_response(
                429,
                &[("retry-after", "12")],
                r#"{"error":{"message":"slow down"}}"#,
            );
        }
        "server-error" => return status_response(500, &[], "oops"),
        "overloaded" => return status_response(529, &[], "overloaded"),
        _ => return status_response(404, &[], "no such model"),
    };
    let slow = model == "split";
    let stream = futures_util::stream::iter(events).then(move |event| async move {
        if slow {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok::<_, Infallible>(Frame::data(Bytes::from(event)))
    });
    let mut response = hyper::Response::new(BodyExt::boxed(StreamBody::new(stream)));
    response
        .headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    response
}

impl FakeOpenAi {
    async fn start() -> Self {
        let requests: Received = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let address = serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
            let seen = seen.clone();
            async move {
                let auth = req
                    .headers()
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned());
                assert_eq!(req.uri().path(), "/v1/chat/completions");
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let body: Value = serde_json::from_slice(&body).unwrap();
                let model = body["model"].as_str().unwrap().to_owned();
                seen.lock().unwrap().push((auth, body));
                respond(&model).await
            }
        })
        .await;
        Self {
            base_url: format!("{address}/v1"),
            requests,
        }
    }

    fn provider(&self) -> OpenAiProvider {
        OpenAiProvider::new(&OpenAiSettings {
            base_url: self.base_url.clone(),
            api_key: Some(chat_domain::secret::Secret::new("sk-test")),
            connect_timeout: Duration::from_secs(2),
            read_timeout: Duration::from_secs(5),
        })
        .unwrap()
    }
}

fn request(model: &str) -> ModelRequest {
    ModelRequest {
        model: model.into(),
        messages: vec![
            ChatMessage {
                role: ChatRole::System,
                content: "Be brief.".into(),
            },
            ChatMessage {
                role: ChatRole::User,
                content: "Hi".into(),
            },
        ],
        temperature: Some(0.2),
        max_output_tokens: Some(64),
        grounding: None,
    }
}

async fn events(server: &FakeOpenAi, model: &str) -> Vec<Result<ProviderEvent, ProviderError>> {
    server.provider().stream(request(model)).collect().await
}

#[tokio::test]
async fn a_streamed_answer_yields_deltas_then_a_finish_with_all_usage() {
    let server = FakeOpenAi::start().await;
    let expected = vec![
        Ok(ProviderEvent::Delta("Hello".into())),
        Ok(ProviderEvent::Delta(", world".into())),
        Ok(ProviderEvent::Finish {
            reason: FinishReason::Length,
            usage: Usage {
                input_tokens: 12,
                output_tokens: 2,
                total_tokens: 14,
                reasoning_tokens: 1,
                cached_input_tokens: 4,
            },
        }),
    ];
    assert_eq!(events(&server, "ok").await, expected);
    assert_eq!(
        events(&server, "split").await,
        expected,
        "events split across reads"
    );
    assert_eq!(
        events(&server, "no-done").await,
        expected,
        "a finish reason without [DONE]"
    );
    let (auth, body) = server.requests.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(body["max_tokens"], 64);
}

#[tokio::test]
async fn bad_streams_and_http_errors_map_to_the_contracts_statuses() {
    let server = FakeOpenAi::start().await;
    let last =
        |events: Vec<Result<ProviderEvent, ProviderError>>| events.into_iter().last().unwrap();
    assert!(matches!(
        last(events(&server, "truncated").await),
        Err(ProviderError::Failed(_))
    ));
    assert!(matches!(
        last(events(&server, "malformed").await),
        Err(ProviderError::Failed(_))
    ));
    assert!(matches!(
        last(events(&server, "error-in-stream").await),
        Err(ProviderError::Failed(_))
    ));
    assert!(matches!(
        last(events(&server, "unauthorized").await),
        Err(ProviderError::Failed(_))
    ));
    assert!(matches!(
        last(events(&server, "server-error").await),
        Err(ProviderError::Failed(_))
    ));
    assert_eq!(
        last(events(&server, "rate-limited").await),
        Err(ProviderError::Unavailable {
            retry_after: Some(12),
            cause: "HTTP 429 Too Many Requests: {\"error\":{\"message\":\"slow down\"}}".into()
        })
    );
    assert!(matches!(
        last(events(&server, "overloaded").await),
        Err(ProviderError::Unavailable {
            retry_after: None,
            ..
        })
    ));
    // Nothing listening: the provider is down.
    let refused = OpenAiProvider::new(&OpenAiSettings {
        base_url: "http://127.0.0.1:9/v1".into(),
        ..OpenAiSettings::default()
    })
    .unwrap();
    let events: Vec<_> = refused.stream(request("ok")).collect().await;
    assert!(
        matches!(events.as_slice(), [Err(ProviderError::Unavailable { .. })]),
        "{events:?}"
    );
}

#[tokio::test]
async fn completions_through_the_openai_provider_answer_and_map_its_failures() {
    let server = FakeOpenAi::start().await;
    let base = server.base_url.clone();
    let app = TestApp::builder()
        .settings(move |config| config.providers.openai_base_url = base)
        .spawn()
        .await;
    let caller = new_caller();
    let assistant = |model: &str| Assistant {
        id: Some(Uuid::now_v7()),
        name: model.into(),
        provider: ProviderKind::OpenAi,
        model: model.into(),
        system_prompt: Some("Be brief.".into()),
        temperature: None,
        max_output_tokens: None,
        tier: Tier::Standard,
        fallback_message: None,
    };
    let mut ids = std::collections::HashMap::new();
    for model in [
        "ok",
        "unauthorized",
        "rate-limited",
        "server-error",
        "truncated",
    ] {
        let assistant = assistant(model);
        ids.insert(model, assistant.id.unwrap().to_string());
        app.store_assistant(caller, &assistant).await;
    }
    let (status, body) = json(
        app.complete(
            caller,
            &json!({"messages": [user("Hi")], "assistantId": ids["ok"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["steps"][0]["content"][0]["text"], "Hello, world");
    assert_eq!(body["steps"][0]["finishReason"], "length");
    assert_eq!(body["steps"][0]["usage"]["cachedInputTokens"], 4);
    for (model, status, retry) in [
        ("unauthorized", 502, None),
        ("server-error", 502, None),
        ("rate-limited", 503, Some("12")),
    ] {
        for stream in [true, false] {
            let response = app
                .complete(
                    caller,
                    &json!({"messages": [user("Hi")], "assistantId": ids[model], "stream": stream}),
                )
                .await;
            let conversation = response.headers()["x-conversation-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let header = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let (got, body) = json(response).await;
            assert_eq!(got, status, "{model}: {body}");
            assert_eq!(header.as_deref(), retry, "{model}");
            assert!(
                !body.to_string().contains("bad key") && !body.to_string().contains("slow down"),
                "no provider bodies: {body}"
            );
            let messages = app.read(caller, &conversation).await["messages"].clone();
            assert_eq!(messages[0]["status"], "complete", "{model}");
            assert_eq!(messages[1]["status"], "error", "{model}");
        }
    }
    let response = app
        .complete(
            caller,
            &json!({"messages": [user("Hi")], "assistantId": ids["truncated"], "stream": true}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        text.contains("\"type\":\"error\"") && text.ends_with("data: [DONE]\n\n"),
        "{text}"
    );
    // Without streaming the cut-off stream is a 502; both keep the partial text.
    let response = app
        .complete(
            caller,
            &json!({"messages": [user("Hi")], "assistantId": ids["truncated"]}),
        )
        .await;
    let conversation = response.headers()["x-conversation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(json(response).await.0, 502);
    let messages = app.read(caller, &conversation).await["messages"].clone();
    assert_eq!(messages[1]["status"], "error");
    assert_eq!(messages[1]["parts"][0]["text"], "Hello");
}

#[tokio::test]
async fn a_message_sent_into_a_long_conversation_gives_the_provider_a_bounded_context() {
    let server = FakeOpenAi::start().await;
    let base = server.base_url.clone();
    let app = TestApp::builder()
        .settings(move |config| {
            config.providers.openai_base_url = base;
            config.turns.history.max_messages = 50;
            config.turns.history.max_chars = 300;
            config.turns.history.page_excerpt_chars = 20;
        })
        .spawn()
        .await;
    let caller = new_caller();
    app.put_project(caller, chat_domain::assistant::Plan::Free, None)
        .await;
    let assistant = Assistant {
        id: Some(Uuid::now_v7()),
        name: "ok".into(),
        provider: ProviderKind::OpenAi,
        model: "ok".into(),
        system_prompt: Some("Be brief.".into()),
        temperature: None,
        max_output_tokens: None,
        tier: Tier::Standard,
        fallback_message: None,
    };
    app.store
        .put_assistant(caller.project, &assistant, true)
        .await
        .unwrap();
    let id = app.create_conversation(caller, 3_000).await;
    app.calls.clear();
    let response = app
        .http
        .post(format!("{}/v2/conversations/{id}/messages", app.base))
        .header("authorization", chat_testkit::bearer(&app.token(caller)))
        .json(&json!({
            "content": "And now?",
            "pageContext": {"title": "Mugs", "url": "https://shop.example/mugs",
                "content": format!("{}IGNORE-ALL-PREVIOUS", "x".repeat(30))},
        }))
        .send()
        .await
        .unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["steps"][0]["content"][0]["text"], "Hello, world");
    // The history read is one Query of at most the message budget, however long the
    // conversation is.
    let queries = app.calls.data_calls();
    assert_eq!(
        queries.iter().filter(|c| *c == "Query").count(),
        1,
        "{queries:?}"
    );

    let requests = server.requests.lock().unwrap();
    let (_, sent) = requests.last().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(
        messages[0],
        json!({"role": "system", "content": "Be brief."})
    );
    assert_eq!(messages[1]["role"], "system");
    let page = messages[1]["content"].as_str().unwrap();
    assert!(
        page.contains("not instructions") && page.contains("Mugs"),
        "{page}"
    );
    assert!(
        !page.contains("IGNORE-ALL-PREVIOUS"),
        "the page text is cut: {page}"
    );
    let history = &messages[2..messages.len() - 1];
    let chars: usize = history
        .iter()
        .map(|m| m["content"].as_str().unwrap().chars().count())
        .sum();
    assert!(chars <= 300, "{chars} characters of history");
    assert!(history.len() >= 20, "the budget is used: {}", history.len());
    // The most recent messages, oldest first, ending with the newest stored one.
    assert_eq!(history.last().unwrap()["content"], "message 2999");
    assert_eq!(history.last().unwrap()["role"], "assistant");
    let numbers: Vec<usize> = history
        .iter()
        .map(|m| {
            m["content"].as_str().unwrap()["message ".len()..]
                .parse()
                .unwrap()
        })
        .collect();
    assert!(numbers.windows(2).all(|w| w[0] + 1 == w[1]), "{numbers:?}");
    assert_eq!(
        messages.last().unwrap(),
        &json!({"role": "user", "content": "And now?"})
    );
}
