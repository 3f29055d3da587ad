//! Catalog feeds as merchants publish them: JSON Lines in the Agentic
//! Commerce Protocol's product-feed shape (one `Product` with its `variants`
//! per line), plus `merchants.toml`, the list of merchants with their feed
//! files and shop terms.
//!
//! A bad line is reported with file and line and skipped; it never aborts the
//! rest of the feed.

use crate::error::CatalogError;
use serde::{Deserialize, Serialize};
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
        self.barcodes
            .iter()
            .find(|b| {
                b.kind.eq_ignore_ascii_case("gtin")
                    || b.kind.eq_ignore_ascii_case("ean")
                    || b.kind.eq_ignore_ascii_case("upc")
            })
            .map(|b| b.value.as_str())
    }
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
        if self.id.trim().is_empty() {
            return Err("product id is empty".into());
        }
        if self.title.trim().is_empty() {
            return Err(format!("product {} has no title", self.id));
        }
        if self.variants.is_empty() {
            return Err(format!("product {} has no variants", self.id));
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
#[derive(Debug, Default)]
pub struct FeedRead {
    pub products: Vec<FeedProduct>,
    pub rejected: Vec<CatalogError>,
}

/// Parses JSON Lines feed text. `file` names it in error messages.
pub fn parse_jsonl(file: &str, text: &str) -> FeedRead {
    // Large feeds are cut into runs of whole lines parsed on every core;
    // the runs are joined back in order, so products and errors keep the
    // feed's order and line numbers.
    const LINES_PER_THREAD_AT_LEAST: usize = 4096;
    let lines: Vec<&str> = text.lines().collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(lines.len() / LINES_PER_THREAD_AT_LEAST)
        .max(1);
    if threads == 1 {
        return parse_jsonl_lines(file, &lines, 0);
    }
    let chunk = lines.len().div_ceil(threads);
    let reads: Vec<FeedRead> = std::thread::scope(|scope| {
        let handles: Vec<_> = lines
            .chunks(chunk)
            .enumerate()
            .map(|(number, run)| scope.spawn(move || parse_jsonl_lines(file, run, number * chunk)))
            .collect();
        handles
            .into_iter()
            // A panic in a parser thread is re-raised here, as it would
            // have been on one thread: a run is never silently dropped.
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let mut read = FeedRead::default();
    for part in reads {
        read.products.extend(part.products);
        read.rejected.extend(part.rejected);
    }
    read
}

/// Parses `lines`, the first of which is line `first_index + 1` of `file`.
fn parse_jsonl_lines(file: &str, lines: &[&str], first_index: usize) -> FeedRead {
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
        match serde_json::from_str::<FeedProduct>(line) {
            Ok(product) => match product.validate() {
                Ok(()) => read.products.push(product),
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
    /// The format of `path`: by extension (`.jsonl`, `.ndjson`, `.json`,
    /// `.csv`, `.tsv`), else by sniffing `text`: a line starting with `{` is
    /// JSON Lines, a header with a tab is TSV, anything else CSV.
    pub fn detect(path: &Path, text: &str) -> FeedFormat {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        match extension.as_str() {
            "jsonl" | "ndjson" | "json" => return FeedFormat::JsonLines,
            "csv" => return FeedFormat::MerchantCenterCsv,
            "tsv" => return FeedFormat::MerchantCenterTsv,
            _ => {}
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

/// Parses feed text in `format`. `file` names it in error messages.
pub fn parse_feed(file: &str, text: &str, format: FeedFormat) -> FeedRead {
    match format {
        FeedFormat::JsonLines => parse_jsonl(file, text),
        FeedFormat::MerchantCenterCsv => super::gmc::parse_gmc(file, text, b','),
        FeedFormat::MerchantCenterTsv => super::gmc::parse_gmc(file, text, b'\t'),
    }
}

/// Reads one merchant's feed file in whichever format it is.
pub fn read_feed_file(path: &Path) -> Result<FeedRead, CatalogError> {
    let text = read_file(path)?;
    let format = FeedFormat::detect(path, &text);
    Ok(parse_feed(&path.display().to_string(), &text, format))
}

/// Reads `path` into `text`, replacing what it held but keeping its
/// memory: a load of several large feeds reads them all through one buffer
/// rather than taking (and zeroing) fresh memory for each.
pub fn read_file_into(path: &Path, text: &mut String) -> Result<(), CatalogError> {
    use std::io::Read;
    text.clear();
    std::fs::File::open(path)
        .and_then(|mut file| file.read_to_string(text))
        .map(|_| ())
        .map_err(|source| CatalogError::Io {
            path: path.to_path_buf(),
            source,
        })
}

pub fn read_file(path: &Path) -> Result<String, CatalogError> {
    std::fs::read_to_string(path).map_err(|source| CatalogError::Io {
        path: path.to_path_buf(),
        source,
    })
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
}
