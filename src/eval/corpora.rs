//! Readers for the public intent corpora in their native formats, so that
//! `concierge eval intents --data PATH` takes the downloaded file as it is
//! (nothing is copied into this repository):
//! - CLINC150 `data_full.json`: an object of splits, each a list of
//!   `[utterance, intent]`; the `test` and `oos_test` splits are read unless
//!   others are named (out-of-scope utterances carry the label `oos`);
//! - HWU64 `*.csv`: semicolon-separated, quoted, with a header naming
//!   `scenario`, `intent` and `answer_from_anno`; the label is
//!   `scenario_intent`;
//! - SLURP `*.jsonl`: one object per line with `sentence` and `intent`;
//! - Concierge's own JSON lines (`text`, `intent`, optional `slots`).
//!
//! Labels are the corpus's own; map them with a [`super::LabelMap`]
//! (shipped under `eval/label-maps/`).

use super::{parse_jsonl, EvalError, RawLabelled};
use std::collections::HashMap;
use std::path::Path;

/// The CLINC150 splits scored by default: the in-scope and out-of-scope
/// test lists.
pub const CLINC150_SPLITS: &[&str] = &["test", "oos_test"];

/// Reads `path` in whichever supported format it holds: `.json` as CLINC150,
/// `.csv` as HWU64, `.jsonl` as SLURP when its lines carry `sentence`, else
/// as Concierge's own format.
pub fn read_corpus(path: &Path) -> Result<Vec<RawLabelled>, EvalError> {
    read_corpus_splits(path, None)
}

/// [`read_corpus`], reading the named CLINC150 splits (for instance `val`
/// and `oos_val`, to develop rules without looking at the test lists)
/// instead of [`CLINC150_SPLITS`]. Naming splits for a corpus that has none
/// is an error, not silently ignored.
pub fn read_corpus_splits(
    path: &Path,
    splits: Option<&[String]>,
) -> Result<Vec<RawLabelled>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = path.display().to_string();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if splits.is_some() && extension != "json" {
        return Err(EvalError::BadFile {
            file,
            message: "splits can only be chosen in CLINC150's data_full.json".into(),
        });
    }
    match extension.as_str() {
        "json" => match splits {
            Some(splits) => parse_clinc150(&text, &file, splits),
            None => parse_clinc150(&text, &file, CLINC150_SPLITS),
        },
        "csv" => parse_hwu64(&text, &file),
        _ => {
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("//"))
                .unwrap_or("");
            let is_slurp = serde_json::from_str::<serde_json::Value>(first)
                .ok()
                .is_some_and(|v| v.get("sentence").is_some() && v.get("text").is_none());
            if is_slurp {
                parse_slurp(&text, &file)
            } else {
                parse_jsonl(&text, &file)
            }
        }
    }
}

/// CLINC150's `data_full.json`, the given splits concatenated in order.
pub fn parse_clinc150<S: AsRef<str>>(
    text: &str,
    file: &str,
    splits: &[S],
) -> Result<Vec<RawLabelled>, EvalError> {
    let data: HashMap<String, Vec<(String, String)>> =
        serde_json::from_str(text).map_err(|e| EvalError::BadFile {
            file: file.to_string(),
            message: format!("not a CLINC150 data file: {e}"),
        })?;
    let mut out = Vec::new();
    for split in splits {
        let split = split.as_ref();
        let Some(rows) = data.get(split) else {
            return Err(EvalError::BadFile {
                file: file.to_string(),
                message: format!("no split {split:?}"),
            });
        };
        out.extend(rows.iter().map(|(text, intent)| RawLabelled {
            text: text.clone(),
            intent: intent.clone(),
            slots: None,
        }));
    }
    Ok(out)
}

/// Splits one line of a semicolon-separated file with `"`-quoted fields
/// (a doubled `""` inside quotes is a quote).
fn split_semicolon_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ';' if !quoted => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// HWU64's annotated CSV.
pub fn parse_hwu64(text: &str, file: &str) -> Result<Vec<RawLabelled>, EvalError> {
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let header = split_semicolon_line(header.trim_start_matches('\u{feff}'));
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| EvalError::BadFile {
                file: file.to_string(),
                message: format!("no column {name:?} in the header"),
            })
    };
    let (scenario, intent) = (column("scenario")?, column("intent")?);
    let text_column = column("answer_from_anno").or_else(|_| column("answer"))?;
    let mut out = Vec::new();
    for (index, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_semicolon_line(line);
        let get = |i: usize| {
            fields.get(i).ok_or_else(|| EvalError::BadLine {
                file: file.to_string(),
                line: index + 1,
                message: format!("expected {} fields, found {}", header.len(), fields.len()),
            })
        };
        out.push(RawLabelled {
            text: get(text_column)?.clone(),
            intent: format!("{}_{}", get(scenario)?, get(intent)?),
            slots: None,
        });
    }
    Ok(out)
}

/// SLURP's JSON lines (`sentence`, `intent`).
pub fn parse_slurp(text: &str, file: &str) -> Result<Vec<RawLabelled>, EvalError> {
    #[derive(serde::Deserialize)]
    struct SlurpLine {
        sentence: String,
        intent: String,
    }
    let mut out = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: SlurpLine = serde_json::from_str(line).map_err(|e| EvalError::BadLine {
            file: file.to_string(),
            line: index + 1,
            message: e.to_string(),
        })?;
        out.push(RawLabelled {
            text: parsed.sentence,
            intent: parsed.intent,
            slots: None,
        });
    }
    Ok(out)
}
