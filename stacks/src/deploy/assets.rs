//! Lambda assets: the warmer zip uploaded under a content-hash key before the stack that
//! uses it, so an unchanged zip is neither uploaded again nor redeployed, and a changed
//! one always gets a new key (CloudFormation only updates code when the key changes).

use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

use crate::deploy::DeployError;
use crate::deploy::error::from_sdk;

/// The staging bucket used when `--assets-bucket` is not given.
pub fn staging_bucket_name(account: &str, region: &str) -> String {
    format!("roadcall-perf-assets-{account}-{region}")
}

/// `warmer/<sha256 of the zip>.zip`.
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
