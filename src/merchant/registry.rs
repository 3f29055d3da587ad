//! Registering a merchant: its endpoint is checked against the network
//! policy, verified with Messenger's `hub.challenge` handshake, its feed is
//! validated and kept, and it is issued the page access token it uses for
//! the Send API.

use crate::catalog::feed::parse_jsonl;
use crate::merchant::signature::random_token;
use crate::negotiate::{MerchantEndpoint, Transport};
use crate::order::{MerchantRecord, Store};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Largest verification answer read.
const MAX_CHALLENGE_REPLY_BYTES: usize = 1024;

/// What a merchant sends to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub name: String,
    /// The webhook URL.
    pub endpoint: String,
    /// The token the merchant expects in `hub.verify_token`.
    pub verify_token: String,
    /// The secret events are signed with; generated when absent.
    #[serde(default)]
    pub app_secret: Option<String>,
    /// The catalog feed, ACP JSON Lines.
    pub feed: String,
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
    #[error(transparent)]
    Store(#[from] crate::error::OrderError),
    #[error("cannot keep the feed: {0}")]
    Io(String),
}

impl RegistrationError {
    /// A stable snake_case code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            RegistrationError::Invalid(_) => "invalid_request",
            RegistrationError::EndpointRefused(_) => "endpoint_refused",
            RegistrationError::VerificationFailed(_) => "verification_failed",
            RegistrationError::BadFeed(_) => "invalid_feed",
            RegistrationError::Store(_) | RegistrationError::Io(_) => "internal_error",
        }
    }
}

impl MerchantRecord {
    pub fn endpoint(&self) -> MerchantEndpoint {
        MerchantEndpoint {
            merchant_id: self.id.clone(),
            name: self.name.clone(),
            webhook_url: self.endpoint.clone(),
            app_secret: self.app_secret.clone(),
            page_id: self.page_id.clone(),
        }
    }
}

/// Registers a merchant: checks, verifies, keeps the feed under
/// `registered_feeds_dir`, and stores it.
pub async fn register(
    store: &Store,
    transport: &Transport,
    registered_feeds_dir: &Path,
    registration: &Registration,
) -> Result<MerchantRecord, RegistrationError> {
    let name = registration.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(RegistrationError::Invalid(
            "the name must be 1 to 100 characters".into(),
        ));
    }
    if registration.verify_token.trim().is_empty() {
        return Err(RegistrationError::Invalid(
            "a verify token is required".into(),
        ));
    }
    let mut url = transport
        .policy()
        .check_url(&registration.endpoint)
        .map_err(RegistrationError::EndpointRefused)?;

    let read = parse_jsonl("feed", &registration.feed);
    if read.products.is_empty() {
        let first = read
            .rejected
            .first()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "the feed has no products".into());
        return Err(RegistrationError::BadFeed(first));
    }

    // Messenger's verification handshake, through the guarded client.
    let challenge = random_token(12);
    url.query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.verify_token", &registration.verify_token)
        .append_pair("hub.challenge", &challenge);
    let response = transport
        .client()
        .get(url)
        .send()
        .await
        .map_err(|e| RegistrationError::VerificationFailed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(RegistrationError::VerificationFailed(format!(
            "the endpoint answered HTTP {}",
            response.status()
        )));
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| RegistrationError::VerificationFailed(e.to_string()))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_CHALLENGE_REPLY_BYTES {
            return Err(RegistrationError::VerificationFailed(
                "the answer is too long".into(),
            ));
        }
    }
    if String::from_utf8_lossy(&body).trim() != challenge {
        return Err(RegistrationError::VerificationFailed(
            "the endpoint did not echo hub.challenge".into(),
        ));
    }

    let slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .take(4)
        .collect::<Vec<_>>()
        .join("-");
    let id = format!(
        "{}-{}",
        if slug.is_empty() { "merchant" } else { &slug },
        random_token(3)
    );
    std::fs::create_dir_all(registered_feeds_dir)
        .map_err(|e| RegistrationError::Io(e.to_string()))?;
    let feed_path = registered_feeds_dir.join(format!("{id}.jsonl"));
    std::fs::write(&feed_path, crate::catalog::feed::to_jsonl(&read.products))
        .map_err(|e| RegistrationError::Io(e.to_string()))?;
    let record = MerchantRecord {
        page_id: format!("page-{id}"),
        id,
        name: name.to_string(),
        endpoint: registration.endpoint.trim().to_string(),
        verify_token: registration.verify_token.clone(),
        app_secret: registration
            .app_secret
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| random_token(16)),
        page_access_token: format!("EAA{}", random_token(24)),
        feed_path: feed_path.display().to_string(),
        created_at: crate::order::mandate::now_secs(),
    };
    store.insert_merchant(&record)?;
    Ok(record)
}
