//! Registering a merchant: its feed is read (ACP JSON Lines or Google
//! Merchant Center CSV/TSV) and checked, its endpoint is checked against the
//! network policy and verified with Messenger's `hub.challenge` handshake,
//! its catalog is loaded into the catalog of record in one commit, and it is
//! issued the page access token it uses for the Send API.
//!
//! The handshake also tells the merchant the id it is registered under
//! (`concierge_merchant_id`, beside the `hub.*` parameters): Messenger bots
//! ignore it; the reference responder adopts it, so the payment
//! authorisations Concierge sends it name a merchant it knows.

use crate::catalog::feed::FeedFormat;
use crate::catalog::record::{validate_merchant_id, ParsedFeed};
use crate::catalog::{CatalogRecord, LoadSummary};
use crate::merchant::messenger::signature::random_token;
use crate::merchant::protocol::ProtocolEntry;
use crate::negotiate::{MerchantEndpoint, Transport};
use crate::order::{MerchantRecord, Store};
use crate::rules::CompiledRules;
use crate::store::MerchantInsert;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The handshake parameter that tells a merchant its registered id.
pub const MERCHANT_ID_PARAMETER: &str = "concierge_merchant_id";

/// What a merchant sends to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub name: String,
    /// The webhook URL (Messenger), or the base URL of the merchant's
    /// checkout API (UCP, ACP).
    pub endpoint: String,
    /// The protocol the merchant speaks (`messenger`, `ucp`, `acp`). When
    /// absent: Messenger if a verify token is given, else UCP, found by
    /// its profile at `/.well-known/ucp`.
    #[serde(default)]
    pub protocol: Option<String>,
    /// The token the merchant expects in `hub.verify_token` (Messenger).
    #[serde(default)]
    pub verify_token: String,
    /// The secret events are signed with (Messenger); generated when absent.
    #[serde(default)]
    pub app_secret: Option<String>,
    /// The API key Concierge sends as a bearer token (ACP).
    #[serde(default)]
    pub api_key: Option<String>,
    /// The catalog feed's text. Empty for a business that searches its own
    /// catalog (UCP's `dev.ucp.shopping.catalog.search`): it is then asked
    /// at each request instead.
    #[serde(default)]
    pub feed: String,
    /// `jsonl`, `csv` or `tsv`; sniffed from the text when absent.
    #[serde(default)]
    pub feed_format: Option<String>,
    /// The id to register under; made from the name when absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The page access token the merchant's bot already sends to the Send
    /// API (so an existing bot needs no new setting); issued when absent.
    #[serde(default)]
    pub page_access_token: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("{0}")]
    Invalid(String),
    #[error("endpoint refused: {0}")]
    EndpointRefused(String),
    #[error("endpoint verification failed: {0}")]
    VerificationFailed(String),
    #[error("feed rejected: {0}")]
    BadFeed(String),
    #[error("merchant id {0:?} is already registered")]
    Taken(String),
    #[error("another merchant is already registered as {0:?}; choose another name")]
    NameTaken(String),
    #[error(transparent)]
    Store(#[from] crate::error::OrderError),
    #[error("cannot load the catalog: {0}")]
    Catalog(crate::error::CatalogError),
}

impl RegistrationError {
    /// A stable snake_case code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::Invalid(_) => "invalid_request",
            RegistrationError::EndpointRefused(_) => "endpoint_refused",
            RegistrationError::VerificationFailed(_) => "verification_failed",
            RegistrationError::BadFeed(_) => "invalid_feed",
            RegistrationError::Taken(_) => "merchant_exists",
            RegistrationError::NameTaken(_) => "merchant_name_taken",
            RegistrationError::Store(_) | RegistrationError::Catalog(_) => "internal_error",
        }
    }
}

impl From<crate::error::CatalogError> for RegistrationError {
    fn from(error: crate::error::CatalogError) -> Self {
        match error {
            crate::error::CatalogError::FeedRefused { .. }
            | crate::error::CatalogError::BadRow { .. } => {
                RegistrationError::BadFeed(error.to_string())
            }
            other => RegistrationError::Catalog(other),
        }
    }
}

impl MerchantRecord {
    pub fn endpoint(&self) -> MerchantEndpoint {
        MerchantEndpoint {
            merchant_id: self.id.clone(),
            name: self.name.clone(),
            protocol: self.protocol.clone(),
            url: self.endpoint.clone(),
            app_secret: self.app_secret.clone(),
            page_id: self.page_id.clone(),
            served_here: false,
            live_catalog: self.live_catalog,
        }
    }
}

/// A feed format named in a request: `jsonl` (or `ndjson`, `json`), `csv`
/// or `tsv`.
pub fn feed_format_named(name: &str) -> Option<FeedFormat> {
    FeedFormat::by_extension(std::path::Path::new(&format!("feed.{}", name.trim())))
}

impl Registration {
    /// The protocol this registration is for: the one named, else
    /// Messenger when a verify token is given, else UCP (its profile is
    /// discovered at `/.well-known/ucp`).
    pub fn protocol_entry(&self) -> Result<&'static ProtocolEntry, RegistrationError> {
        let name = match self.protocol.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => name.to_lowercase(),
            _ if !self.verify_token.trim().is_empty() => "messenger".into(),
            _ => "ucp".into(),
        };
        crate::merchant::protocol_named(&name).ok_or_else(|| {
            RegistrationError::Invalid(format!(
                "protocol {name:?} is not one of {}",
                crate::merchant::protocol_names()
            ))
        })
    }
}

/// What a protocol's registration check is given: the endpoint (already
/// allowed by the network policy), the registration, and the id the
/// merchant is being registered under.
pub struct Verification<'a> {
    pub client: &'a reqwest::Client,
    pub url: reqwest::Url,
    pub registration: &'a Registration,
    pub merchant_id: &'a str,
}

/// What a registration did.
#[derive(Debug, Clone)]
pub struct Registered {
    pub merchant: MerchantRecord,
    pub load: LoadSummary,
    /// Rows of the feed that were rejected, as `file:line: problem`.
    pub rejected: Vec<String>,
}

/// Registers a merchant: checks its feed and endpoint, verifies the
/// endpoint, reserves its id, loads its catalog into the catalog of record
/// (one commit, serialised with every other change), and stores it. Any
/// failure after the id is reserved leaves neither the merchant nor its
/// catalog behind. Blocks on the catalog's write lock; call it where
/// blocking is allowed.
pub async fn register(
    store: &Store,
    transport: &Transport,
    record: &CatalogRecord,
    rules: &Arc<CompiledRules>,
    registration: &Registration,
) -> Result<Registered, RegistrationError> {
    let name = registration.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(RegistrationError::Invalid(
            "the name must be 1 to 100 characters".into(),
        ));
    }
    let protocol = registration.protocol_entry()?;
    if let Some(id) = &registration.id {
        validate_merchant_id(id).map_err(|e| RegistrationError::Invalid(e.to_string()))?;
    }
    if let Some(token) = &registration.page_access_token {
        let token = token.trim();
        if token.len() < 8 || token.len() > 512 || token.chars().any(char::is_whitespace) {
            return Err(RegistrationError::Invalid(
                "a page access token must be 8 to 512 characters without spaces".into(),
            ));
        }
        if store.merchant_by_token(token)?.is_some() {
            return Err(RegistrationError::Invalid(
                "that page access token is already another merchant's".into(),
            ));
        }
    }
    let format = match registration.feed_format.as_deref() {
        None => None,
        Some(name) => Some(feed_format_named(name).ok_or_else(|| {
            RegistrationError::Invalid(format!(
                "feed_format {name:?} is not one of jsonl, csv, tsv"
            ))
        })?),
    };
    let url = transport
        .policy()
        .check_url(&registration.endpoint)
        .map_err(RegistrationError::EndpointRefused)?;

    // No feed: the business's own catalog search stands in for it, if
    // verification finds one.
    let feed = if registration.feed.trim().is_empty() {
        None
    } else {
        let feed = ParsedFeed::from_text("feed", &registration.feed, format);
        let id_for_errors = registration.id.clone().unwrap_or_else(|| slug(name));
        feed.check_usable(&id_for_errors)?;
        Some(feed)
    };

    // Reserve the id first: two registrations at once never share one.
    let merchant = reserve(store, name, protocol.name, registration, feed.is_none())?;
    let rejected: Vec<String> = feed
        .iter()
        .flat_map(|feed| feed.read.rejected.iter().map(|e| e.to_string()))
        .collect();
    let outcome = async {
        let verification = Verification {
            client: transport.client(),
            url,
            registration,
            merchant_id: &merchant.id,
        };
        let verified = (protocol.verify)(&verification)
            .await
            .map_err(RegistrationError::VerificationFailed)?;
        match feed {
            Some(feed) => load_off_runtime(record, rules, &merchant.id, feed).await,
            None if verified.catalog_search => Ok(LoadSummary::default()),
            None => Err(RegistrationError::BadFeed(format!(
                "no feed was given, and {} does not search its own catalog (a UCP business declaring {}): give its feed",
                registration.endpoint.trim(),
                crate::merchant::ucp::CATALOG_SEARCH
            ))),
        }
    }
    .await;
    match outcome {
        Ok(load) => Ok(Registered {
            merchant,
            load,
            rejected,
        }),
        Err(error) => {
            let _ = store.remove_merchant(&merchant.id);
            Err(error)
        }
    }
}

/// Loads `feed` as merchant `merchant_id`'s catalog on a blocking thread:
/// the load waits for the catalog's write lock and indexes.
pub async fn load_off_runtime(
    record: &CatalogRecord,
    rules: &Arc<CompiledRules>,
    merchant_id: &str,
    feed: ParsedFeed,
) -> Result<LoadSummary, RegistrationError> {
    let record = record.clone();
    let rules = rules.clone();
    let merchant_id = merchant_id.to_string();
    tokio::task::spawn_blocking(move || {
        record.load_merchant(&rules, &merchant_id, &feed, &mut |_| {})
    })
    .await
    .map_err(|error| {
        RegistrationError::Catalog(crate::error::CatalogError::Invalid(error.to_string()))
    })?
    .map_err(RegistrationError::from)
}

/// Stores the merchant under its requested id, or the first free id made
/// from its name ("harbor-pine", "harbor-pine-2", ...).
fn reserve(
    store: &Store,
    name: &str,
    protocol: &str,
    registration: &Registration,
    live_catalog: bool,
) -> Result<MerchantRecord, RegistrationError> {
    let base = slug(name);
    for attempt in 1..=100 {
        let id = match (&registration.id, attempt) {
            (Some(id), _) => id.clone(),
            (None, 1) => base.clone(),
            (None, n) => format!("{base}-{n}"),
        };
        let merchant = MerchantRecord {
            page_id: format!("page-{id}"),
            id: id.clone(),
            name: name.to_string(),
            protocol: protocol.to_string(),
            endpoint: registration.endpoint.trim().to_string(),
            verify_token: registration.verify_token.clone(),
            app_secret: registration
                .api_key
                .clone()
                .or_else(|| registration.app_secret.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| random_token(16)),
            page_access_token: registration
                .page_access_token
                .as_deref()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| format!("EAA{}", random_token(24))),
            feed_path: if live_catalog {
                String::new()
            } else {
                format!("merchants/{id}.jsonl")
            },
            created_at: crate::order::mandate::now_secs(),
            live_catalog,
        };
        match store.insert_merchant_if_new(&merchant)? {
            MerchantInsert::Stored => return Ok(merchant),
            MerchantInsert::NameTaken => {
                return Err(RegistrationError::NameTaken(name.to_string()))
            }
            MerchantInsert::IdTaken if registration.id.is_some() => {
                return Err(RegistrationError::Taken(id))
            }
            MerchantInsert::IdTaken => {}
        }
    }
    Err(RegistrationError::Taken(base))
}

/// "Harbor & Pine Outfitters" → "harbor-pine-outfitters" (at most four
/// words; "merchant" when nothing is left).
pub fn slug(name: &str) -> String {
    let slug = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .take(4)
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        "merchant".into()
    } else {
        slug
    }
}
