//! Building blocks of the schemas written by hand (the sync batches, the change feed's
//! entries, the snapshot's lines, pages): one spelling of each.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

/// A reference to the component `name`.
pub fn named(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

/// `schema`, or `null`.
pub fn or_null(schema: impl Into<RefOr<Schema>>) -> OneOfBuilder {
    OneOfBuilder::new()
        .item(schema)
        .item(ObjectBuilder::new().schema_type(Type::Null))
}

/// The component `name`, or `null`.
pub fn nullable(name: &str) -> RefOr<Schema> {
    or_null(named(name)).into()
}

/// A list of the component `name`, or `null` (none).
pub fn nullable_list(name: &str) -> RefOr<Schema> {
    or_null(ArrayBuilder::new().items(named(name))).into()
}

/// A string that may only be `value`.
pub fn constant(value: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([value]))
}
