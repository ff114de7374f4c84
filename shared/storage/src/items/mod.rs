//! How domain objects become items and back: one module per item kind, each the one writer
//! of its kind (production, the seed data, the tests and the benchmark all write through
//! these). An absent attribute is a `null` in the API. `parts` and `metadata` are stored as
//! JSON text, so that what the API returns is byte for byte what was written.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chat_domain::Spelling;
use chat_domain::human_agent::HumanAgent;
use chat_domain::message::RawJson;
use chat_domain::timestamp::Timestamp;
use uuid::Uuid;

use crate::error::StoreError;
use crate::keys::{PARTITION_KEY, SORT_KEY};

pub mod api_key;
pub mod connection;
pub mod conversation;
pub mod message;
pub mod message_pointer;
pub mod page;
pub mod project;
pub mod qna;
pub mod source;
pub mod visitor;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// A string attribute: keys and most values of this table are strings.
pub fn string(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// The key of an item: its `pk` and `sk`.
pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), string(pk)),
        (SORT_KEY.to_owned(), string(sk)),
    ])
}

/// The `pk` and `sk` of an item, empty where missing: for ordering and filtering.
pub fn key_of(item: &Item) -> (&str, &str) {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(value)) => value.as_str(),
        _ => "",
    };
    (text(PARTITION_KEY), text(SORT_KEY))
}

pub(crate) fn put_opt(item: &mut Item, name: &str, value: Option<String>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), string(value));
    }
}

pub(crate) fn human_agent_value(agent: &HumanAgent) -> AttributeValue {
    let mut map = HashMap::new();
    if let Some(name) = &agent.name {
        map.insert("name".to_owned(), string(name.clone()));
    }
    if let Some(image) = &agent.image {
        map.insert("image".to_owned(), string(image.clone()));
    }
    AttributeValue::M(map)
}

/// Reads typed attributes out of an item, naming what is wrong when it is.
pub(crate) struct Reader<'a>(pub &'a Item);

impl Reader<'_> {
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(value)) => Ok(Some(value)),
            Some(_) => Err(StoreError::Corrupt(format!("{name} is not a string"))),
        }
    }

    pub fn str(&self, name: &str) -> Result<&str, StoreError> {
        self.opt_str(name)?
            .ok_or_else(|| StoreError::Corrupt(format!("{name} is missing")))
    }

    pub fn parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, StoreError> {
        parse(self.str(name)?).ok_or_else(|| StoreError::Corrupt(format!("{name} does not parse")))
    }

    pub fn opt_parsed<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, StoreError> {
        self.opt_str(name)?
            .map(|text| {
                parse(text).ok_or_else(|| StoreError::Corrupt(format!("{name} does not parse")))
            })
            .transpose()
    }

    pub fn spelled<T: Spelling>(&self, name: &str) -> Result<T, StoreError> {
        self.parsed(name, T::parse)
    }

    pub fn opt_spelled<T: Spelling>(&self, name: &str) -> Result<Option<T>, StoreError> {
        self.opt_parsed(name, T::parse)
    }

    pub fn uuid(&self, name: &str) -> Result<Uuid, StoreError> {
        self.parsed(name, |t| Uuid::parse_str(t).ok())
    }

    pub fn time(&self, name: &str) -> Result<Timestamp, StoreError> {
        self.parsed(name, Timestamp::parse)
    }

    pub fn opt_time(&self, name: &str) -> Result<Option<Timestamp>, StoreError> {
        self.opt_parsed(name, Timestamp::parse)
    }

    pub fn opt_json(&self, name: &str) -> Result<Option<RawJson>, StoreError> {
        self.opt_parsed(name, RawJson::parse)
    }

    pub fn opt_number(&self, name: &str) -> Result<Option<&str>, StoreError> {
        match self.0.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(n)) => Ok(Some(n)),
            Some(_) => Err(StoreError::Corrupt(format!("{name} is not a number"))),
        }
    }

    pub fn bool(&self, name: &str) -> Result<bool, StoreError> {
        match self.0.get(name) {
            None => Ok(false),
            Some(AttributeValue::Bool(value)) => Ok(*value),
            Some(_) => Err(StoreError::Corrupt(format!("{name} is not a boolean"))),
        }
    }

    pub fn human_agent(&self) -> Result<Option<HumanAgent>, StoreError> {
        match self.0.get("humanAgent") {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::M(map)) => {
                let field = |key: &str| match map.get(key) {
                    Some(AttributeValue::S(v)) => Some(v.clone()),
                    _ => None,
                };
                Ok(Some(HumanAgent {
                    name: field("name"),
                    image: field("image"),
                }))
            }
            Some(_) => Err(StoreError::Corrupt("humanAgent is not a map".into())),
        }
    }
}
