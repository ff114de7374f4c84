//! The knowledge benchmark (BENCHMARKS.md, "Knowledge"; `scripts/bench.sh --knowledge`).
//! Every figure against a floor measured in the same run:
//! 1. search latency p50 and p99 at 1,000 and 10,000 pages against the same questions on
//!    100 pages (in-process, the index open as a warm function keeps it);
//! 2. a cold function's first search (the snapshot fetched from S3 through the real
//!    adapter, unpacked, opened and asked) against the bare `GetObject` of its bytes;
//! 3. index bytes per page against the page's own text;
//! 4. crawl throughput against a loopback site of 400 pages, against plain GETs of the same
//!    pages with the same concurrency, and the process's peak RSS after it;
//! 5. the peer: the same passages and questions searched by Python's `rank_bm25`
//!    (`BM25Okapi`, what LangChain's `BM25Retriever` uses): recall@5 and MRR of the page
//!    that answers each question (bench/fixtures/questions.json over the demo shop), and its
//!    per-question latency against ours.

#[allow(dead_code)]
mod report;
#[allow(dead_code)]
mod stats;
mod synthetic;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chat_domain::ids::ProjectId;
use chat_knowledge::blobs::{BlobStore, S3Blobs, snapshot_key};
use chat_knowledge::cache::IndexCache;
use chat_knowledge::crawl::address::AddressPolicy;
use chat_knowledge::crawl::crawler::{CrawlPlan, MAX_DEPTH, PageOutcome, crawl};
use chat_knowledge::crawl::fetch::{FetchSettings, Fetcher};
use chat_knowledge::crawl::urls::Scope;
use chat_knowledge::{Entry, IndexBuilder, KnowledgeIndex, Page, passages_of};
use report::{Row, Target, Unit};
use stats::Samples;
use synthetic::{Rng, serve_site, synthetic_page, vocabulary};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A question of the fixture and the page that answers it.
#[derive(serde::Deserialize)]
struct Question {
    question: String,
    page: Option<String>,
}

fn questions() -> Result<Vec<Question>, BoxError> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/questions.json");
    Ok(serde_json::from_slice(&std::fs::read(path)?)?)
}

/// The index of `pages`, built in `dir`; its snapshot's bytes and the pages' text bytes.
fn build(pages: &[Page], dir: &Path) -> Result<(Vec<u8>, usize), BoxError> {
    let mut builder = IndexBuilder::create(dir)?;
    let mut text = 0;
    for page in pages {
        let url = page.url.clone().unwrap_or_default();
        for passage in passages_of(&url, page) {
            text += passage.text.len();
            builder.add(&Entry::passage(&passage, Some(&url), page.lang.as_deref()))?;
        }
    }
    let (snapshot, _) = builder.finish()?;
    Ok((snapshot.0, text))
}

/// p50 and p99 of searching every question `rounds` times.
fn latencies(
    index: &KnowledgeIndex,
    questions: &[String],
    rounds: usize,
) -> Result<Samples, BoxError> {
    for q in questions.iter().take(20) {
        index.search(q, 10)?;
    }
    let mut samples = Samples::default();
    for _ in 0..rounds {
        for q in questions {
            let start = Instant::now();
            let hits = index.search(q, 10)?;
            samples.push(start.elapsed());
            std::hint::black_box(hits);
        }
    }
    Ok(samples)
}

/// The process's peak resident set, in MB (`VmHWM`).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb * 1024.0 / 1e6)
}

#[derive(clap::Parser)]
#[command(
    about = "The knowledge benchmark: search, cold search, index size, crawl and the rank_bm25 peer."
)]
struct Options {
    /// Rounds of the questions per index size.
    #[arg(long, default_value_t = 30)]
    rounds: usize,
    /// Cold first searches per size.
    #[arg(long, default_value_t = 9)]
    cold: usize,
    /// The Python with rank_bm25 (bench/peers/install.sh makes one); none: no peer rows.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Fewer pages and rounds: a smoke test, not a result.
    #[arg(long)]
    quick: bool,
    /// Be the worker process of part 4: crawl, cut and index the site at this URL, then
    /// print what it took.
    #[arg(long, hide = true)]
    worker_of: Option<String>,
}

/// What the worker process of part 4 reports.
#[derive(serde::Serialize, serde::Deserialize)]
struct WorkerRun {
    pages: usize,
    ms: f64,
    start_rss_mb: f64,
    peak_rss_mb: f64,
}

/// Part 4's worker: the site at `site` crawled, its pages cut and indexed into a snapshot,
/// as the crawl worker does (without its store).
async fn worker_of(site: &str) -> Result<(), BoxError> {
    let start_rss_mb = peak_rss_mb();
    let fetcher = Fetcher::new(FetchSettings {
        policy: AddressPolicy {
            allow_loopback: true,
        },
        ..FetchSettings::default()
    })?;
    let start_url = url::Url::parse(&format!("{site}/"))?;
    let plan = CrawlPlan {
        scope: Scope::new(&start_url, &[], &[]),
        sitemap_urls: Vec::new(),
        max_pages: 100_000,
        max_depth: u32::MAX,
        validators: HashMap::new(),
        deadline: None,
    };
    let started = Instant::now();
    let report = crawl(&fetcher, &plan).await;
    let dir = tempfile::tempdir()?;
    let mut builder = IndexBuilder::create(dir.path())?;
    let mut pages = 0;
    for crawled in &report.pages {
        if let PageOutcome::Content { page, .. } = &crawled.outcome {
            pages += 1;
            let url = page.url.clone().unwrap_or_default();
            for passage in passages_of(&url, page) {
                builder.add(&Entry::passage(&passage, Some(&url), page.lang.as_deref()))?;
            }
        }
    }
    std::hint::black_box(builder.finish()?);
    let run = WorkerRun {
        pages,
        ms: ms(started.elapsed()),
        start_rss_mb,
        peak_rss_mb: peak_rss_mb(),
    };
    println!("{}", serde_json::to_string(&run)?);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let o = <Options as clap::Parser>::parse();
    if let Some(site) = &o.worker_of {
        return worker_of(site).await;
    }
    let fixture = questions()?;
    let asked: Vec<String> = fixture.iter().map(|q| q.question.clone()).collect();
    let words = vocabulary()?;
    let sizes: &[usize] = if o.quick {
        &[100, 1_000]
    } else {
        &[100, 1_000, 10_000]
    };
    let rounds = if o.quick { 3 } else { o.rounds };
    let work = tempfile::tempdir()?;
    let mut rows = Vec::new();

    // 1 and 3: indexes of 100, 1,000 and 10,000 pages.
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let all: Vec<Page> = (0..*sizes.last().unwrap_or(&100))
        .map(|i| synthetic_page(i, &words, &mut rng))
        .collect();
    let mut built: Vec<(usize, Vec<u8>, usize)> = Vec::new();
    let mut largest: Option<(usize, KnowledgeIndex)> = None;
    let mut small: Option<(f64, f64)> = None;
    for &size in sizes {
        let dir = work.path().join(format!("build-{size}"));
        std::fs::create_dir_all(&dir)?;
        let started = Instant::now();
        let (snapshot, text) = build(&all[..size], &dir)?;
        eprintln!(
            "built {size} pages in {:.1} s ({} bytes)",
            started.elapsed().as_secs_f64(),
            snapshot.len()
        );
        let open = work.path().join(format!("open-{size}"));
        std::fs::create_dir_all(&open)?;
        let index = KnowledgeIndex::unpack(&chat_knowledge::Snapshot(snapshot.clone()), &open)?;
        let samples = latencies(&index, &asked, rounds)?;
        let (p50, p99) = (
            samples.blocked_quantile(0.5, 5),
            samples.blocked_quantile(0.99, 5),
        );
        match small {
            None => small = Some((p50, p99)),
            Some((p50_small, p99_small)) => {
                rows.push(Row {
                    section: "K1",
                    name: format!(
                        "search p50, {} pages ({} questions × {rounds})",
                        report::grouped(size as f64),
                        asked.len()
                    ),
                    value: p50,
                    floor: p50_small,
                    floor_name: "the same, 100 pages".into(),
                    unit: Unit::Ms,
                    target: Target::None,
                });
                rows.push(Row {
                    section: "K1",
                    name: format!("search p99, {} pages", report::grouped(size as f64)),
                    value: p99,
                    floor: p99_small,
                    floor_name: "the same, 100 pages".into(),
                    unit: Unit::Ms,
                    target: if size == 10_000 {
                        Target::AtMost(5.0)
                    } else {
                        Target::None
                    },
                });
            }
        }
        rows.push(Row {
            section: "K3",
            name: format!(
                "index bytes per page, {} pages",
                report::grouped(size as f64)
            ),
            value: snapshot.len() as f64 / size as f64 / 1e3,
            floor: text as f64 / size as f64 / 1e3,
            floor_name: "the page's passage text".into(),
            unit: Unit::Kb,
            target: Target::None,
        });
        built.push((size, snapshot, text));
        largest = Some((size, index));
    }

    // 2: a cold function's first search, the snapshot in S3.
    let s3 = chat_local::embedded_s3::EmbeddedS3::start(None, None, "bench-knowledge").await?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "local", "local", None, None, "static",
        ))
        .load()
        .await;
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .endpoint_url(s3.endpoint())
            .force_path_style(true)
            .build(),
    );
    let blobs = S3Blobs::new(client.clone(), "bench-knowledge");
    for (size, snapshot, _) in built.iter().filter(|(size, ..)| *size >= 1_000) {
        let project = ProjectId(uuid::Uuid::now_v7());
        let version = format!("v{size}");
        blobs
            .put(
                &snapshot_key(project, &version),
                Bytes::from(snapshot.clone()),
            )
            .await?;
        let mut cold = Samples::default();
        let mut bare = Samples::default();
        // A warm-up of each, then rounds that alternate which goes first, so neither
        // pays the connection's first use or the page cache's first read alone.
        for round in 0..=o.cold.max(1) {
            for first in [round % 2 == 0, round % 2 == 1] {
                if first {
                    let start = Instant::now();
                    let object = client
                        .get_object()
                        .bucket("bench-knowledge")
                        .key(snapshot_key(project, &version))
                        .send()
                        .await?
                        .body
                        .collect()
                        .await?;
                    if round > 0 {
                        bare.push(start.elapsed());
                    }
                    std::hint::black_box(object);
                } else {
                    let cache = IndexCache::new(work.path().join(format!("cold-{size}-{round}")));
                    let start = Instant::now();
                    let index = cache.index(&blobs, project, &version).await?;
                    index.search(&asked[round % asked.len()], 10)?;
                    if round > 0 {
                        cold.push(start.elapsed());
                    }
                }
            }
        }
        rows.push(Row {
            section: "K2",
            name: format!(
                "cold first search (fetch, unpack, open, search), {} pages (median)",
                report::grouped(*size as f64)
            ),
            value: cold.median(),
            floor: bare.median(),
            floor_name: format!(
                "bare GetObject of its {:.1} MB",
                snapshot.len() as f64 / 1e6
            ),
            unit: Unit::Ms,
            target: Target::None,
        });
    }

    // 4: a worker's crawl of a loopback site, in a process of its own (its peak RSS is
    // the worker's alone), against plain GETs of the same pages.
    let site_pages = if o.quick { 100 } else { 1_000 };
    let site = serve_site(site_pages, &words).await?;
    let output = std::process::Command::new(std::env::current_exe()?)
        .arg("--worker-of")
        .arg(&site)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "the worker process failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let worker: WorkerRun = serde_json::from_slice(&output.stdout)?;
    let plain = reqwest::Client::new();
    let urls: Vec<String> = (0..site_pages).map(|i| format!("{site}/p/{i}")).collect();
    let started = Instant::now();
    for chunk in urls.chunks(chat_knowledge::crawl::crawler::PER_HOST_CONCURRENCY) {
        let bodies = futures_util::future::join_all(chunk.iter().map(|u| {
            let plain = &plain;
            async move { plain.get(u.as_str()).send().await?.bytes().await }
        }))
        .await;
        std::hint::black_box(bodies);
    }
    let floor = started.elapsed();
    rows.push(Row {
        section: "K4",
        name: format!(
            "crawl of a loopback site: {} pages fetched, read, cut and indexed ({:.0} pages/s)",
            worker.pages,
            worker.pages as f64 / (worker.ms / 1e3)
        ),
        value: worker.ms,
        floor: ms(floor),
        floor_name: format!(
            "plain GETs of its {site_pages} pages, {} at once",
            chat_knowledge::crawl::crawler::PER_HOST_CONCURRENCY
        ),
        unit: Unit::Ms,
        target: Target::None,
    });
    rows.push(Row {
        section: "K4",
        name: "peak RSS of the worker process after that crawl and index build".into(),
        value: worker.peak_rss_mb,
        floor: worker.start_rss_mb,
        floor_name: "the same process at its start".into(),
        unit: Unit::Mb,
        target: Target::None,
    });

    // 5: the peer on the demo shop.
    let shop = demo_shop_index(work.path()).await?;
    let ours = quality(&shop.0, &fixture)?;
    let (cleared, declined) = bar_split(&shop.0, &fixture)?;
    eprintln!(
        "relevance bar {}: {:.3} of answerable questions clear it, {:.3} of out-of-scope ones do not",
        chat_knowledge::grounding::RELEVANCE_BAR,
        cleared,
        declined
    );
    rows.push(Row {
        section: "K5",
        name: format!(
            "answerable questions whose best hit clears the relevance bar ({})",
            chat_knowledge::grounding::RELEVANCE_BAR
        ),
        value: cleared,
        floor: 1.0,
        floor_name: "all of them".into(),
        unit: Unit::Share,
        target: Target::None,
    });
    rows.push(Row {
        section: "K5",
        name: "questions the site does not answer whose best hit does not clear it".into(),
        value: declined,
        floor: 1.0,
        floor_name: "all of them".into(),
        unit: Unit::Share,
        target: Target::None,
    });
    let (clean, flagged) = unknown_split(&shop.0, &fixture)?;
    rows.push(Row {
        section: "K5",
        name: "answerable questions with no word the knowledge never mentions".into(),
        value: clean,
        floor: 1.0,
        floor_name: "all of them".into(),
        unit: Unit::Share,
        target: Target::None,
    });
    rows.push(Row {
        section: "K5",
        name: "questions the site does not answer with a word it never mentions".into(),
        value: flagged,
        floor: 1.0,
        floor_name: "all of them".into(),
        unit: Unit::Share,
        target: Target::None,
    });
    if let Some(python) = &o.python {
        let shop_peer = peer(python, &shop.1, &fixture, work.path())?;
        rows.push(Row {
            section: "K5",
            name: format!(
                "recall@5 of the answering page ({} questions) vs rank_bm25",
                ours.answered
            ),
            value: ours.recall5,
            floor: shop_peer.recall5,
            floor_name: "rank_bm25 BM25Okapi".into(),
            unit: Unit::Share,
            target: Target::RatioAtLeast(1.0),
        });
        rows.push(Row {
            section: "K5",
            name: "MRR of the answering page vs rank_bm25".into(),
            value: ours.mrr,
            floor: shop_peer.mrr,
            floor_name: "rank_bm25 BM25Okapi".into(),
            unit: Unit::Share,
            target: Target::None,
        });
        rows.push(Row {
            section: "K5",
            name: "search p50 per question, demo shop, vs rank_bm25".into(),
            value: ours.p50,
            floor: shop_peer.p50,
            floor_name: "rank_bm25 get_scores + top 5".into(),
            unit: Unit::Ms,
            // 130 passages: the interpreter's own overhead, not the search, is measured.
            target: Target::None,
        });
        if let Some((size, index)) = &largest {
            let passages: Vec<PeerPassage> = all[..*size]
                .iter()
                .flat_map(|page| {
                    let url = page.url.clone().unwrap_or_default();
                    passages_of(&url, page)
                        .into_iter()
                        .map(move |p| PeerPassage {
                            path: url.clone(),
                            text: format!("{}\n{}\n{}", p.title, p.headings.join("\n"), p.text),
                        })
                })
                .collect();
            let timed: Vec<Question> = asked
                .iter()
                .map(|q| Question {
                    question: q.clone(),
                    page: Some(String::new()),
                })
                .collect();
            let peer = peer(python, &passages, &timed, work.path())?;
            let ours = quality(index, &timed)?;
            rows.push(Row {
                section: "K5",
                name: format!(
                    "search p50 per question, {} pages ({} passages), vs rank_bm25",
                    report::grouped(*size as f64),
                    report::grouped(passages.len() as f64)
                ),
                value: ours.p50,
                floor: peer.p50,
                floor_name: "rank_bm25 get_scores + top 5".into(),
                unit: Unit::Ms,
                target: Target::Ratio(1.0 / 20.0),
            });
        }
        eprintln!(
            "quality: ours recall@5 {:.3} MRR {:.3}; rank_bm25 recall@5 {:.3} MRR {:.3}",
            ours.recall5, ours.mrr, shop_peer.recall5, shop_peer.mrr
        );
    } else {
        eprintln!(
            "quality (no peer: --python not given): recall@5 {:.3} MRR {:.3}",
            ours.recall5, ours.mrr
        );
    }
    println!("{}", report::table(&rows));
    let (met, targeted) = report::tally(&rows);
    println!("{met} of {targeted} targets met.");
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A passage as the peer reads it.
#[derive(serde::Serialize)]
struct PeerPassage {
    path: String,
    text: String,
}

/// The demo shop crawled from a loopback server as the worker crawls it, indexed; and its
/// passages for the peer.
async fn demo_shop_index(work: &Path) -> Result<(KnowledgeIndex, Vec<PeerPassage>), BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let origin = format!("http://{}", listener.local_addr()?);
    let shop =
        chat_local::demo_shop::DemoShop::new(&chat_local::demo_shop::default_root(), &origin)?;
    tokio::spawn(chat_local::demo_shop::serve_shop(
        listener,
        Arc::new(shop),
        std::future::pending(),
    ));
    let fetcher = Fetcher::new(FetchSettings {
        policy: AddressPolicy {
            allow_loopback: true,
        },
        ..FetchSettings::default()
    })?;
    let start = url::Url::parse(&format!("{origin}/"))?;
    let report = crawl(
        &fetcher,
        &CrawlPlan {
            scope: Scope::new(&start, &[], &[]),
            sitemap_urls: Vec::new(),
            max_pages: 100,
            max_depth: MAX_DEPTH,
            validators: HashMap::new(),
            deadline: None,
        },
    )
    .await;
    let dir = work.join("shop");
    std::fs::create_dir_all(&dir)?;
    let mut builder = IndexBuilder::create(&dir)?;
    let mut passages = Vec::new();
    for crawled in &report.pages {
        if let PageOutcome::Content { page, .. } = &crawled.outcome {
            let url = page.url.clone().unwrap_or_default();
            let path = url::Url::parse(&url)?.path().to_owned();
            for passage in passages_of(&url, page) {
                passages.push(PeerPassage {
                    path: path.clone(),
                    text: format!(
                        "{}\n{}\n{}",
                        passage.title,
                        passage.headings.join("\n"),
                        passage.text
                    ),
                });
                builder.add(&Entry::passage(&passage, Some(&url), page.lang.as_deref()))?;
            }
        }
    }
    builder.finish()?;
    Ok((KnowledgeIndex::open(&dir)?, passages))
}

/// How the relevance bar of grounded answers (`chat_knowledge::grounding::RELEVANCE_BAR`)
/// splits the fixture: the answerable questions whose best hit clears it, and the ones the
/// site does not answer whose best hit does not.
fn bar_split(index: &KnowledgeIndex, fixture: &[Question]) -> Result<(f64, f64), BoxError> {
    let bar = chat_knowledge::grounding::RELEVANCE_BAR;
    let (mut answered, mut answerable, mut declined, mut out_of_scope) = (0.0, 0.0, 0.0, 0.0);
    for q in fixture {
        let best = index
            .search(&q.question, 1)?
            .first()
            .map_or(0.0, |h| h.score);
        match q.page {
            Some(_) => {
                answerable += 1.0;
                if best >= bar {
                    answered += 1.0;
                }
            }
            None => {
                out_of_scope += 1.0;
                if best < bar {
                    declined += 1.0;
                }
            }
        }
    }
    Ok((
        answered / f64::max(answerable, 1.0),
        declined / f64::max(out_of_scope, 1.0),
    ))
}

/// The same split by the second signal, words the knowledge never mentions
/// (`KnowledgeIndex::unknown_words`): answerable questions with none, out-of-scope ones
/// with some.
fn unknown_split(index: &KnowledgeIndex, fixture: &[Question]) -> Result<(f64, f64), BoxError> {
    let (mut clean, mut answerable, mut flagged, mut out_of_scope) = (0.0, 0.0, 0.0, 0.0);
    for q in fixture {
        let unknown = !index.unknown_words(&q.question)?.is_empty();
        match q.page {
            Some(_) => {
                answerable += 1.0;
                if !unknown {
                    clean += 1.0;
                }
            }
            None => {
                out_of_scope += 1.0;
                if unknown {
                    flagged += 1.0;
                }
            }
        }
    }
    Ok((
        clean / f64::max(answerable, 1.0),
        flagged / f64::max(out_of_scope, 1.0),
    ))
}

/// Recall@5, MRR and per-question latency over the answerable questions.
struct Quality {
    answered: usize,
    recall5: f64,
    mrr: f64,
    p50: f64,
}

fn quality(index: &KnowledgeIndex, fixture: &[Question]) -> Result<Quality, BoxError> {
    let mut found = 0.0;
    let mut reciprocal = 0.0;
    let mut samples = Samples::default();
    let answerable: Vec<&Question> = fixture.iter().filter(|q| q.page.is_some()).collect();
    for _ in 0..20 {
        for q in &answerable {
            let start = Instant::now();
            std::hint::black_box(index.search(&q.question, 5)?);
            samples.push(start.elapsed());
        }
    }
    for q in &answerable {
        let gold = q.page.as_deref().unwrap_or_default();
        let hits = index.search(&q.question, 5)?;
        // The first rank of a passage of the answering page.
        let rank = hits.iter().position(|h| {
            h.path().as_deref() == Some(gold)
                || (gold == "/index.html" && h.path().as_deref() == Some("/"))
        });
        if let Some(rank) = rank {
            found += 1.0;
            reciprocal += 1.0 / (rank as f64 + 1.0);
        }
    }
    let n = answerable.len().max(1) as f64;
    Ok(Quality {
        answered: answerable.len(),
        recall5: found / n,
        mrr: reciprocal / n,
        p50: samples.median(),
    })
}

/// The peer's figures, from `bench/peers/python/bm25_peer.py`.
#[derive(serde::Deserialize)]
struct PeerQuality {
    recall5: f64,
    mrr: f64,
    p50: f64,
}

fn peer(
    python: &Path,
    passages: &[PeerPassage],
    fixture: &[Question],
    work: &Path,
) -> Result<PeerQuality, BoxError> {
    let input = work.join("peer-input.json");
    let questions: Vec<serde_json::Value> = fixture
        .iter()
        .filter(|q| q.page.is_some())
        .map(|q| serde_json::json!({"question": q.question, "page": q.page}))
        .collect();
    std::fs::write(
        &input,
        serde_json::to_vec(&serde_json::json!({"passages": passages, "questions": questions}))?,
    )?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/python/bm25_peer.py");
    let output = std::process::Command::new(python)
        .arg(script)
        .arg(&input)
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "the rank_bm25 peer failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}
