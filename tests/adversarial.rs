//! Adversarial merchants are each contained: no payment, a clear reason, and
//! the other merchants unaffected (the reference merchants of the small
//! world still sell; beta is still paid). One test per misbehaviour:
//! changed colour/size/quantity, a price above the catalog's quote, a second
//! invoice after payment, endless questions, slow and trickling replies, a
//! 10 MB body, a body that is not a reply (read as "replies come later"), and a reply addressed to someone else.

mod common;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use common::*;
use concierge::catalog::MerchantCatalog;
use concierge::merchant::messenger::wire::*;
use concierge::negotiate::orchestrate::ConversationReport;
use concierge::negotiate::ShopReport;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    ChangedSize,
    ChangedQuantity,
    PriceAboveQuote,
    SecondInvoiceAfterPayment,
    EndlessQuestions,
    AlternatingQuestions,
    Slow,
    Trickle,
    HugeBody,
    MalformedJson,
    WrongRecipient,
}

#[derive(Clone)]
struct Evil {
    behaviour: Behaviour,
    pays: Arc<AtomicUsize>,
    invoices: Arc<AtomicUsize>,
}

fn reply(psid: &str, message: OutgoingMessage) -> SendRequest {
    SendRequest {
        recipient: Id { id: psid.into() },
        messaging_type: "RESPONSE".into(),
        message,
    }
}

fn invoice(order: &str, subtitle: &str, quantity: u32, unit: f64) -> Vec<OutgoingMessage> {
    let subtotal = unit * quantity as f64;
    let receipt = ReceiptTemplate {
        recipient_name: "x".into(),
        merchant_name: None,
        order_number: order.into(),
        currency: "USD".into(),
        payment_method: "card".into(),
        elements: vec![ReceiptElement {
            title: "Classic Turtleneck Sweater".into(),
            subtitle: Some(subtitle.into()),
            quantity: Some(quantity),
            price: unit,
            currency: Some("USD".into()),
        }],
        summary: ReceiptSummary {
            subtotal: Some(subtotal),
            shipping_cost: Some(0.0),
            total_tax: Some(0.0),
            total_cost: subtotal,
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
                text: "Pay?".into(),
                buttons: vec![Button::postback("Pay", &format!("PAY:{order}"))],
            })),
            ..Default::default()
        },
    ]
}

fn quick(text: &str, options: &[&str]) -> OutgoingMessage {
    OutgoingMessage {
        text: Some(text.into()),
        quick_replies: Some(
            options
                .iter()
                .map(|o| QuickReply {
                    content_type: "text".into(),
                    title: o.to_string(),
                    payload: o.to_string(),
                })
                .collect(),
        ),
        attachment: None,
    }
}

async fn evil_webhook(State(evil): State<Evil>, body: Bytes) -> Response {
    let Ok(event) = serde_json::from_slice::<WebhookEvent>(&body) else {
        return "".into_response();
    };
    let messaging = &event.entry[0].messaging[0];
    let psid = messaging.sender.id.clone();
    let json = |messages: Vec<OutgoingMessage>| {
        axum::Json(SyncReply {
            messages: messages.into_iter().map(|m| reply(&psid, m)).collect(),
        })
        .into_response()
    };
    if messaging.postback.is_some() {
        evil.pays.fetch_add(1, Ordering::SeqCst);
        let mut messages = vec![OutgoingMessage {
            text: Some("Payment received, thank you!".into()),
            ..Default::default()
        }];
        if evil.behaviour == Behaviour::SecondInvoiceAfterPayment {
            messages.extend(invoice("EVIL-2", "Gray / M", 1, 30.0));
        }
        return json(messages);
    }
    let said = messaging
        .message
        .as_ref()
        .and_then(|m| m.text.clone())
        .unwrap_or_default();
    if said.starts_with("No thanks") {
        return json(vec![OutgoingMessage {
            text: Some("ok".into()),
            ..Default::default()
        }]);
    }
    let n = evil.invoices.fetch_add(1, Ordering::SeqCst);
    match evil.behaviour {
        Behaviour::ChangedSize => json(invoice("EVIL-1", "Gray / L", 1, 30.0)),
        Behaviour::ChangedQuantity => json(invoice("EVIL-1", "Gray / M", 2, 30.0)),
        Behaviour::PriceAboveQuote => json(invoice("EVIL-1", "Gray / M", 1, 35.0)),
        Behaviour::SecondInvoiceAfterPayment => json(invoice("EVIL-1", "Gray / M", 1, 30.0)),
        Behaviour::EndlessQuestions => json(vec![quick("What size?", &["S", "M", "L"])]),
        Behaviour::AlternatingQuestions => {
            if n % 2 == 0 {
                json(vec![quick("What size?", &["S", "M", "L"])])
            } else {
                json(vec![quick("What color?", &["Gray", "Navy"])])
            }
        }
        Behaviour::Slow => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            json(invoice("EVIL-1", "Gray / M", 1, 30.0))
        }
        Behaviour::Trickle => {
            let stream = futures::stream::unfold(0u32, |i| async move {
                if i > 50 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                Some((Ok::<Bytes, std::io::Error>(Bytes::from_static(b" ")), i + 1))
            });
            Response::new(Body::from_stream(stream))
        }
        Behaviour::HugeBody => {
            let mut body = String::from("{\"messages\": [], \"padding\": \"");
            body.push_str(&"x".repeat(10 * 1024 * 1024));
            body.push_str("\"}");
            body.into_response()
        }
        Behaviour::MalformedJson => "{\"messages\": [".into_response(),
        Behaviour::WrongRecipient => axum::Json(SyncReply {
            messages: invoice("EVIL-1", "Gray / M", 1, 30.0)
                .into_iter()
                .map(|m| reply("someone-else", m))
                .collect(),
        })
        .into_response(),
    }
}

/// Runs the small world plus one evil merchant selling a $30 gray turtleneck
/// (the cheapest, so it would win if its invoice were believed).
async fn run(behaviour: Behaviour) -> (ShopReport, Arc<AtomicUsize>, TestWorld) {
    let mut catalogs = small_catalogs();
    catalogs.push(MerchantCatalog {
        profile: profile("evil", "Evil Emporium", 0, 0),
        products: vec![turtleneck(
            "E-1",
            "Classic Turtleneck Sweater",
            3000,
            &["Gray"],
            &[],
        )],
    });
    let evil = Evil {
        behaviour,
        pays: Arc::new(AtomicUsize::new(0)),
        invoices: Arc::new(AtomicUsize::new(0)),
    };
    let pays = evil.pays.clone();
    let router = Router::new()
        .route("/webhook", post(evil_webhook))
        .with_state(evil);
    let endpoint = endpoint("evil", "Evil Emporium", serve_router(router).await);
    let world = TestWorld::start(catalogs, vec![endpoint], |config| {
        config.turn_timeout = Duration::from_millis(800);
        config.negotiation_deadline = Duration::from_secs(3);
    })
    .await;
    let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();
    (report, pays, world)
}

fn evil(report: &ShopReport) -> &ConversationReport {
    report
        .conversations
        .iter()
        .find(|c| c.merchant_id == "evil")
        .expect("the evil merchant was contacted")
}

/// The evil merchant got no payment, and beta (the honest cheapest) did.
fn assert_contained(report: &ShopReport, pays: &AtomicUsize, world: &TestWorld) -> String {
    assert_eq!(
        pays.load(Ordering::SeqCst),
        0,
        "the evil merchant was paid:\n{}",
        report.render()
    );
    assert_eq!(
        report.choice.as_ref().map(|c| c.merchant_id.as_str()),
        Some("beta"),
        "{}",
        report.render()
    );
    assert_eq!(world.merchant("beta").charges().len(), 1);
    let conversation = evil(report);
    conversation
        .rejection()
        .or_else(|| conversation.failure.clone())
        .expect("a reason")
}

#[tokio::test]
async fn changed_size_is_rejected() {
    let (report, pays, world) = run(Behaviour::ChangedSize).await;
    let reason = assert_contained(&report, &pays, &world);
    assert!(
        reason.starts_with("size: invoice says L, asked M"),
        "{reason}"
    );
    world.stop().await;
}

#[tokio::test]
async fn changed_quantity_is_rejected() {
    let (report, pays, world) = run(Behaviour::ChangedQuantity).await;
    let reason = assert_contained(&report, &pays, &world);
    assert!(
        reason.starts_with("quantity: 2 ordered, asked 1"),
        "{reason}"
    );
    world.stop().await;
}

#[tokio::test]
async fn a_price_above_the_quote_is_rejected() {
    let (report, pays, world) = run(Behaviour::PriceAboveQuote).await;
    let reason = assert_contained(&report, &pays, &world);
    assert!(
        reason.starts_with("unit price: $35.00 each, catalog lists $30.00"),
        "{reason}"
    );
    world.stop().await;
}

#[tokio::test]
async fn endless_questions_end_the_conversation() {
    for behaviour in [Behaviour::EndlessQuestions, Behaviour::AlternatingQuestions] {
        let (report, pays, world) = run(behaviour).await;
        let reason = assert_contained(&report, &pays, &world);
        assert!(
            reason.contains("asked again") || reason.contains("no invoice after"),
            "{behaviour:?}: {reason}"
        );
        let sent = evil(&report)
            .transcript
            .iter()
            .filter(|l| l.speaker == concierge::merchant::messenger::session::Speaker::Concierge)
            .count();
        assert!(sent <= 12, "{behaviour:?}: {sent} messages sent");
        world.stop().await;
    }
}

#[tokio::test]
async fn slow_and_trickling_replies_time_out() {
    for behaviour in [Behaviour::Slow, Behaviour::Trickle] {
        // The wait is bounded by the turn timeout: the reason names it.
        let (report, pays, world) = run(behaviour).await;
        let reason = assert_contained(&report, &pays, &world);
        assert!(
            reason.contains("no answer within 800 ms"),
            "{behaviour:?}: {reason}"
        );
        world.stop().await;
    }
}

#[tokio::test]
async fn a_huge_body_is_refused() {
    let (report, pays, world) = run(Behaviour::HugeBody).await;
    let reason = assert_contained(&report, &pays, &world);
    assert!(reason.contains("reply larger than 65536 bytes"), "{reason}");
    world.stop().await;
}

/// A webhook body that is not Concierge's synchronous-reply JSON means the
/// replies come through the Send API (real bots answer "EVENT_RECEIVED");
/// a merchant that then sends nothing is out when its turn times out.
#[tokio::test]
async fn a_body_that_is_not_a_reply_means_replies_come_later() {
    let (report, pays, world) = run(Behaviour::MalformedJson).await;
    let reason = assert_contained(&report, &pays, &world);
    assert!(reason.contains("no answer within"), "{reason}");
    world.stop().await;
}

#[tokio::test]
async fn replies_addressed_to_another_conversation_are_ignored() {
    let (report, pays, world) = run(Behaviour::WrongRecipient).await;
    let reason = assert_contained(&report, &pays, &world);
    assert!(reason.contains("no answer within"), "{reason}");
    world.stop().await;
}

#[tokio::test]
async fn a_second_invoice_after_payment_is_not_paid() {
    // Here the evil merchant's first invoice is honest and cheapest, so it
    // is paid once; the extra invoice it sends after payment is not.
    let (report, pays, world) = run(Behaviour::SecondInvoiceAfterPayment).await;
    assert_eq!(
        report.choice.as_ref().unwrap().merchant_id,
        "evil",
        "{}",
        report.render()
    );
    assert_eq!(pays.load(Ordering::SeqCst), 1);
    assert_eq!(
        world
            .shop
            .store
            .count_payments(concierge::order::PaymentStatus::Confirmed)
            .unwrap(),
        1
    );
    let total: usize = world.merchants.iter().map(|m| m.charges().len()).sum();
    assert_eq!(total, 0, "no other merchant is paid");
    world.stop().await;
}
