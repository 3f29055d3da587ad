//! The reference ACP merchant (the seller's side): one catalog served over
//! the checkout API, for a business without a checkout of its own, and for
//! testing Concierge's buyer.
//!
//! - A line item's `id` is a variant id of the catalog, or the id of a
//!   product with exactly one variant. Listing an item n times asks for n
//!   of it; the line items merge into one line with quantity n.
//! - Prices come from the variant; a variant out of stock leaves the
//!   session `not_ready_for_payment` with an `out_of_stock` error message.
//! - Fulfilment: `standard` costs the profile's flat shipping, free when
//!   the items reach `free_shipping_over`; `express` costs the flat
//!   shipping plus a surcharge and is never free. As the spec's examples
//!   do, a new session has the cheapest option selected, so it is
//!   `ready_for_payment` at once; with [`AcpMerchant::without_default_fulfillment`]
//!   nothing is selected until the agent picks an option, and the session
//!   moves from `not_ready_for_payment` to `ready_for_payment` then.
//! - Totals: `items_base_amount`, `subtotal`, `discount` (coupon codes set
//!   with [`AcpMerchant::with_coupon`], from `coupons` or `discounts.codes`),
//!   `fulfillment`, `tax` (the profile's basis points of the discounted
//!   subtotal, half up) and `total`.
//! - Complete charges at most once per session, against the allowance that
//!   rides with the credential (see the module docs of [`super`]); a repeated
//!   complete of a completed session answers the same session and order.
//!
//! Every POST needs an `Idempotency-Key` (400 without; the same key with
//! another body is 422, while the first is still being answered 409; the
//! same key and body get the first answer again, with `Idempotent-Replayed:
//! true`). Every request needs the merchant's API key as a bearer token
//! (401) and `API-Version: 2026-04-17` (400). Bodies are bounded (64 KiB,
//! 413), and every error is the spec's JSON error body.

use super::wire::*;
use crate::catalog::feed::{FeedProduct, FeedVariant};
use crate::merchant::protocol::RegisteredIds;
use crate::catalog::MerchantProfile;
use crate::merchant::messenger::signature::random_token;
use crate::merchant::messenger::wire::now_millis;
use crate::money::Money;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Largest request body read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most line items in one request (an item listed n times counts n).
pub const MAX_LINE_ITEMS: usize = 1_000;
/// Most coupon codes in one request, and their longest length.
const MAX_COUPON_CODES: usize = 10;
const MAX_COUPON_CODE_CHARS: usize = 64;
/// Longest `Idempotency-Key` (the spec's).
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
/// How long an idempotency key's answer is kept (the spec's minimum).
const IDEMPOTENCY_RETENTION_SECS: i64 = 24 * 3600;
/// Payment handler this merchant takes: a tokenized card credential.
pub const HANDLER_ID: &str = "card_tokenized";

/// A coupon's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// Whole percent of the subtotal (1..=100).
    PercentOff(u32),
    /// Minor units off the subtotal (never below zero).
    AmountOff(i64),
}

/// A payment the merchant took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub checkout_session_id: String,
    pub order_id: String,
    pub amount: Money,
    /// The `spt` credential token charged.
    pub token: String,
    /// The `Idempotency-Key` of the complete request that charged it.
    pub idempotency_key: String,
}

/// One line of a session, resolved against the catalog.
#[derive(Debug, Clone)]
struct Line {
    /// The id as the agent sent it.
    item_id: String,
    product: usize,
    variant: usize,
    quantity: u32,
}

/// What a session's lines, codes and selection cost, worked out (with
/// checked arithmetic) whenever one of them changes.
#[derive(Debug, Clone, Default)]
struct Pricing {
    line_amounts: Vec<i64>,
    items: i64,
    discount: i64,
    applied_codes: Vec<String>,
    rejected_codes: Vec<String>,
    /// The cost of each fulfilment option, in the order offered.
    options: Vec<(&'static str, i64)>,
    tax: i64,
}

impl Pricing {
    fn shipping(&self, selected: Option<&str>) -> Option<i64> {
        let selected = selected?;
        self.options
            .iter()
            .find(|(id, _)| *id == selected)
            .map(|(_, cost)| *cost)
    }

    /// Items less discount plus tax plus the selected option; checked when
    /// the pricing was made.
    fn total(&self, selected: Option<&str>) -> i64 {
        self.items - self.discount + self.tax + self.shipping(selected).unwrap_or(0)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Open,
    Completed(Order),
    Canceled,
}

#[derive(Debug, Clone)]
struct Session {
    id: String,
    currency: String,
    lines: Vec<Line>,
    codes: Vec<String>,
    selected: Option<&'static str>,
    pricing: Pricing,
    buyer: Option<Buyer>,
    fulfillment_details: Option<FulfillmentDetails>,
    stage: Stage,
    /// Why the last payment was declined, shown until the session changes.
    declined: Option<String>,
    last_touched: u64,
}

/// A POST's key and what became of it.
#[derive(Debug, Clone)]
enum Keyed {
    InFlight {
        body: serde_json::Value,
    },
    Done {
        body: serde_json::Value,
        answer: Answer,
    },
}

/// An answer as sent: status and JSON body.
#[derive(Debug, Clone)]
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: StatusCode, value: &impl Serialize) -> Answer {
        Answer {
            status,
            body: serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()),
        }
    }

    fn error(status: StatusCode, error: ApiError) -> Answer {
        Answer::json(status, &error)
    }

    fn into_response(self, extra: &[(&'static str, String)]) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        for (name, value) in extra {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(*name, value);
            }
        }
        response
    }
}

#[derive(Default)]
struct Sessions {
    by_id: HashMap<String, Session>,
    keys: HashMap<(String, String), Keyed>,
    /// Keys in the order they were first used, for retention and bounds.
    key_order: VecDeque<((String, String), i64)>,
}

/// The reference merchant's catalog, settings and state.
pub struct AcpMerchant {
    profile: MerchantProfile,
    products: Vec<FeedProduct>,
    /// Item id (variant id, or product id) → (product, variant); `None` for
    /// a product id with several variants.
    items: HashMap<String, (usize, Option<usize>)>,
    api_key: String,
    coupons: HashMap<String, Discount>,
    express_surcharge: i64,
    default_fulfillment: bool,
    public_url: String,
    max_sessions: usize,
    max_keys: usize,
    state: Mutex<Sessions>,
    charges: Mutex<Vec<Charge>>,
    other_ids: RegisteredIds,
    prefix: String,
    counter: AtomicU64,
}

impl AcpMerchant {
    /// A merchant selling `products` under `profile`, answering requests
    /// that carry `api_key` as their bearer token.
    pub fn new(profile: MerchantProfile, products: Vec<FeedProduct>, api_key: &str) -> AcpMerchant {
        let mut items = HashMap::new();
        for (p, product) in products.iter().enumerate() {
            let only = (product.variants.len() == 1).then_some(0);
            items.entry(product.id.clone()).or_insert((p, only));
            for (v, variant) in product.variants.iter().enumerate() {
                items.insert(variant.id.clone(), (p, Some(v)));
            }
        }
        AcpMerchant {
            public_url: format!("https://{}.merchant.invalid", slug(&profile.id)),
            profile,
            products,
            items,
            api_key: api_key.to_string(),
            coupons: HashMap::new(),
            express_surcharge: 1_000,
            default_fulfillment: true,
            max_sessions: 10_000,
            max_keys: 50_000,
            state: Mutex::new(Sessions::default()),
            charges: Mutex::new(Vec::new()),
            other_ids: RegisteredIds::default(),
            prefix: random_token(3),
            counter: AtomicU64::new(0),
        }
    }

    /// Accepts coupon `code` (case-insensitive) for `discount`.
    pub fn with_coupon(mut self, code: &str, discount: Discount) -> AcpMerchant {
        self.coupons.insert(code.trim().to_uppercase(), discount);
        self
    }

    /// What express costs above the flat shipping (default $10.00).
    pub fn with_express_surcharge(mut self, minor: i64) -> AcpMerchant {
        self.express_surcharge = minor.max(1);
        self
    }

    /// New sessions start with no fulfilment option selected.
    pub fn without_default_fulfillment(mut self) -> AcpMerchant {
        self.default_fulfillment = false;
        self
    }

    /// Where the merchant's order pages are (`{url}/orders/{id}`).
    pub fn with_public_url(mut self, url: &str) -> AcpMerchant {
        self.public_url = url.trim_end_matches('/').to_string();
        self
    }

    /// Most sessions kept; the least recently used is dropped beyond.
    pub fn with_max_sessions(mut self, max: usize) -> AcpMerchant {
        self.max_sessions = max.max(1);
        self
    }

    /// Takes `id` as one this merchant is known by at an agent (its id at a
    /// Concierge that registered it), accepted in allowances beside the
    /// profile's id. True when it is new; at most 16 ids of at most 64
    /// characters are kept.
    pub fn accept_merchant_id(&self, id: &str) -> bool {
        self.other_ids.adopt(&self.profile.id, id)
    }

    pub fn profile(&self) -> &MerchantProfile {
        &self.profile
    }

    /// The API key Concierge is to send as its bearer token.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Every payment taken so far.
    pub fn charges(&self) -> Vec<Charge> {
        lock(&self.charges).clone()
    }

    fn is_me(&self, merchant_id: &str) -> bool {
        self.other_ids.names(&self.profile.id, merchant_id)
    }

    fn next_number(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed) + 1
    }

    fn currency(&self) -> String {
        self.profile.currency.to_ascii_lowercase()
    }

    // -- checks every request passes ---------------------------------------

    /// The bearer token and API version, or the error answer.
    fn admit(&self, headers: &HeaderMap) -> Result<(), Answer> {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        if !bearer.is_some_and(|token| same_secret(token, &self.api_key)) {
            return Err(Answer::error(
                StatusCode::UNAUTHORIZED,
                ApiError::invalid_request(
                    "unauthorized",
                    "a valid API key is required as Authorization: Bearer <key>",
                ),
            ));
        }
        let version = headers
            .get("api-version")
            .and_then(|v| v.to_str().ok())
            .map(str::trim);
        let refusal = match version {
            Some(API_VERSION) => {
                // A Concierge that knows the key says which id it registered
                // this merchant under; its allowances will name that id.
                if let Some(id) = headers
                    .get(super::client::MERCHANT_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                {
                    self.accept_merchant_id(id);
                }
                return Ok(());
            }
            None => ApiError::invalid_request("missing_api_version", "API-Version is required"),
            Some(other) => ApiError::invalid_request(
                "unsupported_api_version",
                format!(
                    "API version {:?} is not supported",
                    other.chars().take(32).collect::<String>()
                ),
            ),
        };
        Err(Answer::error(
            StatusCode::BAD_REQUEST,
            ApiError {
                supported_versions: Some(vec![API_VERSION.to_string()]),
                ..refusal
            },
        ))
    }

    /// Runs a POST under its idempotency key: answered once, replayed for
    /// the same body, refused for another.
    fn keyed(
        &self,
        headers: &HeaderMap,
        path: String,
        body: Result<Bytes, BytesRejection>,
        empty_body_is: Option<serde_json::Value>,
        operation: impl FnOnce(&AcpMerchant, serde_json::Value) -> Answer,
    ) -> Response {
        if let Err(answer) = self.admit(headers) {
            return answer.into_response(&[]);
        }
        let key = match headers.get("idempotency-key").map(|v| v.to_str()) {
            None => {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    ApiError::invalid_request(
                        "idempotency_key_required",
                        "Idempotency-Key header is required",
                    ),
                )
                .into_response(&[])
            }
            Some(Ok(key)) if !key.trim().is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_CHARS => {
                key.to_string()
            }
            Some(_) => {
                return Answer::error(
                    StatusCode::BAD_REQUEST,
                    ApiError::invalid_request(
                        "invalid_idempotency_key",
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    ),
                )
                .into_response(&[])
            }
        };
        let echo = [("idempotency-key", key.clone())];
        let bytes = match body {
            Ok(bytes) => bytes,
            Err(rejection) => {
                let too_large = rejection.status() == StatusCode::PAYLOAD_TOO_LARGE;
                let (status, code, message) = if too_large {
                    (
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "request_too_large",
                        format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                    )
                } else {
                    (
                        StatusCode::BAD_REQUEST,
                        "invalid_body",
                        "the body could not be read".to_string(),
                    )
                };
                return Answer::error(status, ApiError::invalid_request(code, message))
                    .into_response(&echo);
            }
        };
        let blank = bytes.iter().all(u8::is_ascii_whitespace);
        let value = match (empty_body_is, blank) {
            (Some(empty), true) => empty,
            _ => match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(value) if value.is_object() => value,
                _ => {
                    return Answer::error(
                        StatusCode::BAD_REQUEST,
                        ApiError::invalid_request("invalid_json", "the body must be a JSON object"),
                    )
                    .into_response(&echo)
                }
            },
        };
        let scope = (path, key);
        {
            let mut state = lock(&self.state);
            self.forget_old_keys(&mut state);
            match state.keys.get(&scope) {
                None => {}
                Some(Keyed::Done { body, answer, .. }) if *body == value => {
                    let mut headers = echo.to_vec();
                    headers.push(("idempotent-replayed", "true".into()));
                    return answer.clone().into_response(&headers);
                }
                Some(Keyed::InFlight { body }) if *body == value => {
                    let mut headers = echo.to_vec();
                    headers.push(("retry-after", "1".into()));
                    return Answer::error(
                        StatusCode::CONFLICT,
                        ApiError::invalid_request(
                            "idempotency_in_flight",
                            "A request with this Idempotency-Key is currently being processed",
                        ),
                    )
                    .into_response(&headers);
                }
                Some(_) => {
                    return Answer::error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        ApiError::invalid_request(
                            "idempotency_conflict",
                            "Idempotency-Key has already been used with a different request body",
                        ),
                    )
                    .into_response(&echo);
                }
            }
            state.keys.insert(
                scope.clone(),
                Keyed::InFlight {
                    body: value.clone(),
                },
            );
            state.key_order.push_back((scope.clone(), now_secs()));
        }
        // Whatever happens to the operation, the key does not stay in flight.
        let mut in_flight = InFlightKey {
            merchant: self,
            scope: Some(scope),
        };
        let answer = operation(self, value.clone());
        if let Some(scope) = in_flight.scope.take() {
            let mut state = lock(&self.state);
            if answer.status.is_server_error() {
                // 5xx answers are never kept: a retry is a fresh request.
                state.keys.remove(&scope);
            } else {
                state.keys.insert(
                    scope,
                    Keyed::Done {
                        body: value,
                        answer: answer.clone(),
                    },
                );
            }
        }
        answer.into_response(&echo)
    }

    fn forget_old_keys(&self, state: &mut Sessions) {
        let now = now_secs();
        while let Some((scope, at)) = state.key_order.front().cloned() {
            let expired = now - at > IDEMPOTENCY_RETENTION_SECS;
            if !expired && state.key_order.len() <= self.max_keys {
                break;
            }
            state.key_order.pop_front();
            if matches!(state.keys.get(&scope), Some(Keyed::Done { .. })) {
                state.keys.remove(&scope);
            }
        }
    }

    // -- operations --------------------------------------------------------

    fn create(&self, value: serde_json::Value) -> Answer {
        let request: CreateCheckoutSessionRequest = match parse(value) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let currency = request.currency.trim().to_ascii_lowercase();
        if currency != self.currency() {
            return bad_request(
                ApiError::invalid_request(
                    "unsupported_currency",
                    format!(
                        "this merchant sells in {}, not {:?}",
                        self.currency(),
                        currency.chars().take(8).collect::<String>()
                    ),
                )
                .with_param("$.currency"),
            );
        }
        if request.line_items.is_empty() {
            return bad_request(
                ApiError::invalid_request("invalid", "line_items must list at least one item")
                    .with_param("$.line_items"),
            );
        }
        let lines = match self.resolve(&request.line_items) {
            Ok(lines) => lines,
            Err(error) => return bad_request(error),
        };
        let codes = match codes(request.coupons, request.discounts) {
            Ok(codes) => codes.unwrap_or_default(),
            Err(error) => return bad_request(error),
        };
        let pricing = match self.price(&lines, &codes) {
            Ok(pricing) => pricing,
            Err(error) => return bad_request(error),
        };
        let selected = if self.default_fulfillment {
            cheapest(&pricing)
        } else {
            None
        };
        let id = format!("cs_{}_{}", self.prefix, self.next_number());
        let session = Session {
            id: id.clone(),
            currency,
            lines,
            codes,
            selected,
            pricing,
            buyer: request.buyer,
            fulfillment_details: request.fulfillment_details,
            stage: Stage::Open,
            declined: None,
            last_touched: 0,
        };
        let view = self.view(&session);
        let mut state = lock(&self.state);
        self.make_room(&mut state);
        self.touch(&mut state, session);
        Answer::json(StatusCode::CREATED, &view)
    }

    fn update(&self, id: &str, value: serde_json::Value) -> Answer {
        let request: UpdateCheckoutSessionRequest = match parse(value) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let mut state = lock(&self.state);
        let Some(mut session) = state.by_id.get(id).cloned() else {
            return not_found(id);
        };
        match session.stage {
            Stage::Open => {}
            Stage::Completed(_) => return bad_request(not_open(id, "completed")),
            Stage::Canceled => return bad_request(not_open(id, "canceled")),
        }
        if let Some(items) = &request.line_items {
            if items.is_empty() {
                return bad_request(
                    ApiError::invalid_request("invalid", "line_items must list at least one item")
                        .with_param("$.line_items"),
                );
            }
            match self.resolve(items) {
                Ok(lines) => session.lines = lines,
                Err(error) => return bad_request(error),
            }
        }
        match codes(request.coupons, request.discounts) {
            Ok(Some(codes)) => session.codes = codes,
            Ok(None) => {}
            Err(error) => return bad_request(error),
        }
        session.pricing = match self.price(&session.lines, &session.codes) {
            Ok(pricing) => pricing,
            Err(error) => return bad_request(error),
        };
        if let Some(selections) = &request.selected_fulfillment_options {
            let mut chosen = None;
            for (i, selection) in selections.iter().enumerate() {
                let Some((option, _)) = session
                    .pricing
                    .options
                    .iter()
                    .find(|(option, _)| *option == selection.option_id)
                else {
                    return bad_request(
                        ApiError::invalid_request(
                            "invalid",
                            format!(
                                "no fulfillment option {:?}: choose standard or express",
                                selection.option_id.chars().take(64).collect::<String>()
                            ),
                        )
                        .with_param(format!("$.selected_fulfillment_options[{i}].option_id")),
                    );
                };
                // Every item ships together: the last selection counts.
                chosen = Some(*option);
            }
            session.selected = chosen;
        }
        if request.buyer.is_some() {
            session.buyer = request.buyer;
        }
        if request.fulfillment_details.is_some() {
            session.fulfillment_details = request.fulfillment_details;
        }
        session.declined = None;
        let view = self.view(&session);
        self.touch(&mut state, session);
        Answer::json(StatusCode::OK, &view)
    }

    fn retrieve(&self, id: &str) -> Answer {
        let mut state = lock(&self.state);
        let Some(session) = state.by_id.get(id).cloned() else {
            return not_found(id);
        };
        let view = self.view(&session);
        self.touch(&mut state, session);
        Answer::json(StatusCode::OK, &view)
    }

    fn complete(&self, id: &str, key: &str, value: serde_json::Value) -> Answer {
        let request: CompleteCheckoutSessionRequest = match parse(value) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let mut state = lock(&self.state);
        let Some(mut session) = state.by_id.get(id).cloned() else {
            return not_found(id);
        };
        match &session.stage {
            // Charged once: a repeated complete is answered with the order.
            Stage::Completed(_) => {
                let view = self.view(&session);
                self.touch(&mut state, session);
                return Answer::json(StatusCode::OK, &view);
            }
            Stage::Canceled => return bad_request(not_open(id, "canceled")),
            Stage::Open => {}
        }
        let view = self.view(&session);
        if view.status != SessionStatus::ReadyForPayment {
            return bad_request(ApiError::invalid_request(
                "not_ready_for_payment",
                format!(
                    "checkout session {id} is not ready for payment ({})",
                    view.status.as_str()
                ),
            ));
        }
        let total = session.pricing.total(session.selected);
        let token = match self.check_payment(&session, &request.payment_data, total) {
            Ok(token) => token,
            Err(problem) => {
                session.declined = Some(problem);
                let view = self.view(&session);
                self.touch(&mut state, session);
                return Answer::json(StatusCode::OK, &view);
            }
        };
        let number = self.next_number();
        let order_id = format!("ord_{}_{number}", self.prefix);
        let order = Order {
            kind: Some("order".into()),
            id: order_id.clone(),
            checkout_session_id: session.id.clone(),
            order_number: Some(format!(
                "{}-{}-{number:04}",
                self.profile.id.to_uppercase(),
                self.prefix.to_uppercase()
            )),
            permalink_url: format!("{}/orders/{order_id}", self.public_url),
            status: Some("confirmed".into()),
        };
        lock(&self.charges).push(Charge {
            checkout_session_id: session.id.clone(),
            order_id,
            amount: Money::new(total, session.currency.to_ascii_uppercase()),
            token,
            idempotency_key: key.to_string(),
        });
        session.stage = Stage::Completed(order);
        if request.buyer.is_some() {
            session.buyer = request.buyer;
        }
        let view = self.view(&session);
        self.touch(&mut state, session);
        Answer::json(StatusCode::OK, &view)
    }

    fn cancel(&self, id: &str, value: serde_json::Value) -> Answer {
        if let Err(answer) = parse::<CancelSessionRequest>(value) {
            return answer;
        }
        let mut state = lock(&self.state);
        let Some(mut session) = state.by_id.get(id).cloned() else {
            return not_found(id);
        };
        match session.stage {
            Stage::Open => {}
            Stage::Completed(_) => {
                return Answer::error(StatusCode::METHOD_NOT_ALLOWED, not_open(id, "completed"))
            }
            Stage::Canceled => {
                return Answer::error(StatusCode::METHOD_NOT_ALLOWED, not_open(id, "canceled"))
            }
        }
        session.stage = Stage::Canceled;
        session.declined = None;
        let view = self.view(&session);
        self.touch(&mut state, session);
        Answer::json(StatusCode::OK, &view)
    }

    // -- the catalog and the arithmetic ------------------------------------

    /// The asked items as lines: repeated ids merge, in first-seen order.
    fn resolve(&self, items: &[Item]) -> Result<Vec<Line>, ApiError> {
        if items.len() > MAX_LINE_ITEMS {
            return Err(ApiError::invalid_request(
                "quantity_exceeded",
                format!("at most {MAX_LINE_ITEMS} items per checkout"),
            )
            .with_param("$.line_items"));
        }
        let mut lines: Vec<Line> = Vec::new();
        let mut count: u64 = 0;
        for (i, item) in items.iter().enumerate() {
            let quantity = item.quantity.unwrap_or(1);
            count = count.saturating_add(quantity);
            if quantity == 0 || count > MAX_LINE_ITEMS as u64 {
                return Err(ApiError::invalid_request(
                    "quantity_exceeded",
                    format!("quantities must be 1 to {MAX_LINE_ITEMS} items in all"),
                )
                .with_param(format!("$.line_items[{i}]")));
            }
            let Some(&(product, variant)) = self.items.get(&item.id) else {
                return Err(ApiError::invalid_request(
                    "invalid_item_id",
                    format!(
                        "The item ID {:?} does not exist.",
                        item.id.chars().take(64).collect::<String>()
                    ),
                )
                .with_param(format!("$.line_items[{i}].id")));
            };
            let Some(variant) = variant else {
                let listed: Vec<String> = self.products[product]
                    .variants
                    .iter()
                    .take(10)
                    .map(|v| format!("{} ({})", v.id, options_text(v)))
                    .collect();
                return Err(ApiError::invalid_request(
                    "invalid",
                    format!(
                        "{} comes in several variants; name one by its id: {}",
                        self.products[product].title,
                        listed.join(", ")
                    ),
                )
                .with_param(format!("$.line_items[{i}].id")));
            };
            match lines.iter_mut().find(|line| line.item_id == item.id) {
                Some(line) => line.quantity += quantity as u32,
                None => lines.push(Line {
                    item_id: item.id.clone(),
                    product,
                    variant,
                    quantity: quantity as u32,
                }),
            }
        }
        for (i, line) in lines.iter().enumerate() {
            let price = &self.variant(line).price;
            if price.amount < 0 {
                return Err(ApiError::invalid_request(
                    "invalid",
                    format!("{} has no valid price", line.item_id),
                )
                .with_param(format!("$.line_items[{i}].id")));
            }
            if !price.currency.eq_ignore_ascii_case(&self.profile.currency) {
                return Err(ApiError::invalid_request(
                    "unsupported_currency",
                    format!("{} is priced in {}", line.item_id, price.currency),
                )
                .with_param(format!("$.line_items[{i}].id")));
            }
        }
        Ok(lines)
    }

    fn variant(&self, line: &Line) -> &FeedVariant {
        &self.products[line.product].variants[line.variant]
    }

    fn price(&self, lines: &[Line], codes: &[String]) -> Result<Pricing, ApiError> {
        let overflow = || ApiError::invalid_request("invalid", "the amounts are too large");
        let mut pricing = Pricing::default();
        for line in lines {
            let amount = self
                .variant(line)
                .price
                .amount
                .checked_mul(i64::from(line.quantity))
                .ok_or_else(overflow)?;
            pricing.line_amounts.push(amount);
            pricing.items = pricing.items.checked_add(amount).ok_or_else(overflow)?;
        }
        for code in codes {
            let Some(discount) = self.coupons.get(&code.to_uppercase()) else {
                pricing.rejected_codes.push(code.clone());
                continue;
            };
            let left = (pricing.items - pricing.discount).max(0);
            let off = match *discount {
                Discount::PercentOff(percent) => {
                    left.checked_mul(i64::from(percent.min(100)))
                        .ok_or_else(overflow)?
                        / 100
                }
                Discount::AmountOff(amount) => amount.clamp(0, left),
            };
            pricing.discount += off;
            pricing.applied_codes.push(code.clone());
        }
        let profile = &self.profile;
        let free = profile.free_shipping_over > 0 && pricing.items >= profile.free_shipping_over;
        let flat = profile.shipping.max(0);
        let express = flat
            .checked_add(self.express_surcharge)
            .ok_or_else(overflow)?;
        pricing.options = vec![
            ("standard", if free { 0 } else { flat }),
            ("express", express),
        ];
        // Tax on what is paid for the items, rounded half up to the cent.
        pricing.tax = (pricing.items - pricing.discount)
            .checked_mul(profile.tax_basis_points.max(0))
            .and_then(|t| t.checked_add(5_000))
            .ok_or_else(overflow)?
            / 10_000;
        // The largest total any selection makes must fit.
        pricing
            .items
            .checked_add(pricing.tax)
            .and_then(|t| t.checked_add(express))
            .ok_or_else(overflow)?;
        Ok(pricing)
    }

    /// The payment's token when it may be charged `total` for `session`,
    /// else why not.
    fn check_payment(
        &self,
        session: &Session,
        payment: &PaymentData,
        total: i64,
    ) -> Result<String, String> {
        if !payment.handler_id.is_empty() && payment.handler_id != HANDLER_ID {
            return Err(format!(
                "payment handler {:?} is not offered here",
                payment.handler_id.chars().take(64).collect::<String>()
            ));
        }
        let Some(instrument) = &payment.instrument else {
            return Err("no payment instrument".into());
        };
        let credential = &instrument.credential;
        if credential.kind != "spt" || credential.token.trim().is_empty() {
            return Err("the credential must be a shared payment token (spt)".into());
        }
        let Some(allowance) = &credential.allowance else {
            return Err("the credential carries no allowance".into());
        };
        let expires_at = unix_from_rfc3339(&allowance.expires_at);
        if allowance.reason != "one_time" {
            Err(format!(
                "allowance reason {:?} is not one_time",
                allowance.reason.chars().take(32).collect::<String>()
            ))
        } else if !self.is_me(&allowance.merchant_id) {
            Err("the allowance is for another merchant".into())
        } else if allowance.checkout_session_id != session.id {
            Err("the allowance is for another checkout session".into())
        } else if !allowance.currency.eq_ignore_ascii_case(&session.currency) {
            Err(format!(
                "the allowance is in {}, the checkout in {}",
                allowance.currency.chars().take(8).collect::<String>(),
                session.currency
            ))
        } else if allowance.max_amount < total {
            Err(format!(
                "the allowance ({}) is below the total ({})",
                Money::new(allowance.max_amount, session.currency.to_ascii_uppercase()),
                Money::new(total, session.currency.to_ascii_uppercase())
            ))
        } else if expires_at.is_none_or(|at| at <= now_secs()) {
            Err("the allowance has expired".into())
        } else {
            Ok(credential.token.clone())
        }
    }

    // -- the view ----------------------------------------------------------

    /// The session as the spec writes it.
    fn view(&self, session: &Session) -> CheckoutSession {
        let pricing = &session.pricing;
        let mut messages = Vec::new();
        let mut all_in_stock = true;
        let line_items: Vec<LineItem> = session
            .lines
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let product = &self.products[line.product];
                let variant = self.variant(line);
                let in_stock = variant.availability.available;
                if !in_stock {
                    all_in_stock = false;
                    messages.push(Message::Error {
                        code: MessageErrorCode::OutOfStock,
                        resolution: Some(Resolution::RequiresBuyerInput),
                        param: Some(format!("$.line_items[{i}]")),
                        content_type: ContentType::Plain,
                        content: format!(
                            "{} ({}) is out of stock.",
                            product.title,
                            options_text(variant)
                        ),
                    });
                }
                let amount = pricing.line_amounts.get(i).copied().unwrap_or(0);
                LineItem {
                    id: format!("li_{}", i + 1),
                    item: Item::with_id(&line.item_id),
                    quantity: line.quantity,
                    name: Some(product.title.clone()),
                    description: None,
                    unit_amount: Some(variant.price.amount),
                    product_id: Some(product.id.clone()),
                    variant_id: Some(variant.id.clone()),
                    availability_status: Some(if in_stock {
                        AvailabilityStatus::InStock
                    } else {
                        AvailabilityStatus::OutOfStock
                    }),
                    variant_options: variant
                        .variant_options
                        .iter()
                        .map(|o| VariantOption {
                            name: o.name.clone(),
                            value: o.value.clone(),
                        })
                        .collect(),
                    custom_attributes: Vec::new(),
                    totals: vec![
                        Total::new(TotalType::ItemsBaseAmount, "Base amount", amount),
                        Total::new(TotalType::Subtotal, "Subtotal", amount),
                    ],
                }
            })
            .collect();
        for code in &pricing.rejected_codes {
            messages.push(Message::Warning {
                code: "discount_code_invalid".into(),
                param: None,
                content_type: ContentType::Plain,
                content: format!(
                    "The code {:?} is not valid here.",
                    code.chars().take(MAX_COUPON_CODE_CHARS).collect::<String>()
                ),
            });
        }
        let mut totals = vec![
            Total::new(TotalType::ItemsBaseAmount, "Item(s) total", pricing.items),
            Total::new(TotalType::Subtotal, "Subtotal", pricing.items),
        ];
        if pricing.discount > 0 {
            totals.push(Total::new(
                TotalType::Discount,
                &format!("Discount ({})", pricing.applied_codes.join(", ")),
                pricing.discount,
            ));
        }
        if let Some(shipping) = pricing.shipping(session.selected) {
            totals.push(Total::new(TotalType::Fulfillment, "Shipping", shipping));
        }
        totals.push(Total::new(TotalType::Tax, "Tax", pricing.tax));
        totals.push(Total::new(
            TotalType::Total,
            "Total",
            pricing.total(session.selected),
        ));
        let item_ids: Vec<String> = session.lines.iter().map(|l| l.item_id.clone()).collect();
        let fulfillment_options = pricing
            .options
            .iter()
            .map(|(id, cost)| FulfillmentOption {
                kind: FulfillmentType::Shipping,
                id: id.to_string(),
                title: if *id == "standard" {
                    "Standard"
                } else {
                    "Express"
                }
                .into(),
                description: Some(
                    if *id == "standard" {
                        "Arrives in 3-5 business days"
                    } else {
                        "Arrives in 1-2 business days"
                    }
                    .into(),
                ),
                carrier: None,
                earliest_delivery_time: None,
                latest_delivery_time: None,
                totals: vec![Total::new(
                    TotalType::Total,
                    if *id == "standard" {
                        "Shipping"
                    } else {
                        "Express shipping"
                    },
                    *cost,
                )],
            })
            .collect();
        let selected_fulfillment_options = session
            .selected
            .map(|option| SelectedFulfillmentOption {
                kind: FulfillmentType::Shipping,
                option_id: option.to_string(),
                item_ids,
            })
            .into_iter()
            .collect();
        let (status, order) = match &session.stage {
            Stage::Completed(order) => (SessionStatus::Completed, Some(order.clone())),
            Stage::Canceled => {
                messages.clear();
                messages.push(Message::Info {
                    param: None,
                    content_type: ContentType::Plain,
                    content: "Checkout session has been canceled.".into(),
                });
                (SessionStatus::Canceled, None)
            }
            Stage::Open if !all_in_stock => (SessionStatus::NotReadyForPayment, None),
            Stage::Open if session.selected.is_none() => {
                messages.push(Message::Info {
                    param: Some("$.fulfillment_options".into()),
                    content_type: ContentType::Plain,
                    content: "Choose a fulfillment option (standard or express).".into(),
                });
                (SessionStatus::NotReadyForPayment, None)
            }
            Stage::Open => (SessionStatus::ReadyForPayment, None),
        };
        if let (Some(problem), Stage::Open) = (&session.declined, &session.stage) {
            messages.push(Message::Error {
                code: MessageErrorCode::PaymentDeclined,
                resolution: Some(Resolution::RequiresBuyerInput),
                param: Some("$.payment_data".into()),
                content_type: ContentType::Plain,
                content: format!("Payment declined: {problem}."),
            });
        }
        CheckoutSession {
            id: session.id.clone(),
            protocol: Some(ProtocolVersion {
                version: API_VERSION.into(),
            }),
            capabilities: self.capabilities(),
            buyer: session.buyer.clone(),
            status,
            currency: session.currency.clone(),
            line_items,
            fulfillment_details: session.fulfillment_details.clone(),
            fulfillment_options,
            selected_fulfillment_options,
            totals,
            messages,
            links: Vec::new(),
            order,
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut config = serde_json::Map::new();
        config.insert("merchant_id".into(), self.profile.id.clone().into());
        config.insert("psp".into(), "concierge_reference".into());
        config.insert("accepted_credentials".into(), serde_json::json!(["spt"]));
        Capabilities {
            payment: Some(PaymentCapabilities {
                handlers: vec![PaymentHandler {
                    id: HANDLER_ID.into(),
                    name: "dev.acp.tokenized.card".into(),
                    display_name: Some("Delegated card (shared payment token)".into()),
                    version: "2026-01-22".into(),
                    spec: "https://acp.dev/handlers/tokenized.card".into(),
                    requires_delegate_payment: true,
                    requires_pci_compliance: false,
                    psp: "concierge_reference".into(),
                    config_schema: "https://acp.dev/schemas/handlers/tokenized.card/config.json"
                        .into(),
                    instrument_schemas: vec![
                        "https://acp.dev/schemas/handlers/tokenized.card/instrument.json".into(),
                    ],
                    config,
                    display_order: None,
                }],
            }),
            interventions: Some(InterventionCapabilities {
                supported: Some(Vec::new()),
                required: Some(Vec::new()),
                enforcement: Some("conditional".into()),
            }),
        }
    }

    // -- bookkeeping -------------------------------------------------------

    fn touch(&self, state: &mut Sessions, mut session: Session) {
        session.last_touched = self.next_number();
        state.by_id.insert(session.id.clone(), session);
    }

    /// Drops the least recently used sessions beyond the bound.
    fn make_room(&self, state: &mut Sessions) {
        while state.by_id.len() >= self.max_sessions {
            let Some(oldest) = state
                .by_id
                .values()
                .min_by_key(|s| s.last_touched)
                .map(|s| s.id.clone())
            else {
                break;
            };
            state.by_id.remove(&oldest);
        }
    }
}

/// Removes a key left in flight when its operation did not finish.
struct InFlightKey<'a> {
    merchant: &'a AcpMerchant,
    scope: Option<(String, String)>,
}

impl Drop for InFlightKey<'_> {
    fn drop(&mut self) {
        if let Some(scope) = self.scope.take() {
            lock(&self.merchant.state).keys.remove(&scope);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_secs() -> i64 {
    now_millis() / 1000
}

/// Compares secrets in time independent of where they differ.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    if a.len() != b.len() || b.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

fn slug(text: &str) -> String {
    let slug: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if slug.trim_matches('-').is_empty() {
        "shop".into()
    } else {
        slug
    }
}

/// "Gray / M": a variant's option values.
fn options_text(variant: &FeedVariant) -> String {
    variant
        .variant_options
        .iter()
        .map(|o| o.value.as_str())
        .collect::<Vec<_>>()
        .join(" / ")
}

fn cheapest(pricing: &Pricing) -> Option<&'static str> {
    pricing
        .options
        .iter()
        .min_by_key(|(_, cost)| *cost)
        .map(|(id, _)| *id)
}

/// The coupon codes of a request (`coupons` and `discounts.codes`);
/// `None` when it names none.
fn codes(
    coupons: impl Into<Option<Vec<String>>>,
    discounts: Option<DiscountsRequest>,
) -> Result<Option<Vec<String>>, ApiError> {
    let coupons: Option<Vec<String>> = coupons.into();
    if coupons.is_none() && discounts.is_none() {
        return Ok(None);
    }
    let mut all: Vec<String> = Vec::new();
    for code in coupons
        .into_iter()
        .flatten()
        .chain(discounts.into_iter().flat_map(|d| d.codes))
    {
        let code = code.trim().to_string();
        if code.is_empty() || all.iter().any(|c| c.eq_ignore_ascii_case(&code)) {
            continue;
        }
        if code.chars().count() > MAX_COUPON_CODE_CHARS || all.len() >= MAX_COUPON_CODES {
            return Err(ApiError::invalid_request(
                "invalid",
                format!("at most {MAX_COUPON_CODES} codes of {MAX_COUPON_CODE_CHARS} characters"),
            )
            .with_param("$.coupons"));
        }
        all.push(code);
    }
    Ok(Some(all))
}

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, Answer> {
    serde_json::from_value(value).map_err(|error| {
        let message: String = error.to_string().chars().take(300).collect();
        bad_request(ApiError::invalid_request("invalid", message))
    })
}

fn bad_request(error: ApiError) -> Answer {
    Answer::error(StatusCode::BAD_REQUEST, error)
}

fn not_found(id: &str) -> Answer {
    Answer::error(
        StatusCode::NOT_FOUND,
        ApiError::invalid_request(
            "not_found",
            format!(
                "no checkout session {:?}",
                id.chars().take(64).collect::<String>()
            ),
        ),
    )
}

fn not_open(id: &str, stage: &str) -> ApiError {
    ApiError::invalid_request(
        &format!("checkout_session_{stage}"),
        format!("checkout session {id} is already {stage}"),
    )
}

// ---------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------

type Shared = State<Arc<AcpMerchant>>;
type Body = Result<Bytes, BytesRejection>;
type Id = Result<Path<String>, PathRejection>;

/// The merchant's routes: the five checkout endpoints; anything else is a
/// JSON 404 or 405.
pub fn app(merchant: Arc<AcpMerchant>) -> Router {
    Router::new()
        .route("/checkout_sessions", post(create))
        .route("/checkout_sessions/{id}", get(retrieve).post(update))
        .route("/checkout_sessions/{id}/complete", post(complete))
        .route("/checkout_sessions/{id}/cancel", post(cancel))
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(merchant)
}

async fn create(State(merchant): Shared, headers: HeaderMap, body: Body) -> Response {
    merchant.keyed(&headers, "/checkout_sessions".into(), body, None, |m, v| {
        m.create(v)
    })
}

async fn update(State(merchant): Shared, id: Id, headers: HeaderMap, body: Body) -> Response {
    let Ok(Path(id)) = id else {
        return bad_path();
    };
    let path = format!("/checkout_sessions/{id}");
    merchant.keyed(&headers, path, body, None, |m, v| m.update(&id, v))
}

async fn retrieve(State(merchant): Shared, id: Id, headers: HeaderMap) -> Response {
    if let Err(answer) = merchant.admit(&headers) {
        return answer.into_response(&[]);
    }
    let Ok(Path(id)) = id else {
        return bad_path();
    };
    merchant.retrieve(&id).into_response(&[])
}

async fn complete(State(merchant): Shared, id: Id, headers: HeaderMap, body: Body) -> Response {
    let Ok(Path(id)) = id else {
        return bad_path();
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let path = format!("/checkout_sessions/{id}/complete");
    merchant.keyed(&headers, path, body, None, |m, v| m.complete(&id, &key, v))
}

async fn cancel(State(merchant): Shared, id: Id, headers: HeaderMap, body: Body) -> Response {
    let Ok(Path(id)) = id else {
        return bad_path();
    };
    let path = format!("/checkout_sessions/{id}/cancel");
    let empty = Some(serde_json::json!({}));
    merchant.keyed(&headers, path, body, empty, |m, v| m.cancel(&id, v))
}

async fn unknown_route() -> Response {
    Answer::error(
        StatusCode::NOT_FOUND,
        ApiError::invalid_request("not_found", "no such endpoint"),
    )
    .into_response(&[])
}

async fn wrong_method() -> Response {
    Answer::error(
        StatusCode::METHOD_NOT_ALLOWED,
        ApiError::invalid_request(
            "method_not_allowed",
            "this endpoint does not take that method",
        ),
    )
    .into_response(&[])
}

fn bad_path() -> Response {
    bad_request(ApiError::invalid_request(
        "invalid",
        "the checkout session id in the path is not valid",
    ))
    .into_response(&[])
}
