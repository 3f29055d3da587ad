//! The summary of an evaluation and its renderings: plain text, Markdown
//! and (by serde) JSON.

use super::{clip, Constraint, RunResult, Stage, TaskResult};
use crate::negotiate::Outcome;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShopEvalReport {
    pub tasks: usize,
    pub runs: usize,
    /// Runs per task (K).
    pub repeat: usize,
    /// Successful runs / runs.
    pub success_rate: f64,
    /// Mean reward over runs, ×100.
    pub mean_score: f64,
    /// Share of tasks that succeeded in every one of their K runs.
    #[serde(rename = "pass^k")]
    pub pass_all_k: f64,
    /// Share of tasks that succeeded in at least one run.
    #[serde(rename = "pass@k")]
    pub pass_at_k: f64,
    /// Failed runs per stage.
    pub failures: BTreeMap<Stage, usize>,
    /// Among runs that bought wrong: how often each constraint missed.
    pub missed: BTreeMap<Constraint, usize>,
    /// `--default-max-total`: the budget given to tasks whose gold states
    /// no max_price (major units); `None`: none given.
    pub default_max_total: Option<f64>,
    /// Wall time of building the world (starting and registering the
    /// merchants).
    pub setup_seconds: f64,
    /// Wall time of all runs, and the median run.
    pub seconds: f64,
    pub median_seconds: f64,
    pub results: Vec<TaskResult>,
}
/// The summary figures of judged tasks.
pub fn summarise(results: Vec<TaskResult>, repeat: usize) -> ShopEvalReport {
    let all_runs: Vec<&RunResult> = results.iter().flat_map(|t| t.runs.iter()).collect();
    let runs = all_runs.len();
    let share = |count: usize, of: usize| {
        if of == 0 {
            0.0
        } else {
            count as f64 / of as f64
        }
    };
    let mut failures = BTreeMap::new();
    let mut missed = BTreeMap::new();
    for run in &all_runs {
        if let Some(stage) = run.stage {
            *failures.entry(stage).or_insert(0) += 1;
        }
        let constraints: HashSet<Constraint> = run.missed.iter().map(|m| m.constraint).collect();
        for constraint in constraints {
            *missed.entry(constraint).or_insert(0) += 1;
        }
    }
    let mut seconds: Vec<f64> = all_runs.iter().map(|r| r.seconds).collect();
    seconds.sort_by(f64::total_cmp);
    ShopEvalReport {
        tasks: results.len(),
        runs,
        repeat,
        success_rate: share(all_runs.iter().filter(|r| r.success).count(), runs),
        mean_score: if runs == 0 {
            0.0
        } else {
            100.0 * all_runs.iter().map(|r| r.reward).sum::<f64>() / runs as f64
        },
        pass_all_k: share(
            results
                .iter()
                .filter(|t| !t.runs.is_empty() && t.successes == t.runs.len())
                .count(),
            results.len(),
        ),
        pass_at_k: share(
            results.iter().filter(|t| t.successes > 0).count(),
            results.len(),
        ),
        failures,
        missed,
        default_max_total: None,
        setup_seconds: 0.0,
        seconds: seconds.iter().sum(),
        median_seconds: seconds.get(seconds.len() / 2).copied().unwrap_or_default(),
        results,
    }
}

impl ShopEvalReport {
    /// The plain-text summary, then one line per failed run.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Tasks {}, runs {} ({} per task)",
            self.tasks, self.runs, self.repeat
        );
        let _ = writeln!(
            out,
            "Success rate {:.1}%   mean score {:.1}   pass^{k} {:.1}%   pass@{k} {:.1}%",
            100.0 * self.success_rate,
            self.mean_score,
            100.0 * self.pass_all_k,
            100.0 * self.pass_at_k,
            k = self.repeat
        );
        let _ = writeln!(
            out,
            "Time {:.1} s shopping (median run {:.2} s), {:.1} s building the world",
            self.seconds, self.median_seconds, self.setup_seconds
        );
        if let Some(budget) = self.default_max_total {
            let _ = writeln!(
                out,
                "Tasks stating no max_price were given --max-total {budget:.2}"
            );
        }
        if !self.failures.is_empty() {
            let stages: Vec<String> = self
                .failures
                .iter()
                .map(|(stage, n)| format!("{} {n}", stage.name()))
                .collect();
            let _ = writeln!(out, "Failed runs by stage: {}", stages.join(", "));
        }
        if !self.missed.is_empty() {
            let missed: Vec<String> = self
                .missed
                .iter()
                .map(|(c, n)| format!("{} {n}", c.name()))
                .collect();
            let _ = writeln!(out, "Constraints missed: {}", missed.join(", "));
        }
        let failed: Vec<(&TaskResult, &RunResult)> = self.failed_runs().collect();
        if !failed.is_empty() {
            let _ = writeln!(out, "\nFailures:");
            for (task, run) in failed {
                let _ = writeln!(
                    out,
                    "  {:<12} {:<9} reward {:.2}  {}",
                    task.id,
                    run.stage.map(Stage::name).unwrap_or("-"),
                    run.reward,
                    why(run)
                );
                let _ = writeln!(out, "  {:<12} {:?}", "", task.request);
            }
        }
        out
    }

    /// Markdown: a summary table, then a table of failed runs.
    pub fn render_markdown(&self) -> String {
        let mut out = String::from("# concierge eval shop\n\n| figure | value |\n|---|---|\n");
        let rows = [
            ("tasks", self.tasks.to_string()),
            ("runs", format!("{} ({} per task)", self.runs, self.repeat)),
            ("success rate", format!("{:.1}%", 100.0 * self.success_rate)),
            ("mean score", format!("{:.1}", self.mean_score)),
            (
                &*format!("pass^{}", self.repeat),
                format!("{:.1}%", 100.0 * self.pass_all_k),
            ),
            (
                &*format!("pass@{}", self.repeat),
                format!("{:.1}%", 100.0 * self.pass_at_k),
            ),
            (
                "time",
                format!(
                    "{:.1} s shopping (median run {:.2} s), {:.1} s building the world",
                    self.seconds, self.median_seconds, self.setup_seconds
                ),
            ),
        ]
        .map(|(name, value)| (name.to_string(), value));
        for (name, value) in rows {
            let _ = writeln!(out, "| {name} | {value} |");
        }
        if let Some(budget) = self.default_max_total {
            let _ = writeln!(
                out,
                "| --max-total for tasks stating no max_price | {budget:.2} |"
            );
        }
        for (stage, n) in &self.failures {
            let _ = writeln!(out, "| failed at {} | {n} |", stage.name());
        }
        for (constraint, n) in &self.missed {
            let _ = writeln!(out, "| missed {} | {n} |", constraint.name());
        }
        let failed: Vec<(&TaskResult, &RunResult)> = self.failed_runs().collect();
        let _ = writeln!(out, "\n## Failures ({})\n", failed.len());
        if failed.is_empty() {
            out.push_str("None.\n");
            return out;
        }
        out.push_str("| task | request | stage | outcome | bought | reward | why | seconds |\n");
        out.push_str("|---|---|---|---|---|---|---|---|\n");
        for (task, run) in failed {
            let bought = run
                .bought
                .as_ref()
                .map(|b| {
                    format!(
                        "{}: {} ({}) {:.2}",
                        b.merchant_id, b.product_title, b.variant, b.total
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.2} | {} | {:.1} |",
                cell(&task.id),
                cell(&task.request),
                run.stage.map(Stage::name).unwrap_or("-"),
                run.outcome.map(Outcome::name).unwrap_or("-"),
                cell(&bought),
                run.reward,
                cell(&why(run)),
                run.seconds
            );
        }
        out
    }

    fn failed_runs(&self) -> impl Iterator<Item = (&TaskResult, &RunResult)> {
        self.results
            .iter()
            .flat_map(|task| task.runs.iter().map(move |run| (task, run)))
            .filter(|(_, run)| !run.success)
    }
}

/// Why a run failed, in a few words.
fn why(run: &RunResult) -> String {
    if !run.missed.is_empty() {
        let missed: Vec<String> = run
            .missed
            .iter()
            .map(|m| format!("{}: {}", m.constraint.name(), m.detail))
            .collect();
        let bought = run
            .bought
            .as_ref()
            .map(|b| {
                format!(
                    "bought {} ({}) at {} for {:.2}; ",
                    b.product_title, b.variant, b.merchant_id, b.total
                )
            })
            .unwrap_or_default();
        return format!("{bought}{}", missed.join("; "));
    }
    let outcome = run.outcome.map(Outcome::name).unwrap_or("no report");
    match &run.note {
        Some(note) => format!("{outcome}: {}", clip(note, 200)),
        None => outcome.to_string(),
    }
}

/// Text for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_hat_k_and_pass_at_k() {
        let run = |success: bool| RunResult {
            outcome: Some(Outcome::Bought),
            exit_code: Some(0),
            bought: None,
            reward: if success { 1.0 } else { 0.5 },
            success,
            stage: (!success).then_some(Stage::Check),
            missed: Vec::new(),
            note: None,
            seconds: 1.0,
        };
        let task = |id: &str, runs: Vec<RunResult>| TaskResult {
            id: id.into(),
            request: String::new(),
            successes: runs.iter().filter(|r| r.success).count(),
            mean_reward: 0.0,
            runs,
        };
        let report = summarise(
            vec![
                task("always", vec![run(true), run(true)]),
                task("once", vec![run(false), run(true)]),
                task("never", vec![run(false), run(false)]),
            ],
            2,
        );
        assert_eq!(report.runs, 6);
        assert!((report.pass_all_k - 1.0 / 3.0).abs() < 1e-9);
        assert!((report.pass_at_k - 2.0 / 3.0).abs() < 1e-9);
        assert!((report.success_rate - 0.5).abs() < 1e-9);
        assert!((report.mean_score - 75.0).abs() < 1e-9);
        assert_eq!(report.failures.get(&Stage::Check), Some(&3));
        let json = serde_json::to_value(&report).unwrap();
        assert!(json.get("pass^k").is_some() && json.get("pass@k").is_some());
        assert!(report.render_markdown().contains("| pass^2 | 33.3% |"));
    }
}
