//! Scoring one purchase against a task's gold: whole-word matching and
//! WebShop's reward (see the module docs of [`super`]).

use super::{Gold, ProductFacts};
use crate::catalog::feed::FeedVariant;
use serde::Serialize;

/// A constraint of the gold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    Type,
    Audience,
    Material,
    Color,
    Size,
    Attributes,
    /// `max_price`.
    Price,
    Cheapest,
}

impl Constraint {
    pub fn name(self) -> &'static str {
        match self {
            Constraint::Type => "type",
            Constraint::Audience => "audience",
            Constraint::Material => "material",
            Constraint::Color => "color",
            Constraint::Size => "size",
            Constraint::Attributes => "attributes",
            Constraint::Price => "price",
            Constraint::Cheapest => "cheapest",
        }
    }
}

/// One constraint a purchase missed, and how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missed {
    pub constraint: Constraint,
    pub detail: String,
}

/// What was bought, as the judge reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct BoughtItem {
    pub product: ProductFacts,
    /// The variant bought, when it could be told from the receipt.
    pub variant: Option<FeedVariant>,
    /// The receipt's variant label ("M / Gray").
    pub variant_label: String,
    /// Total paid, major units.
    pub total: f64,
}

/// A purchase's reward and the constraints it missed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub reward: f64,
    pub missed: Vec<Missed>,
}

/// Scores a purchase against the gold (WebShop's reward; see the module
/// docs).
pub fn score(gold: &Gold, best_total: Option<f64>, item: &BoughtItem) -> Score {
    let product = &item.product.product;
    let mut missed = Vec::new();
    let mut miss = |constraint, detail: String| missed.push(Missed { constraint, detail });
    let title = words(&product.title);
    let description = words(&product.description);
    let categories: Vec<Vec<String>> = product.categories.iter().map(|c| words(c)).collect();

    let type_ok = gold.product_type.is_empty()
        || gold.product_type.iter().any(|t| {
            let phrase = words(t);
            has_phrase(&title, &phrase) || categories.iter().any(|c| has_phrase(c, &phrase))
        });
    if !type_ok {
        miss(
            Constraint::Type,
            format!(
                "{} is none of {}",
                product.title,
                gold.product_type.join(", ")
            ),
        );
    }

    let (mut attributes, mut attributes_ok) = (0usize, 0usize);
    if let Some(audience) = &gold.audience {
        attributes += 1;
        if audience_ok(audience, &item.product) {
            attributes_ok += 1;
        } else {
            miss(
                Constraint::Audience,
                format!("not for {audience} ({})", audience_facts(&item.product)),
            );
        }
    }
    if let Some(material) = &gold.material {
        attributes += 1;
        let phrase = words(material);
        let option_materials = item
            .variant
            .iter()
            .chain(product.variants.iter())
            .filter_map(|v| v.option("Material"));
        let found = item
            .product
            .material
            .iter()
            .map(String::as_str)
            .chain(option_materials)
            .any(|m| has_phrase(&words(m), &phrase))
            || has_phrase(&title, &phrase)
            || has_phrase(&description, &phrase);
        if found {
            attributes_ok += 1;
        } else {
            miss(Constraint::Material, format!("not {material}"));
        }
    }
    for attribute in &gold.attributes {
        attributes += 1;
        let phrase = words(attribute);
        if has_phrase(&title, &phrase) || has_phrase(&description, &phrase) {
            attributes_ok += 1;
        } else {
            miss(
                Constraint::Attributes,
                format!("{attribute:?} not in the title or description"),
            );
        }
    }

    let (mut options, mut options_ok) = (0usize, 0usize);
    if !gold.color.is_empty() {
        options += 1;
        let colour = match &item.variant {
            Some(variant) => variant
                .option("Color")
                .unwrap_or(variant.title.as_str())
                .to_string(),
            None => item.variant_label.clone(),
        };
        let colour_words = color_words(&colour);
        if gold
            .color
            .iter()
            .any(|c| has_phrase(&colour_words, &color_words(c)))
        {
            options_ok += 1;
        } else {
            miss(
                Constraint::Color,
                format!("{colour:?} is not {}", gold.color.join(" or ")),
            );
        }
    }
    if let Some(size) = &gold.size {
        options += 1;
        let squeeze = |s: &str| {
            s.chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_lowercase()
        };
        let sizes: Vec<String> = match &item.variant {
            Some(variant) => variant
                .option("Size")
                .map(str::to_string)
                .into_iter()
                .collect(),
            None => item
                .variant_label
                .split('/')
                .map(|s| s.trim().to_string())
                .collect(),
        };
        if sizes.iter().any(|s| squeeze(s) == squeeze(size)) {
            options_ok += 1;
        } else {
            let bought = sizes.first().map(String::as_str).unwrap_or("no size");
            miss(Constraint::Size, format!("{bought:?} is not {size}"));
        }
    }

    let mut price_ok = true;
    if let Some(max_price) = gold.max_price {
        if item.total > max_price + 0.005 {
            price_ok = false;
            miss(
                Constraint::Price,
                format!("total {:.2} over {max_price:.2}", item.total),
            );
        }
    }
    if gold.cheapest {
        if let Some(best) = best_total {
            if item.total > best + 0.01 {
                price_ok = false;
                miss(
                    Constraint::Cheapest,
                    format!("total {:.2}, best {best:.2}", item.total),
                );
            }
        }
    }

    let matched = attributes_ok + options_ok + usize::from(price_ok);
    let mut reward = matched as f64 / (attributes + options + 1) as f64;
    if !type_ok {
        reward *= 0.5;
    }
    Score { reward, missed }
}

/// Whether the product is for `audience` (men, women, kids, baby, boys,
/// girls, unisex): by its `gender` / `age_group` when the feed has them,
/// else by the words of its categories and title.
fn audience_ok(audience: &str, facts: &ProductFacts) -> bool {
    let audience = words(audience).join(" ");
    let gender = facts.gender.as_deref().map(|g| words(g).join(" "));
    let age = facts.age_group.as_deref().map(|a| words(a).join(" "));
    let age_kind = age.as_deref().map(|age| match age {
        "kids" | "kid" | "child" | "children" | "youth" => "kids",
        "infant" | "newborn" | "toddler" | "baby" => "baby",
        _ => "adult",
    });
    let by_text = |wanted: &[&str]| {
        let product = &facts.product;
        std::iter::once(&product.title)
            .chain(product.categories.iter())
            .any(|text| {
                let text = words(text);
                wanted.iter().any(|w| has_phrase(&text, &[w.to_string()]))
            })
    };
    let men = ["men", "man", "male"];
    let women = ["women", "woman", "ladies", "female"];
    let kids = ["kids", "kid", "children", "child", "boys", "girls", "youth"];
    let baby = ["baby", "infant", "newborn", "toddler"];
    match audience.as_str() {
        "men" | "man" | "mens" | "male" | "women" | "woman" | "womens" | "female" | "ladies" => {
            let for_men = matches!(audience.as_str(), "men" | "man" | "mens" | "male");
            if matches!(age_kind, Some("kids" | "baby")) {
                return false;
            }
            match gender.as_deref() {
                Some("male" | "men" | "man") => for_men,
                Some("female" | "women" | "woman") => !for_men,
                Some("unisex") => true,
                _ if for_men => by_text(&men),
                _ => by_text(&women),
            }
        }
        "kids" | "kid" | "children" | "child" => match age_kind {
            Some(kind) => kind == "kids" || age.as_deref() == Some("toddler"),
            None => by_text(&kids),
        },
        "baby" | "babies" | "infant" | "newborn" | "toddler" => match age_kind {
            Some(kind) => kind == "baby",
            None => by_text(&baby),
        },
        "boys" | "boy" | "girls" | "girl" => {
            let for_boys = audience.starts_with("boy");
            match age_kind {
                Some("kids") => match gender.as_deref() {
                    Some("male") => for_boys,
                    Some("female") => !for_boys,
                    _ => true,
                },
                Some(_) => false,
                None => by_text(&kids),
            }
        }
        "unisex" => match gender.as_deref() {
            Some(gender) => gender == "unisex",
            None => by_text(&["unisex"]),
        },
        other => by_text(&[other]),
    }
}

fn audience_facts(facts: &ProductFacts) -> String {
    match (&facts.gender, &facts.age_group) {
        (None, None) => format!(
            "{} in {}",
            facts.product.title,
            facts.product.categories.join(" > ")
        ),
        (gender, age) => format!(
            "gender {}, age group {}",
            gender.as_deref().unwrap_or("-"),
            age.as_deref().unwrap_or("-")
        ),
    }
}

/// Lowercase words: every run of characters that are not letters or
/// digits separates words; HTML entities (`&trade;`) are dropped.
pub fn words(text: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        cleaned.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let entity = after.find(';').filter(|end| {
            (1..=8).contains(end)
                && after[..*end]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '#')
        });
        match entity {
            Some(end) => {
                cleaned.push(' ');
                rest = &after[end + 1..];
            }
            None => {
                cleaned.push(' ');
                rest = after;
            }
        }
    }
    cleaned.push_str(rest);
    cleaned
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Colour words, "grey" read as "gray".
fn color_words(text: &str) -> Vec<String> {
    words(text)
        .into_iter()
        .map(|w| if w == "grey" { "gray".into() } else { w })
        .collect()
}

/// Whether `phrase` occurs in `text` as whole words, each word allowed a
/// plural "s" or "es" on either side.
fn has_phrase(text: &[String], phrase: &[String]) -> bool {
    if phrase.is_empty() {
        return false;
    }
    text.windows(phrase.len())
        .any(|window| window.iter().zip(phrase).all(|(a, b)| same_word(a, b)))
}

fn same_word(a: &str, b: &str) -> bool {
    let plural_of = |long: &str, short: &str| {
        long.strip_prefix(short)
            .is_some_and(|tail| tail == "s" || tail == "es")
    };
    a == b || plural_of(a, b) || plural_of(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::feed::FeedProduct;

    /// A product line in the ACP feed shape, with a gray and a navy
    /// variant in M, $40.
    const HOODIE: &str = r#"{"id": "H1", "title": "Chaz Full-Zip Hoodie", "description": "Organic cotton fleece, lightweight.", "categories": ["Men", "Tops", "Hoodies & Sweatshirts"], "gender": "male", "age_group": "adult", "variants": [
        {"id": "H1-M-Gray", "title": "Chaz Hoodie-M-Gray", "price": {"amount": 4000, "currency": "USD"}, "availability": {"available": true}, "variant_options": [{"name": "Size", "value": "M"}, {"name": "Color", "value": "Heather Grey"}, {"name": "Material", "value": "Cotton Blend"}]},
        {"id": "H1-M-Navy", "title": "Chaz Hoodie-M-Navy", "price": {"amount": 4000, "currency": "USD"}, "availability": {"available": true}, "variant_options": [{"name": "Size", "value": "M"}, {"name": "Color", "value": "Navy"}]}]}"#;

    /// No gender or age group: the audience comes from the words.
    const BOTTLE: &str = r#"{"id": "B1", "title": "Kids Leakproof Water Bottles", "description": "BPA free.", "categories": ["Kids", "Drinkware"], "material": "stainless steel", "variants": [
        {"id": "B1-12", "title": "Bottle 12 oz", "price": {"amount": 1500, "currency": "USD"}, "availability": {"available": true}, "variant_options": [{"name": "Size", "value": "12 oz"}]}]}"#;

    fn item(line: &str, variant: &str, total: f64) -> BoughtItem {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let product: FeedProduct = serde_json::from_value(value.clone()).unwrap();
        let field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
        let variant = product.variants.iter().find(|v| v.id == variant).cloned();
        BoughtItem {
            product: ProductFacts {
                gender: field("gender"),
                age_group: field("age_group"),
                material: field("material"),
                product,
            },
            variant,
            variant_label: String::new(),
            total,
        }
    }

    /// Scores `gold` (JSON) for the item; checks the reward and the names
    /// of the constraints missed.
    fn check(gold: &str, best_total: Option<f64>, item: &BoughtItem, reward: f64, missed: &[&str]) {
        let gold: Gold = serde_json::from_str(gold).unwrap();
        let score = score(&gold, best_total, item);
        let names: Vec<&str> = score.missed.iter().map(|m| m.constraint.name()).collect();
        assert_eq!(names, missed, "{gold:?}: {:?}", score.missed);
        assert!(
            (score.reward - reward).abs() < 1e-9,
            "{gold:?}: reward {} not {reward}",
            score.reward
        );
    }

    #[test]
    fn scoring_table() {
        let gray = item(HOODIE, "H1-M-Gray", 47.99);
        let navy = item(HOODIE, "H1-M-Navy", 47.99);
        let bottle = item(BOTTLE, "B1-12", 15.0);
        // Everything stated and met: "Full-Zip" is "full zip", "Heather
        // Grey" holds gray, "Hoodies" is a plural of "hoodie".
        check(
            r#"{"type": ["hoodie"], "audience": "men", "material": "cotton", "color": "gray", "size": "m", "max_price": 48, "attributes": ["full zip", "lightweight"]}"#,
            None,
            &gray,
            1.0,
            &[],
        );
        // Nothing stated but the type: only the price term, met.
        check(r#"{"type": "sweatshirt"}"#, None, &gray, 1.0, &[]);
        // Wrong type halves the reward.
        check(r#"{"type": ["jacket"]}"#, None, &gray, 0.5, &["type"]);
        // Colour missed: 3 of 4 (audience, colour, size, price).
        check(
            r#"{"audience": "men", "color": "gray", "size": "M", "max_price": 50}"#,
            None,
            &navy,
            0.75,
            &["color"],
        );
        // Over the ceiling by a cent; within half a cent is fine.
        check(r#"{"max_price": 47.98}"#, None, &gray, 0.0, &["price"]);
        check(r#"{"max_price": 47.99}"#, None, &gray, 1.0, &[]);
        // Not the cheapest: the price term fails, named cheapest.
        check(
            r#"{"size": "M", "cheapest": true}"#,
            Some(45.0),
            &gray,
            0.5,
            &["cheapest"],
        );
        check(r#"{"cheapest": true}"#, Some(47.985), &gray, 1.0, &[]);
        // Wrong audience by gender. "Cotton blend" is only in the gray
        // variant's Material option, but any variant's option counts.
        check(r#"{"audience": "women"}"#, None, &gray, 0.5, &["audience"]);
        check(r#"{"material": "cotton blend"}"#, None, &navy, 1.0, &[]);
        check(r#"{"material": "wool"}"#, None, &navy, 0.5, &["material"]);
        // Whole words: "zip" is not "zipper"; a missing attribute costs one
        // of the attribute terms.
        check(
            r#"{"type": ["hoodie"], "attributes": ["zipper", "fleece"]}"#,
            None,
            &gray,
            2.0 / 3.0,
            &["attributes"],
        );
        // Audience from words when the feed has no gender: "Kids" in the
        // title and categories; men is not in them.
        check(r#"{"audience": "kids"}"#, None, &bottle, 1.0, &[]);
        check(r#"{"audience": "men"}"#, None, &bottle, 0.5, &["audience"]);
        // The feed line's material field; sizes compared without spaces.
        check(
            r#"{"type": ["water bottle"], "material": "stainless steel", "size": "12oz", "attributes": ["bpa free", "leakproof"]}"#,
            None,
            &bottle,
            1.0,
            &[],
        );
        // Everything wrong and the type too.
        check(
            r#"{"type": ["mug"], "audience": "baby", "color": "red", "size": "32 oz", "max_price": 10}"#,
            None,
            &bottle,
            0.0,
            &["type", "audience", "color", "size", "price"],
        );
    }

    #[test]
    fn audiences_by_gender_and_age_group() {
        let facts = |gender: Option<&str>, age: Option<&str>| ProductFacts {
            product: FeedProduct {
                gender: None,
                age_group: None,
                material: None,
                id: "X".into(),
                title: "Thing".into(),
                description: String::new(),
                url: String::new(),
                brand: String::new(),
                categories: vec![],
                variants: vec![],
            },
            gender: gender.map(str::to_string),
            age_group: age.map(str::to_string),
            material: None,
        };
        for (gold, gender, age, ok) in [
            ("men", Some("male"), Some("adult"), true),
            ("men", Some("unisex"), Some("adult"), true),
            ("women", Some("unisex"), None, true),
            ("women", Some("male"), Some("adult"), false),
            ("men", Some("male"), Some("kids"), false),
            ("kids", Some("unisex"), Some("kids"), true),
            ("kids", Some("unisex"), Some("adult"), false),
            ("baby", Some("unisex"), Some("infant"), true),
            ("baby", None, Some("toddler"), true),
            ("kids", None, Some("infant"), false),
            ("boys", Some("male"), Some("kids"), true),
            ("girls", Some("unisex"), Some("kids"), true),
            ("girls", Some("male"), Some("kids"), false),
        ] {
            assert_eq!(
                audience_ok(gold, &facts(gender, age)),
                ok,
                "{gold} for {gender:?}/{age:?}"
            );
        }
    }

    #[test]
    fn words_and_phrases() {
        assert_eq!(
            words("CoolTech&trade; Full-Zip 1/4"),
            ["cooltech", "full", "zip", "1", "4"]
        );
        assert_eq!(words("AT&T"), ["at", "t"]);
        let text = words("Women's Hoodies & Sweatshirts");
        assert!(has_phrase(&text, &words("hoodie")));
        assert!(has_phrase(&text, &words("sweatshirt")));
        assert!(!has_phrase(&text, &words("men")));
        assert!(has_phrase(&words("3 Boxes"), &words("box")));
        assert!(!has_phrase(&words("Sweatshirts"), &words("shirt")));
    }
}
