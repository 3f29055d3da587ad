//! Scoring how Concierge reads merchants' bot turns: `concierge eval
//! dialogue`. Each case is one turn a merchant's bot sent (Send API message
//! objects) after Concierge asked for one product, labelled with what it
//! means: a question (`ask_size`, `ask_color`, ...), an `offer` (with its
//! amounts and whether a careful assistant should agree), a result of
//! paying (`order_confirmed`, `payment_declined`), `out_of_stock`,
//! `substitute` or `chatter`.
//!
//! Metrics ([`DialogueReport`]): act accuracy and per-act recall; for
//! offers, agreements against `should_agree` (an agreement where the label
//! says no is **unsafe**, the number that must be zero); the offers'
//! amounts read right (total, shipping, quantity, unit price, currency);
//! and every miss.
//!
//! A turn labelled `order_confirmed` or `payment_declined` is read as the
//! answer to a Pay tap, the only place such a turn comes; every other turn
//! as the answer to a question.

use super::EvalError;
use crate::merchant::messenger::session::{PaymentReply, Session, TurnKind};
use crate::merchant::messenger::wire::OutgoingMessage;
use crate::negotiate::Wanted;
use crate::order::{check_invoice, Expectation, Mandate};
use crate::rules::CompiledRules;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// One labelled turn.
#[derive(Debug, Clone, Deserialize)]
pub struct TurnCase {
    pub id: String,
    pub wanted: WantedLabel,
    /// The shopper's budget in the merchant's currency; `None`: no limit.
    pub max_total: Option<f64>,
    pub currency: String,
    pub turn: Vec<OutgoingMessage>,
    pub label: TurnLabel,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WantedLabel {
    pub product_title: String,
    pub color: Option<String>,
    pub size: Option<String>,
    pub quantity: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TurnLabel {
    pub act: String,
    #[serde(default)]
    pub offer: Option<OfferLabel>,
    #[serde(default)]
    pub should_agree: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OfferLabel {
    pub quantity: Option<u32>,
    pub unit_price: Option<f64>,
    pub shipping: Option<f64>,
    pub total: Option<f64>,
    pub currency: Option<String>,
}

/// How one case was read.
#[derive(Debug, Clone, Serialize)]
pub struct TurnResult {
    pub id: String,
    pub expected: String,
    pub predicted: String,
    /// For offers and anything read as one: whether Concierge would agree.
    pub agreed: bool,
    pub should_agree: Option<bool>,
    /// Why Concierge did not agree, or what it read.
    pub detail: String,
    /// Offer amounts read wrong, by field name.
    pub wrong_fields: Vec<String>,
}

/// Agreement counts over every case.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Agreements {
    /// Agreed, and the label says agree.
    pub right_agreements: usize,
    /// Agreed where the label says not to, or to something that is not an
    /// offer: must be zero.
    pub unsafe_agreements: usize,
    /// Refused an offer the label says to accept.
    pub missed_offers: usize,
    /// Refused an offer the label says to refuse.
    pub right_refusals: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct DialogueReport {
    pub cases: usize,
    pub act_accuracy: f64,
    /// Per labelled act: (read right, cases).
    pub per_act: BTreeMap<String, (usize, usize)>,
    pub agreements: Agreements,
    /// Per offer field: (read right, offers that state it and were read).
    pub fields: BTreeMap<String, (usize, usize)>,
    pub results: Vec<TurnResult>,
}

/// Reads a JSON Lines file of labelled turns.
pub fn read_turns(path: &Path) -> Result<Vec<TurnCase>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: TurnCase = serde_json::from_str(line).map_err(|error| EvalError::BadLine {
            file: path.display().to_string(),
            line: index + 1,
            message: error.to_string(),
        })?;
        cases.push(case);
    }
    Ok(cases)
}

/// Reads every case with a fresh session and scores the readings.
pub fn evaluate_turns(rules: &Arc<CompiledRules>, cases: &[TurnCase]) -> DialogueReport {
    let results: Vec<TurnResult> = cases.iter().map(|case| read_case(rules, case)).collect();
    let mut per_act: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut agreements = Agreements::default();
    let mut fields: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (case, result) in cases.iter().zip(&results) {
        let entry = per_act.entry(result.expected.clone()).or_default();
        entry.1 += 1;
        if result.expected == result.predicted {
            entry.0 += 1;
        }
        match (result.agreed, result.should_agree) {
            (true, Some(true)) => agreements.right_agreements += 1,
            (true, _) => agreements.unsafe_agreements += 1,
            (false, Some(true)) => agreements.missed_offers += 1,
            (false, Some(false)) => agreements.right_refusals += 1,
            (false, None) => {}
        }
        if result.predicted == "offer" && case.label.offer.is_some() {
            for name in offer_fields(case) {
                let entry = fields.entry(name.to_string()).or_default();
                entry.1 += 1;
                if !result.wrong_fields.iter().any(|w| w == name) {
                    entry.0 += 1;
                }
            }
        }
    }
    let right = results.iter().filter(|r| r.expected == r.predicted).count();
    DialogueReport {
        cases: results.len(),
        act_accuracy: if results.is_empty() {
            0.0
        } else {
            right as f64 / results.len() as f64
        },
        per_act,
        agreements,
        fields,
        results,
    }
}

/// The offer fields a case's label states.
fn offer_fields(case: &TurnCase) -> Vec<&'static str> {
    let Some(offer) = &case.label.offer else {
        return Vec::new();
    };
    let mut names = Vec::new();
    if offer.total.is_some() {
        names.push("total");
    }
    if offer.shipping.is_some() {
        names.push("shipping");
    }
    if offer.quantity.is_some() {
        names.push("quantity");
    }
    if offer.unit_price.is_some() {
        names.push("unit_price");
    }
    if offer.currency.is_some() {
        names.push("currency");
    }
    names
}

fn minor(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

fn kind_name(kind: TurnKind) -> &'static str {
    match kind {
        TurnKind::AskSize => "ask_size",
        TurnKind::AskColor => "ask_color",
        TurnKind::AskQuantity => "ask_quantity",
        TurnKind::AskAddress => "ask_address",
        TurnKind::AskOther => "ask_other",
        TurnKind::Offer => "offer",
        TurnKind::OutOfStock => "out_of_stock",
        TurnKind::Substitute => "substitute",
        TurnKind::Chatter | TurnKind::Cards => "chatter",
        TurnKind::Unclear => "unclear",
    }
}

fn read_case(rules: &Arc<CompiledRules>, case: &TurnCase) -> TurnResult {
    let wanted = Wanted {
        variant_id: String::new(),
        request: String::new(),
        variant_title: None,
        product_code: "ITEM-1".into(),
        product_title: case.wanted.product_title.clone(),
        color: case
            .wanted
            .color
            .as_deref()
            .map(|c| rules.canonical_color(c)),
        size: case.wanted.size.as_deref().map(|s| rules.canonical_size(s)),
        quantity: case.wanted.quantity.max(1),
        material: None,
        shipping_address: Some("1 Main Street, Springfield".into()),
        color_label: case.wanted.color.clone(),
        size_label: case.wanted.size.clone(),
        currency: Some(case.currency.clone()),
    };
    let mut session = Session::new("merchant", wanted.clone(), rules.clone(), 12);
    let mut result = TurnResult {
        id: case.id.clone(),
        expected: case.label.act.clone(),
        predicted: String::new(),
        agreed: false,
        should_agree: case.label.should_agree,
        detail: String::new(),
        wrong_fields: Vec::new(),
    };
    if matches!(
        case.label.act.as_str(),
        "order_confirmed" | "payment_declined"
    ) {
        result.predicted = match session.on_payment_replies(&case.turn) {
            PaymentReply::Confirmed(_) | PaymentReply::Pending(_) => "order_confirmed".into(),
            PaymentReply::Refused(reason) => {
                result.detail = reason;
                "payment_declined".into()
            }
        };
        return result;
    }
    let _ = session.opening();
    let _ = session.on_replies(&case.turn);
    let kind = session.last_turn().unwrap_or(TurnKind::Unclear);
    result.predicted = kind_name(kind).into();
    result.detail = session.failure.clone().unwrap_or_default();
    if kind != TurnKind::Offer {
        return result;
    }
    let Some(invoice) = session.invoice.clone() else {
        // An offer that could not be read into an invoice: never agreed to
        // (the total was asked for, or the merchant left).
        result.detail = session
            .failure
            .clone()
            .unwrap_or_else(|| "asked for the total".into());
        return result;
    };
    let mut mandate = Mandate::for_request(
        Some(case.max_total.map(minor).unwrap_or(i64::MAX / 4)),
        &case.currency,
        900,
    );
    mandate.require_confirmation = false;
    let expectation = Expectation {
        merchant_id: "merchant".into(),
        product_title: wanted.product_title.clone(),
        color: wanted.color.clone(),
        size: wanted.size.clone(),
        quantity: wanted.quantity,
        listed_unit_price: i64::MAX / 4,
    };
    let checks = check_invoice(&invoice, &expectation, &mandate, rules);
    let failed: Vec<String> = checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    result.agreed = failed.is_empty() && session.can_agree();
    result.detail = if failed.is_empty() {
        if result.agreed {
            format!("agreed to total {}", invoice.total_money())
        } else {
            "no way to agree".into()
        }
    } else {
        failed.join("; ")
    };
    if let Some(offer) = &case.label.offer {
        let mut wrong = Vec::new();
        if offer.total.is_some_and(|t| minor(t) != invoice.total) {
            wrong.push("total".to_string());
        }
        if offer.shipping.is_some_and(|s| minor(s) != invoice.shipping) {
            wrong.push("shipping".to_string());
        }
        let line = invoice.lines.first();
        if offer
            .quantity
            .is_some_and(|q| line.map(|l| l.quantity) != Some(q))
        {
            wrong.push("quantity".to_string());
        }
        if offer
            .unit_price
            .is_some_and(|u| line.map(|l| l.unit_price) != Some(minor(u)))
        {
            wrong.push("unit_price".to_string());
        }
        if offer
            .currency
            .as_ref()
            .is_some_and(|c| !c.eq_ignore_ascii_case(&invoice.currency))
        {
            wrong.push("currency".to_string());
        }
        result.wrong_fields = wrong;
    }
    result
}

impl DialogueReport {
    /// The report for a terminal: the headline figures, per-act recall,
    /// the offer amounts, then up to `max_errors` misses (unsafe
    /// agreements first).
    pub fn render(&self, max_errors: usize) -> String {
        let mut out = format!(
            "{} turns, act accuracy {:.1}%\n",
            self.cases,
            self.act_accuracy * 100.0
        );
        let a = &self.agreements;
        out.push_str(&format!(
            "Offers: {} right agreements, {} UNSAFE agreements, {} missed offers, {} right refusals\n",
            a.right_agreements, a.unsafe_agreements, a.missed_offers, a.right_refusals
        ));
        out.push_str("\nper act (read right / cases):\n");
        for (act, (right, total)) in &self.per_act {
            out.push_str(&format!("  {act:<18} {right:>3} / {total:<3}\n"));
        }
        if !self.fields.is_empty() {
            out.push_str("\noffer amounts read right:\n");
            for (field, (right, total)) in &self.fields {
                out.push_str(&format!("  {field:<18} {right:>3} / {total:<3}\n"));
            }
        }
        let mut misses: Vec<&TurnResult> = self
            .results
            .iter()
            .filter(|r| {
                r.expected != r.predicted
                    || (r.agreed && r.should_agree != Some(true))
                    || (!r.agreed && r.should_agree == Some(true))
                    || !r.wrong_fields.is_empty()
            })
            .collect();
        misses.sort_by_key(|r| !(r.agreed && r.should_agree != Some(true)));
        if !misses.is_empty() {
            out.push_str(&format!("\nmisses ({}):\n", misses.len()));
        }
        for miss in misses.iter().take(max_errors) {
            let agreement = match (miss.agreed, miss.should_agree) {
                (true, Some(true)) | (false, None) | (false, Some(false)) => "",
                (true, _) => " UNSAFE AGREEMENT",
                (false, Some(true)) => " missed offer",
            };
            out.push_str(&format!(
                "  {} expected {} read {}{agreement}{}: {}\n",
                miss.id,
                miss.expected,
                miss.predicted,
                if miss.wrong_fields.is_empty() {
                    String::new()
                } else {
                    format!(" (wrong: {})", miss.wrong_fields.join(", "))
                },
                miss.detail
            ));
        }
        out
    }
}
