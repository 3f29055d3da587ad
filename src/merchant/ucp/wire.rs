//! The Universal Commerce Protocol's JSON, as the 2026-01-11 REST binding
//! defines it: the discovery profile (`/.well-known/ucp`), checkout
//! sessions and the requests that make and change them, the complete
//! request with its payment instrument, orders and error bodies. These
//! types mirror the JSON and carry no business logic.
//!
//! Input is read tolerantly: unknown fields are ignored, fields the schema
//! leaves optional are optional, unknown enum words become `Other`, and
//! the shapes the reference merchants and the 2026-04-08 release write
//! are read as well (`order_id` beside `order`, services and capabilities
//! keyed by name, discount totals written negative, `message` for
//! `content`, a FastAPI `detail` in error bodies). A member written `null`
//! is read as absent ([`from_json`]): businesses whose models dump every
//! optional field (pydantic's `model_dump`) write `"messages": null` and
//! `"signing_keys": null` where the schema has a list or nothing. Output is
//! exact: a field is written only when it has a value, in the schema's
//! names.
//!
//! Amounts are integer minor units everywhere.

use super::super::messenger::wire::Allowance;
use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The protocol version both sides of this module speak.
pub const UCP_VERSION: &str = "2026-01-11";
/// The shopping service in a discovery profile.
pub const SHOPPING_SERVICE: &str = "dev.ucp.shopping";
pub const CHECKOUT_CAPABILITY: &str = "dev.ucp.shopping.checkout";
pub const ORDER_CAPABILITY: &str = "dev.ucp.shopping.order";
pub const FULFILLMENT_CAPABILITY: &str = "dev.ucp.shopping.fulfillment";
pub const DISCOUNT_CAPABILITY: &str = "dev.ucp.shopping.discount";
pub const BUYER_CONSENT_CAPABILITY: &str = "dev.ucp.shopping.buyer_consent";

/// The payment handler that carries Concierge's one-time payment
/// authorisation (see the module docs of [`super`]).
pub const ALLOWANCE_HANDLER_NAME: &str = "dev.concierge.allowance";
/// The handler instance id the reference merchant gives it.
pub const ALLOWANCE_HANDLER_ID: &str = "concierge_allowance";
/// The UCP project's sandbox payment handler, as its conformance suite and
/// reference samples declare it: it moves no money, and its configuration
/// lists the test tokens it takes (`supported_tokens`).
pub const SANDBOX_HANDLER_NAME: &str = "dev.ucp.mock_payment";
/// The sandbox handler's test token that pays (`fail_token` is declined).
pub const SANDBOX_SUCCESS_TOKEN: &str = "success_token";
/// The instrument type of an allowance (`payment_data.type`).
pub const ALLOWANCE_INSTRUMENT_TYPE: &str = "allowance";
/// The credential type of an allowance (`payment_data.credential.type`).
pub const ALLOWANCE_CREDENTIAL_TYPE: &str = "allowance_token";

/// Reads a business's JSON with every object member written `null` taken
/// as absent, so the field's default (an empty list, no value) applies.
/// The schemas allow `null` nowhere; a `null` array element is kept (and
/// refused where the element type needs a value).
pub fn from_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let mut value: Value = serde_json::from_slice(bytes)?;
    drop_null_members(&mut value);
    serde_json::from_value(value)
}

fn drop_null_members(value: &mut Value) {
    match value {
        Value::Object(members) => {
            members.retain(|_, member| !member.is_null());
            members.values_mut().for_each(drop_null_members);
        }
        Value::Array(elements) => elements.iter_mut().for_each(drop_null_members),
        _ => {}
    }
}

// ---------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------

/// `GET /.well-known/ucp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UcpProfile {
    pub ucp: DiscoveryMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentHandlers>,
    /// Public keys (JWK), kept as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<Value>,
}

impl UcpProfile {
    /// The shopping service's REST endpoint, if the profile has one.
    pub fn rest_endpoint(&self) -> Option<&str> {
        self.ucp
            .services
            .get(SHOPPING_SERVICE)?
            .rest
            .as_ref()
            .map(|rest| rest.endpoint.as_str())
            .filter(|endpoint| !endpoint.trim().is_empty())
    }

    pub fn has_capability(&self, name: &str) -> bool {
        self.ucp.capabilities.iter().any(|c| c.name == name)
    }

    /// Every payment handler the profile lists (top-level `payment` and,
    /// in the 2026-04-08 shape, `ucp.payment_handlers`).
    pub fn handlers(&self) -> impl Iterator<Item = &PaymentHandler> {
        self.payment
            .iter()
            .flat_map(|p| p.handlers.iter())
            .chain(self.ucp.payment_handlers.iter())
    }

    /// The first handler with specification name `name`.
    pub fn handler_named(&self, name: &str) -> Option<&PaymentHandler> {
        self.handlers().find(|h| h.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveryMeta {
    pub version: String,
    #[serde(default, deserialize_with = "services_either")]
    pub services: BTreeMap<String, Service>,
    #[serde(default, deserialize_with = "capabilities_either")]
    pub capabilities: Vec<Capability>,
    /// 2026-04-08: handlers keyed by name inside `ucp`.
    #[serde(
        default,
        deserialize_with = "handlers_either",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub payment_handlers: Vec<PaymentHandler>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub spec: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest: Option<RestBinding>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RestBinding {
    #[serde(default)]
    pub schema: String,
    pub endpoint: String,
}

/// A capability: in discovery with its spec and schema, in responses by
/// name and version only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capability {
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
}

impl Capability {
    /// A capability named in a response: name and version.
    pub fn named(name: &str) -> Capability {
        Capability {
            name: name.into(),
            version: UCP_VERSION.into(),
            spec: None,
            schema: None,
            extends: None,
            config: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentHandlers {
    #[serde(default)]
    pub handlers: Vec<PaymentHandler>,
}

/// A payment handler declaration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentHandler {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub spec: String,
    #[serde(default)]
    pub config_schema: String,
    #[serde(default)]
    pub instrument_schemas: Vec<String>,
    #[serde(default = "empty_object")]
    pub config: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// `services`: 2026-01-11 maps a name to one service; 2026-04-08 to a list
/// of transports, of which the `rest` one is kept.
fn services_either<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Service>, D::Error> {
    let raw = Option::<BTreeMap<String, Value>>::deserialize(deserializer)?.unwrap_or_default();
    let mut services = BTreeMap::new();
    for (name, value) in raw {
        let service = match value {
            Value::Array(entries) => entries
                .into_iter()
                .find(|e| e.get("transport").and_then(Value::as_str) == Some("rest"))
                .map(|rest| Service {
                    version: string_at(&rest, "version"),
                    spec: string_at(&rest, "spec"),
                    rest: Some(RestBinding {
                        schema: string_at(&rest, "schema"),
                        endpoint: string_at(&rest, "endpoint"),
                    }),
                }),
            other => serde_json::from_value(other).ok(),
        };
        if let Some(service) = service {
            services.insert(name, service);
        }
    }
    Ok(services)
}

/// `capabilities`: a list (2026-01-11) or lists keyed by name (2026-04-08).
fn capabilities_either<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<Capability>, D::Error> {
    Ok(named_entries(Option::<Value>::deserialize(deserializer)?)
        .into_iter()
        .filter_map(|value| serde_json::from_value(value).ok())
        .collect())
}

fn handlers_either<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<PaymentHandler>, D::Error> {
    Ok(named_entries(Option::<Value>::deserialize(deserializer)?)
        .into_iter()
        .filter_map(|value| serde_json::from_value(value).ok())
        .collect())
}

/// The entries of a list, or of lists keyed by name with the key as each
/// entry's `name`. Entries that are not objects are dropped.
fn named_entries(value: Option<Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(entries)) => entries,
        Some(Value::Object(by_name)) => by_name
            .into_iter()
            .flat_map(|(name, entries)| {
                let entries = match entries {
                    Value::Array(entries) => entries,
                    single => vec![single],
                };
                entries.into_iter().filter_map(move |mut entry| {
                    let object = entry.as_object_mut()?;
                    object
                        .entry("name")
                        .or_insert_with(|| Value::String(name.clone()));
                    Some(entry)
                })
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn string_at(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

// ---------------------------------------------------------------------------
// Checkout session (responses)
// ---------------------------------------------------------------------------

/// The `ucp` field of every response: the version used and the active
/// capabilities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseMeta {
    #[serde(default)]
    pub version: String,
    #[serde(default, deserialize_with = "capabilities_either")]
    pub capabilities: Vec<Capability>,
    #[serde(
        default,
        deserialize_with = "handlers_either",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub payment_handlers: Vec<PaymentHandler>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    Incomplete,
    RequiresEscalation,
    ReadyForComplete,
    CompleteInProgress,
    Completed,
    #[serde(alias = "cancelled")]
    Canceled,
    /// A word this version does not know (read only).
    #[default]
    #[serde(other)]
    Other,
}

impl CheckoutStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckoutStatus::Incomplete => "incomplete",
            CheckoutStatus::RequiresEscalation => "requires_escalation",
            CheckoutStatus::ReadyForComplete => "ready_for_complete",
            CheckoutStatus::CompleteInProgress => "complete_in_progress",
            CheckoutStatus::Completed => "completed",
            CheckoutStatus::Canceled => "canceled",
            CheckoutStatus::Other => "other",
        }
    }
}

/// A checkout session as a business answers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checkout {
    #[serde(default)]
    pub ucp: ResponseMeta,
    pub id: String,
    #[serde(default)]
    pub line_items: Vec<LineItem>,
    /// Kept as sent (the buyer consent extension adds `consent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Value>,
    #[serde(default)]
    pub status: CheckoutStatus,
    #[serde(default)]
    pub currency: String,
    #[serde(default)]
    pub totals: Vec<Total>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub links: Vec<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_url: Option<String>,
    #[serde(default)]
    pub payment: PaymentResponse,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderConfirmation>,
    /// The reference merchants' (samples) way of naming the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_permalink_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<Fulfillment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discounts: Option<Discounts>,
}

impl Checkout {
    /// The amount of the first total of `kind`.
    pub fn total_of(&self, kind: TotalType) -> Option<i64> {
        total_of(&self.totals, kind)
    }

    /// The order this session made, by either way of naming it.
    pub fn order_id(&self) -> Option<&str> {
        self.order
            .as_ref()
            .map(|order| order.id.as_str())
            .or(self.order_id.as_deref())
            .filter(|id| !id.trim().is_empty())
    }

    /// The errors among the messages.
    pub fn errors(&self) -> impl Iterator<Item = &Message> {
        self.messages
            .iter()
            .filter(|m| m.kind == MessageType::Error)
    }

    /// Every payment handler the session names (its own `payment.handlers`
    /// and, in the 2026-04-08 shape, `ucp.payment_handlers`).
    pub fn handlers(&self) -> impl Iterator<Item = &PaymentHandler> {
        self.payment
            .handlers
            .iter()
            .chain(self.ucp.payment_handlers.iter())
    }
}

/// The first total of `kind` in `totals`, as a magnitude: 2026-04-08 writes
/// discounts as negative amounts, 2026-01-11 as positive ones.
pub fn total_of(totals: &[Total], kind: TotalType) -> Option<i64> {
    totals.iter().find(|t| t.kind == kind).map(|t| match kind {
        TotalType::Discount | TotalType::ItemsDiscount => t.amount.checked_abs().unwrap_or(0),
        _ => t.amount,
    })
}

/// Every total of `kind`, summed as magnitudes (discounts may be itemised).
pub fn sum_of(totals: &[Total], kind: TotalType) -> Option<i64> {
    totals
        .iter()
        .filter(|t| t.kind == kind)
        .try_fold(0i64, |sum, t| sum.checked_add(t.amount.checked_abs()?))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    #[serde(default)]
    pub id: String,
    pub item: Item,
    pub quantity: u32,
    #[serde(default)]
    pub totals: Vec<Total>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    #[serde(default)]
    pub title: String,
    /// Unit price.
    #[serde(default)]
    pub price: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TotalType {
    ItemsDiscount,
    Subtotal,
    Discount,
    /// Also read from `shipping` (the order example's word).
    #[serde(alias = "shipping")]
    Fulfillment,
    Tax,
    Fee,
    Total,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Total {
    #[serde(rename = "type")]
    pub kind: TotalType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_text: Option<String>,
    pub amount: i64,
}

impl Total {
    pub fn new(kind: TotalType, display_text: &str, amount: i64) -> Total {
        Total {
            kind,
            display_text: Some(display_text.into()),
            amount,
        }
    }

    /// A total without display text (line items and options).
    pub fn plain(kind: TotalType, amount: i64) -> Total {
        Total {
            kind,
            display_text: None,
            amount,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Error,
    Warning,
    Info,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Recoverable,
    RequiresBuyerInput,
    RequiresBuyerReview,
    #[serde(other)]
    Other,
}

/// An error, warning or informational message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    #[serde(rename = "type")]
    pub kind: MessageType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// What the overview's version error example writes for `content`;
    /// read, never written.
    #[serde(default, skip_serializing)]
    pub message: Option<String>,
}

impl Message {
    /// The message's words, wherever the business wrote them.
    pub fn text(&self) -> &str {
        match self.content.trim() {
            "" => self.message.as_deref().unwrap_or_default().trim(),
            content => content,
        }
    }

    pub fn error(code: &str, path: Option<&str>, content: &str, severity: Severity) -> Message {
        Message {
            kind: MessageType::Error,
            code: Some(code.into()),
            path: path.map(String::from),
            content: content.into(),
            content_type: None,
            severity: Some(severity),
            message: None,
        }
    }

    pub fn warning(code: &str, path: Option<&str>, content: &str) -> Message {
        Message {
            kind: MessageType::Warning,
            code: Some(code.into()),
            path: path.map(String::from),
            content: content.into(),
            content_type: None,
            severity: None,
            message: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A session's `payment`: the handlers it accepts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentResponse {
    #[serde(default)]
    pub handlers: Vec<PaymentHandler>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_instrument_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instruments: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderConfirmation {
    pub id: String,
    #[serde(default)]
    pub permalink_url: String,
}

// ---------------------------------------------------------------------------
// Fulfillment (shared by requests and responses)
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fulfillment {
    #[serde(default)]
    pub methods: Vec<FulfillmentMethod>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub available_methods: Vec<Value>,
}

/// A fulfilment method. In a request its `id` (update), `type` (create)
/// and selections are sent; the business fills the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentMethod {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_item_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<Destination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_destination_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<FulfillmentGroup>,
}

/// A shipping destination: a postal address with an id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(flatten)]
    pub address: PostalAddress,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_locality: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentGroup {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_item_ids: Vec<String>,
    #[serde(
        default,
        deserialize_with = "options_either",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub options: Vec<FulfillmentOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_option_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentOption {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default)]
    pub totals: Vec<Total>,
}

impl FulfillmentOption {
    /// What the option costs: its `total`, else its parts added up;
    /// `None` when it states no price.
    pub fn cost(&self) -> Option<i64> {
        if self.totals.is_empty() {
            return None;
        }
        total_of(&self.totals, TotalType::Total).or_else(|| {
            self.totals
                .iter()
                .try_fold(0i64, |sum, t| sum.checked_add(t.amount))
        })
    }
}

/// A group's options. The schema prices an option with `totals`; the
/// fulfilment text's rendering table names a plain `total` amount, which
/// businesses built from it write (`"total": 500`): read as the option's
/// total when it has no `totals`.
fn options_either<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<FulfillmentOption>, D::Error> {
    let raw = Option::<Vec<Value>>::deserialize(deserializer)?.unwrap_or_default();
    raw.into_iter()
        .map(|mut option| {
            if let Some(object) = option.as_object_mut() {
                let has_totals = object
                    .get("totals")
                    .and_then(Value::as_array)
                    .is_some_and(|totals| !totals.is_empty());
                if let (false, Some(amount)) =
                    (has_totals, object.get("total").and_then(Value::as_i64))
                {
                    object.insert(
                        "totals".into(),
                        serde_json::json!([{"type": "total", "amount": amount}]),
                    );
                }
            }
            serde_json::from_value(option).map_err(serde::de::Error::custom)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Discounts
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Discounts {
    /// Codes to apply; `Some([])` clears them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Vec<AppliedDiscount>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedDiscount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default)]
    pub title: String,
    pub amount: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub automatic: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allocations: Vec<Value>,
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// Create (`POST /checkout-sessions`) and update (`PUT
/// /checkout-sessions/{id}`) bodies. A field left out of an update leaves
/// that part of the session as it was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckoutRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_items: Option<Vec<LineItemRequest>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment: Option<Fulfillment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discounts: Option<Discounts>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItemRequest {
    /// The business's line item id (updates only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub item: ItemRequest,
    /// Checked by the business (at least 1); read wide so a bad number is
    /// an answer, not a decoding failure.
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRequest {
    pub id: String,
    /// Sent by some platforms; the business's own title wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// A request's `payment` (the handlers are the business's to say).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PaymentRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_instrument_id: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub instruments: Vec<Value>,
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `POST /checkout-sessions/{id}/complete`. 2026-01-11 sends the instrument
/// as `payment_data`; 2026-04-08 as the selected one of
/// `payment.instruments`. Both are read; one is written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompleteRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_data: Option<PaymentInstrument>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<CompletePayment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_signals: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ap2: Option<Ap2CompleteRequest>,
}

impl CompleteRequest {
    /// The instrument paid with, in either shape.
    pub fn instrument(&self) -> Option<&PaymentInstrument> {
        self.payment_data.as_ref().or_else(|| {
            let instruments = &self.payment.as_ref()?.instruments;
            instruments
                .iter()
                .find(|i| i.selected == Some(true))
                .or(instruments.first())
        })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletePayment {
    #[serde(default)]
    pub instruments: Vec<PaymentInstrument>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ap2CompleteRequest {
    pub checkout_mandate: String,
}

/// A payment instrument. Cards carry `brand` and `last_digits`; a
/// handler's own instrument type carries what its handler defines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentInstrument {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub handler_id: String,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_digits: Option<String>,
    /// 2026-04-08: which of `payment.instruments` is paid with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<PostalAddress>,
    /// Kept raw: each handler defines its own credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<Value>,
}

/// The credential of the allowance handler: Concierge's one-time payment
/// authorisation as a UCP token credential, bound to one checkout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowanceCredential {
    /// [`ALLOWANCE_CREDENTIAL_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The one-time token the business charges against.
    pub token: String,
    /// The authorisation's idempotency key: the same payment sent again
    /// carries the same key and is never charged twice.
    pub idempotency_key: String,
    /// What the token may be charged for: at most `max_amount` in
    /// `currency`, for one checkout of one business, before `expires_at`.
    pub allowance: Allowance,
    /// UCP's binding of a token to one checkout.
    pub binding: Binding,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    pub checkout_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Value>,
}

// ---------------------------------------------------------------------------
// Orders
// ---------------------------------------------------------------------------

/// `GET /orders/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    #[serde(default)]
    pub ucp: ResponseMeta,
    pub id: String,
    #[serde(default)]
    pub checkout_id: String,
    #[serde(default)]
    pub permalink_url: String,
    #[serde(default)]
    pub line_items: Vec<OrderLineItem>,
    #[serde(default)]
    pub fulfillment: OrderFulfillment,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<Adjustment>,
    #[serde(default)]
    pub totals: Vec<Total>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLineItem {
    pub id: String,
    pub item: Item,
    pub quantity: OrderQuantity,
    #[serde(default)]
    pub totals: Vec<Total>,
    #[serde(default)]
    pub status: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderQuantity {
    pub total: u32,
    #[serde(default)]
    pub fulfilled: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderFulfillment {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<Expectation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<FulfillmentEvent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItemQuantity {
    pub id: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    pub id: String,
    #[serde(default)]
    pub line_items: Vec<LineItemQuantity>,
    #[serde(default)]
    pub method_type: String,
    #[serde(default)]
    pub destination: PostalAddress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillable_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentEvent {
    pub id: String,
    pub occurred_at: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub line_items: Vec<LineItemQuantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjustment {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_items: Vec<LineItemQuantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// An error body: the spec's `status` and `messages`, and `detail`, the
/// one sentence the reference merchants (FastAPI and Express samples) and
/// the conformance suite read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CheckoutStatus>,
    #[serde(default)]
    pub messages: Vec<Message>,
    /// A sentence, or (FastAPI validation errors) a list of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

impl ErrorResponse {
    /// What went wrong, in words: the messages' contents, else the detail.
    pub fn text(&self) -> Option<String> {
        let contents: Vec<&str> = self
            .messages
            .iter()
            .map(Message::text)
            .filter(|c| !c.is_empty())
            .collect();
        if !contents.is_empty() {
            return Some(contents.join("; "));
        }
        match self.detail.as_ref()? {
            Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
            Value::Array(items) => {
                let texts: Vec<String> = items
                    .iter()
                    .filter_map(|item| match item {
                        Value::String(text) => Some(text.clone()),
                        other => validation_error(other),
                    })
                    .collect();
                (!texts.is_empty()).then(|| texts.join("; "))
            }
            _ => None,
        }
    }
}

/// One of FastAPI's validation errors (`{"loc": ["header",
/// "request-signature"], "msg": "Field required"}`) in words: the message
/// and where it points ("Field required: header request-signature").
fn validation_error(error: &Value) -> Option<String> {
    let message = error.get("msg").and_then(Value::as_str)?.trim();
    let place: Vec<String> = error
        .get("loc")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| match part {
            Value::String(name) => Some(name.clone()),
            Value::Number(index) => Some(index.to_string()),
            _ => None,
        })
        .collect();
    Some(if place.is_empty() {
        message.to_string()
    } else {
        format!("{message}: {}", place.join(" "))
    })
}

/// The platform profile a `UCP-Agent` header names (`profile="…"`).
pub fn agent_profile(header: &str) -> Option<&str> {
    agent_parameter(header, "profile")
}

/// The UCP version a `UCP-Agent` header asks for (`version="…"`), if any.
pub fn agent_version(header: &str) -> Option<&str> {
    agent_parameter(header, "version")
}

fn agent_parameter<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split([';', ',']).find_map(|part| {
        let (key, value) = part.split_once('=')?;
        (key.trim() == name)
            .then(|| value.trim().trim_matches('"'))
            .filter(|value| !value.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_profile_shapes_name_the_rest_endpoint_and_handlers() {
        let old: UcpProfile = serde_json::from_value(serde_json::json!({
            "ucp": {"version": "2026-01-11",
                "services": {"dev.ucp.shopping": {"version": "2026-01-11", "spec": "s",
                    "rest": {"schema": "x", "endpoint": "https://a.example/ucp"}}},
                "capabilities": [{"name": "dev.ucp.shopping.checkout", "version": "2026-01-11"}]},
            "payment": {"handlers": [{"id": "h1", "name": "dev.concierge.allowance", "version": "2026-01-11",
                "spec": "s", "config_schema": "c", "instrument_schemas": [], "config": {}}]}
        }))
        .unwrap();
        let new: UcpProfile = serde_json::from_value(serde_json::json!({
            "ucp": {"version": "2026-04-08",
                "services": {"dev.ucp.shopping": [
                    {"version": "2026-04-08", "transport": "mcp", "endpoint": "https://a.example/mcp"},
                    {"version": "2026-04-08", "transport": "rest", "endpoint": "https://a.example/ucp"}]},
                "capabilities": {"dev.ucp.shopping.checkout": [{"version": "2026-04-08"}]},
                "payment_handlers": {"dev.concierge.allowance": [{"id": "h1", "version": "2026-04-08"}]}}
        }))
        .unwrap();
        for profile in [old, new] {
            assert_eq!(profile.rest_endpoint(), Some("https://a.example/ucp"));
            assert!(profile.has_capability(CHECKOUT_CAPABILITY));
            assert_eq!(
                profile.handler_named(ALLOWANCE_HANDLER_NAME).unwrap().id,
                "h1"
            );
        }
    }

    #[test]
    fn discount_totals_read_as_magnitudes_in_either_sign() {
        let totals: Vec<Total> = serde_json::from_value(serde_json::json!([
            {"type": "subtotal", "amount": 5000},
            {"type": "discount", "amount": -1000},
            {"type": "shipping", "amount": 500},
            {"type": "surcharge", "amount": 7},
            {"type": "total", "amount": 4500}
        ]))
        .unwrap();
        assert_eq!(total_of(&totals, TotalType::Discount), Some(1000));
        assert_eq!(total_of(&totals, TotalType::Fulfillment), Some(500));
        assert_eq!(totals[3].kind, TotalType::Other);
    }

    #[test]
    fn error_bodies_read_messages_or_detail() {
        let spec: ErrorResponse = serde_json::from_value(serde_json::json!({
            "status": "requires_escalation",
            "messages": [{"type": "error", "code": "version_unsupported",
                "message": "Version 2026-01-12 is not supported.", "severity": "requires_buyer_input"}]
        }))
        .unwrap();
        assert_eq!(spec.text().unwrap(), "Version 2026-01-12 is not supported.");
        let both: Message = serde_json::from_value(serde_json::json!({
            "type": "error", "code": "x", "content": "From content", "message": "From message"
        }))
        .unwrap();
        assert_eq!(both.text(), "From content");
        let sample: ErrorResponse = serde_json::from_value(
            serde_json::json!({"detail": "Insufficient stock for item gardenias"}),
        )
        .unwrap();
        assert_eq!(
            sample.text().unwrap(),
            "Insufficient stock for item gardenias"
        );
        let fastapi: ErrorResponse = serde_json::from_value(
            serde_json::json!({"detail": [{"loc": ["body"], "msg": "field required"}]}),
        )
        .unwrap();
        assert_eq!(fastapi.text().unwrap(), "field required: body");
    }

    #[test]
    fn the_agent_header_names_its_version() {
        assert_eq!(
            agent_version(r#"profile="https://p.example/x"; version="2099-01-01""#),
            Some("2099-01-01")
        );
        assert_eq!(agent_version(r#"profile="https://p.example/x""#), None);
        assert_eq!(
            agent_profile(r#"profile="https://p.example/x""#),
            Some("https://p.example/x")
        );
    }
}
