//! Google Merchant Center product data as CSV or TSV, the feed most
//! merchants already export: one row per variant, variants of one product
//! sharing an `item_group_id`.
//!
//! Rows become the same [`FeedProduct`]s the ACP JSON Lines reader makes, so
//! everything downstream sees one shape. A bad row (no id, no title, a price
//! that is not "45.00 USD") is reported with file and line and skipped; its
//! siblings in the same item group still load.

use super::feed::{
    Availability, Barcode, FeedPrice, FeedProduct, FeedRead, FeedVariant, VariantOption,
};
use crate::error::CatalogError;
use crate::money::Money;
use std::collections::HashMap;

/// The columns read; others (image_link, shipping, ...) are ignored.
const COLUMNS: [&str; 16] = [
    "id",
    "title",
    "description",
    "link",
    "price",
    "availability",
    "brand",
    "gtin",
    "mpn",
    "color",
    "size",
    "material",
    "item_group_id",
    "product_type",
    "gender",
    "age_group",
];

/// Parses a Merchant Center feed's bytes with the given delimiter (`b','`
/// or `b'\t'`). `file` names it in error messages; a row that is not
/// UTF-8 is rejected with its line, like any other bad row.
pub fn parse_gmc(file: &str, bytes: &[u8], delimiter: u8) -> FeedRead {
    let mut read = FeedRead::default();
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        // TSV feeds are not quoted; a stray quote must not swallow lines.
        .quoting(delimiter != b'\t')
        .from_reader(bytes);
    let headers = match reader.headers() {
        Ok(headers) => headers.clone(),
        Err(error) => {
            read.rejected.push(CatalogError::BadRow {
                file: file.to_string(),
                line: 1,
                message: format!("unreadable header row: {error}"),
            });
            return read;
        }
    };
    // Column positions by name; Merchant Center names are case-insensitive
    // and some exports prefix them ("g:price").
    let mut position: HashMap<&str, usize> = HashMap::new();
    for (index, header) in headers.iter().enumerate() {
        let name = header
            .trim()
            .trim_start_matches('\u{feff}')
            .trim_start_matches("g:")
            .to_lowercase();
        if let Some(column) = COLUMNS.iter().find(|c| **c == name) {
            position.entry(column).or_insert(index);
        }
    }
    for required in ["id", "title", "price"] {
        if !position.contains_key(required) {
            read.rejected.push(CatalogError::BadRow {
                file: file.to_string(),
                line: 1,
                message: format!("header has no {required:?} column"),
            });
            return read;
        }
    }

    // Products in first-seen order, keyed by item group (or the row's own id).
    let mut products: Vec<(usize, FeedProduct)> = Vec::new();
    let mut by_group: HashMap<String, usize> = HashMap::new();
    for result in reader.records() {
        let record = match result {
            Ok(record) => record,
            Err(error) => {
                let line = error
                    .position()
                    .map(|p| p.line() as usize)
                    .unwrap_or_default();
                read.rejected.push(CatalogError::BadRow {
                    file: file.to_string(),
                    line,
                    message: error.to_string(),
                });
                continue;
            }
        };
        let line = record
            .position()
            .map(|p| p.line() as usize)
            .unwrap_or_default();
        if record.iter().all(|field| field.is_empty()) {
            continue;
        }
        let get = |name: &str| -> &str {
            position
                .get(name)
                .and_then(|index| record.get(*index))
                .unwrap_or("")
        };
        let bad_row = |message: String| CatalogError::BadRow {
            file: file.to_string(),
            line,
            message,
        };
        let row = match variant_from_row(&get) {
            Ok(row) => row,
            Err(message) => {
                read.rejected.push(bad_row(message));
                continue;
            }
        };
        let group = match get("item_group_id") {
            "" => get("id").to_string(),
            group => group.to_string(),
        };
        match by_group.get(&group) {
            Some(&index) => products[index].1.variants.push(row),
            None => {
                by_group.insert(group.clone(), products.len());
                let categories = get("product_type")
                    .split('>')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect();
                products.push((
                    line,
                    FeedProduct {
                        id: group,
                        title: product_title(get("title"), &row),
                        description: get("description").to_string(),
                        url: get("link").to_string(),
                        brand: get("brand").to_string(),
                        categories,
                        gender: Some(get("gender"))
                            .filter(|g| !g.is_empty())
                            .map(str::to_string),
                        age_group: Some(get("age_group"))
                            .filter(|a| !a.is_empty())
                            .map(str::to_string),
                        material: None,
                        variants: vec![row],
                    },
                ));
            }
        }
    }
    for (line, product) in products {
        match product.validate() {
            Ok(()) => read.products.push(product),
            Err(message) => read.rejected.push(CatalogError::BadRow {
                file: file.to_string(),
                line,
                message,
            }),
        }
    }
    read
}

/// One row as a variant, or why it is unusable.
fn variant_from_row<'a>(get: &dyn Fn(&str) -> &'a str) -> Result<FeedVariant, String> {
    let id = get("id");
    if id.is_empty() {
        return Err("row has no id".into());
    }
    if get("title").is_empty() {
        return Err(format!("row {id} has no title"));
    }
    let price_text = get("price");
    let price = Money::parse_with_code(price_text).ok_or_else(|| {
        format!("row {id} has price {price_text:?}, not an amount and currency like \"45.00 USD\"")
    })?;
    let status = match get("availability")
        .to_lowercase()
        .replace(' ', "_")
        .as_str()
    {
        "" | "in_stock" => "in_stock".to_string(),
        other => other.to_string(),
    };
    let mut variant_options = Vec::new();
    for (column, name) in [
        ("color", "Color"),
        ("size", "Size"),
        ("material", "Material"),
    ] {
        let value = get(column);
        if !value.is_empty() {
            variant_options.push(VariantOption {
                name: name.into(),
                value: value.into(),
            });
        }
    }
    let mut barcodes = Vec::new();
    for (column, kind) in [("gtin", "gtin"), ("mpn", "mpn")] {
        let value = get(column);
        if !value.is_empty() {
            barcodes.push(Barcode {
                kind: kind.into(),
                value: value.into(),
            });
        }
    }
    Ok(FeedVariant {
        id: id.to_string(),
        title: get("title").to_string(),
        price: FeedPrice {
            amount: price.minor,
            currency: price.currency,
        },
        // Preorder and backorder cannot be delivered now, so they do not
        // count as available; the status keeps what the merchant said.
        availability: Availability {
            available: status == "in_stock",
            status,
        },
        variant_options,
        barcodes,
    })
}

/// The product's title: the first row's title without a trailing variant
/// suffix such as " - Gray / M", which Merchant Center exports often append.
fn product_title(title: &str, variant: &FeedVariant) -> String {
    let Some((head, tail)) = title.rsplit_once(" - ") else {
        return title.to_string();
    };
    let tail = tail.to_lowercase();
    let names_an_option = variant
        .variant_options
        .iter()
        .any(|option| tail.contains(&option.value.to_lowercase()));
    if names_an_option && !head.trim().is_empty() {
        head.trim().to_string()
    } else {
        title.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,title,description,link,price,availability,brand,gtin,mpn,color,size,material,item_group_id,product_type";

    fn check(
        rows: &[&str],
        expected_products: &[(&str, usize)],
        expected_rejected_lines: &[usize],
    ) {
        let text = format!("{HEADER}\n{}\n", rows.join("\n"));
        let read = parse_gmc("feed.csv", text.as_bytes(), b',');
        let products: Vec<(&str, usize)> = read
            .products
            .iter()
            .map(|p| (p.id.as_str(), p.variants.len()))
            .collect();
        assert_eq!(products, expected_products, "{:?}", read.rejected);
        assert_eq!(
            crate::catalog::feed::rejected_lines(&read.rejected),
            expected_rejected_lines
        );
    }

    #[test]
    fn rows_group_into_products_and_bad_rows_are_skipped() {
        let gray_m = "T1-GM,Tee - Gray / M,Soft tee,https://x/t1,15.00 USD,in_stock,Acme,0001,,Gray,M,Cotton,T1,Apparel > Tees";
        let gray_l = "T1-GL,Tee - Gray / L,Soft tee,https://x/t1,15.00 USD,out_of_stock,Acme,0002,,Gray,L,Cotton,T1,Apparel > Tees";
        let no_price =
            "T1-GX,Tee - Gray / XL,Soft tee,https://x/t1,fifteen,in_stock,Acme,,,Gray,XL,,T1,";
        let lone = "S9,Wool Socks,,https://x/s9,9.5 USD,in stock,Acme,,SK-9,,,,,";
        let no_id = ",Nameless,,,1.00 USD,in_stock,,,,,,,,";
        // (rows, products with their variant counts, rejected lines)
        type Row<'a> = (Vec<&'a str>, Vec<(&'a str, usize)>, Vec<usize>);
        let table: [Row; 4] = [
            (vec![gray_m, gray_l], vec![("T1", 2)], vec![]),
            (vec![gray_m, no_price, gray_l], vec![("T1", 2)], vec![3]),
            (
                vec![lone, no_id, gray_m],
                vec![("S9", 1), ("T1", 1)],
                vec![3],
            ),
            (vec![no_price], vec![], vec![2]),
        ];
        for (rows, products, rejected) in table {
            check(&rows, &products, &rejected);
        }
    }

    #[test]
    fn a_row_becomes_a_variant_with_options_price_and_stock() {
        let text = format!(
            "{HEADER}\nT1-GL,Tee - Gray / L,Soft tee,https://x/t1,15.00 USD,out_of_stock,Acme,0002,,Gray,L,Cotton,T1,Apparel > Tees\n"
        );
        let read = parse_gmc("feed.csv", text.as_bytes(), b',');
        let product = &read.products[0];
        assert_eq!(product.title, "Tee");
        assert_eq!(product.categories, vec!["Apparel", "Tees"]);
        let variant = &product.variants[0];
        assert_eq!(variant.price.amount, 1500);
        assert_eq!(variant.price.currency, "USD");
        assert!(!variant.availability.available);
        assert_eq!(variant.option("colour"), Some("Gray"));
        assert_eq!(variant.option("size"), Some("L"));
        assert_eq!(variant.option("material"), Some("Cotton"));
        assert_eq!(variant.gtin(), Some("0002"));
    }

    #[test]
    fn tsv_with_prefixed_and_reordered_headers_reads() {
        let text = "g:price\tg:title\tg:id\tg:availability\n20.00 EUR\tScarf\tSC-1\tin stock\n";
        let read = parse_gmc("feed.tsv", text.as_bytes(), b'\t');
        assert!(read.rejected.is_empty(), "{:?}", read.rejected);
        assert_eq!(read.products[0].id, "SC-1");
        assert_eq!(read.products[0].variants[0].price.currency, "EUR");
        assert!(read.products[0].variants[0].availability.available);
    }

    #[test]
    fn a_header_without_price_rejects_the_file_at_line_one() {
        let read = parse_gmc("feed.csv", b"id,title\nA,B\n", b',');
        assert!(read.products.is_empty());
        assert_eq!(read.rejected.len(), 1);
        assert!(read.rejected[0].to_string().starts_with("feed.csv:1:"));
    }
}
