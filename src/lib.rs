//! Concierge: one shopping assistant, many merchants.
pub mod config;
pub mod error;
pub mod eval;
pub mod intent;
pub mod money;
pub mod rules;

pub use error::{Error, Result};
