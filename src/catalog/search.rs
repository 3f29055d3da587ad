//! Search: a parsed request to offers across merchants.
//!
//! BM25 over title, categories, brand and description (stemmed), with the
//! product type required when the request names one; hard filters on price,
//! currency, stock and merchants; boosts for variants whose colour, size,
//! material and brand match. Hits are grouped to one offer per merchant
//! product (its best variant), and offers of the same product across
//! merchants are grouped by GTIN, else by brand and normalised title.

use super::index::{model_codes, CatalogIndex};
use crate::error::CatalogError;
use crate::intent::{Intent, ItemRequest};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, PhraseQuery, Query,
    RangeQuery, TermQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{TantivyDocument, Term};

/// How many variant hits are read before grouping into offers.
const MAX_VARIANT_HITS: usize = 2000;

/// What to look for: built from one item of a parsed request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// The shopper's product phrase ("turtleneck sweater").
    pub text: String,
    /// The canonical product type, required when present.
    pub product_type: Option<String>,
    pub color: Option<String>,
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
/// Per model number shared by the request and the title.
const MODEL_CODE_BOOST: f32 = 2.5;
/// A fuzzy match counts for less than the word itself would.
const FUZZY_WEIGHT: f32 = 0.6;

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
        SearchQuery {
            text: item.product.clone().unwrap_or_default(),
            product_type: item.product_type.clone(),
            color: item.color.clone(),
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
    /// Runs `query` and returns grouped offers.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults, CatalogError> {
        let searcher = self.reader.searcher();
        let tantivy_query = self.build_query(query, &searcher)?;
        let hits = searcher.search(&tantivy_query, &TopDocs::with_limit(MAX_VARIANT_HITS))?;
        let mut variants: Vec<Offer> = Vec::with_capacity(hits.len());
        for (score, address) in hits {
            let document: TantivyDocument = searcher.doc(address)?;
            variants.push(self.offer_from(&document, score, query));
        }
        // Best variant first within equal scores: the cheaper, then by id, so
        // results are stable.
        variants.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.price.minor.cmp(&b.price.minor))
                .then_with(|| a.variant_id.cmp(&b.variant_id))
        });
        let mut seen_products = HashSet::new();
        let mut offers = Vec::new();
        for variant in variants {
            if seen_products.insert((variant.merchant_id.clone(), variant.product_id.clone())) {
                offers.push(variant);
                if offers.len() >= query.limit.max(1) {
                    break;
                }
            }
        }
        let groups = group_offers(&offers);
        Ok(SearchResults { offers, groups })
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

    /// A query matching `term` in any text field. Under the full ranker the
    /// fields are weighted, and a word that no field of the index holds is
    /// looked up fuzzily instead (a typo cannot match exactly anyway).
    fn any_text_field(
        &self,
        term: &str,
        ranker: Ranker,
        searcher: &tantivy::Searcher,
    ) -> Result<Box<dyn Query>, CatalogError> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut known = false;
        for (field, weight) in FIELD_WEIGHTS {
            let term = Term::from_field_text(self.field(field), term);
            if ranker == Ranker::Full && searcher.doc_freq(&term)? > 0 {
                known = true;
            }
            let query: Box<dyn Query> =
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
            let weight = match ranker {
                Ranker::Bm25 => 1.0,
                Ranker::Full => weight,
            };
            clauses.push((Occur::Should, Box::new(BoostQuery::new(query, weight))));
        }
        let distance = fuzzy_distance(term);
        if ranker == Ranker::Full && !known && distance > 0 {
            for (field, weight) in FIELD_WEIGHTS.into_iter().take(2) {
                let fuzzy: Box<dyn Query> = Box::new(FuzzyTermQuery::new(
                    Term::from_field_text(self.field(field), term),
                    distance,
                    true,
                ));
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(fuzzy, weight * FUZZY_WEIGHT)),
                ));
            }
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    fn build_query(
        &self,
        query: &SearchQuery,
        searcher: &tantivy::Searcher,
    ) -> Result<Box<dyn Query>, CatalogError> {
        let fields = &self.fields;
        let filter = |q: Box<dyn Query>| -> (Occur, Box<dyn Query>) {
            (Occur::Must, Box::new(ConstScoreQuery::new(q, 0.0)))
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();

        let phrase_terms = self.text_terms(&query.text)?;
        let type_terms = match &query.product_type {
            Some(product_type) => self.text_terms(product_type)?,
            None => Vec::new(),
        };
        if phrase_terms.is_empty() && type_terms.is_empty() {
            return Err(CatalogError::Query(
                "the request names no product to search for".into(),
            ));
        }
        // The product type must match, every word of it; the shopper's own
        // words rank within that.
        for term in &type_terms {
            clauses.push((
                Occur::Must,
                self.any_text_field(term, query.ranker, searcher)?,
            ));
        }
        let mut phrase_clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in &phrase_terms {
            phrase_clauses.push((
                Occur::Should,
                self.any_text_field(term, query.ranker, searcher)?,
            ));
        }
        if !phrase_clauses.is_empty() {
            let occur = if type_terms.is_empty() {
                Occur::Must
            } else {
                Occur::Should
            };
            clauses.push((occur, Box::new(BooleanQuery::new(phrase_clauses))));
        }
        if query.ranker == Ranker::Full {
            // The words close together in the title: "iphone 8 plus" should
            // rank a title saying exactly that over one with the words
            // scattered through it.
            if phrase_terms.len() >= 2 {
                let terms: Vec<(usize, Term)> = phrase_terms
                    .iter()
                    .enumerate()
                    .map(|(offset, term)| (offset, Term::from_field_text(fields.title, term)))
                    .collect();
                let proximity: Box<dyn Query> = Box::new(PhraseQuery::new_with_offset_and_slop(
                    terms,
                    TITLE_PROXIMITY_SLOP,
                ));
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(proximity, TITLE_PROXIMITY_BOOST)),
                ));
            }
            for code in model_codes(&query.text) {
                let exact: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(fields.codes, &code),
                    IndexRecordOption::WithFreqs,
                ));
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(exact, MODEL_CODE_BOOST)),
                ));
            }
        }

        if query.in_stock_only {
            clauses.push(filter(Box::new(TermQuery::new(
                Term::from_field_u64(fields.in_stock, 1),
                IndexRecordOption::Basic,
            ))));
        }
        if let Some(currency) = &query.currency {
            clauses.push(filter(Box::new(TermQuery::new(
                Term::from_field_text(fields.currency, currency),
                IndexRecordOption::Basic,
            ))));
        }
        if query.max_price.is_some() || query.min_price.is_some() {
            let lower = query
                .min_price
                .map(|p| Bound::Included(Term::from_field_i64(fields.price, p)))
                .unwrap_or(Bound::Unbounded);
            let upper = query
                .max_price
                .map(|p| Bound::Included(Term::from_field_i64(fields.price, p)))
                .unwrap_or(Bound::Unbounded);
            clauses.push(filter(Box::new(RangeQuery::new(lower, upper))));
        }
        if let Some(allowed) = &query.merchants_allowed {
            let any: Vec<(Occur, Box<dyn Query>)> = allowed
                .iter()
                .map(|m| {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(fields.merchant_id, m),
                            IndexRecordOption::Basic,
                        )) as Box<dyn Query>,
                    )
                })
                .collect();
            clauses.push(filter(Box::new(BooleanQuery::new(any))));
        }
        for denied in &query.merchants_denied {
            clauses.push((
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_text(fields.merchant_id, denied),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        for excluded in &query.excluded_colors {
            clauses.push((
                Occur::MustNot,
                Box::new(TermQuery::new(
                    Term::from_field_text(fields.color, excluded),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        let material = query.material.as_ref().map(|m| m.to_lowercase());
        let brand = query.brand.as_ref().map(|b| b.to_lowercase());
        let boosts = [
            (fields.color, query.color.as_deref(), 4.0),
            (fields.size, query.size.as_deref(), 3.0),
            (fields.material, material.as_deref(), 1.5),
            (fields.brand_exact, brand.as_deref(), 2.0),
        ];
        for (field, value, boost) in boosts {
            if let Some(value) = value {
                let term_query: Box<dyn Query> = Box::new(TermQuery::new(
                    Term::from_field_text(field, value),
                    IndexRecordOption::Basic,
                ));
                clauses.push((
                    Occur::Should,
                    Box::new(ConstScoreQuery::new(term_query, boost)),
                ));
            }
        }
        Ok(Box::new(BooleanQuery::new(clauses)))
    }

    fn offer_from(&self, document: &TantivyDocument, score: f32, query: &SearchQuery) -> Offer {
        let fields = &self.fields;
        let text = |field| {
            document
                .get_first(field)
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let color = text(fields.color);
        let size = text(fields.size);
        Offer {
            merchant_id: text(fields.merchant_id).unwrap_or_default(),
            product_id: text(fields.product_id).unwrap_or_default(),
            product_title: text(fields.title).unwrap_or_default(),
            brand: text(fields.brand).unwrap_or_default(),
            variant_id: text(fields.variant_id).unwrap_or_default(),
            variant_title: text(fields.variant_title).unwrap_or_default(),
            color_label: text(fields.color_label),
            size_label: text(fields.size_label),
            material: text(fields.material),
            price: Money::new(
                document
                    .get_first(fields.price)
                    .and_then(|v| v.as_i64())
                    .unwrap_or_default(),
                text(fields.currency).unwrap_or_default(),
            ),
            in_stock: document.get_first(fields.in_stock).and_then(|v| v.as_u64()) == Some(1),
            gtin: text(fields.gtin),
            url: text(fields.url).unwrap_or_default(),
            score,
            color_matches: query
                .color
                .as_ref()
                .map(|wanted| color.as_ref() == Some(wanted)),
            size_matches: query
                .size
                .as_ref()
                .map(|wanted| size.as_ref() == Some(wanted)),
            color,
            size,
        }
    }
}

/// Groups offers of the same product: same GTIN, else same brand and
/// normalised title.
pub fn group_offers(offers: &[Offer]) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (index, offer) in offers.iter().enumerate() {
        let key = match &offer.gtin {
            Some(gtin) if !gtin.is_empty() => format!("gtin:{gtin}"),
            _ => format!(
                "title:{}|{}",
                normalize_title(&offer.brand),
                normalize_title(&offer.product_title)
            ),
        };
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(index);
    }
    order
        .into_iter()
        .filter_map(|key| groups.remove(&key))
        .collect()
}

fn normalize_title(text: &str) -> String {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}
