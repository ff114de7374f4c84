//! What a user pays as the data grows: the get of a conversation of 10, 100 and 1,000
//! messages and of one past 1 MB (its Query pages followed), a send into a 3,000-message
//! history against a 3-message one, and a list over 1,000 conversations against 10. Each
//! through its function binary under the Runtime API, warm (event queued → response
//! posted), as a ratio to the small case; the cases alternate call by call, so load on the
//! machine hits small and large alike. Seeded through the storage crate's import.

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
