//! The wire format of the Agentic Commerce Protocol's checkout API, version
//! 2026-04-17 (`spec/2026-04-17/json-schema/schema.agentic_checkout.json`),
//! with the delegated payment allowance of `schema.delegate_payment.json`.
//! These types mirror the JSON and carry no business logic.
//!
//! Tolerant on input: unknown fields are ignored, fields the schema requires
//! but a merchant may leave out default to empty, and unknown enum values
//! are read as `Unknown`. Exact on output: nothing is written that the
//! schema does not allow (absent options are left out, never `null`), and
//! every amount is an integer in minor units.

use serde::{Deserialize, Serialize};

/// The version of the checkout API spoken here (the `API-Version` header
/// and `protocol.version`).
pub const API_VERSION: &str = "2026-04-17";

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// `POST /checkout_sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateCheckoutSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    /// The items, each listed once per unit: the 2026-04-17 `Item` has no
    /// quantity. Read as `items` too, as the RFC's inline examples write it.
    #[serde(alias = "items")]
    pub line_items: Vec<Item>,
    pub currency: String,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_details: Option<FulfillmentDetails>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coupons: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discounts: Option<DiscountsRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_notes: Option<String>,
}

/// `POST /checkout_sessions/{id}`: what is given replaces what the session
/// had; what is absent stays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UpdateCheckoutSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    #[serde(default, alias = "items", skip_serializing_if = "Option::is_none")]
    pub line_items: Option<Vec<Item>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_details: Option<FulfillmentDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_fulfillment_options: Option<Vec<SelectedFulfillmentOption>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupons: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discounts: Option<DiscountsRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_notes: Option<String>,
}

/// `POST /checkout_sessions/{id}/complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompleteCheckoutSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    pub payment_data: PaymentData,
    /// The 3-D Secure outcome, when the session asked for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_result: Option<AuthenticationResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_notes: Option<String>,
}

/// `POST /checkout_sessions/{id}/cancel` (the body is optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CancelSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent_trace: Option<IntentTrace>,
}

/// Why the agent walks away from a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentTrace {
    /// `price_sensitivity`, `shipping_cost`, `shipping_speed`,
    /// `product_fit`, `trust_security`, `returns_policy`,
    /// `payment_options`, `comparison`, `timing_deferred` or `other`.
    pub reason_code: String,
    /// At most 500 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_summary: Option<String>,
}

/// One item asked for, by the merchant's id (a variant or product id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_amount: Option<i64>,
    /// Not in the 2026-04-17 schema (a quantity there is the item listed
    /// that many times); read from clients that follow the RFC's inline
    /// examples, never written by Concierge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u64>,
}

impl Item {
    pub fn with_id(id: &str) -> Item {
        Item {
            id: id.to_string(),
            name: None,
            unit_amount: None,
            quantity: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountsRequest {
    #[serde(default)]
    pub codes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default)]
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub line_one: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_two: Option<String>,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub country: String,
    #[serde(default)]
    pub postal_code: String,
}

// ---------------------------------------------------------------------------
// Payment
// ---------------------------------------------------------------------------

/// How the buyer pays: a payment handler and a credential for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentData {
    /// The id of one of the session's `capabilities.payment.handlers`.
    #[serde(default)]
    pub handler_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument: Option<Instrument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instrument {
    /// `card` for the tokenized card handler.
    #[serde(rename = "type")]
    pub kind: String,
    pub credential: Credential,
}

/// A delegated payment credential: a shared payment token (`spt`) and the
/// allowance it was minted under. The schema leaves the credential open to
/// further fields; the allowance rides here, with the token it limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// `spt`.
    #[serde(rename = "type")]
    pub kind: String,
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowance: Option<DelegatedAllowance>,
}

/// The delegate_payment `Allowance`: what the token may be charged for, and
/// nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedAllowance {
    /// Always `one_time`.
    pub reason: String,
    /// Minor units.
    pub max_amount: i64,
    /// ISO 4217, lowercase (`usd`).
    pub currency: String,
    pub checkout_session_id: String,
    pub merchant_id: String,
    /// RFC 3339.
    pub expires_at: String,
}

impl DelegatedAllowance {
    /// Concierge's allowance as the delegate_payment spec writes it.
    pub fn from_allowance(
        allowance: &crate::merchant::messenger::wire::Allowance,
    ) -> DelegatedAllowance {
        DelegatedAllowance {
            reason: allowance.reason.clone(),
            max_amount: allowance.max_amount,
            currency: allowance.currency.to_ascii_lowercase(),
            checkout_session_id: allowance.checkout_session_id.clone(),
            merchant_id: allowance.merchant_id.clone(),
            expires_at: rfc3339_from_unix(allowance.expires_at),
        }
    }
}

/// A 3-D Secure outcome (`authenticated`, `denied`, `attempt_acknowledged`,
/// ...). Concierge never authenticates; this is read only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationResult {
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome_details: Option<AuthenticationOutcomeDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthenticationOutcomeDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub three_ds_cryptogram: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electronic_commerce_indicator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

// ---------------------------------------------------------------------------
// The session
// ---------------------------------------------------------------------------

/// Where a checkout session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Incomplete,
    NotReadyForPayment,
    /// A person has to step in (the merchant's own checkout).
    RequiresEscalation,
    /// 3-D Secure is needed before completing.
    AuthenticationRequired,
    ReadyForPayment,
    PendingApproval,
    CompleteInProgress,
    Completed,
    Canceled,
    InProgress,
    Expired,
    /// A status this version does not define.
    #[serde(other)]
    Unknown,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Incomplete => "incomplete",
            SessionStatus::NotReadyForPayment => "not_ready_for_payment",
            SessionStatus::RequiresEscalation => "requires_escalation",
            SessionStatus::AuthenticationRequired => "authentication_required",
            SessionStatus::ReadyForPayment => "ready_for_payment",
            SessionStatus::PendingApproval => "pending_approval",
            SessionStatus::CompleteInProgress => "complete_in_progress",
            SessionStatus::Completed => "completed",
            SessionStatus::Canceled => "canceled",
            SessionStatus::InProgress => "in_progress",
            SessionStatus::Expired => "expired",
            SessionStatus::Unknown => "unknown",
        }
    }
}

/// The merchant's authoritative state of a checkout (`CheckoutSession`;
/// with `order` set, `CheckoutSessionWithOrder`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<ProtocolVersion>,
    #[serde(default)]
    pub capabilities: Capabilities,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    pub status: SessionStatus,
    /// ISO 4217 (lowercase recommended).
    pub currency: String,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_details: Option<FulfillmentDetails>,
    #[serde(default)]
    pub fulfillment_options: Vec<FulfillmentOption>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selected_fulfillment_options: Vec<SelectedFulfillmentOption>,
    #[serde(default)]
    pub totals: Vec<Total>,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
}

impl CheckoutSession {
    /// The sum of the totals of `kind`, or `None` when there is none (or
    /// the sum overflows).
    pub fn total_of(&self, kind: TotalType) -> Option<i64> {
        sum_of(&self.totals, kind)
    }

    /// The session's error messages.
    pub fn errors(&self) -> impl Iterator<Item = (&MessageErrorCode, &str)> {
        self.messages.iter().filter_map(|message| match message {
            Message::Error { code, content, .. } => Some((code, content.as_str())),
            _ => None,
        })
    }
}

/// The sum of `totals` of `kind`.
pub fn sum_of(totals: &[Total], kind: TotalType) -> Option<i64> {
    let mut found = false;
    let mut sum = 0i64;
    for total in totals.iter().filter(|t| t.kind == kind) {
        found = true;
        sum = sum.checked_add(total.amount)?;
    }
    found.then_some(sum)
}

/// A completed session: `CheckoutSession` whose `order` is required.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "CheckoutSession", into = "CheckoutSession")]
pub struct CheckoutSessionWithOrder {
    session: CheckoutSession,
}

impl CheckoutSessionWithOrder {
    pub fn session(&self) -> &CheckoutSession {
        &self.session
    }

    pub fn order(&self) -> &Order {
        self.session
            .order
            .as_ref()
            .expect("a CheckoutSessionWithOrder always has its order")
    }
}

impl TryFrom<CheckoutSession> for CheckoutSessionWithOrder {
    type Error = String;

    fn try_from(session: CheckoutSession) -> Result<Self, String> {
        if session.order.is_none() {
            return Err("the completed checkout session has no order".into());
        }
        Ok(CheckoutSessionWithOrder { session })
    }
}

impl From<CheckoutSessionWithOrder> for CheckoutSession {
    fn from(with_order: CheckoutSessionWithOrder) -> CheckoutSession {
        with_order.session
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolVersion {
    pub version: String,
}

/// What the merchant (or, in a create request, the agent) supports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentCapabilities>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interventions: Option<InterventionCapabilities>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentCapabilities {
    #[serde(default)]
    pub handlers: Vec<PaymentHandler>,
}

/// A way the merchant takes payment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentHandler {
    pub id: String,
    /// Reverse-DNS name, e.g. `dev.acp.tokenized.card`.
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub spec: String,
    #[serde(default)]
    pub requires_delegate_payment: bool,
    #[serde(default)]
    pub requires_pci_compliance: bool,
    #[serde(default)]
    pub psp: String,
    #[serde(default)]
    pub config_schema: String,
    #[serde(default)]
    pub instrument_schemas: Vec<String>,
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_order: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterventionCapabilities {
    /// `3ds`, `biometric`, `address_verification`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
    /// `always`, `conditional`, `optional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<String>,
}

/// One line of the checkout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    pub id: String,
    pub item: Item,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Minor units per unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_status: Option<AvailabilityStatus>,
    /// The variant's options ("Color": "Gray", "Size": "M").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variant_options: Vec<VariantOption>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_attributes: Vec<CustomAttribute>,
    #[serde(default)]
    pub totals: Vec<Total>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AvailabilityStatus {
    InStock,
    LowStock,
    OutOfStock,
    Backorder,
    PreOrder,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantOption {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomAttribute {
    pub display_name: String,
    pub value: String,
}

/// The kinds of amounts a checkout adds up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TotalType {
    ItemsBaseAmount,
    ItemsDiscount,
    Subtotal,
    Discount,
    Fulfillment,
    Tax,
    Fee,
    GiftWrap,
    Tip,
    StoreCredit,
    Total,
    AmountRefunded,
    #[serde(other)]
    Unknown,
}

/// One amount, in minor units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Total {
    #[serde(rename = "type")]
    pub kind: TotalType,
    #[serde(default)]
    pub display_text: String,
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Total {
    pub fn new(kind: TotalType, display_text: &str, amount: i64) -> Total {
        Total {
            kind,
            display_text: display_text.to_string(),
            amount,
            description: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentType {
    #[default]
    Shipping,
    Digital,
    Pickup,
    LocalDelivery,
    #[serde(other)]
    Unknown,
}

/// A way to get the order (shipping, digital, pickup, local delivery) and
/// what it costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentOption {
    #[serde(rename = "type")]
    pub kind: FulfillmentType,
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_delivery_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_delivery_time: Option<String>,
    #[serde(default)]
    pub totals: Vec<Total>,
}

impl FulfillmentOption {
    /// What choosing it costs: its `total`, else its `fulfillment`, else
    /// its `subtotal` amount.
    pub fn cost(&self) -> Option<i64> {
        [
            TotalType::Total,
            TotalType::Fulfillment,
            TotalType::Subtotal,
        ]
        .into_iter()
        .find_map(|kind| sum_of(&self.totals, kind))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedFulfillmentOption {
    /// Left out by the RFC's inline examples; read as shipping then.
    #[serde(rename = "type", default)]
    pub kind: FulfillmentType,
    pub option_id: String,
    #[serde(default)]
    pub item_ids: Vec<String>,
}

/// A message about the session: information, a warning, or an error that
/// stands between the session and payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Info {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        param: Option<String>,
        #[serde(default)]
        content_type: ContentType,
        #[serde(default)]
        content: String,
    },
    Warning {
        /// `low_stock`, `discount_code_invalid`, ... (see the schema).
        #[serde(default)]
        code: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        param: Option<String>,
        #[serde(default)]
        content_type: ContentType,
        #[serde(default)]
        content: String,
    },
    Error {
        code: MessageErrorCode,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resolution: Option<Resolution>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        param: Option<String>,
        #[serde(default)]
        content_type: ContentType,
        #[serde(default)]
        content: String,
    },
    /// A message type this version does not define.
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentType {
    #[default]
    Plain,
    Markdown,
}

/// Who resolves a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    Recoverable,
    RequiresBuyerInput,
    RequiresBuyerReview,
    #[serde(other)]
    Unknown,
}

/// The error codes of a session's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageErrorCode {
    Missing,
    Invalid,
    OutOfStock,
    PaymentDeclined,
    RequiresSignIn,
    #[serde(rename = "requires_3ds")]
    Requires3ds,
    LowStock,
    QuantityExceeded,
    CouponInvalid,
    CouponExpired,
    MinimumNotMet,
    MaximumExceeded,
    RegionRestricted,
    AgeVerificationRequired,
    ApprovalRequired,
    Unsupported,
    NotFound,
    Conflict,
    RateLimited,
    Expired,
    InterventionRequired,
    #[serde(other)]
    Unknown,
}

/// A policy link (terms of use, return policy, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub url: String,
}

/// The order a completed session made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub id: String,
    #[serde(default)]
    pub checkout_session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_number: Option<String>,
    #[serde(default)]
    pub permalink_url: String,
    /// `created`, `confirmed`, `processing`, `shipped`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

// ---------------------------------------------------------------------------
// Errors, webhooks and discovery
// ---------------------------------------------------------------------------

/// The flat error body every non-2xx answer carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    #[serde(rename = "type")]
    pub kind: ErrorType,
    pub code: String,
    pub message: String,
    /// RFC 9535 JSONPath of the offending field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_versions: Option<Vec<String>>,
}

impl ApiError {
    pub fn invalid_request(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            kind: ErrorType::InvalidRequest,
            code: code.to_string(),
            message: message.into(),
            param: None,
            supported_versions: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> ApiError {
        self.param = Some(param.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequest,
    ProcessingError,
    ServiceUnavailable,
    #[serde(other)]
    Unknown,
}

/// An order event the merchant sends the agent's webhook (read only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderWebhookEvent {
    /// `order_create` or `order_update`.
    #[serde(rename = "type")]
    pub kind: String,
    pub data: OrderEventData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEventData {
    #[serde(rename = "type")]
    pub kind: String,
    pub checkout_session_id: String,
    #[serde(default)]
    pub permalink_url: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub refunds: Vec<Refund>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    #[serde(rename = "type")]
    pub kind: String,
    pub amount: i64,
}

/// `/.well-known/acp.json` (read only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryResponse {
    pub protocol: DiscoveryProtocol,
    pub api_base_url: String,
    #[serde(default)]
    pub transports: Vec<String>,
    #[serde(default)]
    pub capabilities: DiscoveryCapabilities,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryProtocol {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub supported_versions: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryCapabilities {
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub supported_currencies: Vec<String>,
}

// ---------------------------------------------------------------------------
// RFC 3339 time, without a date library
// ---------------------------------------------------------------------------

/// Unix seconds as RFC 3339 UTC ("2026-04-17T09:30:00Z").
pub fn rfc3339_from_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Unix seconds of an RFC 3339 date-time ("2025-10-09T07:20:50.52Z",
/// "2026-04-17T11:30:00+02:00"); fractions of a second are dropped.
/// `None` for anything else.
pub fn unix_from_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    let bytes = text.as_bytes();
    if bytes.len() < 20 || !text.is_ascii() {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if bytes[4] != b'-'
        || bytes[7] != b'-'
        || !matches!(bytes[10], b'T' | b't' | b' ')
        || bytes[13] != b':'
        || bytes[16] != b':'
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips_and_reads_offsets_and_fractions() {
        for secs in [0, 951_782_400, 1_776_418_200, 4_102_444_799, -86_401] {
            assert_eq!(unix_from_rfc3339(&rfc3339_from_unix(secs)), Some(secs));
        }
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(951_782_400), "2000-02-29T00:00:00Z");
        let check = |text: &str, expected: Option<i64>| {
            assert_eq!(unix_from_rfc3339(text), expected, "{text}");
        };
        check("2025-10-09T07:20:50.52Z", Some(1_759_994_450));
        check("2025-10-09T09:20:50+02:00", Some(1_759_994_450));
        check("2025-10-09T05:20:50-02:00", Some(1_759_994_450));
        check("2025-10-09", None);
        check("2025-13-09T07:20:50Z", None);
        check("2025-10-09T07:20:50", None);
        check("2025-10-09T07:20:50.Z", None);
        check("2025-10-09T07:20:50+2:00", None);
        check("1759994450", None);
        check("２025-10-09T07:20:50Z", None);
    }

    #[test]
    fn unknown_enum_values_and_fields_are_read_not_refused() {
        let session: CheckoutSession = serde_json::from_value(serde_json::json!({
            "id": "cs_1", "status": "paused_for_lunch", "currency": "usd",
            "line_items": [], "totals": [{"type": "surcharge", "display_text": "x", "amount": 5}],
            "fulfillment_options": [], "links": [], "capabilities": {},
            "messages": [{"type": "notice", "content": "hi"}, {"type": "error", "code": "new_code", "content_type": "plain", "content": "no"}],
            "something_new": {"a": 1}
        }))
        .unwrap();
        assert_eq!(session.status, SessionStatus::Unknown);
        assert_eq!(session.totals[0].kind, TotalType::Unknown);
        assert_eq!(session.messages[0], Message::Unknown);
        assert_eq!(session.errors().count(), 1);
    }

    #[test]
    fn output_leaves_absent_options_out() {
        let item = serde_json::to_value(Item::with_id("WS-1")).unwrap();
        assert_eq!(item, serde_json::json!({"id": "WS-1"}));
        assert_eq!(
            serde_json::to_value(MessageErrorCode::Requires3ds).unwrap(),
            serde_json::json!("requires_3ds")
        );
        assert_eq!(
            serde_json::to_value(SessionStatus::ReadyForPayment).unwrap(),
            serde_json::json!(SessionStatus::ReadyForPayment.as_str())
        );
    }
}
