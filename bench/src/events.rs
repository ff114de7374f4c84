//! API Gateway events for the benchmark's own data: a sample event of `events/` with
//! another conversation, token or body, so every request is shaped as API Gateway sends it.

use uuid::Uuid;

/// A sample event from `events/`.
pub fn sample(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("events/{name}: {e}"))
}

/// What to change in a sample event.
#[derive(Clone, Debug, Default)]
pub struct Changes<'a> {
    /// The conversation of the path (`{conversationId}` and the path itself).
    pub conversation: Option<Uuid>,
    /// The session token of `Authorization`.
    pub token: Option<&'a str>,
    /// The JSON body.
    pub body: Option<serde_json::Value>,
}

/// `template` (an API Gateway REST proxy event) with `changes` applied.
pub fn with(template: &str, changes: &Changes) -> String {
    let mut event: serde_json::Value = serde_json::from_str(template).expect("event JSON");
    if let Some(id) = changes.conversation {
        let id = id.to_string();
        let resource = event["resource"].as_str().unwrap_or_default().to_owned();
        let path = resource.replace("{conversationId}", &id);
        event["path"] = path.clone().into();
        event["requestContext"]["path"] = format!("/prod{path}").into();
        event["pathParameters"]["conversationId"] = id.into();
    }
    if let Some(token) = changes.token {
        let bearer = format!("Bearer {token}");
        event["headers"]["Authorization"] = bearer.clone().into();
        event["multiValueHeaders"]["Authorization"] = serde_json::json!([bearer]);
    }
    if let Some(body) = &changes.body {
        event["body"] = body.to_string().into();
    }
    event.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_event_gets_another_conversation_token_and_body() {
        let id = Uuid::now_v7();
        let event = with(
            &sample("chat-completion-send-message.json"),
            &Changes {
                conversation: Some(id),
                token: Some("t.o.k"),
                body: Some(serde_json::json!({"content": "Hi", "stream": false})),
            },
        );
        let event: serde_json::Value = serde_json::from_str(&event).unwrap();
        assert_eq!(event["path"], format!("/v2/conversations/{id}/messages"));
        assert_eq!(
            event["requestContext"]["path"],
            format!("/prod/v2/conversations/{id}/messages")
        );
        assert_eq!(event["pathParameters"]["conversationId"], id.to_string());
        assert_eq!(event["headers"]["Authorization"], "Bearer t.o.k");
        assert_eq!(
            event["multiValueHeaders"]["Authorization"],
            serde_json::json!(["Bearer t.o.k"])
        );
        let body: serde_json::Value =
            serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"content": "Hi", "stream": false}));
        // What was not asked for stays as API Gateway sent it.
        assert_eq!(event["httpMethod"], "POST");
        assert_eq!(event["headers"]["Content-Type"], "application/json");
    }

    #[test]
    fn an_event_without_a_conversation_keeps_its_path_and_query() {
        let event = with(
            &sample("conversations-list.json"),
            &Changes {
                token: Some("x.y.z"),
                ..Changes::default()
            },
        );
        let event: serde_json::Value = serde_json::from_str(&event).unwrap();
        assert_eq!(event["path"], "/v2/conversations");
        assert_eq!(event["pathParameters"], serde_json::Value::Null);
        assert_eq!(event["queryStringParameters"]["limit"], "20");
        assert_eq!(event["headers"]["Authorization"], "Bearer x.y.z");
    }
}
