//! Money as integer minor units (cents). No floating point touches an amount,
//! except at the single boundary where a Messenger receipt template carries
//! decimal numbers; [`minor_from_decimal_f64`] converts those exactly or refuses.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An amount in minor units of an ISO 4217 currency (all supported currencies
/// have two decimals).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

impl Money {
    pub fn new(minor: i64, currency: impl Into<String>) -> Self {
        Money {
            minor,
            currency: currency.into(),
        }
    }

    /// Parses "45.00 USD", "45 USD", "USD 45.5" (Google Merchant Center style).
    pub fn parse_with_code(text: &str) -> Option<Money> {
        let parts: Vec<&str> = text.split_whitespace().collect();
        let (amount, code) = match parts.as_slice() {
            [a, c] if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => (*a, *c),
            [c, a] if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_alphabetic()) => (*a, *c),
            _ => return None,
        };
        Some(Money::new(
            parse_decimal_minor(amount)?,
            code.to_ascii_uppercase(),
        ))
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let symbol = match self.currency.as_str() {
            "USD" => "$",
            "EUR" => "€",
            "GBP" => "£",
            _ => "",
        };
        if symbol.is_empty() {
            write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
        } else {
            write!(f, "{sign}{symbol}{}.{:02}", abs / 100, abs % 100)
        }
    }
}

/// Parses a plain decimal ("45", "45.5", "45.99", "1,299.00") into minor units.
/// Returns `None` for more than two decimals, signs, or overflow.
pub fn parse_decimal_minor(text: &str) -> Option<i64> {
    let cleaned: String = text.chars().filter(|c| *c != ',').collect();
    let (whole, frac) = match cleaned.split_once('.') {
        Some((w, f)) => (w, f),
        None => (cleaned.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 2 {
        return None;
    }
    let whole_value: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_value: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    whole_value.checked_mul(100)?.checked_add(frac_value)
}

/// Converts a decimal number from a wire format (Messenger's receipt template
/// uses JSON numbers such as 45.99) into minor units. Refuses non-finite,
/// negative, huge, or sub-cent values instead of rounding them silently.
pub fn minor_from_decimal_f64(value: f64) -> Option<i64> {
    if !value.is_finite() || !(0.0..=1e12).contains(&value) {
        return None;
    }
    let scaled = value * 100.0;
    let rounded = scaled.round();
    if (scaled - rounded).abs() > 1e-6 {
        return None;
    }
    Some(rounded as i64)
}

/// The inverse of [`minor_from_decimal_f64`], for writing receipt templates.
pub fn minor_to_decimal_f64(minor: i64) -> f64 {
    // Two-decimal values round-trip exactly through this division for any
    // amount a shop would charge.
    minor as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_parsing_table() {
        let cases: &[(&str, Option<i64>)] = &[
            ("45", Some(4500)),
            ("45.5", Some(4550)),
            ("45.99", Some(4599)),
            ("1,299.00", Some(129900)),
            (".5", Some(50)),
            ("45.999", None),
            ("-3", None),
            ("abc", None),
            ("", None),
            ("99999999999999999999", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_decimal_minor(text), *expected, "{text}");
        }
    }

    #[test]
    fn wire_floats_convert_exactly_or_refuse() {
        assert_eq!(minor_from_decimal_f64(45.99), Some(4599));
        assert_eq!(minor_from_decimal_f64(0.1 + 0.2), Some(30));
        assert_eq!(minor_from_decimal_f64(49.0), Some(4900));
        assert_eq!(minor_from_decimal_f64(1.005), None);
        assert_eq!(minor_from_decimal_f64(-1.0), None);
        assert_eq!(minor_from_decimal_f64(f64::NAN), None);
        for minor in [0, 1, 99, 4599, 123456] {
            assert_eq!(
                minor_from_decimal_f64(minor_to_decimal_f64(minor)),
                Some(minor)
            );
        }
    }

    #[test]
    fn money_display_and_feed_parsing() {
        assert_eq!(Money::new(4599, "USD").to_string(), "$45.99");
        assert_eq!(Money::new(4000, "EUR").to_string(), "€40.00");
        assert_eq!(Money::new(500, "JPY").to_string(), "5.00 JPY");
        assert_eq!(
            Money::parse_with_code("45.00 USD"),
            Some(Money::new(4500, "USD"))
        );
        assert_eq!(
            Money::parse_with_code("usd 12.5"),
            Some(Money::new(1250, "USD"))
        );
        assert_eq!(Money::parse_with_code("45.00"), None);
    }
}
