//! Concierge's HTTP server with a merchant bot that answers the way real
//! Messenger bots do: through the Send API, later, in plain text with no
//! quick replies. Properties checked:
//! - registration verifies the endpoint (hub.challenge) and issues a page
//!   access token; an endpoint that fails the handshake is refused;
//! - a shopper request through `POST /v1/requests` is negotiated with the
//!   Send API bot and paid within the mandate;
//! - Send API calls with a wrong token (401) or into another merchant's
//!   conversation (403) are refused;
//! - errors are JSON with a stable code.

mod common;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::Router;
use concierge::config::Config;
use concierge::merchant::messenger::wire::{
    Attachment, Button, Id, OutgoingMessage, ReceiptElement, ReceiptSummary, ReceiptTemplate,
    SendRequest, Template, WebhookEvent,
};
use concierge::order::Store;
use concierge::server::ServerState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where the bot sends its Send API calls, once registered.
#[derive(Clone, Default)]
struct BotState {
    graph: Arc<Mutex<Option<(String, String)>>>,
    paid: Arc<Mutex<u32>>,
}

fn text(t: &str) -> OutgoingMessage {
    OutgoingMessage {
        text: Some(t.into()),
        ..Default::default()
    }
}

/// The bot's script: plain text questions, then a receipt and a Pay button.
fn answer(bot: &BotState, event: &WebhookEvent) -> Vec<OutgoingMessage> {
    let messaging = &event.entry[0].messaging[0];
    if let Some(postback) = &messaging.postback {
        if postback.payload == "PAY-Q1"
            && postback
                .payment
                .as_ref()
                .is_some_and(|p| p.allowance.max_amount == 4650)
        {
            *bot.paid.lock().unwrap() += 1;
            return vec![text("Payment received, thanks for your order!")];
        }
        return vec![text("Sorry, that payment did not go through.")];
    }
    let said = messaging
        .message
        .as_ref()
        .and_then(|m| m.text.clone())
        .unwrap_or_default()
        .to_lowercase();
    if said.contains("q-1") {
        vec![text(
            "Hi there! Which size would you like? We have S, M and L.",
        )]
    } else if said == "m" {
        vec![text("Great. And what colour: Gray or Navy?")]
    } else if said == "gray" {
        let receipt = ReceiptTemplate {
            recipient_name: "friend".into(),
            merchant_name: Some("Plain Text Knits".into()),
            order_number: "Q1-0001".into(),
            currency: "USD".into(),
            payment_method: "card".into(),
            elements: vec![ReceiptElement {
                title: "Quiet Turtleneck Sweater".into(),
                subtitle: Some("Gray / M".into()),
                quantity: Some(1),
                price: 41.5,
                currency: Some("USD".into()),
            }],
            summary: ReceiptSummary {
                subtotal: Some(41.5),
                shipping_cost: Some(5.0),
                total_tax: Some(0.0),
                total_cost: 46.5,
            },
            adjustments: vec![],
        };
        vec![
            OutgoingMessage {
                attachment: Some(Attachment::template(&Template::Receipt(receipt))),
                ..Default::default()
            },
            OutgoingMessage {
                attachment: Some(Attachment::template(&Template::Button {
                    text: "Ready when you are.".into(),
                    buttons: vec![Button::postback("Pay $46.50", "PAY-Q1")],
                })),
                ..Default::default()
            },
        ]
    } else {
        vec![text("OK!")]
    }
}

async fn start_bot(verify_token: &'static str) -> (String, BotState) {
    let bot = BotState::default();
    async fn verify(
        Query(params): Query<HashMap<String, String>>,
        State(token): State<(&'static str, BotState)>,
    ) -> Result<String, axum::http::StatusCode> {
        if params.get("hub.verify_token").map(String::as_str) == Some(token.0) {
            Ok(params.get("hub.challenge").cloned().unwrap_or_default())
        } else {
            Err(axum::http::StatusCode::FORBIDDEN)
        }
    }
    async fn webhook(State(state): State<(&'static str, BotState)>, body: Bytes) -> &'static str {
        let bot = state.1.clone();
        let Ok(event) = serde_json::from_slice::<WebhookEvent>(&body) else {
            return "";
        };
        // Answer the webhook at once; reply later through the Send API.
        tokio::spawn(async move {
            let Some((base, token)) = bot.graph.lock().unwrap().clone() else {
                return;
            };
            let psid = event.entry[0].messaging[0].sender.id.clone();
            let client = concierge::http::client();
            for message in answer(&bot, &event) {
                let request = SendRequest {
                    recipient: Id { id: psid.clone() },
                    messaging_type: "RESPONSE".into(),
                    message,
                };
                let _ = client
                    .post(format!("{base}/v19.0/me/messages?access_token={token}"))
                    .json(&request)
                    .send()
                    .await;
            }
        });
        ""
    }
    let router = Router::new()
        .route("/webhook", get(verify).post(webhook))
        .with_state((verify_token, bot.clone()));
    (common::serve_router(router).await, bot)
}

fn feed() -> String {
    let product = common::turtleneck(
        "Q-1",
        "Quiet Turtleneck Sweater",
        4150,
        &["Gray", "Navy"],
        &[],
    );
    concierge::catalog::feed::to_jsonl(&[product])
}

async fn start_server() -> (String, Arc<ServerState>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        index_dir: dir.path().join("index"),
        db_path: dir.path().join("concierge.db"),
        turn_timeout: Duration::from_secs(3),
        negotiation_deadline: Duration::from_secs(8),
        allow_loopback: true,
        ..Config::default()
    };
    let (base, state) = common::serve_concierge(config, vec![]).await;
    (base, state, dir)
}

#[tokio::test]
async fn a_send_api_bot_registers_negotiates_in_plain_text_and_is_paid() {
    let (base, state, _dir) = start_server().await;
    let (bot_url, bot) = start_bot("bot-verify").await;
    let client = common::operator_client(&state);

    // A wrong verify token fails the handshake.
    let refused = client
        .post(format!("{base}/v1/merchants"))
        .json(&serde_json::json!({"name": "Plain Text Knits", "endpoint": bot_url, "verify_token": "wrong", "feed": feed()}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "verification_failed");

    let registered = client
        .post(format!("{base}/v1/merchants"))
        .json(&serde_json::json!({"name": "Plain Text Knits", "endpoint": bot_url, "verify_token": "bot-verify", "feed": feed()}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let registered: serde_json::Value = registered.json().await.unwrap();
    let token = registered["page_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let merchant_id = registered["id"].as_str().unwrap().to_string();
    *bot.graph.lock().unwrap() = Some((base.clone(), token.clone()));

    let listed: serde_json::Value = client
        .get(format!("{base}/v1/merchants"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["merchants"][0]["id"], merchant_id.as_str());
    assert!(
        listed["merchants"][0].get("page_access_token").is_none(),
        "secrets must not be listed"
    );

    // Mandates that cannot be honoured are refused before anything runs.
    for mandate in [
        serde_json::json!({"max_total": -1}),
        serde_json::json!({"max_total": 5000, "budget": -100}),
        serde_json::json!({"max_total": 5000, "valid_for_secs": i64::MAX}),
        serde_json::json!({"max_total": 5000, "valid_for_secs": -60}),
        serde_json::json!({"max_total": 5000, "currency": "E1"}),
    ] {
        let refused = buy_the_turtleneck(&client, &base, mandate.clone()).await;
        assert_eq!(refused.status(), 400, "{mandate}");
        let error: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid_mandate", "{mandate}");
    }
    // A mandate in euros does not pay an invoice in dollars.
    let euros = buy_the_turtleneck(
        &client,
        &base,
        serde_json::json!({"max_total": 5000, "currency": "eur"}),
    )
    .await;
    assert_eq!(euros.status(), 200);
    let report: concierge::negotiate::ShopReport = euros.json().await.unwrap();
    assert!(report.receipt.is_none(), "{}", report.render());
    assert_eq!(report.mandate.currency, "EUR");
    assert_eq!(*bot.paid.lock().unwrap(), 0);

    let response = buy_the_turtleneck(&client, &base, serde_json::json!({"max_total": 5000})).await;
    assert_eq!(response.status(), 200);
    let report: concierge::negotiate::ShopReport = response.json().await.unwrap();
    let receipt = report
        .receipt
        .as_ref()
        .unwrap_or_else(|| panic!("{}", report.render()));
    assert_eq!(receipt.total.minor, 4650);
    assert_eq!(receipt.variant, "Gray / M");
    assert_eq!(*bot.paid.lock().unwrap(), 1);
    assert_eq!(
        state.shop().transport.mailboxes().open_count(),
        0,
        "conversations are closed afterwards"
    );

    let orders: serde_json::Value = client
        .get(format!("{base}/v1/orders"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["orders"].as_array().unwrap().len(), 1);
}

/// Errors axum would answer in plain text or empty come in the documented
/// JSON shape with a stable code.
#[tokio::test]
async fn every_error_is_json() {
    let (base, state, _dir) = start_server().await;
    let client = common::operator_client(&state);
    let anonymous = concierge::http::client();
    let shop = |client: &reqwest::Client| {
        client
            .post(format!("{base}/v1/requests"))
            .header("content-type", "application/json")
            .body(r#"{"text": "find socks"}"#)
    };
    let cases = [
        (
            anonymous.get(format!("{base}/v1/orders")),
            401,
            "missing_api_key",
        ),
        (shop(&anonymous), 401, "missing_api_key"),
        (
            shop(&common::client_with_secret("ck_op_not-a-real-key")),
            401,
            "invalid_api_key",
        ),
        (
            client
                .post(format!("{base}/v1/requests"))
                .header("content-type", "text/plain")
                .body(r#"{"text": "buy socks", "auto_pay": true}"#),
            415,
            "unsupported_media_type",
        ),
        (
            shop(&client).header("host", "attacker.example:8080"),
            403,
            "host_not_allowed",
        ),
        (
            shop(&client).header("origin", "http://attacker.example"),
            403,
            "cross_origin",
        ),
        (
            client
                .get(format!("{base}/v1/orders"))
                .header("sec-fetch-site", "cross-site"),
            403,
            "cross_origin",
        ),
        (
            client.get(format!("{base}/no/such/route/here")),
            404,
            "not_found",
        ),
        (
            client.delete(format!("{base}/v1/orders")),
            405,
            "method_not_allowed",
        ),
        (
            client.get(format!("{base}/v1/requests/not-a-request")),
            404,
            "request_not_found",
        ),
        (
            client
                .post(format!("{base}/v1/requests"))
                .header("content-type", "application/json")
                .body(vec![b' '; 9 * 1024 * 1024]),
            413,
            "body_too_large",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{code}");
        let body: serde_json::Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
    }
}

#[tokio::test]
async fn send_api_calls_with_wrong_or_foreign_tokens_are_refused() {
    let (base, state, _dir) = start_server().await;
    let client = common::operator_client(&state);
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for name in ["First Bot", "Second Bot"] {
        let (bot_url, _bot) = start_bot("verify-me").await;
        let registered: serde_json::Value = client
            .post(format!("{base}/v1/merchants"))
            .json(&serde_json::json!({"name": name, "endpoint": bot_url, "verify_token": "verify-me", "feed": feed()}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push(
            registered["page_access_token"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        ids.push(registered["id"].as_str().unwrap().to_string());
    }
    // Nobody else can take a registered display name, however written.
    let (impostor_url, _impostor) = start_bot("verify-me").await;
    let impostor = client
        .post(format!("{base}/v1/merchants"))
        .json(&serde_json::json!({"name": "first-BOT!", "endpoint": impostor_url, "verify_token": "verify-me", "feed": feed()}))
        .send()
        .await
        .unwrap();
    assert_eq!(impostor.status(), 409);
    assert_eq!(
        impostor.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "merchant_name_taken"
    );
    // A merchant's own key replaces its own feed and no other's.
    let merchant_key = concierge::server::auth::create_key(
        state.store(),
        concierge::server::auth::Scope::Merchant,
        &ids[0],
        "",
    )
    .unwrap();
    let merchant = common::client_with_secret(&merchant_key.secret);
    for (id, status) in [(&ids[0], 200), (&ids[1], 403)] {
        let response = merchant
            .put(format!("{base}/v1/merchants/{id}/feed"))
            .header("content-type", "application/x-ndjson")
            .body(feed())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{id}");
    }
    // A conversation with the first merchant is open.
    let _mailbox = state
        .shop()
        .transport
        .mailboxes()
        .open("psid-open", &ids[0]);
    let message = serde_json::json!({"recipient": {"id": "psid-open"}, "messaging_type": "RESPONSE", "message": {"text": "What size?"}});

    // (token, body, expected status, expected error code or recipient)
    let own = tokens[0].as_str();
    let other = tokens[1].as_str();
    let message_text = message.to_string();
    let cases = [
        ("nope", message_text.as_str(), 401, "invalid_access_token"),
        (other, message_text.as_str(), 403, "not_your_conversation"),
        (own, message_text.as_str(), 200, "psid-open"),
        (own, "{nope", 400, "invalid_json"),
    ];
    for (token, body, status, expected) in cases {
        let response = client
            .post(format!("{base}/v19.0/me/messages?access_token={token}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{token} {body}");
        let answer: serde_json::Value = response.json().await.unwrap();
        let said = if status == 200 {
            &answer["recipient_id"]
        } else {
            &answer["error"]["code"]
        };
        assert_eq!(said, expected, "{token} {body}");
    }

    let removed = client
        .delete(format!("{base}/v1/merchants/{}", ids[1]))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    let missing = client
        .delete(format!("{base}/v1/merchants/{}", ids[1]))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "merchant_not_found");
}

#[tokio::test]
async fn registration_refuses_internal_endpoints_under_the_default_policy() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        index_dir: dir.path().join("index"),
        db_path: dir.path().join("c.db"),
        ..Config::default()
    };
    let store = Store::open(&config.db_path).unwrap();
    let transport = concierge::world::transport_for(&config);
    for endpoint in [
        "http://127.0.0.1:9/webhook",
        "http://169.254.169.254/latest",
        "http://[::ffff:10.0.0.1]/x",
        "http://0x7f.1/webhook",
    ] {
        let registration = concierge::merchant::registry::Registration {
            protocol: None,
            api_key: None,
            name: "Sneaky".into(),
            endpoint: endpoint.into(),
            verify_token: "t".into(),
            app_secret: None,
            feed: feed(),
            feed_format: None,
            id: None,
            page_access_token: None,
        };
        let error = concierge::merchant::registry::register(
            &store,
            &transport,
            &config.catalog_record(),
            &common::rules(),
            &registration,
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), "endpoint_refused", "{endpoint}: {error}");
    }
    assert!(store.merchants().unwrap().is_empty());
}

/// Shoppers are principals of their own: each sees, polls and cancels only
/// what they asked for; merchants' keys reach only their own feed; the
/// operator's reach everything; a revoked key reaches nothing.
#[tokio::test]
async fn each_key_reaches_only_what_its_principal_owns() {
    use concierge::server::auth::Scope;
    let dir = tempfile::tempdir().unwrap();
    let config = common::local_config(dir.path());
    let (base, state, merchants) = common::serve_concierge_with_small_world(config).await;
    let alice = common::client_with_key(&state, Scope::Shopper, "alice");
    let bob = common::client_with_key(&state, Scope::Shopper, "bob");
    let operator = common::operator_client(&state);

    // Alice buys, answered later (polled).
    let accepted = alice
        .post(format!("{base}/v1/requests"))
        .json(
            &serde_json::json!({"text": common::DEFAULT_REQUEST, "auto_pay": true, "wait": false}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let id = accepted.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(id.len() > 16, "request ids cannot be guessed: {id}");
    let mut done = None;
    for _ in 0..100 {
        let polled: serde_json::Value = alice
            .get(format!("{base}/v1/requests/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if polled["status"] == "done" {
            done = Some(polled);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let done = done.expect("the request finished");
    assert_eq!(done["report"]["receipt"]["total"]["minor"], 4700);

    // Bob cannot read Alice's request, list her order or cancel it.
    let peeked = bob
        .get(format!("{base}/v1/requests/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(peeked.status(), 404);
    assert_eq!(
        peeked.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "request_not_found"
    );
    let orders_of = |client: &reqwest::Client| {
        let request = client.get(format!("{base}/v1/orders"));
        async move {
            request
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()["orders"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(orders_of(&bob).await, 0);
    assert_eq!(orders_of(&alice).await, 1);
    assert_eq!(orders_of(&operator).await, 1);
    let cancel = |client: &reqwest::Client| {
        let request = client
            .post(format!("{base}/v1/requests"))
            .json(&serde_json::json!({"text": "cancel my turtleneck order"}));
        async move {
            request
                .send()
                .await
                .unwrap()
                .json::<concierge::negotiate::ShopReport>()
                .await
                .unwrap()
        }
    };
    let bobs_try = cancel(&bob).await;
    assert_ne!(
        bobs_try.outcome,
        concierge::negotiate::Outcome::Cancelled,
        "{}",
        bobs_try.render()
    );
    let orders: serde_json::Value = alice
        .get(format!("{base}/v1/orders"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["orders"][0]["status"], "paid");
    assert_eq!(orders["orders"][0]["shopper"], "alice");

    // Shoppers do not manage merchants.
    for request in [
        bob.post(format!("{base}/v1/merchants"))
            .json(&serde_json::json!({"name": "Cheap Knits", "endpoint": "http://127.0.0.1:9/webhook", "verify_token": "t", "feed": feed()})),
        bob.delete(format!("{base}/v1/merchants/alpha")),
        bob.put(format!("{base}/v1/merchants/alpha/feed")).body(feed()),
    ] {
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), 403);
        assert_eq!(
            refused.json::<serde_json::Value>().await.unwrap()["error"]["code"],
            "forbidden"
        );
    }

    // Alice cancels her own order.
    let cancelled = cancel(&alice).await;
    assert_eq!(
        cancelled.outcome,
        concierge::negotiate::Outcome::Cancelled,
        "{}",
        cancelled.render()
    );

    // A revoked key opens nothing.
    let keys = state.store().api_keys().unwrap();
    let bobs_key = keys.iter().find(|k| k.subject == "bob").unwrap();
    assert!(state.store().revoke_api_key(&bobs_key.id).unwrap());
    let revoked = bob.get(format!("{base}/v1/orders")).send().await.unwrap();
    assert_eq!(revoked.status(), 401);
    assert_eq!(
        revoked.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "invalid_api_key"
    );
    for merchant in merchants {
        merchant.stop().await;
    }
}

/// `concierge ask` on its own serves the Send API while it shops, so a
/// registered bot that answers through it takes part without `serve`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_ask_hears_a_send_api_bot() {
    let dir = tempfile::tempdir().unwrap();
    let (bot_url, bot) = start_bot("bot-verify").await;
    let feed_path = dir.path().join("feed.jsonl");
    std::fs::write(&feed_path, feed()).unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let run = |args: Vec<String>| {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_concierge"))
                .args(&args)
                .current_dir(&dir)
                .env("CONCIERGE_LISTEN", format!("127.0.0.1:{port}"))
                .env("CONCIERGE_ALLOW_LOOPBACK", "1")
                .env_remove("CONCIERGE_RULES")
                .env_remove("CONCIERGE_INDEX")
                .env_remove("CONCIERGE_DB")
                .output()
                .unwrap()
        })
    };
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let registered = run(args(&[
        "merchant",
        "register",
        "--name",
        "Plain Text Knits",
        "--endpoint",
        &bot_url,
        "--verify-token",
        "bot-verify",
        "--feed",
        feed_path.to_str().unwrap(),
    ]))
    .await
    .unwrap();
    let said = String::from_utf8_lossy(&registered.stdout).to_string();
    assert!(
        registered.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&registered.stderr)
    );
    let token = said
        .lines()
        .find_map(|l| l.trim().strip_prefix("page access token:"))
        .unwrap()
        .trim()
        .to_string();
    *bot.graph.lock().unwrap() = Some((format!("http://127.0.0.1:{port}"), token));

    let asked = run(args(&[
        "ask",
        "--auto-pay",
        "buy me a gray turtleneck sweater in medium under $50",
    ]))
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&asked.stdout).to_string();
    assert!(
        asked.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&asked.stderr)
    );
    assert!(out.contains("Payment confirmed"), "{out}");
    assert_eq!(*bot.paid.lock().unwrap(), 1);
}

#[tokio::test]
async fn the_web_chat_page_is_served_at_the_root() {
    let (base, _state, _dir) = start_server().await;
    // The page holds no data; what it asks for needs the key it is given.
    let response = concierge::http::client()
        .get(format!("{base}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let page = response.text().await.unwrap();
    assert!(page.contains("<form id=\"ask\">"));
    assert!(page.contains("fetch('/v1/requests'"));
}

/// A request retried under its `Idempotency-Key` gets the first answer and
/// pays once; the key cannot be reused for another request; payments are
/// listed to their shopper.
#[tokio::test]
async fn a_retried_request_never_pays_twice() {
    use concierge::server::auth::Scope;
    let dir = tempfile::tempdir().unwrap();
    let config = common::local_config(dir.path());
    let (base, state, merchants) = common::serve_concierge_with_small_world(config).await;
    let alice = common::client_with_key(&state, Scope::Shopper, "alice");
    let bob = common::client_with_key(&state, Scope::Shopper, "bob");
    let buy = |client: &reqwest::Client, key: &str, text: &str| {
        client
            .post(format!("{base}/v1/requests"))
            .header("idempotency-key", key)
            .json(&serde_json::json!({"text": text, "auto_pay": true}))
            .send()
    };
    let first = buy(&alice, "order-7f3a", common::DEFAULT_REQUEST)
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(first["receipt"]["total"]["minor"], 4700);

    let retried = buy(&alice, "order-7f3a", common::DEFAULT_REQUEST)
        .await
        .unwrap();
    assert_eq!(retried.status(), 200);
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    let retried: serde_json::Value = retried.json().await.unwrap();
    assert_eq!(retried, first);
    let charges: usize = merchants.iter().map(|m| m.charges().len()).sum();
    assert_eq!(charges, 1, "paid once");

    let reused = buy(&alice, "order-7f3a", "buy me wool socks")
        .await
        .unwrap();
    assert_eq!(reused.status(), 422);
    assert_eq!(
        reused.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "idempotency_key_reused"
    );
    // Keys are per principal: Bob's same key is his own request.
    let bobs = buy(&bob, "order-7f3a", "find wool socks").await.unwrap();
    assert_eq!(bobs.status(), 200);

    let payments_of = |client: &reqwest::Client| {
        let request = client.get(format!("{base}/v1/payments"));
        async move {
            request
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()["payments"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let alices = payments_of(&alice).await;
    assert_eq!(alices.len(), 1);
    assert_eq!(alices[0]["status"], "confirmed");
    assert_eq!(alices[0]["shopper"], "alice");
    assert!(alices[0]["order_id"].is_i64());
    assert!(payments_of(&bob).await.is_empty());
    assert_eq!(payments_of(&common::operator_client(&state)).await.len(), 1);
    for merchant in merchants {
        merchant.stop().await;
    }
}

/// The demo world's own responders are reached on loopback without the
/// deployment allowing loopback, and that lets no registered merchant onto
/// it (as `serve --demo` did once).
#[tokio::test]
async fn serving_the_demo_world_lets_no_registered_merchant_onto_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        allow_loopback: false,
        ..common::local_config(dir.path())
    };
    let (base, state, merchants) = common::serve_concierge_with_small_world(config).await;
    let client = common::operator_client(&state);
    let bought: concierge::negotiate::ShopReport = client
        .post(format!("{base}/v1/requests"))
        .json(&serde_json::json!({"text": common::DEFAULT_REQUEST, "auto_pay": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(bought.receipt.is_some(), "{}", bought.render());

    let (bot_url, _bot) = start_bot("bot-verify").await;
    let refused = client
        .post(format!("{base}/v1/merchants"))
        .json(&serde_json::json!({"name": "Loopback Knits", "endpoint": bot_url, "verify_token": "bot-verify", "feed": feed()}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    assert_eq!(
        refused.json::<serde_json::Value>().await.unwrap()["error"]["code"],
        "endpoint_refused"
    );
    for merchant in merchants {
        merchant.stop().await;
    }
}

/// Reads from `stream` until the server closes it; what it said.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut said = Vec::new();
    // A liveness bound only: a server that never closes fails the test
    // instead of hanging it.
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut said))
        .await
        .expect("the server closes the connection")
        .ok();
    String::from_utf8_lossy(&said).to_string()
}

/// Half-sent requests cannot take the server: headers that never finish are
/// cut off after the header timeout, connections over the cap are closed at
/// once, and the server answers again as soon as they are gone.
#[tokio::test]
async fn half_sent_requests_are_cut_off_and_connections_capped() {
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let config = common::local_config(dir.path());
    let store = Arc::new(Store::open(&config.db_path).unwrap());
    let state = ServerState::new(config, common::rules(), store, vec![]).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = concierge::server::ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        max_connections: 8,
        max_connections_per_client: 4,
    };
    tokio::spawn(concierge::server::run_with_limits(
        listener,
        state,
        std::future::pending(),
        limits,
    ));
    let mut half_sent = Vec::new();
    for _ in 0..4 {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"POST /v1/requests HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await
            .unwrap();
        half_sent.push(stream);
    }
    // Give the server time to take the four before the fifth comes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over_cap = tokio::net::TcpStream::connect(address).await.unwrap();
    let _ = over_cap
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await;
    assert!(
        !read_until_closed(&mut over_cap).await.contains("200 OK"),
        "a fifth connection from one client is closed unanswered"
    );
    for stream in &mut half_sent {
        assert!(!read_until_closed(stream).await.contains("200 OK"));
    }
    // A body that never finishes is answered 408.
    let mut slow_body = tokio::net::TcpStream::connect(address).await.unwrap();
    slow_body
        .write_all(b"POST /v1/requests HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"text\":")
        .await
        .unwrap();
    let answer = read_until_closed(&mut slow_body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let health = concierge::http::client()
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

/// Every `/v1` route, probed without a key, with a revoked key, and with a
/// key whose scope does not reach it: nothing is read or changed.
#[tokio::test]
async fn no_route_answers_without_the_right_key() {
    use concierge::server::auth::Scope;
    let (base, state, _dir) = start_server().await;
    let anonymous = concierge::http::client();
    let revoked_key =
        concierge::server::auth::create_key(state.store(), Scope::Operator, "operator", "")
            .unwrap();
    assert!(state
        .store()
        .revoke_api_key(&revoked_key.record.id)
        .unwrap());
    let revoked = common::client_with_secret(&revoked_key.secret);
    let shopper = common::client_with_key(&state, Scope::Shopper, "mallory");
    let merchant = common::client_with_key(&state, Scope::Merchant, "someone-else");
    let json = serde_json::json!({"text": "buy me wool socks", "auto_pay": true});
    let routes: [(reqwest::Method, &str, bool); 9] = [
        (reqwest::Method::POST, "/v1/requests", false),
        (
            reqwest::Method::GET,
            "/v1/requests/req_0123456789abcdef01234567",
            false,
        ),
        (reqwest::Method::GET, "/v1/orders", false),
        (reqwest::Method::GET, "/v1/payments", false),
        (reqwest::Method::POST, "/v1/merchants", true),
        (reqwest::Method::GET, "/v1/merchants", false),
        (reqwest::Method::DELETE, "/v1/merchants/alpha", true),
        (reqwest::Method::PUT, "/v1/merchants/alpha/feed", true),
        (reqwest::Method::DELETE, "/v1/merchants/someone-else", true),
    ];
    for (method, path, operator_only) in routes {
        let send = |client: &reqwest::Client| {
            client
                .request(method.clone(), format!("{base}{path}"))
                .json(&json)
                .send()
        };
        for (who, client) in [("no key", &anonymous), ("revoked key", &revoked)] {
            let response = send(client).await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {who}");
        }
        if operator_only {
            for (who, client) in [("shopper", &shopper), ("merchant", &merchant)] {
                let response = send(client).await.unwrap();
                let status = response.status().as_u16();
                // A merchant's own feed is its to replace; nothing here is.
                assert!(
                    status == 403,
                    "{method} {path} as {who}: {status} {}",
                    response.text().await.unwrap()
                );
            }
        }
    }
    // A merchant key reads no shopper's data.
    for path in ["/v1/orders", "/v1/payments"] {
        let response = merchant.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(response.status(), 403, "{path}");
    }
    assert!(state.store().orders().unwrap().is_empty());
    assert!(state.store().merchants().unwrap().is_empty());
}

/// Over the API, a UCP business that searches its own catalog registers
/// without a feed, is listed as `live`, and a shopper's request finds its
/// product through that search and pays it.
#[tokio::test]
async fn a_ucp_business_registers_over_the_api_without_a_feed_and_is_paid() {
    let (base, state, _dir) = start_server().await;
    let client = common::operator_client(&state);
    let merchant = concierge::merchant::ucp::UcpMerchant::new(
        concierge::merchant::ucp::UcpMerchantConfig::new(common::profile(
            "lake",
            "Lake Knits",
            300,
            0,
        )),
        vec![common::turtleneck(
            "LK-1",
            "Lakeside Turtleneck Sweater",
            3900,
            &["Gray"],
            &[],
        )],
    );
    let url = common::serve_router(concierge::merchant::ucp::app(merchant.clone())).await;
    let endpoint = url.trim_end_matches("/webhook").to_string();
    let registered = client
        .post(format!("{base}/v1/merchants"))
        .json(&serde_json::json!({"name": "Lake Knits", "id": "lake", "endpoint": endpoint, "protocol": "ucp"}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let registered: serde_json::Value = registered.json().await.unwrap();
    assert_eq!(registered["catalog"], "live", "{registered}");
    let listed: serde_json::Value = client
        .get(format!("{base}/v1/merchants"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["merchants"][0]["catalog"], "live", "{listed}");

    let response = buy_the_turtleneck(&client, &base, serde_json::json!({"max_total": 5000})).await;
    assert_eq!(response.status(), 200);
    let report: concierge::negotiate::ShopReport = response.json().await.unwrap();
    let receipt = report
        .receipt
        .as_ref()
        .unwrap_or_else(|| panic!("{}", report.render()));
    assert_eq!(receipt.total.minor, 4200, "{}", report.render());
    assert_eq!(merchant.charges().len(), 1);
}

/// `POST /v1/requests` for the gray turtleneck, paid automatically within
/// `mandate`.
async fn buy_the_turtleneck(
    client: &reqwest::Client,
    base: &str,
    mandate: serde_json::Value,
) -> reqwest::Response {
    client
        .post(format!("{base}/v1/requests"))
        .json(&serde_json::json!({"text": "buy me a gray turtleneck sweater in medium", "mandate": mandate, "auto_pay": true}))
        .send()
        .await
        .unwrap()
}
