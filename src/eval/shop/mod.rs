//! End-to-end evaluation: `concierge eval shop`. Each task's request is
//! shopped for with `ask --auto-pay --json` in a world of reference
//! merchants built from feeds ([`super::market`]), and what was bought is
//! scored against the task's gold with WebShop's reward, reading the
//! product from the feed of the merchant it was bought from.
//!
//! Tasks are JSON Lines:
//! `{"id": "luma-001", "request": "buy me a gray hoodie for men, size M, under $55",
//!   "gold": {"type": ["hoodie", "sweatshirt"], "audience": "men", "material": "cotton",
//!   "color": "gray", "size": "M", "max_price": 55.0, "attributes": ["full zip"],
//!   "cheapest": true}, "best_total": 50.04}`; every gold key is optional.
//!
//! Matching ([`score`]) ignores case, reads punctuation and hyphens as
//! spaces, and compares whole words, a trailing plural "s"/"es" allowed:
//! - `type`: any listed phrase in the title or a category;
//! - `audience`: the product's `gender` / `age_group` when the feed line
//!   has them (unisex meets any adult audience), else its categories or title;
//! - `material`: the feed line's `material`, a Material option, the title
//!   or the description;
//! - `color`: in the bought variant's Color option (else its title);
//! - `size`: the bought variant's Size option, equal ignoring case and spaces;
//! - `attributes`: each in the title or description;
//! - `max_price`: total paid ≤ max_price; `cheapest`: total ≤ `best_total`.
//!
//! Reward (WebShop): attributes U_att = audience, material and each
//! attribute; options U_opt = color and size; r = (matched attributes +
//! matched options + [price ok]) / (|U_att| + |U_opt| + 1), price ok being
//! max_price and cheapest together; halved when the type does not match;
//! 0 when nothing was bought. A run succeeds at reward 1.
//!
//! Entry point: [`run_shop_eval`]; its steps [`read_tasks`], [`find_feeds`],
//! [`Catalogs::read`], [`Market::open`], [`evaluate`] (each run judged by
//! [`judge`], scored in `score.rs`) → [`ShopEvalReport`] (`report.rs`:
//! `render`, `render_markdown`, JSON).

use super::market::{Market, MarketOptions};
use crate::catalog::feed::{read_feed_file, FeedFormat, FeedProduct, FeedVariant, VariantOption};
use crate::money::minor_to_decimal_f64;
use crate::negotiate::{Outcome, ShopReport};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

mod report;
mod score;

pub use report::{summarise, ShopEvalReport};
pub use score::{score, words, BoughtItem, Constraint, Missed, Score};

/// What can go wrong before or while building the world. A task that is
/// not bought, or bought wrong, is a result, not an error.
#[derive(Debug, thiserror::Error)]
pub enum ShopEvalError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    BadTask {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: no tasks")]
    NoTasks { file: String },
    #[error("{}: no feeds (*.jsonl, *.csv, *.tsv)", .dir.display())]
    NoFeeds { dir: PathBuf },
    #[error("{file}: {message}")]
    BadMerchants { file: String, message: String },
    #[error("feed {}: {message}", .path.display())]
    BadFeed { path: PathBuf, message: String },
    #[error("cannot prepare the world: {0}")]
    World(String),
    #[error("merchant {merchant}: {message}")]
    Merchant { merchant: String, message: String },
}
// ---------------------------------------------------------------------------
// Tasks

/// One task: a request and what a right purchase satisfies.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ShopTask {
    pub id: String,
    pub request: String,
    #[serde(default)]
    pub gold: Gold,
    /// The lowest total (price + shipping, major units) of a purchase that
    /// satisfies the gold; needed by `cheapest`.
    #[serde(default)]
    pub best_total: Option<f64>,
}

/// The constraints a task states; every one optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gold {
    /// Any of these in the title or a category.
    #[serde(default, rename = "type", deserialize_with = "one_or_many")]
    pub product_type: Vec<String>,
    #[serde(default)]
    pub audience: Option<String>,
    #[serde(default)]
    pub material: Option<String>,
    /// Any of these in the variant's colour (a list names shades).
    #[serde(default, deserialize_with = "one_or_many")]
    pub color: Vec<String>,
    #[serde(default, deserialize_with = "text_or_number")]
    pub size: Option<String>,
    /// Major units, shipping included.
    #[serde(default)]
    pub max_price: Option<f64>,
    #[serde(default)]
    pub attributes: Vec<String>,
    #[serde(default)]
    pub cheapest: bool,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => vec![one],
        Some(OneOrMany::Many(many)) => many,
    })
}

fn text_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum TextOrNumber {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(match Option::<TextOrNumber>::deserialize(d)? {
        None => None,
        Some(TextOrNumber::Text(text)) => Some(text),
        Some(TextOrNumber::Number(number)) => Some(number.to_string()),
    })
}

/// Reads a task file: one JSON object per line, blank lines skipped. A line
/// that does not parse, lacks an id or request, repeats an id, or asks for
/// `cheapest` without `best_total` is an error naming file and line.
pub fn read_tasks(path: &Path) -> Result<Vec<ShopTask>, ShopEvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| ShopEvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = path.display().to_string();
    let mut tasks: Vec<ShopTask> = Vec::new();
    let mut ids = HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let bad = |message: String| ShopEvalError::BadTask {
            file: file.clone(),
            line: index + 1,
            message,
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let task: ShopTask = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if task.id.trim().is_empty() {
            return Err(bad("the task has an empty id".into()));
        }
        if task.request.trim().is_empty() {
            return Err(bad(format!("task {} has an empty request", task.id)));
        }
        if !ids.insert(task.id.clone()) {
            return Err(bad(format!("task id {} is repeated", task.id)));
        }
        if task.gold.cheapest && task.best_total.is_none() {
            return Err(bad(format!(
                "task {} asks for the cheapest but has no best_total",
                task.id
            )));
        }
        tasks.push(task);
    }
    if tasks.is_empty() {
        return Err(ShopEvalError::NoTasks { file });
    }
    Ok(tasks)
}

// ---------------------------------------------------------------------------
// Feeds

/// One merchant of the world: its feed and its terms.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedFile {
    /// The feed's file stem.
    pub merchant: String,
    pub path: PathBuf,
    /// Flat shipping per order, minor units.
    pub shipping: i64,
}

/// One entry of `merchants.json`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantTerms {
    #[serde(default)]
    shipping: i64,
}

/// The merchants of a feeds directory: every `*.jsonl`, `*.csv` and `*.tsv`
/// file, sorted by name, with shipping from `merchants.json` when present.
pub fn find_feeds(dir: &Path) -> Result<Vec<FeedFile>, ShopEvalError> {
    let io = |source| ShopEvalError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut feeds = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if !path.is_file() || !matches!(extension.as_str(), "jsonl" | "csv" | "tsv") {
            continue;
        }
        let Some(stem) = path.file_stem().map(|s| s.to_string_lossy().to_string()) else {
            continue;
        };
        feeds.push(FeedFile {
            merchant: stem,
            path,
            shipping: 0,
        });
    }
    if feeds.is_empty() {
        return Err(ShopEvalError::NoFeeds {
            dir: dir.to_path_buf(),
        });
    }
    feeds.sort_by(|a, b| a.merchant.cmp(&b.merchant));
    let mut seen = HashSet::new();
    for feed in &feeds {
        if !seen.insert(feed.merchant.clone()) {
            return Err(ShopEvalError::BadFeed {
                path: feed.path.clone(),
                message: format!("another feed has the same merchant id {}", feed.merchant),
            });
        }
    }
    let terms_path = dir.join("merchants.json");
    if terms_path.is_file() {
        let file = terms_path.display().to_string();
        let text = std::fs::read_to_string(&terms_path).map_err(|source| ShopEvalError::Io {
            path: terms_path.clone(),
            source,
        })?;
        let terms: BTreeMap<String, MerchantTerms> =
            serde_json::from_str(&text).map_err(|e| ShopEvalError::BadMerchants {
                file: file.clone(),
                message: e.to_string(),
            })?;
        for (merchant, terms) in terms {
            if terms.shipping < 0 {
                return Err(ShopEvalError::BadMerchants {
                    file,
                    message: format!("{merchant}: shipping {} is negative", terms.shipping),
                });
            }
            let Some(feed) = feeds.iter_mut().find(|f| f.merchant == merchant) else {
                return Err(ShopEvalError::BadMerchants {
                    file,
                    message: format!("{merchant} has no feed in {}", dir.display()),
                });
            };
            feed.shipping = terms.shipping;
        }
    }
    Ok(feeds)
}

/// A product as the judge reads it: the feed product plus the few fields
/// of its line the feed types do not keep.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFacts {
    pub product: FeedProduct,
    pub gender: Option<String>,
    pub age_group: Option<String>,
    pub material: Option<String>,
}

/// Every merchant's products by id, read with the project's feed readers.
#[derive(Debug, Clone, Default)]
pub struct Catalogs {
    merchants: HashMap<String, HashMap<String, ProductFacts>>,
}

impl Catalogs {
    /// Reads every feed. A feed with no usable product is an error.
    pub fn read(feeds: &[FeedFile]) -> Result<Catalogs, ShopEvalError> {
        let mut catalogs = Catalogs::default();
        for feed in feeds {
            let read = read_feed_file(&feed.path).map_err(|e| ShopEvalError::BadFeed {
                path: feed.path.clone(),
                message: e.to_string(),
            })?;
            if read.products.is_empty() {
                let first = read
                    .rejected
                    .first()
                    .map(|e| format!(" (first problem: {e})"))
                    .unwrap_or_default();
                return Err(ShopEvalError::BadFeed {
                    path: feed.path.clone(),
                    message: format!("no usable product{first}"),
                });
            }
            let extras = read_extras(&feed.path)?;
            let products = read
                .products
                .into_iter()
                .map(|product| {
                    let extra = extras.get(&product.id).cloned().unwrap_or_default();
                    let facts = ProductFacts {
                        gender: extra.gender,
                        age_group: extra.age_group,
                        material: extra.material,
                        product,
                    };
                    (facts.product.id.clone(), facts)
                })
                .collect();
            catalogs.merchants.insert(feed.merchant.clone(), products);
        }
        Ok(catalogs)
    }

    pub fn product(&self, merchant: &str, product_id: &str) -> Option<&ProductFacts> {
        self.merchants.get(merchant)?.get(product_id)
    }
}

#[derive(Debug, Clone, Default)]
struct Extras {
    gender: Option<String>,
    age_group: Option<String>,
    material: Option<String>,
}

/// `gender`, `age_group` and `material` of each product, straight from the
/// feed's lines (JSON Lines) or rows (CSV/TSV, by item group).
fn read_extras(path: &Path) -> Result<HashMap<String, Extras>, ShopEvalError> {
    let bytes = std::fs::read(path).map_err(|source| ShopEvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut extras = HashMap::new();
    let non_empty = |value: Option<&str>| {
        value
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    match FeedFormat::detect(path, &text) {
        FeedFormat::JsonLines => {
            for line in text.lines() {
                let Ok(value) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let Some(id) = value.get("id").and_then(|v| v.as_str()) else {
                    continue;
                };
                let field = |name: &str| non_empty(value.get(name).and_then(|v| v.as_str()));
                extras.insert(
                    id.to_string(),
                    Extras {
                        gender: field("gender"),
                        age_group: field("age_group"),
                        material: field("material"),
                    },
                );
            }
        }
        format => {
            let delimiter = if format == FeedFormat::MerchantCenterTsv {
                b'\t'
            } else {
                b','
            };
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .flexible(true)
                .trim(csv::Trim::All)
                .quoting(delimiter != b'\t')
                .from_reader(text.as_bytes());
            let Ok(headers) = reader.headers().cloned() else {
                return Ok(extras);
            };
            let column = |name: &str| {
                headers.iter().position(|h| {
                    h.trim_start_matches('\u{feff}')
                        .trim_start_matches("g:")
                        .eq_ignore_ascii_case(name)
                })
            };
            let columns = [
                column("id"),
                column("item_group_id"),
                column("gender"),
                column("age_group"),
                column("material"),
            ];
            for record in reader.records().map_while(Result::ok) {
                let get = |at: Option<usize>| non_empty(at.and_then(|i| record.get(i)));
                let Some(id) = get(columns[1]).or_else(|| get(columns[0])) else {
                    continue;
                };
                extras.entry(id).or_insert(Extras {
                    gender: get(columns[2]),
                    age_group: get(columns[3]),
                    material: get(columns[4]),
                });
            }
        }
    }
    Ok(extras)
}
// ---------------------------------------------------------------------------
// Runs

/// Where a run that did not succeed went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Not read as a purchase (exit 2, or read as a search or another intent).
    Parse,
    /// Nothing found to buy (exit 3).
    Search,
    /// No invoice passed, payment failed or was not made (exits 4-6).
    Negotiate,
    /// Bought, but a stated constraint missed.
    Check,
    /// Bought a product meeting every constraint, but not the cheapest.
    Choice,
    /// `ask` failed (exit 1, no report) or the purchase cannot be found in
    /// the merchant's feed.
    Error,
}

impl Stage {
    pub fn name(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Search => "search",
            Stage::Negotiate => "negotiate",
            Stage::Check => "check",
            Stage::Choice => "choice",
            Stage::Error => "error",
        }
    }
}

/// What one `ask` gave back.
#[derive(Debug, Clone)]
pub struct AskRun {
    pub exit_code: Option<i32>,
    /// The JSON report, when `ask` printed one.
    pub report: Option<ShopReport>,
    /// Why there is no report (the error `ask` printed).
    pub error: Option<String>,
    pub seconds: f64,
}

/// The purchase of a run, as reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Purchase {
    pub merchant_id: String,
    pub merchant_name: String,
    pub product_id: Option<String>,
    pub product_title: String,
    pub variant: String,
    /// Major units.
    pub total: f64,
    pub currency: String,
}

/// One run of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunResult {
    /// The report's outcome; `None` when `ask` gave no report.
    pub outcome: Option<Outcome>,
    pub exit_code: Option<i32>,
    pub bought: Option<Purchase>,
    pub reward: f64,
    pub success: bool,
    /// Where it went wrong; `None` on success.
    pub stage: Option<Stage>,
    pub missed: Vec<Missed>,
    /// The report's notes, or the error.
    pub note: Option<String>,
    pub seconds: f64,
}

/// Every run of one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskResult {
    pub id: String,
    pub request: String,
    pub runs: Vec<RunResult>,
    pub successes: usize,
    pub mean_reward: f64,
}

/// Judges one run of `task`.
pub fn judge(task: &ShopTask, run: &AskRun, catalogs: &Catalogs) -> RunResult {
    let mut result = RunResult {
        outcome: run.report.as_ref().map(|r| r.outcome),
        exit_code: run.exit_code,
        bought: None,
        reward: 0.0,
        success: false,
        stage: None,
        missed: Vec::new(),
        note: None,
        seconds: run.seconds,
    };
    let Some(report) = &run.report else {
        result.stage = Some(Stage::Error);
        result.note = Some(
            run.error
                .clone()
                .unwrap_or_else(|| "ask printed no report".into()),
        );
        return result;
    };
    // The report's notes, then why each conversation ended without a deal.
    let reports = || std::iter::once(report).chain(report.basket.iter());
    let notes = reports()
        .flat_map(|r| r.notes.iter().cloned())
        .chain(
            reports()
                .flat_map(|r| r.conversations.iter())
                .filter_map(|c| {
                    let why = c.failure.clone().or_else(|| c.rejection())?;
                    Some(format!("{}: {why}.", c.merchant_id))
                }),
        )
        .collect::<Vec<_>>()
        .join(" ");
    result.note = Some(clip(&notes, 400)).filter(|n| !n.is_empty());
    // A basket (the request read as several items) is judged by its first
    // item bought.
    let paid = std::iter::once(report)
        .chain(report.basket.iter())
        .find(|r| r.receipt.is_some());
    let Some(paid) = paid else {
        result.stage = Some(match report.outcome {
            Outcome::NothingFound => Stage::Search,
            Outcome::NoValidInvoice
            | Outcome::PaymentFailed
            | Outcome::NotPaid
            | Outcome::Bought
            | Outcome::PartlyBought => Stage::Negotiate,
            Outcome::NotUnderstood
            | Outcome::Searched
            | Outcome::OrderStatus
            | Outcome::Cancelled
            | Outcome::NotCancelled => Stage::Parse,
        });
        return result;
    };
    let found = purchase_of(paid, catalogs);
    result.bought = found.purchase;
    let item = match found.item {
        Ok(item) => item,
        Err(why) => {
            result.stage = Some(Stage::Error);
            result.note = Some(why);
            return result;
        }
    };
    let score = score(&task.gold, task.best_total, &item);
    result.reward = score.reward;
    result.success = score.missed.is_empty();
    result.stage = if result.success {
        None
    } else if score
        .missed
        .iter()
        .all(|m| m.constraint == Constraint::Cheapest)
    {
        Some(Stage::Choice)
    } else {
        Some(Stage::Check)
    };
    result.missed = score.missed;
    result
}

/// What a report says was bought, and the item from the merchant's feed.
struct Found {
    purchase: Option<Purchase>,
    /// Or why it cannot be judged.
    item: Result<BoughtItem, String>,
}

/// The purchase in a report with a receipt, and the bought item from the
/// merchant's feed.
fn purchase_of(report: &ShopReport, catalogs: &Catalogs) -> Found {
    let Some(receipt) = &report.receipt else {
        return Found {
            purchase: None,
            item: Err("no receipt".into()),
        };
    };
    let conversation = report
        .conversations
        .iter()
        .find(|c| {
            c.invoice
                .as_ref()
                .is_some_and(|i| i.order_number == receipt.order_number)
                && report
                    .choice
                    .as_ref()
                    .is_none_or(|choice| choice.merchant_id == c.merchant_id)
        })
        .or_else(|| {
            report
                .conversations
                .iter()
                .find(|c| c.accepted && c.merchant_name == receipt.merchant_name)
        });
    let merchant_id = report
        .choice
        .as_ref()
        .map(|c| c.merchant_id.clone())
        .or_else(|| conversation.map(|c| c.merchant_id.clone()))
        .unwrap_or_default();
    let offer = conversation.map(|c| &c.offer);
    let purchase = Purchase {
        merchant_id: merchant_id.clone(),
        merchant_name: receipt.merchant_name.clone(),
        product_id: offer.map(|o| o.product_id.clone()),
        product_title: receipt.product_title.clone(),
        variant: receipt.variant.clone(),
        total: minor_to_decimal_f64(receipt.total.minor),
        currency: receipt.total.currency.clone(),
    };
    let Some(offer) = offer else {
        return Found {
            purchase: Some(purchase),
            item: Err("the report does not say which offer was bought".into()),
        };
    };
    let Some(facts) = catalogs.product(&merchant_id, &offer.product_id) else {
        let why = format!(
            "product {} is not in {merchant_id}'s feed",
            offer.product_id
        );
        return Found {
            purchase: Some(purchase),
            item: Err(why),
        };
    };
    let variant = variant_bought(&facts.product, &receipt.variant, &offer.variant_id).cloned();
    let item = BoughtItem {
        product: facts.clone(),
        variant,
        variant_label: receipt.variant.clone(),
        total: purchase.total,
    };
    Found {
        purchase: Some(purchase),
        item: Ok(item),
    }
}

/// The variant a receipt's label names ("M / Gray": the variant's options
/// but Material, in feed order, as the reference responder writes them),
/// else the offer's variant.
fn variant_bought<'p>(
    product: &'p FeedProduct,
    label: &str,
    offer_variant: &str,
) -> Option<&'p FeedVariant> {
    let label = words(label);
    let named = |variant: &FeedVariant| {
        let options: Vec<&VariantOption> = variant
            .variant_options
            .iter()
            .filter(|o| !o.name.eq_ignore_ascii_case("material"))
            .collect();
        words(
            &options
                .iter()
                .map(|o| o.value.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ) == label
    };
    let offered = product.variants.iter().find(|v| v.id == offer_variant);
    offered
        .filter(|v| named(v))
        .or_else(|| product.variants.iter().find(|v| named(v)))
        .or(offered)
        .or_else(|| (product.variants.len() == 1).then(|| &product.variants[0]))
}

fn clip(text: &str, most: usize) -> String {
    if text.chars().count() <= most {
        return text.to_string();
    }
    let mut clipped: String = text.chars().take(most).collect();
    clipped.push('…');
    clipped
}
// ---------------------------------------------------------------------------
// Evaluation

/// What `concierge eval shop` is given.
#[derive(Debug, Clone)]
pub struct ShopEvalOptions {
    pub tasks: PathBuf,
    pub feeds: PathBuf,
    /// Runs per task (K), at least 1.
    pub repeat: usize,
    /// Only the first this many tasks.
    pub max_tasks: Option<usize>,
    /// What the shopper authorises (minor units, passed as `ask
    /// --max-total`) for a task whose gold states no `max_price`; `None`:
    /// such a request is shopped for but not paid, as with `ask`.
    pub default_max_total: Option<i64>,
    pub market: MarketOptions,
}

/// `concierge eval shop`: reads the tasks and feeds (every problem with
/// them is an error before anything starts), builds the world, shops for
/// every task and judges each run.
pub fn run_shop_eval(
    options: &ShopEvalOptions,
    progress: impl FnMut(&ShopTask, &RunResult),
) -> Result<ShopEvalReport, ShopEvalError> {
    let mut tasks = read_tasks(&options.tasks)?;
    if let Some(most) = options.max_tasks {
        tasks.truncate(most);
    }
    let feeds = find_feeds(&options.feeds)?;
    let catalogs = Catalogs::read(&feeds)?;
    let started = std::time::Instant::now();
    let mut market = Market::open(&options.market, &feeds)?;
    let setup_seconds = started.elapsed().as_secs_f64();
    let mut report = evaluate(
        &tasks,
        &catalogs,
        options.repeat,
        |task| {
            let max_total = options
                .default_max_total
                .filter(|_| task.gold.max_price.is_none());
            market.ask(&task.request, max_total)
        },
        progress,
    );
    report.setup_seconds = setup_seconds;
    report.default_max_total = options.default_max_total.map(minor_to_decimal_f64);
    Ok(report)
}

/// Runs every task `repeat` times through `ask` and judges each run.
/// `progress` hears about each run as it ends.
pub fn evaluate(
    tasks: &[ShopTask],
    catalogs: &Catalogs,
    repeat: usize,
    mut ask: impl FnMut(&ShopTask) -> AskRun,
    mut progress: impl FnMut(&ShopTask, &RunResult),
) -> ShopEvalReport {
    let repeat = repeat.max(1);
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        let mut runs = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let run = judge(task, &ask(task), catalogs);
            progress(task, &run);
            runs.push(run);
        }
        let successes = runs.iter().filter(|r| r.success).count();
        let mean_reward = runs.iter().map(|r| r.reward).sum::<f64>() / runs.len() as f64;
        results.push(TaskResult {
            id: task.id.clone(),
            request: task.request.clone(),
            runs,
            successes,
            mean_reward,
        });
    }
    summarise(results, repeat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variant_bought_is_read_from_the_receipt_label() {
        let hoodie: FeedProduct = serde_json::from_str(
            r#"{"id": "H1", "title": "Hoodie", "variants": [
            {"id": "H1-M-Gray", "price": {"amount": 4000, "currency": "USD"}, "availability": {"available": true}, "variant_options": [{"name": "Size", "value": "M"}, {"name": "Color", "value": "Heather Grey"}, {"name": "Material", "value": "Cotton"}]},
            {"id": "H1-M-Navy", "price": {"amount": 4000, "currency": "USD"}, "availability": {"available": true}, "variant_options": [{"name": "Size", "value": "M"}, {"name": "Color", "value": "Navy"}]}]}"#,
        )
        .unwrap();
        let bought =
            |label: &str, offer: &str| variant_bought(&hoodie, label, offer).map(|v| v.id.as_str());
        assert_eq!(bought("M / Navy", "H1-M-Gray"), Some("H1-M-Navy"));
        assert_eq!(bought("M / Heather Grey", "H1-M-Navy"), Some("H1-M-Gray"));
        assert_eq!(bought("something else", "H1-M-Navy"), Some("H1-M-Navy"));
        assert_eq!(bought("something else", "gone"), None);
    }

    #[test]
    fn task_lines_are_checked_with_file_and_line() {
        let dir = std::env::temp_dir().join(format!("concierge-shop-tasks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tasks.jsonl");
        let cases = [
            (
                "{\"id\": \"a\", \"request\": \"buy socks\"}\n\n{\"id\": \"b\"",
                ":3: ",
            ),
            (
                "{\"id\": \"a\", \"request\": \"x\", \"gold\": {\"colour\": \"red\"}}",
                ":1: unknown field `colour`",
            ),
            (
                "{\"id\": \"a\", \"request\": \"x\", \"gold\": {\"cheapest\": true}}",
                "no best_total",
            ),
            (
                "{\"id\": \"a\", \"request\": \"x\"}\n{\"id\": \"a\", \"request\": \"y\"}",
                ":2: task id a is repeated",
            ),
            ("\n", "no tasks"),
        ];
        for (text, expected) in cases {
            std::fs::write(&path, text).unwrap();
            let error = read_tasks(&path).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        std::fs::write(
            &path,
            "{\"id\": \"a\", \"request\": \"x\", \"gold\": {\"type\": \"hat\", \"size\": 32, \"color\": [\"purple\", \"lavender\"]}}\n",
        )
        .unwrap();
        let tasks = read_tasks(&path).unwrap();
        assert_eq!(tasks[0].gold.product_type, ["hat"]);
        assert_eq!(tasks[0].gold.size.as_deref(), Some("32"));
        assert_eq!(tasks[0].gold.color, ["purple", "lavender"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
