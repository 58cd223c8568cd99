//! Validated values, enums and ids of the domain: no HTTP and no SQL beyond the column
//! mappings of the types themselves.

pub mod ids;
pub mod kinds;
pub mod values;
