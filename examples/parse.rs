//! Parses each argument with the shipped rules and prints the JSON that
//! `concierge parse` prints: `cargo run --example parse -- "buy a grey hoodie"`.

use concierge::intent::Parser;
use concierge::rules::CompiledRules;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rules = concierge::rules::load(std::path::Path::new("rules"))
        .or_else(|_| CompiledRules::embedded())?;
    let parser = Parser::new(Arc::new(rules));
    for text in std::env::args().skip(1) {
        let json = parser.parse_json(&text);
        println!("{}", serde_json::to_string(&json)?);
    }
    Ok(())
}
