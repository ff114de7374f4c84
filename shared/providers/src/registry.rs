//! The providers a process can use, built once; an assistant's settings pick one.

use std::sync::{Arc, OnceLock};

use chat_domain::ApiError;
use chat_domain::assistant::{Assistant, ProviderKind};
use chat_domain::secret::Secret;

use crate::ModelProvider;
use crate::bedrock::BedrockProvider;
use crate::offline::OfflineProvider;
use crate::openai::{OpenAiProvider, OpenAiSettings};
use crate::settings::ProviderSettings;

/// Every provider this process can call.
pub struct Providers {
    offline: Arc<OfflineProvider>,
    openai_settings: OpenAiSettings,
    // The OpenAI and Bedrock clients are built on first use: a process whose assistants
    // never use one does not pay for building it at cold start (building an SDK client is
    // about a fifth of a function's start-up instructions; BENCHMARKS.md).
    openai: OnceLock<Result<Arc<OpenAiProvider>, String>>,
    bedrock_sdk: aws_config::SdkConfig,
    first_token_timeout: std::time::Duration,
    bedrock: OnceLock<Arc<dyn ModelProvider>>,
}

impl Providers {
    /// The providers `settings` describe, with the OpenAI key (already read from its secret,
    /// when it is one); Bedrock answers through `sdk`'s region and credentials and gives up
    /// on a first token after `first_token_timeout`.
    pub fn new(
        settings: &ProviderSettings,
        openai_api_key: Option<Secret>,
        sdk: &aws_config::SdkConfig,
        first_token_timeout: std::time::Duration,
    ) -> Self {
        Self {
            offline: Arc::new(OfflineProvider::new(settings.offline)),
            openai_settings: OpenAiSettings {
                base_url: settings.openai_base_url.clone(),
                api_key: openai_api_key,
                ..OpenAiSettings::default()
            },
            openai: OnceLock::new(),
            bedrock_sdk: sdk.clone(),
            first_token_timeout,
            bedrock: OnceLock::new(),
        }
    }

    /// The provider that serves `assistant`.
    pub fn for_assistant(&self, assistant: &Assistant) -> Result<Arc<dyn ModelProvider>, ApiError> {
        match assistant.provider {
            ProviderKind::Offline => Ok(self.offline.clone()),
            ProviderKind::OpenAi => {
                let built = self.openai.get_or_init(|| {
                    OpenAiProvider::new(&self.openai_settings)
                        .map(Arc::new)
                        .map_err(|e| e.to_string())
                });
                match built {
                    Ok(provider) => Ok(provider.clone()),
                    Err(error) => Err(ApiError::internal(format!(
                        "building the OpenAI client failed: {error}"
                    ))),
                }
            }
            ProviderKind::Bedrock => Ok(self
                .bedrock
                .get_or_init(|| {
                    Arc::new(BedrockProvider::new(
                        &self.bedrock_sdk,
                        self.first_token_timeout,
                    ))
                })
                .clone()),
        }
    }
}
