//! Shipping rates: which options a session is offered, by the country it
//! ships to, and what each costs once free-shipping promotions apply.

use super::{Session, UcpMerchant};
use crate::catalog::MerchantProfile;

/// How fast a rate ships. A session is offered one option per level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceLevel {
    Standard,
    Express,
}

impl ServiceLevel {
    const ALL: [ServiceLevel; 2] = [ServiceLevel::Standard, ServiceLevel::Express];

    /// The option's description (the spec's supplementary context: timing).
    fn description(self) -> &'static str {
        match self {
            ServiceLevel::Standard => "Arrives in 5-7 business days",
            ServiceLevel::Express => "Arrives in 2-3 business days",
        }
    }
}

/// What one service level costs to one country: an option sessions offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingRate {
    /// The option's id in sessions ("std-ship").
    pub id: String,
    /// The destination country it applies to (ISO 3166-1 alpha-2), or
    /// `None` for every country without a rate of its own at this level
    /// (and for a session with no destination yet).
    pub country: Option<String>,
    pub level: ServiceLevel,
    /// Minor units, in the merchant's currency.
    pub price: i64,
    pub title: String,
}

impl ShippingRate {
    /// A flat merchant's rates: standard at the profile's flat rate and
    /// express at twice that, at least 10.00, to anywhere.
    pub fn flat(profile: &MerchantProfile) -> Vec<ShippingRate> {
        let standard = profile.shipping.max(0);
        vec![
            ShippingRate {
                id: "std-ship".into(),
                country: None,
                level: ServiceLevel::Standard,
                price: standard,
                title: "Standard Shipping".into(),
            },
            ShippingRate {
                id: "exp-ship".into(),
                country: None,
                level: ServiceLevel::Express,
                price: standard.saturating_mul(2).max(1000),
                title: "Express Shipping".into(),
            },
        ]
    }
}

/// An option as a session shows it: its rate with promotions applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PricedOption {
    pub id: String,
    pub title: String,
    pub description: &'static str,
    pub amount: i64,
}

impl UcpMerchant {
    /// The rates a session is offered: for each service level, the rate
    /// for its selected destination's country, else the rate for any
    /// country.
    pub(super) fn offered_rates(&self, session: &Session) -> Vec<&ShippingRate> {
        let country = session
            .selected_destination
            .as_ref()
            .and_then(|id| session.destinations.iter().find(|d| &d.id == id))
            .and_then(|d| d.address.address_country.as_deref())
            .map(str::trim);
        ServiceLevel::ALL
            .into_iter()
            .filter_map(|level| {
                let at_level = || {
                    self.config
                        .shipping_rates
                        .iter()
                        .filter(move |rate| rate.level == level)
                };
                let for_country = country.and_then(|country| {
                    at_level().find(|rate| {
                        rate.country
                            .as_deref()
                            .is_some_and(|c| c.eq_ignore_ascii_case(country))
                    })
                });
                for_country.or_else(|| at_level().find(|rate| rate.country.is_none()))
            })
            .collect()
    }

    /// The session's options, priced: standard shipping is free from the
    /// profile's `free_shipping_over` (on the subtotal before discounts) or
    /// when a line holds one of [`UcpMerchantConfig::free_shipping_items`];
    /// express never costs less than standard.
    ///
    /// [`UcpMerchantConfig::free_shipping_items`]: super::UcpMerchantConfig::free_shipping_items
    pub(super) fn priced_options(&self, session: &Session, subtotal: i64) -> Vec<PricedOption> {
        let profile = &self.config.profile;
        let free_standard = (profile.free_shipping_over > 0
            && subtotal >= profile.free_shipping_over)
            || session.lines.iter().any(|line| {
                let product = &self.products[line.product];
                let variant = &product.variants[line.variant];
                self.config
                    .free_shipping_items
                    .iter()
                    .any(|item| *item == variant.id || *item == product.id)
            });
        let rates = self.offered_rates(session);
        let standard = rates
            .iter()
            .find(|rate| rate.level == ServiceLevel::Standard)
            .map(|rate| if free_standard { 0 } else { rate.price.max(0) });
        rates
            .into_iter()
            .map(|rate| {
                let amount = match rate.level {
                    ServiceLevel::Standard => standard.unwrap_or(0),
                    ServiceLevel::Express => rate.price.max(standard.unwrap_or(0)),
                };
                let title = if amount == 0 && !rate.title.to_lowercase().contains("free") {
                    format!("Free {}", rate.title)
                } else {
                    rate.title.clone()
                };
                PricedOption {
                    id: rate.id.clone(),
                    title,
                    description: rate.level.description(),
                    amount,
                }
            })
            .collect()
    }
}
