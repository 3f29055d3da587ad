//! Per-call parse percentiles at 10,000 and 100,000 vocabulary terms, as
//! the bench prints them, without criterion: `cargo run --release --example
//! timing [CALLS]`.

use concierge::intent::timing::{synthetic_terms, time_parse};
use concierge::intent::Parser;
use concierge::rules::CompiledRules;
use std::sync::Arc;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var("PROFILE_LOAD").is_ok() {
        // Load and compile the rules in a loop, for `perf record`.
        for _ in 0..100 {
            std::hint::black_box(CompiledRules::embedded()?);
        }
        return Ok(());
    }
    if let Ok(request) = std::env::var("PROFILE_REQUEST") {
        // Parse one request in a loop, for `perf record` (PROFILE_TERMS sets
        // the vocabulary size, 10,000 by default).
        let mut rules = CompiledRules::embedded()?;
        let terms: usize = std::env::var("PROFILE_TERMS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(10_000);
        let extra = terms.saturating_sub(rules.lexicon.phrases.len());
        rules.extend_lexicon(synthetic_terms(extra));
        let parser = Parser::new(Arc::new(rules));
        for _ in 0..300_000 {
            std::hint::black_box(parser.parse(std::hint::black_box(&request)));
        }
        return Ok(());
    }
    let calls: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(30_000);
    let start = Instant::now();
    let runs = 20;
    for _ in 0..runs {
        std::hint::black_box(CompiledRules::embedded()?);
    }
    println!(
        "load+compile all rules: {:.2} ms per run",
        start.elapsed().as_secs_f64() * 1e3 / runs as f64
    );
    let requests = [
        "buy me a gray turtleneck sweater in medium under $50",
        "i want two blak swetters in large for 40 euros",
        "show me navy kabetoun hoodies and wool socks, not red",
    ];
    for terms in [10_000, 100_000] {
        let mut rules = CompiledRules::embedded()?;
        let extra = terms - rules.lexicon.phrases.len();
        rules.extend_lexicon(synthetic_terms(extra));
        let parser = Parser::new(Arc::new(rules));
        for request in requests {
            println!(
                "{terms} terms, {request:?}: {}",
                time_parse(&parser, &[request], calls)
            );
        }
        // Pieces: the intent patterns alone.
        let text = requests[0];
        let start = Instant::now();
        for _ in 0..calls {
            for rule in &parser.rules().intents {
                for pattern in &rule.patterns {
                    std::hint::black_box(pattern.find(text));
                }
            }
            for rule in &parser.rules().prices {
                std::hint::black_box(rule.pattern.captures_iter(text).count());
            }
        }
        let all: Vec<String> = parser
            .rules()
            .intents
            .iter()
            .flat_map(|r| r.patterns.iter().map(|p| p.as_str().to_string()))
            .chain(
                parser
                    .rules()
                    .prices
                    .iter()
                    .map(|r| r.pattern.as_str().to_string()),
            )
            .collect();
        let ascii = |p: &str| {
            p.replace("\\b", "(?-u:\\b)")
                .replace("\\w", "(?-u:\\w)")
                .replace("\\s", "(?-u:\\s)")
                .replace("\\d", "(?-u:\\d)")
        };
        let t = Instant::now();
        for p in &all {
            std::hint::black_box(regex::Regex::new(p)?);
        }
        println!(
            "  individually compiled in {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        let t = Instant::now();
        for p in &all {
            std::hint::black_box(regex::Regex::new(&ascii(p))?);
        }
        println!(
            "  ascii individually compiled in {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        let t = Instant::now();
        let aset = regex::RegexSet::new(all.iter().map(|p| ascii(p)))?;
        println!(
            "  ascii set compiled in {:.2} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        let start2 = Instant::now();
        for _ in 0..calls {
            for r in requests {
                std::hint::black_box(aset.matches(r));
            }
        }
        println!(
            "  ascii regex set per text: {:.2} µs",
            start2.elapsed().as_secs_f64() * 1e6 / calls as f64 / 3.0
        );
        let t = Instant::now();
        let set = regex::RegexSet::new(&all)?;
        println!(
            "  set of {} compiled in {:.2} ms",
            all.len(),
            t.elapsed().as_secs_f64() * 1e3
        );
        let start2 = Instant::now();
        for _ in 0..calls {
            for r in requests {
                std::hint::black_box(set.matches(r));
            }
        }
        println!(
            "  regex set per text: {:.2} µs",
            start2.elapsed().as_secs_f64() * 1e6 / calls as f64 / 3.0
        );
        println!(
            "  intent+price patterns alone: {:.2} µs",
            start.elapsed().as_secs_f64() * 1e6 / calls as f64
        );
    }
    Ok(())
}
