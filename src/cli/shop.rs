//! Shopping commands: `demo`, `ask`, `chat` and `serve`.
//!
//! `ask` and `chat` shop with the merchants registered in the store, over
//! the catalog of record, unless `--demo` asks for the demo world. While
//! they shop they serve the Send API (registered bots answer through it);
//! when a `concierge serve` already listens there, `ask` sends the request
//! to it instead, so conversations outlive the command.

use super::{read_line, DEFAULT_LISTEN};
use anyhow::{bail, Context};
use concierge::config::Config;
use concierge::negotiate::orchestrate::{ChoiceQuestion, ChooseOption, ConfirmPayment};
use concierge::negotiate::{Outcome, Shop, ShopOptions, ShopReport};
use concierge::order::Store;
use concierge::world::{self, RunningMerchant};
use concierge::{rules, server};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest a standalone `ask` keeps serving the Send API after shopping,
/// for merchants' last messages (a receipt after payment, a survey).
const MAX_LINGER: Duration = Duration::from_secs(5);

/// `concierge ask`'s arguments.
pub struct Ask {
    pub request: String,
    pub demo: bool,
    pub max_total: Option<i64>,
    pub budget: Option<i64>,
    pub auto_pay: bool,
    pub json: bool,
    pub server: Option<String>,
    /// The API key for `server`.
    pub api_key: Option<String>,
}

/// `concierge demo`: the whole job on the demo world, narrated.
pub async fn demo(config: &Config, request: &str, json: bool) -> anyhow::Result<i32> {
    let started = Instant::now();
    let options = ShopOptions {
        pay: true,
        ..Default::default()
    };
    let opened = open_demo(config, !json).await?;
    let report = opened.shop.shop(request, &options).await?;
    opened.running.stop().await;
    let code = print_report(&opened.config, &report, json)?;
    if !json {
        println!("\nDone in {} ms.", started.elapsed().as_millis());
    }
    Ok(code)
}

/// `concierge ask`.
pub async fn ask(config: &Config, ask: Ask) -> anyhow::Result<i32> {
    if let Some(server) = &ask.server {
        return ask_server(server, &ask).await;
    }
    let interactive = !ask.auto_pay && std::io::stdin().is_terminal();
    let options = ShopOptions {
        max_total: ask.max_total,
        pay: ask.auto_pay || interactive,
        confirm: interactive.then(confirm_on_terminal),
        budget: ask.budget,
        request_is_order: ask.auto_pay,
        ..Default::default()
    };
    let opened = if ask.demo {
        open_demo(config, false).await?
    } else {
        match open_registered(config).await? {
            Registered::Open(opened) => *opened,
            Registered::Elsewhere(url) => {
                eprintln!(
                    "note: a Concierge server is running at {url}; the request goes to it (its merchants, its store)"
                );
                if ask.api_key.is_some() {
                    return ask_server(&url, &ask).await;
                }
                return ask_server_as_operator(config, &url, ask).await;
            }
            Registered::NoMerchants(code) => return Ok(code),
        }
    };
    let report = opened.shop.shop(&ask.request, &options).await?;
    opened.running.stop().await;
    print_report(&opened.config, &report, ask.json)
}

/// `concierge payments reconcile`: settles the registered merchants'
/// payments whose answer never came, serving the Send API meanwhile.
pub async fn reconcile(
    config: &Config,
    untouched_for: Duration,
    json: bool,
) -> anyhow::Result<i32> {
    let opened = match open_registered(config).await? {
        Registered::Open(opened) => *opened,
        Registered::Elsewhere(url) => {
            bail!("a Concierge server is running at {url}; it reconciles payments every minute on its own (`concierge payments` shows them)")
        }
        Registered::NoMerchants(code) => return Ok(code),
    };
    let done = opened.shop.reconcile_payments(untouched_for).await;
    opened.running.stop().await;
    let done = done?;
    if json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        for note in &done.notes {
            println!("{note}");
        }
        println!(
            "{} open: {} confirmed, {} closed, {} still open.",
            done.open, done.confirmed, done.closed, done.still_open
        );
    }
    Ok(if done.still_open == 0 { 0 } else { 1 })
}

/// `concierge chat`: one request per line; merchants' open questions and
/// payments are put to the shopper.
pub async fn chat(config: &Config, demo: bool) -> anyhow::Result<i32> {
    let opened = if demo {
        open_demo(config, false).await?
    } else {
        match open_registered(config).await? {
            Registered::Open(opened) => *opened,
            Registered::Elsewhere(url) => {
                bail!("a Concierge server is running at {url}; chat with it on its web page ({url}/), or stop it to chat here")
            }
            Registered::NoMerchants(code) => return Ok(code),
        }
    };
    println!("Concierge chat: say what you want (\"buy me a gray turtleneck sweater under $50\"); \"quit\" ends.");
    let choose: ChooseOption = Arc::new(|question: &ChoiceQuestion| {
        print!(
            "{} asks: which {}? {} > ",
            question.merchant_name,
            question.slot,
            question.options.join(" / ")
        );
        let _ = std::io::stdout().flush();
        read_line()
    });
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
        let report = opened.shop.shop(&line, &options).await?;
        println!();
        print_report(&opened.config, &report, false)?;
    }
    opened.running.stop().await;
    println!("Bye.");
    Ok(0)
}

/// `concierge serve`: the HTTP API until Ctrl-C.
pub async fn serve(
    config: Config,
    listen: &str,
    demo: bool,
    allow_loopback: bool,
) -> anyhow::Result<i32> {
    let store = Arc::new(Store::open(&config.db_path)?);
    if allow_loopback {
        store.set_allow_loopback(true)?;
        eprintln!("Loopback merchant endpoints are now allowed in this deployment (`concierge settings allow-loopback off` undoes it).");
    }
    let config = config.with_deployment(&store)?;
    let rules = Arc::new(rules::load(&config.rules_dir)?);
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
    let first_key = concierge::server::auth::first_operator_key(&store)?;
    let state = server::ServerState::new(config, rules, store, fixed)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let address = listener.local_addr()?;
    println!("Concierge API on http://{address}  (POST /v1/requests, /v1/merchants; Send API at /v19.0/me/messages)");
    match first_key {
        Some(key) => {
            println!("An operator API key was made for this deployment; it is shown only now:");
            println!("    {}", key.secret);
            println!(
                "  API: send `Authorization: Bearer <key>`.  Web page: http://{address}/#key={}",
                key.secret
            );
            println!("  Make keys for shoppers with `concierge keys create --scope shopper --subject NAME`.");
        }
        None => println!(
            "Every /v1 route needs an API key (`concierge keys list`, `concierge keys create`)."
        ),
    }
    let reconciling = tokio::spawn(server::reconcile_payments_every(
        state.clone(),
        Duration::from_secs(60),
    ));
    server::run(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    reconciling.abort();
    for merchant in demo_merchants {
        merchant.stop().await;
    }
    Ok(0)
}

/// A shop ready for requests, with what was started for it.
struct Opened {
    shop: Arc<Shop>,
    running: Running,
    config: Config,
}

/// What opening the registered merchants' shop found.
enum Registered {
    Open(Box<Opened>),
    /// A Concierge server already serves the Send API at this URL.
    Elsewhere(String),
    /// No merchant is registered; the exit code after saying so.
    NoMerchants(i32),
}

/// The shop over the catalog of record and the registered merchants, with
/// the Send API served here while it shops.
async fn open_registered(config: &Config) -> anyhow::Result<Registered> {
    let store = Arc::new(Store::open(&config.db_path)?);
    let config = config.clone().with_deployment(&store)?;
    if store.merchants()?.is_empty() {
        eprintln!(
            "No merchant is registered in {}: register one with `concierge merchant register` (README, \"For merchants\"), or shop in the demo world with --demo.",
            config.db_path.display()
        );
        return Ok(Registered::NoMerchants(Outcome::NothingFound.exit_code()));
    }
    let listen = std::env::var("CONCIERGE_LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_string());
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => Some(listener),
        Err(error) => {
            let url = format!("http://{listen}");
            if concierge_is_serving(&url).await {
                return Ok(Registered::Elsewhere(url));
            }
            eprintln!("note: cannot listen on {listen} ({error}); merchants that reply through the Send API will not be heard (set CONCIERGE_LISTEN, or use --server with a running `concierge serve`)");
            None
        }
    };
    let rules = rules::load(&config.rules_dir)?;
    let transport = world::transport_for(&config);
    let (shop, _) = world::registered_shop(&config, &rules, store.clone(), transport.clone())?;
    let shop = Arc::new(shop);
    let server = listener.map(|listener| {
        let serving = shop.clone();
        let send_api = server::send_api::SendApi::new(
            store,
            transport.clone(),
            Arc::new(move || serving.clone()),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = server::serve_router(
                listener,
                server::send_api::routes(send_api),
                async {
                    let _ = stopped.await;
                },
                server::ConnectionLimits::default(),
            )
            .await;
        });
        (stop, task)
    });
    Ok(Registered::Open(Box::new(Opened {
        shop,
        running: Running {
            merchants: Vec::new(),
            server,
            send_api: Some(transport),
        },
        config,
    })))
}

/// Whether a Concierge server answers at `url`.
async fn concierge_is_serving(url: &str) -> bool {
    let client = concierge::http::client_builder()
        .timeout(Duration::from_secs(2))
        .build();
    let Ok(client) = client else { return false };
    match client.get(format!("{url}/healthz")).send().await {
        Ok(response) => response.text().await.is_ok_and(|body| body.trim() == "ok"),
        Err(_) => false,
    }
}

/// The demo world: its merchants' reference responders started here on
/// loopback, over the demo world's own index.
async fn open_demo(config: &Config, announce: bool) -> anyhow::Result<Opened> {
    let started = Instant::now();
    // The demo world's merchants run on loopback; their endpoints say they
    // are served here, which is all the transport lets onto loopback.
    let config = config.clone();
    let rules = rules::load(&config.rules_dir)?;
    let store = Arc::new(Store::open(&config.db_path)?);
    let (catalogs, rejected) = world::load_catalogs(&config)?;
    for problem in &rejected {
        eprintln!("skipped: {problem}");
    }
    let rules = Arc::new(world::with_catalog_terms(rules, &catalogs));
    let (index, summary) = world::open_index(&config, &catalogs, &rules)?;
    if announce {
        println!(
            "Index: {} {} merchants, {} products, {} variants under {} ({} ms)",
            if summary.rebuilt { "built" } else { "reused" },
            summary.merchants,
            summary.products,
            summary.variants,
            config.demo_index_dir().display(),
            started.elapsed().as_millis()
        );
    }
    let merchants = world::start_reference_merchants(&catalogs).await?;
    if announce {
        let addresses: Vec<String> = merchants
            .iter()
            .map(|m| {
                format!(
                    "{} ({}) at {}",
                    m.endpoint.name, m.endpoint.protocol, m.endpoint.url
                )
            })
            .collect();
        println!("Merchants: {}\n", addresses.join(", "));
    }
    let endpoints = merchants.iter().map(|m| m.endpoint.clone()).collect();
    let shop = world::build_shop(&config, rules, Arc::new(index), endpoints, store);
    Ok(Opened {
        shop: Arc::new(shop),
        running: Running {
            merchants,
            server: None,
            send_api: None,
        },
        config,
    })
}

/// What was started to shop: the demo world's merchants, or the Send API
/// server for registered ones.
struct Running {
    merchants: Vec<RunningMerchant>,
    server: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
    /// The transport whose Send API mailboxes the server delivers into.
    send_api: Option<concierge::negotiate::Transport>,
}

impl Running {
    /// Stops what was started. The Send API stays up a little while
    /// merchants are still talking (at most [`MAX_LINGER`]), so their last
    /// messages are kept rather than refused.
    async fn stop(self) {
        for merchant in self.merchants {
            merchant.stop().await;
        }
        if let Some(transport) = &self.send_api {
            let quiet = transport.timing().quiet;
            let mailboxes = transport.mailboxes();
            let started = Instant::now();
            while started.elapsed() < MAX_LINGER
                && mailboxes
                    .quiet_for_ms()
                    .is_some_and(|ms| ms < quiet.as_millis() as i64)
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if let Some((stop, task)) = self.server {
            let _ = stop.send(());
            let _ = task.await;
        }
    }
}

/// Asks on the terminal before paying; only "y" or "yes" pays.
fn confirm_on_terminal() -> ConfirmPayment {
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

/// Prints a report; the exit code is its outcome's.
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
    Ok(report.outcome.exit_code())
}

/// `ask` with a server running beside it and no key given: whoever can
/// open the store is its operator, so a key is made for this one request
/// and revoked after it. A server on another store refuses it, and the
/// error says to pass `--api-key`.
async fn ask_server_as_operator(config: &Config, url: &str, ask: Ask) -> anyhow::Result<i32> {
    let store = Store::open(&config.db_path)?;
    let key = concierge::server::auth::create_key(
        &store,
        concierge::server::auth::Scope::Operator,
        "operator",
        "concierge ask (revoked after use)",
    )?;
    let asked = ask_server(
        url,
        &Ask {
            api_key: Some(key.secret.clone()),
            ..ask
        },
    )
    .await;
    store.revoke_api_key(&key.record.id)?;
    asked.map_err(|error| {
        if error.to_string().contains("invalid_api_key") {
            error.context("that server keeps another store: pass its key with --api-key (or CONCIERGE_API_KEY)")
        } else {
            error
        }
    })
}

/// `ask --server URL`: the same request through a running server.
async fn ask_server(server: &str, ask: &Ask) -> anyhow::Result<i32> {
    let body = concierge::server::ShopRequest {
        text: ask.request.clone(),
        mandate: ask
            .max_total
            .map(|max_total| concierge::server::MandateRequest {
                max_total,
                budget: ask.budget,
                ..Default::default()
            }),
        auto_pay: ask.auto_pay,
        wait: true,
    };
    let base = server.trim_end_matches('/');
    let url = format!("{base}/v1/requests");
    let mut request = concierge::http::client().post(&url).json(&body);
    if let Some(key) = &ask.api_key {
        request = request.bearer_auth(key);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let text = response.text().await?;
    if status == reqwest::StatusCode::UNAUTHORIZED {
        bail!("the server at {base} needs an API key: pass --api-key KEY or set CONCIERGE_API_KEY (`concierge keys create` makes one where the server's store is); it answered {text}");
    }
    if !status.is_success() {
        bail!("the server answered {status}: {text}");
    }
    // The server has done the job by now: an answer this binary cannot
    // read (another version) must not hide a purchase.
    let report: ShopReport = serde_json::from_str(&text).with_context(|| {
        format!(
            "the server at {base} answered with a report this concierge cannot read (another version?); the request was carried out there: GET {base}/v1/orders lists what it bought"
        )
    })?;
    if ask.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render());
    }
    Ok(report.outcome.exit_code())
}
