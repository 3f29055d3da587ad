//! Auto-responders that phrase things their own way. Properties checked:
//! - the reference responder with other wording (loaded from TOML) still
//!   sells;
//! - a bot that speaks only plain text (options listed in words, a price
//!   quote, a substitute colour, an invoice in a sentence) is understood,
//!   its text invoice checked and paid exactly once;
//! - a substitute of another colour is declined with the reason.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use common::*;
use concierge::catalog::MerchantCatalog;
use concierge::merchant::messenger::signature::random_token;
use concierge::merchant::messenger::wire::{
    Id, OutgoingMessage, SendRequest, SyncReply, WebhookEvent,
};
use concierge::merchant::{Responder, ResponderConfig, Wording};
use concierge::world::RunningMerchant;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

const OTHER_WORDING: &str = r#"
greeting = "Hey there! The {product} is a great pick."
ask_option = "Which {option} would suit you?"
got_it = "Noted: {value}."
invoice = "All set. Your bill comes to {total}; press the button to settle it."
pay_button = "Pay now"
paid = "Thanks for your payment! Order {order} is confirmed."
"#;

#[tokio::test]
async fn the_reference_responder_with_other_wording_still_sells() {
    let catalog = MerchantCatalog {
        profile: profile("worded", "Worded Wares", 300, 0),
        products: vec![turtleneck(
            "W-1",
            "Classic Turtleneck Sweater",
            4000,
            &["Gray", "Navy"],
            &[],
        )],
    };
    let mut config = ResponderConfig::new(catalog.profile.clone(), &random_token(8));
    config.wording = toml::from_str::<Wording>(OTHER_WORDING).unwrap();
    let merchant = RunningMerchant::start(
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        Responder::new(config, catalog.products.clone()),
    )
    .unwrap();
    let world = TestWorld::start(vec![catalog], vec![merchant.endpoint.clone()], |_| {}).await;
    let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();
    let receipt = report
        .receipt
        .as_ref()
        .unwrap_or_else(|| panic!("{}", report.render()));
    assert_eq!(receipt.total.minor, 4300);
    assert_eq!(merchant.charges().len(), 1);
    let transcript = report.render();
    assert!(
        transcript.contains("Which size would suit you?"),
        "{transcript}"
    );
    merchant.stop().await;
    world.stop().await;
}

#[derive(Clone)]
struct PlainBot {
    /// The colour the bot pretends is sold out, offering charcoal instead.
    substitute: &'static str,
    pays: Arc<AtomicUsize>,
}

async fn plain_webhook(State(bot): State<PlainBot>, body: Bytes) -> Json<SyncReply> {
    let event: WebhookEvent = serde_json::from_slice(&body).unwrap();
    let messaging = &event.entry[0].messaging[0];
    let psid = messaging.sender.id.clone();
    let say = |text: String| {
        Json(SyncReply {
            messages: vec![SendRequest {
                recipient: Id { id: psid.clone() },
                messaging_type: "RESPONSE".into(),
                message: OutgoingMessage {
                    text: Some(text),
                    ..Default::default()
                },
            }],
        })
    };
    if let Some(postback) = &messaging.postback {
        let authorised = postback.payment.as_ref().map(|p| p.allowance.max_amount);
        if postback.payload == "PAY:Q-9" && authorised == Some(4650) {
            bot.pays.fetch_add(1, Ordering::SeqCst);
            return say("Payment received. Thank you!".into());
        }
        return say("That payment did not work.".into());
    }
    let said = messaging
        .message
        .as_ref()
        .and_then(|m| m.text.clone())
        .unwrap_or_default()
        .to_lowercase();
    // "Reply PAY to confirm": the yes in words carries the authorisation.
    if said == "pay" {
        let authorised = messaging
            .message
            .as_ref()
            .and_then(|m| m.payment.as_ref())
            .map(|p| p.allowance.max_amount);
        if authorised == Some(4650) {
            bot.pays.fetch_add(1, Ordering::SeqCst);
            return say("Payment received. Thank you!".into());
        }
        return say("That payment did not work.".into());
    }
    let said = if said.contains("p-9") {
        "p-9"
    } else {
        said.as_str()
    };
    let reply = match said {
        "p-9" => "Hello and welcome! Which size do you need? We have S, M and L.".to_string(),
        "m" => format!("Lovely. Sadly {} is sold out in M, but we have charcoal instead. Would that work for you?", bot.substitute),
        "yes, please." => "That'll be $41.50 plus $5 shipping. Order Q-9: Quiet Turtleneck Sweater, Charcoal, size M. Total $46.50 including $5.00 shipping. Reply PAY to confirm.".to_string(),
        _ => "Sorry?".to_string(),
    };
    say(reply)
}

/// The plain-text bot selling a turtleneck in `color`, asked for `request`.
async fn plain_world(
    substitute: &'static str,
    color: &str,
    request: &str,
) -> (
    concierge::negotiate::ShopReport,
    Arc<AtomicUsize>,
    TestWorld,
) {
    let catalog = MerchantCatalog {
        profile: profile("plain", "Plain Speaking", 500, 0),
        products: vec![turtleneck(
            "P-9",
            "Quiet Turtleneck Sweater",
            4150,
            &[color],
            &[],
        )],
    };
    let bot = PlainBot {
        substitute,
        pays: Arc::new(AtomicUsize::new(0)),
    };
    let pays = bot.pays.clone();
    let url = serve_router(
        Router::new()
            .route("/webhook", post(plain_webhook))
            .with_state(bot),
    )
    .await;
    let world = TestWorld::start(
        vec![catalog],
        vec![endpoint("plain", "Plain Speaking", url)],
        |_| {},
    )
    .await;
    let report = world.shop.shop(request, &pay()).await.unwrap();
    (report, pays, world)
}

#[tokio::test]
async fn a_plain_text_bot_is_understood_and_paid_once() {
    // The bot calls the colour "grey" sold out and offers charcoal, which is
    // gray too: acceptable.
    let (report, pays, world) = plain_world("grey", "Charcoal", DEFAULT_REQUEST).await;
    let receipt = report
        .receipt
        .as_ref()
        .unwrap_or_else(|| panic!("{}", report.render()));
    assert_eq!(receipt.total.minor, 4650);
    assert_eq!(receipt.order_number, "Q-9");
    assert_eq!(receipt.variant, "Charcoal / M");
    assert_eq!(pays.load(Ordering::SeqCst), 1);
    let conversation = &report.conversations[0];
    assert!(
        conversation.checks.iter().all(|c| c.passed),
        "{:?}",
        conversation.checks
    );
    let said: Vec<&str> = conversation
        .transcript
        .iter()
        .filter(|l| l.speaker == concierge::merchant::messenger::session::Speaker::Concierge)
        .map(|l| l.text.as_str())
        .collect();
    assert_eq!(
        said[..3],
        [
            "Hi! I'd like to order the Quiet Turtleneck Sweater (P-9) in Charcoal, size M.",
            "M",
            "Yes, please."
        ],
        "{said:?}"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_substitute_of_another_colour_is_declined() {
    // Charcoal offered for navy is not what was asked.
    let (report, pays, world) = plain_world(
        "navy",
        "Navy",
        "buy me a navy turtleneck sweater in medium under $50",
    )
    .await;
    assert!(report.receipt.is_none());
    assert_eq!(pays.load(Ordering::SeqCst), 0);
    let failure = report.conversations[0].failure.clone().unwrap_or_default();
    assert!(
        failure.starts_with("the merchant offered a substitute"),
        "{failure}"
    );
    world.stop().await;
}
