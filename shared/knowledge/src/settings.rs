//! The deployment's settings of the knowledge, read from the environment by the knowledge
//! function, the crawl worker and the local server alike.

use std::path::PathBuf;
use std::time::Duration;

use chat_domain::env::{ConfigError, Env};
use chat_domain::knowledge::PageCaps;
use chat_domain::secret::{Secret, SecretSource};

use crate::crawl::address::AddressPolicy;

/// Where the knowledge's blobs and jobs go, the plans' caps, and what the crawler may
/// fetch.
#[derive(Clone, Debug)]
pub struct KnowledgeSettings {
    /// The bucket of bundles, documents and snapshots (`KNOWLEDGE_BUCKET`).
    pub bucket: String,
    /// An S3 endpoint other than AWS's (`S3_ENDPOINT_URL`: the local engine).
    pub s3_endpoint: Option<String>,
    /// The worker's queue URL (`KNOWLEDGE_QUEUE_URL`).
    pub queue_url: String,
    /// The plans' page caps (`KNOWLEDGE_MAX_PAGES_FREE`, `KNOWLEDGE_MAX_PAGES_PRO`).
    pub caps: PageCaps,
    /// Where snapshots are unpacked and built (`/tmp/knowledge` on Lambda).
    pub work_dir: PathBuf,
    /// Which addresses the crawler may fetch (`KNOWLEDGE_ALLOW_LOOPBACK`: never on AWS).
    pub policy: AddressPolicy,
    /// How long one crawl may fetch (`KNOWLEDGE_CRAWL_BUDGET_MS`).
    pub crawl_budget: Duration,
    /// How long one fetch may take (`KNOWLEDGE_FETCH_TIMEOUT_MS`).
    pub fetch_timeout: Duration,
    /// The OpenAI-compatible server embeddings go to (`OPENAI_BASE_URL`, as the chat
    /// provider's).
    pub openai_base_url: String,
    /// Its key (`OPENAI_API_KEY`, or `OPENAI_API_KEY_SECRET_ARN`).
    pub openai_api_key: Option<SecretSource>,
}

/// The variable naming the OpenAI key's secret.
pub const OPENAI_KEY_SECRET_VAR: &str = "OPENAI_API_KEY_SECRET_ARN";

impl KnowledgeSettings {
    /// Reads them from `env`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let defaults = PageCaps::default();
        Ok(Self {
            bucket: env
                .get("KNOWLEDGE_BUCKET")
                .unwrap_or_else(|| "chat-knowledge".to_owned()),
            s3_endpoint: env.get("S3_ENDPOINT_URL"),
            queue_url: env.get("KNOWLEDGE_QUEUE_URL").unwrap_or_default(),
            caps: PageCaps {
                free: env.number("KNOWLEDGE_MAX_PAGES_FREE", defaults.free)?,
                pro: env.number("KNOWLEDGE_MAX_PAGES_PRO", defaults.pro)?,
            },
            work_dir: std::env::temp_dir().join("knowledge"),
            policy: AddressPolicy {
                allow_loopback: env.flag("KNOWLEDGE_ALLOW_LOOPBACK", false)?,
            },
            crawl_budget: env.millis("KNOWLEDGE_CRAWL_BUDGET_MS", Duration::from_secs(600))?,
            fetch_timeout: env.millis(
                "KNOWLEDGE_FETCH_TIMEOUT_MS",
                crate::crawl::fetch::FETCH_TIMEOUT,
            )?,
            openai_base_url: env
                .get("OPENAI_BASE_URL")
                .unwrap_or_else(|| "https://api.openai.com/v1".to_owned()),
            openai_api_key: SecretSource::from_env(env, "OPENAI_API_KEY", OPENAI_KEY_SECRET_VAR),
        })
    }

    /// The S3 client of these settings, over the process's SDK configuration.
    pub fn s3_client(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
        let mut config = aws_sdk_s3::config::Builder::from(sdk);
        if let Some(endpoint) = &self.s3_endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(config.build())
    }

    /// The crawler's fetch settings.
    pub fn fetch(&self) -> crate::crawl::fetch::FetchSettings {
        crate::crawl::fetch::FetchSettings {
            policy: self.policy,
            timeout: self.fetch_timeout,
            ..crate::crawl::fetch::FetchSettings::default()
        }
    }

    /// The embedding clients, with the OpenAI key as read (from its secret, by the
    /// caller, when it is one).
    pub fn embeddings(
        &self,
        openai_api_key: Option<Secret>,
        sdk: &aws_config::SdkConfig,
    ) -> crate::embeddings::Embeddings {
        crate::embeddings::Embeddings::new(&self.openai_base_url, openai_api_key, sdk)
    }

    /// The worker's settings.
    pub fn sync(&self) -> crate::sync::SyncSettings {
        crate::sync::SyncSettings {
            caps: self.caps,
            work_dir: self.work_dir.join("build"),
            crawl_budget: self.crawl_budget,
        }
    }
}
