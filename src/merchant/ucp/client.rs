//! Bounded HTTP exchanges with a UCP business: every URL is checked against
//! the network policy before it is used (names again at connection time,
//! by the guarded client's resolver), every wait is bounded by the request
//! timeout and the caller's deadline, every answer by a size limit, and
//! redirects are answers, never followed.

use super::wire::{from_json, Checkout, ErrorResponse, Order, UcpProfile, UCP_VERSION};
use crate::error::MerchantError;
use crate::merchant::network::NetworkPolicy;
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::time::Duration;
use tokio::time::Instant;

/// Largest answer read from a business.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// The profile Concierge names in `UCP-Agent` when none is configured: a
/// reserved name that never resolves, since Concierge publishes no profile.
pub const DEFAULT_AGENT_PROFILE: &str = "https://concierge.invalid/profiles/shopping-agent.json";
/// What Concierge sends as `Request-Signature`. The 2026-01-11 REST
/// binding requires the header on every checkout operation (its OpenAPI)
/// but defines a signature's format only for webhooks (a detached JWT
/// under a key from the signer's profile); Concierge publishes no profile
/// and holds no signing key, so it says so instead of sending something
/// that looks like a signature. A business that verifies signatures
/// refuses the request in its own words; one that only requires the
/// header goes on. 2026-04-08 replaced the header by optional RFC 9421
/// signatures, and its businesses ignore it.
pub const UNSIGNED: &str = "unsigned";
/// Default of [`UcpSettings::max_catalog_bytes`].
pub const MAX_CATALOG_BYTES: usize = 4 * 1024 * 1024;
/// Longest wait for a discovery profile fetched by [`discover`].
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// How Concierge talks to UCP businesses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UcpSettings {
    /// Where merchant endpoints may be.
    pub policy: NetworkPolicy,
    /// Longest wait for one HTTP exchange.
    pub request_timeout: Duration,
    /// Largest answer read (default 64 KiB).
    pub max_reply_bytes: usize,
    /// Largest catalog search answer read (default 4 MiB): twenty products
    /// of a clothing shop, each with its sizes and colours and a
    /// paragraph of description, are a few hundred KiB.
    pub max_catalog_bytes: usize,
    /// The platform profile named in `UCP-Agent`.
    pub agent_profile: String,
    /// Whether a business that takes no allowance but declares the UCP
    /// sandbox handler (`dev.ucp.mock_payment`) is paid with that handler's
    /// test token. Default off; `CONCIERGE_UCP_SANDBOX_PAYMENTS=1` turns it
    /// on (read once per process). See the module docs of [`super`].
    pub sandbox_payments: bool,
}

impl UcpSettings {
    pub fn new(policy: NetworkPolicy, request_timeout: Duration) -> UcpSettings {
        UcpSettings {
            policy,
            request_timeout,
            max_reply_bytes: MAX_REPLY_BYTES,
            max_catalog_bytes: MAX_CATALOG_BYTES,
            agent_profile: DEFAULT_AGENT_PROFILE.into(),
            sandbox_payments: sandbox_payments_from_env(),
        }
    }
}

/// `CONCIERGE_UCP_SANDBOX_PAYMENTS`, read once: `1`, `true` or `yes` turn
/// sandbox payments on.
fn sandbox_payments_from_env() -> bool {
    static SANDBOX: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SANDBOX.get_or_init(|| {
        std::env::var("CONCIERGE_UCP_SANDBOX_PAYMENTS")
            .is_ok_and(|value| matches!(value.trim(), "1" | "true" | "yes"))
    })
}

/// What a business answered: a value, or a refusal in its own words.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<T> {
    Ok(T),
    /// A 4xx answer: the business understood and said no.
    Refused {
        status: u16,
        message: String,
    },
}

/// One HTTP client for UCP businesses.
#[derive(Debug, Clone)]
pub struct UcpClient {
    client: reqwest::Client,
    settings: UcpSettings,
}

/// Who a request is for, for error messages and the network policy.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub merchant_id: &'a str,
    /// A merchant this process serves itself (reached on loopback).
    pub served_here: bool,
}

impl UcpClient {
    pub fn new(client: reqwest::Client, settings: UcpSettings) -> UcpClient {
        UcpClient { client, settings }
    }

    pub fn settings(&self) -> &UcpSettings {
        &self.settings
    }

    /// The business's discovery profile, from the origin of `base_url`.
    pub async fn discover(
        &self,
        target: Target<'_>,
        base_url: &str,
        deadline: Instant,
    ) -> Result<UcpProfile, MerchantError> {
        let base = self.checked_url(target, base_url)?;
        let url = base
            .join("/.well-known/ucp")
            .map_err(|e| protocol(target.merchant_id, format!("bad base URL: {e}")))?;
        let (status, body) = self
            .exchange(target, Method::GET, url, None::<&()>, None, deadline)
            .await?;
        if !status.is_success() {
            return Err(protocol(
                target.merchant_id,
                format!("discovery answered HTTP {status}: {}", snippet(&body)),
            ));
        }
        from_json(&body).map_err(|e| {
            protocol(
                target.merchant_id,
                format!("the discovery profile does not read as UCP: {e}"),
            )
        })
    }

    /// The REST endpoint `endpoint` (from a profile, perhaps relative to
    /// the base URL) as a checked URL.
    pub fn rest_endpoint(
        &self,
        target: Target<'_>,
        base_url: &str,
        endpoint: &str,
    ) -> Result<Url, MerchantError> {
        let base = self.checked_url(target, base_url)?;
        let url = base
            .join(endpoint.trim())
            .map_err(|e| protocol(target.merchant_id, format!("bad REST endpoint: {e}")))?;
        self.checked_url(target, url.as_str())
    }

    /// `endpoint` with `segments` appended, each percent-encoded.
    pub fn url(endpoint: &Url, segments: &[&str]) -> Url {
        let mut url = endpoint.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for segment in segments {
                path.push(segment);
            }
        }
        url
    }

    /// Reads an order (`GET /orders/{id}`), or the business's refusal.
    pub async fn order(
        &self,
        target: Target<'_>,
        url: Url,
        deadline: Instant,
    ) -> Result<Answer<Order>, MerchantError> {
        let (status, bytes) = self
            .exchange(target, Method::GET, url, None::<&()>, None, deadline)
            .await?;
        read_answer(target, status, &bytes, "an order")
    }

    /// Searches the business's catalog (`POST /catalog/search`). A refusal
    /// is an error here: there is nothing to answer it with.
    pub async fn catalog_search(
        &self,
        target: Target<'_>,
        url: Url,
        request: &super::catalog::SearchRequest,
        deadline: Instant,
    ) -> Result<super::catalog::CatalogResponse, MerchantError> {
        let (status, bytes) = self
            .exchange_within(
                target,
                (Method::POST, url),
                Some(request),
                None,
                deadline,
                self.settings.max_catalog_bytes,
            )
            .await?;
        match read_answer(target, status, &bytes, "a catalog search")? {
            Answer::Ok(response) => Ok(response),
            Answer::Refused { message, .. } => Err(protocol(
                target.merchant_id,
                format!("catalog search refused: {message}"),
            )),
        }
    }

    /// Sends a request about a checkout session and reads the session, or
    /// the business's refusal.
    pub async fn checkout(
        &self,
        target: Target<'_>,
        method: Method,
        url: Url,
        body: Option<&impl Serialize>,
        idempotency_key: Option<&str>,
        deadline: Instant,
    ) -> Result<Answer<Checkout>, MerchantError> {
        let (status, bytes) = self
            .exchange(target, method, url, body, idempotency_key, deadline)
            .await?;
        read_answer(target, status, &bytes, "a checkout session")
    }

    /// One bounded exchange: the URL checked, the wait bounded by the
    /// request timeout and `deadline`, the answer by the size limit.
    async fn exchange(
        &self,
        target: Target<'_>,
        method: Method,
        url: Url,
        body: Option<&impl Serialize>,
        idempotency_key: Option<&str>,
        deadline: Instant,
    ) -> Result<(StatusCode, Vec<u8>), MerchantError> {
        let limit = self.settings.max_reply_bytes;
        self.exchange_within(
            target,
            (method, url),
            body,
            idempotency_key,
            deadline,
            limit,
        )
        .await
    }

    /// [`UcpClient::exchange`] with answers up to `limit` bytes.
    async fn exchange_within(
        &self,
        target: Target<'_>,
        (method, url): (Method, Url),
        body: Option<&impl Serialize>,
        idempotency_key: Option<&str>,
        deadline: Instant,
        limit: usize,
    ) -> Result<(StatusCode, Vec<u8>), MerchantError> {
        let url = self.checked_url(target, url.as_str())?;
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(self.settings.request_timeout);
        let timeout = || MerchantError::Timeout {
            merchant: target.merchant_id.to_string(),
            millis: wait.as_millis() as u64,
        };
        if wait.is_zero() {
            return Err(timeout());
        }
        let mut request = self
            .client
            .request(method, url)
            .timeout(wait)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                "UCP-Agent",
                format!("profile=\"{}\"", self.settings.agent_profile),
            )
            .header("Request-Id", random_uuid())
            .header("Request-Signature", UNSIGNED);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body)
                .map_err(|e| protocol(target.merchant_id, e.to_string()))?;
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(bytes);
        }
        let work = async {
            let mut response = request
                .send()
                .await
                .map_err(|e| transport(target.merchant_id, e, wait))?;
            let status = response.status();
            if response
                .content_length()
                .is_some_and(|length| length > limit as u64)
            {
                return Err(MerchantError::TooLarge {
                    merchant: target.merchant_id.to_string(),
                    limit,
                });
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| transport(target.merchant_id, e, wait))?
            {
                if bytes.len() + chunk.len() > limit {
                    return Err(MerchantError::TooLarge {
                        merchant: target.merchant_id.to_string(),
                        limit,
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok((status, bytes))
        };
        tokio::time::timeout(wait, work)
            .await
            .map_err(|_| timeout())?
    }

    fn checked_url(&self, target: Target<'_>, url: &str) -> Result<Url, MerchantError> {
        self.settings
            .policy
            .for_merchant(target.served_here)
            .check_url(url)
            .map_err(|reason| protocol(target.merchant_id, format!("endpoint refused: {reason}")))
    }
}

/// A business's answer read as `what` ("an order"): its body when it
/// succeeded, its own words when it refused (4xx); anything else (5xx,
/// redirects) is no answer to rely on.
fn read_answer<T: serde::de::DeserializeOwned>(
    target: Target<'_>,
    status: StatusCode,
    bytes: &[u8],
    what: &str,
) -> Result<Answer<T>, MerchantError> {
    if status.is_success() {
        return from_json(bytes).map(Answer::Ok).map_err(|e| {
            protocol(
                target.merchant_id,
                format!("the answer does not read as {what}: {e}"),
            )
        });
    }
    if status.is_client_error() {
        let message = from_json::<ErrorResponse>(bytes)
            .ok()
            .and_then(|error| error.text())
            .unwrap_or_else(|| format!("HTTP {status}: {}", snippet(bytes)));
        return Ok(Answer::Refused {
            status: status.as_u16(),
            message,
        });
    }
    Err(protocol(
        target.merchant_id,
        format!("HTTP {status}: {}", snippet(bytes)),
    ))
}

/// Fetches the UCP profile of the business at `base_url` (for
/// registration): `GET <origin>/.well-known/ucp`, read up to 64 KiB, within
/// the client's timeout and at most 15 s. Use a client made by
/// `guarded_client` so that names resolve only to allowed addresses; the
/// caller checks the URL itself against its policy first (literal IPs do
/// not go through the resolver).
pub async fn discover(
    client: &reqwest::Client,
    base_url: &str,
) -> Result<UcpProfile, MerchantError> {
    let settings = UcpSettings {
        // The caller has checked the URL; names are checked by its client.
        policy: NetworkPolicy {
            allow_loopback: true,
            allow_private: true,
        },
        ..UcpSettings::new(NetworkPolicy::public_only(), DISCOVERY_TIMEOUT)
    };
    let ucp = UcpClient::new(client.clone(), settings);
    let target = Target {
        merchant_id: base_url,
        served_here: false,
    };
    let profile = ucp
        .discover(target, base_url, Instant::now() + DISCOVERY_TIMEOUT)
        .await?;
    if profile.rest_endpoint().is_none() {
        return Err(protocol(
            base_url,
            "the UCP profile names no REST endpoint for dev.ucp.shopping".into(),
        ));
    }
    Ok(profile)
}

/// A random UUID (version 4).
pub fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    // Without an OS random source nothing can be made unguessable; that is
    // a broken machine, not bad input.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    format_uuid(bytes, 4)
}

/// The UUID (version 8, from SHA-256) that stands for `key`: the same key
/// always gives the same UUID, as `Idempotency-Key` needs.
pub fn derived_uuid(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    format_uuid(bytes, 8)
}

fn format_uuid(mut bytes: [u8; 16], version: u8) -> String {
    bytes[6] = (bytes[6] & 0x0f) | (version << 4);
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Whether a business speaking `version` takes 2026-04-08's complete shape.
pub fn speaks_later_version(version: &str) -> bool {
    version > UCP_VERSION
}

fn snippet(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(200).collect()
}

pub(crate) fn protocol(merchant: &str, message: String) -> MerchantError {
    MerchantError::Protocol {
        merchant: merchant.to_string(),
        message,
    }
}

fn transport(merchant: &str, error: reqwest::Error, waited: Duration) -> MerchantError {
    if error.is_timeout() {
        return MerchantError::Timeout {
            merchant: merchant.to_string(),
            millis: waited.as_millis() as u64,
        };
    }
    MerchantError::Transport {
        merchant: merchant.to_string(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_uuids_are_stable_and_well_formed() {
        let a = derived_uuid("harbor:psid:chk_1");
        assert_eq!(a, derived_uuid("harbor:psid:chk_1"));
        assert_ne!(a, derived_uuid("harbor:psid:chk_2"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(&random_uuid()[14..15], "4");
    }

    #[test]
    fn path_segments_are_escaped() {
        let endpoint = Url::parse("https://shop.example/ucp/").unwrap();
        let url = UcpClient::url(&endpoint, &["checkout-sessions", "a/b?c", "complete"]);
        assert_eq!(
            url.as_str(),
            "https://shop.example/ucp/checkout-sessions/a%2Fb%3Fc/complete"
        );
    }
}
