//! Messenger's verification handshake, as a registration check: the
//! merchant's webhook must echo `hub.challenge` for its verify token.

use crate::merchant::messenger::signature::random_token;
use crate::merchant::registry::{Verification, MERCHANT_ID_PARAMETER};

/// Longest answer to the handshake read.
const MAX_CHALLENGE_REPLY_BYTES: usize = 1024;

/// Messenger's verification handshake, through the guarded client; the
/// merchant's registered id rides along for the reference responder.
pub async fn verify(verification: &Verification<'_>) -> Result<(), String> {
    let verify_token = verification.registration.verify_token.trim();
    if verify_token.is_empty() {
        return Err("a Messenger merchant needs a verify token".into());
    }
    let mut url = verification.url.clone();
    let challenge = random_token(12);
    url.query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.verify_token", verify_token)
        .append_pair("hub.challenge", &challenge)
        .append_pair(MERCHANT_ID_PARAMETER, verification.merchant_id);
    let response = verification
        .client
        .get(url)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("the endpoint answered HTTP {}", response.status()));
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_CHALLENGE_REPLY_BYTES {
            return Err("the answer is too long".into());
        }
    }
    if String::from_utf8_lossy(&body).trim() != challenge {
        return Err("the endpoint did not echo hub.challenge".into());
    }
    Ok(())
}
