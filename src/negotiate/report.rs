//! Renders a [`ShopReport`] for a terminal, in the order a shopper reads it:
//! the parsed request, the candidate offers, each conversation, the checks on
//! each invoice, the choice and its reason, and the receipt.

use super::orchestrate::ShopReport;
use crate::merchant::messenger::session::Speaker;
use std::fmt::Write;

/// Longest candidate list printed; the JSON report has them all.
const MAX_CANDIDATES_SHOWN: usize = 12;

impl ShopReport {
    pub fn render(&self) -> String {
        if !self.basket.is_empty() {
            let mut out = format!(
                "== Basket request\n{:?}\nParsed: {}\n",
                self.request,
                self.intent.summary()
            );
            for (index, item) in self.basket.iter().enumerate() {
                let product = item
                    .intent
                    .first_item()
                    .and_then(|i| i.product.clone())
                    .unwrap_or_default();
                out.push_str(&format!(
                    "\n######## Item {} of {}: {product}\n",
                    index + 1,
                    self.basket.len()
                ));
                out.push_str(&item.render());
            }
            for note in &self.notes {
                out.push_str(&format!("\n{note}\n"));
            }
            return out;
        }
        let mut out = String::new();
        let intent = &self.intent;
        let _ = writeln!(out, "== Request\n{:?}", self.request);
        let _ = writeln!(out, "Parsed: {}", intent.summary());
        if !intent.trace.is_empty() {
            let fired: Vec<String> = intent
                .trace
                .iter()
                .map(|f| format!("{} ({:?})", f.rule, f.matched))
                .collect();
            let _ = writeln!(out, "Rules fired: {}", fired.join(", "));
        }
        for diagnostic in &intent.diagnostics {
            let _ = writeln!(out, "Note: {diagnostic}");
        }
        if let Some(max) = self.mandate.max_total {
            let _ = writeln!(
                out,
                "Mandate: at most {} per order",
                crate::money::Money::new(max, self.mandate.currency.clone())
            );
        }

        if !self.candidates.is_empty() {
            let _ = writeln!(out, "\n== Candidate offers ({})", self.candidates.len());
            // Contacted offers first, then the best of the rest.
            let mut order: Vec<usize> = (0..self.candidates.len())
                .filter(|&i| self.candidates[i].contacted)
                .collect();
            order.extend((0..self.candidates.len()).filter(|&i| !self.candidates[i].contacted));
            for (shown, &index) in order.iter().enumerate() {
                if shown >= MAX_CANDIDATES_SHOWN {
                    let _ = writeln!(out, "     ... and {} more", order.len() - shown);
                    break;
                }
                let candidate = &self.candidates[index];
                let offer = &candidate.offer;
                let _ = writeln!(
                    out,
                    "{:>3}. {:<26} {:<40} {:<20} {:>9}  {}",
                    index + 1,
                    truncate(&candidate.merchant_name, 26),
                    truncate(&offer.product_title, 40),
                    truncate(&offer.variant_label(), 20),
                    offer.price.to_string(),
                    candidate.note
                );
            }
            for group in &self.same_product_groups {
                let offers: Vec<String> = group
                    .iter()
                    .filter_map(|&i| self.candidates.get(i))
                    .map(|c| format!("{} {}", c.merchant_name, c.offer.price))
                    .collect();
                if let Some(first) = group.first().and_then(|&i| self.candidates.get(i)) {
                    let _ = writeln!(
                        out,
                        "     Same product, side by side: {}: {}",
                        first.offer.product_title,
                        offers.join(" | ")
                    );
                }
            }
        }

        if !self.conversations.is_empty() {
            let _ = writeln!(out, "\n== Conversations");
            for conversation in &self.conversations {
                let _ = writeln!(
                    out,
                    "-- {} ({}{})",
                    conversation.merchant_name,
                    conversation.merchant_id,
                    at_host(&conversation.merchant_host)
                );
                for line in &conversation.transcript {
                    let who = match line.speaker {
                        Speaker::Concierge => "Concierge".to_string(),
                        Speaker::Merchant => conversation.merchant_name.clone(),
                    };
                    let _ = writeln!(out, "   {who}: {}", line.text);
                }
                if let Some(failure) = &conversation.failure {
                    let _ = writeln!(out, "   => ended without an invoice: {failure}");
                }
            }

            let _ = writeln!(out, "\n== Invoice checks");
            for conversation in &self.conversations {
                let Some(invoice) = &conversation.invoice else {
                    let _ = writeln!(out, "-- {}: no invoice", conversation.merchant_name);
                    continue;
                };
                let verdict = if conversation.accepted {
                    "accepted".to_string()
                } else {
                    format!(
                        "REJECTED ({})",
                        conversation.rejection().unwrap_or_default()
                    )
                };
                let _ = writeln!(
                    out,
                    "-- {} {} total {}: {verdict}",
                    conversation.merchant_name,
                    invoice.order_number,
                    invoice.total_money()
                );
                for check in &conversation.checks {
                    let mark = if check.passed { "ok  " } else { "FAIL" };
                    let _ = writeln!(out, "   [{mark}] {:<20} {}", check.name, check.detail);
                }
            }
        }

        if let Some(choice) = &self.choice {
            let _ = writeln!(
                out,
                "\n== Choice\n{} ({}{}), total {}: {}.",
                choice.merchant_name,
                choice.order_number,
                at_host(&choice.merchant_host),
                choice.total,
                choice.reason
            );
        }
        if let Some(receipt) = &self.receipt {
            let _ = writeln!(out, "\n== Receipt");
            let _ = writeln!(
                out,
                "Order #{} - {} at {}{}",
                receipt.order_id,
                receipt.order_number,
                receipt.merchant_name,
                if receipt.merchant_host.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", receipt.merchant_host)
                }
            );
            if receipt.lines.len() > 1 {
                for line in &receipt.lines {
                    let _ = writeln!(
                        out,
                        "  {}{} x{} @ {}",
                        line.product_title,
                        variant_note(&line.variant),
                        line.quantity,
                        line.unit_price
                    );
                }
            } else {
                let _ = writeln!(
                    out,
                    "  {}{} x{} @ {}",
                    receipt.product_title,
                    variant_note(&receipt.variant),
                    receipt.quantity,
                    receipt.unit_price
                );
            }
            let _ = writeln!(
                out,
                "  Subtotal {}  Shipping {}  Tax {}  Total {}",
                receipt.subtotal, receipt.shipping, receipt.tax, receipt.total
            );
            let _ = writeln!(
                out,
                "  Payment {}: {:?}",
                receipt.payment_status, receipt.merchant_confirmation
            );
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out);
            for note in &self.notes {
                let _ = writeln!(out, "{note}");
            }
        }
        out
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max - 1).collect::<String>())
    }
}

/// ", at host:port" after a merchant's name, so a shopper sees where a
/// merchant answers as well as what it calls itself.
fn at_host(host: &str) -> String {
    if host.is_empty() {
        String::new()
    } else {
        format!(", at {host}")
    }
}

/// " (M / Gray)" after a product's title; nothing for a product without
/// variants.
fn variant_note(variant: &str) -> String {
    if variant.trim().is_empty() {
        String::new()
    } else {
        format!(" ({variant})")
    }
}
