//! A merchant's existing Messenger bot, unchanged, sells through Concierge.
//! The bot here behaves like Meta's samples and the bots built on them:
//! - it checks only the legacy `X-Hub-Signature` (HMAC-SHA1), answers the
//!   webhook with `200 EVENT_RECEIVED`, and replies later through the Send
//!   API, its messages a second apart, with `typing_on` / `typing_off`;
//! - it looks the shopper up in the User Profile API before greeting;
//! - it asks the size with quick replies and the colour with a button
//!   template, then makes its offer in a plain-text sentence followed by a
//!   button template ("Place order" / "Cancel"), and confirms the order
//!   with its own order number.
//!
//! Properties checked, over real HTTP on loopback (Concierge's server with
//! the catalog of record, registration through the API with the bot's own
//! page access token):
//! - the honest bot completes a purchase, paid once, recorded with the bot's
//!   order number; its profile lookups and sender actions are answered;
//! - the same bot offering the wrong colour, or a total over the shopper's
//!   limit, is refused and never agreed to;
//! - a second offer after the order is never agreed to: one order, one
//!   payment;
//! - a confirmation sent after Concierge stopped waiting is recorded as the
//!   order it is, once.

mod common;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Router;
use concierge::merchant::messenger::wire::WebhookEvent;
use concierge::server::ServerState;
use hmac::{Hmac, Mac};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const APP_SECRET: &str = "bot-app-secret";
const VERIFY_TOKEN: &str = "bot-verify-token";

/// How the bot misbehaves, if at all.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Twist {
    Honest,
    /// The offer names another colour than the one chosen.
    WrongColour,
    /// A "handling fee" takes the total over the shopper's limit.
    OverLimit,
    /// After confirming the order, it offers a second one.
    SecondOffer,
    /// It confirms the order only well after Concierge stopped waiting, and
    /// says nothing when Place order is tapped again meanwhile.
    SlowConfirmation,
}

#[derive(Clone)]
struct Bot {
    twist: Twist,
    /// Graph API base and the bot's own page access token.
    graph: Arc<Mutex<String>>,
    token: String,
    /// Per conversation: what was chosen so far.
    chats: Arc<Mutex<HashMap<String, Chat>>>,
    orders: Arc<AtomicUsize>,
    profile_lookups: Arc<AtomicUsize>,
    /// Send API calls that did not answer 200.
    send_failures: Arc<AtomicUsize>,
    bad_signatures: Arc<AtomicUsize>,
}

#[derive(Clone, Default)]
struct Chat {
    greeted: bool,
    size: Option<String>,
    color: Option<String>,
    offered: bool,
    confirmed: bool,
}

impl Bot {
    fn new(twist: Twist) -> Bot {
        Bot {
            twist,
            graph: Arc::new(Mutex::new(String::new())),
            token: format!(
                "EAAbot{}",
                concierge::merchant::messenger::signature::random_token(8)
            ),
            chats: Default::default(),
            orders: Default::default(),
            profile_lookups: Default::default(),
            send_failures: Default::default(),
            bad_signatures: Default::default(),
        }
    }

    fn send_url(&self) -> String {
        format!(
            "{}/v11.0/me/messages?access_token={}",
            self.graph.lock().unwrap(),
            self.token
        )
    }

    async fn post(&self, body: serde_json::Value) {
        let ok = concierge::http::client()
            .post(self.send_url())
            .json(&body)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if !ok {
            self.send_failures.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn action(&self, psid: &str, action: &str) {
        self.post(serde_json::json!({"recipient": {"id": psid}, "sender_action": action}))
            .await;
    }

    /// Sends `messages` a second apart, typing before each, as real bots do.
    async fn say(&self, psid: &str, messages: Vec<serde_json::Value>) {
        self.action(psid, "mark_seen").await;
        for message in messages {
            self.action(psid, "typing_on").await;
            tokio::time::sleep(Duration::from_millis(1000)).await;
            self.post(serde_json::json!({"recipient": {"id": psid}, "messaging_type": "RESPONSE", "message": message}))
                .await;
        }
        self.action(psid, "typing_off").await;
    }

    async fn first_name(&self, psid: &str) -> String {
        self.profile_lookups.fetch_add(1, Ordering::SeqCst);
        let url = format!(
            "{}/v11.0/{psid}?fields=first_name,last_name,profile_pic&access_token={}",
            self.graph.lock().unwrap(),
            self.token
        );
        let profile: serde_json::Value = match concierge::http::client().get(url).send().await {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        profile["first_name"]
            .as_str()
            .unwrap_or("there")
            .to_string()
    }

    /// One event, handled after the webhook has answered.
    async fn handle(self, event: WebhookEvent) {
        let Some(messaging) = event.entry.first().and_then(|e| e.messaging.first()) else {
            return;
        };
        let psid = messaging.sender.id.clone();
        let said = messaging
            .message
            .as_ref()
            .and_then(|m| m.text.clone())
            .unwrap_or_default();
        let tapped = messaging.postback.as_ref().map(|p| p.payload.clone());
        let quick = messaging
            .message
            .as_ref()
            .and_then(|m| m.quick_reply.as_ref())
            .map(|q| q.payload.clone());
        let chat = self
            .chats
            .lock()
            .unwrap()
            .get(&psid)
            .cloned()
            .unwrap_or_default();
        let mut messages = Vec::new();
        let mut chat = chat;
        let mut slow = false;
        if !chat.greeted {
            let name = self.first_name(&psid).await;
            messages.push(
                serde_json::json!({"text": format!("Hi {name}! Welcome to Lakeside Knits.")}),
            );
            chat.greeted = true;
        }
        if let Some(payload) = tapped.as_deref() {
            if payload == "PLACE_ORDER" && chat.confirmed && self.twist == Twist::SlowConfirmation {
                return;
            }
            if payload == "PLACE_ORDER" && chat.offered && !chat.confirmed {
                chat.confirmed = true;
                slow = self.twist == Twist::SlowConfirmation;
                let number = 7000 + self.orders.fetch_add(1, Ordering::SeqCst);
                messages.push(serde_json::json!({"text": format!("Your order #{number} is confirmed! Thanks for shopping with us.")}));
                if self.twist == Twist::SecondOffer {
                    messages.push(serde_json::json!({"text": "Great news: 1 x Lakeside Turtleneck Sweater in Gray, size M: $39.00 + $5.00 shipping = $44.00 total."}));
                    messages.push(place_order_buttons());
                    chat.confirmed = false;
                }
            } else if payload == "PLACE_ORDER" {
                messages.push(serde_json::json!({"text": "That order is already confirmed."}));
            } else if let Some(color) = payload.strip_prefix("COLOR_") {
                chat.color = Some(color.to_string());
            } else if payload == "CANCEL" {
                messages.push(serde_json::json!({"text": "No problem, cancelled."}));
            }
        }
        if let Some(size) = quick.as_deref().and_then(|p| p.strip_prefix("SIZE_")) {
            chat.size = Some(size.to_string());
        }
        let declined = said.to_lowercase().starts_with("no thanks");
        if !chat.offered && !declined {
            if chat.size.is_none() {
                if said.to_lowercase().contains("lk-100") || !messages.is_empty() {
                    messages.push(serde_json::json!({"text": "Sure, the Lakeside Turtleneck Sweater! Which size?", "quick_replies": [
                        {"content_type": "text", "title": "S", "payload": "SIZE_S"},
                        {"content_type": "text", "title": "M", "payload": "SIZE_M"},
                        {"content_type": "text", "title": "L", "payload": "SIZE_L"}]}));
                }
            } else if chat.color.is_none() {
                messages.push(serde_json::json!({"text": format!("Size {}, got it.", chat.size.as_deref().unwrap_or(""))}));
                messages.push(
                    serde_json::json!({"attachment": {"type": "template", "payload": {
                    "template_type": "button", "text": "And which colour would you like?",
                    "buttons": [
                        {"type": "postback", "title": "Gray", "payload": "COLOR_Gray"},
                        {"type": "postback", "title": "Navy", "payload": "COLOR_Navy"}]}}}),
                );
            } else {
                let color = match self.twist {
                    Twist::WrongColour => "Navy".to_string(),
                    _ => chat.color.clone().unwrap_or_default(),
                };
                let size = chat.size.clone().unwrap_or_default();
                let offer = match self.twist {
                    Twist::OverLimit => format!("Great choice! 1 x Lakeside Turtleneck Sweater in {color}, size {size}: $42.00 + $5.00 shipping + $9.00 handling = $56.00 total."),
                    _ => format!("Great choice! 1 x Lakeside Turtleneck Sweater in {color}, size {size}: $42.00 + $5.00 shipping = $47.00 total."),
                };
                messages.push(serde_json::json!({"text": offer}));
                messages.push(place_order_buttons());
                chat.offered = true;
            }
        }
        self.chats.lock().unwrap().insert(psid.clone(), chat);
        if slow {
            tokio::time::sleep(Duration::from_secs(12)).await;
        }
        if !messages.is_empty() {
            self.say(&psid, messages).await;
        }
    }
}

fn place_order_buttons() -> serde_json::Value {
    serde_json::json!({"attachment": {"type": "template", "payload": {
        "template_type": "button", "text": "Shall I place this order for you?",
        "buttons": [
            {"type": "postback", "title": "Place order", "payload": "PLACE_ORDER"},
            {"type": "postback", "title": "Cancel", "payload": "CANCEL"}]}}})
}

async fn verify(
    State(bot): State<Bot>,
    Query(params): Query<HashMap<String, String>>,
) -> (StatusCode, String) {
    let _ = &bot;
    if params.get("hub.verify_token").map(String::as_str) == Some(VERIFY_TOKEN) {
        (
            StatusCode::OK,
            params.get("hub.challenge").cloned().unwrap_or_default(),
        )
    } else {
        (StatusCode::FORBIDDEN, "Forbidden".into())
    }
}

/// As Meta's samples: only `X-Hub-Signature` (SHA-1) is checked.
async fn webhook(
    State(bot): State<Bot>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(APP_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let expected = format!("sha1={}", hex::encode(mac.finalize().into_bytes()));
    let given = headers
        .get("x-hub-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if given != expected {
        bot.bad_signatures.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::FORBIDDEN, "Forbidden");
    }
    let Ok(event) = serde_json::from_slice::<WebhookEvent>(&body) else {
        return (StatusCode::BAD_REQUEST, "Bad Request");
    };
    tokio::spawn(bot.handle(event));
    (StatusCode::OK, "EVENT_RECEIVED")
}

fn feed() -> String {
    concierge::catalog::feed::to_jsonl(&[common::turtleneck(
        "LK-100",
        "Lakeside Turtleneck Sweater",
        4200,
        &["Gray", "Navy"],
        &[],
    )])
}

struct Market {
    base: String,
    /// Presents the operator's API key.
    client: reqwest::Client,
    state: Arc<ServerState>,
    bot: Bot,
    _dir: tempfile::TempDir,
}

/// Concierge's server, and the bot registered with it through the API.
async fn market(twist: Twist) -> Market {
    let dir = tempfile::tempdir().unwrap();
    let mut config = common::local_config(dir.path());
    if twist == Twist::SlowConfirmation {
        config.turn_timeout = Duration::from_secs(4);
    }
    let (base, state) = common::serve_concierge(config, vec![]).await;

    let bot = Bot::new(twist);
    *bot.graph.lock().unwrap() = base.clone();
    let router = Router::new()
        .route("/webhook", get(verify).post(webhook))
        .with_state(bot.clone());
    let bot_url = common::serve_router(router).await;
    let client = common::operator_client(&state);
    let registered = client
        .post(format!("{base}/v1/merchants"))
        .json(&serde_json::json!({
            "name": "Lakeside Knits",
            "endpoint": bot_url,
            "verify_token": VERIFY_TOKEN,
            "app_secret": APP_SECRET,
            "page_access_token": bot.token,
            "feed": feed(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        registered.status(),
        201,
        "{}",
        registered.text().await.unwrap()
    );
    Market {
        base,
        client,
        state,
        bot,
        _dir: dir,
    }
}

async fn shop(market: &Market, text: &str) -> concierge::negotiate::ShopReport {
    let response = market
        .client
        .post(format!("{}/v1/requests", market.base))
        .json(&serde_json::json!({"text": text, "auto_pay": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unchanged_messenger_bot_sells_through_concierge() {
    let market = market(Twist::Honest).await;
    let report = shop(
        &market,
        "buy me a gray turtleneck sweater in medium under $50",
    )
    .await;
    let receipt = report
        .receipt
        .as_ref()
        .unwrap_or_else(|| panic!("{}", report.render()));
    assert_eq!(report.outcome, concierge::negotiate::Outcome::Bought);
    assert_eq!(receipt.total.minor, 4700);
    assert_eq!(receipt.order_number, "7000", "the bot's own order number");
    assert_eq!(receipt.variant, "Gray / M");
    assert_eq!(market.bot.orders.load(Ordering::SeqCst), 1);
    assert!(market.bot.profile_lookups.load(Ordering::SeqCst) >= 1);
    assert_eq!(
        market.bot.send_failures.load(Ordering::SeqCst),
        0,
        "every Send API call, sender actions included, was accepted"
    );
    assert_eq!(market.bot.bad_signatures.load(Ordering::SeqCst), 0);
    let store = market.state.shop().store.clone();
    assert_eq!(
        store
            .count_payments(concierge::order::PaymentStatus::Confirmed)
            .unwrap(),
        1
    );
}

/// The bot's offer is refused for `reason` and never agreed to.
async fn never_agreed_to(twist: Twist, reason: &str) {
    let market = market(twist).await;
    let report = shop(
        &market,
        "buy me a gray turtleneck sweater in medium under $50",
    )
    .await;
    assert!(report.receipt.is_none(), "{twist:?}: {}", report.render());
    assert_eq!(
        report.outcome,
        concierge::negotiate::Outcome::NoValidInvoice
    );
    assert_eq!(market.bot.orders.load(Ordering::SeqCst), 0, "{twist:?}");
    let conversation = &report.conversations[0];
    let rejection = conversation.rejection().unwrap_or_default();
    assert!(rejection.starts_with(reason), "{twist:?}: {rejection}");
    assert!(
        !conversation
            .transcript
            .iter()
            .any(|line| line.text.contains("taps Place order")),
        "{twist:?}: never agreed"
    );
    let store = market.state.shop().store.clone();
    assert_eq!(
        store
            .count_payments(concierge::order::PaymentStatus::Confirmed)
            .unwrap(),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bot_offering_the_wrong_colour_is_never_agreed_to() {
    never_agreed_to(Twist::WrongColour, "colour: invoice says navy, asked gray").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_bot_over_the_limit_is_never_agreed_to() {
    never_agreed_to(
        Twist::OverLimit,
        "within budget: total $56.00 vs budget $50.00",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_offer_after_the_order_is_never_agreed_to() {
    let market = market(Twist::SecondOffer).await;
    let report = shop(
        &market,
        "buy me a gray turtleneck sweater in medium under $50",
    )
    .await;
    assert!(report.receipt.is_some(), "{}", report.render());
    // The bot's second offer arrives after the order; it is kept as a late
    // message and never answered.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(market.bot.orders.load(Ordering::SeqCst), 1);
    let store = market.state.shop().store.clone();
    assert_eq!(
        store
            .count_payments(concierge::order::PaymentStatus::Confirmed)
            .unwrap(),
        1
    );
    let late = store
        .messages(report.run_id.unwrap())
        .unwrap()
        .into_iter()
        .filter(|m| m.direction == "late_from_merchant")
        .count();
    assert!(late >= 1, "the late offer is stored");
}

/// The bot confirms the order only after Concierge stopped waiting for it:
/// the payment is unknown until the late confirmation arrives through the
/// Send API, which then records it as the order it is, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_after_the_timeout_is_recorded_as_the_order() {
    let market = market(Twist::SlowConfirmation).await;
    let report = shop(
        &market,
        "buy me a gray turtleneck sweater in medium under $50",
    )
    .await;
    assert!(report.receipt.is_none(), "{}", report.render());
    let store = market.state.shop().store.clone();
    let mut orders = Vec::new();
    // A liveness bound: the confirmation comes 12 s after Place order.
    for _ in 0..300 {
        orders = store.orders().unwrap();
        if !orders.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(orders.len(), 1, "the late confirmation is the order");
    assert_eq!(orders[0].order_number, "7000", "the bot's own number");
    assert_eq!(orders[0].total, 4700);
    let payments = store.payments(None).unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(
        payments[0].status,
        concierge::order::PaymentStatus::Confirmed
    );
    assert_eq!(payments[0].order_id, Some(orders[0].id));
    assert_eq!(market.bot.orders.load(Ordering::SeqCst), 1);
}
