//! Nothing a merchant sends makes Concierge panic, and nothing a client
//! sends makes the reference responder panic. Randomised (fixed seeds, so a
//! failure reproduces): thousands of odd merchant messages (random texts,
//! quick replies, templates with random JSON payloads, absurd amounts) are
//! fed to the session state machine and the invoice reader; odd webhook
//! events are fed to the reference responder.

use concierge::merchant::messenger::session::{Next, Session, Wanted};
use concierge::merchant::messenger::wire::*;
use concierge::merchant::{Responder, ResponderConfig};
use concierge::order::Invoice;
use concierge::rules::CompiledRules;
use serde_json::json;
use std::sync::Arc;

/// The demo world's seeded generator, with makers of odd merchant input.
struct Rng(concierge::world::demo::Rng);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n)
    }
    fn text(&mut self) -> String {
        const PIECES: &[&str] = &[
            "What size?",
            "What colour?",
            "we have S, M and L",
            "Total $49.00, reply pay",
            "order #A-1",
            "sold out",
            "instead",
            "Heather Grey",
            "$",
            "€",
            "£",
            "9999999999999999999",
            "0.001",
            "-5",
            "\u{0}",
            "🙂",
            "ñ",
            "\n",
            "   ",
            "Pay",
            "could you do",
            "shipping $",
            "tax",
            "is that right?",
            "welcome",
            "M",
            "",
        ];
        (0..self.below(6))
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect::<Vec<_>>()
            .join(" ")
    }
    fn number(&mut self) -> serde_json::Value {
        match self.below(7) {
            0 => json!(1e308),
            1 => json!(-1.0),
            2 => json!(0.005),
            3 => json!(45.99),
            4 => json!("45"),
            5 => json!(null),
            _ => json!(self.below(100_000) as f64 / 100.0),
        }
    }
    fn payload(&mut self) -> serde_json::Value {
        match self.below(5) {
            0 => {
                json!({"template_type": "receipt", "order_number": self.text(), "currency": (["USD", "usd", "", "XXX"][self.below(4)]),
                "elements": (0..self.below(3)).map(|_| json!({"title": self.text(), "subtitle": self.text(), "quantity": self.below(5), "price": self.number()})).collect::<Vec<_>>(),
                "summary": {"subtotal": self.number(), "shipping_cost": self.number(), "total_tax": self.number(), "total_cost": self.number()},
                "adjustments": [{"name": "x", "amount": self.number()}]})
            }
            1 => {
                json!({"template_type": "button", "text": self.text(), "buttons": (0..self.below(4)).map(|_| json!({"type": "postback", "title": self.text(), "payload": self.text()})).collect::<Vec<_>>()})
            }
            2 => json!({"template_type": "generic", "elements": [{"title": self.text()}]}),
            3 => json!({"template_type": "mystery", "what": [1, 2, 3]}),
            _ => json!(self.text()),
        }
    }
    fn message(&mut self) -> OutgoingMessage {
        OutgoingMessage {
            text: (self.below(3) > 0).then(|| self.text()),
            quick_replies: (self.below(3) == 0).then(|| {
                (0..self.below(15))
                    .map(|_| QuickReply {
                        content_type: "text".into(),
                        title: self.text(),
                        payload: self.text(),
                    })
                    .collect()
            }),
            attachment: (self.below(3) == 0).then(|| Attachment {
                kind: ["template", "image", ""][self.below(3)].into(),
                payload: self.payload(),
            }),
        }
    }
}

#[test]
fn odd_merchant_messages_never_panic_the_session() {
    let rules = Arc::new(CompiledRules::embedded().unwrap());
    let mut rng = Rng(concierge::world::demo::Rng(7));
    for round in 0..2000 {
        let wanted = Wanted {
            variant_id: String::new(),
            request: String::new(),
            variant_title: None,
            product_code: "P-1".into(),
            product_title: "Classic Turtleneck Sweater".into(),
            color: (round % 3 > 0).then(|| "gray".into()),
            size: (round % 2 == 0).then(|| "M".into()),
            quantity: 1 + (round % 3) as u32,
            material: None,
            shipping_address: None,
            color_label: None,
            size_label: None,
            currency: None,
        };
        let mut session = Session::new("odd", wanted, rules.clone(), 12);
        session.ask_shopper = round % 5 == 0;
        session.opening();
        for _ in 0..4 {
            let replies: Vec<OutgoingMessage> = (0..rng.below(4)).map(|_| rng.message()).collect();
            match session.on_replies(&replies) {
                Next::NeedChoice { .. } => {
                    let _ = session.choose(Some("M"));
                }
                Next::Send(_) | Next::Wait => {}
                Next::Invoiced | Next::Stop => break,
            }
        }
        // Whatever it concluded, an invoice it holds has sane amounts.
        if let Some(invoice) = &session.invoice {
            assert!(
                invoice.total >= 0 && invoice.lines.iter().all(|l| l.unit_price >= 0),
                "{invoice:?}"
            );
        }
    }
}

#[test]
fn absurd_receipts_are_refused_not_rounded() {
    let receipt = |total: f64| ReceiptTemplate {
        recipient_name: String::new(),
        merchant_name: None,
        order_number: "X-1".into(),
        currency: "USD".into(),
        payment_method: String::new(),
        elements: vec![ReceiptElement {
            title: "t".into(),
            subtitle: None,
            quantity: Some(1),
            price: 10.0,
            currency: None,
        }],
        summary: ReceiptSummary {
            subtotal: None,
            shipping_cost: None,
            total_tax: None,
            total_cost: total,
        },
        adjustments: vec![],
    };
    for bad in [1e300, -1.0, 0.001, f64::INFINITY, 12.345] {
        assert!(Invoice::from_receipt("m", &receipt(bad)).is_err(), "{bad}");
    }
    assert_eq!(
        Invoice::from_receipt("m", &receipt(10.0)).unwrap().total,
        1000
    );
}

#[test]
fn odd_webhook_events_never_panic_the_reference_responder() {
    let catalog = &common_catalog();
    let responder = Responder::new(
        ResponderConfig::new(catalog.0.clone(), "secret"),
        catalog.1.clone(),
    );
    let mut rng = Rng(concierge::world::demo::Rng(11));
    for _ in 0..3000 {
        let event = json!({"object": "page", "entry": [{"id": "p", "time": 1, "messaging": [{
            "sender": {"id": format!("s{}", rng.below(5))}, "recipient": {"id": "p"}, "timestamp": 1,
            "message": (rng.below(2) == 0).then(|| json!({"mid": "m", "text": rng.text(), "quick_reply": (rng.below(3) == 0).then(|| json!({"payload": rng.text()}))})),
            "postback": (rng.below(3) == 0).then(|| json!({"mid": "m", "title": "Pay", "payload": (["PAY:", "CANCEL:", "PAY:SHOP-1", ""][rng.below(4)].to_string() + &rng.text()),
                "payment": (rng.below(2) == 0).then(|| json!({"token": rng.text(), "idempotency_key": rng.text(), "allowance": {"reason": "one_time", "max_amount": rng.below(1_000_000), "currency": "USD", "checkout_session_id": rng.text(), "merchant_id": "shop", "expires_at": 9_999_999_999i64}}))}))
        }]}]});
        if let Ok(event) = serde_json::from_value::<WebhookEvent>(event) {
            let _ = responder.handle_event(&event);
        }
    }
    assert!(
        responder.charges().len() <= 5,
        "at most one charge per conversation's invoice"
    );
}

fn common_catalog() -> (
    concierge::catalog::MerchantProfile,
    Vec<concierge::catalog::FeedProduct>,
) {
    let catalogs = concierge::world::demo::generate();
    let profile = concierge::catalog::MerchantProfile {
        id: "shop".into(),
        ..catalogs[0].profile.clone()
    };
    (
        profile,
        catalogs[0].products.iter().take(20).cloned().collect(),
    )
}
