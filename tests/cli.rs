//! The `concierge` binary as a user meets it. Properties checked:
//! - every subcommand has --help;
//! - `demo` does the whole job from an empty directory (embedded rules,
//!   generated demo world, a fresh index) and `orders` lists the order
//!   afterwards, from another process;
//! - a second `demo` reuses the index;
//! - bad input is one clear line and a non-zero exit, never a panic;
//! - the committed demo feeds are exactly what the generator makes.

mod common;

use common::concierge;
use std::path::Path;
use std::process::{Command, Output};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["ask", "--help"],
        vec!["index", "--help"],
        vec!["index", "build", "--help"],
        vec!["merchant", "serve", "--help"],
        vec!["orders", "--help"],
        vec!["parse", "--help"],
        vec!["rules", "check", "--help"],
        vec!["eval", "intents", "--help"],
        vec!["serve", "--help"],
        vec!["chat", "--help"],
        vec!["bench", "negotiate", "--help"],
        vec!["merchant", "register", "--help"],
    ] {
        let output = concierge(dir.path(), &args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
        assert!(stdout(&output).contains("Usage:"), "{args:?}");
    }
}

#[test]
fn demo_buys_from_an_empty_directory_and_orders_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = concierge(dir.path(), &["demo"]);
    let out = stdout(&output);
    assert!(output.status.success(), "{}\n{}", out, stderr(&output));
    let sections = [
        "== Request",
        "== Candidate offers",
        "== Conversations",
        "== Invoice checks",
        "== Choice",
        "== Receipt",
    ];
    let positions: Vec<usize> = sections
        .iter()
        .map(|s| out.find(s).unwrap_or_else(|| panic!("missing {s}:\n{out}")))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "sections out of order:\n{out}"
    );
    assert!(out.contains("Index: built"), "{out}");
    assert!(out.contains("Payment confirmed"), "{out}");

    let orders = concierge(dir.path(), &["orders"]);
    assert!(orders.status.success());
    let listed = stdout(&orders);
    assert!(listed.contains("Turtleneck Sweater"), "{listed}");
    assert!(listed.contains("paid"), "{listed}");

    let again = concierge(dir.path(), &["demo"]);
    assert!(
        stdout(&again).contains("Index: reused"),
        "{}",
        stdout(&again)
    );
    let orders = concierge(dir.path(), &["orders", "--json"]);
    let parsed: serde_json::Value = serde_json::from_slice(&orders.stdout).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 2);
}

#[test]
fn bad_input_is_one_clear_line_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let not_understood = concierge(dir.path(), &["ask", "--demo", "--auto-pay", "qwerty asdf"]);
    assert_eq!(not_understood.status.code(), Some(2));
    assert!(
        stdout(&not_understood).contains("could not understand"),
        "{}",
        stdout(&not_understood)
    );
    assert!(!stderr(&not_understood).contains("panicked"));

    let bad_amount = concierge(dir.path(), &["ask", "--max-total", "lots", "buy socks"]);
    assert_eq!(bad_amount.status.code(), Some(1));
    let message = stderr(&bad_amount);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(
        message.starts_with("error: \"lots\" is not an amount"),
        "{message}"
    );

    let missing_feed = concierge(dir.path(), &["merchant", "serve", "--feed", "nope.jsonl"]);
    assert_eq!(missing_feed.status.code(), Some(1));
    let message = stderr(&missing_feed);
    assert_eq!(message.trim().lines().count(), 1, "{message}");
    assert!(message.contains("nope.jsonl"), "{message}");

    std::fs::create_dir_all(dir.path().join("rules")).unwrap();
    std::fs::write(
        dir.path().join("rules/broken.toml"),
        "[[intent]]\nname = \"x\"\nintent = \"fly\"\npatterns = [\"x\"]\nexamples = [\"x\"]\n",
    )
    .unwrap();
    let broken_rules = concierge(dir.path(), &["demo"]);
    assert_eq!(broken_rules.status.code(), Some(1));
    let message = stderr(&broken_rules);
    assert!(
        message.contains("broken.toml:3: unknown intent"),
        "{message}"
    );
    assert!(!message.contains("panicked"));
}

#[test]
fn committed_demo_feeds_match_the_generator() {
    let feeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("index/feeds");
    for (name, contents) in concierge::world::demo::feed_files() {
        let committed =
            std::fs::read_to_string(feeds.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            committed == contents,
            "index/feeds/{name} differs from the generator: run `concierge index generate-demo`"
        );
    }
}

#[test]
fn chat_asks_the_shopper_for_an_open_size_and_before_paying() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(["chat", "--demo"])
        .current_dir(dir.path())
        .env_remove("CONCIERGE_RULES")
        .env_remove("CONCIERGE_INDEX")
        .env_remove("CONCIERGE_DB")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The request leaves the size open; the shopper answers M, then agrees
    // to pay, then asks for the order's status.
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"buy me a gray turtleneck sweater under $50\nM\ny\nwhere is my order\nquit\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let out = stdout(&output);
    assert!(output.status.success(), "{out}\n{}", stderr(&output));
    assert!(out.contains("asks: which size?"), "{out}");
    assert_eq!(
        out.matches("asks: which size?").count(),
        1,
        "the answer is reused for every merchant:\n{out}"
    );
    assert!(out.contains("? [y/N]"), "{out}");
    assert!(out.contains("Payment confirmed"), "{out}");
    assert!(out.contains(": paid."), "{out}");
    assert!(out.trim_end().ends_with("Bye."), "{out}");
}

#[test]
fn parse_rules_check_and_eval_intents_work_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let parsed = concierge(
        dir.path(),
        &["parse", "buy me a grey turtleneck in med under $50"],
    );
    assert!(parsed.status.success());
    let value: serde_json::Value = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(value["intent"], "buy");
    assert_eq!(value["slots"]["color"], "gray");
    assert_eq!(value["slots"]["size"], "M");
    assert_eq!(value["slots"]["max_price"], 50);
    assert!(value["trace"].as_array().is_some_and(|t| !t.is_empty()));

    let check = concierge(dir.path(), &["rules", "check"]);
    assert!(check.status.success(), "{}", stdout(&check));
    assert!(stdout(&check).contains("0 failed"), "{}", stdout(&check));

    let data = dir.path().join("set.jsonl");
    std::fs::write(
        &data,
        "{\"text\": \"buy me a gray turtleneck sweater in medium under $50\", \"intent\": \"buy\", \"slots\": {\"product\": \"turtleneck sweater\", \"color\": \"gray\", \"size\": \"M\", \"max_price\": 50, \"currency\": \"USD\"}}\n{\"text\": \"what's the weather\", \"intent\": \"none\"}\n",
    )
    .unwrap();
    let eval = concierge(
        dir.path(),
        &[
            "eval",
            "intents",
            "--data",
            data.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(eval.status.success(), "{}", stderr(&eval));
    let report: serde_json::Value = serde_json::from_slice(&eval.stdout).unwrap();
    assert_eq!(report["intent_accuracy"], 1.0);
    for key in [
        "macro_f1",
        "slot_micro_f1",
        "product_token_f1",
        "per_intent",
        "per_slot",
        "confusion",
        "errors",
    ] {
        assert!(report.get(key).is_some(), "missing {key}");
    }
    let missing = concierge(dir.path(), &["eval", "intents", "--data", "nope.jsonl"]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing).trim().lines().count(),
        1,
        "{}",
        stderr(&missing)
    );

    // CLINC150: the test lists by default, other splits on request; splits
    // named for a corpus without them are an error.
    let clinc = dir.path().join("data_full.json");
    std::fs::write(
        &clinc,
        r#"{"test": [["order me some chips", "order"]], "oos_test": [["what is a bulldog", "oos"]], "val": [["track my package", "order_status"], ["buy a red scarf", "order"], ["set an alarm", "alarm"]], "oos_val": [["tell me a joke", "oos"]]}"#,
    )
    .unwrap();
    let map =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("eval/label-maps/clinc150.toml");
    let examples = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "intents",
            "--data",
            clinc.to_str().unwrap(),
            "--label-map",
            map.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        let out = concierge(dir.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        report["per_intent"]["none"]["support"].as_u64().unwrap()
            + report["per_intent"]["buy"]["support"].as_u64().unwrap()
            + report["per_intent"]
                .get("order_status")
                .and_then(|s| s["support"].as_u64())
                .unwrap_or(0)
    };
    assert_eq!(examples(&[]), 2);
    assert_eq!(examples(&["--splits", "val,oos_val"]), 4);
    assert_eq!(examples(&["--splits", "val"]), 3);
    // A corpus without splits, and a split the file lacks: exit 1 and say why.
    for (corpus, split, why) in [
        (&data, "val", "CLINC150"),
        (&clinc, "train", "no split \"train\""),
    ] {
        let args = [
            "eval",
            "intents",
            "--data",
            corpus.to_str().unwrap(),
            "--splits",
            split,
        ];
        let out = concierge(dir.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }
}
