//! Orders: the shopper's mandate, invoices and the checks run on them, and
//! the durable store of requests, messages, payments and orders.
pub mod checks;
pub mod invoice;
pub mod mandate;
pub mod offer_text;
pub mod payments;
pub mod store;

pub use checks::{check_invoice, check_order, Check, Expectation};
pub use invoice::{Invoice, InvoiceLine};
pub use mandate::Mandate;
pub use payments::{PaymentClaim, PaymentRecord, PaymentStatus};
pub use store::{DeploymentSettings, MerchantRecord, OrderRecord, OrderStatus, Store};
