//! Assembling a running Concierge: rules, catalogs, the index, merchants'
//! auto-responders (the bundled demo world's, on loopback), the store and
//! the transport. The binary and the tests use these same functions.

use crate::catalog::feed::read_feeds_dir;
use crate::catalog::{demo_world, BuildSummary, CatalogIndex, MerchantCatalog};
use crate::config::Config;
use crate::error::{CatalogError, MerchantError};
use crate::intent::Parser;
use crate::merchant::signature::random_token;
use crate::merchant::{server, Responder, ResponderConfig};
use crate::negotiate::{MerchantEndpoint, Shop, Transport};
use crate::order::Store;
use crate::rules::CompiledRules;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Merchants' catalogs: from `index/feeds/` when it has a `merchants.toml`,
/// else the demo world generated in memory. Rejected feed lines come back
/// beside the catalogs.
pub fn load_catalogs(
    config: &Config,
) -> Result<(Vec<MerchantCatalog>, Vec<CatalogError>), CatalogError> {
    let feeds_dir = config.feeds_dir();
    if feeds_dir.join("merchants.toml").is_file() {
        read_feeds_dir(&feeds_dir)
    } else {
        Ok((demo_world::generate(), Vec::new()))
    }
}

/// The rules plus the catalogs' own vocabulary: brands, product types (a
/// product's most specific category) and colours, so that a new merchant's
/// brand or colour is understood without editing the rules.
pub fn with_catalog_terms(mut rules: CompiledRules, catalogs: &[MerchantCatalog]) -> CompiledRules {
    use crate::rules::LexSlot;
    let mut terms: Vec<(LexSlot, String)> = Vec::new();
    for product in catalogs.iter().flat_map(|c| &c.products) {
        if !product.brand.trim().is_empty() {
            terms.push((LexSlot::Brand, product.brand.clone()));
        }
        if let Some(kind) = product.categories.last() {
            terms.push((LexSlot::Product, kind.clone()));
        }
        for variant in &product.variants {
            if let Some(color) = variant.option("color") {
                terms.push((LexSlot::Color, color.to_string()));
            }
        }
    }
    terms.sort();
    terms.dedup();
    rules.extend_lexicon(terms);
    rules
}

/// Opens the index, rebuilding it when the catalogs or rules changed.
pub fn open_index(
    config: &Config,
    catalogs: &[MerchantCatalog],
    rules: &CompiledRules,
) -> Result<(CatalogIndex, BuildSummary), CatalogError> {
    CatalogIndex::open_or_build(&config.tantivy_dir(), catalogs, rules)
}

/// A reference auto-responder running on loopback.
pub struct RunningMerchant {
    pub endpoint: MerchantEndpoint,
    pub responder: Arc<Responder>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningMerchant {
    /// Starts `responder` on `listener`.
    pub fn start(
        listener: TcpListener,
        responder: Arc<Responder>,
    ) -> Result<RunningMerchant, MerchantError> {
        let address = listener
            .local_addr()
            .map_err(|e| MerchantError::Serve(e.to_string()))?;
        let config = responder.config().clone();
        let endpoint = MerchantEndpoint {
            merchant_id: config.profile.id.clone(),
            name: config.profile.name.clone(),
            webhook_url: format!("http://{address}/webhook"),
            app_secret: config.app_secret.clone(),
            page_id: config.page_id.clone(),
        };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serving = responder.clone();
        let task = tokio::spawn(async move {
            let _ = server::serve(listener, serving, async {
                let _ = stopped.await;
            })
            .await;
        });
        Ok(RunningMerchant {
            endpoint,
            responder,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Starts one reference auto-responder per catalog on 127.0.0.1, each on
/// an ephemeral port with its own random app secret.
pub async fn start_reference_merchants(
    catalogs: &[MerchantCatalog],
) -> Result<Vec<RunningMerchant>, MerchantError> {
    let mut running = Vec::new();
    for catalog in catalogs {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| MerchantError::Serve(e.to_string()))?;
        let config = ResponderConfig::new(catalog.profile.clone(), &random_token(16));
        let responder = Responder::new(config, catalog.products.clone());
        running.push(RunningMerchant::start(listener, responder)?);
    }
    Ok(running)
}

/// The transport for `config`: its timeouts, reply limit and network policy.
pub fn transport_for(config: &Config) -> Transport {
    Transport::with_policy(
        config.turn_timeout,
        config.max_reply_bytes,
        config.network_policy(),
    )
}

/// A shop over the given parts, with a transport made from `config`.
pub fn build_shop(
    config: &Config,
    rules: Arc<CompiledRules>,
    catalog: Arc<CatalogIndex>,
    merchants: Vec<MerchantEndpoint>,
    store: Arc<Store>,
) -> Shop {
    build_shop_with_transport(
        config,
        rules,
        catalog,
        merchants,
        store,
        transport_for(config),
    )
}

/// A shop over the given parts and transport (shared with a server, whose
/// Send API endpoint delivers into the transport's mailboxes).
pub fn build_shop_with_transport(
    config: &Config,
    rules: Arc<CompiledRules>,
    catalog: Arc<CatalogIndex>,
    merchants: Vec<MerchantEndpoint>,
    store: Arc<Store>,
    transport: Transport,
) -> Shop {
    Shop {
        parser: Parser::new(rules.clone()),
        rules,
        catalog,
        merchants,
        store,
        transport,
        config: config.clone(),
    }
}

/// Registered merchants' catalogs, their endpoints, and the feed problems met.
pub type Registered = (
    Vec<MerchantCatalog>,
    Vec<MerchantEndpoint>,
    Vec<CatalogError>,
);

/// Registered merchants' catalogs, read from their kept feeds, with their
/// endpoints. A merchant whose feed cannot be read is reported and left out.
pub fn registered_catalogs(store: &Store) -> Result<Registered, crate::Error> {
    let mut catalogs = Vec::new();
    let mut endpoints = Vec::new();
    let mut problems = Vec::new();
    for record in store.merchants()? {
        match crate::catalog::feed::read_feed_file(std::path::Path::new(&record.feed_path)) {
            Ok(read) => {
                problems.extend(read.rejected);
                catalogs.push(MerchantCatalog {
                    profile: crate::catalog::MerchantProfile {
                        id: record.id.clone(),
                        name: record.name.clone(),
                        feed: record.feed_path.clone(),
                        currency: "USD".into(),
                        shipping: 0,
                        free_shipping_over: 0,
                        tax_basis_points: 0,
                    },
                    products: read.products,
                });
                endpoints.push(record.endpoint());
            }
            Err(error) => problems.push(error),
        }
    }
    Ok((catalogs, endpoints, problems))
}
