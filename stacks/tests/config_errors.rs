//! Bad stage files get errors that name the file, the key and what is allowed, and the
//! CLI writes nothing when any requested stage is bad.

use std::path::{Path, PathBuf};
use std::process::Command;

use stacks::config::{self, ConfigError};

fn shipped(stage: &str) -> String {
    std::fs::read_to_string(config::default_stages_dir().join(format!("{stage}.toml"))).unwrap()
}

fn stages_dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn error_for(text: &str) -> String {
    config::parse_stage(Path::new("stages/dev.toml"), "dev", text)
        .unwrap_err()
        .to_string()
}

#[test]
fn shipped_stages_load() {
    for stage in ["dev", "staging", "prod"] {
        let config = config::load_stage(&config::default_stages_dir(), stage).unwrap();
        assert_eq!(config.stage, stage);
    }
    assert_eq!(
        config::list_stages(&config::default_stages_dir()).unwrap(),
        vec!["dev", "prod", "staging"]
    );
}

#[test]
fn unknown_stage_lists_the_available_ones() {
    let err = config::load_stage(&config::default_stages_dir(), "qa").unwrap_err();
    assert!(matches!(err, ConfigError::UnknownStage { .. }));
    let text = err.to_string();
    assert!(
        text.contains("unknown stage `qa`") && text.contains("qa.toml"),
        "{text}"
    );
    assert!(text.contains("dev, prod, staging"), "{text}");
}

#[test]
fn hostile_stage_names_are_rejected_before_touching_files() {
    for name in ["../dev", "/etc/passwd", "DEV", "dev.toml", ""] {
        let err = config::load_stage(&config::default_stages_dir(), name).unwrap_err();
        assert!(
            matches!(err, ConfigError::InvalidStageName(_)),
            "{name}: {err}"
        );
    }
}

#[test]
fn unknown_key_names_file_table_key_and_allowed_keys() {
    let text = shipped("dev").replace(
        "node_type = \"cache.t3.medium\"",
        "nod_type = \"cache.t3.medium\"",
    );
    let err = error_for(&text);
    assert!(err.starts_with("stages/dev.toml: "), "{err}");
    assert!(err.contains("[redis]") && err.contains("nod_type"), "{err}");
    assert!(err.contains("node_type"), "lists the allowed keys: {err}");
}

#[test]
fn missing_key_and_wrong_type_are_named() {
    let missing = error_for(&shipped("dev").replace("snapshot_window = \"03:00-04:00\"\n", ""));
    assert!(missing.contains("snapshot_window"), "{missing}");
    let wrong = error_for(
        &shipped("dev").replace("replication_factor = 1", "replication_factor = \"one\""),
    );
    assert!(
        wrong.contains("key `dax.replication_factor`") && wrong.contains("expected u32"),
        "{wrong}"
    );
}

#[test]
fn bad_values_name_the_key_and_the_allowed_values() {
    let cases = [
        (
            "node_type = \"cache.t3.medium\"",
            "node_type = \"cache.t1.micro\"",
            "redis.node_type",
            "cache.t3.medium",
        ),
        (
            "slow_log_retention_days = 14",
            "slow_log_retention_days = 10",
            "redis.slow_log_retention_days",
            "14, 30",
        ),
        (
            "price_class = \"PriceClass_100\"",
            "price_class = \"cheap\"",
            "cdn.price_class",
            "PriceClass_All",
        ),
        (
            "cache_type = \"SMALL\"",
            "cache_type = \"TINY\"",
            "appsync.cache_type",
            "SMALL",
        ),
        // Values the CloudFormation schema allows but this project does not.
        (
            "price_class = \"PriceClass_100\"",
            "price_class = \"None\"",
            "cdn.price_class",
            "PriceClass_100, PriceClass_200, PriceClass_All",
        ),
        (
            "cache_type = \"SMALL\"",
            "cache_type = \"T2_SMALL\"",
            "appsync.cache_type",
            "LARGE_12X",
        ),
        (
            "schedule = \"rate(5 minutes)\"",
            "schedule = \"every 5 minutes\"",
            "warmer.schedule",
            "rate(",
        ),
        (
            "maintenance_window = \"sun:05:00-sun:06:00\"",
            "maintenance_window = \"sunday\"",
            "redis.maintenance_window",
            "ddd:hh24:mi",
        ),
        (
            "vpc_id = \"vpc-0d3e1c2b4a5f60718\"",
            "vpc_id = \"0.0.0.0/0\"",
            "network.vpc_id",
            "vpc-",
        ),
        (
            "warm_concurrency = 2",
            "warm_concurrency = 51",
            "services.vendor.warm_concurrency",
            "0 to 50",
        ),
        (
            "certificate_arn = \"\"",
            "certificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c\"",
            "cdn.aliases",
            "at least one alias",
        ),
        (
            "node_groups = 1",
            "node_groups = 3",
            "redis.node_groups",
            "cluster_mode",
        ),
        (
            "incidents_table = \"incidents-dev\"",
            "incidents_table = \"\"",
            "dax.incidents_table",
            "all three",
        ),
    ];
    for (from, to, key, allowed) in cases {
        let text = shipped("dev").replacen(from, to, 1);
        assert_ne!(text, shipped("dev"), "{from} not found");
        let err = error_for(&text);
        assert!(err.starts_with("stages/dev.toml: key `"), "{err}");
        assert!(err.contains(key), "{key}: {err}");
        assert!(err.contains(allowed), "{key}: {err}");
    }
}

#[test]
fn malformed_truncated_and_binary_files_are_errors_not_panics() {
    let full = shipped("prod");
    for cut in [1, 10, full.len() / 3, full.len() / 2, full.len() - 5] {
        let text = &full[..cut];
        assert!(
            config::parse_stage(Path::new("x.toml"), "dev", text).is_err(),
            "cut at {cut}"
        );
    }
    for junk in [
        "[[[[",
        "redis = {",
        "\u{0}\u{1}",
        "[redis]\nnode_type = \"a\" = \"b\"",
        &"[".repeat(10_000),
    ] {
        assert!(config::parse_stage(Path::new("x.toml"), "dev", junk).is_err());
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bin.toml"), [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let err = config::load_stage(dir.path(), "bin")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bin.toml") && err.contains("UTF-8"), "{err}");
    std::fs::write(dir.path().join("big.toml"), "#".repeat(300 * 1024)).unwrap();
    let err = config::load_stage(dir.path(), "big")
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most"), "{err}");
}

fn stacks_cli(args: &[&str], stages: &Path, cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stacks"))
        .arg("--stages-dir")
        .arg(stages)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn cli_synth_writes_every_stack_and_nothing_on_error() {
    let dev = shipped("dev");
    let broken = dev.replace("ttl_seconds = 5", "ttl_seconds = 0");
    let stages = stages_dir_with(&[("dev.toml", &dev), ("zz.toml", &broken)]);
    let work = tempfile::tempdir().unwrap();

    let ok = stacks_cli(&["synth", "--stage", "dev"], stages.path(), work.path());
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let written: Vec<PathBuf> = std::fs::read_dir(work.path().join("out/dev"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(written.len(), 9);

    // --all with one bad stage: exit 1, a message naming file and key, and no zz output.
    let bad = stacks_cli(
        &["synth", "--all", "--out", "all"],
        stages.path(),
        work.path(),
    );
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("zz.toml")
            && stderr.contains("appsync.ttl_seconds")
            && stderr.contains("1 to 3600"),
        "{stderr}"
    );
    assert!(
        !work.path().join("all").exists(),
        "nothing written when a stage is bad"
    );

    let unknown = stacks_cli(&["synth", "--stage", "qa"], stages.path(), work.path());
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("available stages: dev, zz"));

    let yaml = stacks_cli(
        &["synth", "--stage", "dev", "--format", "yaml", "--out", "y"],
        stages.path(),
        work.path(),
    );
    assert!(yaml.status.success());
    assert!(
        work.path()
            .join("y/dev/roadcall-perf-dev-redis.template.yaml")
            .exists()
    );
}

#[test]
fn cli_list_shows_stages_and_stacks_in_order() {
    let out = Command::new(env!("CARGO_BIN_EXE_stacks"))
        .arg("list")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let dev_network = text.find("roadcall-perf-dev-network").unwrap();
    let dev_redis = text
        .find("roadcall-perf-dev-redis (after roadcall-perf-dev-keys, roadcall-perf-dev-network)")
        .unwrap();
    assert!(dev_network < dev_redis);
    assert!(text.contains("prod\n") && text.contains("staging\n"));
}

#[test]
fn read_and_write_errors_keep_the_io_error_as_their_source() {
    use std::error::Error as _;

    let missing = Path::new("/nonexistent-stages-dir");
    let err = config::list_stages(missing).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    let io = err
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .expect("io::Error source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);

    let config = config::load_stage(&config::default_stages_dir(), "dev").unwrap();
    let stacks = stacks::app::build_stage(&config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let err = stacks::synth::write_stage(&stacks, &file, cfn::Format::Json).unwrap_err();
    assert!(
        matches!(err, stacks::synth::SynthError::Write { .. }),
        "{err}"
    );
    assert!(
        err.source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some(),
        "{err:?}"
    );
}

#[test]
fn cli_finds_the_stages_from_the_working_directory_and_names_the_folder_when_missing() {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    for cwd in [package, package.parent().unwrap(), &package.join("stages")] {
        let out = Command::new(env!("CARGO_BIN_EXE_stacks"))
            .arg("list")
            .current_dir(cwd)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            cwd.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("roadcall-perf-prod-redis"));
    }

    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_stacks"))
        .args(["synth", "--stage", "dev"])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no stages directory")
            && stderr.contains(&elsewhere.path().display().to_string())
            && stderr.contains("--stages-dir"),
        "{stderr}"
    );
    assert!(!elsewhere.path().join("out").exists());
}

#[test]
fn cli_check_template_reads_json_and_yaml() {
    let work = tempfile::tempdir().unwrap();
    let stages = config::default_stages_dir();
    for format in ["json", "yaml"] {
        let out = stacks_cli(
            &[
                "synth", "--stage", "dev", "--format", format, "--out", format,
            ],
            &stages,
            work.path(),
        );
        assert!(out.status.success());
    }
    let redis = |format: &str| {
        work.path().join(format!(
            "{format}/dev/roadcall-perf-dev-redis.template.{format}"
        ))
    };
    let check = |file: &Path| {
        Command::new(env!("CARGO_BIN_EXE_stacks"))
            .args(["check", "--json", "--template"])
            .arg(file)
            .output()
            .unwrap()
    };
    let (json, yaml) = (check(&redis("json")), check(&redis("yaml")));
    assert!(
        json.status.success() && yaml.status.success(),
        "{}",
        String::from_utf8_lossy(&yaml.stderr)
    );
    let findings = |out: &std::process::Output| -> serde_json::Value {
        let mut all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for finding in all.as_array_mut().unwrap() {
            finding["stack"] = serde_json::Value::Null; // the file name differs
        }
        all
    };
    assert_eq!(findings(&json), findings(&yaml));

    let text = std::fs::read_to_string(redis("yaml")).unwrap();
    let insecure = text.replace(
        "TransitEncryptionEnabled: true",
        "TransitEncryptionEnabled: false",
    );
    assert_ne!(text, insecure);
    let file = work.path().join("insecure.yaml");
    std::fs::write(&file, insecure).unwrap();
    let out = check(&file);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("insecure.yaml"));

    std::fs::write(&file, "Resources: [\n").unwrap();
    let out = check(&file);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("insecure.yaml: not a YAML template"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn error_in(stage: &str, text: &str) -> String {
    config::parse_stage(Path::new(&format!("stages/{stage}.toml")), stage, text)
        .unwrap_err()
        .to_string()
}

#[test]
fn staging_and_prod_refuse_the_default_certificate_and_an_empty_alarm_email() {
    for stage in ["staging", "prod"] {
        let text = shipped(stage);
        let certificate = text
            .lines()
            .find(|l| l.starts_with("certificate_arn = "))
            .unwrap();
        let aliases = text.lines().find(|l| l.starts_with("aliases = ")).unwrap();
        let email = text
            .lines()
            .find(|l| l.starts_with("alarm_email = "))
            .unwrap();
        let cases = [
            (
                certificate,
                "certificate_arn = \"\"",
                "cdn.certificate_arn",
                "ACM certificate",
            ),
            (aliases, "aliases = []", "cdn.aliases", "at least one alias"),
            (
                "allow_default_certificate = false",
                "allow_default_certificate = true",
                "cdn.allow_default_certificate",
                "TLSv1",
            ),
            (
                email,
                "alarm_email = \"\"",
                "monitoring.alarm_email",
                "alarms",
            ),
        ];
        for (from, to, key, allowed) in cases {
            let changed = text.replacen(from, to, 1);
            assert_ne!(changed, text, "{from} not found in {stage}");
            let err = error_in(stage, &changed);
            assert!(
                err.starts_with(&format!("stages/{stage}.toml: key `{key}`")),
                "{stage}: {err}"
            );
            assert!(err.contains(allowed), "{stage} {key}: {err}");
            assert!(err.contains(stage), "{stage} {key}: names the stage: {err}");
        }
    }
}

#[test]
fn the_default_certificate_needs_the_explicit_knob_elsewhere() {
    let rules = stacks::check::RuleSet::builtin().unwrap();
    let cdn_findings = |text: &str| {
        let config = config::parse_stage(Path::new("stages/dev.toml"), "dev", text).unwrap();
        let stacks = stacks::app::build_stage(&config).unwrap();
        let cdn = stacks
            .into_iter()
            .find(|s| s.name.ends_with("-cdn"))
            .unwrap();
        stacks::check::check_template(&rules, &cdn.name, &cdn.template).unwrap()
    };
    // Without the knob (absent means false) the stage still synthesizes, and the check
    // refuses the default certificate, which blocks `stacks deploy`.
    for text in [
        shipped("dev").replacen(
            "allow_default_certificate = true",
            "allow_default_certificate = false",
            1,
        ),
        shipped("dev")
            .lines()
            .filter(|l| !l.starts_with("allow_default_certificate"))
            .map(|l| format!("{l}\n"))
            .collect(),
    ] {
        let found = cdn_findings(&text);
        let own = found
            .iter()
            .find(|f| f.rule == "CLOUDFRONT_OWN_CERTIFICATE")
            .expect("reported");
        assert!(own.is_blocking(), "{own:?}");
    }
    // With it, the finding is reported as suppressed, with the knob as the reason.
    let found = cdn_findings(&shipped("dev"));
    let own = found
        .iter()
        .find(|f| f.rule == "CLOUDFRONT_OWN_CERTIFICATE")
        .unwrap();
    assert!(!own.is_blocking());
}

#[test]
fn warmer_reserved_concurrency_is_off_unless_the_stage_sets_it() {
    let warmer = |text: &str| {
        let config = config::parse_stage(Path::new("stages/dev.toml"), "dev", text).unwrap();
        let stacks = stacks::app::build_stage(&config).unwrap();
        let stack = stacks
            .into_iter()
            .find(|s| s.name.ends_with("-warmer"))
            .unwrap();
        let json: serde_json::Value =
            serde_json::from_str(&cfn::render(&stack.template, cfn::Format::Json).unwrap())
                .unwrap();
        json["Resources"]["WarmerFunction"].clone()
    };
    let default = warmer(&shipped("dev"));
    assert!(
        default["Properties"]
            .get("ReservedConcurrentExecutions")
            .is_none()
    );
    let text = shipped("dev").replacen("[warmer]\n", "[warmer]\nreserved_concurrency = 1\n", 1);
    let opted_in = warmer(&text);
    assert_eq!(opted_in["Properties"]["ReservedConcurrentExecutions"], 1);
    let reasons = opted_in["Metadata"]["roadcall-perf"]["suppressions"].to_string();
    assert!(
        reasons.contains("LAMBDA_RESERVED_CONCURRENCY_OPT_IN")
            && reasons.contains("warmer.reserved_concurrency = 1"),
        "{reasons}"
    );
    let err = error_for(&shipped("dev").replacen(
        "[warmer]\n",
        "[warmer]\nreserved_concurrency = 0\n",
        1,
    ));
    assert!(
        err.contains("warmer.reserved_concurrency") && err.contains("1 to 1000"),
        "{err}"
    );
}
