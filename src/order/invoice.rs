//! An invoice as Concierge understands it, read from a merchant's receipt
//! template, in integer minor units.

use crate::merchant::messenger::wire::{
    now_millis, Allowance, PaymentAuthorization, ReceiptTemplate,
};
use crate::money::{minor_from_decimal_f64, Money};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub title: String,
    pub subtitle: String,
    pub quantity: u32,
    /// Minor units per item.
    pub unit_price: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub merchant_id: String,
    pub order_number: String,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    /// As stated by the merchant, if stated.
    pub subtotal: Option<i64>,
    pub shipping: i64,
    pub tax: i64,
    /// Sum of adjustments (discounts are negative).
    pub adjustments: i64,
    pub total: i64,
}

impl Invoice {
    /// Reads a receipt template. Amounts that are not whole cents, negative
    /// or absurd make the invoice unreadable rather than silently rounded.
    pub fn from_receipt(merchant_id: &str, receipt: &ReceiptTemplate) -> Result<Invoice, String> {
        let amount = |value: f64, what: &str| {
            minor_from_decimal_f64(value)
                .ok_or_else(|| format!("{what} {value} is not a valid amount"))
        };
        if receipt.order_number.trim().is_empty() {
            return Err("the receipt has no order number".into());
        }
        if receipt.elements.is_empty() {
            return Err("the receipt lists no items".into());
        }
        let mut lines = Vec::new();
        for element in &receipt.elements {
            if let Some(currency) = &element.currency {
                if currency != &receipt.currency {
                    return Err(format!(
                        "line {:?} is in {currency}, the receipt in {}",
                        element.title, receipt.currency
                    ));
                }
            }
            lines.push(InvoiceLine {
                title: element.title.clone(),
                subtitle: element.subtitle.clone().unwrap_or_default(),
                quantity: element.quantity.unwrap_or(1),
                unit_price: amount(element.price, "price")?,
            });
        }
        let summary = &receipt.summary;
        let mut adjustments = 0i64;
        for adjustment in &receipt.adjustments {
            // Adjustments are discounts: Messenger shows them as positive
            // amounts taken off the total.
            adjustments = adjustments
                .checked_sub(amount(adjustment.amount.abs(), "adjustment")?)
                .ok_or("the adjustments overflow")?;
        }
        let shipping = summary
            .shipping_cost
            .map(|v| amount(v, "shipping"))
            .transpose()?
            .unwrap_or(0);
        let tax = summary
            .total_tax
            .map(|v| amount(v, "tax"))
            .transpose()?
            .unwrap_or(0);
        let total = amount(summary.total_cost, "total")?;
        let subtotal = summary
            .subtotal
            .map(|v| amount(v, "subtotal"))
            .transpose()?;
        // Messenger leaves open whether an element's price is per unit or
        // for the line. Per unit is read first; where only "for the line"
        // makes the receipt add up (and divides exactly), it is that.
        // Sums that overflow (absurd quantities) add up to nothing.
        let per_unit = lines.iter().try_fold(0i64, |sum, l| {
            l.unit_price
                .checked_mul(i64::from(l.quantity))
                .and_then(|line| sum.checked_add(line))
        });
        let per_line = lines
            .iter()
            .try_fold(0i64, |sum, l| sum.checked_add(l.unit_price));
        let adds_up = |items: Option<i64>| {
            let computed = items
                .and_then(|items| items.checked_add(shipping))
                .and_then(|sum| sum.checked_add(tax))
                .and_then(|sum| sum.checked_add(adjustments));
            items.is_some_and(|items| subtotal.is_none_or(|s| s == items))
                && computed == Some(total)
        };
        if !adds_up(per_unit)
            && adds_up(per_line)
            && lines.iter().all(|l| {
                l.quantity > 1 && l.unit_price % i64::from(l.quantity) == 0 || l.quantity == 1
            })
        {
            for line in &mut lines {
                line.unit_price /= i64::from(line.quantity.max(1));
            }
        }
        Ok(Invoice {
            merchant_id: merchant_id.to_string(),
            order_number: receipt.order_number.clone(),
            currency: receipt.currency.trim().to_uppercase(),
            lines,
            subtotal,
            shipping,
            tax,
            adjustments,
            total,
        })
    }

    /// Σ unit price × quantity, or `None` on overflow.
    pub fn lines_total(&self) -> Option<i64> {
        self.lines.iter().try_fold(0i64, |sum, line| {
            line.unit_price
                .checked_mul(i64::from(line.quantity))
                .and_then(|l| sum.checked_add(l))
        })
    }

    /// The idempotency key a payment for this invoice is made under, in
    /// conversation `psid`: one order of one conversation is paid at most
    /// once. A merchant that restarts and reuses an order number in a new
    /// conversation is a new order.
    pub fn payment_key(&self, psid: &str) -> String {
        format!("{}:{psid}:{}", self.merchant_id, self.order_number)
    }

    /// A one-time payment authorisation for exactly this invoice: its total,
    /// currency, merchant and order, valid for `valid_for_secs`, under
    /// `idempotency_key` (see [`Invoice::payment_key`]).
    pub fn authorization(
        &self,
        token: String,
        idempotency_key: &str,
        valid_for_secs: i64,
    ) -> PaymentAuthorization {
        PaymentAuthorization {
            token,
            idempotency_key: idempotency_key.to_string(),
            allowance: Allowance {
                reason: "one_time".into(),
                max_amount: self.total,
                currency: self.currency.clone(),
                checkout_session_id: self.order_number.clone(),
                merchant_id: self.merchant_id.clone(),
                expires_at: now_millis() / 1000 + valid_for_secs,
            },
        }
    }

    pub fn total_money(&self) -> Money {
        Money::new(self.total, self.currency.clone())
    }

    pub fn money(&self, minor: i64) -> Money {
        Money::new(minor, self.currency.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(json: serde_json::Value) -> ReceiptTemplate {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn meta_sample_receipt_with_two_lines_and_discounts_reads_exactly() {
        // The receipt of Meta's messenger-platform-samples bot, as it sends it.
        let invoice = Invoice::from_receipt(
            "m",
            &receipt(serde_json::json!({
                "template_type": "receipt", "recipient_name": "Peter Chang", "order_number": "order841",
                "currency": "USD", "payment_method": "Visa 1234", "timestamp": "1428444852",
                "elements": [
                    {"title": "Oculus Rift", "subtitle": "Includes: headset, sensor, remote", "quantity": 1, "price": 599, "currency": "USD"},
                    {"title": "Samsung Gear VR", "subtitle": "Frost White", "quantity": 1, "price": 99.99, "currency": "USD"}],
                "address": {"street_1": "1 Hacker Way", "city": "Menlo Park", "postal_code": "94025", "state": "CA", "country": "US"},
                "summary": {"subtotal": 698.99, "shipping_cost": 20, "total_tax": 57.67, "total_cost": 626.66},
                "adjustments": [{"name": "New Customer Discount", "amount": -50}, {"name": "$100 Off Coupon", "amount": -100}]
            })),
        )
        .unwrap();
        assert_eq!(invoice.lines.len(), 2);
        assert_eq!(invoice.lines_total(), Some(69_899));
        assert_eq!(invoice.adjustments, -15_000);
        assert_eq!(
            invoice.lines_total().unwrap() + invoice.shipping + invoice.tax + invoice.adjustments,
            invoice.total
        );
    }

    #[test]
    fn a_line_price_is_read_as_such_when_only_that_adds_up() {
        let base = |price: f64| {
            receipt(serde_json::json!({
                "order_number": "Q-1", "currency": "USD",
                "elements": [{"title": "Wool Socks", "quantity": 2, "price": price}],
                "summary": {"subtotal": 18.0, "shipping_cost": 4.0, "total_cost": 22.0}
            }))
        };
        // Per unit: 2 x 9.00 = 18.00.
        assert_eq!(
            Invoice::from_receipt("m", &base(9.0)).unwrap().lines[0].unit_price,
            900
        );
        // For the line: 18.00 for the two.
        assert_eq!(
            Invoice::from_receipt("m", &base(18.0)).unwrap().lines[0].unit_price,
            900
        );
    }
}
