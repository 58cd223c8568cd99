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
            serde::Serialize, serde::Deserialize, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
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
            type Err = uuid::Error;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(value).map(Self)
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
