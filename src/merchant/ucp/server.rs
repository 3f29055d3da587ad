//! The reference UCP merchant: what a small business without a checkout
//! API of its own runs over its feed. One [`UcpMerchant`] serves one
//! catalog ([`MerchantProfile`] + [`FeedProduct`]s):
//!
//! - `GET /.well-known/ucp`: its profile. The REST endpoint is the base URL
//!   it was reached at (or [`UcpMerchantConfig::public_url`]); capabilities
//!   checkout, order, fulfillment, discount and buyer consent; the
//!   `dev.concierge.allowance` payment handler, whose spec and schemas it
//!   serves under `/ucp/handlers/allowance`.
//! - `POST /checkout-sessions`, `GET`/`PUT /checkout-sessions/{id}`,
//!   `POST /checkout-sessions/{id}/complete`,
//!   `POST /checkout-sessions/{id}/cancel` (the 2026-01-11 REST binding) and
//!   `GET /orders/{id}` (2026-04-08's order binding, which the conformance
//!   suite calls).
//!
//! A line item's `item.id` is a variant id, or the id of a product with one
//! variant; its price is the variant's, its stock the variant's
//! availability and [`UcpMerchantConfig::inventory`]. Unknown, ambiguous and
//! out-of-stock items are refused with UCP error messages. Totals: subtotal,
//! discount codes (applied in the order given, each on what the earlier
//! left), shipping (one option per service level from
//! [`UcpMerchantConfig::shipping_rates`], the rate for the destination's
//! country else the rate for any; standard free from `free_shipping_over` or
//! for a free-shipping item; by default a flat standard and a dearer
//! express), tax on the discounted subtotal, total. The platform's
//! `payment` choice (selected instrument, instruments without their
//! credentials) is echoed back. A session is `ready_for_complete` once a shipping option
//! is chosen (and a destination, when
//! [`UcpMerchantConfig::require_destination`]).
//!
//! Completion is paid with Concierge's allowance (see [`super`]): the
//! merchant charges at most once per session and refuses an allowance below
//! the total, in another currency, expired, or for another session or
//! merchant; a complete of a completed session with the same authorisation
//! answers the same completed session, anything else is refused, as is
//! completing a cancelled session. Every charge is kept ([`UcpCharge`]).
//!
//! With [`UcpMerchantConfig::order_webhooks`] set, the merchant sends
//! `order_placed` and `order_shipped` events to the order webhook of the
//! platform profile named in the `UCP-Agent` header (unsigned: it holds no
//! signing key), only to addresses that policy allows. With
//! [`UcpMerchantConfig::simulation_secret`] set, `POST
//! /testing/simulate-shipping/{order}` ships an order, for tests.
//!
//! Every mutating request honours `Idempotency-Key`: the same key and body
//! get the same answer, the same key with another body 409. Bodies are
//! bounded (64 KiB), every error is JSON in the spec's shape (`status`,
//! `messages`) with `detail` beside it, as the reference samples write it,
//! and sessions, orders and remembered keys are bounded in number.
//!
//! This file holds the settings, the state, pricing and the views of a
//! session and an order; `session.rs` the checkout operations (create,
//! update, cancel, complete and its payment, shipping simulated);
//! `shipping.rs` the rates and the options a session is offered; `http.rs`
//! the routes, handlers and order-webhook delivery.

use super::wire::*;
use crate::catalog::feed::{canonical_option_name, FeedProduct, FeedVariant};
use crate::catalog::MerchantProfile;
use crate::merchant::messenger::signature::random_token;
use crate::merchant::messenger::transport::guarded_client;
use crate::merchant::messenger::wire::{now_millis, Allowance};
use crate::merchant::network::NetworkPolicy;
use crate::money::Money;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

mod catalog;
mod http;
mod session;
mod shipping;

use http::deliver;
pub use http::app;
use shipping::PricedOption;
pub use shipping::{ServiceLevel, ShippingRate};

/// Largest request body read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most line items in one session.
const MAX_LINE_ITEMS: usize = 100;
/// Most units of one line.
const MAX_QUANTITY: i64 = 1_000_000;
/// Most discount codes and destinations in one session.
const MAX_CODES: usize = 20;
const MAX_DESTINATIONS: usize = 10;
/// Most payment instruments a platform names in one session.
const MAX_INSTRUMENTS: usize = 10;
/// Longest id or code read.
const MAX_ID_CHARS: usize = 256;

const METHOD_ID: &str = "shipping_1";
const GROUP_ID: &str = "package_1";
/// Order webhooks: each request's wait, and most events queued.
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
const MAX_OUTBOX: usize = 1000;
/// Where the test payment handlers' spec and config schema are served.
const MOCK_HANDLER_PATH: &str = "/ucp/handlers/mock";
/// What the conformance suite's complete-without-fulfilment test reads.
const FULFILLMENT_NEEDED: &str = "Fulfillment address and option must be selected";

/// How a discount code takes money off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscountKind {
    /// A share of what is left when it applies, in basis points (1000 =
    /// 10%); the rest is rounded down, as the reference samples do.
    Percent { basis_points: i64 },
    /// A fixed amount in minor units, never more than what is left.
    Fixed { amount: i64 },
}

/// A discount code the merchant accepts (matched case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountCode {
    pub code: String,
    pub title: String,
    pub kind: DiscountKind,
}

impl DiscountCode {
    pub fn percent(code: &str, basis_points: i64) -> DiscountCode {
        DiscountCode {
            code: code.into(),
            title: format!("{}% off", basis_points as f64 / 100.0),
            kind: DiscountKind::Percent { basis_points },
        }
    }

    pub fn fixed(code: &str, amount: i64, currency: &str) -> DiscountCode {
        DiscountCode {
            code: code.into(),
            title: format!("{} off", Money::new(amount, currency)),
            kind: DiscountKind::Fixed { amount },
        }
    }
}

/// Settings of one reference merchant.
#[derive(Debug, Clone)]
pub struct UcpMerchantConfig {
    pub profile: MerchantProfile,
    /// The shipping options sessions offer, by service level and
    /// destination country. Default [`ShippingRate::flat`]: standard at the
    /// profile's flat rate, express at twice that (at least 10.00).
    pub shipping_rates: Vec<ShippingRate>,
    /// Item ids (variant or product) that ship free at the standard level
    /// (a line holding one makes the session's standard shipping free), as
    /// a promotion; `MerchantProfile::free_shipping_over` is the other.
    /// Default none.
    pub free_shipping_items: Vec<String>,
    /// Codes accepted at checkout. Default none.
    pub discount_codes: Vec<DiscountCode>,
    /// Units in stock per variant id; a variant not listed holds
    /// `default_stock` while its feed says it is available. Completed
    /// orders take from it.
    pub inventory: HashMap<String, u32>,
    /// Default 1,000.
    pub default_stock: u32,
    /// Whether completing needs a shipping destination. Default false: the
    /// flat rate does not depend on it (Concierge shares an address only
    /// when one is configured).
    pub require_destination: bool,
    /// The conformance suite's fixtures: also list its `mock_payment_handler`
    /// (token `success_token` pays, `fail_token` is declined), `google_pay`
    /// and `shop_pay` handlers, and take mock instruments. Never for real
    /// sales. Default false.
    pub test_payments: bool,
    /// Enables `POST /testing/simulate-shipping/{order}` for requests that
    /// carry this `Simulation-Secret`. Default none (no such route).
    pub simulation_secret: Option<String>,
    /// The base URL the merchant names in discovery and permalinks; default
    /// `http://` and the request's `Host`.
    pub public_url: Option<String>,
    /// Most sessions kept (the oldest go first). Default 10,000; orders and
    /// remembered idempotency keys are bounded alike.
    pub max_sessions: usize,
    /// How long an open session lives. Default 6 hours (the spec's TTL).
    pub session_ttl_secs: i64,
    /// Order events (`order_placed`, `order_shipped`) to the webhook of the
    /// platform profile named in `UCP-Agent`, reached only at addresses this
    /// policy allows. Default none: the merchant makes no requests of its
    /// own (a profile URL is the platform's to choose).
    pub order_webhooks: Option<NetworkPolicy>,
}

impl UcpMerchantConfig {
    pub fn new(profile: MerchantProfile) -> UcpMerchantConfig {
        UcpMerchantConfig {
            shipping_rates: ShippingRate::flat(&profile),
            free_shipping_items: Vec::new(),
            profile,
            discount_codes: Vec::new(),
            inventory: HashMap::new(),
            default_stock: 1000,
            require_destination: false,
            test_payments: false,
            simulation_secret: None,
            public_url: None,
            max_sessions: 10_000,
            session_ttl_secs: 6 * 3600,
            order_webhooks: None,
        }
    }
}

/// A payment the merchant took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UcpCharge {
    pub checkout_session_id: String,
    pub order_id: String,
    pub amount: Money,
    pub handler_id: String,
    /// The token charged (a mock card shows only its last digits).
    pub token: String,
    /// The authorisation's idempotency key (empty for mock instruments).
    pub idempotency_key: String,
}

/// The merchant's state, shared by its server tasks.
pub struct UcpMerchant {
    config: UcpMerchantConfig,
    products: Vec<FeedProduct>,
    /// Variant ids, and ids of one-variant products, to (product, variant).
    items: HashMap<String, (usize, usize)>,
    /// Products with several variants, by id: named, but ambiguous.
    several: HashMap<String, usize>,
    state: Mutex<MerchantState>,
    /// Sends order events when [`UcpMerchantConfig::order_webhooks`] is set.
    webhook_client: Option<reqwest::Client>,
}

#[derive(Default)]
struct MerchantState {
    sessions: HashMap<String, Session>,
    session_queue: VecDeque<String>,
    orders: HashMap<String, KeptOrder>,
    order_queue: VecDeque<String>,
    /// Order events to send once the state is unlocked.
    outbox: Vec<OrderEvent>,
    remembered: HashMap<String, Remembered>,
    remembered_queue: VecDeque<String>,
    charges: Vec<UcpCharge>,
    /// Units taken by completed orders, by variant id.
    sold: HashMap<String, u64>,
}

struct KeptOrder {
    order: Order,
    /// The platform profile named when the order was placed.
    agent_profile: Option<String>,
}

/// An order event for the platform's webhook.
struct OrderEvent {
    agent_profile: String,
    payload: Value,
}

/// An answer kept under an idempotency key.
#[derive(Clone)]
struct Remembered {
    fingerprint: [u8; 32],
    reply: Reply,
}

#[derive(Debug, Clone, PartialEq)]
struct Reply {
    status: StatusCode,
    body: Value,
}

impl Reply {
    fn ok(body: &impl Serialize) -> Reply {
        Reply {
            status: StatusCode::OK,
            body: serde_json::to_value(body).unwrap_or(Value::Null),
        }
    }

    /// A session's view. `payment.instruments` is always written, an empty
    /// list included: platforms (the conformance suite among them) read it
    /// as a list, and the wire type leaves an empty one out.
    fn checkout(view: &Checkout) -> Reply {
        let mut reply = Reply::ok(view);
        if let Some(Value::Object(payment)) = reply.body.get_mut("payment") {
            payment
                .entry("instruments")
                .or_insert_with(|| Value::Array(Vec::new()));
        }
        reply
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Open,
    Completed,
    Canceled,
}

#[derive(Debug, Clone)]
struct Line {
    id: String,
    /// As the platform named it.
    item_id: String,
    product: usize,
    variant: usize,
    quantity: u32,
}

#[derive(Debug, Clone)]
struct Session {
    id: String,
    base_url: String,
    expires_at: i64,
    stage: Stage,
    currency: String,
    lines: Vec<Line>,
    next_line: u32,
    buyer: Option<Value>,
    destinations: Vec<Destination>,
    next_destination: u32,
    selected_destination: Option<String>,
    selected_option: Option<String>,
    codes: Vec<String>,
    payment: PaymentChoice,
    completion: Option<Completion>,
}

/// The platform's side of a session's `payment`, echoed back as the spec
/// asks: the instrument it selected and the instruments it offered, each
/// without its credential (a token is never written in a response).
#[derive(Debug, Clone, Default)]
struct PaymentChoice {
    selected_instrument_id: Option<String>,
    instruments: Vec<Value>,
}

#[derive(Debug, Clone)]
struct Completion {
    /// The credential that paid (token, idempotency key), when it is one
    /// that identifies a payment (an allowance).
    paid_with: Option<(String, String)>,
    reply: Reply,
}

/// Why a request cannot be carried out.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    content: String,
    path: Option<String>,
    severity: Severity,
    session_status: Option<CheckoutStatus>,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, content: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            content: content.into(),
            path: None,
            severity: Severity::Recoverable,
            session_status: None,
        }
    }

    fn at(mut self, path: impl Into<String>) -> Refusal {
        self.path = Some(path.into());
        self
    }

    fn in_session(mut self, status: CheckoutStatus) -> Refusal {
        self.session_status = Some(status);
        self
    }

    fn escalate(mut self) -> Refusal {
        self.severity = Severity::RequiresBuyerInput;
        self
    }

    fn reply(self) -> Reply {
        let status = match self.severity {
            Severity::Recoverable => self.session_status,
            _ => Some(CheckoutStatus::RequiresEscalation),
        };
        let body = ErrorResponse {
            status,
            messages: vec![Message::error(
                self.code,
                self.path.as_deref(),
                &self.content,
                self.severity,
            )],
            detail: Some(Value::String(self.content)),
        };
        Reply {
            status: self.status,
            body: serde_json::to_value(body).unwrap_or(Value::Null),
        }
    }
}

/// A catalog capability as 2026-04-08 declares it: the catalog came with
/// that version, and a capability's version is its own.
fn catalog_capability(name: &str, page: &str) -> Capability {
    let version = super::catalog::CATALOG_VERSION;
    Capability {
        name: name.into(),
        version: version.into(),
        spec: Some(format!("https://ucp.dev/{version}/specification/catalog/{page}")),
        schema: Some(format!(
            "https://ucp.dev/{version}/schemas/shopping/catalog_{page}.json"
        )),
        extends: None,
        config: None,
    }
}

/// What a request was reached with.
struct Context {
    base_url: String,
    now: i64,
    /// The platform profile `UCP-Agent` names.
    agent_profile: Option<String>,
}

/// A session's money, worked out from its lines, codes and choices.
struct Pricing {
    line_totals: Vec<i64>,
    subtotal: i64,
    applied: Vec<AppliedDiscount>,
    /// Indexes of the codes that did not apply.
    rejected: Vec<usize>,
    discount: i64,
    /// The options offered, priced.
    options: Vec<PricedOption>,
    /// The selected option's price.
    shipping: Option<i64>,
    tax: i64,
    total: i64,
}

impl UcpMerchant {
    pub fn new(config: UcpMerchantConfig, products: Vec<FeedProduct>) -> Arc<UcpMerchant> {
        let mut items = HashMap::new();
        let mut several = HashMap::new();
        for (p, product) in products.iter().enumerate() {
            for (v, variant) in product.variants.iter().enumerate() {
                items.entry(variant.id.clone()).or_insert((p, v));
            }
            match product.variants.len() {
                1 => {
                    items.entry(product.id.clone()).or_insert((p, 0));
                }
                0 => {}
                _ => {
                    several.insert(product.id.clone(), p);
                }
            }
        }
        Arc::new(UcpMerchant {
            products,
            items,
            several,
            state: Mutex::new(MerchantState::default()),
            webhook_client: config
                .order_webhooks
                .map(|policy| guarded_client(WEBHOOK_TIMEOUT, policy)),
            config,
        })
    }

    /// A merchant with the default settings for `profile`.
    pub fn from_profile(profile: MerchantProfile, products: Vec<FeedProduct>) -> Arc<UcpMerchant> {
        UcpMerchant::new(UcpMerchantConfig::new(profile), products)
    }

    pub fn config(&self) -> &UcpMerchantConfig {
        &self.config
    }

    /// Every payment taken so far, in order.
    pub fn charges(&self) -> Vec<UcpCharge> {
        lock(&self.state).charges.clone()
    }

    /// Whether an allowance naming `merchant_id` is for this merchant. A
    /// UCP merchant has no handshake that tells it another id: its
    /// allowance handler declares its own, and registration under any
    /// other is refused.
    fn is_me(&self, merchant_id: &str) -> bool {
        merchant_id == self.config.profile.id
    }

    fn currency(&self) -> &str {
        &self.config.profile.currency
    }

    // -- discovery ---------------------------------------------------------

    fn profile_document(&self, base_url: &str) -> Value {
        // The spec's own addresses for its documents and schemas.
        let capability = |name: &str, path: &str, extends: Option<&str>| Capability {
            name: name.into(),
            version: UCP_VERSION.into(),
            spec: Some(format!(
                "https://ucp.dev/specification/{}",
                path.replace('_', "-")
            )),
            schema: Some(format!("https://ucp.dev/schemas/shopping/{path}.json")),
            extends: extends.map(String::from),
            config: None,
        };
        let profile = UcpProfile {
            ucp: DiscoveryMeta {
                version: UCP_VERSION.into(),
                services: [(
                    SHOPPING_SERVICE.to_string(),
                    Service {
                        version: UCP_VERSION.into(),
                        spec: "https://ucp.dev/specification/overview".into(),
                        rest: Some(RestBinding {
                            schema: "https://ucp.dev/services/shopping/rest.openapi.json".into(),
                            endpoint: base_url.to_string(),
                        }),
                    },
                )]
                .into_iter()
                .collect(),
                capabilities: vec![
                    capability(CHECKOUT_CAPABILITY, "checkout", None),
                    capability(ORDER_CAPABILITY, "order", None),
                    capability(
                        FULFILLMENT_CAPABILITY,
                        "fulfillment",
                        Some(CHECKOUT_CAPABILITY),
                    ),
                    capability(DISCOUNT_CAPABILITY, "discount", Some(CHECKOUT_CAPABILITY)),
                    capability(
                        BUYER_CONSENT_CAPABILITY,
                        "buyer_consent",
                        Some(CHECKOUT_CAPABILITY),
                    ),
                    catalog_capability(super::CATALOG_SEARCH, "search"),
                    catalog_capability(super::CATALOG_LOOKUP, "lookup"),
                ],
                payment_handlers: Vec::new(),
            },
            payment: Some(PaymentHandlers {
                handlers: self.handlers(base_url),
            }),
            signing_keys: Vec::new(),
        };
        serde_json::to_value(profile).unwrap_or(Value::Null)
    }

    /// The payment handlers this merchant takes.
    fn handlers(&self, base_url: &str) -> Vec<PaymentHandler> {
        let mut handlers = vec![PaymentHandler {
            id: ALLOWANCE_HANDLER_ID.into(),
            name: ALLOWANCE_HANDLER_NAME.into(),
            version: UCP_VERSION.into(),
            spec: format!("{base_url}/ucp/handlers/allowance"),
            config_schema: format!("{base_url}/ucp/handlers/allowance/config.json"),
            instrument_schemas: vec![format!("{base_url}/ucp/handlers/allowance/instrument.json")],
            config: json!({
                "merchant_id": self.config.profile.id,
                "currencies": [self.currency()],
            }),
        }];
        if self.config.test_payments {
            // Fixtures, not the real handlers of those names: their spec is
            // the merchant's own page saying so.
            let fixture = |id: &str, name: &str, config: Value| PaymentHandler {
                id: id.into(),
                name: name.into(),
                version: UCP_VERSION.into(),
                spec: format!("{base_url}{MOCK_HANDLER_PATH}"),
                config_schema: format!("{base_url}{MOCK_HANDLER_PATH}/config.json"),
                instrument_schemas: vec![
                    "https://ucp.dev/schemas/shopping/types/card_payment_instrument.json".into(),
                ],
                config,
            };
            handlers.push(fixture(
                "mock_payment_handler",
                "dev.ucp.mock_payment",
                json!({"supported_tokens": ["success_token", "fail_token"]}),
            ));
            handlers.push(fixture("google_pay", "google.pay", json!({})));
            handlers.push(fixture(
                "shop_pay",
                "com.shopify.shop_pay",
                json!({"shop_id": self.config.profile.id}),
            ));
        }
        handlers
    }

    fn price(&self, session: &Session) -> Pricing {
        let profile = &self.config.profile;
        let line_totals: Vec<i64> = session
            .lines
            .iter()
            .map(|line| {
                self.products[line.product].variants[line.variant]
                    .price
                    .amount
                    * i64::from(line.quantity)
            })
            .collect();
        let subtotal: i64 = line_totals.iter().sum();
        let mut left = subtotal;
        let mut applied = Vec::new();
        let mut rejected = Vec::new();
        for (index, code) in session.codes.iter().enumerate() {
            let known = self
                .config
                .discount_codes
                .iter()
                .find(|d| d.code.eq_ignore_ascii_case(code));
            let repeated = session.codes[..index]
                .iter()
                .any(|earlier| earlier.eq_ignore_ascii_case(code));
            let Some(discount) = known.filter(|_| !repeated) else {
                rejected.push(index);
                continue;
            };
            let amount = match discount.kind {
                DiscountKind::Percent { basis_points } => {
                    let kept = (i128::from(left)
                        * i128::from(10_000 - basis_points.clamp(0, 10_000))
                        / 10_000) as i64;
                    left - kept
                }
                DiscountKind::Fixed { amount } => amount.clamp(0, left),
            };
            left -= amount;
            applied.push(AppliedDiscount {
                code: Some(discount.code.clone()),
                title: discount.title.clone(),
                amount,
                automatic: false,
                method: None,
                priority: Some(applied.len() as u32 + 1),
                allocations: Vec::new(),
            });
        }
        let discount = subtotal - left;
        let options = self.priced_options(session, subtotal);
        let shipping = session.selected_option.as_ref().and_then(|selected| {
            options
                .iter()
                .find(|option| option.id == *selected)
                .map(|option| option.amount)
        });
        // Tax on what is paid for the goods, rounded half up to the cent.
        let tax = ((i128::from(left) * i128::from(profile.tax_basis_points.max(0)) + 5_000)
            / 10_000) as i64;
        let total = left + shipping.unwrap_or(0) + tax;
        Pricing {
            line_totals,
            subtotal,
            applied,
            rejected,
            discount,
            options,
            shipping,
            tax,
            total,
        }
    }

    fn messages(&self, session: &Session, pricing: &Pricing) -> Vec<Message> {
        let mut messages: Vec<Message> = pricing
            .rejected
            .iter()
            .map(|&index| {
                Message::warning(
                    "discount_code_invalid",
                    Some(&format!("$.discounts.codes[{index}]")),
                    &format!("Code '{}' is not valid here", session.codes[index]),
                )
            })
            .collect();
        if session.stage != Stage::Open {
            return messages;
        }
        if self.config.require_destination && session.selected_destination.is_none() {
            messages.push(Message::error(
                "missing",
                Some("$.fulfillment.methods[0].selected_destination_id"),
                "A shipping address is required",
                Severity::Recoverable,
            ));
        }
        if session.selected_option.is_none() {
            messages.push(Message::error(
                "missing",
                Some("$.fulfillment.methods[0].groups[0].selected_option_id"),
                "Please select a fulfillment option",
                Severity::Recoverable,
            ));
        }
        messages
    }

    fn status(&self, session: &Session) -> CheckoutStatus {
        match session.stage {
            Stage::Completed => CheckoutStatus::Completed,
            Stage::Canceled => CheckoutStatus::Canceled,
            Stage::Open => {
                let pricing = self.price(session);
                if self
                    .messages(session, &pricing)
                    .iter()
                    .any(|m| m.kind == MessageType::Error)
                {
                    CheckoutStatus::Incomplete
                } else {
                    CheckoutStatus::ReadyForComplete
                }
            }
        }
    }

    fn item(&self, line: &Line) -> Item {
        let product = &self.products[line.product];
        let variant = &product.variants[line.variant];
        Item {
            id: line.item_id.clone(),
            title: item_title(product, variant),
            price: variant.price.amount,
            image_url: None,
        }
    }

    fn view(&self, session: &Session) -> Checkout {
        let pricing = self.price(session);
        let messages = self.messages(session, &pricing);
        let status = self.status(session);
        let line_item_ids: Vec<String> = session.lines.iter().map(|l| l.id.clone()).collect();
        let line_items = session
            .lines
            .iter()
            .zip(&pricing.line_totals)
            .map(|(line, &amount)| LineItem {
                id: line.id.clone(),
                item: self.item(line),
                quantity: line.quantity,
                totals: vec![
                    Total::plain(TotalType::Subtotal, amount),
                    Total::plain(TotalType::Total, amount),
                ],
                parent_id: None,
            })
            .collect();
        let options = pricing
            .options
            .iter()
            .map(|option| FulfillmentOption {
                id: option.id.clone(),
                title: option.title.clone(),
                description: Some(option.description.into()),
                carrier: None,
                totals: vec![Total::plain(TotalType::Total, option.amount)],
            })
            .collect();
        let mut totals = vec![Total::new(
            TotalType::Subtotal,
            "Subtotal",
            pricing.subtotal,
        )];
        if pricing.discount > 0 {
            totals.push(Total::new(
                TotalType::Discount,
                "Discount",
                pricing.discount,
            ));
        }
        if let Some(shipping) = pricing.shipping {
            totals.push(Total::new(TotalType::Fulfillment, "Shipping", shipping));
        }
        if self.config.profile.tax_basis_points > 0 {
            totals.push(Total::new(TotalType::Tax, "Tax", pricing.tax));
        }
        totals.push(Total::new(TotalType::Total, "Total", pricing.total));
        Checkout {
            ucp: ResponseMeta {
                version: UCP_VERSION.into(),
                capabilities: [
                    CHECKOUT_CAPABILITY,
                    FULFILLMENT_CAPABILITY,
                    DISCOUNT_CAPABILITY,
                    BUYER_CONSENT_CAPABILITY,
                ]
                .into_iter()
                .map(Capability::named)
                .collect(),
                payment_handlers: Vec::new(),
            },
            id: session.id.clone(),
            line_items,
            buyer: session.buyer.clone(),
            status,
            currency: session.currency.clone(),
            totals,
            messages,
            links: Vec::new(),
            expires_at: (session.stage == Stage::Open).then(|| rfc3339(session.expires_at)),
            continue_url: None,
            payment: PaymentResponse {
                handlers: self.handlers(&session.base_url),
                selected_instrument_id: session.payment.selected_instrument_id.clone(),
                instruments: session.payment.instruments.clone(),
            },
            order: None,
            order_id: None,
            order_permalink_url: None,
            fulfillment: Some(Fulfillment {
                methods: vec![FulfillmentMethod {
                    id: METHOD_ID.into(),
                    kind: "shipping".into(),
                    line_item_ids: line_item_ids.clone(),
                    destinations: session.destinations.clone(),
                    selected_destination_id: session.selected_destination.clone(),
                    groups: vec![FulfillmentGroup {
                        id: GROUP_ID.into(),
                        line_item_ids,
                        options,
                        selected_option_id: session.selected_option.clone(),
                    }],
                }],
                available_methods: Vec::new(),
            }),
            discounts: Some(Discounts {
                codes: (!session.codes.is_empty()).then(|| session.codes.clone()),
                applied: Some(pricing.applied),
            }),
        }
    }

    fn order(&self, session: &Session, id: &str, permalink_url: &str, pricing: &Pricing) -> Order {
        let line_items: Vec<OrderLineItem> = session
            .lines
            .iter()
            .zip(&pricing.line_totals)
            .map(|(line, &amount)| OrderLineItem {
                id: line.id.clone(),
                item: self.item(line),
                quantity: OrderQuantity {
                    total: line.quantity,
                    fulfilled: 0,
                },
                totals: vec![
                    Total::plain(TotalType::Subtotal, amount),
                    Total::plain(TotalType::Total, amount),
                ],
                status: "processing".into(),
            })
            .collect();
        let destination = session
            .selected_destination
            .as_ref()
            .and_then(|id| session.destinations.iter().find(|d| &d.id == id))
            .map(|d| d.address.clone())
            .unwrap_or_default();
        let option_title = session.selected_option.as_ref().and_then(|selected| {
            pricing
                .options
                .iter()
                .find(|option| option.id == *selected)
                .map(|option| option.title.clone())
        });
        let view_totals = {
            let mut totals = vec![Total::new(
                TotalType::Subtotal,
                "Subtotal",
                pricing.subtotal,
            )];
            if pricing.discount > 0 {
                totals.push(Total::new(
                    TotalType::Discount,
                    "Discount",
                    pricing.discount,
                ));
            }
            totals.push(Total::new(
                TotalType::Fulfillment,
                "Shipping",
                pricing.shipping.unwrap_or(0),
            ));
            if self.config.profile.tax_basis_points > 0 {
                totals.push(Total::new(TotalType::Tax, "Tax", pricing.tax));
            }
            totals.push(Total::new(TotalType::Total, "Total", pricing.total));
            totals
        };
        Order {
            ucp: ResponseMeta {
                version: UCP_VERSION.into(),
                capabilities: vec![Capability::named(ORDER_CAPABILITY)],
                payment_handlers: Vec::new(),
            },
            id: id.to_string(),
            checkout_id: session.id.clone(),
            permalink_url: permalink_url.to_string(),
            fulfillment: OrderFulfillment {
                expectations: vec![Expectation {
                    id: "exp_1".into(),
                    line_items: line_items
                        .iter()
                        .map(|line| LineItemQuantity {
                            id: line.id.clone(),
                            quantity: line.quantity.total,
                        })
                        .collect(),
                    method_type: "shipping".into(),
                    destination,
                    description: option_title,
                    fulfillable_on: Some("now".into()),
                }],
                events: Vec::new(),
            },
            line_items,
            adjustments: Vec::new(),
            totals: view_totals,
        }
    }

    fn session_reply(&self, session: &Session) -> Reply {
        match &session.completion {
            Some(completion) => completion.reply.clone(),
            None => Reply::checkout(&self.view(session)),
        }
    }

    /// The session `id`, with an open one past its time canceled.
    fn live_session(
        &self,
        state: &mut MerchantState,
        context: &Context,
        id: &str,
    ) -> Option<Session> {
        let session = state.sessions.get_mut(id)?;
        if session.stage == Stage::Open && context.now >= session.expires_at {
            session.stage = Stage::Canceled;
        }
        Some(session.clone())
    }

    /// Keeps a new session; beyond the limit the oldest goes, an open or
    /// cancelled one before any completed one (whose payment a platform
    /// may still send again).
    fn keep_session(&self, state: &mut MerchantState, session: Session) {
        let limit = self.config.max_sessions.max(1);
        while state.sessions.len() >= limit {
            let oldest_open = state.session_queue.iter().position(|id| {
                state
                    .sessions
                    .get(id)
                    .is_none_or(|s| s.stage != Stage::Completed)
            });
            let evicted = match oldest_open {
                Some(index) => state.session_queue.remove(index),
                None => state.session_queue.pop_front(),
            };
            match evicted {
                Some(id) => {
                    state.sessions.remove(&id);
                }
                None => break,
            }
        }
        state.session_queue.push_back(session.id.clone());
        state.sessions.insert(session.id.clone(), session);
    }

    // -- requests --------------------------------------------------------------

    /// Carries out a mutating request once per idempotency key.
    fn mutate(
        &self,
        headers: &HeaderMap,
        route: &str,
        body: Result<Bytes, BytesRejection>,
        operation: impl FnOnce(&mut MerchantState, &Context, &Value) -> Reply,
    ) -> Reply {
        let context = match self.context(headers) {
            Ok(context) => context,
            Err(reply) => return reply,
        };
        let body = match read_body(body) {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let key = headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= MAX_ID_CHARS);
        let mut state = lock(&self.state);
        let Some(key) = key else {
            return operation(&mut state, &context, &body);
        };
        let fingerprint = fingerprint(route, &body);
        if let Some(remembered) = state.remembered.get(key) {
            if remembered.fingerprint == fingerprint {
                return remembered.reply.clone();
            }
            return Refusal::new(
                StatusCode::CONFLICT,
                "idempotency_conflict",
                "This Idempotency-Key was used with another request",
            )
            .reply();
        }
        let reply = operation(&mut state, &context, &body);
        if !reply.status.is_server_error() {
            let remembered = Remembered {
                fingerprint,
                reply: reply.clone(),
            };
            let limit = self.config.max_sessions;
            let state = &mut *state;
            keep_bounded(
                &mut state.remembered,
                &mut state.remembered_queue,
                limit,
                key.to_string(),
                remembered,
            );
        }
        reply
    }

    /// A read-only request.
    fn read(
        &self,
        headers: &HeaderMap,
        operation: impl FnOnce(&mut MerchantState, &Context) -> Reply,
    ) -> Reply {
        match self.context(headers) {
            Ok(context) => operation(&mut lock(&self.state), &context),
            Err(reply) => reply,
        }
    }

    /// The base URL the request reached, and refuses a platform asking for
    /// a later UCP version than this one.
    fn context(&self, headers: &HeaderMap) -> Result<Context, Reply> {
        if let Some(agent) = headers.get("ucp-agent").and_then(|v| v.to_str().ok()) {
            if let Some(version) = agent_version(agent) {
                if version > UCP_VERSION {
                    return Err(Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "version_unsupported",
                        format!(
                            "Version {version} is not supported. This business implements version {UCP_VERSION}."
                        ),
                    )
                    .escalate()
                    .reply());
                }
            }
        }
        Ok(Context {
            base_url: self.base_url(headers)?,
            now: now_millis() / 1000,
            agent_profile: headers
                .get("ucp-agent")
                .and_then(|v| v.to_str().ok())
                .and_then(agent_profile)
                .map(String::from),
        })
    }

    fn base_url(&self, headers: &HeaderMap) -> Result<String, Reply> {
        if let Some(url) = &self.config.public_url {
            return Ok(url.trim_end_matches('/').to_string());
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|host| {
                !host.is_empty()
                    && host.len() <= 255
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
            });
        match host {
            Some(host) => Ok(format!("http://{host}")),
            None => Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "A valid Host header is required",
            )
            .reply()),
        }
    }
}

/// A line's title: the product and its variant ("Wool Socks - Gray / M"),
/// as the variant's feed title says it or from its options.
fn item_title(product: &FeedProduct, variant: &FeedVariant) -> String {
    let options: Vec<&str> = variant
        .variant_options
        .iter()
        .filter(|o| canonical_option_name(&o.name) != "material")
        .map(|o| o.value.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let variant_title = variant.title.trim();
    let product_title = product.title.trim();
    if variant_title.is_empty() || variant_title == product_title {
        if options.is_empty() {
            product_title.to_string()
        } else {
            format!("{product_title} - {}", options.join(" / "))
        }
    } else if variant_title.contains(product_title) {
        variant_title.to_string()
    } else {
        format!("{product_title} - {variant_title}")
    }
}

fn not_found(what: &str, id: &str) -> Reply {
    let shown: String = id.chars().take(80).collect();
    Refusal::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("No {what} {shown}"),
    )
    .reply()
}

fn invalid_body(error: &serde_json::Error) -> Reply {
    Refusal::new(
        StatusCode::BAD_REQUEST,
        "invalid",
        format!("The request body does not match the schema: {error}"),
    )
    .reply()
}

/// The body as JSON (`null` when empty), or the error to answer.
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Value, Reply> {
    let bytes = body.map_err(|rejection| {
        let status = rejection.status();
        let content = if status == StatusCode::PAYLOAD_TOO_LARGE {
            format!("The request body is larger than {MAX_BODY_BYTES} bytes")
        } else {
            "The request body could not be read".to_string()
        };
        Refusal::new(status, "invalid", content).reply()
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|error| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("The request body is not JSON: {error}"),
        )
        .reply()
    })
}

/// What makes two requests under one idempotency key the same: the route
/// and the body's JSON, whatever its key order or spacing.
fn fingerprint(route: &str, body: &Value) -> [u8; 32] {
    let mut canonical = String::new();
    write_canonical(body, &mut canonical);
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update([0]);
    hasher.update(canonical.as_bytes());
    hasher.finalize().into()
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Inserts into a map whose insertion order `queue` keeps, dropping the
/// oldest beyond `limit`.
fn keep_bounded<T>(
    map: &mut HashMap<String, T>,
    queue: &mut VecDeque<String>,
    limit: usize,
    key: String,
    value: T,
) {
    if map.insert(key.clone(), value).is_none() {
        queue.push_back(key);
    }
    while map.len() > limit.max(1) {
        match queue.pop_front() {
            Some(oldest) => {
                map.remove(&oldest);
            }
            None => break,
        }
    }
}

/// Unix seconds as RFC 3339 UTC ("2026-01-11T09:30:00Z").
pub(crate) fn rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let seconds = unix_secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_writes_utc_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_768_123_800), "2026-01-11T09:30:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn fingerprints_ignore_key_order_and_spacing() {
        let a: Value = serde_json::from_str(r#"{"a": 1, "b": [1, {"y": 2, "x": 1}]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":[1,{"x":1,"y":2}],"a":1}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"b":[1,{"x":1,"y":3}],"a":1}"#).unwrap();
        assert_eq!(fingerprint("create", &a), fingerprint("create", &b));
        assert_ne!(fingerprint("create", &a), fingerprint("create", &c));
        assert_ne!(fingerprint("create", &a), fingerprint("update x", &a));
    }

    #[test]
    fn titles_name_product_and_variant_once() {
        let product = crate::catalog::feed::FeedProduct {
            id: "WS-1".into(),
            title: "Wool Socks".into(),
            description: String::new(),
            url: String::new(),
            brand: String::new(),
            categories: Vec::new(),
            gender: None,
            age_group: None,
            material: None,
            variants: Vec::new(),
        };
        let variant = |title: &str| FeedVariant {
            id: "WS-1-G-M".into(),
            title: title.into(),
            price: crate::catalog::feed::FeedPrice {
                amount: 900,
                currency: "USD".into(),
            },
            availability: crate::catalog::feed::Availability::from_stock(true),
            variant_options: vec![
                crate::catalog::feed::VariantOption {
                    name: "Color".into(),
                    value: "Gray".into(),
                },
                crate::catalog::feed::VariantOption {
                    name: "Size".into(),
                    value: "M".into(),
                },
                crate::catalog::feed::VariantOption {
                    name: "Material".into(),
                    value: "Wool".into(),
                },
            ],
            barcodes: Vec::new(),
        };
        assert_eq!(
            item_title(&product, &variant("Wool Socks - Gray / M")),
            "Wool Socks - Gray / M"
        );
        assert_eq!(
            item_title(&product, &variant("Gray / M")),
            "Wool Socks - Gray / M"
        );
        assert_eq!(item_title(&product, &variant("")), "Wool Socks - Gray / M");
    }
}
