//! Runs the real checkov (pinned, `--skip-download`: no network) over every synthesized
//! template of every stage. Any failed check fails the test; a check may only be skipped
//! by a suppression in the resource's Metadata, in checkov's own format, with a reason.

mod common;

use std::path::PathBuf;
use std::process::Command;

use cfn::{Format, Json};
use stacks::synth;

fn checkov() -> PathBuf {
    if let Some(path) = std::env::var_os("CHECKOV") {
        return PathBuf::from(path);
    }
    let venv = common::workspace_root().join(".venv-checkov/bin/checkov");
    if venv.exists() {
        return venv;
    }
    match Command::new("checkov").arg("--version").output() {
        Ok(out) if out.status.success() => PathBuf::from("checkov"),
        _ => panic!(
            "checkov is not installed. Run `scripts/test` (it installs it), or \
             `python3 -m venv .venv-checkov && .venv-checkov/bin/pip install -r requirements/checkov.txt`"
        ),
    }
}

#[test]
fn checkov_finds_nothing_unsuppressed_in_any_stage() {
    let dir = tempfile::tempdir().unwrap();
    for stage in common::STAGES {
        synth::write_stage(
            &common::stage_stacks(stage),
            &dir.path().join(stage),
            Format::Json,
        )
        .unwrap();
    }
    let output = Command::new(checkov())
        .args([
            "--framework",
            "cloudformation",
            "--skip-download",
            "--compact",
            "-o",
            "json",
            "-d",
        ])
        .arg(dir.path())
        .output()
        .expect("run checkov");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov output is not JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let reports = match report {
        Json::Array(list) => list,
        single => vec![single],
    };
    let mut failed = Vec::new();
    let mut skipped = Vec::new();
    let mut resources = 0;
    for report in &reports {
        resources += report["summary"]["resource_count"].as_u64().unwrap_or(0);
        for check in report["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            failed.push(format!(
                "{} {} in {}",
                check["check_id"].as_str().unwrap_or("?"),
                check["resource"].as_str().unwrap_or("?"),
                check["file_path"].as_str().unwrap_or("?")
            ));
        }
        for check in report["results"]["skipped_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            skipped.push(format!(
                "{} {}",
                check["check_id"].as_str().unwrap_or("?"),
                check["resource"].as_str().unwrap_or("?")
            ));
            let comment = check["check_result"]["suppress_comment"]
                .as_str()
                .unwrap_or_default();
            assert!(
                comment.chars().count() >= 10,
                "skip without a reason: {check}"
            );
        }
    }
    assert!(resources > 100, "checkov saw only {resources} resources");
    assert!(
        failed.is_empty(),
        "checkov failed checks:\n{}",
        failed.join("\n")
    );
    // The skips are the documented suppressions (docs/check.md): three in every stage,
    // dev's opt-in to CloudFront's default certificate, and in the services stack, per
    // function, the dead-letter queue (synchronous calls), reserved concurrency (off by
    // default) and the VPC network-interface actions on `*`.
    skipped.sort();
    let count = |id: &str| {
        skipped
            .iter()
            .filter(|s| s.starts_with(&format!("{id} ")))
            .count()
    };
    let stages = common::STAGES.len();
    assert_eq!(count("CKV_AWS_18"), stages, "{skipped:?}");
    assert_eq!(count("CKV_AWS_117"), stages, "{skipped:?}");
    assert_eq!(count("CKV_AWS_115"), stages + 3 * stages, "{skipped:?}");
    assert_eq!(count("CKV_AWS_116"), 3 * stages, "{skipped:?}");
    assert_eq!(count("CKV_AWS_111"), 3 * stages, "{skipped:?}");
    assert_eq!(count("CKV_AWS_174"), 1, "dev only: {skipped:?}");
    assert_eq!(skipped.len(), 12 * stages + 1, "{skipped:?}");
}
