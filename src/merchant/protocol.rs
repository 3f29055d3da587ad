//! The seam between the orchestration and the wire: one way of talking to a
//! business is one [`MerchantProtocol`]. Each turns "this item, these
//! options, this quantity" into an [`Invoice`] the orchestration checks,
//! then pays it once with an authorisation limited to the checked total,
//! declines it, cancels a paid order, and sends a stored payment again when
//! its answer was lost.
//!
//! The policy (deadline, caps, ranking, the one counter-offer), the invoice
//! checks, the mandate guard, idempotent payment and the store are shared
//! and live outside this seam (`negotiate`, `order`, `store`): a protocol
//! only talks.

use super::messenger::wire::PaymentAuthorization;
use crate::error::MerchantError;
use crate::order::{Invoice, OrderRecord};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

/// What the shopper wants from this merchant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wanted {
    /// The merchant's product id.
    pub product_code: String,
    /// The merchant's id of the variant search chose (what a structured
    /// checkout puts in its line item); empty when unknown.
    #[serde(default)]
    pub variant_id: String,
    pub product_title: String,
    /// Canonical values ("gray", "M").
    pub color: Option<String>,
    pub size: Option<String>,
    pub quantity: u32,
    /// Canonical material ("wool"), if the shopper named one.
    #[serde(default)]
    pub material: Option<String>,
    /// Where to ship, given to merchants that ask; `None`: not configured.
    #[serde(default)]
    pub shipping_address: Option<String>,
    /// The colour and size as the merchant's catalog writes them ("Heather
    /// Grey", "M"), said in the first message.
    #[serde(default)]
    pub color_label: Option<String>,
    #[serde(default)]
    pub size_label: Option<String>,
    /// The merchant's currency (its catalog's): what "$" or "kr" in its
    /// messages means.
    #[serde(default)]
    pub currency: Option<String>,
    /// The shopper's request, whose words may answer a merchant's question
    /// about an option ("6 ft" of "usb-c cable, 6 ft" when asked which
    /// length).
    #[serde(default)]
    pub request: String,
    /// The title of the catalog variant search chose for this merchant (the
    /// cheapest in stock with everything asked): the answer to a question
    /// about an option the shopper left open, when the policy allows.
    #[serde(default)]
    pub variant_title: Option<String>,
}

/// A configured shipping address as one line of text. The address is
/// written either as text ("1 Main St, Springfield, IL 62701, US") or, for
/// businesses that need its parts (a UCP business prices shipping by
/// country), as a JSON object of schema.org postal-address fields
/// (`{"full_name": "Jane Doe", "street_address": "1 Main St",
/// "address_locality": "Springfield", "address_region": "IL",
/// "postal_code": "62701", "address_country": "US"}`); the parts are then
/// joined in that order.
pub fn address_text(address: &str) -> String {
    let Ok(serde_json::Value::Object(parts)) = serde_json::from_str(address.trim()) else {
        return address.trim().to_string();
    };
    ADDRESS_PARTS
        .iter()
        .filter_map(|name| parts.get(*name)?.as_str())
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The postal-address fields a JSON shipping address may have, in the
/// order its one-line text writes them.
pub const ADDRESS_PARTS: [&str; 10] = [
    "full_name",
    "first_name",
    "last_name",
    "street_address",
    "extended_address",
    "address_locality",
    "address_region",
    "postal_code",
    "address_country",
    "phone_number",
];

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Concierge,
    Merchant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    pub speaker: Speaker,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Talking,
    Invoiced,
    Paid,
    PaymentRefused,
    Declined,
    Failed,
}

/// How a payment attempt ended, as read from the merchant's replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentReply {
    Confirmed(String),
    /// The order is taken and the merchant collects payment itself (a
    /// payment link): not refused, not paid through Concierge.
    Pending(String),
    Refused(String),
}

/// A payment a reference merchant accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    pub order_number: String,
    pub amount: crate::money::Money,
    pub token: String,
    pub idempotency_key: String,
    /// Set when the order was cancelled after payment.
    pub refunded: bool,
}

/// Where and how to reach one merchant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MerchantEndpoint {
    pub merchant_id: String,
    pub name: String,
    /// The protocol the merchant speaks: a [`MerchantProtocol::name`]
    /// ("messenger", "ucp", "acp").
    pub protocol: String,
    /// Where the merchant is reached: its webhook (Messenger) or the base
    /// URL of its checkout API (UCP, ACP).
    pub url: String,
    /// The shared secret: what webhook events are signed with (Messenger),
    /// the API key sent as a bearer token (ACP).
    pub app_secret: String,
    /// The merchant's page id (a Messenger event's recipient).
    pub page_id: String,
    /// A merchant this process started itself (the demo world's): reached
    /// on loopback whatever the deployment allows. Never set for a
    /// registered merchant, so `serve --demo` lets no registered merchant
    /// onto loopback.
    pub served_here: bool,
    /// Its catalog is searched where it lives, at each request, through
    /// the protocol's catalog capability ([`MerchantProtocol::search_catalog`]),
    /// not read from a feed into the index.
    pub live_catalog: bool,
}

impl MerchantEndpoint {
    /// The host (and port) the merchant was verified at, shown beside its
    /// name: display names are chosen by merchants, the host is not.
    pub fn host(&self) -> String {
        let Ok(url) = url::Url::parse(&self.url) else {
            return String::new();
        };
        match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => String::new(),
        }
    }
}

/// What a conversation with one merchant is opened with.
#[derive(Debug, Clone)]
pub struct Opening {
    /// This conversation's id (Messenger's page-scoped id): the scope of
    /// its payment's idempotency key.
    pub conversation_id: String,
    /// What to ask for: one item, or a basket's items in order.
    pub items: Vec<Wanted>,
    /// Most messages Concierge sends in the conversation.
    pub max_turns: u32,
    /// Whether a choice the request left open goes to the shopper (else
    /// the merchant is dropped, or answered with the listed variant).
    pub ask_shopper: bool,
    /// Whether an option the request left open is answered with the catalog
    /// variant search chose (`OpenChoice::Listed`).
    pub pick_listed_variant: bool,
}

/// A question for the shopper: a merchant wants an option the request
/// left open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceQuestion {
    pub merchant_name: String,
    /// "size" or "colour".
    pub slot: String,
    pub options: Vec<String>,
}

/// Asks the shopper; `None` means no choice. Called off the async runtime,
/// so it may block on a terminal.
pub type ChooseOption = Arc<dyn Fn(&ChoiceQuestion) -> Option<String> + Send + Sync>;

/// Puts open choices to the shopper one at a time, and reuses an answer for
/// every merchant that asks the same thing.
pub struct ShopperChoices {
    choose: ChooseOption,
    answers: Mutex<HashMap<String, String>>,
    prompt: tokio::sync::Mutex<()>,
}

impl ShopperChoices {
    pub fn new(choose: ChooseOption) -> ShopperChoices {
        ShopperChoices {
            choose,
            answers: Mutex::new(HashMap::new()),
            prompt: tokio::sync::Mutex::new(()),
        }
    }

    fn known(&self, slot: &str) -> Option<String> {
        self.answers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(slot)
            .cloned()
    }

    /// The shopper's answer to `merchant_name`'s question about `slot`.
    pub async fn resolve(
        &self,
        merchant_name: &str,
        slot: &str,
        options: &[String],
    ) -> Option<String> {
        if let Some(answer) = self.known(slot) {
            return Some(answer);
        }
        let _turn = self.prompt.lock().await;
        if let Some(answer) = self.known(slot) {
            return Some(answer);
        }
        let question = ChoiceQuestion {
            merchant_name: merchant_name.to_string(),
            slot: slot.to_string(),
            options: options.to_vec(),
        };
        let choose = self.choose.clone();
        let answer = tokio::task::spawn_blocking(move || choose(&question))
            .await
            .ok()
            .flatten();
        if let Some(answer) = &answer {
            self.answers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(slot.to_string(), answer.clone());
        }
        answer
    }
}

/// A merchant's answer to a cancellation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum CancelReply {
    Cancelled(String),
    Refused(String),
}

/// One conversation with one merchant, from the first message to the
/// decision on its invoice, in whatever protocol the merchant speaks.
#[async_trait]
pub trait Negotiation: Send {
    /// Talks to the merchant until there is an invoice to check or a reason
    /// there is none, never past `deadline`. A question only the shopper
    /// can answer goes to `shopper` when there is one.
    async fn negotiate(&mut self, deadline: Instant, shopper: Option<Arc<ShopperChoices>>);

    /// Where the conversation stands.
    fn state(&self) -> SessionState;
    /// The merchant's invoice, once it made one (unchecked).
    fn invoice(&self) -> Option<&Invoice>;
    /// Why there is no invoice.
    fn failure(&self) -> Option<&str>;
    /// The lowest unit price the merchant quoted along the way, if any.
    fn quoted_unit_price(&self) -> Option<i64> {
        None
    }
    /// Whether the merchant offered a way to agree to its invoice.
    fn can_agree(&self) -> bool;
    /// Why there is no way to agree to the invoice, when the protocol can
    /// say better than "no way to agree" (a business that takes no payment
    /// Concierge can make).
    fn no_agreement_reason(&self) -> Option<String> {
        None
    }

    /// Asks once for a lower total (the policy's counter-offer), in
    /// `text`; true when the merchant answered with an invoice, which the
    /// orchestration checks again. A protocol with no way to ask says
    /// false.
    async fn counter_offer(&mut self, _text: &str) -> bool {
        false
    }

    /// The payment for the checked invoice under `authorization`, as it
    /// will be sent: kept in the store before it leaves, so reconciliation
    /// sends exactly the same again. `None` when there is no way to pay.
    fn payment(&mut self, authorization: PaymentAuthorization) -> Option<String>;
    /// Sends `payment` (from [`Negotiation::payment`]) and reads the
    /// answer. An error means no answer: the payment may or may not have
    /// been taken.
    async fn pay(&mut self, payment: &str) -> Result<PaymentReply, MerchantError>;
    /// Tells the merchant its invoice was not taken, and why.
    async fn decline(&mut self, reason: &str);

    /// What was said, in order, for the report and the store.
    fn transcript(&self) -> &[TranscriptLine];
    /// Ends the conversation: nothing the merchant says later is read as a
    /// reply.
    fn close(&mut self);
}

/// One way of talking to businesses.
#[async_trait]
pub trait MerchantProtocol: Send + Sync {
    /// The name merchants are registered under ("messenger", "ucp", "acp").
    fn name(&self) -> &'static str;
    /// Opens a conversation with `endpoint` (nothing is sent yet).
    fn open(&self, endpoint: &MerchantEndpoint, opening: Opening) -> Box<dyn Negotiation>;
    /// Sends a payment kept in the store again, unchanged, in its
    /// conversation: the merchant answers with what became of it.
    /// `amount_minor` is the total it authorised.
    async fn repay(
        &self,
        endpoint: &MerchantEndpoint,
        conversation_id: &str,
        payment: &str,
        amount_minor: i64,
    ) -> Result<PaymentReply, MerchantError>;
    /// Asks the merchant to cancel a paid order.
    async fn cancel(
        &self,
        endpoint: &MerchantEndpoint,
        order: &OrderRecord,
    ) -> Result<CancelReply, MerchantError>;
    /// What the merchant says about a placed order now (shipped, with its
    /// tracking; delivered), in short words. `None` when the protocol has
    /// no way to ask, or the merchant has said nothing yet.
    async fn order_status(
        &self,
        _endpoint: &MerchantEndpoint,
        _order: &OrderRecord,
    ) -> Result<Option<String>, MerchantError> {
        Ok(None)
    }
    /// Searches the merchant's own catalog for `query`: its products, as
    /// a feed would list them, best first. Checkout stays authoritative:
    /// what is found is asked about and checked like any offer. A protocol
    /// without a catalog capability says so.
    async fn search_catalog(
        &self,
        endpoint: &MerchantEndpoint,
        _query: &CatalogQuery,
    ) -> Result<Vec<crate::catalog::feed::FeedProduct>, MerchantError> {
        Err(MerchantError::Protocol {
            merchant: endpoint.merchant_id.clone(),
            message: format!("{} has no catalog search", self.name()),
        })
    }
}

/// What a merchant's own catalog is asked at a request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogQuery {
    /// The product the shopper named, with its brand ("acme kettle").
    pub text: String,
    /// The shopper's whole request, as background for the merchant's
    /// ranking.
    pub request: String,
    /// Price bounds in minor units of `currency`.
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    pub currency: Option<String>,
    /// Most products wanted.
    pub limit: usize,
}

/// The protocols this process speaks, by name.
#[derive(Clone, Default)]
pub struct Protocols {
    by_name: Vec<Arc<dyn MerchantProtocol>>,
}

impl Protocols {
    pub fn new(protocols: Vec<Arc<dyn MerchantProtocol>>) -> Protocols {
        Protocols { by_name: protocols }
    }

    /// The protocol `endpoint` speaks, if this process speaks it.
    pub fn for_endpoint(
        &self,
        endpoint: &MerchantEndpoint,
    ) -> Result<&Arc<dyn MerchantProtocol>, MerchantError> {
        self.get(&endpoint.protocol)
            .ok_or_else(|| MerchantError::Protocol {
                merchant: endpoint.merchant_id.clone(),
                message: format!(
                    "speaks {:?}, which this process does not",
                    endpoint.protocol
                ),
            })
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn MerchantProtocol>> {
        self.by_name.iter().find(|p| p.name() == name)
    }
}

/// A conversation that could not start (its merchant speaks a protocol
/// this process does not): failed, with the reason.
pub fn unspoken(reason: String) -> Box<dyn Negotiation> {
    Box::new(Unspoken {
        reason,
        transcript: Vec::new(),
    })
}

struct Unspoken {
    reason: String,
    transcript: Vec<TranscriptLine>,
}

#[async_trait]
impl Negotiation for Unspoken {
    async fn negotiate(&mut self, _deadline: Instant, _shopper: Option<Arc<ShopperChoices>>) {}

    fn state(&self) -> SessionState {
        SessionState::Failed
    }

    fn invoice(&self) -> Option<&Invoice> {
        None
    }

    fn failure(&self) -> Option<&str> {
        Some(&self.reason)
    }

    fn can_agree(&self) -> bool {
        false
    }

    fn payment(&mut self, _authorization: PaymentAuthorization) -> Option<String> {
        None
    }

    async fn pay(&mut self, _payment: &str) -> Result<PaymentReply, MerchantError> {
        Err(MerchantError::Protocol {
            merchant: String::new(),
            message: self.reason.clone(),
        })
    }

    async fn decline(&mut self, _reason: &str) {}

    fn transcript(&self) -> &[TranscriptLine] {
        &self.transcript
    }

    fn close(&mut self) {}
}

/// A merchant Concierge ships for businesses without a system of their
/// own: one catalog served over one protocol.
pub trait ReferenceMerchant: Send + Sync + 'static {
    /// The routes it serves.
    fn router(self: Arc<Self>) -> axum::Router;
    /// How Concierge reaches it when it is served at `base`
    /// ("http://127.0.0.1:8081").
    fn endpoint(&self, base: &str) -> MerchantEndpoint;
    /// Every payment it accepted.
    fn charges(&self) -> Vec<Charge>;
    /// What a business needs to register it when served at `base`, as
    /// labelled lines.
    fn details(&self, base: &str) -> Vec<(&'static str, String)> {
        vec![("endpoint", self.endpoint(base).url)]
    }
    /// Itself, for callers that need the protocol's own type (tests that
    /// drive a Messenger responder by hand).
    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync>;
}

/// The ids a reference merchant was registered under at a Concierge,
/// besides its own: payment authorisations name that id, so the merchant
/// accepts it once registration told it. At most
/// [`RegisteredIds::MAX`] ids of at most 64 characters are kept.
#[derive(Debug, Default)]
pub struct RegisteredIds(Mutex<Vec<String>>);

impl RegisteredIds {
    pub const MAX: usize = 16;

    /// Takes `id` beside the merchant's `own`; true when it is new.
    pub fn adopt(&self, own: &str, id: &str) -> bool {
        let id = id.trim();
        if id.is_empty() || id.len() > 64 || id == own {
            return false;
        }
        let mut ids = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if ids.iter().any(|known| known == id) || ids.len() >= Self::MAX {
            return false;
        }
        ids.push(id.to_string());
        true
    }

    /// Whether `id` names the merchant whose own id is `own`.
    pub fn names(&self, own: &str, id: &str) -> bool {
        id == own
            || self
                .0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .any(|known| known == id)
    }
}

/// What a protocol's buyer side is built from.
#[derive(Clone)]
pub struct BuyerParts {
    /// The Messenger transport (its Send API mailboxes are shared with a
    /// server).
    pub transport: super::messenger::Transport,
    pub rules: Arc<crate::rules::CompiledRules>,
    /// The HTTP client every merchant is reached with: bounded waits, no
    /// redirects, only the addresses the network policy allows.
    pub client: reqwest::Client,
    /// The network policy, for literal addresses the resolver never sees.
    pub policy: super::network::NetworkPolicy,
    /// Longest wait for one answer.
    pub timeout: std::time::Duration,
    /// Largest answer read.
    pub max_reply_bytes: usize,
}

/// What registration learnt of a merchant's endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Verified {
    /// It searches its own catalog for a buyer (UCP's
    /// `dev.ucp.shopping.catalog.search`): it may be registered without a
    /// feed.
    pub catalog_search: bool,
}

/// One protocol Concierge speaks, on both sides.
pub struct ProtocolEntry {
    /// The name merchants are registered and configured under.
    pub name: &'static str,
    /// Concierge as the buyer.
    pub buyer: fn(&BuyerParts) -> Arc<dyn MerchantProtocol>,
    /// Registration's check that the endpoint speaks this protocol (and
    /// is the merchant's), with what it offers; the reason when it does
    /// not.
    pub verify: for<'a> fn(
        &'a crate::merchant::registry::Verification<'a>,
    ) -> futures::future::BoxFuture<'a, Result<Verified, String>>,
    /// The reference merchant for `catalog`, sharing `secret` with
    /// Concierge (Messenger's app secret, ACP's API key).
    pub reference:
        fn(catalog: crate::catalog::MerchantCatalog, secret: &str) -> Arc<dyn ReferenceMerchant>,
}
