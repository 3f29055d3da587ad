//! Settle: pay the chosen invoice exactly once, durably, and learn later
//! what became of payments whose answer never came.

use super::{Conversation, Receipt, ReceiptLine, Shop};
use crate::merchant::messenger::session::{payment_turn_complete, read_payment_replies};
use crate::merchant::messenger::signature::random_token;
use crate::merchant::messenger::transport::MerchantEndpoint;
use crate::merchant::messenger::wire::{now_millis, OutgoingMessage};
use crate::merchant::protocol::PaymentReply;
use crate::order::{Invoice, Mandate, OrderRecord, PaymentClaim, PaymentRecord, PaymentStatus};
use crate::store::OrderStatus;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What one round of reconciliation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    /// Payments whose answer was open.
    pub open: usize,
    /// Now confirmed (or pending), each with its order recorded.
    pub confirmed: usize,
    /// The merchant refused, or the Pay was never sent.
    pub closed: usize,
    /// Still unknown: the merchant could not be reached or is not known
    /// to this process.
    pub still_open: usize,
    /// One line per payment looked at.
    pub notes: Vec<String>,
}

impl Shop {
    /// Pays the chosen invoice exactly once and records the order.
    pub(super) async fn pay(
        &self,
        run_id: i64,
        conversation: &mut Conversation,
        mandate: &Mandate,
        request: &str,
    ) -> Result<Receipt, String> {
        let Conversation {
            endpoint,
            psid,
            negotiation,
            report,
        } = conversation;
        let invoice = report.invoice.clone().ok_or("no invoice")?;
        // The last line of defence: whatever the checks said, never authorise
        // more than the mandate, another currency, or an expired mandate.
        let within = mandate.limit().is_some_and(|max| invoice.total <= max)
            && invoice.currency == mandate.currency
            && !mandate.expired()
            && mandate.allows_merchant(&endpoint.merchant_id);
        if !within || !report.accepted {
            return Err("the invoice is outside the mandate".into());
        }
        // One payment per order within one conversation: a merchant that
        // restarts and reuses its order numbers is paid again in a new
        // conversation, never twice in the same one.
        let idempotency_key = invoice.payment_key(psid);
        let authorization =
            invoice.authorization(format!("tok_{}", random_token(12)), &idempotency_key, 600);
        let Some(payment) = negotiation.payment(authorization) else {
            return Err("the merchant offered no way to pay".into());
        };
        // The intent is durable before anything leaves: a crash from here on
        // leaves a payment that reconciliation settles.
        self.store
            .begin_payment(&PaymentClaim {
                idempotency_key: idempotency_key.clone(),
                run_id,
                merchant_id: endpoint.merchant_id.clone(),
                order_number: invoice.order_number.clone(),
                amount_minor: invoice.total,
                currency: invoice.currency.clone(),
                psid: psid.clone(),
                pay_message: payment.clone(),
                invoice: serde_json::to_string(&invoice).unwrap_or_default(),
            })
            .map_err(|e| e.to_string())?;
        self.store
            .settle_payment(&idempotency_key, PaymentStatus::Sent, "")
            .map_err(|e| e.to_string())?;
        let reply = match negotiation.pay(&payment).await {
            Ok(reply) => reply,
            Err(error) => {
                let _ = self.store.settle_payment(
                    &idempotency_key,
                    PaymentStatus::Unknown,
                    &format!("no answer to Pay ({error}); to be reconciled"),
                );
                return Err(format!(
                    "no answer to Pay: {error}; the payment will be reconciled with the merchant (`concierge payments`)"
                ));
            }
        };
        let (text, payment_status) = match answered(reply) {
            Ok(answer) => answer,
            Err(text) => {
                let _ = self
                    .store
                    .settle_payment(&idempotency_key, PaymentStatus::Declined, &text);
                return Err(format!("the merchant did not confirm: {text}"));
            }
        };
        let order = order_record(&invoice, endpoint, psid, request, payment_status, &text);
        let order_id = self
            .store
            .confirm_payment(&idempotency_key, payment_status, &text, run_id, &order)
            .map_err(|e| e.to_string())?;
        Ok(receipt(
            order_id,
            endpoint,
            &invoice,
            &order,
            payment_status,
            text,
        ))
    }

    /// Settles payments whose answer is open and that nothing touched for
    /// `untouched_for` (so a payment another process is making is left
    /// alone). A payment claimed but never sent failed. One that was sent is
    /// put to the merchant again: the same Pay under the same idempotency
    /// key, which a merchant that took it answers "already paid" and one
    /// that never saw it takes now, within the authorisation's lifetime, or
    /// refuses. Its answer is recorded, a confirmation with its order.
    pub async fn reconcile_payments(
        &self,
        untouched_for: Duration,
    ) -> crate::Result<Reconciliation> {
        let untouched_since =
            crate::store::now_secs() - untouched_for.as_secs().min(i64::MAX as u64) as i64;
        let open = self.store.open_payments(untouched_since)?;
        let merchants = self.merchant_directory()?;
        let mut done = Reconciliation {
            open: open.len(),
            ..Reconciliation::default()
        };
        for payment in open {
            let key = &payment.idempotency_key;
            let note = match self
                .reconcile_one(&payment, merchants.get(&payment.merchant_id))
                .await?
            {
                Settled::Confirmed(status) => {
                    done.confirmed += 1;
                    format!("{key}: {status}, order recorded")
                }
                Settled::Closed(status, why) => {
                    done.closed += 1;
                    format!("{key}: {status} ({why})")
                }
                Settled::Open(why) => {
                    done.still_open += 1;
                    self.store.note_payment_attempt(key, &why)?;
                    format!("{key}: still unknown ({why})")
                }
            };
            done.notes.push(note);
        }
        Ok(done)
    }

    /// A merchant's message that came after its conversation's turns ended
    /// (a Send API bot answering Pay after the timeout): when it answers an
    /// open payment of that conversation, the payment is confirmed and its
    /// order recorded, as the order it is; the order's id. Anything else
    /// (a refusal included) is left to reconciliation.
    pub fn record_late_payment_reply(
        &self,
        merchant_id: &str,
        psid: &str,
        replies: &[OutgoingMessage],
    ) -> crate::Result<Option<i64>> {
        let Some(payment) = self.store.sent_payment_in(merchant_id, psid)? else {
            return Ok(None);
        };
        if !payment_turn_complete(&self.rules, replies) {
            return Ok(None);
        }
        let read = read_payment_replies(&self.rules, Some(payment.amount_minor), replies);
        let Ok((text, status)) = answered(read) else {
            return Ok(None);
        };
        let Ok(invoice) = serde_json::from_str::<Invoice>(&payment.invoice) else {
            return Ok(None);
        };
        let merchants = self.merchant_directory()?;
        let Some(endpoint) = merchants.get(merchant_id) else {
            return Ok(None);
        };
        self.record_confirmed(&payment, &invoice, endpoint, status, &text)
            .map(Some)
    }

    /// Records a payment the merchant confirmed after the fact, with the
    /// order it made (its request's text read back from the run); the
    /// order's id.
    fn record_confirmed(
        &self,
        payment: &PaymentRecord,
        invoice: &Invoice,
        endpoint: &MerchantEndpoint,
        status: PaymentStatus,
        confirmation: &str,
    ) -> crate::Result<i64> {
        let request = self.store.run_request(payment.run_id)?.unwrap_or_default();
        let order = order_record(
            invoice,
            endpoint,
            &payment.psid,
            &request,
            status,
            confirmation,
        );
        Ok(self.store.confirm_payment(
            &payment.idempotency_key,
            status,
            confirmation,
            payment.run_id,
            &order,
        )?)
    }

    async fn reconcile_one(
        &self,
        payment: &PaymentRecord,
        endpoint: Option<&MerchantEndpoint>,
    ) -> crate::Result<Settled> {
        let key = &payment.idempotency_key;
        if payment.status == PaymentStatus::Claimed {
            let why = "the Pay was never sent";
            self.store.settle_payment(key, PaymentStatus::Failed, why)?;
            return Ok(Settled::Closed(PaymentStatus::Failed, why.into()));
        }
        let invoice = match serde_json::from_str::<Invoice>(&payment.invoice) {
            Ok(invoice) if !payment.pay_message.is_empty() => invoice,
            _ => {
                return Ok(Settled::Open(
                    "recorded before payments kept their Pay message; ask the merchant".into(),
                ))
            }
        };
        let Some(endpoint) = endpoint else {
            return Ok(Settled::Open(format!(
                "merchant {} is not known to this process",
                payment.merchant_id
            )));
        };
        let protocol = match self.protocols.for_endpoint(endpoint) {
            Ok(protocol) => protocol,
            Err(error) => return Ok(Settled::Open(error.to_string())),
        };
        let reply = match protocol
            .repay(
                endpoint,
                &payment.psid,
                &payment.pay_message,
                payment.amount_minor,
            )
            .await
        {
            Ok(reply) => reply,
            Err(error) => return Ok(Settled::Open(format!("no answer: {error}"))),
        };
        match answered(reply) {
            Ok((text, status)) => {
                self.record_confirmed(payment, &invoice, endpoint, status, &text)?;
                Ok(Settled::Confirmed(status))
            }
            Err(text) => {
                self.store
                    .settle_payment(key, PaymentStatus::Declined, &text)?;
                Ok(Settled::Closed(PaymentStatus::Declined, text))
            }
        }
    }
}

/// What a merchant's answer to Pay makes of the payment: confirmed, or
/// pending (the merchant took the order and collects payment itself, so
/// Concierge's authorisation was not charged), with the merchant's words;
/// or the refusal's words.
fn answered(reply: PaymentReply) -> Result<(String, PaymentStatus), String> {
    match reply {
        PaymentReply::Confirmed(text) => Ok((text, PaymentStatus::Confirmed)),
        PaymentReply::Pending(text) => Ok((text, PaymentStatus::Pending)),
        PaymentReply::Refused(text) => Err(text),
    }
}

enum Settled {
    Confirmed(PaymentStatus),
    Closed(PaymentStatus, String),
    Open(String),
}

/// The order a confirmed payment made. An offer made in words had no order
/// number of its own; the merchant's confirmation usually gives one.
fn order_record(
    invoice: &Invoice,
    endpoint: &MerchantEndpoint,
    psid: &str,
    request: &str,
    payment_status: PaymentStatus,
    confirmation: &str,
) -> OrderRecord {
    let mut order_number = invoice.order_number.clone();
    if order_number.starts_with("TEXT-") {
        if let Some(number) = crate::order::offer_text::order_number_in(confirmation) {
            order_number = number;
        }
    }
    let joined = |part: fn(&crate::order::InvoiceLine) -> &str| {
        invoice
            .lines
            .iter()
            .map(part)
            .collect::<Vec<_>>()
            .join(" + ")
    };
    OrderRecord {
        id: 0,
        created_at: now_millis() / 1000,
        request: request.to_string(),
        merchant_id: endpoint.merchant_id.clone(),
        merchant_name: endpoint.name.clone(),
        order_number,
        product_title: joined(|l| &l.title),
        variant: joined(|l| &l.subtitle),
        quantity: invoice.lines.iter().map(|l| l.quantity).sum(),
        currency: invoice.currency.clone(),
        subtotal: invoice.lines_total().unwrap_or(0),
        shipping: invoice.shipping,
        tax: invoice.tax,
        total: invoice.total,
        status: match payment_status {
            PaymentStatus::Pending => OrderStatus::AwaitingPayment,
            _ => OrderStatus::Paid,
        },
        psid: psid.to_string(),
        status_detail: confirmation.to_string(),
        shopper: String::new(),
    }
}

fn receipt(
    order_id: i64,
    endpoint: &MerchantEndpoint,
    invoice: &Invoice,
    order: &OrderRecord,
    payment_status: PaymentStatus,
    confirmation: String,
) -> Receipt {
    let first_price = invoice.lines.first().map(|l| l.unit_price).unwrap_or(0);
    Receipt {
        order_id,
        merchant_name: endpoint.name.clone(),
        merchant_host: endpoint.host(),
        order_number: order.order_number.clone(),
        product_title: order.product_title.clone(),
        variant: order.variant.clone(),
        quantity: order.quantity,
        unit_price: invoice.money(first_price),
        lines: invoice
            .lines
            .iter()
            .map(|l| ReceiptLine {
                product_title: l.title.clone(),
                variant: l.subtitle.clone(),
                quantity: l.quantity,
                unit_price: invoice.money(l.unit_price),
            })
            .collect(),
        subtotal: invoice.money(order.subtotal),
        shipping: invoice.money(invoice.shipping),
        tax: invoice.money(invoice.tax),
        total: invoice.total_money(),
        payment_status: payment_status.as_str().into(),
        merchant_confirmation: confirmation,
    }
}
