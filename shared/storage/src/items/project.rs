//! The project settings item and the assistant items, with their one writers and readers.
//!
//! A project's settings item holds a copy of its default assistant (`defaultAssistant`), so
//! a completion reads the plan and the assistant in the one batch it already makes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chat_domain::Spelling;
use chat_domain::assistant::LimitOverrides;
use chat_domain::assistant::{Assistant, ProjectSettings};
use chat_domain::ids::ProjectId;
use chat_domain::widget::{DEFAULT_PROJECT_NAME, PublicProject, WidgetConfig};
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{Item, Reader, put_opt, string as s};
use crate::keys::{PARTITION_KEY, PROJECT_SK, SORT_KEY, assistant_sk, project_pk};

/// The project attribute naming its default assistant.
pub const DEFAULT_ASSISTANT_ID: &str = "defaultAssistantId";
/// The project's plan.
pub const PLAN: &str = "plan";
/// The project's own rate limits and quota.
pub const LIMITS: &str = "limits";
/// The project's name.
pub const NAME: &str = "name";
/// The widget's settings, as their JSON text.
pub const WIDGET: &str = "widget";
/// The project's attribute naming its current index snapshot (written by the knowledge's
/// publish).
pub const INDEX_VERSION: &str = "indexVersion";
/// An assistant's answer when the knowledge does not answer a question.
pub const FALLBACK_MESSAGE: &str = "fallbackMessage";
/// The project attribute holding the default assistant's copy.
pub const DEFAULT_ASSISTANT: &str = "defaultAssistant";

/// An assistant's attributes, as its own item holds them and as the project item's
/// `defaultAssistant` copy holds them.
pub fn assistant_attributes(assistant: &Assistant) -> Item {
    let mut item = Item::new();
    if let Some(id) = assistant.id {
        item.insert("id".into(), s(id.to_string()));
    }
    item.insert("name".into(), s(assistant.name.clone()));
    item.insert("provider".into(), s(assistant.provider.as_str()));
    item.insert("model".into(), s(assistant.model.clone()));
    item.insert("tier".into(), s(assistant.tier.as_str()));
    put_opt(&mut item, "systemPrompt", assistant.system_prompt.clone());
    put_opt(
        &mut item,
        FALLBACK_MESSAGE,
        assistant.fallback_message.clone(),
    );
    if let Some(t) = assistant.temperature {
        item.insert("temperature".into(), AttributeValue::N(t.to_string()));
    }
    if let Some(max) = assistant.max_output_tokens {
        item.insert("maxOutputTokens".into(), AttributeValue::N(max.to_string()));
    }
    item
}

/// The item of an assistant.
pub fn assistant_item(project: ProjectId, assistant: &Assistant) -> Item {
    let mut item = assistant_attributes(assistant);
    item.insert(PARTITION_KEY.into(), s(project_pk(project)));
    let id = assistant.id.unwrap_or_default();
    item.insert(SORT_KEY.into(), s(assistant_sk(id)));
    item
}

/// The settings item of a project.
pub fn project_item(project: ProjectId, settings: &ProjectSettings) -> Item {
    let mut item = Item::new();
    item.insert(PARTITION_KEY.into(), s(project_pk(project)));
    item.insert(SORT_KEY.into(), s(PROJECT_SK));
    item.insert(PLAN.into(), s(settings.plan.as_str()));
    if let Some(assistant) = &settings.default_assistant {
        put_opt(
            &mut item,
            DEFAULT_ASSISTANT_ID,
            assistant.id.map(|id| id.to_string()),
        );
        item.insert(
            DEFAULT_ASSISTANT.into(),
            AttributeValue::M(assistant_attributes(assistant)),
        );
    }
    if let Some(limits) = limits_attribute(&settings.limits) {
        item.insert(LIMITS.into(), limits);
    }
    item
}

/// A project's own limits as the `limits` map holds them; `None` when it has none.
pub fn limits_attribute(limits: &LimitOverrides) -> Option<AttributeValue> {
    let map: HashMap<String, AttributeValue> = limit_fields(limits)
        .iter()
        .filter_map(|(name, value)| {
            value.map(|v| ((*name).to_owned(), AttributeValue::N(v.to_string())))
        })
        .collect();
    (!map.is_empty()).then_some(AttributeValue::M(map))
}

fn limit_fields(limits: &LimitOverrides) -> [(&'static str, Option<u64>); 5] {
    [
        ("completionsPerVisitor", limits.completions_per_visitor),
        ("completionsPerProject", limits.completions_per_project),
        ("readsPerVisitor", limits.reads_per_visitor),
        ("readsPerProject", limits.reads_per_project),
        ("monthlyCompletions", limits.monthly_completions),
    ]
}

fn limits_from(item: &Item) -> Result<LimitOverrides, StoreError> {
    let map = match item.get(LIMITS) {
        None | Some(AttributeValue::Null(_)) => return Ok(LimitOverrides::default()),
        Some(AttributeValue::M(map)) => map,
        Some(_) => return Err(StoreError::Corrupt("limits is not a map".into())),
    };
    let number = |name: &str| match map.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(n)) => n
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("limits.{name} is not a count"))),
        Some(_) => Err(StoreError::Corrupt(format!(
            "limits.{name} is not a number"
        ))),
    };
    Ok(LimitOverrides {
        completions_per_visitor: number("completionsPerVisitor")?,
        completions_per_project: number("completionsPerProject")?,
        reads_per_visitor: number("readsPerVisitor")?,
        reads_per_project: number("readsPerProject")?,
        monthly_completions: number("monthlyCompletions")?,
    })
}

/// An assistant from its item or from a project's `defaultAssistant` copy.
pub fn assistant_from_item(item: &Item) -> Result<Assistant, StoreError> {
    let r = Reader(item);
    Ok(Assistant {
        id: r.opt_parsed("id", |t| Uuid::parse_str(t).ok())?,
        name: r.str("name")?.to_owned(),
        provider: r.spelled("provider")?,
        model: r.str("model")?.to_owned(),
        system_prompt: r.opt_str("systemPrompt")?.map(str::to_owned),
        temperature: r
            .opt_number("temperature")?
            .map(|n| {
                n.parse()
                    .map_err(|_| StoreError::Corrupt("temperature".into()))
            })
            .transpose()?,
        max_output_tokens: r
            .opt_number("maxOutputTokens")?
            .map(|n| {
                n.parse()
                    .map_err(|_| StoreError::Corrupt("maxOutputTokens".into()))
            })
            .transpose()?,
        tier: r.spelled("tier")?,
        fallback_message: r.opt_str(FALLBACK_MESSAGE)?.map(str::to_owned),
    })
}

/// A project's public face from its item: its name and widget settings, with the defaults
/// for what it never set.
pub fn public_from_item(project: ProjectId, item: &Item) -> Result<PublicProject, StoreError> {
    let r = Reader(item);
    let widget = match r.opt_str(WIDGET)? {
        None => WidgetConfig::default(),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("widget does not parse: {e}")))?,
    };
    Ok(PublicProject {
        object: "project",
        id: project.0,
        name: r.opt_str(NAME)?.unwrap_or(DEFAULT_PROJECT_NAME).to_owned(),
        chat_widget_config: widget,
    })
}

/// A project's settings from its item.
pub fn project_from_item(item: &Item) -> Result<ProjectSettings, StoreError> {
    let r = Reader(item);
    let default_assistant = match item.get(DEFAULT_ASSISTANT) {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::M(map)) => Some(assistant_from_item(map)?),
        Some(_) => return Err(StoreError::Corrupt("defaultAssistant is not a map".into())),
    };
    Ok(ProjectSettings {
        plan: r.spelled(PLAN)?,
        default_assistant,
        limits: limits_from(item)?,
        // Written by the knowledge's publish, read here so a turn learns it in its first read.
        index_version: r.opt_str(INDEX_VERSION)?.map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use chat_domain::assistant::{Plan, ProviderKind, Tier};

    use super::*;

    #[test]
    fn a_project_and_its_default_assistant_round_trip() {
        let assistant = Assistant {
            id: Some(Uuid::now_v7()),
            name: "Helper".into(),
            provider: ProviderKind::OpenAi,
            model: "gpt-4o-mini".into(),
            system_prompt: Some("Be brief.".into()),
            temperature: Some(0.25),
            max_output_tokens: Some(512),
            tier: Tier::Advanced,
            fallback_message: None,
        };
        let project = ProjectId(Uuid::now_v7());
        let item = assistant_item(project, &assistant);
        assert_eq!(assistant_from_item(&item).unwrap(), assistant);
        let settings = ProjectSettings {
            plan: Plan::Pro,
            default_assistant: Some(assistant),
            limits: LimitOverrides {
                reads_per_visitor: Some(5),
                monthly_completions: Some(0),
                ..LimitOverrides::default()
            },
            index_version: None,
        };
        assert_eq!(
            project_from_item(&project_item(project, &settings)).unwrap(),
            settings
        );
    }
}
