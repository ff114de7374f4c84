//! The API key items: a publishable key under its own text, a secret key under its SHA-256
//! (the key itself is never stored), each listed under its project in the index.

use aws_sdk_dynamodb::types::AttributeValue;
use chat_domain::Spelling;
use chat_domain::api_key::{KeyDigest, KeyKind, KeyRecord};
use chat_domain::ids::ProjectId;
use uuid::Uuid;

use crate::error::StoreError;
use crate::items::{Item, Reader, put_opt, string};
use crate::keys::{
    PARTITION_KEY, SINGLE_SK_KEY, SORT_KEY, VISITOR_INDEX_PK, VISITOR_INDEX_SK, api_key_pk,
    project_keys_gsi_pk,
};

/// The revoked flag.
pub const REVOKED: &str = "revoked";
/// The publishable key's allowed origins.
pub const ALLOWED_ORIGINS: &str = "allowedOrigins";
/// The assistant a publishable key's visitors talk to.
pub const ASSISTANT_ID: &str = "assistantId";
/// A secret key's digest, compared again after the lookup.
pub const DIGEST: &str = "digest";

/// Every attribute of a key's item; `lookup` is the publishable key or the secret key's
/// digest.
pub fn attributes(lookup: &str, record: &KeyRecord) -> Item {
    let mut item = Item::new();
    item.insert(PARTITION_KEY.into(), string(api_key_pk(lookup)));
    item.insert(SORT_KEY.into(), string(SINGLE_SK_KEY));
    item.insert("kind".into(), string(record.kind.as_str()));
    item.insert("projectId".into(), string(record.project.0.to_string()));
    item.insert("display".into(), string(record.display.clone()));
    item.insert("createdAt".into(), string(record.created_at.to_string()));
    item.insert(REVOKED.into(), AttributeValue::Bool(record.revoked));
    item.insert(
        VISITOR_INDEX_PK.into(),
        string(project_keys_gsi_pk(record.project)),
    );
    item.insert(
        VISITOR_INDEX_SK.into(),
        string(record.created_at.to_string()),
    );
    if record.kind == KeyKind::Secret {
        item.insert(DIGEST.into(), string(lookup));
    }
    put_opt(
        &mut item,
        ASSISTANT_ID,
        record.assistant.map(|a| a.to_string()),
    );
    put_opt(&mut item, "label", record.label.clone());
    if !record.allowed_origins.is_empty() {
        item.insert(
            ALLOWED_ORIGINS.into(),
            AttributeValue::L(record.allowed_origins.iter().map(string).collect()),
        );
    }
    item
}

/// A key's record from its item.
pub fn from_item(item: &Item) -> Result<KeyRecord, StoreError> {
    let r = Reader(item);
    let allowed_origins = match item.get(ALLOWED_ORIGINS) {
        None | Some(AttributeValue::Null(_)) => Vec::new(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| match v {
                AttributeValue::S(origin) => Ok(origin.clone()),
                _ => Err(StoreError::Corrupt(
                    "allowedOrigins holds a non-string".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(StoreError::Corrupt("allowedOrigins is not a list".into())),
    };
    Ok(KeyRecord {
        kind: r.spelled("kind")?,
        project: ProjectId(r.uuid("projectId")?),
        assistant: r.opt_parsed(ASSISTANT_ID, |t| Uuid::parse_str(t).ok())?,
        allowed_origins,
        label: r.opt_str("label")?.map(str::to_owned),
        revoked: r.bool(REVOKED)?,
        created_at: r.time("createdAt")?,
        display: r.str("display")?.to_owned(),
    })
}

/// The digest a secret key's item holds.
pub fn digest_of(item: &Item) -> Result<KeyDigest, StoreError> {
    Reader(item).parsed(DIGEST, KeyDigest::parse)
}

#[cfg(test)]
mod tests {
    use chat_domain::api_key::{PublishableKey, SecretKey};
    use chat_domain::timestamp::Timestamp;

    use super::*;

    #[test]
    fn keys_round_trip_and_a_secret_key_is_stored_as_its_digest_alone() {
        let project = ProjectId(Uuid::now_v7());
        let public = PublishableKey::generate(project);
        let record = KeyRecord {
            kind: KeyKind::Publishable,
            project,
            assistant: Some(Uuid::now_v7()),
            allowed_origins: vec!["https://shop.example".into()],
            label: Some("widget".into()),
            revoked: false,
            created_at: Timestamp::from_unix_millis(1_700_000_000_000),
            display: public.as_str().to_owned(),
        };
        assert_eq!(
            from_item(&attributes(public.as_str(), &record)).unwrap(),
            record
        );
        let secret = SecretKey::generate();
        let record = KeyRecord {
            kind: KeyKind::Secret,
            allowed_origins: Vec::new(),
            assistant: None,
            display: secret.hint(),
            ..record
        };
        let item = attributes(secret.digest().as_str(), &record);
        assert_eq!(from_item(&item).unwrap(), record);
        assert_eq!(digest_of(&item).unwrap(), secret.digest());
        let text = format!("{item:?}");
        assert!(
            !text.contains(&secret.expose()[3..]),
            "the key itself is never stored"
        );
    }
}
