//! A minimal Lambda Runtime API on loopback: it hands a function binary the events it is
//! given and records what the binary posts back, as the Lambda service would see it
//! (buffered or streamed, with the streaming prelude), and when. Tests check the wire
//! format with it; the benchmark times cold starts and streams with it.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The bytes that end the streaming prelude (the JSON status and headers).
pub const PRELUDE_DELIMITER: [u8; 8] = [0; 8];

/// What a function posted for one invocation.
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    /// Whether it declared `Lambda-Runtime-Function-Response-Mode: streaming`.
    pub streaming: bool,
    /// Whether it went to the `/error` endpoint.
    pub error: bool,
    /// Everything posted, in order.
    pub body: Vec<u8>,
    /// Each frame of the body with the time it arrived.
    pub frames: Vec<(Instant, Bytes)>,
    /// When the response started arriving.
    pub started: Option<Instant>,
    /// When it was complete.
    pub finished: Option<Instant>,
}

impl Invocation {
    /// The streaming prelude (status code, headers, cookies) and the HTTP body after it.
    pub fn split_prelude(&self) -> Option<(serde_json::Value, &[u8])> {
        let at = self
            .body
            .windows(PRELUDE_DELIMITER.len())
            .position(|w| w == PRELUDE_DELIMITER)?;
        let prelude = serde_json::from_slice(&self.body[..at]).ok()?;
        Some((prelude, &self.body[at + PRELUDE_DELIMITER.len()..]))
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, String)>,
    first_poll: Option<Instant>,
    polls: u64,
    done: HashMap<String, Invocation>,
}

/// The fake Runtime API; it stops when dropped.
pub struct RuntimeApi {
    address: String,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts it on a free loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let (task_state, task_changed) = (state.clone(), changed.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (state, changed) = (task_state.clone(), task_changed.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (state, changed) = (state.clone(), changed.clone());
                        async move { Ok::<_, Infallible>(serve(req, state, changed).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            address,
            state,
            changed,
            task,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Queues an invocation of `event` under `request_id`.
    pub fn invoke(&self, request_id: &str, event: &str) {
        self.state
            .lock()
            .expect("runtime state")
            .queue
            .push_back((request_id.to_owned(), event.to_owned()));
        self.changed.notify_waiters();
    }

    /// When the function first asked for an event: its cold start is over.
    pub async fn first_poll(&self) -> Instant {
        self.wait(|state| state.first_poll).await
    }

    /// How many times the function has asked for an event.
    pub fn polls(&self) -> u64 {
        self.state.lock().expect("runtime state").polls
    }

    /// What the function posted for `request_id`, once it is complete.
    pub async fn response(&self, request_id: &str) -> Invocation {
        self.wait(|state| state.done.get(request_id).cloned()).await
    }

    async fn wait<T>(&self, mut ready: impl FnMut(&State) -> Option<T>) -> T {
        loop {
            let notified = self.changed.notified();
            if let Some(value) = ready(&self.state.lock().expect("runtime state")) {
                return value;
            }
            notified.await;
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let reply = |status: StatusCode, body: Bytes| {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        response
    };
    if req.method() == Method::GET && path == "/2018-06-01/runtime/invocation/next" {
        {
            let mut state = state.lock().expect("runtime state");
            state.polls += 1;
            state.first_poll.get_or_insert_with(Instant::now);
        }
        changed.notify_waiters();
        let (id, event) = loop {
            let notified = changed.notified();
            if let Some(next) = state.lock().expect("runtime state").queue.pop_front() {
                break next;
            }
            notified.await;
        };
        let mut response = reply(StatusCode::OK, Bytes::from(event));
        let headers = response.headers_mut();
        // As Lambda's Runtime API sends it; the Node.js runtime interface client's native
        // part (aws-lambda-cpp) crashes on an event without one.
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 900_000)
            .unwrap_or(0);
        headers.insert(
            "lambda-runtime-aws-request-id",
            id.parse().expect("id header"),
        );
        headers.insert(
            "lambda-runtime-deadline-ms",
            deadline.to_string().parse().expect("deadline"),
        );
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:local"
                .parse()
                .expect("arn"),
        );
        headers.insert(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0"
                .parse()
                .expect("trace"),
        );
        return response;
    }
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") else {
        // Init errors and anything else: accepted and ignored.
        return reply(StatusCode::ACCEPTED, Bytes::new());
    };
    let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
    let mut invocation = Invocation {
        streaming: req
            .headers()
            .get("lambda-runtime-function-response-mode")
            .is_some_and(|v| v == "streaming"),
        error: kind == "error",
        ..Invocation::default()
    };
    let mut body = req.into_body();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            let now = Instant::now();
            invocation.started.get_or_insert(now);
            invocation.body.extend_from_slice(&data);
            invocation.frames.push((now, data));
        }
    }
    invocation.finished = Some(Instant::now());
    state
        .lock()
        .expect("runtime state")
        .done
        .insert(id.to_owned(), invocation);
    changed.notify_waiters();
    reply(StatusCode::ACCEPTED, Bytes::new())
}
