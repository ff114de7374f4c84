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
    // Built on first use: a process whose assistants are all offline or on Bedrock never
    // pays for the TLS set-up at cold start.
    openai: OnceLock<Result<Arc<OpenAiProvider>, String>>,
    bedrock: Option<Arc<dyn ModelProvider>>,
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
        Ok(Self::new(
            OfflineProvider::new(settings.offline),
            OpenAiSettings {
                base_url: settings.openai_base_url.clone(),
                api_key,
                ..OpenAiSettings::default()
            },
            Some(Arc::new(crate::provider::bedrock::BedrockProvider::new(
                sdk,
                settings.first_token_timeout,
            ))),
        ))
    }

    /// Providers from their parts (tests point OpenAI at a local server).
    pub fn new(
        offline: OfflineProvider,
        openai_settings: OpenAiSettings,
        bedrock: Option<Arc<dyn ModelProvider>>,
    ) -> Self {
        Self {
            offline: Arc::new(offline),
            openai_settings,
            openai: OnceLock::new(),
            bedrock,
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
            ProviderKind::Bedrock => self
                .bedrock
                .clone()
                .ok_or_else(|| ApiError::internal("the Bedrock provider is not configured")),
        }
    }
}
