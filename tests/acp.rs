//! The Agentic Commerce Protocol checkout, both sides, over real HTTP on
//! loopback. Properties checked:
//! - every example of the spec's `examples.agentic_checkout.json`
//!   (2026-04-17) decodes with the wire types, and none is skipped;
//! - everything the reference merchant answers and everything Concierge's
//!   buyer sends validates against the 2026-04-17 JSON Schema (the
//!   allowance against delegate_payment's `Allowance`);
//! - the buyer buys from the reference merchant through `Negotiation`: the
//!   invoice is read exactly, one payment is one charge, paying again or
//!   reconciling (repay) charges nothing more and names the same order;
//! - the session is `not_ready_for_payment` until a fulfilment option is
//!   selected (without the merchant's default), free shipping and coupons
//!   count, and out-of-stock, ambiguous or unknown items end as failures
//!   with the merchant's words;
//! - the merchant declines an allowance below the total, in another
//!   currency, expired, or for another session or merchant; answers a
//!   repeated complete with the same order and no second charge; refuses to
//!   complete a canceled session;
//! - hostile merchants: a total raised above the allowance before or at
//!   completion is not paid; a wrong item is not invoiced; a merchant that
//!   would charge twice gets one complete; a merchant that never answers or
//!   never finishes completing is waited for only as long as the bounds
//!   allow; an oversized answer is refused;
//! - the spec's idempotency and authentication errors: 400 without an
//!   Idempotency-Key, 422 on a conflicting reuse, the first answer replayed
//!   with `Idempotent-Replayed: true`, 401 on a wrong bearer, 413 on an
//!   oversized body, all as the spec's error JSON; and `probe`.

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use concierge::catalog::feed::{Availability, FeedPrice, FeedProduct, FeedVariant, VariantOption};
use concierge::catalog::MerchantProfile;
use concierge::merchant::acp::wire::*;
use concierge::merchant::acp::{buyer, probe, AcpMerchant, AcpProtocol, Discount, StoredPayment};
use concierge::merchant::messenger::wire::PaymentAuthorization;
use concierge::merchant::network::NetworkPolicy;
use concierge::merchant::protocol::{
    CancelReply, MerchantEndpoint, MerchantProtocol, Negotiation, Opening, PaymentReply,
    SessionState, Wanted,
};
use concierge::order::{Invoice, InvoiceLine, OrderRecord, OrderStatus};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

const KEY: &str = "acp-test-key";

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

fn profile() -> MerchantProfile {
    MerchantProfile {
        id: "alpha".into(),
        name: "Alpha Knits".into(),
        feed: "alpha.jsonl".into(),
        currency: "USD".into(),
        shipping: 400,
        free_shipping_over: 5_000,
        tax_basis_points: 825,
        protocol: "acp".into(),
    }
}

fn variant(id: &str, price: i64, available: bool, options: &[(&str, &str)]) -> FeedVariant {
    FeedVariant {
        id: id.into(),
        title: String::new(),
        price: FeedPrice {
            amount: price,
            currency: "USD".into(),
        },
        availability: Availability::from_stock(available),
        variant_options: options
            .iter()
            .map(|(name, value)| VariantOption {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect(),
        barcodes: Vec::new(),
    }
}

fn product(id: &str, title: &str, variants: Vec<FeedVariant>) -> FeedProduct {
    FeedProduct {
        id: id.into(),
        title: title.into(),
        description: String::new(),
        url: String::new(),
        brand: "Testbrand".into(),
        categories: Vec::new(),
        gender: None,
        age_group: None,
        material: None,
        variants,
    }
}

fn catalog() -> Vec<FeedProduct> {
    vec![
        product(
            "WS-1",
            "Wool Socks",
            vec![
                variant(
                    "WS-1-GRAY-M",
                    900,
                    true,
                    &[("Color", "Gray"), ("Size", "M")],
                ),
                variant(
                    "WS-1-BLACK-M",
                    900,
                    true,
                    &[("Color", "Black"), ("Size", "M")],
                ),
                variant(
                    "WS-1-GRAY-L",
                    900,
                    false,
                    &[("Color", "Gray"), ("Size", "L")],
                ),
            ],
        ),
        product(
            "MUG-1",
            "Stoneware Mug",
            vec![variant("MUG-1-W", 1_200, true, &[("Color", "White")])],
        ),
    ]
}

fn merchant() -> AcpMerchant {
    AcpMerchant::new(profile(), catalog(), KEY)
}

/// Serves `app` on a loopback port; the base URL.
async fn serve_app(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{address}")
}

/// Serves the reference merchant, recording every request and answer.
async fn serve_merchant(merchant: AcpMerchant) -> (String, Arc<AcpMerchant>, Recorder) {
    let merchant = Arc::new(merchant);
    let recorder = Recorder::default();
    let app = concierge::merchant::acp::app(merchant.clone()).layer(
        axum::middleware::from_fn_with_state(recorder.clone(), record),
    );
    (serve_app(app).await, merchant, recorder)
}

fn endpoint(url: &str) -> MerchantEndpoint {
    MerchantEndpoint {
        merchant_id: "alpha".into(),
        name: "Alpha Knits".into(),
        protocol: "acp".into(),
        url: url.into(),
        app_secret: KEY.into(),
        page_id: String::new(),
        served_here: false,
        live_catalog: false,
    }
}

fn protocol(timeout: Duration) -> AcpProtocol {
    AcpProtocol::new(timeout, NetworkPolicy::with_loopback())
}

fn wanted(product_code: &str, variant_id: &str, quantity: u32) -> Wanted {
    Wanted {
        product_code: product_code.into(),
        variant_id: variant_id.into(),
        product_title: "Wool Socks".into(),
        color: Some("gray".into()),
        size: Some("M".into()),
        quantity,
        material: None,
        shipping_address: None,
        color_label: Some("Gray".into()),
        size_label: Some("M".into()),
        currency: Some("USD".into()),
        request: "2 pairs of gray wool socks in M".into(),
        variant_title: None,
    }
}

fn opening(items: Vec<Wanted>) -> Opening {
    Opening {
        conversation_id: "conv-1".into(),
        items,
        max_turns: 10,
        ask_shopper: false,
        pick_listed_variant: false,
    }
}

fn socks(quantity: u32) -> Opening {
    opening(vec![wanted("WS-1", "WS-1-GRAY-M", quantity)])
}

fn authorization(invoice: &Invoice) -> PaymentAuthorization {
    invoice.authorization("tok_test_1".into(), &invoice.payment_key("conv-1"), 600)
}

async fn negotiated(protocol: &AcpProtocol, url: &str, opening: Opening) -> Box<dyn Negotiation> {
    let mut checkout = protocol.open(&endpoint(url), opening);
    checkout
        .negotiate(Instant::now() + Duration::from_secs(5), None)
        .await;
    checkout
}

/// A raw request to a checkout API, with exactly the headers given.
fn raw(
    method: reqwest::Method,
    url: String,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> impl std::future::Future<Output = (u16, reqwest::header::HeaderMap, Value)> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    async move {
        let mut request = concierge::http::client().request(method, url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, value)
    }
}

const AUTH: (&str, &str) = ("Authorization", "Bearer acp-test-key");
const VERSION: (&str, &str) = ("API-Version", API_VERSION);

// ---------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------

/// A JSON Schema validator for the keywords the ACP schema uses.
mod schema {
    use serde_json::Value;

    pub struct Schema {
        root: Value,
    }

    impl Schema {
        pub fn load() -> Schema {
            let text = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/data/acp/schema.agentic_checkout.2026-04-17.json"
            ))
            .unwrap();
            Schema {
                root: serde_json::from_str(&text).unwrap(),
            }
        }

        /// Every way `value` breaks definition `name`.
        pub fn problems(&self, name: &str, value: &Value) -> Vec<String> {
            let mut problems = Vec::new();
            let definition = &self.root["$defs"][name];
            assert!(definition.is_object(), "no definition {name}");
            self.check(definition, value, "$", &mut problems);
            problems
        }

        pub fn assert_valid(&self, name: &str, value: &Value) {
            let problems = self.problems(name, value);
            assert!(
                problems.is_empty(),
                "not a valid {name}: {problems:#?}\n{}",
                serde_json::to_string_pretty(value).unwrap()
            );
        }

        fn valid(&self, schema: &Value, value: &Value) -> bool {
            let mut problems = Vec::new();
            self.check(schema, value, "$", &mut problems);
            problems.is_empty()
        }

        fn check(&self, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
            let Some(schema) = schema.as_object() else {
                return;
            };
            if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
                let name = reference.trim_start_matches("#/$defs/");
                self.check(&self.root["$defs"][name], value, at, out);
            }
            if let Some(kind) = schema.get("type") {
                let kinds: Vec<&str> = match kind {
                    Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).collect(),
                    other => other.as_str().into_iter().collect(),
                };
                if !kinds.iter().any(|k| is_type(k, value)) {
                    out.push(format!("{at}: is not {kinds:?}"));
                    return;
                }
            }
            if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
                if !allowed.contains(value) {
                    out.push(format!("{at}: {value} is not one of {allowed:?}"));
                }
            }
            if let Some(constant) = schema.get("const") {
                if constant != value {
                    out.push(format!("{at}: {value} is not {constant}"));
                }
            }
            for key in ["allOf"] {
                for sub in schema
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    self.check(sub, value, at, out);
                }
            }
            if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
                if !any.iter().any(|sub| self.valid(sub, value)) {
                    out.push(format!("{at}: matches none of anyOf"));
                }
            }
            if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
                let matching = one.iter().filter(|sub| self.valid(sub, value)).count();
                if matching != 1 {
                    out.push(format!("{at}: matches {matching} of oneOf, not 1"));
                }
            }
            if let (Some(condition), Some(then)) = (schema.get("if"), schema.get("then")) {
                if self.valid(condition, value) {
                    self.check(then, value, at, out);
                }
            }
            match value {
                Value::Object(map) => {
                    let properties = schema.get("properties").and_then(Value::as_object);
                    for required in schema
                        .get("required")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !map.contains_key(required) {
                            out.push(format!("{at}: lacks {required}"));
                        }
                    }
                    for (key, item) in map {
                        let path = format!("{at}.{key}");
                        match properties.and_then(|p| p.get(key)) {
                            Some(sub) => self.check(sub, item, &path, out),
                            None => match schema.get("additionalProperties") {
                                Some(Value::Bool(false)) => {
                                    out.push(format!("{path}: is not allowed"))
                                }
                                Some(sub @ Value::Object(_)) => self.check(sub, item, &path, out),
                                _ => {}
                            },
                        }
                    }
                }
                Value::Array(items) => {
                    if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                        if (items.len() as u64) < min {
                            out.push(format!("{at}: fewer than {min} items"));
                        }
                    }
                    if let Some(sub) = schema.get("items") {
                        for (i, item) in items.iter().enumerate() {
                            self.check(sub, item, &format!("{at}[{i}]"), out);
                        }
                    }
                }
                Value::String(text) => {
                    let chars = text.chars().count() as u64;
                    if schema
                        .get("maxLength")
                        .and_then(Value::as_u64)
                        .is_some_and(|max| chars > max)
                        || schema
                            .get("minLength")
                            .and_then(Value::as_u64)
                            .is_some_and(|min| chars < min)
                    {
                        out.push(format!("{at}: length {chars} out of bounds"));
                    }
                    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                        if !regex::Regex::new(pattern).unwrap().is_match(text) {
                            out.push(format!("{at}: {text:?} does not match {pattern}"));
                        }
                    }
                    let format_ok = match schema.get("format").and_then(Value::as_str) {
                        Some("date-time") => {
                            concierge::merchant::acp::wire::unix_from_rfc3339(text).is_some()
                        }
                        Some("uri") => url::Url::parse(text).is_ok(),
                        Some("email") => text.contains('@'),
                        _ => true,
                    };
                    if !format_ok {
                        out.push(format!("{at}: {text:?} is not of its format"));
                    }
                }
                Value::Number(number) => {
                    let n = number.as_f64().unwrap_or(0.0);
                    if schema
                        .get("minimum")
                        .and_then(Value::as_f64)
                        .is_some_and(|min| n < min)
                        || schema
                            .get("maximum")
                            .and_then(Value::as_f64)
                            .is_some_and(|max| n > max)
                    {
                        out.push(format!("{at}: {n} out of bounds"));
                    }
                }
                _ => {}
            }
        }
    }

    fn is_type(kind: &str, value: &Value) -> bool {
        match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => true,
        }
    }
}

/// Every request the reference merchant got and every answer it gave.
#[derive(Clone, Default)]
struct Recorder {
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

#[derive(Debug, Clone)]
struct Exchange {
    method: String,
    path: String,
    request: Vec<u8>,
    status: u16,
    answer: Vec<u8>,
}

async fn record(
    axum::extract::State(recorder): axum::extract::State<Recorder>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let request_bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let method = parts.method.to_string();
    let path = parts.uri.path().to_string();
    let response = next
        .run(Request::from_parts(
            parts,
            Body::from(request_bytes.clone()),
        ))
        .await;
    let (parts, body) = response.into_parts();
    let answer = axum::body::to_bytes(body, 1 << 22)
        .await
        .unwrap_or_default();
    recorder.exchanges.lock().unwrap().push(Exchange {
        method,
        path,
        request: request_bytes.to_vec(),
        status: parts.status.as_u16(),
        answer: answer.to_vec(),
    });
    Response::from_parts(parts, Body::from(answer))
}

/// Validates every request and answer `recorder` saw against the schema;
/// how many were checked.
fn validate_recorded(recorder: &Recorder) -> usize {
    let schema = schema::Schema::load();
    let exchanges = recorder.exchanges.lock().unwrap().clone();
    for exchange in &exchanges {
        let segments: Vec<&str> = exchange.path.trim_matches('/').split('/').collect();
        let answer: Value = serde_json::from_slice(&exchange.answer)
            .unwrap_or_else(|_| panic!("answer to {} is not JSON", exchange.path));
        if !(200..300).contains(&exchange.status) {
            schema.assert_valid("Error", &answer);
        } else if answer.get("order").is_some() {
            schema.assert_valid("CheckoutSessionWithOrder", &answer);
        } else {
            schema.assert_valid("CheckoutSession", &answer);
        }
        if exchange.method != "POST" || exchange.request.is_empty() {
            continue;
        }
        let Ok(request) = serde_json::from_slice::<Value>(&exchange.request) else {
            continue;
        };
        let definition = match segments.as_slice() {
            ["checkout_sessions"] => "CheckoutSessionCreateRequest",
            ["checkout_sessions", _] => "CheckoutSessionUpdateRequest",
            ["checkout_sessions", _, "complete"] => "CheckoutSessionCompleteRequest",
            ["checkout_sessions", _, "cancel"] => "CancelSessionRequest",
            _ => continue,
        };
        // Requests the tests send on purpose broken are not the buyer's.
        if schema.problems(definition, &request).is_empty() {
            if let Some(allowance) =
                request.pointer("/payment_data/instrument/credential/allowance")
            {
                schema.assert_valid("DelegatePaymentAllowance", allowance);
            }
        }
    }
    exchanges.len()
}

// ---------------------------------------------------------------------------
// The spec's examples and schema
// ---------------------------------------------------------------------------

#[test]
fn every_example_of_the_spec_decodes_with_the_wire_types() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/acp/examples.agentic_checkout.json"
    ))
    .unwrap();
    let examples: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap();
    fn decode<T: serde::de::DeserializeOwned>(name: &str, value: &Value) -> T {
        serde_json::from_value(value.clone())
            .unwrap_or_else(|e| panic!("example {name} does not decode: {e}"))
    }
    for (name, value) in &examples {
        match name.as_str() {
            n if n.starts_with("create_checkout_session_request") => {
                let request: CreateCheckoutSessionRequest = decode(n, value);
                assert_eq!(request.line_items[0].id, "item_123");
                assert_eq!(request.currency, "usd");
            }
            "update_checkout_session_request" => {
                let request: UpdateCheckoutSessionRequest = decode(name, value);
                let selected = request.selected_fulfillment_options.unwrap();
                assert_eq!(selected[0].option_id, "fulfillment_option_456");
            }
            n if n.starts_with("complete_checkout_session_request")
                || n.starts_with("complete_session_with_") =>
            {
                let request: CompleteCheckoutSessionRequest = decode(n, value);
                let credential = request.payment_data.instrument.unwrap().credential;
                assert_eq!(credential.kind, "spt");
                assert!(!credential.token.is_empty());
            }
            "complete_checkout_session_response" => {
                let completed: CheckoutSessionWithOrder = decode(name, value);
                assert_eq!(completed.session().status, SessionStatus::Completed);
                assert_eq!(completed.order().id, "ord_abc123");
                assert_eq!(completed.session().total_of(TotalType::Total), Some(830));
            }
            n if n.starts_with("cancel_checkout_session_request") => {
                let request: CancelSessionRequest = decode(n, value);
                assert!(request.intent_trace.is_some());
            }
            n if n.ends_with("_response") && !n.starts_with("discovery")
                || n.starts_with("checkout_session_") =>
            {
                let session: CheckoutSession = decode(n, value);
                assert!(!session.totals.is_empty(), "{n}");
                let expected = match n {
                    "checkout_session_with_out_of_stock" => Some(MessageErrorCode::OutOfStock),
                    "checkout_session_with_payment_declined" => {
                        Some(MessageErrorCode::PaymentDeclined)
                    }
                    _ => None,
                };
                assert_eq!(
                    session.errors().next().map(|(code, _)| *code),
                    expected,
                    "{n}"
                );
                if n == "checkout_session_authentication_required" {
                    assert_eq!(session.status, SessionStatus::AuthenticationRequired);
                }
            }
            n if n.starts_with("webhook_order_") => {
                let event: OrderWebhookEvent = decode(n, value);
                assert_eq!(event.data.checkout_session_id, "checkout_session_123");
            }
            n if n.starts_with("authentication_result_") => {
                let _: AuthenticationResult = decode(n, value);
            }
            n if n.starts_with("discovery_response") => {
                let discovery: DiscoveryResponse = decode(n, value);
                assert_eq!(discovery.protocol.name, "acp");
            }
            n if n.starts_with("error_") => {
                let error: ApiError = decode(n, value);
                assert_eq!(error.kind, ErrorType::InvalidRequest);
            }
            other => panic!("example {other} is not decoded by this test"),
        }
    }
    assert_eq!(examples.len(), 30);
}

#[test]
fn the_schema_validator_refuses_what_the_schema_refuses() {
    let schema = schema::Schema::load();
    schema.assert_valid(
        "Error",
        &json!({"type": "invalid_request", "code": "x", "message": "m"}),
    );
    assert!(!schema
        .problems(
            "Error",
            &json!({"type": "oops", "code": "x", "message": "m"})
        )
        .is_empty());
    assert!(!schema
        .problems("Item", &json!({"id": "x", "quantity": 2}))
        .is_empty());
    assert!(!schema
        .problems(
            "Total",
            &json!({"type": "total", "display_text": "T", "amount": 1.5})
        )
        .is_empty());
    assert!(!schema
        .problems(
            "DelegatePaymentAllowance",
            &json!({"reason": "one_time", "max_amount": 1,
            "currency": "USD", "checkout_session_id": "c", "merchant_id": "m",
            "expires_at": "2026-01-01T00:00:00Z"})
        )
        .is_empty());
}

#[test]
fn the_buyer_create_request_is_valid_and_lists_each_unit() {
    let schema = schema::Schema::load();
    let request =
        buyer::create_request(&[wanted("WS-1", "WS-1-GRAY-M", 2), wanted("MUG-1", "", 1)]).unwrap();
    let ids: Vec<&str> = request.line_items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["WS-1-GRAY-M", "WS-1-GRAY-M", "MUG-1"]);
    schema.assert_valid(
        "CheckoutSessionCreateRequest",
        &serde_json::to_value(&request).unwrap(),
    );
    let mut no_currency = wanted("WS-1", "WS-1-GRAY-M", 1);
    no_currency.currency = None;
    assert!(buyer::create_request(&[no_currency]).is_err());
    assert!(buyer::create_request(&[wanted("WS-1", "", 1_001)]).is_err());
}

// ---------------------------------------------------------------------------
// Buying from the reference merchant
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_buyer_buys_from_the_reference_merchant_once() {
    let (url, merchant, recorder) = serve_merchant(merchant()).await;
    let protocol = protocol(Duration::from_secs(3));
    let mut checkout = negotiated(&protocol, &url, socks(2)).await;
    assert_eq!(
        checkout.state(),
        SessionState::Invoiced,
        "{:?}",
        checkout.failure()
    );
    let invoice = checkout.invoice().unwrap().clone();
    assert!(invoice.order_number.starts_with("cs_"));
    // 2 x $9.00, standard shipping $4.00, tax 8.25% of $18.00 = $1.49.
    assert_eq!(
        invoice,
        Invoice {
            merchant_id: "alpha".into(),
            order_number: invoice.order_number.clone(),
            currency: "USD".into(),
            lines: vec![InvoiceLine {
                title: "Wool Socks".into(),
                subtitle: "Gray / M".into(),
                quantity: 2,
                unit_price: 900,
            }],
            subtotal: Some(1_800),
            shipping: 400,
            tax: 149,
            adjustments: 0,
            total: 2_349,
        }
    );
    assert!(checkout.can_agree());
    assert_eq!(checkout.quoted_unit_price(), Some(900));
    let first = &checkout.transcript()[0].text;
    assert!(
        first.starts_with(&format!(
            "created checkout {}: 2 x Wool Socks (Gray / M), total $23.49",
            invoice.order_number
        )),
        "{first}"
    );

    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let stored = StoredPayment::from_json(&payment).unwrap();
    assert_eq!(stored.checkout_session_id, invoice.order_number);
    assert_eq!(stored.allowance().unwrap().max_amount, 2_349);
    assert_eq!(stored.allowance().unwrap().currency, "usd");
    let reply = checkout.pay(&payment).await.unwrap();
    let PaymentReply::Confirmed(text) = &reply else {
        panic!("not confirmed: {reply:?}");
    };
    let charges = merchant.charges();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount.minor, 2_349);
    assert_eq!(charges[0].amount.currency, "USD");
    assert_eq!(charges[0].token, "tok_test_1");
    assert_eq!(charges[0].idempotency_key, stored.idempotency_key);
    assert!(text.contains(&charges[0].order_id), "{text}");
    assert_eq!(checkout.state(), SessionState::Paid);

    // Paying again sends nothing; reconciling sends the same request under
    // the same key and gets the same order.
    assert_eq!(checkout.pay(&payment).await.unwrap(), reply);
    let completes = || {
        recorder
            .exchanges
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.path.ends_with("/complete"))
            .count()
    };
    assert_eq!(completes(), 1);
    let again = protocol
        .repay(&endpoint(&url), "conv-1", &payment, invoice.total)
        .await
        .unwrap();
    assert_eq!(again, reply);
    assert_eq!(completes(), 2);
    assert_eq!(merchant.charges().len(), 1);
    let replayed = recorder
        .exchanges
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.path.ends_with("/complete"))
        .all(|e| e.status == 200);
    assert!(replayed);

    // ACP cancels sessions, not orders.
    let order = OrderRecord {
        id: 1,
        created_at: 0,
        request: String::new(),
        merchant_id: "alpha".into(),
        merchant_name: "Alpha Knits".into(),
        order_number: invoice.order_number.clone(),
        product_title: "Wool Socks".into(),
        variant: "Gray / M".into(),
        quantity: 2,
        currency: "USD".into(),
        subtotal: 1_800,
        shipping: 400,
        tax: 149,
        total: 2_349,
        status: OrderStatus::Paid,
        psid: "conv-1".into(),
        status_detail: String::new(),
        shopper: String::new(),
    };
    let cancel = protocol.cancel(&endpoint(&url), &order).await.unwrap();
    assert!(matches!(&cancel, CancelReply::Refused(text) if text.contains("not completed orders")));
    assert_eq!(protocol.name(), "acp");
    assert!(validate_recorded(&recorder) >= 4);
}

#[tokio::test]
async fn a_session_is_ready_for_payment_once_an_option_is_selected() {
    let (url, _, recorder) = serve_merchant(merchant().without_default_fulfillment()).await;
    let protocol = protocol(Duration::from_secs(3));
    // Six pairs reach free shipping: standard costs nothing.
    let checkout = negotiated(&protocol, &url, socks(6)).await;
    assert_eq!(
        checkout.state(),
        SessionState::Invoiced,
        "{:?}",
        checkout.failure()
    );
    let invoice = checkout.invoice().unwrap();
    assert_eq!((invoice.shipping, invoice.total), (0, 5_400 + 446));
    let lines: Vec<&str> = checkout
        .transcript()
        .iter()
        .map(|l| l.text.as_str())
        .collect();
    assert!(lines[0].ends_with("not_ready_for_payment"), "{lines:?}");
    assert!(
        lines[1].starts_with("selected standard ($0.00)"),
        "{lines:?}"
    );
    assert!(lines[1].ends_with("ready_for_payment"), "{lines:?}");
    let updates = recorder
        .exchanges
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.method == "POST" && e.path.matches('/').count() == 2)
        .count();
    assert_eq!(updates, 1);
    validate_recorded(&recorder);
}

#[tokio::test]
async fn coupons_express_and_the_status_move_on_the_reference_merchant() {
    let merchant = merchant()
        .without_default_fulfillment()
        .with_coupon("SAVE10", Discount::PercentOff(10));
    let (url, _, recorder) = serve_merchant(merchant).await;
    let post = |path: String, key: &'static str, body: Value| {
        raw(
            reqwest::Method::POST,
            format!("{url}{path}"),
            &[AUTH, VERSION, ("Idempotency-Key", key)],
            Some(body),
        )
    };
    let (status, _, session) = post(
        "/checkout_sessions".into(),
        "k1",
        json!({"currency": "usd", "capabilities": {}, "coupons": ["save10", "BOGUS"],
               "line_items": [{"id": "WS-1-GRAY-M"}, {"id": "MUG-1"}, {"id": "WS-1-GRAY-M"}]}),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let session: CheckoutSession = serde_json::from_value(session).unwrap();
    assert_eq!(session.status, SessionStatus::NotReadyForPayment);
    assert_eq!(session.line_items.len(), 2);
    assert_eq!(session.line_items[0].quantity, 2);
    assert_eq!(session.line_items[1].variant_id.as_deref(), Some("MUG-1-W"));
    // $30.00 of items, 10% off, tax on $27.00.
    assert_eq!(session.total_of(TotalType::Discount), Some(300));
    assert_eq!(session.total_of(TotalType::Tax), Some(223));
    assert_eq!(session.total_of(TotalType::Total), Some(3_000 - 300 + 223));
    assert!(session
        .messages
        .iter()
        .any(|m| matches!(m, Message::Warning { code, .. } if code == "discount_code_invalid")));
    let (status, _, updated) = post(
        format!("/checkout_sessions/{}", session.id),
        "k2",
        json!({"selected_fulfillment_options": [{"type": "shipping", "option_id": "express", "item_ids": []}]}),
    )
    .await;
    assert_eq!(status, 200);
    let updated: CheckoutSession = serde_json::from_value(updated).unwrap();
    assert_eq!(updated.status, SessionStatus::ReadyForPayment);
    assert_eq!(updated.total_of(TotalType::Fulfillment), Some(1_400));
    let (status, _, error) = post(
        format!("/checkout_sessions/{}", session.id),
        "k3",
        json!({"selected_fulfillment_options": [{"type": "shipping", "option_id": "teleport", "item_ids": []}]}),
    )
    .await;
    assert_eq!((status, error["code"].as_str()), (400, Some("invalid")));
    validate_recorded(&recorder);
}

#[tokio::test]
async fn items_the_merchant_cannot_sell_end_with_its_words() {
    let (url, _, recorder) = serve_merchant(merchant()).await;
    let protocol = protocol(Duration::from_secs(3));
    let check = |variant: &'static str, product: &'static str, says: &'static str| {
        let protocol = protocol.clone();
        let url = url.clone();
        async move {
            let checkout =
                negotiated(&protocol, &url, opening(vec![wanted(product, variant, 1)])).await;
            assert_eq!(
                checkout.state(),
                SessionState::Failed,
                "{variant} {product}"
            );
            let failure = checkout.failure().unwrap();
            assert!(failure.contains(says), "{failure}");
            assert!(!checkout.can_agree());
        }
    };
    check("WS-1-GRAY-L", "WS-1", "is out of stock").await;
    check("", "WS-1", "several variants").await;
    check("NOPE-1", "NOPE", "does not exist").await;
    let mut mug = negotiated(&protocol, &url, opening(vec![wanted("MUG-1", "", 1)])).await;
    assert_eq!(mug.state(), SessionState::Invoiced, "{:?}", mug.failure());
    // Declining cancels the session at the merchant.
    mug.decline("a cheaper offer was chosen").await;
    assert_eq!(mug.state(), SessionState::Declined);
    let last = &mug.transcript().last().unwrap().text;
    assert!(
        last.starts_with("canceled checkout cs_") && last.ends_with("(canceled)"),
        "{last}"
    );
    validate_recorded(&recorder);
}

// ---------------------------------------------------------------------------
// The merchant's own checks of a payment
// ---------------------------------------------------------------------------

/// Creates a ready session of two pairs of socks; its id and total.
async fn ready_session(url: &str, key: &str) -> (String, i64) {
    let (status, _, session) = raw(
        reqwest::Method::POST,
        format!("{url}/checkout_sessions"),
        &[AUTH, VERSION, ("Idempotency-Key", key)],
        Some(json!({"currency": "usd", "capabilities": {},
                    "line_items": [{"id": "WS-1-GRAY-M"}, {"id": "WS-1-GRAY-M"}]})),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    let session: CheckoutSession = serde_json::from_value(session).unwrap();
    assert_eq!(session.status, SessionStatus::ReadyForPayment);
    (
        session.id.clone(),
        session.total_of(TotalType::Total).unwrap(),
    )
}

fn complete_body(
    session: &str,
    max: i64,
    currency: &str,
    merchant: &str,
    expires_at: &str,
) -> Value {
    json!({"payment_data": {"handler_id": "card_tokenized", "instrument": {"type": "card",
        "credential": {"type": "spt", "token": "tok_raw", "allowance": {
            "reason": "one_time", "max_amount": max, "currency": currency,
            "checkout_session_id": session, "merchant_id": merchant, "expires_at": expires_at}}}}})
}

#[tokio::test]
async fn the_merchant_declines_allowances_that_do_not_cover_the_session() {
    let (url, merchant, recorder) = serve_merchant(merchant()).await;
    let (id, total) = ready_session(&url, "create-1").await;
    let (other, _) = ready_session(&url, "create-2").await;
    let later = rfc3339_from_unix(4_102_444_800);
    let cases = [
        (
            complete_body(&id, total - 1, "usd", "alpha", &later),
            "below the total",
        ),
        (
            complete_body(&id, total, "eur", "alpha", &later),
            "is in eur",
        ),
        (
            complete_body(&id, total, "usd", "alpha", "2020-01-01T00:00:00Z"),
            "expired",
        ),
        (
            complete_body(&other, total, "usd", "alpha", &later),
            "another checkout session",
        ),
        (
            complete_body(&id, total, "usd", "beta", &later),
            "another merchant",
        ),
        (
            json!({"payment_data": {"handler_id": "card_tokenized", "instrument": {"type": "card",
            "credential": {"type": "spt", "token": "tok_raw"}}}}),
            "no allowance",
        ),
    ];
    for (i, (body, says)) in cases.into_iter().enumerate() {
        let key = format!("complete-{i}");
        let (status, _, answer) = raw(
            reqwest::Method::POST,
            format!("{url}/checkout_sessions/{id}/complete"),
            &[AUTH, VERSION, ("Idempotency-Key", key.as_str())],
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        let session: CheckoutSession = serde_json::from_value(answer).unwrap();
        assert_eq!(session.status, SessionStatus::ReadyForPayment);
        let (code, content) = session.errors().next().unwrap();
        assert_eq!(*code, MessageErrorCode::PaymentDeclined);
        assert!(content.contains(says), "{content}");
    }
    assert!(merchant.charges().is_empty());

    // An id the merchant was registered under is its own.
    assert!(merchant.accept_merchant_id("alpha-at-concierge"));
    let good = complete_body(&id, total, "usd", "alpha-at-concierge", &later);
    let (status, _, first) = raw(
        reqwest::Method::POST,
        format!("{url}/checkout_sessions/{id}/complete"),
        &[AUTH, VERSION, ("Idempotency-Key", "complete-good")],
        Some(good),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "completed");
    // A second complete of the completed session, under another key:
    // the same session and order, no second charge.
    let (status, headers, second) = raw(
        reqwest::Method::POST,
        format!("{url}/checkout_sessions/{id}/complete"),
        &[AUTH, VERSION, ("Idempotency-Key", "complete-again")],
        Some(complete_body(&id, total, "usd", "alpha", &later)),
    )
    .await;
    assert_eq!(status, 200);
    assert!(headers.get("idempotent-replayed").is_none());
    assert_eq!(second["order"], first["order"]);
    assert_eq!(merchant.charges().len(), 1);

    // A canceled session is not completed; canceling twice is 405.
    let cancel = |key: &'static str| {
        raw(
            reqwest::Method::POST,
            format!("{url}/checkout_sessions/{other}/cancel"),
            &[AUTH, VERSION, ("Idempotency-Key", key)],
            None,
        )
    };
    let (status, _, canceled) = cancel("cancel-1").await;
    assert_eq!(
        (status, canceled["status"].as_str()),
        (200, Some("canceled"))
    );
    let (status, _, again) = cancel("cancel-2").await;
    assert_eq!(
        (status, again["type"].as_str()),
        (405, Some("invalid_request"))
    );
    let (status, _, refused) = raw(
        reqwest::Method::POST,
        format!("{url}/checkout_sessions/{other}/complete"),
        &[AUTH, VERSION, ("Idempotency-Key", "complete-canceled")],
        Some(complete_body(&other, total, "usd", "alpha", &later)),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(refused["code"], "checkout_session_canceled");
    assert_eq!(merchant.charges().len(), 1);
    validate_recorded(&recorder);
}

#[tokio::test]
async fn idempotency_keys_bearer_and_bounds_follow_the_spec() {
    let (url, merchant, recorder) = serve_merchant(merchant()).await;
    let create = json!({"currency": "usd", "capabilities": {}, "line_items": [{"id": "MUG-1-W"}]});
    let sessions = format!("{url}/checkout_sessions");
    let post = |headers: Vec<(&'static str, &'static str)>, body: Value| {
        let sessions = sessions.clone();
        async move { raw(reqwest::Method::POST, sessions, &headers, Some(body)).await }
    };

    let (status, _, error) = post(vec![AUTH, VERSION], create.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "idempotency_key_required");

    let (status, headers, first) = post(
        vec![AUTH, VERSION, ("Idempotency-Key", "same")],
        create.clone(),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(headers["idempotency-key"], "same");
    assert!(headers.get("idempotent-replayed").is_none());
    let (status, headers, replay) = post(
        vec![AUTH, VERSION, ("Idempotency-Key", "same")],
        create.clone(),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(headers["idempotent-replayed"], "true");
    assert_eq!(replay["id"], first["id"]);

    let mut other = create.clone();
    other["line_items"] = json!([{"id": "WS-1-GRAY-M"}]);
    let (status, _, error) = post(vec![AUTH, VERSION, ("Idempotency-Key", "same")], other).await;
    assert_eq!(status, 422);
    assert_eq!(error["code"], "idempotency_conflict");

    let wrong = ("Authorization", "Bearer not-the-key");
    let (status, headers, error) = post(
        vec![wrong, VERSION, ("Idempotency-Key", "k")],
        create.clone(),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(headers["www-authenticate"], "Bearer");
    assert_eq!(error["type"], "invalid_request");
    let (status, _, _) = raw(
        reqwest::Method::GET,
        format!("{sessions}/{}", first["id"].as_str().unwrap()),
        &[VERSION],
        None,
    )
    .await;
    assert_eq!(status, 401);

    let (status, _, error) = post(vec![AUTH, ("Idempotency-Key", "v")], create.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(error["supported_versions"], json!([API_VERSION]));

    let mut huge = create.clone();
    huge["order_notes"] = json!("x".repeat(70 * 1024));
    let (status, _, error) = post(vec![AUTH, VERSION, ("Idempotency-Key", "big")], huge).await;
    assert_eq!(status, 413);
    assert_eq!(error["code"], "request_too_large");

    let (status, _, error) = raw(
        reqwest::Method::POST,
        sessions.clone(),
        &[AUTH, VERSION, ("Idempotency-Key", "garbage")],
        None,
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let (status, _, error) = raw(
        reqwest::Method::GET,
        format!("{url}/nowhere"),
        &[AUTH, VERSION],
        None,
    )
    .await;
    assert_eq!((status, error["code"].as_str()), (404, Some("not_found")));
    let (status, _, error) = raw(
        reqwest::Method::DELETE,
        sessions.clone(),
        &[AUTH, VERSION],
        None,
    )
    .await;
    assert_eq!(
        (status, error["type"].as_str()),
        (405, Some("invalid_request"))
    );

    assert!(merchant.charges().is_empty());
    validate_recorded(&recorder);

    // Registration's probe: the right key passes, a wrong key does not.
    let client = concierge::http::client();
    probe(&client, &url, KEY, None).await.unwrap();
    let refused = probe(&client, &url, "nope", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("refused the API key"), "{refused}");
}

// ---------------------------------------------------------------------------
// Hostile merchants
// ---------------------------------------------------------------------------

/// A ready session of `quantity` x `item` at $9.00, $4.00 shipping, whose
/// total is `total` (the tax makes up the rest).
fn hostile_session(id: &str, item: &str, total: i64, status: &str) -> Value {
    json!({
        "id": id, "status": status, "currency": "usd",
        "capabilities": {"payment": {"handlers": [{
            "id": "card_tokenized", "name": "dev.acp.tokenized.card", "version": "2026-01-22",
            "spec": "https://acp.dev/handlers/tokenized.card", "requires_delegate_payment": true,
            "requires_pci_compliance": false, "psp": "x",
            "config_schema": "https://acp.dev/c.json", "instrument_schemas": [], "config": {}}]}},
        "line_items": [{"id": "li_1", "item": {"id": item}, "quantity": 2, "name": "Wool Socks",
            "unit_amount": 900, "variant_options": [{"name": "Color", "value": "Gray"}],
            "totals": []}],
        "fulfillment_options": [{"type": "shipping", "id": "std", "title": "Standard",
            "totals": [{"type": "total", "display_text": "Shipping", "amount": 400}]}],
        "selected_fulfillment_options": [{"type": "shipping", "option_id": "std", "item_ids": [item]}],
        "totals": [
            {"type": "items_base_amount", "display_text": "Items", "amount": 1800},
            {"type": "fulfillment", "display_text": "Shipping", "amount": 400},
            {"type": "tax", "display_text": "Tax", "amount": total - 2200},
            {"type": "total", "display_text": "Total", "amount": total}],
        "messages": [], "links": []
    })
}

/// How a hostile merchant answers complete.
#[derive(Clone, Copy)]
enum OnComplete {
    /// Completes with a new order every time, ignoring idempotency.
    ChargeEveryTime,
    /// Completes at a total above what was authorised.
    CompleteAt(i64),
    /// Says the completion is in progress, forever.
    InProgress,
    /// Never answers.
    Hang,
}

/// A merchant that answers create with `item` at $23.49 and GET with
/// `get_total`, and complete as `on_complete`; the count of completes.
async fn hostile(
    item: &'static str,
    get_total: i64,
    on_complete: OnComplete,
) -> (String, Arc<AtomicUsize>) {
    let completes = Arc::new(AtomicUsize::new(0));
    let counter = completes.clone();
    let seen = completes.clone();
    let app = Router::new()
        .route(
            "/checkout_sessions",
            post(move || async move {
                (
                    axum::http::StatusCode::CREATED,
                    Json(hostile_session("cs_h", item, 2_349, "ready_for_payment")),
                )
            }),
        )
        .route(
            "/checkout_sessions/{id}",
            get(move || {
                // A completion in progress stays in progress.
                let status = match on_complete {
                    OnComplete::InProgress if seen.load(Ordering::SeqCst) > 0 => {
                        "complete_in_progress"
                    }
                    _ => "ready_for_payment",
                };
                async move { Json(hostile_session("cs_h", item, get_total, status)) }
            }),
        )
        .route(
            "/checkout_sessions/{id}/complete",
            post(move || {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    match on_complete {
                        OnComplete::ChargeEveryTime | OnComplete::CompleteAt(_) => {
                            let total = match on_complete {
                                OnComplete::CompleteAt(total) => total,
                                _ => 2_349,
                            };
                            let mut session = hostile_session("cs_h", item, total, "completed");
                            session["order"] = json!({"id": format!("ord_{n}"),
                                "checkout_session_id": "cs_h",
                                "permalink_url": format!("https://h.invalid/orders/{n}")});
                            Json(session).into_response()
                        }
                        OnComplete::InProgress => {
                            Json(hostile_session("cs_h", item, 2_349, "complete_in_progress"))
                                .into_response()
                        }
                        OnComplete::Hang => {
                            std::future::pending::<()>().await;
                            ().into_response()
                        }
                    }
                }
            }),
        );
    (serve_app(app).await, completes)
}

/// Negotiates two pairs of socks with a merchant at `url` and pays its
/// invoice; the checkout, its invoice and the answer.
async fn buy(
    url: &str,
    timeout: Duration,
) -> (
    Box<dyn Negotiation>,
    Invoice,
    Result<PaymentReply, concierge::error::MerchantError>,
) {
    let protocol = protocol(timeout);
    let mut checkout = negotiated(&protocol, url, socks(2)).await;
    assert_eq!(
        checkout.state(),
        SessionState::Invoiced,
        "{:?}",
        checkout.failure()
    );
    let invoice = checkout.invoice().unwrap().clone();
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let reply = checkout.pay(&payment).await;
    (checkout, invoice, reply)
}

#[tokio::test]
async fn a_total_raised_above_the_allowance_is_never_paid() {
    // Raised between the invoice and the payment: nothing is sent.
    let (url, completes) = hostile("WS-1-GRAY-M", 9_999, OnComplete::ChargeEveryTime).await;
    let (checkout, invoice, reply) = buy(&url, Duration::from_secs(2)).await;
    assert_eq!(invoice.total, 2_349);
    let Ok(PaymentReply::Refused(text)) = reply else {
        panic!("paid: {reply:?}");
    };
    assert!(
        text.contains("$99.99, above the $23.49 authorised"),
        "{text}"
    );
    assert_eq!(completes.load(Ordering::SeqCst), 0);
    assert_eq!(checkout.state(), SessionState::PaymentRefused);

    // Raised in the completion itself: not taken as paid.
    let (url, completes) = hostile("WS-1-GRAY-M", 2_349, OnComplete::CompleteAt(9_999)).await;
    let (_, _, reply) = buy(&url, Duration::from_secs(2)).await;
    let Ok(PaymentReply::Refused(text)) = reply else {
        panic!("paid: {reply:?}");
    };
    assert!(text.contains("not taken as paid"), "{text}");
    assert_eq!(completes.load(Ordering::SeqCst), 1);

    // And the reference merchant itself refuses an allowance below the
    // total (the buyer's own check aside): see
    // the_merchant_declines_allowances_that_do_not_cover_the_session.
}

#[tokio::test]
async fn a_wrong_item_is_not_invoiced() {
    let (url, completes) = hostile("KNOCKOFF-1", 2_349, OnComplete::ChargeEveryTime).await;
    let checkout = negotiated(&protocol(Duration::from_secs(2)), &url, socks(2)).await;
    assert_eq!(checkout.state(), SessionState::Failed);
    assert!(checkout.invoice().is_none());
    let failure = checkout.failure().unwrap();
    assert!(
        failure.contains("lists 2 x KNOCKOFF-1 where 2 x WS-1-GRAY-M was asked"),
        "{failure}"
    );
    assert_eq!(completes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_merchant_that_would_charge_twice_gets_one_complete() {
    let (url, completes) = hostile("WS-1-GRAY-M", 2_349, OnComplete::ChargeEveryTime).await;
    let protocol = protocol(Duration::from_secs(2));
    let mut checkout = negotiated(&protocol, &url, socks(2)).await;
    let invoice = checkout.invoice().unwrap().clone();
    let payment = checkout.payment(authorization(&invoice)).unwrap();
    let first = checkout.pay(&payment).await.unwrap();
    assert!(matches!(&first, PaymentReply::Confirmed(text) if text.contains("ord_1")));
    let second = checkout.pay(&payment).await.unwrap();
    assert_eq!(second, first);
    assert_eq!(completes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_merchant_that_never_answers_is_bounded_by_the_deadline() {
    let app = Router::new().route(
        "/checkout_sessions",
        post(|| async {
            std::future::pending::<()>().await;
        }),
    );
    let url = serve_app(app).await;
    let protocol = protocol(Duration::from_secs(30));
    let mut checkout = protocol.open(&endpoint(&url), socks(2));
    // Bounded by the deadline: a hang would trip the minute-long guard
    // (how long it takes is a benchmark's figure, not asserted here).
    tokio::time::timeout(
        Duration::from_secs(60),
        checkout.negotiate(Instant::now() + Duration::from_millis(700), None),
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
async fn a_completion_that_never_finishes_is_an_unknown_answer_within_bounds() {
    for on_complete in [OnComplete::Hang, OnComplete::InProgress] {
        let (url, completes) = hostile("WS-1-GRAY-M", 2_349, on_complete).await;
        let (checkout, _, reply) = tokio::time::timeout(
            Duration::from_secs(60),
            buy(&url, Duration::from_millis(600)),
        )
        .await
        .expect("the completion is bounded");
        assert!(reply.is_err(), "{reply:?}");
        assert_eq!(completes.load(Ordering::SeqCst), 1);
        // Unknown, not refused: reconciliation will ask again.
        assert_eq!(checkout.state(), SessionState::Invoiced);
    }
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let app = Router::new().route(
        "/checkout_sessions",
        post(|| async {
            let mut session = hostile_session("cs_big", "WS-1-GRAY-M", 2_349, "ready_for_payment");
            session["padding"] = json!("x".repeat(100 * 1024));
            (axum::http::StatusCode::CREATED, Json(session))
        }),
    );
    let url = serve_app(app).await;
    let checkout = negotiated(&protocol(Duration::from_secs(2)), &url, socks(2)).await;
    assert_eq!(checkout.state(), SessionState::Failed);
    assert!(
        checkout.failure().unwrap().contains("larger than"),
        "{:?}",
        checkout.failure()
    );
}

#[tokio::test]
async fn probe_refuses_what_is_not_an_acp_checkout() {
    let app =
        Router::new().fallback(|| async { (axum::http::StatusCode::NOT_FOUND, "nothing here") });
    let url = serve_app(app).await;
    let refused = probe(&concierge::http::client(), &url, KEY, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("without the ACP error body"), "{refused}");
}
