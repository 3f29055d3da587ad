//! What Messenger bots call back: the Send API (`POST /v{N}/me/messages`),
//! through which they answer a conversation, and the User Profile API. It
//! is served by `concierge serve` and, while it shops, by `concierge ask`;
//! it needs only the store, the transport's mailboxes and the shop that
//! reads a late answer to Pay.

use super::{json_body, ApiError};
use crate::merchant::messenger::mailbox::{DeliveryError, MailItem};
use crate::merchant::messenger::wire::SendApiCall;
use crate::merchant::messenger::Transport;
use crate::negotiate::Shop;
use crate::order::Store;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest Send API body.
const MAX_SEND_API_BYTES: usize = 64 * 1024;

/// The shop in use now (a server's changes when its catalog does).
pub type ShopSource = Arc<dyn Fn() -> Arc<Shop> + Send + Sync>;

/// The Send API's state.
#[derive(Clone)]
pub struct SendApi {
    store: Arc<Store>,
    transport: Transport,
    shop: ShopSource,
}

impl SendApi {
    pub fn new(store: Arc<Store>, transport: Transport, shop: ShopSource) -> SendApi {
        SendApi {
            store,
            transport,
            shop,
        }
    }
}

/// The Send API and User Profile API routes.
pub fn routes(api: SendApi) -> Router {
    Router::new()
        .route(
            "/{version}/me/messages",
            post(send_api).layer(DefaultBodyLimit::max(MAX_SEND_API_BYTES)),
        )
        .route("/{version}/{psid}", get(user_profile))
        .with_state(api)
}

/// The merchant a page access token belongs to, or 401.
fn merchant_for_token(
    state: &SendApi,
    params: &HashMap<String, String>,
) -> Result<crate::order::MerchantRecord, ApiError> {
    let token = params.get("access_token").map(String::as_str).unwrap_or("");
    state
        .store
        .merchant_by_token(token)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_access_token",
                "the page access token is not valid",
            )
        })
}

/// Whether a path segment is a Graph API version ("v19.0").
pub(super) fn is_graph_version(version: &str) -> bool {
    version.strip_prefix('v').is_some_and(|rest| {
        !rest.is_empty() && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
    })
}

fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// `POST /v{N}/me/messages?access_token=...`: a merchant's bot answering a
/// conversation, as it would through Messenger's Send API. Sender actions
/// (`typing_on`, `typing_off`, `mark_seen`) are accepted; typing keeps the
/// merchant's turn open a little longer. A message into a conversation
/// that has ended is kept in the store as a late message.
async fn send_api(
    State(state): State<SendApi>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    if !is_graph_version(&version) {
        return Err(not_found());
    }
    let merchant = merchant_for_token(&state, &params)?;
    let call: SendApiCall = json_body::<serde_json::Value>(&body).and_then(|value| {
        SendApiCall::from_json(value)
            .map_err(|message| ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", message))
    })?;
    let psid = call.recipient().to_string();
    let mailboxes = state.transport.mailboxes();
    match call {
        // Typing and read receipts only ever touch the merchant's own live
        // conversation; anything else about them is ignored.
        SendApiCall::SenderAction { action, .. } => {
            let item = if action == "typing_on" {
                MailItem::Typing
            } else {
                MailItem::Seen
            };
            let _ = mailboxes.deliver(&merchant.id, &psid, item);
        }
        SendApiCall::Message(request) => {
            match mailboxes.deliver(
                &merchant.id,
                &psid,
                MailItem::Message(request.message.clone()),
            ) {
                Ok(()) => {}
                Err(DeliveryError::UnknownRecipient) => {
                    keep_late_message(&state, &merchant.id, &psid, &request.message)?
                }
                Err(DeliveryError::NotYourConversation) => return Err(not_your_conversation()),
                Err(DeliveryError::Full) => {
                    return Err(ApiError::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        "rate_limited",
                        "too many messages for that conversation",
                    ))
                }
            }
        }
    }
    Ok(Json(serde_json::json!({
        "recipient_id": psid,
        "message_id": format!("m_{}", crate::merchant::messenger::signature::random_token(8)),
    }))
    .into_response())
}

fn not_your_conversation() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not_your_conversation",
        "that conversation belongs to another merchant",
    )
}

/// A message into a conversation that has ended (its request is over): kept
/// in the store beside that request's messages. A recipient never talked to
/// is refused.
fn keep_late_message(
    state: &SendApi,
    merchant_id: &str,
    psid: &str,
    message: &crate::merchant::messenger::wire::OutgoingMessage,
) -> Result<(), ApiError> {
    match state.store.conversation(psid).map_err(ApiError::internal)? {
        Some((owner, run_id)) if owner == merchant_id => {
            let record = crate::store::MessageRecord {
                run_id,
                merchant_id: merchant_id.to_string(),
                direction: "late_from_merchant".into(),
                body: crate::merchant::messenger::session::render_merchant_message(message),
                at_ms: crate::merchant::messenger::wire::now_millis(),
            };
            state
                .store
                .record_message(&record)
                .map_err(ApiError::internal)?;
            state.transport.mailboxes().note_activity();
            // A confirmation of a payment whose answer never came in time
            // is the order it is.
            if let Err(error) = (state.shop)().record_late_payment_reply(
                merchant_id,
                psid,
                std::slice::from_ref(message),
            ) {
                eprintln!("cannot read a late message as a payment answer: {error}");
            }
            Ok(())
        }
        Some(_) => Err(not_your_conversation()),
        None => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "unknown_recipient",
            "no conversation with that recipient",
        )),
    }
}

/// `GET /v{N}/{psid}?fields=...&access_token=...`: Messenger's User Profile
/// API, which bots call before greeting a new user. The shopper's real
/// name is never given: every conversation's profile is the same stable,
/// neutral one, and only the merchant the conversation is with may ask.
async fn user_profile(
    State(state): State<SendApi>,
    Path((version, psid)): Path<(String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !is_graph_version(&version) {
        return Err(not_found());
    }
    let merchant = merchant_for_token(&state, &params)?;
    let owner = match state.transport.mailboxes().owner(&psid) {
        Some(owner) => Some(owner),
        None => state
            .store
            .conversation(&psid)
            .map_err(ApiError::internal)?
            .map(|(owner, _)| owner),
    };
    match owner {
        Some(owner) if owner == merchant.id => {}
        Some(_) => return Err(not_your_conversation()),
        None => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_recipient",
                "no conversation with that user",
            ))
        }
    }
    let profile = crate::merchant::messenger::wire::UserProfile::for_shopper(&psid);
    let fields: Vec<&str> = params
        .get("fields")
        .map(|f| f.split(',').map(str::trim).collect())
        .unwrap_or_default();
    Ok(Json(profile.with_fields(&fields)).into_response())
}
