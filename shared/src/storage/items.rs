//! The single-table layout: keys, and how domain objects become items and back.
//!
//! | item | pk | sk |
//! |---|---|---|
//! | conversation | `P#<projectId>#C#<conversationId>` | `C` |
//! | message | `P#<projectId>#C#<conversationId>` | `M#<messageId>` |
//!
//! An absent attribute is a `null` in the API. `parts` and `metadata` are stored as JSON
//! text so that what the API returns is byte-for-byte what was written.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use uuid::Uuid;

use crate::assistant::{Assistant, Plan, ProjectSettings, ProviderKind, Tier};
use crate::domain::{
    Conversation, ConversationStatus, Feedback, HumanAgent, Message, MessageRole, MessageStatus,
    ProjectId, RawJson, VisitorId,
};
use crate::rate_limit::LimitOverrides;
use crate::storage::StoreError;
use crate::timestamp::Timestamp;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The sort key of a project's settings item.
pub const PROJECT_SK: &str = "P";
/// The sort-key prefix of assistant items.
pub const ASSISTANT_SK_PREFIX: &str = "A#";

/// The partition key of a project's settings and assistants.
pub fn project_pk(project: ProjectId) -> String {
    format!("P#{}", project.0)
}

/// The sort key of an assistant.
pub fn assistant_sk(assistant: Uuid) -> String {
    format!("{ASSISTANT_SK_PREFIX}{assistant}")
}

/// The sort key of a conversation item.
pub const CONVERSATION_SK: &str = "C";
/// The sort-key prefix of message items.
pub const MESSAGE_SK_PREFIX: &str = "M#";

/// The partition key of a conversation and its messages.
pub fn conversation_pk(project: ProjectId, conversation: Uuid) -> String {
    format!("P#{}#C#{}", project.0, conversation)
}

/// The sort key of a message.
pub fn message_sk(message: Uuid) -> String {
    format!("{MESSAGE_SK_PREFIX}{message}")
}

/// The GSI partition key listing a visitor's conversations.
pub fn visitor_gsi_pk(project: ProjectId, visitor: VisitorId) -> String {
    format!("P#{}#V#{}", project.0, visitor.0)
}

/// A string attribute: keys and most values of this table are strings.
pub fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

use string as s;

fn put_opt(item: &mut Item, name: &str, value: Option<String>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), s(value));
    }
}

/// The item of a conversation (its messages are separate items).
pub fn conversation_item(project: ProjectId, conversation: &Conversation) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(conversation_pk(project, conversation.id)));
    item.insert("sk".into(), s(CONVERSATION_SK));
    item.insert("id".into(), s(conversation.id.to_string()));
    item.insert("visitorId".into(), s(conversation.visitor_id.to_string()));
    item.insert("status".into(), s(conversation.status.as_str()));
    item.insert("createdAt".into(), s(conversation.created_at.to_string()));
    item.insert("updatedAt".into(), s(conversation.updated_at.to_string()));
    item.insert(
        "lastInteractionAt".into(),
        s(conversation.last_interaction_at.to_string()),
    );
    item.insert(
        "isHumanHandled".into(),
        AttributeValue::Bool(conversation.is_human_handled),
    );
    item.insert(
        "gsi1pk".into(),
        s(visitor_gsi_pk(project, VisitorId(conversation.visitor_id))),
    );
    item.insert(
        "gsi1sk".into(),
        s(conversation.last_interaction_at.to_string()),
    );
    put_opt(
        &mut item,
        "closedAt",
        conversation.closed_at.map(|t| t.to_string()),
    );
    put_opt(&mut item, "closeReason", conversation.close_reason.clone());
    put_opt(&mut item, "title", conversation.title.clone());
    if let Some(agent) = &conversation.human_agent {
        item.insert("humanAgent".into(), human_agent_value(agent));
    }
    item
}

/// The item of a message.
pub fn message_item(project: ProjectId, message: &Message) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(conversation_pk(project, message.chat_id)));
    item.insert("sk".into(), s(message_sk(message.id)));
    item.insert("id".into(), s(message.id.to_string()));
    item.insert("createdAt".into(), s(message.created_at.to_string()));
    item.insert("role".into(), s(message.role.as_str()));
    item.insert("parts".into(), s(message.parts.as_str()));
    put_opt(
        &mut item,
        "status",
        message.status.map(|v| v.as_str().to_owned()),
    );
    put_opt(&mut item, "error", message.error.clone());
    put_opt(
        &mut item,
        "feedback",
        message.feedback.map(|f| match f {
            Feedback::Like => "like".to_owned(),
            Feedback::Dislike => "dislike".to_owned(),
        }),
    );
    put_opt(
        &mut item,
        "feedbackAt",
        message.feedback_at.map(|t| t.to_string()),
    );
    put_opt(
        &mut item,
        "metadata",
        message.metadata.as_ref().map(|m| m.as_str().to_owned()),
    );
    put_opt(&mut item, "pageUrl", message.page_url.clone());
    put_opt(&mut item, "pageTitle", message.page_title.clone());
    put_opt(&mut item, "textSelection", message.text_selection.clone());
    if let Some(agent) = &message.human_agent {
        item.insert("humanAgent".into(), human_agent_value(agent));
    }
    item
}

fn human_agent_value(agent: &HumanAgent) -> AttributeValue {
    let mut map = HashMap::new();
    if let Some(name) = &agent.name {
        map.insert("name".to_owned(), s(name.clone()));
    }
    if let Some(image) = &agent.image {
        map.insert("image".to_owned(), s(image.clone()));
    }
    AttributeValue::M(map)
}

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
    item.insert("pk".into(), s(project_pk(project)));
    let id = assistant.id.unwrap_or_default();
    item.insert("sk".into(), s(assistant_sk(id)));
    item
}

/// The settings item of a project.
pub fn project_item(project: ProjectId, settings: &ProjectSettings) -> Item {
    let mut item = Item::new();
    item.insert("pk".into(), s(project_pk(project)));
    item.insert("sk".into(), s(PROJECT_SK));
    item.insert("plan".into(), s(settings.plan.as_str()));
    if let Some(assistant) = &settings.default_assistant {
        put_opt(
            &mut item,
            "defaultAssistantId",
            assistant.id.map(|id| id.to_string()),
        );
        item.insert(
            "defaultAssistant".into(),
            AttributeValue::M(assistant_attributes(assistant)),
        );
    }
    let limits = limit_fields(&settings.limits);
    let limits: HashMap<String, AttributeValue> = limits
        .iter()
        .filter_map(|(name, value)| {
            value.map(|v| ((*name).to_owned(), AttributeValue::N(v.to_string())))
        })
        .collect();
    if !limits.is_empty() {
        item.insert("limits".into(), AttributeValue::M(limits));
    }
    item
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
    let map = match item.get("limits") {
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
    let number = |name: &str| match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(n)) => Ok(Some(n.clone())),
        Some(_) => Err(StoreError::Corrupt(format!("{name} is not a number"))),
    };
    Ok(Assistant {
        id: r.opt_parsed("id", |t| Uuid::parse_str(t).ok())?,
        name: r.str("name")?.to_owned(),
        provider: r.parsed("provider", ProviderKind::parse)?,
        model: r.str("model")?.to_owned(),
        system_prompt: r.opt_str("systemPrompt")?.map(str::to_owned),
        temperature: number("temperature")?
            .map(|n| {
                n.parse()
                    .map_err(|_| StoreError::Corrupt("temperature".into()))
            })
            .transpose()?,
        max_output_tokens: number("maxOutputTokens")?
            .map(|n| {
                n.parse()
                    .map_err(|_| StoreError::Corrupt("maxOutputTokens".into()))
            })
            .transpose()?,
        tier: r.parsed("tier", Tier::parse)?,
    })
}

/// A project's settings from its item.
pub fn project_from_item(item: &Item) -> Result<ProjectSettings, StoreError> {
    let r = Reader(item);
    let default_assistant = match item.get("defaultAssistant") {
        None | Some(AttributeValue::Null(_)) => None,
        Some(AttributeValue::M(map)) => Some(assistant_from_item(map)?),
        Some(_) => return Err(StoreError::Corrupt("defaultAssistant is not a map".into())),
    };
    Ok(ProjectSettings {
        plan: r.parsed("plan", Plan::parse)?,
        default_assistant,
        limits: limits_from(item)?,
    })
}

/// Reads typed attributes out of an item, naming what is wrong when it is.
struct Reader<'a>(&'a Item);

impl Reader<'_> {
    fn opt_str(&self, name: &str) -> Result<Option<&str>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value)),
            Some(_) => Err(StoreError::Corrupt(format!("{name} is not a string"))),
        }
    }

    fn str(&self, name: &str) -> Result<&str, StoreError> {
        self.opt_str(name)?
            .ok_or_else(|| StoreError::Corrupt(format!("{name} is missing")))
    }

    fn parsed<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, StoreError> {
        parse(self.str(name)?).ok_or_else(|| StoreError::Corrupt(format!("{name} does not parse")))
    }

    fn opt_parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        self.opt_str(name)?
            .map(|text| {
                parse(text).ok_or_else(|| StoreError::Corrupt(format!("{name} does not parse")))
            })
            .transpose()
    }

    fn uuid(&self, name: &str) -> Result<Uuid, StoreError> {
        self.parsed(name, |t| Uuid::parse_str(t).ok())
    }

    fn time(&self, name: &str) -> Result<Timestamp, StoreError> {
        self.parsed(name, Timestamp::parse)
    }

    fn opt_time(&self, name: &str) -> Result<Option<Timestamp>, StoreError> {
        self.opt_parsed(name, Timestamp::parse)
    }

    fn opt_json(&self, name: &str) -> Result<Option<RawJson>, StoreError> {
        self.opt_parsed(name, RawJson::parse)
    }

    fn bool(&self, name: &str) -> Result<bool, StoreError> {
        match self.0.get(name) {
            None => Ok(false),
            Some(AttributeValue::Bool(value)) => Ok(*value),
            Some(_) => Err(StoreError::Corrupt(format!("{name} is not a boolean"))),
        }
    }

    fn human_agent(&self) -> Result<Option<HumanAgent>, StoreError> {
        match self.0.get("humanAgent") {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::M(map)) => {
                let field = |key: &str| match map.get(key) {
                    Some(AttributeValue::S(v)) => Some(v.clone()),
                    _ => None,
                };
                Ok(Some(HumanAgent {
                    name: field("name"),
                    image: field("image"),
                }))
            }
            Some(_) => Err(StoreError::Corrupt("humanAgent is not a map".into())),
        }
    }
}

/// The owner of a conversation item, for telling 403 from the rest.
pub fn owner_of(item: &Item) -> Result<Uuid, StoreError> {
    Reader(item).uuid("visitorId")
}

/// The status of a conversation item.
pub fn status_of(item: &Item) -> Result<ConversationStatus, StoreError> {
    Reader(item).parsed("status", ConversationStatus::parse)
}

/// A conversation from its item (without messages).
pub fn conversation_from_item(item: &Item) -> Result<Conversation, StoreError> {
    let r = Reader(item);
    Ok(Conversation {
        object: "conversation",
        id: r.uuid("id")?,
        visitor_id: r.uuid("visitorId")?,
        created_at: r.time("createdAt")?,
        updated_at: r.time("updatedAt")?,
        status: r.parsed("status", ConversationStatus::parse)?,
        closed_at: r.opt_time("closedAt")?,
        close_reason: r.opt_str("closeReason")?.map(str::to_owned),
        last_interaction_at: r.time("lastInteractionAt")?,
        is_human_handled: r.bool("isHumanHandled")?,
        human_agent: r.human_agent()?,
        title: r.opt_str("title")?.map(str::to_owned),
        messages: None,
    })
}

/// A message from its item; `chat_id` is the conversation it was read from.
pub fn message_from_item(chat_id: Uuid, item: &Item) -> Result<Message, StoreError> {
    let r = Reader(item);
    Ok(Message {
        object: "message",
        id: r.uuid("id")?,
        created_at: r.time("createdAt")?,
        chat_id,
        role: r.parsed("role", MessageRole::parse)?,
        parts: r.opt_json("parts")?.unwrap_or_else(RawJson::empty_list),
        status: r.opt_parsed("status", MessageStatus::parse)?,
        error: r.opt_str("error")?.map(str::to_owned),
        feedback: r.opt_parsed("feedback", |t| match t {
            "like" => Some(Feedback::Like),
            "dislike" => Some(Feedback::Dislike),
            _ => None,
        })?,
        feedback_at: r.opt_time("feedbackAt")?,
        metadata: r.opt_json("metadata")?,
        human_agent: r.human_agent()?,
        page_url: r.opt_str("pageUrl")?.map(str::to_owned),
        page_title: r.opt_str("pageTitle")?.map(str::to_owned),
        text_selection: r.opt_str("textSelection")?.map(str::to_owned),
    })
}

/// Whether an item's sort key is a message's.
pub fn is_message(item: &Item) -> bool {
    matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk.starts_with(MESSAGE_SK_PREFIX))
}

/// Whether an item's sort key is the conversation's.
pub fn is_conversation(item: &Item) -> bool {
    matches!(item.get("sk"), Some(AttributeValue::S(sk)) if sk == CONVERSATION_SK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_round_trips_through_its_item() {
        let mut conversation = Conversation::new(
            Uuid::now_v7(),
            VisitorId(Uuid::now_v7()),
            Timestamp::from_unix_millis(1_700_000_000_123),
        );
        conversation.close_reason = Some("done".into());
        conversation.closed_at = Some(Timestamp::from_unix_millis(1_700_000_000_999));
        conversation.status = ConversationStatus::Closed;
        conversation.human_agent = Some(HumanAgent {
            name: Some("Ada".into()),
            image: None,
        });
        let project = ProjectId(Uuid::now_v7());
        let item = conversation_item(project, &conversation);
        assert_eq!(conversation_from_item(&item).unwrap(), conversation);
        assert!(is_conversation(&item));
    }

    #[test]
    fn a_message_round_trips_through_its_item() {
        let mut message = Message::text(
            Uuid::now_v7(),
            Uuid::now_v7(),
            MessageRole::Assistant,
            "héllo",
            MessageStatus::Complete,
            Timestamp::from_unix_millis(1_700_000_000_000),
        );
        message.metadata = Some(RawJson::from_value(
            &serde_json::json!({"model": "m", "finishReason": "stop"}),
        ));
        let item = message_item(ProjectId(Uuid::now_v7()), &message);
        assert_eq!(message_from_item(message.chat_id, &item).unwrap(), message);
        assert!(is_message(&item));
    }

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
        };
        assert_eq!(
            project_from_item(&project_item(project, &settings)).unwrap(),
            settings
        );
    }

    #[test]
    fn a_corrupt_item_is_named_not_panicked_on() {
        let mut item = Item::new();
        item.insert("id".into(), AttributeValue::N("1".into()));
        let err = conversation_from_item(&item).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(ref m) if m == "id is not a string"));
    }
}
