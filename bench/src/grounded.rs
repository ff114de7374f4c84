//! The grounded-answers benchmark (BENCHMARKS.md, "Grounded answers"; `scripts/bench.sh
//! --grounded`; `--check` in CI). The whole stack, as a visitor meets it: the local server
//! over HTTP, the embedded DynamoDB and S3 engines, a fixture website of its own crawled
//! from loopback (bench/fixtures/quality-site, 65 indexed pages) and its questions
//! (bench/fixtures/quality-questions.json: each answerable one with the page that answers it
//! and the fact, and questions the site does not answer). Asked through
//! `POST /v2/chat/completions`:
//! 1. quality, with the offline provider (the local default) and with a scripted model
//!    stand-in over the OpenAI-compatible protocol that writes its own cited sentences and,
//!    every third answer, a made-up citation and a link off the site: answer accuracy (the
//!    fact is in the answer), citation precision (each cited page holds the fact), the gold
//!    page cited, out-of-scope questions answered with the fallback, fabricated URLs;
//! 2. latency: a grounded turn's time to first byte (a project whose site has 1,000 pages)
//!    against an ungrounded one's (a project without knowledge), on the same stack,
//!    interleaved, with an instant provider and with one that takes 150 ms to its first
//!    token.

#[allow(dead_code)]
mod report;
#[allow(dead_code)]
mod stats;
#[allow(dead_code)]
mod synthetic;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_domain::assistant::{Assistant, DEFAULT_FALLBACK_MESSAGE, Plan, ProviderKind, Tier};
use chat_domain::env::Env;
use chat_domain::grounding::content_words;
use chat_domain::ids::{Caller, ProjectId, VisitorId};
use chat_domain::input::knowledge::{SourceFields, WebsiteFields};
use chat_domain::knowledge::SourceKind;
use chat_local::app::App;
use chat_local::embedded_dynamo::EmbeddedDynamo;
use chat_local::seed::{DEMO_PROJECT, DEMO_VISITOR, seed_demo};
use chat_local::settings::{DEV_SIGNING_KEYS, local_settings};
use chat_storage::settings::CredentialSource;
use chat_storage::table::create_table_without_stream;
use chat_testkit::scripted_model::{ScriptedModel, given_sources, last_question};
use futures_util::StreamExt;
use report::{Row, Target, Unit};
use serde_json::{Value, json};
use stats::Samples;
use uuid::Uuid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const TABLE: &str = "chat-bench-grounded";

/// Options.
#[derive(clap::Parser)]
#[command(about = "The grounded-answers benchmark: quality and first-byte latency")]
struct Options {
    /// Exit non-zero when an answer carries a fabricated URL (what CI runs, with
    /// `--rounds 0`: the offline answers are deterministic, so the quality figures are the
    /// same on every machine and printed for the log; the guarantee is enforced).
    #[arg(long)]
    check: bool,
    /// Rounds of each latency measure (0: quality only).
    #[arg(long, default_value_t = 60)]
    rounds: usize,
}

/// A question of the fixture: the page that answers it and the fact, or neither.
#[derive(serde::Deserialize)]
struct Question {
    question: String,
    page: Option<String>,
    fact: Option<String>,
}

fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn token(caller: Caller) -> String {
    let keys = chat_domain::session::SigningKeys::parse(DEV_SIGNING_KEYS).expect("dev keys");
    chat_domain::session::TokenMinter::new(&keys).mint(caller, 3_600)
}

/// The visible text of each page of the fixture site, lower-cased, by path.
fn page_texts(root: &Path) -> Result<HashMap<String, String>, BoxError> {
    let mut texts = HashMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "html") {
                let html = std::fs::read_to_string(&path)?;
                let read = chat_knowledge::extract::read_html(&html, "https://shop.example/");
                let mut text = read.page.title.clone();
                for section in &read.page.sections {
                    text.push(' ');
                    text.push_str(&section.headings.join(" "));
                    text.push(' ');
                    text.push_str(&section.paragraphs.join(" "));
                }
                let relative = path
                    .strip_prefix(root)?
                    .to_string_lossy()
                    .replace('\\', "/");
                texts.insert(format!("/{relative}"), text.to_lowercase());
            }
        }
    }
    Ok(texts)
}

/// An answer, read: its text before the sources block, and the cited URLs.
struct Read {
    body: String,
    cited: Vec<String>,
    urls: Vec<String>,
}

fn read(text: &str) -> Read {
    let mut body = Vec::new();
    let mut cited = Vec::new();
    for line in text.lines() {
        let definition = line
            .strip_prefix('[')
            .and_then(|l| l.split_once("]: "))
            .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()));
        match definition {
            Some((_, rest)) => cited.push(rest.split(' ').next().unwrap_or("").to_owned()),
            None => body.push(line),
        }
    }
    let urls = text
        .split(|c: char| c.is_whitespace() || "()<>\"".contains(c))
        .filter_map(|w| {
            w.find("http")
                .map(|at| w[at..].trim_end_matches(['.', ',']).to_owned())
        })
        .collect();
    Read {
        body: body.join("\n"),
        cited,
        urls,
    }
}

/// The quality of one provider's answers.
#[derive(Default)]
struct Quality {
    answerable: usize,
    accurate: usize,
    gold_cited: usize,
    citations: usize,
    precise: usize,
    out_of_scope: usize,
    fallbacks: usize,
    false_fallbacks: usize,
    answers: usize,
    fabricated: usize,
}

struct Stack {
    base: String,
    http: reqwest::Client,
    origin: String,
}

impl Stack {
    async fn ask(&self, caller: Caller, body: Value) -> Result<String, BoxError> {
        let response = self
            .http
            .post(format!("{}/v2/chat/completions", self.base))
            .bearer_auth(token(caller))
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status != 200 {
            return Err(format!("{status}: {body}").into());
        }
        Ok(body["steps"][0]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    async fn quality(
        &self,
        questions: &[Question],
        pages: &HashMap<String, String>,
        assistant: Option<Uuid>,
    ) -> Result<Quality, BoxError> {
        let caller = Caller {
            project: ProjectId(DEMO_PROJECT),
            visitor: VisitorId(DEMO_VISITOR),
        };
        let mut q = Quality::default();
        for question in questions {
            let mut body = json!({"messages": [{"role": "user", "content": question.question}]});
            if let Some(id) = assistant {
                body["assistantId"] = json!(id.to_string());
            }
            let text = self.ask(caller, body).await?;
            let answer = read(&text);
            q.answers += 1;
            q.fabricated += answer
                .urls
                .iter()
                .filter(|url| {
                    url.strip_prefix(&self.origin)
                        .is_none_or(|path| !pages.contains_key(&page_key(path)))
                })
                .count();
            if std::env::var_os("BENCH_VERBOSE").is_some() {
                for url in &answer.urls {
                    if url
                        .strip_prefix(&self.origin)
                        .is_none_or(|path| !pages.contains_key(&page_key(path)))
                    {
                        eprintln!("FABRICATED {url} in {text:?}");
                    }
                }
            }
            let fallback = text == DEFAULT_FALLBACK_MESSAGE;
            let (Some(gold), Some(fact)) = (&question.page, &question.fact) else {
                q.out_of_scope += 1;
                q.fallbacks += usize::from(fallback);
                continue;
            };
            let fact = fact.to_lowercase();
            q.answerable += 1;
            q.false_fallbacks += usize::from(fallback);
            q.accurate += usize::from(answer.body.to_lowercase().contains(&fact));
            let cited: Vec<String> = answer
                .cited
                .iter()
                .filter_map(|url| url.strip_prefix(&self.origin))
                .map(page_key)
                .collect();
            q.gold_cited += usize::from(cited.contains(gold));
            q.citations += cited.len();
            q.precise += cited
                .iter()
                .filter(|path| {
                    pages
                        .get(path.as_str())
                        .is_some_and(|text| text.contains(&fact))
                })
                .count();
            if std::env::var_os("BENCH_VERBOSE").is_some()
                && !answer.body.to_lowercase().contains(&fact)
            {
                eprintln!("MISS {:?} [{gold}: {fact}] -> {text:?}", question.question);
            }
        }
        Ok(q)
    }
}

/// A path as the fixture's files name it: a folder is its `index.html`.
fn page_key(path: &str) -> String {
    if path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_owned()
    }
}

impl Stack {
    /// Recall@1 and @5 of the gold page through `GET /v2/search` (what grounding draws
    /// from: the quality ceiling of any answer).
    async fn retrieval(&self, questions: &[Question]) -> Result<(f64, f64), BoxError> {
        let (mut at1, mut at5, mut asked) = (0, 0, 0);
        for question in questions {
            let Some(gold) = &question.page else { continue };
            asked += 1;
            let response: Value = self
                .http
                .get(format!(
                    "{}/v2/search?size=10&apiKey={}&q={}",
                    self.base,
                    chat_local::seed::DEMO_PUBLISHABLE_KEY,
                    url::form_urlencoded::byte_serialize(question.question.as_bytes())
                        .collect::<String>()
                ))
                .send()
                .await?
                .json()
                .await?;
            let mut pages: Vec<String> = Vec::new();
            for hit in response["results"].as_array().into_iter().flatten() {
                let path = page_key(hit["path"].as_str().unwrap_or(""));
                if !pages.contains(&path) {
                    pages.push(path);
                }
            }
            at1 += usize::from(pages.first() == Some(gold));
            at5 += usize::from(pages.iter().take(5).any(|p| p == gold));
        }
        Ok((share(at1, asked), share(at5, asked)))
    }
}

fn share(n: usize, of: usize) -> f64 {
    n as f64 / of.max(1) as f64
}

fn quality_rows(section: &'static str, who: &str, q: &Quality) -> Vec<Row> {
    let row = |name: String, value: f64, floor: f64, floor_name: String, target: Target| Row {
        section,
        name,
        value,
        floor,
        floor_name,
        unit: Unit::Share,
        target,
    };
    vec![
        row(
            format!("{who}: answer accuracy (the fact is in the answer)"),
            share(q.accurate, q.answerable),
            1.0,
            format!("all {} answerable questions", q.answerable),
            Target::None,
        ),
        row(
            format!("{who}: citation precision (each cited page holds the fact)"),
            share(q.precise, q.citations),
            1.0,
            format!("all {} citations", q.citations),
            Target::RatioAtLeast(0.95),
        ),
        row(
            format!("{who}: the gold page cited"),
            share(q.gold_cited, q.answerable),
            1.0,
            format!("all {} answerable questions", q.answerable),
            Target::RatioAtLeast(0.90),
        ),
        row(
            format!("{who}: out-of-scope questions answered with the fallback"),
            share(q.fallbacks, q.out_of_scope),
            1.0,
            format!("all {} out-of-scope questions", q.out_of_scope),
            Target::RatioAtLeast(0.90),
        ),
        row(
            format!("{who}: answerable questions answered with the fallback"),
            share(q.false_fallbacks, q.answerable),
            1.0,
            format!("all {} answerable questions", q.answerable),
            Target::None,
        ),
        Row {
            section,
            name: format!("{who}: fabricated URLs (any URL not one of the site's pages)"),
            value: q.fabricated as f64,
            floor: q.answers as f64,
            floor_name: format!("{} answers", q.answers),
            unit: Unit::Count,
            target: Target::AtMost(0.0),
        },
    ]
}

/// The scripted model: for each of the first two numbered sources it was given, the
/// sentence sharing the most words with the question, cited by its number; every third
/// answer also a made-up citation and a link off the site, which must never reach a
/// visitor.
fn scripted_answer(request: &Value, n: usize) -> Vec<String> {
    let question = last_question(request);
    let wanted = content_words(&question);
    let mut numbers = Vec::new();
    let mut out = Vec::new();
    for source in given_sources(request) {
        let Some(number) = source.number else {
            continue;
        };
        if numbers.contains(&number) || numbers.len() == 2 {
            continue;
        }
        numbers.push(number);
        let best = source
            .text
            .split_inclusive(['.', '!', '?', '\n'])
            .map(str::trim)
            .filter(|s| s.split_whitespace().count() >= 3)
            .max_by_key(|s| {
                let words = content_words(s);
                wanted.iter().filter(|w| words.contains(w)).count()
            });
        if let Some(sentence) = best {
            let sentence = sentence.trim_end_matches(['.', '!', '?']);
            out.push(format!("{sentence} [{number}]. "));
        }
    }
    if n.is_multiple_of(3) {
        out.push("See https://made-up.example/help for more [9].".into());
    }
    // Streamed in small pieces, markers split across deltas.
    out.concat()
        .as_bytes()
        .chunks(7)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .into_iter()
        .fold(Vec::new(), |mut acc: Vec<String>, piece| {
            // Never split a multi-byte character: lossy pieces are glued back.
            match acc.last_mut() {
                Some(last) if last.ends_with('\u{fffd}') => last.push_str(&piece),
                _ => acc.push(piece),
            }
            acc
        })
}

/// A project on the pro plan with no knowledge, or with the site at `site`, crawled.
async fn project_with(app: &App, site: Option<&str>) -> Result<Caller, BoxError> {
    let project = ProjectId(Uuid::now_v7());
    chat_local::admin::create_project(&app.store, project, Plan::Pro).await?;
    if let Some(site) = site {
        let fields = SourceFields {
            kind: Some(SourceKind::Website),
            name: None,
            schedule: None,
            website: WebsiteFields {
                url: Some(format!("{site}/")),
                max_pages: Some(1_100),
                ..WebsiteFields::default()
            },
            document: Default::default(),
        };
        app.knowledge
            .add_source(Caller::project_scope(project), fields)
            .await
            .map_err(|e| format!("{e:?}"))?;
        app.jobs.idle().await;
    }
    Ok(Caller {
        project,
        visitor: VisitorId(Uuid::now_v7()),
    })
}

/// Time to the first byte of a streamed answer.
async fn first_byte(stack: &Stack, caller: Caller, body: &Value) -> Result<Duration, BoxError> {
    let start = Instant::now();
    let response = stack
        .http
        .post(format!("{}/v2/chat/completions", stack.base))
        .bearer_auth(token(caller))
        .json(body)
        .send()
        .await?;
    let mut stream = response.bytes_stream();
    let first = stream.next().await.ok_or("no body")??;
    let elapsed = start.elapsed();
    let mut all = first.to_vec();
    while let Some(chunk) = stream.next().await {
        all.extend_from_slice(&chunk?);
    }
    let text = String::from_utf8_lossy(&all);
    if !text.contains("\"finish\"") {
        return Err(format!("the stream did not finish: {text}").into());
    }
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let o = <Options as clap::Parser>::parse();
    let engine = EmbeddedDynamo::start(None).await?;
    let scripted_calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = scripted_calls.clone();
    let model = ScriptedModel::start(move |request| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        scripted_answer(request, n)
    })
    .await;
    let mut settings = local_settings(Env::from_pairs(&[
        ("TABLE_NAME", TABLE),
        ("DYNAMODB_ENDPOINT", engine.endpoint()),
        ("LOG_LEVEL", "warn"),
    ]))?;
    settings.base.store.dynamo.credentials = CredentialSource::LocalDummy;
    settings.base.limits.enabled = false;
    settings.providers.offline.first_token_delay = Duration::ZERO;
    settings.providers.offline.token_gap = Duration::ZERO;
    settings.providers.openai_base_url = model.base_url.clone();
    let app = App::build(settings).await?;
    create_table_without_stream(app.store.client(), TABLE).await?;
    seed_demo(&app.store).await.map_err(BoxError::from)?;

    // The fixture site, as the demo project's website.
    let site_root = fixture_root().join("quality-site");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let shop = chat_local::demo_shop::DemoShop::new(&site_root, &origin)?;
    tokio::spawn(chat_local::demo_shop::serve_shop(
        listener,
        Arc::new(shop),
        std::future::pending(),
    ));
    let source = chat_local::demo_shop::register(&app, &origin, Duration::from_secs(120))
        .await
        .map_err(|e| format!("{e:?}"))?;
    let indexed = source.last_sync.as_ref().map_or(0, |s| s.pages_indexed);
    eprintln!("fixture site: {indexed} pages indexed");
    let scripted = Assistant {
        id: Some(Uuid::now_v7()),
        name: "Scripted model".into(),
        provider: ProviderKind::OpenAi,
        model: "scripted".into(),
        system_prompt: None,
        temperature: None,
        max_output_tokens: None,
        tier: Tier::Standard,
        fallback_message: None,
    };
    app.store
        .put_assistant(ProjectId(DEMO_PROJECT), &scripted, false)
        .await?;
    let words = synthetic::vocabulary()?;
    let big_site = synthetic::serve_site(1_000, &words).await?;
    let grounded = project_with(&app, Some(&big_site)).await?;
    let ungrounded = project_with(&app, None).await?;

    let app = Arc::new(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(chat_local::server::serve(
        listener,
        app.clone(),
        std::future::pending(),
        None,
    ));
    let stack = Stack {
        base,
        http: reqwest::Client::new(),
        origin: origin.clone(),
    };
    let questions: Vec<Question> = serde_json::from_slice(&std::fs::read(
        fixture_root().join("quality-questions.json"),
    )?)?;
    let pages = page_texts(&site_root)?;

    let mut rows = Vec::new();
    let (at1, at5) = stack.retrieval(&questions).await?;
    for (k, value) in [(1, at1), (5, at5)] {
        rows.push(Row {
            section: "G0",
            name: format!("retrieval: the gold page among the first {k} pages search finds"),
            value,
            floor: 1.0,
            floor_name: "all answerable questions".into(),
            unit: Unit::Share,
            target: Target::None,
        });
    }
    let offline = stack.quality(&questions, &pages, None).await?;
    rows.extend(quality_rows("G1", "offline provider", &offline));
    let model_quality = stack.quality(&questions, &pages, scripted.id).await?;
    rows.extend(quality_rows(
        "G2",
        "scripted model stand-in",
        &model_quality,
    ));

    if o.rounds > 0 {
        for (label, model) in [
            ("instant provider", None),
            ("first token at 150 ms", Some("offline:first=150,gap=0")),
        ] {
            let mut bodies = Vec::new();
            for caller in [grounded, ungrounded] {
                let mut body = json!({"messages": [{"role": "user", "content": "How long does shipping to Canada take?"}], "stream": true});
                if let Some(model) = model {
                    let assistant = Assistant {
                        id: Some(Uuid::now_v7()),
                        model: model.into(),
                        provider: ProviderKind::Offline,
                        ..scripted.clone()
                    };
                    app.store
                        .put_assistant(caller.project, &assistant, false)
                        .await?;
                    body["assistantId"] = json!(assistant.id.unwrap().to_string());
                }
                bodies.push(body);
            }
            // The grounded project's answer must be grounded, or the comparison is moot.
            let mut probe = bodies[0].clone();
            probe["stream"] = json!(false);
            let text = stack.ask(grounded, probe).await?;
            if !text.contains("[1]") {
                return Err(format!("the 1,000-page project's answer is not cited: {text}").into());
            }
            let (mut with, mut without) = (Samples::default(), Samples::default());
            for round in 0..o.rounds + 5 {
                let a = first_byte(&stack, grounded, &bodies[0]).await?;
                let b = first_byte(&stack, ungrounded, &bodies[1]).await?;
                if round >= 5 {
                    with.push(a);
                    without.push(b);
                }
            }
            rows.push(Row {
                section: "G3",
                name: format!("grounded turn's first byte, p50 (1,000-page index, {label})"),
                value: with.median(),
                floor: without.median(),
                floor_name: "the same turn in a project without knowledge".into(),
                unit: Unit::Ms,
                target: Target::Ratio(1.10),
            });
            rows.push(Row {
                section: "G3",
                name: format!("grounded turn's first byte, p99 ({label})"),
                value: with.p99(),
                floor: without.p99(),
                floor_name: "the same, p99".into(),
                unit: Unit::Ms,
                target: Target::None,
            });
        }
    }
    println!("{}", report::table(&rows));
    let (met, targeted) = report::tally(&rows);
    println!("targets met: {met} of {targeted}");
    if o.check {
        let missed: Vec<&Row> = rows
            .iter()
            .filter(|r| r.has_target() && matches!(r.unit, Unit::Count) && !r.met())
            .collect();
        if !missed.is_empty() {
            for row in &missed {
                eprintln!("missed: {} = {:.3}", row.name, row.value);
            }
            return Err(format!("{} guarantee(s) broken", missed.len()).into());
        }
    }
    Ok(())
}
