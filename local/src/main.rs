//! `chat-local`: run the API locally, mint a session token, or administer projects and
//! assistants in any DynamoDB table.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chat_domain::Spelling;
use chat_domain::api_key::KeyKind;
use chat_domain::assistant::{Assistant, Plan, ProviderKind, Tier};
use chat_domain::env::Env;
use chat_domain::error::DisplayChain;
use chat_domain::ids::{Caller, ProjectId, VisitorId, new_id};
use chat_domain::knowledge::{PageStatus, Schedule};
use chat_domain::session::{Claims, TokenMinter, now_secs};
use chat_edge::{secrets, telemetry};
use chat_local::admin;
use chat_local::admin_knowledge::AdminKnowledge;
use chat_local::app::LocalSettings;
use chat_local::demo_shop::{self, DemoShop};
use chat_local::seed::{DEMO_CONVERSATION, DEMO_PUBLISHABLE_KEY, demo_caller};
use chat_local::settings::local_settings;
use chat_local::site::{Site, serve_site};
use chat_local::startup::{StartOptions, start};
use chat_storage::DynamoStore;
use chat_storage::api_keys::KeyChange;
use chat_storage::client::{dynamo_client, sdk_config};
use chat_storage::projects::AssistantWritten;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Parser, Subcommand};
use strum::VariantNames;
use uuid::Uuid;

/// The chat API on one local process. Configuration comes from the same environment
/// variables the Lambda functions read (see README.md), with development defaults.
#[derive(Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// With no command: serve, with these options.
    #[command(flatten)]
    serve: ServeArgs,
}

/// A value parser accepting an enum's spellings (and listing them in `--help`).
fn spelled<T: Spelling + VariantNames + Send + Sync + 'static>() -> impl TypedValueParser<Value = T>
{
    PossibleValuesParser::new(T::VARIANTS).map(|text| T::parse(&text).expect("a listed value"))
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API on 127.0.0.1 (the default command).
    Serve(ServeArgs),
    /// Print a session token for a project and visitor, signed with the configured key
    /// (`SESSION_SIGNING_KEYS`, or the secret `SESSION_SIGNING_KEYS_SECRET_ARN` names).
    Token {
        /// The project id (`pid`).
        #[arg(long)]
        project: Uuid,
        /// The visitor id (`sub`).
        #[arg(long)]
        visitor: Uuid,
        /// Seconds until it expires.
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Create projects and write assistants in the configured table (`TABLE_NAME`, and
    /// `DYNAMODB_ENDPOINT` for another DynamoDB than AWS's).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a project with no default assistant; prints its id.
    CreateProject {
        /// Its plan: `pro` includes advanced assistants.
        #[arg(long, value_parser = spelled::<Plan>())]
        plan: Plan,
        /// Its name, shown by widgets.
        #[arg(long)]
        name: Option<String>,
        /// Its id (default: a new one).
        #[arg(long)]
        project: Option<Uuid>,
    },
    /// Create or replace an assistant of a project; prints its id.
    PutAssistant(PutAssistantArgs),
    /// Set a project's name and its widget's settings (a JSON file with the keys of
    /// `chatWidgetConfig`, API.md §7; those left out keep their defaults).
    SetProject {
        /// The project.
        #[arg(long)]
        project: Uuid,
        /// Its name, shown by widgets.
        #[arg(long)]
        name: Option<String>,
        /// A JSON file with the widget's settings.
        #[arg(long)]
        widget: Option<PathBuf>,
        /// The embedding model of its knowledge's semantic search, from its next index
        /// build: `openai:<model>` (OPENAI_BASE_URL's server) or `bedrock:<model id>`
        /// (Titan Text Embeddings V2); `none` for keyword search alone.
        #[arg(long)]
        embedding_model: Option<String>,
    },
    /// Create an API key; prints it (a secret key's full value only now, never again).
    CreateKey {
        /// The project.
        #[arg(long)]
        project: Uuid,
        /// `publishable` (for web pages) or `secret` (for servers).
        #[arg(long, value_parser = spelled::<KeyKind>())]
        kind: KeyKind,
        /// What the key is for.
        #[arg(long)]
        label: Option<String>,
        /// A publishable key's assistant (default: the project's default assistant).
        #[arg(long)]
        assistant: Option<Uuid>,
        /// An origin whose pages may use a publishable key, such as
        /// https://www.example.com (repeat for more; none: any origin). For a widget in an
        /// iframe, the origin of the widget's page, not of the site around it.
        #[arg(long = "origin")]
        origins: Vec<String>,
    },
    /// List a project's keys (secret keys by their first characters).
    ListKeys {
        /// The project.
        #[arg(long)]
        project: Uuid,
    },
    /// Revoke a key: refused everywhere within a minute.
    RevokeKey {
        /// The project.
        #[arg(long)]
        project: Uuid,
        /// The key (`pk_…` or `sk_…`).
        #[arg(long)]
        key: String,
    },
    /// Add a website (`--url`) or a document (`--file`) to a project's knowledge; with
    /// KNOWLEDGE_QUEUE_URL it is queued for the crawl function, else synced here; prints it.
    AddSource(AddSourceArgs),
    /// List a project's knowledge sources.
    Sources {
        /// The project.
        #[arg(long)]
        project: Uuid,
    },
    /// Sync a source now (queued, or run here); prints it after.
    Sync {
        /// The project.
        #[arg(long)]
        project: Uuid,
        /// The source.
        #[arg(long)]
        source: Uuid,
    },
    /// A source's pages, and why each is in or out.
    Pages {
        /// The project.
        #[arg(long)]
        project: Uuid,
        /// The source.
        #[arg(long)]
        source: Uuid,
        /// Only `indexed`, `skipped` or `failed` pages.
        #[arg(long, value_parser = spelled::<PageStatus>())]
        status: Option<PageStatus>,
    },
    /// A project's question-and-answer pairs.
    #[command(subcommand)]
    Qna(QnaCommand),
    /// Put every conversation stored before the project index existed into it (a Scan of
    /// the table, then one update per such conversation; again, it finds none); prints how
    /// many.
    BackfillProjectIndex,
    /// Change a publishable key's assistant or allowed origins.
    SetKey {
        /// The project.
        #[arg(long)]
        project: Uuid,
        /// The publishable key.
        #[arg(long)]
        key: String,
        /// Its visitors' assistant.
        #[arg(long, conflicts_with = "default_assistant")]
        assistant: Option<Uuid>,
        /// Its visitors talk to the project's default assistant.
        #[arg(long)]
        default_assistant: bool,
        /// The origins that may use it (repeat; replaces the list).
        #[arg(long = "origin", conflicts_with = "any_origin")]
        origins: Vec<String>,
        /// Any origin may use it.
        #[arg(long)]
        any_origin: bool,
    },
}

#[derive(Subcommand)]
enum QnaCommand {
    /// Add a pair; prints it.
    Add {
        /// The project.
        #[arg(long)]
        project: Uuid,
        /// The question, 1-500 characters.
        #[arg(long)]
        question: String,
        /// The answer as it is to be given, 1-10,000 characters.
        #[arg(long)]
        answer: String,
    },
    /// List the pairs.
    List {
        /// The project.
        #[arg(long)]
        project: Uuid,
    },
    /// Remove a pair.
    Delete {
        /// The project.
        #[arg(long)]
        project: Uuid,
        /// The pair.
        #[arg(long)]
        qna: Uuid,
    },
}

#[derive(clap::Args)]
struct AddSourceArgs {
    /// The project.
    #[arg(long)]
    project: Uuid,
    /// A website's start URL.
    #[arg(long, conflicts_with = "file", required_unless_present = "file")]
    url: Option<String>,
    /// A document: a Markdown, HTML or text file.
    #[arg(long)]
    file: Option<PathBuf>,
    /// A document's title (default: its first heading, else its file name).
    #[arg(long, requires = "file")]
    title: Option<String>,
    /// A document's URL, to cite it by.
    #[arg(long, requires = "file")]
    cite_url: Option<String>,
    /// A website's page cap (default: the plan's).
    #[arg(long)]
    max_pages: Option<u32>,
    /// How often a website is synced.
    #[arg(long, value_parser = spelled::<Schedule>())]
    schedule: Option<Schedule>,
    /// A path glob crawled besides the start URL's path (repeat for more).
    #[arg(long)]
    include: Vec<String>,
    /// A path glob never crawled (repeat for more).
    #[arg(long)]
    exclude: Vec<String>,
}

#[derive(clap::Args)]
struct PutAssistantArgs {
    /// The project.
    #[arg(long)]
    project: Uuid,
    /// The assistant to replace (default: a new one).
    #[arg(long)]
    assistant: Option<Uuid>,
    /// Display name.
    #[arg(long)]
    name: String,
    /// Who answers.
    #[arg(long, value_parser = spelled::<ProviderKind>())]
    provider: ProviderKind,
    /// The provider's model id (`gpt-4o-mini`, `anthropic.claude-3-haiku-20240307-v1:0`,
    /// or `offline[:tokens=N,...]`).
    #[arg(long)]
    model: String,
    /// Goes first in the model's context.
    #[arg(long)]
    system_prompt: Option<String>,
    /// Sampling temperature, 0 to 2.
    #[arg(long)]
    temperature: Option<f32>,
    /// Cap on generated tokens.
    #[arg(long)]
    max_output_tokens: Option<u32>,
    /// `advanced` needs the `pro` plan.
    #[arg(long, value_parser = spelled::<Tier>())]
    tier: Tier,
    /// What it answers when the project's knowledge does not answer a question (default:
    /// "I couldn't find that on this site. Would you like to talk to a person?").
    #[arg(long)]
    fallback_message: Option<String>,
    /// Make it the project's default assistant (used when a request names none).
    #[arg(long)]
    default: bool,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "LOCAL_ADDR", default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Keep the embedded engine's data in this file (default: in memory).
    #[arg(long)]
    db_file: Option<PathBuf>,
    /// Do not seed the demo project and conversation.
    #[arg(long)]
    no_seed: bool,
    /// Serve the embedded DynamoDB engine on this address, for other local processes
    /// such as `cargo lambda watch` (default: a free loopback port).
    #[arg(long)]
    engine_addr: Option<SocketAddr>,
    /// The demo site's build to serve (default: web/dist of this repository, when built).
    #[arg(long)]
    site_dir: Option<PathBuf>,
    /// Where the demo site listens: another origin than the API, so browsers use CORS.
    #[arg(long, default_value = "127.0.0.1:3001")]
    site_addr: SocketAddr,
    /// Do not serve the demo site.
    #[arg(long)]
    no_site: bool,
    /// Where the demo shop listens: the website the demo project's knowledge is crawled
    /// from at start.
    #[arg(long, default_value = "127.0.0.1:3002")]
    shop_addr: SocketAddr,
    /// Do not serve, register or crawl the demo shop.
    #[arg(long)]
    no_shop: bool,
    /// Also index this folder's Markdown, HTML and text files as documents of the demo
    /// project (to try the assistant on your own docs).
    #[arg(long)]
    index_dir: Option<PathBuf>,
    /// Keep the embedded S3 engine's objects in this folder (default: a temporary one).
    #[arg(long)]
    blob_dir: Option<PathBuf>,
    /// Serve the embedded S3 engine on this address, for other local processes such as
    /// `cargo lambda watch` (default: a free loopback port).
    #[arg(long)]
    s3_addr: Option<SocketAddr>,
}

/// How long the printed demo token is valid.
const DEMO_TOKEN_TTL_SECS: u64 = 24 * 3600;

type MainError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The message and its causes, not the Debug form `main` would print.
            eprintln!("error: {}", DisplayChain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), MainError> {
    let settings = local_settings(Env::process())?;
    match cli.command.unwrap_or(Command::Serve(cli.serve)) {
        Command::Token {
            project,
            visitor,
            ttl,
        } => {
            let caller = Caller {
                project: ProjectId(project),
                visitor: VisitorId(visitor),
            };
            println!("{}", mint_token(&settings, caller, ttl).await?);
            Ok(())
        }
        Command::Admin(command) => run_admin(&settings, command).await,
        Command::Serve(args) => {
            let mut settings = settings;
            settings.blob_dir = args.blob_dir.clone();
            settings.blob_addr = args.s3_addr;
            telemetry::init(&settings.base.edge.log);
            let options = StartOptions {
                db_file: args.db_file,
                no_seed: args.no_seed,
                engine_addr: args.engine_addr,
            };
            let banner_settings = settings.clone();
            let stack = start(settings, &options).await?;
            let listener = tokio::net::TcpListener::bind(args.addr).await?;
            let addr = listener.local_addr()?;
            let shop = match !args.no_shop && !options.no_seed {
                true => Some(serve_demo_shop(&stack, args.shop_addr).await?),
                false => None,
            };
            let indexed = match &args.index_dir {
                Some(dir) => Some(index_folder(&stack, dir).await?),
                None => None,
            };
            print_banner(&stack, &banner_settings, addr, options.no_seed).await?;
            for line in shop.into_iter().chain(indexed) {
                println!("{line}");
            }
            let default_site = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web/dist"));
            // Asked for: it must come up. Found built: served when its port is free.
            let (site_dir, required) = match args.site_dir {
                Some(dir) => (Some(dir), true),
                None if !args.no_site && default_site.join("index.html").is_file() => {
                    (Some(default_site), false)
                }
                None => (None, false),
            };
            if let (Some(dir), false) = (site_dir, args.no_site) {
                let site = Site::new(&dir, &format!("http://{addr}"), DEMO_PUBLISHABLE_KEY)?;
                match tokio::net::TcpListener::bind(args.site_addr).await {
                    Ok(site_listener) => {
                        println!("demo site: http://{}", site_listener.local_addr()?);
                        tokio::spawn(serve_site(
                            site_listener,
                            Arc::new(site),
                            std::future::pending(),
                        ));
                    }
                    Err(error) if !required => {
                        println!(
                            "demo site not served: {} is taken ({error})",
                            args.site_addr
                        );
                    }
                    Err(error) => return Err(error.into()),
                }
            }
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            chat_local::server::serve(listener, stack.app.clone(), shutdown, None).await;
            Ok(())
        }
    }
}

/// How long the start waits for the demo shop's first crawl.
const SHOP_SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Serves the demo shop on `addr`, registers it as the demo project's website and waits for
/// its first crawl (any free port when `addr` is taken); a line saying what it found.
async fn serve_demo_shop(
    stack: &chat_local::startup::Stack,
    addr: SocketAddr,
) -> Result<String, MainError> {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(_) => tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?,
    };
    let origin = format!("http://{}", listener.local_addr()?);
    let shop = DemoShop::new(&demo_shop::default_root(), &origin)?;
    tokio::spawn(demo_shop::serve_shop(
        listener,
        Arc::new(shop),
        std::future::pending(),
    ));
    let source = demo_shop::register(&stack.app, &origin, SHOP_SYNC_WAIT).await?;
    let report = source.last_sync.unwrap_or_default();
    Ok(format!(
        "demo shop: {origin} (the demo project's website: {} pages indexed, {} skipped{})",
        report.pages_indexed + report.pages_unchanged,
        report.pages_skipped,
        report.error.map(|e| format!("; {e}")).unwrap_or_default(),
    ))
}

/// Adds every Markdown, HTML and text file under `dir` to the demo project as a document
/// and waits for them to be indexed.
async fn index_folder(
    stack: &chat_local::startup::Stack,
    dir: &std::path::Path,
) -> Result<String, MainError> {
    let added = chat_local::folder::index_folder(&stack.app, dir).await?;
    let _ = tokio::time::timeout(SHOP_SYNC_WAIT, stack.app.jobs.idle()).await;
    Ok(format!(
        "indexed {added} new documents from {}",
        dir.display()
    ))
}

/// A token signed with the newest configured key, read from its secret when the keys
/// live in Secrets Manager; it carries `iss` when the deployment checks one.
async fn mint_token(
    settings: &LocalSettings,
    caller: Caller,
    ttl: u64,
) -> Result<String, MainError> {
    let edge = &settings.base.edge;
    let keys = match edge.signing_keys.inline() {
        Some(keys) => keys.clone(),
        None => {
            let sdk = sdk_config(&settings.base.store.dynamo).await?;
            secrets::signing_keys(&edge.signing_keys, &sdk).await?
        }
    };
    let now = now_secs();
    Ok(TokenMinter::new(&keys).mint_claims(&Claims {
        sub: caller.visitor.0,
        pid: caller.project.0,
        iat: now,
        exp: now + ttl,
        nbf: None,
        iss: edge.token_issuer.clone(),
        ext: None,
        name: None,
        picture: None,
    }))
}

async fn run_admin(settings: &LocalSettings, command: AdminCommand) -> Result<(), MainError> {
    let store_settings = &settings.base.store;
    let sdk = sdk_config(&store_settings.dynamo).await?;
    let store = DynamoStore::new(
        dynamo_client(&sdk, &store_settings.dynamo),
        store_settings.table_name.clone(),
    );
    match command {
        AdminCommand::CreateProject {
            plan,
            name,
            project,
        } => {
            let project = ProjectId(project.unwrap_or_else(new_id));
            admin::create_project(&store, project, plan).await?;
            if let Some(name) = name {
                store.set_public(project, Some(&name), None).await?;
            }
            println!("{}", project.0);
        }
        AdminCommand::SetProject {
            project,
            name,
            widget,
            embedding_model,
        } => {
            match embedding_model.as_deref() {
                None => {}
                Some("none") => store.set_embedding_model(ProjectId(project), None).await?,
                Some(model) => {
                    let model = chat_knowledge::embeddings::EmbeddingModel::parse(model)
                        .ok_or("--embedding-model is openai:<model>, bedrock:<model id> or none")?;
                    store
                        .set_embedding_model(ProjectId(project), Some(&model.id()))
                        .await?;
                }
            }
            let widget = match widget {
                None => None,
                Some(path) => Some(admin::read_widget(&path)?),
            };
            store
                .set_public(ProjectId(project), name.as_deref(), widget.as_ref())
                .await?;
        }
        AdminCommand::CreateKey {
            project,
            kind,
            label,
            assistant,
            origins,
        } => {
            let key =
                admin::create_key(&store, ProjectId(project), kind, label, assistant, origins)
                    .await?;
            println!("{key}");
            if kind == KeyKind::Secret {
                eprintln!("this is the only time the secret key is shown: keep it now");
            }
        }
        AdminCommand::ListKeys { project } => {
            for key in store.list_keys(ProjectId(project)).await? {
                let origins = if key.allowed_origins.is_empty() {
                    "any origin".to_owned()
                } else {
                    key.allowed_origins.join(",")
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    key.kind.as_str(),
                    key.display,
                    if key.revoked { "revoked" } else { "active" },
                    origins,
                    key.label.unwrap_or_default(),
                    key.created_at
                );
            }
        }
        AdminCommand::AddSource(args) => {
            let knowledge = AdminKnowledge::build(settings).await?;
            let project = ProjectId(args.project);
            let source = match (&args.url, &args.file) {
                (Some(url), _) => {
                    knowledge
                        .add_website(
                            project,
                            url,
                            args.max_pages,
                            args.schedule,
                            args.include,
                            args.exclude,
                        )
                        .await?
                }
                (None, Some(file)) => {
                    let kind = chat_local::folder::document_type(file).ok_or_else(|| {
                        format!("{}: not a .md, .html or .txt file", file.display())
                    })?;
                    let content = std::fs::read_to_string(file)
                        .map_err(|e| format!("{}: {e}", file.display()))?;
                    let title = args
                        .title
                        .unwrap_or_else(|| chat_local::folder::title(file, &content));
                    knowledge
                        .add_document(project, &title, content, kind, args.cite_url)
                        .await?
                }
                (None, None) => return Err("--url or --file".into()),
            };
            println!("{}", serde_json::to_string_pretty(&source)?);
        }
        AdminCommand::Sources { project } => {
            let knowledge = AdminKnowledge::build(settings).await?;
            for source in knowledge.sources(ProjectId(project)).await? {
                println!("{}", serde_json::to_string(&source)?);
            }
        }
        AdminCommand::Sync { project, source } => {
            let knowledge = AdminKnowledge::build(settings).await?;
            let source = knowledge.sync(ProjectId(project), source).await?;
            println!("{}", serde_json::to_string_pretty(&source)?);
        }
        AdminCommand::Pages {
            project,
            source,
            status,
        } => {
            let knowledge = AdminKnowledge::build(settings).await?;
            for page in knowledge.pages(ProjectId(project), source, status).await? {
                let reason = page.reason.as_deref().unwrap_or("");
                println!(
                    "{:<8} {:>3} {} {reason}",
                    page.status.as_str(),
                    page.passages,
                    page.url
                );
            }
        }
        AdminCommand::Qna(command) => {
            let knowledge = AdminKnowledge::build(settings).await?;
            match command {
                QnaCommand::Add {
                    project,
                    question,
                    answer,
                } => {
                    let qna = knowledge
                        .add_qna(ProjectId(project), &question, &answer)
                        .await?;
                    println!("{}", serde_json::to_string_pretty(&qna)?);
                }
                QnaCommand::List { project } => {
                    for qna in knowledge.qnas(ProjectId(project)).await? {
                        println!("{}", serde_json::to_string(&qna)?);
                    }
                }
                QnaCommand::Delete { project, qna } => {
                    knowledge.delete_qna(ProjectId(project), qna).await?;
                }
            }
        }
        AdminCommand::BackfillProjectIndex => {
            println!("{}", store.backfill_project_index().await?);
        }
        AdminCommand::RevokeKey { project, key } => {
            admin::change_key(
                &store,
                ProjectId(project),
                &key,
                KeyChange {
                    revoke: true,
                    ..KeyChange::default()
                },
            )
            .await?;
        }
        AdminCommand::SetKey {
            project,
            key,
            assistant,
            default_assistant,
            origins,
            any_origin,
        } => {
            let change = KeyChange {
                revoke: false,
                assistant: (assistant.is_some() || default_assistant).then_some(assistant),
                allowed_origins: (any_origin || !origins.is_empty()).then_some(origins),
            };
            admin::change_key(&store, ProjectId(project), &key, change).await?;
        }
        AdminCommand::PutAssistant(args) => {
            let project = ProjectId(args.project);
            let make_default = args.default;
            let assistant = Assistant {
                id: Some(args.assistant.unwrap_or_else(new_id)),
                name: args.name,
                provider: args.provider,
                model: args.model,
                system_prompt: args.system_prompt,
                temperature: args.temperature,
                max_output_tokens: args.max_output_tokens,
                tier: args.tier,
                fallback_message: args.fallback_message,
            };
            let AssistantWritten {
                id,
                is_default,
                plan,
            } = admin::put_assistant(&store, project, &assistant, make_default).await?;
            println!("{id}");
            if is_default {
                eprintln!("assistant {id} is the default of project {}", project.0);
            }
            if !plan.allows(assistant.tier) {
                eprintln!(
                    "warning: project {} is on the {} plan, which does not include {} assistants: completions with it get 402",
                    project.0,
                    plan.as_str(),
                    assistant.tier.as_str()
                );
            }
        }
    }
    Ok(())
}

async fn print_banner(
    stack: &chat_local::startup::Stack,
    settings: &LocalSettings,
    addr: SocketAddr,
    no_seed: bool,
) -> Result<(), MainError> {
    let store = &stack.app.settings.base.store;
    let endpoint = store.dynamo.endpoint.as_deref().unwrap_or("AWS");
    println!("chat API listening on http://{addr}");
    println!("live updates (WebSocket) on ws://{addr}/v2/conversations/{{id}}/ws?apiKey=<pk>");
    println!("DynamoDB: {endpoint}, table {}", store.table_name);
    if let Some(s3) = &stack.app.s3 {
        println!(
            "S3: {}, bucket {} (objects in {})",
            s3.endpoint(),
            stack.app.settings.knowledge.bucket,
            s3.root().display()
        );
    }
    if no_seed {
        return Ok(());
    }
    // Minted as the `token` command mints: with `iss` when the deployment checks one.
    let token = mint_token(settings, demo_caller(), DEMO_TOKEN_TTL_SECS).await?;
    println!();
    println!("demo session token (24 h):");
    println!("  export TOKEN={token}");
    println!("demo conversation: {DEMO_CONVERSATION}");
    println!();
    println!("demo publishable key (any origin): {DEMO_PUBLISHABLE_KEY}");
    println!();
    println!("try:");
    println!(
        "  curl -s -H \"Authorization: Bearer {token}\" http://{addr}/v2/conversations/{DEMO_CONVERSATION}"
    );
    println!(
        "  curl -s -H 'content-type: application/json' -d '{{\"apiKey\":\"{DEMO_PUBLISHABLE_KEY}\",\"saVid\":\"my-browser\"}}' http://{addr}/v2/identity/init"
    );
    println!(
        "  websocat 'ws://{addr}/v2/conversations/{DEMO_CONVERSATION}/ws?apiKey={DEMO_PUBLISHABLE_KEY}'"
    );
    println!("  curl -s 'http://{addr}/v2/search?q=shipping&apiKey={DEMO_PUBLISHABLE_KEY}'");
    Ok(())
}
