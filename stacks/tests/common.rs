//! Helpers shared by the stacks integration tests.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cfn::{Format, Json, render};
use stacks::app::{self, Stack};
use stacks::config;

/// The stages shipped in `stacks/stages`.
pub const STAGES: &[&str] = &["dev", "staging", "prod"];

/// Builds every stack of a shipped stage.
pub fn stage_stacks(stage: &str) -> Vec<Stack> {
    let config =
        config::load_stage(&config::default_stages_dir(), stage).unwrap_or_else(|e| panic!("{e}"));
    app::build_stage(&config).unwrap_or_else(|e| panic!("{e}"))
}

/// The rendered JSON of one stack of a stage, parsed.
pub fn template_json(stage: &str, part_slug: &str) -> Json {
    let name = format!("roadcall-perf-{stage}-{part_slug}");
    let stack = stage_stacks(stage)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stack {name}"));
    serde_json::from_str(&render(&stack.template, Format::Json).unwrap()).unwrap()
}

/// Every resource of every stack of every stage: (stage, stack, logical id, resource).
pub fn all_resources() -> Vec<(String, String, String, Json)> {
    let mut out = Vec::new();
    for stage in STAGES {
        for stack in stage_stacks(stage) {
            let json: Json =
                serde_json::from_str(&render(&stack.template, Format::Json).unwrap()).unwrap();
            for (id, resource) in json["Resources"].as_object().unwrap() {
                out.push((
                    stage.to_string(),
                    stack.name.clone(),
                    id.clone(),
                    resource.clone(),
                ));
            }
        }
    }
    out
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The route keys (`METHOD /path`) the routers in lambdas/src/router.rs serve, read from
/// that file, so a route added there and not in the stacks fails the tests that use this.
pub fn router_routes() -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace_root().join("lambdas/src/router.rs")).unwrap();
    routes_in(&text, &text)
}

/// The route keys each Lambda binary serves (`lambdas/src/bin/<slug>.rs` hands its
/// router function to `router::finish`), by slug: which function owns which route,
/// read from the code that serves it rather than from the stacks' own table.
pub fn router_routes_by_binary(slugs: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let root = workspace_root();
    let router = std::fs::read_to_string(root.join("lambdas/src/router.rs")).unwrap();
    slugs
        .iter()
        .map(|slug| {
            let path = root.join(format!("lambdas/src/bin/{slug}.rs"));
            let binary = std::fs::read_to_string(&path).unwrap();
            // `router::finish(router::vendor_routes(), state)`: the one `router::` call
            // that is not `finish` (a `router::Api` type is no call).
            let functions: Vec<&str> = binary
                .split("router::")
                .skip(1)
                .filter_map(|rest| rest.split_once('(').map(|(name, _)| name))
                .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .filter(|name| *name != "finish")
                .collect();
            let [function] = functions[..] else {
                panic!(
                    "{}: expected one router function, found {functions:?}",
                    path.display()
                );
            };
            let body = router
                .split(&format!("pub fn {function}("))
                .nth(1)
                .and_then(|rest| rest.split("\n}\n").next())
                .unwrap_or_else(|| panic!("router.rs: no `pub fn {function}(`"));
            let routes = routes_in(body, &router);
            assert!(!routes.is_empty(), "router.rs: {function} serves no route");
            (slug.to_string(), routes)
        })
        .collect()
}

/// The route keys docs/api.md documents: every `` `METHOD /path` `` in its text.
pub fn documented_routes() -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace_root().join("docs/api.md")).unwrap();
    let mut routes = BTreeSet::new();
    for (i, chunk) in text.split('`').enumerate() {
        // Inside backquotes: the odd pieces.
        if i % 2 == 1
            && let Some((method, path)) = chunk.split_once(' ')
            && ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method)
            && path.starts_with('/')
            && !path.contains(char::is_whitespace)
        {
            routes.insert(chunk.to_owned());
        }
    }
    routes
}

/// The route keys of the `.route("/path", get(a).put(b))` calls in `code` (possibly split
/// over lines); a path may be the name of a `const ...: &str = "..."` of `file`.
fn routes_in(code: &str, file: &str) -> BTreeSet<String> {
    let mut routes = BTreeSet::new();
    for chunk in code.split(".route(").skip(1) {
        let argument = chunk.split(',').next().unwrap_or_default().trim();
        let path = match argument.strip_prefix('"') {
            Some(literal) => literal.split('"').next(),
            None => file
                .split(&format!("const {argument}: &str = \""))
                .nth(1)
                .and_then(|rest| rest.split('"').next()),
        };
        let Some(path) = path else {
            panic!("router.rs: cannot read the path of `.route({argument}, ...)`");
        };
        let call: String = chunk
            .split(")\n")
            .next()
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for method in ["get", "post", "put", "patch", "delete"] {
            if call.contains(&format!(",{method}(")) || call.contains(&format!(".{method}(")) {
                routes.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    routes
}
