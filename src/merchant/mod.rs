//! Merchants: one folder per protocol Concierge speaks with a business
//! (`messenger/`), the registry, and the network policy every merchant
//! endpoint is reached under.
pub mod messenger;
pub mod network;
pub mod protocol;
pub mod registry;
pub mod ucp;

pub use messenger::{Charge, Responder, ResponderConfig, Wording};
