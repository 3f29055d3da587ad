//! The binary's commands: argument definitions (clap) and one function per
//! command group, which call the library and print. These modules are part
//! of the binary only; the library does the work.

mod eval;
mod index;
mod keys;
mod merchant;
mod shop;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use concierge::config::Config;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

/// Where `serve` listens, and where a standalone `ask` serves the Send API
/// for registered bots.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8700";
const DEFAULT_REQUEST: &str = "buy me a gray turtleneck sweater in medium under $50";

#[derive(Parser)]
#[command(
    name = "concierge",
    version,
    about = "One shopping assistant, many merchants: parses a request with rules, searches every merchant's catalog, negotiates with their auto-responders, checks invoices and pays the best one."
)]
pub struct Cli {
    #[command(flatten)]
    paths: PathArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct PathArgs {
    /// Rule files directory [default: rules, else the embedded rules]
    #[arg(long, global = true, env = "CONCIERGE_RULES")]
    rules: Option<PathBuf>,
    /// Catalog feeds and index directory [default: index]
    #[arg(long, global = true, env = "CONCIERGE_INDEX")]
    index: Option<PathBuf>,
    /// SQLite store [default: concierge.db]
    #[arg(long, global = true, env = "CONCIERGE_DB")]
    db: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the whole job on the bundled demo world: index, merchants on loopback, negotiation, payment
    Demo {
        /// What to buy
        #[arg(default_value = DEFAULT_REQUEST)]
        request: String,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Shop for REQUEST with the registered merchants (the demo world's with --demo)
    Ask {
        request: String,
        /// Shop in the demo world instead of with the registered merchants
        #[arg(long)]
        demo: bool,
        /// The most to pay for the order, e.g. 50 or 49.99 (overrides the request's budget)
        #[arg(long, value_name = "AMOUNT")]
        max_total: Option<String>,
        /// Pay without asking when the mandate allows
        #[arg(long)]
        auto_pay: bool,
        /// A running budget across every order of the request (a basket), e.g. 120
        #[arg(long, value_name = "AMOUNT")]
        budget: Option<String>,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
        /// Ask a running `concierge serve` at this URL instead of shopping in-process
        #[arg(long, value_name = "URL")]
        server: Option<String>,
        /// The API key for --server (`concierge keys create` makes one)
        #[arg(
            long,
            value_name = "KEY",
            env = "CONCIERGE_API_KEY",
            hide_env_values = true
        )]
        api_key: Option<String>,
    },
    /// Run the HTTP API: shopper requests, merchant registration, and the Send API endpoint
    Serve {
        /// Address to listen on
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: String,
        /// Also serve the demo world's merchants (reference auto-responders on loopback)
        #[arg(long)]
        demo: bool,
        /// Allow merchant endpoints on loopback from now on (for local
        /// testing; stored, see `concierge settings`)
        #[arg(long)]
        allow_loopback: bool,
        /// A host name the API answers to, besides IP addresses and
        /// localhost (repeatable; env CONCIERGE_ALLOWED_HOSTS, comma separated)
        #[arg(long = "allowed-host", value_name = "NAME")]
        allowed_hosts: Vec<String>,
    },
    /// API keys for the HTTP API: shoppers, merchants, the operator
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Settings of this deployment, stored in the database
    Settings {
        #[command(subcommand)]
        command: Option<SettingsCommand>,
    },
    /// Catalog index commands
    Index {
        #[command(subcommand)]
        command: IndexCommand,
    },
    /// Merchant commands
    Merchant {
        #[command(subcommand)]
        command: MerchantCommand,
    },
    /// Measure at scale in a release build: negotiation, payments, search
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Parse TEXT with the rules and print the intent, slots and trace as JSON
    Parse { text: String },
    /// Rule file commands
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Search every merchant's catalog for TEXT and show the offers grouped by product
    Search {
        text: String,
        /// Search the demo world instead of the catalog of record
        #[arg(long)]
        demo: bool,
        /// Print the parsed query and the results as JSON
        #[arg(long)]
        json: bool,
    },
    /// Score the system against labelled data
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Talk to Concierge: one request per line; it asks you when a merchant needs a choice and before paying
    Chat {
        /// Shop in the demo world instead of with the registered merchants
        #[arg(long)]
        demo: bool,
    },
    /// List recorded orders
    Orders {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// List payments and where each stands; `reconcile` settles those
    /// whose answer never came
    Payments {
        #[command(subcommand)]
        command: Option<PaymentsCommand>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum PaymentsCommand {
    /// Ask the merchants about payments claimed, sent or unknown (the same
    /// Pay under the same idempotency key) and record their answers
    Reconcile {
        /// Only payments nothing touched for this many seconds (a payment
        /// another process is making is left alone)
        #[arg(long, default_value_t = 60, value_name = "SECS")]
        untouched_for: u64,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a key; its secret is printed once
    Create {
        /// What the key may do: a shopper shops and sees only their own
        /// requests and orders; a merchant replaces its own feed; the
        /// operator does everything
        #[arg(long, value_parser = ["shopper", "merchant", "operator"], default_value = "shopper")]
        scope: String,
        /// Whom it speaks for: the shopper's name, the merchant's id
        #[arg(long, value_name = "NAME")]
        subject: Option<String>,
        /// A note to recognise the key by
        #[arg(long, default_value = "")]
        label: String,
        /// Print the key as JSON
        #[arg(long)]
        json: bool,
    },
    /// List keys (never their secrets)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key by its id (key_...)
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum SettingsCommand {
    /// Show the settings
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Allow merchant endpoints on loopback (127.0.0.1, ::1): for local testing only
    AllowLoopback {
        #[arg(value_enum)]
        value: OnOff,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(Subcommand)]
pub enum RulesCommand {
    /// Validate every rule file (all problems, with file and line) and run every example
    Check {
        /// Rule directory [default: --rules, else the embedded rules]
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Evaluations; each scores one part of the pipeline against labelled data.
#[derive(Subcommand)]
pub enum EvalCommand {
    /// Intent and slot accuracy on a labelled corpus (Concierge JSONL, CLINC150 JSON, HWU64 CSV, SLURP JSONL)
    Intents {
        #[arg(long)]
        data: PathBuf,
        /// Maps the corpus's intent names onto Concierge's (see eval/label-maps/)
        #[arg(long)]
        label_map: Option<PathBuf>,
        /// CLINC150 splits to score, comma-separated [default: test,oos_test];
        /// e.g. val,oos_val to develop rules without the test lists
        #[arg(long, value_delimiter = ',')]
        splits: Option<Vec<String>>,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
        /// Most errors listed in the text report
        #[arg(long, default_value_t = 50)]
        max_errors: usize,
    },
    /// Coverage of unlabelled shopping requests (JSON array of strings, or one per line): share read as shopping with a product
    Requests {
        #[arg(long)]
        data: PathBuf,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
        /// Most misses of each kind listed
        #[arg(long, default_value_t = 50)]
        max_errors: usize,
    },
    /// Retrieval quality: recall@10, MRR, nDCG@10 and grouping precision/recall
    Search(EvalSearchArgs),
    /// End to end: shop for each task's request in a world of reference merchants built from feeds, and score what was bought (WebShop's reward)
    Shop(EvalShopArgs),
    /// How merchants' bot turns are read: acts, offers agreed or refused, amounts (labelled JSON Lines)
    Dialogue {
        #[arg(long)]
        data: PathBuf,
        /// Print one JSON object
        #[arg(long)]
        json: bool,
        /// Most misses listed in the text report
        #[arg(long, default_value_t = 50)]
        max_errors: usize,
    },
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Many reference merchants negotiated at once, first message to checked invoice
    Negotiate {
        #[arg(long, default_value_t = 100)]
        merchants: usize,
        /// Extra merchants that accept the connection and never answer
        #[arg(long, default_value_t = 0)]
        hanging: usize,
        /// Extra merchants that answer one byte per second
        #[arg(long, default_value_t = 0)]
        trickling: usize,
        /// The negotiation deadline (and turn timeout), in milliseconds
        #[arg(long, default_value_t = 2000)]
        deadline_ms: u64,
        #[arg(long, default_value_t = 11)]
        repeat: usize,
        /// The protocols the merchants speak, in turn (a mixed market:
        /// messenger,ucp,acp)
        #[arg(long, value_delimiter = ',', default_value = "messenger")]
        protocols: Vec<String>,
    },
    /// Distinct orders, each paid by many concurrent duplicate requests
    Payments {
        #[arg(long, default_value_t = 100)]
        orders: usize,
        #[arg(long, default_value_t = 100)]
        duplicates: usize,
    },
    /// Index a generated catalog of N products, then time searches (tantivy and SQLite FTS5)
    Search {
        /// Products in the generated catalog
        #[arg(long, default_value_t = 100_000)]
        products: usize,
        /// Searches timed
        #[arg(long, default_value_t = 1_000)]
        queries: usize,
        /// Skip the SQLite FTS5 comparison
        #[arg(long)]
        no_fts5: bool,
        /// Scratch directory [default: a new one under the system temp dir]
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum IndexCommand {
    /// Rebuild the catalog of record from its merchants' kept feeds (aside, then swapped in)
    Build,
    /// Write the demo world's feeds into <index>/feeds
    GenerateDemo,
    /// Replace one merchant's catalog in the catalog of record with a feed (JSON Lines, CSV or TSV)
    Load {
        /// Merchant id
        #[arg(long)]
        merchant: String,
        /// The feed file; the format is chosen by extension, else by content
        #[arg(long)]
        feed: PathBuf,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// Merchants, products, variants and size on disk
    Stats {
        /// Print as JSON
        #[arg(long)]
        json: bool,
        /// The demo world's index instead of the catalog of record
        #[arg(long)]
        demo: bool,
    },
    /// Convert another catalog format to an ACP JSON Lines feed
    Convert {
        /// Input format
        #[arg(long, value_enum)]
        format: ConvertFormat,
        /// Input directory
        #[arg(long)]
        data: PathBuf,
        /// Output feed (JSON Lines)
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ConvertFormat {
    /// Magento 2 sample-data CSVs (configurable products with size and colour variants)
    Magento,
}

#[derive(Args)]
pub struct EvalSearchArgs {
    /// Input format
    #[arg(long, value_enum)]
    format: EvalFormat,
    /// PriceRunner CSV file, or for qrels a directory with queries.tsv, judgements.tsv and feed.{jsonl,csv,tsv}
    #[arg(long)]
    data: PathBuf,
    /// How text is scored
    #[arg(long, value_enum, default_value = "full")]
    ranker: RankerArg,
    /// Print one JSON object, per-query results included
    #[arg(long)]
    json: bool,
    /// Queries listed in the text report, worst first
    #[arg(long, default_value_t = 10)]
    show: usize,
}

#[derive(Args)]
pub struct EvalShopArgs {
    /// Tasks, JSON Lines: {"id", "request", "gold": {...}, "best_total"}
    #[arg(long)]
    tasks: PathBuf,
    /// One feed per merchant (*.jsonl, *.csv, *.tsv; the id is the file
    /// stem), with optional merchants.json {"id": {"shipping": cents}}
    #[arg(long)]
    feeds: PathBuf,
    /// Runs per task (K of pass^k and pass@k)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Print one JSON object, every run included
    #[arg(long)]
    json: bool,
    /// Also write a Markdown report (summary and failures) here
    #[arg(long, value_name = "PATH")]
    report_md: Option<PathBuf>,
    /// Only the first N tasks
    #[arg(long, value_name = "N")]
    max_tasks: Option<usize>,
    /// The budget a shopper authorises for tasks whose gold states no
    /// max_price, e.g. 500 (passed to ask as --max-total) [default: none:
    /// such requests are not paid, as with ask]
    #[arg(long, value_name = "AMOUNT")]
    default_max_total: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum EvalFormat {
    Pricerunner,
    Qrels,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum RankerArg {
    Bm25,
    Full,
}

#[derive(Subcommand)]
pub enum MerchantCommand {
    /// Run the reference merchant for one catalog feed, over Messenger, UCP or ACP
    Serve {
        /// The protocol it speaks: messenger (a webhook auto-responder), ucp
        /// (UCP REST checkout) or acp (ACP checkout)
        #[arg(long, default_value = "messenger")]
        protocol: String,
        /// The catalog feed (ACP JSON Lines, or Google Merchant Center CSV/TSV)
        #[arg(long, required_unless_present = "conformance_data")]
        feed: Option<PathBuf>,
        /// Instead of a feed, the UCP conformance suite's seeded shop in DIR
        /// (the suite's test_data/flower_shop), with its mock payment
        /// handlers, the simulation endpoint and order webhooks to loopback:
        /// for running the suite (docs/ucp-conformance.md), never for sales
        #[arg(long, value_name = "DIR", conflicts_with = "feed")]
        conformance_data: Option<PathBuf>,
        /// The Simulation-Secret header the conformance suite sends
        /// (its --simulation_secret) [default: random, printed]
        #[arg(long, requires = "conformance_data")]
        simulation_secret: Option<String>,
        /// Port on 127.0.0.1 (0 picks a free one)
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Merchant id [default: the feed's file name; registration tells the
        /// responder the id it is registered under]
        #[arg(long)]
        id: Option<String>,
        /// Shop name shown to shoppers [default: the id]
        #[arg(long)]
        name: Option<String>,
        /// Secret for X-Hub-Signature-256 (Messenger), or the API key
        /// Concierge must send (ACP) [default: random, printed]
        #[arg(long, env = "CONCIERGE_APP_SECRET")]
        app_secret: Option<String>,
        /// Token for the hub.verify_token handshake [default: random, printed]
        #[arg(long)]
        verify_token: Option<String>,
        /// Flat shipping per order in cents
        #[arg(long, default_value_t = 0)]
        shipping: i64,
        /// A TOML file with the responder's wording
        #[arg(long)]
        wording: Option<PathBuf>,
    },
    /// Register a merchant's auto-responder: verifies the endpoint, loads its catalog and issues its page access token
    Register {
        #[arg(long)]
        name: String,
        /// The id to register under [default: made from the name]
        #[arg(long)]
        id: Option<String>,
        /// The merchant's webhook URL (Messenger), or the base URL of its
        /// checkout API (UCP, ACP)
        #[arg(long)]
        endpoint: String,
        /// The protocol it speaks: messenger, ucp or acp [default:
        /// messenger with --verify-token, else ucp, found at
        /// /.well-known/ucp]
        #[arg(long)]
        protocol: Option<String>,
        /// The token the endpoint expects in hub.verify_token (Messenger)
        #[arg(long, default_value = "")]
        verify_token: String,
        /// The API key Concierge sends as a bearer token (ACP)
        #[arg(long)]
        api_key: Option<String>,
        /// The secret events are signed with [default: generated]
        #[arg(long)]
        app_secret: Option<String>,
        /// The page access token your bot already uses for the Send API [default: issued]
        #[arg(long)]
        page_access_token: Option<String>,
        /// The merchant's catalog feed (ACP JSON Lines, or Google Merchant
        /// Center CSV/TSV). Leave it out for a UCP business that searches its
        /// own catalog (dev.ucp.shopping.catalog.search): it is then asked
        /// at each request
        #[arg(long)]
        feed: Option<PathBuf>,
        /// Allow merchant endpoints on loopback from now on (for local
        /// testing; stored, see `concierge settings`)
        #[arg(long)]
        allow_loopback: bool,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Replace a registered merchant's catalog with a new feed (JSON Lines, CSV or TSV)
    Feed {
        /// The merchant's id
        id: String,
        /// The feed file
        feed: PathBuf,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// List registered merchants
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a registered merchant
    Remove { id: String },
}

/// Runs the command; the exit code, or an error for the binary to print.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let config = config_from(&cli.paths)?;
    match cli.command {
        Command::Demo { request, json } => shop::demo(&config, &request, json).await,
        Command::Ask {
            request,
            demo,
            max_total,
            auto_pay,
            budget,
            json,
            server,
            api_key,
        } => {
            let ask = shop::Ask {
                api_key,
                request,
                demo,
                max_total: max_total.map(|text| parse_amount(&text)).transpose()?,
                budget: budget.map(|text| parse_amount(&text)).transpose()?,
                auto_pay,
                json,
                server,
            };
            shop::ask(&config, ask).await
        }
        Command::Chat { demo } => shop::chat(&config, demo).await,
        Command::Serve {
            listen,
            demo,
            allow_loopback,
            allowed_hosts,
        } => {
            let mut config = config;
            config.allowed_hosts.extend(allowed_hosts);
            shop::serve(config, &listen, demo, allow_loopback).await
        }
        Command::Keys { command } => keys::run(&config, command),
        Command::Settings { command } => merchant::settings(&config, command),
        Command::Merchant { command } => merchant::run(&config, command).await,
        Command::Index { command } => index::run(&config, command),
        Command::Search { text, demo, json } => index::search(&config, &text, demo, json),
        Command::Bench { command } => eval::bench(&config, command).await,
        Command::Parse { text } => eval::parse(&config, &text),
        Command::Rules { command } => eval::rules(&config, command),
        Command::Eval { command } => eval::run(&config, command),
        Command::Orders { json } => eval::orders(&config, json),
        Command::Payments { command, json } => match command {
            None => eval::payments(&config, json),
            Some(PaymentsCommand::Reconcile {
                untouched_for,
                json,
            }) => shop::reconcile(&config, Duration::from_secs(untouched_for), json).await,
        },
    }
}

fn config_from(paths: &PathArgs) -> anyhow::Result<Config> {
    let mut config = Config::from_env()?;
    if let Some(rules) = &paths.rules {
        config.rules_dir = rules.clone();
    }
    if let Some(index) = &paths.index {
        config.index_dir = index.clone();
    }
    if let Some(db) = &paths.db {
        config.db_path = db.clone();
    }
    Ok(config.with_policy()?)
}

/// A progress bar on stderr for loads large enough to watch, only when
/// stderr is a terminal (never in logs or tests).
fn progress_bar(total: usize) -> Option<indicatif::ProgressBar> {
    if total < 10_000 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} products ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style);
    }
    Some(bar)
}

/// A fresh directory under the system temp dir for throwaway indexes.
fn scratch_dir(purpose: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "concierge-{purpose}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// "50", "49.99", "$50" → minor units.
fn parse_amount(text: &str) -> anyhow::Result<i64> {
    let cleaned = text.trim().trim_start_matches(['$', '€', '£']).trim();
    concierge::money::parse_decimal_minor(cleaned)
        .with_context(|| format!("{text:?} is not an amount like 50 or 49.99"))
}

/// One line from standard input, trimmed; `None` at end of input.
fn read_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()),
    }
}
