//! Parser speed, in release mode (`cargo bench --bench parse`):
//! - a 10-word request against vocabularies of 10,000 and 100,000 terms
//!   (rules plus synthetic catalog terms), rules compiled once; targets:
//!   p50 <= 10 µs and p99 <= 50 µs at 10k, p99 <= 1 ms at 100k;
//! - loading and compiling all embedded rules: target <= 50 ms.
//!
//! Criterion reports means and medians; the percentile targets are checked
//! by a per-call timing loop (`concierge::intent::timing::time_parse`) whose
//! p50/p99 are printed before the criterion groups run.

use concierge::intent::timing::{synthetic_terms, time_parse};
use concierge::intent::Parser;
use concierge::rules::CompiledRules;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

/// Ten-word requests: a plain one, one with typos and a price, one naming
/// a catalog brand.
const REQUESTS: &[&str] = &[
    "buy me a gray turtleneck sweater in medium under $50",
    "i want two blak swetters in large for 40 euros",
    "show me navy kabetoun hoodies and wool socks, not red",
];

fn parser_with_vocabulary(total_terms: usize) -> Parser {
    let mut rules = CompiledRules::embedded().expect("embedded rules compile");
    let rule_terms = rules.lexicon.phrases.len();
    let extra = total_terms.saturating_sub(rule_terms);
    rules.extend_lexicon(synthetic_terms(extra));
    Parser::new(Arc::new(rules))
}

fn percentiles() {
    let start = Instant::now();
    let runs = 20;
    for _ in 0..runs {
        black_box(CompiledRules::embedded().expect("embedded rules compile"));
    }
    println!(
        "load+compile all rules: {:.2} ms per run (mean of {runs})",
        start.elapsed().as_secs_f64() * 1e3 / runs as f64
    );
    for terms in [10_000, 100_000] {
        let parser = parser_with_vocabulary(terms);
        let vocabulary = parser.rules().lexicon.phrases.len();
        let timing = time_parse(&parser, REQUESTS, 30_000);
        println!("parse, {vocabulary} lexicon phrases: {timing}");
    }
}

fn benches(c: &mut Criterion) {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and
    // then only criterion's quick smoke run should happen.
    if std::env::args().any(|arg| arg == "--bench") {
        percentiles();
    }
    c.bench_function("load_and_compile_rules", |b| {
        b.iter(|| black_box(CompiledRules::embedded().expect("embedded rules compile")))
    });
    for terms in [10_000, 100_000] {
        let parser = parser_with_vocabulary(terms);
        c.bench_function(&format!("parse_10_words_{terms}_terms"), |b| {
            b.iter(|| black_box(parser.parse(black_box(REQUESTS[0]))))
        });
        c.bench_function(&format!("parse_10_words_typos_{terms}_terms"), |b| {
            b.iter(|| black_box(parser.parse(black_box(REQUESTS[1]))))
        });
    }
}

criterion_group! {
    name = parse;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(parse);
