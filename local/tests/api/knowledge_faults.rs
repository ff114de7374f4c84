//! The knowledge when what it stands on fails midway: S3 gone during a sync, DynamoDB
//! throttling the page writes after the bundle is stored. In each, search keeps answering
//! from the previous snapshot, the source says why in `lastSync`, and the next sync (the
//! queue's retry, or one asked for) finishes the work with nothing lost. Plus the crawl
//! worker's two events: a queue batch and a schedule tick.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use chat_domain::assistant::Plan;
use chat_domain::knowledge::SourceStatus;
use chat_domain::timestamp::Timestamp;
use chat_knowledge::jobs::{JobQueue, QueueError, SyncJob};
use chat_local::embedded_s3::EmbeddedS3;
use chat_storage::ports::SourceStore;
use chat_testkit::TestApp;
use crawl_worker::CrawlWorker;
use serde_json::json;
use std::sync::{Arc, Mutex};

use crate::faults::{Fault, faulty_app_with, set};
use crate::knowledge::{add_site, call, html, project, search, serve_pages, settled, shop};

/// Asks for a sync of `id` and waits for the worker (and its retries).
async fn resync(app: &TestApp, secret: &str, id: &str) -> u16 {
    let (status, _) = call(
        app,
        "POST",
        &format!("/v2/knowledge/sources/{id}/sync"),
        Some(secret),
        None,
    )
    .await;
    app.app.jobs.idle().await;
    status
}

#[tokio::test]
async fn s3_gone_midway_leaves_the_last_index_serving_and_the_next_sync_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = EmbeddedS3::start(Some(dir.path()), None, "chat-knowledge")
        .await
        .unwrap();
    let endpoint = s3.endpoint().to_owned();
    let addr: std::net::SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    let app = TestApp::builder()
        .env("S3_ENDPOINT_URL", &endpoint)
        .spawn()
        .await;
    let project = project(&app, Plan::Free).await;
    let served = shop();
    let site = serve_pages(served.clone()).await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let id = source["id"].as_str().unwrap().to_owned();
    assert_eq!(
        search(&app, &project, "refund").await[0]["path"],
        "/returns"
    );

    served.lock().unwrap().insert(
        "/returns".into(),
        (
            200,
            "text/html",
            html("Returns", "<p>Returns are now accepted for 90 days.</p>"),
        ),
    );
    drop(s3);
    assert_eq!(resync(&app, &project.secret, &id).await, 202);
    let source = settled(&app, &project, &id).await;
    assert_eq!(source["status"], "failed", "{source}");
    let error = source["lastSync"]["error"].as_str().unwrap();
    assert!(error.contains("S3"), "{error}");
    // The index that was current still answers, from the warm cache.
    let results = search(&app, &project, "refund").await;
    assert!(
        results[0]["content"].as_str().unwrap().contains("30 days"),
        "{results:?}"
    );

    // S3 is back, on the same address with the same objects: the next sync finishes.
    let _s3 = EmbeddedS3::start(Some(dir.path()), Some(addr), "chat-knowledge")
        .await
        .unwrap();
    assert_eq!(resync(&app, &project.secret, &id).await, 202);
    let source = settled(&app, &project, &id).await;
    assert_eq!(source["status"], "idle", "{source}");
    let results = search(&app, &project, "returns accepted").await;
    assert!(
        results[0]["content"].as_str().unwrap().contains("90 days"),
        "{results:?}"
    );
}

#[tokio::test]
async fn dynamodb_failing_the_page_writes_publishes_nothing_until_a_sync_succeeds() {
    let (app, rules) = faulty_app_with(|_| {}).await;
    let project = project(&app, Plan::Free).await;
    let served = shop();
    let site = serve_pages(served.clone()).await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let id = source["id"].as_str().unwrap().to_owned();

    served.lock().unwrap().insert(
        "/shipping".into(),
        (
            200,
            "text/html",
            html(
                "Shipping and delivery",
                "<p>Orders now ship by drone within the hour.</p>",
            ),
        ),
    );
    set(&rules, &[("BatchWriteItem", Fault::Throttle)]);
    assert_eq!(resync(&app, &project.secret, &id).await, 202);
    let source = settled(&app, &project, &id).await;
    assert_eq!(source["status"], "failed", "{source}");
    assert!(
        source["lastSync"]["error"]
            .as_str()
            .unwrap()
            .contains("DynamoDB"),
        "{source}"
    );
    let results = search(&app, &project, "shipping").await;
    assert!(
        results
            .iter()
            .all(|r| !r["content"].as_str().unwrap().contains("drone")),
        "nothing of the failed sync is searchable: {results:?}"
    );
    assert!(
        results[0]["content"]
            .as_str()
            .unwrap()
            .contains("two working days")
    );

    set(&rules, &[]);
    assert_eq!(resync(&app, &project.secret, &id).await, 202);
    let source = settled(&app, &project, &id).await;
    assert_eq!(source["status"], "idle", "{source}");
    assert!(
        search(&app, &project, "drone").await[0]["content"]
            .as_str()
            .unwrap()
            .contains("drone")
    );
}

/// A queue that keeps what it is given.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<SyncJob>>>);

impl JobQueue for Recorded {
    async fn enqueue(&self, job: &SyncJob) -> Result<(), QueueError> {
        self.0.lock().unwrap().push(job.clone());
        Ok(())
    }
}

fn worker(
    app: &TestApp,
    queue: Recorded,
) -> CrawlWorker<chat_storage::DynamoStore, chat_knowledge::blobs::S3Blobs, Recorded> {
    CrawlWorker {
        worker: app.app.worker.as_ref().clone(),
        queue,
    }
}

fn message(id: &str, body: &str) -> SqsMessage {
    let mut message = SqsMessage::default();
    message.message_id = Some(id.to_owned());
    message.body = Some(body.to_owned());
    message
}

#[tokio::test]
async fn the_crawl_worker_runs_a_batch_and_names_only_the_jobs_that_failed() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let site = serve_pages(shop()).await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let crawl = worker(&app, Recorded::default());
    let sync = json!({"job": "sync", "project": project.caller.project.0, "source": source["id"]});
    // A project with no settings item cannot publish: that job fails and is named.
    let orphan = json!({"job": "rebuild", "project": uuid::Uuid::now_v7()});
    let mut event = SqsEvent::default();
    event.records = vec![
        message("m-1", &sync.to_string()),
        message("m-2", "not a job"),
        message("m-3", &orphan.to_string()),
    ];
    let response = crawl.batch(event).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, ["m-3"]);
    let source = settled(&app, &project, source["id"].as_str().unwrap()).await;
    assert_eq!(source["lastSync"]["pagesUnchanged"], 3, "{source}");
}

#[tokio::test]
async fn a_schedule_tick_queues_the_due_sources_once() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let site = serve_pages(shop()).await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let id = uuid::Uuid::parse_str(source["id"].as_str().unwrap()).unwrap();
    let queue = Recorded::default();
    let crawl = worker(&app, queue.clone());

    // Daily: not due now, due in a day and a minute.
    let now = Timestamp::now();
    let tick = crawl.tick(now).await.unwrap();
    assert_eq!((tick.queued, tick.passed_over), (0, 0));
    let later = Timestamp::from_unix_millis(now.unix_millis() + (24 * 3600 + 60) * 1000);
    let tick = crawl.tick(later).await.unwrap();
    assert_eq!(tick.queued, 1);
    assert_eq!(
        queue.0.lock().unwrap().as_slice(),
        [SyncJob::Sync {
            project: project.caller.project.0,
            source: id
        }]
    );
    let stored = app.store.source(project.caller.project, id).await.unwrap();
    assert_eq!(stored.status, SourceStatus::Queued);
    // Queued already: the next tick passes it over.
    let tick = crawl.tick(later).await.unwrap();
    assert_eq!((tick.queued, tick.passed_over), (0, 1));
    // A manual source is never due.
    let manual = app.store.source(project.caller.project, id).await.unwrap();
    let read = manual.clone();
    let mut manual = manual;
    manual.schedule = chat_domain::knowledge::Schedule::Manual;
    manual.status = SourceStatus::Idle;
    app.store
        .replace_source(
            project.caller.project,
            &read,
            &manual,
            manual.url.as_deref(),
            manual.url.as_deref(),
        )
        .await
        .unwrap();
    let far = Timestamp::from_unix_millis(now.unix_millis() + 30 * 24 * 3600 * 1000);
    assert_eq!(crawl.tick(far).await.unwrap().queued, 0);
}

#[tokio::test]
async fn a_change_to_a_source_never_puts_back_a_sync_state_it_did_not_read() {
    let app = TestApp::builder().spawn().await;
    let project = project(&app, Plan::Free).await;
    let site = serve_pages(shop()).await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let id = uuid::Uuid::parse_str(source["id"].as_str().unwrap()).unwrap();
    let store = &app.store;
    let read = store.source(project.caller.project, id).await.unwrap();
    // The worker moves the sync on between a PATCH's read and its write.
    let started = chat_domain::knowledge::SyncReport {
        started_at: Some(Timestamp::now()),
        ..Default::default()
    };
    store
        .record_sync(
            project.caller.project,
            id,
            SourceStatus::Syncing,
            &started,
            None,
        )
        .await
        .unwrap();
    let mut changed = read.clone();
    changed.name = Some("Help".into());
    let url = read.url.as_deref();
    let written = store
        .replace_source(project.caller.project, &read, &changed, url, url)
        .await;
    assert!(
        matches!(written, Err(chat_storage::StoreError::Changed)),
        "{written:?}"
    );
    // The route reads again and writes on the fresh read: the worker's state stays.
    let (status, patched) = call(
        &app,
        "PATCH",
        &format!("/v2/knowledge/sources/{id}"),
        Some(&project.secret),
        Some(json!({"name": "Help"})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (&patched["name"], &patched["status"]),
        (&json!("Help"), &json!("syncing"))
    );
    let stored = store.source(project.caller.project, id).await.unwrap();
    assert_eq!(stored.status, SourceStatus::Syncing);
    assert_eq!(stored.last_sync, Some(started));
}
