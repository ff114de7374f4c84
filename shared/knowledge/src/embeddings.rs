//! Semantic search's edge (API.md §17): passages and questions turned into vectors by the
//! embedding model a project names, an OpenAI-compatible `/v1/embeddings` endpoint or
//! Amazon Bedrock's Titan Text Embeddings V2. Vectors are normalized to unit length here,
//! so the index ranks by a dot product. The model's id travels with every vector (in the
//! bundle and in the index's manifest): two models' vectors are never compared.

use std::sync::OnceLock;

use aws_sdk_bedrockruntime::primitives::Blob;
use chat_domain::secret::Secret;
use serde_json::{Value, json};

/// Texts per OpenAI request (its limit is 2,048 inputs; smaller requests fail smaller).
pub const OPENAI_BATCH: usize = 64;
/// Titan requests at once (one text per request).
pub const BEDROCK_CONCURRENCY: usize = 8;
/// The dimensions asked of Titan V2 (256, 512 or 1,024): 512 keeps 95% of its retrieval
/// quality at half the memory of 1,024.
pub const TITAN_DIMENSIONS: u32 = 512;
/// The longest text sent, in characters (passages are at most 500 words; this is a cap
/// for whatever else is sent).
pub const MAX_TEXT_CHARS: usize = 8_000;

/// Who embeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddingProvider {
    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    OpenAi,
    /// Amazon Bedrock (Titan Text Embeddings V2).
    Bedrock,
}

/// A project's embedding model: `openai:<model>` or `bedrock:<model id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmbeddingModel {
    /// Who embeds.
    pub provider: EmbeddingProvider,
    /// The model's name at that provider.
    pub model: String,
}

impl EmbeddingModel {
    /// Reads `openai:text-embedding-3-small` or `bedrock:amazon.titan-embed-text-v2:0`.
    pub fn parse(text: &str) -> Option<Self> {
        let (provider, model) = text.split_once(':')?;
        let provider = match provider {
            "openai" => EmbeddingProvider::OpenAi,
            "bedrock" => EmbeddingProvider::Bedrock,
            _ => return None,
        };
        let model = model.trim();
        (!model.is_empty() && model.len() <= 200).then(|| Self {
            provider,
            model: model.to_owned(),
        })
    }

    /// Its id, as stored and in an index's manifest.
    pub fn id(&self) -> String {
        let provider = match self.provider {
            EmbeddingProvider::OpenAi => "openai",
            EmbeddingProvider::Bedrock => "bedrock",
        };
        format!("{provider}:{}", self.model)
    }
}

/// Why texts could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The provider could not be reached or failed.
    #[error("the embedding provider failed: {0}")]
    Provider(String),
    /// The provider answered something that is not vectors for the texts sent.
    #[error("the embedding provider's answer does not read: {0}")]
    Answer(String),
    /// The provider needs a setting the deployment lacks.
    #[error("embeddings by {0} are not configured")]
    NotConfigured(&'static str),
}

/// The embedding clients of a process, built once.
pub struct Embeddings {
    /// Built when first used: loading TLS roots costs a cold start milliseconds that a
    /// process whose projects name no OpenAI model never needs to spend.
    http: OnceLock<reqwest::Client>,
    openai_base_url: String,
    openai_api_key: Option<Secret>,
    sdk: aws_config::SdkConfig,
    bedrock: OnceLock<aws_sdk_bedrockruntime::Client>,
}

impl std::fmt::Debug for Embeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embeddings")
            .field("openai_base_url", &self.openai_base_url)
            .finish_non_exhaustive()
    }
}

/// Scales `vector` to unit length (a zero vector stays as it is).
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

impl Embeddings {
    /// Clients for the OpenAI-compatible server at `openai_base_url` (with its key) and for
    /// Bedrock through `sdk` (built when first used).
    pub fn new(
        openai_base_url: &str,
        openai_api_key: Option<Secret>,
        sdk: &aws_config::SdkConfig,
    ) -> Self {
        Self {
            http: OnceLock::new(),
            openai_base_url: openai_base_url.trim_end_matches('/').to_owned(),
            openai_api_key,
            sdk: sdk.clone(),
            bedrock: OnceLock::new(),
        }
    }

    /// One unit vector per text of `texts`, in order, by `model`.
    pub async fn embed(
        &self,
        model: &EmbeddingModel,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = match model.provider {
            EmbeddingProvider::OpenAi => self.openai(&model.model, texts).await?,
            EmbeddingProvider::Bedrock => self.titan(&model.model, texts).await?,
        };
        if vectors.len() != texts.len() {
            return Err(EmbedError::Answer(format!(
                "{} vectors for {} texts",
                vectors.len(),
                texts.len()
            )));
        }
        let dimensions = vectors.first().map_or(0, Vec::len);
        if vectors
            .iter()
            .any(|v| v.len() != dimensions || v.is_empty())
        {
            return Err(EmbedError::Answer("vectors of different lengths".into()));
        }
        vectors.iter_mut().for_each(|v| normalize(v));
        Ok(vectors)
    }

    async fn openai(&self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(OPENAI_BATCH) {
            let input: Vec<String> = batch.iter().map(|t| capped(t)).collect();
            let mut request = self
                .http
                .get_or_init(reqwest::Client::new)
                .post(format!("{}/embeddings", self.openai_base_url))
                .json(&json!({ "model": model, "input": input, "encoding_format": "float" }));
            if let Some(key) = &self.openai_api_key {
                request = request.bearer_auth(key.expose());
            }
            let response = request
                .send()
                .await
                .map_err(|e| EmbedError::Provider(e.to_string()))?;
            let status = response.status();
            let body: Value = response
                .json()
                .await
                .map_err(|e| EmbedError::Answer(e.to_string()))?;
            if !status.is_success() {
                let message = body["error"]["message"].as_str().unwrap_or("no message");
                return Err(EmbedError::Provider(format!("HTTP {status}: {message}")));
            }
            let mut data: Vec<(u64, Vec<f32>)> = body["data"]
                .as_array()
                .ok_or_else(|| EmbedError::Answer("no data".into()))?
                .iter()
                .map(|item| {
                    let index = item["index"].as_u64().unwrap_or(0);
                    let vector = floats(&item["embedding"])?;
                    Ok((index, vector))
                })
                .collect::<Result<_, EmbedError>>()?;
            // The protocol names each vector's input; the order of `data` is not promised.
            data.sort_by_key(|(index, _)| *index);
            vectors.extend(data.into_iter().map(|(_, v)| v));
        }
        Ok(vectors)
    }

    async fn titan(&self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let client = self
            .bedrock
            .get_or_init(|| aws_sdk_bedrockruntime::Client::new(&self.sdk));
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BEDROCK_CONCURRENCY) {
            let calls = batch.iter().map(|text| async move {
                let body = json!({ "inputText": capped(text), "dimensions": TITAN_DIMENSIONS, "normalize": true });
                let output = client
                    .invoke_model()
                    .model_id(model)
                    .content_type("application/json")
                    .accept("application/json")
                    .body(Blob::new(body.to_string()))
                    .send()
                    .await
                    .map_err(|e| {
                        EmbedError::Provider(aws_sdk_bedrockruntime::error::DisplayErrorContext(&e).to_string())
                    })?;
                let answer: Value = serde_json::from_slice(output.body.as_ref())
                    .map_err(|e| EmbedError::Answer(e.to_string()))?;
                floats(&answer["embedding"])
            });
            for vector in futures_util::future::join_all(calls).await {
                vectors.push(vector?);
            }
        }
        Ok(vectors)
    }

    /// Whether `model` can be used by this process.
    pub fn check(&self, model: &EmbeddingModel) -> Result<(), EmbedError> {
        match model.provider {
            EmbeddingProvider::OpenAi
                if self.openai_api_key.is_none()
                    && self.openai_base_url.contains("api.openai.com") =>
            {
                Err(EmbedError::NotConfigured("OpenAI (OPENAI_API_KEY)"))
            }
            _ => Ok(()),
        }
    }
}

fn capped(text: &str) -> String {
    text.chars().take(MAX_TEXT_CHARS).collect()
}

fn floats(value: &Value) -> Result<Vec<f32>, EmbedError> {
    value
        .as_array()
        .ok_or_else(|| EmbedError::Answer("an embedding is not an array".into()))?
        .iter()
        .map(|x| {
            x.as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| EmbedError::Answer("an embedding holds a non-number".into()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_spelled_with_their_provider() {
        let model = EmbeddingModel::parse("bedrock:amazon.titan-embed-text-v2:0").unwrap();
        assert_eq!(model.provider, EmbeddingProvider::Bedrock);
        assert_eq!(model.model, "amazon.titan-embed-text-v2:0");
        assert_eq!(model.id(), "bedrock:amazon.titan-embed-text-v2:0");
        assert_eq!(
            EmbeddingModel::parse("openai:text-embedding-3-small")
                .unwrap()
                .provider,
            EmbeddingProvider::OpenAi
        );
        assert_eq!(EmbeddingModel::parse("cohere:x"), None);
        assert_eq!(EmbeddingModel::parse("openai:"), None);
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
    }
}
