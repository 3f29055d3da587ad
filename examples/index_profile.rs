//! Times building the index from the feeds a bench left behind:
//! `index_profile WORK_DIR [ROUNDS]` (the `*.jsonl` feeds of
//! `concierge bench search --work-dir WORK_DIR`).
use concierge::catalog::index::IndexBuilder;
use concierge::rules::CompiledRules;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::Path::new(&args[1]);
    let rounds: usize = args.get(2).map(|r| r.parse().unwrap()).unwrap_or(1);
    let rules = CompiledRules::embedded().unwrap();
    let mut feeds: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    feeds.sort();
    for _ in 0..rounds {
        let started = Instant::now();
        let mut parse_seconds = 0.0;
        let mut products = 0;
        // As the bench does: feed by feed, in runs through one reused buffer.
        let mut buffer = Vec::new();
        let out = dir.join("index-profile");
        let mut builder = IndexBuilder::create(&out).unwrap();
        for path in &feeds {
            let parsing = Instant::now();
            let id = path.file_stem().unwrap().to_string_lossy().to_string();
            let load = builder
                .add_jsonl_file(&rules, &id, path, &mut buffer)
                .unwrap();
            parse_seconds += parsing.elapsed().as_secs_f64();
            products += load.products;
        }
        builder.finish().unwrap();
        let total = started.elapsed().as_secs_f64();
        println!(
            "read + parse + documents {parse_seconds:.2} s, total {total:.2} s, {:.0} products/s",
            products as f64 / total
        );
        let _ = std::fs::remove_dir_all(&out);
    }
}
