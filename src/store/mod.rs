//! The durable store (SQLite, WAL): every request, message, payment and
//! order. Payments are keyed by an idempotency key under a primary-key
//! constraint, so one order is paid at most once even across processes.

pub mod payments;

use crate::error::OrderError;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Mutex;

pub struct Store {
    connection: Mutex<Connection>,
}

/// An order as listed by `concierge orders`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRecord {
    pub id: i64,
    pub created_at: i64,
    pub request: String,
    pub merchant_id: String,
    pub merchant_name: String,
    pub order_number: String,
    pub product_title: String,
    pub variant: String,
    pub quantity: u32,
    pub currency: String,
    pub subtotal: i64,
    pub shipping: i64,
    pub tax: i64,
    pub total: i64,
    pub status: OrderStatus,
    /// The conversation the order was made in (to reach the merchant again).
    #[serde(default)]
    pub psid: String,
    /// The merchant's last word on the order's status.
    #[serde(default)]
    pub status_detail: String,
    /// The shopper the order was placed for (the subject of their API
    /// key); empty for the operator and the command line.
    #[serde(default)]
    pub shopper: String,
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Paid through Concierge's authorisation.
    Paid,
    /// Taken by the merchant, who collects payment itself.
    AwaitingPayment,
    Cancelled,
    /// The merchant did not confirm a cancellation.
    CancelRefused,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Paid => "paid",
            OrderStatus::AwaitingPayment => "awaiting_payment",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::CancelRefused => "cancel_refused",
        }
    }

    /// Reads a stored status; `None` for text no version wrote.
    pub fn parse(text: &str) -> Option<OrderStatus> {
        Some(match text {
            "paid" => OrderStatus::Paid,
            "awaiting_payment" => OrderStatus::AwaitingPayment,
            "cancelled" => OrderStatus::Cancelled,
            "cancel_refused" => OrderStatus::CancelRefused,
            _ => return None,
        })
    }

    /// Whether a shopper may still cancel it.
    pub fn is_cancellable(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::AwaitingPayment)
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key as stored: only the SHA-256 of its secret is kept, so the
/// secret is shown once, when it is made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    /// "operator", "shopper" or "merchant".
    pub scope: String,
    /// Whom the key speaks for: a shopper's name, a merchant's id.
    pub subject: String,
    pub label: String,
    /// The secret's first characters, to recognise it in a list.
    pub shown_prefix: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Settings of this deployment that outlive one command: stored once, shown
/// by `concierge merchant list`, changed with `concierge settings`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSettings {
    /// Merchant endpoints on loopback (127.0.0.0/8, ::1) may be registered
    /// and reached: for local testing only. Default false.
    pub allow_loopback: bool,
}

/// A message exchanged with a merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub run_id: i64,
    pub merchant_id: String,
    /// "to_merchant" or "from_merchant".
    pub direction: String,
    pub body: String,
    pub at_ms: i64,
}

/// A merchant registered with this Concierge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantRecord {
    pub id: String,
    pub name: String,
    /// The protocol it speaks ("messenger", "ucp", "acp").
    pub protocol: String,
    /// Its webhook (Messenger) or the base URL of its checkout API.
    pub endpoint: String,
    pub page_id: String,
    pub verify_token: String,
    pub app_secret: String,
    pub page_access_token: String,
    /// The merchant's feed file, copied under the index's feeds directory.
    pub feed_path: String,
    pub created_at: i64,
    /// Its catalog is searched where it lives, at each request (UCP's
    /// catalog search), instead of a feed in the index.
    pub live_catalog: bool,
}

impl MerchantRecord {
    /// Where its catalog comes from, as stored and shown: `live` or `feed`.
    pub fn catalog_source(&self) -> &'static str {
        catalog_source(self.live_catalog)
    }
}

/// `live` for a catalog searched where it lives, else `feed`.
pub fn catalog_source(live: bool) -> &'static str {
    if live {
        "live"
    } else {
        "feed"
    }
}

const SCHEMA_REST: &str = "
CREATE TABLE IF NOT EXISTS merchants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    page_id TEXT NOT NULL,
    verify_token TEXT NOT NULL,
    app_secret TEXT NOT NULL,
    page_access_token TEXT NOT NULL UNIQUE,
    feed_path TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    name_key TEXT NOT NULL DEFAULT '',
    protocol TEXT NOT NULL DEFAULT 'messenger',
    catalog TEXT NOT NULL DEFAULT 'feed'
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    request TEXT NOT NULL,
    parsed TEXT NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    shopper TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    merchant_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    body TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS payments (
    idempotency_key TEXT PRIMARY KEY,
    run_id INTEGER NOT NULL,
    merchant_id TEXT NOT NULL,
    order_number TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    psid TEXT NOT NULL DEFAULT '',
    pay_message TEXT NOT NULL DEFAULT '',
    invoice TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    order_id INTEGER
);
{ORDERS_TABLE}
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    secret_sha256 TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,
    subject TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    shown_prefix TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);
CREATE TABLE IF NOT EXISTS request_keys (
    owner TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    response_status INTEGER,
    response_body TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (owner, idempotency_key)
);
CREATE TABLE IF NOT EXISTS conversations (
    psid TEXT PRIMARY KEY,
    merchant_id TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
";

/// The columns of `orders`, shared by the schema and its migration.
const ORDERS_COLUMNS: &str = "
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    request TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    merchant_name TEXT NOT NULL,
    order_number TEXT NOT NULL,
    product_title TEXT NOT NULL,
    variant TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    currency TEXT NOT NULL,
    subtotal_minor INTEGER NOT NULL,
    shipping_minor INTEGER NOT NULL,
    tax_minor INTEGER NOT NULL,
    total_minor INTEGER NOT NULL,
    status TEXT NOT NULL,
    psid TEXT NOT NULL DEFAULT '',
    status_detail TEXT NOT NULL DEFAULT '',
    shopper TEXT NOT NULL DEFAULT '',
    UNIQUE (merchant_id, psid, order_number)
";

fn schema() -> String {
    SCHEMA_REST.replace(
        "{ORDERS_TABLE}",
        &format!("CREATE TABLE IF NOT EXISTS orders ({ORDERS_COLUMNS});"),
    )
}

/// Stores made when an order number was unique per merchant get the
/// per-conversation uniqueness: a merchant that restarts may reuse its
/// order numbers in new conversations.
fn orders_per_conversation_migration() -> String {
    format!(
        "CREATE TABLE orders_per_conversation ({ORDERS_COLUMNS});
INSERT INTO orders_per_conversation SELECT id, run_id, created_at, request, merchant_id, merchant_name,
    order_number, product_title, variant, quantity, currency, subtotal_minor, shipping_minor, tax_minor,
    total_minor, status, psid, status_detail, '' FROM orders;
DROP TABLE orders;
ALTER TABLE orders_per_conversation RENAME TO orders;"
    )
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, OrderError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| OrderError::Open {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        }
        let connection = Connection::open(path).map_err(|e| OrderError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Store::init(connection)
    }

    /// An in-memory store, for tests and dry runs.
    pub fn in_memory() -> Result<Store, OrderError> {
        Store::init(Connection::open_in_memory()?)
    }

    fn init(connection: Connection) -> Result<Store, OrderError> {
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL keeps readers (`concierge orders`) off writers' backs.
        let _mode: String =
            connection.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        connection.execute_batch("PRAGMA synchronous=NORMAL;")?;
        connection.execute_batch(&schema())?;
        // Stores made before these columns existed get them now.
        for (table, column, definition) in [
            ("orders", "psid", "TEXT NOT NULL DEFAULT ''"),
            ("orders", "status_detail", "TEXT NOT NULL DEFAULT ''"),
            ("orders", "shopper", "TEXT NOT NULL DEFAULT ''"),
            ("runs", "shopper", "TEXT NOT NULL DEFAULT ''"),
            ("merchants", "name_key", "TEXT NOT NULL DEFAULT ''"),
            ("merchants", "protocol", "TEXT NOT NULL DEFAULT 'messenger'"),
            ("merchants", "catalog", "TEXT NOT NULL DEFAULT 'feed'"),
            ("payments", "psid", "TEXT NOT NULL DEFAULT ''"),
            ("payments", "pay_message", "TEXT NOT NULL DEFAULT ''"),
            ("payments", "invoice", "TEXT NOT NULL DEFAULT ''"),
            ("payments", "attempts", "INTEGER NOT NULL DEFAULT 0"),
            ("payments", "order_id", "INTEGER"),
        ] {
            let present: bool = connection.query_row(
                "SELECT COUNT(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
                params![table, column],
                |row| row.get(0),
            )?;
            if !present {
                connection.execute_batch(&format!(
                    "ALTER TABLE {table} ADD COLUMN {column} {definition}"
                ))?;
            }
        }
        backfill_merchant_name_keys(&connection)?;
        // One display name, one merchant: a newcomer cannot take the name
        // shoppers know another merchant by.
        connection.execute_batch(
            "CREATE UNIQUE INDEX IF NOT EXISTS merchants_by_name_key ON merchants (name_key) WHERE name_key <> ''",
        )?;
        let orders_sql: String = connection.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'orders'",
            [],
            |row| row.get(0),
        )?;
        if !orders_sql.contains("psid, order_number") {
            connection.execute_batch(&format!(
                "BEGIN; {} COMMIT;",
                orders_per_conversation_migration()
            ))?;
        }
        Ok(Store {
            connection: Mutex::new(connection),
        })
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Each statement is atomic in SQLite; a panic elsewhere while holding
        // the lock leaves the connection usable.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a request made for `shopper` ("" for the operator and the
    /// command line); its orders belong to that shopper.
    pub fn start_run(
        &self,
        request: &str,
        parsed_json: &str,
        shopper: &str,
    ) -> Result<i64, OrderError> {
        let connection = self.lock();
        connection.execute(
            "INSERT INTO runs (created_at, request, parsed, shopper) VALUES (?1, ?2, ?3, ?4)",
            params![now_secs(), request, parsed_json, shopper],
        )?;
        Ok(connection.last_insert_rowid())
    }

    pub fn finish_run(&self, run_id: i64, outcome: &str) -> Result<(), OrderError> {
        self.lock().execute(
            "UPDATE runs SET outcome = ?1 WHERE id = ?2",
            params![outcome, run_id],
        )?;
        Ok(())
    }

    pub fn record_message(&self, message: &MessageRecord) -> Result<(), OrderError> {
        self.lock().execute(
            "INSERT INTO messages (run_id, merchant_id, direction, body, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![message.run_id, message.merchant_id, message.direction, message.body, message.at_ms],
        )?;
        Ok(())
    }

    pub fn messages(&self, run_id: i64) -> Result<Vec<MessageRecord>, OrderError> {
        let connection = self.lock();
        let mut statement = connection.prepare("SELECT run_id, merchant_id, direction, body, at_ms FROM messages WHERE run_id = ?1 ORDER BY id")?;
        let rows = statement.query_map(params![run_id], |row| {
            Ok(MessageRecord {
                run_id: row.get(0)?,
                merchant_id: row.get(1)?,
                direction: row.get(2)?,
                body: row.get(3)?,
                at_ms: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records an order of run `run_id`; it belongs to the run's shopper
    /// (`order.shopper` is not read). Recording the same order of the same
    /// conversation again returns the id it has.
    pub fn insert_order(&self, run_id: i64, order: &OrderRecord) -> Result<i64, OrderError> {
        insert_order_on(&self.lock(), run_id, order)
    }

    /// Stores `merchant` unless its id, or its display name compared by
    /// [`merchant_name_key`], is taken.
    pub fn insert_merchant_if_new(
        &self,
        merchant: &MerchantRecord,
    ) -> Result<MerchantInsert, OrderError> {
        let connection = self.lock();
        let name_key = merchant_name_key(&merchant.name);
        let name_taken = |connection: &Connection| -> Result<bool, OrderError> {
            Ok(connection.query_row(
                "SELECT COUNT(*) > 0 FROM merchants WHERE name_key = ?1",
                params![name_key],
                |row| row.get(0),
            )?)
        };
        if name_taken(&connection)? {
            return Ok(MerchantInsert::NameTaken);
        }
        let inserted = connection.execute(
            "INSERT OR IGNORE INTO merchants (id, name, endpoint, page_id, verify_token, app_secret, page_access_token, feed_path, created_at, name_key, protocol, catalog)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                merchant.id,
                merchant.name,
                merchant.endpoint,
                merchant.page_id,
                merchant.verify_token,
                merchant.app_secret,
                merchant.page_access_token,
                merchant.feed_path,
                merchant.created_at,
                name_key,
                merchant.protocol,
                merchant.catalog_source()
            ],
        )?;
        Ok(if inserted > 0 {
            MerchantInsert::Stored
        } else if name_taken(&connection)? {
            // Another process stored the name in between.
            MerchantInsert::NameTaken
        } else {
            MerchantInsert::IdTaken
        })
    }

    /// The registered merchant `id`.
    pub fn merchant(&self, id: &str) -> Result<Option<MerchantRecord>, OrderError> {
        Ok(self
            .select_merchants(
                "SELECT id, name, endpoint, page_id, verify_token, app_secret, page_access_token, feed_path, created_at, protocol, catalog FROM merchants WHERE id = ?1",
                params![id],
            )?
            .pop())
    }

    /// Registered merchants, oldest first.
    pub fn merchants(&self) -> Result<Vec<MerchantRecord>, OrderError> {
        self.select_merchants("SELECT id, name, endpoint, page_id, verify_token, app_secret, page_access_token, feed_path, created_at, protocol, catalog FROM merchants ORDER BY created_at, id", params![])
    }

    /// The merchant a page access token belongs to.
    pub fn merchant_by_token(
        &self,
        page_access_token: &str,
    ) -> Result<Option<MerchantRecord>, OrderError> {
        Ok(self
            .select_merchants(
                "SELECT id, name, endpoint, page_id, verify_token, app_secret, page_access_token, feed_path, created_at, protocol, catalog FROM merchants WHERE page_access_token = ?1",
                params![page_access_token],
            )?
            .pop())
    }

    /// Records where merchant `id`'s catalog comes from: searched where it
    /// lives (`live`), or its feed in the index. A merchant that sends a
    /// feed is read from it from then on.
    pub fn set_live_catalog(&self, id: &str, live: bool) -> Result<(), OrderError> {
        self.lock().execute(
            "UPDATE merchants SET catalog = ?2 WHERE id = ?1",
            params![id, catalog_source(live)],
        )?;
        Ok(())
    }

    /// Removes a merchant and revokes its API keys, in one transaction;
    /// true when it existed.
    pub fn remove_merchant(&self, id: &str) -> Result<bool, OrderError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        let removed = transaction.execute("DELETE FROM merchants WHERE id = ?1", params![id])? > 0;
        transaction.execute(
            "UPDATE api_keys SET revoked_at = ?1 WHERE scope = 'merchant' AND subject = ?2 AND revoked_at IS NULL",
            params![now_secs(), id],
        )?;
        transaction.commit()?;
        Ok(removed)
    }

    fn select_merchants(
        &self,
        sql: &str,
        parameters: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<MerchantRecord>, OrderError> {
        let connection = self.lock();
        let mut statement = connection.prepare(sql)?;
        let rows = statement.query_map(parameters, |row| {
            Ok(MerchantRecord {
                id: row.get(0)?,
                name: row.get(1)?,
                endpoint: row.get(2)?,
                page_id: row.get(3)?,
                verify_token: row.get(4)?,
                app_secret: row.get(5)?,
                page_access_token: row.get(6)?,
                feed_path: row.get(7)?,
                created_at: row.get(8)?,
                protocol: row.get(9)?,
                live_catalog: row.get::<_, String>(10)? == "live",
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The deployment's settings, as stored (defaults where never set).
    pub fn deployment(&self) -> Result<DeploymentSettings, OrderError> {
        let allow_loopback: Option<String> = self
            .lock()
            .query_row(
                "SELECT value FROM settings WHERE key = 'allow_loopback'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        Ok(DeploymentSettings {
            allow_loopback: allow_loopback.as_deref() == Some("true"),
        })
    }

    /// Stores whether merchant endpoints on loopback are allowed.
    pub fn set_allow_loopback(&self, allow: bool) -> Result<(), OrderError> {
        self.lock().execute(
            "INSERT INTO settings (key, value) VALUES ('allow_loopback', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![if allow { "true" } else { "false" }],
        )?;
        Ok(())
    }

    /// Remembers that each conversation `(psid, merchant_id)` of run
    /// `run_id` is with that merchant, so its messages are still recognised
    /// after the request that opened it. One transaction for all.
    pub fn record_conversations(
        &self,
        conversations: &[(String, String)],
        run_id: i64,
    ) -> Result<(), OrderError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        {
            let mut insert = transaction.prepare_cached(
                "INSERT OR IGNORE INTO conversations (psid, merchant_id, run_id, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let now = now_secs();
            for (psid, merchant_id) in conversations {
                insert.execute(params![psid, merchant_id, run_id, now])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// The merchant and run of conversation `psid`, if it was ever opened.
    pub fn conversation(&self, psid: &str) -> Result<Option<(String, i64)>, OrderError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT merchant_id, run_id FROM conversations WHERE psid = ?1",
                params![psid],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?)
    }

    /// Records a new status for an order and the merchant's words.
    pub fn set_order_status(
        &self,
        id: i64,
        status: OrderStatus,
        detail: &str,
    ) -> Result<(), OrderError> {
        self.lock().execute(
            "UPDATE orders SET status = ?1, status_detail = ?2 WHERE id = ?3",
            params![status.as_str(), detail, id],
        )?;
        Ok(())
    }

    /// Orders, newest first.
    pub fn orders(&self) -> Result<Vec<OrderRecord>, OrderError> {
        self.select_orders(None)
    }

    /// The orders placed for `shopper`, newest first.
    pub fn orders_of(&self, shopper: &str) -> Result<Vec<OrderRecord>, OrderError> {
        self.select_orders(Some(shopper))
    }

    fn select_orders(&self, shopper: Option<&str>) -> Result<Vec<OrderRecord>, OrderError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT id, created_at, request, merchant_id, merchant_name, order_number, product_title, variant, quantity, currency,
                    subtotal_minor, shipping_minor, tax_minor, total_minor, status, psid, status_detail, shopper
             FROM orders WHERE ?1 IS NULL OR shopper = ?1 ORDER BY id DESC",
        )?;
        let rows = statement.query_map(params![shopper], |row| {
            Ok(OrderRecord {
                id: row.get(0)?,
                created_at: row.get(1)?,
                request: row.get(2)?,
                merchant_id: row.get(3)?,
                merchant_name: row.get(4)?,
                order_number: row.get(5)?,
                product_title: row.get(6)?,
                variant: row.get(7)?,
                quantity: row.get(8)?,
                currency: row.get(9)?,
                subtotal: row.get(10)?,
                shipping: row.get(11)?,
                tax: row.get(12)?,
                total: row.get(13)?,
                status: {
                    let text: String = row.get(14)?;
                    OrderStatus::parse(&text).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(
                            14,
                            rusqlite::types::Type::Text,
                            format!("unknown order status {text:?}").into(),
                        )
                    })?
                },
                psid: row.get(15)?,
                status_detail: row.get(16)?,
                shopper: row.get(17)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores a new API key by the SHA-256 of its secret.
    pub fn insert_api_key(
        &self,
        key: &ApiKeyRecord,
        secret_sha256: &str,
    ) -> Result<(), OrderError> {
        self.lock().execute(
            "INSERT INTO api_keys (id, secret_sha256, scope, subject, label, shown_prefix, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                key.id,
                secret_sha256,
                key.scope,
                key.subject,
                key.label,
                key.shown_prefix,
                key.created_at
            ],
        )?;
        Ok(())
    }

    /// The live (not revoked) key whose secret hashes to `secret_sha256`;
    /// its last use is noted.
    pub fn live_api_key(&self, secret_sha256: &str) -> Result<Option<ApiKeyRecord>, OrderError> {
        let connection = self.lock();
        let key = connection
            .query_row(
                &format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE secret_sha256 = ?1 AND revoked_at IS NULL"
                ),
                params![secret_sha256],
                api_key_from_row,
            )
            .optional()?;
        if let Some(key) = &key {
            connection.execute(
                "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2",
                params![now_secs(), key.id],
            )?;
        }
        Ok(key)
    }

    /// Every key, revoked ones included, oldest first.
    pub fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, OrderError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        ))?;
        let rows = statement.query_map([], api_key_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes key `id`; true when a live key was revoked.
    pub fn revoke_api_key(&self, id: &str) -> Result<bool, OrderError> {
        Ok(self.lock().execute(
            "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
            params![now_secs(), id],
        )? > 0)
    }
}

const API_KEY_COLUMNS: &str =
    "id, scope, subject, label, shown_prefix, created_at, last_used_at, revoked_at";

fn api_key_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: row.get(0)?,
        scope: row.get(1)?,
        subject: row.get(2)?,
        label: row.get(3)?,
        shown_prefix: row.get(4)?,
        created_at: row.get(5)?,
        last_used_at: row.get(6)?,
        revoked_at: row.get(7)?,
    })
}

/// What an idempotency key of a request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKeyClaim {
    /// First use: carry the request out, then [`Store::finish_request_key`].
    New,
    /// The same request is being carried out (or its process stopped).
    Running { since: i64 },
    /// Done before: answer what was answered then.
    Done { status: u16, body: String },
    /// The key was used for another request.
    OtherRequest,
}

/// How long a request's idempotency key is remembered: a day, as Stripe's.
const REQUEST_KEY_SECS: i64 = 24 * 60 * 60;

impl Store {
    /// Claims `key` for a request of `owner` whose body hashes to
    /// `body_sha256`, or says what it was used for.
    pub fn claim_request_key(
        &self,
        owner: &str,
        key: &str,
        body_sha256: &str,
    ) -> Result<RequestKeyClaim, OrderError> {
        let connection = self.lock();
        let now = now_secs();
        connection.execute(
            "DELETE FROM request_keys WHERE created_at < ?1",
            params![now - REQUEST_KEY_SECS],
        )?;
        let inserted = connection.execute(
            "INSERT OR IGNORE INTO request_keys (owner, idempotency_key, body_sha256, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![owner, key, body_sha256, now],
        )?;
        if inserted > 0 {
            return Ok(RequestKeyClaim::New);
        }
        let (hash, status, body, since): (String, Option<u16>, Option<String>, i64) = connection
            .query_row(
                "SELECT body_sha256, response_status, response_body, created_at FROM request_keys WHERE owner = ?1 AND idempotency_key = ?2",
                params![owner, key],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )?;
        Ok(if hash != body_sha256 {
            RequestKeyClaim::OtherRequest
        } else {
            match (status, body) {
                (Some(status), Some(body)) => RequestKeyClaim::Done { status, body },
                _ => RequestKeyClaim::Running { since },
            }
        })
    }

    /// Records the answer given to the request claimed under `key`.
    pub fn finish_request_key(
        &self,
        owner: &str,
        key: &str,
        status: u16,
        body: &str,
    ) -> Result<(), OrderError> {
        self.lock().execute(
            "UPDATE request_keys SET response_status = ?1, response_body = ?2 WHERE owner = ?3 AND idempotency_key = ?4",
            params![status, body, owner, key],
        )?;
        Ok(())
    }
}

/// [`Store::insert_order`] on an open connection or transaction.
pub(crate) fn insert_order_on(
    connection: &Connection,
    run_id: i64,
    order: &OrderRecord,
) -> Result<i64, OrderError> {
    connection.execute(
        "INSERT OR IGNORE INTO orders (run_id, created_at, request, merchant_id, merchant_name, order_number, product_title, variant, quantity, currency,
                             subtotal_minor, shipping_minor, tax_minor, total_minor, status, psid, status_detail, shopper)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 COALESCE((SELECT shopper FROM runs WHERE id = ?1), ''))",
        params![
            run_id,
            order.created_at,
            order.request,
            order.merchant_id,
            order.merchant_name,
            order.order_number,
            order.product_title,
            order.variant,
            order.quantity,
            order.currency,
            order.subtotal,
            order.shipping,
            order.tax,
            order.total,
            order.status.as_str(),
            order.psid,
            order.status_detail
        ],
    )?;
    Ok(connection.query_row(
        "SELECT id FROM orders WHERE merchant_id = ?1 AND psid = ?2 AND order_number = ?3",
        params![order.merchant_id, order.psid, order.order_number],
        |row| row.get(0),
    )?)
}

/// How [`Store::insert_merchant_if_new`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MerchantInsert {
    Stored,
    IdTaken,
    NameTaken,
}

/// A display name as compared for uniqueness: letters and digits only,
/// lowercased, so "Lakeside Knits", "lakeside  knits" and "Lakeside-Knits!"
/// are one name.
pub fn merchant_name_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Merchants stored before names were unique get their name key; of two
/// with one name, the older keeps it.
fn backfill_merchant_name_keys(connection: &Connection) -> Result<(), OrderError> {
    let mut statement = connection
        .prepare("SELECT id, name FROM merchants WHERE name_key = '' ORDER BY created_at, id")?;
    let unkeyed: Vec<(String, String)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, name) in unkeyed {
        let key = merchant_name_key(&name);
        connection.execute(
            "UPDATE merchants SET name_key = ?1 WHERE id = ?2
             AND NOT EXISTS (SELECT 1 FROM merchants WHERE name_key = ?1)",
            params![key, id],
        )?;
    }
    Ok(())
}

pub fn now_secs() -> i64 {
    crate::merchant::messenger::wire::now_millis() / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_store_keeps_its_orders_and_gets_per_conversation_order_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE orders (
                    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, created_at INTEGER NOT NULL,
                    request TEXT NOT NULL, merchant_id TEXT NOT NULL, merchant_name TEXT NOT NULL,
                    order_number TEXT NOT NULL, product_title TEXT NOT NULL, variant TEXT NOT NULL,
                    quantity INTEGER NOT NULL, currency TEXT NOT NULL,
                    subtotal_minor INTEGER NOT NULL, shipping_minor INTEGER NOT NULL,
                    tax_minor INTEGER NOT NULL, total_minor INTEGER NOT NULL, status TEXT NOT NULL,
                    UNIQUE (merchant_id, order_number));
                 INSERT INTO orders VALUES (1, 1, 0, 'tee', 'alpha', 'Alpha', 'A-1', 'Tee', 'M',
                    1, 'USD', 1000, 0, 0, 1000, 'paid');",
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let connection = store.lock();
        let kept: (String, String, String) = connection
            .query_row(
                "SELECT order_number, psid, status_detail FROM orders WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .unwrap();
        assert_eq!(kept, ("A-1".to_string(), String::new(), String::new()));
        // The same order number in another conversation is a new order.
        connection
            .execute(
                "INSERT INTO orders (run_id, created_at, request, merchant_id, merchant_name,
                    order_number, product_title, variant, quantity, currency, subtotal_minor,
                    shipping_minor, tax_minor, total_minor, status, psid)
                 VALUES (2, 0, 'tee', 'alpha', 'Alpha', 'A-1', 'Tee', 'M', 1, 'USD', 1000, 0, 0,
                    1000, 'paid', 'psid-2')",
                [],
            )
            .unwrap();
    }
}
