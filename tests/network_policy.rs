//! Merchant endpoints cannot reach internal services. Properties checked:
//! - a corpus of URLs with literal-IP tricks (decimal, octal, hex, IPv4-mapped
//!   IPv6, 0.0.0.0, metadata, private ranges) is refused under the default
//!   public-only policy, and public addresses are accepted;
//! - a host name is checked at connection time: a name resolving to loopback
//!   is refused by the resolver the client connects through;
//! - the transport refuses loopback endpoints unless explicitly allowed, and
//!   never follows a redirect.

mod common;

use axum::response::Redirect;
use axum::routing::post;
use axum::Router;
use concierge::merchant::messenger::session::ShopperMessage;
use concierge::merchant::network::{GuardedResolver, NetworkPolicy};
use concierge::negotiate::Transport;
use reqwest::dns::Resolve;
use std::str::FromStr;
use std::time::Duration;

#[test]
fn literal_ip_tricks_are_refused_and_public_addresses_accepted() {
    let policy = NetworkPolicy::public_only();
    let refused = [
        "http://127.0.0.1/webhook",
        "http://127.1/webhook",
        "http://2130706433/webhook",
        "http://0177.0.0.1/webhook",
        "http://0x7f.0.0.1/webhook",
        "http://0x7f000001/webhook",
        "http://[::1]/webhook",
        "http://[::ffff:127.0.0.1]/webhook",
        "http://[::ffff:7f00:1]/webhook",
        "http://[::127.0.0.1]/webhook",
        "http://0.0.0.0/webhook",
        "http://0/webhook",
        "http://[::]/webhook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/webhook",
        "http://10.0.0.1/webhook",
        "http://172.16.5.4/webhook",
        "http://192.168.1.1/webhook",
        "http://100.64.0.1/webhook",
        "http://[fd00::1]/webhook",
        "http://[::ffff:10.0.0.1]/webhook",
        "http://255.255.255.255/webhook",
        "http://224.0.0.1/webhook",
        "http://localhost/webhook",
        "http://LOCALHOST./webhook",
        "http://api.localhost/webhook",
        "http://user:pass@example.com/webhook",
        "ftp://example.com/webhook",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "not a url",
        "http://[::1/webhook",
        // IPv6 forms that embed an IPv4 address a gateway reaches: NAT64
        // (to 127.0.0.1 and to the metadata service), its local-use
        // prefix, 6to4 (to 10.0.0.1) and Teredo (client 192.168.1.1).
        "http://[64:ff9b::7f00:1]/webhook",
        "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
        "http://[64:ff9b:1::808:808]/webhook",
        "http://[2002:a00:1::1]/webhook",
        "http://[2001:0:5db8:1::3f57:fefe]/webhook",
    ];
    for url in refused {
        assert!(policy.check_url(url).is_err(), "{url} was accepted");
    }
    let accepted = [
        "https://shop.example.com/webhook",
        "http://93.184.216.34/webhook",
        "https://[2606:4700::1111]/webhook",
        "http://8.8.8.8:8080/hook",
        // The same forms around a public address.
        "http://[64:ff9b::808:808]/webhook",
        "http://[2002:808:808::1]/webhook",
    ];
    for url in accepted {
        assert!(
            policy.check_url(url).is_ok(),
            "{url} was refused: {:?}",
            policy.check_url(url)
        );
    }
    // Loopback only by an explicit setting, and still nothing else.
    let loopback = NetworkPolicy::with_loopback();
    assert!(loopback.check_url("http://127.0.0.1:8080/webhook").is_ok());
    assert!(loopback.check_url("http://169.254.169.254/").is_err());
    assert!(loopback.check_url("http://10.1.2.3/").is_err());
}

#[tokio::test]
async fn names_are_checked_where_they_resolve() {
    let public = GuardedResolver {
        policy: NetworkPolicy::public_only(),
    };
    let name = reqwest::dns::Name::from_str("localhost").unwrap();
    let resolved = public.resolve(name).await;
    assert!(
        resolved.is_err(),
        "localhost resolved to an allowed address"
    );

    let loopback = GuardedResolver {
        policy: NetworkPolicy::with_loopback(),
    };
    let name = reqwest::dns::Name::from_str("localhost").unwrap();
    let addresses: Vec<_> = loopback.resolve(name).await.unwrap().collect();
    assert!(addresses.iter().all(|a| a.ip().is_loopback()));
}

#[tokio::test]
async fn the_transport_refuses_loopback_by_default_and_follows_no_redirects() {
    let world = common::TestWorld::start(common::small_catalogs(), vec![], |_| {}).await;
    // The same address as a registered merchant's: the responder is not
    // one this transport's process vouches for.
    let endpoint = concierge::negotiate::MerchantEndpoint {
        served_here: false,
        live_catalog: false,
        ..world.merchant("alpha").endpoint.clone()
    };
    let hello = ShopperMessage::Text {
        text: "A-100".into(),
        quick_reply_payload: None,
        payment: None,
    };

    let public_only =
        Transport::with_policy(Duration::from_secs(2), 65536, NetworkPolicy::public_only());
    let error = public_only
        .send(&endpoint, "psid", &hello)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("endpoint refused: 127.0.0.1 is a loopback address"),
        "{error}"
    );

    // A merchant that redirects to its neighbour is not followed there.
    let target = endpoint.url.clone();
    let router = Router::new().route(
        "/webhook",
        post(move || async move { Redirect::temporary(&target) }),
    );
    let redirecting = common::endpoint("alpha", "Redirector", common::serve_router(router).await);
    let transport = Transport::with_policy(
        Duration::from_secs(2),
        65536,
        NetworkPolicy::with_loopback(),
    );
    let error = transport
        .send(&redirecting, "psid", &hello)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("HTTP 307"), "{error}");
    world.stop().await;
}

/// https endpoints are spoken to over TLS: a plain-HTTP server behind an
/// https URL fails the handshake with a transport error, not a panic.
#[tokio::test]
async fn https_endpoints_use_tls() {
    let world = common::TestWorld::start(common::small_catalogs(), vec![], |_| {}).await;
    let mut endpoint = world.merchant("alpha").endpoint.clone();
    endpoint.url = endpoint.url.replacen("http://", "https://", 1);
    let transport = Transport::with_policy(
        Duration::from_secs(2),
        65536,
        NetworkPolicy::with_loopback(),
    );
    let hello = ShopperMessage::Text {
        text: "A-100".into(),
        quick_reply_payload: None,
        payment: None,
    };
    let error = transport
        .send(&endpoint, "psid", &hello)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("transport error"), "{error}");
    world.stop().await;
}
