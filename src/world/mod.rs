//! Assembling a running Concierge: rules, catalogs, the index, merchants'
//! auto-responders (the bundled demo world's, on loopback), the store and
//! the transport. The binary and the tests use these same functions.

pub mod demo;

use crate::catalog::feed::read_feeds_dir;
use crate::catalog::record::{OpenedRecord, Vocabulary};
use crate::catalog::{BuildSummary, CatalogIndex, MerchantCatalog};
use crate::config::Config;
use crate::error::{CatalogError, MerchantError};
use crate::intent::Parser;
use crate::merchant::messenger::signature::random_token;
use crate::merchant::messenger::Responder;
use crate::merchant::protocol::{Charge, ReferenceMerchant};
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
        Ok((demo::generate(), Vec::new()))
    }
}

/// The rules plus the catalogs' own vocabulary: brands, product types (a
/// product's most specific category), colours and materials, so that a new merchant's
/// brand or colour is understood without editing the rules.
pub fn with_catalog_terms(rules: CompiledRules, catalogs: &[MerchantCatalog]) -> CompiledRules {
    let vocabularies: Vec<Vocabulary> = catalogs
        .iter()
        .map(|catalog| Vocabulary::of(&catalog.products))
        .collect();
    with_vocabulary(rules, vocabularies.iter())
}

/// The rules plus the given catalogs' vocabularies (see
/// [`with_catalog_terms`]).
pub fn with_vocabulary<'v>(
    mut rules: CompiledRules,
    vocabularies: impl Iterator<Item = &'v Vocabulary>,
) -> CompiledRules {
    use crate::rules::LexSlot;
    let mut terms: Vec<(LexSlot, &str)> = Vec::new();
    for vocabulary in vocabularies {
        terms.extend(
            vocabulary
                .brands
                .iter()
                .map(|b| (LexSlot::Brand, b.as_str())),
        );
        terms.extend(
            vocabulary
                .product_types
                .iter()
                .map(|t| (LexSlot::Product, t.as_str())),
        );
        terms.extend(
            vocabulary
                .colors
                .iter()
                .map(|c| (LexSlot::Color, c.as_str())),
        );
        terms.extend(
            vocabulary
                .materials
                .iter()
                .map(|m| (LexSlot::Material, m.as_str())),
        );
    }
    terms.sort();
    terms.dedup();
    rules.extend_lexicon(terms);
    rules
}

/// Opens the index of fixed catalogs (the demo world's, or a test's) under
/// `<index>/demo`, rebuilding it aside when the catalogs or rules changed.
pub fn open_index(
    config: &Config,
    catalogs: &[MerchantCatalog],
    rules: &CompiledRules,
) -> Result<(CatalogIndex, BuildSummary), CatalogError> {
    CatalogIndex::open_or_build(&config.demo_index_dir(), catalogs, rules)
}

/// The catalog of record, opened, with the rules extended by its merchants'
/// vocabulary. Its documents are made again from the kept feeds only when
/// they were made with other rules or another schema (`rebuilt` says so).
pub fn open_record(
    config: &Config,
    rules: &CompiledRules,
) -> Result<(OpenedRecord, CompiledRules), CatalogError> {
    let opened = config.catalog_record().open(rules)?;
    let extended = with_vocabulary(
        rules.clone(),
        opened.manifest.merchants.values().map(|m| &m.vocabulary),
    );
    Ok((opened, extended))
}

/// A reference merchant running on loopback, in any protocol.
pub struct RunningMerchant {
    pub endpoint: MerchantEndpoint,
    pub merchant: Arc<dyn ReferenceMerchant>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningMerchant {
    /// Serves `merchant` on `listener`; its endpoint says it is served
    /// here, so the transport reaches it on loopback.
    pub fn start(
        listener: TcpListener,
        merchant: Arc<dyn ReferenceMerchant>,
    ) -> Result<RunningMerchant, MerchantError> {
        let address = listener
            .local_addr()
            .map_err(|e| MerchantError::Serve(e.to_string()))?;
        let endpoint = MerchantEndpoint {
            served_here: true,
            live_catalog: false,
            ..merchant.endpoint(&format!("http://{address}"))
        };
        let (shutdown, stopped) = oneshot::channel::<()>();
        let router = merchant.clone().router();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Ok(RunningMerchant {
            endpoint,
            merchant,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// Every payment the merchant accepted.
    pub fn charges(&self) -> Vec<Charge> {
        self.merchant.charges()
    }

    /// The Messenger responder, when this merchant is one.
    pub fn responder(&self) -> Option<Arc<Responder>> {
        self.merchant.clone().as_any().downcast::<Responder>().ok()
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Starts one reference merchant per catalog on 127.0.0.1, each on an
/// ephemeral port with its own random secret, in the protocol its profile
/// names.
pub async fn start_reference_merchants(
    catalogs: &[MerchantCatalog],
) -> Result<Vec<RunningMerchant>, MerchantError> {
    let mut running = Vec::new();
    for catalog in catalogs {
        let protocol =
            crate::merchant::protocol_named(&catalog.profile.protocol).ok_or_else(|| {
                MerchantError::Serve(format!(
                    "merchant {} speaks {:?}; Concierge serves {}",
                    catalog.profile.id,
                    catalog.profile.protocol,
                    crate::merchant::protocol_names()
                ))
            })?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| MerchantError::Serve(e.to_string()))?;
        let merchant = (protocol.reference)(catalog.clone(), &random_token(16));
        running.push(RunningMerchant::start(listener, merchant)?);
    }
    Ok(running)
}

/// The transport for `config`: its timeouts, reply limit and network policy.
pub fn transport_for(config: &Config) -> Transport {
    Transport::with_timing(
        config.turn_timing(),
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
        protocols: crate::merchant::protocols(config, &rules, &transport),
        rules,
        catalogs: vec![catalog],
        merchants,
        registered_merchants: false,
        store,
        transport,
        config: config.clone(),
    }
}

/// A shop over the catalog of record and the merchants registered in the
/// store (read at each request), with the given transport. `rebuilt` in
/// the returned record says whether the catalog had to be made again.
pub fn registered_shop(
    config: &Config,
    rules: &CompiledRules,
    store: Arc<Store>,
    transport: Transport,
) -> Result<(Shop, OpenedRecordSummary), crate::Error> {
    let (opened, rules) = open_record(config, rules)?;
    let summary = OpenedRecordSummary {
        merchants: opened.manifest.merchants.len(),
        products: opened.manifest.merchants.values().map(|m| m.products).sum(),
        variants: opened.manifest.merchants.values().map(|m| m.variants).sum(),
        rebuilt: opened.rebuilt.clone(),
        opstamp: opened
            .index
            .index
            .load_metas()
            .map_err(CatalogError::from)?
            .opstamp,
    };
    let mut shop = build_shop_with_transport(
        config,
        Arc::new(rules),
        Arc::new(opened.index),
        Vec::new(),
        store,
        transport,
    );
    shop.registered_merchants = true;
    Ok((shop, summary))
}

/// What [`registered_shop`] opened.
#[derive(Debug, Clone)]
pub struct OpenedRecordSummary {
    pub merchants: usize,
    pub products: usize,
    pub variants: usize,
    /// Set when the documents were made again from the kept feeds.
    pub rebuilt: Option<BuildSummary>,
    /// The commit opened: a later commit means the catalog changed.
    pub opstamp: u64,
}
