//! The performance benchmark (README, "Benchmarks"). Every figure is a ratio against a
//! floor measured in the same run, on the same machine:
//! 1. cold start of each function binary against a hello-world `lambda_http` binary;
//! 2. warm latency of the get and close handlers against the bare SDK calls they make;
//! 3. streaming: first byte and per-delta delay over the offline provider's own timing,
//!    through the local server over HTTP and through the Lambda streaming runtime;
//! 4. binary size and peak memory;
//! 5. DynamoDB round trips per operation;
//! 6. against the peers (`bench/peers/`: Node.js and Python, under their official runtime
//!    interface clients): cold start, warm latency, streaming, peak memory and package
//!    size, each a ratio ours / peer, interleaved with ours round by round;
//! 7. as the data grows: large conversations, histories and lists against small ones, and
//!    a send into a conversation with 200 open sockets against one with none.
//!
//! `scripts/bench.sh` builds the binaries first and runs this; see `--help`.

mod cold;
mod events;
mod growth;
mod peers;
mod report;
mod stack;
mod stats;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use chat_domain::Spelling;
use chat_domain::conversation::ConversationStatus;
use chat_domain::ids::Caller;
use chat_edge::Handler;
use chat_engine::decide::new_turn;
use chat_local::app::App;
use chat_local::seed::{DEMO_CONVERSATION, demo_caller};
use chat_local::server::serve;
use chat_providers::offline::{OfflineProvider, OfflineSettings};
use chat_providers::{ChatMessage, ChatRole, ModelProvider, ModelRequest, ProviderEvent};
use chat_storage::items::conversation::{CLOSE_REASON, CLOSED_AT, STATUS, UPDATED_AT, VISITOR_ID};
use chat_storage::items::key;
use chat_storage::keys::{CONVERSATION_SK, PARTITION_KEY, conversation_pk};
use chat_storage::ports::CompletionStore;
use futures_util::StreamExt;
use http_body_util::BodyExt;
use lambda_http::RequestExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use cold::{Function, Running, spawn};
use events::sample as event;
use peers::{Peers, bootstrap_zip_size};
use report::{Row, Target, Unit};
use stack::{BoxError, Stack, new_caller, token};
use stats::Samples;

/// The performance benchmark: prints one table of ratios against floors measured in the
/// same run. Normally run through scripts/bench.sh, which builds what it needs first.
#[derive(clap::Parser)]
#[command(about)]
struct Options {
    /// The release binaries (get-conversation, close-conversation, chat-completion,
    /// bench-hello).
    #[arg(long, default_value_os_t = default_bin_dir())]
    bin_dir: PathBuf,
    /// Where <bin>/bootstrap arm64 builds are (cargo lambda's target/lambda); when
    /// missing, the x86_64 binaries of --bin-dir are measured instead.
    #[arg(long)]
    size_dir: Option<PathBuf>,
    /// Cold starts per binary.
    #[arg(long, default_value_t = 40)]
    cold: usize,
    /// Warm calls per operation and floor.
    #[arg(long, default_value_t = 3000)]
    warm: usize,
    /// Streams per path.
    #[arg(long, default_value_t = 8)]
    streams: usize,
    /// Warm calls per function through the Runtime API, ours and the peers'.
    #[arg(long, default_value_t = 1000)]
    peer_warm: usize,
    /// Rounds of the data-growth calls (every case once a round).
    #[arg(long, default_value_t = 60)]
    growth: usize,
    /// Where the peers are installed (bench/peers/install.sh).
    #[arg(long, default_value_os_t = default_peers_dir())]
    peers: PathBuf,
    /// Leave the peers out (rows 6).
    #[arg(long)]
    no_peers: bool,
    /// Fewer repetitions (--cold 8 --warm 400 --streams 3 --peer-warm 150 --growth 10): a
    /// smoke test, not a result.
    #[arg(long)]
    quick: bool,
    /// Write BENCHMARKS.svg and the table into BENCHMARKS.md.
    #[arg(long)]
    write: bool,
    /// Run only these parts, comma-separated: sections 1 to 5 and 7 (rows 6 come with 1 to
    /// 4), or `live` (the row of 7 on open sockets alone). Not with --write: the table
    /// would lack the other rows.
    #[arg(long, value_parser = parse_only)]
    only: Option<Only>,
}

/// The parts `--only` names.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Only(Vec<String>);

/// What `--only` accepts: `1`…`5`, `7` and `live`, comma-separated, at least one.
fn parse_only(text: &str) -> Result<Only, String> {
    let mut parts = Vec::new();
    for part in text.split(',').map(str::trim) {
        let known = matches!(part, "1" | "2" | "3" | "4" | "5" | "7" | "live");
        if !known {
            return Err(format!("{part:?} is no part: 1 to 5, 7 or live"));
        }
        if !parts.iter().any(|p| p == part) {
            parts.push(part.to_owned());
        }
    }
    Ok(Only(parts))
}

impl Options {
    /// Whether part `part` runs (every part without `--only`; `live` with section 7).
    fn runs(&self, part: &str) -> bool {
        match &self.only {
            None => true,
            Some(Only(parts)) => {
                parts.iter().any(|p| p == part) || (part == "live" && self.runs("7"))
            }
        }
    }
}

fn default_bin_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release"))
}

/// The first three fields of /proc/loadavg ("1.02 0.87 0.60"), or "unknown".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|load| !load.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn default_peers_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/peers"))
}

fn options() -> Options {
    let mut o = <Options as clap::Parser>::parse();
    if o.quick {
        (o.cold, o.warm, o.streams, o.peer_warm, o.growth) = (8, 400, 3, 150, 10);
    }
    o
}

const FUNCTIONS: [&str; 3] = ["get-conversation", "close-conversation", "chat-completion"];
const HELLO: &str = "bench-hello";
/// The functions that link the knowledge's index (issue 22): cold starts reported, not
/// judged (they are new: there is no "before").
const KNOWLEDGE_FUNCTIONS: [&str; 2] = ["knowledge", "crawl-worker"];
/// Serves `GET /v2/conversations`: measured only as the data grows.
const CONVERSATIONS: &str = "conversations";

/// A row of ours against a peer: the peer's figure where a floor's would be.
fn versus(name: String, ours: f64, peer: f64, peer_name: &str, unit: Unit, target: Target) -> Row {
    Row {
        section: "6",
        name,
        value: ours,
        floor: peer,
        floor_name: peer_name.into(),
        unit,
        target,
    }
}

/// At most a tenth of the Node.js peer (cold starts, peak RSS).
const TENTH: Target = Target::Ratio(0.1);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BoxError> {
    let o = options();
    for name in FUNCTIONS
        .iter()
        .chain([&HELLO, &CONVERSATIONS])
        .chain(KNOWLEDGE_FUNCTIONS.iter())
    {
        let path = o.bin_dir.join(name);
        if !path.is_file() {
            return Err(format!("{} missing: run scripts/bench.sh", path.display()).into());
        }
    }
    if o.write && o.only.is_some() {
        return Err("--write with --only would leave the other rows out of BENCHMARKS.md".into());
    }
    // The peers are measured in sections 1 to 4, beside ours (rows 6).
    let peers = if o.no_peers || !["1", "2", "3", "4"].iter().any(|part| o.runs(part)) {
        None
    } else {
        Some(Peers::find(&o.peers)?)
    };
    let load_before = load_average();
    let stack = Stack::start().await?;
    let mut rows = Vec::new();
    // Rows 6, gathered by the sections that measure ours the same way.
    let mut versus_rows = Vec::new();
    let mut notes = Vec::new();
    if o.runs("1") {
        eprintln!("1. cold starts ({} per binary)", o.cold);
        let (cold, note) = cold_starts(&stack, &o, peers.as_ref(), &mut versus_rows).await?;
        notes.push(note);
        rows.extend(cold);
    }
    if o.runs("2") {
        eprintln!("2. warm latency ({} calls each)", o.warm);
        rows.extend(warm(&stack, o.warm).await?);
    }
    let mut get_rss = None;
    if let (Some(peers), true) = (&peers, o.runs("2")) {
        eprintln!(
            "   through the Runtime API, against the peers ({} calls each)",
            o.peer_warm
        );
        get_rss = Some(warm_versus(&stack, &o, peers, &mut versus_rows).await?);
    }
    if o.runs("3") {
        eprintln!("3. streaming ({} streams per path)", o.streams);
        let (streams, note) = streaming(&stack, &o, peers.as_ref(), &mut versus_rows).await?;
        rows.extend(streams);
        notes.push(note);
    }
    if o.runs("4") {
        eprintln!("4. size and memory");
        rows.extend(
            size_and_memory(
                &stack,
                &o,
                peers.as_ref(),
                get_rss,
                &mut versus_rows,
                &mut notes,
            )
            .await?,
        );
    }
    if o.runs("5") {
        eprintln!("5. round trips");
        rows.extend(round_trips(&stack).await?);
    }
    rows.extend(versus_rows);
    let completion = Function::at(&o.bin_dir, "chat-completion");
    if o.runs("7") {
        eprintln!("7. as the data grows ({} rounds)", o.growth);
        rows.extend(
            growth::rows(
                &stack,
                &Function::at(&o.bin_dir, "get-conversation"),
                &completion,
                &Function::at(&o.bin_dir, CONVERSATIONS),
                o.growth,
            )
            .await?,
        );
    }
    if o.runs("live") {
        eprintln!(
            "7. a send into a conversation with open sockets ({} rounds)",
            o.growth
        );
        let push = Function::at(&o.bin_dir, "chat-push");
        let (live, note) = growth::live(&stack, &completion, &push, o.growth).await?;
        rows.extend(live);
        notes.push(note);
    }

    notes.push(format!(
        "The machine's load while this ran: {load_before} at the start, {} at the end (the \
         1-, 5- and 15-minute load averages of /proc/loadavg, {} cores; above 1 a core, other \
         processes were competing with the run).",
        load_average(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    ));
    let note = notes.join("\n\n");
    let table = report::table(&rows);
    println!("\n{table}");
    let (met, targeted) = report::tally(&rows);
    println!("{met} of {targeted} targets met\n\n{note}");
    if o.write {
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let title = format!(
            "chat API benchmark: {met} of {targeted} targets met ({} cores)",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        std::fs::write(root.join("BENCHMARKS.svg"), report::svg(&rows, &title))?;
        let md_path = root.join("BENCHMARKS.md");
        let doc = std::fs::read_to_string(&md_path).unwrap_or_default();
        let content = format!("{table}\n{met} of {targeted} targets met.\n\n{note}\n");
        match report::splice(&doc, &content) {
            Some(doc) => std::fs::write(&md_path, doc)?,
            None => eprintln!("BENCHMARKS.md has no bench markers; table not written"),
        }
        eprintln!("wrote BENCHMARKS.svg and BENCHMARKS.md");
    }
    Ok(())
}

// ---------------------------------------------------------------- 1. cold start

/// The cold-start rows, and a note on what the secret read costs; the peers' cold starts,
/// taken in the same rounds, go into `versus`.
async fn cold_starts(
    stack: &Stack,
    o: &Options,
    peers: Option<&Peers>,
    out: &mut Vec<Row>,
) -> Result<(Vec<Row>, String), BoxError> {
    // The completion answers at once (no provider delay), so its first response measures
    // the function, not the model.
    stack
        .set_demo_model("offline:first=0,gap=0,tokens=24")
        .await?;
    let get_event = event("get-conversation.json");
    let completion_event = event("chat-completion-new-conversation.json");
    let close_event = event("close-conversation-with-reason.json");
    let get = Function::at(&o.bin_dir, "get-conversation");
    let completion = Function::at(&o.bin_dir, "chat-completion");
    // Ours with the keys inline, as the peers take them: what they are compared with.
    let get_inline = get.inline("get-conversation, keys inline");
    let completion_inline = completion.inline("chat-completion, keys inline");
    let knowledge_event = event("knowledge-sources-list.json");
    let tick_event = event("crawl-worker-tick.json");
    let mut started: Vec<(Function, &str)> = vec![
        (Function::at(&o.bin_dir, "knowledge"), &knowledge_event),
        (Function::at(&o.bin_dir, "crawl-worker"), &tick_event),
        (get_inline.clone(), &get_event),
        (Function::at(&o.bin_dir, HELLO), &get_event),
        (get.clone(), &get_event),
        (Function::at(&o.bin_dir, "close-conversation"), &close_event),
        (completion.clone(), &completion_event),
        (completion_inline.clone(), &completion_event),
    ];
    if let Some(peers) = peers {
        started.extend([
            (peers.node_get.clone(), get_event.as_str()),
            (peers.node_completion.clone(), &completion_event),
            (peers.python_get.clone(), &get_event),
        ]);
    }
    let mut poll: HashMap<&str, Samples> = HashMap::new();
    let mut answer: HashMap<&str, Samples> = HashMap::new();
    // Interleaved, so a busy moment on the machine hits every process alike.
    for _ in 0..o.cold {
        for (function, event) in &started {
            if function.name == "close-conversation" {
                stack.reopen_demo().await?;
            }
            let running = spawn(stack, function, Some(("cold-1", event))).await?;
            let polled = running.first_poll().await?;
            // The crawl worker is not behind API Gateway: its answer has no status.
            let invocation = if function.name == "crawl-worker" {
                running.answer("cold-1").await
            } else {
                running.response("cold-1").await
            }
            .map_err(|e| format!("{}: {e}", function.name))?;
            if invocation.error {
                return Err(format!("{}: the invocation failed", function.name).into());
            }
            let finished = invocation.finished.expect("finished");
            poll.entry(function.name)
                .or_default()
                .push(polled - running.spawned);
            answer
                .entry(function.name)
                .or_default()
                .push(finished - running.spawned);
            running.stop().await;
        }
    }
    let hello_poll = poll[HELLO].median();
    let inline_poll = poll[get_inline.name].median();
    let note = format!(
        "Not a target, a decomposition: get-conversation with its keys given inline instead of \
         read from the secret reaches its first poll in {inline_poll:.3} ms ({:.2}× hello).",
        inline_poll / hello_poll
    );
    let mut rows = Vec::new();
    for (what, samples) in [("first poll", &poll), ("first response", &answer)] {
        for name in FUNCTIONS {
            rows.push(Row {
                section: "1",
                name: format!("cold start to {what}: {name} (median)"),
                value: samples[name].median(),
                floor: samples[HELLO].median(),
                floor_name: "hello lambda_http".into(),
                unit: Unit::Ms,
                target: Target::Ratio(1.5),
            });
        }
    }
    for (what, samples) in [("first poll", &poll), ("first response", &answer)] {
        for name in KNOWLEDGE_FUNCTIONS {
            rows.push(Row {
                section: "1",
                name: format!("cold start to {what}: {name}, links the index (median)"),
                value: samples[name].median(),
                floor: samples[HELLO].median(),
                floor_name: "hello lambda_http".into(),
                unit: Unit::Ms,
                target: Target::None,
            });
        }
    }
    if let Some(peers) = peers {
        for (what, samples) in [("first poll", &poll), ("first response", &answer)] {
            for (ours, peer, target) in [
                (get_inline.name, peers.node_get.name, TENTH),
                (get_inline.name, peers.python_get.name, Target::None),
                (completion_inline.name, peers.node_completion.name, TENTH),
            ] {
                out.push(versus(
                    format!("cold start to {what}: {ours} vs {peer} (median)"),
                    samples[ours].median(),
                    samples[peer].median(),
                    peer,
                    Unit::Ms,
                    target,
                ));
            }
        }
    }
    Ok((rows, note))
}

// ---------------------------------------------------------------- 2. warm latency

/// Warm calls are taken in this many stretches; each quantile is the median of theirs.
const WARM_BLOCKS: usize = 5;

fn get_request(id: uuid::Uuid, token: &str) -> lambda_http::Request {
    http::Request::builder()
        .method("GET")
        .uri(format!("/v2/conversations/{id}"))
        .header("authorization", format!("Bearer {token}"))
        .body(lambda_http::Body::Empty)
        .expect("request")
        .with_path_parameters(HashMap::from([(
            "conversationId".to_owned(),
            id.to_string(),
        )]))
}

fn close_request(id: uuid::Uuid, token: &str) -> lambda_http::Request {
    http::Request::builder()
        .method("POST")
        .uri(format!("/v2/conversations/{id}/close"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(lambda_http::Body::Text(
            r#"{"closeReason":"Question answered"}"#.into(),
        ))
        .expect("request")
        .with_path_parameters(HashMap::from([(
            "conversationId".to_owned(),
            id.to_string(),
        )]))
}

/// The Query the get adapter sends, bare.
async fn bare_query(stack: &Stack, caller: Caller, id: uuid::Uuid) -> Result<usize, BoxError> {
    let page = stack
        .client()
        .query()
        .table_name(stack::TABLE)
        .key_condition_expression("#pk = :pk")
        .expression_attribute_names("#pk", PARTITION_KEY)
        .expression_attribute_values(
            ":pk",
            AttributeValue::S(conversation_pk(caller.project, id)),
        )
        .scan_index_forward(false)
        .consistent_read(true)
        .limit(1_001)
        .send()
        .await?;
    Ok(page.items.map_or(0, |i| i.len()))
}

/// The UpdateItem the close adapter sends, bare.
async fn bare_update(stack: &Stack, caller: Caller, id: uuid::Uuid) -> Result<(), BoxError> {
    let now = AttributeValue::S(chat_domain::timestamp::Timestamp::now().to_string());
    stack
        .client()
        .update_item()
        .table_name(stack::TABLE)
        .set_key(Some(key(
            conversation_pk(caller.project, id),
            CONVERSATION_SK,
        )))
        .condition_expression("attribute_exists(#pk) AND #visitor = :visitor AND #status = :open")
        .expression_attribute_names("#pk", PARTITION_KEY)
        .expression_attribute_names("#visitor", VISITOR_ID)
        .expression_attribute_names("#status", STATUS)
        .expression_attribute_names("#closedAt", CLOSED_AT)
        .expression_attribute_names("#updatedAt", UPDATED_AT)
        .expression_attribute_names("#reason", CLOSE_REASON)
        .expression_attribute_values(":visitor", AttributeValue::S(caller.visitor.0.to_string()))
        .expression_attribute_values(
            ":open",
            AttributeValue::S(ConversationStatus::Open.as_str().into()),
        )
        .expression_attribute_values(
            ":closed",
            AttributeValue::S(ConversationStatus::Closed.as_str().into()),
        )
        .expression_attribute_values(":now", now)
        .expression_attribute_values(":reason", AttributeValue::S("Question answered".into()))
        .update_expression(
            "SET #status = :closed, #closedAt = :now, #updatedAt = :now, #reason = :reason",
        )
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await?;
    Ok(())
}

async fn warm(stack: &Stack, calls: usize) -> Result<Vec<Row>, BoxError> {
    let app = &stack.app;
    let caller = new_caller();
    let token = token(caller);
    let id = stack.conversation(caller, 20).await?;
    let (mut get, mut query) = (Samples::default(), Samples::default());
    let warmup = calls / 10;
    for n in 0..calls + warmup {
        let t = Instant::now();
        let response = app.get.handle(get_request(id, &token)).await;
        let handler = t.elapsed();
        assert_eq!(response.status(), 200, "get: {:?}", response.body());
        let t = Instant::now();
        let items = bare_query(stack, caller, id).await?;
        let bare = t.elapsed();
        assert_eq!(items, 21);
        if n >= warmup {
            get.push(handler);
            query.push(bare);
        }
    }
    // Close: every call closes an open conversation, the common case; as many for the floor.
    let closes = (calls / 3).max(50);
    let mut open = Vec::new();
    for _ in 0..2 * (closes + warmup) {
        open.push(stack.conversation(caller, 0).await?);
    }
    let (mut close, mut update) = (Samples::default(), Samples::default());
    for (n, pair) in open.chunks(2).enumerate() {
        let t = Instant::now();
        let response = app.close.handle(close_request(pair[0], &token)).await;
        let handler = t.elapsed();
        assert_eq!(response.status(), 200, "close: {:?}", response.body());
        let t = Instant::now();
        bare_update(stack, caller, pair[1]).await?;
        let bare = t.elapsed();
        if n >= warmup {
            close.push(handler);
            update.push(bare);
        }
    }
    let row = |name: &str, q: f64, value: &Samples, floor: &Samples, floor_name: &str| Row {
        section: "2",
        name: format!("warm {name} p{:.0}", q * 100.0),
        value: value.blocked_quantile(q, WARM_BLOCKS),
        floor: floor.blocked_quantile(q, WARM_BLOCKS),
        floor_name: floor_name.into(),
        unit: Unit::Ms,
        target: Target::Ratio(1.15),
    };
    Ok(vec![
        row("get (20 messages)", 0.5, &get, &query, "bare Query"),
        row("get (20 messages)", 0.99, &get, &query, "bare Query"),
        row("close", 0.5, &close, &update, "bare UpdateItem"),
        row("close", 0.99, &close, &update, "bare UpdateItem"),
    ])
}

/// Peak RSS (MB) of ours, the Node.js and the Python get after the same warm calls.
struct GetRss {
    ours: f64,
    node: f64,
    python: f64,
}

/// Warm get through the Runtime API, event queued → response posted: ours and both peers,
/// each running, called in turn on the same 20-message conversation.
async fn warm_versus(
    stack: &Stack,
    o: &Options,
    peers: &Peers,
    out: &mut Vec<Row>,
) -> Result<GetRss, BoxError> {
    let caller = new_caller();
    let id = stack.conversation(caller, 20).await?;
    let get_event = events::with(
        &event("get-conversation.json"),
        &events::Changes {
            conversation: Some(id),
            token: Some(&token(caller)),
            body: None,
        },
    );
    let ours = Function::at(&o.bin_dir, "get-conversation").inline("get-conversation");
    let functions = [&ours, &peers.node_get, &peers.python_get];
    let mut running: Vec<Running> = Vec::new();
    for function in functions {
        running.push(spawn(stack, function, None).await?);
    }
    let mut samples = vec![Samples::default(); functions.len()];
    let warmup = o.peer_warm / 10;
    for n in 0..o.peer_warm + warmup {
        for (process, samples) in running.iter().zip(samples.iter_mut()) {
            let (took, invocation) = process.call(&format!("warm-{n}"), &get_event).await?;
            if n == 0 {
                // The same conversation, all of it, from each.
                let body: serde_json::Value = serde_json::from_slice(&invocation.body)?;
                let body: serde_json::Value =
                    serde_json::from_str(body["body"].as_str().unwrap_or("null"))?;
                let messages = body["messages"].as_array().map_or(0, Vec::len);
                if messages != 20 {
                    return Err(format!("a warm get returned {messages} messages").into());
                }
            }
            if n >= warmup {
                samples.push(took);
            }
        }
    }
    let rss: Vec<f64> = running
        .iter()
        .map(|r| r.peak_rss_mb().unwrap_or(f64::NAN))
        .collect();
    for process in running {
        process.stop().await;
    }
    for (q, node_target) in [(0.5, Target::Ratio(0.5)), (0.99, Target::None)] {
        for (peer, target) in [(1, node_target), (2, Target::None)] {
            out.push(versus(
                format!(
                    "warm get (20 messages) p{:.0} through the Runtime API vs {}",
                    q * 100.0,
                    functions[peer].name
                ),
                samples[0].blocked_quantile(q, WARM_BLOCKS),
                samples[peer].blocked_quantile(q, WARM_BLOCKS),
                functions[peer].name,
                Unit::Ms,
                target,
            ));
        }
    }
    Ok(GetRss {
        ours: rss[0],
        node: rss[1],
        python: rss[2],
    })
}

// ---------------------------------------------------------------- 3. streaming

const STREAM_MODEL: &str = "offline:first=200,gap=20,tokens=50";
const DELTA: &[u8] = b"\"type\":\"text-delta\"";

/// When each text delta arrived, from chunks with their arrival times.
fn delta_times(chunks: &[(Instant, &[u8])]) -> Vec<Instant> {
    let mut all = Vec::new();
    let mut times = Vec::new();
    for (at, bytes) in chunks {
        all.extend_from_slice(bytes);
        let count = all.windows(DELTA.len()).filter(|w| *w == DELTA).count();
        while times.len() < count {
            times.push(*at);
        }
    }
    times
}

#[derive(Default)]
struct StreamSamples {
    first: Samples,
    gaps: Samples,
}

impl StreamSamples {
    fn add(&mut self, start: Instant, first_byte: Instant, deltas: &[Instant]) {
        self.first.push(first_byte - start);
        for pair in deltas.windows(2) {
            self.gaps.push(pair[1] - pair[0]);
        }
    }
}

/// One answer of the provider alone, in this process: its own first-token delay and gaps.
async fn provider_alone(samples: &mut StreamSamples) {
    let provider = OfflineProvider::new(OfflineSettings::default());
    let start = Instant::now();
    let mut events = provider.stream(ModelRequest {
        model: STREAM_MODEL.into(),
        messages: vec![ChatMessage {
            role: ChatRole::User,
            content: "Do you ship to Canada?".into(),
        }],
        temperature: None,
        max_output_tokens: None,
        grounding: None,
    });
    let mut deltas = Vec::new();
    while let Some(Ok(event)) = events.next().await {
        if matches!(event, ProviderEvent::Delta(_)) {
            deltas.push(Instant::now());
        }
    }
    samples.add(start, deltas[0], &deltas);
}

/// One stream through the local server, over HTTP/1.1 on loopback, read as it arrives.
async fn local_stream(
    addr: std::net::SocketAddr,
    token: &str,
) -> Result<(Instant, Vec<(Instant, Vec<u8>)>), BoxError> {
    let body = serde_json::json!({
        "messages": [{ "role": "user", "content": "Do you ship to Canada?" }],
        "stream": true,
    })
    .to_string();
    let request = format!(
        "POST /v2/chat/completions HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut socket = tokio::net::TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let start = Instant::now();
    socket.write_all(request.as_bytes()).await?;
    let mut chunks = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = socket.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        chunks.push((Instant::now(), buffer[..n].to_vec()));
    }
    Ok((start, chunks))
}

/// The two storage calls a completion makes before it asks the model, alone: read the
/// settings, assistant and conversation, then write the turn of a new conversation.
async fn storage_before_model(stack: &Stack) -> Result<std::time::Duration, BoxError> {
    let store = stack.store();
    let caller = demo_caller();
    let id = chat_domain::ids::new_id();
    let start = Instant::now();
    store.turn_context(caller, id, None).await?;
    store
        .write_turn(caller, &new_turn(id, "Do you ship to Canada?"))
        .await?;
    Ok(start.elapsed())
}

/// One streamed completion through `running`: when it was queued, and the time each frame
/// arrived; checked to carry all 50 deltas.
async fn lambda_stream(
    running: &Running,
    id: &str,
    event: &str,
    samples: &mut StreamSamples,
) -> Result<(), BoxError> {
    let start = running.queue(id, event).await?;
    let invocation = running.response(id).await?;
    let refs: Vec<(Instant, &[u8])> = invocation
        .frames
        .iter()
        .map(|(t, b)| (*t, b.as_ref()))
        .collect();
    let deltas = delta_times(&refs);
    if deltas.len() != 50 {
        return Err(format!("{id}: the stream had {} deltas", deltas.len()).into());
    }
    samples.add(start, invocation.frames[0].0, &deltas);
    Ok(())
}

/// The streaming rows, and a note on what the storage before the model costs; against the
/// Node.js completion, in the same rounds, into `out`.
async fn streaming(
    stack: &Stack,
    o: &Options,
    peers: Option<&Peers>,
    out: &mut Vec<Row>,
) -> Result<(Vec<Row>, String), BoxError> {
    stack.set_demo_model(STREAM_MODEL).await?;

    // The local server, in this process, over real HTTP; without the limiter, like the
    // Lambda path below (both are called far past any limit; counters move in parallel with
    // the first read, as row 5 counts).
    let app = Arc::new(App::build(stack.unlimited.clone()).await?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, app, std::future::pending(), None));
    let token = token(demo_caller());

    // The chat-completion binary under the Runtime API.
    let function = Function::at(&o.bin_dir, "chat-completion");
    let running = spawn(stack, &function, None).await?;
    running.first_poll().await?;
    let node = match peers {
        Some(peers) => Some(spawn(stack, &peers.node_completion, None).await?),
        None => None,
    };
    let event = event("chat-completion-new-conversation.json");

    // Round after round: the floor, then each path, so load on the machine hits all alike.
    // The first round warms up and is not counted.
    let mut floor = StreamSamples::default();
    let mut local = StreamSamples::default();
    let mut lambda = StreamSamples::default();
    let mut node_samples = StreamSamples::default();
    let mut storage = Samples::default();
    for n in 0..=o.streams {
        provider_alone(&mut floor).await;

        let (start, chunks) = local_stream(addr, &token).await?;
        let text =
            String::from_utf8_lossy(&chunks.iter().flat_map(|c| c.1.clone()).collect::<Vec<_>>())
                .into_owned();
        if !text.starts_with("HTTP/1.1 200") || !text.contains("data: [DONE]") {
            return Err(format!("local stream failed: {}", &text[..text.len().min(300)]).into());
        }
        let refs: Vec<(Instant, &[u8])> = chunks.iter().map(|(t, b)| (*t, b.as_slice())).collect();
        local.add(start, chunks[0].0, &delta_times(&refs));

        lambda_stream(&running, &format!("stream-{n}"), &event, &mut lambda).await?;
        if let Some(node) = &node {
            lambda_stream(node, &format!("node-{n}"), &event, &mut node_samples).await?;
        }
        // Last in the round, after a stream's mostly idle second like the paths above: run
        // first, it would warm the engine for the local path that follows it.
        storage.push(storage_before_model(stack).await?);
        if n == 0 {
            (floor, local, lambda, node_samples, storage) = Default::default();
        }
    }
    running.stop().await;
    if let (Some(node), Some(peers)) = (node, peers) {
        node.stop().await;
        let peer = peers.node_completion.name;
        out.push(versus(
            format!("first byte, chat-completion vs {peer}, Runtime API (median)"),
            lambda.first.median(),
            node_samples.first.median(),
            peer,
            Unit::Ms,
            Target::Ratio(1.0),
        ));
        out.push(versus(
            format!(
                "delta gap p99, chat-completion vs {peer} ({} gaps each)",
                node_samples.gaps.len()
            ),
            lambda.gaps.p99(),
            node_samples.gaps.p99(),
            peer,
            Unit::Ms,
            Target::Ratio(1.0),
        ));
    }
    let note = format!(
        "Not a target, a decomposition: the two storage calls a completion makes before it \
         asks the model (BatchGetItem, TransactWriteItems), made alone through the same \
         adapter, take {:.3} ms (median).",
        storage.median()
    );

    let mut rows = Vec::new();
    for (path, s) in [("local server", &local), ("Lambda runtime", &lambda)] {
        rows.push(Row {
            section: "3",
            name: format!("first byte, {path} (median)"),
            value: s.first.median(),
            floor: floor.first.median(),
            floor_name: "provider's first token".into(),
            unit: Unit::Ms,
            target: Target::AddedMs(2.0),
        });
        rows.push(Row {
            section: "3",
            name: format!("delta gap p99, {path} ({} gaps)", s.gaps.len()),
            value: s.gaps.p99(),
            floor: floor.gaps.p99(),
            floor_name: "provider's gap p99".into(),
            unit: Unit::Ms,
            target: Target::AddedMs(1.0),
        });
    }
    Ok((rows, note))
}

// ---------------------------------------------------------------- 4. size and memory

/// The 4,000-token stream that peak memory is measured after.
const LONG_STREAM_MODEL: &str = "offline:first=0,gap=1,tokens=4000";

/// Peak RSS of a process after the long stream, and its resident memory then, anonymous and
/// file-backed (MB).
struct StreamRss {
    peak: f64,
    anon: f64,
    file: f64,
}

/// The memory of `function` after it has streamed the long answer.
async fn rss_after_long_stream(stack: &Stack, function: &Function) -> Result<StreamRss, BoxError> {
    let running = spawn(
        stack,
        function,
        Some(("m-1", &event("chat-completion-new-conversation.json"))),
    )
    .await?;
    let invocation = running.response("m-1").await?;
    let deltas = invocation
        .body
        .windows(DELTA.len())
        .filter(|w| *w == DELTA)
        .count();
    if deltas != 4000 {
        return Err(format!("{}: the long stream carried {deltas} deltas", function.name).into());
    }
    let peak = running.peak_rss_mb().ok_or("no VmHWM")?;
    let (anon, file) = running.rss_split_mb().ok_or("no RssAnon")?;
    running.stop().await;
    Ok(StreamRss { peak, anon, file })
}

async fn size_and_memory(
    stack: &Stack,
    o: &Options,
    peers: Option<&Peers>,
    get_rss: Option<GetRss>,
    out: &mut Vec<Row>,
    notes: &mut Vec<String>,
) -> Result<Vec<Row>, BoxError> {
    let arm64 = o
        .size_dir
        .as_ref()
        .filter(|dir| dir.join(HELLO).join("bootstrap").is_file());
    let arch = if arm64.is_some() { "arm64" } else { "x86_64" };
    let path = |name: &str| match arm64 {
        Some(dir) => dir.join(name).join("bootstrap"),
        None => o.bin_dir.join(name),
    };
    let mb = |p: PathBuf| -> Result<f64, BoxError> {
        Ok(std::fs::metadata(&p)
            .map_err(|e| format!("{}: {e}", p.display()))?
            .len() as f64
            / 1e6)
    };
    let hello_size = mb(path(HELLO))?;
    let mut rows = Vec::new();
    for name in FUNCTIONS {
        rows.push(Row {
            section: "4",
            name: format!("stripped {arch} size: {name}"),
            value: mb(path(name))?,
            floor: hello_size,
            floor_name: "hello lambda_http".into(),
            unit: Unit::Mb,
            target: Target::AtMost(8.0),
        });
    }

    // Peak RSS: the hello binary after one request, the completion after a 4,000-token stream.
    let hello = spawn(
        stack,
        &Function::at(&o.bin_dir, HELLO),
        Some(("m-1", &event("get-conversation.json"))),
    )
    .await?;
    hello.response("m-1").await?;
    let hello_rss = hello.peak_rss_mb().ok_or("no VmHWM")?;
    hello.stop().await;
    stack.set_demo_model(LONG_STREAM_MODEL).await?;
    let ours = rss_after_long_stream(stack, &Function::at(&o.bin_dir, "chat-completion")).await?;
    let rss = ours.peak;
    rows.push(Row {
        section: "4",
        name: "peak RSS: chat-completion, 4,000-token stream".into(),
        value: rss,
        floor: hello_rss,
        floor_name: "hello, one request".into(),
        unit: Unit::Mb,
        target: Target::AtMost(32.0),
    });

    let Some(peers) = peers else {
        return Ok(rows);
    };
    let node = rss_after_long_stream(stack, &peers.node_completion).await?;
    notes.push(format!(
        "Not a target, a decomposition: after the 4,000-token stream, chat-completion holds \
         {:.2} MB resident, {:.2} MB of it file-backed (the pages of its executable and the C \
         library) and {:.2} MB anonymous (heap, stacks); {} holds {:.2} MB, {:.2} MB \
         file-backed and {:.2} MB anonymous.",
        ours.anon + ours.file,
        ours.file,
        ours.anon,
        peers.node_completion.name,
        node.anon + node.file,
        node.file,
        node.anon
    ));
    let node_rss = node.peak;
    if let Some(get) = get_rss {
        let calls = report::grouped((o.peer_warm + o.peer_warm / 10) as f64);
        for (peer, value, target) in [
            (peers.node_get.name, get.node, TENTH),
            (peers.python_get.name, get.python, Target::None),
        ] {
            out.push(versus(
                format!("peak RSS: get-conversation vs {peer}, after {calls} warm gets"),
                get.ours,
                value,
                peer,
                Unit::Mb,
                target,
            ));
        }
    }
    out.push(versus(
        format!(
            "peak RSS: chat-completion vs {}, 4,000-token stream",
            peers.node_completion.name
        ),
        rss,
        node_rss,
        peers.node_completion.name,
        Unit::Mb,
        TENTH,
    ));
    // What a user uploads: our binary as `bootstrap` in a zip; the peers' packages as
    // install.sh makes them.
    let kb = |bytes: u64| bytes as f64 / 1e3;
    for (ours, peer, note) in [
        ("get-conversation", "node-get", "esbuild bundle"),
        ("get-conversation", "python-get", "handler + PyJWT"),
        (
            "get-conversation",
            "python-get-with-boto3",
            "with its own boto3",
        ),
        ("chat-completion", "node-completion", "esbuild bundle"),
    ] {
        out.push(versus(
            format!("deployment package, zipped ({arch}): {ours} vs {peer}.zip ({note})"),
            kb(bootstrap_zip_size(&path(ours))?),
            kb(peers.package_size(peer)?),
            peer,
            Unit::Kb,
            Target::None,
        ));
    }
    Ok(rows)
}

// ---------------------------------------------------------------- 5. round trips

async fn round_trips(stack: &Stack) -> Result<Vec<Row>, BoxError> {
    let logged = &stack.logged;
    let caller = new_caller();
    let token = token(caller);
    let id = stack.conversation(caller, 20).await?;
    // Sequential round trips: requests sent together (a read and the rate-limit counters)
    // count once.
    let count = |calls: &Arc<chat_testkit::call_log::CallLog>| calls.round_trips() as f64;

    stack.calls.clear();
    let response = logged.get.handle(get_request(id, &token)).await;
    assert_eq!(response.status(), 200);
    let get = count(&stack.calls);

    stack.calls.clear();
    let response = logged.close.handle(close_request(id, &token)).await;
    assert_eq!(response.status(), 200);
    let close = count(&stack.calls);

    stack
        .set_demo_model("offline:first=0,gap=0,tokens=24")
        .await?;
    stack.calls.clear();
    let request = http::Request::builder()
        .method("POST")
        .uri("/v2/chat/completions")
        .header("authorization", format!("Bearer {}", token_for_demo()))
        .header("content-type", "application/json")
        .body(lambda_http::Body::Text(
            serde_json::json!({
                "messages": [{ "role": "user", "content": "Do you ship to Canada?" }],
                "stream": true,
                "conversationId": DEMO_CONVERSATION,
            })
            .to_string(),
        ))?;
    stack.reopen_demo().await?;
    stack.calls.clear();
    let response = logged.completions.handle(request).await;
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await?.to_bytes();
    assert!(body.ends_with(b"data: [DONE]\n\n"));
    let completion = count(&stack.calls);
    eprintln!("   completion sent: {:?}", stack.calls.calls());

    let row = |name: &str, value: f64, floor: f64| Row {
        section: "5",
        name: format!("DynamoDB round trips: {name}"),
        value,
        floor,
        floor_name: "DESIGN.md".into(),
        unit: Unit::Count,
        target: Target::AtMost(floor),
    };
    Ok(vec![
        row("get", get, 1.0),
        // Counters first, then the close: a close refused with 429 must change nothing.
        row("close (rate limits on)", close, 1.0),
        row("completion (stream)", completion, 3.0),
    ])
}

fn token_for_demo() -> String {
    token(demo_caller())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_sections_or_the_live_row() {
        assert_eq!(parse_only("7"), Ok(Only(vec!["7".into()])));
        assert_eq!(
            parse_only("live, 5,live"),
            Ok(Only(vec!["live".into(), "5".into()]))
        );
        assert!(parse_only("8").is_err());
        assert!(parse_only("6").is_err(), "rows 6 come with sections 1 to 4");
        assert!(parse_only("").is_err());
        assert!(parse_only("7,").is_err());
        let with = |args: &[&str]| {
            <Options as clap::Parser>::try_parse_from([&["bench"], args].concat()).unwrap()
        };
        let all = with(&[]);
        assert!(all.runs("1") && all.runs("live"));
        let live = with(&["--only", "live"]);
        assert!(live.runs("live") && !live.runs("7") && !live.runs("1"));
        let growth = with(&["--only", "7"]);
        assert!(growth.runs("7") && growth.runs("live") && !growth.runs("6"));
    }
}
