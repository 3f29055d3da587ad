//! Merchants: one folder per protocol Concierge speaks with a business
//! (`messenger/`, `ucp/`, `acp/`) behind the seam of `protocol.rs`, the
//! registry, and the network policy every merchant endpoint is reached
//! under.
pub mod network;
pub mod protocol;
pub mod registry;

pub use messenger::{Charge, Responder, ResponderConfig, Wording};

use crate::config::Config;
use crate::rules::CompiledRules;
use messenger::Transport;
use protocol::{BuyerParts, ProtocolEntry, Protocols};
use std::sync::Arc;

/// Declares each protocol's folder as a module and lists its `PROTOCOL`
/// entry in [`PROTOCOLS`], in one place.
macro_rules! protocols {
    ($($protocol:ident),+ $(,)?) => {
        $(pub mod $protocol;)+

        /// Every protocol Concierge speaks, in the order they are tried.
        pub const PROTOCOLS: &[ProtocolEntry] = &[$($protocol::PROTOCOL),+];
    };
}

// A new protocol is a folder beside `messenger/` with its `PROTOCOL` entry,
// and its name on this line.
protocols!(messenger, ucp, acp);

/// The names of the protocols Concierge speaks, for messages
/// ("messenger, ucp, acp").
pub fn protocol_names() -> String {
    PROTOCOLS
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The protocol entry named `name`.
pub fn protocol_named(name: &str) -> Option<&'static ProtocolEntry> {
    PROTOCOLS.iter().find(|entry| entry.name == name)
}

/// The buyer side of every protocol, over `transport` and a client made
/// from `config`'s timeouts and network policy.
pub fn protocols(config: &Config, rules: &Arc<CompiledRules>, transport: &Transport) -> Protocols {
    let parts = BuyerParts {
        transport: transport.clone(),
        rules: rules.clone(),
        client: transport.client().clone(),
        policy: transport.policy(),
        timeout: config.turn_timeout,
        max_reply_bytes: config.max_reply_bytes,
    };
    Protocols::new(
        PROTOCOLS
            .iter()
            .map(|entry| (entry.buyer)(&parts))
            .collect(),
    )
}
