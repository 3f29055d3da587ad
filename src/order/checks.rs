//! Checks an invoice against what the shopper asked for, what the catalog
//! listed, and the mandate. Every check is reported, passed or not, so the
//! shopper sees why an invoice was accepted or refused.

use super::invoice::Invoice;
use super::mandate::Mandate;
use crate::catalog::index::{canonical_color, canonical_size};
use crate::rules::{CompiledRules, LexSlot};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    fn new(name: &str, passed: bool, detail: String) -> Check {
        Check {
            name: name.into(),
            passed,
            detail,
        }
    }
}

/// What the invoice should say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    pub merchant_id: String,
    pub product_title: String,
    /// Canonical colour and size asked for, if any.
    pub color: Option<String>,
    pub size: Option<String>,
    pub quantity: u32,
    /// The unit price the catalog listed (minor units).
    pub listed_unit_price: i64,
}

/// Runs every check; the invoice is acceptable when all pass.
pub fn check_invoice(
    invoice: &Invoice,
    expected: &Expectation,
    mandate: &Mandate,
    rules: &CompiledRules,
) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(Check::new(
        "one item line",
        invoice.lines.len() == 1,
        format!("{} line(s)", invoice.lines.len()),
    ));
    let Some(line) = invoice.lines.first() else {
        return checks;
    };
    let product_ok = same_product(&line.title, &expected.product_title);
    checks.push(Check::new(
        "product",
        product_ok,
        format!("{:?}, asked for {:?}", line.title, expected.product_title),
    ));
    let described = format!("{} {}", line.title, line.subtitle);
    if let Some(color) = &expected.color {
        let found = mentioned(rules, LexSlot::Color, &line.subtitle, &described);
        let ok = found.iter().any(|c| c == color) && found.iter().all(|c| c == color);
        checks.push(Check::new(
            "colour",
            ok,
            format!("invoice says {}, asked {color}", list_or_none(&found)),
        ));
    }
    if let Some(size) = &expected.size {
        let found = mentioned(rules, LexSlot::Size, &line.subtitle, &line.subtitle);
        let ok = found.iter().any(|s| s == size) && found.iter().all(|s| s == size);
        checks.push(Check::new(
            "size",
            ok,
            format!("invoice says {}, asked {size}", list_or_none(&found)),
        ));
    }
    checks.push(Check::new(
        "quantity",
        line.quantity == expected.quantity,
        format!("{} ordered, asked {}", line.quantity, expected.quantity),
    ));
    checks.push(Check::new(
        "unit price",
        line.unit_price <= expected.listed_unit_price,
        format!(
            "{} each, catalog lists {}",
            invoice.money(line.unit_price),
            invoice.money(expected.listed_unit_price)
        ),
    ));
    let arithmetic = invoice.lines_total().and_then(|lines| {
        let subtotal_ok = invoice.subtotal.is_none_or(|s| s == lines);
        lines
            .checked_add(invoice.shipping)
            .and_then(|t| t.checked_add(invoice.tax))
            .and_then(|t| t.checked_add(invoice.adjustments))
            .map(|computed| (computed, subtotal_ok))
    });
    match arithmetic {
        Some((computed, subtotal_ok)) => checks.push(Check::new(
            "total adds up",
            computed == invoice.total && subtotal_ok,
            format!(
                "lines {} + shipping {} + tax {} = {}, invoice says {}",
                invoice.money(invoice.lines_total().unwrap_or(0)),
                invoice.money(invoice.shipping),
                invoice.money(invoice.tax),
                invoice.money(computed),
                invoice.total_money()
            ),
        )),
        None => checks.push(Check::new(
            "total adds up",
            false,
            "amounts overflow".into(),
        )),
    }
    checks.push(Check::new(
        "currency",
        invoice.currency == mandate.currency,
        format!(
            "invoice in {}, mandate in {}",
            invoice.currency, mandate.currency
        ),
    ));
    match mandate.limit() {
        Some(max) => checks.push(Check::new(
            "within budget",
            invoice.total <= max && invoice.total >= 0,
            format!(
                "total {} vs budget {}",
                invoice.total_money(),
                invoice.money(max)
            ),
        )),
        // Without a budget the invoice can still be compared and chosen;
        // paying it is refused later, since nothing was authorised.
        None => checks.push(Check::new(
            "within budget",
            true,
            "no budget given: it will not be paid".into(),
        )),
    }
    checks.push(Check::new(
        "merchant allowed",
        mandate.allows_merchant(&invoice.merchant_id)
            && invoice.merchant_id == expected.merchant_id,
        invoice.merchant_id.clone(),
    ));
    checks.push(Check::new(
        "mandate not expired",
        !mandate.expired(),
        String::new(),
    ));
    checks
}

fn list_or_none(values: &[String]) -> String {
    if values.is_empty() {
        "nothing".into()
    } else {
        values.join("/")
    }
}

/// Canonical values of `slot` mentioned in the parts of `subtitle`
/// ("Heather Grey / M" → gray; M), falling back to lexicon phrases anywhere
/// in `wider` when the subtitle has none.
fn mentioned(rules: &CompiledRules, slot: LexSlot, subtitle: &str, wider: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    fn push(found: &mut Vec<String>, value: String) {
        if !found.contains(&value) {
            found.push(value);
        }
    }
    for part in subtitle.split(['/', ',', ';', '|']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if rules.lexicon.canonical(slot, part).is_some() {
            push(
                &mut found,
                match slot {
                    LexSlot::Color => canonical_color(rules, part),
                    _ => canonical_size(rules, part),
                },
            );
        } else if slot == LexSlot::Size && part.chars().all(|c| c.is_ascii_digit()) {
            push(&mut found, part.to_string());
        }
    }
    if found.is_empty() && slot == LexSlot::Color {
        let lower = wider.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        for n in (1..=3).rev() {
            for window in words.windows(n) {
                if let Some(color) = rules.lexicon.canonical(LexSlot::Color, &window.join(" ")) {
                    push(&mut found, color.to_string());
                }
            }
        }
    }
    found
}

/// Titles name the same product when, ignoring case and punctuation, most
/// words of the shorter appear in the longer.
fn same_product(invoice_title: &str, expected_title: &str) -> bool {
    let words = |text: &str| -> Vec<String> {
        text.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let a = words(invoice_title);
    let b = words(expected_title);
    if a.is_empty() || b.is_empty() {
        return false;
    }
    let (short, long) = if a.len() <= b.len() {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let shared = short.iter().filter(|w| long.contains(w)).count();
    shared * 10 >= short.len() * 8
}
