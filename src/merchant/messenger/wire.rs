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
//!   and order. When the merchant asked for a yes in words, the message
//!   carries it as `message.payment`.

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
    /// Extension: the payment authorisation sent with a "yes" in words (a
    /// merchant that asked "Reply YES to confirm").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentAuthorization>,
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

/// One call to the Send API: a message, or a sender action (`typing_on`,
/// `typing_off`, `mark_seen`), which carries no message.
#[derive(Debug, Clone, PartialEq)]
pub enum SendApiCall {
    Message(SendRequest),
    SenderAction { recipient: Id, action: String },
}

impl SendApiCall {
    /// Reads a Send API body: a sender action when it has `sender_action`,
    /// else a message. The error says what is wrong, for the merchant.
    pub fn from_json(value: serde_json::Value) -> Result<SendApiCall, String> {
        if let Some(action) = value.get("sender_action") {
            let action = action
                .as_str()
                .ok_or("sender_action must be a string")?
                .to_string();
            let recipient: Id = value
                .get("recipient")
                .cloned()
                .ok_or("recipient is missing")
                .and_then(|r| {
                    serde_json::from_value(r).map_err(|_| "recipient must be {\"id\": ...}")
                })?;
            return Ok(SendApiCall::SenderAction { recipient, action });
        }
        serde_json::from_value(value)
            .map(SendApiCall::Message)
            .map_err(|e| e.to_string())
    }

    /// The conversation (PSID) the call is for.
    pub fn recipient(&self) -> &str {
        match self {
            SendApiCall::Message(request) => &request.recipient.id,
            SendApiCall::SenderAction { recipient, .. } => &recipient.id,
        }
    }
}

/// What the User Profile API (`GET /v{N}/{psid}`) answers. Concierge never
/// hands a merchant the shopper's identity: every conversation gets the
/// same neutral name, which bots use to greet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    pub id: String,
    pub first_name: String,
    pub last_name: String,
    pub name: String,
    pub profile_pic: String,
    pub locale: String,
    pub timezone: i32,
}

impl UserProfile {
    /// The profile of conversation `psid`.
    pub fn for_shopper(psid: &str) -> UserProfile {
        UserProfile {
            id: psid.to_string(),
            first_name: "Concierge".into(),
            last_name: "Shopper".into(),
            name: "Concierge Shopper".into(),
            profile_pic: String::new(),
            locale: "en_US".into(),
            timezone: 0,
        }
    }

    /// The profile as JSON, limited to `fields` when any are named (as the
    /// Graph API does); `id` is always there.
    pub fn with_fields(&self, fields: &[&str]) -> serde_json::Value {
        let all = serde_json::to_value(self).unwrap_or_default();
        if fields.iter().all(|f| f.is_empty()) {
            return all;
        }
        let mut picked = serde_json::Map::new();
        if let serde_json::Value::Object(map) = all {
            for (key, value) in map {
                if key == "id" || fields.contains(&key.as_str()) {
                    picked.insert(key, value);
                }
            }
        }
        serde_json::Value::Object(picked)
    }
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
