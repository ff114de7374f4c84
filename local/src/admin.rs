//! Operating a deployment: creating projects and writing their assistants, against any
//! DynamoDB the configuration names (AWS itself, or a local engine through
//! `DYNAMODB_ENDPOINT`). `chat-local admin ...` calls these; the writes themselves are the
//! store's (`chat_storage::projects`), so the seed data and the tests write the same way.

use chat_domain::api_key::{KeyKind, KeyRecord, PublishableKey, SecretKey};
use chat_domain::assistant::{Assistant, Plan, ProjectSettings};
use chat_domain::ids::ProjectId;
use chat_domain::timestamp::Timestamp;
use chat_domain::widget::WidgetConfig;
use chat_edge::cors::parse_origin;
use chat_storage::DynamoStore;
use chat_storage::StoreError;
use chat_storage::api_keys::KeyChange;
use chat_storage::projects::{AssistantWritten, ProjectWriteError};
use uuid::Uuid;

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
    /// DynamoDB failed, or a stored item does not parse.
    #[error("DynamoDB: {0}")]
    Store(#[from] StoreError),
    /// No such key in the project.
    #[error("project {0} has no such key")]
    NoSuchKey(Uuid),
}

/// The widget settings in the JSON file at `path`, checked.
pub fn read_widget(path: &std::path::Path) -> Result<WidgetConfig, AdminError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AdminError::Invalid(format!("{}: {e}", path.display())))?;
    let widget: WidgetConfig = serde_json::from_str(&text)
        .map_err(|e| AdminError::Invalid(format!("{}: {e}", path.display())))?;
    widget.check().map_err(AdminError::Invalid)?;
    Ok(widget)
}

/// Creates a key of `kind` for `project`; returns the key itself (for a secret key, the
/// only time it is seen: the store keeps its digest).
pub async fn create_key(
    store: &DynamoStore,
    project: ProjectId,
    kind: KeyKind,
    label: Option<String>,
    assistant: Option<Uuid>,
    allowed_origins: Vec<String>,
) -> Result<String, AdminError> {
    if kind == KeyKind::Secret && (assistant.is_some() || !allowed_origins.is_empty()) {
        return Err(AdminError::Invalid(
            "a secret key has the whole project's scope: no --assistant or --origin".into(),
        ));
    }
    let allowed_origins = check_origins(allowed_origins)?;
    let mut record = KeyRecord {
        kind,
        project,
        assistant,
        allowed_origins,
        label,
        revoked: false,
        created_at: Timestamp::now(),
        display: String::new(),
    };
    match kind {
        KeyKind::Publishable => {
            let key = PublishableKey::generate(project);
            record.display = key.as_str().to_owned();
            store.create_key(key.as_str(), &record).await?;
            Ok(key.as_str().to_owned())
        }
        KeyKind::Secret => {
            let key = SecretKey::generate();
            record.display = key.hint();
            store.create_key(key.digest().as_str(), &record).await?;
            Ok(key.expose().to_owned())
        }
    }
}

/// Changes the key `text` (`pk_…` or `sk_…`) of `project`.
pub async fn change_key(
    store: &DynamoStore,
    project: ProjectId,
    text: &str,
    mut change: KeyChange,
) -> Result<(), AdminError> {
    let lookup = if let Some(key) = PublishableKey::parse(text) {
        key.as_str().to_owned()
    } else if let Some(key) = SecretKey::parse(text) {
        if change.assistant.is_some() || change.allowed_origins.is_some() {
            return Err(AdminError::Invalid(
                "a secret key has no assistant or origins to set".into(),
            ));
        }
        key.digest().as_str().to_owned()
    } else {
        return Err(AdminError::Invalid(format!(
            "{text:?} is not a pk_ or sk_ key"
        )));
    };
    if let Some(origins) = change.allowed_origins.take() {
        change.allowed_origins = Some(check_origins(origins)?);
    }
    if store.update_key(project, &lookup, &change).await? {
        Ok(())
    } else {
        Err(AdminError::NoSuchKey(project.0))
    }
}

/// Origins as browsers send them (`chat_edge::cors::parse_origin`), or what is wrong.
fn check_origins(origins: Vec<String>) -> Result<Vec<String>, AdminError> {
    origins
        .into_iter()
        .map(|origin| {
            parse_origin(&origin).ok_or_else(|| {
                AdminError::Invalid(format!(
                    "{origin:?} is not an origin such as https://www.example.com"
                ))
            })
        })
        .collect()
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
        index_version: None,
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
            fallback_message: None,
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
