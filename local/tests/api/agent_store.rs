//! The agent side of the store (`chat_storage::agents`) against the embedded engine, through
//! the app's logged client: what each write stores and returns, its refusals, its round
//! trips, and the races an agent message is conditioned against.

use chat_domain::conversation::{Conversation, ConversationStatus};
use chat_domain::human_agent::HumanAgent;
use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_domain::message::{MessageRole, MessageStatus};
use chat_domain::timestamp::Timestamp;
use chat_storage::StoreError;
use chat_storage::ports::{AgentStore, ConversationCloser, ConversationReader, FeedbackStore};
use chat_testkit::{TestApp, new_caller, spawn_app};
use uuid::Uuid;

fn agent(name: &str) -> HumanAgent {
    HumanAgent {
        name: Some(name.into()),
        image: Some(format!("https://cdn.example/{name}.png")),
    }
}

fn project_of(caller: Caller) -> Caller {
    Caller::project_scope(caller.project)
}

/// A conversation of `caller` with two messages, and the project's caller.
async fn conversation(app: &TestApp) -> (Caller, Uuid) {
    let caller = new_caller();
    let id = app.create_conversation(caller, 2).await;
    (caller, id)
}

#[tokio::test]
async fn a_handoff_and_a_release_are_one_update_each_and_return_what_they_stored() {
    let app = spawn_app().await;
    let (visitor, id) = conversation(&app).await;
    let project = project_of(visitor);
    let store = &app.app.store;
    let before = store.conversation(project, id).await.unwrap();

    app.calls.clear();
    let now = Timestamp::now();
    let handed = store
        .hand_off(project, id, &agent("Dana"), now)
        .await
        .unwrap();
    assert_eq!(app.calls.calls(), ["UpdateItem"]);
    assert!(handed.is_human_handled);
    assert_eq!(handed.human_agent, Some(agent("Dana")));
    assert_eq!(handed.updated_at, now);
    assert_eq!(handed.last_interaction_at, before.last_interaction_at);
    assert_eq!(handed.visitor_id, visitor.visitor.0);
    assert_eq!(store.conversation(project, id).await.unwrap(), handed);

    // A second handoff replaces the agent.
    let replaced = store
        .hand_off(project, id, &agent("Eli"), Timestamp::now())
        .await
        .unwrap();
    assert_eq!(replaced.human_agent, Some(agent("Eli")));

    app.calls.clear();
    let later = Timestamp::now();
    let released = store.release(project, id, later).await.unwrap();
    assert_eq!(app.calls.calls(), ["UpdateItem"]);
    assert!(!released.is_human_handled);
    assert_eq!(released.human_agent, None);
    assert_eq!(released.updated_at, later);
    assert_eq!(store.conversation(project, id).await.unwrap(), released);

    // Releasing again writes nothing and answers the conversation as it is.
    app.calls.clear();
    let again = store.release(project, id, Timestamp::now()).await.unwrap();
    assert_eq!(again, released);
    assert_eq!(app.calls.calls(), ["UpdateItem"]);
}

#[tokio::test]
async fn unknown_and_other_projects_conversations_are_not_found_and_closed_ones_refuse_a_handoff() {
    let app = spawn_app().await;
    let (visitor, id) = conversation(&app).await;
    let project = project_of(visitor);
    let stranger = Caller::project_scope(ProjectId(Uuid::now_v7()));
    let store = &app.app.store;
    let before = app.snapshot().await;
    for caller in [stranger, project] {
        let unknown = if caller == project {
            Uuid::now_v7()
        } else {
            id
        };
        assert!(matches!(
            store
                .hand_off(caller, unknown, &agent("Dana"), Timestamp::now())
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.release(caller, unknown, Timestamp::now()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.conversation(caller, unknown).await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(app.snapshot().await, before, "nothing written");

    store
        .close_conversation(project, id, None, Timestamp::now())
        .await
        .unwrap();
    let closed = app.snapshot().await;
    assert!(matches!(
        store
            .hand_off(project, id, &agent("Dana"), Timestamp::now())
            .await,
        Err(StoreError::Closed)
    ));
    assert_eq!(app.snapshot().await, closed, "a closed one stays as it is");
}

#[tokio::test]
async fn an_agent_message_is_one_read_and_one_transaction_with_its_pointer() {
    let app = spawn_app().await;
    let (visitor, id) = conversation(&app).await;
    let project = project_of(visitor);
    let store = &app.app.store;
    store
        .hand_off(project, id, &agent("Dana"), Timestamp::now())
        .await
        .unwrap();

    app.calls.clear();
    let read = store.conversation(project, id).await.unwrap();
    let now = Timestamp::now();
    let message = store
        .write_agent_message(project, &read, "Hello, this is Dana.", now)
        .await
        .unwrap();
    assert_eq!(app.calls.calls(), ["GetItem", "TransactWriteItems"]);
    assert_eq!(message.role, MessageRole::HumanAgent);
    assert_eq!(message.status, Some(MessageStatus::Complete));
    assert_eq!(message.human_agent, Some(agent("Dana")));
    assert_eq!(message.chat_id, id);
    assert_eq!(message.created_at, now);

    let stored = store.conversation_with_messages(visitor, id).await.unwrap();
    assert_eq!(stored.last_interaction_at, now);
    assert_eq!(stored.updated_at, now);
    assert_eq!(stored.messages.as_ref().unwrap().last(), Some(&message));
    // Feedback finds it by id, in the visitor's conversation.
    let pointer = store.message_pointer(visitor, message.id).await.unwrap();
    assert_eq!(
        (pointer.conversation_id, pointer.owner, pointer.role),
        (id, visitor.visitor.0, MessageRole::HumanAgent)
    );
}

#[tokio::test]
async fn an_agent_message_is_refused_unless_handed_off_and_open_and_names_the_current_agent() {
    let app = spawn_app().await;
    let (visitor, id) = conversation(&app).await;
    let project = project_of(visitor);
    let store = &app.app.store;

    let read = store.conversation(project, id).await.unwrap();
    let before = app.snapshot().await;
    assert!(matches!(
        store
            .write_agent_message(project, &read, "hi", Timestamp::now())
            .await,
        Err(StoreError::NotHumanHandled)
    ));
    // Read while handed off, released before the write: the transaction refuses it.
    store
        .hand_off(project, id, &agent("Dana"), Timestamp::now())
        .await
        .unwrap();
    let handed = store.conversation(project, id).await.unwrap();
    store.release(project, id, Timestamp::now()).await.unwrap();
    let released = app.snapshot().await;
    assert!(matches!(
        store
            .write_agent_message(project, &handed, "hi", Timestamp::now())
            .await,
        Err(StoreError::NotHumanHandled)
    ));
    assert_eq!(app.snapshot().await, released);
    assert_ne!(released, before);

    // Handed to Eli between Dana's read and the write: the message is Eli's.
    store
        .hand_off(project, id, &agent("Dana"), Timestamp::now())
        .await
        .unwrap();
    let dana = store.conversation(project, id).await.unwrap();
    store
        .hand_off(project, id, &agent("Eli"), Timestamp::now())
        .await
        .unwrap();
    app.calls.clear();
    let message = store
        .write_agent_message(project, &dana, "hi", Timestamp::now())
        .await
        .unwrap();
    assert_eq!(message.human_agent, Some(agent("Eli")));
    assert_eq!(
        app.calls.calls(),
        ["TransactWriteItems", "TransactWriteItems"]
    );

    // Closed after the read.
    let open = store.conversation(project, id).await.unwrap();
    store
        .close_conversation(project, id, None, Timestamp::now())
        .await
        .unwrap();
    let closed = app.snapshot().await;
    assert!(matches!(
        store
            .write_agent_message(project, &open, "hi", Timestamp::now())
            .await,
        Err(StoreError::Closed)
    ));
    assert_eq!(app.snapshot().await, closed);
    let read = store.conversation(project, id).await.unwrap();
    assert_eq!(read.status, ConversationStatus::Closed);
    assert!(matches!(
        store
            .write_agent_message(project, &read, "hi", Timestamp::now())
            .await,
        Err(StoreError::Closed)
    ));
}

#[tokio::test]
async fn an_agent_message_never_moves_a_newer_time_back() {
    let app = spawn_app().await;
    let caller = new_caller();
    let project = project_of(caller);
    let store = &app.app.store;
    let id = Uuid::now_v7();
    let ahead = Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 60_000);
    let mut stored = Conversation::new(id, caller.visitor, ahead);
    stored.is_human_handled = true;
    stored.human_agent = Some(agent("Dana"));
    app.store
        .import_conversation(caller.project, &stored, &[])
        .await
        .unwrap();
    let read = store.conversation(project, id).await.unwrap();
    let message = store
        .write_agent_message(project, &read, "hi", Timestamp::now())
        .await
        .unwrap();
    let after = store.conversation_with_messages(caller, id).await.unwrap();
    assert_eq!(after.last_interaction_at, ahead);
    assert_eq!(after.updated_at, ahead);
    assert_eq!(after.messages.unwrap(), [message]);
    // The visitor index keeps sorting it by the newer time too.
    let listed = app
        .dynamo
        .query()
        .table_name(&app.table)
        .index_name(chat_storage::keys::VISITOR_INDEX)
        .key_condition_expression("gsi1pk = :g")
        .expression_attribute_values(
            ":g",
            chat_storage::items::string(chat_storage::keys::visitor_gsi_pk(
                caller.project,
                VisitorId(caller.visitor.0),
            )),
        )
        .send()
        .await
        .unwrap();
    let items = listed.items.unwrap();
    assert_eq!(
        items[0]["gsi1sk"],
        chat_storage::items::string(ahead.to_string())
    );
}
