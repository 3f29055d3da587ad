//! Merchant commands (`merchant serve|register|feed|list|remove`) and the
//! deployment's settings (`settings`).

use super::{MerchantCommand, OnOff, SettingsCommand};
use anyhow::{bail, Context};
use concierge::catalog::record::ParsedFeed;
use concierge::config::Config;
use concierge::merchant::messenger::signature::random_token;
use concierge::merchant::messenger::{Responder, ResponderConfig, Wording};
use concierge::merchant::network::LOOPBACK_HINT;
use concierge::merchant::protocol::ReferenceMerchant;
use concierge::merchant::registry::{register, Registration};
use concierge::order::Store;
use concierge::{rules, world};
use std::path::Path;
use std::sync::Arc;

pub async fn run(config: &Config, command: MerchantCommand) -> anyhow::Result<i32> {
    match command {
        MerchantCommand::Serve {
            protocol,
            feed,
            conformance_data,
            simulation_secret,
            port,
            id,
            name,
            app_secret,
            verify_token,
            shipping,
            wording,
        } => {
            if let Some(dir) = conformance_data {
                if protocol != "ucp" {
                    bail!("--conformance-data is the UCP conformance suite's shop: add --protocol ucp");
                }
                return serve_conformance_shop(&dir, port, simulation_secret).await;
            }
            let Some(feed) = feed else {
                bail!("--feed is required");
            };
            let responder = ReferenceResponder {
                protocol: &protocol,
                feed: &feed,
                port,
                id,
                name,
                app_secret,
                verify_token,
                shipping,
                wording: wording.as_deref(),
            };
            serve_reference(responder).await
        }
        MerchantCommand::Register {
            name,
            id,
            endpoint,
            protocol,
            verify_token,
            api_key,
            app_secret,
            page_access_token,
            feed,
            allow_loopback,
            json,
        } => {
            let registration = Registration {
                name,
                endpoint,
                protocol,
                verify_token,
                app_secret,
                api_key,
                feed: match &feed {
                    Some(feed) => std::fs::read_to_string(feed)
                        .with_context(|| format!("cannot read {}", feed.display()))?,
                    None => String::new(),
                },
                feed_format: feed
                    .as_ref()
                    .and_then(|feed| feed.extension())
                    .map(|e| e.to_string_lossy().to_string())
                    .filter(|e| concierge::merchant::registry::feed_format_named(e).is_some()),
                id,
                page_access_token,
            };
            register_merchant(config, registration, allow_loopback, json).await
        }
        MerchantCommand::Feed { id, feed, json } => replace_feed(config, &id, &feed, json),
        MerchantCommand::List { json } => list(config, json),
        MerchantCommand::Remove { id } => {
            let store = Store::open(&config.db_path)?;
            let registered = store.remove_merchant(&id)?;
            let catalogued = config.catalog_record().remove_merchant(&id)?;
            if !registered && !catalogued {
                bail!("no registered merchant {id:?}");
            }
            println!("Removed {id}.");
            Ok(0)
        }
    }
}

/// `concierge settings`: shows or changes the stored deployment settings.
pub fn settings(config: &Config, command: Option<SettingsCommand>) -> anyhow::Result<i32> {
    let store = Store::open(&config.db_path)?;
    match command.unwrap_or(SettingsCommand::Show { json: false }) {
        SettingsCommand::Show { json } => {
            let settings = store.deployment()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&settings)?);
            } else {
                println!("{}", describe_loopback(settings.allow_loopback));
            }
        }
        SettingsCommand::AllowLoopback { value } => {
            store.set_allow_loopback(value == OnOff::On)?;
            println!("{}", describe_loopback(value == OnOff::On));
        }
    }
    Ok(0)
}

fn describe_loopback(allowed: bool) -> String {
    if allowed {
        "allow-loopback: on (merchant endpoints on 127.0.0.1 and ::1 may be registered and reached; for local testing. `concierge settings allow-loopback off` turns it off)".into()
    } else {
        format!("allow-loopback: off ({LOOPBACK_HINT})")
    }
}

async fn register_merchant(
    config: &Config,
    registration: Registration,
    allow_loopback: bool,
    json: bool,
) -> anyhow::Result<i32> {
    let store = Store::open(&config.db_path)?;
    if allow_loopback {
        store.set_allow_loopback(true)?;
        eprintln!("Loopback merchant endpoints are now allowed in this deployment (`concierge settings allow-loopback off` undoes it).");
    }
    let config = config.clone().with_deployment(&store)?;
    let rules = Arc::new(rules::load(&config.rules_dir)?);
    let transport = world::transport_for(&config);
    let registered = register(
        &store,
        &transport,
        &config.catalog_record(),
        &rules,
        &registration,
    )
    .await?;
    let merchant = &registered.merchant;
    let merchant_key = concierge::server::auth::create_key(
        &store,
        concierge::server::auth::Scope::Merchant,
        &merchant.id,
        "made at registration",
    )?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "id": merchant.id,
                "name": merchant.name,
                "protocol": merchant.protocol,
                "page_id": merchant.page_id,
                "page_access_token": merchant.page_access_token,
                "app_secret": merchant.app_secret,
                "api_key": merchant_key.secret,
                "catalog": merchant.catalog_source(),
                "feed": registered.load,
                "rejected_rows": registered.rejected,
            }))?
        );
        return Ok(0);
    }
    for problem in registered.rejected.iter().take(20) {
        eprintln!("skipped: {problem}");
    }
    let messenger = merchant.protocol == "messenger";
    println!("Registered {} as {}", merchant.name, merchant.id);
    println!("  protocol:          {}", merchant.protocol);
    if messenger {
        println!("  page id:           {}", merchant.page_id);
        println!("  page access token: {}", merchant.page_access_token);
        println!("  app secret:        {}", merchant.app_secret);
    }
    println!(
        "  API key:           {} (replaces this merchant's feed over the API; shown only now)",
        merchant_key.secret
    );
    if merchant.live_catalog {
        println!("  catalog:           its own catalog search, asked at each request");
    } else {
        println!(
            "  catalog:           {} products ({} variants) loaded, {} rows rejected",
            registered.load.added + registered.load.updated,
            registered.load.variants,
            registered.load.rejected
        );
    }
    if messenger {
        println!(
            "A bot that answers through the Send API posts to http://<concierge>/v19.0/me/messages?access_token=<page access token>."
        );
    }
    Ok(0)
}

fn replace_feed(config: &Config, id: &str, path: &Path, json: bool) -> anyhow::Result<i32> {
    let store = Store::open(&config.db_path)?;
    if store.merchant(id)?.is_none() {
        bail!("no registered merchant {id:?} (`concierge merchant list` shows them; `concierge index load` loads a catalog without a bot)");
    }
    let feed = ParsedFeed::from_file(path)?;
    let code = super::index::load_feed(config, id, path, &feed, json)?;
    store.set_live_catalog(id, false)?;
    Ok(code)
}

fn list(config: &Config, json: bool) -> anyhow::Result<i32> {
    let store = Store::open(&config.db_path)?;
    let merchants = store.merchants()?;
    let settings = store.deployment()?;
    let manifest = config.catalog_record().manifest()?;
    if json {
        let views: Vec<serde_json::Value> = merchants
            .iter()
            .map(|m| {
                let catalog = manifest.merchants.get(&m.id);
                serde_json::json!({
                    "id": m.id,
                    "name": m.name,
                    "protocol": m.protocol,
                    "endpoint": m.endpoint,
                    "page_id": m.page_id,
                    "catalog": m.catalog_source(),
                    "products": catalog.map(|c| c.products),
                    "variants": catalog.map(|c| c.variants),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "merchants": views,
                "settings": settings,
            }))?
        );
        return Ok(0);
    }
    if merchants.is_empty() {
        println!("No registered merchants in {}.", config.db_path.display());
    } else {
        println!(
            "{:<28} {:<28} {:<9} {:>9}  endpoint",
            "id", "name", "protocol", "products"
        );
        for merchant in merchants {
            let products = manifest
                .merchants
                .get(&merchant.id)
                .map(|c| c.products.to_string())
                .unwrap_or_else(|| {
                    if merchant.live_catalog {
                        "live"
                    } else {
                        "none"
                    }
                    .into()
                });
            println!(
                "{:<28} {:<28} {:<9} {:>9}  {}",
                merchant.id, merchant.name, merchant.protocol, products, merchant.endpoint
            );
        }
    }
    println!(
        "\nDeployment: {}",
        describe_loopback(settings.allow_loopback)
    );
    Ok(0)
}

/// `concierge merchant serve`'s arguments.
struct ReferenceResponder<'a> {
    protocol: &'a str,
    feed: &'a Path,
    port: u16,
    id: Option<String>,
    name: Option<String>,
    app_secret: Option<String>,
    verify_token: Option<String>,
    shipping: i64,
    wording: Option<&'a Path>,
}

/// Runs the reference merchant for one feed, in the protocol asked for,
/// until Ctrl-C.
async fn serve_reference(args: ReferenceResponder<'_>) -> anyhow::Result<i32> {
    let protocol = concierge::merchant::protocol_named(args.protocol).ok_or_else(|| {
        anyhow::anyhow!(
            "--protocol {:?} is not one of {}",
            args.protocol,
            concierge::merchant::protocol_names()
        )
    })?;
    let read = concierge::catalog::feed::read_feed_file(args.feed)?;
    for problem in &read.rejected {
        eprintln!("skipped: {problem}");
    }
    if read.products.is_empty() {
        bail!("{} has no usable products", args.feed.display());
    }
    let explicit_id = args.id.is_some();
    let id = args.id.unwrap_or_else(|| {
        args.feed
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "merchant".into())
    });
    let profile = concierge::catalog::MerchantProfile {
        name: args.name.unwrap_or_else(|| id.clone()),
        id,
        feed: args.feed.display().to_string(),
        currency: "USD".into(),
        shipping: args.shipping,
        free_shipping_over: 0,
        tax_basis_points: 0,
        protocol: protocol.name.into(),
    };
    let products = read.products.len();
    let name = profile.name.clone();
    let secret = args.app_secret.unwrap_or_else(|| random_token(16));
    let merchant: Arc<dyn ReferenceMerchant> = if protocol.name == "messenger" {
        let mut responder_config = ResponderConfig::new(profile, &secret);
        if let Some(token) = args.verify_token {
            responder_config.verify_token = token;
        }
        if let Some(path) = args.wording {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            responder_config.wording = toml::from_str::<Wording>(&text)
                .with_context(|| format!("bad wording file {}", path.display()))?;
        }
        Responder::new(responder_config, read.products)
    } else {
        let catalog = concierge::catalog::MerchantCatalog {
            profile,
            products: read.products,
        };
        (protocol.reference)(catalog, &secret)
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
    let address = listener.local_addr()?;
    println!(
        "Reference merchant for {name} ({products} products), speaking {}",
        protocol.name
    );
    for (label, value) in merchant.details(&format!("http://{address}")) {
        println!("  {:<13} {value}", format!("{label}:"));
    }
    if !explicit_id {
        let id = merchant.endpoint("").merchant_id;
        if protocol.name == "messenger" {
            println!("  merchant id:  {id} until registered; registration tells it the id it is registered under");
        } else {
            // No handshake tells a UCP or ACP endpoint its registered id,
            // and payment authorisations name that id.
            println!("  merchant id:  {id}; register it with --id {id}");
        }
    }
    serve_until_ctrl_c(listener, merchant).await
}

/// Runs the UCP conformance suite's flower shop from `dir` until Ctrl-C.
async fn serve_conformance_shop(
    dir: &Path,
    port: u16,
    simulation_secret: Option<String>,
) -> anyhow::Result<i32> {
    let secret = simulation_secret.unwrap_or_else(|| random_token(16));
    let merchant = concierge::merchant::ucp::conformance_merchant(dir, &secret)
        .map_err(|problem| anyhow::anyhow!("cannot load the conformance shop: {problem}"))?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let address = listener.local_addr()?;
    println!(
        "UCP conformance shop from {} (test payments only), speaking ucp",
        dir.display()
    );
    for (label, value) in merchant.details(&format!("http://{address}")) {
        println!("  {:<18} {value}", format!("{label}:"));
    }
    println!("  simulation secret: {secret}");
    serve_until_ctrl_c(listener, merchant).await
}

async fn serve_until_ctrl_c(
    listener: tokio::net::TcpListener,
    merchant: Arc<dyn ReferenceMerchant>,
) -> anyhow::Result<i32> {
    println!("Ctrl-C stops it.");
    // The same accept loop as Concierge's own server: header and body read
    // timeouts and connection caps, for an endpoint open to the network.
    concierge::server::serve_router(
        listener,
        merchant.router(),
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
        concierge::server::ConnectionLimits::default(),
    )
    .await?;
    Ok(0)
}
