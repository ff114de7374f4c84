//! Lambda entry point: the process's clients are built once, then each event is a batch of
//! the knowledge's queue or a tick of its schedule.

use aws_lambda_events::event::sqs::SqsEvent;
use chat_domain::timestamp::Timestamp;
use chat_knowledge::blobs::S3Blobs;
use chat_knowledge::crawl::fetch::Fetcher;
use chat_knowledge::jobs::SqsQueue;
use chat_knowledge::settings::KnowledgeSettings;
use chat_knowledge::sync::Worker;
use crawl_worker::CrawlWorker;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (base, env) = chat_edge::wiring::start().await?;
    let settings = KnowledgeSettings::from_env(&env)?;
    let key = chat_edge::secrets::resolve_optional(
        settings.openai_api_key.as_ref(),
        &base.sdk,
        chat_knowledge::settings::OPENAI_KEY_SECRET_VAR,
    )
    .await?;
    let worker = CrawlWorker {
        worker: Worker {
            store: base.store.clone(),
            blobs: S3Blobs::new(settings.s3_client(&base.sdk), settings.bucket.clone()),
            embeddings: std::sync::Arc::new(settings.embeddings(key, &base.sdk)),
            fetcher: Fetcher::new(settings.fetch())?,
            settings: settings.sync(),
        },
        queue: SqsQueue::new(
            aws_sdk_sqs::Client::new(&base.sdk),
            settings.queue_url.clone(),
        ),
    };
    let worker = &worker;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let payload = event.payload;
        // A queue's batch has `Records`; the schedule's event does not.
        if payload.get("Records").is_some() {
            let batch: SqsEvent = serde_json::from_value(payload)?;
            return Ok::<Value, lambda_runtime::Error>(serde_json::to_value(
                worker.batch(batch).await,
            )?);
        }
        let tick = worker.tick(Timestamp::now()).await?;
        tracing::info!(
            queued = tick.queued,
            passed_over = tick.passed_over,
            "schedule tick"
        );
        Ok(serde_json::json!({ "queued": tick.queued, "passedOver": tick.passed_over }))
    }))
    .await
}
