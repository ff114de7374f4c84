//! The DynamoDB adapter of [`KeyStore`], and the operator's key writes: a publishable key
//! is read with its project in one BatchGetItem, a secret key by its digest in one GetItem.

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use chat_domain::api_key::{KeyDigest, KeyKind, KeyRecord, PublishableKey};
use chat_domain::ids::ProjectId;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, classify};
use crate::items::{api_key, key, key_of, project, string};
use crate::keys::{
    PARTITION_KEY, PROJECT_SK, SINGLE_SK_KEY, VISITOR_INDEX, VISITOR_INDEX_PK, api_key_pk,
    project_keys_gsi_pk, project_pk,
};
use crate::ports::{KeyStore, PublishableKeyContext};

/// The most keys a project's listing returns.
pub const MAX_KEYS_LISTED: i32 = 1_000;

impl KeyStore for DynamoStore {
    async fn publishable_key(
        &self,
        publishable: &PublishableKey,
    ) -> Result<PublishableKeyContext, StoreError> {
        let project_id = publishable.project();
        let keys = KeysAndAttributes::builder()
            .keys(key(api_key_pk(publishable.as_str()), SINGLE_SK_KEY))
            .keys(key(project_pk(project_id), PROJECT_SK))
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let output = self
            .client()
            .batch_get_item()
            .request_items(self.table(), keys)
            .send()
            .await
            .map_err(classify)?;
        if output
            .unprocessed_keys
            .as_ref()
            .is_some_and(|left| !left.is_empty())
        {
            return Err(StoreError::Throttled("keys left unprocessed".into()));
        }
        let items = output
            .responses
            .and_then(|mut r| r.remove(self.table()))
            .unwrap_or_default();
        let mut context = PublishableKeyContext {
            key: None,
            project: project::public_from_item(project_id, &Default::default())?,
        };
        for item in &items {
            match key_of(item).1 {
                SINGLE_SK_KEY => {
                    let record = api_key::from_item(item)?;
                    // A key names its project; an item that says otherwise is not this key.
                    if record.kind == KeyKind::Publishable && record.project == project_id {
                        context.key = Some(record);
                    }
                }
                PROJECT_SK => context.project = project::public_from_item(project_id, item)?,
                _ => {}
            }
        }
        Ok(context)
    }

    async fn secret_key(&self, digest: &KeyDigest) -> Result<Option<KeyRecord>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(api_key_pk(digest.as_str()), SINGLE_SK_KEY)))
            .send()
            .await
            .map_err(classify)?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        // Looked up by its digest, and compared again in constant time.
        if !api_key::digest_of(&item)?.matches(digest) {
            return Ok(None);
        }
        let record = api_key::from_item(&item)?;
        Ok((record.kind == KeyKind::Secret).then_some(record))
    }
}

impl DynamoStore {
    /// Stores a new key; `lookup` is the publishable key or the secret key's digest.
    pub async fn create_key(&self, lookup: &str, record: &KeyRecord) -> Result<(), StoreError> {
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(api_key::attributes(lookup, record)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// The keys of `project`, oldest first, with what each allows (never a secret key).
    pub async fn list_keys(&self, project: ProjectId) -> Result<Vec<KeyRecord>, StoreError> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(VISITOR_INDEX)
            .key_condition_expression("#gpk = :gpk")
            .expression_attribute_names("#gpk", VISITOR_INDEX_PK)
            .expression_attribute_values(":gpk", string(project_keys_gsi_pk(project)))
            .limit(MAX_KEYS_LISTED)
            .send()
            .await
            .map_err(classify)?;
        output
            .items
            .unwrap_or_default()
            .iter()
            .map(api_key::from_item)
            .collect()
    }

    /// Changes a key of `project`: revokes it, or sets its assistant and allowed origins.
    /// `lookup` is the publishable key or the secret key's digest. Whether it found one.
    pub async fn update_key(
        &self,
        project: ProjectId,
        lookup: &str,
        change: &KeyChange,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(api_key_pk(lookup), SINGLE_SK_KEY)))
            .condition_expression("projectId = :project")
            .expression_attribute_values(":project", string(project.0.to_string()));
        let mut set = Vec::new();
        let mut remove = Vec::new();
        if change.revoke {
            set.push("#revoked = :true");
            update = update
                .expression_attribute_names("#revoked", api_key::REVOKED)
                .expression_attribute_values(":true", AttributeValue::Bool(true));
        }
        if let Some(assistant) = &change.assistant {
            update = update.expression_attribute_names("#assistant", api_key::ASSISTANT_ID);
            match assistant {
                Some(id) => {
                    set.push("#assistant = :assistant");
                    update =
                        update.expression_attribute_values(":assistant", string(id.to_string()));
                }
                None => remove.push("#assistant"),
            }
        }
        if let Some(origins) = &change.allowed_origins {
            update = update.expression_attribute_names("#origins", api_key::ALLOWED_ORIGINS);
            if origins.is_empty() {
                remove.push("#origins");
            } else {
                set.push("#origins = :origins");
                update = update.expression_attribute_values(
                    ":origins",
                    AttributeValue::L(origins.iter().map(string).collect()),
                );
            }
        }
        let mut expression = String::new();
        if !set.is_empty() {
            expression.push_str(&format!("SET {}", set.join(", ")));
        }
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        if expression.is_empty() {
            return Ok(true);
        }
        match update.update_expression(expression.trim()).send().await {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(classify(error)),
        }
    }
}

/// A change to a key: each part left alone when `None` (or `false`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyChange {
    /// Revoke it.
    pub revoke: bool,
    /// Its visitors' assistant (`Some(None)`: the project's default).
    pub assistant: Option<Option<uuid::Uuid>>,
    /// Its allowed origins (empty: any).
    pub allowed_origins: Option<Vec<String>>,
}
