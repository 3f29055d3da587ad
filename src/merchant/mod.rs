//! Merchants: the Messenger wire protocol, signatures, and the reference
//! auto-responder a merchant without one can run.
pub mod network;
pub mod registry;
pub mod responder;
pub mod server;
pub mod signature;
pub mod wire;

pub use responder::{Charge, Responder, ResponderConfig, Wording};
