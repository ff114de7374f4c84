//! The demo data the local server starts with: one project on the free plan with a
//! standard default assistant and an advanced one, one visitor, one conversation holding
//! a short exchange. Fixed ids, so the README's commands work as printed; seeding twice (a
//! file-backed engine) leaves the first seed alone. Written through the same storage
//! operations the admin commands and production use.

use chat_domain::api_key::{KeyKind, KeyRecord, PublishableKey, SecretKey};
use chat_domain::assistant::{Assistant, Plan, ProjectSettings, ProviderKind, Tier};
use chat_domain::conversation::Conversation;
use chat_domain::error::DisplayChain;
use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_domain::message::{Message, MessageRole, MessageStatus};
use chat_domain::timestamp::Timestamp;
use chat_domain::visitor::{DeviceId, Visitor};
use chat_domain::widget::WidgetConfig;
use chat_storage::DynamoStore;
use chat_storage::import::Imported;
use chat_storage::ports::VisitorStore;
use chat_storage::projects::ProjectWriteError;
use uuid::{Uuid, uuid};

/// The demo project.
pub const DEMO_PROJECT: Uuid = uuid!("0192f0a0-0000-7000-8000-00000000d001");
/// The demo visitor.
pub const DEMO_VISITOR: Uuid = uuid!("0192f0a0-0000-7000-8000-00000000d002");
/// The demo conversation.
pub const DEMO_CONVERSATION: Uuid = uuid!("0192f0a0-0000-7000-8000-00000000d003");
/// The demo conversation's messages, oldest first: fixed, so sample events can name them.
pub const DEMO_MESSAGES: [Uuid; 4] = [
    uuid!("0192f0a0-0000-7000-8000-00000000e001"),
    uuid!("0192f0a0-0000-7000-8000-00000000e002"),
    uuid!("0192f0a0-0000-7000-8000-00000000e003"),
    uuid!("0192f0a0-0000-7000-8000-00000000e004"),
];
/// The demo conversation's first answer (what the feedback sample event rates).
pub const DEMO_ANSWER: Uuid = DEMO_MESSAGES[1];

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
            fallback_message: None,
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
            fallback_message: None,
        },
    ]
}

/// The demo project's publishable key, allowing every origin: public by design, fixed so
/// the README's commands work as printed.
pub const DEMO_PUBLISHABLE_KEY: &str =
    "pk_0192f0a000007000800000000000d001_de30de30de30de30de30de30de30de30";

/// The demo project's secret key: a development key, public by being written here, so the
/// sample events of the agent routes (`events/chat-agents-*.json`) work as written. Only
/// the local server seeds it, and it opens nothing but the demo project.
pub const DEMO_SECRET_KEY: &str =
    "sk_de30de30de30de30de30de30de30de30de30de30de30de30de30de30de30de30";

/// The device the demo visitor came from.
pub const DEMO_DEVICE: &str = "demo-device";

/// The demo project's name.
pub const DEMO_PROJECT_NAME: &str = "Demo Shop";

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

/// Writes the demo project, its assistants and the demo conversation, unless the
/// conversation exists already.
pub async fn seed_demo(store: &DynamoStore) -> Result<(), String> {
    let caller = demo_caller();
    let start = Timestamp::now().unix_millis() - 60_000;
    let mut conversation = Conversation::new(
        DEMO_CONVERSATION,
        caller.visitor,
        Timestamp::from_unix_millis(start),
    );
    let mut messages = Vec::new();
    for (index, (role, text)) in EXCHANGE.iter().enumerate() {
        let at = Timestamp::from_unix_millis(start + index as i64 * 5_000);
        messages.push(Message::text(
            DEMO_MESSAGES[index],
            DEMO_CONVERSATION,
            *role,
            text,
            MessageStatus::Complete,
            at,
        ));
        conversation.last_interaction_at = at;
        conversation.updated_at = at;
    }
    let failed = |e: &(dyn std::error::Error + 'static)| DisplayChain(e).to_string();
    match store
        .import_conversation(caller.project, &conversation, &messages)
        .await
    {
        Ok(Imported::Written) => {}
        // A file-backed engine seeded on an earlier run.
        Ok(Imported::Exists) => return Ok(()),
        Err(error) => return Err(failed(&error)),
    }
    let [standard, advanced] = demo_assistants();
    let settings = ProjectSettings {
        plan: Plan::Free,
        default_assistant: None,
        limits: Default::default(),
        index_version: None,
    };
    match store.create_project(caller.project, &settings).await {
        Ok(()) | Err(ProjectWriteError::Exists(_)) => {}
        Err(error) => return Err(failed(&error)),
    }
    for (assistant, make_default) in [(&standard, true), (&advanced, false)] {
        store
            .put_assistant(caller.project, assistant, make_default)
            .await
            .map_err(|e| failed(&e))?;
    }
    let widget = WidgetConfig {
        display_name: Some("Demo assistant".into()),
        welcome_message: "Hi! Ask me about shipping, returns or our products.".into(),
        ..WidgetConfig::default()
    };
    store
        .set_public(caller.project, Some(DEMO_PROJECT_NAME), Some(&widget))
        .await
        .map_err(|e| failed(&e))?;
    // The demo visitor exists as an anonymous visitor of a demo device, so `identity/me`
    // answers for the printed token.
    store
        .create_device_visitor(
            caller.project,
            &DeviceId::parse(DEMO_DEVICE).expect("a device id"),
            &Visitor::anonymous(DEMO_VISITOR),
            Timestamp::now(),
        )
        .await
        .map_err(|e| failed(&e))?;
    let key = PublishableKey::parse(DEMO_PUBLISHABLE_KEY).expect("the demo key parses");
    let record = KeyRecord {
        kind: KeyKind::Publishable,
        project: key.project(),
        assistant: None,
        allowed_origins: Vec::new(),
        label: Some("demo widget (any origin)".into()),
        revoked: false,
        created_at: Timestamp::now(),
        display: key.as_str().to_owned(),
    };
    store
        .create_key(key.as_str(), &record)
        .await
        .map_err(|e| failed(&e))?;
    let secret = SecretKey::parse(DEMO_SECRET_KEY).expect("the demo secret key parses");
    let record = KeyRecord {
        kind: KeyKind::Secret,
        project: caller.project,
        assistant: None,
        allowed_origins: Vec::new(),
        label: Some("demo server key (development only)".into()),
        revoked: false,
        created_at: Timestamp::now(),
        display: secret.hint(),
    };
    store
        .create_key(secret.digest().as_str(), &record)
        .await
        .map_err(|e| failed(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_key_names_the_demo_project() {
        let key = PublishableKey::parse(DEMO_PUBLISHABLE_KEY).expect("a publishable key");
        assert_eq!(key.project(), ProjectId(DEMO_PROJECT));
        assert!(SecretKey::parse(DEMO_SECRET_KEY).is_some());
    }

    #[test]
    fn the_demo_messages_sort_in_their_order_and_the_answer_is_an_answer() {
        assert!(DEMO_MESSAGES.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(DEMO_MESSAGES.iter().all(|id| id.get_version_num() == 7));
        let answer = DEMO_MESSAGES.iter().position(|id| *id == DEMO_ANSWER);
        assert_eq!(
            answer.map(|index| EXCHANGE[index].0),
            Some(MessageRole::Assistant)
        );
    }
}
