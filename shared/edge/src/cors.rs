//! CORS: which browser origins may read the API's responses (`CORS_ALLOWED_ORIGINS`).
//!
//! API Gateway answers the preflight (`OPTIONS`) itself, but a Lambda proxy integration
//! passes the function's response through untouched, so the functions put
//! `Access-Control-Allow-Origin` on every response themselves ([`Cors::apply`], called by
//! [`crate::respond::respond`]). The local server, which has no API Gateway in front,
//! also answers the preflight ([`Cors::preflight`]) with what the template's mock
//! integration sends.

use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, HeaderMap, HeaderValue, VARY,
};

/// The response headers a browser script may read besides the CORS-safelisted ones: the
/// request id, the conversation a completion was stored in, and what a client needs to
/// back off or re-authenticate.
pub const EXPOSE_HEADERS: &str = "x-request-id, x-conversation-id, retry-after, www-authenticate, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset";

/// The request headers a preflight allows (as template.yaml's preflights do).
pub const ALLOW_HEADERS: &str = "authorization,content-type,x-request-id";

/// How long a browser may cache a preflight's answer, in seconds (as template.yaml's).
pub const MAX_AGE_SECS: u32 = 600;

/// Which origins may read responses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Cors {
    /// No cross-origin access: no CORS header at all (`CORS_ALLOWED_ORIGINS` unset).
    #[default]
    Disabled,
    /// Any origin (`*`): `Access-Control-Allow-Origin: *`. Safe for this API because
    /// it authenticates with a bearer token, never with cookies.
    AnyOrigin,
    /// These origins (`https://a.example,https://b.example`): the request's `Origin` is
    /// echoed when it is one of them.
    Origins(Vec<String>),
}

/// `entry` as a browser sends it in `Origin` (`http(s)://host[:port]`, no path), when it
/// is one: the deployment's allowed origins and a publishable key's are read alike.
pub fn parse_origin(entry: &str) -> Option<String> {
    // A browser's Origin never ends in a slash; a copied URL often does.
    let origin = entry.trim().trim_end_matches('/');
    let host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))?;
    let valid = !host.is_empty()
        && !host.contains(['/', '*', '?', '#'])
        && !host.chars().any(char::is_whitespace);
    valid.then(|| origin.to_owned())
}

impl Cors {
    /// Parses `*` or a comma-separated list of `http(s)://host[:port]` origins.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "*" {
            return Ok(Self::AnyOrigin);
        }
        let mut origins = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let origin = parse_origin(entry).ok_or_else(|| {
                format!(
                    "{entry:?} is not an origin such as https://www.example.com (or use * alone)"
                )
            })?;
            origins.push(origin);
        }
        if origins.is_empty() {
            return Err("no origin given (use * for any)".to_owned());
        }
        Ok(Self::Origins(origins))
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it may
    /// read the response.
    pub fn allow_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        match self {
            Self::Disabled => None,
            Self::AnyOrigin => Some(HeaderValue::from_static("*")),
            Self::Origins(allowed) => {
                let origin = origin?;
                let text = origin.to_str().ok()?;
                // Scheme and host are case-insensitive; browsers send them lower-case.
                allowed
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(text))
                    .then(|| origin.clone())
            }
        }
    }

    /// Adds the CORS headers to the response to a request from `origin` (its `Origin`
    /// header). `Vary: Origin` goes on every response once CORS is configured,
    /// so a cache never hands one origin's answer to another; the rest only when the
    /// origin is allowed.
    pub fn apply(&self, origin: Option<&HeaderValue>, response_headers: &mut HeaderMap) {
        if *self == Self::Disabled {
            return;
        }
        response_headers.append(VARY, HeaderValue::from_static("Origin"));
        // A publishable key's own allowed origins decided already (`api_keys`).
        if response_headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
            return;
        }
        if let Some(allow) = self.allow_origin(origin) {
            response_headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
            response_headers.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSE_HEADERS),
            );
        }
    }

    /// The headers of a preflight answer to `origin` for a route taking `methods`
    /// (`GET,OPTIONS`), as the template's preflights send them: the allowed methods, headers and cache
    /// time always, and `Access-Control-Allow-Origin` only for an allowed origin.
    pub fn preflight(&self, origin: Option<&HeaderValue>, methods: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(methods),
        );
        headers.insert(
            ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(ALLOW_HEADERS),
        );
        headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECS));
        headers.insert(VARY, HeaderValue::from_static("Origin"));
        if let Some(allow) = self.allow_origin(origin) {
            headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &'static str) -> HeaderValue {
        HeaderValue::from_static(text)
    }

    #[test]
    fn parses_a_star_or_a_list_of_origins() {
        assert_eq!(Cors::parse(" * ").unwrap(), Cors::AnyOrigin);
        assert_eq!(
            Cors::parse("https://a.example, http://localhost:5173/").unwrap(),
            Cors::Origins(vec![
                "https://a.example".into(),
                "http://localhost:5173".into()
            ])
        );
        for bad in [
            "",
            ",",
            "a.example",
            "https://",
            "https://a.example/path",
            "*,https://a.example",
        ] {
            assert!(Cors::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_listed_origin_is_echoed_and_others_get_no_access() {
        let cors = Cors::parse("https://shop.example,https://www.shop.example").unwrap();
        let mut headers = HeaderMap::new();
        cors.apply(Some(&origin("https://WWW.shop.example")), &mut headers);
        assert_eq!(
            headers[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://WWW.shop.example"
        );
        assert_eq!(headers[ACCESS_CONTROL_EXPOSE_HEADERS], EXPOSE_HEADERS);
        assert_eq!(headers[VARY], "Origin");

        let mut headers = HeaderMap::new();
        cors.apply(Some(&origin("https://evil.example")), &mut headers);
        assert!(!headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
        assert!(!headers.contains_key(ACCESS_CONTROL_EXPOSE_HEADERS));
        assert_eq!(
            headers[VARY], "Origin",
            "the answer still depends on Origin"
        );
    }

    #[test]
    fn any_origin_answers_a_star_and_disabled_adds_nothing() {
        let mut headers = HeaderMap::new();
        Cors::AnyOrigin.apply(Some(&origin("https://x.example")), &mut headers);
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        let mut headers = HeaderMap::new();
        Cors::Disabled.apply(Some(&origin("https://x.example")), &mut headers);
        assert!(headers.is_empty());
    }

    #[test]
    fn a_preflight_names_methods_headers_and_cache_time() {
        let cors = Cors::parse("https://shop.example").unwrap();
        let headers = cors.preflight(Some(&origin("https://shop.example")), "POST,OPTIONS");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "https://shop.example");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_METHODS], "POST,OPTIONS");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_HEADERS], ALLOW_HEADERS);
        assert_eq!(headers[ACCESS_CONTROL_MAX_AGE], "600");
        let headers = cors.preflight(Some(&origin("https://evil.example")), "POST,OPTIONS");
        assert!(!headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    }
}
