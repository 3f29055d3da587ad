//! Search: a parsed request to offers across merchants.
//!
//! BM25 over title, categories, brand and description (stemmed), with the
//! product type required when the request names one; hard filters on price,
//! currency, stock and merchants; boosts for variants whose colour, size,
//! material and brand match. Hits are grouped to one offer per merchant
//! product (its best variant), and offers of the same product across
//! merchants are grouped by GTIN, else by brand and normalised title.

use super::index::{
    decode_variant, model_codes, stable_hash, strong_codes, CatalogIndex, SegmentColumns,
    StoredProduct, VariantAttributes,
};
use super::retrieve::{hash_all, ProductFilters, ProductPlan, ProximityBonus, ScoredTerm};
use crate::error::CatalogError;
use crate::intent::{Intent, ItemRequest};
use crate::money::Money;
use crate::rules::CompiledRules;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tantivy::query::PhraseQuery;
use tantivy::{DocAddress, Term};

/// Most candidate products read in the first stage.
const MAX_PRODUCT_HITS: usize = 2000;

/// Replaces `buffer`'s contents with `values`, keeping its allocation.
fn refill<T>(buffer: &mut Vec<T>, values: impl Iterator<Item = T>) {
    buffer.clear();
    buffer.extend(values);
}

/// What to look for: built from one item of a parsed request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// The shopper's product phrase ("turtleneck sweater").
    pub text: String,
    /// The canonical product type, required when present.
    pub product_type: Option<String>,
    /// Other names of the product type ("tee", "t shirt" for t-shirts): a
    /// product named by any of them is of the type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub type_names: Vec<String>,
    /// Who the product must be for (men, women, boys, girls, kids, baby,
    /// unisex): products a feed says are for someone else are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    pub color: Option<String>,
    /// The shade asked for ("heather grey"), when not the colour itself.
    #[serde(default)]
    pub color_shade: Option<String>,
    pub size: Option<String>,
    pub material: Option<String>,
    pub brand: Option<String>,
    pub excluded_colors: Vec<String>,
    /// Minor units of `currency`.
    pub max_price: Option<i64>,
    pub min_price: Option<i64>,
    pub currency: Option<String>,
    pub in_stock_only: bool,
    pub merchants_allowed: Option<Vec<String>>,
    pub merchants_denied: Vec<String>,
    /// Most offers returned.
    pub limit: usize,
    /// How text is scored; filters and attribute boosts are the same for both.
    #[serde(default)]
    pub ranker: Ranker,
}

impl SearchQuery {
    /// One line saying what is searched: words, attributes and filters.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{:?}", self.text)];
        if let Some(product_type) = &self.product_type {
            parts.push(format!("type {product_type}"));
        }
        for (name, value) in [
            ("colour", &self.color),
            ("size", &self.size),
            ("material", &self.material),
            ("brand", &self.brand),
        ] {
            if let Some(value) = value {
                parts.push(format!("{name} {value}"));
            }
        }
        if !self.excluded_colors.is_empty() {
            parts.push(format!("not {}", self.excluded_colors.join("/")));
        }
        let currency = self.currency.clone().unwrap_or_default();
        if let Some(min) = self.min_price {
            parts.push(format!("at least {}", Money::new(min, currency.clone())));
        }
        if let Some(max) = self.max_price {
            parts.push(format!("at most {}", Money::new(max, currency.clone())));
        }
        if self.in_stock_only {
            parts.push("in stock".into());
        }
        parts.join(", ")
    }
}

/// How the shopper's words are scored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ranker {
    /// Plain BM25: every word in every text field, all fields weighted alike.
    /// The baseline a developer would write first.
    Bm25,
    /// BM25 with field weights (title over categories over brand over
    /// description), fuzzy terms for words the index has never seen, a
    /// proximity boost when the words appear together in the title, and
    /// model numbers ("mq8n2b/a", "64gb") matched whole.
    #[default]
    Full,
}

impl Ranker {
    pub fn name(self) -> &'static str {
        match self {
            Ranker::Bm25 => "bm25",
            Ranker::Full => "full",
        }
    }
}

/// Text fields and their weights under the full ranker.
const FIELD_WEIGHTS: [(TextField, f32); 4] = [
    (TextField::Title, 3.0),
    (TextField::Categories, 2.0),
    (TextField::Brand, 1.5),
    (TextField::Description, 0.5),
];

#[derive(Debug, Clone, Copy)]
enum TextField {
    Title,
    Categories,
    Brand,
    Description,
}

/// A whole-title proximity match: words within this many positions.
const TITLE_PROXIMITY_SLOP: u32 = 3;
const TITLE_PROXIMITY_BOOST: f32 = 2.0;
const TITLE_BIGRAM_BOOST: f32 = 0.5;
/// Per model number shared by the request and the title.
const MODEL_CODE_BOOST: f32 = 2.5;
/// A fuzzy match counts for less than the word itself would.
const FUZZY_WEIGHT: f32 = 0.6;
/// Added when some variant in stock has the attribute asked for. A wrong
/// colour weighs more than a wrong size.
const COLOR_BOOST: f32 = 4.0;
const SIZE_BOOST: f32 = 3.0;
const MATERIAL_BOOST: f32 = 1.5;
const BRAND_BOOST: f32 = 2.0;

/// "Galaxy S9+" as merchants also write it, "Galaxy S9 Plus": a `+` right
/// after a letter or digit is the word "plus" (the tokenizer would drop it).
pub fn spell_out_plus(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous: Option<char> = None;
    for c in text.chars() {
        if c == '+' && previous.is_some_and(char::is_alphanumeric) {
            out.push_str(" plus ");
        } else {
            out.push(c);
        }
        previous = Some(c);
    }
    out
}

/// Edit distance allowed for a word the index does not know: none under 4
/// characters (too many short words are one edit apart), 1 from 4, 2 from 8.
pub fn fuzzy_distance(term: &str) -> u8 {
    match term.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

impl SearchQuery {
    /// The query for one item of a parsed request, with its price bounds.
    pub fn for_item(intent: &Intent, item: &ItemRequest) -> SearchQuery {
        // The brand's words are searched with the product's: a name the
        // parser took for a brand may be in the title ("CoolTech hoodie").
        let product = item.product.clone().unwrap_or_default();
        let text = match &item.brand {
            Some(brand) if !product.to_lowercase().contains(&brand.to_lowercase()) => {
                format!("{brand} {product}")
            }
            _ => product,
        };
        SearchQuery {
            text,
            product_type: item.product_type.clone(),
            type_names: Vec::new(),
            audience: item.audience.clone(),
            color: item.color.clone(),
            color_shade: item.color_shade.clone(),
            size: item.size.clone(),
            material: item.material.clone(),
            brand: item.brand.clone(),
            excluded_colors: item.excluded_colors.clone(),
            max_price: intent.max_price,
            min_price: intent.min_price,
            currency: Some(intent.currency.clone().unwrap_or_else(|| "USD".into())),
            in_stock_only: true,
            merchants_allowed: None,
            merchants_denied: Vec::new(),
            limit: 20,
            ranker: Ranker::Full,
        }
    }

    /// Adds the lexicon's other names for the query's product type.
    pub fn with_type_names(mut self, rules: &CompiledRules) -> SearchQuery {
        if let Some(product_type) = &self.product_type {
            self.type_names = rules
                .lexicon
                .product_names(product_type)
                .iter()
                .filter(|name| *name != product_type)
                .cloned()
                .collect();
        }
        self
    }
}

/// The queries for a parsed request: one per item; when the parser found no
/// item (a bare model name such as "iphone 8 plus 64gb"), the whole text with
/// the request's price bounds.
pub fn queries_for_request(intent: &Intent) -> Vec<SearchQuery> {
    if !intent.items.is_empty() {
        return intent
            .items
            .iter()
            .map(|item| SearchQuery::for_item(intent, item))
            .collect();
    }
    let mut query = SearchQuery::for_item(intent, &ItemRequest::default());
    query.text = intent.text.clone();
    query.currency = intent.currency.clone();
    vec![query]
}

/// One merchant's offer of one product, at its best-matching variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub merchant_id: String,
    pub product_id: String,
    pub product_title: String,
    pub brand: String,
    pub variant_id: String,
    pub variant_title: String,
    /// As the merchant writes it ("Heather Grey").
    pub color_label: Option<String>,
    /// Canonical ("gray").
    pub color: Option<String>,
    pub size_label: Option<String>,
    pub size: Option<String>,
    pub material: Option<String>,
    pub price: Money,
    pub in_stock: bool,
    pub gtin: Option<String>,
    pub url: String,
    pub score: f32,
    /// Whether the variant has the colour / size asked for (`None`: not asked).
    pub color_matches: Option<bool>,
    pub size_matches: Option<bool>,
    /// Whether its colour is exactly the one asked ("Gray"), not a shade
    /// of it ("Charcoal"); `None`: no colour asked.
    #[serde(default)]
    pub color_exact: Option<bool>,
    /// The shopper's words for what they want, beyond the product's type,
    /// that the product's title, description, categories and materials do
    /// not hold ("lightweight" of "lightweight hoodie").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_words: Vec<String>,
    /// How many of those words the product's title does not hold (held
    /// elsewhere or not at all): a title saying "Running Short" is a closer
    /// match for "running shorts" than a description mentioning a run.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub words_outside_title: usize,
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl Offer {
    /// True when the variant has every option the shopper asked for.
    pub fn matches_request(&self) -> bool {
        self.color_matches != Some(false) && self.size_matches != Some(false)
    }

    /// "Heather Grey / M", or what is known.
    pub fn variant_label(&self) -> String {
        [self.color_label.clone(), self.size_label.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// Offers, best first, and groups of offers of the same product.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    pub offers: Vec<Offer>,
    /// Each group lists indexes into `offers` of the same product across
    /// merchants; groups are ordered by their best offer.
    pub groups: Vec<Vec<usize>>,
}

impl CatalogIndex {
    /// Runs `query` and returns grouped offers, in two stages. First the
    /// products (`top_products`): text scored on one document per product,
    /// with product-level filters and boosts. Then, for the best of those, their
    /// variants with the exact filters (in stock, currency, price,
    /// excluded colours), keeping each product's best variant. Only integer
    /// fast fields are read until the few offers returned are loaded.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults, CatalogError> {
        let searcher = self.reader.searcher();
        let plan = self.product_plan(query, &searcher)?;
        let limit = query.limit.max(1);
        // Some candidate products turn out to have no variant passing the
        // exact filters; read a few times more than wanted, and more again
        // when that was not enough.
        let mut window = (limit * 3).max(30);
        let best = loop {
            let products = self.top_products(&searcher, &plan, window)?;
            let exhausted = products.len() < window || window >= MAX_PRODUCT_HITS;
            let best = self.best_variants(&searcher, &products, query, limit)?;
            if best.len() >= limit || exhausted {
                break best;
            }
            window = (window * 4).min(MAX_PRODUCT_HITS);
        };
        let descriptive = self.descriptive_words(query)?;
        let held = self.words_held(&searcher, &best, &descriptive)?;
        let mut offers = Vec::with_capacity(best.len());
        for (at, (score, address, variant, shade)) in best.into_iter().enumerate() {
            let product = self.documents.get(&searcher, &self.fields, address)?;
            // A shade asked for ("heather grey"): that variant of the
            // product, when it has one, over the colour itself.
            let (variant, shade) = match query.color_shade.as_deref() {
                Some(asked) => shade_variant(&product, query, asked)
                    .map_or((variant, shade), |position| (position, true)),
                None => (variant, shade),
            };
            if let Some(mut offer) = offer_from(&product, variant, score, query, shade) {
                offer.missing_words = descriptive
                    .iter()
                    .zip(&held[at])
                    .filter(|(_, (anywhere, _))| !anywhere)
                    .map(|((word, _), _)| word.clone())
                    .collect();
                offer.words_outside_title = held[at].iter().filter(|(_, title)| !title).count();
                offers.push(offer);
            }
        }
        let groups = group_offers(&offers);
        Ok(SearchResults { offers, groups })
    }

    /// The second stage: for the candidate products (best first), each
    /// one's best variant passing the exact filters (in stock, currency,
    /// price, excluded colours), at most `limit`, as (product score, product
    /// document, variant position, whether its colour is a shade). A product
    /// whose variant has the colour and size asked for ranks before one
    /// without, one whose colour is exactly the one asked ("Gray") before a
    /// shade of it ("Charcoal"), then by product score; within a product the
    /// matching variant wins, the exact colour before a shade, then the
    /// cheaper.
    ///
    /// The variants are read from the product's integer columns: no
    /// postings, no stored documents.
    fn best_variants(
        &self,
        searcher: &tantivy::Searcher,
        products: &[(f32, DocAddress)],
        query: &SearchQuery,
        limit: usize,
    ) -> Result<Vec<(f32, DocAddress, usize, bool)>, CatalogError> {
        let mut segments: HashMap<u32, Arc<SegmentColumns>> = HashMap::new();
        let wanted_color = query.color.as_deref().map(stable_hash);
        let wanted_size = query.size.as_deref().map(stable_hash);
        let wanted_currency = query.currency.as_deref().map(stable_hash);
        let excluded: Vec<u64> = query
            .excluded_colors
            .iter()
            .map(|c| stable_hash(c))
            .collect();
        let (min_price, max_price) = (
            query.min_price.unwrap_or(i64::MIN),
            query.max_price.unwrap_or(i64::MAX),
        );
        let mut ranked: Vec<(u8, bool, usize, f32, DocAddress, usize)> = Vec::new();
        let mut exact_matches = 0;
        let (mut prices, mut attributes, mut currencies, mut colors, mut sizes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (rank, (score, address)) in products.iter().enumerate() {
            let columns = match segments.entry(address.segment_ord) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => entry.insert(
                    self.columns
                        .get(searcher.segment_reader(address.segment_ord))?,
                ),
            };
            let doc = address.doc_id;
            refill(&mut prices, columns.variant_price.values_for_doc(doc));
            refill(
                &mut attributes,
                columns.variant_attributes.values_for_doc(doc),
            );
            refill(&mut currencies, columns.currency.values_for_doc(doc));
            refill(&mut colors, columns.variant_colors.values_for_doc(doc));
            refill(&mut sizes, columns.variant_sizes.values_for_doc(doc));
            let mut best: Option<(u8, bool, i64, usize)> = None;
            for (position, &price) in prices.iter().enumerate() {
                let variant = VariantAttributes::unpack(
                    attributes.get(position).copied().unwrap_or_default(),
                );
                let color = VariantAttributes::pick(&colors, variant.color);
                let size = VariantAttributes::pick(&sizes, variant.size);
                let currency = VariantAttributes::pick(&currencies, variant.currency);
                let passes = (!query.in_stock_only || variant.in_stock)
                    && wanted_currency.is_none_or(|c| currency == c)
                    && price >= min_price
                    && price <= max_price
                    && !excluded.contains(&color);
                if !passes {
                    continue;
                }
                // A wrong colour weighs more than a wrong size, as the
                // boosts do: asked for a red parka in M, the red S beats the
                // blue M.
                let miss = |value: u64, wanted: Option<u64>| {
                    wanted.map_or(0u8, |wanted| u8::from(value != wanted))
                };
                // A product that comes in one size only (no size option: a
                // "65 cm" ball) is not the wrong size; its title says
                // which it is (see `descriptive_words`).
                let size_miss = if sizes.is_empty() {
                    0
                } else {
                    miss(size, wanted_size)
                };
                let candidate = (
                    2 * miss(color, wanted_color) + size_miss,
                    wanted_color.is_some() && variant.shade,
                    price,
                    position,
                );
                if best.is_none_or(|current| candidate < current) {
                    best = Some(candidate);
                }
            }
            if let Some((mismatches, shade, _, position)) = best {
                ranked.push((mismatches, shade, rank, *score, *address, position));
                if mismatches == 0 && !shade {
                    exact_matches += 1;
                    // Candidates come best first: later ones cannot beat
                    // `limit` exact matches already found.
                    if exact_matches >= limit {
                        break;
                    }
                }
            }
        }
        ranked.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        Ok(ranked
            .into_iter()
            .take(limit)
            .map(|(_, shade, _, score, address, position)| (score, address, position, shade))
            .collect())
    }

    /// The words of the shopper's product phrase that say more than its
    /// type ("lightweight", "full", "zip" of "lightweight full zip
    /// hoodie"), as (word, index term); function words and the type's
    /// names left out.
    fn descriptive_words(
        &self,
        query: &SearchQuery,
    ) -> Result<Vec<(String, String)>, CatalogError> {
        const FUNCTION_WORDS: [&str; 12] = [
            "a", "an", "and", "the", "of", "for", "with", "in", "on", "to", "or", "my",
        ];
        // The words of the type's shortest names ("shorts", "tee"), not of
        // names that add to them: "running" of "running shorts" still says
        // which shorts.
        let mut names = Vec::new();
        for name in query.product_type.iter().chain(&query.type_names) {
            names.push(self.text_terms(name)?);
        }
        let type_terms: Vec<&String> = names
            .iter()
            .filter(|terms| {
                !names.iter().any(|other| {
                    other.len() < terms.len() && other.iter().all(|w| terms.contains(w))
                })
            })
            .flatten()
            .collect();
        let mut words: Vec<(String, String)> = Vec::new();
        // A measure asked for ("65 cm") is in the title of a product that
        // comes in one size ("Sprite Stasis Ball 65 cm").
        let measure = query
            .size
            .as_deref()
            .filter(|size| crate::rules::measure::canonical(size).is_some());
        let text = match measure {
            Some(measure) => format!("{} {measure}", query.text),
            None => query.text.clone(),
        };
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let word = word.to_lowercase();
            if FUNCTION_WORDS.contains(&word.as_str()) {
                continue;
            }
            for term in self.text_terms(&word)? {
                if !type_terms.contains(&&term) && !words.iter().any(|(_, t)| *t == term) {
                    words.push((word.clone(), term));
                }
            }
        }
        Ok(words)
    }

    /// For each product of `best` and each of `words`: whether its title,
    /// description, categories or materials hold the word, and whether its
    /// title does.
    fn words_held(
        &self,
        searcher: &tantivy::Searcher,
        best: &[(f32, DocAddress, usize, bool)],
        words: &[(String, String)],
    ) -> Result<Vec<Vec<(bool, bool)>>, CatalogError> {
        let mut held = vec![vec![(false, false); words.len()]; best.len()];
        if words.is_empty() {
            return Ok(held);
        }
        // Postings are read forwards: each segment's products in document order.
        let mut order: Vec<usize> = (0..best.len()).collect();
        order.sort_by_key(|&i| (best[i].1.segment_ord, best[i].1.doc_id));
        let fields = [
            self.fields.title,
            self.fields.description,
            self.fields.categories,
            self.fields.materials,
        ];
        for chunk in order.chunk_by(|&a, &b| best[a].1.segment_ord == best[b].1.segment_ord) {
            let segment = searcher.segment_reader(best[chunk[0]].1.segment_ord);
            for (w, (_, term)) in words.iter().enumerate() {
                for field in fields {
                    let term = Term::from_field_text(field, term);
                    let Some(mut postings) = super::index::term_postings(
                        segment,
                        &term,
                        tantivy::schema::IndexRecordOption::Basic,
                    )?
                    else {
                        continue;
                    };
                    for &i in chunk {
                        let doc = best[i].1.doc_id;
                        if tantivy::DocSet::doc(&postings) < doc {
                            tantivy::DocSet::seek(&mut postings, doc);
                        }
                        if tantivy::DocSet::doc(&postings) == doc {
                            held[i][w].0 = true;
                            held[i][w].1 |= field == self.fields.title;
                        }
                    }
                }
            }
        }
        Ok(held)
    }

    fn text_terms(&self, text: &str) -> Result<Vec<String>, CatalogError> {
        let mut analyzer = self.index.tokenizer_for_field(self.fields.title)?;
        let mut stream = analyzer.token_stream(text);
        let mut terms = Vec::new();
        while stream.advance() {
            let term = stream.token().text.clone();
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
        Ok(terms)
    }

    fn field(&self, field: TextField) -> tantivy::schema::Field {
        match field {
            TextField::Title => self.fields.title,
            TextField::Categories => self.fields.categories,
            TextField::Brand => self.fields.brand,
            TextField::Description => self.fields.description,
        }
    }

    /// The index's terms for one of the shopper's words: the word in each
    /// text field that holds it, weighted by field under the full ranker.
    /// Under the full ranker a word that no field holds is looked up
    /// fuzzily instead (a typo cannot match exactly anyway), in the title
    /// and categories, counting for less.
    fn word_terms(
        &self,
        word: &str,
        ranker: Ranker,
        searcher: &tantivy::Searcher,
    ) -> Result<Vec<ScoredTerm>, CatalogError> {
        let mut terms = Vec::new();
        for (field, weight) in FIELD_WEIGHTS {
            let term = Term::from_field_text(self.field(field), word);
            let doc_freq = searcher.doc_freq(&term)?;
            // A field without the word would add nothing but a branch.
            if doc_freq == 0 {
                continue;
            }
            let weight = match ranker {
                Ranker::Bm25 => 1.0,
                Ranker::Full => weight,
            };
            terms.push(ScoredTerm {
                term,
                weight,
                doc_freq,
            });
        }
        let distance = fuzzy_distance(word);
        if ranker == Ranker::Full && terms.is_empty() && distance > 0 {
            for (field, weight) in FIELD_WEIGHTS.into_iter().take(2) {
                for (term, doc_freq) in
                    self.fuzzy_expansions(searcher, self.field(field), word, distance)?
                {
                    terms.push(ScoredTerm {
                        term,
                        weight: weight * FUZZY_WEIGHT,
                        doc_freq,
                    });
                }
            }
        }
        Ok(terms)
    }

    /// What the first stage judges products on (see `retrieve`): the words
    /// scored, the words required, the bonuses and the filters.
    ///
    /// The product type must match, every word of it, or else every word
    /// the shopper used for it: a catalog calling t-shirts "tee" still
    /// answers "tee", which the lexicon files under type "t-shirt". Without
    /// a type, any of the shopper's words will do, and more of them rank
    /// higher.
    pub(crate) fn product_plan(
        &self,
        query: &SearchQuery,
        searcher: &tantivy::Searcher,
    ) -> Result<ProductPlan, CatalogError> {
        let fields = &self.fields;
        let text = match query.ranker {
            Ranker::Bm25 => query.text.clone(),
            Ranker::Full => spell_out_plus(&query.text),
        };
        let phrase_terms = self.text_terms(&text)?;
        let type_terms = match &query.product_type {
            Some(product_type) => self.text_terms(product_type)?,
            None => Vec::new(),
        };
        // Each other name of the type is another way in ("tee" for a
        // t-shirt); a name holding all the words of a shorter one adds
        // nothing ("running shorts" beside "shorts").
        let mut name_terms: Vec<Vec<String>> = vec![type_terms.clone()];
        if !type_terms.is_empty() {
            for name in &query.type_names {
                let terms = self.text_terms(name)?;
                if !terms.is_empty() && !name_terms.contains(&terms) {
                    name_terms.push(terms);
                }
            }
        }
        let name_terms: Vec<Vec<String>> = name_terms
            .iter()
            .filter(|terms| {
                !name_terms.iter().any(|other| {
                    other.len() < terms.len() && other.iter().all(|w| terms.contains(w))
                })
            })
            .cloned()
            .collect();
        if phrase_terms.is_empty() && type_terms.is_empty() {
            return Err(CatalogError::Query(
                "the request names no product to search for".into(),
            ));
        }
        let mut word_terms: HashMap<&str, Vec<ScoredTerm>> = HashMap::new();
        let mut plan = ProductPlan::default();
        for word in name_terms.iter().flatten().chain(&phrase_terms) {
            if word_terms.contains_key(word.as_str()) {
                continue;
            }
            let terms = self.word_terms(word, query.ranker, searcher)?;
            for scored in &terms {
                // Each (word, field) is scored once.
                if !plan.scored.iter().any(|s| s.term == scored.term) {
                    plan.scored.push(scored.clone());
                }
            }
            word_terms.insert(word, terms);
        }
        if !type_terms.is_empty() {
            // (words, whether every word must be in the title or categories)
            let mut alternatives: Vec<(&Vec<String>, bool)> = name_terms
                .iter()
                .map(|terms| (terms, *terms != type_terms))
                .collect();
            // All the shopper's words as the other way in, unless they
            // include one name's words: a product holding them all holds
            // that name's anyway.
            if !phrase_terms.is_empty()
                && !name_terms
                    .iter()
                    .any(|name| name.iter().all(|t| phrase_terms.contains(t)))
            {
                alternatives.push((&phrase_terms, false));
            }
            // The head of each way in (its last word: "bag" of "gym bag")
            // counts in the title or categories: a description mentioning
            // "your gym bag" does not make a tank top a bag. The other words
            // of the type's name or the shopper's may be anywhere
            // ("resistance" of a "Tone Band" for resistance bands). Another
            // name of the type counts whole in the title or categories: a
            // capri whose description mentions yoga, filed under pants, is
            // not the "yoga pants" that leggings are also called.
            let names_field =
                |term: &Term| term.field() == fields.title || term.field() == fields.categories;
            plan.required = alternatives
                .into_iter()
                .map(|(words, whole_in_names)| {
                    let head = words.len().saturating_sub(1);
                    words
                        .iter()
                        .enumerate()
                        .map(|(at, word)| {
                            word_terms
                                .get(word.as_str())
                                .map(|terms| {
                                    terms
                                        .iter()
                                        .filter(|s| {
                                            (at != head && !whole_in_names) || names_field(&s.term)
                                        })
                                        .map(|s| s.term.clone())
                                        .collect()
                                })
                                .unwrap_or_default()
                        })
                        .collect()
                })
                .collect();
        }
        if query.ranker == Ranker::Full {
            // The words close together in the title: "iphone 8 plus" should
            // rank a title saying exactly that over one with the words
            // scattered through it. Only for free text (no product type):
            // when a type is known and all its words are required, word
            // order adds little.
            let free_text = type_terms.is_empty();
            if free_text && phrase_terms.len() >= 2 {
                let terms: Vec<(usize, Term)> = phrase_terms
                    .iter()
                    .enumerate()
                    .map(|(offset, term)| (offset, Term::from_field_text(fields.title, term)))
                    .collect();
                plan.proximity.push(ProximityBonus {
                    query: PhraseQuery::new_with_offset_and_slop(terms, TITLE_PROXIMITY_SLOP),
                    boost: TITLE_PROXIMITY_BOOST,
                });
            }
            // Each pair of neighbouring words also next to each other in the
            // title ("8 plus"), so a title with most of the request in order
            // beats one with the same words apart.
            if free_text && phrase_terms.len() >= 3 {
                for pair in phrase_terms.windows(2) {
                    let terms = vec![
                        (0, Term::from_field_text(fields.title, &pair[0])),
                        (1, Term::from_field_text(fields.title, &pair[1])),
                    ];
                    plan.proximity.push(ProximityBonus {
                        query: PhraseQuery::new_with_offset_and_slop(terms, 1),
                        boost: TITLE_BIGRAM_BOOST,
                    });
                }
            }
            // Each code the request shares with a title scores its inverse
            // document frequency (a rare "kd75xf8596" far above "64gb"), but
            // with no length normalisation: a long title with many codes
            // must not dilute an exact model-number match.
            let n_docs = searcher.num_docs() as f32;
            for code in model_codes(&text) {
                let term = Term::from_field_text(fields.codes, &code);
                let doc_freq = searcher.doc_freq(&term)? as f32;
                if doc_freq == 0.0 {
                    continue;
                }
                let idf = (1.0 + (n_docs - doc_freq + 0.5) / (doc_freq + 0.5)).ln();
                plan.codes.push((term, MODEL_CODE_BOOST * idf));
            }
        }
        // Product-level filters on each product's summary; the exact
        // variant-level filters are applied in the second stage.
        plan.filters = ProductFilters {
            in_stock_only: query.in_stock_only,
            currency: query.currency.as_deref().map(stable_hash),
            max_price: query.max_price,
            min_price: query.min_price,
            merchants_allowed: query.merchants_allowed.as_deref().map(hash_all),
            merchants_denied: hash_all(&query.merchants_denied),
            audience: query
                .audience
                .as_deref()
                .and_then(super::audience::AudienceFilter::for_audience),
        };
        let lowercase = |value: &Option<String>| value.as_ref().map(|v| v.trim().to_lowercase());
        let attributes = [
            (fields.product_color, query.color.clone(), COLOR_BOOST),
            (fields.product_size, query.size.clone(), SIZE_BOOST),
            (
                fields.product_material,
                lowercase(&query.material),
                MATERIAL_BOOST,
            ),
            (fields.brand_exact, lowercase(&query.brand), BRAND_BOOST),
        ];
        for (field, value, boost) in attributes {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                plan.attributes
                    .push((Term::from_field_text(field, &value), boost));
            }
        }
        // The attributes alone do not make a product a match: without a
        // type to require, one of the shopper's words must be there.
        if plan.required.is_empty() && !plan.attributes.is_empty() {
            let any_word: Vec<Term> = plan.scored.iter().map(|s| s.term.clone()).collect();
            plan.required = vec![vec![any_word]];
        }
        // A material asked for is required, every word of it, in the
        // title, description, categories or a variant's material: asked
        // "cotton", "Organic Cotton" is cotton; asked "organic cotton",
        // plain "Cotton" is not.
        if let Some(material) = query.material.as_deref().filter(|m| !m.trim().is_empty()) {
            let material_words: Vec<Vec<Term>> = self
                .text_terms(material)?
                .iter()
                .map(|word| {
                    [
                        fields.title,
                        fields.description,
                        fields.categories,
                        fields.materials,
                    ]
                    .into_iter()
                    .map(|field| Term::from_field_text(field, word))
                    .collect()
                })
                .collect();
            if plan.required.is_empty() {
                plan.required.push(Vec::new());
            }
            for alternative in &mut plan.required {
                alternative.extend(material_words.iter().cloned());
            }
        }
        Ok(plan)
    }
}

/// The position of `product`'s variant in the shade `asked` ("heather
/// grey"), in the size asked, in stock and within the price and currency
/// asked; `None` when it has none.
fn shade_variant(product: &StoredProduct, query: &SearchQuery, asked: &str) -> Option<usize> {
    (0..crate::catalog::feed::MAX_VARIANTS_PER_PRODUCT)
        .map_while(|position| decode_variant(&product.variants, position).map(|v| (position, v)))
        .find(|(_, variant)| {
            variant
                .color_label
                .as_deref()
                .is_some_and(|label| label.trim().to_lowercase() == asked)
                && query
                    .size
                    .as_ref()
                    .is_none_or(|size| variant.size.as_ref() == Some(size))
                && (!query.in_stock_only || variant.in_stock)
                && query
                    .currency
                    .as_ref()
                    .is_none_or(|c| *c == variant.currency)
                && query.max_price.is_none_or(|max| variant.price <= max)
                && query.min_price.is_none_or(|min| variant.price >= min)
        })
        .map(|(position, _)| position)
}

/// The offer of variant `position` of `product`.
fn offer_from(
    product: &StoredProduct,
    position: usize,
    score: f32,
    query: &SearchQuery,
    shade: bool,
) -> Option<Offer> {
    let variant = decode_variant(&product.variants, position)?;
    let color_exact = query.color.as_ref().map(|wanted| {
        let same_colour = variant.color.as_ref() == Some(wanted);
        match query.color_shade.as_deref() {
            Some(asked) => {
                same_colour
                    && variant
                        .color_label
                        .as_deref()
                        .is_some_and(|label| label.trim().to_lowercase() == asked)
            }
            None => same_colour && !shade,
        }
    });
    Some(Offer {
        color_exact,
        merchant_id: product.merchant_id.clone(),
        product_id: product.product_id.clone(),
        product_title: product.title.clone(),
        brand: product.brand.clone(),
        variant_id: variant.id,
        variant_title: variant.title,
        color_label: variant.color_label,
        size_label: variant.size_label,
        material: variant.material,
        price: Money::new(variant.price, variant.currency),
        in_stock: variant.in_stock,
        gtin: variant.gtin,
        url: product.url.clone(),
        score,
        color_matches: query
            .color
            .as_ref()
            .map(|wanted| variant.color.as_ref() == Some(wanted)),
        // No size option: the product comes in one size (see `best_variants`).
        size_matches: query
            .size
            .as_ref()
            .filter(|_| variant.size.is_some())
            .map(|wanted| variant.size.as_ref() == Some(wanted)),
        color: variant.color,
        size: variant.size,
        missing_words: Vec::new(),
        words_outside_title: 0,
    })
}

/// Runs `query` on every index and ranks the offers together by score
/// (ties in index order), at most `query.limit`, grouped again across
/// indexes. One index is searched as it is.
pub fn search_all(
    indexes: &[Arc<super::CatalogIndex>],
    query: &SearchQuery,
) -> Result<SearchResults, CatalogError> {
    if let [index] = indexes {
        return index.search(query);
    }
    let mut offers = Vec::new();
    for index in indexes {
        offers.extend(index.search(query)?.offers);
    }
    // As within one index: offers with the variant asked for first.
    offers.sort_by(|a, b| {
        b.matches_request()
            .cmp(&a.matches_request())
            .then(b.score.total_cmp(&a.score))
    });
    offers.truncate(query.limit.max(1));
    let groups = group_offers(&offers);
    Ok(SearchResults { offers, groups })
}

/// Groups offers of the same product across merchants: same GTIN; else
/// same brand and normalised title, when that title can name one product
/// (it has a brand or a model number: "built in dishwasher" cannot); else a
/// shared model number such as "kd75xf8596" under the same brand. Groups
/// are ordered by their best offer, members in offer order.
pub fn group_offers(offers: &[Offer]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..offers.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first_with_key: HashMap<String, usize> = HashMap::new();
    for (index, offer) in offers.iter().enumerate() {
        let mut keys = Vec::new();
        match &offer.gtin {
            Some(gtin) if !gtin.is_empty() => keys.push(format!("gtin:{gtin}")),
            _ => {
                let brand = normalize_title(&offer.brand);
                let title = normalize_title(&offer.product_title);
                let codes = strong_codes(&title);
                if !brand.is_empty() || !codes.is_empty() {
                    keys.push(format!("title:{brand}|{title}"));
                }
                keys.extend(codes.into_iter().map(|code| format!("code:{brand}|{code}")));
            }
        }
        for key in keys {
            match first_with_key.get(&key) {
                Some(&other) => {
                    let (a, b) = (root(&mut parent, index), root(&mut parent, other));
                    // The earlier offer stays the root, so groups keep the
                    // order of their best offer.
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    first_with_key.insert(key, index);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for index in 0..offers.len() {
        let group = root(&mut parent, index);
        groups.entry(group).or_default().push(index);
    }
    groups.into_values().collect()
}

fn normalize_title(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl SearchResults {
    /// Groups of the same product with their offers side by side, cheapest
    /// first within a group.
    pub fn render(&self) -> String {
        if self.offers.is_empty() {
            return "No offers found.\n".into();
        }
        let mut out = String::new();
        for (number, group) in self.groups.iter().enumerate() {
            let Some(first) = group.first().and_then(|i| self.offers.get(*i)) else {
                continue;
            };
            let merchants = if group.len() == 1 {
                "1 merchant".to_string()
            } else {
                format!("{} merchants", group.len())
            };
            let brand = if first.brand.is_empty() {
                String::new()
            } else {
                format!(" ({})", first.brand)
            };
            out.push_str(&format!(
                "{:>2}. {}{brand}: {merchants}\n",
                number + 1,
                first.product_title
            ));
            let mut offers: Vec<&Offer> =
                group.iter().filter_map(|i| self.offers.get(*i)).collect();
            offers.sort_by_key(|offer| offer.price.minor);
            for offer in offers {
                let variant = offer.variant_label();
                out.push_str(&format!(
                    "      {:<14} {:>10}  {:<24} {:<14} score {:.2}{}\n",
                    offer.merchant_id,
                    offer.price.to_string(),
                    if variant.is_empty() {
                        "-"
                    } else {
                        variant.as_str()
                    },
                    offer.product_id,
                    offer.score,
                    if offer.matches_request() {
                        ""
                    } else {
                        "  (other variant)"
                    }
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_after_a_model_is_spelled_out_and_fuzzy_distance_grows_with_length() {
        for (text, expected) in [
            ("Galaxy S9+ 64GB", "Galaxy S9 plus  64GB"),
            ("C++ book", "C plus + book"),
            ("+ sign", "+ sign"),
        ] {
            assert_eq!(spell_out_plus(text), expected);
        }
        for (term, expected) in [("sox", 0), ("sock", 1), ("sweater", 1), ("turtlenek", 2)] {
            assert_eq!(fuzzy_distance(term), expected, "{term}");
        }
    }
}
