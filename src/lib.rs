//! Concierge: one shopping assistant, many merchants.
//!
//! A request in plain words is parsed by rules into an [`intent::Intent`],
//! matched against one tantivy index of every merchant's catalog
//! ([`catalog::CatalogIndex`]), negotiated with each promising merchant's
//! auto-responder over the Messenger webhook protocol
//! ([`negotiate::Session`], one per merchant, all at once), and the cheapest
//! invoice that passes every check ([`order::check_invoice`]) is paid once,
//! within the shopper's [`order::Mandate`].
//!
//! ```no_run
//! # async fn example() -> concierge::Result<()> {
//! use concierge::{config::Config, negotiate::ShopOptions, order::Store, rules, world};
//! use std::sync::Arc;
//!
//! let config = Config::default();
//! let rules = Arc::new(rules::load(&config.rules_dir)?);
//! let (catalogs, _rejected) = world::load_catalogs(&config)?;
//! let (index, _) = world::open_index(&config, &catalogs, &rules)?;
//! let merchants = world::start_reference_merchants(&catalogs).await?;
//! let endpoints = merchants.iter().map(|m| m.endpoint.clone()).collect();
//! let store = Arc::new(Store::open(&config.db_path)?);
//! let shop = world::build_shop(&config, rules, Arc::new(index), endpoints, store);
//! let report = shop.shop("buy me a gray turtleneck sweater in medium under $50", &ShopOptions { pay: true, ..Default::default() }).await?;
//! print!("{}", report.render());
//! # Ok(()) }
//! ```
//!
//! Glossary:
//! - **Intent**: what the shopper wants, with slots (product, colour, size...).
//! - **Offer**: one merchant's product at its best-matching variant and price.
//! - **Session**: one conversation with one merchant, a state machine without I/O.
//! - **Invoice**: a merchant's receipt template, in minor units.
//! - **Mandate**: what the shopper authorised: most per order, currency, merchants, expiry.

pub mod bench;
pub mod catalog;
pub mod config;
pub mod convert;
pub mod error;
pub mod eval;
pub mod http;
pub mod intent;
pub mod merchant;
pub mod money;
pub mod negotiate;
pub mod order;
pub mod rules;
pub mod server;
pub mod store;
pub mod world;

pub use error::{Error, Result};
