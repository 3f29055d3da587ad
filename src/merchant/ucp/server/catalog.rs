//! The reference merchant's catalog capability: search by words, category
//! and price, paged; lookup by product or variant id; one product's detail.
//!
//! Search is what a small shop's search box does: a product matches when
//! it holds at least half of the query's words (a trailing "s" or "es"
//! aside) in its title, description, categories, brand or option values,
//! and products holding more of them, or holding them in the title, come
//! first.

use super::super::catalog::{
    CatalogResponse, InputCorrelation, LookupRequest, PageResponse, Product, ProductRequest,
    SearchFilters, SearchRequest, CATALOG_VERSION,
};
use super::super::wire::{Message, Severity};
use super::{Refusal, Reply, UcpMerchant};
use crate::catalog::feed::FeedProduct;
use axum::http::StatusCode;
use serde_json::{json, Value};

/// A lookup's identifier, and the variant it named (`None`: it named the
/// product).
type NamedBy = (String, Option<String>);

/// Page size when none is asked, and the most served per page.
const DEFAULT_PAGE: usize = 10;
const MAX_PAGE: usize = 50;
/// Most identifiers one lookup takes.
const MAX_LOOKUP_IDS: usize = 50;
/// Longest query read, in characters.
const MAX_QUERY_CHARS: usize = 500;

impl UcpMerchant {
    pub(super) fn catalog_search(&self, body: &Value) -> Reply {
        let request: SearchRequest = match serde_json::from_value(body.clone()) {
            Ok(request) => request,
            Err(error) => return invalid(format!("The search request does not read: {error}")),
        };
        let query = request.query.as_deref().map(str::trim).unwrap_or("");
        let filters = request.filters.clone().unwrap_or_default();
        if query.is_empty() && filters.categories.is_empty() && filters.price.is_none() {
            return invalid("A search needs a query or a filter".into());
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return invalid(format!(
                "The query is longer than {MAX_QUERY_CHARS} characters"
            ));
        }
        let words = words(query);
        let mut scored: Vec<(usize, usize, usize)> = Vec::new();
        for (position, product) in self.products.iter().enumerate() {
            if !passes(product, &filters) {
                continue;
            }
            let (held, in_title) = if words.is_empty() {
                (0, 0)
            } else {
                held_words(product, &words)
            };
            if !words.is_empty() && held * 2 < words.len() {
                continue;
            }
            scored.push((held, in_title, position));
        }
        // More words held, then more in the title, then catalog order.
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        let page = request.pagination.unwrap_or_default();
        let limit = page
            .limit
            .map(|l| (l as usize).clamp(1, MAX_PAGE))
            .unwrap_or(DEFAULT_PAGE);
        let start = match page.cursor.as_deref().map(str::trim) {
            None | Some("") => 0,
            Some(cursor) => match cursor
                .strip_prefix("offset:")
                .and_then(|n| n.parse::<usize>().ok())
            {
                Some(start) => start,
                None => return invalid("The cursor is not one this business gave".into()),
            },
        };
        let end = (start + limit).min(scored.len());
        let products = scored
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .map(|&(_, _, position)| {
                self.catalog_product(&self.products[position], &filters, &[])
            })
            .collect();
        let has_next_page = end < scored.len();
        answer(
            "dev.ucp.shopping.catalog.search",
            CatalogResponse {
                ucp: Value::Null,
                products,
                pagination: Some(PageResponse {
                    cursor: has_next_page.then(|| format!("offset:{end}")),
                    has_next_page,
                    total_count: Some(scored.len() as u64),
                }),
                messages: Vec::new(),
            },
        )
    }

    pub(super) fn catalog_lookup(&self, body: &Value) -> Reply {
        let request: LookupRequest = match serde_json::from_value(body.clone()) {
            Ok(request) => request,
            Err(error) => return invalid(format!("The lookup request does not read: {error}")),
        };
        let mut ids: Vec<String> = Vec::new();
        for id in request.ids.iter().map(|id| id.trim()) {
            if !id.is_empty() && !ids.iter().any(|known| known == id) {
                ids.push(id.to_string());
            }
        }
        if ids.is_empty() {
            return invalid("A lookup needs at least one id".into());
        }
        if ids.len() > MAX_LOOKUP_IDS {
            return Refusal::new(
                StatusCode::BAD_REQUEST,
                "request_too_large",
                format!("A lookup takes at most {MAX_LOOKUP_IDS} ids"),
            )
            .reply();
        }
        let filters = request.filters.unwrap_or_default();
        // Each product once, with the ids that named it.
        let mut found: Vec<(usize, Vec<NamedBy>)> = Vec::new();
        let mut missing = Vec::new();
        for id in &ids {
            let Some((position, variant)) = self.catalog_item(id) else {
                missing.push(id.clone());
                continue;
            };
            match found.iter_mut().find(|(p, _)| *p == position) {
                Some((_, inputs)) => inputs.push((id.clone(), variant)),
                None => found.push((position, vec![(id.clone(), variant)])),
            }
        }
        let products = found
            .iter()
            .filter(|(position, _)| passes(&self.products[*position], &filters))
            .map(|(position, inputs)| {
                self.catalog_product(&self.products[*position], &filters, inputs)
            })
            .collect();
        let messages = missing
            .iter()
            .map(|id| json!({"type": "info", "code": "not_found", "content": id}))
            .collect();
        answer(
            "dev.ucp.shopping.catalog.lookup",
            CatalogResponse {
                ucp: Value::Null,
                products,
                pagination: None,
                messages,
            },
        )
    }

    pub(super) fn catalog_detail(&self, body: &Value) -> Reply {
        let request: ProductRequest = match serde_json::from_value(body.clone()) {
            Ok(request) => request,
            Err(error) => return invalid(format!("The product request does not read: {error}")),
        };
        let id = request.id.trim();
        let Some((position, variant)) = self.catalog_item(id) else {
            let message = Message::error(
                "not_found",
                None,
                &format!("No product or variant {id:?}"),
                Severity::Recoverable,
            );
            return Reply {
                status: StatusCode::OK,
                body: json!({
                    "ucp": {"version": CATALOG_VERSION, "status": "error"},
                    "messages": [message],
                }),
            };
        };
        let feed = &self.products[position];
        let mut product = Product::from_feed(feed);
        // A variant asked for comes first.
        if let Some(variant) = variant {
            if let Some(at) = product.variants.iter().position(|v| v.id == variant) {
                let chosen = product.variants.remove(at);
                product.variants.insert(0, chosen);
            }
        }
        Reply {
            status: StatusCode::OK,
            body: json!({
                "ucp": {"version": CATALOG_VERSION,
                        "capabilities": {"dev.ucp.shopping.catalog.lookup": [{"version": CATALOG_VERSION}]}},
                "product": product,
            }),
        }
    }

    /// The product `id` names, and its variant when `id` is a variant's.
    fn catalog_item(&self, id: &str) -> Option<(usize, Option<String>)> {
        if let Some(position) = self.products.iter().position(|p| p.id == id) {
            return Some((position, None));
        }
        self.products.iter().enumerate().find_map(|(position, p)| {
            p.variants
                .iter()
                .any(|v| v.id == id)
                .then(|| (position, Some(id.to_string())))
        })
    }

    /// `feed` as a catalog product: its variants within the price filter,
    /// in stock first; for a lookup, the variants the ids named (or the
    /// featured one for a product id), each with its inputs.
    fn catalog_product(
        &self,
        feed: &FeedProduct,
        filters: &SearchFilters,
        inputs: &[NamedBy],
    ) -> Value {
        let mut product = Product::from_feed(feed);
        product.url = product.url.or_else(|| Some(format!("/products/{}", feed.id)));
        product.variants.retain(|v| within_price(v.price.amount, filters));
        product
            .variants
            .sort_by_key(|v| !v.availability.as_ref().and_then(|a| a.available).unwrap_or(true));
        if !inputs.is_empty() {
            let featured = product.variants.first().map(|v| v.id.clone());
            for variant in &mut product.variants {
                for (id, named) in inputs {
                    let matched = match named {
                        Some(named) if *named == variant.id => Some("exact"),
                        None if Some(&variant.id) == featured.as_ref() => Some("featured"),
                        _ => None,
                    };
                    if let Some(matched) = matched {
                        variant.inputs.push(InputCorrelation {
                            id: id.clone(),
                            match_kind: Some(matched.into()),
                        });
                    }
                }
            }
            product.variants.retain(|v| !v.inputs.is_empty());
        }
        product.price_range = super::super::catalog::price_range(&product.variants);
        serde_json::to_value(product).unwrap_or(Value::Null)
    }
}

/// Whether `product` passes the filters: any of the categories, and a
/// variant within the price bounds.
fn passes(product: &FeedProduct, filters: &SearchFilters) -> bool {
    let in_category = filters.categories.is_empty()
        || filters.categories.iter().any(|wanted| {
            let wanted = wanted.trim().to_lowercase();
            product
                .categories
                .iter()
                .any(|c| c.to_lowercase().contains(&wanted))
        });
    in_category
        && product
            .variants
            .iter()
            .any(|v| within_price(v.price.amount, filters))
}

fn within_price(amount: i64, filters: &SearchFilters) -> bool {
    let Some(price) = &filters.price else {
        return true;
    };
    price.min.is_none_or(|min| amount >= min) && price.max.is_none_or(|max| amount <= max)
}

/// The query's words, lower-cased, each without a plural ending.
fn words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| singular(&w.to_lowercase()))
    {
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

fn singular(word: &str) -> String {
    for ending in ["es", "s"] {
        if let Some(stem) = word.strip_suffix(ending) {
            if stem.len() >= 3 && !stem.ends_with('s') {
                return stem.to_string();
            }
        }
    }
    word.to_string()
}

/// How many of `words` the product holds anywhere, and how many in its
/// title.
fn held_words(product: &FeedProduct, words: &[String]) -> (usize, usize) {
    let title = words_of(&product.title);
    let mut text = format!(
        "{} {} {} {}",
        product.description,
        product.categories.join(" "),
        product.brand,
        product.material.as_deref().unwrap_or("")
    );
    for variant in &product.variants {
        for option in &variant.variant_options {
            text.push(' ');
            text.push_str(&option.value);
        }
    }
    let rest = words_of(&text);
    let in_title = words.iter().filter(|w| title.contains(*w)).count();
    let held = words
        .iter()
        .filter(|w| title.contains(*w) || rest.contains(*w))
        .count();
    (held, in_title)
}

fn words_of(text: &str) -> std::collections::HashSet<String> {
    words(text).into_iter().collect()
}

fn invalid(content: String) -> Reply {
    Refusal::new(StatusCode::BAD_REQUEST, "invalid", content).reply()
}

/// A catalog answer with its `ucp` envelope naming `capability`.
fn answer(capability: &str, mut response: CatalogResponse) -> Reply {
    response.ucp = json!({
        "version": CATALOG_VERSION,
        "capabilities": {capability: [{"version": CATALOG_VERSION}]},
    });
    Reply {
        status: StatusCode::OK,
        body: serde_json::to_value(response).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merchant::ucp::catalog::read_products;

    fn merchant() -> std::sync::Arc<UcpMerchant> {
        let catalog = crate::world::demo::generate().remove(0);
        UcpMerchant::from_profile(catalog.profile, catalog.products)
    }

    fn search(merchant: &UcpMerchant, body: Value) -> (StatusCode, CatalogResponse) {
        let reply = merchant.catalog_search(&body);
        let response = serde_json::from_value(reply.body.clone()).unwrap_or_default();
        (reply.status, response)
    }

    #[test]
    fn words_find_products_and_price_filters_bound_variants() {
        let merchant = merchant();
        let (status, response) = search(
            &merchant,
            json!({"query": "sweaters", "filters": {"price": {"max": 6000}}, "pagination": {"limit": 50}}),
        );
        assert_eq!(status, StatusCode::OK);
        let read = read_products(&response);
        assert!(!read.products.is_empty());
        assert_eq!(read.skipped, 0);
        for product in &read.products {
            let text = format!(
                "{} {} {}",
                product.title,
                product.description,
                product.categories.join(" ")
            )
            .to_lowercase();
            assert!(text.contains("sweater"), "{text}");
            assert!(product.variants.iter().all(|v| v.price.amount <= 6000));
        }
    }

    #[test]
    fn pages_follow_their_cursor_to_the_end() {
        let merchant = merchant();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let mut body = json!({"query": "shirt", "pagination": {"limit": 3}});
            if let Some(cursor) = &cursor {
                body["pagination"]["cursor"] = json!(cursor);
            }
            let (status, response) = search(&merchant, body);
            assert_eq!(status, StatusCode::OK);
            let page = response.pagination.clone().unwrap();
            seen.extend(read_products(&response).products.into_iter().map(|p| p.id));
            if !page.has_next_page {
                assert_eq!(Some(seen.len() as u64), page.total_count);
                break;
            }
            cursor = page.cursor;
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len(), "no product on two pages");
        assert!(seen.len() > 3);
    }

    #[test]
    fn empty_and_bad_requests_are_refused_in_json() {
        let merchant = merchant();
        for body in [
            json!({}),
            json!({"query": "  "}),
            json!({"query": 5}),
            json!({"query": "shirt", "pagination": {"cursor": "forged"}}),
            json!({"query": "x".repeat(600)}),
        ] {
            let reply = merchant.catalog_search(&body);
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
            assert!(reply.body["messages"][0]["code"].is_string());
        }
    }

    #[test]
    fn lookup_resolves_product_and_variant_ids_once_each() {
        let merchant = merchant();
        let product = &merchant.products[0];
        let variant = product.variants.last().unwrap().id.clone();
        let reply = merchant.catalog_lookup(
            &json!({"ids": [product.id, variant, variant, "nope"]}),
        );
        assert_eq!(reply.status, StatusCode::OK);
        let response: CatalogResponse = serde_json::from_value(reply.body).unwrap();
        assert_eq!(response.products.len(), 1);
        let found: Product = serde_json::from_value(response.products[0].clone()).unwrap();
        let exact = found.variants.iter().find(|v| v.id == variant).unwrap();
        assert_eq!(exact.inputs[0].match_kind.as_deref(), Some("exact"));
        assert!(found
            .variants
            .iter()
            .any(|v| v.inputs.iter().any(|i| i.id == product.id)));
        assert_eq!(response.messages[0]["content"], "nope");
    }
}
