//! `concierge bench search`: indexing throughput and search latency over a
//! catalog scaled up from the demo world, side by side with SQLite FTS5
//! (bm25) over the same variants and queries.
//!
//! Indexing is timed from reading the JSON Lines feed files to the committed
//! index (parsing included). Search latency is timed from a parsed request
//! to grouped offers, with the request's filters on (price bound, currency,
//! in stock). FTS5 gets the same variants (one row each, with price, stock
//! and currency columns), the same words, bm25 with the same field weights,
//! the same filters, and the same deduplication to one offer per product; it
//! has no colour/size boosts and no fuzzy terms, so it does less work.

use crate::catalog::feed::{parse_jsonl, read_file, to_jsonl, FeedProduct, MerchantProfile};
use crate::catalog::index::{directory_size, IndexBuilder};
use crate::catalog::search::{queries_for_request, SearchQuery};
use crate::catalog::MerchantCatalog;
use crate::error::CatalogError;
use crate::intent::Parser;
use crate::rules::CompiledRules;
use crate::world::demo;
use serde::Serialize;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub products: usize,
    pub queries: usize,
    pub fts5: bool,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Latency {
    pub queries: usize,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
    /// Mean offers returned per query.
    pub mean_offers: f64,
}

impl Latency {
    pub fn from_samples(mut samples: Vec<Duration>, total_offers: usize) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        samples.sort();
        let micros = |d: Duration| d.as_secs_f64() * 1e6;
        let at = |q: f64| micros(samples[((samples.len() - 1) as f64 * q).round() as usize]);
        Latency {
            queries: samples.len(),
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            max_us: at(1.0),
            mean_us: samples.iter().map(|d| micros(*d)).sum::<f64>() / samples.len() as f64,
            mean_offers: total_offers as f64 / samples.len() as f64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    pub products: usize,
    pub variants: usize,
    pub feed_bytes: u64,
    /// Reading and parsing the feeds, building and committing the index.
    pub index_seconds: f64,
    /// The part of `index_seconds` spent reading and parsing the feeds and
    /// building each product's document (one step: each line's document is
    /// built as it is parsed), and handing them to the indexing threads.
    pub parse_seconds: f64,
    /// The part of `parse_seconds` spent reading the feed files: from the
    /// page cache, or from disk where the machine dropped it.
    pub read_seconds: f64,
    pub products_per_second: f64,
    pub variants_per_second: f64,
    pub index_bytes: u64,
    /// A 1,000-product merchant loaded into the full index, and whether its
    /// products were found by a search run right after the load returned.
    pub reload_ms: f64,
    pub reload_searchable_at_return: bool,
    pub tantivy: Latency,
    pub fts5_index_seconds: Option<f64>,
    pub fts5_bytes: Option<u64>,
    pub fts5: Option<Latency>,
}

impl BenchReport {
    pub fn render(&self) -> String {
        let mut out = format!(
            "catalog: {} products, {} variants ({:.1} MiB of JSON Lines)\n\
             indexing (read + parse + index + commit): {:.2} s (read {:.2} s, parse + documents {:.2} s) = {:.0} products/s ({:.0} variants/s); index {:.1} MiB\n\
             reload of a 1,000-product merchant: {:.0} ms, searchable when it returned: {}\n\
             tantivy search (parsed request -> grouped offers, filters on), {} queries: p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us, mean {:.0} us, {:.1} offers/query\n",
            self.products,
            self.variants,
            self.feed_bytes as f64 / 1048576.0,
            self.index_seconds,
            self.read_seconds,
            self.parse_seconds - self.read_seconds,
            self.products_per_second,
            self.variants_per_second,
            self.index_bytes as f64 / 1048576.0,
            self.reload_ms,
            self.reload_searchable_at_return,
            self.tantivy.queries,
            self.tantivy.p50_us,
            self.tantivy.p90_us,
            self.tantivy.p99_us,
            self.tantivy.max_us,
            self.tantivy.mean_us,
            self.tantivy.mean_offers,
        );
        if let (Some(latency), Some(seconds), Some(bytes)) =
            (&self.fts5, self.fts5_index_seconds, self.fts5_bytes)
        {
            out.push_str(&format!(
                "SQLite FTS5 bm25 (same variants, words and filters): indexing {:.2} s, {:.1} MiB; {} queries: p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, max {:.0} us, mean {:.0} us, {:.1} offers/query\n",
                seconds,
                bytes as f64 / 1048576.0,
                latency.queries,
                latency.p50_us,
                latency.p90_us,
                latency.p99_us,
                latency.max_us,
                latency.mean_us,
                latency.mean_offers,
            ));
        }
        out
    }
}

/// The demo world scaled to `n_products`: its products repeated round-robin
/// with distinct product and variant ids (`-x1`, `-x2`, ...), spread over
/// the demo world's merchants as the originals are.
pub fn scaled_catalogs(n_products: usize) -> Vec<MerchantCatalog> {
    let base = demo::generate();
    let mut catalogs: Vec<MerchantCatalog> = base
        .iter()
        .map(|c| MerchantCatalog {
            profile: c.profile.clone(),
            products: Vec::new(),
        })
        .collect();
    for (merchant, product) in scaled_products(&base, n_products) {
        catalogs[merchant].products.push(product);
    }
    catalogs
}

/// `n_products` products from `base`'s, repeated round-robin as
/// `scaled_copy`, each with its merchant's position in `base`.
fn scaled_products(
    base: &[MerchantCatalog],
    n_products: usize,
) -> impl Iterator<Item = (usize, FeedProduct)> + '_ {
    let originals: Vec<(usize, &FeedProduct)> = base
        .iter()
        .enumerate()
        .flat_map(|(merchant, catalog)| catalog.products.iter().map(move |p| (merchant, p)))
        .collect();
    let count = if originals.is_empty() { 0 } else { n_products };
    (0..count).map(move |number| {
        let (merchant, original) = originals[number % originals.len()];
        (merchant, scaled_copy(original, number / originals.len()))
    })
}

/// Writes `scaled_catalogs(n_products)` as one JSON Lines feed per
/// merchant in `dir`, a product at a time, without holding the catalog:
/// at a million products it is 10 GB, and a process that has just freed
/// that much is not the process a real feed load runs in. Returns each
/// merchant's feed and the bytes written.
pub fn write_scaled_feeds(
    n_products: usize,
    dir: &Path,
) -> Result<(Vec<(MerchantProfile, PathBuf)>, u64), CatalogError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CatalogError::Io { path, source }
    };
    let base = demo::generate();
    let mut feeds = Vec::new();
    let mut writers = Vec::new();
    for catalog in &base {
        let path = dir.join(format!("{}.jsonl", catalog.profile.id));
        let file = std::fs::File::create(&path).map_err(io(&path))?;
        writers.push((std::io::BufWriter::new(file), path.clone()));
        feeds.push((catalog.profile.clone(), path));
    }
    let mut bytes = 0u64;
    for (merchant, product) in scaled_products(&base, n_products) {
        let line = to_jsonl(std::slice::from_ref(&product));
        bytes += line.len() as u64;
        let (writer, path) = &mut writers[merchant];
        writer.write_all(line.as_bytes()).map_err(io(path))?;
    }
    // On disk before the timed load starts, so that it does not wait for
    // the write-back of its own input.
    for (writer, path) in writers {
        let file = writer
            .into_inner()
            .map_err(|error| io(&path)(error.into_error()))?;
        file.sync_all().map_err(io(&path))?;
    }
    Ok((feeds, bytes))
}

/// Copy number `copy` of `original` (0 is the original itself), with
/// distinct product and variant ids.
fn scaled_copy(original: &FeedProduct, copy: usize) -> FeedProduct {
    let mut product = original.clone();
    if copy > 0 {
        product.id = format!("{}-x{copy}", original.id);
        for variant in &mut product.variants {
            variant.id = format!("{}-x{copy}", variant.id);
        }
    }
    product
}

/// Shopper requests built from the demo world's vocabulary, cycling through
/// colours, product types, sizes and budgets.
pub fn bench_requests(n: usize) -> Vec<String> {
    const COLORS: [&str; 6] = ["gray", "black", "navy", "white", "red", "green"];
    const TYPES: [&str; 10] = [
        "turtleneck sweater",
        "hoodie",
        "cardigan",
        "t-shirt",
        "jeans",
        "socks",
        "beanie",
        "rain jacket",
        "sneakers",
        "wool scarf",
    ];
    const SIZES: [&str; 4] = ["small", "medium", "large", "xl"];
    const BUDGETS: [u32; 5] = [30, 50, 80, 120, 200];
    (0..n)
        .map(|i| {
            format!(
                "buy me a {} {} in {} under ${}",
                COLORS[i % COLORS.len()],
                TYPES[(i / COLORS.len()) % TYPES.len()],
                SIZES[(i / 3) % SIZES.len()],
                BUDGETS[(i / 7) % BUDGETS.len()]
            )
        })
        .collect()
}

/// Runs the benchmark in `work_dir`. `log` receives progress lines.
pub fn run(
    options: &BenchOptions,
    rules: Arc<CompiledRules>,
    work_dir: &Path,
    log: &mut dyn FnMut(String),
) -> Result<BenchReport, CatalogError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CatalogError::Io { path, source }
    };
    std::fs::create_dir_all(work_dir).map_err(io(work_dir))?;
    log(format!("generating {} products", options.products));
    let (feed_paths, feed_bytes) = write_scaled_feeds(options.products, work_dir)?;

    log("indexing".into());
    let index_dir = work_dir.join("tantivy");
    // Feed by feed, as a load of large feeds would: each is read in runs
    // of lines through one reused buffer, and each line parsed and made a
    // document on every core, while the writer's threads still index the
    // feed before.
    let (mut read_seconds, mut parse_seconds) = (0.0, 0.0);
    let (mut products, mut variants) = (0, 0);
    let started = Instant::now();
    let mut buffer = Vec::new();
    let mut builder = IndexBuilder::create(&index_dir)?;
    for (profile, path) in &feed_paths {
        let parsing = Instant::now();
        let load = builder.add_jsonl_file(&rules, &profile.id, path, &mut buffer)?;
        parse_seconds += parsing.elapsed().as_secs_f64();
        read_seconds += load.reading.as_secs_f64();
        products += load.products;
        variants += load.variants;
    }
    let index = builder.finish()?;
    let index_seconds = started.elapsed().as_secs_f64();
    let index_bytes = directory_size(&index_dir);

    log("reloading one merchant".into());
    let fresh: Vec<FeedProduct> = scaled_catalogs(1_000)
        .into_iter()
        .flat_map(|c| c.products)
        .collect();
    let started = Instant::now();
    index.load_merchant(&rules, "fresh-merchant", &fresh, 0, &mut |_| {})?;
    let reload_ms = started.elapsed().as_secs_f64() * 1e3;
    let probe = SearchQuery {
        text: "sweater".into(),
        merchants_allowed: Some(vec!["fresh-merchant".into()]),
        limit: 5,
        ..SearchQuery::default()
    };
    let reload_searchable_at_return = !index.search(&probe)?.offers.is_empty();

    log(format!("searching ({} queries)", options.queries));
    let parser = Parser::new(rules.clone());
    let queries: Vec<SearchQuery> = bench_requests(options.queries)
        .iter()
        .flat_map(|text| queries_for_request(&parser.parse(text)))
        .take(options.queries)
        .collect();
    // One untimed pass warms the page cache and the readers, as a server
    // that has been up for a while would be.
    for query in queries.iter().take(100) {
        index.search(query)?;
    }
    let mut samples = Vec::with_capacity(queries.len());
    let mut total_offers = 0;
    for query in &queries {
        let started = Instant::now();
        let results = index.search(query)?;
        samples.push(started.elapsed());
        total_offers += results.offers.len();
    }
    let tantivy = Latency::from_samples(samples, total_offers);

    let (mut fts5_index_seconds, mut fts5_bytes, mut fts5) = (None, None, None);
    if options.fts5 {
        log("building SQLite FTS5".into());
        let db_path = work_dir.join("fts5.db");
        // Parsed again, untimed: the tantivy build dropped each catalog.
        let catalogs = feed_paths
            .iter()
            .map(|(profile, path)| {
                let text = read_file(path)?;
                Ok(MerchantCatalog {
                    profile: profile.clone(),
                    products: parse_jsonl(&path.display().to_string(), &text).products,
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        let started = Instant::now();
        let connection = build_fts5(&db_path, &catalogs).map_err(sql_error)?;
        fts5_index_seconds = Some(started.elapsed().as_secs_f64());
        fts5_bytes = std::fs::metadata(&db_path).map(|m| m.len()).ok();
        log("searching SQLite FTS5".into());
        for query in queries.iter().take(100) {
            search_fts5(&connection, query).map_err(sql_error)?;
        }
        let mut samples = Vec::with_capacity(queries.len());
        let mut total_offers = 0;
        for query in &queries {
            let started = Instant::now();
            let offers = search_fts5(&connection, query).map_err(sql_error)?;
            samples.push(started.elapsed());
            total_offers += offers.len();
        }
        fts5 = Some(Latency::from_samples(samples, total_offers));
    }
    Ok(BenchReport {
        products,
        variants,
        feed_bytes,
        index_seconds,
        parse_seconds,
        read_seconds,
        products_per_second: products as f64 / index_seconds,
        variants_per_second: variants as f64 / index_seconds,
        index_bytes,
        reload_ms,
        reload_searchable_at_return,
        tantivy,
        fts5_index_seconds,
        fts5_bytes,
        fts5,
    })
}

fn sql_error(error: rusqlite::Error) -> CatalogError {
    CatalogError::Invalid(format!("SQLite FTS5: {error}"))
}

/// One FTS5 row per variant, like the tantivy index: the text columns are
/// searched (porter stemming, as tantivy's `en_stem`), the rest filter.
pub fn build_fts5(
    path: &Path,
    catalogs: &[MerchantCatalog],
) -> rusqlite::Result<rusqlite::Connection> {
    let _ = std::fs::remove_file(path);
    let mut connection = rusqlite::Connection::open(path)?;
    connection.execute_batch(
        "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         CREATE VIRTUAL TABLE variants USING fts5(
             title, description, categories, brand,
             product_key UNINDEXED, price UNINDEXED, currency UNINDEXED, in_stock UNINDEXED,
             tokenize = 'porter unicode61');",
    )?;
    let transaction = connection.transaction()?;
    {
        let mut insert = transaction.prepare(
            "INSERT INTO variants (title, description, categories, brand, product_key, price, currency, in_stock)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for catalog in catalogs {
            for product in &catalog.products {
                let categories = product.categories.join(" ");
                let key = format!("{}\u{1f}{}", catalog.profile.id, product.id);
                for variant in &product.variants {
                    insert.execute(rusqlite::params![
                        product.title,
                        product.description,
                        categories,
                        product.brand,
                        key,
                        variant.price.amount,
                        variant.price.currency,
                        i64::from(variant.availability.available),
                    ])?;
                }
            }
        }
    }
    transaction.commit()?;
    connection.execute_batch("INSERT INTO variants(variants) VALUES('optimize');")?;
    Ok(connection)
}

/// The FTS5 side of the comparison: the product type's words all required
/// (else any of the shopper's words), bm25 with tantivy's field weights,
/// the same filters, one offer per product. Returns product keys.
pub fn search_fts5(
    connection: &rusqlite::Connection,
    query: &SearchQuery,
) -> rusqlite::Result<Vec<String>> {
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| format!("\"{}\"", w.to_lowercase()))
            .collect()
    };
    let expression = match &query.product_type {
        Some(product_type) if !words(product_type).is_empty() => words(product_type).join(" AND "),
        _ => words(&query.text).join(" OR "),
    };
    if expression.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement = connection.prepare_cached(
        "SELECT product_key FROM variants
         WHERE variants MATCH ?1 AND in_stock = 1 AND currency = ?2 AND price BETWEEN ?3 AND ?4
         ORDER BY bm25(variants, 3.0, 0.5, 2.0, 1.5) LIMIT ?5",
    )?;
    let limit = query.limit.max(1);
    let rows = statement.query_map(
        rusqlite::params![
            expression,
            query.currency.clone().unwrap_or_else(|| "USD".into()),
            query.min_price.unwrap_or(0),
            query.max_price.unwrap_or(i64::MAX),
            (limit * 16) as i64,
        ],
        |row| row.get::<_, String>(0),
    )?;
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for key in rows {
        let key = key?;
        if seen.insert(key.clone()) {
            keys.push(key);
            if keys.len() >= limit {
                break;
            }
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_catalogs_have_distinct_ids_and_the_asked_size() {
        for n in [0, 10, 1_000] {
            let catalogs = scaled_catalogs(n);
            let ids: HashSet<(String, String)> = catalogs
                .iter()
                .flat_map(|c| {
                    c.products
                        .iter()
                        .map(|p| (c.profile.id.clone(), p.id.clone()))
                })
                .collect();
            assert_eq!(ids.len(), n);
        }
    }

    #[test]
    fn written_feeds_hold_the_scaled_catalogs() {
        let dir = tempfile::tempdir().unwrap();
        let (feeds, bytes) = write_scaled_feeds(1_000, dir.path()).unwrap();
        let catalogs = scaled_catalogs(1_000);
        assert_eq!(feeds.len(), catalogs.len());
        let mut total = 0;
        for ((profile, path), catalog) in feeds.iter().zip(&catalogs) {
            assert_eq!(profile.id, catalog.profile.id);
            let text = std::fs::read_to_string(path).unwrap();
            total += text.len() as u64;
            assert_eq!(parse_jsonl("feed", &text).products, catalog.products);
        }
        assert_eq!(total, bytes);
    }

    #[test]
    fn a_small_run_reports_both_engines() {
        let dir = tempfile::tempdir().unwrap();
        let rules = Arc::new(CompiledRules::embedded().unwrap());
        let options = BenchOptions {
            products: 600,
            queries: 20,
            fts5: true,
        };
        let report = run(&options, rules, dir.path(), &mut |_| {}).unwrap();
        assert_eq!(report.products, 600);
        assert!(report.reload_searchable_at_return);
        assert_eq!(report.tantivy.queries, 20);
        assert!(report.tantivy.mean_offers > 0.0);
        let fts5 = report.fts5.unwrap();
        assert_eq!(fts5.queries, 20);
        assert!(fts5.mean_offers > 0.0);
    }
}
