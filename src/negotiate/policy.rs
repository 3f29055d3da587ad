//! The negotiation policy, read from `rules/policy.toml` (or the embedded
//! copy): deadlines, turn caps, the counter-offer margin and what to do when
//! a merchant asks for an option the request left open.

use crate::config::Config;
use crate::error::{RuleError, RuleProblem};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

const EMBEDDED_POLICY: &str = include_str!("../../rules/policy.toml");

/// What to do when a merchant asks for an option the shopper did not give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenChoice {
    /// Leave that merchant, with the reason.
    Drop,
    /// Ask the shopper (interactive chat only; elsewhere, drop).
    Ask,
    /// A colour or another option (a pack, a style) the request left open
    /// is answered with the variant search chose: the cheapest in stock
    /// with everything the shopper said. A size left open drops the
    /// merchant: it is about fit.
    Listed,
}

/// Every field has a default, so a policy file names only what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NegotiationPolicy {
    pub deadline_ms: u64,
    pub turn_timeout_ms: u64,
    pub turn_quiet_ms: u64,
    pub turn_settle_ms: u64,
    pub max_turns: u32,
    pub max_merchants: usize,
    pub counter_offer_margin_bp: i64,
    pub counter_offer_text: String,
    pub open_choice: OpenChoice,
    pub basket_one_order_premium_bp: i64,
}

impl Default for NegotiationPolicy {
    fn default() -> Self {
        NegotiationPolicy {
            deadline_ms: 40_000,
            turn_timeout_ms: 10_000,
            turn_quiet_ms: 2500,
            turn_settle_ms: 200,
            max_turns: 12,
            max_merchants: 8,
            counter_offer_margin_bp: 1000,
            counter_offer_text: "Could you do {budget} in total?".into(),
            open_choice: OpenChoice::Listed,
            basket_one_order_premium_bp: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
struct PolicyFile {
    negotiation: NegotiationPolicy,
}

impl NegotiationPolicy {
    /// Parses a policy file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<NegotiationPolicy, RuleError> {
        let parsed: PolicyFile = toml::from_str(text).map_err(|error| {
            let line = error
                .span()
                .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            RuleError::Invalid(vec![RuleProblem {
                file: file.to_string(),
                line,
                message: error.message().trim().to_string(),
            }])
        })?;
        let policy = parsed.negotiation;
        let mut problems = Vec::new();
        if policy.max_turns == 0
            || policy.max_merchants == 0
            || policy.deadline_ms == 0
            || policy.turn_timeout_ms == 0
        {
            problems
                .push("max_turns, max_merchants, deadline_ms and turn_timeout_ms must be positive");
        }
        if policy.turn_quiet_ms > policy.turn_timeout_ms
            || policy.turn_settle_ms > policy.turn_quiet_ms
        {
            problems.push("turn_settle_ms <= turn_quiet_ms <= turn_timeout_ms must hold");
        }
        if !(0..=5000).contains(&policy.counter_offer_margin_bp) {
            problems.push("counter_offer_margin_bp must be between 0 and 5000 (50%)");
        }
        if !(0..=5000).contains(&policy.basket_one_order_premium_bp) {
            problems.push("basket_one_order_premium_bp must be between 0 and 5000 (50%)");
        }
        if !problems.is_empty() {
            return Err(RuleError::Invalid(
                problems
                    .into_iter()
                    .map(|message| RuleProblem {
                        file: file.to_string(),
                        line: 1,
                        message: message.into(),
                    })
                    .collect(),
            ));
        }
        Ok(policy)
    }

    /// `rules_dir/policy.toml` when present, else the embedded policy.
    pub fn load(rules_dir: &Path) -> Result<NegotiationPolicy, RuleError> {
        let path = rules_dir.join("policy.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => NegotiationPolicy::parse(&path.display().to_string(), &text),
            Err(_) => NegotiationPolicy::parse("rules/policy.toml (embedded)", EMBEDDED_POLICY),
        }
    }

    /// Copies the policy into `config`, leaving values set by environment
    /// variables alone.
    pub fn apply_to(&self, config: &mut Config) {
        if std::env::var("CONCIERGE_DEADLINE_MS").is_err() {
            config.negotiation_deadline = Duration::from_millis(self.deadline_ms);
        }
        if std::env::var("CONCIERGE_TURN_TIMEOUT_MS").is_err() {
            config.turn_timeout = Duration::from_millis(self.turn_timeout_ms);
        }
        // A turn timeout shortened from the environment shortens the waits
        // within a turn with it.
        config.turn_quiet = Duration::from_millis(self.turn_quiet_ms).min(config.turn_timeout);
        config.turn_settle = Duration::from_millis(self.turn_settle_ms).min(config.turn_quiet);
        config.max_turns = self.max_turns;
        config.max_merchants = self.max_merchants;
        config.counter_offer_margin_bp = self.counter_offer_margin_bp;
        config.counter_offer_text = self.counter_offer_text.clone();
        config.open_choice = self.open_choice;
        config.basket_one_order_premium_bp = self.basket_one_order_premium_bp;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_policy_parses_and_bad_ones_are_located() {
        let policy = NegotiationPolicy::parse("policy.toml", EMBEDDED_POLICY).unwrap();
        assert_eq!(policy, NegotiationPolicy::default());
        let error = NegotiationPolicy::parse(
            "p.toml",
            "[negotiation]\ndeadline_ms = 10\nmax_turns = \"many\"\n",
        )
        .unwrap_err();
        assert!(error.to_string().contains("p.toml:3:"), "{error}");
        let error = NegotiationPolicy::parse(
            "p.toml",
            &EMBEDDED_POLICY.replace(
                "counter_offer_margin_bp = 1000",
                "counter_offer_margin_bp = 9000",
            ),
        )
        .unwrap_err();
        assert!(error.to_string().contains("between 0 and 5000"), "{error}");
        // A policy file names only what it changes.
        let policy = NegotiationPolicy::parse("p.toml", "[negotiation]\nmax_turns = 5\n").unwrap();
        assert_eq!(policy.max_turns, 5);
        assert_eq!(policy.deadline_ms, NegotiationPolicy::default().deadline_ms);
    }
}
