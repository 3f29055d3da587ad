//! Shopper text to [`Intent`]: the intent, the slots, and a trace of the rules
//! that fired.
//!
//! The parser never fails on user text: empty input, gibberish or a request it
//! cannot place all come back as intent `none`, with diagnostics saying why.
//!
//! ```
//! use concierge::intent::{IntentKind, Parser};
//! use concierge::rules::{CompiledRules, LexSlot};
//! use std::sync::Arc;
//!
//! let mut rules = CompiledRules::embedded().expect("shipped rules compile");
//! // Catalog vocabulary: a brand the rule files do not know.
//! rules.extend_lexicon([(LexSlot::Brand, "Northwind")]);
//! let parser = Parser::new(Arc::new(rules));
//!
//! let intent = parser.parse("buy me a grey Northwind turtleneck in medium under $50");
//! assert_eq!(intent.intent, IntentKind::Buy);
//! let item = intent.first_item().unwrap();
//! assert_eq!(item.color.as_deref(), Some("gray"));
//! assert_eq!(item.size.as_deref(), Some("M"));
//! assert_eq!(item.brand.as_deref(), Some("Northwind"));
//! assert_eq!(intent.max_price, Some(5000)); // minor units
//! assert_eq!(intent.currency.as_deref(), Some("USD"));
//!
//! // Typos are corrected under documented thresholds, and traced.
//! let intent = parser.parse("cancle my order");
//! assert_eq!(intent.intent, IntentKind::CancelOrder);
//! assert!(intent.trace.iter().any(|fired| fired.rule == "typo"));
//! ```

pub(crate) mod parser;
pub mod timing;

pub use parser::Parser;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What the shopper wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntentKind {
    Buy,
    Search,
    OrderStatus,
    CancelOrder,
    None,
}

impl IntentKind {
    pub const ALL: [IntentKind; 5] = [
        IntentKind::Buy,
        IntentKind::Search,
        IntentKind::OrderStatus,
        IntentKind::CancelOrder,
        IntentKind::None,
    ];

    pub fn from_name(name: &str) -> Option<IntentKind> {
        match name.trim() {
            "buy" => Some(IntentKind::Buy),
            "search" => Some(IntentKind::Search),
            "order_status" => Some(IntentKind::OrderStatus),
            "cancel_order" => Some(IntentKind::CancelOrder),
            "none" => Some(IntentKind::None),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            IntentKind::Buy => "buy",
            IntentKind::Search => "search",
            IntentKind::OrderStatus => "order_status",
            IntentKind::CancelOrder => "cancel_order",
            IntentKind::None => "none",
        }
    }
}

/// One thing the shopper asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemRequest {
    /// The head product phrase, without colour, size, brand, material or price
    /// words ("turtleneck sweater").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The canonical product type from the lexicon, when the phrase names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// The shade the shopper named, when not the colour itself ("heather
    /// grey", "charcoal" for gray), as normalised words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_shade: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    /// Who it is for: men, women, boys, girls, kids, baby or unisex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Colours the shopper ruled out ("not red").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_colors: Vec<String>,
}

impl ItemRequest {
    /// The quantity asked for, 1 when unsaid.
    pub fn quantity_or_one(&self) -> u32 {
        self.quantity.unwrap_or(1)
    }
}

/// Superlatives asking for the lowest price.
const CHEAPEST_PHRASES: [&str; 6] = [
    "cheapest",
    "least expensive",
    "lowest price",
    "lowest priced",
    "lowest-priced",
    "most affordable",
];

/// The trace entry of a request read as a search because it names a product
/// and nothing else.
pub const FALLBACK_PRODUCT_ONLY: &str = "fallback_product_only";

/// The intent rule of searches that say the shopper is out to get the
/// thing ("i'm looking for ...", "find me ..."), as opposed to browsing or
/// asking ("show me ...", "do you have ...").
pub const SEARCH_TO_GET: &str = "search_to_get";

/// A rule that fired while parsing, and the text it matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fired {
    pub rule: String,
    pub matched: String,
}

/// The parsed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Intent {
    pub text: String,
    pub intent: IntentKind,
    /// One entry per product asked for; empty when none was named.
    pub items: Vec<ItemRequest>,
    /// Upper price bound in minor units of `currency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_price: Option<i64>,
    /// ISO 4217 code of the price bounds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub trace: Vec<Fired>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<String>,
}

impl Intent {
    /// A search read from a product phrase alone, with no verb or question
    /// saying whether to buy or to look ("gray turtleneck, medium").
    pub fn is_bare_product_phrase(&self) -> bool {
        self.intent == IntentKind::Search
            && self
                .trace
                .iter()
                .any(|fired| fired.rule == FALLBACK_PRODUCT_ONLY)
    }

    /// A search phrased as setting out to get the product ("i'm looking for
    /// a navy hoodie, size L, under $50", "find me ..."): what a shop
    /// assistant told to buy takes as the order.
    pub fn is_search_to_get(&self) -> bool {
        self.intent == IntentKind::Search
            && self.trace.iter().any(|fired| fired.rule == SEARCH_TO_GET)
    }

    /// Whether the shopper asks for the lowest-priced offer ("the cheapest
    /// navy hoodie", "whichever is least expensive").
    pub fn asks_cheapest(&self) -> bool {
        let text = crate::rules::normalize_phrase(&self.text.replace(['?', '!', ',', '.'], " "));
        let padded = format!(" {text} ");
        CHEAPEST_PHRASES
            .iter()
            .any(|phrase| padded.contains(&format!(" {phrase} ")))
    }

    /// The first item, which single-item flows (the demo) shop for.
    pub fn first_item(&self) -> Option<&ItemRequest> {
        self.items.first()
    }

    /// The slots of the first item plus the price bounds, flat, with money in
    /// major units: the shape labelled corpora use.
    pub fn flat_slots(&self) -> BTreeMap<String, serde_json::Value> {
        let mut slots = BTreeMap::new();
        if let Some(item) = self.first_item() {
            let text_slots = [
                ("product", &item.product),
                ("color", &item.color),
                ("size", &item.size),
                ("brand", &item.brand),
                ("material", &item.material),
                ("audience", &item.audience),
            ];
            for (name, value) in text_slots {
                if let Some(value) = value {
                    slots.insert(name.to_string(), serde_json::Value::from(value.clone()));
                }
            }
            if let Some(quantity) = item.quantity {
                slots.insert("quantity".into(), serde_json::Value::from(quantity));
            }
        }
        for (name, value) in [("max_price", self.max_price), ("min_price", self.min_price)] {
            if let Some(minor) = value {
                slots.insert(name.to_string(), major_units_json(minor));
            }
        }
        if let Some(currency) = &self.currency {
            slots.insert("currency".into(), serde_json::Value::from(currency.clone()));
        }
        slots
    }

    /// A short human summary: "buy: turtleneck sweater, gray, M; at most $50.00".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for item in &self.items {
            let mut words = Vec::new();
            if let Some(quantity) = item.quantity {
                words.push(format!("{quantity} x"));
            }
            words.push(
                item.product
                    .clone()
                    .unwrap_or_else(|| "(no product)".into()),
            );
            let details: Vec<String> = [
                item.color.clone().map(|c| format!("colour {c}")),
                item.size.clone().map(|s| format!("size {s}")),
                item.material.clone().map(|m| format!("material {m}")),
                item.brand.clone().map(|b| format!("brand {b}")),
            ]
            .into_iter()
            .flatten()
            .chain(item.excluded_colors.iter().map(|c| format!("not {c}")))
            .collect();
            if !details.is_empty() {
                words.push(format!("({})", details.join(", ")));
            }
            parts.push(words.join(" "));
        }
        let currency = self.currency.clone().unwrap_or_else(|| "USD".into());
        if let Some(max) = self.max_price {
            parts.push(format!(
                "at most {}",
                crate::money::Money::new(max, currency.clone())
            ));
        }
        if let Some(min) = self.min_price {
            parts.push(format!(
                "at least {}",
                crate::money::Money::new(min, currency)
            ));
        }
        format!("{}: {}", self.intent.name(), parts.join("; "))
    }
}

fn major_units_json(minor: i64) -> serde_json::Value {
    if minor % 100 == 0 {
        serde_json::Value::from(minor / 100)
    } else {
        serde_json::Value::from(minor as f64 / 100.0)
    }
}

impl Parser {
    /// What `concierge parse TEXT` prints: the [`Intent`] as JSON plus a
    /// `slots` object holding [`Intent::flat_slots`].
    pub fn parse_json(&self, text: &str) -> serde_json::Value {
        let intent = self.parse(text);
        let slots = serde_json::Value::from_iter(intent.flat_slots());
        let mut value = serde_json::to_value(&intent).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("slots".into(), slots);
        }
        value
    }
}
