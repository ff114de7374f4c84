//! The DynamoDB adapter of [`LimitStore`]: atomic `ADD` on counter items (expired by TTL),
//! sent in parallel, and the project settings item.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use futures_util::future::try_join_all;

use chat_domain::assistant::ProjectSettings;
use chat_domain::ids::ProjectId;
use chat_domain::limits::Counter;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, classify};
use crate::items::{key, project};
use crate::keys::{PROJECT_SK, TTL_ATTRIBUTE, counter_key, project_pk};
use crate::ports::LimitStore;

impl LimitStore for DynamoStore {
    async fn increment(&self, counters: &[Counter]) -> Result<Vec<u64>, StoreError> {
        let updates = counters.iter().map(|counter| async move {
            let output = self
                .client()
                .update_item()
                .table_name(self.table())
                .set_key(Some({
                    let (pk, sk) = counter_key(counter);
                    key(pk, sk)
                }))
                .update_expression(
                    "ADD #count :one SET #expires = if_not_exists(#expires, :expires)",
                )
                .expression_attribute_names("#count", "count")
                .expression_attribute_names("#expires", TTL_ATTRIBUTE)
                .expression_attribute_values(":one", AttributeValue::N("1".into()))
                .expression_attribute_values(
                    ":expires",
                    AttributeValue::N(counter.expires_at.to_string()),
                )
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await
                .map_err(classify)?;
            match output.attributes.as_ref().and_then(|a| a.get("count")) {
                Some(AttributeValue::N(n)) => n
                    .parse::<u64>()
                    .map_err(|_| StoreError::Corrupt("counter is not a count".into())),
                _ => Err(StoreError::Corrupt(
                    "counter update returned no count".into(),
                )),
            }
        });
        try_join_all(updates).await
    }

    async fn project_settings(
        &self,
        project: ProjectId,
    ) -> Result<Option<ProjectSettings>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), PROJECT_SK)))
            .send()
            .await
            .map_err(classify)?;
        output
            .item
            .as_ref()
            .map(project::project_from_item)
            .transpose()
    }
}
