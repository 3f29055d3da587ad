//! The reference UCP merchant's HTTP side: its routes, the handlers that
//! read a request into [`UcpMerchant`]'s operations, order-webhook delivery,
//! and the documents of the payment handlers it declares.

use super::{OrderEvent, Refusal, Reply, UcpMerchant, MAX_BODY_BYTES, MOCK_HANDLER_PATH};
use crate::merchant::network::NetworkPolicy;
use crate::merchant::ucp::wire::{
    ALLOWANCE_CREDENTIAL_TYPE, ALLOWANCE_HANDLER_NAME, ALLOWANCE_INSTRUMENT_TYPE, ORDER_CAPABILITY,
    UCP_VERSION,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::Arc;

/// Attempts per order event, and the wait between them.
const WEBHOOK_ATTEMPTS: usize = 3;
const WEBHOOK_RETRY_AFTER: std::time::Duration = std::time::Duration::from_millis(500);

/// The merchant's routes.
pub fn app(merchant: Arc<UcpMerchant>) -> Router {
    Router::new()
        .route("/.well-known/ucp", get(discovery))
        .route("/ucp/handlers/allowance", get(handler_spec))
        .route(
            "/ucp/handlers/allowance/config.json",
            get(handler_config_schema),
        )
        .route(
            "/ucp/handlers/allowance/instrument.json",
            get(handler_instrument_schema),
        )
        .route(MOCK_HANDLER_PATH, get(mock_handler_spec))
        .route(
            &format!("{MOCK_HANDLER_PATH}/config.json"),
            get(mock_handler_config_schema),
        )
        .route("/checkout-sessions", post(create_session))
        .route(
            "/checkout-sessions/{id}",
            get(get_session).put(update_session),
        )
        .route("/checkout-sessions/{id}/complete", post(complete_session))
        .route("/checkout-sessions/{id}/cancel", post(cancel_session))
        .route("/orders/{id}", get(get_order))
        .route("/catalog/search", catalog_read(UcpMerchant::catalog_search))
        .route("/catalog/lookup", catalog_read(UcpMerchant::catalog_lookup))
        .route("/catalog/product", catalog_read(UcpMerchant::catalog_detail))
        .route("/testing/simulate-shipping/{id}", post(simulate_shipping))
        .fallback(|| async {
            Refusal::new(StatusCode::NOT_FOUND, "not_found", "No such resource").reply()
        })
        .method_not_allowed_fallback(|| async {
            Refusal::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "invalid",
                "Method not allowed on this resource",
            )
            .reply()
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(merchant)
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

type Shared = State<Arc<UcpMerchant>>;

async fn discovery(State(merchant): Shared, headers: HeaderMap) -> Reply {
    match merchant.base_url(&headers) {
        Ok(base_url) => Reply {
            status: StatusCode::OK,
            body: merchant.profile_document(&base_url),
        },
        Err(reply) => reply,
    }
}

/// A catalog read: it changes nothing, so no idempotency key, and no
/// version check (the catalog is a 2026-04-08 capability).
fn catalog_read(
    read: fn(&UcpMerchant, &Value) -> Reply,
) -> axum::routing::MethodRouter<Arc<UcpMerchant>> {
    post(
        move |State(merchant): Shared, body: Result<Bytes, BytesRejection>| async move {
            match super::read_body(body) {
                Ok(body) => read(&merchant, &body),
                Err(reply) => reply,
            }
        },
    )
}

async fn create_session(
    State(merchant): Shared,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    merchant.mutate(&headers, "create", body, |state, context, body| {
        merchant.create(state, context, body)
    })
}

async fn get_session(State(merchant): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    merchant.read(&headers, |state, context| merchant.get(state, context, &id))
}

async fn update_session(
    State(merchant): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    merchant.mutate(
        &headers,
        &format!("update {id}"),
        body,
        |state, context, body| merchant.update(state, context, &id, body),
    )
}

async fn complete_session(
    State(merchant): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    let reply = merchant.mutate(
        &headers,
        &format!("complete {id}"),
        body,
        |state, context, body| merchant.complete(state, context, &id, body),
    );
    merchant.send_events();
    reply
}

async fn cancel_session(
    State(merchant): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Reply {
    merchant.mutate(
        &headers,
        &format!("cancel {id}"),
        body,
        |state, context, _| merchant.cancel(state, context, &id),
    )
}

async fn get_order(State(merchant): Shared, headers: HeaderMap, Path(id): Path<String>) -> Reply {
    merchant.read(&headers, |state, _| merchant.order_reply(state, &id))
}

async fn simulate_shipping(
    State(merchant): Shared,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Reply {
    let Some(secret) = &merchant.config.simulation_secret else {
        return Refusal::new(StatusCode::NOT_FOUND, "not_found", "No such resource").reply();
    };
    let given = headers
        .get("simulation-secret")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !same_secret(given, secret.as_bytes()) {
        return Refusal::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Simulation-Secret is missing or wrong",
        )
        .reply();
    }
    let reply = merchant.read(&headers, |state, context| {
        merchant.simulate_shipping(state, context.now, &id)
    });
    merchant.send_events();
    reply
}

/// Delivers one order event: reads the platform's profile, finds its order
/// capability's `webhook_url`, and POSTs the event there (up to three
/// attempts), every address checked against `policy`, every answer bounded.
pub(super) async fn deliver(
    client: &reqwest::Client,
    policy: NetworkPolicy,
    event: &OrderEvent,
) -> Result<(), String> {
    let profile_url = policy.check_url(&event.agent_profile)?;
    let response = client
        .get(profile_url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!(
            "the platform profile answered {}",
            response.status()
        ));
    }
    let profile: Value = serde_json::from_slice(&read_bounded(response, MAX_BODY_BYTES).await?)
        .map_err(|e| e.to_string())?;
    let webhook_url = platform_webhook(&profile).ok_or("the platform names no order webhook")?;
    let webhook_url = policy.check_url(&webhook_url)?;
    for attempt in 0..WEBHOOK_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(WEBHOOK_RETRY_AFTER).await;
        }
        let sent = client
            .post(webhook_url.clone())
            .json(&event.payload)
            .send()
            .await;
        if sent.is_ok_and(|answer| answer.status().is_success()) {
            return Ok(());
        }
    }
    Err("the platform's webhook did not take the event".into())
}

/// The order capability's `webhook_url` in a platform profile (capabilities
/// listed, or keyed by name as in 2026-04-08).
fn platform_webhook(profile: &Value) -> Option<String> {
    let capabilities = &profile.get("ucp")?.get("capabilities")?;
    let config = match capabilities {
        Value::Array(list) => list
            .iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(ORDER_CAPABILITY))?
            .get("config")?,
        Value::Object(by_name) => {
            let entry = by_name.get(ORDER_CAPABILITY)?;
            entry
                .as_array()
                .and_then(|a| a.first())
                .unwrap_or(entry)
                .get("config")?
        }
        _ => return None,
    };
    config.get("webhook_url")?.as_str().map(String::from)
}

async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if bytes.len() + chunk.len() > limit {
            return Err(format!("answer larger than {limit} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Compares secrets without stopping at the first difference.
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    given.len() == secret.len()
        && given
            .iter()
            .zip(secret)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

async fn handler_spec() -> Json<Value> {
    Json(json!({
        "name": ALLOWANCE_HANDLER_NAME,
        "version": UCP_VERSION,
        "title": "Concierge one-time allowance",
        "description": "Pays a UCP checkout with Concierge's one-time payment authorisation. The platform completes the checkout with an instrument of type 'allowance' whose credential (type 'allowance_token') carries the token, the authorisation's idempotency key, the allowance (reason one_time, max_amount in minor units, currency, checkout_session_id, merchant_id, expires_at in Unix seconds) and a binding to the checkout. The business charges the token at most once, only for that checkout and business, in that currency, up to max_amount, before expires_at; the same authorisation sent again is answered with the same completed checkout.",
        "participants": ["business", "platform"],
        "config": "config.json",
        "instrument": "instrument.json",
        "errors": {
            "payment_declined": "the allowance is for another checkout or business, in another currency, below the total, expired, or its token is empty (HTTP 402)"
        }
    }))
}

/// The test payment handlers' spec, served only when they are listed.
async fn mock_handler_spec(State(merchant): Shared) -> Reply {
    if !merchant.config().test_payments {
        return Refusal::new(StatusCode::NOT_FOUND, "not_found", "No such resource").reply();
    }
    Reply {
        status: StatusCode::OK,
        body: json!({
            "title": "Test payment handlers (mock_payment_handler, google_pay, shop_pay)",
            "version": UCP_VERSION,
            "description": "Fixtures for testing, as the UCP conformance suite expects them: no money moves. A mock_payment_handler instrument pays when its credential's token is not 'fail_token' (or it carries a card number); 'fail_token' is declined with HTTP 402 payment_declined. google_pay and shop_pay are listed for discovery only, and are not the real Google Pay or Shop Pay handlers.",
            "config": "config.json"
        }),
    }
}

async fn mock_handler_config_schema(State(merchant): Shared) -> Reply {
    if !merchant.config().test_payments {
        return Refusal::new(StatusCode::NOT_FOUND, "not_found", "No such resource").reply();
    }
    Reply {
        status: StatusCode::OK,
        body: json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Test payment handler config",
            "type": "object",
            "properties": {
                "supported_tokens": {"type": "array", "items": {"type": "string"}},
                "shop_id": {"type": "string"}
            }
        }),
    }
}

async fn handler_config_schema() -> Json<Value> {
    Json(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Concierge allowance handler config",
        "type": "object",
        "properties": {
            "merchant_id": {"type": "string", "description": "The id this business accepts in allowance.merchant_id."},
            "currencies": {"type": "array", "items": {"type": "string"}}
        }
    }))
}

async fn handler_instrument_schema() -> Json<Value> {
    Json(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Concierge allowance instrument",
        "allOf": [{"$ref": "https://ucp.dev/schemas/shopping/types/payment_instrument_base.json"}],
        "type": "object",
        "required": ["id", "handler_id", "type", "credential"],
        "properties": {
            "type": {"const": ALLOWANCE_INSTRUMENT_TYPE},
            "credential": {
                "type": "object",
                "required": ["type", "token", "idempotency_key", "allowance", "binding"],
                "properties": {
                    "type": {"const": ALLOWANCE_CREDENTIAL_TYPE},
                    "token": {"type": "string"},
                    "idempotency_key": {"type": "string"},
                    "allowance": {
                        "type": "object",
                        "required": ["reason", "max_amount", "currency", "checkout_session_id", "merchant_id", "expires_at"],
                        "properties": {
                            "reason": {"const": "one_time"},
                            "max_amount": {"type": "integer", "minimum": 0},
                            "currency": {"type": "string"},
                            "checkout_session_id": {"type": "string"},
                            "merchant_id": {"type": "string"},
                            "expires_at": {"type": "integer", "description": "Unix seconds"}
                        }
                    },
                    "binding": {"$ref": "https://ucp.dev/schemas/shopping/types/binding.json"}
                }
            }
        }
    }))
}
