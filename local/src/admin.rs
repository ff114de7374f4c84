//! Operating a deployment: creating projects and writing their assistants, against any
//! DynamoDB the configuration names (AWS itself, or a local engine through
//! `DYNAMODB_ENDPOINT`). `chat-local admin ...` calls these.
//!
//! A project's settings item holds a copy of its default assistant (`defaultAssistant`),
//! so a completion reads the plan and the assistant in the one batch it already makes.
//! Every write here that touches an assistant keeps that copy and the assistant's own
//! item equal, in one transaction.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use chat_shared::assistant::{Assistant, Plan, ProjectSettings};
use chat_shared::domain::ProjectId;
use chat_shared::error::DisplayChain;
use chat_shared::storage::items::string as s;
use chat_shared::storage::items::{
    PROJECT_SK, assistant_attributes, assistant_item, project_from_item, project_item, project_pk,
};
use uuid::Uuid;

/// Attempts of an assistant write that lost a race with another change to the project.
const MAX_WRITE_ATTEMPTS: u32 = 5;

/// The highest temperature any supported provider accepts (OpenAI's range is 0 to 2).
pub const MAX_TEMPERATURE: f32 = 2.0;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// `create-project` for an id that is taken.
    #[error("project {0} exists already")]
    ProjectExists(Uuid),
    /// An assistant for a project that has no settings item.
    #[error("project {0} does not exist (create it with `admin create-project`)")]
    NoSuchProject(Uuid),
    /// A value the API could not serve.
    #[error("{0}")]
    Invalid(String),
    /// Other writers kept changing the project.
    #[error("project {0} kept changing during the write; try again")]
    Contended(Uuid),
    /// DynamoDB failed, or a stored item does not parse.
    #[error("DynamoDB: {0}")]
    Store(String),
}

fn store_error(error: &(dyn std::error::Error + 'static)) -> AdminError {
    AdminError::Store(DisplayChain(error).to_string())
}

/// Creates a project's settings item with `plan` and no default assistant (completions
/// then use the configured default until one is set). Refuses an existing project.
pub async fn create_project(
    client: &Client,
    table: &str,
    project: ProjectId,
    plan: Plan,
) -> Result<(), AdminError> {
    let settings = ProjectSettings {
        plan,
        default_assistant: None,
        limits: Default::default(),
    };
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(project_item(project, &settings)))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Err(AdminError::ProjectExists(project.0))
        }
        Err(error) => Err(store_error(&error)),
    }
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

/// Checks what a provider would refuse or a completion could not use.
pub fn validate(assistant: &Assistant) -> Result<(), AdminError> {
    let invalid = |text: &str| Err(AdminError::Invalid(text.to_owned()));
    if assistant.id.is_none() {
        return invalid("the assistant needs an id");
    }
    if assistant.name.trim().is_empty() {
        return invalid("the name is empty");
    }
    if assistant.model.trim().is_empty() {
        return invalid("the model is empty");
    }
    if let Some(t) = assistant.temperature
        && !(t.is_finite() && (0.0..=MAX_TEMPERATURE).contains(&t))
    {
        return invalid("the temperature must be between 0 and 2");
    }
    if assistant.max_output_tokens == Some(0) {
        return invalid("max output tokens must be at least 1");
    }
    Ok(())
}

/// Creates or replaces `assistant` in `project`. With `make_default` it becomes the
/// project's default; an assistant that is the default already stays it, and its copy in
/// the project item is rewritten with it. Either way the assistant item and the copy are
/// written in one transaction, conditioned on what was read, so a concurrent change of
/// the default can never leave them apart.
pub async fn put_assistant(
    client: &Client,
    table: &str,
    project: ProjectId,
    assistant: &Assistant,
    make_default: bool,
) -> Result<AssistantWritten, AdminError> {
    validate(assistant)?;
    let id = assistant.id.expect("validated");
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let current = client
            .get_item()
            .table_name(table)
            .key("pk", s(project_pk(project)))
            .key("sk", s(PROJECT_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(&e))?
            .item
            .ok_or(AdminError::NoSuchProject(project.0))?;
        let plan = project_from_item(&current)
            .map_err(|e| store_error(&e))?
            .plan;
        let default_id = match current.get("defaultAssistantId") {
            Some(AttributeValue::S(text)) => Uuid::parse_str(text).ok(),
            _ => None,
        };
        let is_default = make_default || default_id == Some(id);
        let project_write = if is_default {
            project_copy_update(table, project, assistant, make_default)?
        } else {
            not_default_check(table, project, id)?
        };
        let put = Put::builder()
            .table_name(table)
            .set_item(Some(assistant_item(project, assistant)))
            .build()
            .map_err(|e| store_error(&e))?;
        let result = client
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
            Err(error) => return Err(store_error(&error)),
        }
    }
    Err(AdminError::Contended(project.0))
}

/// Writes the assistant's copy into the project item. Making it the default replaces
/// whichever was; refreshing the copy of the current default requires it still to be.
fn project_copy_update(
    table: &str,
    project: ProjectId,
    assistant: &Assistant,
    make_default: bool,
) -> Result<TransactWriteItem, AdminError> {
    let id = assistant.id.expect("validated").to_string();
    let condition = if make_default {
        "attribute_exists(pk)"
    } else {
        "attribute_exists(pk) AND defaultAssistantId = :id"
    };
    let update = Update::builder()
        .table_name(table)
        .key("pk", s(project_pk(project)))
        .key("sk", s(PROJECT_SK))
        .update_expression("SET defaultAssistant = :copy, defaultAssistantId = :id")
        .condition_expression(condition)
        .expression_attribute_values(":copy", AttributeValue::M(assistant_attributes(assistant)))
        .expression_attribute_values(":id", s(id))
        .build()
        .map_err(|e| store_error(&e))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Requires the project to exist with another default (or none), as it was read.
fn not_default_check(
    table: &str,
    project: ProjectId,
    id: Uuid,
) -> Result<TransactWriteItem, AdminError> {
    let check = ConditionCheck::builder()
        .table_name(table)
        .key("pk", s(project_pk(project)))
        .key("sk", s(PROJECT_SK))
        .condition_expression(
            "attribute_exists(pk) AND (attribute_not_exists(defaultAssistantId) OR defaultAssistantId <> :id)",
        )
        .expression_attribute_values(":id", s(id.to_string()))
        .build()
        .map_err(|e| store_error(&e))?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

#[cfg(test)]
mod tests {
    use chat_shared::assistant::{ProviderKind, Tier};

    use super::*;

    fn assistant() -> Assistant {
        Assistant {
            id: Some(Uuid::now_v7()),
            name: "Helper".into(),
            provider: ProviderKind::Offline,
            model: "offline".into(),
            system_prompt: None,
            temperature: Some(0.7),
            max_output_tokens: Some(256),
            tier: Tier::Standard,
        }
    }

    #[test]
    fn values_a_provider_would_refuse_are_refused_before_writing() {
        assert!(validate(&assistant()).is_ok());
        let cases: [fn(&mut Assistant); 5] = [
            |a| a.name = "  ".into(),
            |a| a.model = String::new(),
            |a| a.temperature = Some(2.5),
            |a| a.temperature = Some(f32::NAN),
            |a| a.max_output_tokens = Some(0),
        ];
        for change in cases {
            let mut bad = assistant();
            change(&mut bad);
            assert!(
                matches!(validate(&bad), Err(AdminError::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
