//! Converters from public datasets into feeds Concierge reads (the catalog
//! of a real shop, split across merchants for evaluation).
pub mod magento;
