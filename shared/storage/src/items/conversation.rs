//! The conversation item: its one writer ([`attributes`], and [`turn_upsert`] built from
//! it) and its reader.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use chat_domain::Spelling;
use chat_domain::conversation::{Conversation, ConversationStatus};
use chat_domain::ids::{Access, Caller, ProjectId, VisitorId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{Item, Reader, human_agent_value, put_opt, string};
use crate::keys::{
    CONVERSATION_SK, PARTITION_KEY, PROJECT_INDEX_PK, SORT_KEY, VISITOR_INDEX_PK, VISITOR_INDEX_SK,
    conversation_pk, project_gsi_pk, visitor_gsi_pk,
};

/// The owning visitor's attribute.
pub const VISITOR_ID: &str = "visitorId";
/// The status attribute (a DynamoDB reserved word: always written through a name).
pub const STATUS: &str = "status";
/// When it was last written.
pub const UPDATED_AT: &str = "updatedAt";
/// The newest message's time (also the index's sort key, `gsi1sk`).
pub const LAST_INTERACTION_AT: &str = "lastInteractionAt";
/// Whether a human agent took over.
pub const IS_HUMAN_HANDLED: &str = "isHumanHandled";
/// The human agent who took over (a map of `name` and `image`).
pub const HUMAN_AGENT: &str = "humanAgent";
/// When it was closed.
pub const CLOSED_AT: &str = "closedAt";
/// Why it was closed.
pub const CLOSE_REASON: &str = "closeReason";

/// The attributes a write moves forward on every turn; all others are set once, when the
/// conversation is created.
pub const MOVING: [&str; 3] = [UPDATED_AT, LAST_INTERACTION_AT, VISITOR_INDEX_SK];

/// Every attribute of a conversation's item (its messages are separate items): the one
/// shape a conversation is stored in, whoever writes it.
pub fn attributes(project: ProjectId, conversation: &Conversation) -> Item {
    let mut item = Item::new();
    item.insert(
        PARTITION_KEY.into(),
        string(conversation_pk(project, conversation.id)),
    );
    item.insert(SORT_KEY.into(), string(CONVERSATION_SK));
    item.insert("id".into(), string(conversation.id.to_string()));
    item.insert(
        VISITOR_ID.into(),
        string(conversation.visitor_id.to_string()),
    );
    item.insert(STATUS.into(), string(conversation.status.as_str()));
    item.insert(
        "createdAt".into(),
        string(conversation.created_at.to_string()),
    );
    item.insert(
        UPDATED_AT.into(),
        string(conversation.updated_at.to_string()),
    );
    item.insert(
        LAST_INTERACTION_AT.into(),
        string(conversation.last_interaction_at.to_string()),
    );
    item.insert(
        IS_HUMAN_HANDLED.into(),
        AttributeValue::Bool(conversation.is_human_handled),
    );
    item.insert(
        VISITOR_INDEX_PK.into(),
        string(visitor_gsi_pk(project, VisitorId(conversation.visitor_id))),
    );
    item.insert(
        VISITOR_INDEX_SK.into(),
        string(conversation.last_interaction_at.to_string()),
    );
    // In the project index too, sorted by the same attribute. Written by every writer of a
    // conversation item (a turn sets it if missing, close and the agent routes set it), so
    // a conversation stored before the index existed joins it at its next write.
    item.insert(PROJECT_INDEX_PK.into(), string(project_gsi_pk(project)));
    put_opt(
        &mut item,
        CLOSED_AT,
        conversation.closed_at.map(|t| t.to_string()),
    );
    put_opt(&mut item, CLOSE_REASON, conversation.close_reason.clone());
    put_opt(&mut item, "title", conversation.title.clone());
    if let Some(agent) = &conversation.human_agent {
        item.insert(HUMAN_AGENT.into(), human_agent_value(agent));
    }
    item
}

/// An update expression that creates `fresh` (a new conversation's attributes) when the
/// item does not exist, and otherwise sets only `moving` (a subset of [`MOVING`]) to
/// `fresh`'s values: written as `SET` clauses with `#a`/`:a` placeholders named after the
/// attributes, returned with their names and values.
pub fn turn_upsert(
    project: ProjectId,
    fresh: &Conversation,
    moving: &[&str],
) -> (String, HashMap<String, String>, Item) {
    let mut attributes: Vec<(String, AttributeValue)> =
        attributes(project, fresh).into_iter().collect();
    // A stable expression, whatever the map's order.
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    let mut clauses = Vec::new();
    let mut names = HashMap::new();
    let mut values = Item::new();
    for (index, (name, value)) in attributes.into_iter().enumerate() {
        if name == PARTITION_KEY || name == SORT_KEY {
            continue;
        }
        let (placeholder, value_name) = (format!("#a{index}"), format!(":a{index}"));
        let clause = if moving.contains(&name.as_str()) {
            format!("{placeholder} = {value_name}")
        } else {
            // Set once, when the write creates the conversation; moving attributes this
            // write leaves where they are get the same treatment.
            format!("{placeholder} = if_not_exists({placeholder}, {value_name})")
        };
        clauses.push(clause);
        names.insert(placeholder, name);
        values.insert(value_name, value);
    }
    (format!("SET {}", clauses.join(", ")), names, values)
}

/// Whether `caller` may use the conversation `item`: `NotOwner` (403) for another visitor's,
/// `NotFound` (404) for the project's own when a visitor asks.
pub fn check_access(caller: Caller, item: &Item) -> Result<(), StoreError> {
    match caller.access(owner_of(item)?) {
        Access::Allowed => Ok(()),
        Access::NotOwner => Err(StoreError::NotOwner),
        Access::Hidden => Err(StoreError::NotFound),
    }
}

/// The condition that the conversation is `caller`'s, for a write's condition expression
/// (with `#visitor` and `:visitor` to be bound): none for the project itself, which may
/// write any of its conversations.
pub fn owner_condition(caller: Caller) -> Option<&'static str> {
    (!caller.is_project_scope()).then_some("#visitor = :visitor")
}

/// `update` of a conversation item conditioned on the item existing, being `caller`'s
/// (see [`owner_condition`]) and on `rest` (such as `#status = :open`, whose names and
/// values the caller binds); `ALL_OLD` on a failure then tells the refusals apart.
pub fn update_if_owned(
    update: UpdateItemFluentBuilder,
    caller: Caller,
    rest: &str,
) -> UpdateItemFluentBuilder {
    let update = update.expression_attribute_names("#pk", crate::keys::PARTITION_KEY);
    match owner_condition(caller) {
        Some(owner) => update
            .condition_expression(format!("attribute_exists(#pk) AND {owner} AND {rest}"))
            .expression_attribute_names("#visitor", VISITOR_ID)
            .expression_attribute_values(":visitor", string(caller.visitor.0.to_string())),
        None => update.condition_expression(format!("attribute_exists(#pk) AND {rest}")),
    }
}

/// The owner of a conversation item, for telling 403 from the rest.
pub fn owner_of(item: &Item) -> Result<Uuid, StoreError> {
    Reader(item).uuid(VISITOR_ID)
}

/// The status of a conversation item.
pub fn status_of(item: &Item) -> Result<ConversationStatus, StoreError> {
    Reader(item).spelled(STATUS)
}

/// Whether a human agent handles a conversation item.
pub fn human_handled_of(item: &Item) -> Result<bool, StoreError> {
    Reader(item).bool(IS_HUMAN_HANDLED)
}

/// A conversation from its item (without messages).
pub fn from_item(item: &Item) -> Result<Conversation, StoreError> {
    let r = Reader(item);
    Ok(Conversation {
        object: "conversation",
        id: r.uuid("id")?,
        visitor_id: r.uuid(VISITOR_ID)?,
        created_at: r.time("createdAt")?,
        updated_at: r.time(UPDATED_AT)?,
        status: r.spelled(STATUS)?,
        closed_at: r.opt_time(CLOSED_AT)?,
        close_reason: r.opt_str(CLOSE_REASON)?.map(str::to_owned),
        last_interaction_at: r.time(LAST_INTERACTION_AT)?,
        is_human_handled: r.bool(IS_HUMAN_HANDLED)?,
        human_agent: r.human_agent()?,
        title: r.opt_str("title")?.map(str::to_owned),
        messages: None,
    })
}

/// Whether an item's sort key is a conversation's.
pub fn is_conversation(item: &Item) -> bool {
    crate::items::key_of(item).1 == CONVERSATION_SK
}

#[cfg(test)]
mod tests {
    use chat_domain::human_agent::HumanAgent;
    use chat_domain::timestamp::Timestamp;

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
        let item = attributes(project, &conversation);
        assert_eq!(from_item(&item).unwrap(), conversation);
        assert!(is_conversation(&item));
        assert_eq!(item[PROJECT_INDEX_PK], string(project_gsi_pk(project)));
        assert_eq!(item[VISITOR_INDEX_SK], item[LAST_INTERACTION_AT]);
    }

    #[test]
    fn a_turn_sets_every_attribute_of_a_new_conversation_and_moves_only_the_moving() {
        let project = ProjectId(Uuid::now_v7());
        let fresh = Conversation::new(
            Uuid::now_v7(),
            VisitorId(Uuid::now_v7()),
            Timestamp::from_unix_millis(1_700_000_000_000),
        );
        let (expression, names, values) = turn_upsert(project, &fresh, &[LAST_INTERACTION_AT]);
        let written: Vec<&String> = names.values().collect();
        let stored = attributes(project, &fresh);
        assert_eq!(
            written.len(),
            stored.len() - 2,
            "every attribute but the key"
        );
        assert_eq!(values.len(), names.len());
        for (placeholder, name) in &names {
            let plain = expression.contains(&format!("{placeholder} = :"));
            assert_eq!(plain, name == LAST_INTERACTION_AT, "{name}: {expression}");
        }
    }

    #[test]
    fn a_corrupt_item_is_named_not_panicked_on() {
        let mut item = Item::new();
        item.insert("id".into(), AttributeValue::N("1".into()));
        let err = from_item(&item).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(ref m) if m == "id is not a string"));
    }
}
