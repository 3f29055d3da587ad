//! tantivy's `en_stem` analyzer with a memo in front of the stemmer.
//!
//! Stemming was about a twentieth of the time an index build takes: a
//! catalog repeats a small vocabulary ("sweater", "merino", "crew") over
//! and over, and the Snowball stemmer works each one out again. This filter
//! gives exactly the stems of tantivy's `Stemmer` (the same algorithm from
//! the same crate) and remembers them per thread. It is registered under
//! the name `en_stem`, so the schema and the stems are unchanged.

use std::cell::RefCell;
use std::collections::HashMap;
use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};

/// Words a thread remembers before it starts over: bounds the memo when a
/// catalog's vocabulary is large (about 50 bytes a word).
const MEMO_WORDS: usize = 200_000;

thread_local! {
    static STEMS: RefCell<HashMap<String, String>> = RefCell::new(HashMap::new());
    static ENGLISH: rust_stemmers::Stemmer =
        rust_stemmers::Stemmer::create(rust_stemmers::Algorithm::English);
}

/// The analyzer tantivy registers as `en_stem`, with the memo.
pub fn english_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(MemoStemmer)
        .build()
}

/// English stemming, remembered per thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemoStemmer;

impl TokenFilter for MemoStemmer {
    type Tokenizer<T: Tokenizer> = MemoStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> MemoStemmerFilter<T> {
        MemoStemmerFilter { inner: tokenizer }
    }
}

#[derive(Debug, Clone)]
pub struct MemoStemmerFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for MemoStemmerFilter<T> {
    type TokenStream<'a> = MemoStemmerTokenStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        MemoStemmerTokenStream {
            tail: self.inner.token_stream(text),
        }
    }
}

pub struct MemoStemmerTokenStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for MemoStemmerTokenStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        STEMS.with(|stems| {
            let mut stems = stems.borrow_mut();
            if let Some(stem) = stems.get(token.text.as_str()) {
                token.text.clear();
                token.text.push_str(stem);
                return;
            }
            let stem = ENGLISH.with(|english| english.stem(&token.text).into_owned());
            if stems.len() >= MEMO_WORDS {
                stems.clear();
            }
            let word = std::mem::replace(&mut token.text, stem.clone());
            stems.insert(word, stem);
        });
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(mut analyzer: TextAnalyzer, text: &str) -> Vec<String> {
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    }

    #[test]
    fn stems_equal_tantivys_en_stem_twice_over() {
        let text = "Running runners ran; the Sweaters' knitted HOODIES, merino-wool \
                    crews and crewneck T-shirts. Generously sized, generously priced! \
                    Waterproofing waterproofed jackets, caf\u{e9}s, na\u{ef}ve r\u{e9}sum\u{e9}s";
        let tantivy = tantivy::tokenizer::TokenizerManager::default()
            .get("en_stem")
            .unwrap();
        let expected = tokens(tantivy, text);
        assert!(expected.len() > 20);
        // The second pass reads every stem from the memo.
        for _ in 0..2 {
            assert_eq!(tokens(english_analyzer(), text), expected);
        }
    }
}
