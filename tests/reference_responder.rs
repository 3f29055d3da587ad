//! The reference auto-responder over real HTTP. Properties checked:
//! - the hub.challenge handshake answers only the right verify token;
//! - events with a bad or missing signature are refused (401);
//! - malformed JSON is 400 and an oversized body 413, without harm;
//! - a product is recognised by code and by name; unknown ones get a clear
//!   answer; only in-stock options are offered;
//! - Pay is accepted once: concurrent and repeated Pay taps charge once;
//! - a Pay with an authorisation for another amount or merchant is refused.

mod common;

use common::*;
use concierge::merchant::messenger::session::ShopperMessage;
use concierge::merchant::messenger::signature::sign;
use concierge::merchant::messenger::wire::{
    Allowance, OutgoingMessage, PaymentAuthorization, Template,
};
use concierge::negotiate::{MerchantEndpoint, Transport};
use concierge::world::{start_reference_merchants, RunningMerchant};
use std::time::Duration;

async fn start_beta() -> RunningMerchant {
    let catalogs = small_catalogs();
    start_reference_merchants(&catalogs[1..2])
        .await
        .unwrap()
        .remove(0)
}

fn text(t: &str) -> ShopperMessage {
    ShopperMessage::text(t)
}

fn texts(replies: &[OutgoingMessage]) -> String {
    replies
        .iter()
        .filter_map(|r| r.text.clone())
        .collect::<Vec<_>>()
        .join(" ")
}

fn transport() -> Transport {
    Transport::for_loopback(Duration::from_secs(3), 64 * 1024)
}

async fn invoice_for(
    transport: &Transport,
    endpoint: &MerchantEndpoint,
    psid: &str,
) -> (String, i64) {
    transport
        .send(endpoint, psid, &text("B-100"))
        .await
        .unwrap();
    transport.send(endpoint, psid, &text("S")).await.unwrap();
    let replies = transport
        .send(endpoint, psid, &text("heather grey"))
        .await
        .unwrap();
    let receipt = replies
        .iter()
        .find_map(|r| match r.attachment.as_ref()?.as_template()? {
            Template::Receipt(receipt) => Some(receipt),
            _ => None,
        })
        .expect("an invoice");
    (
        receipt.order_number,
        (receipt.summary.total_cost * 100.0).round() as i64,
    )
}

fn pay_message(endpoint: &MerchantEndpoint, order: &str, amount: i64) -> ShopperMessage {
    ShopperMessage::Postback {
        title: "Pay".into(),
        payload: format!("PAY:{order}"),
        payment: Some(PaymentAuthorization {
            token: "tok_test".into(),
            idempotency_key: format!("{}:{order}", endpoint.merchant_id),
            allowance: Allowance {
                reason: "one_time".into(),
                max_amount: amount,
                currency: "USD".into(),
                checkout_session_id: order.into(),
                merchant_id: endpoint.merchant_id.clone(),
                expires_at: concierge::merchant::messenger::wire::now_millis() / 1000 + 60,
            },
        }),
    }
}

#[tokio::test]
async fn verification_handshake_answers_only_the_right_token() {
    let merchant = start_beta().await;
    let token = merchant
        .responder()
        .expect("a Messenger responder")
        .config()
        .verify_token
        .clone();
    let client = concierge::http::client();
    let url = &merchant.endpoint.url;
    let ok = client
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=abc123"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "abc123");
    let bad = client
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=abc123"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    merchant.stop().await;
}

#[tokio::test]
async fn bad_signatures_malformed_json_and_huge_bodies_are_refused() {
    let merchant = start_beta().await;
    let client = concierge::http::client();
    let url = &merchant.endpoint.url;
    let secret = &merchant.endpoint.app_secret;
    let body = r#"{"object":"page","entry":[]}"#;

    let unsigned = client.post(url).body(body).send().await.unwrap();
    assert_eq!(unsigned.status(), 401);
    let wrong = client
        .post(url)
        .header(
            "x-hub-signature-256",
            sign("not-the-secret", body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let good = client
        .post(url)
        .header("x-hub-signature-256", sign(secret, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);

    let malformed = "{not json";
    let response = client
        .post(url)
        .header("x-hub-signature-256", sign(secret, malformed.as_bytes()))
        .body(malformed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let huge = vec![b'x'; 10 * 1024 * 1024];
    let response = client
        .post(url)
        .header("x-hub-signature-256", sign(secret, &huge))
        .body(huge)
        .send()
        .await;
    // The server refuses with 413, or closes the connection mid-upload.
    if let Ok(response) = response {
        assert_eq!(response.status(), 413);
    }
    // And it still serves.
    let again = client
        .post(url)
        .header("x-hub-signature-256", sign(secret, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    merchant.stop().await;
}

#[tokio::test]
async fn products_are_found_by_code_or_name_and_only_stock_is_offered() {
    let merchant = start_beta().await;
    let transport = transport();
    let endpoint = &merchant.endpoint;

    let replies = transport
        .send(endpoint, "p1", &text("NOPE-999"))
        .await
        .unwrap();
    assert!(
        texts(&replies).contains("could not find that product"),
        "{}",
        texts(&replies)
    );

    let replies = transport
        .send(endpoint, "p2", &text("classic turtleneck sweater"))
        .await
        .unwrap();
    assert!(
        texts(&replies).contains("What size?"),
        "{}",
        texts(&replies)
    );
    // Black is out of stock in M, so after M only the grays are offered.
    let replies = transport.send(endpoint, "p2", &text("M")).await.unwrap();
    let titles: Vec<String> = replies
        .iter()
        .flat_map(|r| r.quick_replies.clone().unwrap_or_default())
        .map(|q| q.title)
        .collect();
    assert_eq!(titles, vec!["Gray", "Heather Grey"]);
    let replies = transport
        .send(endpoint, "p2", &text("heather grey"))
        .await
        .unwrap();
    assert!(
        replies.iter().any(|r| matches!(
            r.attachment.as_ref().and_then(|a| a.as_template()),
            Some(Template::Receipt(_))
        )),
        "{replies:?}"
    );

    transport
        .send(endpoint, "p3", &text("B-100"))
        .await
        .unwrap();
    let replies = transport.send(endpoint, "p3", &text("S")).await.unwrap();
    let titles: Vec<String> = replies
        .iter()
        .flat_map(|r| r.quick_replies.clone().unwrap_or_default())
        .map(|q| q.title)
        .collect();
    assert_eq!(titles, vec!["Gray", "Heather Grey", "Black"]);
    merchant.stop().await;
}

#[tokio::test]
async fn concurrent_and_repeated_pay_taps_charge_once() {
    let merchant = start_beta().await;
    let transport = transport();
    let endpoint = merchant.endpoint.clone();
    let (order, total) = invoice_for(&transport, &endpoint, "payer").await;
    let message = pay_message(&endpoint, &order, total);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let transport = transport.clone();
        let endpoint = endpoint.clone();
        let message = message.clone();
        tasks.push(tokio::spawn(async move {
            transport.send(&endpoint, "payer", &message).await.unwrap()
        }));
    }
    let mut confirmations = 0;
    for task in tasks {
        let replies = task.await.unwrap();
        let said = texts(&replies);
        assert!(
            said.contains("Payment received") || said.contains("Already paid"),
            "{said}"
        );
        confirmations += usize::from(said.contains("Payment received"));
    }
    assert_eq!(confirmations, 1);
    assert_eq!(merchant.charges().len(), 1);
    merchant.stop().await;
}

#[tokio::test]
async fn a_pay_with_the_wrong_authorisation_is_refused() {
    let merchant = start_beta().await;
    let transport = transport();
    let endpoint = merchant.endpoint.clone();
    let (order, total) = invoice_for(&transport, &endpoint, "cheat").await;

    let too_little = pay_message(&endpoint, &order, total - 1);
    let said = texts(
        &transport
            .send(&endpoint, "cheat", &too_little)
            .await
            .unwrap(),
    );
    assert!(said.contains("Payment declined"), "{said}");

    let mut other_merchant = endpoint.clone();
    other_merchant.merchant_id = "someone-else".into();
    let wrong_merchant = pay_message(&other_merchant, &order, total);
    let said = texts(
        &transport
            .send(&endpoint, "cheat", &wrong_merchant)
            .await
            .unwrap(),
    );
    assert!(said.contains("another merchant"), "{said}");

    let no_payment = ShopperMessage::Postback {
        title: "Pay".into(),
        payload: format!("PAY:{order}"),
        payment: None,
    };
    let said = texts(
        &transport
            .send(&endpoint, "cheat", &no_payment)
            .await
            .unwrap(),
    );
    assert!(said.contains("no payment authorisation"), "{said}");
    assert!(merchant.charges().is_empty());
    merchant.stop().await;
}
