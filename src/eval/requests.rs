//! Coverage of unlabelled shopping requests: how many of a list of requests,
//! every one written to buy or find something (WebShop's human instructions,
//! a shop's chat log), the parser reads as shopping with a product named.
//!
//! Input: a JSON array of strings (WebShop's `human_goals.json`) or plain
//! text, one request per line. Report: the share read as each intent; the
//! share read as `buy` or `search` with a non-empty product; and, among the
//! requests phrased with a purchase verb ([`PURCHASE_OPENINGS`]), the share
//! read as `buy`. Entry point for `concierge eval requests`: [`run_requests`].

use super::EvalError;
use crate::intent::{IntentKind, Parser};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Openings that ask to purchase, as the issue that set the targets defines
/// them ("i need", "i want", "get me", "buy", "order"), with their common
/// spellings. "I'm looking for" and "find me" are searches by convention.
pub const PURCHASE_OPENINGS: &[&str] = &[
    "i need",
    "i want",
    "i would like to buy",
    "i would like to purchase",
    "i would like to order",
    "i'd like to buy",
    "id like to buy",
    "get me",
    "buy",
    "order",
    "purchase",
    "please buy",
    "please order",
    "please get me",
];

/// What `eval requests` reports.
#[derive(Debug, Clone, Serialize)]
pub struct RequestsReport {
    pub requests: usize,
    /// Share of requests per intent read.
    pub intent_share: BTreeMap<String, f64>,
    /// Share read as `buy` or `search` with a non-empty product.
    pub shopping_with_product: f64,
    /// Requests opening with a purchase verb.
    pub purchase_phrased: usize,
    /// Share of those read as `buy` (with a product).
    pub purchase_phrased_buy: f64,
    /// Requests not read as shopping with a product, first ones first.
    pub misses: Vec<Miss>,
    /// Purchase-phrased requests not read as `buy`.
    pub purchase_misses: Vec<Miss>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub text: String,
    pub intent: IntentKind,
    pub product: Option<String>,
}

/// Reads a JSON array of strings, or text with one request per line.
pub fn read_requests(path: &Path) -> Result<Vec<String>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str::<Vec<String>>(&text).map_err(|e| EvalError::BadFile {
            file: path.display().to_string(),
            message: format!("expected a JSON array of strings: {e}"),
        });
    }
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// Verbs after "i need to" / "i want to" that still ask to purchase; "i
/// want to find ..." is a search, like "find me".
const PURCHASE_INFINITIVES: &[&str] = &["buy", "get", "order", "purchase", "have", "grab"];

/// Whether `text` opens with one of [`PURCHASE_OPENINGS`].
pub fn purchase_phrased(text: &str) -> bool {
    let lower = text.trim().to_lowercase().replace('\u{2019}', "'");
    PURCHASE_OPENINGS.iter().any(|opening| {
        let Some(rest) = lower.strip_prefix(opening) else {
            return false;
        };
        if !(rest.is_empty() || rest.starts_with([' ', ','])) {
            return false;
        }
        match rest.trim_start().strip_prefix("to ") {
            Some(infinitive) => PURCHASE_INFINITIVES
                .iter()
                .any(|verb| infinitive.split_whitespace().next() == Some(verb)),
            None => true,
        }
    })
}

/// Parses every request and counts; keeps at most `keep_misses` of each kind
/// of miss.
pub fn evaluate_requests(
    parser: &Parser,
    requests: &[String],
    keep_misses: usize,
) -> RequestsReport {
    let mut per_intent: BTreeMap<String, usize> = BTreeMap::new();
    let mut shopping = 0usize;
    let mut phrased = 0usize;
    let mut phrased_buy = 0usize;
    let mut misses = Vec::new();
    let mut purchase_misses = Vec::new();
    for text in requests {
        let intent = parser.parse(text);
        *per_intent
            .entry(intent.intent.name().to_string())
            .or_default() += 1;
        let product = intent
            .items
            .iter()
            .find_map(|item| item.product.clone())
            .filter(|p| !p.trim().is_empty());
        let is_shopping = matches!(intent.intent, IntentKind::Buy | IntentKind::Search);
        if is_shopping && product.is_some() {
            shopping += 1;
        } else if misses.len() < keep_misses {
            misses.push(Miss {
                text: text.clone(),
                intent: intent.intent,
                product: product.clone(),
            });
        }
        if purchase_phrased(text) {
            phrased += 1;
            if intent.intent == IntentKind::Buy && product.is_some() {
                phrased_buy += 1;
            } else if purchase_misses.len() < keep_misses {
                purchase_misses.push(Miss {
                    text: text.clone(),
                    intent: intent.intent,
                    product,
                });
            }
        }
    }
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    RequestsReport {
        requests: requests.len(),
        intent_share: per_intent
            .into_iter()
            .map(|(name, n)| (name, share(n, requests.len())))
            .collect(),
        shopping_with_product: share(shopping, requests.len()),
        purchase_phrased: phrased,
        purchase_phrased_buy: share(phrased_buy, phrased),
        misses,
        purchase_misses,
    }
}

/// `concierge eval requests --data FILE`.
pub fn run_requests(
    parser: &Parser,
    data: &Path,
    keep_misses: usize,
) -> Result<RequestsReport, EvalError> {
    let requests = read_requests(data)?;
    Ok(evaluate_requests(parser, &requests, keep_misses))
}

impl RequestsReport {
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(out, "requests:                     {}", self.requests);
        for (intent, share) in &self.intent_share {
            let _ = writeln!(out, "  read as {intent:<13} {:>6.1}%", share * 100.0);
        }
        let _ = writeln!(
            out,
            "shopping with a product:      {:.1}%",
            self.shopping_with_product * 100.0
        );
        let _ = writeln!(
            out,
            "purchase-phrased:             {} (read as buy: {:.1}%)",
            self.purchase_phrased,
            self.purchase_phrased_buy * 100.0
        );
        for (title, misses) in [
            ("not read as shopping with a product", &self.misses),
            ("purchase-phrased, not read as buy", &self.purchase_misses),
        ] {
            if misses.is_empty() {
                continue;
            }
            let _ = writeln!(out, "\n{title}:");
            for miss in misses {
                let _ = writeln!(
                    out,
                    "  [{}] {} -> {}",
                    miss.intent.name(),
                    miss.text,
                    miss.product.as_deref().unwrap_or("(no product)")
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purchase_openings_are_whole_words() {
        for (text, expected) in [
            ("i need gluten free popcorn", true),
            ("I want a lamp", true),
            ("order some sea salt", true),
            ("ordering is hard", false),
            ("buyers guide", false),
            ("i'm looking for a lamp", false),
            ("get me, quickly, a lamp", true),
            ("i want to find a lamp", false),
            ("i want to buy a lamp", true),
        ] {
            assert_eq!(purchase_phrased(text), expected, "{text}");
        }
    }
}
