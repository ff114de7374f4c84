//! The DynamoDB adapter of [`ConnectionStore`]. Opening is one transaction (the
//! conversation's existence checked, the connection and its pointer put); listing is one
//! Query on the conversation's partition limited to `WS#` sort keys; forgetting deletes the
//! item and its pointer in parallel (one round trip).

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem,
};
use chat_domain::ids::ProjectId;
use uuid::Uuid;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, cancellation_reasons, classify};
use crate::items::connection::{self as connection_item, ConnectionPlace};
use crate::items::{key, string as s};
use crate::keys::{
    CONNECTION_POINTER_SK, CONNECTION_SK_PREFIX, CONVERSATION_SK, PARTITION_KEY, SORT_KEY,
    TTL_ATTRIBUTE, connection_pointer_pk, connection_sk, conversation_pk,
};
use crate::ports::ConnectionStore;

impl DynamoStore {
    async fn delete(&self, pk: String, sk: String) -> Result<(), StoreError> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(pk, sk)))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

impl ConnectionStore for DynamoStore {
    async fn open_connection(
        &self,
        project: ProjectId,
        conversation_id: Uuid,
        connection: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let exists = ConditionCheck::builder()
            .table_name(self.table())
            .set_key(Some(key(
                conversation_pk(project, conversation_id),
                CONVERSATION_SK,
            )))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(|e| StoreError::Other(Box::new(e)))?;
        let put = |item| {
            Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreError::Other(Box::new(e)))
        };
        let item = put(connection_item::attributes(
            project,
            conversation_id,
            connection,
            expires_at,
        ))?;
        let pointer = put(connection_item::pointer_attributes(
            project,
            conversation_id,
            connection,
            expires_at,
        ))?;
        let result = self
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(exists).build())
            .transact_items(TransactWriteItem::builder().put(item).build())
            .transact_items(TransactWriteItem::builder().put(pointer).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                let reasons = cancellation_reasons(error)?;
                let missing = reasons
                    .first()
                    .and_then(|r| r.code())
                    .is_some_and(|code| code == "ConditionalCheckFailed");
                if missing {
                    Err(StoreError::NotFound)
                } else {
                    Err(StoreError::Other(
                        format!("connection transaction cancelled: {reasons:?}").into(),
                    ))
                }
            }
        }
    }

    async fn forget_connection(
        &self,
        project: ProjectId,
        conversation_id: Uuid,
        connection: &str,
    ) -> Result<(), StoreError> {
        let (item, pointer) = tokio::join!(
            self.delete(
                conversation_pk(project, conversation_id),
                connection_sk(connection)
            ),
            self.delete(
                connection_pointer_pk(connection),
                CONNECTION_POINTER_SK.to_owned()
            ),
        );
        item.and(pointer)
    }

    async fn close_connection(
        &self,
        connection: &str,
    ) -> Result<Option<ConnectionPlace>, StoreError> {
        let old = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(
                connection_pointer_pk(connection),
                CONNECTION_POINTER_SK,
            )))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(classify)?
            .attributes;
        let Some(old) = old else {
            return Ok(None);
        };
        let place = connection_item::place_from_pointer(&old)?;
        self.delete(
            conversation_pk(place.project, place.conversation_id),
            connection_sk(connection),
        )
        .await?;
        Ok(Some(place))
    }

    async fn connections(
        &self,
        project: ProjectId,
        conversation_id: Uuid,
        now: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut ids = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client()
                .query()
                .table_name(self.table())
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :ws)")
                // TTL deletion lags (hours, even days): an expired record is no connection.
                .filter_expression("#expires > :now")
                .projection_expression("#sk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_names("#expires", TTL_ATTRIBUTE)
                .expression_attribute_values(":pk", s(conversation_pk(project, conversation_id)))
                .expression_attribute_values(":ws", s(CONNECTION_SK_PREFIX))
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(classify)?;
            ids.extend(
                page.items
                    .unwrap_or_default()
                    .iter()
                    .filter_map(connection_item::connection_id_of)
                    .map(str::to_owned),
            );
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                return Ok(ids);
            }
        }
    }
}
