//! The rule-driven parser. Steps, in order:
//! 1. lowercase and bound the input;
//! 2. typo correction: a few function words mistyped where the words around
//!    them make the fix plain ("i wont a", "were is my", "by me a"), then a
//!    word that is neither known, nor in the vocabulary, nor an English word
//!    of WordNet is replaced by its unique closest vocabulary word within
//!    the thresholds of [`crate::rules::fuzzy`] ("blak" -> "black");
//! 3. number words that name money become digits ("twenty dollars" -> "20
//!    dollars"), so that the price rules see one shape;
//! 4. price rules, whose matches are cut out of the text; then an indirect
//!    object is taken out ("get my husband a hoodie" -> "get a hoodie"),
//!    and gives the audience of "for my husband";
//! 5. intent rules (highest priority first), each vetoed by its `unless`
//!    patterns and gated by the evidence it `requires` (a known product, a
//!    price, an attribute); the trigger words are cut out;
//! 6. tokens, split into segments at "and" / "," / "plus" when each side
//!    names a product, so "a gray turtleneck and two pairs of wool socks"
//!    yields two items;
//! 7. per segment, longest-first lexicon lookup for colour, size, material,
//!    brand and product type; sizes also by position ("size 32", "a jacket,
//!    gray, S"); numbers with a unit are measures ("65 cm"), others and
//!    number words quantities; negation for excluded colours; the leftover
//!    content words form the product phrase.

use super::{Fired, Intent, IntentKind, ItemRequest};
use crate::rules::{CompiledRules, Evidence, LexHit, LexSlot, PriceBound};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

mod names;

/// Requests longer than this are cut; nobody types a 2,000-character order.
const MAX_INPUT_CHARS: usize = 2000;

/// Parses shopper text with compiled rules. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Parser {
    rules: Arc<CompiledRules>,
}

/// Splits lowercased text into words and commas. A word is a run of
/// letters and digits, which may hold `'`, `-` or `.` between two of them
/// ("t-shirt", "levi's", "10.5"), and `/` between two digits ("3/4",
/// "225/65r17"). Hand-written because it runs several times per request and
/// a regex costs more.
fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut start: Option<usize> = None;
    let mut last = ' ';
    while let Some((at, c)) = chars.next() {
        let before = std::mem::replace(&mut last, c);
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(at);
            }
            continue;
        }
        // "oral-b", "burt's", "black+decker", "h&m", "10/12": one word.
        let joins_next = (matches!(c, '\'' | '-' | '.' | '+' | '&')
            && start.is_some()
            && chars.peek().is_some_and(|(_, n)| n.is_alphanumeric()))
            || (c == '/'
                && before.is_ascii_digit()
                && chars.peek().is_some_and(|(_, n)| n.is_ascii_digit()));
        // "100% cotton": a share, not a count of 100.
        if joins_next || (c == '%' && start.is_some() && before.is_ascii_digit()) {
            continue;
        }
        if let Some(begin) = start.take() {
            tokens.push(Token {
                text: &text[begin..at],
            });
        }
        if c == ',' {
            tokens.push(Token { text: "," });
        }
    }
    if let Some(begin) = start {
        tokens.push(Token {
            text: &text[begin..],
        });
    }
    tokens
}

/// Byte ranges of the runs of letters and digits in `text`.
fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(begin)) => {
                spans.push((begin, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        spans.push((begin, text.len()));
    }
    spans
}

/// Small number words, for quantities ("two hoodies").
pub(crate) fn number_word(word: &str) -> Option<u32> {
    Some(match word {
        "one" | "single" => 1,
        "two" | "couple" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" | "dozen" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

fn tens_word(word: &str) -> Option<u32> {
    Some(match word {
        "twenty" => 20,
        "thirty" => 30,
        "forty" | "fourty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

const NEGATIONS: &[&str] = &[
    "not", "no", "except", "without", "but", "non", "nothing", "never", "avoid", "hate", "aren't",
    "isn't", "don't", "dont", "arent", "isnt",
];
/// First words of requests that talk about a product without shopping for
/// it ("what is a turtleneck", "how do i wash a wool sweater", "i love my new
/// boots", "turn on the lamp"): a bare product phrase after these is not a
/// search.
/// Whether `text` tells of something the shopper already got ("these
/// pants i got are so comfy", "my mom liked the scarf i bought her"): a
/// product named so is had, not sought.
fn tells_of_acquired(text: &str) -> bool {
    let tokens = tokenize(text);
    tokens.windows(2).any(|pair| {
        matches!(pair[0].text, "i" | "we")
            && matches!(
                pair[1].text,
                "got" | "bought" | "received" | "purchased" | "gifted" | "ordered"
            )
    })
}

const NOT_A_PRODUCT_QUERY: &[&str] = &[
    "what",
    "what's",
    "whats",
    "how",
    "when",
    "why",
    "who",
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "i",
    "i'm",
    "im",
    "my",
    "it",
    "it's",
    "that",
    "this",
    "tell",
    "translate",
    "convert",
    "define",
    // Commands to devices and phones.
    "turn",
    "switch",
    "dim",
    "mute",
    "lock",
    "unlock",
    "charge",
    "call",
    "dial",
    "text",
    "play",
];
const POSSESSIVES: &[&str] = &["my", "your", "his", "her", "our", "their", "its"];
/// Most a well-known brand that is an English word may be a thing (in
/// tenths, as [`crate::rules::english::WordInfo::thing_share`]) and still
/// name its maker before a product: "tide" (0), "dove" (2) and "coach" (3)
/// do; "switch" (6) and "parachute" (9) describe. "ring light" is the price
/// of "coach purse".
const KNOWN_BRAND_THING_SHARE: u8 = 3;
/// Whether the words `start..end` of `tokens` name a maker and nothing
/// else: "(the) bounty one", "anything new from fernleaf botanics".
fn maker_named_alone(tokens: &[Token], start: usize, end: usize) -> bool {
    let one_after = end - start == 1
        && tokens
            .get(end)
            .is_some_and(|t| matches!(t.text, "one" | "ones"));
    let from_before = start > 0
        && matches!(tokens[start - 1].text, "from" | "by")
        && end - start <= 3
        && tokens.get(end).is_none_or(|t| t.text == ",");
    one_after || from_before
}

/// Words that end a firm's name after "from": "little hive farms",
/// "bluebell bakery" (not company words everywhere: "a bakery").
const FIRM_WORDS: &[&str] = &[
    "farm",
    "farms",
    "bakery",
    "kitchen",
    "kitchens",
    "roasters",
    "botanics",
    "naturals",
    "studio",
    "studios",
    "works",
    "workshop",
    "collective",
    "apothecary",
    "creamery",
    "dairy",
];
/// Titles before a maker's name: "dr teal's", "mrs meyers".
const TITLES: &[&str] = &["dr", "mr", "mrs", "ms"];
/// Words that follow a maker's name as part of it ("pawsome co").
const COMPANY_WORDS: &[&str] = &[
    "co",
    "company",
    "inc",
    "labs",
    "brand",
    "brands",
    "outfitters",
    "goods",
    "supply",
    "studio",
    "studios",
    "collective",
    "botanicals",
    "botanics",
    "trading",
    "brothers",
    "bros",
];

/// Nouns that, right after a product word, make it a modifier of something
/// that is not for sale ("a phone number", "a laptop repair appointment",
/// "a tv guide"): the product word is then no evidence of shopping.
const NOT_PRODUCT_HEADS: &[&str] = &[
    "number",
    "numbers",
    "plan",
    "plans",
    "bill",
    "bills",
    "call",
    "calls",
    "repair",
    "repairs",
    "appointment",
    "appointments",
    "service",
    "services",
    "guide",
    "listing",
    "listings",
    "company",
    "provider",
    "carrier",
    "contract",
    "insurance",
    "warranty",
    "support",
    "settings",
    "password",
    "account",
    "store",
    "stores",
    "shop",
    "shops",
    "show",
    "shows",
    "channel",
    "channels",
    "station",
    "total",
    "totals",
    "hotel",
    "hotels",
    "motel",
    "restaurant",
    "restaurants",
];
/// Where a shopper puts what they buy: after "to my" or "in the", never
/// the product.
const PLACES_FOR_ITEMS: &[&str] = &[
    "cart", "basket", "trolley", "bag", "wishlist", "list", "order", "checkout",
];
/// An option's name in the plural, asked about rather than bought.
const OPTION_NAMES: &[&str] = &[
    "sizes", "colors", "colours", "scents", "flavors", "flavours", "shades", "styles", "options",
];
/// A size written as a code at the start of `tokens`, and how many tokens
/// it takes: waist by length or a dimension ("32x30", "16x25x1"), a
/// toddler size ("4T"), a suit size ("42R"; "42L" and "42S" after "size"),
/// or a baby's age range ("6-9 months").
fn size_code(tokens: &[Token], previous: Option<&str>) -> Option<(String, usize)> {
    let word = tokens.first()?.text;
    let number = |part: &str| {
        !part.is_empty()
            && part.len() <= 5
            && part.starts_with(|c: char| c.is_ascii_digit())
            && part.chars().all(|c| c.is_ascii_digit() || c == '.')
    };
    let parts: Vec<&str> = word.split('x').collect();
    if (2..=3).contains(&parts.len()) && parts.iter().all(|p| number(p)) {
        return Some((word.to_string(), 1));
    }
    let last = word.char_indices().last().map_or(0, |(at, _)| at);
    let (digits, letter) = word.split_at(last);
    let two_digits =
        |d: &str| d.len() <= 2 && !d.is_empty() && d.chars().all(|c| c.is_ascii_digit());
    if two_digits(digits) && letter == "t" {
        return Some((word.to_uppercase(), 1));
    }
    if digits.len() == 2
        && two_digits(digits)
        && (letter == "r" || (matches!(letter, "s" | "l") && previous == Some("size")))
    {
        return Some((word.to_uppercase(), 1));
    }
    let ages = tokens.get(1).map(|t| t.text);
    if let Some((from, to)) = word.split_once('-') {
        if two_digits(from)
            && two_digits(to)
            && matches!(
                ages,
                Some("months" | "month" | "mo" | "m" | "years" | "yrs" | "y")
            )
        {
            let unit = if ages.is_some_and(|a| a.starts_with('m')) {
                "months"
            } else {
                "years"
            };
            return Some((format!("{from}-{to} {unit}"), 2));
        }
    }
    // "size 6x", "size c7", "size 4t-5t": after "size" any short code with
    // a digit.
    let code = |w: &str| {
        w.len() <= 8
            && w.chars().any(|c| c.is_ascii_digit())
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '.'))
    };
    if matches!(previous, Some("size" | "sz")) && code(word) {
        return Some((word.to_uppercase(), 1));
    }
    // A tyre ("225/65r17"), a range of kids' sizes ("10-12", "10/12",
    // "4t-5t"), a toddler's shoe ("c7", "7c"), a paper size ("a4"), a bra
    // size ("34c").
    let letters_then_digits = |w: &str, letters: &str| {
        w.strip_prefix(|c: char| letters.contains(c))
            .is_some_and(&two_digits)
    };
    let digits_then = |w: &str, letters: &str| {
        w.len() >= 2
            && w.strip_suffix(|c: char| letters.contains(c))
                .is_some_and(&two_digits)
    };
    let tyre = word.split_once('/').is_some_and(|(width, rest)| {
        width.len() == 3
            && width.chars().all(|c| c.is_ascii_digit())
            && rest.split_once('r').is_some_and(|(ratio, rim)| {
                two_digits(ratio.trim_end_matches('z')) && two_digits(rim)
            })
    });
    // A range written with "/" is two neighbouring sizes from 4 up
    // ("10/12", "4/5"); "1/4 zip" and "3/4 sleeve" are fractions.
    let slashed = word.contains('/');
    let range = word.split_once(['-', '/']).is_some_and(|(from, to)| {
        let (from_toddler, to_toddler) = (from.strip_suffix('t'), to.strip_suffix('t'));
        match (from.parse::<u8>(), to.parse::<u8>()) {
            (Ok(from), Ok(to)) => {
                from < to
                    && (!slashed || (from >= 4 && to - from <= 2))
                    && !matches!(previous, Some("age" | "ages" | "aged" | "for"))
                    && ages.is_none_or(|next| {
                        !measure_unit(next)
                            && !NOT_COUNTED.contains(&next)
                            && !TIMES.contains(&next)
                    })
            }
            _ => from_toddler
                .zip(to_toddler)
                .is_some_and(|(a, b)| two_digits(a) && two_digits(b)),
        }
    });
    let shoe_or_paper = letters_then_digits(word, "c")
        && word[1..].parse::<u8>().is_ok_and(|n| (1..=13).contains(&n))
        || digits_then(word, "c")
            && word[..word.len() - 1]
                .parse::<u8>()
                .is_ok_and(|n| (1..=13).contains(&n))
        || matches!(word, "a3" | "a4" | "a5" | "a6");
    let bra = word
        .get(..2)
        .and_then(|band| band.parse::<u8>().ok())
        .is_some_and(|band| (28..=48).contains(&band) && band % 2 == 0)
        && word.get(2..).is_some_and(|cup| {
            (1..=3).contains(&cup.len()) && cup.chars().all(|c| ('a'..='h').contains(&c))
        });
    if tyre || range || shoe_or_paper || bra {
        return Some((word.to_uppercase(), 1));
    }
    None
}

/// A size with the width or fit closing it ("11 wide", "42 regular"), and
/// whether it took that token; `at` is the token after the size.
fn with_fit(size: String, tokens: &[Token], at: usize) -> (String, usize) {
    // "size 9 wide sandals": after "size" the width belongs to it wherever
    // it stands.
    let after_size = at >= 2 && matches!(tokens[at - 2].text, "size" | "sz");
    let fit_follows = tokens.get(at).is_some_and(|t| FITS.contains(&t.text));
    if ends_with_fit(tokens, at) || (after_size && fit_follows) {
        (format!("{size} {}", tokens[at].text), 1)
    } else {
        (size, 0)
    }
}

/// Whether `tokens[at]` is a width or fit ([`FITS`]) that ends the phrase:
/// "womens 8 wide", not "10 wide mouth jars".
fn ends_with_fit(tokens: &[Token], at: usize) -> bool {
    tokens.get(at).is_some_and(|t| FITS.contains(&t.text))
        && tokens
            .get(at + 1)
            .is_none_or(|t| !t.text.chars().all(char::is_alphabetic))
}

/// Whether `product`, read from a request about an existing order, names
/// a thing: its head is one, and it is not a lone verb, which is the
/// request's own ("track my order", "scrap that order").
fn names_owned_thing(product: &str) -> bool {
    let mut words = product.split_whitespace();
    let head = words.next_back();
    let lone = words.next().is_none();
    head.and_then(crate::rules::english::lookup)
        .is_some_and(|info| info.noun && info.thing_share >= THING_SHARE && !(lone && info.verb))
}

/// Whether `tokens[index]` ("by", "x") joins two numbers into one measure:
/// "42 by 72 inch", "12 x 16".
fn dimension_between(tokens: &[Token], index: usize) -> bool {
    let digits =
        |t: Option<&Token>| t.is_some_and(|t| t.text.starts_with(|c: char| c.is_ascii_digit()));
    index > 0 && digits(tokens.get(index - 1)) && digits(tokens.get(index + 1))
}

/// Words for a set of things that head a product phrase after the word
/// naming what the set holds ("a patio set", "a repair kit", "snack packs").
const SET_HEADS: &[&str] = &["set", "sets", "kit", "kits", "pack", "packs", "bundle"];
/// Words for a gift, which yields to a product named after it.
const GIFT_WORDS: &[&str] = &["gift", "gifts", "present", "presents"];
/// What a gift comes as: "gift" before one of these is part of the
/// product's name ("a gift set", "a gift basket"), elsewhere it is not.
const GIFT_HEADS: &[&str] = &[
    "set", "sets", "basket", "baskets", "box", "boxes", "bag", "card",
];
/// Whether `word` describes rather than names: WordNet knows it as an
/// adjective, and as a noun, if at all, hardly ever a thing ("easy",
/// "ready", "dark", "rich"; not "light" or "paper"). Such a word can take
/// "to <verb>" inside a noun phrase ("ready to eat") and starts a list of
/// describing words ("rich, creamy biscuits").
fn describing_word(word: &str) -> bool {
    // Exact: a plural ("lights") names things.
    crate::rules::english::words()
        .get(word)
        .is_some_and(|info| info.adjective && (!info.noun || info.thing_share < THING_SHARE))
}

/// Whether `word` is a unit of measure (the table of
/// [`crate::rules::measure`], and "fl" of "fl oz"): a number before one is
/// a measure of the product ("a 65 cm stability ball", "32 oz", "10
/// feet"), not a quantity, and is left out of the product phrase.
fn measure_unit(word: &str) -> bool {
    word == "fl" || crate::rules::measure::unit(word).is_some()
}
/// Units that count what one product holds ("a 12 pack", "24 count", "a 3
/// piece set"): the number and its unit stay in the product phrase as a
/// modifier and are no quantity ("2 packs of socks" is one: the plural).
const COUNT_UNITS: &[&str] = &["pack", "count", "ct", "piece", "pieces", "pc", "pcs"];
/// Words after a number that make it an age, a time or what the product
/// holds or seats ("my 5 yo", "a 10 year old", "for 4 people", "6 drawers",
/// "8 port"), not how many to buy.
const NOT_COUNTED: &[&str] = &[
    "person", "people", "persons", "pm", "am", "yo", "year", "years", "yr", "yrs", "month",
    "months", "drawer", "drawers", "port", "ports", "seater", "burner", "burners", "shelf",
    "shelves", "slice", "tier", "player", "players", "cup", "cups", "pint", "pints", "sq", "chest",
    "waist", "neck", "capsule", "capsules", "wheel", "blade", "piece", "door", "speed", "pocket",
    "step", "gang", "day", "days", "week", "weeks", "hour", "hours", "minute", "minutes", "mins",
    "degree", "degrees", "ply",
];
/// A child's age in `tokens`, a number up to 12 before "year old", "yr
/// old" or "yo", as whom it says the product is for: a baby at one, a kid
/// after.
fn child_age(tokens: &[Token]) -> Option<&'static str> {
    tokens.windows(2).enumerate().find_map(|(i, pair)| {
        let age = pair[0]
            .text
            .parse::<u8>()
            .ok()
            .filter(|age| (1..=12).contains(age))?;
        let said = match pair[1].text {
            "yo" => true,
            "year" | "years" | "yr" | "yrs" => tokens.get(i + 2).is_some_and(|t| t.text == "old"),
            _ => false,
        };
        said.then_some(if age == 1 { "baby" } else { "kids" })
    })
}

/// Whether WordNet knows `word` chiefly as a person's name ("stanley").
fn person_name(word: &str) -> bool {
    crate::rules::english::lookup(word).is_some_and(|info| info.person_name)
}

/// Prepositions: "for the bbq" names no maker.
const PREPOSITIONS: &[&str] = &[
    "for", "to", "in", "on", "at", "with", "from", "by", "into", "near", "under", "over", "about",
    "like", "of", "around", "before", "after",
];
/// How big a pack is: "the big bottle", "a family size bag".
const PACK_SIZES: &[&str] = &[
    "big", "bigger", "biggest", "small", "smaller", "large", "larger", "huge", "little", "giant",
    "jumbo", "family", "value", "bulk", "mini", "travel", "economy", "size", "sized",
];
/// Widths and fits after a number make it a shoe or suit size ("womens 8
/// wide", "40 regular") where they end the phrase; "10 wide mouth jars"
/// are ten.
const FITS: &[&str] = &["wide", "narrow", "regular", "long", "short", "tall"];
/// Words after a range of numbers that make it a time ("2-3 days"), not
/// a range of sizes.
const TIMES: &[&str] = &[
    "day", "days", "week", "weeks", "hour", "hours", "minute", "minutes", "business",
];
/// What gold and silver make: before these they are the material.
const JEWELLERY: &[&str] = &[
    "ring",
    "rings",
    "necklace",
    "necklaces",
    "earrings",
    "earring",
    "chain",
    "chains",
    "bracelet",
    "bracelets",
    "pendant",
    "pendants",
    "anklet",
    "anklets",
    "locket",
    "lockets",
    "brooch",
    "cufflinks",
    "studs",
    "hoops",
    "jewellery",
    "jewelry",
    "charm",
    "charms",
];
/// Words after a colour that say it is one: "champagne colour".
const COLOUR_WORDS: &[&str] = &[
    "color", "colour", "colored", "coloured", "colors", "colours", "shade", "tone",
];
/// Words before a number that make it something other than the product's
/// size: "sleeps 4", "spf 50".
const NOT_SIZED_AFTER: &[&str] = &["sleeps", "sleep", "seats", "spf", "fits"];
/// Words before "size" that name no size: "the right size", "plus size"
/// (an audience), "the big size".
const NOT_SIZE_NAMES: &[&str] = &[
    "right",
    "wrong",
    "correct",
    "same",
    "different",
    "plus",
    "true",
    "big",
    "bigger",
    "small",
    "smaller",
    "larger",
    "little",
    "huge",
    "perfect",
    "exact",
    "actual",
    "shoe",
    "ring",
    "screen",
];
/// Words before a number that make it a size or a model, not how many to
/// buy: "size 6x", "chanel no 5".
const NOT_COUNTED_AFTER: &[&str] = &["size", "sz", "no", "number", "age", "ages"];
/// Containers whose size a number after "of" gives ("a pack of 2", "a set
/// of 6 glasses"): that number is no quantity either.
const COUNT_CONTAINERS: &[&str] = &[
    "pack", "packs", "set", "sets", "box", "boxes", "case", "bundle", "bag", "carton", "package",
];
/// What a product comes in or as, before "of": "3 bags of rice", "a
/// bottle of olive oil", "2 tubes of toothpaste".
const CONTAINERS: &[&str] = &[
    "bag",
    "bags",
    "bottle",
    "bottles",
    "box",
    "boxes",
    "can",
    "cans",
    "tube",
    "tubes",
    "jar",
    "jars",
    "packet",
    "packets",
    "carton",
    "cartons",
    "roll",
    "rolls",
    "sheet",
    "sheets",
    "tin",
    "tins",
    "tub",
    "tubs",
    "pouch",
    "pouches",
    "crate",
    "crates",
    "case",
    "cases",
    "loaf",
    "loaves",
    "bunch",
    "bunches",
    "container",
    "containers",
    "bucket",
    "buckets",
    "sack",
    "sacks",
    "jug",
    "jugs",
    "ream",
    "reams",
    "spool",
    "spools",
    "canister",
    "canisters",
    // How a book comes: "a hardback copy of project hail mary".
    "copy",
    "copies",
    "hardback",
    "hardbacks",
    "paperback",
    "paperbacks",
];
/// A function word mistyped as another word, or too short for the fuzzy
/// matcher ("i wont a hoodie", "were is my order", "by me a lamp", "i ned a
/// charger"), corrected only where the words around it make the fix plain.
struct ContextTypo {
    typo: &'static str,
    fix: &'static str,
    /// Words that may come before it; "" is the start of the request.
    previous: &'static [&'static str],
    /// Words that may come after it; empty for any.
    next: &'static [&'static str],
}

impl ContextTypo {
    fn fits(&self, previous: &str, next: &str) -> bool {
        self.previous.contains(&previous) && (self.next.is_empty() || self.next.contains(&next))
    }
}

const SUBJECTS: &[&str] = &["i", "we", "u", "you", "really", "just", "still", "also"];
/// Words before a verb in "-ing" ("i am looking", "im searching").
const BEING: &[&str] = &[
    "am", "im", "i'm", "are", "we're", "were", "was", "been", "be", "is",
];
/// Words that open the object of "want" or "buy".
const OBJECT_OPENINGS: &[&str] = &[
    "a", "an", "some", "the", "two", "three", "four", "five", "new", "more", "another", "one",
    "this", "that", "these", "those", "me", "us", "him", "her", "them", "my",
];
const CONTEXT_TYPOS: &[ContextTypo] = &[
    // "whre is my oder": too short for the fuzzy matcher.
    ContextTypo {
        typo: "oder",
        fix: "order",
        previous: &["my", "the", "our", "your", "ur", "this", "that", "an", "to"],
        next: &[],
    },
    // "oder some ibuprofen pls": the verb, before its object.
    ContextTypo {
        typo: "oder",
        fix: "order",
        previous: &[
            "", "pls", "please", "plz", "you", "u", "and", "just", "then",
        ],
        next: OBJECT_OPENINGS,
    },
    ContextTypo {
        typo: "wont",
        fix: "want",
        previous: SUBJECTS,
        next: OBJECT_OPENINGS,
    },
    ContextTypo {
        typo: "wont",
        fix: "want",
        previous: SUBJECTS,
        next: &["to"],
    },
    ContextTypo {
        typo: "wnat",
        fix: "want",
        previous: SUBJECTS,
        next: &[],
    },
    ContextTypo {
        typo: "ned",
        fix: "need",
        previous: SUBJECTS,
        next: &[],
    },
    ContextTypo {
        typo: "were",
        fix: "where",
        previous: &["", "so", "and", "but", "hey", "hi", "ok", "okay"],
        next: &[
            "is", "are", "r", "can", "do", "does", "did", "should", "could", "would", "will", "to",
        ],
    },
    ContextTypo {
        typo: "by",
        fix: "buy",
        previous: &[
            "", "please", "pls", "plz", "to", "you", "u", "and", "then", "just",
        ],
        // Not "the": "by the way".
        next: &[
            "me", "us", "him", "her", "them", "a", "an", "some", "two", "three", "new", "more",
            "another",
        ],
    },
    // "im locking for", "i am looming for": a verb one letter off
    // "looking" before "for".
    ContextTypo {
        typo: "locking",
        fix: "looking",
        previous: BEING,
        next: &["for"],
    },
    ContextTypo {
        typo: "looming",
        fix: "looking",
        previous: BEING,
        next: &["for"],
    },
    ContextTypo {
        typo: "loking",
        fix: "looking",
        previous: BEING,
        next: &["for"],
    },
    ContextTypo {
        typo: "seraching",
        fix: "searching",
        previous: BEING,
        next: &["for"],
    },
    // "wat wireless routers r there"
    ContextTypo {
        typo: "wat",
        fix: "what",
        previous: &["", "so", "and", "but", "hey", "hi", "ok", "okay"],
        next: &[],
    },
    ContextTypo {
        typo: "yo",
        fix: "you",
        previous: &["can", "could", "would", "will", "do", "did", "are"],
        next: &[],
    },
];

/// Words a request opens with before its verb ("please get...", "can you
/// get...").
const REQUEST_OPENINGS: &[&str] = &[
    "please", "pls", "plz", "you", "u", "and", "then", "also", "just", "ok", "okay", "hey", "now",
    "go",
];
const SEGMENT_BREAKS: &[&str] = &["and", ",", "plus", "also"];
/// Words that end a request's object noun phrase ("a pendant light | to go
/// in my dining room", "popcorn | that is gluten free").
const PHRASE_ENDS: &[&str] = &[
    ",", "and", "or", "for", "to", "in", "with", "that", "which", "who", "from", "on", "at", "by",
    "into", "near", "under", "over", "below", "above", "without", "because", "so", "but", "if",
    "as", "than", "like", "about", "while", "when", "where", "it", "they", "is", "are", "r",
    "should", "must", "can", "could", "would", "will", "do", "does", "did", "has", "have", "had",
    "was", "were", "compared", "vs", "versus", "that's", "thats", "please", "pls", "plz", "thanks",
    "thx", "cheers",
];
/// Words that make a text a sentence rather than a bare product phrase
/// ("the timer should have 10 minutes", "apple cider has been in my
/// fridge"): a bare phrase of open vocabulary is a search only without them.
const CLAUSE_WORDS: &[&str] = &[
    "is", "are", "was", "were", "be", "been", "am", "has", "have", "had", "do", "does", "did",
    "should", "would", "could", "can", "will", "shall", "may", "might", "must", "i", "you", "me",
    "we", "he", "she", "they", "it", "my", "your", "our", "their", "his", "her", "what", "how",
    "where", "which", "who", "why", "when", "i'm", "you're", "it's", "let", "tell",
];
/// How much of a WordNet noun's meaning must be a thing (artifact, food,
/// substance...) for it to head a product phrase: "popcorn" 9, "table" 5,
/// "ride" 3, "break" 0 (see `rules/english/README.md`).
const THING_SHARE: u8 = 4;
/// How much a thing the head of a definite object right after a trigger
/// must be: "cancel the toaster" (3) is one, "give me the date" (0) is not.
const DEFINITE_THING_SHARE: u8 = 3;
/// A word this much a thing makes its phrase a product wherever it stands
/// in it ("microphone" 9), not only as the head.
const STRONG_THING_SHARE: u8 = 7;

/// A price rule match: the matched range, the amounts in minor units and
/// the currency code.
type PriceMatch = (
    std::ops::Range<usize>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

/// What a request carries besides its trigger words (see
/// [`Evidence`]).
#[derive(Debug, Clone, Copy)]
struct Found {
    /// A product the shopper does not already have.
    product: bool,
    /// A product, possessed ("my socks") or not.
    owned_product: bool,
    price: bool,
    attribute: bool,
}

/// A word (or comma) of the working text, borrowed from it: tokens are
/// made several times per request, and owning them cost an allocation each.
#[derive(Debug, Clone, Copy)]
struct Token<'t> {
    text: &'t str,
}

/// The lexicon meanings of a phrase, without copying them: all of a
/// phrase's hits, or only those of one slot (the product hits of its
/// singular, the audience hits of its possessive).
#[derive(Debug, Clone, Copy)]
struct Hits<'r> {
    all: &'r [LexHit],
    only: Option<LexSlot>,
}

impl<'r> Hits<'r> {
    const NONE: Hits<'static> = Hits::every(&[]);

    /// Every meaning of the phrase.
    const fn every(all: &'r [LexHit]) -> Hits<'r> {
        Hits { all, only: None }
    }

    fn iter(self) -> impl Iterator<Item = &'r LexHit> + Clone {
        self.all
            .iter()
            .filter(move |hit| self.only.is_none_or(|slot| hit.slot == slot))
    }

    fn is_empty(self) -> bool {
        self.iter().next().is_none()
    }

    fn len(self) -> usize {
        self.iter().count()
    }

    fn first(self) -> Option<&'r LexHit> {
        self.iter().next()
    }
}

impl Parser {
    pub fn new(rules: Arc<CompiledRules>) -> Parser {
        Parser { rules }
    }

    pub fn rules(&self) -> &CompiledRules {
        &self.rules
    }

    /// A parser whose lexicon also knows the catalog's vocabulary (brands,
    /// product types, colours...): see [`CompiledRules::extend_lexicon`].
    pub fn with_catalog_terms<I, S>(mut rules: CompiledRules, terms: I) -> Parser
    where
        I: IntoIterator<Item = (LexSlot, S)>,
        S: AsRef<str>,
    {
        rules.extend_lexicon(terms);
        Parser::new(Arc::new(rules))
    }

    /// Parses `text`. Never fails: unknown input is intent `none`.
    pub fn parse(&self, text: &str) -> Intent {
        let mut intent = Intent {
            text: text.to_string(),
            intent: IntentKind::None,
            items: Vec::new(),
            max_price: None,
            min_price: None,
            currency: None,
            trace: Vec::new(),
            diagnostics: Vec::new(),
        };
        let mut lower: String = text
            .chars()
            .take(MAX_INPUT_CHARS)
            .collect::<String>()
            .to_lowercase();
        if text.chars().count() > MAX_INPUT_CHARS {
            intent.diagnostics.push(format!(
                "request cut to its first {MAX_INPUT_CHARS} characters"
            ));
        }
        lower = lower.replace(['\u{2019}', '\u{2018}', '`'], "'");
        if lower.trim().is_empty() {
            intent.diagnostics.push("the request is empty".into());
            return intent;
        }

        let names = self.capitalised_names(text);
        let corrected = self.correct_typos(&lower, &names, &mut intent.trace);
        let mut working = money_numbers_to_digits(&corrected, &self.rules);
        self.extract_prices(&mut working, &mut intent);
        let benefactive = self.indirect_object(&mut working, &mut intent.trace);
        let before_intent = working.clone();
        let mut evidence = None;
        self.classify_intent(&mut working, &mut intent, &mut evidence);

        // For an existing order, the trigger phrase often holds the product
        // ("has my hoodie shipped"): read items from the text before it was
        // cut; only known products are kept below.
        let about_an_order = matches!(
            intent.intent,
            IntentKind::OrderStatus | IntentKind::CancelOrder
        );
        let read = if about_an_order {
            &before_intent
        } else {
            &working
        };
        let tokens = self.join_names(read, tokenize(read), &names);
        for segment in self.segments(&tokens) {
            let item = self.parse_segment(segment, &mut intent.trace, about_an_order);
            if item != ItemRequest::default() {
                intent.items.push(item);
            }
        }
        // Items without a product (a stray "in medium" after the product
        // segment) give their slots to the item before them.
        let mut merged: Vec<ItemRequest> = Vec::new();
        for item in intent.items.drain(..) {
            match merged.last_mut() {
                Some(previous) if item.product.is_none() => absorb(previous, item),
                _ => merged.push(item),
            }
        }
        intent.items = merged;
        if let Some(audience) = benefactive {
            for item in &mut intent.items {
                item.audience.get_or_insert_with(|| audience.clone());
            }
        }

        if intent.intent == IntentKind::None {
            let first_word = before_intent.split_whitespace().next().unwrap_or("");
            // A lexicon product must be wanted, not owned ("my socks"); an
            // open-vocabulary one must stand as a bare phrase.
            let mut names_product = || {
                if intent.items.iter().any(|item| item.product_type.is_some()) {
                    evidence
                        .get_or_insert_with(|| self.evidence(&before_intent, &intent))
                        .product
                } else {
                    // A price and what it should be like ("..., orange,
                    // womens 28, budget 60") say it is shopping, so a head
                    // no list knows ("capris") is enough.
                    // So do two of them ("ceramic planters large", "baby
                    // swaddles muslin").
                    let attributes = intent
                        .items
                        .iter()
                        .map(|item| {
                            [
                                item.color.is_some(),
                                item.size.is_some(),
                                item.audience.is_some(),
                                item.material.is_some(),
                                item.brand.is_some(),
                            ]
                            .into_iter()
                            .filter(|&said| said)
                            .count()
                        })
                        .max()
                        .unwrap_or(0);
                    let priced = intent.max_price.is_some() || intent.min_price.is_some();
                    let described = (priced && attributes >= 1) || attributes >= 2;
                    intent.items.iter().any(|item| item.product.is_some())
                        && self.bare_product_phrase(&before_intent, described)
                }
            };
            if intent
                .trace
                .iter()
                .all(|f| f.rule != "veto" && !f.rule.ends_with("(vetoed)"))
                && !NOT_A_PRODUCT_QUERY.contains(&first_word)
                && !tells_of_acquired(&before_intent)
                && names_product()
            {
                // A bare product phrase ("gray turtleneck, medium") is a search:
                // Concierge shows offers but does not buy without a buying verb.
                // Asked for politely, counted or needed by a time, it is an
                // errand ("tide pods the big tub plz", "kitty litter, one
                // bag", "rain boots size 11, need them by monday").
                intent.intent = if self.errand(&before_intent, &intent) {
                    IntentKind::Buy
                } else {
                    IntentKind::Search
                };
                intent.trace.push(Fired {
                    rule: "fallback_product_only".into(),
                    matched: intent.items[0].product.clone().unwrap_or_default(),
                });
            } else {
                intent
                    .diagnostics
                    .push("no intent rule matched and no known product was named".into());
            }
        }
        if intent.intent == IntentKind::None {
            // Slots found in a request that is not about shopping are noise
            // ("what's the weather in red deer", "convert 50 euros").
            intent.items.clear();
            intent.max_price = None;
            intent.min_price = None;
            intent.currency = None;
        }
        if matches!(
            intent.intent,
            IntentKind::OrderStatus | IntentKind::CancelOrder
        ) {
            // About an existing order: a known product names which one, or
            // a phrase whose head is a thing ("where are my vitamins");
            // leftover words ("placed yesterday") are not a product.
            intent.items.retain(|item| {
                item.product_type.is_some()
                    || item.product.as_deref().is_some_and(names_owned_thing)
            });
        }
        if matches!(intent.intent, IntentKind::Buy | IntentKind::Search)
            && intent.items.iter().all(|i| i.product.is_none())
        {
            intent.diagnostics.push("no product was named".into());
        }
        intent
    }

    /// Takes the indirect object out of "get my husband a hoodie", "buy her
    /// some socks", "pick me up a bag of coffee", "get sarah a scarf", so
    /// that the buying rules see "get a hoodie"; returns the audience the
    /// lexicon gives "for my husband" ("men"), if any. A name (a word that
    /// is not a pronoun or a possessive phrase) counts only right after a
    /// request's opening ("get sarah a...", "can you get sarah a...").
    fn indirect_object(&self, working: &mut String, trace: &mut Vec<Fired>) -> Option<String> {
        const VERBS: [&str; 5] = ["get", "buy", "order", "grab", "pick"];
        if !VERBS.iter().any(|verb| working.contains(verb)) {
            return None;
        }
        let spans = word_spans(working);
        let text = working.as_str();
        let word = |i: usize| spans.get(i).map(|&(start, end)| &text[start..end]);
        let rules = &*self.rules;
        let found = (0..spans.len()).find_map(|i| {
            let verb = word(i)?;
            let pick_up = verb == "pick";
            if !VERBS.contains(&verb) {
                return None;
            }
            let object = i + 1 + usize::from(pick_up && word(i + 1) == Some("up"));
            let first = word(object)?;
            let width = match first {
                "him" | "her" | "them" => 1,
                "me" | "us" if pick_up && word(object + 1) == Some("up") => 1,
                "my" | "our" => 2,
                _ => {
                    let opening =
                        i == 0 || word(i - 1).is_some_and(|w| REQUEST_OPENINGS.contains(&w));
                    let name = first.chars().all(char::is_alphabetic)
                        && !rules.stopwords.contains(first)
                        && !POSSESSIVES.contains(&first)
                        && rules.lexicon.lookup(first).is_empty()
                        && crate::rules::english::lookup(first).is_none_or(|info| {
                            info.noun && info.thing_share == 0 && !info.adjective && !info.verb
                        });
                    if !(opening && name) {
                        return None;
                    }
                    1
                }
            };
            // "pick me up a ...": the particle after the object goes too.
            let particle = usize::from(pick_up && matches!(first, "me" | "us"));
            let after = word(object + width + particle)?;
            let opens_object = matches!(
                after,
                "a" | "an" | "some" | "new" | "another" | "two" | "three" | "four" | "five"
            ) || after.chars().all(|c| c.is_ascii_digit());
            if !opens_object {
                return None;
            }
            Some((object, width, particle))
        })?;
        let (object, width, particle) = found;
        let phrase = text[spans[object].0..spans[object + width - 1].1].to_string();
        let audience = rules
            .lexicon
            .lookup(&format!("for {phrase}"))
            .iter()
            .find(|hit| hit.slot == LexSlot::Audience)
            .map(|hit| hit.canonical.clone());
        // "pick me up a": keep "pick up", drop "me".
        let cut = if particle == 1 {
            spans[object].0..spans[object + 1].0
        } else {
            spans[object].0..spans[object + width].0
        };
        working.replace_range(cut, "");
        trace.push(Fired {
            rule: "indirect_object".into(),
            matched: phrase,
        });
        audience
    }

    /// Replaces each unknown word by its unique closest vocabulary word.
    fn correct_typos(&self, lower: &str, names: &[String], trace: &mut Vec<Fired>) -> String {
        let rules = &*self.rules;
        let mut out = String::with_capacity(lower.len());
        let mut last = 0;
        let mut previous = "";
        for (start, end) in word_spans(lower) {
            let word = &lower[start..end];
            let before = std::mem::replace(&mut previous, word);
            // The next word is looked for only after one of the few typos.
            let in_context = CONTEXT_TYPOS.iter().find(|typo| {
                typo.typo == word && {
                    let rest = &lower[end..];
                    let next = word_spans(rest).first().map_or("", |&(s, e)| &rest[s..e]);
                    typo.fits(before, next)
                }
            });
            if let Some(typo) = in_context {
                out.push_str(&lower[last..start]);
                out.push_str(typo.fix);
                last = end;
                trace.push(Fired {
                    rule: "typo".into(),
                    matched: format!("{word} -> {}", typo.fix),
                });
                continue;
            }
            // An English word WordNet knows is no typo, even when it is near a
            // vocabulary word: "maple" is not "male", "wifi" not "wife",
            // "woven" not "women".
            if word.len() < crate::rules::fuzzy::MIN_TYPO_LEN
                || rules.known_words.contains(word)
                || rules.brand_words.contains(word)
                || !word.chars().all(|c| c.is_alphabetic())
                || crate::rules::english::is_word(word)
                || names
                    .iter()
                    .any(|name| name.split(' ').any(|part| part == word))
            {
                continue;
            }
            // Plurals of known words are not typos.
            let stem = word
                .strip_suffix("es")
                .filter(|stem| rules.known_words.contains(*stem))
                .or_else(|| word.strip_suffix('s'));
            if stem.is_some_and(|stem| rules.known_words.contains(stem)) {
                continue;
            }
            // A typo in a plural: correct the singular, keep the "s"
            // ("swetters" -> "sweaters").
            let whole = rules.fuzzy.correct(word);
            let singular = stem.and_then(|stem| rules.fuzzy.correct(stem));
            let fixed = match (whole, singular) {
                (Some((fixed, distance)), Some((_, stem_distance)))
                    if distance > 0 && distance <= stem_distance =>
                {
                    fixed.to_string()
                }
                (_, Some((fixed, distance))) if distance > 0 => {
                    if fixed.ends_with('s') {
                        fixed.to_string()
                    } else {
                        format!("{fixed}s")
                    }
                }
                (Some((fixed, distance)), _) if distance > 0 => fixed.to_string(),
                _ => continue,
            };
            out.push_str(&lower[last..start]);
            out.push_str(&fixed);
            last = end;
            trace.push(Fired {
                rule: "typo".into(),
                matched: format!("{word} -> {fixed}"),
            });
        }
        out.push_str(&lower[last..]);
        out
    }

    fn extract_prices(&self, lower: &mut String, intent: &mut Intent) {
        let matched = self.rules.price_set.as_ref().map(|set| set.matches(lower));
        for (rule_index, rule) in self.rules.prices.iter().enumerate() {
            if matched.as_ref().is_some_and(|m| !m.matched(rule_index)) {
                continue;
            }
            let found: Vec<PriceMatch> = rule
                .pattern
                .captures_iter(lower)
                .map(|caps| {
                    let whole = caps.get(0).map(|m| m.range()).unwrap_or(0..0);
                    let amount = caps.name("amount").and_then(|m| parse_amount(m.as_str()));
                    let amount2 = caps.name("amount2").and_then(|m| parse_amount(m.as_str()));
                    let currency = ["symbol", "word", "code", "symbol2", "word2"]
                        .iter()
                        .filter_map(|group| caps.name(group))
                        .find_map(|m| self.rules.currency_code(m.as_str()).map(str::to_string));
                    (whole, amount, amount2, currency)
                })
                .collect();
            for (range, amount, amount2, currency) in found {
                let Some(amount) = amount else { continue };
                let matched = lower[range.clone()].trim().to_string();
                let applied = match rule.bound {
                    PriceBound::Max if intent.max_price.is_none() => {
                        intent.max_price = Some(amount);
                        true
                    }
                    PriceBound::Min if intent.min_price.is_none() => {
                        intent.min_price = Some(amount);
                        true
                    }
                    PriceBound::Range
                        if intent.max_price.is_none() && intent.min_price.is_none() =>
                    {
                        let high = amount2.unwrap_or(amount);
                        intent.min_price = Some(amount.min(high));
                        intent.max_price = Some(amount.max(high));
                        true
                    }
                    _ => false,
                };
                if !applied {
                    continue;
                }
                if intent.currency.is_none() {
                    intent.currency = currency;
                }
                intent.trace.push(Fired {
                    rule: rule.name.clone(),
                    matched,
                });
                blank(lower, range);
            }
        }
    }

    /// What the request carries besides its trigger words, for rules that
    /// `require` evidence.
    fn evidence(&self, text: &str, intent: &Intent) -> Found {
        let tokens = tokenize(text);
        let mut product = false;
        let mut owned_product = false;
        let mut attribute = false;
        for i in 0..tokens.len() {
            // Something the shopper already has ("my phone", "your
            // speaker") is not something they are shopping for.
            let possessed = i
                .checked_sub(1)
                .is_some_and(|p| POSSESSIVES.contains(&tokens[p].text))
                || i.checked_sub(2)
                    .is_some_and(|p| POSSESSIVES.contains(&tokens[p].text));
            // "how much is the weber spirit grill", "is the playmobil fire
            // station still available", "pampers pure": a well-known
            // maker's name before another word names a product.
            let next_word = tokens.get(i + 1).map(|t| t.text);
            if !possessed
                && (self.brand_word(tokens[i].text) || self.foreign_brand(tokens[i].text))
                && next_word.is_some_and(|next| {
                    next.chars().all(char::is_alphabetic)
                        && !self.rules.stopwords.contains(next)
                        && !PREPOSITIONS.contains(&next)
                })
            {
                product = true;
            }
            for n in 1..=self.span_limit(&tokens[i..]) {
                let modifier = tokens
                    .get(i + n)
                    .is_some_and(|next| NOT_PRODUCT_HEADS.contains(&next.text));
                for hit in self.lookup(&tokens[i..i + n]).iter() {
                    match hit.slot {
                        LexSlot::Product if modifier => {}
                        LexSlot::Product if possessed => owned_product = true,
                        LexSlot::Product => product = true,
                        // A lone letter is a size only in context; it is not
                        // evidence of shopping.
                        LexSlot::Size if n == 1 && tokens[i].text.len() == 1 => {}
                        _ => attribute = true,
                    }
                }
            }
        }
        Found {
            product,
            owned_product: owned_product || product,
            price: intent.max_price.is_some() || intent.min_price.is_some(),
            attribute,
        }
    }

    fn classify_intent(
        &self,
        lower: &mut String,
        intent: &mut Intent,
        evidence: &mut Option<Found>,
    ) {
        // One scan tells which patterns match at all; only those run again
        // for their positions.
        let matched = self.rules.intent_set.as_ref().map(|set| set.matches(lower));
        for (rule_index, rule) in self.rules.intents.iter().enumerate() {
            let first = self
                .rules
                .intent_set_start
                .get(rule_index)
                .copied()
                .unwrap_or(0);
            // A pattern may name the words to cut with a `trigger` group, so
            // that "i want (2 cotton t-shirts)" keeps its object. Each
            // matching pattern is tried in turn: one whose cut leaves no
            // object ("... out there") yields to another that does ("whats
            // the cheapest printer out there").
            let hits: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = rule
                .patterns
                .iter()
                .enumerate()
                .filter_map(|(i, pattern)| {
                    if matched.as_ref().is_some_and(|m| !m.matched(first + i)) {
                        return None;
                    }
                    pattern.captures(lower).map(|caps| {
                        let whole = caps.get(0).map(|m| m.range()).unwrap_or(0..0);
                        let cut = caps
                            .name("trigger")
                            .map(|m| m.range())
                            .unwrap_or(whole.clone());
                        (whole, cut)
                    })
                })
                .collect();
            if hits.is_empty() {
                continue;
            }
            if let Some(veto) = rule.unless.iter().find_map(|p| p.find(lower)) {
                intent.trace.push(Fired {
                    rule: format!("{} (vetoed)", rule.name),
                    matched: veto.as_str().to_string(),
                });
                continue;
            }
            let satisfied = |cut: &std::ops::Range<usize>, evidence: &mut Option<Found>| {
                if rule.requires.is_empty() {
                    return true;
                }
                let found = *evidence.get_or_insert_with(|| self.evidence(lower, intent));
                rule.requires.iter().any(|need| match need {
                    Evidence::Product | Evidence::Thing => {
                        let min_share = u8::from(*need == Evidence::Thing);
                        found.product
                            // The object after the trigger ("i am looking
                            // for <a poster>"), else anywhere around it
                            // ("running shoes, i need them"). A question
                            // ("what are the best finance practices") asks
                            // about a thing only if its head is one in some
                            // sense.
                            || self.open_object_after_trigger(&lower[cut.end..], min_share)
                            || {
                                let mut object = lower.clone();
                                blank(&mut object, cut.clone());
                                self.open_object(&object, min_share, true)
                            }
                    }
                    Evidence::OwnedProduct => found.owned_product,
                    Evidence::Price => found.price,
                    Evidence::Attribute => found.attribute,
                })
            };
            let Some((range, cut)) = hits.into_iter().find(|(_, cut)| satisfied(cut, evidence))
            else {
                continue;
            };
            intent.intent = rule.intent;
            intent.trace.push(Fired {
                rule: rule.name.clone(),
                matched: lower[range.clone()].trim().to_string(),
            });
            if rule.intent == IntentKind::None {
                // An explicit "not shopping" rule: no fallback to search.
                intent.trace.push(Fired {
                    rule: "veto".into(),
                    matched: rule.name.clone(),
                });
            }
            blank(lower, cut);
            return;
        }
    }

    /// `tokens` of `text` with makers' names joined into one token each:
    /// names around an ampersand ([`Parser::join_ampersand_names`]) and
    /// the capitalised `names` the shopper typed ("wilder pines").
    fn join_names<'t>(
        &self,
        text: &'t str,
        tokens: Vec<Token<'t>>,
        names: &[String],
    ) -> Vec<Token<'t>> {
        let mut tokens = self.join_ampersand_names(text, tokens);
        for name in names {
            let parts: Vec<&str> = name.split(' ').collect();
            let Some(at) = tokens
                .windows(parts.len())
                .position(|window| window.iter().zip(&parts).all(|(t, p)| t.text == *p))
            else {
                continue;
            };
            let start = tokens[at].text.as_ptr() as usize;
            let last = tokens[at + parts.len() - 1].text;
            let end = last.as_ptr() as usize + last.len();
            let Some(begin) = start.checked_sub(text.as_ptr() as usize) else {
                continue;
            };
            let Some(span) = text.get(begin..begin + (end - start)) else {
                continue;
            };
            if span.split_whitespace().count() == parts.len() {
                tokens[at] = Token { text: span };
                tokens.drain(at + 1..at + parts.len());
            }
        }
        tokens
    }

    /// `tokens` of `text` with names written around an ampersand joined
    /// into one ("kettle & crane", "ottoline & co", "willow & pine"): a
    /// maker's name, unless both words have a meaning in the rules or one
    /// is a colour, size or audience ("black & white" stays two colours).
    fn join_ampersand_names<'t>(&self, text: &'t str, tokens: Vec<Token<'t>>) -> Vec<Token<'t>> {
        // Where a word token starts in `text`; a comma token is no slice of
        // it.
        let offset = |token: &Token| {
            (token.text.as_ptr() as usize)
                .checked_sub(text.as_ptr() as usize)
                .filter(|&at| at + token.text.len() <= text.len())
        };
        // A word of the name: letters, no stopword, and no colour, size or
        // audience ("black & white", "mens & womens"); one of the two may
        // be a material or product word ("willow & pine").
        let word_of_name = |word: &str| {
            word.chars().all(char::is_alphabetic)
                && !self.rules.stopwords.contains(word)
                && self.rules.lexicon.lookup(word).iter().all(|hit| {
                    matches!(
                        hit.slot,
                        LexSlot::Material | LexSlot::Product | LexSlot::Brand
                    )
                })
        };
        let known = |word: &str| !self.rules.lexicon.lookup(word).is_empty();
        let mut joined: Vec<Token<'t>> = Vec::with_capacity(tokens.len());
        for token in tokens {
            let span = joined.last().and_then(|last| {
                let (start, next) = (offset(last)?, offset(&token)?);
                let between = text.get(start + last.text.len()..next)?;
                let first = last.text.rsplit(' ').next().unwrap_or(last.text);
                (between == " & "
                    && word_of_name(first)
                    && (COMPANY_WORDS.contains(&token.text)
                        || (word_of_name(token.text) && !(known(first) && known(token.text)))))
                .then_some(start..next + token.text.len())
            });
            match (joined.last_mut(), span) {
                (Some(last), Some(span)) => last.text = &text[span],
                _ => joined.push(token),
            }
        }
        joined
    }

    /// Lexicon meanings of a phrase, trying the singular of its last word
    /// for product types ("hoodies" -> "hoodie", "boxes" -> "box").
    fn lookup(&self, tokens: &[Token]) -> Hits<'_> {
        self.lookup_phrase(&join(tokens), tokens.len() == 1)
    }

    /// [`Parser::lookup`] of tokens already joined into `phrase`;
    /// `one_word` when they were a single token.
    fn lookup_phrase(&self, phrase: &str, one_word: bool) -> Hits<'_> {
        let lexicon = &self.rules.lexicon;
        let all = lexicon.lookup(phrase);
        if !all.is_empty() {
            return Hits::every(all);
        }
        // "navy-blue", "x-large": a hyphenated word may be a spaced phrase;
        // "medium-sized" is the size "medium".
        if one_word && phrase.contains('-') {
            let all = lexicon.lookup(&phrase.replace('-', " "));
            if !all.is_empty() {
                return Hits::every(all);
            }
            if let Some(head) = phrase
                .strip_suffix("-sized")
                .or_else(|| phrase.strip_suffix("-size"))
            {
                let all = lexicon.lookup(head);
                if all.iter().any(|hit| hit.slot == LexSlot::Size) {
                    return Hits::every(all);
                }
            }
        }
        for suffix in ["s", "es"] {
            if let Some(stem) = phrase.strip_suffix(suffix) {
                if stem.len() < 2 {
                    continue;
                }
                let hits = Hits {
                    all: lexicon.lookup(stem),
                    only: Some(LexSlot::Product),
                };
                if !hits.is_empty() {
                    return hits;
                }
            }
        }
        // "for my sons team", "my nephew's birthday": whose it is says
        // who it is for.
        for suffix in ["'s", "s'", "s"] {
            if let Some(stem) = phrase.strip_suffix(suffix) {
                let hits = Hits {
                    all: lexicon.lookup(stem),
                    only: Some(LexSlot::Audience),
                };
                if stem.len() >= 2 && !hits.is_empty() {
                    return hits;
                }
            }
        }
        Hits::NONE
    }

    /// Splits tokens at conjunctions, but only where the part after the break
    /// names a product of its own ("gray and navy hoodie" stays whole).
    fn segments<'s, 't>(&self, tokens: &'s [Token<'t>]) -> Vec<&'s [Token<'t>]> {
        let mut segments = Vec::new();
        let mut start = 0;
        for (index, token) in tokens.iter().enumerate() {
            if !SEGMENT_BREAKS.contains(&token.text) || index == start {
                continue;
            }
            let before = &tokens[start..index];
            let next_break = tokens[index + 1..]
                .iter()
                .position(|t| SEGMENT_BREAKS.contains(&t.text))
                .map(|p| index + 1 + p)
                .unwrap_or(tokens.len());
            let after = &tokens[index + 1..next_break];
            // "dog food, the big 30 lb bag": how it comes is no second
            // product.
            let packaging_only = after.iter().all(|t| {
                let word = t.text;
                self.rules.stopwords.contains(word)
                    || CONTAINERS.contains(&word)
                    || COUNT_CONTAINERS.contains(&word)
                    || COUNT_UNITS.contains(&word)
                    || PACK_SIZES.contains(&word)
                    || measure_unit(word)
                    || word.starts_with(|c: char| c.is_ascii_digit())
                    || number_word(word).is_some()
            });
            if self.names_product(before) && self.names_product(after) && !packaging_only {
                segments.push(before);
                start = index + 1;
            }
        }
        segments.push(&tokens[start..]);
        segments
    }

    /// How many words starting at `tokens[0]` can still form a lexicon
    /// phrase: the n-gram grows only while it is a prefix of some phrase, so
    /// that a word no phrase starts with costs one lookup, not one per
    /// n-gram length.
    fn span_limit(&self, tokens: &[Token]) -> usize {
        let lexicon = &self.rules.lexicon;
        let max = lexicon.max_phrase_words.max(1).min(tokens.len());
        if max <= 1 {
            return max;
        }
        let mut phrase = String::with_capacity(32);
        let mut limit = 1;
        for (n, token) in tokens.iter().enumerate().take(max - 1) {
            if n > 0 {
                phrase.push(' ');
            }
            phrase.push_str(token.text);
            if !lexicon.is_prefix(&phrase) {
                break;
            }
            limit = n + 2;
        }
        limit
    }

    fn names_product(&self, tokens: &[Token]) -> bool {
        (0..tokens.len()).any(|i| {
            (1..=self.span_limit(&tokens[i..])).any(|n| {
                self.lookup(&tokens[i..i + n])
                    .iter()
                    .any(|hit| hit.slot == LexSlot::Product)
            })
        })
    }

    /// Whether `word`, outside the lexicon, can head a product phrase: a
    /// WordNet noun with at least `min_share` tenths of its meaning a thing
    /// ("popcorn" 9, "table" 5, "book" 1, "idea" 0), or, when `unknown_ok`,
    /// a word no list knows (a brand or a model: "mivofun", "ps5").
    fn open_product_word(&self, word: &str, min_share: u8, unknown_ok: bool) -> bool {
        if word.len() < 2
            || !word.chars().any(char::is_alphabetic)
            || self.rules.stopwords.contains(word)
            || NOT_PRODUCT_HEADS.contains(&word)
            || POSSESSIVES.contains(&word)
            || NEGATIONS.contains(&word)
            || CLAUSE_WORDS.contains(&word)
        {
            return false;
        }
        if self.rules.product_nouns.contains(word) {
            return true;
        }
        // "binocular" is only an adjective to WordNet, "binoculars" a thing.
        let info = match crate::rules::english::lookup(word) {
            Some(info) if !info.noun => {
                crate::rules::english::lookup(&format!("{word}s")).or(Some(info))
            }
            info => info,
        };
        match info {
            Some(info) => info.noun && info.thing_share >= min_share,
            None => {
                unknown_ok
                    && word.len() >= 3
                    && !self.rules.known_words.contains(word)
                    && word.chars().all(|c| c.is_alphanumeric() || c == '-')
                    && !word.chars().all(|c| c.is_ascii_digit())
            }
        }
    }

    /// Where a maker's name stands as a brand, as a span of tokens: at the
    /// start of the chosen product phrase `chosen`, before at least one more
    /// word ([`Parser::opening_brand`]: "zorblax fidget cubes", "logitech mx
    /// master mouse", "stanley tumbler"; not "paraben free ..."), or alone, in
    /// another run of `runs`, after a comma, "from", "by" or "the", at the
    /// end or before a hedge ("a vacuum cleaner, dyson preferably", "a tent
    /// from coleman", "detergent, get the tide", "the charmin one").
    fn unknown_brand(
        &self,
        tokens: &[Token],
        runs: &[(usize, usize)],
        chosen: Option<(usize, usize)>,
    ) -> Option<(usize, usize)> {
        if let Some((start, end)) = chosen {
            let name_like = |w: &str| {
                self.maker_word(w)
                    || COMPANY_WORDS.contains(&w)
                    || FIRM_WORDS.contains(&w)
                    || TITLES.contains(&w)
            };
            if maker_named_alone(tokens, start, end)
                && tokens[start..end].iter().all(|t| name_like(t.text))
                && self.lookup(&tokens[start..end]).is_empty()
            {
                return Some((start, end));
            }
            if let Some(len) = self.opening_brand(&tokens[start..end]) {
                return Some((start, start + len));
            }
            // "a tape measure stanley", "dog food purina": a maker's name
            // closing the request.
            let last = tokens[end - 1].text;
            if end == tokens.len()
                && end - start >= 2
                && (self.brand_word(last) || person_name(last))
                && self.rules.lexicon.lookup(last).is_empty()
            {
                return Some((end - 1, end));
            }
            // "a lodge cast iron skillet", "a zorblax red hoodie": the maker
            // before the product's material or colour.
            let mut at = start;
            while at > 0 {
                // "the stanley 40 oz tumblers": a measure too.
                let measure = |n: usize| {
                    crate::rules::measure::canonical(&join(&tokens[at - n..at])).is_some()
                };
                let described = (1..=at.min(2)).find(|&n| {
                    measure(n)
                        || self
                            .lookup(&tokens[at - n..at])
                            .iter()
                            .any(|hit| matches!(hit.slot, LexSlot::Material | LexSlot::Color))
                });
                match described {
                    Some(n) => at -= n,
                    None => break,
                }
            }
            if at < start
                && at > 0
                && runs.contains(&(at - 1, at))
                && (self.unknown_name(tokens[at - 1].text)
                    || self.known_brand(tokens[at - 1].text, tokens[at].text)
                    || self.maker_name(tokens[at - 1].text, tokens[at].text))
            {
                return Some((at - 1, at));
            }
            // "the brackenridge outfitters fleece vest": a name and a
            // company word.
            if at < start
                && at > 1
                && runs.contains(&(at - 2, at))
                && COMPANY_WORDS.contains(&tokens[at - 1].text)
                && (self.unknown_name(tokens[at - 2].text)
                    || self.maker_name(tokens[at - 2].text, tokens[at - 1].text))
            {
                return Some((at - 2, at));
            }
        }
        // What may follow a maker named on its own: nothing, a comma, "the
        // charmin one", "dyson preferably", "craftsman if possible",
        // "finish brand", "ryobi or similar".
        let closes = |at: usize| {
            tokens.get(at).is_none_or(|t| {
                matches!(
                    t.text,
                    "," | "if"
                        | "preferably"
                        | "ideally"
                        | "maybe"
                        | "or"
                        | "brand"
                        | "please"
                        | "pls"
                        | "plz"
                        // "bosch is fine", "kirkland would do"
                        | "is"
                        | "would"
                        | "will"
                )
            })
        };
        let stands_alone = |start: usize, end: usize| match tokens[start - 1].text {
            // "diapers size 4 pampers", "a tape measure stanley": a maker's
            // name ending the request.
            _ if end == tokens.len() && self.brand_word(tokens[start].text) => true,
            // "anything by ottoline & co in the jewellery section".
            "," => closes(end),
            "from" | "by" => {
                closes(end)
                    || tokens
                        .get(end)
                        .is_some_and(|t| PREPOSITIONS.contains(&t.text))
            }
            // "get the tide", "the charmin one"; not "for the bbq".
            "the" => {
                tokens
                    .get(end)
                    .is_some_and(|t| matches!(t.text, "one" | "ones"))
                    || (closes(end)
                        && start
                            .checked_sub(2)
                            .is_none_or(|i| !PREPOSITIONS.contains(&tokens[i].text)))
            }
            _ => false,
        };
        let alone = runs.iter().copied().find(|&(start, end)| {
            Some((start, end)) != chosen
                && end - start == 1
                && self.maker_word(tokens[start].text)
                && if start == 0 {
                    // "(get the) bounty one": the trigger took "the".
                    tokens
                        .get(end)
                        .is_some_and(|t| matches!(t.text, "one" | "ones"))
                } else {
                    stands_alone(start, end)
                }
        });
        // "from dr teal's", "from little hive farms": a title and a name,
        // or a name and a company word, after "from" or "by".
        let alone = alone.or_else(|| {
            runs.iter().copied().find_map(|(start, end)| {
                let named = start > 0
                    && Some((start, end)) != chosen
                    && matches!(tokens[start - 1].text, "from" | "by")
                    && (2..=3).contains(&(end - start))
                    && closes(end);
                let titled = TITLES.contains(&tokens[start].text) && end - start == 2;
                let company = COMPANY_WORDS.contains(&tokens[end - 1].text)
                    || FIRM_WORDS.contains(&tokens[end - 1].text);
                (named && (titled || company)).then_some((start, end))
            })
        });
        // A well-known brand that is no English word ("a bag of lavazza
        // whole bean coffee", "a filter for the brita pitcher", "the
        // cuisinart 6 quart slow cooker"), or one written in two words ("la
        // croix"), names the maker wherever it stands.
        alone.or_else(|| {
            let letters =
                |w: &str| w.chars().all(char::is_alphabetic) && !self.rules.stopwords.contains(w);
            // One buffer for every pair of words tried, on the parse path.
            let mut pair = String::new();
            (0..tokens.len()).find_map(|at| {
                let word = tokens[at].text;
                if let Some(next) = tokens.get(at + 1).map(|t| t.text) {
                    if letters(word) && letters(next) {
                        pair.clear();
                        pair.push_str(word);
                        pair.push_str(next);
                        if self.rules.known_brands.contains(pair.as_str()) {
                            return Some((at, at + 2));
                        }
                    }
                }
                self.foreign_brand(word).then_some((at, at + 1))
            })
        })
    }

    /// Whether `word` may be a maker's name standing on its own: a name no
    /// word list knows, a well-known brand or a person's name.
    fn maker_word(&self, word: &str) -> bool {
        self.unknown_name(word) || self.listed_brand(word) || person_name(word)
    }

    /// Whether `word` is a well-known brand of one word that is no English
    /// word and has no other meaning in the rule files: "lavazza", "brita".
    fn foreign_brand(&self, word: &str) -> bool {
        self.listed_brand(word)
            && !self.rules.stopwords.contains(word)
            && !self.rules.known_words.contains(word)
            && self.rules.lexicon.lookup(word).is_empty()
            && !crate::rules::english::is_word_form(word)
    }

    /// How many words of the product phrase `phrase` name its maker, leaving
    /// at least one for the product: a name no word list knows or a
    /// person's name, with a company word after it ("pawsome co harness"),
    /// or a title and a name ("mrs meyers hand soap", "dr browns bottles").
    fn opening_brand(&self, phrase: &[Token]) -> Option<usize> {
        let word = |i: usize| phrase.get(i).map(|t| t.text);
        let len = match (word(0)?, word(1)?) {
            (_, "free") => return None,
            (title, name)
                if TITLES.contains(&title)
                    && name.chars().all(char::is_alphabetic)
                    && !self.rules.stopwords.contains(name) =>
            {
                2
            }
            (first, next)
                if self.unknown_name(first)
                    || self.maker_name(first, next)
                    || self.known_brand(first, next)
                    || self.product_brand(first, next) =>
            {
                if COMPANY_WORDS.contains(&next) {
                    2
                } else {
                    1
                }
            }
            _ => return None,
        };
        (phrase.len() > len).then_some(len)
    }

    /// Whether `word`, opening a product phrase before `next`, is a
    /// person's name and so the maker's ("stanley tumbler", "bosch
    /// wipers"), not the first half of a thing WordNet names ("mason jar",
    /// "allen wrench").
    fn maker_name(&self, word: &str, next: &str) -> bool {
        !self.rules.stopwords.contains(word)
            && !self.rules.known_words.contains(word)
            && self.rules.lexicon.lookup(word).is_empty()
            && person_name(word)
            && crate::rules::english::lookup(&format!("{word}_{next}")).is_none()
    }

    /// Whether `word`, opening a product phrase before `next`, is a
    /// well-known brand of one word ("tide pods", "ninja air fryer") that
    /// no rule file gives another meaning and that does not begin a thing
    /// WordNet names ("ring binder"). As an English word it must be no
    /// adjective ("simple", "clear" describe more often than they name) and
    /// seldom a thing unless WordNet writes it as a name: "kleenex
    /// tissues", "tide pods", but not "parachute pants".
    fn known_brand(&self, word: &str, next: &str) -> bool {
        self.brand_word(word) && crate::rules::english::lookup(&format!("{word}_{next}")).is_none()
    }

    /// Whether `word`, opening a product phrase before `next`, is a
    /// well-known brand the lexicon reads as a product ("kleenex", "lego")
    /// and that names the maker of the product named after it: "kleenex
    /// tissues", "a lego building kit"; alone it stays the product. As an
    /// English word it must be a name ("razor blades" are blades).
    fn product_brand(&self, word: &str, next: &str) -> bool {
        let hits = self.rules.lexicon.lookup(word);
        self.listed_brand(word)
            && !hits.is_empty()
            && hits.iter().all(|hit| hit.slot == LexSlot::Product)
            && crate::rules::english::lookup(word).is_none_or(|info| info.name)
            && next.chars().all(char::is_alphabetic)
            && !self.rules.stopwords.contains(next)
    }

    /// Whether `word` is a well-known brand of one word that reads as a
    /// maker's name wherever it stands: no stopword, no word the rule files
    /// give another meaning, and as an English word no adjective and
    /// seldom a thing unless WordNet writes it as a name ("ball" is a ball).
    fn brand_word(&self, word: &str) -> bool {
        self.listed_brand(word)
            && !self.rules.stopwords.contains(word)
            && self.rules.lexicon.lookup(word).is_empty()
            && crate::rules::english::lookup(word).is_none_or(|info| {
                !info.adjective && (info.name || info.thing_share <= KNOWN_BRAND_THING_SHARE)
            })
    }

    /// Whether `word`, as typed ("levi's", "mr."), is one of the well-known
    /// brands of one word, whatever else it may be.
    fn listed_brand(&self, word: &str) -> bool {
        let brands = &self.rules.known_brands;
        if word.contains(['\'', '.']) {
            brands.contains(&word.replace(['\'', '.'], ""))
        } else {
            brands.contains(word)
        }
    }

    /// Whether `word` is a name no word list knows: no English word, no
    /// lexicon or rule word, letters (and inner hyphens: "oral-b") only.
    fn unknown_name(&self, word: &str) -> bool {
        if word.contains(' ') {
            // Joined by [`Parser::join_names`]: a name.
            return true;
        }
        word.len() >= 3
            && word.chars().all(|c| c.is_alphabetic() || c == '-')
            && !word.starts_with('-')
            && !word.ends_with('-')
            && !self.rules.stopwords.contains(word)
            && !self.rules.known_words.contains(word)
            && self.rules.lexicon.lookup(word).is_empty()
            && !crate::rules::english::is_word_form(word)
            && !crate::rules::english::in_dictionary(word)
    }

    /// Whether `text` (a request with its trigger words cut) names an
    /// object that can be bought. Its first noun phrase runs up to a
    /// preposition or clause ([`PHRASE_ENDS`]); it names a product when it
    /// holds a lexicon product, or when its head (last) word is an
    /// [`Parser::open_product_word`]: "an engineered wood end table", "gluten
    /// free popcorn", but not "a car rental", "an italian dinner idea",
    /// "my gps coordinates" (a possessive: something the shopper has) or
    /// "the date" (definite: something already there).
    fn open_object(&self, text: &str, min_share: u8, unknown_ok: bool) -> bool {
        self.read_open_object(&tokenize(text), min_share, unknown_ok, false)
    }

    /// [`Parser::open_object`] of the words right after a trigger ("i am
    /// looking for <a 12 by 16 inch poster>"): they must open the object,
    /// not a preposition ("get me <to vermont>"), and a definite object
    /// counts when its head is a thing ("i want <the easy to use spice
    /// mix>").
    fn open_object_after_trigger(&self, text: &str, min_share: u8) -> bool {
        // The object ends with its sentence: "get me a snack mix. pick the
        // honey one".
        let text = text
            .char_indices()
            .find(|&(i, c)| {
                matches!(c, '.' | ';' | '?' | '!')
                    && text[i + 1..].chars().next().is_none_or(char::is_whitespace)
            })
            .map_or(text, |(i, _)| &text[..i]);
        let tokens = tokenize(text);
        let opens_object = tokens
            .first()
            .is_some_and(|first| first.text == "for" || !PHRASE_ENDS.contains(&first.text));
        opens_object && self.read_open_object(&tokens, min_share, true, true)
    }

    fn read_open_object(
        &self,
        tokens: &[Token],
        min_share: u8,
        unknown_ok: bool,
        after_trigger: bool,
    ) -> bool {
        let mut started = false;
        let mut head: Option<&str> = None;
        let mut before_head: Option<&str> = None;
        // "the" opening the object, and "the" anywhere after it.
        let mut definite = false;
        let mut definite_later = false;
        // A word of the phrase that is nearly always a thing ("microphone",
        // "balm"), wherever it stands: "a usb microphone having ...".
        let mut thing_word = false;
        // A brand or a measure before the head: "post-it notes", "a 16 x 24
        // inch poster" are products though WordNet's notes and posters are
        // seldom things.
        let mut branded = false;
        let mut measured = false;
        let mut index = 0;
        while index < tokens.len() {
            let word = tokens[index].text;
            // "an easy to use carrying case", "ready to eat oysters": an
            // adjective's "to <verb>" describes the product; the phrase
            // goes on.
            if word == "to" && head.is_some_and(describing_word) {
                let verb = tokens
                    .get(index + 1)
                    .and_then(|t| crate::rules::english::lookup(t.text));
                if verb.is_some_and(|info| info.verb) {
                    index += 2;
                    continue;
                }
            }
            // "a 42 by 72 inch panel", "a 12 x 16 poster": one measure.
            if matches!(word, "by" | "x") && dimension_between(tokens, index) {
                index += 1;
                continue;
            }
            if PHRASE_ENDS.contains(&word) {
                // "purple, machine washable drapes", "a black and easy to
                // use eyeliner": a list of describing words before any noun
                // goes on to its noun.
                let list = matches!(word, "," | "and" | "or") && head.is_none_or(describing_word);
                if started && !list {
                    break;
                }
                index += 1;
                continue;
            }
            // "list your cheapest microwaves": after a trigger, the shop's
            // own things are as definite as "the".
            if after_trigger && !started && matches!(word, "your" | "ur") {
                definite = true;
                index += 1;
                continue;
            }
            if POSSESSIVES.contains(&word) {
                if started {
                    break;
                }
                return false;
            }
            let span = self.span_limit(&tokens[index..]);
            let hits = (1..=span)
                .rev()
                .map(|n| (n, self.lookup(&tokens[index..index + n])))
                .find(|(_, hits)| !hits.is_empty());
            if let Some((n, hits)) = hits {
                // "a phone number": a product word that only modifies a
                // head that is not for sale.
                let modifies = tokens
                    .get(index + n)
                    .is_some_and(|next| NOT_PRODUCT_HEADS.contains(&next.text));
                if !modifies && hits.iter().any(|hit| hit.slot == LexSlot::Product) {
                    return true;
                }
                branded |= head.is_none() && hits.iter().any(|hit| hit.slot == LexSlot::Brand);
                started = true;
                index += n;
                continue;
            }
            // "a patio set", "a dvr kit", "snack packs": a set named by
            // what it holds is a product, whatever that word is.
            if SET_HEADS.contains(&word) && head.is_some() {
                return true;
            }
            // "a tumbler 40 oz", "a 2 lb bag": a number and its unit are a
            // measure, never the head.
            let numeric = word.chars().all(|c| c.is_ascii_digit() || c == '.');
            if numeric
                && tokens
                    .get(index + 1)
                    .is_some_and(|next| measure_unit(next.text) || COUNT_UNITS.contains(&next.text))
            {
                measured = true;
                index += 2;
                continue;
            }
            // "galaxy tab s7", "galaxy note 10": a model code after a noun
            // names which one, the noun stays the head.
            let model_code = word.chars().any(|c| c.is_ascii_digit());
            if self.rules.stopwords.contains(word)
                || word.chars().all(|c| c.is_ascii_digit())
                || number_word(word).is_some()
                || (model_code && head.is_some())
            {
                if word == "the" {
                    if started {
                        definite_later = true;
                    } else {
                        definite = true;
                    }
                }
                index += 1;
                continue;
            }
            started = true;
            thing_word |= crate::rules::english::lookup(word)
                .is_some_and(|info| info.noun && info.thing_share >= STRONG_THING_SHARE);
            before_head = head;
            head = Some(word);
            index += 1;
        }
        // "give me the date", "i want the volume at level 4": a definite
        // object outside the lexicon is something already there, unless it
        // carries a name no list knows ("is the vitamix blender in stock":
        // a named product; "i want the shark robot vacuum": a maker's name)
        // or, right after the trigger, its head is a thing
        // ("i want the easy to use spice mix").
        let named = definite
            && !definite_later
            && (branded
                || tokens.iter().any(|t| self.unknown_name(t.text))
                || tokens[..index.min(tokens.len())].windows(2).any(|pair| {
                    self.known_brand(pair[0].text, pair[1].text)
                        || self.maker_name(pair[0].text, pair[1].text)
                }));
        if definite_later || (definite && !after_trigger && !named) {
            return false;
        }
        if definite && !named {
            return head
                .is_some_and(|head| self.open_product_word(head, DEFINITE_THING_SHARE, false));
        }
        if thing_word
            || ((branded || measured)
                && head.is_some_and(|head| self.open_product_word(head, 0, true)))
        {
            return true;
        }
        // A two-word compound WordNet knows ("cutting board", "eye mask")
        // speaks for its head.
        // "chicken coops": the plural of a compound too.
        let compound = before_head.zip(head).and_then(|(first, last)| {
            crate::rules::english::lookup(&format!("{first}_{last}")).or_else(|| {
                last.strip_suffix('s')
                    .and_then(|one| crate::rules::english::lookup(&format!("{first}_{one}")))
            })
        });
        if let Some(info) = compound {
            return info.noun && info.thing_share >= min_share.max(1);
        }
        // A noun WordNet never calls a thing names a product only with a
        // word before it ("collagen serum", "lip gloss"); alone ("i need
        // directions", "a restaurant") it does not.
        let min_share = if before_head.is_some() {
            min_share
        } else {
            min_share.max(1)
        };
        head.is_some_and(|head| self.open_product_word(head, min_share, unknown_ok))
    }

    /// Whether `text`, which no intent rule matched, is a bare product
    /// phrase ("gluten free popcorn", "red wool scarf under $30") rather than
    /// a sentence or a command ("create a new timer", "roll the dice",
    /// "hiya"): no clause words, no leading verb, and a thing WordNet or the
    /// lexicon knows in its first noun phrase. When the request is
    /// `described` (a price and a colour, size, audience or material), a
    /// head no list knows will do.
    fn bare_product_phrase(&self, text: &str, described: bool) -> bool {
        let tokens = tokenize(text);
        // "cricket bat for my boy": a possessive after "for" says whom it
        // is for, not a clause.
        let for_whom = |i: usize| {
            POSSESSIVES.contains(&tokens[i].text)
                && i > 0
                && tokens[i - 1].text == "for"
                && i + 2 <= tokens.len()
                && [&tokens[i - 1..i + 2], &tokens[i + 1..i + 2]]
                    .iter()
                    .any(|phrase| {
                        self.lookup(phrase)
                            .iter()
                            .any(|hit| hit.slot == LexSlot::Audience)
                    })
        };
        let clause = tokens
            .iter()
            .enumerate()
            .any(|(i, t)| CLAUSE_WORDS.contains(&t.text) && !for_whom(i));
        if clause {
            return false;
        }
        let Some(first) = tokens.first().map(|t| t.text) else {
            return false;
        };
        if self.lookup(&tokens[..1]).is_empty() {
            if let Some(info) = crate::rules::english::lookup(first) {
                let next_opens_object = tokens.get(1).is_some_and(|next| {
                    matches!(
                        next.text,
                        "a" | "an" | "the" | "some" | "all" | "any" | "to" | "up"
                    ) || next.text.chars().all(|c| c.is_ascii_digit())
                });
                if info.verb && (!info.noun || next_opens_object) {
                    return false;
                }
            }
        }
        if described {
            // Any noun will do then: WordNet knows "capris" only as an
            // island.
            return self.open_object(text, 0, true);
        }
        let known_thing = tokens.iter().any(|t| {
            crate::rules::english::lookup(t.text)
                .is_some_and(|info| info.noun && info.thing_share >= THING_SHARE)
        }) || self.names_product(&tokens);
        if known_thing && self.open_object(text, THING_SHARE, false) {
            return true;
        }
        // "kitchen scales", "video baby monitors", "ceramic planters": a
        // short phrase of words that ends in things in the plural, as a
        // shopping list is written.
        let words: Vec<&str> = tokens
            .iter()
            .map(|t| t.text)
            .take_while(|w| !PHRASE_ENDS.contains(w) && *w != ",")
            .collect();
        let plural_thing = words.last().is_some_and(|head| {
            head.len() > 3
                && head.ends_with('s')
                && !head.ends_with("ss")
                && crate::rules::english::words()
                    .get(head)
                    .is_none_or(|info| !info.verb && !info.adjective)
                && crate::rules::english::lookup(head)
                    .is_some_and(|info| info.noun && info.thing_share >= 1)
        });
        (2..=4).contains(&words.len())
            && words.len() + 2 >= tokens.len()
            && plural_thing
            && words.iter().all(|w| {
                !self.rules.stopwords.contains(*w)
                    && crate::rules::english::lookup(w)
                        .is_some_and(|info| info.noun || info.adjective)
            })
    }

    /// "kingsford charcoal", "cricut vinyl": a colour or material word right
    /// after a maker's name, closing the phrase, is the product itself when
    /// the maker is all the phrase names. Takes the word back from the slot
    /// it filled and returns its span.
    fn shade_after_maker(
        &self,
        tokens: &[Token],
        at: usize,
        item: &mut ItemRequest,
    ) -> Option<(usize, usize)> {
        let word = tokens.get(at)?.text;
        let closes = tokens.get(at + 1).is_none_or(|t| {
            t.text == "," || self.rules.stopwords.contains(t.text) || PREPOSITIONS.contains(&t.text)
        });
        if !closes || !crate::rules::english::lookup(word).is_some_and(|info| info.noun) {
            return None;
        }
        let hit = self.rules.lexicon.lookup(word).first()?;
        let slot = match hit.slot {
            LexSlot::Color => &mut item.color,
            LexSlot::Material => &mut item.material,
            _ => return None,
        };
        if slot.as_deref() != Some(hit.canonical.as_str()) {
            return None;
        }
        *slot = None;
        if hit.slot == LexSlot::Color {
            item.color_shade = None;
        }
        Some((at, at + 1))
    }

    /// Whether `previous`, before a number, says it is a size and `next`
    /// lets it be one: a sizing system ("uk 6", "eu 42") or whom it is for
    /// ("mens 10.5", "womens 8, white"), not "kids 3 wheel scooter".
    fn size_system_before(&self, previous: Option<&str>, next: Option<&str>) -> bool {
        let lexicon = &self.rules.lexicon;
        previous.is_some_and(|p| {
            matches!(p, "uk" | "us" | "eu")
                || lexicon
                    .lookup(p)
                    .iter()
                    .any(|hit| hit.slot == LexSlot::Audience)
        }) && next.is_none_or(|n| {
            n == ","
                || self.rules.stopwords.contains(n)
                || FITS.contains(&n)
                || self.listed_brand(n)
                || self.unknown_name(n)
                || lexicon
                    .lookup(n)
                    .iter()
                    .any(|hit| !matches!(hit.slot, LexSlot::Product))
        })
    }

    /// Whether a bare product phrase `text` (no intent rule matched) is an
    /// errand rather than a look: said with a please, with a count, or
    /// needed by a time; not when it asks for options or recommendations,
    /// nor when it opens with a verb ("roll five sided dice", "reserve two
    /// seats") unless that word is a maker's or the lexicon's ("tide pods").
    fn errand(&self, text: &str, intent: &Intent) -> bool {
        let words: Vec<&str> = tokenize(text)
            .into_iter()
            .map(|t| t.text)
            .filter(|&w| w != ",")
            .collect();
        let asks_advice = words.iter().any(|w| {
            matches!(
                *w,
                "options" | "recs" | "recommendations" | "suggestions" | "ideas" | "reviews"
            )
        });
        let polite = |w: &&str| {
            matches!(
                *w,
                "pls" | "plz" | "please" | "thanks" | "thx" | "ty" | "cheers"
            )
        };
        // A verb and its object: "roll five sided dice", "reserve two
        // seats", "answer the phone"; not "cricket bat".
        let mut content = words.iter().filter(|w| !polite(w));
        let opens_with_verb = content.next().is_some_and(|first| {
            self.rules.lexicon.lookup(first).is_empty()
                && !self.listed_brand(first)
                && crate::rules::english::lookup(first).is_some_and(|info| info.verb)
                && content.next().is_some_and(|second| {
                    matches!(*second, "a" | "an" | "the" | "some" | "my" | "me" | "up")
                        || number_word(second).is_some()
                        || second.chars().all(|c| c.is_ascii_digit())
                })
        });
        let counted = intent.items.iter().any(|item| item.quantity.is_some());
        let needed = words.windows(2).any(|pair| {
            matches!(pair[0], "need" | "want" | "needs")
                && matches!(pair[1], "it" | "them" | "one" | "these" | "those")
        });
        // A please or a count alone is weak: "transfer ninety dollars,
        // please". Something a product has must be said too.
        let described = intent.items.iter().any(|item| {
            item.product_type.is_some()
                || item.brand.is_some()
                || item.size.is_some()
                || item.color.is_some()
                || item.material.is_some()
                || item.audience.is_some()
        });
        let said_politely = words.iter().any(polite);
        !asks_advice
            && !opens_with_verb
            && (needed || (described && (said_politely || counted)) || (said_politely && counted))
    }

    /// Whether the number at `at` counts something other than what to buy:
    /// a deal ("2 for 1"), what the shopper has ("i have 2 cats"), who
    /// will use it ("a family of four", "two of us").
    fn counts_no_purchase(&self, tokens: &[Token], at: usize) -> bool {
        let word = |i: usize| tokens.get(i).map_or("", |t| t.text);
        let number = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
        let back = |n: usize| at.checked_sub(n).map_or("", word);
        (word(at + 1) == "for" && number(word(at + 2)))
            || (back(1) == "for" && number(back(2)))
            || (matches!(back(1), "have" | "got" | "'ve")
                && matches!(back(2), "i" | "we" | "i've" | "we've")
                && !matches!(back(3), "can" | "could" | "may" | "might"))
            || (back(1) == "of" && matches!(back(2), "family" | "group" | "team" | "household"))
            || (word(at + 1) == "of" && word(at + 2) == "us")
    }

    /// A size named in words at the start of `tokens`, and how many tokens
    /// it takes: the word before "size" ("twin size", "full size", "gallon
    /// size"), a unit after "a" ("a gallon of milk"), a tent's or boat's
    /// people ("a 2 person tent").
    fn named_size(&self, tokens: &[Token]) -> Option<(String, usize)> {
        let word = tokens.first()?.text;
        let next = tokens.get(1).map(|t| t.text);
        let after = tokens.get(2).map(|t| t.text);
        // "dresses size 8" names the product, then its size.
        let sized_after = after.is_some_and(|a| {
            a.starts_with(|c: char| c.is_ascii_digit())
                || self
                    .rules
                    .lexicon
                    .lookup(a)
                    .iter()
                    .any(|hit| hit.slot == LexSlot::Size)
        });
        if matches!(next, Some("size" | "sized"))
            && !sized_after
            && word.chars().all(char::is_alphabetic)
            && !self.rules.stopwords.contains(word)
            && !NOT_SIZE_NAMES.contains(&word)
            && self
                .rules
                .lexicon
                .lookup(word)
                .iter()
                .all(|hit| hit.slot == LexSlot::Size)
        {
            return Some((self.rules.canonical_size(word), 2));
        }
        if matches!(word, "a" | "an")
            && next.is_some_and(|unit| {
                unit.len() >= 3
                    && crate::rules::measure::unit(unit).is_some()
                    && matches!(after, None | Some("of" | ","))
            })
        {
            return next.map(|unit| (self.rules.canonical_size(unit), 2));
        }
        let people = match (word.split_once('-'), next) {
            (Some((count, unit @ ("person" | "seater"))), _) => Some((count, unit, 1)),
            (None, Some(unit @ ("person" | "seater"))) => Some((word, unit, 2)),
            _ => None,
        };
        people
            .filter(|(count, _, _)| count.parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)))
            .map(|(count, unit, width)| {
                (self.rules.canonical_size(&format!("{count} {unit}")), width)
            })
    }

    /// Whether the number at `tokens[index]` is the model of what the
    /// product is for ("a case for my iphone 15", "a filter for the coway
    /// 200"), not the product's size.
    fn model_for_another(&self, tokens: &[Token], index: usize) -> bool {
        let mut at = index;
        while at > 0 {
            let word = tokens[at - 1].text;
            let names = word.chars().all(char::is_alphabetic)
                && !self.rules.stopwords.contains(word)
                && !self
                    .rules
                    .lexicon
                    .lookup(word)
                    .iter()
                    .any(|hit| matches!(hit.slot, LexSlot::Audience | LexSlot::Size));
            if !names {
                break;
            }
            at -= 1;
        }
        if at == index {
            return false;
        }
        if at > 0 && (POSSESSIVES.contains(&tokens[at - 1].text) || tokens[at - 1].text == "the") {
            at -= 1;
        }
        at > 0 && tokens[at - 1].text == "for"
    }

    /// Whether "in" after a number is the unit inches ("a 13 in laptop
    /// sleeve") rather than the preposition ("2 in red", "2 in stock", "2 in
    /// 1"): it is when the word after it is a word of the product.
    fn measure_in(&self, after: Option<&Token>) -> bool {
        after.is_some_and(|after| {
            let word = after.text;
            word.chars().any(char::is_alphabetic)
                && !self.rules.stopwords.contains(word)
                && self
                    .rules
                    .lexicon
                    .lookup(word)
                    .iter()
                    .all(|hit| hit.slot == LexSlot::Product)
        })
    }

    /// Whether `tokens[index]` is an entry of its own in a comma list after
    /// the product: "a yoga jacket, gray, S, under $40", "capris, blue, 29",
    /// "a hoodie, women's M". Its part of the list holds nothing else but
    /// audience words and "please", and some product word comes before that
    /// part; "2, gray hoodies" is no such entry.
    fn bare_list_entry(&self, tokens: &[Token], index: usize, product_word: &[bool]) -> bool {
        let Some(comma) = tokens[..index].iter().rposition(|t| t.text == ",") else {
            return false;
        };
        if !product_word[..comma].contains(&true) {
            return false;
        }
        tokens[comma + 1..]
            .iter()
            .enumerate()
            .take_while(|(_, t)| t.text != ",")
            .all(|(offset, token)| {
                comma + 1 + offset == index
                    || matches!(token.text, "please" | "pls" | "thanks")
                    || self
                        .rules
                        .lexicon
                        .lookup(token.text)
                        .iter()
                        .any(|hit| hit.slot == LexSlot::Audience)
            })
    }

    /// The item one segment of a request names. `about_an_order`: the
    /// request asks after an existing order, whose "for the ..." names
    /// what was ordered ("the delivery date for the patio umbrella").
    fn parse_segment(
        &self,
        tokens: &[Token],
        trace: &mut Vec<Fired>,
        about_an_order: bool,
    ) -> ItemRequest {
        let lexicon = &self.rules.lexicon;
        let stopwords = &self.rules.stopwords;
        let mut item = ItemRequest::default();
        // Per token: is it part of the product phrase?
        let mut product_word = vec![false; tokens.len()];
        // Set by a negation word; colours while it holds are excluded. It
        // holds across stopwords, "or" and other colours ("not red or pink").
        let mut negating = false;
        // Where the last lexicon product phrase ended: a product word right
        // after it is the compound's head ("crewneck sweatshirt" is a
        // sweatshirt, "hoodie dress" a dress).
        let mut product_end: Option<usize> = None;
        let mut index = 0;
        while index < tokens.len() {
            let word = tokens[index].text;
            let previous = index.checked_sub(1).map(|i| tokens[i].text);
            let next = tokens.get(index + 1).map(|t| t.text);

            if NEGATIONS.contains(&word) {
                negating = true;
                index += 1;
                continue;
            }

            // A size written as a code: "28x30", "5T", "42R", "6-9 months".
            // Written as the catalog index writes the same label ("28X30";
            // "42L" reads as a measure there, "42 l"): search compares the
            // two as they are.
            if item.size.is_none() {
                if let Some((size, width)) = size_code(&tokens[index..], previous) {
                    let (size, fit) = with_fit(size, tokens, index + width);
                    let width = width + fit;
                    trace.push(Fired {
                        rule: "size_code".into(),
                        matched: join(&tokens[index..index + width]).into_owned(),
                    });
                    item.size = Some(self.rules.canonical_size(&size));
                    index += width;
                    continue;
                }
                if let Some((size, width)) = self.named_size(&tokens[index..]) {
                    trace.push(Fired {
                        rule: "named_size".into(),
                        matched: join(&tokens[index..index + width]).into_owned(),
                    });
                    item.size = Some(size);
                    index += width;
                    continue;
                }
            }

            // Numeric size: "size 10", "size 32", "in a 10", "10.5".
            let numeric = !word.is_empty()
                && word.chars().all(|c| c.is_ascii_digit() || c == '.')
                && word.chars().next().is_some_and(|c| c.is_ascii_digit());
            let after_product = item.product_type.is_some()
                && next.is_none_or(|n| matches!(n, "," | "waist" | "inch" | "inches" | "please"));
            let listed_after_product =
                |tokens: &[Token]| self.bare_list_entry(tokens, index, &product_word);
            let fitted = ends_with_fit(tokens, index + 1);
            // "16.5 neck", "38 chest", "32 waist": a measure of the body.
            let body = next.is_some_and(|n| matches!(n, "neck" | "chest" | "waist" | "inseam"));
            if numeric && item.size.is_none() && body {
                item.size = Some(word.to_string());
                trace.push(Fired {
                    rule: "numeric_size".into(),
                    matched: join(&tokens[index..index + 2]).into_owned(),
                });
                index += 2;
                continue;
            }
            if numeric
                && item.size.is_none()
                && !previous.is_some_and(|p| NOT_SIZED_AFTER.contains(&p))
                && !next.is_some_and(|n| n != "in" && measure_unit(n))
                && !self.model_for_another(tokens, index)
                && (previous == Some("size")
                    || (fitted && word.parse::<f64>().is_ok_and(|v| (1.0..=60.0).contains(&v)))
                    || (word.parse::<f64>().is_ok_and(|v| (1.0..=60.0).contains(&v))
                        && listed_after_product(tokens))
                    || (after_product
                        && word.parse::<f64>().is_ok_and(|v| (1.0..=60.0).contains(&v)))
                    || (previous == Some("a")
                        && index >= 2
                        && tokens[index - 2].text == "in"
                        && word.parse::<f64>().is_ok_and(|v| v <= 60.0))
                    || (self.size_system_before(previous, next)
                        && word.parse::<f64>().is_ok_and(|v| (1.0..=60.0).contains(&v)))
                    || (previous == Some("in")
                        && word.parse::<f64>().is_ok_and(|size| size <= 60.0)
                        && index >= 2
                        && tokens[index - 2].text != "in"
                        && next.is_none_or(|n| !self.names_product(&[Token { text: n }]))))
            {
                let (size, fit) = with_fit(word.to_string(), tokens, index + 1);
                let width = 1 + fit;
                item.size = Some(self.rules.canonical_size(&size));
                trace.push(Fired {
                    rule: "numeric_size".into(),
                    matched: format!(
                        "{} {}",
                        previous.unwrap_or(""),
                        join(&tokens[index..index + width])
                    ),
                });
                index += width;
                continue;
            }

            // "3 bags of jasmine rice", "a bottle of olive oil": the
            // container is how it comes, what follows "of" is the product.
            let container = CONTAINERS.contains(&word)
                && next == Some("of")
                && tokens
                    .get(index + 2)
                    .is_some_and(|t| t.text.chars().any(char::is_alphabetic));
            if container {
                index += 1;
                continue;
            }

            // Longest lexicon phrase starting here.
            let max = self.span_limit(&tokens[index..]);
            let mut consumed = 0;
            for n in (1..=max).rev() {
                let phrase = join(&tokens[index..index + n]);
                let hits = self.lookup_phrase(&phrase, n == 1);
                if hits.is_empty() {
                    continue;
                }
                let after = tokens.get(index + n).map(|t| t.text);
                // "a gold necklace", "copper mugs": a word that is a colour
                // and a material names the material, unless a product of
                // the lexicon (clothes, mostly) follows: "gold sneakers".
                let lexicon_product = |word: Option<&str>| {
                    word.is_some_and(|w| {
                        lexicon
                            .lookup(w)
                            .iter()
                            .any(|hit| hit.slot == LexSlot::Product)
                    })
                };
                // Gold and silver are what jewellery is made of, and the
                // colour of anything else ("gold balloons", "a silver
                // party banner").
                let precious = matches!(phrase.as_ref(), "gold" | "silver" | "rose gold");
                let jewellery_follows = tokens[(index + n).min(tokens.len())..]
                    .iter()
                    .take(3)
                    .any(|t| JEWELLERY.contains(&t.text));
                let material_first = previous != Some("in")
                    && !lexicon_product(after)
                    && !after.is_some_and(|a| COLOUR_WORDS.contains(&a))
                    && (!precious || jewellery_follows);
                // A product reading wins for multi-word phrases ("khakis" the
                // trousers, not the colour), and when a colour word is
                // followed by nothing that could be its noun.
                let preferred = hits
                    .iter()
                    .find(|hit| hit.slot == LexSlot::Product)
                    .filter(|_| n > 1 || hits.len() == 1)
                    .or_else(|| {
                        hits.iter()
                            .find(|hit| material_first && hit.slot == LexSlot::Material)
                    })
                    .or_else(|| hits.iter().find(|hit| hit.slot != LexSlot::Product))
                    .or_else(|| hits.first());
                let Some(hit) = preferred else { continue };
                // "m" alone, and "double" ("a double stroller"), are sizes
                // only where a size is said.
                let single_letter_size =
                    hit.slot == LexSlot::Size && (phrase.len() == 1 || phrase == "double");
                // "womens M": after whom it is for, too.
                let after_audience = previous.is_some_and(|p| {
                    lexicon
                        .lookup(p)
                        .iter()
                        .any(|hit| hit.slot == LexSlot::Audience)
                });
                if single_letter_size
                    && !after_audience
                    && !(matches!(previous, Some("in" | "size" | "sz"))
                        || (matches!(previous, Some("a" | "an")) && phrase.len() == 1)
                        || matches!(after, Some("size" | "sized"))
                        || listed_after_product(tokens))
                {
                    // "m" alone is a size only in context ("in m", "size m").
                    continue;
                }
                // "olive oil", "green tea", "wine glasses" (a wineglass): a
                // colour word that makes a noun WordNet names with the next
                // word, which is no type of the lexicon ("blue
                // jeans" stay blue), or with the word before, is part of the
                // product.
                let compound = |first: &str, second: &str| {
                    [format!("{first}_{second}"), format!("{first}{second}")]
                        .iter()
                        .any(|joined| {
                            crate::rules::english::lookup(joined).is_some_and(|info| info.noun)
                        })
                };
                let names_thing = hit.slot == LexSlot::Color
                    && n == 1
                    && (after.is_some_and(|after| {
                        compound(&phrase, after)
                            && !lexicon
                                .lookup(after)
                                .iter()
                                .any(|hit| hit.slot == LexSlot::Product)
                    }) || previous.is_some_and(|previous| {
                        !stopwords.contains(previous) && compound(previous, &phrase)
                    }));
                // "baby wipes", "baby food", "a baby monitor": things for
                // looking after a baby name it, where "baby shoes" (a
                // lexicon product: clothes) are for one.
                let baby_care = hit.slot == LexSlot::Audience
                    && phrase == "baby"
                    && after.is_some_and(|after| {
                        lexicon.lookup(after).is_empty()
                            && !matches!(after, "clothes" | "clothing" | "outfit" | "outfits")
                            && crate::rules::english::lookup(after).is_some_and(|info| info.noun)
                    });
                // "beds for large dogs", "a grill for a small balcony": a
                // size that describes what the product is for; "stephen
                // king": a name.
                let not_its_size = hit.slot == LexSlot::Size
                    && n == 1
                    && (previous.is_some_and(person_name)
                        || (after.is_some_and(|a| {
                            a.chars().all(char::is_alphabetic) && !stopwords.contains(a)
                        }) && (previous == Some("for")
                            || (index >= 2
                                && tokens[index - 2].text == "for"
                                && previous.is_some_and(|p| {
                                    POSSESSIVES.contains(&p) || matches!(p, "a" | "an" | "the")
                                })))));
                // "chocolate protein powder", "moisturizing cream", "a bag
                // of charcoal", "lavender candles": a shade that is also a
                // thing (a food, a plant, a stuff) is a colour only where
                // a colour is said: "in sage", "champagne colour", before
                // another colour, material or a product of the lexicon
                // ("an emerald silk scarf", "a charcoal hoodie"), or after
                // the product named ("slippers, size 7, chestnut").
                let thing_shade = hit.slot == LexSlot::Color
                    && n == 1
                    && !self.rules.is_exact_color(&phrase, &hit.canonical)
                    && crate::rules::english::lookup(&phrase)
                        .is_some_and(|info| info.noun && info.thing_share >= THING_SHARE);
                let said_as_colour = || {
                    previous == Some("in")
                        || after.is_some_and(|a| {
                            COLOUR_WORDS.contains(&a)
                                || lexicon.lookup(a).iter().any(|hit| {
                                    matches!(
                                        hit.slot,
                                        LexSlot::Product
                                            | LexSlot::Color
                                            | LexSlot::Material
                                            | LexSlot::Size
                                    )
                                })
                        })
                        || (item.product_type.is_some()
                            && after.is_none_or(|a| a == "," || stopwords.contains(a)))
                };
                let not_a_colour = thing_shade && !negating && !said_as_colour();
                if names_thing || baby_care || not_its_size || not_a_colour {
                    // "the new stephen king novel": a person's name is no
                    // part of the product's.
                    let name = previous.is_some_and(person_name) && hit.slot == LexSlot::Size;
                    product_word[index] = !name;
                    if name {
                        product_word[index - 1] = false;
                    }
                    consumed = 1;
                    break;
                }
                let slot_value = |slot: &mut Option<String>, rule: &str, trace: &mut Vec<Fired>| {
                    if slot.is_none() {
                        *slot = Some(hit.canonical.clone());
                    }
                    trace.push(Fired {
                        rule: rule.into(),
                        matched: phrase.to_string(),
                    });
                };
                match hit.slot {
                    LexSlot::Color if negating => {
                        if !item.excluded_colors.contains(&hit.canonical) {
                            item.excluded_colors.push(hit.canonical.clone());
                        }
                        trace.push(Fired {
                            rule: "negated_color".into(),
                            matched: phrase.to_string(),
                        });
                    }
                    LexSlot::Material if negating => trace.push(Fired {
                        rule: "negated_material".into(),
                        matched: phrase.to_string(),
                    }),
                    LexSlot::Color => {
                        if item.color.is_none()
                            && !self.rules.is_exact_color(&phrase, &hit.canonical)
                        {
                            item.color_shade = Some(phrase.to_lowercase());
                        }
                        slot_value(&mut item.color, "lexicon_color", trace)
                    }
                    LexSlot::Size => slot_value(&mut item.size, "lexicon_size", trace),
                    LexSlot::Material => slot_value(&mut item.material, "lexicon_material", trace),
                    // A well-known brand is all lowercase in the lexicon:
                    // it reads as the shopper spelt it ("oral-b", "oral b").
                    LexSlot::Brand if !hit.canonical.chars().any(char::is_uppercase) => {
                        item.brand.get_or_insert_with(|| phrase.to_string());
                        trace.push(Fired {
                            rule: "lexicon_brand".into(),
                            matched: phrase.to_string(),
                        });
                    }
                    LexSlot::Brand => slot_value(&mut item.brand, "lexicon_brand", trace),
                    // "kids scooters ... for a 5 year old girl": a child
                    // named after "kids" says which.
                    LexSlot::Audience
                        if item.audience.as_deref() == Some("kids")
                            && matches!(hit.canonical.as_str(), "boys" | "girls") =>
                    {
                        item.audience = Some(hit.canonical.clone());
                        trace.push(Fired {
                            rule: "lexicon_audience".into(),
                            matched: phrase.to_string(),
                        });
                    }
                    LexSlot::Audience => slot_value(&mut item.audience, "lexicon_audience", trace),
                    LexSlot::Product => {
                        negating = false;
                        if item.product_type.is_none() || product_end == Some(index) {
                            item.product_type = Some(hit.canonical.clone());
                        }
                        product_end = Some(index + n);
                        trace.push(Fired {
                            rule: "lexicon_product".into(),
                            matched: phrase.to_string(),
                        });
                        for flag in &mut product_word[index..index + n] {
                            *flag = true;
                        }
                        // "denim jacket", "wool hat": a synonym phrase may
                        // carry a material or colour of its own.
                        if n > 1 {
                            for token in &tokens[index..index + n] {
                                for inner in lexicon.lookup(token.text) {
                                    match inner.slot {
                                        LexSlot::Material if item.material.is_none() => {
                                            item.material = Some(inner.canonical.clone())
                                        }
                                        LexSlot::Color if item.color.is_none() => {
                                            item.color = Some(inner.canonical.clone())
                                        }
                                        _ => {}
                                    }
                                }
                            }
                        }
                    }
                }
                consumed = n;
                break;
            }
            if consumed > 0 {
                index += consumed;
                continue;
            }

            // A number with a unit measures or counts the product: "a 65 cm
            // stability ball", "a 12 pack of batteries", "(pack of 2)".
            // "1.1 cu ft": a unit of two words.
            let two_word_measure = next
                .zip(tokens.get(index + 2))
                .filter(|_| numeric)
                .and_then(|(first, second)| {
                    crate::rules::measure::canonical(&format!("{word} {first} {}", second.text))
                });
            if let Some(measure) = two_word_measure {
                if item.size.is_none() {
                    item.size = Some(measure);
                }
                trace.push(Fired {
                    rule: "measure".into(),
                    matched: join(&tokens[index..index + 3]).into_owned(),
                });
                index += 3;
                continue;
            }
            // "a 1/4 inch drill bit": a fraction measures too.
            let fraction = word.split_once('/').is_some_and(|(whole, part)| {
                [whole, part]
                    .iter()
                    .all(|n| !n.is_empty() && n.len() <= 2 && n.chars().all(|c| c.is_ascii_digit()))
            });
            if numeric || fraction {
                let unit = next.filter(|unit| {
                    COUNT_UNITS.contains(unit)
                        || (measure_unit(unit)
                            && (*unit != "in" || self.measure_in(tokens.get(index + 2))))
                });
                let counted = numeric
                    && previous == Some("of")
                    && index >= 2
                    && COUNT_CONTAINERS.contains(&tokens[index - 2].text);
                if unit.is_some() || counted {
                    let width = if unit.is_some() { 2 } else { 1 };
                    if counted || unit.is_some_and(|unit| COUNT_UNITS.contains(&unit)) {
                        for flag in &mut product_word[index..index + width] {
                            *flag = true;
                        }
                    }
                    let matched = match unit {
                        Some(unit) => format!("{word} {unit}"),
                        None => format!("{} of {word}", tokens[index - 2].text),
                    };
                    // A measure is the product's size ("a 65 cm ball", "the
                    // 6 ft cable"), unless the request gives one otherwise.
                    if let Some(measure) = unit.filter(|unit| measure_unit(unit)).and_then(|unit| {
                        crate::rules::measure::canonical(&format!("{word} {unit}"))
                    }) {
                        if item.size.is_none() {
                            item.size = Some(measure);
                        }
                    }
                    trace.push(Fired {
                        rule: "measure".into(),
                        matched,
                    });
                    index += width;
                    continue;
                }
            }

            // A measure written joined ("32oz", "128gb") is the size too; the
            // word stays where it is, in the product phrase.
            if !numeric && item.size.is_none() && word.starts_with(|c: char| c.is_ascii_digit()) {
                if let Some(measure) = crate::rules::measure::canonical(word) {
                    if measure.split(' ').nth(1).is_some_and(measure_unit) {
                        item.size = Some(measure);
                    }
                }
            }

            // Digits right after a product word are part of its model name
            // ("iphone 8", "playstation 5"), not a quantity: quantities come
            // before the product in English.
            // After a maker's name too ("levis 511"); but "printer paper 5
            // reams" counts reams.
            let after_product = index > 0 && product_word[index - 1];
            let after_maker = previous.is_some_and(|p| {
                self.listed_brand(p)
                    || lexicon
                        .lookup(p)
                        .iter()
                        .any(|hit| hit.slot == LexSlot::Brand)
            });
            if (after_product || after_maker)
                && word.len() <= 4
                && word.chars().all(|c| c.is_ascii_digit())
                && !next.is_some_and(|n| n.ends_with('s') && CONTAINERS.contains(&n))
            {
                product_word[index] = true;
                index += 1;
                continue;
            }

            // "huggies wipes x 4": a count after "x".
            if word == "x"
                && item.quantity.is_none()
                && !previous.is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()))
                && tokens.get(index + 2).is_none_or(|t| t.text == ",")
            {
                if let Some(count) = next
                    .filter(|n| n.len() <= 3)
                    .and_then(|n| n.parse::<u32>().ok())
                    .filter(|&n| n > 0)
                {
                    item.quantity = Some(count);
                    trace.push(Fired {
                        rule: "quantity".into(),
                        matched: format!("x {count}"),
                    });
                    index += 2;
                    continue;
                }
            }

            // Quantity: digits or a number word ("two pairs", "3x", "x2",
            // "a dozen").
            let fit = next.is_some_and(|n| FITS.contains(&n))
                && tokens
                    .get(index + 2)
                    .is_none_or(|t| !t.text.chars().all(char::is_alphabetic));
            let quantity = if fit
                || previous.is_some_and(|p| NOT_COUNTED_AFTER.contains(&p))
                || self.counts_no_purchase(tokens, index)
            {
                None
            } else if let Some(digits) = word
                .strip_suffix('x')
                .or_else(|| word.strip_prefix('x'))
                .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
            {
                digits.parse().ok()
            } else if word.chars().all(|c| c.is_ascii_digit())
                && word.len() <= 3
                && !next.is_some_and(|n| NOT_COUNTED.contains(&n))
                && !dimension_between(tokens, index + 1)
            {
                word.parse().ok()
            } else if word == "one"
                && !next.is_some_and(|n| {
                    n == "pair"
                        || !lexicon.lookup(n).is_empty()
                        || self.names_product(&tokens[index + 1..(index + 2).min(tokens.len())])
                })
            {
                // "the blue one", "one in large": a pronoun, not a quantity.
                None
            } else if word == "half" && next == Some("dozen") {
                index += 1;
                Some(6)
            } else if word == "half"
                && next == Some("a")
                && tokens.get(index + 2).is_some_and(|t| t.text == "dozen")
            {
                index += 2;
                Some(6)
            } else {
                number_word(word)
            };
            if let Some(quantity) = quantity.filter(|q| *q > 0 && *q <= 999) {
                if item.quantity.is_none() {
                    item.quantity = Some(quantity);
                    trace.push(Fired {
                        rule: "quantity".into(),
                        matched: word.to_string(),
                    });
                }
                index += 1;
                continue;
            }

            if word != "or" && !stopwords.contains(word) {
                negating = false;
            }
            // Within one segment "plus" after a product word is part of a
            // model name ("iphone 8 plus"); between products it split them
            // already.
            let model_plus = word == "plus" && after_product && next.is_some();
            // "a patio set", "a fragrance gift set": a set after what it
            // holds ends the product's name.
            let set_head = after_product
                && (SET_HEADS.contains(&word)
                    || (word == "gift" && next.is_some_and(|n| GIFT_HEADS.contains(&n))));
            if model_plus
                || set_head
                || (!stopwords.contains(word)
                    && !SEGMENT_BREAKS.contains(&word)
                    && word != "or"
                    && word.chars().any(char::is_alphabetic))
            {
                product_word[index] = true;
            }
            index += 1;
        }

        // "easy to use", "ready to eat": the verb describes the product and
        // is no part of its name.
        for i in 1..tokens.len().saturating_sub(1) {
            if tokens[i].text == "to"
                && describing_word(tokens[i - 1].text)
                && crate::rules::english::lookup(tokens[i + 1].text).is_some_and(|info| info.verb)
            {
                product_word[i + 1] = false;
            }
        }
        // The product phrase: the run of product words that contains a known
        // product type, else the longest run. A run that says what the
        // product is for ("a carrying case for my camera") comes after the
        // others.
        let mut runs: Vec<(usize, usize)> = Vec::new();
        let mut run_start = None;
        for (i, is_product) in product_word.iter().enumerate() {
            match (is_product, run_start) {
                (true, None) => run_start = Some(i),
                (false, Some(start)) => {
                    runs.push((start, i));
                    run_start = None;
                }
                _ => {}
            }
        }
        if let Some(start) = run_start {
            runs.push((start, tokens.len()));
        }
        // "a vintage style record player": "style" between two runs joins
        // them into one phrase.
        let mut joined: Vec<(usize, usize)> = Vec::with_capacity(runs.len());
        for (start, end) in runs {
            match joined.last_mut() {
                Some(last)
                    if last.1 + 1 == start
                        && matches!(tokens[last.1].text, "style" | "styled" | "type") =>
                {
                    last.1 = end;
                }
                _ => joined.push((start, end)),
            }
        }
        let mut runs = joined;
        // Where the product goes is not the product ("add it to my cart",
        // "put the ketchup in the basket"), and a run of only an option's
        // name asks about the options ("what sizes does ... come in").
        runs.retain(|&(start, end)| {
            let head = tokens[end - 1].text;
            let mut back = start;
            if back > 0 && matches!(tokens[back - 1].text, "my" | "the" | "our" | "your" | "ur") {
                back -= 1;
            }
            let placed = back > 0
                && matches!(
                    tokens[back - 1].text,
                    "to" | "in" | "into" | "onto" | "from"
                )
                // "to my grocery order": the place may follow the run.
                && (PLACES_FOR_ITEMS.contains(&head)
                    || tokens
                        .get(end)
                        .is_some_and(|t| PLACES_FOR_ITEMS.contains(&t.text)));
            let options_only = end - start == 1 && OPTION_NAMES.contains(&head);
            !placed && !options_only
        });
        // "the big bottle", "3 bags", "the 3 pack": how the product comes,
        // when another run names it.
        let packaging = |&(start, end): &(usize, usize)| {
            let head = tokens[end - 1].text;
            (CONTAINERS.contains(&head)
                || COUNT_UNITS.contains(&head)
                || COUNT_CONTAINERS.contains(&head))
                && tokens[start..end - 1].iter().all(|t| {
                    t.text.chars().all(|c| c.is_ascii_digit())
                        || number_word(t.text).is_some()
                        || PACK_SIZES.contains(&t.text)
                        || crate::rules::measure::canonical(t.text).is_some()
                })
        };
        if runs.iter().any(|run| !packaging(run)) {
            runs.retain(|run| !packaging(run));
        }
        // A maker between a linking word and the run: "for oral-b
        // toothbrushes", "for a gillette razor".
        let maker = |w: &str| {
            self.listed_brand(w)
                || self.unknown_name(w)
                || self
                    .rules
                    .lexicon
                    .lookup(w)
                    .iter()
                    .any(|hit| hit.slot == LexSlot::Brand)
        };
        // A run after "for" says what the product is for; one after "with"
        // names a feature of it ("a tablet with usb port", "a bed with a
        // wood finish").
        let purpose = |&(start, _): &(usize, usize)| {
            // "for my 13 inch macbook": the measure belongs to what follows.
            let mut start = start;
            while start >= 2
                && (measure_unit(tokens[start - 1].text)
                    || COUNT_UNITS.contains(&tokens[start - 1].text))
                && tokens[start - 2]
                    .text
                    .starts_with(|c: char| c.is_ascii_digit())
            {
                start -= 2;
            }
            let before = |back: usize| start.checked_sub(back).map(|i| tokens[i].text);
            let after_word = |linking: &str, determiners: &[&str]| {
                let opening = |w: &str| POSSESSIVES.contains(&w) || determiners.contains(&w);
                before(1) == Some(linking)
                    || (before(2) == Some(linking) && before(1).is_some_and(opening))
                    || (before(2) == Some(linking) && before(1).is_some_and(maker))
                    || (before(3) == Some(linking)
                        && before(2).is_some_and(|w| opening(w) || matches!(w, "a" | "an" | "the"))
                        && before(1).is_some_and(maker))
            };
            // "earbuds with good battery life", "a bed with a solid wood
            // finish": what describes the feature is part of it.
            let with_feature = before(2) == Some("with")
                && before(1).is_some_and(|w| describing_word(w) || stopwords.contains(w))
                || before(3) == Some("with")
                    && before(2).is_some_and(|w| matches!(w, "a" | "an" | "the"))
                    && before(1).is_some_and(describing_word);
            after_word("for", &[]) || after_word("with", &["a", "an", "the"]) || with_feature
        };
        // "a power bank that can charge a laptop": what a relative clause
        // names after the first run is no candidate before it.
        // So does a clause after a comma with a subject of its own ("a
        // present for my dad, he loves fishing").
        // "..., i have 2 cats", "..., my son loves dinosaurs": what the
        // shopper has or whom they shop for.
        let says_what_shopper_has = |at: usize| {
            let word = |i: usize| tokens.get(i).map_or("", |t| t.text);
            match word(at) {
                "i" | "we" => matches!(
                    word(at + 1),
                    "have" | "got" | "own" | "love" | "like" | "use" | "already"
                ),
                "i've" | "ive" | "we've" | "weve" => true,
                "my" | "our" => matches!(
                    word(at + 2),
                    "loves" | "likes" | "has" | "have" | "is" | "are" | "wears" | "uses"
                ),
                _ => false,
            }
        };
        let clause_start = runs.first().and_then(|&(_, first_end)| {
            (first_end..tokens.len()).find(|&i| {
                matches!(tokens[i].text, "that" | "which" | "who" | "who's" | "whos")
                    || (tokens[i].text == ","
                        && tokens.get(i + 1).is_some_and(|t| {
                            matches!(
                                t.text,
                                "he" | "she"
                                    | "they"
                                    | "he's"
                                    | "she's"
                                    | "they're"
                                    | "hes"
                                    | "shes"
                            ) || says_what_shopper_has(i + 1)
                        }))
            })
        });
        // "which whey protein has the least sugar": what the product has
        // the most or least of is no candidate.
        let measured_feature = |&(start, _): &(usize, usize)| {
            let superlative = |at: usize| {
                matches!(
                    tokens[at].text,
                    "least" | "most" | "fewest" | "longest" | "lowest" | "highest" | "best"
                )
            };
            // The superlative opens the run or stands before it.
            let at = if start >= 1 && superlative(start - 1) {
                start - 1
            } else {
                start
            };
            at >= 2
                && superlative(at)
                && tokens[at - 1].text == "the"
                && matches!(tokens[at - 2].text, "has" | "have" | "with")
        };
        let subordinate = |&(start, _): &(usize, usize)| clause_start.is_some_and(|at| start >= at);
        let contains_type = |&(start, end): &(usize, usize)| {
            (start..end).any(|i| {
                (i + 1..=i + self.span_limit(&tokens[i..end])).any(|j| {
                    self.lookup(&tokens[i..j])
                        .iter()
                        .any(|h| h.slot == LexSlot::Product)
                })
            })
        };
        // "phone cases for the iphone 15", "flea treatment for the cat":
        // after a run that can name the product, "for the" says what it is
        // for too; a verb opening the request is no such run ("scrap the
        // order for the socks" names the socks), and about an order only a
        // known product type is.
        let candidates: Vec<(usize, usize)> = runs
            .iter()
            .copied()
            .filter(|run| {
                let opening_verb = run.0 == 0
                    && crate::rules::english::lookup(tokens[0].text).is_some_and(|info| info.verb);
                contains_type(run)
                    || (!about_an_order
                        && !opening_verb
                        && self.open_product_word(tokens[run.1 - 1].text, 0, true))
            })
            .collect();
        // "phone cases for the iphone 15", "blades for a gillette razor":
        // what a product named before is for.
        let for_the = |&(start, _): &(usize, usize)| {
            let at = if start >= 1 && maker(tokens[start - 1].text) {
                start - 1
            } else {
                start
            };
            // After "for a", the product before must be a thing: "how much
            // do you charge for a car battery" asks about the battery.
            let thing_before = |run: &(usize, usize)| {
                contains_type(run)
                    || self.open_product_word(tokens[run.1 - 1].text, THING_SHARE, false)
            };
            at >= 2
                && tokens[at - 2].text == "for"
                && match tokens[at - 1].text {
                    "the" => candidates.iter().any(|&(_, end)| end < at - 1),
                    "a" | "an" => candidates
                        .iter()
                        .any(|run| run.1 < at - 1 && thing_before(run)),
                    _ => false,
                }
        };
        let (mut runs, purposes): (Vec<_>, Vec<_>) = runs
            .into_iter()
            .partition(|r| !purpose(r) && !for_the(r) && !subordinate(r) && !measured_feature(r));
        let first_runs = runs.len();
        runs.extend(purposes);
        let (main, for_purpose) = runs.split_at(first_runs);
        // Outside the lexicon, the first run whose head can be a thing: "a
        // pendant light to go in my dining room".
        // The head is the run's last word that is no model code ("galaxy
        // tab s7" is a tab). A head that mostly describes ("high" in "high
        // quality makeup pads") yields to a run with a naming head.
        let open = |runs: &[(usize, usize)], min_share: u8, unknown_ok: bool| {
            let head_of = |&(start, end): &(usize, usize)| {
                tokens[start..end]
                    .iter()
                    .rposition(|t| !t.text.chars().any(|c| c.is_ascii_digit()))
                    .map(|offset| start + offset)
            };
            let names_thing = |run: &(usize, usize), describing_ok: bool| {
                head_of(run).is_some_and(|head| {
                    let word = tokens[head].text;
                    // A set's head ("patio set") counts after the words
                    // naming what it holds, not after a count ("4 pack").
                    let set_of_things = SET_HEADS.contains(&word)
                        && head > run.0
                        && tokens[head - 1].text.chars().all(char::is_alphabetic)
                        && number_word(tokens[head - 1].text).is_none();
                    // "mattress protector", "screen cleaner": a head that
                    // is seldom a thing names one after a strong thing.
                    let after_thing = head > run.0
                        && crate::rules::english::lookup(tokens[head - 1].text).is_some_and(
                            |info| info.noun && info.thing_share >= STRONG_THING_SHARE,
                        )
                        && self.open_product_word(word, 0, false);
                    set_of_things
                        || ((describing_ok || !describing_word(word))
                            && (after_thing || self.open_product_word(word, min_share, unknown_ok)))
                })
            };
            runs.iter()
                .copied()
                .find(|run| names_thing(run, false))
                .or_else(|| runs.iter().copied().find(|run| names_thing(run, true)))
        };
        let mut chosen = main
            .iter()
            .copied()
            .rfind(contains_type)
            .or_else(|| open(main, 1, false))
            // "flea treatment for my cat", "a bottle of prosecco for
            // tonight": a noun or a word no list knows heading a run before
            // "for" is the product rather than what follows.
            .or_else(|| open(main, 0, true))
            .or_else(|| for_purpose.iter().copied().rfind(contains_type))
            .or_else(|| open(for_purpose, 1, false))
            .or_else(|| runs.iter().copied().max_by_key(|(start, end)| end - start));
        // "a gift for my wife, a silk pillowcase": a gift yields to the
        // thing named after it.
        if let Some((start, end)) = chosen {
            if GIFT_WORDS.contains(&tokens[end - 1].text) {
                let named_after = main
                    .iter()
                    .copied()
                    .filter(|&(later, _)| later > start)
                    .find(|run| {
                        contains_type(run)
                            || self.open_product_word(tokens[run.1 - 1].text, 1, false)
                    });
                chosen = named_after.or(chosen);
            }
        }
        let mut brand_span = None;
        if item.brand.is_none() {
            if let Some((at, brand_end)) = self.unknown_brand(tokens, &runs, chosen) {
                let brand = join(&tokens[at..brand_end]).into_owned();
                trace.push(Fired {
                    rule: "unknown_brand".into(),
                    matched: brand.clone(),
                });
                item.brand = Some(brand);
                // The brand opened or closed the product phrase: the rest
                // is the product.
                chosen = chosen.map(|(start, end)| {
                    if start == at && brand_end < end {
                        (brand_end, end)
                    } else if brand_end == end && at > start {
                        (start, at)
                    } else {
                        (start, end)
                    }
                });
                brand_span = Some((at, brand_end));
                if chosen == Some((at, brand_end)) {
                    if let Some(thing) = self.shade_after_maker(tokens, brand_end, &mut item) {
                        chosen = Some(thing);
                    } else if maker_named_alone(tokens, at, brand_end) {
                        // "the bounty one", "anything new from fernleaf
                        // botanics": the maker is all that is named.
                        chosen = None;
                    }
                }
            }
        }
        if let Some((start, end)) = chosen {
            // "a clear otterbox iphone case": a maker named inside the
            // phrase is no part of the product's name.
            item.product = Some(match brand_span {
                Some((at, brand_end)) if start < at && brand_end < end => format!(
                    "{} {}",
                    join(&tokens[start..at]),
                    join(&tokens[brand_end..end])
                ),
                _ => join(&tokens[start..end]).into_owned(),
            });
        } else if let Some(material) = item.material.take() {
            // "a medium fleece": a material with no noun after it is the
            // thing itself.
            item.product = Some(material);
        }
        // "a train set for a 3 year old", "for my 5 yo": a child's age
        // with no other word for who it is for.
        if let Some(audience) = child_age(tokens).filter(|_| item.audience.is_none()) {
            item.audience = Some(audience.to_string());
            trace.push(Fired {
                rule: "child_age".into(),
                matched: "year old".into(),
            });
        }
        item
    }
}

/// Rewrites number words that name an amount of money as digits: "twenty
/// dollars" -> "20 dollars", "under fifty" -> "under 50", "forty-five euros"
/// -> "45 euros". Small numbers ("two hoodies") stay words unless a currency
/// word follows, so that quantities keep their meaning.
fn money_numbers_to_digits(text: &str, rules: &CompiledRules) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let is_currency_word = |w: Option<&&str>| {
        w.is_some_and(|w| {
            let w = w.trim_matches(|c: char| !c.is_alphanumeric());
            rules.currency_words.contains_key(w)
        })
    };
    // Words are written straight into one string: this runs on every request.
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < words.len() {
        if i > 0 {
            out.push(' ');
        }
        let word = words[i];
        // "forty-five" arrives as one word.
        let (head, tail) = match word.split_once('-') {
            Some((h, t)) if tens_word(h).is_some() && number_word(t).is_some() => (h, Some(t)),
            _ => (word, None),
        };
        if let Some(tens) = tens_word(head) {
            let mut value = tens + tail.and_then(number_word).unwrap_or(0);
            let mut used = 1;
            if tail.is_none() {
                if let Some(unit) = words.get(i + 1).and_then(|w| number_word(w)) {
                    if unit < 10 {
                        value += unit;
                        used = 2;
                    }
                }
            }
            if words.get(i + used) == Some(&"hundred") {
                value *= 100;
                used += 1;
            }
            let _ = write!(out, "{value}");
            i += used;
            continue;
        }
        if let Some(small) = number_word(word) {
            if words.get(i + 1) == Some(&"hundred") {
                let _ = write!(out, "{}", small * 100);
                i += 2;
                continue;
            }
            if is_currency_word(words.get(i + 1)) {
                let _ = write!(out, "{small}");
                i += 1;
                continue;
            }
        }
        if (word == "hundred" || word == "a hundred") && is_currency_word(words.get(i + 1)) {
            out.push_str("100");
            i += 1;
            continue;
        }
        out.push_str(word);
        i += 1;
    }
    out
}

fn absorb(target: &mut ItemRequest, extra: ItemRequest) {
    target.color = target.color.take().or(extra.color);
    target.size = target.size.take().or(extra.size);
    target.quantity = target.quantity.or(extra.quantity);
    target.material = target.material.take().or(extra.material);
    target.brand = target.brand.take().or(extra.brand);
    target.audience = target.audience.take().or(extra.audience);
    target.excluded_colors.extend(extra.excluded_colors);
}

/// The words of `tokens`, space-separated; borrowed when there is one.
fn join<'t>(tokens: &[Token<'t>]) -> Cow<'t, str> {
    match tokens {
        [only] => Cow::Borrowed(only.text),
        _ => {
            let mut phrase =
                String::with_capacity(tokens.iter().map(|t| t.text.len() + 1).sum::<usize>());
            for (i, token) in tokens.iter().enumerate() {
                if i > 0 {
                    phrase.push(' ');
                }
                phrase.push_str(token.text);
            }
            Cow::Owned(phrase)
        }
    }
}

/// Replaces a byte range with spaces so later rules do not see it again.
fn blank(text: &mut String, range: std::ops::Range<usize>) {
    let spaces = " ".repeat(range.len());
    text.replace_range(range, &spaces);
}

/// "50" -> 5000, "49.99" -> 4999, "49,99" -> 4999, "1,200" -> 120000.
fn parse_amount(text: &str) -> Option<i64> {
    let normalized = match text.rsplit_once(',') {
        Some((whole, frac)) if frac.len() <= 2 => format!("{whole}.{frac}"),
        Some((whole, frac)) => format!("{whole}{frac}"),
        None => text.to_string(),
    };
    crate::money::parse_decimal_minor(&normalized)
}
