//! Runtime configuration: where things live and how long Concierge waits.
//!
//! Every field documents its unit and default. Values come from
//! [`Config::default`], then from `CONCIERGE_*` environment variables, then
//! from command-line flags (applied by the binary).

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// Directory with the rule files. Default `rules`; when it does not exist
    /// the copies embedded in the binary are used. Env `CONCIERGE_RULES`.
    pub rules_dir: PathBuf,
    /// Directory holding the catalog of record (`catalog/`, with the kept
    /// feeds in `merchants/`), the demo world's feeds (`feeds/`) and its
    /// index (`demo/`). Default `index`. Env `CONCIERGE_INDEX`.
    pub index_dir: PathBuf,
    /// SQLite database with orders, payments and transcripts. Default
    /// `concierge.db`. Env `CONCIERGE_DB`.
    pub db_path: PathBuf,
    /// Longest wait for one merchant turn, in milliseconds. Default 10000;
    /// from `rules/policy.toml`. Env `CONCIERGE_TURN_TIMEOUT_MS`.
    pub turn_timeout: Duration,
    /// A merchant's turn that asked or offered nothing yet ends after the
    /// merchant has been quiet this long. Default 2500 ms; from
    /// `rules/policy.toml`, never above the turn timeout.
    pub turn_quiet: Duration,
    /// After a message that completes a turn (a question, an offer), what
    /// arrives within this long still belongs to it. Default 200 ms; from
    /// `rules/policy.toml`.
    pub turn_settle: Duration,
    /// Deadline for collecting every merchant's invoice, in milliseconds from
    /// the first message. Default 40000; from `rules/policy.toml`. Env
    /// `CONCIERGE_DEADLINE_MS`.
    pub negotiation_deadline: Duration,
    /// Largest merchant reply body accepted, in bytes. Default 65536.
    pub max_reply_bytes: usize,
    /// Most messages Concierge sends in one conversation before giving up on
    /// that merchant. Default 12.
    pub max_turns: u32,
    /// Most merchants contacted for one request. Default 8.
    pub max_merchants: usize,
    /// Allow merchant endpoints on loopback (127.0.0.0/8, ::1). Default
    /// false: only public addresses. The demo world and tests turn it on.
    /// Env `CONCIERGE_ALLOW_LOOPBACK=1`.
    pub allow_loopback: bool,
    /// One counter-offer is made when the best quote exceeds the budget by
    /// at most this many basis points of it (1000 = 10%). Default 1000;
    /// from `rules/policy.toml`.
    pub counter_offer_margin_bp: i64,
    /// The counter-offer's words; `{budget}` is filled in.
    pub counter_offer_text: String,
    /// What to do when a merchant asks for an option the request left open.
    pub open_choice: crate::negotiate::policy::OpenChoice,
    /// A basket is ordered in one order from one merchant when its catalog
    /// prices are at most this many basis points above the cheapest items
    /// found anywhere (1000 = 10%). Default 0: never dearer at catalog
    /// prices; from `rules/policy.toml`.
    pub basket_one_order_premium_bp: i64,
    /// The address given to merchants that ask where to ship: one line of
    /// text, or a JSON object of postal-address fields (`street_address`,
    /// `address_locality`, `address_region`, `postal_code`,
    /// `address_country`, `full_name`, ...) for businesses that need its
    /// parts, as UCP businesses do to price shipping
    /// ([`crate::merchant::protocol::address_text`]). Default none (such a
    /// merchant is left, with the reason). Env
    /// `CONCIERGE_SHIPPING_ADDRESS`.
    pub shipping_address: Option<String>,
    /// Host names the HTTP API answers to besides IP addresses and
    /// `localhost` (a request naming another host is refused, against DNS
    /// rebinding). Default none. Env `CONCIERGE_ALLOWED_HOSTS`, comma
    /// separated; `serve --allowed-host`.
    pub allowed_hosts: Vec<String>,
}

impl Default for Config {
    /// The negotiation's values are the policy's own defaults
    /// ([`NegotiationPolicy::default`]), written once there.
    ///
    /// [`NegotiationPolicy::default`]: crate::negotiate::policy::NegotiationPolicy
    fn default() -> Self {
        let policy = crate::negotiate::policy::NegotiationPolicy::default();
        Config {
            rules_dir: PathBuf::from("rules"),
            index_dir: PathBuf::from("index"),
            db_path: PathBuf::from("concierge.db"),
            turn_timeout: Duration::from_millis(policy.turn_timeout_ms),
            turn_quiet: Duration::from_millis(policy.turn_quiet_ms),
            turn_settle: Duration::from_millis(policy.turn_settle_ms),
            negotiation_deadline: Duration::from_millis(policy.deadline_ms),
            max_reply_bytes: 64 * 1024,
            max_turns: policy.max_turns,
            max_merchants: policy.max_merchants,
            allow_loopback: false,
            counter_offer_margin_bp: policy.counter_offer_margin_bp,
            counter_offer_text: policy.counter_offer_text,
            open_choice: policy.open_choice,
            basket_one_order_premium_bp: policy.basket_one_order_premium_bp,
            shipping_address: None,
            allowed_hosts: Vec::new(),
        }
    }
}

impl Config {
    /// Defaults, then the negotiation policy in the rules directory, then
    /// `CONCIERGE_*` environment variables.
    pub fn load() -> crate::Result<Config> {
        let config = Config::from_env()?;
        config.with_policy()
    }

    /// This configuration with the policy file of its rules directory
    /// applied (environment overrides still win).
    pub fn with_policy(mut self) -> crate::Result<Config> {
        let policy = crate::negotiate::policy::NegotiationPolicy::load(&self.rules_dir)?;
        policy.apply_to(&mut self);
        Ok(self)
    }

    /// Defaults overridden by `CONCIERGE_*` environment variables.
    pub fn from_env() -> crate::Result<Config> {
        let mut config = Config::default();
        if let Ok(value) = std::env::var("CONCIERGE_RULES") {
            config.rules_dir = value.into();
        }
        if let Ok(value) = std::env::var("CONCIERGE_INDEX") {
            config.index_dir = value.into();
        }
        if let Ok(value) = std::env::var("CONCIERGE_DB") {
            config.db_path = value.into();
        }
        if let Ok(value) = std::env::var("CONCIERGE_SHIPPING_ADDRESS") {
            config.shipping_address = Some(value).filter(|v| !v.trim().is_empty());
        }
        if let Ok(value) = std::env::var("CONCIERGE_ALLOWED_HOSTS") {
            config.allowed_hosts = value
                .split(',')
                .map(str::trim)
                .filter(|host| !host.is_empty())
                .map(String::from)
                .collect();
        }
        if let Ok(value) = std::env::var("CONCIERGE_ALLOW_LOOPBACK") {
            config.allow_loopback = matches!(value.trim(), "1" | "true" | "yes");
        }
        if let Some(ms) = env_millis("CONCIERGE_TURN_TIMEOUT_MS")? {
            config.turn_timeout = ms;
        }
        if let Some(ms) = env_millis("CONCIERGE_DEADLINE_MS")? {
            config.negotiation_deadline = ms;
        }
        Ok(config)
    }

    /// This configuration with the deployment's stored settings applied: a
    /// setting stored once (`concierge settings allow-loopback on`) holds
    /// for every later command, whatever the environment says.
    pub fn with_deployment(mut self, store: &crate::order::Store) -> crate::Result<Config> {
        let deployment = store.deployment()?;
        self.allow_loopback |= deployment.allow_loopback;
        Ok(self)
    }

    pub fn feeds_dir(&self) -> PathBuf {
        self.index_dir.join("feeds")
    }

    /// The catalog of record: the index of the merchants registered or
    /// loaded under this index directory, with their kept feeds.
    pub fn catalog_record(&self) -> crate::catalog::CatalogRecord {
        crate::catalog::CatalogRecord::new(&self.index_dir)
    }

    /// The demo world's own index, built from [`Config::feeds_dir`].
    pub fn demo_index_dir(&self) -> PathBuf {
        self.index_dir.join("demo")
    }

    /// How long a merchant's turn lasts (see [`TurnTiming`]).
    ///
    /// [`TurnTiming`]: crate::merchant::messenger::transport::TurnTiming
    pub fn turn_timing(&self) -> crate::merchant::messenger::transport::TurnTiming {
        let quiet = self.turn_quiet.min(self.turn_timeout);
        crate::merchant::messenger::transport::TurnTiming {
            timeout: self.turn_timeout,
            quiet,
            settle: self.turn_settle.min(quiet),
        }
    }

    /// The network policy for merchant endpoints.
    pub fn network_policy(&self) -> crate::merchant::network::NetworkPolicy {
        if self.allow_loopback {
            crate::merchant::network::NetworkPolicy::with_loopback()
        } else {
            crate::merchant::network::NetworkPolicy::public_only()
        }
    }
}

fn env_millis(name: &str) -> crate::Result<Option<Duration>> {
    match std::env::var(name) {
        Ok(value) => value
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| {
                crate::Error::Config(format!(
                    "{name} must be a whole number of milliseconds, got {value:?}"
                ))
            }),
        Err(_) => Ok(None),
    }
}
