//! SDK configuration and service clients.
//!
//! Standard AWS conventions: the default credential chain (environment, profile files,
//! SSO, `credential_process`, container and instance roles), `--profile` / `AWS_PROFILE`,
//! `--region` / `AWS_REGION`, and `AWS_ENDPOINT_URL` (honoured by aws-config itself).

use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sts::config::ProvideCredentials;

use crate::deploy::DeployError;
use crate::deploy::error::from_sdk;
use crate::stage::Part;

/// CloudFront reads ACM certificates and CLOUDFRONT-scope WAF web ACLs only in this
/// region, so the `cdn` stack always lives there.
pub const CDN_REGION: &str = "us-east-1";

/// What the command line says about the AWS connection.
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// A named profile (`--profile`); `None`: `AWS_PROFILE` or `default`.
    pub profile: Option<String>,
    /// A region (`--region`); `None`: `AWS_REGION` or the profile's region.
    pub region: Option<String>,
    /// How often to poll CloudFormation while following an operation.
    pub poll_interval: Duration,
}

/// The loaded SDK configuration, for the stage's region and for `us-east-1`.
#[derive(Clone, Debug)]
pub struct AwsContext {
    config: SdkConfig,
    cdn_config: SdkConfig,
    /// How often to poll while following an operation.
    pub poll_interval: Duration,
}

impl AwsContext {
    /// Loads the configuration and checks that credentials resolve, so a missing login
    /// is reported once, clearly, before any API call.
    pub async fn load(options: &ClientOptions) -> Result<Self, DeployError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(DeployError::NoRegion);
        }
        let provider = config.credentials_provider().ok_or_else(|| {
            DeployError::Credentials("no credential provider is configured".to_owned())
        })?;
        provider.provide_credentials().await.map_err(|e| {
            DeployError::Credentials(aws_sdk_sts::error::DisplayErrorContext(&e).to_string())
        })?;
        let cdn_config = config.to_builder().region(Region::new(CDN_REGION)).build();
        Ok(Self {
            config,
            cdn_config,
            poll_interval: options.poll_interval,
        })
    }

    /// The region the stage's stacks (all but `cdn`) are deployed in.
    pub fn region(&self) -> &str {
        self.config
            .region()
            .map(Region::as_ref)
            .unwrap_or(CDN_REGION)
    }

    /// The configuration for stacks of `part`: `cdn` always in [`CDN_REGION`].
    pub fn config_for(&self, part: Part) -> &SdkConfig {
        if part == Part::Cdn {
            &self.cdn_config
        } else {
            &self.config
        }
    }

    /// The region a stack of `part` lives in.
    pub fn region_for(&self, part: Part) -> &str {
        if part == Part::Cdn {
            CDN_REGION
        } else {
            self.region()
        }
    }

    /// A CloudFormation client for stacks of `part`.
    pub fn cloudformation(&self, part: Part) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(self.config_for(part))
    }

    /// An S3 client in the stage's region (where the warmer's code must be).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        // Path-style addressing works with every endpoint, including emulators on
        // 127.0.0.1 where bucket subdomains do not resolve.
        let s3_config = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.config.endpoint_url().is_some())
            .build();
        aws_sdk_s3::Client::from_conf(s3_config)
    }

    /// An ElastiCache client.
    pub fn elasticache(&self) -> aws_sdk_elasticache::Client {
        aws_sdk_elasticache::Client::new(&self.config)
    }

    /// A DAX client.
    pub fn dax(&self) -> aws_sdk_dax::Client {
        aws_sdk_dax::Client::new(&self.config)
    }

    /// A CloudFront client (a global service, signed for `us-east-1`).
    pub fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.cdn_config)
    }

    /// An AppSync client.
    pub fn appsync(&self) -> aws_sdk_appsync::Client {
        aws_sdk_appsync::Client::new(&self.config)
    }

    /// An EventBridge client.
    pub fn eventbridge(&self) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(&self.config)
    }

    /// The account id of the credentials (STS `GetCallerIdentity`).
    pub async fn account_id(&self) -> Result<String, DeployError> {
        let identity = aws_sdk_sts::Client::new(&self.config)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| from_sdk("GetCallerIdentity", "", e))?;
        identity
            .account()
            .map(str::to_owned)
            .ok_or_else(|| DeployError::Aws {
                operation: "GetCallerIdentity",
                code: "Unknown".to_owned(),
                message: "the response has no account id".to_owned(),
            })
    }
}
