//! The table's definition, in one place: the local server and tests create it with
//! [`create_table`], and `template.yaml` declares the same keys, index and TTL attribute.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
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

/// Creates the table with its indexes and TTL; an existing table is left as it is.
pub async fn create_table(client: &Client, table: &str) -> Result<(), CreateTableError> {
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
