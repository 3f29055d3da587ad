//! Error types. Each area has its own enum; [`Error`] wraps them all.
//!
//! A shopper's text is never an error (the intent parser returns `none` plus
//! diagnostics), and a merchant saying "out of stock" is a negotiation outcome,
//! not an error. These enums are for things that really went wrong: a broken
//! rule file, an unreadable feed, a merchant that broke the protocol, a store
//! that cannot be written.

use std::path::PathBuf;

/// A problem in one rule file, with its location.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct RuleProblem {
    pub file: String,
    pub line: usize,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot read rules directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every problem found in one pass over all rule files.
    #[error("{} problem(s) in rule files:\n{}", .0.len(), .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<RuleProblem>),
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    BadRow {
        file: String,
        line: usize,
        message: String,
    },
    #[error("index error: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("bad query: {0}")]
    Query(String),
    /// A feed that would wreck a catalog: nothing usable, or more rows
    /// rejected than kept. The catalog is left as it was.
    #[error("feed for merchant {merchant} refused: {kept} rows kept, {rejected} rejected; the catalog is unchanged{}", problems_list(.problems))]
    FeedRefused {
        merchant: String,
        kept: usize,
        rejected: usize,
        problems: Vec<String>,
    },
    #[error("{0}")]
    Invalid(String),
}

fn problems_list(problems: &[String]) -> String {
    if problems.is_empty() {
        String::new()
    } else {
        format!(". First problems: {}", problems.join("; "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MerchantError {
    #[error("merchant {merchant}: {message}")]
    Protocol { merchant: String, message: String },
    #[error("merchant {merchant}: no answer within {millis} ms")]
    Timeout { merchant: String, millis: u64 },
    #[error("merchant {merchant}: transport error: {message}")]
    Transport { merchant: String, message: String },
    #[error("merchant {merchant}: reply larger than {limit} bytes")]
    TooLarge { merchant: String, limit: usize },
    #[error("cannot start merchant server: {0}")]
    Serve(String),
}

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("store error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("cannot open store {path}: {message}")]
    Open { path: PathBuf, message: String },
    #[error("payment for {idempotency_key} was already made")]
    AlreadyPaid { idempotency_key: String },
    #[error("{0}")]
    Invalid(String),
}

/// The crate's error: one variant per area.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Merchant(#[from] MerchantError),
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error("{0}")]
    Config(String),
    #[error("i/o error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
