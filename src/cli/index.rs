//! Catalog commands: `index build|generate-demo|load|stats|convert` and
//! `search`. They work on the catalog of record under `--index`, never
//! rebuilding it from another source; `--demo` picks the demo world's index.

use super::{progress_bar, ConvertFormat, IndexCommand};
use anyhow::Context;
use concierge::catalog::record::ParsedFeed;
use concierge::catalog::CatalogIndex;
use concierge::config::Config;
use concierge::negotiate::Outcome;
use concierge::world::demo;
use concierge::{rules, world};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

pub fn run(config: &Config, command: IndexCommand) -> anyhow::Result<i32> {
    match command {
        IndexCommand::Build => {
            let rules = rules::load(&config.rules_dir)?;
            let started = Instant::now();
            let summary = config.catalog_record().rebuild(&rules)?;
            println!(
                "Rebuilt the catalog of record from its kept feeds: {} merchants, {} products, {} variants into {} in {} ms.",
                summary.merchants,
                summary.products,
                summary.variants,
                config.catalog_record().index_dir().display(),
                started.elapsed().as_millis(),
            );
            Ok(0)
        }
        IndexCommand::GenerateDemo => {
            let feeds_dir = config.feeds_dir();
            std::fs::create_dir_all(&feeds_dir)
                .with_context(|| format!("cannot create {}", feeds_dir.display()))?;
            for (name, contents) in demo::feed_files() {
                let path = feeds_dir.join(&name);
                std::fs::write(&path, contents)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
            Ok(0)
        }
        IndexCommand::Load {
            merchant,
            feed,
            json,
        } => {
            let parsed = ParsedFeed::from_file(&feed)?;
            load_feed(config, &merchant, &feed, &parsed, json)
        }
        IndexCommand::Stats { json, demo } => {
            let directory = if demo {
                config.demo_index_dir()
            } else {
                config.catalog_record().index_dir()
            };
            let index = CatalogIndex::open(&directory).with_context(|| {
                if demo {
                    "no demo index yet; `concierge demo` builds it".to_string()
                } else {
                    "no catalog yet; `concierge merchant register` or `concierge index load` adds one"
                        .to_string()
                }
            })?;
            let stats = index.stats()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                print!("{}", stats.render(&directory));
            }
            Ok(0)
        }
        IndexCommand::Convert { format, data, out } => {
            let converted = match format {
                ConvertFormat::Magento => concierge::convert::magento::read_magento_dir(&data)?,
            };
            for problem in &converted.rejected {
                eprintln!("skipped: {problem}");
            }
            std::fs::write(
                &out,
                concierge::catalog::feed::to_jsonl(&converted.products),
            )
            .with_context(|| format!("cannot write {}", out.display()))?;
            let variants: usize = converted.products.iter().map(|p| p.variants.len()).sum();
            println!(
                "Wrote {} products ({variants} variants) to {} ({} rows skipped).",
                converted.products.len(),
                out.display(),
                converted.rejected.len()
            );
            Ok(0)
        }
    }
}

/// Loads `feed` (read from `path`) as merchant `merchant`'s catalog in the
/// catalog of record, and prints what changed. A refused feed is an error:
/// the catalog stays as it was.
pub fn load_feed(
    config: &Config,
    merchant: &str,
    path: &Path,
    feed: &ParsedFeed,
    json: bool,
) -> anyhow::Result<i32> {
    let rules = rules::load(&config.rules_dir)?;
    for problem in feed.read.rejected.iter().take(20) {
        eprintln!("skipped: {problem}");
    }
    if feed.read.rejected.len() > 20 {
        eprintln!(
            "... and {} more rows skipped",
            feed.read.rejected.len() - 20
        );
    }
    let started = Instant::now();
    eprintln!(
        "Loading {} products for merchant {merchant} from {}",
        feed.read.products.len(),
        path.display()
    );
    let progress = progress_bar(feed.read.products.len());
    let summary = config
        .catalog_record()
        .load_merchant(&rules, merchant, feed, &mut |done| {
            if let Some(bar) = &progress {
                bar.set_position(done as u64);
            }
        });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let summary = summary?;
    if json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "Loaded {merchant} from {} in {} ms: {} added, {} updated, {} removed, {} rejected ({} variants).",
            path.display(),
            started.elapsed().as_millis(),
            summary.added,
            summary.updated,
            summary.removed,
            summary.rejected,
            summary.variants
        );
    }
    Ok(0)
}

/// `concierge search`: the catalog of record (or the demo world's index),
/// offers grouped by product. Exit 3 when nothing is found.
pub fn search(config: &Config, text: &str, demo: bool, json: bool) -> anyhow::Result<i32> {
    let rules = rules::load(&config.rules_dir)?;
    let (index, rules) = if demo {
        let (catalogs, rejected) = world::load_catalogs(config)?;
        for problem in &rejected {
            eprintln!("skipped: {problem}");
        }
        let rules = world::with_catalog_terms(rules, &catalogs);
        let (index, _) = world::open_index(config, &catalogs, &rules)?;
        (index, rules)
    } else {
        let (opened, rules) = world::open_record(config, &rules)?;
        if let Some(rebuilt) = &opened.rebuilt {
            eprintln!(
                "note: the catalog was made again from its kept feeds ({} products) for the current rules",
                rebuilt.products
            );
        }
        if opened.manifest.merchants.is_empty() {
            eprintln!(
                "The catalog under {} is empty: `concierge merchant register` or `concierge index load` adds merchants; --demo searches the demo world.",
                config.index_dir.display()
            );
            return Ok(Outcome::NothingFound.exit_code());
        }
        (opened.index, rules)
    };
    let rules = Arc::new(rules);
    let intent = concierge::intent::Parser::new(rules.clone()).parse(text);
    let queries: Vec<_> = concierge::catalog::search::queries_for_request(&intent)
        .into_iter()
        .map(|query| query.with_type_names(&rules))
        .collect();
    let mut results = Vec::new();
    for query in &queries {
        results.push(index.search(query)?);
    }
    if json {
        let body: Vec<serde_json::Value> = queries
            .iter()
            .zip(&results)
            .map(|(query, results)| serde_json::json!({"query": query, "results": results}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"intent": intent, "searches": body}))?
        );
    } else {
        for (query, results) in queries.iter().zip(&results) {
            println!("== {}", query.describe());
            print!("{}", results.render());
        }
    }
    Ok(if results.iter().all(|r| r.offers.is_empty()) {
        Outcome::NothingFound.exit_code()
    } else {
        0
    })
}
