//! An OpenAI-compatible Chat Completions client (streaming, usage included), which also
//! covers the many servers that speak that protocol. One connection pool per process.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use chat_domain::Spelling;
use chat_domain::secret::Secret;
use futures_util::{Stream, StreamExt, stream};
use serde_json::{Value, json};

use crate::sse::SseDecoder;
use crate::{
    EventStream, FinishReason, ModelProvider, ModelRequest, ProviderError, ProviderEvent, Usage,
};

/// The public OpenAI API.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// How much of an error body is kept for the log.
const MAX_ERROR_BODY: usize = 2048;

/// How to reach the provider.
#[derive(Clone, Debug)]
pub struct OpenAiSettings {
    /// The API root, without `/chat/completions`.
    pub base_url: String,
    /// The bearer key, when the server wants one.
    pub api_key: Option<Secret>,
    /// Limit on connecting.
    pub connect_timeout: Duration,
    /// Limit on waiting for the next bytes of a response.
    pub read_timeout: Duration,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// The client, built once and shared.
#[derive(Clone, Debug)]
pub struct OpenAiProvider {
    client: reqwest::Client,
    url: String,
    api_key: Option<Secret>,
}

impl OpenAiProvider {
    /// A client for `settings`.
    pub fn new(settings: &OpenAiSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            client,
            url: format!(
                "{}/chat/completions",
                settings.base_url.trim_end_matches('/')
            ),
            api_key: settings.api_key.clone(),
        })
    }
}

/// The request body for `request`.
pub fn request_body(request: &ModelRequest) -> Value {
    let messages: Vec<Value> = request
        .messages
        .iter()
        .map(|m| json!({ "role": m.role.as_str(), "content": m.content }))
        .collect();
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "stream": true,
        "stream_options": { "include_usage": true },
    });
    if let Some(temperature) = request.temperature {
        body["temperature"] = json!(temperature);
    }
    if let Some(max) = request.max_output_tokens {
        body["max_tokens"] = json!(max);
    }
    body
}

type ByteStream = std::pin::Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

struct State {
    provider: OpenAiProvider,
    body: Value,
    response: Option<ByteStream>,
    decoder: SseDecoder,
    pending: VecDeque<Result<ProviderEvent, ProviderError>>,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
    done: bool,
}

impl ModelProvider for OpenAiProvider {
    fn stream(&self, request: ModelRequest) -> EventStream {
        let state = State {
            provider: self.clone(),
            body: request_body(&request),
            response: None,
            decoder: SseDecoder::default(),
            pending: VecDeque::new(),
            finish_reason: None,
            usage: None,
            done: false,
        };
        Box::pin(stream::unfold(state, |mut state| async move {
            loop {
                if let Some(event) = state.pending.pop_front() {
                    return Some((event, state));
                }
                if state.done {
                    return None;
                }
                match state.response.as_mut() {
                    None => match open(&state.provider, &state.body).await {
                        Ok(response) => state.response = Some(response),
                        Err(error) => state.fail(error),
                    },
                    Some(response) => match response.next().await {
                        Some(Ok(bytes)) => state.read(&bytes),
                        Some(Err(error)) => state.fail(transport_error(&error)),
                        None => state.end_of_body(),
                    },
                }
            }
        }))
    }
}

/// Sends the request; a non-success status becomes the error it stands for.
async fn open(provider: &OpenAiProvider, body: &Value) -> Result<ByteStream, ProviderError> {
    let mut call = provider.client.post(&provider.url).json(body);
    if let Some(key) = &provider.api_key {
        call = call.bearer_auth(key.expose());
    }
    let response = call.send().await.map_err(|e| transport_error(&e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(Box::pin(response.bytes_stream()));
    }
    let retry_after = retry_after(response.headers());
    let text = response.text().await.unwrap_or_default();
    let excerpt: String = text.chars().take(MAX_ERROR_BODY).collect();
    let cause = format!("HTTP {status}: {excerpt}");
    Err(match status.as_u16() {
        429 | 503 | 529 => ProviderError::Unavailable { retry_after, cause },
        408 | 504 => ProviderError::Timeout(cause),
        _ => ProviderError::Failed(cause),
    })
}

impl State {
    fn fail(&mut self, error: ProviderError) {
        self.done = true;
        self.pending.push_back(Err(error));
    }

    fn read(&mut self, bytes: &[u8]) {
        let events = match self.decoder.feed(bytes) {
            Ok(events) => events,
            Err(error) => return self.fail(ProviderError::Failed(error.to_string())),
        };
        for data in events {
            if self.done {
                return;
            }
            if data.trim() == "[DONE]" {
                return self.finish();
            }
            match serde_json::from_str::<Value>(&data) {
                Ok(chunk) => self.chunk(&chunk),
                Err(_) => {
                    let excerpt: String = data.chars().take(200).collect();
                    return self.fail(ProviderError::Failed(format!(
                        "malformed stream chunk: {excerpt}"
                    )));
                }
            }
        }
    }

    fn chunk(&mut self, chunk: &Value) {
        if let Some(error) = chunk.get("error") {
            return self.fail(ProviderError::Failed(format!("error in stream: {error}")));
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Some(parse_usage(usage));
        }
        let Some(choice) = chunk["choices"].get(0) else {
            return;
        };
        if let Some(text) = choice["delta"]["content"]
            .as_str()
            .filter(|t| !t.is_empty())
        {
            self.pending
                .push_back(Ok(ProviderEvent::Delta(text.to_owned())));
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(match reason {
                "stop" => FinishReason::Stop,
                "length" => FinishReason::Length,
                "content_filter" => FinishReason::ContentFilter,
                "tool_calls" | "function_call" => FinishReason::ToolCalls,
                _ => FinishReason::Other,
            });
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.pending.push_back(Ok(ProviderEvent::Finish {
            reason: self.finish_reason.unwrap_or(FinishReason::Unknown),
            usage: self.usage.unwrap_or_default(),
        }));
    }

    fn end_of_body(&mut self) {
        // Some servers close without `[DONE]` after a finish reason; a body that ends
        // with neither was cut off.
        if self.finish_reason.is_some() {
            self.finish();
        } else {
            self.fail(ProviderError::Failed(
                "the stream ended before the answer finished".into(),
            ));
        }
    }
}

fn parse_usage(usage: &Value) -> Usage {
    let count = |value: &Value| value.as_u64().unwrap_or(0);
    let input = count(&usage["prompt_tokens"]);
    let output = count(&usage["completion_tokens"]);
    Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: usage["total_tokens"].as_u64().unwrap_or(input + output),
        reasoning_tokens: count(&usage["completion_tokens_details"]["reasoning_tokens"]),
        cached_input_tokens: count(&usage["prompt_tokens_details"]["cached_tokens"]),
    }
}

fn transport_error(error: &reqwest::Error) -> ProviderError {
    let cause = chat_domain::error::DisplayChain(error).to_string();
    if error.is_timeout() {
        ProviderError::Timeout(cause)
    } else if error.is_connect() {
        ProviderError::Unavailable {
            retry_after: None,
            cause,
        }
    } else {
        ProviderError::Failed(cause)
    }
}

/// The provider's retry hint: `retry-after-ms` or `retry-after` (seconds), rounded up.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.trim().parse::<u64>().ok()) {
        return Some(ms.div_ceil(1000).max(1));
    }
    text("retry-after")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|s| s.ceil().max(1.0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChatMessage, ChatRole};

    #[test]
    fn the_request_asks_for_a_stream_with_usage() {
        let body = request_body(&ModelRequest {
            model: "gpt-4o-mini".into(),
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
            temperature: Some(0.5),
            max_output_tokens: Some(100),
            grounding: None,
        });
        assert_eq!(
            body,
            json!({
                "model": "gpt-4o-mini",
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                "stream": true,
                "stream_options": {"include_usage": true},
                "temperature": 0.5,
                "max_tokens": 100,
            })
        );
    }

    #[test]
    fn usage_maps_all_five_counters() {
        let usage = parse_usage(&json!({
            "prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14,
            "completion_tokens_details": {"reasoning_tokens": 2},
            "prompt_tokens_details": {"cached_tokens": 3},
        }));
        assert_eq!(
            usage,
            Usage {
                input_tokens: 10,
                output_tokens: 4,
                total_tokens: 14,
                reasoning_tokens: 2,
                cached_input_tokens: 3
            }
        );
    }

    #[test]
    fn retry_hints_are_read_in_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "2.5".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(3));
        headers.insert("retry-after-ms", "1200".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(2));
    }
}
