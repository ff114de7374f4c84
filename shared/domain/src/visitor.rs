//! Visitors (API.md §8): anonymous ones, which a widget's first `identity/init` creates, and
//! identified ones, described by the claims of a token a site's backend minted.

use serde::Serialize;
use strum::{EnumString, IntoStaticStr};
use uuid::Uuid;

/// The longest device id (`saVid`) a widget may send, in characters.
pub const MAX_SA_VID_CHARS: usize = 100;

/// How a visitor is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, IntoStaticStr, EnumString)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum VisitorType {
    /// Known only by the device it came from.
    Anonymous,
    /// Known to the site: its backend minted the token.
    Identified,
}

/// A visitor as the API writes it: all six keys always present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Visitor {
    /// Always `"visitor"`.
    pub object: &'static str,
    /// The visitor id (a session token's `sub`).
    pub id: Uuid,
    /// Anonymous or identified.
    #[serde(rename = "type")]
    pub kind: VisitorType,
    /// The site's own id for it (`ext`).
    pub external_id: Option<String>,
    /// Its name (`name`).
    pub name: Option<String>,
    /// Its picture (`picture`).
    pub avatar_url: Option<String>,
}

impl Visitor {
    /// An anonymous visitor.
    pub fn anonymous(id: Uuid) -> Self {
        Self {
            object: "visitor",
            id,
            kind: VisitorType::Anonymous,
            external_id: None,
            name: None,
            avatar_url: None,
        }
    }
}

/// A widget's device id: 1 to 100 characters, chosen by the client (a UUID v4 it keeps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceId(String);

impl DeviceId {
    /// `text`, when it is 1 to 100 characters (`None`: too long; the caller refuses an
    /// empty one as missing).
    pub fn parse(text: &str) -> Result<Self, crate::ApiError> {
        let chars = text.chars().count();
        if text.trim().is_empty() {
            return Err(crate::ApiError::invalid("saVid", "saVid is required"));
        }
        if chars > MAX_SA_VID_CHARS {
            return Err(crate::ApiError::validation(
                "saVid",
                format!("saVid must be at most {MAX_SA_VID_CHARS} characters (got {chars})"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visitor_has_all_six_keys() {
        let json = serde_json::to_value(Visitor::anonymous(Uuid::nil())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"object": "visitor", "id": Uuid::nil(), "type": "anonymous",
                "externalId": null, "name": null, "avatarUrl": null})
        );
    }

    #[test]
    fn device_ids_are_one_to_a_hundred_characters() {
        assert!(DeviceId::parse("d").is_ok());
        assert!(DeviceId::parse(&"é".repeat(100)).is_ok());
        assert_eq!(DeviceId::parse("").unwrap_err().status(), 400);
        assert_eq!(DeviceId::parse("  ").unwrap_err().status(), 400);
        assert_eq!(DeviceId::parse(&"é".repeat(101)).unwrap_err().status(), 422);
    }
}
