//! Checks an invoice against what the shopper asked for, what the catalog
//! listed, and the mandate. Every check is reported, passed or not, so the
//! shopper sees why an invoice was accepted or refused.

use super::invoice::Invoice;
use super::mandate::Mandate;
use crate::catalog::index::{canonical_color, canonical_size};
use crate::rules::{CompiledRules, LexSlot};
use serde::{Deserialize, Serialize};

/// What a check is about. Shown as its words ("within budget"); in JSON,
/// snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    OneItemLine,
    Product,
    Colour,
    Size,
    Quantity,
    UnitPrice,
    TotalAddsUp,
    Currency,
    WithinBudget,
    MerchantAllowed,
    MandateNotExpired,
    /// The merchant offered a way to agree (a Pay button, a yes in words).
    WayToAgree,
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            CheckName::OneItemLine => "one item line",
            CheckName::Product => "product",
            CheckName::Colour => "colour",
            CheckName::Size => "size",
            CheckName::Quantity => "quantity",
            CheckName::UnitPrice => "unit price",
            CheckName::TotalAddsUp => "total adds up",
            CheckName::Currency => "currency",
            CheckName::WithinBudget => "within budget",
            CheckName::MerchantAllowed => "merchant allowed",
            CheckName::MandateNotExpired => "mandate not expired",
            CheckName::WayToAgree => "way to agree",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: CheckName,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: CheckName, passed: bool, detail: String) -> Check {
        Check {
            name,
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
        CheckName::OneItemLine,
        invoice.lines.len() == 1,
        format!("{} line(s)", invoice.lines.len()),
    ));
    let Some(line) = invoice.lines.first() else {
        return checks;
    };
    let product_ok = same_product(&line.title, &expected.product_title);
    checks.push(Check::new(
        CheckName::Product,
        product_ok,
        format!("{:?}, asked for {:?}", line.title, expected.product_title),
    ));
    if let Some(color) = &expected.color {
        let found = colors_stated(rules, &line.title, &line.subtitle, color);
        let ok = found.iter().any(|c| c == color) && found.iter().all(|c| c == color);
        checks.push(Check::new(
            CheckName::Colour,
            ok,
            format!("invoice says {}, asked {color}", list_or_none(&found)),
        ));
    }
    if let Some(size) = &expected.size {
        let found = sizes_stated(rules, &line.title, &line.subtitle);
        let ok = found.iter().any(|s| sizes_match(s, size))
            && found.iter().all(|s| sizes_match(s, size));
        checks.push(Check::new(
            CheckName::Size,
            ok,
            format!("invoice says {}, asked {size}", list_or_none(&found)),
        ));
    }
    checks.push(Check::new(
        CheckName::Quantity,
        line.quantity == expected.quantity,
        format!("{} ordered, asked {}", line.quantity, expected.quantity),
    ));
    checks.push(Check::new(
        CheckName::UnitPrice,
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
            CheckName::TotalAddsUp,
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
            CheckName::TotalAddsUp,
            false,
            "amounts overflow".into(),
        )),
    }
    checks.push(Check::new(
        CheckName::Currency,
        invoice.currency == mandate.currency,
        format!(
            "invoice in {}, mandate in {}",
            invoice.currency, mandate.currency
        ),
    ));
    match mandate.limit() {
        Some(max) => checks.push(Check::new(
            CheckName::WithinBudget,
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
            CheckName::WithinBudget,
            true,
            "no budget given: it will not be paid".into(),
        )),
    }
    checks.push(Check::new(
        CheckName::MerchantAllowed,
        mandate.allows_merchant(&invoice.merchant_id)
            && invoice.merchant_id == expected.merchant_id,
        invoice.merchant_id.clone(),
    ));
    checks.push(Check::new(
        CheckName::MandateNotExpired,
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

/// The parts of a variant description: "Heather Grey / M", "Cognac Brown ·
/// EU 39", "Crew Neck Tee — Black — XL", "(Gray, M)".
fn parts(text: &str) -> Vec<&str> {
    text.split(['/', ',', ';', '|', '·', '•', '—', '–', '(', ')', '\n', ':'])
        .flat_map(|part| part.split(" - "))
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect()
}

/// The colours an invoice line states, canonical: those of its subtitle's
/// parts, else every colour named in its title and subtitle. The colour
/// asked for counts where its own words appear, though the lexicon may not
/// know it ("clear").
fn colors_stated(rules: &CompiledRules, title: &str, subtitle: &str, asked: &str) -> Vec<String> {
    fn push(found: &mut Vec<String>, value: String) {
        if !found.contains(&value) {
            found.push(value);
        }
    }
    let mut found: Vec<String> = Vec::new();
    for part in parts(subtitle) {
        if let Some(color) = color_of(rules, part) {
            push(&mut found, color);
        }
    }
    if found.is_empty() {
        let wider = format!("{title} {subtitle}");
        for color in colors_named(rules, &wider) {
            push(&mut found, color);
        }
        let lower = wider.to_lowercase();
        let asked_words = asked.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let asked_count = asked_words.split_whitespace().count().max(1);
        if words
            .windows(asked_count)
            .any(|w| w.join(" ") == asked_words)
        {
            push(&mut found, asked.to_string());
        }
    }
    found
}

/// The canonical colour a part names: the lexicon's for the whole part,
/// else the colour of its last colour word ("Midnight Navy" → navy).
fn color_of(rules: &CompiledRules, part: &str) -> Option<String> {
    if rules.lexicon.canonical(LexSlot::Color, part).is_some() {
        return Some(canonical_color(rules, part));
    }
    let words: Vec<&str> = part
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > 3 {
        return None;
    }
    words
        .iter()
        .rev()
        .find_map(|word| rules.lexicon.canonical(LexSlot::Color, word))
        .map(str::to_string)
}

/// Every colour named in `text`, longest phrase first, each once.
fn colors_named(rules: &CompiledRules, text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut found: Vec<String> = Vec::new();
    let mut covered = vec![false; words.len()];
    for n in (1..=3).rev() {
        for start in 0..words.len().saturating_sub(n - 1) {
            if covered[start..start + n].iter().any(|c| *c) {
                continue;
            }
            if let Some(color) = rules
                .lexicon
                .canonical(LexSlot::Color, &words[start..start + n].join(" "))
            {
                covered[start..start + n].iter_mut().for_each(|c| *c = true);
                if !found.iter().any(|f| f == color) {
                    found.push(color.to_string());
                }
            }
        }
    }
    found
}

/// The colour and size an item description states, as written ("Heather
/// Grey / M"): for the receipt of an offer made in words.
pub fn variant_words(rules: &CompiledRules, text: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let text_parts = parts(text);
    if let Some(color) = text_parts.iter().find(|p| color_of(rules, p).is_some()) {
        words.push(color.to_string());
    } else if let Some(color) = colors_named(rules, text).first() {
        words.push(color.clone());
    }
    static SIZE_WORD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = SIZE_WORD.get_or_init(|| {
        regex::Regex::new(r"(?i)\bsize\s*:?\s*((?:(?:US|EU|UK|IT|FR)\s?)?[A-Za-z0-9][\w.]*)")
            .expect("fixed pattern compiles")
    });
    let size = pattern
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().trim_end_matches(['.', '!', '?']).to_string())
        .filter(|size| size_of(rules, size).is_some())
        .or_else(|| {
            text_parts
                .iter()
                .find(|p| size_of(rules, p).is_some())
                .map(|p| p.to_string())
        })
        .or_else(|| sizes_stated(rules, text, "").first().cloned());
    words.extend(size);
    words.join(" / ")
}

/// The sizes an invoice line states: its subtitle's parts that are sizes,
/// else the parts of its title and subtitle that are, and any "size X".
fn sizes_stated(rules: &CompiledRules, title: &str, subtitle: &str) -> Vec<String> {
    // "M (UK 6–8)", "9 (US men's)": a size's conversion is not another size.
    static CONVERSION: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let conversion = CONVERSION.get_or_init(|| {
        regex::Regex::new(r"(?i)\((?:us|uk|eu|it|fr|jp)\b[^)]*\)").expect("fixed pattern compiles")
    });
    let title = conversion.replace_all(title, " ");
    let subtitle = conversion.replace_all(subtitle, " ");
    let (title, subtitle) = (title.as_ref(), subtitle.as_ref());
    fn push(found: &mut Vec<String>, value: String) {
        if !found.iter().any(|f| sizes_match(f, &value)) {
            found.push(value);
        }
    }
    let mut found: Vec<String> = Vec::new();
    for part in parts(subtitle) {
        if let Some(size) = size_of(rules, part) {
            push(&mut found, size);
        }
    }
    if found.is_empty() {
        let wider = format!("{title} · {subtitle}");
        static SIZE_WORD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        let pattern = SIZE_WORD.get_or_init(|| {
            regex::Regex::new(r"(?i)\bsize\s*:?\s*((?:(?:US|EU|UK|IT|FR)\s?)?[A-Za-z0-9][\w.]*)")
                .expect("fixed pattern compiles")
        });
        for caps in pattern.captures_iter(&wider) {
            if let Some(size) = caps.get(1).and_then(|m| size_of(rules, m.as_str())) {
                push(&mut found, size);
            }
        }
        for part in parts(&wider) {
            if let Some(size) = size_of(rules, part) {
                push(&mut found, size);
            }
        }
    }
    if found.is_empty() {
        // A size word in a sentence ("in medium"); single letters only
        // count where they stand alone (above).
        let wider = format!("{title} {subtitle}").to_lowercase();
        let words: Vec<&str> = wider
            .split(|c: char| !(c.is_alphanumeric() || c == '-'))
            .filter(|w| w.len() >= 2)
            .collect();
        for n in [2, 1] {
            for window in words.windows(n) {
                let phrase = window.join(" ");
                if rules.lexicon.canonical(LexSlot::Size, &phrase).is_some() {
                    push(&mut found, canonical_size(rules, &phrase));
                }
            }
        }
    }
    found
}

/// The size a part names, when it is only a size: a lexicon size ("M",
/// "medium"), a number with or without its system ("9", "US 9", "EU
/// 39.5"), waist and length ("W32 L30", "32x30"), "One Size".
fn size_of(rules: &CompiledRules, part: &str) -> Option<String> {
    static SHAPE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let shape = SHAPE.get_or_init(|| {
        regex::Regex::new(
            r"(?i)^(?:(?:us|eu|uk|it|fr|jp)\s?\d{1,3}(?:[.,]5)?|\d{1,3}(?:[.,]5)?(?:\s?(?:us|eu|uk))?|w?\d{2}\s?[x×/]\s?l?\d{2}|w\d{2}\s+l\d{2}|one size|[0-9]?x{1,3}[sl])$",
        )
        .expect("fixed pattern compiles")
    });
    let part = part
        .trim()
        .trim_start_matches("size")
        .trim_start_matches("Size")
        .trim()
        .trim_end_matches(['.', '!', '?']);
    if part.is_empty() || part.len() > 12 {
        return None;
    }
    if rules.lexicon.canonical(LexSlot::Size, part).is_some() {
        return Some(canonical_size(rules, part));
    }
    shape.is_match(part).then(|| canonical_size(rules, part))
}

/// Whether two sizes are the same: equal once written alike ("US 9" and
/// "US9", "W32 L30" and "32X30"), or the same number where one names no
/// system ("9" and "US 9").
pub fn sizes_match(a: &str, b: &str) -> bool {
    let key = |size: &str| -> (String, String) {
        let upper = size.to_uppercase();
        let upper = upper.split('(').next().unwrap_or("").trim().to_string();
        let compact: String = upper.chars().filter(|c| !c.is_whitespace()).collect();
        let compact = compact.replace(['×', '/'], "X");
        // W32L30 → 32X30.
        let compact = if let Some(rest) = compact.strip_prefix('W') {
            rest.replacen('L', "X", 1).replace("XX", "X")
        } else {
            compact
        };
        for system in ["US", "EU", "UK", "IT", "FR", "JP"] {
            if let Some(rest) = compact.strip_prefix(system) {
                return (system.to_string(), rest.replace(',', "."));
            }
        }
        (String::new(), compact.replace(',', "."))
    };
    let (system_a, value_a) = key(a);
    let (system_b, value_b) = key(b);
    value_a == value_b && (system_a == system_b || system_a.is_empty() || system_b.is_empty())
}

/// Titles name the same product when, ignoring case, punctuation, plural
/// endings and the space in "250 g", most words of the shorter appear in
/// the longer.
pub fn same_product(invoice_title: &str, expected_title: &str) -> bool {
    let a = title_words(invoice_title);
    let b = title_words(expected_title);
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

/// A title's words, compared loosely: lowercase, a number joined to the
/// unit after it ("250 g" → "250g"), a plural's "s" dropped.
fn title_words(text: &str) -> Vec<String> {
    const UNITS: [&str; 16] = [
        "g", "kg", "mg", "ml", "l", "oz", "lb", "lbs", "cm", "mm", "m", "in", "gb", "tb", "w",
        "pack",
    ];
    let lower = text.to_lowercase();
    let raw: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut words: Vec<String> = Vec::new();
    let mut index = 0;
    while index < raw.len() {
        let word = raw[index];
        if word.chars().all(|c| c.is_ascii_digit())
            && raw.get(index + 1).is_some_and(|next| UNITS.contains(next))
        {
            words.push(format!("{word}{}", raw[index + 1]));
            index += 2;
            continue;
        }
        let singular = match word.strip_suffix('s') {
            Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem,
            _ => word,
        };
        words.push(singular.to_string());
        index += 1;
    }
    words
}
