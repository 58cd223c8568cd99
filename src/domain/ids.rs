//! Typed ids: a member id can never be passed where a district id is expected.

use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Uuid as SqlUuid;
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = SqlUuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                hyphenated(value).map(Self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
                hyphenated(&text).map(Self).map_err(serde::de::Error::custom)
            }
        }

        impl ToSql<SqlUuid, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <Uuid as ToSql<SqlUuid, Pg>>::to_sql(&self.0, out)
            }
        }

        impl FromSql<SqlUuid, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                <Uuid as FromSql<SqlUuid, Pg>>::from_sql(bytes).map(Self)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                uuid_schema(concat!("The id of ", $what, " (a UUID)."))
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

/// A UUID in the one spelling the document's `format: uuid` names: 36 characters,
/// hyphenated (the braced, URN and unhyphenated spellings the uuid crate also reads are
/// refused, so one id has one spelling).
fn hyphenated(value: &str) -> Result<Uuid, String> {
    match Uuid::try_parse(value) {
        Ok(id) if value.len() == 36 => Ok(id),
        _ => Err(format!(
            "`{value}` is not a UUID (8-4-4-4-12 hexadecimal digits)"
        )),
    }
}

fn uuid_schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .description(Some(description))
        .into()
}

typed_id!(DistrictId, "a district");
typed_id!(DepartmentId, "a department");
typed_id!(MemberId, "a member");
typed_id!(WorkstationId, "a workstation");
typed_id!(ActivityId, "a workstation activity");
typed_id!(ApiKeyId, "an API key");
typed_id!(AccountId, "an account");
typed_id!(ProposalId, "a proposal");
typed_id!(ConsultationId, "a consultation topic");
typed_id!(ConsultationActivityId, "a consultation activity");
typed_id!(RulingId, "a ruling");
typed_id!(MeasureId, "a handling measure");
typed_id!(EvaluationId, "a democratic evaluation");
typed_id!(VisitId, "an investigation visit");
typed_id!(ItemId, "a rectification item");
typed_id!(NoteId, "a progress note");
typed_id!(MeetingId, "a meeting");
typed_id!(ReportId, "a report to the district party committee");
typed_id!(KeyTaskId, "a key task");
typed_id!(KeyTaskNoteId, "a key task's progress note");
