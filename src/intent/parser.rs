//! The rule-driven parser. Steps, in order:
//! 1. lowercase and bound the input;
//! 2. price rules, whose matches are cut out of the text;
//! 3. intent rules (highest priority first), whose trigger words are cut out;
//! 4. tokens, split into segments at "and" / "," / "plus" when each side
//!    names a product, so "a gray turtleneck and two pairs of wool socks"
//!    yields two items;
//! 5. per segment, longest-first lexicon lookup for colour, size, material,
//!    brand and product type, number words for quantity, negation for
//!    excluded colours; the leftover content words form the product phrase.

use super::{Fired, Intent, IntentKind, ItemRequest};
use crate::rules::{CompiledRules, LexSlot, PriceBound};
use regex::Regex;
use std::sync::{Arc, OnceLock};

/// Requests longer than this are cut; nobody types a 2,000-character order.
const MAX_INPUT_CHARS: usize = 2000;

/// One price rule match: span, amount, second amount, currency code.
type PriceMatch = (
    std::ops::Range<usize>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// Parses shopper text with compiled rules. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Parser {
    rules: Arc<CompiledRules>,
}

#[derive(Debug, Clone)]
struct Token {
    text: String,
}

fn token_regex() -> &'static Regex {
    static TOKEN: OnceLock<Regex> = OnceLock::new();
    TOKEN.get_or_init(|| {
        Regex::new(r"[a-z0-9]+(?:['\-][a-z0-9]+)*|,").expect("static token pattern")
    })
}

fn number_word(word: &str) -> Option<u32> {
    Some(match word {
        "one" | "a" | "an" | "single" => 1,
        "two" | "couple" | "pair" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" | "dozen" => 12,
        _ => return None,
    })
}

const NEGATIONS: &[&str] = &["not", "no", "except", "without", "but", "non"];
const SEGMENT_BREAKS: &[&str] = &["and", ",", "plus", "also"];

impl Parser {
    pub fn new(rules: Arc<CompiledRules>) -> Parser {
        Parser { rules }
    }

    pub fn rules(&self) -> &CompiledRules {
        &self.rules
    }

    /// Parses `text`. Never fails: unknown input is intent `none`.
    pub fn parse(&self, text: &str) -> Intent {
        let mut intent = Intent {
            text: text.to_string(),
            intent: IntentKind::None,
            items: Vec::new(),
            max_price: None,
            min_price: None,
            currency: None,
            trace: Vec::new(),
            diagnostics: Vec::new(),
        };
        let mut lower: String = text
            .chars()
            .take(MAX_INPUT_CHARS)
            .collect::<String>()
            .to_lowercase();
        if text.chars().count() > MAX_INPUT_CHARS {
            intent.diagnostics.push(format!(
                "request cut to its first {MAX_INPUT_CHARS} characters"
            ));
        }
        lower = lower.replace(['\u{2019}', '\u{2018}'], "'");
        if lower.trim().is_empty() {
            intent.diagnostics.push("the request is empty".into());
            return intent;
        }

        self.extract_prices(&mut lower, &mut intent);
        self.classify_intent(&mut lower, &mut intent);

        let tokens: Vec<Token> = token_regex()
            .find_iter(&lower)
            .map(|m| Token {
                text: m.as_str().to_string(),
            })
            .collect();
        for segment in self.segments(&tokens) {
            let item = self.parse_segment(segment, &mut intent.trace);
            if item != ItemRequest::default() {
                intent.items.push(item);
            }
        }
        // Items without a product (a stray "in medium" after the product
        // segment) give their slots to the item before them.
        let mut merged: Vec<ItemRequest> = Vec::new();
        for item in intent.items.drain(..) {
            match merged.last_mut() {
                Some(previous) if item.product.is_none() => absorb(previous, item),
                _ => merged.push(item),
            }
        }
        intent.items = merged;

        if intent.intent == IntentKind::None {
            if intent.items.iter().any(|item| item.product_type.is_some()) {
                // A bare product phrase ("gray turtleneck, medium") is a search:
                // Concierge shows offers but does not buy without a buying verb.
                intent.intent = IntentKind::Search;
                intent.trace.push(Fired {
                    rule: "fallback_product_only".into(),
                    matched: intent.items[0].product.clone().unwrap_or_default(),
                });
            } else {
                intent
                    .diagnostics
                    .push("no intent rule matched and no known product was named".into());
            }
        }
        if matches!(intent.intent, IntentKind::Buy | IntentKind::Search)
            && intent.items.iter().all(|i| i.product.is_none())
        {
            intent.diagnostics.push("no product was named".into());
        }
        intent
    }

    fn extract_prices(&self, lower: &mut String, intent: &mut Intent) {
        for rule in &self.rules.prices {
            let found: Vec<PriceMatch> = rule
                .pattern
                .captures_iter(lower)
                .map(|caps| {
                    let whole = caps.get(0).map(|m| m.range()).unwrap_or(0..0);
                    let amount = caps.name("amount").and_then(|m| parse_amount(m.as_str()));
                    let amount2 = caps.name("amount2").and_then(|m| parse_amount(m.as_str()));
                    let currency = ["symbol", "word", "symbol2", "word2"]
                        .iter()
                        .filter_map(|group| caps.name(group))
                        .find_map(|m| self.rules.currency_code(m.as_str()).map(str::to_string));
                    (whole, amount, amount2, currency)
                })
                .collect();
            for (range, amount, amount2, currency) in found {
                let Some(amount) = amount else { continue };
                let matched = lower[range.clone()].trim().to_string();
                let applied = match rule.bound {
                    PriceBound::Max if intent.max_price.is_none() => {
                        intent.max_price = Some(amount);
                        true
                    }
                    PriceBound::Min if intent.min_price.is_none() => {
                        intent.min_price = Some(amount);
                        true
                    }
                    PriceBound::Range
                        if intent.max_price.is_none() && intent.min_price.is_none() =>
                    {
                        let high = amount2.unwrap_or(amount);
                        intent.min_price = Some(amount.min(high));
                        intent.max_price = Some(amount.max(high));
                        true
                    }
                    _ => false,
                };
                if !applied {
                    continue;
                }
                if intent.currency.is_none() {
                    intent.currency = currency;
                }
                intent.trace.push(Fired {
                    rule: rule.name.clone(),
                    matched,
                });
                blank(lower, range);
            }
        }
    }

    fn classify_intent(&self, lower: &mut String, intent: &mut Intent) {
        for rule in &self.rules.intents {
            let hit = rule
                .patterns
                .iter()
                .find_map(|pattern| pattern.find(lower).map(|m| m.range()));
            if let Some(range) = hit {
                intent.intent = rule.intent;
                intent.trace.push(Fired {
                    rule: rule.name.clone(),
                    matched: lower[range.clone()].to_string(),
                });
                blank(lower, range);
                return;
            }
        }
    }

    /// Splits tokens at conjunctions, but only where the part after the break
    /// names a product of its own ("gray and navy hoodie" stays whole).
    fn segments<'t>(&self, tokens: &'t [Token]) -> Vec<&'t [Token]> {
        let mut segments = Vec::new();
        let mut start = 0;
        for (index, token) in tokens.iter().enumerate() {
            if !SEGMENT_BREAKS.contains(&token.text.as_str()) || index == start {
                continue;
            }
            let before = &tokens[start..index];
            let next_break = tokens[index + 1..]
                .iter()
                .position(|t| SEGMENT_BREAKS.contains(&t.text.as_str()))
                .map(|p| index + 1 + p)
                .unwrap_or(tokens.len());
            let after = &tokens[index + 1..next_break];
            if self.names_product(before) && self.names_product(after) {
                segments.push(before);
                start = index + 1;
            }
        }
        segments.push(&tokens[start..]);
        segments
    }

    fn names_product(&self, tokens: &[Token]) -> bool {
        let max = self.rules.lexicon.max_phrase_words.max(1);
        (0..tokens.len()).any(|i| {
            (1..=max.min(tokens.len() - i)).any(|n| {
                let phrase = join(&tokens[i..i + n]);
                self.rules
                    .lexicon
                    .lookup(&phrase)
                    .iter()
                    .any(|hit| hit.slot == LexSlot::Product)
            })
        })
    }

    fn parse_segment(&self, tokens: &[Token], trace: &mut Vec<Fired>) -> ItemRequest {
        let lexicon = &self.rules.lexicon;
        let mut item = ItemRequest::default();
        // Per token: is it part of the product phrase?
        let mut product_word = vec![false; tokens.len()];
        let mut index = 0;
        while index < tokens.len() {
            let word = tokens[index].text.as_str();
            let previous = index.checked_sub(1).map(|i| tokens[i].text.as_str());
            let next = tokens.get(index + 1).map(|t| t.text.as_str());

            // Numeric size: "size 10", "size 32".
            if previous == Some("size")
                && word.chars().all(|c| c.is_ascii_digit())
                && item.size.is_none()
            {
                item.size = Some(word.to_string());
                trace.push(Fired {
                    rule: "numeric_size".into(),
                    matched: format!("size {word}"),
                });
                index += 1;
                continue;
            }

            // Longest lexicon phrase starting here.
            let max = lexicon.max_phrase_words.max(1).min(tokens.len() - index);
            let mut consumed = 0;
            for n in (1..=max).rev() {
                let phrase = join(&tokens[index..index + n]);
                let hits = lexicon.lookup(&phrase);
                if hits.is_empty() {
                    continue;
                }
                let negated = previous.is_some_and(|p| NEGATIONS.contains(&p));
                // A product reading wins over others for multi-word phrases
                // ("khakis" the trousers, not the colour).
                let preferred = hits
                    .iter()
                    .find(|hit| hit.slot == LexSlot::Product)
                    .filter(|_| n > 1 || hits.len() == 1)
                    .or_else(|| hits.iter().find(|hit| hit.slot != LexSlot::Product))
                    .or_else(|| hits.first());
                let Some(hit) = preferred else { continue };
                let single_letter_size = hit.slot == LexSlot::Size && phrase.len() == 1;
                if single_letter_size
                    && !(matches!(previous, Some("in" | "size")) || next == Some("size"))
                {
                    // "m" alone is a size only in context ("in m", "size m").
                    continue;
                }
                let slot_value = |slot: &mut Option<String>, rule: &str, trace: &mut Vec<Fired>| {
                    if slot.is_none() {
                        *slot = Some(hit.canonical.clone());
                    }
                    trace.push(Fired {
                        rule: rule.into(),
                        matched: phrase.clone(),
                    });
                };
                match hit.slot {
                    LexSlot::Color if negated => {
                        item.excluded_colors.push(hit.canonical.clone());
                        trace.push(Fired {
                            rule: "negated_color".into(),
                            matched: format!("{} {phrase}", previous.unwrap_or("")),
                        });
                    }
                    LexSlot::Color => slot_value(&mut item.color, "lexicon_color", trace),
                    LexSlot::Size => slot_value(&mut item.size, "lexicon_size", trace),
                    LexSlot::Material => slot_value(&mut item.material, "lexicon_material", trace),
                    LexSlot::Brand => slot_value(&mut item.brand, "lexicon_brand", trace),
                    LexSlot::Product => {
                        if item.product_type.is_none() {
                            item.product_type = Some(hit.canonical.clone());
                        }
                        trace.push(Fired {
                            rule: "lexicon_product".into(),
                            matched: phrase.clone(),
                        });
                        for flag in &mut product_word[index..index + n] {
                            *flag = true;
                        }
                    }
                }
                consumed = n;
                break;
            }
            if consumed > 0 {
                index += consumed;
                continue;
            }

            // Quantity: a number word or digits before more words ("two
            // pairs", "3x", "a dozen").
            let quantity = if let Some(digits) = word
                .strip_suffix('x')
                .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
            {
                digits.parse().ok()
            } else if word.chars().all(|c| c.is_ascii_digit()) && word.len() <= 3 {
                word.parse().ok()
            } else if word != "a" && word != "an" && word != "pair" {
                number_word(word)
            } else {
                None
            };
            if let Some(quantity) = quantity.filter(|q| *q > 0) {
                if item.quantity.is_none() {
                    item.quantity = Some(quantity);
                    trace.push(Fired {
                        rule: "quantity".into(),
                        matched: word.to_string(),
                    });
                }
                index += 1;
                continue;
            }

            if !self.rules.stopwords.contains(word)
                && !NEGATIONS.contains(&word)
                && !SEGMENT_BREAKS.contains(&word)
            {
                product_word[index] = true;
            }
            index += 1;
        }

        // The product phrase: the run of product words that contains a known
        // product type, else the longest run.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut run_start = None;
        for (i, is_product) in product_word.iter().enumerate() {
            match (is_product, run_start) {
                (true, None) => run_start = Some(i),
                (false, Some(start)) => {
                    runs.push((start, i));
                    run_start = None;
                }
                _ => {}
            }
        }
        if let Some(start) = run_start {
            runs.push((start, tokens.len()));
        }
        let contains_type = |&(start, end): &(usize, usize)| {
            (start..end).any(|i| {
                lexicon
                    .lookup(&tokens[i].text)
                    .iter()
                    .any(|hit| hit.slot == LexSlot::Product)
            }) || (start..end).any(|i| {
                (i + 1..=end).any(|j| {
                    lexicon
                        .lookup(&join(&tokens[i..j]))
                        .iter()
                        .any(|h| h.slot == LexSlot::Product)
                })
            })
        };
        let chosen = runs
            .iter()
            .copied()
            .filter(contains_type)
            .max_by_key(|(start, end)| end - start)
            .or_else(|| runs.iter().copied().max_by_key(|(start, end)| end - start));
        if let Some((start, end)) = chosen {
            item.product = Some(join(&tokens[start..end]));
        }
        item
    }
}

fn absorb(target: &mut ItemRequest, extra: ItemRequest) {
    target.color = target.color.take().or(extra.color);
    target.size = target.size.take().or(extra.size);
    target.quantity = target.quantity.or(extra.quantity);
    target.material = target.material.take().or(extra.material);
    target.brand = target.brand.take().or(extra.brand);
    target.excluded_colors.extend(extra.excluded_colors);
}

fn join(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Replaces a byte range with spaces so later rules do not see it again.
fn blank(text: &mut String, range: std::ops::Range<usize>) {
    let spaces = " ".repeat(range.len());
    text.replace_range(range, &spaces);
}

/// "50" -> 5000, "49.99" -> 4999, "49,99" -> 4999.
fn parse_amount(text: &str) -> Option<i64> {
    let normalized = match text.rsplit_once(',') {
        Some((whole, frac)) if frac.len() <= 2 => format!("{whole}.{frac}"),
        _ => text.to_string(),
    };
    crate::money::parse_decimal_minor(&normalized)
}
