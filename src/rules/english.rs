//! English words from WordNet (`rules/english/wordnet-words.txt`): parts of
//! speech, and for nouns how likely they name something one can buy. Read
//! once, on first use, from the copy compiled into the binary.

use super::FastMap;
use std::sync::OnceLock;

const WORDNET_WORDS: &str = include_str!("../../rules/english/wordnet-words.txt");

/// What WordNet says of one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WordInfo {
    pub noun: bool,
    pub verb: bool,
    pub adjective: bool,
    pub adverb: bool,
    /// For nouns, 0-9: the rank-weighted share of senses that are things
    /// (artifacts, foods, substances, plants, animals, natural objects).
    pub thing_share: u8,
    /// Chiefly a person's name ("stanley", "bosch", "gillette"): before a
    /// product it names the maker.
    pub person_name: bool,
    /// WordNet writes the noun's first sense capitalised: a name, of a
    /// person, a place or a thing one maker makes ("kleenex", "lego").
    pub name: bool,
}

/// The word list, read on first use.
pub fn words() -> &'static FastMap<&'static str, WordInfo> {
    static WORDS: OnceLock<FastMap<&'static str, WordInfo>> = OnceLock::new();
    WORDS.get_or_init(|| {
        let mut map = FastMap::default();
        for line in WORDNET_WORDS.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut fields = line.split(' ');
            let (Some(word), Some(pos)) = (fields.next(), fields.next()) else {
                continue;
            };
            let thing_share = fields
                .next()
                .and_then(|s| s.parse::<u8>().ok())
                .unwrap_or(0);
            map.insert(
                word,
                WordInfo {
                    noun: pos.contains('n'),
                    verb: pos.contains('v'),
                    adjective: pos.contains('a'),
                    adverb: pos.contains('r'),
                    thing_share,
                    person_name: pos.contains('p'),
                    name: pos.contains('c'),
                },
            );
        }
        map
    })
}

/// The word as WordNet lists it, or as the singular of a regular plural
/// ("candles", "boxes", "berries", "loaves", "knives"). Where both readings exist the noun
/// with more of its meaning a thing wins: "nuts" is an adjective and the
/// plural of "nut", "cleaners" a shop and the plural of "cleaner".
pub fn lookup(word: &str) -> Option<WordInfo> {
    let words = words();
    let exact = words.get(word).copied();
    let word = word.strip_suffix("'s").unwrap_or(word);
    // "berries" -> "berry" needs a new string; "boxes" and "candles" are
    // slices of the word.
    let berry = word.strip_suffix("ies").map(|stem| format!("{stem}y"));
    // "loaves" -> "loaf", "knives" -> "knife".
    let loaf = word.strip_suffix("ves").map(|stem| format!("{stem}f"));
    let knife = word.strip_suffix("ves").map(|stem| format!("{stem}fe"));
    let singular = [
        berry.as_deref(),
        loaf.as_deref(),
        knife.as_deref(),
        word.strip_suffix("es"),
        word.strip_suffix('s'),
    ]
    .into_iter()
    .flatten()
    .filter_map(|stem| words.get(stem).copied().filter(|info| info.noun))
    .max_by_key(|info| info.thing_share);
    match (exact, singular) {
        (Some(exact), Some(singular))
            if !exact.noun || singular.thing_share > exact.thing_share =>
        {
            Some(singular)
        }
        (Some(exact), _) => Some(exact),
        (None, singular) => singular,
    }
}

/// Whether `word` is a regular form of a word WordNet knows: "-ing",
/// "-ed", "-y", "-ly", "-able", "-less" and the like after its stem
/// ("potting", "paddling", "scented", "crunchy", "dimmable"), "un-", "non-" or
/// "pre-" before it ("unscented", "non-stick", "pre-lit"), or two
/// neighbouring letters swapped ("hoem"): words no list names outright but
/// that are no names either.
pub fn is_word_form(word: &str) -> bool {
    if is_word(word) {
        return true;
    }
    for prefix in ["non-", "non", "un", "pre-", "pre"] {
        if let Some(rest) = word.strip_prefix(prefix) {
            if rest.len() >= 3 && is_word_form(rest) {
                return true;
            }
        }
    }
    // "two-person", "easy-to-use": every part a word of two letters or more.
    if word.contains('-') {
        return word
            .split('-')
            .all(|part| part.len() >= 2 && is_word_form(part));
    }
    for suffix in [
        "ing", "ed", "ly", "y", "able", "ible", "less", "ful", "er", "est", "ness",
    ] {
        let Some(stem) = word.strip_suffix(suffix) else {
            continue;
        };
        if stem.len() < 3 {
            continue;
        }
        // "potting" -> "pot", "paddling" -> "paddle", "crunchy" -> "crunch".
        let undoubled = stem
            .chars()
            .last()
            .filter(|&last| stem[..stem.len() - last.len_utf8()].ends_with(last))
            .map(|last| &stem[..stem.len() - last.len_utf8()]);
        if is_word(stem) || is_word(&format!("{stem}e")) || undoubled.is_some_and(is_word) {
            return true;
        }
    }
    let chars: Vec<char> = word.chars().collect();
    (0..chars.len().saturating_sub(1)).any(|i| {
        let mut swapped = chars.clone();
        swapped.swap(i, i + 1);
        swapped != chars && is_word(&swapped.iter().collect::<String>())
    })
}

/// Whether `word` is an English word WordNet knows (or a regular plural of
/// one).
pub fn is_word(word: &str) -> bool {
    lookup(word).is_some()
}

const DICTIONARY_WORDS: &str = include_str!("../../rules/english/dictionary-words.txt");

/// Whether `word` is in the dictionary of English words WordNet lacks
/// (`rules/english/dictionary-words.txt`, from SCOWL): "basmati", "chia",
/// "hypoallergenic", "bestselling". They say nothing of a word's part of
/// speech, only that it is English and so no maker's name.
pub fn in_dictionary(word: &str) -> bool {
    static WORDS: OnceLock<super::FastSet<&'static str>> = OnceLock::new();
    WORDS
        .get_or_init(|| {
            DICTIONARY_WORDS
                .lines()
                .filter(|line| !line.starts_with('#'))
                .collect()
        })
        .contains(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn things_and_not_things() {
        for (word, thing) in [
            ("popcorn", true),
            ("candles", true),
            ("salt", true),
            ("berries", true),
            ("loaves", true),
            ("knives", true),
            ("time", false),
            ("break", false),
            ("help", false),
        ] {
            let info = lookup(word).unwrap_or_else(|| panic!("{word} is in WordNet"));
            assert!(info.noun, "{word}");
            assert_eq!(info.thing_share >= 4, thing, "{word}: {info:?}");
        }
        assert!(lookup("mivofun").is_none());
        for (word, english) in [("basmati", true), ("chia", true), ("zentrova", false)] {
            assert_eq!(in_dictionary(word), english, "{word}");
        }
        for form in [
            "potting",
            "paddling",
            "unscented",
            "crunchy",
            "non-stick",
            "hoem",
            "two-person",
            "pre-lit",
        ] {
            assert!(is_word_form(form), "{form}");
        }
        for name in ["zorblax", "logitech", "maybelline", "dyson", "oral-b"] {
            assert!(!is_word_form(name), "{name}");
        }
        assert!(!lookup("quickly").is_some_and(|i| i.noun));
        for (word, name) in [
            ("stanley", true),
            ("bosch", true),
            ("weber", true),
            ("tumbler", false),
            ("french", false),
            ("christmas", false),
        ] {
            assert_eq!(lookup(word).is_some_and(|i| i.person_name), name, "{word}");
        }
        for (word, name) in [("kleenex", true), ("lego", true), ("parachute", false)] {
            assert_eq!(lookup(word).is_some_and(|i| i.name), name, "{word}");
        }
    }
}
