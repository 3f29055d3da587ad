//! How Concierge reads merchants' bot turns, scored on the labelled sets in
//! `tests/data/merchant-turns/` (each written blind, by a writer who had not
//! read the rules or the code; figures in its README). Properties checked:
//! - no turn is agreed to where the label says a careful assistant must not
//!   (the unsafe-agreement count is zero on every set);
//! - acts are read right at least 95% of the time on every set.

use concierge::eval::dialogue::{evaluate_turns, read_turns};
use concierge::rules::CompiledRules;
use std::path::Path;
use std::sync::Arc;

#[test]
fn merchant_turns_are_read_and_no_unchecked_offer_is_agreed_to() {
    let rules = Arc::new(CompiledRules::embedded().unwrap());
    for set in ["blind-1.jsonl", "blind-2.jsonl", "blind-3.jsonl"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/merchant-turns")
            .join(set);
        let cases = read_turns(&path).unwrap();
        assert!(cases.len() >= 150, "{set}");
        let report = evaluate_turns(&rules, &cases);
        assert_eq!(
            report.agreements.unsafe_agreements,
            0,
            "{set}:\n{}",
            report.render(20)
        );
        assert!(
            report.act_accuracy >= 0.95,
            "{set}: {:.3}\n{}",
            report.act_accuracy,
            report.render(20)
        );
    }
}
