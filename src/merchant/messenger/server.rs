//! The reference auto-responder's HTTP server: the Messenger webhook.
//!
//! - `GET /webhook?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`
//!   answers the challenge when the token matches (403 otherwise);
//! - `POST /webhook` takes a signed event and answers synchronously with
//!   `{"messages": [...]}` (our documented extension). A bad signature is 401,
//!   malformed JSON 400, a body over the limit 413.

use super::responder::Responder;
use super::signature::{verify, SIGNATURE_HEADER};
use super::wire::{SyncReply, WebhookEvent};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest webhook body the responder reads.
pub const MAX_WEBHOOK_BYTES: usize = 64 * 1024;

/// The responder's routes.
pub fn app(responder: Arc<Responder>) -> Router {
    Router::new()
        .route("/webhook", get(verify_subscription).post(receive_event))
        .layer(DefaultBodyLimit::max(MAX_WEBHOOK_BYTES))
        .with_state(responder)
}

async fn verify_subscription(
    State(responder): State<Arc<Responder>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let mode = params.get("hub.mode").map(String::as_str);
    let token = params.get("hub.verify_token").map(String::as_str);
    match (mode, token, params.get("hub.challenge")) {
        (Some("subscribe"), Some(token), Some(challenge))
            if token == responder.config().verify_token =>
        {
            // A verified registration says which id this merchant has at
            // that Concierge: its payment authorisations will name it.
            if let Some(id) = params.get(crate::merchant::registry::MERCHANT_ID_PARAMETER) {
                if responder.adopt_id(id) {
                    eprintln!(
                        "Registered with Concierge as merchant {id:?}; payments naming it are accepted (after a restart, pass --id {id})."
                    );
                }
            }
            (StatusCode::OK, challenge.clone()).into_response()
        }
        _ => (StatusCode::FORBIDDEN, "verification failed").into_response(),
    }
}

async fn receive_event(
    State(responder): State<Arc<Responder>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !verify(&responder.config().app_secret, &body, signature) {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({"error": {"code": "bad_signature", "message": "X-Hub-Signature-256 does not match"}}))).into_response();
    }
    let event: WebhookEvent = match serde_json::from_slice(&body) {
        Ok(event) => event,
        Err(error) => {
            return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": {"code": "malformed_event", "message": error.to_string()}}))).into_response();
        }
    };
    if event.object != "page" {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({"error": {"code": "unsupported_object", "message": "object must be \"page\""}}))).into_response();
    }
    let messages = responder.handle_event(&event);
    Json(SyncReply { messages }).into_response()
}

impl crate::merchant::protocol::ReferenceMerchant for Responder {
    fn router(self: Arc<Self>) -> Router {
        app(self)
    }

    fn endpoint(&self, base: &str) -> crate::merchant::protocol::MerchantEndpoint {
        let config = self.config();
        crate::merchant::protocol::MerchantEndpoint {
            merchant_id: config.profile.id.clone(),
            name: config.profile.name.clone(),
            protocol: "messenger".into(),
            url: format!("{}/webhook", base.trim_end_matches('/')),
            app_secret: config.app_secret.clone(),
            page_id: config.page_id.clone(),
            served_here: false,
            live_catalog: false,
        }
    }

    fn charges(&self) -> Vec<crate::merchant::protocol::Charge> {
        Responder::charges(self)
    }

    fn details(&self, base: &str) -> Vec<(&'static str, String)> {
        let config = self.config();
        vec![
            ("webhook", format!("{}/webhook", base.trim_end_matches('/'))),
            ("page id", config.page_id.clone()),
            ("app secret", config.app_secret.clone()),
            ("verify token", config.verify_token.clone()),
        ]
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn std::any::Any + Send + Sync> {
        self
    }
}
