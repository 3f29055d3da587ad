//! The on-disk tantivy index holding every merchant's catalog: one document
//! per variant, so that price, stock, colour and size filter and boost at the
//! level a shopper buys.
//!
//! Colours and sizes are stored twice: as the merchant wrote them ("Heather
//! Grey") for display and for talking to the merchant, and canonicalised by
//! the rules' lexicon ("gray") for matching.

use super::feed::{FeedProduct, MerchantCatalog};
use crate::error::CatalogError;
use crate::rules::{CompiledRules, LexSlot};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tantivy::schema::{
    Field, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::{doc, Index, IndexReader, ReloadPolicy, Term};

pub use tantivy::schema::IndexRecordOption;

/// Bumped whenever the schema or the way documents are built changes, so old
/// indexes are rebuilt rather than misread.
pub const SCHEMA_VERSION: u32 = 7;
const MANIFEST_FILE: &str = "concierge-manifest.json";
const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;

/// Handles to the schema's fields.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub merchant_id: Field,
    pub product_key: Field,
    pub product_id: Field,
    pub variant_id: Field,
    pub title: Field,
    pub variant_title: Field,
    pub description: Field,
    pub brand: Field,
    pub categories: Field,
    pub color: Field,
    pub color_label: Field,
    pub size: Field,
    pub size_label: Field,
    pub material: Field,
    pub price: Field,
    pub currency: Field,
    pub in_stock: Field,
    pub gtin: Field,
    pub url: Field,
    /// Model numbers and sizes as whole tokens ("mq8n2b/a", "64gb"), which
    /// the stemming tokenizer would cut apart.
    pub codes: Field,
    pub product_hash: Field,
    pub color_hash: Field,
    pub size_hash: Field,
    pub currency_hash: Field,
    pub display_title: Field,
    pub brand_label: Field,
    pub product_in_stock: Field,
    pub product_currency: Field,
    pub product_min_price: Field,
    pub product_max_price: Field,
    pub product_color: Field,
    pub product_size: Field,
    pub product_material: Field,
    pub brand_exact: Field,
    pub merchant_hash: Field,
}

/// A keyword whose match adds a fixed boost: each value once per document,
/// with frequencies (so tantivy's block-max WAND can skip over it) but no
/// length norms (so every match scores the same, whatever else the product
/// has).
fn attribute() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::WithFreqs)
            .set_fieldnorms(false),
    )
}

pub fn schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let stemmed = |stored: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let fields = Fields {
        merchant_id: builder.add_text_field("merchant_id", STRING | STORED | FAST),
        // FAST so a reload can list a merchant's products without reading
        // stored documents.
        product_key: builder.add_text_field("product_key", STRING | FAST),
        product_id: builder.add_text_field("product_id", STRING | STORED),
        variant_id: builder.add_text_field("variant_id", STRING | STORED),
        // Text is indexed on each product's head document only (see
        // `product_documents`); every variant stores the title and brand
        // for display.
        title: builder.add_text_field("title", stemmed(false)),
        display_title: builder.add_text_field("display_title", STORED),
        variant_title: builder.add_text_field("variant_title", STORED),
        description: builder.add_text_field("description", stemmed(false)),
        brand: builder.add_text_field("brand", stemmed(false)),
        brand_label: builder.add_text_field("brand_label", STORED),
        categories: builder.add_text_field("categories", stemmed(true)),
        color: builder.add_text_field("color", STRING | STORED),
        color_label: builder.add_text_field("color_label", STORED),
        size: builder.add_text_field("size", STRING | STORED),
        size_label: builder.add_text_field("size_label", STORED),
        material: builder.add_text_field("material", STRING | STORED),
        price: builder.add_i64_field("price", INDEXED | FAST | STORED),
        currency: builder.add_text_field("currency", STRING | STORED),
        in_stock: builder.add_u64_field("in_stock", INDEXED | FAST | STORED),
        gtin: builder.add_text_field("gtin", STRING | STORED),
        url: builder.add_text_field("url", STORED),
        codes: builder.add_text_field("codes", STRING),
        // Hashes of the product key, canonical colour and canonical size as
        // u64 fast fields: search deduplicates products and tells matching
        // variants from the hit list by comparing integers, without loading
        // documents or decompressing a string column's dictionary.
        product_hash: builder.add_u64_field("product_hash", INDEXED | FAST),
        color_hash: builder.add_u64_field("color_hash", FAST),
        size_hash: builder.add_u64_field("size_hash", FAST),
        currency_hash: builder.add_u64_field("currency_hash", FAST),
        // The head document's summary of its product's variants, for the
        // first, product-level stage of a search (see `retrieve`). Filters
        // are fast fields: that stage checks them only for the few products
        // whose score can still make the top, so they never walk posting
        // lists. Currencies are hashes (`stable_hash`). The canonical
        // colours, sizes and materials of the variants in stock, and the
        // brand, are attribute terms that boost.
        product_in_stock: builder.add_u64_field("product_in_stock", FAST),
        product_currency: builder.add_u64_field("product_currency", FAST),
        product_min_price: builder.add_i64_field("product_min_price", FAST),
        product_max_price: builder.add_i64_field("product_max_price", FAST),
        product_color: builder.add_text_field("product_color", attribute()),
        product_size: builder.add_text_field("product_size", attribute()),
        product_material: builder.add_text_field("product_material", attribute()),
        brand_exact: builder.add_text_field("brand_exact", attribute()),
        merchant_hash: builder.add_u64_field("merchant_hash", FAST),
    };
    (builder.build(), fields)
}

/// The canonical colour for a merchant's colour label: the lexicon's value,
/// else the label lowercased.
pub fn canonical_color(rules: &CompiledRules, label: &str) -> String {
    rules
        .lexicon
        .canonical(LexSlot::Color, label)
        .map(str::to_string)
        .unwrap_or_else(|| label.trim().to_lowercase())
}

/// The canonical size for a merchant's size label ("Medium" → "M", "32" →
/// "32").
pub fn canonical_size(rules: &CompiledRules, label: &str) -> String {
    rules
        .lexicon
        .canonical(LexSlot::Size, label)
        .map(str::to_string)
        .unwrap_or_else(|| label.trim().to_uppercase())
}

/// What one merchant's reload did. Products are counted by id; `variants`
/// is the number of variant documents written.
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
}

/// What a build did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSummary {
    pub rebuilt: bool,
    pub merchants: usize,
    pub products: usize,
    pub variants: usize,
}

impl CatalogIndex {
    /// Opens the index in `directory` when its manifest matches `catalogs`
    /// and the rules, otherwise (re)builds it there in one commit.
    pub fn open_or_build(
        directory: &Path,
        catalogs: &[MerchantCatalog],
        rules: &CompiledRules,
    ) -> Result<(CatalogIndex, BuildSummary), CatalogError> {
        if read_manifest(directory).as_deref() == Some(fingerprint(catalogs, rules).as_str()) {
            if let Ok(index) = CatalogIndex::open(directory) {
                return Ok((index, build_summary(catalogs, false)));
            }
        }
        CatalogIndex::rebuild(directory, catalogs, rules)
    }

    /// Builds the index from scratch and records what it was built from, so
    /// that [`CatalogIndex::open_or_build`] reuses it next time.
    pub fn rebuild(
        directory: &Path,
        catalogs: &[MerchantCatalog],
        rules: &CompiledRules,
    ) -> Result<(CatalogIndex, BuildSummary), CatalogError> {
        let index = CatalogIndex::build(directory, catalogs, rules)?;
        write_manifest(directory, &fingerprint(catalogs, rules))?;
        Ok((index, build_summary(catalogs, true)))
    }

    /// Opens an existing index.
    pub fn open(directory: &Path) -> Result<CatalogIndex, CatalogError> {
        let index = Index::open_in_dir(directory)?;
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
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        Ok(CatalogIndex {
            index,
            reader,
            fields,
            directory: directory.to_path_buf(),
        })
    }

    /// Builds the index from scratch in `directory`, replacing what was there.
    pub fn build(
        directory: &Path,
        catalogs: &[MerchantCatalog],
        rules: &CompiledRules,
    ) -> Result<CatalogIndex, CatalogError> {
        let io_error = |source| CatalogError::Io {
            path: directory.to_path_buf(),
            source,
        };
        if directory.exists() {
            std::fs::remove_dir_all(directory).map_err(io_error)?;
        }
        std::fs::create_dir_all(directory).map_err(io_error)?;
        let (schema, fields) = schema();
        let index = Index::create_in_dir(directory, schema)?;
        {
            let mut writer = index.writer::<tantivy::TantivyDocument>(WRITER_MEMORY_BYTES)?;
            for catalog in catalogs {
                for product in &catalog.products {
                    writer.run(product_operations(
                        &fields,
                        rules,
                        &catalog.profile.id,
                        product,
                    ))?;
                }
            }
            writer.commit()?;
            // Let the merges the commit started finish, so searches see
            // few segments.
            writer.wait_merging_threads()?;
        }
        let catalog_index = CatalogIndex::from_index(index, fields, directory)?;
        catalog_index.reader.reload()?;
        Ok(catalog_index)
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
        let index = Index::create_in_dir(directory, schema)?;
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
        let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
        let mut writer = self
            .index
            .writer::<tantivy::TantivyDocument>(WRITER_MEMORY_BYTES)?;
        // Deleting every document of the merchant and adding the feed back is
        // the upsert: deletes apply only to documents committed before them,
        // and nothing is visible until the one commit below.
        writer.delete_term(Term::from_field_text(self.fields.merchant_id, merchant_id));
        for (written, product) in products.iter().enumerate() {
            // A product id twice in one feed: the later row wins, as a
            // reload of it would.
            if !seen.insert(product.id.as_str()) {
                writer.delete_term(self.product_key_term(merchant_id, &product.id));
                summary.duplicates += 1;
            } else if before.contains(product.id.as_str()) {
                summary.updated += 1;
            } else {
                summary.added += 1;
            }
            let operations = product_operations(&self.fields, rules, merchant_id, product);
            summary.variants += operations.len();
            writer.run(operations)?;
            if written % 1024 == 0 {
                on_progress(written);
            }
        }
        summary.removed = before.iter().filter(|id| !seen.contains(*id)).count();
        writer.commit()?;
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
        let searcher = self.reader.searcher();
        for merchant in &mut merchants {
            let term = Term::from_field_text(self.fields.merchant_id, &merchant.merchant_id);
            merchant.variants = searcher.search(
                &tantivy::query::TermQuery::new(term, IndexRecordOption::Basic),
                &tantivy::collector::Count,
            )? as u64;
        }
        Ok(IndexStats {
            products: products.len(),
            variants: searcher.num_docs(),
            bytes_on_disk: directory_size(&self.directory),
            merchants,
        })
    }

    /// Number of variant documents.
    pub fn num_variants(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Term for deleting or finding one merchant's product.
    pub fn product_key_term(&self, merchant_id: &str, product_id: &str) -> Term {
        Term::from_field_text(
            self.fields.product_key,
            &product_key(merchant_id, product_id),
        )
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

/// A product's documents as one batch of add operations. A batch is
/// indexed by one thread into one segment with consecutive document ids, and
/// merges keep that order, so a product's variants sit side by side after
/// its head: search finds them by walking from the head (see
/// `CatalogIndex::search`).
fn product_operations(
    fields: &Fields,
    rules: &CompiledRules,
    merchant_id: &str,
    product: &FeedProduct,
) -> Vec<tantivy::indexer::UserOperation> {
    product_documents(fields, rules, merchant_id, product)
        .into_iter()
        .map(tantivy::indexer::UserOperation::Add)
        .collect()
}

/// One document per variant. The first is the product's head: it alone
/// carries the product's text (title, description, brand, categories, model
/// codes) and a summary of its variants (in stock, currencies, price range,
/// colours and sizes in stock), so that text search scores one document per
/// product rather than one per variant.
fn product_documents(
    fields: &Fields,
    rules: &CompiledRules,
    merchant_id: &str,
    product: &FeedProduct,
) -> Vec<tantivy::TantivyDocument> {
    let key = product_key(merchant_id, &product.id);
    let key_hash = stable_hash(&key);
    let mut documents = Vec::with_capacity(product.variants.len());
    let mut in_stock_colors: Vec<String> = Vec::new();
    let mut in_stock_sizes: Vec<String> = Vec::new();
    let mut in_stock_materials: Vec<String> = Vec::new();
    for variant in &product.variants {
        let color_label = variant.option("color").unwrap_or_default();
        let size_label = variant.option("size").unwrap_or_default();
        let material_label = variant.option("material").unwrap_or_default();
        let material = rules
            .lexicon
            .canonical(LexSlot::Material, material_label)
            .map(str::to_string)
            .unwrap_or_else(|| material_label.trim().to_lowercase());
        let mut document = doc!(
            fields.merchant_id => merchant_id,
            fields.product_key => key.as_str(),
            fields.product_hash => key_hash,
            fields.product_id => product.id.as_str(),
            fields.variant_id => variant.id.as_str(),
            fields.display_title => product.title.as_str(),
            fields.variant_title => variant.title.as_str(),
            fields.brand_label => product.brand.as_str(),
            fields.price => variant.price.amount,
            fields.currency => variant.price.currency.as_str(),
            fields.currency_hash => stable_hash(&variant.price.currency),
            fields.in_stock => u64::from(variant.availability.available),
            fields.url => product.url.as_str(),
        );
        if !color_label.is_empty() {
            let color = canonical_color(rules, color_label);
            document.add_u64(fields.color_hash, stable_hash(&color));
            document.add_text(fields.color_label, color_label);
            if variant.availability.available && !in_stock_colors.contains(&color) {
                in_stock_colors.push(color.clone());
            }
            document.add_text(fields.color, color);
        }
        if !size_label.is_empty() {
            let size = canonical_size(rules, size_label);
            document.add_u64(fields.size_hash, stable_hash(&size));
            document.add_text(fields.size_label, size_label);
            if variant.availability.available && !in_stock_sizes.contains(&size) {
                in_stock_sizes.push(size.clone());
            }
            document.add_text(fields.size, size);
        }
        if !material.is_empty() {
            document.add_text(fields.material, &material);
            if variant.availability.available && !in_stock_materials.contains(&material) {
                in_stock_materials.push(material);
            }
        }
        if let Some(gtin) = variant.gtin() {
            document.add_text(fields.gtin, gtin);
        }
        documents.push(document);
    }
    let Some(head) = documents.first_mut() else {
        return documents;
    };
    head.add_text(fields.title, &product.title);
    // "64 GB" in a title also counts as the word "64gb", as most merchants
    // write it: a second, short title value carries the joined forms.
    let joined_units = unit_joins(&product.title);
    if !joined_units.is_empty() {
        head.add_text(fields.title, joined_units.join(" "));
    }
    head.add_text(fields.description, &product.description);
    head.add_text(fields.brand, &product.brand);
    for category in &product.categories {
        head.add_text(fields.categories, category);
    }
    for code in document_codes(&product.title) {
        head.add_text(fields.codes, code);
    }
    let any_in_stock = product.variants.iter().any(|v| v.availability.available);
    head.add_u64(fields.product_in_stock, u64::from(any_in_stock));
    let mut currencies: Vec<&str> = product
        .variants
        .iter()
        .map(|v| v.price.currency.as_str())
        .collect();
    currencies.sort_unstable();
    currencies.dedup();
    for currency in currencies {
        head.add_u64(fields.product_currency, stable_hash(currency));
    }
    let prices = product.variants.iter().map(|v| v.price.amount);
    head.add_i64(
        fields.product_min_price,
        prices.clone().min().unwrap_or_default(),
    );
    head.add_i64(fields.product_max_price, prices.max().unwrap_or_default());
    for color in in_stock_colors {
        head.add_text(fields.product_color, color);
    }
    for size in in_stock_sizes {
        head.add_text(fields.product_size, size);
    }
    for material in in_stock_materials {
        head.add_text(fields.product_material, material);
    }
    let brand = product.brand.trim().to_lowercase();
    if !brand.is_empty() {
        head.add_text(fields.brand_exact, brand);
    }
    head.add_u64(fields.merchant_hash, stable_hash(merchant_id));
    documents
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
    hasher.update(SCHEMA_VERSION.to_le_bytes());
    for catalog in catalogs {
        hasher.update(serde_json::to_vec(&catalog.profile).unwrap_or_default());
        for product in &catalog.products {
            hasher.update(serde_json::to_vec(product).unwrap_or_default());
        }
    }
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

fn build_summary(catalogs: &[MerchantCatalog], rebuilt: bool) -> BuildSummary {
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
