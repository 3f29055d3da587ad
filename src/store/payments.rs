//! Payments, durably, from the moment Concierge means to pay until the
//! merchant's answer is known.
//!
//! A payment is claimed under its idempotency key (a primary key, so one
//! order of one conversation is paid at most once, across processes) with
//! the exact Pay message it will send, before anything is sent. It is
//! marked sent before the message leaves; then confirmed (with its order,
//! in the same transaction), pending, declined or failed, or unknown when no
//! answer came. Claimed, sent and unknown payments are reconciled later
//! (`Shop::reconcile_payments`): the same Pay, under the same key, is put to
//! the merchant again, and its answer recorded.

use super::{insert_order_on, now_secs, OrderRecord, Store};
use crate::error::OrderError;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PaymentStatus {
    /// Recorded, not yet sent: a crash here means the merchant never saw it.
    Claimed,
    /// The Pay message may have reached the merchant; no answer read yet.
    Sent,
    /// The merchant confirmed it; its order is recorded.
    Confirmed,
    /// The merchant took the order and collects payment itself.
    Pending,
    /// The merchant refused it.
    Declined,
    /// Never sent (nothing to pay with, or a crash before sending).
    Failed,
    /// Sent, and no answer came: to be reconciled.
    Unknown,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Claimed => "claimed",
            PaymentStatus::Sent => "sent",
            PaymentStatus::Confirmed => "confirmed",
            PaymentStatus::Pending => "pending",
            PaymentStatus::Declined => "declined",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Unknown => "unknown",
        }
    }

    /// Reads a stored status; the names of earlier versions ("authorized",
    /// "unconfirmed") mean claimed and unknown.
    pub fn parse(text: &str) -> Option<PaymentStatus> {
        Some(match text {
            "claimed" | "authorized" => PaymentStatus::Claimed,
            "sent" => PaymentStatus::Sent,
            "confirmed" => PaymentStatus::Confirmed,
            "pending" => PaymentStatus::Pending,
            "declined" => PaymentStatus::Declined,
            "failed" => PaymentStatus::Failed,
            "unknown" | "unconfirmed" => PaymentStatus::Unknown,
            _ => return None,
        })
    }

    /// Whether the merchant's answer is still to be learnt.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            PaymentStatus::Claimed | PaymentStatus::Sent | PaymentStatus::Unknown
        )
    }
}

impl std::fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is recorded before a payment is sent: enough to send it again and
/// to record its order without the process that claimed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentClaim {
    pub idempotency_key: String,
    pub run_id: i64,
    pub merchant_id: String,
    pub order_number: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The conversation the Pay goes into.
    pub psid: String,
    /// The Pay message, JSON (`ShopperMessage`).
    pub pay_message: String,
    /// The checked invoice, JSON (`Invoice`).
    pub invoice: String,
}

/// A payment as listed by `concierge payments` and `GET /v1/payments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub idempotency_key: String,
    pub run_id: i64,
    pub merchant_id: String,
    pub order_number: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: PaymentStatus,
    /// The merchant's words, or why the payment stands where it does.
    pub detail: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Times the merchant was asked again.
    pub attempts: i64,
    /// The recorded order, once confirmed.
    pub order_id: Option<i64>,
    /// The shopper of the request ("" for the operator and the command line).
    pub shopper: String,
    #[serde(skip)]
    pub psid: String,
    #[serde(skip)]
    pub pay_message: String,
    #[serde(skip)]
    pub invoice: String,
}

const PAYMENT_COLUMNS: &str =
    "p.idempotency_key, p.run_id, p.merchant_id, p.order_number, p.amount_minor, p.currency,
    p.status, p.detail, p.created_at, p.updated_at, p.attempts,
    p.order_id,
    COALESCE(r.shopper, ''), p.psid, p.pay_message, p.invoice";

fn payment_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PaymentRecord> {
    let status: String = row.get(6)?;
    Ok(PaymentRecord {
        idempotency_key: row.get(0)?,
        run_id: row.get(1)?,
        merchant_id: row.get(2)?,
        order_number: row.get(3)?,
        amount_minor: row.get(4)?,
        currency: row.get(5)?,
        status: PaymentStatus::parse(&status).unwrap_or(PaymentStatus::Unknown),
        detail: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
        attempts: row.get(10)?,
        order_id: row.get(11)?,
        shopper: row.get(12)?,
        psid: row.get(13)?,
        pay_message: row.get(14)?,
        invoice: row.get(15)?,
    })
}

impl Store {
    /// Claims the right to pay under the claim's idempotency key. Fails with
    /// [`OrderError::AlreadyPaid`] when that key was claimed before, by this
    /// or any other process: the caller must then not pay.
    pub fn begin_payment(&self, claim: &PaymentClaim) -> Result<(), OrderError> {
        let now = now_secs();
        let inserted = self.lock().execute(
            "INSERT OR IGNORE INTO payments (idempotency_key, run_id, merchant_id, order_number, amount_minor, currency,
                                             status, created_at, updated_at, psid, pay_message, invoice)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11)",
            params![
                claim.idempotency_key,
                claim.run_id,
                claim.merchant_id,
                claim.order_number,
                claim.amount_minor,
                claim.currency,
                PaymentStatus::Claimed.as_str(),
                now,
                claim.psid,
                claim.pay_message,
                claim.invoice
            ],
        )?;
        if inserted == 0 {
            return Err(OrderError::AlreadyPaid {
                idempotency_key: claim.idempotency_key.clone(),
            });
        }
        Ok(())
    }

    /// Records where a payment now stands and why.
    pub fn settle_payment(
        &self,
        idempotency_key: &str,
        status: PaymentStatus,
        detail: &str,
    ) -> Result<(), OrderError> {
        self.lock().execute(
            "UPDATE payments SET status = ?1, detail = ?2, updated_at = ?3 WHERE idempotency_key = ?4",
            params![status.as_str(), detail, now_secs(), idempotency_key],
        )?;
        Ok(())
    }

    /// Records a confirmed (or pending) payment and its order in one
    /// transaction, so a charge is never recorded without its order; the
    /// order's id. Confirming again returns the same order.
    pub fn confirm_payment(
        &self,
        idempotency_key: &str,
        status: PaymentStatus,
        detail: &str,
        run_id: i64,
        order: &OrderRecord,
    ) -> Result<i64, OrderError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let order_id = insert_order_on(&transaction, run_id, order)?;
        transaction.execute(
            "UPDATE payments SET status = ?1, detail = ?2, updated_at = ?3, order_id = ?4 WHERE idempotency_key = ?5",
            params![status.as_str(), detail, now_secs(), order_id, idempotency_key],
        )?;
        transaction.commit()?;
        Ok(order_id)
    }

    /// Counts one more question to the merchant about an open payment.
    pub fn note_payment_attempt(
        &self,
        idempotency_key: &str,
        detail: &str,
    ) -> Result<(), OrderError> {
        self.lock().execute(
            "UPDATE payments SET attempts = attempts + 1, detail = ?1, updated_at = ?2 WHERE idempotency_key = ?3",
            params![detail, now_secs(), idempotency_key],
        )?;
        Ok(())
    }

    pub fn payment_status(
        &self,
        idempotency_key: &str,
    ) -> Result<Option<PaymentStatus>, OrderError> {
        let status: Option<String> = self
            .lock()
            .query_row(
                "SELECT status FROM payments WHERE idempotency_key = ?1",
                params![idempotency_key],
                |row| row.get(0),
            )
            .optional()?;
        Ok(status.and_then(|s| PaymentStatus::parse(&s)))
    }

    /// Number of payments in `status`.
    pub fn count_payments(&self, status: PaymentStatus) -> Result<i64, OrderError> {
        let names: &[&str] = match status {
            PaymentStatus::Claimed => &["claimed", "authorized"],
            PaymentStatus::Unknown => &["unknown", "unconfirmed"],
            other => &[other.as_str()][..],
        };
        let connection = self.lock();
        let mut total = 0;
        for name in names {
            total += connection.query_row(
                "SELECT COUNT(*) FROM payments WHERE status = ?1",
                params![name],
                |row| row.get::<_, i64>(0),
            )?;
        }
        Ok(total)
    }

    /// Payments, newest first: all, or those of `shopper`'s requests.
    pub fn payments(&self, shopper: Option<&str>) -> Result<Vec<PaymentRecord>, OrderError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments p LEFT JOIN runs r ON r.id = p.run_id
             WHERE ?1 IS NULL OR COALESCE(r.shopper, '') = ?1
             ORDER BY p.created_at DESC, p.rowid DESC"
        ))?;
        let rows = statement.query_map(params![shopper], payment_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Payments whose answer is still to be learnt, untouched since
    /// `untouched_since` (seconds), oldest first.
    pub fn open_payments(&self, untouched_since: i64) -> Result<Vec<PaymentRecord>, OrderError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments p LEFT JOIN runs r ON r.id = p.run_id
             WHERE p.status IN ('claimed', 'authorized', 'sent', 'unknown', 'unconfirmed')
               AND p.updated_at <= ?1
             ORDER BY p.created_at, p.rowid"
        ))?;
        let rows = statement.query_map(params![untouched_since], payment_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The open payment, sent or unknown, of conversation `psid` with
    /// `merchant_id`, newest first.
    pub fn sent_payment_in(
        &self,
        merchant_id: &str,
        psid: &str,
    ) -> Result<Option<PaymentRecord>, OrderError> {
        let connection = self.lock();
        Ok(connection
            .query_row(
                &format!(
                    "SELECT {PAYMENT_COLUMNS} FROM payments p LEFT JOIN runs r ON r.id = p.run_id
                     WHERE p.merchant_id = ?1 AND p.psid = ?2
                       AND p.status IN ('sent', 'unknown', 'unconfirmed')
                     ORDER BY p.created_at DESC, p.rowid DESC LIMIT 1"
                ),
                params![merchant_id, psid],
                payment_from_row,
            )
            .optional()?)
    }

    /// The request text of run `run_id`.
    pub fn run_request(&self, run_id: i64) -> Result<Option<String>, OrderError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT request FROM runs WHERE id = ?1",
                params![run_id],
                |row| row.get(0),
            )
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn claim(key: &str) -> PaymentClaim {
        PaymentClaim {
            idempotency_key: key.into(),
            run_id: 1,
            merchant_id: "m".into(),
            order_number: "INV-1".into(),
            amount_minor: 4500,
            currency: "USD".into(),
            psid: "psid-1".into(),
            pay_message: "{}".into(),
            invoice: "{}".into(),
        }
    }

    #[test]
    fn a_payment_key_can_be_claimed_only_once() {
        let store = Store::in_memory().unwrap();
        store.begin_payment(&claim("m:INV-1")).unwrap();
        let again = store.begin_payment(&claim("m:INV-1"));
        assert!(matches!(again, Err(OrderError::AlreadyPaid { .. })));
        assert_eq!(store.open_payments(i64::MAX).unwrap().len(), 1);
        store
            .settle_payment("m:INV-1", PaymentStatus::Confirmed, "ok")
            .unwrap();
        assert_eq!(
            store.payment_status("m:INV-1").unwrap(),
            Some(PaymentStatus::Confirmed)
        );
        assert_eq!(store.count_payments(PaymentStatus::Confirmed).unwrap(), 1);
        assert!(store.open_payments(i64::MAX).unwrap().is_empty());
    }

    #[test]
    fn a_confirmed_payment_has_exactly_one_order() {
        let store = Store::in_memory().unwrap();
        store.begin_payment(&claim("m:psid-1:INV-1")).unwrap();
        let order = OrderRecord {
            id: 0,
            created_at: 0,
            request: "socks".into(),
            merchant_id: "m".into(),
            merchant_name: "M".into(),
            order_number: "INV-1".into(),
            product_title: "Socks".into(),
            variant: String::new(),
            quantity: 1,
            currency: "USD".into(),
            subtotal: 4500,
            shipping: 0,
            tax: 0,
            total: 4500,
            status: crate::store::OrderStatus::Paid,
            psid: "psid-1".into(),
            status_detail: String::new(),
            shopper: String::new(),
        };
        let first = store
            .confirm_payment("m:psid-1:INV-1", PaymentStatus::Confirmed, "ok", 1, &order)
            .unwrap();
        let again = store
            .confirm_payment("m:psid-1:INV-1", PaymentStatus::Confirmed, "ok", 1, &order)
            .unwrap();
        assert_eq!(first, again);
        assert_eq!(store.orders().unwrap().len(), 1);
        let listed = store.payments(None).unwrap();
        assert_eq!(listed[0].order_id, Some(first));
        assert_eq!(listed[0].status, PaymentStatus::Confirmed);
    }

    #[test]
    fn concurrent_claims_across_connections_pay_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let stores: Vec<std::sync::Arc<Store>> = (0..4)
            .map(|_| std::sync::Arc::new(Store::open(&path).unwrap()))
            .collect();
        let handles: Vec<_> = (0..40)
            .map(|i| {
                let store = stores[i % stores.len()].clone();
                std::thread::spawn(move || store.begin_payment(&claim("m:INV-9")).is_ok())
            })
            .collect();
        let won = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(won, 1);
    }
}
