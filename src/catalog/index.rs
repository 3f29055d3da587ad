//! The on-disk tantivy index holding every merchant's catalog: one document
//! per product. Its variants, the level a shopper buys at, are columns of
//! that document: multi-valued fast fields holding one value per variant, in
//! feed order (price, currency, stock, colour, size), for search to pick the
//! best variant without reading stored data; and one stored list
//! (`encode_variants`) with what an offer shows.
//!
//! Colours and sizes are stored twice: as the merchant wrote them ("Heather
//! Grey") for display and for talking to the merchant, and canonicalised by
//! the rules' lexicon ("gray") for matching.

use super::feed::{read_jsonl_file, FeedProduct, MerchantCatalog, ProductRow};
use crate::error::CatalogError;
use crate::rules::{CompiledRules, LexSlot};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::schema::Value;
use tantivy::schema::{Field, Schema, TextFieldIndexing, TextOptions, FAST, STORED, STRING};
use tantivy::{doc, Index, IndexReader, ReloadPolicy, SegmentReader, Term};

pub use tantivy::schema::IndexRecordOption;

/// Bumped whenever the schema or the way documents are built changes, so old
/// indexes are rebuilt rather than misread (12: column dictionaries are no
/// longer zstd-compressed, which tantivy built without zstd cannot read).
pub const SCHEMA_VERSION: u32 = 12;
const MANIFEST_FILE: &str = "concierge-manifest.json";
const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;
/// A whole build: large enough that 100,000 products make one segment per
/// indexing thread, so the build ends without merges to wait for.
const BUILD_MEMORY_BYTES: usize = 512 * 1024 * 1024;

/// Handles to the schema's fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub merchant_id: Field,
    pub product_key: Field,
    pub product_id: Field,
    pub title: Field,
    pub description: Field,
    pub brand: Field,
    pub brand_exact: Field,
    pub categories: Field,
    pub url: Field,
    /// Model numbers and sizes as whole tokens ("mq8n2b/a", "64gb"), which
    /// the stemming tokenizer would cut apart.
    pub codes: Field,
    pub display_title: Field,
    pub brand_label: Field,
    /// The variants as stored text (`encode_variants`, feed order).
    pub variants: Field,
    pub variant_count: Field,
    pub variant_price: Field,
    /// See `VariantAttributes`.
    pub variant_attributes: Field,
    pub variant_colors: Field,
    pub variant_sizes: Field,
    pub product_in_stock: Field,
    pub product_currency: Field,
    pub product_min_price: Field,
    pub product_max_price: Field,
    /// Who the product is for: `audience` bits, 0 when the feed does not say.
    pub product_audience: Field,
    /// Every variant's material label, as words: what a material asked
    /// for is looked for, beside the title and description.
    pub materials: Field,
    pub product_color: Field,
    pub product_size: Field,
    pub product_material: Field,
    pub merchant_hash: Field,
}

/// What an offer shows of a variant, stored with its product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredVariant {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub color_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub color: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub material: Option<String>,
    pub price: i64,
    pub currency: String,
    pub in_stock: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub gtin: Option<String>,
}

/// A variant's stock, currency, colour and size, packed into one column
/// value. Currency, colour and size are 1-based positions in the product's
/// `product_currency`, `variant_colors` and `variant_sizes` lists (0: the
/// variant has no colour or size): one value per variant where four
/// columns of hashes took four, which makes indexing an eighth faster.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct VariantAttributes {
    pub in_stock: bool,
    pub currency: u16,
    pub color: u16,
    pub size: u16,
    /// The colour label is a shade of its canonical colour ("Charcoal",
    /// "Heather Grey" for gray), not the colour itself.
    pub shade: bool,
}

impl VariantAttributes {
    pub fn pack(self) -> u64 {
        u64::from(self.in_stock)
            | u64::from(self.currency) << 1
            | u64::from(self.color) << 17
            | u64::from(self.size) << 33
            | u64::from(self.shade) << 49
    }

    pub fn unpack(packed: u64) -> VariantAttributes {
        let position = |shift: u32| (packed >> shift) as u16;
        VariantAttributes {
            in_stock: packed & 1 == 1,
            currency: position(1),
            color: position(17),
            size: position(33),
            shade: (packed >> 49) & 1 == 1,
        }
    }

    /// The value at 1-based `position` of `list`; 0 for position 0.
    pub fn pick(list: &[u64], position: u16) -> u64 {
        usize::from(position)
            .checked_sub(1)
            .and_then(|at| list.get(at).copied())
            .unwrap_or_default()
    }
}

/// Separates a stored variant's fields, and variants; stripped from values.
const FIELD_SEPARATOR: char = '\u{1f}';
const VARIANT_SEPARATOR: char = '\u{1e}';

/// One variant's stored fields, borrowed, in their stored order; an empty
/// text is a value the variant does not have.
struct StoredFields<'s> {
    id: &'s str,
    title: &'s str,
    color_label: &'s str,
    color: &'s str,
    size_label: &'s str,
    size: &'s str,
    material: &'s str,
    price: i64,
    currency: &'s str,
    in_stock: bool,
    gtin: &'s str,
}

/// The stored form of a product's variants: plain separated text, about
/// ten times cheaper to write than JSON (it is written for every product
/// indexed, and read only for the few offers a search returns).
pub fn encode_variants(variants: &[StoredVariant]) -> String {
    let mut out = String::with_capacity(variants.len() * 96);
    for variant in variants {
        push_stored_variant(
            &mut out,
            &StoredFields {
                id: &variant.id,
                title: &variant.title,
                color_label: text_or_empty(&variant.color_label),
                color: text_or_empty(&variant.color),
                size_label: text_or_empty(&variant.size_label),
                size: text_or_empty(&variant.size),
                material: text_or_empty(&variant.material),
                price: variant.price,
                currency: &variant.currency,
                in_stock: variant.in_stock,
                gtin: text_or_empty(&variant.gtin),
            },
        );
    }
    out
}

fn text_or_empty(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

/// Appends one variant to `out`, the stored variants of a product so far
/// (see `encode_variants`).
fn push_stored_variant(out: &mut String, variant: &StoredFields) {
    use std::fmt::Write;
    let push = |out: &mut String, value: &str| {
        // Both separators are ASCII: a byte search finds them.
        let separators = (FIELD_SEPARATOR as u8, VARIANT_SEPARATOR as u8);
        if memchr::memchr2(separators.0, separators.1, value.as_bytes()).is_some() {
            out.extend(
                value
                    .chars()
                    .filter(|c| *c != FIELD_SEPARATOR && *c != VARIANT_SEPARATOR),
            );
        } else {
            out.push_str(value);
        }
        out.push(FIELD_SEPARATOR);
    };
    if !out.is_empty() {
        out.push(VARIANT_SEPARATOR);
    }
    for value in [
        variant.id,
        variant.title,
        variant.color_label,
        variant.color,
        variant.size_label,
        variant.size,
        variant.material,
    ] {
        push(out, value);
    }
    // Writing to a String cannot fail.
    let _ = write!(out, "{}{FIELD_SEPARATOR}", variant.price);
    push(out, variant.currency);
    push(out, if variant.in_stock { "1" } else { "0" });
    push(out, variant.gtin);
}

/// The variant at `position` in `encoded` (see `encode_variants`).
pub fn decode_variant(encoded: &str, position: usize) -> Option<StoredVariant> {
    let text = encoded.split(VARIANT_SEPARATOR).nth(position)?;
    let mut values = text.split(FIELD_SEPARATOR);
    let mut next = || values.next().map(str::to_string);
    let optional = |value: Option<String>| value.filter(|v| !v.is_empty());
    Some(StoredVariant {
        id: next()?,
        title: next()?,
        color_label: optional(next()),
        color: optional(next()),
        size_label: optional(next()),
        size: optional(next()),
        material: optional(next()),
        price: next()?.parse().ok()?,
        currency: next()?,
        in_stock: next()? == "1",
        gtin: optional(next()),
    })
}

/// A keyword whose match adds a fixed boost: each value once per document,
/// with frequencies and length norms, because tantivy's block-max WAND reads
/// the best (frequency, norm) of each block that indexing records from them
/// (without norms it records nothing, and WAND would skip whole blocks of
/// matches). Search scores these terms as if every product were of average
/// length (see `retrieve::CachedStatistics`), so a match adds the same
/// boost whatever else the product has.
fn attribute() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::WithFreqs),
    )
}

pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    // Positions only where search asks for words in order: the title.
    let stemmed = |stored: bool, positions: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(if positions {
                    IndexRecordOption::WithFreqsAndPositions
                } else {
                    IndexRecordOption::WithFreqs
                }),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let fields = Fields {
        merchant_id: builder.add_text_field("merchant_id", STRING | STORED),
        // FAST so a reload can list a merchant's products without reading
        // stored documents.
        product_key: builder.add_text_field("product_key", STRING | FAST),
        product_id: builder.add_text_field("product_id", STORED),
        title: builder.add_text_field("title", stemmed(false, true)),
        display_title: builder.add_text_field("display_title", STORED),
        description: builder.add_text_field("description", stemmed(false, false)),
        brand: builder.add_text_field("brand", stemmed(false, false)),
        brand_label: builder.add_text_field("brand_label", STORED),
        categories: builder.add_text_field("categories", stemmed(true, false)),
        materials: builder.add_text_field("materials", stemmed(false, false)),
        url: builder.add_text_field("url", STORED),
        codes: builder.add_text_field("codes", STRING),
        variants: builder.add_text_field("variants", STORED),
        // Search reads a candidate product's variants from columns, as
        // integers: its price and its packed attributes, one value per
        // variant in feed order in each, and the product's distinct colours
        // and sizes (and currencies, `product_currency`) that the
        // attributes point into. Colours, sizes and currencies are hashes
        // (`stable_hash`) of canonical values.
        variant_count: builder.add_u64_field("variant_count", FAST),
        variant_price: builder.add_i64_field("variant_price", FAST),
        variant_attributes: builder.add_u64_field("variant_attributes", FAST),
        variant_colors: builder.add_u64_field("variant_colors", FAST),
        variant_sizes: builder.add_u64_field("variant_sizes", FAST),
        // A summary of the variants, for the first, product-level stage of
        // a search (see `retrieve`). Filters are fast fields: that stage
        // checks them only for the few products whose score can still make
        // the top, so they never walk posting lists. The canonical colours,
        // sizes and materials of the variants in stock, and the brand, are
        // attribute terms that boost.
        product_in_stock: builder.add_u64_field("product_in_stock", FAST),
        product_currency: builder.add_u64_field("product_currency", FAST),
        product_min_price: builder.add_i64_field("product_min_price", FAST),
        product_max_price: builder.add_i64_field("product_max_price", FAST),
        // Who the product is for (`audience` bits; 0: not said).
        product_audience: builder.add_u64_field("product_audience", FAST),
        product_color: builder.add_text_field("product_color", attribute()),
        product_size: builder.add_text_field("product_size", attribute()),
        product_material: builder.add_text_field("product_material", attribute()),
        brand_exact: builder.add_text_field("brand_exact", attribute()),
        merchant_hash: builder.add_u64_field("merchant_hash", FAST),
    };
    (builder.build(), fields)
}

/// What one merchant's reload did. Products are counted by id; `variants`
/// is the number of variants of the products written.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LoadSummary {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    /// Feed rows the reader skipped as bad.
    pub rejected: usize,
    /// Rows repeating a product id already in the same feed (the later wins).
    pub duplicates: usize,
    pub variants: usize,
}

/// One merchant's share of the index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MerchantStats {
    pub merchant_id: String,
    pub products: usize,
    pub variants: u64,
}

/// What `concierge index stats` prints.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IndexStats {
    pub merchants: Vec<MerchantStats>,
    pub products: usize,
    pub variants: u64,
    pub bytes_on_disk: u64,
}

impl IndexStats {
    pub fn render(&self, directory: &Path) -> String {
        let mut out = format!(
            "{}: {} merchants, {} products, {} variants, {:.1} MiB on disk\n",
            directory.display(),
            self.merchants.len(),
            self.products,
            self.variants,
            self.bytes_on_disk as f64 / (1024.0 * 1024.0)
        );
        for merchant in &self.merchants {
            out.push_str(&format!(
                "  {:<20} {:>9} products {:>10} variants\n",
                merchant.merchant_id, merchant.products, merchant.variants
            ));
        }
        out
    }
}

/// Total size of the files under `directory`, in bytes.
pub fn directory_size(directory: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => directory_size(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The opened index with its reader.
pub struct CatalogIndex {
    pub index: Index,
    pub reader: IndexReader,
    pub fields: Fields,
    pub directory: PathBuf,
    pub(crate) columns: ColumnCache,
    pub(crate) term_sets: TermCache<DocBits>,
    pub(crate) impacts: TermCache<super::retrieve::WindowImpacts>,
    pub(crate) documents: DocumentCache,
}

/// The fast-field columns a search reads, opened once per segment: opening
/// one parses its header and, for the variant columns, the index of which
/// values belong to which product, which cost more than the reads of a
/// whole search. Segments never change, so an entry is valid as long as
/// its segment lives; entries of merged-away segments are dropped in bulk.
#[derive(Default)]
pub(crate) struct ColumnCache(Mutex<HashMap<SegmentId, Arc<SegmentColumns>>>);

/// Segments remembered before the cache starts over.
const COLUMN_CACHE_SEGMENTS: usize = 256;

/// One segment's columns: product-level filters, then one value per
/// variant in feed order.
pub(crate) struct SegmentColumns {
    /// The product-level filters, one plain row per product: the first
    /// stage checks them for thousands of products per search, and a row
    /// read from memory costs a few nanoseconds where the bit-packed
    /// columns cost tens (about 32 bytes per product; 32 MB per million).
    pub rows: Vec<FilterRow>,
    /// The rows' ranges per window of `WINDOW_DOCS` products (a zone
    /// map): a window none of whose products can pass the filters is
    /// stepped over whole.
    pub windows: Vec<WindowFilter>,
    pub currency: Column<u64>,
    pub merchant: Column<u64>,
    pub variant_price: Column<i64>,
    pub variant_attributes: Column<u64>,
    pub variant_colors: Column<u64>,
    pub variant_sizes: Column<u64>,
}

/// A product's filter values, copied from its columns.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FilterRow {
    /// The cheapest and dearest variant; meaningless without `priced`.
    pub min_price: i64,
    pub max_price: i64,
    /// The hash of the product's one currency, when `currencies` is `One`.
    pub currency: u64,
    pub currencies: Currencies,
    pub priced: bool,
    pub in_stock: bool,
    /// Who the product is for (`audience` bits; 0: not said).
    pub audience: u8,
}

/// Products per window of the walks' window bounds and zone maps: one
/// word of a `DocBits` (`DocBits::any_in_window` relies on it).
pub(crate) const WINDOW_DOCS: usize = 64;
const _: () = assert!(WINDOW_DOCS == u64::BITS as usize);

/// What any product of a window can pass: the least of their cheapest
/// variants, the most of their dearest, whether one is priced, whether
/// one is in stock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WindowFilter {
    pub min_price: i64,
    pub max_price: i64,
    pub priced: bool,
    pub in_stock: bool,
}

impl Default for WindowFilter {
    fn default() -> Self {
        WindowFilter {
            min_price: i64::MAX,
            max_price: i64::MIN,
            priced: false,
            in_stock: false,
        }
    }
}

/// How many currencies a product's variants are priced in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Currencies {
    #[default]
    None,
    One,
    /// Read the column.
    Several,
}

impl ColumnCache {
    pub(crate) fn get(&self, segment: &SegmentReader) -> Result<Arc<SegmentColumns>, CatalogError> {
        let id = segment.segment_id();
        if let Some(columns) = self.lock().get(&id) {
            return Ok(columns.clone());
        }
        let fast = segment.fast_fields();
        let in_stock = fast.u64("product_in_stock")?;
        let currency = fast.u64("product_currency")?;
        let min_price = fast.i64("product_min_price")?;
        let max_price = fast.i64("product_max_price")?;
        let audience = fast.u64("product_audience")?;
        let rows = (0..segment.max_doc())
            .map(|doc| {
                let mut currencies = currency.values_for_doc(doc);
                let (first, second) = (currencies.next(), currencies.next());
                let (low, high) = (min_price.first(doc), max_price.first(doc));
                FilterRow {
                    min_price: low.unwrap_or_default(),
                    max_price: high.unwrap_or_default(),
                    currency: first.unwrap_or_default(),
                    currencies: match (first, second) {
                        (None, _) => Currencies::None,
                        (Some(_), None) => Currencies::One,
                        (Some(_), Some(_)) => Currencies::Several,
                    },
                    priced: low.is_some() && high.is_some(),
                    in_stock: in_stock.first(doc) == Some(1),
                    audience: audience.first(doc).unwrap_or_default() as u8,
                }
            })
            .collect::<Vec<FilterRow>>();
        let windows = rows
            .chunks(WINDOW_DOCS)
            .map(|window| {
                let mut zone = WindowFilter::default();
                for row in window {
                    if row.priced {
                        zone.min_price = zone.min_price.min(row.min_price);
                        zone.max_price = zone.max_price.max(row.max_price);
                        zone.priced = true;
                    }
                    zone.in_stock |= row.in_stock;
                }
                zone
            })
            .collect();
        let columns = Arc::new(SegmentColumns {
            rows,
            windows,
            currency,
            merchant: fast.u64("merchant_hash")?,
            variant_price: fast.i64("variant_price")?,
            variant_attributes: fast.u64("variant_attributes")?,
            variant_colors: fast.u64("variant_colors")?,
            variant_sizes: fast.u64("variant_sizes")?,
        });
        let mut cache = self.lock();
        if cache.len() >= COLUMN_CACHE_SEGMENTS {
            cache.clear();
        }
        cache.insert(id, columns.clone());
        Ok(columns)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentId, Arc<SegmentColumns>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Something worked out once per segment and term by walking the term's
/// postings, kept while its segment lives (segments never change), as
/// Lucene's query cache keeps filters; the cache starts over past a memory
/// budget.
pub(crate) struct TermCache<T>(Mutex<TermCacheEntries<T>>);

struct TermCacheEntries<T> {
    entries: HashMap<(SegmentId, Term), Arc<T>>,
    bytes: usize,
}

impl<T> Default for TermCache<T> {
    fn default() -> Self {
        TermCache(Mutex::new(TermCacheEntries {
            entries: HashMap::new(),
            bytes: 0,
        }))
    }
}

/// Memory each term cache may take before it starts over.
const TERM_CACHE_BYTES: usize = 128 * 1024 * 1024;

impl<T> TermCache<T> {
    /// The entry for `term` in `segment`, built by `build` (the value and
    /// its size in bytes) the first time; `None` when `build` finds none.
    pub(crate) fn get(
        &self,
        segment: &SegmentReader,
        term: &Term,
        build: impl FnOnce() -> Result<Option<(T, usize)>, CatalogError>,
    ) -> Result<Option<Arc<T>>, CatalogError> {
        let key = (segment.segment_id(), term.clone());
        if let Some(entry) = self.lock().entries.get(&key) {
            return Ok(Some(entry.clone()));
        }
        let Some((value, bytes)) = build()? else {
            return Ok(None);
        };
        let value = Arc::new(value);
        let mut cache = self.lock();
        if cache.bytes + bytes > TERM_CACHE_BYTES {
            cache.entries.clear();
            cache.bytes = 0;
        }
        cache.bytes += bytes;
        cache.entries.insert(key, value.clone());
        Ok(Some(value))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TermCacheEntries<T>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `term`'s postings in `segment`; `None` when the segment lacks the term.
pub(crate) fn term_postings(
    segment: &SegmentReader,
    term: &Term,
    option: IndexRecordOption,
) -> Result<Option<tantivy::postings::SegmentPostings>, CatalogError> {
    segment
        .inverted_index(term.field())?
        .read_postings(term, option)
        .map_err(|error| CatalogError::Index(error.into()))
}

/// A set of a segment's documents, one bit each: which products hold a
/// term many do, for a search to test in one load instead of seeking in
/// the term's postings.
pub(crate) struct DocBits(Vec<u64>);

impl DocBits {
    /// The products of `segment` holding `term`, with the set's size.
    pub(crate) fn build(
        segment: &SegmentReader,
        term: &Term,
    ) -> Result<Option<(DocBits, usize)>, CatalogError> {
        let Some(mut postings) = term_postings(segment, term, IndexRecordOption::Basic)? else {
            return Ok(None);
        };
        let mut set = DocBits(vec![0; (segment.max_doc() as usize).div_ceil(64)]);
        let mut doc = tantivy::DocSet::doc(&postings);
        while doc != tantivy::TERMINATED {
            if let Some(word) = set.0.get_mut(doc as usize / 64) {
                *word |= 1 << (doc % 64);
            }
            doc = tantivy::DocSet::advance(&mut postings);
        }
        let bytes = set.0.len() * 8;
        Ok(Some((set, bytes)))
    }

    pub(crate) fn contains(&self, doc: u32) -> bool {
        self.0
            .get(doc as usize / 64)
            .is_some_and(|word| word >> (doc % 64) & 1 == 1)
    }

    /// Whether any document of window `window` (documents `64 * window`
    /// to `64 * window + 63`) is in the set.
    pub(crate) fn any_in_window(&self, window: usize) -> bool {
        self.0.get(window).is_some_and(|word| *word != 0)
    }
}

/// A product's stored fields: what its offers show.
#[derive(Debug, Default)]
pub(crate) struct StoredProduct {
    pub merchant_id: String,
    pub product_id: String,
    pub title: String,
    pub brand: String,
    pub url: String,
    /// See `encode_variants`.
    pub variants: String,
}

/// Products read back from the store, by segment and document, as Solr's
/// document cache keeps them: the offers a search returns are the same
/// best products again and again, and reading one back (finding its block,
/// decompressing it, decoding the document) costs more than the rest of a
/// small search. Segments never change, so an entry stays true while its
/// segment lives; the cache starts over when full.
#[derive(Default)]
pub(crate) struct DocumentCache(Mutex<HashMap<(SegmentId, u32), Arc<StoredProduct>>>);

/// Products the document cache holds before it starts over (each about a
/// kilobyte).
const DOCUMENT_CACHE_ENTRIES: usize = 16_384;

impl DocumentCache {
    pub(crate) fn get(
        &self,
        searcher: &tantivy::Searcher,
        fields: &Fields,
        address: tantivy::DocAddress,
    ) -> Result<Arc<StoredProduct>, CatalogError> {
        let key = (
            searcher.segment_reader(address.segment_ord).segment_id(),
            address.doc_id,
        );
        if let Some(product) = self.lock().get(&key) {
            return Ok(product.clone());
        }
        let document: tantivy::TantivyDocument = searcher.doc(address)?;
        let text = |field| {
            document
                .get_first(field)
                .and_then(|value| value.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let product = Arc::new(StoredProduct {
            merchant_id: text(fields.merchant_id),
            product_id: text(fields.product_id),
            title: text(fields.display_title),
            brand: text(fields.brand_label),
            url: text(fields.url),
            variants: text(fields.variants),
        });
        let mut cache = self.lock();
        if cache.len() >= DOCUMENT_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, product.clone());
        Ok(product)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(SegmentId, u32), Arc<StoredProduct>>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a build did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSummary {
    pub rebuilt: bool,
    pub merchants: usize,
    pub products: usize,
    pub variants: usize,
}

/// A product's document, with what it is ordered by in the index: by
/// category path, then title, so products of a kind are neighbours.
struct ProductDocument {
    /// Where the product goes in the index (see `index_order`): its
    /// category path, then its title.
    order: String,
    variants: usize,
    document: tantivy::TantivyDocument,
}

/// The 1-based position of `value` in `list`, added at the end if new.
fn position_in<'s>(list: &mut Vec<&'s str>, value: &'s str) -> u16 {
    let at = list.iter().position(|v| *v == value).unwrap_or_else(|| {
        list.push(value);
        list.len() - 1
    });
    // Validation caps a product's variants (`MAX_VARIANTS_PER_PRODUCT`)
    // well below u16::MAX.
    u16::try_from(at + 1).unwrap_or(u16::MAX)
}

/// The order products are indexed in (see `IndexBuilder::add_documents`).
fn index_order(a: &ProductDocument, b: &ProductDocument) -> std::cmp::Ordering {
    a.order.cmp(&b.order)
}

/// A product's place in [`index_order`]: each category followed by a
/// separator, then one that sorts below it, then the title. Compared as
/// text, these order products by category path (a parent before its
/// children, siblings by name) and then by title, for all text without
/// control characters. One owned text, so a document outlives the feed
/// text it was parsed from.
fn order_key(product: &ProductRow<'_>) -> String {
    let length: usize = product.categories.iter().map(|c| c.len() + 1).sum();
    let mut key = String::with_capacity(length + 1 + product.title.len());
    for category in &product.categories {
        key.push_str(category);
        key.push('\u{1f}');
    }
    key.push('\u{1e}');
    key.push_str(&product.title);
    key
}

/// What [`IndexBuilder::add_jsonl_file`] read from one feed.
#[derive(Debug, Default)]
pub struct FeedLoad {
    pub products: usize,
    pub variants: usize,
    pub rejected: Vec<CatalogError>,
    /// Time spent waiting for the file's bytes.
    pub reading: Duration,
}

/// How an [`IndexBuilder`] indexes documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexing {
    /// On every core. Which segment, and so which document number, each
    /// product gets depends on thread timing, and products that score
    /// exactly alike are ranked by document number: rebuilds can order
    /// such ties differently.
    Parallel,
    /// On one thread, in the order products are added: the same catalogs
    /// always make the same index, so evaluations repeat exactly.
    Reproducible,
}

/// Builds a fresh index merchant by merchant, in one commit: what
/// `CatalogIndex::build` does for catalogs in memory, and what a load of
/// large feeds does one feed at a time (`bench::search`), each feed's rows
/// borrowing its text and dropped once they are indexed.
pub struct IndexBuilder {
    index: Index,
    fields: Fields,
    writer: Arc<tantivy::IndexWriter>,
    /// Hands each merchant's sorted documents to the writer on its own
    /// thread, so that the next merchant's feed is parsed meanwhile: adding
    /// blocks while the writer's threads are busy, and on two cores the
    /// parse and the indexing then took turns instead of sharing them
    /// (`None` once it has stopped on an error).
    feeder: Option<Feeder>,
    directory: PathBuf,
}

struct Feeder {
    documents: std::sync::mpsc::SyncSender<Vec<ProductDocument>>,
    thread: std::thread::JoinHandle<Result<(), CatalogError>>,
}

impl Feeder {
    fn start(writer: Arc<tantivy::IndexWriter>) -> Feeder {
        // One merchant queued while another is handed over: memory holds at
        // most three merchants' documents (this one, the queued one, the
        // one being parsed).
        let (documents, queue) = std::sync::mpsc::sync_channel::<Vec<ProductDocument>>(1);
        let thread = std::thread::spawn(move || {
            for merchant in queue {
                for product in merchant {
                    writer.add_document(product.document)?;
                }
            }
            Ok(())
        });
        Feeder { documents, thread }
    }

    /// Waits until every document sent is with the writer.
    fn finish(self) -> Result<(), CatalogError> {
        drop(self.documents);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(CatalogError::Invalid("the indexing feeder failed".into())))
    }
}

impl IndexBuilder {
    /// Starts an empty index in `directory`, removing what was there.
    pub fn create(directory: &Path) -> Result<IndexBuilder, CatalogError> {
        IndexBuilder::create_with(directory, Indexing::Parallel)
    }

    /// `create`, choosing how documents are indexed.
    pub fn create_with(directory: &Path, indexing: Indexing) -> Result<IndexBuilder, CatalogError> {
        let io_error = |source| CatalogError::Io {
            path: directory.to_path_buf(),
            source,
        };
        if directory.exists() {
            std::fs::remove_dir_all(directory).map_err(io_error)?;
        }
        std::fs::create_dir_all(directory).map_err(io_error)?;
        let (schema, fields) = schema();
        let index = create_index(directory, schema)?;
        let writer = match indexing {
            Indexing::Parallel => index.writer::<tantivy::TantivyDocument>(BUILD_MEMORY_BYTES)?,
            Indexing::Reproducible => index
                .writer_with_num_threads::<tantivy::TantivyDocument>(1, BUILD_MEMORY_BYTES / 2)?,
        };
        let writer = Arc::new(writer);
        let feeder = Some(Feeder::start(writer.clone()));
        Ok(IndexBuilder {
            index,
            fields,
            writer,
            feeder,
            directory: directory.to_path_buf(),
        })
    }

    /// Adds one merchant's products (rows without variants are skipped).
    /// They are searchable once [`IndexBuilder::finish`] commits.
    pub fn add_merchant(
        &mut self,
        rules: &CompiledRules,
        merchant_id: &str,
        products: &[ProductRow<'_>],
    ) -> Result<(), CatalogError> {
        let documents = products
            .par_iter()
            .filter_map(|product| self.document(rules, merchant_id, product))
            .collect();
        self.add_documents(documents)
    }

    /// Reads one merchant's JSON Lines feed, the file `path`, and adds its
    /// products, as [`IndexBuilder::add_merchant`] does. The file is read
    /// in runs of lines through `buffer` (see [`read_jsonl_file`]), which
    /// the next feed can reuse, and each line's document is built as soon
    /// as the line is parsed, on the thread that parsed it: memory holds
    /// the merchant's documents and one run of the file, never its rows or
    /// the whole file. Returns the products added and the rejected lines,
    /// in line order.
    pub fn add_jsonl_file(
        &mut self,
        rules: &CompiledRules,
        merchant_id: &str,
        path: &Path,
        buffer: &mut Vec<u8>,
    ) -> Result<FeedLoad, CatalogError> {
        let (read, reading) =
            read_jsonl_file(path, buffer, |row| self.document(rules, merchant_id, &row))?;
        let documents: Vec<ProductDocument> = read.products.into_iter().flatten().collect();
        let load = FeedLoad {
            products: documents.len(),
            variants: documents.iter().map(|d| d.variants).sum(),
            rejected: read.rejected,
            reading,
        };
        self.add_documents(documents)?;
        Ok(load)
    }

    /// `product`'s document, or `None` for a product without variants.
    fn document(
        &self,
        rules: &CompiledRules,
        merchant_id: &str,
        product: &ProductRow<'_>,
    ) -> Option<ProductDocument> {
        (!product.variants.is_empty()).then(|| ProductDocument {
            order: order_key(product),
            variants: product.variants.len(),
            document: product_document(&self.fields, rules, merchant_id, product),
        })
    }

    /// Hands one merchant's documents to the writer's indexing threads.
    fn add_documents(&mut self, mut documents: Vec<ProductDocument>) -> Result<(), CatalogError> {
        // Products of a kind sit next to each other in the index, as index
        // sorting does in Lucene: a search walks one kind's products (all
        // the sweaters), and in order they are read from neighbouring
        // memory, not scattered over the index. The sort is stable: equal
        // products keep the feed's order.
        documents.sort_by(index_order);
        let Some(feeder) = &self.feeder else {
            return Err(CatalogError::Invalid("the index writer stopped".into()));
        };
        if feeder.documents.send(documents).is_ok() {
            return Ok(());
        }
        // The feeder stopped on an error: report it.
        match self.feeder.take().map(Feeder::finish) {
            Some(Err(error)) => Err(error),
            _ => Err(CatalogError::Invalid("the index writer stopped".into())),
        }
    }

    /// Commits everything added, in one commit, and opens the index.
    pub fn finish(self) -> Result<CatalogIndex, CatalogError> {
        let IndexBuilder {
            index,
            fields,
            writer,
            feeder,
            directory,
        } = self;
        feeder
            .ok_or_else(|| CatalogError::Invalid("the index writer stopped".into()))?
            .finish()?;
        let Ok(mut writer) = Arc::try_unwrap(writer) else {
            return Err(CatalogError::Invalid(
                "the index writer is still shared".into(),
            ));
        };
        writer.commit()?;
        // Let the merges the commit started finish, so searches see few
        // segments.
        writer.wait_merging_threads()?;
        let catalog_index = CatalogIndex::from_index(index, fields, &directory)?;
        catalog_index.reader.reload()?;
        Ok(catalog_index)
    }
}

impl CatalogIndex {
    /// Opens the index in `directory` when its manifest matches `catalogs`
    /// and the rules, otherwise (re)builds it there in one commit.
    pub fn open_or_build(
        directory: &Path,
        catalogs: &[MerchantCatalog],
        rules: &CompiledRules,
    ) -> Result<(CatalogIndex, BuildSummary), CatalogError> {
        recover_swap(directory);
        if read_manifest(directory).as_deref() == Some(fingerprint(catalogs, rules).as_str()) {
            if let Ok(index) = CatalogIndex::open(directory) {
                return Ok((index, build_summary(catalogs, false)));
            }
        }
        CatalogIndex::rebuild(directory, catalogs, rules)
    }

    /// Builds the index from scratch and records what it was built from, so
    /// that [`CatalogIndex::open_or_build`] reuses it next time. The new
    /// index is built aside and swapped in ([`swap_in`]): a crash leaves
    /// the previous one.
    pub fn rebuild(
        directory: &Path,
        catalogs: &[MerchantCatalog],
        rules: &CompiledRules,
    ) -> Result<(CatalogIndex, BuildSummary), CatalogError> {
        let aside = aside_directory(directory);
        let built = CatalogIndex::build(&aside, catalogs, rules)?;
        write_manifest(&aside, &fingerprint(catalogs, rules))?;
        drop(built);
        swap_in(&aside, directory)?;
        Ok((
            CatalogIndex::open(directory)?,
            build_summary(catalogs, true),
        ))
    }

    /// Opens an existing index.
    pub fn open(directory: &Path) -> Result<CatalogIndex, CatalogError> {
        let index = Index::open_in_dir(directory)?;
        register_tokenizers(&index);
        let (expected, fields) = schema();
        if index.schema() != expected {
            return Err(CatalogError::Invalid(format!(
                "index at {} has another schema; rebuild it with `concierge index build`",
                directory.display()
            )));
        }
        CatalogIndex::from_index(index, fields, directory)
    }

    fn from_index(
        index: Index,
        fields: Fields,
        directory: &Path,
    ) -> Result<CatalogIndex, CatalogError> {
        CatalogIndex::with_reader(index, fields, directory, ReloadPolicy::OnCommitWithDelay)
    }

    fn with_reader(
        index: Index,
        fields: Fields,
        directory: &Path,
        reload: ReloadPolicy,
    ) -> Result<CatalogIndex, CatalogError> {
        let reader = index.reader_builder().reload_policy(reload).try_into()?;
        Ok(CatalogIndex {
            index,
            reader,
            fields,
            directory: directory.to_path_buf(),
            columns: ColumnCache::default(),
            term_sets: TermCache::default(),
            impacts: TermCache::default(),
            documents: DocumentCache::default(),
        })
    }

    /// An index in memory of a few catalogs, each `(merchant id,
    /// products)`: what one request searches of the products merchants'
    /// own catalog searches answered it with, beside the index on disk.
    /// Products without variants are left out.
    pub fn in_memory(
        rules: &CompiledRules,
        catalogs: &[(String, Vec<FeedProduct>)],
    ) -> Result<CatalogIndex, CatalogError> {
        let (schema, fields) = schema();
        let index = Index::builder()
            .schema(schema)
            .settings(index_settings())
            .create_in_ram()?;
        register_tokenizers(&index);
        // Tantivy's smallest budget for one thread: a few dozen products.
        let mut writer =
            index.writer_with_num_threads::<tantivy::TantivyDocument>(1, 15_000_000)?;
        for (merchant_id, products) in catalogs {
            for product in products {
                let row = ProductRow::from(product);
                if !row.variants.is_empty() {
                    writer.add_document(product_document(&fields, rules, merchant_id, &row))?;
                }
            }
        }
        writer.commit()?;
        // Nothing commits to it again: its reader is loaded once.
        CatalogIndex::with_reader(index, fields, Path::new(""), ReloadPolicy::Manual)
    }

    /// Builds the index from scratch in `directory`, replacing what was there.
    pub fn build(
        directory: &Path,
        catalogs: &[MerchantCatalog],
        rules: &CompiledRules,
    ) -> Result<CatalogIndex, CatalogError> {
        CatalogIndex::build_with(directory, catalogs, rules, Indexing::Parallel)
    }

    /// `build`, choosing how documents are indexed.
    pub fn build_with(
        directory: &Path,
        catalogs: &[MerchantCatalog],
        rules: &CompiledRules,
        indexing: Indexing,
    ) -> Result<CatalogIndex, CatalogError> {
        let mut builder = IndexBuilder::create_with(directory, indexing)?;
        for catalog in catalogs {
            let rows: Vec<ProductRow> = catalog.products.iter().map(ProductRow::from).collect();
            builder.add_merchant(rules, &catalog.profile.id, &rows)?;
        }
        builder.finish()
    }

    /// Opens the index in `directory`, or creates an empty one there when
    /// none exists yet (the first `index load` into a fresh directory).
    pub fn open_or_create(directory: &Path) -> Result<CatalogIndex, CatalogError> {
        if directory.join("meta.json").is_file() {
            return CatalogIndex::open(directory);
        }
        std::fs::create_dir_all(directory).map_err(|source| CatalogError::Io {
            path: directory.to_path_buf(),
            source,
        })?;
        let (schema, fields) = schema();
        let index = create_index(directory, schema)?;
        CatalogIndex::from_index(index, fields, directory)
    }

    /// Replaces merchant `merchant_id`'s catalog with `products`: products
    /// whose id is new are added, those already there are replaced, those
    /// that vanished from the feed are removed, other merchants are not
    /// touched. Everything happens in one commit, so a crash mid-load leaves
    /// the previous committed state; once this returns the new state is
    /// searchable through `self.reader`.
    ///
    /// `rejected` is the number of feed rows the reader already skipped; it
    /// is passed through to the summary. `on_progress` is called with the
    /// number of products written so far.
    pub fn load_merchant(
        &self,
        rules: &CompiledRules,
        merchant_id: &str,
        products: &[FeedProduct],
        rejected: usize,
        on_progress: &mut dyn FnMut(usize),
    ) -> Result<LoadSummary, CatalogError> {
        self.load_merchant_inner(rules, merchant_id, products, rejected, None, on_progress)
    }

    /// [`CatalogIndex::load_merchant`], with `payload` recorded in the same
    /// commit (the catalog of record's manifest).
    pub fn load_merchant_with_payload(
        &self,
        rules: &CompiledRules,
        merchant_id: &str,
        products: &[FeedProduct],
        rejected: usize,
        payload: &str,
        on_progress: &mut dyn FnMut(usize),
    ) -> Result<LoadSummary, CatalogError> {
        self.load_merchant_inner(
            rules,
            merchant_id,
            products,
            rejected,
            Some(payload),
            on_progress,
        )
    }

    /// Deletes every product of `merchant_id`, recording `payload`, in one
    /// commit.
    pub fn remove_merchant_with_payload(
        &self,
        merchant_id: &str,
        payload: &str,
    ) -> Result<(), CatalogError> {
        let merchant = Term::from_field_text(self.fields.merchant_id, merchant_id);
        self.commit_with_payload(payload, |writer| {
            writer.delete_term(merchant);
        })
    }

    /// Records `payload` in a commit of its own (after a build).
    pub fn commit_payload(&self, payload: &str) -> Result<(), CatalogError> {
        self.commit_with_payload(payload, |_| {})
    }

    /// Applies `change` and commits it with `payload`, then reloads the reader.
    fn commit_with_payload(
        &self,
        payload: &str,
        change: impl FnOnce(&mut tantivy::IndexWriter<tantivy::TantivyDocument>),
    ) -> Result<(), CatalogError> {
        let mut writer = self
            .index
            .writer::<tantivy::TantivyDocument>(WRITER_MEMORY_BYTES)?;
        change(&mut writer);
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(payload);
        commit.commit()?;
        writer.wait_merging_threads()?;
        self.reader.reload()?;
        Ok(())
    }

    fn load_merchant_inner(
        &self,
        rules: &CompiledRules,
        merchant_id: &str,
        products: &[FeedProduct],
        rejected: usize,
        payload: Option<&str>,
        on_progress: &mut dyn FnMut(usize),
    ) -> Result<LoadSummary, CatalogError> {
        if merchant_id.trim().is_empty() {
            return Err(CatalogError::Invalid("merchant id is empty".into()));
        }
        let before = self.product_ids(Some(merchant_id))?;
        let before: std::collections::HashSet<&str> = before
            .iter()
            .map(|(_, product_id)| product_id.as_str())
            .collect();
        let mut summary = LoadSummary {
            rejected,
            ..LoadSummary::default()
        };
        // A product id twice in one feed: the later row wins, as a reload
        // of it would.
        let mut last_row: HashMap<&str, usize> = HashMap::with_capacity(products.len());
        for (at, product) in products.iter().enumerate() {
            last_row.insert(product.id.as_str(), at);
        }
        summary.duplicates = products.len() - last_row.len();
        for id in last_row.keys() {
            if before.contains(id) {
                summary.updated += 1;
            } else {
                summary.added += 1;
            }
        }
        // In index order, as a build writes them: a reloaded merchant's
        // products of a kind are neighbours too.
        let mut rows: Vec<ProductRow> = products
            .iter()
            .enumerate()
            .filter(|(at, product)| last_row.get(product.id.as_str()) == Some(at))
            .map(|(_, product)| ProductRow::from(product))
            .collect();
        rows.sort_by_cached_key(order_key);
        let mut writer = self
            .index
            .writer::<tantivy::TantivyDocument>(WRITER_MEMORY_BYTES)?;
        // Deleting every document of the merchant and adding the feed back is
        // the upsert: deletes apply only to documents committed before them,
        // and nothing is visible until the one commit below.
        writer.delete_term(Term::from_field_text(self.fields.merchant_id, merchant_id));
        for (written, row) in rows.iter().enumerate() {
            if !row.variants.is_empty() {
                summary.variants += row.variants.len();
                writer.add_document(product_document(&self.fields, rules, merchant_id, row))?;
            }
            if written % 1024 == 0 {
                on_progress(written);
            }
        }
        summary.removed = before
            .iter()
            .filter(|id| !last_row.contains_key(*id))
            .count();
        let mut commit = writer.prepare_commit()?;
        if let Some(payload) = payload {
            commit.set_payload(payload);
        }
        commit.commit()?;
        writer.wait_merging_threads()?;
        on_progress(products.len());
        // Searchable now, not after the reader's reload delay.
        self.reader.reload()?;
        Ok(summary)
    }

    /// `(merchant id, product id)` of every live product, sorted; only
    /// `merchant_id`'s when given. Reads the `product_key` fast field, so it
    /// costs no stored-document reads.
    pub fn product_ids(
        &self,
        merchant_id: Option<&str>,
    ) -> Result<std::collections::BTreeSet<(String, String)>, CatalogError> {
        let searcher = self.reader.searcher();
        let mut keys = std::collections::BTreeSet::new();
        for segment in searcher.segment_readers() {
            let Some(column) = segment.fast_fields().str("product_key")? else {
                continue;
            };
            let mut ordinals = std::collections::BTreeSet::new();
            let mut note = |doc: tantivy::DocId| {
                ordinals.extend(column.term_ords(doc));
            };
            match merchant_id {
                Some(merchant_id) => {
                    let term = Term::from_field_text(self.fields.merchant_id, merchant_id);
                    let inverted = segment.inverted_index(self.fields.merchant_id)?;
                    if let Some(mut postings) = inverted
                        .read_postings(&term, IndexRecordOption::Basic)
                        .map_err(|source| CatalogError::Io {
                            path: self.directory.clone(),
                            source,
                        })?
                    {
                        use tantivy::DocSet;
                        let alive = segment.alive_bitset();
                        let mut doc = postings.doc();
                        while doc != tantivy::TERMINATED {
                            if alive.is_none_or(|bits| bits.is_alive(doc)) {
                                note(doc);
                            }
                            doc = postings.advance();
                        }
                    }
                }
                None => segment.doc_ids_alive().for_each(&mut note),
            }
            let mut text = String::new();
            for ordinal in ordinals {
                text.clear();
                column
                    .ord_to_str(ordinal, &mut text)
                    .map_err(|source| CatalogError::Io {
                        path: self.directory.clone(),
                        source,
                    })?;
                if let Some((merchant, product)) = text.split_once('\u{1f}') {
                    keys.insert((merchant.to_string(), product.to_string()));
                }
            }
        }
        Ok(keys)
    }

    /// Merchants, products, variants and bytes on disk.
    pub fn stats(&self) -> Result<IndexStats, CatalogError> {
        let products = self.product_ids(None)?;
        let mut merchants: Vec<MerchantStats> = Vec::new();
        for (merchant, _) in &products {
            match merchants.last_mut() {
                Some(last) if &last.merchant_id == merchant => last.products += 1,
                _ => merchants.push(MerchantStats {
                    merchant_id: merchant.clone(),
                    products: 1,
                    variants: 0,
                }),
            }
        }
        for merchant in &mut merchants {
            merchant.variants = self.count_variants(Some(&merchant.merchant_id))?;
        }
        Ok(IndexStats {
            products: products.len(),
            variants: self.count_variants(None)?,
            bytes_on_disk: directory_size(&self.directory),
            merchants,
        })
    }

    /// Number of variants, of `merchant_id`'s products or of all.
    pub fn count_variants(&self, merchant_id: Option<&str>) -> Result<u64, CatalogError> {
        let searcher = self.reader.searcher();
        let mut total = 0;
        for segment in searcher.segment_readers() {
            let column = segment.fast_fields().u64("variant_count")?;
            let alive = segment.alive_bitset();
            let count = |doc: tantivy::DocId| {
                if alive.is_none_or(|bits| bits.is_alive(doc)) {
                    column.first(doc).unwrap_or_default()
                } else {
                    0
                }
            };
            match merchant_id {
                Some(merchant_id) => {
                    let term = Term::from_field_text(self.fields.merchant_id, merchant_id);
                    let postings = segment
                        .inverted_index(self.fields.merchant_id)?
                        .read_postings(&term, IndexRecordOption::Basic)
                        .map_err(|source| CatalogError::Io {
                            path: self.directory.clone(),
                            source,
                        })?;
                    if let Some(mut postings) = postings {
                        use tantivy::DocSet;
                        while postings.doc() != tantivy::TERMINATED {
                            total += count(postings.doc());
                            postings.advance();
                        }
                    }
                }
                None => total += (0..segment.max_doc()).map(count).sum::<u64>(),
            }
        }
        Ok(total)
    }
}

/// FNV-1a, 64 bits: stable across runs and builds (unlike std's hasher),
/// so hashes written into an index still match when it is reopened.
pub fn stable_hash(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn product_key(merchant_id: &str, product_id: &str) -> String {
    format!("{merchant_id}\u{1f}{product_id}")
}

/// A product's document: its text, its variants as columns and stored
/// text, and the summary the first search stage filters and boosts on.
pub fn product_document(
    fields: &Fields,
    rules: &CompiledRules,
    merchant_id: &str,
    product: &ProductRow<'_>,
) -> tantivy::TantivyDocument {
    let key = product_key(merchant_id, &product.id);
    let mut document = doc!(
        fields.merchant_id => merchant_id,
        fields.merchant_hash => stable_hash(merchant_id),
        fields.product_key => key.as_str(),
        fields.product_id => product.id.as_ref(),
        fields.display_title => product.title.as_ref(),
        fields.brand_label => product.brand.as_ref(),
        fields.url => product.url.as_ref(),
        fields.variant_count => product.variants.len() as u64,
    );
    // A product's variants repeat a few labels (three colours in four
    // sizes): each is looked up in the lexicon once, and its canonical
    // value then borrowed from `canonical`.
    let mut canonical: Vec<(LexSlot, &str, String)> = Vec::new();
    // Each variant's colour, size and material: (label, canonical value).
    type Labelled<'l> = Option<(&'l str, usize)>;
    let mut labels: Vec<[Labelled; 3]> = Vec::with_capacity(product.variants.len());
    for variant in &product.variants {
        let mut labelled: [Labelled; 3] = [None; 3];
        // In the order of `ATTRIBUTE_OPTIONS`.
        let slots = [LexSlot::Color, LexSlot::Size, LexSlot::Material];
        for (at, (slot, label)) in slots
            .into_iter()
            .zip(variant.attribute_options())
            .enumerate()
        {
            let Some(label) = label.map(str::trim) else {
                continue;
            };
            if label.is_empty() {
                continue;
            }
            let known = canonical
                .iter()
                .position(|(s, l, _)| *s == slot && *l == label);
            let value = known.unwrap_or_else(|| {
                let value = match slot {
                    LexSlot::Color => rules.canonical_color(label),
                    LexSlot::Size => rules.canonical_size(label),
                    _ => rules
                        .lexicon
                        .canonical(slot, label)
                        .map(str::to_string)
                        .unwrap_or_else(|| label.to_lowercase()),
                };
                canonical.push((slot, label, value));
                canonical.len() - 1
            });
            labelled[at] = Some((label, value));
        }
        labels.push(labelled);
    }
    let canonical_values = &canonical;
    let canonical = |labelled: Labelled| labelled.map(|(_, at)| canonical_values[at].2.as_str());
    let mut in_stock_attributes: [Vec<&str>; 3] = Default::default();
    // The distinct currencies, colours and sizes, in the order variants
    // first use them; a variant's attributes point into these.
    let mut currencies: Vec<&str> = Vec::new();
    let mut colors: Vec<&str> = Vec::new();
    let mut sizes: Vec<&str> = Vec::new();
    let mut stored = String::with_capacity(product.variants.len() * 96);
    for (variant, [color, size, material]) in product.variants.iter().zip(&labels) {
        let available = variant.availability.available;
        let currency = variant.price.currency.as_ref();
        document.add_i64(fields.variant_price, variant.price.amount);
        let attributes = VariantAttributes {
            in_stock: available,
            currency: position_in(&mut currencies, currency),
            color: canonical(*color).map_or(0, |c| position_in(&mut colors, c)),
            size: canonical(*size).map_or(0, |s| position_in(&mut sizes, s)),
            shade: color
                .is_some_and(|(label, at)| !rules.is_exact_color(label, &canonical_values[at].2)),
        };
        document.add_u64(fields.variant_attributes, attributes.pack());
        if available {
            for (value, seen) in [*color, *size, *material]
                .into_iter()
                .zip(&mut in_stock_attributes)
            {
                if let Some(value) = canonical(value) {
                    if !seen.contains(&value) {
                        seen.push(value);
                    }
                }
            }
        }
        push_stored_variant(
            &mut stored,
            &StoredFields {
                id: &variant.id,
                title: &variant.title,
                color_label: color.map_or("", |(label, _)| label),
                color: canonical(*color).unwrap_or_default(),
                size_label: size.map_or("", |(label, _)| label),
                size: canonical(*size).unwrap_or_default(),
                material: canonical(*material).unwrap_or_default(),
                price: variant.price.amount,
                currency,
                in_stock: available,
                gtin: variant.gtin().unwrap_or_default(),
            },
        );
    }
    document.add_text(fields.variants, stored);
    document.add_text(fields.title, product.title.as_ref());
    // "64 GB" in a title also counts as the word "64gb", as most merchants
    // write it: a second, short title value carries the joined forms.
    let joined_units = unit_joins(&product.title);
    if !joined_units.is_empty() {
        document.add_text(fields.title, joined_units.join(" "));
    }
    document.add_text(fields.description, product.description.as_ref());
    document.add_text(fields.brand, product.brand.as_ref());
    for category in &product.categories {
        document.add_text(fields.categories, category.as_ref());
    }
    let mut material_labels: Vec<&str> = Vec::new();
    if let Some(material) = product.material.as_deref().filter(|m| !m.trim().is_empty()) {
        material_labels.push(material);
        document.add_text(fields.materials, material);
    }
    for [_, _, material] in &labels {
        if let Some((label, _)) = material {
            if !material_labels.contains(label) {
                material_labels.push(label);
                document.add_text(fields.materials, *label);
            }
        }
    }
    for code in document_codes(&product.title) {
        document.add_text(fields.codes, code);
    }
    let categories: Vec<&str> = product.categories.iter().map(|c| c.as_ref()).collect();
    document.add_u64(
        fields.product_audience,
        u64::from(super::audience::product_audience(
            rules,
            product.gender.as_deref(),
            product.age_group.as_deref(),
            &categories,
            &product.title,
        )),
    );
    let any_in_stock = product.variants.iter().any(|v| v.availability.available);
    document.add_u64(fields.product_in_stock, u64::from(any_in_stock));
    for currency in currencies {
        document.add_u64(fields.product_currency, stable_hash(currency));
    }
    for (field, values) in [
        (fields.variant_colors, colors),
        (fields.variant_sizes, sizes),
    ] {
        for value in values {
            document.add_u64(field, stable_hash(value));
        }
    }
    let prices = product.variants.iter().map(|v| v.price.amount);
    if let (Some(min), Some(max)) = (prices.clone().min(), prices.max()) {
        document.add_i64(fields.product_min_price, min);
        document.add_i64(fields.product_max_price, max);
    }
    let [colors, sizes, materials] = in_stock_attributes;
    for (field, values) in [
        (fields.product_color, colors),
        (fields.product_size, sizes),
        (fields.product_material, materials),
    ] {
        for value in values {
            document.add_text(field, value);
        }
    }
    let brand = product.brand.trim().to_lowercase();
    if !brand.is_empty() {
        document.add_text(fields.brand_exact, brand);
    }
    document
}

/// Unit words that follow a number and belong to it: "64 gb" is the code
/// "64gb", as merchants also write it.
const CODE_UNITS: [&str; 22] = [
    "gb", "tb", "mb", "l", "ltr", "litre", "litres", "liter", "kg", "w", "mp", "in", "inch", "cm",
    "mm", "hz", "ghz", "mhz", "kw", "kwh", "rpm", "mah",
];

/// Model-number-like tokens of `text`, lowercased: words with a digit, kept
/// whole ("mq8n2b/a", "s9", "64gb") plus their form without `-` and `/`;
/// numbers joined to the unit that follows ("64 gb" → "64gb"); and runs of
/// up to `max_run` adjacent words joined when one of them has a digit
/// ("difp 8t96 z" → "difp8t96z"), because merchants space model numbers
/// differently. These match exactly, where the stemming tokenizer would
/// split "mq8n2b/a" into two common tokens.
pub fn model_codes(text: &str) -> Vec<String> {
    codes_with_runs(text, 4)
}

/// What a document's title is indexed under: its [`model_codes`] (runs of
/// two words) plus, for long codes, their prefixes down to five characters
/// and their digits-first tail, so that a request for "lrf285411" or
/// "6500" finds the title's "lrf285411w" or "a6500".
pub fn document_codes(text: &str) -> Vec<String> {
    let mut codes = codes_with_runs(text, 2);
    let mut extra = Vec::new();
    for code in &codes {
        let chars: Vec<char> = code.chars().collect();
        if chars.len() >= 6 && chars.iter().all(|c| c.is_alphanumeric()) {
            for end in 5..chars.len() {
                extra.push(chars[..end].iter().collect::<String>());
            }
        }
        if let Some(start) = chars.iter().position(|c| c.is_ascii_digit()) {
            if start > 0 && chars.len() - start >= 3 {
                extra.push(chars[start..].iter().collect::<String>());
            }
        }
    }
    for code in extra {
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes
}

/// Numbers joined to the unit after them: "64 GB" → "64gb".
pub fn unit_joins(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    words
        .windows(2)
        .filter(|pair| {
            pair[0].chars().all(|c| c.is_ascii_digit() || c == '.')
                && pair[0].chars().any(|c| c.is_ascii_digit())
                && CODE_UNITS.contains(&pair[1])
        })
        .map(|pair| format!("{}{}", pair[0], pair[1]))
        .collect()
}

fn codes_with_runs(text: &str, max_run: usize) -> Vec<String> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| {
            c.is_whitespace() || matches!(c, ',' | '(' | ')' | ';' | '"' | '[' | ']' | '|' | '+')
        })
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    let has_digit = |word: &str| word.chars().any(|c| c.is_ascii_digit());
    let mut codes: Vec<String> = Vec::new();
    let mut push = |code: String| {
        if !codes.contains(&code) {
            codes.push(code);
        }
    };
    for (position, word) in words.iter().enumerate() {
        if has_digit(word) {
            if word.chars().count() >= 2 {
                push(word.to_string());
                let joined: String = word.chars().filter(|c| !matches!(c, '-' | '/')).collect();
                if joined != *word {
                    push(joined);
                }
            }
            let is_number = word.chars().all(|c| c.is_ascii_digit() || c == '.');
            if let Some(unit) = words.get(position + 1) {
                if is_number && CODE_UNITS.contains(unit) {
                    push(format!("{word}{unit}"));
                }
            }
        }
        for run in 2..=max_run {
            let Some(slice) = words.get(position..position + run) else {
                break;
            };
            if slice.iter().any(|w| has_digit(w)) {
                let joined: String = slice
                    .concat()
                    .chars()
                    .filter(|c| c.is_alphanumeric())
                    .collect();
                if joined.chars().count() >= 5 {
                    push(joined);
                }
            }
        }
    }
    codes
}

/// The single-word codes of `text` that name one product (see
/// [`is_strong_code`]), for grouping offers.
pub fn strong_codes(text: &str) -> Vec<String> {
    codes_with_runs(text, 1)
        .into_iter()
        .filter(|code| is_strong_code(code))
        .collect()
}

/// A code that names one product: six characters or more, letters and
/// digits ("kd75xf8596", "mq8n2ba"), not a size like "64gb".
pub fn is_strong_code(code: &str) -> bool {
    code.chars().count() >= 6
        && code.chars().all(|c| c.is_alphanumeric())
        && code.chars().any(|c| c.is_ascii_digit())
        && code.chars().filter(|c| c.is_alphabetic()).count() >= 2
}

/// A digest of everything the index is built from: the schema version, every
/// merchant's profile and products, and the colour, size and material
/// lexicons used to canonicalise them.
fn fingerprint(catalogs: &[MerchantCatalog], rules: &CompiledRules) -> String {
    let mut hasher = Sha256::new();
    for catalog in catalogs {
        hasher.update(serde_json::to_vec(&catalog.profile).unwrap_or_default());
        for product in &catalog.products {
            hasher.update(serde_json::to_vec(product).unwrap_or_default());
        }
    }
    hasher.update(rules_fingerprint(rules).as_bytes());
    hex::encode(hasher.finalize())
}

/// A digest of what turns feed rows into documents besides the feeds: the
/// schema version and the colour, size and material lexicons used to
/// canonicalise them. When it changes, documents must be made again.
pub fn rules_fingerprint(rules: &CompiledRules) -> String {
    let mut hasher = Sha256::new();
    hasher.update(SCHEMA_VERSION.to_le_bytes());
    let mut lexicon: Vec<String> = rules
        .lexicon
        .phrases
        .iter()
        .flat_map(|(phrase, hits)| {
            hits.iter()
                .filter(|hit| {
                    matches!(hit.slot, LexSlot::Color | LexSlot::Size | LexSlot::Material)
                })
                // A phrase that maps to itself canonicalises exactly as the
                // fallback does, so it cannot change the index; leaving it
                // out keeps catalog-derived vocabulary from forcing rebuilds.
                .filter(move |hit| *phrase != hit.canonical.to_lowercase())
                .map(move |hit| format!("{phrase}={}", hit.canonical))
        })
        .collect();
    lexicon.sort();
    hasher.update(lexicon.join("\n").as_bytes());
    hex::encode(hasher.finalize())
}

pub(crate) fn build_summary(catalogs: &[MerchantCatalog], rebuilt: bool) -> BuildSummary {
    BuildSummary {
        rebuilt,
        merchants: catalogs.len(),
        products: catalogs.iter().map(|c| c.products.len()).sum(),
        variants: catalogs
            .iter()
            .flat_map(|c| &c.products)
            .map(|p| p.variants.len())
            .sum(),
    }
}

/// Where a rebuild of `directory` is made before it is swapped in: a
/// sibling, so that the swap is two renames on one file system.
pub fn aside_directory(directory: &Path) -> PathBuf {
    let mut name = directory
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".building");
    directory.with_file_name(name)
}

/// Replaces `directory` with the complete index in `built`: the old one is
/// renamed away, the new one renamed in, then the old one removed. A crash
/// between the renames leaves the old index under `<name>.old`, which
/// [`recover_swap`] puts back.
pub fn swap_in(built: &Path, directory: &Path) -> Result<(), CatalogError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CatalogError::Io { path, source }
    };
    let old = set_aside(directory);
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io_error(&old))?;
    }
    if directory.exists() {
        std::fs::rename(directory, &old).map_err(io_error(directory))?;
    }
    std::fs::rename(built, directory).map_err(io_error(directory))?;
    if old.exists() {
        // The new index is in place; an old one left behind only costs disk.
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

/// Where [`swap_in`] puts the index it replaces: `<name>.old` beside it.
fn set_aside(directory: &Path) -> std::path::PathBuf {
    let mut old_name = directory
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    old_name.push(".old");
    directory.with_file_name(old_name)
}

/// Puts back the index a crash left renamed away in the middle of
/// [`swap_in`], and removes a half-built one.
pub fn recover_swap(directory: &Path) {
    let old = set_aside(directory);
    if !directory.exists() && old.join("meta.json").is_file() {
        let _ = std::fs::rename(&old, directory);
    }
}

fn read_manifest(directory: &Path) -> Option<String> {
    let text = std::fs::read_to_string(directory.join(MANIFEST_FILE)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    value.get("fingerprint")?.as_str().map(str::to_string)
}

fn write_manifest(directory: &Path, fingerprint: &str) -> Result<(), CatalogError> {
    let path = directory.join(MANIFEST_FILE);
    let body = serde_json::json!({ "schema_version": SCHEMA_VERSION, "fingerprint": fingerprint });
    std::fs::write(&path, body.to_string()).map_err(|source| CatalogError::Io { path, source })
}

/// Stored documents are compressed in blocks of this many bytes. A search
/// decompresses one block per offer it returns, so small blocks keep that
/// cheap (tantivy's default, 16 KiB, holds about ten products); the index
/// grows a little, as small blocks compress less well.
const DOCSTORE_BLOCK_BYTES: usize = 4096;

fn create_index(directory: &Path, schema: tantivy::schema::Schema) -> tantivy::Result<Index> {
    let index = Index::builder()
        .schema(schema)
        .settings(index_settings())
        .create_in_dir(directory)?;
    register_tokenizers(&index);
    Ok(index)
}

fn index_settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings {
        docstore_blocksize: DOCSTORE_BLOCK_BYTES,
        // Small blocks, each handed to a compressor thread, cost two
        // thread switches per 4 KiB stored: half of all the switches
        // while indexing. Each indexing thread compresses its own.
        docstore_compress_dedicated_thread: false,
        ..tantivy::IndexSettings::default()
    }
}

/// `en_stem` with a memo of the stems (`super::stem`): the same tokens,
/// worked out once per word and thread.
fn register_tokenizers(index: &Index) {
    index
        .tokenizers()
        .register("en_stem", super::stem::english_analyzer());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jsonl_feed_is_indexed_and_its_bad_lines_reported() {
        let product = |id: &str, category: &str| {
            format!(
                r#"{{"id":"{id}","title":"Tee {id}","categories":["{category}"],"variants":[{{"id":"{id}-M","price":{{"amount":1500,"currency":"USD"}},"availability":{{"available":true}},"variant_options":[{{"name":"Size","value":"Medium"}}]}}]}}"#
            )
        };
        let mut text = [
            product("B", "Shirts"),
            "not json".to_string(),
            product("A", "Hats"),
            r#"{"id":"C","title":"Empty","variants":[]}"#.to_string(),
        ]
        .join("\n")
        .into_bytes();
        // A line that is not UTF-8 is rejected by the reader, not the
        // parser, and still reported in line order.
        text.splice(0..0, b"{\"id\":\"caf\xe9\"}\n".iter().copied());
        let feeds = tempfile::tempdir().unwrap();
        let feed = feeds.path().join("feed.jsonl");
        std::fs::write(&feed, &text).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rules = CompiledRules::embedded().unwrap();
        let mut builder = IndexBuilder::create(dir.path()).unwrap();
        let load = builder
            .add_jsonl_file(&rules, "m1", &feed, &mut Vec::new())
            .unwrap();
        assert_eq!((load.products, load.variants), (2, 2));
        let lines: Vec<String> = load
            .rejected
            .iter()
            .map(|e| {
                e.to_string()
                    .replace(&feed.display().to_string(), "feed.jsonl")
            })
            .collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("feed.jsonl:1: not UTF-8"), "{lines:?}");
        assert!(lines[1].starts_with("feed.jsonl:3:"), "{lines:?}");
        assert!(lines[2].starts_with("feed.jsonl:5:"), "{lines:?}");
        let index = builder.finish().unwrap();
        let ids: Vec<String> = index
            .product_ids(Some("m1"))
            .unwrap()
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        assert_eq!(ids, ["A", "B"]);
        let searcher = index.reader.searcher();
        let documents =
            searcher
                .segment_readers()
                .iter()
                .enumerate()
                .flat_map(|(segment, reader)| {
                    (0..reader.max_doc())
                        .map(move |doc| tantivy::DocAddress::new(segment as u32, doc))
                });
        let hat = documents
            .map(|address| {
                index
                    .documents
                    .get(&searcher, &index.fields, address)
                    .unwrap()
            })
            .find(|product| product.product_id == "A")
            .unwrap();
        let variant = decode_variant(&hat.variants, 0).unwrap();
        assert_eq!(
            (variant.size_label.as_deref(), variant.size.as_deref()),
            (Some("Medium"), Some("M"))
        );
    }

    #[test]
    fn a_reload_writes_the_later_duplicate_in_index_order() {
        let product = |id: &str, category: &str, title: &str| {
            format!(
                r#"{{"id":"{id}","title":"{title}","categories":["{category}"],"variants":[{{"id":"{id}-1","price":{{"amount":1500,"currency":"USD"}},"availability":{{"available":true}}}}]}}"#
            )
        };
        // Twelve products in the reverse of index order, then P05 again
        // under another category: the later row wins.
        let mut lines: Vec<String> = (0..12)
            .rev()
            .map(|n| product(&format!("P{n:02}"), &format!("Kind {n:02}"), "Tee"))
            .collect();
        lines.push(product("P05", "Kind 99", "Beret"));
        let text = lines.join("\n");
        let products = super::super::feed::parse_jsonl("feed.jsonl", &text).products;
        let dir = tempfile::tempdir().unwrap();
        let rules = CompiledRules::embedded().unwrap();
        let index = IndexBuilder::create(dir.path()).unwrap().finish().unwrap();
        let summary = index
            .load_merchant(&rules, "m1", &products, 0, &mut |_| {})
            .unwrap();
        let expected = LoadSummary {
            added: 12,
            duplicates: 1,
            variants: 12,
            ..LoadSummary::default()
        };
        assert_eq!(summary, expected);
        // Index order: P00..P11 but P05, which now sorts last. The writer's
        // threads may split them over segments, each in order.
        let rank = |id: &str| {
            if id == "P05" {
                99
            } else {
                id[1..].parse::<usize>().unwrap()
            }
        };
        let searcher = index.reader.searcher();
        let mut written = Vec::new();
        for (segment, reader) in searcher.segment_readers().iter().enumerate() {
            let mut ranks = Vec::new();
            for doc in (0..reader.max_doc()).filter(|doc| !reader.is_deleted(*doc)) {
                let address = tantivy::DocAddress::new(segment as u32, doc);
                let stored = index
                    .documents
                    .get(&searcher, &index.fields, address)
                    .unwrap();
                ranks.push(rank(&stored.product_id));
                written.push((stored.product_id.clone(), stored.title.clone()));
            }
            assert!(ranks.is_sorted(), "segment {segment}: {ranks:?}");
        }
        written.sort();
        assert_eq!(written.len(), 12);
        assert!(written.contains(&("P05".to_string(), "Beret".to_string())));
    }

    #[test]
    fn products_are_indexed_by_category_path_then_title_and_ties_keep_feed_order() {
        let product = |feed_position: usize, categories: &[&'static str], title: &'static str| {
            let mut document = tantivy::TantivyDocument::default();
            document.add_u64(schema().1.variant_count, feed_position as u64);
            let row = ProductRow {
                id: "P".into(),
                title: title.into(),
                description: "".into(),
                url: "".into(),
                brand: "".into(),
                categories: categories.iter().map(|c| (*c).into()).collect(),
                gender: None,
                age_group: None,
                material: None,
                variants: Vec::new(),
            };
            ProductDocument {
                order: order_key(&row),
                variants: 1,
                document,
            }
        };
        let mut documents = [
            product(0, &["Apparel", "Shirts"], "Tee"),
            product(1, &["Apparel", "Hats"], "Cap"),
            product(2, &["Apparel"], "Scarf"),
            product(3, &["Apparel", "Hats"], "Beanie"),
            product(4, &["Apparel", "Shirts"], "Tee"),
            product(5, &["Apparel", "Hats", "Winter"], "Alpine"),
            product(6, &["Apparel", "Hatsx"], "Boater"),
        ];
        documents.sort_by(index_order);
        let order: Vec<u64> = documents
            .iter()
            .map(|d| {
                d.document
                    .get_first(schema().1.variant_count)
                    .and_then(|v| v.as_u64())
                    .unwrap()
            })
            .collect();
        // A parent category before its children, and "Hats" and its
        // children before "Hatsx".
        assert_eq!(order, [2, 3, 1, 5, 6, 0, 4]);
    }

    #[test]
    fn a_reproducible_build_numbers_products_in_the_order_they_are_added() {
        let rules = CompiledRules::embedded().unwrap();
        let catalogs = crate::world::demo::generate();
        let dir = tempfile::tempdir().unwrap();
        let index = CatalogIndex::build_with(dir.path(), &catalogs, &rules, Indexing::Reproducible)
            .unwrap();
        let searcher = index.reader.searcher();
        assert_eq!(searcher.segment_readers().len(), 1);
        let keys: Vec<(String, String)> = (0..searcher.segment_reader(0).max_doc())
            .map(|doc| {
                let address = tantivy::DocAddress::new(0, doc);
                let product = index
                    .documents
                    .get(&searcher, &index.fields, address)
                    .unwrap();
                (product.merchant_id.clone(), product.product_id.clone())
            })
            .collect();
        // Merchant by merchant, each in index order.
        let mut expected = Vec::new();
        for catalog in &catalogs {
            let rows: Vec<ProductRow> = catalog.products.iter().map(ProductRow::from).collect();
            let mut rows: Vec<&ProductRow> =
                rows.iter().filter(|r| !r.variants.is_empty()).collect();
            rows.sort_by(|a, b| {
                a.categories
                    .cmp(&b.categories)
                    .then_with(|| a.title.cmp(&b.title))
            });
            expected.extend(
                rows.iter()
                    .map(|r| (catalog.profile.id.clone(), r.id.to_string())),
            );
        }
        assert_eq!(keys, expected);
    }

    #[test]
    fn variant_attributes_pack_and_point_into_the_product_lists() {
        for attributes in [
            VariantAttributes::default(),
            VariantAttributes {
                in_stock: true,
                currency: 1,
                color: 0,
                size: 3,
                shade: false,
            },
            VariantAttributes {
                in_stock: false,
                currency: u16::MAX,
                color: u16::MAX,
                size: u16::MAX,
                shade: true,
            },
        ] {
            assert_eq!(VariantAttributes::unpack(attributes.pack()), attributes);
        }
        let list = [11, 22, 33];
        let picked: Vec<u64> = [0, 1, 3, 4, u16::MAX]
            .iter()
            .map(|&at| VariantAttributes::pick(&list, at))
            .collect();
        assert_eq!(picked, [0, 11, 33, 0, 0]);
    }

    #[test]
    fn stored_variants_round_trip_and_separators_in_values_are_dropped() {
        let variant = |id: &str, color: Option<&str>, gtin: Option<&str>| StoredVariant {
            id: id.into(),
            title: "Tee \u{1f}- Red\u{1e} / M".into(),
            color_label: color.map(str::to_string),
            color: color.map(str::to_lowercase),
            size_label: Some("Medium".into()),
            size: Some("M".into()),
            material: None,
            price: 4_500,
            currency: "USD".into(),
            in_stock: id != "b",
            gtin: gtin.map(str::to_string),
        };
        let variants = vec![
            variant("a", Some("Red"), Some("0123")),
            variant("b", None, None),
        ];
        let encoded = encode_variants(&variants);
        for (position, original) in variants.iter().enumerate() {
            let decoded = decode_variant(&encoded, position).unwrap();
            let mut expected = original.clone();
            expected.title = "Tee - Red / M".into();
            assert_eq!(decoded, expected);
        }
        assert_eq!(decode_variant(&encoded, 2), None);
        assert_eq!(decode_variant("garbage", 0), None);
    }
}
