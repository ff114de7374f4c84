//! Amazon Bedrock through the Converse stream API, signed with the process's credentials
//! (on Lambda, the function's IAM role). Usage comes from the stream's metadata event.

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ConversationRole, ConverseStreamOutput,
    InferenceConfiguration, Message, StopReason, SystemContentBlock, TokenUsage,
};
use futures_util::stream;

use crate::{
    ChatRole, EventStream, FinishReason, ModelProvider, ModelRequest, ProviderError, ProviderEvent,
    Usage,
};

/// The Bedrock provider; its client is built once.
#[derive(Clone, Debug)]
pub struct BedrockProvider {
    client: Client,
}

impl BedrockProvider {
    /// A provider on the process's SDK configuration, with timeouts of its own: the
    /// shared ones are DynamoDB's, far shorter than a model's time to first token.
    pub fn new(sdk: &aws_config::SdkConfig, first_token_timeout: std::time::Duration) -> Self {
        let config = aws_sdk_bedrockruntime::config::Builder::from(sdk)
            .timeout_config(
                aws_sdk_bedrockruntime::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .operation_attempt_timeout(first_token_timeout)
                    .operation_timeout(first_token_timeout)
                    .build(),
            )
            .build();
        Self {
            client: Client::from_conf(config),
        }
    }

    /// A provider on an explicit client (tests point it at a local endpoint).
    pub fn from_client(client: Client) -> Self {
        Self { client }
    }
}

/// The Converse form of a context: system messages apart, and consecutive messages of
/// one role merged, since Converse wants turns that alternate and open with the user.
pub fn converse_messages(
    request: &ModelRequest,
) -> Result<(Vec<SystemContentBlock>, Vec<Message>), ProviderError> {
    let mut system = Vec::new();
    let mut turns: Vec<(ConversationRole, String)> = Vec::new();
    for message in &request.messages {
        let role = match message.role {
            ChatRole::System => {
                system.push(SystemContentBlock::Text(message.content.clone()));
                continue;
            }
            ChatRole::User => ConversationRole::User,
            ChatRole::Assistant => ConversationRole::Assistant,
        };
        // A greeting before the visitor's first message cannot open a Converse turn list.
        if turns.is_empty() && role == ConversationRole::Assistant {
            continue;
        }
        match turns.last_mut() {
            Some((last, text)) if *last == role => {
                text.push_str("\n\n");
                text.push_str(&message.content);
            }
            _ => turns.push((role, message.content.clone())),
        }
    }
    let messages = turns
        .into_iter()
        .map(|(role, text)| {
            Message::builder()
                .role(role)
                .content(ContentBlock::Text(text))
                .build()
                .map_err(|e| ProviderError::Failed(e.to_string()))
        })
        .collect::<Result<_, _>>()?;
    Ok((system, messages))
}

fn map_error<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static, R>(
    error: &SdkError<E, R>,
) -> ProviderError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let cause = match error.code() {
        Some(code) => format!("{code}: {}", error.message().unwrap_or("")),
        None => chat_domain::error::DisplayChain(error).to_string(),
    };
    match error.code() {
        Some("ThrottlingException" | "ServiceUnavailableException" | "ModelNotReadyException") => {
            ProviderError::Unavailable {
                retry_after: None,
                cause,
            }
        }
        Some("ModelTimeoutException") => ProviderError::Timeout(cause),
        Some(_) => ProviderError::Failed(cause),
        None => match error {
            SdkError::TimeoutError(_) => ProviderError::Timeout(cause),
            SdkError::DispatchFailure(_) => ProviderError::Unavailable {
                retry_after: None,
                cause,
            },
            _ => ProviderError::Failed(cause),
        },
    }
}

fn finish_reason(reason: &StopReason) -> FinishReason {
    match reason {
        StopReason::EndTurn | StopReason::StopSequence => FinishReason::Stop,
        StopReason::MaxTokens | StopReason::ModelContextWindowExceeded => FinishReason::Length,
        StopReason::ContentFiltered | StopReason::GuardrailIntervened => {
            FinishReason::ContentFilter
        }
        StopReason::ToolUse => FinishReason::ToolCalls,
        _ => FinishReason::Other,
    }
}

fn usage(usage: &TokenUsage) -> Usage {
    let count = |n: i32| u64::try_from(n).unwrap_or(0);
    Usage {
        input_tokens: count(usage.input_tokens),
        output_tokens: count(usage.output_tokens),
        total_tokens: count(usage.total_tokens),
        reasoning_tokens: 0,
        cached_input_tokens: usage.cache_read_input_tokens.map(count).unwrap_or(0),
    }
}

type Receiver = aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver<
    ConverseStreamOutput,
    aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError,
>;

enum Phase {
    Start(Box<ModelRequest>),
    Reading(Box<Receiver>),
    Done,
}

struct State {
    client: Client,
    phase: Phase,
    stop: Option<FinishReason>,
}

impl ModelProvider for BedrockProvider {
    fn stream(&self, request: ModelRequest) -> EventStream {
        let state = State {
            client: self.client.clone(),
            phase: Phase::Start(Box::new(request)),
            stop: None,
        };
        Box::pin(stream::unfold(state, |mut state| async move {
            loop {
                match std::mem::replace(&mut state.phase, Phase::Done) {
                    Phase::Done => return None,
                    Phase::Start(request) => match open(&state.client, &request).await {
                        Ok(receiver) => state.phase = Phase::Reading(Box::new(receiver)),
                        Err(error) => return Some((Err(error), state)),
                    },
                    Phase::Reading(mut receiver) => match receiver.recv().await {
                        Ok(Some(ConverseStreamOutput::ContentBlockDelta(event))) => {
                            state.phase = Phase::Reading(receiver);
                            if let Some(ContentBlockDelta::Text(text)) = event.delta
                                && !text.is_empty()
                            {
                                return Some((Ok(ProviderEvent::Delta(text)), state));
                            }
                        }
                        Ok(Some(ConverseStreamOutput::MessageStop(event))) => {
                            state.stop = Some(finish_reason(&event.stop_reason));
                            state.phase = Phase::Reading(receiver);
                        }
                        Ok(Some(ConverseStreamOutput::Metadata(event))) => {
                            // The metadata event comes last and carries the usage.
                            let reason = state.stop.unwrap_or(FinishReason::Unknown);
                            let usage = event.usage.as_ref().map(usage).unwrap_or_default();
                            return Some((Ok(ProviderEvent::Finish { reason, usage }), state));
                        }
                        Ok(Some(_)) => state.phase = Phase::Reading(receiver),
                        Ok(None) => {
                            let event = match state.stop {
                                Some(reason) => Ok(ProviderEvent::Finish {
                                    reason,
                                    usage: Usage::default(),
                                }),
                                None => Err(ProviderError::Failed(
                                    "the stream ended before the answer finished".into(),
                                )),
                            };
                            return Some((event, state));
                        }
                        Err(error) => return Some((Err(map_error(&error)), state)),
                    },
                }
            }
        }))
    }
}

async fn open(client: &Client, request: &ModelRequest) -> Result<Receiver, ProviderError> {
    let (system, messages) = converse_messages(request)?;
    let mut inference = InferenceConfiguration::builder();
    if let Some(t) = request.temperature {
        inference = inference.temperature(t);
    }
    if let Some(max) = request.max_output_tokens {
        inference = inference.max_tokens(i32::try_from(max).unwrap_or(i32::MAX));
    }
    let output = client
        .converse_stream()
        .model_id(&request.model)
        .set_system(Some(system).filter(|s| !s.is_empty()))
        .set_messages(Some(messages))
        .inference_config(inference.build())
        .send()
        .await
        .map_err(|e| map_error(&e))?;
    Ok(output.stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_domain::chat::ChatMessage;

    fn message(role: ChatRole, content: &str) -> ChatMessage {
        ChatMessage {
            role,
            content: content.into(),
        }
    }

    #[test]
    fn context_becomes_alternating_turns_with_system_apart() {
        let request = ModelRequest {
            model: "m".into(),
            messages: vec![
                message(ChatRole::System, "Be brief."),
                message(ChatRole::Assistant, "Hello! How can I help?"),
                message(ChatRole::User, "Hi"),
                message(ChatRole::User, "Are you there?"),
                message(ChatRole::Assistant, "Yes."),
                message(ChatRole::User, "Good."),
            ],
            temperature: None,
            max_output_tokens: None,
            grounding: None,
        };
        let (system, messages) = converse_messages(&request).unwrap();
        assert_eq!(system, vec![SystemContentBlock::Text("Be brief.".into())]);
        let turns: Vec<(ConversationRole, String)> = messages
            .iter()
            .map(|m| match &m.content[0] {
                ContentBlock::Text(t) => (m.role.clone(), t.clone()),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            turns,
            vec![
                (ConversationRole::User, "Hi\n\nAre you there?".into()),
                (ConversationRole::Assistant, "Yes.".into()),
                (ConversationRole::User, "Good.".into()),
            ]
        );
    }

    #[test]
    fn stop_reasons_map_to_finish_reasons() {
        assert_eq!(finish_reason(&StopReason::EndTurn), FinishReason::Stop);
        assert_eq!(finish_reason(&StopReason::MaxTokens), FinishReason::Length);
        assert_eq!(
            finish_reason(&StopReason::GuardrailIntervened),
            FinishReason::ContentFilter
        );
        assert_eq!(finish_reason(&StopReason::ToolUse), FinishReason::ToolCalls);
    }
}
