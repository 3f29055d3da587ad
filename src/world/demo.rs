//! The bundled demo world: five fictional merchants and their catalogs,
//! generated from a fixed seed so every run (and every machine) gets the same
//! products, prices and stock. The generated feeds are committed under
//! `index/feeds/`; a test checks they still match this generator.
//!
//! The world is built so the default request ("buy me a gray turtleneck
//! sweater in medium under $50") shows every part of the job: the same
//! turtleneck sold by two merchants at different prices, a third merchant
//! whose total breaks the budget once shipping and tax are added, a fourth
//! whose gray medium is out of stock, and a cheaper one that wins.

use crate::catalog::feed::{
    Availability, Barcode, FeedPrice, FeedProduct, FeedVariant, MerchantCatalog, MerchantManifest,
    MerchantProfile, VariantOption,
};

/// The demo world's seed. Changing it changes every generated product.
pub const DEMO_SEED: u64 = 0x00C0_FFEE_2014;

/// SplitMix64: tiny, fast and reproducible across platforms. Public so that
/// seeded tests draw from the same generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct ProductType {
    noun: &'static str,
    category: &'static str,
    sizes: &'static [&'static str],
    materials: &'static [&'static str],
    base_price: i64,
}

const LETTER_SIZES: &[&str] = &["XS", "S", "M", "L", "XL", "XXL"];
const WAIST_SIZES: &[&str] = &["28", "30", "32", "34", "36", "38"];
const SHOE_SIZES: &[&str] = &["7", "8", "9", "10", "11", "12"];
const SOCK_SIZES: &[&str] = &["S", "M", "L"];

const PRODUCT_TYPES: &[ProductType] = &[
    ProductType {
        noun: "Turtleneck Sweater",
        category: "Sweaters",
        sizes: LETTER_SIZES,
        materials: &["Merino Wool", "Cotton", "Cashmere", "Acrylic"],
        base_price: 4500,
    },
    ProductType {
        noun: "Crewneck Sweater",
        category: "Sweaters",
        sizes: LETTER_SIZES,
        materials: &["Wool", "Cotton", "Cashmere"],
        base_price: 4200,
    },
    ProductType {
        noun: "Cardigan",
        category: "Sweaters",
        sizes: LETTER_SIZES,
        materials: &["Wool", "Cotton"],
        base_price: 5200,
    },
    ProductType {
        noun: "Hoodie",
        category: "Sweatshirts",
        sizes: LETTER_SIZES,
        materials: &["Cotton", "Fleece"],
        base_price: 3800,
    },
    ProductType {
        noun: "T-Shirt",
        category: "Tops",
        sizes: LETTER_SIZES,
        materials: &["Cotton", "Organic Cotton", "Linen"],
        base_price: 1800,
    },
    ProductType {
        noun: "Oxford Shirt",
        category: "Shirts",
        sizes: LETTER_SIZES,
        materials: &["Cotton", "Linen"],
        base_price: 3900,
    },
    ProductType {
        noun: "Jeans",
        category: "Pants",
        sizes: WAIST_SIZES,
        materials: &["Denim"],
        base_price: 5900,
    },
    ProductType {
        noun: "Chinos",
        category: "Pants",
        sizes: WAIST_SIZES,
        materials: &["Cotton"],
        base_price: 4800,
    },
    ProductType {
        noun: "Socks",
        category: "Accessories",
        sizes: SOCK_SIZES,
        materials: &["Wool", "Cotton"],
        base_price: 900,
    },
    ProductType {
        noun: "Beanie",
        category: "Accessories",
        sizes: &[],
        materials: &["Wool", "Cashmere", "Acrylic"],
        base_price: 1900,
    },
    ProductType {
        noun: "Scarf",
        category: "Accessories",
        sizes: &[],
        materials: &["Wool", "Cashmere", "Linen"],
        base_price: 2900,
    },
    ProductType {
        noun: "Rain Jacket",
        category: "Outerwear",
        sizes: LETTER_SIZES,
        materials: &["Polyester", "Nylon"],
        base_price: 8900,
    },
    ProductType {
        noun: "Puffer Jacket",
        category: "Outerwear",
        sizes: LETTER_SIZES,
        materials: &["Polyester", "Down"],
        base_price: 12900,
    },
    ProductType {
        noun: "Sneakers",
        category: "Shoes",
        sizes: SHOE_SIZES,
        materials: &["Leather", "Canvas"],
        base_price: 7500,
    },
    ProductType {
        noun: "Chelsea Boots",
        category: "Shoes",
        sizes: SHOE_SIZES,
        materials: &["Leather", "Suede"],
        base_price: 13900,
    },
];

const COLORS: &[&str] = &[
    "Gray",
    "Black",
    "Navy",
    "White",
    "Red",
    "Green",
    "Brown",
    "Beige",
    "Burgundy",
    "Blue",
    "Heather Grey",
    "Charcoal",
];
const ADJECTIVES: &[&str] = &[
    "Classic",
    "Relaxed",
    "Slim",
    "Heavyweight",
    "Everyday",
    "Vintage",
    "Ribbed",
    "Cable-Knit",
    "Waffle",
    "Lightweight",
    "Essential",
    "Rugged",
    "Soft",
    "Tailored",
];
const BLURBS: &[&str] = &[
    "Made to last and easy to care for.",
    "A wardrobe staple that goes with everything.",
    "Cut for a comfortable, modern fit.",
    "Garment-dyed for a soft, lived-in feel.",
    "Warm without the bulk.",
    "Ethically made in small batches.",
];

struct Shop {
    id: &'static str,
    name: &'static str,
    prefix: &'static str,
    brands: &'static [&'static str],
    shipping: i64,
    free_shipping_over: i64,
    tax_basis_points: i64,
    /// Percent applied to the base price.
    price_level: i64,
    /// The protocol its reference merchant speaks: the demo world has one
    /// business of each kind.
    protocol: &'static str,
}

const SHOPS: &[Shop] = &[
    Shop {
        id: "northwind",
        name: "Northwind Knits",
        prefix: "NK",
        brands: &["Northwind", "Fjord & Fell"],
        shipping: 400,
        free_shipping_over: 7500,
        tax_basis_points: 0,
        price_level: 100,
        protocol: "messenger",
    },
    Shop {
        id: "harbor",
        name: "Harbor & Pine Outfitters",
        prefix: "HP",
        brands: &["Harbor & Pine", "Coastline"],
        shipping: 599,
        free_shipping_over: 10000,
        tax_basis_points: 0,
        price_level: 95,
        protocol: "messenger",
    },
    Shop {
        id: "summit",
        name: "Summit Supply Co.",
        prefix: "SS",
        brands: &["Summit", "Ridgeline"],
        shipping: 695,
        free_shipping_over: 0,
        tax_basis_points: 825,
        price_level: 110,
        protocol: "ucp",
    },
    Shop {
        id: "ember",
        name: "Ember Street",
        prefix: "ES",
        brands: &["Ember", "Alder"],
        shipping: 0,
        free_shipping_over: 0,
        tax_basis_points: 0,
        price_level: 105,
        protocol: "acp",
    },
    Shop {
        id: "lumen",
        name: "Lumen Basics",
        prefix: "LB",
        brands: &["Lumen"],
        shipping: 799,
        free_shipping_over: 5000,
        tax_basis_points: 0,
        price_level: 80,
        protocol: "messenger",
    },
];

/// A product design that one or more shops sell, with its own GTINs.
struct Model {
    number: u32,
    kind: &'static ProductType,
    title: String,
    brand: String,
    material: String,
    colors: Vec<&'static str>,
    sizes: Vec<&'static str>,
    base_price: i64,
    description: String,
}

/// GTIN-13 with a valid check digit, unique per (model, colour, size).
fn gtin(model: u32, color_index: usize, size_index: usize) -> String {
    let body = format!(
        "20{:06}{:02}{:02}",
        model,
        color_index % 100,
        size_index % 100
    );
    let digits: Vec<u32> = body.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

fn slug(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .map(|s| &s[..s.len().min(3)])
        .collect::<Vec<_>>()
        .join("")
}

fn random_model(rng: &mut Rng, number: u32, brand: &str) -> Model {
    let kind = rng.pick(PRODUCT_TYPES);
    let material = rng.pick(kind.materials).to_string();
    let adjective = rng.pick(ADJECTIVES);
    let title = if rng.chance(50) {
        format!("{adjective} {material} {}", kind.noun)
    } else {
        format!("{adjective} {}", kind.noun)
    };
    let n_colors = 2 + rng.below(3);
    let mut colors: Vec<&'static str> = Vec::new();
    while colors.len() < n_colors {
        let color = *rng.pick(COLORS);
        if !colors.contains(&color) {
            colors.push(color);
        }
    }
    let sizes: Vec<&'static str> = if kind.sizes.is_empty() {
        Vec::new()
    } else {
        let start = rng.below(2);
        let end = (kind.sizes.len() - rng.below(2)).max(start + 2);
        kind.sizes[start..end.min(kind.sizes.len())].to_vec()
    };
    let variation = 80 + rng.below(41) as i64; // 80%..120%
    let base_price =
        (kind.base_price * variation / 100) / 100 * 100 + 99 - 100 * (rng.below(2) as i64);
    let description = format!(
        "{} {} in {}. {}",
        adjective,
        kind.noun.to_lowercase(),
        material.to_lowercase(),
        rng.pick(BLURBS)
    );
    Model {
        number,
        kind,
        title,
        brand: brand.to_string(),
        material,
        colors,
        sizes,
        base_price: base_price.max(499),
        description,
    }
}

/// Turns a model into one shop's product. `out_of_stock` lists (colour,
/// size) pairs forced out of stock; others are out of stock at random.
fn product_for(
    shop: &Shop,
    model: &Model,
    product_id: String,
    price: i64,
    rng: &mut Rng,
    out_of_stock: &[(&str, &str)],
) -> FeedProduct {
    let mut variants = Vec::new();
    let sizes: Vec<Option<&str>> = if model.sizes.is_empty() {
        vec![None]
    } else {
        model.sizes.iter().map(|s| Some(*s)).collect()
    };
    for (color_index, color) in model.colors.iter().enumerate() {
        for (size_index, size) in sizes.iter().enumerate() {
            let mut options = vec![VariantOption {
                name: "Color".into(),
                value: color.to_string(),
            }];
            if let Some(size) = size {
                options.insert(
                    0,
                    VariantOption {
                        name: "Size".into(),
                        value: size.to_string(),
                    },
                );
            }
            options.push(VariantOption {
                name: "Material".into(),
                value: model.material.clone(),
            });
            let forced_out = out_of_stock
                .iter()
                .any(|(c, s)| c == color && Some(*s) == *size);
            let available = !forced_out && !rng.chance(12);
            let variant_id = match size {
                Some(size) => format!("{product_id}-{}-{}", slug(color), size),
                None => format!("{product_id}-{}", slug(color)),
            };
            let variant_title = match size {
                Some(size) => format!("{} - {} / {}", model.title, color, size),
                None => format!("{} - {}", model.title, color),
            };
            variants.push(FeedVariant {
                id: variant_id,
                title: variant_title,
                price: FeedPrice {
                    amount: price,
                    currency: "USD".into(),
                },
                availability: Availability::from_stock(available),
                variant_options: options,
                barcodes: vec![Barcode {
                    kind: "gtin".into(),
                    value: gtin(model.number, color_index, size_index),
                }],
            });
        }
    }
    FeedProduct {
        gender: None,
        age_group: None,
        material: None,
        id: product_id.clone(),
        title: model.title.clone(),
        description: model.description.clone(),
        url: format!(
            "https://{}.example/products/{}",
            shop.id,
            product_id.to_lowercase()
        ),
        brand: model.brand.clone(),
        categories: vec![
            "Apparel".into(),
            model.kind.category.into(),
            model.kind.noun.into(),
        ],
        variants,
    }
}

fn fixed_model(
    number: u32,
    kind_noun: &str,
    title: &str,
    brand: &str,
    material: &str,
    colors: &[&'static str],
    base_price: i64,
) -> Model {
    let kind = PRODUCT_TYPES
        .iter()
        .find(|k| k.noun == kind_noun)
        .unwrap_or(&PRODUCT_TYPES[0]);
    Model {
        number,
        kind,
        title: title.into(),
        brand: brand.into(),
        material: material.into(),
        colors: colors.to_vec(),
        sizes: vec!["S", "M", "L", "XL"],
        base_price,
        description: format!(
            "{title} in {}. Soft, warm and made to last.",
            material.to_lowercase()
        ),
    }
}

/// A scenario product: (shop index, model, product id, price, forced
/// out-of-stock (colour, size) pairs).
type Placement<'a> = (usize, &'a Model, &'a str, i64, &'a [(&'a str, &'a str)]);

/// Generates the demo world: merchant profiles and their catalogs.
pub fn generate() -> Vec<MerchantCatalog> {
    let mut rng = Rng(DEMO_SEED);
    let mut catalogs: Vec<MerchantCatalog> = SHOPS
        .iter()
        .map(|shop| MerchantCatalog {
            profile: MerchantProfile {
                id: shop.id.into(),
                name: shop.name.into(),
                feed: format!("{}.jsonl", shop.id),
                currency: "USD".into(),
                shipping: shop.shipping,
                free_shipping_over: shop.free_shipping_over,
                tax_basis_points: shop.tax_basis_points,
                protocol: shop.protocol.into(),
            },
            products: Vec::new(),
        })
        .collect();

    // The turtleneck scenario (see the module comment). Prices in cents.
    let shared = fixed_model(
        1,
        "Turtleneck Sweater",
        "Classic Merino Turtleneck Sweater",
        "Northwind",
        "Merino Wool",
        &["Gray", "Black", "Navy"],
        4500,
    );
    let scenario: [Placement; 2] = [
        (0, &shared, "NK-1001", 4500, &[]),
        (1, &shared, "HP-2040", 4200, &[]),
    ];
    let summit = fixed_model(
        2,
        "Turtleneck Sweater",
        "Ribbed Wool Turtleneck Sweater",
        "Summit",
        "Wool",
        &["Gray", "Burgundy"],
        4800,
    );
    let ember = fixed_model(
        3,
        "Turtleneck Sweater",
        "Cotton Turtleneck Sweater",
        "Ember",
        "Cotton",
        &["Heather Grey", "Black", "Navy"],
        3900,
    );
    let lumen = fixed_model(
        4,
        "Turtleneck Sweater",
        "Everyday Turtleneck Sweater",
        "Lumen",
        "Acrylic",
        &["Charcoal", "Black", "White"],
        3900,
    );
    for (shop_index, model, id, price, out) in scenario {
        let product = product_for(&SHOPS[shop_index], model, id.into(), price, &mut rng, out);
        catalogs[shop_index]
            .products
            .push(in_stock_except(product, out));
    }
    let fixed: [Placement; 3] = [
        (2, &summit, "SS-7001", 4800, &[]),
        (3, &ember, "ES-3301", 3900, &[("Heather Grey", "M")]),
        (4, &lumen, "LB-0900", 3900, &[]),
    ];
    for (shop_index, model, id, price, out) in fixed {
        let product = product_for(&SHOPS[shop_index], model, id.into(), price, &mut rng, out);
        catalogs[shop_index]
            .products
            .push(in_stock_except(product, out));
    }

    // Shared designs: sold by two or three shops, same GTINs, different prices.
    let mut model_number = 100;
    for _ in 0..40 {
        model_number += 1;
        let owner = rng.below(SHOPS.len());
        let brand = rng.pick(SHOPS[owner].brands).to_string();
        let model = random_model(&mut rng, model_number, &brand);
        let n_sellers = 2 + rng.below(2);
        let mut sellers = vec![owner];
        while sellers.len() < n_sellers {
            let other = rng.below(SHOPS.len());
            if !sellers.contains(&other) {
                sellers.push(other);
            }
        }
        for shop_index in sellers {
            let shop = &SHOPS[shop_index];
            let price = (model.base_price * shop.price_level / 100) / 100 * 100 + 99;
            let id = format!("{}-{}", shop.prefix, 5000 + model_number);
            let product = product_for(shop, &model, id, price, &mut rng, &[]);
            catalogs[shop_index].products.push(product);
        }
    }
    // Each shop's own designs.
    for (shop_index, shop) in SHOPS.iter().enumerate() {
        for _ in 0..70 {
            model_number += 1;
            let brand = rng.pick(shop.brands).to_string();
            let model = random_model(&mut rng, model_number, &brand);
            let price = (model.base_price * shop.price_level / 100) / 100 * 100 + 99;
            let id = format!("{}-{}", shop.prefix, 1000 + model_number);
            let product = product_for(shop, &model, id, price, &mut rng, &[]);
            catalogs[shop_index].products.push(product);
        }
    }
    catalogs
}

/// Scenario products keep exactly the stock the scenario needs.
fn in_stock_except(mut product: FeedProduct, out_of_stock: &[(&str, &str)]) -> FeedProduct {
    for variant in &mut product.variants {
        let color = variant.option("Color").unwrap_or_default().to_string();
        let size = variant.option("Size").unwrap_or_default().to_string();
        let out = out_of_stock.iter().any(|(c, s)| *c == color && *s == size);
        variant.availability = Availability::from_stock(!out);
    }
    product
}

/// The generated world as files: `merchants.toml` and one JSONL feed per
/// merchant, as (file name, contents).
pub fn feed_files() -> Vec<(String, String)> {
    let catalogs = generate();
    let manifest = MerchantManifest {
        merchant: catalogs.iter().map(|c| c.profile.clone()).collect(),
    };
    let header = "# The demo world's merchants. Generated by `concierge index generate-demo` from a\n# fixed seed (src/catalog/demo_world.rs); feeds are ACP-shaped JSON Lines.\n\n";
    let mut files = vec![(
        "merchants.toml".to_string(),
        format!("{header}{}", toml::to_string(&manifest).unwrap_or_default()),
    )];
    for catalog in &catalogs {
        files.push((
            catalog.profile.feed.clone(),
            crate::catalog::feed::to_jsonl(&catalog.products),
        ));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let a = feed_files();
        let b = feed_files();
        assert_eq!(a, b);
        let catalogs = generate();
        assert_eq!(catalogs.len(), 5);
        let products: usize = catalogs.iter().map(|c| c.products.len()).sum();
        assert!(products >= 400, "{products} products");
        let out_of_stock = catalogs
            .iter()
            .flat_map(|c| &c.products)
            .flat_map(|p| &p.variants)
            .filter(|v| !v.availability.available)
            .count();
        assert!(out_of_stock > 0);
    }

    #[test]
    fn gtins_have_valid_check_digits() {
        for (model, color, size) in [(1, 0, 0), (101, 3, 5), (999_999, 11, 9)] {
            let code = gtin(model, color, size);
            assert_eq!(code.len(), 13);
            let digits: Vec<u32> = code.chars().map(|c| c.to_digit(10).unwrap()).collect();
            let sum: u32 = digits
                .iter()
                .enumerate()
                .map(|(i, d)| if i % 2 == 0 { *d } else { d * 3 })
                .sum();
            assert_eq!(sum % 10, 0, "{code}");
        }
    }
}
