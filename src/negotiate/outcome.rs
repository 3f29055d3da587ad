//! How a request ended, as one value: the report's `outcome` field and the
//! exit code of `concierge ask`.

use serde::{Deserialize, Serialize};

/// How a request ended. Each has a stable snake_case name (the JSON
/// report's `outcome`) and an exit code (`concierge ask`, `demo`, `chat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// An order was paid and confirmed (every item of a basket).
    Bought,
    /// A search: offers were found and shown; nothing is bought.
    Searched,
    /// The shopper's orders were listed.
    OrderStatus,
    /// The merchant confirmed a cancellation.
    Cancelled,
    /// The request was not understood as shopping.
    NotUnderstood,
    /// Nothing to buy: no product named, no merchant, no offer, or no
    /// merchant with the variant asked for in stock.
    NothingFound,
    /// Merchants were asked, and no invoice passed every check.
    NoValidInvoice,
    /// An invoice was chosen and payment was attempted, but not confirmed.
    PaymentFailed,
    /// An invoice was chosen but payment was not authorised: no budget,
    /// payment not asked for, or the shopper did not confirm.
    NotPaid,
    /// Some items of a basket were bought, not all.
    PartlyBought,
    /// A cancellation was refused, unanswered, or had no order to act on.
    NotCancelled,
}

impl Outcome {
    /// The process exit code for this outcome. 0 means the request did
    /// what it asked; 1 is kept for errors (bad arguments, a broken store).
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Bought | Outcome::Searched | Outcome::OrderStatus | Outcome::Cancelled => 0,
            Outcome::NotUnderstood => 2,
            Outcome::NothingFound => 3,
            Outcome::NoValidInvoice => 4,
            Outcome::PaymentFailed => 5,
            Outcome::NotPaid => 6,
            Outcome::PartlyBought => 7,
            Outcome::NotCancelled => 8,
        }
    }

    /// Every outcome, for documentation and tests.
    pub const ALL: [Outcome; 11] = [
        Outcome::Bought,
        Outcome::Searched,
        Outcome::OrderStatus,
        Outcome::Cancelled,
        Outcome::NotUnderstood,
        Outcome::NothingFound,
        Outcome::NoValidInvoice,
        Outcome::PaymentFailed,
        Outcome::NotPaid,
        Outcome::PartlyBought,
        Outcome::NotCancelled,
    ];

    /// The snake_case name, as in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Bought => "bought",
            Outcome::Searched => "searched",
            Outcome::OrderStatus => "order_status",
            Outcome::Cancelled => "cancelled",
            Outcome::NotUnderstood => "not_understood",
            Outcome::NothingFound => "nothing_found",
            Outcome::NoValidInvoice => "no_valid_invoice",
            Outcome::PaymentFailed => "payment_failed",
            Outcome::NotPaid => "not_paid",
            Outcome::PartlyBought => "partly_bought",
            Outcome::NotCancelled => "not_cancelled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_json_and_codes_tell_failures_apart() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_string(&outcome).unwrap();
            assert_eq!(json, format!("\"{}\"", outcome.name()));
        }
        let failing: Vec<i32> = Outcome::ALL
            .iter()
            .map(|o| o.exit_code())
            .filter(|code| *code != 0)
            .collect();
        let mut distinct = failing.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            failing.len(),
            "each failure has its own code"
        );
        assert!(!failing.contains(&1), "1 is for errors");
    }
}
