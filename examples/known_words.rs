//! Lists the words of a dictionary (one word a line, e.g. SCOWL's
//! /usr/share/dict/american-english) that typo correction would wrongly
//! "correct" into a vocabulary word with the shipped rules. Those words go to
//! the `known_words` of rules/words.toml, so that "busy" never becomes "buy":
//! `cargo run --example known_words -- /usr/share/dict/words`.

use concierge::rules::CompiledRules;
use std::collections::BTreeSet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: known_words DICTIONARY")?;
    let rules = concierge::rules::load(std::path::Path::new("rules"))
        .or_else(|_| CompiledRules::embedded())?;
    let text = std::fs::read_to_string(path)?;
    let mut confusable = BTreeSet::new();
    for word in text.lines() {
        let word = word.trim().to_lowercase();
        if !word.chars().all(|c| c.is_ascii_lowercase()) || rules.known_words.contains(&word) {
            continue;
        }
        if let Some((_, distance)) = rules.fuzzy.correct(&word) {
            if distance > 0 {
                confusable.insert(word);
            }
        }
    }
    for word in confusable {
        println!("{word}");
    }
    Ok(())
}
