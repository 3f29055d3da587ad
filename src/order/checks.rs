//! Checks an invoice against what the shopper asked for, what the catalog
//! listed, and the mandate. Every check is reported, passed or not, so the
//! shopper sees why an invoice was accepted or refused.

use super::invoice::{Invoice, InvoiceLine};
use super::mandate::Mandate;
use crate::rules::{CompiledRules, LexSlot};
use serde::{Deserialize, Serialize};

/// What a check is about. Shown as its words ("within budget"); in JSON,
/// snake_case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// One invoice line per item asked for, no more. (Reports written
    /// before baskets called it `one_item_line`.)
    #[serde(alias = "one_item_line")]
    ItemLines,
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
            CheckName::ItemLines => "item lines",
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
    check_order(invoice, std::slice::from_ref(expected), mandate, rules)
}

/// Runs every check on an invoice for several items (a basket ordered at
/// one merchant): one line per expected item, each checked like a
/// one-item invoice, then the sums and the mandate once.
pub fn check_order(
    invoice: &Invoice,
    expected: &[Expectation],
    mandate: &Mandate,
    rules: &CompiledRules,
) -> Vec<Check> {
    let mut checks = Vec::new();
    // Nothing asked is never a match: with no item the checks below (the
    // mandate's among them) do not run, so an empty invoice for an empty
    // order must not pass on its line count alone.
    checks.push(Check::new(
        CheckName::ItemLines,
        !expected.is_empty() && invoice.lines.len() == expected.len(),
        format!(
            "{} line(s), {} item(s) asked",
            invoice.lines.len(),
            expected.len()
        ),
    ));
    let Some(first) = expected.first() else {
        return checks;
    };
    if invoice.lines.is_empty() {
        return checks;
    }
    for (expectation, line) in expected.iter().zip(lines_for(invoice, expected, rules)) {
        match line {
            Some(line) => check_line(
                &mut checks,
                invoice,
                line,
                expectation,
                expected.len() > 1,
                rules,
            ),
            None => checks.push(Check::new(
                CheckName::Product,
                false,
                format!("no line names {:?}", expectation.product_title),
            )),
        }
    }
    check_sums_and_mandate(&mut checks, invoice, first, mandate);
    checks
}

/// The invoice line for each expected item: the only line of a one-item
/// invoice; in a basket, a line of its own that names the product,
/// preferring one in the colour and size asked.
fn lines_for<'i>(
    invoice: &'i Invoice,
    expected: &[Expectation],
    rules: &CompiledRules,
) -> Vec<Option<&'i InvoiceLine>> {
    if expected.len() == 1 {
        return vec![invoice.lines.first()];
    }
    let mut used = vec![false; invoice.lines.len()];
    expected
        .iter()
        .map(|expectation| {
            let naming: Vec<usize> = (0..invoice.lines.len())
                .filter(|&i| {
                    !used[i]
                        && names_product(rules, &invoice.lines[i].title, &expectation.product_title)
                })
                .collect();
            let variant_fits = |i: &usize| {
                let line = &invoice.lines[*i];
                let color_ok = expectation.color.as_ref().is_none_or(|color| {
                    colors_stated(rules, &line.title, &line.subtitle, color).contains(color)
                });
                let size_ok = expectation.size.as_ref().is_none_or(|size| {
                    sizes_stated_for(rules, &line.title, &line.subtitle, size)
                        .iter()
                        .any(|s| sizes_match(s, size))
                });
                color_ok && size_ok
            };
            let index = naming
                .iter()
                .copied()
                .find(variant_fits)
                .or_else(|| naming.first().copied())?;
            used[index] = true;
            Some(&invoice.lines[index])
        })
        .collect()
}

/// The checks of one line against one expected item. In a basket each
/// detail names the item.
fn check_line(
    checks: &mut Vec<Check>,
    invoice: &Invoice,
    line: &InvoiceLine,
    expected: &Expectation,
    in_basket: bool,
    rules: &CompiledRules,
) {
    let mut push = |name: CheckName, passed: bool, detail: String| {
        let detail = if in_basket {
            format!("{}: {detail}", expected.product_title)
        } else {
            detail
        };
        checks.push(Check::new(name, passed, detail));
    };
    let product_ok = names_product(rules, &line.title, &expected.product_title);
    push(
        CheckName::Product,
        product_ok,
        format!("{:?}, asked for {:?}", line.title, expected.product_title),
    );
    if let Some(color) = &expected.color {
        let found = colors_stated(rules, &line.title, &line.subtitle, color);
        let ok = found.iter().any(|c| c == color) && found.iter().all(|c| c == color);
        push(
            CheckName::Colour,
            ok,
            format!("invoice says {}, asked {color}", list_or_none(&found)),
        );
    }
    if let Some(size) = &expected.size {
        let found = sizes_stated_for(rules, &line.title, &line.subtitle, size);
        let ok = found.iter().any(|s| sizes_match(s, size))
            && found.iter().all(|s| sizes_match(s, size));
        push(
            CheckName::Size,
            ok,
            format!("invoice says {}, asked {size}", list_or_none(&found)),
        );
    }
    push(
        CheckName::Quantity,
        line.quantity == expected.quantity,
        format!("{} ordered, asked {}", line.quantity, expected.quantity),
    );
    push(
        CheckName::UnitPrice,
        line.unit_price <= expected.listed_unit_price,
        format!(
            "{} each, catalog lists {}",
            invoice.money(line.unit_price),
            invoice.money(expected.listed_unit_price)
        ),
    );
}

/// The checks made once per invoice: its arithmetic, its currency, and the
/// mandate (budget, merchant, expiry).
fn check_sums_and_mandate(
    checks: &mut Vec<Check>,
    invoice: &Invoice,
    expected: &Expectation,
    mandate: &Mandate,
) {
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
    let bytes = text.as_bytes();
    let mut pieces = Vec::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        let separator = match c {
            '/' | ';' | '|' | '·' | '•' | '—' | '–' | '(' | ')' | '\n' | ':' => true,
            // A comma between digits is a decimal or thousands mark.
            ',' => {
                !(at > 0
                    && bytes[at - 1].is_ascii_digit()
                    && bytes.get(at + 1).is_some_and(u8::is_ascii_digit))
            }
            _ => false,
        };
        if separator {
            pieces.push(&text[start..at]);
            start = at + c.len_utf8();
        }
    }
    pieces.push(&text[start..]);
    pieces
        .into_iter()
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
        return Some(rules.canonical_color(part));
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

/// The colour phrases in `text` as written there ("Heather Grey"), longest
/// first where they overlap, in text order.
fn color_phrases_as_written(rules: &CompiledRules, text: &str) -> Vec<String> {
    let mut spans: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                spans.push((from, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        spans.push((from, text.len()));
    }
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut covered = vec![false; spans.len()];
    for n in (1..=3).rev() {
        for first in 0..spans.len().saturating_sub(n - 1) {
            if covered[first..first + n].iter().any(|c| *c) {
                continue;
            }
            let phrase = spans[first..first + n]
                .iter()
                .map(|&(a, b)| text[a..b].to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            if rules.lexicon.canonical(LexSlot::Color, &phrase).is_some() {
                covered[first..first + n].iter_mut().for_each(|c| *c = true);
                found.push((
                    spans[first].0,
                    text[spans[first].0..spans[first + n - 1].1].to_string(),
                ));
            }
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, phrase)| phrase).collect()
}

/// The colour and size an item description states, as written ("Heather
/// Grey / M"): for the receipt of an offer made in words. The colour and
/// size asked count where their own words appear, though the lexicon may
/// not know them ("Clear", "Double").
pub fn variant_words(
    rules: &CompiledRules,
    text: &str,
    asked_color: Option<&str>,
    asked_size: Option<&str>,
) -> String {
    let mut words: Vec<String> = Vec::new();
    let text_parts = parts(text);
    let lower = lowercase_same_lengths(text);
    let written = |asked: &str| -> Option<String> {
        let asked = lowercase_same_lengths(asked.trim());
        let at = *whole_phrase_positions(&lower, &asked).first()?;
        Some(text[at..at + asked.len()].to_string())
    };
    if let Some(color) = text_parts.iter().find(|p| color_of(rules, p).is_some()) {
        words.push(color.to_string());
    } else if let Some(color) = color_phrases_as_written(rules, text).into_iter().next() {
        words.push(color);
    } else if let Some(color) = asked_color.and_then(written) {
        words.push(color);
    }
    static SIZE_WORD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = SIZE_WORD.get_or_init(|| {
        regex::Regex::new(r"(?i)\bsize\s*:?\s*((?:(?:US|EU|UK|IT|FR)\s?)?[A-Za-z0-9][\w.]*)")
            .expect("fixed pattern compiles")
    });
    let size = asked_size
        .and_then(written)
        .or_else(|| {
            pattern
                .captures(text)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str().trim_end_matches(['.', '!', '?']).to_string())
                .filter(|size| size_of(rules, size).is_some())
        })
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

/// `text` lower-cased character by character where that keeps the
/// character's length in bytes, so that a position found in it is the same
/// position in `text` ("Ⱥ" lower-cases to a longer "ⱥ", "İ" to two
/// characters: both stay as they are).
fn lowercase_same_lengths(text: &str) -> String {
    text.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) if l.len_utf8() == c.len_utf8() => l,
                _ => c,
            }
        })
        .collect()
}

/// Where `phrase` (two characters or more) stands in `text` as a whole:
/// not inside a word, and not the start of a decimal ("US 9" is not in
/// "US 9.5"). Both lowercase.
fn whole_phrase_positions(text: &str, phrase: &str) -> Vec<usize> {
    if phrase.chars().count() < 2 {
        return Vec::new();
    }
    text.match_indices(phrase)
        .map(|(at, _)| at)
        .filter(|&at| {
            let before = text[..at].chars().last();
            let mut after = text[at + phrase.len()..].chars();
            let next = after.next();
            let decimal =
                matches!(next, Some('.' | ',')) && after.next().is_some_and(|c| c.is_ascii_digit());
            !before.is_some_and(char::is_alphanumeric)
                && !next.is_some_and(char::is_alphanumeric)
                && !decimal
        })
        .collect()
}

/// The sizes an invoice line states, where the size asked may be one the
/// lexicon does not know ("Double", "6-12M", "39/40"): written as asked, it
/// counts, and the other sizes are those stated outside it.
fn sizes_stated_for(
    rules: &CompiledRules,
    title: &str,
    subtitle: &str,
    asked: &str,
) -> Vec<String> {
    let described = format!("{title} · {subtitle}");
    // Positions in `lower` cut `described`: they must be the same.
    let lower = lowercase_same_lengths(&described);
    let asked_lower = lowercase_same_lengths(asked.trim());
    let whole_word = |at: usize| {
        let before = lower[..at].chars().last();
        let mut after = lower[at + asked_lower.len()..].chars();
        let next = after.next();
        // "US 9" is not in "US 9.5".
        let decimal =
            matches!(next, Some('.' | ',')) && after.next().is_some_and(|c| c.is_ascii_digit());
        !before.is_some_and(char::is_alphanumeric)
            && !next.is_some_and(char::is_alphanumeric)
            && !decimal
    };
    let positions: Vec<usize> = if asked_lower.chars().count() >= 2 {
        lower
            .match_indices(&asked_lower)
            .map(|(at, _)| at)
            .filter(|&at| whole_word(at))
            .collect()
    } else {
        Vec::new()
    };
    if positions.is_empty() {
        return sizes_stated(rules, title, subtitle);
    }
    let mut rest = String::with_capacity(described.len());
    let mut from = 0;
    for at in positions {
        rest.push_str(&described[from..at]);
        rest.push_str(" · ");
        from = at + asked_lower.len();
    }
    rest.push_str(&described[from..]);
    let mut found = vec![asked.to_string()];
    for size in sizes_stated(rules, &rest, "") {
        if !found.iter().any(|f| sizes_match(f, &size)) {
            found.push(size);
        }
    }
    found
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
                    push(&mut found, rules.canonical_size(&phrase));
                }
            }
        }
    }
    found
}

/// The size a part names, when it is only a size: a lexicon size ("M",
/// "medium"), a measure ("13 Gallon"), a number with or without its system
/// ("9", "US 9", "EU 39.5"), waist and length ("W32 L30", "32x30"), "One
/// Size".
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
        return Some(rules.canonical_size(part));
    }
    // A measure ("13 Gallon", "6 ft", "64GB").
    if let Some(measure) = crate::rules::measure::canonical(part) {
        return Some(measure);
    }
    shape.is_match(part).then(|| rules.canonical_size(part))
}

/// Whether `text` is only a size ("M", "UK 8", "32x30", "One Size").
pub fn looks_like_size(rules: &CompiledRules, text: &str) -> bool {
    size_of(rules, text).is_some()
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
    // A word counts as shared as many times as both titles have it, so
    // that which of two titles as long is taken as the shorter does not
    // change the answer ("cable" twice in one, once in the other).
    let mut unshared: Vec<&String> = long.iter().collect();
    let shared = short
        .iter()
        .filter(|word| match unshared.iter().position(|w| w == word) {
            Some(at) => {
                unshared.swap_remove(at);
                true
            }
            None => false,
        })
        .count();
    shared * 10 >= short.len() * 8
}

/// Whether an invoice line names the product asked for: most words of the
/// shorter title are in the longer ([`same_product`]); of a title of four
/// words or more, one may be missing ("Wooden Train Set" for "Kids' Wooden
/// Train Set") when the line names no other kind of product ("Merino
/// Turtleneck Sweater" is not a "Merino Crew Sweater"). Different model
/// codes never match ("Clara BW" for "Clara 2E").
pub fn names_product(rules: &CompiledRules, line_title: &str, expected_title: &str) -> bool {
    if model_codes_conflict(line_title, expected_title) {
        return false;
    }
    if same_product(line_title, expected_title) {
        return true;
    }
    let expected = title_words(expected_title);
    let offered = title_words(line_title);
    if expected.len() < 4 || expected.len() > offered.len() {
        return false;
    }
    let missing: Vec<usize> = (0..expected.len())
        .filter(|&i| !offered.contains(&expected[i]))
        .collect();
    if missing.len() > 1 {
        return false;
    }
    // A word replaced, not dropped: "Merino V-Neck Sweater" for "Merino Crew
    // Neck Sweater" has another word where "crew" should be.
    if let Some(&at) = missing.first() {
        if at > 0 && at + 1 < expected.len() {
            let before = offered.iter().position(|w| *w == expected[at - 1]);
            let after = offered.iter().position(|w| *w == expected[at + 1]);
            if let (Some(before), Some(after)) = (before, after) {
                if after != before + 1 {
                    return false;
                }
            }
        }
    }
    // Another kind of product named in the line: a different product.
    let lower = line_title.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let expected_lower = expected_title.to_lowercase();
    let other_kind = (1..=2).any(|n| {
        words.windows(n).any(|window| {
            let phrase = window.join(" ");
            rules.lexicon.canonical(LexSlot::Product, &phrase).is_some()
                && !expected_lower.contains(&phrase)
                && !title_words(&phrase).iter().all(|w| expected.contains(w))
        })
    });
    !other_kind
}

/// Whether two titles name different models: the expected title has model
/// codes ("2E", "15", "XR500") and the invoice's title has codes too, none
/// of them the same ("Kobo Clara BW" for "Kobo Clara 2E").
fn model_codes_conflict(invoice_title: &str, expected_title: &str) -> bool {
    fn codes(text: &str) -> Vec<String> {
        const UNITS: [&str; 12] = [
            "ml", "l", "g", "kg", "oz", "lb", "cm", "mm", "m", "gb", "tb", "w",
        ];
        let words: Vec<&str> = text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let mut found = Vec::new();
        for (index, word) in words.iter().enumerate() {
            let has_digit = word.chars().any(|c| c.is_ascii_digit());
            let has_letter = word.chars().any(char::is_alphabetic);
            let capitals =
                word.len() >= 2 && word.len() <= 4 && word.chars().all(|c| c.is_ascii_uppercase());
            let measure = !has_letter
                && words
                    .get(index + 1)
                    .is_some_and(|next| UNITS.contains(&next.to_lowercase().as_str()))
                || (has_digit
                    && has_letter
                    && UNITS.iter().any(|unit| {
                        word.to_lowercase()
                            .strip_suffix(unit)
                            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
                    }));
            if (has_digit || capitals) && !measure {
                found.push(word.to_lowercase());
            }
        }
        found
    }
    let expected = codes(expected_title);
    let offered = codes(invoice_title);
    let codes_differ = !expected.is_empty()
        && !offered.is_empty()
        && !expected.iter().any(|code| offered.contains(code));
    // Measures of the same unit that differ: "45W" for "65W", "500 ml"
    // for "750 ml".
    let expected_measures = measures(expected_title);
    let offered_measures = measures(invoice_title);
    let measures_differ = expected_measures.iter().any(|(unit, value)| {
        offered_measures.iter().any(|(u, _)| u == unit)
            && !offered_measures
                .iter()
                .any(|(u, v)| u == unit && v == value)
    });
    codes_differ || measures_differ
}

/// "750 ml", "65W", "1.7 L" → (unit, number), lowercase.
fn measures(text: &str) -> Vec<(String, String)> {
    static MEASURE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = MEASURE.get_or_init(|| {
        regex::Regex::new(
            r"(?i)\b(\d+(?:[.,]\d+)?)\s?(ml|l|g|kg|oz|lb|cm|mm|gb|tb|w|mah|inch|in)\b",
        )
        .expect("fixed pattern compiles")
    });
    pattern
        .captures_iter(text)
        .filter_map(|c| {
            Some((
                c.get(2)?.as_str().to_lowercase(),
                c.get(1)?.as_str().replace(',', "."),
            ))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(title: &str, subtitle: &str, quantity: u32, unit_price: i64) -> InvoiceLine {
        InvoiceLine {
            title: title.into(),
            subtitle: subtitle.into(),
            quantity,
            unit_price,
        }
    }

    fn invoice(lines: Vec<InvoiceLine>, shipping: i64) -> Invoice {
        let subtotal: i64 = lines
            .iter()
            .map(|l| l.unit_price * i64::from(l.quantity))
            .sum();
        Invoice {
            merchant_id: "alpha".into(),
            order_number: "A-1".into(),
            currency: "USD".into(),
            lines,
            subtotal: Some(subtotal),
            shipping,
            tax: 0,
            adjustments: 0,
            total: subtotal + shipping,
        }
    }

    fn expect(title: &str, color: &str, size: &str, quantity: u32, price: i64) -> Expectation {
        Expectation {
            merchant_id: "alpha".into(),
            product_title: title.into(),
            color: Some(color.into()),
            size: Some(size.into()),
            quantity,
            listed_unit_price: price,
        }
    }

    /// The names of the failed checks, with the item they are about.
    fn failed(invoice: &Invoice, expected: &[Expectation]) -> Vec<String> {
        let rules = CompiledRules::embedded().unwrap();
        let mandate = Mandate::for_request(Some(7000), "USD", 600);
        check_order(invoice, expected, &mandate, &rules)
            .into_iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect()
    }

    #[test]
    fn a_basket_invoice_is_checked_line_by_line() {
        let basket = [
            expect("Classic Turtleneck Sweater", "gray", "M", 1, 4500),
            expect("Wool Socks", "black", "L", 2, 900),
        ];
        let sweater = line("Classic Turtleneck Sweater", "Gray / M", 1, 4500);
        let socks = line("Wool Socks", "Black / L", 2, 900);
        // (case, invoice lines, failed checks)
        let cases: Vec<(&str, Vec<InvoiceLine>, Vec<&str>)> = vec![
            ("as asked", vec![sweater.clone(), socks.clone()], vec![]),
            (
                "in another order",
                vec![socks.clone(), sweater.clone()],
                vec![],
            ),
            (
                "an item missing",
                vec![sweater.clone()],
                vec![
                    "item lines: 1 line(s), 2 item(s) asked",
                    "product: no line names \"Wool Socks\"",
                ],
            ),
            (
                "an item added",
                vec![sweater.clone(), socks.clone(), line("Gift Box", "", 1, 0)],
                vec!["item lines: 3 line(s), 2 item(s) asked"],
            ),
            (
                "the second item in the wrong colour",
                vec![sweater.clone(), line("Wool Socks", "Gray / L", 2, 900)],
                vec!["colour: Wool Socks: invoice says gray, asked black"],
            ),
            (
                "one item twice, the other missing",
                vec![sweater.clone(), sweater.clone()],
                vec![
                    "product: no line names \"Wool Socks\"",
                    "within budget: total $94.00 vs budget $70.00",
                ],
            ),
            (
                "a dearer unit price",
                vec![sweater.clone(), line("Wool Socks", "Black / L", 2, 1000)],
                vec!["unit price: Wool Socks: $10.00 each, catalog lists $9.00"],
            ),
        ];
        for (case, lines, expected) in cases {
            assert_eq!(failed(&invoice(lines, 400), &basket), expected, "{case}");
        }
        // Over the budget: refused as a whole.
        let dear = invoice(vec![sweater, socks], 1000);
        assert_eq!(
            failed(&dear, &basket),
            vec!["within budget: total $73.00 vs budget $70.00"]
        );
    }
}
