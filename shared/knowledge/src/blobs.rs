//! Where the knowledge's blobs live: each source's passage bundle, each document's text and
//! each immutable index snapshot, as S3 objects under the project (a page may pass
//! DynamoDB's 400 KB; an index is a blob). [`BlobStore`] is the port; [`S3Blobs`] the one
//! adapter, which the local server and the tests point at an embedded S3-compatible engine.

use std::future::Future;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use chat_domain::ids::ProjectId;
use uuid::Uuid;

/// Why a blob could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// S3 failed or could not be reached, after the SDK's retries.
    #[error("S3 {operation} {key}: {cause}")]
    Unavailable {
        /// `GetObject`, `PutObject`, `DeleteObject`.
        operation: &'static str,
        /// The object.
        key: String,
        /// What the SDK said.
        cause: String,
    },
}

/// The object key of a project's index snapshot `version`.
pub fn snapshot_key(project: ProjectId, version: &str) -> String {
    format!("projects/{}/index/{version}.tar", project.0)
}

/// The object key of a source's passage bundle.
pub fn bundle_key(project: ProjectId, source: Uuid) -> String {
    format!("projects/{}/sources/{source}/passages.json", project.0)
}

/// The object key of a project's Q&A pair vectors.
pub fn qna_vectors_key(project: ProjectId) -> String {
    format!("projects/{}/qna-vectors.json", project.0)
}

/// The object key of a document source's text.
pub fn document_key(project: ProjectId, source: Uuid) -> String {
    format!("projects/{}/sources/{source}/document", project.0)
}

/// Reads and writes whole objects.
pub trait BlobStore: Send + Sync {
    /// The object at `key`, `None` when there is none.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Bytes>, BlobError>> + Send;
    /// Writes `bytes` at `key`.
    fn put(&self, key: &str, bytes: Bytes) -> impl Future<Output = Result<(), BlobError>> + Send;
    /// Removes the object at `key` (none there is no error).
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), BlobError>> + Send;
}

/// The S3 adapter of [`BlobStore`]: one bucket, private.
#[derive(Clone, Debug)]
pub struct S3Blobs {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Blobs {
    /// Objects of `bucket` through `client`.
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The SDK client.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }
}

fn unavailable(operation: &'static str, key: &str, cause: impl std::fmt::Display) -> BlobError {
    BlobError::Unavailable {
        operation,
        key: key.to_owned(),
        cause: cause.to_string(),
    }
}

impl BlobStore for S3Blobs {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, BlobError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) if error.code() == Some("NoSuchKey") => return Ok(None),
            Err(error) => {
                let cause = aws_sdk_s3::error::DisplayErrorContext(&error).to_string();
                return Err(unavailable("GetObject", key, cause));
            }
        };
        let body = output
            .body
            .collect()
            .await
            .map_err(|e| unavailable("GetObject", key, e))?;
        Ok(Some(body.into_bytes()))
    }

    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| {
                unavailable("PutObject", key, aws_sdk_s3::error::DisplayErrorContext(&e))
            })?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                unavailable(
                    "DeleteObject",
                    key,
                    aws_sdk_s3::error::DisplayErrorContext(&e),
                )
            })?;
        Ok(())
    }
}
