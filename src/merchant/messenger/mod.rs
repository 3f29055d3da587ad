//! The Messenger protocol, on both sides: the webhook and Send API types and
//! signatures, the buyer's conversation (a state machine with no I/O, the
//! transport that carries its messages, the mailboxes of Send API replies,
//! the reading of a merchant's turn), and the reference auto-responder a
//! merchant without a bot can run.
pub mod buyer;
pub mod handshake;
pub mod mailbox;
pub mod reading;
pub mod responder;
pub mod server;
pub mod session;
pub mod signature;
pub mod transport;
pub mod wire;

pub use buyer::MessengerProtocol;
pub use responder::{Charge, Responder, ResponderConfig, Wording};
pub use session::{Session, Wanted};
pub use transport::{MerchantEndpoint, Transport};

use crate::merchant::protocol::ProtocolEntry;
use std::sync::Arc;

/// Messenger, on both sides: conversations with a merchant's webhook bot,
/// and the reference auto-responder.
pub const PROTOCOL: ProtocolEntry = ProtocolEntry {
    name: "messenger",
    buyer: |parts| {
        Arc::new(MessengerProtocol::new(
            parts.transport.clone(),
            parts.rules.clone(),
        ))
    },
    verify: |verification| {
        Box::pin(async move {
            handshake::verify(verification).await?;
            Ok(crate::merchant::protocol::Verified::default())
        })
    },
    reference: |catalog, secret| {
        Responder::new(
            ResponderConfig::new(catalog.profile, secret),
            catalog.products,
        )
    },
};
