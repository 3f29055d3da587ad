//! UCP's catalog capability (2026-04-08, REST binding): the JSON of
//! `POST /catalog/search`, `POST /catalog/lookup` and `POST
//! /catalog/product`, and a business's products read as feed products.
//!
//! A business's products are untrusted: each is read on its own, and one
//! that does not read, or would not pass as a feed line, is skipped and
//! counted, never fatal to the rest.

use crate::catalog::feed::{
    Availability, Barcode, FeedPrice, FeedProduct, FeedVariant, VariantOption,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The version of the catalog capability spoken on both sides.
pub const CATALOG_VERSION: &str = "2026-04-08";

/// Most products a search answer is read for.
pub const MAX_PRODUCTS_READ: usize = 50;

/// `POST /catalog/search`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<SearchContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<SearchFilters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<PageRequest>,
}

/// Hints for relevance and localisation; none is binding.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Background on what the buyer is after, in their words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SearchFilters {
    /// Any of these categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceFilter>,
}

/// Bounds in minor units of the context's currency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    #[serde(default)]
    pub has_next_page: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

/// The answer to a search or a lookup. Products stay JSON values until
/// each is read on its own ([`read_products`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogResponse {
    #[serde(default)]
    pub ucp: Value,
    #[serde(default)]
    pub products: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<PageResponse>,
    /// Kept as JSON: a business's notices are shown, never relied on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<Value>,
}

/// `POST /catalog/lookup`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LookupRequest {
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<SearchContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<SearchFilters>,
}

/// `POST /catalog/product`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductRequest {
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<SearchContext>,
}

/// A catalog product (`types/product.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: Description,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_range: Option<PriceRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<ProductOption>,
    #[serde(default)]
    pub variants: Vec<Variant>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Business-defined data; a string `brand` in it is read as the brand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Description {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub markdown: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

impl Description {
    pub fn plain(text: &str) -> Description {
        Description {
            plain: Some(text.to_string()),
            ..Description::default()
        }
    }

    /// Its plain text, else its markdown, else its HTML without tags.
    pub fn text(&self) -> String {
        if let Some(text) = self.plain.as_ref().or(self.markdown.as_ref()) {
            return text.clone();
        }
        let Some(html) = &self.html else {
            return String::new();
        };
        let mut text = String::with_capacity(html.len());
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    text.push(' ');
                }
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxonomy: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Price {
    pub amount: i64,
    pub currency: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceRange {
    pub min: Price,
    pub max: Price,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductOption {
    pub name: String,
    #[serde(default)]
    pub values: Vec<OptionValue>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OptionValue {
    pub label: String,
}

/// A purchasable variant (`types/variant.json`); its id is a checkout line
/// item's `item.id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub barcodes: Vec<VariantBarcode>,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: Description,
    pub price: Price,
    /// Absent: available (checkout says otherwise when it is not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<VariantAvailability>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<SelectedOption>,
    /// Lookup only: which requested identifiers resolved to this variant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputCorrelation>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantBarcode {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VariantAvailability {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SelectedOption {
    pub name: String,
    pub label: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InputCorrelation {
    pub id: String,
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub match_kind: Option<String>,
}

impl Product {
    /// A feed product as a catalog product: options and price range from
    /// its variants; its brand in `metadata`.
    pub fn from_feed(product: &FeedProduct) -> Product {
        let variants: Vec<Variant> = product.variants.iter().map(Variant::from_feed).collect();
        let price_range = price_range(&variants);
        let options = product
            .option_names()
            .into_iter()
            .map(|name| {
                let mut values: Vec<OptionValue> = Vec::new();
                for variant in &product.variants {
                    if let Some(label) = variant.option(&name) {
                        if !values.iter().any(|v| v.label == label) {
                            values.push(OptionValue {
                                label: label.to_string(),
                            });
                        }
                    }
                }
                ProductOption { name, values }
            })
            .collect();
        let mut metadata = serde_json::Map::new();
        if !product.brand.is_empty() {
            metadata.insert("brand".into(), Value::String(product.brand.clone()));
        }
        for (name, value) in [
            ("gender", &product.gender),
            ("age_group", &product.age_group),
            ("material", &product.material),
        ] {
            if let Some(value) = value {
                metadata.insert(name.into(), Value::String(value.clone()));
            }
        }
        Product {
            id: product.id.clone(),
            title: product.title.clone(),
            description: Description::plain(&product.description),
            url: Some(product.url.clone()).filter(|url| !url.is_empty()),
            categories: product
                .categories
                .iter()
                .map(|value| Category {
                    value: value.clone(),
                    taxonomy: Some("merchant".into()),
                })
                .collect(),
            price_range,
            options,
            variants,
            tags: Vec::new(),
            metadata: (!metadata.is_empty()).then_some(Value::Object(metadata)),
        }
    }

    /// The product as a feed line, with the variants that have a price in
    /// a currency; `None` when none has, or it would not pass as a feed
    /// line (no id or title, too many variants).
    pub fn to_feed(&self) -> Option<FeedProduct> {
        let metadata = |name: &str| {
            self.metadata
                .as_ref()
                .and_then(|m| m.get(name))
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let mut description = self.description.text();
        if !self.tags.is_empty() {
            description = format!("{description} {}", self.tags.join(" "))
                .trim()
                .to_string();
        }
        let product = FeedProduct {
            id: self.id.trim().to_string(),
            title: self.title.trim().to_string(),
            description,
            url: self.url.clone().unwrap_or_default(),
            brand: metadata("brand").unwrap_or_default(),
            categories: self
                .categories
                .iter()
                .map(|c| c.value.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
            gender: metadata("gender"),
            age_group: metadata("age_group"),
            material: metadata("material"),
            variants: self
                .variants
                .iter()
                .filter(|v| !v.id.trim().is_empty() && !v.price.currency.trim().is_empty())
                .map(Variant::to_feed)
                .collect(),
        };
        (!product.variants.is_empty() && product.validate().is_ok()).then_some(product)
    }
}

impl Variant {
    pub fn from_feed(variant: &FeedVariant) -> Variant {
        Variant {
            id: variant.id.clone(),
            sku: None,
            barcodes: variant
                .barcodes
                .iter()
                .map(|b| VariantBarcode {
                    kind: b.kind.clone(),
                    value: b.value.clone(),
                })
                .collect(),
            title: variant.title.clone(),
            description: Description::plain(&variant.title),
            price: Price {
                amount: variant.price.amount,
                currency: variant.price.currency.clone(),
            },
            availability: Some(VariantAvailability {
                available: Some(variant.availability.available),
                status: Some(variant.availability.status.clone()).filter(|s| !s.is_empty()),
            }),
            options: variant
                .variant_options
                .iter()
                .map(|o| SelectedOption {
                    name: o.name.clone(),
                    label: o.value.clone(),
                })
                .collect(),
            inputs: Vec::new(),
        }
    }

    fn to_feed(&self) -> FeedVariant {
        let available = self
            .availability
            .as_ref()
            .and_then(|a| a.available)
            .unwrap_or(true);
        FeedVariant {
            id: self.id.trim().to_string(),
            title: self.title.clone(),
            price: FeedPrice {
                amount: self.price.amount,
                currency: self.price.currency.trim().to_uppercase(),
            },
            availability: Availability::from_stock(available),
            variant_options: self
                .options
                .iter()
                .map(|o| VariantOption {
                    name: o.name.clone(),
                    value: o.label.clone(),
                })
                .collect(),
            barcodes: self
                .barcodes
                .iter()
                .map(|b| Barcode {
                    kind: b.kind.clone(),
                    value: b.value.clone(),
                })
                .collect(),
        }
    }
}

/// The lowest and highest of `variants`' prices (in the first one's
/// currency).
pub fn price_range(variants: &[Variant]) -> Option<PriceRange> {
    let first = variants.first()?;
    let same: Vec<&Variant> = variants
        .iter()
        .filter(|v| v.price.currency == first.price.currency)
        .collect();
    let min = same.iter().map(|v| v.price.amount).min()?;
    let max = same.iter().map(|v| v.price.amount).max()?;
    let price = |amount| Price {
        amount,
        currency: first.price.currency.clone(),
    };
    Some(PriceRange {
        min: price(min),
        max: price(max),
    })
}

/// What a business's answer held: the products that read as feed lines,
/// best first, at most [`MAX_PRODUCTS_READ`], and how many did not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadProducts {
    pub products: Vec<FeedProduct>,
    pub skipped: usize,
}

/// Reads each product of `response` on its own.
pub fn read_products(response: &CatalogResponse) -> ReadProducts {
    let mut read = ReadProducts::default();
    for value in response.products.iter().take(MAX_PRODUCTS_READ) {
        match serde_json::from_value::<Product>(value.clone())
            .ok()
            .and_then(|p| p.to_feed())
        {
            Some(product) => read.products.push(product),
            None => read.skipped += 1,
        }
    }
    read.skipped += response.products.len().saturating_sub(MAX_PRODUCTS_READ);
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_example() -> CatalogResponse {
        // The REST binding's example answer, as the spec writes it.
        super::super::wire::from_json(
            br#"{
          "ucp": {"version": "2026-04-08", "capabilities": {"dev.ucp.shopping.catalog.search": [{"version": "2026-04-08"}]}},
          "products": [
            {
              "id": "prod_abc123",
              "handle": "blue-runner-pro",
              "title": "Blue Runner Pro",
              "description": {"plain": "Lightweight running shoes with responsive cushioning."},
              "url": "https://business.example.com/products/blue-runner-pro",
              "categories": [
                {"value": "187", "taxonomy": "google_product_category"},
                {"value": "Footwear > Running", "taxonomy": "merchant"}
              ],
              "price_range": {"min": {"amount": 12000, "currency": "USD"}, "max": {"amount": 12000, "currency": "USD"}},
              "media": [{"type": "image", "url": "https://cdn.example.com/p.jpg", "alt_text": "shoes"}],
              "options": [{"name": "Size", "values": [{"label": "10"}]}],
              "variants": [
                {
                  "id": "prod_abc123_size10",
                  "sku": "BRP-BLU-10",
                  "title": "Size 10",
                  "description": {"plain": "Size 10 variant"},
                  "price": {"amount": 12000, "currency": "USD"},
                  "availability": {"available": true},
                  "options": [{"name": "Size", "label": "10"}],
                  "tags": ["running", "road", "neutral"],
                  "seller": {"name": "Example Store"}
                }
              ],
              "rating": {"value": 4.5, "scale_max": 5, "count": 128},
              "metadata": {"collection": "Winter 2026", "brand": "Runner Co"}
            },
            {"id": "broken", "title": 7},
            {"id": "", "title": "No id", "variants": [{"id": "v", "title": "", "price": {"amount": 1, "currency": "USD"}}]},
            null
          ],
          "pagination": {"cursor": "eyJwYWdlIjoxfQ==", "has_next_page": true, "total_count": 47}
        }"#,
        )
        .unwrap()
    }

    #[test]
    fn the_specs_example_reads_as_a_feed_product_and_bad_products_are_skipped() {
        let read = read_products(&spec_example());
        assert_eq!(read.skipped, 3);
        let [product] = read.products.as_slice() else {
            panic!("one product: {read:?}");
        };
        assert_eq!(product.id, "prod_abc123");
        assert_eq!(product.title, "Blue Runner Pro");
        assert_eq!(product.brand, "Runner Co");
        assert_eq!(product.categories, ["187", "Footwear > Running"]);
        let variant = &product.variants[0];
        assert_eq!(variant.id, "prod_abc123_size10");
        assert_eq!(variant.price.amount, 12000);
        assert_eq!(variant.option("size"), Some("10"));
        assert!(variant.availability.available);
    }

    #[test]
    fn a_feed_product_goes_there_and_back() {
        let product = crate::world::demo::generate()[0].products[0].clone();
        let back = Product::from_feed(&product).to_feed().unwrap();
        assert_eq!(back.id, product.id);
        assert_eq!(back.title, product.title);
        assert_eq!(back.brand, product.brand);
        assert_eq!(back.variants.len(), product.variants.len());
        for (a, b) in back.variants.iter().zip(&product.variants) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.price, b.price);
            assert_eq!(a.availability.available, b.availability.available);
            assert_eq!(a.variant_options, b.variant_options);
        }
    }

    #[test]
    fn html_descriptions_lose_their_tags() {
        let description = Description {
            html: Some("<p>Soft <b>merino</b></p><script>x</script>".into()),
            ..Description::default()
        };
        assert_eq!(description.text(), "Soft merino x");
    }
}
