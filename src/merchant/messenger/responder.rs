//! The reference auto-responder: what a small business without a bot of its
//! own runs. It serves one catalog over the Messenger webhook protocol:
//! - it recognises a product code (product or variant id) or a product name;
//! - it asks for each missing variant option, with quick replies listing only
//!   what is in stock given the choices so far;
//! - a first message listing several items, one per line, each with its
//!   options ("1. the Wool Socks (WS-1) in Gray, size M"), is one order: one
//!   receipt with a line per item;
//! - it sends a receipt-template invoice and a button template with Pay;
//! - it accepts the Pay postback exactly once per order, checking the payment
//!   authorisation against the invoice, and confirms.
//!
//! Everything a client sends is bounded: body size (by the server), text
//! length, number of live conversations.

use super::signature;
use super::wire::*;
use crate::catalog::feed::{canonical_option_name, FeedProduct, FeedVariant};
use crate::catalog::MerchantProfile;
use crate::money::{minor_to_decimal_f64, Money};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Longest shopper text the responder reads; the rest is ignored.
const MAX_TEXT_CHARS: usize = 500;
/// Most quick replies Messenger allows on one message.
const MAX_QUICK_REPLIES: usize = 13;

/// The phrases the responder uses. Every field is a template; `{product}`,
/// `{option}`, `{value}`, `{options}`, `{order}` and `{total}` are filled in.
/// Merchants may load their own wording from a TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Wording {
    pub greeting: String,
    pub ask_option: String,
    pub got_it: String,
    pub unknown_option: String,
    pub not_found: String,
    pub out_of_stock: String,
    pub invoice: String,
    pub pay_button: String,
    pub cancel_button: String,
    pub paid: String,
    pub already_paid: String,
    pub payment_declined: String,
    pub declined: String,
    pub cancelled: String,
    pub awaiting_payment: String,
    pub counter_accepted: String,
    pub counter_refused: String,
    pub refunded: String,
    /// A list order whose item left an option open.
    pub list_option_missing: String,
}

impl Default for Wording {
    fn default() -> Self {
        Wording {
            greeting: "Sure, happy to get the {product} for you.".into(),
            ask_option: "What {option}?".into(),
            got_it: "Got it, {value}.".into(),
            unknown_option: "Sorry, we have {options}. What {option}?".into(),
            not_found: "Sorry, I could not find that product. Send me a product code or name."
                .into(),
            out_of_stock: "Sorry, the {product} is out of stock in that choice.".into(),
            invoice: "Here's your invoice for the {product}. Total {total}: tap Pay to confirm."
                .into(),
            pay_button: "Pay".into(),
            cancel_button: "Cancel".into(),
            paid: "Payment received, thank you! Order {order} is confirmed.".into(),
            already_paid: "Already paid: order {order} is confirmed.".into(),
            payment_declined: "Payment declined: {value}.".into(),
            declined: "No problem, maybe next time.".into(),
            cancelled: "Order {order} is cancelled.".into(),
            awaiting_payment:
                "Your invoice {order} is ready: tap Pay to confirm, or say no thanks.".into(),
            counter_accepted: "Deal: {total} in total.".into(),
            counter_refused: "Sorry, {total} is the best I can do.".into(),
            refunded: "Order {order} is cancelled and your payment will be refunded.".into(),
            list_option_missing:
                "For a list I need each item's options: which {option} for the {product}?".into(),
        }
    }
}

fn fill(template: &str, pairs: &[(&str, &str)]) -> String {
    let mut text = template.to_string();
    for (key, value) in pairs {
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}

/// Settings of one responder.
#[derive(Debug, Clone)]
pub struct ResponderConfig {
    pub profile: MerchantProfile,
    /// The Messenger page id the responder answers as.
    pub page_id: String,
    /// Shared secret for `X-Hub-Signature-256`.
    pub app_secret: String,
    /// Token for the `hub.verify_token` handshake.
    pub verify_token: String,
    pub wording: Wording,
    /// Most conversations kept; the least recently active is dropped beyond.
    pub max_conversations: usize,
    /// Largest discount granted on a counter-offer, in basis points of the
    /// total (0: none).
    pub max_discount_bp: i64,
}

impl ResponderConfig {
    pub fn new(profile: MerchantProfile, app_secret: &str) -> ResponderConfig {
        ResponderConfig {
            page_id: format!("page-{}", profile.id),
            profile,
            app_secret: app_secret.into(),
            verify_token: signature::random_token(8),
            wording: Wording::default(),
            max_conversations: 10_000,
            max_discount_bp: 0,
        }
    }
}

pub use crate::merchant::protocol::Charge;
use crate::merchant::protocol::RegisteredIds;

#[derive(Debug, Clone)]
struct IssuedInvoice {
    order_number: String,
    total: i64,
    paid: bool,
    cancelled: bool,
}

/// One item of a list order: the product, its variant's options, how many.
#[derive(Debug, Clone)]
struct CartLine {
    product: usize,
    chosen: Vec<(String, String)>,
    quantity: u32,
}

#[derive(Debug, Clone, Default)]
struct Conversation {
    /// The product asked about (the first of a list order).
    product: Option<usize>,
    /// A list order's items, every option chosen; empty for one product.
    cart: Vec<CartLine>,
    quantity: u32,
    chosen: Vec<(String, String)>,
    pending_option: Option<String>,
    invoice: Option<IssuedInvoice>,
    /// Discount agreed after a counter-offer, in minor units.
    discount: i64,
    closed: bool,
    last_active: u64,
}

/// The responder's state, shared by its server tasks.
pub struct Responder {
    config: ResponderConfig,
    products: Vec<FeedProduct>,
    conversations: Mutex<HashMap<String, Conversation>>,
    charges: Mutex<Vec<Charge>>,
    order_counter: AtomicU64,
    /// Random per start, so order numbers never repeat across restarts.
    order_prefix: String,
    clock: AtomicU64,
    /// Ids this merchant was registered under (told in verified
    /// handshakes), accepted in payment authorisations beside its own.
    registered_ids: RegisteredIds,
}

impl Responder {
    pub fn new(config: ResponderConfig, products: Vec<FeedProduct>) -> Arc<Responder> {
        Arc::new(Responder {
            config,
            products,
            conversations: Mutex::new(HashMap::new()),
            charges: Mutex::new(Vec::new()),
            order_counter: AtomicU64::new(0),
            order_prefix: signature::random_token(3).to_uppercase(),
            clock: AtomicU64::new(0),
            registered_ids: RegisteredIds::default(),
        })
    }

    /// Takes `id` as one this merchant is registered under, from a verified
    /// handshake. True when it is new. At most 16 ids of at most 64
    /// characters are kept.
    pub fn adopt_id(&self, id: &str) -> bool {
        self.registered_ids.adopt(&self.config.profile.id, id)
    }

    /// Whether a payment authorisation naming `merchant_id` is for this
    /// merchant: its own id, or one it was registered under.
    fn is_me(&self, merchant_id: &str) -> bool {
        self.registered_ids
            .names(&self.config.profile.id, merchant_id)
    }

    pub fn config(&self) -> &ResponderConfig {
        &self.config
    }

    /// Every payment accepted so far.
    pub fn charges(&self) -> Vec<Charge> {
        lock(&self.charges).clone()
    }

    /// Handles one verified webhook event and returns the replies, as Send
    /// API requests addressed to each sender.
    pub fn handle_event(&self, event: &WebhookEvent) -> Vec<SendRequest> {
        let mut replies = Vec::new();
        for messaging in event.entry.iter().flat_map(|entry| &entry.messaging) {
            let psid = messaging.sender.id.clone();
            let messages = self.handle_messaging(&psid, messaging);
            replies.extend(messages.into_iter().map(|message| SendRequest {
                recipient: Id { id: psid.clone() },
                messaging_type: "RESPONSE".into(),
                message,
            }));
        }
        replies
    }

    fn handle_messaging(&self, psid: &str, messaging: &Messaging) -> Vec<OutgoingMessage> {
        let mut conversations = lock(&self.conversations);
        let now = self.clock.fetch_add(1, Ordering::Relaxed);
        if !conversations.contains_key(psid) && conversations.len() >= self.config.max_conversations
        {
            if let Some(oldest) = conversations
                .iter()
                .min_by_key(|(_, c)| c.last_active)
                .map(|(k, _)| k.clone())
            {
                conversations.remove(&oldest);
            }
        }
        let conversation = conversations.entry(psid.to_string()).or_default();
        conversation.last_active = now;
        if let Some(postback) = &messaging.postback {
            return self.on_postback(conversation, postback);
        }
        let Some(message) = &messaging.message else {
            return Vec::new();
        };
        let text: String = message
            .text
            .clone()
            .unwrap_or_default()
            .chars()
            .take(MAX_TEXT_CHARS)
            .collect();
        let quick_reply = message.quick_reply.as_ref().map(|q| q.payload.as_str());
        self.on_text(conversation, text.trim(), quick_reply)
    }

    fn on_text(
        &self,
        conversation: &mut Conversation,
        text: &str,
        quick_reply: Option<&str>,
    ) -> Vec<OutgoingMessage> {
        let wording = &self.config.wording;
        let lower = text.to_lowercase();
        if is_decline(&lower) {
            conversation.closed = true;
            return vec![text_message(&wording.declined)];
        }
        if let Some(invoice) = &conversation.invoice {
            if let Some(asked) = counter_offer_amount(text) {
                return self.on_counter_offer(conversation, asked);
            }
            return vec![text_message(&fill(
                &wording.awaiting_payment,
                &[("order", &invoice.order_number)],
            ))];
        }
        let Some(product_index) = conversation.product else {
            if let Some(replies) = self.on_list(conversation, text) {
                return replies;
            }
            // First message: a product code or name, maybe with a quantity.
            let (quantity, rest) = split_quantity(text);
            let Some((product_index, variant)) = self.find_product(rest) else {
                return vec![text_message(&wording.not_found)];
            };
            conversation.product = Some(product_index);
            conversation.quantity = quantity;
            if let Some(variant) = variant {
                conversation.chosen = variant
                    .variant_options
                    .iter()
                    .map(|o| (o.name.clone(), o.value.clone()))
                    .collect();
            }
            let product = &self.products[product_index];
            let mut replies = vec![text_message(&fill(
                &wording.greeting,
                &[("product", &product.title)],
            ))];
            replies.extend(self.next_step(conversation));
            return merge_first_two(replies);
        };
        let product = &self.products[product_index];
        let Some(option) = conversation.pending_option.clone() else {
            return self.next_step(conversation);
        };
        let offered = self.in_stock_values(product, &conversation.chosen, &option);
        let picked = quick_reply
            .and_then(|payload| payload.strip_prefix("OPT:"))
            .and_then(|rest| {
                offered
                    .iter()
                    .find(|value| option_payload(&option, value) == format!("OPT:{rest}"))
            })
            .or_else(|| match_option_value(text, &offered));
        match picked {
            Some(value) => {
                let value = value.clone();
                conversation.chosen.push((option.clone(), value.clone()));
                conversation.pending_option = None;
                let mut replies = vec![text_message(&fill(
                    &wording.got_it,
                    &[("value", &describe_value(&option, &value))],
                ))];
                replies.extend(self.next_step(conversation));
                merge_first_two(replies)
            }
            None => {
                let options = human_list(&offered);
                let mut message = text_message(&fill(
                    &wording.unknown_option,
                    &[("options", &options), ("option", &option.to_lowercase())],
                ));
                message.quick_replies = Some(quick_replies(&option, &offered));
                vec![message]
            }
        }
    }

    /// A first message listing several items, one per line ("1. the Wool
    /// Socks (WS-1) in Gray, size M"): one order for all of them. `None`
    /// when the text is not such a list. Each item's options are read from
    /// its line; one left open is asked about, and the list is not taken.
    fn on_list(&self, conversation: &mut Conversation, text: &str) -> Option<Vec<OutgoingMessage>> {
        let wording = &self.config.wording;
        let items: Vec<(u32, usize, Option<&FeedVariant>, &str)> = text
            .lines()
            .map(|line| {
                line.trim()
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .trim_start_matches(['.', ')', '-', '*', '•'])
                    .trim()
            })
            .filter(|line| !line.is_empty())
            .filter_map(|line| {
                let (quantity, rest) = split_quantity(line);
                let (product, variant) = self.find_product(rest)?;
                Some((quantity, product, variant, rest))
            })
            .collect();
        if items.len() < 2 {
            return None;
        }
        let mut cart = Vec::new();
        for (quantity, product_index, variant, line) in items {
            let product = &self.products[product_index];
            let mut chosen: Vec<(String, String)> = variant
                .map(|v| {
                    v.variant_options
                        .iter()
                        .map(|o| (o.name.clone(), o.value.clone()))
                        .collect()
                })
                .unwrap_or_default();
            // The line without the product's name and code, so a colour in
            // the name ("Gray Hoodie") is not taken for the one asked.
            let mut said = line.to_lowercase();
            for known in [product.title.to_lowercase(), product.id.to_lowercase()] {
                said = said.replace(&known, " ");
            }
            for option in product.option_names() {
                if chosen
                    .iter()
                    .any(|(name, _)| canonical_option_name(name) == canonical_option_name(&option))
                {
                    continue;
                }
                let offered = self.in_stock_values(product, &chosen, &option);
                let stated = offered
                    .iter()
                    .filter(|value| offered.len() == 1 || states_value(&said, value))
                    .max_by_key(|value| value.len());
                match stated {
                    Some(value) => chosen.push((option.clone(), value.clone())),
                    None if offered.is_empty() => {
                        conversation.closed = true;
                        return Some(vec![text_message(&fill(
                            &wording.out_of_stock,
                            &[("product", &product.title)],
                        ))]);
                    }
                    None => {
                        conversation.closed = true;
                        return Some(vec![text_message(&fill(
                            &wording.list_option_missing,
                            &[
                                ("option", &option.to_lowercase()),
                                ("product", &product.title),
                            ],
                        ))]);
                    }
                }
            }
            if !self
                .variant_for(product, &chosen)
                .is_some_and(|v| v.availability.available)
            {
                conversation.closed = true;
                return Some(vec![text_message(&fill(
                    &wording.out_of_stock,
                    &[("product", &product.title)],
                ))]);
            }
            cart.push(CartLine {
                product: product_index,
                chosen,
                quantity,
            });
        }
        conversation.product = cart.first().map(|line| line.product);
        conversation.cart = cart;
        let titles = conversation
            .cart
            .iter()
            .map(|line| self.products[line.product].title.as_str())
            .collect::<Vec<_>>()
            .join(" and ");
        let mut replies = vec![text_message(&fill(
            &wording.greeting,
            &[("product", &titles)],
        ))];
        replies.extend(self.invoice(conversation)?);
        Some(replies)
    }

    /// Asks for the next open option, or sends the invoice when all are set.
    fn next_step(&self, conversation: &mut Conversation) -> Vec<OutgoingMessage> {
        let wording = &self.config.wording;
        let Some(product_index) = conversation.product else {
            return Vec::new();
        };
        let product = &self.products[product_index];
        for option in product.option_names() {
            if conversation
                .chosen
                .iter()
                .any(|(name, _)| canonical_option_name(name) == canonical_option_name(&option))
            {
                continue;
            }
            let offered = self.in_stock_values(product, &conversation.chosen, &option);
            match offered.len() {
                0 => {
                    conversation.closed = true;
                    return vec![text_message(&fill(
                        &wording.out_of_stock,
                        &[("product", &product.title)],
                    ))];
                }
                1 => conversation
                    .chosen
                    .push((option.clone(), offered[0].clone())),
                _ => {
                    conversation.pending_option = Some(option.clone());
                    let mut message = text_message(&fill(
                        &wording.ask_option,
                        &[("option", &option.to_lowercase())],
                    ));
                    message.quick_replies = Some(quick_replies(&option, &offered));
                    return vec![message];
                }
            }
        }
        let Some(variant) = self.variant_for(product, &conversation.chosen) else {
            conversation.closed = true;
            return vec![text_message(&fill(
                &wording.out_of_stock,
                &[("product", &product.title)],
            ))];
        };
        if !variant.availability.available {
            conversation.closed = true;
            return vec![text_message(&fill(
                &wording.out_of_stock,
                &[("product", &product.title)],
            ))];
        }
        let out_of_stock = fill(&wording.out_of_stock, &[("product", &product.title)]);
        self.invoice(conversation)
            .unwrap_or_else(|| vec![text_message(&out_of_stock)])
    }

    /// The invoice for the conversation's order: a receipt with one line
    /// per item and a button template with Pay. `None` when an item's
    /// variant is no longer found.
    fn invoice(&self, conversation: &mut Conversation) -> Option<Vec<OutgoingMessage>> {
        let lines: Vec<(&FeedProduct, &FeedVariant, u32)> = if conversation.cart.is_empty() {
            let product = self.products.get(conversation.product?)?;
            let variant = self.variant_for(product, &conversation.chosen)?;
            vec![(product, variant, conversation.quantity.max(1))]
        } else {
            conversation
                .cart
                .iter()
                .map(|line| {
                    let product = self.products.get(line.product)?;
                    let variant = self.variant_for(product, &line.chosen)?;
                    Some((product, variant, line.quantity.max(1)))
                })
                .collect::<Option<_>>()?
        };
        let profile = &self.config.profile;
        let subtotal = lines.iter().fold(0i64, |sum, (_, variant, quantity)| {
            sum.saturating_add(variant.price.amount.saturating_mul(i64::from(*quantity)))
        });
        let shipping = if profile.free_shipping_over > 0 && subtotal >= profile.free_shipping_over {
            0
        } else {
            profile.shipping
        };
        // Tax rounds half up to the cent, in integer arithmetic.
        let tax = (subtotal * profile.tax_basis_points + 5_000) / 10_000;
        let discount = conversation.discount;
        let total = subtotal + shipping + tax - discount;
        let number = self.order_counter.fetch_add(1, Ordering::Relaxed) + 1;
        let order_number = format!(
            "{}-{}-{number:04}",
            profile.id.to_uppercase(),
            self.order_prefix
        );
        let currency = lines[0].1.price.currency.clone();
        let elements = lines
            .iter()
            .map(|(product, variant, quantity)| ReceiptElement {
                title: product.title.clone(),
                subtitle: Some(
                    variant
                        .variant_options
                        .iter()
                        .filter(|o| canonical_option_name(&o.name) != "material")
                        .map(|o| o.value.clone())
                        .collect::<Vec<_>>()
                        .join(" / "),
                ),
                quantity: Some(*quantity),
                price: minor_to_decimal_f64(variant.price.amount),
                currency: Some(currency.clone()),
            })
            .collect();
        let titles = lines
            .iter()
            .map(|(product, _, _)| product.title.as_str())
            .collect::<Vec<_>>()
            .join(" and ");
        let receipt = ReceiptTemplate {
            recipient_name: "Concierge shopper".into(),
            merchant_name: Some(profile.name.clone()),
            order_number: order_number.clone(),
            currency: currency.clone(),
            payment_method: "Concierge one-time authorisation".into(),
            elements,
            summary: ReceiptSummary {
                subtotal: Some(minor_to_decimal_f64(subtotal)),
                shipping_cost: Some(minor_to_decimal_f64(shipping)),
                total_tax: Some(minor_to_decimal_f64(tax)),
                total_cost: minor_to_decimal_f64(total),
            },
            adjustments: if discount > 0 {
                vec![Adjustment {
                    name: "Discount".into(),
                    amount: minor_to_decimal_f64(discount),
                }]
            } else {
                Vec::new()
            },
        };
        conversation.invoice = Some(IssuedInvoice {
            order_number: order_number.clone(),
            total,
            paid: false,
            cancelled: false,
        });
        let wording = &self.config.wording;
        let total_text = Money::new(total, currency).to_string();
        Some(vec![
            OutgoingMessage {
                attachment: Some(Attachment::template(&Template::Receipt(receipt))),
                ..Default::default()
            },
            OutgoingMessage {
                attachment: Some(Attachment::template(&Template::Button {
                    text: fill(
                        &wording.invoice,
                        &[
                            ("product", &titles),
                            ("total", &total_text),
                            ("order", &order_number),
                        ],
                    ),
                    buttons: vec![
                        Button::postback(&wording.pay_button, &format!("PAY:{order_number}")),
                        Button::postback(&wording.cancel_button, &format!("CANCEL:{order_number}")),
                    ],
                })),
                ..Default::default()
            },
        ])
    }

    fn on_postback(
        &self,
        conversation: &mut Conversation,
        postback: &Postback,
    ) -> Vec<OutgoingMessage> {
        let wording = &self.config.wording;
        if let Some(order_number) = postback.payload.strip_prefix("CANCEL:") {
            return match &mut conversation.invoice {
                Some(invoice) if invoice.order_number == order_number && !invoice.cancelled => {
                    invoice.cancelled = true;
                    conversation.closed = true;
                    if invoice.paid {
                        for charge in lock(&self.charges)
                            .iter_mut()
                            .filter(|c| c.order_number == order_number)
                        {
                            charge.refunded = true;
                        }
                        return vec![text_message(&fill(
                            &wording.refunded,
                            &[("order", order_number)],
                        ))];
                    }
                    vec![text_message(&fill(
                        &wording.cancelled,
                        &[("order", order_number)],
                    ))]
                }
                _ => vec![text_message(&fill(
                    &wording.payment_declined,
                    &[("value", "no such open order")],
                ))],
            };
        }
        let Some(order_number) = postback.payload.strip_prefix("PAY:") else {
            return vec![text_message("Sorry, I did not understand that button.")];
        };
        let Some(invoice) = conversation
            .invoice
            .as_mut()
            .filter(|i| i.order_number == order_number)
        else {
            return vec![text_message(&fill(
                &wording.payment_declined,
                &[("value", "no such order in this conversation")],
            ))];
        };
        if invoice.paid {
            return vec![text_message(&fill(
                &wording.already_paid,
                &[("order", order_number)],
            ))];
        }
        if invoice.cancelled {
            return vec![text_message(&fill(
                &wording.payment_declined,
                &[("value", "the order was cancelled")],
            ))];
        }
        let currency = self
            .products
            .get(conversation.product.unwrap_or(usize::MAX))
            .and_then(|p| p.variants.first())
            .map(|v| v.price.currency.clone())
            .unwrap_or_default();
        let Some(payment) = &postback.payment else {
            return vec![text_message(&fill(
                &wording.payment_declined,
                &[("value", "no payment authorisation")],
            ))];
        };
        if let Some(problem) = check_authorization(
            payment,
            |merchant_id| self.is_me(merchant_id),
            order_number,
            invoice.total,
            &currency,
        ) {
            return vec![text_message(&fill(
                &wording.payment_declined,
                &[("value", &problem)],
            ))];
        }
        invoice.paid = true;
        lock(&self.charges).push(Charge {
            order_number: order_number.to_string(),
            amount: Money::new(invoice.total, currency),
            token: payment.token.clone(),
            idempotency_key: payment.idempotency_key.clone(),
            refunded: false,
        });
        vec![text_message(&fill(
            &wording.paid,
            &[("order", order_number)],
        ))]
    }

    /// "Could you do $45?": accepted when the discount it needs is within
    /// the merchant's limit, with a new invoice; refused otherwise.
    fn on_counter_offer(
        &self,
        conversation: &mut Conversation,
        asked: i64,
    ) -> Vec<OutgoingMessage> {
        let wording = &self.config.wording;
        let Some(invoice) = conversation.invoice.clone() else {
            return Vec::new();
        };
        let currency = self.config.profile.currency.clone();
        let total_text = Money::new(invoice.total, currency.clone()).to_string();
        if invoice.paid || invoice.cancelled {
            return vec![text_message(&fill(
                &wording.awaiting_payment,
                &[("order", &invoice.order_number)],
            ))];
        }
        let gross = invoice.total + conversation.discount;
        let needed = gross - asked;
        let allowed = gross * self.config.max_discount_bp / 10_000;
        if asked >= invoice.total || needed > allowed || asked <= 0 {
            return vec![text_message(&fill(
                &wording.counter_refused,
                &[("total", &total_text)],
            ))];
        }
        let granted = conversation.discount;
        conversation.discount = needed;
        let Some(invoice) = self.invoice(conversation) else {
            conversation.discount = granted;
            return Vec::new();
        };
        let new_total = Money::new(asked, currency).to_string();
        let mut replies = vec![text_message(&fill(
            &wording.counter_accepted,
            &[("total", &new_total)],
        ))];
        replies.extend(invoice);
        replies
    }

    /// A product by code (product or variant id, case-insensitive, anywhere
    /// in the text: "2 x NK-1001", "the Classic Sweater (NK-1001)"), else by
    /// name: the title closest to the whole text, or the longest title all
    /// of whose words the text contains.
    fn find_product(&self, text: &str) -> Option<(usize, Option<&FeedVariant>)> {
        let wanted = text.trim().to_lowercase();
        if wanted.is_empty() {
            return None;
        }
        let tokens = wanted
            .split(|c: char| {
                c.is_whitespace()
                    || matches!(c, ',' | ':' | ';' | '(' | ')' | '[' | ']' | '"' | '!' | '?')
            })
            .map(|token| token.trim_matches(|c: char| matches!(c, '.' | '\'' | '#')))
            .filter(|token| !token.is_empty());
        for token in tokens {
            for (index, product) in self.products.iter().enumerate() {
                if product.id.eq_ignore_ascii_case(token) {
                    return Some((index, None));
                }
                if let Some(variant) = product
                    .variants
                    .iter()
                    .find(|v| v.id.eq_ignore_ascii_case(token))
                {
                    return Some((index, Some(variant)));
                }
            }
        }
        // By name: the closest title, if close enough.
        let closest = self
            .products
            .iter()
            .enumerate()
            .map(|(index, product)| {
                (
                    index,
                    strsim::normalized_levenshtein(&product.title.to_lowercase(), &wanted),
                )
            })
            .filter(|(_, similarity)| *similarity >= 0.8)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(index, _)| (index, None));
        if closest.is_some() {
            return closest;
        }
        let words: Vec<&str> = wanted
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        self.products
            .iter()
            .enumerate()
            .filter(|(_, product)| {
                let title = product.title.to_lowercase();
                let mut title_words = title
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .peekable();
                title_words.peek().is_some() && title_words.all(|w| words.contains(&w))
            })
            .max_by_key(|(_, product)| product.title.len())
            .map(|(index, _)| (index, None))
    }

    /// Values of `option` that some in-stock variant has, given the choices
    /// so far, in catalog order.
    fn in_stock_values(
        &self,
        product: &FeedProduct,
        chosen: &[(String, String)],
        option: &str,
    ) -> Vec<String> {
        let mut values: Vec<String> = Vec::new();
        for variant in product.variants.iter().filter(|v| v.availability.available) {
            let consistent = chosen.iter().all(|(name, value)| {
                variant
                    .option(name)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
            });
            if !consistent {
                continue;
            }
            if let Some(value) = variant.option(option) {
                if !values.iter().any(|v| v == value) {
                    values.push(value.to_string());
                }
            }
        }
        values
    }

    fn variant_for<'p>(
        &self,
        product: &'p FeedProduct,
        chosen: &[(String, String)],
    ) -> Option<&'p FeedVariant> {
        product.variants.iter().find(|variant| {
            chosen.iter().all(|(name, value)| {
                variant
                    .option(name)
                    .is_some_and(|v| v.eq_ignore_ascii_case(value))
            })
        })
    }
}

/// Whether `said` (lower case) names `value` as a whole word or phrase:
/// "size m" names "M"; "medium" and "men's" do not name "M" or "S".
fn states_value(said: &str, value: &str) -> bool {
    let value = value.to_lowercase();
    said.match_indices(&value).any(|(start, _)| {
        let before = said[..start].chars().next_back();
        let after = said[start + value.len()..].chars().next();
        let joins = |c: char| c.is_alphanumeric() || c == '\'';
        !before.is_some_and(joins) && !after.is_some_and(joins)
    })
}

fn check_authorization(
    payment: &PaymentAuthorization,
    is_me: impl Fn(&str) -> bool,
    order_number: &str,
    total: i64,
    currency: &str,
) -> Option<String> {
    let allowance = &payment.allowance;
    let now = now_millis() / 1000;
    if allowance.reason != "one_time" {
        Some(format!(
            "allowance reason {:?} is not one_time",
            allowance.reason
        ))
    } else if !is_me(&allowance.merchant_id) {
        Some("the authorisation is for another merchant".into())
    } else if allowance.checkout_session_id != order_number {
        Some("the authorisation is for another order".into())
    } else if allowance.currency != currency {
        Some(format!(
            "the authorisation is in {}, the invoice in {currency}",
            allowance.currency
        ))
    } else if allowance.max_amount < total {
        Some("the authorised amount is below the invoice total".into())
    } else if allowance.expires_at <= now {
        Some("the authorisation has expired".into())
    } else if payment.token.is_empty() {
        Some("the payment token is empty".into())
    } else {
        None
    }
}

/// The amount in "could you do $45?" / "can you do 45.50 in total", in
/// minor units.
fn counter_offer_amount(text: &str) -> Option<i64> {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        regex::Regex::new(r"(?i)\b(?:could|can|would) you do\s*[$€£]?\s*(\d+(?:\.\d{1,2})?)")
            .expect("static pattern")
    });
    let captures = pattern.captures(text)?;
    crate::money::parse_decimal_minor(captures.get(1)?.as_str())
}

fn is_decline(lower: &str) -> bool {
    let trimmed = lower.trim_end_matches(['.', '!']);
    trimmed.starts_with("no thanks")
        || trimmed.starts_with("no, thanks")
        || trimmed.starts_with("no thank you")
        || trimmed == "no"
}

/// "2 x NK-1001" → (2, "NK-1001"); "I'd like to order 2 x the Sweater" →
/// (2, the text); anything else → (1, text).
fn split_quantity(text: &str) -> (u32, &str) {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        regex::Regex::new(r"(?i)(?:^|\s)(\d{1,3})\s?[x×]\s").expect("static pattern")
    });
    let trimmed = text.trim();
    let Some(caps) = pattern.captures(trimmed) else {
        return (1, trimmed);
    };
    let quantity = caps
        .get(1)
        .and_then(|m| m.as_str().parse::<u32>().ok())
        .filter(|q| *q > 0);
    match (quantity, caps.get(0)) {
        (Some(quantity), Some(whole)) if whole.start() == 0 => {
            (quantity, trimmed[whole.end()..].trim_start())
        }
        (Some(quantity), _) => (quantity, trimmed),
        _ => (1, trimmed),
    }
}

/// Picks an offered value for free text: exact (case-insensitive), a common
/// size word, a unique prefix, else a close spelling.
fn match_option_value<'v>(text: &str, offered: &'v [String]) -> Option<&'v String> {
    let wanted = text.trim().to_lowercase();
    if wanted.is_empty() {
        return None;
    }
    let size_word = match wanted.as_str() {
        "extra small" => "xs",
        "small" => "s",
        "medium" => "m",
        "large" => "l",
        "extra large" => "xl",
        other => other,
    };
    if let Some(exact) = offered
        .iter()
        .find(|v| v.to_lowercase() == wanted || v.to_lowercase() == size_word)
    {
        return Some(exact);
    }
    let prefixed: Vec<&String> = offered
        .iter()
        .filter(|v| v.to_lowercase().starts_with(&wanted))
        .collect();
    if prefixed.len() == 1 {
        return Some(prefixed[0]);
    }
    offered
        .iter()
        .map(|v| (v, strsim::jaro_winkler(&v.to_lowercase(), &wanted)))
        .filter(|(_, similarity)| *similarity >= 0.92)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(v, _)| v)
}

fn describe_value(option: &str, value: &str) -> String {
    if canonical_option_name(option) == "size" {
        match value {
            "XS" => "extra small".into(),
            "S" => "small".into(),
            "M" => "medium".into(),
            "L" => "large".into(),
            "XL" => "extra large".into(),
            other => format!("size {other}"),
        }
    } else {
        value.to_lowercase()
    }
}

fn option_payload(option: &str, value: &str) -> String {
    format!(
        "OPT:{}:{}",
        canonical_option_name(option).to_uppercase(),
        value.to_uppercase().replace(' ', "_")
    )
}

fn quick_replies(option: &str, values: &[String]) -> Vec<QuickReply> {
    values
        .iter()
        .take(MAX_QUICK_REPLIES)
        .map(|value| QuickReply {
            content_type: "text".into(),
            title: value.clone(),
            payload: option_payload(option, value),
        })
        .collect()
}

fn human_list(values: &[String]) -> String {
    match values {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

pub fn text_message(text: &str) -> OutgoingMessage {
    OutgoingMessage {
        text: Some(text.to_string()),
        ..Default::default()
    }
}

/// "Got it, medium." and "What color?" read better as one message, as in a
/// real chat; templates stay separate.
fn merge_first_two(mut replies: Vec<OutgoingMessage>) -> Vec<OutgoingMessage> {
    if replies.len() >= 2
        && replies[0].attachment.is_none()
        && replies[1].attachment.is_none()
        && replies[0].quick_replies.is_none()
    {
        let second = replies.remove(1);
        let first = &mut replies[0];
        first.text = Some(format!(
            "{} {}",
            first.text.clone().unwrap_or_default(),
            second.text.unwrap_or_default()
        ));
        first.quick_replies = second.quick_replies;
    }
    replies
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated in
    // a way that matters more than stopping service would, so recover.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::states_value;

    #[test]
    fn an_option_value_is_stated_only_as_a_whole_word() {
        // (what the line says, lower case; the value; stated?)
        let cases = [
            ("in gray, size m.", "M", true),
            ("in gray, size medium", "M", false),
            ("men's socks in black, size l", "S", false),
            ("in heather grey, size xl", "Heather Grey", true),
            ("in heather grey, size xl", "L", false),
            ("2 x in navy/s", "S", true),
        ];
        for (said, value, stated) in cases {
            assert_eq!(states_value(said, value), stated, "{said:?} / {value}");
        }
    }
}
