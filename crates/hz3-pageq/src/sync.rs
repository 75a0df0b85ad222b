//! Re-export of the loom / core switch of hz3-page, so this crate's protocols are model
//! checked as shipped.
pub use hz3_page::sync::*;
