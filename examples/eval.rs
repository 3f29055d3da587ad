//! Scores the shipped rules on a labelled corpus, as `concierge eval intents`
//! does: `cargo run --release --example eval -- DATA [LABEL_MAP] [--json]`.

use concierge::intent::Parser;
use concierge::rules::CompiledRules;
use std::path::Path;
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let paths: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let Some(data) = paths.first() else {
        return Err("usage: eval DATA [LABEL_MAP] [--json]".into());
    };
    let rules =
        concierge::rules::load(Path::new("rules")).or_else(|_| CompiledRules::embedded())?;
    let parser = Parser::new(Arc::new(rules));
    let report = concierge::eval::run_intents(
        &parser,
        Path::new(data),
        paths.get(1).map(|p| Path::new(p.as_str())),
        None,
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.render(usize::MAX));
    }
    Ok(())
}
