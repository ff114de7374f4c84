//! Semantic search (API.md §17) with the embedding providers at the protocol level: an
//! OpenAI-compatible `/v1/embeddings` stand-in whose vectors know that "parcel" and
//! "shipping" are one topic, and a Bedrock stand-in answering Titan Text Embeddings V2's
//! `InvokeModel`. Unchanged passages are not embedded again; a new model re-embeds all.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_bedrockruntime::config::Credentials;
use bytes::Bytes;
use chat_domain::assistant::Plan;
use chat_knowledge::embeddings::{EmbeddingModel, Embeddings};
use chat_testkit::{TestApp, serve_http};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use crate::knowledge::{add_site, call, project, search, serve_pages, settled, shop};

/// Topics the stand-in's vectors know: each word of one adds to its dimension.
const TOPICS: [&[&str]; 3] = [
    &[
        "ship", "shipping", "ships", "delivery", "deliver", "parcel", "arrive", "courier", "orders",
    ],
    &["return", "returns", "refund", "back", "sent"],
    &["socks", "wool", "warm"],
];

/// The stand-in's vector of `text`: topic counts, and other words hashed over 29 more
/// dimensions.
fn vector(text: &str) -> Vec<f64> {
    let mut v = vec![0.0; 32];
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        match TOPICS.iter().position(|topic| topic.contains(&word)) {
            Some(topic) => v[topic] += 3.0,
            None => v[3 + word.bytes().map(usize::from).sum::<usize>() % 29] += 0.3,
        }
    }
    v
}

/// What a stand-in was asked: each request's `Authorization` and body.
type Asked = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// An OpenAI-compatible embeddings endpoint: what it was asked, and how many texts.
struct Stand {
    base: String,
    texts: Arc<AtomicUsize>,
    requests: Asked,
}

async fn openai_stand_in() -> Stand {
    let texts = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (counted, seen) = (texts.clone(), requests.clone());
    let base = serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
        let (counted, seen) = (counted.clone(), seen.clone());
        async move {
            let auth = req
                .headers()
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned());
            let path = req.uri().path().to_owned();
            let body: Value = serde_json::from_slice(&req.into_body().collect().await.unwrap().to_bytes()).unwrap();
            assert_eq!(path, "/v1/embeddings");
            let inputs = body["input"].as_array().unwrap().clone();
            counted.fetch_add(inputs.len(), Ordering::SeqCst);
            seen.lock().unwrap().push((auth, body.clone()));
            // In reverse: the protocol names each vector's input by `index`.
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .rev()
                .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": vector(text.as_str().unwrap())}))
                .collect();
            let answer = json!({"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": 1, "total_tokens": 1}});
            hyper::Response::new(Full::new(Bytes::from(answer.to_string())))
        }
    })
    .await;
    Stand {
        base: format!("{base}/v1"),
        texts,
        requests,
    }
}

#[tokio::test]
async fn semantic_search_finds_what_keywords_miss_and_embeds_each_passage_once_per_model() {
    let stand = openai_stand_in().await;
    let app = TestApp::builder()
        .env("OPENAI_BASE_URL", &stand.base)
        .env("OPENAI_API_KEY", "sk-embeddings-test")
        .spawn()
        .await;
    let project = project(&app, Plan::Free).await;
    app.store
        .set_embedding_model(project.caller.project, Some("openai:concepts-1"))
        .await
        .unwrap();
    let site = serve_pages(shop()).await;
    let source = add_site(&app, &project, &format!("{site}/")).await;
    let id = source["id"].as_str().unwrap().to_owned();
    let embedded = stand.texts.load(Ordering::SeqCst);
    assert!(
        embedded >= 3,
        "every passage embedded: {embedded}: {source}"
    );
    {
        let requests = stand.requests.lock().unwrap();
        assert_eq!(requests[0].0.as_deref(), Some("Bearer sk-embeddings-test"));
        assert_eq!(requests[0].1["model"], "concepts-1");
    }

    // No word of the question is on the shipping page: its vector finds it.
    let question = "When will my parcel arrive?";
    let results = search(&app, &project, question).await;
    assert!(
        !results.is_empty(),
        "asked {} texts",
        stand.texts.load(Ordering::SeqCst) - embedded
    );
    assert_eq!(results[0]["path"], "/shipping", "{results:?}");
    assert_eq!(
        stand.texts.load(Ordering::SeqCst),
        embedded + 1,
        "the question, once"
    );

    // Nothing changed on the site: nothing is embedded again.
    let (status, _) = call(
        &app,
        "POST",
        &format!("/v2/knowledge/sources/{id}/sync"),
        Some(&project.secret),
        None,
    )
    .await;
    assert_eq!(status, 202);
    settled(&app, &project, &id).await;
    assert_eq!(stand.texts.load(Ordering::SeqCst), embedded + 1);

    // Another model: everything again, never two models' vectors mixed.
    app.store
        .set_embedding_model(project.caller.project, Some("openai:concepts-2"))
        .await
        .unwrap();
    let (status, _) = call(
        &app,
        "POST",
        &format!("/v2/knowledge/sources/{id}/sync"),
        Some(&project.secret),
        None,
    )
    .await;
    assert_eq!(status, 202);
    settled(&app, &project, &id).await;
    assert_eq!(stand.texts.load(Ordering::SeqCst), 2 * embedded + 1);
    let last = stand.requests.lock().unwrap().last().unwrap().1["model"].clone();
    assert_eq!(last, "concepts-2");
    assert_eq!(
        search(&app, &project, question).await[0]["path"],
        "/shipping"
    );

    // A pair is embedded too, and once.
    let base = format!("/v2/projects/{}/qnas", project.caller.project.0);
    let (status, _) = call(
        &app,
        "POST",
        &base,
        Some(&project.secret),
        Some(json!({"question": "Can I get my money back?", "answer": "Yes: a full refund within 30 days."})),
    )
    .await;
    assert_eq!(status, 201);
    app.app.jobs.idle().await;
    let before = stand.texts.load(Ordering::SeqCst);
    assert_eq!(
        before,
        2 * embedded + 2 + 1,
        "the pair, and the question above"
    );
}

#[tokio::test]
async fn titan_text_embeddings_v2_is_asked_as_bedrock_expects() {
    let asked: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let seen = asked.clone();
    let endpoint = serve_http(move |req: hyper::Request<hyper::body::Incoming>| {
        let seen = seen.clone();
        async move {
            let path = req.uri().path().to_owned();
            let body: Value =
                serde_json::from_slice(&req.into_body().collect().await.unwrap().to_bytes())
                    .unwrap();
            let text = body["inputText"].as_str().unwrap().to_owned();
            seen.lock().unwrap().push((path, body));
            let answer = json!({"embedding": vector(&text), "inputTextTokenCount": 4});
            hyper::Response::new(Full::new(Bytes::from(answer.to_string())))
        }
    })
    .await;
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(&endpoint)
        .load()
        .await;
    let embeddings = Embeddings::new("https://unused.example/v1", None, &sdk);
    let model = EmbeddingModel::parse("bedrock:amazon.titan-embed-text-v2:0").unwrap();
    let texts: Vec<String> = (0..10).map(|i| format!("parcel number {i}")).collect();
    let vectors = embeddings.embed(&model, &texts).await.unwrap();
    assert_eq!(vectors.len(), 10);
    let norm: f32 = vectors[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "unit vectors: {norm}");
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 10, "one InvokeModel per text");
    assert_eq!(asked[0].0, "/model/amazon.titan-embed-text-v2%3A0/invoke");
    assert_eq!(asked[0].1["dimensions"], 512);
    assert_eq!(asked[0].1["normalize"], true);
    let mut texts_asked: Vec<&str> = asked
        .iter()
        .map(|(_, b)| b["inputText"].as_str().unwrap())
        .collect();
    texts_asked.sort();
    assert_eq!(texts_asked[0], "parcel number 0");
}

#[tokio::test]
async fn a_paraphrase_is_answered_from_the_page_it_means_with_one_embedding_per_turn() {
    let stand = openai_stand_in().await;
    let app = TestApp::builder()
        .instant_answers()
        .env("OPENAI_BASE_URL", &stand.base)
        .env("OPENAI_API_KEY", "sk-embeddings-test")
        .spawn()
        .await;
    let project = project(&app, Plan::Free).await;
    app.store
        .set_embedding_model(project.caller.project, Some("openai:concepts-1"))
        .await
        .unwrap();
    let site = serve_pages(shop()).await;
    add_site(&app, &project, &format!("{site}/")).await;
    let embedded = stand.texts.load(Ordering::SeqCst);
    let ask = |question: &str| json!({"messages": [chat_testkit::user(question)]});
    for turn in 1..=2 {
        // No word of it is on the shipping page, two are unknown to the index: its meaning
        // finds the page. The first turn embeds the question once it has opened the index;
        // the second, with the index warm, beside its first read.
        let response = app
            .complete(project.caller, &ask("When will my parcel arrive?"))
            .await;
        let (status, body) = chat_testkit::json(response).await;
        assert_eq!(status, 200, "{body}");
        let text = body["steps"][0]["content"][0]["text"].as_str().unwrap();
        assert!(
            text.ends_with(&format!("[1]: {site}/shipping \"Shipping and delivery\"")),
            "{text}"
        );
        assert_eq!(
            stand.texts.load(Ordering::SeqCst),
            embedded + turn,
            "one question a turn"
        );
    }
    let response = app
        .complete(project.caller, &ask("Can I pay in bitcoin?"))
        .await;
    let (_, body) = chat_testkit::json(response).await;
    assert_eq!(
        body["steps"][0]["content"][0]["text"],
        chat_domain::assistant::DEFAULT_FALLBACK_MESSAGE
    );
}
