//! The DynamoDB adapter of the knowledge ports: sources and pairs live in the project's
//! partition (one Query reads them with the plan and the index version), pages in a
//! partition per source, the index version on the project's settings item.

use aws_sdk_dynamodb::types::{
    Delete, DeleteRequest, Put, PutRequest, ReturnValue, TransactWriteItem, WriteRequest,
};
use chat_domain::Spelling;
use chat_domain::ids::ProjectId;
use chat_domain::knowledge::{PageRecord, Qna, Source, SourceStatus, SyncReport};
use chat_domain::timestamp::Timestamp;
use uuid::Uuid;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, cancellation_reasons, classify};
use crate::items::page::{page_from_item, page_item, page_sk, pages_pk};
use crate::items::project::PLAN;
use crate::items::qna::{QNA_SK_PREFIX, qna_from_item, qna_item, qna_sk};
use crate::items::source::{
    LAST_SYNC, NEXT_SYNC_AT, SCHEDULE_PARTITION, SOURCE_SK_PREFIX, STALE_SYNC_SECONDS, STATUS,
    STATUS_AT, UPDATED_AT, report_attribute, source_from_item, source_item, source_sk,
    url_claim_sk,
};
use crate::items::{Item, Reader, key, string as s};
use crate::keys::{
    PARTITION_KEY, PROJECT_SK, SORT_KEY, VISITOR_INDEX, VISITOR_INDEX_PK, VISITOR_INDEX_SK,
    project_pk,
};
use crate::ports::{IndexVersionStore, KnowledgeState, PageStore, QnaStore, SourceStore};

/// The project item's attribute naming its current index snapshot (the project item's
/// reader holds it too: a turn learns the version in its first read).
pub use crate::items::project::INDEX_VERSION;
/// The one it replaced (kept for one more publish, for functions still reading it).
pub const PREVIOUS_INDEX_VERSION: &str = "previousIndexVersion";
/// The project's embedding model (`openai:…`, `bedrock:…`): semantic search when set.
pub const EMBEDDING_MODEL: &str = "embeddingModel";

/// DynamoDB's largest write batch.
const BATCH: usize = 25;
/// Rounds of retrying a batch's unprocessed items before giving up.
const BATCH_ROUNDS: u32 = 8;

fn build_error(error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Other(Box::new(error))
}

fn failed_condition<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(
    error: &aws_sdk_dynamodb::error::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
) -> bool {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    error.code() == Some("ConditionalCheckFailedException")
}

impl DynamoStore {
    /// Every item of partition `pk` whose sort key starts with `prefix` (all of them with
    /// `""`), following pages.
    async fn query_partition(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client()
                .query()
                .table_name(self.table())
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":pk", s(pk));
            query = if prefix.is_empty() {
                query.key_condition_expression("#pk = :pk")
            } else {
                query
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", SORT_KEY)
                    .expression_attribute_values(":prefix", s(prefix))
            };
            // Strongly consistent: an index build right after a pair's change must see it.
            let output = query
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// Writes `requests` in batches of 25, retrying what DynamoDB left unprocessed.
    async fn write_batches(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH) {
            let mut pending = chunk.to_vec();
            for round in 0..=BATCH_ROUNDS {
                if pending.is_empty() {
                    break;
                }
                if round == BATCH_ROUNDS {
                    return Err(StoreError::Unavailable(
                        "batch writes kept coming back unprocessed".into(),
                    ));
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(25 << round)).await;
                }
                let output = self
                    .client()
                    .batch_write_item()
                    .request_items(self.table(), pending)
                    .send()
                    .await
                    .map_err(classify)?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(self.table()))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    fn claim_put(
        &self,
        project: ProjectId,
        claim: &str,
        source: Uuid,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut item = key(project_pk(project), url_claim_sk(claim));
        item.insert("sourceId".into(), s(source.to_string()));
        item.insert("url".into(), s(claim));
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(#pk)")
                    .expression_attribute_names("#pk", PARTITION_KEY)
                    .build()
                    .map_err(build_error)?,
            )
            .build())
    }

    fn claim_delete(
        &self,
        project: ProjectId,
        claim: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(self.table())
                    .set_key(Some(key(project_pk(project), url_claim_sk(claim))))
                    .build()
                    .map_err(build_error)?,
            )
            .build())
    }

    /// Runs `items`; a failed condition of any is `failed` (`NotFound` for the source's
    /// own, `Exists` for a claim's).
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        failed: &[StoreError],
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let Err(error) = result else { return Ok(()) };
        let reasons = cancellation_reasons(error)?;
        for (reason, failure) in reasons.iter().zip(failed) {
            if reason.code() == Some("ConditionalCheckFailed") {
                return Err(match failure {
                    StoreError::Exists => StoreError::Exists,
                    // An item that is there but not as read: another writer came between.
                    StoreError::Changed if reason.item().is_some() => StoreError::Changed,
                    _ => StoreError::NotFound,
                });
            }
        }
        Err(StoreError::Unavailable(
            format!("transaction cancelled: {reasons:?}").into(),
        ))
    }
}

impl DynamoStore {
    /// Names the project's embedding model (`None`: keyword search only), for the next
    /// index build; the operator's `admin set-project --embedding-model`. `NotFound`
    /// without a project settings item.
    pub async fn set_embedding_model(
        &self,
        project: ProjectId,
        model: Option<&str>,
    ) -> Result<(), StoreError> {
        let update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), PROJECT_SK)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#m", EMBEDDING_MODEL);
        let update = match model {
            Some(model) => update
                .update_expression("SET #m = :m")
                .expression_attribute_values(":m", s(model)),
            None => update.update_expression("REMOVE #m"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(error) if failed_condition(&error) => Err(StoreError::NotFound),
            Err(error) => Err(classify(error)),
        }
    }
}

/// When a source's schedule next syncs it, counted from `from`.
pub fn next_sync(source: &Source, from: Timestamp) -> Option<Timestamp> {
    source
        .schedule
        .interval_seconds()
        .map(|seconds| Timestamp::from_unix_millis(from.unix_millis() + seconds * 1_000))
}

impl SourceStore for DynamoStore {
    async fn knowledge(&self, project: ProjectId) -> Result<KnowledgeState, StoreError> {
        let items = self.query_partition(&project_pk(project), "").await?;
        let mut state = KnowledgeState::default();
        for item in &items {
            let reader = Reader(item);
            let sk = reader.str(SORT_KEY)?;
            if sk == PROJECT_SK {
                state.plan = Some(Reader(item).spelled(PLAN)?);
                state.index_version = reader.opt_str(INDEX_VERSION)?.map(str::to_owned);
                state.previous_index_version =
                    reader.opt_str(PREVIOUS_INDEX_VERSION)?.map(str::to_owned);
                state.embedding_model = reader.opt_str(EMBEDDING_MODEL)?.map(str::to_owned);
            } else if sk.starts_with(SOURCE_SK_PREFIX) {
                state.sources.push(source_from_item(item)?);
            } else if sk.starts_with(QNA_SK_PREFIX) {
                state.qnas.push(qna_from_item(item)?);
            }
        }
        // Ids are UUIDv7: by id is by creation.
        state.sources.sort_by_key(|source| source.id);
        state.qnas.sort_by_key(|qna| qna.id);
        Ok(state)
    }

    async fn source(&self, project: ProjectId, id: Uuid) -> Result<Source, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), source_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        source_from_item(&output.item.ok_or(StoreError::NotFound)?)
    }

    async fn create_source(
        &self,
        project: ProjectId,
        source: &Source,
        claim: Option<&str>,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(source_item(
                project,
                source,
                next_sync(source, source.created_at),
            )))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(build_error)?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        let mut failures = vec![StoreError::Exists];
        if let Some(claim) = claim {
            items.push(self.claim_put(project, claim, source.id)?);
            failures.push(StoreError::Exists);
        }
        self.transact(items, &failures).await
    }

    async fn replace_source(
        &self,
        project: ProjectId,
        read: &Source,
        source: &Source,
        old_claim: Option<&str>,
        new_claim: Option<&str>,
    ) -> Result<(), StoreError> {
        // On the condition that the worker has not moved the sync on since `read` was read:
        // its status and report are not this writer's to put back.
        let mut put = Put::builder()
            .table_name(self.table())
            .set_item(Some(source_item(
                project,
                source,
                next_sync(source, source.updated_at),
            )))
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#report", LAST_SYNC)
            .expression_attribute_values(":status", s(read.status.as_str()))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            );
        put = match &read.last_sync {
            Some(report) => put
                .condition_expression(
                    "attribute_exists(#pk) AND #status = :status AND #report = :report",
                )
                .expression_attribute_values(":report", report_attribute(report)),
            None => put.condition_expression(
                "attribute_exists(#pk) AND #status = :status AND attribute_not_exists(#report)",
            ),
        };
        let put = put.build().map_err(build_error)?;
        let mut items = vec![TransactWriteItem::builder().put(put).build()];
        let mut failures = vec![StoreError::Changed];
        if old_claim != new_claim {
            if let Some(old) = old_claim {
                items.push(self.claim_delete(project, old)?);
                failures.push(StoreError::NotFound);
            }
            if let Some(new) = new_claim {
                items.push(self.claim_put(project, new, source.id)?);
                failures.push(StoreError::Exists);
            }
        }
        self.transact(items, &failures).await
    }

    async fn delete_source(
        &self,
        project: ProjectId,
        id: Uuid,
        claim: Option<&str>,
    ) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), source_sk(id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .build()
            .map_err(build_error)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        let mut failures = vec![StoreError::NotFound];
        if let Some(claim) = claim {
            items.push(self.claim_delete(project, claim)?);
            failures.push(StoreError::NotFound);
        }
        self.transact(items, &failures).await
    }

    async fn queue_sync(
        &self,
        project: ProjectId,
        id: Uuid,
        now: Timestamp,
    ) -> Result<Source, StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), source_sk(id))))
            .update_expression("SET #status = :queued, #updated = :now, #statusAt = :now")
            .condition_expression(
                "attribute_exists(#pk) AND (NOT #status IN (:queued, :syncing) \
                 OR attribute_not_exists(#statusAt) OR #statusAt < :stale)",
            )
            .expression_attribute_names("#statusAt", STATUS_AT)
            .expression_attribute_values(
                ":stale",
                s(
                    Timestamp::from_unix_millis(now.unix_millis() - STALE_SYNC_SECONDS * 1_000)
                        .to_string(),
                ),
            )
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#updated", UPDATED_AT)
            .expression_attribute_values(":queued", s(SourceStatus::Queued.as_str()))
            .expression_attribute_values(":syncing", s(SourceStatus::Syncing.as_str()))
            .expression_attribute_values(":now", s(now.to_string()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            )
            .send()
            .await;
        match result {
            Ok(output) => source_from_item(&output.attributes.unwrap_or_default()),
            Err(error) if failed_condition(&error) => {
                let old = error
                    .as_service_error()
                    .and_then(|e| match e {
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                        _ => None,
                    });
                Err(if old.is_some() {
                    StoreError::Busy
                } else {
                    StoreError::NotFound
                })
            }
            Err(error) => Err(classify(error)),
        }
    }

    async fn record_sync(
        &self,
        project: ProjectId,
        id: Uuid,
        status: SourceStatus,
        report: &SyncReport,
        next: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), source_sk(id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#report", LAST_SYNC)
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":report", report_attribute(report))
            .expression_attribute_names("#statusAt", STATUS_AT)
            .expression_attribute_values(":at", s(Timestamp::now().to_string()));
        update = match next {
            Some(next) => update
                .update_expression("SET #status = :status, #statusAt = :at, #report = :report, #next = :next, #gpk = :gpk, #gsk = :gsk")
                .expression_attribute_names("#next", NEXT_SYNC_AT)
                .expression_attribute_names("#gpk", VISITOR_INDEX_PK)
                .expression_attribute_names("#gsk", VISITOR_INDEX_SK)
                .expression_attribute_values(":next", s(next.to_string()))
                .expression_attribute_values(":gpk", s(SCHEDULE_PARTITION))
                .expression_attribute_values(":gsk", s(format!("{next}#{}#{id}", project.0))),
            None => update.update_expression("SET #status = :status, #statusAt = :at, #report = :report"),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(error) if failed_condition(&error) => Err(StoreError::NotFound),
            Err(error) => Err(classify(error)),
        }
    }

    async fn due_sources(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(ProjectId, Uuid)>, StoreError> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(VISITOR_INDEX)
            .key_condition_expression("#pk = :pk AND #sk <= :now")
            .expression_attribute_names("#pk", VISITOR_INDEX_PK)
            .expression_attribute_names("#sk", VISITOR_INDEX_SK)
            .expression_attribute_values(":pk", s(SCHEDULE_PARTITION))
            // Every key of a source due at `now` sorts before `<now>#~`.
            .expression_attribute_values(":now", s(format!("{now}#~")))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        let mut due = Vec::new();
        for item in output.items.unwrap_or_default() {
            let r = Reader(&item);
            let Some((project, _)) = r
                .str(PARTITION_KEY)?
                .strip_prefix("P#")
                .and_then(|p| p.split_once('#').or(Some((p, ""))))
            else {
                continue;
            };
            let project =
                Uuid::parse_str(project).map_err(|_| StoreError::Corrupt("source pk".into()))?;
            due.push((ProjectId(project), r.uuid("id")?));
        }
        Ok(due)
    }
}

impl QnaStore for DynamoStore {
    async fn qna(&self, project: ProjectId, id: Uuid) -> Result<Qna, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), qna_sk(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        qna_from_item(&output.item.ok_or(StoreError::NotFound)?)
    }

    async fn put_qna(
        &self,
        project: ProjectId,
        qna: &Qna,
        replace: bool,
    ) -> Result<(), StoreError> {
        let condition = if replace {
            "attribute_exists(#pk)"
        } else {
            "attribute_not_exists(#pk)"
        };
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(qna_item(project, qna)))
            .condition_expression(condition)
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if failed_condition(&error) => Err(if replace {
                StoreError::NotFound
            } else {
                StoreError::Exists
            }),
            Err(error) => Err(classify(error)),
        }
    }

    async fn delete_qna(&self, project: ProjectId, id: Uuid) -> Result<(), StoreError> {
        let result = self
            .client()
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), qna_sk(id))))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) if failed_condition(&error) => Err(StoreError::NotFound),
            Err(error) => Err(classify(error)),
        }
    }
}

impl PageStore for DynamoStore {
    async fn pages(&self, project: ProjectId, source: Uuid) -> Result<Vec<PageRecord>, StoreError> {
        let items = self.query_partition(&pages_pk(project, source), "").await?;
        let mut pages = items
            .iter()
            .map(page_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        pages.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(pages)
    }

    async fn put_pages(
        &self,
        project: ProjectId,
        source: Uuid,
        pages: &[PageRecord],
    ) -> Result<(), StoreError> {
        let requests = pages
            .iter()
            .map(|page| {
                PutRequest::builder()
                    .set_item(Some(page_item(project, source, page)))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(build_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.write_batches(requests).await
    }

    async fn delete_pages(
        &self,
        project: ProjectId,
        source: Uuid,
        urls: &[String],
    ) -> Result<(), StoreError> {
        let requests = urls
            .iter()
            .map(|url| {
                DeleteRequest::builder()
                    .set_key(Some(key(pages_pk(project, source), page_sk(url))))
                    .build()
                    .map(|delete| WriteRequest::builder().delete_request(delete).build())
                    .map_err(build_error)
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.write_batches(requests).await
    }
}

impl IndexVersionStore for DynamoStore {
    async fn index_version(&self, project: ProjectId) -> Result<Option<String>, StoreError> {
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), PROJECT_SK)))
            .projection_expression("#v")
            .expression_attribute_names("#v", INDEX_VERSION)
            .send()
            .await
            .map_err(classify)?;
        match output.item {
            Some(item) => Ok(Reader(&item).opt_str(INDEX_VERSION)?.map(str::to_owned)),
            None => Ok(None),
        }
    }

    async fn publish_index_version(
        &self,
        project: ProjectId,
        version: &str,
        expected: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), PROJECT_SK)))
            .update_expression("SET #v = :v")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#v", INDEX_VERSION)
            .expression_attribute_values(":v", s(version))
            .return_values_on_condition_check_failure(
                aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
            );
        update = match expected {
            Some(expected) => update
                .update_expression("SET #v = :v, #previous = :expected")
                .expression_attribute_names("#previous", PREVIOUS_INDEX_VERSION)
                .condition_expression("attribute_exists(#pk) AND #v = :expected")
                .expression_attribute_values(":expected", s(expected)),
            None => {
                update.condition_expression("attribute_exists(#pk) AND attribute_not_exists(#v)")
            }
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(error) if failed_condition(&error) => {
                let item = error.as_service_error().and_then(|e| match e {
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item.clone(),
                    _ => None,
                });
                match item {
                    // The SDK retried a write that had landed: the version is ours already.
                    Some(item) if Reader(&item).opt_str(INDEX_VERSION)? == Some(version) => Ok(()),
                    Some(_) => Err(StoreError::Changed),
                    None => Err(StoreError::NotFound),
                }
            }
            Err(error) => Err(classify(error)),
        }
    }
}
