//! Logging: JSON lines on Lambda, readable text locally; the level from `LOG_LEVEL`
//! (a target list such as `info,aws_smithy_runtime=warn`).

use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

use crate::config::LogFormat;

/// The filter used when `LOG_LEVEL` is unset: our lines at info, the SDK's at warn.
pub const DEFAULT_LOG_LEVEL: &str = "info,aws_smithy_runtime=warn,aws_config=warn,hyper=warn";

/// Installs the global subscriber once; later calls are no-ops.
pub fn init(format: LogFormat) {
    let level = std::env::var("LOG_LEVEL").unwrap_or_else(|_| DEFAULT_LOG_LEVEL.to_owned());
    let targets: Targets = level
        .parse()
        .unwrap_or_else(|_| DEFAULT_LOG_LEVEL.parse().expect("default log level parses"));
    let registry = tracing_subscriber::registry().with(targets);
    let result = match format {
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
