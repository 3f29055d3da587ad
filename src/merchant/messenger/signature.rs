//! `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app_secret, raw body)>`,
//! verified on the raw bytes in constant time. Events also carry Messenger's
//! legacy `X-Hub-Signature: sha1=<hex HMAC-SHA1>`, the only one Meta's sample
//! bots check.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
/// The legacy SHA-1 signature header.
pub const SHA1_SIGNATURE_HEADER: &str = "x-hub-signature";

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<sha1::Sha1>;

/// The legacy header value for `body`: `sha1=<hex HMAC-SHA1>`.
pub fn sign_sha1(app_secret: &str, body: &[u8]) -> String {
    let mut mac =
        HmacSha1::new_from_slice(app_secret.as_bytes()).expect("hmac takes any key length");
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The header value for `body` signed with `app_secret`.
pub fn sign(app_secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        HmacSha256::new_from_slice(app_secret.as_bytes()).expect("hmac takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is a valid signature of `body` under `app_secret`.
pub fn verify(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex_digest) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let mut mac =
        HmacSha256::new_from_slice(app_secret.as_bytes()).expect("hmac takes any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// A random hex token (secrets, page access tokens, payment credentials).
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    // Without an OS random source no secret can be made safely; that is a
    // broken machine, not bad input, so it is the one place we stop.
    getrandom::fill(&mut buffer).expect("the operating system's random source is unavailable");
    hex::encode(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_reject_tampering() {
        let body = br#"{"object":"page"}"#;
        let header = sign("secret", body);
        assert!(header.starts_with("sha256="));
        assert!(verify("secret", body, &header));
        assert!(!verify("other", body, &header));
        assert!(!verify("secret", b"{\"object\":\"pagE\"}", &header));
        assert!(!verify("secret", body, "sha1=abc"));
        assert!(!verify("secret", body, "sha256=zz"));
        assert!(!verify("secret", body, ""));
    }

    #[test]
    fn the_legacy_signature_matches_a_known_digest() {
        // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog"),
        // the example of RFC 2104's Wikipedia page.
        assert_eq!(
            sign_sha1("key", b"The quick brown fox jumps over the lazy dog"),
            "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        );
    }

    #[test]
    fn random_tokens_differ() {
        assert_ne!(random_token(16), random_token(16));
        assert_eq!(random_token(16).len(), 32);
    }
}
