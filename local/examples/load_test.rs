//! A load test against a running `chat-local` (loopback only): many concurrent visitors of
//! the demo project, each looping over a mix of streamed and JSON completions, gets and
//! closes for a fixed time. Then every answered completion is checked against the store:
//! its conversation must hold the turn's user message and its assistant message, complete.
//!
//! Run by `scripts/load-test.sh`, which starts the server and samples its memory:
//! `cargo run -p chat-local --example load_test -- --base http://127.0.0.1:3000
//!  --clients 50 --seconds 30`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_domain::session::{SigningKeys, TokenMinter};
use chat_local::seed::DEMO_PROJECT;
use chat_local::settings::DEV_SIGNING_KEYS;
use serde_json::{Value, json};
use tokio::sync::Mutex;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Stream,
    Json,
    Get,
    Close,
}

/// One answered completion, to be found in the store afterwards.
struct Turn {
    visitor: Caller,
    conversation: String,
    message_id: String,
    question: String,
}

#[derive(Default)]
struct Results {
    latencies: BTreeMap<Op, Vec<Duration>>,
    first_bytes: Vec<Duration>,
    errors: BTreeMap<String, u64>,
    turns: Vec<Turn>,
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

fn bearer(minter: &TokenMinter, caller: Caller) -> String {
    format!("Bearer {}", minter.mint(caller, 3600))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

async fn client(
    base: String,
    http: reqwest::Client,
    minter: Arc<TokenMinter>,
    deadline: Instant,
    results: Arc<Mutex<Results>>,
) {
    let caller = Caller {
        project: ProjectId(DEMO_PROJECT),
        visitor: VisitorId(Uuid::now_v7()),
    };
    let auth = bearer(&minter, caller);
    let mut conversation = Uuid::now_v7().to_string();
    let mut turns = 0u32;
    while Instant::now() < deadline {
        // 40% streamed completions, 20% JSON completions, 30% gets, 10% closes (a close
        // starts a new conversation for the next turns).
        let roll = Uuid::new_v4().as_u128() % 10;
        let op = match roll {
            0..=3 => Op::Stream,
            4..=5 => Op::Json,
            6..=8 if turns > 0 => Op::Get,
            9 if turns > 0 => Op::Close,
            _ => Op::Stream,
        };
        let started = Instant::now();
        let mut first_byte = None;
        let outcome: Result<Option<Turn>, String> = async {
            match op {
                Op::Stream | Op::Json => {
                    let question = format!("load {}", Uuid::new_v4().simple());
                    let body = json!({
                        "messages": [{"role": "user", "content": question}],
                        "stream": op == Op::Stream,
                        "conversationId": conversation,
                    });
                    let mut response = http
                        .post(format!("{base}/v2/chat/completions"))
                        .header("authorization", &auth)
                        .json(&body)
                        .send()
                        .await
                        .map_err(|e| format!("{op:?} send: {e}"))?;
                    first_byte = Some(started.elapsed());
                    let status = response.status().as_u16();
                    if status != 200 {
                        return Err(format!("{op:?} {status}"));
                    }
                    let message_id = if op == Op::Stream {
                        let mut text = Vec::new();
                        while let Some(chunk) = response
                            .chunk()
                            .await
                            .map_err(|e| format!("stream read: {e}"))?
                        {
                            text.extend_from_slice(&chunk);
                        }
                        let text = String::from_utf8(text).map_err(|_| "stream not UTF-8")?;
                        if !text.ends_with("data: [DONE]\n\n") || !text.contains("\"finish\"") {
                            return Err("stream without finish/[DONE]".to_owned());
                        }
                        let start = text
                            .lines()
                            .next()
                            .and_then(|l| l.strip_prefix("data: "))
                            .and_then(|l| serde_json::from_str::<Value>(l).ok())
                            .ok_or("no start chunk")?;
                        start["messageId"].as_str().unwrap_or_default().to_owned()
                    } else {
                        let answer: Value =
                            response.json().await.map_err(|e| format!("json: {e}"))?;
                        answer["messageId"].as_str().unwrap_or_default().to_owned()
                    };
                    turns += 1;
                    Ok(Some(Turn {
                        visitor: caller,
                        conversation: conversation.clone(),
                        message_id,
                        question,
                    }))
                }
                Op::Get => {
                    let response = http
                        .get(format!("{base}/v2/conversations/{conversation}"))
                        .header("authorization", &auth)
                        .send()
                        .await
                        .map_err(|e| format!("get send: {e}"))?;
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    if status != 200 {
                        return Err(format!("Get {status}"));
                    }
                    Ok(None)
                }
                Op::Close => {
                    let response = http
                        .post(format!("{base}/v2/conversations/{conversation}/close"))
                        .header("authorization", &auth)
                        .header("content-type", "application/json")
                        .body(r#"{"closeReason":"load test"}"#)
                        .send()
                        .await
                        .map_err(|e| format!("close send: {e}"))?;
                    let status = response.status().as_u16();
                    let _ = response.bytes().await;
                    if status != 200 {
                        return Err(format!("Close {status}"));
                    }
                    conversation = Uuid::now_v7().to_string();
                    turns = 0;
                    Ok(None)
                }
            }
        }
        .await;
        let elapsed = started.elapsed();
        let mut results = results.lock().await;
        match outcome {
            Ok(turn) => {
                results.latencies.entry(op).or_default().push(elapsed);
                if op == Op::Stream
                    && let Some(first) = first_byte
                {
                    results.first_bytes.push(first);
                }
                results.turns.extend(turn);
            }
            Err(error) => *results.errors.entry(error).or_default() += 1,
        }
    }
}

/// Every answered turn's user and assistant messages are in the store, complete.
async fn lost_messages(
    base: &str,
    http: &reqwest::Client,
    minter: &TokenMinter,
    turns: &[Turn],
) -> (usize, usize) {
    let mut by_conversation: BTreeMap<(Uuid, String), Vec<&Turn>> = BTreeMap::new();
    for turn in turns {
        by_conversation
            .entry((turn.visitor.visitor.0, turn.conversation.clone()))
            .or_default()
            .push(turn);
    }
    let mut lost = 0;
    for ((_, conversation), turns) in &by_conversation {
        let auth = bearer(minter, turns[0].visitor);
        let body: Value = match http
            .get(format!("{base}/v2/conversations/{conversation}"))
            .header("authorization", auth)
            .send()
            .await
        {
            Ok(response) if response.status() == 200 => {
                response.json().await.unwrap_or(Value::Null)
            }
            _ => Value::Null,
        };
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        for turn in turns {
            let user = messages
                .iter()
                .any(|m| m["role"] == "user" && m["parts"][0]["text"] == turn.question.as_str());
            let assistant = messages.iter().any(|m| {
                m["id"] == turn.message_id.as_str()
                    && m["role"] == "assistant"
                    && m["status"] == "complete"
                    && !m["parts"][0]["text"]
                        .as_str()
                        .unwrap_or_default()
                        .is_empty()
            });
            if !user {
                lost += 1;
            }
            if !assistant {
                lost += 1;
            }
        }
    }
    (lost, by_conversation.len())
}

#[tokio::main]
async fn main() {
    let base = arg("--base", "http://127.0.0.1:3000");
    assert!(
        base.starts_with("http://127.0.0.1:") || base.starts_with("http://localhost:"),
        "loopback only"
    );
    let clients: usize = arg("--clients", "50").parse().expect("--clients N");
    let seconds: u64 = arg("--seconds", "30").parse().expect("--seconds N");
    let keys = SigningKeys::parse(DEV_SIGNING_KEYS).expect("dev keys");
    let minter = Arc::new(TokenMinter::new(&keys));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let results = Arc::new(Mutex::new(Results::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            tokio::spawn(client(
                base.clone(),
                http.clone(),
                minter.clone(),
                deadline,
                results.clone(),
            ))
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
    let wall = started.elapsed().as_secs_f64();
    let mut results = Arc::try_unwrap(results).ok().unwrap().into_inner();

    println!("load test: {clients} clients for {seconds} s against {base}");
    let total: usize = results.latencies.values().map(Vec::len).sum();
    let errors: u64 = results.errors.values().sum();
    println!(
        "requests: {total} ok, {errors} errors, {:.1} req/s overall",
        (total as f64 + errors as f64) / wall
    );
    println!(
        "{:<8} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "op", "count", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for (op, latencies) in results.latencies.iter_mut() {
        latencies.sort();
        println!(
            "{:<8} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            format!("{op:?}"),
            latencies.len(),
            latencies.len() as f64 / wall,
            percentile(latencies, 0.50),
            percentile(latencies, 0.90),
            percentile(latencies, 0.99),
            percentile(latencies, 1.0),
        );
    }
    results.first_bytes.sort();
    println!(
        "stream time to first byte: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms",
        percentile(&results.first_bytes, 0.5),
        percentile(&results.first_bytes, 0.9),
        percentile(&results.first_bytes, 0.99)
    );
    for (error, count) in &results.errors {
        println!("error: {count} x {error}");
    }
    let (lost, conversations) = lost_messages(&base, &http, &minter, &results.turns).await;
    println!(
        "store check: {} answered turns in {conversations} conversations, {lost} messages missing",
        results.turns.len()
    );
    if lost > 0 || errors > 0 {
        std::process::exit(1);
    }
}
