//! The bodies of the agent routes (API.md §12): a handoff names the human agent, an agent
//! message carries its text. Shape errors are 400 naming the field (dotted inside
//! `humanAgent`); limits are 422.

use serde_json::Value;

use crate::error::ApiError;
use crate::human_agent::HumanAgent;
use crate::input::completion::message_content;
use crate::input::required_object;

/// The longest agent name, in characters (after trimming).
pub const MAX_AGENT_NAME_CHARS: usize = 100;
/// The longest agent image URL, in characters.
pub const MAX_AGENT_IMAGE_CHARS: usize = 2_048;

/// A valid handoff request: the agent who takes the conversation over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffRequest {
    /// The agent: a name always, an https image URL or none.
    pub agent: HumanAgent,
}

impl HandoffRequest {
    /// Parses `{"humanAgent": {"name": "…", "image": "https://…" | null}}`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let body = required_object(bytes)?;
        let agent = match body.get("humanAgent") {
            None | Some(Value::Null) => {
                return Err(ApiError::invalid("humanAgent", "humanAgent is required"));
            }
            Some(Value::Object(agent)) => agent,
            Some(_) => {
                return Err(ApiError::invalid(
                    "humanAgent",
                    "humanAgent must be an object",
                ));
            }
        };
        let name = match agent.get("name") {
            None | Some(Value::Null) => {
                return Err(ApiError::invalid(
                    "humanAgent.name",
                    "humanAgent.name is required",
                ));
            }
            Some(Value::String(name)) => name.trim(),
            Some(_) => {
                return Err(ApiError::invalid(
                    "humanAgent.name",
                    "humanAgent.name must be a string",
                ));
            }
        };
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_AGENT_NAME_CHARS {
            return Err(ApiError::validation(
                "humanAgent.name",
                format!(
                    "humanAgent.name must be 1 to {MAX_AGENT_NAME_CHARS} characters, blanks trimmed (got {chars})"
                ),
            ));
        }
        let image = match agent.get("image") {
            None | Some(Value::Null) => None,
            Some(Value::String(image)) => Some(https_url(image, "humanAgent.image")?),
            Some(_) => {
                return Err(ApiError::invalid(
                    "humanAgent.image",
                    "humanAgent.image must be a string or null",
                ));
            }
        };
        Ok(Self {
            agent: HumanAgent {
                name: Some(name.to_owned()),
                image,
            },
        })
    }
}

/// A valid agent message: its text, 1 to 10,000 characters, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentMessageRequest {
    /// What the agent wrote.
    pub content: String,
}

impl AgentMessageRequest {
    /// Parses `{"content": "…"}`.
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        let body = required_object(bytes)?;
        let content = message_content(body.get("content"), "content")?;
        Ok(Self { content })
    }
}

/// An absolute `https://` URL with a host, no blanks or control characters, within
/// [`MAX_AGENT_IMAGE_CHARS`]: the widget puts it in an `<img src>`, so nothing else (no
/// `javascript:`, no `data:`, no plain http on an https page) is taken.
fn https_url(raw: &str, field: &str) -> Result<String, ApiError> {
    let chars = raw.chars().count();
    if chars > MAX_AGENT_IMAGE_CHARS {
        return Err(ApiError::validation(
            field,
            format!("{field} must be at most {MAX_AGENT_IMAGE_CHARS} characters (got {chars})"),
        ));
    }
    let host = raw
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .map(|_| &raw[8..])
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default());
    let clean = !raw.chars().any(|c| c.is_whitespace() || c.is_control());
    match host {
        Some(host) if clean && !host.is_empty() && !host.starts_with(':') => Ok(raw.to_owned()),
        _ => Err(ApiError::validation(
            field,
            format!("{field} must be an https URL"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn refusal(result: Result<impl std::fmt::Debug, ApiError>) -> (u16, String) {
        let error = result.unwrap_err();
        let field = error.details().unwrap()["field"]
            .as_str()
            .unwrap()
            .to_owned();
        (error.status().as_u16(), field)
    }

    fn handoff(value: Value) -> Result<HandoffRequest, ApiError> {
        HandoffRequest::parse(value.to_string().as_bytes())
    }

    #[test]
    fn a_handoff_names_its_agent_trimmed_with_an_optional_https_image() {
        let request =
            handoff(json!({"humanAgent": {"name": "  Dana ", "image": null}, "extra": 1})).unwrap();
        assert_eq!(
            request.agent,
            HumanAgent {
                name: Some("Dana".into()),
                image: None
            }
        );
        let image = "https://cdn.example/dana.png?size=64";
        let request = handoff(json!({"humanAgent": {"name": "Dana", "image": image}})).unwrap();
        assert_eq!(request.agent.image.as_deref(), Some(image));
        let longest = format!("https://cdn.example/{}", "a".repeat(2_048 - 20));
        assert!(
            handoff(json!({"humanAgent": {"name": "é".repeat(100), "image": longest}})).is_ok()
        );
    }

    #[test]
    fn handoff_shapes_are_400_and_limits_422_each_naming_its_field() {
        assert_eq!(refusal(HandoffRequest::parse(b"")), (400, "body".into()));
        assert_eq!(refusal(handoff(json!([1]))), (400, "body".into()));
        assert_eq!(refusal(handoff(json!({}))), (400, "humanAgent".into()));
        assert_eq!(
            refusal(handoff(json!({"humanAgent": "Dana"}))),
            (400, "humanAgent".into())
        );
        assert_eq!(
            refusal(handoff(json!({"humanAgent": {}}))),
            (400, "humanAgent.name".into())
        );
        assert_eq!(
            refusal(handoff(json!({"humanAgent": {"name": 7}}))),
            (400, "humanAgent.name".into())
        );
        assert_eq!(
            refusal(handoff(json!({"humanAgent": {"name": "Dana", "image": 7}}))),
            (400, "humanAgent.image".into())
        );
        for name in ["", "   ", &"x".repeat(101)] {
            assert_eq!(
                refusal(handoff(json!({"humanAgent": {"name": name}}))),
                (422, "humanAgent.name".into()),
                "{name:?}"
            );
        }
        let too_long = format!("https://cdn.example/{}", "a".repeat(2_048 - 19));
        for image in [
            "http://cdn.example/dana.png",
            "javascript:alert(1)",
            "data:image/png;base64,AAAA",
            "https://",
            "https:///path",
            "https://cdn.example/a b.png",
            "//cdn.example/dana.png",
            too_long.as_str(),
        ] {
            assert_eq!(
                refusal(handoff(
                    json!({"humanAgent": {"name": "Dana", "image": image}})
                )),
                (422, "humanAgent.image".into()),
                "{image:?}"
            );
        }
    }

    #[test]
    fn an_agent_message_is_1_to_10000_characters_as_given() {
        let parse = |value: Value| AgentMessageRequest::parse(value.to_string().as_bytes());
        assert_eq!(parse(json!({"content": " Hi "})).unwrap().content, " Hi ");
        assert!(parse(json!({"content": "é".repeat(10_000)})).is_ok());
        assert_eq!(refusal(parse(json!({}))), (400, "content".into()));
        assert_eq!(
            refusal(parse(json!({"content": 1}))),
            (400, "content".into())
        );
        assert_eq!(
            refusal(AgentMessageRequest::parse(b"{")),
            (400, "body".into())
        );
        for content in [String::new(), "é".repeat(10_001)] {
            assert_eq!(
                refusal(parse(json!({"content": content}))),
                (422, "content".into())
            );
        }
    }
}
