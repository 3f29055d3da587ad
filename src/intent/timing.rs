//! Measuring the parser: per-call durations with p50/p99 (criterion reports
//! means and medians, the issue's targets are percentiles), and synthetic
//! catalog vocabularies to grow the lexicon to 10,000 or 100,000 terms.
//! Used by `benches/parse.rs` and meant for a `concierge bench` subcommand.

use super::Parser;
use crate::rules::LexSlot;
use std::time::{Duration, Instant};

/// Percentiles of per-call parse durations.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ParseTiming {
    pub calls: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

impl std::fmt::Display for ParseTiming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} calls: p50 {:.2} µs, p99 {:.2} µs, max {:.2} µs, mean {:.2} µs",
            self.calls,
            self.p50.as_secs_f64() * 1e6,
            self.p99.as_secs_f64() * 1e6,
            self.max.as_secs_f64() * 1e6,
            self.mean.as_secs_f64() * 1e6
        )
    }
}

/// Parses each of `texts` in turn, `calls` times in all, after a short
/// warm-up, and reports the percentiles of the individual call durations.
pub fn time_parse(parser: &Parser, texts: &[&str], calls: usize) -> ParseTiming {
    let calls = calls.max(1);
    if texts.is_empty() {
        return ParseTiming {
            calls: 0,
            p50: Duration::ZERO,
            p99: Duration::ZERO,
            max: Duration::ZERO,
            mean: Duration::ZERO,
        };
    }
    for text in texts.iter().cycle().take(calls.min(1000)) {
        std::hint::black_box(parser.parse(text));
    }
    let mut durations: Vec<Duration> = Vec::with_capacity(calls);
    for text in texts.iter().cycle().take(calls) {
        let start = Instant::now();
        std::hint::black_box(parser.parse(std::hint::black_box(text)));
        durations.push(start.elapsed());
    }
    durations.sort_unstable();
    let at = |q: f64| durations[((durations.len() as f64 - 1.0) * q).round() as usize];
    let total: Duration = durations.iter().sum();
    ParseTiming {
        calls,
        p50: at(0.50),
        p99: at(0.99),
        max: *durations.last().unwrap_or(&Duration::ZERO),
        mean: total / calls as u32,
    }
}

/// `n` made-up catalog terms: pronounceable brand names and two-word product
/// types ("velorin", "kastado bag"), deterministic, letters only, so they
/// exercise both the exact lexicon and the typo index.
pub fn synthetic_terms(n: usize) -> Vec<(LexSlot, String)> {
    const ONSETS: &[&str] = &[
        "b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "kr", "st",
        "tr",
    ];
    const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "ai", "ou"];
    const HEADS: &[&str] = &[
        "bag", "mat", "lamp", "bottle", "stand", "kit", "set", "rack",
    ];
    let syllable = |mut k: usize| {
        let onset = ONSETS[k % ONSETS.len()];
        k /= ONSETS.len();
        let vowel = VOWELS[k % VOWELS.len()];
        format!("{onset}{vowel}")
    };
    let per_syllable = ONSETS.len() * VOWELS.len();
    (0..n)
        .map(|i| {
            // Three syllables plus a final consonant: 126^3 * 6 distinct words.
            let word = format!(
                "{}{}{}{}",
                syllable(i % per_syllable),
                syllable((i / per_syllable) % per_syllable),
                syllable((i / per_syllable / per_syllable) % per_syllable),
                ["n", "r", "s", "l", "x", "m"][(i / per_syllable.pow(3)) % 6]
            );
            if i % 2 == 0 {
                (LexSlot::Brand, word)
            } else {
                (
                    LexSlot::Product,
                    format!("{word} {}", HEADS[i % HEADS.len()]),
                )
            }
        })
        .collect()
}
