//! The on-disk tantivy index holding every merchant's catalog: one document
//! per variant, so that price, stock, colour and size filter and boost at the
//! level a shopper buys.
//!
//! Colours and sizes are stored twice: as the merchant wrote them ("Heather
//! Grey") for display and for talking to the merchant, and canonicalised by
//! the rules' lexicon ("gray") for matching.

use super::feed::{FeedProduct, FeedVariant, MerchantCatalog};
use crate::error::CatalogError;
use crate::rules::{CompiledRules, LexSlot};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, INDEXED, STORED, STRING,
};
use tantivy::{doc, Index, IndexReader, ReloadPolicy, Term};

/// Bumped whenever the schema or the way documents are built changes, so old
/// indexes are rebuilt rather than misread.
pub const SCHEMA_VERSION: u32 = 1;
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
    pub brand_exact: Field,
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
        product_key: builder.add_text_field("product_key", STRING),
        product_id: builder.add_text_field("product_id", STRING | STORED),
        variant_id: builder.add_text_field("variant_id", STRING | STORED),
        title: builder.add_text_field("title", stemmed(true)),
        variant_title: builder.add_text_field("variant_title", STORED),
        description: builder.add_text_field("description", stemmed(false)),
        brand: builder.add_text_field("brand", stemmed(true)),
        brand_exact: builder.add_text_field("brand_exact", STRING),
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
        let fingerprint = fingerprint(catalogs, rules);
        let summary = |rebuilt| BuildSummary {
            rebuilt,
            merchants: catalogs.len(),
            products: catalogs.iter().map(|c| c.products.len()).sum(),
            variants: catalogs
                .iter()
                .flat_map(|c| &c.products)
                .map(|p| p.variants.len())
                .sum(),
        };
        if read_manifest(directory).as_deref() == Some(fingerprint.as_str()) {
            if let Ok(index) = CatalogIndex::open(directory) {
                return Ok((index, summary(false)));
            }
        }
        let index = CatalogIndex::build(directory, catalogs, rules)?;
        write_manifest(directory, &fingerprint)?;
        Ok((index, summary(true)))
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
                    for variant in &product.variants {
                        writer.add_document(variant_document(
                            &fields,
                            rules,
                            &catalog.profile.id,
                            product,
                            variant,
                        ))?;
                    }
                }
            }
            writer.commit()?;
        }
        let catalog_index = CatalogIndex::from_index(index, fields, directory)?;
        catalog_index.reader.reload()?;
        Ok(catalog_index)
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

fn product_key(merchant_id: &str, product_id: &str) -> String {
    format!("{merchant_id}\u{1f}{product_id}")
}

fn variant_document(
    fields: &Fields,
    rules: &CompiledRules,
    merchant_id: &str,
    product: &FeedProduct,
    variant: &FeedVariant,
) -> tantivy::TantivyDocument {
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
        fields.product_key => product_key(merchant_id, &product.id),
        fields.product_id => product.id.as_str(),
        fields.variant_id => variant.id.as_str(),
        fields.title => product.title.as_str(),
        fields.variant_title => variant.title.as_str(),
        fields.description => product.description.as_str(),
        fields.brand => product.brand.as_str(),
        fields.brand_exact => product.brand.to_lowercase(),
        fields.price => variant.price.amount,
        fields.currency => variant.price.currency.as_str(),
        fields.in_stock => u64::from(variant.availability.available),
        fields.url => product.url.as_str(),
    );
    for category in &product.categories {
        document.add_text(fields.categories, category);
    }
    if !color_label.is_empty() {
        document.add_text(fields.color, canonical_color(rules, color_label));
        document.add_text(fields.color_label, color_label);
    }
    if !size_label.is_empty() {
        document.add_text(fields.size, canonical_size(rules, size_label));
        document.add_text(fields.size_label, size_label);
    }
    if !material.is_empty() {
        document.add_text(fields.material, &material);
    }
    if let Some(gtin) = variant.gtin() {
        document.add_text(fields.gtin, gtin);
    }
    document
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
                .map(move |hit| format!("{phrase}={}", hit.canonical))
        })
        .collect();
    lexicon.sort();
    hasher.update(lexicon.join("\n").as_bytes());
    hex::encode(hasher.finalize())
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
