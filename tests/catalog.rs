//! The catalog as merchants and shoppers meet it. Properties checked:
//! - reloading a merchant adds, replaces and removes exactly that merchant's
//!   products, reports what it did, and is searchable when it returns;
//! - a load killed half-way leaves the previous committed state intact and
//!   searchable, and the next load works (a real process, really killed);
//! - Merchant Center CSV feeds load through `concierge index load`, bad rows
//!   reported with file:line, and `search` / `index stats` show the result;
//! - search tolerates typos, keeps its hard filters, and ranks exact model
//!   numbers first;
//! - `eval search` prints the documented JSON keys for both input formats;
//! - the Magento Luma catalog converts, and a request for a colour and size
//!   finds a variant with exactly that colour and size (skipped, saying so,
//!   where the data is absent).

mod common;

use common::{concierge, rules, small_catalogs, socks, turtleneck};
use concierge::catalog::index::LoadSummary;
use concierge::catalog::{CatalogIndex, Ranker, SearchQuery};
use concierge::intent::Parser;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

fn built_index(dir: &Path) -> CatalogIndex {
    CatalogIndex::build(dir, &small_catalogs(), &rules()).unwrap()
}

fn ids(index: &CatalogIndex, merchant: &str) -> Vec<String> {
    index
        .product_ids(Some(merchant))
        .unwrap()
        .into_iter()
        .map(|(_, product)| product)
        .collect()
}

fn query(text: &str) -> SearchQuery {
    SearchQuery {
        text: text.into(),
        limit: 10,
        in_stock_only: true,
        currency: Some("USD".into()),
        ..SearchQuery::default()
    }
}

#[test]
fn reloading_a_merchant_replaces_exactly_its_products() {
    let dir = tempfile::tempdir().unwrap();
    let index = built_index(dir.path());
    let rules = rules();
    let mut renamed = turtleneck("A-100", "Alpine Turtleneck Sweater", 4500, &["Gray"], &[]);
    renamed.description = "Now in alpine wool.".into();
    // (merchant, feed, expected summary, expected ids afterwards)
    let table: Vec<(&str, Vec<_>, LoadSummary, Vec<&str>)> = vec![
        (
            "alpha",
            vec![renamed.clone(), socks("A-300", 1200)],
            LoadSummary {
                added: 1,
                updated: 1,
                removed: 1,
                variants: 9,
                ..LoadSummary::default()
            },
            vec!["A-100", "A-300"],
        ),
        (
            "alpha",
            vec![socks("A-300", 1100), socks("A-300", 1000)],
            LoadSummary {
                updated: 1,
                removed: 1,
                duplicates: 1,
                // The later row's only: the earlier one is not written.
                variants: 6,
                ..LoadSummary::default()
            },
            vec!["A-300"],
        ),
        (
            "delta",
            vec![socks("D-1", 700)],
            LoadSummary {
                added: 1,
                variants: 6,
                ..LoadSummary::default()
            },
            vec!["D-1"],
        ),
        (
            "alpha",
            vec![],
            LoadSummary {
                removed: 1,
                ..LoadSummary::default()
            },
            vec![],
        ),
    ];
    for (merchant, feed, expected, expected_ids) in table {
        let summary = index
            .load_merchant(&rules, merchant, &feed, 0, &mut |_| {})
            .unwrap();
        assert_eq!(summary, expected, "{merchant}");
        assert_eq!(ids(&index, merchant), expected_ids, "{merchant}");
        // Others untouched.
        assert_eq!(ids(&index, "beta"), ["B-100"]);
        assert_eq!(ids(&index, "gamma"), ["G-100"]);
    }
}

#[test]
fn a_reload_is_searchable_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let index = built_index(dir.path());
    let product = turtleneck("A-100", "Zanzibar Turtleneck Sweater", 4500, &["Gray"], &[]);
    index
        .load_merchant(&rules(), "alpha", &[product], 0, &mut |_| {})
        .unwrap();
    // Searchable at once, with no wait for the reader's reload.
    let results = index.search(&query("zanzibar")).unwrap();
    assert_eq!(results.offers.len(), 1);
    assert_eq!(
        results.offers[0].product_title,
        "Zanzibar Turtleneck Sweater"
    );
    // The old title is gone.
    let old = index.search(&query("classic")).unwrap();
    assert!(
        old.offers.iter().all(|o| o.merchant_id != "alpha"),
        "{old:?}"
    );
}

#[test]
fn variants_are_found_through_many_reloads_and_merges() {
    // Every load is a commit and a segment; a dozen of them make tantivy
    // merge. Search walks each product's consecutive documents from its
    // head, so this checks the right variant comes back throughout.
    let dir = tempfile::tempdir().unwrap();
    let index = built_index(dir.path());
    let rules = rules();
    for round in 0..12_i64 {
        let colors: &[&str] = if round % 2 == 0 {
            &["Gray", "Navy", "Black"]
        } else {
            &["Black", "Gray"]
        };
        let price = 4000 + round;
        let alpha = turtleneck(
            "A-100",
            "Classic Turtleneck Sweater",
            price,
            colors,
            &[("Gray", "M")],
        );
        let extra = turtleneck(
            &format!("A-{}", 200 + round),
            "Other Turtleneck Sweater",
            9000,
            &["Red"],
            &[],
        );
        index
            .load_merchant(&rules, "alpha", &[extra, alpha], 0, &mut |_| {})
            .unwrap();
        for (color, size, expected) in [
            ("gray", "L", ("gray", "L")),
            ("gray", "M", ("gray", "S")),
            ("black", "M", ("black", "M")),
        ] {
            let search = SearchQuery {
                color: Some(color.into()),
                size: Some(size.into()),
                merchants_allowed: Some(vec!["alpha".into()]),
                max_price: Some(5000),
                ..query("turtleneck sweater")
            };
            let results = index.search(&search).unwrap();
            assert_eq!(results.offers.len(), 1, "round {round}: {results:?}");
            let offer = &results.offers[0];
            assert_eq!(offer.product_id, "A-100");
            assert_eq!(offer.price.minor, price, "round {round}");
            // Gray M is out of stock: a gray variant beats a black M.
            let got = (offer.color.clone().unwrap(), offer.size.clone().unwrap());
            if expected == ("gray", "S") {
                assert_eq!(got.0, "gray", "round {round}: {offer:?}");
                assert_ne!(got.1, "M", "round {round}: {offer:?}");
            } else {
                assert_eq!(
                    got,
                    (expected.0.to_string(), expected.1.to_string()),
                    "round {round}"
                );
            }
        }
    }
}

/// A feed line for the crash test: one product, one variant.
fn bulk_line(number: usize, title_word: &str) -> String {
    format!(
        r#"{{"id":"BULK-{number}","title":"{title_word} Widget {number}","description":"Sturdy widget number {number}, made for the crash test, with a description long enough to cost the indexer some work per document.","brand":"Bulkco","categories":["Tools","Widgets"],"variants":[{{"id":"BULK-{number}-V","price":{{"amount":{},"currency":"USD"}},"availability":{{"available":true}},"variant_options":[{{"name":"Color","value":"Gray"}}]}}]}}"#,
        100 + number % 5000
    )
}

#[test]
fn a_load_killed_midway_leaves_the_previous_state_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let index_dir = dir.path().join("index");
    let index_arg = index_dir.display().to_string();
    let small: String = (0..3).map(|n| bulk_line(n, "Original") + "\n").collect();
    std::fs::write(dir.path().join("small.jsonl"), small).unwrap();
    let first = concierge(
        dir.path(),
        &[
            "--index",
            &index_arg,
            "index",
            "load",
            "--merchant",
            "bulk",
            "--feed",
            "small.jsonl",
        ],
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains("3 added"),
        "{}",
        text(&first.stdout)
    );

    // Big enough that a debug build is still indexing seconds after it
    // starts.
    let large: String = (0..150_000)
        .map(|n| bulk_line(n, "Replacement") + "\n")
        .collect();
    std::fs::write(dir.path().join("large.jsonl"), large).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args([
            "--index",
            &index_arg,
            "index",
            "load",
            "--merchant",
            "bulk",
            "--feed",
            "large.jsonl",
        ])
        .current_dir(dir.path())
        .env_remove("CONCIERGE_INDEX")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        match receiver.recv_timeout(Duration::from_millis(100)) {
            Ok(line) if line.starts_with("Loading 150000 products") => break,
            Ok(_) => {}
            Err(_) => {
                assert!(
                    child.try_wait().unwrap().is_none(),
                    "load ended before indexing started"
                );
                assert!(Instant::now() < deadline, "load never started indexing");
            }
        }
    }
    // Indexing has begun: let the writer flush some segments, then kill.
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the load finished before it could be killed; make the feed larger"
    );
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());

    let index = CatalogIndex::open(&index_dir.join("catalog")).unwrap();
    assert_eq!(ids(&index, "bulk"), ["BULK-0", "BULK-1", "BULK-2"]);
    let found = index.search(&query("original widget")).unwrap();
    assert_eq!(found.offers.len(), 3, "{found:?}");
    let replaced = index.search(&query("replacement")).unwrap();
    assert!(replaced.offers.is_empty(), "{replaced:?}");
    // The catalog of record holds exactly what was loaded into it.
    assert_eq!(index.stats().unwrap().merchants.len(), 1);
    drop(index);

    // The dead writer's lock is gone: the next load works.
    let again = concierge(
        dir.path(),
        &[
            "--index",
            &index_arg,
            "index",
            "load",
            "--merchant",
            "bulk",
            "--feed",
            "small.jsonl",
        ],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stdout).contains("0 added, 3 updated, 0 removed"),
        "{}",
        text(&again.stdout)
    );
}

const GMC_FEED: &str = "\
id,title,description,link,price,availability,brand,gtin,mpn,color,size,material,item_group_id,product_type
PK-1-RS,Alpine Parka - Red / S,Storm-proof parka,https://alpine.example/pk-1,120.00 USD,in_stock,Alpine,4006381333931,,Red,S,Nylon,PK-1,Apparel > Jackets > Parka
PK-1-RM,Alpine Parka - Red / M,Storm-proof parka,https://alpine.example/pk-1,120.00 USD,out_of_stock,Alpine,4006381333948,,Red,M,Nylon,PK-1,Apparel > Jackets > Parka
PK-1-BM,Alpine Parka - Blue / M,Storm-proof parka,https://alpine.example/pk-1,110.00 USD,in_stock,Alpine,4006381333955,,Blue,M,Nylon,PK-1,Apparel > Jackets > Parka
PK-2,Broken Parka,,,a lot,in_stock,Alpine,,,,,,,
";

#[test]
fn a_merchant_center_feed_loads_and_is_searched_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("alpine.csv"), GMC_FEED).unwrap();
    let load = concierge(
        dir.path(),
        &[
            "index",
            "load",
            "--merchant",
            "alpine",
            "--feed",
            "alpine.csv",
            "--json",
        ],
    );
    assert!(load.status.success(), "{}", text(&load.stderr));
    assert!(
        text(&load.stderr).contains("alpine.csv:5:"),
        "{}",
        text(&load.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&load.stdout).unwrap();
    assert_eq!(summary["added"], 1);
    assert_eq!(summary["rejected"], 1);
    assert_eq!(summary["variants"], 3);

    let search = concierge(dir.path(), &["search", "red parka in medium", "--json"]);
    assert!(search.status.success(), "{}", text(&search.stderr));
    let body: serde_json::Value = serde_json::from_slice(&search.stdout).unwrap();
    let offers = body["searches"][0]["results"]["offers"].as_array().unwrap();
    assert_eq!(offers[0]["merchant_id"], "alpine");
    // Red / M is out of stock; the in-stock red is S.
    assert_eq!(offers[0]["color_label"], "Red");
    assert_eq!(offers[0]["size_label"], "S");

    let human = concierge(dir.path(), &["search", "alpine parka"]);
    assert!(
        text(&human.stdout).contains("Alpine Parka"),
        "{}",
        text(&human.stdout)
    );

    let stats = concierge(dir.path(), &["index", "stats", "--json"]);
    assert!(stats.status.success(), "{}", text(&stats.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    let merchants = stats["merchants"].as_array().unwrap();
    // Exactly the merchant loaded: no demo world behind the user's back.
    assert_eq!(merchants.len(), 1);
    let alpine = merchants
        .iter()
        .find(|m| m["merchant_id"] == "alpine")
        .unwrap();
    assert_eq!(alpine["products"], 1);
    assert_eq!(alpine["variants"], 3);
    assert!(stats["bytes_on_disk"].as_u64().unwrap() > 0);
}

fn phones() -> Vec<concierge::catalog::MerchantCatalog> {
    let phone = |id: &str, title: &str| {
        let mut product = socks(id, 50_000);
        product.title = title.into();
        product.description = String::new();
        product.categories = vec!["Mobile Phones".into()];
        product.brand = String::new();
        product
    };
    let mut catalogs = small_catalogs();
    catalogs[2].products.extend([
        phone("P-1", "Apple iPhone 8 64GB Space Grey"),
        phone("P-2", "Apple MQ8N2B/A iPhone 8 Plus 64 GB Gold"),
        phone("P-3", "Apple iPhone 8 Plus 256GB Silver"),
        phone("P-4", "Apple iPhone X 64GB"),
    ]);
    catalogs
}

#[test]
fn search_tolerates_typos_keeps_filters_and_ranks_model_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let index = CatalogIndex::build(dir.path(), &phones(), &rules()).unwrap();
    let first = |query: SearchQuery| -> Option<(String, String)> {
        index
            .search(&query)
            .unwrap()
            .offers
            .first()
            .map(|o| (o.merchant_id.clone(), o.product_id.clone()))
    };
    let found = |text: &str| !index.search(&query(text)).unwrap().offers.is_empty();
    // (text, found?) Typos: one edit from 4 letters, two from 8.
    for (text, expected) in [
        ("turtlenek", true),
        ("turtlneck swaeter", true),
        ("sweatr", true),
        ("sox", false),
        ("zzzzzzzz", false),
    ] {
        assert_eq!(found(text), expected, "{text}");
    }
    // The plain ranker does not correct typos.
    let plain = SearchQuery {
        ranker: Ranker::Bm25,
        ..query("turtlenek")
    };
    assert!(index.search(&plain).unwrap().offers.is_empty());

    let merchants = |query: SearchQuery| -> Vec<String> {
        let mut ids: Vec<String> = index
            .search(&query)
            .unwrap()
            .offers
            .into_iter()
            .map(|o| o.merchant_id)
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let table: Vec<(SearchQuery, Vec<&str>)> = vec![
        (query("turtleneck sweater"), vec!["alpha", "beta", "gamma"]),
        (
            SearchQuery {
                max_price: Some(4400),
                ..query("turtleneck sweater")
            },
            vec!["beta"],
        ),
        (
            SearchQuery {
                min_price: Some(4600),
                ..query("turtleneck sweater")
            },
            vec!["gamma"],
        ),
        (
            SearchQuery {
                merchants_denied: vec!["beta".into()],
                ..query("turtleneck sweater")
            },
            vec!["alpha", "gamma"],
        ),
        (
            SearchQuery {
                merchants_allowed: Some(vec!["alpha".into()]),
                ..query("turtleneck sweater")
            },
            vec!["alpha"],
        ),
        (
            SearchQuery {
                currency: Some("EUR".into()),
                ..query("turtleneck sweater")
            },
            vec![],
        ),
    ];
    for (search, expected) in table {
        assert_eq!(merchants(search.clone()), expected, "{}", search.describe());
    }
    // Beta's black M is out of stock: asking for it never returns that variant.
    let black_m = SearchQuery {
        color: Some("black".into()),
        size: Some("M".into()),
        merchants_allowed: Some(vec!["beta".into()]),
        ..query("turtleneck sweater")
    };
    let offer = index.search(&black_m).unwrap().offers.remove(0);
    assert!(!(offer.color.as_deref() == Some("black") && offer.size.as_deref() == Some("M")));
    assert!(offer.in_stock);

    for (text, expected) in [
        ("mq8n2b/a", "P-2"),
        ("iphone 8 plus 64gb", "P-2"),
        ("iphone 8 plus 256gb", "P-3"),
        ("iphone 8 64gb", "P-1"),
    ] {
        assert_eq!(
            first(query(text)),
            Some(("gamma".to_string(), expected.to_string())),
            "{text}"
        );
    }
}

#[test]
fn offers_of_the_same_product_are_grouped_across_merchants() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalogs = small_catalogs();
    // Same title and brand at alpha and beta; gamma's differs.
    catalogs[1].products[0]
        .variants
        .iter_mut()
        .for_each(|v| v.barcodes.clear());
    catalogs[0].products[0]
        .variants
        .iter_mut()
        .for_each(|v| v.barcodes.clear());
    let index = CatalogIndex::build(dir.path(), &catalogs, &rules()).unwrap();
    let results = index.search(&query("classic turtleneck sweater")).unwrap();
    let grouped: Vec<Vec<&str>> = results
        .groups
        .iter()
        .map(|group| {
            group
                .iter()
                .map(|i| results.offers[*i].merchant_id.as_str())
                .collect()
        })
        .collect();
    assert!(
        grouped.contains(&vec!["beta", "alpha"]) || grouped.contains(&vec!["alpha", "beta"]),
        "{grouped:?}"
    );
    assert!(
        results.render().contains("2 merchants"),
        "{}",
        results.render()
    );
}

const PRICERUNNER_SAMPLE: &str = "\
1,apple iphone 8 plus 64gb silver,1,1,Apple iPhone 8 Plus 64GB,2612,Mobile Phones
2,apple iphone 8 plus 64 gb spacegrau,2,1,Apple iPhone 8 Plus 64GB,2612,Mobile Phones
3,apple iphone 8 64gb space grey,1,2,Apple iPhone 8 64GB,2612,Mobile Phones
4,bosch serie 4 smv46kx01e dishwasher,2,3,Bosch SMV46KX01E,2,Dishwashers
";

#[test]
fn eval_search_prints_the_documented_keys_for_both_formats() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pr.csv"), PRICERUNNER_SAMPLE).unwrap();
    let qrels = dir.path().join("qrels");
    std::fs::create_dir(&qrels).unwrap();
    std::fs::write(
        qrels.join("queries.tsv"),
        "q1\tgray socks\nq2\tturtleneck\n",
    )
    .unwrap();
    std::fs::write(qrels.join("judgements.tsv"), "q1\tS-1\t2\nq2\tT-1\t1\n").unwrap();
    let feed = concierge::catalog::feed::to_jsonl(&[
        socks("S-1", 900),
        turtleneck("T-1", "Classic Turtleneck Sweater", 4500, &["Gray"], &[]),
    ]);
    std::fs::write(qrels.join("feed.jsonl"), feed).unwrap();
    for args in [
        vec![
            "eval",
            "search",
            "--format",
            "pricerunner",
            "--data",
            "pr.csv",
            "--json",
        ],
        vec![
            "eval",
            "search",
            "--format",
            "pricerunner",
            "--data",
            "pr.csv",
            "--ranker",
            "bm25",
            "--json",
        ],
        vec![
            "eval", "search", "--format", "qrels", "--data", "qrels", "--json",
        ],
    ] {
        let output = concierge(dir.path(), &args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        for key in [
            "recall_at_10",
            "mrr",
            "ndcg_at_10",
            "grouping_precision",
            "grouping_recall",
            "per_query",
        ] {
            assert!(report.get(key).is_some(), "{args:?}: no {key}");
        }
        assert!(
            report["recall_at_10"].as_f64().unwrap() > 0.9,
            "{args:?}: {report}"
        );
    }
    let human = concierge(
        dir.path(),
        &[
            "eval",
            "search",
            "--format",
            "pricerunner",
            "--data",
            "pr.csv",
        ],
    );
    assert!(
        text(&human.stdout).contains("nDCG@10"),
        "{}",
        text(&human.stdout)
    );
    let missing = concierge(
        dir.path(),
        &[
            "eval",
            "search",
            "--format",
            "pricerunner",
            "--data",
            "nope.csv",
        ],
    );
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).starts_with("error: cannot read nope.csv"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn new_subcommands_have_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["search", "--help"],
        vec!["index", "load", "--help"],
        vec!["index", "stats", "--help"],
        vec!["index", "convert", "--help"],
        vec!["eval", "search", "--help"],
        vec!["bench", "search", "--help"],
    ] {
        let output = concierge(dir.path(), &args);
        assert!(
            output.status.success(),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(text(&output.stdout).contains("Usage:"), "{args:?}");
    }
}

/// The Magento Luma sample data: `CONCIERGE_MAGENTO_DIR`, else
/// `../shared/data/magento-luma` beside the repository.
fn magento_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CONCIERGE_MAGENTO_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/magento-luma")
        });
    if dir.join("configurable_products.csv").is_file() {
        Some(dir)
    } else {
        println!(
            "SKIPPED: no Magento Luma data at {} (set CONCIERGE_MAGENTO_DIR to run this test)",
            dir.display()
        );
        None
    }
}

#[test]
fn magento_luma_requests_find_the_variant_asked_for() {
    let Some(data) = magento_dir() else {
        return;
    };
    let read = concierge::convert::magento::read_magento_dir(&data).unwrap();
    assert!(read.rejected.is_empty(), "{:?}", read.rejected);
    // 147 configurable products plus 44 gear products.
    assert_eq!(read.products.len(), 191);
    let variants: usize = read.products.iter().map(|p| p.variants.len()).sum();
    assert!(variants >= 1_847, "{variants}");

    let dir = tempfile::tempdir().unwrap();
    let index = CatalogIndex::open_or_create(dir.path()).unwrap();
    index
        .load_merchant(&rules(), "luma", &read.products, 0, &mut |_| {})
        .unwrap();
    let parser = Parser::new(rules());
    // (request, wanted colour, wanted size, budget in cents, word the title must have)
    let table = [
        ("gray medium hoodie under $60", "gray", "M", 6000, "hoodie"),
        ("black small jacket under $80", "black", "S", 8000, "jacket"),
        ("blue large tee", "blue", "L", i64::MAX, "tee"),
        ("green small tank", "green", "S", i64::MAX, "tank"),
    ];
    for (request, color, size, budget, word) in table {
        let intent = parser.parse(request);
        let item = intent
            .first_item()
            .unwrap_or_else(|| panic!("{request}: no item"));
        let results = index.search(&SearchQuery::for_item(&intent, item)).unwrap();
        let best = results
            .offers
            .first()
            .unwrap_or_else(|| panic!("{request}: nothing"));
        assert!(best.matches_request(), "{request}: {best:?}");
        assert_eq!(best.color.as_deref(), Some(color), "{request}");
        assert_eq!(best.size.as_deref(), Some(size), "{request}");
        assert!(
            best.in_stock && best.price.minor <= budget,
            "{request}: {best:?}"
        );
        assert!(
            best.product_title.to_lowercase().contains(word),
            "{request}: {}",
            best.product_title
        );
    }

    let out = dir.path().join("luma.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(["index", "convert", "--format", "magento", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let feed = concierge::catalog::feed::read_feed_file(&out).unwrap();
    assert_eq!(feed.products.len(), 191);
}

/// The catalog's own vocabulary (a colour the rules do not know) added to
/// the lexicon must not force a rebuild: it canonicalises as before.
#[test]
fn catalog_vocabulary_does_not_force_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalogs = small_catalogs();
    catalogs[0].products.push(turtleneck(
        "A-300",
        "Garden Turtleneck Sweater",
        3900,
        &["Heliotrope"],
        &[],
    ));
    let plain = rules();
    let (_, first) = CatalogIndex::open_or_build(dir.path(), &catalogs, &plain).unwrap();
    assert!(first.rebuilt);
    let extended = concierge::world::with_catalog_terms((*plain).clone(), &catalogs);
    assert_eq!(
        extended
            .lexicon
            .canonical(concierge::rules::LexSlot::Color, "Heliotrope"),
        Some("heliotrope")
    );
    let (_, second) = CatalogIndex::open_or_build(dir.path(), &catalogs, &extended).unwrap();
    assert!(!second.rebuilt);
}

/// A product in one colour and sizes S/M/L, made of `material`, for
/// `gender` (Merchant Center's word), in `categories`.
fn apparel(
    id: &str,
    title: &str,
    price: i64,
    material: &str,
    gender: Option<&str>,
    categories: &[&str],
) -> concierge::catalog::FeedProduct {
    let mut product = turtleneck(id, title, price, &["Blue"], &[]);
    product.description = format!("{title}. Machine wash.");
    product.categories = categories.iter().map(|c| c.to_string()).collect();
    product.gender = gender.map(str::to_string);
    for variant in &mut product.variants {
        variant
            .variant_options
            .push(concierge::catalog::feed::VariantOption {
                name: "Material".into(),
                value: material.into(),
            });
    }
    product
}

/// What the shopper says is kept, whatever the price: the type by any of
/// its names (a "t-shirt" is a "Tee"), who it is for (from the feed's
/// `gender` or the category's words; a product that does not say fits
/// anyone), a material and its kinds (asked "cotton", "Organic Cotton"
/// fits; asked "organic cotton", plain "Cotton" does not), and the
/// shopper's other words ("running" of "running shorts") counted for each
/// offer.
#[test]
fn the_shoppers_constraints_decide_which_products_are_offers() {
    let catalog = vec![
        apparel("T1", "Classic Tee", 1500, "Cotton", Some("male"), &["Tops"]),
        apparel(
            "T2",
            "Everyday Tee",
            1400,
            "Organic Cotton",
            Some("female"),
            &["Tops"],
        ),
        apparel(
            "T3",
            "Trail Tee",
            1300,
            "Polyester",
            None,
            &["Women", "Tops"],
        ),
        apparel("T4", "Studio Tee", 1200, "Polyester", None, &["Tops"]),
        apparel(
            "S1",
            "Ana Running Short",
            3700,
            "Nylon",
            Some("female"),
            &["Bottoms"],
        ),
        apparel(
            "S2",
            "Maxima Drawstring Short",
            2400,
            "Cotton",
            Some("female"),
            &["Bottoms"],
        ),
        apparel("B1", "Voyage Yoga Bag", 3000, "Polyester", None, &["Gear"]),
        {
            // "bag" in the description does not make a tank top a bag.
            let mut tank = apparel("K1", "Rocco Gym Tank", 2000, "Polyester", None, &["Tops"]);
            tank.description = "Fits in any gym bag.".into();
            tank
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let index = CatalogIndex::open_or_create(dir.path()).unwrap();
    index
        .load_merchant(&rules(), "shop", &catalog, 0, &mut |_| {})
        .unwrap();
    // The catalog's vocabulary, as a registered merchant's is: its
    // materials ("organic cotton") become words the parser knows.
    let vocabulary = concierge::catalog::record::Vocabulary::of(&catalog);
    let rules = std::sync::Arc::new(concierge::world::with_vocabulary(
        (*rules()).clone(),
        std::iter::once(&vocabulary),
    ));
    let parser = Parser::new(rules.clone());
    // (request, the products offered in any order, (product, its missing words))
    type Case<'a> = (&'a str, &'a [&'a str], Option<(&'a str, &'a [&'a str])>);
    let table: [Case; 9] = [
        ("buy a blue t-shirt", &["T1", "T2", "T3", "T4"], None),
        ("buy a men's blue t-shirt", &["T1", "T4"], None),
        ("buy a women's blue tee", &["T2", "T3", "T4"], None),
        ("buy a blue cotton tee", &["T1", "T2"], None),
        ("buy a blue organic cotton tee", &["T2"], None),
        ("buy a women's blue polyester tee", &["T3", "T4"], None),
        (
            "buy women's blue running shorts",
            &["S1", "S2"],
            Some(("S2", &["running"])),
        ),
        ("buy a blue gym bag", &["B1"], Some(("B1", &["gym"]))),
        ("buy a kids blue tee", &["T4"], None),
    ];
    for (request, expected, missing) in table {
        let intent = parser.parse(request);
        let item = intent.first_item().unwrap();
        let query = SearchQuery::for_item(&intent, item).with_type_names(&rules);
        let results = index.search(&query).unwrap();
        let mut found: Vec<&str> = results
            .offers
            .iter()
            .map(|o| o.product_id.as_str())
            .collect();
        found.sort();
        assert_eq!(found, expected, "{request}");
        if let Some((product, words)) = missing {
            let offer = results
                .offers
                .iter()
                .find(|o| o.product_id == product)
                .unwrap();
            assert_eq!(offer.missing_words, words, "{request}");
        }
    }
}
