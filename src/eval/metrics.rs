//! Scoring: intents, slots, the confusion matrix and the error list.

use super::{Labelled, PRODUCT_MATCH_F1};
use crate::intent::{IntentKind, Parser};
use crate::rules::{CompiledRules, LexSlot};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Precision, recall, F1 and support (gold count) of one label or slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
    #[serde(skip)]
    true_positives: usize,
    #[serde(skip)]
    false_positives: usize,
    #[serde(skip)]
    false_negatives: usize,
}

impl Prf {
    fn from_counts(tp: usize, fp: usize, fn_: usize, support: usize) -> Prf {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fn_);
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Prf {
            precision,
            recall,
            f1,
            support,
            true_positives: tp,
            false_positives: fp,
            false_negatives: fn_,
        }
    }
}

/// One utterance the parser got wrong, with the rules that fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorCase {
    pub text: String,
    pub gold_intent: String,
    pub predicted_intent: String,
    /// The corpus's own label, when it differs from the mapped one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_label: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gold_slots: Option<BTreeMap<String, serde_json::Value>>,
    pub predicted_slots: BTreeMap<String, serde_json::Value>,
    /// Slots that did not match ("color: gold \"gray\", got \"black\"").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slot_errors: Vec<String>,
    pub rules: Vec<String>,
}

/// Everything `concierge eval intents` reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EvalReport {
    pub examples: usize,
    pub intent_accuracy: f64,
    pub macro_f1: f64,
    /// Micro-averaged over every gold and predicted slot of the utterances
    /// that carry gold slots; 0 when none does.
    pub slot_micro_f1: f64,
    /// Mean token F1 of the product phrase over utterances whose gold slots
    /// name a product.
    pub product_token_f1: f64,
    /// How many utterances carried gold slots.
    pub examples_with_slots: usize,
    /// [`EvalReport::slot_micro_f1`] over the utterances whose gold intent
    /// is `buy` or `search` only: the requests whose slots say what to buy.
    /// Corpora labelled by different hands differ on whether an order
    /// status or a remark names its product; this figure does not depend on
    /// it.
    pub shopping_slot_micro_f1: f64,
    /// Slots the parser filled that no utterance of the corpus labels
    /// (a corpus labelled without `currency`, say): outside its label set,
    /// they are not scored, as a tagger is scored on the gold's tags only.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub slots_outside_corpus: BTreeSet<String>,
    /// How many `buy` and `search` utterances carried gold slots.
    pub shopping_examples_with_slots: usize,
    pub per_intent: BTreeMap<String, Prf>,
    pub per_slot: BTreeMap<String, Prf>,
    /// gold intent -> predicted intent -> count.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    pub errors: Vec<ErrorCase>,
}

/// Lowercase tokens with a light plural strip, so "hoodies" meets "hoodie".
fn product_tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(|t| {
            if t.len() > 3 && t.ends_with('s') && !t.ends_with("ss") {
                t[..t.len() - 1].to_string()
            } else {
                t.to_string()
            }
        })
        .collect()
}

/// Token-level F1 between two product phrases (bag of tokens).
pub fn product_token_f1(gold: &str, predicted: &str) -> f64 {
    let gold = product_tokens(gold);
    let mut predicted = product_tokens(predicted);
    if gold.is_empty() || predicted.is_empty() {
        return if gold.is_empty() && predicted.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let predicted_len = predicted.len();
    let mut common = 0;
    for token in &gold {
        if let Some(position) = predicted.iter().position(|p| p == token) {
            predicted.swap_remove(position);
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / predicted_len as f64;
    let recall = common as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Canonical form of a slot value for exact comparison.
fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) => format!("{:.2}", f),
            None => n.to_string(),
        },
        serde_json::Value::String(s) => {
            let s = s.trim().to_lowercase();
            // "50" and 50 are the same amount.
            match s.parse::<f64>() {
                Ok(f) => format!("{:.2}", f),
                Err(_) => s.split_whitespace().collect::<Vec<_>>().join(" "),
            }
        }
        other => other.to_string().to_lowercase(),
    }
}

/// The value a slot names, the same whoever wrote it: the lexicon's
/// canonical colour, size, material, brand or audience ("grey" is "gray",
/// "medium" is "M", "65 inch" is "65 in", "levis" is "Levi's"), so that a
/// gold label written in the writer's own words is compared with what the
/// parser canonicalised, not with its spelling.
fn canonical_slot(rules: &CompiledRules, name: &str, value: &serde_json::Value) -> String {
    let serde_json::Value::String(text) = value else {
        return canonical(value);
    };
    let lexicon = |slot: LexSlot| rules.lexicon.canonical(slot, text).map(str::to_string);
    let value = match name {
        "color" => Some(rules.canonical_color(text)),
        "size" => Some(rules.canonical_size(text)),
        "material" => lexicon(LexSlot::Material),
        "audience" => lexicon(LexSlot::Audience),
        // "Mrs. Meyer's" is "mrs meyers", "melissa & doug" is "melissa doug".
        "brand" => Some(
            lexicon(LexSlot::Brand)
                .unwrap_or_else(|| text.clone())
                .to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric())
                .collect(),
        ),
        // "two" is 2.
        "quantity" => {
            crate::intent::parser::number_word(&text.trim().to_lowercase()).map(|n| n.to_string())
        }
        _ => None,
    };
    canonical(&serde_json::Value::String(
        value.unwrap_or_else(|| text.clone()),
    ))
}

fn slot_matches(
    rules: &CompiledRules,
    name: &str,
    gold: &serde_json::Value,
    predicted: &serde_json::Value,
) -> bool {
    if name == "product" {
        let as_text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        return product_token_f1(&as_text(gold), &as_text(predicted)) >= PRODUCT_MATCH_F1;
    }
    canonical_slot(rules, name, gold) == canonical_slot(rules, name, predicted)
}

/// Parses every utterance and scores the results.
pub fn evaluate(parser: &Parser, data: &[Labelled]) -> EvalReport {
    let mut report = EvalReport {
        examples: data.len(),
        ..EvalReport::default()
    };
    let mut correct = 0usize;
    // label -> (tp, fp, fn, support)
    let mut intent_counts: BTreeMap<IntentKind, [usize; 4]> = BTreeMap::new();
    let mut slot_counts: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    // tp, fp, fn over buy and search utterances.
    let mut shopping_counts = [0usize; 3];
    let mut product_f1_sum = 0.0;
    let mut product_f1_n = 0usize;
    let labelled_slots: BTreeSet<&String> = data
        .iter()
        .filter_map(|example| example.slots.as_ref())
        .flat_map(|slots| slots.keys())
        .collect();

    for example in data {
        let parsed = parser.parse(&example.text);
        let gold = example.intent;
        let predicted = parsed.intent;
        *report
            .confusion
            .entry(gold.name().to_string())
            .or_default()
            .entry(predicted.name().to_string())
            .or_default() += 1;
        intent_counts.entry(gold).or_default()[3] += 1;
        if gold == predicted {
            correct += 1;
            intent_counts.entry(gold).or_default()[0] += 1;
        } else {
            intent_counts.entry(predicted).or_default()[1] += 1;
            intent_counts.entry(gold).or_default()[2] += 1;
        }

        let mut predicted_slots = parsed.flat_slots();
        predicted_slots.retain(|name, _| {
            let labelled = labelled_slots.contains(name);
            if !labelled {
                report.slots_outside_corpus.insert(name.clone());
            }
            labelled
        });
        let mut slot_errors = Vec::new();
        if let Some(gold_slots) = &example.slots {
            report.examples_with_slots += 1;
            let shopping = matches!(gold, IntentKind::Buy | IntentKind::Search);
            if shopping {
                report.shopping_examples_with_slots += 1;
            }
            let names: BTreeSet<&String> =
                gold_slots.keys().chain(predicted_slots.keys()).collect();
            for name in names {
                let counts = slot_counts.entry(name.clone()).or_default();
                let (tp, fp, fn_) = match (gold_slots.get(name), predicted_slots.get(name)) {
                    (Some(g), Some(p)) if slot_matches(parser.rules(), name, g, p) => (1, 0, 0),
                    (Some(g), Some(p)) => {
                        slot_errors.push(format!("{name}: gold {g}, got {p}"));
                        (0, 1, 1)
                    }
                    (Some(g), None) => {
                        slot_errors.push(format!("{name}: gold {g}, got nothing"));
                        (0, 0, 1)
                    }
                    (None, Some(p)) => {
                        slot_errors.push(format!("{name}: not in gold, got {p}"));
                        (0, 1, 0)
                    }
                    (None, None) => (0, 0, 0),
                };
                counts[0] += tp;
                counts[1] += fp;
                counts[2] += fn_;
                counts[3] += usize::from(gold_slots.contains_key(name));
                if shopping {
                    shopping_counts[0] += tp;
                    shopping_counts[1] += fp;
                    shopping_counts[2] += fn_;
                }
            }
            if let Some(gold_product) = gold_slots.get("product") {
                let text = |v: &serde_json::Value| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let f1 = predicted_slots
                    .get("product")
                    .map(|p| product_token_f1(&text(gold_product), &text(p)))
                    .unwrap_or(0.0);
                product_f1_sum += f1;
                product_f1_n += 1;
            }
        }

        if gold != predicted || !slot_errors.is_empty() {
            report.errors.push(ErrorCase {
                text: example.text.clone(),
                gold_intent: gold.name().to_string(),
                predicted_intent: predicted.name().to_string(),
                source_label: (example.source_label != gold.name())
                    .then(|| example.source_label.clone()),
                gold_slots: example.slots.clone(),
                predicted_slots,
                slot_errors,
                rules: parsed.trace.iter().map(|f| f.rule.clone()).collect(),
            });
        }
    }

    report.intent_accuracy = if data.is_empty() {
        0.0
    } else {
        correct as f64 / data.len() as f64
    };
    for (label, [tp, fp, fn_, support]) in &intent_counts {
        report.per_intent.insert(
            label.name().to_string(),
            Prf::from_counts(*tp, *fp, *fn_, *support),
        );
    }
    // Macro-F1 over every intent that occurs in the gold labels or the
    // predictions.
    report.macro_f1 = if report.per_intent.is_empty() {
        0.0
    } else {
        report.per_intent.values().map(|p| p.f1).sum::<f64>() / report.per_intent.len() as f64
    };
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    for (name, [s_tp, s_fp, s_fn, support]) in &slot_counts {
        tp += s_tp;
        fp += s_fp;
        fn_ += s_fn;
        report.per_slot.insert(
            name.clone(),
            Prf::from_counts(*s_tp, *s_fp, *s_fn, *support),
        );
    }
    report.slot_micro_f1 = Prf::from_counts(tp, fp, fn_, 0).f1;
    let [tp, fp, fn_] = shopping_counts;
    report.shopping_slot_micro_f1 = Prf::from_counts(tp, fp, fn_, 0).f1;
    report.product_token_f1 = if product_f1_n == 0 {
        0.0
    } else {
        product_f1_sum / product_f1_n as f64
    };
    report
}

impl EvalReport {
    /// The report as one JSON object (`--json`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// The share of utterances labelled `gold` that were predicted
    /// `predicted` (0 when there are none labelled `gold`).
    pub fn confusion_rate(&self, gold: IntentKind, predicted: IntentKind) -> f64 {
        let Some(row) = self.confusion.get(gold.name()) else {
            return 0.0;
        };
        let total: usize = row.values().sum();
        if total == 0 {
            return 0.0;
        }
        *row.get(predicted.name()).unwrap_or(&0) as f64 / total as f64
    }

    /// The F1 of one intent (0 when it never occurs).
    pub fn intent_f1(&self, intent: IntentKind) -> f64 {
        self.per_intent.get(intent.name()).map_or(0.0, |p| p.f1)
    }

    /// The human-readable report; at most `max_errors` errors are listed.
    pub fn render(&self, max_errors: usize) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let _ = writeln!(out, "examples:          {}", self.examples);
        let _ = writeln!(out, "intent accuracy:   {:.4}", self.intent_accuracy);
        let _ = writeln!(out, "macro-F1:          {:.4}", self.macro_f1);
        if self.examples_with_slots > 0 {
            let _ = writeln!(
                out,
                "slot micro-F1:     {:.4}  ({} utterances with slots)",
                self.slot_micro_f1, self.examples_with_slots
            );
            let _ = writeln!(
                out,
                "  on buy/search:   {:.4}  ({} utterances)",
                self.shopping_slot_micro_f1, self.shopping_examples_with_slots
            );
            let _ = writeln!(out, "product token F1:  {:.4}", self.product_token_f1);
            if !self.slots_outside_corpus.is_empty() {
                let names: Vec<&str> = self
                    .slots_outside_corpus
                    .iter()
                    .map(String::as_str)
                    .collect();
                let _ = writeln!(
                    out,
                    "not scored:        {} (no line of the corpus labels them)",
                    names.join(", ")
                );
            }
        }
        let _ = writeln!(out, "\nintent            precision  recall     f1  support");
        for (name, prf) in &self.per_intent {
            let _ = writeln!(
                out,
                "{name:<16}  {:>9.4}  {:>6.4}  {:>5.4}  {:>7}",
                prf.precision, prf.recall, prf.f1, prf.support
            );
        }
        let labels: BTreeSet<&String> = self
            .confusion
            .keys()
            .chain(self.confusion.values().flat_map(|row| row.keys()))
            .collect();
        let _ = writeln!(out, "\nconfusion (rows: gold, columns: predicted)");
        let _ = write!(out, "{:<16}", "");
        for label in &labels {
            let _ = write!(out, " {:>12}", label);
        }
        let _ = writeln!(out);
        for gold in &labels {
            let _ = write!(out, "{gold:<16}");
            for predicted in &labels {
                let count = self
                    .confusion
                    .get(*gold)
                    .and_then(|row| row.get(*predicted))
                    .copied()
                    .unwrap_or(0);
                let _ = write!(out, " {count:>12}");
            }
            let _ = writeln!(out);
        }
        if !self.per_slot.is_empty() {
            let _ = writeln!(out, "\nslot              precision  recall     f1  support");
            for (name, prf) in &self.per_slot {
                let _ = writeln!(
                    out,
                    "{name:<16}  {:>9.4}  {:>6.4}  {:>5.4}  {:>7}",
                    prf.precision, prf.recall, prf.f1, prf.support
                );
            }
        }
        let _ = writeln!(
            out,
            "\nerrors: {} (showing {})",
            self.errors.len(),
            self.errors.len().min(max_errors)
        );
        for error in self.errors.iter().take(max_errors) {
            let label = error
                .source_label
                .as_ref()
                .map(|l| format!(" [{l}]"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "- {:?}: gold {}{label}, predicted {}; rules: {}",
                error.text,
                error.gold_intent,
                error.predicted_intent,
                if error.rules.is_empty() {
                    "none".to_string()
                } else {
                    error.rules.join(", ")
                }
            );
            for slot_error in &error.slot_errors {
                let _ = writeln!(out, "    {slot_error}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_token_f1_table() {
        let cases = [
            ("turtleneck sweater", "turtleneck sweater", 1.0),
            ("turtleneck sweater", "turtleneck", 2.0 / 3.0),
            ("hoodies", "hoodie", 1.0),
            ("wool socks", "hat", 0.0),
            ("", "", 1.0),
            ("socks", "", 0.0),
        ];
        for (gold, predicted, expected) in cases {
            let f1 = product_token_f1(gold, predicted);
            assert!(
                (f1 - expected).abs() < 1e-9,
                "{gold:?} vs {predicted:?}: {f1}"
            );
        }
    }

    #[test]
    fn slot_values_match_after_canonicalisation() {
        use serde_json::json;
        let cases = [
            ("color", json!("Gray"), json!("gray"), true),
            ("max_price", json!(50), json!(50.0), true),
            ("max_price", json!("50"), json!(50), true),
            ("size", json!("M"), json!("L"), false),
            (
                "product",
                json!("gray turtleneck"),
                json!("turtleneck"),
                true,
            ),
            ("product", json!("wool socks"), json!("hat"), false),
            // Gold written in the writer's words, compared canonically.
            ("color", json!("grey"), json!("gray"), true),
            ("size", json!("medium"), json!("M"), true),
            ("size", json!("65 inch"), json!("65 in"), true),
            ("size", json!("10 lbs"), json!("10 lb"), true),
            ("size", json!("medium"), json!("L"), false),
            ("brand", json!("levis"), json!("Levi's"), true),
            ("brand", json!("nike"), json!("Adidas"), false),
            ("brand", json!("mrs. meyer's"), json!("mrs meyers"), true),
            (
                "brand",
                json!("melissa & doug"),
                json!("melissa doug"),
                true,
            ),
            ("quantity", json!("two"), json!(2), true),
            ("quantity", json!("three"), json!(2), false),
        ];
        let rules = CompiledRules::embedded().expect("the embedded rules compile");
        for (name, gold, predicted, expected) in cases {
            assert_eq!(
                slot_matches(&rules, name, &gold, &predicted),
                expected,
                "{name}: {gold} vs {predicted}"
            );
        }
    }

    /// A slot no line of the corpus labels is outside its label set and
    /// not scored; one some line labels is scored everywhere.
    #[test]
    fn slots_the_corpus_never_labels_are_not_scored() {
        use serde_json::json;
        let rules = std::sync::Arc::new(CompiledRules::embedded().expect("embedded rules"));
        let parser = Parser::new(rules);
        let line = |text: &str, slots: serde_json::Value| Labelled {
            text: text.into(),
            intent: IntentKind::Buy,
            slots: serde_json::from_value(slots).ok(),
            source_label: "buy".into(),
        };
        let without_currency = [line(
            "buy a red scarf under $30",
            json!({"product": "scarf", "color": "red", "max_price": 30}),
        )];
        let report = evaluate(&parser, &without_currency);
        assert_eq!(report.slot_micro_f1, 1.0, "{report:?}");
        assert!(report.slots_outside_corpus.contains("currency"));
        let with_currency = [
            line(
                "buy a red scarf under $30",
                json!({"product": "scarf", "color": "red", "max_price": 30}),
            ),
            line(
                "buy a blue hat under $20",
                json!({"product": "hat", "color": "blue", "max_price": 20, "currency": "USD"}),
            ),
        ];
        let report = evaluate(&parser, &with_currency);
        assert!(report.slot_micro_f1 < 1.0, "{report:?}");
        assert!(report.slots_outside_corpus.is_empty());
    }
}
