//! Makers' names as the shopper typed them: "add Wilder Pines chicken
//! pellets", "do you stock Saltmarsh Candle Co. wax melts". A run of
//! capitalised words in otherwise lowercase writing is a name, even when
//! each of its words is an English word, so it is read as one word.

use super::{Parser, COMPANY_WORDS};
use crate::rules::LexSlot;

/// Words capitalised for themselves, never a name's: "I", "I'm", "OK".
const ALWAYS_CAPITALISED: &[&str] = &["i", "i'm", "i'd", "i'll", "i've", "ok"];

impl Parser {
    /// The names of two or more capitalised words in `text` as typed,
    /// lowercased, their words joined by one space: "wilder pines",
    /// "saltmarsh candle co". None when the text is capitalised throughout
    /// (Title Case or shouting), since capitals then say nothing. A
    /// sentence's first word is left out when it is an English word ("Get
    /// the ..."), a name opening with a stopword is a title ("The Thursday
    /// Murder Club"), a product word closing it is the product ("Samsung
    /// TV"), and a name the rule files already know is left to them.
    pub(super) fn capitalised_names(&self, text: &str) -> Vec<String> {
        // Most requests are typed in lowercase: nothing to read, on the
        // parse path.
        if !text.chars().any(char::is_uppercase) {
            return Vec::new();
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let capitalised = |word: &str| word.chars().next().is_some_and(char::is_uppercase);
        let shouting = !text.chars().any(char::is_lowercase);
        if shouting || words.iter().filter(|w| capitalised(w)).count() * 2 > words.len() {
            return Vec::new();
        }
        let mut names = Vec::new();
        let mut run: Vec<String> = Vec::new();
        let mut run_opens_sentence = false;
        let mut sentence_start = true;
        for raw in &words {
            let core = raw.trim_matches(|c: char| !c.is_alphanumeric());
            let lower = core.to_lowercase();
            let in_name = capitalised(core)
                && core
                    .chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '\'' | '-' | '&'))
                && !ALWAYS_CAPITALISED.contains(&lower.as_str());
            if in_name {
                if run.is_empty() {
                    run_opens_sentence = sentence_start;
                }
                run.push(lower);
            } else {
                self.close_name(&mut run, run_opens_sentence, &mut names);
            }
            let ends = raw.ends_with(['.', ',', '!', '?', ';', ':']);
            sentence_start = raw.ends_with(['.', '!', '?']);
            if ends {
                self.close_name(&mut run, run_opens_sentence, &mut names);
            }
        }
        self.close_name(&mut run, run_opens_sentence, &mut names);
        names
    }

    /// Ends the run of capitalised words `run`, keeping it in `names` when
    /// it is a name (see [`Parser::capitalised_names`]).
    fn close_name(&self, run: &mut Vec<String>, opens_sentence: bool, names: &mut Vec<String>) {
        let mut words = std::mem::take(run);
        let english = |word: &str| {
            self.rules.stopwords.contains(word)
                || self.rules.known_words.contains(word)
                || crate::rules::english::is_word(word)
                || crate::rules::english::in_dictionary(word)
        };
        if opens_sentence && words.first().is_some_and(|word| english(word)) {
            words.remove(0);
        }
        if words
            .first()
            .is_some_and(|word| self.rules.stopwords.contains(word.as_str()))
        {
            return;
        }
        while words.len() > 1
            && words.last().is_some_and(|word| {
                !COMPANY_WORDS.contains(&word.as_str())
                    && self
                        .rules
                        .lexicon
                        .lookup(word)
                        .iter()
                        .any(|hit| hit.slot == LexSlot::Product)
            })
        {
            words.pop();
        }
        if words.len() < 2 {
            return;
        }
        let name = words.join(" ");
        let known = !self.rules.lexicon.lookup(&name).is_empty()
            || self.listed_brand(&words[0])
            || self
                .rules
                .known_brands
                .contains(format!("{}{}", words[0], words[1]).as_str())
            || words
                .iter()
                .all(|word| !self.rules.lexicon.lookup(word).is_empty());
        if !known {
            names.push(name);
        }
    }
}
