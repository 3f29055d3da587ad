//! Every example utterance in `rules/` is parsed, and must produce what its
//! rule promises:
//! - an intent rule's examples parse to that intent, with the rule in the trace;
//! - a price rule's examples fire that rule;
//! - a dialogue rule's examples are recognised as that act;
//! - whole-request examples produce exactly the slots they list.
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
