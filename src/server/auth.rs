//! Who may call the HTTP API, and from where.
//!
//! Every `/v1` route needs a bearer API key (`Authorization: Bearer ck_...`).
//! A key speaks for one principal:
//! - the **operator** runs this Concierge: registers and removes merchants,
//!   sees every request, order and payment;
//! - a **shopper** shops, and sees and cancels only their own requests and
//!   orders;
//! - a **merchant** replaces its own catalog feed.
//!
//! Only the SHA-256 of a key's secret is stored (the secret has 192 random
//! bits, so a plain hash cannot be reversed); the secret is shown once.
//!
//! Browsers get two more guards, since a page in the operator's own browser
//! can reach loopback: the `Host` must be an IP address, `localhost` or a
//! host the operator allowed (against DNS rebinding), and a cross-site
//! `Origin` is refused.

use crate::error::OrderError;
use crate::order::Store;
use crate::store::{now_secs, ApiKeyRecord};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Operator,
    Shopper,
    Merchant,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Operator => "operator",
            Scope::Shopper => "shopper",
            Scope::Merchant => "merchant",
        }
    }

    pub fn parse(text: &str) -> Option<Scope> {
        match text {
            "operator" => Some(Scope::Operator),
            "shopper" => Some(Scope::Shopper),
            "merchant" => Some(Scope::Merchant),
            _ => None,
        }
    }

    /// The secret's prefix, so a leaked key says what it opens.
    fn secret_prefix(self) -> &'static str {
        match self {
            Scope::Operator => "ck_op_",
            Scope::Shopper => "ck_shop_",
            Scope::Merchant => "ck_merch_",
        }
    }
}

/// The caller of a request, from its API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub scope: Scope,
    /// A shopper's name, a merchant's id; "operator" for the operator.
    pub subject: String,
}

impl Principal {
    pub fn is_operator(&self) -> bool {
        self.scope == Scope::Operator
    }

    /// Whose orders and requests this caller sees: `None` for all (the
    /// operator), else the shopper's own.
    pub fn shopper(&self) -> Option<&str> {
        (!self.is_operator()).then_some(self.subject.as_str())
    }

    /// Whether this caller may see what `owner` (a shopper, or "" for the
    /// operator's own) made.
    pub fn may_see(&self, owner: &str) -> bool {
        self.is_operator() || (self.scope == Scope::Shopper && owner == self.subject)
    }
}

/// A key just made: its secret is shown once, then only its hash is kept.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    pub record: ApiKeyRecord,
    pub secret: String,
}

/// Makes and stores a key of `scope` for `subject`.
pub fn create_key(
    store: &Store,
    scope: Scope,
    subject: &str,
    label: &str,
) -> Result<NewKey, OrderError> {
    let subject = subject.trim();
    if subject.is_empty() || subject.chars().count() > 200 {
        return Err(OrderError::Invalid(
            "a key's subject must be 1 to 200 characters".into(),
        ));
    }
    let secret = format!(
        "{}{}",
        scope.secret_prefix(),
        crate::merchant::messenger::signature::random_token(24)
    );
    let record = ApiKeyRecord {
        id: format!(
            "key_{}",
            crate::merchant::messenger::signature::random_token(6)
        ),
        scope: scope.as_str().to_string(),
        subject: subject.to_string(),
        label: label.trim().to_string(),
        shown_prefix: secret
            .chars()
            .take(scope.secret_prefix().len() + 4)
            .collect(),
        created_at: now_secs(),
        last_used_at: None,
        revoked_at: None,
    };
    store.insert_api_key(&record, &secret_sha256(&secret))?;
    Ok(NewKey { record, secret })
}

/// The operator key made on first start: `None` when a live operator key
/// exists already.
pub fn first_operator_key(store: &Store) -> Result<Option<NewKey>, OrderError> {
    let any_live = store
        .api_keys()?
        .iter()
        .any(|key| key.scope == "operator" && key.revoked_at.is_none());
    if any_live {
        return Ok(None);
    }
    create_key(store, Scope::Operator, "operator", "made on first start").map(Some)
}

/// The principal a presented secret belongs to, if it is a live key.
pub fn authenticate(store: &Store, secret: &str) -> Result<Option<Principal>, OrderError> {
    if secret.is_empty() || secret.len() > 200 {
        return Ok(None);
    }
    let Some(key) = store.live_api_key(&secret_sha256(secret))? else {
        return Ok(None);
    };
    Ok(Scope::parse(&key.scope).map(|scope| Principal {
        scope,
        subject: key.subject,
    }))
}

fn secret_sha256(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The bearer token of an `Authorization` header value.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Whether a `Host` header names this server safely: an IP address (DNS
/// rebinding needs a name), `localhost`, or a host in `allowed`.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = host_name(host);
    if name.is_empty() {
        return false;
    }
    name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || allowed
            .iter()
            .any(|allowed| host_name(allowed).eq_ignore_ascii_case(name))
}

/// "example.com:8080" → "example.com"; "[::1]:80" → "::1".
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether a browser's `Origin` is this server itself (same scheme-less
/// host and port as `Host`). `null` and other origins are cross-site.
pub fn same_origin(origin: &str, host: &str) -> bool {
    let Ok(origin) = url::Url::parse(origin) else {
        return false;
    };
    let Some(origin_host) = origin.host_str() else {
        return false;
    };
    let origin_authority = match origin.port() {
        Some(port) => format!("{origin_host}:{port}"),
        None => origin_host.to_string(),
    };
    origin_authority.eq_ignore_ascii_case(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_authenticates_until_revoked_and_only_its_hash_is_stored() {
        let store = Store::in_memory().unwrap();
        let key = create_key(&store, Scope::Shopper, "alice", "phone").unwrap();
        assert!(key.secret.starts_with("ck_shop_"));
        let principal = authenticate(&store, &key.secret).unwrap().unwrap();
        assert_eq!(principal.scope, Scope::Shopper);
        assert_eq!(principal.shopper(), Some("alice"));
        assert!(authenticate(&store, "ck_shop_wrong").unwrap().is_none());
        let listed = store.api_keys().unwrap();
        assert!(listed[0].last_used_at.is_some());
        assert!(!format!("{listed:?}").contains(&key.secret));
        assert!(store.revoke_api_key(&key.record.id).unwrap());
        assert!(authenticate(&store, &key.secret).unwrap().is_none());
    }

    #[test]
    fn removing_a_merchant_revokes_its_keys() {
        let store = Store::in_memory().unwrap();
        let merchant = crate::order::MerchantRecord {
            id: "lakeside".into(),
            name: "Lakeside".into(),
            protocol: "messenger".into(),
            endpoint: "https://lakeside.example/webhook".into(),
            page_id: "page-lakeside".into(),
            verify_token: "t".into(),
            app_secret: "s".into(),
            page_access_token: "EAAtoken1234".into(),
            feed_path: "merchants/lakeside.jsonl".into(),
            created_at: 0,
            live_catalog: false,
        };
        store.insert_merchant_if_new(&merchant).unwrap();
        let key = create_key(&store, Scope::Merchant, "lakeside", "").unwrap();
        assert!(authenticate(&store, &key.secret).unwrap().is_some());
        assert!(store.remove_merchant("lakeside").unwrap());
        assert!(authenticate(&store, &key.secret).unwrap().is_none());
    }

    #[test]
    fn the_first_operator_key_is_made_once() {
        let store = Store::in_memory().unwrap();
        assert!(first_operator_key(&store).unwrap().is_some());
        assert!(first_operator_key(&store).unwrap().is_none());
    }

    #[test]
    fn hosts_and_origins() {
        let allowed = vec!["shop.example.com".to_string()];
        for (host, ok) in [
            ("127.0.0.1:8080", true),
            ("[::1]:8080", true),
            ("localhost:8080", true),
            ("LOCALHOST", true),
            ("shop.example.com", true),
            ("shop.example.com:443", true),
            ("attacker.example", false),
            ("attacker.example:8080", false),
            ("", false),
        ] {
            assert_eq!(host_allowed(host, &allowed), ok, "{host}");
        }
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(same_origin("http://localhost:8080", "localhost:8080"));
        assert!(!same_origin("http://evil.example", "127.0.0.1:8080"));
        assert!(!same_origin("null", "127.0.0.1:8080"));
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
    }
}
