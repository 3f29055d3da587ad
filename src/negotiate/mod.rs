//! Negotiation: the policy and the orchestration of many conversations at
//! once, over whichever protocol each merchant speaks (`crate::merchant`).
pub mod orchestrate;
pub mod outcome;
pub mod policy;
pub mod report;

pub use crate::merchant::messenger::{MerchantEndpoint, Session, Transport, Wanted};
pub use orchestrate::{MerchantDirectory, Reconciliation, Shop, ShopOptions, ShopReport};
pub use outcome::Outcome;
