//! The Messenger Platform wire format, as merchants' auto-responders already
//! speak it: webhook events (Concierge → merchant) and Send API message
//! objects (merchant → Concierge). These types mirror the JSON exactly and
//! carry no business logic; [`crate::negotiate`] reads them.
//!
//! Two documented extensions of our own:
//! - **Synchronous replies**: the merchant may answer a webhook POST with
//!   `{"messages": [<Send API request>, ...]}` in the HTTP response body
//!   instead of calling the Send API later.
//! - **Payment on the Pay postback**: `postback.payment` carries a one-time
//!   payment authorisation shaped like the Agentic Commerce Protocol's
//!   delegated payment allowance, limited to one invoice's total, merchant
//!   and order.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Id {
    pub id: String,
}

/// `POST <endpoint>` body: `{"object": "page", "entry": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub object: String,
    pub entry: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub id: String,
    pub time: i64,
    pub messaging: Vec<Messaging>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Messaging {
    pub sender: Id,
    pub recipient: Id,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<IncomingMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postback: Option<Postback>,
}

/// A message the shopper's side sends (text, possibly a quick-reply tap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncomingMessage {
    pub mid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_reply: Option<QuickReplyTap>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickReplyTap {
    pub payload: String,
}

/// A button tap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Postback {
    #[serde(default)]
    pub mid: String,
    pub title: String,
    pub payload: String,
    /// Extension: the payment authorisation sent with a Pay tap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentAuthorization>,
}

/// Extension: a one-time payment credential, usable once, at one merchant,
/// for one order, up to `allowance.max_amount` minor units, before expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentAuthorization {
    /// Opaque credential id the merchant charges against.
    pub token: String,
    /// The same key on a retried Pay; the merchant must not charge twice.
    pub idempotency_key: String,
    pub allowance: Allowance,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    /// Always "one_time".
    pub reason: String,
    /// Integer minor units (cents).
    pub max_amount: i64,
    pub currency: String,
    /// The invoice's order number.
    pub checkout_session_id: String,
    pub merchant_id: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Send API request body: `POST /v{N}/me/messages`, and each entry of a
/// synchronous reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendRequest {
    pub recipient: Id,
    #[serde(default = "default_messaging_type")]
    pub messaging_type: String,
    pub message: OutgoingMessage,
}

fn default_messaging_type() -> String {
    "RESPONSE".into()
}

/// The synchronous reply extension: the webhook response body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReply {
    #[serde(default)]
    pub messages: Vec<SendRequest>,
}

/// A Send API message object: text with optional quick replies, or an
/// attachment (templates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_replies: Option<Vec<QuickReply>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuickReply {
    #[serde(default = "default_content_type")]
    pub content_type: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub payload: String,
}

fn default_content_type() -> String {
    "text".into()
}

/// `message.attachment`. The payload stays raw JSON so that attachment kinds
/// Concierge does not understand (images, files) pass through harmlessly;
/// [`Attachment::template`] reads the templates it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    #[serde(rename = "type")]
    pub kind: String,
    pub payload: serde_json::Value,
}

impl Attachment {
    pub fn template(template: &Template) -> Attachment {
        Attachment {
            kind: "template".into(),
            payload: serde_json::to_value(template).unwrap_or(serde_json::Value::Null),
        }
    }

    /// The template in this attachment, or `None` for other kinds or
    /// malformed payloads.
    pub fn as_template(&self) -> Option<Template> {
        if self.kind != "template" {
            return None;
        }
        serde_json::from_value(self.payload.clone()).ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "template_type", rename_all = "snake_case")]
pub enum Template {
    Button { text: String, buttons: Vec<Button> },
    Generic { elements: Vec<GenericElement> },
    Receipt(ReceiptTemplate),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Button {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Button {
    pub fn postback(title: &str, payload: &str) -> Button {
        Button {
            kind: "postback".into(),
            title: title.into(),
            payload: Some(payload.into()),
            url: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenericElement {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

/// The receipt template: Messenger's invoice. Amounts are decimal numbers on
/// the wire (as Messenger defines them); Concierge converts them to minor
/// units exactly or rejects the invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptTemplate {
    #[serde(default)]
    pub recipient_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_name: Option<String>,
    pub order_number: String,
    pub currency: String,
    #[serde(default)]
    pub payment_method: String,
    #[serde(default)]
    pub elements: Vec<ReceiptElement>,
    pub summary: ReceiptSummary,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adjustments: Vec<Adjustment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptElement {
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    /// Unit price (our reading of Messenger's `price`).
    pub price: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtotal: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_cost: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_tax: Option<f64>,
    pub total_cost: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjustment {
    pub name: String,
    pub amount: f64,
}

impl WebhookEvent {
    /// One messaging event from `sender` to `page_id`.
    pub fn single(
        page_id: &str,
        sender: &str,
        timestamp_ms: i64,
        message: Option<IncomingMessage>,
        postback: Option<Postback>,
    ) -> WebhookEvent {
        WebhookEvent {
            object: "page".into(),
            entry: vec![Entry {
                id: page_id.into(),
                time: timestamp_ms,
                messaging: vec![Messaging {
                    sender: Id { id: sender.into() },
                    recipient: Id { id: page_id.into() },
                    timestamp: timestamp_ms,
                    message,
                    postback,
                }],
            }],
        }
    }
}

/// Milliseconds since the Unix epoch, for event timestamps.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
