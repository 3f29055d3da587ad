//! The corpus readers and the evaluator, on tiny samples the tests write
//! themselves (no corpus is copied into the repository):
//! - Concierge JSON lines, with and without slots, with a line number on a
//!   broken line;
//! - CLINC150 `data_full.json` (test + oos_test), HWU64 CSV, SLURP JSON lines;
//! - label maps: listed labels, the default, and an unmappable label;
//! - metrics: accuracy, per-intent P/R/F1, confusion, slot scores, errors.

use concierge::eval::{corpora, evaluate, map_labels, run_intents, EvalError, LabelMap};
use concierge::intent::{IntentKind, Parser};
use concierge::rules::CompiledRules;
use std::io::Write;
use std::sync::Arc;

fn parser() -> Parser {
    Parser::new(Arc::new(CompiledRules::embedded().unwrap()))
}

fn write_temp(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    (dir, path)
}

const CLINC_MAP: &str =
    "default = \"none\"\n[map]\norder = \"buy\"\norder_status = \"order_status\"\n";

#[test]
fn concierge_jsonl_reads_and_scores() {
    let (_dir, path) = write_temp(
        "own.jsonl",
        concat!(
            "# a comment\n",
            r#"{"text": "buy me a gray turtleneck sweater in medium under $50", "intent": "buy", "slots": {"product": "turtleneck sweater", "color": "gray", "size": "M", "max_price": 50, "currency": "USD"}}"#,
            "\n\n",
            r#"{"text": "where is my order", "intent": "order_status"}"#,
            "\n",
            r#"{"text": "buy a red scarf", "intent": "buy", "slots": {"product": "scarf", "color": "blue"}}"#,
            "\n",
            r#"{"text": "what's the weather", "intent": "buy"}"#,
            "\n",
            r#"{"text": "has my blender shipped", "intent": "order_status", "slots": {}}"#,
            "\n",
        ),
    );
    let report = run_intents(&parser(), &path, None, None).unwrap();
    assert_eq!(report.examples, 5);
    assert!(
        (report.intent_accuracy - 0.8).abs() < 1e-9,
        "{}",
        report.render(10)
    );
    assert_eq!(report.confusion["buy"]["none"], 1);
    let buy = report.per_intent["buy"];
    assert_eq!(buy.support, 3);
    assert!((buy.precision - 1.0).abs() < 1e-9);
    assert!((buy.recall - 2.0 / 3.0).abs() < 1e-9);
    // Slots: 5 right in the first line, product right and colour wrong in
    // the third: tp 6, fp 1, fn 1; the order status names a product its
    // labeller left out: one more fp, not counted on buy and search lines.
    assert!(
        (report.slot_micro_f1 - 12.0 / 15.0).abs() < 1e-9,
        "{}",
        report.render(10)
    );
    assert!(
        (report.shopping_slot_micro_f1 - 6.0 / 7.0).abs() < 1e-9,
        "{}",
        report.render(10)
    );
    assert_eq!(report.examples_with_slots, 3);
    assert_eq!(report.shopping_examples_with_slots, 2);
    assert!((report.product_token_f1 - 1.0).abs() < 1e-9);
    assert_eq!(report.errors.len(), 3);
    let colour_error = report
        .errors
        .iter()
        .find(|e| e.text == "buy a red scarf")
        .unwrap();
    assert!(
        colour_error.slot_errors[0].starts_with("color"),
        "{colour_error:?}"
    );
    assert!(colour_error.rules.iter().any(|r| r == "buy_verbs"));
    let json = report.to_json();
    assert!(json["per_slot"]["color"]["f1"].is_number());
    let text = report.render(10);
    assert!(text.contains("intent accuracy:   0.8000"), "{text}");
    assert!(text.contains("on buy/search:   0.8571"), "{text}");
}

#[test]
fn a_broken_line_is_reported_with_its_number() {
    let (_dir, path) = write_temp(
        "bad.jsonl",
        "{\"text\": \"hi\", \"intent\": \"none\"}\n{\"text\": \"oops\"\n",
    );
    match run_intents(&parser(), &path, None, None) {
        Err(EvalError::BadLine { line, .. }) => assert_eq!(line, 2),
        other => panic!("expected a bad line, got {other:?}"),
    }
}

#[test]
fn clinc150_reads_test_and_oos_test() {
    let (_dir, path) = write_temp(
        "data_full.json",
        r#"{"train": [["buy eggs", "order"]], "test": [["order me some doritos", "order"], ["track my order", "order_status"], ["how is the weather", "weather"]], "oos_test": [["what is a bulldog", "oos"]]}"#,
    );
    let raw = corpora::read_corpus(&path).unwrap();
    assert_eq!(raw.len(), 4);
    assert_eq!(raw[3].intent, "oos");
    let map = LabelMap::from_toml(CLINC_MAP, "clinc150.toml").unwrap();
    let labelled = map_labels(raw, &map, "data_full.json").unwrap();
    let intents: Vec<IntentKind> = labelled.iter().map(|l| l.intent).collect();
    assert_eq!(
        intents,
        [
            IntentKind::Buy,
            IntentKind::OrderStatus,
            IntentKind::None,
            IntentKind::None
        ]
    );
    let report = evaluate(&parser(), &labelled);
    assert!(
        (report.intent_accuracy - 1.0).abs() < 1e-9,
        "{}",
        report.render(10)
    );
    assert!(report.errors.is_empty());
}

#[test]
fn hwu64_csv_reads_scenario_and_intent() {
    let (_dir, path) = write_temp(
        "hwu64.csv",
        concat!(
            "answerid;scenario;intent;answer_annotation;answer_from_anno;answer_from_user\n",
            "1;takeaway;order;\"order [food_type : pizza] from dominoes\";\"order pizza from dominoes\";\"Order pizza from Dominoes\"\n",
            "2;weather;query;\"is it hot; or \"\"cold\"\"\";\"is it hot; or \"\"cold\"\"\";\"Is it hot?\"\n",
        ),
    );
    let raw = corpora::read_corpus(&path).unwrap();
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[0].intent, "takeaway_order");
    assert_eq!(raw[0].text, "order pizza from dominoes");
    assert_eq!(raw[1].text, "is it hot; or \"cold\"");
    assert_eq!(raw[1].intent, "weather_query");
}

#[test]
fn slurp_jsonl_reads_sentence_and_intent() {
    let (_dir, path) = write_temp(
        "devel.jsonl",
        concat!(
            r#"{"slurp_id": 1, "sentence": "order a pizza from dominoes", "sentence_annotation": "order a [food_type : pizza]", "intent": "takeaway_order", "scenario": "takeaway", "action": "order", "tokens": [], "entities": []}"#,
            "\n",
            r#"{"slurp_id": 2, "sentence": "wake me up at nine", "intent": "alarm_set", "scenario": "alarm", "action": "set"}"#,
            "\n",
        ),
    );
    let raw = corpora::read_corpus(&path).unwrap();
    assert_eq!(raw.len(), 2);
    assert_eq!(raw[0].text, "order a pizza from dominoes");
    assert_eq!(raw[1].intent, "alarm_set");
    let map = LabelMap::from_toml(
        "default = \"none\"\n[map]\ntakeaway_order = \"buy\"\n",
        "slurp.toml",
    )
    .unwrap();
    let labelled = map_labels(raw, &map, "devel.jsonl").unwrap();
    assert_eq!(labelled[0].intent, IntentKind::Buy);
    assert_eq!(labelled[1].intent, IntentKind::None);
}

#[test]
fn label_maps_reject_unknown_targets_and_unmapped_labels() {
    assert!(LabelMap::from_toml("[map]\norder = \"shop\"\n", "bad.toml").is_err());
    let raw =
        corpora::parse_clinc150(r#"{"test": [["hi", "greeting"]]}"#, "x.json", &["test"]).unwrap();
    let error = map_labels(raw, &LabelMap::default(), "x.json").unwrap_err();
    assert!(error.to_string().contains("--label-map"), "{error}");
    assert!(corpora::parse_clinc150("{}", "x.json", &["test"]).is_err());
}
