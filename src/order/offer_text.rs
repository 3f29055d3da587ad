//! Offers and invoices written in words, read into the same [`Invoice`] a
//! receipt template gives, so they are checked the same way before Concierge
//! agrees to anything:
//!
//! ```text
//! Great choice! 1 x Merino Crew Sweater in Heather Grey, size M: $42.00 + $5.99 shipping = $47.99 total.
//!
//! Order summary:
//! - Item: Insulated Water Bottle
//! - Qty: 2 @ $19.50
//! - Shipping: $4.00
//! - Total: $43.00
//! ```
//!
//! Every money amount is found (`$42`, `£24.99`, `57,60 €`, `EUR 45,00`,
//! `45.00 USD`) and labelled by the words next to it: total, subtotal,
//! shipping, tax, discount, or an item's price (each, `@`, `N ×`). Item
//! prices on separate lines are separate invoice lines. Where the text
//! leaves something open ("shipping calculated at checkout", no total), the
//! reading says so and the offer cannot be agreed to.
//!
//! This module only reads; [`crate::order::check_invoice`] judges.

use super::invoice::{Invoice, InvoiceLine};
use crate::money::parse_decimal_minor;
use crate::rules::CompiledRules;
use regex::Regex;
use std::sync::OnceLock;

/// What an offer written in words says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextOffer {
    pub lines: Vec<OfferLine>,
    pub subtotal: Option<i64>,
    /// `Some(0)` when shipping is said to be free; `None` when not stated.
    pub shipping: Option<i64>,
    pub tax: Option<i64>,
    /// Taken off the total (a positive amount).
    pub discount: Option<i64>,
    /// Added to the total besides shipping and tax (handling, service
    /// fees).
    pub fees: Option<i64>,
    pub total: Option<i64>,
    /// ISO code of the amounts; `None` when they disagree.
    pub currency: Option<String>,
    pub order_number: Option<String>,
    /// Charges the text leaves for later ("shipping calculated at checkout").
    pub open_charges: Vec<String>,
    /// The item line was worked out from the subtotal or total: the text
    /// names no item price of its own.
    pub derived_lines: bool,
}

/// One item of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferLine {
    /// The words of the line the item is on (its name and options).
    pub text: String,
    pub quantity: u32,
    /// Minor units per item.
    pub unit_price: i64,
}

/// What a money amount in the text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    Total,
    Subtotal,
    Shipping,
    Tax,
    Discount,
    /// A handling or service fee.
    Fee,
    /// An item's price per unit ("each", "@", "à", "N ×").
    Unit,
    /// An item's price, per unit or for the line: the arithmetic decides.
    Price,
    /// A condition, not a charge ("free shipping over $50").
    Condition,
}

/// One amount found in the text.
#[derive(Debug, Clone)]
struct Amount {
    start: usize,
    end: usize,
    minor: i64,
    currency: String,
    label: Label,
    /// The text line it is on (0-based).
    line: usize,
    /// "N ×" just before it: the quantity of its item.
    quantity: Option<u32>,
    /// It follows "=": a result.
    after_equals: bool,
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("fixed pattern compiles"))
}

/// "1,234.56", "1.234,56", "57,60", "45" → minor units.
fn parse_number(text: &str) -> Option<i64> {
    let cleaned: String = text
        .chars()
        .filter(|c| !matches!(c, '\u{a0}' | '\u{202f}'))
        .collect();
    let last_separator = cleaned.rfind([',', '.']);
    let normalised = match last_separator {
        // A separator followed by one or two digits is the decimal one.
        Some(at) if cleaned.len() - at - 1 <= 2 => {
            let (whole, fraction) = cleaned.split_at(at);
            let whole: String = whole.chars().filter(char::is_ascii_digit).collect();
            format!("{whole}.{}", &fraction[1..])
        }
        _ => cleaned.chars().filter(char::is_ascii_digit).collect(),
    };
    parse_decimal_minor(&normalised)
}

/// The label of an amount from the words around it: the nearest keyword
/// before it on its line (since the previous amount), else right after it.
fn label_for(before: &str, after: &str) -> Label {
    static KEYWORDS: OnceLock<Vec<(Regex, Label)>> = OnceLock::new();
    let keywords = KEYWORDS.get_or_init(|| {
        [
            (r"(?i)\b(?:sub-?total|zwischensumme|sous-total|items? total|merchandise)\b", Label::Subtotal),
            (r"(?i)\b(?:grand total|total|gesamt\w*|totale?|totaal|summe|amount due|to pay|you pay|comes to|altogether|in all|all in|all-in|insgesamt)\b", Label::Total),
            (r"(?i)\b(?:shipping|shiping|ship|delivery|deliv|postage|post|posting|p\s?&\s?p|versand|livraison|env[ií]o|spedizione|frete|porto|verzending|verzendkosten|wysyłka|courier|freight|carriage|tracked|royal mail|usps|ups|dhl|fedex|ems|inpost|canada post|australia post)\b", Label::Shipping),
            (r"(?i)\b(?:tax|taxes|vat|gst|hst|pst|mwst|tva|iva)\b", Label::Tax),
            (r"(?i)\b(?:handling|service (?:fee|charge)|fees?|surcharge|packaging|processing)\b", Label::Fee),
            (r"(?i)\b(?:discount|coupon|promo|voucher|saving|savings|rabatt|remise|descuento|sconto|off)\b", Label::Discount),
            (r"(?i)(?:\b(?:each|ea|per|apiece|pro st(?:ü|u)ck|la pi[eè]ce|st(?:ü|u)ck)\b|@|\bà\b|\bat\b\s*$|(?:^|\s)[x×*]\s*$)", Label::Unit),
            (r"(?i)\b(?:price|preis|prix|precio|costs?|is|for)\b", Label::Price),
        ]
        .into_iter()
        .map(|(pattern, label)| (Regex::new(pattern).expect("fixed pattern compiles"), label))
        .collect()
    });
    static CONDITION: OnceLock<Regex> = OnceLock::new();
    let condition = regex(
        &CONDITION,
        r"(?i)\b(?:over|above|orders? (?:of|from)|spend|min(?:imum)?|threshold|more than|less than|under|up to|saves? you|was|instead of|regular(?:ly)?|rrp|msrp)\s*$",
    );
    if condition.is_match(before) {
        return Label::Condition;
    }
    // Before the amount: the keyword closest to it; "price", "is" and the
    // like only when nothing more telling is there.
    let mut best: Option<(usize, Label)> = None;
    for (pattern, label) in keywords {
        if *label == Label::Price && best.is_some() {
            continue;
        }
        if let Some(found) = pattern.find_iter(before).last() {
            if best.is_none_or(|(end, _)| found.end() > end) {
                best = Some((found.end(), *label));
            }
        }
    }
    // Words right after the amount ("$5.99 shipping", "$19.50 each") win
    // over a keyword far before it.
    static CLAUSE: OnceLock<Regex> = OnceLock::new();
    let clause = regex(
        &CLAUSE,
        r"(?i)\b(?:and|with|plus|but|so|then|which|that|if)\b",
    );
    let first_term = after
        .split(['+', '=', '\n', ';', '|', '.', ',', '(', '—', '–', '·', '•'])
        .next()
        .unwrap_or("");
    let first_term = clause.split(first_term).next().unwrap_or("");
    let after_words: String = first_term.chars().take(24).collect();
    for (pattern, label) in keywords {
        if *label == Label::Price {
            continue;
        }
        if let Some(found) = pattern.find(&after_words) {
            let near_before = best.is_some_and(|(end, _)| before.len() - end <= 3);
            if found.start() <= 20 && !near_before {
                return *label;
            }
        }
    }
    best.map(|(_, label)| label).unwrap_or(Label::Price)
}

/// "N x" / "N ×" / "Qty: N" / "Quantity N" right before an amount or at
/// its line's start.
fn quantity_before(before: &str) -> Option<u32> {
    static TIMES: OnceLock<Regex> = OnceLock::new();
    static QTY: OnceLock<Regex> = OnceLock::new();
    let times = regex(
        &TIMES,
        r"(?i)(?:^|[^\w.,])(\d{1,3})\s?[x×*]\s*(?:[^\d\s][^\n]*)?$",
    );
    let qty = regex(
        &QTY,
        r"(?i)\b(?:qty|quantity|menge|quantité)\s*[:.]?\s*(\d{1,3})\b",
    );
    if let Some(caps) = qty.captures_iter(before).last() {
        return caps.get(1)?.as_str().parse().ok().filter(|n| *n > 0);
    }
    times
        .captures(before)
        .and_then(|c| c.get(1))
        .and_then(|m| m.as_str().parse().ok())
        .filter(|n| *n > 0)
}

/// Phrases that leave a charge for later: the total is not final.
fn open_charge_pattern() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    regex(
        &CELL,
        r"(?i)\b(?:shipping|delivery|postage|tax|taxes|vat|fees?)\b[^.\n]{0,40}\b(?:calculated|at checkout|at payment|shown at|depends?|depending|to be confirmed|tbc|extra|not included|excl\w*|varies|quoted separately)\b|\b(?:plus|\+)\s*(?:shipping|delivery|postage|tax|taxes|vat)\b(?:\s*(?:&|and)\s*(?:shipping|tax|taxes|vat))?(?:[^\d$€£\n]{0,20}$|[^\d$€£\n]{0,20}[.!?\n])",
    )
}

fn free_shipping_pattern() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    regex(
        &CELL,
        r"(?i)\bfree\s+(?:\w+\s+)?(?:shipping|delivery|postage)\b|\b(?:shipping|delivery|postage|versand|livraison)(?:'s|’s)?\s*[:\-–—]?\s*(?:is\s+)?(?:free|gratis|kostenlos|gratuite?|offert|0[.,]00|included)\b|\bships free\b",
    )
}

fn order_number_pattern() -> &'static Regex {
    static CELL: OnceLock<Regex> = OnceLock::new();
    regex(
        &CELL,
        r"(?i)\b(?:order|invoice|ref(?:erence)?|quote)\s*(?:number|no\.?|nr\.?|#|id)?\s*[:#]?\s*#?([A-Z0-9](?:[A-Z0-9-]*\d)[A-Z0-9-]*)\b",
    )
}

/// The order number a merchant's message names ("Your order #1043 is
/// confirmed", "Order no. AB-2291"), if any.
pub fn order_number_in(text: &str) -> Option<String> {
    order_number_pattern()
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
}

/// Reads every amount of `text`, labelled. A symbol several currencies
/// use is read as `expected` when it may be that one.
fn amounts(text: &str, rules: &CompiledRules, expected: Option<&str>) -> Vec<Amount> {
    let mut found: Vec<Amount> = Vec::new();
    for caps in rules.merchant_money_pattern().captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        let number = caps.name("num1").or_else(|| caps.name("num2"));
        let symbol = caps.name("pre").or_else(|| caps.name("post"));
        let (Some(number), Some(symbol)) = (number, symbol) else {
            continue;
        };
        // "9.5 $104.99": a symbol followed by a digit starts the next
        // amount, it does not end this number.
        if caps.name("post").is_some()
            && text[whole.end()..].starts_with(|c: char| c.is_ascii_digit())
        {
            continue;
        }
        let Some(minor) = parse_number(number.as_str()) else {
            continue;
        };
        let Some(mut currency) = rules.currency_for(symbol.as_str(), expected) else {
            continue;
        };
        // "$52.00 CAD": a code after the amount says which dollar.
        let mut end = whole.end();
        if caps.name("pre").is_some() {
            let rest = &text[end..];
            let code: String = rest
                .trim_start_matches([' ', '\u{a0}'])
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            if code.len() == 3 {
                if let Some(named) = rules.currency_for(&code, None) {
                    currency = named;
                    end += rest.len() - rest.trim_start_matches([' ', '\u{a0}']).len() + 3;
                }
            }
        }
        found.push(Amount {
            start: whole.start(),
            end,
            minor,
            currency,
            label: Label::Price,
            line: text[..whole.start()].matches('\n').count(),
            quantity: None,
            after_equals: false,
        });
    }
    add_bare_amounts(text, &mut found);
    for index in 0..found.len() {
        let line_start = text[..found[index].start]
            .rfind('\n')
            .map_or(0, |at| at + 1);
        let previous_end = if index > 0 && found[index - 1].line == found[index].line {
            found[index - 1].end
        } else {
            line_start
        };
        let line_end = text[found[index].end..]
            .find('\n')
            .map_or(text.len(), |at| found[index].end + at);
        let next_start = found
            .get(index + 1)
            .filter(|next| next.line == found[index].line)
            .map_or(line_end, |next| next.start);
        let before = &text[previous_end..found[index].start];
        let after = &text[found[index].end..next_start];
        // After another amount on the line, "+" and "=" start a new term:
        // in "$42 + $5.99 shipping = $47.99 total" the words before "=" are
        // the previous amount's.
        let own_words = if previous_end > line_start {
            before
                .rfind(['+', '=', ','])
                .map_or(before, |at| &before[at + 1..])
        } else {
            before
        };
        let mut label = label_for(own_words, after);
        // "-$6.40" or "−6,40 €": taken off.
        if before.trim_end().ends_with(['-', '−']) && label != Label::Total {
            label = Label::Discount;
        }
        found[index].label = label;
        found[index].after_equals = before.trim_end().ends_with('=');
        found[index].quantity = quantity_before(&text[line_start..found[index].start]);
    }
    found
}

/// Numbers written without a currency in a sum whose other amounts have
/// one ("350 + 100 ship = 450 php", "price is 15.99 plus shipping 3.50 so
/// total 19.49 usd"): amounts in that currency. A number counts only next
/// to an operator or a money word, never before a unit ("750 ml").
fn add_bare_amounts(text: &str, found: &mut Vec<Amount>) {
    static NUMBER: OnceLock<Regex> = OnceLock::new();
    static BEFORE: OnceLock<Regex> = OnceLock::new();
    static AFTER: OnceLock<Regex> = OnceLock::new();
    let number = regex(
        &NUMBER,
        r"\d{1,3}(?:[,.]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?",
    );
    let before = regex(
        &BEFORE,
        r"(?i)(?:[+=@]|\b(?:plus|is|price|total|costs?|ship\w*|delivery|postage|tax|subtotal)\s*:?)\s*$",
    );
    let after = regex(&AFTER, r"^\s*(?:[+=]\s*[\d$€£¥₹₱₦]|\bplus\b)");
    let Some(currency) = found.first().map(|a| a.currency.clone()) else {
        return;
    };
    let mut extra = Vec::new();
    for candidate in number.find_iter(text) {
        let (start, end) = (candidate.start(), candidate.end());
        if found.iter().any(|a| start < a.end && end > a.start) {
            continue;
        }
        // Part of a word or code ("1pc", "XL2", "2E"), a percentage, a
        // measure, a quantity ("2 x") or a size ("US 9").
        let previous = text[..start].chars().last();
        let next = text[end..].chars().next();
        if previous
            .is_some_and(|c| c.is_alphanumeric() || c == '#' || c == '-' || c == '.' || c == ',')
            || next.is_some_and(|c| c.is_alphanumeric() || c == '%' || c == '"' || c == '\'')
        {
            continue;
        }
        let rest = text[end..].trim_start();
        if rest.starts_with(['x', 'X', '×']) {
            continue;
        }
        let next_word: String = rest
            .chars()
            .take_while(|c| c.is_alphabetic())
            .collect::<String>()
            .to_lowercase();
        if [
            "ml", "l", "g", "kg", "oz", "lb", "lbs", "cm", "mm", "m", "in", "inch", "gb", "tb",
            "w", "pcs", "pc", "pieces", "piece", "units", "pack", "pairs",
        ]
        .contains(&next_word.as_str())
        {
            continue;
        }
        if !(before.is_match(&text[..start]) || after.is_match(&text[end..])) {
            continue;
        }
        let Some(minor) = parse_number(candidate.as_str()) else {
            continue;
        };
        extra.push(Amount {
            start,
            end,
            minor,
            currency: currency.clone(),
            label: Label::Price,
            line: text[..start].matches('\n').count(),
            quantity: None,
            after_equals: false,
        });
    }
    found.extend(extra);
    found.sort_by_key(|a| a.start);
}

/// Reads an offer written in words. `None` when `text` names no amount.
/// `expected` is the merchant's currency, for symbols several currencies
/// share ("$", "kr", "¥").
pub fn read_offer(text: &str, rules: &CompiledRules, expected: Option<&str>) -> Option<TextOffer> {
    let amounts = amounts(text, rules, expected);
    if amounts.is_empty() {
        return None;
    }
    let mut offer = TextOffer::default();
    // A condition ("free over $35") may be written loosely; the charges
    // must all be in one currency.
    let currencies: Vec<&str> = amounts
        .iter()
        .filter(|a| a.label != Label::Condition)
        .map(|a| a.currency.as_str())
        .collect();
    offer.currency = currencies
        .first()
        .filter(|first| currencies.iter().all(|c| c == *first))
        .map(|first| first.to_string());
    offer.order_number = order_number_pattern()
        .captures(text)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string());
    if free_shipping_pattern().is_match(text) {
        offer.shipping = Some(0);
    }
    for found in open_charge_pattern().find_iter(text) {
        offer.open_charges.push(found.as_str().trim().to_string());
    }

    // Labelled amounts; the last of each label counts (a summary restates).
    let mut items: Vec<&Amount> = Vec::new();
    for amount in &amounts {
        match amount.label {
            Label::Total => offer.total = Some(amount.minor),
            Label::Subtotal => offer.subtotal = Some(amount.minor),
            Label::Shipping => offer.shipping = Some(amount.minor),
            Label::Tax => offer.tax = Some(offer.tax.unwrap_or(0) + amount.minor),
            Label::Discount => offer.discount = Some(offer.discount.unwrap_or(0) + amount.minor),
            Label::Fee => offer.fees = Some(offer.fees.unwrap_or(0) + amount.minor),
            Label::Unit | Label::Price => items.push(amount),
            Label::Condition => {}
        }
    }
    // "... = $47.99" with no label: the result is the total, when it is the
    // last amount of the text.
    if offer.total.is_none() {
        if let Some(last) = items.last().filter(|a| a.after_equals).copied() {
            let last_line_has_item = items
                .iter()
                .any(|a| a.line == last.line && a.start < last.start);
            let is_last = amounts.last().is_some_and(|a| a.start == last.start);
            if is_last && (!last_line_has_item || items.len() == 2 || amounts.len() > 2) {
                offer.total = Some(last.minor);
                items.pop();
            }
        }
    }
    offer.derived_lines = items.is_empty();
    offer.lines = item_lines(text, &items, &offer, rules);
    Some(offer)
}

/// The items: one per text line with an item price. On a line, "N × A =
/// B" is N at A; a lone price is per unit or for the line, whichever makes
/// the arithmetic work.
fn item_lines(
    text: &str,
    items: &[&Amount],
    offer: &TextOffer,
    rules: &CompiledRules,
) -> Vec<OfferLine> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut by_line: Vec<(usize, Vec<&Amount>)> = Vec::new();
    for amount in items {
        match by_line.last_mut() {
            Some((line, group)) if *line == amount.line => group.push(amount),
            _ => by_line.push((amount.line, vec![amount])),
        }
    }
    let extras = offer.shipping.unwrap_or(0) + offer.tax.unwrap_or(0) + offer.fees.unwrap_or(0)
        - offer.discount.unwrap_or(0);
    let single = by_line.len() == 1;
    let mut result = Vec::new();
    // An item's words start after the previous item's priced line.
    let mut from = 0;
    for (line, group) in by_line {
        let quantity = group
            .iter()
            .find_map(|a| a.quantity)
            .or_else(|| quantity_in_line(lines.get(line).copied().unwrap_or("")));
        let unit = group.iter().find(|a| a.label == Label::Unit);
        let first = group[0];
        let line_text = item_text(text, &lines, from, line, rules);
        from = line + 1;
        let (quantity, unit_price) = match (unit, quantity) {
            (Some(unit), Some(quantity)) => (quantity, unit.minor),
            (Some(unit), None) => {
                // "x 8,90 € = 26,70 €": the result says how many.
                let result = group.iter().find(|a| a.after_equals).map(|a| a.minor);
                match result.filter(|r| unit.minor > 0 && r % unit.minor == 0) {
                    Some(line_total) => ((line_total / unit.minor) as u32, unit.minor),
                    None => (1, unit.minor),
                }
            }
            (None, Some(quantity)) if quantity > 1 => {
                let lines_total = offer
                    .subtotal
                    .or_else(|| single.then(|| offer.total.map(|t| t - extras)).flatten());
                if lines_total == Some(first.minor) && first.minor % i64::from(quantity) == 0 {
                    (quantity, first.minor / i64::from(quantity))
                } else {
                    (quantity, first.minor)
                }
            }
            (None, _) => {
                // No quantity stated: one, unless the arithmetic says the
                // price is per unit of several.
                let lines_total = offer
                    .subtotal
                    .or_else(|| single.then(|| offer.total.map(|t| t - extras)).flatten());
                match lines_total {
                    Some(total)
                        if first.minor > 0 && total > first.minor && total % first.minor == 0 =>
                    {
                        ((total / first.minor) as u32, first.minor)
                    }
                    _ => (1, first.minor),
                }
            }
        };
        result.push(OfferLine {
            text: line_text,
            quantity: quantity.max(1),
            unit_price,
        });
    }
    if result.is_empty() {
        // Only a subtotal (or a total) and charges: one line of the item
        // the text describes.
        if let Some(lines_total) = offer.subtotal.or_else(|| offer.total.map(|t| t - extras)) {
            let quantity = quantity_in_line(text).unwrap_or(1);
            let unit_price = if lines_total % i64::from(quantity) == 0 {
                lines_total / i64::from(quantity)
            } else {
                lines_total
            };
            result.push(OfferLine {
                text: item_text(text, &lines, 0, 0, rules),
                quantity,
                unit_price,
            });
        }
    }
    result
}

/// "Qty: 2", "2 x", "x2" anywhere on a line.
fn quantity_in_line(line: &str) -> Option<u32> {
    if let Some(quantity) = quantity_in_words(line) {
        return Some(quantity);
    }
    static CELL: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(
        &CELL,
        r"(?i)\b(?:qty|quantity|menge|quantité|cantidad)\s*[:.]?\s*(\d{1,3})\b|(?:^|[\s(•\-–—*])(\d{1,3})\s?[x×]\s+\D|\([x×](\d{1,3})\)|\b[x×](\d{1,3})\b|(?:^|[\s•\-–—*.!:])(\d{1,3})\s?(?:pcs?|pieces?|pz|szt|units?|pairs?|bottles?|bags?|boxes|packs?)\s+[^\s),]",
    );
    let caps = pattern.captures(line)?;
    caps.get(1)
        .or_else(|| caps.get(2))
        .or_else(|| caps.get(3))
        .or_else(|| caps.get(4))
        .or_else(|| caps.get(5))?
        .as_str()
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

/// "two of the", "three x": a quantity written as a word.
fn quantity_in_words(line: &str) -> Option<u32> {
    static CELL: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(
        &CELL,
        r"(?i)\b(one|two|three|four|five|six|seven|eight|nine|ten|a pair|a dozen)\s+(?:of\s+(?:the|these|those|them)|x|×|pieces|pcs|units|bottles|bags|packs|boxes|pairs)\b",
    );
    let word = pattern.captures(line)?.get(1)?.as_str().to_lowercase();
    match word.as_str() {
        "a pair" => Some(2),
        "a dozen" => Some(12),
        number => crate::intent::parser::number_word(number),
    }
}

/// The words describing an item: its line, and for a summary whose price
/// line only holds numbers, the lines before it that hold words (the name,
/// the colour and size), from line `from` on (after the previous item).
fn item_text(
    text: &str,
    lines: &[&str],
    from: usize,
    line: usize,
    rules: &CompiledRules,
) -> String {
    if lines.len() <= 1 {
        return text.trim().to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for candidate in lines.iter().take(line + 1).skip(from) {
        let candidate = candidate.trim();
        if candidate.is_empty()
            || rules.merchant_money_pattern().is_match(candidate) && !has_words(candidate, rules)
        {
            continue;
        }
        if label_line(candidate, rules) {
            continue;
        }
        parts.push(candidate);
    }
    if parts.is_empty() {
        return text.trim().to_string();
    }
    parts.join(" · ")
}

/// Whether a line says something besides amounts and labels.
fn has_words(line: &str, rules: &CompiledRules) -> bool {
    let stripped = rules.merchant_money_pattern().replace_all(line, " ");
    stripped
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.len() > 2)
        .any(|w| {
            !matches!(
                w.to_lowercase().as_str(),
                "each" | "price" | "qty" | "quantity" | "subtotal" | "total" | "shipping" | "tax"
            )
        })
}

/// A line that only labels an amount ("Shipping: $4.00", "Total: $43.00").
fn label_line(line: &str, rules: &CompiledRules) -> bool {
    static CELL: OnceLock<Regex> = OnceLock::new();
    let pattern = regex(
        &CELL,
        r"(?i)^\W*(?:sub-?total|total|grand total|shipping|delivery|postage|p&p|tax|vat|discount|coupon|price|qty|quantity|versand|gesamt|next-day delivery|standard shipping)\b[^a-z]*$",
    );
    pattern.is_match(line)
        || (!has_words(line, rules) && rules.merchant_money_pattern().is_match(line))
}

impl TextOffer {
    /// The invoice this offer amounts to, or why it cannot be checked: no
    /// total, charges left for later, amounts in several currencies, no
    /// item price.
    pub fn invoice(&self, merchant_id: &str, fallback_order: &str) -> Result<Invoice, String> {
        if !self.open_charges.is_empty() {
            return Err(format!(
                "the total is not final ({})",
                self.open_charges.join("; ")
            ));
        }
        let Some(total) = self.total else {
            return Err("the offer states no total".into());
        };
        let Some(currency) = &self.currency else {
            return Err("the offer's amounts are in different currencies".into());
        };
        if self.lines.is_empty() {
            return Err("the offer states no item price".into());
        }
        Ok(Invoice {
            merchant_id: merchant_id.to_string(),
            order_number: self
                .order_number
                .clone()
                .unwrap_or_else(|| fallback_order.to_string()),
            currency: currency.clone(),
            lines: self
                .lines
                .iter()
                .map(|line| InvoiceLine {
                    title: line.text.clone(),
                    subtitle: String::new(),
                    quantity: line.quantity,
                    unit_price: line.unit_price,
                })
                .collect(),
            subtotal: self.subtotal,
            shipping: self.shipping.unwrap_or(0),
            tax: self.tax.unwrap_or(0),
            adjustments: self.fees.unwrap_or(0) - self.discount.unwrap_or(0),
            total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> CompiledRules {
        CompiledRules::embedded().expect("embedded rules compile")
    }

    /// (text, lines as (quantity, unit), subtotal, shipping, tax, discount, total, currency)
    type Expected = (
        Vec<(u32, i64)>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        &'static str,
    );

    fn check(text: &str, expected: Expected) {
        let offer =
            read_offer(text, &rules(), None).unwrap_or_else(|| panic!("no offer in {text:?}"));
        let lines: Vec<(u32, i64)> = offer
            .lines
            .iter()
            .map(|l| (l.quantity, l.unit_price))
            .collect();
        assert_eq!(
            (
                lines,
                offer.subtotal,
                offer.shipping,
                offer.tax,
                offer.discount,
                offer.total,
                offer.currency.as_deref().unwrap_or("")
            ),
            expected,
            "{text}"
        );
    }

    #[test]
    fn offers_in_words_are_read() {
        check(
            "Great choice! 1 x Merino Crew Sweater in Heather Grey, size M: $42.00 + $5.99 shipping = $47.99 total.",
            (vec![(1, 4200)], None, Some(599), None, None, Some(4799), "USD"),
        );
        check(
            "Order summary:\n- Item: Insulated Water Bottle\n- Colour: Forest Green\n- Size: 20 oz\n- Qty: 2 @ $19.50\n- Shipping: $4.00\n- Total: $43.00\nReply YES to confirm or NO to cancel.",
            (vec![(2, 1950)], None, Some(400), None, None, Some(4300), "USD"),
        );
        check(
            "2 × Whole Bean Coffee 1 kg at EUR 22,50 each = EUR 45,00\nShipping: EUR 4,90\nTotal: EUR 49,90\nReply OK to confirm.",
            (vec![(2, 2250)], None, Some(490), None, None, Some(4990), "EUR"),
        );
        check(
            "Linen Shirt · White · M\nPrice: 64,00 €\nWELCOME10 (-10%): -6,40 €\nShipping: free\nTotal: 57,60 €",
            (vec![(1, 6400)], None, Some(0), None, Some(640), Some(5760), "EUR"),
        );
        check(
            "Crew Neck Tee — Black — XL\n3 × $16.00 = $48.00\nShipping: $5.50\nTax: $3.84\nTotal: $57.34",
            (vec![(3, 1600)], None, Some(550), Some(384), None, Some(5734), "USD"),
        );
        check(
            "Trail Running Shoes (Black, US 9)\nSubtotal: $104.99\nShipping: $6.95\nTotal: $111.94",
            (
                vec![(1, 10499)],
                Some(10499),
                Some(695),
                None,
                None,
                Some(11194),
                "USD",
            ),
        );
        check(
            "Your order:\n- 10\" Cast Iron Skillet  $29.95\n- Silicone Handle Cover  $6.00\nShipping: FREE\nTotal: $35.95\nShall I place it?",
            (vec![(1, 2995), (1, 600)], None, Some(0), None, None, Some(3595), "USD"),
        );
        check(
            "The Denim Jacket is $79 and shipping's free over $50, so your total is $79.00. Want it?",
            (vec![(1, 7900)], None, Some(0), None, None, Some(7900), "USD"),
        );
        check(
            "8\" Chef's Knife – £72.00\nNext-day delivery – £9.95\nTotal – £81.95",
            (
                vec![(1, 7200)],
                None,
                Some(995),
                None,
                None,
                Some(8195),
                "GBP",
            ),
        );
        check(
            "Wireless Earbuds (White): $79.99 + $7.50 shipping = $87.49. Want me to order them?",
            (
                vec![(1, 7999)],
                None,
                Some(750),
                None,
                None,
                Some(8749),
                "USD",
            ),
        );
    }

    #[test]
    fn what_cannot_be_checked_says_why() {
        let open = read_offer(
            "The Denim Jacket in blue, size M is $79 + shipping & tax calculated at checkout. Want the link?",
            &rules(),
            None,
        )
        .unwrap();
        let error = open.invoice("m", "TEXT-1").unwrap_err();
        assert!(error.contains("not final"), "{error}");
        let no_total = read_offer(
            "French Press 1L — £24.99 each. Reply YES to order",
            &rules(),
            None,
        )
        .unwrap();
        assert_eq!(
            no_total.invoice("m", "TEXT-1").unwrap_err(),
            "the offer states no total"
        );
        assert!(read_offer("What size would you like?", &rules(), None).is_none());
    }

    #[test]
    fn numbers_in_european_and_english_formats() {
        for (text, minor) in [
            ("45", 4500),
            ("45.5", 4550),
            ("57,60", 5760),
            ("1,234.56", 123_456),
            ("1.234,56", 123_456),
            ("1,234", 123_400),
        ] {
            assert_eq!(parse_number(text), Some(minor), "{text}");
        }
    }
}
