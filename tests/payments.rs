//! A payment is never lost and never made twice: a merchant that stalls
//! its answer to Pay past the timeout, and the `concierge` binary killed at
//! random points of purchases, both end with every charge the merchant made
//! recorded as exactly one order, once payments are reconciled.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use concierge::merchant::messenger::responder::{Responder, ResponderConfig};
use concierge::merchant::messenger::wire::{SyncReply, WebhookEvent};
use concierge::order::{PaymentStatus, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The reference responder behind a webhook that holds its answer to the
/// first `stalls` Pay taps for `stall` (it has charged by then).
#[derive(Clone)]
struct Stalling {
    responder: Arc<Responder>,
    stalls_left: Arc<AtomicUsize>,
    stall: Duration,
}

async fn stalling_webhook(State(merchant): State<Stalling>, body: Bytes) -> Json<SyncReply> {
    let Ok(event) = serde_json::from_slice::<WebhookEvent>(&body) else {
        return Json(SyncReply::default());
    };
    let is_pay = event
        .entry
        .iter()
        .flat_map(|entry| &entry.messaging)
        .any(|m| {
            m.postback
                .as_ref()
                .is_some_and(|p| p.payload.starts_with("PAY:"))
        });
    let messages = merchant.responder.handle_event(&event);
    let stalls = is_pay
        && merchant
            .stalls_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    if stalls {
        tokio::time::sleep(merchant.stall).await;
    }
    Json(SyncReply { messages })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pay_answered_after_the_timeout_is_reconciled_into_one_order() {
    let catalogs: Vec<_> = common::small_catalogs().into_iter().take(1).collect();
    let catalog = catalogs[0].clone();
    let responder = Responder::new(
        ResponderConfig::new(catalog.profile.clone(), "test-secret"),
        catalog.products.clone(),
    );
    let merchant = Stalling {
        responder: responder.clone(),
        // Pay is retried once at once; both answers come too late.
        stalls_left: Arc::new(AtomicUsize::new(2)),
        stall: Duration::from_secs(3),
    };
    let router = Router::new()
        .route("/webhook", post(stalling_webhook))
        .with_state(merchant);
    let endpoint = common::endpoint(
        &catalog.profile.id,
        &catalog.profile.name,
        common::serve_router(router).await,
    );
    let world = common::TestWorld::start(catalogs, vec![endpoint], |config| {
        config.turn_timeout = Duration::from_secs(1);
        config.negotiation_deadline = Duration::from_secs(5);
    })
    .await;
    let store = world.shop.store.clone();

    let report = world
        .shop
        .shop(common::DEFAULT_REQUEST, &common::pay())
        .await
        .unwrap();
    assert!(report.receipt.is_none(), "{}", report.render());
    assert_eq!(responder.charges().len(), 1, "the merchant charged");
    assert!(store.orders().unwrap().is_empty());
    let payments = store.payments(None).unwrap();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].status, PaymentStatus::Unknown);

    // Reconciled: the same Pay again, answered "already paid".
    let done = world.shop.reconcile_payments(Duration::ZERO).await.unwrap();
    assert_eq!((done.open, done.confirmed), (1, 1), "{:?}", done.notes);
    let orders = store.orders().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].order_number, responder.charges()[0].order_number);
    let payments = store.payments(None).unwrap();
    assert_eq!(payments[0].status, PaymentStatus::Confirmed);
    assert_eq!(payments[0].order_id, Some(orders[0].id));
    assert_eq!(responder.charges().len(), 1, "never charged twice");
    let again = world.shop.reconcile_payments(Duration::ZERO).await.unwrap();
    assert_eq!(again.open, 0);
    world.stop().await;
}

/// How many purchases the kill test interrupts; more with
/// `CONCIERGE_KILL_RUNS` (the measurement used 200).
fn kill_runs() -> usize {
    std::env::var("CONCIERGE_KILL_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_killed_at_random_points_leave_every_charge_as_one_order() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::local_config(dir.path());
    let catalogs: Vec<_> = common::small_catalogs().into_iter().take(1).collect();
    let merchants = concierge::world::start_reference_merchants(&catalogs)
        .await
        .unwrap();
    let running = &merchants[0];
    {
        let store = Store::open(&config.db_path).unwrap();
        store.set_allow_loopback(true).unwrap();
        let registration = concierge::merchant::registry::Registration {
            protocol: None,
            api_key: None,
            name: "Alpha Knits".into(),
            endpoint: running.endpoint.url.clone(),
            verify_token: running
                .responder()
                .expect("a Messenger responder")
                .config()
                .verify_token
                .clone(),
            app_secret: Some(running.endpoint.app_secret.clone()),
            feed: concierge::catalog::feed::to_jsonl(&catalogs[0].products),
            feed_format: Some("jsonl".into()),
            id: Some(catalogs[0].profile.id.clone()),
            page_access_token: None,
        };
        concierge::merchant::registry::register(
            &store,
            &concierge::world::transport_for(&config),
            &config.catalog_record(),
            &common::rules(),
            &registration,
        )
        .await
        .unwrap();
    }
    let (home, db, index) = (
        dir.path().to_path_buf(),
        config.db_path.clone(),
        config.index_dir.clone(),
    );
    let binary = move |args: &[&str]| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_concierge"));
        command
            .args(args)
            .current_dir(&home)
            .env("CONCIERGE_DB", &db)
            .env("CONCIERGE_INDEX", &index)
            .env("CONCIERGE_LISTEN", "127.0.0.1:0")
            .env_remove("CONCIERGE_RULES")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };
    let buy = ["ask", "--auto-pay", common::DEFAULT_REQUEST];

    // One purchase left alone: how long a whole one takes here, so the
    // kills fall anywhere within it.
    let started = Instant::now();
    let whole = binary(&buy).status().unwrap();
    assert!(whole.success());
    let span = started.elapsed().as_micros().max(1) as u64;

    // A fixed sequence of kill points (an LCG), so a failure is repeatable.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let runs = kill_runs();
    for _ in 0..runs {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let at = Duration::from_micros((seed >> 33) % span);
        let mut child = binary(&buy).spawn().unwrap();
        let child_ran = tokio::task::spawn_blocking(move || {
            std::thread::sleep(at);
            let _ = child.kill();
            child.wait().unwrap()
        });
        child_ran.await.unwrap();
    }

    // What no process answered is settled by asking the merchant.
    let open_before = Store::open(&config.db_path)
        .unwrap()
        .payments(None)
        .unwrap()
        .iter()
        .filter(|p| p.status.is_open())
        .count();
    let mut reconcile = binary(&["payments", "reconcile", "--untouched-for", "0"]);
    let reconciled = tokio::task::spawn_blocking(move || reconcile.status().unwrap())
        .await
        .unwrap();
    assert!(reconciled.success(), "every open payment settled");

    let store = Store::open(&config.db_path).unwrap();
    let charges = running.charges();
    let orders = store.orders().unwrap();
    let payments: HashMap<String, _> = store
        .payments(None)
        .unwrap()
        .into_iter()
        .map(|p| (p.idempotency_key.clone(), p))
        .collect();
    assert!(charges.len() > 1, "some purchases got as far as paying");
    let mut charged_orders: Vec<&str> = charges.iter().map(|c| c.order_number.as_str()).collect();
    charged_orders.sort();
    charged_orders.dedup();
    assert_eq!(
        charged_orders.len(),
        charges.len(),
        "no order charged twice"
    );
    for charge in &charges {
        let payment = payments
            .get(&charge.idempotency_key)
            .unwrap_or_else(|| panic!("charge {charge:?} has no recorded payment"));
        assert_eq!(payment.status, PaymentStatus::Confirmed, "{payment:?}");
        let recorded: Vec<_> = orders
            .iter()
            .filter(|o| o.order_number == charge.order_number)
            .collect();
        assert_eq!(recorded.len(), 1, "charge {charge:?} is one order");
        assert_eq!(payment.order_id, Some(recorded[0].id));
    }
    assert_eq!(orders.len(), charges.len(), "no order without a charge");
    assert!(
        payments.values().all(|p| !p.status.is_open()),
        "nothing left open: {payments:?}"
    );
    eprintln!(
        "{runs} purchases killed at random points; {open_before} payments open before reconciling; {} charges, {} orders, {} payments recorded",
        charges.len(),
        orders.len(),
        payments.len()
    );
    for merchant in merchants {
        merchant.stop().await;
    }
}
