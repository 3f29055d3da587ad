//! Orders: the shopper's mandate, invoices and the checks run on them.
pub mod checks;
pub mod invoice;
pub mod mandate;
pub mod offer_text;

pub use crate::store::payments::{PaymentClaim, PaymentRecord, PaymentStatus};
pub use crate::store::{DeploymentSettings, MerchantRecord, OrderRecord, OrderStatus, Store};
pub use checks::{check_invoice, check_order, Check, Expectation};
pub use invoice::{Invoice, InvoiceLine};
pub use mandate::Mandate;
