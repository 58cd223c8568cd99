//! Validated values, enums and ids of the domain: no HTTP and no SQL beyond the column
//! mappings of the types themselves.

pub mod access;
pub mod account;
pub mod audit;
pub mod calendar;
pub mod changes;
pub mod checkpoint;
pub mod consultation;
pub mod cursor;
pub mod evaluation;
pub mod ids;
pub mod kinds;
pub mod performance;
pub mod proposal;
pub mod ruling;
pub mod token;
pub mod values;
