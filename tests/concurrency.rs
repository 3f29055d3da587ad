//! Changes to the catalog of record at the same time as searches. Properties
//! checked:
//! - six registrations at once through the API, with feed reloads and
//!   shopper searches running beside them: every call answers (201, 200),
//!   never 500; every merchant is stored with its token and its whole
//!   catalog is searchable;
//! - several `concierge index load` processes at once on one index
//!   directory all succeed, one after the other, and the catalog holds
//!   every merchant's products.

mod common;

fn feed(merchant: usize) -> String {
    concierge::catalog::feed::to_jsonl(&[
        common::turtleneck(
            &format!("M{merchant}-TN"),
            &format!("Quarry{merchant} Turtleneck Sweater"),
            4000 + merchant as i64 * 100,
            &["Gray", "Navy"],
            &[],
        ),
        common::socks(&format!("M{merchant}-SK"), 900),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registrations_reloads_and_searches_at_once_never_fail() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::local_config(dir.path());
    let (base, state) = common::serve_concierge(config.clone(), vec![]).await;
    let store = state.shop().store.clone();

    // Six merchants' reference responders, registered all at once.
    let catalogs: Vec<concierge::catalog::MerchantCatalog> = (0..6)
        .map(|m| concierge::catalog::MerchantCatalog {
            profile: common::profile(&format!("shop{m}"), &format!("Shop {m}"), 0, 0),
            products: concierge::catalog::feed::parse_jsonl("feed", &feed(m)).products,
        })
        .collect();
    let responders = concierge::world::start_reference_merchants(&catalogs)
        .await
        .unwrap();
    let client = common::operator_client(&state);
    let mut calls = tokio::task::JoinSet::new();
    for (m, responder) in responders.iter().enumerate() {
        let client = client.clone();
        let base = base.clone();
        let body = serde_json::json!({
            "name": format!("Shop {m}"),
            "endpoint": responder.endpoint.url,
            "verify_token": responder.responder().expect("a Messenger responder").config().verify_token,
            "app_secret": responder.endpoint.app_secret,
            "feed": feed(m),
        });
        calls.spawn(async move {
            let response = client
                .post(format!("{base}/v1/merchants"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            ("register", status, body)
        });
    }
    // Searches while the catalog changes.
    for _ in 0..6 {
        let client = client.clone();
        let base = base.clone();
        calls.spawn(async move {
            let response = client
                .post(format!("{base}/v1/requests"))
                .json(&serde_json::json!({"text": "find turtleneck sweaters"}))
                .send()
                .await
                .unwrap();
            (
                "search",
                response.status().as_u16(),
                serde_json::Value::Null,
            )
        });
    }
    let mut registered = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (what, status, body) = done.unwrap();
        match what {
            "register" => {
                assert_eq!(status, 201, "{body}");
                assert!(body["page_access_token"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty()));
                registered.push(body["id"].as_str().unwrap().to_string());
            }
            _ => assert_eq!(status, 200, "search during changes"),
        }
    }
    registered.sort();
    assert_eq!(
        registered,
        ["shop-0", "shop-1", "shop-2", "shop-3", "shop-4", "shop-5"]
    );

    // Reloads of every merchant at once, with searches beside them.
    let mut reloads = tokio::task::JoinSet::new();
    for (m, id) in registered.iter().enumerate() {
        let reloader = client.clone();
        let url = format!("{base}/v1/merchants/{id}/feed");
        let body = feed(m);
        reloads.spawn(async move {
            let response = reloader
                .put(url)
                .header("content-type", "application/x-ndjson")
                .body(body)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        });
        let client = client.clone();
        let base = base.clone();
        reloads.spawn(async move {
            let response = client
                .post(format!("{base}/v1/requests"))
                .json(&serde_json::json!({"text": "find wool socks"}))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), String::new())
        });
    }
    while let Some(done) = reloads.join_next().await {
        let (status, body) = done.unwrap();
        assert_eq!(status, 200, "{body}");
    }

    // Nothing lost: every merchant stored, every catalog whole.
    assert_eq!(store.merchants().unwrap().len(), 6);
    let manifest = config.catalog_record().manifest().unwrap();
    assert_eq!(manifest.merchants.len(), 6);
    assert!(manifest.merchants.values().all(|m| m.products == 2));
    let index =
        concierge::catalog::CatalogIndex::open(&config.catalog_record().index_dir()).unwrap();
    let stats = index.stats().unwrap();
    assert_eq!(stats.products, 12);
    for responder in responders {
        responder.stop().await;
    }
}

#[test]
fn index_loads_from_several_processes_wait_for_each_other() {
    let dir = tempfile::tempdir().unwrap();
    for m in 0..4 {
        std::fs::write(dir.path().join(format!("shop{m}.jsonl")), feed(m)).unwrap();
    }
    let children: Vec<std::process::Child> = (0..4)
        .map(|m| {
            std::process::Command::new(env!("CARGO_BIN_EXE_concierge"))
                .args([
                    "index",
                    "load",
                    "--merchant",
                    &format!("shop{m}"),
                    "--feed",
                    &format!("shop{m}.jsonl"),
                ])
                .current_dir(dir.path())
                .env_remove("CONCIERGE_INDEX")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let stats = common::concierge(dir.path(), &["index", "stats", "--json"]);
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["merchants"].as_array().unwrap().len(), 4);
    assert_eq!(stats["products"], 8);
}
