//! Concierge's HTTP server (axum):
//! - shopper API: `POST /v1/requests` (request text + mandate → the full
//!   report: offers, conversations, choice, order), `GET /v1/orders`;
//! - merchant API: `POST /v1/merchants` (register: verify handshake, page
//!   access token), `GET /v1/merchants`, `DELETE /v1/merchants/{id}`;
//! - the web chat page at `/`;
//! - the Send API, `POST /v{N}/me/messages?access_token=...`, so an existing
//!   Messenger bot works once its Graph API base URL points here.
//!
//! Every `/v1` route needs an API key ([`auth`]); health, the page itself
//! and the merchants' Messenger endpoints (authenticated by their page
//! access token) do not.
//!
//! Errors are JSON `{"error": {"code", "message"}}` with a stable snake_case
//! code; internals never leak.

pub mod auth;
pub mod send_api;

use crate::catalog::feed::FeedFormat;
use crate::catalog::record::{ParsedFeed, Vocabulary};
use crate::catalog::{CatalogIndex, MerchantCatalog};
use crate::config::Config;
use crate::merchant::registry::{load_off_runtime, register, Registration, RegistrationError};
use crate::negotiate::{MerchantEndpoint, Shop, ShopOptions, Transport};
use crate::order::Store;
use crate::rules::CompiledRules;
use crate::store::RequestKeyClaim;
use crate::world;
use auth::{Principal, Scope};
use axum::extract::{DefaultBodyLimit, Extension, Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
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

impl ApiError {
    fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": {"code": self.code, "message": self.message}})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"concierge\""),
            );
        }
        response
    }
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

/// What the server shops with: the catalog of record and the merchants
/// registered in the store, and, with `--demo`, the demo world's merchants
/// and their own index beside them. A change to the catalog (a
/// registration here, or `concierge merchant register` in another process)
/// is picked up at the next request.
pub struct ServerState {
    config: Config,
    /// The rules as loaded, before any catalog's vocabulary is added.
    rules: Arc<CompiledRules>,
    store: Arc<Store>,
    transport: Transport,
    demo: Option<DemoWorld>,
    shop: RwLock<ServedShop>,
    /// Requests made with `wait: false`, by their unguessable id.
    polled: std::sync::Mutex<PolledRequests>,
}

/// Requests answered later, oldest first for eviction.
#[derive(Default)]
struct PolledRequests {
    order: std::collections::VecDeque<String>,
    by_id: HashMap<String, Polled>,
}

struct Polled {
    /// The shopper who made it ("" for the operator).
    owner: String,
    /// `None` while running.
    report: Option<crate::negotiate::ShopReport>,
}

/// Merchants served by this process with their own index: the demo world.
struct DemoWorld {
    index: Arc<CatalogIndex>,
    merchants: Vec<MerchantEndpoint>,
    vocabulary: Vec<Vocabulary>,
}

/// The shop in use, and the catalog state it was made from.
struct ServedShop {
    shop: Arc<Shop>,
    catalog_version: Option<CatalogVersion>,
}

/// The catalog of record's current commit file, by size and time: when it
/// changes, another commit happened.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CatalogVersion {
    length: u64,
    modified: std::time::SystemTime,
}

impl ServerState {
    /// Builds the state. `fixed` are merchants served by this process (the
    /// demo world's reference responders) with their catalogs, indexed on
    /// their own beside the catalog of record.
    pub fn new(
        config: Config,
        rules: Arc<CompiledRules>,
        store: Arc<Store>,
        fixed: Vec<(MerchantCatalog, MerchantEndpoint)>,
    ) -> crate::Result<Arc<ServerState>> {
        let transport = world::transport_for(&config);
        let demo = if fixed.is_empty() {
            None
        } else {
            let catalogs: Vec<MerchantCatalog> = fixed.iter().map(|(c, _)| c.clone()).collect();
            let demo_rules = world::with_catalog_terms((*rules).clone(), &catalogs);
            let (index, _) = world::open_index(&config, &catalogs, &demo_rules)?;
            Some(DemoWorld {
                index: Arc::new(index),
                merchants: fixed.into_iter().map(|(_, e)| e).collect(),
                vocabulary: catalogs
                    .iter()
                    .map(|c| Vocabulary::of(&c.products))
                    .collect(),
            })
        };
        let served = build(&config, &rules, &store, &transport, demo.as_ref())?;
        Ok(Arc::new(ServerState {
            config,
            rules,
            store,
            transport,
            demo,
            shop: RwLock::new(served),
            polled: Default::default(),
        }))
    }

    /// The shop for the next request: the same one until the catalog of
    /// record changes.
    pub fn shop(&self) -> Arc<Shop> {
        let current = catalog_version(&self.config);
        {
            let served = self.shop.read().unwrap_or_else(|p| p.into_inner());
            if served.catalog_version == current {
                return served.shop.clone();
            }
        }
        match build(
            &self.config,
            &self.rules,
            &self.store,
            &self.transport,
            self.demo.as_ref(),
        ) {
            Ok(served) => {
                let shop = served.shop.clone();
                *self.shop.write().unwrap_or_else(|p| p.into_inner()) = served;
                shop
            }
            Err(error) => {
                eprintln!("cannot reopen the catalog, still using the last one: {error}");
                self.shop
                    .read()
                    .unwrap_or_else(|p| p.into_inner())
                    .shop
                    .clone()
            }
        }
    }

    /// The Send API over this server's store and transport, recording
    /// late answers to Pay with the shop in use.
    fn send_api(self: &Arc<Self>) -> send_api::SendApi {
        let state = self.clone();
        send_api::SendApi::new(
            self.store.clone(),
            self.transport.clone(),
            Arc::new(move || state.shop()),
        )
    }

    /// The transport every shop of this server uses (its Send API
    /// mailboxes are shared).
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// The store this server records in (API keys included).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }
}

fn catalog_version(config: &Config) -> Option<CatalogVersion> {
    let meta = std::fs::metadata(config.catalog_record().index_dir().join("meta.json")).ok()?;
    Some(CatalogVersion {
        length: meta.len(),
        modified: meta.modified().ok()?,
    })
}

fn build(
    config: &Config,
    rules: &Arc<CompiledRules>,
    store: &Arc<Store>,
    transport: &Transport,
    demo: Option<&DemoWorld>,
) -> crate::Result<ServedShop> {
    let catalog_version = catalog_version(config);
    let (mut shop, _) = world::registered_shop(config, rules, store.clone(), transport.clone())?;
    if let Some(demo) = demo {
        let rules = world::with_vocabulary((*shop.rules).clone(), demo.vocabulary.iter());
        shop.rules = Arc::new(rules);
        shop.parser = crate::intent::Parser::new(shop.rules.clone());
        shop.merchants = demo.merchants.clone();
        shop.catalogs.insert(0, demo.index.clone());
    }
    Ok(ServedShop {
        shop: Arc::new(shop),
        catalog_version,
    })
}

pub fn app(state: Arc<ServerState>) -> Router {
    let api = Router::new()
        .route("/v1/requests", post(create_request))
        .route("/v1/requests/{id}", get(poll_request))
        .route("/v1/orders", get(list_orders))
        .route("/v1/payments", get(list_payments))
        .route("/v1/merchants", post(register_merchant).get(list_merchants))
        .route("/v1/merchants/{id}", delete(remove_merchant))
        .route("/v1/merchants/{id}/feed", put(replace_feed))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            require_key,
        ));
    let browser_facing = Router::new()
        .route("/", get(chat_page))
        .merge(api)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            same_site_only,
        ));
    let send_api = send_api::routes(state.send_api());
    let stateful: Router<Arc<ServerState>> = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(browser_facing);
    stateful
        .with_state(state)
        .merge(send_api)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(json_errors))
}

/// Gives every error the documented JSON shape, also those axum answers
/// itself in plain text or empty: an unknown route (404), a method the
/// route does not take (405, its `Allow` header kept), a body over the
/// limit (413), a path or query that does not parse (400).
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let said = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let said = String::from_utf8_lossy(&said).trim().to_string();
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        status if status.is_server_error() => "internal_error",
        _ => "bad_request",
    };
    let message = if said.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        said
    };
    let mut response = ApiError::new(status, code, message).into_response();
    if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
        response
            .headers_mut()
            .insert(axum::http::header::ALLOW, allow.clone());
    }
    response
}

/// The chat page, which no other site may frame (it holds an API key).
async fn chat_page() -> Response {
    (
        [
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        axum::response::Html(CHAT_PAGE),
    )
        .into_response()
}

/// Refuses what a hostile web page could send through the operator's own
/// browser: a `Host` that is not this server (DNS rebinding) and a
/// cross-site `Origin`.
async fn same_site_only(
    State(state): State<Arc<ServerState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(host) = host {
        if !auth::host_allowed(host, &state.config.allowed_hosts) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "host_not_allowed",
                format!("this server does not answer to {host:?}; its operator can allow the name with `concierge serve --allowed-host NAME`"),
            ));
        }
    }
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    let foreign_origin = headers
        .get(header::ORIGIN)
        .map(|origin| !auth::same_origin(origin.to_str().unwrap_or(""), host.unwrap_or("")))
        .unwrap_or(false);
    if cross_site || foreign_origin {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin",
            "requests from other web sites are refused",
        ));
    }
    Ok(next.run(request).await)
}

/// Authenticates a `/v1` request by its bearer API key and hands the
/// handler its [`Principal`]. A POST must carry JSON (a form or `text/plain`
/// body is what a cross-site page can send without asking).
async fn require_key(
    State(state): State<Arc<ServerState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if request.method() == Method::POST && !is_json(request.headers()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ));
    }
    let Some(secret) = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(auth::bearer)
        .map(String::from)
    else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_api_key",
            "send an API key as `Authorization: Bearer <key>` (`concierge keys create` makes one)",
        ));
    };
    let store = state.store.clone();
    let principal = tokio::task::spawn_blocking(move || auth::authenticate(&store, &secret))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_api_key",
                "the API key is not valid or was revoked",
            )
        })?;
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|essence| {
            let essence = essence.trim().to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
}

/// Refuses a caller whose key is not one of `scopes`.
fn require_scope(principal: &Principal, scopes: &[Scope], what: &str) -> Result<(), ApiError> {
    if scopes.contains(&principal.scope) {
        Ok(())
    } else {
        Err(forbidden(format!(
            "a {} key cannot {what}",
            principal.scope.as_str()
        )))
    }
}

/// What one client may hold of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A request's headers must arrive within this long (also an idle
    /// keep-alive connection's next request), or the connection is closed.
    pub header_read_timeout: std::time::Duration,
    /// A request's body must arrive within this long: `408 request_timeout`.
    pub body_read_timeout: std::time::Duration,
    /// Most connections open at once; more are closed at once.
    pub max_connections: usize,
    /// Most connections open at once from one IP address.
    pub max_connections_per_client: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: std::time::Duration::from_secs(10),
            body_read_timeout: std::time::Duration::from_secs(30),
            max_connections: 256,
            max_connections_per_client: 64,
        }
    }
}

/// Serves the API on `listener` until `shutdown` completes, within the
/// default [`ConnectionLimits`].
pub async fn run(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run_with_limits(listener, state, shutdown, ConnectionLimits::default()).await
}

/// Serves the API on `listener` until `shutdown` completes: new
/// connections stop, requests under way finish.
pub async fn run_with_limits(
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    serve_router(listener, app(state), shutdown, limits).await
}

/// Serves `router` on `listener` under `limits` until `shutdown`
/// completes: new connections stop, requests under way finish.
pub async fn serve_router(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ConnectionLimits,
) -> std::io::Result<()> {
    let router = router.layer(axum::middleware::from_fn_with_state(
        limits.body_read_timeout,
        read_body_in_time,
    ));
    let service = hyper_util::service::TowerToHyperService::new(router);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let open = Arc::new(std::sync::Mutex::new(OpenConnections::default()));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, or a connection reset before it
                // was taken: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(slot) = ConnectionSlot::take(&open, peer.ip(), &limits) else {
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        let connection = graceful
            .watch(builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service.clone()));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Connections open now, in all and per client address.
#[derive(Default)]
struct OpenConnections {
    total: usize,
    per_client: HashMap<std::net::IpAddr, usize>,
}

/// One open connection's place under the limits, given back on drop.
struct ConnectionSlot {
    open: Arc<std::sync::Mutex<OpenConnections>>,
    client: std::net::IpAddr,
}

impl ConnectionSlot {
    fn take(
        open: &Arc<std::sync::Mutex<OpenConnections>>,
        client: std::net::IpAddr,
        limits: &ConnectionLimits,
    ) -> Option<ConnectionSlot> {
        let mut counts = open.lock().unwrap_or_else(|p| p.into_inner());
        let of_client = counts.per_client.get(&client).copied().unwrap_or(0);
        if counts.total >= limits.max_connections || of_client >= limits.max_connections_per_client
        {
            return None;
        }
        counts.total += 1;
        counts.per_client.insert(client, of_client + 1);
        Some(ConnectionSlot {
            open: open.clone(),
            client,
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut counts = self.open.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.per_client.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                counts.per_client.remove(&self.client);
            }
        }
    }
}

/// Reads a request's whole body within `within` before any handler sees
/// it: a client that sends its body slowly holds nothing for long.
async fn read_body_in_time(
    State(within): State<std::time::Duration>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let bytes = match tokio::time::timeout(within, axum::body::to_bytes(body, MAX_BODY_BYTES)).await
    {
        Err(_) => {
            return Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time",
            ))
        }
        Ok(Err(error)) => {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            return Err(if too_large {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body is over {MAX_BODY_BYTES} bytes"),
                )
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    "the request body could not be read",
                )
            });
        }
        Ok(Ok(bytes)) => bytes,
    };
    Ok(next
        .run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await)
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

/// Longest a mandate may be valid: 30 days.
const MAX_MANDATE_SECS: i64 = 30 * 24 * 60 * 60;

impl MandateRequest {
    /// Why the mandate cannot be accepted: negative amounts, a lifetime
    /// that is not positive or over [`MAX_MANDATE_SECS`], a currency that
    /// is not an ISO 4217 code.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_total < 0 {
            return Err("max_total must not be negative".into());
        }
        if self.budget.is_some_and(|budget| budget < 0) {
            return Err("budget must not be negative".into());
        }
        if let Some(secs) = self.valid_for_secs {
            if !(1..=MAX_MANDATE_SECS).contains(&secs) {
                return Err(format!(
                    "valid_for_secs must be between 1 and {MAX_MANDATE_SECS} (30 days)"
                ));
            }
        }
        if let Some(currency) = &self.currency {
            let code = currency.trim();
            if code.len() != 3 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(format!(
                    "currency {currency:?} is not a three-letter ISO 4217 code"
                ));
            }
        }
        Ok(())
    }
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))
}

/// `POST /v1/requests`. With an `Idempotency-Key` header, as Stripe's: the
/// first request under a key is carried out and its answer kept a day; the
/// same request again gets that answer (`Idempotent-Replayed: true`) and is
/// never carried out twice; another request under the key is refused.
async fn create_request(
    State(state): State<Arc<ServerState>>,
    Extension(principal): Extension<Principal>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    require_scope(&principal, &[Scope::Operator, Scope::Shopper], "shop")?;
    let Some(key) = idempotency_key(&headers)? else {
        // On its own task: a client that hangs up does not stop a payment
        // halfway.
        let (status, answer) = tokio::spawn(carry_out_request(state, principal, body))
            .await
            .map_err(ApiError::internal)??;
        return Ok((status, Json(answer)).into_response());
    };
    let owner = format!("{}:{}", principal.scope.as_str(), principal.subject);
    let body_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
    let claim = state
        .store
        .claim_request_key(&owner, &key, &body_hash)
        .map_err(ApiError::internal)?;
    match claim {
        RequestKeyClaim::New => {}
        RequestKeyClaim::Done { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            response.headers_mut().insert(
                "idempotent-replayed",
                header::HeaderValue::from_static("true"),
            );
            return Ok(response);
        }
        RequestKeyClaim::Running { .. } => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "request_in_progress",
                "a request with this idempotency key is being carried out (or its server stopped while it was: GET /v1/payments shows what it paid)",
            ))
        }
        RequestKeyClaim::OtherRequest => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this idempotency key was used for another request",
            ))
        }
    }
    // Carried out on its own task: a client that hangs up does not stop a
    // payment halfway, and the answer is kept for its retry.
    let store = state.store.clone();
    let outcome = tokio::spawn(carry_out_request(state, principal, body))
        .await
        .map_err(ApiError::internal)?;
    let (status, answer) = match outcome {
        Ok(done) => done,
        Err(error) => (error.status, error.body()),
    };
    store
        .finish_request_key(&owner, &key, status.as_u16(), &answer.to_string())
        .map_err(ApiError::internal)?;
    Ok((status, Json(answer)).into_response())
}

/// The `Idempotency-Key` header, if sent: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or("").trim();
    if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "an Idempotency-Key is 1 to 255 visible ASCII characters",
        ));
    }
    Ok(Some(key.to_string()))
}

/// Validates and carries out a shopping request: the report, or 202 with
/// the id to poll.
async fn carry_out_request(
    state: Arc<ServerState>,
    principal: Principal,
    body: axum::body::Bytes,
) -> Result<(StatusCode, serde_json::Value), ApiError> {
    let request: ShopRequest = json_body(&body)?;
    if request.text.chars().count() > MAX_REQUEST_CHARS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request_too_long",
            format!("the request text is over {MAX_REQUEST_CHARS} characters"),
        ));
    }
    if let Some(mandate) = &request.mandate {
        mandate.validate().map_err(|problem| {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_mandate", problem)
        })?;
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
        currency: mandate.currency.map(|c| c.trim().to_ascii_uppercase()),
        request_is_order: request.auto_pay,
        shopper: principal.shopper().map(String::from),
    };
    if !request.wait {
        let id = format!(
            "req_{}",
            crate::merchant::messenger::signature::random_token(12)
        );
        {
            let mut polled = state.polled.lock().unwrap_or_else(|p| p.into_inner());
            while polled.order.len() >= MAX_POLLED_REQUESTS {
                let Some(oldest) = polled.order.pop_front() else {
                    break;
                };
                polled.by_id.remove(&oldest);
            }
            polled.order.push_back(id.clone());
            polled.by_id.insert(
                id.clone(),
                Polled {
                    owner: principal.shopper().unwrap_or("").to_string(),
                    report: None,
                },
            );
        }
        let running = state.clone();
        let running_id = id.clone();
        tokio::spawn(async move {
            let report = running.shop().shop(&request.text, &options).await;
            let mut polled = running.polled.lock().unwrap_or_else(|p| p.into_inner());
            match report {
                Ok(report) => {
                    if let Some(entry) = polled.by_id.get_mut(&running_id) {
                        entry.report = Some(report);
                    }
                }
                Err(error) => {
                    eprintln!("internal error in request {running_id}: {error}");
                    polled.by_id.remove(&running_id);
                }
            }
        });
        return Ok((
            StatusCode::ACCEPTED,
            serde_json::json!({"id": id, "status": "running"}),
        ));
    }
    let report = state
        .shop()
        .shop(&request.text, &options)
        .await
        .map_err(ApiError::internal)?;
    Ok((
        StatusCode::OK,
        serde_json::to_value(&report).map_err(ApiError::internal)?,
    ))
}

/// `GET /v1/requests/{id}`: another shopper's request is not found, as if
/// it did not exist.
async fn poll_request(
    State(state): State<Arc<ServerState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let polled = state.polled.lock().unwrap_or_else(|p| p.into_inner());
    match polled
        .by_id
        .get(&id)
        .filter(|entry| principal.may_see(&entry.owner))
    {
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "request_not_found",
            format!("no request {id:?}"),
        )),
        Some(Polled { report: None, .. }) => {
            Ok(Json(serde_json::json!({"id": id, "status": "running"})).into_response())
        }
        Some(Polled {
            report: Some(report),
            ..
        }) => Ok(
            Json(serde_json::json!({"id": id, "status": "done", "report": report})).into_response(),
        ),
    }
}

/// `GET /v1/orders`: the operator sees every order, a shopper their own.
async fn list_orders(
    State(state): State<Arc<ServerState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    require_scope(
        &principal,
        &[Scope::Operator, Scope::Shopper],
        "list orders",
    )?;
    let orders = match principal.shopper() {
        Some(shopper) => state.store.orders_of(shopper),
        None => state.store.orders(),
    }
    .map_err(ApiError::internal)?;
    Ok(Json(serde_json::json!({ "orders": orders })).into_response())
}

/// `GET /v1/payments`: the operator sees every payment, a shopper those of
/// their own requests.
async fn list_payments(
    State(state): State<Arc<ServerState>>,
    Extension(principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    require_scope(
        &principal,
        &[Scope::Operator, Scope::Shopper],
        "list payments",
    )?;
    let payments = state
        .store
        .payments(principal.shopper())
        .map_err(ApiError::internal)?;
    Ok(Json(serde_json::json!({ "payments": payments })).into_response())
}

/// Settles payments whose answer never came, now and every `period`, for
/// as long as the server runs (see `Shop::reconcile_payments`). Payments
/// touched within the last `period` are left to whoever is making them.
pub async fn reconcile_payments_every(state: Arc<ServerState>, period: std::time::Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match state.shop().reconcile_payments(period).await {
            Ok(done) => {
                for note in &done.notes {
                    eprintln!("payments: {note}");
                }
            }
            Err(error) => eprintln!("payments: cannot reconcile: {error}"),
        }
    }
}

/// The public view of a registered merchant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MerchantView {
    pub id: String,
    pub name: String,
    /// The protocol it speaks ("messenger", "ucp", "acp").
    pub protocol: String,
    pub endpoint: String,
    pub page_id: String,
    /// Where its catalog comes from: `feed` (the index) or `live` (its own
    /// catalog search, asked at each request).
    pub catalog: String,
}

fn registration_error(error: RegistrationError) -> ApiError {
    match &error {
        RegistrationError::Store(_) | RegistrationError::Catalog(_) => ApiError::internal(&error),
        RegistrationError::Invalid(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, error.code(), error.to_string())
        }
        RegistrationError::Taken(_) | RegistrationError::NameTaken(_) => {
            ApiError::new(StatusCode::CONFLICT, error.code(), error.to_string())
        }
        _ => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            error.code(),
            error.to_string(),
        ),
    }
}

async fn register_merchant(
    State(state): State<Arc<ServerState>>,
    Extension(principal): Extension<Principal>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    require_scope(&principal, &[Scope::Operator], "register merchants")?;
    let registration: Registration = json_body(&body)?;
    let registered = register(
        &state.store,
        &state.transport,
        &state.config.catalog_record(),
        &state.rules,
        &registration,
    )
    .await
    .map_err(registration_error)?;
    let merchant = &registered.merchant;
    let merchant_key = auth::create_key(&state.store, Scope::Merchant, &merchant.id, "")
        .map_err(ApiError::internal)?;
    let body = serde_json::json!({
        "id": merchant.id,
        "name": merchant.name,
        "page_id": merchant.page_id,
        "page_access_token": merchant.page_access_token,
        "app_secret": merchant.app_secret,
        "api_key": merchant_key.secret,
        "catalog": merchant.catalog_source(),
        "feed": load_view(&registered.load, &registered.rejected),
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A load summary with its first rejected rows, as the API shows it.
fn load_view(load: &crate::catalog::LoadSummary, rejected: &[String]) -> serde_json::Value {
    serde_json::json!({
        "added": load.added,
        "updated": load.updated,
        "removed": load.removed,
        "rejected": load.rejected,
        "variants": load.variants,
        "rejected_rows": rejected.iter().take(20).collect::<Vec<_>>(),
    })
}

/// `PUT /v1/merchants/{id}/feed`: replaces a registered merchant's catalog.
/// The body is the feed itself; its format comes from `Content-Type`
/// (`text/csv`, `text/tab-separated-values`, `application/x-ndjson` or
/// `application/jsonl`), else from the content.
async fn replace_feed(
    State(state): State<Arc<ServerState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let own_feed = principal.scope == Scope::Merchant && principal.subject == id;
    if !(principal.is_operator() || own_feed) {
        return Err(forbidden(
            "only the operator or the merchant itself may replace its feed",
        ));
    }
    if state
        .store
        .merchant(&id)
        .map_err(ApiError::internal)?
        .is_none()
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "merchant_not_found",
            format!("no merchant {id:?}"),
        ));
    }
    let format = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|content_type| {
            let essence = content_type.split(';').next().unwrap_or("").trim();
            match essence {
                "text/csv" => Some(FeedFormat::MerchantCenterCsv),
                "text/tab-separated-values" => Some(FeedFormat::MerchantCenterTsv),
                "application/x-ndjson" | "application/jsonl" | "application/json-lines" => {
                    Some(FeedFormat::JsonLines)
                }
                _ => None,
            }
        });
    let text = String::from_utf8_lossy(&body);
    let feed = ParsedFeed::from_text("feed", &text, format);
    let rejected: Vec<String> = feed.read.rejected.iter().map(|e| e.to_string()).collect();
    let load = load_off_runtime(&state.config.catalog_record(), &state.rules, &id, feed)
        .await
        .map_err(registration_error)?;
    state
        .store
        .set_live_catalog(&id, false)
        .map_err(ApiError::internal)?;
    Ok(Json(load_view(&load, &rejected)).into_response())
}

async fn list_merchants(
    State(state): State<Arc<ServerState>>,
    Extension(_principal): Extension<Principal>,
) -> Result<Response, ApiError> {
    let merchants: Vec<MerchantView> = state
        .store
        .merchants()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|m| MerchantView {
            catalog: m.catalog_source().into(),
            id: m.id,
            name: m.name,
            protocol: m.protocol,
            endpoint: m.endpoint,
            page_id: m.page_id,
        })
        .collect();
    Ok(Json(serde_json::json!({ "merchants": merchants })).into_response())
}

async fn remove_merchant(
    State(state): State<Arc<ServerState>>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require_scope(&principal, &[Scope::Operator], "remove merchants")?;
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
    let record = state.config.catalog_record();
    tokio::task::spawn_blocking(move || record.remove_merchant(&id))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
