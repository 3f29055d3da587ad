//! `concierge`: the command-line front of the library. It parses arguments,
//! calls the library and reports errors as one line with a non-zero exit.

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use concierge::catalog::demo_world;
use concierge::config::Config;
use concierge::merchant::signature::random_token;
use concierge::merchant::{server, Responder, ResponderConfig, Wording};
use concierge::negotiate::Shop;
use concierge::negotiate::{ShopOptions, ShopReport};
use concierge::order::Store;
use concierge::world::RunningMerchant;
use concierge::{rules, world};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// mimalloc rather than the system allocator: indexing and search make
/// millions of small allocations across threads (feed strings, documents,
/// offers), where glibc's arenas spend a large share of the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where `serve` listens, and where a standalone `ask` serves the Send API
/// for registered bots.
const DEFAULT_LISTEN: &str = "127.0.0.1:8700";
const DEFAULT_REQUEST: &str = "buy me a gray turtleneck sweater in medium under $50";

#[derive(Parser)]
#[command(
    name = "concierge",
    version,
    about = "One shopping assistant, many merchants: parses a request with rules, searches every merchant's catalog, negotiates with their auto-responders, checks invoices and pays the best one."
)]
struct Cli {
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
enum Command {
    /// Run the whole job on the bundled demo world: index, merchants on loopback, negotiation, payment
    Demo {
        /// What to buy
        #[arg(default_value = DEFAULT_REQUEST)]
        request: String,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// Shop for REQUEST with the demo world's merchants
    Ask {
        request: String,
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
    },
    /// Run the HTTP API: shopper requests, merchant registration, and the Send API endpoint
    Serve {
        /// Address to listen on
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: String,
        /// Also serve the demo world's merchants (reference auto-responders on loopback)
        #[arg(long)]
        demo: bool,
        /// Allow merchant endpoints on loopback (for local testing)
        #[arg(long)]
        allow_loopback: bool,
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
    Chat,
    /// List recorded orders
    Orders {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate every rule file (all problems, with file and line) and run every example
    Check {
        /// Rule directory [default: --rules, else the embedded rules]
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Evaluations; each scores one part of the pipeline against labelled data.
#[derive(Subcommand)]
enum EvalCommand {
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
    /// Retrieval quality: recall@10, MRR, nDCG@10 and grouping precision/recall
    Search(EvalSearchArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
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
enum IndexCommand {
    /// Build the index from the feeds (rebuilds even when unchanged)
    Build,
    /// Write the demo world's feeds into <index>/feeds
    GenerateDemo,
    /// Replace one merchant's catalog in the index with a feed (JSON Lines, CSV or TSV)
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
enum ConvertFormat {
    /// Magento 2 sample-data CSVs (configurable products with size and colour variants)
    Magento,
}

#[derive(Args)]
struct EvalSearchArgs {
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

#[derive(Clone, Copy, clap::ValueEnum)]
enum EvalFormat {
    Pricerunner,
    Qrels,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RankerArg {
    Bm25,
    Full,
}

#[derive(Subcommand)]
enum MerchantCommand {
    /// Run the reference auto-responder for one catalog feed
    Serve {
        /// The catalog feed (ACP JSON Lines)
        #[arg(long)]
        feed: PathBuf,
        /// Port on 127.0.0.1 (0 picks a free one)
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Merchant id [default: the feed's file name]
        #[arg(long)]
        id: Option<String>,
        /// Shop name shown to shoppers [default: the id]
        #[arg(long)]
        name: Option<String>,
        /// Secret for X-Hub-Signature-256 [default: random, printed]
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
    /// Register a merchant's auto-responder: verifies the endpoint and issues its page access token
    Register {
        #[arg(long)]
        name: String,
        /// The merchant's webhook URL
        #[arg(long)]
        endpoint: String,
        /// The token the endpoint expects in hub.verify_token
        #[arg(long)]
        verify_token: String,
        /// The secret events are signed with [default: generated]
        #[arg(long)]
        app_secret: Option<String>,
        /// The merchant's catalog feed (ACP JSON Lines)
        #[arg(long)]
        feed: PathBuf,
        /// Allow an endpoint on loopback (for local testing)
        #[arg(long)]
        allow_loopback: bool,
    },
    /// List registered merchants
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a registered merchant
    Remove { id: String },
}

fn main() {
    // A closed pipe (`concierge ... | head`) ends the program quietly, and
    // anything unexpected is one line on stderr, not a trace.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown failure");
        if message.contains("Broken pipe") {
            std::process::exit(141);
        }
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "error: internal error{place}: {}",
            message.replace('\n', "; ")
        );
    }));
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            std::process::exit(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {}", format!("{error:#}").replace('\n', "; "));
            std::process::exit(1);
        }
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

async fn run(cli: Cli) -> anyhow::Result<i32> {
    let config = config_from(&cli.paths)?;
    match cli.command {
        Command::Demo { request, json } => {
            shop(
                &config,
                &request,
                ShopOptions {
                    pay: true,
                    ..Default::default()
                },
                json,
                true,
            )
            .await
        }
        Command::Serve {
            listen,
            demo,
            allow_loopback,
        } => serve(config, &listen, demo, allow_loopback).await,
        Command::Merchant {
            command:
                MerchantCommand::Register {
                    name,
                    endpoint,
                    verify_token,
                    app_secret,
                    feed,
                    allow_loopback,
                },
        } => {
            let mut config = config;
            config.allow_loopback |= allow_loopback;
            let text = std::fs::read_to_string(&feed)
                .with_context(|| format!("cannot read {}", feed.display()))?;
            let store = Store::open(&config.db_path)?;
            let registration = concierge::merchant::registry::Registration {
                name,
                endpoint,
                verify_token,
                app_secret,
                feed: text,
            };
            let transport = world::transport_for(&config);
            let record = concierge::merchant::registry::register(
                &store,
                &transport,
                &config.registered_feeds_dir(),
                &registration,
            )
            .await?;
            println!("Registered {} as {}", record.name, record.id);
            println!("  page id:           {}", record.page_id);
            println!("  page access token: {}", record.page_access_token);
            println!("  app secret:        {}", record.app_secret);
            Ok(0)
        }
        Command::Merchant {
            command: MerchantCommand::List { json },
        } => {
            let store = Store::open(&config.db_path)?;
            let merchants = store.merchants()?;
            if json {
                let views: Vec<serde_json::Value> = merchants.iter().map(|m| serde_json::json!({"id": m.id, "name": m.name, "endpoint": m.endpoint, "page_id": m.page_id})).collect();
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else if merchants.is_empty() {
                println!("No registered merchants; `concierge ask` uses the demo world.");
            } else {
                for merchant in merchants {
                    println!(
                        "{:<28} {:<28} {}",
                        merchant.id, merchant.name, merchant.endpoint
                    );
                }
            }
            Ok(0)
        }
        Command::Merchant {
            command: MerchantCommand::Remove { id },
        } => {
            let store = Store::open(&config.db_path)?;
            if !store.remove_merchant(&id)? {
                bail!("no registered merchant {id:?}");
            }
            println!("Removed {id}.");
            Ok(0)
        }
        Command::Ask {
            request,
            max_total,
            auto_pay,
            budget,
            json,
            server,
        } => {
            let max_total = max_total.map(|text| parse_amount(&text)).transpose()?;
            let budget = budget.map(|text| parse_amount(&text)).transpose()?;
            if let Some(server) = server {
                return ask_server(&server, &request, max_total, budget, auto_pay, json).await;
            }
            let interactive = !auto_pay && std::io::stdin().is_terminal();
            let options = ShopOptions {
                max_total,
                pay: auto_pay || interactive,
                confirm: interactive.then(confirm_on_terminal),
                budget,
                ..Default::default()
            };
            shop(&config, &request, options, json, false).await
        }
        Command::Index {
            command: IndexCommand::Build,
        } => {
            let rules = rules::load(&config.rules_dir)?;
            let started = Instant::now();
            let (catalogs, rejected) = world::load_catalogs(&config)?;
            for problem in &rejected {
                eprintln!("skipped: {problem}");
            }
            let (_, summary) = concierge::catalog::CatalogIndex::rebuild(
                &config.tantivy_dir(),
                &catalogs,
                &rules,
            )?;
            println!(
                "Indexed {} merchants, {} products, {} variants into {} in {} ms ({} rows rejected).",
                summary.merchants,
                summary.products,
                summary.variants,
                config.tantivy_dir().display(),
                started.elapsed().as_millis(),
                rejected.len()
            );
            Ok(0)
        }
        Command::Index {
            command: IndexCommand::GenerateDemo,
        } => {
            let feeds_dir = config.feeds_dir();
            std::fs::create_dir_all(&feeds_dir)
                .with_context(|| format!("cannot create {}", feeds_dir.display()))?;
            for (name, contents) in demo_world::feed_files() {
                let path = feeds_dir.join(&name);
                std::fs::write(&path, contents)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(0)
        }
        Command::Merchant {
            command:
                MerchantCommand::Serve {
                    feed,
                    port,
                    id,
                    name,
                    app_secret,
                    verify_token,
                    shipping,
                    wording,
                },
        } => {
            let read = concierge::catalog::feed::read_feed_file(&feed)?;
            for problem in &read.rejected {
                eprintln!("skipped: {problem}");
            }
            if read.products.is_empty() {
                bail!("{} has no usable products", feed.display());
            }
            let id = id.unwrap_or_else(|| {
                feed.file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "merchant".into())
            });
            let profile = concierge::catalog::MerchantProfile {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                feed: feed.display().to_string(),
                currency: "USD".into(),
                shipping,
                free_shipping_over: 0,
                tax_basis_points: 0,
            };
            let app_secret = app_secret.unwrap_or_else(|| random_token(16));
            let mut responder_config = ResponderConfig::new(profile, &app_secret);
            if let Some(token) = verify_token {
                responder_config.verify_token = token;
            }
            if let Some(path) = wording {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                responder_config.wording = toml::from_str::<Wording>(&text)
                    .with_context(|| format!("bad wording file {}", path.display()))?;
            }
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
            let address = listener.local_addr()?;
            println!(
                "Reference auto-responder for {} ({} products)",
                responder_config.profile.name,
                read.products.len()
            );
            println!("  webhook:      http://{address}/webhook");
            println!("  page id:      {}", responder_config.page_id);
            println!("  app secret:   {app_secret}");
            println!("  verify token: {}", responder_config.verify_token);
            println!("Ctrl-C stops it.");
            let responder = Responder::new(responder_config, read.products);
            server::serve(listener, responder, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Negotiate {
                    merchants,
                    hanging,
                    trickling,
                    deadline_ms,
                    repeat,
                },
        } => {
            let result = concierge::bench::negotiation(
                merchants,
                hanging,
                trickling,
                std::time::Duration::from_millis(deadline_ms),
                repeat,
            )
            .await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(0)
        }
        Command::Bench {
            command: BenchCommand::Payments { orders, duplicates },
        } => {
            let result = concierge::bench::payments(orders, duplicates).await?;
            println!("{}", serde_json::to_string_pretty(&result)?);
            Ok(
                if result.store_claims == orders && result.merchant_charges == orders {
                    0
                } else {
                    1
                },
            )
        }
        Command::Chat => chat(&config).await,
        Command::Parse { text } => {
            let parser = concierge::intent::Parser::new(Arc::new(rules::load(&config.rules_dir)?));
            println!(
                "{}",
                serde_json::to_string_pretty(&parser.parse_json(&text))?
            );
            Ok(0)
        }
        Command::Rules {
            command: RulesCommand::Check { dir },
        } => {
            let dir = dir.unwrap_or_else(|| config.rules_dir.clone());
            let report = if dir.is_dir() {
                rules::check(&dir)?
            } else {
                rules::check_sources(&rules::embedded_sources())
            };
            print!("{}", report.render());
            Ok(if report.is_ok() { 0 } else { 1 })
        }
        Command::Eval {
            command:
                EvalCommand::Intents {
                    data,
                    label_map,
                    splits,
                    json,
                    max_errors,
                },
        } => {
            let parser = concierge::intent::Parser::new(Arc::new(rules::load(&config.rules_dir)?));
            let report = concierge::eval::run_intents(
                &parser,
                &data,
                label_map.as_deref(),
                splits.as_deref(),
            )?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report.to_json())?);
            } else {
                print!("{}", report.render(max_errors));
            }
            Ok(0)
        }
        Command::Index {
            command:
                IndexCommand::Load {
                    merchant,
                    feed,
                    json,
                },
        } => {
            let rules = rules::load(&config.rules_dir)?;
            let (catalogs, rejected) = world::load_catalogs(&config)?;
            for problem in &rejected {
                eprintln!("skipped: {problem}");
            }
            let (index, _) = world::open_index(&config, &catalogs, &rules)?;
            let started = Instant::now();
            let read = concierge::catalog::feed::read_feed_file(&feed)?;
            for problem in &read.rejected {
                eprintln!("skipped: {problem}");
            }
            eprintln!(
                "Loading {} products for merchant {merchant} from {}",
                read.products.len(),
                feed.display()
            );
            let progress = progress_bar(read.products.len());
            let summary = index.load_merchant(
                &rules,
                &merchant,
                &read.products,
                read.rejected.len(),
                &mut |done| {
                    if let Some(bar) = &progress {
                        bar.set_position(done as u64);
                    }
                },
            )?;
            if let Some(bar) = progress {
                bar.finish_and_clear();
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!(
                    "Loaded {merchant} from {} in {} ms: {} added, {} updated, {} removed, {} rejected ({} variants).",
                    feed.display(),
                    started.elapsed().as_millis(),
                    summary.added,
                    summary.updated,
                    summary.removed,
                    summary.rejected,
                    summary.variants
                );
            }
            Ok(0)
        }
        Command::Index {
            command: IndexCommand::Stats { json },
        } => {
            let index = concierge::catalog::CatalogIndex::open(&config.tantivy_dir())
                .with_context(|| "no index yet; `concierge index build` makes one")?;
            let stats = index.stats()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print!("{}", stats.render(&config.tantivy_dir()));
            }
            Ok(0)
        }
        Command::Index {
            command: IndexCommand::Convert { format, data, out },
        } => {
            let converted = match format {
                ConvertFormat::Magento => concierge::catalog::magento::read_magento_dir(&data)?,
            };
            for problem in &converted.rejected {
                eprintln!("skipped: {problem}");
            }
            std::fs::write(
                &out,
                concierge::catalog::feed::to_jsonl(&converted.products),
            )
            .with_context(|| format!("cannot write {}", out.display()))?;
            let variants: usize = converted.products.iter().map(|p| p.variants.len()).sum();
            println!(
                "Wrote {} products ({variants} variants) to {} ({} rows skipped).",
                converted.products.len(),
                out.display(),
                converted.rejected.len()
            );
            Ok(0)
        }
        Command::Search { text, json } => {
            let rules = Arc::new(rules::load(&config.rules_dir)?);
            let (catalogs, rejected) = world::load_catalogs(&config)?;
            for problem in &rejected {
                eprintln!("skipped: {problem}");
            }
            let (index, _) = world::open_index(&config, &catalogs, &rules)?;
            let intent = concierge::intent::Parser::new(rules).parse(&text);
            let queries = concierge::catalog::search::queries_for_request(&intent);
            let mut results = Vec::new();
            for query in &queries {
                results.push(index.search(query)?);
            }
            if json {
                let body: Vec<serde_json::Value> = queries
                    .iter()
                    .zip(&results)
                    .map(|(query, results)| serde_json::json!({"query": query, "results": results}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"intent": intent, "searches": body})
                    )?
                );
            } else {
                for (query, results) in queries.iter().zip(&results) {
                    println!("== {}", query.describe());
                    print!("{}", results.render());
                }
            }
            Ok(if results.iter().all(|r| r.offers.is_empty()) {
                3
            } else {
                0
            })
        }
        Command::Eval {
            command: EvalCommand::Search(args),
        } => {
            use concierge::catalog::eval;
            let rules = rules::load(&config.rules_dir)?;
            let set = match args.format {
                EvalFormat::Pricerunner => eval::read_pricerunner(&args.data)?,
                EvalFormat::Qrels => eval::read_qrels_dir(&args.data)?,
            };
            for problem in set.rejected.iter().take(20) {
                eprintln!("skipped: {problem}");
            }
            let ranker = match args.ranker {
                RankerArg::Bm25 => concierge::catalog::search::Ranker::Bm25,
                RankerArg::Full => concierge::catalog::search::Ranker::Full,
            };
            let work_dir = scratch_dir("eval")?;
            let report = eval::evaluate(&set, ranker, &rules, &work_dir);
            let _ = std::fs::remove_dir_all(&work_dir);
            let report = report?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{}", report.render(args.show));
            }
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Search {
                    products,
                    queries,
                    no_fts5,
                    work_dir,
                    json,
                },
        } => {
            let rules = Arc::new(rules::load(&config.rules_dir)?);
            let owned = work_dir.is_none();
            let work_dir = match work_dir {
                Some(dir) => dir,
                None => scratch_dir("bench")?,
            };
            let options = concierge::catalog::bench::BenchOptions {
                products,
                queries,
                fts5: !no_fts5,
            };
            let report = concierge::catalog::bench::run(&options, rules, &work_dir, &mut |line| {
                if !json {
                    eprintln!("{line}");
                }
            });
            if owned {
                let _ = std::fs::remove_dir_all(&work_dir);
            }
            let report = report?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render());
            }
            Ok(0)
        }
        Command::Orders { json } => {
            let store = Store::open(&config.db_path)?;
            let orders = store.orders()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&orders)?);
            } else if orders.is_empty() {
                println!("No orders yet in {}.", config.db_path.display());
            } else {
                println!(
                    "{:>4}  {:<20}  {:<24}  {:<36}  {:<16}  {:>3}  {:>9}  status",
                    "#", "order", "merchant", "product", "variant", "qty", "total"
                );
                for order in orders {
                    let total = concierge::money::Money::new(order.total, order.currency.clone());
                    println!(
                        "{:>4}  {:<20}  {:<24}  {:<36}  {:<16}  {:>3}  {:>9}  {}",
                        order.id,
                        order.order_number,
                        order.merchant_name,
                        order.product_title,
                        order.variant,
                        order.quantity,
                        total.to_string(),
                        order.status
                    );
                }
            }
            Ok(0)
        }
    }
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

/// Runs one request against the demo world's merchants and prints the
/// report. Exit code 0 when the request was understood, 2 when not.
/// The shop `ask`, `chat` and `demo` use: the registered merchants when
/// there are any (unless `demo_only`), else the demo world's merchants,
/// started here on loopback. Returns the running merchants to stop later.
async fn open_shop(
    config: &Config,
    demo_only: bool,
    announce: bool,
) -> anyhow::Result<(Arc<Shop>, Running, Config)> {
    let started = Instant::now();
    let rules = Arc::new(rules::load(&config.rules_dir)?);
    let store = Arc::new(Store::open(&config.db_path)?);
    if !demo_only && !store.merchants()?.is_empty() {
        // Registered bots may answer through the Send API, so this
        // process serves it (at CONCIERGE_LISTEN, default 127.0.0.1:8700)
        // while it shops.
        let state = concierge::server::ServerState::new(config.clone(), rules, store, Vec::new())?;
        let listen =
            std::env::var("CONCIERGE_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_string());
        let server = match tokio::net::TcpListener::bind(&listen).await {
            Ok(listener) => {
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let serving = state.clone();
                let task = tokio::spawn(async move {
                    let _ = concierge::server::run(listener, serving, async {
                        let _ = stopped.await;
                    })
                    .await;
                });
                Some((stop, task))
            }
            Err(error) => {
                eprintln!("note: cannot listen on {listen} ({error}); merchants that reply through the Send API will not be heard (use --server with a running `concierge serve`)");
                None
            }
        };
        return Ok((
            state.shop(),
            Running {
                merchants: Vec::new(),
                server,
            },
            config.clone(),
        ));
    }
    // The demo world's merchants run on loopback, by this explicit choice.
    let mut config = config.clone();
    config.allow_loopback = true;
    let (catalogs, rejected) = world::load_catalogs(&config)?;
    for problem in &rejected {
        eprintln!("skipped: {problem}");
    }
    let rules = Arc::new(world::with_catalog_terms((*rules).clone(), &catalogs));
    let (index, summary) = world::open_index(&config, &catalogs, &rules)?;
    if announce {
        println!(
            "Index: {} {} merchants, {} products, {} variants under {} ({} ms)",
            if summary.rebuilt { "built" } else { "reused" },
            summary.merchants,
            summary.products,
            summary.variants,
            config.tantivy_dir().display(),
            started.elapsed().as_millis()
        );
    }
    let merchants = world::start_reference_merchants(&catalogs).await?;
    if announce {
        let addresses: Vec<String> = merchants
            .iter()
            .map(|m| format!("{} at {}", m.endpoint.name, m.endpoint.webhook_url))
            .collect();
        println!("Merchants' auto-responders: {}\n", addresses.join(", "));
    }
    let endpoints = merchants.iter().map(|m| m.endpoint.clone()).collect();
    let shop = world::build_shop(&config, rules, Arc::new(index), endpoints, store);
    Ok((
        Arc::new(shop),
        Running {
            merchants,
            server: None,
        },
        config,
    ))
}

/// What `open_shop` started: the demo world's merchants, or the Send API
/// server for registered ones.
struct Running {
    merchants: Vec<RunningMerchant>,
    server: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

impl Running {
    async fn stop(self) {
        for merchant in self.merchants {
            merchant.stop().await;
        }
        if let Some((stop, task)) = self.server {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// Runs one request and prints the report. `demo` announces the world and
/// the time taken, and always uses the demo world.
async fn shop(
    config: &Config,
    request: &str,
    options: ShopOptions,
    json: bool,
    demo: bool,
) -> anyhow::Result<i32> {
    let started = Instant::now();
    let (shop, running, config) = open_shop(config, demo, demo && !json).await?;
    let report: ShopReport = shop.shop(request, &options).await?;
    running.stop().await;
    let code = print_report(&config, &report, json)?;
    if demo && !json {
        println!("\nDone in {} ms.", started.elapsed().as_millis());
    }
    Ok(code)
}

/// Asks on the terminal before paying; only "y" or "yes" pays.
fn confirm_on_terminal() -> concierge::negotiate::orchestrate::ConfirmPayment {
    Arc::new(|choice: &concierge::negotiate::orchestrate::Choice| {
        print!(
            "Pay {} to {} for {}? [y/N] > ",
            choice.total, choice.merchant_name, choice.order_number
        );
        let _ = std::io::stdout().flush();
        matches!(
            read_line().map(|a| a.to_lowercase()).as_deref(),
            Some("y" | "yes")
        )
    })
}

/// One line from standard input, trimmed; `None` at end of input.
fn read_line() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()),
    }
}

/// `concierge chat`: one request per line; merchants' open questions and
/// payments are put to the shopper.
async fn chat(config: &Config) -> anyhow::Result<i32> {
    let (shop, running, config) = open_shop(config, false, false).await?;
    println!("Concierge chat: say what you want (\"buy me a gray turtleneck sweater under $50\"); \"quit\" ends.");
    let choose: concierge::negotiate::orchestrate::ChooseOption = Arc::new(
        |question: &concierge::negotiate::orchestrate::ChoiceQuestion| {
            print!(
                "{} asks: which {}? {} > ",
                question.merchant_name,
                question.slot,
                question.options.join(" / ")
            );
            let _ = std::io::stdout().flush();
            read_line()
        },
    );
    let confirm = confirm_on_terminal();
    loop {
        print!("you> ");
        let _ = std::io::stdout().flush();
        let Some(line) = read_line() else { break };
        if line.is_empty() {
            continue;
        }
        if matches!(line.to_lowercase().as_str(), "quit" | "exit" | "bye") {
            break;
        }
        let options = ShopOptions {
            max_total: None,
            pay: true,
            confirm: Some(confirm.clone()),
            choose: Some(choose.clone()),
            ..Default::default()
        };
        let report = shop.shop(&line, &options).await?;
        println!();
        print_report(&config, &report, false)?;
    }
    running.stop().await;
    println!("Bye.");
    Ok(0)
}

/// Prints a report; exit code 2 when the request was not understood.
fn print_report(config: &Config, report: &ShopReport, json: bool) -> anyhow::Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{}", report.render());
        if report.receipt.is_some() || report.basket.iter().any(|item| item.receipt.is_some()) {
            println!(
                "Recorded in {}; `concierge orders` lists it.",
                config.db_path.display()
            );
        }
    }
    Ok(
        if report.intent.intent == concierge::intent::IntentKind::None {
            2
        } else {
            0
        },
    )
}

/// `ask --server URL`: the same request through a running server.
async fn ask_server(
    server: &str,
    request: &str,
    max_total: Option<i64>,
    budget: Option<i64>,
    auto_pay: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let body = concierge::server::ShopRequest {
        text: request.to_string(),
        mandate: max_total.map(|max_total| concierge::server::MandateRequest {
            max_total,
            budget,
            ..Default::default()
        }),
        auto_pay,
        wait: true,
    };
    let url = format!("{}/v1/requests", server.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .post(&url)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("the server answered {status}: {text}");
    }
    let report: ShopReport =
        serde_json::from_str(&text).context("the server's answer is not a report")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(
        if report.intent.intent == concierge::intent::IntentKind::None {
            2
        } else {
            0
        },
    )
}

/// `concierge serve`: the HTTP API until Ctrl-C.
async fn serve(
    mut config: Config,
    listen: &str,
    demo: bool,
    allow_loopback: bool,
) -> anyhow::Result<i32> {
    config.allow_loopback |= allow_loopback || demo;
    let rules = Arc::new(rules::load(&config.rules_dir)?);
    let store = Arc::new(Store::open(&config.db_path)?);
    let mut demo_merchants = Vec::new();
    let mut fixed = Vec::new();
    if demo {
        let (catalogs, _) = world::load_catalogs(&config)?;
        demo_merchants = world::start_reference_merchants(&catalogs).await?;
        fixed = catalogs
            .into_iter()
            .zip(demo_merchants.iter().map(|m| m.endpoint.clone()))
            .collect();
    }
    let state = concierge::server::ServerState::new(config, rules, store, fixed)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!("Concierge API on http://{}  (POST /v1/requests, /v1/merchants; Send API at /v19.0/me/messages)", listener.local_addr()?);
    concierge::server::run(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    for merchant in demo_merchants {
        merchant.stop().await;
    }
    Ok(0)
}
