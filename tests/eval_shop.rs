//! `concierge eval shop` through the binary, on a world the test writes:
//! two merchants (ACP JSON Lines feeds, shipping from merchants.json) and
//! five tasks, each run twice. Properties checked:
//! - a task bought as stated scores 1 and succeeds, from the cheaper
//!   merchant (total = price + that merchant's shipping), its audience met
//!   by the feed line's `gender`;
//! - a purchase missing an attribute scores 3/4 and fails at `check`,
//!   naming the attribute;
//! - a purchase meeting every constraint but dearer than `best_total`
//!   fails at `choice`;
//! - a budget nothing fits fails at `search`, a request that is not
//!   shopping at `parse`, both with reward 0;
//! - the summary: runs, success rate, mean score, pass^k and pass@k,
//!   failures by stage; the Markdown report lists the failures;
//! - bad input is a non-zero exit with a clear error: a task line that does
//!   not parse (file:line), a directory with no feeds, a feed the
//!   registration refuses.

mod common;

use common::concierge;
use serde_json::{json, Value};
use std::path::Path;

/// A product in `colors` × S/M/L at `price` cents.
fn product(id: &str, title: &str, description: &str, price: i64, colors: &[&str]) -> Value {
    let mut variants = Vec::new();
    for color in colors {
        for size in ["S", "M", "L"] {
            variants.push(json!({
                "id": format!("{id}-{color}-{size}"),
                "title": format!("{title} - {color} / {size}"),
                "price": {"amount": price, "currency": "USD"},
                "availability": {"available": true, "status": "in_stock"},
                "variant_options": [
                    {"name": "Size", "value": size},
                    {"name": "Color", "value": color},
                ],
            }));
        }
    }
    json!({
        "id": id,
        "title": title,
        "description": description,
        "url": format!("https://shop.example/{id}"),
        "brand": "Testbrand",
        "categories": ["Apparel", "Knitwear"],
        "gender": "unisex",
        "age_group": "adult",
        "variants": variants,
    })
}

fn write_feed(path: &Path, products: &[Value]) {
    let lines: Vec<String> = products.iter().map(|p| p.to_string()).collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

/// alpha: turtleneck $45 + $4 shipping, socks $9 + $4; beta: turtleneck
/// $42 + $5 shipping.
fn write_world(dir: &Path) {
    let feeds = dir.join("feeds");
    std::fs::create_dir_all(&feeds).unwrap();
    write_feed(
        &feeds.join("alpha.jsonl"),
        &[
            product(
                "A-100",
                "Classic Turtleneck Sweater",
                "A warm wool turtleneck sweater.",
                4500,
                &["Gray", "Navy"],
            ),
            product(
                "A-200",
                "Wool Socks",
                "Warm wool socks.",
                900,
                &["Gray", "Black"],
            ),
        ],
    );
    write_feed(
        &feeds.join("beta.jsonl"),
        &[product(
            "B-100",
            "Classic Turtleneck Sweater",
            "A soft wool turtleneck sweater.",
            4200,
            &["Gray", "Black"],
        )],
    );
    std::fs::write(
        feeds.join("merchants.json"),
        r#"{"alpha": {"shipping": 400}, "beta": {"shipping": 500}}"#,
    )
    .unwrap();
    let tasks = [
        json!({"id": "right", "request": "buy me a gray turtleneck sweater in medium under $50",
               "gold": {"type": ["turtleneck"], "audience": "men", "material": "wool", "color": "gray",
                        "size": "M", "max_price": 50.0, "attributes": [], "cheapest": true},
               "best_total": 47.0}),
        json!({"id": "no-cashmere", "request": "buy me gray wool socks in size M under $20",
               "gold": {"type": ["socks"], "color": "gray", "size": "M", "max_price": 20.0,
                        "attributes": ["cashmere"]}}),
        json!({"id": "dearer", "request": "buy me a gray turtleneck sweater in medium under $50",
               "gold": {"type": "turtleneck", "color": "gray", "size": "M", "cheapest": true},
               "best_total": 40.0}),
        json!({"id": "too-cheap", "request": "buy me a gray turtleneck sweater in medium under $20",
               "gold": {"type": ["turtleneck"], "max_price": 20.0}}),
        json!({"id": "weather", "request": "what will the weather be like tomorrow",
               "gold": {"type": ["umbrella"]}}),
    ];
    let lines: Vec<String> = tasks.iter().map(|t| t.to_string()).collect();
    std::fs::write(dir.join("tasks.jsonl"), lines.join("\n") + "\n").unwrap();
}

fn text(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn eval_shop_scores_every_task_and_sums_up() {
    let dir = tempfile::tempdir().unwrap();
    write_world(dir.path());
    let output = concierge(
        dir.path(),
        &[
            "eval",
            "shop",
            "--tasks",
            "tasks.jsonl",
            "--feeds",
            "feeds",
            "--repeat",
            "2",
            "--json",
            "--report-md",
            "report.md",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("one JSON object");
    let results = report["results"].as_array().unwrap();
    let task = |id: &str| {
        results
            .iter()
            .find(|t| t["id"] == id)
            .unwrap_or_else(|| panic!("no task {id}"))
    };
    // (task, reward, stage, outcome, missed constraints) of every run.
    let expected: [(&str, f64, Value, &str, Vec<&str>); 5] = [
        ("right", 1.0, Value::Null, "bought", vec![]),
        (
            "no-cashmere",
            0.75,
            json!("check"),
            "bought",
            vec!["attributes"],
        ),
        (
            "dearer",
            2.0 / 3.0,
            json!("choice"),
            "bought",
            vec!["cheapest"],
        ),
        ("too-cheap", 0.0, json!("search"), "nothing_found", vec![]),
        ("weather", 0.0, json!("parse"), "not_understood", vec![]),
    ];
    for (id, reward, stage, outcome, missed) in expected {
        let runs = task(id)["runs"].as_array().unwrap();
        assert_eq!(runs.len(), 2, "{id}");
        for run in runs {
            assert!(
                close(run["reward"].as_f64().unwrap(), reward),
                "{id}: {run:#}"
            );
            assert_eq!(run["stage"], stage, "{id}: {run:#}");
            assert_eq!(run["outcome"], outcome, "{id}: {run:#}");
            let names: Vec<&str> = run["missed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["constraint"].as_str().unwrap())
                .collect();
            assert_eq!(names, missed, "{id}: {run:#}");
            assert_eq!(run["success"], reward == 1.0, "{id}");
        }
    }
    // The cheaper merchant, its shipping counted.
    let bought = &task("right")["runs"][0]["bought"];
    assert_eq!(bought["merchant_id"], "beta", "{bought:#}");
    assert_eq!(bought["product_id"], "B-100");
    assert!(close(bought["total"].as_f64().unwrap(), 47.0), "{bought:#}");
    let socks = &task("no-cashmere")["runs"][0];
    assert!(
        socks["missed"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("cashmere"),
        "{socks:#}"
    );
    assert!(close(socks["bought"]["total"].as_f64().unwrap(), 13.0));

    assert_eq!(report["tasks"], 5);
    assert_eq!(report["runs"], 10);
    assert_eq!(report["repeat"], 2);
    assert!(close(report["success_rate"].as_f64().unwrap(), 0.2));
    let mean = 100.0 * (1.0 + 0.75 + 2.0 / 3.0) / 5.0;
    assert!(
        close(report["mean_score"].as_f64().unwrap(), mean),
        "{}",
        report["mean_score"]
    );
    assert!(close(report["pass^k"].as_f64().unwrap(), 0.2));
    assert!(close(report["pass@k"].as_f64().unwrap(), 0.2));
    assert_eq!(
        report["failures"],
        json!({"parse": 2, "search": 2, "check": 2, "choice": 2})
    );
    assert_eq!(report["missed"], json!({"attributes": 2, "cheapest": 2}));

    let markdown = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(markdown.contains("| success rate | 20.0% |"), "{markdown}");
    assert!(markdown.contains("## Failures (8)"), "{markdown}");
    assert!(markdown.contains("| no-cashmere |"), "{markdown}");
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    write_world(dir.path());
    let run = |tasks: &str, feeds: &str| {
        concierge(
            dir.path(),
            &["eval", "shop", "--tasks", tasks, "--feeds", feeds],
        )
    };

    let missing = run("nowhere.jsonl", "feeds");
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(
        text(&missing).contains("nowhere.jsonl"),
        "{}",
        text(&missing)
    );

    std::fs::write(
        dir.path().join("broken.jsonl"),
        "{\"id\": \"a\", \"request\": \"buy socks\"}\n{\"id\": \"b\", \"request\": \n",
    )
    .unwrap();
    let broken = run("broken.jsonl", "feeds");
    assert_eq!(broken.status.code(), Some(1), "{}", text(&broken));
    assert!(
        text(&broken).contains("broken.jsonl:2:"),
        "{}",
        text(&broken)
    );

    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    let empty = run("tasks.jsonl", "empty");
    assert_eq!(empty.status.code(), Some(1), "{}", text(&empty));
    assert!(text(&empty).contains("no feeds"), "{}", text(&empty));

    // One usable product and two bad lines: readable, but the catalog
    // refuses a feed with more rejected rows than kept.
    let refused = dir.path().join("refused");
    std::fs::create_dir_all(&refused).unwrap();
    std::fs::write(
        refused.join("gamma.jsonl"),
        format!(
            "{}\n{{\"id\": \"G-2\"}}\n{{\"id\": \"G-3\", \"title\": 5}}\n",
            product("G-1", "Wool Socks", "Socks.", 900, &["Gray"])
        ),
    )
    .unwrap();
    let refused = run("tasks.jsonl", "refused");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let said = text(&refused);
    assert!(said.contains("merchant gamma"), "{said}");
    assert!(said.contains("registration refused"), "{said}");
}
