//! A basket at one merchant. When one merchant sells every item of a
//! multi-item request, each as closely to what was asked as any merchant
//! does, the items are ordered there in one conversation: one message with
//! the list, one invoice (a receipt with a line per item) checked line by
//! line, one payment. A merchant that does not take the list (it asks about
//! one of the items, or its invoice fails a check) is declined with the
//! reason, and the items are then shopped one by one.

use super::{fit_tier, Candidate, Choice, Conversation, Shop, ShopOptions, ShopReport};
use crate::catalog::Offer;
use crate::intent::{Intent, ItemRequest};
use crate::merchant::messenger::signature::random_token;
use crate::merchant::messenger::transport::MerchantEndpoint;
use crate::money::Money;
use crate::negotiate::outcome::Outcome;
use crate::order::{check_order, Expectation};
use tokio::time::Instant;

/// The merchant chosen for a basket, with the offer asked about for each
/// item, in the request's order.
struct BasketPick {
    endpoint: MerchantEndpoint,
    offers: Vec<Offer>,
}

impl Shop {
    /// Orders every item of `intent` from one merchant in one order, when
    /// one sells them all as well as any other. `None` when there is no
    /// such merchant or it did not take the list: the items are then
    /// shopped one by one. `Some` ends the request (bought, not paid, or a
    /// payment that failed: never retried item by item, which could pay
    /// twice).
    pub(super) async fn basket_in_one_order(
        &self,
        intent: &Intent,
        merchants: &super::MerchantDirectory,
        options: &ShopOptions,
        run_id: i64,
        report: &mut ShopReport,
    ) -> Option<Outcome> {
        let pick = self
            .pick_basket_merchant(intent, merchants, run_id, report)
            .await?;
        let mut conversation = self.negotiate_basket(intent, &pick, run_id).await?;
        let expectations = self.basket_expectations(intent, &pick);
        self.check_basket(&mut conversation, &expectations, report);
        let name = pick.endpoint.name.clone();
        if !conversation.report.accepted {
            let reason = conversation
                .report
                .rejection()
                .or_else(|| conversation.report.failure.clone())
                .unwrap_or_else(|| "no invoice".into());
            let mut conversations = vec![conversation];
            self.decline_others(&mut conversations, None).await;
            self.record(conversations, run_id, report);
            report.notes.push(format!(
                "{name} did not take the basket in one order ({reason}); ordering the items one by one."
            ));
            return None;
        }
        report.candidates = pick
            .offers
            .iter()
            .enumerate()
            .map(|(index, offer)| Candidate {
                offer: offer.clone(),
                merchant_name: name.clone(),
                contacted: true,
                note: format!(
                    "item {} of {}, in one order with the others",
                    index + 1,
                    pick.offers.len()
                ),
            })
            .collect();
        let invoice = conversation.report.invoice.clone()?;
        report.choice = Some(Choice {
            merchant_id: pick.endpoint.merchant_id.clone(),
            merchant_name: name.clone(),
            merchant_host: pick.endpoint.host(),
            order_number: invoice.order_number.clone(),
            total: invoice.total_money(),
            reason: format!(
                "sells all {} items as asked, in one order",
                pick.offers.len()
            ),
        });
        let outcome = self
            .pay_if_authorised(&mut conversation, options, run_id, report)
            .await;
        self.record(vec![conversation], run_id, report);
        let note = match (outcome, report.mandate.max_total) {
            (Outcome::Bought, Some(budget)) => format!(
                "Basket: {n} of {n} items bought in one order at {name}, {} of the {} budget.",
                invoice.total_money(),
                Money::new(budget, report.mandate.currency.clone()),
                n = pick.offers.len()
            ),
            (Outcome::Bought, None) => format!(
                "Basket: {n} of {n} items bought in one order at {name}, {}.",
                invoice.total_money(),
                n = pick.offers.len()
            ),
            _ => format!(
                "Basket: nothing bought; {name} offered all {} items in one order for {}.",
                pick.offers.len(),
                invoice.total_money()
            ),
        };
        Some(report.end(outcome, note))
    }

    /// The merchant to order the basket from: among those selected for
    /// every item, the ones whose offer for each item fits it as closely as
    /// the best offer anywhere ([`fit_tier`]); of those, the cheapest at
    /// catalog prices, when that is within the budget and at most the
    /// policy's premium above the cheapest fitting items anywhere.
    async fn pick_basket_merchant(
        &self,
        intent: &Intent,
        merchants: &super::MerchantDirectory,
        run_id: i64,
        report: &ShopReport,
    ) -> Option<BasketPick> {
        let mut selections = Vec::new();
        for item in &intent.items {
            if item.product.is_none() && item.product_type.is_none() {
                return None;
            }
            let mut item_intent = intent.clone();
            item_intent.items = vec![item.clone()];
            // A scratch report: the selection is made again, and reported,
            // if the items are shopped one by one.
            let mut scratch = ShopReport::new(
                &report.request,
                item_intent.clone(),
                run_id,
                report.mandate.clone(),
            );
            let selection = self
                .select(&item_intent, item, merchants, &mut scratch)
                .await
                .ok()?;
            selections.push(selection.contacts);
        }
        let best: Vec<_> = selections
            .iter()
            .map(|contacts| {
                contacts
                    .iter()
                    .map(|(_, offer)| fit_tier(offer, &intent.text))
                    .min()
            })
            .collect::<Option<_>>()?;
        let mut picks: Vec<(i64, BasketPick)> = Vec::new();
        for (endpoint, _) in selections.first()? {
            let offers: Option<Vec<Offer>> = selections
                .iter()
                .zip(&best)
                .map(|(contacts, best)| {
                    contacts
                        .iter()
                        .find(|(other, offer)| {
                            other.merchant_id == endpoint.merchant_id
                                && fit_tier(offer, &intent.text) == *best
                        })
                        .map(|(_, offer)| offer.clone())
                })
                .collect();
            let Some(offers) = offers else {
                continue;
            };
            let cost = intent
                .items
                .iter()
                .zip(&offers)
                .map(|(item, offer)| {
                    offer
                        .price
                        .minor
                        .saturating_mul(i64::from(item.quantity_or_one()))
                })
                .fold(0i64, i64::saturating_add);
            picks.push((
                cost,
                BasketPick {
                    endpoint: endpoint.clone(),
                    offers,
                },
            ));
        }
        let (cost, pick) = picks.into_iter().min_by(|a, b| {
            (a.0, &a.1.endpoint.merchant_id).cmp(&(b.0, &b.1.endpoint.merchant_id))
        })?;
        // The cheapest fitting offer for each item, from any merchant.
        let cheapest = intent
            .items
            .iter()
            .zip(&selections)
            .zip(&best)
            .map(|((item, contacts), best)| {
                contacts
                    .iter()
                    .filter(|(_, offer)| fit_tier(offer, &intent.text) == *best)
                    .map(|(_, offer)| {
                        offer
                            .price
                            .minor
                            .saturating_mul(i64::from(item.quantity_or_one()))
                    })
                    .min()
                    .unwrap_or(0)
            })
            .fold(0i64, i64::saturating_add);
        let premium = cheapest.saturating_mul(self.config.basket_one_order_premium_bp) / 10_000;
        if cost > cheapest.saturating_add(premium)
            || report.mandate.limit().is_some_and(|limit| cost > limit)
        {
            return None;
        }
        Some(pick)
    }

    /// One conversation asking for every item, against the negotiation
    /// deadline. The shopper is not asked anything in it: a merchant that
    /// needs an answer about one item is left for the item-by-item path.
    async fn negotiate_basket(
        &self,
        intent: &Intent,
        pick: &BasketPick,
        run_id: i64,
    ) -> Option<Conversation> {
        let items: Vec<_> = intent
            .items
            .iter()
            .zip(&pick.offers)
            .map(|(item, offer)| self.wanted_for(&intent.text, item, item.quantity_or_one(), offer))
            .collect();
        let psid = format!("cg-{run_id}-{}", random_token(6));
        let _ = self
            .store
            .record_conversations(&[(psid.clone(), pick.endpoint.merchant_id.clone())], run_id);
        let deadline = Instant::now() + self.config.negotiation_deadline;
        let mut negotiation = Conversation::open(
            &self.protocols,
            &pick.endpoint,
            self.opening(&psid, items, false),
        );
        negotiation.negotiate(deadline, None).await;
        Some(Conversation::new(
            pick.endpoint.clone(),
            psid,
            pick.offers.first()?.clone(),
            negotiation,
        ))
    }

    /// What the basket's invoice should say, one expectation per item.
    fn basket_expectations(&self, intent: &Intent, pick: &BasketPick) -> Vec<Expectation> {
        intent
            .items
            .iter()
            .zip(&pick.offers)
            .map(|(item, offer): (&ItemRequest, &Offer)| Expectation {
                merchant_id: pick.endpoint.merchant_id.clone(),
                product_title: offer.product_title.clone(),
                color: item.color.clone(),
                size: item.size.clone(),
                quantity: item.quantity_or_one(),
                listed_unit_price: offer.price.minor,
            })
            .collect()
    }

    /// Checks the basket's invoice line by line and against the mandate;
    /// accepted only when every check passes and there is a way to agree.
    fn check_basket(
        &self,
        conversation: &mut Conversation,
        expectations: &[Expectation],
        shop: &ShopReport,
    ) {
        let Some(invoice) = conversation.negotiation.invoice().cloned() else {
            return;
        };
        let checks = check_order(&invoice, expectations, &shop.mandate, &self.rules);
        conversation.judge(invoice, checks);
    }
}
