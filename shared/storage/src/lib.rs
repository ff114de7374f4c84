//! Where the data lives: the ports (small traits, one per need) and the one DynamoDB adapter,
//! which owns every key and attribute name of the single table and the one writer of each
//! item kind.
//!
//! `ports` are what handlers call; `dynamo`, `turns`, `agents`, `counters`, `connections`, `projects` and `import`
//! are the adapter's operations; `items` turns domain objects into items and back; `keys`
//! and `table` are the layout; `client` and `aws_https` build the SDK client.

pub mod agents;
pub mod api_keys;
pub mod aws_https;
pub mod backfill;
pub mod changes;
pub mod client;
pub mod connections;
pub mod conversations;
pub mod counters;
pub mod dynamo;
pub mod error;
pub mod feedback;
pub mod import;
pub mod items;
pub mod keys;
pub mod knowledge;
pub mod messages;
pub mod ports;
pub mod projects;
pub mod settings;
pub mod table;
pub mod turns;
pub mod visitors;

pub use dynamo::DynamoStore;
pub use error::StoreError;
