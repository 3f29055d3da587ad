//! Negotiation: the per-merchant session state machine (no I/O), the
//! transport that carries its messages, and the orchestration of many
//! sessions at once.
pub mod mailbox;
pub mod orchestrate;
pub mod outcome;
pub mod policy;
pub mod reading;
pub mod report;
pub mod session;
pub mod transport;

pub use orchestrate::{MerchantDirectory, Reconciliation, Shop, ShopOptions, ShopReport};
pub use outcome::Outcome;
pub use session::{Session, Wanted};
pub use transport::{MerchantEndpoint, Transport};
