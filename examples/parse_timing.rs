//! Times reading and parsing one JSON Lines feed: `parse_timing FILE`.
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).expect("a feed file");
    let started = Instant::now();
    let text = std::fs::read_to_string(&path).unwrap();
    let read_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let read = concierge::catalog::feed::parse_jsonl(&path, &text);
    let parse_s = started.elapsed().as_secs_f64();
    println!(
        "{} products, read {read_s:.3} s, parse {parse_s:.3} s",
        read.products.len()
    );
}
