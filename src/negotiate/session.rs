//! One conversation with one merchant, as a state machine with no I/O: it is
//! fed the merchant's messages and says what to send next. The transport and
//! the orchestrator do the talking; this file only decides.
//!
//! Merchant text is data. It is classified by the dialogue rules and answered
//! from the shopper's request; nothing in it can change what is wanted.

use crate::catalog::index::{canonical_color, canonical_size};
use crate::merchant::wire::{OutgoingMessage, PaymentAuthorization, QuickReply, Template};
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
    /// An invoice arrived; the session waits for the decision.
    Invoiced,
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
    /// The payload of the merchant's Pay button.
    pub pay_payload: Option<String>,
    pub pay_title: String,
    turns_sent: u32,
    max_turns: u32,
    /// Set while waiting for the answer to a counter-offer; the invoice
    /// that stands if the merchant says no.
    countering: Option<Invoice>,
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
            pay_payload: None,
            pay_title: "Pay".into(),
            turns_sent: 0,
            max_turns,
            countering: None,
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

        let text: String = replies
            .iter()
            .filter_map(|r| r.text.as_deref())
            .collect::<Vec<_>>()
            .join(" ");
        let quick: Vec<QuickReply> = replies
            .iter()
            .filter_map(|r| r.quick_replies.clone())
            .flatten()
            .collect();
        if text.trim().is_empty() && quick.is_empty() {
            return self.fail("the merchant sent nothing to answer");
        }
        let acts: Vec<DialogueAct> = self
            .rules
            .dialogue_acts(&text)
            .into_iter()
            .map(|(act, _)| act)
            .collect();
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
                    DialogueAct::AskSize | DialogueAct::AskColor | DialogueAct::AskQuantity
                )
            })
            .copied()
            .or_else(|| self.guess_question_from_options(&quick));
        let Some(question) = question else {
            return self.fail(format!(
                "could not understand the merchant: {}",
                clip(&text, 160)
            ));
        };
        let answer = match self.answer(question, &quick) {
            Ok(answer) => answer,
            Err(reason) => return self.fail(reason),
        };
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

    /// With only quick replies and no recognisable question, the options
    /// themselves tell what is asked.
    fn guess_question_from_options(&self, quick: &[QuickReply]) -> Option<DialogueAct> {
        use crate::rules::LexSlot;
        let lexicon = &self.rules.lexicon;
        if quick.is_empty() {
            return None;
        }
        if quick.iter().all(|q| {
            lexicon.canonical(LexSlot::Size, &q.title).is_some()
                || q.title.chars().all(|c| c.is_ascii_digit())
        }) {
            return Some(DialogueAct::AskSize);
        }
        if quick
            .iter()
            .any(|q| lexicon.canonical(LexSlot::Color, &q.title).is_some())
        {
            return Some(DialogueAct::AskColor);
        }
        None
    }

    fn answer(
        &self,
        question: DialogueAct,
        quick: &[QuickReply],
    ) -> Result<ShopperMessage, String> {
        let (slot_name, wanted, canonicalise): (&str, Option<String>, Canonicaliser) =
            match question {
                DialogueAct::AskSize => ("size", self.wanted.size.clone(), canonical_size),
                DialogueAct::AskColor => ("colour", self.wanted.color.clone(), canonical_color),
                DialogueAct::AskQuantity => {
                    return Ok(ShopperMessage::text(
                        self.wanted.quantity.max(1).to_string(),
                    ))
                }
                _ => return Err("unexpected question".into()),
            };
        let Some(wanted) = wanted else {
            let offered: Vec<&str> = quick.iter().map(|q| q.title.as_str()).collect();
            return Err(format!(
                "the merchant asks for a {slot_name} and the request did not say one{}; Concierge does not guess",
                if offered.is_empty() { String::new() } else { format!(" (offered: {})", offered.join(", ")) }
            ));
        };
        if quick.is_empty() {
            return Ok(ShopperMessage::text(wanted));
        }
        match quick
            .iter()
            .find(|q| canonicalise(&self.rules, &q.title) == wanted)
        {
            Some(choice) => Ok(ShopperMessage::Text {
                text: choice.title.clone(),
                quick_reply_payload: Some(choice.payload.clone()),
            }),
            None => Err(format!(
                "{slot_name} {wanted} is not offered (in stock: {})",
                quick
                    .iter()
                    .map(|q| q.title.as_str())
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

/// Maps a merchant's option label to its canonical value.
type Canonicaliser = fn(&CompiledRules, &str) -> String;

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
