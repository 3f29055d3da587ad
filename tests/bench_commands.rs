//! The measurements behind `concierge bench` run on small sizes, so the
//! commands keep working and their invariants hold:
//! - every well-behaved merchant's invoice is checked, even with hanging and
//!   trickling merchants in the same negotiation (how long it takes is the
//!   benchmark's figure, never asserted here);
//! - concurrent duplicate payments are claimed and charged once per order.

use std::time::Duration;

#[tokio::test]
async fn negotiation_bench_collects_every_good_invoice_by_the_deadline() {
    let protocols = ["messenger".to_string()];
    let result = concierge::bench::negotiation(6, 1, 1, Duration::from_millis(400), 2, &protocols)
        .await
        .unwrap();
    for run in &result.runs {
        assert_eq!(run.invoices_checked, 6, "{run:?}");
        assert_eq!(run.accepted, 6, "{run:?}");
    }
}

#[tokio::test]
async fn duplicate_payments_are_made_once_per_order() {
    let result = concierge::bench::payments(5, 20).await.unwrap();
    assert_eq!(result.store_claims, 5);
    assert_eq!(result.merchant_charges, 5);
}
