//! Every example utterance in `rules/` is parsed, and must produce what its
//! rule promises:
//! - an intent rule's examples parse to that intent, with the rule in the trace;
//! - a price rule's examples fire that rule;
//! - a dialogue rule's examples are recognised as that act;
//! - whole-request examples produce exactly the slots they list;
//! - malformed rule files are reported with file and line, all at once.

use concierge::intent::Parser;
use concierge::rules::{self, RuleSource};
use std::sync::Arc;

fn parser() -> Parser {
    let rules = rules::load(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("rules")
            .as_path(),
    )
    .expect("shipped rules compile");
    Parser::new(Arc::new(rules))
}

#[test]
fn intent_rule_examples_fire_their_rule() {
    let parser = parser();
    let rules = parser.rules().clone();
    assert!(!rules.intent_examples.is_empty());
    for example in &rules.intent_examples {
        let parsed = parser.parse(&example.text);
        let rule = rules
            .intents
            .iter()
            .find(|r| r.name == example.rule)
            .unwrap();
        assert_eq!(
            parsed.intent, rule.intent,
            "{}:{} {:?}",
            example.file, example.line, example.text
        );
        assert!(
            parsed.trace.iter().any(|f| f.rule == example.rule),
            "{}:{} {:?} trace {:?}",
            example.file,
            example.line,
            example.text,
            parsed.trace
        );
    }
}

#[test]
fn price_rule_examples_fire_their_rule() {
    let parser = parser();
    for example in &parser.rules().price_examples {
        let parsed = parser.parse(&example.text);
        assert!(
            parsed.trace.iter().any(|f| f.rule == example.rule),
            "{}:{} {:?} trace {:?}",
            example.file,
            example.line,
            example.text,
            parsed.trace
        );
    }
}

#[test]
fn dialogue_rule_examples_are_recognised() {
    let parser = parser();
    for (example, act) in &parser.rules().dialogue_examples {
        let acts = parser.rules().dialogue_acts(&example.text);
        assert!(
            acts.iter().any(|(a, _)| a == act),
            "{}:{} {:?} gave {:?}",
            example.file,
            example.line,
            example.text,
            acts
        );
    }
}

#[test]
fn request_examples_produce_their_slots() {
    let parser = parser();
    for example in &parser.rules().request_examples {
        let parsed = parser.parse(&example.text);
        assert_eq!(
            parsed.intent, example.intent,
            "{}:{} {:?}",
            example.file, example.line, example.text
        );
        let slots = parsed.flat_slots();
        let expected: std::collections::BTreeMap<String, serde_json::Value> = example
            .slots
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::to_value(v).unwrap()))
            .collect();
        assert_eq!(
            slots, expected,
            "{}:{} {:?}",
            example.file, example.line, example.text
        );
    }
}

#[test]
fn malformed_rule_files_report_every_problem_with_file_and_line() {
    let sources = vec![
        RuleSource {
            file: "bad_syntax.toml".into(),
            text: "[[intent]]\nname = \"x\"\nintent = \n".into(),
        },
        RuleSource {
            file: "bad_pattern.toml".into(),
            text: "[[intent]]\nname = \"broken\"\nintent = \"buy\"\npatterns = [\"(unclosed\"]\nexamples = [\"buy\"]\n".into(),
        },
        RuleSource {
            file: "bad_intent.toml".into(),
            text: "\n\n[[intent]]\nname = \"odd\"\nintent = \"fly\"\npatterns = [\"x\"]\nexamples = [\"x\"]\n".into(),
        },
    ];
    let error = rules::compile(&sources).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("3 problem(s)"), "{message}");
    assert!(message.contains("bad_syntax.toml:3:"), "{message}");
    assert!(
        message.contains("bad_pattern.toml:4: bad pattern"),
        "{message}"
    );
    assert!(
        message.contains("bad_intent.toml:5: unknown intent \"fly\""),
        "{message}"
    );
}

#[test]
fn gibberish_and_empty_input_are_none_without_panic() {
    let parser = parser();
    for text in [
        "",
        "   ",
        "asdf qwer zxcv",
        "🤷‍♀️🤷‍♀️",
        "$$$ €€€ £",
        &"x".repeat(10_000),
        "what's the weather like",
    ] {
        let parsed = parser.parse(text);
        assert_eq!(
            parsed.intent,
            concierge::intent::IntentKind::None,
            "{text:?}"
        );
        assert!(!parsed.diagnostics.is_empty(), "{text:?}");
    }
}

#[test]
fn rules_check_passes_on_the_shipped_rules() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let report = rules::check(&dir).expect("rules directory reads");
    assert!(report.is_ok(), "{}", report.render());
    assert!(report.examples_run > 50, "{}", report.render());
    // The embedded copies are the same files.
    let embedded = rules::check_sources(&rules::embedded_sources());
    assert!(embedded.is_ok(), "{}", embedded.render());
    assert_eq!(embedded.files.len(), report.files.len());
}

#[test]
fn rules_check_reports_problems_and_failing_examples() {
    let broken = vec![RuleSource {
        file: "broken.toml".into(),
        text: "[[intent]]\nname = \"x\"\nintent = \"buy\"\npatterns = [\"(\"]\nexamples = [\"x\"]\n\n[[intent]]\nname = \"y\"\nintent = \"fly\"\npatterns = [\"y\"]\nexamples = [\"y\"]\n".into(),
    }];
    let report = rules::check_sources(&broken);
    let text = report.render();
    assert_eq!(report.problems.len(), 2, "{text}");
    assert!(text.contains("broken.toml:4: bad pattern"), "{text}");
    assert!(text.contains("broken.toml:9: unknown intent"), "{text}");
    assert!(text.contains("examples not run"), "{text}");

    let failing = vec![RuleSource {
        file: "failing.toml".into(),
        text: "[[intent]]\nname = \"greet\"\nintent = \"none\"\npatterns = ['\\bhello\\b']\nexamples = [\"goodbye\"]\ncounter_examples = [\"hello there\"]\n".into(),
    }];
    let report = rules::check_sources(&failing);
    let text = report.render();
    assert!(report.problems.is_empty(), "{text}");
    assert_eq!(report.failures.len(), 2, "{text}");
    assert!(text.contains("failing.toml:5:"), "{text}");
    assert!(text.contains("failing.toml:6:"), "{text}");
    assert!(text.contains("FAILED"), "{text}");
}

/// The pattern sets are built on a second thread from the rule files; they
/// must hold exactly the compiled patterns, in the compiled rules' order, or
/// the parser would silently fall back to trying each pattern.
#[test]
fn pattern_sets_match_the_compiled_rules() {
    let parser = parser();
    let rules = parser.rules();
    let intent_set = rules.intent_set.as_ref().expect("intent pattern set");
    let compiled: Vec<&str> = rules
        .intents
        .iter()
        .flat_map(|rule| rule.patterns.iter().map(|p| p.as_str()))
        .collect();
    assert_eq!(intent_set.patterns(), compiled.as_slice());
    let mut start = 0;
    for (index, rule) in rules.intents.iter().enumerate() {
        assert_eq!(rules.intent_set_start[index], start, "{}", rule.name);
        start += rule.patterns.len();
    }
    let price_set = rules.price_set.as_ref().expect("price pattern set");
    let prices: Vec<&str> = rules.prices.iter().map(|r| r.pattern.as_str()).collect();
    assert_eq!(price_set.patterns(), prices.as_slice());
    assert!(rules
        .intents
        .windows(2)
        .all(|pair| pair[0].priority >= pair[1].priority));
}
