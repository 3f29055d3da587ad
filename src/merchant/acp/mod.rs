//! The Agentic Commerce Protocol (ACP), checkout API version 2026-04-17, on
//! both sides: the wire types (`wire.rs`), the reference merchant a business
//! can run (`server.rs`: [`AcpMerchant`] and its routes, [`app`], served by
//! `merchant serve --protocol acp` like every reference merchant), and
//! Concierge's buyer (`client.rs`: [`AcpProtocol`], [`probe`];
//! `buyer.rs`: [`AcpCheckout`], one checkout session per conversation).
//!
//! # How the buyer talks
//!
//! `negotiate` creates a session with the wanted items (each item's variant
//! id, else its product id, listed once per unit: the 2026-04-17 `Item` has
//! no quantity), selects the cheapest fulfilment option that delivers
//! (shipping, digital or local delivery; never pickup) and reads the totals
//! into an [`crate::order::Invoice`] whose order number is the checkout
//! session id. Error messages, `requires_escalation`,
//! `authentication_required` (Concierge does no 3-D Secure), line items
//! that are not what was asked, or a currency that is not the catalog's end
//! the negotiation as failed, with the merchant's words. Concierge agrees
//! only to a session that is `ready_for_payment`.
//!
//! # Where the allowance rides
//!
//! Concierge's [`crate::merchant::messenger::wire::PaymentAuthorization`]
//! is the delegated payment. In ACP an agent hands the card to a payment
//! service (`POST /agentic_commerce/delegate_payment`, with an `allowance`)
//! and gets a token the merchant may charge within that allowance only.
//! Concierge is that service for its shoppers, so the token and its
//! allowance travel together, in the complete request's credential:
//!
//! ```json
//! {"payment_data": {
//!    "handler_id": "card_tokenized",
//!    "instrument": {"type": "card", "credential": {
//!       "type": "spt", "token": "tok_...",
//!       "allowance": {"reason": "one_time", "max_amount": 2164, "currency": "usd",
//!                     "checkout_session_id": "cs_1", "merchant_id": "alpha",
//!                     "expires_at": "2026-04-17T10:00:00Z"}}}}}
//! ```
//!
//! The allowance is exactly delegate_payment's `Allowance` (its currency
//! lowercase, `expires_at` RFC 3339); the checkout schema leaves the
//! credential open to further fields, so the request stays valid. A
//! merchant charges the token at most once, for at most `max_amount`, in
//! that currency, for that session, before it expires, and refuses
//! otherwise with a `payment_declined` message.
//!
//! The complete request goes under an `Idempotency-Key` derived from the
//! authorisation's idempotency key and the session id, is stored before it
//! is sent, and is sent again unchanged (same key) when its answer was
//! lost. Before sending it, the buyer reads the session again and refuses
//! to pay one whose total rose above the allowance; a completed answer above
//! the allowance, in another currency or for another session is not taken
//! as paid.
//!
//! ACP cancels checkout sessions, not orders: a completed order cannot be
//! cancelled through it.
pub mod buyer;
pub mod client;
pub mod server;
pub mod wire;

pub use buyer::AcpCheckout;
pub use client::{probe, AcpProtocol, StoredPayment};
pub use server::{app, AcpMerchant, Charge, Discount};
pub use wire::API_VERSION;

use crate::merchant::protocol::{MerchantEndpoint, ProtocolEntry, ReferenceMerchant};
use crate::merchant::registry::Verification;
use std::sync::Arc;

/// ACP, on both sides: checkout sessions with a business's API, paid with
/// a delegated allowance, and the reference merchant.
pub const PROTOCOL: ProtocolEntry = ProtocolEntry {
    name: "acp",
    buyer: |parts| {
        Arc::new(AcpProtocol::with_client(
            parts.client.clone(),
            parts.policy,
            parts.timeout,
        ))
    },
    verify: |verification| {
        Box::pin(async move {
            verify(verification).await?;
            Ok(crate::merchant::protocol::Verified::default())
        })
    },
    reference: |catalog, secret| {
        Arc::new(AcpMerchant::new(catalog.profile, catalog.products, secret))
    },
};

/// Registration's check: the endpoint answers the checkout API with the
/// API key given.
async fn verify(verification: &Verification<'_>) -> Result<(), String> {
    let api_key = verification
        .registration
        .api_key
        .as_deref()
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or("an ACP merchant needs the API key Concierge is to send (api_key)")?;
    probe(
        verification.client,
        verification.url.as_str(),
        api_key,
        Some(verification.merchant_id),
    )
        .await
        .map_err(|error| error.to_string())
}

impl ReferenceMerchant for AcpMerchant {
    fn router(self: Arc<Self>) -> axum::Router {
        app(self)
    }

    fn endpoint(&self, base: &str) -> MerchantEndpoint {
        let profile = self.profile();
        MerchantEndpoint {
            merchant_id: profile.id.clone(),
            name: profile.name.clone(),
            protocol: "acp".into(),
            url: base.trim_end_matches('/').to_string(),
            app_secret: self.api_key().to_string(),
            page_id: String::new(),
            served_here: false,
            live_catalog: false,
        }
    }

    fn charges(&self) -> Vec<crate::merchant::protocol::Charge> {
        AcpMerchant::charges(self)
            .into_iter()
            .map(|charge| crate::merchant::protocol::Charge {
                order_number: charge.checkout_session_id,
                amount: charge.amount,
                token: charge.token,
                idempotency_key: charge.idempotency_key,
                refunded: false,
            })
            .collect()
    }

    fn details(&self, base: &str) -> Vec<(&'static str, String)> {
        vec![
            ("endpoint", base.trim_end_matches('/').to_string()),
            ("api key", self.api_key().to_string()),
        ]
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}
