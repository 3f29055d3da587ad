//! Messages that merchants send through the Send API (asynchronously, like a
//! real Messenger bot) are delivered here, one bounded mailbox per
//! conversation. A conversation belongs to one merchant: a message from
//! another merchant's token for that recipient is refused.

use crate::merchant::wire::OutgoingMessage;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Most undelivered messages held per conversation; beyond, the Send API
/// answers "too many requests".
const MAILBOX_CAPACITY: usize = 32;

#[derive(Debug, PartialEq, Eq)]
pub enum DeliveryError {
    /// No open conversation with that recipient id.
    UnknownRecipient,
    /// The conversation belongs to another merchant.
    NotYourConversation,
    /// The conversation's mailbox is full.
    Full,
}

struct Mailbox {
    merchant_id: String,
    sender: mpsc::Sender<OutgoingMessage>,
    receiver: Arc<tokio::sync::Mutex<mpsc::Receiver<OutgoingMessage>>>,
}

/// Every open conversation's mailbox, by recipient (PSID).
#[derive(Default)]
pub struct Mailboxes {
    boxes: Mutex<HashMap<String, Mailbox>>,
}

impl Mailboxes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Mailbox>> {
        self.boxes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens (or returns) the mailbox of conversation `psid` with `merchant_id`.
    pub fn open(
        &self,
        psid: &str,
        merchant_id: &str,
    ) -> Arc<tokio::sync::Mutex<mpsc::Receiver<OutgoingMessage>>> {
        let mut boxes = self.lock();
        let mailbox = boxes.entry(psid.to_string()).or_insert_with(|| {
            let (sender, receiver) = mpsc::channel(MAILBOX_CAPACITY);
            Mailbox {
                merchant_id: merchant_id.to_string(),
                sender,
                receiver: Arc::new(tokio::sync::Mutex::new(receiver)),
            }
        });
        mailbox.receiver.clone()
    }

    /// Closes a conversation's mailbox.
    pub fn close(&self, psid: &str) {
        self.lock().remove(psid);
    }

    /// Delivers a Send API message from `merchant_id` to conversation `psid`.
    pub fn deliver(
        &self,
        merchant_id: &str,
        psid: &str,
        message: OutgoingMessage,
    ) -> Result<(), DeliveryError> {
        let boxes = self.lock();
        let mailbox = boxes.get(psid).ok_or(DeliveryError::UnknownRecipient)?;
        if mailbox.merchant_id != merchant_id {
            return Err(DeliveryError::NotYourConversation);
        }
        mailbox
            .sender
            .try_send(message)
            .map_err(|_| DeliveryError::Full)
    }

    pub fn open_count(&self) -> usize {
        self.lock().len()
    }
}

impl std::fmt::Debug for Mailboxes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mailboxes({} open)", self.open_count())
    }
}
