//! Mixed markets: one request negotiates with Messenger bots, UCP and ACP
//! businesses at once (each on its reference merchant over loopback HTTP)
//! and pays the best valid invoice whatever its protocol, exactly once (and
//! a UCP or ACP merchant is asked about the order afterwards);
//! a payment whose answer was lost is settled through the protocol it was
//! made in; a business following the README registers a UCP or ACP
//! endpoint with the binary and is paid; and a UCP business without a feed
//! is searched where it lives, at each request.

mod common;

use common::{
    free_port, output_text, pay, profile, run_at, serve_router, small_catalogs, spawn_until_ready,
    turtleneck, TestWorld, DEFAULT_REQUEST,
};
use concierge::catalog::MerchantCatalog;
use concierge::merchant::messenger::wire::PaymentAuthorization;
use concierge::merchant::protocol::{MerchantEndpoint, Opening, SessionState};
use concierge::merchant::ucp::{UcpMerchant, UcpMerchantConfig};
use concierge::negotiate::Outcome;
use concierge::order::{PaymentClaim, PaymentStatus};
use std::path::Path;
use std::process::Child;
use std::time::Duration;

/// The small world (alpha $49.00, beta $47.00 the cheapest valid, gamma
/// over budget) with its merchants speaking `protocols` in that order.
fn market(protocols: [&str; 3]) -> Vec<MerchantCatalog> {
    let mut catalogs = small_catalogs();
    for (catalog, protocol) in catalogs.iter_mut().zip(protocols) {
        catalog.profile.protocol = protocol.into();
    }
    catalogs
}

#[tokio::test]
async fn a_mixed_market_pays_the_cheapest_valid_invoice_whatever_its_protocol() {
    for protocols in [
        ["messenger", "ucp", "acp"],
        ["ucp", "acp", "messenger"],
        ["acp", "messenger", "ucp"],
    ] {
        let world = TestWorld::start(market(protocols), vec![], |_| {}).await;
        let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();
        let rendered = report.render();
        assert_eq!(report.outcome, Outcome::Bought, "{protocols:?}\n{rendered}");
        // Every merchant was talked to, each in its own protocol, and
        // each invoice was checked.
        assert_eq!(report.conversations.len(), 3, "{rendered}");
        assert!(
            report.conversations.iter().all(|c| c.invoice.is_some()),
            "{rendered}"
        );
        let choice = report.choice.as_ref().unwrap();
        assert_eq!(choice.merchant_id, "beta", "{protocols:?}\n{rendered}");
        assert_eq!(choice.total.minor, 4700, "{rendered}");
        let gamma = report
            .conversations
            .iter()
            .find(|c| c.merchant_id == "gamma")
            .unwrap();
        assert!(!gamma.accepted, "over budget must be refused: {rendered}");
        // Paid once, at the chosen merchant only.
        assert_eq!(world.merchant("beta").charges().len(), 1, "{rendered}");
        assert_eq!(world.merchant("beta").charges()[0].amount.minor, 4700);
        assert!(world.merchant("alpha").charges().is_empty(), "{rendered}");
        assert!(world.merchant("gamma").charges().is_empty(), "{rendered}");
        let orders = world.shop.store.orders().unwrap();
        assert_eq!(orders.len(), 1, "{rendered}");
        assert_eq!(orders[0].merchant_id, "beta");
        assert_eq!(orders[0].total, 4700);
        // Asked where the order is, a UCP or ACP merchant is asked too
        // and its answer shown beside the store's; a Messenger bot has no
        // way to be asked.
        let status = world
            .shop
            .shop("where is my order", &Default::default())
            .await
            .unwrap();
        assert_eq!(status.outcome, Outcome::OrderStatus);
        let notes = status.notes.join("\n");
        assert!(notes.contains(&orders[0].order_number), "{notes}");
        if protocols[1] == "messenger" {
            assert!(!notes.contains(" says: "), "{notes}");
        } else {
            assert!(
                notes.contains("Beta Basics says: order "),
                "{protocols:?}: {notes}"
            );
        }
        world.stop().await;
    }
}

/// A payment recorded as sent whose answer never came (the process died
/// while it was on the wire) is put to the merchant again by
/// reconciliation, in the merchant's own protocol: it becomes exactly one
/// charge and one order.
#[tokio::test]
async fn reconciliation_settles_a_lost_payment_in_its_own_protocol() {
    for protocol in ["ucp", "acp", "messenger"] {
        let world =
            TestWorld::start(market([protocol, "messenger", "messenger"]), vec![], |_| {}).await;
        let endpoint = world.merchant("alpha").endpoint.clone();
        let negotiator = world.shop.protocols.for_endpoint(&endpoint).unwrap();
        let wanted = concierge::negotiate::Wanted {
            product_code: "A-100".into(),
            variant_id: "A-100-GRAY-M".into(),
            product_title: "Classic Turtleneck Sweater".into(),
            color: Some("gray".into()),
            size: Some("M".into()),
            quantity: 1,
            color_label: Some("Gray".into()),
            size_label: Some("M".into()),
            currency: Some("USD".into()),
            ..Default::default()
        };
        let conversation = "cg-1-lost".to_string();
        let run_id = world
            .shop
            .store
            .start_run(DEFAULT_REQUEST, "{}", "")
            .unwrap();
        world
            .shop
            .store
            .record_conversations(&[(conversation.clone(), "alpha".into())], run_id)
            .unwrap();
        let mut negotiation = negotiator.open(
            &endpoint,
            Opening {
                conversation_id: conversation.clone(),
                items: vec![wanted],
                max_turns: 12,
                ask_shopper: false,
                pick_listed_variant: false,
            },
        );
        negotiation
            .negotiate(tokio::time::Instant::now() + Duration::from_secs(10), None)
            .await;
        assert_eq!(
            negotiation.state(),
            SessionState::Invoiced,
            "{protocol}: {:?}",
            negotiation.failure()
        );
        let invoice = negotiation.invoice().unwrap().clone();
        assert_eq!(invoice.total, 4900, "{protocol}");
        let key = invoice.payment_key(&conversation);
        let authorization: PaymentAuthorization =
            invoice.authorization("tok_lost".into(), &key, 600);
        let payment = negotiation.payment(authorization).unwrap();
        // Claimed and marked sent, then the answer is lost.
        world
            .shop
            .store
            .begin_payment(&PaymentClaim {
                idempotency_key: key.clone(),
                run_id,
                merchant_id: "alpha".into(),
                order_number: invoice.order_number.clone(),
                amount_minor: invoice.total,
                currency: invoice.currency.clone(),
                psid: conversation.clone(),
                pay_message: payment.clone(),
                invoice: serde_json::to_string(&invoice).unwrap(),
            })
            .unwrap();
        world
            .shop
            .store
            .settle_payment(&key, PaymentStatus::Sent, "")
            .unwrap();
        assert!(world.merchant("alpha").charges().is_empty());

        let done = world.shop.reconcile_payments(Duration::ZERO).await.unwrap();
        assert_eq!(done.confirmed, 1, "{protocol}: {done:?}");
        assert_eq!(world.merchant("alpha").charges().len(), 1, "{protocol}");
        // Again: nothing open, nothing charged twice.
        let again = world.shop.reconcile_payments(Duration::ZERO).await.unwrap();
        assert_eq!(again.open, 0, "{protocol}: {again:?}");
        assert_eq!(world.merchant("alpha").charges().len(), 1, "{protocol}");
        let orders = world.shop.store.orders().unwrap();
        assert_eq!(orders.len(), 1, "{protocol}");
        assert_eq!(orders[0].total, 4900, "{protocol}");
        world.stop().await;
    }
}

const SHOP_CSV: &str = "\
id,item_group_id,title,description,price,availability,brand,color,size,material,link,product_type
LK-100-GRAY-S,LK-100,Lakeside Turtleneck Sweater,A warm turtleneck.,42.00 USD,in_stock,Lakeside,Gray,S,Wool,https://lakeside.example/lk-100,Apparel > Sweaters > Turtleneck Sweater
LK-100-GRAY-M,LK-100,Lakeside Turtleneck Sweater,A warm turtleneck.,42.00 USD,in_stock,Lakeside,Gray,M,Wool,https://lakeside.example/lk-100,Apparel > Sweaters > Turtleneck Sweater
LK-100-NAVY-M,LK-100,Lakeside Turtleneck Sweater,A warm turtleneck.,42.00 USD,in_stock,Lakeside,Navy,M,Wool,https://lakeside.example/lk-100,Apparel > Sweaters > Turtleneck Sweater
";

/// `concierge merchant serve --protocol P --feed shop.csv --id lakeside
/// --port N --app-secret my-api-key`, until it listens.
fn serve_reference(dir: &Path, protocol: &str, port: u16) -> Child {
    spawn_until_ready(
        dir,
        &[
            "merchant",
            "serve",
            "--protocol",
            protocol,
            "--feed",
            "shop.csv",
            "--id",
            "lakeside",
            "--name",
            "Lakeside Knits",
            "--port",
            &port.to_string(),
            "--app-secret",
            "my-api-key",
        ],
    )
}

/// A shopper's `ask --auto-pay` for the Lakeside turtleneck buys it, and
/// the store holds one paid order at `merchant_id`.
fn shopper_pays_once(dir: &Path, listen: u16, merchant_id: &str) {
    let bought = run_at(
        dir,
        listen,
        &[
            "ask",
            "--auto-pay",
            "buy me a gray turtleneck sweater in medium under $50",
        ],
    );
    assert_eq!(bought.status.code(), Some(0), "{}", output_text(&bought));
    assert!(
        output_text(&bought).contains("Lakeside Turtleneck Sweater"),
        "{}",
        output_text(&bought)
    );
    let orders = run_at(dir, listen, &["orders", "--json"]);
    let orders: serde_json::Value = serde_json::from_slice(&orders.stdout).unwrap();
    assert_eq!(orders.as_array().unwrap().len(), 1, "{orders}");
    assert_eq!(orders[0]["merchant_id"], merchant_id, "{orders}");
    assert_eq!(orders[0]["status"], "paid", "{orders}");
}

/// A business with no bot serves its feed over UCP or ACP with the binary,
/// registers the endpoint (the protocol named, or for UCP found by its
/// profile), and a shopper's `ask --auto-pay` pays it once. Registered
/// under another id than it serves with (ACP, no `--id`), the reference
/// merchant learns that id from registration's probe and is paid all the
/// same.
#[test]
fn a_ucp_or_acp_business_registers_with_the_binary_and_is_paid() {
    for (protocol, register_args, registered_id) in [
        ("ucp", vec!["--id", "lakeside"], "lakeside"),
        (
            "acp",
            vec!["--protocol", "acp", "--api-key", "my-api-key"],
            "lakeside-knits",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("shop.csv"), SHOP_CSV).unwrap();
        let listen = free_port();
        let port = free_port();
        let mut merchant = serve_reference(dir.path(), protocol, port);
        let endpoint = format!("http://127.0.0.1:{port}");
        let mut args = vec![
            "merchant",
            "register",
            "--name",
            "Lakeside Knits",
            "--endpoint",
            &endpoint,
            "--feed",
            "shop.csv",
            "--allow-loopback",
        ];
        args.extend(register_args.iter().copied());
        let registered = run_at(dir.path(), listen, &args);
        assert!(
            registered.status.success(),
            "{protocol}: {}",
            output_text(&registered)
        );
        let listed = run_at(dir.path(), listen, &["merchant", "list", "--json"]);
        assert!(
            output_text(&listed).contains(&format!("\"{protocol}\"")),
            "{protocol}: {}",
            output_text(&listed)
        );

        shopper_pays_once(dir.path(), listen, registered_id);

        // A wrong protocol or a wrong key is refused with the reason.
        let wrong = run_at(
            dir.path(),
            listen,
            &[
                "merchant",
                "register",
                "--name",
                "Other Knits",
                "--endpoint",
                &endpoint,
                "--feed",
                "shop.csv",
                "--protocol",
                if protocol == "ucp" { "acp" } else { "ucp" },
                "--api-key",
                "not-the-key",
            ],
        );
        assert!(
            !wrong.status.success(),
            "{protocol}: {}",
            output_text(&wrong)
        );
        assert!(
            output_text(&wrong).contains("verification failed"),
            "{protocol}: {}",
            output_text(&wrong)
        );
        let _ = merchant.kill();
        let _ = merchant.wait();
    }
}

/// A UCP business searched where it lives: one with no feed in the index
/// whose catalog search offers the cheapest valid turtleneck among dearer
/// ones.
async fn live_ucp_merchant(
    id: &str,
    name: &str,
    price: i64,
) -> (std::sync::Arc<UcpMerchant>, MerchantEndpoint) {
    let mut products = vec![turtleneck(
        &format!("{id}-tn"),
        "Lakeside Turtleneck Sweater",
        price,
        &["Gray"],
        &[],
    )];
    // Dearer turtlenecks with long descriptions: the search's answer is
    // far larger than a checkout's (a real shop's is hundreds of KiB).
    for n in 0..24 {
        let mut dearer = turtleneck(
            &format!("{id}-dear-{n}"),
            "Heritage Turtleneck Sweater",
            price + 2000 + n,
            &["Gray", "Navy"],
            &[],
        );
        dearer.description = "Knitted from long-staple yarn. ".repeat(150);
        products.push(dearer);
    }
    let merchant = UcpMerchant::new(UcpMerchantConfig::new(profile(id, name, 300, 0)), products);
    let url = serve_router(concierge::merchant::ucp::app(merchant.clone())).await;
    let endpoint = live_endpoint(id, name, url.trim_end_matches("/webhook"));
    (merchant, endpoint)
}

fn live_endpoint(id: &str, name: &str, url: &str) -> MerchantEndpoint {
    MerchantEndpoint {
        merchant_id: id.into(),
        name: name.into(),
        protocol: "ucp".into(),
        url: url.into(),
        live_catalog: true,
        ..MerchantEndpoint::default()
    }
}

/// A UCP business whose profile declares catalog search, whose checkout is
/// the reference merchant's, and whose `/catalog/search` is `search`.
async fn ucp_with_search(
    id: &str,
    name: &str,
    search: axum::routing::MethodRouter,
) -> MerchantEndpoint {
    let merchant = UcpMerchant::new(
        UcpMerchantConfig::new(profile(id, name, 300, 0)),
        vec![turtleneck(
            &format!("{id}-tn"),
            "Turtleneck Sweater",
            1000,
            &["Gray"],
            &[],
        )],
    );
    let router = axum::Router::new()
        .route("/catalog/search", search)
        .fallback_service(concierge::merchant::ucp::app(merchant));
    let url = serve_router(router).await;
    live_endpoint(id, name, url.trim_end_matches("/webhook"))
}

/// Merchants registered without a feed are searched where they live, at
/// the request, through UCP's catalog search: the products they answer
/// with compete with the index's offers, and the cheapest valid one is
/// bought from its business over UCP checkout. A business whose search
/// answers nonsense, refuses, or never answers is named in the report and
/// left out, and the request goes on without it.
#[tokio::test]
async fn businesses_without_a_feed_are_searched_at_the_request_and_bought_from() {
    let (lake, lake_endpoint) = live_ucp_merchant("lake", "Lake Knits", 3900).await;
    let garbage = ucp_with_search(
        "garbled",
        "Garbled Goods",
        axum::routing::post(|| async { "{\"products\": \"not a list\"" }),
    )
    .await;
    let refusing = ucp_with_search(
        "refusing",
        "Refusing Retail",
        axum::routing::post(|| async {
            (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({"messages": [{"type": "error", "code": "invalid", "content": "search is closed"}]})),
            )
        }),
    )
    .await;
    let silent = ucp_with_search(
        "silent",
        "Silent Shop",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "never"
        }),
    )
    .await;
    let world = TestWorld::start(
        small_catalogs(),
        vec![lake_endpoint, garbage, refusing, silent],
        |config| config.turn_timeout = Duration::from_millis(1500),
    )
    .await;
    let report = world.shop.shop(DEFAULT_REQUEST, &pay()).await.unwrap();
    let rendered = report.render();
    assert_eq!(report.outcome, Outcome::Bought, "{rendered}");
    let choice = report.choice.as_ref().unwrap();
    // $39.00 + $3.00 shipping beats beta's $47.00 from the index.
    assert_eq!(choice.merchant_id, "lake", "{rendered}");
    assert_eq!(choice.total.minor, 4200, "{rendered}");
    assert!(
        report
            .candidates
            .iter()
            .any(|c| c.offer.merchant_id == "beta"),
        "the index's offers compete: {rendered}"
    );
    assert_eq!(lake.charges().len(), 1, "{rendered}");
    assert_eq!(lake.charges()[0].amount.minor, 4200);
    let notes = report.notes.join("\n");
    for name in ["Garbled Goods", "Refusing Retail", "Silent Shop"] {
        assert!(
            notes.contains(&format!("{name}'s own catalog could not be searched")),
            "{name}: {notes}"
        );
    }
    assert!(notes.contains("search is closed"), "{notes}");
    // A search shows what they sell too, and buys nothing.
    let searched = world
        .shop
        .shop("show me gray turtleneck sweaters", &Default::default())
        .await
        .unwrap();
    assert!(
        searched
            .candidates
            .iter()
            .any(|c| c.offer.merchant_id == "lake"),
        "{}",
        searched.render()
    );
    assert_eq!(lake.charges().len(), 1);
    world.stop().await;
}

/// A UCP business registers with the binary without a feed: its catalog
/// search stands in for one, `merchant list` says so, and a shopper's
/// `ask --auto-pay` finds its product there and pays it. A business
/// without catalog search (ACP) still needs its feed, and is told so.
#[test]
fn a_ucp_business_registers_without_a_feed_and_is_searched_where_it_lives() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.csv"), SHOP_CSV).unwrap();
    let listen = free_port();
    let port = free_port();
    let mut merchant = serve_reference(dir.path(), "ucp", port);
    let endpoint = format!("http://127.0.0.1:{port}");
    let registered = run_at(
        dir.path(),
        listen,
        &[
            "merchant",
            "register",
            "--name",
            "Lakeside Knits",
            "--endpoint",
            &endpoint,
            "--id",
            "lakeside",
            "--allow-loopback",
        ],
    );
    assert!(registered.status.success(), "{}", output_text(&registered));
    assert!(
        output_text(&registered).contains("its own catalog search"),
        "{}",
        output_text(&registered)
    );
    let listed = listed_merchants(dir.path(), listen);
    assert_eq!(listed["merchants"][0]["catalog"], "live", "{listed}");

    shopper_pays_once(dir.path(), listen, "lakeside");
    // A feed sent later is read from then on.
    let fed = run_at(
        dir.path(),
        listen,
        &["merchant", "feed", "lakeside", "shop.csv"],
    );
    assert!(fed.status.success(), "{}", output_text(&fed));
    let listed = listed_merchants(dir.path(), listen);
    assert_eq!(listed["merchants"][0]["catalog"], "feed", "{listed}");
    let _ = merchant.kill();
    let _ = merchant.wait();

    let acp_port = free_port();
    let mut acp = serve_reference(dir.path(), "acp", acp_port);
    let refused = run_at(
        dir.path(),
        listen,
        &[
            "merchant",
            "register",
            "--name",
            "Lakeside ACP",
            "--endpoint",
            &format!("http://127.0.0.1:{acp_port}"),
            "--protocol",
            "acp",
            "--api-key",
            "my-api-key",
        ],
    );
    assert!(!refused.status.success(), "{}", output_text(&refused));
    assert!(
        output_text(&refused).contains("does not search its own catalog"),
        "{}",
        output_text(&refused)
    );
    let listed = listed_merchants(dir.path(), listen);
    assert_eq!(listed["merchants"].as_array().unwrap().len(), 1, "{listed}");
    let _ = acp.kill();
    let _ = acp.wait();
}

/// `merchant list --json`, read.
fn listed_merchants(dir: &std::path::Path, listen: u16) -> serde_json::Value {
    let listed = run_at(dir, listen, &["merchant", "list", "--json"]);
    serde_json::from_slice(&listed.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", output_text(&listed)))
}
