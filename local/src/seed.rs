//! The demo data the local server starts with: one project on the free plan with a
//! standard default assistant and an advanced one, one visitor, one conversation holding
//! a short exchange. Fixed ids, so the README's commands work as
//! printed; seeding twice (a file-backed engine) leaves the first seed alone.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chat_shared::assistant::{Assistant, Plan, ProjectSettings, ProviderKind, Tier};
use chat_shared::domain::{
    Caller, Conversation, Message, MessageRole, MessageStatus, ProjectId, VisitorId,
};
use chat_shared::error::DisplayChain;
use chat_shared::storage::items::{assistant_item, conversation_item, message_item, project_item};
use chat_shared::timestamp::Timestamp;
use uuid::{Uuid, uuid};

/// The demo project.
pub const DEMO_PROJECT: Uuid = uuid!("0192f0a0-0000-7000-8000-00000000d001");
/// The demo visitor.
pub const DEMO_VISITOR: Uuid = uuid!("0192f0a0-0000-7000-8000-00000000d002");
/// The demo conversation.
pub const DEMO_CONVERSATION: Uuid = uuid!("0192f0a0-0000-7000-8000-00000000d003");

/// The demo project's default assistant: standard tier, offline provider.
pub const DEMO_ASSISTANT: Uuid = uuid!("0192f0a0-0000-7000-8000-00000000a001");
/// An advanced assistant, which the demo project's free plan does not include (402).
pub const DEMO_ADVANCED_ASSISTANT: Uuid = uuid!("0192f0a0-0000-7000-8000-00000000a002");

/// The demo assistants: the default (standard) and an advanced one.
pub fn demo_assistants() -> [Assistant; 2] {
    [
        Assistant {
            id: Some(DEMO_ASSISTANT),
            name: "Demo assistant".into(),
            provider: ProviderKind::Offline,
            model: "offline".into(),
            system_prompt: Some("You are the demo shop's helpful assistant.".into()),
            temperature: None,
            max_output_tokens: None,
            tier: Tier::Standard,
        },
        Assistant {
            id: Some(DEMO_ADVANCED_ASSISTANT),
            name: "Demo advanced assistant".into(),
            provider: ProviderKind::Offline,
            model: "offline:tokens=60".into(),
            system_prompt: Some("You are the demo shop's expert assistant.".into()),
            temperature: None,
            max_output_tokens: None,
            tier: Tier::Advanced,
        },
    ]
}

/// The demo caller: the project and visitor a printed token is minted for.
pub fn demo_caller() -> Caller {
    Caller {
        project: ProjectId(DEMO_PROJECT),
        visitor: VisitorId(DEMO_VISITOR),
    }
}

const EXCHANGE: [(MessageRole, &str); 4] = [
    (MessageRole::User, "Hi! Do you ship to Canada?"),
    (
        MessageRole::Assistant,
        "Yes, we ship to Canada. Delivery takes 5 to 8 business days.",
    ),
    (MessageRole::User, "Great, and is there a return policy?"),
    (
        MessageRole::Assistant,
        "You can return any item within 30 days for a full refund.",
    ),
];

/// Writes the demo conversation and its messages in one transaction, unless it exists.
pub async fn seed_demo(client: &Client, table: &str) -> Result<(), String> {
    let caller = demo_caller();
    let start = Timestamp::now().unix_millis() - 60_000;
    let mut conversation = Conversation::new(
        DEMO_CONVERSATION,
        caller.visitor,
        Timestamp::from_unix_millis(start),
    );
    let mut writes = Vec::new();
    for (index, (role, text)) in EXCHANGE.iter().enumerate() {
        let at = Timestamp::from_unix_millis(start + index as i64 * 5_000);
        let id = id_at(at);
        let message = Message::text(
            id,
            DEMO_CONVERSATION,
            *role,
            text,
            MessageStatus::Complete,
            at,
        );
        writes.push(put(table, message_item(caller.project, &message), false));
        conversation.last_interaction_at = at;
        conversation.updated_at = at;
    }
    writes.insert(
        0,
        put(
            table,
            conversation_item(caller.project, &conversation),
            true,
        ),
    );
    let [standard, advanced] = demo_assistants();
    let settings = ProjectSettings {
        plan: Plan::Free,
        default_assistant: Some(standard.clone()),
        limits: Default::default(),
    };
    writes.push(put(table, project_item(caller.project, &settings), false));
    writes.push(put(table, assistant_item(caller.project, &standard), false));
    writes.push(put(table, assistant_item(caller.project, &advanced), false));
    let result = client
        .transact_write_items()
        .set_transact_items(Some(writes))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        // The conversation exists already: a file-backed engine seeded on an earlier run.
        Err(error)
            if error
                .as_service_error()
                .is_some_and(|e| e.is_transaction_canceled_exception()) =>
        {
            Ok(())
        }
        Err(error) => Err(DisplayChain(&error).to_string()),
    }
}

/// A UUIDv7 carrying `at` as its time, so ids and `createdAt` agree.
fn id_at(at: Timestamp) -> Uuid {
    let millis = at.unix_millis() as u64;
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        millis / 1_000,
        (millis % 1_000) as u32 * 1_000_000,
    ))
}

fn put(
    table: &str,
    item: chat_shared::storage::items::Item,
    only_if_new: bool,
) -> TransactWriteItem {
    let mut put = Put::builder().table_name(table).set_item(Some(item));
    if only_if_new {
        put = put.condition_expression("attribute_not_exists(pk)");
    }
    TransactWriteItem::builder()
        .put(put.build().expect("put has table and item"))
        .build()
}
