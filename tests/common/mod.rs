//! Shared test fixtures: small catalogs the tests write themselves, a world
//! of reference auto-responders on loopback, and misbehaving merchants.
#![allow(dead_code)]

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use concierge::catalog::feed::{
    Availability, Barcode, FeedPrice, FeedProduct, FeedVariant, VariantOption,
};
use concierge::catalog::{MerchantCatalog, MerchantProfile};
use concierge::config::Config;
use concierge::merchant::messenger::wire::{
    Attachment, Button, OutgoingMessage, ReceiptElement, ReceiptSummary, ReceiptTemplate,
    SendRequest, SyncReply, Template, WebhookEvent,
};
use concierge::negotiate::{MerchantEndpoint, Shop};
use concierge::order::Store;
use concierge::rules::CompiledRules;
use concierge::world::{self, RunningMerchant};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

pub fn rules() -> Arc<CompiledRules> {
    Arc::new(CompiledRules::embedded().expect("embedded rules compile"))
}

pub fn profile(id: &str, name: &str, shipping: i64, tax_basis_points: i64) -> MerchantProfile {
    MerchantProfile {
        id: id.into(),
        name: name.into(),
        feed: format!("{id}.jsonl"),
        currency: "USD".into(),
        shipping,
        free_shipping_over: 0,
        tax_basis_points,
        protocol: "messenger".into(),
    }
}

/// A turtleneck in `colors` × S/M/L at `price` cents; `out_of_stock` lists
/// (colour, size) pairs not available.
pub fn turtleneck(
    id: &str,
    title: &str,
    price: i64,
    colors: &[&str],
    out_of_stock: &[(&str, &str)],
) -> FeedProduct {
    let mut variants = Vec::new();
    for color in colors {
        for size in ["S", "M", "L"] {
            let available = !out_of_stock.contains(&(color, size));
            variants.push(FeedVariant {
                id: format!("{id}-{}-{size}", color.to_uppercase().replace(' ', "")),
                title: format!("{title} - {color} / {size}"),
                price: FeedPrice {
                    amount: price,
                    currency: "USD".into(),
                },
                availability: Availability::from_stock(available),
                variant_options: vec![
                    VariantOption {
                        name: "Size".into(),
                        value: size.into(),
                    },
                    VariantOption {
                        name: "Color".into(),
                        value: color.to_string(),
                    },
                ],
                barcodes: vec![Barcode {
                    kind: "gtin".into(),
                    value: format!("{id}-{color}-{size}"),
                }],
            });
        }
    }
    FeedProduct {
        gender: None,
        age_group: None,
        material: None,
        id: id.into(),
        title: title.into(),
        description: "A warm turtleneck sweater.".into(),
        url: format!("https://shop.example/{id}"),
        brand: "Testbrand".into(),
        categories: vec!["Apparel".into(), "Sweaters".into()],
        variants,
    }
}

pub fn socks(id: &str, price: i64) -> FeedProduct {
    let mut product = turtleneck(id, "Wool Socks", price, &["Gray", "Black"], &[]);
    product.categories = vec!["Accessories".into()];
    product.description = "Warm wool socks.".into();
    product
}

/// Three merchants for the default request ("buy me a gray turtleneck
/// sweater in medium under $50"):
/// - alpha: $45.00 + $4.00 shipping = $49.00 (valid)
/// - beta:  $42.00 + $5.00 shipping = $47.00 (valid, cheapest)
/// - gamma: $48.00 + $6.00 shipping + 8.25% tax = $57.96 (over budget)
pub fn small_catalogs() -> Vec<MerchantCatalog> {
    vec![
        MerchantCatalog {
            profile: profile("alpha", "Alpha Knits", 400, 0),
            products: vec![
                turtleneck(
                    "A-100",
                    "Classic Turtleneck Sweater",
                    4500,
                    &["Gray", "Navy"],
                    &[],
                ),
                socks("A-200", 900),
            ],
        },
        MerchantCatalog {
            profile: profile("beta", "Beta Basics", 500, 0),
            products: vec![turtleneck(
                "B-100",
                "Classic Turtleneck Sweater",
                4200,
                &["Gray", "Heather Grey", "Black"],
                &[("Black", "M")],
            )],
        },
        MerchantCatalog {
            profile: profile("gamma", "Gamma Goods", 600, 825),
            products: vec![turtleneck(
                "G-100",
                "Ribbed Turtleneck Sweater",
                4800,
                &["Gray"],
                &[],
            )],
        },
    ]
}

pub struct TestWorld {
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub shop: Shop,
    pub merchants: Vec<RunningMerchant>,
}

impl TestWorld {
    /// Indexes `catalogs` in a temporary directory, starts a reference
    /// auto-responder for each catalog whose id is not in `custom`, and
    /// uses the given endpoints for those that are.
    pub async fn start(
        catalogs: Vec<MerchantCatalog>,
        custom: Vec<MerchantEndpoint>,
        tune: impl FnOnce(&mut Config),
    ) -> TestWorld {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            index_dir: dir.path().join("index"),
            db_path: dir.path().join("concierge.db"),
            turn_timeout: Duration::from_secs(3),
            negotiation_deadline: Duration::from_secs(5),
            allow_loopback: true,
            ..Config::default()
        };
        tune(&mut config);
        let rules = Arc::new(world::with_catalog_terms((*rules()).clone(), &catalogs));
        let (index, _) = world::open_index(&config, &catalogs, &rules).unwrap();
        let served: Vec<MerchantCatalog> = catalogs
            .iter()
            .filter(|c| !custom.iter().any(|e| e.merchant_id == c.profile.id))
            .cloned()
            .collect();
        let merchants = world::start_reference_merchants(&served).await.unwrap();
        let mut endpoints: Vec<MerchantEndpoint> =
            merchants.iter().map(|m| m.endpoint.clone()).collect();
        endpoints.extend(custom);
        let store = Arc::new(Store::open(&config.db_path).unwrap());
        let shop = world::build_shop(&config, rules, Arc::new(index), endpoints, store);
        TestWorld {
            dir,
            config,
            shop,
            merchants,
        }
    }

    pub fn merchant(&self, id: &str) -> &RunningMerchant {
        self.merchants
            .iter()
            .find(|m| m.endpoint.merchant_id == id)
            .unwrap()
    }

    pub async fn stop(self) -> tempfile::TempDir {
        for merchant in self.merchants {
            merchant.stop().await;
        }
        self.dir
    }
}

/// Serves `router` on a loopback port; returns its webhook URL.
/// A configuration with its index and store under `dir`, merchants
/// allowed on loopback.
pub fn local_config(dir: &std::path::Path) -> Config {
    Config {
        index_dir: dir.join("index"),
        db_path: dir.join("concierge.db"),
        allow_loopback: true,
        ..Config::default()
    }
}

/// Concierge's HTTP server on a loopback port, with its store at
/// `config.db_path` and `fixed` merchants (the demo world's kind) beside the
/// catalog of record. Returns its base URL and state.
pub async fn serve_concierge(
    config: Config,
    fixed: Vec<(MerchantCatalog, MerchantEndpoint)>,
) -> (String, Arc<concierge::server::ServerState>) {
    let store = Arc::new(Store::open(&config.db_path).unwrap());
    let state = concierge::server::ServerState::new(config, rules(), store, fixed).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let serving = state.clone();
    tokio::spawn(async move {
        let _ = concierge::server::run(listener, serving, std::future::pending()).await;
    });
    (base, state)
}

/// Concierge's HTTP server with the small world's reference merchants
/// ([`small_catalogs`]) served beside it, as `serve --demo` serves the demo
/// world's; the merchants are returned to be stopped.
pub async fn serve_concierge_with_small_world(
    config: Config,
) -> (
    String,
    Arc<concierge::server::ServerState>,
    Vec<RunningMerchant>,
) {
    let catalogs = small_catalogs();
    let merchants = world::start_reference_merchants(&catalogs).await.unwrap();
    let fixed = catalogs
        .into_iter()
        .zip(merchants.iter().map(|m| m.endpoint.clone()))
        .collect();
    let (base, state) = serve_concierge(config, fixed).await;
    (base, state, merchants)
}

/// An HTTP client that presents a new API key of `scope` for `subject` on
/// every request to `state`'s server.
pub fn client_with_key(
    state: &concierge::server::ServerState,
    scope: concierge::server::auth::Scope,
    subject: &str,
) -> reqwest::Client {
    let key = concierge::server::auth::create_key(state.store(), scope, subject, "test").unwrap();
    client_with_secret(&key.secret)
}

/// An HTTP client that presents `secret` as its bearer API key.
pub fn client_with_secret(secret: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {secret}").parse().unwrap(),
    );
    concierge::http::client_builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// A client with the operator's key for `state`'s server.
pub fn operator_client(state: &concierge::server::ServerState) -> reqwest::Client {
    client_with_key(state, concierge::server::auth::Scope::Operator, "operator")
}

pub async fn serve_router(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}/webhook")
}

pub fn endpoint(id: &str, name: &str, url: String) -> MerchantEndpoint {
    MerchantEndpoint {
        merchant_id: id.into(),
        name: name.into(),
        protocol: "messenger".into(),
        url,
        app_secret: "test-secret".into(),
        page_id: format!("page-{id}"),
        served_here: false,
        live_catalog: false,
    }
}

/// A merchant that accepts connections and never answers.
pub async fn hanging_merchant(id: &str) -> MerchantEndpoint {
    let router = Router::new().route(
        "/webhook",
        post(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        }),
    );
    endpoint(id, "Hanging Store", serve_router(router).await)
}

/// Counts Pay postbacks a bot received.
#[derive(Default)]
pub struct PayCounter {
    pub pays: AtomicUsize,
}

/// A bot that answers the first message straight away with an invoice for
/// `subtitle` ("Red / M") at `price` + `shipping`, and counts Pay taps.
pub async fn invoicing_bot(
    id: &str,
    title: &str,
    subtitle: &str,
    price: f64,
    shipping: f64,
    counter: Arc<PayCounter>,
) -> MerchantEndpoint {
    #[derive(Clone)]
    struct Bot {
        title: String,
        subtitle: String,
        price: f64,
        shipping: f64,
        counter: Arc<PayCounter>,
    }
    async fn handle(State(bot): State<Bot>, body: Bytes) -> Json<SyncReply> {
        let event: WebhookEvent = serde_json::from_slice(&body).unwrap();
        let messaging = &event.entry[0].messaging[0];
        let psid = messaging.sender.id.clone();
        let reply = |message: OutgoingMessage| SendRequest {
            recipient: concierge::merchant::messenger::wire::Id { id: psid.clone() },
            messaging_type: "RESPONSE".into(),
            message,
        };
        if messaging
            .postback
            .as_ref()
            .is_some_and(|p| p.payload.starts_with("PAY"))
        {
            bot.counter.pays.fetch_add(1, Ordering::SeqCst);
            return Json(SyncReply {
                messages: vec![reply(OutgoingMessage {
                    text: Some("Payment received, thank you!".into()),
                    ..Default::default()
                })],
            });
        }
        if messaging.message.is_none() {
            return Json(SyncReply::default());
        }
        let receipt = ReceiptTemplate {
            recipient_name: "x".into(),
            merchant_name: None,
            order_number: "BAD-1".into(),
            currency: "USD".into(),
            payment_method: "card".into(),
            elements: vec![ReceiptElement {
                title: bot.title.clone(),
                subtitle: Some(bot.subtitle.clone()),
                quantity: Some(1),
                price: bot.price,
                currency: Some("USD".into()),
            }],
            summary: ReceiptSummary {
                subtotal: Some(bot.price),
                shipping_cost: Some(bot.shipping),
                total_tax: Some(0.0),
                total_cost: bot.price + bot.shipping,
            },
            adjustments: vec![],
        };
        Json(SyncReply {
            messages: vec![
                reply(OutgoingMessage {
                    attachment: Some(Attachment::template(&Template::Receipt(receipt))),
                    ..Default::default()
                }),
                reply(OutgoingMessage {
                    attachment: Some(Attachment::template(&Template::Button {
                        text: "Pay now".into(),
                        buttons: vec![Button::postback("Pay", "PAY:BAD-1")],
                    })),
                    ..Default::default()
                }),
            ],
        })
    }
    let router = Router::new()
        .route("/webhook", post(handle))
        .with_state(Bot {
            title: title.into(),
            subtitle: subtitle.into(),
            price,
            shipping,
            counter,
        });
    endpoint(id, "Invoicing Bot", serve_router(router).await)
}

/// Shop options that pay when the mandate allows.
pub fn pay() -> concierge::negotiate::ShopOptions {
    concierge::negotiate::ShopOptions {
        pay: true,
        ..Default::default()
    }
}

pub const DEFAULT_REQUEST: &str = "buy me a gray turtleneck sweater in medium under $50";

/// Runs the `concierge` binary in `dir`, with none of its environment
/// settings inherited from the caller.
pub fn concierge(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(args)
        .current_dir(dir)
        .env_remove("CONCIERGE_RULES")
        .env_remove("CONCIERGE_INDEX")
        .env_remove("CONCIERGE_DB")
        .output()
        .expect("run concierge")
}

/// A port free on 127.0.0.1 now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the `concierge` binary in `dir` as a user would, with its Send API
/// at `listen_port` and none of the caller's settings.
pub fn run_at(dir: &std::path::Path, listen_port: u16, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(args)
        .current_dir(dir)
        .env("CONCIERGE_LISTEN", format!("127.0.0.1:{listen_port}"))
        .env_remove("CONCIERGE_RULES")
        .env_remove("CONCIERGE_INDEX")
        .env_remove("CONCIERGE_DB")
        .env_remove("CONCIERGE_ALLOW_LOOPBACK")
        .output()
        .expect("run concierge")
}

/// A command's stdout and stderr, for assertion messages.
pub fn output_text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Starts `concierge` with `args` in `dir` (a long-running command such as
/// `merchant serve`) and returns once it says it is ready ("Ctrl-C stops
/// it").
pub fn spawn_until_ready(dir: &std::path::Path, args: &[&str]) -> std::process::Child {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        if line.contains("Ctrl-C stops it") {
            break;
        }
    }
    child
}
