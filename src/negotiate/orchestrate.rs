//! The whole job for one request, as named stages: parse; **select** the
//! merchants worth asking (search, one offer per merchant); **negotiate**
//! with all of them at once; **check** every invoice; make the one
//! counter-offer the policy allows; **choose** the best valid invoice;
//! **settle** (pay it once, decline the rest); **record** everything.

use super::outcome::Outcome;
use super::policy::OpenChoice;
use crate::catalog::{CatalogIndex, Offer, SearchQuery};
use crate::config::Config;
use crate::intent::{Fired, Intent, IntentKind, ItemRequest, Parser};
use crate::merchant::messenger::signature::random_token;
use crate::merchant::messenger::transport::Transport;
use crate::merchant::messenger::wire::now_millis;
use crate::merchant::protocol::{
    CancelReply, CatalogQuery, MerchantEndpoint, Negotiation, Opening, Protocols, SessionState,
    ShopperChoices, Speaker, TranscriptLine, Wanted,
};
pub use crate::merchant::protocol::{ChoiceQuestion, ChooseOption};
use crate::money::Money;
use crate::order::checks::CheckName;
use crate::order::{check_invoice, Check, Expectation, Invoice, Mandate, OrderRecord, Store};
use crate::rules::CompiledRules;
use crate::store::{MessageRecord, OrderStatus};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio::time::Instant;

mod basket;
mod settle;
pub use settle::Reconciliation;

/// An offer counts as a close match for its merchant when its score is at
/// least this fraction of the merchant's best; among close matches the
/// cheapest is negotiated.
const RELEVANCE_BAND: f32 = 0.9;

/// Everything needed to shop.
pub struct Shop {
    pub rules: Arc<CompiledRules>,
    pub parser: Parser,
    /// The indexes searched: the catalog of record, and the demo world's
    /// when it is served too. Offers from all are ranked together.
    pub catalogs: Vec<Arc<CatalogIndex>>,
    /// Merchants this process serves itself (the demo world's reference
    /// responders); always shopped with.
    pub merchants: Vec<MerchantEndpoint>,
    /// Whether the merchants registered in the store are shopped with too.
    /// They are read at the start of each request, so a registration made
    /// by another process counts at once.
    pub registered_merchants: bool,
    pub store: Arc<Store>,
    /// The Messenger transport, whose Send API mailboxes a server delivers
    /// into.
    pub transport: Transport,
    /// Every protocol this process speaks with merchants.
    pub protocols: Protocols,
    pub config: Config,
}

/// Most merchants whose own catalog is searched at one request.
const MAX_LIVE_CATALOGS: usize = 32;
/// Products asked of each.
const LIVE_CATALOG_PRODUCTS: usize = 20;

/// Asks the shopper to confirm a payment; true means pay.
pub type ConfirmPayment = Arc<dyn Fn(&Choice) -> bool + Send + Sync>;

/// Per-request choices.
#[derive(Clone, Default)]
pub struct ShopOptions {
    /// Overrides the budget parsed from the request (minor units).
    pub max_total: Option<i64>,
    /// Pay the chosen invoice when the mandate allows; otherwise stop at the
    /// choice.
    pub pay: bool,
    /// When set, asked before paying; a `false` answer stops at the choice.
    pub confirm: Option<ConfirmPayment>,
    /// When set, open choices (a size the request did not give) are put to
    /// the shopper through it.
    pub choose: Option<ChooseOption>,
    /// A running budget across every order of the request (a basket), in
    /// minor units, on top of the per-order `max_total`.
    pub budget: Option<i64>,
    /// The mandate's merchants: only these may be paid (and searched).
    pub allowed_merchants: Option<Vec<String>>,
    /// The mandate requires the shopper's confirmation before paying.
    pub require_confirmation: bool,
    /// How long the mandate is valid, in seconds (default 15 minutes).
    pub valid_for_secs: Option<i64>,
    /// The mandate's currency (ISO 4217); `None`: the request's, else USD.
    /// An invoice in another currency is refused.
    pub currency: Option<String>,
    /// The request is an order: a bare product phrase ("gray turtleneck,
    /// medium, under $50") or a search to get the product ("i'm looking
    /// for ...", "find me ...") is bought rather than shown. Browsing and
    /// questions ("show me ...", "do you have ...") still only search. `ask
    /// --auto-pay` sets it: the shopper has asked for a purchase and
    /// authorised paying for it.
    pub request_is_order: bool,
    /// The shopper the request is made for (their API key's subject): their
    /// orders are the only ones it can ask about or cancel, and what it
    /// buys is theirs. `None`: the operator or the command line, who see
    /// every order.
    pub shopper: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub offer: Offer,
    pub merchant_name: String,
    pub contacted: bool,
    /// Why it was or was not contacted.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationReport {
    pub merchant_id: String,
    pub merchant_name: String,
    /// Where the merchant was verified (host and port of its endpoint).
    #[serde(default)]
    pub merchant_host: String,
    pub offer: Offer,
    pub transcript: Vec<TranscriptLine>,
    pub state: SessionState,
    /// Why the conversation ended without an accepted invoice.
    pub failure: Option<String>,
    pub invoice: Option<Invoice>,
    pub checks: Vec<Check>,
    pub accepted: bool,
}

impl ConversationReport {
    /// The first failed check, as a reason.
    pub fn rejection(&self) -> Option<String> {
        self.checks
            .iter()
            .find(|c| !c.passed)
            .map(|c| format!("{}: {}", c.name, c.detail))
    }
}

/// Wall time of each stage, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Parsing and searching.
    pub search_us: u64,
    /// From the first message to every merchant until every invoice is in
    /// and checked (or the deadline).
    pub negotiation_us: u64,
    /// Paying the chosen invoice and declining the others.
    pub settlement_us: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub merchant_id: String,
    pub merchant_name: String,
    #[serde(default)]
    pub merchant_host: String,
    pub order_number: String,
    pub total: Money,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    pub order_id: i64,
    pub merchant_name: String,
    #[serde(default)]
    pub merchant_host: String,
    pub order_number: String,
    /// The item bought; for an order of several items, their names joined
    /// with " + " (each is in `lines`).
    pub product_title: String,
    pub variant: String,
    /// Items in the order, all lines together.
    pub quantity: u32,
    /// Of the first line.
    pub unit_price: Money,
    /// Every line of the order, in the merchant's invoice order.
    #[serde(default)]
    pub lines: Vec<ReceiptLine>,
    pub subtotal: Money,
    pub shipping: Money,
    pub tax: Money,
    pub total: Money,
    pub payment_status: String,
    pub merchant_confirmation: String,
}

/// One line of a receipt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub product_title: String,
    pub variant: String,
    pub quantity: u32,
    pub unit_price: Money,
}

/// What happened, in the order the shopper reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShopReport {
    pub request: String,
    pub intent: Intent,
    pub run_id: Option<i64>,
    /// How the request ended (also the exit code of `concierge ask`).
    pub outcome: Outcome,
    pub mandate: Mandate,
    pub candidates: Vec<Candidate>,
    /// Groups of candidate indexes that are the same product.
    pub same_product_groups: Vec<Vec<usize>>,
    pub conversations: Vec<ConversationReport>,
    pub choice: Option<Choice>,
    pub receipt: Option<Receipt>,
    /// What the shopper should know: why nothing was bought, and so on.
    pub notes: Vec<String>,
    /// Where the time went.
    #[serde(default)]
    pub timings: Timings,
    /// For a multi-item request: one report per item, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub basket: Vec<ShopReport>,
}

impl ShopReport {
    /// An empty report for `request`, to be filled as the job goes.
    fn new(request: &str, intent: Intent, run_id: i64, mandate: Mandate) -> ShopReport {
        ShopReport {
            request: request.to_string(),
            intent,
            run_id: Some(run_id),
            outcome: Outcome::NotUnderstood,
            mandate,
            candidates: Vec::new(),
            same_product_groups: Vec::new(),
            conversations: Vec::new(),
            choice: None,
            receipt: None,
            notes: Vec::new(),
            timings: Timings::default(),
            basket: Vec::new(),
        }
    }

    /// Ends the report with `outcome`, saying `note` to the shopper.
    fn end(&mut self, outcome: Outcome, note: impl Into<String>) -> Outcome {
        self.notes.push(note.into());
        self.outcome = outcome;
        outcome
    }
}

/// The merchants one request may deal with, read once at its start.
pub struct MerchantDirectory {
    merchants: Vec<MerchantEndpoint>,
}

impl MerchantDirectory {
    pub fn get(&self, merchant_id: &str) -> Option<&MerchantEndpoint> {
        self.merchants.iter().find(|m| m.merchant_id == merchant_id)
    }

    pub fn name(&self, merchant_id: &str) -> String {
        self.get(merchant_id)
            .map(|m| m.name.clone())
            .unwrap_or_else(|| merchant_id.to_string())
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.merchants.iter().map(|m| m.merchant_id.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.merchants.is_empty()
    }
}

/// One conversation with one merchant, from first message to decision, in
/// the merchant's protocol.
struct Conversation {
    endpoint: MerchantEndpoint,
    /// The conversation's id (Messenger's page-scoped id: the shopper's id
    /// at this merchant); its payment's idempotency key is scoped by it.
    psid: String,
    negotiation: Box<dyn Negotiation>,
    report: ConversationReport,
}

impl Conversation {
    /// A conversation negotiated with `endpoint` about `offer`, not yet
    /// checked.
    fn new(
        endpoint: MerchantEndpoint,
        psid: String,
        offer: Offer,
        negotiation: Box<dyn Negotiation>,
    ) -> Self {
        let report = ConversationReport {
            merchant_id: endpoint.merchant_id.clone(),
            merchant_name: endpoint.name.clone(),
            merchant_host: endpoint.host(),
            offer,
            transcript: Vec::new(),
            state: negotiation.state(),
            failure: negotiation.failure().map(str::to_string),
            invoice: negotiation.invoice().cloned(),
            checks: Vec::new(),
            accepted: false,
        };
        Conversation {
            endpoint,
            psid,
            negotiation,
            report,
        }
    }

    /// Opens a conversation with `endpoint` in its protocol; one this
    /// process does not speak fails at once, with the reason.
    fn open(
        protocols: &Protocols,
        endpoint: &MerchantEndpoint,
        opening: Opening,
    ) -> Box<dyn Negotiation> {
        match protocols.for_endpoint(endpoint) {
            Ok(protocol) => protocol.open(endpoint, opening),
            Err(error) => crate::merchant::protocol::unspoken(error.to_string()),
        }
    }

    /// Records the checks on `invoice`: it is accepted when every check
    /// passed and the merchant offered a way to agree to it.
    fn judge(&mut self, invoice: Invoice, checks: Vec<Check>) {
        let report = &mut self.report;
        report.checks = checks;
        report.accepted = report.checks.iter().all(|c| c.passed);
        if report.accepted && !self.negotiation.can_agree() {
            report.accepted = false;
            let detail = self.negotiation.no_agreement_reason().unwrap_or_else(|| {
                "the merchant offered no way to agree (no Pay button, no yes asked for)".into()
            });
            report.checks.push(Check {
                name: CheckName::WayToAgree,
                passed: false,
                detail,
            });
        }
        report.invoice = Some(invoice);
        report.state = self.negotiation.state();
    }
}

/// What the select stage chose: the merchants to talk to, each with the
/// offer asked about.
struct Selection {
    contacts: Vec<(MerchantEndpoint, Offer)>,
    /// Each contacted merchant's next best match (another product), asked
    /// about when the first does not end in a valid invoice.
    backups: Vec<(MerchantEndpoint, Offer)>,
}

/// What an item's invoices are checked against, besides each conversation's
/// own offer.
struct ItemWants<'a> {
    /// The shopper's words, which may answer a merchant's question.
    request: &'a str,
    item: &'a ItemRequest,
    quantity: u32,
}

impl Shop {
    /// The merchants this request may deal with: the ones served here and,
    /// when enabled, every merchant registered in the store now.
    pub fn merchant_directory(&self) -> crate::Result<MerchantDirectory> {
        let mut merchants = self.merchants.clone();
        if self.registered_merchants {
            for record in self.store.merchants()? {
                if !merchants.iter().any(|m| m.merchant_id == record.id) {
                    merchants.push(record.endpoint());
                }
            }
        }
        Ok(MerchantDirectory { merchants })
    }

    /// Does the whole job for `request`. Errors only for internal failures
    /// (the store); everything a shopper or merchant does is in the report.
    pub async fn shop(&self, request: &str, options: &ShopOptions) -> crate::Result<ShopReport> {
        let mut intent = self.parser.parse(request);
        if options.request_is_order
            && (intent.is_bare_product_phrase() || intent.is_search_to_get())
        {
            intent.intent = IntentKind::Buy;
            intent.trace.push(Fired {
                rule: "request_is_order".into(),
                matched: request.to_string(),
            });
        }
        let currency = options
            .currency
            .clone()
            .or_else(|| intent.currency.clone())
            .unwrap_or_else(|| "USD".into());
        let max_total = options.max_total.or(intent.max_price);
        let mut mandate = Mandate::for_request(
            max_total,
            &currency,
            options.valid_for_secs.unwrap_or(15 * 60),
        );
        mandate.allowed_merchants = options.allowed_merchants.clone();
        mandate.budget = options.budget;
        mandate.require_confirmation = options.require_confirmation;
        let parsed_json = serde_json::to_string(&intent).unwrap_or_default();
        let shopper = options.shopper.as_deref().unwrap_or("");
        let run_id = self.store.start_run(request, &parsed_json, shopper)?;
        let merchants = self.merchant_directory()?;
        let mut report = ShopReport::new(request, intent.clone(), run_id, mandate);
        if intent.intent == IntentKind::Buy && intent.items.len() > 1 {
            self.shop_basket(&intent, &merchants, options, run_id, &mut report)
                .await
        } else {
            self.shop_item(&intent, &merchants, options, run_id, &mut report)
                .await
        };
        let summary = report.notes.last().cloned().unwrap_or_default();
        self.store
            .finish_run(run_id, &format!("{}: {summary}", report.outcome.name()))?;
        Ok(report)
    }

    /// A request for several items is one basket: ordered in one go from a
    /// merchant that sells them all as well as any other does
    /// ([`Shop::basket_in_one_order`]); otherwise each item is shopped in
    /// turn, possibly from different merchants, and every order must fit
    /// what is left of the one budget (the request's price bound, or
    /// `--max-total`, covers the whole basket).
    async fn shop_basket(
        &self,
        intent: &Intent,
        merchants: &MerchantDirectory,
        options: &ShopOptions,
        run_id: i64,
        report: &mut ShopReport,
    ) -> Outcome {
        if let Some(outcome) = self
            .basket_in_one_order(intent, merchants, options, run_id, report)
            .await
        {
            return outcome;
        }
        let budget = report.mandate.max_total;
        let mut spent = 0i64;
        let mut bought = 0usize;
        for item in &intent.items {
            let mut item_intent = intent.clone();
            item_intent.items = vec![item.clone()];
            let mut mandate = report.mandate.clone();
            mandate.max_total = budget.map(|b| (b - spent).max(0));
            mandate.spent += spent;
            let mut item_report =
                ShopReport::new(&report.request, item_intent.clone(), run_id, mandate);
            self.shop_item(&item_intent, merchants, options, run_id, &mut item_report)
                .await;
            if let Some(receipt) = &item_report.receipt {
                spent += receipt.total.minor;
                bought += 1;
            }
            report.basket.push(item_report);
        }
        let currency = report.mandate.currency.clone();
        let spent_text = Money::new(spent, currency.clone()).to_string();
        let summary = match budget {
            Some(budget) => format!(
                "Basket: {bought} of {} items bought, {spent_text} of the {} budget.",
                intent.items.len(),
                Money::new(budget, currency)
            ),
            None => format!(
                "Basket: {bought} of {} items bought, {spent_text}.",
                intent.items.len()
            ),
        };
        let outcome = if bought == intent.items.len() {
            Outcome::Bought
        } else if bought > 0 {
            Outcome::PartlyBought
        } else {
            // Nothing bought: the first item's reason stands for the basket.
            report
                .basket
                .first()
                .map(|item| item.outcome)
                .unwrap_or(Outcome::NothingFound)
        };
        report.end(outcome, summary)
    }

    /// One item, stage by stage.
    async fn shop_item(
        &self,
        intent: &Intent,
        merchants: &MerchantDirectory,
        options: &ShopOptions,
        run_id: i64,
        report: &mut ShopReport,
    ) -> Outcome {
        let started = Instant::now();
        match intent.intent {
            IntentKind::None => {
                return report.end(
                    Outcome::NotUnderstood,
                    format!(
                        "Sorry, I could not understand {:?} as a shopping request. Try something like \"buy me a gray turtleneck sweater in medium under $50\".",
                        intent.text
                    ),
                );
            }
            IntentKind::OrderStatus => return self.order_status(merchants, options, report).await,
            IntentKind::CancelOrder => {
                return self.cancel_order(intent, merchants, options, report).await
            }
            IntentKind::Buy | IntentKind::Search => {}
        }
        let Some(item) = intent
            .first_item()
            .filter(|i| i.product.is_some() || i.product_type.is_some())
        else {
            return report.end(
                Outcome::NothingFound,
                "Which product? The request names none I know.",
            );
        };
        let selection = match self.select(intent, item, merchants, report).await {
            Ok(selection) => selection,
            Err(outcome) => return outcome,
        };
        report.timings.search_us = started.elapsed().as_micros() as u64;

        let negotiation_started = Instant::now();
        let wants = ItemWants {
            request: &intent.text,
            item,
            quantity: item.quantity_or_one(),
        };
        let backups = selection.backups.clone();
        // One broker for every round: the shopper is asked a choice once.
        let broker = options
            .choose
            .clone()
            .map(|choose| Arc::new(ShopperChoices::new(choose)));
        let mut conversations = self
            .negotiate_all(selection, &wants, broker.clone(), run_id)
            .await;
        self.check_all(&mut conversations, &wants, &report.mandate);
        // A merchant whose first match did not fit (no such size, a check
        // failed) is asked about its second.
        let retry: Vec<(MerchantEndpoint, Offer)> = backups
            .into_iter()
            .filter(|(endpoint, _)| {
                conversations
                    .iter()
                    .any(|c| c.endpoint.merchant_id == endpoint.merchant_id && !c.report.accepted)
            })
            .collect();
        if !retry.is_empty() {
            let second = Selection {
                contacts: retry,
                backups: Vec::new(),
            };
            let mut more = self.negotiate_all(second, &wants, broker, run_id).await;
            self.check_all(&mut more, &wants, &report.mandate);
            conversations.extend(more);
        }
        // No invoice within budget: one counter-offer to the cheapest
        // merchant whose only fault is a total within the policy's margin.
        if !conversations.iter().any(|c| c.report.accepted) {
            if let Some(note) = self
                .counter_offer(&mut conversations, &wants, &report.mandate)
                .await
            {
                report.notes.push(note);
            }
        }
        report.timings.negotiation_us = negotiation_started.elapsed().as_micros() as u64;

        let settlement_started = Instant::now();
        let chosen = self.choose(&conversations, report);
        let outcome = self
            .settle(&mut conversations, chosen, options, run_id, report)
            .await;
        report.timings.settlement_us = settlement_started.elapsed().as_micros() as u64;
        self.record(conversations, run_id, report);
        report.outcome = outcome;
        outcome
    }

    /// Select: search the catalog and pick, per merchant, the one offer to
    /// ask about. Every offer found is listed with why it was or was not
    /// picked. Ends the request (`Err`) when there is no one to ask.
    async fn select(
        &self,
        intent: &Intent,
        item: &ItemRequest,
        merchants: &MerchantDirectory,
        report: &mut ShopReport,
    ) -> Result<Selection, Outcome> {
        let mut query = SearchQuery::for_item(intent, item).with_type_names(&self.rules);
        // Only merchants Concierge can talk to are worth finding, for a
        // purchase; a search shows every catalog.
        if intent.intent == IntentKind::Buy {
            query.merchants_allowed = Some(
                merchants
                    .ids()
                    .filter(|id| report.mandate.allows_merchant(id))
                    .map(str::to_string)
                    .collect(),
            );
        }
        // Enough offers that every merchant that may be contacted can appear.
        query.limit = query.limit.max(self.config.max_merchants * 3);
        let mut catalogs = self.catalogs.clone();
        if let Some(live) = self.live_catalogs(intent, &query, merchants, report).await {
            catalogs.push(Arc::new(live));
        }
        let mut results = match crate::catalog::search::search_all(&catalogs, &query) {
            Ok(results) => results,
            Err(error) => {
                return Err(report.end(Outcome::NothingFound, format!("Search failed: {error}")));
            }
        };
        // "For my son" in a shop that sells nothing for boys: a son can be
        // grown up, so men's (women's for a daughter) are what is left. The
        // report says so.
        let grown_up = match query.audience.as_deref() {
            Some("boys") => Some("men"),
            Some("girls") => Some("women"),
            _ => None,
        };
        if let (true, Some(grown_up)) = (results.offers.is_empty(), grown_up) {
            let mut adults = query.clone();
            adults.audience = Some(grown_up.to_string());
            if let Ok(found) = crate::catalog::search::search_all(&catalogs, &adults) {
                if !found.offers.is_empty() {
                    report.notes.push(format!(
                        "Nothing is sold for {}; {grown_up}'s products are offered instead.",
                        query.audience.as_deref().unwrap_or_default()
                    ));
                    results = found;
                }
            }
        }
        if results.offers.is_empty() {
            let note = if merchants.is_empty() && intent.intent == IntentKind::Buy {
                "No merchant is registered to buy from.".to_string()
            } else if intent.max_price.is_some() || intent.min_price.is_some() {
                "No merchant has that in stock within the price asked.".to_string()
            } else {
                "No merchant has that in stock.".to_string()
            };
            return Err(report.end(Outcome::NothingFound, note));
        }

        let picks = pick_per_merchant(
            &results.offers,
            merchants,
            self.config.max_merchants,
            &intent.text,
        );
        let mut contacts = Vec::new();
        for (index, offer) in results.offers.iter().enumerate() {
            let picked = picks.contains(&index);
            let (contacted, note) = if merchants.get(&offer.merchant_id).is_none() {
                (
                    false,
                    "merchant has no registered auto-responder".to_string(),
                )
            } else if !offer.matches_request() {
                (
                    false,
                    format!(
                        "no {} in stock",
                        wanted_label(item.color.as_deref(), item.size.as_deref())
                    ),
                )
            } else if intent.intent == IntentKind::Search {
                (false, "search only: nothing is bought".to_string())
            } else if picked {
                if let Some(endpoint) = merchants.get(&offer.merchant_id) {
                    contacts.push((endpoint.clone(), offer.clone()));
                }
                (true, "contacting".to_string())
            } else if picks
                .iter()
                .any(|&i| results.offers[i].merchant_id == offer.merchant_id)
            {
                (
                    false,
                    "a better match from this merchant is asked instead".to_string(),
                )
            } else {
                (
                    false,
                    format!(
                        "only {} merchants are contacted at once",
                        self.config.max_merchants
                    ),
                )
            };
            report.candidates.push(Candidate {
                offer: offer.clone(),
                merchant_name: merchants.name(&offer.merchant_id),
                contacted,
                note,
            });
        }
        report.same_product_groups = results
            .groups
            .iter()
            .filter(|g| g.len() > 1)
            .cloned()
            .collect();
        if intent.intent == IntentKind::Search {
            return Err(report.end(
                Outcome::Searched,
                "This was a search: say \"buy ...\" to purchase.",
            ));
        }
        if contacts.is_empty() {
            return Err(report.end(
                Outcome::NothingFound,
                "No merchant has the exact variant asked for in stock.",
            ));
        }
        let backups = second_picks(&results.offers, &picks, &intent.text)
            .into_iter()
            .filter_map(|i| {
                let offer = &results.offers[i];
                merchants
                    .get(&offer.merchant_id)
                    .map(|endpoint| (endpoint.clone(), offer.clone()))
            })
            .collect();
        Ok(Selection { contacts, backups })
    }

    /// Negotiate: one session per selected merchant, all at once, against
    /// one deadline.
    async fn negotiate_all(
        &self,
        selection: Selection,
        wants: &ItemWants<'_>,
        broker: Option<Arc<ShopperChoices>>,
        run_id: i64,
    ) -> Vec<Conversation> {
        let contacts: Vec<(String, MerchantEndpoint, Offer)> = selection
            .contacts
            .into_iter()
            .map(|(endpoint, offer)| (format!("cg-{run_id}-{}", random_token(6)), endpoint, offer))
            .collect();
        // Each conversation is known from its first message on, so the
        // merchant's late messages are recognised as its own.
        let opened: Vec<(String, String)> = contacts
            .iter()
            .map(|(psid, endpoint, _)| (psid.clone(), endpoint.merchant_id.clone()))
            .collect();
        let _ = self.store.record_conversations(&opened, run_id);
        let deadline = Instant::now() + self.config.negotiation_deadline;
        let mut tasks = JoinSet::new();
        for (psid, endpoint, offer) in contacts {
            let wanted = self.wanted_for(wants.request, wants.item, wants.quantity, &offer);
            // With a shopper to ask, open choices go to them; otherwise
            // the policy drops the merchant (Concierge never guesses).
            let opening = self.opening(&psid, vec![wanted], broker.is_some());
            let mut negotiation = Conversation::open(&self.protocols, &endpoint, opening);
            let broker = broker.clone();
            tasks.spawn(async move {
                negotiation.negotiate(deadline, broker).await;
                (endpoint, psid, offer, negotiation)
            });
        }
        let mut conversations = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            // A panicking negotiation task would be a bug; it only loses that
            // merchant, never the others.
            if let Ok((endpoint, psid, offer, negotiation)) = joined {
                conversations.push(Conversation::new(endpoint, psid, offer, negotiation));
            }
        }
        conversations.sort_by(|a, b| a.endpoint.merchant_id.cmp(&b.endpoint.merchant_id));
        conversations
    }

    /// How a conversation opens, under the policy's settings.
    fn opening(&self, conversation_id: &str, items: Vec<Wanted>, ask_shopper: bool) -> Opening {
        Opening {
            conversation_id: conversation_id.to_string(),
            items,
            max_turns: self.config.max_turns,
            ask_shopper,
            pick_listed_variant: self.config.open_choice == OpenChoice::Listed,
        }
    }

    /// What to ask `offer`'s merchant for, for `item`.
    fn wanted_for(
        &self,
        request: &str,
        item: &ItemRequest,
        quantity: u32,
        offer: &Offer,
    ) -> Wanted {
        Wanted {
            request: request.to_string(),
            variant_title: Some(offer.variant_title.clone()).filter(|t| !t.is_empty()),
            product_code: offer.product_id.clone(),
            variant_id: offer.variant_id.clone(),
            product_title: offer.product_title.clone(),
            color: item.color.clone(),
            size: item.size.clone(),
            quantity,
            material: item.material.clone(),
            shipping_address: self.config.shipping_address.clone(),
            color_label: item.color.as_ref().and(offer.color_label.clone()),
            size_label: item.size.as_ref().and(offer.size_label.clone()),
            currency: Some(offer.price.currency.clone()),
        }
    }

    /// Check: every invoice against the request, the catalog and the
    /// mandate; it is accepted only when every check passes and there is a
    /// way to agree to it.
    fn check_all(&self, conversations: &mut [Conversation], wants: &ItemWants, mandate: &Mandate) {
        for conversation in conversations {
            self.check_one(conversation, wants, mandate);
        }
    }

    fn check_one(&self, conversation: &mut Conversation, wants: &ItemWants, mandate: &Mandate) {
        let Some(invoice) = conversation.negotiation.invoice().cloned() else {
            return;
        };
        let offer = &conversation.report.offer;
        let expectation = Expectation {
            merchant_id: conversation.endpoint.merchant_id.clone(),
            product_title: offer.product_title.clone(),
            color: wants.item.color.clone(),
            // A product that comes in one size has none on its invoice.
            size: wants.item.size.clone().filter(|_| offer.size.is_some()),
            quantity: wants.quantity,
            // The lower of the catalog's price and any price the merchant
            // quoted in conversation.
            listed_unit_price: conversation
                .negotiation
                .quoted_unit_price()
                .map_or(offer.price.minor, |q| q.min(offer.price.minor)),
        };
        let checks = check_invoice(&invoice, &expectation, mandate, &self.rules);
        conversation.judge(invoice, checks);
    }

    /// Choose: among valid invoices, the product named and the exact colour
    /// asked first ([`fit_tier`]); then the lowest total (items, shipping and tax), then
    /// the better match (the offer's search score, in thousandths so float
    /// noise cannot decide), then the merchant id for a stable tie-break.
    fn choose(&self, conversations: &[Conversation], report: &mut ShopReport) -> Option<usize> {
        let mut valid: Vec<usize> = (0..conversations.len())
            .filter(|&i| conversations[i].report.accepted)
            .collect();
        valid.sort_by_key(|&i| {
            let conversation = &conversations[i];
            let total = conversation
                .report
                .invoice
                .as_ref()
                .map(|inv| inv.total)
                .unwrap_or(i64::MAX);
            let match_quality = (conversation.report.offer.score * 1000.0) as i64;
            (
                fit_tier(&conversation.report.offer, &report.intent.text),
                total,
                std::cmp::Reverse(match_quality),
                conversation.endpoint.merchant_id.clone(),
            )
        });
        let chosen = *valid.first()?;
        let others: Vec<String> = valid[1..]
            .iter()
            .filter_map(|&i| {
                let conversation = &conversations[i];
                conversation
                    .report
                    .invoice
                    .as_ref()
                    .map(|inv| format!("{} {}", conversation.endpoint.name, inv.total_money()))
            })
            .collect();
        let conversation = &conversations[chosen];
        let invoice = conversation.report.invoice.as_ref()?;
        let request = &report.intent.text;
        let shades_cheaper = valid[1..].iter().any(|&i| {
            fit_tier(&conversations[i].report.offer, request)
                > fit_tier(&conversation.report.offer, request)
                && conversations[i]
                    .report
                    .invoice
                    .as_ref()
                    .is_some_and(|other| other.total < invoice.total)
        });
        let reason = if others.is_empty() {
            "the only invoice that passed every check".to_string()
        } else if shades_cheaper {
            format!(
                "the cheapest of {} valid invoices for what was asked; cheaper ones are other products or shades of the colour (others: {})",
                valid.len(),
                others.join(", ")
            )
        } else {
            format!(
                "the cheapest of {} valid invoices (others: {})",
                valid.len(),
                others.join(", ")
            )
        };
        report.choice = Some(Choice {
            merchant_id: conversation.endpoint.merchant_id.clone(),
            merchant_name: conversation.endpoint.name.clone(),
            merchant_host: conversation.endpoint.host(),
            order_number: invoice.order_number.clone(),
            total: invoice.total_money(),
            reason,
        });
        Some(chosen)
    }

    /// Settle: pay the chosen invoice, if authorised, and decline every
    /// other, politely and with the reason.
    async fn settle(
        &self,
        conversations: &mut [Conversation],
        chosen: Option<usize>,
        options: &ShopOptions,
        run_id: i64,
        report: &mut ShopReport,
    ) -> Outcome {
        let outcome = match chosen {
            None => {
                report
                    .notes
                    .push("No invoice passed every check, so nothing was bought.".into());
                Outcome::NoValidInvoice
            }
            Some(index) => {
                self.pay_if_authorised(&mut conversations[index], options, run_id, report)
                    .await
            }
        };
        self.decline_others(conversations, chosen).await;
        outcome
    }

    async fn pay_if_authorised(
        &self,
        conversation: &mut Conversation,
        options: &ShopOptions,
        run_id: i64,
        report: &mut ShopReport,
    ) -> Outcome {
        if report.mandate.max_total.is_none() {
            // "Buy the cheapest ..." with payment authorised: the shopper
            // asked for the lowest-priced offer that meets the request, and
            // `choose` picked exactly that; it is all that is authorised.
            let cheapest_total = report
                .choice
                .as_ref()
                .filter(|_| options.pay && report.intent.asks_cheapest())
                .map(|choice| choice.total.clone());
            match cheapest_total {
                Some(total) => {
                    report.notes.push(format!(
                        "No budget was given; you asked for the cheapest, so the lowest total that passed every check ({total}) was authorised."
                    ));
                    report.mandate.max_total = Some(total.minor);
                }
                None => {
                    report.notes.push("No budget was given, so nothing was paid: add \"under $N\" to the request or pass --max-total.".into());
                    return Outcome::NotPaid;
                }
            }
        }
        if !options.pay {
            report
                .notes
                .push("Not paying: payment was not requested (use --auto-pay).".into());
            return Outcome::NotPaid;
        }
        if report.mandate.require_confirmation && options.confirm.is_none() {
            report.notes.push(
                "Not paying: the mandate requires the shopper to confirm, and no one was asked."
                    .into(),
            );
            return Outcome::NotPaid;
        }
        if let Some(false) = options
            .confirm
            .as_ref()
            .zip(report.choice.as_ref())
            .map(|(confirm, choice)| confirm(choice))
        {
            report
                .notes
                .push("Not paying: the shopper did not confirm.".into());
            return Outcome::NotPaid;
        }
        let request = report.intent.text.clone();
        match self
            .pay(run_id, conversation, &report.mandate, &request)
            .await
        {
            Ok(receipt) => {
                report.receipt = Some(receipt);
                Outcome::Bought
            }
            Err(note) => {
                report.notes.push(format!(
                    "Payment to {} did not complete: {note}",
                    conversation.endpoint.name
                ));
                Outcome::PaymentFailed
            }
        }
    }

    /// Declines every invoice but the chosen one, with the reason.
    async fn decline_others(&self, conversations: &mut [Conversation], chosen: Option<usize>) {
        let declines = conversations
            .iter_mut()
            .enumerate()
            .filter(|(position, conversation)| {
                Some(*position) != chosen
                    && conversation.negotiation.state() == SessionState::Invoiced
            })
            .map(|(_, conversation)| {
                let reason = match conversation.report.rejection() {
                    Some(rejection) => format!("the invoice failed a check ({rejection})"),
                    None => "I went with a better offer".into(),
                };
                async move { conversation.negotiation.decline(&reason).await }
            });
        futures::future::join_all(declines).await;
    }

    /// Record: every conversation's messages and the decision on each
    /// merchant, in the store and in the report.
    fn record(&self, conversations: Vec<Conversation>, run_id: i64, report: &mut ShopReport) {
        for conversation in conversations {
            let Conversation {
                endpoint,
                mut negotiation,
                report: mut conversation,
                ..
            } = conversation;
            negotiation.close();
            conversation.state = negotiation.state();
            conversation.transcript = negotiation.transcript().to_vec();
            for (sequence, line) in conversation.transcript.iter().enumerate() {
                let record = MessageRecord {
                    run_id,
                    merchant_id: endpoint.merchant_id.clone(),
                    direction: match line.speaker {
                        Speaker::Concierge => "to_merchant".into(),
                        Speaker::Merchant => "from_merchant".into(),
                    },
                    body: line.text.clone(),
                    at_ms: sequence as i64,
                };
                if let Err(error) = self.store.record_message(&record) {
                    report
                        .notes
                        .push(format!("Could not record a message: {error}"));
                }
            }
            // The decision on this merchant, stored beside the messages.
            let decision = match (&conversation.invoice, conversation.failure.as_ref()) {
                (Some(invoice), _) if conversation.accepted => format!(
                    "invoice {} total {}: accepted",
                    invoice.order_number,
                    invoice.total_money()
                ),
                (Some(invoice), _) => format!(
                    "invoice {} total {}: rejected ({})",
                    invoice.order_number,
                    invoice.total_money(),
                    conversation.rejection().unwrap_or_default()
                ),
                (None, Some(failure)) => format!("no invoice: {failure}"),
                (None, None) => "no invoice".to_string(),
            };
            self.record_decision(run_id, &endpoint.merchant_id, &decision, report);
            report.conversations.push(conversation);
        }
        if let Some(choice) = report.choice.clone() {
            self.record_decision(
                run_id,
                &choice.merchant_id,
                &format!(
                    "chosen: {} ({}), {}",
                    choice.order_number, choice.total, choice.reason
                ),
                report,
            );
        }
    }

    fn record_decision(
        &self,
        run_id: i64,
        merchant_id: &str,
        decision: &str,
        report: &mut ShopReport,
    ) {
        let record = MessageRecord {
            run_id,
            merchant_id: merchant_id.to_string(),
            direction: "decision".into(),
            body: decision.to_string(),
            at_ms: now_millis(),
        };
        if let Err(error) = self.store.record_message(&record) {
            report
                .notes
                .push(format!("Could not record a decision: {error}"));
        }
    }

    /// The orders a request may ask about: its shopper's, or all.
    fn orders_visible(
        &self,
        options: &ShopOptions,
    ) -> Result<Vec<OrderRecord>, crate::error::OrderError> {
        match &options.shopper {
            Some(shopper) => self.store.orders_of(shopper),
            None => self.store.orders(),
        }
    }

    /// Answers "where is my order" from the store.
    /// The shopper's latest orders from the store, each with what its
    /// merchant says of it now where the protocol can be asked (UCP, ACP),
    /// all asked at once and each within the turn timeout.
    async fn order_status(
        &self,
        merchants: &MerchantDirectory,
        options: &ShopOptions,
        report: &mut ShopReport,
    ) -> Outcome {
        match self.orders_visible(options) {
            Ok(orders) if orders.is_empty() => report.notes.push("You have no orders yet.".into()),
            Ok(orders) => {
                let shown: Vec<&OrderRecord> = orders.iter().take(5).collect();
                let said = futures::future::join_all(
                    shown
                        .iter()
                        .map(|order| self.merchant_says(merchants, order)),
                )
                .await;
                for (order, said) in shown.into_iter().zip(said) {
                    let mut note = format!(
                        "Order {} at {}: {} ({}) x{}, {}: {}.",
                        order.order_number,
                        order.merchant_name,
                        order.product_title,
                        order.variant,
                        order.quantity,
                        Money::new(order.total, order.currency.clone()),
                        order.status
                    );
                    if let Some(said) = said {
                        note.push_str(&format!(" {} says: {said}.", order.merchant_name));
                    }
                    report.notes.push(note);
                }
            }
            Err(error) => report
                .notes
                .push(format!("Could not read the orders: {error}")),
        }
        report.outcome = Outcome::OrderStatus;
        Outcome::OrderStatus
    }

    /// What the merchants without a feed answer `query` with, from their
    /// own catalog search (UCP's), as one index in memory searched beside
    /// the catalogs: all asked at once, at most [`MAX_LIVE_CATALOGS`], each
    /// within the turn timeout. A merchant that fails is named in the
    /// report and left out; `None` when none was asked or none answered.
    async fn live_catalogs(
        &self,
        intent: &Intent,
        query: &SearchQuery,
        merchants: &MerchantDirectory,
        report: &mut ShopReport,
    ) -> Option<CatalogIndex> {
        let asked: Vec<&MerchantEndpoint> = merchants
            .merchants
            .iter()
            .filter(|m| m.live_catalog)
            .filter(|m| {
                query
                    .merchants_allowed
                    .as_ref()
                    .is_none_or(|allowed| allowed.contains(&m.merchant_id))
            })
            .take(MAX_LIVE_CATALOGS)
            .collect();
        if asked.is_empty() {
            return None;
        }
        let text = match (query.text.trim(), &query.product_type) {
            ("", Some(product_type)) => product_type.clone(),
            (text, _) => text.to_string(),
        };
        let catalog_query = CatalogQuery {
            text,
            request: intent.text.clone(),
            min_price: query.min_price,
            max_price: query.max_price,
            currency: query.currency.clone(),
            limit: LIVE_CATALOG_PRODUCTS,
        };
        let searches = asked.iter().map(|endpoint| {
            let catalog_query = &catalog_query;
            async move {
                let answer = match self.protocols.for_endpoint(endpoint) {
                    Ok(protocol) => tokio::time::timeout(
                        self.config.turn_timeout,
                        protocol.search_catalog(endpoint, catalog_query),
                    )
                    .await
                    .unwrap_or_else(|_| {
                        Err(crate::error::MerchantError::Timeout {
                            merchant: endpoint.merchant_id.clone(),
                            millis: self.config.turn_timeout.as_millis() as u64,
                        })
                    }),
                    Err(error) => Err(error),
                };
                (endpoint, answer)
            }
        });
        let mut catalogs = Vec::new();
        for (endpoint, answer) in futures::future::join_all(searches).await {
            match answer {
                Ok(products) => catalogs.push((endpoint.merchant_id.clone(), products)),
                Err(error) => report.notes.push(format!(
                    "{}'s own catalog could not be searched: {error}",
                    endpoint.name
                )),
            }
        }
        if catalogs.iter().all(|(_, products)| products.is_empty()) {
            return None;
        }
        let rules = self.rules.clone();
        let built =
            tokio::task::spawn_blocking(move || CatalogIndex::in_memory(&rules, &catalogs)).await;
        let built = built
            .map_err(|error| error.to_string())
            .and_then(|index| index.map_err(|error| error.to_string()));
        match built {
            Ok(index) => Some(index),
            Err(error) => {
                report.notes.push(format!(
                    "Merchants' own catalogs could not be read: {error}"
                ));
                None
            }
        }
    }

    /// What `order`'s merchant says of it now, if its protocol can be
    /// asked and it answers in time.
    async fn merchant_says(
        &self,
        merchants: &MerchantDirectory,
        order: &OrderRecord,
    ) -> Option<String> {
        let endpoint = merchants.get(&order.merchant_id)?;
        let protocol = self.protocols.for_endpoint(endpoint).ok()?;
        let asked = protocol.order_status(endpoint, order);
        match tokio::time::timeout(self.config.turn_timeout, asked).await {
            Ok(Ok(said)) => said.map(|text| text.chars().take(300).collect()),
            Ok(Err(_)) | Err(_) => None,
        }
    }

    /// Cancels the latest paid order (the latest whose product matches the
    /// request's words, when it names one): sends the merchant a cancel
    /// message in the order's conversation and records the answer.
    async fn cancel_order(
        &self,
        intent: &Intent,
        merchants: &MerchantDirectory,
        options: &ShopOptions,
        report: &mut ShopReport,
    ) -> Outcome {
        let orders = match self.orders_visible(options) {
            Ok(orders) => orders,
            Err(error) => {
                return report.end(
                    Outcome::NotCancelled,
                    format!("Could not read the orders: {error}"),
                );
            }
        };
        let words: Vec<String> = intent
            .first_item()
            .and_then(|i| i.product.clone())
            .map(|p| {
                p.split_whitespace()
                    .filter(|w| *w != "order")
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        let matches = |order: &&OrderRecord| {
            let title = order.product_title.to_lowercase();
            words
                .iter()
                .all(|w| title.contains(w.trim_end_matches('s')))
        };
        let Some(order) = orders
            .iter()
            .filter(|o| o.status.is_cancellable())
            .find(matches)
        else {
            return report.end(Outcome::NotCancelled, "There is no paid order to cancel.");
        };
        let Some(endpoint) = merchants.get(&order.merchant_id).cloned() else {
            return report.end(
                Outcome::NotCancelled,
                format!(
                    "{} is not reachable now, so order {} could not be cancelled.",
                    order.merchant_name, order.order_number
                ),
            );
        };
        let answer = match self.protocols.for_endpoint(&endpoint) {
            Ok(protocol) => protocol.cancel(&endpoint, order).await,
            Err(error) => Err(error),
        };
        let (cancelled, text) = match answer {
            Ok(CancelReply::Cancelled(text)) => (true, text),
            Ok(CancelReply::Refused(text)) => (false, text),
            Err(error) => {
                return report.end(
                    Outcome::NotCancelled,
                    format!(
                        "{} did not answer the cancellation: {error}",
                        order.merchant_name
                    ),
                );
            }
        };
        let status = if cancelled {
            OrderStatus::Cancelled
        } else {
            OrderStatus::CancelRefused
        };
        if let Err(error) = self.store.set_order_status(order.id, status, &text) {
            report
                .notes
                .push(format!("Could not record the cancellation: {error}"));
        }
        report.end(
            if cancelled {
                Outcome::Cancelled
            } else {
                Outcome::NotCancelled
            },
            format!(
                "Order {} at {}: {} (merchant says: {text:?}).",
                order.order_number,
                order.merchant_name,
                status.as_str().replace('_', " ")
            ),
        )
    }

    /// Makes the policy's one counter-offer, if any invoice qualifies, and
    /// re-checks the answer. Returns a note on what happened.
    async fn counter_offer(
        &self,
        conversations: &mut [Conversation],
        wants: &ItemWants<'_>,
        mandate: &Mandate,
    ) -> Option<String> {
        let budget = mandate.limit()?;
        let limit = budget + budget * self.config.counter_offer_margin_bp / 10_000;
        let only_over_budget = |c: &ConversationReport| {
            let failed: Vec<&Check> = c.checks.iter().filter(|k| !k.passed).collect();
            failed.len() == 1 && failed[0].name == CheckName::WithinBudget
        };
        let index = conversations
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                only_over_budget(&c.report)
                    && c.report.invoice.as_ref().is_some_and(|i| i.total <= limit)
            })
            .min_by_key(|(_, c)| {
                (
                    c.report.invoice.as_ref().map(|i| i.total),
                    c.endpoint.merchant_id.clone(),
                )
            })
            .map(|(i, _)| i)?;
        let conversation = &mut conversations[index];
        let budget_text = Money::new(budget, mandate.currency.clone()).to_string();
        let text = self
            .config
            .counter_offer_text
            .replace("{budget}", &budget_text);
        if !conversation.negotiation.counter_offer(&text).await {
            return None;
        }
        self.check_one(conversation, wants, mandate);
        let total = conversation.report.invoice.as_ref()?.total_money();
        let name = &conversation.endpoint.name;
        Some(if conversation.report.accepted {
            format!("Counter-offer to {name}: asked {budget_text}, accepted at {total}.")
        } else {
            format!("Counter-offer to {name}: asked {budget_text}, refused ({total} stands).")
        })
    }
}

/// How closely an offer is what was asked, lower first: the product the
/// request names by name before others of its kind, then the one holding
/// more of the shopper's words for it ("lightweight" of "lightweight
/// hoodie"), in its title before elsewhere, then the exact colour asked before a shade of it ("Charcoal"
/// for gray). What the shopper said is never traded for price: price only
/// decides within a tier.
fn fit_tier(offer: &Offer, request: &str) -> (std::cmp::Reverse<usize>, usize, usize, u8) {
    (
        std::cmp::Reverse(words_named(request, &offer.product_title)),
        offer.missing_words.len(),
        offer.words_outside_title,
        u8::from(offer.color_exact == Some(false)),
    )
}

/// How many words of the product's title the request names, when it names
/// them all ("buy the Zeppelin Yoga Pant in blue"): the longer title named
/// is the closer ("Everyday Cotton Chinos" before "Everyday Chinos"). 0 when
/// the request does not name it.
fn words_named(request: &str, title: &str) -> usize {
    let words = |text: &str| -> Vec<String> {
        text.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| w.trim_end_matches('s').to_string())
            .collect()
    };
    let asked = words(request);
    let title = words(title);
    if !title.is_empty() && title.iter().all(|w| asked.contains(w)) {
        title.len()
    } else {
        0
    }
}

/// The offer to ask each merchant about, as indexes into `offers`: among
/// the merchant's offers that have the variant asked for, the product the
/// request names and the exact colour asked first ([`fit_tier`]); among
/// those, the cheapest that
/// ranks close to their best (within [`RELEVANCE_BAND`] of its score). At
/// most `max_merchants`, in the order their first offer ranks.
fn pick_per_merchant(
    offers: &[Offer],
    merchants: &MerchantDirectory,
    max_merchants: usize,
    request: &str,
) -> Vec<usize> {
    let mut order: Vec<&str> = Vec::new();
    for offer in offers {
        if offer.matches_request()
            && merchants.get(&offer.merchant_id).is_some()
            && !order.contains(&offer.merchant_id.as_str())
        {
            order.push(&offer.merchant_id);
        }
    }
    order.truncate(max_merchants);
    order
        .into_iter()
        .filter_map(|merchant| {
            let candidates: Vec<usize> = (0..offers.len())
                .filter(|&i| offers[i].merchant_id == merchant && offers[i].matches_request())
                .collect();
            let tier = candidates
                .iter()
                .map(|&i| fit_tier(&offers[i], request))
                .min()?;
            let in_tier: Vec<usize> = candidates
                .into_iter()
                .filter(|&i| fit_tier(&offers[i], request) == tier)
                .collect();
            let top_score = in_tier
                .iter()
                .map(|&i| offers[i].score)
                .fold(f32::MIN, f32::max);
            in_tier
                .into_iter()
                .filter(|&i| offers[i].score >= top_score * RELEVANCE_BAND)
                .min_by_key(|&i| (offers[i].price.minor, i))
        })
        .collect()
}

/// For each merchant picked (`picks`, indexes into `offers`), its next best
/// offer of another product that has the variant asked for, by the same
/// order as the first ([`fit_tier`], then price); none where it has no
/// other.
fn second_picks(offers: &[Offer], picks: &[usize], request: &str) -> Vec<usize> {
    picks
        .iter()
        .filter_map(|&first| {
            let picked = &offers[first];
            (0..offers.len())
                .filter(|&i| {
                    let offer = &offers[i];
                    offer.merchant_id == picked.merchant_id
                        && offer.product_id != picked.product_id
                        && offer.matches_request()
                })
                .min_by_key(|&i| (fit_tier(&offers[i], request), offers[i].price.minor, i))
        })
        .collect()
}

fn wanted_label(color: Option<&str>, size: Option<&str>) -> String {
    match (color, size) {
        (Some(c), Some(s)) => format!("{c} / {s}"),
        (Some(c), None) => c.to_string(),
        (None, Some(s)) => format!("size {s}"),
        (None, None) => "matching variant".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(merchant: &str, product: &str, title: &str, price: i64, fits: bool) -> Offer {
        serde_json::from_value(serde_json::json!({
            "merchant_id": merchant, "product_id": product, "product_title": title,
            "brand": "", "variant_id": format!("{product}-v"), "variant_title": "",
            "color_label": null, "color": null, "size_label": null, "size": null,
            "material": null, "price": {"minor": price, "currency": "USD"},
            "in_stock": true, "gtin": null, "url": "", "score": 1.0,
            "color_matches": fits, "size_matches": null
        }))
        .unwrap()
    }

    /// Each merchant's second ask: another product with the variant asked
    /// for, the one the request names before a cheaper one, else the
    /// cheapest; none when the merchant has no other.
    #[test]
    fn a_merchant_is_asked_about_its_next_best_product() {
        let offers = vec![
            offer("a", "P1", "Ana Running Short", 3000, true),
            offer("a", "P1", "Ana Running Short", 2900, true),
            offer("a", "P2", "Gym Short", 2500, true),
            offer("a", "P3", "Bike Short", 2000, false),
            offer("a", "P4", "Trail Short", 2600, true),
            offer("b", "P1", "Ana Running Short", 3100, true),
            offer("c", "P5", "Court Short", 1000, true),
            offer("c", "P6", "Maxima Drawstring Short", 1900, true),
        ];
        let picks = [0, 5, 6];
        assert_eq!(second_picks(&offers, &picks, "gym shorts"), [2, 7]);
        assert_eq!(
            second_picks(&offers, &picks, "maxima drawstring shorts"),
            [2, 7]
        );
        assert_eq!(second_picks(&offers, &[4], "trail shorts"), [2]);
    }
}
