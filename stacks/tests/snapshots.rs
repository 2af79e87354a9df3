//! Snapshot tests: the rendered templates of every shipped stage must equal the
//! committed files in `tests/snapshots/<stage>/`. After an intended change, refresh them
//! with `UPDATE_SNAPSHOTS=1 cargo test -p stacks --test snapshots` and review the diff.

mod common;

use std::path::Path;

use cfn::{Format, render};
use stacks::synth;

#[test]
fn rendered_templates_match_the_committed_snapshots() {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut mismatched = Vec::new();
    for stage in common::STAGES {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/snapshots")
            .join(stage);
        let stacks = common::stage_stacks(stage);
        if update {
            let _ = std::fs::remove_dir_all(&dir);
            synth::write_stage(&stacks, &dir, Format::Json).unwrap();
            continue;
        }
        let mut expected_files: Vec<String> = stacks
            .iter()
            .map(|s| synth::file_name(s, Format::Json))
            .collect();
        expected_files.sort();
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_SNAPSHOTS=1", dir.display()))
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        on_disk.sort();
        assert_eq!(on_disk, expected_files, "snapshot files of {stage}");
        for stack in &stacks {
            let rendered = render(&stack.template, Format::Json).unwrap();
            let committed =
                std::fs::read_to_string(dir.join(synth::file_name(stack, Format::Json))).unwrap();
            if rendered != committed {
                mismatched.push(stack.name.clone());
            }
        }
    }
    assert!(
        mismatched.is_empty(),
        "templates differ from snapshots: {mismatched:?}; if intended, run UPDATE_SNAPSHOTS=1 cargo test -p stacks --test snapshots"
    );
}

#[test]
fn rendering_is_byte_identical_across_builds() {
    for stage in common::STAGES {
        let first: Vec<String> = common::stage_stacks(stage)
            .iter()
            .map(|s| {
                render(&s.template, Format::Json).unwrap()
                    + &render(&s.template, Format::Yaml).unwrap()
            })
            .collect();
        let second: Vec<String> = common::stage_stacks(stage)
            .iter()
            .map(|s| {
                render(&s.template, Format::Json).unwrap()
                    + &render(&s.template, Format::Yaml).unwrap()
            })
            .collect();
        assert_eq!(first, second, "{stage}");
    }
}
