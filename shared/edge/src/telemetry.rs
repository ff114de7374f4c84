//! Logging: JSON lines on Lambda, readable text locally, at the level `LogSettings` read
//! (`LOG_LEVEL`, or Lambda's `AWS_LAMBDA_LOG_LEVEL`).

use tracing::Level;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::settings::{DEFAULT_LOG_LEVEL, LogFormat, LogSettings};

/// Dependencies that write request or response bodies (prompts, answers, stored
/// messages, the `Authorization` header) at TRACE: `lambda_runtime` logs every raw
/// event it receives, the HTTP stacks their payloads. They are held at DEBUG whatever
/// `LOG_LEVEL` asks, so no level setting puts visitors' text or tokens in the logs.
pub const BODY_LOGGING_TARGETS: [&str; 8] = [
    "lambda_runtime",
    "lambda_runtime_api_client",
    "lambda_http",
    "aws_smithy_runtime",
    "aws_smithy_http_client",
    "hyper",
    "h2",
    "reqwest",
];

/// The filter for a `LOG_LEVEL` value (the default when it does not parse).
pub fn level_filter(level: &str) -> Targets {
    level
        .parse()
        .unwrap_or_else(|_| DEFAULT_LOG_LEVEL.parse().expect("default log level parses"))
}

/// The second filter every subscriber gets: [`BODY_LOGGING_TARGETS`] at DEBUG at most.
pub fn body_logging_cap() -> Targets {
    BODY_LOGGING_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |targets, target| targets.with_target(*target, Level::DEBUG),
    )
}

/// Installs the global subscriber once; later calls are no-ops.
pub fn init(settings: &LogSettings) {
    let registry = tracing_subscriber::registry()
        .with(level_filter(&settings.level))
        .with(body_logging_cap());
    let result = match settings.format {
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_span_list(false)
                    .with_target(false),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init(),
    };
    // Already installed (tests, or the local server calling twice): keep the first.
    let _ = result;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_everywhere_still_holds_body_logging_targets_at_debug() {
        let level = level_filter("trace");
        let cap = body_logging_cap();
        assert!(level.would_enable("lambda_runtime::layers::api_response", &Level::TRACE));
        for target in [
            "lambda_runtime::layers::api_response",
            "aws_smithy_runtime::client::orchestrator",
            "hyper::proto::h1",
        ] {
            assert!(!cap.would_enable(target, &Level::TRACE), "{target}");
            assert!(cap.would_enable(target, &Level::DEBUG), "{target}");
        }
        assert!(cap.would_enable("chat_edge::respond", &Level::TRACE));
    }
}
