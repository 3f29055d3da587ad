//! Measurements run by `concierge bench` in a release build: many merchants
//! negotiated at once, misbehaving merchants against the deadline, and
//! duplicate payments. Everything runs for real on loopback.

pub mod search;

use crate::catalog::feed::{Availability, FeedPrice, FeedProduct, FeedVariant, VariantOption};
use crate::catalog::{MerchantCatalog, MerchantProfile};
use crate::config::Config;
use crate::merchant::messenger::session::ShopperMessage;
use crate::merchant::messenger::signature::random_token;
use crate::negotiate::{MerchantEndpoint, ShopOptions, Transport};
use crate::order::Store;
use crate::rules::CompiledRules;
use crate::world::{self, RunningMerchant};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// A one-product catalog: a gray/navy turtleneck in S/M/L, served over
/// `protocol`.
fn bench_catalog(index: usize, protocol: &str) -> MerchantCatalog {
    let id = format!("bench{index:03}");
    let mut variants = Vec::new();
    for color in ["Gray", "Navy"] {
        for size in ["S", "M", "L"] {
            variants.push(FeedVariant {
                id: format!("{id}-TN-{color}-{size}"),
                title: format!("Bench Turtleneck Sweater - {color} / {size}"),
                price: FeedPrice {
                    amount: 3000 + (index as i64 % 97) * 10,
                    currency: "USD".into(),
                },
                availability: Availability::from_stock(true),
                variant_options: vec![
                    VariantOption {
                        name: "Size".into(),
                        value: size.into(),
                    },
                    VariantOption {
                        name: "Color".into(),
                        value: color.into(),
                    },
                ],
                barcodes: Vec::new(),
            });
        }
    }
    MerchantCatalog {
        profile: MerchantProfile {
            id: id.clone(),
            name: format!("Bench Shop {index}"),
            feed: format!("{id}.jsonl"),
            currency: "USD".into(),
            shipping: 400,
            free_shipping_over: 0,
            tax_basis_points: 0,
            protocol: protocol.into(),
        },
        products: vec![FeedProduct {
            gender: None,
            age_group: None,
            material: None,
            id: format!("{id}-TN"),
            title: "Bench Turtleneck Sweater".into(),
            description: "A turtleneck for benchmarks.".into(),
            url: String::new(),
            brand: "Bench".into(),
            categories: vec!["Sweaters".into()],
            variants,
        }],
    }
}

/// A merchant that accepts the connection and never answers.
async fn start_hanging() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let router = axum::Router::new().route(
        "/webhook",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            ""
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{address}/webhook"))
}

/// A merchant that answers one byte per second.
async fn start_trickling() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let router = axum::Router::new().route(
        "/webhook",
        axum::routing::post(|| async {
            let stream = futures::stream::unfold(0u32, |i| async move {
                if i >= 3600 {
                    return None;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                Some((
                    Ok::<axum::body::Bytes, std::io::Error>(axum::body::Bytes::from_static(b" ")),
                    i + 1,
                ))
            });
            axum::response::Response::new(axum::body::Body::from_stream(stream))
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(format!("http://{address}/webhook"))
}

/// One negotiation run's figures.
#[derive(Debug, Clone, Serialize)]
pub struct NegotiationRun {
    pub merchants: usize,
    pub misbehaving: usize,
    /// First message to every invoice checked, in milliseconds.
    pub negotiation_ms: f64,
    pub invoices_checked: usize,
    pub accepted: usize,
    pub deadline_ms: u64,
    /// Resident memory after the run, in KiB (Linux), for boundedness.
    pub rss_kib: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NegotiationBench {
    pub runs: Vec<NegotiationRun>,
    pub median_negotiation_ms: f64,
    pub max_negotiation_ms: f64,
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Negotiates with `merchants` reference merchants at once, `repeat` times,
/// the merchants speaking `protocols` in turn; `hanging` more never answer
/// and `trickling` more answer a byte a second (Messenger webhooks).
pub async fn negotiation(
    merchants: usize,
    hanging: usize,
    trickling: usize,
    deadline: Duration,
    repeat: usize,
    protocols: &[String],
) -> crate::Result<NegotiationBench> {
    let dir = std::env::temp_dir().join(format!("concierge-bench-{}", random_token(4)));
    let config = Config {
        index_dir: dir.join("index"),
        db_path: dir.join("bench.db"),
        turn_timeout: deadline,
        negotiation_deadline: deadline,
        max_merchants: merchants + hanging + trickling,
        allow_loopback: true,
        ..Config::default()
    };
    let rules = Arc::new(CompiledRules::embedded()?);
    let protocol_of = |index: usize| -> &str {
        if index >= merchants || protocols.is_empty() {
            "messenger"
        } else {
            &protocols[index % protocols.len()]
        }
    };
    let catalogs: Vec<MerchantCatalog> = (0..merchants + hanging + trickling)
        .map(|index| bench_catalog(index, protocol_of(index)))
        .collect();
    let (index, _) = world::open_index(&config, &catalogs, &rules)?;
    let running = world::start_reference_merchants(&catalogs[..merchants]).await?;
    let mut endpoints: Vec<MerchantEndpoint> = running.iter().map(|m| m.endpoint.clone()).collect();
    for (offset, catalog) in catalogs[merchants..].iter().enumerate() {
        let url = if offset < hanging {
            start_hanging().await
        } else {
            start_trickling().await
        }
        .map_err(|e| crate::Error::Config(e.to_string()))?;
        endpoints.push(MerchantEndpoint {
            merchant_id: catalog.profile.id.clone(),
            name: catalog.profile.name.clone(),
            protocol: "messenger".into(),
            url,
            app_secret: "bench".into(),
            page_id: "page".into(),
            served_here: true,
            live_catalog: false,
        });
    }
    let store = Arc::new(Store::open(&config.db_path)?);
    let shop = world::build_shop(&config, rules, Arc::new(index), endpoints, store);
    let mut runs = Vec::new();
    for _ in 0..repeat.max(1) {
        // No payment: the figure is first message to checked invoice.
        let report = shop
            .shop(
                "buy me a gray turtleneck sweater in medium under $50",
                &ShopOptions::default(),
            )
            .await?;
        runs.push(NegotiationRun {
            merchants,
            misbehaving: hanging + trickling,
            negotiation_ms: report.timings.negotiation_us as f64 / 1000.0,
            invoices_checked: report
                .conversations
                .iter()
                .filter(|c| c.invoice.is_some())
                .count(),
            accepted: report.conversations.iter().filter(|c| c.accepted).count(),
            deadline_ms: deadline.as_millis() as u64,
            rss_kib: rss_kib(),
        });
    }
    for merchant in running {
        merchant.stop().await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mut times: Vec<f64> = runs.iter().map(|r| r.negotiation_ms).collect();
    times.sort_by(f64::total_cmp);
    Ok(NegotiationBench {
        median_negotiation_ms: times[times.len() / 2],
        max_negotiation_ms: *times.last().unwrap_or(&0.0),
        runs,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentBench {
    pub orders: usize,
    pub duplicates_per_order: usize,
    /// Store claims that succeeded (must equal `orders`).
    pub store_claims: usize,
    /// Charges the merchant accepted (must equal `orders`).
    pub merchant_charges: usize,
    pub elapsed_ms: f64,
}

/// `orders` distinct orders at one reference merchant, each paid by
/// `duplicates` concurrent identical requests: through the store's claim and
/// over HTTP to the merchant.
pub async fn payments(orders: usize, duplicates: usize) -> crate::Result<PaymentBench> {
    let dir = std::env::temp_dir().join(format!("concierge-bench-{}", random_token(4)));
    std::fs::create_dir_all(&dir).map_err(|source| crate::Error::Io {
        path: dir.clone(),
        source,
    })?;
    let store = Arc::new(Store::open(&dir.join("payments.db"))?);
    let catalog = bench_catalog(0, "messenger");
    let merchant: RunningMerchant =
        world::start_reference_merchants(std::slice::from_ref(&catalog))
            .await?
            .remove(0);
    let transport = Transport::for_loopback(Duration::from_secs(10), 64 * 1024);
    let endpoint = merchant.endpoint.clone();
    let started = Instant::now();

    // Open `orders` conversations up to an invoice each.
    let mut invoices = Vec::new();
    for order in 0..orders {
        let psid = format!("bench-{order}");
        let text = |t: &str| ShopperMessage::text(t);
        transport
            .send(&endpoint, &psid, &text(&catalog.products[0].id))
            .await?;
        transport.send(&endpoint, &psid, &text("M")).await?;
        let replies = transport.send(&endpoint, &psid, &text("Gray")).await?;
        let receipt = replies
            .iter()
            .find_map(|r| match r.attachment.as_ref()?.as_template()? {
                crate::merchant::messenger::wire::Template::Receipt(receipt) => Some(receipt),
                _ => None,
            })
            .ok_or_else(|| crate::Error::Config("the bench merchant sent no invoice".into()))?;
        let invoice = crate::order::Invoice::from_receipt(&endpoint.merchant_id, &receipt)
            .map_err(crate::Error::Config)?;
        invoices.push((psid, invoice));
    }

    // Bounded concurrency keeps the file descriptors in check; every
    // duplicate still races the others for the same order.
    let permits = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = tokio::task::JoinSet::new();
    for (psid, invoice) in &invoices {
        for _ in 0..duplicates {
            let (store, transport, endpoint, psid, invoice) = (
                store.clone(),
                transport.clone(),
                endpoint.clone(),
                psid.clone(),
                invoice.clone(),
            );
            let permits = permits.clone();
            tasks.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let key = invoice.payment_key(&psid);
                // Only the request that claims the key in the store pays;
                // the merchant's own once-only rule is tested by sending
                // every duplicate to it anyway.
                let pay = ShopperMessage::Postback {
                    title: "Pay".into(),
                    payload: format!("PAY:{}", invoice.order_number),
                    payment: Some(invoice.authorization("tok_bench".into(), &key, 600)),
                };
                let claimed = store
                    .begin_payment(&crate::order::PaymentClaim {
                        idempotency_key: key.clone(),
                        run_id: 0,
                        merchant_id: endpoint.merchant_id.clone(),
                        order_number: invoice.order_number.clone(),
                        amount_minor: invoice.total,
                        currency: invoice.currency.clone(),
                        psid: psid.clone(),
                        pay_message: serde_json::to_string(&pay).unwrap_or_default(),
                        invoice: String::new(),
                    })
                    .is_ok();
                let _ = transport.send(&endpoint, &psid, &pay).await;
                claimed
            });
        }
    }
    let mut store_claims = 0;
    while let Some(joined) = tasks.join_next().await {
        store_claims += usize::from(joined.unwrap_or(false));
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let merchant_charges = merchant.charges().len();
    merchant.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(PaymentBench {
        orders,
        duplicates_per_order: duplicates,
        store_claims,
        merchant_charges,
        elapsed_ms,
    })
}
