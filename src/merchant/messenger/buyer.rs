//! Concierge as the shopper in a Messenger conversation: the
//! [`MerchantProtocol`] over a merchant's webhook. The [`Session`] decides
//! what to say; the [`Transport`] carries it and reads the merchant's turn.

use super::session::{
    payment_turn_complete, read_payment_replies, Next, PaymentReply, Session, SessionState,
    ShopperMessage, TranscriptLine,
};
use super::transport::{MerchantEndpoint, Transport};
use super::wire::{OutgoingMessage, PaymentAuthorization};
use crate::error::MerchantError;
use crate::merchant::protocol::{
    CancelReply, MerchantProtocol, Negotiation, Opening, ShopperChoices,
};
use crate::order::OrderRecord;
use crate::rules::{CompiledRules, DialogueAct};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::time::Instant;

/// The Messenger protocol: one transport (and its Send API mailboxes) for
/// every conversation, and the rules its merchants' words are read with.
pub struct MessengerProtocol {
    transport: Transport,
    rules: Arc<CompiledRules>,
}

impl MessengerProtocol {
    pub fn new(transport: Transport, rules: Arc<CompiledRules>) -> MessengerProtocol {
        MessengerProtocol { transport, rules }
    }
}

/// Sends a Pay and waits for its answer, once more on a transport
/// failure: the same idempotency key makes a repeated Pay safe.
async fn send_pay(
    transport: &Transport,
    rules: &CompiledRules,
    endpoint: &MerchantEndpoint,
    psid: &str,
    message: &ShopperMessage,
) -> Result<Vec<OutgoingMessage>, MerchantError> {
    let complete = |replies: &[OutgoingMessage]| payment_turn_complete(rules, replies);
    match transport.exchange(endpoint, psid, message, &complete).await {
        Ok(replies) => Ok(replies),
        Err(_) => transport.exchange(endpoint, psid, message, &complete).await,
    }
}

#[async_trait]
impl MerchantProtocol for MessengerProtocol {
    fn name(&self) -> &'static str {
        "messenger"
    }

    fn open(&self, endpoint: &MerchantEndpoint, opening: Opening) -> Box<dyn Negotiation> {
        let mut items = opening.items.into_iter();
        // The orchestration always asks for something; an empty opening
        // asks for nothing the merchant can find.
        let first = items.next().unwrap_or_default();
        let mut session = Session::new(
            &endpoint.merchant_id,
            first,
            self.rules.clone(),
            opening.max_turns,
        );
        session.more = items.collect();
        session.ask_shopper = opening.ask_shopper;
        session.pick_listed_variant = opening.pick_listed_variant;
        Box::new(MessengerConversation {
            transport: self.transport.clone(),
            rules: self.rules.clone(),
            endpoint: endpoint.clone(),
            psid: opening.conversation_id,
            session,
        })
    }

    async fn repay(
        &self,
        endpoint: &MerchantEndpoint,
        conversation_id: &str,
        payment: &str,
        amount_minor: i64,
    ) -> Result<PaymentReply, MerchantError> {
        let message: ShopperMessage =
            serde_json::from_str(payment).map_err(|error| MerchantError::Protocol {
                merchant: endpoint.merchant_id.clone(),
                message: format!("the stored Pay message is unreadable: {error}"),
            })?;
        let replies =
            send_pay(&self.transport, &self.rules, endpoint, conversation_id, &message).await?;
        Ok(read_payment_replies(
            &self.rules,
            Some(amount_minor),
            &replies,
        ))
    }

    /// Taps Cancel on the order in its own conversation, and reads the
    /// merchant's answer with the dialogue rules.
    async fn cancel(
        &self,
        endpoint: &MerchantEndpoint,
        order: &OrderRecord,
    ) -> Result<CancelReply, MerchantError> {
        let message = ShopperMessage::Postback {
            title: "Cancel".into(),
            payload: format!("CANCEL:{}", order.order_number),
            payment: None,
        };
        let replies = self.transport.send(endpoint, &order.psid, &message).await;
        self.transport.close_conversation(&order.psid);
        let text: String = replies?
            .iter()
            .filter_map(|r| r.text.clone())
            .collect::<Vec<_>>()
            .join(" ");
        let cancelled = self
            .rules
            .dialogue_acts(&text)
            .iter()
            .any(|(act, _)| *act == DialogueAct::CancelConfirmed);
        Ok(if cancelled {
            CancelReply::Cancelled(text)
        } else {
            CancelReply::Refused(text)
        })
    }
}

/// One Messenger conversation: the session's decisions carried over the
/// transport as conversation `psid`.
pub struct MessengerConversation {
    transport: Transport,
    rules: Arc<CompiledRules>,
    endpoint: MerchantEndpoint,
    psid: String,
    session: Session,
}

impl MessengerConversation {
    /// Reads the merchant's next turn without sending anything (after it
    /// said "one moment"); `None` when the deadline passed.
    async fn wait_for_turn(
        &self,
        deadline: Instant,
    ) -> Result<Vec<OutgoingMessage>, Option<MerchantError>> {
        let now = Instant::now();
        if now >= deadline {
            return Err(None);
        }
        let session = &self.session;
        tokio::time::timeout(
            deadline - now,
            self.transport
                .receive(&self.endpoint, &self.psid, &|replies| {
                    session.turn_complete(replies)
                }),
        )
        .await
        .map_err(|_| None)
        .and_then(|r| r.map_err(Some))
    }

    /// Sends `message` and reads the merchant's turn, within `deadline`.
    async fn exchange_within(
        &self,
        message: &ShopperMessage,
        deadline: Instant,
    ) -> Result<Vec<OutgoingMessage>, Option<MerchantError>> {
        let now = Instant::now();
        if now >= deadline {
            return Err(None);
        }
        let session = &self.session;
        tokio::time::timeout(
            deadline - now,
            self.transport
                .exchange(&self.endpoint, &self.psid, message, &|replies| {
                    session.turn_complete(replies)
                }),
        )
        .await
        .map_err(|_| None)
        .and_then(|r| r.map_err(Some))
    }

    fn abort(&mut self, error: Option<MerchantError>) {
        self.session.abort(
            error
                .map(|e| e.to_string())
                .unwrap_or_else(|| "the negotiation deadline passed".into()),
        );
    }
}

#[async_trait]
impl Negotiation for MessengerConversation {
    /// Talks until an invoice, a stop, or the deadline. The shopper's
    /// thinking time over an open choice is not the merchant's, so it
    /// moves the deadline.
    async fn negotiate(&mut self, mut deadline: Instant, shopper: Option<Arc<ShopperChoices>>) {
        let mut message = self.session.opening();
        loop {
            let mut next = match self.exchange_within(&message, deadline).await {
                Ok(replies) => self.session.on_replies(&replies),
                Err(error) => return self.abort(error),
            };
            loop {
                match next {
                    Next::Send(outgoing) => {
                        message = outgoing;
                        break;
                    }
                    Next::NeedChoice { slot, options } => {
                        let asked = Instant::now();
                        let answer = match &shopper {
                            Some(shopper) => {
                                shopper.resolve(&self.endpoint.name, &slot, &options).await
                            }
                            None => None,
                        };
                        deadline += asked.elapsed();
                        next = self.session.choose(answer.as_deref());
                    }
                    Next::Wait => {
                        next = match self.wait_for_turn(deadline).await {
                            Ok(replies) => self.session.on_replies(&replies),
                            Err(error) => return self.abort(error),
                        };
                    }
                    Next::Invoiced | Next::Stop => return,
                }
            }
        }
    }

    fn state(&self) -> SessionState {
        self.session.state
    }

    fn invoice(&self) -> Option<&crate::order::Invoice> {
        self.session.invoice.as_ref()
    }

    fn failure(&self) -> Option<&str> {
        self.session.failure.as_deref()
    }

    fn quoted_unit_price(&self) -> Option<i64> {
        self.session.quoted_unit_price
    }

    fn can_agree(&self) -> bool {
        self.session.can_agree()
    }

    async fn counter_offer(&mut self, text: &str) -> bool {
        let Some(message) = self.session.counter_offer(text) else {
            return false;
        };
        let session = &self.session;
        let replies = self
            .transport
            .exchange(&self.endpoint, &self.psid, &message, &|r| {
                session.turn_complete(r)
            })
            .await
            .unwrap_or_default();
        self.session.on_replies(&replies);
        self.session.invoice.is_some()
    }

    fn payment(&mut self, authorization: PaymentAuthorization) -> Option<String> {
        let message = self.session.pay(authorization)?;
        serde_json::to_string(&message).ok()
    }

    async fn pay(&mut self, payment: &str) -> Result<PaymentReply, MerchantError> {
        let message: ShopperMessage =
            serde_json::from_str(payment).map_err(|error| MerchantError::Protocol {
                merchant: self.endpoint.merchant_id.clone(),
                message: format!("the Pay message is unreadable: {error}"),
            })?;
        let replies = send_pay(
            &self.transport,
            &self.rules,
            &self.endpoint,
            &self.psid,
            &message,
        )
        .await?;
        Ok(self.session.on_payment_replies(&replies))
    }

    async fn decline(&mut self, reason: &str) {
        let message = self.session.decline(reason);
        let replies = self
            .transport
            .send(&self.endpoint, &self.psid, &message)
            .await
            .unwrap_or_default();
        self.session.note_replies(&replies);
    }

    fn transcript(&self) -> &[TranscriptLine] {
        &self.session.transcript
    }

    fn close(&mut self) {
        self.transport.close_conversation(&self.psid);
    }
}
