//! Retrieval evaluation: how well search finds every merchant's offer of a
//! product, and how well it groups offers of the same product.
//!
//! Two inputs:
//! - PriceRunner (`product_id, product_title, merchant_id, cluster_id,
//!   cluster_label, category_id, category_label`, no header): each
//!   merchant's offers become that merchant's catalog, each cluster label is
//!   a query, and the cluster's offers, across merchants, are its relevant
//!   set (grade 1).
//! - qrels: a TSV of queries (`query_id\ttext`), a TSV of judgements
//!   (`query_id\tproduct_id\tgrade`) and one feed in any format Concierge
//!   reads, indexed as one merchant.
//!
//! Metrics are over the top 10 offers: recall@10, MRR (reciprocal rank of
//! the first relevant offer, 0 when none is in the top 10), nDCG@10 with
//! gain `2^grade - 1`; grouping precision and recall over pairs of offers in
//! each query's top 10 (precision: grouped pairs that share a cluster;
//! recall: same-cluster pairs that were grouped).

use crate::catalog::feed::{read_feed_file, Availability, FeedPrice, FeedProduct, FeedVariant};
use crate::catalog::index::{CatalogIndex, Indexing};
use crate::catalog::search::{Ranker, SearchQuery};
use crate::catalog::MerchantCatalog;
use crate::catalog::MerchantProfile;
use crate::error::CatalogError;
use crate::rules::CompiledRules;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Offers ranked per query.
pub const CUTOFF: usize = 10;

/// One query and what is relevant to it, by product id.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalQuery {
    pub id: String,
    pub text: String,
    /// Product id → grade (> 0).
    pub relevant: HashMap<String, u32>,
}

/// Catalogs to index, queries, and (PriceRunner only) each product's
/// cluster, the truth for grouping.
#[derive(Debug, Default)]
pub struct EvalSet {
    pub catalogs: Vec<MerchantCatalog>,
    pub queries: Vec<EvalQuery>,
    pub cluster_of: HashMap<String, String>,
    /// Input rows skipped as unreadable.
    pub rejected: Vec<CatalogError>,
}

/// One query's scores and top offers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryResult {
    pub query_id: String,
    pub text: String,
    pub relevant: usize,
    pub recall_at_10: f64,
    pub reciprocal_rank: f64,
    pub ndcg_at_10: f64,
    /// Product ids of the top offers, best first.
    pub top: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub ranker: String,
    pub queries: usize,
    pub products: usize,
    pub merchants: usize,
    pub recall_at_10: f64,
    pub mrr: f64,
    pub ndcg_at_10: f64,
    /// `None` when the input has no clusters (qrels).
    pub grouping_precision: Option<f64>,
    pub grouping_recall: Option<f64>,
    pub grouped_pairs: usize,
    pub same_cluster_pairs: usize,
    pub per_query: Vec<QueryResult>,
}

/// Reads a PriceRunner CSV.
pub fn read_pricerunner(path: &Path) -> Result<EvalSet, CatalogError> {
    let text = crate::catalog::feed::read_file(path)?;
    Ok(parse_pricerunner(&path.display().to_string(), &text))
}

/// Parses PriceRunner CSV text; `file` names it in error messages.
pub fn parse_pricerunner(file: &str, text: &str) -> EvalSet {
    let mut set = EvalSet::default();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut merchants: BTreeMap<String, Vec<FeedProduct>> = BTreeMap::new();
    let mut clusters: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for (index, result) in reader.records().enumerate() {
        let bad_row = |line: usize, message: String| CatalogError::BadRow {
            file: file.to_string(),
            line,
            message,
        };
        let record = match result {
            Ok(record) => record,
            Err(error) => {
                let line = error.position().map(|p| p.line() as usize).unwrap_or(0);
                set.rejected.push(bad_row(line, error.to_string()));
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let field = |i: usize| record.get(i).unwrap_or("").to_string();
        let (product_id, title, merchant_id, cluster_id, cluster_label, category) =
            (field(0), field(1), field(2), field(3), field(4), field(6));
        // The UCI copy has a header row; this one has none. Accept both.
        if index == 0 && !product_id.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if record.len() < 5
            || product_id.is_empty()
            || title.is_empty()
            || merchant_id.is_empty()
            || cluster_id.is_empty()
        {
            set.rejected.push(bad_row(
                line,
                "expected product_id, product_title, merchant_id, cluster_id, cluster_label, ..."
                    .into(),
            ));
            continue;
        }
        set.cluster_of
            .insert(product_id.clone(), cluster_id.clone());
        let cluster = clusters
            .entry(cluster_id)
            .or_insert_with(|| (cluster_label, Vec::new()));
        cluster.1.push(product_id.clone());
        merchants
            .entry(merchant_id)
            .or_default()
            .push(offer_product(product_id, title, category));
    }
    set.catalogs = merchants
        .into_iter()
        .map(|(merchant_id, products)| MerchantCatalog {
            profile: profile(&merchant_id),
            products,
        })
        .collect();
    set.queries = clusters
        .into_iter()
        .map(|(cluster_id, (label, members))| EvalQuery {
            id: cluster_id,
            text: label,
            relevant: members.into_iter().map(|id| (id, 1)).collect(),
        })
        .collect();
    set
}

/// PriceRunner has no prices: every offer is one in-stock variant at 0.
fn offer_product(id: String, title: String, category: String) -> FeedProduct {
    FeedProduct {
        gender: None,
        age_group: None,
        material: None,
        variants: vec![FeedVariant {
            id: id.clone(),
            title: title.clone(),
            price: FeedPrice {
                amount: 0,
                currency: "EUR".into(),
            },
            availability: Availability::from_stock(true),
            variant_options: Vec::new(),
            barcodes: Vec::new(),
        }],
        id,
        title,
        description: String::new(),
        url: String::new(),
        brand: String::new(),
        categories: if category.is_empty() {
            Vec::new()
        } else {
            vec![category]
        },
    }
}

fn profile(merchant_id: &str) -> MerchantProfile {
    MerchantProfile {
        id: merchant_id.to_string(),
        name: merchant_id.to_string(),
        feed: String::new(),
        currency: "EUR".into(),
        shipping: 0,
        free_shipping_over: 0,
        tax_basis_points: 0,
        protocol: "messenger".into(),
    }
}

/// Reads the generic qrels format: queries TSV, judgements TSV and a feed
/// (indexed as one merchant named after the feed file).
pub fn read_qrels(
    queries_path: &Path,
    judgements_path: &Path,
    feed_path: &Path,
) -> Result<EvalSet, CatalogError> {
    let queries_text = crate::catalog::feed::read_file(queries_path)?;
    let judgements_text = crate::catalog::feed::read_file(judgements_path)?;
    let feed = read_feed_file(feed_path)?;
    let merchant_id = feed_path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "feed".into());
    let mut set = parse_qrels(
        &queries_path.display().to_string(),
        &queries_text,
        &judgements_path.display().to_string(),
        &judgements_text,
    );
    set.rejected.extend(feed.rejected);
    set.catalogs = vec![MerchantCatalog {
        profile: profile(&merchant_id),
        products: feed.products,
    }];
    Ok(set)
}

/// Reads qrels from a directory holding `queries.tsv`, `judgements.tsv` and
/// a feed named `feed.jsonl`, `feed.csv` or `feed.tsv`.
pub fn read_qrels_dir(directory: &Path) -> Result<EvalSet, CatalogError> {
    let feed = ["feed.jsonl", "feed.csv", "feed.tsv"]
        .iter()
        .map(|name| directory.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            CatalogError::Invalid(format!(
                "{} has no feed.jsonl, feed.csv or feed.tsv",
                directory.display()
            ))
        })?;
    read_qrels(
        &directory.join("queries.tsv"),
        &directory.join("judgements.tsv"),
        &feed,
    )
}

/// Parses the two qrels TSVs. Lines starting with `#` and a header line
/// (`query_id` first) are skipped; bad lines are reported and skipped.
pub fn parse_qrels(
    queries_file: &str,
    queries_text: &str,
    judgements_file: &str,
    judgements_text: &str,
) -> EvalSet {
    let mut set = EvalSet::default();
    let mut order: Vec<String> = Vec::new();
    let mut texts: HashMap<String, String> = HashMap::new();
    for (index, line) in queries_text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if is_skippable(line, &fields) {
            continue;
        }
        match fields.as_slice() {
            [id, text, ..] if !id.is_empty() && !text.is_empty() => {
                if texts.insert(id.to_string(), text.to_string()).is_none() {
                    order.push(id.to_string());
                }
            }
            _ => set.rejected.push(CatalogError::BadRow {
                file: queries_file.to_string(),
                line: index + 1,
                message: "expected query_id<TAB>text".into(),
            }),
        }
    }
    let mut relevant: HashMap<String, HashMap<String, u32>> = HashMap::new();
    for (index, line) in judgements_text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        if is_skippable(line, &fields) {
            continue;
        }
        let bad = |message: &str| CatalogError::BadRow {
            file: judgements_file.to_string(),
            line: index + 1,
            message: message.to_string(),
        };
        match fields.as_slice() {
            [query_id, product_id, grade, ..] => match grade.parse::<u32>() {
                Ok(_) if !texts.contains_key(*query_id) => {
                    set.rejected.push(bad("judgement for an unknown query_id"));
                }
                Ok(0) => {}
                Ok(grade) => {
                    relevant
                        .entry(query_id.to_string())
                        .or_default()
                        .insert(product_id.to_string(), grade);
                }
                Err(_) => set.rejected.push(bad("grade is not a whole number ≥ 0")),
            },
            _ => set
                .rejected
                .push(bad("expected query_id<TAB>product_id<TAB>grade")),
        }
    }
    set.queries = order
        .into_iter()
        .map(|id| EvalQuery {
            text: texts.remove(&id).unwrap_or_default(),
            relevant: relevant.remove(&id).unwrap_or_default(),
            id,
        })
        // A query with nothing relevant cannot be scored.
        .filter(|query| !query.relevant.is_empty())
        .collect();
    set
}

fn is_skippable(line: &str, fields: &[&str]) -> bool {
    line.trim().is_empty()
        || line.starts_with('#')
        || fields
            .first()
            .is_some_and(|f| f.eq_ignore_ascii_case("query_id"))
}

/// Indexes `set` in `work_dir` (replacing what is there) and scores every
/// query with `ranker`.
pub fn evaluate(
    set: &EvalSet,
    ranker: Ranker,
    rules: &CompiledRules,
    work_dir: &Path,
) -> Result<EvalReport, CatalogError> {
    // Researchers rerun evaluations: the same data must give the same
    // figures, ties included.
    let index = CatalogIndex::build_with(work_dir, &set.catalogs, rules, Indexing::Reproducible)?;
    score(&index, set, ranker)
}

/// Scores every query of `set` against an index already holding its
/// catalogs.
pub fn score(
    index: &CatalogIndex,
    set: &EvalSet,
    ranker: Ranker,
) -> Result<EvalReport, CatalogError> {
    let mut per_query = Vec::with_capacity(set.queries.len());
    let (mut grouped_pairs, mut same_cluster_pairs, mut grouped_and_same) =
        (0usize, 0usize, 0usize);
    for query in &set.queries {
        let search = SearchQuery {
            text: query.text.clone(),
            limit: CUTOFF,
            ranker,
            ..SearchQuery::default()
        };
        // A query the index cannot run (no searchable word) finds nothing.
        let results = index.search(&search).unwrap_or_default();
        let top: Vec<String> = results
            .offers
            .iter()
            .map(|offer| offer.product_id.clone())
            .collect();
        let grades: Vec<u32> = top
            .iter()
            .map(|id| query.relevant.get(id).copied().unwrap_or(0))
            .collect();
        per_query.push(QueryResult {
            query_id: query.id.clone(),
            text: query.text.clone(),
            relevant: query.relevant.len(),
            recall_at_10: recall(&grades, query.relevant.len()),
            reciprocal_rank: reciprocal_rank(&grades),
            ndcg_at_10: ndcg(&grades, query.relevant.values().copied().collect()),
            top: top.clone(),
        });
        if !set.cluster_of.is_empty() {
            let mut group_of = vec![0usize; top.len()];
            for (group_number, members) in results.groups.iter().enumerate() {
                for &member in members {
                    if member < group_of.len() {
                        group_of[member] = group_number;
                    }
                }
            }
            for i in 0..top.len() {
                for j in (i + 1)..top.len() {
                    let grouped = group_of[i] == group_of[j];
                    let same = match (set.cluster_of.get(&top[i]), set.cluster_of.get(&top[j])) {
                        (Some(a), Some(b)) => a == b,
                        _ => false,
                    };
                    grouped_pairs += usize::from(grouped);
                    same_cluster_pairs += usize::from(same);
                    grouped_and_same += usize::from(grouped && same);
                }
            }
        }
    }
    let mean = |value: fn(&QueryResult) -> f64| {
        if per_query.is_empty() {
            0.0
        } else {
            per_query.iter().map(value).sum::<f64>() / per_query.len() as f64
        }
    };
    let has_clusters = !set.cluster_of.is_empty();
    // With no pair grouped nothing was grouped wrongly: precision 1.
    let ratio = |numerator: usize, denominator: usize| {
        if denominator == 0 {
            1.0
        } else {
            numerator as f64 / denominator as f64
        }
    };
    Ok(EvalReport {
        ranker: ranker.name().into(),
        queries: per_query.len(),
        products: set.catalogs.iter().map(|c| c.products.len()).sum(),
        merchants: set.catalogs.len(),
        recall_at_10: mean(|q| q.recall_at_10),
        mrr: mean(|q| q.reciprocal_rank),
        ndcg_at_10: mean(|q| q.ndcg_at_10),
        grouping_precision: has_clusters.then(|| ratio(grouped_and_same, grouped_pairs)),
        grouping_recall: has_clusters.then(|| ratio(grouped_and_same, same_cluster_pairs)),
        grouped_pairs,
        same_cluster_pairs,
        per_query,
    })
}

/// Share of the relevant set found in the ranked grades (already cut at 10).
pub fn recall(grades: &[u32], n_relevant: usize) -> f64 {
    if n_relevant == 0 {
        return 0.0;
    }
    let found = grades.iter().take(CUTOFF).filter(|g| **g > 0).count();
    found as f64 / n_relevant as f64
}

pub fn reciprocal_rank(grades: &[u32]) -> f64 {
    grades
        .iter()
        .take(CUTOFF)
        .position(|g| *g > 0)
        .map(|rank| 1.0 / (rank + 1) as f64)
        .unwrap_or(0.0)
}

/// nDCG@10 with gain `2^grade - 1` and the usual `log2(rank + 1)` discount.
pub fn ndcg(grades: &[u32], mut all_grades: Vec<u32>) -> f64 {
    let dcg = |grades: &[u32]| -> f64 {
        grades
            .iter()
            .take(CUTOFF)
            .enumerate()
            .map(|(rank, grade)| (2f64.powi(*grade as i32) - 1.0) / ((rank + 2) as f64).log2())
            .sum()
    };
    all_grades.sort_unstable_by(|a, b| b.cmp(a));
    let ideal = dcg(&all_grades);
    if ideal == 0.0 {
        0.0
    } else {
        // + 0.0 turns an empty sum's -0.0 into 0.0 for printing.
        dcg(grades) / ideal + 0.0
    }
}

impl EvalReport {
    /// The human-readable summary: totals first, then the worst queries.
    pub fn render(&self, n_worst: usize) -> String {
        let mut out = format!(
            "ranker {}: {} queries over {} products from {} merchants\n  recall@10 {:.4}  MRR {:.4}  nDCG@10 {:.4}\n",
            self.ranker, self.queries, self.products, self.merchants, self.recall_at_10, self.mrr, self.ndcg_at_10
        );
        if let (Some(precision), Some(recall)) = (self.grouping_precision, self.grouping_recall) {
            out.push_str(&format!(
                "  grouping precision {precision:.4} ({} grouped pairs)  recall {recall:.4} ({} same-product pairs)\n",
                self.grouped_pairs, self.same_cluster_pairs
            ));
        }
        let mut worst: Vec<&QueryResult> = self.per_query.iter().collect();
        worst.sort_by(|a, b| {
            a.ndcg_at_10
                .total_cmp(&b.ndcg_at_10)
                .then(b.relevant.cmp(&a.relevant))
        });
        if n_worst > 0 && !worst.is_empty() {
            out.push_str("per query (worst first; --json has all):\n");
            for query in worst.into_iter().take(n_worst) {
                out.push_str(&format!(
                    "  {:<10} nDCG {:.3}  recall {:.3}  RR {:.3}  {:?} ({} relevant)\n",
                    query.query_id,
                    query.ndcg_at_10,
                    query.recall_at_10,
                    query.reciprocal_rank,
                    query.text,
                    query.relevant
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_match_hand_computed_values() {
        // (grades of the ranked list, relevant grades, recall, RR, nDCG)
        // (ranked grades, relevant grades, recall, RR, nDCG)
        type Row = (Vec<u32>, Vec<u32>, f64, f64, f64);
        let table: [Row; 4] = [
            (vec![1, 0, 0], vec![1], 1.0, 1.0, 1.0),
            (
                vec![0, 1],
                vec![1, 1],
                0.5,
                0.5,
                (1.0 / 3f64.log2()) / (1.0 + 1.0 / 3f64.log2()),
            ),
            (vec![0, 0], vec![1], 0.0, 0.0, 0.0),
            (
                vec![1, 2],
                vec![2, 1],
                1.0,
                1.0,
                (1.0 + 3.0 / 3f64.log2()) / (3.0 + 1.0 / 3f64.log2()),
            ),
        ];
        for (grades, relevant, expected_recall, expected_rr, expected_ndcg) in table {
            let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
            assert!(
                close(recall(&grades, relevant.len()), expected_recall),
                "{grades:?}"
            );
            assert!(close(reciprocal_rank(&grades), expected_rr), "{grades:?}");
            assert!(close(ndcg(&grades, relevant), expected_ndcg), "{grades:?}");
        }
    }

    const SAMPLE: &str = "\
1,apple iphone 8 plus 64gb silver,1,1,Apple iPhone 8 Plus 64GB,2612,Mobile Phones
2,apple iphone 8 plus 64 gb spacegrau,2,1,Apple iPhone 8 Plus 64GB,2612,Mobile Phones
3,apple mq8n2b/a iphone 8 plus 64gb 5.5 12mp sim free smartphone in gold,3,1,Apple iPhone 8 Plus 64GB,2612,Mobile Phones
4,apple iphone 8 64gb space grey,1,2,Apple iPhone 8 64GB,2612,Mobile Phones
5,apple iphone 8 256gb gold,2,3,Apple iPhone 8 256GB,2612,Mobile Phones
6,samsung galaxy s9 64gb midnight black,1,4,Samsung Galaxy S9 64GB,2612,Mobile Phones
7,samsung galaxy s9 plus 64gb,3,5,Samsung Galaxy S9+ 64GB,2612,Mobile Phones
8,bosch serie 4 smv46kx01e dishwasher,2,6,Bosch SMV46KX01E,2,Dishwashers
9,bosch smv46kx01e fully integrated dishwasher,3,6,Bosch SMV46KX01E,2,Dishwashers
not a row
";

    #[test]
    fn pricerunner_rows_become_merchant_catalogs_and_cluster_queries() {
        let set = parse_pricerunner("sample.csv", SAMPLE);
        assert_eq!(set.catalogs.len(), 3);
        assert_eq!(set.queries.len(), 6);
        assert_eq!(set.rejected.len(), 1);
        assert!(set.rejected[0].to_string().starts_with("sample.csv:10:"));
        let iphone = set.queries.iter().find(|q| q.id == "1").unwrap();
        assert_eq!(iphone.text, "Apple iPhone 8 Plus 64GB");
        assert_eq!(iphone.relevant.len(), 3);
    }

    #[test]
    fn both_rankers_find_the_sample_clusters_and_report_grouping() {
        let set = parse_pricerunner("sample.csv", SAMPLE);
        let rules = CompiledRules::embedded().unwrap();
        for ranker in [Ranker::Bm25, Ranker::Full] {
            let dir = tempfile::tempdir().unwrap();
            let report = evaluate(&set, ranker, &rules, dir.path()).unwrap();
            assert_eq!(report.queries, 6);
            assert!(report.recall_at_10 > 0.9, "{ranker:?}: {report:?}");
            assert!(report.mrr > 0.6, "{ranker:?}: {report:?}");
            assert!(report.grouping_precision.is_some());
            let json = serde_json::to_value(&report).unwrap();
            for key in [
                "recall_at_10",
                "mrr",
                "ndcg_at_10",
                "grouping_precision",
                "grouping_recall",
            ] {
                assert!(json.get(key).is_some(), "{key}");
            }
        }
    }

    #[test]
    fn the_full_ranker_puts_the_exact_model_first() {
        let set = parse_pricerunner("sample.csv", SAMPLE);
        let rules = CompiledRules::embedded().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let report = evaluate(&set, Ranker::Full, &rules, dir.path()).unwrap();
        for (query_id, first) in [
            ("1", ["1", "2", "3"].as_slice()),
            ("3", &["5"]),
            ("5", &["7"]),
        ] {
            let result = report
                .per_query
                .iter()
                .find(|q| q.query_id == query_id)
                .unwrap();
            assert!(first.contains(&result.top[0].as_str()), "{result:?}");
        }
    }

    #[test]
    fn qrels_read_queries_judgements_and_report_bad_lines() {
        let queries = "query_id\ttext\nq1\twool socks\nq2\tgray tee\nq3\nq4\tnothing judged\n";
        let judgements = "q1\tS1\t2\nq1\tS2\t1\nq2\tT1\t1\nq2\tT2\t0\nq9\tT1\t1\nq2\tT3\tmany\n";
        let set = parse_qrels("q.tsv", queries, "j.tsv", judgements);
        let ids: Vec<&str> = set.queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["q1", "q2"]);
        assert_eq!(set.queries[0].relevant.get("S1"), Some(&2));
        assert_eq!(set.queries[1].relevant.len(), 1);
        let lines: Vec<String> = set.rejected.iter().map(|e| e.to_string()).collect();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].starts_with("q.tsv:4:"));
        assert!(lines[1].starts_with("j.tsv:5:"));
        assert!(lines[2].starts_with("j.tsv:6:"));
    }
}
