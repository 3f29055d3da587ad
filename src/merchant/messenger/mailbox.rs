//! Messages that merchants send through the Send API (asynchronously, like a
//! real Messenger bot) are delivered here, one bounded mailbox per
//! conversation. A conversation belongs to one merchant: a message from
//! another merchant's token for that recipient is refused.

use crate::merchant::messenger::wire::OutgoingMessage;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Most undelivered messages held per conversation; beyond, the Send API
/// answers "too many requests".
const MAILBOX_CAPACITY: usize = 32;

/// What a merchant's bot can put in a conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum MailItem {
    Message(OutgoingMessage),
    /// `typing_on`: more is coming.
    Typing,
    /// `mark_seen` or `typing_off`: nothing to read, but the bot is there.
    Seen,
}

/// The receiving end of one conversation's mailbox.
pub type Inbox = Arc<tokio::sync::Mutex<mpsc::Receiver<MailItem>>>;

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
    sender: mpsc::Sender<MailItem>,
    receiver: Inbox,
}

/// Every open conversation's mailbox, by recipient (PSID).
#[derive(Default)]
pub struct Mailboxes {
    boxes: Mutex<HashMap<String, Mailbox>>,
    /// When a merchant last did anything through the Send API (Unix ms):
    /// a process about to exit waits until merchants have gone quiet.
    last_activity_ms: AtomicI64,
}

impl Mailboxes {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Mailbox>> {
        self.boxes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Opens (or returns) the mailbox of conversation `psid` with `merchant_id`.
    pub fn open(&self, psid: &str, merchant_id: &str) -> Inbox {
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

    /// The merchant an open conversation is with.
    pub fn owner(&self, psid: &str) -> Option<String> {
        self.lock().get(psid).map(|m| m.merchant_id.clone())
    }

    /// Delivers a Send API call from `merchant_id` to conversation `psid`.
    pub fn deliver(
        &self,
        merchant_id: &str,
        psid: &str,
        item: MailItem,
    ) -> Result<(), DeliveryError> {
        let boxes = self.lock();
        let mailbox = boxes.get(psid).ok_or(DeliveryError::UnknownRecipient)?;
        if mailbox.merchant_id != merchant_id {
            return Err(DeliveryError::NotYourConversation);
        }
        self.note_activity();
        mailbox
            .sender
            .try_send(item)
            .map_err(|_| DeliveryError::Full)
    }

    /// Records that a merchant did something through the Send API now.
    pub fn note_activity(&self) {
        self.last_activity_ms.store(
            crate::merchant::messenger::wire::now_millis(),
            Ordering::Relaxed,
        );
    }

    /// Milliseconds since a merchant last did anything through the Send
    /// API (`None`: never).
    pub fn quiet_for_ms(&self) -> Option<i64> {
        let last = self.last_activity_ms.load(Ordering::Relaxed);
        (last > 0).then(|| crate::merchant::messenger::wire::now_millis() - last)
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
