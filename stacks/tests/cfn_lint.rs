//! Runs the real cfn-lint (the pinned PyPI package) on every synthesized template of every
//! stage, JSON and YAML, and fails on any error, warning or informational finding.

mod common;

use std::path::PathBuf;
use std::process::Command;

use cfn::Format;
use stacks::synth;

fn cfn_lint() -> PathBuf {
    if let Some(path) = std::env::var_os("CFN_LINT") {
        return PathBuf::from(path);
    }
    let venv = common::workspace_root().join(".venv-cfn-lint/bin/cfn-lint");
    if venv.exists() {
        return venv;
    }
    let on_path = Command::new("cfn-lint").arg("--version").output();
    match on_path {
        Ok(out) if out.status.success() => PathBuf::from("cfn-lint"),
        _ => panic!(
            "cfn-lint is not installed. Run `scripts/test` (it installs it), or \
             `python3 -m venv .venv-cfn-lint && .venv-cfn-lint/bin/pip install -r requirements/cfn-lint.txt`"
        ),
    }
}

#[test]
fn every_template_of_every_stage_passes_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for stage in common::STAGES {
        let stacks = common::stage_stacks(stage);
        files.extend(synth::write_stage(&stacks, &dir.path().join(stage), Format::Json).unwrap());
        files.extend(synth::write_stage(&stacks, &dir.path().join(stage), Format::Yaml).unwrap());
    }
    assert_eq!(files.len(), common::STAGES.len() * 9 * 2);
    let output = Command::new(cfn_lint())
        // Informational checks too (I3011 deletion policies, I3042 hard-coded ARNs...).
        .args(["--format", "parseable", "--include-checks", "I", "--"])
        .args(&files)
        .output()
        .expect("run cfn-lint");
    let findings = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && findings.trim().is_empty(),
        "cfn-lint exit {:?}:\n{findings}\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn cfn_lint_catches_a_broken_template() {
    // Proves the gate above can fail: a misspelt property and a bad enum value.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"{"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Cache": {"Type": "AWS::ElastiCache::ReplicationGroup",
           "Properties": {"ReplicationGroupDescription": "x", "AuthTokn": "y", "TransitEncryptionMode": "strict"}}}}"#,
    )
    .unwrap();
    let output = Command::new(cfn_lint())
        .arg(&path)
        .output()
        .expect("run cfn-lint");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains("E3002") && text.contains("AuthTokn"),
        "{text}"
    );
}
