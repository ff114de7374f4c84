//! `chat-local`: run the API locally, mint a session token, or administer projects and
//! assistants in any DynamoDB table.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use chat_local::admin::{self, AssistantWritten};
use chat_local::seed::{DEMO_CONVERSATION, demo_caller};
use chat_local::settings::local_config;
use chat_local::startup::{StartOptions, start};
use chat_shared::assistant::{Assistant, Plan, ProviderKind, Tier};
use chat_shared::auth::{Claims, TokenMinter, now_secs};
use chat_shared::config::Config;
use chat_shared::domain::{ProjectId, new_id};
use chat_shared::error::DisplayChain;
use chat_shared::storage::client::{dynamo_client, sdk_config};
use chat_shared::telemetry;
use clap::{Parser, Subcommand, ValueEnum};
use uuid::Uuid;

/// The chat API on one local process. Configuration comes from the same environment
/// variables the Lambda functions read (see README.md), with development defaults.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
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
        #[arg(long, value_enum)]
        plan: PlanArg,
        /// Its id (default: a new one).
        #[arg(long)]
        project: Option<Uuid>,
    },
    /// Create or replace an assistant of a project; prints its id.
    PutAssistant(PutAssistantArgs),
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
    #[arg(long, value_enum)]
    provider: ProviderArg,
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
    #[arg(long, value_enum)]
    tier: TierArg,
    /// Make it the project's default assistant (used when a request names none).
    #[arg(long)]
    default: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum PlanArg {
    Free,
    Pro,
}

#[derive(Clone, Copy, ValueEnum)]
enum ProviderArg {
    Offline,
    Openai,
    Bedrock,
}

#[derive(Clone, Copy, ValueEnum)]
enum TierArg {
    Standard,
    Advanced,
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    /// The address to listen on.
    #[arg(long, env = "LOCAL_ADDR", default_value = "127.0.0.1:3000")]
    addr: Option<SocketAddr>,
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
    let config = local_config()?;
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Token {
            project,
            visitor,
            ttl,
        } => {
            println!("{}", mint_token(&config, project, visitor, ttl).await?);
            Ok(())
        }
        Command::Admin(command) => run_admin(&config, command).await,
        Command::Serve(args) => {
            telemetry::init(config.log_format);
            let addr = args.addr.unwrap_or_else(|| ([127, 0, 0, 1], 3000).into());
            let options = StartOptions {
                db_file: args.db_file,
                no_seed: args.no_seed,
                engine_addr: args.engine_addr,
            };
            let stack = start(config, &options).await?;
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let addr = listener.local_addr()?;
            print_banner(&stack, addr, options.no_seed);
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            chat_local::server::serve(listener, stack.app.clone(), shutdown).await;
            Ok(())
        }
    }
}

/// A token signed with the newest configured key, read from its secret when the keys
/// live in Secrets Manager; it carries `iss` when the deployment checks one.
async fn mint_token(
    config: &Config,
    project: Uuid,
    visitor: Uuid,
    ttl: u64,
) -> Result<String, MainError> {
    let keys = match config.signing_keys.inline() {
        Some(keys) => keys.clone(),
        None => {
            let sdk = sdk_config(&config.dynamo).await;
            config.signing_keys.resolve(&sdk).await?
        }
    };
    let now = now_secs();
    Ok(TokenMinter::new(&keys).mint_claims(&Claims {
        sub: visitor,
        pid: project,
        iat: now,
        exp: now + ttl,
        nbf: None,
        iss: config.token_issuer.clone(),
    }))
}

async fn run_admin(config: &Config, command: AdminCommand) -> Result<(), MainError> {
    let sdk = sdk_config(&config.dynamo).await;
    let client = dynamo_client(&sdk, &config.dynamo);
    let table = config.table_name.as_str();
    match command {
        AdminCommand::CreateProject { plan, project } => {
            let project = ProjectId(project.unwrap_or_else(new_id));
            admin::create_project(&client, table, project, plan.into()).await?;
            println!("{}", project.0);
        }
        AdminCommand::PutAssistant(args) => {
            let project = ProjectId(args.project);
            let make_default = args.default;
            let assistant = Assistant {
                id: Some(args.assistant.unwrap_or_else(new_id)),
                name: args.name,
                provider: args.provider.into(),
                model: args.model,
                system_prompt: args.system_prompt,
                temperature: args.temperature,
                max_output_tokens: args.max_output_tokens,
                tier: args.tier.into(),
            };
            let AssistantWritten {
                id,
                is_default,
                plan,
            } = admin::put_assistant(&client, table, project, &assistant, make_default).await?;
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

impl From<PlanArg> for Plan {
    fn from(plan: PlanArg) -> Self {
        match plan {
            PlanArg::Free => Plan::Free,
            PlanArg::Pro => Plan::Pro,
        }
    }
}

impl From<ProviderArg> for ProviderKind {
    fn from(provider: ProviderArg) -> Self {
        match provider {
            ProviderArg::Offline => ProviderKind::Offline,
            ProviderArg::Openai => ProviderKind::OpenAi,
            ProviderArg::Bedrock => ProviderKind::Bedrock,
        }
    }
}

impl From<TierArg> for Tier {
    fn from(tier: TierArg) -> Self {
        match tier {
            TierArg::Standard => Tier::Standard,
            TierArg::Advanced => Tier::Advanced,
        }
    }
}

fn print_banner(stack: &chat_local::startup::Stack, addr: SocketAddr, no_seed: bool) {
    let config = &stack.app.config;
    let endpoint = config.dynamo.endpoint.as_deref().unwrap_or("AWS");
    println!("chat API listening on http://{addr}");
    println!("DynamoDB: {endpoint}, table {}", config.table_name);
    let Some(keys) = config.signing_keys.inline().filter(|_| !no_seed) else {
        return;
    };
    let token = TokenMinter::new(keys).mint(demo_caller(), DEMO_TOKEN_TTL_SECS);
    println!();
    println!("demo session token (24 h):");
    println!("  export TOKEN={token}");
    println!("demo conversation: {DEMO_CONVERSATION}");
    println!();
    println!("try:");
    println!(
        "  curl -s -H \"Authorization: Bearer {token}\" http://{addr}/v2/conversations/{DEMO_CONVERSATION}"
    );
}
