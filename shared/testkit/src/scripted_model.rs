//! A model stand-in that speaks the OpenAI-compatible Chat Completions protocol over real
//! HTTP (the one edge the project does not own), its answer scripted from the request it
//! gets: tests and the benchmark see what a model was given ([`given_sources`]) and make
//! it answer as a model might, a hostile page's injection obeyed included.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::app::serve_http;

/// What the stand-in answers a request with: the deltas of its answer.
pub type Script = Arc<dyn Fn(&Value) -> Vec<String> + Send + Sync>;

/// The stand-in, on loopback.
pub struct ScriptedModel {
    /// Its base URL (`http://127.0.0.1:<port>/v1`): the `OPENAI_BASE_URL`.
    pub base_url: String,
    /// Every request body it received, in order.
    pub requests: Arc<Mutex<Vec<Value>>>,
}

impl ScriptedModel {
    /// Starts a stand-in that streams the deltas `script` makes of each request.
    pub async fn start(script: impl Fn(&Value) -> Vec<String> + Send + Sync + 'static) -> Self {
        let script: Script = Arc::new(script);
        let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
        let seen = requests.clone();
        let address = serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
            let (script, seen) = (script.clone(), seen.clone());
            async move {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let deltas = script(&body);
                seen.lock().unwrap().push(body);
                let mut events: String = deltas
                    .iter()
                    .map(|d| {
                        let chunk = json!({"choices": [{"index": 0, "delta": {"content": d}, "finish_reason": null}]});
                        format!("data: {chunk}\n\n")
                    })
                    .collect();
                let end = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 100, "completion_tokens": deltas.len(), "total_tokens": 100 + deltas.len()}});
                events.push_str(&format!("data: {end}\n\ndata: [DONE]\n\n"));
                let mut response = hyper::Response::new(Full::new(Bytes::from(events)));
                response
                    .headers_mut()
                    .insert("content-type", "text/event-stream".parse().unwrap());
                response
            }
        })
        .await;
        Self {
            base_url: format!("{address}/v1"),
            requests,
        }
    }
}

/// A source as the model was given it: its number (`None`: may be drawn on, not cited),
/// title, URL and text.
#[derive(Clone, Debug, PartialEq)]
pub struct GivenSource {
    /// `[n]`.
    pub number: Option<u32>,
    /// The page's title.
    pub title: String,
    /// The page's URL, or `(no URL)`.
    pub url: String,
    /// The passage.
    pub text: String,
}

/// The sources in a request's system messages (the fenced `<source …>` blocks).
pub fn given_sources(request: &Value) -> Vec<GivenSource> {
    let mut sources = Vec::new();
    for message in request["messages"].as_array().into_iter().flatten() {
        if message["role"] != "system" {
            continue;
        }
        let text = message["content"].as_str().unwrap_or("");
        for block in text.split("<source ").skip(1) {
            let Some((head, rest)) = block.split_once(">\n") else {
                continue;
            };
            let body = rest.split("\n</source>").next().unwrap_or("");
            let attribute = |name: &str| {
                head.split(&format!("{name}=\""))
                    .nth(1)
                    .and_then(|v| v.split('"').next())
                    .unwrap_or("")
                    .to_owned()
            };
            let number = head
                .strip_prefix('[')
                .and_then(|h| h.split(']').next())
                .and_then(|n| n.parse().ok());
            sources.push(GivenSource {
                number,
                title: attribute("title"),
                url: attribute("url"),
                text: body.to_owned(),
            });
        }
    }
    sources
}

/// The visitor's last message in a request.
pub fn last_question(request: &Value) -> String {
    request["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned()
}
