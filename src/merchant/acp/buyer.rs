//! One ACP checkout session, from its creation to the decision on its
//! invoice: [`AcpCheckout`], Concierge's [`Negotiation`] with a merchant
//! that speaks ACP. Nothing the merchant says is guessed at: a session
//! that asks for a person, for 3-D Secure, reports an error, lists other
//! items than those asked, or states amounts that cannot be read ends the
//! negotiation as failed, with the merchant's words.

use super::client::{digest, first_error, protocol_error, settle, Answered, Http, StoredPayment};
use super::wire::*;
use crate::error::MerchantError;
use crate::merchant::messenger::wire::PaymentAuthorization;
use crate::merchant::protocol::{
    MerchantEndpoint, Negotiation, Opening, PaymentReply, SessionState, ShopperChoices, Speaker,
    TranscriptLine, Wanted,
};
use crate::money::Money;
use crate::order::{Invoice, InvoiceLine};
use async_trait::async_trait;
use reqwest::Method;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::time::Instant;

/// Most units asked for in one checkout (each is one listed item).
pub const MAX_UNITS: u32 = 1_000;
/// Longest transcript line kept.
const MAX_LINE_CHARS: usize = 300;

/// A checkout session with one merchant.
pub struct AcpCheckout {
    http: Http,
    endpoint: MerchantEndpoint,
    opening: Opening,
    session: Option<CheckoutSession>,
    /// The payment handlers the merchant listed (some list them only when
    /// the session is created).
    handlers: Vec<PaymentHandler>,
    invoice: Option<Invoice>,
    state: SessionState,
    failure: Option<String>,
    transcript: Vec<TranscriptLine>,
    /// The answer to the payment made, by its idempotency key: a second
    /// `pay` of it sends nothing.
    paid: Option<(String, PaymentReply)>,
    closed: bool,
}

impl AcpCheckout {
    pub(crate) fn new(http: Http, endpoint: MerchantEndpoint, opening: Opening) -> AcpCheckout {
        AcpCheckout {
            http,
            endpoint,
            opening,
            session: None,
            handlers: Vec::new(),
            invoice: None,
            state: SessionState::Talking,
            failure: None,
            transcript: Vec::new(),
            paid: None,
            closed: false,
        }
    }

    /// The session as the merchant last stated it.
    pub fn session(&self) -> Option<&CheckoutSession> {
        self.session.as_ref()
    }

    fn note(&mut self, speaker: Speaker, text: String) {
        self.transcript.push(TranscriptLine {
            speaker,
            text: text.chars().take(MAX_LINE_CHARS).collect(),
        });
    }

    fn fail(&mut self, failure: String) {
        self.state = SessionState::Failed;
        self.failure = Some(failure);
    }

    /// Remembers `session` and the payment handlers it lists.
    fn keep(&mut self, session: CheckoutSession) {
        if let Some(payment) = &session.capabilities.payment {
            if !payment.handlers.is_empty() {
                self.handlers = payment.handlers.clone();
            }
        }
        self.session = Some(session);
    }

    /// The request's answer as a session, or why there is none (said in
    /// the transcript).
    fn answered(
        &mut self,
        what: &str,
        answer: Result<Answered, MerchantError>,
    ) -> Result<CheckoutSession, String> {
        match answer {
            Ok(Answered::Session(session)) => Ok(*session),
            Ok(Answered::Refused(refusal)) => {
                let text = refusal.text();
                self.note(Speaker::Merchant, format!("refused to {what}: {text}"));
                Err(format!("the merchant refused to {what}: {text}"))
            }
            Err(error) => {
                self.note(Speaker::Concierge, format!("{what}: no answer ({error})"));
                Err(format!("no answer to {what}: {error}"))
            }
        }
    }

    async fn run(&mut self, deadline: Instant) -> Result<(), String> {
        let left = || deadline.saturating_duration_since(Instant::now());
        let request = create_request(&self.opening.items)?;
        let asked = asked_units(&request.line_items);
        let currency = request.currency.clone();
        let body = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
        // The same checkout asked again in a conversation is the same
        // session; another one is a new session.
        let key = format!(
            "concierge-create-{}",
            digest(&[
                &self.endpoint.merchant_id,
                &self.opening.conversation_id,
                &String::from_utf8_lossy(&body),
            ])
        );
        let answer = self
            .http
            .exchange(
                &self.endpoint,
                Method::POST,
                &["checkout_sessions"],
                Some(&key),
                Some(body),
                left(),
            )
            .await;
        let session = self.answered("create the checkout", answer)?;
        self.note(
            Speaker::Merchant,
            format!("created checkout {}: {}", session.id, summary(&session)),
        );
        self.keep(session.clone());
        check(&session, &asked, &currency)?;

        let Some(option) = cheapest_delivery(&session)? else {
            return self.invoiced(session);
        };
        let selected = session
            .selected_fulfillment_options
            .iter()
            .any(|s| s.option_id == option.id);
        if selected && session.selected_fulfillment_options.len() == 1 {
            return self.invoiced(session);
        }
        let update = UpdateCheckoutSessionRequest {
            selected_fulfillment_options: Some(vec![SelectedFulfillmentOption {
                kind: option.kind,
                option_id: option.id.clone(),
                item_ids: asked.keys().cloned().collect(),
            }]),
            ..UpdateCheckoutSessionRequest::default()
        };
        let key = format!(
            "concierge-update-{}",
            digest(&[&self.endpoint.merchant_id, &session.id, &option.id])
        );
        let body = serde_json::to_vec(&update).map_err(|e| e.to_string())?;
        let answer = self
            .http
            .exchange(
                &self.endpoint,
                Method::POST,
                &["checkout_sessions", &session.id],
                Some(&key),
                Some(body),
                left(),
            )
            .await;
        let updated = self.answered("select a fulfilment option", answer)?;
        let cost = option
            .cost()
            .map(|c| Money::new(c, currency.to_ascii_uppercase()).to_string())
            .unwrap_or_default();
        self.note(
            Speaker::Merchant,
            format!(
                "selected {} ({cost}) for checkout {}: {}",
                option.title.to_lowercase(),
                updated.id,
                summary(&updated)
            ),
        );
        self.keep(updated.clone());
        if updated.id != session.id {
            return Err(format!(
                "the merchant answered for checkout {:?}, not {}",
                updated.id.chars().take(64).collect::<String>(),
                session.id
            ));
        }
        check(&updated, &asked, &currency)?;
        if !updated
            .selected_fulfillment_options
            .iter()
            .any(|s| s.option_id == option.id)
        {
            return Err(format!(
                "the merchant did not take the {} fulfilment option",
                option.title
            ));
        }
        self.invoiced(updated)
    }

    fn invoiced(&mut self, session: CheckoutSession) -> Result<(), String> {
        let invoice = invoice_from_session(&self.endpoint.merchant_id, &session)?;
        self.invoice = Some(invoice);
        self.state = SessionState::Invoiced;
        Ok(())
    }

    fn session_id(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.id.as_str())
    }

    /// The payment handler to pay through: the tokenized card handler
    /// taking delegated payments, else any taking them.
    fn handler(&self) -> Option<String> {
        let delegated = || self.handlers.iter().filter(|h| h.requires_delegate_payment);
        delegated()
            .find(|h| h.name == "dev.acp.tokenized.card")
            .or_else(|| delegated().next())
            .map(|h| h.id.clone())
    }
}

#[async_trait]
impl Negotiation for AcpCheckout {
    async fn negotiate(&mut self, deadline: Instant, _shopper: Option<Arc<ShopperChoices>>) {
        if self.state != SessionState::Talking || self.closed {
            return;
        }
        if let Err(failure) = self.run(deadline).await {
            self.fail(failure);
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
        self.session
            .as_ref()?
            .line_items
            .iter()
            .filter_map(|line| line.unit_amount)
            .min()
    }

    fn can_agree(&self) -> bool {
        self.state == SessionState::Invoiced
            && self
                .session
                .as_ref()
                .is_some_and(|s| s.status == SessionStatus::ReadyForPayment)
    }

    fn payment(&mut self, authorization: PaymentAuthorization) -> Option<String> {
        if !self.can_agree() {
            return None;
        }
        let session_id = self.session_id()?;
        let allowance = &authorization.allowance;
        if allowance.checkout_session_id != session_id
            || allowance.merchant_id != self.endpoint.merchant_id
        {
            return None;
        }
        let handler = self.handler()?;
        Some(StoredPayment::new(session_id, &handler, &authorization).to_json())
    }

    async fn pay(&mut self, payment: &str) -> Result<PaymentReply, MerchantError> {
        let stored = StoredPayment::from_json(payment)
            .map_err(|message| protocol_error(&self.endpoint, message))?;
        let Some(session_id) = self.session_id().map(str::to_string) else {
            return Err(protocol_error(&self.endpoint, "no checkout to pay".into()));
        };
        if stored.checkout_session_id != session_id {
            return Err(protocol_error(
                &self.endpoint,
                format!(
                    "the payment is for checkout {}, not {session_id}",
                    stored.checkout_session_id
                ),
            ));
        }
        if let Some((key, reply)) = &self.paid {
            if *key == stored.idempotency_key {
                return Ok(reply.clone());
            }
        }
        // Never more than the checked invoice, whatever the allowance says.
        let limit = self.invoice.as_ref().map_or(0, |invoice| invoice.total);
        let result = settle(&self.http, &self.endpoint, &stored, limit).await;
        match &result {
            Ok(reply @ PaymentReply::Confirmed(text)) => {
                self.note(
                    Speaker::Merchant,
                    format!("completed checkout {session_id}: {text}"),
                );
                self.paid = Some((stored.idempotency_key.clone(), reply.clone()));
                self.state = SessionState::Paid;
            }
            Ok(PaymentReply::Pending(text)) => {
                self.note(Speaker::Merchant, format!("payment pending: {text}"));
            }
            Ok(PaymentReply::Refused(text)) => {
                self.note(Speaker::Merchant, format!("payment refused: {text}"));
                self.state = SessionState::PaymentRefused;
            }
            Err(error) => {
                self.note(
                    Speaker::Concierge,
                    format!("complete checkout {session_id}: no answer ({error})"),
                );
            }
        }
        result
    }

    async fn decline(&mut self, reason: &str) {
        match self.state {
            SessionState::Paid => return,
            // A failure or a refused payment stays what it was; the session
            // is canceled all the same.
            SessionState::Failed | SessionState::PaymentRefused => {}
            _ => self.state = SessionState::Declined,
        }
        let Some(session_id) = self.session_id().map(str::to_string) else {
            return;
        };
        let request = CancelSessionRequest {
            intent_trace: Some(IntentTrace {
                reason_code: "other".into(),
                trace_summary: Some(reason.chars().take(500).collect()),
            }),
        };
        let key = format!(
            "concierge-cancel-{}",
            digest(&[&self.endpoint.merchant_id, &session_id])
        );
        let body = serde_json::to_vec(&request).unwrap_or_default();
        let answer = self
            .http
            .exchange(
                &self.endpoint,
                Method::POST,
                &["checkout_sessions", &session_id, "cancel"],
                Some(&key),
                Some(body),
                self.http.timeout,
            )
            .await;
        // A refusal or no answer is said in the transcript.
        if let Ok(session) = self.answered("cancel the checkout", answer) {
            self.note(
                Speaker::Merchant,
                format!(
                    "canceled checkout {session_id} ({})",
                    session.status.as_str()
                ),
            );
            self.session = Some(session);
        }
    }

    fn transcript(&self) -> &[TranscriptLine] {
        &self.transcript
    }

    fn close(&mut self) {
        self.closed = true;
    }
}

/// The create request for `items`: each item's variant id (else its
/// product id) listed once per unit, in the merchant's currency.
pub fn create_request(items: &[Wanted]) -> Result<CreateCheckoutSessionRequest, String> {
    if items.is_empty() {
        return Err("nothing to buy".into());
    }
    let currency = items
        .iter()
        .find_map(|item| item.currency.clone())
        .ok_or("the merchant's currency is not known")?;
    if items
        .iter()
        .filter_map(|item| item.currency.as_deref())
        .any(|c| !c.eq_ignore_ascii_case(&currency))
    {
        return Err("the items are priced in different currencies".into());
    }
    let mut line_items = Vec::new();
    for item in items {
        let id = if item.variant_id.trim().is_empty() {
            item.product_code.trim()
        } else {
            item.variant_id.trim()
        };
        if id.is_empty() {
            return Err(format!("{} has no product id", item.product_title));
        }
        let units = item.quantity.max(1);
        if line_items.len() as u32 + units > MAX_UNITS {
            return Err(format!("at most {MAX_UNITS} items fit one ACP checkout"));
        }
        line_items.extend((0..units).map(|_| Item::with_id(id)));
    }
    Ok(CreateCheckoutSessionRequest {
        buyer: None,
        line_items,
        currency: currency.to_ascii_lowercase(),
        capabilities: Capabilities {
            payment: None,
            // Concierge completes no 3-D Secure or other intervention.
            interventions: Some(InterventionCapabilities {
                supported: Some(Vec::new()),
                required: None,
                enforcement: None,
            }),
        },
        fulfillment_details: None,
        coupons: Vec::new(),
        discounts: None,
        locale: None,
        timezone: None,
        order_notes: None,
    })
}

/// Units asked for, by item id.
fn asked_units(items: &[Item]) -> BTreeMap<String, u64> {
    let mut asked = BTreeMap::new();
    for item in items {
        *asked.entry(item.id.clone()).or_insert(0) += item.quantity.unwrap_or(1);
    }
    asked
}

/// Why `session` cannot go on towards payment, if anything: an unusable
/// id, another currency, an error message, a status Concierge cannot
/// follow, or other items than asked.
fn check(
    session: &CheckoutSession,
    asked: &BTreeMap<String, u64>,
    currency: &str,
) -> Result<(), String> {
    let id = &session.id;
    if id.trim().is_empty()
        || id.len() > 255
        || id == "."
        || id == ".."
        || id.chars().any(char::is_control)
    {
        return Err("the merchant's checkout id is not usable".into());
    }
    if !session.currency.eq_ignore_ascii_case(currency) {
        return Err(format!(
            "the checkout is in {}, the catalog in {}",
            session
                .currency
                .chars()
                .take(8)
                .collect::<String>()
                .to_uppercase(),
            currency.to_uppercase()
        ));
    }
    if let Some(error) = first_error(session) {
        return Err(error);
    }
    match session.status {
        SessionStatus::Incomplete
        | SessionStatus::NotReadyForPayment
        | SessionStatus::ReadyForPayment => {}
        SessionStatus::RequiresEscalation => {
            return Err(
                "the merchant needs the shopper on its own checkout (requires_escalation)".into(),
            )
        }
        SessionStatus::AuthenticationRequired => {
            return Err(
                "the merchant asks for 3-D Secure authentication, which Concierge does not do (authentication_required)"
                    .into(),
            )
        }
        status => return Err(format!("checkout {id} is {}", status.as_str())),
    }
    let mut listed: BTreeMap<String, u64> = BTreeMap::new();
    for line in &session.line_items {
        *listed.entry(line.item.id.clone()).or_insert(0) += u64::from(line.quantity);
    }
    if &listed != asked {
        let show = |units: &BTreeMap<String, u64>| {
            units
                .iter()
                .take(10)
                .map(|(id, n)| format!("{n} x {}", id.chars().take(64).collect::<String>()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(format!(
            "the checkout lists {} where {} was asked",
            if listed.is_empty() {
                "nothing".to_string()
            } else {
                show(&listed)
            },
            show(asked)
        ));
    }
    Ok(())
}

/// The cheapest option that brings the order to the shopper (shipping,
/// digital or local delivery; never pickup), or `None` when the merchant
/// offers none at all.
fn cheapest_delivery(session: &CheckoutSession) -> Result<Option<&FulfillmentOption>, String> {
    if session.fulfillment_options.is_empty() {
        return Ok(None);
    }
    session
        .fulfillment_options
        .iter()
        .filter(|option| {
            matches!(
                option.kind,
                FulfillmentType::Shipping
                    | FulfillmentType::Digital
                    | FulfillmentType::LocalDelivery
            )
        })
        .filter_map(|option| option.cost().map(|cost| (cost, option)))
        .min_by_key(|(cost, _)| *cost)
        .map(|(_, option)| Some(option))
        .ok_or_else(|| "the merchant offers no delivery with a stated price".to_string())
}

/// Reads a session's line items and totals into an invoice, exactly: a
/// line with no name or price, or totals stated twice or missing, make it
/// unreadable.
pub fn invoice_from_session(
    merchant_id: &str,
    session: &CheckoutSession,
) -> Result<Invoice, String> {
    if session.line_items.is_empty() {
        return Err("the checkout lists no items".into());
    }
    let mut lines = Vec::new();
    for line in &session.line_items {
        let title = line
            .name
            .clone()
            .filter(|name| !name.trim().is_empty())
            .ok_or_else(|| format!("line item {} has no name", line.id))?;
        if line.quantity == 0 {
            return Err(format!("line item {} has no quantity", line.id));
        }
        let unit_price = match line.unit_amount {
            Some(amount) => amount,
            None => sum_of(&line.totals, TotalType::ItemsBaseAmount)
                .filter(|base| base % i64::from(line.quantity) == 0)
                .map(|base| base / i64::from(line.quantity))
                .ok_or_else(|| format!("line item {} has no unit price", line.id))?,
        };
        lines.push(InvoiceLine {
            title,
            subtitle: line
                .variant_options
                .iter()
                .map(|option| option.value.trim())
                .filter(|value| !value.is_empty())
                .collect::<Vec<_>>()
                .join(" / "),
            quantity: line.quantity,
            unit_price,
        });
    }
    let once = |kind: TotalType, what: &str| -> Result<Option<i64>, String> {
        match session.totals.iter().filter(|t| t.kind == kind).count() {
            0 => Ok(None),
            1 => Ok(session.total_of(kind)),
            _ => Err(format!("the checkout states its {what} twice")),
        }
    };
    let total = once(TotalType::Total, "total")?.ok_or("the checkout states no total")?;
    let items_discount = session.total_of(TotalType::ItemsDiscount).unwrap_or(0);
    let subtotal = match once(TotalType::ItemsBaseAmount, "items amount")? {
        Some(items) => Some(items),
        None if items_discount == 0 => once(TotalType::Subtotal, "subtotal")?,
        None => None,
    };
    let sum = |kind| session.total_of(kind).unwrap_or(0);
    let overflow = || "the checkout's amounts overflow".to_string();
    let added = sum(TotalType::Fee)
        .checked_add(sum(TotalType::GiftWrap))
        .and_then(|a| a.checked_add(sum(TotalType::Tip)))
        .ok_or_else(overflow)?;
    // Discounts and store credit are stated as positive amounts taken off.
    let taken = items_discount
        .checked_abs()
        .and_then(|a| a.checked_add(sum(TotalType::Discount).checked_abs()?))
        .and_then(|a| a.checked_add(sum(TotalType::StoreCredit).checked_abs()?))
        .ok_or_else(overflow)?;
    Ok(Invoice {
        merchant_id: merchant_id.to_string(),
        order_number: session.id.clone(),
        currency: session.currency.trim().to_ascii_uppercase(),
        lines,
        subtotal,
        shipping: sum(TotalType::Fulfillment),
        tax: sum(TotalType::Tax),
        adjustments: added.checked_sub(taken).ok_or_else(overflow)?,
        total,
    })
}

/// "2 x Wool Socks (Gray / M), total $21.64, ready_for_payment".
fn summary(session: &CheckoutSession) -> String {
    let currency = session.currency.to_ascii_uppercase();
    let items = if session.line_items.len() > 3 {
        format!("{} lines", session.line_items.len())
    } else {
        session
            .line_items
            .iter()
            .map(|line| {
                let name = line.name.as_deref().unwrap_or(&line.item.id);
                let options: Vec<&str> = line
                    .variant_options
                    .iter()
                    .map(|o| o.value.as_str())
                    .collect();
                if options.is_empty() {
                    format!("{} x {name}", line.quantity)
                } else {
                    format!("{} x {name} ({})", line.quantity, options.join(" / "))
                }
            })
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let total = session
        .total_of(TotalType::Total)
        .map(|t| format!(", total {}", Money::new(t, currency)))
        .unwrap_or_default();
    format!("{items}{total}, {}", session.status.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(json: serde_json::Value) -> CheckoutSession {
        serde_json::from_value(json).unwrap()
    }

    fn line(id: &str, quantity: u32, unit: i64) -> serde_json::Value {
        serde_json::json!({
            "id": format!("li_{id}"), "item": {"id": id}, "quantity": quantity,
            "name": "Wool Socks", "unit_amount": unit,
            "variant_options": [{"name": "Color", "value": "Gray"}, {"name": "Size", "value": "M"}],
            "totals": []
        })
    }

    fn with_totals(totals: serde_json::Value) -> CheckoutSession {
        session(serde_json::json!({
            "id": "cs_1", "status": "ready_for_payment", "currency": "usd",
            "line_items": [line("WS-1-GRAY-M", 2, 900)], "totals": totals,
            "fulfillment_options": [], "messages": [], "links": [], "capabilities": {}
        }))
    }

    #[test]
    fn totals_become_an_invoice_that_adds_up() {
        let invoice = invoice_from_session(
            "alpha",
            &with_totals(serde_json::json!([
                {"type": "items_base_amount", "display_text": "Items", "amount": 1800},
                {"type": "subtotal", "display_text": "Subtotal", "amount": 1800},
                {"type": "discount", "display_text": "SAVE", "amount": 180},
                {"type": "fulfillment", "display_text": "Shipping", "amount": 400},
                {"type": "tax", "display_text": "Tax", "amount": 134},
                {"type": "fee", "display_text": "Fee", "amount": 50},
                {"type": "total", "display_text": "Total", "amount": 2204}
            ])),
        )
        .unwrap();
        assert_eq!(invoice.order_number, "cs_1");
        assert_eq!(invoice.currency, "USD");
        assert_eq!(invoice.lines[0].subtitle, "Gray / M");
        assert_eq!(invoice.lines_total(), Some(1800));
        assert_eq!(invoice.subtotal, Some(1800));
        assert_eq!(
            (invoice.shipping, invoice.tax, invoice.adjustments),
            (400, 134, -130)
        );
        assert_eq!(
            1800 + invoice.shipping + invoice.tax + invoice.adjustments,
            invoice.total
        );
    }

    #[test]
    fn unreadable_totals_are_refused_not_guessed() {
        let no_total = with_totals(serde_json::json!([
            {"type": "subtotal", "display_text": "Subtotal", "amount": 1800}
        ]));
        assert!(invoice_from_session("a", &no_total).is_err());
        let twice = with_totals(serde_json::json!([
            {"type": "total", "display_text": "Total", "amount": 1800},
            {"type": "total", "display_text": "Total", "amount": 900}
        ]));
        assert!(invoice_from_session("a", &twice).is_err());
    }

    #[test]
    fn checks_refuse_what_concierge_cannot_follow() {
        let asked = BTreeMap::from([("WS-1-GRAY-M".to_string(), 2u64)]);
        let ok = with_totals(serde_json::json!([]));
        assert_eq!(check(&ok, &asked, "USD"), Ok(()));
        assert!(check(&ok, &asked, "EUR").unwrap_err().contains("EUR"));
        let other = BTreeMap::from([("WS-1-GRAY-M".to_string(), 3u64)]);
        assert!(check(&ok, &other, "usd")
            .unwrap_err()
            .contains("lists 2 x WS-1-GRAY-M"));
        for (status, says) in [
            ("requires_escalation", "requires_escalation"),
            ("authentication_required", "3-D Secure"),
            ("completed", "completed"),
        ] {
            let mut s = ok.clone();
            s.status = serde_json::from_value(serde_json::json!(status)).unwrap();
            assert!(
                check(&s, &asked, "usd").unwrap_err().contains(says),
                "{status}"
            );
        }
        let mut out = ok.clone();
        out.messages = vec![Message::Error {
            code: MessageErrorCode::OutOfStock,
            resolution: None,
            param: None,
            content_type: ContentType::Plain,
            content: "Wool Socks are gone".into(),
        }];
        assert_eq!(
            check(&out, &asked, "usd"),
            Err("Wool Socks are gone (out_of_stock)".into())
        );
    }
}
