//! UCP over real HTTP on loopback: Concierge's buyer ([`UcpProtocol`])
//! against the reference merchant ([`UcpMerchant`]), against hostile
//! merchants written here as small axum apps, and against a replay of a
//! recorded checkout with the official reference merchant. Properties
//! checked:
//! - the buyer buys through the `Negotiation` trait: an invoice with the
//!   merchant's lines ("Wool Socks" / "Gray / M"), cheapest shipping, tax
//!   and total; one payment, one charge, the order readable;
//! - a payment sent again (repay, concurrently, or with a new key and the
//!   same authorisation) is answered with the same order and charged once;
//! - the merchant refuses allowances below the total, in another currency,
//!   expired, or for another session or merchant, and takes none of them;
//! - a total raised after the invoice is not paid: the buyer refuses to
//!   send the credential when the session's total grew, and does not accept
//!   a completion above what it authorised;
//! - a session holding other items than asked, needing the shopper
//!   (`requires_escalation`), or out of stock ends as Failed with the
//!   merchant's words;
//! - a merchant that never answers, or never finishes completing, is given
//!   up within the deadline / request timeout;
//! - the merchant's HTTP contract: idempotency keys (same body, same answer;
//!   another body, 409), JSON errors for oversized and malformed bodies and
//!   unknown routes, a too-new UCP version refused, cancelled and completed
//!   sessions not changed, discount codes applied in order;
//! - every message of the recorded transcript decodes, and replaying its
//!   answers drives the buyer to an invoice (and to the merchant's refusal
//!   for the out-of-stock item);
//! - found by the official conformance suite: shipping options follow the
//!   destination's country (a choice no longer offered is dropped), a
//!   free-shipping item makes standard shipping free, the platform's payment
//!   choice is echoed without credentials (instruments always a list), and
//!   every document discovery names is served by the merchant or is the
//!   spec's own; the suite's seed files make the shop `merchant serve
//!   --conformance-data` serves.

mod common;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use common::{profile, socks, turtleneck};
use concierge::merchant::messenger::transport::guarded_client;
use concierge::merchant::messenger::wire::PaymentAuthorization;
use concierge::merchant::network::NetworkPolicy;
use concierge::merchant::protocol::{
    MerchantEndpoint, MerchantProtocol, Negotiation, Opening, PaymentReply, SessionState, Wanted,
};
use concierge::merchant::ucp::wire::{
    Checkout, CheckoutRequest, CompleteRequest, ErrorResponse, UcpProfile,
};
use concierge::merchant::ucp::{
    DiscountCode, ServiceLevel, ShippingRate, UcpMerchant, UcpMerchantConfig, UcpProtocol,
};
use concierge::order::Invoice;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::time::Instant;

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// Socks at $9.00 (gray and black, S/M/L; black L out of stock), $4.00
/// flat shipping, 8.25% tax.
fn merchant_config() -> UcpMerchantConfig {
    let mut config = UcpMerchantConfig::new(profile("harbor", "Harbor Goods", 400, 825));
    config.discount_codes = vec![
        DiscountCode::percent("10OFF", 1000),
        DiscountCode::percent("WELCOME20", 2000),
        DiscountCode::fixed("FIXED500", 500, "USD"),
    ];
    config
}

fn catalog() -> Vec<concierge::catalog::feed::FeedProduct> {
    let mut socks = socks("WS-1", 900);
    if let Some(variant) = socks.variants.iter_mut().find(|v| v.id == "WS-1-BLACK-L") {
        variant.availability = concierge::catalog::feed::Availability::from_stock(false);
    }
    vec![
        socks,
        turtleneck("TN-1", "Merino Turtleneck", 4500, &["Gray"], &[]),
    ]
}

async fn start_merchant(config: UcpMerchantConfig) -> (Arc<UcpMerchant>, String) {
    let merchant = UcpMerchant::new(config, catalog());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = merchant.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, concierge::merchant::ucp::app(served)).await;
    });
    (merchant, base)
}

async fn serve_app(router: Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    base
}

fn endpoint(id: &str, url: &str) -> MerchantEndpoint {
    MerchantEndpoint {
        merchant_id: id.into(),
        name: format!("{id} store"),
        protocol: "ucp".into(),
        url: url.into(),
        app_secret: String::new(),
        page_id: String::new(),
        served_here: false,
        live_catalog: false,
    }
}

fn buyer(timeout: Duration) -> UcpProtocol {
    let policy = NetworkPolicy::with_loopback();
    UcpProtocol::new(guarded_client(timeout, policy), policy, timeout)
}

fn wanted(product: &str, variant: &str, title: &str, quantity: u32) -> Wanted {
    Wanted {
        product_code: product.into(),
        variant_id: variant.into(),
        product_title: title.into(),
        color: None,
        size: None,
        quantity,
        material: None,
        shipping_address: None,
        color_label: None,
        size_label: None,
        currency: Some("USD".into()),
        request: String::new(),
        variant_title: None,
    }
}

fn opening(items: Vec<Wanted>) -> Opening {
    Opening {
        conversation_id: "conv-1".into(),
        items,
        max_turns: 8,
        ask_shopper: false,
        pick_listed_variant: false,
    }
}

fn socks_opening() -> Opening {
    opening(vec![wanted("WS-1", "WS-1-GRAY-M", "Wool Socks", 2)])
}

/// The authorisation the orchestration would give for `invoice`.
fn authorization(invoice: &Invoice) -> PaymentAuthorization {
    invoice.authorization("tok_test".into(), &invoice.payment_key("conv-1"), 600)
}

async fn negotiated(
    protocol: &UcpProtocol,
    endpoint: &MerchantEndpoint,
    opening: Opening,
) -> Box<dyn Negotiation> {
    let mut checkout = protocol.open(endpoint, opening);
    checkout
        .negotiate(Instant::now() + Duration::from_secs(5), None)
        .await;
    checkout
}

fn transcript(checkout: &dyn Negotiation) -> String {
    checkout
        .transcript()
        .iter()
        .map(|line| line.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn http() -> reqwest::Client {
    concierge::http::client_builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------
// Concierge buys from the reference merchant
// ---------------------------------------------------------------------------

#[tokio::test]
async fn concierge_buys_from_the_reference_merchant_and_pays_once() {
    let (merchant, base) = start_merchant(merchant_config()).await;
    let protocol = buyer(Duration::from_secs(3));
    let endpoint = endpoint("harbor", &base);
    let mut checkout = negotiated(&protocol, &endpoint, socks_opening()).await;

    assert_eq!(
        checkout.state(),
        SessionState::Invoiced,
        "{:?}\n{}",
        checkout.failure(),
        transcript(&*checkout)
    );
    let invoice = checkout.invoice().unwrap().clone();
    assert!(invoice.order_number.starts_with("chk_"));
    assert_eq!(invoice.currency, "USD");
    assert_eq!(invoice.lines.len(), 1);
    let line = &invoice.lines[0];
    assert_eq!(
        (line.title.as_str(), line.subtitle.as_str()),
        ("Wool Socks", "Gray / M")
    );
    assert_eq!((line.quantity, line.unit_price), (2, 900));
    // Standard shipping (the cheaper option) and 8.25% tax on $18.00,
    // rounded half up.
    assert_eq!(invoice.subtotal, Some(1800));
    assert_eq!(invoice.shipping, 400);
    assert_eq!(invoice.tax, 149);
    assert_eq!(invoice.adjustments, 0);
    assert_eq!(invoice.total, 2349);
    assert!(checkout.can_agree());
    assert_eq!(checkout.quoted_unit_price(), Some(900));
    let said = transcript(&*checkout);
    assert!(said.contains("created checkout chk_"), "{said}");
    assert!(said.contains("2 x Wool Socks - Gray / M"), "{said}");
    assert!(said.contains("chose Standard Shipping at $4.00"), "{said}");

    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let request: CompleteRequest = serde_json::from_str(&payment).unwrap();
    assert_eq!(
        request.instrument().unwrap().handler_id,
        "concierge_allowance"
    );
    let reply = checkout.pay(&payment).await.unwrap();
    let PaymentReply::Confirmed(text) = reply else {
        panic!("not confirmed: {reply:?}\n{}", transcript(&*checkout));
    };
    assert_eq!(checkout.state(), SessionState::Paid);
    let charges = merchant.charges();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount.minor, 2349);
    assert_eq!(charges[0].checkout_session_id, invoice.order_number);
    assert!(text.contains(&charges[0].order_id), "{text}");

    // The order is there to read, with its checkout and shipping.
    let order: Value = http()
        .get(format!("{base}/orders/{}", charges[0].order_id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["checkout_id"], json!(invoice.order_number));
    assert_eq!(
        order["fulfillment"]["expectations"][0]["description"],
        json!("Standard Shipping")
    );
}

#[tokio::test]
async fn a_payment_sent_again_is_answered_with_the_same_order_and_charged_once() {
    let (merchant, base) = start_merchant(merchant_config()).await;
    let protocol = buyer(Duration::from_secs(3));
    let endpoint = endpoint("harbor", &base);
    let mut checkout = negotiated(&protocol, &endpoint, socks_opening()).await;
    let invoice = checkout.invoice().unwrap().clone();
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let first = checkout.pay(&payment).await.unwrap();
    assert!(matches!(first, PaymentReply::Confirmed(_)), "{first:?}");
    let order_id = merchant.charges()[0].order_id.clone();

    // Reconciliation sends the stored payment again, several at once.
    let repays = (0..4).map(|_| protocol.repay(&endpoint, "conv-1", &payment, invoice.total));
    for reply in futures::future::join_all(repays).await {
        match reply.unwrap() {
            PaymentReply::Confirmed(text) => assert!(text.contains(&order_id), "{text}"),
            other => panic!("{other:?}"),
        }
    }
    // The same authorisation under another Idempotency-Key: the same
    // completed session, not a second charge.
    let answer = http()
        .post(format!(
            "{base}/checkout-sessions/{}/complete",
            invoice.order_number
        ))
        .header("Idempotency-Key", "another-key")
        .header("Content-Type", "application/json")
        .body(payment.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let completed: Checkout = answer.json().await.unwrap();
    assert_eq!(completed.order_id(), Some(order_id.as_str()));
    assert_eq!(merchant.charges().len(), 1);

    // Another authorisation for a completed session is refused.
    let mut other = authorization(&invoice);
    other.token = "tok_other".into();
    other.idempotency_key = "harbor:conv-2:x".into();
    let other = checkout.payment(other).unwrap();
    let answer = http()
        .post(format!(
            "{base}/checkout-sessions/{}/complete",
            invoice.order_number
        ))
        .header("Content-Type", "application/json")
        .body(other)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 409);
    assert_eq!(merchant.charges().len(), 1);
}

#[tokio::test]
async fn the_reference_merchant_refuses_allowances_that_do_not_fit() {
    let (merchant, base) = start_merchant(merchant_config()).await;
    let protocol = buyer(Duration::from_secs(3));
    let endpoint = endpoint("harbor", &base);
    let mut checkout = negotiated(&protocol, &endpoint, socks_opening()).await;
    let invoice = checkout.invoice().unwrap().clone();
    let url = format!("{base}/checkout-sessions/{}/complete", invoice.order_number);

    type Change = fn(&mut PaymentAuthorization);
    let cases: [(&str, Change); 6] = [
        ("below the total", |a| a.allowance.max_amount -= 1),
        ("is in EUR", |a| a.allowance.currency = "EUR".into()),
        ("expired", |a| a.allowance.expires_at = 1),
        ("another checkout session", |a| {
            a.allowance.checkout_session_id = "chk_other".into()
        }),
        ("another merchant", |a| {
            a.allowance.merchant_id = "elsewhere".into()
        }),
        ("token is empty", |a| a.token.clear()),
    ];
    for (expected, change) in cases {
        let mut authorization = authorization(&invoice);
        change(&mut authorization);
        let body = checkout.payment(authorization).unwrap();
        let answer = http()
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 402, "{expected}");
        let error: ErrorResponse = answer.json().await.unwrap();
        assert_eq!(error.messages[0].code.as_deref(), Some("payment_declined"));
        let text = error.text().unwrap();
        assert!(text.contains(expected), "{expected}: {text}");
    }
    assert!(merchant.charges().is_empty());

    // The buyer itself never sends an allowance below the session's total.
    let mut short = authorization(&invoice);
    short.allowance.max_amount = invoice.total - 1;
    let payment = checkout.payment(short).unwrap();
    let PaymentReply::Refused(why) = checkout.pay(&payment).await.unwrap() else {
        panic!("paid below the total");
    };
    assert!(why.contains("above the $23.48 authorised"), "{why}");
    assert!(merchant.charges().is_empty());
}

// ---------------------------------------------------------------------------
// Hostile merchants
// ---------------------------------------------------------------------------

/// How a hostile merchant misbehaves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trick {
    /// Reads back a total raised to $25.00 once the invoice is made.
    RaiseTotalBeforeComplete,
    /// Completes at $25.00 whatever was invoiced.
    RaiseTotalAtComplete,
    /// Puts another item in the session than the one asked for.
    WrongItem,
    /// Wants the shopper on its own site.
    Escalate,
    /// Answers every complete with `complete_in_progress`, for ever.
    NeverCompletes,
    /// Accepts the create request and never answers.
    Hangs,
}

struct Hostile {
    trick: Trick,
    completes: AtomicUsize,
    reads: AtomicUsize,
}

fn hostile_session(id: &str, status: &str, item_id: &str, total: i64) -> Value {
    json!({
        "ucp": {"version": "2026-01-11", "capabilities": [{"name": "dev.ucp.shopping.checkout", "version": "2026-01-11"}]},
        "id": id,
        "status": status,
        "currency": "USD",
        "line_items": [{"id": "li_1", "quantity": 2,
            "item": {"id": item_id, "title": "Wool Socks - Gray / M", "price": 900},
            "totals": [{"type": "subtotal", "amount": 1800}, {"type": "total", "amount": 1800}]}],
        "totals": [{"type": "subtotal", "amount": 1800},
            {"type": "fulfillment", "amount": total - 1800},
            {"type": "total", "amount": total}],
        "links": [],
        "payment": {"handlers": [{"id": "allow", "name": "dev.concierge.allowance", "version": "2026-01-11",
            "spec": "https://x.example/spec", "config_schema": "https://x.example/c", "instrument_schemas": [], "config": {}}]}
    })
}

async fn start_hostile(trick: Trick) -> (Arc<Hostile>, String) {
    let hostile = Arc::new(Hostile {
        trick,
        completes: AtomicUsize::new(0),
        reads: AtomicUsize::new(0),
    });
    let router = Router::new()
        .route(
            "/.well-known/ucp",
            get(|headers: HeaderMap| async move {
                let host = headers["host"].to_str().unwrap().to_string();
                Json(json!({
                    "ucp": {"version": "2026-01-11",
                        "services": {"dev.ucp.shopping": {"version": "2026-01-11", "spec": "https://ucp.dev",
                            "rest": {"schema": "https://ucp.dev/x.json", "endpoint": format!("http://{host}")}}},
                        "capabilities": [{"name": "dev.ucp.shopping.checkout", "version": "2026-01-11"}]},
                    "payment": {"handlers": [{"id": "allow", "name": "dev.concierge.allowance"}]}
                }))
            }),
        )
        .route(
            "/checkout-sessions",
            post(|State(h): State<Arc<Hostile>>| async move {
                match h.trick {
                    Trick::Hangs => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        StatusCode::OK.into_response()
                    }
                    Trick::WrongItem => (
                        StatusCode::CREATED,
                        Json(hostile_session("chk_h", "ready_for_complete", "WS-1-RED-XL", 2200)),
                    )
                        .into_response(),
                    Trick::Escalate => {
                        let mut session = hostile_session("chk_h", "requires_escalation", "WS-1-GRAY-M", 2200);
                        session["messages"] = json!([{"type": "error", "code": "age_check",
                            "content": "Please confirm your age on our site", "severity": "requires_buyer_input"}]);
                        session["continue_url"] = json!("https://shop.example/checkout/chk_h");
                        (StatusCode::CREATED, Json(session)).into_response()
                    }
                    _ => (
                        StatusCode::CREATED,
                        Json(hostile_session("chk_h", "ready_for_complete", "WS-1-GRAY-M", 2200)),
                    )
                        .into_response(),
                }
            }),
        )
        .route(
            "/checkout-sessions/{id}",
            get(|State(h): State<Arc<Hostile>>| async move {
                h.reads.fetch_add(1, Ordering::SeqCst);
                let total = if h.trick == Trick::RaiseTotalBeforeComplete { 2500 } else { 2200 };
                let status = if h.trick == Trick::NeverCompletes { "complete_in_progress" } else { "ready_for_complete" };
                Json(hostile_session("chk_h", status, "WS-1-GRAY-M", total))
            }),
        )
        .route(
            "/checkout-sessions/{id}/complete",
            post(|State(h): State<Arc<Hostile>>| async move {
                h.completes.fetch_add(1, Ordering::SeqCst);
                match h.trick {
                    Trick::NeverCompletes => Json(hostile_session("chk_h", "complete_in_progress", "WS-1-GRAY-M", 2200)),
                    _ => {
                        let mut session = hostile_session("chk_h", "completed", "WS-1-GRAY-M", 2500);
                        session["order"] = json!({"id": "ord_h", "permalink_url": "https://x.example/o"});
                        Json(session)
                    }
                }
            }),
        )
        .with_state(hostile.clone());
    (hostile, serve_app(router).await)
}

#[tokio::test]
async fn a_total_raised_after_the_invoice_is_not_sent_the_credential() {
    let (hostile, base) = start_hostile(Trick::RaiseTotalBeforeComplete).await;
    let protocol = buyer(Duration::from_secs(3));
    let mut checkout = negotiated(&protocol, &endpoint("h", &base), socks_opening()).await;
    let invoice = checkout.invoice().unwrap().clone();
    assert_eq!(invoice.total, 2200);
    assert!(checkout.can_agree());
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let reply = checkout.pay(&payment).await.unwrap();
    let PaymentReply::Refused(why) = reply else {
        panic!("{reply:?}");
    };
    assert!(why.contains("$25.00, above the $22.00 authorised"), "{why}");
    assert_eq!(hostile.completes.load(Ordering::SeqCst), 0);
    assert_eq!(checkout.state(), SessionState::PaymentRefused);
}

#[tokio::test]
async fn a_completion_above_the_authorised_amount_is_not_accepted_as_paid() {
    let (hostile, base) = start_hostile(Trick::RaiseTotalAtComplete).await;
    let protocol = buyer(Duration::from_secs(3));
    let endpoint = endpoint("h", &base);
    let mut checkout = negotiated(&protocol, &endpoint, socks_opening()).await;
    let invoice = checkout.invoice().unwrap().clone();
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let PaymentReply::Refused(why) = checkout.pay(&payment).await.unwrap() else {
        panic!("accepted a completion above the authorisation");
    };
    assert!(why.contains("above the $22.00 authorised"), "{why}");
    assert_eq!(hostile.completes.load(Ordering::SeqCst), 1);
    // Sending it again reads the same.
    let again = protocol
        .repay(&endpoint, "conv-1", &payment, invoice.total)
        .await
        .unwrap();
    assert!(matches!(again, PaymentReply::Refused(_)), "{again:?}");
}

#[tokio::test]
async fn a_session_with_another_item_than_asked_fails() {
    let (_, base) = start_hostile(Trick::WrongItem).await;
    let checkout = negotiated(
        &buyer(Duration::from_secs(3)),
        &endpoint("h", &base),
        socks_opening(),
    )
    .await;
    assert_eq!(checkout.state(), SessionState::Failed);
    let failure = checkout.failure().unwrap();
    assert!(
        failure.contains("holds 2 x WS-1-RED-XL, not what was asked (2 x WS-1-GRAY-M)"),
        "{failure}"
    );
    assert!(checkout.invoice().is_none());
    assert!(!checkout.can_agree());
}

#[tokio::test]
async fn a_session_needing_the_shopper_fails_with_the_merchants_words() {
    let (_, base) = start_hostile(Trick::Escalate).await;
    let checkout = negotiated(
        &buyer(Duration::from_secs(3)),
        &endpoint("h", &base),
        socks_opening(),
    )
    .await;
    assert_eq!(checkout.state(), SessionState::Failed);
    let failure = checkout.failure().unwrap();
    assert!(
        failure.contains("Please confirm your age on our site"),
        "{failure}"
    );
    assert!(
        failure.contains("https://shop.example/checkout/chk_h"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_merchant_that_never_answers_is_given_up_at_the_deadline() {
    let (_, base) = start_hostile(Trick::Hangs).await;
    let protocol = buyer(Duration::from_secs(30));
    let mut checkout = protocol.open(&endpoint("h", &base), socks_opening());
    // Bounded by the deadline: a hang would trip the minute-long guard
    // (how long it takes is a benchmark's figure, not asserted here).
    tokio::time::timeout(
        Duration::from_secs(60),
        checkout.negotiate(Instant::now() + Duration::from_millis(800), None),
    )
    .await
    .expect("the negotiation ends by its deadline");
    assert_eq!(checkout.state(), SessionState::Failed);
    assert!(
        checkout.failure().unwrap().contains("no answer"),
        "{:?}",
        checkout.failure()
    );
}

#[tokio::test]
async fn a_session_that_never_completes_is_an_unknown_payment_within_the_timeout() {
    let (hostile, base) = start_hostile(Trick::NeverCompletes).await;
    let protocol = buyer(Duration::from_millis(1500));
    let endpoint = endpoint("h", &base);
    let mut checkout = negotiated(&protocol, &endpoint, socks_opening()).await;
    // The pre-check reads `complete_in_progress`: not ready, not paid.
    let invoice = checkout.invoice().unwrap().clone();
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let reply = checkout.pay(&payment).await.unwrap();
    assert!(matches!(reply, PaymentReply::Refused(_)), "{reply:?}");
    assert_eq!(hostile.completes.load(Ordering::SeqCst), 0);
    // Sent again (reconciliation), the complete never settles: no answer,
    // within the request timeout.
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        protocol.repay(&endpoint, "conv-1", &payment, invoice.total),
    )
    .await
    .expect("the payment sent again is bounded");
    assert!(result.is_err(), "{result:?}");
    assert_eq!(hostile.completes.load(Ordering::SeqCst), 1);
    assert!(hostile.reads.load(Ordering::SeqCst) >= 2);
}

// ---------------------------------------------------------------------------
// The reference merchant's own refusals, as the buyer reads them
// ---------------------------------------------------------------------------

#[tokio::test]
async fn out_of_stock_unknown_and_ambiguous_items_fail_with_the_merchants_words() {
    let (_, base) = start_merchant(merchant_config()).await;
    let protocol = buyer(Duration::from_secs(3));
    let endpoint = endpoint("harbor", &base);
    let check = |product: &str, variant: &str, expected: &'static str| {
        let protocol = protocol.clone();
        let endpoint = endpoint.clone();
        let opening = opening(vec![wanted(product, variant, "Wool Socks", 1)]);
        async move {
            let checkout = negotiated(&protocol, &endpoint, opening).await;
            assert_eq!(checkout.state(), SessionState::Failed, "{expected}");
            let failure = checkout.failure().unwrap().to_string();
            assert!(failure.contains(expected), "{expected}: {failure}");
        }
    };
    check(
        "WS-1",
        "WS-1-BLACK-L",
        "Insufficient stock for item WS-1-BLACK-L",
    )
    .await;
    check("NOPE", "", "Item NOPE not found").await;
    check("WS-1", "", "Item WS-1 has several variants").await;
}

#[tokio::test]
async fn a_declined_invoice_cancels_the_session() {
    let (_, base) = start_merchant(merchant_config()).await;
    let protocol = buyer(Duration::from_secs(3));
    let mut checkout = negotiated(&protocol, &endpoint("harbor", &base), socks_opening()).await;
    let id = checkout.invoice().unwrap().order_number.clone();
    checkout.decline("a cheaper offer elsewhere").await;
    assert_eq!(checkout.state(), SessionState::Declined);
    let session: Checkout = http()
        .get(format!("{base}/checkout-sessions/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session.status.as_str(), "canceled");
    assert!(transcript(&*checkout).contains("canceled checkout"));
}

#[tokio::test]
async fn an_address_when_configured_is_given_and_kept_on_the_order() {
    let mut config = merchant_config();
    config.require_destination = true;
    let (merchant, base) = start_merchant(config).await;
    let protocol = buyer(Duration::from_secs(3));
    let endpoint = endpoint("harbor", &base);

    // Without an address the merchant's question cannot be answered.
    let checkout = negotiated(&protocol, &endpoint, socks_opening()).await;
    assert_eq!(checkout.state(), SessionState::Failed);
    assert!(
        checkout
            .failure()
            .unwrap()
            .contains("CONCIERGE_SHIPPING_ADDRESS"),
        "{:?}",
        checkout.failure()
    );

    let mut with_address = socks_opening();
    with_address.items[0].shipping_address = Some("1 Main Street, Springfield".into());
    let mut checkout = negotiated(&protocol, &endpoint, with_address).await;
    assert_eq!(
        checkout.state(),
        SessionState::Invoiced,
        "{:?}",
        checkout.failure()
    );
    let invoice = checkout.invoice().unwrap().clone();
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    assert!(matches!(
        checkout.pay(&payment).await.unwrap(),
        PaymentReply::Confirmed(_)
    ));
    let order: Value = http()
        .get(format!("{base}/orders/{}", merchant.charges()[0].order_id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        order["fulfillment"]["expectations"][0]["destination"]["street_address"],
        json!("1 Main Street, Springfield")
    );
}

#[tokio::test]
async fn a_buyer_cannot_cancel_a_placed_order_in_ucp() {
    let protocol = buyer(Duration::from_secs(1));
    let order = concierge::order::OrderRecord {
        id: 1,
        created_at: 0,
        request: String::new(),
        merchant_id: "harbor".into(),
        merchant_name: "Harbor Goods".into(),
        order_number: "chk_1".into(),
        product_title: "Wool Socks".into(),
        variant: String::new(),
        quantity: 1,
        currency: "USD".into(),
        subtotal: 0,
        shipping: 0,
        tax: 0,
        total: 0,
        status: concierge::order::OrderStatus::Paid,
        psid: String::new(),
        status_detail: String::new(),
        shopper: String::new(),
    };
    let reply = protocol
        .cancel(&endpoint("harbor", "http://127.0.0.1:9"), &order)
        .await
        .unwrap();
    let concierge::merchant::protocol::CancelReply::Refused(text) = reply else {
        panic!("{reply:?}");
    };
    assert!(text.contains("no way for a buyer to cancel"), "{text}");
}

// ---------------------------------------------------------------------------
// The reference merchant's HTTP contract
// ---------------------------------------------------------------------------

async fn post_json(url: &str, key: Option<&str>, body: &Value) -> (u16, Value) {
    let mut request = http().post(url).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.json().await.unwrap())
}

fn create_body(item: &str, quantity: i64) -> Value {
    json!({"line_items": [{"item": {"id": item}, "quantity": quantity}], "currency": "USD"})
}

#[tokio::test]
async fn discovery_names_the_endpoint_it_was_reached_at_and_the_allowance_handler() {
    let (_, base) = start_merchant(merchant_config()).await;
    let profile: UcpProfile = http()
        .get(format!("{base}/.well-known/ucp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(profile.ucp.version, "2026-01-11");
    assert_eq!(profile.rest_endpoint(), Some(base.as_str()));
    for capability in [
        "dev.ucp.shopping.checkout",
        "dev.ucp.shopping.order",
        "dev.ucp.shopping.fulfillment",
        "dev.ucp.shopping.discount",
    ] {
        assert!(profile.has_capability(capability), "{capability}");
    }
    let handler = profile.handler_named("dev.concierge.allowance").unwrap();
    assert_eq!(handler.config["merchant_id"], json!("harbor"));
    // The handler's spec and schemas are served where the profile says.
    for url in std::iter::once(&handler.spec)
        .chain(std::iter::once(&handler.config_schema))
        .chain(&handler.instrument_schemas)
    {
        let answer = http().get(url).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{url}");
    }
    // And registration reads the same profile.
    let client = guarded_client(Duration::from_secs(3), NetworkPolicy::with_loopback());
    let discovered = concierge::merchant::ucp::discover(&client, &base)
        .await
        .unwrap();
    assert_eq!(discovered, profile);
}

#[tokio::test]
async fn idempotency_keys_give_the_same_answer_or_a_conflict() {
    let (_, base) = start_merchant(merchant_config()).await;
    let url = format!("{base}/checkout-sessions");
    let body = create_body("WS-1-GRAY-M", 1);
    let first = post_json(&url, Some("key-1"), &body).await;
    assert_eq!(first.0, 201);
    let again = post_json(&url, Some("key-1"), &body).await;
    assert_eq!(again, first);
    let conflict = post_json(&url, Some("key-1"), &create_body("WS-1-GRAY-M", 2)).await;
    assert_eq!(conflict.0, 409);
    assert_eq!(
        conflict.1["messages"][0]["code"],
        json!("idempotency_conflict")
    );
    // Without a key, each request is its own.
    let other = post_json(&url, None, &body).await;
    assert_ne!(other.1["id"], first.1["id"]);
}

#[tokio::test]
async fn errors_are_json_in_the_specs_shape() {
    let (_, base) = start_merchant(merchant_config()).await;
    let url = format!("{base}/checkout-sessions");
    let check = |status: u16, body: Value, code: &str| {
        assert_eq!(body["messages"][0]["type"], json!("error"), "{body}");
        assert_eq!(body["messages"][0]["code"], json!(code), "{body}");
        assert!(body["detail"].is_string(), "{body}");
        status
    };
    // Oversized.
    let big = "x".repeat(70 * 1024);
    let answer = http()
        .post(&url)
        .header("Content-Type", "application/json")
        .body(format!("{{\"pad\": \"{big}\"}}"))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    assert_eq!(check(status, answer.json().await.unwrap(), "invalid"), 413);
    // Malformed.
    let answer = http().post(&url).body("{not json").send().await.unwrap();
    let status = answer.status().as_u16();
    assert_eq!(check(status, answer.json().await.unwrap(), "invalid"), 400);
    // Not a create request.
    let (status, body) = post_json(&url, None, &json!({"line_items": "socks"})).await;
    assert_eq!(check(status, body, "invalid"), 400);
    // Quantity out of range, out of stock, unknown.
    let (status, body) = post_json(&url, None, &create_body("WS-1-GRAY-M", 0)).await;
    assert_eq!(check(status, body, "invalid"), 400);
    let (status, body) = post_json(&url, None, &create_body("WS-1-GRAY-M", 1001)).await;
    assert_eq!(check(status, body.clone(), "out_of_stock"), 400);
    assert_eq!(
        body["detail"],
        json!("Insufficient stock for item WS-1-GRAY-M")
    );
    let (status, body) = post_json(&url, None, &create_body("NOPE", 1)).await;
    assert_eq!(check(status, body, "not_found"), 400);
    // Unknown route and session.
    let answer = http().get(format!("{base}/nowhere")).send().await.unwrap();
    let status = answer.status().as_u16();
    assert_eq!(
        check(status, answer.json().await.unwrap(), "not_found"),
        404
    );
    let answer = http()
        .get(format!("{base}/checkout-sessions/chk_nope"))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    assert_eq!(
        check(status, answer.json().await.unwrap(), "not_found"),
        404
    );
    // A later UCP version than the merchant's.
    let answer = http()
        .post(&url)
        .header(
            "UCP-Agent",
            r#"profile="https://p.example/x"; version="2099-01-01""#,
        )
        .json(&create_body("WS-1-GRAY-M", 1))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["status"], json!("requires_escalation"));
    assert_eq!(check(status, body, "version_unsupported"), 400);
}

#[tokio::test]
async fn cancelled_and_completed_sessions_are_not_changed() {
    let (merchant, base) = start_merchant(merchant_config()).await;
    let url = format!("{base}/checkout-sessions");
    let (_, session) = post_json(&url, None, &create_body("WS-1-GRAY-M", 1)).await;
    let id = session["id"].as_str().unwrap().to_string();
    let (status, canceled) = post_json(&format!("{url}/{id}/cancel"), None, &json!({})).await;
    assert_eq!(
        (status, canceled["status"].clone()),
        (200, json!("canceled"))
    );
    let (status, _) = post_json(&format!("{url}/{id}/cancel"), None, &json!({})).await;
    assert_eq!(status, 409);
    let answer = http()
        .put(format!("{url}/{id}"))
        .json(&create_body("WS-1-GRAY-M", 2))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 409);
    // A cancelled session is not completed, whatever the payment.
    let protocol = buyer(Duration::from_secs(3));
    let mut checkout = negotiated(&protocol, &endpoint("harbor", &base), socks_opening()).await;
    let mut invoice = checkout.invoice().unwrap().clone();
    invoice.order_number = id.clone();
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let mut request: Value = serde_json::from_str(&payment).unwrap();
    request["payment_data"]["credential"]["binding"]["checkout_id"] = json!(id);
    let (status, body) = post_json(&format!("{url}/{id}/complete"), None, &request).await;
    assert_eq!(status, 409, "{body}");
    assert!(merchant.charges().is_empty());
}

#[tokio::test]
async fn discount_codes_apply_in_order_and_unknown_ones_are_warned_about() {
    let (_, base) = start_merchant(merchant_config()).await;
    let url = format!("{base}/checkout-sessions");
    let (_, session) = post_json(&url, None, &create_body("TN-1-GRAY-M", 1)).await;
    let id = session["id"].as_str().unwrap();
    let update = json!({
        "id": id,
        "line_items": [{"id": "li_1", "item": {"id": "TN-1-GRAY-M"}, "quantity": 1}],
        "discounts": {"codes": ["10off", "WELCOME20", "BOGUS"]},
        "fulfillment": {"methods": [{"id": "shipping_1", "groups": [{"id": "package_1", "selected_option_id": "exp-ship"}]}]}
    });
    let answer = http()
        .put(format!("{url}/{id}"))
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let checkout: Checkout = answer.json().await.unwrap();
    // $45.00 - 10% = $40.50, - 20% = $32.40; express $10.00; tax 8.25% of
    // $32.40 = $2.67.
    let applied = checkout
        .discounts
        .as_ref()
        .unwrap()
        .applied
        .as_ref()
        .unwrap();
    assert_eq!(
        applied.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![450, 810]
    );
    use concierge::merchant::ucp::wire::TotalType;
    assert_eq!(checkout.total_of(TotalType::Discount), Some(1260));
    assert_eq!(checkout.total_of(TotalType::Fulfillment), Some(1000));
    assert_eq!(checkout.total_of(TotalType::Tax), Some(267));
    assert_eq!(checkout.total_of(TotalType::Total), Some(3240 + 1000 + 267));
    assert_eq!(checkout.status.as_str(), "ready_for_complete");
    let warning = &checkout.messages[0];
    assert_eq!(warning.code.as_deref(), Some("discount_code_invalid"));
    assert_eq!(warning.path.as_deref(), Some("$.discounts.codes[2]"));
    // The buyer reads discounts as negative adjustments.
    let invoice = concierge::merchant::ucp::buyer::read_invoice("harbor", &checkout).unwrap();
    assert_eq!(invoice.adjustments, -1260);
}

// ---------------------------------------------------------------------------
// The recorded transcript of the official reference merchant
// ---------------------------------------------------------------------------

struct Recorded {
    method: String,
    path: String,
    request: Value,
    status: u16,
    response: Value,
}

fn recorded() -> Vec<Recorded> {
    let text = include_str!("data/ucp/ucp-transcript.jsonl");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let exchange: Value = serde_json::from_str(line).unwrap();
            Recorded {
                method: exchange["method"].as_str().unwrap().into(),
                path: exchange["path"].as_str().unwrap().into(),
                request: exchange["request"].clone(),
                status: exchange["status"].as_u64().unwrap() as u16,
                response: exchange["response"].clone(),
            }
        })
        .collect()
}

#[test]
fn every_message_of_the_recorded_transcript_decodes() {
    let exchanges = recorded();
    assert_eq!(exchanges.len(), 9);
    for exchange in &exchanges {
        let what = format!("{} {}", exchange.method, exchange.path);
        if exchange.path == "/.well-known/ucp" {
            let profile: UcpProfile = serde_json::from_value(exchange.response.clone()).unwrap();
            assert_eq!(profile.rest_endpoint(), Some("http://localhost:3000"));
            assert!(profile.handler_named("dev.ucp.mock_payment").is_some());
            continue;
        }
        if exchange.path.ends_with("/complete") {
            let request: CompleteRequest =
                serde_json::from_value(exchange.request.clone()).unwrap();
            assert_eq!(
                request.instrument().unwrap().handler_id,
                "mock_payment_handler",
                "{what}"
            );
        } else if !exchange.request.is_null() {
            let request: CheckoutRequest =
                serde_json::from_value(exchange.request.clone()).unwrap();
            assert!(request.line_items.is_some(), "{what}");
        }
        if (200..300).contains(&exchange.status) {
            let checkout: Checkout = serde_json::from_value(exchange.response.clone())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(!checkout.id.is_empty(), "{what}");
            assert!(checkout
                .total_of(concierge::merchant::ucp::wire::TotalType::Total)
                .is_some());
            if checkout.status.as_str() == "completed" {
                assert_eq!(
                    checkout.order_id(),
                    Some("ord_6348a9d0-8594-47c5-a1b9-de2168592ed6")
                );
            }
        } else {
            let error: ErrorResponse = serde_json::from_value(exchange.response.clone()).unwrap();
            assert!(error.text().is_some(), "{what}");
        }
    }
}

/// Answers each request with the next recorded answer for its method and
/// path, the discovery profile pointing at itself.
async fn start_replay() -> String {
    let exchanges = Arc::new(Mutex::new(recorded()));
    let router = Router::new().fallback(
        |State(exchanges): State<Arc<Mutex<Vec<Recorded>>>>,
         method: Method,
         uri: Uri,
         headers: HeaderMap| async move {
            let mut exchanges = exchanges.lock().unwrap();
            let Some(index) = exchanges
                .iter()
                .position(|e| e.method == method.as_str() && e.path == uri.path())
            else {
                return (
                    StatusCode::NOT_FOUND,
                    Json(json!({"detail": "not recorded"})),
                );
            };
            let exchange = exchanges.remove(index);
            let mut response = exchange.response;
            if exchange.path == "/.well-known/ucp" {
                let host = headers["host"].to_str().unwrap();
                response["ucp"]["services"]["dev.ucp.shopping"]["rest"]["endpoint"] =
                    json!(format!("http://{host}"));
            }
            (
                StatusCode::from_u16(exchange.status).unwrap(),
                Json(response),
            )
        },
    );
    serve_app(router.with_state(exchanges)).await
}

#[tokio::test]
async fn a_replayed_reference_merchant_checkout_reads_into_an_invoice() {
    let base = start_replay().await;
    let protocol = buyer(Duration::from_secs(3));
    let endpoint = endpoint("flowers", &base);
    let roses = opening(vec![wanted("bouquet_roses", "", "Red Rose", 1)]);
    let checkout = negotiated(&protocol, &endpoint, roses).await;
    assert_eq!(
        checkout.state(),
        SessionState::Invoiced,
        "{:?}\n{}",
        checkout.failure(),
        transcript(&*checkout)
    );
    let invoice = checkout.invoice().unwrap();
    assert_eq!(invoice.order_number, "70e20895-97a1-4b67-88f4-da1e52d2bc98");
    assert_eq!(invoice.lines[0].title, "Bouquet of Red Roses");
    assert_eq!(
        (invoice.lines[0].quantity, invoice.lines[0].unit_price),
        (1, 3500)
    );
    assert_eq!(
        (invoice.subtotal, invoice.shipping, invoice.total),
        (Some(3500), 0, 3500)
    );
    // Still `incomplete`, and no allowance handler: nothing to agree to.
    assert!(!checkout.can_agree());

    // The recorded refusal: gardenias are out of stock.
    let gardenias = opening(vec![wanted("gardenias", "", "Gardenias", 1)]);
    let checkout = negotiated(&protocol, &endpoint, gardenias).await;
    assert_eq!(checkout.state(), SessionState::Failed);
    assert_eq!(
        checkout.failure(),
        Some("Insufficient stock for item gardenias")
    );
}

// ---------------------------------------------------------------------------
// What the official conformance suite asks (its requests' shapes, our data)
// ---------------------------------------------------------------------------

#[tokio::test]
async fn conformance_shaped_requests_are_served_in_test_payment_mode() {
    let mut config = merchant_config();
    config.test_payments = true;
    config.simulation_secret = Some("sim-secret".into());
    config.profile.free_shipping_over = 5000;
    let (merchant, base) = start_merchant(config).await;
    let agent =
        r#"profile="http://localhost:8285/profiles/shopping-agent.json"; version="2026-01-11""#;
    let send = |request: reqwest::RequestBuilder| async move {
        let answer = request
            .header("UCP-Agent", agent)
            .header("Request-Id", "7b0c5d4e-0000-4000-8000-000000000001")
            .send()
            .await
            .unwrap();
        let status = answer.status().as_u16();
        (status, answer.json::<Value>().await.unwrap())
    };

    let (_, profile) = send(http().get(format!("{base}/.well-known/ucp"))).await;
    let handlers: Vec<&str> = profile["payment"]["handlers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    for id in ["mock_payment_handler", "google_pay", "shop_pay"] {
        assert!(handlers.contains(&id), "{handlers:?}");
    }

    // The suite's create: its own id, a wrong title, handlers, a consent,
    // and a destination with its default option selected.
    let create = json!({
        "id": "a3c1a6a2-7d7e-4c55-9f2a-1f0f4b1a0c11",
        "currency": "USD",
        "line_items": [{"item": {"id": "WS-1-GRAY-M", "title": "Wrong Title"}, "quantity": 6}],
        "buyer": {"email": "consent@example.com", "consent": {"marketing": true, "analytics": false}},
        "payment": {"instruments": [], "selected_instrument_id": "instr_1", "handlers": [{"id": "google_pay",
            "name": "google.pay", "version": "2026-01-11", "spec": "https://example.com/spec",
            "config_schema": "https://example.com/schema", "instrument_schemas": [], "config": {}}]},
        "fulfillment": {"methods": [{"type": "shipping", "destinations": [{"id": "dest_1", "address_country": "US"}],
            "selected_destination_id": "dest_1", "groups": [{"selected_option_id": "std-ship"}]}]}
    });
    let (status, session) = send(
        http()
            .post(format!("{base}/checkout-sessions"))
            .header("Idempotency-Key", "c0ffee00-0000-4000-8000-000000000001")
            .json(&create),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(session["status"], json!("ready_for_complete"), "{session}");
    assert_eq!(
        session["line_items"][0]["item"]["title"],
        json!("Wool Socks - Gray / M")
    );
    assert_eq!(session["buyer"]["consent"]["marketing"], json!(true));
    let option = &session["fulfillment"]["methods"][0]["groups"][0]["options"][0];
    assert_eq!(option["title"], json!("Free Standard Shipping"));
    assert_eq!(option["totals"][0]["amount"], json!(0));
    let id = session["id"].as_str().unwrap().to_string();

    // The mock handler: fail_token is declined, a card pays.
    let mock = |credential: Value| {
        json!({"payment_data": {"id": "instr_1", "handler_id": "mock_payment_handler",
            "handler_name": "mock_payment_handler", "type": "card", "brand": "Visa", "last_digits": "1111",
            "credential": credential}, "risk_signals": {},
            "ap2": {"checkout_mandate": "header.payload.signature~kb_signature"}})
    };
    let complete = format!("{base}/checkout-sessions/{id}/complete");
    let (status, body) = send(
        http()
            .post(&complete)
            .json(&mock(json!({"type": "token", "token": "fail_token"}))),
    )
    .await;
    assert_eq!(status, 402, "{body}");
    let card = mock(json!({"type": "card", "card_number_type": "fpan",
        "number": "4242424242424242", "expiry_month": 12, "expiry_year": 2030, "cvc": "123"}));
    let (status, completed) = send(http().post(&complete).json(&card)).await;
    assert_eq!(status, 200, "{completed}");
    assert_eq!(completed["status"], json!("completed"));
    let order_id = completed["order"]["id"].as_str().unwrap().to_string();
    assert!(completed["order"]["permalink_url"]
        .as_str()
        .unwrap()
        .ends_with(&order_id));
    assert_eq!(merchant.charges()[0].token, "card ending 4242");
    // Completing again under a new key is refused.
    let (status, _) = send(http().post(&complete).json(&card)).await;
    assert_eq!(status, 409);

    // The shipping simulation, behind its secret.
    let simulate = format!("{base}/testing/simulate-shipping/{order_id}");
    let (status, _) = send(http().post(&simulate)).await;
    assert_eq!(status, 403);
    let (status, _) = send(http().post(&simulate).header("Simulation-Secret", "wrong")).await;
    assert_eq!(status, 403);
    let (status, order) = send(
        http()
            .post(&simulate)
            .header("Simulation-Secret", "sim-secret"),
    )
    .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["fulfillment"]["events"][0]["type"], json!("shipped"));
    let (_, order) = send(http().get(format!("{base}/orders/{order_id}"))).await;
    assert_eq!(order["checkout_id"], json!(id));
    assert_eq!(order["line_items"][0]["status"], json!("fulfilled"));
}

#[tokio::test]
async fn beyond_its_limit_the_merchant_forgets_open_sessions_before_paid_ones() {
    let mut config = merchant_config();
    config.max_sessions = 2;
    let (merchant, base) = start_merchant(config).await;
    let protocol = buyer(Duration::from_secs(3));
    let endpoint = endpoint("harbor", &base);
    let mut paid = negotiated(&protocol, &endpoint, socks_opening()).await;
    let invoice = paid.invoice().unwrap().clone();
    let payment = paid.payment(authorization(&invoice)).unwrap();
    assert!(matches!(
        paid.pay(&payment).await.unwrap(),
        PaymentReply::Confirmed(_)
    ));
    let url = format!("{base}/checkout-sessions");
    let (_, open) = post_json(&url, None, &create_body("WS-1-GRAY-S", 1)).await;
    let (_, newest) = post_json(&url, None, &create_body("WS-1-GRAY-L", 1)).await;
    let status = |id: Value| {
        let url = format!("{url}/{}", id.as_str().unwrap());
        async move { http().get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(open["id"].clone()).await, 404);
    assert_eq!(status(newest["id"].clone()).await, 200);
    assert_eq!(status(json!(invoice.order_number)).await, 200);
    // The paid session still answers its payment sent again.
    let again = protocol
        .repay(&endpoint, "conv-1", &payment, invoice.total)
        .await
        .unwrap();
    assert!(matches!(again, PaymentReply::Confirmed(_)), "{again:?}");
    assert_eq!(merchant.charges().len(), 1);
}

#[tokio::test]
async fn order_events_reach_the_webhook_of_the_platform_named_in_ucp_agent() {
    let events = Arc::new(Mutex::new(Vec::<Value>::new()));
    let recorded = events.clone();
    let agent = Router::new()
        .route(
            "/profile",
            get(|headers: HeaderMap| async move {
                let host = headers["host"].to_str().unwrap().to_string();
                Json(json!({"ucp": {"version": "2026-01-11", "capabilities": [
                    {"name": "dev.ucp.shopping.order", "version": "2026-01-11",
                     "config": {"webhook_url": format!("http://{host}/hooks/order")}}]}}))
            }),
        )
        .route(
            "/hooks/order",
            post(move |Json(event): Json<Value>| {
                let recorded = recorded.clone();
                async move {
                    recorded.lock().unwrap().push(event);
                    Json(json!({"status": "ok"}))
                }
            }),
        );
    let agent_base = serve_app(agent).await;
    let mut config = merchant_config();
    config.order_webhooks = Some(NetworkPolicy::with_loopback());
    config.simulation_secret = Some("sim".into());
    let (_, base) = start_merchant(config).await;
    let ucp_agent = format!(r#"profile="{agent_base}/profile""#);

    let mut create = create_body("WS-1-GRAY-M", 1);
    create["fulfillment"] = json!({"methods": [{"type": "shipping",
        "destinations": [{"id": "d1", "street_address": "Webhook St", "address_country": "CA"}],
        "selected_destination_id": "d1", "groups": [{"selected_option_id": "std-ship"}]}]});
    let session: Value = http()
        .post(format!("{base}/checkout-sessions"))
        .header("UCP-Agent", &ucp_agent)
        .json(&create)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = session["id"].as_str().unwrap().to_string();
    // Paid with an allowance made for this session.
    let protocol = buyer(Duration::from_secs(3));
    let mut checkout = negotiated(&protocol, &endpoint("harbor", &base), socks_opening()).await;
    let mut invoice = checkout.invoice().unwrap().clone();
    invoice.order_number = id.clone();
    invoice.total = session["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["type"] == "total")
        .unwrap()["amount"]
        .as_i64()
        .unwrap();
    let mut request: Value =
        serde_json::from_str(&checkout.payment(authorization(&invoice)).unwrap()).unwrap();
    request["payment_data"]["credential"]["binding"]["checkout_id"] = json!(id);
    let completed: Value = http()
        .post(format!("{base}/checkout-sessions/{id}/complete"))
        .header("UCP-Agent", &ucp_agent)
        .json(&request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order_id = completed["order"]["id"].as_str().unwrap().to_string();
    let answer = http()
        .post(format!("{base}/testing/simulate-shipping/{order_id}"))
        .header("Simulation-Secret", "sim")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    let started = Instant::now();
    while events.lock().unwrap().len() < 2 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let events = events.lock().unwrap().clone();
    let of = |kind: &str| {
        events
            .iter()
            .find(|e| e["event_type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} in {events:?}"))
            .clone()
    };
    let placed = of("order_placed");
    assert_eq!(placed["checkout_id"], json!(id));
    assert_eq!(placed["order"]["id"], json!(order_id));
    assert!(placed["event_id"].is_string() && placed["created_time"].is_string());
    assert_eq!(
        placed["order"]["fulfillment"]["expectations"][0]["destination"]["street_address"],
        json!("Webhook St")
    );
    let shipped = of("order_shipped");
    assert_eq!(
        shipped["order"]["fulfillment"]["events"][0]["type"],
        json!("shipped")
    );
}

#[tokio::test]
async fn the_conformance_suites_seed_files_make_a_shop() {
    // Files in the suite's columns, with rows of our own.
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("products.csv", "id,title,price,image_url\ntulips,Spring Tulips,3000,https://x.example/t.jpg\nlilies,Lilies,2000,https://x.example/l.jpg"),
        ("inventory.csv", "product_id,quantity\ntulips,5\nlilies,0"),
        ("discounts.csv", "code,type,value,description\nHALF,percentage,50,Half off\nTWO,fixed_amount,200,$2.00 Off"),
        ("shipping_rates.csv", "id,country_code,service_level,price,title\nstd,default,standard,500,Standard\nexp-us,US,express,1500,Express US\nexp,default,express,2500,Express"),
        ("promotions.csv", "id,type,min_subtotal,eligible_item_ids,description\np1,free_shipping,10000,,Free over $100\np2,free_shipping,,[\"tulips\"],Free tulips"),
    ];
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let (config, products) = concierge::merchant::ucp::load_conformance_shop(dir.path()).unwrap();
    assert!(config.test_payments);
    // What `merchant serve --conformance-data` serves: the same shop with
    // the simulation endpoint and order webhooks to loopback platforms.
    let served = concierge::merchant::ucp::conformance_merchant(dir.path(), "s3cret").unwrap();
    assert_eq!(served.config().simulation_secret.as_deref(), Some("s3cret"));
    assert_eq!(
        served.config().order_webhooks,
        Some(NetworkPolicy::with_loopback())
    );
    let rates: Vec<(&str, Option<&str>, ServiceLevel, i64)> = config
        .shipping_rates
        .iter()
        .map(|r| (r.id.as_str(), r.country.as_deref(), r.level, r.price))
        .collect();
    assert_eq!(
        rates,
        [
            ("std", None, ServiceLevel::Standard, 500),
            ("exp-us", Some("US"), ServiceLevel::Express, 1500),
            ("exp", None, ServiceLevel::Express, 2500),
        ]
    );
    assert_eq!(
        (
            config.profile.free_shipping_over,
            config.free_shipping_items.clone()
        ),
        (10000, vec!["tulips".to_string()])
    );
    let merchant = UcpMerchant::new(config, products);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, concierge::merchant::ucp::app(merchant)).await;
    });
    let url = format!("{base}/checkout-sessions");
    let (status, body) = post_json(&url, None, &create_body("lilies", 1)).await;
    assert_eq!(
        (status, body["detail"].clone()),
        (400, json!("Insufficient stock for item lilies"))
    );
    let (status, _) = post_json(&url, None, &create_body("tulips", 6)).await;
    assert_eq!(status, 400);
    let mut create = create_body("tulips", 4);
    create["discounts"] = json!({"codes": ["half", "TWO"]});
    let (status, session) = post_json(&url, None, &create).await;
    assert_eq!(status, 201, "{session}");
    // $120.00 - 50% = $60.00, - $2.00 = $58.00; free standard shipping
    // (the rate's own title, marked free).
    let total = session["totals"].as_array().unwrap().last().unwrap()["amount"].clone();
    assert_eq!(total, json!(5800));
    assert_eq!(
        session["fulfillment"]["methods"][0]["groups"][0]["options"][0]["title"],
        json!("Free Standard")
    );
}

// ---------------------------------------------------------------------------
// Businesses shaped like the UCP project's reference samples (FastAPI and
// Node.js, see docs/ucp-interop.md): what each did that once stopped
// Concierge, answered by one small app written here.
// ---------------------------------------------------------------------------

/// How the sample-shaped business answers.
#[derive(Clone, Copy)]
struct SampleShape {
    /// Options priced with a plain `"total": 500` (Node.js) instead of
    /// `totals` (FastAPI).
    flat_option_totals: bool,
    /// `incomplete` on every answer (Node.js), else `ready_for_complete`.
    always_incomplete: bool,
    /// Declares the UCP sandbox handler `dev.ucp.mock_payment` beside the
    /// wallets.
    sandbox_handler: bool,
}

struct Sample {
    shape: SampleShape,
    sessions: Mutex<std::collections::HashMap<String, Value>>,
    completes: Mutex<Vec<Value>>,
}

/// FastAPI's answer to a request missing a required field.
fn field_required(place: &[&str]) -> axum::response::Response {
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(json!({"detail": [{"type": "missing", "loc": place, "msg": "Field required"}]})),
    )
        .into_response()
}

/// The headers the 2026-01-11 OpenAPI requires of every checkout operation
/// (`Idempotency-Key` too, but not on reads), as a FastAPI sample checks them.
fn missing_header(headers: &HeaderMap, idempotent: bool) -> Option<axum::response::Response> {
    let mut required = vec!["ucp-agent", "request-signature", "request-id"];
    if idempotent {
        required.push("idempotency-key");
    }
    required
        .into_iter()
        .find(|name| !headers.contains_key(*name))
        .map(|name| field_required(&["header", name]))
}

impl Sample {
    /// The session with prices, options for a destination with a country,
    /// and totals worked out, every absent field written `null`.
    fn priced(&self, mut session: Value) -> Value {
        let prices = [("bouquet_roses", 3500), ("orchid_white", 4500)];
        let mut total = 0;
        for line in session["line_items"].as_array_mut().unwrap() {
            let id = line["item"]["id"].as_str().unwrap().to_string();
            let price = prices.iter().find(|(p, _)| *p == id).unwrap().1;
            let amount = price * line["quantity"].as_i64().unwrap();
            line["item"]["price"] = json!(price);
            line["item"]["image_url"] = Value::Null;
            line["totals"] = json!([{"type": "subtotal", "amount": amount, "display_text": null},
                {"type": "total", "amount": amount, "display_text": null}]);
            line["parent_id"] = Value::Null;
            total += amount;
        }
        let mut totals = vec![json!({"type": "subtotal", "amount": total})];
        if let Some(methods) = session["fulfillment"]["methods"].as_array_mut() {
            for method in methods {
                let selected = method["selected_destination_id"].clone();
                let country = method["destinations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|d| d["id"] == selected)
                    .and_then(|d| d["address_country"].as_str());
                if country.is_none() {
                    continue;
                }
                let option = |id: &str, title: &str, price: i64| {
                    if self.shape.flat_option_totals {
                        json!({"id": id, "title": title, "total": price, "subtotal": price, "tax": 0})
                    } else {
                        json!({"id": id, "title": title, "description": null,
                            "totals": [{"type": "subtotal", "amount": price}, {"type": "total", "amount": price}]})
                    }
                };
                let options = vec![
                    option("exp-ship-us", "Express Shipping (US)", 1500),
                    option("std-ship", "Standard Shipping", 500),
                ];
                if method["groups"].as_array().is_none_or(|g| g.is_empty()) {
                    method["groups"] = json!([{"id": "group_1", "selected_option_id": null}]);
                }
                for group in method["groups"].as_array_mut().unwrap() {
                    group["options"] = json!(options);
                    if let Some(chosen) = group["selected_option_id"].as_str() {
                        let price = if chosen == "std-ship" { 500 } else { 1500 };
                        total += price;
                        totals.push(json!({"type": "fulfillment", "amount": price}));
                    }
                }
            }
        }
        totals.push(json!({"type": "total", "amount": total}));
        session["totals"] = json!(totals);
        session["messages"] = Value::Null;
        session["expires_at"] = Value::Null;
        session["status"] = json!(if self.shape.always_incomplete {
            "incomplete"
        } else {
            "ready_for_complete"
        });
        session
    }

    fn handlers(&self) -> Value {
        let mut handlers = vec![
            json!({"id": "google_pay", "name": "com.google.pay", "version": "2026-01-11",
                "spec": "https://pay.google.com/x", "config_schema": "https://pay.google.com/c",
                "instrument_schemas": [], "config": {"api_version": 2}}),
            json!({"id": "shop_pay", "name": "dev.shopify.shop_pay", "version": "2026-01-11",
                "spec": "https://shopify.dev/x", "config_schema": "https://shopify.dev/c",
                "instrument_schemas": [], "config": {"shop_id": "s"}}),
        ];
        if self.shape.sandbox_handler {
            handlers.push(json!({"id": "mock_payment_handler", "name": "dev.ucp.mock_payment",
                "version": "1.0", "spec": "https://ucp.dev/specs/mock", "config_schema": "https://ucp.dev/schemas/mock.json",
                "instrument_schemas": ["https://ucp.dev/schemas/shopping/types/card_payment_instrument.json"],
                "config": {"supported_tokens": ["success_token", "fail_token"]}}));
        }
        json!(handlers)
    }
}

async fn start_sample(shape: SampleShape) -> (Arc<Sample>, String) {
    let sample = Arc::new(Sample {
        shape,
        sessions: Mutex::new(Default::default()),
        completes: Mutex::new(Vec::new()),
    });
    let router = Router::new()
        .route(
            "/.well-known/ucp",
            get(|State(sample): State<Arc<Sample>>, headers: HeaderMap| async move {
                let host = headers["host"].to_str().unwrap().to_string();
                Json(json!({
                    "ucp": {"version": "2026-01-11",
                        "services": {"dev.ucp.shopping": {"version": "2026-01-11", "spec": "https://ucp.dev",
                            "rest": {"schema": "https://ucp.dev/x.json", "endpoint": format!("http://{host}/")},
                            "mcp": null, "a2a": null, "embedded": null}},
                        "capabilities": [
                            {"name": "dev.ucp.shopping.checkout", "version": "2026-01-11", "extends": null, "config": null},
                            {"name": "dev.ucp.shopping.fulfillment", "version": "2026-01-11",
                                "extends": "dev.ucp.shopping.checkout", "config": null}]},
                    "payment": {"handlers": sample.handlers()},
                    "signing_keys": null
                }))
            }),
        )
        .route(
            "/checkout-sessions",
            post(
                |State(sample): State<Arc<Sample>>, headers: HeaderMap, Json(mut body): Json<Value>| async move {
                    if let Some(refusal) = missing_header(&headers, true) {
                        return refusal;
                    }
                    let lines = body["line_items"].as_array_mut().unwrap();
                    for (i, line) in lines.iter_mut().enumerate() {
                        // The samples' create reads the item's title.
                        if line["item"]["title"].as_str().is_none() {
                            return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
                        }
                        line["id"] = json!(format!("line_{}", i + 1));
                    }
                    let id = format!("chk_{}", sample.sessions.lock().unwrap().len() + 1);
                    body["id"] = json!(id);
                    body["ucp"] = json!({"version": "2026-01-11", "capabilities": [{"name": "dev.ucp.shopping.checkout", "version": "2026-01-11"}]});
                    body["links"] = json!([]);
                    body["payment"] = json!({"handlers": [], "selected_instrument_id": null, "instruments": []});
                    if let Some(methods) = body["fulfillment"]["methods"].as_array_mut() {
                        for (i, method) in methods.iter_mut().enumerate() {
                            method["id"] = json!(format!("method_{}", i + 1));
                            // The Node.js sample fills in addresses of its own
                            // when none is given, selecting none of them.
                            if sample.shape.flat_option_totals && method.get("destinations").is_none() {
                                method["destinations"] = json!([{"id": "dest_1", "name": "Home (US)",
                                    "address_country": "US", "street_address": "1600 Amphitheatre Pkwy"}]);
                            }
                        }
                    }
                    let session = sample.priced(body);
                    sample.sessions.lock().unwrap().insert(id, session.clone());
                    (StatusCode::CREATED, Json(session)).into_response()
                },
            ),
        )
        .route(
            "/checkout-sessions/{id}",
            get(
                |State(sample): State<Arc<Sample>>, headers: HeaderMap, axum::extract::Path(id): axum::extract::Path<String>| async move {
                    if let Some(refusal) = missing_header(&headers, false) {
                        return refusal;
                    }
                    Json(sample.sessions.lock().unwrap()[&id].clone()).into_response()
                },
            )
            .put(
                |State(sample): State<Arc<Sample>>, headers: HeaderMap, axum::extract::Path(id): axum::extract::Path<String>, Json(body): Json<Value>| async move {
                    if let Some(refusal) = missing_header(&headers, true) {
                        return refusal;
                    }
                    // The 2026-01-11 SDK's update models require a method's type.
                    for (i, method) in body["fulfillment"]["methods"].as_array().into_iter().flatten().enumerate() {
                        if method["type"].as_str().is_none() {
                            return field_required(&["body", "fulfillment", "methods", &i.to_string(), "type"]);
                        }
                    }
                    let mut session = sample.sessions.lock().unwrap()[&id].clone();
                    session["fulfillment"] = body["fulfillment"].clone();
                    let session = sample.priced(session);
                    sample.sessions.lock().unwrap().insert(id, session.clone());
                    Json(session).into_response()
                },
            ),
        )
        .route(
            "/checkout-sessions/{id}/complete",
            post(
                |State(sample): State<Arc<Sample>>, headers: HeaderMap, axum::extract::Path(id): axum::extract::Path<String>, Json(body): Json<Value>| async move {
                    if let Some(refusal) = missing_header(&headers, true) {
                        return refusal;
                    }
                    if body.get("risk_signals").is_none() {
                        return field_required(&["body", "risk_signals"]);
                    }
                    sample.completes.lock().unwrap().push(body.clone());
                    let instrument = &body["payment_data"];
                    let paid = instrument["handler_id"] == "mock_payment_handler"
                        && instrument["credential"]["token"] == "success_token";
                    if !paid {
                        return (StatusCode::BAD_REQUEST, Json(json!({"detail": "Unsupported payment handler"}))).into_response();
                    }
                    let mut sessions = sample.sessions.lock().unwrap();
                    let session = sessions.get_mut(&id).unwrap();
                    session["status"] = json!("completed");
                    session["order_id"] = json!("ord_1");
                    Json(session.clone()).into_response()
                },
            ),
        )
        .route(
            "/checkout-sessions/{id}/cancel",
            post(|State(sample): State<Arc<Sample>>, axum::extract::Path(id): axum::extract::Path<String>| async move {
                let mut sessions = sample.sessions.lock().unwrap();
                let session = sessions.get_mut(&id).unwrap();
                session["status"] = json!("canceled");
                Json(session.clone())
            }),
        )
        .with_state(sample.clone());
    (sample, serve_app(router).await)
}

const STRUCTURED_ADDRESS: &str = r#"{"full_name": "Jane Doe", "street_address": "123 Main St", "address_locality": "Springfield", "address_region": "IL", "postal_code": "62704", "address_country": "US"}"#;

fn orchid_opening(address: Option<&str>) -> Opening {
    let mut orchid = wanted("orchid_white", "orchid_white", "White Orchid", 1);
    orchid.shipping_address = address.map(String::from);
    opening(vec![orchid])
}

fn sandbox_buyer(sandbox_payments: bool) -> UcpProtocol {
    let timeout = Duration::from_secs(5);
    let policy = NetworkPolicy::with_loopback();
    let mut settings = concierge::merchant::ucp::UcpSettings::new(policy, timeout);
    settings.sandbox_payments = sandbox_payments;
    UcpProtocol::with_settings(guarded_client(timeout, policy), settings)
}

const NODE_LIKE: SampleShape = SampleShape {
    flat_option_totals: true,
    always_incomplete: true,
    sandbox_handler: true,
};
const FASTAPI_LIKE: SampleShape = SampleShape {
    flat_option_totals: false,
    always_incomplete: false,
    sandbox_handler: false,
};

#[tokio::test]
async fn a_sample_shaped_business_is_read_into_an_invoice_with_the_cheapest_shipping() {
    // Nulls for absent members, required headers, a title on create, the
    // method's type on update, options priced either way, and an address
    // given in parts so the business can price shipping by country.
    for shape in [FASTAPI_LIKE, NODE_LIKE] {
        let (_sample, base) = start_sample(shape).await;
        let protocol = sandbox_buyer(false);
        let checkout = negotiated(
            &protocol,
            &endpoint("flowers", &base),
            orchid_opening(Some(STRUCTURED_ADDRESS)),
        )
        .await;
        assert_eq!(
            checkout.state(),
            SessionState::Invoiced,
            "{}",
            transcript(&*checkout)
        );
        let invoice = checkout.invoice().unwrap();
        assert_eq!((invoice.shipping, invoice.total), (500, 5000));
        assert!(transcript(&*checkout).contains("chose Standard Shipping at $5.00"));
    }
}

#[tokio::test]
async fn a_business_taking_no_handler_concierge_can_use_is_never_paid_and_says_why() {
    for shape in [FASTAPI_LIKE, NODE_LIKE] {
        let (sample, base) = start_sample(shape).await;
        let protocol = sandbox_buyer(false);
        let mut checkout = negotiated(
            &protocol,
            &endpoint("flowers", &base),
            orchid_opening(Some(STRUCTURED_ADDRESS)),
        )
        .await;
        assert_eq!(checkout.state(), SessionState::Invoiced);
        assert!(!checkout.can_agree());
        let reason = checkout.no_agreement_reason().unwrap();
        assert!(reason.contains("com.google.pay (google_pay)"), "{reason}");
        assert!(reason.contains("dev.concierge.allowance"), "{reason}");
        // The sandbox handler is named as such, and stays unused while
        // sandbox payments are off.
        assert_eq!(
            reason.contains("CONCIERGE_UCP_SANDBOX_PAYMENTS=1"),
            shape.sandbox_handler,
            "{reason}"
        );
        let invoice = checkout.invoice().unwrap().clone();
        assert!(checkout.payment(authorization(&invoice)).is_none());
        assert!(sample.completes.lock().unwrap().is_empty());
    }
}

#[tokio::test]
async fn in_sandbox_mode_the_sandbox_handlers_test_token_completes_within_the_checked_total() {
    let (sample, base) = start_sample(NODE_LIKE).await;
    let protocol = sandbox_buyer(true);
    let mut checkout = negotiated(
        &protocol,
        &endpoint("flowers", &base),
        orchid_opening(Some(STRUCTURED_ADDRESS)),
    )
    .await;
    assert!(checkout.can_agree(), "{}", transcript(&*checkout));
    let invoice = checkout.invoice().unwrap().clone();
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let reply = checkout.pay(&payment).await.unwrap();
    assert!(
        matches!(&reply, PaymentReply::Confirmed(text) if text.contains("ord_1")),
        "{reply:?}"
    );
    let completes = sample.completes.lock().unwrap();
    assert_eq!(completes.len(), 1);
    let instrument = &completes[0]["payment_data"];
    assert_eq!(instrument["handler_id"], "mock_payment_handler");
    assert_eq!(instrument["credential"]["token"], "success_token");
    assert_eq!(completes[0]["risk_signals"], json!({}));
    // Concierge's own token never goes to another handler.
    assert!(!completes[0].to_string().contains("tok_test"));
}

#[tokio::test]
async fn in_sandbox_mode_a_total_above_the_authorisation_is_not_completed() {
    let (sample, base) = start_sample(NODE_LIKE).await;
    let protocol = sandbox_buyer(true);
    let mut checkout = negotiated(
        &protocol,
        &endpoint("flowers", &base),
        orchid_opening(Some(STRUCTURED_ADDRESS)),
    )
    .await;
    let invoice = checkout.invoice().unwrap().clone();
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    // The business raises the total after the invoice was checked.
    for session in sample.sessions.lock().unwrap().values_mut() {
        let totals = session["totals"].as_array_mut().unwrap();
        totals.last_mut().unwrap()["amount"] = json!(invoice.total + 100);
    }
    let reply = checkout.pay(&payment).await.unwrap();
    assert!(
        matches!(&reply, PaymentReply::Refused(text) if text.contains("above")),
        "{reply:?}"
    );
    assert!(sample.completes.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_business_that_ships_is_not_completed_without_an_address() {
    // The Node.js sample offers destinations of its own when none is
    // given; they are not the shopper's and are never chosen.
    for shape in [FASTAPI_LIKE, NODE_LIKE] {
        let (sample, base) = start_sample(shape).await;
        let protocol = sandbox_buyer(true);
        let checkout =
            negotiated(&protocol, &endpoint("flowers", &base), orchid_opening(None)).await;
        assert_eq!(checkout.state(), SessionState::Failed);
        assert!(checkout
            .failure()
            .unwrap()
            .contains("asks for a shipping address and none is configured"));
        assert!(sample.completes.lock().unwrap().is_empty());
    }
}

#[test]
fn a_structured_address_reads_as_one_line_for_messenger() {
    assert_eq!(
        concierge::merchant::protocol::address_text(STRUCTURED_ADDRESS),
        "Jane Doe, 123 Main St, Springfield, IL, 62704, US"
    );
    assert_eq!(
        concierge::merchant::protocol::address_text(" 1 Main St, Springfield "),
        "1 Main St, Springfield"
    );
}

// ---------------------------------------------------------------------------
// Regressions found by the official conformance suite
// ---------------------------------------------------------------------------

/// A PUT of a session's fulfilment, answered with its options as
/// (id, title, amount) and the selected option.
async fn options_after(url: &str, fulfillment: Value) -> (Vec<(String, String, i64)>, Value) {
    let answer = http()
        .put(url)
        .json(&json!({"fulfillment": fulfillment}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let session: Value = answer.json().await.unwrap();
    let group = &session["fulfillment"]["methods"][0]["groups"][0];
    let options = group["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_string(),
                o["title"].as_str().unwrap().to_string(),
                o["totals"][0]["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    (options, group["selected_option_id"].clone())
}

fn owned(options: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    options
        .iter()
        .map(|(id, title, amount)| (id.to_string(), title.to_string(), *amount))
        .collect()
}

#[tokio::test]
async fn shipping_options_follow_the_destination_country() {
    let mut config = merchant_config();
    let rate = |id: &str, country: Option<&str>, level, price, title: &str| ShippingRate {
        id: id.into(),
        country: country.map(String::from),
        level,
        price,
        title: title.into(),
    };
    config.shipping_rates = vec![
        rate(
            "std-ship",
            None,
            ServiceLevel::Standard,
            500,
            "Standard Shipping",
        ),
        rate(
            "exp-ship-us",
            Some("US"),
            ServiceLevel::Express,
            1500,
            "Express (US)",
        ),
        rate(
            "exp-ship-intl",
            None,
            ServiceLevel::Express,
            2500,
            "International Express",
        ),
    ];
    let (_, base) = start_merchant(config).await;
    let (status, session) = post_json(
        &format!("{base}/checkout-sessions"),
        None,
        &create_body("WS-1-GRAY-M", 1),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let url = format!(
        "{base}/checkout-sessions/{}",
        session["id"].as_str().unwrap()
    );
    let to = |id: &str, country: &str, option: Option<&str>| {
        let mut method = json!({"type": "shipping",
            "destinations": [{"id": id, "address_country": country}], "selected_destination_id": id});
        if let Some(option) = option {
            method["groups"] = json!([{"selected_option_id": option}]);
        }
        json!({"methods": [method]})
    };
    let (options, selected) = options_after(&url, to("d_us", "us", Some("exp-ship-us"))).await;
    assert_eq!(
        options,
        owned(&[
            ("std-ship", "Standard Shipping", 500),
            ("exp-ship-us", "Express (US)", 1500)
        ])
    );
    assert_eq!(selected, json!("exp-ship-us"));
    // To Canada the US rate is not offered, and its choice is dropped.
    let (options, selected) = options_after(&url, to("d_ca", "CA", None)).await;
    assert_eq!(
        options,
        owned(&[
            ("std-ship", "Standard Shipping", 500),
            ("exp-ship-intl", "International Express", 2500)
        ])
    );
    assert_eq!(selected, Value::Null);
}

#[tokio::test]
async fn a_free_shipping_item_makes_standard_shipping_free() {
    let mut config = merchant_config();
    config.free_shipping_items = vec!["WS-1".into()];
    let (_, base) = start_merchant(config).await;
    let standard = |session: &Value| {
        let option = &session["fulfillment"]["methods"][0]["groups"][0]["options"][0];
        (
            option["title"].clone(),
            option["totals"][0]["amount"].clone(),
        )
    };
    let url = format!("{base}/checkout-sessions");
    let (_, socks) = post_json(&url, None, &create_body("WS-1-GRAY-M", 1)).await;
    assert_eq!(
        standard(&socks),
        (json!("Free Standard Shipping"), json!(0))
    );
    let (_, turtleneck) = post_json(&url, None, &create_body("TN-1-GRAY-M", 1)).await;
    assert_eq!(
        standard(&turtleneck),
        (json!("Standard Shipping"), json!(400))
    );
}

#[tokio::test]
async fn the_platforms_payment_choice_is_echoed_without_credentials() {
    let (_, base) = start_merchant(merchant_config()).await;
    let mut create = create_body("WS-1-GRAY-M", 1);
    create["payment"] = json!({"selected_instrument_id": "instr_1", "instruments": [
        {"id": "instr_1", "handler_id": "mock_payment_handler", "type": "card",
         "credential": {"type": "token", "token": "secret_token"}}]});
    let (status, session) = post_json(&format!("{base}/checkout-sessions"), None, &create).await;
    assert_eq!(status, 201, "{session}");
    assert_eq!(
        session["payment"]["selected_instrument_id"],
        json!("instr_1")
    );
    assert_eq!(
        session["payment"]["instruments"],
        json!([{"id": "instr_1", "handler_id": "mock_payment_handler", "type": "card"}])
    );
    assert!(!session.to_string().contains("secret_token"));
    // No instruments is an empty list, not a missing one.
    let (_, session) = post_json(
        &format!("{base}/checkout-sessions"),
        None,
        &create_body("WS-1-GRAY-M", 1),
    )
    .await;
    assert_eq!(session["payment"]["instruments"], json!([]));
}

#[tokio::test]
async fn a_completed_session_names_the_instrument_that_paid() {
    let mut config = merchant_config();
    config.test_payments = true;
    let (_, base) = start_merchant(config).await;
    let mut create = create_body("WS-1-GRAY-M", 1);
    create["payment"] = json!({"selected_instrument_id": "instr_1", "instruments": []});
    create["fulfillment"] =
        json!({"methods": [{"type": "shipping", "groups": [{"selected_option_id": "std-ship"}]}]});
    let (status, session) = post_json(&format!("{base}/checkout-sessions"), None, &create).await;
    assert_eq!(status, 201, "{session}");
    let complete = json!({"payment_data": {"id": "instr_2", "handler_id": "mock_payment_handler",
        "type": "card", "credential": {"type": "token", "token": "tok_card_77"}}});
    let (status, completed) = post_json(
        &format!(
            "{base}/checkout-sessions/{}/complete",
            session["id"].as_str().unwrap()
        ),
        None,
        &complete,
    )
    .await;
    assert_eq!(status, 200, "{completed}");
    assert_eq!(
        completed["payment"]["selected_instrument_id"],
        json!("instr_2")
    );
    assert!(!completed.to_string().contains("tok_card_77"));
}

#[tokio::test]
async fn every_document_discovery_names_is_served_here_or_is_the_specs_own() {
    let mut config = merchant_config();
    config.test_payments = true;
    let (_, base) = start_merchant(config).await;
    let profile: Value = http()
        .get(format!("{base}/.well-known/ucp"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let service = &profile["ucp"]["services"]["dev.ucp.shopping"];
    let mut urls = vec![service["spec"].clone(), service["rest"]["schema"].clone()];
    for capability in profile["ucp"]["capabilities"].as_array().unwrap() {
        urls.extend([capability["spec"].clone(), capability["schema"].clone()]);
    }
    for handler in profile["payment"]["handlers"].as_array().unwrap() {
        urls.extend([handler["spec"].clone(), handler["config_schema"].clone()]);
        urls.extend(handler["instrument_schemas"].as_array().unwrap().clone());
    }
    let spec_documents = [
        "https://ucp.dev/specification/",
        "https://ucp.dev/schemas/shopping/",
        "https://ucp.dev/services/shopping/rest.openapi.json",
        // The catalog capabilities, which came with 2026-04-08.
        "https://ucp.dev/2026-04-08/specification/catalog/",
        "https://ucp.dev/2026-04-08/schemas/shopping/catalog_",
    ];
    for url in urls {
        let url = url.as_str().unwrap();
        if url.starts_with(&base) {
            let answer = http().get(url).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{url}");
            answer.json::<Value>().await.unwrap();
        } else {
            assert!(
                spec_documents.iter().any(|prefix| url.starts_with(prefix)),
                "{url} is neither served here nor one of the spec's documents"
            );
        }
    }
    assert!(profile
        .to_string()
        .contains("https://ucp.dev/specification/buyer-consent"));
    // Without test payments the fixtures' page is not served.
    let (_, plain) = start_merchant(merchant_config()).await;
    let answer = http()
        .get(format!("{plain}/ucp/handlers/mock"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
}
