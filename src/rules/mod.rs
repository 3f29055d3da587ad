//! Rule files: read `rules/*.toml` into plain serde structs, validate them,
//! and compile them once into the matchers the intent parser and the
//! negotiator use.
//!
//! Loading never stops at the first problem: every file is read, every
//! pattern compiled, and all problems come back together, each with its file
//! and line ([`RuleError::Invalid`]).

pub mod brands;
mod check;
pub mod english;
mod files;
pub mod fuzzy;
pub mod measure;

pub use check::{check, check_sources, CheckFailure, CheckReport};
pub use files::*;
pub use fuzzy::FuzzyIndex;

use crate::error::{RuleError, RuleProblem};
use crate::intent::IntentKind;
use regex::{Regex, RegexSet, RegexSetBuilder};

/// Cache for the intent pattern set's lazy DFA, per thread (the default is
/// 2 MiB).
const INTENT_SET_DFA_BYTES: usize = 16 << 20;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// The hash set and map of the parser's hot lookups (words and phrases of
/// every request): foldhash's seeded hasher, several times faster than
/// SipHash on short keys.
pub type FastSet<T> = HashSet<T, foldhash::fast::RandomState>;
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// The rule files shipped inside the binary, used when no `rules/` directory
/// is present so that `concierge` works from any directory.
pub const EMBEDDED_RULES: &[(&str, &str)] = &[
    ("intents.toml", include_str!("../../rules/intents.toml")),
    ("lexicon.toml", include_str!("../../rules/lexicon.toml")),
    ("prices.toml", include_str!("../../rules/prices.toml")),
    ("dialogue.toml", include_str!("../../rules/dialogue.toml")),
    ("policy.toml", include_str!("../../rules/policy.toml")),
    ("words.toml", include_str!("../../rules/words.toml")),
    (
        "words_dictionary.toml",
        include_str!("../../rules/words_dictionary.toml"),
    ),
];

/// One rule file's name and text.
#[derive(Debug, Clone)]
pub struct RuleSource {
    pub file: String,
    pub text: String,
}

/// Reads every `*.toml` file in `dir`, sorted by name.
pub fn read_dir(dir: &Path) -> Result<Vec<RuleSource>, RuleError> {
    let io_error = |source| RuleError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(io_error)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    paths.sort();
    let mut sources = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| RuleError::Io {
            path: path.clone(),
            source,
        })?;
        sources.push(RuleSource {
            file: path.display().to_string(),
            text,
        });
    }
    Ok(sources)
}

/// The embedded copies of the shipped rule files.
pub fn embedded_sources() -> Vec<RuleSource> {
    EMBEDDED_RULES
        .iter()
        .map(|(file, text)| RuleSource {
            file: format!("rules/{file} (embedded)"),
            text: text.to_string(),
        })
        .collect()
}

/// Loads `dir` when it exists, else the embedded rules, and compiles them.
pub fn load(dir: &Path) -> Result<CompiledRules, RuleError> {
    let sources = if dir.is_dir() {
        read_dir(dir)?
    } else {
        embedded_sources()
    };
    compile(&sources)
}

/// Which slot a lexicon phrase fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LexSlot {
    Color,
    Size,
    Material,
    Brand,
    Product,
    /// Who it is for: men, women, boys, girls, kids, baby, unisex.
    Audience,
}

/// A phrase's meaning in the lexicon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexHit {
    pub slot: LexSlot,
    pub canonical: String,
}

/// Phrases (lowercase, single-space separated) to their meanings.
#[derive(Debug, Default, Clone)]
pub struct Lexicon {
    pub phrases: FastMap<String, Vec<LexHit>>,
    /// The longest phrase, in words: the parser tries n-grams up to this.
    pub max_phrase_words: usize,
    /// Every proper word-prefix of a multi-word phrase ("running" for
    /// "running shoes"): the parser extends an n-gram only while it is one,
    /// instead of looking up every n-gram up to `max_phrase_words`.
    pub prefixes: FastSet<String>,
    /// Each product type's phrases, its own name first: the names a
    /// catalog may use for it ("tee" for t-shirts, "trousers" for pants).
    product_names: FastMap<String, Vec<String>>,
}

impl Lexicon {
    pub fn insert(&mut self, phrase: &str, slot: LexSlot, canonical: &str) {
        let phrase = normalize_phrase(phrase);
        if phrase.is_empty() {
            return;
        }
        self.max_phrase_words = self.max_phrase_words.max(phrase.split(' ').count());
        let mut end = 0;
        while let Some(space) = phrase[end..].find(' ') {
            end += space;
            if !self.prefixes.contains(&phrase[..end]) {
                self.prefixes.insert(phrase[..end].to_string());
            }
            end += 1;
        }
        if slot == LexSlot::Product {
            let names = self
                .product_names
                .entry(canonical.to_string())
                .or_insert_with(|| vec![normalize_phrase(canonical)]);
            if !names.contains(&phrase) {
                names.push(phrase.clone());
            }
        }
        let hits = self.phrases.entry(phrase).or_default();
        let hit = LexHit {
            slot,
            canonical: canonical.to_string(),
        };
        if !hits.contains(&hit) {
            hits.push(hit);
        }
    }

    /// The phrases naming product type `canonical`, its own name first;
    /// empty for a type the lexicon does not know.
    pub fn product_names(&self, canonical: &str) -> &[String] {
        self.product_names
            .get(canonical)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// True when some multi-word phrase starts with the words of `phrase`.
    pub fn is_prefix(&self, phrase: &str) -> bool {
        self.prefixes.contains(phrase)
    }

    pub fn lookup(&self, phrase: &str) -> &[LexHit] {
        self.phrases.get(phrase).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The canonical value of `text` for `slot`, if `text` is a known phrase.
    /// A label with letters that lower-case to themselves but upper-case to
    /// others ("ſmall", "ﬂannel") names what its upper case names, so that
    /// a label and its upper case (the canonical size of an unknown label)
    /// read the same.
    pub fn canonical(&self, slot: LexSlot, text: &str) -> Option<&str> {
        let find = |phrase: &str| {
            self.lookup(phrase)
                .iter()
                .find(|hit| hit.slot == slot)
                .map(|hit| hit.canonical.as_str())
        };
        let phrase = normalize_phrase(text);
        if let Some(canonical) = find(&phrase) {
            return Some(canonical);
        }
        if phrase.is_ascii() {
            return None;
        }
        let folded = normalize_phrase(&fold_case(text));
        if folded == phrase {
            return None;
        }
        find(&folded)
    }
}

/// Rewrites the escapes `\b`, `\B`, `\w`, `\s` and `\d` outside character
/// classes to their ASCII forms (`(?-u:\b)`...). Negated classes (`\W`,
/// `\S`, `\D`) stay Unicode: their ASCII forms could match inside a
/// multi-byte character.
pub fn ascii_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut class_depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('b' | 'B' | 'w' | 's' | 'd')) if class_depth == 0 => {
                    out.push_str("(?-u:\\");
                    out.push(e);
                    out.push(')');
                }
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '[' => {
                class_depth += 1;
                out.push(c);
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The literal words of a regular expression, for the typo index: escapes
/// like `\b` or `\s` are dropped and runs of 3+ letters kept.
fn pattern_words(pattern: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            chars.next();
            cleaned.push(' ');
        } else if c.is_alphabetic() {
            cleaned.push(c);
        } else {
            cleaned.push(' ');
        }
    }
    cleaned
        .split_whitespace()
        .filter(|word| word.chars().count() >= 3)
        // A word right before `?` or inside a character class is partial;
        // harmless here, since only real typos get near it.
        .map(str::to_string)
        .collect()
}

/// `text` in lower case as far as casing goes: the lower case of its upper
/// case, until that no longer changes ("ſ" and "S" are "s", "ß", "ẞ" and
/// "SS" are "ss", "ﬀ" is "ff"). Lower case alone leaves letters whose upper
/// case is other letters, so a label and its upper case could read as
/// different things.
pub fn fold_case(text: &str) -> String {
    let mut folded = text.to_lowercase();
    if folded.is_ascii() {
        return folded;
    }
    // One more round reaches the end for every character (each of Unicode
    // was tried); the bound only keeps a surprise from looping.
    for _ in 0..4 {
        let next = folded.to_uppercase().to_lowercase();
        if next == folded {
            break;
        }
        folded = next;
    }
    folded
}

/// Lowercase, with runs of whitespace and the separators `-`/`_` kept as in
/// the words but collapsed to single spaces between words.
pub fn normalize_phrase(text: &str) -> String {
    text.to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Evidence an intent rule may require besides its trigger pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A known product type (rules lexicon or catalog terms) the shopper
    /// does not already have: not after a possessive ("my phone").
    Product,
    /// A known product type, possessed or not: what an order status or
    /// cancellation names ("the eta on my socks").
    OwnedProduct,
    /// A product as [`Evidence::Product`], but outside the lexicon only a
    /// noun with some sense a thing: what a question asks about ("what are
    /// the best robot vacuums", not "... finance practices").
    Thing,
    /// A price bound.
    Price,
    /// A colour, size, material or brand.
    Attribute,
}

#[derive(Debug, Clone)]
pub struct CompiledIntentRule {
    pub name: String,
    pub intent: IntentKind,
    pub priority: i32,
    pub patterns: Vec<Regex>,
    /// Any match vetoes the rule.
    pub unless: Vec<Regex>,
    /// The rule fires only when the request carries one of these (when
    /// non-empty).
    pub requires: Vec<Evidence>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceBound {
    Max,
    Min,
    Range,
}

#[derive(Debug, Clone)]
pub struct CompiledPriceRule {
    pub name: String,
    pub bound: PriceBound,
    pub pattern: Regex,
}

/// What a merchant message is doing, as recognised by a dialogue rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DialogueAct {
    AskSize,
    AskColor,
    AskQuantity,
    AskMaterial,
    AskAddress,
    /// Another question, answered with the rule's `reply` when it has one
    /// ("Is this a gift?" → "No, it is not a gift.").
    AskOther,
    /// Asks whether to go ahead with an order ("Want me to place the
    /// order?"): an offer, checked before any yes.
    AgreementQuestion,
    PaymentDeclined,
    /// The order is taken and the merchant collects payment itself.
    PaymentPending,
    Greeting,
    MerchantError,
    ConfirmQuestion,
    PriceQuote,
    InvoiceText,
    SubstituteOffered,
    OutOfStock,
    PaymentConfirmed,
    CancelConfirmed,
    DeclinedAck,
}

#[derive(Debug, Clone)]
pub struct CompiledDialogueRule {
    pub name: String,
    pub act: DialogueAct,
    pub patterns: Vec<Regex>,
    /// What Concierge answers (questions of act `ask_other`).
    pub reply: Option<String>,
}

/// A whole-request example with the slots it must produce.
#[derive(Debug, Clone)]
pub struct RequestExample {
    pub file: String,
    pub line: usize,
    pub text: String,
    pub intent: IntentKind,
    pub slots: BTreeMap<String, toml::Value>,
}

/// An example attached to a single rule: parsing `text` must fire `rule`.
#[derive(Debug, Clone)]
pub struct RuleExample {
    pub file: String,
    pub line: usize,
    pub rule: String,
    pub text: String,
}

/// Everything in `rules/`, compiled once.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    /// Sorted by descending priority, then file order.
    pub intents: Vec<CompiledIntentRule>,
    pub prices: Vec<CompiledPriceRule>,
    pub lexicon: Lexicon,
    pub stopwords: FastSet<String>,
    /// Currency symbol ("$") or word ("bucks") to ISO 4217 code.
    pub currency_symbols: HashMap<String, String>,
    pub currency_words: HashMap<String, String>,
    /// Every currency a symbol may stand for ("$": USD, CAD, AUD...).
    pub currency_symbol_codes: HashMap<String, Vec<String>>,
    pub dialogue: Vec<CompiledDialogueRule>,
    pub request_examples: Vec<RequestExample>,
    pub intent_examples: Vec<RuleExample>,
    pub price_examples: Vec<RuleExample>,
    pub dialogue_examples: Vec<(RuleExample, DialogueAct)>,
    /// Utterances on which an intent rule must not fire.
    pub intent_counter_examples: Vec<RuleExample>,
    /// Typo index over every single word of the lexicon, the currency words
    /// and the intent patterns' literal words.
    pub fuzzy: FuzzyIndex,
    /// Words typo correction leaves alone: stopwords, `known_words` and
    /// every vocabulary word.
    pub known_words: FastSet<String>,
    /// Nouns that head a product phrase whatever WordNet says of them
    /// (`product_nouns` in `words.toml`): "gift", "stroller".
    pub product_nouns: FastSet<String>,
    /// Every intent pattern in one automaton, so that a request is scanned
    /// once instead of once per pattern; `intent_set_start[i]` is the set
    /// index of rule `i`'s first pattern. `None` if the set could not be
    /// built (the parser then tries each pattern).
    pub intent_set: Option<RegexSet>,
    pub intent_set_start: Vec<usize>,
    /// Every price pattern, in rule order.
    pub price_set: Option<RegexSet>,
    /// Well-known brands of one word ([`brands`]): a maker's name only
    /// where it opens a product phrase ("tide pods"), since many are
    /// English words too. Brands of several words are in the lexicon.
    pub known_brands: FastSet<String>,
    /// Every word of the well-known brands: typo correction leaves them
    /// alone ("croix" is not a typo), but they stay unknown names
    /// otherwise, as a product's head or a maker's name.
    pub brand_words: FastSet<String>,
    /// Colour phrases that name a colour itself ("gray", "grey"), as
    /// opposed to a shade of it ("charcoal", "heather grey").
    pub exact_colors: FastSet<String>,
    /// The pattern of an amount of money in a merchant's text, built from
    /// the currency table on first use.
    merchant_money: std::sync::OnceLock<Regex>,
}

impl CompiledRules {
    /// Adds catalog vocabulary (brands, product types, colours, materials,
    /// sizes) to the lexicon and the typo index, so that a new merchant's
    /// brand is recognised without editing the rules. Each term is its own
    /// canonical value, except where the rules already give the phrase a
    /// meaning for that slot ("Grey" stays "gray"). Returns how many phrases
    /// were new.
    pub fn extend_lexicon<I, S>(&mut self, terms: I) -> usize
    where
        I: IntoIterator<Item = (LexSlot, S)>,
        S: AsRef<str>,
    {
        let mut added = 0;
        let mut new_words: Vec<String> = Vec::new();
        for (slot, term) in terms {
            let term = term.as_ref().trim();
            let phrase = normalize_phrase(term);
            if phrase.is_empty() || phrase.chars().count() > 80 {
                continue;
            }
            if self.lexicon.canonical(slot, &phrase).is_some() {
                continue;
            }
            // Catalog product types and colours are compared lowercase;
            // brands keep the merchant's spelling; a catalog's colour name
            // is a shade of the colour its words name ("Slate Blue" is a
            // blue).
            let canonical = match slot {
                LexSlot::Brand => term.split_whitespace().collect::<Vec<_>>().join(" "),
                LexSlot::Color => self
                    .color_by_words(&phrase)
                    .unwrap_or_else(|| phrase.clone()),
                _ => phrase.clone(),
            };
            self.lexicon.insert(&phrase, slot, &canonical);
            added += 1;
            for word in phrase.split(' ') {
                if !self.known_words.contains(word) {
                    self.known_words.insert(word.to_string());
                    new_words.push(word.to_string());
                }
            }
        }
        self.fuzzy.extend(new_words);
        added
    }

    /// The canonical colour for a colour label (a merchant's, a
    /// shopper's): the lexicon's value, else the colour its words name
    /// ("Slate Blue" → blue), else the label lowercased.
    pub fn canonical_color(&self, label: &str) -> String {
        self.lexicon
            .canonical(LexSlot::Color, label)
            .map(str::to_string)
            .or_else(|| self.color_by_words(label))
            .unwrap_or_else(|| label.trim().to_lowercase())
    }

    /// The canonical size for a size label ("Medium" → "M", "32" → "32",
    /// "28x30" → "28X30", "10 lbs" → "10 lb", "gallon" → "1 gal").
    pub fn canonical_size(&self, label: &str) -> String {
        // "age 8" is kids' size 8; "family size" the size "family".
        let label = label.trim();
        let lower = label.to_lowercase();
        let label = lower
            .strip_prefix("age ")
            .or_else(|| lower.strip_prefix("ages "))
            .filter(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
            .and_then(|rest| label.get(label.len() - rest.len()..))
            .or_else(|| {
                lower
                    .strip_suffix(" size")
                    .filter(|rest| {
                        !rest.is_empty() && self.lexicon.canonical(LexSlot::Size, label).is_none()
                    })
                    .and_then(|rest| label.get(..rest.len()))
            })
            .unwrap_or(label);
        self.lexicon
            .canonical(LexSlot::Size, label)
            .map(str::to_string)
            .or_else(|| measure::canonical(label))
            // "a gallon", "pint size": one of the unit.
            .or_else(|| {
                Some(label.trim())
                    .filter(|unit| unit.len() >= 3 && unit.chars().all(char::is_alphabetic))
                    .and_then(measure::unit)
                    .map(|unit| format!("1 {unit}"))
            })
            .unwrap_or_else(|| label.trim().to_uppercase())
    }

    /// The colour a multi-word colour name names by its words: the last
    /// word (or pair) the lexicon knows as a colour ("Slate Blue" → blue,
    /// "Heather Melange Grey" → gray). `None` when no word is a colour.
    pub fn color_by_words(&self, label: &str) -> Option<String> {
        let phrase = normalize_phrase(label);
        let words: Vec<&str> = phrase.split(' ').filter(|w| !w.is_empty()).collect();
        if words.len() < 2 || words.len() > 5 {
            return None;
        }
        for end in (1..=words.len()).rev() {
            for length in [2, 1] {
                if length > end {
                    continue;
                }
                let window = words[end - length..end].join(" ");
                if let Some(color) = self.lexicon.canonical(LexSlot::Color, &window) {
                    return Some(color.to_string());
                }
            }
        }
        None
    }

    /// Whether `label` is the colour `canonical` itself, not a shade of it:
    /// its name or a synonym from the rules ("grey" for gray), not
    /// "charcoal" or "Heather Grey".
    pub fn is_exact_color(&self, label: &str, canonical: &str) -> bool {
        let phrase = normalize_phrase(label);
        phrase == canonical.to_lowercase()
            || (self.exact_colors.contains(&phrase)
                && self.lexicon.canonical(LexSlot::Color, &phrase) == Some(canonical))
    }

    /// Takes the pattern sets built from the rule files, keeping each only
    /// if it holds exactly the compiled patterns in their order (it does
    /// whenever compiling succeeds; a size limit can leave a set `None`).
    fn set_sets(&mut self, intent_set: Option<RegexSet>, price_set: Option<RegexSet>) {
        let mut start = 0;
        self.intent_set_start.clear();
        for rule in &self.intents {
            self.intent_set_start.push(start);
            start += rule.patterns.len();
        }
        let intent_patterns = self
            .intents
            .iter()
            .flat_map(|rule| rule.patterns.iter().map(Regex::as_str));
        self.intent_set = intent_set.filter(|set| {
            set.patterns()
                .iter()
                .map(String::as_str)
                .eq(intent_patterns)
        });
        let price_patterns = self.prices.iter().map(|rule| rule.pattern.as_str());
        self.price_set =
            price_set.filter(|set| set.patterns().iter().map(String::as_str).eq(price_patterns));
    }

    /// Finishes compilation: builds the typo index and the known-word set.
    fn build_vocabulary(&mut self) {
        let mut vocabulary: Vec<String> = Vec::new();
        for phrase in self.lexicon.phrases.keys() {
            vocabulary.extend(phrase.split(' ').map(str::to_string));
        }
        vocabulary.extend(self.currency_words.keys().cloned());
        for rule in &self.intents {
            for pattern in &rule.patterns {
                vocabulary.extend(pattern_words(pattern.as_str()));
            }
        }
        vocabulary.sort();
        vocabulary.dedup();
        self.fuzzy = FuzzyIndex::build(vocabulary.iter());
        self.known_words.extend(vocabulary);
        self.known_words.extend(self.stopwords.iter().cloned());
    }
    /// Adds the well-known brands ([`brands`]): those of several words to
    /// the lexicon wherever the phrase has no meaning yet ("blue buffalo"
    /// is a brand, not the colour blue), those of one word to
    /// `known_brands`. Their words are `brand_words`, which typo correction
    /// leaves alone, but no typo targets: a misspelt word is never
    /// "corrected" into a brand.
    fn add_known_brands(&mut self) {
        for brand in brands::lines() {
            for spelling in brands::spellings(brand) {
                self.brand_words
                    .extend(spelling.split(' ').map(str::to_string));
                if spelling.contains(' ') {
                    if self.lexicon.lookup(&spelling).is_empty() {
                        self.lexicon.insert(&spelling, LexSlot::Brand, &spelling);
                    }
                } else {
                    self.known_brands.insert(spelling);
                }
            }
        }
    }

    /// The rules embedded in the binary. They are checked by the test suite,
    /// so failing to compile them is a build defect, reported as an error.
    pub fn embedded() -> Result<CompiledRules, RuleError> {
        compile(&embedded_sources())
    }

    /// The ISO code a currency symbol or word stands for.
    pub fn currency_code(&self, symbol_or_word: &str) -> Option<&str> {
        let key = symbol_or_word.trim().to_lowercase();
        self.currency_symbols
            .get(&key)
            .or_else(|| self.currency_words.get(&key))
            .map(String::as_str)
    }

    /// The reply to a merchant's question that a dialogue rule answers
    /// with fixed words ("Is this a gift?").
    pub fn fixed_reply(&self, text: &str) -> Option<&str> {
        let lower = text.to_lowercase();
        self.dialogue
            .iter()
            .filter(|rule| rule.act == DialogueAct::AskOther)
            .find(|rule| rule.patterns.iter().any(|p| p.is_match(&lower)))
            .and_then(|rule| rule.reply.as_deref())
    }

    /// The currency a symbol or code in a merchant's text stands for: the
    /// `expected` one (the merchant's own) when the symbol may mean it
    /// ("$" from a Canadian shop is CAD), else the symbol's default.
    pub fn currency_for(&self, symbol: &str, expected: Option<&str>) -> Option<String> {
        let key = symbol.trim().to_lowercase();
        if let Some(codes) = self.currency_symbol_codes.get(&key) {
            if let Some(expected) = expected.filter(|e| codes.iter().any(|c| c == e)) {
                return Some(expected.to_string());
            }
        }
        self.currency_code(&key).map(str::to_string).or_else(|| {
            // Any ISO code written out ("450 php", "KES 2,800").
            (key.len() == 3 && key.chars().all(|c| c.is_ascii_alphabetic()))
                .then(|| key.to_uppercase())
                .filter(|code| self.currency_words.contains_key(&code.to_lowercase()))
        })
    }

    /// An amount of money as merchants write it, with its currency mark
    /// before (`pre`, then `num1`) or after it (`num2`, then `post`): "$42",
    /// "£24.99", "EUR 45,00", "57,60 €", "₱2,500", "Rs 899", "450 php".
    pub fn merchant_money_pattern(&self) -> &Regex {
        self.merchant_money.get_or_init(|| {
            // Before a number a mark needs only a word start ("R129",
            // "Rs 899", "$42"); after one only a word end ("450 php").
            let marks = self.merchant_currency_marks();
            let alternation = |before: bool| -> String {
                marks
                    .iter()
                    .map(|mark| {
                        let escaped = regex::escape(mark);
                        let starts_alpha = mark.chars().next().is_some_and(char::is_alphabetic);
                        let ends_alpha = mark.chars().last().is_some_and(char::is_alphabetic);
                        match (before, starts_alpha, ends_alpha) {
                            (true, true, _) => format!(r"\b{escaped}"),
                            (false, _, true) => format!(r"{escaped}\b"),
                            _ => escaped,
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            };
            let (pre, post) = (alternation(true), alternation(false));
            // A number: thousands with , . or a non-breaking space, and one
            // or two decimals.
            let number = r"\d{1,3}(?:[,.\x{a0}\x{202f}]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?";
            let pattern = format!(
                r"(?i)(?P<pre>{pre})[\ \t\x{{a0}}]?(?P<num1>{number})|(?P<num2>{number})[\ \t\x{{a0}}]?(?P<post>{post})"
            );
            Regex::new(&pattern).unwrap_or_else(|_| {
                Regex::new(r"(?P<pre>[$€£])(?P<num1>\d+(?:[.,]\d{1,2})?)|(?P<num2>\d+)(?P<post>[€£])")
                    .expect("fixed pattern compiles")
            })
        })
    }

    /// Every symbol and ISO code merchants may write amounts with, longest
    /// first (for building the money pattern).
    pub fn merchant_currency_marks(&self) -> Vec<String> {
        let mut marks: Vec<String> = self.currency_symbol_codes.keys().cloned().collect();
        marks.extend(
            self.currency_words
                .iter()
                .filter(|(word, code)| word.len() == 3 && word.to_uppercase() == **code)
                .map(|(word, _)| word.clone()),
        );
        marks.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
        marks.dedup();
        marks
    }

    /// Every dialogue act whose rule matches `text`.
    pub fn dialogue_acts(&self, text: &str) -> Vec<(DialogueAct, &str)> {
        let lower = text.to_lowercase();
        self.dialogue
            .iter()
            .filter(|rule| rule.patterns.iter().any(|p| p.is_match(&lower)))
            .map(|rule| (rule.act, rule.name.as_str()))
            .collect()
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Compiles one pattern, reporting a failure at `span`.
fn compile_located(
    pattern: &str,
    span: std::ops::Range<usize>,
    problem: &mut dyn FnMut(std::ops::Range<usize>, String),
) -> Option<Regex> {
    match Regex::new(pattern) {
        Ok(regex) => Some(regex),
        Err(error) => {
            problem(
                span,
                format!(
                    "bad pattern: {}",
                    error.to_string().lines().last().unwrap_or("")
                ),
            );
            None
        }
    }
}

/// Compiles rule sources, collecting every problem with its file and line.
pub fn compile(sources: &[RuleSource]) -> Result<CompiledRules, RuleError> {
    let mut problems = Vec::new();
    let mut rules = CompiledRules {
        intents: Vec::new(),
        prices: Vec::new(),
        lexicon: Lexicon::default(),
        stopwords: FastSet::default(),
        currency_symbols: HashMap::new(),
        currency_words: HashMap::new(),
        currency_symbol_codes: HashMap::new(),
        dialogue: Vec::new(),
        request_examples: Vec::new(),
        intent_examples: Vec::new(),
        price_examples: Vec::new(),
        dialogue_examples: Vec::new(),
        intent_counter_examples: Vec::new(),
        fuzzy: FuzzyIndex::default(),
        known_words: FastSet::default(),
        product_nouns: FastSet::default(),
        intent_set: None,
        intent_set_start: Vec::new(),
        price_set: None,
        known_brands: FastSet::default(),
        brand_words: FastSet::default(),
        exact_colors: FastSet::default(),
        merchant_money: std::sync::OnceLock::new(),
    };
    let mut seen_names: HashMap<String, String> = HashMap::new();

    let mut parsed_files: Vec<(&RuleSource, RuleFile)> = Vec::with_capacity(sources.len());
    for source in sources {
        match toml::from_str::<RuleFile>(&source.text) {
            Ok(parsed) => parsed_files.push((source, parsed)),
            Err(error) => problems.push(RuleProblem {
                file: source.file.clone(),
                line: error
                    .span()
                    .map(|span| line_of(&source.text, span.start))
                    .unwrap_or(1),
                message: error.message().trim().to_string(),
            }),
        }
    }

    // The pattern sets take about a third of compiling; they are built on a
    // second thread while this one compiles each pattern on its own.
    let (set_patterns, price_patterns) = set_patterns(&parsed_files);
    std::thread::scope(|scope| {
        let sets = scope.spawn(|| {
            // The intent set's lazy DFA needs more than the default cache
            // for some requests; a full cache makes it start over on every
            // few bytes, at twenty times the cost (see `cargo bench --bench
            // parse`).
            (
                RegexSetBuilder::new(&set_patterns)
                    .dfa_size_limit(INTENT_SET_DFA_BYTES)
                    .build()
                    .ok(),
                RegexSet::new(&price_patterns).ok(),
            )
        });
        compile_files(&parsed_files, &mut rules, &mut problems, &mut seen_names);
        // Building a set cannot panic on valid input; if it ever did, the
        // parser still works without the sets.
        let (intent_set, price_set) = sets.join().unwrap_or((None, None));
        rules
            .intents
            .sort_by_key(|rule| std::cmp::Reverse(rule.priority));
        rules.build_vocabulary();
        rules.add_known_brands();
        rules.set_sets(intent_set, price_set);
    });
    if problems.is_empty() {
        Ok(rules)
    } else {
        Err(RuleError::Invalid(problems))
    }
}

/// The intent patterns in the order the compiled rules will have (by
/// priority, highest first, file order among equals) and the price patterns
/// in file order, as compiled. When a file has problems the sets are not
/// used: compiling fails.
fn set_patterns(parsed_files: &[(&RuleSource, RuleFile)]) -> (Vec<String>, Vec<String>) {
    let mut intents: Vec<(i32, Vec<String>)> = Vec::new();
    let mut prices = Vec::new();
    for (_, parsed) in parsed_files {
        for def in &parsed.intent {
            intents.push((
                def.priority,
                def.patterns
                    .iter()
                    .map(|p| ascii_classes(p.get_ref()))
                    .collect(),
            ));
        }
        for def in &parsed.price {
            prices.push(ascii_classes(def.pattern.get_ref()));
        }
    }
    intents.sort_by_key(|(priority, _)| std::cmp::Reverse(*priority));
    let intents = intents
        .into_iter()
        .flat_map(|(_, patterns)| patterns)
        .collect();
    (intents, prices)
}

/// Validates and compiles every parsed file into `rules`, collecting every
/// problem with its file and line.
fn compile_files(
    parsed_files: &[(&RuleSource, RuleFile)],
    rules: &mut CompiledRules,
    problems: &mut Vec<RuleProblem>,
    seen_names: &mut HashMap<String, String>,
) {
    for (source, parsed) in parsed_files {
        let file = source.file.as_str();
        let text = source.text.as_str();
        let mut problem = |span: std::ops::Range<usize>, message: String| {
            problems.push(RuleProblem {
                file: file.to_string(),
                line: line_of(text, span.start),
                message,
            })
        };
        let mut check_name =
            |name: &toml::Spanned<String>,
             problem: &mut dyn FnMut(std::ops::Range<usize>, String)| {
                let here = format!("{file}:{}", line_of(text, name.span().start));
                if name.get_ref().trim().is_empty() {
                    problem(name.span(), "rule name is empty".into());
                } else if let Some(previous) = seen_names.insert(name.get_ref().clone(), here) {
                    problem(
                        name.span(),
                        format!("rule name {:?} already used at {previous}", name.get_ref()),
                    );
                }
            };
        // Patterns on shopper and merchant text use ASCII word boundaries
        // and classes: the text is lowercased English shopping language,
        // and the Unicode tables make compiling and matching several times
        // slower.
        let compile_shopper_pattern =
            |pattern: &toml::Spanned<String>,
             problem: &mut dyn FnMut(std::ops::Range<usize>, String)| {
                compile_located(&ascii_classes(pattern.get_ref()), pattern.span(), problem)
            };

        for def in &parsed.intent {
            check_name(&def.name, &mut problem);
            let intent = match IntentKind::from_name(def.intent.get_ref()) {
                Some(intent) => intent,
                None => {
                    problem(def.intent.span(), format!("unknown intent {:?} (expected buy, search, order_status, cancel_order or none)", def.intent.get_ref()));
                    continue;
                }
            };
            if def.examples.is_empty() {
                problem(
                    def.name.span(),
                    format!("intent rule {:?} has no examples", def.name.get_ref()),
                );
            }
            let patterns: Vec<Regex> = def
                .patterns
                .iter()
                .filter_map(|p| compile_shopper_pattern(p, &mut problem))
                .collect();
            if def.patterns.is_empty() {
                problem(
                    def.name.span(),
                    format!("intent rule {:?} has no patterns", def.name.get_ref()),
                );
            }
            let unless: Vec<Regex> = def
                .unless
                .iter()
                .filter_map(|p| compile_shopper_pattern(p, &mut problem))
                .collect();
            let mut requires = Vec::new();
            for evidence in &def.requires {
                match evidence.get_ref().as_str() {
                    "product" => requires.push(Evidence::Product),
                    "thing" => requires.push(Evidence::Thing),
                    "owned_product" => requires.push(Evidence::OwnedProduct),
                    "price" => requires.push(Evidence::Price),
                    "attribute" => requires.push(Evidence::Attribute),
                    other => problem(
                        evidence.span(),
                        format!(
                            "unknown evidence {other:?} (expected product, thing, owned_product, price or attribute)"
                        ),
                    ),
                }
            }
            for example in &def.examples {
                rules.intent_examples.push(RuleExample {
                    file: file.to_string(),
                    line: line_of(text, example.span().start),
                    rule: def.name.get_ref().clone(),
                    text: example.get_ref().clone(),
                });
            }
            for example in &def.counter_examples {
                rules.intent_counter_examples.push(RuleExample {
                    file: file.to_string(),
                    line: line_of(text, example.span().start),
                    rule: def.name.get_ref().clone(),
                    text: example.get_ref().clone(),
                });
            }
            rules.intents.push(CompiledIntentRule {
                name: def.name.get_ref().clone(),
                intent,
                priority: def.priority,
                patterns,
                unless,
                requires,
            });
        }

        for def in &parsed.price {
            check_name(&def.name, &mut problem);
            let bound = match def.bound.get_ref().as_str() {
                "max" => PriceBound::Max,
                "min" => PriceBound::Min,
                "range" => PriceBound::Range,
                other => {
                    problem(
                        def.bound.span(),
                        format!("unknown bound {other:?} (expected max, min or range)"),
                    );
                    continue;
                }
            };
            let Some(pattern) = compile_shopper_pattern(&def.pattern, &mut problem) else {
                continue;
            };
            if !pattern.capture_names().any(|name| name == Some("amount")) {
                problem(
                    def.pattern.span(),
                    "price pattern needs a named group `amount`".into(),
                );
                continue;
            }
            if bound == PriceBound::Range
                && !pattern.capture_names().any(|name| name == Some("amount2"))
            {
                problem(
                    def.pattern.span(),
                    "range pattern needs a named group `amount2`".into(),
                );
                continue;
            }
            if def.examples.is_empty() {
                problem(
                    def.name.span(),
                    format!("price rule {:?} has no examples", def.name.get_ref()),
                );
            }
            for example in &def.examples {
                rules.price_examples.push(RuleExample {
                    file: file.to_string(),
                    line: line_of(text, example.span().start),
                    rule: def.name.get_ref().clone(),
                    text: example.get_ref().clone(),
                });
            }
            rules.prices.push(CompiledPriceRule {
                name: def.name.get_ref().clone(),
                bound,
                pattern,
            });
        }

        for def in &parsed.dialogue {
            check_name(&def.name, &mut problem);
            let act: DialogueAct = match serde_json::from_value(serde_json::Value::String(
                def.act.get_ref().clone(),
            )) {
                Ok(act) => act,
                Err(_) => {
                    problem(
                        def.act.span(),
                        format!("unknown dialogue act {:?}", def.act.get_ref()),
                    );
                    continue;
                }
            };
            let patterns: Vec<Regex> = def
                .patterns
                .iter()
                .filter_map(|p| compile_shopper_pattern(p, &mut problem))
                .collect();
            if def.examples.is_empty() {
                problem(
                    def.name.span(),
                    format!("dialogue rule {:?} has no examples", def.name.get_ref()),
                );
            }
            for example in &def.examples {
                rules.dialogue_examples.push((
                    RuleExample {
                        file: file.to_string(),
                        line: line_of(text, example.span().start),
                        rule: def.name.get_ref().clone(),
                        text: example.get_ref().clone(),
                    },
                    act,
                ));
            }
            if def.reply.is_some() && act != DialogueAct::AskOther {
                problem(
                    def.name.span(),
                    format!(
                        "dialogue rule {:?}: only ask_other rules have a reply",
                        def.name.get_ref()
                    ),
                );
            }
            rules.dialogue.push(CompiledDialogueRule {
                name: def.name.get_ref().clone(),
                act,
                patterns,
                reply: def.reply.as_ref().map(|r| r.get_ref().clone()),
            });
        }

        let lexicon_sections = [
            (&parsed.color, LexSlot::Color),
            (&parsed.size, LexSlot::Size),
            (&parsed.material, LexSlot::Material),
            (&parsed.brand, LexSlot::Brand),
            (&parsed.product, LexSlot::Product),
            (&parsed.audience, LexSlot::Audience),
        ];
        for (entries, slot) in lexicon_sections {
            for entry in entries {
                if entry.name.get_ref().trim().is_empty() {
                    problem(entry.name.span(), "lexicon entry with an empty name".into());
                    continue;
                }
                let canonical = entry.name.get_ref().trim();
                // Lowercase phrases map to the canonical value as written
                // (sizes are canonically upper case).
                rules.lexicon.insert(canonical, slot, canonical);
                for synonym in &entry.synonyms {
                    rules.lexicon.insert(synonym, slot, canonical);
                }
                for shade in &entry.shades {
                    rules.lexicon.insert(shade, slot, canonical);
                }
                if slot == LexSlot::Color {
                    // The colour itself, by any of its names: an exact
                    // match. Shades and catalog names are kinds of it.
                    for phrase in
                        std::iter::once(canonical).chain(entry.synonyms.iter().map(String::as_str))
                    {
                        rules.exact_colors.insert(normalize_phrase(phrase));
                    }
                }
            }
        }
        for word in &parsed.stopwords {
            rules.stopwords.insert(word.to_lowercase());
        }
        for word in &parsed.known_words {
            rules.known_words.insert(word.to_lowercase());
        }
        for word in &parsed.product_nouns {
            rules.product_nouns.insert(word.to_lowercase());
        }
        for currency in &parsed.currency {
            let code = currency.code.get_ref();
            if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
                problem(
                    currency.code.span(),
                    format!("currency code {code:?} is not an ISO 4217 code"),
                );
                continue;
            }
            for symbol in &currency.symbols {
                // The first currency to claim a symbol is its default.
                rules
                    .currency_symbols
                    .entry(symbol.to_lowercase())
                    .or_insert_with(|| code.clone());
                rules
                    .currency_symbol_codes
                    .entry(symbol.to_lowercase())
                    .or_default()
                    .push(code.clone());
            }
            for word in &currency.words {
                rules
                    .currency_words
                    .insert(word.to_lowercase(), code.clone());
            }
            rules
                .currency_words
                .insert(code.to_lowercase(), code.clone());
        }
        for example in &parsed.example {
            let Some(intent) = IntentKind::from_name(&example.intent) else {
                problem(
                    example.text.span(),
                    format!("example has unknown intent {:?}", example.intent),
                );
                continue;
            };
            rules.request_examples.push(RequestExample {
                file: file.to_string(),
                line: line_of(text, example.text.span().start),
                text: example.text.get_ref().clone(),
                intent,
                slots: example.slots.clone(),
            });
        }
    }
}
