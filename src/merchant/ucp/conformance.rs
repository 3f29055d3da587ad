//! The official UCP conformance suite's shop
//! (github.com/Universal-Commerce-Protocol/conformance): its seeded flower
//! shop (`test_data/flower_shop`) read into a [`UcpMerchant`], with what the
//! suite drives besides checkout turned on. `concierge merchant serve
//! --protocol ucp --conformance-data DIR` serves it; `docs/ucp-conformance.md`
//! says how the suite is run against it and what passes.

use super::server::{
    DiscountCode, DiscountKind, ServiceLevel, ShippingRate, UcpMerchant, UcpMerchantConfig,
};
use crate::catalog::feed::{FeedProduct, FeedVariant};
use crate::catalog::MerchantProfile;
use crate::merchant::network::NetworkPolicy;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;

/// The merchant the suite runs against: the shop of [`load_conformance_shop`]
/// with the simulation endpoint behind `simulation_secret` (the suite's
/// `--simulation_secret`) and order events sent to the suite's mock
/// platform, which listens on loopback. For testing only: it takes the
/// suite's mock payments.
pub fn conformance_merchant(
    dir: &Path,
    simulation_secret: &str,
) -> Result<Arc<UcpMerchant>, String> {
    let (mut config, products) = load_conformance_shop(dir)?;
    config.simulation_secret = Some(simulation_secret.to_string());
    config.order_webhooks = Some(NetworkPolicy::with_loopback());
    Ok(UcpMerchant::new(config, products))
}

/// The conformance suite's seeded shop (`test_data/flower_shop` of
/// Universal-Commerce-Protocol/conformance) as this merchant's settings and
/// catalog: `products.csv` (one single-variant product per row, its id both
/// product and variant id), `inventory.csv`, `discounts.csv` (percentage or
/// fixed_amount), `shipping_rates.csv` (standard and express rates, per
/// country or `default`) and `promotions.csv` (free shipping from a subtotal,
/// or for orders holding listed items), with the suite's test payment
/// handlers on. What this merchant has no notion of (customers and their
/// saved addresses) is left out. The caller sets `simulation_secret`,
/// `order_webhooks` and `public_url` as the run needs.
pub fn load_conformance_shop(dir: &Path) -> Result<(UcpMerchantConfig, Vec<FeedProduct>), String> {
    use crate::catalog::feed::{Availability, FeedPrice};

    #[derive(Deserialize)]
    struct ProductRow {
        id: String,
        title: String,
        price: i64,
    }
    #[derive(Deserialize)]
    struct InventoryRow {
        product_id: String,
        quantity: u32,
    }
    #[derive(Deserialize)]
    struct DiscountRow {
        code: String,
        #[serde(rename = "type")]
        kind: String,
        value: i64,
        #[serde(default)]
        description: String,
    }
    #[derive(Deserialize)]
    struct ShippingRow {
        id: String,
        country_code: String,
        service_level: String,
        price: i64,
        title: String,
    }
    #[derive(Deserialize)]
    struct PromotionRow {
        #[serde(rename = "type")]
        kind: String,
        min_subtotal: Option<i64>,
        #[serde(default)]
        eligible_item_ids: String,
    }
    fn rows<T: for<'de> Deserialize<'de>>(
        dir: &Path,
        file: &str,
        required: bool,
    ) -> Result<Vec<T>, String> {
        let path = dir.join(file);
        if !required && !path.exists() {
            return Ok(Vec::new());
        }
        let mut reader =
            csv::Reader::from_path(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        reader
            .deserialize()
            .enumerate()
            .map(|(index, row)| row.map_err(|e| format!("{}:{}: {e}", path.display(), index + 2)))
            .collect()
    }

    let mut profile = MerchantProfile {
        id: "flower_shop".into(),
        name: "Flower Shop".into(),
        feed: String::new(),
        currency: "USD".into(),
        shipping: 0,
        free_shipping_over: 0,
        tax_basis_points: 0,
        protocol: "ucp".into(),
    };
    let rates = rows::<ShippingRow>(dir, "shipping_rates.csv", false)?
        .into_iter()
        .map(|row| {
            let level = match row.service_level.as_str() {
                "standard" => ServiceLevel::Standard,
                "express" => ServiceLevel::Express,
                other => {
                    return Err(format!(
                        "shipping_rates.csv: unknown service level {other:?}"
                    ))
                }
            };
            Ok(ShippingRate {
                id: row.id,
                country: (row.country_code != "default").then_some(row.country_code),
                level,
                price: row.price,
                title: row.title,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    if let Some(standard) = rates
        .iter()
        .find(|r| r.country.is_none() && r.level == ServiceLevel::Standard)
    {
        profile.shipping = standard.price;
    }
    let promotions: Vec<PromotionRow> = rows(dir, "promotions.csv", false)?;
    if let Some(threshold) = promotions
        .iter()
        .filter(|p| p.kind == "free_shipping" && p.eligible_item_ids.trim().is_empty())
        .filter_map(|p| p.min_subtotal)
        .min()
    {
        profile.free_shipping_over = threshold;
    }
    let mut config = UcpMerchantConfig::new(profile);
    if !rates.is_empty() {
        config.shipping_rates = rates;
    }
    for promotion in promotions.iter().filter(|p| p.kind == "free_shipping") {
        let items = promotion.eligible_item_ids.trim();
        if !items.is_empty() {
            let items: Vec<String> = serde_json::from_str(items)
                .map_err(|e| format!("promotions.csv: eligible_item_ids {items:?}: {e}"))?;
            config.free_shipping_items.extend(items);
        }
    }
    config.test_payments = true;
    for row in rows::<InventoryRow>(dir, "inventory.csv", false)? {
        config.inventory.insert(row.product_id, row.quantity);
    }
    for row in rows::<DiscountRow>(dir, "discounts.csv", false)? {
        let kind = match row.kind.as_str() {
            "percentage" => DiscountKind::Percent {
                basis_points: row.value.saturating_mul(100),
            },
            "fixed_amount" => DiscountKind::Fixed { amount: row.value },
            other => return Err(format!("discounts.csv: unknown discount type {other:?}")),
        };
        config.discount_codes.push(DiscountCode {
            title: if row.description.is_empty() {
                row.code.clone()
            } else {
                row.description
            },
            code: row.code,
            kind,
        });
    }
    let products = rows::<ProductRow>(dir, "products.csv", true)?
        .into_iter()
        .map(|row| FeedProduct {
            id: row.id.clone(),
            title: row.title.clone(),
            description: String::new(),
            url: String::new(),
            brand: String::new(),
            categories: Vec::new(),
            gender: None,
            age_group: None,
            material: None,
            variants: vec![FeedVariant {
                availability: Availability::from_stock(
                    config.inventory.get(&row.id).is_none_or(|held| *held > 0),
                ),
                id: row.id,
                title: row.title,
                price: FeedPrice {
                    amount: row.price,
                    currency: "USD".into(),
                },
                variant_options: Vec::new(),
                barcodes: Vec::new(),
            }],
        })
        .collect();
    Ok((config, products))
}
