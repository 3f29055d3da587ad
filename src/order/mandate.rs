//! The shopper's authorisation (after AP2's mandate constraints): how much
//! may be paid per order, in which currency, to whom, and until when.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    /// Most that may be paid for one order, in minor units. `None`: nothing
    /// was authorised, so nothing is paid.
    pub max_total: Option<i64>,
    pub currency: String,
    /// A running budget: the most that may be spent across all the orders
    /// of this mandate (a basket), in minor units; `None`: no cap beyond
    /// `max_total`.
    #[serde(default)]
    pub budget: Option<i64>,
    /// Spent so far under this mandate, in minor units.
    #[serde(default)]
    pub spent: i64,
    /// Merchants that may be paid; `None` allows any.
    pub allowed_merchants: Option<Vec<String>>,
    /// Unix seconds after which nothing may be paid.
    pub expires_at: i64,
    /// Whether the shopper must confirm before paying.
    pub require_confirmation: bool,
}

impl Mandate {
    /// A mandate for one request: `max_total` in `currency`, valid for
    /// `valid_for_secs` from now.
    pub fn for_request(max_total: Option<i64>, currency: &str, valid_for_secs: i64) -> Mandate {
        Mandate {
            max_total,
            budget: None,
            spent: 0,
            currency: currency.to_string(),
            allowed_merchants: None,
            expires_at: now_secs().saturating_add(valid_for_secs),
            require_confirmation: false,
        }
    }

    /// The most the next order may cost: the per-order maximum, capped by
    /// what is left of the running budget. `None` when nothing was
    /// authorised.
    pub fn limit(&self) -> Option<i64> {
        // Saturating: a mandate read from outside may hold any numbers, and
        // what is left is never below nothing.
        let left = self
            .budget
            .map(|budget| budget.saturating_sub(self.spent).max(0));
        match (self.max_total, left) {
            (Some(max), Some(left)) => Some(max.min(left)),
            (Some(max), None) => Some(max),
            (None, _) => None,
        }
    }

    pub fn allows_merchant(&self, merchant_id: &str) -> bool {
        self.allowed_merchants
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|m| m == merchant_id))
    }

    pub fn expired(&self) -> bool {
        now_secs() >= self.expires_at
    }
}

pub fn now_secs() -> i64 {
    crate::merchant::messenger::wire::now_millis() / 1000
}
