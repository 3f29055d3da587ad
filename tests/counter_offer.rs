//! The policy's one counter-offer. Properties checked:
//! - when the only invoice is over budget by no more than the margin, one
//!   counter-offer is made; a merchant that grants it is paid the budget, no
//!   more;
//! - a merchant that refuses is not paid, and the request ends with a clear
//!   note;
//! - an invoice further over budget than the margin gets no counter-offer.

mod common;

use common::*;
use concierge::catalog::MerchantCatalog;
use concierge::merchant::messenger::signature::random_token;
use concierge::merchant::{Responder, ResponderConfig};
use concierge::world::RunningMerchant;
use tokio::net::TcpListener;

async fn run(
    price: i64,
    shipping: i64,
    max_discount_bp: i64,
) -> (concierge::negotiate::ShopReport, RunningMerchant, TestWorld) {
    let catalog = MerchantCatalog {
        profile: profile("haggle", "Haggle House", shipping, 0),
        products: vec![turtleneck(
            "H-1",
            "Classic Turtleneck Sweater",
            price,
            &["Gray"],
            &[],
        )],
    };
    let mut config = ResponderConfig::new(catalog.profile.clone(), &random_token(8));
    config.max_discount_bp = max_discount_bp;
    let responder = Responder::new(config, catalog.products.clone());
    let merchant =
        RunningMerchant::start(TcpListener::bind("127.0.0.1:0").await.unwrap(), responder).unwrap();
    let world = TestWorld::start(vec![catalog], vec![merchant.endpoint.clone()], |_| {}).await;
    let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();
    (report, merchant, world)
}

#[tokio::test]
async fn a_granted_counter_offer_is_paid_at_the_budget() {
    // $48.00 + $4.00 = $52.00, 4% over $50.00; the merchant grants up to 5%.
    let (report, merchant, world) = run(4800, 400, 500).await;
    let receipt = report
        .receipt
        .as_ref()
        .unwrap_or_else(|| panic!("{}", report.render()));
    assert_eq!(receipt.total.minor, 5000);
    let charges = merchant.charges();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount.minor, 5000);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("Counter-offer to Haggle House: asked $50.00, accepted at $50.00")),
        "{:?}",
        report.notes
    );
    let transcript: Vec<String> = report.conversations[0]
        .transcript
        .iter()
        .map(|l| l.text.clone())
        .collect();
    assert!(
        transcript
            .iter()
            .any(|t| t == "Could you do $50.00 in total?"),
        "{transcript:?}"
    );
    merchant.stop().await;
    world.stop().await;
}

#[tokio::test]
async fn a_refused_counter_offer_pays_nothing() {
    let (report, merchant, world) = run(4800, 400, 0).await;
    assert!(report.receipt.is_none(), "{}", report.render());
    assert!(merchant.charges().is_empty());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("refused ($52.00 stands)")),
        "{:?}",
        report.notes
    );
    merchant.stop().await;
    world.stop().await;
}

#[tokio::test]
async fn no_counter_offer_beyond_the_margin() {
    // $48.00 + $9.00 = $57.00, 14% over: too far to ask.
    let (report, merchant, world) = run(4800, 900, 5000).await;
    assert!(report.receipt.is_none());
    assert!(merchant.charges().is_empty());
    assert!(
        !report.notes.iter().any(|n| n.contains("Counter-offer")),
        "{:?}",
        report.notes
    );
    let said: Vec<&str> = report.conversations[0]
        .transcript
        .iter()
        .map(|l| l.text.as_str())
        .collect();
    assert!(
        !said.iter().any(|t| t.starts_with("Could you do")),
        "{said:?}"
    );
    merchant.stop().await;
    world.stop().await;
}
