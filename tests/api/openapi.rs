//! The committed `openapi/openapi.json` is the contract integrators generate clients from:
//! it must be exactly what the code generates and what the server serves.

use serde_json::Value;

use crate::helpers::spawn_app;

fn committed() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let text = std::fs::read_to_string(&path).expect("openapi/openapi.json exists");
    serde_json::from_str(&text).expect("openapi/openapi.json is JSON")
}

#[test]
fn the_committed_spec_is_what_the_code_generates() {
    let generated = serde_json::to_value(cppcc_api::openapi::document()).unwrap();
    assert!(
        generated == committed(),
        "openapi/openapi.json is stale: regenerate it with \
         `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn the_server_serves_the_committed_spec() {
    let app = spawn_app().await;
    let served: Value = app.get("/openapi.json").await.json().await.unwrap();
    assert_eq!(served, committed());
}

#[test]
fn every_operation_has_an_id_a_tag_a_summary_and_its_error_answers() {
    let spec = committed();
    let paths = spec["paths"].as_object().unwrap();
    let mut operation_ids = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(!id.is_empty(), "{method} {path} has an operationId");
            // In a flat SDK of 160 functions an id names what it acts on: a verb and a
            // noun of the domain, never a generic one (`list_items`, `get_plan`).
            let words: Vec<&str> = id.split('_').collect();
            let generic = |word: &str| {
                matches!(
                    word,
                    "item"
                        | "items"
                        | "plan"
                        | "ranking"
                        | "entry"
                        | "entries"
                        | "record"
                        | "records"
                )
            };
            assert!(
                words.len() >= 2
                    && words.iter().all(|word| {
                        !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase())
                    })
                    && !(words.len() == 2 && generic(words[1])),
                "{method} {path}: operationId `{id}` does not say what it acts on"
            );
            operation_ids.push(id.to_owned());
            assert_eq!(
                operation["tags"].as_array().map(Vec::len),
                Some(1),
                "{id} has one tag"
            );
            assert!(operation["summary"].is_string(), "{id} has a summary");
            let responses = operation["responses"].as_object().unwrap();
            if path.starts_with("/api/") {
                let roles = &operation["x-access"]["roles"];
                assert!(
                    roles.as_array().is_some_and(|roles| !roles.is_empty()),
                    "{id} states who may call it"
                );
                assert_eq!(
                    operation["security"],
                    serde_json::json!([{"bearer": roles}]),
                    "{id} requires the bearer key of one of its roles"
                );
                assert!(
                    responses["401"]["headers"]
                        .get("WWW-Authenticate")
                        .is_some(),
                    "{id} documents 401 with its challenge"
                );
                for status in ["403", "429", "500", "503"] {
                    assert!(responses.contains_key(status), "{id} documents {status}");
                }
                if operation.get("requestBody").is_some() {
                    for status in ["400", "413", "415", "422"] {
                        assert!(responses.contains_key(status), "{id} documents {status}");
                    }
                }
                if path.contains('{') {
                    assert!(responses.contains_key("404"), "{id} documents 404");
                }
                if method == "patch" || method == "delete" {
                    assert!(responses.contains_key("412"), "{id} documents 412");
                }
            }
        }
    }
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "the bearer scheme is declared"
    );
    let member = &spec["components"]["schemas"]["Member"];
    let required = member["required"].as_array().unwrap();
    assert!(
        !required.contains(&serde_json::json!("phone"))
            && !required.contains(&serde_json::json!("email")),
        "contact data is optional: roles that may not see it do not get it"
    );
    let mut unique = operation_ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        operation_ids.len(),
        "operation ids are unique"
    );
}

#[test]
fn every_schema_reference_resolves() {
    let spec = committed();
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    let mut stack = vec![&spec];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    let name = reference.trim_start_matches("#/components/schemas/");
                    assert!(schemas.contains_key(name), "{reference} is defined");
                }
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
}

/// Found by schema fuzzing: a text filter with a NUL byte was refused while the spec took
/// any string. Every free-text query or header parameter now states its shape (a pattern
/// and, for filters, a length), and none may be null.
#[test]
fn every_text_parameter_states_what_it_takes() {
    let spec = committed();
    let mut vague = Vec::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let place = parameter["in"].as_str().unwrap();
                if place == "path" {
                    continue;
                }
                let schema = &parameter["schema"];
                assert_ne!(
                    schema["type"]
                        .as_array()
                        .map(|types| types.contains(&Value::from("null"))),
                    Some(true),
                    "{method} {path} {}: a parameter is never null",
                    parameter["name"]
                );
                let free_text = schema["type"] == "string"
                    && schema.get("enum").is_none()
                    && schema.get("format").is_none()
                    && schema.get("pattern").is_none();
                if free_text {
                    vague.push(format!("{method} {path} {}", parameter["name"]));
                }
            }
        }
    }
    assert!(
        vague.is_empty(),
        "text parameters without a pattern: {vague:#?}"
    );
}

/// The document says what a generated client needs to know of the whole service: where
/// it is served, that the health checks take no credential, and every record type the
/// audit trail records, which the trail's filter takes (and refuses any other).
#[tokio::test]
async fn the_document_names_its_server_its_open_routes_and_every_entity_of_the_trail() {
    let spec = committed();
    assert_eq!(spec["servers"][0]["url"], "/");
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            spec["paths"][path]["get"]["security"],
            serde_json::json!([{}]),
            "{path} needs no credential"
        );
    }
    let listed: Vec<&str> = spec["components"]["schemas"]["Entity"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_str().unwrap())
        .collect();
    let entities: Vec<&str> = cppcc_api::domain::kinds::Entity::ALL
        .iter()
        .map(|entity| entity.as_str())
        .collect();
    assert_eq!(listed, entities, "every entity of the trail is listed");
    let entity_type = &spec["components"]["schemas"]["AuditEvent"]["properties"]["entity_type"];
    assert_eq!(entity_type["$ref"], "#/components/schemas/Entity");

    let app = crate::helpers::spawn_app().await;
    for entity in &entities {
        let response = app
            .get(&format!("/api/v1/audit-events?entity_type={entity}"))
            .await;
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{entity}");
    }
    let response = app.get("/api/v1/audit-events?entity_type=spaceship").await;
    assert_eq!(response.status(), reqwest::StatusCode::BAD_REQUEST);
}

/// A generated client's type of a create's body does not let a required field be left
/// out, and that of a change (JSON Merge Patch) lets every field be.
#[test]
fn create_bodies_mark_their_required_fields_and_patches_none() {
    let spec = committed();
    let schemas = &spec["components"]["schemas"];
    let body_schema = |operation: &Value, media: &str| {
        let schema = &operation["requestBody"]["content"][media]["schema"];
        let name = schema["$ref"].as_str()?.rsplit('/').next()?.to_owned();
        Some((name.clone(), schemas[&name].clone()))
    };
    let mut creates = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        if let Some(post) = item.get("post")
            && post["responses"].get("201").is_some()
            && let Some((name, schema)) = body_schema(post, "application/json")
        {
            creates += 1;
            let required = schema["required"].as_array().map_or(0, Vec::len);
            assert!(required > 0, "POST {path}: {name} marks no required field");
        }
        if let Some(patch) = item.get("patch")
            && let Some((name, schema)) = body_schema(patch, "application/merge-patch+json")
        {
            assert!(
                schema.get("required").is_none(),
                "PATCH {path}: {name} requires {}",
                schema["required"]
            );
        }
    }
    assert!(creates >= 15, "only {creates} creates found");
}

/// Every literal segment of every path is kebab-case (collections and actions alike), so
/// a client never guesses which case a path is in.
#[test]
fn every_path_is_kebab_case() {
    let spec = committed();
    let mut segments = 0;
    for path in spec["paths"].as_object().unwrap().keys() {
        for segment in path
            .split('/')
            .filter(|s| !s.is_empty() && !s.starts_with('{'))
        {
            let kebab = segment
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !segment.starts_with('-')
                && !segment.ends_with('-');
            assert!(kebab, "{path}: `{segment}` is not kebab-case");
            segments += 1;
        }
    }
    assert!(segments > 300, "only {segments} segments were read");
}
