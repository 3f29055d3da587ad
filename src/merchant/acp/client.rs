//! The buyer's HTTP side of ACP: [`AcpProtocol`] (the protocol as the
//! orchestration sees it), the bounded requests every checkout makes, the
//! stored complete request ([`StoredPayment`]) and how its answer is read,
//! and [`probe`] for registration.
//!
//! Every request carries the merchant's API key as a bearer token and
//! `API-Version`; every POST an `Idempotency-Key`. Every wait is bounded
//! (the request timeout, and the negotiation's deadline), every answer body
//! is bounded (64 KiB), redirects are never followed, and the merchant's
//! URL must pass the network policy.

use super::buyer::AcpCheckout;
use super::wire::*;
use crate::error::MerchantError;
use crate::merchant::messenger::transport::guarded_client;
use crate::merchant::messenger::wire::PaymentAuthorization;
use crate::merchant::network::NetworkPolicy;
use crate::merchant::protocol::{
    CancelReply, MerchantEndpoint, MerchantProtocol, Negotiation, Opening, PaymentReply,
};
use crate::money::Money;
use crate::order::OrderRecord;
use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// Largest answer body read from a merchant.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// How often a completion still in progress is looked at again.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Concierge's side of ACP: opens one [`AcpCheckout`] per conversation,
/// sends stored payments again, and answers cancellations.
#[derive(Debug, Clone)]
pub struct AcpProtocol {
    http: Http,
}

impl AcpProtocol {
    /// A protocol whose requests each wait at most `request_timeout`, to
    /// merchants at addresses `policy` allows (through the guarded client:
    /// no redirects, names resolved only to allowed addresses).
    pub fn new(request_timeout: Duration, policy: NetworkPolicy) -> AcpProtocol {
        AcpProtocol::with_client(
            guarded_client(request_timeout, policy),
            policy,
            request_timeout,
        )
    }

    /// The same over an existing client, which must be a guarded one
    /// ([`guarded_client`]) for `policy` to hold for host names.
    pub fn with_client(
        client: reqwest::Client,
        policy: NetworkPolicy,
        request_timeout: Duration,
    ) -> AcpProtocol {
        AcpProtocol {
            http: Http {
                client,
                policy,
                timeout: request_timeout,
                max_reply_bytes: MAX_REPLY_BYTES,
            },
        }
    }

    /// A checkout with `endpoint`, ready to negotiate (nothing sent yet).
    pub fn checkout(&self, endpoint: &MerchantEndpoint, opening: Opening) -> AcpCheckout {
        AcpCheckout::new(self.http.clone(), endpoint.clone(), opening)
    }
}

#[async_trait]
impl MerchantProtocol for AcpProtocol {
    fn name(&self) -> &'static str {
        "acp"
    }

    fn open(&self, endpoint: &MerchantEndpoint, opening: Opening) -> Box<dyn Negotiation> {
        Box::new(self.checkout(endpoint, opening))
    }

    async fn repay(
        &self,
        endpoint: &MerchantEndpoint,
        _conversation_id: &str,
        payment: &str,
        amount_minor: i64,
    ) -> Result<PaymentReply, MerchantError> {
        let stored = StoredPayment::from_json(payment)
            .map_err(|message| protocol_error(endpoint, message))?;
        settle(&self.http, endpoint, &stored, amount_minor).await
    }

    async fn cancel(
        &self,
        _endpoint: &MerchantEndpoint,
        order: &OrderRecord,
    ) -> Result<CancelReply, MerchantError> {
        Ok(CancelReply::Refused(format!(
            "ACP cancels checkout sessions, not completed orders: order {} stands; ask the merchant to cancel or refund it",
            order.order_number
        )))
    }
    /// Reads the checkout session the order was made in: its order's
    /// status, as the merchant keeps it.
    async fn order_status(
        &self,
        endpoint: &MerchantEndpoint,
        order: &OrderRecord,
    ) -> Result<Option<String>, MerchantError> {
        let answered = self
            .http
            .retrieve(endpoint, &order.order_number, self.http.timeout)
            .await?;
        Ok(Some(match answered {
            Answered::Session(session) => match &session.order {
                Some(placed) => format!(
                    "order {}: {}",
                    placed.id,
                    placed.status.as_deref().unwrap_or("placed")
                ),
                None => format!("checkout {} is {}", session.id, session.status.as_str()),
            },
            Answered::Refused(refusal) => refusal.message,
        }))
    }
}

/// The complete request of one payment, as stored before it is sent and
/// sent again unchanged: the session, the `Idempotency-Key` and the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPayment {
    pub checkout_session_id: String,
    pub idempotency_key: String,
    pub request: CompleteCheckoutSessionRequest,
}

impl StoredPayment {
    /// The complete request paying `checkout_session_id` with
    /// `authorization` through payment handler `handler_id`.
    pub fn new(
        checkout_session_id: &str,
        handler_id: &str,
        authorization: &PaymentAuthorization,
    ) -> StoredPayment {
        StoredPayment {
            checkout_session_id: checkout_session_id.to_string(),
            idempotency_key: complete_key(&authorization.idempotency_key, checkout_session_id),
            request: CompleteCheckoutSessionRequest {
                buyer: None,
                payment_data: PaymentData {
                    handler_id: handler_id.to_string(),
                    instrument: Some(Instrument {
                        kind: "card".into(),
                        credential: Credential {
                            kind: "spt".into(),
                            token: authorization.token.clone(),
                            allowance: Some(DelegatedAllowance::from_allowance(
                                &authorization.allowance,
                            )),
                        },
                    }),
                    billing_address: None,
                },
                authentication_result: None,
                order_notes: None,
            },
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(text: &str) -> Result<StoredPayment, String> {
        serde_json::from_str(text).map_err(|e| format!("the stored ACP payment is unreadable: {e}"))
    }

    /// The allowance the credential carries.
    pub fn allowance(&self) -> Option<&DelegatedAllowance> {
        self.request
            .payment_data
            .instrument
            .as_ref()?
            .credential
            .allowance
            .as_ref()
    }
}

/// The `Idempotency-Key` of the complete request paying `session_id` under
/// the authorisation's `authorization_key`: the same payment always goes
/// under the same key, and within the spec's 255 characters.
pub fn complete_key(authorization_key: &str, session_id: &str) -> String {
    format!(
        "concierge-complete-{}",
        digest(&[authorization_key, session_id])
    )
}

/// A short stable digest of `parts`, for idempotency keys.
pub(crate) fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// The header that tells a merchant the id it is registered under.
pub const MERCHANT_ID_HEADER: &str = "Concierge-Merchant-Id";

/// Checks that `base_url` answers ACP with `api_key`: a GET of a session
/// that does not exist must be the spec's 404 error body (a wrong key is
/// 401). `merchant_id`, the id Concierge registers the business under,
/// rides in a `Concierge-Merchant-Id` header, which ACP businesses ignore
/// and the reference merchant adopts (its payment authorisations name
/// that id), as Messenger's handshake tells a responder. The caller checks
/// the URL against the network policy first, as registration does, and
/// passes a guarded client.
pub async fn probe(
    client: &reqwest::Client,
    base_url: &str,
    api_key: &str,
    merchant_id: Option<&str>,
) -> Result<(), MerchantError> {
    let error = |message: String| MerchantError::Protocol {
        merchant: base_url.to_string(),
        message,
    };
    let probe_id = format!(
        "cs_concierge_probe_{}",
        crate::merchant::messenger::signature::random_token(6)
    );
    let url = endpoint_url(base_url, &["checkout_sessions", &probe_id]).map_err(error)?;
    let mut request = client
        .get(url)
        .bearer_auth(api_key)
        .header("API-Version", API_VERSION)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(id) = merchant_id {
        request = request.header(MERCHANT_ID_HEADER, id);
    }
    let (status, body) = send_bounded(request, MAX_REPLY_BYTES)
        .await
        .map_err(|failure| failure.into_error(base_url, Duration::ZERO))?;
    match status {
        StatusCode::NOT_FOUND if serde_json::from_slice::<ApiError>(&body).is_ok() => Ok(()),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(error(format!(
            "the checkout API refused the API key (HTTP {})",
            status.as_u16()
        ))),
        StatusCode::NOT_FOUND => Err(error(
            "HTTP 404 without the ACP error body: is this the base URL of an ACP checkout API?"
                .into(),
        )),
        status if status.is_success() => Err(error(format!(
            "answered HTTP {} for a checkout session that does not exist",
            status.as_u16()
        ))),
        status => Err(error(format!(
            "HTTP {} where an ACP checkout API answers 404: {}",
            status.as_u16(),
            snippet(&body)
        ))),
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// One HTTP client and its bounds, shared by every checkout.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    policy: NetworkPolicy,
    pub(crate) timeout: Duration,
    max_reply_bytes: usize,
}

/// What a merchant answered: a session, or the error body of a refusal.
#[derive(Debug, Clone)]
pub(crate) enum Answered {
    Session(Box<CheckoutSession>),
    Refused(Refusal),
}

#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl Refusal {
    /// "The item ID ... does not exist. (invalid_item_id, HTTP 400)".
    pub fn text(&self) -> String {
        if self.code.is_empty() {
            format!("{} (HTTP {})", self.message, self.status.as_u16())
        } else {
            format!(
                "{} ({}, HTTP {})",
                self.message,
                self.code,
                self.status.as_u16()
            )
        }
    }
}

impl Http {
    /// Sends one request of the checkout API and reads the answer, waiting
    /// at most `wait` (and the request timeout).
    pub(crate) async fn exchange(
        &self,
        endpoint: &MerchantEndpoint,
        method: Method,
        segments: &[&str],
        idempotency_key: Option<&str>,
        body: Option<Vec<u8>>,
        wait: Duration,
    ) -> Result<Answered, MerchantError> {
        let wait = wait.min(self.timeout);
        if wait.is_zero() {
            return Err(MerchantError::Timeout {
                merchant: endpoint.merchant_id.clone(),
                millis: 0,
            });
        }
        self.policy
            .for_merchant(endpoint.served_here)
            .check_url(&endpoint.url)
            .map_err(|reason| protocol_error(endpoint, format!("endpoint refused: {reason}")))?;
        let url = endpoint_url(&endpoint.url, segments)
            .map_err(|message| protocol_error(endpoint, message))?;
        let mut request = self
            .client
            .request(method, url)
            .bearer_auth(&endpoint.app_secret)
            .header("API-Version", API_VERSION)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(reqwest::header::USER_AGENT, "Concierge")
            .timeout(wait);
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let (status, bytes) =
            tokio::time::timeout(wait, send_bounded(request, self.max_reply_bytes))
                .await
                .map_err(|_| MerchantError::Timeout {
                    merchant: endpoint.merchant_id.clone(),
                    millis: wait.as_millis() as u64,
                })?
                .map_err(|failure| failure.into_error(&endpoint.merchant_id, wait))?;
        if status.is_success() {
            return serde_json::from_slice::<CheckoutSession>(&bytes)
                .map(|session| Answered::Session(Box::new(session)))
                .map_err(|e| {
                    protocol_error(endpoint, format!("the checkout session is unreadable: {e}"))
                });
        }
        Ok(Answered::Refused(
            match serde_json::from_slice::<ApiError>(&bytes) {
                Ok(error) => Refusal {
                    status,
                    code: error.code.chars().take(64).collect(),
                    message: error.message.chars().take(300).collect(),
                },
                Err(_) => Refusal {
                    status,
                    code: String::new(),
                    message: snippet(&bytes),
                },
            },
        ))
    }

    /// `GET /checkout_sessions/{id}`.
    pub(crate) async fn retrieve(
        &self,
        endpoint: &MerchantEndpoint,
        session_id: &str,
        wait: Duration,
    ) -> Result<Answered, MerchantError> {
        self.exchange(
            endpoint,
            Method::GET,
            &["checkout_sessions", session_id],
            None,
            None,
            wait,
        )
        .await
    }
}

/// Why a request got no answer.
enum SendFailure {
    Http(reqwest::Error),
    TooLarge(usize),
}

impl SendFailure {
    fn into_error(self, merchant: &str, waited: Duration) -> MerchantError {
        match self {
            SendFailure::Http(error) if error.is_timeout() => MerchantError::Timeout {
                merchant: merchant.to_string(),
                millis: waited.as_millis() as u64,
            },
            SendFailure::Http(error) => MerchantError::Transport {
                merchant: merchant.to_string(),
                message: error.to_string(),
            },
            SendFailure::TooLarge(limit) => MerchantError::TooLarge {
                merchant: merchant.to_string(),
                limit,
            },
        }
    }
}

/// Sends `request` and reads at most `limit` bytes of the answer.
async fn send_bounded(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<(StatusCode, Vec<u8>), SendFailure> {
    let mut response = request.send().await.map_err(SendFailure::Http)?;
    let status = response.status();
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(SendFailure::TooLarge(limit));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(SendFailure::Http)? {
        if bytes.len() + chunk.len() > limit {
            return Err(SendFailure::TooLarge(limit));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((status, bytes))
}

/// `base` with `segments` appended as path segments (each escaped, so a
/// session id cannot climb out of the API's path).
fn endpoint_url(base: &str, segments: &[&str]) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(base.trim()).map_err(|e| format!("not a valid URL: {e}"))?;
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|_| "the URL cannot have a path".to_string())?;
        path.pop_if_empty();
        for segment in segments {
            // `..` would be dropped by the URL, not escaped.
            if segment.is_empty() || *segment == "." || *segment == ".." {
                return Err(format!("{segment:?} is not a usable path segment"));
            }
            path.push(segment);
        }
    }
    Ok(url)
}

fn snippet(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).chars().take(200).collect()
}

pub(crate) fn protocol_error(endpoint: &MerchantEndpoint, message: String) -> MerchantError {
    MerchantError::Protocol {
        merchant: endpoint.merchant_id.clone(),
        message,
    }
}

// ---------------------------------------------------------------------------
// Paying
// ---------------------------------------------------------------------------

/// Sends a stored payment and reads what became of it. Before anything is
/// sent the session is read again: one canceled, or whose total rose above
/// the allowance (or `limit`), is refused here. The answer counts as paid
/// only when it is the completed session, with its order, at a total
/// within the allowance. A completion still in progress is looked at again
/// until twice the request timeout has passed. `Err` means no answer: the
/// payment may or may not have been taken.
pub(crate) async fn settle(
    http: &Http,
    endpoint: &MerchantEndpoint,
    payment: &StoredPayment,
    limit: i64,
) -> Result<PaymentReply, MerchantError> {
    let deadline = Instant::now() + http.timeout.saturating_mul(2);
    let left = || deadline.saturating_duration_since(Instant::now());
    let Some(allowance) = payment.allowance() else {
        return Err(protocol_error(
            endpoint,
            "the stored payment carries no allowance".into(),
        ));
    };
    let max = allowance.max_amount.min(limit);
    let id = payment.checkout_session_id.as_str();
    match http.retrieve(endpoint, id, left()).await? {
        Answered::Refused(refusal) => return refused(endpoint, refusal),
        Answered::Session(session) => {
            if let Some(problem) = beyond_allowance(&session, allowance, max) {
                return Ok(PaymentReply::Refused(format!(
                    "not paid: {problem} (checkout {id})"
                )));
            }
            if matches!(
                session.status,
                SessionStatus::Canceled | SessionStatus::Expired
            ) {
                return Ok(PaymentReply::Refused(format!(
                    "checkout {id} is {}",
                    session.status.as_str()
                )));
            }
        }
    }
    let body = serde_json::to_vec(&payment.request)
        .map_err(|e| protocol_error(endpoint, e.to_string()))?;
    let mut answered = http
        .exchange(
            endpoint,
            Method::POST,
            &["checkout_sessions", id, "complete"],
            Some(&payment.idempotency_key),
            Some(body),
            left(),
        )
        .await?;
    let mut polling = false;
    loop {
        let session = match answered {
            Answered::Refused(refusal) => return refused(endpoint, refusal),
            Answered::Session(session) => session,
        };
        if let Some(reply) = judge(&session, payment, allowance, max, polling, endpoint)? {
            return Ok(reply);
        }
        polling = true;
        // Completion in progress: look again, within the bound.
        if left() <= POLL_EVERY {
            return Err(MerchantError::Timeout {
                merchant: endpoint.merchant_id.clone(),
                millis: http.timeout.saturating_mul(2).as_millis() as u64,
            });
        }
        tokio::time::sleep(POLL_EVERY).await;
        answered = http.retrieve(endpoint, id, left()).await?;
    }
}

/// A merchant's refusal of a payment: a decline, unless it says nothing
/// about the payment (a server error, or the key in flight or in conflict),
/// which leaves it unknown.
fn refused(endpoint: &MerchantEndpoint, refusal: Refusal) -> Result<PaymentReply, MerchantError> {
    let unknown = refusal.status.is_server_error()
        || refusal.code == "idempotency_in_flight"
        || refusal.code == "idempotency_conflict";
    if unknown {
        return Err(protocol_error(endpoint, refusal.text()));
    }
    Ok(PaymentReply::Refused(refusal.text()))
}

/// What the answer to a complete says: paid, refused, or (`None`) still in
/// progress. While `polling` a completion the merchant said was in
/// progress, only a completed, canceled or erring session is an answer.
fn judge(
    session: &CheckoutSession,
    payment: &StoredPayment,
    allowance: &DelegatedAllowance,
    max: i64,
    polling: bool,
    endpoint: &MerchantEndpoint,
) -> Result<Option<PaymentReply>, MerchantError> {
    let id = &payment.checkout_session_id;
    if &session.id != id {
        return Ok(Some(PaymentReply::Refused(format!(
            "the merchant answered for checkout {:?}, not {id}: not taken as paid",
            session.id.chars().take(64).collect::<String>()
        ))));
    }
    let reply = match session.status {
        SessionStatus::Completed => {
            let Some(order) = &session.order else {
                return Err(protocol_error(
                    endpoint,
                    format!("checkout {id} is completed but names no order"),
                ));
            };
            if !order.checkout_session_id.is_empty() && &order.checkout_session_id != id {
                PaymentReply::Refused(format!(
                    "order {} is for another checkout: not taken as paid",
                    order.id
                ))
            } else if let Some(problem) = beyond_allowance(session, allowance, max) {
                PaymentReply::Refused(format!(
                    "the merchant completed checkout {id}, but {problem}: not taken as paid"
                ))
            } else {
                let total = session
                    .total_of(TotalType::Total)
                    .map(|t| Money::new(t, session.currency.to_ascii_uppercase()).to_string())
                    .unwrap_or_default();
                let number = order
                    .order_number
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                PaymentReply::Confirmed(format!(
                    "order {}{number} confirmed for checkout {id}, total {total}",
                    order.id
                ))
            }
        }
        SessionStatus::CompleteInProgress | SessionStatus::InProgress => return Ok(None),
        SessionStatus::ReadyForPayment | SessionStatus::NotReadyForPayment
            if polling && first_error(session).is_none() =>
        {
            return Ok(None)
        }
        _ => match first_error(session) {
            Some(error) => PaymentReply::Refused(error),
            None => PaymentReply::Refused(match session.status {
                SessionStatus::AuthenticationRequired => {
                    "the merchant asks for 3-D Secure authentication, which Concierge does not do"
                        .to_string()
                }
                SessionStatus::RequiresEscalation => {
                    "the merchant needs the shopper on its own checkout".to_string()
                }
                status => format!(
                    "the merchant did not complete checkout {id} (status {})",
                    status.as_str()
                ),
            }),
        },
    };
    Ok(Some(reply))
}

/// Why `session` may not be paid under `allowance` (at most `max`).
pub(crate) fn beyond_allowance(
    session: &CheckoutSession,
    allowance: &DelegatedAllowance,
    max: i64,
) -> Option<String> {
    let currency = session.currency.to_ascii_uppercase();
    if !allowance.currency.eq_ignore_ascii_case(&currency) {
        return Some(format!(
            "the checkout is in {currency}, the authorisation in {}",
            allowance.currency.to_ascii_uppercase()
        ));
    }
    match session.total_of(TotalType::Total) {
        None => Some("the checkout states no total".into()),
        Some(total) if total > max => Some(format!(
            "its total is {}, above the {} authorised",
            Money::new(total, currency.clone()),
            Money::new(max, currency)
        )),
        Some(_) => None,
    }
}

/// The first error message of a session, as "content (code)".
pub(crate) fn first_error(session: &CheckoutSession) -> Option<String> {
    session.errors().next().map(|(code, content)| {
        let code = serde_json::to_value(code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let content: String = content.chars().take(300).collect();
        if content.trim().is_empty() {
            format!("the merchant reports {code}")
        } else {
            format!("{content} ({code})")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_keep_the_base_path_and_escape_ids() {
        let url =
            endpoint_url("https://shop.example/api/", &["checkout_sessions", "cs_1"]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://shop.example/api/checkout_sessions/cs_1"
        );
        let url = endpoint_url("https://shop.example", &["checkout_sessions", "../x/y?z"]).unwrap();
        assert_eq!(
            url.as_str(),
            "https://shop.example/checkout_sessions/..%2Fx%2Fy%3Fz"
        );
        assert!(endpoint_url("https://shop.example", &["checkout_sessions", ".."]).is_err());
        assert!(endpoint_url("https://shop.example", &["checkout_sessions", ""]).is_err());
    }

    #[test]
    fn complete_keys_are_stable_short_and_per_session() {
        let a = complete_key("alpha:psid:cs_1", "cs_1");
        assert_eq!(a, complete_key("alpha:psid:cs_1", "cs_1"));
        assert_ne!(a, complete_key("alpha:psid:cs_1", "cs_2"));
        assert!(a.len() <= 255);
        assert_eq!(complete_key(&"k".repeat(10_000), "cs_1").len(), a.len());
    }
}
