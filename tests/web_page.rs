//! The chat page in a real browser (headless Chromium, driven over the
//! DevTools protocol by `tests/browser/chat_page.mjs`): a shopper opens the
//! address `serve` prints with their key, asks, and is answered with the
//! receipt; the order is theirs. Needs `node` and `chromium` (`.ci/run`
//! installs Chromium).

mod common;

use concierge::server::auth::Scope;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_buys_on_the_web_page_with_the_key_in_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::local_config(dir.path());
    let (base, state, merchants) = common::serve_concierge_with_small_world(config).await;
    let key = concierge::server::auth::create_key(state.store(), Scope::Shopper, "carol", "")
        .unwrap()
        .secret;
    let page = format!("{base}/#key={key}");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/chat_page.mjs");
    let mut node = std::process::Command::new("node");
    node.args([script, &page]).arg(common::DEFAULT_REQUEST);
    let output = tokio::task::spawn_blocking(move || node.output())
        .await
        .unwrap()
        .expect("node runs");
    let said = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(said.trim()).unwrap();
    let log = result["log"].as_str().unwrap();
    assert!(log.contains("Paid: order"), "{log}");
    assert!(log.contains("total $47.00"), "{log}");
    assert!(
        !result["address"].as_str().unwrap().contains(&key),
        "the key is taken out of the address bar"
    );
    assert_eq!(result["key_kept"], true);
    assert_eq!(result["console_errors"], 0);
    let orders = state.store().orders_of("carol").unwrap();
    assert_eq!(orders.len(), 1);
    for merchant in merchants {
        merchant.stop().await;
    }
}
