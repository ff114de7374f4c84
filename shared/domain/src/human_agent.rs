//! The person of the site's team who took a conversation over: named by the conversation
//! and by each message they wrote.

use serde::{Deserialize, Serialize};

/// A human agent who took a conversation over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanAgent {
    /// Display name.
    pub name: Option<String>,
    /// Avatar URL.
    pub image: Option<String>,
}
