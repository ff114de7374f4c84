//! The DynamoDB adapter of [`VisitorStore`]: a device's visitor in one GetItem, a new
//! anonymous visitor in one transaction whose device put is conditional, so two racing
//! first inits of a device create one visitor.

use aws_sdk_dynamodb::types::{Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use chat_domain::ids::{ProjectId, VisitorId};
use chat_domain::timestamp::Timestamp;
use chat_domain::visitor::{DeviceId, Visitor};

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, cancellation_reasons, classify};
use crate::items::{key, visitor as visitor_item};
use crate::keys::{DEVICE_SK, PARTITION_KEY, VISITOR_SK, device_pk, visitor_pk};
use crate::ports::{DeviceVisitor, VisitorStore};

impl VisitorStore for DynamoStore {
    async fn device_visitor(
        &self,
        project: ProjectId,
        device: &DeviceId,
    ) -> Result<Option<VisitorId>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(device_pk(project, device.as_str()), DEVICE_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        output
            .item
            .as_ref()
            .map(visitor_item::device_visitor)
            .transpose()
    }

    async fn create_device_visitor(
        &self,
        project: ProjectId,
        device: &DeviceId,
        visitor: &Visitor,
        now: Timestamp,
    ) -> Result<DeviceVisitor, StoreError> {
        let id = VisitorId(visitor.id);
        let put = |item, condition_on_failure: bool| {
            let mut put = Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY);
            if condition_on_failure {
                put = put.return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            }
            put.build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(|e| StoreError::Other(Box::new(e)))
        };
        let writes = vec![
            put(
                visitor_item::device_attributes(project, device.as_str(), id, now),
                true,
            )?,
            put(visitor_item::attributes(project, visitor, now), false)?,
        ];
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(DeviceVisitor::Created(id)),
            Err(error) => {
                let reasons = cancellation_reasons(error)?;
                match reasons.first() {
                    Some(reason) if reason.code.as_deref() == Some("ConditionalCheckFailed") => {
                        let old = reason.item.clone().unwrap_or_default();
                        Ok(DeviceVisitor::Existing(visitor_item::device_visitor(&old)?))
                    }
                    // Another init of this device is committing at this very moment.
                    _ if reasons
                        .iter()
                        .any(|r| r.code.as_deref() == Some("TransactionConflict")) =>
                    {
                        match self.device_visitor(project, device).await? {
                            Some(existing) => Ok(DeviceVisitor::Existing(existing)),
                            None => Err(StoreError::Throttled(
                                "the device's first init kept conflicting".into(),
                            )),
                        }
                    }
                    _ => Err(StoreError::Other(
                        format!("visitor write canceled: {reasons:?}").into(),
                    )),
                }
            }
        }
    }

    async fn visitor(
        &self,
        project: ProjectId,
        visitor: VisitorId,
    ) -> Result<Option<Visitor>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(visitor_pk(project, visitor), VISITOR_SK)))
            .send()
            .await
            .map_err(classify)?;
        output
            .item
            .as_ref()
            .map(visitor_item::from_item)
            .transpose()
    }
}
