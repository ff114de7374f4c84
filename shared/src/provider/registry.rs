//! The providers a process can use, built once; an assistant's settings pick one.

use std::sync::{Arc, OnceLock};

use crate::assistant::{Assistant, ProviderKind};
use crate::config::{CompletionSettings, ConfigError};
use crate::error::ApiError;
use crate::provider::ModelProvider;
use crate::provider::offline::OfflineProvider;
use crate::provider::openai::{OpenAiProvider, OpenAiSettings};

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
    /// The providers `settings` describe; the OpenAI key is read from its secret here.
    pub async fn build(
        settings: &CompletionSettings,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Self, ConfigError> {
        let api_key = match &settings.openai_api_key {
            Some(source) => Some(source.resolve(sdk).await?),
            None => None,
        };
        Ok(Self {
            offline: Arc::new(OfflineProvider::new(settings.offline)),
            openai_settings: OpenAiSettings {
                base_url: settings.openai_base_url.clone(),
                api_key,
                ..OpenAiSettings::default()
            },
            openai: OnceLock::new(),
            bedrock_sdk: sdk.clone(),
            first_token_timeout: settings.first_token_timeout,
            bedrock: OnceLock::new(),
        })
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
                    Arc::new(crate::provider::bedrock::BedrockProvider::new(
                        &self.bedrock_sdk,
                        self.first_token_timeout,
                    ))
                })
                .clone()),
        }
    }
}
