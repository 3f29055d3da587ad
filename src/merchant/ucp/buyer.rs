//! Concierge's side of UCP: [`UcpProtocol`] opens one [`UcpCheckout`] per
//! merchant. A negotiation discovers the business (cached per base URL),
//! creates a checkout session with the wanted items, gives the shipping
//! address when one is configured, chooses the cheapest fulfilment option of
//! each group, and reads the session into an [`Invoice`]. It never guesses:
//! a session that needs the buyer elsewhere (`requires_escalation`), carries
//! an error it cannot fix through the API, holds other items than asked, or
//! whose totals do not add up ends as [`SessionState::Failed`] with the
//! merchant's words.
//!
//! Paying sends the complete request [`UcpCheckout::payment`] made (the
//! allowance as the `dev.concierge.allowance` instrument, see [`super`])
//! under an `Idempotency-Key` derived from the authorisation's own key, so
//! sending it again is the same request. Before it leaves, the session is
//! read once more: a total above the authorised amount, another currency or
//! a session no longer ready is refused without sending the credential.

use super::catalog::{
    read_products, PageRequest, PriceFilter, SearchContext, SearchFilters, SearchRequest,
    MAX_PRODUCTS_READ,
};
use super::client::{
    derived_uuid, protocol, speaks_later_version, Answer, Target, UcpClient, UcpSettings,
};
use super::wire::*;
use crate::error::MerchantError;
use crate::merchant::messenger::wire::PaymentAuthorization;
use crate::merchant::network::NetworkPolicy;
use crate::catalog::feed::FeedProduct;
use crate::merchant::protocol::{
    CancelReply, CatalogQuery, MerchantEndpoint, MerchantProtocol, Negotiation, Opening, PaymentReply,
    SessionState, ShopperChoices, Speaker, TranscriptLine, Wanted,
};
use crate::money::Money;
use crate::order::{Invoice, InvoiceLine, OrderRecord};
use async_trait::async_trait;
use reqwest::{Method, Url};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How long a discovered profile is reused.
const PROFILE_TTL: Duration = Duration::from_secs(300);
/// Most updates sent while settling a session (address, then options).
const MAX_UPDATES: u32 = 4;
/// How often a session completing in the background is read again.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// UCP as a [`MerchantProtocol`] ("ucp").
#[derive(Clone)]
pub struct UcpProtocol {
    inner: Arc<Inner>,
}

struct Inner {
    client: UcpClient,
    profiles: Mutex<HashMap<String, (UcpProfile, Instant)>>,
}

impl UcpProtocol {
    /// `client` should come from `guarded_client(timeout, policy)` (or
    /// `crate::http`), so names resolve only to addresses `policy` allows;
    /// `request_timeout` bounds each exchange.
    pub fn new(
        client: reqwest::Client,
        policy: NetworkPolicy,
        request_timeout: Duration,
    ) -> UcpProtocol {
        UcpProtocol::with_settings(client, UcpSettings::new(policy, request_timeout))
    }

    pub fn with_settings(client: reqwest::Client, settings: UcpSettings) -> UcpProtocol {
        UcpProtocol {
            inner: Arc::new(Inner {
                client: UcpClient::new(client, settings),
                profiles: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// A negotiation with `endpoint`, as its concrete type.
    pub fn checkout(&self, endpoint: &MerchantEndpoint, opening: Opening) -> UcpCheckout {
        UcpCheckout {
            inner: self.inner.clone(),
            endpoint: endpoint.clone(),
            opening,
            state: SessionState::Talking,
            invoice: None,
            failure: None,
            transcript: Vec::new(),
            session: None,
            rest: None,
            version: UCP_VERSION.into(),
            payer: None,
            handlers_named: Vec::new(),
            fulfils: false,
            ready: false,
            closed: false,
        }
    }
}

impl Inner {
    fn deadline(&self) -> Instant {
        Instant::now() + self.client.settings().request_timeout
    }

    /// The business's profile and REST endpoint, from the cache while fresh.
    async fn profile(
        &self,
        endpoint: &MerchantEndpoint,
        deadline: Instant,
    ) -> Result<(UcpProfile, Url, bool), MerchantError> {
        let target = target(endpoint);
        let cached = lock(&self.profiles)
            .get(&endpoint.url)
            .filter(|(_, fetched)| fetched.elapsed() < PROFILE_TTL)
            .map(|(profile, _)| profile.clone());
        let fetched = cached.is_none();
        let profile = match cached {
            Some(profile) => profile,
            None => {
                let profile = self
                    .client
                    .discover(target, &endpoint.url, deadline)
                    .await?;
                let mut profiles = lock(&self.profiles);
                if profiles.len() > 1000 {
                    profiles.retain(|_, (_, fetched)| fetched.elapsed() < PROFILE_TTL);
                }
                profiles.insert(endpoint.url.clone(), (profile.clone(), Instant::now()));
                profile
            }
        };
        let Some(rest) = profile.rest_endpoint() else {
            return Err(protocol(
                &endpoint.merchant_id,
                "the UCP profile names no REST endpoint for dev.ucp.shopping".into(),
            ));
        };
        let rest = self.client.rest_endpoint(target, &endpoint.url, rest)?;
        Ok((profile, rest, fetched))
    }

    /// Sends a stored complete request and reads what became of it.
    async fn complete(
        &self,
        endpoint: &MerchantEndpoint,
        rest: &Url,
        stored: &StoredPayment,
        authorised: i64,
        transcript: &mut Vec<TranscriptLine>,
    ) -> Result<PaymentReply, MerchantError> {
        let target = target(endpoint);
        let session_url = UcpClient::url(rest, &["checkout-sessions", &stored.session_id]);
        let complete_url =
            UcpClient::url(rest, &["checkout-sessions", &stored.session_id, "complete"]);
        let answer = self
            .client
            .checkout(
                target,
                Method::POST,
                complete_url,
                Some(&stored.request),
                Some(&stored.header_key),
                self.deadline(),
            )
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                say(
                    transcript,
                    Speaker::Concierge,
                    format!(
                        "complete checkout {}: no answer ({error})",
                        stored.session_id
                    ),
                );
                return Err(error);
            }
        };
        let mut checkout = match answer {
            Answer::Ok(checkout) => checkout,
            Answer::Refused { status, message } => {
                // Completed already (perhaps by this very payment, whose
                // answer was lost): the session says which order it made.
                if status == 409 {
                    if let Ok(Answer::Ok(checkout)) = self
                        .client
                        .checkout(
                            target,
                            Method::GET,
                            session_url.clone(),
                            None::<&()>,
                            None,
                            self.deadline(),
                        )
                        .await
                    {
                        if checkout.status == CheckoutStatus::Completed {
                            return Ok(read_completion(&checkout, stored, authorised, transcript));
                        }
                    }
                }
                say(
                    transcript,
                    Speaker::Merchant,
                    format!(
                        "refused to complete checkout {}: {message} (HTTP {status})",
                        stored.session_id
                    ),
                );
                return Ok(PaymentReply::Refused(message));
            }
        };
        // Completing in the background: read the session until it settles,
        // within the request timeout.
        let until = self.deadline();
        while checkout.status == CheckoutStatus::CompleteInProgress {
            if Instant::now() + POLL_EVERY >= until {
                say(
                    transcript,
                    Speaker::Merchant,
                    format!("checkout {} is still completing", stored.session_id),
                );
                return Err(MerchantError::Timeout {
                    merchant: endpoint.merchant_id.clone(),
                    millis: self.client.settings().request_timeout.as_millis() as u64,
                });
            }
            tokio::time::sleep(POLL_EVERY).await;
            match self
                .client
                .checkout(
                    target,
                    Method::GET,
                    session_url.clone(),
                    None::<&()>,
                    None,
                    until,
                )
                .await?
            {
                Answer::Ok(next) => checkout = next,
                Answer::Refused { message, .. } => return Ok(PaymentReply::Refused(message)),
            }
        }
        Ok(read_completion(&checkout, stored, authorised, transcript))
    }
}

/// What a session after a complete says about the payment.
fn read_completion(
    checkout: &Checkout,
    stored: &StoredPayment,
    authorised: i64,
    transcript: &mut Vec<TranscriptLine>,
) -> PaymentReply {
    let currency = stored.currency.clone();
    let total = checkout.total_of(TotalType::Total);
    let reply = match (checkout.status, checkout.order_id(), total) {
        (CheckoutStatus::Completed, Some(order), Some(total))
            if total <= authorised && checkout.currency.eq_ignore_ascii_case(&currency) =>
        {
            PaymentReply::Confirmed(format!(
                "Order {order} is placed: checkout {} completed, total {}.",
                checkout.id,
                Money::new(total, currency.clone())
            ))
        }
        (CheckoutStatus::Completed, Some(order), Some(total)) => PaymentReply::Refused(format!(
            "the merchant completed order {order} at {} {}, above the {} authorised; not accepted as paid",
            Money::new(total, checkout.currency.clone()),
            checkout.currency,
            Money::new(authorised, currency.clone())
        )),
        (CheckoutStatus::Completed, _, _) => PaymentReply::Refused(
            "the merchant says the checkout is completed but names no order and total".into(),
        ),
        (status, _, _) => PaymentReply::Refused(
            error_text(checkout).unwrap_or_else(|| {
                format!("the merchant did not complete the checkout (status {})", status.as_str())
            }),
        ),
    };
    let line = match &reply {
        PaymentReply::Confirmed(_) => format!(
            "completed checkout {}: order {}, total {}",
            checkout.id,
            checkout.order_id().unwrap_or_default(),
            Money::new(total.unwrap_or_default(), currency)
        ),
        PaymentReply::Refused(why) | PaymentReply::Pending(why) => {
            format!("did not complete checkout {}: {why}", checkout.id)
        }
    };
    say(transcript, Speaker::Merchant, line);
    reply
}

#[async_trait]
impl MerchantProtocol for UcpProtocol {
    fn name(&self) -> &'static str {
        "ucp"
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
        let stored =
            StoredPayment::parse(payment).map_err(|why| protocol(&endpoint.merchant_id, why))?;
        let (_, rest, _) = self.inner.profile(endpoint, self.inner.deadline()).await?;
        let authorised = amount_minor.min(stored.max_amount);
        self.inner
            .complete(endpoint, &rest, &stored, authorised, &mut Vec::new())
            .await
    }

    async fn cancel(
        &self,
        endpoint: &MerchantEndpoint,
        order: &OrderRecord,
    ) -> Result<CancelReply, MerchantError> {
        // UCP 2026-01-11 gives the buyer no order operation but reading it
        // (order.md: events and adjustments are the business's to send).
        Ok(CancelReply::Refused(format!(
            "UCP has no way for a buyer to cancel a placed order: ask {} to cancel order {} on its own site",
            endpoint.name, order.order_number
        )))
    }

    /// Reads the order the checkout made: the session (the order is
    /// recorded under it) names the order, whose latest fulfilment event
    /// says where it stands.
    async fn order_status(
        &self,
        endpoint: &MerchantEndpoint,
        order: &OrderRecord,
    ) -> Result<Option<String>, MerchantError> {
        let deadline = self.inner.deadline();
        let (_, rest, _) = self.inner.profile(endpoint, deadline).await?;
        let session_url = UcpClient::url(&rest, &["checkout-sessions", &order.order_number]);
        let session = match self
            .inner
            .client
            .checkout(
                target(endpoint),
                Method::GET,
                session_url,
                None::<&()>,
                None,
                deadline,
            )
            .await?
        {
            Answer::Ok(session) => session,
            Answer::Refused { message, .. } => return Ok(Some(message)),
        };
        let Some(order_id) = session
            .order
            .as_ref()
            .map(|order| order.id.clone())
            .or_else(|| session.order_id.clone())
        else {
            return Ok(Some(format!(
                "checkout {} is {}",
                session.id,
                session.status.as_str()
            )));
        };
        let order_url = UcpClient::url(&rest, &["orders", &order_id]);
        Ok(Some(
            match self
                .inner
                .client
                .order(target(endpoint), order_url, deadline)
                .await?
            {
                Answer::Ok(order) => describe_order(&order),
                Answer::Refused { message, .. } => format!("order {order_id}: {message}"),
            },
        ))
    }

    async fn search_catalog(
        &self,
        endpoint: &MerchantEndpoint,
        query: &CatalogQuery,
    ) -> Result<Vec<FeedProduct>, MerchantError> {
        let deadline = self.inner.deadline();
        let (profile, rest, _) = self.inner.profile(endpoint, deadline).await?;
        if !profile.has_capability(super::CATALOG_SEARCH) {
            return Err(protocol(
                &endpoint.merchant_id,
                format!(
                    "its UCP profile no longer declares {}",
                    super::CATALOG_SEARCH
                ),
            ));
        }
        let request = catalog_request(query);
        let url = UcpClient::url(&rest, &["catalog", "search"]);
        let response = self
            .inner
            .client
            .catalog_search(target(endpoint), url, &request, deadline)
            .await?;
        Ok(read_products(&response).products)
    }
}

/// The search a [`CatalogQuery`] asks: the product's words, the request as
/// the buyer's intent, the price bounds in the request's currency.
pub fn catalog_request(query: &CatalogQuery) -> SearchRequest {
    let price = (query.min_price.is_some() || query.max_price.is_some()).then_some(PriceFilter {
        min: query.min_price,
        max: query.max_price,
    });
    SearchRequest {
        query: Some(query.text.trim().to_string()),
        context: Some(SearchContext {
            currency: query.currency.clone(),
            intent: Some(query.request.clone()).filter(|r| !r.trim().is_empty()),
            ..SearchContext::default()
        }),
        filters: price.map(|price| SearchFilters {
            categories: Vec::new(),
            price: Some(price),
        }),
        pagination: Some(PageRequest {
            cursor: None,
            limit: Some(query.limit.clamp(1, MAX_PRODUCTS_READ) as u32),
        }),
    }
}

/// One checkout session with one business.
pub struct UcpCheckout {
    inner: Arc<Inner>,
    endpoint: MerchantEndpoint,
    opening: Opening,
    state: SessionState,
    invoice: Option<Invoice>,
    failure: Option<String>,
    transcript: Vec<TranscriptLine>,
    /// The session as last answered.
    session: Option<Checkout>,
    rest: Option<Url>,
    /// The business's UCP version.
    version: String,
    /// How this checkout can be paid, if at all.
    payer: Option<Payer>,
    /// The payment handlers the business named (name and id), for the
    /// reason when none of them is one Concierge can pay with.
    handlers_named: Vec<String>,
    /// Whether the business's profile offers the fulfilment extension.
    fulfils: bool,
    /// Whether the session is ready for complete.
    ready: bool,
    closed: bool,
}

/// What to do with a session as it stands.
enum Next {
    Done,
    Update(Box<CheckoutRequest>, String),
    Fail(String),
}

impl UcpCheckout {
    fn target(&self) -> Target<'_> {
        target(&self.endpoint)
    }

    fn fail(&mut self, reason: impl Into<String>) {
        self.state = SessionState::Failed;
        self.failure = Some(reason.into());
        self.ready = false;
    }

    fn say(&mut self, speaker: Speaker, text: String) {
        say(&mut self.transcript, speaker, text);
    }

    /// The wanted items' ids and quantities.
    fn wanted(&self) -> Vec<(String, u32)> {
        self.opening
            .items
            .iter()
            .map(|wanted| (item_id(wanted), wanted.quantity.max(1)))
            .collect()
    }

    async fn run(&mut self, deadline: Instant) -> Result<(), String> {
        if self.opening.items.is_empty() {
            return Err("nothing to buy".into());
        }
        let (profile, rest, fetched) = self
            .inner
            .profile(&self.endpoint, deadline)
            .await
            .map_err(|e| format!("no UCP profile: {e}"))?;
        self.say(
            Speaker::Merchant,
            format!(
                "{} {}: UCP {}, checkout at {rest}",
                if fetched {
                    "discovered"
                } else {
                    "known profile of"
                },
                self.endpoint.name,
                profile.ucp.version
            ),
        );
        if !profile.has_capability(CHECKOUT_CAPABILITY) {
            return Err("the merchant's UCP profile offers no checkout".into());
        }
        self.version = profile.ucp.version.clone();
        self.fulfils = profile.has_capability(FULFILLMENT_CAPABILITY);
        self.rest = Some(rest.clone());

        let request = self.create_request();
        let answer = self
            .inner
            .client
            .checkout(
                self.target(),
                Method::POST,
                UcpClient::url(&rest, &["checkout-sessions"]),
                Some(&request),
                Some(&super::client::random_uuid()),
                deadline,
            )
            .await;
        let mut checkout = self.answered("create a checkout", answer)?;
        self.say(
            Speaker::Merchant,
            format!("created checkout {}", describe(&checkout)),
        );
        let updates = MAX_UPDATES.min(self.opening.max_turns.max(1));
        for _ in 0..updates {
            match self.next_step(&checkout) {
                Next::Done => break,
                Next::Fail(reason) => return Err(reason),
                Next::Update(request, what) => {
                    let url = UcpClient::url(&rest, &["checkout-sessions", &checkout.id]);
                    let answer = self
                        .inner
                        .client
                        .checkout(
                            self.target(),
                            Method::PUT,
                            url,
                            Some(&*request),
                            Some(&super::client::random_uuid()),
                            deadline,
                        )
                        .await;
                    checkout = self.answered("update the checkout", answer)?;
                    self.say(
                        Speaker::Merchant,
                        format!("updated checkout {} ({what})", describe(&checkout)),
                    );
                }
            }
        }
        if let Next::Fail(reason) = self.next_step(&checkout) {
            return Err(reason);
        }
        if let Some(errors) = error_text(&checkout) {
            return Err(format!("the merchant's checkout is not complete: {errors}"));
        }
        self.check_items(&checkout)?;
        let mut invoice = read_invoice(&self.endpoint.merchant_id, &checkout)?;
        name_variants(&self.opening.items, &checkout, &mut invoice);
        // The session's own handlers say what this checkout takes, then
        // the profile's.
        let handlers: Vec<&PaymentHandler> =
            checkout.handlers().chain(profile.handlers()).collect();
        self.payer = choose_payer(&handlers, self.inner.client.settings().sandbox_payments);
        self.handlers_named = handlers
            .iter()
            .map(|h| format!("{} ({})", h.name, h.id))
            .fold(Vec::new(), |mut named, handler| {
                if !named.contains(&handler) {
                    named.push(handler);
                }
                named
            });
        if let Some(Payer::Sandbox { handler_name, .. }) = &self.payer {
            self.say(
                Speaker::Concierge,
                format!("sandbox payments are on: this checkout would be paid with {handler_name}'s test credential"),
            );
        }
        self.ready = completable(&checkout);
        self.invoice = Some(invoice);
        self.session = Some(checkout);
        self.state = SessionState::Invoiced;
        Ok(())
    }

    /// The session from an answer, or why there is none.
    fn answered(
        &mut self,
        what: &str,
        answer: Result<Answer<Checkout>, MerchantError>,
    ) -> Result<Checkout, String> {
        match answer {
            Ok(Answer::Ok(checkout)) => {
                if checkout.id.trim().is_empty() {
                    return Err("the merchant's checkout session has no id".into());
                }
                self.session = Some(checkout.clone());
                Ok(checkout)
            }
            Ok(Answer::Refused { status, message }) => {
                self.say(
                    Speaker::Merchant,
                    format!("refused to {what}: {message} (HTTP {status})"),
                );
                Err(message)
            }
            Err(error) => {
                self.say(Speaker::Concierge, format!("{what}: no answer ({error})"));
                Err(error.to_string())
            }
        }
    }

    fn create_request(&self) -> CheckoutRequest {
        CheckoutRequest {
            id: None,
            line_items: Some(
                self.opening
                    .items
                    .iter()
                    .map(|wanted| LineItemRequest {
                        id: None,
                        item: ItemRequest {
                            id: item_id(wanted),
                            title: item_title(wanted),
                        },
                        quantity: i64::from(wanted.quantity.max(1)),
                    })
                    .collect(),
            ),
            currency: self
                .opening
                .items
                .iter()
                .find_map(|w| w.currency.clone())
                .filter(|c| !c.trim().is_empty()),
            buyer: None,
            payment: Some(PaymentRequest::default()),
            // Shipping is asked for when the business offers fulfilment
            // (it prices nothing for a method nobody asked for) or when
            // there is an address to give; the address goes with it.
            fulfillment: (self.fulfils || self.address().is_some()).then(|| {
                let address = self.address();
                Fulfillment {
                    methods: vec![FulfillmentMethod {
                        kind: "shipping".into(),
                        destinations: address.iter().map(|a| destination(a)).collect(),
                        selected_destination_id: address.map(|_| DESTINATION_ID.into()),
                        ..Default::default()
                    }],
                    available_methods: Vec::new(),
                }
            }),
            discounts: None,
        }
    }

    fn address(&self) -> Option<String> {
        self.opening
            .items
            .iter()
            .find_map(|w| w.shipping_address.clone())
            .filter(|a| !a.trim().is_empty())
    }

    /// What the session needs next: the address given, an option chosen,
    /// or nothing; or why it cannot go on.
    fn next_step(&self, checkout: &Checkout) -> Next {
        match checkout.status {
            CheckoutStatus::Canceled => {
                return Next::Fail("the merchant canceled the checkout".into())
            }
            CheckoutStatus::Completed => {
                return Next::Fail("the checkout is already completed".into())
            }
            CheckoutStatus::RequiresEscalation => {
                let why = error_text(checkout)
                    .unwrap_or_else(|| "the merchant needs the shopper on its own site".into());
                let url = checkout
                    .continue_url
                    .as_deref()
                    .map(|u| format!(" ({u})"))
                    .unwrap_or_default();
                return Next::Fail(format!("the merchant needs the shopper: {why}{url}"));
            }
            _ => {}
        }
        // Errors Concierge cannot fix through the API end the session now.
        let fixable = |m: &Message| {
            m.severity == Some(Severity::Recoverable)
                && m.path.as_deref().is_some_and(|p| p.contains("fulfillment"))
        };
        if let Some(error) = checkout.errors().find(|m| !fixable(m)) {
            return Next::Fail(error.text().to_string());
        }
        let Some(fulfillment) = &checkout.fulfillment else {
            return Next::Done;
        };
        let address = self.address();
        let mut methods = Vec::new();
        let mut changes = Vec::new();
        for method in &fulfillment.methods {
            // The method's own type is echoed: the schema leaves it out of
            // updates, but businesses built on the 2026-01-11 SDK models
            // require it there, and it only repeats what the business said.
            let mut chosen = FulfillmentMethod {
                id: method.id.clone(),
                kind: method.kind.clone(),
                line_item_ids: method.line_item_ids.clone(),
                destinations: method.destinations.clone(),
                selected_destination_id: method.selected_destination_id.clone(),
                ..Default::default()
            };
            if method.kind.is_empty() || method.kind == "shipping" {
                let given = method.destinations.iter().any(|d| d.id == DESTINATION_ID);
                if method.selected_destination_id.is_none() && !given {
                    if let Some(address) = &address {
                        chosen.destinations = vec![destination(address)];
                        chosen.selected_destination_id = Some(DESTINATION_ID.into());
                        changes.push("shipping address given".to_string());
                    }
                }
            }
            for group in &method.groups {
                let selected = group
                    .selected_option_id
                    .as_ref()
                    .filter(|id| group.options.iter().any(|o| &o.id == *id));
                let selected = match selected {
                    Some(selected) => Some(selected.clone()),
                    None => {
                        let cheapest = group
                            .options
                            .iter()
                            .filter_map(|o| Some((o.cost()?, o)))
                            .min_by_key(|(cost, _)| *cost);
                        cheapest.map(|(cost, option)| {
                            changes.push(format!(
                                "chose {} at {}",
                                option.title,
                                Money::new(cost, checkout.currency.clone())
                            ));
                            option.id.clone()
                        })
                    }
                };
                chosen.groups.push(FulfillmentGroup {
                    id: group.id.clone(),
                    selected_option_id: selected,
                    ..Default::default()
                });
            }
            methods.push(chosen);
        }
        if changes.is_empty() {
            if let Some(error) = checkout.errors().next() {
                let asks_address = error
                    .path
                    .as_deref()
                    .is_some_and(|p| p.contains("destination"))
                    || error.text().to_lowercase().contains("address");
                if asks_address && address.is_none() {
                    return Next::Fail(
                        "the merchant asks for a shipping address and none is configured (CONCIERGE_SHIPPING_ADDRESS)".into(),
                    );
                }
                return Next::Fail(error.text().to_string());
            }
            return match unsettled_fulfillment(fulfillment, address.is_some()) {
                Some(reason) => Next::Fail(reason),
                None => Next::Done,
            };
        }
        let request = CheckoutRequest {
            id: Some(checkout.id.clone()),
            line_items: Some(
                checkout
                    .line_items
                    .iter()
                    .map(|line| LineItemRequest {
                        id: Some(line.id.clone()).filter(|id| !id.is_empty()),
                        item: ItemRequest {
                            id: line.item.id.clone(),
                            title: Some(line.item.title.clone())
                                .filter(|title| !title.trim().is_empty()),
                        },
                        quantity: i64::from(line.quantity),
                    })
                    .collect(),
            ),
            currency: Some(checkout.currency.clone()).filter(|c| !c.is_empty()),
            buyer: None,
            payment: Some(PaymentRequest::default()),
            fulfillment: Some(Fulfillment {
                methods,
                available_methods: Vec::new(),
            }),
            discounts: None,
        };
        Next::Update(Box::new(request), changes.join(", "))
    }

    /// The session holds exactly the items asked, in the quantities asked.
    fn check_items(&self, checkout: &Checkout) -> Result<(), String> {
        let mut wanted = self.wanted();
        wanted.sort();
        let mut held: Vec<(String, u32)> = checkout
            .line_items
            .iter()
            .map(|line| (line.item.id.clone(), line.quantity))
            .collect();
        held.sort();
        if wanted == held {
            return Ok(());
        }
        let list = |items: &[(String, u32)]| {
            items
                .iter()
                .map(|(id, quantity)| format!("{quantity} x {id}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(format!(
            "the merchant's checkout holds {}, not what was asked ({})",
            if held.is_empty() {
                "nothing".to_string()
            } else {
                list(&held)
            },
            list(&wanted)
        ))
    }
}

const DESTINATION_ID: &str = "concierge_destination";

/// Why a session's fulfilment is not settled, if it is not: a method with
/// no priced option chosen in every group (for want of an address, when
/// no destination is chosen). Such a session is never completed: the
/// business would refuse it, or ship nowhere. A business may price
/// shipping without an address (a flat rate); a destination the business
/// suggests itself is never chosen for the shopper.
fn unsettled_fulfillment(fulfillment: &Fulfillment, has_address: bool) -> Option<String> {
    for method in &fulfillment.methods {
        let settled = !method.groups.is_empty()
            && method.groups.iter().all(|g| g.selected_option_id.is_some());
        if settled {
            continue;
        }
        let shipping = method.kind.is_empty() || method.kind == "shipping";
        return Some(if shipping && method.selected_destination_id.is_none() {
            if has_address {
                "the merchant did not take the shipping address".into()
            } else {
                "the merchant asks for a shipping address and none is configured (CONCIERGE_SHIPPING_ADDRESS)".into()
            }
        } else {
            "the merchant offers no priced shipping option for the address given".into()
        });
    }
    None
}

/// Concierge's address as a shipping destination: its parts when it is
/// written as a JSON object of postal-address fields, else the one line
/// of text as the street address.
fn destination(address: &str) -> Destination {
    let parts = serde_json::from_str::<PostalAddress>(address.trim())
        .ok()
        .filter(|parts| parts != &PostalAddress::default());
    Destination {
        id: DESTINATION_ID.into(),
        address: parts.unwrap_or_else(|| PostalAddress {
            street_address: Some(address.trim().to_string()),
            ..Default::default()
        }),
    }
}

/// The id a line item names for `wanted`: the variant search chose, else
/// the product.
fn item_id(wanted: &Wanted) -> String {
    if wanted.variant_id.trim().is_empty() {
        wanted.product_code.trim().to_string()
    } else {
        wanted.variant_id.trim().to_string()
    }
}

/// The title a line item is asked with: the catalog's title of the
/// variant, else of the product. The schema marks an item's title as the
/// business's to write (`ucp_request: omit`), but the specification's own
/// request examples send it and businesses built from them read it; the
/// business's title in its answer is the one checked.
fn item_title(wanted: &Wanted) -> Option<String> {
    let title = wanted
        .variant_title
        .as_deref()
        .filter(|title| !title.trim().is_empty())
        .unwrap_or(&wanted.product_title)
        .trim();
    (!title.is_empty()).then(|| title.to_string())
}

/// Gives a line whose title does not say its variant (a feed's "Chaz
/// Hoodie-XS-Black" has no " - " before it) the catalog's options of the
/// variant its id names: the checkout holds exactly the item ids asked
/// ([`UcpCheckout::check_items`]), and an id is one variant.
fn name_variants(items: &[Wanted], checkout: &Checkout, invoice: &mut Invoice) {
    for (line, held) in invoice.lines.iter_mut().zip(&checkout.line_items) {
        if !line.subtitle.is_empty() {
            continue;
        }
        let Some(wanted) = items
            .iter()
            .find(|w| !w.variant_id.trim().is_empty() && w.variant_id.trim() == held.item.id)
        else {
            continue;
        };
        line.subtitle = [wanted.color_label.as_deref(), wanted.size_label.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|label| !label.is_empty())
            .collect::<Vec<_>>()
            .join(" / ");
    }
}

/// Reads a session's lines and totals into an invoice, or says why they
/// cannot be trusted.
pub fn read_invoice(merchant_id: &str, checkout: &Checkout) -> Result<Invoice, String> {
    let currency = checkout.currency.trim().to_uppercase();
    if currency.is_empty() {
        return Err("the checkout names no currency".into());
    }
    if checkout.line_items.is_empty() {
        return Err("the checkout lists no items".into());
    }
    let mut lines = Vec::new();
    for line in &checkout.line_items {
        if line.item.price < 0 || line.quantity == 0 {
            return Err(format!(
                "line {:?} has price {} and quantity {}",
                line.item.title, line.item.price, line.quantity
            ));
        }
        let amount = line.item.price.checked_mul(i64::from(line.quantity));
        if let Some(stated) = total_of(&line.totals, TotalType::Subtotal) {
            if amount != Some(stated) {
                return Err(format!(
                    "line {:?}: {} x {} is not its subtotal {}",
                    line.item.title,
                    line.quantity,
                    Money::new(line.item.price, currency.clone()),
                    Money::new(stated, currency.clone())
                ));
            }
        }
        let (title, subtitle) = split_title(&line.item.title);
        lines.push(InvoiceLine {
            title,
            subtitle,
            quantity: line.quantity,
            unit_price: line.item.price,
        });
    }
    let totals = &checkout.totals;
    let Some(total) = total_of(totals, TotalType::Total) else {
        return Err("the checkout states no total".into());
    };
    let sum = |kind| sum_of(totals, kind).ok_or("the totals overflow");
    let shipping = sum(TotalType::Fulfillment)?;
    let tax = sum(TotalType::Tax)?;
    let fees = sum(TotalType::Fee)?;
    let discounts = sum(TotalType::Discount)?
        .checked_add(sum(TotalType::ItemsDiscount)?)
        .ok_or("the totals overflow")?;
    let adjustments = fees.checked_sub(discounts).ok_or("the totals overflow")?;
    let subtotal = total_of(totals, TotalType::Subtotal);
    let invoice = Invoice {
        merchant_id: merchant_id.to_string(),
        order_number: checkout.id.clone(),
        currency,
        lines,
        subtotal,
        shipping,
        tax,
        adjustments,
        total,
    };
    let items = invoice.lines_total().ok_or("the line totals overflow")?;
    let money = |amount| invoice.money(amount).to_string();
    if subtotal.is_some_and(|subtotal| subtotal != items) {
        return Err(format!(
            "the lines add up to {}, the checkout's subtotal is {}",
            money(items),
            money(subtotal.unwrap_or_default())
        ));
    }
    let computed = items
        .checked_add(shipping)
        .and_then(|sum| sum.checked_add(tax))
        .and_then(|sum| sum.checked_add(adjustments));
    if computed != Some(total) || total < 0 {
        return Err(format!(
            "the totals do not add up: items {} + shipping {} + tax {} + adjustments {} is not the total {}",
            money(items),
            money(shipping),
            money(tax),
            money(adjustments),
            money(total)
        ));
    }
    Ok(invoice)
}

/// "Wool Socks - Gray / M" → ("Wool Socks", "Gray / M"): a line's title and
/// its variant, as businesses write items ("Product - Variant").
fn split_title(title: &str) -> (String, String) {
    match title.trim().rsplit_once(" - ") {
        Some((product, variant)) if !product.trim().is_empty() && !variant.trim().is_empty() => {
            (product.trim().to_string(), variant.trim().to_string())
        }
        _ => (title.trim().to_string(), String::new()),
    }
}

/// "chk_1: 2 x Wool Socks - Gray / M, total $21.64 (incomplete)".
fn describe(checkout: &Checkout) -> String {
    let items = checkout
        .line_items
        .iter()
        .map(|line| format!("{} x {}", line.quantity, line.item.title))
        .collect::<Vec<_>>()
        .join(", ");
    let total = checkout
        .total_of(TotalType::Total)
        .map(|t| format!(", total {}", Money::new(t, checkout.currency.clone())))
        .unwrap_or_default();
    let errors = error_text(checkout)
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    format!(
        "{}: {items}{total} ({}{errors})",
        checkout.id,
        checkout.status.as_str()
    )
}

/// The session's error messages, in words.
fn error_text(checkout: &Checkout) -> Option<String> {
    let errors: Vec<&str> = checkout
        .errors()
        .map(Message::text)
        .filter(|c| !c.is_empty())
        .collect();
    (!errors.is_empty()).then(|| errors.join("; "))
}

#[async_trait]
impl Negotiation for UcpCheckout {
    async fn negotiate(&mut self, deadline: Instant, _shopper: Option<Arc<ShopperChoices>>) {
        if self.state != SessionState::Talking || self.closed {
            return;
        }
        if let Err(reason) = self.run(deadline).await {
            self.fail(reason);
        }
    }

    fn state(&self) -> SessionState {
        self.state
    }

    fn invoice(&self) -> Option<&Invoice> {
        self.invoice.as_ref()
    }

    fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    fn quoted_unit_price(&self) -> Option<i64> {
        self.invoice
            .as_ref()?
            .lines
            .iter()
            .map(|line| line.unit_price)
            .min()
    }

    fn can_agree(&self) -> bool {
        self.state == SessionState::Invoiced && self.ready && self.payer.is_some()
    }

    fn no_agreement_reason(&self) -> Option<String> {
        if self.state != SessionState::Invoiced {
            return None;
        }
        if self.payer.is_none() {
            let named = if self.handlers_named.is_empty() {
                "names no payment handler".to_string()
            } else {
                format!(
                    "takes payment only through {}",
                    self.handlers_named.join(", ")
                )
            };
            let sandbox = if self
                .handlers_named
                .iter()
                .any(|h| h.starts_with(SANDBOX_HANDLER_NAME))
                && !self.inner.client.settings().sandbox_payments
            {
                format!(" ({SANDBOX_HANDLER_NAME} is a test handler: CONCIERGE_UCP_SANDBOX_PAYMENTS=1 pays test checkouts with its test token)")
            } else {
                String::new()
            };
            return Some(format!(
                "{} {named}; Concierge pays only with its one-time allowance ({ALLOWANCE_HANDLER_NAME}), so nothing was paid{sandbox}",
                self.endpoint.name
            ));
        }
        (!self.ready).then(|| {
            let status = self
                .session
                .as_ref()
                .map(|s| s.status.as_str())
                .unwrap_or("unknown");
            format!("the checkout is {status}, not ready to complete")
        })
    }

    fn payment(&mut self, authorization: PaymentAuthorization) -> Option<String> {
        let session = self.session.as_ref()?;
        let handler_id = match self.payer.clone()? {
            Payer::Allowance { handler_id } => handler_id,
            Payer::Sandbox {
                handler_id, token, ..
            } => return sandbox_payment(session, handler_id, token, authorization),
        };
        let header_key = derived_uuid(&authorization.idempotency_key);
        let credential = AllowanceCredential {
            kind: ALLOWANCE_CREDENTIAL_TYPE.into(),
            token: authorization.token,
            idempotency_key: authorization.idempotency_key,
            allowance: authorization.allowance,
            binding: Binding {
                checkout_id: session.id.clone(),
                identity: None,
            },
        };
        let later = speaks_later_version(&self.version);
        let instrument = PaymentInstrument {
            id: format!("allowance_{header_key}"),
            handler_id,
            kind: ALLOWANCE_INSTRUMENT_TYPE.into(),
            brand: None,
            last_digits: None,
            selected: later.then_some(true),
            billing_address: None,
            credential: serde_json::to_value(&credential).ok(),
        };
        serde_json::to_string(&complete_request(instrument, later)).ok()
    }

    async fn pay(&mut self, payment: &str) -> Result<PaymentReply, MerchantError> {
        let merchant = self.endpoint.merchant_id.clone();
        let stored = StoredPayment::parse(payment).map_err(|why| protocol(&merchant, why))?;
        let rest = match self.rest.clone() {
            Some(rest) => rest,
            None => {
                let deadline = self.inner.deadline();
                self.inner.profile(&self.endpoint, deadline).await?.1
            }
        };
        let authorised = stored.max_amount;
        // Read the session once more: the credential leaves only for the
        // session as it was checked, at most the authorised amount.
        let url = UcpClient::url(&rest, &["checkout-sessions", &stored.session_id]);
        let current = self
            .inner
            .client
            .checkout(
                self.target(),
                Method::GET,
                url,
                None::<&()>,
                None,
                self.inner.deadline(),
            )
            .await;
        let refusal = match current {
            Ok(Answer::Ok(checkout)) => {
                self.say(
                    Speaker::Merchant,
                    format!("read checkout {} before paying", describe(&checkout)),
                );
                let total = checkout.total_of(TotalType::Total);
                let currency = &stored.currency;
                if !completable(&checkout) {
                    Some(format!(
                        "the checkout is {}, not ready to complete{}",
                        checkout.status.as_str(),
                        error_text(&checkout)
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ))
                } else if !checkout.currency.eq_ignore_ascii_case(currency) {
                    Some(format!(
                        "the checkout is now in {}, the authorisation in {currency}",
                        checkout.currency
                    ))
                } else if total.is_none_or(|total| total > authorised) {
                    Some(format!(
                        "the checkout's total is now {}, above the {} authorised; not paid",
                        total
                            .map(|t| Money::new(t, currency.clone()).to_string())
                            .unwrap_or_else(|| "unstated".into()),
                        Money::new(authorised, currency.clone())
                    ))
                } else {
                    None
                }
            }
            Ok(Answer::Refused { message, .. }) => Some(message),
            Err(error) => Some(format!(
                "could not read the checkout before paying ({error}); nothing was sent"
            )),
        };
        if let Some(refusal) = refusal {
            self.say(
                Speaker::Concierge,
                format!("did not complete checkout {}: {refusal}", stored.session_id),
            );
            self.state = SessionState::PaymentRefused;
            return Ok(PaymentReply::Refused(refusal));
        }
        let reply = self
            .inner
            .complete(
                &self.endpoint,
                &rest,
                &stored,
                authorised,
                &mut self.transcript,
            )
            .await?;
        self.state = match reply {
            PaymentReply::Confirmed(_) | PaymentReply::Pending(_) => SessionState::Paid,
            PaymentReply::Refused(_) => SessionState::PaymentRefused,
        };
        Ok(reply)
    }

    async fn decline(&mut self, reason: &str) {
        self.state = SessionState::Declined;
        let (Some(rest), Some(session)) = (self.rest.clone(), self.session.as_ref()) else {
            return;
        };
        if matches!(
            session.status,
            CheckoutStatus::Completed | CheckoutStatus::Canceled
        ) {
            return;
        }
        let id = session.id.clone();
        let url = UcpClient::url(&rest, &["checkout-sessions", &id, "cancel"]);
        let answer = self
            .inner
            .client
            .checkout(
                self.target(),
                Method::POST,
                url,
                None::<&()>,
                Some(&super::client::random_uuid()),
                self.inner.deadline(),
            )
            .await;
        let line = match answer {
            Ok(Answer::Ok(checkout)) => {
                format!("canceled checkout {} ({reason})", checkout.id)
            }
            Ok(Answer::Refused { message, status }) => {
                format!("did not cancel checkout {id}: {message} (HTTP {status})")
            }
            Err(error) => format!("cancel checkout {id}: no answer ({error})"),
        };
        self.say(Speaker::Merchant, line);
    }

    fn transcript(&self) -> &[TranscriptLine] {
        &self.transcript
    }

    fn close(&mut self) {
        self.closed = true;
    }
}

/// How a checkout is paid.
#[derive(Debug, Clone)]
enum Payer {
    /// With Concierge's allowance, through the business's instance of
    /// `dev.concierge.allowance`.
    Allowance { handler_id: String },
    /// With a sandbox handler's published test credential (only under
    /// [`UcpSettings::sandbox_payments`]).
    Sandbox {
        handler_id: String,
        handler_name: String,
        token: String,
    },
}

/// The handler this checkout can be paid through: Concierge's allowance
/// whenever the business takes it; else, only when sandbox payments are
/// on, a sandbox handler ([`SANDBOX_HANDLER_NAME`]) whose own
/// configuration lists its paying test token ([`SANDBOX_SUCCESS_TOKEN`]).
/// Any other handler (a wallet, a card network) needs a credential
/// Concierge does not have: none is chosen, and the shopper is told why.
fn choose_payer(handlers: &[&PaymentHandler], sandbox_payments: bool) -> Option<Payer> {
    if let Some(handler) = handlers.iter().find(|h| h.name == ALLOWANCE_HANDLER_NAME) {
        return Some(Payer::Allowance {
            handler_id: handler.id.clone(),
        });
    }
    if !sandbox_payments {
        return None;
    }
    handlers
        .iter()
        .filter(|h| h.name == SANDBOX_HANDLER_NAME && !h.id.trim().is_empty())
        .find(|h| {
            h.config
                .get("supported_tokens")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|tokens| {
                    tokens
                        .iter()
                        .any(|t| t.as_str() == Some(SANDBOX_SUCCESS_TOKEN))
                })
        })
        .map(|h| Payer::Sandbox {
            handler_id: h.id.clone(),
            handler_name: h.name.clone(),
            token: SANDBOX_SUCCESS_TOKEN.into(),
        })
}

/// The complete request carrying `instrument`, in the business's version's
/// shape. `risk_signals` is sent empty: the 2026-01-11 complete request
/// has it, some businesses require it, and Concierge has none to give.
fn complete_request(instrument: PaymentInstrument, later: bool) -> CompleteRequest {
    let risk_signals = Some(serde_json::Value::Object(Default::default()));
    if later {
        CompleteRequest {
            payment: Some(CompletePayment {
                instruments: vec![instrument],
            }),
            risk_signals,
            ..Default::default()
        }
    } else {
        CompleteRequest {
            payment_data: Some(instrument),
            risk_signals,
            ..Default::default()
        }
    }
}

/// The payment with a sandbox handler's test token, kept with the
/// authorisation's limits (the test credential names none): the same
/// checks before and after complete hold it to the authorised amount.
fn sandbox_payment(
    session: &Checkout,
    handler_id: String,
    token: String,
    authorization: PaymentAuthorization,
) -> Option<String> {
    let header_key = derived_uuid(&authorization.idempotency_key);
    let instrument = PaymentInstrument {
        id: format!("sandbox_{header_key}"),
        handler_id,
        // The mock handler's instrument schema is the card instrument,
        // which needs a brand and last digits: a test card, said as such.
        kind: "card".into(),
        brand: Some("test".into()),
        last_digits: Some("0000".into()),
        selected: None,
        billing_address: None,
        credential: Some(serde_json::json!({
            "type": "token",
            "token": token,
            "binding": {"checkout_id": session.id},
        })),
    };
    let payment = SandboxPayment {
        sandbox: SandboxLimits {
            checkout_id: session.id.clone(),
            max_amount: authorization.allowance.max_amount,
            currency: authorization.allowance.currency,
            idempotency_key: authorization.idempotency_key,
        },
        request: complete_request(instrument, false),
    };
    serde_json::to_string(&payment).ok()
}

/// Whether a session may be completed: `ready_for_complete`, or
/// `incomplete` with no message at all. Some businesses never leave
/// `incomplete` (the Node.js reference sample) yet complete; a session that
/// names anything missing, or whose fulfilment is not settled (checked
/// before an invoice is made), is not completed.
fn completable(checkout: &Checkout) -> bool {
    match checkout.status {
        CheckoutStatus::ReadyForComplete => true,
        CheckoutStatus::Incomplete => checkout.errors().next().is_none(),
        _ => false,
    }
}

/// A complete request as kept in the store, and what it names.
struct StoredPayment {
    request: CompleteRequest,
    session_id: String,
    /// The most the authorisation allows, and in which currency.
    max_amount: i64,
    currency: String,
    /// The `Idempotency-Key` it is sent under.
    header_key: String,
}

/// How a payment with a sandbox handler's test credential is kept: the
/// request as sent, and the authorisation it stands under (the test
/// credential names no amount, so the limits are kept beside it).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SandboxPayment {
    sandbox: SandboxLimits,
    request: CompleteRequest,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SandboxLimits {
    checkout_id: String,
    max_amount: i64,
    currency: String,
    idempotency_key: String,
}

impl StoredPayment {
    fn parse(text: &str) -> Result<StoredPayment, String> {
        if let Ok(sandbox) = serde_json::from_str::<SandboxPayment>(text) {
            let limits = sandbox.sandbox;
            if limits.checkout_id.trim().is_empty() {
                return Err("the stored payment names no checkout session".into());
            }
            return Ok(StoredPayment {
                header_key: derived_uuid(&limits.idempotency_key),
                request: sandbox.request,
                session_id: limits.checkout_id,
                max_amount: limits.max_amount,
                currency: limits.currency,
            });
        }
        let request: CompleteRequest = serde_json::from_str(text)
            .map_err(|e| format!("the stored payment is not a UCP complete request: {e}"))?;
        let credential: AllowanceCredential = request
            .instrument()
            .and_then(|i| i.credential.clone())
            .and_then(|c| serde_json::from_value(c).ok())
            .ok_or("the stored payment carries no allowance")?;
        let session_id = credential.binding.checkout_id.clone();
        if session_id.trim().is_empty() {
            return Err("the stored payment names no checkout session".into());
        }
        Ok(StoredPayment {
            header_key: derived_uuid(&credential.idempotency_key),
            request,
            session_id,
            max_amount: credential.allowance.max_amount,
            currency: credential.allowance.currency,
        })
    }
}

fn target(endpoint: &MerchantEndpoint) -> Target<'_> {
    Target {
        merchant_id: &endpoint.merchant_id,
        served_here: endpoint.served_here,
    }
}

fn say(transcript: &mut Vec<TranscriptLine>, speaker: Speaker, text: String) {
    transcript.push(TranscriptLine { speaker, text });
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// An order in short words: its latest fulfilment event ("shipped by UPS,
/// tracking 1Z999"), or that nothing has shipped yet.
fn describe_order(order: &Order) -> String {
    let Some(event) = order.fulfillment.events.last() else {
        return format!("order {}: nothing has shipped yet", order.id);
    };
    let mut text = format!("order {}: {}", order.id, event.kind.replace('_', " "));
    if let Some(carrier) = event.carrier.as_deref().filter(|c| !c.is_empty()) {
        text.push_str(&format!(" by {carrier}"));
    }
    if let Some(tracking) = event.tracking_number.as_deref().filter(|t| !t.is_empty()) {
        text.push_str(&format!(", tracking {tracking}"));
    }
    if !event.occurred_at.is_empty() {
        text.push_str(&format!(" ({})", event.occurred_at));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout(json: serde_json::Value) -> Checkout {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn titles_split_into_product_and_variant() {
        assert_eq!(
            split_title("Wool Socks - Gray / M"),
            ("Wool Socks".into(), "Gray / M".into())
        );
        assert_eq!(
            split_title("Levi's - 501 - Blue / 32"),
            ("Levi's - 501".into(), "Blue / 32".into())
        );
        assert_eq!(
            split_title("Bouquet of Red Roses"),
            ("Bouquet of Red Roses".into(), String::new())
        );
    }

    #[test]
    fn an_invoice_is_read_only_when_the_totals_add_up() {
        let good = checkout(serde_json::json!({
            "id": "chk_1", "status": "ready_for_complete", "currency": "usd",
            "line_items": [{"id": "li_1", "quantity": 2,
                "item": {"id": "WS-1-GRAY-M", "title": "Wool Socks - Gray / M", "price": 900},
                "totals": [{"type": "subtotal", "amount": 1800}]}],
            "totals": [{"type": "subtotal", "amount": 1800}, {"type": "discount", "amount": 180},
                {"type": "fulfillment", "amount": 400}, {"type": "tax", "amount": 134},
                {"type": "total", "amount": 2154}]
        }));
        let invoice = read_invoice("m", &good).unwrap();
        assert_eq!(invoice.order_number, "chk_1");
        assert_eq!(invoice.currency, "USD");
        assert_eq!(invoice.lines[0].subtitle, "Gray / M");
        assert_eq!(invoice.adjustments, -180);
        assert_eq!(invoice.total, 2154);

        let mut off = good.clone();
        off.totals.last_mut().unwrap().amount = 2155;
        assert!(read_invoice("m", &off)
            .unwrap_err()
            .contains("do not add up"));
        let mut no_total = good.clone();
        no_total.totals.pop();
        assert!(read_invoice("m", &no_total).is_err());
        let mut bad_line = good;
        bad_line.line_items[0].item.price = 800;
        assert!(read_invoice("m", &bad_line)
            .unwrap_err()
            .contains("subtotal"));
    }

    #[test]
    fn a_line_whose_title_hides_its_variant_is_named_by_the_id_asked() {
        let held = checkout(serde_json::json!({
            "id": "chk_2", "status": "ready_for_complete", "currency": "USD",
            "line_items": [
                {"id": "li_1", "quantity": 1,
                 "item": {"id": "MH01-M-Black", "title": "Chaz Kangeroo Hoodie-M-Black", "price": 5200}},
                {"id": "li_2", "quantity": 1,
                 "item": {"id": "WS-1-GRAY-M", "title": "Wool Socks - Gray / M", "price": 900}},
                {"id": "li_3", "quantity": 1,
                 "item": {"id": "OTHER-1", "title": "Plain Mug", "price": 800}}],
            "totals": [{"type": "subtotal", "amount": 6900}, {"type": "total", "amount": 6900}]
        }));
        let wanted = |variant_id: &str, color: &str, size: &str| Wanted {
            variant_id: variant_id.into(),
            color_label: Some(color.into()),
            size_label: Some(size.into()),
            ..Wanted::default()
        };
        let items = [
            wanted("MH01-M-Black", "Black", "M"),
            wanted("WS-1-GRAY-M", "Heather Grey", "L"),
        ];
        let mut invoice = read_invoice("m", &held).unwrap();
        name_variants(&items, &held, &mut invoice);
        assert_eq!(invoice.lines[0].subtitle, "Black / M");
        // The business's own words stand where it says the variant.
        assert_eq!(invoice.lines[1].subtitle, "Gray / M");
        // An id nobody asked for is not described.
        assert_eq!(invoice.lines[2].subtitle, "");
    }
}

