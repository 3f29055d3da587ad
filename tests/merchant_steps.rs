//! The README's steps for a merchant, run exactly as written through the
//! binary (only the ports are free ones instead of 8080 and 8700):
//! 1. `concierge merchant serve --feed shop.csv --port 8080 --app-secret
//!    my-app-secret --verify-token my-verify-token`;
//! 2. `concierge merchant register --name "Lakeside Knits" --endpoint
//!    http://127.0.0.1:8080/webhook --verify-token my-verify-token
//!    --app-secret my-app-secret --feed shop.csv --allow-loopback`;
//! 3. a shopper: `concierge ask --auto-pay "buy me a gray turtleneck sweater
//!    in medium under $50"`, then `concierge orders`.
//!
//! Properties checked: the order is paid with no restart of the responder
//! (registration tells it its id); loopback is remembered, so a plain `ask`
//! reaches it; `merchant feed` replaces the catalog; a feed whose rows are
//! all rejected is refused with a non-zero exit and the catalog stays as it
//! was; `ask` with nothing registered says so with the nothing-found code.

mod common;

use common::{free_port, output_text, run_at, spawn_until_ready};

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const SHOP_CSV: &str = "\
id,item_group_id,title,description,price,availability,brand,color,size,material,link,product_type
LK-100-GRAY-S,LK-100,Lakeside Turtleneck Sweater,A warm turtleneck.,42.00 USD,in_stock,Lakeside,Gray,S,Wool,https://lakeside.example/lk-100,Apparel > Sweaters > Turtleneck Sweater
LK-100-GRAY-M,LK-100,Lakeside Turtleneck Sweater,A warm turtleneck.,42.00 USD,in_stock,Lakeside,Gray,M,Wool,https://lakeside.example/lk-100,Apparel > Sweaters > Turtleneck Sweater
LK-100-NAVY-M,LK-100,Lakeside Turtleneck Sweater,A warm turtleneck.,42.00 USD,in_stock,Lakeside,Navy,M,Wool,https://lakeside.example/lk-100,Apparel > Sweaters > Turtleneck Sweater
LK-200-GRAY-M,LK-200,Lakeside Wool Socks,Warm socks.,9.00 USD,in_stock,Lakeside,Gray,M,Wool,https://lakeside.example/lk-200,Apparel > Socks
";

/// Starts the reference responder and waits until it listens.
fn serve_reference(dir: &Path, port: u16) -> Child {
    spawn_until_ready(
        dir,
        &[
            "merchant",
            "serve",
            "--feed",
            "shop.csv",
            "--port",
            &port.to_string(),
            "--app-secret",
            "my-app-secret",
            "--verify-token",
            "my-verify-token",
        ],
    )
}

#[test]
fn the_readme_merchant_steps_end_with_a_paid_order() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("shop.csv"), SHOP_CSV).unwrap();
    let listen = free_port();

    // Before any registration, a shopper is told there is no one to buy
    // from (and the demo world is not used behind their back).
    let nobody = run_at(
        dir.path(),
        listen,
        &[
            "ask",
            "--auto-pay",
            "buy me a gray turtleneck sweater in medium under $50",
        ],
    );
    assert_eq!(nobody.status.code(), Some(3), "{}", output_text(&nobody));
    assert!(
        output_text(&nobody).contains("No merchant is registered"),
        "{}",
        output_text(&nobody)
    );

    let port = free_port();
    let mut responder = serve_reference(dir.path(), port);
    let endpoint = format!("http://127.0.0.1:{port}/webhook");
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
            "--verify-token",
            "my-verify-token",
            "--app-secret",
            "my-app-secret",
            "--feed",
            "shop.csv",
            "--allow-loopback",
        ],
    );
    assert!(registered.status.success(), "{}", output_text(&registered));
    assert!(
        output_text(&registered).contains("Registered Lakeside Knits as lakeside-knits"),
        "{}",
        output_text(&registered)
    );

    let asked = run_at(
        dir.path(),
        listen,
        &[
            "ask",
            "--auto-pay",
            "buy me a gray turtleneck sweater in medium under $50",
        ],
    );
    let said = output_text(&asked);
    assert_eq!(asked.status.code(), Some(0), "{said}");
    assert!(said.contains("Payment confirmed"), "{said}");
    assert!(said.contains("Gray"), "{said}");

    let orders = run_at(dir.path(), listen, &["orders", "--json"]);
    let orders: serde_json::Value = serde_json::from_slice(&orders.stdout).unwrap();
    assert_eq!(orders.as_array().unwrap().len(), 1);
    assert_eq!(orders[0]["merchant_id"], "lakeside-knits");
    assert_eq!(orders[0]["total"], 4200);

    let listed = run_at(dir.path(), listen, &["merchant", "list"]);
    assert!(
        output_text(&listed).contains("allow-loopback: on"),
        "{}",
        output_text(&listed)
    );

    // The merchant replaces its feed; then a broken one is refused and the
    // catalog stays as it was.
    let replaced = run_at(
        dir.path(),
        listen,
        &["merchant", "feed", "lakeside-knits", "shop.csv"],
    );
    assert!(replaced.status.success(), "{}", output_text(&replaced));
    assert!(
        output_text(&replaced).contains("0 added, 2 updated, 0 removed"),
        "{}",
        output_text(&replaced)
    );
    std::fs::write(
        dir.path().join("broken.csv"),
        "title,price\nLakeside Turtleneck Sweater,42.00 USD\n",
    )
    .unwrap();
    let refused = run_at(
        dir.path(),
        listen,
        &["merchant", "feed", "lakeside-knits", "broken.csv"],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", output_text(&refused));
    assert!(
        output_text(&refused).contains("catalog is unchanged"),
        "{}",
        output_text(&refused)
    );
    let searched = run_at(
        dir.path(),
        listen,
        &["search", "lakeside turtleneck", "--json"],
    );
    assert!(searched.status.success(), "{}", output_text(&searched));
    let body: serde_json::Value = serde_json::from_slice(&searched.stdout).unwrap();
    assert!(!body["searches"][0]["results"]["offers"]
        .as_array()
        .unwrap()
        .is_empty());

    // With `concierge serve` running, `ask` goes to it (README, "With a
    // Messenger bot of its own") and needs no key: whoever opens the store
    // is its operator.
    let mut server = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(["serve", "--listen", &format!("127.0.0.1:{listen}")])
        .current_dir(dir.path())
        .env_remove("CONCIERGE_RULES")
        .env_remove("CONCIERGE_INDEX")
        .env_remove("CONCIERGE_DB")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut said_by_server = String::new();
    for line in BufReader::new(server.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        said_by_server.push_str(&line);
        said_by_server.push('\n');
        if line.contains("concierge keys create") {
            break;
        }
    }
    assert!(
        said_by_server.contains("ck_op_"),
        "the first start shows the operator key: {said_by_server}"
    );
    let through_server = run_at(
        dir.path(),
        listen,
        &[
            "ask",
            "--auto-pay",
            "buy me a gray turtleneck sweater in medium under $50",
        ],
    );
    let said = output_text(&through_server);
    assert_eq!(through_server.status.code(), Some(0), "{said}");
    assert!(said.contains("the request goes to it"), "{said}");
    assert!(said.contains("Payment confirmed"), "{said}");
    let keys = run_at(dir.path(), listen, &["keys", "list", "--json"]);
    let keys: serde_json::Value = serde_json::from_slice(&keys.stdout).unwrap();
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .filter(|k| k["label"] == "concierge ask (revoked after use)")
            .all(|k| !k["revoked_at"].is_null()),
        "{keys}"
    );
    server.kill().unwrap();
    let _ = server.wait();

    responder.kill().unwrap();
    let _ = responder.wait();
}
