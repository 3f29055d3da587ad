//! Criterion benchmarks of the catalog: search from a parsed request to
//! grouped offers over 20,000 generated products, and feed parsing.
//! `cargo bench --bench search`. For the large-scale figures (100,000 and
//! 1,000,000 products, side by side with SQLite FTS5) use
//! `concierge bench search --products N` instead.

use concierge::bench::search::{bench_requests, scaled_catalogs};
use concierge::catalog::feed::{parse_jsonl, to_jsonl};
use concierge::catalog::search::queries_for_request;
use concierge::catalog::CatalogIndex;
use concierge::intent::Parser;
use concierge::rules::CompiledRules;
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::Arc;

fn search(c: &mut Criterion) {
    let rules = Arc::new(CompiledRules::embedded().expect("embedded rules"));
    let dir = tempfile::tempdir().expect("temp dir");
    let catalogs = scaled_catalogs(20_000);
    let index = CatalogIndex::build(dir.path(), &catalogs, &rules).expect("index");
    let parser = Parser::new(rules.clone());
    let queries: Vec<_> = bench_requests(50)
        .iter()
        .flat_map(|text| queries_for_request(&parser.parse(text)))
        .collect();
    let mut next = 0;
    c.bench_function(
        "search 20k products, parsed request to grouped offers",
        |b| {
            b.iter(|| {
                next = (next + 1) % queries.len();
                black_box(index.search(&queries[next]).expect("search"))
            })
        },
    );
    let feed = to_jsonl(&catalogs[0].products[..1_000.min(catalogs[0].products.len())]);
    c.bench_function("parse 1,000 ACP JSON Lines products", |b| {
        b.iter(|| black_box(parse_jsonl("bench.jsonl", &feed)))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = search
}
criterion_main!(benches);
