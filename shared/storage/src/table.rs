//! The table's definition, in one place: the local server and tests create it with
//! [`create_table`], and `template.yaml` declares the same keys, indexes, TTL attribute and
//! stream (new and old images: what the widget's live updates are pushed from, DESIGN.md
//! "Live updates").

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use chat_domain::error::DisplayChain;

use crate::keys::{
    PARTITION_KEY, PROJECT_INDEX, PROJECT_INDEX_PK, PROJECT_INDEX_SK, SORT_KEY, TTL_ATTRIBUTE,
    VISITOR_INDEX, VISITOR_INDEX_PK, VISITOR_INDEX_SK,
};

/// Why the table could not be created.
#[derive(Debug, thiserror::Error)]
#[error("creating table {table}: {message}")]
pub struct CreateTableError {
    table: String,
    message: String,
}

/// The table's stream: both images, since a handoff is told from other updates of a
/// conversation by what changed.
fn stream_specification() -> StreamSpecification {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .expect("stream specification")
}

/// Creates the table with its indexes, stream and TTL; an existing table is left as it is.
pub async fn create_table(client: &Client, table: &str) -> Result<(), CreateTableError> {
    create(client, table, true).await
}

/// The same table without its stream: the benchmark's. On AWS a table's stream costs a write
/// nothing, but the embedded engine looks for the stream's newest record on every write (a
/// scan of all of them), which the benchmark would measure as the functions' own time once
/// its data grows.
pub async fn create_table_without_stream(
    client: &Client,
    table: &str,
) -> Result<(), CreateTableError> {
    create(client, table, false).await
}

async fn create(client: &Client, table: &str, stream: bool) -> Result<(), CreateTableError> {
    let fail = |message: String| CreateTableError {
        table: table.to_owned(),
        message,
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key schema element")
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute definition")
    };
    let index = |name: &str, pk: &str, sk: &str| {
        GlobalSecondaryIndex::builder()
            .index_name(name)
            .key_schema(key(pk, KeyType::Hash))
            .key_schema(key(sk, KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("index definition")
    };
    let created = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PARTITION_KEY, KeyType::Hash))
        .key_schema(key(SORT_KEY, KeyType::Range))
        .attribute_definitions(attribute(PARTITION_KEY))
        .attribute_definitions(attribute(SORT_KEY))
        .attribute_definitions(attribute(VISITOR_INDEX_PK))
        .attribute_definitions(attribute(VISITOR_INDEX_SK))
        .attribute_definitions(attribute(PROJECT_INDEX_PK))
        .global_secondary_indexes(index(VISITOR_INDEX, VISITOR_INDEX_PK, VISITOR_INDEX_SK))
        .global_secondary_indexes(index(PROJECT_INDEX, PROJECT_INDEX_PK, PROJECT_INDEX_SK))
        .set_stream_specification(stream.then(stream_specification))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(error) if error.code() == Some("ResourceInUseException") => return Ok(()),
        Err(error) => return Err(fail(DisplayChain(&error).to_string())),
    }
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .expect("ttl specification"),
        )
        .send()
        .await
        .map_err(|e| fail(DisplayChain(&e).to_string()))?;
    Ok(())
}

/// The ARN of the table's stream, turning the stream on first when the table has none (a
/// table created before live updates were pushed from it).
pub async fn stream_arn(client: &Client, table: &str) -> Result<String, CreateTableError> {
    let fail = |message: String| CreateTableError {
        table: table.to_owned(),
        message,
    };
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| fail(DisplayChain(&e).to_string()))?;
    let description = described.table();
    let enabled = description
        .and_then(|t| t.stream_specification())
        .is_some_and(|s| s.stream_enabled());
    if enabled && let Some(arn) = description.and_then(|t| t.latest_stream_arn()) {
        return Ok(arn.to_owned());
    }
    let updated = client
        .update_table()
        .table_name(table)
        .stream_specification(stream_specification())
        .send()
        .await
        .map_err(|e| fail(DisplayChain(&e).to_string()))?;
    updated
        .table_description()
        .and_then(|t| t.latest_stream_arn())
        .map(str::to_owned)
        .ok_or_else(|| fail("the table has no stream after turning it on".to_owned()))
}
