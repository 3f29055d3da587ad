//! The reference UCP merchant's checkout operations: sessions created,
//! updated, read, cancelled and completed (payment taken, order made, order
//! events queued), and the simulation endpoint's shipping.

use super::*;

impl UcpMerchant {
    // -- sessions ------------------------------------------------------------

    pub(super) fn create(
        &self,
        state: &mut MerchantState,
        context: &Context,
        body: &Value,
    ) -> Reply {
        let request: CheckoutRequest = match serde_json::from_value(body.clone()) {
            Ok(request) => request,
            Err(error) => return invalid_body(&error),
        };
        let mut session = Session {
            id: format!("chk_{}", random_token(10)),
            base_url: context.base_url.clone(),
            expires_at: context.now + self.config.session_ttl_secs,
            stage: Stage::Open,
            currency: self.currency().to_string(),
            lines: Vec::new(),
            next_line: 1,
            buyer: None,
            destinations: Vec::new(),
            next_destination: 1,
            selected_destination: None,
            selected_option: None,
            codes: Vec::new(),
            payment: PaymentChoice::default(),
            completion: None,
        };
        let Some(line_items) = &request.line_items else {
            return Refusal::new(
                StatusCode::BAD_REQUEST,
                "missing",
                "A checkout needs at least one line item",
            )
            .at("$.line_items")
            .reply();
        };
        if let Err(refusal) = self
            .check_currency(&request)
            .and_then(|()| self.set_lines(state, &mut session, line_items))
            .and_then(|()| self.set_details(&mut session, &request))
        {
            return refusal.reply();
        }
        let mut reply = Reply::checkout(&self.view(&session));
        reply.status = StatusCode::CREATED;
        self.keep_session(state, session);
        reply
    }

    pub(super) fn update(
        &self,
        state: &mut MerchantState,
        context: &Context,
        id: &str,
        body: &Value,
    ) -> Reply {
        let request: CheckoutRequest = match serde_json::from_value(body.clone()) {
            Ok(request) => request,
            Err(error) => return invalid_body(&error),
        };
        if request.id.as_deref().is_some_and(|body_id| body_id != id) {
            return Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "The body's id is not the session's",
            )
            .at("$.id")
            .reply();
        }
        let Some(mut session) = self.live_session(state, context, id) else {
            return not_found("checkout session", id);
        };
        if let Some(refusal) = not_modifiable(&session) {
            return refusal.reply();
        }
        let result = self
            .check_currency(&request)
            .and_then(|()| match &request.line_items {
                Some(line_items) => self.set_lines(state, &mut session, line_items),
                None => Ok(()),
            });
        if let Err(refusal) = result.and_then(|()| self.set_details(&mut session, &request)) {
            return refusal.in_session(self.status(&session)).reply();
        }
        let reply = Reply::checkout(&self.view(&session));
        state.sessions.insert(session.id.clone(), session);
        reply
    }

    pub(super) fn get(&self, state: &mut MerchantState, context: &Context, id: &str) -> Reply {
        match self.live_session(state, context, id) {
            Some(session) => self.session_reply(&session),
            None => not_found("checkout session", id),
        }
    }

    pub(super) fn cancel(&self, state: &mut MerchantState, context: &Context, id: &str) -> Reply {
        let Some(mut session) = self.live_session(state, context, id) else {
            return not_found("checkout session", id);
        };
        if let Some(refusal) = not_modifiable(&session) {
            return refusal.reply();
        }
        session.stage = Stage::Canceled;
        let reply = Reply::checkout(&self.view(&session));
        state.sessions.insert(session.id.clone(), session);
        reply
    }

    pub(super) fn complete(
        &self,
        state: &mut MerchantState,
        context: &Context,
        id: &str,
        body: &Value,
    ) -> Reply {
        let Some(mut session) = self.live_session(state, context, id) else {
            return not_found("checkout session", id);
        };
        let request: CompleteRequest = match serde_json::from_value(body.clone()) {
            Ok(request) => request,
            Err(error) => return invalid_body(&error),
        };
        let instrument = request.instrument();
        let allowance = instrument.and_then(allowance_credential);
        match session.stage {
            Stage::Canceled => {
                return Refusal::new(
                    StatusCode::CONFLICT,
                    "checkout_not_modifiable",
                    "The checkout session was canceled and cannot be completed",
                )
                .in_session(CheckoutStatus::Canceled)
                .reply()
            }
            Stage::Completed => {
                // The payment that completed it, sent again: the same answer.
                if let (Some(completion), Some(credential)) = (&session.completion, &allowance) {
                    let same = completion.paid_with.as_ref().is_some_and(|(token, key)| {
                        *token == credential.token && *key == credential.idempotency_key
                    });
                    if same {
                        return completion.reply.clone();
                    }
                }
                return Refusal::new(
                    StatusCode::CONFLICT,
                    "checkout_not_modifiable",
                    "The checkout session is already completed",
                )
                .in_session(CheckoutStatus::Completed)
                .reply();
            }
            Stage::Open => {}
        }
        let status = self.status(&session);
        let Some(instrument) = instrument else {
            return Refusal::new(StatusCode::BAD_REQUEST, "missing", "No payment instrument")
                .at("$.payment_data")
                .in_session(status)
                .reply();
        };
        if status != CheckoutStatus::ReadyForComplete {
            return Refusal::new(StatusCode::BAD_REQUEST, "missing", FULFILLMENT_NEEDED)
                .at("$.fulfillment")
                .in_session(status)
                .reply();
        }
        if let Err(refusal) = self.check_stock(state, &session.lines) {
            return Refusal {
                status: StatusCode::CONFLICT,
                ..refusal
            }
            .in_session(status)
            .reply();
        }
        let pricing = self.price(&session);
        let paid_with = match self.take_payment(&session, instrument, allowance.as_ref(), &pricing)
        {
            Ok(paid_with) => paid_with,
            Err(refusal) => return refusal.in_session(status).reply(),
        };
        // Paid: the order, the charge, the stock, the session's last word.
        let order_id = format!("ord_{}", random_token(10));
        let permalink_url = format!("{}/orders/{order_id}", session.base_url);
        let order = self.order(&session, &order_id, &permalink_url, &pricing);
        for line in &session.lines {
            let variant = &self.products[line.product].variants[line.variant];
            *state.sold.entry(variant.id.clone()).or_default() += u64::from(line.quantity);
        }
        state.charges.push(UcpCharge {
            checkout_session_id: session.id.clone(),
            order_id: order_id.clone(),
            amount: Money::new(pricing.total, session.currency.clone()),
            handler_id: instrument.handler_id.clone(),
            token: paid_with.token.clone(),
            idempotency_key: paid_with.idempotency_key.clone(),
        });
        session.stage = Stage::Completed;
        // The finished session names the instrument that paid.
        let paid_by = instrument.id.trim();
        if !paid_by.is_empty() && paid_by.len() <= MAX_ID_CHARS {
            session.payment.selected_instrument_id = Some(paid_by.to_string());
        }
        let mut view = self.view(&session);
        view.order = Some(OrderConfirmation {
            id: order_id.clone(),
            permalink_url,
        });
        let reply = Reply::checkout(&view);
        session.completion = Some(Completion {
            paid_with: paid_with
                .identifies_payment
                .then_some((paid_with.token, paid_with.idempotency_key)),
            reply: reply.clone(),
        });
        state.sessions.insert(session.id.clone(), session);
        self.announce(
            state,
            "order_placed",
            &order,
            context.agent_profile.as_deref(),
        );
        let kept = KeptOrder {
            order,
            agent_profile: context.agent_profile.clone(),
        };
        keep_bounded(
            &mut state.orders,
            &mut state.order_queue,
            self.config.max_sessions,
            order_id,
            kept,
        );
        reply
    }

    /// Queues an order event for the platform, when events are sent.
    fn announce(
        &self,
        state: &mut MerchantState,
        event_type: &str,
        order: &Order,
        agent_profile: Option<&str>,
    ) {
        let (Some(_), Some(agent_profile)) = (&self.webhook_client, agent_profile) else {
            return;
        };
        // The spec's webhook body is the order with an event id and time;
        // the reference samples (and the conformance suite) read
        // `event_type`, `checkout_id` and `order`: both are there.
        let mut payload = serde_json::to_value(order).unwrap_or_default();
        if let Value::Object(fields) = &mut payload {
            fields.insert(
                "event_id".into(),
                Value::String(format!("evt_{}", random_token(8))),
            );
            fields.insert(
                "created_time".into(),
                Value::String(rfc3339(now_millis() / 1000)),
            );
            fields.insert("event_type".into(), Value::String(event_type.into()));
            fields.insert(
                "order".into(),
                serde_json::to_value(order).unwrap_or_default(),
            );
        }
        if state.outbox.len() < MAX_OUTBOX {
            state.outbox.push(OrderEvent {
                agent_profile: agent_profile.to_string(),
                payload,
            });
        }
    }

    /// Sends the queued order events, each on a task of its own.
    pub(super) fn send_events(&self) {
        let Some(client) = &self.webhook_client else {
            return;
        };
        let policy = self.config.order_webhooks.unwrap_or_default();
        for event in std::mem::take(&mut lock(&self.state).outbox) {
            let client = client.clone();
            tokio::spawn(async move {
                // Nobody waits on a webhook: an event that cannot be
                // delivered is dropped after its attempts.
                let _ = deliver(&client, policy, &event).await;
            });
        }
    }

    /// Charges `instrument` for the session's total, or says why not.
    fn take_payment(
        &self,
        session: &Session,
        instrument: &PaymentInstrument,
        allowance: Option<&AllowanceCredential>,
        pricing: &Pricing,
    ) -> Result<PaidWith, Refusal> {
        let declined = |content: String| {
            Refusal::new(StatusCode::PAYMENT_REQUIRED, "payment_declined", content)
                .at("$.payment_data.credential")
        };
        if instrument.handler_id == ALLOWANCE_HANDLER_ID {
            let Some(credential) = allowance else {
                return Err(declined(format!(
                    "the {ALLOWANCE_HANDLER_ID} handler takes an {ALLOWANCE_CREDENTIAL_TYPE} credential"
                )));
            };
            self.check_allowance(session, credential, pricing.total)
                .map_err(declined)?;
            return Ok(PaidWith {
                token: credential.token.clone(),
                idempotency_key: credential.idempotency_key.clone(),
                identifies_payment: true,
            });
        }
        if self.config.test_payments && instrument.handler_id == "mock_payment_handler" {
            let credential = instrument.credential.as_ref();
            let token = credential
                .and_then(|c| c.get("token"))
                .and_then(Value::as_str);
            if token == Some("fail_token") {
                return Err(declined("Payment Failed: Insufficient Funds (Mock)".into()));
            }
            let shown = match (token, credential.and_then(|c| c.get("number"))) {
                (Some(token), _) => token.to_string(),
                (None, Some(Value::String(number))) => {
                    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
                    format!("card ending {}", &digits[digits.len().saturating_sub(4)..])
                }
                _ => return Err(declined("the mock instrument has no credential".into())),
            };
            return Ok(PaidWith {
                token: shown,
                idempotency_key: String::new(),
                identifies_payment: false,
            });
        }
        Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!(
                "payment handler {:?} is not one this merchant takes",
                instrument.handler_id
            ),
        )
        .at("$.payment_data.handler_id"))
    }

    /// Why the allowance cannot pay `total` in `session`, if it cannot.
    fn check_allowance(
        &self,
        session: &Session,
        credential: &AllowanceCredential,
        total: i64,
    ) -> Result<(), String> {
        let Allowance {
            reason,
            max_amount,
            currency,
            checkout_session_id,
            merchant_id,
            expires_at,
        } = &credential.allowance;
        let now = now_millis() / 1000;
        if credential.token.trim().is_empty() {
            Err("the payment token is empty".into())
        } else if reason != "one_time" {
            Err(format!("allowance reason {reason:?} is not one_time"))
        } else if !self.is_me(merchant_id) {
            Err("the authorisation is for another merchant".into())
        } else if *checkout_session_id != session.id || credential.binding.checkout_id != session.id
        {
            Err("the authorisation is for another checkout session".into())
        } else if !currency.eq_ignore_ascii_case(&session.currency) {
            Err(format!(
                "the authorisation is in {currency}, the checkout in {}",
                session.currency
            ))
        } else if *max_amount < total {
            Err(format!(
                "the authorised amount {} is below the total {}",
                Money::new(*max_amount, session.currency.clone()),
                Money::new(total, session.currency.clone())
            ))
        } else if *expires_at <= now {
            Err("the authorisation has expired".into())
        } else {
            Ok(())
        }
    }

    pub(super) fn order_reply(&self, state: &MerchantState, id: &str) -> Reply {
        match state.orders.get(id) {
            Some(kept) => Reply::ok(&kept.order),
            None => not_found("order", id),
        }
    }

    pub(super) fn simulate_shipping(&self, state: &mut MerchantState, now: i64, id: &str) -> Reply {
        let Some(kept) = state.orders.get_mut(id) else {
            return not_found("order", id);
        };
        let agent_profile = kept.agent_profile.clone();
        let order = &mut kept.order;
        let line_items: Vec<LineItemQuantity> = order
            .line_items
            .iter()
            .map(|line| LineItemQuantity {
                id: line.id.clone(),
                quantity: line.quantity.total,
            })
            .collect();
        for line in &mut order.line_items {
            line.quantity.fulfilled = line.quantity.total;
            line.status = "fulfilled".into();
        }
        let number = order.fulfillment.events.len() + 1;
        order.fulfillment.events.push(FulfillmentEvent {
            id: format!("evt_{number}"),
            occurred_at: rfc3339(now),
            kind: "shipped".into(),
            line_items,
            tracking_number: Some(format!("SIM-{}-{number}", order.id)),
            tracking_url: Some(order.permalink_url.clone()),
            carrier: None,
            description: Some("Shipped (simulated)".into()),
        });
        let order = order.clone();
        self.announce(state, "order_shipped", &order, agent_profile.as_deref());
        Reply::ok(&order)
    }

    // -- session parts -------------------------------------------------------

    fn check_currency(&self, request: &CheckoutRequest) -> Result<(), Refusal> {
        match &request.currency {
            Some(currency) if !currency.eq_ignore_ascii_case(self.currency()) => Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("This merchant sells in {}, not {currency}", self.currency()),
            )
            .at("$.currency")),
            _ => Ok(()),
        }
    }

    /// Replaces the session's lines with `requested`, all or nothing.
    fn set_lines(
        &self,
        state: &MerchantState,
        session: &mut Session,
        requested: &[LineItemRequest],
    ) -> Result<(), Refusal> {
        if requested.is_empty() {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "missing",
                "A checkout needs at least one line item",
            )
            .at("$.line_items"));
        }
        if requested.len() > MAX_LINE_ITEMS {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!("At most {MAX_LINE_ITEMS} line items"),
            )
            .at("$.line_items"));
        }
        let mut lines = Vec::with_capacity(requested.len());
        let mut next_line = session.next_line;
        for (index, request) in requested.iter().enumerate() {
            let path = format!("$.line_items[{index}]");
            let item_id = request.item.id.trim();
            if item_id.is_empty() || item_id.len() > MAX_ID_CHARS {
                return Err(
                    Refusal::new(StatusCode::BAD_REQUEST, "invalid", "Invalid item id")
                        .at(format!("{path}.item.id")),
                );
            }
            if !(1..=MAX_QUANTITY).contains(&request.quantity) {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("Quantity must be between 1 and {MAX_QUANTITY}"),
                )
                .at(format!("{path}.quantity")));
            }
            let (product, variant) = self.resolve(item_id).map_err(|r| r.at(path.clone()))?;
            // A line keeps its id when the platform names one of this
            // session's; anything else is a new line.
            let id = match &request.id {
                Some(id)
                    if session.lines.iter().any(|l| &l.id == id)
                        && !lines.iter().any(|l: &Line| &l.id == id) =>
                {
                    id.clone()
                }
                _ => {
                    let id = format!("li_{next_line}");
                    next_line += 1;
                    id
                }
            };
            lines.push(Line {
                id,
                item_id: item_id.to_string(),
                product,
                variant,
                quantity: request.quantity as u32,
            });
        }
        self.check_stock(state, &lines)?;
        // Amounts must fit: the session's money is worked out in i64.
        lines
            .iter()
            .try_fold(0i64, |sum, line| {
                let price = self.products[line.product].variants[line.variant]
                    .price
                    .amount;
                price
                    .checked_mul(i64::from(line.quantity))
                    .and_then(|amount| sum.checked_add(amount))
            })
            .filter(|sum| *sum <= i64::MAX / 4)
            .ok_or_else(|| {
                Refusal::new(StatusCode::BAD_REQUEST, "invalid", "The order is too large")
                    .at("$.line_items")
            })?;
        session.lines = lines;
        session.next_line = next_line;
        Ok(())
    }

    /// The variant a line item's id names, or why none.
    fn resolve(&self, item_id: &str) -> Result<(usize, usize), Refusal> {
        if let Some(&(product, variant)) = self.items.get(item_id) {
            let price = &self.products[product].variants[variant].price;
            if !price.currency.eq_ignore_ascii_case(self.currency()) || price.amount < 0 {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "not_found",
                    format!("Item {item_id} is not sold in {}", self.currency()),
                ));
            }
            return Ok((product, variant));
        }
        if let Some(&product) = self.several.get(item_id) {
            let ids: Vec<&str> = self.products[product]
                .variants
                .iter()
                .take(12)
                .map(|v| v.id.as_str())
                .collect();
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                format!(
                    "Item {item_id} has several variants; name one by its id ({})",
                    ids.join(", ")
                ),
            ));
        }
        Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "not_found",
            format!("Item {item_id} not found"),
        ))
    }

    /// Whether every line is in stock, counting lines of one variant
    /// together.
    fn check_stock(&self, state: &MerchantState, lines: &[Line]) -> Result<(), Refusal> {
        let mut wanted: HashMap<(usize, usize), u64> = HashMap::new();
        for line in lines {
            *wanted.entry((line.product, line.variant)).or_default() += u64::from(line.quantity);
        }
        for (index, line) in lines.iter().enumerate() {
            let variant = &self.products[line.product].variants[line.variant];
            let asked = wanted[&(line.product, line.variant)];
            if asked > self.in_stock(state, variant) {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "out_of_stock",
                    format!("Insufficient stock for item {}", line.item_id),
                )
                .at(format!("$.line_items[{index}]")));
            }
        }
        Ok(())
    }

    fn in_stock(&self, state: &MerchantState, variant: &FeedVariant) -> u64 {
        if !variant.availability.available {
            return 0;
        }
        let held = self
            .config
            .inventory
            .get(&variant.id)
            .copied()
            .unwrap_or(self.config.default_stock);
        u64::from(held).saturating_sub(state.sold.get(&variant.id).copied().unwrap_or(0))
    }

    /// Buyer, fulfilment and discount codes from a create or update.
    fn set_details(&self, session: &mut Session, request: &CheckoutRequest) -> Result<(), Refusal> {
        if let Some(buyer) = &request.buyer {
            if !buyer.is_object() {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    "buyer must be an object",
                )
                .at("$.buyer"));
            }
            session.buyer = Some(buyer.clone());
        }
        if let Some(payment) = &request.payment {
            session.payment = payment_choice(payment)?;
        }
        if let Some(discounts) = &request.discounts {
            if let Some(codes) = &discounts.codes {
                if codes.len() > MAX_CODES || codes.iter().any(|c| c.len() > MAX_ID_CHARS) {
                    return Err(Refusal::new(
                        StatusCode::BAD_REQUEST,
                        "invalid",
                        format!("At most {MAX_CODES} discount codes"),
                    )
                    .at("$.discounts.codes"));
                }
                session.codes = codes.iter().map(|c| c.trim().to_string()).collect();
            }
        }
        let Some(fulfillment) = &request.fulfillment else {
            return Ok(());
        };
        // One shipping method covers every line; a request names it first.
        let Some(method) = fulfillment
            .methods
            .iter()
            .find(|m| m.kind.is_empty() || m.kind == "shipping")
        else {
            return Ok(());
        };
        if !method.destinations.is_empty() {
            if method.destinations.len() > MAX_DESTINATIONS {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("At most {MAX_DESTINATIONS} destinations"),
                )
                .at("$.fulfillment.methods[0].destinations"));
            }
            let mut destinations = Vec::new();
            for destination in &method.destinations {
                let mut destination = destination.clone();
                if destination.id.trim().is_empty() || destination.id.len() > MAX_ID_CHARS {
                    destination.id = format!("dest_{}", session.next_destination);
                    session.next_destination += 1;
                }
                destinations.push(destination);
            }
            session.destinations = destinations;
            if session
                .selected_destination
                .as_ref()
                .is_some_and(|id| !session.destinations.iter().any(|d| &d.id == id))
            {
                session.selected_destination = None;
            }
        }
        if let Some(selected) = &method.selected_destination_id {
            if !session.destinations.iter().any(|d| &d.id == selected) {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "invalid",
                    format!("No destination {selected} in this checkout"),
                )
                .at("$.fulfillment.methods[0].selected_destination_id"));
            }
            session.selected_destination = Some(selected.clone());
        }
        if let Some(selected) = method
            .groups
            .first()
            .and_then(|g| g.selected_option_id.as_deref())
        {
            // An option of another merchant's making (a platform's default)
            // is not chosen; the session then asks for a choice.
            session.selected_option = Some(selected.to_string());
        }
        // Options follow the destination: a choice no longer offered there
        // is dropped, and the session asks again.
        let offered = self.offered_rates(session);
        if session
            .selected_option
            .as_ref()
            .is_some_and(|selected| !offered.iter().any(|rate| rate.id == *selected))
        {
            session.selected_option = None;
        }
        Ok(())
    }
}

/// The instrument's allowance, when it carries one.
fn allowance_credential(instrument: &PaymentInstrument) -> Option<AllowanceCredential> {
    let credential: AllowanceCredential =
        serde_json::from_value(instrument.credential.clone()?).ok()?;
    (credential.kind == ALLOWANCE_CREDENTIAL_TYPE).then_some(credential)
}

struct PaidWith {
    token: String,
    idempotency_key: String,
    /// Whether the credential names one payment (an allowance does; a mock
    /// token does not).
    identifies_payment: bool,
}

fn not_modifiable(session: &Session) -> Option<Refusal> {
    let (status, word) = match session.stage {
        Stage::Open => return None,
        Stage::Completed => (CheckoutStatus::Completed, "completed"),
        Stage::Canceled => (CheckoutStatus::Canceled, "canceled"),
    };
    Some(
        Refusal::new(
            StatusCode::CONFLICT,
            "checkout_not_modifiable",
            format!("The checkout session is {word} and cannot be changed"),
        )
        .in_session(status),
    )
}

/// What the platform said of its payment, as kept and echoed: instruments
/// without their credentials.
fn payment_choice(payment: &PaymentRequest) -> Result<PaymentChoice, Refusal> {
    let selected = payment.selected_instrument_id.as_deref().map(str::trim);
    if selected.is_some_and(|id| id.is_empty() || id.len() > MAX_ID_CHARS) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            "Invalid selected_instrument_id",
        )
        .at("$.payment.selected_instrument_id"));
    }
    if payment.instruments.len() > MAX_INSTRUMENTS {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "invalid",
            format!("At most {MAX_INSTRUMENTS} payment instruments"),
        )
        .at("$.payment.instruments"));
    }
    let mut instruments = Vec::with_capacity(payment.instruments.len());
    for (index, instrument) in payment.instruments.iter().enumerate() {
        let Value::Object(fields) = instrument else {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                "invalid",
                "A payment instrument is an object",
            )
            .at(format!("$.payment.instruments[{index}]")));
        };
        let mut fields = fields.clone();
        fields.remove("credential");
        instruments.push(Value::Object(fields));
    }
    Ok(PaymentChoice {
        selected_instrument_id: selected.map(String::from),
        instruments,
    })
}
