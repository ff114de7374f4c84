//! The operator's writes to a project: creating its settings item, and writing its
//! assistants, keeping the project's copy of its default assistant equal to the assistant's
//! own item (`chat-local admin` calls these, against any DynamoDB).

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use chat_domain::Spelling;
use chat_domain::assistant::LimitOverrides;
use chat_domain::assistant::{Assistant, Plan, ProjectSettings};
use chat_domain::ids::ProjectId;
use chat_domain::widget::WidgetConfig;
use uuid::Uuid;

use crate::dynamo::DynamoStore;
use crate::error::{StoreError, classify};
use crate::items::project::{
    DEFAULT_ASSISTANT, DEFAULT_ASSISTANT_ID, LIMITS, NAME, PLAN, WIDGET, assistant_attributes,
    assistant_item, limits_attribute, project_from_item, project_item,
};
use crate::items::{key, string as s};
use crate::keys::{PARTITION_KEY, PROJECT_SK, project_pk};

/// Attempts of an assistant write that lost a race with another change to the project.
const MAX_WRITE_ATTEMPTS: u32 = 5;

/// Why a write to a project failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectWriteError {
    /// Creating a project whose id is taken.
    #[error("project {0} exists already")]
    Exists(Uuid),
    /// An assistant for a project that has no settings item.
    #[error("project {0} does not exist (create it with `admin create-project`)")]
    NoSuchProject(Uuid),
    /// Other writers kept changing the project.
    #[error("project {0} kept changing during the write; try again")]
    Contended(Uuid),
    /// DynamoDB failed, or a stored item does not parse.
    #[error("DynamoDB: {0}")]
    Store(#[from] StoreError),
}

/// An update of a project's item that failed: `NoSuchProject` when its condition (that the
/// item exists) did.
fn missing_project(
    error: aws_sdk_dynamodb::error::SdkError<UpdateItemError, HttpResponse>,
    project: ProjectId,
) -> ProjectWriteError {
    if error
        .as_service_error()
        .is_some_and(|e| e.is_conditional_check_failed_exception())
    {
        ProjectWriteError::NoSuchProject(project.0)
    } else {
        classify(error).into()
    }
}

fn build_error(error: aws_sdk_dynamodb::error::BuildError) -> ProjectWriteError {
    ProjectWriteError::Store(StoreError::Other(Box::new(error)))
}

/// What [`put_assistant`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AssistantWritten {
    /// The assistant's id.
    pub id: Uuid,
    /// Whether it is the project's default (and its copy was written too).
    pub is_default: bool,
    /// The project's plan, so the caller can warn about a tier it does not include.
    pub plan: Plan,
}

impl DynamoStore {
    /// Creates a project's settings item; refuses an existing project. With no default
    /// assistant, completions use the configured default until one is set.
    pub async fn create_project(
        &self,
        project: ProjectId,
        settings: &ProjectSettings,
    ) -> Result<(), ProjectWriteError> {
        let result = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(project_item(project, settings)))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(ProjectWriteError::Exists(project.0))
            }
            Err(error) => Err(classify(error).into()),
        }
    }

    /// Moves an existing project to `plan`, with `limits` as its own limits (none: the
    /// configured ones).
    pub async fn set_plan(
        &self,
        project: ProjectId,
        plan: Plan,
        limits: &LimitOverrides,
    ) -> Result<(), ProjectWriteError> {
        let update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), PROJECT_SK)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#plan", PLAN)
            .expression_attribute_names("#limits", LIMITS)
            .expression_attribute_values(":plan", s(plan.as_str()));
        let update = match limits_attribute(limits) {
            Some(map) => update
                .update_expression("SET #plan = :plan, #limits = :limits")
                .expression_attribute_values(":limits", map),
            None => update.update_expression("SET #plan = :plan REMOVE #limits"),
        };
        let result = update.send().await;
        result
            .map(|_| ())
            .map_err(|error| missing_project(error, project))
    }

    /// Sets an existing project's name and widget settings (each left alone when `None`).
    pub async fn set_public(
        &self,
        project: ProjectId,
        name: Option<&str>,
        widget: Option<&WidgetConfig>,
    ) -> Result<(), ProjectWriteError> {
        let mut set = Vec::new();
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(project_pk(project), PROJECT_SK)))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY);
        if let Some(name) = name {
            set.push("#name = :name");
            update = update
                .expression_attribute_names("#name", NAME)
                .expression_attribute_values(":name", s(name));
        }
        if let Some(widget) = widget {
            let text = serde_json::to_string(widget).map_err(|e| StoreError::Other(Box::new(e)))?;
            set.push("#widget = :widget");
            update = update
                .expression_attribute_names("#widget", WIDGET)
                .expression_attribute_values(":widget", s(text));
        }
        if set.is_empty() {
            return Ok(());
        }
        let result = update
            .update_expression(format!("SET {}", set.join(", ")))
            .send()
            .await;
        result
            .map(|_| ())
            .map_err(|error| missing_project(error, project))
    }

    /// Creates or replaces `assistant` in `project`. With `make_default` it becomes the
    /// project's default; an assistant that is the default already stays it, and its copy in
    /// the project item is rewritten with it. Either way the assistant item and the copy are
    /// written in one transaction, conditioned on what was read, so a concurrent change of
    /// the default can never leave them apart.
    pub async fn put_assistant(
        &self,
        project: ProjectId,
        assistant: &Assistant,
        make_default: bool,
    ) -> Result<AssistantWritten, ProjectWriteError> {
        let id = assistant.id.unwrap_or_default();
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let current = self
                .client()
                .get_item()
                .table_name(self.table())
                .set_key(Some(key(project_pk(project), PROJECT_SK)))
                .consistent_read(true)
                .send()
                .await
                .map_err(classify)?
                .item
                .ok_or(ProjectWriteError::NoSuchProject(project.0))?;
            let plan = project_from_item(&current)?.plan;
            let default_id = match current.get(DEFAULT_ASSISTANT_ID) {
                Some(AttributeValue::S(text)) => Uuid::parse_str(text).ok(),
                _ => None,
            };
            let is_default = make_default || default_id == Some(id);
            let project_write = if is_default {
                project_copy_update(self.table(), project, assistant, make_default)?
            } else {
                not_default_check(self.table(), project, id)?
            };
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(assistant_item(project, assistant)))
                .build()
                .map_err(build_error)?;
            let result = self
                .client()
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put).build())
                .transact_items(project_write)
                .send()
                .await;
            match result {
                Ok(_) => {
                    return Ok(AssistantWritten {
                        id,
                        is_default,
                        plan,
                    });
                }
                // The project changed since it was read (or went away): read it again.
                Err(error)
                    if error
                        .as_service_error()
                        .is_some_and(|e| e.is_transaction_canceled_exception()) =>
                {
                    continue;
                }
                Err(error) => return Err(classify(error).into()),
            }
        }
        Err(ProjectWriteError::Contended(project.0))
    }
}

/// Writes the assistant's copy into the project item. Making it the default replaces
/// whichever was; refreshing the copy of the current default requires it still to be.
fn project_copy_update(
    table: &str,
    project: ProjectId,
    assistant: &Assistant,
    make_default: bool,
) -> Result<TransactWriteItem, ProjectWriteError> {
    let id = assistant.id.expect("validated").to_string();
    let condition = if make_default {
        "attribute_exists(#pk)"
    } else {
        "attribute_exists(#pk) AND #defaultId = :id"
    };
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key(project_pk(project), PROJECT_SK)))
        .update_expression("SET #default = :copy, #defaultId = :id")
        .condition_expression(condition)
        .expression_attribute_names("#pk", PARTITION_KEY)
        .expression_attribute_names("#default", DEFAULT_ASSISTANT)
        .expression_attribute_names("#defaultId", DEFAULT_ASSISTANT_ID)
        .expression_attribute_values(":copy", AttributeValue::M(assistant_attributes(assistant)))
        .expression_attribute_values(":id", s(id))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Requires the project to exist with another default (or none), as it was read.
fn not_default_check(
    table: &str,
    project: ProjectId,
    id: Uuid,
) -> Result<TransactWriteItem, ProjectWriteError> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(key(project_pk(project), PROJECT_SK)))
        .condition_expression(
            "attribute_exists(#pk) AND (attribute_not_exists(#defaultId) OR #defaultId <> :id)",
        )
        .expression_attribute_names("#pk", PARTITION_KEY)
        .expression_attribute_names("#defaultId", DEFAULT_ASSISTANT_ID)
        .expression_attribute_values(":id", s(id.to_string()))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}
