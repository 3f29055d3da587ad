//! Concierge's HTTP server (axum):
//! - shopper API: `POST /v1/requests` (request text + mandate → the full
//!   report: offers, conversations, choice, order), `GET /v1/orders`;
//! - merchant API: `POST /v1/merchants` (register: verify handshake, page
//!   access token), `GET /v1/merchants`, `DELETE /v1/merchants/{id}`;
//! - the web chat page at `/`;
//! - the Send API, `POST /v{N}/me/messages?access_token=...`, so an existing
//!   Messenger bot works once its Graph API base URL points here.
//!
//! Errors are JSON `{"error": {"code", "message"}}` with a stable snake_case
//! code; internals never leak.

use crate::catalog::MerchantCatalog;
use crate::config::Config;
use crate::merchant::registry::{register, Registration, RegistrationError};
use crate::merchant::wire::SendRequest;
use crate::negotiate::mailbox::DeliveryError;
use crate::negotiate::{MerchantEndpoint, Shop, ShopOptions, Transport};
use crate::order::Store;
use crate::rules::CompiledRules;
use crate::world;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use tokio::net::TcpListener;

/// The web chat page: a shopper types requests, the page posts them to
/// `/v1/requests` and shows the conversations, the choice and the receipt.
const CHAT_PAGE: &str = include_str!("chat.html");

/// Largest request body: registrations carry a feed.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Largest Send API body.
const MAX_SEND_API_BYTES: usize = 64 * 1024;
/// Longest shopper request text.
const MAX_REQUEST_CHARS: usize = 2000;

/// An API error: a status, a stable code and a message for people.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn internal(error: impl std::fmt::Display) -> ApiError {
        // The detail goes to the server's log, not to the client.
        eprintln!("internal error: {error}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "something went wrong on our side",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

/// What the server shops with. Registration swaps the shop for one that
/// includes the new merchant.
pub struct ServerState {
    config: Config,
    rules: Arc<CompiledRules>,
    store: Arc<Store>,
    transport: Transport,
    /// Merchants that are not registered in the store but served anyway
    /// (the demo world's reference responders), with their catalogs.
    fixed: Vec<(MerchantCatalog, MerchantEndpoint)>,
    shop: RwLock<Arc<Shop>>,
    /// Requests made with `wait: false`: `None` while running.
    polled: std::sync::Mutex<std::collections::BTreeMap<u64, Option<crate::negotiate::ShopReport>>>,
    next_request_id: std::sync::atomic::AtomicU64,
}

impl ServerState {
    /// Builds the state: the index over the fixed and registered merchants.
    pub fn new(
        config: Config,
        rules: Arc<CompiledRules>,
        store: Arc<Store>,
        fixed: Vec<(MerchantCatalog, MerchantEndpoint)>,
    ) -> crate::Result<Arc<ServerState>> {
        let transport = world::transport_for(&config);
        let shop = build(&config, &rules, &store, &transport, &fixed)?;
        Ok(Arc::new(ServerState {
            config,
            rules,
            store,
            transport,
            fixed,
            shop: RwLock::new(Arc::new(shop)),
            polled: Default::default(),
            next_request_id: std::sync::atomic::AtomicU64::new(1),
        }))
    }

    pub fn shop(&self) -> Arc<Shop> {
        self.shop.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn rebuild(&self) -> crate::Result<()> {
        let shop = build(
            &self.config,
            &self.rules,
            &self.store,
            &self.transport,
            &self.fixed,
        )?;
        *self.shop.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(shop);
        Ok(())
    }
}

fn build(
    config: &Config,
    rules: &Arc<CompiledRules>,
    store: &Arc<Store>,
    transport: &Transport,
    fixed: &[(MerchantCatalog, MerchantEndpoint)],
) -> crate::Result<Shop> {
    let (registered, endpoints, problems) = world::registered_catalogs(store)?;
    for problem in problems {
        eprintln!("skipped: {problem}");
    }
    let mut catalogs: Vec<MerchantCatalog> = fixed.iter().map(|(c, _)| c.clone()).collect();
    catalogs.extend(registered);
    let mut merchants: Vec<MerchantEndpoint> = fixed.iter().map(|(_, e)| e.clone()).collect();
    merchants.extend(endpoints);
    let rules = Arc::new(world::with_catalog_terms((**rules).clone(), &catalogs));
    let (index, _) = world::open_index(config, &catalogs, &rules)?;
    Ok(world::build_shop_with_transport(
        config,
        rules,
        Arc::new(index),
        merchants,
        store.clone(),
        transport.clone(),
    ))
}

pub fn app(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/", get(|| async { axum::response::Html(CHAT_PAGE) }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/v1/requests", post(create_request))
        .route("/v1/requests/{id}", get(poll_request))
        .route("/v1/orders", get(list_orders))
        .route("/v1/merchants", post(register_merchant).get(list_merchants))
        .route("/v1/merchants/{id}", delete(remove_merchant))
        .route(
            "/{version}/me/messages",
            post(send_api).layer(DefaultBodyLimit::max(MAX_SEND_API_BYTES)),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// `POST /v1/requests` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShopRequest {
    pub text: String,
    #[serde(default)]
    pub mandate: Option<MandateRequest>,
    /// Pay without a further confirmation when the mandate allows.
    #[serde(default)]
    pub auto_pay: bool,
    /// When false, answer 202 with an id at once; the report is then
    /// polled at `GET /v1/requests/{id}`. Default true: answer with the
    /// report.
    #[serde(default = "default_true")]
    pub wait: bool,
}

fn default_true() -> bool {
    true
}

/// Most finished or running requests kept for polling.
const MAX_POLLED_REQUESTS: usize = 1000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MandateRequest {
    /// Most per order (per basket for multi-item requests), in minor units.
    pub max_total: i64,
    #[serde(default)]
    pub currency: Option<String>,
    /// Running budget across all the request's orders, in minor units.
    #[serde(default)]
    pub budget: Option<i64>,
    /// Only these merchants may be paid.
    #[serde(default)]
    pub allowed_merchants: Option<Vec<String>>,
    /// Seconds the mandate stays valid (default 900).
    #[serde(default)]
    pub valid_for_secs: Option<i64>,
    /// When true, nothing is paid without the shopper's confirmation.
    #[serde(default)]
    pub require_confirmation: bool,
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))
}

async fn create_request(
    State(state): State<Arc<ServerState>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let request: ShopRequest = json_body(&body)?;
    if request.text.chars().count() > MAX_REQUEST_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request_too_long",
            format!("the request text is over {MAX_REQUEST_CHARS} characters"),
        ));
    }
    if let Some(mandate) = &request.mandate {
        if mandate.max_total < 0 {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_mandate",
                "max_total must not be negative",
            ));
        }
    }
    let mandate = request.mandate.clone().unwrap_or_default();
    let options = ShopOptions {
        max_total: request.mandate.as_ref().map(|m| m.max_total),
        pay: request.auto_pay,
        confirm: None,
        choose: None,
        allowed_merchants: mandate.allowed_merchants,
        budget: mandate.budget,
        require_confirmation: mandate.require_confirmation,
        valid_for_secs: mandate.valid_for_secs,
    };
    if !request.wait {
        let id = state
            .next_request_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        {
            let mut polled = state.polled.lock().unwrap_or_else(|p| p.into_inner());
            while polled.len() >= MAX_POLLED_REQUESTS {
                let Some(oldest) = polled.keys().next().copied() else {
                    break;
                };
                polled.remove(&oldest);
            }
            polled.insert(id, None);
        }
        let running = state.clone();
        tokio::spawn(async move {
            let report = running.shop().shop(&request.text, &options).await;
            let mut polled = running.polled.lock().unwrap_or_else(|p| p.into_inner());
            match report {
                Ok(report) => {
                    polled.insert(id, Some(report));
                }
                Err(error) => {
                    eprintln!("internal error in request {id}: {error}");
                    polled.remove(&id);
                }
            }
        });
        return Ok((
            StatusCode::ACCEPTED,
            Json(serde_json::json!({"id": id, "status": "running"})),
        )
            .into_response());
    }
    let report = state
        .shop()
        .shop(&request.text, &options)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(report).into_response())
}

async fn poll_request(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let polled = state.polled.lock().unwrap_or_else(|p| p.into_inner());
    match polled.get(&id) {
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "request_not_found",
            format!("no request {id}"),
        )),
        Some(None) => Ok(Json(serde_json::json!({"id": id, "status": "running"})).into_response()),
        Some(Some(report)) => Ok(Json(
            serde_json::json!({"id": id, "status": "done", "report": report}),
        )
        .into_response()),
    }
}

async fn list_orders(State(state): State<Arc<ServerState>>) -> Result<Response, ApiError> {
    let orders = state.store.orders().map_err(ApiError::internal)?;
    Ok(Json(serde_json::json!({ "orders": orders })).into_response())
}

/// The public view of a registered merchant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MerchantView {
    pub id: String,
    pub name: String,
    pub endpoint: String,
    pub page_id: String,
}

async fn register_merchant(
    State(state): State<Arc<ServerState>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let registration: Registration = json_body(&body)?;
    let shop = state.shop();
    let record = register(
        &state.store,
        &shop.transport,
        &state.config.registered_feeds_dir(),
        &registration,
    )
    .await
    .map_err(|error| match &error {
        RegistrationError::Store(_) | RegistrationError::Io(_) => ApiError::internal(&error),
        RegistrationError::Invalid(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, error.code(), error.to_string())
        }
        _ => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.code(),
            error.to_string(),
        ),
    })?;
    rebuild_off_runtime(&state).await?;
    let body = serde_json::json!({
        "id": record.id,
        "name": record.name,
        "page_id": record.page_id,
        "page_access_token": record.page_access_token,
        "app_secret": record.app_secret,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Re-indexes after a registration change on a blocking thread, so a large
/// catalog does not stall the server's other requests.
async fn rebuild_off_runtime(state: &Arc<ServerState>) -> Result<(), ApiError> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || state.rebuild())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

async fn list_merchants(State(state): State<Arc<ServerState>>) -> Result<Response, ApiError> {
    let merchants: Vec<MerchantView> = state
        .store
        .merchants()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|m| MerchantView {
            id: m.id,
            name: m.name,
            endpoint: m.endpoint,
            page_id: m.page_id,
        })
        .collect();
    Ok(Json(serde_json::json!({ "merchants": merchants })).into_response())
}

async fn remove_merchant(
    State(state): State<Arc<ServerState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !state
        .store
        .remove_merchant(&id)
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "merchant_not_found",
            format!("no merchant {id:?}"),
        ));
    }
    rebuild_off_runtime(&state).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v{N}/me/messages?access_token=...`: a merchant's bot answering a
/// conversation, as it would through Messenger's Send API.
async fn send_api(
    State(state): State<Arc<ServerState>>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let valid_version = version.strip_prefix('v').is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
    });
    if !valid_version {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no such endpoint",
        ));
    }
    let token = params.get("access_token").map(String::as_str).unwrap_or("");
    let merchant = state
        .store
        .merchant_by_token(token)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_access_token",
                "the page access token is not valid",
            )
        })?;
    let request: SendRequest = json_body(&body)?;
    let psid = request.recipient.id.clone();
    let shop = state.shop();
    match shop
        .transport
        .mailboxes()
        .deliver(&merchant.id, &psid, request.message)
    {
        Ok(()) => Ok(Json(serde_json::json!({
            "recipient_id": psid,
            "message_id": format!("m_{}", crate::merchant::signature::random_token(8)),
        }))
        .into_response()),
        Err(DeliveryError::UnknownRecipient) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_recipient",
            "no open conversation with that recipient",
        )),
        Err(DeliveryError::NotYourConversation) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_your_conversation",
            "that conversation belongs to another merchant",
        )),
        Err(DeliveryError::Full) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many messages for that conversation",
        )),
    }
}
