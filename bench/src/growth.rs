//! What a user pays as the data grows: the get of a conversation of 10, 100 and 1,000
//! messages and of one past 1 MB (its Query pages followed), a send into a 3,000-message
//! history against a 3-message one, and a list over 1,000 conversations against 10. Each
//! through its function binary under the Runtime API, warm (event queued → response
//! posted), as a ratio to the small case; the cases alternate call by call, so load on the
//! machine hits small and large alike. Seeded through the storage crate's import.
//!
//! And [`live`]: a send into a conversation with 200 open WebSocket connections (recorded
//! through the storage crate's `ConnectionStore`) against one with none, the function
//! pushing to a local stand-in for the API Gateway Management API.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use chat_domain::timestamp::Timestamp;
use chat_storage::ports::ConnectionStore;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::cold::{Function, Running, spawn};
use crate::events::{Changes, sample, with};
use crate::report::{Row, Target, Unit};
use crate::stack::{BoxError, Stack, demo_visitor, token};
use crate::stats::Samples;

/// How many times bigger than the small case a large one may be before the row says so:
/// issue 13's "within a small factor" for the send; reads that return more are reported,
/// not judged.
const SEND_FACTOR: f64 = 2.0;

/// Characters per message of the conversation past 1 MB.
const LONG_MESSAGE: usize = 1_200;

struct Case {
    name: String,
    event: String,
    samples: Samples,
}

impl Case {
    fn new(name: impl Into<String>, event: String) -> Self {
        Self {
            name: name.into(),
            event,
            samples: Samples::default(),
        }
    }
}

/// One warm call of `case` on `running`, checked and timed.
async fn call(running: &Running, case: &mut Case, n: usize, counted: bool) -> Result<(), BoxError> {
    let (took, _) = running
        .call(&format!("{}-{n}", case.name.replace(' ', "-")), &case.event)
        .await
        .map_err(|e| format!("{}: {e}", case.name))?;
    if counted {
        case.samples.push(took);
    }
    Ok(())
}

/// The data-growth rows.
pub async fn rows(
    stack: &Stack,
    get: &Function,
    completion: &Function,
    conversations: &Function,
    rounds: usize,
) -> Result<Vec<Row>, BoxError> {
    // The send answers at once (no provider delay): its time is the function's and the
    // storage's, not the model's.
    stack
        .set_demo_model("offline:first=0,gap=0,tokens=24")
        .await?;
    let caller = demo_visitor();
    let bearer = token(caller);
    let get_event = |id: Uuid| {
        with(
            &sample("get-conversation.json"),
            &Changes {
                conversation: Some(id),
                token: Some(&bearer),
                body: None,
            },
        )
    };

    eprintln!("   seeding conversations of 10, 100, 1,000 and 1,000 long messages");
    let mut gets = Vec::new();
    for (messages, chars) in [(10, 0), (100, 0), (1_000, 0), (1_000, LONG_MESSAGE)] {
        let id = stack.conversation_sized(caller, messages, chars).await?;
        let count = crate::report::grouped(messages as f64);
        let name = if chars == 0 {
            format!("get, {count} messages")
        } else {
            let pages = stack.query_pages(caller, id).await?;
            // The response's size, from one call outside the timing below.
            let running = spawn(stack, get, None).await?;
            let (_, invocation) = running.call("size", &get_event(id)).await?;
            running.stop().await;
            let body: serde_json::Value = serde_json::from_slice(&invocation.body)?;
            let bytes = body["body"].as_str().map_or(0, str::len);
            format!(
                "get, {count} messages of {:.1} kB ({:.2} MB of JSON, {pages} Query pages)",
                chars as f64 / 1e3,
                bytes as f64 / 1e6
            )
        };
        gets.push(Case::new(name, get_event(id)));
    }

    eprintln!("   seeding a 3,000-message history");
    let send_event = |id: Uuid| {
        with(
            &sample("chat-completion-send-message-stream.json"),
            &Changes {
                conversation: Some(id),
                token: Some(&bearer),
                body: Some(
                    serde_json::json!({"content": "Do you ship to Canada?", "stream": true}),
                ),
            },
        )
    };
    let long_history = stack.conversation(caller, 3_000).await?;
    // A fresh 3-message conversation for every small send, so the small case stays small
    // (each send adds two messages); the long one grows from 3,000 by as many, which is
    // within the 40-message history budget's noise.
    let mut short_histories = Vec::new();
    for _ in 0..rounds + rounds / 10 + 1 {
        short_histories.push(stack.conversation(caller, 3).await?);
    }
    let mut small_send = Case::new("send into a 3-message history", String::new());
    let mut large_send = Case::new(
        "send into a 3,000-message history",
        send_event(long_history),
    );

    eprintln!("   seeding visitors with 10 and 1,000 conversations");
    let few = demo_visitor();
    let many = demo_visitor();
    for _ in 0..10 {
        stack.conversation(few, 2).await?;
    }
    for _ in 0..1_000 {
        stack.conversation(many, 2).await?;
    }
    let list_event = |caller| {
        with(
            &sample("conversations-list.json"),
            &Changes {
                token: Some(&token(caller)),
                ..Changes::default()
            },
        )
    };
    let mut small_list = Case::new("list over 10 conversations", list_event(few));
    let mut large_list = Case::new("list over 1,000 conversations", list_event(many));

    // One warm process per function, as Lambda keeps one; a tenth of the rounds warm up.
    let get_running = spawn(stack, get, None).await?;
    let completion_running = spawn(stack, completion, None).await?;
    let conversations_running = spawn(stack, conversations, None).await?;
    let warmup = rounds / 10 + 1;
    for (n, short) in short_histories.iter().enumerate().take(rounds + warmup) {
        let counted = n >= warmup;
        for case in gets.iter_mut() {
            call(&get_running, case, n, counted).await?;
        }
        small_send.event = send_event(*short);
        call(&completion_running, &mut small_send, n, counted).await?;
        call(&completion_running, &mut large_send, n, counted).await?;
        call(&conversations_running, &mut small_list, n, counted).await?;
        call(&conversations_running, &mut large_list, n, counted).await?;
    }
    for running in [get_running, completion_running, conversations_running] {
        running.stop().await;
    }

    let row = |large: &Case, small: &Case, target: Target| Row {
        section: "7",
        name: format!("{} (median)", large.name),
        value: large.samples.median(),
        floor: small.samples.median(),
        floor_name: small.name.clone(),
        unit: Unit::Ms,
        target,
    };
    let mut rows = Vec::new();
    for large in &gets[1..] {
        rows.push(row(large, &gets[0], Target::None));
    }
    rows.push(row(&large_send, &small_send, Target::Ratio(SEND_FACTOR)));
    rows.push(row(&large_list, &small_list, Target::None));
    Ok(rows)
}

/// The sockets the live row's conversation has open (issue 14).
const SOCKETS: usize = 200;

/// How many times the send with [`SOCKETS`] open sockets may take the send with none:
/// issue 14's "the write's latency stays flat".
const LIVE_FACTOR: f64 = 1.5;

/// Where the push function posts (`chat_sockets::settings::ENDPOINT_VAR`).
const ENDPOINT_VAR: &str = "LIVE_MANAGEMENT_ENDPOINT";

/// A stand-in for the API Gateway Management API: answers 200 to every
/// `POST …/@connections/{id}` and counts them; anything else is a 404, and counted apart.
struct ManagementStandIn {
    /// `http://127.0.0.1:<port>`.
    endpoint: String,
    posts: Arc<AtomicU64>,
    others: Arc<AtomicU64>,
}

impl ManagementStandIn {
    async fn start() -> Result<Self, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let posts = Arc::new(AtomicU64::new(0));
        let others = Arc::new(AtomicU64::new(0));
        let (counted, refused) = (posts.clone(), others.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (counted, refused) = (counted.clone(), refused.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (counted, refused) = (counted.clone(), refused.clone());
                            async move {
                                let post =
                                    is_post_to_connection(req.method().as_str(), req.uri().path());
                                // The frame is read whole, as the service reads it.
                                let _ = req.into_body().collect().await;
                                let status = if post {
                                    counted.fetch_add(1, Ordering::Relaxed);
                                    200
                                } else {
                                    refused.fetch_add(1, Ordering::Relaxed);
                                    404
                                };
                                let mut response = http::Response::new(Full::new(Bytes::new()));
                                *response.status_mut() =
                                    http::StatusCode::from_u16(status).expect("a status");
                                Ok::<_, Infallible>(response)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            endpoint,
            posts,
            others,
        })
    }
}

/// Whether a request is a `PostToConnection`: `POST /{stage}/@connections/{id}`, the id
/// non-empty and one path segment.
fn is_post_to_connection(method: &str, path: &str) -> bool {
    method == "POST"
        && path
            .split_once("/@connections/")
            .is_some_and(|(_, id)| !id.is_empty() && !id.contains('/'))
}

/// The live rows (issue 14). The write: a send (JSON, `stream: false`) into a conversation
/// with [`SOCKETS`] open sockets against one into a conversation with none, through one
/// warm chat-completion process, alternated call by call; checked to post nothing (the
/// widget's sockets are told from the table's stream). The push: the push function
/// handling a stream batch of one stored message of each conversation, through one warm
/// chat-push process pointed at a Management API stand-in; checked to post [`SOCKETS`]
/// frames a batch into the crowded conversation and none into the other.
pub async fn live(
    stack: &Stack,
    completion: &Function,
    push: &Function,
    rounds: usize,
) -> Result<(Vec<Row>, String), BoxError> {
    stack
        .set_demo_model("offline:first=0,gap=0,tokens=24")
        .await?;
    let caller = demo_visitor();
    let bearer = token(caller);
    eprintln!("   seeding a conversation with {SOCKETS} open sockets and one with none");
    let crowded = stack.conversation(caller, 3).await?;
    let quiet = stack.conversation(caller, 3).await?;
    let expires = Timestamp::now().unix_seconds() + 3_600;
    for n in 0..SOCKETS {
        stack
            .store()
            .open_connection(
                caller.project,
                crowded,
                &format!("bench-socket-{n:03}"),
                expires,
            )
            .await?;
    }
    let listed = stack
        .store()
        .connections(caller.project, crowded, Timestamp::now().unix_seconds())
        .await?
        .len();
    if listed != SOCKETS {
        return Err(format!("{listed} connections listed of the {SOCKETS} opened").into());
    }

    let stand_in = ManagementStandIn::start().await?;
    let endpoint = format!("{}/live", stand_in.endpoint);
    // Were the completion function to push, it would push here.
    let completion = completion.with_env(ENDPOINT_VAR, endpoint.clone());
    let send = |id: Uuid| {
        with(
            &sample("chat-completion-send-message.json"),
            &Changes {
                conversation: Some(id),
                token: Some(&bearer),
                body: Some(
                    serde_json::json!({"content": "Do you ship to Canada?", "stream": false}),
                ),
            },
        )
    };
    let mut none = Case::new(
        "send (JSON) into a conversation with no sockets",
        send(quiet),
    );
    let mut many = Case::new(
        format!("send (JSON) into a conversation with {SOCKETS} open sockets"),
        send(crowded),
    );
    // Both conversations grow by two messages a send, alike; the history read is bounded.
    let running = spawn(stack, &completion, None).await?;
    let warmup = rounds / 10 + 1;
    for n in 0..rounds + warmup {
        let counted = n >= warmup;
        call(&running, &mut none, n, counted).await?;
        call(&running, &mut many, n, counted).await?;
    }
    running.stop().await;
    let posted = stand_in.posts.load(Ordering::Relaxed);
    if posted != 0 {
        return Err(format!("the sends posted {posted} frames themselves: none expected").into());
    }

    // The push function, on a batch of the stream as Lambda hands it over.
    let batch = |id: Uuid| {
        sample("push-message-stored.json").replace(
            &chat_local::seed::DEMO_CONVERSATION.to_string(),
            &id.to_string(),
        )
    };
    let (quiet_batch, crowded_batch) = (batch(quiet), batch(crowded));
    let (mut to_none, mut to_many) = (Samples::default(), Samples::default());
    let running = spawn(stack, &push.with_env(ENDPOINT_VAR, endpoint), None).await?;
    for n in 0..rounds + warmup {
        for (id, event, samples) in [
            ("push-none", &quiet_batch, &mut to_none),
            ("push-many", &crowded_batch, &mut to_many),
        ] {
            let id = format!("{id}-{n}");
            let queued = running.queue(&id, event).await?;
            let invocation = running.answer(&id).await?;
            let answer: serde_json::Value = serde_json::from_slice(&invocation.body)?;
            if invocation.error || answer["batchItemFailures"] != serde_json::json!([]) {
                return Err(format!("{id}: the push function answered {answer}").into());
            }
            if n >= warmup {
                samples.push(invocation.finished.ok_or("response not finished")? - queued);
            }
        }
    }
    running.stop().await;
    let batches = (rounds + warmup) as u64;
    let expected = batches * SOCKETS as u64;
    let posts = stand_in.posts.load(Ordering::Relaxed);
    let others = stand_in.others.load(Ordering::Relaxed);
    if posts != expected || others != 0 {
        return Err(format!(
            "the Management API stand-in received {posts} posts ({others} other requests) for \
             {batches} batches into the conversation with {SOCKETS} sockets: {expected} \
             expected, {SOCKETS} a batch and none for the conversation without sockets"
        )
        .into());
    }
    eprintln!("   the stand-in received {posts} posts: {SOCKETS} for each of {batches} batches");

    let write = Row {
        section: "7",
        name: format!("{} (median)", many.name),
        value: many.samples.median(),
        floor: none.samples.median(),
        floor_name: none.name.clone(),
        unit: Unit::Ms,
        target: Target::Ratio(LIVE_FACTOR),
    };
    let pushed = Row {
        section: "7",
        name: format!(
            "push function: a stored message to {SOCKETS} sockets, off the write's path (median)"
        ),
        value: to_many.median(),
        floor: to_none.median(),
        floor_name: "the same to a conversation with no sockets".to_owned(),
        unit: Unit::Ms,
        target: Target::None,
    };
    let note = format!(
        "The widget's sockets are told from the table's stream (the push function), so a send \
         posts nothing itself: none of the {} sends reached the Management API stand-in. The \
         push function's batch of one stored message took {:.3} ms to reach {SOCKETS} sockets \
         and {:.3} ms for a conversation with none (medians of {}); the stand-in received \
         {posts} posts, {SOCKETS} for each of the {batches} batches into the crowded \
         conversation. On AWS the stream adds its own delivery delay before that (typically \
         well under a second).",
        2 * (rounds + warmup),
        to_many.median(),
        to_none.median(),
        to_many.len()
    );
    Ok((vec![write, pushed], note))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_post_to_one_connection_counts_as_a_push() {
        assert!(is_post_to_connection(
            "POST",
            "/live/@connections/bench-socket-007"
        ));
        assert!(is_post_to_connection(
            "POST",
            "/@connections/L0SM9cOFvHcCIhw="
        ));
        assert!(!is_post_to_connection(
            "GET",
            "/live/@connections/bench-socket-007"
        ));
        assert!(!is_post_to_connection(
            "DELETE",
            "/live/@connections/bench-socket-007"
        ));
        assert!(!is_post_to_connection("POST", "/live/@connections/"));
        assert!(!is_post_to_connection("POST", "/live/@connections/a/b"));
        assert!(!is_post_to_connection("POST", "/live/connections/a"));
    }
}
