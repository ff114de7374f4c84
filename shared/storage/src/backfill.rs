//! The operator's one-off fill of the project index (`gsi2`) for conversations stored before
//! it existed. Every writer of a conversation sets `gsi2pk` (a turn only if missing), so a
//! conversation joins the project's list at its next write; a closed one is never written
//! again, and this puts it there. A Scan of the table (every item, once, paged), then one
//! conditional UpdateItem per conversation missing the attribute; running it again finds
//! nothing left to do. Not run by any function: `chat-local admin backfill-project-index`.

use aws_sdk_dynamodb::types::AttributeValue;
use chat_domain::ids::ProjectId;
use uuid::Uuid;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, classify};
use crate::items::{key, string as s};
use crate::keys::{CONVERSATION_SK, PARTITION_KEY, PROJECT_INDEX_PK, SORT_KEY, project_gsi_pk};

/// The project of a conversation's partition key (`P#<project>#C#<conversation>`).
fn project_of(pk: &str) -> Option<ProjectId> {
    let rest = pk.strip_prefix("P#")?;
    let (project, conversation) = rest.split_once("#C#")?;
    Uuid::parse_str(conversation).ok()?;
    Uuid::parse_str(project).ok().map(ProjectId)
}

impl DynamoStore {
    /// Sets `gsi2pk` on every conversation item that lacks it; how many it set.
    pub async fn backfill_project_index(&self) -> Result<u64, StoreError> {
        let mut filled = 0;
        let mut start_key = None;
        loop {
            let page = self
                .client()
                .scan()
                .table_name(self.table())
                .filter_expression("#sk = :conversation AND attribute_not_exists(#projectIndex)")
                .projection_expression("#pk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_names("#projectIndex", PROJECT_INDEX_PK)
                .expression_attribute_values(":conversation", s(CONVERSATION_SK))
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(classify)?;
            for item in page.items.unwrap_or_default() {
                let Some(AttributeValue::S(pk)) = item.get(PARTITION_KEY) else {
                    continue;
                };
                let project = project_of(pk).ok_or_else(|| {
                    StoreError::Corrupt(format!("a conversation's key {pk:?} names no project"))
                })?;
                let update = self
                    .client()
                    .update_item()
                    .table_name(self.table())
                    .set_key(Some(key(pk.clone(), CONVERSATION_SK)))
                    .condition_expression("attribute_exists(#pk)")
                    .update_expression("SET #projectIndex = if_not_exists(#projectIndex, :p)")
                    .expression_attribute_names("#pk", PARTITION_KEY)
                    .expression_attribute_names("#projectIndex", PROJECT_INDEX_PK)
                    .expression_attribute_values(":p", s(project_gsi_pk(project)))
                    .send()
                    .await;
                match update {
                    Ok(_) => filled += 1,
                    // Deleted since the scan saw it: nothing to fill.
                    Err(error)
                        if error
                            .as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
                    Err(error) => return Err(classify(error)),
                }
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                return Ok(filled);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_conversations_key_names_its_project() {
        let project = Uuid::now_v7();
        let conversation = Uuid::now_v7();
        assert_eq!(
            project_of(&format!("P#{project}#C#{conversation}")),
            Some(ProjectId(project))
        );
        for pk in [
            format!("P#{project}"),
            format!("P#{project}#M#{conversation}"),
            format!("P#nonsense#C#{conversation}"),
            format!("RL#reads#P#{project}"),
        ] {
            assert_eq!(project_of(&pk), None, "{pk}");
        }
    }
}
