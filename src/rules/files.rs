//! The on-disk shape of rule files: plain serde structs, no logic. Spans are
//! kept so that problems found while compiling point at a line.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// One rule file. Every section is optional; files are merged.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    #[serde(default)]
    pub intent: Vec<IntentRuleDef>,
    #[serde(default)]
    pub price: Vec<PriceRuleDef>,
    #[serde(default)]
    pub dialogue: Vec<DialogueRuleDef>,
    #[serde(default)]
    pub stopwords: Vec<String>,
    /// Ordinary words that typo correction must leave alone ("fund" is not
    /// a typo of "find").
    #[serde(default)]
    pub known_words: Vec<String>,
    /// Nouns that head a product phrase though WordNet seldom reads them
    /// as things ("gift", "stroller").
    #[serde(default)]
    pub product_nouns: Vec<String>,
    #[serde(default)]
    pub color: Vec<LexEntryDef>,
    #[serde(default)]
    pub size: Vec<LexEntryDef>,
    #[serde(default)]
    pub material: Vec<LexEntryDef>,
    #[serde(default)]
    pub brand: Vec<LexEntryDef>,
    #[serde(default)]
    pub product: Vec<LexEntryDef>,
    /// Who a product is for ("women's", "for my son").
    #[serde(default)]
    pub audience: Vec<LexEntryDef>,
    #[serde(default)]
    pub currency: Vec<CurrencyDef>,
    #[serde(default)]
    pub example: Vec<RequestExampleDef>,
    /// The negotiation policy (`rules/policy.toml`), read by
    /// `negotiate::policy`; the rule compiler skips it.
    #[serde(default)]
    pub negotiation: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentRuleDef {
    pub name: Spanned<String>,
    pub intent: Spanned<String>,
    #[serde(default)]
    pub priority: i32,
    pub patterns: Vec<Spanned<String>>,
    /// Patterns that veto the rule: when one matches, the rule does not fire
    /// ("my order" is a noun, not the verb "order").
    #[serde(default)]
    pub unless: Vec<Spanned<String>>,
    /// Evidence the request must also carry for the rule to fire, any of:
    /// "product" (a known product type, or a noun phrase naming one),
    /// "thing" (the same, its head a thing in some sense), "owned_product",
    /// "price", "attribute" (a colour, size, material or brand). Empty: no
    /// evidence needed.
    #[serde(default)]
    pub requires: Vec<Spanned<String>>,
    #[serde(default)]
    pub examples: Vec<Spanned<String>>,
    /// Utterances on which the rule must NOT fire.
    #[serde(default)]
    pub counter_examples: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceRuleDef {
    pub name: Spanned<String>,
    pub bound: Spanned<String>,
    pub pattern: Spanned<String>,
    #[serde(default)]
    pub examples: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialogueRuleDef {
    pub name: Spanned<String>,
    pub act: Spanned<String>,
    pub patterns: Vec<Spanned<String>>,
    #[serde(default)]
    pub examples: Vec<Spanned<String>>,
    /// What Concierge answers to an `ask_other` question.
    #[serde(default)]
    pub reply: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LexEntryDef {
    pub name: Spanned<String>,
    #[serde(default)]
    pub synonyms: Vec<String>,
    /// Kinds of it that are not it exactly (colours: "charcoal" is a gray,
    /// not gray): they match a request for it, after an exact match.
    #[serde(default)]
    pub shades: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CurrencyDef {
    pub code: Spanned<String>,
    #[serde(default)]
    pub symbols: Vec<String>,
    #[serde(default)]
    pub words: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestExampleDef {
    pub text: Spanned<String>,
    pub intent: String,
    #[serde(default)]
    pub slots: BTreeMap<String, toml::Value>,
}
