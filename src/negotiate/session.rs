//! One conversation with one merchant, as a state machine with no I/O: it is
//! fed the merchant's messages and says what to send next. The transport and
//! the orchestrator do the talking; this file only decides.
//!
//! Merchant text is data. It is classified by the dialogue rules and answered
//! from the shopper's request; nothing in it can change what is wanted.

use crate::catalog::index::{canonical_color, canonical_size};
use crate::merchant::wire::{OutgoingMessage, PaymentAuthorization, Template};
use crate::money::parse_decimal_minor;
use crate::order::Invoice;
use crate::rules::{CompiledRules, DialogueAct};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What the shopper wants from this merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wanted {
    pub product_code: String,
    pub product_title: String,
    /// Canonical values ("gray", "M").
    pub color: Option<String>,
    pub size: Option<String>,
    pub quantity: u32,
    /// Canonical material ("wool"), if the shopper named one.
    #[serde(default)]
    pub material: Option<String>,
    /// Where to ship, given to merchants that ask; `None`: not configured.
    #[serde(default)]
    pub shipping_address: Option<String>,
}

/// A message Concierge sends on the shopper's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShopperMessage {
    Text {
        text: String,
        quick_reply_payload: Option<String>,
    },
    Postback {
        title: String,
        payload: String,
        payment: Option<PaymentAuthorization>,
    },
}

impl ShopperMessage {
    fn text(text: impl Into<String>) -> ShopperMessage {
        ShopperMessage::Text {
            text: text.into(),
            quick_reply_payload: None,
        }
    }

    /// How the transcript shows it.
    pub fn render(&self) -> String {
        match self {
            ShopperMessage::Text {
                text,
                quick_reply_payload: Some(_),
            } => format!("{text}  (quick reply)"),
            ShopperMessage::Text { text, .. } => text.clone(),
            ShopperMessage::Postback {
                title,
                payment: Some(payment),
                ..
            } => {
                let amount = crate::money::Money::new(
                    payment.allowance.max_amount,
                    payment.allowance.currency.clone(),
                );
                format!(
                    "[taps {title}, authorising {amount} for {} only]",
                    payment.allowance.checkout_session_id
                )
            }
            ShopperMessage::Postback { title, .. } => format!("[taps {title}]"),
        }
    }
}

/// Who said a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Speaker {
    Concierge,
    Merchant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    pub speaker: Speaker,
    pub text: String,
}

/// What to do after reading the merchant's replies. Short-lived, so the
/// size difference between variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Send(ShopperMessage),
    /// The merchant asks for an option the request left open and the
    /// shopper can be asked: `slot` is "size" or "colour", `options` what the
    /// merchant offers. Answer with [`Session::choose`].
    NeedChoice {
        slot: String,
        options: Vec<String>,
    },
    /// An invoice arrived; the session waits for the decision.
    Invoiced,
    /// The merchant only chatted (a greeting, an error notice): read its
    /// next message without sending anything.
    Wait,
    /// The conversation ended without an invoice; the reason is in
    /// [`Session::failure`].
    Stop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Talking,
    Invoiced,
    Paid,
    PaymentRefused,
    Declined,
    Failed,
}

/// How a payment attempt ended, as read from the merchant's replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentReply {
    Confirmed(String),
    Refused(String),
}

pub struct Session {
    pub merchant_id: String,
    pub wanted: Wanted,
    pub state: SessionState,
    pub transcript: Vec<TranscriptLine>,
    pub invoice: Option<Invoice>,
    pub failure: Option<String>,
    /// The lowest unit price the merchant quoted in text, if any.
    pub quoted_unit_price: Option<i64>,
    /// The payload of the merchant's Pay button.
    pub pay_payload: Option<String>,
    pub pay_title: String,
    turns_sent: u32,
    max_turns: u32,
    /// Set while waiting for the answer to a counter-offer; the invoice
    /// that stands if the merchant says no.
    countering: Option<Invoice>,
    /// Whether open choices go to the shopper (interactive) instead of
    /// ending the conversation.
    pub ask_shopper: bool,
    /// The question waiting for the shopper's choice, with what was offered.
    pending_choice: Option<(DialogueAct, Vec<OfferedOption>)>,
    /// Set after waiting once for more after chatter; a second round of
    /// chatter ends the conversation.
    waited: bool,
    last_question: Option<(DialogueAct, String)>,
    rules: Arc<CompiledRules>,
}

impl Session {
    pub fn new(
        merchant_id: &str,
        wanted: Wanted,
        rules: Arc<CompiledRules>,
        max_turns: u32,
    ) -> Session {
        Session {
            merchant_id: merchant_id.to_string(),
            wanted,
            state: SessionState::Talking,
            transcript: Vec::new(),
            invoice: None,
            failure: None,
            quoted_unit_price: None,
            pay_payload: None,
            pay_title: "Pay".into(),
            turns_sent: 0,
            max_turns,
            countering: None,
            ask_shopper: false,
            pending_choice: None,
            waited: false,
            last_question: None,
            rules,
        }
    }

    /// The first message: the product code, with the quantity when above one.
    pub fn opening(&mut self) -> ShopperMessage {
        let text = if self.wanted.quantity > 1 {
            format!("{} x {}", self.wanted.quantity, self.wanted.product_code)
        } else {
            self.wanted.product_code.clone()
        };
        self.sent(ShopperMessage::text(text))
    }

    /// Records an outgoing message in the transcript and counts the turn.
    fn sent(&mut self, message: ShopperMessage) -> ShopperMessage {
        self.turns_sent += 1;
        self.transcript.push(TranscriptLine {
            speaker: Speaker::Concierge,
            text: message.render(),
        });
        message
    }

    fn fail(&mut self, reason: impl Into<String>) -> Next {
        self.state = SessionState::Failed;
        self.failure = Some(reason.into());
        Next::Stop
    }

    /// Fails the session from outside (timeout, transport error).
    pub fn abort(&mut self, reason: impl Into<String>) {
        if self.state == SessionState::Talking {
            self.state = SessionState::Failed;
            self.failure = Some(reason.into());
        }
    }

    fn record_replies(&mut self, replies: &[OutgoingMessage]) {
        for reply in replies {
            self.transcript.push(TranscriptLine {
                speaker: Speaker::Merchant,
                text: render_merchant_message(reply),
            });
        }
    }

    /// Whether `replies` complete the merchant's turn: a question or choice
    /// to answer, an offer with a way to agree to it, or an end (out of
    /// stock, a substitute, a confirmation). Greetings, "got it", images and
    /// an invoice still waiting for its Pay button leave it open.
    pub fn turn_complete(&self, replies: &[OutgoingMessage]) -> bool {
        let mut receipt = false;
        let mut affordance = false;
        let mut text = String::new();
        for reply in replies {
            if reply.quick_replies.as_ref().is_some_and(|q| !q.is_empty()) {
                affordance = true;
            }
            if let Some(t) = &reply.text {
                text.push_str(t);
                text.push(' ');
            }
            match reply.attachment.as_ref().and_then(|a| a.as_template()) {
                Some(Template::Receipt(_)) => receipt = true,
                Some(Template::Button {
                    text: said,
                    buttons,
                }) => {
                    text.push_str(&said);
                    text.push(' ');
                    affordance |= buttons.iter().any(|b| b.kind == "postback");
                }
                Some(Template::Generic { elements }) => {
                    affordance |= elements
                        .iter()
                        .any(|e| e.buttons.iter().any(|b| b.kind == "postback"));
                }
                None => {}
            }
        }
        if receipt {
            return affordance;
        }
        if affordance {
            return true;
        }
        let acts = self.rules.dialogue_acts(&text);
        let offer = acts
            .iter()
            .any(|(act, _)| matches!(act, DialogueAct::InvoiceText | DialogueAct::PriceQuote));
        acts.iter().any(|(act, _)| match act {
            DialogueAct::AskSize
            | DialogueAct::AskColor
            | DialogueAct::AskQuantity
            | DialogueAct::AskMaterial
            | DialogueAct::AskAddress => !offer,
            DialogueAct::OutOfStock
            | DialogueAct::SubstituteOffered
            | DialogueAct::PaymentConfirmed
            | DialogueAct::CancelConfirmed => true,
            _ => false,
        })
    }

    /// Whether `replies` complete the answer to a Pay tap: a confirmation
    /// or a refusal; a bare "thanks" may still be followed by either.
    pub fn payment_turn_complete(&self, replies: &[OutgoingMessage]) -> bool {
        let text: String = replies
            .iter()
            .filter_map(|r| r.text.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        let refused =
            regex_once(r"(?i)\b(?:declin|fail|refus|could not|couldn't|unable|invalid|error)")
                .is_match(&text);
        refused
            || self
                .rules
                .dialogue_acts(&text)
                .iter()
                .any(|(act, _)| *act == DialogueAct::PaymentConfirmed)
    }

    /// Reads the merchant's replies to the last message and decides.
    pub fn on_replies(&mut self, replies: &[OutgoingMessage]) -> Next {
        self.record_replies(replies);
        if self.state != SessionState::Talking {
            return Next::Stop;
        }
        // An invoice: a receipt template, with a Pay button beside it.
        let mut receipt = None;
        for reply in replies {
            match reply.attachment.as_ref().and_then(|a| a.as_template()) {
                Some(Template::Receipt(r)) => receipt = Some(r),
                Some(Template::Button { buttons, .. }) => {
                    if let Some(button) = buttons
                        .iter()
                        .find(|b| is_pay_button(&b.title, b.payload.as_deref()))
                    {
                        self.pay_payload = button.payload.clone();
                        self.pay_title = button.title.clone();
                    }
                }
                _ => {}
            }
        }
        if receipt.is_some() {
            self.countering = None;
        } else if let Some(standing) = self.countering.take() {
            // No new invoice: the counter-offer was refused and the first
            // invoice stands.
            self.invoice = Some(standing);
            self.state = SessionState::Invoiced;
            return Next::Invoiced;
        }
        if let Some(receipt) = receipt {
            return match Invoice::from_receipt(&self.merchant_id, &receipt) {
                Ok(invoice) => {
                    self.invoice = Some(invoice);
                    self.state = SessionState::Invoiced;
                    Next::Invoiced
                }
                Err(problem) => self.fail(format!("unreadable invoice: {problem}")),
            };
        }

        // Everything said in words: texts and button-template texts.
        let mut said: Vec<String> = Vec::new();
        for reply in replies {
            if let Some(text) = &reply.text {
                said.push(text.clone());
            }
            if let Some(Template::Button { text, .. }) =
                reply.attachment.as_ref().and_then(|a| a.as_template())
            {
                said.push(text);
            }
        }
        let text = said.join(" ");
        let offered = options_offered(replies, &text);
        if text.trim().is_empty() && offered.is_empty() {
            return self.fail("the merchant sent nothing to answer");
        }
        let acts: Vec<DialogueAct> = self
            .rules
            .dialogue_acts(&text)
            .into_iter()
            .map(|(act, _)| act)
            .collect();

        // An invoice in plain text: "Your order Q-17 comes to a total of $49.00".
        if acts.contains(&DialogueAct::InvoiceText) {
            if let Some(invoice) = self.invoice_from_text(&text) {
                self.pay_payload
                    .get_or_insert_with(|| format!("PAY:{}", invoice.order_number));
                self.invoice = Some(invoice);
                self.state = SessionState::Invoiced;
                return Next::Invoiced;
            }
        }
        if acts.contains(&DialogueAct::PriceQuote) {
            if let Some(quote) = first_amount(&text) {
                self.quoted_unit_price =
                    Some(self.quoted_unit_price.map_or(quote, |q| q.min(quote)));
            }
        }
        if acts.contains(&DialogueAct::SubstituteOffered) {
            // A substitute is fine only when it is what was asked anyway
            // ("charcoal" for gray).
            let offered_colors = substitute_colors(&self.rules, &text);
            let acceptable = self.wanted.color.as_ref().is_some_and(|wanted| {
                !offered_colors.is_empty() && offered_colors.iter().all(|c| c == wanted)
            });
            if !acceptable {
                return self.fail(format!(
                    "the merchant offered a substitute: {}",
                    clip(&text, 160)
                ));
            }
            return self.reply_once(
                DialogueAct::ConfirmQuestion,
                ShopperMessage::text("Yes, please."),
            );
        }
        if acts.contains(&DialogueAct::OutOfStock) {
            return self.fail(format!("merchant says: {}", clip(&text, 160)));
        }
        if self.turns_sent >= self.max_turns {
            return self.fail(format!("no invoice after {} messages", self.turns_sent));
        }
        // The question asked: the last slot question in the text wins.
        let question = acts
            .iter()
            .rev()
            .find(|act| {
                matches!(
                    act,
                    DialogueAct::AskSize
                        | DialogueAct::AskColor
                        | DialogueAct::AskQuantity
                        | DialogueAct::AskMaterial
                        | DialogueAct::AskAddress
                        | DialogueAct::ConfirmQuestion
                )
            })
            .copied()
            .or_else(|| self.guess_question_from_options(&offered));
        let Some(question) = question else {
            // Greetings, chatter and error notices ask nothing: wait for the
            // merchant's next message rather than guess.
            if acts
                .iter()
                .any(|act| matches!(act, DialogueAct::Greeting | DialogueAct::MerchantError))
                && !self.waited
            {
                self.waited = true;
                return Next::Wait;
            }
            return self.fail(format!(
                "could not understand the merchant: {}",
                clip(&text, 160)
            ));
        };
        let open = match question {
            DialogueAct::AskSize => self.wanted.size.is_none(),
            DialogueAct::AskColor => self.wanted.color.is_none(),
            _ => false,
        };
        if open && self.ask_shopper {
            let slot = if question == DialogueAct::AskSize {
                "size"
            } else {
                "colour"
            };
            let options = offered.iter().map(|o| o.title.clone()).collect();
            self.pending_choice = Some((question, offered));
            return Next::NeedChoice {
                slot: slot.into(),
                options,
            };
        }
        let answer = match self.answer(question, &offered) {
            Ok(answer) => answer,
            Err(reason) => return self.fail(reason),
        };
        self.reply_once(question, answer)
    }

    /// The shopper's answer to a [`Next::NeedChoice`]: it becomes part of
    /// what is wanted (canonicalised), and the merchant's question is
    /// answered with it. `None` means the shopper declined to choose.
    pub fn choose(&mut self, choice: Option<&str>) -> Next {
        let Some((question, offered)) = self.pending_choice.take() else {
            return Next::Stop;
        };
        let Some(choice) = choice.map(str::trim).filter(|c| !c.is_empty()) else {
            return self.fail("the shopper did not choose");
        };
        match question {
            DialogueAct::AskSize => self.wanted.size = Some(canonical_size(&self.rules, choice)),
            _ => self.wanted.color = Some(canonical_color(&self.rules, choice)),
        }
        match self.answer(question, &offered) {
            Ok(answer) => self.reply_once(question, answer),
            Err(reason) => self.fail(reason),
        }
    }

    /// Sends `answer` unless it is the same answer to the same question as
    /// last time, which means the merchant did not accept it.
    fn reply_once(&mut self, question: DialogueAct, answer: ShopperMessage) -> Next {
        let answer_text = match &answer {
            ShopperMessage::Text { text, .. } => text.clone(),
            ShopperMessage::Postback { title, .. } => title.clone(),
        };
        if self.last_question.as_ref() == Some(&(question, answer_text.clone())) {
            return self.fail(format!(
                "the merchant did not accept {answer_text:?} and asked again"
            ));
        }
        self.last_question = Some((question, answer_text));
        Next::Send(self.sent(answer))
    }

    /// With options and no recognisable question, the options themselves
    /// tell what is asked.
    fn guess_question_from_options(&self, offered: &[OfferedOption]) -> Option<DialogueAct> {
        use crate::rules::LexSlot;
        let lexicon = &self.rules.lexicon;
        if offered.is_empty() {
            return None;
        }
        if offered.iter().all(|o| {
            lexicon.canonical(LexSlot::Size, &o.title).is_some()
                || o.title.chars().all(|c| c.is_ascii_digit())
        }) {
            return Some(DialogueAct::AskSize);
        }
        if offered
            .iter()
            .any(|o| lexicon.canonical(LexSlot::Color, &o.title).is_some())
        {
            return Some(DialogueAct::AskColor);
        }
        None
    }

    fn answer(
        &self,
        question: DialogueAct,
        offered: &[OfferedOption],
    ) -> Result<ShopperMessage, String> {
        let (slot_name, wanted, slot) = match question {
            DialogueAct::AskSize => (
                "size",
                self.wanted.size.clone(),
                crate::rules::LexSlot::Size,
            ),
            DialogueAct::AskColor => (
                "colour",
                self.wanted.color.clone(),
                crate::rules::LexSlot::Color,
            ),
            DialogueAct::AskQuantity => {
                return Ok(ShopperMessage::text(
                    self.wanted.quantity.max(1).to_string(),
                ))
            }
            DialogueAct::AskAddress => {
                return self
                    .wanted
                    .shipping_address
                    .clone()
                    .map(ShopperMessage::text)
                    .ok_or_else(|| "the merchant asks for a shipping address and none is configured (CONCIERGE_SHIPPING_ADDRESS)".to_string())
            }
            DialogueAct::AskMaterial => (
                "material",
                self.wanted.material.clone(),
                crate::rules::LexSlot::Material,
            ),
            DialogueAct::ConfirmQuestion => return Ok(ShopperMessage::text("Yes, please.")),
            _ => return Err("unexpected question".into()),
        };
        let Some(wanted) = wanted else {
            let titles: Vec<&str> = offered.iter().map(|o| o.title.as_str()).collect();
            return Err(format!(
                "the merchant asks for a {slot_name} and the request did not say one{}; Concierge does not guess",
                if titles.is_empty() { String::new() } else { format!(" (offered: {})", titles.join(", ")) }
            ));
        };
        if offered.is_empty() {
            return Ok(ShopperMessage::text(wanted));
        }
        match pick_option(&self.rules, slot, &wanted, offered) {
            Some(choice) => Ok(choice.answer.clone()),
            None => Err(format!(
                "{slot_name} {wanted} is not offered (in stock: {})",
                offered
                    .iter()
                    .map(|o| o.title.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Reads a plain-text invoice: a total, optionally shipping and tax and
    /// an order number; the item is the one asked for, its colour and size
    /// as the text states them.
    fn invoice_from_text(&self, text: &str) -> Option<Invoice> {
        let total_pattern = regex_once(r"(?i)\btotal\b[^$€£\d]{0,30}([$€£])\s?(\d+(?:\.\d{1,2})?)");
        let captures = total_pattern.captures(text)?;
        let currency = self
            .rules
            .currency_code(captures.get(1)?.as_str())?
            .to_string();
        let total = parse_decimal_minor(captures.get(2)?.as_str())?;
        let labelled = |label: &str| -> i64 {
            let pattern = regex::Regex::new(&format!(
                r"(?i)([$€£])\s?(\d+(?:\.\d{{1,2}})?)\s*(?:for\s+|in\s+)?{label}|{label}[^$€£\d]{{0,12}}([$€£])\s?(\d+(?:\.\d{{1,2}})?)"
            ));
            pattern
                .ok()
                .and_then(|p| p.captures(text))
                .and_then(|c| c.get(2).or_else(|| c.get(4)))
                .and_then(|m| parse_decimal_minor(m.as_str()))
                .unwrap_or(0)
        };
        let shipping = labelled("shipping");
        let tax = labelled("tax");
        let quantity = self.wanted.quantity.max(1);
        let items = total.checked_sub(shipping)?.checked_sub(tax)?;
        if items < 0 || items % i64::from(quantity) != 0 {
            return None;
        }
        let order_pattern = regex_once(
            r"(?i)\b(?:order|invoice)\s*(?:number|no\.?|#)?\s*:?\s*#?([A-Z0-9](?:[A-Z0-9-]*\d)[A-Z0-9-]*)",
        );
        let order_number = order_pattern
            .captures(text)
            .and_then(|c| c.get(1))
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| format!("TEXT-{}", self.merchant_id));
        let mut variant: Vec<String> = Vec::new();
        if let Some(color) = words_for(&self.rules, crate::rules::LexSlot::Color, text) {
            variant.push(color);
        }
        if let Some(size) = words_for(&self.rules, crate::rules::LexSlot::Size, text) {
            variant.push(size);
        }
        Some(Invoice {
            merchant_id: self.merchant_id.clone(),
            order_number,
            currency,
            lines: vec![crate::order::InvoiceLine {
                title: self.wanted.product_title.clone(),
                subtitle: variant.join(" / "),
                quantity,
                unit_price: items / i64::from(quantity),
            }],
            subtotal: Some(items),
            shipping,
            tax,
            adjustments: 0,
            total,
        })
    }

    /// One counter-offer on a standing invoice ("Could you do $50.00?"). The
    /// merchant answers with a new invoice or the old one stands.
    pub fn counter_offer(&mut self, text: &str) -> Option<ShopperMessage> {
        if self.state != SessionState::Invoiced {
            return None;
        }
        self.countering = self.invoice.take();
        self.state = SessionState::Talking;
        Some(self.sent(ShopperMessage::text(text)))
    }

    /// The Pay tap, carrying the authorisation.
    pub fn pay(&mut self, authorization: PaymentAuthorization) -> Option<ShopperMessage> {
        let payload = self.pay_payload.clone()?;
        let title = self.pay_title.clone();
        Some(self.sent(ShopperMessage::Postback {
            title,
            payload,
            payment: Some(authorization),
        }))
    }

    /// Reads the replies to a Pay tap.
    pub fn on_payment_replies(&mut self, replies: &[OutgoingMessage]) -> PaymentReply {
        self.record_replies(replies);
        let text: String = replies
            .iter()
            .filter_map(|r| r.text.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        let confirmed = self
            .rules
            .dialogue_acts(&text)
            .iter()
            .any(|(act, _)| *act == DialogueAct::PaymentConfirmed);
        if confirmed {
            self.state = SessionState::Paid;
            PaymentReply::Confirmed(text)
        } else {
            self.state = SessionState::PaymentRefused;
            PaymentReply::Refused(if text.is_empty() {
                "no confirmation".into()
            } else {
                clip(&text, 160)
            })
        }
    }

    /// A polite no, with the reason.
    pub fn decline(&mut self, reason: &str) -> ShopperMessage {
        if self.state == SessionState::Invoiced || self.state == SessionState::Talking {
            self.state = SessionState::Declined;
        }
        self.sent(ShopperMessage::text(format!("No thanks: {reason}.")))
    }

    /// Records replies that need no decision (to a decline).
    pub fn note_replies(&mut self, replies: &[OutgoingMessage]) {
        self.record_replies(replies);
    }
}

/// One option a merchant offered, and how to choose it.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferedOption {
    pub title: String,
    pub answer: ShopperMessage,
}

/// The options on offer: quick replies, non-payment postback buttons, or a
/// list in the text ("we have S, M and L").
fn options_offered(replies: &[OutgoingMessage], text: &str) -> Vec<OfferedOption> {
    let mut offered = Vec::new();
    for reply in replies {
        for quick in reply.quick_replies.iter().flatten() {
            offered.push(OfferedOption {
                title: quick.title.clone(),
                answer: ShopperMessage::Text {
                    text: quick.title.clone(),
                    quick_reply_payload: Some(quick.payload.clone()),
                },
            });
        }
        if let Some(Template::Button { buttons, .. }) =
            reply.attachment.as_ref().and_then(|a| a.as_template())
        {
            for button in buttons
                .iter()
                .filter(|b| b.kind == "postback" && !is_pay_button(&b.title, b.payload.as_deref()))
            {
                offered.push(OfferedOption {
                    title: button.title.clone(),
                    answer: ShopperMessage::Postback {
                        title: button.title.clone(),
                        payload: button.payload.clone().unwrap_or_default(),
                        payment: None,
                    },
                });
            }
        }
    }
    if offered.is_empty() {
        let list = regex_once(
            r"(?i)\b(?:we have|we've got|available in|available:|options are|choose from|comes in|in stock:|pick from|sizes are|colou?rs are)\s*:?\s*([^.?!;]+)",
        );
        if let Some(items) = list.captures(text).and_then(|c| c.get(1)) {
            for item in regex_once(r"(?i)\s*(?:,|/|\bor\b|\band\b)\s*").split(items.as_str()) {
                let item = item.trim().trim_end_matches([')', ':']).trim();
                if !item.is_empty() && item.split_whitespace().count() <= 3 {
                    offered.push(OfferedOption {
                        title: item.to_string(),
                        answer: ShopperMessage::text(item),
                    });
                }
            }
        }
    }
    offered.truncate(20);
    offered
}

/// The offered option that means `wanted`: by canonical value, then by any
/// word or word pair of its title ("Heather Grey melange" is gray), then by
/// a close spelling.
fn pick_option<'o>(
    rules: &CompiledRules,
    slot: crate::rules::LexSlot,
    wanted: &str,
    offered: &'o [OfferedOption],
) -> Option<&'o OfferedOption> {
    let canonicalise = |title: &str| match slot {
        crate::rules::LexSlot::Size => canonical_size(rules, title),
        _ => canonical_color(rules, title),
    };
    if let Some(exact) = offered.iter().find(|o| canonicalise(&o.title) == wanted) {
        return Some(exact);
    }
    if let Some(by_words) = offered
        .iter()
        .find(|o| words_for(rules, slot, &o.title).is_some_and(|w| canonicalise(&w) == wanted))
    {
        return Some(by_words);
    }
    offered
        .iter()
        .map(|o| {
            (
                o,
                strsim::jaro_winkler(&o.title.to_lowercase(), &wanted.to_lowercase()),
            )
        })
        .filter(|(_, similarity)| *similarity >= 0.92)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(o, _)| o)
}

/// The first phrase in `text` (up to three words, longest first) that the
/// lexicon knows for `slot`, as written. Single letters count as sizes only
/// when the whole text is that letter or it follows "size".
fn words_for(rules: &CompiledRules, slot: crate::rules::LexSlot, text: &str) -> Option<String> {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    for start in 0..words.len() {
        for n in (1..=3.min(words.len() - start)).rev() {
            let phrase = words[start..start + n].join(" ");
            if rules.lexicon.canonical(slot, &phrase).is_none() {
                continue;
            }
            let single_letter = phrase.len() == 1;
            let in_context =
                words.len() == 1 || (start > 0 && words[start - 1].eq_ignore_ascii_case("size"));
            if single_letter && !in_context {
                continue;
            }
            return Some(phrase);
        }
    }
    None
}

/// Canonical colours mentioned anywhere in `text`.
fn colors_in(rules: &CompiledRules, text: &str) -> Vec<String> {
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut found = Vec::new();
    for n in 1..=3 {
        for window in words.windows(n) {
            if let Some(color) = rules
                .lexicon
                .canonical(crate::rules::LexSlot::Color, &window.join(" "))
            {
                if !found.iter().any(|f: &String| f == color) {
                    found.push(color.to_string());
                }
            }
        }
    }
    found
}

/// The colours offered as a substitute: those in the clause that carries the
/// offer ("..., but we have charcoal instead"), not the sold-out one.
fn substitute_colors(rules: &CompiledRules, text: &str) -> Vec<String> {
    let trigger = regex_once(r"(?i)\b(?:instead|how about|similar|would .{0,40}\bwork)\b");
    regex_once(r"(?i)[.;!?,]|\bbut\b")
        .split(text)
        .filter(|clause| trigger.is_match(clause))
        .flat_map(|clause| colors_in(rules, clause))
        .collect()
}

/// The first money amount in `text`, in minor units.
fn first_amount(text: &str) -> Option<i64> {
    let pattern = regex_once(r"[$€£]\s?(\d+(?:\.\d{1,2})?)");
    parse_decimal_minor(pattern.captures(text)?.get(1)?.as_str())
}

/// Compiles one of this file's fixed patterns once per call site.
fn regex_once(pattern: &'static str) -> regex::Regex {
    // These patterns are constants of this file, checked by its tests; the
    // cache keeps the per-message cost to a lookup.
    static CACHE: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<&'static str, regex::Regex>>,
    > = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
    cache
        .entry(pattern)
        .or_insert_with(|| regex::Regex::new(pattern).expect("fixed pattern compiles"))
        .clone()
}

fn is_pay_button(title: &str, payload: Option<&str>) -> bool {
    let title = title.to_lowercase();
    let payload = payload.unwrap_or("").to_lowercase();
    title.contains("pay")
        || title.contains("checkout")
        || title.contains("buy")
        || payload.starts_with("pay")
}

fn clip(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max_chars).collect::<String>())
    }
}

/// A merchant message as one readable transcript line.
pub fn render_merchant_message(message: &OutgoingMessage) -> String {
    let mut parts = Vec::new();
    if let Some(text) = &message.text {
        parts.push(clip(text, 300));
    }
    if let Some(quick) = &message.quick_replies {
        parts.push(
            quick
                .iter()
                .take(13)
                .map(|q| format!("[{}]", clip(&q.title, 20)))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    if let Some(attachment) = &message.attachment {
        match attachment.as_template() {
            Some(Template::Receipt(receipt)) => {
                let lines: Vec<String> = receipt
                    .elements
                    .iter()
                    .map(|e| {
                        format!(
                            "{} ({}) x{} @ {:.2}",
                            clip(&e.title, 60),
                            clip(e.subtitle.as_deref().unwrap_or(""), 40),
                            e.quantity.unwrap_or(1),
                            e.price
                        )
                    })
                    .collect();
                let s = &receipt.summary;
                parts.push(format!(
                    "<receipt {}: {}; subtotal {:.2}, shipping {:.2}, tax {:.2}, total {:.2} {}>",
                    clip(&receipt.order_number, 40),
                    lines.join("; "),
                    s.subtotal.unwrap_or(0.0),
                    s.shipping_cost.unwrap_or(0.0),
                    s.total_tax.unwrap_or(0.0),
                    s.total_cost,
                    clip(&receipt.currency, 3)
                ));
            }
            Some(Template::Button { text, buttons }) => {
                parts.push(format!(
                    "{} {}",
                    clip(&text, 200),
                    buttons
                        .iter()
                        .map(|b| format!("[{}]", clip(&b.title, 20)))
                        .collect::<Vec<_>>()
                        .join(" ")
                ));
            }
            Some(Template::Generic { elements }) => {
                parts.push(format!(
                    "<{} card(s): {}>",
                    elements.len(),
                    elements
                        .iter()
                        .take(3)
                        .map(|e| clip(&e.title, 40))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            None => parts.push(format!("<{} attachment>", clip(&attachment.kind, 20))),
        }
    }
    parts.join(" ")
}
