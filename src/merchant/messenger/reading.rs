//! What a merchant's turn holds, sorted out of Messenger's message shapes
//! (text, quick replies, button, generic and receipt templates, images):
//! the words said, the invoice if any, the ways offered to agree or to
//! choose, and the product cards shown. No I/O and no decisions: the
//! [`super::Session`] decides what to do with a reading.

use crate::merchant::messenger::wire::{
    Button, GenericElement, OutgoingMessage, ReceiptTemplate, Template,
};
use regex::Regex;
use std::sync::OnceLock;

/// How to agree to an offer: the merchant's own button or quick reply, or
/// the words it asked for ("Reply YES to confirm").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Agreement {
    Postback { title: String, payload: String },
    QuickReply { title: String, payload: String },
    Text(String),
}

/// A choice the merchant offers (a quick reply, a button, a card).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub title: String,
    pub kind: ChoiceKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChoiceKind {
    QuickReply(String),
    Postback(String),
    /// Named in the text ("we have S, M and L"): answered in words.
    Words,
}

/// One merchant turn, sorted.
#[derive(Debug, Clone, Default)]
pub struct TurnReading {
    /// Every word said, one message per line: texts, button-template texts,
    /// and the cards' titles and subtitles.
    pub text: String,
    /// The words said outside cards (what the merchant says, not shows).
    pub said: String,
    /// The words of each message (and each card) on its own, in order.
    pub messages: Vec<String>,
    pub receipt: Option<ReceiptTemplate>,
    /// An affirmative button or quick reply (pay, confirm, yes, place
    /// order...), if any.
    pub agree_button: Option<Agreement>,
    /// The affirmative button is a product card's ("Buy now" under one
    /// card): it agrees to an offer only when the card states a total.
    pub agree_from_card: bool,
    /// Quick replies and postback buttons that are neither agreement nor
    /// refusal.
    pub choices: Vec<Choice>,
    pub cards: Vec<GenericElement>,
    /// Image, video, audio or file attachments.
    pub media: usize,
}

impl TurnReading {
    pub fn read(replies: &[OutgoingMessage]) -> TurnReading {
        let mut reading = TurnReading::default();
        let mut said: Vec<String> = Vec::new();
        let mut shown: Vec<String> = Vec::new();
        for reply in replies {
            if let Some(text) = reply.text.as_deref().filter(|t| !t.trim().is_empty()) {
                said.push(text.to_string());
            }
            for quick in reply.quick_replies.iter().flatten() {
                if quick.content_type != "text" || quick.title.trim().is_empty() {
                    continue;
                }
                reading.sort_button(&quick.title, &quick.payload, true);
            }
            let Some(attachment) = &reply.attachment else {
                continue;
            };
            match attachment.as_template() {
                Some(Template::Receipt(receipt)) => reading.receipt = Some(receipt),
                Some(Template::Button { text, buttons }) => {
                    said.push(text);
                    reading.sort_buttons(&buttons);
                }
                Some(Template::Generic { elements }) => {
                    for element in &elements {
                        shown.push(
                            [Some(element.title.clone()), element.subtitle.clone()]
                                .into_iter()
                                .flatten()
                                .collect::<Vec<_>>()
                                .join(" — "),
                        );
                    }
                    // One card with a yes-button ("Order now") is an offer
                    // to agree to; among several, a button only chooses.
                    if let [card] = elements.as_slice() {
                        if reading.agree_button.is_none() {
                            reading.agree_button = card
                                .buttons
                                .iter()
                                .filter(|b| b.kind == "postback")
                                .find(|b| {
                                    is_agreement(&b.title, b.payload.as_deref().unwrap_or(""))
                                })
                                .map(|b| Agreement::Postback {
                                    title: b.title.clone(),
                                    payload: b.payload.clone().unwrap_or_default(),
                                });
                            reading.agree_from_card = reading.agree_button.is_some();
                        }
                    }
                    reading.cards.extend(elements);
                }
                None => reading.media += 1,
            }
        }
        reading.said = said.join("\n");
        reading.messages = said.iter().chain(&shown).cloned().collect();
        reading.text = said.into_iter().chain(shown).collect::<Vec<_>>().join("\n");
        reading
    }

    fn sort_buttons(&mut self, buttons: &[Button]) {
        for button in buttons.iter().filter(|b| b.kind == "postback") {
            self.sort_button(
                &button.title,
                button.payload.as_deref().unwrap_or(""),
                false,
            );
        }
    }

    fn sort_button(&mut self, title: &str, payload: &str, quick: bool) {
        if is_refusal(title, payload) {
            return;
        }
        if is_agreement(title, payload) {
            if self.agree_button.is_none() {
                self.agree_button = Some(if quick {
                    Agreement::QuickReply {
                        title: title.into(),
                        payload: payload.into(),
                    }
                } else {
                    Agreement::Postback {
                        title: title.into(),
                        payload: payload.into(),
                    }
                });
            }
            return;
        }
        self.choices.push(Choice {
            title: title.trim().to_string(),
            kind: if quick {
                ChoiceKind::QuickReply(payload.to_string())
            } else {
                ChoiceKind::Postback(payload.to_string())
            },
        });
    }

    /// Whether anything at all was said or shown.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
            && self.receipt.is_none()
            && self.choices.is_empty()
            && self.agree_button.is_none()
            && self.media == 0
    }

    /// The words the merchant asked for to agree ("Reply YES to confirm",
    /// "just say yes"), if it asked for any.
    pub fn agreement_word(&self) -> Option<String> {
        static CELL: OnceLock<Regex> = OnceLock::new();
        let pattern = CELL.get_or_init(|| {
            Regex::new(
                r#"(?i)\b(?:reply|type|say|send|respond(?:\s+with)?|answer|text|write)\s+(?:with\s+)?["'“‘«]?([a-z]{2,12})["'”’»]?\s*(to\s+(?:confirm|order|reserve|book|buy|proceed|pay|place|accept|lock)|and|if|for|&|,|\.|!|$)?"#,
            )
            .expect("fixed pattern compiles")
        });
        pattern
            .captures_iter(&self.said)
            .filter(|c| c.get(2).is_some())
            .filter_map(|c| {
                let word = c.get(1)?.as_str().to_string();
                // "Reply YES to confirm", or any word "to reserve".
                let purposeful = c
                    .get(2)
                    .is_some_and(|m| m.as_str().to_lowercase().starts_with("to"));
                (is_agreement(&word, "") || purposeful).then_some(word)
            })
            .next()
    }
}

/// A button or quick reply that says yes to an offer: pay, confirm, place
/// the order, buy, check out, yes, book, reserve...
pub fn is_agreement(title: &str, payload: &str) -> bool {
    static TITLE: OnceLock<Regex> = OnceLock::new();
    static PAYLOAD: OnceLock<Regex> = OnceLock::new();
    let title_pattern = TITLE.get_or_init(|| {
        Regex::new(
            r"(?i)^\W*(?:pay|confirm|place|order|buy|check\s?out|proceed|yes|yep|yeah|ok|okay|accept|book|reserve|go ahead|complete|submit|purchase|i'?ll take it|sounds good|looks good|agree|ja|oui|s[ií]|sim|tak|da|conferm\w*|confirm\w*|bestell\w*|bestätig\w*|kaufen|acheter|commander|comprar|pagar|pago|ordina\w*|bevestig\w*|valider)\b",
        )
        .expect("fixed pattern compiles")
    });
    let payload_pattern = PAYLOAD.get_or_init(|| {
        Regex::new(
            r"(?i)^(?:pay|confirm|yes|place|order_?(?:now|confirm)|buy|checkout|accept|book)",
        )
        .expect("fixed pattern compiles")
    });
    title_pattern.is_match(title)
        || ((title.trim().is_empty() || !is_refusal(title, ""))
            && payload_pattern.is_match(payload))
}

/// A button or quick reply that says no, or backs out.
pub fn is_refusal(title: &str, payload: &str) -> bool {
    static TITLE: OnceLock<Regex> = OnceLock::new();
    let pattern = TITLE.get_or_init(|| {
        Regex::new(
            r"(?i)^\W*(?:no|nope|cancel|decline|not now|maybe later|later|change|edit|back|stop|remove|nein|non)\b",
        )
        .expect("fixed pattern compiles")
    });
    pattern.is_match(title)
        || (title.trim().is_empty()
            && ["cancel", "no", "decline"]
                .iter()
                .any(|p| payload.to_lowercase().starts_with(p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_are_sorted_into_agreement_refusal_and_choices() {
        for (title, agree, refuse) in [
            ("Pay", true, false),
            ("Place order", true, false),
            ("Confirm order", true, false),
            ("Buy now", true, false),
            ("Yes, Charcoal", true, false),
            ("Check out", true, false),
            ("Cancel", false, true),
            ("No thanks", false, true),
            ("Not now", false, true),
            ("M", false, false),
            ("Heather Grey", false, false),
            ("Payment options", false, false),
        ] {
            assert_eq!(is_agreement(title, ""), agree, "{title}");
            assert_eq!(is_refusal(title, ""), refuse, "{title}");
        }
    }

    #[test]
    fn the_words_asked_for_to_agree_are_found() {
        for (text, word) in [
            (
                "Total $43.00\nReply YES to confirm or NO to cancel.",
                Some("YES"),
            ),
            ("Reply 'yes' and I'll send the checkout.", Some("yes")),
            ("Just say yes and I'll book it in.", Some("yes")),
            ("Reply OK to confirm", Some("OK")),
            ("Reply PAY to confirm.", Some("PAY")),
            ("Reply with your size.", None),
        ] {
            let reading = TurnReading {
                said: text.into(),
                ..Default::default()
            };
            assert_eq!(reading.agreement_word().as_deref(), word, "{text}");
        }
    }
}
