//! The whole purchase over real loopback HTTP, a real on-disk index and a
//! real SQLite store. Properties checked:
//! - the cheapest valid invoice is chosen and paid exactly once, for the
//!   variant asked (gray, M), and the order survives reopening the store;
//! - an invoice over budget is rejected with that reason and never paid;
//! - a merchant that never answers times out while the others complete;
//! - an invoice with the wrong colour is rejected and never paid;
//! - a request that cannot be understood gets a clear message, no panic;
//! - the bundled demo world buys the cheapest valid gray medium turtleneck.

mod common;

use common::*;
use concierge::catalog::MerchantCatalog;
use concierge::negotiate::orchestrate::ConversationReport;
use concierge::negotiate::{Outcome, ShopOptions};
use concierge::order::Store;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

fn conversation<'r>(
    report: &'r concierge::negotiate::ShopReport,
    merchant: &str,
) -> &'r ConversationReport {
    report
        .conversations
        .iter()
        .find(|c| c.merchant_id == merchant)
        .unwrap_or_else(|| panic!("no conversation with {merchant}"))
}

#[tokio::test]
async fn buys_the_cheapest_valid_offer_and_records_it_durably() {
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();

    let choice = report.choice.as_ref().expect("a choice");
    assert_eq!(choice.merchant_id, "beta", "{}", report.render());
    let receipt = report.receipt.as_ref().expect("a receipt");
    assert_eq!(receipt.total.minor, 4700);
    // Beta sells Gray and Heather Grey; the exact colour asked is chosen.
    assert_eq!(receipt.variant, "M / Gray");
    assert_eq!(receipt.payment_status, "confirmed");

    // Alpha was valid but dearer; gamma broke the budget.
    assert!(conversation(&report, "alpha").accepted);
    let gamma = conversation(&report, "gamma");
    assert!(!gamma.accepted);
    assert!(
        gamma.rejection().unwrap().starts_with("within budget"),
        "{:?}",
        gamma.rejection()
    );

    // Exactly one charge, at beta.
    assert_eq!(world.merchant("beta").charges().len(), 1);
    assert_eq!(world.merchant("beta").charges()[0].amount.minor, 4700);
    assert!(world.merchant("alpha").charges().is_empty());
    assert!(world.merchant("gamma").charges().is_empty());

    // The order is still there after the store is closed and reopened.
    let db_path = world.config.db_path.clone();
    let dir = world.stop().await;
    let reopened = Store::open(&db_path).unwrap();
    let orders = reopened.orders().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].merchant_id, "beta");
    assert_eq!(orders[0].total, 4700);
    assert_eq!(orders[0].variant, "M / Gray");
    assert_eq!(
        reopened
            .count_payments(concierge::order::PaymentStatus::Confirmed)
            .unwrap(),
        1
    );
    // Every message and decision of the run is stored too.
    let messages = reopened.messages(report.run_id.unwrap()).unwrap();
    assert!(messages
        .iter()
        .any(|m| m.direction == "to_merchant" && m.body.contains("(B-100)")));
    assert!(messages
        .iter()
        .any(|m| m.direction == "from_merchant" && m.body.contains("What size?")));
    assert!(messages.iter().any(|m| m.direction == "decision"
        && m.merchant_id == "gamma"
        && m.body.contains("rejected (within budget")));
    assert!(messages.iter().any(|m| m.direction == "decision"
        && m.merchant_id == "beta"
        && m.body.starts_with("chosen:")));
    drop(dir);
}

#[tokio::test]
async fn a_merchant_that_never_answers_times_out_and_the_others_complete() {
    let mut catalogs = small_catalogs();
    catalogs.push(MerchantCatalog {
        profile: profile("sleepy", "Sleepy Store", 0, 0),
        products: vec![turtleneck(
            "Z-1",
            "Classic Turtleneck Sweater",
            1000,
            &["Gray"],
            &[],
        )],
    });
    let hanging = hanging_merchant("sleepy").await;
    let world = TestWorld::start(catalogs, vec![hanging], |config| {
        config.turn_timeout = Duration::from_millis(300);
    })
    .await;
    // The hanging merchant costs one turn timeout, as its reason says.
    let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();

    let sleepy = conversation(&report, "sleepy");
    assert!(sleepy.invoice.is_none());
    let failure = sleepy.failure.as_deref().unwrap();
    assert!(failure.contains("no answer within 300 ms"), "{failure}");
    assert_eq!(report.choice.as_ref().unwrap().merchant_id, "beta");
    assert!(report.receipt.is_some());
    world.stop().await;
}

#[tokio::test]
async fn an_invoice_with_the_wrong_colour_is_rejected_and_never_paid() {
    let mut catalogs = small_catalogs();
    catalogs.push(MerchantCatalog {
        profile: profile("trick", "Tricky Store", 0, 0),
        products: vec![turtleneck(
            "T-1",
            "Classic Turtleneck Sweater",
            3000,
            &["Gray"],
            &[],
        )],
    });
    let counter = Arc::new(PayCounter::default());
    let bot = invoicing_bot(
        "trick",
        "Classic Turtleneck Sweater",
        "Red / M",
        30.0,
        0.0,
        counter.clone(),
    )
    .await;
    let world = TestWorld::start(catalogs, vec![bot], |_| {}).await;
    let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();

    let trick = conversation(&report, "trick");
    assert!(!trick.accepted);
    let rejection = trick.rejection().unwrap();
    assert!(
        rejection.starts_with("colour: invoice says red, asked gray"),
        "{rejection}"
    );
    assert_eq!(
        counter.pays.load(Ordering::SeqCst),
        0,
        "the wrong invoice was paid"
    );
    assert_eq!(report.choice.as_ref().unwrap().merchant_id, "beta");
    world.stop().await;
}

#[tokio::test]
async fn an_invoice_over_the_budget_is_rejected_and_never_paid() {
    let catalogs = vec![MerchantCatalog {
        profile: profile("steep", "Steep Store", 0, 0),
        products: vec![turtleneck(
            "S-1",
            "Classic Turtleneck Sweater",
            4900,
            &["Gray"],
            &[],
        )],
    }];
    let counter = Arc::new(PayCounter::default());
    let bot = invoicing_bot(
        "steep",
        "Classic Turtleneck Sweater",
        "Gray / M",
        49.0,
        9.5,
        counter.clone(),
    )
    .await;
    let world = TestWorld::start(catalogs, vec![bot], |_| {}).await;
    let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();

    let steep = conversation(&report, "steep");
    assert_eq!(
        steep.rejection().unwrap(),
        "within budget: total $58.50 vs budget $50.00"
    );
    assert_eq!(counter.pays.load(Ordering::SeqCst), 0);
    assert!(report.choice.is_none() && report.receipt.is_none());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("nothing was bought")),
        "{:?}",
        report.notes
    );
    assert_eq!(
        world
            .shop
            .store
            .count_payments(concierge::order::PaymentStatus::Confirmed)
            .unwrap(),
        0
    );
    world.stop().await;
}

#[tokio::test]
async fn a_request_that_cannot_be_understood_gets_a_clear_message() {
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    for text in ["qwerty asdf zxcv", "", "what's the weather like tomorrow"] {
        let report = world.shop.shop(text, &pay()).await.unwrap();
        assert_eq!(
            report.intent.intent,
            concierge::intent::IntentKind::None,
            "{text:?}"
        );
        assert!(report.conversations.is_empty());
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("could not understand")),
            "{:?}",
            report.notes
        );
        assert!(report.render().contains("could not understand"));
    }
    world.stop().await;
}

#[tokio::test]
async fn without_a_budget_nothing_is_paid() {
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    let report = world
        .shop
        .shop("buy me a gray turtleneck sweater in medium", &pay())
        .await
        .unwrap();
    assert!(report.choice.is_some());
    assert!(report.receipt.is_none());
    assert!(
        report.notes.iter().any(|n| n.contains("No budget")),
        "{:?}",
        report.notes
    );
    for merchant in &world.merchants {
        assert!(merchant.charges().is_empty());
    }
    world.stop().await;
}

/// In the demo world, asked for gray: the cheapest valid invoice in exactly
/// gray, before cheaper charcoal ones (shades of gray).
#[tokio::test]
async fn the_demo_world_buys_the_cheapest_valid_gray_medium_turtleneck() {
    let catalogs = concierge::world::demo::generate();
    let world = TestWorld::start(catalogs, vec![], |_| {}).await;
    let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();
    let receipt = report
        .receipt
        .as_ref()
        .unwrap_or_else(|| panic!("{}", report.render()));
    let accepted: Vec<&ConversationReport> =
        report.conversations.iter().filter(|c| c.accepted).collect();
    assert!(accepted.len() >= 2, "{}", report.render());
    let exactly_gray: Vec<&&ConversationReport> = accepted
        .iter()
        .filter(|c| c.offer.color_exact == Some(true))
        .collect();
    assert!(!exactly_gray.is_empty(), "{}", report.render());
    let cheapest = exactly_gray
        .iter()
        .map(|c| c.invoice.as_ref().unwrap().total)
        .min()
        .unwrap();
    assert_eq!(receipt.total.minor, cheapest, "{}", report.render());
    assert!(
        receipt.variant.split(" / ").any(|part| part == "Gray"),
        "{}",
        receipt.variant
    );
    assert!(receipt.total.minor <= 5000);
    let rules = concierge::rules::CompiledRules::embedded().unwrap();
    let parts: Vec<&str> = receipt.variant.split(" / ").collect();
    assert!(parts.contains(&"M"), "{}", receipt.variant);
    assert!(
        parts.iter().any(|p| rules.canonical_color(p) == "gray"),
        "{}",
        receipt.variant
    );
    // At least one invoice was rejected for the budget, and it was declined.
    assert!(
        report.conversations.iter().any(|c| c
            .rejection()
            .is_some_and(|r| r.starts_with("within budget"))),
        "{}",
        report.render()
    );
    let paid: usize = world.merchants.iter().map(|m| m.charges().len()).sum();
    assert_eq!(paid, 1);
    world.stop().await;
}

#[tokio::test]
async fn order_status_and_cancel_work_from_the_store() {
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    let empty = world.shop.shop("where is my order", &pay()).await.unwrap();
    assert!(
        empty.notes.iter().any(|n| n == "You have no orders yet."),
        "{:?}",
        empty.notes
    );

    let bought = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();
    let order_number = bought.receipt.as_ref().unwrap().order_number.clone();

    let status = world.shop.shop("where is my order?", &pay()).await.unwrap();
    assert_eq!(
        status.intent.intent,
        concierge::intent::IntentKind::OrderStatus
    );
    assert!(
        status
            .notes
            .iter()
            .any(|n| n.contains(&order_number) && n.ends_with("paid.")),
        "{:?}",
        status.notes
    );

    let cancel = world
        .shop
        .shop("please cancel the turtleneck order", &pay())
        .await
        .unwrap();
    assert_eq!(
        cancel.intent.intent,
        concierge::intent::IntentKind::CancelOrder
    );
    assert!(
        cancel
            .notes
            .iter()
            .any(|n| n.contains("cancelled (merchant says")),
        "{:?}",
        cancel.notes
    );
    let orders = world.shop.store.orders().unwrap();
    assert_eq!(orders[0].status, concierge::store::OrderStatus::Cancelled);
    assert!(
        orders[0].status_detail.contains("refunded"),
        "{}",
        orders[0].status_detail
    );
    assert!(world.merchant("beta").charges()[0].refunded);

    let again = world.shop.shop("cancel my order", &pay()).await.unwrap();
    assert!(
        again
            .notes
            .iter()
            .any(|n| n == "There is no paid order to cancel."),
        "{:?}",
        again.notes
    );
    world.stop().await;
}

/// Alpha sells the test basket at $63, $3 above the cheapest items: a 10%
/// premium for one order makes it the basket's merchant.
fn ten_percent_for_one_order(config: &mut concierge::config::Config) {
    config.basket_one_order_premium_bp = 1000;
}

#[tokio::test]
async fn a_basket_one_merchant_sells_is_one_order_with_a_line_per_item() {
    // Alpha sells both (turtleneck $45, socks $9, $4 shipping); beta's
    // turtleneck is $3 cheaper, within a 10% premium allowed for one order.
    // One conversation, one two-line receipt, one payment.
    let world = TestWorld::start(small_catalogs(), vec![], ten_percent_for_one_order).await;
    let request = "buy a gray turtleneck sweater in medium and two pairs of gray wool socks in medium under $70";
    let report = world.shop.shop(request, &pay()).await.unwrap();
    let rendered = report.render();
    assert_eq!(report.outcome, Outcome::Bought, "{rendered}");
    assert!(report.basket.is_empty(), "{rendered}");
    let receipt = report.receipt.as_ref().expect("one receipt");
    let lines: Vec<(&str, &str, u32, i64)> = receipt
        .lines
        .iter()
        .map(|l| {
            (
                l.product_title.as_str(),
                l.variant.as_str(),
                l.quantity,
                l.unit_price.minor,
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            ("Classic Turtleneck Sweater", "M / Gray", 1, 4500),
            ("Wool Socks", "M / Gray", 2, 900)
        ]
    );
    assert_eq!(receipt.total.minor, 6700);
    assert_eq!(report.conversations.len(), 1, "{rendered}");
    assert!(report.conversations[0].transcript[0]
        .text
        .contains("\n2. 2 x Wool Socks (A-200) in Gray, size M"));
    let charges = world.merchant("alpha").charges();
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].amount.minor, 6700);
    assert!(world.merchant("beta").charges().is_empty());
    let orders = world.shop.store.orders().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(
        orders[0].product_title,
        "Classic Turtleneck Sweater + Wool Socks"
    );
    assert!(
        report.notes.iter().any(|n| n
            == "Basket: 2 of 2 items bought in one order at Alpha Knits, $67.00 of the $70.00 budget."),
        "{:?}",
        report.notes
    );
    world.stop().await;
}

#[tokio::test]
async fn a_multi_item_request_is_one_basket_within_one_budget() {
    // With no premium for one order (the default), alpha's $63 at catalog
    // prices is dearer than $60 from two merchants: each item is bought on
    // its own.
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    let request = "buy a gray turtleneck sweater in medium and two pairs of gray wool socks in medium under $70";
    let report = world.shop.shop(request, &pay()).await.unwrap();
    assert_eq!(report.basket.len(), 2, "{}", report.render());
    let turtleneck = report.basket[0]
        .receipt
        .as_ref()
        .expect("the turtleneck is bought");
    assert_eq!(
        (
            turtleneck.total.minor,
            report.basket[0]
                .choice
                .as_ref()
                .unwrap()
                .merchant_id
                .as_str()
        ),
        (4700, "beta")
    );
    let socks = report.basket[1]
        .receipt
        .as_ref()
        .unwrap_or_else(|| panic!("{}", report.render()));
    assert_eq!(socks.quantity, 2);
    assert_eq!(socks.total.minor, 2200);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n == "Basket: 2 of 2 items bought, $69.00 of the $70.00 budget."),
        "{:?}",
        report.notes
    );
    assert!(report.render().contains("######## Item 2 of 2: socks"));
    world.stop().await;

    // With $60, the socks no longer fit what is left after the turtleneck.
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    let report = world
        .shop
        .shop(&request.replace("$70", "$60"), &pay())
        .await
        .unwrap();
    assert!(report.basket[0].receipt.is_some());
    assert!(report.basket[1].receipt.is_none());
    let socks = &report.basket[1].conversations[0];
    assert_eq!(
        socks.rejection().unwrap(),
        "within budget: total $22.00 vs budget $13.00"
    );
    assert!(world.merchant("alpha").charges().is_empty());
    world.stop().await;
}

#[tokio::test]
async fn the_mandate_limits_merchants_and_can_require_confirmation() {
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    // Only alpha may be paid: beta, though cheaper, is not even asked.
    let only_alpha = ShopOptions {
        pay: true,
        allowed_merchants: Some(vec!["alpha".into()]),
        ..Default::default()
    };
    let report = world.shop.shop(DEFAULT_REQUEST, &only_alpha).await.unwrap();
    assert!(
        report
            .conversations
            .iter()
            .all(|c| c.merchant_id == "alpha"),
        "{}",
        report.render()
    );
    assert_eq!(report.receipt.as_ref().unwrap().total.minor, 4900);

    // Confirmation required and nobody to ask: chosen, not paid.
    let confirm_first = ShopOptions {
        pay: true,
        require_confirmation: true,
        ..Default::default()
    };
    let report = world
        .shop
        .shop(DEFAULT_REQUEST, &confirm_first)
        .await
        .unwrap();
    assert!(report.choice.is_some() && report.receipt.is_none());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("requires the shopper to confirm")),
        "{:?}",
        report.notes
    );
    assert!(world.merchant("beta").charges().is_empty());
    world.stop().await;
}

#[tokio::test]
async fn a_running_budget_caps_what_the_request_may_spend() {
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    // Per order up to $50 (the request), but only $45 in all: beta's $47
    // no longer fits, and nothing else is cheaper.
    let tight = ShopOptions {
        pay: true,
        budget: Some(4500),
        ..Default::default()
    };
    let report = world.shop.shop(DEFAULT_REQUEST, &tight).await.unwrap();
    assert!(report.receipt.is_none(), "{}", report.render());
    let beta = report
        .conversations
        .iter()
        .find(|c| c.merchant_id == "beta")
        .unwrap();
    assert_eq!(
        beta.rejection().unwrap(),
        "within budget: total $47.00 vs budget $45.00"
    );

    let roomy = ShopOptions {
        pay: true,
        budget: Some(4800),
        ..Default::default()
    };
    let report = world.shop.shop(DEFAULT_REQUEST, &roomy).await.unwrap();
    assert_eq!(report.receipt.as_ref().unwrap().total.minor, 4700);
    world.stop().await;
}

/// The exact colour asked comes first: asked for heather grey, beta (which
/// sells Gray and Heather Grey) is asked for Heather Grey and answers the
/// colour question with it; asked for gray, Gray.
#[tokio::test]
async fn the_shade_asked_is_bought_before_the_colour_itself_and_back() {
    let world = TestWorld::start(small_catalogs(), vec![], |config| {
        config.max_merchants = 8;
    })
    .await;
    for (request, variant) in [
        (
            "buy me a heather grey turtleneck sweater in medium under $50",
            "M / Heather Grey",
        ),
        (
            "buy me a gray turtleneck sweater in medium under $50",
            "M / Gray",
        ),
    ] {
        let report = world.shop.shop(request, &pay()).await.unwrap();
        let receipt = report
            .receipt
            .as_ref()
            .unwrap_or_else(|| panic!("{}", report.render()));
        assert_eq!(receipt.variant, variant, "{}", report.render());
    }
    world.stop().await;
}

/// A merchant that restarts and numbers its orders from the start again
/// (here, every invoice is "BAD-1") can be paid again in a new
/// conversation: payments are unique per conversation and order, not per
/// order number alone.
#[tokio::test]
async fn a_reused_order_number_in_a_new_conversation_is_paid() {
    let counter = Arc::new(common::PayCounter::default());
    let bot = common::invoicing_bot(
        "restarts",
        "Classic Turtleneck Sweater",
        "Gray / M",
        39.0,
        4.0,
        counter.clone(),
    )
    .await;
    let catalog = MerchantCatalog {
        profile: profile("restarts", "Restarting Shop", 400, 0),
        products: vec![turtleneck(
            "R-1",
            "Classic Turtleneck Sweater",
            3900,
            &["Gray"],
            &[],
        )],
    };
    let world = TestWorld::start(vec![catalog], vec![bot], |_| {}).await;
    for _ in 0..2 {
        let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();
        let receipt = report
            .receipt
            .as_ref()
            .unwrap_or_else(|| panic!("{}", report.render()));
        assert_eq!(receipt.order_number, "BAD-1");
    }
    assert_eq!(counter.pays.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(
        world
            .shop
            .store
            .count_payments(concierge::order::PaymentStatus::Confirmed)
            .unwrap(),
        2
    );
    assert_eq!(world.shop.store.orders().unwrap().len(), 2);
    world.stop().await;
}

#[tokio::test]
async fn a_merchant_that_does_not_take_the_list_is_declined_and_items_are_bought_one_by_one() {
    // No size for the turtleneck: alpha's responder cannot take the list
    // ("which size for the Classic Turtleneck Sweater?"). Concierge does not
    // answer for one item inside a basket; it shops item by item, where the
    // open size drops the turtleneck (the policy) and the socks are bought.
    let world = TestWorld::start(small_catalogs(), vec![], ten_percent_for_one_order).await;
    let request =
        "buy a gray turtleneck sweater and two pairs of gray wool socks in medium under $70";
    let report = world.shop.shop(request, &pay()).await.unwrap();
    let rendered = report.render();
    assert!(
        report.notes.iter().any(|n| n.starts_with(
            "Alpha Knits did not take the basket in one order (a question about one item of the basket: For a list I need each item's options: which size for the Classic Turtleneck Sweater?)"
        )),
        "{:?}",
        report.notes
    );
    assert_eq!(report.outcome, Outcome::PartlyBought, "{rendered}");
    assert_eq!(report.basket.len(), 2, "{rendered}");
    assert!(report.basket[0].receipt.is_none(), "{rendered}");
    let socks = report.basket[1].receipt.as_ref().expect("socks bought");
    assert_eq!((socks.quantity, socks.total.minor), (2, 2200));
    let charges = world.merchant("alpha").charges();
    assert_eq!(charges.len(), 1, "one payment, for the socks only");
    assert_eq!(charges[0].amount.minor, 2200);
    world.stop().await;
}

#[tokio::test]
async fn by_default_a_basket_is_one_order_where_it_is_no_dearer() {
    // Only alpha has a navy turtleneck, and it sells the socks too: one
    // order, one payment, with the default policy.
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    let report = world
        .shop
        .shop(
            "buy a navy turtleneck sweater in medium and a pair of gray wool socks in medium under $70",
            &pay(),
        )
        .await
        .unwrap();
    let receipt = report
        .receipt
        .as_ref()
        .unwrap_or_else(|| panic!("{}", report.render()));
    assert_eq!(receipt.lines.len(), 2);
    assert_eq!(receipt.total.minor, 4500 + 900 + 400);
    assert_eq!(world.merchant("alpha").charges().len(), 1);
    world.stop().await;
}

/// "The cheapest" with payment authorised and no budget: the lowest total
/// that passed every check is what the shopper authorised, and it alone is
/// paid. Without "cheapest", nothing would be (above).
#[tokio::test]
async fn the_cheapest_asked_without_a_budget_pays_the_lowest_valid_total() {
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    let report = world
        .shop
        .shop(
            "buy me the cheapest gray turtleneck sweater in medium",
            &pay(),
        )
        .await
        .unwrap();
    let receipt = report.receipt.as_ref().expect("a receipt");
    assert_eq!(receipt.total.minor, 4700, "{}", report.render());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("you asked for the cheapest")),
        "{:?}",
        report.notes
    );
    let charges: usize = world.merchants.iter().map(|m| m.charges().len()).sum();
    assert_eq!(charges, 1);
    world.stop().await;
}

/// A bare product phrase or a search to get something ("i'm looking for")
/// is a search, unless the request is an order (`ask --auto-pay`): then it
/// is bought. Browsing ("show me") stays a search either way.
#[tokio::test]
async fn a_bare_product_phrase_is_bought_only_when_the_request_is_an_order() {
    let world = TestWorld::start(small_catalogs(), vec![], |_| {}).await;
    let order = ShopOptions {
        request_is_order: true,
        ..pay()
    };
    // (request, options, outcome)
    let cases = [
        (
            "gray turtleneck sweater, medium, under $50",
            pay(),
            Outcome::Searched,
        ),
        (
            "gray turtleneck sweater, medium, under $50",
            order.clone(),
            Outcome::Bought,
        ),
        (
            "i'm looking for a gray turtleneck sweater in medium under $50",
            pay(),
            Outcome::Searched,
        ),
        (
            "i'm looking for a gray turtleneck sweater in medium under $50",
            order.clone(),
            Outcome::Bought,
        ),
        (
            "show me gray turtleneck sweaters in medium under $50",
            order,
            Outcome::Searched,
        ),
    ];
    for (request, options, outcome) in cases {
        let report = world.shop.shop(request, &options).await.unwrap();
        assert_eq!(report.outcome, outcome, "{request}: {}", report.render());
    }
    let charges: usize = world.merchants.iter().map(|m| m.charges().len()).sum();
    assert_eq!(charges, 2);
    world.stop().await;
}
