//! The DynamoDB adapter of [`CompletionStore`]: one BatchGetItem before the model, one
//! TransactWriteItems for the turn (the conversation, both messages and their pointers), one UpdateItem to finish the assistant message.

use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, KeysAndAttributes, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use chat_domain::Spelling;
use chat_domain::conversation::{Conversation, ConversationStatus};
use chat_domain::ids::Caller;
use chat_domain::message::{Message, answer_parts};
use uuid::Uuid;

use crate::dynamo::{DynamoStore, backoff};
use crate::error::{StoreError, cancellation_reasons, classify};
use crate::items::conversation::{
    self as conversation_item, IS_HUMAN_HANDLED, LAST_INTERACTION_AT, MOVING, STATUS, UPDATED_AT,
    VISITOR_ID,
};
use crate::items::message::{self as message_item, ERROR, METADATA, PARTS};
use crate::items::message_pointer;
use crate::items::{Item, key, key_of, project, string as s};
use crate::keys::{
    ASSISTANT_SK_PREFIX, CONVERSATION_SK, PARTITION_KEY, PROJECT_SK, VISITOR_INDEX_SK,
    assistant_sk, conversation_pk, message_sk, project_pk,
};
use crate::ports::{CompletionStore, ConversationState, MessageOutcome, NewTurn, TurnContext};

/// Attempts of a turn write that lost a race with another transaction on the same
/// conversation (DynamoDB cancels one of two concurrent transactions on an item).
const MAX_TURN_ATTEMPTS: u32 = 8;

/// Attempts at reading keys a batch left unprocessed under load.
const MAX_BATCH_ATTEMPTS: u32 = 5;

impl CompletionStore for DynamoStore {
    async fn turn_context(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        assistant_id: Option<Uuid>,
    ) -> Result<TurnContext, StoreError> {
        let mut keys = vec![
            key(project_pk(caller.project), PROJECT_SK),
            key(
                conversation_pk(caller.project, conversation_id),
                CONVERSATION_SK,
            ),
        ];
        if let Some(id) = assistant_id {
            keys.push(key(project_pk(caller.project), assistant_sk(id)));
        }
        let mut request = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| StoreError::Other(Box::new(e)))?,
        );
        let mut found: Vec<Item> = Vec::new();
        let mut attempt = 0;
        while let Some(keys) = request.take() {
            if attempt > 0 {
                tokio::time::sleep(backoff(attempt)).await;
            }
            attempt += 1;
            let output = self
                .client()
                .batch_get_item()
                .request_items(self.table(), keys)
                .send()
                .await
                .map_err(classify)?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(self.table()).unwrap_or_default());
            }
            request = output
                .unprocessed_keys
                .and_then(|mut left| left.remove(self.table()))
                .filter(|left| !left.keys().is_empty());
            if request.is_some() && attempt >= MAX_BATCH_ATTEMPTS {
                return Err(StoreError::Throttled(
                    "keys left unprocessed after retries".into(),
                ));
            }
        }
        let mut context = TurnContext::default();
        for item in &found {
            match key_of(item).1 {
                PROJECT_SK => context.project = Some(project::project_from_item(item)?),
                CONVERSATION_SK => {
                    context.conversation = Some(ConversationState {
                        owner: conversation_item::owner_of(item)?,
                        status: conversation_item::status_of(item)?,
                        is_human_handled: conversation_item::human_handled_of(item)?,
                    })
                }
                sk if sk.starts_with(ASSISTANT_SK_PREFIX) => {
                    context.assistant = Some(project::assistant_from_item(item)?)
                }
                _ => {}
            }
        }
        Ok(context)
    }

    async fn write_turn(&self, caller: Caller, turn: &NewTurn) -> Result<(), StoreError> {
        let mut attempt = 0;
        // First try moving both times forward; a turn that finds a newer time already stored
        // (a concurrent turn committed first) moves only what is still behind it.
        let mut moving: Vec<&'static str> = vec![UPDATED_AT, LAST_INTERACTION_AT];
        loop {
            attempt += 1;
            match self.try_write_turn(caller, turn, &moving).await {
                Err(TurnWriteError::Ahead(behind)) if attempt < MAX_TURN_ATTEMPTS => {
                    moving = behind;
                }
                Err(TurnWriteError::Conflict) if attempt < MAX_TURN_ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(TurnWriteError::Ahead(_)) => {
                    return Err(StoreError::Throttled(
                        "turn write kept finding newer times".into(),
                    ));
                }
                Err(TurnWriteError::Conflict) => {
                    return Err(StoreError::Throttled(
                        "turn write kept conflicting with concurrent turns".into(),
                    ));
                }
                Err(TurnWriteError::Store(error)) => return Err(error),
                Ok(()) => return Ok(()),
            }
        }
    }

    async fn history(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // One page: `limit` messages of at most a few tens of KB each stay far below 1 MB
        // for the budgets the engine allows; a page cut short only shortens the history.
        let mut messages = self
            .newest_messages(caller, conversation_id, limit, true)
            .await?;
        messages.reverse();
        Ok(messages)
    }

    async fn finish_message(
        &self,
        caller: Caller,
        conversation_id: Uuid,
        message_id: Uuid,
        outcome: &MessageOutcome,
    ) -> Result<(), StoreError> {
        let parts = answer_parts(&outcome.text, &outcome.sources);
        let mut update = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(
                conversation_pk(caller.project, conversation_id),
                message_sk(message_id),
            )))
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#status", message_item::STATUS)
            .expression_attribute_names("#parts", PARTS)
            .expression_attribute_names("#metadata", METADATA)
            .expression_attribute_names("#error", ERROR)
            .expression_attribute_values(":status", s(outcome.status.as_str()))
            .expression_attribute_values(":parts", s(parts.as_str()));
        let mut set = vec!["#status = :status", "#parts = :parts"];
        let mut remove = Vec::new();
        match &outcome.metadata {
            Some(metadata) => {
                set.push("#metadata = :metadata");
                update = update.expression_attribute_values(":metadata", s(metadata.to_string()));
            }
            None => remove.push("#metadata"),
        }
        match &outcome.error {
            Some(error) => {
                set.push("#error = :error");
                update = update.expression_attribute_values(":error", s(error.clone()));
            }
            None => remove.push("#error"),
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        update
            .update_expression(expression)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// Why one attempt at a turn write failed.
enum TurnWriteError {
    /// Lost a race with another transaction: try again.
    Conflict,
    /// A time this write would move is already later than its own (a concurrent turn
    /// committed first): try again moving only these, which are still behind.
    Ahead(Vec<&'static str>),
    /// Anything else, final.
    Store(StoreError),
}

impl DynamoStore {
    /// One attempt at a turn: the conversation created or moved forward (only the times in
    /// `moving`, each only if it is not later than the turn's), and both messages.
    async fn try_write_turn(
        &self,
        caller: Caller,
        turn: &NewTurn,
        moving: &[&'static str],
    ) -> Result<(), TurnWriteError> {
        let now = turn.user_message.created_at;
        let other = |e: aws_sdk_dynamodb::error::BuildError| {
            TurnWriteError::Store(StoreError::Other(Box::new(e)))
        };
        let conversation_key = key(
            conversation_pk(caller.project, turn.conversation_id),
            CONVERSATION_SK,
        );
        // Created here, or the caller's and still open: one condition, race-free; the times
        // only ever move forward.
        // The project itself (a secret key) may write any conversation of its own.
        let owner = conversation_item::owner_condition(caller);
        let mut owned_and_open = match owner {
            Some(owner) => format!("{owner} AND #status = :open"),
            None => "attribute_exists(#pk) AND #status = :open".to_owned(),
        };
        let ai_only = turn.unless_human_handled && turn.assistant_message.is_some();
        if ai_only {
            owned_and_open.push_str(" AND (attribute_not_exists(#human) OR #human = :no)");
        }
        // A turn that may not create the conversation (the send route) needs it to exist.
        let mut condition = if turn.create {
            format!("attribute_not_exists(#pk) OR ({owned_and_open}")
        } else {
            format!("attribute_exists(#pk) AND ({owned_and_open}")
        };
        let conversation = if moving.is_empty() {
            let mut check = ConditionCheck::builder()
                .table_name(self.table())
                .set_key(Some(conversation_key))
                .condition_expression(&owned_and_open)
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_values(":open", s(ConversationStatus::Open.as_str()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            if ai_only {
                check = check
                    .expression_attribute_names("#human", IS_HUMAN_HANDLED)
                    .expression_attribute_values(":no", AttributeValue::Bool(false));
            }
            check = match owner {
                Some(_) => check
                    .expression_attribute_names("#visitor", VISITOR_ID)
                    .expression_attribute_values(":visitor", s(caller.visitor.0.to_string())),
                None => check.expression_attribute_names("#pk", PARTITION_KEY),
            };
            let check = check.build().map_err(other)?;
            TransactWriteItem::builder().condition_check(check).build()
        } else {
            let mut moved: Vec<&str> = moving.to_vec();
            if moving.contains(&LAST_INTERACTION_AT) {
                moved.push(VISITOR_INDEX_SK);
            }
            let mut fresh = Conversation::new(turn.conversation_id, caller.visitor, now);
            // Set once, like every attribute that does not move: a titled conversation
            // keeps its title.
            fresh.title = turn.title.clone();
            let (expression, names, values) =
                conversation_item::turn_upsert(caller.project, &fresh, &moved);
            for index in 0..moving.len() {
                condition.push_str(&format!(
                    " AND (attribute_not_exists(#t{index}) OR #t{index} <= :now)"
                ));
            }
            condition.push(')');
            let mut update = Update::builder()
                .table_name(self.table())
                .set_key(Some(conversation_key))
                .update_expression(expression)
                .condition_expression(&condition)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#status", STATUS)
                .expression_attribute_values(":open", s(ConversationStatus::Open.as_str()))
                .expression_attribute_values(":now", s(now.to_string()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            if ai_only {
                update = update
                    .expression_attribute_names("#human", IS_HUMAN_HANDLED)
                    .expression_attribute_values(":no", AttributeValue::Bool(false));
            }
            if owner.is_some() {
                update = update
                    .expression_attribute_names("#visitor", VISITOR_ID)
                    .expression_attribute_values(":visitor", s(caller.visitor.0.to_string()));
            }
            for (index, time) in moving.iter().enumerate() {
                update = update.expression_attribute_names(format!("#t{index}"), *time);
            }
            TransactWriteItem::builder()
                .update(update.build().map_err(other)?)
                .build()
        };
        let put = |message: &Message| -> Result<TransactWriteItem, TurnWriteError> {
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(message_item::attributes(caller.project, message)))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .build()
                .map_err(other)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let pointer = |message: &Message| -> Result<TransactWriteItem, TurnWriteError> {
            let put = Put::builder()
                .table_name(self.table())
                .set_item(Some(message_pointer::attributes(
                    caller.project,
                    caller.visitor.0,
                    message,
                )))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .build()
                .map_err(other)?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        // The messages first (their indexes tell a retried turn apart), then the pointers
        // that let feedback find them by id.
        let mut writes = vec![conversation, put(&turn.user_message)?];
        if let Some(answer) = &turn.assistant_message {
            writes.push(put(answer)?);
        }
        writes.push(pointer(&turn.user_message)?);
        if let Some(answer) = &turn.assistant_message {
            writes.push(pointer(answer)?);
        }
        let result = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match cancellation_reasons(error) {
                Err(error) => Err(TurnWriteError::Store(error)),
                Ok(reasons) => {
                    let code = |index: usize| reasons.get(index).and_then(|r| r.code.as_deref());
                    if reasons
                        .iter()
                        .any(|r| r.code.as_deref() == Some("TransactionConflict"))
                    {
                        return Err(TurnWriteError::Conflict);
                    }
                    if reasons
                        .iter()
                        .skip(1)
                        .any(|r| r.code.as_deref() == Some("ConditionalCheckFailed"))
                    {
                        // The messages exist: an earlier attempt of this very turn was applied.
                        return Ok(());
                    }
                    if code(0) == Some("ConditionalCheckFailed") {
                        let old = reasons[0].item.clone().unwrap_or_default();
                        return Err(refusal_or_newer(&old, caller, ai_only, now.to_string()));
                    }
                    Err(TurnWriteError::Store(StoreError::Other(
                        format!("turn write canceled: {reasons:?}").into(),
                    )))
                }
            },
        }
    }
}

/// Why the conversation's condition failed, from its item as it was: another visitor's,
/// closed, or handed to a human agent while the turn needs the assistant (final), or open
/// and the caller's with a time already past the turn's (try again moving only the times
/// still behind).
fn refusal_or_newer(old: &Item, caller: Caller, ai_only: bool, now: String) -> TurnWriteError {
    if old.is_empty() {
        // Only a turn that may not create the conversation fails on a missing one.
        return TurnWriteError::Store(StoreError::NotFound);
    }
    if let Err(error) = conversation_item::check_access(caller, old) {
        return TurnWriteError::Store(error);
    }
    match conversation_item::status_of(old) {
        Err(error) => TurnWriteError::Store(error),
        Ok(ConversationStatus::Closed) => TurnWriteError::Store(StoreError::Closed),
        Ok(ConversationStatus::Open)
            if ai_only && old.get(IS_HUMAN_HANDLED) == Some(&AttributeValue::Bool(true)) =>
        {
            TurnWriteError::Store(StoreError::HumanHandled)
        }
        Ok(ConversationStatus::Open) => TurnWriteError::Ahead(
            MOVING
                .iter()
                .copied()
                .filter(|name| *name != VISITOR_INDEX_SK)
                .filter(|name| match old.get(*name) {
                    Some(AttributeValue::S(stored)) => *stored < now,
                    _ => true,
                })
                .collect(),
        ),
    }
}
