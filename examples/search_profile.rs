//! Times searches over an existing index: `search_profile DIR [ROUNDS]`.
use concierge::bench::search::bench_requests;
use concierge::catalog::index::CatalogIndex;
use concierge::catalog::search::queries_for_request;
use concierge::intent::Parser;
use concierge::rules::CompiledRules;
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let index = CatalogIndex::open(std::path::Path::new(&args[1])).unwrap();
    let rounds: usize = args.get(2).map(|r| r.parse().unwrap()).unwrap_or(3);
    let rules = Arc::new(CompiledRules::embedded().unwrap());
    let parser = Parser::new(rules);
    let queries: Vec<_> = bench_requests(300)
        .iter()
        .flat_map(|t| queries_for_request(&parser.parse(t)))
        .collect();
    let mut samples = Vec::new();
    for _ in 0..rounds {
        for q in &queries {
            let started = Instant::now();
            let r = index.search(q).unwrap();
            samples.push(started.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(r);
        }
    }
    if std::env::var("SLOW").is_ok() {
        let mut per: Vec<(f64, String, usize)> = queries
            .iter()
            .map(|q| {
                let started = Instant::now();
                let r = index.search(q).unwrap();
                (
                    started.elapsed().as_secs_f64() * 1e6,
                    q.describe(),
                    r.offers.len(),
                )
            })
            .collect();
        per.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap());
        for (t, d, n) in per.iter().take(15) {
            println!("{t:.0} us  {n} offers  {d}");
        }
        for (t, d, n) in per.iter().rev().take(5) {
            println!("{t:.0} us  {n} offers  {d}");
        }
    }
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    println!(
        "n {} p50 {:.0} p90 {:.0} p99 {:.0} max {:.0}",
        samples.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}
