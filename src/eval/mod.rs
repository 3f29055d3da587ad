//! Evaluation for researchers: score the intent parser on a labelled corpus.
//!
//! The corpus is JSON lines, one utterance per line:
//! `{"text": "...", "intent": "buy", "slots": {"product": "...", "max_price": 50}}`
//! (`slots` may be absent, for intent-only corpora). Public corpora are read
//! in their own formats by [`corpora`]; a [`LabelMap`] maps their intent
//! names onto Concierge's.
//!
//! Metrics ([`EvalReport`]): intent accuracy; per-intent precision, recall,
//! F1 and support; macro-F1; a confusion matrix; per-slot precision, recall
//! and F1 where values match exactly after canonicalisation (both gold and
//! predicted colour, size, material, brand and audience through the rules'
//! lexicon, so "grey" is "gray" and "65 inch" is "65 in"; then lowercase,
//! trimmed, numbers compared as numbers) and `product` matches when its token
//! F1 is at least [`PRODUCT_MATCH_F1`]; the mean product token F1; and every
//! error with the rules that fired.
//!
//! Entry point for `concierge eval intents`: [`run_intents`]. The whole
//! pipeline end to end, in a world of reference merchants built from feeds:
//! [`shop`] (`concierge eval shop`, its world in [`market`]).

pub mod corpora;
pub mod dialogue;
pub mod market;
mod metrics;
pub mod requests;
pub mod retrieval;
pub mod shop;

pub use metrics::{evaluate, product_token_f1, ErrorCase, EvalReport, Prf};

use crate::intent::{IntentKind, Parser};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A product phrase counts as matched when its token F1 reaches this.
pub const PRODUCT_MATCH_F1: f64 = 0.5;

/// Problems reading a corpus or a label map. A wrong prediction is not an
/// error: it is a result.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    BadLine {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    BadFile { file: String, message: String },
}

/// One labelled utterance, its intent already a Concierge intent.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub text: String,
    pub intent: IntentKind,
    /// Gold slots, flat, money in major units; `None` for intent-only data.
    pub slots: Option<BTreeMap<String, serde_json::Value>>,
    /// The corpus's own label, before mapping.
    pub source_label: String,
}

/// A corpus line before its label is mapped.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RawLabelled {
    pub text: String,
    pub intent: String,
    #[serde(default)]
    pub slots: Option<BTreeMap<String, serde_json::Value>>,
}

/// Maps a corpus's intent names onto Concierge's.
///
/// File format (TOML):
/// ```toml
/// default = "none"          # for labels not listed; omit to require a listing
/// [map]
/// order = "buy"
/// order_status = "order_status"
/// ```
/// Without a map (or for a label neither listed nor defaulted), a label must
/// already be a Concierge intent name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelMap {
    pub map: HashMap<String, IntentKind>,
    pub default: Option<IntentKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelMapFile {
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    map: BTreeMap<String, String>,
}

impl LabelMap {
    pub fn load(path: &Path) -> Result<LabelMap, EvalError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        LabelMap::from_toml(&text, &path.display().to_string())
    }

    pub fn from_toml(text: &str, file: &str) -> Result<LabelMap, EvalError> {
        let bad = |message: String| EvalError::BadFile {
            file: file.to_string(),
            message,
        };
        let parsed: LabelMapFile = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let intent = |name: &str| {
            IntentKind::from_name(name)
                .ok_or_else(|| bad(format!("{name:?} is not a Concierge intent")))
        };
        let mut map = HashMap::new();
        for (from, to) in &parsed.map {
            map.insert(from.clone(), intent(to)?);
        }
        let default = parsed.default.as_deref().map(intent).transpose()?;
        Ok(LabelMap { map, default })
    }

    /// The Concierge intent for a corpus label.
    pub fn apply(&self, label: &str) -> Option<IntentKind> {
        self.map
            .get(label)
            .copied()
            .or(self.default)
            .or_else(|| IntentKind::from_name(label))
    }
}

/// Reads Concierge's JSON-lines format. Blank lines and lines starting with
/// `#` or `//` are skipped.
pub fn parse_jsonl(text: &str, file: &str) -> Result<Vec<RawLabelled>, EvalError> {
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//") {
            continue;
        }
        let raw: RawLabelled = serde_json::from_str(trimmed).map_err(|e| EvalError::BadLine {
            file: file.to_string(),
            line: index + 1,
            message: e.to_string(),
        })?;
        out.push(raw);
    }
    Ok(out)
}

/// Applies a label map; a label it cannot place is an error naming the
/// label, so that a missing `--label-map` is obvious.
pub fn map_labels(
    raw: Vec<RawLabelled>,
    map: &LabelMap,
    file: &str,
) -> Result<Vec<Labelled>, EvalError> {
    raw.into_iter()
        .map(|line| {
            let intent = map.apply(&line.intent).ok_or_else(|| EvalError::BadFile {
                file: file.to_string(),
                message: format!(
                    "intent label {:?} is not a Concierge intent; pass a --label-map",
                    line.intent
                ),
            })?;
            Ok(Labelled {
                text: line.text,
                intent,
                slots: line.slots,
                source_label: line.intent,
            })
        })
        .collect()
}

/// `concierge eval intents --data FILE [--label-map MAP] [--splits A,B]`:
/// reads `data` in whichever format it is (see
/// [`corpora::read_corpus_splits`]), maps its labels,
/// parses every utterance and scores the result. The caller prints
/// [`EvalReport::render`] or [`EvalReport::to_json`].
pub fn run_intents(
    parser: &Parser,
    data: &Path,
    label_map: Option<&Path>,
    splits: Option<&[String]>,
) -> Result<EvalReport, EvalError> {
    let raw = corpora::read_corpus_splits(data, splits)?;
    let map = match label_map {
        Some(path) => LabelMap::load(path)?,
        None => LabelMap::default(),
    };
    let labelled = map_labels(raw, &map, &data.display().to_string())?;
    Ok(evaluate(parser, &labelled))
}
