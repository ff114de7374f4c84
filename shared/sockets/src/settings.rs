//! Where pushes go on AWS: the WebSocket API's Management API endpoint.

use chat_domain::env::{ConfigError, Env, invalid};

/// The variable naming the Management API endpoint.
pub const ENDPOINT_VAR: &str = "LIVE_MANAGEMENT_ENDPOINT";

/// How a function that pushes reaches the sockets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveSettings {
    /// `https://{api}.execute-api.{region}.amazonaws.com/{stage}` (`LIVE_MANAGEMENT_ENDPOINT`);
    /// unset: nothing is pushed (a deployment without the WebSocket API).
    pub endpoint: Option<String>,
}

impl LiveSettings {
    /// Reads them from `env`: an endpoint must be an `http(s)://` URL.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let endpoint = env
            .get(ENDPOINT_VAR)
            .map(|e| e.trim().trim_end_matches('/').to_owned())
            .filter(|e| !e.is_empty());
        if let Some(endpoint) = &endpoint {
            let scheme = endpoint.starts_with("https://") || endpoint.starts_with("http://");
            if !scheme || endpoint.contains(char::is_whitespace) {
                return Err(invalid(
                    ENDPOINT_VAR,
                    format!(
                        "{endpoint:?} is not a URL such as https://abc123.execute-api.eu-west-1.amazonaws.com/live"
                    ),
                ));
            }
        }
        Ok(Self { endpoint })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_optional_and_must_be_a_url() {
        let read = |value: &str| LiveSettings::from_env(&Env::from_pairs(&[(ENDPOINT_VAR, value)]));
        assert_eq!(
            LiveSettings::from_env(&Env::from_pairs(&[]))
                .unwrap()
                .endpoint,
            None
        );
        assert_eq!(
            read("https://abc.execute-api.eu-west-1.amazonaws.com/live/")
                .unwrap()
                .endpoint
                .as_deref(),
            Some("https://abc.execute-api.eu-west-1.amazonaws.com/live")
        );
        assert!(read("abc.execute-api.eu-west-1.amazonaws.com").is_err());
        assert!(read("wss://abc.execute-api.eu-west-1.amazonaws.com/live").is_err());
    }
}
