//! The Universal Commerce Protocol (UCP, version 2026-01-11, REST
//! binding), on both sides:
//!
//! - [`wire`]: the JSON of discovery, checkout sessions, the complete
//!   request, orders and errors;
//! - [`server`]: the reference merchant ([`UcpMerchant`]), a small business's
//!   checkout API over its feed: discovery at `/.well-known/ucp`, checkout
//!   sessions with shipping, tax and discount codes, completion paid with
//!   Concierge's allowance, orders;
//! - [`client`]: bounded HTTP exchanges with a UCP business, and
//!   [`discover`] for registration;
//! - [`buyer`]: [`UcpProtocol`], Concierge's side of the seam
//!   ([`crate::merchant::protocol::MerchantProtocol`]): one checkout session
//!   per negotiation, read into an [`crate::order::Invoice`];
//! - [`conformance`]: the official conformance suite's flower shop as a
//!   reference merchant, for running the suite against it.
//!
//! # How Concierge's payment rides in UCP
//!
//! UCP leaves payment to *handlers*: a business lists the handlers it takes
//! (`payment.handlers` in its profile and in each session), and the platform
//! completes a checkout with an *instrument* of one of them, whose
//! `credential` the handler defines (payment-handler-guide.md). Concierge's
//! credential is its one-time payment authorisation
//! ([`PaymentAuthorization`](crate::merchant::messenger::wire::PaymentAuthorization)):
//! a token usable once, at one business, for one checkout, up to an amount,
//! before an expiry. It rides as the handler `dev.concierge.allowance`:
//!
//! ```json
//! POST /checkout-sessions/chk_1/complete
//! Idempotency-Key: <UUID derived from the authorisation's idempotency key>
//!
//! {"payment_data": {
//!    "id": "allowance_<same UUID>",
//!    "handler_id": "concierge_allowance",
//!    "type": "allowance",
//!    "credential": {
//!      "type": "allowance_token",
//!      "token": "tok_…",
//!      "idempotency_key": "merchant:conversation:chk_1",
//!      "allowance": {"reason": "one_time", "max_amount": 2164, "currency": "USD",
//!                    "checkout_session_id": "chk_1", "merchant_id": "harbor",
//!                    "expires_at": 1767225600},
//!      "binding": {"checkout_id": "chk_1"}}}}
//! ```
//!
//! - The business declares the handler (`name` `dev.concierge.allowance`,
//!   instance `id` of its choosing, `config.merchant_id` the id it accepts in
//!   allowances) and serves the handler's spec and schemas under
//!   `/ucp/handlers/allowance`. The platform finds it by name and uses the
//!   business's `id` as `handler_id`.
//! - The credential is a UCP token credential (`type` + `token`, extra
//!   fields allowed) with UCP's own `binding` to the checkout, and the
//!   allowance as its expiry and limits, as the guide asks of token
//!   credentials.
//! - It is AP2-shaped without AP2's signatures: AP2 places the *payment
//!   mandate* in the instrument's credential and a signed *checkout
//!   mandate* in `ap2.checkout_mandate`. The allowance is Concierge's payment
//!   mandate (intent-bound, amount-limited, single-use, expiring, bound to
//!   one checkout and business); Concierge holds no signing key, so neither
//!   side negotiates `dev.ucp.shopping.ap2_mandate` and nothing is signed.
//!   What binds the payment is the allowance's limits, checked by the
//!   business, and the orchestration's own checks before it authorises.
//! - The business charges the token at most once per session, and only when
//!   the allowance names this business, this session and the session's
//!   currency, covers the session's total and has not expired. A second
//!   complete carrying the same authorisation (same token and idempotency
//!   key) is answered with the same completed session and order, not a
//!   second charge; any other complete of a completed session is 409.
//! - 2026-04-08 businesses take the same instrument as the selected entry of
//!   `payment.instruments`; the buyer writes that shape to businesses that
//!   speak that version, and both sides read either.
//!
//! # A business that takes no allowance
//!
//! A business's other handlers (a wallet such as `com.google.pay`, a card
//! network) need credentials only they issue; Concierge never presents its
//! allowance, or anything else, as one of them. Its invoice is still read
//! and checked, then declined: the report's "way to agree" check names the
//! handlers the business takes and says nothing was paid.
//!
//! **Sandbox payments** (off by default). The UCP project's conformance
//! suite and reference samples declare a test handler, `dev.ucp.mock_payment`,
//! whose configuration publishes its test tokens (`"supported_tokens":
//! ["success_token", "fail_token"]`); it moves no money. With
//! `CONCIERGE_UCP_SANDBOX_PAYMENTS=1` (read once per process;
//! [`UcpSettings::sandbox_payments`]), a business that takes no allowance
//! but declares that handler, listing `success_token`, is paid with it: a
//! card instrument of that handler (a test card, brand `test`, digits
//! `0000`) whose token credential is `success_token`, bound to the checkout.
//! Everything else holds as for the allowance: the invoice passed every
//! check and the mandate, the session is read again before complete and not
//! completed above the authorised amount or in another currency, a
//! completion above it is not accepted as paid, and the payment is kept
//! (with the authorisation's limits beside it) before it leaves, so
//! reconciliation sends the same request again. Concierge's own token never
//! goes to another handler. Use it only against test deployments.
//!
//! # What the buyer tolerates and sends
//!
//! Found against the UCP project's reference samples (docs/ucp-interop.md):
//! members written `null` read as absent; a fulfilment option priced with a
//! plain `total`; `Request-Signature` sent as [`client::UNSIGNED`] (the
//! 2026-01-11 OpenAPI requires it, Concierge holds no key); items asked with
//! their catalog title and methods updated with their type, as the
//! specification's examples and the 2026-01-11 SDK models do; an empty
//! `risk_signals` in complete; shipping asked for whenever the business
//! offers fulfilment, with the shopper's address in parts when
//! `CONCIERGE_SHIPPING_ADDRESS` is a JSON postal address (a business prices
//! shipping by country); a session that stays `incomplete` with no message
//! is completable, one whose fulfilment is not settled never is.
pub mod buyer;
pub mod catalog;
pub mod client;
pub mod conformance;
pub mod server;
pub mod wire;

pub use buyer::{UcpCheckout, UcpProtocol};
pub use client::{discover, UcpSettings};
pub use conformance::{conformance_merchant, load_conformance_shop};
pub use server::{
    app, DiscountCode, DiscountKind, ServiceLevel, ShippingRate, UcpCharge, UcpMerchant,
    UcpMerchantConfig,
};
pub use wire::UcpProfile;

use crate::merchant::protocol::{
    Charge, MerchantEndpoint, ProtocolEntry, ReferenceMerchant, Verified,
};
use crate::merchant::registry::Verification;
use std::sync::Arc;

/// UCP, on both sides: checkout sessions with a business's REST API, and
/// the reference merchant.
pub const PROTOCOL: ProtocolEntry = ProtocolEntry {
    name: "ucp",
    buyer: |parts| {
        Arc::new(UcpProtocol::new(
            parts.client.clone(),
            parts.policy,
            parts.timeout,
        ))
    },
    verify: |verification| Box::pin(verify(verification)),
    reference: |catalog, _secret| UcpMerchant::from_profile(catalog.profile, catalog.products),
};

/// Registration's check: the endpoint's origin serves a UCP profile with
/// the checkout capability; when it takes Concierge's allowance, the
/// merchant id its handler accepts is the one being registered. Says
/// whether the business searches its own catalog.
async fn verify(verification: &Verification<'_>) -> Result<Verified, String> {
    let profile = discover(verification.client, verification.url.as_str())
        .await
        .map_err(|error| format!("no UCP profile at /.well-known/ucp: {error}"))?;
    let accepted = profile
        .handler_named(ALLOWANCE_HANDLER)
        .and_then(|handler| handler.config.get("merchant_id"))
        .and_then(serde_json::Value::as_str);
    match accepted {
        Some(id) if id != verification.merchant_id => Err(format!(
            "its {ALLOWANCE_HANDLER} handler accepts allowances for merchant id {id:?}: register it under that id (--id {id})"
        )),
        _ => Ok(Verified {
            catalog_search: profile.has_capability(CATALOG_SEARCH),
        }),
    }
}

/// The capability of a business that searches its own catalog.
pub const CATALOG_SEARCH: &str = "dev.ucp.shopping.catalog.search";
/// The capability of a business that looks products up by id.
pub const CATALOG_LOOKUP: &str = "dev.ucp.shopping.catalog.lookup";

/// The payment handler Concierge's allowance rides in.
pub const ALLOWANCE_HANDLER: &str = "dev.concierge.allowance";

impl ReferenceMerchant for UcpMerchant {
    fn router(self: Arc<Self>) -> axum::Router {
        app(self)
    }

    fn endpoint(&self, base: &str) -> MerchantEndpoint {
        let profile = &self.config().profile;
        MerchantEndpoint {
            merchant_id: profile.id.clone(),
            name: profile.name.clone(),
            protocol: "ucp".into(),
            url: base.trim_end_matches('/').to_string(),
            app_secret: String::new(),
            page_id: String::new(),
            served_here: false,
            live_catalog: false,
        }
    }

    fn charges(&self) -> Vec<Charge> {
        UcpMerchant::charges(self)
            .into_iter()
            .map(|charge| Charge {
                order_number: charge.checkout_session_id,
                amount: charge.amount,
                token: charge.token,
                idempotency_key: charge.idempotency_key,
                refunded: false,
            })
            .collect()
    }

    fn details(&self, base: &str) -> Vec<(&'static str, String)> {
        let base = base.trim_end_matches('/');
        vec![
            ("endpoint", base.to_string()),
            ("profile", format!("{base}/.well-known/ucp")),
            (
                "catalog",
                format!("{base}/catalog/search (registered without --feed, it is searched at each request)"),
            ),
        ]
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}
