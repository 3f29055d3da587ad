//! Who a product is for, as a set of bits, and whether it fits who the
//! shopper asked for.
//!
//! A feed says it with Merchant Center's `gender` (`male`, `female`,
//! `unisex`) and `age_group` (`newborn`, `infant`, `toddler`, `kids`,
//! `adult`); without them, the words of the product's categories (then of
//! its title) that the lexicon's `[[audience]]` section names ("Men",
//! "Women's", "Kids") say it. A product nothing says anything about has no
//! bits and fits everyone: only what a merchant states can rule it out.

use crate::rules::{CompiledRules, LexSlot};

pub const MEN: u8 = 1;
pub const WOMEN: u8 = 2;
pub const BOYS: u8 = 4;
pub const GIRLS: u8 = 8;
pub const BABY: u8 = 16;
const ADULTS: u8 = MEN | WOMEN;
const CHILDREN: u8 = BOYS | GIRLS;

/// What the shopper asked for, as a filter on products' bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudienceFilter {
    /// A product must have one of these bits...
    pub any: u8,
    /// ... or, for `unisex`, all of them.
    pub all: bool,
}

impl AudienceFilter {
    /// The filter for a canonical audience (the lexicon's names: men,
    /// women, boys, girls, kids, baby, unisex); `None` for another word.
    pub fn for_audience(audience: &str) -> Option<AudienceFilter> {
        let any = |bits| {
            Some(AudienceFilter {
                any: bits,
                all: false,
            })
        };
        match audience {
            "men" => any(MEN),
            "women" => any(WOMEN),
            "boys" => any(BOYS),
            "girls" => any(GIRLS),
            "kids" => any(CHILDREN | BABY),
            "baby" => any(BABY),
            "unisex" => Some(AudienceFilter {
                any: ADULTS,
                all: true,
            }),
            _ => None,
        }
    }

    /// Whether a product whose bits are `product` fits; one with no bits
    /// (nothing known) always does.
    pub fn accepts(self, product: u8) -> bool {
        if product == 0 {
            return true;
        }
        if self.all {
            product & self.any == self.any || product & CHILDREN == CHILDREN
        } else {
            product & self.any != 0
        }
    }
}

/// The bits of a product from its feed's `gender` and `age_group`, else
/// from the audience words of its categories, else of its title.
pub fn product_audience(
    rules: &CompiledRules,
    gender: Option<&str>,
    age_group: Option<&str>,
    categories: &[&str],
    title: &str,
) -> u8 {
    let gender = gender.map(|g| g.trim().to_lowercase());
    let age = age_group.map(|a| a.trim().to_lowercase());
    if gender.is_some() || age.is_some() {
        let genders = match gender.as_deref() {
            Some("male" | "men" | "man" | "m") => (MEN, BOYS),
            Some("female" | "women" | "woman" | "f") => (WOMEN, GIRLS),
            _ => (ADULTS, CHILDREN),
        };
        return match age.as_deref() {
            Some("newborn" | "infant" | "baby") => BABY,
            Some("toddler") => BABY | genders.1,
            Some("kids" | "kid" | "child" | "children" | "youth") => genders.1,
            // Merchant Center reads a missing age group as adult.
            _ => genders.0,
        };
    }
    let from_categories = categories
        .iter()
        .fold(0, |bits, category| bits | words_audience(rules, category));
    if from_categories != 0 {
        return from_categories;
    }
    words_audience(rules, title)
}

/// The bits the audience words of `text` name ("Women's Tops" → women).
fn words_audience(rules: &CompiledRules, text: &str) -> u8 {
    let mut bits = 0;
    for word in text
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .filter(|w| !w.is_empty())
    {
        let word = word.replace('’', "'").to_lowercase();
        bits |= match rules.lexicon.canonical(LexSlot::Audience, &word) {
            Some("men") => MEN,
            Some("women") => WOMEN,
            Some("boys") => BOYS,
            Some("girls") => GIRLS,
            Some("kids") => CHILDREN,
            Some("baby") => BABY,
            Some("unisex") => ADULTS,
            _ => 0,
        };
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feeds_and_words_say_who_a_product_is_for() {
        let rules = CompiledRules::embedded().unwrap();
        type Case<'a> = (Option<&'a str>, Option<&'a str>, &'a [&'a str], &'a str, u8);
        let cases: [Case; 9] = [
            (Some("male"), None, &[], "Hoodie", MEN),
            (Some("female"), Some("kids"), &[], "Dress", GIRLS),
            (Some("unisex"), Some("adult"), &[], "Cap", MEN | WOMEN),
            (None, Some("infant"), &[], "Bodysuit", BABY),
            (None, None, &["Men", "Tops"], "Chaz Hoodie", MEN),
            (None, None, &["Women's Shoes"], "Runner", WOMEN),
            (None, None, &["Gear", "Bags"], "Kids Backpack", CHILDREN),
            (None, None, &["Gear", "Bags"], "Duffle Bag", 0),
            // Categories first: the title's words do not add to them.
            (None, None, &["Men"], "Women's cut", MEN),
        ];
        for (gender, age, categories, title, bits) in cases {
            assert_eq!(
                product_audience(&rules, gender, age, categories, title),
                bits,
                "{gender:?} {age:?} {categories:?} {title}"
            );
        }
    }

    #[test]
    fn filters_accept_what_fits_and_what_is_unknown() {
        let men = AudienceFilter::for_audience("men").unwrap();
        assert!(men.accepts(MEN) && men.accepts(ADULTS) && men.accepts(0));
        assert!(!men.accepts(WOMEN) && !men.accepts(BOYS));
        let kids = AudienceFilter::for_audience("kids").unwrap();
        assert!(kids.accepts(GIRLS) && kids.accepts(BABY) && !kids.accepts(MEN));
        let unisex = AudienceFilter::for_audience("unisex").unwrap();
        assert!(unisex.accepts(ADULTS) && !unisex.accepts(MEN));
        assert_eq!(AudienceFilter::for_audience("pets"), None);
    }
}
