//! `concierge rules check`: validate every rule file (all problems at once,
//! each with file and line), then run every example the files carry and
//! report each one that does not do what its rule promises.

use super::{compile, read_dir, CompiledRules, RuleSource};
use crate::error::{RuleError, RuleProblem};
use crate::intent::Parser;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// An example that did not behave as its rule says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckFailure {
    pub file: String,
    pub line: usize,
    pub rule: String,
    pub text: String,
    pub message: String,
}

/// The outcome of checking a rules directory.
#[derive(Debug, Default, serde::Serialize)]
pub struct CheckReport {
    pub files: Vec<String>,
    /// Problems in the files themselves; when there are any, no example runs.
    #[serde(serialize_with = "problems_as_strings")]
    pub problems: Vec<RuleProblem>,
    pub examples_run: usize,
    pub failures: Vec<CheckFailure>,
}

fn problems_as_strings<S: serde::Serializer>(
    problems: &[RuleProblem],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(problems.iter().map(|p| p.to_string()))
}

impl CheckReport {
    /// True when the files are valid and every example passed.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.failures.is_empty()
    }

    /// The text `concierge rules check` prints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("checked {} rule file(s)\n", self.files.len()));
        for problem in &self.problems {
            out.push_str(&format!("{problem}\n"));
        }
        if !self.problems.is_empty() {
            out.push_str(&format!(
                "{} problem(s); examples not run\n",
                self.problems.len()
            ));
            return out;
        }
        for failure in &self.failures {
            out.push_str(&format!(
                "{}:{}: example of {:?} failed: {:?}: {}\n",
                failure.file, failure.line, failure.rule, failure.text, failure.message
            ));
        }
        out.push_str(&format!(
            "{} example(s) run, {} failed\n",
            self.examples_run,
            self.failures.len()
        ));
        out.push_str(if self.is_ok() { "ok\n" } else { "FAILED\n" });
        out
    }
}

/// Checks the `*.toml` files of `dir`. Only an unreadable directory is an
/// error; problems in the files are part of the report.
pub fn check(dir: &Path) -> Result<CheckReport, RuleError> {
    Ok(check_sources(&read_dir(dir)?))
}

/// Checks rule sources already in memory (the embedded rules, tests).
pub fn check_sources(sources: &[RuleSource]) -> CheckReport {
    let mut report = CheckReport {
        files: sources.iter().map(|s| s.file.clone()).collect(),
        ..CheckReport::default()
    };
    match compile(sources) {
        Ok(rules) => run_examples(Arc::new(rules), &mut report),
        Err(RuleError::Invalid(problems)) => report.problems = problems,
        Err(other) => report.problems.push(RuleProblem {
            file: "(rules)".into(),
            line: 1,
            message: other.to_string(),
        }),
    }
    report
}

fn run_examples(rules: Arc<CompiledRules>, report: &mut CheckReport) {
    let parser = Parser::new(rules.clone());
    let mut fail = |file: &str, line: usize, rule: &str, text: &str, message: String| {
        report.failures.push(CheckFailure {
            file: file.to_string(),
            line,
            rule: rule.to_string(),
            text: text.to_string(),
            message,
        })
    };
    let mut run = 0;
    for example in &rules.intent_examples {
        run += 1;
        let parsed = parser.parse(&example.text);
        let expected = rules
            .intents
            .iter()
            .find(|r| r.name == example.rule)
            .map(|r| r.intent);
        if Some(parsed.intent) != expected || !parsed.trace.iter().any(|f| f.rule == example.rule) {
            fail(
                &example.file,
                example.line,
                &example.rule,
                &example.text,
                format!(
                    "parsed as {} by {}",
                    parsed.intent.name(),
                    fired_names(&parsed.trace)
                ),
            );
        }
    }
    for example in &rules.intent_counter_examples {
        run += 1;
        let parsed = parser.parse(&example.text);
        if parsed.trace.iter().any(|f| f.rule == example.rule) {
            fail(
                &example.file,
                example.line,
                &example.rule,
                &example.text,
                "counter-example fired the rule".into(),
            );
        }
    }
    for example in &rules.price_examples {
        run += 1;
        let parsed = parser.parse(&example.text);
        if !parsed.trace.iter().any(|f| f.rule == example.rule) {
            fail(
                &example.file,
                example.line,
                &example.rule,
                &example.text,
                format!("rule did not fire; fired {}", fired_names(&parsed.trace)),
            );
        }
    }
    for (example, act) in &rules.dialogue_examples {
        run += 1;
        let acts = rules.dialogue_acts(&example.text);
        if !acts.iter().any(|(a, _)| a == act) {
            fail(
                &example.file,
                example.line,
                &example.rule,
                &example.text,
                format!("not recognised as {act:?}; recognised {acts:?}"),
            );
        }
    }
    for example in &rules.request_examples {
        run += 1;
        let parsed = parser.parse(&example.text);
        let expected: BTreeMap<String, serde_json::Value> = example
            .slots
            .iter()
            .filter_map(|(k, v)| serde_json::to_value(v).ok().map(|v| (k.clone(), v)))
            .collect();
        let slots = parsed.flat_slots();
        if parsed.intent != example.intent || slots != expected {
            fail(
                &example.file,
                example.line,
                "example",
                &example.text,
                format!(
                    "expected {} {}, got {} {}",
                    example.intent.name(),
                    serde_json::Value::from_iter(expected),
                    parsed.intent.name(),
                    serde_json::Value::from_iter(slots)
                ),
            );
        }
    }
    report.examples_run = run;
}

fn fired_names(trace: &[crate::intent::Fired]) -> String {
    if trace.is_empty() {
        return "no rule".into();
    }
    trace
        .iter()
        .map(|f| f.rule.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
