//! Function processes under the loopback Lambda Runtime API, ours and the peers': cold
//! starts (spawn → first poll, spawn → first response posted), warm calls (event queued →
//! response posted), the streaming path, and peak memory.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chat_testkit::runtime_api::{Invocation, RuntimeApi};
use tokio::process::{Child, Command};

use crate::stack::{BoxError, SECRET_ARN, Stack, TABLE};

/// A function process, as Lambda would start it: one of our binaries, or a peer under its
/// runtime interface client.
#[derive(Clone, Debug)]
pub struct Function {
    pub name: &'static str,
    /// What is executed.
    pub path: PathBuf,
    /// Its arguments (a peer's RIC entry point and handler).
    pub args: Vec<String>,
    /// Its working directory (a peer's function folder), else the bench's.
    pub dir: Option<PathBuf>,
    /// The signing keys given inline instead of read from the secret: not as deployed; it
    /// shows what the one secret read at start-up costs, and it is how the peers take them.
    pub inline_keys: bool,
    /// Variables set beside the deployed ones (a Management API endpoint for the pushes).
    pub env: Vec<(&'static str, String)>,
}

impl Function {
    pub fn at(dir: &Path, name: &'static str) -> Self {
        Self {
            name,
            path: dir.join(name),
            args: Vec::new(),
            dir: None,
            inline_keys: false,
            env: Vec::new(),
        }
    }

    /// The same started with its keys inline, under another name.
    pub fn inline(&self, name: &'static str) -> Self {
        Self {
            name,
            inline_keys: true,
            ..self.clone()
        }
    }

    /// The same with `name` set to `value` in its environment.
    pub fn with_env(&self, name: &'static str, value: impl Into<String>) -> Self {
        let mut function = self.clone();
        function.env.push((name, value.into()));
        function
    }
}

/// A running function process with its Runtime API.
pub struct Running {
    pub runtime: RuntimeApi,
    pub child: Child,
    pub spawned: Instant,
    /// Events queued so far.
    queued: AtomicU64,
}

const WAIT: Duration = Duration::from_secs(30);

/// Starts `function` with the environment Lambda and `template.yaml` give it, with
/// `event` already queued (so the first poll is answered at once).
pub async fn spawn(
    stack: &Stack,
    function: &Function,
    event: Option<(&str, &str)>,
) -> Result<Running, BoxError> {
    let runtime = RuntimeApi::start().await?;
    if let Some((id, event)) = event {
        runtime.invoke(id, event);
    }
    let mut command = Command::new(&function.path);
    command.args(&function.args);
    if let Some(dir) = &function.dir {
        command.current_dir(dir);
    }
    command
        .env_clear()
        // What the Lambda service sets.
        .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", function.name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/{}", function.name),
        )
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0000")
        .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
        .env(
            "_HANDLER",
            function.args.last().map_or("bootstrap", String::as_str),
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "ASIABENCHMARKLOCAL00")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env("AWS_SESSION_TOKEN", "local")
        .env("TZ", ":UTC")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        // What template.yaml sets.
        .env("TABLE_NAME", TABLE)
        .env("LOG_FORMAT", "json")
        .env("CORS_ALLOWED_ORIGINS", "*")
        // The same visitor is invoked hundreds of times a minute here; the limiter's
        // own cost is in the round-trip rows, which run with it on.
        .env("RATE_LIMITS_ENABLED", "false")
        // Where the AWS services are on this machine.
        .env("DYNAMODB_ENDPOINT", stack.engine.endpoint())
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &stack.secrets_endpoint)
        .envs(function.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .stdout(output())
        .stderr(output())
        .kill_on_drop(true);
    if function.inline_keys {
        command.env(
            "SESSION_SIGNING_KEYS",
            chat_local::settings::DEV_SIGNING_KEYS,
        );
    } else {
        command.env("SESSION_SIGNING_KEYS_SECRET_ARN", SECRET_ARN);
    }
    let spawned = Instant::now();
    let child = command
        .spawn()
        .map_err(|e| format!("{}: {e}", function.path.display()))?;
    Ok(Running {
        runtime,
        child,
        spawned,
        queued: AtomicU64::new(u64::from(event.is_some())),
    })
}

impl Running {
    pub async fn first_poll(&self) -> Result<Instant, BoxError> {
        Ok(tokio::time::timeout(WAIT, self.runtime.first_poll()).await?)
    }

    pub async fn response(&self, id: &str) -> Result<Invocation, BoxError> {
        let invocation = self.answer(id).await?;
        let status = status_of(&invocation);
        if invocation.error || status != Some(200) {
            return Err(format!(
                "{id}: error={} status={status:?} body={}",
                invocation.error,
                String::from_utf8_lossy(&invocation.body[..invocation.body.len().min(400)])
            )
            .into());
        }
        Ok(invocation)
    }

    /// The answer to `id`, whatever it says (a function that is not behind API Gateway
    /// answers no status).
    pub async fn answer(&self, id: &str) -> Result<Invocation, BoxError> {
        tokio::time::timeout(WAIT, self.runtime.response(id))
            .await
            .map_err(|_| format!("no response to {id} within {WAIT:?}").into())
    }

    /// One warm call: waits until the function asks for its next event, queues `event`, and
    /// returns the time from queueing it to the response completely posted (what Lambda
    /// bills as the invocation's duration), with the response.
    pub async fn call(&self, id: &str, event: &str) -> Result<(Duration, Invocation), BoxError> {
        let queued = self.queue(id, event).await?;
        let invocation = self.response(id).await?;
        let finished = invocation.finished.ok_or("response not finished")?;
        Ok((finished - queued, invocation))
    }

    /// Queues `event` once the function waits for it (so the clock starts with the event,
    /// not with the function's turnaround); returns when it was queued.
    pub async fn queue(&self, id: &str, event: &str) -> Result<Instant, BoxError> {
        let n = self.queued.fetch_add(1, Ordering::Relaxed) + 1;
        self.polled(n).await?;
        let queued = Instant::now();
        self.runtime.invoke(id, event);
        Ok(queued)
    }

    /// Waits until the function asks for its `n`th event.
    pub async fn polled(&self, n: u64) -> Result<(), BoxError> {
        let deadline = Instant::now() + WAIT;
        while self.runtime.polls() < n {
            if Instant::now() > deadline {
                return Err("the function stopped polling".into());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        Ok(())
    }

    /// Peak resident memory so far (VmHWM), in MB (10^6 bytes).
    pub fn peak_rss_mb(&self) -> Option<f64> {
        status_mb(&self.status()?, "VmHWM")
    }

    /// Resident memory now, split into anonymous (heap, stacks) and file-backed (the
    /// executable's and libraries' pages), in MB.
    pub fn rss_split_mb(&self) -> Option<(f64, f64)> {
        let status = self.status()?;
        Some((
            status_mb(&status, "RssAnon")?,
            status_mb(&status, "RssFile")?,
        ))
    }

    fn status(&self) -> Option<String> {
        let pid = self.child.id()?;
        std::fs::read_to_string(format!("/proc/{pid}/status")).ok()
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Where a function's output goes: nowhere, unless `BENCH_SHOW_OUTPUT` is set (to see why
/// a process does not answer).
fn output() -> Stdio {
    if std::env::var_os("BENCH_SHOW_OUTPUT").is_some() {
        Stdio::inherit()
    } else {
        Stdio::null()
    }
}

/// The `field` line (`VmHWM`, `RssAnon`...) of a `/proc/<pid>/status` text, in MB (10^6
/// bytes; the kernel's kB are KiB).
pub fn status_mb(status: &str, field: &str) -> Option<f64> {
    let line = status.lines().find(|l| {
        l.strip_prefix(field)
            .is_some_and(|rest| rest.starts_with(':'))
    })?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024.0 / 1e6)
}

/// The HTTP status a function answered with: from the buffered API Gateway response, or
/// from a streaming response's prelude.
pub fn status_of(invocation: &Invocation) -> Option<u64> {
    if invocation.streaming {
        let (prelude, _) = invocation.split_prelude()?;
        prelude["statusCode"].as_u64()
    } else {
        let body: serde_json::Value = serde_json::from_slice(&invocation.body).ok()?;
        body["statusCode"].as_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_read_from_its_status_line_in_kib() {
        let status = "Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t   48828 kB\nVmRSS:\t 40000 kB\nRssAnon:\t 976 kB\nRssFile:\t 1953 kB\n";
        let mb = status_mb(status, "VmHWM").unwrap();
        assert!((mb - 50.0).abs() < 0.001, "{mb}");
        assert!((status_mb(status, "RssAnon").unwrap() - 0.999).abs() < 0.001);
        // A field is matched whole: "Rss" is not "RssAnon".
        assert_eq!(status_mb(status, "Rss"), None);
        assert_eq!(status_mb("Name:\tgone\n", "VmHWM"), None);
        assert_eq!(status_mb("VmHWM:\t?? kB\n", "VmHWM"), None);
    }
}
