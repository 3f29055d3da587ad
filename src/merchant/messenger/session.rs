//! One conversation with one merchant, as a state machine with no I/O: it is
//! fed the merchant's messages and says what to send next. The transport and
//! the orchestrator do the talking; this file only decides.
//!
//! Merchant text is data. It is classified by the dialogue rules and answered
//! from the shopper's request; nothing in it can change what is wanted.

use super::reading::{is_agreement, Agreement, ChoiceKind, TurnReading};
use crate::merchant::messenger::wire::{OutgoingMessage, PaymentAuthorization, Template};
pub use crate::merchant::protocol::{PaymentReply, SessionState, Speaker, TranscriptLine, Wanted};
use crate::money::parse_decimal_minor;
use crate::order::offer_text::read_offer;
use crate::order::Invoice;
use crate::rules::{CompiledRules, DialogueAct};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Turns of chatter (greetings, "one moment", images, menus) waited out in
/// one conversation before giving up on the merchant.
const MAX_WAITS: u32 = 3;

/// A message Concierge sends on the shopper's behalf.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ShopperMessage {
    Text {
        text: String,
        quick_reply_payload: Option<String>,
        /// Extension: the payment authorisation sent with a "yes" in words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment: Option<PaymentAuthorization>,
    },
    Postback {
        title: String,
        payload: String,
        payment: Option<PaymentAuthorization>,
    },
}

impl ShopperMessage {
    pub fn text(text: impl Into<String>) -> ShopperMessage {
        ShopperMessage::Text {
            text: text.into(),
            quick_reply_payload: None,
            payment: None,
        }
    }

    /// How the transcript shows it.
    pub fn render(&self) -> String {
        match self {
            ShopperMessage::Text {
                text,
                payment: Some(payment),
                ..
            } => {
                let amount = crate::money::Money::new(
                    payment.allowance.max_amount,
                    payment.allowance.currency.clone(),
                );
                format!(
                    "{text}  [authorising {amount} for {} only]",
                    payment.allowance.checkout_session_id
                )
            }
            ShopperMessage::Text {
                text,
                quick_reply_payload: Some(_),
                ..
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

/// What a merchant's turn was, as the session read it (for evaluation
/// and reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnKind {
    AskSize,
    AskColor,
    AskQuantity,
    AskAddress,
    /// Another question (material, gift wrap, delivery or pickup...).
    AskOther,
    /// An offer or invoice to agree to.
    Offer,
    OutOfStock,
    Substitute,
    /// Greetings, filler, images, menus: nothing to answer yet.
    Chatter,
    /// Cards showing products: one is chosen.
    Cards,
    /// Nothing Concierge could read.
    Unclear,
}

pub struct Session {
    pub merchant_id: String,
    pub wanted: Wanted,
    /// The other items of a basket ordered in this one conversation, after
    /// `wanted`; empty for one item.
    pub more: Vec<Wanted>,
    pub state: SessionState,
    pub transcript: Vec<TranscriptLine>,
    pub invoice: Option<Invoice>,
    pub failure: Option<String>,
    /// The lowest unit price the merchant quoted in text, if any.
    pub quoted_unit_price: Option<i64>,
    /// How to agree to the invoice: the merchant's Pay (or Confirm, Place
    /// order...) button, or the words it asked for.
    pub agreement: Option<Agreement>,
    turns_sent: u32,
    max_turns: u32,
    /// Set while waiting for the answer to a counter-offer; the invoice
    /// that stands if the merchant says no.
    countering: Option<Invoice>,
    /// Whether open choices go to the shopper (interactive) instead of
    /// ending the conversation.
    pub ask_shopper: bool,
    /// Whether a colour or another option the request left open is
    /// answered with the catalog variant search chose (`OpenChoice::Listed`).
    pub pick_listed_variant: bool,
    /// The question waiting for the shopper's choice, with what was offered.
    pending_choice: Option<(DialogueAct, Vec<OfferedOption>)>,
    /// Turns of chatter waited out so far (at most [`MAX_WAITS`]).
    waits: u32,
    /// Set once the total of an offer without one was asked for.
    asked_for_total: bool,
    /// Set once the request was said again (after a menu).
    restated: bool,
    last_question: Option<(DialogueAct, String)>,
    last_turn: Option<TurnKind>,
    /// What the turn being read was, when the reading knows better than
    /// the next step says.
    last_turn_hint: Option<TurnKind>,
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
            more: Vec::new(),
            state: SessionState::Talking,
            transcript: Vec::new(),
            invoice: None,
            failure: None,
            quoted_unit_price: None,
            agreement: None,
            turns_sent: 0,
            max_turns,
            countering: None,
            ask_shopper: false,
            pick_listed_variant: false,
            pending_choice: None,
            waits: 0,
            asked_for_total: false,
            restated: false,
            last_question: None,
            last_turn: None,
            last_turn_hint: None,
            rules,
        }
    }

    /// The first message, as a shopper would write it: the product's name
    /// and code, the quantity when above one, and the colour and size in
    /// the merchant's own words ("Hi! I'd like to order the Classic Merino
    /// Turtleneck Sweater (HP-2040) in Gray, size M."). Bots find the
    /// product by its name or its code. A basket is a numbered list, one
    /// item per line.
    pub fn opening(&mut self) -> ShopperMessage {
        let text = self.opening_text();
        self.sent(ShopperMessage::text(text))
    }

    fn opening_text(&self) -> String {
        if self.more.is_empty() {
            return format!("Hi! I'd like to order {}.", item_phrase(&self.wanted));
        }
        // A basket: one item per line, as a shopper writes a list.
        let mut text = format!("Hi! I'd like to order these {} items:", self.more.len() + 1);
        for (number, wanted) in std::iter::once(&self.wanted).chain(&self.more).enumerate() {
            text.push_str(&format!("\n{}. {}", number + 1, item_phrase(wanted)));
        }
        text
    }

    /// Whether this conversation orders a basket (several items).
    pub fn is_basket(&self) -> bool {
        !self.more.is_empty()
    }

    /// Every item ordered in this conversation, in order.
    pub fn items(&self) -> impl Iterator<Item = &Wanted> {
        std::iter::once(&self.wanted).chain(&self.more)
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

    /// Whether `replies` complete the merchant's turn: a question or a
    /// choice to answer, an offer with a way to agree to it, or an end (out
    /// of stock, a substitute). Greetings, "got it", images, an offer whose
    /// buttons may still come, and an invoice waiting for its Pay button
    /// leave it open.
    pub fn turn_complete(&self, replies: &[OutgoingMessage]) -> bool {
        let reading = TurnReading::read(replies);
        let agreeable = reading.agree_button.is_some() || reading.agreement_word().is_some();
        if reading.receipt.is_some() {
            return agreeable;
        }
        let acts: Vec<DialogueAct> = self
            .rules
            .dialogue_acts(&reading.text)
            .into_iter()
            .map(|(act, _)| act)
            .collect();
        let offer = self.offer_in(&reading).is_some_and(|offer| {
            offer.total.is_some() || acts.contains(&DialogueAct::AgreementQuestion)
        });
        if offer {
            return agreeable;
        }
        if !reading.choices.is_empty() || agreeable {
            return true;
        }
        acts.iter().any(|act| {
            matches!(
                act,
                DialogueAct::AskSize
                    | DialogueAct::AskColor
                    | DialogueAct::AskQuantity
                    | DialogueAct::AskMaterial
                    | DialogueAct::AskAddress
                    | DialogueAct::ConfirmQuestion
                    | DialogueAct::OutOfStock
                    | DialogueAct::SubstituteOffered
                    | DialogueAct::PaymentConfirmed
                    | DialogueAct::CancelConfirmed
            )
        }) || self.rules.fixed_reply(&reading.said).is_some()
    }

    /// Whether `replies` complete the answer to a Pay tap: a confirmation,
    /// a refusal, or a payment link; a bare "thanks" may still be followed
    /// by either.
    pub fn payment_turn_complete(&self, replies: &[OutgoingMessage]) -> bool {
        payment_turn_complete(&self.rules, replies)
    }

    /// What the last turn read by [`Session::on_replies`] was.
    pub fn last_turn(&self) -> Option<TurnKind> {
        self.last_turn
    }

    pub fn on_replies(&mut self, replies: &[OutgoingMessage]) -> Next {
        self.last_turn_hint = None;
        let next = self.read_replies(replies);
        let hint = self.last_turn_hint.take();
        self.last_turn = Some(hint.unwrap_or(match &next {
            Next::Invoiced => TurnKind::Offer,
            Next::Wait => TurnKind::Chatter,
            Next::NeedChoice { slot, .. } if slot == "size" => TurnKind::AskSize,
            Next::NeedChoice { .. } => TurnKind::AskColor,
            Next::Send(_) => match self.last_question.as_ref().map(|(act, _)| *act) {
                Some(DialogueAct::AskSize) => TurnKind::AskSize,
                Some(DialogueAct::AskColor) => TurnKind::AskColor,
                Some(DialogueAct::AskQuantity) => TurnKind::AskQuantity,
                Some(DialogueAct::AskAddress) => TurnKind::AskAddress,
                Some(DialogueAct::SubstituteOffered) => TurnKind::Substitute,
                _ => TurnKind::AskOther,
            },
            Next::Stop => {
                let failure = self.failure.clone().unwrap_or_default();
                if failure.starts_with("merchant says") {
                    TurnKind::OutOfStock
                } else if failure.contains("substitute") {
                    TurnKind::Substitute
                } else if failure.contains("asks for a size") {
                    TurnKind::AskSize
                } else if failure.contains("asks for a colour") {
                    TurnKind::AskColor
                } else if failure.contains("shipping address") {
                    TurnKind::AskAddress
                } else {
                    TurnKind::Unclear
                }
            }
        }));
        next
    }

    fn read_replies(&mut self, replies: &[OutgoingMessage]) -> Next {
        self.record_replies(replies);
        if self.state != SessionState::Talking {
            return Next::Stop;
        }
        let reading = TurnReading::read(replies);
        let acts: Vec<DialogueAct> = self
            .rules
            .dialogue_acts(&reading.text)
            .into_iter()
            .map(|(act, _)| act)
            .collect();
        let invoice = self.invoice_in(&reading, &acts);
        if let Some(standing) = self.countering.take() {
            // An answer to the counter-offer: a new invoice replaces the
            // standing one; anything else means the first stands.
            let standing = match invoice {
                Some(Ok(invoice)) => invoice,
                _ => standing,
            };
            return self.invoiced(standing, &reading, &acts);
        }
        if reading.is_empty() {
            return self.fail("the merchant sent nothing to answer");
        }
        if acts.contains(&DialogueAct::PriceQuote) {
            if let Some(quote) = first_amount(&reading.said) {
                self.quoted_unit_price =
                    Some(self.quoted_unit_price.map_or(quote, |q| q.min(quote)));
            }
        }
        if acts.contains(&DialogueAct::SubstituteOffered) {
            if self.is_basket() {
                return self.not_for_a_basket(&reading);
            }
            return self.on_substitute(&reading);
        }
        if acts.contains(&DialogueAct::OutOfStock) {
            return self.fail(format!("merchant says: {}", clip(&reading.said, 160)));
        }
        match invoice {
            Some(Ok(invoice)) => return self.invoiced(invoice, &reading, &acts),
            Some(Err(reason)) => return self.uncheckable_offer(reason),
            None => {}
        }
        if self.turns_sent >= self.max_turns {
            return self.fail(format!("no invoice after {} messages", self.turns_sent));
        }
        let offered = options_offered(&reading);
        // The question asked: the one the options answer when it was asked
        // ("What colour, and how many?" with colour quick replies), else
        // the last slot question in the text.
        let asked: Vec<DialogueAct> = acts
            .iter()
            .copied()
            .filter(|act| {
                matches!(
                    act,
                    DialogueAct::AskSize
                        | DialogueAct::AskColor
                        | DialogueAct::AskQuantity
                        | DialogueAct::AskMaterial
                        | DialogueAct::AskAddress
                )
            })
            .collect();
        let answered_by_options = self
            .guess_question_from_options(&offered, &reading.said)
            .filter(|guess| asked.is_empty() || asked.contains(guess));
        if let Some(question) = answered_by_options.or_else(|| asked.last().copied()) {
            if self.is_basket() && question != DialogueAct::AskAddress {
                return self.not_for_a_basket(&reading);
            }
            return self.on_question(question, offered);
        }
        if let Some(reply) = self.rules.fixed_reply(&reading.said) {
            self.last_turn_hint = Some(TurnKind::AskOther);
            return self.reply_once(DialogueAct::AskOther, ShopperMessage::text(reply));
        }
        if acts.contains(&DialogueAct::AgreementQuestion) {
            // Asked to go ahead with no amount to check: ask for one, once.
            return self.uncheckable_offer("the offer states no total".into());
        }
        if acts.contains(&DialogueAct::ConfirmQuestion) {
            return self.on_details_question(&reading);
        }
        let asks = reading.said.contains('?') && !acts.contains(&DialogueAct::Greeting);
        if self.is_basket() && (asks || !reading.cards.is_empty()) {
            return self.not_for_a_basket(&reading);
        }
        if let Some(options) = self.cards_as_colour_choice(&reading) {
            return self.on_question(DialogueAct::AskColor, options);
        }
        if !reading.cards.is_empty() {
            if let Some(next) = self.on_cards(&reading) {
                return next;
            }
        }
        if asks {
            return self.on_other_question(&reading, &offered);
        }
        // Greetings, filler, images, menus and cards of other products ask
        // nothing of the shopper: wait for the merchant's next message.
        if self.waits < MAX_WAITS {
            self.waits += 1;
            return Next::Wait;
        }
        self.fail(format!(
            "could not understand the merchant: {}",
            clip(&reading.text, 160)
        ))
    }

    /// A basket is ordered only from a merchant that takes the whole list
    /// and answers with one invoice for it. A question about one of the
    /// items (its size, a substitute, a card to pick) cannot be answered for
    /// the basket: the conversation ends, and the items are ordered one by
    /// one instead.
    fn not_for_a_basket(&mut self, reading: &TurnReading) -> Next {
        self.last_turn_hint = Some(TurnKind::AskOther);
        self.fail(format!(
            "a question about one item of the basket: {}",
            clip(&reading.said, 160)
        ))
    }

    /// The invoice in a turn, if it holds an offer: a receipt template, or
    /// an offer in words (amounts, and a total or a way to agree). `Err`
    /// says why an offer cannot be checked.
    fn invoice_in(
        &self,
        reading: &TurnReading,
        acts: &[DialogueAct],
    ) -> Option<Result<Invoice, String>> {
        if let Some(receipt) = &reading.receipt {
            return Some(
                Invoice::from_receipt(&self.merchant_id, receipt)
                    .map_err(|problem| format!("unreadable invoice: {problem}")),
            );
        }
        let offer = self.offer_in(reading)?;
        let asks_a_slot = acts.iter().any(|act| {
            matches!(
                act,
                DialogueAct::AskSize | DialogueAct::AskColor | DialogueAct::AskQuantity
            )
        });
        let proposes = (reading.agree_button.is_some() && !reading.agree_from_card)
            || reading.agreement_word().is_some()
            || acts.contains(&DialogueAct::AgreementQuestion)
            || acts.contains(&DialogueAct::InvoiceText);
        // A price mentioned beside a question ("It's $39. What size?") is
        // not yet an offer.
        if (asks_a_slot || self.rules.fixed_reply(&reading.said).is_some()) && offer.total.is_none()
        {
            return None;
        }
        if !proposes && offer.total.is_none() {
            return None;
        }
        let mut invoice = offer.invoice(&self.merchant_id, &format!("TEXT-{}", self.merchant_id));
        if let Ok(invoice) = &mut invoice {
            for line in &mut invoice.lines {
                // The item the line is about: the one it names (in a
                // basket), else the one asked for.
                let named = self.items().find(|wanted| {
                    crate::order::checks::names_product(
                        &self.rules,
                        &line.title,
                        &wanted.product_title,
                    )
                });
                let wanted = named.unwrap_or(&self.wanted);
                let asked_color = wanted.color_label.as_deref().or(wanted.color.as_deref());
                let asked_size = wanted.size_label.as_deref().or(wanted.size.as_deref());
                line.subtitle = crate::order::checks::variant_words(
                    &self.rules,
                    &line.title,
                    asked_color,
                    asked_size,
                );
                // The line names a product asked for: keep the catalog's
                // name for it (the words as said are in the transcript).
                if let Some(named) = named {
                    line.title = named.product_title.clone();
                }
            }
        }
        Some(invoice)
    }

    /// The offer a turn makes: read from the message that states a total
    /// (else the last that names an amount), with the messages just before
    /// it when the item's price is there. A price mentioned in a greeting
    /// earlier in the turn is not a second item.
    fn offer_in(&self, reading: &TurnReading) -> Option<crate::order::offer_text::TextOffer> {
        let messages = &reading.messages;
        let offers: Vec<Option<crate::order::offer_text::TextOffer>> = messages
            .iter()
            .map(|text| read_offer(text, &self.rules, self.wanted.currency.as_deref()))
            .collect();
        let anchor = offers
            .iter()
            .rposition(|o| o.as_ref().is_some_and(|o| o.total.is_some()))
            .or_else(|| offers.iter().rposition(Option::is_some))?;
        let mut start = anchor;
        loop {
            let text = messages[start..=anchor].join("\n");
            let offer = read_offer(&text, &self.rules, self.wanted.currency.as_deref())?;
            if !offer.derived_lines || start == 0 {
                return Some(offer);
            }
            start -= 1;
        }
    }

    /// An invoice to decide on, with the way to agree to it.
    fn invoiced(&mut self, invoice: Invoice, reading: &TurnReading, acts: &[DialogueAct]) -> Next {
        if let Some(agreement) = reading
            .agree_button
            .clone()
            .or_else(|| reading.agreement_word().map(Agreement::Text))
            .or_else(|| {
                (acts.contains(&DialogueAct::AgreementQuestion)
                    || acts.contains(&DialogueAct::ConfirmQuestion)
                    || acts.contains(&DialogueAct::InvoiceText))
                .then(|| Agreement::Text("Yes, please.".into()))
            })
        {
            self.agreement = Some(agreement);
        }
        self.invoice = Some(invoice);
        self.state = SessionState::Invoiced;
        Next::Invoiced
    }

    /// An offer that cannot be checked: asked once for what is missing,
    /// then declined with the reason. Concierge never agrees to it.
    fn uncheckable_offer(&mut self, reason: String) -> Next {
        self.last_turn_hint = Some(TurnKind::Offer);
        if reason.contains("no total") && !self.asked_for_total {
            self.asked_for_total = true;
            return Next::Send(self.sent(ShopperMessage::text(
                "Before I agree: what is the total, including shipping and tax?",
            )));
        }
        self.fail(format!("the merchant's offer cannot be checked: {reason}"))
    }

    /// A substitute is fine only when it is what was asked anyway
    /// ("charcoal" for gray, in the size asked); it is accepted with the
    /// merchant's own yes when it offers one. Its invoice is checked later.
    fn on_substitute(&mut self, reading: &TurnReading) -> Next {
        self.last_turn_hint = Some(TurnKind::Substitute);
        let offered_colors = substitute_colors(&self.rules, &reading.said);
        let color_ok = match &self.wanted.color {
            Some(wanted) => {
                !offered_colors.is_empty() && offered_colors.iter().all(|c| c == wanted)
            }
            None => offered_colors.is_empty(),
        };
        let size_ok = substitute_sizes(&self.rules, &reading.said)
            .iter()
            .all(|size| self.wanted.size.as_deref() == Some(size.as_str()));
        if !color_ok || !size_ok {
            return self.fail(format!(
                "the merchant offered a substitute: {}",
                clip(&reading.said, 160)
            ));
        }
        let yes = match &reading.agree_button {
            Some(Agreement::Postback { title, payload }) => ShopperMessage::Postback {
                title: title.clone(),
                payload: payload.clone(),
                payment: None,
            },
            Some(Agreement::QuickReply { title, payload }) => ShopperMessage::Text {
                text: title.clone(),
                quick_reply_payload: Some(payload.clone()),
                payment: None,
            },
            _ => ShopperMessage::text("Yes, please."),
        };
        self.reply_once(DialogueAct::SubstituteOffered, yes)
    }

    /// A slot question: answered from the request, or put to the shopper
    /// when the request left it open and the shopper can be asked.
    fn on_question(&mut self, question: DialogueAct, offered: Vec<OfferedOption>) -> Next {
        self.last_turn_hint = Some(match question {
            DialogueAct::AskSize => TurnKind::AskSize,
            DialogueAct::AskColor => TurnKind::AskColor,
            DialogueAct::AskQuantity => TurnKind::AskQuantity,
            DialogueAct::AskAddress => TurnKind::AskAddress,
            _ => TurnKind::AskOther,
        });
        let open = match question {
            DialogueAct::AskSize => self.wanted.size.is_none(),
            DialogueAct::AskColor => self.wanted.color.is_none(),
            _ => false,
        };
        // Left open by the request's slots, but maybe named in its words
        // ("queen" sheets, a "10 inch" skillet).
        if open {
            if let Some(named) = option_in(&offered, &self.wanted.request) {
                let answer = named.answer.clone();
                return self.reply_once(question, answer);
            }
        }
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
        // A colour the shopper did not care about: the one of the variant
        // search chose, when the policy says so. A size is never chosen
        // for the shopper: it is about fit.
        if open && question == DialogueAct::AskColor && self.pick_listed_variant {
            if let Some(listed) = self
                .wanted
                .variant_title
                .as_deref()
                .and_then(|title| option_in(&offered, title))
            {
                let answer = listed.answer.clone();
                return self.reply_once(question, answer);
            }
        }
        match self.answer(question, &offered) {
            Ok(answer) => self.reply_once(question, answer),
            Err(reason) => self.fail(reason),
        }
    }

    /// A question no rule knows. Its options may name the product asked
    /// for ("Whole beans or ground?" for whole bean coffee): that option is
    /// the answer. Otherwise Concierge cannot answer, and says so. A menu of
    /// unrelated options is waited out like chatter.
    fn on_other_question(&mut self, reading: &TurnReading, offered: &[OfferedOption]) -> Next {
        self.last_turn_hint = Some(TurnKind::AskOther);
        let title = title_words(&self.wanted.product_title);
        let matching: Vec<&OfferedOption> = offered
            .iter()
            .filter(|option| {
                let words = title_words(&option.title);
                !words.is_empty() && words.iter().all(|w| title.contains(w))
            })
            .collect();
        if let [only] = matching.as_slice() {
            let answer = only.answer.clone();
            return self.reply_once(DialogueAct::AskOther, answer);
        }
        // An option the shopper named ("pack of 2"), else, when the policy
        // allows, the one of the variant search chose ("What pack?").
        let listed = self
            .wanted
            .variant_title
            .as_deref()
            .filter(|_| self.pick_listed_variant);
        if let Some(option) = option_in(offered, &self.wanted.request)
            .or_else(|| listed.and_then(|title| option_in(offered, title)))
        {
            let answer = option.answer.clone();
            return self.reply_once(DialogueAct::AskOther, answer);
        }
        // Options to choose from: words in the text that name the product
        // ("Whole beans or ground?").
        let choices_in_words: Vec<&str> = reading
            .said
            .split(['?', ',', '.'])
            .flat_map(|clause| clause.split(" or "))
            .map(str::trim)
            .filter(|choice| {
                let words = title_words(choice);
                !words.is_empty() && words.len() <= 3 && words.iter().all(|w| title.contains(w))
            })
            .collect();
        if offered.is_empty() {
            if let [only] = choices_in_words.as_slice() {
                let answer = ShopperMessage::text(*only);
                return self.reply_once(DialogueAct::AskOther, answer);
            }
        }
        // A menu ("Track my order / Returns / Talk to a human") or a
        // routing question ("let me know what this is about"): say again,
        // once, what the shopper wants, as a person would.
        let menu = !offered.is_empty()
            && matching.is_empty()
            && offered.iter().any(|o| {
                regex_once(r"(?i)\b(?:agent|human|help|track|status|returns?|menu|browse|arrivals|account|faq|support|talk|speak|contact|other|inquir\w*|enquir\w*|billing|sales)\b")
                    .is_match(&o.title)
            });
        let routing = regex_once(r"(?i)\b(?:what (?:this|it) is about|how can (?:i|we) help|what can (?:i|we) do for you|help you (?:with|today)|choose an option|select (?:an|one) option)\b")
                .is_match(&reading.said);
        if (menu || routing) && !self.restated {
            self.restated = true;
            self.last_turn_hint = Some(TurnKind::Chatter);
            let again = self.opening_text();
            return Next::Send(self.sent(ShopperMessage::text(again)));
        }
        self.fail(format!(
            "the merchant asks something Concierge cannot answer: {}",
            clip(&reading.said, 160)
        ))
    }

    /// "One gray turtleneck in medium, is that right?" (or a summary of a
    /// basket): yes when every colour and size it states is one asked for.
    fn on_details_question(&mut self, reading: &TurnReading) -> Next {
        let colors_ok = colors_in(&self.rules, &reading.said)
            .iter()
            .all(|color| self.items().any(|w| w.color.as_ref() == Some(color)));
        let sizes_ok = substitute_sizes(&self.rules, &reading.said)
            .iter()
            .all(|size| self.items().any(|w| w.size.as_ref() == Some(size)));
        if !colors_ok || !sizes_ok {
            return self.fail(format!(
                "the merchant's summary is not what was asked: {}",
                clip(&reading.said, 160)
            ));
        }
        self.reply_once(
            DialogueAct::ConfirmQuestion,
            ShopperMessage::text("Yes, please."),
        )
    }

    /// Several cards of the product asked for, one per colour ("Sage",
    /// "Terracotta"...): a colour question, the cards' buttons its options.
    fn cards_as_colour_choice(&self, reading: &TurnReading) -> Option<Vec<OfferedOption>> {
        if reading.cards.len() < 2 {
            return None;
        }
        let mut options = Vec::new();
        for card in &reading.cards {
            let shown = format!(
                "{} {}",
                card.title,
                card.subtitle.as_deref().unwrap_or_default()
            );
            if !names_product(&shown, &self.wanted.product_title) {
                return None;
            }
            // The colour: the card's title without the product's name.
            let title_words = title_words(&self.wanted.product_title);
            let rest: Vec<&str> = card
                .title
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty() && !title_words.contains(&w.to_lowercase()))
                .collect();
            let colour = rest.join(" ");
            let button = card.buttons.iter().find(|b| b.kind == "postback")?;
            if colour.is_empty() {
                return None;
            }
            options.push(OfferedOption {
                title: colour,
                answer: ShopperMessage::Postback {
                    title: button.title.clone(),
                    payload: button.payload.clone().unwrap_or_default(),
                    payment: None,
                },
            });
        }
        let colours = options
            .iter()
            .filter(|o| {
                self.rules
                    .lexicon
                    .canonical(crate::rules::LexSlot::Color, &o.title)
                    .is_some()
                    || self.rules.color_by_words(&o.title).is_some()
            })
            .count();
        (colours * 2 >= options.len()).then_some(options)
    }

    /// Product cards: the one for the product asked about is chosen with
    /// its own button (never a payment). `None` when none is that product.
    fn on_cards(&mut self, reading: &TurnReading) -> Option<Next> {
        let code = self.wanted.product_code.to_lowercase();
        let card = reading.cards.iter().find(|card| {
            let shown = format!(
                "{} {}",
                card.title,
                card.subtitle.as_deref().unwrap_or_default()
            );
            names_product(&shown, &self.wanted.product_title)
                || (!code.is_empty() && shown.to_lowercase().contains(&code))
        })?;
        let postbacks: Vec<&crate::merchant::messenger::wire::Button> = card
            .buttons
            .iter()
            .filter(|b| b.kind == "postback")
            .collect();
        let button = postbacks
            .iter()
            .find(|b| {
                let title = b.title.to_lowercase();
                ["select", "choose", "pick", "this one", "i want", "get"]
                    .iter()
                    .any(|w| title.starts_with(w))
            })
            .or_else(|| postbacks.iter().find(|b| is_agreement(&b.title, "")))
            .or_else(|| postbacks.first())?;
        self.last_turn_hint = Some(TurnKind::Cards);
        let tap = ShopperMessage::Postback {
            title: button.title.clone(),
            payload: button.payload.clone().unwrap_or_default(),
            payment: None,
        };
        Some(self.reply_once(DialogueAct::Greeting, tap))
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
            DialogueAct::AskSize => self.wanted.size = Some(self.rules.canonical_size(choice)),
            _ => self.wanted.color = Some(self.rules.canonical_color(choice)),
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
    /// With options and no recognisable question, the options themselves
    /// tell what is asked: sizes ("S", "UK 8", "32x30"; bare numbers only
    /// where the merchant says "size"), or colours.
    fn guess_question_from_options(
        &self,
        offered: &[OfferedOption],
        said: &str,
    ) -> Option<DialogueAct> {
        use crate::rules::LexSlot;
        let lexicon = &self.rules.lexicon;
        if offered.is_empty() {
            return None;
        }
        let mentions_size = regex_once(r"(?i)\bsizes?\b").is_match(said);
        if offered.iter().all(|o| {
            let bare_number = o.title.chars().all(|c| c.is_ascii_digit());
            if bare_number {
                mentions_size
            } else {
                lexicon.canonical(LexSlot::Size, &o.title).is_some()
                    || crate::order::checks::looks_like_size(&self.rules, &o.title)
            }
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
                    .as_deref()
                    .map(|address| ShopperMessage::text(crate::merchant::protocol::address_text(address)))
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
        // The merchant's own word for it, where its catalog has one
        // ("Heather Grey" rather than gray).
        let label = match slot {
            crate::rules::LexSlot::Color => self.wanted.color_label.clone(),
            crate::rules::LexSlot::Size => self.wanted.size_label.clone(),
            _ => None,
        };
        if offered.is_empty() {
            return Ok(ShopperMessage::text(label.unwrap_or(wanted)));
        }
        if let Some(same) = label.as_deref().and_then(|label| {
            offered
                .iter()
                .find(|o| o.title.trim().eq_ignore_ascii_case(label.trim()))
        }) {
            return Ok(same.answer.clone());
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

    /// Agreeing to the invoice, the merchant's way (its Pay or Confirm
    /// button, its quick reply, or the words it asked for), carrying the
    /// payment authorisation. `None` when the merchant offered no way.
    pub fn pay(&mut self, authorization: PaymentAuthorization) -> Option<ShopperMessage> {
        let message = match self.agreement.clone()? {
            Agreement::Postback { title, payload } => ShopperMessage::Postback {
                title,
                payload,
                payment: Some(authorization),
            },
            Agreement::QuickReply { title, payload } => ShopperMessage::Text {
                text: title,
                quick_reply_payload: Some(payload),
                payment: Some(authorization),
            },
            Agreement::Text(text) => ShopperMessage::Text {
                text,
                quick_reply_payload: None,
                payment: Some(authorization),
            },
        };
        Some(self.sent(message))
    }

    /// Whether the merchant offered a way to agree to its invoice.
    pub fn can_agree(&self) -> bool {
        self.agreement.is_some()
    }

    /// Reads the replies to a Pay tap. A receipt template after payment is
    /// a confirmation only when it is for no more than was authorised.
    pub fn on_payment_replies(&mut self, replies: &[OutgoingMessage]) -> PaymentReply {
        self.record_replies(replies);
        let authorised = self.invoice.as_ref().map(|i| i.total);
        let reply = read_payment_replies(&self.rules, authorised, replies);
        self.state = match reply {
            PaymentReply::Confirmed(_) | PaymentReply::Pending(_) => SessionState::Paid,
            PaymentReply::Refused(_) => SessionState::PaymentRefused,
        };
        reply
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

/// Whether replies to a Pay answer it: a receipt, or words confirming,
/// declining or deferring the payment.
pub fn payment_turn_complete(rules: &CompiledRules, replies: &[OutgoingMessage]) -> bool {
    let reading = TurnReading::read(replies);
    reading.receipt.is_some()
        || rules.dialogue_acts(&reading.text).iter().any(|(act, _)| {
            matches!(
                act,
                DialogueAct::PaymentConfirmed
                    | DialogueAct::PaymentDeclined
                    | DialogueAct::PaymentPending
            )
        })
}

/// What replies to a Pay say about it. A receipt template is a
/// confirmation only when it is for no more than `authorised`.
pub fn read_payment_replies(
    rules: &CompiledRules,
    authorised: Option<i64>,
    replies: &[OutgoingMessage],
) -> PaymentReply {
    let reading = TurnReading::read(replies);
    let text = reading.text.replace('\n', " ");
    let acts: Vec<DialogueAct> = rules
        .dialogue_acts(&text)
        .into_iter()
        .map(|(act, _)| act)
        .collect();
    let receipt_total = reading
        .receipt
        .as_ref()
        .and_then(|r| crate::money::minor_from_decimal_f64(r.summary.total_cost));
    if let (Some(charged), Some(authorised)) = (receipt_total, authorised) {
        if charged <= authorised {
            PaymentReply::Confirmed(text.clone())
        } else {
            PaymentReply::Refused(format!(
                "the merchant's receipt says {charged} minor units, {authorised} were authorised"
            ))
        }
    } else if acts.contains(&DialogueAct::PaymentDeclined) {
        PaymentReply::Refused(clip(&text, 160))
    } else if acts.contains(&DialogueAct::PaymentConfirmed) {
        PaymentReply::Confirmed(text.clone())
    } else if acts.contains(&DialogueAct::PaymentPending) {
        PaymentReply::Pending(text.clone())
    } else if receipt_total.is_some() {
        PaymentReply::Confirmed(text.clone())
    } else {
        PaymentReply::Refused(if text.trim().is_empty() {
            "no confirmation".into()
        } else {
            clip(&text, 160)
        })
    }
}

/// An item as a shopper names it in an order: the product's name and code,
/// the quantity when above one, and the colour and size in the merchant's
/// own words ("the Classic Merino Turtleneck Sweater (HP-2040) in Gray,
/// size M"). Bots find the product by its name or its code.
fn item_phrase(wanted: &Wanted) -> String {
    let mut text = if wanted.quantity > 1 {
        format!(
            "{} x {} ({})",
            wanted.quantity, wanted.product_title, wanted.product_code
        )
    } else {
        format!("the {} ({})", wanted.product_title, wanted.product_code)
    };
    if let Some(color) = wanted.color_label.as_ref().or(wanted.color.as_ref()) {
        text.push_str(&format!(" in {color}"));
    }
    if let Some(size) = wanted.size_label.as_ref().or(wanted.size.as_ref()) {
        text.push_str(&format!(", size {size}"));
    }
    text
}

/// One option a merchant offered, and how to choose it.
#[derive(Debug, Clone, PartialEq)]
pub struct OfferedOption {
    pub title: String,
    pub answer: ShopperMessage,
}

/// The one offered option that `text` names, as whole words in order with
/// units compared alike ("12 inch" in "12in frying pan", "Pack of 2" in
/// "... - Pack of 2"); the longest when several are named, `None` when none
/// or two of the same length are. An option of one letter ("M") is never
/// found this way: "i'm" holds it.
fn option_in<'o>(offered: &'o [OfferedOption], text: &str) -> Option<&'o OfferedOption> {
    let text = measure_tokens(text);
    let mut best: Option<(usize, &OfferedOption)> = None;
    let mut tied = false;
    for option in offered {
        let tokens = measure_tokens(&option.title);
        let length: usize = tokens.iter().map(String::len).sum();
        if tokens.is_empty() || length < 2 || !text.windows(tokens.len()).any(|w| w == tokens) {
            continue;
        }
        match best {
            Some((longest, _)) if longest > length => {}
            Some((longest, _)) if longest == length => tied = true,
            _ => {
                best = Some((length, option));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, option)| option)
}

/// Lowercase words, numbers cut from the unit joined to them ("12in" →
/// "12", "in"), and units spelled one way ("inches" → "in").
fn measure_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for word in text
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let digits = word.chars().take_while(char::is_ascii_digit).count();
        let (number, unit) = word.split_at(digits);
        for part in [number, unit].into_iter().filter(|p| !p.is_empty()) {
            let unit = match part {
                "inch" | "inches" => "in",
                "ounce" | "ounces" => "oz",
                "foot" | "feet" => "ft",
                "pound" | "pounds" | "lbs" => "lb",
                "gallon" | "gallons" => "gal",
                "liter" | "liters" | "litre" | "litres" => "l",
                "millilitre" | "millilitres" | "milliliter" | "milliliters" => "ml",
                "centimetre" | "centimetres" | "centimeter" | "centimeters" => "cm",
                other => other,
            };
            tokens.push(unit.to_string());
        }
    }
    tokens
}

/// The options on offer: quick replies and postback buttons that are not
/// a yes or a no, or a list in the text ("we have S, M and L", "1) Sage
/// Green 2) Dusty Rose").
fn options_offered(reading: &TurnReading) -> Vec<OfferedOption> {
    let mut offered: Vec<OfferedOption> = reading
        .choices
        .iter()
        .map(|choice| OfferedOption {
            title: choice.title.clone(),
            answer: match &choice.kind {
                ChoiceKind::QuickReply(payload) => ShopperMessage::Text {
                    text: choice.title.clone(),
                    quick_reply_payload: Some(payload.clone()),
                    payment: None,
                },
                ChoiceKind::Postback(payload) => ShopperMessage::Postback {
                    title: choice.title.clone(),
                    payload: payload.clone(),
                    payment: None,
                },
                ChoiceKind::Words => ShopperMessage::text(choice.title.clone()),
            },
        })
        .collect();
    if offered.is_empty() {
        offered = options_in_words(&reading.said);
    }
    offered.truncate(20);
    offered
}

/// Options listed in words: after "we have", "available in", "choose
/// from"..., or one per line or number ("1) Sage Green", "US 7 | US 8").
fn options_in_words(text: &str) -> Vec<OfferedOption> {
    let as_option = |item: &str| {
        let item = item
            .trim()
            .trim_end_matches([')', ':', '.', '?', '!'])
            .trim();
        (!item.is_empty() && item.split_whitespace().count() <= 3).then(|| OfferedOption {
            title: item.to_string(),
            answer: ShopperMessage::text(item),
        })
    };
    let list = regex_once(
        r"(?i)\b(?:we have|we've got|available in|available:|available sizes[^:]*:|options are|choose from|comes in|in stock:|pick from|sizes are|colou?rs are|in these colou?rs|shades?)\s*:?\s*([^.?!;\n]+)",
    );
    if let Some(items) = list.captures(text).and_then(|c| c.get(1)) {
        let found: Vec<OfferedOption> = regex_once(r"(?i)\s*(?:,|/|\||\bor\b|\band\b)\s*")
            .split(items.as_str())
            .filter_map(as_option)
            .collect();
        if found.len() >= 2 {
            return found;
        }
    }
    // "1) Sage Green" / "• Sage Green" lines, or "US 7 | US 8 | US 9".
    let numbered = regex_once(r"(?m)^\s*(?:\d{1,2}[).:]|[•\-*])\s*(.+)$");
    let lines: Vec<OfferedOption> = numbered
        .captures_iter(text)
        .filter_map(|c| c.get(1).and_then(|m| as_option(m.as_str())))
        .collect();
    if lines.len() >= 2 {
        return lines;
    }
    let piped: Vec<&str> = text
        .lines()
        .filter(|line| line.matches('|').count() >= 1)
        .flat_map(|line| line.split('|'))
        .collect();
    if piped.len() >= 2 {
        return piped.into_iter().filter_map(as_option).collect();
    }
    Vec::new()
}

/// A title's words, compared loosely: lowercase, a plural's "s" dropped.
fn title_words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1)
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_string(),
            _ => w.to_string(),
        })
        .collect()
}

/// Whether `text` names the product `title`: most words of the title are
/// in it (as [`crate::order::checks`] compares invoice titles).
fn names_product(text: &str, title: &str) -> bool {
    let words = |t: &str| -> Vec<String> {
        t.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let title_words = words(title);
    let text_words = words(text);
    if title_words.is_empty() {
        return false;
    }
    let shared = title_words
        .iter()
        .filter(|w| text_words.contains(w))
        .count();
    shared * 10 >= title_words.len() * 8
}

/// Sizes named in the clause that carries a substitute or a summary:
/// "size M", or a size word the lexicon knows ("medium", "XL").
fn substitute_sizes(rules: &CompiledRules, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for caps in
        regex_once(r"(?i)\bsize\s*:?\s*([A-Za-z0-9][\w.]*(?:\s?[A-Za-z0-9]+)?)").captures_iter(text)
    {
        if let Some(size) = caps.get(1) {
            let value = rules.canonical_size(size.as_str().split_whitespace().next().unwrap_or(""));
            if !found.contains(&value) {
                found.push(value);
            }
        }
    }
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
        if word.len() < 2 {
            continue;
        }
        if let Some(size) = rules.lexicon.canonical(crate::rules::LexSlot::Size, word) {
            let size = size.to_string();
            if !found.contains(&size) {
                found.push(size);
            }
        }
    }
    found
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
        crate::rules::LexSlot::Size => rules.canonical_size(title),
        _ => rules.canonical_color(title),
    };
    // The colour itself before a shade of it ("Gray" before "Charcoal").
    let same: Vec<&OfferedOption> = offered
        .iter()
        .filter(|o| canonicalise(&o.title) == wanted)
        .collect();
    if let Some(exact) = same
        .iter()
        .find(|o| slot != crate::rules::LexSlot::Color || rules.is_exact_color(&o.title, wanted))
        .or_else(|| same.first())
    {
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
