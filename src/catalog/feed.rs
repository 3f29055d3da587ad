//! Catalog feeds as merchants publish them: JSON Lines in the Agentic
//! Commerce Protocol's product-feed shape (one `Product` with its `variants`
//! per line), plus `merchants.toml`, the list of merchants with their feed
//! files and shop terms.
//!
//! A bad line is reported with file and line and skipped; it never aborts the
//! rest of the feed.

use crate::error::CatalogError;
use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedProduct {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub brand: String,
    #[serde(default)]
    pub categories: Vec<String>,
    /// Who it is for, as Merchant Center says it: `male`, `female`, `unisex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// `newborn`, `infant`, `toddler`, `kids` or `adult` (Merchant Center).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_group: Option<String>,
    /// What the product is made of, when its variants do not differ in it
    /// (a variant's `Material` option says it otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    pub variants: Vec<FeedVariant>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedVariant {
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub price: FeedPrice,
    pub availability: Availability,
    #[serde(default)]
    pub variant_options: Vec<VariantOption>,
    #[serde(default)]
    pub barcodes: Vec<Barcode>,
}

/// Integer minor units, as in ACP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPrice {
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    pub available: bool,
    #[serde(default)]
    pub status: String,
}

impl Availability {
    /// In or out of stock, with the matching ACP status word.
    pub fn from_stock(available: bool) -> Availability {
        Availability {
            available,
            status: if available {
                "in_stock"
            } else {
                "out_of_stock"
            }
            .into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantOption {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Barcode {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl FeedVariant {
    /// The value of option `name` ("Color", "Size", "Material"), matched
    /// case-insensitively; "Colour" counts as "Color".
    pub fn option(&self, name: &str) -> Option<&str> {
        self.variant_options
            .iter()
            .find(|option| same_option_name(&option.name, name))
            .map(|option| option.value.as_str())
    }

    pub fn gtin(&self) -> Option<&str> {
        find_gtin(
            self.barcodes
                .iter()
                .map(|barcode| (barcode.kind.as_str(), barcode.value.as_str())),
        )
    }
}

/// The first `(type, value)` barcode that is a GTIN, EAN or UPC.
fn find_gtin<'s>(mut barcodes: impl Iterator<Item = (&'s str, &'s str)>) -> Option<&'s str> {
    barcodes
        .find(|(kind, _)| {
            kind.eq_ignore_ascii_case("gtin")
                || kind.eq_ignore_ascii_case("ean")
                || kind.eq_ignore_ascii_case("upc")
        })
        .map(|(_, value)| value)
}

/// Whether `a` and `b` canonicalise to the same option name, without
/// allocating for ASCII names: this runs for every variant indexed.
fn same_option_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    if !a.is_ascii() || !b.is_ascii() {
        return canonical_option_name(a) == canonical_option_name(b);
    }
    let colour =
        |name: &str| name.eq_ignore_ascii_case("colour") || name.eq_ignore_ascii_case("color");
    a.eq_ignore_ascii_case(b) || (colour(a) && colour(b))
}

/// "Colour" and "color" are the same option.
pub fn canonical_option_name(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    if lower == "colour" {
        "color".into()
    } else {
        lower
    }
}

impl FeedProduct {
    /// Option names in the order the product first uses them ("Size", "Color").
    pub fn option_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for variant in &self.variants {
            for option in &variant.variant_options {
                if !names
                    .iter()
                    .any(|n| canonical_option_name(n) == canonical_option_name(&option.name))
                {
                    names.push(option.name.clone());
                }
            }
        }
        names
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        ProductRow::from(self).validate()
    }
}

/// The most variants one product may have. Merchants are untrusted, and
/// the index numbers a product's colours and sizes in 16 bits; the largest
/// shops cap products at a few thousand variants.
pub const MAX_VARIANTS_PER_PRODUCT: usize = 10_000;

/// A feed line as read for indexing: the product's text is borrowed from
/// the feed where it has no escapes, so a large feed is indexed without
/// copying each of its strings (and freeing them again) on the way. The
/// same fields and types as [`FeedProduct`], so a line parses, and is
/// rejected, the same either way.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProductRow<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow)]
    pub title: Cow<'a, str>,
    #[serde(borrow, default)]
    pub description: Cow<'a, str>,
    #[serde(borrow, default)]
    pub url: Cow<'a, str>,
    #[serde(borrow, default)]
    pub brand: Cow<'a, str>,
    #[serde(borrow, default)]
    pub categories: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub gender: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub age_group: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub material: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "variant_rows")]
    pub variants: Vec<VariantRow<'a>>,
}

/// A row's variants, into room for a typical product's from the start: a
/// variant row is a few hundred bytes, and growing the list from empty
/// moves each of them twice more (a gigabyte per million variants).
fn variant_rows<'de: 'a, 'a, D>(deserializer: D) -> Result<Vec<VariantRow<'a>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    struct Rows<'a>(std::marker::PhantomData<VariantRow<'a>>);
    impl<'de: 'a, 'a> serde::de::Visitor<'de> for Rows<'a> {
        type Value = Vec<VariantRow<'a>>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
            formatter.write_str("a sequence")
        }
        fn visit_seq<S: serde::de::SeqAccess<'de>>(
            self,
            mut seq: S,
        ) -> Result<Self::Value, S::Error> {
            let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(16));
            while let Some(row) = seq.next_element()? {
                rows.push(row);
            }
            Ok(rows)
        }
    }
    deserializer.deserialize_seq(Rows(std::marker::PhantomData))
}

/// A variant of a [`ProductRow`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VariantRow<'a> {
    #[serde(borrow)]
    pub id: Cow<'a, str>,
    #[serde(borrow, default)]
    pub title: Cow<'a, str>,
    #[serde(borrow)]
    pub price: PriceRow<'a>,
    #[serde(borrow)]
    pub availability: AvailabilityRow<'a>,
    // Held inline: a variant has a few options and barcodes, and a large
    // feed has millions of variants, each of which would otherwise take
    // (and free) two allocations.
    #[serde(borrow, default)]
    pub variant_options: SmallVec<[OptionRow<'a>; 3]>,
    #[serde(borrow, default)]
    pub barcodes: SmallVec<[BarcodeRow<'a>; 1]>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PriceRow<'a> {
    pub amount: i64,
    #[serde(borrow)]
    pub currency: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AvailabilityRow<'a> {
    pub available: bool,
    #[serde(borrow, default)]
    pub status: Cow<'a, str>,
}

/// A variant option, `{name, value}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct OptionRow<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub value: Cow<'a, str>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BarcodeRow<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Cow<'a, str>,
    #[serde(borrow)]
    pub value: Cow<'a, str>,
}

impl<'a> From<&'a FeedProduct> for ProductRow<'a> {
    fn from(product: &'a FeedProduct) -> ProductRow<'a> {
        let text = |value: &'a String| Cow::Borrowed(value.as_str());
        ProductRow {
            id: text(&product.id),
            title: text(&product.title),
            description: text(&product.description),
            url: text(&product.url),
            brand: text(&product.brand),
            categories: product.categories.iter().map(text).collect(),
            gender: product.gender.as_ref().map(text),
            age_group: product.age_group.as_ref().map(text),
            material: product.material.as_ref().map(text),
            variants: product
                .variants
                .iter()
                .map(|variant| VariantRow {
                    id: text(&variant.id),
                    title: text(&variant.title),
                    price: PriceRow {
                        amount: variant.price.amount,
                        currency: text(&variant.price.currency),
                    },
                    availability: AvailabilityRow {
                        available: variant.availability.available,
                        status: text(&variant.availability.status),
                    },
                    variant_options: variant
                        .variant_options
                        .iter()
                        .map(|option| OptionRow {
                            name: text(&option.name),
                            value: text(&option.value),
                        })
                        .collect(),
                    barcodes: variant
                        .barcodes
                        .iter()
                        .map(|barcode| BarcodeRow {
                            kind: text(&barcode.kind),
                            value: text(&barcode.value),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl ProductRow<'_> {
    /// The product, owning its text.
    pub fn into_owned(self) -> FeedProduct {
        FeedProduct {
            id: self.id.into_owned(),
            title: self.title.into_owned(),
            description: self.description.into_owned(),
            url: self.url.into_owned(),
            brand: self.brand.into_owned(),
            categories: self.categories.into_iter().map(Cow::into_owned).collect(),
            gender: self.gender.map(Cow::into_owned),
            age_group: self.age_group.map(Cow::into_owned),
            material: self.material.map(Cow::into_owned),
            variants: self
                .variants
                .into_iter()
                .map(|variant| FeedVariant {
                    id: variant.id.into_owned(),
                    title: variant.title.into_owned(),
                    price: FeedPrice {
                        amount: variant.price.amount,
                        currency: variant.price.currency.into_owned(),
                    },
                    availability: Availability {
                        available: variant.availability.available,
                        status: variant.availability.status.into_owned(),
                    },
                    variant_options: variant
                        .variant_options
                        .into_iter()
                        .map(|option| VariantOption {
                            name: option.name.into_owned(),
                            value: option.value.into_owned(),
                        })
                        .collect(),
                    barcodes: variant
                        .barcodes
                        .into_iter()
                        .map(|barcode| Barcode {
                            kind: barcode.kind.into_owned(),
                            value: barcode.value.into_owned(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Why the row cannot be indexed, if it cannot.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("product id is empty".into());
        }
        if self.title.trim().is_empty() {
            return Err(format!("product {} has no title", self.id));
        }
        if self.variants.is_empty() {
            return Err(format!("product {} has no variants", self.id));
        }
        if self.variants.len() > MAX_VARIANTS_PER_PRODUCT {
            return Err(format!(
                "product {} has {} variants, more than the {MAX_VARIANTS_PER_PRODUCT} allowed",
                self.id,
                self.variants.len()
            ));
        }
        for variant in &self.variants {
            if variant.id.trim().is_empty() {
                return Err(format!("product {} has a variant without id", self.id));
            }
            if variant.price.amount < 0 {
                return Err(format!("variant {} has a negative price", variant.id));
            }
            let code = &variant.price.currency;
            if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(format!(
                    "variant {} has currency {code:?}, not an ISO 4217 code",
                    variant.id
                ));
            }
        }
        Ok(())
    }
}

/// The options a variant's colour, size and material are read from, in
/// the order [`VariantRow::attribute_options`] returns them.
pub const ATTRIBUTE_OPTIONS: [&str; 3] = ["color", "size", "material"];

/// Where an option named `name` goes in [`ATTRIBUTE_OPTIONS`], named as
/// [`same_option_name`] compares: one look at each option of each variant.
fn attribute_position(name: &str) -> Option<usize> {
    let name = name.trim();
    if !name.is_ascii() {
        let name = canonical_option_name(name);
        return ATTRIBUTE_OPTIONS.iter().position(|a| *a == name);
    }
    if name.eq_ignore_ascii_case("color") || name.eq_ignore_ascii_case("colour") {
        Some(0)
    } else if name.eq_ignore_ascii_case("size") {
        Some(1)
    } else if name.eq_ignore_ascii_case("material") {
        Some(2)
    } else {
        None
    }
}

impl VariantRow<'_> {
    /// The values of the colour, size and material options, as
    /// [`FeedVariant::option`] finds each, in one pass over the options:
    /// indexing reads all three for every variant.
    pub fn attribute_options(&self) -> [Option<&str>; 3] {
        let mut found = [None; 3];
        for option in &self.variant_options {
            if let Some(at) = attribute_position(&option.name) {
                // The first option of a name counts, as `FeedVariant::option`.
                found[at].get_or_insert(option.value.as_ref());
            }
        }
        found
    }

    pub fn gtin(&self) -> Option<&str> {
        find_gtin(
            self.barcodes
                .iter()
                .map(|barcode| (barcode.kind.as_ref(), barcode.value.as_ref())),
        )
    }
}

/// A merchant's shop terms and feed, from `merchants.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MerchantProfile {
    pub id: String,
    pub name: String,
    /// Feed file, relative to the manifest.
    pub feed: String,
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Flat shipping per order, in minor units.
    #[serde(default)]
    pub shipping: i64,
    /// Orders whose subtotal reaches this ship free (minor units); 0 = never.
    #[serde(default)]
    pub free_shipping_over: i64,
    /// Sales tax in basis points of the subtotal (825 = 8.25%).
    #[serde(default)]
    pub tax_basis_points: i64,
    /// The protocol its reference merchant speaks when Concierge serves it
    /// (`messenger`, `ucp`, `acp`).
    #[serde(default = "default_protocol")]
    pub protocol: String,
}

fn default_protocol() -> String {
    "messenger".into()
}

fn default_currency() -> String {
    "USD".into()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MerchantManifest {
    #[serde(default)]
    pub merchant: Vec<MerchantProfile>,
}

/// Result of reading one feed: the good products and the rejected lines.
/// Products are [`FeedProduct`]s, or [`ProductRow`]s borrowing the feed
/// text (`parse_jsonl_as`).
#[derive(Debug)]
pub struct FeedRead<P = FeedProduct> {
    pub products: Vec<P>,
    pub rejected: Vec<CatalogError>,
}

impl<P> Default for FeedRead<P> {
    fn default() -> Self {
        FeedRead {
            products: Vec::new(),
            rejected: Vec::new(),
        }
    }
}

/// Parses JSON Lines feed text. `file` names it in error messages.
pub fn parse_jsonl(file: &str, text: &str) -> FeedRead {
    parse_jsonl_as(file, text, ProductRow::into_owned)
}

/// Parses every line into a valid [`ProductRow`], then `keep` makes it the
/// product kept, on the thread that parsed it (indexing builds the
/// product's document there, so each row is freed where it was made).
pub fn parse_jsonl_as<'a, P: Send>(
    file: &str,
    text: &'a str,
    keep: impl Fn(ProductRow<'a>) -> P + Sync,
) -> FeedRead<P> {
    parse_jsonl_from(file, text, 0, keep)
}

/// `parse_jsonl_as` for `text` whose first line is line `first_index + 1`
/// of `file` (a run of lines read by [`read_jsonl_runs`]).
fn parse_jsonl_from<'a, P: Send>(
    file: &str,
    text: &'a str,
    first_index: usize,
    keep: impl Fn(ProductRow<'a>) -> P + Sync,
) -> FeedRead<P> {
    // Large feeds are cut into runs of whole lines parsed on every core
    // (rayon's threads, which live on, so the memory of one feed's rows is
    // reused for the next rather than taken fresh from the system); the
    // runs are joined back in order, so products and errors keep the feed's
    // order and line numbers.
    use rayon::prelude::*;
    const LINES_PER_RUN: usize = 256;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= LINES_PER_RUN {
        return parse_jsonl_lines(file, &lines, first_index, &keep);
    }
    let reads: Vec<FeedRead<P>> = lines
        .par_chunks(LINES_PER_RUN)
        .enumerate()
        .map(|(number, run)| {
            parse_jsonl_lines(file, run, first_index + number * LINES_PER_RUN, &keep)
        })
        .collect();
    let mut read = FeedRead {
        products: Vec::with_capacity(reads.iter().map(|r| r.products.len()).sum()),
        rejected: Vec::new(),
    };
    for part in reads {
        read.products.extend(part.products);
        read.rejected.extend(part.rejected);
    }
    read
}

/// Parses `lines`, the first of which is line `first_index + 1` of `file`.
fn parse_jsonl_lines<'a, P>(
    file: &str,
    lines: &[&'a str],
    first_index: usize,
    keep: &impl Fn(ProductRow<'a>) -> P,
) -> FeedRead<P> {
    let mut read = FeedRead::default();
    for (offset, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad_row = |message: String| CatalogError::BadRow {
            file: file.to_string(),
            line: first_index + offset + 1,
            message,
        };
        match serde_json::from_str::<ProductRow>(line) {
            Ok(product) => match product.validate() {
                Ok(()) => read.products.push(keep(product)),
                Err(message) => read.rejected.push(bad_row(message)),
            },
            Err(error) => read.rejected.push(bad_row(error.to_string())),
        }
    }
    read
}

/// Writes products as JSON Lines.
pub fn to_jsonl(products: &[FeedProduct]) -> String {
    let mut out = String::new();
    for product in products {
        // Serialising plain data structs cannot fail.
        out.push_str(&serde_json::to_string(product).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// A merchant and its products, ready to index or to serve.
#[derive(Debug, Clone)]
pub struct MerchantCatalog {
    pub profile: MerchantProfile,
    pub products: Vec<FeedProduct>,
}

/// Reads `merchants.toml` in `feeds_dir` and each merchant's feed. Rejected
/// lines are returned alongside, never fatal.
pub fn read_feeds_dir(
    feeds_dir: &Path,
) -> Result<(Vec<MerchantCatalog>, Vec<CatalogError>), CatalogError> {
    let manifest_path = feeds_dir.join("merchants.toml");
    let manifest_text = read_file(&manifest_path)?;
    let manifest: MerchantManifest = toml::from_str(&manifest_text).map_err(|error| {
        let line = error
            .span()
            .map(|span| {
                manifest_text[..span.start.min(manifest_text.len())]
                    .matches('\n')
                    .count()
                    + 1
            })
            .unwrap_or(1);
        CatalogError::BadRow {
            file: manifest_path.display().to_string(),
            line,
            message: error.message().trim().to_string(),
        }
    })?;
    let mut catalogs = Vec::new();
    let mut rejected = Vec::new();
    for profile in manifest.merchant {
        let feed_path: PathBuf = feeds_dir.join(&profile.feed);
        let read = read_feed_file(&feed_path)?;
        rejected.extend(read.rejected);
        catalogs.push(MerchantCatalog {
            profile,
            products: read.products,
        });
    }
    Ok((catalogs, rejected))
}

/// The feed formats Concierge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    /// ACP product feed, one product per line.
    JsonLines,
    /// Google Merchant Center, comma-separated with a header row.
    MerchantCenterCsv,
    /// Google Merchant Center, tab-separated with a header row.
    MerchantCenterTsv,
}

impl FeedFormat {
    /// The format `path`'s extension names, if it names one.
    pub fn by_extension(path: &Path) -> Option<FeedFormat> {
        let extension = path.extension()?.to_string_lossy().to_lowercase();
        match extension.as_str() {
            "jsonl" | "ndjson" | "json" => Some(FeedFormat::JsonLines),
            "csv" => Some(FeedFormat::MerchantCenterCsv),
            "tsv" => Some(FeedFormat::MerchantCenterTsv),
            _ => None,
        }
    }

    /// The format of `path`: by extension (`.jsonl`, `.ndjson`, `.json`,
    /// `.csv`, `.tsv`), else by sniffing `text`: a line starting with `{` is
    /// JSON Lines, a header with a tab is TSV, anything else CSV.
    pub fn detect(path: &Path, text: &str) -> FeedFormat {
        if let Some(format) = FeedFormat::by_extension(path) {
            return format;
        }
        let first_line = text
            .lines()
            .map(|line| line.trim_start_matches('\u{feff}').trim())
            .find(|line| !line.is_empty())
            .unwrap_or_default();
        if first_line.starts_with('{') {
            FeedFormat::JsonLines
        } else if first_line.contains('\t') {
            FeedFormat::MerchantCenterTsv
        } else {
            FeedFormat::MerchantCenterCsv
        }
    }
}

/// Parses a feed's bytes in `format`. `file` names it in error messages.
/// A line (JSON Lines) or row (CSV, TSV) that is not UTF-8 is rejected
/// alone.
pub fn parse_feed(file: &str, bytes: &[u8], format: FeedFormat) -> FeedRead {
    match format {
        FeedFormat::JsonLines => {
            let mut rejected = Vec::new();
            let text = utf8_lines(bytes, 0, file, &mut rejected);
            let mut read = parse_jsonl(file, &text);
            read.rejected.extend(rejected);
            sort_by_line(&mut read.rejected);
            read
        }
        FeedFormat::MerchantCenterCsv => super::gmc::parse_gmc(file, bytes, b','),
        FeedFormat::MerchantCenterTsv => super::gmc::parse_gmc(file, bytes, b'\t'),
    }
}

/// `bytes` as text: borrowed when it is all UTF-8 (the usual case);
/// otherwise each line that is not is rejected, as line `first_index +
/// n` of `file`, and left empty, so every other line keeps its number.
fn utf8_lines<'b>(
    bytes: &'b [u8],
    first_index: usize,
    file: &str,
    rejected: &mut Vec<CatalogError>,
) -> Cow<'b, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let mut repaired = String::with_capacity(bytes.len());
    for (offset, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if offset > 0 {
            repaired.push('\n');
        }
        match std::str::from_utf8(line) {
            Ok(line) => repaired.push_str(line),
            Err(error) => rejected.push(CatalogError::BadRow {
                file: file.to_string(),
                line: first_index + offset + 1,
                message: format!("not UTF-8: {error}"),
            }),
        }
    }
    Cow::Owned(repaired)
}

/// Reads one merchant's feed file in whichever format it is. A JSON Lines
/// file (by its extension) is read in runs (`read_jsonl_runs`), so a line
/// that is too long or not UTF-8 is rejected alone.
pub fn read_feed_file(path: &Path) -> Result<FeedRead, CatalogError> {
    if FeedFormat::by_extension(path) == Some(FeedFormat::JsonLines) {
        let (read, _) = read_jsonl_file(path, &mut Vec::new(), |row| row.into_owned())?;
        return Ok(read);
    }
    let bytes = std::fs::read(path).map_err(|source| CatalogError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    // The format from the extension, else from the first lines.
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(64 << 10)]);
    let format = FeedFormat::detect(path, &head);
    Ok(parse_feed(&path.display().to_string(), &bytes, format))
}

/// How much of a JSON Lines feed [`read_jsonl_runs`] reads at a time.
const FEED_RUN_BYTES: usize = 16 << 20;

/// The longest feed line [`read_jsonl_runs`] accepts: one product with
/// its variants. A longer line is rejected, not held in memory.
const MAX_FEED_LINE_BYTES: usize = 32 << 20;

/// Reads the JSON Lines file `path` in runs of whole lines, about
/// [`FEED_RUN_BYTES`] at a time, through `buffer`, and calls `each(text,
/// first_index)` for each run, whose first line is line `first_index + 1`.
/// Memory stays bounded however large the feed: a load holds one run, not
/// the file, and reuses the same buffer for every run and every feed, so it
/// does not take (and have the system zero) fresh memory for each.
///
/// Lines longer than [`MAX_FEED_LINE_BYTES`] and lines that are not UTF-8
/// are skipped; they are returned as rejected rows, with their line.
fn read_jsonl_runs(
    path: &Path,
    buffer: &mut Vec<u8>,
    each: impl FnMut(&str, usize),
) -> Result<RunsRead, CatalogError> {
    read_runs_sized(path, buffer, FEED_RUN_BYTES, MAX_FEED_LINE_BYTES, each)
}

/// [`read_jsonl_runs`] with the run size and longest line given (tests use
/// small ones to cross many runs with little data).
fn read_runs_sized(
    path: &Path,
    buffer: &mut Vec<u8>,
    run_bytes: usize,
    max_line_bytes: usize,
    mut each: impl FnMut(&str, usize),
) -> Result<RunsRead, CatalogError> {
    use std::io::Read;
    let io_error = |source| CatalogError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file_name = path.display().to_string();
    let bad_row = |line: usize, message: String| CatalogError::BadRow {
        file: file_name.clone(),
        line,
        message,
    };
    let mut file = std::fs::File::open(path).map_err(io_error)?;
    let mut rejected = Vec::new();
    let mut reading = std::time::Duration::ZERO;
    buffer.clear();
    // A small file takes a buffer its size, not a whole run.
    let size = file.metadata().map_or(run_bytes, |m| m.len() as usize + 1);
    let wanted = run_bytes.min(size);
    if buffer.capacity() < wanted {
        buffer.reserve_exact(wanted);
    }
    // The 0-based line at the start of `buffer`.
    let mut line_index = 0;
    // Inside a line too long to keep: its bytes are dropped up to its end.
    let mut skipping = false;
    loop {
        let room = buffer.capacity() - buffer.len();
        let started = std::time::Instant::now();
        let read = (&mut file)
            .take(room as u64)
            .read_to_end(buffer)
            .map_err(io_error)?;
        reading += started.elapsed();
        let at_end = read < room;
        if skipping {
            match memchr::memchr(b'\n', buffer) {
                Some(newline) => {
                    buffer.drain(..=newline);
                    line_index += 1;
                    skipping = false;
                }
                None if at_end => break,
                None => {
                    buffer.clear();
                    continue;
                }
            }
        }
        let end = if at_end {
            buffer.len()
        } else {
            match memchr::memrchr(b'\n', buffer) {
                Some(newline) => newline + 1,
                None if buffer.len() < buffer.capacity() => continue,
                // One line fills the buffer: make room for more of it, up
                // to the longest line kept.
                None if buffer.capacity() < max_line_bytes => {
                    let grown = (buffer.capacity() * 2).min(max_line_bytes);
                    buffer.reserve_exact(grown - buffer.len());
                    continue;
                }
                None => {
                    rejected.push(bad_row(
                        line_index + 1,
                        format!("line longer than {max_line_bytes} bytes"),
                    ));
                    buffer.clear();
                    skipping = true;
                    continue;
                }
            }
        };
        let run = &buffer[..end];
        let text = utf8_lines(run, line_index, &file_name, &mut rejected);
        each(&text, line_index);
        line_index += memchr::memchr_iter(b'\n', run).count();
        buffer.drain(..end);
        if at_end {
            break;
        }
    }
    Ok(RunsRead { rejected, reading })
}

/// Reads the JSON Lines file `path` through `buffer` in runs of whole
/// lines, 16 MiB at a time, so memory holds one run whatever the file's
/// size; a line longer than 32 MiB, or not UTF-8, is rejected with its
/// line. Each run is parsed on every core, and each valid row made what
/// `keep` returns on the thread that parsed it. Returns the
/// products in feed order, every rejected line in line order, and the time
/// spent waiting for the file's bytes.
pub fn read_jsonl_file<P: Send>(
    path: &Path,
    buffer: &mut Vec<u8>,
    keep: impl Fn(ProductRow<'_>) -> P + Sync,
) -> Result<(FeedRead<P>, std::time::Duration), CatalogError> {
    let file = path.display().to_string();
    let mut read = FeedRead::default();
    let runs = read_jsonl_runs(path, buffer, |text, first_index| {
        let part = parse_jsonl_from(&file, text, first_index, &keep);
        read.products.extend(part.products);
        read.rejected.extend(part.rejected);
    })?;
    read.rejected.extend(runs.rejected);
    sort_by_line(&mut read.rejected);
    Ok((read, runs.reading))
}

/// Puts rejected rows in line order (rows rejected by the reader and by
/// the parser are found apart).
fn sort_by_line(rejected: &mut [CatalogError]) {
    rejected.sort_by_key(|error| match error {
        CatalogError::BadRow { line, .. } => *line,
        _ => 0,
    });
}

/// What [`read_jsonl_runs`] reports of a file besides its runs.
#[derive(Debug, Default)]
struct RunsRead {
    /// Lines too long to keep, or not UTF-8.
    pub rejected: Vec<CatalogError>,
    /// The time spent waiting for the file's bytes.
    pub reading: std::time::Duration,
}

pub fn read_file(path: &Path) -> Result<String, CatalogError> {
    std::fs::read_to_string(path).map_err(|source| CatalogError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The line of each rejected row (tests).
#[cfg(test)]
pub(crate) fn rejected_lines(rejected: &[CatalogError]) -> Vec<usize> {
    rejected
        .iter()
        .map(|error| match error {
            CatalogError::BadRow { line, .. } => *line,
            other => panic!("unexpected {other}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_detected_by_extension_then_content() {
        let table = [
            ("a.jsonl", "", FeedFormat::JsonLines),
            ("a.CSV", "{", FeedFormat::MerchantCenterCsv),
            ("a.tsv", "", FeedFormat::MerchantCenterTsv),
            ("feed", "\n  {\"id\":1}", FeedFormat::JsonLines),
            (
                "feed.txt",
                "id\ttitle\tprice",
                FeedFormat::MerchantCenterTsv,
            ),
            ("feed.txt", "id,title,price", FeedFormat::MerchantCenterCsv),
        ];
        for (path, text, expected) in table {
            assert_eq!(
                FeedFormat::detect(Path::new(path), text),
                expected,
                "{path}"
            );
        }
    }

    #[test]
    fn rows_borrow_plain_text_and_read_as_the_owned_products_do() {
        let lines = [
            r#"{"id":"P1","title":"Tee","variants":[{"id":"P1-M","price":{"amount":1500,"currency":"USD"},"availability":{"available":true},"variant_options":[{"name":" Colour ","value":"Navy"}],"barcodes":[{"type":"EAN","value":"0123"}]}]}"#,
            r#"{"id":"P2","title":"Caf\u00e9 \"Mug\"","categories":["Home","Mugs"],"variants":[{"id":"P2-1","price":{"amount":900,"currency":"EUR"},"availability":{"available":false,"status":"out_of_stock"}}]}"#,
            r#"{"id":"P3","title":"Bad","variants":[{"id":"P3-1","price":{"amount":-1,"currency":"USD"},"availability":{"available":true}}]}"#,
            r#"{"id":"P4","title":7,"variants":[]}"#,
        ];
        let too_many = format!(
            r#"{{"id":"P5","title":"Many","variants":[{}]}}"#,
            vec![
                r#"{"id":"v","price":{"amount":1,"currency":"USD"},"availability":{"available":true}}"#;
                MAX_VARIANTS_PER_PRODUCT + 1
            ]
            .join(",")
        );
        let text = [lines.join("\n"), too_many].join("\n");
        let rows = parse_jsonl_as("feed.jsonl", &text, |row| row);
        let owned = parse_jsonl("feed.jsonl", &text);
        assert_eq!(rows.products.len(), 2);
        assert!(matches!(rows.products[0].title, Cow::Borrowed("Tee")));
        assert!(matches!(rows.products[1].title, Cow::Owned(_)));
        assert_eq!(rows.products[1].title, "Caf\u{e9} \"Mug\"");
        assert_eq!(
            rows.products[0].variants[0].attribute_options(),
            [Some("Navy"), None, None]
        );
        assert_eq!(rows.products[0].variants[0].gtin(), Some("0123"));
        let messages =
            |read: &[CatalogError]| -> Vec<String> { read.iter().map(|e| e.to_string()).collect() };
        assert_eq!(messages(&rows.rejected), messages(&owned.rejected));
        assert_eq!(rows.rejected.len(), 3);
        assert!(
            messages(&rows.rejected)[2].contains("more than the 10000 allowed"),
            "{:?}",
            messages(&rows.rejected)
        );
        for (row, product) in rows.products.into_iter().zip(&owned.products) {
            assert_eq!(&ProductRow::from(product).into_owned(), product);
            assert_eq!(&row.into_owned(), product);
        }
    }

    #[test]
    fn bad_lines_are_reported_with_line_numbers_and_skipped() {
        let good = r#"{"id":"P1","title":"Tee","variants":[{"id":"P1-M","price":{"amount":1500,"currency":"USD"},"availability":{"available":true}}]}"#;
        let text = format!(
            "{good}\nnot json\n\n{{\"id\":\"P2\",\"title\":\"\",\"variants\":[]}}\n{good}\n"
        );
        let read = parse_jsonl("feed.jsonl", &text);
        assert_eq!(read.products.len(), 2);
        let messages: Vec<String> = read.rejected.iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 2);
        assert!(messages[0].starts_with("feed.jsonl:2:"), "{messages:?}");
        assert!(messages[1].starts_with("feed.jsonl:4:"), "{messages:?}");
        assert!(messages[1].contains("has no title"), "{messages:?}");
    }

    /// Reads `bytes` as a file through `read_runs_sized`, returning the
    /// runs (with their first line index) and what was rejected.
    fn runs_of(
        bytes: &[u8],
        run_bytes: usize,
        max_line_bytes: usize,
    ) -> (Vec<(String, usize)>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.jsonl");
        std::fs::write(&path, bytes).unwrap();
        let mut runs = Vec::new();
        let read = read_runs_sized(
            &path,
            &mut Vec::new(),
            run_bytes,
            max_line_bytes,
            |text, at| runs.push((text.to_string(), at)),
        )
        .unwrap();
        let rejected = read
            .rejected
            .iter()
            .map(|e| {
                e.to_string()
                    .replace(&path.display().to_string(), "feed.jsonl")
            })
            .collect();
        (runs, rejected)
    }

    #[test]
    fn runs_cover_the_file_in_whole_lines_and_keep_line_numbers() {
        let good = |id: usize| {
            format!(
                r#"{{"id":"P{id}","title":"Tee {id}","variants":[{{"id":"P{id}-M","price":{{"amount":1500,"currency":"USD"}},"availability":{{"available":true}}}}]}}"#
            )
        };
        let mut lines: Vec<String> = (1..=40).map(good).collect();
        lines[6] = "not json".into();
        lines[17] = String::new();
        lines[22] = format!("{}\r", good(23));
        // No newline after the last line.
        let text = lines.join("\n");
        let whole = parse_jsonl("feed.jsonl", &text);
        let messages = |read: &FeedRead| -> Vec<String> {
            read.rejected.iter().map(|e| e.to_string()).collect()
        };
        // Runs smaller than a line (the buffer grows), of a few lines, and
        // larger than the file.
        for run_bytes in [64, 300, 1000, 1 << 20] {
            let (runs, rejected) = runs_of(text.as_bytes(), run_bytes, 1 << 20);
            assert!(rejected.is_empty(), "{rejected:?}");
            let joined: String = runs.iter().map(|(run, _)| run.as_str()).collect();
            assert_eq!(joined, text, "run size {run_bytes}");
            let mut products = Vec::new();
            let mut rejected = FeedRead::<FeedProduct>::default();
            let mut offset = 0;
            for (run, first_index) in &runs {
                assert_eq!(*first_index, text[..offset].matches('\n').count());
                offset += run.len();
                assert!(run.ends_with('\n') || offset == text.len());
                let read =
                    parse_jsonl_from("feed.jsonl", run, *first_index, ProductRow::into_owned);
                products.extend(read.products);
                rejected.rejected.extend(read.rejected);
            }
            assert_eq!(products, whole.products, "run size {run_bytes}");
            assert_eq!(
                messages(&rejected),
                messages(&whole),
                "run size {run_bytes}"
            );
        }
        assert_eq!(whole.products.len(), 38);
        assert!(messages(&whole)[0].starts_with("feed.jsonl:7:"));
    }

    #[test]
    fn overlong_and_non_utf8_lines_are_rejected_with_their_line() {
        let good = r#"{"id":"P1","title":"Tee","variants":[{"id":"P1-M","price":{"amount":1500,"currency":"USD"},"availability":{"available":true}}]}"#;
        let mut bytes = Vec::new();
        for line in 1..=12 {
            match line {
                4 => bytes.extend(format!(r#"{{"id":"{}"}}"#, "x".repeat(900)).bytes()),
                9 => bytes.extend(b"{\"id\":\"caf\xe9\"}"),
                _ => bytes.extend(good.bytes()),
            }
            bytes.push(b'\n');
        }
        for run_bytes in [100, 256, 512] {
            let (runs, rejected) = runs_of(&bytes, run_bytes, 512);
            assert_eq!(rejected.len(), 2, "{rejected:?}");
            assert!(
                rejected[0].starts_with("feed.jsonl:4: line longer than 512 bytes"),
                "{rejected:?}"
            );
            assert!(
                rejected[1].starts_with("feed.jsonl:9: not UTF-8"),
                "{rejected:?}"
            );
            let products: usize = runs
                .iter()
                .map(|(run, at)| {
                    let read = parse_jsonl_from("feed.jsonl", run, *at, |row| row.id.into_owned());
                    assert!(read.rejected.is_empty(), "{:?}", read.rejected);
                    read.products.len()
                })
                .sum();
            assert_eq!(products, 10, "run size {run_bytes}");
        }
        // An overlong last line without a newline is dropped too.
        let mut tail = good.as_bytes().to_vec();
        tail.push(b'\n');
        tail.extend("y".repeat(2000).bytes());
        let (runs, rejected) = runs_of(&tail, 128, 512);
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].starts_with("feed.jsonl:2:"), "{rejected:?}");
        let kept: String = runs.iter().map(|(run, _)| run.as_str()).collect();
        assert_eq!(kept, format!("{good}\n"));
    }

    #[test]
    fn attribute_positions_follow_the_option_name_comparison() {
        for name in [
            "Color",
            " colour ",
            "COLOUR",
            "Size",
            "size ",
            "MATERIAL",
            "Material",
            "Colours",
            "Farbe",
            "Größe",
            "",
            " ",
            "materials",
            "sizes",
        ] {
            let expected = ATTRIBUTE_OPTIONS
                .iter()
                .position(|attribute| same_option_name(name, attribute));
            assert_eq!(attribute_position(name), expected, "{name:?}");
        }
    }

    #[test]
    fn a_jsonl_feed_file_loses_only_its_bad_lines() {
        let good = |id: &str| {
            format!(
                r#"{{"id":"{id}","title":"Tee","variants":[{{"id":"{id}-M","price":{{"amount":1500,"currency":"USD"}},"availability":{{"available":true}}}}]}}"#
            )
        };
        let mut bytes = format!("{}\n", good("P1")).into_bytes();
        bytes.extend(b"{\"id\":\"caf\xe9\"}\nnot json\n");
        bytes.extend(good("P2").bytes());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.jsonl");
        std::fs::write(&path, &bytes).unwrap();
        let read = read_feed_file(&path).unwrap();
        let ids: Vec<&str> = read.products.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["P1", "P2"]);
        assert_eq!(rejected_lines(&read.rejected), [2, 3]);
    }

    #[test]
    fn csv_and_sniffed_feed_files_lose_only_their_non_utf8_rows() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("feed.csv");
        std::fs::write(
            &csv,
            b"id,title,price\nA,Wool Scarf,25.00 USD\nB,Caf\xe9 Mug,9.00 USD\nC,Tee,15.00 USD\n",
        )
        .unwrap();
        let read = read_feed_file(&csv).unwrap();
        let ids: Vec<&str> = read.products.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["A", "C"]);
        assert_eq!(rejected_lines(&read.rejected), [3]);

        // No telling extension: JSON Lines found by its first line.
        let good = r#"{"id":"P1","title":"Tee","variants":[{"id":"P1-M","price":{"amount":1500,"currency":"USD"},"availability":{"available":true}}]}"#;
        let mut bytes = format!("{good}\n").into_bytes();
        bytes.extend(b"{\"id\":\"caf\xe9\"}\n");
        bytes.extend(good.replace("P1", "P2").bytes());
        let sniffed = dir.path().join("feed");
        std::fs::write(&sniffed, &bytes).unwrap();
        let read = read_feed_file(&sniffed).unwrap();
        let ids: Vec<&str> = read.products.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["P1", "P2"]);
        assert_eq!(rejected_lines(&read.rejected), [2]);
    }
}
