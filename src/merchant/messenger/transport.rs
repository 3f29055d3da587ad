//! Sends shopper messages to a merchant's webhook, signed, and reads the
//! synchronous replies, bounding the wait and the size of what comes back.

use super::mailbox::{Inbox, MailItem, Mailboxes};
use super::session::ShopperMessage;
use crate::error::MerchantError;
use crate::merchant::messenger::signature::{
    sign, sign_sha1, SHA1_SIGNATURE_HEADER, SIGNATURE_HEADER,
};
use crate::merchant::messenger::wire::{
    now_millis, IncomingMessage, OutgoingMessage, Postback, QuickReplyTap, SyncReply, WebhookEvent,
};
use crate::merchant::network::{GuardedResolver, NetworkPolicy};
pub use crate::merchant::protocol::MerchantEndpoint;
use std::sync::Arc;
use std::time::Duration;

/// How long a merchant's turn lasts. Real bots send the messages of one
/// turn a second or two apart ("Got it." ... "What colour?"), so a turn
/// ends when the merchant has asked or offered something (and a moment has
/// passed for what comes with it), or has gone quiet, never later than the
/// timeout. Set in `rules/policy.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnTiming {
    /// Longest wait for a turn, from the message sent.
    pub timeout: Duration,
    /// After a message that leaves the turn open (a greeting, "got it"),
    /// the turn ends once the merchant has been quiet this long.
    pub quiet: Duration,
    /// After a message that completes the turn (a question, an offer to
    /// agree to), what arrives within this long still belongs to it.
    pub settle: Duration,
}

impl TurnTiming {
    /// `timeout` with the default quiet (2.5 s) and settle (0.2 s) times.
    pub fn with_timeout(timeout: Duration) -> TurnTiming {
        TurnTiming {
            timeout,
            quiet: Duration::from_millis(2500).min(timeout),
            settle: Duration::from_millis(200).min(timeout),
        }
    }
}

/// Whether what a merchant has said so far completes its turn.
pub type TurnComplete<'a> = &'a (dyn Fn(&[OutgoingMessage]) -> bool + Sync);

/// Any reply completes the turn: for messages whose answer needs no more
/// than the first reply (declining, cancelling).
pub fn first_reply_completes(_: &[OutgoingMessage]) -> bool {
    true
}

/// One HTTP client, reused for every merchant, with bounded waits, that
/// connects only to addresses the network policy allows.
#[derive(Debug, Clone)]
pub struct Transport {
    client: reqwest::Client,
    timing: TurnTiming,
    max_reply_bytes: usize,
    policy: NetworkPolicy,
    mailboxes: Arc<Mailboxes>,
}

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
        Transport::with_timing(
            TurnTiming::with_timeout(turn_timeout),
            max_reply_bytes,
            policy,
        )
    }

    pub fn with_timing(
        timing: TurnTiming,
        max_reply_bytes: usize,
        policy: NetworkPolicy,
    ) -> Transport {
        let client = guarded_client(timing.timeout, policy);
        Transport {
            client,
            timing,
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
        self.timing.timeout
    }

    pub fn timing(&self) -> TurnTiming {
        self.timing
    }

    /// Sends `message` as conversation `psid` and returns the merchant's
    /// first replies: for messages whose answer needs no more.
    pub async fn send(
        &self,
        endpoint: &MerchantEndpoint,
        psid: &str,
        message: &ShopperMessage,
    ) -> Result<Vec<OutgoingMessage>, MerchantError> {
        self.exchange(endpoint, psid, message, &first_reply_completes)
            .await
    }

    /// Sends `message` as conversation `psid` and returns the merchant's
    /// turn: its synchronous replies, then what it sends through the Send
    /// API until `complete` says the turn is done (and [`TurnTiming::settle`]
    /// has passed), or it goes quiet, or the turn times out.
    pub async fn exchange(
        &self,
        endpoint: &MerchantEndpoint,
        psid: &str,
        message: &ShopperMessage,
        complete: TurnComplete<'_>,
    ) -> Result<Vec<OutgoingMessage>, MerchantError> {
        let url = self
            .policy
            .for_merchant(endpoint.served_here)
            .check_url(&endpoint.url)
            .map_err(|reason| protocol(endpoint, format!("endpoint refused: {reason}")))?;
        let started = tokio::time::Instant::now();
        // Open the mailbox before sending: a Send API bot may answer before
        // its webhook response.
        let mailbox = self.mailboxes.open(psid, &endpoint.merchant_id);
        let event = webhook_event(endpoint, psid, message);
        let body = serde_json::to_vec(&event).map_err(|e| protocol(endpoint, e.to_string()))?;
        let (status, bytes) =
            tokio::time::timeout(self.timing.timeout, self.post(endpoint, url, body))
                .await
                .map_err(|_| MerchantError::Timeout {
                    merchant: endpoint.merchant_id.clone(),
                    millis: self.timing.timeout.as_millis() as u64,
                })??;
        if !status.is_success() {
            let snippet: String = String::from_utf8_lossy(&bytes).chars().take(200).collect();
            return Err(protocol(endpoint, format!("HTTP {status}: {snippet}")));
        }
        // Concierge's synchronous-reply JSON carries the replies; any other
        // 2xx body ("EVENT_RECEIVED", "OK", nothing) means they come through
        // the Send API, as from every Messenger bot.
        let synchronous: Vec<OutgoingMessage> = serde_json::from_slice::<SyncReply>(&bytes)
            .map(|reply| {
                // Only messages for this conversation count; a merchant
                // cannot speak into another conversation through this reply.
                reply
                    .messages
                    .into_iter()
                    .filter(|m| m.recipient.id == psid)
                    .map(|m| m.message)
                    .collect()
            })
            .unwrap_or_default();
        if !synchronous.is_empty() && complete(&synchronous) {
            return Ok(synchronous);
        }
        self.read_turn(endpoint, &mailbox, synchronous, started, complete)
            .await
    }

    /// POSTs a signed event and reads the bounded answer.
    async fn post(
        &self,
        endpoint: &MerchantEndpoint,
        url: reqwest::Url,
        body: Vec<u8>,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), MerchantError> {
        let signature = sign(&endpoint.app_secret, &body);
        let legacy_signature = sign_sha1(&endpoint.app_secret, &body);
        let mut response = self
            .client
            .post(url)
            .header(SIGNATURE_HEADER, signature)
            .header(SHA1_SIGNATURE_HEADER, legacy_signature)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| transport(endpoint, e, self.timing.timeout))?;
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
            .map_err(|e| transport(endpoint, e, self.timing.timeout))?
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
    }

    /// Waits for the merchant's next turn in conversation `psid`, without
    /// sending anything (after a greeting, say).
    pub async fn receive(
        &self,
        endpoint: &MerchantEndpoint,
        psid: &str,
        complete: TurnComplete<'_>,
    ) -> Result<Vec<OutgoingMessage>, MerchantError> {
        let mailbox = self.mailboxes.open(psid, &endpoint.merchant_id);
        self.read_turn(
            endpoint,
            &mailbox,
            Vec::new(),
            tokio::time::Instant::now(),
            complete,
        )
        .await
    }

    /// Reads Send API messages into `messages` until the turn is over (see
    /// [`TurnTiming`]). Typing indicators keep an open turn going.
    async fn read_turn(
        &self,
        endpoint: &MerchantEndpoint,
        mailbox: &Inbox,
        mut messages: Vec<OutgoingMessage>,
        started: tokio::time::Instant,
        complete: TurnComplete<'_>,
    ) -> Result<Vec<OutgoingMessage>, MerchantError> {
        let deadline = started + self.timing.timeout;
        let mut receiver = mailbox.lock().await;
        let mut last_activity = tokio::time::Instant::now();
        while messages.len() < MAX_MESSAGES_PER_TURN {
            let until = if messages.is_empty() {
                deadline
            } else if complete(&messages) {
                last_activity + self.timing.settle
            } else {
                last_activity + self.timing.quiet
            };
            match tokio::time::timeout_at(until.min(deadline), receiver.recv()).await {
                Ok(Some(MailItem::Message(message))) => {
                    messages.push(message);
                    last_activity = tokio::time::Instant::now();
                }
                Ok(Some(MailItem::Typing)) => last_activity = tokio::time::Instant::now(),
                Ok(Some(MailItem::Seen)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if messages.is_empty() {
            return Err(MerchantError::Timeout {
                merchant: endpoint.merchant_id.clone(),
                millis: self.timing.timeout.as_millis() as u64,
            });
        }
        Ok(messages)
    }
}

/// The webhook event carrying `message` in conversation `psid`.
fn webhook_event(
    endpoint: &MerchantEndpoint,
    psid: &str,
    message: &ShopperMessage,
) -> WebhookEvent {
    let now = now_millis();
    let mid = format!(
        "m_{}_{now}",
        crate::merchant::messenger::signature::random_token(6)
    );
    let (incoming, postback) = match message {
        ShopperMessage::Text {
            text,
            quick_reply_payload,
            payment,
        } => (
            Some(IncomingMessage {
                mid,
                text: Some(text.clone()),
                quick_reply: quick_reply_payload
                    .clone()
                    .map(|payload| QuickReplyTap { payload }),
                payment: payment.clone(),
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
    WebhookEvent::single(&endpoint.page_id, psid, now, incoming, postback)
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
    crate::http::client_builder()
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
