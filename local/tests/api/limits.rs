//! Rate limits, quotas and caps: the request past a limit is 429 with `retryAfter` and
//! the headers; windows roll over; visitors do not share a visitor limit; limits hold
//! under concurrency; runaway answers are cut.

use std::time::Duration;

use chat_domain::assistant::LimitOverrides;
use chat_domain::assistant::Plan;
use futures_util::future::join_all;
use serde_json::json;

use chat_testkit::{
    TestApp, bearer, json, new_caller, same_project_other_visitor, stream_events, user,
};

async fn set_limits(
    app: &TestApp,
    caller: chat_domain::ids::Caller,
    plan: Plan,
    limits: LimitOverrides,
) {
    app.put_limits(caller, plan, limits).await;
}

fn header(response: &reqwest::Response, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().parse().unwrap())
}

#[tokio::test]
async fn the_request_past_the_visitor_limit_is_429_with_retry_after_and_headers() {
    let app = TestApp::builder()
        .settings(|config| {
            config.base.limits.limits.reads_per_visitor = 3;
            config.base.limits.window_secs = 3_600;
        })
        .spawn()
        .await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 1).await.to_string();
    let auth = bearer(&app.token(caller));
    for remaining in [2, 1, 0] {
        let response = app.get(&id, Some(&auth)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "x-ratelimit-limit"), Some(3));
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some(remaining));
        assert!(header(&response, "x-ratelimit-reset").unwrap() <= 3_600);
    }
    let before = app.snapshot().await;
    let response = app.close(&id, Some(&auth), None).await;
    assert_eq!(header(&response, "x-ratelimit-remaining"), Some(0));
    let reset = header(&response, "x-ratelimit-reset").unwrap();
    let retry_after = header(&response, "retry-after").unwrap();
    let (status, body) = json(response).await;
    assert_eq!(status, 429, "closes count with reads: {body}");
    assert_eq!(body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(body["error"]["details"], json!({"retryAfter": retry_after}));
    assert_eq!(retry_after, reset);
    assert!((1..=3_600).contains(&retry_after));
    assert_eq!(
        app.snapshot().await,
        before,
        "a close refused with 429 closes nothing"
    );
    // Another visitor of the same project has a limit of its own.
    let other = same_project_other_visitor(caller);
    let theirs = app.create_conversation(other, 0).await.to_string();
    assert_eq!(
        app.get(&theirs, Some(&bearer(&app.token(other))))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn windows_roll_over() {
    let app = TestApp::builder()
        .settings(|config| {
            config.base.limits.limits.reads_per_visitor = 1;
            config.base.limits.window_secs = 1;
        })
        .spawn()
        .await;
    let caller = new_caller();
    let id = app.create_conversation(caller, 0).await.to_string();
    let auth = bearer(&app.token(caller));
    // Start at the beginning of a window so the two requests share it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    tokio::time::sleep(Duration::from_millis(
        1_000 - u64::from(now.subsec_millis()) + 20,
    ))
    .await;
    assert_eq!(app.get(&id, Some(&auth)).await.status(), 200);
    let refused = app.get(&id, Some(&auth)).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(header(&refused, "retry-after"), Some(1));
    tokio::time::sleep(Duration::from_millis(1_050)).await;
    assert_eq!(
        app.get(&id, Some(&auth)).await.status(),
        200,
        "a new window"
    );
}

#[tokio::test]
async fn exactly_the_limit_succeeds_under_fifty_concurrent_requests() {
    let app = TestApp::builder()
        .settings(|config| config.base.limits.window_secs = 3_600)
        .spawn()
        .await;
    let caller = new_caller();
    set_limits(
        &app,
        caller,
        Plan::Pro,
        LimitOverrides {
            completions_per_visitor: Some(7),
            ..LimitOverrides::default()
        },
    )
    .await;
    let assistant = app
        .put_assistant(
            caller,
            "offline:first=0,gap=0,tokens=2",
            chat_domain::assistant::Tier::Standard,
        )
        .await
        .to_string();
    let before = app.snapshot().await;
    let statuses = join_all((0..50).map(|_| {
        let app = &app;
        let body = json!({"messages": [user("hi")], "assistantId": assistant});
        async move { app.complete(caller, &body).await.status().as_u16() }
    }))
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 43);
    let after = app.snapshot().await;
    assert_eq!(
        after.len() - before.len(),
        7 * 5,
        "seven conversations of two messages each, with their pointers"
    );
}

#[tokio::test]
async fn the_monthly_quota_follows_the_plan_and_resets_with_the_month() {
    let app = TestApp::builder()
        .settings(|config| config.base.limits.monthly_free = 2)
        .spawn()
        .await;
    let caller = new_caller();
    set_limits(&app, caller, Plan::Free, LimitOverrides::default()).await;
    let body = json!({"messages": [user("hi")]});
    assert_eq!(app.complete(caller, &body).await.status(), 200);
    assert_eq!(app.complete(caller, &body).await.status(), 200);
    let refused = app.complete(caller, &body).await;
    let retry_after = header(&refused, "retry-after").unwrap();
    let (status, error) = json(refused).await;
    assert_eq!(status, 429);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Monthly")
    );
    // Seconds until the first of next month, midnight UTC.
    let now = time::OffsetDateTime::now_utc();
    let (year, month) = if now.month() == time::Month::December {
        (now.year() + 1, time::Month::January)
    } else {
        (now.year(), now.month().next())
    };
    let next = time::Date::from_calendar_date(year, month, 1)
        .unwrap()
        .midnight()
        .assume_utc();
    let expected = (next - now).whole_seconds() as u64;
    assert!(
        retry_after.abs_diff(expected) <= 2,
        "{retry_after} vs {expected}"
    );
    // The pro plan's quota is larger; a project override beats both.
    set_limits(&app, caller, Plan::Pro, LimitOverrides::default()).await;
    assert_eq!(app.complete(caller, &body).await.status(), 200);
    set_limits(
        &app,
        caller,
        Plan::Pro,
        LimitOverrides {
            monthly_completions: Some(3),
            ..LimitOverrides::default()
        },
    )
    .await;
    assert_eq!(app.complete(caller, &body).await.status(), 429);
}

#[tokio::test]
async fn runaway_answers_are_cut_with_finish_reason_length() {
    let app = TestApp::builder()
        .settings(|config| {
            config.turns.max_output_tokens = 5;
        })
        .spawn()
        .await;
    let caller = new_caller();
    let long = app
        .put_assistant(
            caller,
            "offline:first=0,gap=0,tokens=50",
            chat_domain::assistant::Tier::Standard,
        )
        .await
        .to_string();
    let response = app
        .complete(
            caller,
            &json!({"messages": [user("hi")], "assistantId": long, "stream": true}),
        )
        .await;
    let conversation = response.headers()["x-conversation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    assert_eq!(text.matches("\"type\":\"text-delta\"").count(), 5, "{text}");
    assert!(text.contains("\"finishReason\":\"length\""), "{text}");
    let stored = app.read(caller, &conversation).await;
    assert_eq!(stored["messages"][1]["status"], "complete");
    assert_eq!(stored["messages"][1]["metadata"]["finishReason"], "length");
    // The provider's own count never comes for an answer cut short: the input is estimated
    // from the context ("You are a test assistant." and "hi": 27 characters, 7 tokens), not
    // reported as nothing.
    let finish: serde_json::Value = stream_events(&text)
        .iter()
        .filter_map(|event| serde_json::from_str::<serde_json::Value>(event).ok())
        .find(|chunk| chunk["type"] == "finish")
        .expect("a finish chunk");
    let usage = &finish["messageMetadata"]["usage"];
    assert_eq!(
        (
            usage["inputTokens"].as_u64(),
            usage["outputTokens"].as_u64(),
            usage["totalTokens"].as_u64()
        ),
        (Some(7), Some(5), Some(12)),
        "{usage}"
    );
    assert_eq!(stored["messages"][1]["metadata"]["usage"], *usage);

    let app = TestApp::builder()
        .settings(|config| {
            config.turns.max_generation_time = Duration::from_millis(300);
        })
        .spawn()
        .await;
    let slow = app
        .put_assistant(
            caller,
            "offline:first=0,gap=100,tokens=50",
            chat_domain::assistant::Tier::Standard,
        )
        .await
        .to_string();
    let (status, answer) = json(
        app.complete(
            caller,
            &json!({"messages": [user("hi")], "assistantId": slow}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["steps"][0]["finishReason"], "length");
    assert_eq!(answer["steps"][0]["usage"]["inputTokens"], 7);
    let words = answer["steps"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .count();
    assert!(
        (1..=4).contains(&words),
        "cut after about 300 ms: {words} words"
    );
}
