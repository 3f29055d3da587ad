//! Typo tolerance: a SymSpell-style index of deletions over the single words
//! of the vocabulary, verified with `strsim`'s optimal-string-alignment
//! distance (Damerau–Levenshtein where each substring is edited once, so a
//! swapped pair of letters, "cancle" for "cancel", costs 1).
//!
//! Thresholds (documented in `rules/lexicon.toml` and ARCHITECTURE notes):
//! - words shorter than [`MIN_TYPO_LEN`] (4) are never corrected: "hat" and
//!   "cat" are too close to everything;
//! - 4 to 7 letters: at most 1 edit ("blak" -> "black", "shwo" -> "show");
//! - 8 letters or more: at most 2 edits ("tutleneck" -> "turtleneck");
//! - the first letter must match: shoppers rarely mistype it, and the rule
//!   removes most false corrections of real words;
//! - the best candidate must be unique: two candidates at the same distance
//!   is ambiguity, and ambiguity is declined, not guessed.
//!
//! Why an index: the vocabulary grows with the catalog (100,000 terms and
//! more), and comparing every unknown word with every vocabulary word would
//! cost a full scan per word. Instead every vocabulary word stores the hashes
//! of its deletions (up to 2 letters removed); a query generates its own
//! deletions and looks them up in a bucketed table. Two words within edit
//! distance k always share a string reachable by at most k deletions from
//! each, so no candidate is missed; hash collisions only add candidates,
//! which the exact distance check then rejects.

use super::FastSet;

/// Words shorter than this are never corrected.
pub const MIN_TYPO_LEN: usize = 4;
/// Words of this length or longer may be 2 edits away; shorter ones 1.
pub const LONG_WORD_LEN: usize = 8;

/// The largest edit distance tolerated for a word of `len` characters.
pub fn max_distance(len: usize) -> usize {
    if len < MIN_TYPO_LEN {
        0
    } else if len < LONG_WORD_LEN {
        1
    } else {
        2
    }
}

/// A deletion index over a set of words.
#[derive(Debug, Clone, Default)]
pub struct FuzzyIndex {
    words: Vec<String>,
    present: FastSet<String>,
    /// (hash of a deletion variant, index into `words`), sorted.
    deletes: Vec<(u64, u32)>,
    /// `buckets[b]` is the first entry of `deletes` whose hash starts with
    /// the `bucket_bits` bits `b`: a lookup reads one short run instead of
    /// binary-searching the whole table.
    buckets: Vec<u32>,
    bucket_bits: u32,
}

/// FNV-1a over whole characters (one multiply per character, not four per
/// byte), then splitmix64's finalizer so that the top bits, which pick the
/// bucket, depend on every character. Fast for short strings and stable;
/// good enough because every candidate is verified by its real distance.
fn hash_variant(first: char, rest: &[char]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for c in std::iter::once(&first).chain(rest) {
        hash ^= u64::from(u32::from(*c));
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// Calls `visit` with every string reachable from `chars` by deleting up to
/// `depth` (at most 2) characters, the word itself included. Duplicates are
/// possible and harmless. Words of up to [`STACK_WORD`] characters use stack
/// buffers: this runs for every unknown word of every request.
fn for_each_deletion(chars: &[char], depth: usize, visit: &mut dyn FnMut(&[char])) {
    visit(chars);
    if depth == 0 || chars.is_empty() {
        return;
    }
    let len = chars.len();
    let mut stack = [['\0'; STACK_WORD]; 2];
    let mut heap: [Vec<char>; 2];
    let [once, twice]: [&mut [char]; 2] = if len <= STACK_WORD {
        let [a, b] = &mut stack;
        [&mut a[..], &mut b[..]]
    } else {
        heap = [vec!['\0'; len], vec!['\0'; len]];
        let [a, b] = &mut heap;
        [&mut a[..], &mut b[..]]
    };
    for skip in 0..len {
        // Deleting a letter equal to its left neighbour gives the same
        // string as deleting that neighbour.
        if skip > 0 && chars[skip] == chars[skip - 1] {
            continue;
        }
        once[..skip].copy_from_slice(&chars[..skip]);
        once[skip..len - 1].copy_from_slice(&chars[skip + 1..]);
        let once = &once[..len - 1];
        visit(once);
        if depth < 2 {
            continue;
        }
        for skip2 in 0..once.len() {
            if skip2 > 0 && once[skip2] == once[skip2 - 1] {
                continue;
            }
            twice[..skip2].copy_from_slice(&once[..skip2]);
            twice[skip2..len - 2].copy_from_slice(&once[skip2 + 1..]);
            visit(&twice[..len - 2]);
        }
    }
}

/// Longest word whose deletions are built in stack buffers.
const STACK_WORD: usize = 32;

impl FuzzyIndex {
    /// Builds the index over `words` (lowercase single words). Words shorter
    /// than [`MIN_TYPO_LEN`] are left out: "busy" is one edit from "buy", and
    /// short targets attract too many real words.
    pub fn build<I, S>(words: I) -> FuzzyIndex
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut index = FuzzyIndex::default();
        index.extend(words);
        index
    }

    /// Adds words and rebuilds the sorted deletion table.
    pub fn extend<I, S>(&mut self, words: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for word in words {
            let word = word.as_ref();
            let chars: Vec<char> = word.chars().collect();
            if chars.len() < MIN_TYPO_LEN
                || !chars.iter().all(|c| c.is_alphabetic())
                || self.present.contains(word)
            {
                continue;
            }
            let id = self.words.len() as u32;
            self.words.push(word.to_string());
            self.present.insert(word.to_string());
            // A query of length >= 8 may be 2 edits away and be up to 2
            // letters longer, so words of 6 letters and more keep 2 levels.
            let depth = if chars.len() + 2 >= LONG_WORD_LEN {
                2
            } else {
                1
            };
            let deletes = &mut self.deletes;
            // The first letter is fixed (see the module docs), so deletions
            // are taken from the rest of the word only.
            let first = chars[0];
            for_each_deletion(&chars[1..], depth, &mut |variant| {
                deletes.push((hash_variant(first, variant), id));
            });
        }
        self.deletes.sort_unstable();
        self.deletes.dedup();
        // About one entry per bucket.
        self.bucket_bits = (usize::BITS - self.deletes.len().leading_zeros()).clamp(1, 24);
        let n_buckets = 1usize << self.bucket_bits;
        self.buckets = Vec::with_capacity(n_buckets + 1);
        let mut at = 0usize;
        for bucket in 0..=n_buckets {
            while at < self.deletes.len() && self.bucket_of(self.deletes[at].0) < bucket {
                at += 1;
            }
            self.buckets.push(at as u32);
        }
    }

    fn bucket_of(&self, hash: u64) -> usize {
        (hash >> (64 - self.bucket_bits)) as usize
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    pub fn contains(&self, word: &str) -> bool {
        self.present.contains(word)
    }

    /// The vocabulary word closest to `word` within the thresholds, with its
    /// distance, or `None` when there is none or the best is not unique.
    /// A word in the vocabulary is returned as itself at distance 0.
    pub fn correct(&self, word: &str) -> Option<(&str, usize)> {
        if let Some(known) = self.present.get(word) {
            return Some((known.as_str(), 0));
        }
        let chars: Vec<char> = word.chars().collect();
        let limit = max_distance(chars.len());
        if limit == 0 || self.deletes.is_empty() || !chars.iter().all(|c| c.is_alphabetic()) {
            return None;
        }
        let first = chars[0];
        let mut candidates: Vec<u32> = Vec::new();
        for_each_deletion(&chars[1..], limit, &mut |variant| {
            let key = hash_variant(first, variant);
            let bucket = self.bucket_of(key);
            let (from, to) = (
                self.buckets[bucket] as usize,
                self.buckets[bucket + 1] as usize,
            );
            for (hash, id) in &self.deletes[from..to] {
                if *hash == key {
                    candidates.push(*id);
                }
            }
        });
        candidates.sort_unstable();
        candidates.dedup();
        let mut best_distance = usize::MAX;
        let mut best: Vec<u32> = Vec::new();
        for id in candidates {
            let candidate = &self.words[id as usize];
            if candidate.chars().count().abs_diff(chars.len()) > limit {
                continue;
            }
            let distance = strsim::osa_distance(word, candidate);
            if distance > limit || distance > best_distance {
                continue;
            }
            if distance < best_distance {
                best_distance = distance;
                best.clear();
            }
            best.push(id);
        }
        // A tie goes to the one candidate that ends as the typo does:
        // "orderr" is "order", not "orders"; "deliverd" is "delivered".
        if best.len() > 1 {
            let last = chars.last().copied();
            best.retain(|&id| self.words[id as usize].chars().last() == last);
        }
        match best.as_slice() {
            [id] => Some((self.words[*id as usize].as_str(), best_distance)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> FuzzyIndex {
        FuzzyIndex::build([
            "turtleneck",
            "sweater",
            "black",
            "cancel",
            "show",
            "hoodie",
            "blue",
            "boots",
            "bolts",
            "order",
            "orders",
            "buy",
        ])
    }

    fn check(word: &str, expected: Option<&str>) {
        assert_eq!(
            index().correct(word).map(|(w, _)| w),
            expected,
            "correcting {word:?}"
        );
    }

    #[test]
    fn corrects_typos_within_thresholds() {
        check("tutleneck", Some("turtleneck"));
        check("turtlenekc", Some("turtleneck"));
        check("swetter", Some("sweater"));
        check("blak", Some("black"));
        check("cancle", Some("cancel"));
        check("shwo", Some("show"));
        check("hoodei", Some("hoodie"));
        check("black", Some("black"));
    }

    #[test]
    fn declines_short_distant_ambiguous_or_first_letter_typos() {
        // Too short, or a too-short target.
        check("blu", None);
        check("busy", None);
        // Two edits in a 5-letter word.
        check("blxkk", None);
        // First letter wrong.
        check("vlack", None);
        // "boits" is one edit from both "boots" and "bolts".
        check("boits", None);
        // One edit from "order" and "orders": the one that ends as the
        // typo does.
        check("orderr", Some("order"));
        check("ordera", None);
        // Not alphabetic.
        check("2xll", None);
    }

    #[test]
    fn words_longer_than_the_stack_buffers_are_corrected() {
        let long = "supercalifragilisticexpialidociousness";
        assert!(long.len() > STACK_WORD);
        let index = FuzzyIndex::build([long, "sweater"]);
        let typo = long
            .replacen("fragil", "fragl", 1)
            .replacen("docious", "docous", 1);
        assert_eq!(index.correct(&typo), Some((long, 2)));
        assert_eq!(index.correct("sweatr"), Some(("sweater", 1)));
    }

    #[test]
    fn a_large_index_still_finds_the_word() {
        // Synthetic letter-only words: base-26 spellings of 0..20,000.
        let mut words: Vec<String> = (0..20_000u32)
            .map(|mut n| {
                let mut word = String::from("zq");
                for _ in 0..4 {
                    word.push(char::from(b'a' + (n % 26) as u8));
                    n /= 26;
                }
                word
            })
            .collect();
        words.push("northwind".into());
        let index = FuzzyIndex::build(words.iter());
        assert_eq!(index.correct("nortwind").map(|(w, _)| w), Some("northwind"));
    }
}
