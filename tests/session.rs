//! The per-merchant session state machine, fed merchant messages directly
//! (no I/O). Table-driven: each case is what the merchant says and what
//! Concierge must do next.

use concierge::merchant::messenger::session::{Next, Session, ShopperMessage, Wanted};
use concierge::merchant::messenger::wire::{
    Attachment, Button, OutgoingMessage, QuickReply, Template,
};
use concierge::rules::CompiledRules;
use std::sync::Arc;

fn session(
    size: Option<&str>,
    color: Option<&str>,
    material: Option<&str>,
    address: Option<&str>,
) -> Session {
    // Compiled once for all cases.
    static RULES: std::sync::OnceLock<Arc<CompiledRules>> = std::sync::OnceLock::new();
    let rules = RULES
        .get_or_init(|| Arc::new(CompiledRules::embedded().unwrap()))
        .clone();
    let wanted = Wanted {
        variant_id: String::new(),
        request: String::new(),
        variant_title: None,
        product_code: "P-1".into(),
        product_title: "Classic Turtleneck Sweater".into(),
        color: color.map(str::to_string),
        size: size.map(str::to_string),
        quantity: 1,
        material: material.map(str::to_string),
        shipping_address: address.map(str::to_string),
        color_label: None,
        size_label: None,
        currency: None,
    };
    let mut session = Session::new("shop", wanted, rules, 12);
    session.opening();
    session
}

fn text(t: &str) -> OutgoingMessage {
    OutgoingMessage {
        text: Some(t.into()),
        ..Default::default()
    }
}

fn quick(t: &str, options: &[&str]) -> OutgoingMessage {
    OutgoingMessage {
        text: Some(t.into()),
        quick_replies: Some(
            options
                .iter()
                .map(|o| QuickReply {
                    content_type: "text".into(),
                    title: o.to_string(),
                    payload: format!("P_{o}"),
                })
                .collect(),
        ),
        attachment: None,
    }
}

fn said(next: &Next) -> String {
    match next {
        Next::Send(ShopperMessage::Text { text, .. }) => text.clone(),
        Next::Send(ShopperMessage::Postback { title, payload, .. }) => {
            format!("postback {title} {payload}")
        }
        other => format!("{other:?}"),
    }
}

#[test]
fn answers_follow_the_request_whatever_the_phrasing() {
    let cases: Vec<(&str, Session, Vec<OutgoingMessage>, &str)> = vec![
        (
            "quick replies, canonical",
            session(Some("M"), Some("gray"), None, None),
            vec![quick("What size?", &["S", "M", "L"])],
            "M",
        ),
        (
            "option matched by a word",
            session(Some("M"), Some("gray"), None, None),
            vec![quick(
                "Which colour?",
                &["Navy Blue", "Heather Grey Melange"],
            )],
            "Heather Grey Melange",
        ),
        (
            "options listed in text",
            session(Some("L"), Some("gray"), None, None),
            vec![text("Which size do you need? We have S, M and L.")],
            "L",
        ),
        (
            "no options at all",
            session(Some("XL"), Some("gray"), None, None),
            vec![text("What size?")],
            "XL",
        ),
        (
            "options as buttons",
            session(Some("S"), Some("gray"), None, None),
            vec![OutgoingMessage {
                attachment: Some(Attachment::template(&Template::Button {
                    text: "Pick a size".into(),
                    buttons: vec![
                        Button::postback("S", "SIZE_S"),
                        Button::postback("M", "SIZE_M"),
                    ],
                })),
                ..Default::default()
            }],
            "postback S SIZE_S",
        ),
        (
            "material question",
            session(Some("M"), Some("gray"), Some("wool"), None),
            vec![text("Which material would you like: wool or cotton?")],
            "wool",
        ),
        (
            "address question",
            session(
                Some("M"),
                Some("gray"),
                None,
                Some("1 Main St, Springfield"),
            ),
            vec![text("What's your shipping address?")],
            "1 Main St, Springfield",
        ),
        (
            "confirmation",
            session(Some("M"), Some("gray"), None, None),
            vec![text("One gray turtleneck in medium, is that right?")],
            "Yes, please.",
        ),
        (
            "quantity",
            session(Some("M"), Some("gray"), None, None),
            vec![text("How many would you like?")],
            "1",
        ),
    ];
    for (name, mut session, replies, expected) in cases {
        let next = session.on_replies(&replies);
        assert_eq!(said(&next), expected, "{name}: {:?}", session.failure);
    }
}

#[test]
fn conversations_end_with_a_reason_when_nothing_honest_can_be_said() {
    let cases: Vec<(&str, Session, Vec<OutgoingMessage>, &str)> = vec![
        ("size not offered", session(Some("XL"), Some("gray"), None, None), vec![quick("What size?", &["S", "M"])], "size XL is not offered (in stock: S, M)"),
        ("size left open", session(None, Some("gray"), None, None), vec![quick("What size?", &["S", "M"])], "the merchant asks for a size and the request did not say one (offered: S, M); Concierge does not guess"),
        ("no address configured", session(Some("M"), Some("gray"), None, None), vec![text("Where should we ship it?")], "the merchant asks for a shipping address and none is configured (CONCIERGE_SHIPPING_ADDRESS)"),
        ("out of stock", session(Some("M"), Some("gray"), None, None), vec![text("Sorry, that one is sold out.")], "merchant says: Sorry, that one is sold out."),
        ("nothing said", session(Some("M"), Some("gray"), None, None), vec![], "the merchant sent nothing to answer"),
    ];
    for (name, mut session, replies, reason) in cases {
        let next = session.on_replies(&replies);
        assert_eq!(next, Next::Stop, "{name}");
        assert_eq!(session.failure.as_deref(), Some(reason), "{name}");
    }
}

#[test]
fn chatter_is_waited_out_a_few_times() {
    let mut patient = session(Some("M"), Some("gray"), None, None);
    assert_eq!(
        patient.on_replies(&[text("Hi there! Welcome to Chatty Shop.")]),
        Next::Wait
    );
    assert_eq!(
        said(&patient.on_replies(&[quick("What size?", &["S", "M"])])),
        "M"
    );

    let mut chatty = session(Some("M"), Some("gray"), None, None);
    for filler in ["Hello!", "Welcome to our shop!", "One moment..."] {
        assert_eq!(chatty.on_replies(&[text(filler)]), Next::Wait, "{filler}");
    }
    assert_eq!(
        chatty.on_replies(&[text("We love our customers.")]),
        Next::Stop
    );
    assert!(chatty
        .failure
        .as_deref()
        .unwrap()
        .starts_with("could not understand the merchant"));
}

#[test]
fn an_open_size_goes_to_the_shopper_when_one_can_be_asked() {
    let mut asking = session(None, Some("gray"), None, None);
    asking.ask_shopper = true;
    let next = asking.on_replies(&[quick("What size?", &["S", "M", "L"])]);
    assert_eq!(
        next,
        Next::NeedChoice {
            slot: "size".into(),
            options: vec!["S".into(), "M".into(), "L".into()]
        }
    );
    assert_eq!(said(&asking.choose(Some("medium"))), "M");
    assert_eq!(asking.wanted.size.as_deref(), Some("M"));
}

/// A basket of two items ordered in one conversation.
fn basket() -> Session {
    let mut session = session(Some("M"), Some("gray"), None, Some("1 Main St"));
    session.more = vec![Wanted {
        variant_id: String::new(),
        request: String::new(),
        variant_title: None,
        product_code: "S-2".into(),
        product_title: "Wool Socks".into(),
        color: Some("black".into()),
        size: Some("L".into()),
        quantity: 2,
        material: None,
        shipping_address: Some("1 Main St".into()),
        color_label: None,
        size_label: None,
        currency: None,
    }];
    session
}

#[test]
fn a_basket_is_one_list_and_a_question_about_one_item_ends_it() {
    let mut opened = basket();
    opened.transcript.clear();
    let ShopperMessage::Text { text: opening, .. } = opened.opening() else {
        panic!("the opening is text");
    };
    assert_eq!(
        opening,
        "Hi! I'd like to order these 2 items:\n1. the Classic Turtleneck Sweater (P-1) in gray, size M\n2. 2 x Wool Socks (S-2) in black, size L"
    );
    // (what the merchant says, what Concierge does)
    let cases: Vec<(Vec<OutgoingMessage>, &str)> = vec![
        (vec![quick("What size?", &["S", "M", "L"])], "Stop"),
        (vec![text("Which colour for the socks?")], "Stop"),
        (
            vec![text(
                "We have the Merino Turtleneck instead, would that work?",
            )],
            "Stop",
        ),
        (vec![text("Hi there! One moment please.")], "Wait"),
        (vec![text("Where should we ship it?")], "1 Main St"),
    ];
    for (replies, expected) in cases {
        let mut session = basket();
        let next = session.on_replies(&replies);
        assert_eq!(said(&next), expected, "{replies:?}: {:?}", session.failure);
        if expected == "Stop" {
            assert!(
                session
                    .failure
                    .as_deref()
                    .unwrap_or_default()
                    .contains("basket")
                    || session
                        .failure
                        .as_deref()
                        .unwrap_or_default()
                        .contains("substitute"),
                "{:?}",
                session.failure
            );
        }
    }
    // An offer in words for both items, one line each, is an invoice with a
    // line each, under the catalog's names.
    let mut session = basket();
    let next = session.on_replies(&[text(
        "Sure! Your order:\n1 x Classic Turtleneck Sweater, gray, M: $45.00\n2 x Wool Socks, black, L: $9.00 each\nShipping: $4.00\nTotal: $67.00\nShall I place the order?",
    )]);
    assert_eq!(said(&next), "Invoiced", "{:?}", session.failure);
    let invoice = session.invoice.as_ref().unwrap();
    let lines: Vec<(&str, u32, i64)> = invoice
        .lines
        .iter()
        .map(|l| (l.title.as_str(), l.quantity, l.unit_price))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("Classic Turtleneck Sweater", 1, 4500),
            ("Wool Socks", 2, 900)
        ]
    );
    assert_eq!(invoice.total, 6700);
}

/// A session whose request was `request` and whose catalog variant is
/// `variant_title`, with colour and size left open unless given.
fn open_session(request: &str, variant_title: &str, pick_listed: bool) -> Session {
    let mut session = session(None, None, None, None);
    session.wanted.request = request.into();
    session.wanted.variant_title = Some(variant_title.into());
    session.pick_listed_variant = pick_listed;
    session
}

/// Options the request left open: answered with the option the shopper's
/// own words name (units compared alike), else, for a colour or another
/// option and when the policy allows, with the variant search chose; a
/// size the shopper did not name is never chosen for them.
#[test]
fn open_options_are_answered_from_the_request_or_the_listed_variant() {
    // (case, request, listed variant, policy picks listed, merchant's turn, reply or failure)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        bool,
        OutgoingMessage,
        Result<&'a str, &'a str>,
    );
    let cases: Vec<Case> = vec![
        ("length named", "usb-c cable, 6 ft, under $20", "Cable - 3 ft", true,
            quick("Which length?", &["3 ft", "6 ft", "10 ft"]), Ok("6 ft")),
        ("unit written joined", "12in frying pan", "Pan - 8 inch", false,
            quick("What size?", &["8 inch", "10 inch", "12 inch"]), Ok("12 inch")),
        ("bed size named", "queen size cotton sheets", "Sheets - Twin", true,
            quick("What size?", &["Twin", "Full", "Queen", "King"]), Ok("Queen")),
        ("pack from the listed variant", "fragrance free baby wipes", "Baby Wipes - Pack of 2", true,
            quick("What pack?", &["Pack of 1", "Pack of 2"]), Ok("Pack of 2")),
        ("colour from the listed variant", "a bluetooth speaker", "Speaker Red", true,
            quick("Which colour?", &["Black", "Red"]), Ok("Red")),
        ("colour left open, policy drops", "a bluetooth speaker", "Speaker Red", false,
            quick("Which colour?", &["Black", "Red"]), Err("the merchant asks for a colour and the request did not say one (offered: Black, Red); Concierge does not guess")),
        ("size never chosen for the shopper", "a cutting board", "Board - Medium", true,
            quick("What size?", &["Medium", "Large"]), Err("the merchant asks for a size and the request did not say one (offered: Medium, Large); Concierge does not guess")),
        ("one letter is not named by \"i'm\"", "i'm after a hoodie", "Hoodie - M", true,
            quick("What size?", &["S", "M"]), Err("the merchant asks for a size and the request did not say one (offered: S, M); Concierge does not guess")),
    ];
    for (name, request, listed, pick, turn, expected) in cases {
        let mut session = open_session(request, listed, pick);
        let next = session.on_replies(&[turn]);
        match expected {
            Ok(reply) => assert_eq!(said(&next), reply, "{name}: {:?}", session.failure),
            Err(reason) => {
                assert_eq!(next, Next::Stop, "{name}");
                assert_eq!(session.failure.as_deref(), Some(reason), "{name}");
            }
        }
    }
}
