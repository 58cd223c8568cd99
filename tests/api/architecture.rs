//! The arrows between the service's modules point down: the store (`src/db`) and the
//! domain (`src/domain`) never reach the HTTP layer (`src/api`), directly or through
//! another module; the domain never reaches the store; and no two top-level modules
//! reach each other. Read from the source (`crate::…` paths in code outside test modules).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of `src/` (`db::audit`, `api`, …) with the modules its code names.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut pending = vec![src.clone()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                files.push(path);
            }
        }
    }
    let module_of = |path: &Path| -> String {
        let relative = path.strip_prefix(&src).unwrap().with_extension("");
        relative
            .components()
            .map(|part| part.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("::")
    };
    let modules: BTreeSet<String> = files.iter().map(|path| module_of(path)).collect();
    let path = regex::Regex::new(r"crate((?:::[a-z_][a-z0-9_]*)+)").unwrap();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        // Code only: test modules (at the end of a file) and comments are left out.
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut named = BTreeSet::new();
        for found in path.captures_iter(&code) {
            let parts: Vec<&str> = found[1].trim_start_matches("::").split("::").collect();
            // The longest prefix of the path that is a module of its own file.
            if let Some(target) = (1..=parts.len())
                .rev()
                .map(|n| parts[..n].join("::"))
                .find(|candidate| modules.contains(candidate))
                && target != module
            {
                named.insert(target);
            }
        }
        graph.insert(module, named);
    }
    graph
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap()
}

/// The modules `from` reaches, directly or through others, with the path to each.
fn reach(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeMap<String, Vec<String>> {
    let mut paths = BTreeMap::new();
    let mut pending = vec![vec![from.to_owned()]];
    while let Some(path) = pending.pop() {
        let last = path.last().unwrap();
        for next in graph.get(last).into_iter().flatten() {
            if !paths.contains_key(next) && next != from {
                let mut longer = path.clone();
                longer.push(next.clone());
                paths.insert(next.clone(), longer.clone());
                pending.push(longer);
            }
        }
    }
    paths
}

#[test]
fn the_store_and_the_domain_never_reach_the_http_layer_and_the_domain_never_the_store() {
    let graph = module_graph();
    assert!(graph.contains_key("db::audit") && graph.contains_key("api::members"));
    let mut wrong = Vec::new();
    for module in graph.keys() {
        let forbidden: &[&str] = match top(module) {
            "db" => &["api"],
            "domain" => &["api", "db"],
            _ => continue,
        };
        for (target, path) in reach(&graph, module) {
            if forbidden.contains(&top(&target)) {
                wrong.push(path.join(" → "));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows pointing up:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_two_top_level_modules_reach_each_other() {
    let graph = module_graph();
    let mut tops: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, named) in &graph {
        let entry = tops.entry(top(module).to_owned()).or_default();
        entry.extend(
            named
                .iter()
                .map(|target| top(target).to_owned())
                .filter(|target| target != top(module)),
        );
    }
    let mut circles = Vec::new();
    for module in tops.keys() {
        if let Some(path) = reach(&tops, module)
            .into_values()
            .find(|path| tops[path.last().unwrap()].contains(module))
        {
            circles.push(format!("{} → {module}", path.join(" → ")));
        }
    }
    assert!(
        circles.is_empty(),
        "circles between modules:\n{}",
        circles.join("\n")
    );
}

/// A statement sent with a COMMIT binds only types PostgreSQL has built in: one of the
/// database's own (an enum, a composite, a domain) is looked up on first use before the
/// statement takes its turn, and the COMMIT would overtake it (`work::commit_with`). No
/// column of the service's tables has such a type.
#[tokio::test]
async fn no_column_has_a_type_of_the_databases_own() {
    let app = crate::helpers::spawn_app().await;
    let own: Vec<String> = app
        .db()
        .await
        .query(
            "SELECT c.relname || '.' || a.attname FROM pg_attribute AS a \
             JOIN pg_class AS c ON c.oid = a.attrelid \
             JOIN pg_namespace AS n ON n.oid = c.relnamespace \
             JOIN pg_type AS t ON t.oid = a.atttypid \
             LEFT JOIN pg_type AS e ON e.oid = t.typelem AND t.typcategory = 'A' \
             WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 \
               AND (t.typtype IN ('e', 'c', 'd') OR e.typtype IN ('e', 'c', 'd'))",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        own.is_empty(),
        "columns of the database's own types: {own:?}"
    );
}
