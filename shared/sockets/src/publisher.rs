//! Sends a frame to every socket of a conversation: one Query lists them, the posts go out
//! concurrently (at most [`MAX_CONCURRENT_POSTS`] at once), a gone connection is forgotten,
//! and nothing fails the write that caused the push (what goes wrong is logged with its
//! cause). The writes themselves push nothing: the table's stream brings each change to
//! [`Publisher::announce`] (the `push` function on AWS, the local server's follower of the
//! same stream), so a write's latency does not depend on how many sockets listen.

use std::sync::Arc;

use chat_domain::ids::ProjectId;
use chat_domain::live::LiveFrame;
use chat_domain::message::Message;
use chat_domain::timestamp::Timestamp;
use chat_storage::changes::LiveChange;
use chat_storage::ports::ConnectionStore;
use futures_util::stream::{self, StreamExt};
use uuid::Uuid;

#[cfg(feature = "management")]
use crate::management::ManagementApi;
use crate::port::{PushError, PushPort};
#[cfg(feature = "management")]
use crate::settings::LiveSettings;

/// The most posts in flight for one push: enough that a conversation open in a few hundred
/// tabs is served in a handful of post latencies, few enough to stay within the Management
/// API's per-account rate and the function's sockets.
pub const MAX_CONCURRENT_POSTS: usize = 64;

/// What a push did, connection by connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Frames that arrived.
    pub delivered: usize,
    /// Connections found gone, and forgotten.
    pub gone: usize,
    /// Posts that failed otherwise (logged; the connection is kept).
    pub failed: usize,
    /// The connections could not be listed, so nothing was sent: the one failure after
    /// which telling the change again reaches nobody twice.
    pub unlisted: bool,
}

/// Sends frames to the sockets of conversations.
pub struct Publisher<S> {
    store: S,
    port: Arc<dyn PushPort>,
}

enum Outcome {
    Delivered,
    Gone,
    Failed,
}

impl<S: ConnectionStore> Publisher<S> {
    /// A publisher finding connections in `store` and posting through `port`.
    pub fn new(store: S, port: Arc<dyn PushPort>) -> Self {
        Self { store, port }
    }

    /// The publisher of a Lambda function: through the Management API at the endpoint
    /// `settings` name, with the process's SDK configuration; `None` when they name none
    /// (a deployment without the WebSocket API pushes nothing).
    #[cfg(feature = "management")]
    pub fn through_management_api(
        store: S,
        sdk: &aws_config::SdkConfig,
        settings: &LiveSettings,
    ) -> Option<Self> {
        let endpoint = settings.endpoint.as_deref()?;
        Some(Self::new(
            store,
            Arc::new(ManagementApi::new(sdk, endpoint)),
        ))
    }

    /// Sends `frame` to every socket of its conversation in `project`.
    pub async fn publish(&self, project: ProjectId, frame: &LiveFrame) -> Delivery {
        let conversation_id = frame.conversation_id();
        let now = Timestamp::now().unix_seconds();
        let connections = match self.store.connections(project, conversation_id, now).await {
            Ok(connections) => connections,
            Err(error) => {
                tracing::warn!(%conversation_id, %error, "listing the sockets to push to failed");
                return Delivery {
                    unlisted: true,
                    ..Delivery::default()
                };
            }
        };
        if connections.is_empty() {
            return Delivery::default();
        }
        let text = frame.to_text();
        let text = text.as_str();
        let outcomes: Vec<Outcome> = stream::iter(connections)
            .map(|connection| self.push_one(project, conversation_id, connection, text))
            .buffer_unordered(MAX_CONCURRENT_POSTS)
            .collect()
            .await;
        let mut delivery = Delivery::default();
        for outcome in outcomes {
            match outcome {
                Outcome::Delivered => delivery.delivered += 1,
                Outcome::Gone => delivery.gone += 1,
                Outcome::Failed => delivery.failed += 1,
            }
        }
        tracing::info!(
            %conversation_id,
            delivered = delivery.delivered,
            gone = delivery.gone,
            failed = delivery.failed,
            "pushed"
        );
        delivery
    }

    /// Tells the sockets of its conversation of `change`.
    pub async fn announce(&self, change: LiveChange) -> Delivery {
        let (project, frame) = match change {
            LiveChange::MessageStored { project, message } => {
                (project, LiveFrame::new_message(*message))
            }
            LiveChange::HandedOff {
                project,
                conversation_id,
            } => (project, LiveFrame::human_assigned(conversation_id)),
        };
        self.publish(project, &frame).await
    }

    /// Sends `new_message` with `message` (a stored `user` or `human_agent` message) to
    /// the sockets of its conversation.
    pub async fn new_message(&self, project: ProjectId, message: &Message) -> Delivery {
        self.publish(project, &LiveFrame::new_message(message.clone()))
            .await
    }

    /// Sends `human_assigned` to the sockets of `conversation_id`.
    pub async fn human_assigned(&self, project: ProjectId, conversation_id: Uuid) -> Delivery {
        self.publish(project, &LiveFrame::human_assigned(conversation_id))
            .await
    }

    async fn push_one(
        &self,
        project: ProjectId,
        conversation_id: Uuid,
        connection: String,
        text: &str,
    ) -> Outcome {
        let connection = connection.as_str();
        match self.port.post(connection, text).await {
            Ok(()) => Outcome::Delivered,
            Err(PushError::Gone) => {
                if let Err(error) = self
                    .store
                    .forget_connection(project, conversation_id, connection)
                    .await
                {
                    // Its TTL sweeps it, and the next push tries again.
                    tracing::warn!(%conversation_id, connection, %error, "forgetting a gone socket failed");
                }
                Outcome::Gone
            }
            Err(PushError::Failed(cause)) => {
                tracing::warn!(%conversation_id, connection, error = %cause, "push failed");
                Outcome::Failed
            }
        }
    }
}
