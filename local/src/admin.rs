//! Operating a deployment: creating projects and writing their assistants, against any
//! DynamoDB the configuration names (AWS itself, or a local engine through
//! `DYNAMODB_ENDPOINT`). `chat-local admin ...` calls these; the writes themselves are the
//! store's (`chat_storage::projects`), so the seed data and the tests write the same way.

use chat_domain::assistant::{Assistant, Plan, ProjectSettings};
use chat_domain::ids::ProjectId;
use chat_storage::DynamoStore;
use chat_storage::projects::{AssistantWritten, ProjectWriteError};

/// The highest temperature any supported provider accepts (OpenAI's range is 0 to 2).
pub const MAX_TEMPERATURE: f32 = 2.0;

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A value the API could not serve.
    #[error("{0}")]
    Invalid(String),
    /// The write failed.
    #[error(transparent)]
    Write(#[from] ProjectWriteError),
}

/// Creates a project's settings item with `plan` and no default assistant (completions
/// then use the configured default until one is set). Refuses an existing project.
pub async fn create_project(
    store: &DynamoStore,
    project: ProjectId,
    plan: Plan,
) -> Result<(), AdminError> {
    let settings = ProjectSettings {
        plan,
        default_assistant: None,
        limits: Default::default(),
    };
    Ok(store.create_project(project, &settings).await?)
}

/// Creates or replaces `assistant` in `project`, once it is checked; with `make_default`
/// it becomes the project's default.
pub async fn put_assistant(
    store: &DynamoStore,
    project: ProjectId,
    assistant: &Assistant,
    make_default: bool,
) -> Result<AssistantWritten, AdminError> {
    validate(assistant)?;
    Ok(store
        .put_assistant(project, assistant, make_default)
        .await?)
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

#[cfg(test)]
mod tests {
    use chat_domain::assistant::{ProviderKind, Tier};
    use uuid::Uuid;

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
