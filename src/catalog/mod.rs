//! Catalogs: merchants' feeds, the one tantivy index that holds them all, and
//! search that returns offers compared across merchants.

pub mod audience;
pub mod feed;
pub mod gmc;
pub mod index;
pub mod record;
pub mod retrieve;
pub mod search;
pub mod stem;

pub use feed::{FeedProduct, FeedVariant, MerchantCatalog, MerchantProfile};
pub use index::{BuildSummary, CatalogIndex, IndexStats, LoadSummary};
pub use record::{CatalogRecord, ParsedFeed, RecordManifest};
pub use search::{Offer, Ranker, SearchQuery, SearchResults};
