//! Lambda assets: each function's zip (vendor, incidents, payments, warmer) uploaded
//! under a content-hash key before the stack that uses it, so an unchanged zip is neither
//! uploaded again nor redeployed, and a changed one always gets a new key (CloudFormation
//! only updates code, and the services stack only publishes a new version, when the key
//! changes). The zips come from `--lambda-zip NAME=PATH` or from `cargo lambda build`
//! ([`build_zips`]), which also adds the RDS CA bundle to the database functions' zips
//! ([`add_ca_bundle`]).

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
use crate::deploy::zipfile;
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

/// The name of the RDS CA bundle at the root of a database function's zip: the services
/// stack sets `DATABASE_CA_BUNDLE=/var/task/rds-global-bundle.pem`.
pub const CA_BUNDLE_ENTRY: &str = "rds-global-bundle.pem";

/// Where the workspace keeps AWS's RDS CA bundle (`global-bundle.pem`, saved by hand: it
/// is not in the repository), the file `scripts/package-lambdas` and `--build-lambdas`
/// add to the database functions' zips.
pub fn ca_bundle_path(workspace: &Path) -> PathBuf {
    workspace.join("certs").join(CA_BUNDLE_ENTRY)
}

/// The RDS CA bundle `names` need, read from [`ca_bundle_path`]: `None` when none of
/// them is a database function. Checked before anything is built, so a missing file
/// costs no build: without it every cold start of those functions would fail, so it is
/// refused with the path and the runbook section, as is a file that holds no PEM
/// certificate (a saved error page, say).
pub fn read_ca_bundle(workspace: &Path, names: &[&str]) -> Result<Option<Vec<u8>>, DeployError> {
    let Some(name) = names.iter().find(|n| DATABASE_FUNCTIONS.contains(n)) else {
        return Ok(None);
    };
    let path = ca_bundle_path(workspace);
    let advice = format!(
        "--build-lambdas cannot package `{name}`: its zip must carry the RDS CA bundle \
         (DATABASE_CA_BUNDLE=/var/task/{CA_BUNDLE_ENTRY}); download AWS's global-bundle.pem \
         and save it as {} (docs/operations.md, \"The RDS CA bundle\")",
        path.display()
    );
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(DeployError::Package(format!(
                "{advice}; the file is absent"
            )));
        }
        Err(source) => {
            return Err(DeployError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    if !bytes
        .windows(CERTIFICATE_MARKER.len())
        .any(|w| w == CERTIFICATE_MARKER)
    {
        return Err(DeployError::Package(format!(
            "{advice}; the file holds no PEM certificate"
        )));
    }
    Ok(Some(bytes))
}

const CERTIFICATE_MARKER: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// Adds `bundle` as [`CA_BUNDLE_ENTRY`] at the root of each database function's zip
/// among `zips` (next to `bootstrap`), the way `scripts/package-lambdas` does; the
/// warmer's zip is left alone. A zip that already holds the same bundle is unchanged.
pub fn add_ca_bundle(zips: &[LambdaZip], bundle: &[u8]) -> Result<(), DeployError> {
    for zip in zips
        .iter()
        .filter(|z| DATABASE_FUNCTIONS.contains(&z.asset.name))
    {
        let entries = zipfile::entries(&zip.path).map_err(package_error)?;
        if !entries.iter().any(|e| e.name == "bootstrap") {
            return Err(DeployError::Package(format!(
                "{} has no `bootstrap` at its root: not a provided.al2023 Lambda zip",
                zip.path.display()
            )));
        }
        zipfile::add_entry(&zip.path, CA_BUNDLE_ENTRY, bundle).map_err(package_error)?;
    }
    Ok(())
}

fn package_error(error: zipfile::ZipError) -> DeployError {
    DeployError::Package(error.to_string())
}

/// Runs [`build_command`], adds the RDS CA bundle to the database functions' zips
/// ([`add_ca_bundle`]) and returns each function's zip, or an error that says how to
/// install cargo-lambda or fall back to `scripts/package-lambdas`. The bundle is read
/// first ([`read_ca_bundle`]), so a missing one is reported before the build.
pub fn build_zips(workspace: &Path, names: &[&str]) -> Result<Vec<LambdaZip>, DeployError> {
    build_zips_with(workspace, names, |mut command| command.status())
}

/// [`build_zips`] with the build run by `run` (given [`build_command`]'s command).
pub fn build_zips_with(
    workspace: &Path,
    names: &[&str],
    run: impl FnOnce(Command) -> std::io::Result<std::process::ExitStatus>,
) -> Result<Vec<LambdaZip>, DeployError> {
    let bundle = read_ca_bundle(workspace, names)?;
    let lambda_dir = workspace.join("target").join("lambda");
    let hint = "install cargo-lambda (`pip install cargo-lambda`, and `rustup target add \
                aarch64-unknown-linux-gnu`), or run scripts/package-lambdas and pass the zips with \
                --lambda-zip NAME=PATH";
    let status = run(build_command(workspace, &lambda_dir, names)).map_err(|e| {
        DeployError::Package(format!("cannot run cargo lambda build ({e}): {hint}"))
    })?;
    if !status.success() {
        return Err(DeployError::Package(format!(
            "cargo lambda build failed ({status}): {hint}"
        )));
    }
    let zips = names
        .iter()
        .map(|name| {
            let asset = lambda_asset(name)
                .ok_or_else(|| DeployError::Package(format!("unknown function `{name}`")))?;
            let path = built_zip(&lambda_dir, name);
            if !path.is_file() {
                return Err(DeployError::Package(format!(
                    "cargo lambda build left no {}: {hint}",
                    path.display()
                )));
            }
            Ok(LambdaZip { asset, path })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(bundle) = bundle {
        add_ca_bundle(&zips, &bundle)?;
    }
    Ok(zips)
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

    /// A fake but well-formed RDS bundle (two certificates' worth of PEM armour).
    const BUNDLE: &[u8] = b"-----BEGIN CERTIFICATE-----\nMIIEBjCCAu6gAwIBAgIJAMc0ZzaSUK51\n-----END CERTIFICATE-----\n\
        -----BEGIN CERTIFICATE-----\nMIIGCDCCA/CgAwIBAgIQBu9mzEaGqLK0hoEtLXJSpTANBgkqhkiG9w0B\n-----END CERTIFICATE-----\n";

    /// Writes a zip the way cargo-lambda lays one out (an executable `bootstrap`,
    /// deflated), with Python's zipfile: an implementation independent of ours.
    fn python_zip(path: &Path, bootstrap: &[u8]) {
        let script = "import sys, zipfile\n\
            z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\n\
            info = zipfile.ZipInfo('bootstrap', (2026, 12, 1, 12, 0, 0))\n\
            info.external_attr = 0o100755 << 16\n\
            info.compress_type = zipfile.ZIP_DEFLATED\n\
            z.writestr(info, sys.stdin.buffer.read())\n\
            z.close()\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("python3 (a prerequisite of scripts/test)");
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), bootstrap).unwrap();
        drop(child.stdin.take());
        assert!(child.wait().unwrap().success());
    }

    /// Python's zipfile on `path`: `testzip()` (every CRC checked) and each entry as
    /// `name mode size sha256`.
    fn python_listing(path: &Path) -> String {
        let script = "import sys, zipfile, hashlib\n\
            z = zipfile.ZipFile(sys.argv[1])\n\
            assert z.testzip() is None\n\
            for i in z.infolist():\n\
            \x20   print(i.filename, oct(i.external_attr >> 16), i.file_size, hashlib.sha256(z.read(i)).hexdigest())\n";
        let output = Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn zip_of(name: &str, path: PathBuf) -> LambdaZip {
        LambdaZip {
            asset: lambda_asset(name).unwrap(),
            path,
        }
    }

    #[test]
    fn the_bundle_is_required_only_for_the_database_functions() {
        let workspace = tempfile::tempdir().unwrap();
        assert_eq!(read_ca_bundle(workspace.path(), &["warmer"]).unwrap(), None);
        let path = workspace.path().join("certs").join("rds-global-bundle.pem");
        let absent = read_ca_bundle(workspace.path(), &["warmer", "payments"])
            .unwrap_err()
            .to_string();
        for needle in [
            "`payments`",
            path.to_str().unwrap(),
            "absent",
            "docs/operations.md, \"The RDS CA bundle\"",
        ] {
            assert!(absent.contains(needle), "{needle}: {absent}");
        }
        std::fs::create_dir(workspace.path().join("certs")).unwrap();
        std::fs::write(&path, b"<html>404 Not Found</html>").unwrap();
        let not_pem = read_ca_bundle(workspace.path(), &["vendor"])
            .unwrap_err()
            .to_string();
        assert!(
            not_pem.contains("no PEM certificate") && not_pem.contains(path.to_str().unwrap()),
            "{not_pem}"
        );
        std::fs::write(&path, BUNDLE).unwrap();
        assert_eq!(
            read_ca_bundle(workspace.path(), &["vendor", "warmer"]).unwrap(),
            Some(BUNDLE.to_vec())
        );
    }

    #[test]
    fn the_bundle_goes_to_the_root_of_each_database_zip_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let bootstrap: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let vendor = dir.path().join("vendor.zip");
        let payments = dir.path().join("payments.zip");
        let warmer = dir.path().join("warmer.zip");
        for path in [&vendor, &payments, &warmer] {
            python_zip(path, &bootstrap);
        }
        let warmer_before = std::fs::read(&warmer).unwrap();
        let zips = [
            zip_of("vendor", vendor.clone()),
            zip_of("warmer", warmer.clone()),
            zip_of("payments", payments.clone()),
        ];
        add_ca_bundle(&zips, BUNDLE).unwrap();

        let expected = format!(
            "bootstrap 0o100755 {} {}\nrds-global-bundle.pem 0o100644 {} {}\n",
            bootstrap.len(),
            sha256_hex(&bootstrap),
            BUNDLE.len(),
            sha256_hex(BUNDLE)
        );
        for path in [&vendor, &payments] {
            assert_eq!(python_listing(path), expected, "{}", path.display());
            assert_eq!(
                zipfile::read_entry(path, CA_BUNDLE_ENTRY)
                    .unwrap()
                    .as_deref(),
                Some(BUNDLE)
            );
            assert_eq!(
                zipfile::read_entry(path, "bootstrap").unwrap(),
                Some(bootstrap.clone())
            );
        }
        assert_eq!(std::fs::read(&warmer).unwrap(), warmer_before);

        // Again with the same bundle: nothing changes, so the content-hash key holds.
        let vendor_once = std::fs::read(&vendor).unwrap();
        add_ca_bundle(&zips, BUNDLE).unwrap();
        assert_eq!(std::fs::read(&vendor).unwrap(), vendor_once);

        // Another bundle over a zip that has one: refused, the zip untouched.
        let mut other = BUNDLE.to_vec();
        other.extend_from_slice(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        let conflict = add_ca_bundle(&zips[..1], &other).unwrap_err().to_string();
        assert!(
            conflict.contains("already holds a different rds-global-bundle.pem"),
            "{conflict}"
        );
        assert_eq!(std::fs::read(&vendor).unwrap(), vendor_once);
    }

    #[test]
    fn a_build_adds_the_bundle_and_a_missing_bundle_stops_it_before_it_starts() {
        let workspace = tempfile::tempdir().unwrap();
        let names = ["vendor", "incidents", "warmer"];
        // Without the bundle: refused, and the build never runs.
        let mut ran = false;
        let err = build_zips_with(workspace.path(), &names, |_| {
            ran = true;
            unreachable!("no build without the bundle")
        })
        .unwrap_err()
        .to_string();
        assert!(!ran && err.contains("rds-global-bundle.pem"), "{err}");
        // The warmer alone needs none.
        let lambda_dir = workspace.path().join("target").join("lambda");
        let fake_build = |command: Command| {
            // What `cargo lambda build --output-format zip` leaves: one zip per --bin.
            let args: Vec<String> = command
                .get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            for pair in args.windows(2).filter(|w| w[0] == "--bin") {
                let zip = built_zip(&lambda_dir, &pair[1]);
                std::fs::create_dir_all(zip.parent().unwrap()).unwrap();
                python_zip(&zip, pair[1].as_bytes());
            }
            Command::new("true").status()
        };
        let warmer = build_zips_with(workspace.path(), &["warmer"], fake_build).unwrap();
        assert!(
            !python_listing(&warmer[0].path).contains(CA_BUNDLE_ENTRY),
            "the warmer has no database"
        );
        // With the bundle: every database zip carries it, next to `bootstrap`.
        std::fs::create_dir(workspace.path().join("certs")).unwrap();
        std::fs::write(ca_bundle_path(workspace.path()), BUNDLE).unwrap();
        let zips = build_zips_with(workspace.path(), &names, fake_build).unwrap();
        let carried: Vec<(&str, bool)> = zips
            .iter()
            .map(|z| {
                let bundle = zipfile::read_entry(&z.path, CA_BUNDLE_ENTRY).unwrap();
                (z.asset.name, bundle.as_deref() == Some(BUNDLE))
            })
            .collect();
        assert_eq!(
            carried,
            [("vendor", true), ("incidents", true), ("warmer", false)]
        );
        assert!(
            python_listing(&zips[1].path).starts_with("bootstrap 0o100755 9 "),
            "the build's own entry is intact"
        );
    }

    #[test]
    fn a_zip_without_bootstrap_or_not_a_zip_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("incidents.zip");
        std::fs::write(&fake, b"PK fake incidents zip").unwrap();
        let err = add_ca_bundle(&[zip_of("incidents", fake.clone())], BUNDLE)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(fake.to_str().unwrap()) && err.contains("not a zip"),
            "{err}"
        );
        let empty = dir.path().join("vendor.zip");
        let script =
            "import sys, zipfile\nzipfile.ZipFile(sys.argv[1], 'w').writestr('README', 'x')\n";
        assert!(
            Command::new("python3")
                .args(["-c", script])
                .arg(&empty)
                .status()
                .unwrap()
                .success()
        );
        let err = add_ca_bundle(&[zip_of("vendor", empty)], BUNDLE)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `bootstrap`"), "{err}");
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
