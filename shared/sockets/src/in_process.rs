//! The push port of the local server: its open sockets, each a channel to the task that
//! writes to it. A connection with no open socket here is gone, as `GoneException` says on
//! AWS.

use std::collections::HashMap;
use std::sync::Mutex;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use crate::port::{PushError, PushPort};

/// The frames waiting to be written to one socket.
pub type Outbox = mpsc::UnboundedReceiver<String>;

/// The sockets this process holds, by connection id.
#[derive(Debug, Default)]
pub struct InProcessSockets {
    open: Mutex<HashMap<String, mpsc::UnboundedSender<String>>>,
}

impl InProcessSockets {
    /// Registers `connection`; what is pushed to it arrives in the returned outbox. Done
    /// before the connection is recorded, so that no push finds it recorded but absent.
    pub fn register(&self, connection: &str) -> Outbox {
        let (sender, outbox) = mpsc::unbounded_channel();
        self.lock().insert(connection.to_owned(), sender);
        outbox
    }

    /// Forgets `connection`'s socket (it closed, or its handshake was refused).
    pub fn unregister(&self, connection: &str) {
        self.lock().remove(connection);
    }

    /// How many sockets are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<String>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PushPort for InProcessSockets {
    fn post<'a>(
        &'a self,
        connection: &'a str,
        frame: &'a str,
    ) -> BoxFuture<'a, Result<(), PushError>> {
        let sent = match self.lock().get(connection) {
            Some(socket) => socket.send(frame.to_owned()).map_err(|_| PushError::Gone),
            None => Err(PushError::Gone),
        };
        Box::pin(std::future::ready(sent))
    }
}
