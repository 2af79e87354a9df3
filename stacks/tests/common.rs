//! Helpers shared by the stacks integration tests.
#![allow(dead_code)]

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
