//! Magento 2 sample-data catalogs (the "Luma" store) converted to ACP feed
//! products: each `configurable` product becomes one product whose variants
//! are its `simple` children (size × colour, each with its own price and
//! stock); the gear files' simple products become one-variant products.
//!
//! Magento's import CSV has quoted fields with newlines and HTML; the `csv`
//! crate reads them, and descriptions are reduced to plain text here.

use crate::catalog::feed::{
    Availability, FeedPrice, FeedProduct, FeedRead, FeedVariant, VariantOption,
};
use crate::error::CatalogError;
use std::collections::HashMap;
use std::path::Path;

const BRAND: &str = "Luma";
const CURRENCY: &str = "USD";

/// Reads `configurable_products.csv` and any `products_gear_*.csv` in
/// `directory`.
pub fn read_magento_dir(directory: &Path) -> Result<FeedRead, CatalogError> {
    let configurable = directory.join("configurable_products.csv");
    let text = crate::catalog::feed::read_file(&configurable)?;
    let mut read = parse_configurable(&configurable.display().to_string(), &text);
    let mut gear_files: Vec<_> = std::fs::read_dir(directory)
        .map_err(|source| CatalogError::Io {
            path: directory.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .map(|n| n.to_string_lossy().starts_with("products_gear_"))
                .unwrap_or(false)
        })
        .collect();
    gear_files.sort();
    for path in gear_files {
        let text = crate::catalog::feed::read_file(&path)?;
        let gear = parse_gear(&path.display().to_string(), &text);
        read.products.extend(gear.products);
        read.rejected.extend(gear.rejected);
    }
    Ok(read)
}

/// One CSV's rows as maps from column name to value, with their line.
fn rows(
    file: &str,
    text: &str,
    rejected: &mut Vec<CatalogError>,
) -> Vec<(usize, HashMap<String, String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => {
            rejected.push(CatalogError::BadRow {
                file: file.into(),
                line: 1,
                message: error.to_string(),
            });
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for result in reader.records() {
        match result {
            Ok(record) => {
                let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
                let row = headers
                    .iter()
                    .zip(record.iter())
                    .map(|(name, value)| (name.trim().to_string(), value.trim().to_string()))
                    .collect();
                out.push((line, row));
            }
            Err(error) => rejected.push(CatalogError::BadRow {
                file: file.into(),
                line: error.position().map(|p| p.line() as usize).unwrap_or(0),
                message: error.to_string(),
            }),
        }
    }
    out
}

/// `a=1,b=2` (Magento's additional_attributes and variation lists).
fn attributes(text: &str) -> HashMap<String, String> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_string()))
        .collect()
}

/// Parses `configurable_products.csv`.
pub fn parse_configurable(file: &str, text: &str) -> FeedRead {
    let mut read = FeedRead::default();
    let all = rows(file, text, &mut read.rejected);
    let get =
        |row: &HashMap<String, String>, name: &str| row.get(name).cloned().unwrap_or_default();
    let simples: HashMap<String, &HashMap<String, String>> = all
        .iter()
        .filter(|(_, row)| get(row, "product_type") == "simple")
        .map(|(_, row)| (get(row, "sku"), row))
        .collect();
    for (line, row) in all
        .iter()
        .filter(|(_, row)| get(row, "product_type") == "configurable")
    {
        let bad = |message: String| CatalogError::BadRow {
            file: file.into(),
            line: *line,
            message,
        };
        let sku = get(row, "sku");
        let parent_attributes = attributes(&get(row, "additional_attributes"));
        // "Cotton|Polyester": the first is the main material.
        let material = parent_attributes
            .get("material")
            .and_then(|m| m.split('|').next())
            .unwrap_or_default()
            .to_string();
        let mut variants = Vec::new();
        for variation in get(row, "configurable_variations").split('|') {
            let options = attributes(variation);
            let Some(child_sku) = options.get("sku") else {
                continue;
            };
            let child = simples.get(child_sku);
            let price_text = child
                .map(|c| get(c, "price"))
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| get(row, "price"));
            let Some(amount) = crate::money::parse_decimal_minor(&price_text) else {
                read.rejected
                    .push(bad(format!("variant {child_sku} has price {price_text:?}")));
                continue;
            };
            let available = child.is_some_and(|c| {
                get(c, "is_in_stock") == "1"
                    && get(c, "qty")
                        .parse::<f64>()
                        .map(|q| q > 0.0)
                        .unwrap_or(false)
            });
            let mut variant_options = Vec::new();
            for (key, name) in [("size", "Size"), ("color", "Color")] {
                if let Some(value) = options.get(key) {
                    variant_options.push(VariantOption {
                        name: name.into(),
                        value: value.clone(),
                    });
                }
            }
            if !material.is_empty() {
                variant_options.push(VariantOption {
                    name: "Material".into(),
                    value: material.clone(),
                });
            }
            variants.push(FeedVariant {
                id: child_sku.clone(),
                title: child
                    .map(|c| get(c, "name"))
                    .unwrap_or_else(|| child_sku.clone()),
                price: FeedPrice {
                    amount,
                    currency: CURRENCY.into(),
                },
                availability: Availability::from_stock(available),
                variant_options,
                barcodes: Vec::new(),
            });
        }
        let product = FeedProduct {
            gender: None,
            age_group: None,
            material: None,
            id: sku.clone(),
            // Names carry HTML entities ("HeatTec&reg; Tee").
            title: plain_text(&get(row, "name")),
            description: plain_text(&get(row, "description")),
            url: format!("https://luma.example/{}.html", get(row, "url_key")),
            brand: BRAND.into(),
            categories: categories(&get(row, "categories"), '/'),
            variants,
        };
        match product.validate() {
            Ok(()) => read.products.push(product),
            Err(message) => read.rejected.push(bad(message)),
        }
    }
    read
}

/// Parses one `products_gear_*.csv` (simple products, no variants).
pub fn parse_gear(file: &str, text: &str) -> FeedRead {
    let mut read = FeedRead::default();
    for (line, row) in rows(file, text, &mut read.rejected) {
        let get = |name: &str| row.get(name).cloned().unwrap_or_default();
        let sku = get("sku");
        let price_text = get("price");
        let bad = |message: String| CatalogError::BadRow {
            file: file.into(),
            line,
            message,
        };
        let Some(amount) = crate::money::parse_decimal_minor(&price_text) else {
            read.rejected
                .push(bad(format!("product {sku} has price {price_text:?}")));
            continue;
        };
        let material = get("material");
        let material = material.split(',').next().unwrap_or_default().trim();
        let product = FeedProduct {
            gender: None,
            age_group: None,
            material: None,
            id: sku.clone(),
            title: plain_text(&get("name")),
            description: plain_text(&get("description")),
            url: String::new(),
            brand: BRAND.into(),
            // "Gear\nBags": one path, one level per line.
            categories: get("category")
                .lines()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect(),
            variants: vec![FeedVariant {
                id: sku.clone(),
                title: get("name"),
                price: FeedPrice {
                    amount,
                    currency: CURRENCY.into(),
                },
                availability: Availability::from_stock(true),
                variant_options: if material.is_empty() {
                    Vec::new()
                } else {
                    vec![VariantOption {
                        name: "Material".into(),
                        value: material.to_string(),
                    }]
                },
                barcodes: Vec::new(),
            }],
        };
        match product.validate() {
            Ok(()) => read.products.push(product),
            Err(message) => read.rejected.push(bad(message)),
        }
    }
    read
}

/// The deepest category path's levels without "Default Category":
/// "Default Category/Men/Tops/Hoodies & Sweatshirts,Default Category" →
/// ["Men", "Tops", "Hoodies & Sweatshirts"].
fn categories(text: &str, separator: char) -> Vec<String> {
    text.split(',')
        .map(|path| {
            path.split(separator)
                .map(str::trim)
                .filter(|level| !level.is_empty() && *level != "Default Category")
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .max_by_key(|levels| levels.len())
        .unwrap_or_default()
}

/// HTML to plain text: tags dropped, a few entities decoded, spaces folded.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&bull;", " ")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&reg;", "")
        .replace("&trade;", "");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_plain_text_and_category_paths_levels() {
        let table = [
            (
                "<p>Warm &amp; soft.</p>\n<p>&bull; Hood.</p>",
                "Warm & soft. Hood.",
            ),
            ("plain", "plain"),
        ];
        for (html, expected) in table {
            assert_eq!(plain_text(html), expected);
        }
        assert_eq!(
            categories(
                "Default Category/Men/Tops/Hoodies & Sweatshirts,Default Category",
                '/'
            ),
            vec!["Men", "Tops", "Hoodies & Sweatshirts"]
        );
    }

    #[test]
    fn a_configurable_product_gets_its_children_as_variants() {
        let text = "sku,product_type,categories,name,description,price,url_key,additional_attributes,qty,is_in_stock,configurable_variations
MH01-S-Gray,simple,,Hoodie-S-Gray,,52,,\"size=S,color=Gray\",100,1,
MH01-M-Gray,simple,,Hoodie-M-Gray,,54,,\"size=M,color=Gray\",0,1,
MH01,configurable,Default Category/Men/Tops/Hoodies,Chaz Hoodie,<p>Warm</p>,52,chaz,\"material=Wool|Fleece\",0,1,\"sku=MH01-S-Gray,size=S,color=Gray|sku=MH01-M-Gray,size=M,color=Gray\"
BAD,configurable,,No Variants,,10,,,0,1,
";
        let read = parse_configurable("c.csv", text);
        assert_eq!(read.products.len(), 1);
        assert_eq!(read.rejected.len(), 1);
        assert!(read.rejected[0].to_string().starts_with("c.csv:5:"));
        let hoodie = &read.products[0];
        assert_eq!(hoodie.title, "Chaz Hoodie");
        assert_eq!(hoodie.categories, vec!["Men", "Tops", "Hoodies"]);
        assert_eq!(hoodie.variants.len(), 2);
        let medium = &hoodie.variants[1];
        assert_eq!(medium.price.amount, 5400);
        assert!(!medium.availability.available);
        assert_eq!(medium.option("size"), Some("M"));
        assert_eq!(medium.option("material"), Some("Wool"));
    }
}
