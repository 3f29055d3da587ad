//! Which network addresses merchant endpoints may have. A registered URL must
//! not make Concierge reach internal services, so:
//! - literal IP hosts are checked after the URL parser has normalised them
//!   (decimal `2130706433`, octal `0177.0.0.1`, hex `0x7f.1`, and
//!   `[::ffff:127.0.0.1]` all become the address they mean), and IPv6 forms
//!   that embed an IPv4 address (NAT64, 6to4, Teredo) by the address they
//!   embed;
//! - host names are checked at connection time by [`GuardedResolver`]: the
//!   HTTP client only ever connects to the addresses the resolver returns, and
//!   it returns only allowed ones, so a name that later resolves elsewhere
//!   cannot slip through;
//! - redirects are never followed (see the transport).
//!
//! By default only public unicast addresses are allowed. Loopback is allowed
//! only by an explicit setting, for tests and the demo.

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Said with every refusal of a loopback endpoint: how to allow them.
pub const LOOPBACK_HINT: &str = "this deployment allows public merchant endpoints only; for local testing allow loopback with `concierge settings allow-loopback on`";

/// What merchant endpoints may point at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Allow 127.0.0.0/8 and ::1 (tests and the demo only).
    pub allow_loopback: bool,
    /// Allow private ranges (10/8, 172.16/12, 192.168/16, fc00::/7, 100.64/10).
    pub allow_private: bool,
}

impl NetworkPolicy {
    /// Public addresses only: the default for registered merchants.
    pub fn public_only() -> NetworkPolicy {
        NetworkPolicy::default()
    }

    /// The policy a merchant endpoint is reached under: one this process
    /// serves itself (`served_here`, the demo world's) is on loopback
    /// whatever the deployment allows; any other, this policy.
    pub fn for_merchant(self, served_here: bool) -> NetworkPolicy {
        if served_here {
            NetworkPolicy::with_loopback()
        } else {
            self
        }
    }

    /// Public and loopback addresses: the demo world and tests.
    pub fn with_loopback() -> NetworkPolicy {
        NetworkPolicy {
            allow_loopback: true,
            allow_private: false,
        }
    }

    /// Why `ip` is refused, or `None` when allowed.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        match ip {
            IpAddr::V4(v4) => self.refusal_v4(v4),
            IpAddr::V6(v6) => {
                // IPv4-mapped and -compatible forms are judged as IPv4.
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return self.refusal_v4(v4);
                }
                let segments = v6.segments();
                if segments[..6].iter().all(|s| *s == 0)
                    && !v6.is_loopback()
                    && !v6.is_unspecified()
                {
                    return self.refusal_v4(Ipv4Addr::new(
                        (segments[6] >> 8) as u8,
                        segments[6] as u8,
                        (segments[7] >> 8) as u8,
                        segments[7] as u8,
                    ));
                }
                if let Some(refusal) = self.embedded_v4_refusal(v6) {
                    return Some(refusal);
                }
                self.refusal_v6(v6)
            }
        }
    }

    /// IPv6 forms that carry an IPv4 address a gateway will reach are
    /// judged by that address: NAT64's well-known prefix 64:ff9b::/96, 6to4
    /// 2002::/16 and Teredo 2001::/32 (its server and its client, which is
    /// stored inverted). NAT64's local-use prefix 64:ff9b:1::/48 reaches a
    /// site's own network: private.
    fn embedded_v4_refusal(&self, ip: Ipv6Addr) -> Option<&'static str> {
        let s = ip.segments();
        let v4 = |high: u16, low: u16| {
            Ipv4Addr::new((high >> 8) as u8, high as u8, (low >> 8) as u8, low as u8)
        };
        match s {
            [0x64, 0xff9b, 0, 0, 0, 0, high, low] => self.refusal_v4(v4(high, low)),
            [0x64, 0xff9b, 1, ..] => (!self.allow_private).then_some("NAT64 local-use address"),
            [0x2002, high, low, ..] => self.refusal_v4(v4(high, low)),
            [0x2001, 0, server_high, server_low, _, _, client_high, client_low] => self
                .refusal_v4(v4(server_high, server_low))
                .or_else(|| self.refusal_v4(v4(!client_high, !client_low))),
            _ => None,
        }
    }

    fn refusal_v4(&self, ip: Ipv4Addr) -> Option<&'static str> {
        let octets = ip.octets();
        if ip.is_loopback() {
            return (!self.allow_loopback).then_some("loopback address");
        }
        if ip.is_unspecified() || octets[0] == 0 {
            return Some("unspecified address");
        }
        if ip.is_link_local() {
            return Some("link-local address (cloud metadata lives here)");
        }
        let shared = octets[0] == 100 && (64..128).contains(&octets[1]);
        if ip.is_private() || shared {
            return (!self.allow_private).then_some("private address");
        }
        if ip.is_broadcast() || ip.is_multicast() || octets[0] >= 240 {
            return Some("broadcast, multicast or reserved address");
        }
        if ip.is_documentation() || (octets[0] == 198 && (octets[1] == 18 || octets[1] == 19)) {
            return Some("documentation or benchmarking address");
        }
        None
    }

    fn refusal_v6(&self, ip: Ipv6Addr) -> Option<&'static str> {
        let first = ip.segments()[0];
        if ip.is_loopback() {
            return (!self.allow_loopback).then_some("loopback address");
        }
        if ip.is_unspecified() {
            return Some("unspecified address");
        }
        if first & 0xffc0 == 0xfe80 {
            return Some("link-local address");
        }
        if first & 0xfe00 == 0xfc00 {
            return (!self.allow_private).then_some("private address");
        }
        if ip.is_multicast() {
            return Some("multicast address");
        }
        if first == 0x2001 && ip.segments()[1] == 0x0db8 {
            return Some("documentation address");
        }
        None
    }

    /// Checks a URL's scheme and, for literal IP hosts, the address.
    /// Host names are checked again when connecting ([`GuardedResolver`]).
    pub fn check_url(&self, text: &str) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(text.trim()).map_err(|e| format!("not a valid URL: {e}"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("scheme {:?} is not http or https", url.scheme()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("URLs with credentials are not accepted".into());
        }
        match url.host() {
            None => Err("the URL has no host".into()),
            Some(url::Host::Ipv4(ip)) => match self.refusal(IpAddr::V4(ip)) {
                Some(reason) => Err(refused(ip, reason)),
                None => Ok(url),
            },
            Some(url::Host::Ipv6(ip)) => match self.refusal(IpAddr::V6(ip)) {
                Some(reason) => Err(refused(ip, reason)),
                None => Ok(url),
            },
            Some(url::Host::Domain(domain)) => {
                let lower = domain.trim_end_matches('.').to_ascii_lowercase();
                if (lower == "localhost" || lower.ends_with(".localhost")) && !self.allow_loopback {
                    Err(refused("localhost", "loopback address"))
                } else {
                    Ok(url)
                }
            }
        }
    }
}

/// "127.0.0.1 is a loopback address", with how to allow loopback when that
/// is the reason.
fn refused(host: impl std::fmt::Display, reason: &str) -> String {
    if reason == "loopback address" {
        format!("{host} is a {reason} ({LOOPBACK_HINT})")
    } else {
        format!("{host} is a {reason}")
    }
}

/// A DNS resolver that returns only addresses the policy allows, so the
/// client cannot connect anywhere else whatever a name resolves to.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub policy: NetworkPolicy,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|address| policy.refusal(address.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                let hint = if !policy.allow_loopback
                    && resolved.iter().any(|address| address.ip().is_loopback())
                {
                    format!(" ({LOOPBACK_HINT})")
                } else {
                    String::new()
                };
                let error: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves only to addresses merchants may not use{hint}").into();
                return Err(error);
            }
            let addresses: Addrs = Box::new(allowed.into_iter());
            Ok(addresses)
        })
    }
}
