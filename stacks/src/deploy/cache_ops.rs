//! Cache operations on deployed resources: CloudFront invalidations and AppSync cache
//! flushes.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};

use crate::app::Stack;
use crate::deploy::error::from_sdk;
use crate::deploy::outputs::{physical_id_of, require_stack, stack_resources};
use crate::deploy::{AwsContext, DeployError};

/// Longest `--wait` follows an invalidation (they usually finish within minutes).
const INVALIDATION_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Checks invalidation paths: each starts with `/`; `*` only as the last character.
pub fn validate_paths(paths: &[String]) -> Result<(), DeployError> {
    if paths.is_empty() {
        return Err(DeployError::Parameter(
            "--paths: give at least one path".to_owned(),
        ));
    }
    for path in paths {
        let star = path.find('*');
        if !path.starts_with('/') || star.is_some_and(|i| i + 1 != path.len()) {
            return Err(DeployError::Parameter(format!(
                "--paths {path}: a path starts with / and may end with a single * (e.g. /api/*)"
            )));
        }
    }
    Ok(())
}

/// A created invalidation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalidation {
    /// Its id.
    pub id: String,
    /// Its last known status (`InProgress` or `Completed`).
    pub status: String,
}

/// Creates an invalidation of `paths` on `distribution_id`; with `wait`, polls until it
/// is `Completed`.
pub async fn invalidate(
    client: &aws_sdk_cloudfront::Client,
    distribution_id: &str,
    paths: &[String],
    wait: bool,
    poll: Duration,
) -> Result<Invalidation, DeployError> {
    validate_paths(paths)?;
    let build_error =
        |e: aws_sdk_cloudfront::error::BuildError| DeployError::Parameter(e.to_string());
    let quantity = i32::try_from(paths.len())
        .map_err(|_| DeployError::Parameter("--paths: too many paths".to_owned()))?;
    let batch = InvalidationBatch::builder()
        .paths(
            Paths::builder()
                .quantity(quantity)
                .set_items(Some(paths.to_vec()))
                .build()
                .map_err(build_error)?,
        )
        // Unique per request, so a retried call does not create a second invalidation
        // and a new one is never mistaken for an old one.
        .caller_reference(format!(
            "stacks-{}",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ))
        .build()
        .map_err(build_error)?;
    let created = client
        .create_invalidation()
        .distribution_id(distribution_id)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(|e| from_sdk("CreateInvalidation", "", e))?;
    let invalidation = created.invalidation().ok_or_else(|| DeployError::Aws {
        operation: "CreateInvalidation",
        code: "Unknown".to_owned(),
        message: "the response has no invalidation".to_owned(),
    })?;
    let mut result = Invalidation {
        id: invalidation.id().to_owned(),
        status: invalidation.status().to_owned(),
    };
    let started = Instant::now();
    // AWS says `Completed`; emulators are known to say `COMPLETED`.
    while wait && !result.status.eq_ignore_ascii_case("Completed") {
        if started.elapsed() > INVALIDATION_TIMEOUT {
            return Err(DeployError::Timeout(format!("invalidation {}", result.id)));
        }
        tokio::time::sleep(poll).await;
        let current = client
            .get_invalidation()
            .distribution_id(distribution_id)
            .id(&result.id)
            .send()
            .await
            .map_err(|e| from_sdk("GetInvalidation", "", e))?;
        if let Some(invalidation) = current.invalidation() {
            result.status = invalidation.status().to_owned();
        }
    }
    Ok(result)
}

/// AppSync `FlushApiCache`.
pub async fn flush_api_cache(
    client: &aws_sdk_appsync::Client,
    api_id: &str,
) -> Result<(), DeployError> {
    client
        .flush_api_cache()
        .api_id(api_id)
        .send()
        .await
        .map_err(|e| from_sdk("FlushApiCache", "", e))?;
    Ok(())
}

/// The distribution id of the deployed `cdn` stack (its `DistributionId` output, else
/// its distribution resource).
pub async fn distribution_id(ctx: &AwsContext, cdn: &Stack) -> Result<String, DeployError> {
    let client = ctx.cloudformation(cdn.part);
    let info = require_stack(&client, &cdn.name).await?;
    if let Some(id) = info.outputs.get("DistributionId").filter(|v| !v.is_empty()) {
        return Ok(id.clone());
    }
    let resources = stack_resources(&client, &info.id).await?;
    physical_id_of(&resources, "AWS::CloudFront::Distribution")
        .map(str::to_owned)
        .ok_or_else(|| {
            DeployError::NotDeployed(format!("stack {} has no CloudFront distribution", cdn.name))
        })
}

/// The API id of the deployed `appsync-cache` stack (its output, else its parameter).
pub async fn cached_api_id(ctx: &AwsContext, appsync: &Stack) -> Result<String, DeployError> {
    let client = ctx.cloudformation(appsync.part);
    let info = require_stack(&client, &appsync.name).await?;
    info.outputs
        .get("AppSyncCachedApiId")
        .or_else(|| info.parameters.get("AppSyncApiId"))
        .filter(|v| !v.is_empty())
        .cloned()
        .ok_or_else(|| {
            DeployError::NotDeployed(format!(
                "stack {} has no AppSync API (AppSyncApiId is empty, so no cache was created)",
                appsync.name
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked() {
        let ok = |p: &[&str]| validate_paths(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(ok(&["/api/*", "/index.html", "/*"]).is_ok());
        assert!(ok(&[]).is_err());
        assert!(ok(&["api/*"]).is_err());
        assert!(ok(&["/a*/b"]).is_err());
    }
}
