//! The shopper's authorisation (after AP2's mandate constraints): how much
//! may be paid per order, in which currency, to whom, and until when.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mandate {
    /// Most that may be paid for one order, in minor units. `None`: nothing
    /// was authorised, so nothing is paid.
    pub max_total: Option<i64>,
    pub currency: String,
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
            currency: currency.to_string(),
            allowed_merchants: None,
            expires_at: now_secs() + valid_for_secs,
            require_confirmation: false,
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
    crate::merchant::wire::now_millis() / 1000
}
