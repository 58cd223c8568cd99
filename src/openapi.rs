//! The OpenAPI document, generated from the handlers registered in [`crate::api`].

use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{
    ContentBuilder, HttpMethod, OpenApi as Document, Ref, RefOr, ResponseBuilder,
    header::HeaderBuilder,
};
use utoipa_actix_web::AppExt;

use crate::domain::calendar::{Day, Moment};
use crate::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "cppcc-api",
        description = "The daily work of the district committees of a political \
            consultative conference (政协): districts, departments and members; members' \
            workstations and their activities; proposals (提案), consultation topics (协商), \
            democratic evaluations of government departments (民主评议) and the rulings \
            (批示) district leaders give on them, each a workflow whose steps are recorded; \
            the committee's meetings, reports and key tasks, and members' duty performance \
            (履职). District systems push their records in batches and pull every change \
            from a commit-ordered feed; auditors read a tamper-evident trail with signed \
            checkpoints. Every call needs an API key or, for a person, an OpenID Connect \
            token (`Authorization: Bearer`), except the health checks. Pages, errors (problem+json), ETags and the change feed are \
            described in the README.",
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/", description = "The service that serves this document")),
    tags(
        (name = "districts", description = "District committees (区政协)"),
        (name = "departments", description = "Departments and other units of a district (单位)"),
        (name = "members", description = "Committee members (委员)"),
        (name = "workstations", description = "Members' workstations and studios (委员工作站/工作室) and their members"),
        (name = "activities", description = "Activities held at workstations (履职活动)"),
        (name = "proposals", description = "Proposals (提案) and their handling"),
        (name = "consultations", description = "The annual consultation plan's topics (协商议题) and their activities"),
        (name = "evaluations", description = "Democratic evaluations (民主评议) of departments: evaluators, visits, ratings, rectification items and the result"),
        (name = "meetings", description = "The committee's meetings (全体会议, 常委会, 主席会议, 党组会议, 专委会会议, 讲堂, 学习会) and members' attendance"),
        (name = "reports", description = "Reports to the district party committee (向区委报告)"),
        (name = "key-tasks", description = "A district committee's yearly key tasks (重点工作) and their progress"),
        (name = "performance", description = "Members' duty performance (委员履职): scoring rules, a member's scored items, the district ranking"),
        (name = "sync", description = "District sync: the change feed and the snapshot"),
        (name = "rulings", description = "Leaders' rulings (批示), the departments' measures and the feedback"),
        (name = "reference", description = "Controlled lists"),
        (name = "accounts", description = "The people who act (members, units, leaders' offices, staff) and the identity-provider identities linked to them"),
        (name = "keys", description = "API keys (administrators): machine keys, and personal keys of accounts"),
        (name = "audit", description = "The audit trail (administrators and auditors)"),
        (name = "operations", description = "Health and readiness"),
    ),
    components(schemas(Problem, FieldError, Day, Moment)),
    modifiers(&BearerScheme),
)]
struct ApiDoc;

/// The one security scheme: `Authorization: Bearer <token>` with an API key's token or an
/// OpenID Connect access token.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, document: &mut Document) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = document.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key's token (`cppcc_…`: a machine key, or a personal key of an \
                         account), or an access token (a JWT signed with RS256, ES256 or EdDSA) \
                         of an OpenID Connect issuer the service trusts, whose issuer and \
                         subject are linked to an account. Roles: admin (everything), clerk \
                         (read and write its district), sync (read its district, sync \
                         endpoints), auditor (read everything and the audit trail, write \
                         nothing), and the people of a district: member, unit and \
                         leaders_office, each as the README's table of roles says.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The parts of the document not collected from handlers.
pub fn base() -> Document {
    ApiDoc::openapi()
}

/// Answers any operation can give, added to every operation once here rather than in each
/// handler: the request id on every answer; the bearer requirement with 401, 403 and 429;
/// 400 for unreadable parameters; 404 where a path names a record; 304 where
/// `If-None-Match` is taken and 412 where `If-Match` is; 413, 415 and 422 for operations with a body; 500 and 503 everywhere.
pub fn finish(mut document: Document) -> Document {
    let problem = || {
        ContentBuilder::new()
            .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
            .build()
    };
    let error = |description: &str, retry: bool| {
        let mut builder = ResponseBuilder::new()
            .description(description)
            .content("application/problem+json", problem());
        if retry {
            builder = builder.header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(u32::schema_ref()))
                    .description(Some("Seconds to wait before retrying"))
                    .build(),
            );
        }
        builder.build()
    };
    for (path, item) in document.paths.paths.iter_mut() {
        let is_api = path.starts_with("/api/");
        for method in [
            HttpMethod::Get,
            HttpMethod::Post,
            HttpMethod::Put,
            HttpMethod::Patch,
            HttpMethod::Delete,
        ] {
            let Some(operation) = operation_mut(item, &method) else {
                continue;
            };
            if is_api && method == HttpMethod::Post {
                idempotent(operation);
            }
            never_null(operation);
            let has_params = operation
                .parameters
                .as_ref()
                .is_some_and(|params| !params.is_empty());
            if !is_api {
                // The health checks and the document itself: no credential (an empty
                // requirement says so, rather than leaving it unsaid).
                operation.security = Some(vec![
                    utoipa::openapi::security::SecurityRequirement::default(),
                ]);
            }
            if is_api {
                // A guarded route names its roles already; an unguarded one is refused to
                // everyone at run time, and a test fails on it.
                operation.security.get_or_insert_with(|| {
                    vec![utoipa::openapi::security::SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )]
                });
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, response: utoipa::openapi::Response| {
                    responses
                        .entry(status.to_owned())
                        .or_insert(RefOr::T(response));
                };
                let mut unauthorized = error(
                    "No valid credential: a key missing, malformed, unknown, expired or \
                     revoked; a token not signed by its issuer's published key, of an issuer \
                     not trusted, for another audience, expired or not yet valid; an account \
                     disabled",
                    false,
                );
                unauthorized.headers.insert(
                    "WWW-Authenticate".to_owned(),
                    RefOr::T(
                        HeaderBuilder::new()
                            .schema(Some(String::schema_ref()))
                            .description(Some("`Bearer`"))
                            .build(),
                    ),
                );
                add("401", unauthorized);
                add(
                    "403",
                    error(
                        "`/problems/forbidden`: the caller's role may not do this. \
                         `/problems/unknown-subject`: a valid OpenID Connect token whose \
                         subject no account is linked to",
                        false,
                    ),
                );
                add(
                    "429",
                    error("Too many failed authentications from this address", true),
                );
                if has_params {
                    add("400", error("A parameter or header cannot be read", false));
                }
                let parameters: Vec<&utoipa::openapi::path::Parameter> = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter_map(|parameter| match parameter {
                        RefOr::T(parameter) => Some(parameter),
                        RefOr::Ref(_) => None,
                    })
                    .collect();
                if parameters
                    .iter()
                    .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Path)
                {
                    add(
                        "404",
                        error("No such record, or none the key's districts hold", false),
                    );
                }
                if parameters.iter().any(|p| {
                    p.parameter_in == utoipa::openapi::path::ParameterIn::Query
                        && p.name == "district_id"
                }) {
                    // A district key asking for another district is told there is none.
                    add(
                        "404",
                        error("No such district, or another than the key's", false),
                    );
                }
                if parameters.iter().any(|p| p.name == "If-None-Match") {
                    add(
                        "304",
                        ResponseBuilder::new()
                            .description("The client's copy (If-None-Match) is current")
                            .build(),
                    );
                }
                if parameters.iter().any(|p| p.name == "If-Match") {
                    add(
                        "412",
                        error("If-Match does not name the current version", false),
                    );
                }
                if parameters.iter().any(|p| {
                    matches!(
                        p.name.as_str(),
                        "cursor" | "after" | "to_seq" | "updated_since"
                    )
                }) {
                    add(
                        "422",
                        error(
                            "A parameter has the right shape but cannot be used: a cursor \
                             this list (or feed) did not issue, or one altered or of another \
                             sort; `updated_since` \
                             with another sort than `updated_at`; a range that ends before \
                             it starts",
                            false,
                        ),
                    );
                }
                if operation.request_body.is_some() {
                    add("400", error("The body is not valid JSON", false));
                    add("413", error("The body is larger than 256 KiB", false));
                    add(
                        "408",
                        error(
                            "The body did not arrive within REQUEST_BODY_TIMEOUT_SECS",
                            false,
                        ),
                    );
                    add("415", error("The body is not JSON", false));
                    add(
                        "422",
                        error(
                            "Fields of the body are invalid; every one is listed in `errors`",
                            false,
                        ),
                    );
                }
                add(
                    "500",
                    error("An unexpected error; it has been logged", false),
                );
                add(
                    "503",
                    error(
                        "`/problems/unavailable`: the database is unavailable and nothing \
                         was written. `/problems/outcome-unknown`: the connection was lost \
                         while a write was being committed, so it may or may not be written; \
                         a retry with the same Idempotency-Key learns which. \
                         `/problems/issuer-unavailable`: the keys of an OpenID Connect token's \
                         issuer cannot be fetched, so the token cannot be checked yet. Either \
                         way, retry after the given delay",
                        true,
                    ),
                );
            }
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    response
                        .headers
                        .entry("X-Request-Id".to_owned())
                        .or_insert(RefOr::T(
                        HeaderBuilder::new()
                            .schema(Some(String::schema_ref()))
                            .description(Some(
                                "The request's id: the client's own if it sent one, else a new one",
                            ))
                            .build(),
                    ));
                }
            }
        }
    }
    document
}

/// A header or query parameter is sent or left out, never `null`: an optional one is
/// optional by `required: false`, not by a `null` type.
fn never_null(operation: &mut Operation) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    for parameter in operation.parameters.iter_mut().flatten() {
        let RefOr::T(parameter) = parameter else {
            continue;
        };
        if !matches!(
            parameter.parameter_in,
            ParameterIn::Header | ParameterIn::Query
        ) {
            continue;
        }
        if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut()
            && let SchemaType::Array(types) = &object.schema_type
        {
            let types: Vec<Type> = types
                .iter()
                .filter(|kind| **kind != Type::Null)
                .cloned()
                .collect();
            object.schema_type = match types.as_slice() {
                [single] => SchemaType::Type(single.clone()),
                _ => SchemaType::Array(types),
            };
        }
    }
}

/// Every POST takes an `Idempotency-Key`: its parameter, the answers it adds and the
/// header that marks a stored answer.
fn idempotent(operation: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::ObjectBuilder;
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(RefOr::T(
            ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(utoipa::openapi::Required::False)
                .description(Some(
                    "Makes a retry safe: the first answer to this key (per API key, kept 24 hours) \
                 is answered again, marked `Idempotent-Replayed: true`. 1 to 255 visible ASCII \
                 characters.",
                ))
                .schema(Some(
                    ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .min_length(Some(1))
                        .max_length(Some(255))
                        .pattern(Some("^[!-~]{1,255}$")),
                ))
                .build(),
        ));
    let problem = ContentBuilder::new()
        .schema(Some(RefOr::Ref(Ref::from_schema_name("Problem"))))
        .build();
    let reused = "an Idempotency-Key first sent with another request";
    let refused = if operation.request_body.is_some() {
        format!(
            "Invalid fields, all of them in `errors[]`, each with its `code` (`unknown` and \
             `rule` are what the schema cannot know; see the operation), or {reused}"
        )
    } else {
        format!("A parameter that cannot be used, or {reused}")
    };
    let responses = &mut operation.responses.responses;
    if let Some(RefOr::T(response)) = responses.get_mut("422")
        && !response.description.contains("Idempotency-Key")
    {
        response.description = format!("{}; or {reused}", response.description);
    }
    for (status, description) in [
        (
            "409",
            "A request with this Idempotency-Key is still running".to_owned(),
        ),
        ("422", refused),
    ] {
        responses.entry(status.to_owned()).or_insert(RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content("application/problem+json", problem.clone())
                .build(),
        ));
    }
    for (status, response) in responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                "Idempotent-Replayed".to_owned(),
                RefOr::T(
                    HeaderBuilder::new()
                        .schema(Some(String::schema_ref()))
                        .description(Some(
                            "`true` when this is the stored answer to an earlier request with the same Idempotency-Key",
                        ))
                        .build(),
                ),
            );
        }
    }
}

fn operation_mut<'a>(
    item: &'a mut utoipa::openapi::PathItem,
    method: &HttpMethod,
) -> Option<&'a mut Operation> {
    match method {
        HttpMethod::Get => item.get.as_mut(),
        HttpMethod::Post => item.post.as_mut(),
        HttpMethod::Put => item.put.as_mut(),
        HttpMethod::Patch => item.patch.as_mut(),
        HttpMethod::Delete => item.delete.as_mut(),
        _ => None,
    }
}

trait SchemaRef {
    fn schema_ref() -> RefOr<utoipa::openapi::schema::Schema>;
}

impl<T: utoipa::PartialSchema> SchemaRef for T {
    fn schema_ref() -> RefOr<utoipa::openapi::schema::Schema> {
        T::schema()
    }
}

/// The whole document, as `GET /openapi.json` serves it and `openapi/openapi.json` holds it.
pub fn document() -> Document {
    let (_, document) = crate::api::routes(actix_web::App::new().into_utoipa_app().openapi(base()))
        .split_for_parts();
    finish(document)
}
