//! `stacks deploy | diff | outputs | status | destroy` against a real moto_server, through
//! the `stacks` binary.
//!
//! What moto 5.2.5 does and does not do here (see docs/operations.md, "What is tested"):
//! it creates KMS keys, SQS queues, IAM roles, Lambda functions and permissions, Events
//! rules and log groups through CloudFormation, so the `keys` and `warmer` stacks deploy
//! for real. Its ExecuteChangeSet never rebuilds a stack's outputs (nor exports) from the
//! executed template, so a stack *created* through a change set has no outputs there.
//! Where a test needs outputs or the `keys` export, the fixture creates that stack with
//! CreateStack first (as a platform engineer's earlier deploy would have), and the code
//! under test then updates it through change sets. The `keys` export comes from a
//! stand-in template ([`STAND_IN_KEYS`]): moto skips the real, tagged KMS key.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use aws_config::BehaviorVersion;
use aws_sdk_cloudformation::config::Credentials;
use aws_sdk_cloudformation::types::{Capability, Parameter};
use testkit::moto::MotoServer;

const CODE_BUCKET: &str = "roadcall-test-code";

/// A stand-in for the `keys` stack: the same stack name and export, but an untagged key.
/// moto 5.2.5 silently skips an `AWS::KMS::Key` that has CloudFormation `Tags` (its
/// create_key expects another tag shape), after which any `Fn::GetAtt` on it fails, so
/// the real keys template cannot export its ARN there.
const STAND_IN_KEYS: &str = r#"{
  "Resources": {"StageKey": {"Type": "AWS::KMS::Key", "Properties": {
    "KeyPolicy": {"Version": "2012-10-17", "Statement": []}}}},
  "Outputs": {"StageKeyArn": {"Value": {"Fn::GetAtt": ["StageKey", "Arn"]},
    "Export": {"Name": "keys-key-arn-dev"}}}
}"#;
const CODE_KEY: &str = "warmer/fixture.zip";

/// A copy of the shipped dev stage in a temporary directory, editable per test.
struct StageDir {
    dir: tempfile::TempDir,
}

impl StageDir {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let shipped = stacks::config::default_stages_dir().join("dev.toml");
        std::fs::copy(shipped, dir.path().join("dev.toml")).unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces `from` with `to` in dev.toml (panics if `from` is absent).
    fn edit(&self, from: &str, to: &str) {
        let file = self.dir.path().join("dev.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains(from), "dev.toml has no `{from}`");
        std::fs::write(file, text.replace(from, to)).unwrap();
    }

    /// The rendered template of one stack of the stage.
    fn template(&self, slug: &str) -> String {
        let config = stacks::config::load_stage(self.path(), "dev").unwrap();
        let stack = stacks::app::build_stage(&config)
            .unwrap()
            .into_iter()
            .find(|s| s.part.slug() == slug)
            .unwrap();
        cfn::render(&stack.template, cfn::Format::Json).unwrap()
    }
}

/// Runs `stacks <args>` against moto; returns the output with stdout and stderr as text.
fn run(moto: &MotoServer, stages: &StageDir, args: &[&str]) -> (Output, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stacks"));
    command
        .arg("--stages-dir")
        .arg(stages.path())
        .args(args)
        .args(["--poll-ms", "100"])
        .stdin(Stdio::null())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN");
    for (name, value) in moto.sdk_env() {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

/// `args` followed by the parameters that point the warmer at the fixture's code object.
fn with_code<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut all = args.to_vec();
    all.extend([
        "--parameter",
        "WarmerCodeBucket=roadcall-test-code",
        "--parameter",
        "warmer:WarmerCodeKey=warmer/fixture.zip",
    ]);
    all
}

/// Like [`run`], but the command must succeed; returns stdout.
fn run_ok(moto: &MotoServer, stages: &StageDir, args: &[&str]) -> String {
    let (output, stdout, stderr) = run(moto, stages, args);
    assert!(
        output.status.success(),
        "stacks {args:?} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    stdout
}

async fn sdk_config(moto: &MotoServer) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .load()
        .await
}

/// The Lambda code object the warmer's CreateStack fixture points at.
async fn upload_fixture_code(config: &aws_config::SdkConfig) {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket().bucket(CODE_BUCKET).send().await.unwrap();
    s3.put_object()
        .bucket(CODE_BUCKET)
        .key(CODE_KEY)
        .body(b"not really a zip".to_vec().into())
        .send()
        .await
        .unwrap();
}

/// Creates a stack with CreateStack (not the code under test), so moto keeps its outputs
/// and exports.
async fn create_stack_directly(
    config: &aws_config::SdkConfig,
    name: &str,
    body: String,
    parameters: &[(&str, &str)],
) {
    let client = aws_sdk_cloudformation::Client::new(config);
    client
        .create_stack()
        .stack_name(name)
        .template_body(body)
        .set_parameters(Some(
            parameters
                .iter()
                .map(|(k, v)| {
                    Parameter::builder()
                        .parameter_key(*k)
                        .parameter_value(*v)
                        .build()
                })
                .collect(),
        ))
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .unwrap();
    let described = client
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .unwrap();
    let status = described.stacks()[0]
        .stack_status()
        .unwrap()
        .as_str()
        .to_owned();
    assert_eq!(status, "CREATE_COMPLETE", "fixture stack {name}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_new_stack_is_created_diffed_and_destroyed_through_change_sets() {
    let moto = MotoServer::start();
    let stages = StageDir::new();

    let (_, before, _) = run(
        &moto,
        &stages,
        &["diff", "--stage", "dev", "--stack", "keys"],
    );
    assert!(
        before.contains("not deployed: everything is added"),
        "{before}"
    );
    assert!(before.contains("[+] AWS::KMS::Key StageKey"), "{before}");

    let deployed = run_ok(
        &moto,
        &stages,
        &["deploy", "--stage", "dev", "--stack", "keys"],
    );
    assert!(
        deployed.contains("==> roadcall-perf-dev-keys (us-east-1)"),
        "{deployed}"
    );
    assert!(deployed.contains("(create):"), "{deployed}");
    assert!(deployed.contains("+ Add     AWS::KMS::Key"), "{deployed}");
    assert!(
        deployed.contains("roadcall-perf-dev-keys: CREATE_COMPLETE"),
        "{deployed}"
    );

    let diff = run_ok(
        &moto,
        &stages,
        &[
            "diff",
            "--stage",
            "dev",
            "--stack",
            "roadcall-perf-dev-keys",
        ],
    );
    assert_eq!(diff, "Stack roadcall-perf-dev-keys: no differences\n");

    let again = run_ok(
        &moto,
        &stages,
        &["deploy", "--stage", "dev", "--stack", "keys"],
    );
    assert!(
        again.contains("roadcall-perf-dev-keys: no changes"),
        "{again}"
    );

    let status = run_ok(
        &moto,
        &stages,
        &["status", "--stage", "dev", "--stack", "keys"],
    );
    assert_eq!(
        status,
        "roadcall-perf-dev-keys (us-east-1): CREATE_COMPLETE\n"
    );

    let destroyed = run_ok(
        &moto,
        &stages,
        &["destroy", "--stage", "dev", "--stack", "keys", "--yes"],
    );
    assert!(
        destroyed.contains("roadcall-perf-dev-keys: deleted"),
        "{destroyed}"
    );
    let outputs = run_ok(
        &moto,
        &stages,
        &["outputs", "--stage", "dev", "--stack", "keys"],
    );
    assert_eq!(outputs, "roadcall-perf-dev-keys: not deployed\n");
    let nothing = run_ok(
        &moto,
        &stages,
        &["destroy", "--stage", "dev", "--stack", "keys", "--yes"],
    );
    assert!(
        nothing.contains("not deployed, nothing to delete"),
        "{nothing}"
    );
}

#[test]
fn the_warmer_zip_is_uploaded_under_its_content_hash_and_passed_to_the_change_set() {
    let moto = MotoServer::start();
    let stages = StageDir::new();
    runtime().block_on(async {
        let config = sdk_config(&moto).await;
        create_stack_directly(
            &config,
            "roadcall-perf-dev-keys",
            STAND_IN_KEYS.to_owned(),
            &[],
        )
        .await;
    });
    let zip = stages.path().join("warmer.zip");
    std::fs::write(&zip, b"PK fake zip").unwrap();

    // moto's CREATE change sets cannot import exports (its change-set stack is built
    // without the exports), so the new warmer stack is only reviewed here, not executed;
    // the update test below executes a warmer change set with an uploaded zip.
    let reviewed = run_ok(
        &moto,
        &stages,
        &[
            "deploy",
            "--stage",
            "dev",
            "--stack",
            "warmer",
            "--warmer-zip",
            zip.to_str().unwrap(),
            "--no-execute",
        ],
    );
    assert!(
        reviewed.contains("created staging bucket roadcall-perf-assets-123456789012-us-east-1"),
        "{reviewed}"
    );
    let uploaded_line = reviewed
        .lines()
        .find(|l| {
            l.starts_with("uploaded s3://roadcall-perf-assets-123456789012-us-east-1/warmer/")
        })
        .unwrap_or_else(|| panic!("{reviewed}"));
    let object_key = uploaded_line
        .trim_start_matches("uploaded s3://roadcall-perf-assets-123456789012-us-east-1/")
        .to_owned();
    assert!(reviewed.contains("(create):"), "{reviewed}");
    assert!(
        reviewed.contains("+ Add     AWS::Lambda::Function"),
        "{reviewed}"
    );
    assert!(
        reviewed.contains("created, not executed (--no-execute)"),
        "{reviewed}"
    );

    runtime().block_on(async {
        let config = sdk_config(&moto).await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        let bucket = "roadcall-perf-assets-123456789012-us-east-1";
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(&object_key)
            .send()
            .await
            .unwrap();
        let body = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(&body[..], b"PK fake zip");
        let encryption = s3
            .get_bucket_encryption()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let rules = encryption
            .server_side_encryption_configuration()
            .unwrap()
            .rules();
        assert_eq!(
            rules[0]
                .apply_server_side_encryption_by_default()
                .unwrap()
                .sse_algorithm()
                .as_str(),
            "AES256"
        );
        let block = s3
            .get_public_access_block()
            .bucket(bucket)
            .send()
            .await
            .unwrap();
        let block = block.public_access_block_configuration().unwrap();
        assert_eq!(block.block_public_acls(), Some(true));
        assert_eq!(block.restrict_public_buckets(), Some(true));

        // The change set carries the uploaded object as the warmer's code.
        let cloudformation = aws_sdk_cloudformation::Client::new(&config);
        let sets = cloudformation
            .list_change_sets()
            .stack_name("roadcall-perf-dev-warmer")
            .send()
            .await
            .unwrap();
        let id = sets.summaries()[0].change_set_id().unwrap().to_owned();
        let set = cloudformation
            .describe_change_set()
            .change_set_name(id)
            .send()
            .await
            .unwrap();
        let parameters: std::collections::BTreeMap<_, _> = set
            .parameters()
            .iter()
            .map(|p| {
                (
                    p.parameter_key().unwrap().to_owned(),
                    p.parameter_value().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(parameters["WarmerCodeBucket"], bucket);
        assert_eq!(parameters["WarmerCodeKey"], object_key);
    });

    // The same zip again: found by its content hash, not uploaded twice.
    let again = run_ok(
        &moto,
        &stages,
        &[
            "deploy",
            "--stage",
            "dev",
            "--stack",
            "warmer",
            "--warmer-zip",
            zip.to_str().unwrap(),
            "--no-execute",
        ],
    );
    assert!(
        again.contains(&format!(
            "already uploaded s3://roadcall-perf-assets-123456789012-us-east-1/{object_key}"
        )),
        "{again}"
    );
}

#[test]
fn an_existing_stack_is_updated_then_unchanged_and_its_outputs_diff_and_status_are_right() {
    let moto = MotoServer::start();
    let stages = StageDir::new();
    runtime().block_on(async {
        let config = sdk_config(&moto).await;
        upload_fixture_code(&config).await;
        create_stack_directly(
            &config,
            "roadcall-perf-dev-keys",
            STAND_IN_KEYS.to_owned(),
            &[],
        )
        .await;
        create_stack_directly(
            &config,
            "roadcall-perf-dev-warmer",
            stages.template("warmer"),
            &[
                ("WarmerCodeBucket", CODE_BUCKET),
                ("WarmerCodeKey", CODE_KEY),
            ],
        )
        .await;
    });
    let unchanged = run_ok(
        &moto,
        &stages,
        &with_code(&["diff", "--stage", "dev", "--stack", "warmer"]),
    );
    assert_eq!(
        unchanged,
        "Stack roadcall-perf-dev-warmer: no differences\n"
    );

    // A changed stage setting: the warmer's memory.
    stages.edit("memory_mb = 256", "memory_mb = 512");
    let diff = run_ok(
        &moto,
        &stages,
        &with_code(&["diff", "--stage", "dev", "--stack", "warmer"]),
    );
    assert_eq!(
        diff,
        "Stack roadcall-perf-dev-warmer\nResources\n[~] AWS::Lambda::Function WarmerFunction\n    Properties.MemorySize\n"
    );
    let json = run_ok(
        &moto,
        &stages,
        &with_code(&["diff", "--stage", "dev", "--stack", "warmer", "--json"]),
    );
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json[0]["resources"][0]["change"], "modified");
    assert_eq!(json[0]["resources"][0]["paths"][0], "Properties.MemorySize");

    let updated = run_ok(
        &moto,
        &stages,
        &with_code(&["deploy", "--stage", "dev", "--stack", "warmer"]),
    );
    assert!(updated.contains("(update):"), "{updated}");
    assert!(
        updated.contains("~ Modify  AWS::Lambda::Function                    WarmerFunction"),
        "{updated}"
    );
    assert!(
        updated.contains("roadcall-perf-dev-warmer: UPDATE_COMPLETE"),
        "{updated}"
    );

    let unchanged = run_ok(
        &moto,
        &stages,
        &with_code(&["deploy", "--stage", "dev", "--stack", "warmer"]),
    );
    assert!(
        unchanged.contains("roadcall-perf-dev-warmer: no changes"),
        "{unchanged}"
    );
    let diff = run_ok(
        &moto,
        &stages,
        &with_code(&["diff", "--stage", "dev", "--stack", "warmer"]),
    );
    assert_eq!(diff, "Stack roadcall-perf-dev-warmer: no differences\n");

    let outputs = run_ok(
        &moto,
        &stages,
        &["outputs", "--stage", "dev", "--stack", "warmer", "--json"],
    );
    let outputs: serde_json::Value = serde_json::from_str(&outputs).unwrap();
    let warmer = &outputs["roadcall-perf-dev-warmer"];
    assert_eq!(
        warmer["WarmerFunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:roadcall-perf-dev-warmer"
    );
    assert_eq!(warmer["WarmerRuleName"], "roadcall-perf-dev-warmer");
    let text = run_ok(
        &moto,
        &stages,
        &["outputs", "--stage", "dev", "--stack", "warmer"],
    );
    assert!(
        text.contains("  WarmerRuleName    = roadcall-perf-dev-warmer\n"),
        "{text}"
    );

    let status = run_ok(
        &moto,
        &stages,
        &["status", "--stage", "dev", "--stack", "warmer"],
    );
    assert!(
        status.starts_with("roadcall-perf-dev-warmer (us-east-1): UPDATE_COMPLETE\n"),
        "{status}"
    );
    assert!(
        status.contains("  EventBridge rule roadcall-perf-dev-warmer\n    state: ENABLED\n"),
        "{status}"
    );
    assert!(
        status.contains("    schedule: rate(5 minutes)\n"),
        "{status}"
    );
    assert!(
        status.contains(
            "warmer -> arn:aws:lambda:us-east-1:123456789012:function:roadcall-perf-dev-warmer"
        ),
        "{status}"
    );

    // A new warmer zip: uploaded to the staging bucket and deployed as an update.
    let zip = stages.path().join("warmer.zip");
    std::fs::write(&zip, b"PK new warmer build").unwrap();
    let new_code = run_ok(
        &moto,
        &stages,
        &[
            "deploy",
            "--stage",
            "dev",
            "--stack",
            "warmer",
            "--warmer-zip",
            zip.to_str().unwrap(),
        ],
    );
    assert!(
        new_code.contains("uploaded s3://roadcall-perf-assets-123456789012-us-east-1/warmer/"),
        "{new_code}"
    );
    assert!(
        new_code.contains("roadcall-perf-dev-warmer: UPDATE_COMPLETE"),
        "{new_code}"
    );

    // Dependents first: the warmer before the keys it imports.
    let destroyed = run_ok(&moto, &stages, &["destroy", "--stage", "dev", "--yes"]);
    let warmer_at = destroyed
        .find("roadcall-perf-dev-warmer: deleted")
        .expect(&destroyed);
    let keys_at = destroyed
        .find("roadcall-perf-dev-keys: deleted")
        .expect(&destroyed);
    assert!(warmer_at < keys_at, "{destroyed}");
    let outputs = run_ok(
        &moto,
        &stages,
        &["outputs", "--stage", "dev", "--stack", "warmer"],
    );
    assert_eq!(outputs, "roadcall-perf-dev-warmer: not deployed\n");
}

#[test]
fn a_template_the_emulator_rejects_fails_with_its_reason() {
    let moto = MotoServer::start();
    let stages = StageDir::new();
    // No keys stack: the warmer's import of keys-key-arn-dev cannot resolve.
    let (output, stdout, stderr) = run(
        &moto,
        &stages,
        &["deploy", "--stage", "dev", "--stack", "warmer"],
    );
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stderr.contains("No export named keys-key-arn-dev found"),
        "{stderr}"
    );
}

#[test]
fn a_missing_stack_and_a_bad_parameter_are_clear_errors() {
    let moto = MotoServer::start();
    let stages = StageDir::new();
    let (output, _, stderr) = run(
        &moto,
        &stages,
        &["invalidate", "--stage", "dev", "--paths", "/api/*"],
    );
    assert!(!output.status.success());
    assert!(
        stderr.contains("stack roadcall-perf-dev-cdn does not exist"),
        "{stderr}"
    );

    let (output, _, stderr) = run(
        &moto,
        &stages,
        &[
            "deploy",
            "--stage",
            "dev",
            "--stack",
            "keys",
            "--parameter",
            "VpcId=vpc-1",
        ],
    );
    assert!(!output.status.success());
    assert!(
        stderr.contains("no parameter VpcId in any selected stack"),
        "{stderr}"
    );

    let (output, _, stderr) = run(
        &moto,
        &stages,
        &["deploy", "--stage", "dev", "--stack", "redsi"],
    );
    assert!(!output.status.success());
    assert!(
        stderr.contains("no stack of stage dev is called redsi"),
        "{stderr}"
    );
}

#[test]
fn destroy_without_a_terminal_and_without_yes_refuses() {
    let moto = MotoServer::start();
    let stages = StageDir::new();
    let (output, _, stderr) = run(&moto, &stages, &["destroy", "--stage", "dev"]);
    assert!(!output.status.success());
    assert!(stderr.contains("pass --yes"), "{stderr}");
}

#[test]
fn missing_credentials_are_reported_before_any_call() {
    let stages = StageDir::new();
    let output = Command::new(env!("CARGO_BIN_EXE_stacks"))
        .arg("--stages-dir")
        .arg(stages.path())
        .args(["outputs", "--stage", "dev"])
        .stdin(Stdio::null())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", stages.path())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // Loopback only: nothing may leave the machine even if a provider tried.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no usable AWS credentials"), "{stderr}");
}

#[test]
fn deploy_refuses_a_stack_that_fails_the_check_unless_told_to_skip_it() {
    let moto = MotoServer::start();
    let stages = StageDir::new();
    // Suppressing a rule that may not be suppressed is itself an unsuppressed error.
    let file = stages.path().join("dev.toml");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str(
        "\n[[suppressions]]\nstack = \"warmer\"\nresource = \"WarmerRole\"\nrule = \"IAM_NO_WILDCARD_INVOKE\"\nreason = \"checking that deploy refuses this\"\n",
    );
    std::fs::write(&file, text).unwrap();

    let (output, stdout, stderr) = run(
        &moto,
        &stages,
        &["deploy", "--stage", "dev", "--stack", "warmer"],
    );
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("SUPPRESSION_NOT_ALLOWED"), "{stdout}");
    assert!(
        stderr.contains("unsuppressed error finding(s) from `stacks check`"),
        "{stderr}"
    );
    assert!(!stdout.contains("==> roadcall-perf-dev-warmer"), "{stdout}");

    let skipped = run_ok(
        &moto,
        &stages,
        &[
            "deploy",
            "--stage",
            "dev",
            "--stack",
            "warmer",
            "--skip-check",
            "--no-execute",
        ],
    );
    assert!(
        skipped.contains("warning: deploying despite 1 check error(s) (--skip-check)"),
        "{skipped}"
    );
    assert!(skipped.contains("(create):"), "{skipped}");
}
