//! Lambda assets: each function's zip (vendor, incidents, payments, warmer) uploaded
//! under a content-hash key before the stack that uses it, so an unchanged zip is neither
//! uploaded again nor redeployed, and a changed one always gets a new key (CloudFormation
//! only updates code, and the services stack only publishes a new version, when the key
//! changes). The zips come from `--lambda-zip NAME=PATH` or from `cargo lambda build`
//! ([`build_command`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

use crate::deploy::DeployError;
use crate::deploy::error::from_sdk;
use crate::stage::Part;

/// A function whose zip `stacks deploy` can upload, and where its location goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LambdaAsset {
    /// The binary of the `lambdas` package, and the `--lambda-zip` name.
    pub name: &'static str,
    /// The stack whose parameters take the location.
    pub part: Part,
    /// The bucket parameter.
    pub bucket_parameter: &'static str,
    /// The key parameter.
    pub key_parameter: &'static str,
}

/// Every function `stacks deploy` packages, in build order.
pub const LAMBDA_ASSETS: [LambdaAsset; 4] = [
    LambdaAsset {
        name: "vendor",
        part: Part::Services,
        bucket_parameter: "ServicesCodeBucket",
        key_parameter: "VendorCodeKey",
    },
    LambdaAsset {
        name: "incidents",
        part: Part::Services,
        bucket_parameter: "ServicesCodeBucket",
        key_parameter: "IncidentsCodeKey",
    },
    LambdaAsset {
        name: "payments",
        part: Part::Services,
        bucket_parameter: "ServicesCodeBucket",
        key_parameter: "PaymentsCodeKey",
    },
    LambdaAsset {
        name: "warmer",
        part: Part::Warmer,
        bucket_parameter: "WarmerCodeBucket",
        key_parameter: "WarmerCodeKey",
    },
];

/// The asset called `name`.
pub fn lambda_asset(name: &str) -> Option<&'static LambdaAsset> {
    LAMBDA_ASSETS.iter().find(|a| a.name == name)
}

/// One `--lambda-zip NAME=PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaZip {
    /// Which function.
    pub asset: &'static LambdaAsset,
    /// The zip (a `bootstrap` for provided.al2023 at its root).
    pub path: PathBuf,
}

impl std::str::FromStr for LambdaZip {
    type Err = DeployError;

    /// Parses `vendor=target/lambda/vendor/bootstrap.zip`; the path may contain `=`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let names: Vec<&str> = LAMBDA_ASSETS.iter().map(|a| a.name).collect();
        let (name, path) = text.split_once('=').ok_or_else(|| {
            DeployError::Parameter(format!(
                "--lambda-zip `{text}`: expected NAME=PATH with NAME one of {}",
                names.join(", ")
            ))
        })?;
        let asset = lambda_asset(name).ok_or_else(|| {
            DeployError::Parameter(format!(
                "--lambda-zip `{text}`: unknown function `{name}`; expected one of {}",
                names.join(", ")
            ))
        })?;
        if path.is_empty() {
            return Err(DeployError::Parameter(format!(
                "--lambda-zip `{text}`: the path is empty"
            )));
        }
        Ok(Self {
            asset,
            path: PathBuf::from(path),
        })
    }
}

/// Refuses two zips for one function: which one would win is a guess.
pub fn check_unique(zips: &[LambdaZip]) -> Result<(), DeployError> {
    for (i, zip) in zips.iter().enumerate() {
        if zips[..i].iter().any(|z| z.asset.name == zip.asset.name) {
            return Err(DeployError::Parameter(format!(
                "--lambda-zip {}: given twice",
                zip.asset.name
            )));
        }
    }
    Ok(())
}

/// Where `cargo lambda build --output-format zip --lambda-dir DIR` leaves `name`'s zip.
pub fn built_zip(lambda_dir: &Path, name: &str) -> PathBuf {
    lambda_dir.join(name).join("bootstrap.zip")
}

/// The `cargo lambda build` that packages `names` for provided.al2023 on arm64 into
/// `lambda_dir` (what `scripts/package-lambdas` runs; that script stays the fallback when
/// cargo-lambda or the aarch64 target is missing).
pub fn build_command(workspace: &Path, lambda_dir: &Path, names: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command.current_dir(workspace).args([
        "lambda",
        "build",
        "--release",
        "--arm64",
        "--locked",
        "-p",
        "lambdas",
    ]);
    for name in names {
        command.args(["--bin", name]);
    }
    command
        .args(["--output-format", "zip", "--lambda-dir"])
        .arg(lambda_dir);
    command
}

/// The functions that talk to the database, which read the RDS CA bundle from their zip.
pub const DATABASE_FUNCTIONS: [&str; 3] = ["vendor", "incidents", "payments"];

/// The database functions verify the database's certificate against
/// `/var/task/rds-global-bundle.pem` (the services stack's `DATABASE_CA_BUNDLE`), and
/// `cargo lambda build` does not put that file at the zip's root: a zip built that way
/// would fail every cold start, so it is refused with the way that works.
pub fn refuse_without_ca_bundle(names: &[&str]) -> Result<(), DeployError> {
    match names.iter().find(|n| DATABASE_FUNCTIONS.contains(n)) {
        Some(name) => Err(DeployError::Parameter(format!(
            "--build-lambdas cannot package `{name}`: its zip must carry the RDS CA bundle at \
             /var/task/rds-global-bundle.pem (DATABASE_CA_BUNDLE); save AWS's global-bundle.pem as \
             certs/rds-global-bundle.pem, run scripts/package-lambdas and pass the zips with \
             --lambda-zip NAME=PATH (docs/operations.md, \"The RDS CA bundle\")"
        ))),
        None => Ok(()),
    }
}

/// Runs [`build_command`] and returns each function's zip, or an error that says how to
/// install cargo-lambda or fall back to `scripts/package-lambdas`.
pub fn build_zips(workspace: &Path, names: &[&str]) -> Result<Vec<LambdaZip>, DeployError> {
    refuse_without_ca_bundle(names)?;
    let lambda_dir = workspace.join("target").join("lambda");
    let hint = "install cargo-lambda (`pip install cargo-lambda`, and `rustup target add \
                aarch64-unknown-linux-gnu`), or run scripts/package-lambdas and pass the zips with \
                --lambda-zip NAME=PATH";
    let status = build_command(workspace, &lambda_dir, names)
        .status()
        .map_err(|e| {
            DeployError::Parameter(format!("cannot run cargo lambda build ({e}): {hint}"))
        })?;
    if !status.success() {
        return Err(DeployError::Parameter(format!(
            "cargo lambda build failed ({status}): {hint}"
        )));
    }
    names
        .iter()
        .map(|name| {
            let asset = lambda_asset(name)
                .ok_or_else(|| DeployError::Parameter(format!("unknown function `{name}`")))?;
            let path = built_zip(&lambda_dir, name);
            if !path.is_file() {
                return Err(DeployError::Parameter(format!(
                    "cargo lambda build left no {}: {hint}",
                    path.display()
                )));
            }
            Ok(LambdaZip { asset, path })
        })
        .collect()
}

/// The staging bucket used when `--assets-bucket` is not given.
pub fn staging_bucket_name(account: &str, region: &str) -> String {
    format!("roadcall-perf-assets-{account}-{region}")
}

/// `<prefix>/<sha256 of the zip>.zip`, e.g. `vendor/ba78....zip`.
pub fn content_key(prefix: &str, bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}/{hex}.zip")
}

/// Where an asset ended up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadedAsset {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// False when an object with that key (so that content) was there already.
    pub uploaded: bool,
}

/// Creates `bucket` in the client's region unless it exists, with default encryption
/// and every public access blocked.
pub async fn ensure_staging_bucket(
    client: &Client,
    bucket: &str,
    region: &str,
) -> Result<bool, DeployError> {
    if client.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(false);
    }
    let mut create = client.create_bucket().bucket(bucket);
    // us-east-1 is the one region that rejects an explicit location constraint.
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        );
    }
    create
        .send()
        .await
        .map_err(|e| from_sdk("CreateBucket", "", e))?;
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| build_error("PutBucketEncryption", e))?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(by_default)
                .build(),
        )
        .build()
        .map_err(|e| build_error("PutBucketEncryption", e))?;
    client
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|e| from_sdk("PutBucketEncryption", "", e))?;
    client
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| from_sdk("PutPublicAccessBlock", "", e))?;
    Ok(true)
}

fn build_error(operation: &'static str, error: impl std::fmt::Display) -> DeployError {
    DeployError::Aws {
        operation,
        code: "BuildError".to_owned(),
        message: error.to_string(),
    }
}

/// Uploads `zip` to `bucket` under its content-hash key (skipped when present).
pub async fn upload_zip(
    client: &Client,
    bucket: &str,
    prefix: &str,
    zip: &Path,
) -> Result<UploadedAsset, DeployError> {
    let bytes = std::fs::read(zip).map_err(|source| DeployError::Io {
        path: zip.display().to_string(),
        source,
    })?;
    let key = content_key(prefix, &bytes);
    let present = client
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .is_ok();
    if !present {
        client
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/zip")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| from_sdk("PutObject", "", e))?;
    }
    Ok(UploadedAsset {
        bucket: bucket.to_owned(),
        key,
        uploaded: !present,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_of_a_database_function_is_refused_naming_the_bundle() {
        let err = refuse_without_ca_bundle(&["warmer", "payments"]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`payments`"), "{text}");
        assert!(text.contains("certs/rds-global-bundle.pem"), "{text}");
        assert!(refuse_without_ca_bundle(&["warmer"]).is_ok());
    }

    #[test]
    fn lambda_zip_flags_name_a_known_function_and_a_path() {
        let zip: LambdaZip = "vendor=target/lambda/vendor/bootstrap.zip".parse().unwrap();
        assert_eq!(zip.asset.name, "vendor");
        assert_eq!(zip.asset.part, Part::Services);
        assert_eq!(zip.asset.key_parameter, "VendorCodeKey");
        assert_eq!(
            zip.path,
            PathBuf::from("target/lambda/vendor/bootstrap.zip")
        );
        let with_equals: LambdaZip = "warmer=a=b.zip".parse().unwrap();
        assert_eq!(with_equals.path, PathBuf::from("a=b.zip"));
        assert_eq!(with_equals.asset.bucket_parameter, "WarmerCodeBucket");
        let unknown = "local=x.zip".parse::<LambdaZip>().unwrap_err().to_string();
        assert!(
            unknown.contains("unknown function `local`")
                && unknown.contains("vendor, incidents, payments, warmer"),
            "{unknown}"
        );
        assert!("vendor".parse::<LambdaZip>().is_err());
        assert!("vendor=".parse::<LambdaZip>().is_err());
        let twice = vec![zip.clone(), zip];
        assert!(
            check_unique(&twice)
                .unwrap_err()
                .to_string()
                .contains("given twice")
        );
    }

    #[test]
    fn the_build_is_cargo_lambda_for_arm64_with_one_bin_per_function() {
        let command = build_command(
            Path::new("/ws"),
            Path::new("/ws/target/lambda"),
            &["vendor", "warmer"],
        );
        let args: Vec<String> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "lambda",
                "build",
                "--release",
                "--arm64",
                "--locked",
                "-p",
                "lambdas",
                "--bin",
                "vendor",
                "--bin",
                "warmer",
                "--output-format",
                "zip",
                "--lambda-dir",
                "/ws/target/lambda"
            ]
        );
        assert_eq!(
            built_zip(Path::new("/ws/target/lambda"), "vendor"),
            PathBuf::from("/ws/target/lambda/vendor/bootstrap.zip")
        );
    }

    #[test]
    fn every_asset_names_parameters_its_stack_declares() {
        let config =
            crate::config::load_stage(&crate::config::default_stages_dir(), "dev").unwrap();
        let stacks = crate::app::build_stage(&config).unwrap();
        for asset in LAMBDA_ASSETS {
            let stack = stacks.iter().find(|s| s.part == asset.part).unwrap();
            let declared = crate::deploy::params::declared_parameters(stack);
            assert!(
                declared.contains(&asset.bucket_parameter.to_owned()),
                "{asset:?}"
            );
            assert!(
                declared.contains(&asset.key_parameter.to_owned()),
                "{asset:?}"
            );
        }
    }

    #[test]
    fn keys_follow_the_content() {
        assert_eq!(
            content_key("warmer", b"abc"),
            "warmer/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.zip"
        );
        assert_ne!(content_key("warmer", b"abc"), content_key("warmer", b"abd"));
        assert_eq!(
            staging_bucket_name("123456789012", "eu-west-1"),
            "roadcall-perf-assets-123456789012-eu-west-1"
        );
    }
}
