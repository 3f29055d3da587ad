//! Sends shopper messages to a merchant's webhook, signed, and reads the
//! synchronous replies, bounding the wait and the size of what comes back.

use super::mailbox::Mailboxes;
use super::session::ShopperMessage;
use crate::error::MerchantError;
use crate::merchant::network::{GuardedResolver, NetworkPolicy};
use crate::merchant::signature::{sign, SIGNATURE_HEADER};
use crate::merchant::wire::{
    now_millis, IncomingMessage, OutgoingMessage, Postback, QuickReplyTap, SyncReply, WebhookEvent,
};
use std::sync::Arc;
use std::time::Duration;

/// Where and how to reach one merchant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantEndpoint {
    pub merchant_id: String,
    pub name: String,
    /// The webhook URL events are POSTed to.
    pub webhook_url: String,
    /// The secret events are signed with.
    pub app_secret: String,
    /// The merchant's page id (the event's recipient).
    pub page_id: String,
}

/// One HTTP client, reused for every merchant, with bounded waits, that
/// connects only to addresses the network policy allows.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    turn_timeout: Duration,
    max_reply_bytes: usize,
    policy: NetworkPolicy,
    mailboxes: Arc<Mailboxes>,
}

/// After a Send API message arrives, further messages arriving within this
/// window belong to the same turn ("Got it." then "What colour?").
const SEND_API_SETTLE: Duration = Duration::from_millis(150);
/// Most Send API messages read as one turn.
const MAX_MESSAGES_PER_TURN: usize = 20;

impl Transport {
    /// A transport that may also reach loopback merchants: for tests,
    /// benchmarks and the demo world. Real merchants go through
    /// [`Transport::with_policy`] with the configured policy.
    pub fn for_loopback(turn_timeout: Duration, max_reply_bytes: usize) -> Transport {
        Transport::with_policy(
            turn_timeout,
            max_reply_bytes,
            NetworkPolicy::with_loopback(),
        )
    }

    pub fn with_policy(
        turn_timeout: Duration,
        max_reply_bytes: usize,
        policy: NetworkPolicy,
    ) -> Transport {
        let client = guarded_client(turn_timeout, policy);
        Transport {
            client,
            turn_timeout,
            max_reply_bytes,
            policy,
            mailboxes: Arc::new(Mailboxes::default()),
        }
    }

    /// The mailboxes Send API messages are delivered to.
    pub fn mailboxes(&self) -> Arc<Mailboxes> {
        self.mailboxes.clone()
    }

    /// Ends conversation `psid`: later Send API messages for it are refused.
    pub fn close_conversation(&self, psid: &str) {
        self.mailboxes.close(psid);
    }

    pub fn policy(&self) -> NetworkPolicy {
        self.policy
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn turn_timeout(&self) -> Duration {
        self.turn_timeout
    }

    /// Sends `message` as conversation `psid` and returns the merchant's
    /// replies addressed to that conversation.
    pub async fn send(
        &self,
        endpoint: &MerchantEndpoint,
        psid: &str,
        message: &ShopperMessage,
    ) -> Result<Vec<OutgoingMessage>, MerchantError> {
        let url = self
            .policy
            .check_url(&endpoint.webhook_url)
            .map_err(|reason| protocol(endpoint, format!("endpoint refused: {reason}")))?;
        let started = tokio::time::Instant::now();
        // Open the mailbox before sending: a Send API bot may answer before
        // its webhook response.
        let mailbox = self.mailboxes.open(psid, &endpoint.merchant_id);
        let now = now_millis();
        let mid = format!("m_{}_{now}", crate::merchant::signature::random_token(6));
        let (incoming, postback) = match message {
            ShopperMessage::Text {
                text,
                quick_reply_payload,
            } => (
                Some(IncomingMessage {
                    mid,
                    text: Some(text.clone()),
                    quick_reply: quick_reply_payload
                        .clone()
                        .map(|payload| QuickReplyTap { payload }),
                }),
                None,
            ),
            ShopperMessage::Postback {
                title,
                payload,
                payment,
            } => (
                None,
                Some(Postback {
                    mid,
                    title: title.clone(),
                    payload: payload.clone(),
                    payment: payment.clone(),
                }),
            ),
        };
        let event = WebhookEvent::single(&endpoint.page_id, psid, now, incoming, postback);
        let body = serde_json::to_vec(&event).map_err(|e| protocol(endpoint, e.to_string()))?;
        let signature = sign(&endpoint.app_secret, &body);
        let exchange = async {
            let mut response = self
                .client
                .post(url)
                .header(SIGNATURE_HEADER, signature)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| transport(endpoint, e, self.turn_timeout))?;
            let status = response.status();
            if response
                .content_length()
                .is_some_and(|length| length > self.max_reply_bytes as u64)
            {
                return Err(MerchantError::TooLarge {
                    merchant: endpoint.merchant_id.clone(),
                    limit: self.max_reply_bytes,
                });
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| transport(endpoint, e, self.turn_timeout))?
            {
                if bytes.len() + chunk.len() > self.max_reply_bytes {
                    return Err(MerchantError::TooLarge {
                        merchant: endpoint.merchant_id.clone(),
                        limit: self.max_reply_bytes,
                    });
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.turn_timeout, exchange)
            .await
            .map_err(|_| MerchantError::Timeout {
                merchant: endpoint.merchant_id.clone(),
                millis: self.turn_timeout.as_millis() as u64,
            })??;
        if !status.is_success() {
            let snippet: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            return Err(protocol(endpoint, format!("HTTP {status}: {snippet}")));
        }
        let synchronous: Vec<OutgoingMessage> = if bytes.iter().all(u8::is_ascii_whitespace) {
            Vec::new()
        } else {
            let reply: SyncReply = serde_json::from_slice(&bytes)
                .map_err(|e| protocol(endpoint, format!("malformed reply: {e}")))?;
            // Only messages for this conversation count; a merchant cannot
            // speak into another conversation through this reply.
            reply
                .messages
                .into_iter()
                .filter(|m| m.recipient.id == psid)
                .map(|m| m.message)
                .collect()
        };
        if !synchronous.is_empty() {
            return Ok(synchronous);
        }
        // Send API mode: the replies come later, through Concierge's
        // `/me/messages` endpoint, into this conversation's mailbox.
        let remaining = self.turn_timeout.saturating_sub(started.elapsed());
        self.receive_from(endpoint, &mailbox, remaining).await
    }

    /// Waits for the merchant's next Send API messages in conversation
    /// `psid`, without sending anything (after a greeting, say).
    pub async fn receive(
        &self,
        endpoint: &MerchantEndpoint,
        psid: &str,
    ) -> Result<Vec<OutgoingMessage>, MerchantError> {
        let mailbox = self.mailboxes.open(psid, &endpoint.merchant_id);
        self.receive_from(endpoint, &mailbox, self.turn_timeout)
            .await
    }

    async fn receive_from(
        &self,
        endpoint: &MerchantEndpoint,
        mailbox: &tokio::sync::Mutex<tokio::sync::mpsc::Receiver<OutgoingMessage>>,
        wait: Duration,
    ) -> Result<Vec<OutgoingMessage>, MerchantError> {
        let mut receiver = mailbox.lock().await;
        let first = tokio::time::timeout(wait, receiver.recv())
            .await
            .map_err(|_| MerchantError::Timeout {
                merchant: endpoint.merchant_id.clone(),
                millis: self.turn_timeout.as_millis() as u64,
            })?;
        let mut messages: Vec<OutgoingMessage> = first.into_iter().collect();
        while messages.len() < MAX_MESSAGES_PER_TURN {
            match tokio::time::timeout(SEND_API_SETTLE, receiver.recv()).await {
                Ok(Some(message)) => messages.push(message),
                _ => break,
            }
        }
        Ok(messages)
    }
}

fn protocol(endpoint: &MerchantEndpoint, message: String) -> MerchantError {
    MerchantError::Protocol {
        merchant: endpoint.merchant_id.clone(),
        message,
    }
}

fn transport(
    endpoint: &MerchantEndpoint,
    error: reqwest::Error,
    waited: Duration,
) -> MerchantError {
    if error.is_timeout() {
        return MerchantError::Timeout {
            merchant: endpoint.merchant_id.clone(),
            millis: waited.as_millis() as u64,
        };
    }
    MerchantError::Transport {
        merchant: endpoint.merchant_id.clone(),
        message: error.to_string(),
    }
}

/// An HTTP client that follows no redirects and resolves names only to
/// addresses `policy` allows.
pub fn guarded_client(timeout: Duration, policy: NetworkPolicy) -> reqwest::Client {
    reqwest::Client::builder()
        // A registered endpoint must not bounce Concierge elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(GuardedResolver { policy })
        .connect_timeout(timeout)
        .timeout(timeout)
        .pool_max_idle_per_host(4)
        .build()
        // Without TLS backends the builder only fails on invalid settings,
        // which these constants are not; never fall back to an unguarded
        // client.
        .expect("the HTTP client settings are valid")
}
