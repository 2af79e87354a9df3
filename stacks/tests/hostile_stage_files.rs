//! Malformed, truncated and hostile stage files: a clear error naming the file, never a
//! panic, and never a partial template on disk. Complements `config_errors.rs` (which
//! checks the wording of specific errors) with the committed corpus in
//! `tests/corpus/stage/` and random mutations of the shipped stage file.
//!
//! Corpus convention: files named `ok_*` must synthesize; every other file must be
//! refused.

use std::path::{Path, PathBuf};
use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use stacks::config;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/stage");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 20, "stage corpus has {} files", files.len());
    files
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Runs `stacks synth` on one stage file; returns (exit code, stderr, files written,
/// how many of them are complete JSON documents).
fn synth_cli(text: &[u8]) -> (Option<i32>, String, Vec<PathBuf>, usize) {
    let stages = tempfile::tempdir().unwrap();
    std::fs::write(stages.path().join("hostile.toml"), text).unwrap();
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stacks"))
        .arg("--stages-dir")
        .arg(stages.path())
        .args(["synth", "--stage", "hostile", "--out", "out"])
        .current_dir(work.path())
        .output()
        .unwrap();
    let written = files_under(&work.path().join("out"));
    let complete = written
        .iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            serde_json::from_str::<serde_json::Value>(&text).is_ok()
        })
        .count();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        written,
        complete,
    )
}

#[test]
fn corpus_files_are_refused_by_the_cli_with_a_clear_error_and_nothing_written() {
    let mut failures = Vec::new();
    for (name, bytes) in corpus() {
        let (code, stderr, written, complete) = synth_cli(&bytes);
        if name.starts_with("ok_") {
            if code != Some(0) || written.len() != 8 || complete != 8 {
                failures.push(format!("{name}: expected success, got {code:?}: {stderr}"));
            }
            continue;
        }
        // Exit 1 with a message naming the file: not 101 (a panic) and not a signal.
        if code != Some(1) {
            failures.push(format!("{name}: exit {code:?} (101 = panic): {stderr}"));
        } else if !stderr.contains("hostile.toml") || stderr.contains("panicked") {
            failures.push(format!("{name}: unclear error: {stderr}"));
        }
        if !written.is_empty() {
            failures.push(format!("{name}: wrote {written:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_files_are_refused_by_the_library_too() {
    for (name, bytes) in corpus() {
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue; // `load_stage` refuses non-UTF-8 before parsing (the CLI test covers it)
        };
        let result = config::parse_stage(Path::new("stages/hostile.toml"), "hostile", text);
        match (name.starts_with("ok_"), result) {
            (true, Ok(config)) => {
                stacks::app::build_stage(&config).unwrap_or_else(|e| panic!("{name}: {e}"));
            }
            (false, Err(e)) => {
                let message = e.to_string();
                assert!(
                    message.starts_with("stages/hostile.toml: "),
                    "{name}: {message}"
                );
            }
            (ok, result) => panic!("{name}: expected ok={ok}, got {result:?}"),
        }
    }
}

/// A mutation of the shipped `dev.toml`.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(prop::sample::Index),
    SetNumber(prop::sample::Index, String),
    InsertBytes(prop::sample::Index, Vec<u8>),
    DuplicateLine(prop::sample::Index),
    DropLine(prop::sample::Index),
}

fn apply(dev: &str, mutation: &Mutation) -> Vec<u8> {
    let lines: Vec<&str> = dev.lines().collect();
    match mutation {
        Mutation::Truncate(at) => dev.as_bytes()[..at.index(dev.len())].to_vec(),
        Mutation::SetNumber(which, value) => {
            let numeric: Vec<usize> = (0..lines.len())
                .filter(|&i| {
                    lines[i].split_once(" = ").is_some_and(|(_, v)| {
                        v.trim().chars().next().is_some_and(|c| c.is_ascii_digit())
                    })
                })
                .collect();
            let target = numeric[which.index(numeric.len())];
            lines
                .iter()
                .enumerate()
                .map(|(i, line)| match (i == target, line.split_once(" = ")) {
                    (true, Some((key, _))) => format!("{key} = {value}"),
                    _ => (*line).to_owned(),
                })
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        }
        Mutation::InsertBytes(at, bytes) => {
            let mut out = dev.as_bytes().to_vec();
            let i = at.index(out.len());
            out.splice(i..i, bytes.iter().copied());
            out
        }
        Mutation::DuplicateLine(at) => {
            let i = at.index(lines.len());
            let mut out: Vec<&str> = lines.clone();
            out.insert(i, lines[i]);
            out.join("\n").into_bytes()
        }
        Mutation::DropLine(at) => {
            let i = at.index(lines.len());
            let mut out: Vec<&str> = lines.clone();
            out.remove(i);
            out.join("\n").into_bytes()
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let number = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1000i64..5000).prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("nan".to_owned()),
        Just("-inf".to_owned()),
        Just("\"5\"".to_owned()),
        Just("0x7fffffff".to_owned()),
        Just("1_000_000".to_owned()),
    ];
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        (any::<prop::sample::Index>(), number).prop_map(|(i, v)| Mutation::SetNumber(i, v)),
        (
            any::<prop::sample::Index>(),
            prop::collection::vec(any::<u8>(), 1..12)
        )
            .prop_map(|(i, b)| Mutation::InsertBytes(i, b)),
        any::<prop::sample::Index>().prop_map(Mutation::DuplicateLine),
        any::<prop::sample::Index>().prop_map(Mutation::DropLine),
    ]
}

#[test]
fn mutated_stage_files_are_refused_or_render_completely() {
    let dev = std::fs::read_to_string(config::default_stages_dir().join("dev.toml")).unwrap();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let (refused, rendered) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    runner
        .run(&mutation(), |m| {
            let bytes = apply(&dev, &m);
            let Ok(text) = std::str::from_utf8(&bytes) else {
                refused.set(refused.get() + 1);
                return Ok(());
            };
            match config::parse_stage(Path::new("stages/dev.toml"), "dev", text) {
                Err(e) => {
                    let message = e.to_string();
                    prop_assert!(message.starts_with("stages/dev.toml: "), "{message}");
                    refused.set(refused.get() + 1);
                }
                Ok(config) => {
                    // Accepted means fully usable: every stack builds and every file is written.
                    let stacks = stacks::app::build_stage(&config).map_err(|e| {
                        TestCaseError::fail(format!("accepted but does not build: {e}"))
                    })?;
                    let dir = tempfile::tempdir().unwrap();
                    let written =
                        stacks::synth::write_stage(&stacks, dir.path(), cfn::Format::Json)
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(written.len(), stacks.len());
                    prop_assert_eq!(
                        files_under(dir.path()).len(),
                        stacks.len(),
                        "no temporary files left"
                    );
                    rendered.set(rendered.get() + 1);
                }
            }
            Ok(())
        })
        .unwrap();
    let (refused, rendered) = (refused.get(), rendered.get());
    eprintln!("FIGURES stage_mutations: {cases} cases, {refused} refused, {rendered} rendered");
    assert!(
        refused > 0 && rendered > 0,
        "mutations should hit both outcomes"
    );
}
