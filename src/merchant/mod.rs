//! Merchants: one folder per protocol Concierge speaks with a business
//! (`messenger/`), the registry, and the network policy every merchant
//! endpoint is reached under.
pub mod messenger;
pub mod network;
pub mod protocol;
pub mod registry;

pub use messenger::{Charge, Responder, ResponderConfig, Wording};

use crate::config::Config;
use crate::rules::CompiledRules;
use messenger::Transport;
use protocol::Protocols;
use std::sync::Arc;

/// Every protocol this process speaks with merchants. A new protocol is a
/// folder beside `messenger/` and one line here.
pub fn protocols(_config: &Config, rules: &Arc<CompiledRules>, transport: &Transport) -> Protocols {
    Protocols::new(vec![Arc::new(messenger::MessengerProtocol::new(
        transport.clone(),
        rules.clone(),
    ))])
}
